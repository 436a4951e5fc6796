"""The official neo4j Python driver (5.28 and 6.x, one venv each) against a
real causeway process: application-style code, unchanged."""
import threading

import neo4j
import pytest
from neo4j import GraphDatabase
from neo4j.exceptions import AuthError, ClientError, ConstraintError, CypherSyntaxError, CypherTypeError

SCALARS = [
    None, True, False, 0, 1, -1, 127, -16, -17, 128, -129, 32767, -32768, 2**31 - 1, -(2**31),
    2**63 - 1, -(2**63), 1.5, -0.0, 1e300, "", "héllo wörld ✓", "x" * 70000,
]


@pytest.fixture(scope="module", params=["bolt", "neo4j"])
def driver(request, server, auth):
    uri = server.bolt_uri if request.param == "bolt" else server.neo4j_uri
    d = GraphDatabase.driver(uri, auth=auth)
    d.verify_connectivity()
    yield d
    d.close()


def test_wrong_password_is_auth_error(server):
    d = GraphDatabase.driver(server.bolt_uri, auth=("neo4j", "wrong"))
    with pytest.raises(AuthError):
        d.verify_connectivity()
    d.close()


def test_server_info(driver):
    info = driver.get_server_info()
    assert info.agent.startswith("Neo4j/")


@pytest.mark.parametrize("value", SCALARS + [[1, "a", None, 2.5], {"a": 1, "b": [True, {"c": "d"}]}, b"\x00\x01\xff"])
def test_parameters_round_trip(driver, value):
    records, _, _ = driver.execute_query("RETURN $v AS v", v=value)
    assert records[0]["v"] == value


def test_create_read_update_delete(driver):
    props = {"s": "text", "i": 42, "f": 2.5, "b": True, "l": [1, 2, 3], "ls": ["a", "b"], "big": 2**62}
    with driver.session() as s:
        s.run("MATCH (n:CrudTest) DETACH DELETE n").consume()
        summary = s.run("CREATE (n:CrudTest $props) RETURN n", props=props).consume()
        assert summary.counters.nodes_created == 1
        assert summary.counters.labels_added == 1
        assert summary.counters.properties_set == len(props)
        node = s.run("MATCH (n:CrudTest) RETURN n").single()["n"]
        assert set(node.labels) == {"CrudTest"}
        assert dict(node) == props
        assert node.element_id
        s.run("MATCH (n:CrudTest) SET n.i = n.i + $d, n.extra = $e", d=8, e=b"\x01\x02").consume()
        rec = s.run("MATCH (n:CrudTest) RETURN n.i AS i, n.extra AS e").single()
        assert rec["i"] == 50 and rec["e"] == b"\x01\x02"
        s.run("MATCH (a:CrudTest) CREATE (a)-[:REL {w: 1}]->(:CrudTest {name: 'b'})").consume()
        rec = s.run("MATCH p = (a:CrudTest)-[r:REL]->(b) RETURN a, r, b, p").single()
        r, p = rec["r"], rec["p"]
        assert r.type == "REL" and r["w"] == 1
        assert r.start_node.element_id == rec["a"].element_id
        assert r.end_node.element_id == rec["b"].element_id
        assert len(p) == 1 and p.start_node.element_id == rec["a"].element_id
        summary = s.run("MATCH (n:CrudTest) DETACH DELETE n").consume()
        assert summary.counters.nodes_deleted == 2
        assert summary.counters.relationships_deleted == 1
        assert s.run("MATCH (n:CrudTest) RETURN count(n) AS c").single()["c"] == 0


def test_explicit_transactions_commit_and_rollback(driver):
    with driver.session() as s:
        s.run("MATCH (n:TxTest) DELETE n").consume()
        with s.begin_transaction() as tx:
            tx.run("CREATE (:TxTest {v: 1})").consume()
            # Read-your-own-writes inside the transaction.
            assert tx.run("MATCH (n:TxTest) RETURN count(n) AS c").single()["c"] == 1
            tx.commit()
        with s.begin_transaction() as tx:
            tx.run("CREATE (:TxTest {v: 2})").consume()
            tx.rollback()
        assert s.run("MATCH (n:TxTest) RETURN collect(n.v) AS v").single()["v"] == [1]
        assert s.last_bookmarks()


def test_managed_transactions(driver):
    def write(tx, v):
        return tx.run("CREATE (n:Managed {v: $v}) RETURN n.v AS v", v=v).single()["v"]

    def read(tx):
        return tx.run("MATCH (n:Managed) RETURN count(n) AS c").single()["c"]

    with driver.session() as s:
        s.run("MATCH (n:Managed) DELETE n").consume()
        assert s.execute_write(write, 7) == 7
        assert s.execute_read(read) == 1


def test_stream_100k_rows_with_small_fetch_size(driver):
    with driver.session(fetch_size=100) as s:
        result = s.run("UNWIND range(1, 100000) AS x RETURN x")
        total = count = 0
        for record in result:
            total += record["x"]
            count += 1
        assert count == 100000 and total == 100000 * 100001 // 2


def test_summary(driver):
    with driver.session() as s:
        summary = s.run("CREATE (n:Summary) RETURN n").consume()
        assert summary.query_type == "rw"
        assert summary.database == "neo4j"
        assert summary.counters.contains_updates
        summary = s.run("MATCH (n:Summary) RETURN n").consume()
        assert summary.query_type == "r"
        assert not summary.counters.contains_updates


def test_errors_surface_as_the_right_exception(driver):
    with driver.session() as s:
        with pytest.raises(CypherSyntaxError):
            s.run("MATCH (n RETURN n").consume()
        with pytest.raises(CypherTypeError):
            s.run("RETURN 1 + true").consume()
        with pytest.raises(ClientError) as e:
            s.run("RETURN 1 / 0").consume()
        assert e.value.code == "Neo.ClientError.Statement.ArithmeticError"
        with pytest.raises(CypherSyntaxError):
            s.run("RETURN noSuchFunction(1)").consume()
        with pytest.raises(CypherSyntaxError):
            s.run("RETURN undefinedVariable").consume()
        with pytest.raises(ClientError) as e:
            s.run("RETURN $missing").consume()
        assert e.value.code == "Neo.ClientError.Statement.ParameterMissing"
        # The session is still usable after errors.
        assert s.run("RETURN 1 AS one").single()["one"] == 1
    with driver.session(database="nosuchdb") as s:
        with pytest.raises(ClientError) as e:
            s.run("RETURN 1").consume()
        assert e.value.code == "Neo.ClientError.Database.DatabaseNotFound"


def test_unique_constraint_violation_is_constraint_error(driver):
    with driver.session() as s:
        s.run("CREATE CONSTRAINT uniq_email IF NOT EXISTS FOR (u:User) REQUIRE u.email IS UNIQUE").consume()
        s.run("MATCH (u:User) DELETE u").consume()
        s.run("CREATE (:User {email: 'a@example.com'})").consume()
        with pytest.raises(ConstraintError):
            s.run("CREATE (:User {email: 'a@example.com'})").consume()
        names = [r["name"] for r in s.run("SHOW CONSTRAINTS")]
        assert "uniq_email" in names


def test_index_types_not_implemented_are_refused_not_downgraded(driver):
    """A library that creates a text or lookup index must learn at once that
    it has none, not at its first query against a range index."""
    refused = [
        "CREATE TEXT INDEX names FOR (n:Person) ON (n.name)",
        "CREATE LOOKUP INDEX FOR (n) ON EACH labels(n)",
    ]
    for q in refused:
        # execute_query retries transient errors only: this must fail at once.
        with pytest.raises(ClientError) as e:
            driver.execute_query(q)
        assert e.value.code == "Neo.ClientError.Statement.UnsupportedOperationError", q
    records, _, _ = driver.execute_query("SHOW INDEXES YIELD name, type RETURN name, type")
    assert not [r for r in records if r["name"] == "names"]
    with pytest.raises(ClientError) as e:
        driver.execute_query("CREATE INDEX FOR (n:Person) ON (n.age) OPTIONS {indexProvider: 'text-2.0'}")
    assert e.value.code == "Neo.ClientError.Statement.ArgumentError"
    # Names may be parameters, as neo4j-graphrag sends them.
    driver.execute_query("CREATE INDEX $name IF NOT EXISTS FOR (n:Person) ON (n.age)", name="person_age")
    records, _, _ = driver.execute_query("SHOW INDEXES YIELD name WHERE name = 'person_age' RETURN name")
    assert len(records) == 1
    driver.execute_query("DROP INDEX $name", name="person_age")


def test_fulltext_index_through_the_driver(driver):
    """Full-text indexes as applications use them: created over several
    labels and properties, queried with Lucene syntax and scores, seeing a
    transaction's own writes, listed by SHOW INDEXES with Neo4j's options."""
    driver.execute_query("MATCH (n:FtPerson|FtCompany) DETACH DELETE n")
    driver.execute_query("DROP INDEX ft_names IF EXISTS")
    driver.execute_query(
        "CREATE FULLTEXT INDEX ft_names IF NOT EXISTS FOR (n:FtPerson|FtCompany) "
        "ON EACH [n.name, n.bio]")
    # Created again: nothing happens under IF NOT EXISTS.
    driver.execute_query(
        "CREATE FULLTEXT INDEX ft_names IF NOT EXISTS FOR (n:FtPerson|FtCompany) "
        "ON EACH [n.name, n.bio]")
    driver.execute_query(
        "UNWIND $rows AS r CALL (r) { CREATE (n:FtPerson) SET n = r } ",
        rows=[{"name": "Ada Lovelace", "bio": "wrote the first program"},
              {"name": "Alan Turing", "bio": "broke codes, defined computing"},
              {"name": "Grace Hopper", "bio": "wrote the first compiler"}])
    driver.execute_query("CREATE (:FtCompany {name: 'Lovelace Computing Ltd'})")
    driver.execute_query("CREATE (:FtOther {name: 'Ada'})")

    def names(q, **params):
        records, _, _ = driver.execute_query(
            "CALL db.index.fulltext.queryNodes('ft_names', $q, $opts) YIELD node, score "
            "RETURN node.name AS name, score", q=q, opts=params)
        scores = [r["score"] for r in records]
        assert scores == sorted(scores, reverse=True)
        assert all(isinstance(x, float) and x > 0 for x in scores)
        return [r["name"] for r in records]

    # The shorter field ranks first (BM25's length norm), the other label
    # is not indexed.
    assert names("lovelace") == ["Ada Lovelace", "Lovelace Computing Ltd"]
    assert set(names("wrote AND first")) == {"Ada Lovelace", "Grace Hopper"}
    assert names('"first compiler"') == ["Grace Hopper"]
    assert names("name:comp*") == ["Lovelace Computing Ltd"]
    assert set(names("comp*")) == {"Alan Turing", "Lovelace Computing Ltd", "Grace Hopper"}
    assert names("turnig~") == ["Alan Turing"]
    assert names("bio:lovelace") == []
    assert len(names("wrote", limit=1)) == 1
    assert names("wrote", skip=5) == []
    # Inside a transaction, its own writes are searched.
    with driver.session() as s:
        with s.begin_transaction() as tx:
            tx.run("CREATE (:FtPerson {name: 'Barbara Liskov'})").consume()
            tx.run("MATCH (n:FtPerson {name: 'Grace Hopper'}) SET n.bio = 'admiral'").consume()
            got = [r["name"] for r in tx.run(
                "CALL db.index.fulltext.queryNodes('ft_names', 'liskov OR compiler') "
                "YIELD node RETURN node.name AS name")]
            assert got == ["Barbara Liskov"]
            tx.rollback()
    assert names("liskov") == []
    records, _, _ = driver.execute_query(
        "SHOW INDEXES YIELD name, type, entityType, labelsOrTypes, properties, indexProvider, options "
        "WHERE name = 'ft_names' RETURN *")
    r = records[0]
    assert (r["type"], r["entityType"], r["indexProvider"]) == ("FULLTEXT", "NODE", "fulltext-1.0")
    assert r["labelsOrTypes"] == ["FtPerson", "FtCompany"]
    assert r["properties"] == ["name", "bio"]
    assert r["options"]["indexConfig"] == {
        "fulltext.analyzer": "standard-no-stop-words", "fulltext.eventually_consistent": False}
    records, _, _ = driver.execute_query(
        "CALL db.index.fulltext.listAvailableAnalyzers() YIELD analyzer RETURN collect(analyzer) AS a")
    assert {"standard-no-stop-words", "standard", "english", "keyword"} <= set(records[0]["a"])
    # Errors carry Neo4j's codes.
    for q, code in [
        ("CALL db.index.fulltext.queryNodes('nope', 'x')", "Neo.ClientError.Procedure.ProcedureCallFailed"),
        ("CALL db.index.fulltext.queryNodes('ft_names', 'a AND')",
         "Neo.ClientError.Procedure.ProcedureCallFailed"),
        ("CALL db.index.fulltext.queryRelationships('ft_names', 'x')",
         "Neo.ClientError.Procedure.ProcedureCallFailed"),
        ("CREATE FULLTEXT INDEX ft_other FOR (n:FtPerson|FtCompany) ON EACH [n.name, n.bio]",
         "Neo.ClientError.Schema.EquivalentSchemaRuleAlreadyExists"),
        ("CREATE FULLTEXT INDEX ft_bad FOR (n:X) ON EACH [n.y] "
         "OPTIONS {indexConfig: {`fulltext.analyzer`: 'klingon'}}",
         "Neo.ClientError.Statement.ArgumentError"),
    ]:
        with pytest.raises(ClientError) as e:
            driver.execute_query(q)
        assert e.value.code == code, q
    # Relationships, with another analyzer.
    driver.execute_query(
        "CREATE FULLTEXT INDEX ft_notes FOR ()-[r:FT_KNOWS]-() ON EACH [r.note] "
        "OPTIONS {indexConfig: {`fulltext.analyzer`: 'english'}}")
    driver.execute_query(
        "MATCH (a:FtPerson {name: 'Ada Lovelace'}), (b:FtPerson {name: 'Alan Turing'}) "
        "CREATE (a)-[:FT_KNOWS {note: 'They were running the engines'}]->(b)")
    records, _, _ = driver.execute_query(
        "CALL db.index.fulltext.queryRelationships('ft_notes', 'runs') YIELD relationship, score "
        "RETURN startNode(relationship).name AS a, score")
    assert [r["a"] for r in records] == ["Ada Lovelace"]
    driver.execute_query("DROP INDEX ft_notes")
    driver.execute_query("DROP INDEX ft_names")
    with pytest.raises(ClientError):
        driver.execute_query("CALL db.index.fulltext.queryNodes('ft_names', 'x')")


def test_vector_index_through_the_driver(driver):
    """What vector-store libraries do: create the index with parameters,
    write embeddings in managed transactions (with SET and with the
    procedure), read SHOW INDEXES' options and query nearest neighbours,
    seeing their own writes at once."""
    driver.execute_query("MATCH (d:Doc) DETACH DELETE d")
    driver.execute_query("DROP INDEX docs IF EXISTS")
    driver.execute_query(
        "CREATE VECTOR INDEX $name IF NOT EXISTS FOR (d:Doc) ON d.embedding "
        "OPTIONS {indexConfig: {`vector.dimensions`: toInteger($dims), "
        "`vector.similarity_function`: $fn}}",
        name="docs", dims=4, fn="cosine")
    records, _, _ = driver.execute_query(
        "SHOW INDEXES YIELD name, type, options WHERE type = 'VECTOR' AND name = 'docs' "
        "RETURN name, options")
    assert [(r["name"], r["options"]["indexConfig"]["vector.dimensions"]) for r in records] == [("docs", 4)]

    def write(tx, rows):
        tx.run("UNWIND $rows AS row CREATE (d:Doc {id: row.id}) "
               "WITH d, row CALL db.create.setNodeVectorProperty(d, 'embedding', row.v)",
               rows=rows).consume()

    with driver.session() as s:
        s.execute_write(write, [{"id": i, "v": [1.0, i / 10, 0.0, 0.0]} for i in range(10)])
        s.execute_write(lambda tx: tx.run(
            "CREATE (:Doc {id: 99, embedding: [0.0, 0.0, 1.0, 0.0]})").consume())
        records = s.execute_read(lambda tx: list(tx.run(
            "CALL db.index.vector.queryNodes('docs', 3, $q) YIELD node, score "
            "RETURN node.id AS id, score", q=[0.0, 0.0, 1.0, 0.0])))
    assert records[0]["id"] == 99 and abs(records[0]["score"] - 1.0) < 1e-9
    assert [r["id"] for r in records[1:]] == [0, 1]
    # The stored vector is 32-bit, as Neo4j stores it.
    records, _, _ = driver.execute_query("MATCH (d:Doc {id: 3}) RETURN d.embedding AS e")
    assert records[0]["e"][1] == pytest.approx(0.3, rel=1e-6) and records[0]["e"][1] != 0.3
    with pytest.raises(ClientError) as e:
        driver.execute_query("CALL db.index.vector.queryNodes('docs', 3, [1.0, 0.0])")
    assert e.value.code == "Neo.ClientError.Procedure.ProcedureCallFailed"
    driver.execute_query("DROP INDEX docs")


def test_index_is_used_for_lookups(driver):
    with driver.session() as s:
        s.run("CREATE INDEX person_name IF NOT EXISTS FOR (p:Person) ON (p.name)").consume()
        s.run("MATCH (p:Person) DELETE p").consume()
        s.run("UNWIND range(1, 200) AS i CREATE (:Person {name: 'p' + toString(i)})").consume()
        plan = s.run("EXPLAIN MATCH (p:Person {name: 'p7'}) RETURN p").consume().plan
        assert "NodeIndexSeek" in str(plan)
        assert s.run("MATCH (p:Person {name: 'p7'}) RETURN count(p) AS c").single()["c"] == 1
        # Range predicates use the index too.
        plan = s.run("EXPLAIN MATCH (p:Person) WHERE p.name > 'p5' RETURN p").consume().plan
        assert "NodeIndexSeekByRange" in str(plan)
        assert s.run("MATCH (p:Person) WHERE 'p97' <= p.name < 'p99' RETURN count(p) AS c").single()["c"] == 2
        # PROFILE runs the query and reports the plan with row counts.
        result = s.run("PROFILE MATCH (p:Person {name: 'p7'}) RETURN p.name AS n")
        assert [r["n"] for r in result] == ["p7"]
        profile = result.consume().profile
        assert profile and "NodeIndexSeek" in str(profile)
        indexes = {r["name"]: r for r in s.run("SHOW INDEXES")}
        assert indexes["person_name"]["labelsOrTypes"] == ["Person"]
        assert indexes["person_name"]["properties"] == ["name"]
        assert indexes["person_name"]["state"] == "ONLINE"


def test_read_mode_rejects_writes(driver):
    with driver.session(default_access_mode=neo4j.READ_ACCESS) as s:
        with pytest.raises(ClientError):
            s.run("CREATE (:ShouldNotExist)").consume()


def test_system_database(driver):
    with driver.session(database="system") as s:
        names = {r["name"] for r in s.run("SHOW DATABASES")}
        assert {"neo4j", "system"} <= names
    records, _, _ = driver.execute_query("CALL dbms.components()")
    assert records[0]["name"] == "Neo4j Kernel"
    for call in ["CALL dbms.routing.getRoutingTable({})",
                 "CALL dbms.cluster.routing.getRoutingTable({}, 'neo4j')"]:
        records, _, _ = driver.execute_query(call)
        roles = {s["role"] for s in records[0]["servers"]}
        assert roles == {"READ", "WRITE", "ROUTE"} and records[0]["ttl"] > 0


def test_concurrent_increments_lose_no_update(server, auth):
    """64 clients x 100 managed transactions on one counter: exactly 6400."""
    d = GraphDatabase.driver(server.bolt_uri, auth=auth, max_connection_pool_size=64)
    with d.session() as s:
        s.run("MATCH (c:Counter {id: 1}) DELETE c").consume()
        s.run("CREATE (:Counter {id: 1, n: 0})").consume()
    errors = []

    def worker():
        try:
            with d.session() as s:
                for _ in range(100):
                    s.execute_write(lambda tx: tx.run("MATCH (c:Counter {id: 1}) SET c.n = c.n + 1").consume())
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=worker) for _ in range(64)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors[:3]
    with d.session() as s:
        assert s.run("MATCH (c:Counter {id: 1}) RETURN c.n AS n").single()["n"] == 6400
    d.close()


def test_idle_writer_cannot_hold_the_write_lock_past_its_timeout(driver):
    import time
    with driver.session() as idle, driver.session() as other:
        tx = idle.begin_transaction(timeout=1.0)
        tx.run("CREATE (:IdleWriter)").consume()
        time.sleep(1.5)
        # The lock was released when the idle transaction timed out.
        other.run("CREATE (:OtherWriter)").consume()
        with pytest.raises(ClientError) as e:
            tx.commit()
        assert "TransactionTimedOut" in e.value.code


def test_readers_see_a_consistent_snapshot(driver):
    with driver.session(default_access_mode=neo4j.READ_ACCESS) as reader, driver.session() as writer:
        writer.run("MATCH (n:Snap) DELETE n").consume()
        writer.run("CREATE (:Snap)").consume()
        tx = reader.begin_transaction()
        assert tx.run("MATCH (n:Snap) RETURN count(n) AS c").single()["c"] == 1
        # A writer commits while the read transaction is open: not blocked...
        writer.run("CREATE (:Snap)").consume()
        # ...and the reader keeps its snapshot.
        assert tx.run("MATCH (n:Snap) RETURN count(n) AS c").single()["c"] == 1
        tx.commit()
        assert reader.run("MATCH (n:Snap) RETURN count(n) AS c").single()["c"] == 2


def test_read_then_write_in_a_write_transaction_loses_no_update(driver):
    """A write transaction reads, another writer adds 10, the first writes
    what it read plus one. Whichever way they meet (the other waits for the
    lock, or the first fails at COMMIT with a transient error because what
    it read changed), no update is lost."""
    from neo4j.exceptions import TransientError
    with driver.session() as first, driver.session() as second:
        first.run("MERGE (c:Conflict {id: 1}) SET c.n = 0").consume()
        tx = first.begin_transaction()
        n = tx.run("MATCH (c:Conflict {id: 1}) RETURN c.n AS n").single()["n"]
        other = threading.Thread(
            target=lambda: second.run("MATCH (c:Conflict {id: 1}) SET c.n = c.n + 10").consume())
        other.start()
        tx.run("MATCH (c:Conflict {id: 1}) SET c.n = $n", n=n + 1).consume()
        try:
            tx.commit()
            committed = True
        except TransientError:
            committed = False
        other.join()
        want = 11 if committed else 10
        assert first.run("MATCH (c:Conflict {id: 1}) RETURN c.n AS n").single()["n"] == want

def test_repeated_auth_failures_are_rate_limited(fresh_server, auth):
    fresh_server.start()
    for _ in range(3):
        with GraphDatabase.driver(fresh_server.bolt_uri, auth=(auth[0], "wrong")) as d:
            with pytest.raises(AuthError):
                d.verify_connectivity()
    # Even the right password is refused while the user is locked out.
    with GraphDatabase.driver(fresh_server.bolt_uri, auth=auth) as d:
        with pytest.raises(ClientError) as e:
            d.verify_connectivity()
        assert e.value.code == "Neo.ClientError.Security.AuthenticationRateLimit"


def test_show_procedures_lists_signatures(driver):
    """SHOW PROCEDURES shows Neo4j's four columns by default and the full
    set (signature, argument and return descriptions) with YIELD *; the
    APOC and vector procedures libraries call are listed."""
    with driver.session() as s:
        default = s.run("SHOW PROCEDURES").keys()
        assert default == ["name", "description", "mode", "worksOnSystem"]
        rows = {r["name"]: r for r in s.run("SHOW PROCEDURES YIELD *")}
        assert s.run("SHOW FUNCTIONS").keys() == ["name", "category", "description"]
        functions = {r["name"]: r for r in s.run("SHOW FUNCTIONS YIELD *")}
    for name in ["apoc.meta.data", "apoc.merge.node", "db.index.vector.queryNodes",
                 "db.create.setNodeVectorProperty", "db.labels", "dbms.components"]:
        assert name in rows, name
    meta = rows["apoc.meta.data"]
    assert meta["signature"].startswith("apoc.meta.data(config = {} :: MAP) :: (label :: STRING")
    assert meta["argumentDescription"][0]["name"] == "config"
    assert meta["argumentDescription"][0]["type"] == "MAP"
    assert {"name": "label", "type": "STRING"}.items() <= meta["returnDescription"][0].items()
    assert rows["apoc.merge.node"]["mode"] == "WRITE"
    for name in ["apoc.periodic.iterate", "apoc.util.sleep", "apoc.path.expand"]:
        assert name in rows, name
    assert functions["toUpper"]["signature"] == "toUpper(input :: STRING) :: STRING"
    assert functions["collect"]["aggregating"] is True
    assert functions["apoc.map.merge"]["isBuiltIn"] is False
    assert functions["vector.similarity.cosine"]["category"] == "Vector"
    assert rows["db.index.vector.queryNodes"]["signature"] == (
        "db.index.vector.queryNodes(indexName :: STRING, numberOfNearestNeighbours :: INTEGER, "
        "query :: ANY) :: (node :: NODE, score :: FLOAT)")


def test_call_in_transactions(driver):
    """CALL { } IN TRANSACTIONS runs in an auto-commit query (session.run)
    with Neo4j's batching clauses and status report, and is refused in an
    explicit or managed transaction with Neo4j's code."""
    with driver.session() as s:
        s.run("MATCH (n:Batched) DETACH DELETE n").consume()
        rows = s.run(
            "UNWIND $xs AS x CALL (x) { CREATE (b:Batched {v: 12 / x}) RETURN b.v AS v } "
            "IN TRANSACTIONS OF 2 ROWS ON ERROR CONTINUE REPORT STATUS AS st "
            "RETURN x, v, st.committed AS ok, st.errorMessage IS NOT NULL AS failed",
            xs=[1, 2, 3, 0, 4]).data()
        assert [(r["x"], r["v"], r["ok"], r["failed"]) for r in rows] == [
            (1, 12, True, False), (2, 6, True, False),
            (3, None, False, True), (0, None, False, True),
            (4, 3, True, False)]
        summary = s.run("UNWIND range(1, 2500) AS i CALL (i) { CREATE (:Batched {i: i}) } "
                        "IN TRANSACTIONS").consume()
        assert summary.counters.nodes_created == 2500
        with pytest.raises(neo4j.exceptions.ClientError) as e:
            s.run("UNWIND [1, 0] AS x CALL (x) { CREATE (:Batched {v: 1 / x}) } "
                  "IN TRANSACTIONS OF 1 ROW ON ERROR FAIL").consume()
        assert e.value.code == "Neo.ClientError.Statement.ArithmeticError"
        # The batch before the failing one stays committed, as in Neo4j.
        count = s.run("MATCH (b:Batched) RETURN count(b) AS c").single()["c"]
        assert count == 3 + 2500 + 1

        def batched(tx):
            tx.run("CALL { CREATE (:Batched) } IN TRANSACTIONS").consume()
        with pytest.raises(neo4j.exceptions.DatabaseError) as e:
            s.execute_write(batched)
        assert e.value.code == "Neo.DatabaseError.Transaction.TransactionStartFailed"
        assert "implicit transaction" in e.value.message
        s.run("MATCH (n:Batched) DETACH DELETE n").consume()


def test_apoc_util_sleep_and_periodic_iterate(driver):
    """apoc.util.sleep holds its statement without holding up others, and
    ends with the transaction's timeout; apoc.periodic.iterate reports its
    batches as APOC does."""
    import time
    done = []

    def sleeper():
        with driver.session() as s:
            s.run("CALL apoc.util.sleep(600)").consume()
            done.append(time.monotonic())
    t = threading.Thread(target=sleeper)
    start = time.monotonic()
    t.start()
    time.sleep(0.1)
    with driver.session() as s:
        assert s.run("RETURN 1 AS x").single()["x"] == 1
    answered = time.monotonic()
    t.join()
    assert answered < done[0] and done[0] - start >= 0.6
    with driver.session() as s:
        with pytest.raises(ClientError) as e:
            s.run(neo4j.Query("CALL apoc.util.sleep(10000)", timeout=0.3)).consume()
        assert e.value.code == "Neo.ClientError.Transaction.TransactionTimedOut"
        s.run("MATCH (n:Iter) DETACH DELETE n").consume()
        s.run("UNWIND range(1, 25) AS i CREATE (:Iter {i: i})").consume()
        r = s.run("CALL apoc.periodic.iterate('MATCH (n:Iter) RETURN n', "
                  "'SET n.seen = true', {batchSize: 10, parallel: true})").single()
        assert (r["batches"], r["total"], r["failedBatches"]) == (3, 25, 0)
        assert r["updateStatistics"]["propertiesSet"] == 25
        assert s.run("MATCH (n:Iter {seen: true}) RETURN count(n) AS c").single()["c"] == 25
        s.run("MATCH (n:Iter) DETACH DELETE n").consume()


def test_spatial_points(driver):
    """Points travel both ways as the driver's own types (PackStream Point2D
    and Point3D), are stored as properties and point arrays, and answer
    point.distance, point.withinBBox and their components."""
    from neo4j.spatial import CartesianPoint, WGS84Point
    with driver.session() as s:
        s.run("MATCH (n:Place) DETACH DELETE n").consume()
        s.run("CREATE (:Place {name: 'malmo', at: $at, path: $path})",
              at=WGS84Point((13.0, 55.6)),
              path=[CartesianPoint((0.0, 0.0)), CartesianPoint((3.0, 4.0))]).consume()
        s.run("CREATE (:Place {name: 'cph', at: point({longitude: 12.57, latitude: 55.68})})").consume()
        r = s.run("MATCH (a:Place {name: 'malmo'}), (b:Place {name: 'cph'}) "
                  "RETURN a.at AS at, a.path AS path, point.distance(a.at, b.at) AS d, "
                  "point.distance(a.path[0], a.path[1]) AS flat, b.at.latitude AS lat, "
                  "b.at.crs AS crs, point({x: 1, y: 2, z: 3}) AS p3").single()
        assert isinstance(r["at"], WGS84Point)
        assert (r["at"].longitude, r["at"].latitude) == (13.0, 55.6)
        assert r["path"] == [CartesianPoint((0.0, 0.0)), CartesianPoint((3.0, 4.0))]
        assert 27_000 < r["d"] < 29_000
        assert r["flat"] == 5.0
        assert (r["lat"], r["crs"]) == (55.68, "wgs-84")
        assert tuple(r["p3"]) == (1.0, 2.0, 3.0) and r["p3"].srid == 9157
        inside = s.run(
            "MATCH (p:Place) WHERE point.withinBBox(p.at, "
            "point({longitude: 12.9, latitude: 55.5}), point({longitude: 13.1, latitude: 55.7})) "
            "RETURN p.name AS name").value()
        assert inside == ["malmo"]
        assert s.run("RETURN point.distance(point({x: 0, y: 0}), "
                     "point({longitude: 0, latitude: 0})) AS d").single()["d"] is None
        with pytest.raises(ClientError):
            s.run("RETURN point({longitude: 0, latitude: 95}) AS p").consume()
        with pytest.raises(ClientError):
            s.run("CREATE (:Place {mixed: [point({x: 1, y: 2}), point({x: 1, y: 2, z: 3})]})").consume()
        s.run("MATCH (n:Place) DETACH DELETE n").consume()


def test_point_index_through_the_driver(driver):
    """A point index, created as applications create one, answers
    withinBBox and distance searches with the driver's own point types as
    parameters, and stays in step with writes."""
    from neo4j.spatial import CartesianPoint, WGS84Point
    driver.execute_query("CREATE POINT INDEX station_at IF NOT EXISTS FOR (s:Station) ON (s.at) "
                         "OPTIONS {indexConfig: {`spatial.wgs-84.min`: [-180.0, -90.0]}}")
    driver.execute_query("MATCH (s:Station) DETACH DELETE s")
    driver.execute_query(
        "UNWIND range(0, 3599) AS i CREATE (:Station {id: i, "
        "at: point({longitude: (i % 60) * 6.0 - 180.0, latitude: (i / 60) * 3.0 - 89.0})})")
    records, _, _ = driver.execute_query(
        "SHOW INDEXES YIELD name, type, indexProvider WHERE name = 'station_at' RETURN type, indexProvider")
    assert [tuple(r) for r in records] == [("POINT", "point-1.0")]
    query = "MATCH (s:Station) WHERE point.distance(s.at, $c) < $r RETURN s.id AS id ORDER BY id"
    params = {"c": WGS84Point((177.0, 1.0)), "r": 900_000.0}
    with driver.session() as session:
        plan = session.run("EXPLAIN " + query, params).consume().plan
        assert "POINT INDEX" in str(plan), plan
        near = session.run(query, params).value("id")
    # Every station within 900 km of (177, 1), across the antimeridian,
    # computed here independently with the haversine formula on Neo4j's
    # sphere.
    import math

    def far(lon, lat):
        p1, p2 = math.radians(1.0), math.radians(lat)
        a = (math.sin((p2 - p1) / 2) ** 2
             + math.cos(p1) * math.cos(p2) * math.sin(math.radians(lon - 177.0) / 2) ** 2)
        return 6378140.0 * 2 * math.atan2(math.sqrt(a), math.sqrt(1 - a))
    expected = [i for i in range(3600) if far((i % 60) * 6.0 - 180.0, (i // 60) * 3.0 - 89.0) < 900_000.0]
    assert near == expected and len(expected) > 4, (near, expected)
    box, _, _ = driver.execute_query(
        "MATCH (s:Station) WHERE point.withinBBox(s.at, $lo, $hi) RETURN count(s) AS c",
        lo=WGS84Point((170.0, -10.0)), hi=WGS84Point((-170.0, 10.0)))
    across = [i for i in range(3600)
              if abs((i % 60) * 6.0 - 180.0) >= 170.0 and -10.0 <= (i // 60) * 3.0 - 89.0 <= 10.0]
    assert box[0]["c"] == len(across) > 0
    # Moved and removed points leave the index; Cartesian points in the
    # same index answer Cartesian searches only.
    driver.execute_query("MATCH (s:Station) WHERE s.id IN $ids SET s.at = point({x: s.id, y: 0})",
                         ids=expected)
    again, _, _ = driver.execute_query(query, params)
    assert [r["id"] for r in again] == []
    flat, _, _ = driver.execute_query(
        "MATCH (s:Station) WHERE point.distance(s.at, $c) <= 10000 RETURN count(s) AS c",
        c=CartesianPoint((0.0, 0.0)))
    assert flat[0]["c"] == len(expected)
    driver.execute_query("DROP INDEX station_at")
    driver.execute_query("MATCH (s:Station) DETACH DELETE s")


def test_quantified_paths_and_path_selectors(driver):
    """Cypher 5 path syntax through the official driver: quantified path
    patterns with group variables, SHORTEST k / ALL SHORTEST / ANY with the
    count as a parameter, and paths returned as the driver's Path type."""
    with driver.session() as s:
        s.run("MATCH (n:Stop) DETACH DELETE n").consume()
        s.run("UNWIND range(0, 5) AS i CREATE (:Stop {i: i})").consume()
        # A ring 0→1→…→5→0 and one shortcut 0→3.
        s.run("MATCH (a:Stop), (b:Stop) WHERE b.i = (a.i + 1) % 6 CREATE (a)-[:NEXT {w: a.i}]->(b)").consume()
        s.run("MATCH (a:Stop {i: 0}), (b:Stop {i: 3}) CREATE (a)-[:NEXT {w: 9}]->(b)").consume()

        def read(tx):
            groups = tx.run(
                "MATCH (a:Stop {i: 0}) ((x)-[r:NEXT WHERE r.w < 9]->(y)){2,3} (b) "
                "RETURN b.i AS end, [n IN x | n.i] AS xs, [n IN y | n.i] AS ys ORDER BY end").data()
            shortest = tx.run(
                "MATCH p = SHORTEST $k (a:Stop {i: 0})-[:NEXT]->+(b:Stop {i: 4}) "
                "RETURN p ORDER BY length(p)", k=2).values()
            all_shortest = tx.run(
                "MATCH p = ALL SHORTEST (a:Stop {i: 1})-[:NEXT]-+(b:Stop {i: 4}) "
                "RETURN [n IN nodes(p) | n.i] AS ids ORDER BY ids").values()
            anyone = tx.run(
                "MATCH p = ANY (a:Stop {i: 2})-[:NEXT]->{1,10}(b:Stop {i: 2}) RETURN length(p)").values()
            return groups, shortest, all_shortest, anyone

        groups, shortest, all_shortest, anyone = s.execute_read(read)
        assert groups == [{"end": 2, "xs": [0, 1], "ys": [1, 2]},
                          {"end": 3, "xs": [0, 1, 2], "ys": [1, 2, 3]}]
        assert [len(p) for (p,) in shortest] == [2, 4]
        assert isinstance(shortest[0][0], neo4j.graph.Path)
        assert [n["i"] for n in shortest[0][0].nodes] == [0, 3, 4]
        assert all_shortest == [[[1, 0, 3, 4]], [[1, 0, 5, 4]], [[1, 2, 3, 4]]]
        assert anyone == [[6]]
        with pytest.raises(neo4j.exceptions.ClientError) as e:
            s.run("MATCH p = SHORTEST 1 (a)-->+(b), (c) RETURN p").consume()
        assert e.value.code == "Neo.ClientError.Statement.SyntaxError"
