"""Three-core clusters of real processes, driven by the official driver over
neo4j:// (client-side routing). After every scenario, every acknowledged
write is on every member exactly once and the members' graphs are equal."""
import math
import tempfile
import time

import neo4j
import pytest
from neo4j import GraphDatabase

from cluster import Writers, temp_cluster, assert_identical_with, keys_on, wait_until


@pytest.fixture
def cluster():
    with temp_cluster() as c:
        yield c


@pytest.fixture
def compacting_cluster():
    """Snapshots every 100 entries, so a member that was away long enough
    must catch up from a snapshot."""
    with temp_cluster(["--set", "snapshot_every=100"]) as c:
        yield c


def Load(cluster, auth, label):
    """Four writers running managed transactions through a routing driver."""
    return Writers(lambda: cluster.driver(auth, max_transaction_retry_time=30,
                                          connection_timeout=2), label)


def test_formation_routing_and_follower_reads_with_bookmarks(cluster, auth):
    cluster.start()
    leader = cluster.wait_leader()
    followers = [c for c in cluster.cores if c is not leader]
    d = cluster.driver(auth)
    with d.session() as s:
        for i in range(50):
            s.execute_write(lambda tx: tx.run("CREATE (:Formed {k: $i})", i=i).consume())
        bookmarks = s.last_bookmarks()
    d.close()
    for f in followers:
        fd = GraphDatabase.driver(f.bolt_uri, auth=auth)
        with fd.session(bookmarks=bookmarks, default_access_mode="READ") as s:
            assert s.run("MATCH (n:Formed) RETURN count(n) AS c").single()["c"] == 50
        with fd.session() as s:
            [row] = list(s.run("CALL dbms.routing.getRoutingTable({}, 'neo4j')"))
            table = {srv["role"]: srv["addresses"] for srv in row["servers"]}
            assert table["WRITE"] == [f"127.0.0.1:{leader.bolt_port}"]
            assert sorted(table["READ"]) == sorted(f"127.0.0.1:{x.bolt_port}" for x in followers)
            assert len(table["ROUTE"]) == 3
            assert 0 < row["ttl"] <= 60
            overview = list(s.run("CALL dbms.cluster.overview()"))
            assert len(overview) == 3
            assert [r["databases"]["neo4j"] for r in overview].count("LEADER") == 1
            assert s.run("CALL dbms.cluster.role('neo4j')").single()["role"] == "FOLLOWER"
            dbs = [r for r in s.run("SHOW DATABASES YIELD *") if r["name"] == "neo4j"]
            assert len(dbs) == 3 and sum(r["writer"] for r in dbs) == 1
            servers = list(s.run("SHOW SERVERS"))
            assert len(servers) == 3
        fd.close()
    with GraphDatabase.driver(leader.bolt_uri, auth=auth) as ld, ld.session() as s:
        assert s.run("CALL dbms.cluster.role('neo4j')").single()["role"] == "LEADER"
    assert_identical_with(cluster, auth, "Formed", set(range(50)))


@pytest.fixture
def impatient_cluster():
    with temp_cluster(["--set", "bookmark_timeout_ms=1000"]) as c:
        yield c


def test_bookmark_wait_times_out_with_the_transient_code(impatient_cluster, auth):
    cluster = impatient_cluster.start()
    leader = cluster.wait_leader()
    with GraphDatabase.driver(leader.bolt_uri, auth=auth) as d, d.session() as s:
        s.run("CREATE (:BM)").consume()
        bookmark = list(s.last_bookmarks().raw_values)[0]
    prefix, index = bookmark.rsplit(":", 1)
    future = neo4j.Bookmarks.from_raw_values([f"{prefix}:{int(index) + 1_000_000}"])
    follower = next(c for c in cluster.cores if c is not leader)
    with GraphDatabase.driver(follower.bolt_uri, auth=auth) as d:
        with d.session(bookmarks=future, default_access_mode="READ") as s:
            with pytest.raises(neo4j.exceptions.TransientError) as err:
                s.run("RETURN 1").consume()
    assert err.value.code == "Neo.TransientError.Transaction.BookmarkTimeout"


def test_leader_kill9_under_write_load(cluster, auth):
    cluster.start()
    gaps = []
    with Load(cluster, auth, "Failover") as load:
        load.wait_for(50)
        for round_ in range(3):
            leader = cluster.wait_leader()
            before = load.count()
            t_kill = time.monotonic()
            leader.kill9()
            cluster.wait_leader(timeout=15, exclude=(leader,))
            t_elected = time.monotonic()
            load.wait_for(before + 50)
            t_end = time.monotonic()
            print(f"round {round_}: elected after {t_elected - t_kill:.3f}s, "
                  f"50 writes after {t_end - t_kill:.3f}s")
            gaps.append(load.max_gap(t_kill - 0.5, t_end))
            # The old leader comes back and rejoins as a follower.
            leader.start()
            time.sleep(0.5)
            assert leader.status()["role"] in ("FOLLOWER", "CANDIDATE", "LEADER")
            cluster.wait_converged()
        errors = load.error_messages()
    print(f"write gaps after leader kill -9: {[round(g, 3) for g in gaps]}")
    assert not errors, f"managed transactions surfaced errors: {errors[:3]}"
    # The survivors saw the leader's process go and elected at once, not
    # after their leases ran out.
    assert any("the leader's process is gone" in c.full_log() for c in cluster.cores)
    assert max(gaps) < 5.0, f"write gaps {gaps}"
    assert_identical_with(cluster, auth, "Failover", load.acked)


def test_follower_kill9_restart_catches_up_from_snapshot(compacting_cluster, auth):
    cluster = compacting_cluster.start()
    leader = cluster.wait_leader()
    follower = next(c for c in cluster.cores if c is not leader)
    with Load(cluster, auth, "CatchUp") as load:
        load.wait_for(50)
        follower.kill9()
        # Far more entries than the log keeps behind a snapshot.
        load.wait_for(load.count() + 600)
        follower.start()
        load.wait_for(load.count() + 50)
    assert not load.error_messages(), load.error_messages()[:3]
    st = leader.status()
    assert st["applied"] > 600
    assert_identical_with(cluster, auth, "CatchUp", load.acked)


def test_partitioned_leader_cannot_commit_and_rejoins(cluster, auth):
    cluster.start()
    old = cluster.wait_leader()
    others = [c for c in cluster.cores if c is not old]
    old_id = old.status()["id"]
    other_ids = [c.status()["id"] for c in others]
    with cluster.driver(auth) as d:
        d.execute_query("CREATE (:Part {k: 'before'})")
    old.block(other_ids)
    for c in others:
        c.block([old_id])
    new = cluster.wait_leader(timeout=15, exclude=(old,))
    assert new is not old
    # The isolated old leader refuses writes quickly, never hangs.
    with GraphDatabase.driver(old.bolt_uri, auth=auth) as d, d.session() as s:
        deadline = time.time() + 5
        while True:
            t0 = time.time()
            try:
                s.run("CREATE (:Part {k: 'minority'})").consume()
            except neo4j.exceptions.Neo4jError as e:
                assert time.time() - t0 < 2.0, "a minority write must fail fast"
                assert "NotALeader" in (e.code or "") or isinstance(
                    e, neo4j.exceptions.WriteServiceUnavailable
                ), e
                break
            except neo4j.exceptions.WriteServiceUnavailable:
                break
            assert time.time() < deadline, "the minority leader kept accepting writes"
        # Reads go on being served.
        assert s.run("MATCH (n:Part) RETURN count(n) AS c").single()["c"] >= 1
        # Like a Neo4j leader that lost its majority, it presents itself as
        # a follower with no known leader, though Raft still calls it leader
        # until it hears of a higher term.
        assert old.status()["lease_lost"]
        assert s.run("CALL dbms.cluster.role('neo4j')").single()["role"] == "FOLLOWER"
        roles = {r["addresses"][0]: r["databases"]["neo4j"]
                 for r in s.run("CALL dbms.cluster.overview()")}
        assert "LEADER" not in roles.values(), roles
    with GraphDatabase.driver(new.bolt_uri, auth=auth) as d:
        d.execute_query("CREATE (:Part {k: 'majority'})")
    # Heal: the old leader rejoins as a follower and catches up.
    for c in cluster.cores:
        c.block([])
    deadline = time.time() + 15
    while old.status()["role"] != "FOLLOWER" and time.time() < deadline:
        time.sleep(0.05)
    assert old.status()["role"] == "FOLLOWER"
    keys = {"before", "majority"}
    assert_identical_with(cluster, auth, "Part", keys)
    assert "minority" not in keys_on(old, auth, "Part")


def test_sigterm_of_leader_hands_over_without_failures(cluster, auth):
    cluster.start()
    with Load(cluster, auth, "Handover") as load:
        load.wait_for(50)
        leader = cluster.wait_leader()
        before = load.count()
        t0 = time.monotonic()
        assert leader.stop() == 0
        load.wait_for(before + 50)
        gap = load.max_gap(t0 - 0.5, time.monotonic())
    print(f"write gap across a graceful leader shutdown: {gap:.3f}s")
    assert not load.error_messages(), load.error_messages()[:3]
    assert "leadership transferred" in leader.full_log()
    assert_identical_with(cluster, auth, "Handover", load.acked)


def test_strangers_are_refused(cluster, auth):
    """A member with the wrong secret, and a wiped member under an old
    address, are refused with a clear log line, never merged."""
    cluster.start()
    leader = cluster.wait_leader()
    follower = next(c for c in cluster.cores if c is not leader)
    follower.kill9()
    follower.wipe()
    follower.start()
    deadline = time.time() + 10
    while "data directory was probably wiped" not in follower.full_log():
        assert time.time() < deadline, follower.log_text()
        time.sleep(0.1)
    st = follower.status()
    assert st["cluster_id"] is None and st["role"] != "LEADER"
    with cluster.driver(auth) as d:
        d.execute_query("CREATE (:StillWorks)")
    follower.kill9()

    from cluster import Core
    with tempfile.TemporaryDirectory() as d:
        stranger = Core(d)
        stranger.initial = cluster.cores[0].initial
        stranger.secret = "not-the-secret"
        stranger.start()
        try:
            deadline = time.time() + 10
            while "secret" not in stranger.full_log():
                assert time.time() < deadline, stranger.log_text()
                time.sleep(0.1)
            assert stranger.status()["cluster_id"] is None
        finally:
            stranger.stop()
    assert any("different cluster secret" in c.full_log() for c in cluster.cores)


def test_write_procedures_through_a_follower_and_vector_reads_on_it(cluster, auth):
    """Procedure calls that write (APOC merges, vector properties) sent to a
    follower over plain bolt:// are writes: routed to the leader, applied
    once on every member. Vector queries are reads a follower answers from
    its own snapshot, after the bookmark."""
    cluster.start()
    leader = cluster.wait_leader()
    follower = next(c for c in cluster.cores if c is not leader)
    with GraphDatabase.driver(follower.bolt_uri, auth=auth) as fd:
        fd.execute_query(
            "CREATE VECTOR INDEX routed_vectors FOR (n:RoutedVec) ON n.v "
            "OPTIONS {indexConfig: {`vector.dimensions`: 2}}")
        with fd.session() as s:
            for i in range(3):
                s.execute_write(lambda tx: tx.run(
                    "CALL apoc.merge.node(['RoutedVec'], {k: $i}) YIELD node "
                    "CALL db.create.setNodeVectorProperty(node, 'v', [1.0, $i])", i=i).consume())
            # Merging again changes nothing.
            s.execute_write(lambda tx: tx.run(
                "CALL apoc.merge.node(['RoutedVec'], {k: 0}) YIELD node RETURN node").consume())
            bookmarks = s.last_bookmarks()
        with fd.session(bookmarks=bookmarks, default_access_mode="READ") as s:
            rows = s.run("CALL db.index.vector.queryNodes('routed_vectors', 1, [1.0, 2.0]) "
                         "YIELD node RETURN node.k AS k").data()
            assert rows == [{"k": 2}]
        # An auto-commit query with inner transactions, routed to the leader,
        # is still implicit there; under ON ERROR FAIL the batch before the
        # failing one stays committed.
        with fd.session() as s:
            s.run("UNWIND range(1, 5) AS k CALL (k) { CREATE (:RoutedBatch {k: k}) } "
                  "IN TRANSACTIONS OF 2 ROWS").consume()
            with pytest.raises(neo4j.exceptions.ClientError):
                s.run("UNWIND [6, 0] AS k CALL (k) { CREATE (:RoutedBatch {k: k, x: 1 / k}) } "
                      "IN TRANSACTIONS OF 1 ROW").consume()
    assert_identical_with(cluster, auth, "RoutedVec", {0, 1, 2})
    assert sorted(keys_on(leader, auth, "RoutedBatch")) == [1, 2, 3, 4, 5, 6]
    assert_identical_with(cluster, auth, "RoutedBatch", {1, 2, 3, 4, 5, 6})


def _exact_top(vectors, q, k):
    """The true k nearest keys by Neo4j's cosine score, and every score."""
    def score(v):
        dot = sum(a * b for a, b in zip(v, q))
        na = math.sqrt(sum(a * a for a in v))
        nb = math.sqrt(sum(b * b for b in q))
        return (1 + dot / (na * nb)) / 2
    scores = {key: score(v) for key, v in vectors.items()}
    top = sorted(scores, key=lambda key: (-scores[key], key))[:k]
    return top, scores


def test_every_member_answers_vector_queries_from_its_own_approximate_index(auth):
    """With the exact threshold at 0, each member serves vector queries from
    the HNSW it builds from the log (or from a snapshot, after catching up):
    recall stays high, scores are exact, and a write is found at once on a
    follower that holds its bookmark. Fulltext and point indexes are built
    the same way and checked the same way, exactly."""
    import random
    rnd = random.Random(11)
    dim, n, k = 16, 1500, 10
    args = ["--set", "vector_exact_below=0",
            "--set", "snapshot_every=50", "--set", "snapshot_log_keep=10"]
    with temp_cluster(args) as cluster:
        cluster.start()
        leader = cluster.wait_leader()
        lagging = next(c for c in cluster.cores if c is not leader)
        lagging.stop()
        vectors = {i: [rnd.uniform(-1, 1) for _ in range(dim)] for i in range(n)}
        with GraphDatabase.driver(leader.bolt_uri, auth=auth) as d:
            d.execute_query("CREATE VECTOR INDEX ann_vectors FOR (n:Ann) ON n.v "
                            "OPTIONS {indexConfig: {`vector.dimensions`: 16}}")
            d.execute_query("CREATE FULLTEXT INDEX ann_text FOR (n:Ann) ON EACH [n.txt]")
            d.execute_query("CREATE POINT INDEX ann_at FOR (n:Ann) ON (n.at)")
            with d.session() as s:
                keys = list(vectors)
                for at in range(0, n, 100):
                    rows = [{"k": i, "v": vectors[i]} for i in keys[at:at + 100]]
                    s.execute_write(lambda tx: tx.run(
                        "UNWIND $rows AS r CREATE (:Ann {k: r.k, v: r.v, txt: 'w' + (r.k % 50), "
                        "at: point({x: r.k, y: r.k % 7})})",
                        rows=rows).consume())
                bookmarks = s.last_bookmarks()
        # The stopped member comes back behind a snapshot and installs it.
        lagging.start()
        queries = [[rnd.uniform(-1, 1) for _ in range(dim)] for _ in range(20)]
        for core in cluster.cores:
            with GraphDatabase.driver(core.bolt_uri, auth=auth) as d:
                with d.session(bookmarks=bookmarks, default_access_mode="READ") as s:
                    # Let the member's builder finish, then measure.
                    time.sleep(1)
                    hits = 0
                    for q in queries:
                        rows = s.run("CALL db.index.vector.queryNodes('ann_vectors', $k, $q) "
                                     "YIELD node, score RETURN node.k AS k, score",
                                     k=k, q=q).data()
                        top, scores = _exact_top(vectors, q, k)
                        assert len(rows) == k
                        for r in rows:
                            assert abs(r["score"] - scores[r["k"]]) < 1e-6
                        hits += len(set(top) & {r["k"] for r in rows})
                    assert hits >= 0.95 * k * len(queries), f"{core.data_dir}: recall {hits}"
                    got = {r["k"] for r in s.run(
                        "CALL db.index.fulltext.queryNodes('ann_text', 'w7 OR w13') "
                        "YIELD node RETURN node.k AS k")}
                    assert got == {i for i in vectors if i % 50 in (7, 13)}, core.data_dir
                    near = "MATCH (n:Ann) WHERE point.distance(n.at, point({x: 100, y: 3})) <= 5 RETURN n.k AS k"
                    assert "POINT INDEX" in str(s.run("EXPLAIN " + near).consume().plan), core.data_dir
                    got = {r["k"] for r in s.run(near)}
                    assert got == {i for i in vectors
                                   if (i - 100) ** 2 + (i % 7 - 3) ** 2 <= 25}, core.data_dir
        # A moved vector, a new one and a deletion are seen by a follower at
        # once, through the bookmark, before any builder catches up.
        target = queries[0]
        follower = next(c for c in cluster.cores if c is not leader)
        top, _ = _exact_top(vectors, target, 2)
        with GraphDatabase.driver(leader.bolt_uri, auth=auth) as d:
            with d.session() as s:
                s.execute_write(lambda tx: tx.run(
                    "MATCH (n:Ann {k: $gone}) DETACH DELETE n "
                    "WITH 1 AS x MATCH (m:Ann {k: 5}) SET m.v = $t "
                    "CREATE (:Ann {k: -1, v: [x IN $t | x * 2], txt: 'fresh'})",
                    gone=top[0], t=target).consume())
                bookmarks = s.last_bookmarks()
        with GraphDatabase.driver(follower.bolt_uri, auth=auth) as d:
            with d.session(bookmarks=bookmarks, default_access_mode="READ") as s:
                rows = s.run("CALL db.index.vector.queryNodes('ann_vectors', 3, $q) "
                             "YIELD node RETURN node.k AS k", q=target).data()
                words = s.run("CALL db.index.fulltext.queryNodes('ann_text', $q) "
                              "YIELD node RETURN node.k AS k",
                              q=f"fresh OR w{top[0] % 50}").data()
        assert {r["k"] for r in words} == {
            i for i in vectors if i % 50 == top[0] % 50 and i != top[0]} | {-1}
        got = [r["k"] for r in rows]
        assert got[:2] == [-1, 5] or got[:2] == [5, -1]
        assert top[0] not in got
        assert_identical_with(cluster, auth, "Ann", set(vectors) - {top[0]})


def test_py2neo_over_routing(cluster, auth):
    # py2neo is installed beside the 6.x driver only (it pins its own).
    Graph = pytest.importorskip("py2neo").Graph

    cluster.start()
    g = Graph(cluster.uri, auth=auth, routing=True)
    g.run("CREATE (:Py2neo {k: 1})")
    assert g.evaluate("MATCH (n:Py2neo) RETURN count(n)") == 1


DNS_NAME = "causeway-cluster-dns-test"


@pytest.fixture
def hosts_name():
    """One name with three A records, as a Kubernetes headless service
    gives, made in /etc/hosts (needs to be writable: CI runs as root)."""
    import os

    if not os.access("/etc/hosts", os.W_OK):
        pytest.skip("/etc/hosts is not writable here")
    with open("/etc/hosts") as f:
        original = f.read()
    ips = ["127.0.0.21", "127.0.0.22", "127.0.0.23"]
    with open("/etc/hosts", "a") as f:
        f.write("".join(f"{ip} {DNS_NAME}\n" for ip in ips))
    try:
        yield ips
    finally:
        with open("/etc/hosts", "w") as f:
            f.write(original)


def test_dns_discovery_waits_for_the_cores_still_to_come(hosts_name, auth):
    """Kubernetes starts the cores of a StatefulSet together, and the
    headless service's name lists each only once its pod exists. A core
    that finds only itself (or two) must wait for the third, not form a
    cluster of its own beside the others."""
    from cluster import free_port

    port = free_port()
    with open("/etc/hosts") as f:
        full = f.read()
    # Only the first core's record exists yet.
    lines = full.splitlines(keepends=True)
    partial = "".join(l for l in lines if DNS_NAME not in l or hosts_name[0] in l)
    with open("/etc/hosts", "w") as f:
        f.write(partial)
    with temp_cluster() as c:
        for core, ip in zip(c.cores, hosts_name):
            core.cluster_host, core.cluster_port = ip, port
            core.initial = [f"{DNS_NAME}:{port}"]
            core.discovery = "dns"
        first = c.cores[0]
        first.start()
        wait_until(lambda: "found 1 of the 3 cores" in first.full_log(), timeout=10,
                   what="the first core to wait for the others")
        time.sleep(1)
        assert "formed a new cluster" not in first.full_log()
        with open("/etc/hosts", "w") as f:
            f.write(full)
        for core in c.cores[1:]:
            core.start()
        leader = c.wait_leader()
        assert len(leader.status()["members"]) == 3


def test_dns_discovery_forms_a_cluster(hosts_name, auth):
    """`--discovery dns`: every core is given only NAME:PORT and finds the
    others through the name's A records."""
    from cluster import free_port

    port = free_port()
    with temp_cluster() as c:
        for core, ip in zip(c.cores, hosts_name):
            core.cluster_host, core.cluster_port = ip, port
            core.initial = [f"{DNS_NAME}:{port}"]
            core.discovery = "dns"
        c.start()
        leader = c.wait_leader()
        assert len(leader.status()["members"]) == 3
        with c.driver(auth) as drv:
            drv.execute_query("CREATE (:Dns {k: 1})")
        assert_identical_with(c, auth, "Dns", {1})
