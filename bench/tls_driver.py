"""The cost of TLS as an application sees it: the official Python driver,
managed transactions (execute_write of one tiny CREATE, execute_read of one
indexed point read), over plaintext and over TLS against the same server
(tls_mode = optional, certificates from scripts/tls-certs.sh), alternating
within each round and swapping which goes first every round, so that each
TLS / plaintext ratio is measured side by side.

Each client thread has its own driver (a pool of one connection in use), as
separate application processes would.

Usage: .venv/neo4j6/bin/python bench/tls_driver.py [--seconds 5]
           [--rounds 3] [--threads 8] [--json FILE]
"""
import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "drivers"))

import neo4j  # noqa: E402
from neo4j import GraphDatabase, TrustCustomCAs  # noqa: E402

from conftest import PASSWORD, USER, Server  # noqa: E402

POINTS = 10_000


def workload(kind):
    if kind == "write":
        return lambda s, i: s.execute_write(
            lambda tx: tx.run("CREATE (:TlsW {i: $i})", i=i).consume())
    return lambda s, i: s.execute_read(
        lambda tx: tx.run("MATCH (p:TlsP {k: $k}) RETURN p.k AS k", k=i % POINTS).single())


def run(server, ca, tls, kind, threads, seconds):
    """Transactions per second and latencies (ms) of `threads` clients."""
    opts = dict(auth=(USER, PASSWORD))
    if tls:
        opts.update(encrypted=True, trusted_certificates=TrustCustomCAs(str(ca)))
    drivers = [GraphDatabase.driver(server.bolt_uri, **opts) for _ in range(threads)]
    for d in drivers:
        d.verify_connectivity()
    step = workload(kind)
    lat = [[] for _ in range(threads)]
    stop = threading.Event()
    errors = []

    def client(n):
        with drivers[n].session() as s:
            i = n * 10_000_000
            while not stop.is_set():
                t = time.perf_counter()
                try:
                    step(s, i)
                except neo4j.exceptions.Neo4jError as e:
                    errors.append(e)
                lat[n].append(time.perf_counter() - t)
                i += 1

    ts = [threading.Thread(target=client, args=(n,)) for n in range(threads)]
    for t in ts:
        t.start()
    time.sleep(seconds)
    stop.set()
    for t in ts:
        t.join()
    for d in drivers:
        d.close()
    all_lat = sorted(x for l in lat for x in l)
    q = lambda p: round(all_lat[min(len(all_lat) - 1, int(p * len(all_lat)))] * 1000, 2)
    return {"rate": round(len(all_lat) / seconds), "p50_ms": q(0.5), "p99_ms": q(0.99),
            "errors": len(errors)}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=5)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=8)
    ap.add_argument("--json")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        certs = Path(tmp) / "certs"
        subprocess.run([str(ROOT / "scripts" / "tls-certs.sh"), str(certs)], check=True,
                       capture_output=True)
        (Path(tmp) / "data").mkdir()
        server = Server(Path(tmp) / "data", extra_args=[
            "--log-level", "warn", "--set", "tls_mode=optional",
            "--set", f"tls_certificate={certs / 'tls.crt'}",
            "--set", f"tls_private_key={certs / 'tls.key'}"])
        server.start()
        try:
            with GraphDatabase.driver(server.bolt_uri, auth=(USER, PASSWORD)) as d:
                d.execute_query("CREATE INDEX tls_p IF NOT EXISTS FOR (p:TlsP) ON (p.k)")
                d.execute_query("UNWIND range(0, $n - 1) AS k CREATE (:TlsP {k: k})", n=POINTS)
            results = {}
            for r in range(args.rounds):
                for kind in ("read", "write"):
                    order = (False, True) if r % 2 == 0 else (True, False)
                    for tls in order:
                        fig = run(server, certs / "ca.crt", tls, kind, args.threads, args.seconds)
                        results.setdefault((kind, tls), []).append(fig)
                        print(f"round {r + 1} {kind:5} {'TLS' if tls else 'plain':5} {fig}",
                              flush=True)
        finally:
            server.stop()
    out = {}
    for kind in ("read", "write"):
        ratios = [t["rate"] / p["rate"] for p, t in zip(results[(kind, False)],
                                                        results[(kind, True)])]
        out[kind] = {"plaintext": results[(kind, False)], "tls": results[(kind, True)],
                     "ratio_per_round": [round(x, 2) for x in ratios],
                     "median_ratio": round(statistics.median(ratios), 2)}
        print(f"{kind}: TLS / plaintext per round {out[kind]['ratio_per_round']}, "
              f"median {out[kind]['median_ratio']}")
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
