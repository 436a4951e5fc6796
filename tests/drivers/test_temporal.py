"""Temporal values through the official neo4j Python driver (5.28 and 6.x):
parameters of every temporal type, properties that keep their type, results
that hydrate into the driver's temporal classes, and chronological sorting.

Each test runs over Bolt 5 and over Bolt 4.4, where the driver asks for the
`utc` patch and the server must switch both directions to UTC date-times.
Named time zones (Europe/Berlin) come from the IANA database compiled into
the server: they travel as zone-id structures in both Bolt forms and follow
their zone's rules; an unknown zone is refused with a client error.
"""
import datetime as dt
import zoneinfo

import neo4j
import neo4j.time as nt
import pytest
import pytz
from neo4j import GraphDatabase
from neo4j.exceptions import ClientError
from neo4j._sync.io import Bolt

ONLY_4_4 = b"\x00\x00\x04\x04" + b"\x00" * 12
PLUS2 = dt.timezone(dt.timedelta(hours=2))
# The driver asks a time's tzinfo for utcoffset(time), which the standard
# library's fixed zones refuse; pytz's fixed offsets answer it.
PLUS2_FOR_TIMES = pytz.FixedOffset(120)
MINUS_0530 = dt.timezone(-dt.timedelta(hours=5, minutes=30))


@pytest.fixture(scope="module", params=["bolt5", "bolt4.4"])
def driver(request, server, auth):
    with pytest.MonkeyPatch.context() as mp:
        if request.param == "bolt4.4":
            # Offer only 4.4; the driver then sends patch_bolt: ["utc"].
            mp.setattr(Bolt, "get_handshake", classmethod(lambda cls: ONLY_4_4))
        d = GraphDatabase.driver(server.bolt_uri, auth=auth)
        d.verify_connectivity()
        with d.session() as s:
            agreed = s.run("RETURN 1").consume().server.protocol_version
        assert agreed[0] == (4 if request.param == "bolt4.4" else 5)
        yield d
        d.close()


def one(driver, query, **params):
    records, _, _ = driver.execute_query(query, params)
    assert len(records) == 1
    return records[0]


def native(v):
    return v.to_native() if hasattr(v, "to_native") else v


PARAMS = {
    "date": dt.date(2015, 7, 21),
    "date_min": dt.date(1, 1, 1),
    "date_max": dt.date(9999, 12, 31),
    "naive": dt.datetime(2015, 7, 21, 21, 40, 32, 142000),
    "aware": dt.datetime(2015, 7, 21, 21, 40, 32, 142000, tzinfo=PLUS2),
    "aware_neg": dt.datetime(1969, 12, 31, 23, 59, 59, 999999, tzinfo=MINUS_0530),
    "utc": dt.datetime(2024, 2, 29, 12, 0, tzinfo=dt.timezone.utc),
    "zoneinfo_utc": dt.datetime(2024, 2, 29, 12, 0, tzinfo=zoneinfo.ZoneInfo("UTC")),
    "pytz_fixed": pytz.FixedOffset(-300).localize(dt.datetime(2000, 1, 1, 0, 0, 1)),
    "time": dt.time(12, 30, 15, 500),
    "time_aware": dt.time(23, 59, 59, 999999, tzinfo=PLUS2_FOR_TIMES),
    "timedelta": dt.timedelta(days=1, seconds=5, microseconds=7),
    "timedelta_neg": dt.timedelta(seconds=-1, microseconds=250000),
}


@pytest.mark.parametrize("name", sorted(PARAMS))
def test_python_values_round_trip(driver, name):
    value = PARAMS[name]
    got = one(driver, "RETURN $v AS v", v=value)["v"]
    back = native(got)
    if isinstance(value, dt.timedelta):
        # Durations keep days and seconds apart; compare component-wise.
        assert isinstance(got, nt.Duration)
        assert got == nt.Duration(
            days=value.days, seconds=value.seconds, microseconds=value.microseconds
        )
        return
    assert type(back) is type(value)
    assert back == value
    if isinstance(value, (dt.datetime, dt.time)):
        assert back.utcoffset() == value.utcoffset()


NEO4J_VALUES = {
    "date": nt.Date(2020, 2, 29),
    "datetime_ns": nt.DateTime(2020, 1, 1, 0, 0, 0, 123456789, tzinfo=PLUS2),
    "localdatetime_ns": nt.DateTime(1900, 3, 1, 1, 2, 3, 999999999),
    "time_ns": nt.Time(1, 2, 3, 4, tzinfo=pytz.FixedOffset(-330)),
    "localtime_ns": nt.Time(23, 59, 59, 999999999),
    "duration": nt.Duration(years=1, months=2, days=3, hours=4, nanoseconds=5),
    "duration_neg": nt.Duration(months=-14, days=-3, seconds=-7, nanoseconds=-1),
}


@pytest.mark.parametrize("name", sorted(NEO4J_VALUES))
def test_neo4j_time_values_round_trip_exactly(driver, name):
    value = NEO4J_VALUES[name]
    got = one(driver, "RETURN $v AS v", v=value)["v"]
    assert type(got) is type(value)
    assert got == value
    if isinstance(value, (nt.DateTime, nt.Time)):
        assert got.utcoffset() == value.utcoffset()
        assert got.nanosecond == value.nanosecond


def test_cypher_temporal_functions_give_driver_types(driver):
    rec = one(
        driver,
        "RETURN date('2020-01-01') AS d, datetime('2015-07-21T21:40:32.142+01:00') AS dt, "
        "localdatetime('2015-07-21T21:40:32') AS ldt, time('21:40:32-02:00') AS t, "
        "localtime('12:00') AS lt, duration('P1Y2M3DT4.5S') AS dur, datetime() AS now, "
        "date() AS today",
    )
    assert isinstance(rec["d"], nt.Date) and rec["d"] == nt.Date(2020, 1, 1)
    assert isinstance(rec["dt"], nt.DateTime)
    assert rec["dt"].utcoffset() == dt.timedelta(hours=1)
    assert native(rec["dt"]) == dt.datetime(
        2015, 7, 21, 20, 40, 32, 142000, tzinfo=dt.timezone.utc
    )
    assert rec["ldt"].tzinfo is None
    assert native(rec["ldt"]) == dt.datetime(2015, 7, 21, 21, 40, 32)
    assert isinstance(rec["t"], nt.Time)
    assert rec["t"].utcoffset() == -dt.timedelta(hours=2)
    assert rec["lt"] == nt.Time(12, 0, 0)
    assert rec["lt"].tzinfo is None
    assert rec["dur"] == nt.Duration(months=14, days=3, seconds=4, nanoseconds=500000000)
    now = native(rec["now"])
    assert now.tzinfo is not None
    assert abs(now - dt.datetime.now(dt.timezone.utc)) < dt.timedelta(minutes=5)
    assert isinstance(rec["today"], nt.Date)


def test_temporal_parameters_in_expressions(driver):
    rec = one(
        driver,
        "RETURN $d + duration('P1D') AS next, $t.hour AS h, $t.offset AS off, "
        "duration.between($a, $b) AS gap, toString($t) AS s",
        d=dt.date(2020, 2, 28),
        t=dt.datetime(2020, 1, 1, 9, 30, tzinfo=PLUS2),
        a=dt.datetime(2020, 1, 1, 0, 0),
        b=dt.datetime(2020, 1, 2, 1, 0, 30),
    )
    assert rec["next"] == nt.Date(2020, 2, 29)
    assert rec["h"] == 9 and rec["off"] == "+02:00"
    assert rec["gap"] == nt.Duration(days=1, hours=1, seconds=30)
    assert rec["s"] == "2020-01-01T09:30+02:00"


def test_stored_temporals_read_back_equal(driver):
    props = {
        "d": dt.date(2015, 7, 21),
        "naive": dt.datetime(2015, 7, 21, 21, 40, 32, 1000),
        "aware": dt.datetime(2015, 7, 21, 21, 40, 32, 1000, tzinfo=MINUS_0530),
        "t": dt.time(8, 0, tzinfo=PLUS2_FOR_TIMES),
        "lt": dt.time(8, 0, 0, 1),
        "td": dt.timedelta(hours=36),
        "dur": nt.Duration(months=3, nanoseconds=9),
        "dates": [dt.date(2020, 1, 1), dt.date(2020, 1, 2)],
    }
    driver.execute_query("MATCH (n:TemporalProps) DETACH DELETE n")
    _, summary, _ = driver.execute_query(
        "CREATE (n:TemporalProps) SET n = $props, n.created = datetime()", props=props
    )
    assert summary.counters.properties_set == len(props) + 1
    node = one(driver, "MATCH (n:TemporalProps) RETURN n")["n"]
    for k, v in props.items():
        got = node[k]
        if isinstance(v, dt.timedelta):
            assert got == nt.Duration(days=v.days, seconds=v.seconds, microseconds=v.microseconds)
        elif isinstance(v, list):
            assert [native(x) for x in got] == v
        elif isinstance(v, nt.Duration):
            assert got == v
        else:
            assert native(got) == v, k
            if isinstance(v, (dt.datetime, dt.time)):
                assert got.utcoffset() == v.utcoffset(), k
    assert isinstance(node["created"], nt.DateTime)
    # Stored values compare as temporals, not as strings.
    rec = one(
        driver,
        "MATCH (n:TemporalProps) RETURN n.d = date('2015-07-21') AS same, "
        "n.aware > datetime('2015-07-22T00:00Z') AS later, n.d.year AS y",
    )
    assert rec["same"] is True and rec["later"] is True and rec["y"] == 2015


def test_sorting_by_stored_datetime(driver):
    stamps = [
        dt.datetime(2021, 6, 1, 12, 0, tzinfo=PLUS2),  # 10:00Z
        dt.datetime(2021, 6, 1, 9, 0, tzinfo=dt.timezone.utc),  # 09:00Z
        dt.datetime(2021, 6, 1, 5, 0, tzinfo=MINUS_0530),  # 10:30Z
        dt.datetime(2020, 12, 31, 23, 0, tzinfo=dt.timezone.utc),
        dt.datetime(2021, 6, 1, 11, 59, 59, 999999, tzinfo=PLUS2),  # 09:59:59.999999Z
    ]
    driver.execute_query("MATCH (n:Stamp) DETACH DELETE n")
    driver.execute_query(
        "UNWIND range(0, size($ts) - 1) AS i CREATE (:Stamp {i: i, t: $ts[i]})", ts=stamps
    )
    want = sorted(range(len(stamps)), key=lambda i: stamps[i])
    records, _, _ = driver.execute_query("MATCH (n:Stamp) RETURN n.i AS i ORDER BY n.t")
    assert [r["i"] for r in records] == want
    records, _, _ = driver.execute_query("MATCH (n:Stamp) RETURN n.i AS i ORDER BY n.t DESC")
    assert [r["i"] for r in records] == want[::-1]
    cutoff = dt.datetime(2021, 6, 1, 10, 0, tzinfo=dt.timezone.utc)
    q = "MATCH (n:Stamp) WHERE n.t >= $c RETURN n.i AS i ORDER BY n.t"
    expected = [i for i in want if stamps[i] >= cutoff]
    records, _, _ = driver.execute_query(q, c=cutoff)
    assert [r["i"] for r in records] == expected
    # The same answers through an index.
    driver.execute_query("CREATE INDEX stamp_t IF NOT EXISTS FOR (n:Stamp) ON (n.t)")
    records, _, _ = driver.execute_query(q, c=cutoff)
    assert [r["i"] for r in records] == expected
    rec = one(driver, "MATCH (n:Stamp) RETURN min(n.t) AS lo, max(n.t) AS hi")
    assert native(rec["lo"]) == min(stamps) and native(rec["hi"]) == max(stamps)


def test_named_zones_round_trip_and_follow_their_rules(driver):
    berlin = pytz.timezone("Europe/Berlin").localize(dt.datetime(2024, 7, 1, 12, 0))
    tokyo = pytz.timezone("Asia/Tokyo").localize(dt.datetime(2024, 1, 1, 9, 30))
    for v in (berlin, tokyo):
        rec = one(driver, "RETURN $v AS v, $v.timezone AS z", v=v)
        got = native(rec["v"])
        assert got == v and got.utcoffset() == v.utcoffset()
        assert rec["z"] == v.tzinfo.zone
    rec = one(driver, "RETURN toString($v) AS s", v=berlin)
    assert rec["s"] == "2024-07-01T12:00+02:00[Europe/Berlin]"
    driver.execute_query("MATCH (n:Zoned) DELETE n")
    driver.execute_query("CREATE (:Zoned {t: $v})", v=berlin)
    rec = one(driver, "MATCH (n:Zoned) RETURN n.t AS t, n.t.offset AS o, "
                      "n.t + duration({months: 6}) AS winter")
    assert native(rec["t"]) == berlin and rec["o"] == "+02:00"
    winter = native(rec["winter"])
    assert (winter.month, winter.hour, winter.utcoffset()) == (1, 12, dt.timedelta(hours=1))
    # Made on the server: a wall clock in the spring-forward gap moves on.
    rec = one(driver, "RETURN datetime({year: 2024, month: 3, day: 31, hour: 2, minute: 30, "
                      "timezone: 'Europe/Berlin'}) AS gap")
    gap = native(rec["gap"])
    assert (gap.hour, gap.minute, gap.utcoffset()) == (3, 30, dt.timedelta(hours=2))
    assert "Europe/Berlin" in str(gap.tzinfo)
    with pytest.raises(ClientError) as e:
        driver.execute_query("RETURN datetime({year: 2024, timezone: 'Mars/Olympus'}) AS d")
    assert e.value.code == "Neo.ClientError.Statement.ArgumentError"
    # The connection pool is still healthy afterwards.
    assert one(driver, "RETURN 1 AS x")["x"] == 1


def test_mixed_temporal_lists_are_not_storable(driver):
    with pytest.raises(ClientError):
        driver.execute_query(
            "CREATE (:BadList {l: $l})", l=[dt.date(2020, 1, 1), dt.time(1, 0)]
        )


def test_driver_version_is_known():
    assert neo4j.__version__.split(".")[0] in ("5", "6")


def test_py2neo_legacy_datetimes(server, auth):
    """py2neo speaks Bolt 4.3 without the utc patch: date-times travel as
    legacy 'F' structures (wall-clock seconds) in both directions."""
    py2neo = pytest.importorskip("py2neo")
    graph = py2neo.Graph(server.bolt_uri, auth=auth)

    def native(v):
        # py2neo's to_native() drops the zone; put it back to compare.
        n = v.to_native()
        tz = getattr(v, "tzinfo", None)
        return n.replace(tzinfo=tz) if tz is not None and n.tzinfo is None else n

    # py2neo, like the official driver for times, needs pytz-style offsets.
    aware = pytz.FixedOffset(120).localize(dt.datetime(2015, 7, 21, 21, 40, 32, 142000))
    got = graph.run("RETURN $v AS v", v=aware).evaluate()
    assert native(got) == aware and got.utcoffset() == aware.utcoffset()
    got = graph.run("RETURN datetime('1970-01-01T02:15+01:00') AS v").evaluate()
    assert native(got) == dt.datetime(1970, 1, 1, 1, 15, tzinfo=dt.timezone.utc)
    assert got.utcoffset() == dt.timedelta(hours=1)
    for v in (dt.date(2020, 2, 29), dt.datetime(2020, 1, 1, 12, 0)):
        assert native(graph.run("RETURN $v AS v", v=v).evaluate()) == v


def test_stored_temporals_survive_restarts(fresh_server, auth):
    """Temporal properties go through the write-ahead log and snapshots in
    the graph codec's format 2; a kill -9 and a clean restart keep them."""
    values = {
        "d": dt.date(2001, 9, 9),
        "dt": dt.datetime(2001, 9, 9, 1, 46, 40, 5, tzinfo=MINUS_0530),
        "ldt": dt.datetime(1999, 12, 31, 23, 59, 59),
        "t": nt.Time(10, 0, 0, 1, tzinfo=pytz.FixedOffset(60)),
        "lt": dt.time(0, 0, 1),
        "dur": nt.Duration(months=1, days=2, seconds=3, nanoseconds=4),
        "ds": [dt.date(2000, 1, 1), dt.date(2000, 1, 2)],
    }

    def read():
        d = GraphDatabase.driver(fresh_server.bolt_uri, auth=auth)
        try:
            return one(d, "MATCH (n:Kept) RETURN n")["n"]
        finally:
            d.close()

    def check(node):
        assert native(node["d"]) == values["d"]
        assert native(node["dt"]) == values["dt"]
        assert node["dt"].utcoffset() == values["dt"].utcoffset()
        assert native(node["ldt"]) == values["ldt"]
        assert node["t"] == values["t"] and node["t"].utcoffset() == dt.timedelta(hours=1)
        assert native(node["lt"]) == values["lt"]
        assert node["dur"] == values["dur"]
        assert [native(x) for x in node["ds"]] == values["ds"]

    fresh_server.start()
    d = GraphDatabase.driver(fresh_server.bolt_uri, auth=auth)
    d.execute_query("CREATE (n:Kept) SET n = $p", p=values)
    d.close()
    fresh_server.kill9()
    fresh_server.start()
    check(read())
    assert fresh_server.stop() == 0
    fresh_server.start()
    check(read())
