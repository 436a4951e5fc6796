//! The `neo4rs` 0.8 Rust driver against the real `causeway` binary.

use std::process::Child;

use neo4rs::{query, BoltType, Graph};

mod common;
use common::{free_port, spawn_server, stop};

struct Server {
    child: Child,
    bolt: String,
    _dir: tempfile::TempDir,
}

impl Server {
    fn start() -> Server {
        let dir = tempfile::tempdir().unwrap();
        let bolt = format!("127.0.0.1:{}", free_port());
        let child = spawn_server(&dir.path().join("data"), &bolt, &[]);
        Server {
            child,
            bolt,
            _dir: dir,
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        stop(&mut self.child, "server");
    }
}

async fn connect(server: &Server, fetch_size: usize) -> Graph {
    common::connect(&server.bolt, fetch_size).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn neo4rs_end_to_end() {
    let server = Server::start();
    let graph = connect(&server, 200).await;

    // Parameters of every PackStream type round-trip.
    let values: Vec<BoltType> = vec![
        BoltType::from(Option::<i64>::None),
        BoltType::from(true),
        BoltType::from(i64::MIN),
        BoltType::from(i64::MAX),
        BoltType::from(-17i64),
        BoltType::from(1.25f64),
        BoltType::from("héllo"),
        BoltType::from(vec![1i64, 2, 3]),
        BoltType::from(std::collections::HashMap::from([("k".to_owned(), 5i64)])),
        BoltType::from(vec![0u8, 1, 255]),
    ];
    for v in values {
        let mut rows = graph
            .execute(query("RETURN $v AS v").param("v", v.clone()))
            .await
            .unwrap();
        let row = rows.next().await.unwrap().unwrap();
        let back: BoltType = row.get("v").unwrap();
        assert_eq!(back, v);
    }

    // Create, read, update, delete.
    graph
        .run(
            query("CREATE (:Rust {name: $n, age: $a})")
                .param("n", "ferris")
                .param("a", 7i64),
        )
        .await
        .unwrap();
    let mut rows = graph
        .execute(query("MATCH (r:Rust) RETURN r"))
        .await
        .unwrap();
    let node: neo4rs::Node = rows.next().await.unwrap().unwrap().get("r").unwrap();
    assert_eq!(node.labels(), vec!["Rust"]);
    assert_eq!(node.get::<String>("name").unwrap(), "ferris");
    graph
        .run(query("MATCH (r:Rust) SET r.age = r.age + 1"))
        .await
        .unwrap();
    let mut rows = graph
        .execute(query("MATCH (r:Rust) RETURN r.age AS age"))
        .await
        .unwrap();
    assert_eq!(
        rows.next()
            .await
            .unwrap()
            .unwrap()
            .get::<i64>("age")
            .unwrap(),
        8
    );

    // Explicit transactions: commit and rollback.
    let mut tx = graph.start_txn().await.unwrap();
    tx.run(query("CREATE (:RustTx {v: 1})")).await.unwrap();
    tx.commit().await.unwrap();
    let mut tx = graph.start_txn().await.unwrap();
    tx.run(query("CREATE (:RustTx {v: 2})")).await.unwrap();
    tx.rollback().await.unwrap();
    let mut rows = graph
        .execute(query("MATCH (n:RustTx) RETURN count(n) AS c"))
        .await
        .unwrap();
    assert_eq!(
        rows.next().await.unwrap().unwrap().get::<i64>("c").unwrap(),
        1
    );

    graph.run(query("MATCH (r:Rust) DELETE r")).await.unwrap();
    let mut rows = graph
        .execute(query("MATCH (r:Rust) RETURN count(r) AS c"))
        .await
        .unwrap();
    assert_eq!(
        rows.next().await.unwrap().unwrap().get::<i64>("c").unwrap(),
        0
    );

    // Errors arrive as Neo4j errors with the right code.
    let err = graph.run(query("MATCH (n RETURN n")).await.unwrap_err();
    match err {
        neo4rs::Error::Neo4j(e) => assert_eq!(e.code(), "Neo.ClientError.Statement.SyntaxError"),
        other => panic!("expected a Neo4j error, got {other:?}"),
    }
    let err = graph.run(query("RETURN 1 / 0")).await.unwrap_err();
    assert!(
        matches!(err, neo4rs::Error::Neo4j(ref e) if e.code() == "Neo.ClientError.Statement.ArithmeticError")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn neo4rs_streams_100k_rows_with_a_small_fetch_size() {
    let server = Server::start();
    let graph = connect(&server, 100).await;
    let mut rows = graph
        .execute(query("UNWIND range(1, 100000) AS x RETURN x"))
        .await
        .unwrap();
    let (mut n, mut sum) = (0i64, 0i64);
    while let Some(row) = rows.next().await.unwrap() {
        sum += row.get::<i64>("x").unwrap();
        n += 1;
    }
    assert_eq!((n, sum), (100_000, 100_000 * 100_001 / 2));
}
