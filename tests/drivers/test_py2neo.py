"""py2neo 2021.2.4 (its own Bolt client) against a real causeway process."""
import pytest

py2neo = pytest.importorskip("py2neo")
from py2neo import Graph, Node, Relationship  # noqa: E402


@pytest.fixture(scope="module", params=["bolt", "http"])
def graph(request, server, auth):
    # Over HTTP, py2neo posts to Neo4j 3.x's /db/data/transaction paths
    # for the default database.
    if request.param == "http":
        return Graph(f"http://127.0.0.1:{server.http_port}", auth=auth)
    return Graph(server.bolt_uri, auth=auth)


def test_run_with_parameters(graph):
    for value in [None, True, 1, -(2**63), 2.5, "text", [1, 2], {"k": "v"}]:
        assert graph.run("RETURN $v AS v", v=value).evaluate() == value
    # JSON has no byte strings: over HTTP they come back as their numbers.
    over_http = repr(graph).startswith("Graph('http")
    back = graph.run("RETURN $v AS v", v=bytearray(b"\x00\xff")).evaluate()
    assert back == ([0, 255] if over_http else bytearray(b"\x00\xff"))


def test_create_with_the_object_api_and_read_back(graph):
    graph.run("MATCH (n:Py2neo) DETACH DELETE n")
    a = Node("Py2neo", name="Alice", age=33)
    b = Node("Py2neo", name="Bob")
    graph.create(Relationship(a, "KNOWS", b, since=2020))
    rows = graph.run("MATCH (a:Py2neo)-[r:KNOWS]->(b) RETURN a.name AS a, r.since AS s, b.name AS b").data()
    assert rows == [{"a": "Alice", "s": 2020, "b": "Bob"}]
    node = graph.nodes.match("Py2neo", name="Alice").first()
    assert node["age"] == 33


def test_transactions(graph):
    graph.run("MATCH (n:Py2neoTx) DELETE n")
    tx = graph.begin()
    tx.run("CREATE (:Py2neoTx {v: 1})")
    graph.commit(tx)
    tx = graph.begin()
    tx.run("CREATE (:Py2neoTx {v: 2})")
    graph.rollback(tx)
    assert graph.run("MATCH (n:Py2neoTx) RETURN collect(n.v)").evaluate() == [1]


def test_streaming_and_counters(graph):
    cursor = graph.run("UNWIND range(1, 100000) AS x RETURN x")
    assert sum(r["x"] for r in cursor) == 100000 * 100001 // 2
    stats = graph.run("CREATE (:Py2neoStats {a: 1})").stats()
    assert stats["nodes_created"] == 1


def test_errors(graph):
    from py2neo.errors import ClientError
    with pytest.raises(ClientError):
        graph.run("MATCH (n RETURN n")
    assert graph.run("RETURN 1").evaluate() == 1


def test_schema_api(graph):
    """py2neo's Graph.schema speaks Neo4j 4: CREATE INDEX ON, the db.indexes
    procedure, DROP INDEX ON and DROP CONSTRAINT ON ... ASSERT."""
    s = graph.schema
    label = "Py2neoSchema"
    s.create_index(label, "name")
    s.create_index(label, "a", "b")
    assert sorted(s.get_indexes(label)) == [("a", "b"), ("name",)]
    s.drop_index(label, "name")
    assert s.get_indexes(label) == [("a", "b")]
    s.drop_index(label, "a", "b")
    s.create_uniqueness_constraint(label, "email")
    assert s.get_uniqueness_constraints(label) == ["email"]
    # The constraint's own index is unique; plain ones are not listed here.
    assert s.get_indexes(label) == [("email",)]
    s.drop_uniqueness_constraint(label, "email")
    assert s.get_uniqueness_constraints(label) == []
    with pytest.raises(Exception) as e:
        s.drop_index(label, "missing")
    assert "IndexDropFailed" in str(e.value) or "no such index" in str(e.value)


def test_routing_uri(server, auth):
    """py2neo routes with the dbms.routing procedures over neo4j://."""
    g = Graph(server.neo4j_uri, auth=auth)
    assert g.run("RETURN 7 AS x").evaluate() == 7
    g.run("CREATE (:Py2neoRouted)")
    assert g.run("MATCH (n:Py2neoRouted) RETURN count(n)").evaluate() >= 1
