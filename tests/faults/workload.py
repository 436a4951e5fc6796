"""Clients that record what they asked for and what they were told, as
histories of operations with outcomes:

* ok:   the client was told the operation took effect;
* fail: the client was told it did not (a refusal, or a failure before the
        commit was sent);
* info: the outcome is unknown (a connection lost at commit, or the server
        said it could not tell).

Workloads: list appends with reads (several keys per transaction, the
Elle-style anomaly detector's input), a read-modify-write counter, and
read-your-writes with bookmarks across members. Each client thread talks to
the cluster either through the routing driver (neo4j://, any member as
seed) or through plain bolt:// pinned to one member (server-side routing),
with managed transactions (execute_write) or auto-commit queries."""
import random
import threading
import time

import logging

import neo4j
from neo4j import GraphDatabase

from members import PASSWORD, USER

AUTH = (USER, PASSWORD)
# Retries and refused connections are the point of the exercise; the
# history records them.
logging.getLogger("neo4j").setLevel(logging.CRITICAL)


class Op:
    __slots__ = ("process", "f", "value", "type", "result", "t0", "t1", "via", "error")

    def __init__(self, process, f, value, via):
        self.process, self.f, self.value, self.via = process, f, value, via
        self.type = self.result = self.error = None
        self.t0 = time.monotonic()
        self.t1 = None

    def __repr__(self):
        return (f"Op({self.process} {self.f} {self.value!r} -> {self.type} {self.result!r}"
                f" via {self.via}{' ' + self.error if self.error else ''})")


def classify(e, auto_commit):
    """Maps what a client saw to fail (certainly not applied) or info."""
    if isinstance(e, neo4j.exceptions.IncompleteCommit):
        return "info"
    if isinstance(e, neo4j.exceptions.Neo4jError):
        code = e.code or ""
        if code.startswith("Neo.DatabaseError."):
            # The server could not tell (TransactionCommitFailed, ...).
            return "info"
        return "fail"
    if isinstance(e, neo4j.exceptions.ServiceUnavailable) and (
            "Couldn't connect" in str(e) or "Unable to retrieve routing" in str(e)
            or "No write service available" in str(e)):
        # Nothing was sent, or the server refused the write (a direct
        # driver turns NotALeader into "no write service").
        return "fail"
    if isinstance(e, (neo4j.exceptions.ServiceUnavailable, neo4j.exceptions.SessionExpired)):
        # A managed transaction's connection broke before COMMIT was sent
        # (a lost COMMIT is IncompleteCommit); an auto-commit query commits
        # with its RUN, so losing the connection leaves it unknown.
        return "info" if auto_commit else "fail"
    return "info"


class Clients:
    """Client threads running one workload mix against a cluster until
    stopped; `ops` is the shared history."""

    def __init__(self, cluster, tag, seed, threads_per_kind=1, keys=4):
        self.cluster, self.tag = cluster, tag
        self.rng = random.Random(seed)
        self.ops = []
        self.lock = threading.Lock()
        self.stop_flag = threading.Event()
        self.keys = [f"{tag}-k{i}" for i in range(keys)]
        self.counter = f"{tag}-ctr"
        n = len(cluster.members)
        vias = ["neo4j"] + [f"bolt:{i}" for i in range(n)]
        specs = []
        for k in range(threads_per_kind):
            for via in vias:
                specs.append(("append", via, "managed"))
            specs.append(("append", vias[(k + 1) % len(vias)], "auto"))
            specs.append(("counter", vias[k % len(vias)], "managed"))
            specs.append(("counter", vias[(k + 2) % len(vias)], "auto"))
            specs.append(("ryw", None, "managed"))
        self.threads = [threading.Thread(target=self._run, args=(p, *spec), daemon=True)
                        for p, spec in enumerate(specs)]
        self.next_value = [0]

    def driver(self, via):
        members = self.cluster.members
        kw = dict(auth=AUTH, connection_timeout=2, max_transaction_retry_time=10,
                  connection_acquisition_timeout=10, liveness_check_timeout=0)
        if via == "neo4j":
            addrs = [(m.ip, 7687) for m in members]
            seed = addrs[0]

            def resolve(a):
                return addrs if (a[0], a[1]) == seed else [a]
            return GraphDatabase.driver(f"neo4j://{seed[0]}:{seed[1]}", resolver=resolve, **kw)
        i = int(via.split(":")[1])
        return GraphDatabase.driver(members[i].bolt_uri, **kw)

    def setup(self):
        """Creates the keys and the counter through the leader."""
        leader = self.cluster.leader() or self.cluster.wait_healthy()
        with GraphDatabase.driver(leader.bolt_uri, auth=AUTH) as d:
            d.execute_query("UNWIND $keys AS k CREATE (:LA {k: k, vals: []})", keys=self.keys)
            d.execute_query("CREATE (:Ctr {id: $id, v: 0})", id=self.counter)

    def start(self):
        for t in self.threads:
            t.start()
        return self

    def stop(self):
        self.stop_flag.set()
        for t in self.threads:
            t.join(timeout=60)

    def _record(self, op):
        op.t1 = time.monotonic()
        with self.lock:
            self.ops.append(op)

    def _value(self):
        with self.lock:
            self.next_value[0] += 1
            return self.next_value[0]

    def _run(self, process, kind, via, style):
        rng = random.Random(self.rng.random() + process)
        drivers = {}
        try:
            while not self.stop_flag.is_set():
                if kind == "ryw":
                    self._ryw(process, rng, drivers)
                else:
                    v = via
                    d = drivers.get(v) or drivers.setdefault(v, self.driver(v))
                    if kind == "append":
                        self._append(process, rng, d, v, style)
                    else:
                        self._increment(process, d, v, style)
                time.sleep(rng.uniform(0.0, 0.01))
        finally:
            for d in drivers.values():
                try:
                    d.close()
                except Exception:
                    pass

    def _do(self, op, auto_commit, fn):
        try:
            op.result = fn()
            op.type = "ok"
        except Exception as e:  # noqa: BLE001 - every outcome is recorded
            op.type = classify(e, auto_commit)
            op.error = f"{type(e).__name__}: {str(e)[:160]}"
        self._record(op)

    def _append(self, process, rng, d, via, style):
        if style == "auto":
            key, v = rng.choice(self.keys), self._value()
            op = Op(process, "txn", [("append", key, v)], via)

            def run():
                with d.session() as s:
                    s.run("MATCH (n:LA {k: $k}) SET n.vals = n.vals + $v", k=key, v=v).consume()
                return [("append", key, v)]
            self._do(op, True, run)
            return
        micro = []
        for _ in range(rng.randint(1, 3)):
            key = rng.choice(self.keys)
            micro.append(("append", key, self._value()) if rng.random() < 0.6 else ("r", key, None))
        op = Op(process, "txn", micro, via)

        def work(tx):
            out = []
            for f, key, v in micro:
                if f == "append":
                    tx.run("MATCH (n:LA {k: $k}) SET n.vals = n.vals + $v", k=key, v=v).consume()
                    out.append((f, key, v))
                else:
                    rec = tx.run("MATCH (n:LA {k: $k}) RETURN n.vals AS vals", k=key).single()
                    out.append((f, key, list(rec["vals"])))
            return out

        def run():
            with d.session() as s:
                return s.execute_write(work)
        self._do(op, False, run)

    def _increment(self, process, d, via, style):
        op = Op(process, "incr", self.counter, via)
        q = "MATCH (c:Ctr {id: $id}) SET c.v = c.v + 1 RETURN c.v AS v"

        def run():
            with d.session() as s:
                if style == "auto":
                    return s.run(q, id=self.counter).single()["v"]
                return s.execute_write(lambda tx: tx.run(q, id=self.counter).single()["v"])
        self._do(op, style == "auto", run)

    def _ryw(self, process, rng, drivers):
        """Writes through one member, then reads through another with the
        bookmark it got: the read must see the write."""
        n = len(self.cluster.members)
        a, b = rng.sample(range(n), 2)
        va, vb = f"bolt:{a}", f"bolt:{b}"
        da = drivers.get(va) or drivers.setdefault(va, self.driver(va))
        db = drivers.get(vb) or drivers.setdefault(vb, self.driver(vb))
        v = self._value()
        op = Op(process, "ryw", v, f"{va}->{vb}")

        def run():
            with da.session() as s:
                s.execute_write(lambda tx: tx.run("CREATE (:RYW {tag: $t, v: $v})",
                                                  t=self.tag, v=v).consume())
                bookmarks = s.last_bookmarks()
            with db.session(bookmarks=bookmarks, default_access_mode="READ") as s:
                return s.run("MATCH (n:RYW {tag: $t, v: $v}) RETURN count(n) AS c",
                             t=self.tag, v=v).single()["c"]
        self._do(op, False, run)
