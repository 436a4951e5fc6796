//! Runs each argument as a statement against one in-memory graph and prints
//! the results. Usage: cargo run -p causeway-exec --example repl -- 'CREATE ...' 'MATCH ...'

use causeway_exec::{execute, ExecContext, Limits};
use causeway_graph::{Graph, TxGraph};
use causeway_value::Map;

fn main() {
    let ctx = ExecContext {
        database: "neo4j",
        catalog: None,
        limits: Limits::default(),
        inputs: None,
    };
    let mut g = Graph::new();
    for q in std::env::args().skip(1) {
        let mut tx = TxGraph::new(g.clone());
        println!("> {q}");
        match execute(&mut tx, &q, &Map::new(), &ctx) {
            Ok(r) => {
                println!("  {:?} type={}", r.fields, r.query_type.as_str());
                for row in r.rows {
                    match row {
                        Ok(v) => println!(
                            "  {}",
                            v.iter()
                                .map(|x| x.to_string())
                                .collect::<Vec<_>>()
                                .join(" | ")
                        ),
                        Err(e) => println!("  ERROR {e} {:?}", e.detail),
                    }
                }
                if r.counters.contains_updates() {
                    println!("  {:?}", r.counters);
                }
                if let Some(p) = r.plan {
                    println!("  plan {p:?}");
                }
                g = tx.finish().0;
            }
            Err(e) => println!("  ERROR {e} {:?} {:?}", e.detail, e.phase),
        }
    }
}
