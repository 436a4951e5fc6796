use super::*;
use causeway_graph::{Graph, TxGraph};

fn ctx() -> ExecContext<'static> {
    ExecContext {
        database: "neo4j",
        catalog: None,
        limits: Limits::default(),
    }
}

fn run(tx: &mut TxGraph, q: &str) -> Vec<Vec<Value>> {
    let r = execute(tx, q, &Map::new(), &ctx()).unwrap_or_else(|e| panic!("{q}: {e}"));
    r.rows.map(|r| r.unwrap()).collect()
}

#[test]
fn create_and_match() {
    let mut tx = TxGraph::new(Graph::new());
    run(&mut tx, "CREATE (:A {x: 1})-[:R]->(:B {x: 2})");
    let rows = run(&mut tx, "MATCH (a:A)-[:R]->(b) RETURN a.x, b.x");
    assert_eq!(rows, vec![vec![Value::Int(1), Value::Int(2)]]);
}
