// The admin compliance page: who could read a record at a moment (the ledger replayed),
// and a patient's accounting of disclosures (every opening or download by someone else).

import { gql } from '../../api.js';
import { h, fill, field, form, table, when, moreButton } from '../../ui.js';
import { ROLES, ACCESS_ACTIONS, MAX_PAGE, ERASED_NAME, SYSTEM_ACTOR } from '../../constants.js';
import { appendRows, decide } from './common.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** A `datetime-local` value (local time) as the API's UTC DateTime, or null if empty. */
function instant(value) {
  if (!value) return null;
  const d = new Date(value);
  if (Number.isNaN(d.getTime())) throw new Error('the date and time are not valid');
  return d.toISOString();
}

export async function compliance() {
  const { users: patients } = await gql(`{ users(role: PATIENT, first: ${MAX_PAGE}) {
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
  disclosures(patientId: $p, from: $from, to: $to, first: ${MAX_PAGE}, after: $after) {
    pageInfo { hasNextPage endCursor }
    edges { node { seq at action recordId detail actor { id name role } } } } }`;

function disclosuresForm(patients) {
  const options = patients.edges.map(({ node: p }) =>
    [p.id, `${p.name ?? ERASED_NAME}${p.email ? ` — ${p.email}` : ''}`]);
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
    e.actor ? `${e.actor.name ?? ERASED_NAME} (${ROLES[e.actor.role] ?? e.actor.role})` : SYSTEM_ACTOR,
    ACCESS_ACTIONS[e.action] ?? e.action,
    h('span', { class: 'mono small' }, e.recordId),
  ];
  const show = async (vars, after) => {
    const { disclosures: page } = await gql(DISCLOSURES, { ...vars, after });
    const rows = page.edges.map(({ node }) => row(node));
    if (after) appendRows(answer.firstChild, rows);
    else fill(answer, table('Disclosures, oldest first', ['When', 'Who', 'Action', 'Record id'], rows));
    fill(more, moreButton(page.pageInfo, (cursor, event) => decide(event.currentTarget, () => show(vars, cursor))));
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
