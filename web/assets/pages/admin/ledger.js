// The admin ledger page: the events browsed a page at a time (filter by type, stream and
// first seq, kept in the address), the whole chain verified, a checkpoint signed, and a
// live tail of new events.

import { gql, subscribe } from '../../api.js';
import { h, fill, field, form, table, when, errorBox, announce } from '../../ui.js';
import { PATHS, SYSTEM_ACTOR } from '../../constants.js';
import { num, short, decide } from './common.js';

const LEDGER_PAGE = 50;
const EVENT_FIELDS = 'seq id stream version type actor at payload prevHash hash';
const LEDGER = `query($f: Long, $t: String, $s: String, $after: String) {
  ledger(fromSeq: $f, type: $t, stream: $s, first: ${LEDGER_PAGE}, after: $after) {
    pageInfo { hasNextPage endCursor } edges { node { ${EVENT_FIELDS} actorUser { name role } } } } }`;
const TAIL = `subscription($f: Long) { ledgerEvents(fromSeq: $f) { ${EVENT_FIELDS} } }`;
// Every type the ledger can hold, sorted: suggestions for the type filter.
const EVENT_TYPES = 'query { ledgerEventTypes }';

const LEDGER_HEADERS = ['Seq', 'Time', 'Type', 'Stream', 'Actor', 'Hash', 'Payload'];

function eventCells(e) {
  return [
    String(e.seq),
    when(e.at),
    e.type,
    h('span', { class: 'mono small' }, e.stream),
    // Named where the page knows the name (the live tail carries ids only).
    e.actorUser?.name ? h('span', { title: e.actor }, e.actorUser.name)
      : e.actor ? short(e.actor, 8) : h('span', { class: 'muted' }, SYSTEM_ACTOR),
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
  // Suggestions only: any other type may be typed in, so without them (an error) the
  // field is plain free text. Asked for beside the first page.
  const types = h('datalist', { id: 'event-types' });
  const suggested = gql(EVENT_TYPES)
    .then(({ ledgerEventTypes }) => fill(types, ledgerEventTypes.map((t) => h('option', { value: t }))))
    .catch(() => {});

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
      history.replaceState(null, '', `${PATHS.ledger}${params.toString() ? `?${params}` : ''}`);
      await show(null);
    },
  });

  applied = read();
  await show(null);
  await suggested;

  const root = h('section', {},
    h('h1', {}, 'Ledger'),
    filters,
    verifyAndCheckpoint(),
    await transparency(),
    liveTail(() => root, () => newest, (seq) => { newest = Math.max(newest, seq); }, () => applied),
    list,
    paging);
  return root;
}

function verdict(word, message) {
  const rest = message.startsWith(word) ? message.slice(word.length).replace(/^:\s*/, ': ') : `: ${message}`;
  return h('p', {}, h('strong', {}, word), rest);
}

/** The newest signed tree head and the witnesses that cosign the log (DESIGN.md §9). */
async function transparency() {
  const { treeHead: head, witnesses } = await gql(`{ treeHead { size root at key cosignatures { name at } }
    witnesses { name key lastCosignedSize lastCosignedAt silent } }`);
  const rows = witnesses.map((w) => [
    w.name,
    h('span', { class: 'mono small' }, w.key),
    w.lastCosignedSize != null ? `head of ${num(w.lastCosignedSize)}, ${when(w.lastCosignedAt)}` : 'Never',
    w.silent ? h('span', { class: 'error' }, 'Silent') : 'Cosigning',
  ]);
  return h('section', { class: 'card', 'aria-labelledby': 'tree-head' },
    h('h2', { id: 'tree-head' }, 'Transparency log'),
    head
      ? h('dl', { class: 'facts' },
        h('dt', {}, 'Newest signed tree head'), h('dd', {}, `size ${num(head.size)}, ${when(head.at)}`),
        h('dt', {}, 'Root'), h('dd', { class: 'mono small' }, head.root),
        h('dt', {}, 'Ledger key'), h('dd', { class: 'mono small' }, head.key),
        h('dt', {}, 'Cosigned by'), h('dd', {}, head.cosignatures.length
          ? head.cosignatures.map((c) => c.name).join(', ') : 'No witness yet'))
      : h('p', { class: 'muted' }, 'No tree head has been signed yet.'),
    table('Witnesses', ['Name', 'Key', 'Last cosigned', 'State'], rows));
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
  const gone = () => location.pathname !== PATHS.ledger || !root().isConnected;

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
