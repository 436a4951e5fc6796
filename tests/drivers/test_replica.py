"""Read replicas: openraft learners added at runtime to a running
three-core cluster. They receive the log (from a snapshot when what they
missed was compacted), serve reads with bookmarks, route writes to the
leader, appear in routing tables and cluster procedures, catch up after
downtime, and can be removed at runtime."""

import json

import pytest
from neo4j import GraphDatabase

from cluster import assert_identical_with, keys_on, temp_cluster, wait_until


@pytest.fixture
def cluster(tmp_path):
    # Snapshots every 100 entries, so a replica away for a few hundred
    # writes must catch up from a snapshot.
    with temp_cluster(["--set", "snapshot_every=100"]) as c:
        c.scratch = tmp_path
        yield c



def test_replica_joins_serves_reads_routes_writes_and_catches_up(cluster, auth):
    cluster.start()
    leader = cluster.wait_leader()
    with cluster.driver(auth) as d:
        for i in range(300):
            d.execute_query("CREATE (:Rep {k: $k})", k=f"before-{i}")
    # Added at runtime: nobody else restarts. The log before it joined is
    # compacted, so it starts from a snapshot.
    replica = cluster.add_replica(cluster.scratch)
    wait_until(lambda: replica.status()["cluster_id"] is not None, what="the replica to join")
    cluster.wait_converged()
    assert "installed a snapshot from the leader" in replica.full_log()
    st = replica.status()
    assert st["role"] == "READ_REPLICA"
    assert [m["voter"] for m in st["members"]].count(False) == 1

    with GraphDatabase.driver(replica.bolt_uri, auth=auth) as d:
        with d.session() as s:
            overview = {r["addresses"][0]: r["databases"]["neo4j"]
                        for r in s.run("CALL dbms.cluster.overview()")}
            assert overview[f"bolt://127.0.0.1:{replica.bolt_port}"] == "READ_REPLICA"
            assert list(overview.values()).count("LEADER") == 1
            [row] = list(s.run("CALL dbms.routing.getRoutingTable({}, 'neo4j')"))
            table = {srv["role"]: srv["addresses"] for srv in row["servers"]}
            assert f"127.0.0.1:{replica.bolt_port}" in table["READ"]
            assert table["WRITE"] == [f"127.0.0.1:{leader.bolt_port}"]
            assert f"127.0.0.1:{replica.bolt_port}" not in table["ROUTE"]
            assert len(list(s.run("SHOW SERVERS"))) == 4
            # A write through the replica runs on the leader.
            s.run("CREATE (:Rep {k: 'via-replica'})").consume()
            bookmarks = s.last_bookmarks()
        with d.session(bookmarks=bookmarks, default_access_mode="READ") as s:
            assert s.run("MATCH (n:Rep {k: 'via-replica'}) RETURN count(n) AS c").single()["c"] == 1

    # The leader reports the replica's lag, per database.
    with GraphDatabase.driver(leader.bolt_uri, auth=auth) as d, d.session() as s:
        rows = [r for r in s.run("SHOW DATABASES YIELD *")
                if r["address"] == f"127.0.0.1:{replica.bolt_port}" and r["name"] == "neo4j"]
        assert len(rows) == 1 and rows[0]["role"] == "secondary", rows
        assert isinstance(rows[0]["replicationLag"], int) and rows[0]["replicationLag"] >= 0

    # Bookmarks: a write on the leader is visible on the replica at once.
    with cluster.driver(auth) as d, d.session() as s:
        s.run("CREATE (:Rep {k: 'bookmarked'})").consume()
        bookmarks = s.last_bookmarks()
    with GraphDatabase.driver(replica.bolt_uri, auth=auth) as d:
        with d.session(bookmarks=bookmarks, default_access_mode="READ") as s:
            assert s.run("MATCH (n:Rep {k: 'bookmarked'}) RETURN count(n) AS c").single()["c"] == 1

    # Down for a few hundred writes, then back: it catches up.
    replica.kill9()
    with cluster.driver(auth) as d:
        for i in range(300):
            d.execute_query("CREATE (:Rep {k: $k})", k=f"while-down-{i}")
    replica.start()
    cluster.wait_converged()
    keys = {f"before-{i}" for i in range(300)} | {f"while-down-{i}" for i in range(300)}
    keys |= {"via-replica", "bookmarked"}
    assert set(keys_on(replica, auth, "Rep")) == keys
    assert_identical_with(cluster, auth, "Rep", keys)


def test_a_wiped_replica_rejoins_under_its_address(cluster, auth):
    cluster.start()
    replica = cluster.add_replica(cluster.scratch)
    wait_until(lambda: replica.status()["cluster_id"] is not None, what="the replica to join")
    old_id = replica.status()["id"]
    replica.kill9()
    replica.wipe()
    replica.start()
    # It joins again as a new member, and the one it replaced is removed,
    # so the leader stops calling a member that no longer exists.
    def rejoined():
        st = replica.status()
        ids = [m["id"] for m in st["members"]]
        return st["cluster_id"] is not None and st["id"] != old_id and old_id not in ids
    wait_until(rejoined, what="the wiped replica to rejoin")
    with cluster.driver(auth) as d:
        d.execute_query("CREATE (:Rejoined {k: 1})")
    assert_identical_with(cluster, auth, "Rejoined", {1})


def test_a_replica_is_removed_at_runtime(cluster, auth):
    cluster.start()
    replica = cluster.add_replica(cluster.scratch)
    wait_until(lambda: replica.status()["cluster_id"] is not None, what="the replica to join")
    server_id = f'{replica.status()["id"]:016x}'
    replica.kill9()
    cluster.cores.remove(replica)
    follower = next(c for c in cluster.cores if c is not cluster.wait_leader())
    # A write-mode call on any member is routed to the leader, which can
    # change the membership.
    with GraphDatabase.driver(follower.bolt_uri, auth=auth) as d, d.session() as s:
        row = s.run("CALL causeway.cluster.removeReplica($id)", id=server_id).single()
        assert row["removed"] is True
        def gone():
            servers = [r["name"] for r in s.run("SHOW SERVERS")]
            return server_id not in servers and len(servers) == 3
        wait_until(gone, what="the replica to leave SHOW SERVERS")
        [row] = list(s.run("CALL dbms.routing.getRoutingTable({}, 'neo4j')"))
        readers = [a for srv in row["servers"] if srv["role"] == "READ" for a in srv["addresses"]]
        assert f"127.0.0.1:{replica.bolt_port}" not in readers
    with cluster.driver(auth) as d:
        d.execute_query("CREATE (:AfterRemoval {k: 1})")
    assert_identical_with(cluster, auth, "AfterRemoval", {1})


def test_http_writes_through_a_follower_and_a_replica(cluster, auth):
    from test_http import post

    cluster.start()
    leader = cluster.wait_leader()
    follower = next(c for c in cluster.cores if c is not leader)
    replica = cluster.add_replica(cluster.scratch)
    wait_until(lambda: replica.status()["cluster_id"] is not None, what="the replica to join")
    bookmarks = []
    for member, key in ((follower, "via-follower"), (replica, "via-replica")):
        status, body = post(member.http_port, "/db/neo4j/tx/commit", {"statements": [
            {"statement": "CREATE (:HttpRouted {k: $k})", "parameters": {"k": key}}]}, auth,
            headers={"Bookmarks": json.dumps(bookmarks)})
        assert status == 200 and body["errors"] == [], body
        bookmarks = body["lastBookmarks"]
    # The Query API too.
    from test_http import request
    status, _, body = request(replica.http_port, "POST", "/db/neo4j/query/v2", auth, {
        "statement": "CREATE (:HttpRouted {k: 'via-query-api'})", "bookmarks": bookmarks})
    assert status == 202, body
    bookmarks = body["bookmarks"]
    # Read back on the replica with the last bookmark, in read mode.
    _, body = post(replica.http_port, "/db/neo4j/tx/commit", {"statements": [
        {"statement": "MATCH (n:HttpRouted) RETURN n.k ORDER BY n.k"}]}, auth,
        headers={"Access-Mode": "READ", "Bookmarks": json.dumps(bookmarks)})
    keys = ["via-follower", "via-query-api", "via-replica"]
    assert [d["row"][0] for d in body["results"][0]["data"]] == keys
    assert_identical_with(cluster, auth, "HttpRouted", set(keys))


def test_http_transaction_continues_through_any_member_and_fails_clearly_with_its_owner(
        cluster, auth):
    from test_http import post, request

    cluster.start()
    leader = cluster.wait_leader()
    a, b = [c for c in cluster.cores if c is not leader]
    replica = cluster.add_replica(cluster.scratch)
    wait_until(lambda: replica.status()["cluster_id"] is not None, what="the replica to join")

    # Opened on follower a, continued on the replica, committed on the
    # leader: each passes the request on to a, which holds it.
    status, headers, body = request(a.http_port, "POST", "/db/neo4j/tx", auth, {"statements": [
        {"statement": "CREATE (:HttpSpan {k: 'one'})"}]})
    assert status == 201, body
    path = headers["location"].split(str(a.http_port), 1)[1]
    status, _, body = request(replica.http_port, "POST", path, auth, {"statements": [
        {"statement": "CREATE (:HttpSpan {k: 'two'}) WITH 1 AS x MATCH (n:HttpSpan) RETURN count(n)"}]})
    assert status == 200 and body["results"][0]["data"][0]["row"] == [2], body
    status, _, body = request(leader.http_port, "POST", path + "/commit", auth, {"statements": []})
    assert status == 200 and body["errors"] == [] and body["lastBookmarks"], body
    assert_identical_with(cluster, auth, "HttpSpan", {"one", "two"})

    # The member holding an open transaction dies: the next request for it,
    # wherever it arrives, gets a clear error, and nothing of it is applied.
    status, headers, body = request(b.http_port, "POST", "/db/neo4j/tx", auth, {"statements": [
        {"statement": "CREATE (:HttpLost {k: 1})"}]})
    assert status == 201, body
    path = headers["location"].split(str(b.http_port), 1)[1]
    b.kill9()
    status, _, body = request(replica.http_port, "POST", path + "/commit", auth, {"statements": []})
    [err] = body["errors"]
    assert err["code"] == "Neo.DatabaseError.Transaction.TransactionCommitFailed", err
    assert "cannot be reached" in err["message"]
    status, _, body = request(a.http_port, "POST", path, auth, {"statements": []})
    assert body["errors"][0]["code"] == "Neo.ClientError.Transaction.TransactionNotFound"
    _, body = post(replica.http_port, "/db/neo4j/tx/commit", {"statements": [
        {"statement": "MATCH (n:HttpLost) RETURN count(n)"}]}, auth)
    assert body["results"][0]["data"][0]["row"] == [0]
