#!/usr/bin/env python3
"""Recompute a MedChain ledger export (JSON Lines) with nothing but Python's standard library.

An auditor's reference tool, independent of the Rust code: for each line, drop "hash",
canonicalise the rest with RFC 8785 (payloads are I-JSON: strings, integers within
±(2^53−1), booleans, null, arrays, objects), SHA-256 it, and check that it equals the
line's "hash", that "prev" is the previous line's hash (64 zeros for seq 1) and that seq
counts 1, 2, 3 … without gaps.

Usage: verify-export.py EXPORT.jsonl [--checkpoint FILE]
Prints "OK: N events, head H" and exits 0, or names the first bad seq and exits 1.

The transparency log (DESIGN.md §9), straight from RFC 6962's definitions over the
export's event hashes (leaf i is seq i + 1):
  verify-export.py EXPORT.jsonl --merkle QUERIES.json
QUERIES.json is a list of {"root": N}, {"inclusion": SEQ, "size": N} and
{"consistency": A, "to": B}; each answer (a root, or a path of hashes) is printed as one
JSON list, lowercase hex, in the order asked.

A receipt or a consistency file (DESIGN.md §9), offline, against the ledger's key K:
  verify-export.py --check-proof FILE --pubkey K
checks the event's hash from its fields, the proof (RFC 9162 §2.1.3.2 / §2.1.4.2) and the
heads' Ed25519 signatures (RFC 8032, written out below); prints "OK: …" or "FAILED: …".
"""
import hashlib
import json
import sys

MAX_SAFE = 2**53 - 1


def jcs(value):
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        if abs(value) > MAX_SAFE:
            raise ValueError("integer beyond 2^53-1")
        return str(value)
    if isinstance(value, float):
        raise ValueError("floating-point number")
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        return "[" + ",".join(jcs(v) for v in value) + "]"
    if isinstance(value, dict):
        # RFC 8785 sorts member names by their UTF-16 code units.
        keys = sorted(value, key=lambda k: k.encode("utf-16-be"))
        return "{" + ",".join(json.dumps(k, ensure_ascii=False) + ":" + jcs(value[k]) for k in keys) + "}"
    raise ValueError(f"unexpected JSON value {value!r}")


def leaf_hash(event_hash):
    return hashlib.sha256(b"\x00" + bytes.fromhex(event_hash)).digest()


def node_hash(left, right):
    return hashlib.sha256(b"\x01" + left + right).digest()


def split(n):
    """The largest power of two smaller than n."""
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def mth(leaves):
    """RFC 6962 §2.1: the Merkle Tree Hash of a list of leaf hashes."""
    if not leaves:
        return hashlib.sha256(b"").digest()
    if len(leaves) == 1:
        return leaves[0]
    k = split(len(leaves))
    return node_hash(mth(leaves[:k]), mth(leaves[k:]))


def path(m, leaves):
    """RFC 6962 §2.1.1: PATH(m, D[n])."""
    if len(leaves) <= 1:
        return []
    k = split(len(leaves))
    if m < k:
        return path(m, leaves[:k]) + [mth(leaves[k:])]
    return path(m - k, leaves[k:]) + [mth(leaves[:k])]


def subproof(m, leaves, whole):
    """RFC 6962 §2.1.2: SUBPROOF(m, D[n], b)."""
    n = len(leaves)
    if m == n:
        return [] if whole else [mth(leaves)]
    k = split(n)
    if m <= k:
        return subproof(m, leaves[:k], whole) + [mth(leaves[k:])]
    return subproof(m - k, leaves[k:], False) + [mth(leaves[:k])]


# --- Ed25519 verification, RFC 8032 §5.1.7, from its reference code -----------------
P = 2**255 - 19
Q = 2**252 + 27742317777372353535851937790883648493
D = -121665 * pow(121666, P - 2, P) % P
SQRT_M1 = pow(2, (P - 1) // 4, P)


def _recover_x(y, sign):
    if y >= P:
        return None
    x2 = (y * y - 1) * pow(D * y * y + 1, P - 2, P)
    if x2 == 0:
        return None if sign else 0
    x = pow(x2, (P + 3) // 8, P)
    if (x * x - x2) % P != 0:
        x = x * SQRT_M1 % P
    if (x * x - x2) % P != 0:
        return None
    if (x & 1) != sign:
        x = P - x
    return x


def _add(a, b):
    e = (a[1] - a[0]) * (b[1] - b[0]) % P
    f = (a[1] + a[0]) * (b[1] + b[0]) % P
    g = 2 * a[3] * b[3] * D % P
    h = 2 * a[2] * b[2] % P
    e, f, g, h = f - e, h - g, h + g, f + e
    return (e * f, g * h, f * g, e * h)


def _mul(s, point):
    out = (0, 1, 1, 0)
    while s > 0:
        if s & 1:
            out = _add(out, point)
        point = _add(point, point)
        s >>= 1
    return out


def _equal(a, b):
    return (a[0] * b[2] - b[0] * a[2]) % P == 0 and (a[1] * b[2] - b[1] * a[2]) % P == 0


def _decompress(raw):
    y = int.from_bytes(raw, "little")
    sign, y = y >> 255, y & ((1 << 255) - 1)
    x = _recover_x(y, sign)
    return None if x is None else (x, y, 1, x * y % P)


_GY = 4 * pow(5, P - 2, P) % P
_G = (_recover_x(_GY, 0), _GY, 1, _recover_x(_GY, 0) * _GY % P)


def ed25519_verify(public, message, signature):
    if len(public) != 32 or len(signature) != 64:
        return False
    a, r = _decompress(public), _decompress(signature[:32])
    if a is None or r is None:
        return False
    s = int.from_bytes(signature[32:], "little")
    if s >= Q:
        return False
    h = int.from_bytes(hashlib.sha512(signature[:32] + public + message).digest(), "little") % Q
    return _equal(_mul(s, _G), _add(r, _mul(h, a)))


# --- Receipts and consistency files (DESIGN.md §9) ------------------------------------
def verify_inclusion(leaf, index, size, path, root):
    """RFC 9162 §2.1.3.2."""
    if index >= size:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in path:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            r = node_hash(r, p)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and r == root


def verify_consistency(first, second, first_root, second_root, path):
    """RFC 9162 §2.1.4.2."""
    if first == 0 or first > second:
        return False
    if first == second:
        return not path and first_root == second_root
    path = list(path)
    if first & (first - 1) == 0:
        path.insert(0, first_root)
    if not path:
        return False
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr, sr = node_hash(c, fr), node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            sr = node_hash(sr, c)
        fn, sn = fn >> 1, sn >> 1
    return fr == first_root and sr == second_root and sn == 0


def check_head(head, key):
    """The head's signature under the ledger's key K (hex), over JCS {seq, hash, root, at}."""
    if head.get("key") != key:
        raise ValueError("the head is signed with another key than the one given")
    body = {"seq": head["seq"], "hash": head["hash"], "root": head["root"], "at": head["at"]}
    if not ed25519_verify(bytes.fromhex(key), jcs(body).encode("utf-8"), bytes.fromhex(head["sig"])):
        raise ValueError("the head's signature does not hold")
    return bytes.fromhex(head["root"])


def check_proof_file(path, key):
    with open(path, encoding="utf-8") as f:
        doc = json.load(f)
    if doc.get("kind") == "medchain-receipt/v1":
        event = dict(doc["event"])
        stated = event.pop("hash")
        if hashlib.sha256(jcs(event).encode("utf-8")).hexdigest() != stated:
            raise ValueError("the event's hash does not match its fields")
        proof, head = doc["proof"], doc["head"]
        if proof["seq"] != doc["event"]["seq"] or proof["treeSize"] != head["seq"]:
            raise ValueError("the proof is not for this event and this head")
        root = check_head(head, key)
        steps = [bytes.fromhex(h) for h in proof["path"]]
        if not verify_inclusion(leaf_hash(stated), proof["seq"] - 1, proof["treeSize"], steps, root):
            raise ValueError("the inclusion proof does not lead to the head's root")
        return f"event {proof['seq']} is in the signed tree of {proof['treeSize']} events"
    if doc.get("kind") == "medchain-consistency/v1":
        first, second = doc["from"], doc["to"]
        a, b = check_head(first, key), check_head(second, key)
        steps = [bytes.fromhex(h) for h in doc["path"]]
        if not verify_consistency(first["seq"], second["seq"], a, b, steps):
            raise ValueError("the consistency proof does not join the two heads")
        return f"the signed tree of {first['seq']} events is a prefix of that of {second['seq']}"
    raise ValueError("not a receipt or a consistency file")


def merkle_answers(export, queries):
    with open(export, encoding="utf-8") as f:
        leaves = [leaf_hash(json.loads(line)["hash"]) for line in f if line.strip()]
    out = []
    for q in queries:
        if "root" in q:
            out.append(mth(leaves[: q["root"]]).hex())
        elif "inclusion" in q:
            out.append([h.hex() for h in path(q["inclusion"] - 1, leaves[: q["size"]])])
        elif "consistency" in q:
            out.append([h.hex() for h in subproof(q["consistency"], leaves[: q["to"]], True)])
        else:
            raise ValueError(f"unknown query {q!r}")
    return out


def main(argv):
    if len(argv) >= 5 and argv[1] == "--check-proof" and argv[3] == "--pubkey":
        try:
            print("OK: " + check_proof_file(argv[2], argv[4].strip()))
            return 0
        except (ValueError, KeyError, TypeError) as e:
            print(f"FAILED: {e}")
            return 1
    if len(argv) >= 4 and argv[2] == "--merkle":
        with open(argv[3], encoding="utf-8") as f:
            queries = json.load(f)
        for answer in merkle_answers(argv[1], queries):
            print(json.dumps(answer))
        return 0
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    checkpoint = None
    if "--checkpoint" in argv:
        with open(argv[argv.index("--checkpoint") + 1], encoding="utf-8") as f:
            checkpoint = json.load(f)
    prev, seq = "0" * 64, 0
    with open(argv[1], encoding="utf-8") as f:
        for line in f:
            entry = json.loads(line)
            stored = entry.pop("hash")
            seq += 1
            if entry["seq"] != seq:
                print(f"FAILED at seq {seq}: missing (next line is seq {entry['seq']})")
                return 1
            if entry["prev"] != prev:
                print(f"FAILED at seq {seq}: prev is not the hash of seq {seq - 1}")
                return 1
            try:
                computed = hashlib.sha256(jcs(entry).encode("utf-8")).hexdigest()
            except ValueError as e:
                print(f"FAILED at seq {seq}: payload is not I-JSON: {e}")
                return 1
            if computed != stored:
                print(f"FAILED at seq {seq}: hash does not match the entry")
                return 1
            if checkpoint and checkpoint["seq"] == seq and checkpoint["hash"] != computed:
                print(f"FAILED at seq {seq}: hash differs from the signed checkpoint")
                return 1
            prev = computed
    if checkpoint and checkpoint["seq"] > seq:
        print(f"FAILED at seq {seq + 1}: the export ends before the checkpoint's seq {checkpoint['seq']}")
        return 1
    print(f"OK: {seq} events, head {prev}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
