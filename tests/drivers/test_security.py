"""Users, roles and privileges through the official driver: what each
built-in role may and may not do, expired and suspended users, lock-out,
HTTP under the same rules, and users replicated to every member."""
import base64
import json
import os
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid

import neo4j
import pytest
from neo4j import GraphDatabase
from neo4j.exceptions import AuthError, ClientError, Forbidden

from cluster import Cluster, Core, wait_until
from test_bad_input import connect, hello_logon, recv_all
from conftest import PASSWORD, USER, Server

ADMIN = (USER, PASSWORD)


def system(driver, query, **params):
    return driver.execute_query(query, params, database_="system").records


def fresh_name(prefix):
    return f"{prefix}_{uuid.uuid4().hex[:8]}"


def make_user(driver, role=None, password="a-password-1", change_required=False):
    name = fresh_name(role or "public")
    change = "CHANGE REQUIRED" if change_required else "CHANGE NOT REQUIRED"
    system(driver, f"CREATE USER {name} SET PASSWORD $pw {change}", pw=password)
    if role:
        system(driver, f"GRANT ROLE {role} TO {name}")
    return name, password


def attempt(driver, query, db="neo4j", **params):
    """'ok' with the records, or the error's code."""
    try:
        return "ok", driver.execute_query(query, params, database_=db).records
    except neo4j.exceptions.Neo4jError as e:
        return e.code, str(e)


def test_built_in_roles_allow_and_refuse_what_neo4j_s_do(server):
    label = fresh_name("Sec")
    with GraphDatabase.driver(server.bolt_uri, auth=ADMIN) as admin:
        admin.execute_query(f"CREATE (:{label} {{k: 1}}), (:{label} {{k: 2}})")
        users = {role: make_user(admin, role) for role in
                 ("reader", "editor", "publisher", "architect", "admin")}
        users["PUBLIC"] = make_user(admin)
    forbidden = "Neo.ClientError.Security.Forbidden"
    # role -> (sees data, writes existing names, makes new names, schema, manages users)
    expected = {
        "PUBLIC": (False, False, False, False, False),
        "reader": (True, False, False, False, False),
        "editor": (True, True, False, False, False),
        "publisher": (True, True, True, False, False),
        "architect": (True, True, True, True, False),
        "admin": (True, True, True, True, True),
    }
    for role, (sees, writes, names, schema, manages) in expected.items():
        with GraphDatabase.driver(server.bolt_uri, auth=users[role]) as d:
            code, recs = attempt(d, f"MATCH (n:{label}) RETURN count(n) AS c")
            # Without MATCH the graph is invisible: no rows, no error.
            assert code == "ok" and (recs[0]["c"] >= 2 if sees else recs[0]["c"] == 0), role
            # A SET needs WRITE; a user who sees nothing changes nothing.
            code, msg = attempt(d, f"MATCH (n:{label} {{k: 1}}) SET n.k = 1")
            assert (code == "ok") == (writes or not sees), (role, code, msg)
            code, msg = attempt(d, f"CREATE (:{label} {{k: 3}})")
            assert (code == "ok") == writes, (role, code, msg)
            if not writes:
                assert code == forbidden and "is not allowed for user" in msg, (role, msg)
            code, msg = attempt(d, f"CREATE (:{fresh_name('New')})")
            assert (code == "ok") == names, (role, code, msg)
            if writes and not names:
                assert "Creating new node label" in msg, msg
            code, msg = attempt(d, f"CREATE INDEX IF NOT EXISTS FOR (n:{label}) ON (n.k{role})")
            assert (code == "ok") == schema, (role, code, msg)
            if not schema:
                assert code == forbidden, (role, code)
            code, msg = attempt(d, "SHOW USERS", db="system")
            assert (code == "ok") == manages, (role, code, msg)
            code, msg = attempt(d, f"CREATE USER {fresh_name('x')} SET PASSWORD 'password12'",
                                db="system")
            assert (code == "ok") == manages, (role, code, msg)
            if not manages:
                assert code == forbidden and "Permission has not been granted for CREATE USER" in msg
            # Everyone may see themselves.
            code, recs = attempt(d, "SHOW CURRENT USER", db="system")
            assert code == "ok" and recs[0]["user"] == users[role][0]
            assert set(recs[0]["roles"]) == ({role} if role == "PUBLIC" else {role, "PUBLIC"})


def test_users_roles_and_privileges_as_neo4j_lists_them(server):
    with GraphDatabase.driver(server.bolt_uri, auth=ADMIN) as admin:
        roles = [r["role"] for r in system(admin, "SHOW ROLES")]
        for built_in in ("PUBLIC", "admin", "architect", "editor", "publisher", "reader"):
            assert built_in in roles
        rows = system(admin, "SHOW ROLE editor PRIVILEGES AS COMMANDS")
        assert [r["command"] for r in rows] == [
            "GRANT ACCESS ON DATABASE * TO `editor`",
            "GRANT MATCH {*} ON GRAPH * NODE * TO `editor`",
            "GRANT MATCH {*} ON GRAPH * RELATIONSHIP * TO `editor`",
            "GRANT SHOW CONSTRAINT ON DATABASE * TO `editor`",
            "GRANT SHOW INDEX ON DATABASE * TO `editor`",
            "GRANT WRITE ON GRAPH * TO `editor`",
        ]
        rows = system(admin, "SHOW PRIVILEGES YIELD * WHERE role = 'reader' RETURN access, action, segment")
        assert {(r["access"], r["action"], r["segment"]) for r in rows} == {
            ("GRANTED", "access", "database"), ("GRANTED", "match", "NODE(*)"),
            ("GRANTED", "match", "RELATIONSHIP(*)"), ("GRANTED", "show_constraint", "database"),
            ("GRANTED", "show_index", "database")}
        # A custom role made of grants, then a denial that beats them.
        role = fresh_name("ops")
        label = fresh_name("Ops")
        admin.execute_query(f"CREATE (:{label})")
        system(admin, f"CREATE ROLE {role} AS COPY OF reader")
        system(admin, f"GRANT WRITE ON GRAPH * TO {role}")
        name, pw = make_user(admin)
        system(admin, f"GRANT ROLE {role} TO {name}")
        with GraphDatabase.driver(server.bolt_uri, auth=(name, pw)) as d:
            assert attempt(d, f"CREATE (:{label})")[0] == "ok"
            system(admin, f"DENY WRITE ON GRAPH neo4j TO {role}")
            assert attempt(d, f"CREATE (:{label})")[0] == "Neo.ClientError.Security.Forbidden"
            system(admin, f"REVOKE DENY WRITE ON GRAPH neo4j FROM {role}")
            assert attempt(d, f"CREATE (:{label})")[0] == "ok"
            system(admin, f"REVOKE ROLE {role} FROM {name}")
            code, recs = attempt(d, f"MATCH (n:{label}) RETURN count(n) AS c")
            assert recs[0]["c"] == 0
        users = {r["user"]: r for r in system(admin, "SHOW USERS")}
        assert users[name]["roles"] == ["PUBLIC"] and users[name]["suspended"] is False
        # Names may come as parameters, as tools send them.
        rows = system(admin, "SHOW USER $u PRIVILEGES YIELD user, role", u=name)
        assert {(r["user"], r["role"]) for r in rows} == {(name, "PUBLIC")}
        rows = system(admin, "SHOW ROLE $r PRIVILEGES", r=role)
        assert rows and {r["role"] for r in rows} == {role}
        # Refusals carry Neo4j's codes and messages.
        code, msg = attempt(admin, f"CREATE USER {name} SET PASSWORD 'password12'", db="system")
        assert code == "Neo.ClientError.Statement.ArgumentError" and "User already exists" in msg
        code, msg = attempt(admin, f"DROP USER {USER}", db="system")
        assert "Deleting yourself is not allowed" in msg
        code, msg = attempt(admin, "DROP ROLE PUBLIC", db="system")
        assert "'PUBLIC' is a reserved role" in msg
        code, msg = attempt(admin, f"CREATE USER {fresh_name('s')} SET PASSWORD 'short'", db="system")
        assert "at least 8 characters" in msg
        # Unsupported privileges are refused, never narrowed or widened.
        code, msg = attempt(admin, f"GRANT TRAVERSE ON GRAPH * TO {role}", db="system")
        assert code == "Neo.ClientError.Statement.UnsupportedAdministrationCommand"
        code, msg = attempt(admin, f"GRANT CREATE NEW NODE LABEL ON DATABASE * TO {role}", db="system")
        assert code == "Neo.ClientError.Statement.UnsupportedAdministrationCommand"
        # Privileges over commands no one is served yet are refused too,
        # but a built-in row of them may be revoked.
        for p in ("TRANSACTION MANAGEMENT (*)", "START", "STOP"):
            code, msg = attempt(admin, f"GRANT {p} ON DATABASE * TO {role}", db="system")
            assert code == "Neo.ClientError.Statement.UnsupportedAdministrationCommand", (p, msg)
        copy = fresh_name("copy")
        system(admin, f"CREATE ROLE {copy} AS COPY OF admin")
        # Replaying SHOW PRIVILEGES AS COMMANDS re-grants what is held.
        commands = [r["command"] for r in system(admin, "SHOW ROLE $r PRIVILEGES AS COMMANDS", r=copy)]
        assert any("TRANSACTION MANAGEMENT" in c for c in commands), commands
        for c in commands:
            system(admin, c)
        system(admin, f"REVOKE TRANSACTION MANAGEMENT (*) ON DATABASE * FROM {copy}")
        actions = {r["action"] for r in system(admin, "SHOW ROLE $r PRIVILEGES", r=copy)}
        assert "transaction_management" not in actions and "access" in actions
        code, msg = attempt(admin, f"GRANT TRANSACTION MANAGEMENT (*) ON DATABASE * TO {copy}",
                            db="system")
        assert code == "Neo.ClientError.Statement.UnsupportedAdministrationCommand", msg
        system(admin, f"DROP ROLE {copy}")
        # A rolled-back transaction changes no user.
        ghost = fresh_name("ghost")
        with admin.session(database="system") as s:
            tx = s.begin_transaction()
            tx.run(f"CREATE USER {ghost} SET PASSWORD 'password12'").consume()
            tx.rollback()
        assert ghost not in {r["user"] for r in system(admin, "SHOW USERS")}
        system(admin, f"DROP USER {name}")
        system(admin, f"DROP ROLE {role}")


def test_expired_suspended_and_changed_passwords(server):
    with GraphDatabase.driver(server.bolt_uri, auth=ADMIN) as admin:
        name, pw = make_user(admin, "reader", change_required=True)
        with GraphDatabase.driver(server.bolt_uri, auth=(name, pw)) as d:
            code, msg = attempt(d, "RETURN 1")
            assert code == "Neo.ClientError.Security.CredentialsExpired", msg
            assert "must be changed before you can use this instance" in msg
            code, msg = attempt(d, "SHOW CURRENT USER", db="system")
            assert code == "Neo.ClientError.Security.CredentialsExpired"
        # LOGON's SUCCESS says so, for tools that ask for a new password.
        expired_flag = b"credentials_expired\xc3"
        for who, flagged in (((name, pw), True), (ADMIN, False)):
            sock = connect(server)
            sock.sendall(hello_logon(who))
            data, deadline = b"", time.time() + 10
            while data.count(b"\xb1\x70") < 2 and time.time() < deadline:
                more, closed = recv_all(sock, timeout=0.2)
                data += more
                if closed:
                    break
            sock.close()
            assert data.count(b"\xb1\x70") == 2, data  # two SUCCESS
            assert (expired_flag in data) == flagged, (who[0], data)
        with GraphDatabase.driver(server.bolt_uri, auth=(name, pw)) as d:
            code, msg = attempt(d, "ALTER CURRENT USER SET PASSWORD FROM $o TO $o", db="system", o=pw)
            assert "Old password and new password cannot be the same" in msg
            code, msg = attempt(d, "ALTER CURRENT USER SET PASSWORD FROM 'wrong-password' TO 'new-password-1'",
                                db="system")
            assert "Invalid principal or credentials" in msg
            assert attempt(d, "ALTER CURRENT USER SET PASSWORD FROM $o TO 'new-password-1'",
                           db="system", o=pw)[0] == "ok"
        # The old password stops working at once; the new one works.
        with GraphDatabase.driver(server.bolt_uri, auth=(name, pw)) as d:
            with pytest.raises(AuthError):
                d.verify_connectivity()
        with GraphDatabase.driver(server.bolt_uri, auth=(name, "new-password-1")) as d:
            assert attempt(d, "RETURN 1 AS x")[0] == "ok"
            system(admin, f"ALTER USER {name} SET STATUS SUSPENDED")
        with GraphDatabase.driver(server.bolt_uri, auth=(name, "new-password-1")) as d:
            with pytest.raises(AuthError):
                d.verify_connectivity()
        system(admin, f"ALTER USER {name} SET STATUS ACTIVE")
        with GraphDatabase.driver(server.bolt_uri, auth=(name, "new-password-1")) as d:
            d.verify_connectivity()
        system(admin, f"DROP USER {name}")
        with GraphDatabase.driver(server.bolt_uri, auth=(name, "new-password-1")) as d:
            with pytest.raises(AuthError):
                d.verify_connectivity()


def test_lockout_after_failed_logins(fresh_server):
    fresh_server.extra_args = ["--set", "auth_lock_ms=3000"]
    fresh_server.start()
    with GraphDatabase.driver(fresh_server.bolt_uri, auth=ADMIN) as admin:
        name, pw = make_user(admin, "reader")
    for _ in range(3):
        with GraphDatabase.driver(fresh_server.bolt_uri, auth=(name, "wrong-password")) as d:
            with pytest.raises(AuthError):
                d.verify_connectivity()
    # Locked: even the right password is refused, with Neo4j's code.
    with GraphDatabase.driver(fresh_server.bolt_uri, auth=(name, pw)) as d:
        with pytest.raises(ClientError) as e:
            d.verify_connectivity()
        assert e.value.code == "Neo.ClientError.Security.AuthenticationRateLimit"
    # Another user is not affected; the lock ends.
    with GraphDatabase.driver(fresh_server.bolt_uri, auth=ADMIN) as d:
        d.verify_connectivity()
    time.sleep(3.2)
    with GraphDatabase.driver(fresh_server.bolt_uri, auth=(name, pw)) as d:
        d.verify_connectivity()
        # Guessing the old password in ALTER CURRENT USER counts the same:
        # an open session cannot be used to find the password.
        guess = "ALTER CURRENT USER SET PASSWORD FROM 'guess-%d' TO 'new-password-1'"
        for i in range(3):
            code, msg = attempt(d, guess % i, db="system")
            assert "Invalid principal or credentials" in msg, msg
        code, msg = attempt(d, "ALTER CURRENT USER SET PASSWORD FROM $o TO 'new-password-1'",
                            db="system", o=pw)
        assert code == "Neo.ClientError.Security.AuthenticationRateLimit", msg
    with GraphDatabase.driver(fresh_server.bolt_uri, auth=(name, pw)) as d:
        with pytest.raises(ClientError) as e:
            d.verify_connectivity()
        assert e.value.code == "Neo.ClientError.Security.AuthenticationRateLimit"


def test_auth_turned_on_later_with_another_user(fresh_server):
    """Started with --auth none, then with --auth alice/...: alice is made
    with admin, since no one else could administer the DBMS; data written
    while auth was off is there."""
    fresh_server.auth = "none"
    fresh_server.start()
    with GraphDatabase.driver(fresh_server.bolt_uri, auth=None) as d:
        d.execute_query("CREATE (:BeforeAuth)")
    fresh_server.stop()
    fresh_server.auth = "alice/alice-password-1"
    fresh_server.start()
    alice = ("alice", "alice-password-1")
    with GraphDatabase.driver(fresh_server.bolt_uri, auth=alice) as d:
        users = []
        wait_until(lambda: users.extend(try_records(lambda: system(d, "SHOW USERS")) or [])
                   or users, what="alice to be made")
        assert "admin" in {u["user"]: u for u in users}["alice"]["roles"]
        assert d.execute_query("MATCH (n:BeforeAuth) RETURN count(n) AS c").records[0]["c"] == 1
    # The user made while auth was off still has no password anyone knows.
    with GraphDatabase.driver(fresh_server.bolt_uri, auth=(USER, "a-guess-1")) as d:
        with pytest.raises(AuthError):
            d.verify_connectivity()


def try_records(f):
    try:
        return f()
    except neo4j.exceptions.Neo4jError:
        return None


def http(port, path, user, password, body, method="POST"):
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    req = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}", data=json.dumps(body).encode(), method=method,
        headers={"Content-Type": "application/json", "Authorization": f"Basic {token}"})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, dict(r.headers), json.loads(r.read() or b"{}")
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), json.loads(e.read() or b"{}")


def test_http_follows_the_same_privileges(server):
    with GraphDatabase.driver(server.bolt_uri, auth=ADMIN) as admin:
        reader, rpw = make_user(admin, "reader")
        editor, epw = make_user(admin, "editor")
        label = fresh_name("Http")
        admin.execute_query(f"CREATE (:{label})")
    stmt = {"statements": [{"statement": f"CREATE (:{label})"}]}
    status, _, body = http(server.http_port, "/db/neo4j/tx/commit", reader, rpw, stmt)
    assert body["errors"][0]["code"] == "Neo.ClientError.Security.Forbidden", body
    status, _, body = http(server.http_port, "/db/neo4j/tx/commit", editor, epw, stmt)
    assert body["errors"] == [], body
    # An open transaction belongs to the user who opened it.
    status, headers, body = http(server.http_port, "/db/neo4j/tx", editor, epw, stmt)
    assert status == 201, body
    path = {k.lower(): v for k, v in headers.items()}["location"].split(str(server.http_port), 1)[1]
    status, _, body = http(server.http_port, path + "/commit", reader, rpw, {"statements": []})
    assert status == 404
    status, _, body = http(server.http_port, path + "/commit", editor, epw, {"statements": []})
    assert status == 200 and body["errors"] == []


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def test_brute_force_over_http_is_bounded(server):
    """Hundreds of parallel wrong passwords: the hashes run a few at a
    time (each takes about 19 MiB), so memory stays bounded and others are
    still served."""
    before = rss_kib(server.proc.pid)
    errors, codes = [], []

    def guess(i):
        try:
            status, _, _ = http(server.http_port, "/db/neo4j/tx/commit",
                                f"nobody{i % 7}", f"guess-{i}", {"statements": []})
            codes.append(status)
        except Exception as e:  # noqa: BLE001
            errors.append(repr(e))

    threads = [threading.Thread(target=guess, args=(i,)) for i in range(300)]
    peak = before
    for t in threads:
        t.start()
    with GraphDatabase.driver(server.bolt_uri, auth=ADMIN) as d:
        while any(t.is_alive() for t in threads):
            peak = max(peak, rss_kib(server.proc.pid))
            d.execute_query("RETURN 1")
            time.sleep(0.05)
    for t in threads:
        t.join()
    assert errors == [], errors[:3]
    assert set(codes) <= {401, 429}, set(codes)
    # Two cores' worth of hashes at once, not three hundred.
    assert peak - before < 200 * 1024, (before, peak)


def test_users_reach_every_member_and_a_replica():
    with tempfile.TemporaryDirectory() as d:
        cluster = Cluster(d, n=3)
        try:
            cluster.start()
            leader = cluster.wait_leader()
            follower = next(c for c in cluster.cores if c is not leader)
            replica = cluster.add_replica(d)
            # Created through a follower (routed to the leader).
            with GraphDatabase.driver(follower.bolt_uri, auth=ADMIN) as admin:
                name, pw = make_user(admin, "editor")
                admin.execute_query("CREATE (:Replicated)")
            cluster.wait_converged()
            for member in cluster.cores:
                with GraphDatabase.driver(member.bolt_uri, auth=(name, pw)) as u:
                    recs = u.execute_query("MATCH (n:Replicated) RETURN count(n) AS c",
                                           routing_=neo4j.RoutingControl.READ).records
                    assert recs[0]["c"] == 1, member
            # A member that was down when a user was made knows it once it
            # has caught up.
            down = next(c for c in cluster.cores if c is not leader and c is not follower)
            down.stop()
            with GraphDatabase.driver(leader.bolt_uri, auth=ADMIN) as admin:
                late, late_pw = make_user(admin, "reader")
            down.start()
            cluster.wait_converged()
            with GraphDatabase.driver(down.bolt_uri, auth=(late, late_pw)) as u:
                u.verify_connectivity()
                code, msg = attempt(u, "CREATE (:Replicated)")
                assert code == "Neo.ClientError.Security.Forbidden", msg
            assert replica.alive()
        finally:
            cluster.stop()


def neo4j_encrypted(password, iterations_version=1):
    """Neo4j's `SET ENCRYPTED PASSWORD` form, made here with hashlib:
    SHA-256 of salt then password, hashed again up to 1024 times in all
    (version 1) or once (version 0)."""
    import hashlib
    salt = os.urandom(32)
    digest = hashlib.sha256(salt + password.encode()).digest()
    for _ in range((1024 if iterations_version == 1 else 1) - 1):
        digest = hashlib.sha256(digest).digest()
    return f"{iterations_version},{digest.hex()},{salt.hex()}"


def test_encrypted_passwords_in_neo4j_s_format(server):
    with GraphDatabase.driver(server.bolt_uri, auth=ADMIN) as admin:
        for version in (0, 1):
            name = fresh_name("enc")
            system(admin, f"CREATE USER {name} SET ENCRYPTED PASSWORD $pw CHANGE NOT REQUIRED",
                   pw=neo4j_encrypted("imported-pw-1", version))
            with GraphDatabase.driver(server.bolt_uri, auth=(name, "imported-pw-1")) as d:
                d.verify_connectivity()
            with GraphDatabase.driver(server.bolt_uri, auth=(name, "imported-pw-2")) as d:
                with pytest.raises(AuthError):
                    d.verify_connectivity()
        code, msg = attempt(admin, "CREATE USER enc_bad SET ENCRYPTED PASSWORD '3,abcd,abcd'",
                            db="system")
        assert "The encryption version specified is not available" in msg
        code, msg = attempt(admin, "CREATE USER enc_bad SET ENCRYPTED PASSWORD 'plain'", db="system")
        assert "Incorrect format of encrypted password" in msg


def test_refusals_instead_of_wider_or_narrower_rights(server):
    with GraphDatabase.driver(server.bolt_uri, auth=ADMIN) as admin:
        # Impersonation is not granted: refused, never run as the login.
        with pytest.raises(neo4j.exceptions.Neo4jError) as e:
            admin.execute_query("RETURN 1", impersonated_user_=USER)
        assert e.value.code == "Neo.ClientError.Security.Forbidden"
        role = fresh_name("part")
        system(admin, f"CREATE ROLE {role}")
        for q in (f"GRANT MATCH {{*}} ON GRAPH * NODES * TO {role}",
                  f"REVOKE MATCH {{*}} ON GRAPH * RELATIONSHIPS * FROM {role}",
                  f"GRANT WRITE ON GRAPH * NODES * TO {role}"):
            code, _ = attempt(admin, q, db="system")
            assert code == "Neo.ClientError.Statement.UnsupportedAdministrationCommand", q
        assert [r for r in system(admin, f"SHOW ROLE {role} PRIVILEGES")] == []
        # A session of a user who was dropped and made again under the same
        # name has none of the new user's rights.
        name, pw = make_user(admin, "reader")
        with GraphDatabase.driver(server.bolt_uri, auth=(name, pw), max_connection_pool_size=1) as d:
            with d.session(database="neo4j") as s:
                s.run("RETURN 1").consume()
                system(admin, f"DROP USER {name}")
                system(admin, f"CREATE USER {name} SET PASSWORD 'other-password' CHANGE NOT REQUIRED")
                system(admin, f"GRANT ROLE admin TO {name}")
                with pytest.raises((neo4j.exceptions.Neo4jError, AuthError)):
                    s.run("CREATE (:ShouldNotExist)").consume()
        system(admin, f"DROP USER {name}")
        system(admin, f"DROP ROLE {role}")
        assert admin.execute_query("MATCH (n:ShouldNotExist) RETURN count(n) AS c").records[0]["c"] == 0
