"""Real multi-process clusters for the cluster tests: each core member is a
`causeway serve --mode core` process on its own loopback ports and data
directory, with the test-only fault endpoint switched on."""
import contextlib
import json
import os
import shutil
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import neo4j
from neo4j import GraphDatabase

from conftest import Server, free_port

SECRET = "cluster-test-secret"


class Core(Server):
    def __init__(self, data_dir, extra_args=()):
        super().__init__(data_dir, extra_args)
        self.cluster_port = free_port()
        self.cluster_host = "127.0.0.1"
        self.initial = []
        self.discovery = "list"
        self.secret = SECRET
        self.mode = "core"
        # An ssl.SSLContext when the member's HTTP port takes only TLS.
        self.http_tls = None

    def url(self, path):
        scheme = "https" if self.http_tls else "http"
        return f"{scheme}://127.0.0.1:{self.http_port}{path}"

    def start(self, timeout=60):
        base = list(self.extra_args)
        self.extra_args = [
            "--mode", self.mode,
            "--cluster-listen", f"{self.cluster_host}:{self.cluster_port}",
            "--initial-members", ",".join(self.initial),
            "--discovery", self.discovery,
            "--cluster-secret", self.secret,
            "--set", "fault_injection=true",
            "--log-level", "info",
            *base,
        ]
        try:
            return super().start(timeout)
        finally:
            self.extra_args = base

    def full_log(self):
        try:
            return Path(self.log_path).read_text(errors="replace")
        except OSError:
            return ""

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def status(self):
        with urllib.request.urlopen(self.url("/causeway/status"), timeout=2,
                                    context=self.http_tls) as r:
            return json.loads(r.read())

    def block(self, ids, mute=()):
        req = urllib.request.Request(
            self.url("/causeway/faults"),
            data=json.dumps({"blocked": list(ids), "mute": list(mute)}).encode(),
            method="PUT",
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(req, timeout=2, context=self.http_tls) as r:
            return json.loads(r.read())

    def wipe(self):
        for p in Path(self.data_dir).iterdir():
            if p.name != "server.log":
                shutil.rmtree(p) if p.is_dir() else p.unlink()


class Cluster:
    def __init__(self, base_dir, n=3, extra_args=()):
        self.cores = []
        for i in range(n):
            d = Path(base_dir) / f"core-{i + 1}"
            d.mkdir(parents=True, exist_ok=True)
            self.cores.append(Core(str(d), extra_args))
        initial = [f"127.0.0.1:{c.cluster_port}" for c in self.cores]
        for c in self.cores:
            c.initial = initial

    @property
    def uri(self):
        return "neo4j://" + ",".join(f"127.0.0.1:{c.bolt_port}" for c in self.cores[:1])

    def driver(self, auth, **kw):
        """A routing driver whose one address resolves to every core, as a
        DNS name for the cluster would: the driver needs a live initial
        address to resolve the home database."""
        addrs = [("127.0.0.1", c.bolt_port) for c in self.cores]
        initial = addrs[0]

        # The driver resolves every address it dials through this, not
        # only the initial one.
        def resolve(a):
            return addrs if (a[0], a[1]) == initial else [a]

        return GraphDatabase.driver(self.uri, auth=auth, resolver=resolve, **kw)

    def start(self):
        for c in self.cores:
            c.start()
        self.wait_leader()
        return self

    def stop(self):
        for c in self.cores:
            try:
                c.stop()
            except Exception:
                pass

    def statuses(self):
        out = {}
        for c in self.cores:
            if c.alive():
                try:
                    out[c] = c.status()
                except OSError:
                    pass
        return out

    def wait_leader(self, timeout=30, exclude=()):
        """The writable leader, once every live member agrees on it."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            st = self.statuses()
            leaders = [c for c, s in st.items() if s["writable"] and c not in exclude]
            if len(leaders) == 1:
                lid = st[leaders[0]]["id"]
                if all(s["leader"] == lid for c, s in st.items() if c not in exclude):
                    return leaders[0]
            time.sleep(0.05)
        raise AssertionError(f"no agreed leader within {timeout}s: {self.statuses()}")

    def wait_converged(self, timeout=60):
        """Every live member has applied everything the leader had logged
        when the wait began. (Under a running write load, waiting for the
        leader's latest index would chase a moving target.)"""
        deadline = time.time() + timeout
        target = None
        while time.time() < deadline:
            st = self.statuses()
            leader = [s for s in st.values() if s["role"] == "LEADER"]
            if len(st) == sum(c.alive() for c in self.cores) and len(leader) == 1:
                if target is None:
                    target = leader[0]["last_log"]
                if all(s["applied"] >= target for s in st.values()):
                    return
            time.sleep(0.1)
        raise AssertionError(f"members did not converge: {self.statuses()}")

    def add_replica(self, base_dir, extra_args=()):
        """A read replica pointed at the cores; started, and counted among
        the members every check looks at."""
        d = Path(base_dir) / f"replica-{len(self.cores) + 1}"
        d.mkdir(parents=True, exist_ok=True)
        r = Core(str(d), extra_args)
        r.mode = "replica"
        r.initial = self.cores[0].initial
        r.start()
        self.cores.append(r)
        return r

    def member_with_id(self, node_id):
        for c in self.cores:
            if c.alive() and c.status()["id"] == node_id:
                return c
        return None


def wait_until(check, timeout=30, what="condition"):
    deadline = time.time() + timeout
    while not check():
        assert time.time() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


@contextlib.contextmanager
def temp_cluster(extra_args=()):
    """A cluster in a scratch directory, stopped and removed afterwards."""
    with tempfile.TemporaryDirectory() as d:
        c = Cluster(d, extra_args=extra_args)
        try:
            yield c
        finally:
            c.stop()


def graph_dump(core, auth):
    """Everything a member holds, in a form that compares across members."""
    d = GraphDatabase.driver(core.bolt_uri, auth=auth)
    try:
        with d.session(default_access_mode="READ") as s:
            nodes = [
                (r["id"], sorted(r["labels"]), sorted(r["props"].items()))
                for r in s.run(
                    "MATCH (n) RETURN elementId(n) AS id, labels(n) AS labels, "
                    "properties(n) AS props ORDER BY id"
                )
            ]
            rels = [
                (r["id"], r["type"], r["a"], r["b"], sorted(r["props"].items()))
                for r in s.run(
                    "MATCH (a)-[r]->(b) RETURN elementId(r) AS id, type(r) AS type, "
                    "elementId(a) AS a, elementId(b) AS b, properties(r) AS props ORDER BY id"
                )
            ]
        return nodes, rels
    finally:
        d.close()


def keys_on(core, auth, label):
    d = GraphDatabase.driver(core.bolt_uri, auth=auth)
    try:
        with d.session(default_access_mode="READ") as s:
            return [r["k"] for r in s.run(f"MATCH (n:{label}) RETURN n.k AS k")]
    finally:
        d.close()


def assert_identical_with(cluster, auth, label, acked):
    """Every acknowledged write is on every live member exactly once, and
    the members' graphs are identical."""
    cluster.wait_converged()
    dumps = []
    for c in cluster.cores:
        if not c.alive():
            continue
        keys = keys_on(c, auth, label)
        missing = set(acked) - set(keys)
        assert not missing, f"{c.data_dir}: lost {len(missing)} acknowledged writes"
        assert len(keys) == len(set(keys)), f"{c.data_dir}: a write was applied twice"
        dumps.append(graph_dump(c, auth))
    assert all(d == dumps[0] for d in dumps), "members' graphs differ"


def env_flag(name):
    return os.environ.get(name, "") not in ("", "0", "false")


class Writers:
    """Threads that each write unique keys through their own driver, as an
    application would: "managed" threads use `execute_write` (the driver
    retries), "auto" threads use auto-commit queries (nobody retries). They
    record every acknowledged key and when, every error that reached the
    application and when, and the keys whose commit the driver could not
    settle (IncompleteCommit: present or not, but never twice)."""

    def __init__(self, make_driver, label, kinds=("managed",) * 4):
        self.make_driver, self.label = make_driver, label
        self.acked, self.times, self.errors = set(), [], []
        self.unknown = set()
        self.lock = threading.Lock()
        self.stop_flag = threading.Event()
        self.threads = [threading.Thread(target=self.run, args=(f"{k[0]}{w}", k))
                        for w, k in enumerate(kinds)]

    def __enter__(self):
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc):
        self.stop_flag.set()
        for t in self.threads:
            t.join()

    def run(self, wid, kind):
        d = self.make_driver()
        q = f"CREATE (:{self.label} {{k: $k}})"
        i = 0
        try:
            while not self.stop_flag.is_set():
                key = f"{wid}-{i}"
                i += 1
                try:
                    with d.session() as s:
                        if kind == "managed":
                            s.execute_write(lambda tx: tx.run(q, k=key).consume())
                        else:
                            s.run(q, k=key).consume()
                except neo4j.exceptions.IncompleteCommit:
                    with self.lock:
                        self.unknown.add(key)
                    continue
                except Exception as e:  # surfaced to the application
                    with self.lock:
                        self.errors.append((time.monotonic(), f"{wid}: {e!r}"))
                    time.sleep(0.05)
                    continue
                with self.lock:
                    self.acked.add(key)
                    self.times.append(time.monotonic())
        finally:
            d.close()

    def count(self):
        with self.lock:
            return len(self.acked)

    def error_messages(self, outside=()):
        """Errors, leaving out those within the (start, end) windows given."""
        with self.lock:
            return [m for t, m in self.errors if not any(a <= t <= b for a, b in outside)]

    def max_gap(self, start, end):
        """Longest stretch in [start, end] with no acknowledged write."""
        with self.lock:
            ts = sorted(t for t in self.times if start <= t <= end)
        points = [start, *ts, end]
        return max(b - a for a, b in zip(points, points[1:]))

    def wait_for(self, n, timeout=30):
        deadline = time.time() + timeout
        while self.count() < n and time.time() < deadline:
            time.sleep(0.01)
        assert self.count() >= n, (
            f"only {self.count()} writes acknowledged; errors: {self.error_messages()[-3:]}")
