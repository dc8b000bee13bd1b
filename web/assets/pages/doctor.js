// The doctor's page: the records shared with them now (live shares only), with the
// share's expiry, to open in the browser or download. Each read is on the ledger, and
// the patient sees it in their access log.

import { gql } from '../api.js';
import { h, fill, table, when, bytes, moreButton } from '../ui.js';
import { RECORDS_PAGE, ERASED_NAME, UNTIL_REVOKED } from '../constants.js';

export async function shared() {
  const list = h('div');
  const more = h('div');
  const show = async (after, reset) => {
    const data = await gql(`query($after: String) { sharedWithMe(first: ${RECORDS_PAGE}, after: $after) {
        totalCount pageInfo { hasNextPage endCursor }
        edges { node { id title fileName contentType size uploadedAt contentUrl owner { name }
          myShare { expiresAt } } } } }`, { after });
    const page = data.sharedWithMe;
    const rows = page.edges.map(({ node: r }) => {
      const live = r.myShare;
      return [
        r.title,
        r.owner.name ?? ERASED_NAME,
        r.fileName,
        bytes(r.size),
        live?.expiresAt ? when(live.expiresAt) : UNTIL_REVOKED,
        h('span', { class: 'actions' },
          h('a', { href: `${r.contentUrl}?inline=1`, target: '_blank', rel: 'noopener', 'aria-label': `Open ${r.title}` }, 'Open'),
          h('a', { href: r.contentUrl, download: r.fileName, 'aria-label': `Download ${r.title}` }, 'Download')),
      ];
    });
    const t = table(`Records shared with me (${page.totalCount})`, ['Title', 'Patient', 'File', 'Size', 'Until', ''], rows);
    if (reset) fill(list, t);
    else list.append(t);
    fill(more, moreButton(page.pageInfo, (cursor) => show(cursor, false)));
  };
  await show(null, true);
  return h('section', {},
    h('h1', {}, 'Shared with me'),
    h('p', { class: 'muted' }, 'Records patients share with you, while the share lasts. Every opening is recorded and the patient can see it.'),
    list, more);
}
