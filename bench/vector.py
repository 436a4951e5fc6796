"""Vector search through the official Python driver, as a vector-store
library uses it: one server, a VECTOR index, embeddings written in managed
transactions with db.create.setNodeVectorProperty, then k-nearest-neighbour
queries with db.index.vector.queryNodes in read transactions.

Reports the load rate, query latency (p50, p99) and recall@k against an
exact search done here with numpy on the same 32-bit vectors.

Usage: .venv/neo4j6/bin/python bench/vector.py [--n 10000] [--dims 384]
           [--queries 50] [--k 10] [--json FILE]
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
    ap.add_argument("--json")
    args = ap.parse_args()

    rng = np.random.default_rng(42)
    data = rng.standard_normal((args.n, args.dims)).astype(np.float32)
    queries = rng.standard_normal((args.queries, args.dims)).astype(np.float32)

    with tempfile.TemporaryDirectory() as d:
        server = Server(d).start()
        try:
            figures = run(server, data, queries, args.k)
        finally:
            server.stop()
    figures.update({"n": args.n, "dims": args.dims, "k": args.k, "queries": args.queries})
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

    norms = data / np.linalg.norm(data, axis=1, keepdims=True)
    latencies, recalls = [], []
    with driver.session() as s:
        for q in queries:
            t = time.monotonic()
            got = s.execute_read(lambda tx: [r["id"] for r in tx.run(
                "CALL db.index.vector.queryNodes('chunks', $k, $q) YIELD node, score "
                "RETURN node.id AS id", k=k, q=q.tolist())])
            latencies.append(time.monotonic() - t)
            exact = np.argsort(-(norms @ (q / np.linalg.norm(q))))[:k]
            recalls.append(len(set(got) & set(exact.tolist())) / k)
    driver.close()
    latencies.sort()
    return {
        "load_s": round(load_s, 2),
        "load_vectors_per_s": round(len(data) / load_s),
        "query_p50_ms": round(statistics.median(latencies) * 1000, 2),
        "query_p99_ms": round(latencies[int(0.99 * (len(latencies) - 1))] * 1000, 2),
        "recall_at_k": round(statistics.mean(recalls), 4),
    }


if __name__ == "__main__":
    main()
