mod common;

use common::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

async fn negotiated(proposals: [u8; 16]) -> [u8; 4] {
    let server = start().await;
    let (_c, answer) = Client::handshake(server.addr, proposals).await;
    answer
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_6x_manifest_offer_gets_5_4() {
    assert_eq!(negotiated(PY_6X).await, [0, 0, 4, 5]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_5x_range_offer_gets_5_4() {
    assert_eq!(negotiated(PY_525).await, [0, 0, 4, 5]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn py2neo_gets_4_3() {
    assert_eq!(negotiated(PY2NEO).await, [0, 0, 3, 4]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn neo4rs_stable_gets_4_1() {
    assert_eq!(negotiated(NEO4RS_08).await, [0, 0, 1, 4]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn neo4rs_prerelease_gets_4_4() {
    assert_eq!(negotiated(NEO4RS_09).await, [0, 0, 4, 4]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn never_5_5_or_4_2() {
    // A slot offering only 5.5 must not be answered with 5.5; the next slot
    // (4.2 only) is not supported either; 4.0 neither.
    let p = [0, 0, 5, 5, 0, 0, 2, 4, 0, 0, 0, 4, 0, 0, 0, 0];
    let server = start().await;
    let (mut c, answer) = Client::handshake(server.addr, p).await;
    assert_eq!(answer, [0, 0, 0, 0]);
    c.expect_closed().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn range_that_skips_5_5_picks_lower() {
    // 5.8 down to 5.5 contains nothing we speak; 5.8 down to 5.4 gives 5.4.
    assert_eq!(
        negotiated([0, 3, 8, 5, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]).await,
        [0, 0, 0, 0]
    );
    assert_eq!(
        negotiated([0, 4, 8, 5, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]).await,
        [0, 0, 4, 5]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_matching_slot_wins_over_higher_later_slot() {
    // The client prefers 4.4 over 5.x: honour the order of the slots.
    assert_eq!(
        negotiated([0, 0, 4, 4, 0, 0, 4, 5, 0, 0, 0, 0, 0, 0, 0, 0]).await,
        [0, 0, 4, 4]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn manifest_only_is_unsupported() {
    let server = start().await;
    let (mut c, answer) = Client::handshake(
        server.addr,
        [0, 0, 1, 0xFF, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
    )
    .await;
    assert_eq!(answer, [0, 0, 0, 0]);
    c.expect_closed().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bolt_3_only_client_gets_zeros_and_close() {
    let server = start().await;
    let (mut c, answer) = Client::handshake(server.addr, exactly(3, 0)).await;
    assert_eq!(answer, [0, 0, 0, 0]);
    c.expect_closed().await;
}

async fn expect_silent_close(bytes: &[u8]) {
    let server = start().await;
    let mut s = TcpStream::connect(server.addr).await.unwrap();
    s.write_all(bytes).await.unwrap();
    let mut buf = Vec::new();
    let n = tokio::time::timeout(TIMEOUT, s.read_to_end(&mut buf))
        .await
        .expect("server kept the connection open");
    // Either a clean EOF or a reset is fine; no Bolt bytes must come back.
    if let Ok(n) = n {
        assert_eq!(n, 0, "unexpected reply {buf:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_request_is_closed() {
    expect_silent_close(b"GET / HTTP/1.1\r\nHost: localhost:7687\r\n\r\n").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_preamble_is_closed() {
    expect_silent_close(&[0xDE, 0xAD, 0xBE, 0xEF, 0, 0, 0, 0]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn handshake_in_one_byte_pieces() {
    let server = start().await;
    let mut s = TcpStream::connect(server.addr).await.unwrap();
    s.set_nodelay(true).unwrap();
    let mut hs = vec![0x60, 0x60, 0xB0, 0x17];
    hs.extend_from_slice(&PY_525);
    for b in hs {
        s.write_all(&[b]).await.unwrap();
        tokio::task::yield_now().await;
    }
    let mut answer = [0u8; 4];
    s.read_exact(&mut answer).await.unwrap();
    assert_eq!(answer, [0, 0, 4, 5]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn handshake_timeout_closes_silent_client() {
    let config = causeway_bolt::BoltConfig {
        handshake_timeout: std::time::Duration::from_millis(200),
        ..Default::default()
    };
    let server = start_with(config).await;
    let mut s = TcpStream::connect(server.addr).await.unwrap();
    s.write_all(&[0x60, 0x60]).await.unwrap();
    let mut buf = Vec::new();
    let r = tokio::time::timeout(TIMEOUT, s.read_to_end(&mut buf)).await;
    assert!(
        r.is_ok(),
        "connection was not closed after the handshake timeout"
    );
    assert!(buf.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_limit_closes_extra_connections() {
    let config = causeway_bolt::BoltConfig {
        max_connections: 1,
        ..Default::default()
    };
    let server = start_with(config).await;
    let (_first, answer) = Client::handshake(server.addr, PY_525).await;
    assert_eq!(answer, [0, 0, 4, 5]);
    let mut s = TcpStream::connect(server.addr).await.unwrap();
    let mut hs = vec![0x60, 0x60, 0xB0, 0x17];
    hs.extend_from_slice(&PY_525);
    let _ = s.write_all(&hs).await;
    let mut buf = Vec::new();
    let r = tokio::time::timeout(TIMEOUT, s.read_to_end(&mut buf)).await;
    assert!(r.is_ok());
    assert!(buf.is_empty(), "second connection got {buf:?}");
}
