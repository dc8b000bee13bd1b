// The administrators' review queue of emergency accesses: who opened whose records, why,
// for how long and how many reads; each judged justified or not, with a note the patient
// sees. Administrators see the reason but never a record.

import { gql } from '../../api.js';
import { h, fill, field, form, table, when, announce } from '../../ui.js';
import { ERASED_NAME } from '../../constants.js';

const QUEUE = `query($r: Boolean) { emergencyAccesses(reviewed: $r, first: 100) { edges { node {
    id reason openedAt expiresAt closedAt reads doctor { name } patient { name }
    review { justified note at by { name } } } } } }`;

function reviewForm(e, refresh) {
  const verdict = field('Verdict', { type: 'select', name: 'justified', options: [['true', 'Justified'], ['false', 'Not justified']] });
  const note = field('Note for the patient (optional)', { name: 'note', maxlength: 500 });
  return form({
    fields: [verdict, note],
    submitLabel: 'Review',
    className: 'inline',
    submit: async () => {
      await gql('mutation($id: UUID!, $j: Boolean!, $n: String) { reviewEmergencyAccess(id: $id, justified: $j, note: $n) { id } }',
        { id: e.id, j: verdict.input.value === 'true', n: note.input.value || null });
      announce('Reviewed.');
      await refresh();
    },
  });
}

export async function emergency({ app }) {
  const list = h('div');
  const pendingOnly = h('input', { type: 'checkbox', id: 'pending-only', checked: true });
  const refresh = async () => {
    const data = await gql(QUEUE, { r: pendingOnly.checked ? false : null });
    fill(list, table('Emergency accesses, newest first', ['Doctor', 'Patient', 'Reason', 'Opened', 'Ended', 'Reads', 'Review'],
      data.emergencyAccesses.edges.map(({ node: e }) => [
        e.doctor.name ?? ERASED_NAME,
        e.patient.name ?? ERASED_NAME,
        e.reason,
        when(e.openedAt),
        e.closedAt ? when(e.closedAt) : `Open until ${when(e.expiresAt)}`,
        String(e.reads),
        e.review
          ? `${e.review.justified ? 'Justified' : 'Not justified'} by ${e.review.by.name ?? ERASED_NAME}${e.review.note ? `: ${e.review.note}` : ''}`
          : reviewForm(e, refresh),
      ])));
  };
  pendingOnly.addEventListener('change', () => refresh().catch(() => {}));
  await refresh();
  const live = (n) => {
    if (!list.isConnected) {
      app.listeners.delete(live);
      return;
    }
    if (n.kind === 'EMERGENCY_ACCESS') refresh().catch(() => {});
  };
  app.listeners.add(live);
  return h('section', {},
    h('h1', {}, 'Emergency access review'),
    h('p', { class: 'muted' }, 'Each emergency access is reviewed once. The patient sees the verdict and the note.'),
    h('div', { class: 'toolbar' }, h('label', { for: 'pending-only' }, pendingOnly, ' Waiting for review only')),
    list);
}
