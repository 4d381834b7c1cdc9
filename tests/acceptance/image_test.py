#!/usr/bin/env python3
"""The connector image run the way the Airbyte platform runs it (docker/image-test is the entry
point; --binary runs the same checks against a built binary, to tell an image problem from a
connector problem).

  image contract  Env AIRBYTE_ENTRYPOINT = the absolute ENTRYPOINT, USER airbyte (uid 1000),
                  WORKDIR /airbyte writable by it, labels io.airbyte.name/version, every shared
                  library found (ldd inside the image), --version = ./VERSION
  spec            exactly one SPEC line naming ./VERSION
  for plain TCP, then TLS (verify_identity, the test CA in the mounted config):
    check         SUCCEEDED; a wrong password: FAILED "Access denied for user 'vt'"
    discover      streams customers and orders, primary key [["id"]], namespace commerce
    read          initial sync: every row of both tables exactly once, customer 1's record
                  exactly as scripts/cluster wrote it, STARTED before COMPLETE per stream,
                  STREAM states only
    read --state  after an INSERT, an UPDATE and a DELETE on the shards: exactly those three
                  changes, nothing else
  the password appears in no output.
Prints one line per check and "image-test: PASS (N s)" or "FAIL" last.
"""
import argparse
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import REPO, Cluster, Connector, Failure, check, configured_catalog  # noqa: E402

PASSWORD = "vtpass"  # scripts/cluster's; must never show up in the connector's output


def expected_customer(i):
    """The record data scripts/cluster --sample writes for customer i (its INSERT, mapped as
    docs/type-mapping.md says). The score column is random() and only checked for type."""
    return {
        "id": i, "email": f"user{i}@example.com", "name": None if i % 10 == 0 else f"Name {i} ünï",
        "tier": ["free", "pro", "enterprise"][i % 3], "tags": ["", "new", "vip,it's"][i % 3],
        "created_at": f"2024-01-{1 + i % 28:02d}T10:00:00.{i % 1000:03d}000", "updated_at": None,
        "balance": float(f"{i * 3}.{i % 100:02d}"), "active": bool(i % 2),
        "profile": f'{{"n": {i}}}', "_ab_cdc_updated_at": None, "_ab_cdc_deleted_at": None}


class ImageTest:
    def __init__(self, connector, version):
        self.c, self.version, self.failures = connector, version, 0
        self.t0 = time.monotonic()

    def step(self, name, fn, *args):
        try:
            detail = fn(*args)
            print(f"[{time.monotonic() - self.t0:5.0f}s] ok: {name}" + (f": {detail}" if detail else ""), flush=True)
        except Exception as e:  # a Failure, or a step that could not run (earlier one failed)
            self.failures += 1
            print(f"[{time.monotonic() - self.t0:5.0f}s] FAIL: {name}: {e}", flush=True)

    def no_secret(self, run, what):
        check(PASSWORD not in run.err and all(PASSWORD not in str(m) for m in run.messages
                                              if m["type"] != "SPEC"), f"{what} printed the password")

    # --- the image itself ---------------------------------------------------------------------
    def contract(self):
        fmt = "{{json .Config}}"
        p = self.c.podman("image", "inspect", "--format", fmt, self.c.image, capture_output=True, text=True)
        check(p.returncode == 0, f"podman image inspect: {p.stderr.strip()}")
        cfg = json.loads(p.stdout)
        env = dict(e.split("=", 1) for e in cfg.get("Env", []))
        entry = cfg.get("Entrypoint") or []
        check(len(entry) == 1 and entry[0].startswith("/") and env.get("AIRBYTE_ENTRYPOINT") == entry[0],
              f"AIRBYTE_ENTRYPOINT={env.get('AIRBYTE_ENTRYPOINT')} must equal the absolute ENTRYPOINT {entry}")
        check(cfg.get("User") == "airbyte", f"USER is {cfg.get('User')!r}, not airbyte")
        check(cfg.get("WorkingDir") == "/airbyte", f"WORKDIR is {cfg.get('WorkingDir')!r}")
        labels = cfg.get("Labels") or {}
        check(labels.get("io.airbyte.version") == self.version, f"label io.airbyte.version={labels.get('io.airbyte.version')}")
        check(labels.get("io.airbyte.name") == "airbyte/source-vitess", f"label io.airbyte.name={labels.get('io.airbyte.name')}")
        who = self.shell('id -un; id -u; cd /airbyte && touch probe && rm probe && echo writable; '
                         'ldd "$AIRBYTE_ENTRYPOINT" | grep -c "not found" || true; "$AIRBYTE_ENTRYPOINT" --version')
        check(who == ["airbyte", "1000", "writable", "0", f"source-vitess {self.version}"],
              f"user/permissions/libraries/version inside the image: {who}")
        return f"ENTRYPOINT {entry[0]}, user airbyte (1000), /airbyte writable, ldd clean, --version {self.version}"

    def shell(self, script):
        p = subprocess.run(["bash", "-c", 'source "$0" && podman_cmd run --rm "${podman_run_flags[@]}" "$@"',
                            os.path.join(REPO, "docker/podman-env"), "--entrypoint", "/bin/sh", self.c.image,
                            "-c", script], capture_output=True, text=True)
        check(p.returncode == 0, f"podman run: exit {p.returncode}: {p.stderr.strip()[-300:]}")
        return p.stdout.split("\n")[:-1] if p.stdout.endswith("\n") else p.stdout.split("\n")

    # --- the commands -------------------------------------------------------------------------
    def spec(self):
        r = self.c.run("spec")
        check(r.code == 0 and [m["type"] for m in r.messages] == ["SPEC"], f"exit {r.code}, {r.messages[:2]}")
        desc = r.messages[0]["spec"]["connectionSpecification"].get("description", "")
        check(f"source-vitess {self.version}" in desc, f"SPEC does not name source-vitess {self.version}")
        return f"{len(r.messages[0]['spec']['connectionSpecification']['properties'])} fields ({r.seconds:.1f} s)"

    def check_ok(self, config):
        r = self.c.run("check", config=config)
        self.no_secret(r, "check")
        check(r.code == 0 and [m["type"] for m in r.messages] == ["CONNECTION_STATUS"], f"exit {r.code}: {r.err[-300:]}")
        status = r.messages[0]["connectionStatus"]
        check(status["status"] == "SUCCEEDED", f"status {status}")
        return f"SUCCEEDED ({r.seconds:.1f} s)"

    def check_denied(self, config):
        r = self.c.run("check", config=dict(config, password="wrong-password"))
        check(r.code == 0 and [m["type"] for m in r.messages] == ["CONNECTION_STATUS"], f"exit {r.code}: {r.err[-300:]}")
        status = r.messages[0]["connectionStatus"]
        check(status["status"] == "FAILED" and "Access denied for user 'vt'" in status.get("message", ""),
              f"status {status}")
        check("wrong-password" not in r.err and "wrong-password" not in status["message"], "check echoed the password")
        return "FAILED: " + status["message"][:100]

    def discover(self, config):
        r = self.c.run("discover", config=config)
        self.no_secret(r, "discover")
        check(r.code == 0 and [m["type"] for m in r.messages] == ["CATALOG"], f"exit {r.code}: {r.err[-300:]}")
        self.catalog = r.messages[0]["catalog"]
        got = sorted((s["namespace"], s["name"], str(s["source_defined_primary_key"])) for s in self.catalog["streams"])
        check(got == [("commerce", "customers", "[['id']]"), ("commerce", "orders", "[['id']]")], f"streams {got}")
        return "customers, orders; primary key [[\"id\"]]"

    def read_all(self, config, cluster):
        r = self.c.run("read", config=config, catalog=configured_catalog(self.catalog, "incremental"))
        self.no_secret(r, "read")
        check(r.code == 0 and not r.errors(), f"exit {r.code}, errors {r.errors()}: {r.err[-300:]}")
        customers = sorted(x["data"]["id"] for x in r.records("customers"))
        orders = sorted(x["data"]["id"] for x in r.records("orders"))
        check(customers == sorted(self.live["customers"]), f"customers: {len(customers)} records, "
              f"expected ids {min(self.live['customers'])}..{max(self.live['customers'])} once each")
        check(orders == sorted(self.live["orders"]), f"orders: {len(orders)} records, expected {len(self.live['orders'])}")
        one = next(x["data"] for x in r.records("customers") if x["data"]["id"] == 1)
        want = expected_customer(1)
        got = {k: one.get(k) for k in want}
        check(got == want, f"customer 1: {got}, expected {want}")
        check(isinstance(one.get("score"), float), f"customer 1 score {one.get('score')!r}")
        for stream in ("customers", "orders"):
            seq = [s for name, s in r.statuses() if name == stream]
            check(seq[:1] == ["STARTED"] and seq[-1:] == ["COMPLETE"], f"{stream} statuses {seq}")
        check(all(s.get("type") == "STREAM" for s in r.states()) and r.states(), "states are not all STREAM")
        self.state = r.last_states()
        return f"{len(customers)} customers + {len(orders)} orders exactly once, STREAM states ({r.seconds:.1f} s)"

    def read_incremental(self, config, cluster):
        new = max(self.live["customers"]) + 1
        # Rows no earlier round touched, and not already enterprise (i % 3 == 2): an UPDATE that
        # changes nothing, or a DELETE of a missing row, writes no binlog event.
        deleted = min(i for i in self.live["orders"] if i >= 12)
        updated = min(i for i in self.live["customers"] if i >= 7 and i % 3 != 2 and i not in self.updated)
        self.updated.add(updated)
        cluster.sql(f"INSERT INTO customers (id, email, created_at) VALUES ({new}, 'new{new}@example.com', NOW(3))", new)
        cluster.sql(f"UPDATE customers SET tier = 'enterprise' WHERE id = {updated}", updated)
        cluster.sql(f"DELETE FROM orders WHERE id = {deleted}", deleted)
        self.live["customers"].add(new)
        self.live["orders"].discard(deleted)
        r = self.c.run("read", config=config, catalog=configured_catalog(self.catalog, "incremental"), state=self.state)
        self.no_secret(r, "incremental read")
        check(r.code == 0 and not r.errors(), f"exit {r.code}, errors {r.errors()}: {r.err[-300:]}")
        got = sorted((x["stream"], x["data"]["id"], x["data"].get("_ab_cdc_deleted_at") is not None,
                      x["data"].get("tier")) for x in r.records())
        want = sorted([("customers", new, False, "free"), ("customers", updated, False, "enterprise"),
                       ("orders", deleted, True, None)])
        check(got == want, f"records {got}, expected {want}")
        check(all(s.get("type") == "STREAM" for s in r.states()) and r.states(), "states are not all STREAM")
        return f"insert customer {new}, update customer {updated}, delete order {deleted} ({r.seconds:.1f} s)"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--image", help="image to test (e.g. source-vitess:dev)")
    ap.add_argument("--binary", help="or: a built source-vitess")
    ap.add_argument("--emulator", required=True, help="a built vtgate-emulator (runs on the host)")
    ap.add_argument("--rows", type=int, default=100)
    a = ap.parse_args()
    if bool(a.image) == bool(a.binary):
        ap.error("give exactly one of --image, --binary")
    version = open(os.path.join(REPO, "VERSION")).read().strip()
    t = ImageTest(Connector(binary=a.binary, image=a.image), version)
    print(f"image-test: {t.c.name}, VERSION {version}", flush=True)
    if a.image:
        t.step("image contract", t.contract)
    t.step("spec", t.spec)
    cluster = Cluster(a.emulator, shards=2, rows=a.rows, tls=True)
    try:
        t.live = {"customers": set(range(1, a.rows + 1)), "orders": set(range(1, 2 * a.rows + 1))}
        t.updated = set()
        for name, config in (("plain", cluster.plain_config), ("TLS verify_identity", cluster.tls_config)):
            t.step(f"{name}: check", t.check_ok, config)
            t.step(f"{name}: check with a wrong password", t.check_denied, config)
            t.step(f"{name}: discover", t.discover, config)
            t.step(f"{name}: read (initial)", t.read_all, config, cluster)
            t.step(f"{name}: read --state (incremental)", t.read_incremental, config, cluster)
    finally:
        cluster.down()
    total = time.monotonic() - t.t0
    if t.failures:
        print(f"image-test: FAIL, {t.failures} check(s) failed ({total:.0f} s)")
        return 1
    print(f"image-test: PASS ({total:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
