"""TLS on the Bolt and HTTP ports and between members, with certificate
authorities made by the test (trustme), through the official driver's
encrypted schemes, HTTPS, and raw sockets for what no driver sends."""
import json
import os
import socket
import ssl
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import SimpleNamespace

import neo4j
import pytest
import trustme
from neo4j import GraphDatabase, TrustCustomCAs

from cluster import Cluster, Core, wait_until
from conftest import PASSWORD, USER, Server

AUTH = (USER, PASSWORD)


def write_pair(cert, directory, name):
    """The chain and key of a trustme certificate, as PEM files."""
    chain = Path(directory) / f"{name}.pem"
    key = Path(directory) / f"{name}.key"
    chain.write_bytes(b"".join(p.bytes() for p in cert.cert_chain_pems))
    key.write_bytes(cert.private_key_pem.bytes())
    return chain, key


def replace_atomically(path, data):
    tmp = Path(str(path) + ".new")
    tmp.write_bytes(data)
    os.replace(tmp, path)


@pytest.fixture(scope="module")
def pki():
    with tempfile.TemporaryDirectory() as d:
        ca, wrong = trustme.CA(), trustme.CA()
        cert, key = write_pair(ca.issue_cert("localhost", "127.0.0.1"), d, "server")
        ca_file, wrong_file = Path(d) / "ca.pem", Path(d) / "wrong.pem"
        ca.cert_pem.write_to_path(str(ca_file))
        wrong.cert_pem.write_to_path(str(wrong_file))
        yield SimpleNamespace(dir=d, ca=ca, wrong=wrong, cert=cert, key=key,
                              ca_file=str(ca_file), wrong_file=str(wrong_file))


def tls_args(cert, key, mode, reload_ms=5000):
    return ["--set", f"tls_mode={mode}",
            "--set", f"tls_certificate={cert}",
            "--set", f"tls_private_key={key}",
            "--set", f"tls_reload_interval_ms={reload_ms}"]


def serving(pki, mode):
    with tempfile.TemporaryDirectory() as d:
        s = Server(d, tls_args(pki.cert, pki.key, mode)).start()
        yield s
        assert s.stop() == 0, s.log_text()


@pytest.fixture(scope="module")
def optional_server(pki):
    yield from serving(pki, "optional")


@pytest.fixture(scope="module")
def required_server(pki):
    yield from serving(pki, "required")


def one(uri, **kw):
    with GraphDatabase.driver(uri, auth=AUTH, **kw) as d:
        return d.execute_query("RETURN 41 + 1 AS x").records[0]["x"]


def refused(uri, **kw):
    """The driver cannot connect (no retries: `execute_query` would retry
    for half a minute)."""
    with GraphDatabase.driver(uri, auth=AUTH, connection_timeout=5, **kw) as d:
        with pytest.raises(neo4j.exceptions.ServiceUnavailable):
            d.verify_connectivity()


def https_context(cafile):
    return ssl.create_default_context(cafile=cafile)


def http_commit(port, statements, context=None, scheme="https"):
    import base64
    body = json.dumps({"statements": [{"statement": s} for s in statements]}).encode()
    token = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    req = urllib.request.Request(
        f"{scheme}://localhost:{port}/db/neo4j/tx/commit", data=body, method="POST",
        headers={"Content-Type": "application/json", "Authorization": f"Basic {token}"})
    with urllib.request.urlopen(req, timeout=10, context=context) as r:
        return json.loads(r.read())


def test_every_scheme_when_tls_is_optional(optional_server, pki, monkeypatch):
    port = optional_server.bolt_port
    # `+s` schemes trust the system's CAs; SSL_CERT_FILE makes ours one.
    monkeypatch.setenv("SSL_CERT_FILE", pki.ca_file)
    for uri in (f"bolt://localhost:{port}", f"neo4j://localhost:{port}",
                f"bolt+s://localhost:{port}", f"neo4j+s://localhost:{port}",
                f"bolt+ssc://localhost:{port}", f"neo4j+ssc://127.0.0.1:{port}"):
        assert one(uri) == 42, uri
    assert one(f"bolt://localhost:{port}", encrypted=True,
               trusted_certificates=TrustCustomCAs(pki.ca_file)) == 42
    # A routing driver over TLS reads and writes through the routing table.
    with GraphDatabase.driver(f"neo4j+s://localhost:{port}", auth=AUTH) as d:
        d.execute_query("CREATE (:TlsWrite {k: 1})")
        recs = d.execute_query("MATCH (n:TlsWrite) RETURN count(n) AS c",
                               routing_=neo4j.RoutingControl.READ).records
        assert recs[0]["c"] == 1
    # HTTP and HTTPS on the same port.
    http = optional_server.http_port
    body = http_commit(http, ["RETURN 1 AS x"], https_context(pki.ca_file))
    assert body["errors"] == [] and body["results"][0]["data"][0]["row"] == [1]
    body = http_commit(http, ["RETURN 2 AS x"], scheme="http")
    assert body["results"][0]["data"][0]["row"] == [2]


def test_required_tls_refuses_plaintext_and_wrong_authorities(required_server, pki, monkeypatch):
    port, http = required_server.bolt_port, required_server.http_port
    monkeypatch.setenv("SSL_CERT_FILE", pki.ca_file)
    assert one(f"neo4j+s://localhost:{port}") == 42
    assert one(f"bolt+ssc://localhost:{port}") == 42
    refused(f"bolt://localhost:{port}")
    refused(f"neo4j://localhost:{port}")
    # A certificate from another authority is refused by the client.
    refused(f"bolt://localhost:{port}", encrypted=True,
            trusted_certificates=TrustCustomCAs(pki.wrong_file))
    monkeypatch.setenv("SSL_CERT_FILE", pki.wrong_file)
    refused(f"neo4j+s://localhost:{port}")
    refused(f"bolt+s://localhost:{port}")
    # HTTPS only, checked against the right authority.
    body = http_commit(http, ["RETURN 3 AS x"], https_context(pki.ca_file))
    assert body["results"][0]["data"][0]["row"] == [3]
    with pytest.raises(urllib.error.URLError) as e:
        http_commit(http, ["RETURN 1"], https_context(pki.wrong_file))
    assert isinstance(e.value.reason, ssl.SSLCertVerificationError)
    with pytest.raises((urllib.error.URLError, ConnectionError, OSError)):
        http_commit(http, ["RETURN 1"], scheme="http")


def client_hello():
    """The first bytes a real TLS client sends."""
    ctx = ssl.create_default_context()
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(incoming, outgoing, server_hostname="localhost")
    with pytest.raises(ssl.SSLWantReadError):
        obj.do_handshake()
    return outgoing.read()


def test_bad_input_on_tls_ports_never_stops_service(required_server, pki):
    hello = client_hello()
    assert hello[0] == 22
    inputs = [
        b"\x16",                       # one byte, then silence
        hello[: len(hello) // 2],      # a truncated ClientHello
        b"\x16\x03\x01\xff\xff" + os.urandom(64),  # a record claiming 64 KiB
        b"\x16" + os.urandom(300),     # garbage after the record type
        os.urandom(200),               # plain garbage
        b"\x60\x60\xb0\x17" + bytes(16),  # a plaintext Bolt handshake
        b"GET / HTTP/1.1\r\n\r\n",     # plaintext HTTP
        hello + os.urandom(100),       # a hello followed by garbage
    ]
    held = []
    try:
        for port in (required_server.bolt_port, required_server.http_port):
            for data in inputs:
                for _ in range(10):
                    s = socket.create_connection(("127.0.0.1", port))
                    s.sendall(data)
                    held.append(s)
        # With 160 connections stuck or broken, clients are served at once.
        for _ in range(5):
            assert one(f"bolt+ssc://localhost:{required_server.bolt_port}") == 42
        body = http_commit(required_server.http_port, ["RETURN 4 AS x"],
                           https_context(pki.ca_file))
        assert body["results"][0]["data"][0]["row"] == [4]
        # A handshake that never finishes is dropped by the server.
        slow = socket.create_connection(("127.0.0.1", required_server.bolt_port))
        slow.sendall(b"\x16\x03\x01")
        slow.settimeout(30)
        t = time.time()
        assert slow.recv(1024) == b""
        assert time.time() - t < 25
        slow.close()
    finally:
        for s in held:
            s.close()
    assert required_server.proc.poll() is None


def served_certificate(port):
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
        with ctx.wrap_socket(raw, server_hostname="localhost") as s:
            return s.getpeercert(binary_form=True)


def der(pem_bytes):
    return ssl.PEM_cert_to_DER_cert(pem_bytes.decode())


def test_a_renewed_certificate_is_served_without_restart_or_failed_query(pki):
    with tempfile.TemporaryDirectory() as d:
        cert, key = write_pair(pki.ca.issue_cert("localhost", "127.0.0.1"), d, "live")
        s = Server(d, tls_args(cert, key, "required", reload_ms=100)).start()
        try:
            port = s.bolt_port
            first = served_certificate(port)
            assert first == der(cert.read_bytes().split(b"-----END CERTIFICATE-----")[0]
                                + b"-----END CERTIFICATE-----\n")
            stop, failures, done = threading.Event(), [], [0]

            def load(http):
                # New connections all along (short lifetime), so the
                # renewal is crossed by handshakes, not only by open ones.
                while not stop.is_set():
                    try:
                        if http:
                            http_commit(s.http_port, ["RETURN 1"], https_context(pki.ca_file))
                        else:
                            with GraphDatabase.driver(
                                    f"bolt://localhost:{port}", auth=AUTH, encrypted=True,
                                    trusted_certificates=TrustCustomCAs(pki.ca_file)) as drv:
                                drv.execute_query("CREATE (:Renewal)")
                        done[0] += 1
                    except Exception as e:  # noqa: BLE001 - every failure counts
                        failures.append(repr(e))

            threads = [threading.Thread(target=load, args=(h,)) for h in (False, False, True)]
            for t in threads:
                t.start()
            wait_until(lambda: done[0] >= 20, what="load before the renewal")
            renewed = pki.ca.issue_cert("localhost", "127.0.0.1")
            # Key first, then chain, as a secret update may land: in
            # between, the pair does not match and the old one stays.
            replace_atomically(key, renewed.private_key_pem.bytes())
            time.sleep(0.3)
            replace_atomically(cert, b"".join(p.bytes() for p in renewed.cert_chain_pems))
            new = der(renewed.cert_chain_pems[0].bytes())
            wait_until(lambda: served_certificate(port) == new, timeout=10,
                       what="the renewed certificate to be served")
            before = done[0]
            wait_until(lambda: done[0] >= before + 20, what="load after the renewal")
            stop.set()
            for t in threads:
                t.join()
            assert failures == [], failures[:5]
            assert "TLS certificates reloaded" in s.log_text()
        finally:
            s.stop()


def member_args(cert, key, ca):
    return ["--set", f"cluster_tls_certificate={cert}",
            "--set", f"cluster_tls_private_key={key}",
            "--set", f"cluster_tls_ca={ca}"]


def test_members_talk_over_mutual_tls_and_refuse_strangers(pki):
    members_ca, stranger_ca = trustme.CA(), trustme.CA()
    with tempfile.TemporaryDirectory() as d:
        members_ca_file = Path(d) / "members-ca.pem"
        members_ca.cert_pem.write_to_path(str(members_ca_file))
        cluster = Cluster(d, n=3)
        for i, c in enumerate(cluster.cores):
            mc, mk = write_pair(members_ca.issue_cert(f"member-{i}"), d, f"member-{i}")
            c.extra_args += tls_args(pki.cert, pki.key, "required")
            c.extra_args += member_args(mc, mk, members_ca_file)
            c.http_tls = https_context(pki.ca_file)
        try:
            cluster.start()
            leader = cluster.wait_leader()
            # Writes through every member over bolt+s: followers route them
            # to the leader's Bolt port, which takes only TLS.
            for i, c in enumerate(cluster.cores):
                with GraphDatabase.driver(f"bolt://localhost:{c.bolt_port}", auth=AUTH,
                                          encrypted=True,
                                          trusted_certificates=TrustCustomCAs(pki.ca_file)) as drv:
                    drv.execute_query("CREATE (:MutualTls {via: $i})", i=i)
            # An HTTP transaction opened on one follower and committed
            # through another is passed on between them over mutual TLS.
            a, b = [c for c in cluster.cores if c is not leader]
            ctx = https_context(pki.ca_file)
            import base64
            token = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
            hdrs = {"Content-Type": "application/json", "Authorization": f"Basic {token}"}
            req = urllib.request.Request(
                f"https://localhost:{a.http_port}/db/neo4j/tx", method="POST", headers=hdrs,
                data=json.dumps({"statements": [
                    {"statement": "CREATE (:MutualTls {via: 'http'})"}]}).encode())
            with urllib.request.urlopen(req, timeout=10, context=ctx) as r:
                assert r.status == 201
                path = r.headers["location"].split(str(a.http_port), 1)[1]
            req = urllib.request.Request(
                f"https://localhost:{b.http_port}{path}/commit", method="POST", headers=hdrs,
                data=json.dumps({"statements": []}).encode())
            with urllib.request.urlopen(req, timeout=10, context=ctx) as r:
                assert json.loads(r.read())["errors"] == []
            cluster.wait_converged()
            for c in cluster.cores:
                with GraphDatabase.driver(f"bolt+ssc://localhost:{c.bolt_port}", auth=AUTH) as drv:
                    n = drv.execute_query("MATCH (n:MutualTls) RETURN count(n) AS c",
                                          routing_=neo4j.RoutingControl.READ).records[0]["c"]
                    assert n == 4
            # A would-be member whose certificate another authority signed,
            # and one with no member certificate at all, never join.
            strangers = []
            for name, extra in (
                ("stranger", member_args(*write_pair(stranger_ca.issue_cert("stranger"), d,
                                                      "stranger"), members_ca_file)),
                ("plain", []),
            ):
                sd = Path(d) / name
                sd.mkdir()
                r = Core(str(sd), tls_args(pki.cert, pki.key, "optional") + extra)
                r.mode = "replica"
                r.initial = cluster.cores[0].initial
                r.start()
                strangers.append(r)
            time.sleep(5)
            for c in cluster.cores:
                assert len(c.status()["members"]) == 3, c.status()
            for r in strangers:
                assert r.alive()
                st = r.status()
                assert st["members"] == [] and st["cluster_id"] is None, st
                r.stop()
            # They were turned away at the handshake.
            assert any("refused a member connection: TLS handshake failed" in c.full_log()
                       for c in cluster.cores)
        finally:
            cluster.stop()
