"""What docker/image-test and tests/acceptance/run.py share: the MariaDB-backed cluster on
loopback (scripts/cluster, plus a second emulator over TLS on the same shards) and the
connector, run either as the built binary or as the image the way the Airbyte platform runs it.

Standard library only (the suite runs where only Debian's python3 is installed).
"""
import hashlib
import json
import os
import shutil
import subprocess
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# Where the platform puts the job's files (Airbyte's worker: source_config.json,
# source_catalog.json, input_state.json in the job directory), mounted read-only.
IMAGE_FILES = {"config": "source_config.json", "catalog": "source_catalog.json", "state": "input_state.json"}


class Failure(Exception):
    pass


def check(cond, what):
    if not cond:
        raise Failure(what)


class Cluster:
    """scripts/cluster up --sample: N MariaDB shards, customers (rows) and orders (2 x rows)
    routed by md5 of the primary key, the emulator in front. With tls=True a second emulator
    serves the same shards over TLS (a throw-away CA from tests/emulator/gen_test_certs.sh)."""

    def __init__(self, emulator, shards=2, rows=100, tls=False, work=None, emulator_args=()):
        self.emulator = os.path.abspath(emulator)
        self.work = work or tempfile.mkdtemp(prefix="source-vitess-acceptance-")
        self.dir = os.path.join(self.work, "cluster")
        self.rows = rows
        self.tls_proc = None
        env = dict(os.environ, VTGATE_EMULATOR=self.emulator)
        up = subprocess.run([os.path.join(REPO, "scripts/cluster"), "up", "--shards", str(shards), "--dir", self.dir,
                             "--sample", "--rows", str(rows)] + [a for arg in emulator_args for a in ("--emulator-arg", arg)], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
        if up.returncode != 0:
            self.down()
            raise Failure(f"scripts/cluster up failed (exit {up.returncode}): {up.stderr.strip()[-500:]}")
        self.shards = json.load(open(os.path.join(self.dir, "shards.json")))
        self.plain_config = json.load(open(os.path.join(self.dir, "config.json")))
        self.tls_config = self._start_tls() if tls else None

    def _start_tls(self):
        certs = os.path.join(self.work, "certs")
        subprocess.run([os.path.join(REPO, "tests/emulator/gen_test_certs.sh"), certs], check=True)
        ports = os.path.join(self.work, "tls-ports.json")
        self.tls_proc = subprocess.Popen(
            [self.emulator, "--backend=mariadb", "--mariadb-shards=" + os.path.join(self.dir, "shards.json"),
             "--keyspace=commerce", "--user=vt", "--password=vtpass", "--port-file=" + ports,
             "--tls-cert=" + os.path.join(certs, "server.pem"), "--tls-key=" + os.path.join(certs, "server.key")],
            stdout=subprocess.DEVNULL, stderr=open(os.path.join(self.work, "tls-emulator.log"), "w"))
        for _ in range(100):
            if os.path.exists(ports) and os.path.getsize(ports) > 0:
                break
            time.sleep(0.1)
        p = json.load(open(ports))
        self.ca_path = os.path.join(certs, "ca.pem")
        return dict(self.plain_config, grpc_port=p["grpc_port"], mysql_port=p["mysql_port"],
                    tls_mode="verify_identity", ca_certificate=open(self.ca_path).read())

    def shard_of(self, pk):
        b = hashlib.md5(str(pk).encode()).digest()[0]
        for s in self.shards:
            lo, hi = s["shard"].split("-")
            if (int(lo, 16) if lo else 0) <= b < (int(hi, 16) if hi else 256):
                return s
        raise ValueError(pk)

    def sql(self, statement, pk=None):
        """Runs SQL on the shard that owns pk, or on every shard when pk is None."""
        for s in [self.shard_of(pk)] if pk is not None else self.shards:
            subprocess.run(["mariadb", "--no-defaults", "-h127.0.0.1", "-P%d" % s["port"], "-u" + s["user"],
                            s["database"], "-e", statement], check=True, env=dict(os.environ, MYSQL_PWD=s["password"]))

    def down(self):
        if self.tls_proc:
            self.tls_proc.terminate()
            self.tls_proc.wait(timeout=10)
        subprocess.run([os.path.join(REPO, "scripts/cluster"), "down", "--dir", self.dir],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        shutil.rmtree(self.work, ignore_errors=True)


class Run:
    def __init__(self, code, out, err, seconds):
        self.code, self.err, self.seconds = code, err, seconds
        self.messages = []
        for line in out.splitlines():
            if not line.strip():
                continue
            try:
                self.messages.append(json.loads(line))
            except ValueError:
                raise Failure("stdout line is not an Airbyte message: " + line[:160])

    def of_type(self, t):
        return [m for m in self.messages if m["type"] == t]

    def records(self, stream=None):
        return [m["record"] for m in self.of_type("RECORD") if stream is None or m["record"]["stream"] == stream]

    def states(self):
        return [m["state"] for m in self.of_type("STATE")]

    def statuses(self):
        """[(stream, status)] in output order."""
        return [(m["trace"]["stream_status"]["stream_descriptor"]["name"], m["trace"]["stream_status"]["status"])
                for m in self.of_type("TRACE") if m["trace"]["type"] == "STREAM_STATUS"]

    def errors(self):
        return [m["trace"]["error"] for m in self.of_type("TRACE") if m["trace"]["type"] == "ERROR"]

    def last_states(self):
        """The state the platform saves and hands back: the last STATE of each stream."""
        last = {}
        for s in self.states():
            last[s["stream"]["stream_descriptor"]["name"]] = s
        return list(last.values())


class Connector:
    """The connector as the built binary (image=None) or as the image, run as the platform runs
    it: the job's files mounted read-only under /airbyte, the command started through the
    image's $AIRBYTE_ENTRYPOINT by a shell, as the image's user, on the host network (the
    cluster listens on 127.0.0.1)."""

    def __init__(self, binary=None, image=None):
        self.binary, self.image = binary and os.path.abspath(binary), image
        self.name = "image " + image if image else "binary"

    def podman(self, *args, **kw):
        return subprocess.run(["bash", "-c", 'source "$0" && podman_cmd "$@"',
                               os.path.join(REPO, "docker/podman-env")] + list(args), **kw)

    def run(self, command, config=None, catalog=None, state=None, extra_args=(), timeout=300):
        files = {k: v for k, v in (("config", config), ("catalog", catalog), ("state", state)) if v is not None}
        tmp = tempfile.mkdtemp(prefix="source-vitess-job-")
        try:
            args, mounts = [command], []
            for kind, content in files.items():
                host = os.path.join(tmp, IMAGE_FILES[kind])
                with open(host, "w") as f:
                    json.dump(content, f)
                os.chmod(host, 0o644)
                inside = "/airbyte/" + IMAGE_FILES[kind] if self.image else host
                mounts += ["-v", host + ":" + inside + ":ro"]
                args += ["--" + kind, inside]
            args += list(extra_args)
            if self.image:
                argv = ["bash", "-c", 'source "$0" && podman_cmd run --rm "${podman_run_flags[@]}" "$@"',
                        os.path.join(REPO, "docker/podman-env")] + mounts + [
                    "--entrypoint", "/bin/sh", self.image, "-c", 'exec $AIRBYTE_ENTRYPOINT "$@"', "sh"] + args
            else:
                argv = [self.binary] + args
            start = time.monotonic()
            p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout)
            return Run(p.returncode, p.stdout.decode(), p.stderr.decode(errors="replace"),
                       time.monotonic() - start)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


def configured_catalog(catalog, sync_mode, streams=None):
    return {"streams": [{"stream": s, "sync_mode": sync_mode,
                         "destination_sync_mode": "append_dedup" if sync_mode == "incremental" else "overwrite",
                         "cursor_field": s.get("default_cursor_field", []),
                         "primary_key": s["source_defined_primary_key"]}
                        for s in catalog["streams"] if streams is None or s["name"] in streams]}
