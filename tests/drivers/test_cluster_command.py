"""`causeway cluster`, the README's quick start: it starts a working
three-core cluster (here with a read replica too) and stops every member
on Ctrl-C."""
import random
import re
import signal
import subprocess
import tempfile
import time

from neo4j import GraphDatabase

from conftest import binary


def test_cluster_command_starts_and_stops_three_cores_and_a_replica():
    # Twelve consecutive ports, below Linux's ephemeral range (32768+) so that
    # no outgoing connection holds one, and checked free before use.
    import socket

    def free_run(base):
        for p in range(base, base + 12):
            with socket.socket() as s:
                try:
                    s.bind(("127.0.0.1", p))
                except OSError:
                    return False
        return True

    base = next(b for b in (random.randrange(20000, 32000, 10) for _ in range(100)) if free_run(b))
    with tempfile.TemporaryDirectory() as d:
        proc = subprocess.Popen(
            [binary(), "cluster", "--data-dir", d, "--auth", "neo4j/quick-start-pw",
             "--replicas", "1",
             "--bolt-port", str(base), "--http-port", str(base + 4),
             "--cluster-port", str(base + 8), "--log-level", "warn"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )
        try:
            lines = []
            uri = None
            deadline = time.time() + 30
            while uri is None and time.time() < deadline:
                line = proc.stdout.readline()
                if not line:
                    break
                lines.append(line)
                m = re.search(r"neo4j://\S+", line)
                if m and "connect with" in line:
                    uri = m.group(0)
            assert uri, "".join(lines)
            # Keep reading, so that the members' logs never fill the pipe.
            import threading
            threading.Thread(target=lambda: [lines.append(l) for l in proc.stdout],
                             daemon=True).start()
            assert sum("bolt://" in l for l in lines) == 4, "".join(lines)
            with GraphDatabase.driver(uri, auth=("neo4j", "quick-start-pw")) as drv:
                deadline = time.time() + 30
                while True:
                    try:
                        drv.execute_query("CREATE (:QuickStart)")
                        break
                    except Exception:
                        assert time.time() < deadline, "the cluster never took a write"
                        time.sleep(0.2)
                records, _, _ = drv.execute_query(
                    "MATCH (n:QuickStart) RETURN count(n) AS c", routing_="r")
                assert records[0]["c"] == 1
                deadline = time.time() + 30
                while True:
                    records, _, _ = drv.execute_query("CALL dbms.cluster.overview()")
                    roles = sorted(r["databases"]["neo4j"] for r in records)
                    if roles == ["FOLLOWER", "FOLLOWER", "LEADER", "READ_REPLICA"]:
                        break
                    assert time.time() < deadline, roles
                    time.sleep(0.2)
            proc.send_signal(signal.SIGINT)
            assert proc.wait(timeout=30) == 0
            left = subprocess.run(["pgrep", "-f", f"--data-dir {d}/"],
                                  capture_output=True, text=True).stdout
            assert not left.strip(), f"members still running: {left}"
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
