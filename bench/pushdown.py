#!/usr/bin/env python3
"""Bytes and CPU of a copy with the catalog's column selection pushed down into the VStream filter.

  bench/pushdown.py --build-dir build-rel --mysql-port P [--rows 100000] [--shards 4]
                    [--table all_types] [--columns id,c_int,c_varchar,c_decimal,c_datetime] [--repeat 2]

Starts a synthetic vtgate-emulator (--pre-encoded) with one table and full-refreshes it with
source-vitess (stdout to /dev/null) in three ways:
  narrowed  the catalog selects --columns; the connector reads the table's columns from the
            MySQL server on --mysql-port (a MariaDB holding an empty copy of the table in database
            `commerce`, plus an empty database `commerce@primary`: the connector logs in with
            vtgate's target syntax; user vt/vtpass) and sends `SELECT <columns> FROM t`;
  star      the same catalog, but the MySQL port answers nothing: columns unknown, `SELECT *`
            (what every read did before the push-down; the connector drops the other columns);
  all       every column (empty properties), `SELECT *`.
For each: the bytes the emulator sent (its /status bytes_sent: serialized VStreamResponses), the
connector's CPU seconds (user+sys, from wait4) and its wall time; the best of --repeat runs (the
first run of each shape also fills the emulator's pre-encoded cache). Then sv-bench-discard
--count-bytes with and without --columns: the wire bytes a client parses. Python stdlib only."""
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request


def arg(name, default):
    for a in sys.argv[1:]:
        if a.startswith(f"--{name}="):
            return a.split("=", 1)[1]
    if f"--{name}" in sys.argv:
        return sys.argv[sys.argv.index(f"--{name}") + 1]
    return default


build = os.path.abspath(arg("build-dir", "build-rel"))
mysql_port = int(arg("mysql-port", "0"))
rows = int(arg("rows", "100000"))
shards = arg("shards", "4")
table = arg("table", "all_types")
columns = arg("columns", "id,c_int,c_varchar,c_decimal,c_datetime").split(",")
repeat = int(arg("repeat", "2"))
if not mysql_port:
    sys.exit(__doc__)
work = tempfile.mkdtemp(prefix="sv-pushdown-")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


ports_file = f"{work}/ports"
emu = subprocess.Popen([f"{build}/src/cli/vtgate-emulator", f"--shards={shards}", f"--tables={table}",
                        f"--rows={rows}", "--pre-encoded", f"--port-file={ports_file}", "--log-level=warn"],
                       stdout=subprocess.DEVNULL, stderr=open(f"{work}/emu.err", "wb"))
deadline = time.monotonic() + 120
while not (os.path.exists(ports_file) and "}" in open(ports_file).read()):
    if emu.poll() is not None or time.monotonic() > deadline:
        sys.exit("emulator did not start: " + open(f"{work}/emu.err").read())
    time.sleep(0.05)
ports = json.load(open(ports_file))


def status():
    with urllib.request.urlopen(f"http://127.0.0.1:{ports['control_port']}/status") as r:
        return json.load(r)


def config(port):
    return json.dumps({"host": "127.0.0.1", "grpc_port": ports["grpc_port"], "mysql_port": port,
                       "tls_mode": "disabled", "database": "commerce", "username": "vt", "password": "vtpass",
                       "timeout_seconds": 86400})


def catalog(cols):
    # Properties without a type: nothing for the decoder's type check to compare.
    props = {c: {} for c in cols}
    return json.dumps({"streams": [{"stream": {"name": table, "namespace": "commerce",
                                               "json_schema": {"type": "object", "properties": props},
                                               "supported_sync_modes": ["full_refresh"]},
                                    "sync_mode": "full_refresh", "destination_sync_mode": "overwrite"}]})


def read(name, port, cols):
    open(f"{work}/{name}.config", "w").write(config(port))
    open(f"{work}/{name}.catalog", "w").write(catalog(cols))
    before = status()["bytes_sent"]
    t0 = time.monotonic()
    p = subprocess.Popen([f"{build}/src/cli/source-vitess", "read", "--config", f"{work}/{name}.config",
                          "--catalog", f"{work}/{name}.catalog"], stdout=subprocess.DEVNULL,
                         stderr=open(f"{work}/{name}.err", "wb"))
    _, code, ru = os.wait4(p.pid, 0)
    wall = time.monotonic() - t0
    if code != 0:
        sys.exit(f"{name}: source-vitess failed: " + open(f"{work}/{name}.err").read()[-2000:])
    return {"bytes": status()["bytes_sent"] - before, "cpu": ru.ru_utime + ru.ru_stime, "wall": wall}


dead = free_port()
cases = [("narrowed", mysql_port, columns), ("star", dead, columns), ("all", dead, [])]
best = {}
for _ in range(repeat):
    for name, port, cols in cases:
        r = read(name, port, cols)
        if name not in best or r["cpu"] < best[name]["cpu"]:
            best[name] = r
        print(name, r, file=sys.stderr)

shard_names = ",".join(s.split("/", 1)[1] for s in status()["shards"])


def discard(extra):
    out = subprocess.run([f"{build}/bench/sv-bench-discard", f"--port={ports['grpc_port']}", f"--table={table}",
                          f"--shards={shard_names}", "--count-bytes"] + extra, capture_output=True, text=True,
                         check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


wire_narrow = discard([f"--columns={','.join(columns)}"])
wire_all = discard([])
emu.terminate()
emu.wait()
load = open("/proc/loadavg").read().split()[:3]
print(f"{rows} rows of {table} on {shards} shards, load {' '.join(load)}")
print("| read | bytes sent by the emulator | connector CPU s (user+sys) | wall s |")
print("|---|---:|---:|---:|")
for name, label in [("narrowed", f"{len(columns)} columns, pushed down"),
                    ("star", f"{len(columns)} columns, `SELECT *` (before)"), ("all", "every column")]:
    r = best[name]
    print(f"| {label} | {r['bytes']:,} | {r['cpu']:.2f} | {r['wall']:.1f} |")
print(f"sv-bench-discard wire bytes: {wire_narrow['wire_bytes']:,} with --columns, {wire_all['wire_bytes']:,} without "
      f"({wire_narrow['rows']:,} / {wire_all['rows']:,} rows)")
