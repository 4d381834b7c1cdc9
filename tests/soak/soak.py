#!/usr/bin/env python3
"""A randomized fault soak (issue 19): a write load on a MariaDB-backed cluster, repeated
incremental syncs under injected faults, every output applied to a model Airbyte destination
(append + dedup by primary key), and at the end a row-by-row comparison with the source tables.

  tests/soak/soak.py --binary build/src/cli/source-vitess --emulator build/src/cli/vtgate-emulator \\
      --validator build/tests/validate-read [--seconds 60] [--seed N] [--shards 2] [--tables 3] \\
      [--report FILE] [--keep]
  tests/soak/soak.py --backend synthetic --binary ... --emulator ... --validator ... [--rows 3000] [--seed N]
  tests/soak/soak.py --peek-cancel 1000 --binary build-asan/src/cli/source-vitess --emulator ... [--seed N]

Soak: starts its own cluster (scripts/cluster, free loopback ports, a temporary directory), creates
--tables tables soak_t1.. on every shard, and for --seconds: a writer thread runs inserts, updates,
deletes (some in multi-statement transactions) and now and then an ALTER TABLE ... ADD COLUMN; the
main loop runs incremental syncs of all tables, each from the state the previous ones printed
(the last STATE per stream, as the platform keeps it), each with one fault chosen from the seed:
every emulator fault kind (stream end after N events with each end mode, failing new streams,
ending the active streams mid-sync, a stall past idle_timeout_seconds, a stall after N events, a
slow shard) and SIGKILL / SIGTERM of the connector at a random moment. Then the load stops and
fault-free syncs run from the saved state, as Airbyte's next syncs would, until one reaches the end
of the sync on every shard (exit 0, every stream COMPLETE, no shard stopped by timeout_seconds; at
most CATCH_UP_SYNCS syncs within CATCH_UP_SECONDS); only then the model destination must equal the
source tables: same rows, same values, no row the source deleted. Every output goes through the project's protocol validator
(tests/support, as the program validate-read).

The model destination applies what Airbyte commits: per stream, the records before the stream's
last STATE of an attempt (records after it are re-read by the next attempt). A record is the same
change as another when table, id, ver (a column every write sets from a global counter) and the
delete flag agree. docs/state.md allows a change to arrive twice only when its first copy came
after the last STATE of an interrupted attempt; any other repeat is a failure.

Synthetic backend (--backend synthetic [--rows R]): the same soak against the emulator's own
dataset (no MariaDB; tables customers, order_items, all_types), its timed write load (POST /rate)
and DDLs (POST /ddl), with one more fault kind: a reshard (POST /reshard) to a fresh set of 2-5
shards, a split, merge or move, during or right after a sync, and one from the load thread at a
seeded moment so every run has one. The source of truth at the end is a fresh full_refresh read of
every table by the connector (the copy path, checked against the dataset by tests/e2e and
tests/emulator): the destination must equal it row by row. --drop-one-delete checks the checker.

Peek-cancel: N times, starts `read` against an emulator whose streams are stalled (the start-up
position peek is in flight in gRPC) or a healthy one, sends SIGTERM at a random moment after the
stream's STARTED line, and checks the exit (code 1, no crash, no sanitizer report): the pattern
behind the rare gRPC abort in ref_counted.h (commit 3e849cb).

Exit 0 = no difference, no forbidden duplicate, no protocol problem, no unexpected error.
Python standard library only.
"""
import argparse
import glob
import hashlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(REPO, "tests", "acceptance"))
from harness import Cluster, Connector  # noqa: E402
from run import wait_for_table  # noqa: E402

# The synthetic dataset's tables and their primary keys (src/emulator/dataset.hpp).
SYNTHETIC_TABLES = {"customers": [["id"]], "order_items": [["order_id"], ["line"]], "all_types": [["id"]]}
# Synthetic backend: the copy's packets (rows per VGTID with lastpk) stay below the smallest
# end_after budget (20 events), so a copy cut by end_after still saves progress each attempt; with
# the emulator's default (64 KiB, hundreds of rows) every cut came before the first lastpk and the
# copy could not advance within a sync.
COPY_PACKET_BYTES = 1500
END_MODES = ["eof", "unavailable", "deadline_exceeded", "internal", "drop"]
IDLE_TIMEOUT = 3  # idle_timeout_seconds of the soak's config: stalls last longer than this
FINAL_RESERVE = 8  # seconds kept for the end: stop the load, the last sync, the comparison
SYNC_LIMIT = 120  # seconds one sync may take before the soak calls it hung
CATCH_UP_SYNCS = 10  # after the load: fault-free syncs until one reaches the end on every shard
CATCH_UP_SECONDS = 600  # no catch-up sync starts after this many seconds of catching up
# The connector's warning when a shard used up timeout_seconds (src/engine/stream.cpp): the stream
# still ends COMPLETE at its last saved position and the next sync continues from there.
TIME_LIMIT_MARK = "was read for timeout_seconds"
# The connector's warning when a reshard met a table copy: the copy starts again on the new shards
# and rows already sent are sent again (docs/state.md, "A reshard in the middle of a table copy").
RECOPY_MARK = "was being copied; the copy starts again on the new shards"
SANITIZER_MARKS = ("ERROR: AddressSanitizer", "WARNING: ThreadSanitizer", "ERROR: LeakSanitizer", "runtime error:",
                   "ref_counted", "Assertion", "SIGSEGV", "Segmentation fault")


class Interrupted(Exception):
    pass


def on_signal(signum, _frame):
    raise Interrupted(f"signal {signum}")


def log(msg):
    print(f"soak: {msg}", file=sys.stderr, flush=True)


# --- The write load ---------------------------------------------------------------------------
class Writer(threading.Thread):
    """Inserts, updates and deletes on soak_t*, routed by the cluster's md5 sharding, through one
    long-lived `mariadb` client per shard (statements piped in order). Every insert and update sets
    ver from one counter, so each change of a row is identifiable in the connector's output."""

    def __init__(self, cluster, tables, seed, rate, deadline):
        super().__init__(daemon=True)
        self.cluster, self.tables, self.rnd, self.rate, self.deadline = cluster, tables, random.Random(seed), rate, deadline
        self.stop_event = threading.Event()
        self.live = {t: [] for t in tables}  # ids that exist, per table
        self.next_id, self.ver = 1, 0
        self.counts = {"insert": 0, "update": 0, "delete": 0, "ddl": 0, "transactions": 0}
        self.ddl_columns = {t: 0 for t in tables}
        self.error = None
        self.clients = {}
        for s in cluster.shards:
            self.clients[s["shard"]] = subprocess.Popen(
                ["mariadb", "--no-defaults", "-h127.0.0.1", f"-P{s['port']}", f"-u{s['user']}", "--batch",
                 "--default-character-set=utf8mb4", s["database"]],
                stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                env=dict(os.environ, MYSQL_PWD=s["password"]), start_new_session=True)

    def send(self, shard, sql):
        self.clients[shard].stdin.write(sql + "\n")

    def value(self):
        # Letters, digits, a space and non-ASCII; never a tab, newline or backslash (mariadb --batch
        # escapes those) and never the text NULL.
        return "".join(self.rnd.choice("abcxyz019 äöß€") for _ in range(self.rnd.randint(0, 12)))

    def op(self, table, shard_filter=None):
        """One statement for a random row; returns (shard, sql) or None."""
        live = self.live[table]
        kind = self.rnd.choices(["insert", "update", "delete"], [5, 4, 2])[0]
        if kind != "insert" and not live:
            kind = "insert"
        self.ver += 1
        if kind == "insert":
            pk = self.next_id
            self.next_id += 1
            shard = self.cluster.shard_of(pk)["shard"]
            if shard_filter and shard != shard_filter:
                self.next_id -= 1
                return None
            live.append(pk)
            v = "NULL" if self.rnd.random() < 0.1 else str(self.rnd.randint(-1000, 1000))
            sql = f"INSERT INTO {table} (id, ver, v, s) VALUES ({pk}, {self.ver}, {v}, '{self.value()}');"
        else:
            i = self.rnd.randrange(len(live))
            pk = live[i]
            shard = self.cluster.shard_of(pk)["shard"]
            if shard_filter and shard != shard_filter:
                return None
            if kind == "update":
                sql = f"UPDATE {table} SET ver = {self.ver}, v = {self.rnd.randint(-1000, 1000)}, s = '{self.value()}' WHERE id = {pk};"
            else:
                live[i] = live[-1]
                live.pop()
                sql = f"DELETE FROM {table} WHERE id = {pk};"
        self.counts[kind] += 1
        return shard, sql

    def run(self):
        try:
            next_ddl = time.monotonic() + self.rnd.uniform(5, 20)
            for _ in range(10_000_000):  # bounded; the deadline or stop() ends it first
                if self.stop_event.is_set() or time.monotonic() > self.deadline:
                    break
                table = self.rnd.choice(self.tables)
                if time.monotonic() > next_ddl:
                    self.ddl_columns[table] += 1
                    for shard in self.clients:
                        self.send(shard, f"ALTER TABLE {table} ADD COLUMN x{self.ddl_columns[table]} INT NULL;")
                    self.counts["ddl"] += 1
                    next_ddl = time.monotonic() + self.rnd.uniform(10, 30)
                elif self.rnd.random() < 0.2:
                    # A transaction of 2-4 changes on one shard (and maybe two tables).
                    shard = self.rnd.choice(list(self.clients))
                    stmts = [self.op(self.rnd.choice(self.tables), shard) for _ in range(self.rnd.randint(2, 6))]
                    stmts = [s[1] for s in stmts if s]
                    if stmts:
                        self.send(shard, "BEGIN; " + " ".join(stmts) + " COMMIT;")
                        self.counts["transactions"] += 1
                else:
                    got = self.op(table)
                    if got:
                        self.send(*got)
                for c in self.clients.values():
                    c.stdin.flush()
                time.sleep(self.rnd.expovariate(self.rate))
        except Exception as e:  # reported by finish(); the soak fails
            self.error = f"writer: {e!r}"

    def finish(self, limit=60):
        """Stops the load and waits until every piped statement is committed."""
        self.stop_event.set()
        self.join(timeout=10)
        problems = [self.error] if self.error else []
        for shard, c in self.clients.items():
            try:
                c.stdin.close()
            except OSError:
                pass
            try:
                c.wait(timeout=limit)
                err = c.stderr.read().strip()
                if c.returncode != 0 or err:
                    problems.append(f"mariadb client of shard {shard}: exit {c.returncode}: {err[-300:]}")
            except subprocess.TimeoutExpired:
                c.kill()
                problems.append(f"mariadb client of shard {shard} did not finish in {limit} s")
        return problems

    def kill(self):
        self.stop_event.set()
        for c in self.clients.values():
            if c.poll() is None:
                c.kill()
                c.wait()


class SyntheticLoad(threading.Thread):
    """The write load of the synthetic backend (--backend synthetic): the emulator's own timed load
    (POST /rate), an ALTER TABLE (POST /ddl) every 10-30 s, and the load stopped (rate 0) at the
    deadline. The synthetic dataset decides each op (docs: src/emulator/dataset.hpp): per table,
    the j-th op is an insert, an update, then an update or a delete in turn; every op is its own
    transaction on the shard that owns the row when it runs."""

    def __init__(self, soak, seed, rate, deadline):
        super().__init__(daemon=True)
        self.soak, self.rnd, self.rate, self.deadline = soak, random.Random(seed), rate, deadline
        # A reshard at a seeded moment between 15 % and 40 % of the load, whatever the syncs do then
        # (unless one came already): a run always has one, even when a long sync (timeout_seconds)
        # spans that part of the load.
        now = time.monotonic()
        self.first_reshard_at = now + self.rnd.uniform(0.15, 0.4) * max(0.0, deadline - now)
        self.stop_event = threading.Event()
        self.ddls = 0
        self.error = None
        self.counts = {}

    def run(self):
        try:
            self.soak.control(f"/rate?ops_per_second={self.rate}")
            next_ddl = time.monotonic() + self.rnd.uniform(5, 20)
            while not self.stop_event.wait(0.1):  # bounded by the deadline
                if time.monotonic() > self.deadline:
                    break
                if self.first_reshard_at and time.monotonic() > self.first_reshard_at:
                    self.first_reshard_at = None
                    if not self.soak.reshards:
                        label = self.soak.reshard(self.soak.syncs["attempts"], self.soak.proc is not None, self.rnd)
                        self.soak.count_fault(label)
                if time.monotonic() > next_ddl:
                    code, body = self.soak.control(f"/ddl?table={self.rnd.choice(self.soak.tables)}")
                    if code != 200:
                        raise RuntimeError(f"/ddl answered {code}: {body.strip()}")
                    self.ddls += 1
                    next_ddl = time.monotonic() + self.rnd.uniform(10, 30)
        except Exception as e:  # reported by finish(); the soak fails
            self.error = f"synthetic load: {e!r}"
        finally:
            self.soak.control("/rate?ops_per_second=0")

    def finish(self, limit=60):
        """Stops the load; counts the ops the emulator applied, by kind (the dataset's rule)."""
        self.stop_event.set()
        self.join(timeout=limit)
        problems = [self.error] if self.error else []
        code, body = self.soak.control("/rate?ops_per_second=0")
        if code != 200:
            problems.append(f"/rate?ops_per_second=0 answered {code}: {body.strip()}")
        ops = self.soak.status()["ops_done"]
        tables = len(self.soak.tables)
        counts = {"insert": 0, "update": 0, "delete": 0}
        for g in range(1, ops + 1):
            j = (g - 1) // tables + 1
            m, phase = (j - 1) // 3, (j - 1) % 3
            counts["insert" if phase == 0 else "update" if phase == 1 or m % 2 == 0 else "delete"] += 1
        self.counts = dict(counts, ddl=self.ddls, ops=ops)
        return problems

    def kill(self):
        self.stop_event.set()


# --- The model destination --------------------------------------------------------------------
class Destination:
    """Airbyte append_dedup by primary key: per stream, the latest record of each id wins (output
    order; later syncs after earlier ones); `_ab_cdc_deleted_at` non-null removes the row."""

    def __init__(self, pk_of=lambda stream, data: data.get("id"), version_of=lambda data: data.get("ver")):
        # pk_of: the row's primary key; version_of: what tells one change of a row from another
        # (the MariaDB load's ver column; the synthetic rows' values, which every op changes).
        self.pk_of, self.version_of = pk_of, version_of
        self.rows = {}  # stream -> primary key -> data
        self.committed_keys, self.tail_keys = set(), set()
        self.records = self.applied = 0
        self.drop_one_delete = False  # --drop-one-delete: a check of the checker (the run must fail)
        self.dropped = None
        self.dups_allowed = self.dups_forbidden = 0
        self.dups_recopy = 0  # sent again by a copy restarted after a reshard (state.md): allowed
        self.forbidden_examples = []

    def reset(self, stream):
        """A cleared stream: no rows, and no record of it counts as a duplicate any more."""
        self.rows[stream] = {}
        self.committed_keys = {k for k in self.committed_keys if k[0] != stream}
        self.tail_keys = {k for k in self.tail_keys if k[0] != stream}

    def take(self, attempt, records_by_stream, committed_upto, recopy_at=None):
        """records_by_stream: stream -> [(output index, data)]; committed_upto: stream -> index of its
        last STATE (records before it are committed); recopy_at: stream -> index of the connector's
        warning that a reshard met its copy, which starts again on the new shards: from there on, a
        row already sent may come again (state.md, "A reshard in the middle of a table copy")."""
        recopy_at = recopy_at or {}
        this_attempt = set()
        for stream, recs in records_by_stream.items():
            last_state = committed_upto.get(stream, -1)
            table = self.rows.setdefault(stream, {})
            for index, data in recs:
                self.records += 1
                pk = self.pk_of(stream, data)
                key = (stream, pk, self.version_of(data), data.get("_ab_cdc_deleted_at") is not None)
                repeat = key in this_attempt or key in self.committed_keys
                if repeat and stream in recopy_at and index > recopy_at[stream]:
                    self.dups_recopy += 1
                elif repeat:
                    self.dups_forbidden += 1
                    if len(self.forbidden_examples) < 10:
                        where = "twice in one attempt" if key in this_attempt else "again after a committed copy"
                        self.forbidden_examples.append(f"attempt {attempt}: {key} {where}")
                elif key in self.tail_keys:
                    self.dups_allowed += 1
                this_attempt.add(key)
                if index < last_state and self.drop_one_delete and self.dropped is None and key[3]:
                    self.dropped = key  # as if the destination never got this delete
                    log(f"--drop-one-delete: left out {key[:2]} of attempt {attempt}")
                    continue
                if index < last_state:
                    self.committed_keys.add(key)
                    self.applied += 1
                    if data.get("_ab_cdc_deleted_at") is not None:
                        table.pop(pk, None)
                    else:
                        table[pk] = data
                else:
                    self.tail_keys.add(key)


def only_logs(out_path):
    """True when an output holds nothing but complete LOG messages (no RECORD, STATE or TRACE)."""
    with open(out_path, "rb") as f:
        text = f.read().decode("utf-8", errors="replace")
    for line in text.split("\n"):
        if line.strip() and not line.startswith('{"type":"LOG"'):
            return False
    return True


# --- One sync ---------------------------------------------------------------------------------
class Soak:
    def __init__(self, args):
        self.args = args
        self.rnd = random.Random(args.seed)
        self.work = tempfile.mkdtemp(prefix="source-vitess-soak-")
        self.synthetic = args.backend == "synthetic"
        if self.synthetic:
            # The synthetic dataset's fixed tables (src/emulator/dataset.hpp), the first --tables.
            self.tables = list(SYNTHETIC_TABLES)[:args.tables]
        else:
            self.tables = [f"soak_t{i}" for i in range(1, args.tables + 1)]
        self.cluster = self.writer = self.proc = self.emulator = None
        self.state = {}  # stream -> last STATE message's state, as the platform keeps it
        self.pks = {}  # stream -> its primary key's field paths (the configured catalog's)
        self.dest = Destination(self.pk_of, self.version_of) if self.synthetic else Destination()
        self.dest.drop_one_delete = args.drop_one_delete
        self.reshards = []  # synthetic backend: every reshard injected (attempt, from, to, mid-sync)
        self.used_shard_names = set()
        self.lock = threading.Lock()  # the load thread injects the first reshard
        self.faults = {}
        self.syncs = {"attempts": 0, "complete": 0, "incomplete": 0, "killed": 0, "terminated": 0,
                      "terminated_before_handler": 0, "terminated_after_sync": 0, "ended_by_time_limit": 0,
                      "catch_up": 0}
        self.last_sync_reached_end = False  # exit 0, every stream COMPLETE, no shard stopped by timeout_seconds
        self.errors = {}  # failure_type: message -> count
        self.problems = []  # protocol problems and unexpected outcomes: each fails the soak
        self.timings = {}
        self.reshard_note = "not probed"
        self.rows_in_source = None  # set by the comparison (synthetic) or counted in the source
        self.typical_sync_seconds = 1.0
        self.t_start = time.monotonic()

    # The emulator's HTTP control API.
    def control(self, path):
        req = urllib.request.Request(f"http://127.0.0.1:{self.control_port}{path}", method="POST", data=b"")
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                return r.status, r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode()

    def pk_of(self, stream, data):
        return tuple(data.get(path[0]) for path in self.pks[stream])

    @staticmethod
    def version_of(data):
        # The synthetic rows have no version column; every op changes a row's values (a new
        # generation) and no key is inserted twice, so the values tell its changes apart.
        return json.dumps({k: v for k, v in data.items() if not k.startswith("_ab_")}, sort_keys=True)

    def validator_flags(self):
        # The synthetic catalog declares no columns (every column is emitted): nothing to check
        # the record columns against; the rest of the protocol is checked as in the MariaDB mode.
        return ["--allow-extra-columns"] if self.synthetic else []

    def status(self):
        with urllib.request.urlopen(f"http://127.0.0.1:{self.control_port}/status", timeout=10) as r:
            return json.loads(r.read().decode())

    def serving_shards(self):
        if not self.synthetic:
            return [s["shard"] for s in self.cluster.shards]
        return [s.split("/", 1)[1] for s in self.status()["shards"]]

    def start_synthetic(self):
        """The synthetic vtgate-emulator (no MariaDB): --tables of its dataset with --rows rows each
        on --shards shards, free loopback ports (--port-file)."""
        ports = os.path.join(self.work, "emulator.ports")
        self.emulator_log = os.path.join(self.work, "emulator.log")
        with open(self.emulator_log, "w") as log_file:
            self.emulator = subprocess.Popen(
                [os.path.abspath(self.args.emulator), f"--shards={self.args.shards}", f"--tables={','.join(self.tables)}",
                 f"--rows={self.args.rows}", f"--copy-packet-bytes={COPY_PACKET_BYTES}", f"--port-file={ports}",
                 "--log-level=warn"],
                stdout=subprocess.DEVNULL, stderr=log_file, start_new_session=True)
        for _ in range(300):  # 30 s at most
            if os.path.exists(ports) and "}" in open(ports).read():
                break
            if self.emulator.poll() is not None:
                raise RuntimeError(f"vtgate-emulator exited ({self.emulator.returncode}); see {self.emulator_log}")
            time.sleep(0.1)
        else:
            raise RuntimeError("vtgate-emulator did not write its port file in 30 s")
        pj = json.load(open(ports))
        self.control_port = pj["control_port"]
        self.used_shard_names.update(self.serving_shards())
        return {"host": "127.0.0.1", "database": "commerce", "username": "soak", "password": "",
                "grpc_port": pj["grpc_port"], "tls_mode": "disabled"}

    def start(self):
        t0 = time.monotonic()
        if self.synthetic:
            base = self.start_synthetic()
        else:
            base = self.start_mariadb()
        self.config = dict(base, idle_timeout_seconds=IDLE_TIMEOUT, max_retries=10,
                           timeout_seconds=40, checkpoint_interval_records=self.rnd.choice([5, 50, 500]),
                           checkpoint_interval_seconds=1, use_gtid_with_table_pks=True)
        self.config_path = self.write("config.json", self.config)
        if not self.synthetic:
            # The emulator learns of the new tables from the binlog a moment later (bounded wait).
            for t in self.tables:
                wait_for_table(Connector(self.args.binary), [self.config], t)
        if self.synthetic:
            # No MySQL front to discover with: the streams as discover would list them, with empty
            # properties, so the connector emits every column of the table (columns added by a
            # DDL too; the comparison takes a missing column for NULL).
            streams = [{"name": t, "namespace": "commerce", "json_schema": {"type": "object", "properties": {}},
                        "supported_sync_modes": ["full_refresh", "incremental"], "source_defined_cursor": True,
                        "default_cursor_field": [], "source_defined_primary_key": pk}
                       for t, pk in SYNTHETIC_TABLES.items()]
        else:
            p = subprocess.run([self.args.binary, "discover", "--config", self.config_path], stdout=subprocess.PIPE,
                               stderr=subprocess.DEVNULL, text=True, timeout=60)
            streams = [s for line in p.stdout.splitlines() if line.startswith("{")
                       for s in (json.loads(line).get("catalog") or {}).get("streams", [])]
        ours = [s for s in streams if s["name"] in self.tables]
        if len(ours) != len(self.tables):
            raise RuntimeError(f"discover did not list {self.tables}")
        self.catalog = {"streams": [{"stream": s, "sync_mode": "incremental", "destination_sync_mode": "append_dedup",
                                     "cursor_field": s.get("default_cursor_field", []),
                                     "primary_key": s["source_defined_primary_key"]} for s in ours]}
        self.catalog_path = self.write("catalog.json", self.catalog)
        for s in ours:
            self.pks[s["name"]] = s["source_defined_primary_key"]
        self.timings["setup_seconds"] = round(time.monotonic() - t0, 1)

    def start_mariadb(self):
        env_emulator = os.path.abspath(self.args.emulator)
        self.cluster = Cluster(env_emulator, shards=self.args.shards, rows=0, work=os.path.join(self.work, "c"),
                               emulator_args=["--tcp-proxy"])
        with open(os.path.join(self.cluster.dir, "ports.json")) as f:
            self.control_port = json.load(f)["control_port"]
        ddl = " ".join(f"CREATE TABLE {t} (id BIGINT PRIMARY KEY, ver BIGINT NOT NULL, v INT NULL, s VARCHAR(64) "
                       f"NULL) DEFAULT CHARSET=utf8mb4;" for t in self.tables)
        self.cluster.sql(ddl)
        return self.cluster.plain_config

    def write(self, name, value):
        path = os.path.join(self.work, name)
        with open(path, "w") as f:
            json.dump(value, f)
        return path

    def choose_fault(self):
        kinds = ["none", "end_after", "fail_streams", "end_streams", "stall", "stall_after", "slow_shard", "sigkill",
                 "sigterm", "reset_stream"]
        if self.synthetic:
            kinds.append("reshard")
        kind = self.rnd.choice(kinds)
        mode = self.rnd.choice(END_MODES)
        if kind == "fail_streams" and mode == "eof":
            mode = "unavailable"  # a new stream that fails at once with OK is not a failure mode vtgate has
        return kind, mode

    def arm(self, kind, mode):
        """Sets a fault that applies from the sync's start; returns its label."""
        r = self.rnd
        if kind == "end_after":
            n = r.randint(20, 400)
            self.control(f"/fault/end-after?events={n}&mode={mode}")
            return f"end_after:{mode}"
        if kind == "fail_streams":
            self.control(f"/fault/fail-streams?count={r.randint(1, 3)}&mode={mode}")
            return f"fail_streams:{mode}"
        if kind == "stall_after":
            self.control(f"/fault/stall-after?events={r.randint(5, 200)}&seconds={IDLE_TIMEOUT + 1.5}")
            return "stall_after_past_idle_timeout"
        if kind == "reset_stream":
            # Airbyte's "clear data" of one stream: its destination rows and its state go, so this
            # sync copies the table again while the load goes on. Each reset is another copy whose
            # snapshot meets concurrent writes (the copy/catch-up boundary a first sync has once).
            stream = r.choice(self.tables)
            self.state.pop(stream, None)
            self.dest.reset(stream)
            return "reset_stream"
        if kind == "slow_shard":
            shard = r.choice(self.serving_shards())
            self.control(f"/fault/slow-shard?shard={shard}&delay_ms={r.randint(20, 300)}")
            return "slow_shard"
        return None

    def sync(self, kind="none", mode="eof"):
        a = self.syncs["attempts"] = self.syncs["attempts"] + 1
        label = self.arm(kind, mode) or (kind if kind not in ("end_streams",) else f"end_streams:{mode}")
        state_path = self.write(f"state-{a}.json", list(self.state.values()))
        out_path, err_path = os.path.join(self.work, f"out-{a}.jsonl"), os.path.join(self.work, f"err-{a}.log")
        with open(out_path, "w") as out, open(err_path, "w") as err:
            self.proc = subprocess.Popen([self.args.binary, "read", "--config", self.config_path, "--catalog",
                                          self.catalog_path, "--state", state_path], stdout=out, stderr=err,
                                         start_new_session=True)
        # When a mid-sync fault hits: a random moment within a typical sync's duration so far.
        at = self.rnd.uniform(0.0, 1.2 * self.typical_sync_seconds)
        signalled = None
        deadline = time.monotonic() + SYNC_LIMIT
        fired = kind not in ("end_streams", "stall", "sigkill", "sigterm", "reshard")
        started = time.monotonic()
        while self.proc.poll() is None and time.monotonic() < deadline:
            if not fired and time.monotonic() - started >= at:
                fired = True
                if kind == "end_streams":
                    self.control(f"/fault/end-streams?mode={mode}")
                elif kind == "stall":
                    self.control(f"/fault/stall?seconds={IDLE_TIMEOUT + 1.5}")
                elif kind == "reshard":
                    label = self.reshard(a, True, self.rnd)
                else:
                    signalled = signal.SIGKILL if kind == "sigkill" else signal.SIGTERM
                    self.proc.send_signal(signalled)
            time.sleep(0.02)
        if not signalled and kind == "none":
            # An exponential moving average of clean syncs' durations.
            self.typical_sync_seconds = 0.7 * self.typical_sync_seconds + 0.3 * (time.monotonic() - started)
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
            self.problems.append(f"attempt {a} ({label}): the sync did not end within {SYNC_LIMIT} s")
        code = self.proc.returncode
        self.proc = None
        self.control("/fault/clear")
        if kind == "reshard" and not fired:
            label = self.reshard(a, False, self.rnd)  # the sync ended first: the reshard comes before the next
        if kind in ("sigkill", "sigterm") and not signalled:
            label = "none"  # the sync ended before the signal's moment
        if kind != "none" and label != "none":
            self.count_fault(label)
        early_term = signalled == signal.SIGTERM and code == -signal.SIGTERM and only_logs(out_path)
        if early_term:
            # SIGTERM before the sync installed its handler: the default action, nothing printed but
            # LOG lines (the synthetic backend's "No row estimates" warning comes before the
            # handler: seed 66 attempt 76), the platform's state unchanged. Harmless; counted apart.
            self.syncs["terminated_before_handler"] += 1
            label = "sigterm_before_handler"
        self.take_output(a, label, code, out_path, err_path, killed=signalled == signal.SIGKILL or early_term)
        return code

    def count_fault(self, label):
        with self.lock:
            self.faults[label] = self.faults.get(label, 0) + 1

    def reshard(self, attempt, mid_sync, rnd):
        """A reshard of the synthetic backend to a new shard set (the emulator refuses a name that
        ever served, so each set is fresh): 2-5 shards with random two-hex-digit bounds, a split,
        a merge or a move by the shard count. Returns the fault's label. Called by the sync loop and
        once by the load thread (each with its own random generator)."""
        with self.lock:
            return self.reshard_locked(attempt, mid_sync, rnd)

    def reshard_locked(self, attempt, mid_sync, rnd):
        old = self.serving_shards()
        for _ in range(50):  # bounded; fresh names are easy to find
            n = rnd.randint(2, 5)
            bounds = sorted(rnd.sample(range(1, 256), n - 1))
            cuts = [""] + [f"{b:02x}" for b in bounds] + [""]
            new = [f"{cuts[i]}-{cuts[i + 1]}" for i in range(n)]
            if not self.used_shard_names.intersection(new):
                break
        else:
            self.problems.append(f"attempt {attempt}: no fresh shard names for a reshard")
            return "reshard_failed"
        code, body = self.control("/reshard?shards=" + ",".join(new))
        if code != 200:
            self.problems.append(f"attempt {attempt}: /reshard to {new} answered {code}: {body.strip()}")
            return "reshard_failed"
        self.used_shard_names.update(new)
        how = "split" if len(new) > len(old) else "merge" if len(new) < len(old) else "move"
        self.reshards.append({"attempt": attempt, "from": old, "to": new, "mid_sync": mid_sync,
                              "ops_done": self.status()["ops_done"]})
        log(f"attempt {attempt}: reshard ({how}) {','.join(old)} -> {','.join(new)}"
            f"{' during the sync' if mid_sync else ' after the sync'}")
        return f"reshard_{how}"

    def take_output(self, a, label, code, out_path, err_path, killed):
        with open(out_path, "rb") as f:
            text = f.read().decode("utf-8", errors="replace")
        lines = text.split("\n")
        if not text.endswith("\n"):
            lines = lines[:-1]  # a line cut by SIGKILL
        v = subprocess.run([self.args.validator, out_path, self.catalog_path] + self.validator_flags() +
                           (["--allow-truncated"] if killed else []), stdout=subprocess.PIPE, text=True)
        for p in v.stdout.splitlines()[:5]:
            self.problems.append(f"attempt {a} ({label}): protocol: {p}")
        records, last_state, statuses, recopy_at = {}, {}, {}, {}
        for i, line in enumerate(lines):
            if not line.strip():
                continue
            m = json.loads(line)
            if m["type"] == "RECORD":
                records.setdefault(m["record"]["stream"], []).append((i, m["record"]["data"]))
            elif m["type"] == "STATE":
                name = m["state"]["stream"]["stream_descriptor"]["name"]
                last_state[name] = i
                st = dict(m["state"])
                st.pop("sourceStats", None)
                self.state[name] = st
            elif m["type"] == "TRACE" and m["trace"]["type"] == "STREAM_STATUS":
                statuses[m["trace"]["stream_status"]["stream_descriptor"]["name"]] = m["trace"]["stream_status"]["status"]
            elif m["type"] == "LOG" and RECOPY_MARK in m["log"].get("message", ""):
                # "stream T: keyspace 'K' was resharded while table 'T' was being copied; the copy
                # starts again on the new shards ..." (src/engine): the first one of the attempt.
                recopy_at.setdefault(m["log"]["message"].split(":", 1)[0].removeprefix("stream "), i)
            elif m["type"] == "TRACE" and m["trace"]["type"] == "ERROR":
                e = m["trace"]["error"]
                key = f"{e.get('failure_type')}: {e.get('message', '')[:160]}"
                self.errors[key] = self.errors.get(key, 0) + 1
                # INTERNAL is a system_error (not retried) by design: expected when the fault sent it.
                # The emulator's texts: "injected" (fail_streams), "stream closed after N events"
                # (end_after), "stream ended by fault injection" (end_streams).
                injected_internal = label.endswith(":internal") and "INTERNAL: vstream: " in e.get("message", "")
                if e.get("failure_type") != "transient_error" and not injected_internal:
                    self.problems.append(f"attempt {a} ({label}): unexpected error {key}")
        self.dest.take(a, records, last_state, recopy_at)
        if label == "sigterm_before_handler":
            pass
        elif killed:
            self.syncs["killed"] += 1
        elif label == "sigterm" and code in (0, -signal.SIGTERM) and all(
                statuses.get(s) in ("COMPLETE", "INCOMPLETE") for s in self.tables):
            # The signal came after the sync had printed every stream's final status: either its
            # handler was gone (the default action ended the process) or the sync was already
            # ending and exited 0. Nothing printed is lost; counted apart.
            self.syncs["terminated_after_sync"] += 1
            code = 0
        elif label == "sigterm":
            self.syncs["terminated"] += 1
            if code != 1:
                self.problems.append(f"attempt {a} (sigterm): exit {code}, expected 1")
        elif all(statuses.get(s) == "COMPLETE" for s in self.tables) and code == 0:
            self.syncs["complete"] += 1
        else:
            self.syncs["incomplete"] += 1
            if code not in (0, 1) or code < 0:
                self.problems.append(f"attempt {a} ({label}): exit {code}; stderr in {err_path}")
        if code is not None and code < 0 and not killed:
            self.problems.append(f"attempt {a} ({label}): died of signal {-code}")
        with open(err_path, errors="replace") as f:
            err = f.read()
        time_limited = TIME_LIMIT_MARK in err
        if time_limited:
            self.syncs["ended_by_time_limit"] += 1
        self.last_sync_reached_end = (code == 0 and not time_limited and not killed and
                                      all(statuses.get(s) == "COMPLETE" for s in self.tables))
        for mark in SANITIZER_MARKS:
            if mark in err:
                self.problems.append(f"attempt {a} ({label}): '{mark}' in stderr ({err_path})")

    def run(self):
        self.start()
        if not self.synthetic:
            self.probe_reshard()
        t0 = time.monotonic()
        # --seconds bounds the whole run, cluster start included; the last FINAL_RESERVE seconds are
        # for stopping the load, the last sync and the comparison.
        deadline = self.t_start + self.args.seconds - FINAL_RESERVE
        load_end = deadline - min(5.0, self.args.seconds / 12)  # the last syncs catch up with a quiet source
        if self.synthetic:
            self.writer = SyntheticLoad(self, self.args.seed * 7919 + 1, self.args.write_rate, load_end)
        else:
            self.writer = Writer(self.cluster, self.tables, self.args.seed * 7919 + 1, self.args.write_rate, load_end)
        self.writer.start()
        for _ in range(100_000):  # bounded; the deadline ends it first
            if time.monotonic() > deadline - self.typical_sync_seconds:
                break
            self.sync(*self.choose_fault())
        self.problems += self.writer.finish()
        if self.synthetic and not self.reshards:
            self.problems.append("no reshard was injected: the load phase was too short for one")
        self.control("/fault/clear")
        self.timings["load_seconds"] = round(time.monotonic() - t0, 1)
        caught_up = self.catch_up()
        self.timings["catch_up_seconds"] = round(time.monotonic() - t0 - self.timings["load_seconds"], 1)
        self.timings["soak_seconds"] = round(time.monotonic() - t0, 1)
        if not caught_up:
            report = self.no_comparison()
        elif self.synthetic:
            report = self.compare_synthetic()
        else:
            report = self.compare()
        if report.get("differences") and not self.synthetic:
            self.save_binlogs()
        report["caught_up"] = caught_up
        return report

    def catch_up(self):
        """What Airbyte's next syncs do after the load stopped: fault-free syncs from the saved state
        until one reaches the end of the sync on every shard. A sync that stopped at timeout_seconds
        ended COMPLETE at its last saved position, which is not the end yet: comparing after it would
        count the changes the next sync reads as missing."""
        started = time.monotonic()
        for i in range(CATCH_UP_SYNCS):
            if i > 0 and time.monotonic() - started > CATCH_UP_SECONDS:
                break
            self.syncs["catch_up"] += 1
            self.sync()
            if self.last_sync_reached_end:
                return True
        self.problems.append(f"the syncs after the load did not catch up: none of {self.syncs['catch_up']} "
                             f"fault-free syncs ({time.monotonic() - started:.0f} s) reached the end on every "
                             f"shard (exit 0, every stream COMPLETE, no shard stopped by timeout_seconds); "
                             f"not compared")
        return False

    def source_rows(self, table):
        rows = {}
        for s in self.cluster.shards:
            p = subprocess.run(["mariadb", "--no-defaults", "-h127.0.0.1", f"-P{s['port']}", f"-u{s['user']}", "-N",
                                "-B", "--default-character-set=utf8mb4", s["database"], "-e",
                                f"SELECT id, ver, v, s FROM {table}"], stdout=subprocess.PIPE, text=True, check=True,
                               env=dict(os.environ, MYSQL_PWD=s["password"]))
            for line in p.stdout.splitlines():
                f = line.split("\t")
                rows[int(f[0])] = {"id": int(f[0]), "ver": int(f[1]), "v": None if f[2] == "NULL" else int(f[2]),
                                   "s": None if f[3] == "NULL" else f[3]}
        return rows

    def no_comparison(self):
        """The report when the syncs never caught up: the destination is behind by design, so a
        comparison would count the unread backlog as differences."""
        return dict(self.base_report(), rows_compared=0, differences=None, first_differences=[], ok=False)

    def base_report(self):
        if self.rows_in_source is None and not self.synthetic:
            self.rows_in_source = sum(len(self.source_rows(t)) for t in self.tables)
        extra = {"reshards": self.reshards} if self.synthetic else {"faults_not_injected": {"reshard": self.reshard_note}}
        return {
            "backend": self.args.backend, **extra,
            "seed": self.args.seed, "seconds": self.args.seconds, "shards": self.args.shards, "tables": len(self.tables),
            "faults_injected": dict(sorted(self.faults.items())),
            "syncs": self.syncs, "writes": self.writer.counts,
            "records_read": self.dest.records, "records_applied": self.dest.applied,
            "rows_in_source": self.rows_in_source,
            "duplicates_allowed": self.dest.dups_allowed, "duplicates_forbidden": self.dest.dups_forbidden,
            "duplicates_after_reshard_recopy": self.dest.dups_recopy,
            "duplicate_examples": self.dest.forbidden_examples, "errors_seen": self.errors,
            "problems": self.problems[:50], "timings": self.timings,
        }

    def compare(self):
        diffs, compared = [], 0
        for t in self.tables:
            src = self.source_rows(t)
            dst = self.dest.rows.get(t, {})
            for pk in sorted(set(src) | set(dst)):
                compared += 1
                s = src.get(pk)
                d = dst.get(pk)
                if d is not None:
                    d = {k: d.get(k) for k in ("id", "ver", "v", "s")}
                if s != d:
                    what = "missing in the destination" if d is None else (
                        "deleted in the source, still in the destination" if s is None else "values differ")
                    diffs.append(f"{t} id={pk}: {what}: source {s} destination {d}")
        report = dict(self.base_report(), rows_compared=compared, differences=len(diffs),
                      first_differences=diffs[:20])
        report["ok"] = not diffs and not self.problems and self.dest.dups_forbidden == 0
        return report

    def compare_synthetic(self):
        """The synthetic backend's source of truth: after the load stopped and the syncs caught up, a
        fresh full_refresh read of every table (the copy path, which tests/e2e checks against the
        dataset row by row) is compared with the destination the CDC syncs built: every row equal
        (every column), none extra, no missed delete."""
        diffs, compared = [], 0
        catalog = {"streams": [dict(s, sync_mode="full_refresh", destination_sync_mode="overwrite", cursor_field=[])
                               for s in self.catalog["streams"]]}
        catalog_path = self.write("catalog-full-refresh.json", catalog)
        out_path, err_path = os.path.join(self.work, "out-full-refresh.jsonl"), os.path.join(self.work, "err-full-refresh.log")
        with open(out_path, "w") as out, open(err_path, "w") as err:
            p = subprocess.run([self.args.binary, "read", "--config", self.config_path, "--catalog", catalog_path],
                               stdout=out, stderr=err, timeout=SYNC_LIMIT)
        v = subprocess.run([self.args.validator, out_path, catalog_path] + self.validator_flags(), stdout=subprocess.PIPE,
                           text=True)
        for line in v.stdout.splitlines()[:5]:
            self.problems.append(f"full_refresh read: protocol: {line}")
        source, statuses = {t: {} for t in self.tables}, {}
        with open(out_path) as f:
            for line in f:
                m = json.loads(line)
                if m["type"] == "RECORD":
                    stream, data = m["record"]["stream"], m["record"]["data"]
                    pk = self.pk_of(stream, data)
                    if pk in source[stream]:
                        self.problems.append(f"full_refresh read: {stream} {pk} twice")
                    source[stream][pk] = data
                elif m["type"] == "TRACE" and m["trace"]["type"] == "STREAM_STATUS":
                    statuses[m["trace"]["stream_status"]["stream_descriptor"]["name"]] = m["trace"]["stream_status"]["status"]
        if p.returncode != 0 or any(statuses.get(t) != "COMPLETE" for t in self.tables):
            self.problems.append(f"full_refresh read: exit {p.returncode}, statuses {statuses} (stderr {err_path})")
        self.rows_in_source = sum(len(rows) for rows in source.values())
        for t in self.tables:
            src, dst = source[t], self.dest.rows.get(t, {})
            for pk in sorted(set(src) | set(dst), key=repr):
                compared += 1
                s = src.get(pk)
                d = dst.get(pk)
                if s is not None and d is not None:
                    # Every column either side has, a missing one as NULL (a row last written before
                    # a DDL has no record with the new column; the copy gives it NULL).
                    cols = sorted(k for k in set(s) | set(d) if not k.startswith("_ab_"))
                    s, d = {k: s.get(k) for k in cols}, {k: d.get(k) for k in cols}
                if s != d:
                    what = "missing in the destination" if d is None else (
                        "deleted in the source, still in the destination" if s is None else "values differ")
                    diffs.append(f"{t} {pk}: {what}: source {s} destination {d}")
        report = dict(self.base_report(), rows_compared=compared, differences=len(diffs),
                      first_differences=diffs[:20])
        report["ok"] = not diffs and not self.problems and self.dest.dups_forbidden == 0
        return report

    def probe_reshard(self):
        """The MariaDB backend cannot reshard: ask, and record the emulator's answer in the report."""
        code, body = self.control("/reshard?shards=-40,40-80,80-c0,c0-")
        self.reshard_note = f"emulator answered {code}: {body.strip()}"
        if code == 200:
            self.problems.append("the MariaDB backend accepted a reshard: the soak does not model one yet")

    def save_binlogs(self):
        """Copies each shard's binary logs into the work directory before the cluster goes, so a
        difference can be traced to the transactions behind it (mariadb-binlog --verbose FILE)."""
        cluster_dir = os.path.join(self.work, "c")
        for f in glob.glob(os.path.join(cluster_dir, "**", "binlog.[0-9]*"), recursive=True):
            shard = os.path.basename(os.path.dirname(os.path.dirname(f)))
            dest = os.path.join(self.work, "binlogs", shard)
            os.makedirs(dest, exist_ok=True)
            shutil.copy(f, dest)
        log(f"binary logs of every shard kept in {os.path.join(self.work, 'binlogs')}")

    def cleanup(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        if self.writer:
            self.writer.kill()
        if self.cluster:
            self.cluster.down()
        if self.emulator and self.emulator.poll() is None:
            self.emulator.terminate()
            try:
                self.emulator.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.emulator.kill()
                self.emulator.wait()


# --- Start-peek-cancel stress -----------------------------------------------------------------
def peek_cancel(args):
    """N reads, each SIGTERMed a random moment after its STARTED line, alternating between an
    emulator whose streams never answer (the peek is in flight) and a healthy one."""
    rnd = random.Random(args.seed)
    work = tempfile.mkdtemp(prefix="source-vitess-peek-")
    emulators = []
    # exit_sigterm: the signal came while no handler was installed (before the sync started or after
    # it finished: the handler lives only as long as the sync), so the default action ended the
    # process. Counted, not a failure: nothing it printed is lost or wrong.
    counts = {"iterations": 0, "exit_1": 0, "exit_0": 0, "exit_sigterm": 0, "other_exit": 0, "sanitizer_reports": 0,
              "slowest_ms": 0}
    bad = []
    try:
        for name, stalled in (("stalled", True), ("healthy", False)):
            ports = os.path.join(work, f"{name}.ports")
            p = subprocess.Popen([os.path.abspath(args.emulator), "--shards=2", "--tables=customers", "--rows=50",
                                  f"--port-file={ports}"], stdout=subprocess.DEVNULL,
                                 stderr=open(os.path.join(work, f"{name}.log"), "w"), start_new_session=True)
            emulators.append(p)
            for _ in range(100):
                if os.path.exists(ports) and os.path.getsize(ports) > 0:
                    break
                time.sleep(0.1)
            pj = json.load(open(ports))
            if stalled:
                urllib.request.urlopen(urllib.request.Request(
                    f"http://127.0.0.1:{pj['control_port']}/fault/stall?seconds=1000000", method="POST", data=b""),
                    timeout=10).read()
            cfg = os.path.join(work, f"{name}.json")
            json.dump({"host": "127.0.0.1", "database": "commerce", "username": "u", "password": "",
                       "grpc_port": pj["grpc_port"], "tls_mode": "disabled", "max_retries": 1}, open(cfg, "w"))
        cat = os.path.join(work, "catalog.json")
        json.dump({"streams": [{"stream": {"name": "customers", "namespace": "commerce", "json_schema": {}},
                                "sync_mode": "incremental", "destination_sync_mode": "append_dedup"}]}, open(cat, "w"))
        for i in range(args.peek_cancel):
            name = "stalled" if i % 2 == 0 else "healthy"
            out_path, err_path = os.path.join(work, "out"), os.path.join(work, "err")
            with open(out_path, "w") as out, open(err_path, "w") as err:
                p = subprocess.Popen([args.binary, "read", "--config", os.path.join(work, f"{name}.json"), "--catalog",
                                      cat], stdout=out, stderr=err, start_new_session=True)
            delay = rnd.uniform(0, 0.05 if name == "stalled" else 0.3)
            t_end = time.monotonic() + 30
            while time.monotonic() < t_end and p.poll() is None:  # until STARTED: the handler is in place
                with open(out_path) as f:
                    if '"status":"STARTED"' in f.read():
                        break
                time.sleep(0.002)
            time.sleep(delay)
            t_sig = time.monotonic()
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
                bad.append(f"iteration {i} ({name}): no exit 30 s after SIGTERM")
            ms = int((time.monotonic() - t_sig) * 1000)
            counts["slowest_ms"] = max(counts["slowest_ms"], ms)
            counts["iterations"] += 1
            key = {1: "exit_1", 0: "exit_0", -signal.SIGTERM: "exit_sigterm"}.get(p.returncode, "other_exit")
            counts[key] += 1
            err = open(err_path, errors="replace").read()
            marks = [m for m in SANITIZER_MARKS if m in err]
            if marks or key == "other_exit":
                counts["sanitizer_reports"] += 1 if marks else 0
                if len(bad) < 10:
                    keep = os.path.join(work, f"err-{i}.log")
                    shutil.copy(err_path, keep)
                    bad.append(f"iteration {i} ({name}, SIGTERM +{delay * 1000:.0f} ms): exit {p.returncode}, {marks}, "
                               f"stderr kept in {keep}")
    finally:
        for p in emulators:
            p.kill()
            p.wait()
    report = {"peek_cancel": counts, "binary": args.binary, "seed": args.seed, "problems": bad, "ok": not bad}
    return report, work


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--binary", required=True)
    ap.add_argument("--emulator", required=True)
    ap.add_argument("--validator", help="validate-read (built in build/tests/)")
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--shards", type=int, default=2)
    ap.add_argument("--tables", type=int, default=3)
    ap.add_argument("--backend", choices=["mariadb", "synthetic"], default="mariadb",
                    help="mariadb (default): a MariaDB-backed cluster; synthetic: the emulator's own dataset, "
                         "with reshards among the faults")
    ap.add_argument("--rows", type=int, default=3000, help="synthetic backend: initial rows per table (default 3000)")
    ap.add_argument("--write-rate", type=float, default=60, help="write operations per second (default 60)")
    ap.add_argument("--report", help="write the JSON report here")
    ap.add_argument("--drop-one-delete", action="store_true",
                    help="check the checker: leave the first committed delete out of the model destination; the "
                         "run must then fail with that row deleted in the source, still in the destination")
    ap.add_argument("--keep", action="store_true", help="keep the work directory (outputs, logs)")
    ap.add_argument("--peek-cancel", type=int, default=0, metavar="N", help="run the start-peek-cancel loop N times")
    args = ap.parse_args()
    if args.seed is None:
        args.seed = int(time.time()) % 100000
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    if args.peek_cancel:
        report, work = peek_cancel(args)
        if report["ok"] and not args.keep:
            shutil.rmtree(work, ignore_errors=True)
        summary = f"peek-cancel: {json.dumps(report['peek_cancel'])}"
    else:
        if not args.validator:
            ap.error("--validator is required for the soak")
        soak = Soak(args)
        log(f"seed {args.seed}, {args.seconds:g} s, {args.shards} shards, {args.tables} tables, work dir {soak.work}")
        try:
            report = soak.run()
        except Interrupted as e:
            log(f"interrupted ({e}); seed {args.seed}")
            sys.exit(1)
        finally:
            soak.cleanup()
        work = soak.work
        # Synthetic mode: a sync that used up timeout_seconds is kept to be traced, even in a run
        # that passed (one 60 s run had one; its outputs were gone).
        time_limited = args.backend == "synthetic" and report["syncs"]["ended_by_time_limit"] > 0
        if time_limited:
            log(f"a sync used up timeout_seconds: outputs kept in {work}")
        if report["ok"] and not args.keep and not time_limited:
            shutil.rmtree(work, ignore_errors=True)
        summary = (f"faults {sum(report['faults_injected'].values())} {report['faults_injected']}; syncs "
                   f"{report['syncs']}; writes {report['writes']}; records read {report['records_read']}, applied "
                   f"{report['records_applied']}; rows compared {report['rows_compared']} "
                   f"({report['rows_in_source']} in the source); duplicates allowed {report['duplicates_allowed']}, "
                   f"forbidden {report['duplicates_forbidden']}, after a reshard's re-copy "
                   f"{report['duplicates_after_reshard_recopy']}; caught up {report['caught_up']}; differences "
                   f"{report['differences']}; timings "
                   f"{report['timings']}")
    if args.report:
        with open(args.report, "w") as f:
            json.dump(report, f, indent=2, ensure_ascii=False)
            f.write("\n")
    log(summary)
    if not report["ok"]:
        for d in report.get("first_differences", []) + report.get("duplicate_examples", []) + report["problems"]:
            log("  " + d)
        log(f"FAILED (seed {args.seed}; outputs kept in {work})")
        sys.exit(1)
    log(f"ok (seed {args.seed})")


if __name__ == "__main__":
    main()
