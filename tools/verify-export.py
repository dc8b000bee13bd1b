#!/usr/bin/env python3
"""Recompute a MedChain ledger export (JSON Lines) with nothing but Python's standard library.

An auditor's reference tool, independent of the Rust code: for each line, drop "hash",
canonicalise the rest with RFC 8785 (payloads are I-JSON: strings, integers within
±(2^53−1), booleans, null, arrays, objects), SHA-256 it, and check that it equals the
line's "hash", that "prev" is the previous line's hash (64 zeros for seq 1) and that seq
counts 1, 2, 3 … without gaps.

Usage: verify-export.py EXPORT.jsonl [--checkpoint FILE]
Prints "OK: N events, head H" and exits 0, or names the first bad seq and exits 1.
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


def main(argv):
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
