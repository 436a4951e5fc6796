#!/usr/bin/env python3
"""The cluster exactly as deploy/compose.yaml runs it, in real containers
of the image scripts/image.sh builds, under a managed-transaction write load
from the official Python driver: through `neo4j://` (client-side routing)
and through `bolt://` to one stable address that stands in for a
Kubernetes client Service (a relay on the host that hands each new
connection to a member that answers ready, as kube-proxy does).

Scenarios, in order, on one cluster:
  kill         docker kill the leader; writes go on; it rejoins from its volume
  disconnect   docker network disconnect the leader; a new leader is elected,
               the cut member stops leading, and rejoins when reconnected
  rolling      docker restart of every container in turn (SIGTERM, then
               start), waiting for readiness between them
  image        every container recreated in turn from a newer build of the
               image (docker-compose up --no-deps with CAUSEWAY_IMAGE)
  full-stop    docker-compose stop of everything (after the load), then up

After each: every acknowledged write is on every member exactly once, no
write is on any member twice, and (rolling, image, full-stop) no managed
transaction failed. Figures go to stdout and, with --json, to a file.

The compose file must work with both Compose tools users have: Debian's
docker-compose 1.29 and Compose v2 (`docker compose`); --compose picks
one, and --scenarios a subset, so CI can share the scenarios between them.

--tls adds deploy/compose.tls.yaml, with certificates scripts/tls-certs.sh
makes: members require TLS from clients and mutual TLS between themselves,
and every client here trusts only that CA. Plaintext must then be refused
on every member's Bolt and HTTP port.

    tests/containers/run.py [--compose "docker compose"] [--scenarios kill,image]
                            [--tls] [--json FILE] [--keep]
"""
import argparse
import collections
import json
import os
import shutil
import socket
import ssl
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from neo4j import GraphDatabase

import common
from common import Load, Relay, all_ready, check, driver_options, leader, log, sh, wait_until

ROOT = Path(__file__).resolve().parents[2]
# compose.yaml, then any override files (--tls adds compose.tls.yaml).
COMPOSE_FILES = [ROOT / "deploy" / "compose.yaml"]
PROJECT = "causewayct"
# Service name -> (published Bolt port, published HTTP port), as compose.yaml has them.
MEMBERS = {
    "core1": (7687, 7474), "core2": (7688, 7475), "core3": (7689, 7476),
    "replica1": (7690, 7477), "replica2": (7691, 7478),
}
CORES = {k: v for k, v in MEMBERS.items() if k.startswith("core")}
SCENARIOS = ("kill", "disconnect", "rolling", "image", "full-stop")
# The Compose command, as a list of words; main() sets it from --compose.
COMPOSE_TOOL = ["docker-compose"]
USER, PASSWORD = (ROOT / "deploy" / "secrets" / "neo4j-auth").read_text().strip().split("/", 1)
AUTH = (USER, PASSWORD)


def compose(*args, env=None, check=True):
    files = [w for f in COMPOSE_FILES for w in ("-f", str(f))]
    return sh(*COMPOSE_TOOL, *files, "-p", PROJECT, *args, env=env, check=check)


def container(service):
    # -a: Compose v2 leaves stopped containers out otherwise.
    cid = compose("ps", "-a", "-q", service).stdout.strip()
    assert cid, f"no container for {service}"
    return cid


def drivers(relay):
    """Half the clients route on the client (neo4j://, all cores as
    seeds, as a DNS name for all cores gives them); half send everything
    to the stable address over bolt://."""
    seeds = [("localhost", bolt) for bolt, _ in CORES.values()]
    return {
        "neo4j": GraphDatabase.driver("neo4j://localhost:7687", resolver=lambda _a: seeds,
                                      **driver_options(AUTH)),
        "service": GraphDatabase.driver(f"bolt://127.0.0.1:{relay.port}", **driver_options(AUTH)),
    }


def scenario(name, relay, figures, action, allow_failures, settle=2.0, load_through=True):
    """Runs `action` under the write load (or, load_through=False, after
    it), then checks every member."""
    log(f"--- {name}")
    load = Load(drivers(relay), name)
    time.sleep(settle)
    if not load_through:
        load.stop()
    t0 = time.monotonic()
    extra = action() or {}
    t1 = time.monotonic()
    if load_through:
        time.sleep(settle)
        load.stop()
    acked, total = check(MEMBERS, "neo4j://localhost:7687", AUTH, load, allow_failures)
    fig = {"acknowledged": acked, "failed": len(load.failed), "nodes": total,
           "seconds": round(t1 - t0, 2), **extra}
    if load_through:
        fig["longest_write_gap_s"] = load.gaps(t0, t1)
    if load.failed:
        fig["failures"] = collections.Counter(e.split(":")[0] for *_, e in load.failed)
    figures[name] = fig
    log(name, json.dumps(fig))


# Killing the leader's container resets its connections, which starts an
# election at once (docs/decisions/0006-cluster.md): writes, taken over all
# clients, must go on within this.
KILL_RESUME_LIMIT_S = 1.0


def kill_leader():
    victim = wait_until("a leader", lambda: leader(CORES))
    t = time.monotonic()
    sh("docker", "kill", container(victim))
    others = {k: v for k, v in CORES.items() if k != victim}
    new = wait_until("a new leader", lambda: leader(others))
    elected = time.monotonic() - t
    time.sleep(3)
    sh("docker", "start", container(victim))
    wait_until(f"{victim} ready again", lambda: all_ready({victim: MEMBERS[victim]}))
    # Measured from the start of the docker command, whose own latency it includes.
    return {"victim": victim, "new_leader": new, "new_leader_after_s": round(elected, 2)}


def disconnect_leader():
    victim = wait_until("a leader", lambda: leader(CORES))
    cid = container(victim)
    nets = json.loads(sh("docker", "inspect", cid).stdout)[0]["NetworkSettings"]["Networks"]
    net = next(iter(nets))
    t = time.monotonic()
    sh("docker", "network", "disconnect", net, cid)
    others = {k: v for k, v in CORES.items() if k != victim}
    new = wait_until("a new leader", lambda: leader(others))
    elected = time.monotonic() - t

    def cut_member_gave_up():
        # The cut member is out of reach from the host; ask it from inside.
        r = sh("docker", "exec", cid, "/causeway", "healthcheck", check=False)
        try:
            h = json.loads(r.stdout)
        except ValueError:
            return None
        return r.returncode != 0 and not h.get("ready") and h
    cut = wait_until("the cut member to stop taking writes", cut_member_gave_up, timeout=10)
    time.sleep(2)
    sh("docker", "network", "connect", "--alias", "cores", "--alias", victim, net, cid)
    wait_until(f"{victim} ready again", lambda: all_ready({victim: MEMBERS[victim]}))
    return {"victim": victim, "new_leader": new, "new_leader_after_s": round(elected, 2),
            "cut_member_said": cut.get("reason")}


def rolling_restart():
    for service in MEMBERS:
        sh("docker", "restart", "-t", "30", container(service))
        wait_until(f"{service} ready after restart", lambda: all_ready(MEMBERS))
    return {}


def rolling_image(new_tag):
    def run():
        for service in MEMBERS:
            compose("up", "-d", "--no-deps", service, env={"CAUSEWAY_IMAGE": new_tag})
            wait_until(f"{service} ready on {new_tag}", lambda: all_ready(MEMBERS))
        images = {s: json.loads(sh("docker", "inspect", container(s)).stdout)[0]["Config"]["Image"]
                  for s in MEMBERS}
        assert set(images.values()) == {new_tag}, images
        return {}
    return run


def full_stop():
    t = time.monotonic()
    compose("stop", "-t", "30")
    stopped = time.monotonic() - t
    compose("up", "-d")
    wait_until("every member ready after a full stop", lambda: all_ready(MEMBERS))
    return {"stop_s": round(stopped, 2), "back_after_s": round(time.monotonic() - t, 2)}


def refuses_plaintext():
    """With TLS required, a plaintext Bolt or HTTP client gets nowhere on
    any member."""
    for service, (bolt, http) in MEMBERS.items():
        with GraphDatabase.driver(f"bolt://127.0.0.1:{bolt}", auth=AUTH,
                                  connection_timeout=2) as d:
            try:
                d.verify_connectivity()
            except Exception:  # noqa: BLE001 - any refusal will do; success will not
                pass
            else:
                raise AssertionError(f"{service} took a plaintext Bolt connection")
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{http}/health/ready", timeout=2)
        except OSError:
            pass
        else:
            raise AssertionError(f"{service} answered plaintext HTTP")


def renewal_reaches_members(certs):
    """Certificates renewed in place (scripts/tls-certs.sh again) are
    served by every running member within a few reload intervals, with no
    restart: Compose mounts secret files by inode."""
    sh(str(ROOT / "scripts" / "tls-certs.sh"), str(certs))
    renewed = ssl.PEM_cert_to_DER_cert((certs / "tls.crt").read_text())
    t = time.monotonic()
    for service, (bolt, http) in MEMBERS.items():
        for port in (bolt, http):
            wait_until(f"{service} to serve the renewed certificate on {port}",
                       lambda: served_certificate(port) == renewed, timeout=30)
    return round(time.monotonic() - t, 2)


def served_certificate(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2) as raw:
            with common.TLS_CONTEXT.wrap_socket(raw, server_hostname="localhost") as s:
                return s.getpeercert(binary_form=True)
    except OSError:
        return None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--json", help="write the figures here")
    ap.add_argument("--keep", action="store_true", help="leave the cluster running")
    ap.add_argument("--compose", default="docker-compose",
                    help='the Compose command: "docker-compose" (v1) or "docker compose" (v2)')
    ap.add_argument("--scenarios", default=",".join(SCENARIOS),
                    help="comma-separated, run in the usual order")
    ap.add_argument("--tls", action="store_true",
                    help="add deploy/compose.tls.yaml with certificates made for this run")
    args = ap.parse_args()
    certs = None
    if args.tls:
        certs = Path(tempfile.mkdtemp(prefix="causeway-certs-"))
        sh(str(ROOT / "scripts" / "tls-certs.sh"), str(certs))
        os.environ["CAUSEWAY_TLS_DIR"] = str(certs)
        COMPOSE_FILES.append(ROOT / "deploy" / "compose.tls.yaml")
        common.use_tls(certs / "ca.crt")
    COMPOSE_TOOL[:] = args.compose.split()
    chosen = set(args.scenarios.split(","))
    unknown = chosen - set(SCENARIOS)
    if unknown:
        sys.exit(f"unknown scenarios {sorted(unknown)}; there are {SCENARIOS}")

    for service, (bolt, http) in MEMBERS.items():
        for port in (bolt, http):
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    sys.exit(f"port {port} ({service}) is taken: stop what listens there first")
    image = json.loads(sh("docker", "image", "inspect", "causeway").stdout)[0]
    if "image" in chosen:
        # A newer build of the same image: the same files, a new image id.
        sh("docker", "build", "-q", "-t", "causeway:next", "--label",
           f"causeway.rebuilt={time.time()}", str(ROOT))
    version = sh(*COMPOSE_TOOL, "version").stdout.strip().splitlines()[0]
    figures = {"compose": version, "image_bytes": image["Size"], "tls": args.tls}
    compose("down", "-v", check=False)
    relay = Relay(MEMBERS)
    try:
        t = time.monotonic()
        compose("up", "-d")
        wait_until("every member ready", lambda: all_ready(MEMBERS))
        figures["up_to_ready_s"] = round(time.monotonic() - t, 2)

        def docker_health():
            return {s: json.loads(sh("docker", "inspect", container(s)).stdout)[0]
                    ["State"]["Health"]["Status"] for s in MEMBERS}
        # The image's own HEALTHCHECK (causeway healthcheck) agrees.
        wait_until("Docker to report every container healthy",
                   lambda: set(docker_health().values()) == {"healthy"}, timeout=60)
        figures["up_to_healthy_s"] = round(time.monotonic() - t, 2)
        log("cluster ready in", figures["up_to_ready_s"], "s; leader", leader(CORES))
        if args.tls:
            refuses_plaintext()
            figures["renewed_certificate_served_after_s"] = renewal_reaches_members(certs)
        if "kill" in chosen:
            scenario("kill", relay, figures, kill_leader, allow_failures=True)
            gap = figures["kill"]["longest_write_gap_s"]["any"]
            assert gap < KILL_RESUME_LIMIT_S, f"writes stopped for {gap} s after the kill"
        if "disconnect" in chosen:
            scenario("disconnect", relay, figures, disconnect_leader, allow_failures=True)
        if "rolling" in chosen:
            scenario("rolling", relay, figures, rolling_restart, allow_failures=False)
        if "image" in chosen:
            scenario("image", relay, figures, rolling_image("causeway:next"),
                     allow_failures=False)
        if "full-stop" in chosen:
            scenario("full-stop", relay, figures, full_stop, allow_failures=False,
                     load_through=False)
    except BaseException:
        for service in MEMBERS:
            r = compose("logs", "--no-color", "--tail", "30", service, check=False)
            print(f"--- last log lines of {service}\n{r.stdout}{r.stderr}")
        raise
    finally:
        relay.close()
        if not args.keep:
            compose("down", "-v", check=False)
            if certs:
                shutil.rmtree(certs, ignore_errors=True)
    print(json.dumps(figures, indent=1, default=str))
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=1, default=str))


if __name__ == "__main__":
    main()
