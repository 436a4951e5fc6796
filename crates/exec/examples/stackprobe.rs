//! Finds how deeply nested expressions can be evaluated on a 2 MiB stack.
use causeway_exec::{execute, ExecContext, Limits};
use causeway_graph::{Graph, TxGraph};
use causeway_value::Map;

fn main() {
    let kind: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let depth: usize = std::env::args()
        .nth(2)
        .and_then(|s| s.parse().ok())
        .unwrap_or(10);
    let q = match kind {
        0 => format!("RETURN {}1{}", "[".repeat(depth), "]".repeat(depth)),
        1 => format!("RETURN {}1{}", "(1 + ".repeat(depth), ")".repeat(depth)),
        2 => format!("RETURN {}1", "- ".repeat(depth)),
        _ => format!(
            "RETURN {}1{}",
            "[x IN [".repeat(depth),
            "] | x]".repeat(depth)
        ),
    };
    let h = std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(move || {
            let ctx = ExecContext {
                database: "neo4j",
                catalog: None,
                limits: Limits::default(),
                inputs: None,
            };
            let mut tx = TxGraph::new(Graph::new());
            execute(&mut tx, "CREATE ({x: 1})", &Map::new(), &ctx)
                .map(|r| r.rows.for_each(drop))
                .ok();
            match execute(&mut tx, &q, &Map::new(), &ctx) {
                Ok(r) => r.rows.for_each(drop),
                Err(e) => println!("{e}"),
            }
        })
        .unwrap();
    h.join().unwrap();
    println!("ok");
}
