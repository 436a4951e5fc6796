"""Applications built on Neo4j that pin their own driver, run unchanged
against a Causeway server from their own venv (requirements-apps.txt):
neomodel's OGM with its fulltext and vector indexes, and the Neo4j MCP
servers (mcp-neo4j-memory, mcp-neo4j-cypher) started as the real stdio
processes an AI assistant launches, spoken to over MCP."""
import asyncio
import json
import os
import sys
from pathlib import Path

import pytest

neomodel = pytest.importorskip("neomodel")
fastmcp = pytest.importorskip("fastmcp")

from fastmcp import Client  # noqa: E402
from fastmcp.client.transports import StdioTransport  # noqa: E402
from neomodel import (  # noqa: E402
    ArrayProperty, FloatProperty, FulltextIndex, IntegerProperty, RelationshipTo,
    StringProperty, StructuredNode, VectorIndex, db)
from neomodel.semantic_filters import FulltextFilter, VectorFilter  # noqa: E402

from conftest import PASSWORD, USER  # noqa: E402


class NmAuthor(StructuredNode):
    name = StringProperty(unique_index=True, required=True)
    bio = StringProperty(fulltext_index=FulltextIndex())


class NmBook(StructuredNode):
    title = StringProperty(required=True, fulltext_index=FulltextIndex(analyzer="english"))
    year = IntegerProperty(index=True)
    embedding = ArrayProperty(FloatProperty(), vector_index=VectorIndex(dimensions=3))
    author = RelationshipTo(NmAuthor, "WRITTEN_BY")


def test_neomodel_installs_labels_and_searches(server):
    db.set_connection(url=f"bolt://{USER}:{PASSWORD}@127.0.0.1:{server.bolt_port}")
    try:
        db.cypher_query("MATCH (n:NmAuthor|NmBook) DETACH DELETE n")
        db.install_all_labels()
        rows, _ = db.cypher_query(
            "SHOW INDEXES YIELD name, type WHERE name STARTS WITH 'fulltext_index_Nm' "
            "OR name STARTS WITH 'vector_index_Nm' RETURN name, type ORDER BY name")
        assert [tuple(r) for r in rows] == [
            ("fulltext_index_NmAuthor_bio", "FULLTEXT"),
            ("fulltext_index_NmBook_title", "FULLTEXT"),
            ("vector_index_NmBook_embedding", "VECTOR"),
        ]
        # Installing twice changes nothing.
        db.install_all_labels()
        ada = NmAuthor(name="Ada", bio="mathematician who wrote about engines").save()
        alan = NmAuthor(name="Alan", bio="logician and codebreaker").save()
        books = [
            ("Notes on the Analytical Engine", 1843, [1.0, 0.0, 0.0], ada),
            ("Sketch of the Engines", 1842, [0.9, 0.1, 0.0], ada),
            ("Computing Machinery and Intelligence", 1950, [0.0, 1.0, 0.0], alan),
        ]
        for title, year, emb, author in books:
            b = NmBook(title=title, year=year, embedding=emb).save()
            b.author.connect(author)
        # The english analyzer stems: "engine" finds "Engines" and "Engine".
        found = NmBook.nodes.filter(
            fulltext_filter=FulltextFilter(
                query_string="engine", fulltext_attribute_name="title", topk=5)).all()
        # Searches return [node, score] pairs, best first.
        assert {b.title for b, _ in found} == {t for t, *_ in books[:2]}
        assert found[0][1] >= found[1][1] > 0
        found = NmAuthor.nodes.filter(
            fulltext_filter=FulltextFilter(
                query_string="codebreaker", fulltext_attribute_name="bio", topk=5)).all()
        assert [a.name for a, _ in found] == ["Alan"]
        near = NmBook.nodes.filter(
            vector_filter=VectorFilter(
                topk=2, vector_attribute_name="embedding", candidate_vector=[1.0, 0.05, 0.0])).all()
        assert [b.title for b, _ in near] == [books[0][0], books[1][0]]
        # Ordinary OGM traversal still works beside the indexes.
        assert [a.name for a in NmBook.nodes.get(year=1950).author.all()] == ["Alan"]
    finally:
        db.close_connection()


def mcp_client(command, server):
    """The MCP server as an assistant starts it: its console script, set up
    by environment variables, spoken to over stdio."""
    env = dict(
        os.environ,
        NEO4J_URL=f"bolt://127.0.0.1:{server.bolt_port}",
        NEO4J_USERNAME=USER,
        NEO4J_PASSWORD=PASSWORD,
        NEO4J_DATABASE="neo4j",
    )
    return Client(StdioTransport(command=str(Path(sys.executable).parent / command), args=[],
                                 env=env))


def structured(result):
    if result.structured_content is not None:
        return result.structured_content
    return json.loads(result.content[0].text)


def test_mcp_neo4j_memory(server):
    async def run():
        async with mcp_client("mcp-neo4j-memory", server) as c:
            await c.call_tool("create_entities", {"entities": [
                {"name": "Ada Lovelace", "type": "person", "observations": ["wrote the first program"]},
                {"name": "Analytical Engine", "type": "machine", "observations": ["never built"]},
                {"name": "Charles Babbage", "type": "person", "observations": ["designed engines"]},
            ]})
            await c.call_tool("create_relations", {"relations": [
                {"source": "Ada Lovelace", "target": "Analytical Engine", "relationType": "PROGRAMMED"},
                {"source": "Charles Babbage", "target": "Analytical Engine", "relationType": "DESIGNED"},
            ]})
            await c.call_tool("add_observations", {"observations": [
                {"entityName": "Ada Lovelace", "observations": ["born in 1815"]}]})
            # read_graph searches the fulltext index for '*'.
            graph = structured(await c.call_tool("read_graph", {}))
            assert {e["name"] for e in graph["entities"]} == {
                "Ada Lovelace", "Analytical Engine", "Charles Babbage"}
            assert len(graph["relations"]) == 2
            ada = next(e for e in graph["entities"] if e["name"] == "Ada Lovelace")
            assert "born in 1815" in ada["observations"]
            found = structured(await c.call_tool("search_memories", {"query": "program*"}))
            assert [e["name"] for e in found["entities"]] == ["Ada Lovelace"]
            found = structured(await c.call_tool("search_memories", {"query": "type:person"}))
            assert {e["name"] for e in found["entities"]} == {"Ada Lovelace", "Charles Babbage"}
            await c.call_tool("delete_entities", {"entityNames": ["Charles Babbage"]})
            found = structured(await c.call_tool("search_memories", {"query": "engines"}))
            assert found["entities"] == []
            named = structured(await c.call_tool("find_memories_by_name",
                                                 {"names": ["Analytical Engine"]}))
            assert named["entities"][0]["observations"] == ["never built"]

    asyncio.run(run())


def test_mcp_neo4j_cypher(server):
    async def run():
        async with mcp_client("mcp-neo4j-cypher", server) as c:
            await c.call_tool("write_neo4j_cypher", {
                "query": "CREATE (:McpCity {name: $n, pop: 3})-[:McpIn]->(:McpCountry {name: 'X'})",
                "params": {"n": "Y"}})
            # Without a sample size (argument, --schema-sample-size or
            # NEO4J_SCHEMA_SAMPLE_SIZE) this version sends `{sample: None}`,
            # a syntax error on Neo4j too; users pass one.
            schema = structured(await c.call_tool("get_neo4j_schema", {"sample_size": 1000}))
            text = json.dumps(schema)
            assert "McpCity" in text and "McpIn" in text and "pop" in text
            rows = structured(await c.call_tool("read_neo4j_cypher", {
                "query": "MATCH (c:McpCity)-[:McpIn]->(k) RETURN c.name AS city, k.name AS country"}))
            text = json.dumps(rows)
            assert '"city": "Y"' in text and '"country": "X"' in text
            # A write sent to the read tool is refused by the server's own
            # check (it asks EXPLAIN for the statement kind).
            with pytest.raises(Exception, match="Only MATCH queries"):
                await c.call_tool("read_neo4j_cypher", {"query": "CREATE (:McpNo)"})
            rows = structured(await c.call_tool("read_neo4j_cypher", {
                "query": "MATCH (n:McpNo) RETURN count(n) AS n"}))
            assert '"n": 0' in json.dumps(rows)

    asyncio.run(run())
