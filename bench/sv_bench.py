#!/usr/bin/env python3
"""bench/sv_bench.py — the benchmark driver behind scripts/bench (Python 3, standard library only).

Runs `source-vitess read` against `vtgate-emulator --pre-encoded` for a matrix of row counts,
shard counts, row widths and output sinks (/dev/null, or a pipe that this program reads and
counts lines from), and measures in the same run the ceilings the connector is compared with:
  (a) `cat` of the same pre-rendered JSONL through the same pipe reader,
  (b) sv-bench-discard: the emulator streaming to a client that parses and discards (transport),
  (c) sv-bench-render: the project's RapidJSON value writer alone rendering the same rows,
  (d) bench/go: a Go-connector-style map[string]interface{} + encoding/json baseline.
Socket mode (Airbyte's speed mode, docs/speed-mode.md): the same cells read with
DATA_CHANNEL_MEDIUM=SOCKET in each format (PROTOBUF, JSONL) over 1 and 4 sockets, drained by
sv-bench-socket (bench/socket_reader.cpp) counting by the framing only or decoding every message,
reported next to the STDIO pipe run and the transport ceiling (b) of the same cell (--no-socket
skips it). Then an incremental read of N change events (CDC events/s). Writes results.json, results.md and
plot.svg into --out-dir. The extract case (`source-vitess extract` to files: jsonl and csv, each
uncompressed, gzip and zstd) runs next to a read of the same table and its transport ceiling and
writes extract.json and extract.md (--extract-only runs just that case).

This file is the orchestration only (processes, the matrix, JSON/Markdown/SVG); what measures is
C++ or Go (bench/discard_client.cpp, bench/render_bench.cpp, bench/go, the emulator). Nothing is
assumed: CPU seconds of the connector come from wait4()'s rusage, of the emulator from
/proc/<pid>/stat deltas, peak RSS from ru_maxrss (= VmHWM at exit).
"""
import http.client
import json
import math
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time

# The row shapes: the emulator's dedicated bench tables (src/emulator/dataset.cpp). Line bytes are
# the average RECORD line as the connector prints it (measured by (c) on a 4-shard dump).
# Figures in docs/benchmarks.md before 2026-12-08 used customers / order_items / all_types.
WIDTHS = {
    "narrow": ("bench_narrow", "bench_narrow: 3 columns (bigint PK, int, varchar(32)), ~169 B per RECORD line"),
    "typical": ("bench_typical", "bench_typical: 10 mixed columns (bigint PK, int, bigint unsigned, decimal(12,2), "
                "2 varchar(64), datetime(6), timestamp, tinyint(1), json), ~393 B per RECORD line"),
    "wide": ("bench_wide", "bench_wide: 50 columns, every MySQL type family (ints of each size signed/unsigned, "
             "decimals, float/double, date/time types, char/varchar/text in utf8mb4, utf8mb3, latin1 and ascii, "
             "binary/varbinary/blobs, bit, enum/set, json), ~2260 B per RECORD line"),
}

RECORD_PREFIX = b'{"type":"RECORD"'

# Emulators alive right now: die() stops them.
_emulators = []


def die(why):
    print(f"sv-bench: {why}", file=sys.stderr)
    for p in list(_emulators):
        p.kill()
        p.wait()
    sys.exit(1)


def parse_count(s):
    """1M, 10M, 20k, 5000."""
    mult = 1
    if s[-1:] in ("k", "K"):
        mult, s = 1e3, s[:-1]
    elif s[-1:] in ("M", "m"):
        mult, s = 1e6, s[:-1]
    try:
        return int(float(s) * mult)
    except ValueError:
        die(f"bad count {s}")


def split_list(v):
    return [x for x in v.split(",") if x]


class Options:
    def __init__(self, argv):
        self.quick = "--quick" in argv
        self.extract_only = "--extract-only" in argv
        self.socket = "--no-socket" not in argv
        self.connector = self.emulator = self.discard = self.render = self.pipe = self.go_baseline = ""
        self.socket_reader = ""  # sv-bench-socket; without it socket mode is skipped
        self.socket_formats, self.socket_readers = ["PROTOBUF", "JSONL"], ["frame", "decode"]
        self.socket_counts = [2] if self.quick else [1, 4]
        self.out_dir = "bench/results"
        self.work_dir = ""
        self.ceiling_shards = 4
        self.note = ""
        self.profile = ""  # --profile=WRAPPER: one connector read under WRAPPER (a command prefix)
        self.profile_rows = 200000
        self.doc = ""  # --doc=FILE: replace the text between the bench markers in FILE
        self.repeat = 1  # connector runs per matrix cell; the median is reported
        if self.quick:
            self.rows, self.shards, self.widths = [20000], [1, 4], ["narrow", "typical"]
            self.big_rows, self.big_shards = 0, []
            self.dump_rows, self.cdc_rows, self.cdc_writes = 20000, 5000, 3000
            self.min_seconds, self.extract_rows = 0.1, 20000
        else:
            self.rows, self.shards, self.widths = [1000000], [1, 4, 16], ["narrow", "typical", "wide"]
            self.big_rows, self.big_shards = 10000000, [1, 4, 16]
            self.dump_rows, self.cdc_rows, self.cdc_writes = 300000, 100000, 200000
            self.min_seconds, self.extract_rows = 1.0, 1000000
        kv = {}
        for a in argv:
            if a in ("--quick", "--extract-only", "--no-socket"):
                continue
            if not a.startswith("--") or "=" not in a:
                die(f"bad argument {a}")
            k, v = a[2:].split("=", 1)
            kv[k] = v
        strings = {"connector", "emulator", "discard", "render", "pipe", "go-baseline", "out-dir", "work-dir", "note",
                   "profile", "doc", "socket-reader"}
        counts = {"big-rows", "dump-rows", "cdc-rows", "cdc-writes", "profile-rows", "extract-rows"}
        for k, v in kv.items():
            attr = k.replace("-", "_")
            if k in strings:
                setattr(self, attr, v)
            elif k in counts:
                setattr(self, attr, parse_count(v))
            elif k == "rows":
                self.rows = [parse_count(s) for s in split_list(v)]
            elif k in ("shards", "big-shards"):
                setattr(self, attr, [int(s) for s in split_list(v)])
            elif k == "widths":
                self.widths = split_list(v)
            elif k == "socket-formats":
                self.socket_formats = [x.upper() for x in split_list(v)]
            elif k == "socket-counts":
                self.socket_counts = [int(x) for x in split_list(v)]
            elif k == "socket-readers":
                self.socket_readers = split_list(v)
            elif k == "repeat":
                self.repeat = int(v)
            else:
                die(f"unknown option --{k}")
        if not (self.connector and self.emulator and self.discard and self.render and self.pipe):
            die("--connector, --emulator, --discard, --render and --pipe are required (scripts/bench passes them)")
        for w in self.widths:
            if w not in WIDTHS:
                die(f"unknown width {w}")
        for f in self.socket_formats:
            if f not in ("PROTOBUF", "JSONL"):
                die(f"unknown socket format {f}")
        for m in self.socket_readers:
            if m not in ("frame", "decode"):
                die(f"unknown socket reader {m} (frame or decode)")
        self.own_work_dir = not self.work_dir
        if self.own_work_dir:
            self.work_dir = tempfile.mkdtemp(prefix="sv_bench_", dir="/tmp")


# ------------------------------------------------------------------------------------------------
# Files, processes, /proc


def read_text(path):
    try:
        with open(path, "rb") as f:
            return f.read().decode("utf-8", "replace")
    except OSError:
        return ""


def write_text(path, text):
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)


def proc_cpu_seconds(pid):
    """utime + stime of a live process from /proc/<pid>/stat (clock ticks → seconds)."""
    stat = read_text(f"/proc/{pid}/stat")
    rp = stat.rfind(")")
    if rp < 0:
        return 0.0
    f = stat[rp + 2:].split()  # index 0 is field 3 (state); utime is field 14, stime 15
    if len(f) < 13:
        return 0.0
    return (float(f[11]) + float(f[12])) / os.sysconf("SC_CLK_TCK")


def proc_status_kb(pid, key):
    """A /proc/<pid>/status value in kB (VmHWM, VmRSS), 0 if absent."""
    for line in read_text(f"/proc/{pid}/status").splitlines():
        if line.startswith(key + ":"):
            return int(line[len(key) + 1:].split()[0])
    return 0


def spawn(argv, stdout, err_path, env=None):
    """Starts argv with stdin from /dev/null, stdout as given (DEVNULL, PIPE or a file object) and
    stderr appended to err_path (and `env` as its environment when given)."""
    with open(err_path, "ab") as err:
        try:
            return subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=stdout, stderr=err, env=env)
        except OSError as e:
            die(f"exec {argv[0]} failed: {e}")


def wait_child(proc):
    """Reaps the child with wait4(): (exit code or 128 + signal, CPU seconds, peak RSS kB)."""
    while True:
        try:
            _, status, ru = os.wait4(proc.pid, 0)
            break
        except InterruptedError:
            continue
    code = os.waitstatus_to_exitcode(status)
    code = code if code >= 0 else 128 - code
    proc.returncode = code  # reaped here; Popen must not wait for it again
    return code, ru.ru_utime + ru.ru_stime, ru.ru_maxrss


def run_json(argv, work_dir, what):
    """Runs a helper that prints one JSON line; returns the parsed object (dies on failure)."""
    out_path, err_path = f"{work_dir}/helper.out", f"{work_dir}/helper.err"
    if os.path.exists(err_path):
        os.unlink(err_path)
    with open(out_path, "wb") as out:
        proc = spawn(argv, out, err_path)
    code, _, _ = wait_child(proc)
    text = read_text(out_path)
    try:
        d = json.loads(text)
    except ValueError:
        d = None
    if code != 0 or not isinstance(d, dict):
        die(f"{what} failed (exit {code}): {text}{read_text(err_path)}")
    return d


# ------------------------------------------------------------------------------------------------
# The pipe reader: sv-bench-pipe (bench/pipe_reader.cpp) reads the producer's stdout as Airbyte's
# platform would, counts lines and RECORD lines and notes when the first RECORD arrived. It is C++:
# a reader in Python costs twice the CPU per byte and became the limit of ceiling (a).


class ReadStats:
    def __init__(self):
        self.lines = self.records = self.bytes = 0
        self.first_record_s = -1.0  # since `start`
        self.cpu_seconds = 0.0  # the reader's own CPU
        self.kept = b""  # the whole output, only when asked (small incremental runs)


def read_pipe(o, producer, start, keep):
    """Runs sv-bench-pipe on the producer's stdout (a subprocess.PIPE) until it ends."""
    st = ReadStats()
    keep_path = f"{o.work_dir}/pipe-kept.jsonl"
    argv = [o.pipe, "--start=%.6f" % start] + ([f"--keep={keep_path}"] if keep else [])
    with open(f"{o.work_dir}/pipe.err", "ab") as err:
        reader = subprocess.Popen(argv, stdin=producer.stdout, stdout=subprocess.PIPE, stderr=err)
    producer.stdout.close()  # the reader holds the only read end: the producer sees EPIPE if it dies
    out = reader.communicate()[0]
    if reader.returncode != 0:
        die(f"sv-bench-pipe exited {reader.returncode}: " + read_text(f"{o.work_dir}/pipe.err"))
    d = json.loads(out)
    st.lines, st.records, st.bytes = d["lines"], d["records"], d["bytes"]
    st.first_record_s, st.cpu_seconds = d["first_record_s"], d["cpu_seconds"]
    if keep:
        with open(keep_path, "rb") as f:
            st.kept = f.read()
        os.unlink(keep_path)
    return st


# ------------------------------------------------------------------------------------------------
# The emulator


class Emulator:
    def __init__(self, o, tables, rows, shards, tag):
        self.dir = f"{o.work_dir}/emu-{tag}"
        os.makedirs(self.dir, exist_ok=True)
        ports = f"{self.dir}/ports"
        if os.path.exists(ports):
            os.unlink(ports)
        argv = [o.emulator, f"--shards={shards}", f"--tables={tables}", f"--rows={rows}", "--pre-encoded",
                f"--port-file={ports}", "--log-level=warn"]
        with open(f"{self.dir}/emu.out", "wb") as out:
            self.proc = spawn(argv, out, f"{self.dir}/emu.err")
        _emulators.append(self.proc)
        self.pid = self.proc.pid
        # The emulator writes its port file once it serves; nothing can signal that, so it is
        # checked every 5 ms until a 30 s deadline.
        deadline = time.monotonic() + 30
        while True:
            text = read_text(ports)
            if "}" in text:
                d = json.loads(text)
                self.grpc_port, self.control_port = d["grpc_port"], d["control_port"]
                break
            if self.proc.poll() is not None:
                die("emulator exited: " + read_text(f"{self.dir}/emu.err"))
            if time.monotonic() > deadline:
                die("emulator did not start in 30 s: " + read_text(f"{self.dir}/emu.err"))
            time.sleep(0.005)
        # Shard names as the emulator computes them ("-" for 1, "-80,80-" for 2, ...).
        status = json.loads(self.http("GET", "/status"))
        self.shard_names = [s.split("/", 1)[1] if "/" in s else s for s in status.get("shards", [])]
        if not self.shard_names:
            die("emulator /status lists no shards")

    def http(self, method, target):
        try:
            c = http.client.HTTPConnection("127.0.0.1", self.control_port, timeout=600)
            c.request(method, target, headers={"Content-Length": "0"})
            body = c.getresponse().read().decode()
            c.close()
            return body
        except OSError as e:
            die(f"emulator control API: {e}")

    def shard_list(self):
        return ",".join(self.shard_names)

    def stop(self):
        if self.proc is None:
            return
        if self.proc in _emulators:
            _emulators.remove(self.proc)
        self.proc.terminate()
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


# ------------------------------------------------------------------------------------------------
# Connector runs


class RunResult:
    def __init__(self, kind, table, output):
        self.kind, self.table, self.output = kind, table, output  # kind: full_refresh | incremental
        self.width = ""
        self.rows = self.shards = self.records = self.bytes = 0
        self.records_counted = False
        self.seconds = self.connector_cpu = self.emulator_cpu = self.reader_cpu = 0.0
        self.peak_rss_kb = 0
        self.ttfr_ms = -1.0
        self.exit_code = -1
        self.output_text = b""  # kept for incremental runs (STATE lines)
        # Socket mode (output "socket"): the data channel format, socket count, reader mode, the
        # records each socket carried and the reader's decoded values / broken messages.
        self.format = self.reader = ""
        self.sockets = self.values = self.bad = 0
        self.per_socket = []

    def records_per_s(self):
        return self.records / self.seconds if self.seconds > 0 else 0.0

    def mb_per_s(self):
        return self.bytes / 1e6 / self.seconds if self.seconds > 0 else 0.0

    def per_m(self, cpu):
        return cpu * 1e6 / self.records if self.records else 0.0


def config_json(emu):
    # timeout_seconds bounds each shard's read per sync (300 s by default): a benchmark measures a
    # whole copy, however slow the machine (or callgrind) makes it.
    return ('{"host":"127.0.0.1","grpc_port":%d,"tls_mode":"disabled","database":"commerce","username":"bench",'
            '"password":"","timeout_seconds":86400}' % emu.grpc_port)


def catalog_json(table, mode):
    # Empty properties: the connector then emits every column of the table (as the Go connector).
    return ('{"streams":[{"stream":{"name":"%s","namespace":"commerce","json_schema":{"type":"object","properties":{}},'
            '"supported_sync_modes":["full_refresh","incremental"],"source_defined_cursor":true},"sync_mode":"%s",'
            '"destination_sync_mode":"append"}]}' % (table, mode))


def run_connector(o, emu, table, mode, pipe, state_json, keep_output, wrapper=""):
    d = emu.dir
    write_text(f"{d}/config.json", config_json(emu))
    write_text(f"{d}/catalog.json", catalog_json(table, mode))
    argv = [a for a in wrapper.split(" ") if a]
    argv += [o.connector, "read", "--config", f"{d}/config.json", "--catalog", f"{d}/catalog.json"]
    if state_json:
        write_text(f"{d}/state.json", state_json)
        argv += ["--state", f"{d}/state.json"]
    err = f"{d}/connector.err"
    if os.path.exists(err):
        os.unlink(err)
    r = RunResult(mode, table, "pipe" if pipe else "devnull")
    emu_cpu0 = proc_cpu_seconds(emu.pid)
    t0 = time.monotonic()
    proc = spawn(argv, subprocess.PIPE if pipe else subprocess.DEVNULL, err)
    if pipe:
        st = read_pipe(o, proc, t0, keep_output)
        r.records, r.bytes, r.records_counted = st.records, st.bytes, True
        r.ttfr_ms = st.first_record_s * 1e3 if st.first_record_s >= 0 else -1.0
        r.output_text = st.kept
        r.reader_cpu = st.cpu_seconds
    r.exit_code, r.connector_cpu, r.peak_rss_kb = wait_child(proc)
    r.seconds = time.monotonic() - t0
    r.emulator_cpu = proc_cpu_seconds(emu.pid) - emu_cpu0
    if r.exit_code != 0:
        print(f"sv-bench: source-vitess exited {r.exit_code}; stderr:\n{read_text(err)}", file=sys.stderr)
    return r


def run_socket(o, emu, table, fmt, sockets, mode):
    """One full_refresh read in socket mode: the connector with the DATA_CHANNEL_* variables, its
    sockets drained by sv-bench-socket (framing only, or decoding every message)."""
    d = emu.dir
    write_text(f"{d}/config.json", config_json(emu))
    write_text(f"{d}/catalog.json", catalog_json(table, "full_refresh"))
    sock_dir = tempfile.mkdtemp(prefix="s", dir=d)  # short: a socket path has at most 107 bytes
    paths = [f"{sock_dir}/airbyte_socket_{i + 1}.sock" for i in range(sockets)]
    env = dict(os.environ, DATA_CHANNEL_MEDIUM="SOCKET", DATA_CHANNEL_FORMAT=fmt,
               DATA_CHANNEL_SOCKET_PATHS=",".join(paths))
    argv = [o.connector, "read", "--config", f"{d}/config.json", "--catalog", f"{d}/catalog.json"]
    err = f"{d}/connector.err"
    if os.path.exists(err):
        os.unlink(err)
    r = RunResult("full_refresh", table, "socket")
    r.format, r.sockets, r.reader = fmt, sockets, mode
    emu_cpu0 = proc_cpu_seconds(emu.pid)
    t0 = time.monotonic()
    with open(f"{d}/socket-stdout.jsonl", "wb") as out:  # STATE and status lines only
        proc = spawn(argv, out, err, env)
    with open(f"{o.work_dir}/socket.err", "ab") as rerr:
        reader = subprocess.Popen([o.socket_reader, "--paths=" + ",".join(paths), f"--format={fmt}", f"--mode={mode}",
                                   "--start=%.6f" % t0], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=rerr)
    text = reader.communicate()[0]
    r.exit_code, r.connector_cpu, r.peak_rss_kb = wait_child(proc)
    r.seconds = time.monotonic() - t0
    r.emulator_cpu = proc_cpu_seconds(emu.pid) - emu_cpu0
    shutil.rmtree(sock_dir, ignore_errors=True)
    if reader.returncode != 0:
        die(f"sv-bench-socket exited {reader.returncode}: " + read_text(f"{o.work_dir}/socket.err"))
    s = json.loads(text)
    r.records, r.bytes, r.records_counted = s["records"], s["bytes"], True
    r.values, r.bad, r.per_socket = s["values"], s["bad"], s["per_socket"]
    r.reader_cpu = s["cpu_seconds"]
    r.ttfr_ms = s["first_record_s"] * 1e3 if s["first_record_s"] >= 0 else -1.0
    if r.exit_code != 0:
        print(f"sv-bench: source-vitess (socket mode) exited {r.exit_code}; stderr:\n{read_text(err)}", file=sys.stderr)
    return r


def state_from_output(out):
    """The last STATE of each stream, as the JSON array a --state file holds."""
    last = {}
    for line in out.decode("utf-8", "replace").splitlines():
        if '"type":"STATE"' not in line:
            continue
        try:
            d = json.loads(line)
        except ValueError:
            continue
        if not isinstance(d, dict) or "state" not in d:
            continue
        key = d["state"].get("stream", {}).get("stream_descriptor", {}).get("name", "?")
        last[key] = json.dumps(d["state"], separators=(",", ":"), ensure_ascii=False)
    return "[" + ",".join(last[k] for k in sorted(last)) + "]"


def median_run(tries):
    """--repeat=N: the median by wall time; a failed run always wins, so it shows."""
    failed = [t for t in tries if t.exit_code != 0]
    if failed:
        return failed[0]
    tries = sorted(tries, key=lambda t: t.seconds)
    return tries[len(tries) // 2]


# ------------------------------------------------------------------------------------------------
# Ceilings


class Transport:  # ceiling (b) for one (rows, shards, width)
    def __init__(self):
        self.width = ""
        self.rows = self.shards = 0
        self.seconds = self.client_cpu = self.emulator_cpu = self.first_row_ms = 0.0
        self.emulator_hwm_kb = 0  # emulator VmHWM after this copy (pre-encoded cache included)
        self.client_rss_kb = 0  # discard client's peak RSS (gRPC receive buffers dominate)
        # The same client through the generated stub (heap parse, as the connector); 0 = not measured.
        self.stub_records_per_s = self.stub_client_cpu = 0.0

    def records_per_s(self):
        return self.rows / self.seconds if self.seconds > 0 else 0.0


def run_transport(o, emu, width, rows, shards, dump, arena):
    argv = [o.discard, f"--port={emu.grpc_port}", f"--table={WIDTHS[width][0]}", f"--shards={emu.shard_list()}"]
    if arena:
        argv.append("--arena")
    if dump:
        argv += [f"--dump={dump}", f"--dump-rows={o.dump_rows}"]
    emu0 = proc_cpu_seconds(emu.pid)
    d = run_json(argv, o.work_dir, "sv-bench-discard")
    t = Transport()
    t.width, t.rows, t.shards = width, int(d["rows"]), shards
    t.seconds, t.client_cpu, t.first_row_ms = d["seconds"], d["cpu_seconds"], d["first_row_ms"]
    t.client_rss_kb = int(d["max_rss_kb"])
    t.emulator_cpu = proc_cpu_seconds(emu.pid) - emu0
    t.emulator_hwm_kb = proc_status_kb(emu.pid, "VmHWM")
    if t.rows != rows:
        die(f"sv-bench-discard received {t.rows} rows, expected {rows}")
    return t


class Ceilings:  # (a), (c), (d) for one width
    def __init__(self, width):
        self.width = width
        self.dump_rows = 0
        self.line_bytes = 0.0  # average RECORD line length (rendered by (c))
        self.cat_records_per_s = self.cat_mb_per_s = self.cat_seconds = 0.0
        self.render_records_per_s = self.render_cpu_per_m = 0.0
        self.go_records_per_s = self.go_cpu_per_m = 0.0
        self.go_dropped = 0  # rows the Go encoder refused per pass (dropped, as the Go connector does)
        self.have_go = False


def run_ceilings(o, width, dump):
    c = Ceilings(width)
    jsonl = f"{o.work_dir}/{width}.jsonl"
    # (c) the value writer alone; one pass with --out also leaves the JSONL for (a).
    once = run_json([o.render, f"--dump={dump}", f"--out={jsonl}"], o.work_dir, "sv-bench-render")
    c.dump_rows = int(once["rows"])
    c.line_bytes = once["bytes"] / c.dump_rows if c.dump_rows else 0.0
    timed = run_json([o.render, f"--dump={dump}", "--min-seconds=%.2f" % o.min_seconds], o.work_dir, "sv-bench-render")
    c.render_records_per_s = timed["rows"] / timed["seconds"]
    c.render_cpu_per_m = timed["cpu_seconds"] * 1e6 / timed["rows"]
    # (a) cat of the rendered lines through the same pipe reader (repeated so it lasts long enough).
    repeat = max(1, math.ceil(2e8 / max(1.0, c.line_bytes * c.dump_rows)))
    t0 = time.monotonic()
    proc = spawn(["cat"] + [jsonl] * min(repeat, 20), subprocess.PIPE, f"{o.work_dir}/cat.err")
    st = read_pipe(o, proc, t0, False)
    wait_child(proc)
    c.cat_seconds = time.monotonic() - t0
    c.cat_records_per_s = st.records / c.cat_seconds
    c.cat_mb_per_s = st.bytes / 1e6 / c.cat_seconds
    # (d) the Go-style baseline.
    if o.go_baseline:
        g = run_json([o.go_baseline, f"--dump={dump}", "--min-seconds=%.2f" % o.min_seconds], o.work_dir,
                     "go baseline")
        c.have_go = True
        c.go_records_per_s = g["rows"] / g["seconds"]
        c.go_cpu_per_m = g["cpu_seconds"] * 1e6 / g["rows"]
        c.go_dropped = int(g["dropped"]) // max(1, int(g["passes"]))
    os.unlink(jsonl)
    return c


# ------------------------------------------------------------------------------------------------
# The extract case: `source-vitess extract` of one table to files, in every format and
# compression, next to a read of the same table to a pipe and the transport ceiling (b).


class ExtractRun:
    def __init__(self, fmt, compress, rows, shards):
        self.format, self.compress, self.rows, self.shards = fmt, compress, rows, shards
        self.rows_reported = 0
        self.seconds = self.cpu = self.emulator_cpu = 0.0
        self.peak_rss_kb = self.file_bytes = self.files = 0
        self.exit_code = -1
        self.problem = ""  # why the run does not count (exit, rows, leftover .part), "" = fine
        self.disk_seconds = 0.0  # uncompressed runs: write + fdatasync of the same bytes (disk ceiling)

    def rows_per_s(self):
        return self.rows / self.seconds if self.seconds > 0 else 0.0

    def mb_per_s(self):
        return self.file_bytes / 1e6 / self.seconds if self.seconds > 0 else 0.0

    def per_m(self, c):
        return c * 1e6 / self.rows if self.rows else 0.0


class ExtractResults:
    def __init__(self):
        self.rows = self.shards = 0
        self.table = self.width = ""
        self.read = None  # the same table read to a pipe
        self.transport = None  # (b) on the same emulator
        self.runs = []
        self.total_seconds = 0.0


def count_in_file(path, needle):
    """Counts `needle` in a file (line counts of the uncompressed outputs)."""
    n = 0
    with open(path, "rb") as f:
        carry = b""
        while True:
            chunk = f.read(1 << 24)
            if not chunk:
                return n
            window = carry + chunk
            n += window.count(needle)
            carry = window[-(len(needle) - 1):] if len(needle) > 1 else b""


# The synthetic emulator has no MySQL front for discovery, so extract takes its columns from a
# catalog: `bench_typical` (the extract case's table, WIDTHS["typical"]) as discover reports it.
EXTRACT_CATALOG = (
    '{"streams":[{"stream":{"name":"bench_typical","namespace":"commerce","json_schema":{"type":"object",'
    '"properties":{"id":{"type":["number"],"airbyte_type":"integer"},'
    '"customer_id":{"type":["number"],"airbyte_type":"integer"},'
    '"ext_ref":{"type":["null","number"],"airbyte_type":"integer"},"amount":{"type":["number"]},'
    '"email":{"type":["string"]},"name":{"type":["null","string"]},'
    '"created_at":{"type":["null","string"],"format":"date-time","airbyte_type":"timestamp_without_timezone"},'
    '"updated_at":{"type":["null","string"],"format":"date-time","airbyte_type":"timestamp_with_timezone"},'
    '"active":{"type":["boolean"]},"attrs":{"type":["null","string"]}}},'
    '"supported_sync_modes":["full_refresh","incremental"],"source_defined_cursor":true},"sync_mode":"full_refresh",'
    '"destination_sync_mode":"append"}]}')


def disk_write_seconds(src, dst):
    """Disk ceiling: writes the bytes of `src` to `dst` in 1 MiB write(2)s, then fdatasync, as the
    extract's final checkpoint does; returns the seconds (0 on error). Only the write is timed."""
    with open(src, "rb") as f:
        data = f.read()
    try:
        fd = os.open(dst, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    except OSError:
        return 0.0
    view = memoryview(data)
    t0 = time.monotonic()
    try:
        off = 0
        while off < len(data):
            off += os.write(fd, view[off:off + (1 << 20)])
        os.fdatasync(fd)
        s = time.monotonic() - t0
    except OSError:
        s = 0.0
    os.close(fd)
    os.unlink(dst)
    return s


def run_extract_once(o, emu, table, rows, fmt, compress):
    out_dir = f"{emu.dir}/extract-{fmt}-{compress}"
    shutil.rmtree(out_dir, ignore_errors=True)
    write_text(f"{emu.dir}/config.json", config_json(emu))
    write_text(f"{emu.dir}/extract-catalog.json", EXTRACT_CATALOG)
    argv = [o.connector, "extract", "--config", f"{emu.dir}/config.json", "--catalog",
            f"{emu.dir}/extract-catalog.json", "--output-dir", out_dir, "--tables", table, "--format", fmt,
            "--compress", compress]
    out, err = f"{emu.dir}/extract.out", f"{emu.dir}/extract.err"
    if os.path.exists(err):
        os.unlink(err)
    r = ExtractRun(fmt, compress, rows, len(emu.shard_names))
    emu0 = proc_cpu_seconds(emu.pid)
    t0 = time.monotonic()
    with open(out, "wb") as f:
        proc = spawn(argv, f, err)
    r.exit_code, r.cpu, r.peak_rss_kb = wait_child(proc)
    r.seconds = time.monotonic() - t0
    r.emulator_cpu = proc_cpu_seconds(emu.pid) - emu0
    # The summary line: rows written per table.
    try:
        d = json.loads(read_text(out))
    except ValueError:
        d = None
    if isinstance(d, dict) and isinstance(d.get("tables"), list):
        for t in d["tables"]:
            if isinstance(t, dict) and isinstance(t.get("rows"), int) and t["rows"] >= 0:
                r.rows_reported += t["rows"]
    ext = fmt + {"gzip": ".gz", "zstd": ".zst"}.get(compress, "")
    part_left = False
    if os.path.isdir(out_dir):
        for name in os.listdir(out_dir):
            if name == "_state.json":
                continue
            part_left = part_left or name.endswith(".part")
            try:
                r.file_bytes += os.stat(f"{out_dir}/{name}").st_size
                r.files += 1
            except OSError:
                pass
    if r.exit_code != 0:
        r.problem = f"exit {r.exit_code}"
        print(f"sv-bench: source-vitess extract exited {r.exit_code}; stderr:\n{read_text(err)}", file=sys.stderr)
    elif r.rows_reported != rows:
        r.problem = f"summary reports {r.rows_reported} rows"
    elif part_left or r.files != 1:
        r.problem = f"files: {r.files}" + (" (a .part is left)" if part_left else "")
    elif compress == "none":
        # Uncompressed outputs are cheap to count: one line per row (+ the CSV header).
        file = f"{out_dir}/{table}.{ext}"
        lines = count_in_file(file, b"\r\n" if fmt == "csv" else b"\n")
        if lines != rows + (1 if fmt == "csv" else 0):
            r.problem = f"{lines} lines in {file}"
        r.disk_seconds = disk_write_seconds(file, f"{out_dir}/disk-ceiling.tmp")
    if r.problem:
        r.exit_code = 99 if r.exit_code == 0 else r.exit_code
    shutil.rmtree(out_dir, ignore_errors=True)
    return r


def run_extract_case(o):
    x = ExtractResults()
    t0 = time.monotonic()
    x.width = "typical"
    x.table = WIDTHS["typical"][0]
    x.rows, x.shards = o.extract_rows, o.ceiling_shards
    with Emulator(o, x.table, x.rows, x.shards, "extract") as emu:
        print(f"sv-bench: extract case: {x.table}, {human_rows(x.rows)} rows, {x.shards} shards [{emu.shard_list()}]",
              file=sys.stderr)
        run_transport(o, emu, x.width, x.rows, x.shards, "", False)  # warm-up: fills the pre-encoded cache
        x.transport = run_transport(o, emu, x.width, x.rows, x.shards, "", True)
        read = run_connector(o, emu, x.table, "full_refresh", True, "", False)
        read.width, read.rows, read.shards = x.width, x.rows, x.shards
        log_run(read)
        x.read = read
        for fmt in ("jsonl", "csv"):
            for compress in ("none", "gzip", "zstd"):
                tries = []
                for _ in range(max(1, o.repeat)):
                    tries.append(run_extract_once(o, emu, x.table, x.rows, fmt, compress))
                    if tries[-1].exit_code != 0:
                        break
                r = median_run(tries)
                print("  extract %-5s %-4s %10.0f rows/s  %6.1f MB/s to files  conn %.2f s/1M  rss %.1f MiB%s"
                      % (r.format, r.compress, r.rows_per_s(), r.mb_per_s(), r.per_m(r.cpu), r.peak_rss_kb / 1024.0,
                         "  FAILED: " + r.problem if r.problem else ""), file=sys.stderr)
                x.runs.append(r)
    x.total_seconds = time.monotonic() - t0
    return x


# ------------------------------------------------------------------------------------------------
# Results: JSON, Markdown, SVG


def human_rows(n):
    if n >= 1000000 and n % 1000000 == 0:
        return f"{n // 1000000}M"
    if n >= 1000 and n % 1000 == 0:
        return f"{n // 1000}k"
    return str(n)


def ratio(a, b):
    return "%.2f" % (a / b) if b > 0 and a > 0 else "–"


def loadavg():
    return read_text("/proc/loadavg").strip()


def machine_info():
    cpu = ""
    for line in read_text("/proc/cpuinfo").splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    return {
        "cpu": cpu,
        "cores": os.sysconf("SC_NPROCESSORS_ONLN"),
        "mem_gib": os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGESIZE") / (1024.0 ** 3),
        "kernel": f"{platform.system()} {platform.release()}",
        "commit": commit,
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "loadavg_start": loadavg(),
        "loadavg_end": "",
    }


def machine_json(o, m):
    """The "mode" and "machine" members of a results file."""
    return {"mode": "quick" if o.quick else "full", "machine": dict(m, note=o.note)}


def run_json_obj(r):
    d = {"kind": r.kind, "width": r.width, "table": r.table, "rows": r.rows, "shards": r.shards, "output": r.output,
         "exit_code": r.exit_code, "records": r.records, "records_counted": r.records_counted,
         "seconds": r.seconds, "records_per_s": r.records_per_s()}
    if r.records_counted:
        d.update(stdout_bytes=r.bytes, stdout_mb_per_s=r.mb_per_s(), ttfr_ms=r.ttfr_ms, reader_cpu_s=r.reader_cpu)
    d.update(connector_cpu_s=r.connector_cpu, connector_cpu_s_per_1m=r.per_m(r.connector_cpu),
             emulator_cpu_s=r.emulator_cpu, emulator_cpu_s_per_1m=r.per_m(r.emulator_cpu),
             peak_rss_mib=r.peak_rss_kb / 1024.0)
    return d


def dump_json(obj):
    return json.dumps(obj, indent=2, ensure_ascii=False) + "\n"


def results_json(o, m, res):
    d = machine_json(o, m)
    d["widths"] = {name: note for name, (_, note) in WIDTHS.items()}
    d["runs"] = [run_json_obj(r) for r in res["runs"]]
    transport = []
    for t in res["transport"]:
        x = {"width": t.width, "rows": t.rows, "shards": t.shards, "seconds": t.seconds,
             "records_per_s": t.records_per_s(), "client_cpu_s": t.client_cpu, "emulator_cpu_s": t.emulator_cpu,
             "emulator_cpu_s_per_1m": t.emulator_cpu * 1e6 / t.rows if t.rows else 0.0,
             "first_row_ms": t.first_row_ms, "emulator_peak_rss_mib": t.emulator_hwm_kb / 1024.0,
             "client_peak_rss_mib": t.client_rss_kb / 1024.0}
        if t.stub_records_per_s > 0:
            x.update(stub_records_per_s=t.stub_records_per_s, stub_client_cpu_s=t.stub_client_cpu)
        transport.append(x)
    d["transport_ceiling"] = transport
    ceilings = []
    for c in res["ceilings"]:
        x = {"width": c.width, "dump_rows": c.dump_rows, "record_line_bytes": c.line_bytes,
             "cat_records_per_s": c.cat_records_per_s, "cat_mb_per_s": c.cat_mb_per_s,
             "render_records_per_s": c.render_records_per_s, "render_cpu_s_per_1m": c.render_cpu_per_m}
        if c.have_go:
            x.update(go_records_per_s=c.go_records_per_s, go_cpu_s_per_1m=c.go_cpu_per_m, go_dropped_rows=c.go_dropped)
        ceilings.append(x)
    d["ceilings"] = ceilings
    socket_runs = []
    for r in res["socket"]:
        x = run_json_obj(r)
        x.pop("stdout_bytes", None)
        x.pop("stdout_mb_per_s", None)
        stdio, t = find_pipe(res, r), find_transport(res, r.width, r.rows, r.shards)
        x.update(format=r.format, sockets=r.sockets, reader=r.reader, socket_bytes=r.bytes, socket_mb_per_s=r.mb_per_s(),
                 reader_cpu_s_per_1m=r.per_m(r.reader_cpu), records_per_socket=r.per_socket, decoded_values=r.values,
                 stdio_pipe_records_per_s=stdio.records_per_s() if stdio else 0.0,
                 stdio_pipe_mb_per_s=stdio.mb_per_s() if stdio else 0.0,
                 stdio_pipe_connector_cpu_s_per_1m=stdio.per_m(stdio.connector_cpu) if stdio else 0.0,
                 transport_ceiling_records_per_s=t.records_per_s() if t else 0.0)
        socket_runs.append(x)
    d["socket_runs"] = socket_runs
    if res["cdc"] is not None:
        d["incremental"] = {"writes": res["cdc_writes"], "run": run_json_obj(res["cdc"])}
    d["total_seconds"] = res["total_seconds"]
    return dump_json(d)


def find_transport(res, width, rows, shards):
    return next((t for t in res["transport"] if (t.width, t.rows, t.shards) == (width, rows, shards)), None)


def find_pipe(res, r):
    """The STDIO pipe run of the same cell as `r`."""
    return next((p for p in res["runs"] if (p.width, p.rows, p.shards, p.output) == (r.width, r.rows, r.shards, "pipe")),
                None)


def find_ceilings(res, width):
    return next((c for c in res["ceilings"] if c.width == width), None)


def results_md(o, m, res):
    s = ("Machine: %s, %d cores, %.0f GiB, %s; commit %s; %s (%s mode, %.0f s).\n"
         % (m["cpu"], m["cores"], m["mem_gib"], m["kernel"], m["commit"], m["date"], "quick" if o.quick else "full",
            res["total_seconds"]))
    s += f"Load average at start / end: {m['loadavg_start']} / {m['loadavg_end']}."
    if o.note:
        s += " " + o.note
    s += ("\n\nConnector and emulator share the machine's cores; records/s are wall-clock. "
          "Ratios: connector records/s ÷ ceiling records/s (a, b, c) and ÷ Go-style baseline (d).\n\n")
    s += ("| width | rows | shards | output | records/s | stdout MB/s | conn CPU s/1M | emu CPU s/1M | peak RSS MiB "
          "| first RECORD ms | vs (a) cat | vs (b) transport | vs (c) render | vs (d) Go |\n")
    s += "|---|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n"
    for r in res["runs"]:
        t = find_transport(res, r.width, r.rows, r.shards)
        c = find_ceilings(res, r.width)
        pipe = r.output == "pipe"
        cells = [r.width, human_rows(r.rows), str(r.shards), r.output,
                 "%.0f" % r.records_per_s() + (f" (exit {r.exit_code})" if r.exit_code != 0 else ""),
                 "%.1f" % r.mb_per_s() if pipe else "–", "%.2f" % r.per_m(r.connector_cpu),
                 "%.2f" % r.per_m(r.emulator_cpu), "%.1f" % (r.peak_rss_kb / 1024.0),
                 "%.0f" % r.ttfr_ms if pipe and r.ttfr_ms >= 0 else "–",
                 ratio(r.records_per_s(), c.cat_records_per_s) if pipe and c else "–",
                 ratio(r.records_per_s(), t.records_per_s()) if t else "–",
                 ratio(r.records_per_s(), c.render_records_per_s) if c else "–",
                 ratio(r.records_per_s(), c.go_records_per_s) if c and c.have_go else "–"]
        s += "| " + " | ".join(cells) + " |\n"
    s += ("\nCeilings (same run). (b) is per configuration: sv-bench-discard opens the connector's VStream calls "
          "(one per shard, same request), receives each response as raw bytes, parses it on a reused protobuf Arena "
          "and drops it. \"stub parse\": the same client through the generated stub (gRPC parses into heap messages, "
          "as the connector does).\n\n")
    s += ("| width | rows | shards | (b) transport records/s | client CPU s | stub-parse records/s | stub client CPU s "
          "| emu CPU s/1M | first row ms | client peak RSS MiB | emulator peak RSS MiB |\n"
          "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
    for t in res["transport"]:
        stub = ("%.0f | %.2f" % (t.stub_records_per_s, t.stub_client_cpu)) if t.stub_records_per_s > 0 else "– | –"
        cells = [t.width, human_rows(t.rows), str(t.shards), "%.0f" % t.records_per_s(), "%.2f" % t.client_cpu, stub,
                 "%.2f" % (t.emulator_cpu * 1e6 / t.rows if t.rows else 0.0), "%.1f" % t.first_row_ms,
                 "%.0f" % (t.client_rss_kb / 1024.0), "%.0f" % (t.emulator_hwm_kb / 1024.0)]
        s += "| " + " | ".join(cells) + " |\n"
    s += ("\n(a) `cat` of pre-rendered RECORD lines through the same pipe reader; (c) the RapidJSON value writer alone, "
          "one thread; (d) Go-style baseline (map[string]interface{} + encoding/json, no gRPC/protobuf), one process. "
          "All over the same rows (a dump of a 4-shard copy).\n\n")
    s += ("| width | rows in dump | RECORD line bytes | (a) cat records/s | (a) MB/s | (c) render records/s "
          "| (c) CPU s/1M | (d) Go records/s | (d) CPU s/1M |\n")
    s += "|---|---:|---:|---:|---:|---:|---:|---:|---:|\n"
    for c in res["ceilings"]:
        go_cpu = "%.2f" % c.go_cpu_per_m if c.have_go else "–"
        if c.have_go and c.go_dropped:
            go_cpu += f" ({c.go_dropped} rows not encodable, dropped)"
        cells = [c.width, human_rows(c.dump_rows), "%.0f" % c.line_bytes, "%.0f" % c.cat_records_per_s,
                 "%.0f" % c.cat_mb_per_s, "%.0f" % c.render_records_per_s, "%.2f" % c.render_cpu_per_m,
                 "%.0f" % c.go_records_per_s if c.have_go else "–", go_cpu]
        s += "| " + " | ".join(cells) + " |\n"
    if res["socket"]:
        s += ("\nSocket mode (docs/speed-mode.md): the same cells read with DATA_CHANNEL_MEDIUM=SOCKET, drained by "
              "sv-bench-socket (one thread per socket; **frame** counts varint-delimited messages or lines, **decode** "
              "also parses every message: PROTOBUF with the generated airbyte-proto classes, JSONL with RapidJSON). "
              "MB/s = bytes read from all sockets; records/s and the ratios are wall-clock, start to exit; CPU per "
              "1M rows is load-independent. Next to it, the STDIO pipe run and the transport ceiling (b) of the same "
              "cell.\n\n")
        s += ("| width | rows | shards | format | sockets | reader | records/s | socket MB/s | conn CPU s/1M "
              "| reader CPU s/1M | STDIO pipe records/s | STDIO MB/s | STDIO conn CPU s/1M | (b) transport records/s "
              "| vs STDIO | vs (b) | records per socket |\n")
        s += "|---|---:|---:|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|\n"
        for r in res["socket"]:
            p, t = find_pipe(res, r), find_transport(res, r.width, r.rows, r.shards)
            cells = [r.width, human_rows(r.rows), str(r.shards), r.format, str(r.sockets), r.reader,
                     "%.0f" % r.records_per_s() + (f" (exit {r.exit_code})" if r.exit_code != 0 else ""),
                     "%.1f" % r.mb_per_s(), "%.2f" % r.per_m(r.connector_cpu), "%.2f" % r.per_m(r.reader_cpu),
                     "%.0f" % p.records_per_s() if p else "–", "%.1f" % p.mb_per_s() if p else "–",
                     "%.2f" % p.per_m(p.connector_cpu) if p else "–", "%.0f" % t.records_per_s() if t else "–",
                     ratio(r.records_per_s(), p.records_per_s()) if p else "–",
                     ratio(r.records_per_s(), t.records_per_s()) if t else "–",
                     " / ".join(str(n) for n in r.per_socket)]
            s += "| " + " | ".join(cells) + " |\n"
    r = res["cdc"]
    if r is not None:
        s += ("\nIncremental (CDC): %d write ops applied after a first sync of %s rows (%s, %d shards); the second "
              "read delivered %d change records in %.2f s = **%.0f CDC events/s** (whole process, start to exit), "
              "connector CPU %.2f s/1M, peak RSS %.1f MiB%s.\n"
              % (res["cdc_writes"], human_rows(r.rows), r.width, r.shards, r.records, r.seconds, r.records_per_s(),
                 r.per_m(r.connector_cpu), r.peak_rss_kb / 1024.0,
                 f", exit {r.exit_code}" if r.exit_code != 0 else ""))
    return s


COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2"]


def plot_svg(res):
    """Records/s (left) and peak RSS (right) against shard count, one line per width × rows (pipe
    output) and per socket-mode format × socket count (framing-only reader), drawn as plain SVG."""
    series = {}  # label → {"rps": [(x, y)], "rss": [(x, y)]}, in label order
    xs = set()
    for r in res["runs"]:
        if r.output != "pipe" or r.kind != "full_refresh":
            continue
        s = series.setdefault(f"{r.width} {human_rows(r.rows)} rows", {"rps": [], "rss": []})
        s["rps"].append((r.shards, r.records_per_s()))
        s["rss"].append((r.shards, r.peak_rss_kb / 1024.0))
        xs.add(r.shards)
    # Socket mode beside them: PROTOBUF on the most sockets, framing-only reader (the destination's
    # parsing left out); the other variants are in the tables.
    most = max([r.sockets for r in res.get("socket", [])] + [0])
    for r in res.get("socket", []):
        if r.reader != "frame" or r.format != "PROTOBUF" or r.sockets != most:
            continue
        s = series.setdefault(f"{r.width} {human_rows(r.rows)} socket {r.format} x{r.sockets}", {"rps": [], "rss": []})
        s["rps"].append((r.shards, r.records_per_s()))
        s["rss"].append((r.shards, r.peak_rss_kb / 1024.0))
        xs.add(r.shards)
    xs = sorted(xs)
    labels = sorted(series)
    W, H, left, top, pw, ph = 460, 300, 70, 40, 360, 200
    out = ['<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" font-size="12">\n'
           % (2 * W, H + 30 + 20 * ((len(series) + 2) // 3)),
           '<rect width="100%" height="100%" fill="white"/>\n']

    def panel(ox, title, key):
        ymax = max([y for lab in labels for _, y in series[lab][key]] + [0.0])
        if ymax <= 0:
            ymax = 1.0
        mag = 10.0 ** math.floor(math.log10(ymax))  # a nice ceiling: 1, 2, 2.5, 5 or 10 × 10^n
        ymax = next((m * mag for m in (1.0, 2.0, 2.5, 5.0, 10.0) if m * mag >= ymax), mag)

        def X(shards):
            if len(xs) <= 1:
                return ox + left + pw / 2.0
            return ox + left + pw * xs.index(shards) / (len(xs) - 1)

        def Y(v):
            return top + ph - ph * v / ymax

        out.append('<text x="%d" y="20" text-anchor="middle" font-weight="bold">%s</text>\n'
                   % (ox + left + pw // 2, title))
        out.append('<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="black"/>\n'
                   % (ox + left, top + ph, ox + left + pw, top + ph))
        out.append('<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="black"/>\n' % (ox + left, top, ox + left, top + ph))
        for i in range(5):
            v = ymax * i / 4
            y = Y(v)
            out.append('<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#ddd"/>\n' % (ox + left, y, ox + left + pw, y))
            label = "%.0f" % v if key == "rss" else ("%.2fM" % (v / 1e6) if v >= 1e6 else "%.0fk" % (v / 1e3))
            out.append('<text x="%d" y="%.1f" text-anchor="end">%s</text>\n' % (ox + left - 6, y + 4, label))
        for x in xs:
            out.append('<text x="%.1f" y="%d" text-anchor="middle">%d</text>\n' % (X(x), top + ph + 16, x))
        out.append('<text x="%d" y="%d" text-anchor="middle">shards</text>\n' % (ox + left + pw // 2, top + ph + 34))
        for ci, lab in enumerate(labels):
            pts = sorted(series[lab][key])
            c = COLORS[ci % len(COLORS)]
            poly = "".join("%.1f,%.1f " % (X(x), Y(y)) for x, y in pts)
            out.append('<polyline fill="none" stroke="%s" stroke-width="2" points="%s"/>\n' % (c, poly))
            for x, y in pts:
                out.append('<circle cx="%.1f" cy="%.1f" r="3" fill="%s"/>\n' % (X(x), Y(y), c))

    panel(0, "records/s to a pipe reader", "rps")
    panel(W, "connector peak RSS (MiB)", "rss")
    for i, lab in enumerate(labels):
        x, y = 20 + (i % 3) * 300, H + 10 + (i // 3) * 20
        out.append('<rect x="%d" y="%d" width="12" height="12" fill="%s"/><text x="%d" y="%d">%s</text>\n'
                   % (x, y - 9, COLORS[i % len(COLORS)], x + 18, y + 1, lab))
    out.append("</svg>\n")
    return "".join(out)


def extract_json(o, m, x):
    d = machine_json(o, m)
    d.update(table=x.table, rows=x.rows, shards=x.shards)
    if x.read is not None:
        d["read_pipe"] = run_json_obj(x.read)
    if x.transport is not None:
        d["transport_ceiling_records_per_s"] = x.transport.records_per_s()
    runs = []
    for r in x.runs:
        e = {"format": r.format, "compress": r.compress, "exit_code": r.exit_code}
        if r.problem:
            e["problem"] = r.problem
        e.update(rows=r.rows, seconds=r.seconds, rows_per_s=r.rows_per_s(), file_bytes=r.file_bytes,
                 file_mb_per_s=r.mb_per_s(), connector_cpu_s=r.cpu, connector_cpu_s_per_1m=r.per_m(r.cpu),
                 emulator_cpu_s_per_1m=r.per_m(r.emulator_cpu), peak_rss_mib=r.peak_rss_kb / 1024.0)
        if r.disk_seconds > 0:
            e.update(disk_ceiling_mb_per_s=r.file_bytes / 1e6 / r.disk_seconds,
                     disk_ceiling_rows_per_s=r.rows / r.disk_seconds)
        runs.append(e)
    d["runs"] = runs
    d["total_seconds"] = x.total_seconds
    return dump_json(d)


def extract_md(o, m, x):
    s = ("Machine: %s, %d cores; commit %s; %s (%s mode, %.0f s). Load average at start / end: %s / %s.%s\n\n"
         % (m["cpu"], m["cores"], m["commit"], m["date"], "quick" if o.quick else "full", x.total_seconds,
            m["loadavg_start"], m["loadavg_end"], " " + o.note if o.note else ""))
    s += (f"`source-vitess extract --tables {x.table}` of {human_rows(x.rows)} rows ({x.width}, {x.shards} shards) "
          "into one file, wall time from start to exit (files fsynced and renamed). **data MB/s**: the uncompressed "
          "file size of the same format over the run's wall time; **file MB/s**: bytes written. Same emulator, same "
          "rows: ")
    if x.read is not None:
        s += "`read` to a pipe reader **%.0f records/s**" % x.read.records_per_s()
    if x.transport is not None:
        s += ", transport ceiling (b) **%.0f rows/s**" % x.transport.records_per_s()
    s += ".\n\n"
    s += ("| format | compress | rows/s | data MB/s | file MB/s | file bytes/row | size vs uncompressed "
          "| conn CPU s/1M | peak RSS MiB | vs read | vs (b) transport |\n")
    s += "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n"
    for r in x.runs:
        plain = 0
        for p in x.runs:
            if p.format == r.format and p.compress == "none":
                plain = p.file_bytes
        cells = [r.format, r.compress, "%.0f" % r.rows_per_s() + (f" ({r.problem})" if r.problem else ""),
                 "%.1f" % (plain / 1e6 / r.seconds) if plain and r.seconds > 0 else "–", "%.1f" % r.mb_per_s(),
                 "%.0f" % (r.file_bytes / r.rows if r.rows else 0.0),
                 "%.2f" % (r.file_bytes / plain) if plain else "–", "%.2f" % r.per_m(r.cpu),
                 "%.1f" % (r.peak_rss_kb / 1024.0),
                 ratio(r.rows_per_s(), x.read.records_per_s()) if x.read is not None else "–",
                 ratio(r.rows_per_s(), x.transport.records_per_s()) if x.transport is not None else "–"]
        s += "| " + " | ".join(cells) + " |\n"
    disk = "; ".join("%s %.0f MB in %.2f s = %.0f MB/s (%.0f rows/s)"
                     % (r.format, r.file_bytes / 1e6, r.disk_seconds, r.file_bytes / 1e6 / r.disk_seconds,
                        r.rows / r.disk_seconds) for r in x.runs if r.disk_seconds > 0)
    if disk:
        s += ("\nDisk ceiling (same run, after each uncompressed extract): the same bytes written to the same "
              "directory in 1 MiB writes, then fdatasync: " + disk + ".\n")
    return s


def replace_between(path, begin, end, text):
    """Replaces the text between two markers in a doc file; False when the markers are missing."""
    doc = read_text(path)
    b, e = doc.find(begin), doc.find(end)
    if b < 0 or e < 0 or e < b:
        return False
    write_text(path, doc[:b + len(begin)] + "\n" + text + "\n" + doc[e:])
    return True


# ------------------------------------------------------------------------------------------------
# The matrix


def log_run(r):
    print("  %-7s %-8s %2d shards %-7s %10.0f rec/s  conn %.2f s/1M  emu %.2f s/1M  rss %.1f MiB%s%s"
          % (r.width, human_rows(r.rows), r.shards, r.output, r.records_per_s(), r.per_m(r.connector_cpu),
             r.per_m(r.emulator_cpu), r.peak_rss_kb / 1024.0,
             "  first RECORD %.0f ms" % r.ttfr_ms if r.ttfr_ms >= 0 else "",
             f"  EXIT {r.exit_code}" if r.exit_code != 0 else ""), file=sys.stderr)


def run_matrix(o, res):
    # Part 1: every width at each row count in o.rows; part 2: typical at big_rows.
    parts = [(r, o.shards, o.widths, r == o.rows[0], True) for r in o.rows]
    if o.big_rows > 0:
        parts.append((o.big_rows, o.big_shards, ["typical"], False, False))
    for rows, shard_counts, widths, ceilings, devnull in parts:
        for shards in shard_counts:
            tables = ",".join(WIDTHS[w][0] for w in widths)
            with Emulator(o, tables, rows, shards, f"{human_rows(rows)}-{shards}") as emu:
                print(f"sv-bench: {human_rows(rows)} rows, {shards} shard(s) [{emu.shard_list()}]", file=sys.stderr)
                for w in widths:
                    run_width(o, res, emu, w, rows, shards, ceilings and shards == o.ceiling_shards, devnull)


def run_width(o, res, emu, w, rows, shards, want_dump, devnull):
    dump = f"{o.work_dir}/{w}.dump"
    # Warm-up: the first copy fills the emulator's pre-encoded cache (and writes the dump).
    tw = time.monotonic()
    run_transport(o, emu, w, rows, shards, dump if want_dump else "", False)
    print("  %-7s warm-up copy %.1f s" % (w, time.monotonic() - tw), file=sys.stderr)
    # (b) transport ceiling, warm: raw bytes parsed on a reused Arena, then dropped; in the first
    # part also through the generated stub (heap parse, like the connector).
    t = run_transport(o, emu, w, rows, shards, "", True)
    if devnull:
        stub = run_transport(o, emu, w, rows, shards, "", False)
        t.stub_records_per_s, t.stub_client_cpu = stub.records_per_s(), stub.client_cpu
    print("  %-7s (b) transport %10.0f rec/s (stub parse %.0f)  emu %.2f s/1M"
          % (w, t.records_per_s(), t.stub_records_per_s, t.emulator_cpu * 1e6 / t.rows), file=sys.stderr)
    res["transport"].append(t)
    for pipe in (True, False):
        if not pipe and not devnull and shards != o.ceiling_shards:
            continue
        tries = []
        for _ in range(max(1, o.repeat)):
            tries.append(run_connector(o, emu, WIDTHS[w][0], "full_refresh", pipe, "", False))
            if tries[-1].exit_code != 0:
                break
        r = median_run(tries)
        r.width, r.rows, r.shards = w, rows, shards
        if not r.records_counted:
            r.records = rows if r.exit_code == 0 else 0
        log_run(r)
        if r.records_counted and r.records != rows:
            print(f"sv-bench: expected {rows} RECORD lines, got {r.records}", file=sys.stderr)
            r.exit_code = 99 if r.exit_code == 0 else r.exit_code
        res["runs"].append(r)
    if devnull and o.socket and o.socket_reader:
        run_socket_cells(o, res, emu, w, rows, shards)
    if want_dump:
        c = run_ceilings(o, w, dump)
        print("  %-7s (a) cat %.0f rec/s (%.0f MB/s)  (c) render %.0f rec/s  (d) Go %s rec/s"
              % (w, c.cat_records_per_s, c.cat_mb_per_s, c.render_records_per_s,
                 "%.0f" % c.go_records_per_s if c.have_go else "n/a"), file=sys.stderr)
        res["ceilings"].append(c)
        os.unlink(dump)


def run_socket_cells(o, res, emu, w, rows, shards):
    """Socket mode of one cell: every format × socket count × reader mode."""
    for fmt in o.socket_formats:
        for n in o.socket_counts:
            for mode in o.socket_readers:
                tries = []
                for _ in range(max(1, o.repeat)):
                    tries.append(run_socket(o, emu, WIDTHS[w][0], fmt, n, mode))
                    if tries[-1].exit_code != 0:
                        break
                r = median_run(tries)
                r.width, r.rows, r.shards = w, rows, shards
                problem = ""
                if r.records != rows:
                    problem = f"expected {rows} records, the sockets carried {r.records}"
                elif r.bad:
                    problem = f"{r.bad} messages broken or not parsed"
                elif mode == "decode" and r.values == 0:
                    problem = "no value decoded"
                if problem:
                    print(f"sv-bench: socket mode: {problem}", file=sys.stderr)
                    r.exit_code = 99 if r.exit_code == 0 else r.exit_code
                print("  %-7s %-8s %2d shards socket %-8s x%d %-6s %10.0f rec/s %7.1f MB/s  conn %.2f s/1M  "
                      "reader %.2f s/1M  per socket %s%s"
                      % (w, human_rows(rows), shards, fmt, n, mode, r.records_per_s(), r.mb_per_s(),
                         r.per_m(r.connector_cpu), r.per_m(r.reader_cpu), r.per_socket,
                         f"  EXIT {r.exit_code}" if r.exit_code != 0 else ""), file=sys.stderr)
                res["socket"].append(r)


def run_cdc(o, res):
    """A first sync, N write ops, then a read from the saved state (change events only)."""
    shards = o.ceiling_shards
    table = WIDTHS["typical"][0]
    with Emulator(o, table, o.cdc_rows, shards, "cdc") as emu:
        first = run_connector(o, emu, table, "incremental", True, "", True)
        if first.exit_code != 0:
            die("incremental first sync failed")
        state = state_from_output(first.output_text)
        emu.http("POST", f"/writes?count={o.cdc_writes}")
        r = run_connector(o, emu, table, "incremental", True, state, False)
    r.width, r.rows, r.shards = "typical", o.cdc_rows, shards
    print("sv-bench: incremental: %d change records in %.2f s = %.0f events/s (exit %d)"
          % (r.records, r.seconds, r.records_per_s(), r.exit_code), file=sys.stderr)
    # Every write op is one single-row transaction of the one table: exactly one change record
    # each (inserts and updates the after image, deletes the before image).
    if r.records != o.cdc_writes:
        print(f"sv-bench: expected {o.cdc_writes} change records, got {r.records}", file=sys.stderr)
        r.exit_code = 99 if r.exit_code == 0 else r.exit_code
    res["cdc"], res["cdc_writes"] = r, o.cdc_writes


def finish_extract(o, m, x):
    """Writes extract.{json,md} (and the doc's extract section); True when every extract run passed."""
    m["loadavg_end"] = loadavg()
    os.makedirs(o.out_dir, exist_ok=True)
    write_text(f"{o.out_dir}/extract.json", extract_json(o, m, x))
    write_text(f"{o.out_dir}/extract.md", extract_md(o, m, x))
    print(f"sv-bench: wrote {o.out_dir}/extract.{{json,md}}", file=sys.stderr)
    if o.doc:
        if replace_between(o.doc, "<!-- bench-extract:begin -->", "<!-- bench-extract:end -->", extract_md(o, m, x)):
            print(f"sv-bench: updated the extract section of {o.doc}", file=sys.stderr)
        else:
            print(f"sv-bench: {o.doc} has no bench-extract markers; not updated", file=sys.stderr)
    ok = x.read is not None and x.read.exit_code == 0 and x.read.records == x.rows
    return ok and all(r.exit_code == 0 for r in x.runs)


def run_profile(o):
    """Warms the emulator's cache, then one read under the --profile wrapper."""
    table = WIDTHS["typical"][0]
    with Emulator(o, table, o.profile_rows, o.ceiling_shards, "profile") as emu:
        run_transport(o, emu, "typical", o.profile_rows, o.ceiling_shards, "", False)
        r = run_connector(o, emu, table, "full_refresh", True, "", False, o.profile)
    r.width, r.rows, r.shards = "typical", o.profile_rows, o.ceiling_shards
    log_run(r)
    return 0 if r.exit_code == 0 and r.records == o.profile_rows else 1


def run(o):
    if o.profile:
        return run_profile(o)
    m = machine_info()
    print(f"sv-bench: {'quick' if o.quick else 'full'} mode, work dir {o.work_dir}, load {m['loadavg_start']}",
          file=sys.stderr)
    if o.extract_only:
        if o.extract_rows == 0:
            die("--extract-only with --extract-rows=0")
        return 0 if finish_extract(o, m, run_extract_case(o)) else 1
    res = {"runs": [], "transport": [], "ceilings": [], "socket": [], "cdc": None, "cdc_writes": 0,
           "total_seconds": 0.0}
    if o.socket and not o.socket_reader:
        print("sv-bench: no --socket-reader: socket mode skipped", file=sys.stderr)
    t_all = time.monotonic()
    run_matrix(o, res)
    if o.cdc_rows > 0:
        run_cdc(o, res)
    extract = run_extract_case(o) if o.extract_rows > 0 else None
    res["total_seconds"] = time.monotonic() - t_all
    m["loadavg_end"] = loadavg()
    os.makedirs(o.out_dir, exist_ok=True)
    write_text(f"{o.out_dir}/results.json", results_json(o, m, res))
    write_text(f"{o.out_dir}/results.md", results_md(o, m, res))
    write_text(f"{o.out_dir}/plot.svg", plot_svg(res))
    print("sv-bench: wrote %s/results.{json,md} and plot.svg in %.0f s" % (o.out_dir, res["total_seconds"]),
          file=sys.stderr)
    if o.doc:
        if replace_between(o.doc, "<!-- bench:begin -->", "<!-- bench:end -->", results_md(o, m, res)):
            print(f"sv-bench: updated {o.doc}", file=sys.stderr)
        else:
            print(f"sv-bench: {o.doc} has no bench:begin/bench:end markers; not updated", file=sys.stderr)
    ok = all(r.exit_code == 0 for r in res["runs"] + res["socket"])
    ok = ok and (o.cdc_rows == 0 or (res["cdc"] is not None and res["cdc"].exit_code == 0))
    if extract is not None:
        ok = finish_extract(o, m, extract) and ok
    return 0 if ok else 1


def main():
    o = Options(sys.argv[1:])
    try:
        return run(o)
    finally:
        for p in list(_emulators):
            p.kill()
            p.wait()
        if o.own_work_dir:  # dumps, rendered JSONL and emulator logs go away at the end
            shutil.rmtree(o.work_dir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
