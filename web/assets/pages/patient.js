// The patient's pages: their records with an upload (progress, refusals in words), and
// one record with its shares (add from the doctor directory, revoke), its access log,
// erasure behind a confirmation (or, under a legal hold, word that it is kept), and once
// erased, whether the erasure is complete, with its signed certificate.

import { gql } from '../api.js';
import { uploadForm } from './upload_form.js';
import { checkReceipt } from '../transparency.js';
import {
  h, fill, field, form, link, table, when, bytes, errorBox, announce, confirmDialog, moreButton, downloadJson,
} from '../ui.js';
import {
  PATHS, ACCESS_ACTIONS, MAX_PAGE, RECORDS_PAGE, ERASED_NAME, SYSTEM_ACTOR, UNTIL_REVOKED, ERASURE_BASES,
} from '../constants.js';

async function recordRows(after) {
  const data = await gql(`query($after: String) { myRecords(first: ${RECORDS_PAGE}, after: $after) {
      totalCount pageInfo { hasNextPage endCursor }
      edges { node { id title fileName contentType size uploadedAt status shares { id active } } } } }`, { after });
  return data.myRecords;
}

export async function records({ app }) {
  const list = h('div');
  const more = h('div');
  const show = async (after, reset) => {
    const page = await recordRows(after);
    const rows = page.edges.map(({ node: r }) => [
      link(`${PATHS.records}/${r.id}`, r.title ?? ERASED_NAME),
      r.fileName ?? '',
      bytes(r.size),
      when(r.uploadedAt),
      r.status === 'ERASED' ? 'Erased' : `${r.shares.filter((s) => s.active).length} live`,
    ]);
    const t = table(`My records (${page.totalCount})`, ['Title', 'File', 'Size', 'Uploaded', 'Shares'], rows);
    if (reset) fill(list, t);
    else list.append(t);
    fill(more, moreButton(page.pageInfo, (cursor) => show(cursor, false)));
  };
  await show(null, true);
  // A record a doctor adds appears without a reload.
  const live = (n) => {
    if (!list.isConnected) {
      app.listeners.delete(live);
      return;
    }
    if (n.kind !== 'RECORD_ADDED') return;
    // The notice and the records view are kept apart: look again shortly if the
    // record is not listed yet.
    const look = async (tries) => {
      await show(null, true);
      if (tries > 0 && n.recordId && !list.querySelector(`a[href="${PATHS.records}/${n.recordId}"]`)) {
        setTimeout(() => look(tries - 1).catch(() => {}), 300);
      }
    };
    look(10).catch(() => {});
  };
  app.listeners.add(live);
  return h('section', {},
    h('h1', {}, 'My records'),
    uploadForm({ heading: 'Upload a record', open: true }, () => show(null, true)),
    list, more);
}

const RECORD = `query($id: UUID!) { record(id: $id) {
    id title description fileName contentType size sha256 uploadedAt status contentUrl legalHold
    owner { id } author { id name }
    shares { id active grantedAt expiresAt revokedAt doctor { id name } } } }`;

/** The people a record's log may name by id (its doctors), by id. */
function namesOf(r) {
  return new Map(r.shares.map((s) => [s.doctor.id, s.doctor.name ?? ERASED_NAME]));
}

export async function record({ params, app }) {
  const { record: r } = await gql(RECORD, { id: params.id });
  const shares = h('div');
  const log = h('div');
  const refresh = async () => {
    const fresh = (await gql(RECORD, { id: params.id })).record;
    fill(shares, shareTable(fresh, refresh));
    fill(log, await accessLog(params.id, namesOf(fresh)));
  };
  fill(shares, shareTable(r, refresh));
  fill(log, await accessLog(params.id, namesOf(r)));
  const erased = r.status === 'ERASED';
  return h('section', {},
    h('p', {}, link(PATHS.records, '← My records')),
    h('h1', {}, r.title ?? 'Erased record'),
    h('dl', { class: 'facts' },
      h('dt', {}, 'File'), h('dd', {}, r.fileName ?? '—'),
      h('dt', {}, 'Description'), h('dd', {}, r.description || '—'),
      h('dt', {}, 'Kind'), h('dd', {}, r.contentType),
      h('dt', {}, 'Size'), h('dd', {}, bytes(r.size)),
      h('dt', {}, 'Uploaded'), h('dd', {}, when(r.uploadedAt)),
      r.author.id !== r.owner.id ? [h('dt', {}, 'Added by'), h('dd', {}, `${r.author.name ?? ERASED_NAME} (doctor)`)] : null,
      h('dt', {}, 'SHA-256 (ciphertext)'), h('dd', { class: 'mono' }, r.sha256),
      h('dt', {}, 'Status'), h('dd', {}, erased ? 'Erased' : 'Active')),
    erased ? null : h('p', { class: 'actions' },
      h('a', { href: `${r.contentUrl}?inline=1`, target: '_blank', rel: 'noopener' }, 'Open'),
      h('a', { href: r.contentUrl, download: r.fileName ?? '' }, 'Download')),
    h('h2', {}, 'Shares'),
    shares,
    erased ? null : shareForm(r, refresh),
    erased ? null : await linkSection(r),
    h('h2', {}, 'Access log'),
    log,
    erased ? await erasureSection(r) : (r.legalHold ? heldNotice() : eraseSection(r, app)));
}

/** A hold stands: the record is kept, and the patient is told so (never why). */
function heldNotice() {
  return h('section', { class: 'card', 'aria-labelledby': 'hold-heading' },
    h('h2', { id: 'hold-heading' }, 'Legal hold'),
    h('p', {}, 'A legal hold stands on this record: the law requires it to be kept, so it cannot '
      + 'be erased until an administrator lifts the hold.'));
}

const CERTIFICATE = `query($s: String!) { erasureCertificate(subject: $s) {
    erasedAt complete completeAt dueBy epochs document } }`;

/** An erased record: whether its erasure is complete, and the signed certificate. */
async function erasureSection(r) {
  const { erasureCertificate: c } = await gql(CERTIFICATE, { s: `record-${r.id}` });
  const status = c.complete
    ? `Complete since ${when(c.completeAt)}: no copy of the record's key, in the database's files or its backups, can be opened any more.`
    : `Erased on ${when(c.erasedAt)}. Old copies of its key, in the database's files and backups, become unreadable ${c.dueBy ? `by ${when(c.dueBy)}, at the next key rotation` : 'only when the master key is replaced (it was erased before key epochs)'}.`;
  return h('section', { class: 'card', 'aria-labelledby': 'erasure-heading' },
    h('h2', { id: 'erasure-heading' }, 'Erasure'),
    h('p', { role: 'status', class: 'erasure-status' }, status),
    h('p', { class: 'actions' }, h('button', {
      type: 'button', class: 'secondary',
      onclick: () => downloadJson(`medchain-erasure-${r.id}.json`, c.document),
    }, 'Download the signed certificate')));
}

function shareTable(r, refresh) {
  const rows = r.shares.map((s) => [
    s.doctor.name ?? ERASED_NAME,
    when(s.grantedAt),
    s.expiresAt ? when(s.expiresAt) : UNTIL_REVOKED,
    s.active ? 'Live' : s.revokedAt ? `Revoked ${when(s.revokedAt)}` : 'Expired',
    s.active ? h('button', {
      type: 'button', class: 'secondary', 'aria-label': `Revoke the share with ${s.doctor.name}`,
      onclick: async (event) => {
        event.target.disabled = true;
        try {
          await gql('mutation($s: UUID!) { revokeShare(shareId: $s) { id } }', { s: s.id });
          announce(`The share with ${s.doctor.name} is revoked.`);
          await refresh();
        } catch (error) {
          event.target.replaceWith(errorBox(error));
        }
      },
    }, 'Revoke') : '',
  ]);
  return table('Who this record is shared with', ['Doctor', 'Shared', 'Expires', 'State', ''], rows);
}

function shareForm(r, refresh) {
  const search = field('Find a doctor by name', { type: 'search', name: 'search', autocomplete: 'off' });
  const doctor = field('Doctor', { type: 'select', name: 'doctor', required: true, options: [] });
  const expires = field('Expires (optional)', { type: 'datetime-local', name: 'expires' }, 'Leave empty to share until you revoke it.');
  const loadDoctors = async () => {
    const data = await gql('query($q: String) { doctors(search: $q, first: 50) { edges { node { id name } } } }',
      { q: search.input.value || null });
    fill(doctor.input, ...data.doctors.edges.map(({ node }) => h('option', { value: node.id }, node.name)));
  };
  let timer = null;
  search.input.addEventListener('input', () => {
    clearTimeout(timer);
    timer = setTimeout(() => loadDoctors().catch(() => {}), 250);
  });
  loadDoctors().catch(() => {});
  return h('details', { class: 'card' },
    h('summary', {}, 'Share with a doctor'),
    form({
      fields: [search, doctor, expires],
      submitLabel: 'Share',
      submit: async () => {
        if (!doctor.input.value) throw new Error('choose a doctor to share with');
        const at = expires.input.value ? new Date(expires.input.value).toISOString() : null;
        await gql('mutation($r: UUID!, $d: UUID!, $e: DateTime) { shareRecord(recordId: $r, doctorId: $d, expiresAt: $e) { id } }',
          { r: r.id, d: doctor.input.value, e: at });
        announce('Shared.');
        await refresh();
      },
    }));
}

/** An entry's detail with the ids it names replaced by the names the page knows. */
function detailText(detail, names) {
  if (!detail) return '';
  return detail.replace(/(doctor )?([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})/g,
    (whole, _doctor, id) => (names.has(id) ? names.get(id) : whole));
}

const LINKS = `{ shareLinks { id url opens maxOpens active expiresAt revokedAt records { id } } }`;

/** "Share by link": the links naming this record, and a new one (shown once). */
async function linkSection(r) {
  const list = h('div');
  const fresh = h('div');
  const show = async () => {
    const mine = (await gql(LINKS)).shareLinks.filter((l) => l.records.some((x) => x.id === r.id));
    fill(list, mine.length ? table('Links to this record', ['Link', 'Until', 'Opens', 'State', ''], mine.map((l) => [
      h('span', { class: 'mono small' }, l.url),
      when(l.expiresAt),
      l.maxOpens ? `${l.opens} of ${l.maxOpens}` : String(l.opens),
      l.active ? 'Opens' : l.revokedAt ? `Revoked ${when(l.revokedAt)}` : 'Ended',
      l.active ? h('button', {
        type: 'button', class: 'secondary', 'aria-label': `Revoke the link ${l.url}`,
        onclick: async (event) => {
          event.target.disabled = true;
          try {
            await gql('mutation($id: UUID!) { revokeShareLink(id: $id) { id } }', { id: l.id });
            announce('The link is revoked.');
            await show();
          } catch (error) {
            event.target.replaceWith(errorBox(error));
          }
        },
      }, 'Revoke') : '',
    ])) : null);
  };
  await show();
  const week = new Date(Date.now() + 7 * 24 * 3600 * 1000);
  const local = new Date(week.getTime() - week.getTimezoneOffset() * 60000).toISOString().slice(0, 16);
  const expires = field('Link expires', { type: 'datetime-local', name: 'expires', required: true, value: local });
  const maxOpens = field('Most opens (optional)', { type: 'number', name: 'maxOpens', min: 1, max: 1000, step: 1 });
  return h('details', { class: 'card' },
    h('summary', {}, 'Share by link'),
    h('p', { class: 'small muted' }, 'For a clinician without an account: give them the link and, apart from it, the passcode. '
      + 'Five wrong passcodes lock the link. You see every opening and every download.'),
    form({
      fields: [expires, maxOpens],
      submitLabel: 'Make a link',
      submit: async () => {
        const at = new Date(expires.input.value).toISOString();
        const m = maxOpens.input.value ? Number(maxOpens.input.value) : null;
        const { createShareLink: made } = await gql(`mutation($r: [UUID!]!, $e: DateTime!, $m: Int) {
            createShareLink(recordIds: $r, expiresAt: $e, maxOpens: $m) { passcode qrSvg link { id url } } }`,
          { r: [r.id], e: at, m });
        fill(fresh, h('section', { class: 'card', 'aria-labelledby': 'new-link' },
          h('h3', { id: 'new-link' }, 'Your new link'),
          h('p', {}, 'Link: ', h('span', { class: 'mono', 'data-testid': 'link-url' }, made.link.url)),
          h('p', {}, 'Passcode (shown only now): ', h('strong', { class: 'mono', 'data-testid': 'link-passcode' }, made.passcode)),
          h('img', { class: 'qr', src: `data:image/svg+xml;base64,${btoa(made.qrSvg)}`, alt: 'QR code of the link (without the passcode)', width: 200, height: 200 })));
        announce('Link made.');
        await show();
      },
    }),
    fresh,
    list);
}

async function accessLog(id, names) {
  const data = await gql(`query($id: UUID!) { record(id: $id) { accessLog(first: ${MAX_PAGE}) {
      edges { node { seq at action detail actor { id name role } receipt } } } } }`, { id });
  const entries = data.record.accessLog.edges.map(({ node }) => node);
  const rows = entries.map((e) => [
    when(e.at),
    e.actor ? `${e.actor.name ?? ERASED_NAME}${e.actor.role === 'DOCTOR' ? ' (doctor)' : ''}`
      : e.action === 'LINK_OPENED' || (e.detail ?? '').startsWith('through link') ? 'Someone with your link' : SYSTEM_ACTOR,
    ACCESS_ACTIONS[e.action] ?? e.action,
    detailText(e.detail, names),
    ledgerCell(e),
  ]);
  const head = entries.find((e) => e.receipt)?.receipt.head;
  return h('div', {},
    table('Who did what with this record, newest first', ['When', 'Who', 'What', 'Detail', 'On the ledger'], rows),
    head ? proofNotice(head) : h('p', { class: 'small muted' },
      'Each entry gets a proof that it is on the ledger once MedChain signs its next tree head.'));
}

/** An entry's proof, checked here in the browser, and its receipt to download. */
function ledgerCell(e) {
  if (!e.receipt) return h('span', { class: 'muted' }, 'Waiting for the next signed head');
  const status = h('span', { class: 'proof', role: 'status' }, 'Checking…');
  checkReceipt(e.receipt).then((check) => {
    const witnesses = e.receipt.head.cosignatures.length;
    fill(status, check.ok
      ? `Proven: checked in this browser (head of ${check.size}, ${witnesses} witness${witnesses === 1 ? '' : 'es'})`
      : `Check failed: ${check.why}`);
    status.className = check.ok ? 'proof ok' : 'proof error';
  });
  const download = h('button', {
    type: 'button', class: 'link',
    'aria-label': `Download the receipt of entry ${e.seq}`,
    onclick: () => downloadJson(`medchain-receipt-${e.seq}.json`, e.receipt),
  }, 'Receipt');
  return h('span', {}, status, ' ', download);
}

/** What the check proves, and what it cannot (DESIGN.md §9), with the keys to compare. */
function proofNotice(head) {
  return h('div', { class: 'card small' },
    h('p', {}, 'A proof checked here shows that the entry is in the history MedChain signed with its ledger key. ',
      'It cannot show that MedChain shows everyone the same history: the page and the keys below come from the server ',
      'being checked. Independent witnesses vouch for that, and only those whose keys you can compare with keys ',
      'published elsewhere (by your hospital, in its privacy notice).'),
    h('p', {}, 'Ledger key: ', h('span', { class: 'mono' }, head.key)),
    head.cosignatures.length
      ? h('ul', {}, ...head.cosignatures.map((c) => h('li', {}, `Witness ${c.name}: `, h('span', { class: 'mono' }, c.witness))))
      : h('p', {}, 'No witness has cosigned this head yet.'));
}

function eraseSection(r, app) {
  const basis = field('Kind of reason', { type: 'select', name: 'basis', options: ERASURE_BASES });
  const reason = field('Why erase it?', { name: 'reason', required: true, maxlength: 500 },
    'Kept sealed under your own key: nobody else can read it.');
  return h('details', { class: 'card danger-zone' },
    h('summary', {}, 'Erase this record'),
    h('p', {}, 'Erasing destroys the record\'s key and file for good. The ledger keeps that it existed and who erased it.'),
    form({
      fields: [basis, reason],
      submitLabel: 'Erase…',
      submit: async () => {
        if (!reason.input.value.trim()) throw new Error('say why the record is erased');
        if (!await confirmDialog(`Erase "${r.title}" for good? This cannot be undone.`, 'Erase')) return;
        await gql(`mutation($r: UUID!, $why: String!, $basis: ErasureBasis) {
            eraseRecord(recordId: $r, reason: $why, basis: $basis) { id } }`,
          { r: r.id, why: reason.input.value, basis: basis.input.value });
        announce('The record is erased.');
        app.navigate(PATHS.records);
      },
    }));
}
