"""Concurrency control as applications meet it (issue 13): the official
Python driver's managed transactions (`execute_write`) of one tiny CREATE
with 0, 1 and 2 ms of client time inside each transaction (a sleep between
the statement's result and COMMIT: a round trip elsewhere, a little
application logic), a hot counter (every client adds 1 to one node's
property), the same counter read in one statement and written in the next
(any two such transactions at once conflict), and auto-commit tiny
writes, with 16 and 64 clients.

Clients are threads spread over several processes, each process with one
driver (as a fleet of application processes would be), so that one
interpreter's lock does not stretch the time spent inside transactions.
Only committed transactions count towards rates and latencies; the time
from the first attempt to the commit is the latency an application sees,
retries (with the driver's back-off) included.

With --set-b KEY=VALUE a second server runs with that setting and every
workload alternates between the two within each round (swapping which goes
first), so each B / A ratio is measured side by side.

Usage: .venv/neo4j6/bin/python bench/cc_driver.py [--seconds 5] [--rounds 3]
           [--clients 16,64] [--think-ms 0,1,2] [--set-b concurrency_control=...]
           [--json FILE]
"""
import argparse
import json
import multiprocessing as mp
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "drivers"))

from neo4j import GraphDatabase  # noqa: E402

from conftest import PASSWORD, USER, Server  # noqa: E402

THREADS_PER_PROCESS = 8


def worker(uri, kind, think, threads, base, start_at, seconds, out):
    """One process: `threads` clients sharing one driver until the end."""
    lat, attempts, errors, done = [], [0], [], [0]
    lock = threading.Lock()
    with GraphDatabase.driver(uri, auth=(USER, PASSWORD),
                              max_connection_pool_size=threads + 4) as d:
        d.verify_connectivity()
        end = start_at + seconds

        def client(n):
            i = base + n * 10_000_000
            with d.session() as s:
                while time.time() < start_at:
                    time.sleep(0.001)
                while time.time() < end:
                    i += 1

                    def work(tx, i=i):
                        with lock:
                            attempts[0] += 1
                        if kind == "counter":
                            tx.run("MATCH (c:CcCounter {id: 0}) SET c.n = c.n + 1").consume()
                        elif kind == "rwcount":
                            n = tx.run("MATCH (c:CcCounter {id: 1}) RETURN c.n AS n").single()["n"]
                            tx.run("MATCH (c:CcCounter {id: 1}) SET c.n = $n", n=n + 1).consume()
                        else:
                            tx.run("CREATE (:CcWrite {id: $i})", i=i).consume()
                        if think:
                            time.sleep(think / 1000)

                    t = time.perf_counter()
                    try:
                        if kind == "auto":
                            s.run("CREATE (:CcWrite {id: $i})", i=i).consume()
                            with lock:
                                attempts[0] += 1
                        else:
                            s.execute_write(work)
                    except Exception as e:  # noqa: BLE001 - counted, reported by kind
                        with lock:
                            errors.append(type(e).__name__)
                        continue
                    with lock:
                        done[0] += 1
                        if time.time() <= end:
                            lat.append(time.perf_counter() - t)

        ts = [threading.Thread(target=client, args=(n,)) for n in range(threads)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
    out.put((lat, attempts[0], errors, done[0]))


def run(server, kind, clients, think, seconds):
    procs_n = max(1, clients // THREADS_PER_PROCESS)
    out = mp.Queue()
    start_at = time.time() + 1.5 + 0.05 * procs_n
    procs = [mp.Process(target=worker, args=(server.bolt_uri, kind, think,
                                              clients // procs_n, p * 1_000_000_000,
                                              start_at, seconds, out))
             for p in range(procs_n)]
    for p in procs:
        p.start()
    lat, attempts, errors, done = [], 0, [], 0
    for _ in procs:
        l, a, e, c = out.get()
        lat += l
        attempts += a
        errors += e
        done += c
    for p in procs:
        p.join()
    lat.sort()
    q = lambda p: round(lat[min(len(lat) - 1, int(p * len(lat)))] * 1000, 2) if lat else None
    return {"rate": round(len(lat) / seconds), "p50_ms": q(0.5), "p99_ms": q(0.99),
            "commits": done, "retries": attempts - done - len(errors),
            "errors": len(errors)}


def check_counter(server, which):
    with GraphDatabase.driver(server.bolt_uri, auth=(USER, PASSWORD)) as d:
        return d.execute_query("MATCH (c:CcCounter {id: $id}) RETURN c.n AS n",
                               id=which).records[0]["n"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=5)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--clients", default="16,64")
    ap.add_argument("--think-ms", default="0,1,2")
    ap.add_argument("--set-b", help="KEY=VALUE for a second server to compare with")
    ap.add_argument("--json")
    args = ap.parse_args()
    work = [("write", c, t) for c in map(int, args.clients.split(","))
            for t in map(float, args.think_ms.split(","))]
    work += [("counter", 64, 0), ("rwcount", 64, 0), ("auto", 64, 0)]
    with tempfile.TemporaryDirectory(dir=ROOT / "target") as tmp:
        servers = {}
        for name, extra in (("A", []), ("B", ["--set", args.set_b] if args.set_b else None)):
            if extra is None:
                continue
            (Path(tmp) / name).mkdir()
            servers[name] = Server(Path(tmp) / name, extra_args=["--log-level", "warn", *extra])
            servers[name].start()
        try:
            for s in servers.values():
                with GraphDatabase.driver(s.bolt_uri, auth=(USER, PASSWORD)) as d:
                    d.execute_query("UNWIND [0, 1] AS i MERGE (c:CcCounter {id: i}) SET c.n = 0")
            results = {}
            for r in range(args.rounds):
                for kind, clients, think in work:
                    order = list(servers) if r % 2 == 0 else list(reversed(servers))
                    for name in order:
                        fig = run(servers[name], kind, clients, think, args.seconds)
                        results.setdefault((kind, clients, think, name), []).append(fig)
                        print(f"round {r + 1} {kind:7} {clients:2} clients {think:g} ms "
                              f"{name} {fig}", flush=True)
            for name, s in servers.items():
                for which, kind in enumerate(("counter", "rwcount")):
                    n = check_counter(s, which)
                    commits = sum(f["commits"] for f in results[(kind, 64, 0, name)])
                    print(f"{name}: {kind} reads {n} after {commits} committed increments")
                    assert n == commits, "a lost or doubled update"
        finally:
            for s in servers.values():
                s.stop()
    out = []
    for kind, clients, think in work:
        row = {"workload": kind, "clients": clients, "think_ms": think}
        for name in servers:
            figs = results[(kind, clients, think, name)]
            row[name] = {"rate_per_round": [f["rate"] for f in figs],
                         "p50_ms": statistics.median(f["p50_ms"] for f in figs),
                         "p99_ms": statistics.median(f["p99_ms"] for f in figs),
                         "retries": sum(f["retries"] for f in figs),
                         "errors": sum(f["errors"] for f in figs)}
        if len(servers) == 2:
            ratios = [b["rate"] / a["rate"] for a, b in zip(results[(kind, clients, think, "A")],
                                                            results[(kind, clients, think, "B")])]
            row["b_over_a"] = [round(x, 2) for x in ratios]
            row["median_b_over_a"] = round(statistics.median(ratios), 2)
        out.append(row)
        print(json.dumps(row))
    # The measure: rate with 2 ms inside against none, same clients.
    for name in servers:
        for clients in map(int, args.clients.split(",")):
            base = results.get(("write", clients, 0.0, name))
            slow = results.get(("write", clients, 2.0, name))
            if base and slow:
                r = [s["rate"] / b["rate"] for b, s in zip(base, slow)]
                print(f"{name}: {clients} clients, rate with 2 ms inside / with none per round "
                      f"{[round(x, 2) for x in r]}, median {statistics.median(r):.2f}")
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
