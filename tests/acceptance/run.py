#!/usr/bin/env python3
"""Airbyte's connector acceptance tests (CAT, test_strictness_level: high), run here.

CAT itself needs Docker Hub and PyPI; this runner executes tests/acceptance/acceptance-test-config.yml
(CAT's format) against the built binary or the image (docker/build-image), with a 2-shard
MariaDB cluster on loopback as the source, and reports per suite:

  spec          SPEC equals integration_tests/spec.json; backward compatible with it (no property
                removed, no type changed, no new required property); the password is airbyte_secret
  connection    check answers SUCCEEDED / FAILED as each test declares
  discovery     CATALOG equals integration_tests/catalog.json (backward compatible likewise);
                primary key columns are scalars (not array/object); default cursors exist;
                every stream has supported_sync_modes
  basic_read    every record matches its stream's json_schema types; every expected record of
                expected_records.jsonl is read exactly; declared empty streams give no record,
                the others give some
  full_refresh  two sequential reads give identical records
  incremental   a second read from the first read's state gives no record (nothing changed);
                a read from future_state gives no record; every STATE is STREAM (never LEGACY)
                with sourceStats.recordCount
  stream status every configured stream: STARTED first, one COMPLETE/INCOMPLETE last (all reads)
  30 tables     the Go connector's tested scenario (28 streams in one sync, initial then
                incremental), with 30 tables: per-stream ordering and times are printed

  tests/acceptance/run.py --binary build/src/cli/source-vitess --emulator build/src/cli/vtgate-emulator
  tests/acceptance/run.py --image source-vitess:dev --emulator ...       (after docker/build-image)
  ... --update-saved   rewrite integration_tests/{spec,catalog}.json and expected_records.jsonl
                       from this run (review the diff before committing it)
Ends with "acceptance: N suites passed, M failed" and exits 1 if any failed.
"""
import argparse
import json
import os
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import mini_yaml  # noqa: E402
from harness import Cluster, Connector, Failure, check, configured_catalog  # noqa: E402

ROWS = 20  # customers; orders = 2 x ROWS (scripts/cluster --sample)
WIDE_TABLES, WIDE_ROWS = 30, 40


def load_json(path):
    with open(path) as f:
        return json.load(f)


def dump_json(path, value):
    with open(path, "w") as f:
        json.dump(value, f, indent=2, sort_keys=True, ensure_ascii=False)
        f.write("\n")


# --- Checks CAT makes, on our own outputs ----------------------------------------------------
def backward_compatible(old, new, where):
    """CAT's backward-compatibility rule for JSON schemas: nothing the previous version accepted
    or produced disappears or changes type; no new required property."""
    problems = []
    if isinstance(old, dict) and isinstance(new, dict):
        if "type" in old and old.get("type") != new.get("type"):
            old_t, new_t = old.get("type"), new.get("type")
            old_t = set(old_t if isinstance(old_t, list) else [old_t])
            new_t = set(new_t if isinstance(new_t, list) else [new_t or ""])
            if not old_t <= new_t:
                problems.append(f"{where}: type {sorted(old_t)} narrowed to {sorted(new_t)}")
        for k in set(new.get("required", [])) - set(old.get("required", [])) if isinstance(new.get("required"), list) else ():
            problems.append(f"{where}: new required property {k}")
        for k, v in (old.get("properties") or {}).items():
            if k not in (new.get("properties") or {}):
                problems.append(f"{where}: property {k} removed")
            else:
                problems += backward_compatible(v, new["properties"][k], f"{where}.{k}")
    return problems


def json_type_ok(value, types):
    types = types if isinstance(types, list) else [types]
    kinds = {type(None): "null", bool: "boolean", int: "integer", float: "number", str: "string",
             list: "array", dict: "object"}
    kind = kinds.get(type(value))
    return kind in types or (kind == "integer" and "number" in types)


def check_record_types(run, catalog):
    schemas = {s["stream"]["name"]: s["stream"]["json_schema"]["properties"] for s in catalog["streams"]}
    for r in run.records():
        props = schemas[r["stream"]]
        for k, v in r["data"].items():
            check(k in props, f"{r['stream']}: field {k} is not in the stream's json_schema")
            check(json_type_ok(v, props[k].get("type", [])),
                  f"{r['stream']}.{k} = {v!r} does not match type {props[k].get('type')}")


def check_statuses(run, catalog):
    """Every configured stream: STARTED first, exactly one terminal status, last."""
    for s in catalog["streams"]:
        name = s["stream"]["name"]
        seq = [st for n, st in run.statuses() if n == name]
        check(seq[:1] == ["STARTED"], f"{name}: first status {seq[:1]}, expected STARTED")
        terminal = [st for st in seq if st in ("COMPLETE", "INCOMPLETE")]
        check(len(terminal) == 1 and seq[-1] in ("COMPLETE", "INCOMPLETE"),
              f"{name}: statuses {seq}, expected one COMPLETE/INCOMPLETE last")


def check_states(run):
    for st in run.states():
        check(st.get("type") == "STREAM", f"a STATE of type {st.get('type')}, expected STREAM")
        check(isinstance((st.get("sourceStats") or {}).get("recordCount"), (int, float)),
              f"a STATE without sourceStats.recordCount: {json.dumps(st)[:200]}")


def records_by_stream(run):
    out = {}
    for r in run.records():
        out.setdefault(r["stream"], []).append(json.dumps(r["data"], sort_keys=True))
    return {k: sorted(v) for k, v in out.items()}


def read_ok(run, catalog, what):
    check(run.code == 0 and not run.errors(),
          f"{what}: exit {run.code}, errors {[e.get('message') for e in run.errors()]}: {run.err[-300:]}")
    check_statuses(run, catalog)
    check_states(run)


# --- The suites -------------------------------------------------------------------------------
def wait_for_table(connector, configs, table, limit=20.0):
    """The emulators learn of a table created after they started from the DDL in the binlog, a
    moment later: wait (bounded) until a read of it succeeds through every emulator."""
    for config in configs:
        catalog = {"streams": [{"stream": {"name": table, "namespace": config["database"], "json_schema": {}},
                                "sync_mode": "full_refresh", "destination_sync_mode": "overwrite"}]}
        deadline = time.monotonic() + limit
        while True:
            r = connector.run("read", config=config, catalog=catalog, timeout=30)
            if r.code == 0:
                break
            check(time.monotonic() < deadline, f"{table} is still unknown to vtgate after {limit} s: {r.errors()}")
            time.sleep(0.2)


class Acceptance:
    def __init__(self, connector, cluster, secrets, update):
        self.c, self.cluster, self.secrets, self.update = connector, cluster, secrets, update

    def path(self, rel):
        return os.path.join(self.secrets if rel.startswith("secrets/") else HERE, rel)

    def spec(self, t):
        r = self.c.run("spec")
        check(r.code == 0 and [m["type"] for m in r.messages] == ["SPEC"], f"exit {r.code}: {r.messages[:1]}")
        spec = r.messages[0]["spec"]
        if self.update:
            dump_json(self.path(t["spec_path"]), spec)
        saved = load_json(self.path(t["spec_path"]))
        problems = backward_compatible(saved["connectionSpecification"], spec["connectionSpecification"], "spec")
        check(not problems, "; ".join(problems))
        check(spec == saved, f"SPEC differs from {t['spec_path']} (compatible; refresh it with --update-saved)")
        props = spec["connectionSpecification"]["properties"]
        check(props.get("password", {}).get("airbyte_secret") is True, "password is not airbyte_secret")
        return f"{len(props)} properties, equal to the saved spec"

    def connection(self, t):
        r = self.c.run("check", config=load_json(self.path(t["config_path"])))
        check(r.code == 0 and [m["type"] for m in r.messages] == ["CONNECTION_STATUS"], f"exit {r.code}: {r.err[-200:]}")
        status = r.messages[0]["connectionStatus"]
        want = {"succeed": "SUCCEEDED", "failed": "FAILED"}[t["status"]]
        check(status["status"] == want, f"{t['config_path']}: {status}, expected {want}")
        return f"{t['config_path']}: {want}"

    def discovery(self, t):
        r = self.c.run("discover", config=load_json(self.path(t["config_path"])))
        check(r.code == 0 and [m["type"] for m in r.messages] == ["CATALOG"], f"exit {r.code}: {r.err[-200:]}")
        catalog = r.messages[0]["catalog"]
        for s in catalog["streams"]:
            props = s["json_schema"]["properties"]
            for pk in s.get("source_defined_primary_key", []):
                types = props.get(pk[0], {}).get("type", [])
                check(pk[0] in props and not {"array", "object"} & set(types if isinstance(types, list) else [types]),
                      f"{s['name']}: primary key {pk} is {types}, must be a scalar")
            for cursor in s.get("default_cursor_field", []) or []:
                check(cursor in props, f"{s['name']}: default cursor {cursor} is not a column")
            check(s.get("supported_sync_modes"), f"{s['name']}: no supported_sync_modes")
        path = self.path(t["expected_catalog_path"])
        if self.update:
            dump_json(path, catalog)
        saved = load_json(path)
        saved_streams = {s["name"]: s for s in saved["streams"]}
        new_streams = {s["name"]: s for s in catalog["streams"]}
        problems = [f"stream {n} removed" for n in saved_streams if n not in new_streams]
        for n, s in saved_streams.items():
            if n in new_streams:
                problems += backward_compatible(s["json_schema"], new_streams[n]["json_schema"], n)
        check(not problems, "; ".join(problems))
        check(catalog == saved, f"CATALOG differs from {t['expected_catalog_path']} (compatible; --update-saved)")
        self.catalog = catalog
        return f"{len(catalog['streams'])} streams equal to the saved catalog, primary keys scalar"

    def basic_read(self, t):
        catalog = load_json(self.path(t["configured_catalog_path"]))
        r = self.c.run("read", config=load_json(self.path(t["config_path"])), catalog=catalog)
        read_ok(r, catalog, "read")
        check_record_types(r, catalog)
        got = records_by_stream(r)
        empty = {e["name"] for e in t.get("empty_streams") or []}
        for s in catalog["streams"]:
            n = s["stream"]["name"]
            if n in empty:
                check(not got.get(n), f"{n} is declared empty but gave {len(got.get(n, []))} records")
            else:
                check(got.get(n), f"{n} gave no records and is not declared in empty_streams")
        path = self.path(t["expect_records"]["path"])
        if self.update:
            with open(path, "w") as f:
                for n in sorted(got):
                    for d in got[n]:
                        f.write(json.dumps({"stream": n, "data": json.loads(d)}, sort_keys=True, ensure_ascii=False) + "\n")
        expected = [json.loads(line) for line in open(path) if line.strip()]
        have = {n: set(v) for n, v in got.items()}
        missing = [e for e in expected if json.dumps(e["data"], sort_keys=True) not in have.get(e["stream"], set())]
        check(not missing, f"{len(missing)} expected records not read, first: {json.dumps(missing[:1])[:300]}")
        total = sum(len(v) for v in got.values())
        return f"{total} records, all {len(expected)} expected ones exactly, {len(empty)} empty stream(s) ({r.seconds:.1f} s)"

    def full_refresh(self, t):
        catalog = load_json(self.path(t["configured_catalog_path"]))
        config = load_json(self.path(t["config_path"]))
        first = self.c.run("read", config=config, catalog=catalog)
        read_ok(first, catalog, "first read")
        second = self.c.run("read", config=config, catalog=catalog)
        read_ok(second, catalog, "second read")
        a, b = records_by_stream(first), records_by_stream(second)
        check(a == b, "the two full-refresh reads differ: " + ", ".join(
            f"{n}: {len(a.get(n, []))} vs {len(b.get(n, []))}" for n in sorted(set(a) | set(b))))
        return f"two reads, {sum(len(v) for v in a.values())} identical records each"

    def incremental(self, t):
        catalog = load_json(self.path(t["configured_catalog_path"]))
        config = load_json(self.path(t["config_path"]))
        first = self.c.run("read", config=config, catalog=catalog)
        read_ok(first, catalog, "first read")
        check(first.records(), "the first incremental read gave no records")
        second = self.c.run("read", config=config, catalog=catalog, state=first.last_states())
        read_ok(second, catalog, "second read")
        check(not second.records(), f"the second read gave {len(second.records())} records, nothing changed")
        check(len(second.last_states()) == len(catalog["streams"]), "the second read did not confirm every stream's state")
        future_path = self.path(t["future_state"]["future_state_path"])
        if self.update:
            dump_json(future_path, first.last_states())
        future = load_json(future_path)
        third = self.c.run("read", config=config, catalog=catalog, state=future)
        read_ok(third, catalog, "read from future_state")
        check(not third.records(), f"the read from future_state gave {len(third.records())} records")
        return (f"{len(first.records())} then 0 records, future_state 0 records, "
                f"{len(first.states()) + len(second.states()) + len(third.states())} STREAM states with sourceStats")

    def wide(self):
        """30 tables in one sync: initial, then incremental after one INSERT per table."""
        cl = self.cluster
        for i in range(1, WIDE_TABLES + 1):
            cl.sql(f"CREATE TABLE wide_{i:02d} (id BIGINT PRIMARY KEY, v VARCHAR(32) NOT NULL)")
        for i in range(1, WIDE_TABLES + 1):
            for s in cl.shards:
                ids = [k for k in range(1, WIDE_ROWS + 1) if cl.shard_of(k) is s]
                values = ",".join(f"({k}, 'row {k} of {i}')" for k in ids)
                cl.sql(f"INSERT INTO wide_{i:02d} VALUES {values}", ids[0])
        config = load_json(self.path("secrets/config.json"))
        d = self.c.run("discover", config=config)
        check(d.code == 0, f"discover: exit {d.code}")
        streams = [s for s in d.messages[0]["catalog"]["streams"] if s["name"].startswith("wide_")]
        check(len(streams) == WIDE_TABLES, f"discover found {len(streams)} wide_ tables")
        catalog = configured_catalog({"streams": streams}, "incremental")
        first = self.c.run("read", config=config, catalog=catalog)
        read_ok(first, catalog, "initial read")
        got = records_by_stream(first)
        for s in streams:
            ids = sorted(json.loads(x)["id"] for x in got.get(s["name"], []))
            check(ids == list(range(1, WIDE_ROWS + 1)), f"{s['name']}: ids {ids[:5]}..., expected 1..{WIDE_ROWS} once each")
        order = self.ordering(first)
        for i in range(1, WIDE_TABLES + 1):
            cl.sql(f"INSERT INTO wide_{i:02d} VALUES ({WIDE_ROWS + 1}, 'new')", WIDE_ROWS + 1)
        second = self.c.run("read", config=config, catalog=catalog, state=first.last_states())
        read_ok(second, catalog, "incremental read")
        got2 = sorted((r["stream"], r["data"]["id"]) for r in second.records())
        check(got2 == [(f"wide_{i:02d}", WIDE_ROWS + 1) for i in range(1, WIDE_TABLES + 1)],
              f"incremental: {got2[:4]}..., expected one new row per table")
        return (f"initial {len(first.records())} records in {first.seconds:.1f} s, incremental {len(second.records())} "
                f"records in {second.seconds:.1f} s; ordering: {order}")

    @staticmethod
    def ordering(run):
        """How the streams interleave in one sync: the first and last message index of each."""
        span = {}
        for i, m in enumerate(run.messages):
            name = (m.get("record") or {}).get("stream") or \
                   ((m.get("trace") or {}).get("stream_status") or {}).get("stream_descriptor", {}).get("name") or \
                   ((m.get("state") or {}).get("stream") or {}).get("stream_descriptor", {}).get("name")
            if name:
                lo, _ = span.get(name, (i, i))
                span[name] = (lo, i)
        started = [n for n, s in run.statuses() if s == "STARTED"]
        complete = [n for n, s in run.statuses() if s == "COMPLETE"]
        overlapping = sum(1 for a in span for b in span if a < b and span[a][0] < span[b][1] and span[b][0] < span[a][1])
        return (f"STARTED order {','.join(n[-2:] for n in started)}; COMPLETE order {','.join(n[-2:] for n in complete)}; "
                f"{overlapping} overlapping stream pairs of {len(span) * (len(span) - 1) // 2}")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--binary")
    ap.add_argument("--image")
    ap.add_argument("--emulator", required=True)
    ap.add_argument("--update-saved", action="store_true")
    ap.add_argument("--skip-wide", action="store_true", help="leave out the 30-table case")
    a = ap.parse_args()
    if bool(a.image) == bool(a.binary):
        ap.error("give exactly one of --image, --binary")
    connector = Connector(binary=a.binary, image=a.image)
    config = mini_yaml.loads(open(os.path.join(HERE, "acceptance-test-config.yml")).read())
    t0 = time.monotonic()
    print(f"acceptance: {connector.name}, test_strictness_level {config['test_strictness_level']}", flush=True)
    cluster = Cluster(a.emulator, shards=2, rows=ROWS, tls=True)
    passed = failed = 0
    try:
        cluster.sql("CREATE TABLE empty_table (id BIGINT PRIMARY KEY, note VARCHAR(16))")
        secrets = tempfile.mkdtemp(prefix="source-vitess-secrets-", dir=cluster.work)
        os.mkdir(os.path.join(secrets, "secrets"))
        dump_json(os.path.join(secrets, "secrets/config.json"), cluster.plain_config)
        dump_json(os.path.join(secrets, "secrets/config_tls.json"), cluster.tls_config)
        acc = Acceptance(connector, cluster, secrets, a.update_saved)
        wait_for_table(connector, [c for c in (cluster.plain_config, cluster.tls_config) if c], "empty_table")
        suites = list(config["acceptance_tests"].items())
        if not a.skip_wide:
            suites.append(("30 tables", {"tests": [None]}))
        for suite, body in suites:
            start, notes, ok = time.monotonic(), [], True
            for t in body["tests"]:
                try:
                    notes.append(acc.wide() if t is None else getattr(acc, suite)(t))
                except Exception as e:  # a Failure, or a check that could not run
                    ok = False
                    notes.append(f"FAIL {type(e).__name__ if not isinstance(e, Failure) else ''}{e}")
            passed, failed = passed + ok, failed + (not ok)
            print(f"[{time.monotonic() - t0:5.0f}s] {suite}: {'PASS' if ok else 'FAIL'} ({time.monotonic() - start:.1f} s)",
                  flush=True)
            for n in notes:
                print(f"        {n}", flush=True)
    finally:
        cluster.down()
    print(f"acceptance: {passed} suites passed, {failed} failed ({time.monotonic() - t0:.0f} s)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
