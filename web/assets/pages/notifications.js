// The notifications page: newest first, unread marked, mark one or all as read; new
// ones arrive live through the bell's subscription (app.js) and are added at the top.

import { gql } from '../api.js';
import { h, fill, when, link, announce, moreButton } from '../ui.js';
import { PATHS } from '../constants.js';

const LIST = `query($after: String, $unread: Boolean) {
  notifications(first: 50, after: $after, unreadOnly: $unread) {
    unreadCount pageInfo { hasNextPage endCursor }
    edges { node { id kind message createdAt read recordId seq } } } }`;

function item(n, app, onRead) {
  const mark = n.read ? null : h('button', {
    type: 'button', class: 'secondary small', 'aria-label': `Mark as read: ${n.message}`,
    onclick: async (event) => {
      event.target.disabled = true;
      await gql('mutation($ids: [UUID!]) { markNotificationsRead(ids: $ids) }', { ids: [n.id] });
      onRead();
    },
  }, 'Mark read');
  const target = n.recordId && app.me?.role === 'PATIENT' ? link(`${PATHS.records}/${n.recordId}`, 'Open the record')
    : n.recordId && app.me?.role === 'DOCTOR' ? link(PATHS.shared, 'Shared with me') : null;
  return h('li', { class: n.read ? 'note read' : 'note unread' },
    h('p', {}, n.read ? '' : h('strong', { class: 'badge' }, 'New'), ' ', n.message),
    h('p', { class: 'muted small' }, when(n.createdAt), ' ', target),
    mark);
}

export async function page({ app }) {
  const list = h('ul', { class: 'notes', 'aria-live': 'polite' });
  const more = h('div');
  const unreadOnly = h('input', { type: 'checkbox', id: 'unread-only' });
  const show = async (after, reset) => {
    const data = await gql(LIST, { after, unread: unreadOnly.checked || null });
    const page = data.notifications;
    app.setUnread(page.unreadCount);
    const items = page.edges.map(({ node }) => item(node, app, () => show(null, true)));
    if (reset) fill(list, ...items);
    else list.append(...items);
    if (reset && !items.length) fill(list, h('li', { class: 'muted' }, 'No notifications.'));
    fill(more, moreButton(page.pageInfo, (cursor) => show(cursor, false)));
  };
  unreadOnly.addEventListener('change', () => show(null, true));
  const live = (n) => {
    if (location.pathname !== PATHS.notifications) {
      app.listeners.delete(live);
      return;
    }
    list.querySelector('li.muted')?.remove();
    list.prepend(item(n, app, () => show(null, true)));
  };
  app.listeners.add(live);
  await show(null, true);
  return h('section', {},
    h('h1', {}, 'Notifications'),
    h('div', { class: 'toolbar' },
      h('label', { for: 'unread-only' }, unreadOnly, ' Unread only'),
      h('button', {
        type: 'button', class: 'secondary', onclick: async () => {
          const n = (await gql('mutation { markNotificationsRead }')).markNotificationsRead;
          announce(`${n} marked as read.`);
          await show(null, true);
        },
      }, 'Mark all as read')),
    list, more);
}
