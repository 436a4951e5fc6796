"""Write gap after kill -9 of the leader, over many trials.

Three core members run on this machine. Writer threads (sixteen unless
told, as an application server would run), each with its own driver, run managed transactions
(`execute_write`) through the official Python driver over neo4j://,
with its default retry settings; a fifth client retries a plain
auto-commit write every 10 ms with no driver back-off; a sixth writes
auto-commit over plain bolt:// to one member that is not the leader, which
routes every write (server-side routing); and managed transactions
(`execute_write`) over plain bolt:// through that follower and through a
read replica, which the routing member replays on the new leader when the
old one dies mid-transaction. Each trial kills the
leader with SIGKILL, measures the longest stretch without an acknowledged
write for both kinds of client, restarts the killed member and waits until
it has caught up. At the end every acknowledged write must be present
exactly once on every member.

Every writer whose transaction was on the killed leader, or that picks the
dead address before its routing table is refreshed, sleeps for the
driver's back-off (1 s +- 20 %) before it retries, so the execute_write
gap is at least the shortest back-off drawn among the writers: more
writers measure the server's outage more closely.

Usage: .venv/neo4j6/bin/python bench/failover.py [trials [writers]]
(defaults 20 and 16)
"""
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "drivers"))

import neo4j  # noqa: E402

from cluster import Cluster, assert_identical_with  # noqa: E402
from conftest import PASSWORD, USER  # noqa: E402

AUTH = (USER, PASSWORD)
# openraft warnings explain a long gap; the members log them only if asked.
os.environ.setdefault("RUST_LOG", "info,openraft=warn")


def managed_write(d, key):
    with d.session() as s:
        s.execute_write(lambda tx: tx.run("CREATE (:Gap {k: $k})", k=key).consume())


def auto_commit_write(d, key):
    with d.session() as s:
        s.run("CREATE (:Gap {k: $k})", k=key).consume()


def query_write(d, key):
    d.execute_query("CREATE (:Gap {k: $k})", k=key)


class Writers:
    def __init__(self, cluster, threads=4, entry=None, replica=None):
        self.cluster = cluster
        self.entry = entry
        self.lock = threading.Lock()
        self.acked = set()
        self.managed_times = []
        self.probe_times = []
        self.errors = []
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=self.managed, args=(w,)) for w in range(threads)]
        self.threads.append(threading.Thread(target=self.probe))
        self.threads.append(threading.Thread(target=self.watch))
        self.bolt_times, self.bolt_errors = [], []
        self.threads.append(threading.Thread(target=self.through_follower))
        # execute_write over bolt:// through a follower and a replica.
        self.routed = {"follower": entry, "replica": replica}
        self.routed_times = {k: [] for k in self.routed}
        self.routed_errors = {k: [] for k in self.routed}
        for name, member in self.routed.items():
            if member is None:
                continue
            for n in range(2):
                self.threads.append(threading.Thread(target=self.managed_through,
                                                     args=(name, member, n)))
        self.timeline = []
        # When each acknowledged write began and ended, per client kind.
        self.spans = {}
        self.probe_errors = []

    def watch(self):
        """Every member's view every 50 ms, to explain a long gap."""
        last = {}
        while not self.stop.is_set():
            for i, c in enumerate(self.cluster.cores):
                if not c.alive():
                    continue
                try:
                    st = c.status()
                except OSError:
                    continue
                view = (st["role"], st["term"], st["writable"], st["leader"] is not None)
                if last.get(i) != view:
                    last[i] = view
                    with self.lock:
                        self.timeline.append((time.monotonic(), i + 1, view, st["applied"], st["last_log"]))
            time.sleep(0.05)

    def write_loop(self, d, prefix, write, times, errors, unknown_is_error=True):
        """Writes unique keys with `write(driver, key)` until stopped,
        recording when each was acknowledged and every error the
        application saw (with `unknown_is_error` false, an IncompleteCommit
        counts as neither)."""
        i = 0
        while not self.stop.is_set():
            key = f"{prefix}-{i}"
            i += 1
            began = time.monotonic()
            try:
                write(d, key)
            except neo4j.exceptions.IncompleteCommit as e:
                if unknown_is_error:
                    with self.lock:
                        errors.append((time.monotonic(), f"{type(e).__name__}: {e}"[:200]))
                continue
            except Exception as e:
                with self.lock:
                    errors.append((time.monotonic(), f"{type(e).__name__}: {e}"[:200]))
                time.sleep(0.01)
                continue
            with self.lock:
                self.acked.add(key)
                times.append(time.monotonic())
                self.spans.setdefault(id(times), []).append((began, times[-1]))
        d.close()

    def managed(self, wid):
        d = self.cluster.driver(AUTH, max_transaction_retry_time=30, connection_timeout=2)
        self.write_loop(d, f"m{wid}", managed_write, self.managed_times, self.errors,
                        unknown_is_error=False)

    def probe(self):
        d = self.cluster.driver(AUTH, max_transaction_retry_time=0, connection_timeout=0.5)
        self.write_loop(d, "p", query_write, self.probe_times, self.probe_errors)

    def through_follower(self):
        """A plain bolt:// client on one member that is not the leader:
        auto-commit writes (the driver never retries them, so any failure
        would reach the application), no retries but the server's own
        routing."""
        d = neo4j.GraphDatabase.driver(self.entry.bolt_uri, auth=AUTH, connection_timeout=2)
        self.write_loop(d, "b", auto_commit_write, self.bolt_times, self.bolt_errors)

    def managed_through(self, name, member, n):
        """execute_write with the driver's defaults over plain bolt:// to
        one member: every write is routed by that member, which replays a
        transaction cut off by a leader crash on the new leader. An
        IncompleteCommit counts as an error: the application saw it."""
        d = neo4j.GraphDatabase.driver(member.bolt_uri, auth=AUTH, connection_timeout=2)
        self.write_loop(d, f"{name[0]}{n}", managed_write, self.routed_times[name],
                        self.routed_errors[name])

    def gap(self, times, start, end):
        with self.lock:
            ts = sorted(t for t in times if start <= t <= end)
        points = [start, *ts, end]
        return max(b - a for a, b in zip(points, points[1:]))

    def explain(self, times, t_kill, end):
        """The writes around the longest gap, relative to the kill: a gap
        inside one write is the server's, a gap between writes the
        client's."""
        with self.lock:
            sp = sorted(x for x in self.spans.get(id(times), []) if t_kill - 2 <= x[1] <= end)
        marks = [(None, t_kill - 0.3)] + [x for x in sp if x[1] >= t_kill - 0.3] + [(None, end)]
        (_, a1), (b0, b1) = max(zip(marks, marks[1:]), key=lambda p: p[1][1] - p[0][1])
        before = [x for x in sp if x[1] < t_kill - 0.3][-3:]
        show = lambda xs: ", ".join(f"{x0 - t_kill:+.3f}..{x1 - t_kill:+.3f}" for x0, x1 in xs)
        return (f"gap from {a1 - t_kill:+.3f}s to an ack at {b1 - t_kill:+.3f}s "
                f"(that write began {(b0 or b1) - t_kill:+.3f}s); writes before: {show(before)}")

    def wait_writing(self, since, timeout):
        """Waits until every client kind has had a write acknowledged
        after `since`."""
        deadline = time.monotonic() + timeout
        kinds = [self.managed_times, self.probe_times, self.bolt_times,
                 *(self.routed_times[k] for k, m in self.routed.items() if m is not None)]
        while time.monotonic() < deadline:
            with self.lock:
                if all(ts and ts[-1] > since for ts in kinds):
                    return
            time.sleep(0.01)

    def count(self):
        with self.lock:
            return len(self.managed_times)


def main():
    trials = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    writers = int(sys.argv[2]) if len(sys.argv) > 2 else 16
    managed, probe = [], []
    keep = tempfile.mkdtemp(dir=Path(__file__).resolve().parents[1] / "target", prefix="failover.")
    with tempfile.TemporaryDirectory(dir=keep) as d:
        cluster = Cluster(d).start()
        first = cluster.wait_leader()
        entry = next(c for c in cluster.cores if c is not first)
        cores = list(cluster.cores)
        replica = cluster.add_replica(d)
        cluster.wait_converged()
        w = Writers(cluster, writers, entry, replica)
        through = {"follower": [], "replica": []}
        bolt, restarts = [], []
        for t in w.threads:
            t.start()
        # Every client connected and writing before the first kill.
        time.sleep(2)
        try:
            for trial in range(trials):
                leader = cluster.wait_leader()
                assert leader in cores
                if leader is entry:
                    # The bolt:// client's only address must survive the
                    # kill: hand leadership away first (SIGTERM transfers it).
                    down = time.monotonic()
                    entry.stop()
                    entry.start()
                    leader = cluster.wait_leader(exclude=(entry,))
                    cluster.wait_converged()
                    restarts.append((down, time.monotonic()))
                    # Its clients reconnect after the driver's back-off;
                    # measure the kill from a steady state.
                    w.wait_writing(restarts[-1][1], timeout=10)
                time.sleep(0.5)
                t_kill = time.monotonic()
                leader.kill9()
                cluster.wait_leader(timeout=15, exclude=(leader,))
                before = w.count()
                deadline = time.time() + 30
                while w.count() < before + 20 and time.time() < deadline:
                    time.sleep(0.01)
                end = time.monotonic()
                managed.append(w.gap(w.managed_times, t_kill - 0.3, end))
                probe.append(w.gap(w.probe_times, t_kill - 0.3, end))
                bolt.append(w.gap(w.bolt_times, t_kill - 0.3, end))
                for name in through:
                    through[name].append(w.gap(w.routed_times[name], t_kill - 0.3, end))
                print(f"trial {trial + 1}: execute_write gap {managed[-1]:.3f}s, "
                      f"immediate-retry gap {probe[-1]:.3f}s, "
                      f"bolt:// through a follower {bolt[-1]:.3f}s, execute_write over "
                      f"bolt:// through a follower {through['follower'][-1]:.3f}s and a "
                      f"replica {through['replica'][-1]:.3f}s", flush=True)
                for name in through:
                    if through[name][-1] > 0.3:
                        print(f"  through the {name}: "
                              f"{w.explain(w.routed_times[name], t_kill, end)}")
                if probe[-1] > 5 or os.environ.get("FAILOVER_KEEP"):
                    import shutil
                    shutil.copytree(d, keep + f"/trial-{trial + 1}")
                    print("  errors:", [m for t, m in w.errors[-3:]])
                    with w.lock:
                        seen = {}
                        for t, msg in w.probe_errors:
                            if t >= t_kill:
                                seen.setdefault(msg, [0, t - t_kill])[0] += 1
                    for msg, (n, first) in seen.items():
                        print(f"  probe saw {n}x from {first:+.3f}s: {msg}")
                    with w.lock:
                        for t, m, view, applied, last in w.timeline:
                            if t >= t_kill - 1:
                                print(f"  {t - t_kill:+.3f}s core-{m} {view} applied {applied} last {last}")
                leader.start()
                try:
                    cluster.wait_converged()
                except AssertionError:
                    import shutil
                    shutil.copytree(d, keep + f"/stalled-{trial + 1}")
                    print(f"  members did not converge; logs kept in {keep}/stalled-{trial + 1}")
                    raise
        finally:
            w.stop.set()
            for t in w.threads:
                t.join()
        assert_identical_with(cluster, AUTH, "Gap", w.acked)
        cluster.stop()
    print()
    print("| client | trials | median gap s | max gap s |")
    print("|---|---|---|---|")
    print(f"| execute_write, driver defaults ({writers} threads) | {trials} | "
          f"{statistics.median(managed):.3f} | {max(managed):.3f} |")
    print(f"| auto-commit, retried every 10 ms | {trials} | "
          f"{statistics.median(probe):.3f} | {max(probe):.3f} |")
    print(f"| bolt:// auto-commit through a follower (server-side routing) | {trials} | "
          f"{statistics.median(bolt):.3f} | {max(bolt):.3f} |")
    for name, gaps in through.items():
        ordered = sorted(gaps)
        p99 = ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]
        print(f"| execute_write over bolt:// through a {name} (2 threads; p99 {p99:.3f} s) | "
              f"{trials} | {statistics.median(gaps):.3f} | {max(gaps):.3f} |")
        errs = [m for t, m in w.routed_errors[name]
                if not any(a <= t <= b for a, b in restarts)]
        print(f"  errors surfaced through the {name}: {len(errs)} {errs[:3]}")
    bolt_errors = [m for t, m in w.bolt_errors if not any(a <= t <= b for a, b in restarts)]
    print(f"bolt:// client errors outside its own member's restarts: {len(bolt_errors)} "
          f"{bolt_errors[:3]}")
    print(f"errors surfaced to the application: {len(w.errors)}; "
          f"acknowledged writes checked on every member: {len(w.acked)}")


if __name__ == "__main__":
    main()
