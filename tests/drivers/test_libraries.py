"""The Python libraries people build Neo4j applications with, used as their
documentation shows, unchanged, against a Causeway server: LangChain's
Neo4jVector and neo4j-graphrag's index helpers and VectorRetriever.

Embeddings come from small deterministic embedders written here, so the
nearest neighbours are known without a model."""
import math

import neo4j
import pytest
from langchain_core.embeddings import Embeddings
from langchain_neo4j import Neo4jVector
from neo4j_graphrag.embeddings.base import Embedder
from neo4j_graphrag.indexes import create_vector_index, drop_index_if_exists, upsert_vectors
from neo4j_graphrag.retrievers import VectorRetriever
from neo4j_graphrag.types import EntityType

from conftest import PASSWORD, USER

TEXTS = [
    "raft elects a leader among the cores",
    "the cat sat on the mat",
    "graphs have nodes and relationships",
    "a replica follows the log",
]


def embed(text, size=12):
    """Letter counts folded into `size` buckets, normalised: equal texts
    give equal vectors, and texts sharing letters are close."""
    v = [0.0] * size
    for ch in text.lower():
        if ch.isalpha():
            v[(ord(ch) - ord("a")) % size] += 1.0
    n = math.sqrt(sum(x * x for x in v)) or 1.0
    return [x / n for x in v]


class LetterEmbeddings(Embeddings):
    def embed_documents(self, texts):
        return [embed(t) for t in texts]

    def embed_query(self, text):
        return embed(text)


class LetterEmbedder(Embedder):
    def embed_query(self, text):
        return embed(text)


@pytest.fixture
def url(server):
    return f"bolt://127.0.0.1:{server.bolt_port}"


def test_langchain_neo4jvector(url):
    store = Neo4jVector.from_texts(
        TEXTS, LetterEmbeddings(), url=url, username=USER, password=PASSWORD,
        index_name="lc_chunks", node_label="LcChunk", pre_delete_collection=True)
    hits = store.similarity_search(TEXTS[2], k=2)
    assert hits[0].page_content == TEXTS[2]
    scored = store.similarity_search_with_score(TEXTS[0], k=1)
    assert scored[0][0].page_content == TEXTS[0]
    assert scored[0][1] == pytest.approx(1.0)
    # Documents added later are found at once.
    store.add_texts(["consensus needs a majority of cores"], metadatas=[{"topic": "raft"}])
    hits = store.similarity_search("consensus needs a majority of cores", k=1)
    assert hits[0].metadata["topic"] == "raft"
    # A second store on the same index, as an app reconnecting would open it.
    again = Neo4jVector.from_existing_index(
        LetterEmbeddings(), url=url, username=USER, password=PASSWORD, index_name="lc_chunks")
    assert again.embedding_dimension == 12
    assert again.similarity_search(TEXTS[3], k=1)[0].page_content == TEXTS[3]
    store.query("DROP INDEX lc_chunks")
    store._driver.close()
    again._driver.close()


def test_langchain_hybrid_search(url):
    """Hybrid search creates a full-text index beside the vector one and
    merges both rankings with a UNION query; a keyword that only one text
    holds must bring that text first, whatever the vectors say."""
    store = Neo4jVector.from_texts(
        TEXTS, LetterEmbeddings(), url=url, username=USER, password=PASSWORD,
        index_name="lc_hybrid", keyword_index_name="lc_hybrid_kw", node_label="LcHybrid",
        search_type="hybrid", pre_delete_collection=True)
    records = store.query(
        "SHOW INDEXES YIELD name, type, labelsOrTypes, properties "
        "WHERE name = 'lc_hybrid_kw' RETURN type, labelsOrTypes, properties")
    assert records == [{"type": "FULLTEXT", "labelsOrTypes": ["LcHybrid"], "properties": ["text"]}]
    hits = store.similarity_search("replica", k=1)
    assert hits[0].page_content == TEXTS[3]
    hits = store.similarity_search_with_score(TEXTS[1], k=2)
    assert hits[0][0].page_content == TEXTS[1]
    # Reopened from the existing indexes, as an app restarting would.
    again = Neo4jVector.from_existing_index(
        LetterEmbeddings(), url=url, username=USER, password=PASSWORD, index_name="lc_hybrid",
        keyword_index_name="lc_hybrid_kw", search_type="hybrid")
    assert again.similarity_search("elects", k=1)[0].page_content == TEXTS[0]
    store.query("DROP INDEX lc_hybrid")
    store.query("DROP INDEX lc_hybrid_kw")
    store._driver.close()
    again._driver.close()


def test_graphrag_vector_index_and_retriever(url):
    with neo4j.GraphDatabase.driver(url, auth=(USER, PASSWORD)) as driver:
        drop_index_if_exists(driver, "gr_docs")
        driver.execute_query("MATCH (d:GrDoc) DETACH DELETE d")
        create_vector_index(driver, "gr_docs", label="GrDoc", embedding_property="embedding",
                            dimensions=12, similarity_fn="cosine")
        records, _, _ = driver.execute_query(
            "UNWIND $texts AS t CREATE (d:GrDoc {text: t}) RETURN elementId(d) AS id",
            texts=TEXTS)
        ids = [r["id"] for r in records]
        upsert_vectors(driver, ids=ids, embedding_property="embedding",
                       embeddings=[embed(t) for t in TEXTS], entity_type=EntityType.NODE)
        retriever = VectorRetriever(driver, "gr_docs", LetterEmbedder(), return_properties=["text"])
        result = retriever.search(query_text=TEXTS[1], top_k=2)
        assert len(result.items) == 2
        assert TEXTS[1] in result.items[0].content
        assert result.items[0].metadata["score"] == pytest.approx(1.0)
        drop_index_if_exists(driver, "gr_docs")
        records, _, _ = driver.execute_query("SHOW INDEXES YIELD name WHERE name = 'gr_docs' RETURN name")
        assert records == []


def test_graphrag_schema_through_apoc_meta_data(url):
    """neo4j-graphrag (and the LangChain and MCP tools built on it) read the
    graph's schema with apoc.meta.data before generating any Cypher."""
    from neo4j_graphrag.schema import get_schema, get_structured_schema

    with neo4j.GraphDatabase.driver(url, auth=(USER, PASSWORD)) as driver:
        driver.execute_query("MATCH (n:SchemaPerson|SchemaMovie) DETACH DELETE n")
        driver.execute_query(
            "CREATE (:SchemaPerson {name: 'a', born: 1970})-[:SCHEMA_ACTED_IN {roles: ['x']}]->"
            "(:SchemaMovie {title: 't', released: date()})")
        schema = get_structured_schema(driver)
        assert schema["node_props"]["SchemaPerson"] == [
            {"property": "born", "type": "INTEGER"}, {"property": "name", "type": "STRING"}]
        assert {"property": "released", "type": "DATE"} in schema["node_props"]["SchemaMovie"]
        assert schema["rel_props"]["SCHEMA_ACTED_IN"] == [{"property": "roles", "type": "LIST"}]
        assert {"start": "SchemaPerson", "type": "SCHEMA_ACTED_IN", "end": "SchemaMovie"} \
            in schema["relationships"]
        assert "(:SchemaPerson)-[:SCHEMA_ACTED_IN]->(:SchemaMovie)" in get_schema(driver)


def test_langchain_neo4jgraph_add_graph_documents(url):
    """LangChain's knowledge-graph path: Neo4jGraph reads the schema, and
    add_graph_documents writes with dynamic labels (SET n:$(...)) and
    apoc.merge.relationship, twice without duplicating anything."""
    from langchain_core.documents import Document
    from langchain_neo4j import Neo4jGraph
    from langchain_neo4j.graphs.graph_document import GraphDocument, Node, Relationship

    graph = Neo4jGraph(url=url, username=USER, password=PASSWORD)
    graph.query("MATCH (n:LgPerson|LgCompany|Document) DETACH DELETE n")
    alice = Node(id="Alice", type="LgPerson", properties={"age": 33})
    acme = Node(id="Acme", type="LgCompany")
    doc = GraphDocument(
        nodes=[alice, acme],
        relationships=[Relationship(source=alice, target=acme, type="LG_WORKS_AT",
                                    properties={"since": 2020})],
        source=Document(page_content="Alice works at Acme", metadata={"id": "doc-1"}))
    for _ in range(2):
        graph.add_graph_documents([doc], include_source=True, baseEntityLabel=True)
    rows = graph.query("MATCH (p:LgPerson:__Entity__)-[r:LG_WORKS_AT]->(c:LgCompany) "
                       "RETURN p.id AS p, p.age AS age, r.since AS since, c.id AS c")
    assert rows == [{"p": "Alice", "age": 33, "since": 2020, "c": "Acme"}]
    rows = graph.query("MATCH (d:Document {id: 'doc-1'})-[:MENTIONS]->(e) RETURN count(e) AS n")
    assert rows == [{"n": 2}]
    graph.refresh_schema()
    assert "(:LgPerson)-[:LG_WORKS_AT]->(:LgCompany)" in graph.schema
    graph._driver.close()
