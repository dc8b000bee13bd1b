// The admin dashboard: figures on accounts, records and the ledger, and a chart of
// ledger events per day (an SVG, with every number in a hidden table for screen readers).

import { gql } from '../../api.js';
import { h, link, table, when, bytes } from '../../ui.js';
import { PATHS } from '../../constants.js';
import { num, short } from './common.js';

const STATS = `{ stats {
    users { patients doctors admins pending }
    records storedBytes activeShares events checkpoints lastCheckpointSeq
    ledgerHead { seq hash at } }
  eventsPerDay(days: 14) { day events } }`;

export async function dashboard() {
  const [{ stats: s, eventsPerDay }, { witnesses }] = await Promise.all([
    gql(STATS), gql('{ witnesses { name lastCosignedAt silent } }'),
  ]);
  const silent = witnesses.filter((w) => w.silent);
  const facts = (id, title, pairs) => h('section', { class: 'card', 'aria-labelledby': id },
    h('h2', { id }, title),
    h('dl', { class: 'facts' }, pairs.map(([k, v]) => [h('dt', {}, k), h('dd', {}, v)])));
  return h('section', {},
    h('h1', {}, 'Dashboard'),
    silent.length ? h('div', { class: 'error', role: 'alert' },
      ...silent.map((w) => h('p', {}, `Witness ${w.name} has not cosigned `,
        w.lastCosignedAt ? `since ${when(w.lastCosignedAt)}` : 'any head yet',
        ': the log is not being watched by it. ', link(PATHS.ledger, 'See the ledger')))) : null,
    h('div', { class: 'stat-grid' },
      facts('stats-accounts', 'Accounts', [
        ['Patients', num(s.users.patients)],
        ['Doctors', num(s.users.doctors)],
        ['Administrators', num(s.users.admins)],
        ['Waiting for approval', s.users.pending
          ? link(PATHS.approvals, `${num(s.users.pending)} to decide`)
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
