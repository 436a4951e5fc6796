"""The fault suite: episodes of client load under one fault each, checked.

    python tests/faults/run.py [--rounds N] [--fault-seconds S] [--seed S]
                               [--nemesis NAME ...] [--json FILE]

Every episode starts from a healthy three-member cluster (members in their
own network namespaces), runs the workload mix for a moment, injects the
fault, heals it, lets the clients run on, stops them, waits until every
member has caught up and checks the history against every member's final
state. Exits non-zero on any anomaly. Needs root."""
import argparse
import json
import os
import random
import shutil
import sys
import tempfile
import time

from neo4j import GraphDatabase

import checker
import net as netmod
from members import Cluster
from workload import AUTH, Clients


class Nemesis:
    """A fault: `start` injects it, `stop` heals it (restarting whatever it
    killed)."""

    def __init__(self, name, start, stop=None):
        self.name, self._start, self._stop = name, start, stop

    def start(self, ctx):
        return self._start(ctx)

    def stop(self, ctx, state):
        if self._stop:
            self._stop(ctx, state)


class Ctx:
    def __init__(self, cluster, net, rng):
        self.cluster, self.net, self.rng = cluster, net, rng
        self.dump, self.dump_all, self.keep_logs = None, False, None

    def leader(self):
        return self.cluster.leader() or self.cluster.wait_healthy()

    def others(self, m):
        return [x for x in self.cluster.members if x is not m]


def restart_dead(ctx, _state=None):
    for m in ctx.cluster.members:
        m.resume()
        if not m.alive():
            m.start()


def heal_net(ctx, _state=None):
    ctx.net.heal()


def kill_leader(ctx):
    ctx.leader().kill9()


def kill_member(ctx):
    ctx.rng.choice(ctx.others(ctx.leader())).kill9()


def kill_after_restart(ctx):
    m = ctx.leader()
    m.kill9()
    time.sleep(0.5)
    m.start()
    time.sleep(ctx.rng.uniform(0.05, 0.6))
    m.kill9()


def kill_all(ctx):
    for m in ctx.cluster.members:
        m.kill9()


def pause_leader(ctx):
    ctx.leader().pause()


def isolate_leader(ctx):
    m = ctx.leader()
    ctx.net.partition([[m.i], [x.i for x in ctx.others(m)]])


def one_way_from_leader(ctx):
    m = ctx.leader()
    for x in ctx.others(m):
        ctx.net.one_way(m.i, x.i)


def one_way_to_leader(ctx):
    m = ctx.leader()
    for x in ctx.others(m):
        ctx.net.one_way(x.i, m.i)


def majority_split(ctx):
    ids = [m.i for m in ctx.cluster.members]
    ctx.rng.shuffle(ids)
    ctx.net.partition([ids[:1], ids[1:]])


def leader_link_down(ctx):
    m = ctx.leader()
    ctx.net.partition([[m.i], [x.i for x in ctx.others(m)]])
    ctx.net.cut_clients(m.i)


def latency(ctx):
    for m in ctx.cluster.members:
        ctx.net.delay(m.i, ctx.rng.choice([10, 25, 50]))


def loss(ctx):
    for m in ctx.cluster.members:
        ctx.net.loss(m.i, 0.2)


def clock_jumps(ctx):
    for m in ctx.cluster.members:
        m.jump_clock(ctx.rng.choice(["+300s", "-300s", "+3600s", "-90s"]))


def clocks_back(ctx, _state=None):
    for m in ctx.cluster.members:
        m.jump_clock("+0")


NEMESES = {
    "kill-leader": Nemesis("kill-leader", kill_leader, restart_dead),
    "kill-member": Nemesis("kill-member", kill_member, restart_dead),
    "kill-after-restart": Nemesis("kill-after-restart", kill_after_restart, restart_dead),
    "kill-all": Nemesis("kill-all", kill_all, restart_dead),
    "pause-leader": Nemesis("pause-leader", pause_leader, restart_dead),
    "isolate-leader": Nemesis("isolate-leader", isolate_leader, heal_net),
    "one-way-from-leader": Nemesis("one-way-from-leader", one_way_from_leader, heal_net),
    "one-way-to-leader": Nemesis("one-way-to-leader", one_way_to_leader, heal_net),
    "majority-split": Nemesis("majority-split", majority_split, heal_net),
    "leader-link-down": Nemesis("leader-link-down", leader_link_down, heal_net),
    "latency": Nemesis("latency", latency, heal_net),
    "loss": Nemesis("loss", loss, heal_net),
    "clock-jumps": Nemesis("clock-jumps", clock_jumps, clocks_back),
}


def final_state(cluster, tag, keys):
    finals, counters = {}, {}
    for m in cluster.members:
        with GraphDatabase.driver(m.bolt_uri, auth=AUTH) as d, \
                d.session(default_access_mode="READ") as s:
            rows = s.run("MATCH (n:LA) WHERE n.k IN $keys RETURN n.k AS k, n.vals AS vals",
                         keys=keys)
            finals[m.i] = {r["k"]: list(r["vals"]) for r in rows}
            counters[m.i] = s.run("MATCH (c:Ctr {id: $id}) RETURN c.v AS v",
                                  id=f"{tag}-ctr").single()["v"]
    return finals, counters


def episode(ctx, nemesis, n, fault_seconds, threads):
    cluster = ctx.cluster
    cluster.wait_healthy(timeout=90)
    tag = f"e{n}"
    clients = Clients(cluster, tag, ctx.rng.random(), threads_per_kind=threads)
    clients.setup()
    clients.start()
    time.sleep(1.5)
    t_fault = time.monotonic()
    wall_fault = time.time()
    state = nemesis.start(ctx)
    time.sleep(fault_seconds)
    nemesis.stop(ctx, state)
    t_heal = time.monotonic()
    if ctx.keep_logs:
        # Member logs are stamped in UTC; these place the episode in them.
        stamp = lambda t: time.strftime("%H:%M:%S", time.gmtime(t)) + f".{int(t % 1 * 1000):03d}"
        print(f"episode {n} ({nemesis.name}): fault {stamp(wall_fault)}, heal {stamp(time.time())}",
              file=sys.stderr, flush=True)
    time.sleep(4.0)
    t_end = time.monotonic()
    clients.stop()
    cluster.wait_healthy(timeout=120)
    finals, counters = final_state(cluster, tag, clients.keys)
    anomalies, summary = checker.check(clients.ops, finals, counters)
    summary.update(
        nemesis=nemesis.name,
        write_gap=round(checker.write_gap(clients.ops, t_fault, t_end), 3),
        recovery_gap=round(checker.write_gap(clients.ops, t_heal, t_end), 3),
        client_gaps=checker.client_gaps(clients.ops, t_fault, t_end),
        info_reasons=checker.reasons(clients.ops, "info"),
        fail_reasons=checker.reasons(clients.ops, "fail"),
        anomalies={k: v[:3] for k, v in anomalies.items()},
        anomaly_count=sum(len(v) for v in anomalies.values()),
    )
    if (anomalies or ctx.dump_all) and ctx.dump:
        with open(ctx.dump, "a") as f:
            f.write(json.dumps({"episode": n, "nemesis": nemesis.name, "anomalies": anomalies,
                                "finals": finals[cluster.members[0].i],
                                "t_fault": t_fault, "t_heal": t_heal,
                                "ops": [[o.process, o.via, o.f, o.type, round(o.t0 - t_fault, 3),
                                         round(o.t1 - t_fault, 3), o.error]
                                        for o in clients.ops]}) + "\n")
    return summary


def main(argv=None):
    p = argparse.ArgumentParser()
    p.add_argument("--rounds", type=int, default=1)
    p.add_argument("--fault-seconds", type=float, default=5.0)
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--snapshot-every", type=int, default=100)
    p.add_argument("--nemesis", action="append", default=None)
    p.add_argument("--json", default=None)
    p.add_argument("--dump", default=None, help="append failing episodes' histories here")
    p.add_argument("--dump-all", action="store_true", help="with --dump: every episode's")
    p.add_argument("--keep-logs", default=None, help="copy the members' logs into this directory")
    args = p.parse_args(argv)
    if not netmod.available():
        print("fault suite: needs root with ip netns and iptables", file=sys.stderr)
        return 2
    seed = args.seed if args.seed is not None else random.randrange(1 << 30)
    rng = random.Random(seed)
    names = args.nemesis or list(NEMESES)
    print(f"fault suite: seed {seed}, nemeses {names}, rounds {args.rounds}", flush=True)
    net = netmod.Net(3)
    results = []
    with tempfile.TemporaryDirectory(prefix="causeway-faults-") as base:
        net.setup()
        cluster = Cluster(net, base, ["--set", f"snapshot_every={args.snapshot_every}"])
        try:
            cluster.start()
            ctx = Ctx(cluster, net, rng)
            ctx.dump = args.dump
            ctx.dump_all = args.dump_all
            ctx.keep_logs = args.keep_logs
            n = 0
            for _ in range(args.rounds):
                for name in names:
                    n += 1
                    r = episode(ctx, NEMESES[name], n, args.fault_seconds, args.threads)
                    results.append(r)
                    print(json.dumps(r), flush=True)
        except BaseException:
            for m in cluster.members:
                print(f"--- member {m.i} log tail ---\n{m.log_tail()}", file=sys.stderr)
            raise
        finally:
            cluster.stop()
            net.teardown()
            if args.keep_logs:
                os.makedirs(args.keep_logs, exist_ok=True)
                for m in cluster.members:
                    src = m.data_dir / "server.log"
                    if src.exists():
                        shutil.copy(src, os.path.join(args.keep_logs, f"member-{m.i}.log"))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"seed": seed, "episodes": results}, f, indent=1)
    bad = [r for r in results if r["anomaly_count"]]
    total_ops = sum(r["ops"] for r in results)
    print(f"fault suite: {len(results)} episodes, {total_ops} operations, "
          f"{sum(r['anomaly_count'] for r in results)} anomalies (seed {seed})")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
