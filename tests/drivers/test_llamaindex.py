"""llama-index's Neo4jPropertyGraphStore against Causeway, unchanged, from
its default constructor (which reads the schema through apoc.meta.data,
apoc.meta.subGraph and apoc.schema.nodes). It needs the 5.x driver, so it
runs in the 5.28 venv; elsewhere it is skipped."""
import pytest

pytest.importorskip("llama_index.graph_stores.neo4j")

from llama_index.core.graph_stores.types import ChunkNode, EntityNode, Relation  # noqa: E402
from llama_index.core.vector_stores.types import VectorStoreQuery  # noqa: E402
from llama_index.graph_stores.neo4j import Neo4jPropertyGraphStore  # noqa: E402

import tempfile  # noqa: E402

from conftest import PASSWORD, USER, Server  # noqa: E402


@pytest.fixture(scope="module")
def own_server():
    """A server of its own: the store's constructor reads the schema of
    whatever is there, and its own code fails on property types other
    suites leave behind (a LOCAL_TIME property: the same on Neo4j)."""
    with tempfile.TemporaryDirectory() as d:
        s = Server(d).start()
        yield s
        s.stop()


@pytest.fixture(params=["bolt", "neo4j"])
def store(request, own_server):
    url = f"{request.param}://127.0.0.1:{own_server.bolt_port}"
    s = Neo4jPropertyGraphStore(username=USER, password=PASSWORD, url=url)
    s.structured_query("MATCH (n) DETACH DELETE n")
    yield s
    s.close()


def test_property_graph_store_round_trip(store):
    chunk = ChunkNode(text="Alice works at Acme in Paris.", id_="chunk1",
                      embedding=[0.1, 0.2, 0.3, 0.4])
    alice = EntityNode(name="Alice", label="PERSON", properties={"age": 30},
                       embedding=[1.0, 0.0, 0.0, 0.0])
    acme = EntityNode(name="Acme", label="ORG", embedding=[0.0, 1.0, 0.0, 0.0])
    paris = EntityNode(name="Paris", label="CITY", embedding=[0.0, 0.0, 1.0, 0.0])
    store.upsert_nodes([chunk])
    store.upsert_nodes([alice, acme, paris])
    store.upsert_relations([
        Relation(label="WORKS_AT", source_id=alice.id, target_id=acme.id,
                 properties={"since": 2020}),
        Relation(label="LOCATED_IN", source_id=acme.id, target_id=paris.id),
    ])

    assert {n.name for n in store.get(ids=[alice.id, acme.id])} == {"Alice", "Acme"}
    triplets = store.get_triplets(entity_names=["Acme"])
    seen = {(s.name, r.label, t.name) for s, r, t in triplets}
    assert seen == {("Alice", "WORKS_AT", "Acme"), ("Acme", "LOCATED_IN", "Paris")}

    nodes, scores = store.vector_query(
        VectorStoreQuery(query_embedding=[0.9, 0.1, 0.0, 0.0], similarity_top_k=2))
    assert [n.name for n in nodes] == ["Alice", "Acme"]
    assert scores[0] > scores[1]

    # The schema the constructor and refresh read: labels with their
    # properties and the relationships between them.
    store.refresh_schema()
    schema = store.get_schema()
    labels = {p["labels"] for p in schema["node_props"]} if isinstance(schema["node_props"], list) \
        else set(schema["node_props"])
    assert {"PERSON", "ORG", "CITY"} <= labels
    assert "WORKS_AT" in store.get_schema_str()

    store.delete(entity_names=["Paris"])
    assert store.structured_query(
        "MATCH (n:__Entity__) RETURN n.name AS name ORDER BY name") == [
        {"name": "Acme"}, {"name": "Alice"}]
