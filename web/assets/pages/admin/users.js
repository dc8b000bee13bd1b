// The admin users page: every account, filtered by role and status (kept in the
// address), a page at a time, with suspend and erase behind a reason.

import { gql } from '../../api.js';
import { h, fill, field, form, table, when, announce, moreButton } from '../../ui.js';
import { ROLES, ERASED_NAME } from '../../constants.js';
import { appendRows, askReason, decide } from './common.js';

/** Account statuses, as people read them (the filter and the table). */
const STATUSES = { PENDING: 'Pending', ACTIVE: 'Active', REJECTED: 'Rejected', SUSPENDED: 'Suspended', ERASED: 'Erased' };

const USERS_PAGE = 25;
const USERS = `query($role: Role, $status: AccountStatus, $after: String) {
  users(role: $role, status: $status, first: ${USERS_PAGE}, after: $after) {
    totalCount pageInfo { hasNextPage endCursor }
    edges { node { id name email role status createdAt } } } }`;

export async function users({ query, app }) {
  const role = field('Role', {
    type: 'select', name: 'role',
    options: [['', 'Any role'], ...Object.entries(ROLES)],
  });
  const status = field('Status', {
    type: 'select', name: 'status',
    options: [['', 'Any status'], ...Object.entries(STATUSES)],
  });
  // The filter lives in the address too, so a reload or a shared link keeps it.
  if (ROLES[query.get('role')]) role.input.value = query.get('role');
  if (STATUSES[query.get('status')]) status.input.value = query.get('status');

  const list = h('div');
  const more = h('div');
  const panel = h('div');

  const show = async (after) => {
    const data = await gql(USERS, {
      role: role.input.value || null, status: status.input.value || null, after,
    });
    const page = data.users;
    const rows = page.edges.map(({ node }) => userRow(node, app, panel, () => show(null)));
    if (after) appendRows(list.firstChild, rows);
    else fill(list, table(`Users (${page.totalCount})`, ['Name', 'E-mail', 'Role', 'Status', 'Created', ''], rows));
    fill(more, moreButton(page.pageInfo, (cursor, event) => decide(event.currentTarget, () => show(cursor))));
  };

  const filters = form({
    className: 'toolbar',
    fields: [role, status],
    submitLabel: 'Show',
    submit: async () => {
      const params = new URLSearchParams();
      if (role.input.value) params.set('role', role.input.value);
      if (status.input.value) params.set('status', status.input.value);
      history.replaceState(null, '', `${location.pathname}${params.toString() ? `?${params}` : ''}`);
      fill(panel);
      await show(null);
    },
  });
  for (const select of [role.input, status.input]) select.addEventListener('change', () => filters.requestSubmit());

  await show(null);
  return h('section', {},
    h('h1', {}, 'Users'),
    filters,
    list,
    more,
    panel);
}

function userRow(u, app, panel, refresh) {
  const who = u.name ?? 'this account';
  let actions;
  if (u.id === app.me?.id) {
    // Suspending or erasing oneself is refused by the server; not offering it is kinder.
    actions = h('span', { class: 'muted' }, 'You');
  } else if (u.status === 'ERASED') {
    actions = '';
  } else {
    const suspend = u.status === 'ACTIVE' ? h('button', {
      type: 'button', class: 'secondary', 'aria-label': `Suspend ${who}`,
      onclick: () => askReason(panel, suspend, {
        title: `Suspend ${who}`,
        intro: 'A suspended account cannot sign in; its sessions end now. Its records and the ledger stay.',
        label: 'Why is the account suspended?',
        submitLabel: 'Suspend…',
        confirmText: `Suspend the account of ${who}? They are signed out everywhere and cannot sign in.`,
        confirmLabel: 'Suspend',
        run: async (reason) => {
          await gql('mutation($u: UUID!, $r: String!) { suspendUser(userId: $u, reason: $r) { id } }', { u: u.id, r: reason });
          announce('The account is suspended.');
          await refresh();
        },
      }),
    }, 'Suspend') : null;
    const erase = h('button', {
      type: 'button', class: 'danger', 'aria-label': `Erase ${who}`,
      onclick: () => askReason(panel, erase, {
        title: `Erase ${who}`,
        intro: 'Erasing destroys the account\'s key: its name, e-mail, phone and all else sealed under it become unreadable for good, and it is signed out everywhere. The ledger keeps that it existed and who erased it. This cannot be undone.',
        label: 'Why is the account erased?',
        submitLabel: 'Erase…',
        confirmText: `Erase the account of ${who} for good? This cannot be undone.`,
        confirmLabel: 'Erase',
        run: async (reason) => {
          await gql('mutation($u: UUID!, $r: String!) { eraseUser(userId: $u, reason: $r) { id } }', { u: u.id, r: reason });
          announce('The account is erased.');
          await refresh();
        },
      }),
    }, 'Erase');
    // For someone who lost their phone and their recovery codes: the server refuses it
    // when they have no second factor, and says so.
    const resetFactor = u.status === 'ACTIVE' ? h('button', {
      type: 'button', class: 'secondary', 'aria-label': `Reset the second factor of ${who}`,
      onclick: () => askReason(panel, resetFactor, {
        title: `Reset the second factor of ${who}`,
        intro: 'For someone who lost their code app and their recovery codes: the code app is taken away, their sessions end, and they are told. They sign in with their password and set up a new one.',
        label: 'Why is it reset (how did you check it is them)?',
        submitLabel: 'Reset…',
        confirmText: `Take away the second factor of ${who}? They are signed out everywhere.`,
        confirmLabel: 'Reset',
        run: async (reason) => {
          await gql('mutation($u: UUID!, $r: String!) { resetMfa(userId: $u, reason: $r) { id } }', { u: u.id, r: reason });
          announce('The second factor is reset.');
          await refresh();
        },
      }),
    }, 'Reset second factor') : null;
    actions = h('span', { class: 'actions' }, suspend, resetFactor, erase);
  }
  return [
    u.name ?? ERASED_NAME,
    u.email ?? '',
    ROLES[u.role] ?? u.role,
    STATUSES[u.status] ?? u.status,
    when(u.createdAt),
    actions,
  ];
}

