"""Path searches through the official Python driver: the Cypher 5 forms
(SHORTEST 1, ALL SHORTEST, quantified relationships and path patterns)
against the older forms they replace (shortestPath, -[*1..3]->), on one
generated graph, in one run, so the ratios compare like with like; and
SHORTEST k and SHORTEST k GROUPS, which have no older form.

The graph: --nodes people with an indexed id and --rels KNOWS relationships
between pseudo-random pairs (a fixed seed). Each query runs --repeat times
in read transactions over --pairs start/end pairs; the report gives the
median latency per form and its ratio to the older form.

Usage: .venv/neo4j6/bin/python bench/paths.py [--nodes 20000] [--rels 100000]
           [--pairs 20] [--repeat 3] [--json FILE]
"""
import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "drivers"))

import neo4j  # noqa: E402

from conftest import PASSWORD, USER, Server  # noqa: E402

BATCH = 10_000

# (name, query, the older form it is compared with)
FORMS = [
    ("shortestPath()",
     "MATCH (a:P {id: $a}), (b:P {id: $b}) MATCH p = shortestPath((a)-[:KNOWS*]-(b)) "
     "RETURN length(p) AS n", None),
    ("SHORTEST 1",
     "MATCH p = SHORTEST 1 (a:P {id: $a})-[:KNOWS]-+(b:P {id: $b}) RETURN length(p) AS n",
     "shortestPath()"),
    ("SHORTEST 1, QPP with a node predicate",
     "MATCH p = SHORTEST 1 (a:P {id: $a}) (()-[:KNOWS]-(x:P) WHERE x.id >= 0)+ (b:P {id: $b}) "
     "RETURN length(p) AS n", "shortestPath()"),
    ("allShortestPaths()",
     "MATCH (a:P {id: $a}), (b:P {id: $b}) MATCH p = allShortestPaths((a)-[:KNOWS*]-(b)) "
     "RETURN count(p) AS n", None),
    ("ALL SHORTEST",
     "MATCH p = ALL SHORTEST (a:P {id: $a})-[:KNOWS]-+(b:P {id: $b}) RETURN count(p) AS n",
     "allShortestPaths()"),
    ("SHORTEST 3",
     "MATCH p = SHORTEST 3 (a:P {id: $a})-[:KNOWS]-+(b:P {id: $b}) RETURN count(p) AS n", None),
    ("SHORTEST 2 GROUPS",
     "MATCH p = SHORTEST 2 GROUPS (a:P {id: $a})-[:KNOWS]-+(b:P {id: $b}) RETURN count(p) AS n",
     None),
    ("-[*1..3]->",
     "MATCH (a:P {id: $a})-[:KNOWS*1..3]->(b) RETURN count(b) AS n", None),
    ("-[]->{1,3}",
     "MATCH (a:P {id: $a})-[:KNOWS]->{1,3}(b) RETURN count(b) AS n", "-[*1..3]->"),
    ("((x)-[]->(y)){1,3}",
     "MATCH (a:P {id: $a}) ((x)-[:KNOWS]->(y)){1,3} (b) RETURN count(b) AS n", "-[*1..3]->"),
]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--nodes", type=int, default=20_000)
    ap.add_argument("--rels", type=int, default=100_000)
    ap.add_argument("--pairs", type=int, default=20)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--json")
    args = ap.parse_args()
    rng = random.Random(7)
    edges = [(rng.randrange(args.nodes), rng.randrange(args.nodes)) for _ in range(args.rels)]
    pairs = [(rng.randrange(args.nodes), rng.randrange(args.nodes)) for _ in range(args.pairs)]
    with tempfile.TemporaryDirectory() as d:
        server = Server(d).start()
        try:
            figures = run(server, args, edges, pairs)
        finally:
            server.stop()
    print(json.dumps(figures, indent=1))
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=1))


def run(server, args, edges, pairs):
    with neo4j.GraphDatabase.driver(server.bolt_uri, auth=(USER, PASSWORD)) as driver:
        driver.execute_query("CREATE INDEX FOR (p:P) ON (p.id)")
        driver.execute_query("UNWIND range(0, $n - 1) AS i CREATE (:P {id: i})", n=args.nodes)
        for i in range(0, len(edges), BATCH):
            driver.execute_query(
                "UNWIND $e AS e MATCH (a:P {id: e[0]}), (b:P {id: e[1]}) CREATE (a)-[:KNOWS]->(b)",
                e=edges[i:i + BATCH])
        out = {"graph": {"nodes": args.nodes, "relationships": len(edges)}, "forms": {}}
        with driver.session() as s:
            for name, query, _ in FORMS:
                times, answers = [], []
                for a, b in pairs:
                    best = None
                    for _ in range(args.repeat):
                        t = time.perf_counter()
                        rows = s.execute_read(lambda tx: tx.run(query, a=a, b=b).data())
                        dt = time.perf_counter() - t
                        best = dt if best is None else min(best, dt)
                    times.append(best)
                    answers.append(rows[0]["n"] if rows else None)
                out["forms"][name] = {"median_ms": round(statistics.median(times) * 1000, 2),
                                      "answers": answers}
        for name, _, older in FORMS:
            if older:
                f = out["forms"][name]
                f["vs_" + older] = round(f["median_ms"] / out["forms"][older]["median_ms"], 3)
                f["same_answers"] = f["answers"] == out["forms"][older]["answers"]
        for f in out["forms"].values():
            del f["answers"]
        return out


if __name__ == "__main__":
    main()
