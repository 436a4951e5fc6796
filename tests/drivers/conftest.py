"""Starts real causeway server processes for the driver tests.

The binary comes from CAUSEWAY_BIN, or target/release, or target/debug.
Every server gets its own data directory and free loopback ports.
"""
import os
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
USER, PASSWORD = "neo4j", "causeway-test-pw"


def binary():
    env = os.environ.get("CAUSEWAY_BIN")
    if env:
        return env
    for profile in ("release", "debug"):
        p = ROOT / "target" / profile / "causeway"
        if p.exists():
            return str(p)
    raise RuntimeError("build causeway first (cargo build --release)")


_handed_out = set()


def free_port():
    """A free port below Linux's ephemeral range (32768+): a port the
    kernel picks for us would come from that range, where any outgoing
    connection (members call each other constantly) may take it before the
    server binds it. Never the same port twice in one test run."""
    import random

    while True:
        port = random.randrange(10000, 20000)
        if port in _handed_out:
            continue
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        _handed_out.add(port)
        return port


class Server:
    def __init__(self, data_dir, extra_args=(), env=None):
        self.data_dir = data_dir
        self.env = env
        self.bolt_port = free_port()
        self.http_port = free_port()
        self.extra_args = list(extra_args)
        # The --auth setting: USER/PASSWORD, or "none".
        self.auth = f"{USER}/{PASSWORD}"
        self.proc = None
        self.log_path = Path(data_dir) / "server.log"

    @property
    def bolt_uri(self):
        return f"bolt://127.0.0.1:{self.bolt_port}"

    @property
    def neo4j_uri(self):
        return f"neo4j://127.0.0.1:{self.bolt_port}"

    def start(self, timeout=60):
        args = [
            binary(), "serve",
            "--data-dir", str(self.data_dir),
            "--bolt-listen", f"127.0.0.1:{self.bolt_port}",
            "--http-listen", f"127.0.0.1:{self.http_port}",
            "--auth", self.auth,
            *self.extra_args,
        ]
        self.log = open(self.log_path, "ab")
        env = {**os.environ, **self.env} if self.env else None
        self.proc = subprocess.Popen(args, stdout=self.log, stderr=subprocess.STDOUT, env=env)
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}: {self.log_text()}")
            try:
                with socket.create_connection(("127.0.0.1", self.bolt_port), timeout=0.5):
                    return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("server did not start: " + self.log_text())

    def log_text(self):
        try:
            return self.log_path.read_text(errors="replace")[-4000:]
        except OSError:
            return ""

    def stop(self, sig=signal.SIGTERM, timeout=60):
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(sig)
        try:
            code = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            code = self.proc.wait()
            raise RuntimeError("server did not stop on SIGTERM: " + self.log_text())
        self.log.close()
        return code

    def kill9(self):
        self.proc.kill()
        self.proc.wait()
        self.log.close()


@pytest.fixture(scope="session")
def server():
    with tempfile.TemporaryDirectory() as d:
        s = Server(d).start()
        yield s
        code = s.stop()
        assert code == 0, "server did not exit cleanly on SIGTERM: " + s.log_text()


@pytest.fixture
def fresh_server():
    """A server of the test's own, for tests that kill or restart it."""
    with tempfile.TemporaryDirectory() as d:
        s = Server(d)
        yield s
        try:
            s.stop()
        except Exception:
            pass


@pytest.fixture(scope="session")
def auth():
    return (USER, PASSWORD)
