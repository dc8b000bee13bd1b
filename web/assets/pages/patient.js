// The patient's pages: their records with an upload (progress, refusals in words), and
// one record with its shares (add from the doctor directory, revoke), its access log,
// and erasure behind a confirmation.

import { gql, uploadRecord } from '../api.js';
import { h, fill, field, form, link, table, when, bytes, errorBox, announce, confirmDialog, moreButton } from '../ui.js';
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
  return h('section', {},
    h('h1', {}, 'My records'),
    uploadForm(app, () => show(null, true)),
    list, more);
}

function uploadForm(app, uploaded) {
  const title = field('Title', { name: 'title', required: true, maxlength: 200 });
  const description = field('Description (optional)', { type: 'textarea', name: 'description', rows: 2 });
  const file = field('File', { type: 'file', name: 'file', required: true, accept: '.pdf,.png,.jpg,.jpeg,.dcm,.txt,.json,application/pdf,image/png,image/jpeg,application/dicom,text/plain,application/json' },
    'PDF, PNG, JPEG, DICOM, plain text or JSON. It is encrypted as it is uploaded.');
  const bar = h('progress', { max: 100, value: 0, 'aria-label': 'Upload progress', hidden: true });
  const done = h('p', { role: 'status', class: 'muted' });
  return h('details', { class: 'card', open: true },
    h('summary', {}, 'Upload a record'),
    form({
      fields: [title, description, file, bar, done],
      submitLabel: 'Upload',
      submit: async (el) => {
        const chosen = file.input.files[0];
        if (!chosen) throw new Error('choose a file to upload');
        bar.hidden = false;
        bar.value = 0;
        fill(done, 'Uploading…');
        try {
          await uploadRecord({ title: title.input.value, description: description.input.value, file: chosen },
            (fraction) => { bar.value = Math.round(fraction * 100); });
        } catch (error) {
          bar.hidden = true;
          fill(done);
          throw error;
        }
        bar.value = 100;
        fill(done, `Uploaded ${chosen.name}.`);
        announce(`Uploaded ${chosen.name}.`);
        el.reset();
        await uploaded();
      },
    }));
}

const RECORD = `query($id: UUID!) { record(id: $id) {
    id title description fileName contentType size sha256 uploadedAt status contentUrl
    shares { id active grantedAt expiresAt revokedAt doctor { id name } } } }`;

export async function record({ params, app }) {
  const { record: r } = await gql(RECORD, { id: params.id });
  const shares = h('div');
  const log = h('div');
  const refresh = async () => {
    const fresh = (await gql(RECORD, { id: params.id })).record;
    fill(shares, shareTable(fresh, refresh));
    fill(log, await accessLog(params.id));
  };
  fill(shares, shareTable(r, refresh));
  fill(log, await accessLog(params.id));
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
      h('dt', {}, 'SHA-256 (ciphertext)'), h('dd', { class: 'mono' }, r.sha256),
      h('dt', {}, 'Status'), h('dd', {}, erased ? 'Erased' : 'Active')),
    erased ? null : h('p', { class: 'actions' },
      h('a', { href: `${r.contentUrl}?inline=1`, target: '_blank', rel: 'noopener' }, 'Open'),
      h('a', { href: r.contentUrl, download: r.fileName ?? '' }, 'Download')),
    h('h2', {}, 'Shares'),
    shares,
    erased ? null : shareForm(r, refresh),
    h('h2', {}, 'Access log'),
    log,
    erased ? null : eraseSection(r, app));
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

async function accessLog(id) {
  const data = await gql(`query($id: UUID!) { record(id: $id) { accessLog(first: ${MAX_PAGE}) {
      edges { node { seq at action detail actor { id name role } } } } } }`, { id });
  const rows = data.record.accessLog.edges.map(({ node: e }) => [
    when(e.at),
    e.actor ? `${e.actor.name ?? ERASED_NAME}${e.actor.role === 'DOCTOR' ? ' (doctor)' : ''}` : SYSTEM_ACTOR,
    ACCESS_ACTIONS[e.action] ?? e.action,
    e.detail ?? '',
  ]);
  return table('Who did what with this record, newest first', ['When', 'Who', 'What', 'Detail'], rows);
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
