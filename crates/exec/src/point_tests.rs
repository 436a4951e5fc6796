//! Point indexes: the same spatial queries over an indexed label and an
//! unindexed copy of the same data must answer alike, whatever the
//! coordinate system, box, distance or later writes.

use super::*;
use crate::tests::{ctx, err, run};
use causeway_graph::{Graph, TxGraph};
use causeway_value::spatial::{crs_by_srid, Point};
use causeway_value::Code;

fn params(pairs: Vec<(&str, Value)>) -> Map {
    pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
}

fn ids(tx: &mut TxGraph, q: &str, p: &Map) -> Vec<i64> {
    let r = execute(tx, q, p, &ctx()).unwrap_or_else(|e| panic!("{q}: {e}"));
    let mut out: Vec<i64> = r
        .rows
        .map(|row| match row.unwrap().first() {
            Some(Value::Int(i)) => *i,
            other => panic!("{q}: {other:?}"),
        })
        .collect();
    out.sort_unstable();
    out
}

fn plan_of(tx: &mut TxGraph, q: &str, p: &Map) -> String {
    let r = execute(tx, &format!("EXPLAIN {q}"), p, &ctx()).unwrap();
    format!("{:?}", r.plan)
}

struct Rng(u64);

impl Rng {
    fn unit(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
    fn point(&mut self, srid: u32) -> Point {
        let crs = crs_by_srid(i64::from(srid)).unwrap();
        let mut c = if crs.geographic {
            vec![self.unit() * 360.0 - 180.0, self.unit() * 180.0 - 90.0]
        } else {
            vec![self.unit() * 2000.0 - 1000.0, self.unit() * 2000.0 - 1000.0]
        };
        if crs.dimensions == 3 {
            c.push(self.unit() * 2000.0 - 1000.0);
        }
        // Some points on a coarse grid, so that box edges hit them exactly.
        if self.unit() < 0.2 {
            c.iter_mut().for_each(|x| *x = (*x / 10.0).round() * 10.0);
        }
        Point::new(crs, &c).unwrap()
    }
}

const SYSTEMS: [u32; 4] = [7203, 9157, 4326, 4979];

/// Both labels hold the same points; only `:P` has a point index.
fn load(tx: &mut TxGraph, rng: &mut Rng, n: usize) {
    let mut points = Vec::new();
    for i in 0..n {
        let srid = SYSTEMS[i % 4];
        points.push(Value::Point(rng.point(srid)));
    }
    let mut same = points.clone();
    // Values a point index skips (the predicate would fail on them, so
    // the scanned copy has none).
    points.extend([Value::Int(5), Value::from("point")]);
    same.extend([Value::Null, Value::Null]);
    run_with(
        tx,
        "UNWIND range(0, size($ps) - 1) AS i \
         CREATE (:P {id: i, loc: $ps[i]}), (:Q {id: i, loc: $qs[i]})",
        params(vec![("ps", Value::List(points)), ("qs", Value::List(same))]),
    );
}

fn run_with(tx: &mut TxGraph, q: &str, p: Map) {
    let r = execute(tx, q, &p, &ctx()).unwrap_or_else(|e| panic!("{q}: {e}"));
    r.rows.for_each(|row| {
        row.unwrap();
    });
}

/// Every query form answers the same over `:P` (point index) and `:Q`
/// (label scan).
fn compare(tx: &mut TxGraph, rng: &mut Rng, rounds: usize) -> usize {
    let forms = [
        "WHERE point.withinBBox(n.loc, $lo, $hi)",
        "WHERE point.distance(n.loc, $c) < $r",
        "WHERE point.distance($c, n.loc) <= $r",
        "WHERE $r >= point.distance(n.loc, $c)",
        "WHERE point.distance(n.loc, $c) < $r AND n.id % 2 = 0",
        // A spatial predicate over the node's own properties cannot drive
        // the seek; the one after it does.
        "WHERE point.distance(n.loc, n.loc) < 1 AND point.withinBBox(n.loc, $lo, $hi)",
    ];
    let mut found = 0;
    for round in 0..rounds {
        let srid = SYSTEMS[round % 4];
        let (a, b) = (rng.point(srid), rng.point(srid));
        let geographic = crs_by_srid(i64::from(srid)).unwrap().geographic;
        // Geographic boxes may cross the antimeridian (lower x > upper x).
        let (lo, hi) = if geographic {
            let (mut lo, mut hi) = (a, b);
            if lo.y > hi.y {
                std::mem::swap(&mut lo.y, &mut hi.y);
            }
            if let (Some(z1), Some(z2)) = (lo.z, hi.z) {
                lo.z = Some(z1.min(z2));
                hi.z = Some(z1.max(z2));
            }
            (lo, hi)
        } else {
            let mut lo = a;
            let mut hi = b;
            for (l, h) in [(&mut lo.x, &mut hi.x), (&mut lo.y, &mut hi.y)] {
                if *l > *h {
                    std::mem::swap(l, h);
                }
            }
            if let (Some(z1), Some(z2)) = (lo.z, hi.z) {
                lo.z = Some(z1.min(z2));
                hi.z = Some(z1.max(z2));
            }
            (lo, hi)
        };
        let r = if geographic {
            rng.unit() * 3_000_000.0
        } else {
            rng.unit() * 600.0
        };
        let p = params(vec![
            ("lo", Value::Point(lo)),
            ("hi", Value::Point(hi)),
            ("c", Value::Point(rng.point(srid))),
            ("r", Value::Float(r)),
        ]);
        for form in forms {
            let indexed = ids(tx, &format!("MATCH (n:P) {form} RETURN n.id"), &p);
            let scanned = ids(tx, &format!("MATCH (n:Q) {form} RETURN n.id"), &p);
            assert_eq!(indexed, scanned, "{form} {p:?}");
            found += indexed.len();
        }
    }
    found
}

#[test]
fn point_index_answers_as_a_label_scan_does() {
    let mut tx = TxGraph::new(Graph::new());
    run(&mut tx, "CREATE POINT INDEX loc FOR (n:P) ON (n.loc)");
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    load(&mut tx, &mut rng, 2000);
    let q = "MATCH (n:P) WHERE point.withinBBox(n.loc, $lo, $hi) RETURN n.id";
    assert!(plan_of(&mut tx, q, &Map::new()).contains("POINT INDEX n:P(loc)"));
    let q = "MATCH (n:P) WHERE point.distance(n.loc, $c) < 10 RETURN n.id";
    assert!(plan_of(&mut tx, q, &Map::new()).contains("POINT INDEX n:P(loc)"));
    assert!(compare(&mut tx, &mut rng, 60) > 0);

    // Writes keep the index in step: moved, replaced, unset, relabelled
    // and deleted points.
    run(
        &mut tx,
        "MATCH (n) WHERE n.id % 7 = 0 SET n.loc = point({x: n.id, y: 1.5})",
    );
    run(
        &mut tx,
        "MATCH (n:P) WHERE n.id % 11 = 0 SET n.loc = 'no longer a point'",
    );
    run(&mut tx, "MATCH (n:Q) WHERE n.id % 11 = 0 REMOVE n.loc");
    run(&mut tx, "MATCH (n) WHERE n.id % 13 = 0 REMOVE n.loc");
    run(&mut tx, "MATCH (n) WHERE n.id % 17 = 0 DETACH DELETE n");
    run(
        &mut tx,
        "MATCH (n:P) WHERE n.id % 19 = 0 REMOVE n:P SET n:Gone",
    );
    run(
        &mut tx,
        "MATCH (n:Q) WHERE n.id % 19 = 0 REMOVE n:Q SET n:Gone",
    );
    assert!(compare(&mut tx, &mut rng, 40) > 0);
    let p = params(vec![
        (
            "lo",
            Value::Point(Point::new(crs_by_srid(7203).unwrap(), &[0.0, 1.5]).unwrap()),
        ),
        (
            "hi",
            Value::Point(Point::new(crs_by_srid(7203).unwrap(), &[700.0, 1.5]).unwrap()),
        ),
    ]);
    let moved = ids(
        &mut tx,
        "MATCH (n:P) WHERE point.withinBBox(n.loc, $lo, $hi) RETURN n.id",
        &p,
    );
    assert!(
        moved.len() > 10 && moved.iter().all(|i| i % 7 == 0),
        "{moved:?}"
    );

    // Null, mixed systems and bad arguments answer as without the index.
    let wgs = Value::Point(Point::new(crs_by_srid(4326).unwrap(), &[0.0, 0.0]).unwrap());
    let cart = Value::Point(Point::new(crs_by_srid(7203).unwrap(), &[1.0, 1.0]).unwrap());
    for (lo, hi) in [(Value::Null, cart.clone()), (wgs.clone(), cart.clone())] {
        let p = params(vec![("lo", lo), ("hi", hi)]);
        let q = "MATCH (n:P) WHERE point.withinBBox(n.loc, $lo, $hi) RETURN n.id";
        assert!(ids(&mut tx, q, &p).is_empty());
    }
    for r in [Value::Float(-1.0), Value::Float(f64::NAN), Value::Null] {
        let p = params(vec![("c", wgs.clone()), ("r", r)]);
        let q = "MATCH (n:P) WHERE point.distance(n.loc, $c) <= $r RETURN n.id";
        assert!(ids(&mut tx, q, &p).is_empty());
    }
    let e = execute(
        &mut tx,
        "MATCH (n:P) WHERE point.withinBBox(n.loc, 1, 2) RETURN n.id",
        &Map::new(),
        &ctx(),
    )
    .and_then(|r| r.rows.collect::<Result<Vec<_>>>())
    .unwrap_err();
    assert_eq!(e.code, Code::TypeError, "{e}");
}

#[test]
fn point_index_schema_commands() {
    let mut tx = TxGraph::new(Graph::new());
    run(&mut tx, "CREATE INDEX FOR (n:P) ON (n.loc)");
    // A point index and a range index may share a property.
    run(
        &mut tx,
        "CREATE POINT INDEX pts IF NOT EXISTS FOR (n:P) ON (n.loc) OPTIONS {indexProvider: \
         'point-1.0', indexConfig: {`spatial.cartesian.min`: [-100, -100], \
         `spatial.cartesian.max`: [100.0, 100.0]}}",
    );
    run(&mut tx, "CREATE POINT INDEX FOR ()-[r:R]-() ON (r.at)");
    let rows = run(
        &mut tx,
        "SHOW INDEXES YIELD name, type, entityType, indexProvider, options \
         WHERE type = 'POINT' RETURN name, entityType, indexProvider, \
         options.indexConfig.`spatial.cartesian.min` AS min ORDER BY name",
    );
    assert_eq!(rows.len(), 2, "{rows:?}");
    let pts = rows.iter().find(|r| r[0] == Value::from("pts")).unwrap();
    assert_eq!(pts[1], Value::from("NODE"));
    assert_eq!(pts[2], Value::from("point-1.0"));
    assert_eq!(
        pts[3],
        Value::List(vec![Value::Float(-100.0), Value::Float(-100.0)])
    );
    // The same index again, by another name, or under IF NOT EXISTS.
    let e = err(&mut tx, "CREATE POINT INDEX other FOR (n:P) ON (n.loc)");
    assert_eq!(e.code, Code::EquivalentSchemaRuleAlreadyExists, "{e}");
    run(
        &mut tx,
        "CREATE POINT INDEX pts IF NOT EXISTS FOR (n:P) ON (n.loc)",
    );
    for (q, code) in [
        (
            "CREATE POINT INDEX FOR (n:P) ON (n.a, n.b)",
            Code::SyntaxError,
        ),
        (
            "CREATE POINT INDEX FOR (n:A) ON (n.a) OPTIONS {indexProvider: 'range-1.0'}",
            Code::ArgumentError,
        ),
        (
            "CREATE POINT INDEX FOR (n:A) ON (n.a) OPTIONS {indexConfig: {`spatial.mars.min`: [0, 0]}}",
            Code::ArgumentError,
        ),
        (
            "CREATE POINT INDEX FOR (n:A) ON (n.a) OPTIONS {indexConfig: {`spatial.wgs-84.min`: [0]}}",
            Code::ArgumentError,
        ),
        (
            "CREATE POINT INDEX FOR (n:A) ON (n.a) OPTIONS {indexConfig: {`spatial.wgs-84.min`: [200, 0]}}",
            Code::ArgumentError,
        ),
        (
            "CREATE POINT INDEX FOR (n:A) ON (n.a) OPTIONS {indexConfig: {`spatial.wgs-84.min`: 'x'}}",
            Code::ArgumentError,
        ),
    ] {
        let e = err(&mut tx.clone(), q);
        assert_eq!(e.code, code, "{q}: {e}");
    }
    // Equality on the property still uses the range index.
    let plan = plan_of(
        &mut tx,
        "MATCH (n:P) WHERE n.loc = $p RETURN n",
        &Map::new(),
    );
    assert!(plan.contains("RANGE INDEX"), "{plan}");
    run(&mut tx, "DROP INDEX pts");
    let plan = plan_of(
        &mut tx,
        "MATCH (n:P) WHERE point.distance(n.loc, $c) < 1 RETURN n",
        &Map::new(),
    );
    assert!(!plan.contains("POINT INDEX"), "{plan}");
}
