#!/usr/bin/env python3
"""Writes the seeds of tests/fuzz/corpus/vstream_raw/ that vtgate never sends but protobuf allows, for
fuzz_vstream_raw.cpp: lengths unpacked or in several packed chunks, an after image in two
occurrences (protobuf merges them), unknown fields of every wire type (groups too), fields out of
order, row_event twice. Rows use the columns of the FIELD event the fuzz targets seed (the values
of make_vstream_seeds.py). The other seeds of that directory are copies of
tests/fuzz/corpus/vstream_decoder (vtgate's own encoding). Written with a wire encoder of its own
(no protoc needed). Run from the repository root."""
import os

from make_vstream_seeds import FULL, NULLS, U1, ZERO


def varint(v):
    v &= (1 << 64) - 1
    out = bytearray()
    while v >= 0x80:
        out.append((v & 0x7F) | 0x80)
        v >>= 7
    out.append(v)
    return bytes(out)


def zigzag(v):
    return ((v << 1) ^ (v >> 63)) & ((1 << 64) - 1)


def tag(field, wire):
    return varint(field << 3 | wire)


def vint(field, v):
    return tag(field, 0) + varint(v)


def blob(field, b):
    return tag(field, 2) + varint(len(b)) + b


def unknown():
    # a varint, a fixed64, a fixed32 and a group holding a nested group
    return (vint(1001, 5) + tag(1002, 1) + b"12345678" + tag(1003, 5) + b"1234" + tag(1004, 3) + vint(1, 9) +
            tag(2, 3) + tag(2, 4) + tag(1004, 4))


def lengths_of(vals):
    return [-1 if v is None else len(v) for v in vals]


def values_of(vals):
    return b"".join(v for v in vals if v is not None)


def packed(lengths):
    return b"".join(varint(zigzag(n)) for n in lengths)


def row_unpacked(vals):
    return b"".join(vint(1, zigzag(n)) for n in lengths_of(vals)) + blob(2, values_of(vals))


def after_merged(vals):
    # two occurrences of RowChange.after: the lengths split between them (one chunk each, the second
    # in two chunks), junk values in the first, the real values last
    lengths = lengths_of(vals)
    first = blob(2, b"junk") + blob(1, packed(lengths[:5]))
    second = blob(1, packed(lengths[5:12])) + unknown() + blob(1, packed(lengths[12:])) + blob(2, values_of(vals))
    return blob(2, first) + blob(2, second)


def row_event(shard, changes, ts=1700000000, twice=False):
    body = blob(1, b"ks.other") + blob(1, b"ks.t") + b"".join(blob(2, c) for c in changes) + unknown()
    ev = blob(23, shard.encode()) + vint(1, 12) + vint(2, ts) + blob(5, body) + unknown()
    if twice:
        ev += blob(5, blob(2, changes[0]))
    return ev


def vgtid(shard, gtid):
    sg = blob(1, b"ks") + blob(2, shard.encode()) + blob(3, ("MySQL56/%s:%s" % (U1, gtid)).encode())
    return vint(1, 15) + blob(22, b"ks") + blob(23, shard.encode()) + blob(7, blob(1, sg))


def response(events):
    return b"".join(blob(1, e) + unknown() for e in events)


SEEDS = {
    "wire_unpacked": response([row_event("80-", [blob(2, row_unpacked(FULL)), blob(1, row_unpacked(ZERO))]),
                               vgtid("80-", "1-6")]),
    "wire_merged": response([row_event("-80", [after_merged(FULL), after_merged(NULLS)], twice=True),
                             vgtid("-80", "1-10")]),
    "wire_update": response([row_event("80-", [blob(1, row_unpacked(NULLS)) + after_merged(ZERO)], ts=1700000001),
                             vgtid("80-", "1-7")]),
}

if __name__ == "__main__":
    out = "tests/fuzz/corpus/vstream_raw"
    os.makedirs(out, exist_ok=True)
    for name, data in SEEDS.items():
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)
