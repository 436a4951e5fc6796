#!/usr/bin/env python3
"""The cluster exactly as deploy/compose.yaml runs it, in real containers
of the image scripts/image.sh builds, under a managed-transaction write load
from the official Python driver: through `neo4j://` (client-side routing)
and through `bolt://` to one stable address that stands in for a
Kubernetes client Service (a relay on the host that hands each new
connection to a member that answers ready, as kube-proxy does).

Scenarios, in order, on one cluster:
  kill         docker kill the leader; writes go on; it rejoins from its volume
  disconnect   docker network disconnect the leader; a new leader is elected,
               the cut member stops leading, and rejoins when reconnected
  rolling      docker restart of every container in turn (SIGTERM, then
               start), waiting for readiness between them
  image        every container recreated in turn from a newer build of the
               image (docker-compose up --no-deps with CAUSEWAY_IMAGE)
  full-stop    docker-compose stop of everything (after the load), then up

After each: every acknowledged write is on every member exactly once, no
write is on any member twice, and (rolling, image, full-stop) no managed
transaction failed. Figures go to stdout and, with --json, to a file.

    tests/containers/run.py [--json FILE] [--keep]
"""
import argparse
import collections
import json
import logging
import os
import random
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import neo4j
from neo4j import GraphDatabase

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "deploy" / "compose.yaml"
PROJECT = "causewayct"
# Service name -> (published Bolt port, published HTTP port), as compose.yaml has them.
MEMBERS = {
    "core1": (7687, 7474), "core2": (7688, 7475), "core3": (7689, 7476),
    "replica1": (7690, 7477), "replica2": (7691, 7478),
}
CORES = ["core1", "core2", "core3"]
USER, PASSWORD = (ROOT / "deploy" / "secrets" / "neo4j-auth").read_text().strip().split("/", 1)
AUTH = (USER, PASSWORD)
READY_TIMEOUT = 90

logging.getLogger("neo4j").setLevel(logging.CRITICAL)


def log(*a):
    print(time.strftime("%H:%M:%S"), *a, flush=True)


def sh(*args, env=None, check=True):
    return subprocess.run(args, check=check, capture_output=True, text=True,
                          env={**os.environ, **(env or {})})


def compose(*args, env=None, check=True):
    return sh("docker-compose", "-f", str(COMPOSE), "-p", PROJECT, *args, env=env, check=check)


def container(service):
    cid = compose("ps", "-q", service).stdout.strip()
    assert cid, f"no container for {service}"
    return cid


def health(service, timeout=1.0):
    """The member's /health/ready answer, or None if it does not answer."""
    port = MEMBERS[service][1]
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health/ready", timeout=timeout) as r:
            return json.loads(r.read())
    except urllib.error.HTTPError as e:
        return json.loads(e.read() or b"null")
    except (OSError, ValueError):
        return None


def wait_until(what, cond, timeout=READY_TIMEOUT):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = cond()
        if v:
            return v
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def all_ready(services=MEMBERS):
    return all((health(s) or {}).get("ready") for s in services)


def leader():
    for s in CORES:
        h = health(s)
        if h and h.get("role") == "LEADER" and h.get("ready"):
            return s
    return None


class Relay:
    """One stable address for every member, as a Kubernetes Service over all
    members is: each new connection goes to the next member whose readiness
    check passed in the last poll (every 200 ms)."""

    def __init__(self):
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.ready = list(MEMBERS)
        self.turn = 0
        self.stopping = threading.Event()
        threading.Thread(target=self._poll, daemon=True).start()
        threading.Thread(target=self._accept, daemon=True).start()

    def _poll(self):
        while not self.stopping.is_set():
            self.ready = [s for s in MEMBERS if (health(s, 0.5) or {}).get("ready")]
            time.sleep(0.2)

    def _accept(self):
        while not self.stopping.is_set():
            try:
                client, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client):
        ready = self.ready or list(MEMBERS)
        self.turn += 1
        service = ready[self.turn % len(ready)]
        try:
            upstream = socket.create_connection(("127.0.0.1", MEMBERS[service][0]), timeout=2)
        except OSError:
            client.close()
            return
        upstream.settimeout(None)
        for a, b in ((client, upstream), (upstream, client)):
            threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(src, dst):
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def close(self):
        self.stopping.set()
        self.sock.close()


class Load:
    """Client threads, each creating one uniquely numbered node per managed
    transaction; half route on the client (neo4j://, all cores as seeds),
    half send everything to the relay over bolt://."""

    def __init__(self, relay, tag, threads=4):
        self.tag = tag
        self.acked = []          # (time acknowledged, via, id)
        self.failed = []         # (time, via, id, error)
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        kw = dict(auth=AUTH, connection_timeout=2, max_transaction_retry_time=30,
                  liveness_check_timeout=0)
        seeds = [("localhost", MEMBERS[c][0]) for c in CORES]
        self.drivers = {
            "neo4j": GraphDatabase.driver("neo4j://localhost:7687",
                                          resolver=lambda _a: seeds, **kw),
            "service": GraphDatabase.driver(f"bolt://127.0.0.1:{relay.port}", **kw),
        }
        vias = ["neo4j", "service"]
        self.threads = [threading.Thread(target=self._run, args=(i, vias[i % 2]), daemon=True)
                        for i in range(threads)]
        for t in self.threads:
            t.start()

    def _run(self, n, via):
        d = self.drivers[via]
        i = 0
        while not self.stopping.is_set():
            i += 1
            wid = f"{self.tag}-{n}-{i}"
            try:
                with d.session() as s:
                    s.execute_write(lambda tx: tx.run("CREATE (:W {id: $id})", id=wid).consume())
                with self.lock:
                    self.acked.append((time.monotonic(), via, wid))
            except Exception as e:  # noqa: BLE001 - every failure is recorded
                with self.lock:
                    self.failed.append((time.monotonic(), via, wid, f"{type(e).__name__}: {e}"))
            time.sleep(0.005)

    def stop(self):
        self.stopping.set()
        for t in self.threads:
            t.join(timeout=60)
        for d in self.drivers.values():
            d.close()

    def gaps(self, since, until):
        """Longest time without an acknowledgement within [since, until],
        for all clients together and per way in."""
        out = {}
        for via in (None, "neo4j", "service"):
            times = sorted(t for t, v, _ in self.acked if via in (None, v) and since <= t <= until)
            points = [since, *times, until]
            out[via or "any"] = round(max(b - a for a, b in zip(points, points[1:])), 3)
        return out


def read_ids(service, bookmarks):
    """Every :W id on one member, read there with the bookmarks given."""
    with GraphDatabase.driver(f"bolt://localhost:{MEMBERS[service][0]}", auth=AUTH) as d:
        with d.session(bookmarks=bookmarks, default_access_mode="READ") as s:
            return [r["id"] for r in s.run("MATCH (n:W) RETURN n.id AS id")]


def check(load, allow_failures):
    """Every acknowledged write on every member exactly once, no duplicate
    anywhere, members identical; failures only where allowed."""
    with GraphDatabase.driver("neo4j://localhost:7687", auth=AUTH) as d:
        with d.session() as s:
            s.execute_write(lambda tx: tx.run("MERGE (:Barrier)").consume())
            bookmarks = s.last_bookmarks()
    acked = {wid for _, _, wid in load.acked}
    views = {}
    for service in MEMBERS:
        ids = wait_until(f"{service} to answer a read",
                         lambda: _try(lambda: read_ids(service, bookmarks)), timeout=60)
        counts = collections.Counter(ids)
        dups = [i for i, c in counts.items() if c > 1]
        lost = acked - counts.keys()
        assert not dups, f"{service}: written twice: {dups[:5]}"
        assert not lost, f"{service}: {len(lost)} acknowledged writes missing: {sorted(lost)[:5]}"
        views[service] = set(counts)
    first = views["core1"]
    for service, ids in views.items():
        assert ids == first, f"{service} differs from core1 by {len(ids ^ first)} ids"
    if not allow_failures:
        assert not load.failed, f"{len(load.failed)} failed transactions: {load.failed[:3]}"
    return len(acked), len(first)


def _try(f):
    try:
        return f()
    except Exception:  # noqa: BLE001 - retried until the deadline
        return None


def scenario(name, relay, figures, action, allow_failures, settle=2.0, load_through=True):
    """Runs `action` under the write load (or, load_through=False, after
    it), then checks every member."""
    log(f"--- {name}")
    load = Load(relay, name)
    time.sleep(settle)
    if not load_through:
        load.stop()
    t0 = time.monotonic()
    extra = action() or {}
    t1 = time.monotonic()
    if load_through:
        time.sleep(settle)
        load.stop()
    acked, total = check(load, allow_failures)
    fig = {"acknowledged": acked, "failed": len(load.failed), "nodes": total,
           "seconds": round(t1 - t0, 2), **extra}
    if load_through:
        fig["longest_write_gap_s"] = load.gaps(t0, t1)
    if load.failed:
        fig["failures"] = collections.Counter(e.split(":")[0] for *_, e in load.failed)
    figures[name] = fig
    log(name, json.dumps(fig))


# Killing the leader's container resets its connections, which starts an
# election at once (docs/decisions/0006-cluster.md): writes, taken over all
# clients, must go on within this.
KILL_RESUME_LIMIT_S = 1.0


def kill_leader():
    victim = wait_until("a leader", leader)
    t = time.monotonic()
    sh("docker", "kill", container(victim))
    new = wait_until("a new leader", lambda: (l := leader()) and l != victim and l)
    elected = time.monotonic() - t
    time.sleep(3)
    sh("docker", "start", container(victim))
    wait_until(f"{victim} ready again", lambda: all_ready([victim]))
    return {"victim": victim, "new_leader": new, "new_leader_after_s": round(elected, 2)}


def disconnect_leader():
    victim = wait_until("a leader", leader)
    cid = container(victim)
    nets = json.loads(sh("docker", "inspect", cid).stdout)[0]["NetworkSettings"]["Networks"]
    net = next(iter(nets))
    t = time.monotonic()
    sh("docker", "network", "disconnect", net, cid)
    new = wait_until("a new leader", lambda: (l := leader()) and l != victim and l)
    elected = time.monotonic() - t

    def cut_member_gave_up():
        # The cut member is out of reach from the host; ask it from inside.
        r = sh("docker", "exec", cid, "/causeway", "healthcheck", check=False)
        try:
            h = json.loads(r.stdout)
        except ValueError:
            return None
        return r.returncode != 0 and not h.get("ready") and h
    cut = wait_until("the cut member to stop taking writes", cut_member_gave_up, timeout=10)
    time.sleep(2)
    sh("docker", "network", "connect", "--alias", "cores", "--alias", victim, net, cid)
    wait_until(f"{victim} ready again", lambda: all_ready([victim]))
    return {"victim": victim, "new_leader": new, "new_leader_after_s": round(elected, 2),
            "cut_member_said": cut.get("reason")}


def rolling_restart():
    for service in MEMBERS:
        sh("docker", "restart", "-t", "30", container(service))
        wait_until(f"{service} ready after restart", lambda: all_ready())
    return {}


def rolling_image(new_tag):
    def run():
        for service in MEMBERS:
            compose("up", "-d", "--no-deps", service, env={"CAUSEWAY_IMAGE": new_tag})
            wait_until(f"{service} ready on {new_tag}", lambda: all_ready())
        images = {s: json.loads(sh("docker", "inspect", container(s)).stdout)[0]["Config"]["Image"]
                  for s in MEMBERS}
        assert set(images.values()) == {new_tag}, images
        return {}
    return run


def full_stop():
    t = time.monotonic()
    compose("stop", "-t", "30")
    stopped = time.monotonic() - t
    compose("up", "-d")
    wait_until("every member ready after a full stop", lambda: all_ready())
    return {"stop_s": round(stopped, 2), "back_after_s": round(time.monotonic() - t, 2)}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--json", help="write the figures here")
    ap.add_argument("--keep", action="store_true", help="leave the cluster running")
    args = ap.parse_args()

    for service, (bolt, http) in MEMBERS.items():
        for port in (bolt, http):
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    sys.exit(f"port {port} ({service}) is taken: stop what listens there first")
    image = json.loads(sh("docker", "image", "inspect", "causeway").stdout)[0]
    # A newer build of the same image: the same files, a new image id.
    sh("docker", "build", "-q", "-t", "causeway:next", "--label",
       f"causeway.rebuilt={time.time()}", str(ROOT))
    figures = {"image_bytes": image["Size"]}
    compose("down", "-v", check=False)
    relay = Relay()
    try:
        t = time.monotonic()
        compose("up", "-d")
        wait_until("every member ready", lambda: all_ready())
        figures["up_to_ready_s"] = round(time.monotonic() - t, 2)
        log("cluster ready in", figures["up_to_ready_s"], "s; leader", leader())
        scenario("kill", relay, figures, kill_leader, allow_failures=True)
        gap = figures["kill"]["longest_write_gap_s"]["any"]
        assert gap < KILL_RESUME_LIMIT_S, f"writes stopped for {gap} s after the kill"
        scenario("disconnect", relay, figures, disconnect_leader, allow_failures=True)
        scenario("rolling", relay, figures, rolling_restart, allow_failures=False)
        scenario("image", relay, figures, rolling_image("causeway:next"), allow_failures=False)
        scenario("full-stop", relay, figures, full_stop, allow_failures=False, load_through=False)
    except BaseException:
        for service in MEMBERS:
            r = sh("docker", "logs", "--tail", "30", container(service), check=False)
            print(f"--- last log lines of {service}\n{r.stdout}{r.stderr}")
        raise
    finally:
        relay.close()
        if not args.keep:
            compose("down", "-v", check=False)
    print(json.dumps(figures, indent=1, default=str))
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=1, default=str))


if __name__ == "__main__":
    main()
