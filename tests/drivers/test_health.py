"""Neo4j's cluster health endpoints and our readiness probe on a real
three-core cluster, across failover and quorum loss; and routing tables
with `default_router = server`."""
import base64
import json
import urllib.error
import urllib.request

import pytest
from neo4j import GraphDatabase

from cluster import temp_cluster, wait_until


@pytest.fixture
def cluster():
    with temp_cluster() as c:
        yield c


@pytest.fixture
def server_router_cluster():
    with temp_cluster(["--default-router", "server"]) as c:
        yield c


def get(core, path, auth=None):
    """(status, body) of GET path on a member; body is text or parsed JSON."""
    req = urllib.request.Request(f"http://127.0.0.1:{core.http_port}{path}")
    if auth:
        token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
        req.add_header("Authorization", f"Basic {token}")
    try:
        with urllib.request.urlopen(req, timeout=5) as r:
            code, ctype, body = r.status, r.headers.get("Content-Type", ""), r.read().decode()
    except urllib.error.HTTPError as e:
        code, ctype, body = e.code, e.headers.get("Content-Type", ""), e.read().decode()
    return code, json.loads(body) if "json" in ctype else body



def test_cluster_endpoints_answer_like_neo4j_and_flip_on_failover(cluster, auth):
    cluster.start()
    leader = cluster.wait_leader()
    cluster.wait_converged()
    followers = [c for c in cluster.cores if c is not leader]
    # Authentication applies by default, as in Neo4j.
    assert get(leader, "/db/neo4j/cluster/writable")[0] == 401
    assert get(leader, "/db/neo4j/cluster/writable", ("neo4j", "wrong"))[0] == 401
    assert get(leader, "/db/neo4j/cluster/writable", auth) == (200, "true")
    assert get(leader, "/db/neo4j/cluster/read-only", auth) == (404, "false")
    assert get(leader, "/db/neo4j/cluster/available", auth) == (200, "true")
    for f in followers:
        assert get(f, "/db/neo4j/cluster/writable", auth) == (404, "false")
        assert get(f, "/db/neo4j/cluster/read-only", auth) == (200, "true")
        assert get(f, "/db/neo4j/cluster/available", auth) == (200, "true")
    assert get(leader, "/db/nosuch/cluster/available", auth)[0] == 404

    code, st = get(followers[0], "/db/neo4j/cluster/status", auth)
    assert code == 200
    assert len(st["votingMembers"]) == 3 and st["core"] is True
    assert st["isHealthy"] is True and st["participatingInRaftGroup"] is True
    assert st["leader"] in st["votingMembers"] and st["memberId"] in st["votingMembers"]
    assert st["leader"] != st["memberId"]
    assert st["lastAppliedRaftIndex"] > 0 and st["millisSinceLastLeaderMessage"] < 5000
    code, all_dbs = get(leader, "/dbms/cluster/status", auth)
    assert code == 200 and sorted(d["databaseName"] for d in all_dbs) == ["neo4j", "system"]
    assert all(d["databaseStatus"]["healthy"] for d in all_dbs)
    assert all(d["databaseStatus"]["memberId"] == d["databaseStatus"]["leader"] for d in all_dbs)

    # Readiness needs no credentials (a Kubernetes probe) and is true
    # everywhere once the cluster has a leader and everyone caught up.
    for c in cluster.cores:
        assert get(c, "/health/ready")[0] == 200

    # Failover: exactly one other member becomes writable.
    leader.kill9()
    def one_writer():
        return [get(c, "/db/neo4j/cluster/writable", auth)[0] for c in followers].count(200) == 1
    wait_until(one_writer, what="a new writable leader")
    # The old leader comes back read-only.
    leader.start()
    wait_until(lambda: get(leader, "/db/neo4j/cluster/read-only", auth) == (200, "true"),
               what="the old leader to rejoin as a follower")
    wait_until(lambda: get(leader, "/health/ready")[0] == 200, what="the old leader to be ready")

    # Quorum loss: the last member keeps serving reads but is neither
    # writable nor ready (Neo4j's isHealthy would stay true).
    new_leader = cluster.wait_leader()
    last = next(c for c in cluster.cores if c is not new_leader and c is not leader)
    new_leader.kill9()
    leader.kill9()
    wait_until(lambda: get(last, "/health/ready")[0] == 503, what="readiness to drop")
    code, body = get(last, "/health/ready")
    assert body["ready"] is False and body["reason"]
    assert get(last, "/db/neo4j/cluster/writable", auth) == (404, "false")
    assert get(last, "/db/neo4j/cluster/available", auth) == (200, "true")
    with GraphDatabase.driver(last.bolt_uri, auth=auth) as d, d.session(default_access_mode="READ") as s:
        assert s.run("RETURN 1 AS x").single()["x"] == 1
    # Back to a majority: writable and ready again.
    leader.start()
    wait_until(lambda: get(last, "/health/ready")[0] == 200, timeout=30, what="readiness to return")
    wait_until(lambda: [get(c, "/db/neo4j/cluster/writable", auth)[0]
                        for c in (leader, last)].count(200) == 1, what="a writer")


def test_default_router_server_names_only_the_member_asked(server_router_cluster, auth):
    cluster = server_router_cluster.start()
    leader = cluster.wait_leader()
    follower = next(c for c in cluster.cores if c is not leader)
    with GraphDatabase.driver(follower.neo4j_uri, auth=auth) as d:
        with d.session() as s:
            [row] = list(s.run("CALL dbms.routing.getRoutingTable({}, 'neo4j')"))
            table = {srv["role"]: srv["addresses"] for srv in row["servers"]}
            me = [f"127.0.0.1:{follower.bolt_port}"]
            assert table == {"WRITE": me, "READ": me, "ROUTE": me}
        # A routing driver sends everything here; the member routes writes.
        d.execute_query("CREATE (:ServerRouted {k: 1})")
        records, _, _ = d.execute_query("MATCH (n:ServerRouted) RETURN count(n) AS c",
                                        routing_="r")
        assert records[0]["c"] == 1


def healthcheck(*args, env=None):
    """(exit code, output) of `causeway healthcheck`."""
    import os
    import subprocess

    from conftest import binary

    r = subprocess.run([binary(), "healthcheck", *args], capture_output=True, text=True,
                       timeout=30, env={**os.environ, **(env or {})})
    return r.returncode, r.stdout + r.stderr


def test_healthcheck_command_answers_for_a_ready_member(server):
    code, out = healthcheck("--http", f"127.0.0.1:{server.http_port}")
    assert code == 0 and json.loads(out)["ready"] is True, out
    # The address comes from the member's own settings when not given.
    code, out = healthcheck(env={"CAUSEWAY_HTTP_LISTEN": f"0.0.0.0:{server.http_port}"})
    assert code == 0, out
    code, out = healthcheck("--live", "--http", f"127.0.0.1:{server.http_port}")
    assert code == 0 and out.strip() == "OK", out


def test_healthcheck_command_fails_for_a_member_that_is_not_ready(fresh_server, tmp_path):
    """A core whose peers never come (its secret read from a file, as
    Docker and Kubernetes mount secrets) is live but not ready; a port
    nobody listens on is neither."""
    from conftest import free_port

    secret = tmp_path / "cluster-secret"
    secret.write_text("from-a-file\n")
    me, a, b = free_port(), free_port(), free_port()
    fresh_server.extra_args = [
        "--mode", "core", "--cluster-listen", f"127.0.0.1:{me}",
        "--initial-members", f"127.0.0.1:{me},127.0.0.1:{a},127.0.0.1:{b}",
    ]
    fresh_server.env = {"CAUSEWAY_CLUSTER_SECRET_FILE": str(secret)}
    fresh_server.start()
    http = f"127.0.0.1:{fresh_server.http_port}"
    code, out = healthcheck("--http", http)
    assert code == 1 and json.loads(out)["ready"] is False, out
    assert healthcheck("--live", "--http", http)[0] == 0
    code, out = healthcheck("--http", f"127.0.0.1:{free_port()}")
    assert code == 1 and "causeway:" in out, out


def test_settings_file_named_by_the_environment(fresh_server, auth, tmp_path):
    """CAUSEWAY_CONFIG names the settings file, as a container mounts one."""
    conf = tmp_path / "causeway.toml"
    conf.write_text("routing_ttl_secs = 7\n")
    fresh_server.env = {"CAUSEWAY_CONFIG": str(conf)}
    fresh_server.start()
    with GraphDatabase.driver(fresh_server.bolt_uri, auth=auth) as d:
        records, _, _ = d.execute_query("CALL dbms.routing.getRoutingTable({})")
    assert records[0]["ttl"] == 7
