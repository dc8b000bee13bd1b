// Checking a receipt (DESIGN.md §9) in the browser, with WebCrypto only: the event's hash
// from its fields (RFC 8785), the RFC 6962 inclusion proof from that hash to the head's
// root (checked as RFC 9162 §2.1.3.2 says), and the head's Ed25519 signature over
// {"seq","hash","root","at"}. Nothing here trusts the server's own verdict.

const encoder = new TextEncoder();

/** RFC 8785 for I-JSON values: keys sorted by UTF-16 code units (JS's own string order);
 * strings and integers as JSON.stringify writes them. */
export function jcs(value) {
  if (value === null || typeof value !== 'object') return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(jcs).join(',')}]`;
  const keys = Object.keys(value).sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${jcs(value[k])}`).join(',')}}`;
}

function bytes(hex) {
  if (typeof hex !== 'string' || !/^([0-9a-f]{2})*$/.test(hex)) throw new Error('not hex');
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i += 1) out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}

function hex(buffer) {
  return [...new Uint8Array(buffer)].map((b) => b.toString(16).padStart(2, '0')).join('');
}

async function sha256(...parts) {
  const total = parts.reduce((n, p) => n + p.length, 0);
  const joined = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    joined.set(p, at);
    at += p.length;
  }
  return new Uint8Array(await crypto.subtle.digest('SHA-256', joined));
}

const node = (left, right) => sha256(Uint8Array.of(1), left, right);

/** RFC 9162 §2.1.3.2: does `path` lead from `leaf` (index, of a tree of `size`) to `root`? */
async function included(leaf, index, size, path, root) {
  if (index >= size) return false;
  let fn = index;
  let sn = size - 1;
  let r = leaf;
  for (const p of path) {
    if (sn === 0) return false;
    if (fn % 2 === 1 || fn === sn) {
      r = await node(p, r);
      if (fn % 2 === 0) {
        while (fn % 2 === 0 && fn !== 0) {
          fn = Math.floor(fn / 2);
          sn = Math.floor(sn / 2);
        }
      }
    } else {
      r = await node(r, p);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  return sn === 0 && hex(r) === hex(root);
}

/**
 * Checks a receipt file. Resolves to { ok: true, seq, size } or { ok: false, why } (in
 * words for the page).
 */
export async function checkReceipt(receipt) {
  try {
    const { event, proof, head } = receipt;
    if (receipt.kind !== 'medchain-receipt/v1') return { ok: false, why: 'not a receipt' };
    const { hash, ...fields } = event;
    if (hex(await sha256(encoder.encode(jcs(fields)))) !== hash) {
      return { ok: false, why: "the event's fields do not give its hash" };
    }
    if (proof.seq !== event.seq || proof.treeSize !== head.seq) {
      return { ok: false, why: 'the proof is not for this event and this head' };
    }
    const leaf = await sha256(Uint8Array.of(0), bytes(hash));
    const path = proof.path.map(bytes);
    if (!await included(leaf, proof.seq - 1, proof.treeSize, path, bytes(head.root))) {
      return { ok: false, why: "the proof does not lead to the head's root" };
    }
    const key = await crypto.subtle.importKey('raw', bytes(head.key), { name: 'Ed25519' }, false, ['verify']);
    const signed = encoder.encode(jcs({ seq: head.seq, hash: head.hash, root: head.root, at: head.at }));
    if (!await crypto.subtle.verify({ name: 'Ed25519' }, key, bytes(head.sig), signed)) {
      return { ok: false, why: "the head's signature does not hold" };
    }
    return { ok: true, seq: proof.seq, size: proof.treeSize };
  } catch (error) {
    return { ok: false, why: `the receipt cannot be read (${error.message})` };
  }
}
