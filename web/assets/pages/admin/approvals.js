// The admin approvals page: accounts waiting for approval (approve, or reject with a
// reason) and profile changes waiting for a decision (approve, or reject with a reason).

import { gql } from '../../api.js';
import { h, fill, table, when, announce } from '../../ui.js';
import { ROLES, MAX_PAGE, ERASED_NAME } from '../../constants.js';
import { askReason, decide } from './common.js';

const PENDING_USERS = `{ users(status: PENDING, first: ${MAX_PAGE}) {
    totalCount edges { node { id name email phone role createdAt } } } }`;
const PENDING_CHANGES = `{ pendingProfileChanges(first: ${MAX_PAGE}) {
    edges { node { id name phone requestedAt user { id name email phone } } } } }`;

export async function approvals() {
  const accounts = h('div');
  const changes = h('div');
  const panel = h('div');

  // Both lists are read again after every decision, so what is shown is what is left.
  const refresh = async () => {
    const [u, c] = await Promise.all([gql(PENDING_USERS), gql(PENDING_CHANGES)]);
    fill(accounts, accountTable(u.users, panel, refresh));
    fill(changes, changeTable(c.pendingProfileChanges.edges.map((e) => e.node), panel, refresh));
  };
  await refresh();
  return h('section', {},
    h('h1', {}, 'Approvals'),
    h('h2', {}, 'Accounts waiting for approval'),
    accounts,
    h('h2', {}, 'Profile changes waiting for approval'),
    changes,
    panel);
}

function accountTable(connection, panel, refresh) {
  const rows = connection.edges.map(({ node: u }) => {
    const who = u.name ?? 'this account';
    const reject = h('button', {
      type: 'button', class: 'secondary', 'aria-label': `Reject ${who}`,
      onclick: () => askReason(panel, reject, {
        title: `Reject ${who}`,
        intro: 'They are told by e-mail, with the reason, and cannot sign in.',
        label: 'Why is the account rejected?',
        submitLabel: 'Reject',
        confirmText: `Reject the account of ${who}? They will not be able to sign in.`,
        run: async (reason) => {
          await gql('mutation($u: UUID!, $r: String!) { rejectUser(userId: $u, reason: $r) { id } }', { u: u.id, r: reason });
          // The announcement names no one: it stays in the live region after the row is gone.
          announce('The account is rejected.');
          await refresh();
        },
      }),
    }, 'Reject');
    return [
      u.name ?? ERASED_NAME,
      u.email ?? '',
      ROLES[u.role] ?? u.role,
      when(u.createdAt),
      h('span', { class: 'actions' },
        h('button', {
          type: 'button', 'aria-label': `Approve ${who}`,
          onclick: (event) => decide(event.currentTarget, async () => {
            await gql('mutation($u: UUID!) { approveUser(userId: $u) { id } }', { u: u.id });
            announce('The account is approved.');
            await refresh();
          }),
        }, 'Approve'),
        reject),
    ];
  });
  return table(`Accounts waiting (${connection.totalCount})`, ['Name', 'E-mail', 'Role', 'Registered', ''], rows);
}

function changeTable(changes, panel, refresh) {
  const rows = changes.map((c) => {
    const who = c.user.name ?? 'this user';
    const reject = h('button', {
      type: 'button', class: 'secondary', 'aria-label': `Reject the change for ${who}`,
      onclick: () => askReason(panel, reject, {
        title: `Reject the profile change for ${who}`,
        intro: 'Their profile stays as it is; they are told the reason.',
        label: 'Why is the change rejected?',
        submitLabel: 'Reject the change',
        run: async (reason) => {
          await gql('mutation($id: UUID!, $r: String) { decideProfileChange(id: $id, approve: false, reason: $r) { id } }',
            { id: c.id, r: reason });
          announce('The profile change is rejected.');
          await refresh();
        },
      }),
    }, 'Reject');
    return [
      h('span', {}, c.user.name ?? ERASED_NAME, h('br'), h('span', { class: 'muted small' }, c.user.email ?? '')),
      c.name ? h('span', {}, c.name, h('br'), h('span', { class: 'muted small' }, `now ${c.user.name ?? '—'}`)) : 'No change',
      c.phone ? h('span', {}, c.phone, h('br'), h('span', { class: 'muted small' }, `now ${c.user.phone || '—'}`)) : 'No change',
      when(c.requestedAt),
      h('span', { class: 'actions' },
        h('button', {
          type: 'button', 'aria-label': `Approve the change for ${who}`,
          onclick: (event) => decide(event.currentTarget, async () => {
            await gql('mutation($id: UUID!) { decideProfileChange(id: $id, approve: true) { id } }', { id: c.id });
            announce('The profile change is approved.');
            await refresh();
          }),
        }, 'Approve'),
        reject),
    ];
  });
  return table('Profile changes waiting', ['User', 'New name', 'New phone', 'Asked', ''], rows);
}
