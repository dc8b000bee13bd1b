// Referrals and emergency access as the people in them see them. A patient decides the
// referrals of their records (approve shares the record with the second doctor until the
// first doctor's share ends) and sees every emergency access into their records, with
// its reason, its reads and the administrators' review. A doctor sees the referrals they
// made or received.

import { gql } from '../api.js';
import { h, fill, table, when, announce, errorBox } from '../ui.js';
import { ERASED_NAME, REFERRAL_STATUS } from '../constants.js';

const REFERRALS = `{ referrals { id status note requestedAt decidedAt
    record { id title } from { id name } to { id name } } }`;

const EMERGENCIES = `{ myEmergencyAccesses { id reason openedAt expiresAt closedAt reads
    doctor { name } review { justified note at } } }`;

function decisionButtons(r, refresh) {
  if (r.status !== 'PENDING') return when(r.decidedAt);
  const decide = (approve) => async (event) => {
    const place = event.target.parentElement;
    for (const b of place.querySelectorAll('button')) b.disabled = true;
    try {
      await gql('mutation($id: UUID!, $a: Boolean!) { decideReferral(id: $id, approve: $a) { id status } }',
        { id: r.id, a: approve });
      announce(approve ? 'Referral approved.' : 'Referral declined.');
      await refresh();
    } catch (error) {
      place.append(errorBox(error));
    }
  };
  return h('span', { class: 'actions' },
    h('button', { type: 'button', onclick: decide(true), 'aria-label': `Approve the referral of ${r.record.title} to ${r.to.name}` }, 'Approve'),
    h('button', { type: 'button', class: 'secondary', onclick: decide(false), 'aria-label': `Decline the referral of ${r.record.title} to ${r.to.name}` }, 'Decline'));
}

export async function page({ app }) {
  const patient = app.me.role === 'PATIENT';
  const referrals = h('div');
  const emergencies = h('div');
  const refresh = async () => {
    const rows = (await gql(REFERRALS)).referrals;
    fill(referrals, table(patient ? 'Referrals of my records' : 'Referrals I made or received',
      ['Record', 'From', 'To', 'Note', 'Asked', 'State', patient ? 'Decision' : 'Decided'],
      rows.map((r) => [
        r.record.title ?? '(not shared with you yet)',
        r.from.name ?? ERASED_NAME,
        r.to.name ?? ERASED_NAME,
        r.note ?? '',
        when(r.requestedAt),
        REFERRAL_STATUS[r.status] ?? r.status,
        patient ? decisionButtons(r, refresh) : when(r.decidedAt),
      ])));
    if (!patient) return;
    const opened = (await gql(EMERGENCIES)).myEmergencyAccesses;
    fill(emergencies, table('Emergency access to my records', ['Doctor', 'Reason', 'Opened', 'Ended', 'Reads', 'Review'],
      opened.map((e) => [
        e.doctor.name ?? ERASED_NAME,
        e.reason,
        when(e.openedAt),
        e.closedAt ? when(e.closedAt) : `Open until ${when(e.expiresAt)}`,
        String(e.reads),
        e.review ? `${e.review.justified ? 'Justified' : 'Not justified'}${e.review.note ? `: ${e.review.note}` : ''}` : 'Not yet reviewed',
      ])));
  };
  await refresh();
  const live = (n) => {
    if (!referrals.isConnected) {
      app.listeners.delete(live);
      return;
    }
    if (['REFERRAL_REQUESTED', 'REFERRAL_DECIDED', 'EMERGENCY_ACCESS', 'EMERGENCY_REVIEWED'].includes(n.kind)) {
      refresh().catch(() => {});
    }
  };
  app.listeners.add(live);
  return h('section', {},
    h('h1', {}, patient ? 'Referrals and emergency access' : 'Referrals'),
    patient ? h('p', { class: 'muted' }, 'A doctor you share a record with may ask you to let a colleague read it. '
      + 'If you approve, the colleague reads it until the first doctor\'s share ends. '
      + 'In an emergency a doctor may open all your records for a short time; you are told at once and an administrator reviews it.') : null,
    referrals,
    patient ? h('h2', {}, 'Emergency access') : null,
    emergencies);
}
