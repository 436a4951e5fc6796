//! Quantified path patterns, path selectors and path modes.

use super::*;
use causeway_graph::{Graph, TxGraph};
use std::collections::BTreeMap;

use crate::tests::{ctx, run};

fn sorted(tx: &mut TxGraph, q: &str) -> Vec<String> {
    let mut v: Vec<String> = run(tx, q).iter().map(|r| format!("{r:?}")).collect();
    v.sort();
    v
}

fn error(tx: &mut TxGraph, q: &str) -> String {
    match execute(tx, q, &Map::new(), &ctx()) {
        Err(e) => e.to_string(),
        Ok(r) => match r.rows.into_iter().find_map(|r| r.err()) {
            Some(e) => e.to_string(),
            None => panic!("{q}: expected an error"),
        },
    }
}

/// a→b→c→d, a→c, d→a, with weights `d` 1, 2, 3, 10, 4.
fn small() -> TxGraph {
    let mut tx = TxGraph::new(Graph::new());
    run(
        &mut tx,
        "CREATE (a:S {name:'a'})-[:L {d:1}]->(b:S {name:'b'})-[:L {d:2}]->(c:S {name:'c'})
                -[:L {d:3}]->(d:S {name:'d'}), (a)-[:L {d:10}]->(c), (d)-[:L {d:4}]->(a)",
    );
    tx
}

/// A deterministic pseudo-random graph: `n` nodes, `m` relationships of
/// types R and T, some parallel, some loops.
fn random(n: u64, m: u64, seed: u64) -> TxGraph {
    let mut tx = TxGraph::new(Graph::new());
    // Indexed, so that `(b:N {i: 2})` at the far end of a selective pattern
    // lets the breadth-first search stop once it is reached.
    run(&mut tx, "CREATE INDEX FOR (n:N) ON (n.i)");
    run(
        &mut tx,
        &format!("UNWIND range(0, {}) AS i CREATE (:N {{i: i}})", n - 1),
    );
    let mut x = seed;
    let mut next = || {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        x >> 33
    };
    let mut edges = Vec::new();
    for _ in 0..m {
        let (a, b, t) = (
            next() % n,
            next() % n,
            if next() % 3 == 0 { "T" } else { "R" },
        );
        edges.push(format!("[{a}, {b}, '{t}']"));
    }
    run(
        &mut tx,
        &format!(
            "UNWIND [{}] AS e MATCH (a:N {{i: e[0]}}), (b:N {{i: e[1]}})
             FOREACH (_ IN CASE WHEN e[2] = 'R' THEN [1] ELSE [] END | CREATE (a)-[:R]->(b))
             FOREACH (_ IN CASE WHEN e[2] = 'T' THEN [1] ELSE [] END | CREATE (a)-[:T]->(b))",
            edges.join(", ")
        ),
    );
    tx
}

#[test]
fn quantified_relationship_matches_what_variable_length_matches() {
    let mut tx = random(30, 70, 7);
    for (old, new) in [
        ("-[r:R*1..3]->", "-[r:R]->{1,3}"),
        ("-[r*2]-", "-[r]-{2}"),
        ("<-[r:R|T*..2]-", "<-[r:R|T]-{1,2}"),
        ("-[r:R*0..2]->", "-[r:R]->{0,2}"),
        // Named inner nodes take the general iteration, not the
        // variable length expansion.
        ("-[r:R*1..3]->", " ((x)-[r:R]->(y)){1,3} "),
        ("-[r*0..3]-", " ((x)-[r]-(y)){0,3} "),
        ("<-[r:T*2..3]-", " ((x)<-[r:T]-(y)){2,3} "),
    ] {
        let q = |p: &str| format!("MATCH (a:N {{i: 3}}){p}(b) RETURN b.i, [x IN r | id(x)]");
        assert_eq!(sorted(&mut tx, &q(old)), sorted(&mut tx, &q(new)), "{new}");
    }
    // Unbounded: every trail, as with `*`.
    let q = |p: &str| {
        format!("MATCH p = (a:N {{i: 3}}){p}(b:N {{i: 5}}) RETURN [x IN relationships(p) | id(x)]")
    };
    let small = &mut small();
    assert_eq!(
        sorted(
            small,
            "MATCH p = (a {name:'a'})-[*]->(b {name:'d'}) RETURN length(p)"
        ),
        sorted(
            small,
            "MATCH p = (a {name:'a'})-->+(b {name:'d'}) RETURN length(p)"
        )
    );
    assert_eq!(
        sorted(&mut tx, &q("-[:R*]->")),
        sorted(&mut tx, &q("-[:R]->+"))
    );
}

#[test]
fn quantified_path_patterns_bind_group_variables() {
    let mut tx = small();
    let rows = sorted(
        &mut tx,
        "MATCH (x:S {name:'a'}) ((p)-[r:L]->(q) WHERE r.d < 5){2,} (y)
         RETURN y.name, [n IN p | n.name], [n IN q | n.name]",
    );
    assert_eq!(
        rows,
        [
            r#"[String("a"), List([String("a"), String("b"), String("c"), String("d")]), List([String("b"), String("c"), String("d"), String("a")])]"#,
            r#"[String("c"), List([String("a"), String("b")]), List([String("b"), String("c")])]"#,
            r#"[String("d"), List([String("a"), String("b"), String("c")]), List([String("b"), String("c"), String("d")])]"#,
        ]
    );
    // Zero iterations join the nodes either side into one.
    let rows = sorted(
        &mut tx,
        "MATCH (x) ((a)-[r]->(b)){0,1} (y:S {name:'c'}) RETURN x.name, size(r), size(a)",
    );
    assert_eq!(
        rows,
        [
            r#"[String("a"), Int(1), Int(1)]"#,
            r#"[String("b"), Int(1), Int(1)]"#,
            r#"[String("c"), Int(0), Int(0)]"#
        ]
    );
    // Multi-hop iterations, juxtaposed parts, and a QPP at the end.
    assert_eq!(
        sorted(
            &mut tx,
            "MATCH (x {name:'a'}) ((u)-->(v)-->(w)){1} ((s)-->(t)){1} RETURN v[0].name, w[0].name, t[0].name"
        ),
        [
            r#"[String("b"), String("c"), String("d")]"#,
            r#"[String("c"), String("d"), String("a")]"#
        ]
    );
    // Anchored at either end, the same paths.
    let left = sorted(
        &mut tx,
        "MATCH (x {name:'a'}) MATCH p = (x) ((u)-[r]-(v)){1,3} (y) RETURN y.name, [n IN nodes(p) | n.name], [n IN u | n.name]",
    );
    let right = sorted(
        &mut tx,
        "MATCH (y) MATCH p = (x {name:'a'}) ((u)-[r]-(v)){1,3} (y) RETURN y.name, [n IN nodes(p) | n.name], [n IN u | n.name]",
    );
    assert_eq!(left, right);
    assert!(left.len() > 10);
    // The clause's WHERE reads group variables as lists.
    assert_eq!(
        run(
            &mut tx,
            "MATCH (x {name:'a'}) ((u)-[r]->(v)){1,3} (y {name:'d'}) WHERE size(r) = 2 RETURN [e IN r | e.d]"
        ),
        vec![vec![Value::List(vec![Value::Int(10), Value::Int(3)])]]
    );
}

#[test]
fn path_selectors_pick_per_pair_of_end_nodes() {
    let mut tx = small();
    let q = |tx: &mut TxGraph, q: &str| sorted(tx, q);
    assert_eq!(
        q(
            &mut tx,
            "MATCH p = SHORTEST 1 (x {name:'a'})-->+(y {name:'d'}) RETURN [n IN nodes(p) | n.name]"
        ),
        [r#"[List([String("a"), String("c"), String("d")])]"#]
    );
    assert_eq!(
        q(
            &mut tx,
            "MATCH p = SHORTEST 2 (x {name:'a'})-->+(y {name:'d'}) RETURN length(p)"
        ),
        ["[Int(2)]", "[Int(3)]"]
    );
    assert_eq!(
        q(
            &mut tx,
            "MATCH p = SHORTEST 2 GROUPS (x {name:'a'})-->+(y) RETURN y.name, length(p)"
        ),
        [
            r#"[String("a"), Int(3)]"#,
            r#"[String("a"), Int(4)]"#,
            r#"[String("b"), Int(1)]"#,
            r#"[String("b"), Int(4)]"#,
            r#"[String("c"), Int(1)]"#,
            r#"[String("c"), Int(2)]"#,
            r#"[String("d"), Int(2)]"#,
            r#"[String("d"), Int(3)]"#
        ]
    );
    assert_eq!(
        q(
            &mut tx,
            "MATCH p = ANY (x {name:'a'})-->+(y {name:'d'}) RETURN count(*)"
        ),
        ["[Int(1)]"]
    );
    // The clause's WHERE filters after the selection; the pattern's own
    // WHERE before it.
    assert!(run(
        &mut tx,
        "MATCH p = SHORTEST 1 (x {name:'a'})-->+(y {name:'d'}) WHERE length(p) = 3 RETURN p"
    )
    .is_empty());
    assert_eq!(
        run(
            &mut tx,
            "MATCH SHORTEST 1 (p = (x {name:'a'})-->+(y {name:'d'}) WHERE length(p) = 3) RETURN length(p)"
        ),
        vec![vec![Value::Int(3)]]
    );
    assert_eq!(
        run(
            &mut tx,
            "MATCH p = SHORTEST 1 (x {name:'a'})-[r WHERE r.d < 5]->+(y {name:'d'}) RETURN length(p)"
        ),
        vec![vec![Value::Int(3)]]
    );
    // A count from a parameter.
    let mut params = Map::new();
    params.insert("k".into(), Value::Int(2));
    let r = execute(
        &mut tx,
        "MATCH p = SHORTEST $k (x {name:'a'})-->+(y {name:'d'}) RETURN count(*)",
        &params,
        &ctx(),
    )
    .unwrap();
    let rows: Vec<_> = r.rows.map(|r| r.unwrap()).collect();
    assert_eq!(rows, vec![vec![Value::Int(2)]]);
}

/// The breadth-first search (one or all shortest paths per pair) and
/// the enumeration it stands in for agree. `WHERE true` inside the
/// parentheses sends the same pattern down the enumeration.
#[test]
fn breadth_first_selection_agrees_with_enumeration() {
    let mut total = 0;
    for seed in [1, 2, 3] {
        let mut tx = random(12, 22, seed);
        for (sel, pat) in [
            ("ALL SHORTEST", "(a:N {i: 0})-[:R]->{1,6}(b)"),
            ("ALL SHORTEST", "(a)-[:R|T]-{1,4}(b:N {i: 2})"),
            (
                "ALL SHORTEST",
                "(a:N {i: 1}) ((x)-[r]->(y:N) WHERE y.i % 3 <> 1){1,5} (b)",
            ),
            ("ALL SHORTEST", "(a:N {i: 4})-[:R*0..5]-(b)"),
            ("ANY SHORTEST", "(a:N {i: 0})-[:R|T]->{0,6}(b)"),
            ("ALL SHORTEST", "(a:N {i: 5})-[]-{1,3}(b)"),
            ("ALL SHORTEST", "(a:N {i: 3})-[:R|T]-{1,5}(b:N {i: 7})"),
            ("ANY SHORTEST", "(a:N)-[:R]->{1,6}(b:N {i: 6})"),
            ("ALL SHORTEST", "(a:N {i: 6})-[:R]->{1,8}(b:N {i: 6})"),
            // Several paths per pair, and lower bounds above one: the
            // layered search.
            ("SHORTEST 3", "(a:N {i: 0})-[:R|T]-{1,5}(b)"),
            ("SHORTEST 2", "(a)-[:R]->{1,7}(b:N {i: 2})"),
            ("SHORTEST 2 GROUPS", "(a:N {i: 1})-[:R|T]-{1,5}(b)"),
            ("SHORTEST 3 GROUPS", "(a:N {i: 3})-[:R|T]-{1,6}(b:N {i: 7})"),
            ("ANY 2", "(a:N {i: 4})-[:R]->{1,6}(b)"),
            ("ALL SHORTEST", "(a:N {i: 0})-[:R|T]-{2,5}(b)"),
            (
                "SHORTEST 2",
                "(a:N {i: 5}) ((x)-[r]-(y:N) WHERE y.i <> 3){2,5} (b)",
            ),
            ("SHORTEST 3 GROUPS ACYCLIC", "(a:N {i: 2})-[:R|T]-{1,6}(b)"),
        ] {
            let fast = format!(
                "MATCH p = {sel} {pat} RETURN a.i, b.i, length(p), [r IN relationships(p) | id(r)]"
            );
            let slow = format!(
                "MATCH {sel} (p = {pat} WHERE true) RETURN a.i, b.i, length(p), [r IN relationships(p) | id(r)]"
            );
            let (f, s) = (sorted(&mut tx, &fast), sorted(&mut tx, &slow));
            if sel == "ALL SHORTEST" || sel.contains("GROUPS") {
                assert_eq!(f, s, "{seed}: {sel} {pat}");
            } else {
                // One path each, possibly a different one of equal length.
                let key = |rows: &[String]| {
                    rows.iter()
                        .map(|r| r.rsplit_once(", List").map(|x| x.0.to_string()).unwrap())
                        .collect::<Vec<_>>()
                };
                assert_eq!(key(&f), key(&s), "{seed}: {sel} {pat}");
            }
            total += f.len();
        }
    }
    assert!(total > 100, "{total}");
}

/// `shortestPath` and `allShortestPaths` find what ALL SHORTEST finds by
/// enumeration, with the far end bound, unbound (one search towards all
/// its candidates) or one of a few.
#[test]
fn shortest_path_functions_agree_with_enumeration() {
    let mut total = 0;
    for seed in [4, 5, 6] {
        let mut tx = random(14, 26, seed);
        // (start, end, types, upper bound, arrow)
        for (start, end, types, max, arrow) in [
            ("a:N {i: 0}", "b:N", ":R", 6, "->"),
            ("a:N {i: 2}", "b", ":R|T", 4, "-"),
            ("a:N", "b:N {i: 5}", ":R", 7, "->"),
            ("a:N {i: 3}", "b:N", "", 3, "-"),
        ] {
            let rel = format!("{types}*1..{max}");
            let qpp_rel = format!("{types}]{arrow}{{1,{max}}}");
            let old = format!(
                "MATCH ({start}), ({end}) WHERE a <> b \
                 MATCH p = allShortestPaths((a)-[{rel}]{arrow}(b)) \
                 RETURN a.i, b.i, [r IN relationships(p) | id(r)]"
            );
            let new = format!(
                "MATCH ALL SHORTEST (p = ({start})-[{qpp_rel}({end}) WHERE true) WITH * WHERE a <> b \
                 RETURN a.i, b.i, [r IN relationships(p) | id(r)]"
            );
            let (o, n) = (sorted(&mut tx, &old), sorted(&mut tx, &new));
            assert_eq!(o, n, "{seed}: {old}");
            let one = format!(
                "MATCH ({start}), ({end}) WHERE a <> b \
                 MATCH p = shortestPath((a)-[{rel}]{arrow}(b)) RETURN a.i, b.i, length(p)"
            );
            let lengths = format!(
                "MATCH ALL SHORTEST (p = ({start})-[{qpp_rel}({end}) WHERE true) WITH * WHERE a <> b \
                 RETURN DISTINCT a.i, b.i, length(p)"
            );
            assert_eq!(
                sorted(&mut tx, &one),
                sorted(&mut tx, &lengths),
                "{seed}: {one}"
            );
            // The expression forms give what the MATCH forms bind: the
            // paths for every pair, null or an empty list where none.
            let expr_all = format!(
                "MATCH ({start}), ({end}) WHERE a <> b \
                 UNWIND allShortestPaths((a)-[{rel}]{arrow}(b)) AS p \
                 RETURN a.i, b.i, [r IN relationships(p) | id(r)]"
            );
            assert_eq!(sorted(&mut tx, &expr_all), o, "{seed}: {expr_all}");
            let expr_one = format!(
                "MATCH ({start}), ({end}) WHERE a <> b \
                 WITH a, b, shortestPath((a)-[{rel}]{arrow}(b)) AS p WHERE p IS NOT NULL \
                 RETURN a.i, b.i, length(p)"
            );
            assert_eq!(
                sorted(&mut tx, &expr_one),
                sorted(&mut tx, &one),
                "{seed}: {expr_one}"
            );
            total += o.len();
        }
    }
    assert!(total > 100, "{total}");
}

/// As an expression, `shortestPath` is null and `allShortestPaths` an empty
/// list where no path exists, and both are null when an end is null.
#[test]
fn shortest_path_expressions() {
    let mut tx = TxGraph::new(Graph::new());
    run(
        &mut tx,
        "CREATE (a:A {n: 1})-[:R]->(:M {n: 2})-[:R]->(b:B {n: 3}), (a)-[:R]->(:M {n: 4})-[:R]->(b), (:C)",
    );
    let q = "MATCH (a:A), (b:B) RETURN length(shortestPath((a)-[:R*]->(b))) AS l, \
             size(allShortestPaths((a)-[:R*]->(b))) AS n";
    assert_eq!(run(&mut tx, q), vec![vec![Value::Int(2), Value::Int(2)]]);
    let q = "MATCH (a:A), (c:C) RETURN shortestPath((a)-[*]-(c)) AS p, \
             allShortestPaths((a)-[*]-(c)) AS ps";
    assert_eq!(
        run(&mut tx, q),
        vec![vec![Value::Null, Value::List(vec![])]]
    );
    let q = "MATCH (a:A) OPTIONAL MATCH (a)-[:NONE]->(x) \
             RETURN shortestPath((a)-[*]-(x)) AS p, allShortestPaths((x)-[*]-(a)) AS ps";
    assert_eq!(run(&mut tx, q), vec![vec![Value::Null, Value::Null]]);
    let q = "MATCH (a:A), (b:B) WHERE length(shortestPath((a)-[*]-(b))) = 2 RETURN count(*)";
    assert_eq!(run(&mut tx, q), vec![vec![Value::Int(1)]]);
}

/// A far end with fewer paths than asked for ends the search (the
/// budget stops growing once nothing more can be reached), and WALK
/// repeats no relationship, as everywhere in a MATCH.
#[test]
fn k_shortest_with_too_few_paths_ends() {
    let mut tx = TxGraph::new(Graph::new());
    run(
        &mut tx,
        "CREATE (a:A)-[:R]->(b:B), (a)-[:R]->(:C), (:D)-[:R]->(b)",
    );
    for q in [
        "MATCH (a:A), (b:B) MATCH p = SHORTEST 2 (a)-[:R]->+(b) RETURN count(p)",
        "MATCH (a:A), (b:B) MATCH p = SHORTEST 2 GROUPS (a)-[:R]->+(b) RETURN count(p)",
        "MATCH (b:B) MATCH p = SHORTEST 3 (a:A)-[:R]->+(b) RETURN count(p)",
        "MATCH p = SHORTEST 2 WALK (a:A)-[:R]-+(b:B) RETURN count(p)",
    ] {
        assert_eq!(run(&mut tx, q), vec![vec![Value::Int(1)]], "{q}");
    }
}

#[test]
fn acyclic_paths_repeat_no_node() {
    let mut tx = small();
    let rows = sorted(
        &mut tx,
        "MATCH p = ACYCLIC (x {name:'a'})-->+(y) RETURN y.name, length(p)",
    );
    assert_eq!(
        rows,
        [
            r#"[String("b"), Int(1)]"#,
            r#"[String("c"), Int(1)]"#,
            r#"[String("c"), Int(2)]"#,
            r#"[String("d"), Int(2)]"#,
            r#"[String("d"), Int(3)]"#
        ]
    );
    let walks = run(
        &mut tx,
        "MATCH p = (x {name:'a'})-->+(y {name:'a'}) RETURN count(*)",
    );
    assert_eq!(walks, vec![vec![Value::Int(2)]]);
    // Selected paths too: no cycle back to the start.
    for sel in ["ANY", "ALL SHORTEST", "SHORTEST 2"] {
        let q = format!("MATCH p = {sel} ACYCLIC (x {{name:'a'}})-->+(y) RETURN y.name");
        assert!(
            !sorted(&mut tx, &q).contains(&r#"[String("a")]"#.to_string()),
            "{q}"
        );
        let q = format!("MATCH p = {sel} (x {{name:'a'}})-->+(y) RETURN y.name");
        assert!(
            sorted(&mut tx, &q).contains(&r#"[String("a")]"#.to_string()),
            "{q}"
        );
    }
}

#[test]
fn quantified_predicates_read_earlier_clauses_and_bound_ends() {
    let mut tx = small();
    // A variable from an earlier clause is visible inside the iteration;
    // a bound end node cuts the search down to the ways that reach it.
    let rows = sorted(
        &mut tx,
        "MATCH (d {name:'d'}) WITH d, 3 AS most
         MATCH p = (a {name:'a'}) ((x)-[r]->(y) WHERE r.d <= most)+ (d) RETURN [e IN r | e.d]",
    );
    assert_eq!(rows, [r#"[List([Int(1), Int(2), Int(3)])]"#]);
    let rows = sorted(
        &mut tx,
        "MATCH (a {name:'a'}) MATCH (a) ((x)-[r]->(y) WHERE r.d < 20)+ (d {name:'d'})
         RETURN size(r)",
    );
    assert_eq!(rows.len(), 2);
}

#[test]
fn path_pattern_errors() {
    let mut tx = small();
    let mut by_query = BTreeMap::new();
    for (q, text) in [
        (
            "MATCH (x) ((a)){1,2} (y) RETURN 1",
            "at least one relationship",
        ),
        (
            "MATCH (x) ((a)-->(b)){0} (y) RETURN 1",
            "must not be limited by 0",
        ),
        (
            "MATCH (x) ((a)-->(b)){3,2} (y) RETURN 1",
            "lower bound greater",
        ),
        (
            "MATCH (x) (((a)-->(b)){1,2}){2} (y) RETURN 1",
            "not allowed to be nested",
        ),
        (
            "MATCH (x) ((a)-[*]->(b)){2} (y) RETURN 1",
            "not allowed to be nested",
        ),
        (
            "MATCH (a)-[*]->(b), (a)-->+(c) RETURN 1",
            "Mixing variable-length",
        ),
        (
            "MATCH p = SHORTEST 1 (a)-->+(b), (c) RETURN 1",
            "Multiple path patterns",
        ),
        (
            "MATCH ((a)-->(b)){0,3} RETURN 1",
            "at least one node pattern",
        ),
        (
            "MATCH (a) MATCH (x) ((a)-->(b)){1,2} (y) RETURN 1",
            "already defined",
        ),
        (
            "MATCH (x) ((a)-->(b)){1,2} (y) WHERE a.name = 'x' RETURN 1",
            "List",
        ),
        ("CREATE (x) ((a)-[:R]->(b)){1,2} (y)", "CREATE or MERGE"),
        ("MATCH (a)(b) RETURN 1", "Concatenation"),
        (
            "MATCH p = SHORTEST 0 (a)-->+(b) RETURN 1",
            "positive integer",
        ),
        ("MATCH p = shortestPath((a)-->+(b)) RETURN 1", "SHORTEST 1"),
        (
            "MATCH (a) ((x)-->(y) WHERE y.d > a.d)+ (b:S) RETURN 1",
            "not defined",
        ),
        ("MATCH (a) ((x)-->(y))+ -->(b) RETURN 1", "expected"),
        (
            "MATCH (a) (((p = (x)-->(y))))+ (b) RETURN 1",
            "path variable",
        ),
    ] {
        let e = error(&mut tx, q);
        assert!(e.contains(text), "{q}: {e}");
        by_query.insert(q, e);
    }
}

#[test]
fn relationship_type_expressions() {
    let mut tx = TxGraph::new(Graph::new());
    run(&mut tx, "CREATE (:T)-[:X]->(:T), (:T)-[:Y]->(:U), (:V), ()");
    for (q, want) in [
        (
            "MATCH ()-[r:!X]->() RETURN type(r)",
            vec!["[String(\"Y\")]"],
        ),
        (
            "MATCH ()-[r:%]->() RETURN type(r)",
            vec!["[String(\"X\")]", "[String(\"Y\")]"],
        ),
        (
            "MATCH ()-[r:(X|Y)&!Y]->() RETURN type(r)",
            vec!["[String(\"X\")]"],
        ),
        ("MATCH ()-[r:X&Y]->() RETURN type(r)", vec![]),
        (
            "MATCH (a)-[:!X]->(b) RETURN labels(b)",
            vec!["[List([String(\"U\")])]"],
        ),
        (
            "MATCH (a:T)-[:!Y]->{1,2}(b) RETURN labels(b)",
            vec!["[List([String(\"T\")])]"],
        ),
        (
            "RETURN [(a)-[:X|Y]->(b) | labels(b)[0]] AS l",
            vec![r#"[List([String("T"), String("U")])]"#],
        ),
        ("MATCH (n:%) RETURN count(n)", vec!["[Int(5)]"]),
        ("MATCH (n) WHERE NOT n:% RETURN count(n)", vec!["[Int(1)]"]),
    ] {
        assert_eq!(sorted(&mut tx, q), want, "{q}");
    }
    for (q, text) in [
        (
            "MATCH ()-[r:!X*]->() RETURN 1",
            "must not use relationship type expressions",
        ),
        ("CREATE ()-[:!X]->()", "A single relationship type"),
    ] {
        let e = error(&mut tx, q);
        assert!(e.contains(text), "{q}: {e}");
    }
}

/// A chain of diamonds has 2^n shortest paths end to end: asking for all
/// of them ends in the memory limit's error, not in exhausted memory.
#[test]
fn exponentially_many_shortest_paths_hit_the_limit() {
    let mut tx = TxGraph::new(Graph::new());
    run(
        &mut tx,
        "UNWIND range(0, 40) AS i CREATE (d:D {i: i}), (d)-[:E]->(:M {i: i}), (d)-[:E]->(:M {i: i})",
    );
    run(
        &mut tx,
        "MATCH (m:M) MATCH (n:D {i: m.i + 1}) CREATE (m)-[:E]->(n)",
    );
    let small = ExecContext {
        limits: Limits {
            max_materialized_rows: 10_000,
            ..Limits::default()
        },
        ..ctx()
    };
    let starts = run(&mut tx, "MATCH (d:D) RETURN count(d)");
    assert_eq!(starts, vec![vec![Value::Int(41)]]);
    for q in [
        "MATCH p = ALL SHORTEST (a:D {i: 0})-[:E]->+(b:D {i: 40}) RETURN count(p)",
        "MATCH p = SHORTEST 3 GROUPS (a:D {i: 0})-[:E]->+(b:D {i: 40}) RETURN count(p)",
        "MATCH (a:D {i: 0}) ((x)-[:E]->(y)){1,90} (b:D {i: 40}) RETURN count(*)",
        "MATCH (a:D {i: 0}), (b:D {i: 40}) \
         MATCH p = allShortestPaths((a)-[:E*]->(b)) RETURN count(p)",
    ] {
        let e = match execute(&mut tx, q, &Map::new(), &small) {
            Err(e) => e,
            Ok(r) => r.rows.into_iter().find_map(|r| r.err()).expect(q),
        };
        assert_eq!(
            e.code,
            causeway_value::Code::MemoryPoolOutOfMemory,
            "{q}: {e}"
        );
    }
    let one = run(
        &mut tx,
        "MATCH p = SHORTEST 1 (a:D {i: 0})-[:E]->+(b:D {i: 40}) RETURN length(p)",
    );
    assert_eq!(one, vec![vec![Value::Int(80)]]);
    // shortestPath takes one path; allShortestPaths over a few diamonds
    // finds every one of them, from one search towards all the ends.
    let one = run(
        &mut tx,
        "MATCH (a:D {i: 0}), (b:D {i: 40}) MATCH p = shortestPath((a)-[:E*]->(b)) RETURN length(p)",
    );
    assert_eq!(one, vec![vec![Value::Int(80)]]);
    let few = run(
        &mut tx,
        "MATCH (a:D {i: 0}), (b:D) WHERE b.i IN [3, 5] \
         MATCH p = allShortestPaths((a)-[:E*]->(b)) RETURN b.i, count(p), min(length(p)) ORDER BY b.i",
    );
    assert_eq!(
        few,
        vec![
            vec![Value::Int(3), Value::Int(8), Value::Int(6)],
            vec![Value::Int(5), Value::Int(32), Value::Int(10)]
        ]
    );
}
