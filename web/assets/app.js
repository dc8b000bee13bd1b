// The app's shell: who is signed in, the router (paths, so the mailed
// `/reset?token=…` link lands on its page), the header with navigation by role, and the
// notification bell kept live over the subscription. Nothing imports this module: the
// pages get what they may use as `app`.

import { gql, subscribe } from './api.js';
import { h, fill, link, announce, errorBox } from './ui.js';
import { PATHS, HOME } from './constants.js';
import * as auth from './pages/auth.js';
import * as patient from './pages/patient.js';
import * as doctor from './pages/doctor.js';
import * as notifications from './pages/notifications.js';
import * as care from './pages/care.js';
import * as shareLink from './pages/link.js';
import * as family from './pages/family.js';
import * as profile from './pages/profile.js';
import * as admin from './pages/admin/index.js';

const ME = `{ me { id role status name email } }`;

/** What every page may use: it is handed to each page as `app`. */
const app = {
  me: null,
  unread: 0,
  listeners: new Set(),
  navigate,
  refreshMe,
  signedOut,
  startBell,
  setUnread,
};

const routes = [
  [PATHS.login, auth.login, 'anyone'],
  [PATHS.register, auth.register, 'anyone'],
  [PATHS.forgot, auth.forgot, 'anyone'],
  [PATHS.reset, auth.reset, 'anyone'],
  [PATHS.pending, auth.pending, 'anyone'],
  [`${PATHS.link}/:id`, shareLink.page, 'anyone'],
  [PATHS.records, patient.records, 'PATIENT'],
  [`${PATHS.records}/:id`, patient.record, 'PATIENT'],
  [PATHS.shared, doctor.shared, 'DOCTOR'],
  [`${PATHS.patients}/:id`, doctor.patient, 'DOCTOR'],
  [PATHS.emergency, doctor.emergency, 'DOCTOR'],
  [PATHS.care, care.page, 'user'],
  [PATHS.family, family.family, 'PATIENT'],
  [PATHS.proxyAccept, family.accept, 'user'],
  [PATHS.caring, family.caring, 'user'],
  [`${PATHS.caring}/:id`, family.cared, 'user'],
  [PATHS.notifications, notifications.page, 'user'],
  [PATHS.profile, profile.page, 'user'],
  [PATHS.admin, admin.dashboard, 'ADMIN'],
  [PATHS.approvals, admin.approvals, 'ADMIN'],
  [PATHS.users, admin.users, 'ADMIN'],
  [PATHS.ledger, admin.ledger, 'ADMIN'],
  [PATHS.compliance, admin.compliance, 'ADMIN'],
  [PATHS.erasure, admin.erasure, 'ADMIN'],
  [PATHS.emergencyReview, admin.emergency, 'ADMIN'],
];

function match(path) {
  for (const [pattern, page, who] of routes) {
    const names = [];
    const re = new RegExp(`^${pattern.replace(/:([a-z]+)/g, (_, n) => { names.push(n); return '([^/]+)'; })}/?$`);
    const m = path.match(re);
    if (m) {
      const params = Object.fromEntries(names.map((n, i) => [n, decodeURIComponent(m[i + 1])]));
      return { page, who, params };
    }
  }
  return null;
}

async function refreshMe() {
  try {
    app.me = (await gql(ME)).me;
  } catch {
    app.me = null;
  }
  return app.me;
}

function signedOut() {
  app.me = null;
  stopBell();
  navigate(PATHS.login);
}

function navigate(path, { replace = false } = {}) {
  if (replace) history.replaceState(null, '', path);
  else history.pushState(null, '', path);
  render();
}

async function render() {
  const main = document.getElementById('main');
  const path = location.pathname;
  if (path === '/' || path === '') {
    navigate(app.me ? HOME[app.me.role] : PATHS.login, { replace: true });
    return;
  }
  const found = match(path);
  renderHeader();
  if (!found) {
    fill(main, h('h1', {}, 'Not found'), h('p', {}, 'There is no page here. ', link('/', 'Go to the start.')));
    return;
  }
  if (found.who !== 'anyone' && !app.me) {
    navigate(`${PATHS.login}?next=${encodeURIComponent(path + location.search)}`, { replace: true });
    return;
  }
  if (found.who !== 'anyone' && found.who !== 'user' && app.me.role !== found.who) {
    fill(main, h('h1', {}, 'Not for you'), h('p', {}, 'This page is for another kind of account. ', link('/', 'Go to your start page.')));
    return;
  }
  try {
    const view = await found.page({ params: found.params, query: new URLSearchParams(location.search), app });
    // Another navigation may have started meanwhile.
    if (location.pathname === path) fill(main, view);
  } catch (error) {
    if (error.code === 'UNAUTHENTICATED') {
      signedOut();
      return;
    }
    fill(main, h('h1', {}, 'This page could not be shown'), errorBox(error));
  }
  const heading = main.querySelector('h1');
  document.title = heading ? `${heading.textContent} · MedChain` : 'MedChain';
  main.focus({ preventScroll: true });
}

const NAV = {
  PATIENT: [[PATHS.records, 'My records'], [PATHS.care, 'Referrals and emergencies'],
    [PATHS.family, 'Family and caregivers'], [PATHS.caring, 'People I look after']],
  DOCTOR: [[PATHS.shared, 'Shared with me'], [PATHS.care, 'Referrals'], [PATHS.emergency, 'Emergency access'],
    [PATHS.caring, 'People I look after']],
  ADMIN: [[PATHS.admin, 'Dashboard'], [PATHS.approvals, 'Approvals'], [PATHS.users, 'Users'],
    [PATHS.ledger, 'Ledger'], [PATHS.compliance, 'Compliance'], [PATHS.erasure, 'Erasure'],
    [PATHS.emergencyReview, 'Emergencies']],
};

const bellCount = h('span', { class: 'count', 'aria-hidden': 'true' });
const bell = h('a', { href: PATHS.notifications, 'data-link': true, class: 'bell', id: 'bell' },
  h('img', { src: '/assets/bell.svg', alt: '', width: 22, height: 22 }), bellCount);

function showUnread() {
  fill(bellCount, app.unread > 0 ? String(app.unread) : '');
  bell.setAttribute('aria-label', `Notifications, ${app.unread} unread`);
  bell.dataset.unread = String(app.unread);
}

function renderHeader() {
  const top = document.getElementById('top');
  const brand = link('/', 'MedChain', { class: 'brand' });
  if (!app.me) {
    fill(top, h('nav', { 'aria-label': 'Main' }, brand, h('span', { class: 'spacer' }),
      link(PATHS.login, 'Sign in'), link(PATHS.register, 'Register')));
    return;
  }
  const here = location.pathname;
  const items = (NAV[app.me.role] ?? []).map(([href, text]) =>
    link(href, text, here === href ? { 'aria-current': 'page' } : {}));
  const logout = h('button', {
    type: 'button', class: 'link', onclick: async () => {
      try { await gql('mutation { logout }'); } catch { /* the session is gone either way */ }
      signedOut();
    },
  }, 'Sign out');
  showUnread();
  fill(top, h('nav', { 'aria-label': 'Main' }, brand, ...items, h('span', { class: 'spacer' }), bell,
    link(PATHS.profile, app.me.name ?? 'Profile', here === PATHS.profile ? { 'aria-current': 'page' } : {}), logout));
}

let stopBellSocket = null;

function stopBell() {
  if (stopBellSocket) stopBellSocket();
  stopBellSocket = null;
}

/** Reads the unread count, then follows new notifications live, resuming after the
 * last one seen whenever the socket reconnects. */
async function startBell() {
  stopBell();
  let lastSeq = null;
  try {
    const data = await gql('{ notifications(first: 1) { unreadCount edges { node { seq } } } }');
    app.unread = data.notifications.unreadCount;
    lastSeq = data.notifications.edges[0]?.node.seq ?? 0;
  } catch {
    return;
  }
  showUnread();
  stopBellSocket = subscribe(
    'subscription($a: Long) { notifications(afterSeq: $a) { id kind message seq read createdAt recordId } }',
    () => ({ a: lastSeq }),
    (data) => {
      const n = data.notifications;
      lastSeq = Math.max(lastSeq ?? 0, n.seq);
      if (!n.read) app.unread += 1;
      showUnread();
      announce(n.message);
      for (const listener of app.listeners) listener(n);
    },
    () => stopBell(),
  );
}

function setUnread(count) {
  app.unread = count;
  showUnread();
}

document.addEventListener('click', (event) => {
  const a = event.target.closest('a[data-link]');
  if (!a || event.ctrlKey || event.metaKey || event.shiftKey || a.target) return;
  event.preventDefault();
  navigate(a.getAttribute('href'));
});
window.addEventListener('popstate', render);

/** A server whose ledger was restored short of its newest signed head takes no writes:
 * every page says so above everything else, in words, with the server's own reason. */
async function showReadOnly() {
  let reason = null;
  try {
    reason = (await gql('{ readOnly }')).readOnly;
  } catch {
    return;
  }
  if (!reason) return;
  const banner = h('div', { class: 'read-only', role: 'alert', 'data-testid': 'read-only' },
    h('strong', {}, 'This server is read-only. '),
    'It was restored from a backup that does not reach the newest signed state of its ledger, ',
    'and anything new would fork the history others have already confirmed. You can look at what is here; ',
    'signing in, uploading, sharing and opening files are refused until the operators finish the restore.',
    h('details', {}, h('summary', {}, 'The server\'s reason'), h('p', { class: 'small' }, reason)));
  document.getElementById('top').after(banner);
}

(async () => {
  await Promise.all([refreshMe(), showReadOnly()]);
  if (app.me) startBell();
  render();
})();
