"""What the container suites share: shell calls, members' health, a relay
standing in for a Kubernetes Service, a managed-transaction write load and
the check that every acknowledged write is on every member exactly once.

Members are named by a dict: name -> (published Bolt port, published HTTP
port), both on 127.0.0.1. With use_tls(ca), every client here (health
checks, drivers, the final check) speaks TLS and trusts only that CA."""
import collections
import json
import logging
import os
import socket
import ssl
import subprocess
import threading
import time
import urllib.error
import urllib.request

from neo4j import GraphDatabase, TrustCustomCAs

READY_TIMEOUT = 90

logging.getLogger("neo4j").setLevel(logging.CRITICAL)


# The CA file clients trust when the members require TLS, and the SSL
# context made from it once; None for plaintext.
TLS_CA = None
TLS_CONTEXT = None


def use_tls(ca):
    """Clients from now on trust only this CA file (None: plaintext)."""
    global TLS_CA, TLS_CONTEXT
    TLS_CA = None if ca is None else str(ca)
    TLS_CONTEXT = None if ca is None else ssl.create_default_context(cafile=TLS_CA)


def log(*a):
    print(time.strftime("%H:%M:%S"), *a, flush=True)


def sh(*args, env=None, check=True):
    r = subprocess.run(args, capture_output=True, text=True, env={**os.environ, **(env or {})})
    if check and r.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed ({r.returncode}): {r.stderr.strip()}")
    return r


def health(http_port, timeout=1.0):
    """A member's /health/ready answer, or None if it does not answer."""
    scheme, ctx = ("https", TLS_CONTEXT) if TLS_CA else ("http", None)
    try:
        with urllib.request.urlopen(f"{scheme}://127.0.0.1:{http_port}/health/ready",
                                    timeout=timeout, context=ctx) as r:
            return json.loads(r.read())
    except urllib.error.HTTPError as e:
        return json.loads(e.read() or b"null")
    except (OSError, ValueError):
        return None


def wait_until(what, cond, timeout=READY_TIMEOUT):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = cond()
        if v:
            return v
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def all_ready(members):
    return all((health(http) or {}).get("ready") for _, http in members.values())


def leader(members):
    """The member that says it leads and is ready, if any."""
    for name, (_, http) in members.items():
        h = health(http)
        if h and h.get("role") == "LEADER" and h.get("ready"):
            return name
    return None


def try_or_none(f):
    try:
        return f()
    except Exception:  # noqa: BLE001 - the caller retries until its deadline
        return None


class Relay:
    """One stable address for a set of members, as a Kubernetes Service is:
    each new connection goes to the next member whose readiness check
    passed in the last poll (every 200 ms), as kube-proxy sends it only to
    ready endpoints."""

    def __init__(self, members):
        self.members = members
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.ready = list(members)
        self.turn = 0
        self.stopping = threading.Event()
        threading.Thread(target=self._poll, daemon=True).start()
        threading.Thread(target=self._accept, daemon=True).start()

    def _poll(self):
        while not self.stopping.is_set():
            self.ready = [n for n, (_, http) in self.members.items()
                          if (health(http, 0.5) or {}).get("ready")]
            time.sleep(0.2)

    def _accept(self):
        while not self.stopping.is_set():
            try:
                client, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client):
        ready = self.ready or list(self.members)
        self.turn += 1
        name = ready[self.turn % len(ready)]
        try:
            upstream = socket.create_connection(("127.0.0.1", self.members[name][0]), timeout=2)
        except OSError:
            client.close()
            return
        upstream.settimeout(None)
        for a, b in ((client, upstream), (upstream, client)):
            threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(src, dst):
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def close(self):
        self.stopping.set()
        self.sock.close()


def tls_options():
    return dict(encrypted=True, trusted_certificates=TrustCustomCAs(TLS_CA)) if TLS_CA else {}


def driver_options(auth):
    return dict(auth=auth, connection_timeout=2, max_transaction_retry_time=30,
                liveness_check_timeout=0, **tls_options())


class Load:
    """Client threads, each creating one uniquely numbered node per managed
    transaction (execute_write), spread over the drivers given (way in ->
    driver)."""

    def __init__(self, drivers, tag, threads=4):
        self.tag = tag
        self.drivers = drivers
        self.acked = []          # (time acknowledged, way in, id)
        self.failed = []         # (time, way in, id, error)
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        vias = list(drivers)
        self.threads = [threading.Thread(target=self._run, args=(i, vias[i % len(vias)]),
                                         daemon=True) for i in range(threads)]
        for t in self.threads:
            t.start()

    def _run(self, n, via):
        d = self.drivers[via]
        i = 0
        while not self.stopping.is_set():
            i += 1
            wid = f"{self.tag}-{n}-{i}"
            try:
                with d.session() as s:
                    s.execute_write(lambda tx: tx.run("CREATE (:W {id: $id})", id=wid).consume())
                with self.lock:
                    self.acked.append((time.monotonic(), via, wid))
            except Exception as e:  # noqa: BLE001 - every failure is recorded
                with self.lock:
                    self.failed.append((time.monotonic(), via, wid, f"{type(e).__name__}: {e}"))
            time.sleep(0.005)

    def stop(self):
        self.stopping.set()
        for t in self.threads:
            t.join(timeout=60)
        for d in self.drivers.values():
            d.close()

    def gaps(self, since, until):
        """Longest time without an acknowledgement within [since, until],
        for all clients together and per way in."""
        out = {}
        for via in (None, *self.drivers):
            times = sorted(t for t, v, _ in self.acked if via in (None, v) and since <= t <= until)
            points = [since, *times, until]
            out[via or "any"] = round(max(b - a for a, b in zip(points, points[1:])), 3)
        return out


def read_ids(bolt_port, auth, bookmarks):
    """Every :W id on one member, read there with the bookmarks given."""
    with GraphDatabase.driver(f"bolt://127.0.0.1:{bolt_port}", auth=auth, **tls_options()) as d:
        with d.session(bookmarks=bookmarks, default_access_mode="READ") as s:
            return [r["id"] for r in s.run("MATCH (n:W) RETURN n.id AS id")]


def check(members, writer_uri, auth, load, allow_failures):
    """Every acknowledged write on every member exactly once, no duplicate
    anywhere, members identical; failures only where allowed. Returns
    (acknowledged, nodes on each member)."""
    with GraphDatabase.driver(writer_uri, auth=auth, **tls_options()) as d:
        with d.session() as s:
            s.execute_write(lambda tx: tx.run("MERGE (:Barrier)").consume())
            bookmarks = s.last_bookmarks()
    acked = {wid for _, _, wid in load.acked}
    views = {}
    for name, (bolt, _) in members.items():
        ids = wait_until(f"{name} to answer a read",
                         lambda: try_or_none(lambda: read_ids(bolt, auth, bookmarks)), timeout=60)
        counts = collections.Counter(ids)
        dups = [i for i, c in counts.items() if c > 1]
        lost = acked - counts.keys()
        assert not dups, f"{name}: written twice: {dups[:5]}"
        assert not lost, f"{name}: {len(lost)} acknowledged writes missing: {sorted(lost)[:5]}"
        views[name] = set(counts)
    first = next(iter(views.values()))
    for name, ids in views.items():
        assert ids == first, f"{name} differs from the others by {len(ids ^ first)} ids"
    if not allow_failures:
        assert not load.failed, f"{len(load.failed)} failed transactions: {load.failed[:3]}"
    return len(acked), len(first)
