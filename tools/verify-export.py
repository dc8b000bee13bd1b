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
