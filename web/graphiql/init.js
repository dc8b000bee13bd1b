// Mounts GraphiQL (the UMD globals React, ReactDOM and GraphiQL, loaded before this file
// by index.html). Queries and mutations go to POST /graphql on this origin, so the
// session cookie goes along; subscriptions go over graphql-transport-ws to /graphql/ws
// (GraphiQL's bundle carries graphql-ws; the socket opens only when a subscription runs).
'use strict';

(function mount() {
  const scheme = window.location.protocol === 'https:' ? 'wss' : 'ws';
  const fetcher = GraphiQL.createFetcher({
    url: '/graphql',
    subscriptionUrl: `${scheme}://${window.location.host}/graphql/ws`,
  });
  const root = ReactDOM.createRoot(document.getElementById('graphiql'));
  root.render(React.createElement(GraphiQL, { fetcher }));
})();
