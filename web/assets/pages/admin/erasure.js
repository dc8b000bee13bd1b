// The admin erasure page (DESIGN.md §11): the key epochs and a rotation on demand, an
// erasure's signed certificate, and legal holds (place one; another administrator lifts
// it). Nothing here reads medical content.

import { gql } from '../../api.js';
import { h, fill, field, form, table, when, announce, downloadJson, confirmDialog } from '../../ui.js';
import { num, decide } from './common.js';

const EPOCHS = '{ keyEpochs { number startedAt retiredAt closedAt keys } }';
const HOLDS = '{ legalHolds { id subject placedAt liftedAt active placedBy { id name } } }';
const SUBJECT = /^(user|record)-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export async function erasure({ app }) {
  const epochs = h('div');
  const holds = h('div');
  const showEpochs = async () => fill(epochs, epochTable((await gql(EPOCHS)).keyEpochs, showEpochs));
  const showHolds = async () => fill(holds, holdTable((await gql(HOLDS)).legalHolds, app, showHolds));
  await Promise.all([showEpochs(), showHolds()]);
  return h('section', {},
    h('h1', {}, 'Erasure and keys'),
    h('section', { class: 'card', 'aria-labelledby': 'epochs-heading' },
      h('h2', { id: 'epochs-heading' }, 'Key epochs'),
      h('p', { class: 'muted' }, 'Every stored key is wrapped by the current epoch\'s key. A rotation moves them all '
        + 'to a new epoch and destroys the old epoch\'s key, so copies of erased keys in database files, '
        + 'the WAL and backups can no longer be opened.'),
      epochs),
    certificateCard(),
    h('section', { class: 'card', 'aria-labelledby': 'holds-heading' },
      h('h2', { id: 'holds-heading' }, 'Legal holds'),
      h('p', { class: 'muted' }, 'A hold keeps a person (with all their records) or one record from being erased. '
        + 'Another administrator lifts it. The person sees that a hold stands, never why.'),
      placeHoldForm(showHolds),
      holds));
}

function epochTable(list, refresh) {
  const rows = list.map((e) => [
    String(e.number),
    when(e.startedAt),
    e.retiredAt ? `Retired ${when(e.retiredAt)}` : (e.closedAt ? 'Closing' : 'Current'),
    num(e.keys),
  ]);
  const rotate = h('button', {
    type: 'button',
    onclick: (event) => decide(event.currentTarget, async () => {
      if (!await confirmDialog('Rotate the key epochs now? Every key is moved to a new epoch and the old epoch\'s key is destroyed.', 'Rotate')) return;
      const { rotateKeyEpoch: e } = await gql('mutation { rotateKeyEpoch { number } }');
      announce(`Keys now in epoch ${e.number}.`);
      await refresh();
    }),
  }, 'Rotate now');
  return h('div', {},
    table('Key epochs, oldest first', ['Epoch', 'Started', 'State', 'Keys'], rows),
    h('p', { class: 'actions' }, rotate));
}

function certificateCard() {
  const subject = field('Erased person or record', { name: 'subject', required: true, autocomplete: 'off', spellcheck: 'false' },
    'user-<id> or record-<id>, as on the ledger.');
  const answer = h('div', { 'aria-live': 'polite' });
  return h('section', { class: 'card', 'aria-labelledby': 'certificate-heading' },
    h('h2', { id: 'certificate-heading' }, 'Erasure certificate'),
    form({
      fields: [subject],
      submitLabel: 'Show certificate',
      submit: async () => {
        fill(answer);
        const s = subject.input.value.trim();
        if (!SUBJECT.test(s)) throw new Error('write user-<id> or record-<id>');
        const { erasureCertificate: c } = await gql(`query($s: String!) { erasureCertificate(subject: $s) {
            subject erasedAt seq basis epochs complete completeAt dueBy document } }`, { s });
        fill(answer,
          h('dl', { class: 'facts' },
            h('dt', {}, 'Erased'), h('dd', {}, `${when(c.erasedAt)} (ledger entry ${c.seq})`),
            h('dt', {}, 'Why'), h('dd', {}, c.basis ?? '—'),
            h('dt', {}, 'Key epochs'), h('dd', {}, c.epochs.join(', ') || '—'),
            h('dt', {}, 'Complete'), h('dd', { class: 'erasure-status' }, c.complete
              ? `Yes, since ${when(c.completeAt)}`
              : `Not yet${c.dueBy ? `: due by ${when(c.dueBy)}` : ' (erased before key epochs)'}`)),
          h('p', { class: 'actions' }, h('button', {
            type: 'button', class: 'secondary',
            onclick: () => downloadJson(`medchain-erasure-${c.subject}.json`, c.document),
          }, 'Download the signed certificate')));
      },
    }),
    answer);
}

function placeHoldForm(refresh) {
  const subject = field('Person or record', { name: 'hold-subject', required: true, autocomplete: 'off', spellcheck: 'false' },
    'user-<id> holds the person and all their records; record-<id> one record.');
  const reason = field('Reason', { type: 'textarea', name: 'hold-reason', rows: 2, required: true, maxlength: 500 },
    'Sealed: kept with the hold, shown to no one here.');
  return form({
    fields: [subject, reason],
    submitLabel: 'Place hold',
    submit: async (el) => {
      const s = subject.input.value.trim();
      if (!SUBJECT.test(s)) throw new Error('write user-<id> or record-<id>');
      if (!reason.input.value.trim()) throw new Error('give a reason');
      await gql('mutation($s: String!, $r: String!) { placeLegalHold(subject: $s, reason: $r) { id } }',
        { s, r: reason.input.value });
      announce('The hold is placed.');
      el.reset();
      await refresh();
    },
  });
}

function holdTable(list, app, refresh) {
  const rows = list.map((hold) => [
    h('span', { class: 'mono small' }, hold.subject),
    `${when(hold.placedAt)} by ${hold.placedBy.name ?? '(erased)'}`,
    hold.active ? 'Stands' : `Lifted ${when(hold.liftedAt)}`,
    hold.active && hold.placedBy.id !== app.me?.id
      ? h('button', {
        type: 'button', class: 'secondary',
        'aria-label': `Lift the hold on ${hold.subject}`,
        onclick: (event) => decide(event.currentTarget, async () => {
          await gql('mutation($id: UUID!) { liftLegalHold(id: $id) { id } }', { id: hold.id });
          announce('The hold is lifted.');
          await refresh();
        }),
      }, 'Lift')
      : (hold.active ? h('span', { class: 'muted' }, 'Another administrator lifts it') : ''),
  ]);
  return table('Legal holds, newest first', ['Subject', 'Placed', 'State', ''], rows);
}
