//! The `neo4rs` 0.8 Rust driver over TLS against the real `causeway`
//! binary, with a certificate authority made by the test.

use neo4rs::{query, ConfigBuilder, Graph};
use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};

mod common;
use common::{free_port, spawn_server, stop, PASSWORD};

async fn connect(uri: &str, ca: &std::path::Path) -> neo4rs::Result<Graph> {
    let config = ConfigBuilder::new()
        .uri(uri)
        .user("neo4j")
        .password(PASSWORD)
        .with_client_certificate(ca)
        .build()?;
    Graph::connect(config).await
}

async fn answer(graph: &Graph) -> neo4rs::Result<i64> {
    let mut rows = graph.execute(query("RETURN 6 * 7 AS x")).await?;
    let row = rows.next().await?.expect("one row");
    Ok(row.get::<i64>("x").expect("an integer"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn neo4rs_over_tls_and_plaintext_refused() {
    let dir = tempfile::tempdir().unwrap();
    let ca_key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = params.self_signed(&ca_key).unwrap();
    let key = KeyPair::generate().unwrap();
    let cert = CertificateParams::new(vec!["localhost".to_owned()])
        .unwrap()
        .signed_by(&key, &ca, &ca_key)
        .unwrap();
    let (ca_path, cert_path, key_path) = (
        dir.path().join("ca.pem"),
        dir.path().join("cert.pem"),
        dir.path().join("key.pem"),
    );
    std::fs::write(&ca_path, ca.pem()).unwrap();
    std::fs::write(&cert_path, cert.pem()).unwrap();
    std::fs::write(&key_path, key.serialize_pem()).unwrap();
    let port = free_port();
    let set = |k: &str, v: &std::path::Path| format!("{k}={}", v.display());
    let (c, k) = (
        set("tls_certificate", &cert_path),
        set("tls_private_key", &key_path),
    );
    let mut child = spawn_server(
        &dir.path().join("data"),
        &format!("127.0.0.1:{port}"),
        &["--set", "tls_mode=required", "--set", &c, "--set", &k],
    );
    for scheme in ["neo4j+s", "bolt+s", "bolt+ssc", "neo4j+ssc"] {
        let graph = connect(&format!("{scheme}://localhost:{port}"), &ca_path)
            .await
            .unwrap_or_else(|e| panic!("{scheme}: {e}"));
        assert_eq!(answer(&graph).await.unwrap(), 42, "{scheme}");
        graph
            .run(query("CREATE (:RustTls {scheme: $s})").param("s", scheme))
            .await
            .unwrap();
    }
    let graph = connect(&format!("bolt+s://localhost:{port}"), &ca_path)
        .await
        .unwrap();
    let mut rows = graph
        .execute(query("MATCH (n:RustTls) RETURN count(n) AS c"))
        .await
        .unwrap();
    let n: i64 = rows.next().await.unwrap().unwrap().get("c").unwrap();
    assert_eq!(n, 4);
    // Plaintext is refused when TLS is required: a Bolt handshake gets
    // the connection closed, not a version. (Through neo4rs the refusal
    // only shows after its retries, half a minute later.)
    use std::io::{Read, Write};
    let mut raw = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    raw.write_all(&[
        0x60, 0x60, 0xb0, 0x17, 0, 0, 4, 5, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    ])
    .unwrap();
    let mut buf = [0u8; 4];
    assert!(matches!(raw.read(&mut buf), Ok(0) | Err(_)));
    stop(&mut child, "server");
}
