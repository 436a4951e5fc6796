//! The `neo4rs` 0.8 Rust driver against a real three-core cluster: it finds
//! the leader with `dbms.cluster.role`, writes there, and reads the writes
//! back from every member.

use std::process::Child;
use std::time::{Duration, Instant};

use neo4rs::query;

mod common;
use common::{connect, free_port, spawn_server, stop};

struct Core {
    child: Child,
    bolt: String,
}

struct Cluster {
    cores: Vec<Core>,
    _dir: tempfile::TempDir,
}

impl Cluster {
    fn start() -> Cluster {
        let dir = tempfile::tempdir().unwrap();
        let cluster_ports: Vec<u16> = (0..3).map(|_| free_port()).collect();
        let initial = cluster_ports
            .iter()
            .map(|p| format!("127.0.0.1:{p}"))
            .collect::<Vec<_>>()
            .join(",");
        let cores = cluster_ports
            .iter()
            .enumerate()
            .map(|(i, port)| {
                let bolt = format!("127.0.0.1:{}", free_port());
                let listen = format!("127.0.0.1:{port}");
                let child = spawn_server(
                    &dir.path().join(format!("core-{i}")),
                    &bolt,
                    &[
                        "--mode",
                        "core",
                        "--cluster-listen",
                        &listen,
                        "--initial-members",
                        &initial,
                        "--cluster-secret",
                        "neo4rs-cluster-secret",
                    ],
                );
                Core { child, bolt }
            })
            .collect::<Vec<_>>();
        Cluster { cores, _dir: dir }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for c in &mut self.cores {
            stop(&mut c.child, "member");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn neo4rs_against_a_cluster() {
    let cluster = Cluster::start();
    let mut graphs = Vec::new();
    for c in &cluster.cores {
        graphs.push(connect(&c.bolt, 200).await);
    }
    // neo4rs 0.8 does not route: find the leader the way its users would,
    // with dbms.cluster.role (it retries NotALeader on the same member, so
    // writing to a follower would only spin).
    let deadline = Instant::now() + Duration::from_secs(30);
    let leader = 'found: loop {
        for (i, g) in graphs.iter().enumerate() {
            let mut rows = g
                .execute(query(
                    "CALL dbms.cluster.role('neo4j') YIELD role RETURN role",
                ))
                .await
                .unwrap();
            let row = rows.next().await.unwrap().unwrap();
            if row.get::<String>("role").unwrap() == "LEADER" {
                break 'found i;
            }
        }
        assert!(Instant::now() < deadline, "no leader elected");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let g = &graphs[leader];
    for k in 0..100i64 {
        g.run(query("CREATE (:Rust {k: $k})").param("k", k))
            .await
            .unwrap();
    }
    for (i, g) in graphs.iter().enumerate() {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let mut rows = g
                .execute(query("MATCH (n:Rust) RETURN count(n) AS c, sum(n.k) AS s"))
                .await
                .unwrap();
            let row = rows.next().await.unwrap().unwrap();
            let (c, s): (i64, i64) = (row.get("c").unwrap(), row.get("s").unwrap());
            if c == 100 {
                assert_eq!(s, 99 * 100 / 2, "member {i}");
                break;
            }
            assert!(Instant::now() < deadline, "member {i} has {c} of 100");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}
