"""The HTTP listener: liveness and Neo4j's discovery document."""
import json
import urllib.request


def get(server, path):
    with urllib.request.urlopen(f"http://127.0.0.1:{server.http_port}{path}", timeout=10) as r:
        return r.status, r.read()


def test_liveness(server):
    status, body = get(server, "/health/live")
    assert status == 200 and body == b"OK"


def test_discovery_document(server):
    status, body = get(server, "/")
    doc = json.loads(body)
    assert status == 200
    assert doc["bolt_direct"] == f"bolt://127.0.0.1:{server.bolt_port}"
    assert doc["bolt_routing"] == f"neo4j://127.0.0.1:{server.bolt_port}"
    assert doc["neo4j_version"].startswith("5.")
