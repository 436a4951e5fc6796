#!/usr/bin/env python3
"""The Kubernetes manifests, checked two ways without a control plane.

1. Every overlay under deploy/kubernetes/overlays renders (kubectl
   kustomize) and validates strictly against a current Kubernetes API
   (kubernetes-validate).
2. The pods the StatefulSets of one overlay describe are started on the
   Docker Engine the way a kubelet would start them: the manifest's image,
   command and args, environment (field and secret references and $(VAR)
   expansion included), secret volumes as files, a volume per claim, the
   pod's user and group, its host name, and DNS names that resolve as the
   headless Services make them (the Service name to every member, and
   `<pod>.<service>` to one). Then the probes' own commands must pass, the
   client Service's stand-in (a relay over every pod it selects) must take
   managed-transaction writes, and a pod terminated as Kubernetes does it
   (preStop, then SIGTERM with the grace period) must exit within that
   grace with no client transaction failing. An overlay that mounts the
   TLS Secrets (components/tls) gets them as an operator would make them,
   from scripts/tls-certs.sh for the pods' stable names, and every client
   of the test then speaks TLS, trusting only that CA. Anything the image does not
   provide that the manifests rely on (a port it does not expose, another
   user, a missing volume, a missing binary) fails the test: manifests and
   image cannot drift apart.

    tests/containers/kubernetes.py [--overlay NAME ...] [--json FILE] [--keep]
"""
import argparse
import base64
import json
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import kubernetes_validate
import yaml
from neo4j import GraphDatabase

import common
from common import Load, Relay, check, driver_options, leader, log, sh, wait_until

ROOT = Path(__file__).resolve().parents[2]
OVERLAYS = ROOT / "deploy" / "kubernetes" / "overlays"
KUBERNETES_VERSION = "1.32.0"
NAMESPACE = "default"
PREFIX = "cwk8s"


def render(overlay):
    out = subprocess.run(["kubectl", "kustomize", str(OVERLAYS / overlay)],
                         check=True, capture_output=True, text=True).stdout
    return [d for d in yaml.safe_load_all(out) if d]


def validate_all():
    for overlay in sorted(p.name for p in OVERLAYS.iterdir()):
        docs = render(overlay)
        for doc in docs:
            try:
                kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
            except kubernetes_validate.ValidationError as e:
                sys.exit(f"{overlay}: {doc['kind']}/{doc['metadata']['name']}: {e.message}")
        log(f"{overlay}: {len(docs)} resources valid against Kubernetes {KUBERNETES_VERSION}")


def selects(selector, labels):
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def expand(value, env):
    """Kubernetes' $(VAR) expansion: a defined variable is replaced, $$ is a
    literal $, anything else stays as written."""
    return re.sub(r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_]*)\)",
                  lambda m: "$" if m.group(0) == "$$" else env.get(m.group(1), m.group(0)), value)


class Pod:
    """One pod of a StatefulSet, as a container."""

    def __init__(self, sts, ordinal, docs, tmp):
        self.sts = sts
        self.name = f"{sts['metadata']['name']}-{ordinal}"
        spec = sts["spec"]["template"]["spec"]
        self.labels = sts["spec"]["template"]["metadata"]["labels"]
        self.spec = spec
        (self.c,) = spec["containers"]
        self.docs = docs
        self.tmp = Path(tmp) / self.name
        self.container = f"{PREFIX}-{self.name}"

    def secret(self, name):
        for d in self.docs:
            if d["kind"] == "Secret" and d["metadata"]["name"] == name:
                data = {k: base64.b64decode(v).decode() for k, v in d.get("data", {}).items()}
                return {**data, **d.get("stringData", {})}
        raise AssertionError(f"{self.name}: no Secret {name}")

    def env(self):
        env = {}
        for e in self.c.get("env", []):
            if "value" in e:
                env[e["name"]] = expand(e["value"], env)
                continue
            ref = e["valueFrom"]
            if "fieldRef" in ref:
                path = ref["fieldRef"]["fieldPath"]
                env[e["name"]] = {"metadata.name": self.name,
                                  "metadata.namespace": NAMESPACE}[path]
            elif "secretKeyRef" in ref:
                r = ref["secretKeyRef"]
                env[e["name"]] = self.secret(r["name"])[r["key"]]
            else:
                raise AssertionError(f"{self.name}: unsupported env source {ref}")
        return env

    def aliases(self):
        """DNS names of this pod, as the headless Services that select it
        give them."""
        names = []
        for d in self.docs:
            if d["kind"] == "Service" and d["spec"].get("clusterIP") == "None" \
                    and selects(d["spec"].get("selector"), self.labels):
                svc = d["metadata"]["name"]
                names.append(svc)
                if svc == self.sts["spec"]["serviceName"]:
                    names += [f"{self.name}.{svc}", f"{self.name}.{svc}.{NAMESPACE}.svc.cluster.local"]
        assert f"{self.name}.{self.sts['spec']['serviceName']}" in names, \
            f"{self.name}: no headless Service named {self.sts['spec']['serviceName']} selects it"
        return names

    def run_args(self, image_info, network):
        sc = self.spec.get("securityContext", {})
        user = f"{sc['runAsUser']}:{sc.get('runAsGroup', sc['runAsUser'])}"
        assert image_info["Config"]["User"] == user, \
            f"image runs as {image_info['Config']['User']!r}, the manifest as {user!r}"
        exposed = image_info["Config"].get("ExposedPorts") or {}
        args = ["docker", "run", "-d", "--name", self.container, "--hostname", self.name,
                "--network", network, "--user", user]
        for a in self.aliases():
            args += ["--network-alias", a]
        for p in self.c.get("ports", []):
            assert f"{p['containerPort']}/tcp" in exposed, \
                f"the manifest uses port {p['containerPort']}, the image exposes {sorted(exposed)}"
            args += ["-p", f"127.0.0.1::{p['containerPort']}"]
        env = self.env()
        for k, v in env.items():
            args += ["-e", f"{k}={v}"]
        claims = {t["metadata"]["name"] for t in self.sts["spec"].get("volumeClaimTemplates", [])}
        volumes = {v["name"]: v for v in self.spec.get("volumes", [])}
        for m in self.c.get("volumeMounts", []):
            if m["name"] in claims:
                assert m["mountPath"] in (image_info["Config"].get("Volumes") or {}), \
                    f"claim {m['name']} is mounted at {m['mountPath']}, not a volume of the image"
                args += ["-v", f"{PREFIX}-{m['name']}-{self.name}:{m['mountPath']}"]
            elif "secret" in volumes[m["name"]]:
                d = self.tmp / m["name"]
                d.mkdir(parents=True, exist_ok=True)
                for k, v in self.secret(volumes[m["name"]]["secret"]["secretName"]).items():
                    (d / k).write_text(v)
                    (d / k).chmod(0o644)
                args += ["-v", f"{d}:{m['mountPath']}:ro"]
            else:
                raise AssertionError(f"{self.name}: unsupported volume {volumes[m['name']]}")
        if "command" in self.c:
            args += ["--entrypoint", self.c["command"][0]]
        image = self.c["image"]
        args.append(image)
        args += [expand(a, env) for a in self.c.get("command", [])[1:]]
        args += [expand(a, env) for a in self.c.get("args", [])]
        return args

    def published(self, port_name):
        port = next(p["containerPort"] for p in self.c["ports"] if p["name"] == port_name)
        out = sh("docker", "port", self.container, f"{port}/tcp").stdout.split()[0]
        return int(out.rsplit(":", 1)[1])

    def probe(self, kind):
        """Runs the probe's own command in the container; True if it passes."""
        probe = self.c[kind]
        assert "exec" in probe, f"{kind} is not an exec probe: the image has no curl"
        r = sh("docker", "exec", self.container, *probe["exec"]["command"], check=False)
        return r.returncode == 0

    def probe_budget(self, kind):
        p = self.c[kind]
        return p.get("initialDelaySeconds", 0) + p.get("periodSeconds", 10) * p.get("failureThreshold", 3)

    def terminate(self):
        """As the kubelet does: the preStop hook, then SIGTERM, then SIGKILL
        at the end of the grace period. Returns seconds to exit."""
        grace = self.spec.get("terminationGracePeriodSeconds", 30)
        t = time.monotonic()
        pre = self.c.get("lifecycle", {}).get("preStop", {})
        if "sleep" in pre:
            time.sleep(pre["sleep"]["seconds"])
        remaining = max(1, int(grace - (time.monotonic() - t)))
        sh("docker", "stop", "-t", str(remaining), self.container)
        state = json.loads(sh("docker", "inspect", self.container).stdout)[0]["State"]
        took = time.monotonic() - t
        assert state["ExitCode"] == 0, f"{self.name} exited with {state['ExitCode']} (killed at the grace?)"
        assert took < grace, f"{self.name} took {took:.1f} s of a {grace} s grace"
        return took


def cleanup(pods, network):
    for p in pods:
        sh("docker", "rm", "-f", "-v", p.container, check=False)
    vols = sh("docker", "volume", "ls", "-q", "--filter", f"name={PREFIX}-", check=False).stdout.split()
    if vols:
        sh("docker", "volume", "rm", "-f", *vols, check=False)
    sh("docker", "network", "rm", network, check=False)


def tls_secrets(docs, tmp):
    """The Secrets components/tls reads and the operator creates: made
    here, for every pod's stable name and the client Service."""
    wanted = {v["secret"]["secretName"] for d in docs if d["kind"] == "StatefulSet"
              for v in d["spec"]["template"]["spec"].get("volumes", []) if "secret" in v}
    have = {d["metadata"]["name"] for d in docs if d["kind"] == "Secret"}
    missing = wanted - have
    if not missing:
        return []
    assert missing == {"causeway-tls", "causeway-cluster-tls"}, f"Secrets nobody makes: {missing}"
    hosts = ["causeway"]
    for d in docs:
        if d["kind"] == "StatefulSet":
            svc = d["spec"]["serviceName"]
            hosts += [f"{d['metadata']['name']}-{i}.{svc}" for i in range(d["spec"]["replicas"])]
    certs = Path(tmp) / "certs"
    sh(str(ROOT / "scripts" / "tls-certs.sh"), str(certs), *hosts)
    common.use_tls(certs / "ca.crt")
    files = lambda **kv: {k: (certs / v).read_text() for k, v in kv.items()}
    secrets = [{"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
                "metadata": {"name": "causeway-tls"},
                "stringData": files(**{"tls.crt": "tls.crt", "tls.key": "tls.key"})},
               {"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
                "metadata": {"name": "causeway-cluster-tls"},
                "stringData": files(**{"tls.crt": "member.crt", "tls.key": "member.key",
                                       "ca.crt": "ca.crt"})}]
    for d in secrets:
        kubernetes_validate.validate(d, KUBERNETES_VERSION, strict=True)
    return secrets


def run_overlay(overlay, keep):
    docs = render(overlay)
    common.use_tls(None)
    image_names = {c["image"] for d in docs if d["kind"] == "StatefulSet"
                   for c in d["spec"]["template"]["spec"]["containers"]}
    (image,) = image_names
    image_info = json.loads(sh("docker", "image", "inspect", image).stdout)[0]
    network = f"{PREFIX}-net"
    figures = {}
    with tempfile.TemporaryDirectory() as tmp:
        docs += tls_secrets(docs, tmp)
        figures["tls"] = common.TLS_CA is not None
        pods = [Pod(d, i, docs, tmp) for d in docs if d["kind"] == "StatefulSet"
                for i in range(d["spec"]["replicas"])]
        cleanup(pods, network)
        sh("docker", "network", "create", network)
        relay = None
        try:
            t = time.monotonic()
            for p in pods:
                sh(*p.run_args(image_info, network))
            for p in pods:
                wait_until(f"{p.name}'s startup probe", lambda: p.probe("startupProbe"),
                           timeout=p.probe_budget("startupProbe"))
            for p in pods:
                wait_until(f"{p.name}'s readiness probe", lambda: p.probe("readinessProbe"))
                assert p.probe("livenessProbe"), f"{p.name}'s liveness probe fails"
            figures["pods"] = len(pods)
            figures["start_to_ready_s"] = round(time.monotonic() - t, 2)
            log(f"{overlay}: {len(pods)} pods ready in {figures['start_to_ready_s']} s")

            members = {p.name: (p.published("bolt"), p.published("http")) for p in pods}
            client_svc = next(d for d in docs if d["kind"] == "Service"
                              and d["metadata"]["name"] == "causeway")
            selected = {p.name: members[p.name] for p in pods
                        if selects(client_svc["spec"]["selector"], p.labels)}
            assert selected == members, "the client Service does not select every member"
            relay = Relay(selected)
            secret = pods[0].secret("causeway-secrets")["neo4j-auth"]
            auth = tuple(secret.split("/", 1))
            service_uri = f"bolt://127.0.0.1:{relay.port}"
            mk = lambda: {"service": GraphDatabase.driver(service_uri, **driver_options(auth))}
            cores = {p.name: members[p.name] for p in pods
                     if p.labels.get("app.kubernetes.io/component") == "core"}
            load = Load(mk(), "k8s")
            time.sleep(2)
            # The leader's pod (a single server's only pod) is terminated
            # as the kubelet does it, and its StatefulSet brings it back.
            victim = wait_until("a leader", lambda: leader(cores))
            pod = next(p for p in pods if p.name == victim)
            t0 = time.monotonic()
            figures["terminated_leader_exit_s"] = round(pod.terminate(), 2)
            others = {k: v for k, v in cores.items() if k != victim}
            if others:
                figures["new_leader"] = wait_until("a new leader", lambda: leader(others))
            sh("docker", "start", pod.container)
            wait_until(f"{victim} ready again", lambda: pod.probe("readinessProbe"))
            # A restarted container gets new host ports; the pod keeps its
            # name, as a StatefulSet's replacement pod does.
            members[victim] = selected[victim] = (pod.published("bolt"), pod.published("http"))
            figures["longest_write_gap_s"] = load.gaps(t0, time.monotonic())
            time.sleep(1)
            load.stop()
            figures["acknowledged"], _ = check(members, service_uri, auth, load,
                                               allow_failures=False)
        except BaseException:
            for p in pods:
                r = sh("docker", "logs", "--tail", "20", p.container, check=False)
                print(f"--- last log lines of {p.name}\n{r.stdout}{r.stderr}")
            raise
        finally:
            if relay:
                relay.close()
            if not keep:
                cleanup(pods, network)
    return figures


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--overlay", action="append",
                    help="run this overlay's pods (repeatable; default: single and "
                    "cores-replicas-tls)")
    ap.add_argument("--json", help="write the figures here")
    ap.add_argument("--keep", action="store_true", help="leave the containers running")
    args = ap.parse_args()
    validate_all()
    figures = {}
    # cores-replicas-tls is cores-replicas with components/tls: the largest
    # shape and the TLS wiring in one run.
    for overlay in args.overlay or ["single", "cores-replicas-tls"]:
        figures[overlay] = run_overlay(overlay, args.keep)
        log(overlay, json.dumps(figures[overlay]))
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=1))


if __name__ == "__main__":
    main()
