"""Explicit write transactions running side by side (issue 13,
docs/decisions/0022-concurrency-control.md), through the official driver's
managed transactions: they do not wait for each other, and every history
stays serializable, so no update is lost and no invariant is broken.

Each test runs against a server with `concurrency_control = optimistic`
(the default) and, where it makes sense, against one with `lock`, which
must give the same answers."""
import tempfile
import threading
import time

import neo4j
import pytest
from neo4j import GraphDatabase
from neo4j.exceptions import ClientError, TransientError

from conftest import PASSWORD, USER, Server


def start(setting):
    d = tempfile.TemporaryDirectory()
    s = Server(d.name, env={"CAUSEWAY_CONCURRENCY_CONTROL": setting}).start()
    return d, s


@pytest.fixture(scope="module", params=["optimistic", "lock"])
def setting_server(request):
    d, s = start(request.param)
    s.setting = request.param
    yield s
    s.stop()
    d.cleanup()


@pytest.fixture(scope="module")
def optimistic_server():
    d, s = start("optimistic")
    yield s
    s.stop()
    d.cleanup()


def connect(server, clients=64):
    return GraphDatabase.driver(server.bolt_uri, auth=(USER, PASSWORD),
                                max_connection_pool_size=clients + 4)


def run_threads(n, work):
    """Runs work(i) on n threads; returns the exceptions raised."""
    errors = []

    def wrap(i):
        try:
            work(i)
        except Exception as e:  # noqa: BLE001 - reported by the caller
            errors.append(e)

    threads = [threading.Thread(target=wrap, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return errors


def meeting(n):
    """A point n threads wait at until all are there (at most 20 s); a
    retry that comes later passes alone."""
    barrier = threading.Barrier(n, timeout=20)

    def meet():
        try:
            barrier.wait()
        except threading.BrokenBarrierError:
            pass

    return meet


def two_at_once(d, tx_fn):
    """Runs tx_fn(tx, i, meet) as a managed transaction on two threads,
    i = 0 and 1; meet() waits until both have got there."""
    meet = meeting(2)

    def work(i):
        with d.session() as s:
            s.execute_write(tx_fn, i, meet)

    assert run_threads(2, work) == []


def open_together(drivers, n=16):
    """n transactions, spread over `drivers`, each create a node, then wait
    inside the transaction until all n are open at once (client time inside
    the transaction: a round trip, application work), then write again
    through the id they were shown. Under the single write lock the n could
    never all be open together; here each commits on its first attempt,
    with the ids it saw."""
    meet = threading.Barrier(n, timeout=20)
    attempts = [0] * n
    shown = [None] * n
    label = f"Disjoint{len(drivers)}"

    def work(i):
        def tx_fn(tx):
            attempts[i] += 1
            eid = tx.run(f"CREATE (n:{label} {{k: $k}}) RETURN elementId(n) AS e",
                         k=i).single()["e"]
            meet.wait()
            tx.run("MATCH (n) WHERE elementId(n) = $e SET n.done = true", e=eid).consume()
            return eid

        with drivers[i % len(drivers)].session() as s:
            shown[i] = s.execute_write(tx_fn)

    assert run_threads(n, work) == []
    assert attempts == [1] * n
    rows, _, _ = drivers[0].execute_query(
        f"MATCH (n:{label}) RETURN n.k AS k, elementId(n) AS e, n.done AS done")
    assert sorted(r["k"] for r in rows) == list(range(n))
    assert all(r["done"] for r in rows)
    assert {r["k"]: r["e"] for r in rows} == dict(enumerate(shown))


def test_disjoint_writers_are_open_together_and_all_commit(optimistic_server):
    with connect(optimistic_server, 16) as d:
        open_together([d])


def test_hot_counter_loses_no_update_and_every_value_is_seen_once(setting_server):
    """64 clients increment one counter in managed transactions that return
    the new value. Serializable: the final value is the number of commits,
    and the values the committed transactions returned are exactly 1..N."""
    clients, each = 64, 25
    seen = []
    lock = threading.Lock()
    with connect(setting_server, clients) as d:
        d.execute_query("MERGE (c:Hot {id: 1}) SET c.n = 0")

        def work(_):
            with d.session() as s:
                for _ in range(each):
                    v = s.execute_write(lambda tx: tx.run(
                        "MATCH (c:Hot {id: 1}) SET c.n = c.n + 1 RETURN c.n AS n").single()["n"])
                    with lock:
                        seen.append(v)

        assert run_threads(clients, work) == []
        total = clients * each
        assert sorted(seen) == list(range(1, total + 1))
        rows, _, _ = d.execute_query("MATCH (c:Hot {id: 1}) RETURN c.n AS n")
        assert rows[0]["n"] == total


def bank_transfers(drivers, clients=16, each=15):
    """Transfers, from clients spread over `drivers`, read both balances in
    one statement, think for a moment, then write both in another: a lost
    update or write skew would change the total or overdraw an account. A
    reader checks the total, from its own snapshot, all along."""
    accounts, start_balance = 8, 100
    d = drivers[0]
    d.execute_query("MATCH (a:Account) DELETE a")
    d.execute_query("UNWIND range(0, $n - 1) AS i CREATE (:Account {id: i, balance: $b})",
                    n=accounts, b=start_balance)
    totals = []
    stop = threading.Event()

    def audit():
        with d.session(default_access_mode=neo4j.READ_ACCESS) as s:
            while not stop.is_set():
                totals.append(s.execute_read(lambda tx: tx.run(
                    "MATCH (a:Account) RETURN sum(a.balance) AS t").single()["t"]))

    def transfer(tx, src, dst, amount):
        r = tx.run("MATCH (a:Account {id: $s}), (b:Account {id: $d}) "
                   "RETURN a.balance AS a, b.balance AS b", s=src, d=dst).single()
        time.sleep(0.001)
        if r["a"] < amount:
            return False
        tx.run("MATCH (a:Account {id: $s}), (b:Account {id: $d}) "
               "SET a.balance = $a, b.balance = $b",
               s=src, d=dst, a=r["a"] - amount, b=r["b"] + amount).consume()
        return True

    def work(i):
        with drivers[i % len(drivers)].session() as s:
            for j in range(each):
                src = (i + j) % accounts
                dst = (src + 1 + j % (accounts - 1)) % accounts
                s.execute_write(transfer, src, dst, 7 + (i * j) % 30)

    auditor = threading.Thread(target=audit)
    auditor.start()
    errors = run_threads(clients, work)
    stop.set()
    auditor.join()
    assert errors == []
    # In write mode this check runs on the leader, after every transfer.
    rows, _, _ = d.execute_query("MATCH (a:Account) RETURN a.balance AS b")
    assert sum(r["b"] for r in rows) == accounts * start_balance
    assert min(r["b"] for r in rows) >= 0
    assert totals and set(totals) == {accounts * start_balance}


def test_bank_transfers_keep_the_total(setting_server):
    with connect(setting_server, 16) as d:
        bank_transfers([d])


def test_through_server_side_routing(auth):
    """The same on a 3-core cluster, half the clients on a follower over
    `bolt://` (their transactions run on the leader for them, statement by
    statement) and half on the leader: routed transactions also run side
    by side and stay serializable."""
    from cluster import temp_cluster

    with temp_cluster() as cluster:
        cluster.start()
        leader = cluster.wait_leader()
        follower = next(c for c in cluster.cores if c is not leader)
        with GraphDatabase.driver(follower.bolt_uri, auth=auth,
                                  max_connection_pool_size=20) as via, \
                GraphDatabase.driver(leader.bolt_uri, auth=auth,
                                     max_connection_pool_size=20) as direct:
            open_together([via, direct])
            bank_transfers([via, direct])


def test_write_skew_is_prevented(setting_server):
    """Two doctors on call; each transaction takes one off call if the
    other is still on. Run together, both see two on call; serializable
    execution must keep at least one on call."""
    if setting_server.setting == "lock":
        pytest.skip("under the lock the two cannot be open together")
    with connect(setting_server, 4) as d:
        d.execute_query("MATCH (x:Doctor) DELETE x")
        d.execute_query("CREATE (:Doctor {name: 'a', on: true}), (:Doctor {name: 'b', on: true})")

        def off_call(tx, i, meet):
            on = tx.run("MATCH (x:Doctor {on: true}) RETURN count(x) AS c").single()["c"]
            meet()
            if on >= 2:
                tx.run("MATCH (x:Doctor {name: $me}) SET x.on = false", me="ab"[i]).consume()

        two_at_once(d, off_call)
        rows, _, _ = d.execute_query("MATCH (x:Doctor {on: true}) RETURN count(x) AS c")
        assert rows[0]["c"] == 1


def test_a_row_that_appears_is_a_phantom(setting_server):
    """Two transactions look a user up by email (rows, not a count), find
    none, and create one. Run together, the second to commit must notice
    that its lookup would now return a row, so there is one user."""
    if setting_server.setting == "lock":
        pytest.skip("under the lock the two cannot be open together")
    with connect(setting_server, 4) as d:
        d.execute_query("MATCH (u:Phantom) DELETE u")

        def sign_up(tx, me, meet):
            found = list(tx.run("MATCH (u:Phantom {email: 'a@b'}) RETURN u.by AS by"))
            meet()
            if not found:
                tx.run("CREATE (:Phantom {email: 'a@b', by: $me})", me=me).consume()

        two_at_once(d, sign_up)
        rows, _, _ = d.execute_query("MATCH (u:Phantom) RETURN count(u) AS c")
        assert rows[0]["c"] == 1


def test_merge_of_one_key_from_many_clients_creates_one_node(setting_server):
    clients = 32
    meet = meeting(clients)
    creators = []
    with connect(setting_server, clients) as d:
        d.execute_query("MATCH (k:MergeKey) DELETE k")

        def work(i):
            meet()
            with d.session() as s:
                creators.append(s.execute_write(lambda tx: tx.run(
                    "MERGE (k:MergeKey {k: 'x'}) ON CREATE SET k.by = $me RETURN k.by AS by",
                    me=i).single()["by"]))

        assert run_threads(clients, work) == []
        rows, _, _ = d.execute_query("MATCH (k:MergeKey) RETURN k.by AS by")
        assert len(rows) == 1
        # Every client was told the same creator: the one that committed.
        assert set(creators) == {rows[0]["by"]}


def test_a_raced_uniqueness_constraint_admits_one(setting_server):
    clients = 32
    meet = meeting(clients)
    outcomes = []
    with connect(setting_server, clients) as d:
        d.execute_query("CREATE CONSTRAINT race_k IF NOT EXISTS FOR (u:Race) REQUIRE u.k IS UNIQUE")
        d.execute_query("MATCH (u:Race) DELETE u")

        def work(i):
            meet()
            with d.session() as s:
                try:
                    s.execute_write(lambda tx: tx.run(
                        "CREATE (u:Race {k: 1, by: $me})", me=i).consume())
                    outcomes.append("ok")
                except ClientError as e:
                    outcomes.append(e.code)

        assert run_threads(clients, work) == []
        assert outcomes.count("ok") == 1
        assert set(outcomes) == {"ok", "Neo.ClientError.Schema.ConstraintValidationFailed"}
        rows, _, _ = d.execute_query("MATCH (u:Race) RETURN count(u) AS c")
        assert rows[0]["c"] == 1


def test_random_and_clock_values_survive_the_commit_point(optimistic_server):
    """A transaction re-run at its commit point draws the same random
    numbers and reads the same statement clock, so what its client was
    shown is what is stored, and concurrent creators do not conflict."""
    n = 8
    barrier = threading.Barrier(n, timeout=20)
    attempts = [0] * n
    shown = {}
    with connect(optimistic_server, n) as d:
        d.execute_query("MATCH (u:Uuid) DELETE u")

        def work(i):
            def tx_fn(tx):
                attempts[i] += 1
                r = tx.run("CREATE (u:Uuid {id: randomUUID(), r: rand(), at: datetime()}) "
                           "RETURN u.id AS id, u.r AS r, u.at AS at").single()
                barrier.wait()
                return (r["id"], r["r"], r["at"])

            with d.session() as s:
                v = s.execute_write(tx_fn)
                shown[v[0]] = v

        assert run_threads(n, work) == []
        assert attempts == [1] * n
        rows, _, _ = d.execute_query("MATCH (u:Uuid) RETURN u.id AS id, u.r AS r, u.at AS at")
        assert {r["id"]: (r["id"], r["r"], r["at"]) for r in rows} == shown


def test_a_stale_read_fails_with_a_transient_error_and_the_retry_sees_the_write(
        optimistic_server):
    """Read, another writer commits, write what was read plus one: the
    commit must not lose the other write. It fails with Outdated (which
    the driver retries); run again it sees the other write."""
    with connect(optimistic_server, 4) as d, d.session() as first, d.session() as second:
        first.run("MERGE (c:Stale {id: 1}) SET c.n = 0").consume()
        tx = first.begin_transaction()
        n = tx.run("MATCH (c:Stale {id: 1}) RETURN c.n AS n").single()["n"]
        second.run("MATCH (c:Stale {id: 1}) SET c.n = c.n + 10").consume()
        tx.run("MATCH (c:Stale {id: 1}) SET c.n = $n", n=n + 1).consume()
        with pytest.raises(TransientError) as e:
            tx.commit()
        assert e.value.code == "Neo.TransientError.Transaction.Outdated"
        assert first.run("MATCH (c:Stale {id: 1}) RETURN c.n AS n").single()["n"] == 10

        def bump(tx):
            v = tx.run("MATCH (c:Stale {id: 1}) RETURN c.n AS n").single()["n"]
            tx.run("MATCH (c:Stale {id: 1}) SET c.n = $n", n=v + 1).consume()

        first.execute_write(bump)
        assert first.run("MATCH (c:Stale {id: 1}) RETURN c.n AS n").single()["n"] == 11


def test_a_writer_does_not_wait_for_an_idle_writer(optimistic_server):
    """A transaction that wrote and then went idle holds nothing: others
    write and commit meanwhile, and it still commits (it touched other
    data) afterwards."""
    with connect(optimistic_server, 4) as d, d.session() as idle, d.session() as other:
        tx = idle.begin_transaction()
        tx.run("CREATE (:IdleOne)").consume()
        for _ in range(5):
            other.run("CREATE (:Busy)").consume()
        with other.begin_transaction(timeout=2) as t2:
            t2.run("CREATE (:Busy)").consume()
            t2.commit()
        tx.commit()
        rows, _, _ = d.execute_query("MATCH (n:IdleOne) RETURN count(n) AS c")
        assert rows[0]["c"] == 1
