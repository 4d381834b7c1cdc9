#!/usr/bin/env python3
"""Writes tests/fuzz/corpus/vstream_decoder/: VStreamResponses in the event sequences the emulator
sends (src/emulator/vstream_copy.cpp, vstream_replicate.cpp: copy with VGTID+lastpk and COPY_COMPLETED, replication
BEGIN/ROW/VGTID/COMMIT, DDL+FIELD, JOURNAL, HEARTBEAT), for table ks.t on shards -80 and 80-,
rows in the column order of the FIELD event fuzz_vstream_decoder.cpp seeds. Text format here,
binary (protoc --encode) in the corpus. Run from the repository root."""
import os
import subprocess

U1 = "00000000-0000-0000-0000-000000000001"
# One value per column of kFields in fuzz_vstream_decoder.cpp (None = NULL), as raw bytes.
FULL = [b"1", b"-128", b"1", b"18446744073709551615", b"-8388608", b"-12345678901234567890.0123456789",
        b"-3.40282e38", b"1.7976931348623157e308", b"2024", b"2024-02-29", b"2024-01-02 03:04:05.123456",
        b"1970-01-01 00:00:01.000", b"-838:59:59.0000", "h\u00e9llo \U0001F600".encode(), b"\xe9t\xe9",
        b"\x82\xa0", b"\x00h\x00i", b"\x00a\x00b", b'{"a": [1, 2]}', b"\x00\x01\xff", b"ab\x00\x00", b"blob",
        b"\x00\x00\x00\x00\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\xf0?\x00\x00\x00\x00\x00\x00\x00@",
        b"\x01", b"\x0f\xff", b"it's", b"p,s't", None]
ZERO = [b"2", b"0", b"0", b"0", b"0", b".5", b"0", b"-0", b"0000", b"0000-00-00", b"0000-00-00 00:00:00.000000",
        b"2024-13-45 25:61:61.000", b"00:00:00.0000", b"", b"", b"", b"", b"", b"null", b"", b"\x00\x00\x00\x00",
        b"", b"", b"\x00", b"\x00\x00", b"", b"", None]
NULLS = [b"3"] + [None] * 27


def esc(b):
    return "".join(chr(c) if 32 <= c < 127 and c not in (34, 92) else "\\%03o" % c for c in b)


def row(vals):
    lengths = " ".join("lengths: %d" % (-1 if v is None else len(v)) for v in vals)
    return '%s values: "%s"' % (lengths, esc(b"".join(v for v in vals if v is not None)))


def vgtid(shard, gtid, lastpk=None):
    pk = ""
    if lastpk is not None:
        pk = ' table_p_ks { table_name: "t" lastpk { fields { name: "id" type: INT64 } rows { %s } } }' % row([lastpk])
    return 'events { type: VGTID keyspace: "ks" shard: "%s" vgtid { shard_gtids { keyspace: "ks" shard: "%s" gtid: "MySQL56/%s:%s"%s } } }' % (
        shard, shard, U1, gtid, pk)


def rowev(shard, changes, ts=0):
    return 'events { type: ROW timestamp: %d keyspace: "ks" shard: "%s" row_event { table_name: "ks.t" keyspace: "ks" shard: "%s" %s } }' % (
        ts, shard, shard, " ".join("row_changes { %s }" % c for c in changes))


SEEDS = {
    "copy": [vgtid("-80", "1-10"), 'events { type: BEGIN shard: "-80" }',
             rowev("-80", ["after { %s }" % row(FULL), "after { %s }" % row(ZERO), "after { %s }" % row(NULLS)]),
             vgtid("-80", "1-10", b"3"), 'events { type: COMMIT shard: "-80" }',
             'events { type: LASTPK keyspace: "ks" shard: "-80" last_p_k_event { table_last_p_k { table_name: "t" lastpk { rows { %s } } } completed: true } }' % row([b"3"]),
             'events { type: COPY_COMPLETED keyspace: "ks" shard: "-80" }', "events { type: COPY_COMPLETED }"],
    "replication": ['events { type: BEGIN timestamp: 1700000000 shard: "80-" }',
                    rowev("80-", ["before { %s } after { %s }" % (row(NULLS), row(FULL))], 1700000000),
                    rowev("80-", ["before { %s }" % row(ZERO)], 1700000001),
                    vgtid("80-", "1-6"), 'events { type: COMMIT shard: "80-" }', vgtid("80-", "1-100")],
    "schema_change": ['events { type: DDL shard: "80-" statement: "alter table t drop column b1" }',
                      'events { type: FIELD shard: "80-" field_event { table_name: "ks.t" shard: "80-" enum_set_string_values: true '
                      'fields { name: "id" type: INT64 column_type: "bigint" charset: 63 } '
                      'fields { name: "vc" type: VARCHAR column_type: "varchar(10)" charset: 255 } '
                      'fields { name: "en" type: ENUM column_type: "enum(\'a\',\'b\')" charset: 45 } } }',
                      rowev("80-", ["after { %s }" % row([b"7", b"x", b"2"])], 1700000002), vgtid("80-", "1-7")],
    "journal": ['events { type: JOURNAL shard: "80-" journal { id: 1 migration_type: SHARDS tables: "t" '
                'shard_gtids { keyspace: "ks" shard: "80-c0" gtid: "MySQL56/%s:1-3" } participants { keyspace: "ks" shard: "80-" } } }' % U1],
    "no_shard": ['events { type: HEARTBEAT timestamp: 1700000003 }',
                 'events { type: VGTID vgtid { shard_gtids { keyspace: "ks" shard: "80-" gtid: "MySQL56/%s:1-8" } } }' % U1],
    "bad_row": [rowev("80-", ["after { lengths: 1 lengths: 99 values: \"1\" }"])],
}

if __name__ == "__main__":
    out = "tests/fuzz/corpus/vstream_decoder"
    os.makedirs(out, exist_ok=True)
    for name, events in SEEDS.items():
        text = "\n".join(events)
        data = subprocess.run(["protoc", "--proto_path=subprojects/vitess-proto", "--encode=vtgate.VStreamResponse",
                               "vtgate.proto"], input=text.encode(), capture_output=True, check=True).stdout
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)
