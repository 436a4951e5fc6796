"""Hosts for the fault suite: every member runs in a network namespace of
its own, wired to one bridge in the root namespace (where the clients run),
so that faults are real network faults: packets silently dropped in one or
both directions, random loss, added latency, and no TCP reset to warn
anyone. Needs root (ip netns, veth, iptables)."""
import os
import shutil
import signal
import subprocess
import sys
import time

PREFIX = "cwf"
BRIDGE = f"{PREFIX}-br"
SUBNET = "10.77.0"
CLIENT_IP = f"{SUBNET}.1"
CLUSTER_PORT, BOLT_PORT, HTTP_PORT = 6000, 7687, 7474
# Where the delay proxy of a member listens (inside its namespace).
DELAY_PORT = 16000
# The firewall mark of the relay's own connections (delay_proxy.MARK).
DELAY_MARK = 0x77
HERE = os.path.dirname(os.path.abspath(__file__))


def sh(*args, check=True):
    r = subprocess.run(args, capture_output=True, text=True)
    if check and r.returncode != 0:
        raise RuntimeError(f"{' '.join(args)}: {r.stderr.strip()}")
    return r


def available():
    """Whether this machine lets us build the test network (root, iproute2,
    iptables)."""
    if os.geteuid() != 0 or not shutil.which("ip") or not shutil.which("iptables"):
        return False
    probe = f"{PREFIX}-probe"
    if sh("ip", "netns", "add", probe, check=False).returncode != 0:
        return False
    sh("ip", "netns", "del", probe, check=False)
    return True


class Net:
    """A bridge with `n` member namespaces on it. Member i (0-based) has
    address 10.77.0.(11+i)."""

    def __init__(self, n):
        self.n = n
        self.proxies = {}

    def ns(self, i):
        return f"{PREFIX}-m{i}"

    def ip(self, i):
        return f"{SUBNET}.{11 + i}"

    def exec_prefix(self, i):
        return ["ip", "netns", "exec", self.ns(i)]

    def in_ns(self, i, *args, check=True):
        return sh(*self.exec_prefix(i), *args, check=check)

    def setup(self):
        self.teardown()
        sh("ip", "link", "add", BRIDGE, "type", "bridge")
        sh("ip", "addr", "add", f"{CLIENT_IP}/24", "dev", BRIDGE)
        sh("ip", "link", "set", BRIDGE, "up")
        for i in range(self.n):
            ns, veth = self.ns(i), f"{PREFIX}-v{i}"
            sh("ip", "netns", "add", ns)
            sh("ip", "link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", ns)
            sh("ip", "link", "set", veth, "master", BRIDGE)
            sh("ip", "link", "set", veth, "up")
            self.in_ns(i, "ip", "addr", "add", f"{self.ip(i)}/24", "dev", "eth0")
            self.in_ns(i, "ip", "link", "set", "eth0", "up")
            self.in_ns(i, "ip", "link", "set", "lo", "up")
        # Bridged traffic must not be filtered by the root namespace's rules
        # (some hosts load br_netfilter); faults live in the members' own.
        for f in ("/proc/sys/net/bridge/bridge-nf-call-iptables",):
            if os.path.exists(f):
                with open(f, "w") as fh:
                    fh.write("0")

    def teardown(self):
        self.heal()
        for i in range(8):
            sh("ip", "netns", "del", self.ns(i), check=False)
            sh("ip", "link", "del", f"{PREFIX}-v{i}", check=False)
        sh("ip", "link", "del", BRIDGE, check=False)

    # --- faults ------------------------------------------------------------

    def _drop_from(self, at, src_ip, extra=()):
        self.in_ns(at, "iptables", "-A", "INPUT", "-s", src_ip, *extra, "-j", "DROP")

    def partition(self, groups):
        """Members in different groups cannot exchange packets; clients
        still reach everyone."""
        where = {m: g for g, members in enumerate(groups) for m in members}
        for a in range(self.n):
            for b in range(self.n):
                if a != b and where.get(a) != where.get(b):
                    self._drop_from(a, self.ip(b))

    def one_way(self, src, dst):
        """Packets from `src` never arrive at `dst`; the other way works."""
        self._drop_from(dst, self.ip(src))

    def cut_clients(self, i):
        """No packet from or to the clients reaches member i (its link is
        down as far as they can tell: no reset, no answer)."""
        self._drop_from(i, CLIENT_IP)
        self.in_ns(i, "iptables", "-A", "OUTPUT", "-d", CLIENT_IP, "-j", "DROP")

    def loss(self, i, probability):
        """Member i loses this share of the packets other members send it."""
        self.in_ns(i, "iptables", "-A", "INPUT", "-s", CLIENT_IP, "-j", "ACCEPT")
        self.in_ns(i, "iptables", "-A", "INPUT", "-s", f"{SUBNET}.0/24",
                   "-m", "statistic", "--mode", "random", "--probability", str(probability),
                   "-j", "DROP")

    def delay(self, i, millis):
        """Everything member i sends to other members over the cluster port
        waits `millis` first, through a transparent relay in its namespace
        (this kernel has no netem)."""
        if i in self.proxies:
            return
        proc = subprocess.Popen(
            [*self.exec_prefix(i), sys.executable, os.path.join(HERE, "delay_proxy.py"),
             str(DELAY_PORT), str(millis)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.proxies[i] = proc
        time.sleep(0.3)
        # The relay's own upstream connections (marked) go out directly.
        self.in_ns(i, "iptables", "-t", "nat", "-A", "OUTPUT", "-p", "tcp", "-d", f"{SUBNET}.0/24",
                   "--dport", str(CLUSTER_PORT), "-m", "mark", "!", "--mark", str(DELAY_MARK),
                   "-j", "REDIRECT", "--to-ports", str(DELAY_PORT))

    def heal(self):
        for i in range(self.n):
            for table in ("filter", "nat"):
                self.in_ns(i, "iptables", "-t", table, "-F", check=False)
        for p in self.proxies.values():
            p.send_signal(signal.SIGKILL)
            p.wait()
        self.proxies.clear()
