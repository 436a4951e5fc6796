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


def post(port, path, body, auth=("neo4j", "causeway-test-pw"), headers=None):
    """(status, parsed JSON) of a POST with Basic auth."""
    import base64
    import urllib.error

    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=data, method="POST")
    req.add_header("Content-Type", "application/json")
    if auth:
        token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
        req.add_header("Authorization", f"Basic {token}")
    for k, v in (headers or {}).items():
        req.add_header(k, v)
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"{}")


def test_tx_commit_runs_statements_in_one_transaction(server, auth):
    status, body = post(server.http_port, "/db/neo4j/tx/commit", {"statements": [
        {"statement": "CREATE (n:HttpTx {name: $name, n: $n}) RETURN n, n.n AS num",
         "parameters": {"name": "first", "n": 7}, "includeStats": True},
        {"statement": "MATCH (a:HttpTx {name: 'first'}) CREATE (a)-[r:NEXT {w: 1.5}]->(b:HttpTx {name: 'second'}) "
                      "RETURN a, r, b",
         "resultDataContents": ["row", "graph"]},
    ]}, auth)
    assert status == 200 and body["errors"] == [], body
    first, second = body["results"]
    assert first["columns"] == ["n", "num"]
    [row] = first["data"]
    assert row["row"] == [{"name": "first", "n": 7}, 7]
    assert row["meta"][0]["type"] == "node" and row["meta"][0]["deleted"] is False
    assert row["meta"][1] is None
    assert first["stats"]["nodes_created"] == 1 and first["stats"]["contains_updates"] is True
    graph = second["data"][0]["graph"]
    assert sorted(n["properties"]["name"] for n in graph["nodes"]) == ["first", "second"]
    [rel] = graph["relationships"]
    assert rel["type"] == "NEXT" and rel["properties"] == {"w": 1.5}
    assert len(body["lastBookmarks"]) == 1
    # The bookmark works as a Bolt bookmark too.
    from neo4j import GraphDatabase, Bookmarks
    with GraphDatabase.driver(server.bolt_uri, auth=auth) as d:
        with d.session(bookmarks=Bookmarks.from_raw_values(body["lastBookmarks"])) as s:
            assert s.run("MATCH (n:HttpTx) RETURN count(n) AS c").single()["c"] == 2


def test_tx_commit_rolls_back_on_error_and_reports_the_code(server, auth):
    status, body = post(server.http_port, "/db/neo4j/tx/commit", {"statements": [
        {"statement": "CREATE (:HttpRollback)"},
        {"statement": "THIS IS NOT CYPHER"},
    ]}, auth)
    assert status == 200
    assert len(body["results"]) == 1
    assert body["errors"][0]["code"] == "Neo.ClientError.Statement.SyntaxError"
    _, body = post(server.http_port, "/db/neo4j/tx/commit", {"statements": [
        {"statement": "MATCH (n:HttpRollback) RETURN count(n)"}]}, auth)
    assert body["results"][0]["data"][0]["row"] == [0]
    # A write in a read transaction (Access-Mode header).
    _, body = post(server.http_port, "/db/neo4j/tx/commit",
                   {"statements": [{"statement": "CREATE (:HttpRead)"}]}, auth,
                   headers={"Access-Mode": "READ"})
    assert body["errors"][0]["code"] == "Neo.ClientError.Statement.AccessMode"


def test_tx_commit_checks_auth_and_limits(server, auth):
    status, body = post(server.http_port, "/db/neo4j/tx/commit", {"statements": []}, auth=None)
    assert status == 401 and body["errors"][0]["code"] == "Neo.ClientError.Security.Unauthorized"
    status, _ = post(server.http_port, "/db/neo4j/tx/commit", {"statements": []},
                     auth=("neo4j", "wrong-password"))
    assert status == 401
    status, body = post(server.http_port, "/db/neo4j/tx/commit", b"{not json", auth)
    assert status == 400 and body["errors"][0]["code"] == "Neo.ClientError.Request.InvalidFormat"
    many = {"statements": [{"statement": "RETURN 1"}] * 1001}
    _, body = post(server.http_port, "/db/neo4j/tx/commit", many, auth)
    assert body["errors"][0]["code"] == "Neo.ClientError.Request.Invalid"
    _, body = post(server.http_port, "/db/nosuch/tx/commit",
                   {"statements": [{"statement": "RETURN 1"}]}, auth)
    assert body["errors"][0]["code"] == "Neo.ClientError.Database.DatabaseNotFound"
    status, body = post(server.http_port, "/db/neo4j/tx/commit", b"x" * (17 << 20), auth)
    assert status == 413 and body["errors"][0]["code"] == "Neo.ClientError.Request.Invalid"


def test_an_oversized_body_sent_slowly_still_gets_its_answer(server, auth):
    """A client that writes its whole body before reading (urllib, PHP
    streams) reads the 413, however slowly the part past the limit arrives:
    the server reads it away first, where closing early would reset the
    connection and lose the answer."""
    import base64
    import socket
    import time

    token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
    size = 24 << 20
    head = (f"POST /db/neo4j/tx/commit HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            f"Authorization: Basic {token}\r\nContent-Length: {size}\r\n\r\n").encode()
    with socket.create_connection(("127.0.0.1", server.http_port), timeout=30) as sock:
        sock.sendall(head)
        chunk = b"x" * (1 << 20)
        for _ in range(size // len(chunk)):
            sock.sendall(chunk)
            time.sleep(0.01)
        answer = b""
        while b"\r\n\r\n" not in answer:
            answer += sock.recv(65536)
        assert answer.startswith(b"HTTP/1.1 413"), answer[:200]


def request(port, method, path, auth=("neo4j", "causeway-test-pw"), body=None):
    """(status, headers, parsed JSON) of any request with Basic auth."""
    import base64
    import urllib.error

    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=data, method=method)
    req.add_header("Content-Type", "application/json")
    token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
    req.add_header("Authorization", f"Basic {token}")
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, {k.lower(): v for k, v in r.headers.items()}, json.loads(r.read() or b"{}")
    except urllib.error.HTTPError as e:
        return e.code, {k.lower(): v for k, v in e.headers.items()}, json.loads(e.read() or b"{}")


def test_explicit_http_transaction_spans_requests(server, auth):
    port = server.http_port
    status, headers, body = request(port, "POST", "/db/neo4j/tx", auth, {"statements": [
        {"statement": "CREATE (:HttpOpen {k: 1})"}]})
    assert status == 201 and body["errors"] == [], body
    url = headers["location"]
    assert body["commit"] == url + "/commit" and body["transaction"]["expires"].endswith(" GMT")
    path = url.split(str(port), 1)[1]
    # Another request in the same transaction sees its own write.
    status, _, body = request(port, "POST", path, auth, {"statements": [
        {"statement": "CREATE (:HttpOpen {k: 2}) WITH 1 AS x MATCH (n:HttpOpen) RETURN count(n)"}]})
    assert status == 200 and body["results"][0]["data"][0]["row"] == [2], body
    # Not visible outside before the commit (read mode: a write-mode
    # transaction would wait for the open one's write lock).
    _, body = post(port, "/db/neo4j/tx/commit", {"statements": [
        {"statement": "MATCH (n:HttpOpen) RETURN count(n)"}]}, auth, headers={"Access-Mode": "READ"})
    assert body["results"][0]["data"][0]["row"] == [0]
    status, _, body = request(port, "POST", path + "/commit", auth, {"statements": []})
    assert status == 200 and body["errors"] == [] and body["lastBookmarks"], body
    _, body = post(port, "/db/neo4j/tx/commit", {"statements": [
        {"statement": "MATCH (n:HttpOpen) RETURN count(n)"}]}, auth)
    assert body["results"][0]["data"][0]["row"] == [2]
    # It is gone once committed.
    status, _, body = request(port, "POST", path, auth, {"statements": []})
    assert status == 404
    assert body["errors"][0]["code"] == "Neo.ClientError.Transaction.TransactionNotFound"


def test_explicit_http_transaction_rollback_and_errors(server, auth):
    port = server.http_port
    _, headers, _ = request(port, "POST", "/db/neo4j/tx", auth, {"statements": [
        {"statement": "CREATE (:HttpGone)"}]})
    path = headers["location"].split(str(port), 1)[1]
    status, _, body = request(port, "DELETE", path, auth)
    assert status == 200 and body["errors"] == []
    # An error rolls the transaction back and ends it.
    _, headers, _ = request(port, "POST", "/db/neo4j/tx", auth, {"statements": [
        {"statement": "CREATE (:HttpGone)"}]})
    path = headers["location"].split(str(port), 1)[1]
    _, _, body = request(port, "POST", path, auth, {"statements": [{"statement": "NOT CYPHER"}]})
    assert body["errors"][0]["code"] == "Neo.ClientError.Statement.SyntaxError"
    status, _, _ = request(port, "POST", path + "/commit", auth, {"statements": []})
    assert status == 404
    _, body = post(port, "/db/neo4j/tx/commit", {"statements": [
        {"statement": "MATCH (n:HttpGone) RETURN count(n)"}]}, auth)
    assert body["results"][0]["data"][0]["row"] == [0]
    status, _, _ = request(port, "POST", "/db/neo4j/tx/12345", auth, {"statements": []})
    assert status == 404


def test_query_api_v2(server, auth):
    port = server.http_port
    status, _, body = request(port, "POST", "/db/neo4j/query/v2", auth, {
        "statement": "CREATE (a:QueryV2 {name: $name})-[r:KNOWS {since: 2020}]->(b:QueryV2 {name: 'b'}) "
                     "RETURN a, r, a.name AS name",
        "parameters": {"name": "Alice"}, "includeCounters": True})
    assert status == 202, body
    assert body["data"]["fields"] == ["a", "r", "name"]
    [[a, r, name]] = body["data"]["values"]
    assert a["labels"] == ["QueryV2"] and a["properties"] == {"name": "Alice"}
    assert r["type"] == "KNOWS" and r["startNodeElementId"] == a["elementId"]
    assert name == "Alice"
    assert body["counters"]["nodesCreated"] == 2 and body["counters"]["containsUpdates"] is True
    assert len(body["bookmarks"]) == 1
    status, _, body = request(port, "POST", "/db/neo4j/query/v2", auth, {
        "statement": "MATCH (n:QueryV2) RETURN count(n) AS c", "accessMode": "Read",
        "bookmarks": body["bookmarks"]})
    assert status == 202 and body["data"]["values"] == [[2]]
    status, _, body = request(port, "POST", "/db/neo4j/query/v2", auth, {
        "statement": "CREATE (:QueryV2)", "accessMode": "Read"})
    assert status == 400 and body["errors"][0]["code"] == "Neo.ClientError.Statement.AccessMode"
    status, _, body = request(port, "POST", "/db/neo4j/query/v2", auth, {"statement": "NOT CYPHER"})
    assert status == 400 and body["errors"][0]["code"] == "Neo.ClientError.Statement.SyntaxError"


def test_http_inner_transactions_and_points(server, auth):
    """A single CALL { } IN TRANSACTIONS statement sent to /tx/commit runs
    implicitly; beside another statement it is refused with Neo4j's code.
    Points come back as GeoJSON with their coordinate system, and as
    well-known text from the Query API."""
    status, body = post(server.http_port, "/db/neo4j/tx/commit", {"statements": [
        {"statement": "UNWIND range(1, 5) AS i CALL (i) { CREATE (:HttpBatch {i: i}) } "
                      "IN TRANSACTIONS OF 2 ROWS ON ERROR CONTINUE REPORT STATUS AS s "
                      "RETURN count(s) AS batches"}]}, auth)
    assert status == 200 and body["errors"] == [], body
    assert body["results"][0]["data"][0]["row"] == [5]
    status, body = post(server.http_port, "/db/neo4j/tx/commit", {"statements": [
        {"statement": "RETURN 1"},
        {"statement": "CALL { CREATE (:HttpBatch) } IN TRANSACTIONS"}]}, auth)
    assert body["errors"][0]["code"] == "Neo.DatabaseError.Transaction.TransactionStartFailed"
    status, body = post(server.http_port, "/db/neo4j/tx/commit", {"statements": [
        {"statement": "RETURN point({longitude: 13.0, latitude: 55.5}) AS p"}]}, auth)
    [row] = body["results"][0]["data"]
    assert row["row"][0]["type"] == "Point" and row["row"][0]["coordinates"] == [13.0, 55.5]
    assert row["row"][0]["crs"]["srid"] == 4326 and row["meta"][0] == {"type": "point"}
    status, body = post(server.http_port, "/db/neo4j/query/v2",
                        {"statement": "RETURN point({x: 1.5, y: 2, z: 3}) AS p"}, auth)
    assert body["data"]["values"] == [["SRID=9157;POINT Z (1.5 2.0 3.0)"]], body
    status, body = post(server.http_port, "/db/neo4j/tx/commit", {"statements": [
        {"statement": "MATCH (n:HttpBatch) DETACH DELETE n"}]}, auth)
