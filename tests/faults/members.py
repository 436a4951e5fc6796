"""Causeway members as real processes, each inside its own namespace of a
`Net`, with a data directory that outlives restarts and, where libfaketime
is installed, a wall clock the nemesis can move."""
import glob
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from net import BOLT_PORT, CLUSTER_PORT, HTTP_PORT

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "drivers"))
from conftest import binary  # noqa: E402  (one place finds the server binary)

SECRET = "fault-suite-secret"
USER, PASSWORD = "neo4j", "fault-suite-pw"


def faketime_library():
    for pattern in ("/usr/lib/*/faketime/libfaketimeMT.so.1", "/usr/lib/faketime/libfaketimeMT.so.1"):
        found = glob.glob(pattern)
        if found:
            return found[0]
    return None


class Member:
    def __init__(self, net, i, base_dir, extra_args=()):
        self.net, self.i = net, i
        self.data_dir = Path(base_dir) / f"m{i}"
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.clock_file = self.data_dir.parent / f"clock-m{i}"
        self.clock_file.write_text("+0\n")
        self.extra_args = list(extra_args)
        self.proc = None
        self.log = None
        self.paused = False

    @property
    def ip(self):
        return self.net.ip(self.i)

    @property
    def bolt_address(self):
        return f"{self.ip}:{BOLT_PORT}"

    @property
    def bolt_uri(self):
        return f"bolt://{self.bolt_address}"

    def start(self):
        initial = ",".join(f"{self.net.ip(j)}:{CLUSTER_PORT}" for j in range(self.net.n))
        args = [
            *self.net.exec_prefix(self.i), binary(), "serve",
            "--mode", "core",
            "--data-dir", str(self.data_dir),
            "--bolt-listen", self.bolt_address,
            "--http-listen", f"{self.ip}:{HTTP_PORT}",
            "--cluster-listen", f"{self.ip}:{CLUSTER_PORT}",
            "--initial-members", initial,
            "--cluster-secret", SECRET,
            "--auth", f"{USER}/{PASSWORD}",
            "--log-level", "info",
            *self.extra_args,
        ]
        env = dict(os.environ)
        lib = faketime_library()
        if lib:
            # Only the wall clock moves; timers and leases use the
            # monotonic clock, as they must.
            env.update(LD_PRELOAD=lib, FAKETIME_TIMESTAMP_FILE=str(self.clock_file),
                       FAKETIME_DONT_FAKE_MONOTONIC="1", FAKETIME_CACHE_DURATION="1")
        self.log = open(self.data_dir / "server.log", "ab")
        self.proc = subprocess.Popen(args, stdout=self.log, stderr=subprocess.STDOUT, env=env)
        self.paused = False

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def kill9(self):
        if self.alive():
            if self.paused:
                self.proc.send_signal(signal.SIGCONT)
            self.proc.kill()
            self.proc.wait()
        if self.log:
            self.log.close()
            self.log = None
        self.paused = False

    def stop(self):
        if self.alive():
            if self.paused:
                self.resume()
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill9()
        if self.log:
            self.log.close()
            self.log = None

    def pause(self):
        if self.alive() and not self.paused:
            self.proc.send_signal(signal.SIGSTOP)
            self.paused = True

    def resume(self):
        if self.alive() and self.paused:
            self.proc.send_signal(signal.SIGCONT)
            self.paused = False

    def jump_clock(self, offset):
        """Moves this member's wall clock to `offset` from real time (e.g.
        '+300s', '-2m'); only with libfaketime."""
        self.clock_file.write_text(f"{offset}\n")

    def status(self, timeout=1.0):
        url = f"http://{self.ip}:{HTTP_PORT}/causeway/status"
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return json.loads(r.read())

    def try_status(self):
        if not self.alive() or self.paused:
            return None
        try:
            return self.status()
        except (urllib.error.URLError, OSError, ValueError):
            return None

    def log_tail(self, n=3000):
        try:
            return (self.data_dir / "server.log").read_text(errors="replace")[-n:]
        except OSError:
            return ""


class Cluster:
    def __init__(self, net, base_dir, extra_args=()):
        self.net = net
        self.members = [Member(net, i, base_dir, extra_args) for i in range(net.n)]

    def start(self):
        for m in self.members:
            m.start()
        return self.wait_healthy()

    def stop(self):
        for m in self.members:
            m.stop()

    def statuses(self):
        return {m: s for m in self.members if (s := m.try_status()) is not None}

    def leader(self):
        for m, s in self.statuses().items():
            if s.get("writable"):
                return m
        return None

    def wait_healthy(self, timeout=60):
        """Every member up, one writable leader they all follow, and every
        member has applied what the leader had when this started."""
        deadline = time.time() + timeout
        target = None
        while time.time() < deadline:
            st = self.statuses()
            leaders = [m for m, s in st.items() if s["writable"]]
            if len(st) == len(self.members) and len(leaders) == 1:
                lid = st[leaders[0]]["id"]
                if all(s["leader"] == lid for s in st.values()):
                    if target is None:
                        target = st[leaders[0]]["last_log"]
                    if all(s["applied"] >= target for s in st.values()):
                        return leaders[0]
            time.sleep(0.1)
        raise AssertionError(
            f"cluster not healthy within {timeout}s: "
            + json.dumps({m.i: s for m, s in self.statuses().items()}, default=str)[:2000])
