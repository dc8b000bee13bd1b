// The administrators' pages: the dashboard (figures and a chart of ledger activity),
// approvals (new accounts, profile changes), users (filter, page, suspend, erase), the
// ledger (browse, verify, sign a checkpoint, follow live) and compliance (who could read
// a record at a moment; the accounting of disclosures). None of it asks for medical
// content: the API refuses that to administrators.

import { gql, subscribe } from '../api.js';
import { h, fill, field, form, link, table, when, bytes, errorBox, announce, confirmDialog } from '../ui.js';

const ROLES = { PATIENT: 'Patient', DOCTOR: 'Doctor', ADMIN: 'Administrator' };
const STATUSES = { PENDING: 'Pending', ACTIVE: 'Active', REJECTED: 'Rejected', SUSPENDED: 'Suspended', ERASED: 'Erased' };

/** A number for people: Long values arrive as JSON numbers. */
function num(n) {
  return Number(n).toLocaleString();
}

/** The start of a hex hash or id, enough to tell rows apart; the whole value on hover. */
function short(value, length = 12) {
  if (!value) return '—';
  return h('span', { class: 'mono nowrap', title: value }, value.length > length ? `${value.slice(0, length)}…` : value);
}

/** Adds rows to a table made by `table()` (for "Show more"), dropping its empty row. */
function appendRows(wrap, rows) {
  const body = wrap.querySelector('tbody');
  if (rows.length) body.querySelector('td.muted')?.parentElement.remove();
  for (const cells of rows) body.append(h('tr', {}, cells.map((c) => h('td', {}, c))));
}

/**
 * A small card asking why, in `slot`: `run(reason)` does the deed once the reason is
 * given (and, with `confirmText`, confirmed). Cancel puts the focus back on `opener`.
 */
function askReason(slot, opener, { title, intro, label, submitLabel, confirmText, confirmLabel, run }) {
  const reason = field(label, { type: 'textarea', name: 'reason', rows: 2, required: true, maxlength: 500 });
  const close = () => {
    fill(slot);
    if (opener?.isConnected) opener.focus();
  };
  const asked = form({
    fields: [reason],
    submitLabel,
    submit: async () => {
      const why = reason.input.value.trim();
      if (!why) throw new Error('give a reason');
      if (confirmText && !await confirmDialog(confirmText, confirmLabel ?? submitLabel)) return;
      await run(why);
      fill(slot);
    },
  });
  // Cancel sits beside the form's own button.
  asked.querySelector('.actions').append(h('button', { type: 'button', class: 'secondary', onclick: close }, 'Cancel'));
  fill(slot, h('section', { class: 'card', 'aria-label': title },
    h('h2', {}, title),
    intro ? h('p', {}, intro) : null,
    asked));
  reason.input.focus();
}

// =======================================================================================
// Dashboard

const STATS = `{ stats {
    users { patients doctors admins pending }
    records storedBytes activeShares events checkpoints lastCheckpointSeq
    ledgerHead { seq hash at } }
  eventsPerDay(days: 14) { day events } }`;

export async function dashboard() {
  const { stats: s, eventsPerDay } = await gql(STATS);
  const facts = (id, title, pairs) => h('section', { class: 'card', 'aria-labelledby': id },
    h('h2', { id }, title),
    h('dl', { class: 'facts' }, pairs.map(([k, v]) => [h('dt', {}, k), h('dd', {}, v)])));
  return h('section', {},
    h('h1', {}, 'Dashboard'),
    h('div', { class: 'stat-grid' },
      facts('stats-accounts', 'Accounts', [
        ['Patients', num(s.users.patients)],
        ['Doctors', num(s.users.doctors)],
        ['Administrators', num(s.users.admins)],
        ['Waiting for approval', s.users.pending
          ? link('/admin/approvals', `${num(s.users.pending)} to decide`)
          : 'None'],
      ]),
      facts('stats-records', 'Records', [
        ['Records', num(s.records)],
        ['Stored (encrypted)', bytes(s.storedBytes)],
        ['Live shares', num(s.activeShares)],
      ]),
      facts('stats-ledger', 'Ledger', [
        ['Events', num(s.events)],
        ['Head', h('span', {}, `seq ${num(s.ledgerHead.seq)} `, short(s.ledgerHead.hash, 16))],
        ['Last event', s.ledgerHead.at ? when(s.ledgerHead.at) : '—'],
        ['Signed checkpoints', num(s.checkpoints)],
        ['Newest checkpoint', s.lastCheckpointSeq != null ? `seq ${num(s.lastCheckpointSeq)}` : 'None yet'],
      ])),
    h('h2', {}, 'Ledger events per day'),
    activityChart(eventsPerDay));
}

const SVG = 'http://www.w3.org/2000/svg';

/** `h()` for SVG: the elements must be made in the SVG namespace to draw. */
function svg(tag, attrs = {}, ...children) {
  const el = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value !== null && value !== undefined) el.setAttribute(key, String(value));
  }
  for (const child of children) el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  return el;
}

/**
 * A bar per day. Screen readers get the summary in the image's label and every number
 * in a visually hidden table, since an SVG's bars say nothing to them.
 */
function activityChart(days) {
  const W = 640;
  const H = 220;
  const top = 22;
  const bottom = 28;
  const side = 8;
  const plot = H - top - bottom;
  const counts = days.map((d) => Number(d.events));
  const max = Math.max(1, ...counts);
  const total = counts.reduce((a, b) => a + b, 0);
  const slot = (W - 2 * side) / Math.max(days.length, 1);
  const barWidth = slot * 0.7;

  const bars = days.map((d, i) => {
    const n = counts[i];
    // A day with events gets at least a sliver, so it does not look quiet.
    const height = n ? Math.max(2, (n / max) * plot) : 0;
    const x = side + i * slot + (slot - barWidth) / 2;
    const y = top + plot - height;
    const middle = x + barWidth / 2;
    return svg('g', {},
      svg('rect', { class: 'bar', x, y, width: barWidth, height },
        svg('title', {}, `${d.day}: ${n} ${n === 1 ? 'event' : 'events'}`)),
      svg('text', { class: 'value', x: middle, y: y - 5, 'text-anchor': 'middle' }, n),
      // MM-DD: the year is the same almost always and would not fit.
      svg('text', { class: 'label', x: middle, y: H - bottom + 17, 'text-anchor': 'middle' }, d.day.slice(5)));
  });

  let busiest = null;
  days.forEach((d, i) => {
    if (!busiest || counts[i] > busiest.n) busiest = { day: d.day, n: counts[i] };
  });
  const summary = days.length
    ? `Ledger events per day from ${days[0].day} to ${days[days.length - 1].day}: ${total} in all` +
      (busiest && busiest.n ? `, the most on ${busiest.day} with ${busiest.n}` : '') +
      `, ${counts[counts.length - 1]} on the last day.`
    : 'No days to show.';

  const chart = svg('svg', {
    viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': summary, preserveAspectRatio: 'xMidYMid meet',
  },
  svg('line', { class: 'axis', x1: side, x2: W - side, y1: top + plot, y2: top + plot }),
  ...bars);

  return h('figure', { class: 'chart' },
    chart,
    h('figcaption', { class: 'muted small' }, `${num(total)} events over the last ${days.length} days (UTC).`),
    h('div', { class: 'visually-hidden' },
      table('Ledger events per day', ['Day', 'Events'], days.map((d) => [d.day, num(d.events)]))));
}

// =======================================================================================
// Approvals

const PENDING_USERS = `{ users(status: PENDING, first: 100) {
    totalCount edges { node { id name email phone role createdAt } } } }`;
const PENDING_CHANGES = `{ pendingProfileChanges(first: 100) {
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

/** Runs a decision from a button: disabled meanwhile, the error in words beside it. */
async function decide(button, deed) {
  const place = button.parentElement;
  place.querySelector(':scope > .error')?.remove();
  button.disabled = true;
  try {
    await deed();
  } catch (error) {
    place.append(errorBox(error));
  } finally {
    // Usually the button is gone by now (the list is drawn anew); if not, it works again.
    button.disabled = false;
  }
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
      u.name ?? '(erased)',
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
      h('span', {}, c.user.name ?? '(erased)', h('br'), h('span', { class: 'muted small' }, c.user.email ?? '')),
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

// =======================================================================================
// Users

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
    fill(more, page.pageInfo.hasNextPage
      ? h('button', {
        type: 'button', class: 'secondary',
        onclick: (event) => decide(event.currentTarget, () => show(page.pageInfo.endCursor)),
      }, 'Show more')
      : null);
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
    actions = h('span', { class: 'actions' }, suspend, erase);
  }
  return [
    u.name ?? '(erased)',
    u.email ?? '',
    ROLES[u.role] ?? u.role,
    STATUSES[u.status] ?? u.status,
    when(u.createdAt),
    actions,
  ];
}

// =======================================================================================
// Ledger

const LEDGER_PAGE = 50;
const LEDGER_PATH = '/admin/ledger';
const EVENT_FIELDS = 'seq id stream version type actor at payload prevHash hash';
const LEDGER = `query($f: Long, $t: String, $s: String, $after: String) {
  ledger(fromSeq: $f, type: $t, stream: $s, first: ${LEDGER_PAGE}, after: $after) {
    pageInfo { hasNextPage endCursor } edges { node { ${EVENT_FIELDS} } } } }`;
const TAIL = `subscription($f: Long) { ledgerEvents(fromSeq: $f) { ${EVENT_FIELDS} } }`;

// Suggestions for the type filter only; any other type may be typed in.
const EVENT_TYPES = [
  'UserRegistered', 'LoginSucceeded', 'LoginFailed', 'LoggedOut', 'SessionRevoked', 'PasswordChanged',
  'UserApproved', 'UserRejected', 'UserSuspended', 'ProfileChangeRequested', 'ProfileChangeDecided',
  'UserErased', 'PasswordResetRequested', 'PasswordReset', 'ProfilePhotoChanged',
  'NotificationPreferencesSet', 'NotificationsRead', 'RecordUploaded', 'RecordShared', 'ShareRevoked',
  'ShareExpired', 'ShareExpiring', 'RecordAccessed', 'RecordAccessDenied', 'RecordErased',
];

const LEDGER_HEADERS = ['Seq', 'Time', 'Type', 'Stream', 'Actor', 'Hash', 'Payload'];

function eventCells(e) {
  return [
    String(e.seq),
    when(e.at),
    e.type,
    h('span', { class: 'mono small' }, e.stream),
    e.actor ? short(e.actor, 8) : h('span', { class: 'muted' }, 'MedChain'),
    short(e.hash),
    // Text in a <pre>, never HTML: sealed fields are ciphertext, the rest is data.
    h('details', {},
      h('summary', {}, `Payload of ${e.seq}`),
      h('pre', { class: 'payload' }, JSON.stringify(e.payload, null, 2))),
  ];
}

export async function ledger({ query }) {
  const type = field('Type', { name: 'type', list: 'event-types', autocomplete: 'off', value: query.get('type') ?? '' });
  const stream = field('Stream', { name: 'stream', autocomplete: 'off', value: query.get('stream') ?? '' },
    'user- or record- followed by the id, e.g. record-0a1b2c3d-….');
  const from = field('From seq', { type: 'number', name: 'from', min: 1, step: 1, inputmode: 'numeric', value: query.get('from') ?? '' },
    'Events are listed in ledger order from here; from the first when empty.');
  const types = h('datalist', { id: 'event-types' }, EVENT_TYPES.map((t) => h('option', { value: t })));

  const list = h('div');
  const paging = h('div', { class: 'actions' });
  let applied = {};
  let newest = 0; // the highest seq on screen: the live tail starts after it
  let cursors = []; // the `after` of each earlier page, for "Previous page"

  const read = () => {
    const f = from.input.value.trim();
    if (f && !/^[1-9]\d*$/.test(f)) throw new Error('"From seq" is a whole number from 1');
    return { f: f ? Number(f) : null, t: type.input.value.trim() || null, s: stream.input.value.trim() || null };
  };

  const show = async (after) => {
    const data = await gql(LEDGER, { ...applied, after });
    const page = data.ledger;
    for (const { node } of page.edges) newest = Math.max(newest, Number(node.seq));
    fill(list, table(
      `Ledger events${page.edges.length ? `, seq ${page.edges[0].node.seq} to ${page.edges[page.edges.length - 1].node.seq}` : ''}`,
      LEDGER_HEADERS, page.edges.map(({ node }) => eventCells(node))));
    const previous = cursors.length ? cursors[cursors.length - 1] : undefined;
    fill(paging,
      cursors.length ? h('button', {
        type: 'button', class: 'secondary',
        onclick: (event) => decide(event.currentTarget, async () => {
          cursors.pop();
          await show(previous);
        }),
      }, 'Previous page') : null,
      page.pageInfo.hasNextPage ? h('button', {
        type: 'button', class: 'secondary',
        onclick: (event) => decide(event.currentTarget, async () => {
          cursors.push(after ?? null);
          await show(page.pageInfo.endCursor);
        }),
      }, 'Next page') : null);
  };

  const filters = form({
    className: 'toolbar',
    fields: [type, types, stream, from],
    submitLabel: 'Show',
    submit: async () => {
      applied = read();
      cursors = [];
      const params = new URLSearchParams();
      if (applied.t) params.set('type', applied.t);
      if (applied.s) params.set('stream', applied.s);
      if (applied.f) params.set('from', String(applied.f));
      history.replaceState(null, '', `${LEDGER_PATH}${params.toString() ? `?${params}` : ''}`);
      await show(null);
    },
  });

  applied = read();
  await show(null);

  const root = h('section', {},
    h('h1', {}, 'Ledger'),
    filters,
    verifyAndCheckpoint(),
    liveTail(() => root, () => newest, (seq) => { newest = Math.max(newest, seq); }, () => applied),
    list,
    paging);
  return root;
}

function verdict(word, message) {
  const rest = message.startsWith(word) ? message.slice(word.length).replace(/^:\s*/, ': ') : `: ${message}`;
  return h('p', {}, h('strong', {}, word), rest);
}

function verifyAndCheckpoint() {
  const result = h('div', { id: 'verify-result', 'aria-live': 'polite' });
  const signed = h('div', { 'aria-live': 'polite' });
  const verify = h('button', {
    type: 'button',
    onclick: () => decide(verify, async () => {
      fill(result, h('p', { class: 'muted' }, 'Verifying the whole chain…'));
      let v;
      try {
        ({ verifyLedger: v } = await gql(`{ verifyLedger {
            ok message checkedEvents checkpointSeq firstBadSeq head { seq hash } } }`));
      } catch (error) {
        fill(result, errorBox(error));
        return;
      }
      fill(result, h('div', { class: v.ok ? 'ok' : 'error', role: v.ok ? 'status' : 'alert' },
        // The server's message starts with its verdict ("OK: …", "FAILED at …"); say it
        // once, in bold, whatever the message looks like.
        verdict(v.ok ? 'OK' : 'FAILED', v.message),
        h('p', { class: 'small' },
          `${num(v.checkedEvents)} events checked; `,
          v.checkpointSeq != null ? `held to the signed checkpoint of seq ${num(v.checkpointSeq)}` : 'no signed checkpoint yet',
          v.firstBadSeq != null ? `; first bad event: seq ${num(v.firstBadSeq)}` : '',
          '.')));
    }),
  }, 'Verify the ledger');
  const checkpoint = h('button', {
    type: 'button', class: 'secondary',
    onclick: () => decide(checkpoint, async () => {
      const { checkpointLedger: head } = await gql('mutation { checkpointLedger { seq hash at } }');
      const text = `Checkpoint signed at seq ${num(head.seq)}.`;
      fill(signed, h('p', { class: 'ok' }, text, ' ', short(head.hash, 16)));
      announce(text);
    }),
  }, 'Sign a checkpoint now');
  return h('div', { class: 'card' },
    h('div', { class: 'actions' }, verify, checkpoint),
    result,
    signed);
}

/**
 * The "Live tail" toggle: new events as they are written, newest first, in their own
 * table above the page. It stops when toggled off or when the page is left.
 */
function liveTail(root, newest, saw, filters) {
  const wrap = h('div', { hidden: true });
  const problem = h('div');
  let stop = null;
  let watch = null;
  let last = 0;

  const button = h('button', { type: 'button', class: 'secondary', 'aria-pressed': 'false' }, 'Live tail');
  const off = () => {
    if (stop) stop();
    stop = null;
    clearInterval(watch);
    watch = null;
    button.setAttribute('aria-pressed', 'false');
  };
  // Left behind: another page, or this page drawn anew.
  const gone = () => location.pathname !== LEDGER_PATH || !root().isConnected;

  button.addEventListener('click', () => {
    if (stop) {
      off();
      announce('Live tail stopped.');
      return;
    }
    fill(problem);
    last = newest();
    if (!wrap.firstChild) fill(wrap, table('Live events, newest first', LEDGER_HEADERS, []));
    wrap.hidden = false;
    button.setAttribute('aria-pressed', 'true');
    stop = subscribe(TAIL,
      // Asked on every reconnect: resume after the last event seen, none missed.
      () => ({ f: last + 1 }),
      (data) => {
        if (gone()) {
          off();
          return;
        }
        const e = data.ledgerEvents;
        const seq = Number(e.seq);
        if (seq <= last) return;
        last = seq;
        saw(seq);
        // The tail brings every event; the filters shown above apply to it too.
        const f = filters();
        if ((f.t && e.type !== f.t) || (f.s && e.stream !== f.s)) return;
        const body = wrap.querySelector('tbody');
        body.querySelector('td.muted')?.parentElement.remove();
        body.prepend(h('tr', {}, eventCells(e).map((c) => h('td', {}, c))));
      },
      (error) => {
        off();
        fill(problem, errorBox(error));
      });
    // With no events coming the callback never runs; look now and then as well.
    watch = setInterval(() => { if (gone()) off(); }, 2000);
    announce('Live tail started.');
  });

  return h('div', {}, h('div', { class: 'actions' }, button), problem, wrap);
}

// =======================================================================================
// Compliance

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const DISCLOSURE_ACTIONS = { VIEWED: 'Viewed', DOWNLOADED: 'Downloaded' };

/** A `datetime-local` value (local time) as the API's UTC DateTime, or null if empty. */
function instant(value) {
  if (!value) return null;
  const d = new Date(value);
  if (Number.isNaN(d.getTime())) throw new Error('the date and time are not valid');
  return d.toISOString();
}

export async function compliance() {
  const { users: patients } = await gql(`{ users(role: PATIENT, first: 100) {
      totalCount edges { node { id name email status } } } }`);
  return h('section', {},
    h('h1', {}, 'Compliance'),
    whoCouldReadForm(),
    disclosuresForm(patients));
}

function whoCouldReadForm() {
  const record = field('Record id', { name: 'record', required: true, autocomplete: 'off', spellcheck: 'false' },
    'The record\'s UUID, as in the ledger (record-…) or the access log.');
  const at = field('Date and time', { type: 'datetime-local', name: 'at', required: true, step: 1 }, 'In your local time.');
  const answer = h('div', { 'aria-live': 'polite' });
  return h('section', { class: 'card', 'aria-labelledby': 'who-heading' },
    h('h2', { id: 'who-heading' }, 'Who could read a record?'),
    h('p', { class: 'muted' }, 'Replays the ledger to that moment: the owner and the doctors with a live share then.'),
    form({
      fields: [record, at],
      submitLabel: 'Ask',
      submit: async () => {
        fill(answer);
        const id = record.input.value.trim().replace(/^record-/, '');
        if (!UUID.test(id)) throw new Error('the record id is a UUID such as 0a1b2c3d-…');
        const moment = instant(at.input.value);
        if (!moment) throw new Error('choose the date and time');
        const { whoCouldRead } = await gql('query($r: UUID!, $at: DateTime!) { whoCouldRead(recordId: $r, at: $at) { id name role status } }',
          { r: id, at: moment });
        fill(answer,
          h('h3', {}, `On ${when(moment)}`),
          whoCouldRead.length
            ? h('ul', {}, whoCouldRead.map((u) => h('li', {}, `${u.name ?? '(erased account)'} (${ROLES[u.role] ?? u.role})`)))
            : h('p', {}, 'Nobody could read it then.'));
      },
    }),
    answer);
}

const DISCLOSURES = `query($p: UUID, $from: DateTime, $to: DateTime, $after: String) {
  disclosures(patientId: $p, from: $from, to: $to, first: 100, after: $after) {
    pageInfo { hasNextPage endCursor }
    edges { node { seq at action recordId detail actor { id name role } } } } }`;

function disclosuresForm(patients) {
  const options = patients.edges.map(({ node: p }) =>
    [p.id, `${p.name ?? '(erased)'}${p.email ? ` — ${p.email}` : ''}`]);
  const patient = field('Patient', { type: 'select', name: 'patient', required: true, options },
    patients.totalCount > options.length
      ? `The first ${options.length} of ${patients.totalCount} patients are listed.`
      : null);
  if (!options.length) patient.input.append(h('option', { value: '' }, 'No patients yet'));
  const from = field('From (optional)', { type: 'datetime-local', name: 'from', step: 1 });
  const to = field('To (optional)', { type: 'datetime-local', name: 'to', step: 1 }, 'In your local time; leave both empty for all time.');
  const answer = h('div');
  const more = h('div');

  const row = (e) => [
    when(e.at),
    e.actor ? `${e.actor.name ?? '(erased)'} (${ROLES[e.actor.role] ?? e.actor.role})` : 'MedChain',
    DISCLOSURE_ACTIONS[e.action] ?? e.action,
    h('span', { class: 'mono small' }, e.recordId),
  ];
  const show = async (vars, after) => {
    const { disclosures: page } = await gql(DISCLOSURES, { ...vars, after });
    const rows = page.edges.map(({ node }) => row(node));
    if (after) appendRows(answer.firstChild, rows);
    else fill(answer, table('Disclosures, oldest first', ['When', 'Who', 'Action', 'Record id'], rows));
    fill(more, page.pageInfo.hasNextPage
      ? h('button', {
        type: 'button', class: 'secondary',
        onclick: (event) => decide(event.currentTarget, () => show(vars, page.pageInfo.endCursor)),
      }, 'Show more')
      : null);
  };

  return h('section', { class: 'card', 'aria-labelledby': 'disclosures-heading' },
    h('h2', { id: 'disclosures-heading' }, 'Accounting of disclosures'),
    h('p', { class: 'muted' }, 'Every opening or download of the patient\'s records by someone else.'),
    form({
      fields: [patient, from, to],
      submitLabel: 'Show disclosures',
      submit: async () => {
        fill(answer);
        fill(more);
        if (!patient.input.value) throw new Error('choose a patient');
        const vars = { p: patient.input.value, from: instant(from.input.value), to: instant(to.input.value) };
        if (vars.from && vars.to && vars.from > vars.to) throw new Error('"From" is after "To"');
        await show(vars, null);
      },
    }),
    answer,
    more);
}
