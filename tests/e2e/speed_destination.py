#!/usr/bin/env python3
"""A destination stand-in for Airbyte's socket mode (docs/speed-mode.md), for tests/e2e/test_speed.cpp.

Connects to every socket the connector listens on, reads each to its end in its own thread, decodes
every message (JSONL lines, or varint-delimited AirbyteMessageProtobuf with a small hand-written
protobuf decoder: Python's standard library only) and checks what a destination relies on:
  - framing: each socket ends on a message boundary; every message parses;
  - records: `data` has one value per property of the configured stream, in ascending property
    name, each in the member the property's type calls for (or is_null); JSONL records are RECORD
    messages; every record carries a partition_id;
  - STATE: `id` never repeats within a stream; on the socket that carries it no record of its
    partition comes after it; recordCount is at least the records of its partition_id received on
    all sockets. With --strict-counts (every run that closes no socket on purpose, which would lose
    what was still in its buffer): ids run 1, 2, 3, ... per stream with no gap, recordCount
    equals the records of its partition, and every record's partition has a STATE.
Writes what it received to --out as JSON lines ({"kind": "record"|"state"|"status", ...}, records
with `data` rendered as the connector's JSON mapping renders the value) and prints one summary line
{"records": N, "states": N, "probes": N, "problems": [...]}; exits 1 when a check failed.

--close-socket K --close-after N: stop reading socket K after N records of it and close it (the
"destination closes a socket mid-sync" case). --allow-truncated: the connector is killed, so a
socket may end inside a message (what a destination then discards).
"""
import argparse
import datetime
import json
import os
import socket
import struct
import sys
import threading
import time


def varint(buf, pos):
    result = 0
    shift = 0
    while True:
        if pos >= len(buf):
            raise ValueError("truncated varint")
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, pos
        shift += 7
        if shift >= 64:
            raise ValueError("varint too long")


def fields(buf):
    """Yields (field number, wire type, value) of one protobuf message; value is int or bytes."""
    pos = 0
    while pos < len(buf):
        tag, pos = varint(buf, pos)
        number, wtype = tag >> 3, tag & 7
        if wtype == 0:
            value, pos = varint(buf, pos)
        elif wtype == 1:
            if pos + 8 > len(buf):
                raise ValueError("truncated fixed64")
            value = buf[pos:pos + 8]
            pos += 8
        elif wtype == 2:
            size, pos = varint(buf, pos)
            if pos + size > len(buf):
                raise ValueError("truncated length-delimited field")
            value = buf[pos:pos + size]
            pos += size
        elif wtype == 5:
            value = buf[pos:pos + 4]
            pos += 4
        else:
            raise ValueError("unknown wire type %d" % wtype)
        yield number, wtype, value


def unzigzag(v):
    return (v >> 1) ^ -(v & 1)


def to_int64(v):
    return v - (1 << 64) if v >= (1 << 63) else v


EPOCH = datetime.date(1970, 1, 1)


def fmt_clock(nanos, always_fraction):
    secs, frac = divmod(nanos, 1_000_000_000)
    text = "%02d:%02d:%02d" % (secs // 3600, (secs // 60) % 60, secs % 60)
    if always_fraction or frac:
        text += ".%06d" % (frac // 1000)
    return text


def fmt_offset(seconds):
    sign = "+" if seconds >= 0 else "-"
    seconds = abs(seconds)
    return "%s%02d:%02d" % (sign, seconds // 3600, (seconds // 60) % 60)


def decode_value(buf):
    """AirbyteValueProtobuf → (member name, rendered JSON value)."""
    member, value, is_null = None, None, False
    for number, wtype, v in fields(buf):
        if number == 13:
            is_null = bool(v)
            continue
        if member is not None:
            raise ValueError("two members of the oneof set")
        if number == 1:
            member, value = "boolean", bool(v)
        elif number == 2:
            member, value = "string", v.decode("utf-8")
        elif number == 3:
            member, value = "integer", unzigzag(v)
        elif number == 4:
            member, value = "big_integer", int(v.decode())
        elif number == 5:
            member, value = "number", struct.unpack("<d", v)[0]
        elif number == 6:
            member, value = "big_decimal", float(v.decode())
        elif number == 7:
            member, value = "date", (EPOCH + datetime.timedelta(days=unzigzag(v))).isoformat()
        elif number == 8:
            sub = {n: x for n, _, x in fields(v)}
            member = "time_with_timezone"
            value = fmt_clock(sub.get(1, 0), False)
            if sub.get(2, 0):
                value += fmt_offset(unzigzag(sub[2]))
        elif number == 9:
            member, value = "time_without_timezone", fmt_clock(v, False)
        elif number == 10:
            sub = {n: x for n, _, x in fields(v)}
            member = "timestamp_with_timezone"
            offset = unzigzag(sub.get(3, 0))
            local = unzigzag(sub.get(1, 0)) + offset
            day, sec = divmod(local, 86400)
            value = "%sT%s%s" % ((EPOCH + datetime.timedelta(days=day)).isoformat(),
                                 fmt_clock(sec * 1_000_000_000 + sub.get(2, 0), True), fmt_offset(offset))
        elif number == 11:
            sub = {n: x for n, _, x in fields(v)}
            member = "timestamp_without_timezone"
            value = "%sT%s" % ((EPOCH + datetime.timedelta(days=unzigzag(sub.get(1, 0)))).isoformat(),
                               fmt_clock(sub.get(2, 0), True))
        elif number == 12:
            member, value = "json", json.loads(v.decode("utf-8"))
        else:
            raise ValueError("unknown AirbyteValueProtobuf field %d" % number)
    if is_null:
        if member is not None:
            raise ValueError("is_null together with a value")
        return "null", None
    if member is None:
        raise ValueError("a value with no member set")
    return member, value


def allowed_members(prop):
    """The AirbyteValueProtobuf members a property's JSON schema allows (null always)."""
    types = prop.get("type", [])
    if isinstance(types, str):
        types = [types]
    types = [t for t in types if t != "null"]
    airbyte_type = prop.get("airbyte_type", "")
    fmt = prop.get("format", "")
    if "boolean" in types:
        return {"boolean"}
    if "object" in types or "array" in types:
        return {"json"}
    if "number" in types or "integer" in types:
        if airbyte_type == "integer" or "integer" in types:
            return {"integer", "big_integer"}
        return {"number", "big_decimal"}
    if fmt == "date" or airbyte_type == "date":
        return {"date"}
    if airbyte_type == "timestamp_without_timezone":
        return {"timestamp_without_timezone"}
    if fmt == "date-time" or airbyte_type == "timestamp_with_timezone":
        return {"timestamp_with_timezone"}
    if airbyte_type == "time_with_timezone":
        return {"time_with_timezone"}
    if airbyte_type == "time_without_timezone":
        return {"time_without_timezone"}
    return {"string"}


class Reader(threading.Thread):
    def __init__(self, index, path, fmt, catalog, close_after):
        super().__init__(daemon=True)
        self.index, self.path, self.fmt, self.catalog = index, path, fmt, catalog
        self.close_after = close_after
        self.allow_truncated = False
        self.messages = []  # (kind, payload) in socket order
        self.problems = []
        self.records = 0
        self.probes = 0

    def connect(self, deadline):
        while True:
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                s.connect(self.path)
                return s
            except OSError:
                s.close()
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def run(self):
        try:
            buf = bytearray()
            while True:
                chunk = self.sock.recv(1 << 16)
                if not chunk:
                    break
                buf += chunk
                consumed = self.consume(buf)
                del buf[:consumed]
                if self.close_after is not None and self.records >= self.close_after:
                    self.sock.shutdown(socket.SHUT_RDWR)
                    self.messages.append(("closed", None))
                    break
            if buf and self.close_after is None and not self.allow_truncated:
                self.problems.append("socket %d ends inside a message (%d bytes left)" % (self.index, len(buf)))
        except Exception as e:  # every decoding failure is a finding, reported with the socket
            self.problems.append("socket %d: %s: %s" % (self.index, type(e).__name__, e))
        finally:
            self.sock.close()

    def consume(self, buf):
        pos = 0
        if self.fmt == "JSONL":
            while True:
                nl = buf.find(b"\n", pos)
                if nl < 0:
                    return pos
                line = bytes(buf[pos:nl])
                pos = nl + 1
                if not line:
                    self.probes += 1
                    continue
                self.handle_json(json.loads(line.decode("utf-8")), line.decode("utf-8"))
        while pos < len(buf):
            try:
                size, start = varint(buf, pos)
            except ValueError:
                return pos  # the length itself is not complete yet
            if start + size > len(buf):
                return pos
            message = bytes(buf[start:start + size])
            pos = start + size
            parts = list(fields(message))
            if len(parts) != 1:
                raise ValueError("AirbyteMessageProtobuf with %d members" % len(parts))
            number, _, value = parts[0]
            if number == 1:
                self.handle_proto_record(value)
            elif number == 2:
                text = value.decode("utf-8")
                self.handle_json(json.loads(text), text + "\n")
            elif number == 3:
                if value:
                    raise ValueError("a probe with content")
                self.probes += 1
            else:
                raise ValueError("unknown AirbyteMessageProtobuf member %d" % number)
        return pos

    def stream_key(self, name, namespace):
        return (namespace or "") + "." + name

    def handle_json(self, msg, text):
        kind = msg.get("type")
        if kind == "RECORD":
            if self.fmt != "JSONL":
                raise ValueError("a JSON RECORD on a PROTOBUF socket")
            rec = msg["record"]
            if "partition_id" not in rec:
                raise ValueError("a record without partition_id")
            self.records += 1
            self.messages.append(("record", {
                "stream": self.stream_key(rec["stream"], rec.get("namespace")), "partition_id": rec["partition_id"],
                "data": rec["data"], "nulled": []}))
        elif kind == "STATE":
            self.messages.append(("state", {"line": text, "state": msg["state"]}))
        elif kind == "TRACE" and msg["trace"].get("type") == "STREAM_STATUS":
            st = msg["trace"]["stream_status"]
            d = st["stream_descriptor"]
            self.messages.append(("status", {"stream": self.stream_key(d["name"], d.get("namespace")),
                                             "status": st["status"]}))
        else:
            raise ValueError("unexpected message on a socket: %s" % text[:200])

    def handle_proto_record(self, buf):
        rec = {"namespace": None, "name": None, "partition_id": None, "data": [], "meta": None}
        for number, _, v in fields(buf):
            if number == 1:
                rec["namespace"] = v.decode("utf-8")
            elif number == 2:
                rec["name"] = v.decode("utf-8")
            elif number == 3:
                pass
            elif number == 4:
                rec["partition_id"] = v.decode("utf-8")
            elif number == 5:
                rec["data"].append(v)
            elif number == 6:
                rec["meta"] = v
            else:
                raise ValueError("unknown record field %d" % number)
        if not rec["partition_id"]:
            raise ValueError("a record without partition_id")
        key = self.stream_key(rec["name"], rec["namespace"])
        props = self.catalog.get(key)
        if props is None:
            raise ValueError("a record of a stream not in the catalog: %s" % key)
        names = sorted(props, key=lambda n: n.encode("utf-8"))
        if len(rec["data"]) != len(names):
            raise ValueError("%s: %d values for %d properties" % (key, len(rec["data"]), len(names)))
        data = {}
        for name, raw in zip(names, rec["data"]):
            member, value = decode_value(raw)
            if member != "null" and member not in allowed_members(props[name]):
                raise ValueError("%s.%s: member %s for schema %s" % (key, name, member, json.dumps(props[name])))
            data[name] = value
        nulled = []
        if rec["meta"] is not None:
            for number, _, change in fields(rec["meta"]):
                if number != 1:
                    raise ValueError("unknown meta field %d" % number)
                c = {n: x for n, _, x in fields(change)}
                nulled.append(c[1].decode("utf-8"))
                if c.get(2, 0) != 0 or c.get(3, 0) != 6:
                    raise ValueError("meta change other than NULLED / SOURCE_SERIALIZATION_ERROR")
        for name in nulled:
            if data.get(name, "x") is not None:
                raise ValueError("%s.%s: listed as nulled but has a value" % (key, name))
        self.records += 1
        self.messages.append(("record", {"stream": key, "partition_id": rec["partition_id"], "data": data,
                                         "nulled": nulled}))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--format", required=True, choices=["JSONL", "PROTOBUF"])
    ap.add_argument("--paths", required=True)
    ap.add_argument("--catalog", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--connect-timeout", type=float, default=30)
    ap.add_argument("--read-timeout", type=float, default=120)
    ap.add_argument("--close-socket", type=int)
    ap.add_argument("--close-after", type=int)
    ap.add_argument("--strict-counts", action="store_true")
    ap.add_argument("--allow-truncated", action="store_true",
                    help="the connector is killed: a socket may end inside a message")
    a = ap.parse_args()

    with open(a.catalog) as f:
        configured = json.load(f)
    catalog = {}
    for s in configured["streams"]:
        st = s["stream"]
        catalog[(st.get("namespace") or "") + "." + st["name"]] = st["json_schema"].get("properties", {})

    paths = a.paths.split(",")
    deadline = time.monotonic() + a.connect_timeout
    readers = []
    for i, p in enumerate(paths):
        r = Reader(i, p, a.format, catalog, a.close_after if a.close_socket == i else None)
        r.allow_truncated = a.allow_truncated
        r.sock = r.connect(deadline)
        readers.append(r)
    for r in readers:
        r.start()
    end = time.monotonic() + a.read_timeout
    for r in readers:
        r.join(max(0.0, end - time.monotonic()))
    problems = []
    for r in readers:
        if r.is_alive():
            problems.append("socket %d did not end within %s s" % (r.index, a.read_timeout))
        problems += r.problems

    # STATE checks over all sockets.
    counts = {}
    for r in readers:
        for kind, m in r.messages:
            if kind == "record":
                counts[m["partition_id"]] = counts.get(m["partition_id"], 0) + 1
    ids = {}
    for r in readers:
        seen_states = {}
        for kind, m in r.messages:
            if kind == "state":
                st = m["state"]
                d = st["stream"]["stream_descriptor"]
                key = (d.get("namespace") or "") + "." + d["name"]
                if not isinstance(st.get("id"), int) or not isinstance(st.get("partition_id"), str):
                    problems.append("a STATE without an integer id and a partition_id: " + m["line"][:200])
                    continue
                ids.setdefault(key, []).append(st["id"])
                seen_states[st["partition_id"]] = st
                expected = int(st["sourceStats"]["recordCount"])
                got = counts.get(st["partition_id"], 0)
                if (a.strict_counts and got != expected) or got > expected:
                    problems.append("%s STATE id %d: recordCount %d, %d records with its partition_id"
                                    % (key, st["id"], expected, got))
            elif kind == "record" and m["partition_id"] in seen_states:
                problems.append("socket %d: a record of partition %s after its STATE" % (r.index, m["partition_id"]))
    if a.strict_counts:
        covered = set()
        for r in readers:
            covered |= {m["state"]["partition_id"] for kind, m in r.messages if kind == "state"}
        uncovered = {p: n for p, n in counts.items() if p not in covered}
        if uncovered:
            problems.append("records no STATE covers (partition: count): %s" % uncovered)
    for key, v in ids.items():
        # A socket closed on purpose may swallow a STATE still in its buffer: then only no repeat.
        if a.strict_counts and sorted(v) != list(range(1, len(v) + 1)):
            problems.append("%s: STATE ids %s are not 1..%d" % (key, sorted(v), len(v)))
        if len(set(v)) != len(v):
            problems.append("%s: a STATE id repeats: %s" % (key, sorted(v)))

    records = states = probes = 0
    with open(a.out, "w") as out:
        for r in readers:
            probes += r.probes
            for kind, m in r.messages:
                if kind == "record":
                    records += 1
                    out.write(json.dumps({"kind": "record", "socket": r.index, "stream": m["stream"],
                                          "partition_id": m["partition_id"], "data": m["data"],
                                          "nulled": m["nulled"]}) + "\n")
                elif kind == "state":
                    states += 1
                    st = m["state"]
                    # complete: every record of its partition arrived, as a destination requires
                    # before it commits the STATE (StateStore.kt).
                    complete = counts.get(st.get("partition_id"), 0) == int(st["sourceStats"]["recordCount"])
                    out.write(json.dumps({"kind": "state", "socket": r.index, "line": m["line"].rstrip("\n"),
                                          "complete": complete}) + "\n")
                elif kind == "status":
                    out.write(json.dumps({"kind": "status", "socket": r.index, "stream": m["stream"],
                                          "status": m["status"]}) + "\n")
    print(json.dumps({"records": records, "states": states, "probes": probes, "problems": problems}))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
