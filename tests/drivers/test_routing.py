"""Server-side routing: a plain bolt:// client connected to one member that
is not the leader writes through it, and keeps writing across leader
crashes. Real three-core clusters; after every scenario every acknowledged
write is on every member exactly once."""
import time

import neo4j
import pytest
from neo4j import GraphDatabase

from cluster import Writers, assert_identical_with, temp_cluster, wait_until


@pytest.fixture
def cluster():
    with temp_cluster() as c:
        yield c


@pytest.fixture
def unrouted_cluster():
    with temp_cluster(["--set", "server_side_routing=false"]) as c:
        yield c


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


@pytest.mark.parametrize("entry_kind", ["follower", "replica"])
def test_bolt_client_keeps_writing_across_leader_kill9(cluster, auth, entry_kind, tmp_path):
    """A plain bolt:// client whose one address is a follower, or a read
    replica, keeps writing while the leader is killed again and again."""
    cluster.start()
    if entry_kind == "replica":
        entry = cluster.add_replica(tmp_path)
        wait_until(lambda: entry.status()["cluster_id"] is not None, what="the replica to join")
    else:
        _, entry = a_follower(cluster)
    gaps, restarts = [], []
    def bolt_driver():
        return GraphDatabase.driver(entry.bolt_uri, auth=auth, max_transaction_retry_time=30,
                                    connection_timeout=2)

    # Auto-commit writers have no driver retries at all to hide behind.
    with Writers(bolt_driver, "Through", ("auto", "auto", "managed", "managed")) as w:
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
    print(f"bolt:// write gaps through a {entry_kind} across leader kill -9:",
          [f"{g:.3f}s" for g in gaps])
    errors = w.error_messages(outside=restarts)
    assert not errors, errors[:5]
    assert max(gaps) < 5, gaps
    assert_identical_with(cluster, auth, "Through", w.acked)
