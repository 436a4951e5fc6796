//! Times each statement argument against one in-memory graph.
//! Usage: cargo run -p causeway-exec --example timeq -- 'CREATE ...' 'MATCH ...'
use causeway_exec::{execute, ExecContext, Limits};
use causeway_graph::{Graph, TxGraph};
use causeway_value::Map;
use std::time::Instant;

fn main() {
    let ctx = ExecContext {
        database: "neo4j",
        catalog: None,
        limits: Limits::default(),
        inputs: None,
    };
    let mut g = Graph::new();
    for q in std::env::args().skip(1) {
        let t = Instant::now();
        let mut tx = TxGraph::new(g.clone());
        let n = match execute(&mut tx, &q, &Map::new(), &ctx) {
            Ok(r) => r.rows.count(),
            Err(e) => {
                println!("{e}");
                0
            }
        };
        g = tx.finish().0;
        println!(
            "{:>8.1} ms  {n:>7} rows  {q}",
            t.elapsed().as_secs_f64() * 1e3
        );
    }
}
