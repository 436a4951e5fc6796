"""Server-side routing: a plain bolt:// client connected to one member that
is not the leader writes through it, and keeps writing across leader
crashes. Real three-core clusters; after every scenario every acknowledged
write is on every member exactly once."""
import tempfile
import threading
import time

import neo4j
import pytest
from neo4j import GraphDatabase

from cluster import Cluster, assert_identical_with


@pytest.fixture
def cluster():
    with tempfile.TemporaryDirectory() as d:
        c = Cluster(d)
        yield c
        c.stop()


@pytest.fixture
def unrouted_cluster():
    with tempfile.TemporaryDirectory() as d:
        c = Cluster(d, extra_args=["--set", "server_side_routing=false"])
        yield c
        c.stop()


def a_follower(cluster):
    leader = cluster.wait_leader()
    return leader, next(c for c in cluster.cores if c is not leader)


def test_follower_runs_writes_on_the_leader_for_a_bolt_client(cluster, auth):
    cluster.start()
    leader, follower = a_follower(cluster)
    with GraphDatabase.driver(follower.bolt_uri, auth=auth) as d:
        with d.session() as s:
            # Auto-commit, with its result and counters as the leader made them.
            r = s.run("CREATE (n:Routed {k: 'auto'}) RETURN n.k AS k, id(n) >= 0 AS ok")
            assert [(x["k"], x["ok"]) for x in r] == [("auto", True)]
            assert r.consume().counters.nodes_created == 1
            # A managed transaction that reads, then writes.
            def work(tx):
                before = tx.run("MATCH (n:Routed) RETURN count(n) AS c").single()["c"]
                node = tx.run("CREATE (n:Routed {k: 'managed'}) RETURN n").single()["n"]
                return before, dict(node), list(node.labels)
            before, props, labels = s.execute_write(work)
            assert before == 1 and props == {"k": "managed"} and labels == ["Routed"]
            # An explicit transaction rolled back leaves nothing behind.
            tx = s.begin_transaction()
            tx.run("CREATE (:Routed {k: 'rolled-back'})").consume()
            tx.rollback()
            # The leader's errors reach the client with their codes.
            with pytest.raises(neo4j.exceptions.CypherSyntaxError):
                s.run("CREATE (:Routed").consume()
            bookmarks = s.last_bookmarks()
        # Reads with the bookmark see every routed write, on this member.
        with d.session(bookmarks=bookmarks, default_access_mode="READ") as s:
            keys = {r["k"] for r in s.run("MATCH (n:Routed) RETURN n.k AS k")}
            assert keys == {"auto", "managed"}
            # A write in a read transaction is still an access-mode error.
            with pytest.raises(neo4j.exceptions.ClientError) as e:
                s.execute_read(lambda tx: tx.run("CREATE (:Routed {k: 'ro'})").consume())
            assert e.value.code == "Neo.ClientError.Statement.AccessMode"
        # Cluster procedures still describe the member that was asked.
        with d.session() as s:
            assert s.run("CALL dbms.cluster.role('neo4j')").single()["role"] == "FOLLOWER"
    assert_identical_with(cluster, auth, "Routed", {"auto", "managed"})


def test_without_routing_a_follower_refuses_writes(unrouted_cluster, auth):
    cluster = unrouted_cluster.start()
    _, follower = a_follower(cluster)
    with GraphDatabase.driver(follower.bolt_uri, auth=auth) as d, d.session() as s:
        # The code that makes routing drivers refresh their table and retry;
        # a direct driver reports NotALeader as WriteServiceUnavailable.
        with pytest.raises(neo4j.exceptions.WriteServiceUnavailable):
            s.run("CREATE (:Misrouted)").consume()


class BoltWriters:
    """Writers on one bolt:// address: auto-commit queries (no driver
    retries at all) and managed transactions (driver retries)."""

    def __init__(self, uri, auth, label):
        self.uri, self.auth, self.label = uri, auth, label
        self.acked, self.errors, self.times = set(), [], []
        self.unknown = set()
        self.lock = threading.Lock()
        self.stop_flag = threading.Event()
        self.threads = [
            threading.Thread(target=self.run, args=(f"a{w}", False)) for w in range(2)
        ] + [threading.Thread(target=self.run, args=(f"m{w}", True)) for w in range(2)]

    def __enter__(self):
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc):
        self.stop_flag.set()
        for t in self.threads:
            t.join()

    def run(self, wid, managed):
        d = GraphDatabase.driver(self.uri, auth=self.auth, max_transaction_retry_time=30,
                                 connection_timeout=2)
        q = f"CREATE (:{self.label} {{k: $k}})"
        i = 0
        try:
            while not self.stop_flag.is_set():
                key = f"{wid}-{i}"
                i += 1
                try:
                    with d.session() as s:
                        if managed:
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

    def wait_for(self, n, timeout=30):
        deadline = time.time() + timeout
        while self.count() < n:
            assert time.time() < deadline, f"only {self.count()} of {n} writes acknowledged"
            time.sleep(0.01)

    def max_gap(self, start, end):
        with self.lock:
            ts = sorted(t for t in self.times if start <= t <= end)
        points = [start, *ts, end]
        return max(b - a for a, b in zip(points, points[1:]))


def test_bolt_client_on_a_follower_keeps_writing_across_leader_kill9(cluster, auth):
    cluster.start()
    _, entry = a_follower(cluster)
    gaps, restarts = [], []
    with BoltWriters(entry.bolt_uri, auth, "Through") as w:
        w.wait_for(50)
        for _ in range(3):
            leader = cluster.wait_leader()
            if leader is entry:
                # The client's only address must survive the kill: hand
                # leadership away (SIGTERM transfers it) and bring the member
                # back. Its clients see errors while it is down, of course.
                down = time.monotonic()
                assert entry.stop() == 0
                entry.start()
                leader = cluster.wait_leader(exclude=(entry,))
                cluster.wait_converged()
                restarts.append((down, time.monotonic()))
            before = w.count()
            t0 = time.monotonic()
            leader.kill9()
            w.wait_for(before + 50)
            gaps.append(w.max_gap(t0 - 0.2, time.monotonic()))
            leader.start()
            cluster.wait_converged()
    print("bolt:// write gaps through a follower across leader kill -9:",
          [f"{g:.3f}s" for g in gaps])
    errors = [m for t, m in w.errors if not any(a <= t <= b + 1 for a, b in restarts)]
    assert not errors, errors[:5]
    assert max(gaps) < 5, gaps
    assert_identical_with(cluster, auth, "Through", w.acked)
