//! Times the benchmark hot paths in-process: indexed counter updates and
//! point reads. Usage: cargo run -p causeway-exec --example hot_path

use causeway_exec::{execute, ExecContext, Limits};
use causeway_graph::{Graph, TxGraph};
use causeway_value::{Map, Value};
use std::time::Instant;

fn main() {
    let ctx = ExecContext {
        database: "neo4j",
        catalog: None,
        limits: Limits::default(),
        inputs: None,
    };
    let mut g = Graph::new();
    for q in [
        "CREATE INDEX FOR (c:Counter) ON (c.id)",
        "UNWIND range(1, 10000) AS i CREATE (:Counter {id: i, n: 0})",
    ] {
        let mut tx = TxGraph::new(g.clone());
        let r = execute(&mut tx, q, &Map::new(), &ctx).expect("setup");
        r.rows.for_each(drop);
        g = tx.finish().0;
    }
    let n = 20_000;
    for q in [
        "MATCH (c:Counter {id: $id}) SET c.n = c.n + 1",
        "MATCH (c:Counter {id: $id}) RETURN c.n AS n",
        "MATCH (c:Counter) WHERE c.id = $id RETURN c",
    ] {
        let start = Instant::now();
        for i in 0..n {
            let mut p = Map::new();
            p.insert("id".into(), Value::Int(i % 10_000 + 1));
            let mut tx = TxGraph::new(g.clone());
            let r = execute(&mut tx, q, &p, &ctx).expect("query");
            let rows: Vec<_> = r.rows.collect();
            assert!(rows.len() <= 1);
            g = tx.finish().0;
        }
        let el = start.elapsed();
        println!("{q}: {:.1} us/op", el.as_secs_f64() * 1e6 / n as f64);
    }
}
