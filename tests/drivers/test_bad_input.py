"""Hostile and careless clients against a real server: each gets a clean
FAILURE or a closed connection, and everyone else keeps being served."""
import socket
import struct
import time

import pytest
from neo4j import GraphDatabase
from neo4j.exceptions import ClientError, TransientError

MAGIC = b"\x60\x60\xb0\x17"
V5_4 = b"\x00\x04\x04\x05"  # 5.4 with a range of 4 minors below it


def still_serving(server, auth):
    with GraphDatabase.driver(server.bolt_uri, auth=auth) as d:
        records, _, _ = d.execute_query("RETURN 42 AS x")
        assert records[0]["x"] == 42


def recv_all(sock, timeout=5.0):
    sock.settimeout(timeout)
    data = b""
    try:
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                return data, True
            data += chunk
    except socket.timeout:
        return data, False
    except ConnectionResetError:
        return data, True


def ps_string(s: bytes) -> bytes:
    n = len(s)
    if n < 16:
        return bytes([0x80 | n]) + s
    if n < 256:
        return b"\xd0" + bytes([n]) + s
    if n < 65536:
        return b"\xd1" + struct.pack(">H", n) + s
    return b"\xd2" + struct.pack(">I", n) + s


def ps_map(pairs) -> bytes:
    out = bytes([0xA0 | len(pairs)])
    for k, v in pairs:
        out += ps_string(k.encode()) + v
    return out


def chunked(body: bytes) -> bytes:
    out = b""
    for i in range(0, len(body), 65535):
        piece = body[i:i + 65535]
        out += struct.pack(">H", len(piece)) + piece
    return out + b"\x00\x00"


def hello_logon(auth):
    hello = b"\xb1\x01" + ps_map([("user_agent", ps_string(b"raw-test/1")),
                                 ("bolt_agent", ps_map([("product", ps_string(b"raw-test/1"))]))])
    logon = b"\xb1\x6a" + ps_map([("scheme", ps_string(b"basic")), ("principal", ps_string(auth[0].encode())),
                                 ("credentials", ps_string(auth[1].encode()))])
    return chunked(hello) + chunked(logon)


def connect(server):
    s = socket.create_connection(("127.0.0.1", server.bolt_port))
    s.sendall(MAGIC + V5_4 + b"\x00" * 12)
    s.settimeout(5)
    assert s.recv(4) == b"\x00\x00\x04\x05"
    return s


def test_garbage_instead_of_handshake(server, auth):
    s = socket.create_connection(("127.0.0.1", server.bolt_port))
    s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    _, closed = recv_all(s)
    assert closed
    still_serving(server, auth)


def test_unsupported_versions_get_zero_and_close(server, auth):
    s = socket.create_connection(("127.0.0.1", server.bolt_port))
    s.sendall(MAGIC + b"\x00\x00\x05\x05" + b"\x00\x00\x00\x03" + b"\x00" * 8)
    data, closed = recv_all(s)
    assert data == b"\x00\x00\x00\x00" and closed
    still_serving(server, auth)


def test_garbage_after_handshake(server, auth):
    s = connect(server)
    s.sendall(b"\x00\x05\xff\xfe\xfd\xfc\xfb\x00\x00")
    data, closed = recv_all(s)
    assert closed
    still_serving(server, auth)


def test_nesting_10000_deep(server, auth):
    s = connect(server)
    s.sendall(hello_logon(auth))
    deep = b"\x91" * 10000 + b"\x01"
    run = b"\xb3\x10" + ps_string(b"RETURN $p") + ps_map([("p", deep)]) + b"\xa0"
    s.sendall(chunked(run))
    data, _ = recv_all(s, timeout=3)
    assert b"Neo.ClientError" in data  # a FAILURE, not silence or a crash
    still_serving(server, auth)


def test_oversized_message_is_refused(server, auth):
    s = connect(server)
    s.sendall(hello_logon(auth))
    try:
        for _ in range(1100):  # 1100 x 64 KiB > the 64 MiB limit
            s.sendall(struct.pack(">H", 65535) + b"\x00" * 65535)
    except OSError:
        pass  # the server hung up on us, which is allowed
    _, closed = recv_all(s, timeout=10)
    assert closed
    still_serving(server, auth)


def test_five_megabyte_string_parameter(server, auth):
    big = "x" * (5 * 1024 * 1024)
    with GraphDatabase.driver(server.bolt_uri, auth=auth) as d:
        records, _, _ = d.execute_query("RETURN size($s) AS n", s=big)
        assert records[0]["n"] == len(big)


def test_result_that_would_exhaust_memory_fails_cleanly(server, auth):
    with GraphDatabase.driver(server.bolt_uri, auth=auth) as d:
        with pytest.raises((ClientError, TransientError)):
            d.execute_query("UNWIND range(1, 100000000) AS x WITH x ORDER BY x DESC RETURN collect(x)")
    still_serving(server, auth)


def test_thousands_of_idle_connections(server, auth):
    socks = []
    try:
        for _ in range(2000):
            s = socket.create_connection(("127.0.0.1", server.bolt_port))
            socks.append(s)
        still_serving(server, auth)
    finally:
        for s in socks:
            s.close()
    still_serving(server, auth)


def test_client_that_never_reads(server, auth):
    s = connect(server)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.sendall(hello_logon(auth))
    run = b"\xb3\x10" + ps_string(b"UNWIND range(1, 5000000) AS x RETURN x, 'padding padding padding'") + b"\xa0\xa0"
    pull = b"\xb1\x3f" + ps_map([("n", b"\xff")])
    s.sendall(chunked(run) + chunked(pull))
    time.sleep(1.0)
    # The stuck client must not stop anyone else.
    started = time.time()
    still_serving(server, auth)
    assert time.time() - started < 10
    s.close()
