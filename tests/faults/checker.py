"""Checks a recorded history against the final state read from every member.

List appends (a small Elle): every key's final list is its version order.
* no acknowledged append is missing, no element appears twice, nothing
  reported failed is present;
* every acknowledged read of a key is a prefix of its final list;
* the transactions' dependency graph (write-write along each list,
  write-read from an append to the reads that saw it, read-write from a
  read to the next append it missed) has no cycle: the history is
  serializable.
Counters: acknowledged increments returned distinct values (no lost update)
and the final value lies between the acknowledged count and that plus the
unknown ones. Read-your-writes: a read presenting the write's bookmark saw
it. Members: identical final state."""
from collections import defaultdict


def check(ops, finals, counter_finals):
    """`finals`: per member, {key: list}; `counter_finals`: per member, the
    counter's value. Returns a dict of anomaly lists (all empty when the
    history is valid) and a summary."""
    anomalies = defaultdict(list)
    members = list(finals)
    final = finals[members[0]]
    for m in members[1:]:
        if finals[m] != final:
            anomalies["members-differ"].append(f"member {m} lists differ from member {members[0]}")
        if counter_finals[m] != counter_finals[members[0]]:
            anomalies["members-differ"].append(f"member {m} counter differs")

    appends = [o for o in ops if o.f == "txn"]
    writer = {}  # element -> op
    for o in appends:
        for f, key, v in o.value:
            if f == "append":
                writer[v] = (o, key)
    position = {}
    for key, lst in final.items():
        seen = set()
        for i, v in enumerate(lst):
            if v in seen:
                anomalies["duplicate"].append(f"{key}: {v} appears twice")
            seen.add(v)
            position[v] = (key, i)
            if v not in writer:
                anomalies["phantom"].append(f"{key}: {v} was never appended")
    for v, (o, key) in writer.items():
        present = v in position
        if o.type == "ok" and not present:
            anomalies["lost"].append(f"{key}: acknowledged append {v} missing ({o})")
        if o.type == "fail" and present:
            anomalies["failed-but-applied"].append(f"{key}: {v} reported failed yet applied ({o})")
        if present and position[v][0] != key:
            anomalies["misplaced"].append(f"{v} landed in {position[v][0]}, not {key}")

    # Reads are prefixes; build the dependency graph over transactions whose
    # effects are known (acknowledged, or unknown but visible in the final
    # state).
    committed = [o for o in appends
                 if o.type == "ok" or (o.type == "info" and any(
                     f == "append" and v in position for f, _, v in o.value))]
    index = {id(o): n for n, o in enumerate(committed)}
    edges = defaultdict(set)
    for key, lst in final.items():
        for a, b in zip(lst, lst[1:]):
            oa, ob = writer[a][0], writer[b][0]
            if oa is not ob and id(oa) in index and id(ob) in index:
                edges[index[id(oa)]].add(index[id(ob)])
    for o in committed:
        if o.type != "ok":
            continue
        me = index[id(o)]
        own = {v for f, _, v in o.value if f == "append"}
        # An acknowledged transaction's result holds what its reads saw.
        for f, key, got in o.result:
            if f != "r":
                continue
            lst = final.get(key, [])
            if got != lst[: len(got)]:
                anomalies["read-not-prefix"].append(f"{key}: read {got} is not a prefix of {lst}")
                continue
            # Its own earlier appends may be at the end of what it read.
            theirs = [v for v in got if v not in own]
            if theirs:
                w = writer[theirs[-1]][0]
                if id(w) in index and w is not o:
                    edges[index[id(w)]].add(me)
            if len(got) < len(lst):
                nxt = writer[lst[len(got)]][0]
                if nxt is not o and id(nxt) in index:
                    edges[me].add(index[id(nxt)])
    for cycle in cycles(len(committed), edges):
        anomalies["cycle"].append(" -> ".join(repr(committed[n]) for n in cycle[:6]))

    incs = [o for o in ops if o.f == "incr"]
    ok_values = [o.result for o in incs if o.type == "ok"]
    if len(ok_values) != len(set(ok_values)):
        anomalies["lost-update"].append("two acknowledged increments returned the same value")
    unknown = sum(1 for o in incs if o.type == "info")
    value = counter_finals[members[0]]
    if not len(ok_values) <= value <= len(ok_values) + unknown:
        anomalies["counter"].append(
            f"final {value}, acknowledged {len(ok_values)}, unknown {unknown}")
    if ok_values and max(ok_values) > value:
        anomalies["counter"].append(f"an increment returned {max(ok_values)} > final {value}")

    for o in ops:
        if o.f == "ryw" and o.type == "ok" and o.result != 1:
            anomalies["stale-read"].append(f"read with the write's bookmark saw {o.result}: {o}")

    summary = {
        "ops": len(ops),
        "ok": sum(o.type == "ok" for o in ops),
        "fail": sum(o.type == "fail" for o in ops),
        "info": sum(o.type == "info" for o in ops),
        "elements": sum(len(v) for v in final.values()),
    }
    return dict(anomalies), summary


def cycles(n, edges):
    """Strongly connected components with more than one node (Tarjan,
    iterative), each as a list of nodes."""
    index, low, on, stack, out = {}, {}, set(), [], []
    counter = [0]
    for root in range(n):
        if root in index:
            continue
        work = [(root, iter(sorted(edges.get(root, ()))))]
        index[root] = low[root] = counter[0]
        counter[0] += 1
        stack.append(root)
        on.add(root)
        while work:
            node, it = work[-1]
            advanced = False
            for nxt in it:
                if nxt not in index:
                    index[nxt] = low[nxt] = counter[0]
                    counter[0] += 1
                    stack.append(nxt)
                    on.add(nxt)
                    work.append((nxt, iter(sorted(edges.get(nxt, ())))))
                    advanced = True
                    break
                if nxt in on:
                    low[node] = min(low[node], index[nxt])
            if advanced:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                comp = []
                while True:
                    x = stack.pop()
                    on.discard(x)
                    comp.append(x)
                    if x == node:
                        break
                if len(comp) > 1:
                    out.append(comp)
    return out


def write_gap(ops, start, end, process=None):
    """Longest stretch in [start, end] in which no write was acknowledged
    (to `process`, if given)."""
    ts = sorted(o.t1 for o in ops if o.type == "ok" and o.f in ("txn", "incr")
                and start <= o.t1 <= end and (process is None or o.process == process))
    points = [start, *ts, end]
    return max(b - a for a, b in zip(points, points[1:]))


def client_gaps(ops, start, end):
    """Per route (neo4j://, or bolt:// to member i), the longest write gap
    any single client on that route saw."""
    out = {}
    for p in {o.process for o in ops if o.f in ("txn", "incr")}:
        via = next(o.via for o in ops if o.process == p)
        out[via] = round(max(out.get(via, 0.0), write_gap(ops, start, end, p)), 3)
    return dict(sorted(out.items()))


def reasons(ops, kind):
    """The most common errors behind outcomes of one kind."""
    from collections import Counter
    c = Counter((o.error or "")[:90] for o in ops if o.type == kind)
    return c.most_common(3)
