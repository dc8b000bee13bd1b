// The doctor's pages: the records shared with them now (live shares only), each patient's
// view (the records that patient shares with them, or in an emergency all of them; "Add a
// record" to the patient's file; "Refer" a record to another doctor), and emergency
// access (open one with a reason, watch its time run out, close it). Each read is on the
// ledger, and the patient sees it in their access log.

import { gql } from '../api.js';
import { h, fill, field, form, link, table, when, bytes, moreButton, announce, errorBox } from '../ui.js';
import { PATHS, RECORDS_PAGE, ERASED_NAME, UNTIL_REVOKED } from '../constants.js';
import { uploadForm } from './upload_form.js';

export async function shared() {
  const list = h('div');
  const more = h('div');
  const show = async (after, reset) => {
    const data = await gql(`query($after: String) { sharedWithMe(first: ${RECORDS_PAGE}, after: $after) {
        totalCount pageInfo { hasNextPage endCursor }
        edges { node { id title fileName contentType size uploadedAt contentUrl owner { id name }
          myShare { expiresAt } } } } }`, { after });
    const page = data.sharedWithMe;
    const rows = page.edges.map(({ node: r }) => [
      r.title,
      link(`${PATHS.patients}/${r.owner.id}`, r.owner.name ?? ERASED_NAME),
      r.fileName,
      bytes(r.size),
      r.myShare?.expiresAt ? when(r.myShare.expiresAt) : UNTIL_REVOKED,
      openLinks(r),
    ]);
    const t = table(`Records shared with me (${page.totalCount})`, ['Title', 'Patient', 'File', 'Size', 'Until', ''], rows);
    if (reset) fill(list, t);
    else list.append(t);
    fill(more, moreButton(page.pageInfo, (cursor) => show(cursor, false)));
  };
  await show(null, true);
  return h('section', {},
    h('h1', {}, 'Shared with me'),
    h('p', { class: 'muted' }, 'Records patients share with you, while the share lasts. Open a patient to add a record to their file or refer one to a colleague. Every opening is recorded and the patient can see it.'),
    list, more);
}

function openLinks(r) {
  return h('span', { class: 'actions' },
    h('a', { href: `${r.contentUrl}?inline=1`, target: '_blank', rel: 'noopener', 'aria-label': `Open ${r.title}` }, 'Open'),
    h('a', { href: r.contentUrl, download: r.fileName, 'aria-label': `Download ${r.title}` }, 'Download'));
}

const MY_EMERGENCIES = `{ myEmergencyAccesses { id reason openedAt expiresAt closedAt reads
    patient { id name } review { justified note at by { name } } } }`;

/** "12 min 5 s left", kept current while the element is on the page. */
function countdown(expiresAt, onEnd) {
  const el = h('span', { class: 'countdown', role: 'timer', 'aria-live': 'off' });
  const tick = () => {
    const left = Math.max(0, new Date(expiresAt).getTime() - Date.now());
    const minutes = Math.floor(left / 60000);
    const seconds = Math.floor((left % 60000) / 1000);
    fill(el, left > 0 ? `${minutes} min ${seconds} s left` : 'Ended');
    if (left <= 0) {
      clearInterval(timer);
      if (onEnd) onEnd();
    }
  };
  const timer = setInterval(() => {
    if (!el.isConnected && el.dataset.shown) clearInterval(timer);
    else tick();
    el.dataset.shown = '1';
  }, 1000);
  tick();
  return el;
}

/** The doctor's view of one patient. */
export async function patient({ params, app }) {
  const id = params.id;
  const emergencies = (await gql(MY_EMERGENCIES)).myEmergencyAccesses;
  const open = emergencies.find((e) => e.patient.id === id && !e.closedAt);
  const list = h('div');
  const show = async () => {
    if (open) {
      const data = await gql(`query($p: UUID!) { recordsOf(patientId: $p, first: 100) {
          totalCount edges { node { id title fileName size uploadedAt contentUrl author { name } } } } }`, { p: id });
      fill(list, table(`All records of this patient (${data.recordsOf.totalCount})`, ['Title', 'File', 'Size', 'Added', ''],
        data.recordsOf.edges.map(({ node: r }) => [r.title, r.fileName, bytes(r.size), when(r.uploadedAt), openLinks(r)])));
      return;
    }
    const data = await gql(`{ sharedWithMe(first: 100) { edges { node { id title fileName size uploadedAt
        contentUrl owner { id name } myShare { expiresAt } } } } }`);
    const mine = data.sharedWithMe.edges.map(({ node }) => node).filter((r) => r.owner.id === id);
    fill(list, table(`Records this patient shares with you (${mine.length})`, ['Title', 'File', 'Until', '', ''],
      mine.map((r) => [r.title, r.fileName, r.myShare?.expiresAt ? when(r.myShare.expiresAt) : UNTIL_REVOKED,
        openLinks(r), referButton(r)])));
  };
  await show();
  const name = open?.patient.name
    ?? (await gql(`{ sharedWithMe(first: 100) { edges { node { owner { id name } } } } }`))
      .sharedWithMe.edges.map(({ node }) => node.owner).find((o) => o.id === id)?.name
    ?? 'Patient';
  return h('section', {},
    h('p', {}, link(PATHS.shared, '← Shared with me')),
    h('h1', {}, name),
    open ? emergencyBanner(open, app) : null,
    list,
    uploadForm({ heading: 'Add a record', patient: id }, show));
}

function emergencyBanner(e, app) {
  const close = h('button', {
    type: 'button', class: 'danger',
    onclick: async (event) => {
      event.target.disabled = true;
      try {
        await gql('mutation($id: UUID!) { closeEmergencyAccess(id: $id) { id closedAt } }', { id: e.id });
        announce('Emergency access closed.');
        app.navigate(PATHS.emergency);
      } catch (error) {
        event.target.replaceWith(errorBox(error));
      }
    },
  }, 'Close emergency access');
  return h('section', { class: 'card danger-zone', 'aria-labelledby': 'emergency-heading' },
    h('h2', { id: 'emergency-heading' }, 'Emergency access is open'),
    h('p', {}, `Reason: ${e.reason}. Every record you open is recorded as an emergency read; the patient and the administrators see it.`),
    h('p', {}, 'Ends ', when(e.expiresAt), ': ', countdown(e.expiresAt)),
    h('p', { class: 'actions' }, close));
}

/** "Refer" beside a shared record: choose a colleague, add a note, send. */
function referButton(r) {
  const slot = h('div');
  const opener = h('button', {
    type: 'button', class: 'secondary', 'aria-label': `Refer ${r.title}`,
    onclick: () => fill(slot, referForm(r, () => fill(slot))),
  }, 'Refer');
  return h('div', {}, opener, slot);
}

function referForm(r, done) {
  const doctor = field('Refer to', { type: 'select', name: 'doctor', required: true, options: [] });
  const note = field('Note for the patient and your colleague (optional)', { type: 'textarea', name: 'note', rows: 2, maxlength: 2000 });
  gql('{ doctors(first: 100) { edges { node { id name } } } }')
    .then((data) => fill(doctor.input, ...data.doctors.edges.map(({ node }) => h('option', { value: node.id }, node.name))))
    .catch(() => {});
  return form({
    fields: [doctor, note],
    submitLabel: 'Ask the patient',
    submit: async () => {
      await gql('mutation($r: UUID!, $t: UUID!, $n: String) { referRecord(recordId: $r, toDoctorId: $t, note: $n) { id } }',
        { r: r.id, t: doctor.input.value, n: note.input.value || null });
      announce('Referral sent: the patient decides.');
      done();
    },
  });
}

/** Emergency access: open one for a patient, with a reason; the ones opened. */
export async function emergency({ app }) {
  const list = h('div');
  const show = async () => {
    const mine = (await gql(MY_EMERGENCIES)).myEmergencyAccesses;
    fill(list, table('My emergency accesses', ['Patient', 'Reason', 'Opened', 'Time', 'Reads', 'Review'],
      mine.map((e) => [
        e.closedAt ? (e.patient.name ?? ERASED_NAME) : link(`${PATHS.patients}/${e.patient.id}`, e.patient.name ?? ERASED_NAME),
        e.reason,
        when(e.openedAt),
        e.closedAt ? `Ended ${when(e.closedAt)}` : countdown(e.expiresAt, () => show().catch(() => {})),
        String(e.reads),
        e.review ? `${e.review.justified ? 'Justified' : 'Not justified'}${e.review.note ? `: ${e.review.note}` : ''}` : 'Not yet reviewed',
      ])));
  };
  await show();
  const patientId = field('Patient ID', { name: 'patient', required: true, autocomplete: 'off' },
    'The patient\'s MedChain ID, from their card or the admission record.');
  const reason = field('Reason', { type: 'textarea', name: 'reason', required: true, rows: 2, maxlength: 500 },
    'Why you cannot ask the patient. The patient and the administrators read it.');
  return h('section', {},
    h('h1', {}, 'Emergency access'),
    h('p', {}, 'When a patient cannot consent, you may open all of their records for a short time. '
      + 'The patient is told at once, every read is recorded, and an administrator reviews each opening. '
      + 'It needs a sign-in with a second factor or a passkey.'),
    h('details', { class: 'card danger-zone' },
      h('summary', {}, 'Open emergency access'),
      form({
        fields: [patientId, reason],
        submitLabel: 'Open emergency access',
        submit: async () => {
          const p = patientId.input.value.trim();
          if (!/^[0-9a-f-]{36}$/i.test(p)) throw new Error('the patient ID is 36 characters, like 0a1b2c3d-…');
          if (!reason.input.value.trim()) throw new Error('give the reason');
          try {
            await gql('mutation($p: UUID!, $r: String!) { openEmergencyAccess(patientId: $p, reason: $r) { id } }',
              { p, r: reason.input.value });
          } catch (error) {
            if (error.reason === 'MFA_REQUIRED') {
              throw new Error('emergency access needs a sign-in with a second factor or a passkey: sign out and in again with one (set one up in your profile)');
            }
            throw error;
          }
          announce('Emergency access is open.');
          app.navigate(`${PATHS.patients}/${p}`);
        },
      })),
    list);
}
