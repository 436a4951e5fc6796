//! State machine and message semantics over a real loopback socket.
//!
//! Where the traps of the Bolt server spec (§9) are covered:
//!  1 agent prefix ............ hello_success_metadata_per_version
//!  2, 3, 4 version choice .... tests/handshake.rs (py2neo 4.3, neo4rs 4.1/4.4,
//!                              Python ranges and manifest sentinel)
//!  5 four-part codes ......... failure_codes_have_four_parts
//!  6 type and fields ......... write_stats_and_type, auto_commit_run_pull_all_with_bookmark
//!  7 ROUTE 4.4 map ........... route_4_4_extra_map, route_4_3_string_db
//!  8 py2neo routing query .... py2neo_routing_procedure_pattern (the procedure itself
//!                              is the backend's)
//!  9 qid numbering ........... explicit_tx_qids_and_multiple_streams
//! 10 element ids ............. graph_values_4x_and_5x, tests/packstream.rs
//! 11 LOGON {} ................ logon_flow_5_1_plus
//! 12 RESET / IGNORED ......... failure_then_pipelined_ignored_until_reset, reset_*
//! 13 DateTime forms .......... utc_patch_is_negotiated_on_4_4_only
//! 14 recv timeout hint ....... hello_success_metadata_per_version
//! 15 short TTL ............... route_4_4_extra_map (the backend's TTL is passed through)
//! 16 no mode = write ......... no_mode_means_write
//! 17 SHOW DATABASES etc. ..... backend queries; nothing protocol-specific
//! 18 neo4rs read timeout ..... nothing to do in the protocol layer
//! 19 FAILURE message ......... auth_in_hello_up_to_5_0
mod common;

use causeway_value::Value;
use common::*;

const HELLO: u8 = 0x01;
const GOODBYE: u8 = 0x02;
const RESET: u8 = 0x0F;
const RUN: u8 = 0x10;
const BEGIN: u8 = 0x11;
const COMMIT: u8 = 0x12;
const ROLLBACK: u8 = 0x13;
const DISCARD: u8 = 0x2F;
const PULL: u8 = 0x3F;
const TELEMETRY: u8 = 0x54;
const ROUTE: u8 = 0x66;
const LOGON: u8 = 0x6A;
const LOGOFF: u8 = 0x6B;

fn empty() -> Value {
    map(&[])
}

fn ints(rows: &[Vec<Value>]) -> Vec<i64> {
    rows.iter()
        .map(|r| match r[0] {
            Value::Int(i) => i,
            _ => panic!("not an int row"),
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hello_success_metadata_per_version() {
    let server = start().await;
    for (major, minor) in [(5, 4), (5, 0), (4, 4), (4, 3), (4, 1)] {
        let (mut c, _) = Client::handshake(server.addr, exactly(major, minor)).await;
        c.send(
            HELLO,
            &[map(&[
                ("user_agent", Value::from("t")),
                ("scheme", Value::from("none")),
            ])],
        )
        .await;
        let r = c.recv().await.unwrap();
        assert!(r.is_success(), "{r:?}");
        // Trap 1: drivers refuse agents that do not start with "Neo4j/".
        assert_eq!(r.get("server"), Some(Value::from("Neo4j/5.26.0")));
        match r.get("connection_id") {
            Some(Value::String(s)) => assert!(s.starts_with("bolt-")),
            other => panic!("connection_id missing: {other:?}"),
        }
        // Trap 14: the recv-timeout hint, backed by keep-alive NOOPs
        // (keep_alive_noops_while_a_request_runs).
        match r.get("hints") {
            Some(Value::Map(h)) => {
                assert!(minor >= 3 || major == 5);
                assert_eq!(
                    h.get("connection.recv_timeout_seconds"),
                    Some(&Value::Int(1))
                );
            }
            None => assert_eq!((major, minor), (4, 1)),
            other => panic!("bad hints {other:?}"),
        }
    }
}

/// A client that reads with the advertised timeout (1 s) must hear from
/// the server at least that often while a request runs, whether the request
/// waits (a commit on a quorum) or computes on the connection's own thread
/// (a heavy result, which may leave the server's runtime polling nothing);
/// idle connections get nothing. The client runs on a runtime of its own, as
/// it would in its own process.
#[test]
fn keep_alive_noops_while_a_request_runs() {
    let server_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let server = server_rt.block_on(start());
    let client_rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    client_rt.block_on(async {
        let mut c = Client::ready(server.addr, 5, 4).await;
        for query in ["SLEEP 1600", "HEAVY 1600"] {
            c.run(query, empty(), empty()).await;
            c.pull(-1, None).await;
            let mut noops = 0;
            let mut messages = Vec::new();
            let started = std::time::Instant::now();
            while messages.len() < 2 || messages.last().is_some_and(|m: &Msg| m.tag == 0x71) {
                let (msg, n, silence) = c.recv_counting_noops().await;
                // Never a silence the client's 1 s timeout would end.
                assert!(
                    silence < std::time::Duration::from_millis(900),
                    "{query}: silent for {silence:?}"
                );
                noops += n;
                messages.push(msg.expect("an answer"));
            }
            assert!(
                noops >= 3,
                "{query}: {noops} NOOPs in {:?}",
                started.elapsed()
            );
            assert!(
                messages.last().unwrap().is_success(),
                "{query}: {messages:?}"
            );
        }
        // Idle: nothing arrives.
        let mut buf = [0u8; 2];
        let quiet = tokio::time::timeout(
            std::time::Duration::from_millis(700),
            tokio::io::AsyncReadExt::read(&mut c.stream, &mut buf),
        )
        .await;
        assert!(quiet.is_err(), "an idle connection got {buf:?}");
    });
    drop(server);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auth_in_hello_up_to_5_0() {
    let server = start().await;
    let (mut c, _) = Client::handshake(server.addr, exactly(5, 0)).await;
    c.send(
        HELLO,
        &[map(&[
            ("scheme", Value::from("basic")),
            ("principal", Value::from("neo4j")),
            ("credentials", Value::from("secret")),
        ])],
    )
    .await;
    assert!(c.recv().await.unwrap().is_success());
    c.run("USER", empty(), empty()).await;
    c.pull(-1, None).await;
    assert!(c.recv().await.unwrap().is_success());
    let (rows, _) = c.records().await;
    assert_eq!(rows, vec![vec![Value::from("neo4j")]]);

    let (mut c, _) = Client::handshake(server.addr, exactly(4, 4)).await;
    c.send(
        HELLO,
        &[map(&[
            ("scheme", Value::from("basic")),
            ("principal", Value::from("neo4j")),
            ("credentials", Value::from("wrong")),
        ])],
    )
    .await;
    let r = c.recv().await.unwrap();
    assert_eq!(r.tag, FAILURE);
    assert_eq!(r.code(), "Neo.ClientError.Security.Unauthorized");
    // Trap 19: neo4rs panics without a message.
    assert!(matches!(r.get("message"), Some(Value::String(_))));
    c.expect_closed().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logon_flow_5_1_plus() {
    let server = start().await;
    let (mut c, _) = Client::handshake(server.addr, exactly(5, 1)).await;
    // HELLO + LOGON pipelined, as Python does. Trap 11: {} means anonymous.
    c.send(HELLO, &[map(&[("user_agent", Value::from("py"))])])
        .await;
    c.send(LOGON, &[empty()]).await;
    assert!(c.recv().await.unwrap().is_success());
    assert!(c.recv().await.unwrap().is_success());
    assert_eq!(server.log.entries(), vec!["auth none".to_string()]);
    // LOGOFF then LOGON with credentials.
    c.send(LOGOFF, &[]).await;
    assert!(c.recv().await.unwrap().is_success());
    c.send(
        LOGON,
        &[map(&[
            ("scheme", Value::from("basic")),
            ("principal", Value::from("neo4j")),
            ("credentials", Value::from("secret")),
        ])],
    )
    .await;
    assert!(c.recv().await.unwrap().is_success());
    // A bad LOGON ends the connection.
    c.send(LOGOFF, &[]).await;
    assert!(c.recv().await.unwrap().is_success());
    c.send(
        LOGON,
        &[map(&[
            ("scheme", Value::from("basic")),
            ("principal", Value::from("x")),
            ("credentials", Value::from("y")),
        ])],
    )
    .await;
    let r = c.recv().await.unwrap();
    assert_eq!(r.code(), "Neo.ClientError.Security.Unauthorized");
    c.expect_closed().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_before_logon_is_a_violation() {
    let server = start().await;
    let (mut c, _) = Client::handshake(server.addr, exactly(5, 4)).await;
    c.send(HELLO, &[empty()]).await;
    assert!(c.recv().await.unwrap().is_success());
    c.run("ROWS 1", empty(), empty()).await;
    let r = c.recv().await.unwrap();
    assert_eq!(r.code(), "Neo.ClientError.Request.Invalid");
    c.expect_closed().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_message_must_be_hello() {
    let server = start().await;
    let (mut c, _) = Client::handshake(server.addr, exactly(4, 4)).await;
    c.run("ROWS 1", empty(), empty()).await;
    assert_eq!(
        c.recv().await.unwrap().code(),
        "Neo.ClientError.Request.Invalid"
    );
    c.expect_closed().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hello_twice_is_a_violation() {
    let server = start().await;
    let mut c = Client::ready(server.addr, 5, 4).await;
    c.send(HELLO, &[empty()]).await;
    let r = c.recv().await.unwrap();
    assert_eq!(r.tag, FAILURE);
    assert_eq!(r.code(), "Neo.ClientError.Request.Invalid");
    c.expect_closed().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pull_in_ready_is_a_violation() {
    let server = start().await;
    let mut c = Client::ready(server.addr, 4, 4).await;
    c.pull(-1, None).await;
    assert_eq!(
        c.recv().await.unwrap().code(),
        "Neo.ClientError.Request.Invalid"
    );
    c.expect_closed().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logoff_outside_ready_is_a_violation() {
    let server = start().await;
    let mut c = Client::ready(server.addr, 5, 1).await;
    c.send(BEGIN, &[empty()]).await;
    assert!(c.recv().await.unwrap().is_success());
    c.send(LOGOFF, &[]).await;
    assert_eq!(
        c.recv().await.unwrap().code(),
        "Neo.ClientError.Request.Invalid"
    );
    c.expect_closed().await;
    // The open transaction was rolled back when the connection died.
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    assert_eq!(
        server.log.entries().last().map(String::as_str),
        Some("rollback")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logon_not_available_before_5_1() {
    let server = start().await;
    let mut c = Client::ready(server.addr, 5, 0).await;
    c.send(LOGON, &[empty()]).await;
    assert_eq!(
        c.recv().await.unwrap().code(),
        "Neo.ClientError.Request.Invalid"
    );
    c.expect_closed().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_tag_fails_and_closes() {
    let server = start().await;
    let mut c = Client::ready(server.addr, 5, 4).await;
    c.send(0x55, &[]).await;
    let r = c.recv().await.unwrap();
    assert_eq!(r.tag, FAILURE);
    assert_eq!(r.code(), "Neo.ClientError.Request.Invalid");
    c.expect_closed().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auto_commit_run_pull_all_with_bookmark() {
    let server = start().await;
    let mut c = Client::ready(server.addr, 5, 4).await;
    c.run(
        "ROWS 3",
        empty(),
        map(&[
            ("bookmarks", Value::from(vec!["bm:0"])),
            ("mode", Value::from("r")),
        ]),
    )
    .await;
    c.pull(-1, Some(-1)).await; // neo4rs sends qid -1 in auto-commit
    let run = c.recv().await.unwrap();
    assert!(run.is_success());
    assert_eq!(run.get("fields"), Some(Value::from(vec!["n"])));
    assert!(matches!(run.get("t_first"), Some(Value::Int(_))));
    assert_eq!(run.get("qid"), None, "qid only in explicit transactions");
    let (rows, done) = c.records().await;
    assert_eq!(ints(&rows), vec![0, 1, 2]);
    assert!(done.is_success());
    assert!(matches!(done.get("bookmark"), Some(Value::String(s)) if s.starts_with("bm:")));
    assert_eq!(done.get("type"), Some(Value::from("r")));
    assert_eq!(done.get("db"), Some(Value::from("neo4j")));
    assert!(matches!(done.get("t_last"), Some(Value::Int(_))));
    assert_eq!(done.get("has_more"), None);
    assert_eq!(done.get("stats"), None, "no stats without updates");
    let log = server.log.entries();
    assert!(
        log[1].starts_with("begin auto=true db=None mode=Read bookmarks=[\"bm:0\"]"),
        "{log:?}"
    );
    assert_eq!(log.last().unwrap(), "commit");
    // Back in READY: another query works.
    c.run("ROWS 1", empty(), empty()).await;
    c.pull(-1, None).await;
    assert!(c.recv().await.unwrap().is_success());
    let (rows, done) = c.records().await;
    assert_eq!(rows.len(), 1);
    assert!(done.is_success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_mode_means_write() {
    // Trap 16: absence of mode means write.
    let server = start().await;
    let mut c = Client::ready(server.addr, 4, 4).await;
    c.send(BEGIN, &[map(&[("db", Value::from("neo4j"))])]).await;
    assert!(c.recv().await.unwrap().is_success());
    assert!(
        server.log.begins()[0].contains("mode=Write"),
        "{:?}",
        server.log.begins()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn write_stats_and_type() {
    let server = start().await;
    let mut c = Client::ready(server.addr, 4, 3).await;
    c.run("CREATE", empty(), empty()).await;
    c.pull(1000, None).await;
    let run = c.recv().await.unwrap();
    // Trap 6: fields present even when empty.
    assert_eq!(run.get("fields"), Some(Value::List(vec![])));
    let (rows, done) = c.records().await;
    assert!(rows.is_empty());
    assert_eq!(done.get("type"), Some(Value::from("w")));
    let stats = match done.get("stats") {
        Some(Value::Map(m)) => m,
        other => panic!("stats missing: {other:?}"),
    };
    assert_eq!(stats.get("nodes-created"), Some(&Value::Int(2)));
    assert_eq!(stats.get("properties-set"), Some(&Value::Int(3)));
    assert_eq!(stats.get("contains-updates"), Some(&Value::Bool(true)));
    assert_eq!(
        stats.get("nodes-deleted"),
        None,
        "zero counters are omitted"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn explain_plan_in_summary() {
    let server = start().await;
    let mut c = Client::ready(server.addr, 5, 0).await;
    c.run("EXPLAIN", empty(), empty()).await;
    c.pull(-1, None).await;
    c.recv().await.unwrap();
    let (_, done) = c.records().await;
    assert!(matches!(done.get("plan"), Some(Value::Map(_))));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn has_more_paging() {
    let server = start().await;
    let mut c = Client::ready(server.addr, 5, 4).await;
    c.run("ROWS 5", empty(), empty()).await;
    c.pull(2, None).await;
    c.pull(2, None).await;
    c.pull(2, None).await;
    assert!(c.recv().await.unwrap().is_success());
    let (rows, s) = c.records().await;
    assert_eq!(ints(&rows), vec![0, 1]);
    assert_eq!(s.get("has_more"), Some(Value::Bool(true)));
    assert_eq!(s.get("bookmark"), None);
    let (rows, s) = c.records().await;
    assert_eq!(ints(&rows), vec![2, 3]);
    assert_eq!(s.get("has_more"), Some(Value::Bool(true)));
    let (rows, s) = c.records().await;
    assert_eq!(ints(&rows), vec![4]);
    assert_eq!(s.get("has_more"), None);
    assert!(s.get("bookmark").is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exact_page_end_has_no_more() {
    let server = start().await;
    let mut c = Client::ready(server.addr, 4, 4).await;
    c.run("ROWS 2", empty(), empty()).await;
    c.pull(2, None).await;
    c.recv().await.unwrap();
    let (rows, s) = c.records().await;
    assert_eq!(rows.len(), 2);
    assert_eq!(s.get("has_more"), None);
    assert!(s.get("bookmark").is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discard_commits_auto_commit() {
    let server = start().await;
    let mut c = Client::ready(server.addr, 5, 2).await;
    c.run("ROWS 100", empty(), empty()).await;
    c.send(DISCARD, &[map(&[("n", Value::Int(-1))])]).await;
    c.recv().await.unwrap();
    let (rows, s) = c.records().await;
    assert!(rows.is_empty());
    assert!(s.is_success());
    assert!(s.get("bookmark").is_some());
    assert_eq!(server.log.entries().last().unwrap(), "commit");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discard_some_then_pull_rest() {
    let server = start().await;
    let mut c = Client::ready(server.addr, 5, 2).await;
    c.run("ROWS 5", empty(), empty()).await;
    c.send(DISCARD, &[map(&[("n", Value::Int(3))])]).await;
    c.pull(-1, None).await;
    c.recv().await.unwrap();
    let (rows, s) = c.records().await;
    assert!(rows.is_empty());
    assert_eq!(s.get("has_more"), Some(Value::Bool(true)));
    let (rows, s) = c.records().await;
    assert_eq!(ints(&rows), vec![3, 4]);
    assert!(s.get("bookmark").is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn explicit_tx_qids_and_multiple_streams() {
    // Trap 9: qids 0, 1, 2 per transaction, positional for py2neo.
    let server = start().await;
    let mut c = Client::ready(server.addr, 4, 3).await;
    for round in 0..2 {
        c.send(BEGIN, &[map(&[("mode", Value::from("r"))])]).await;
        c.run("ROWS 2", empty(), empty()).await;
        c.run("ROWS 3", empty(), empty()).await;
        c.run("ROWS 4", empty(), empty()).await;
        assert!(c.recv().await.unwrap().is_success());
        for q in 0..3 {
            let r = c.recv().await.unwrap();
            assert_eq!(r.get("qid"), Some(Value::Int(q)), "round {round}");
        }
        // Pull out of order, by qid; -1 means the latest statement.
        c.pull(-1, Some(1)).await;
        let (rows, s) = c.records().await;
        assert_eq!(rows.len(), 3);
        assert_eq!(s.get("bookmark"), None, "no bookmark inside a transaction");
        assert_eq!(s.get("type"), Some(Value::from("r")));
        c.pull(-1, Some(-1)).await;
        let (rows, _) = c.records().await;
        assert_eq!(rows.len(), 4);
        c.pull(1, Some(0)).await;
        let (rows, s) = c.records().await;
        assert_eq!(rows.len(), 1);
        assert_eq!(s.get("has_more"), Some(Value::Bool(true)));
        c.pull(-1, Some(0)).await;
        let (rows, _) = c.records().await;
        assert_eq!(rows.len(), 1);
        c.send(COMMIT, &[]).await;
        let r = c.recv().await.unwrap();
        assert!(r.is_success());
        assert!(matches!(r.get("bookmark"), Some(Value::String(_))));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commit_with_open_streams_is_lenient() {
    let server = start().await;
    let mut c = Client::ready(server.addr, 4, 1).await;
    c.send(BEGIN, &[map(&[("db", Value::from("neo4j"))])]).await;
    c.run("ROWS 10", empty(), map(&[("db", Value::from("neo4j"))]))
        .await;
    c.send(COMMIT, &[]).await;
    assert!(c.recv().await.unwrap().is_success());
    assert!(c.recv().await.unwrap().is_success());
    let r = c.recv().await.unwrap();
    assert!(r.is_success(), "{r:?}");
    assert!(r.get("bookmark").is_some());
    // Rollback with open streams, too.
    c.send(BEGIN, &[empty()]).await;
    c.run("ROWS 10", empty(), empty()).await;
    c.send(ROLLBACK, &[]).await;
    for _ in 0..3 {
        assert!(c.recv().await.unwrap().is_success());
    }
    assert_eq!(server.log.entries().last().unwrap(), "rollback");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failure_then_pipelined_ignored_until_reset() {
    // Trap 12: FAILED ignores everything until RESET, which always succeeds.
    let server = start().await;
    let mut c = Client::ready(server.addr, 5, 4).await;
    c.send(BEGIN, &[empty()]).await;
    c.run("FAIL", empty(), empty()).await;
    c.pull(1000, None).await;
    c.run("ROWS 1", empty(), empty()).await;
    c.send(COMMIT, &[]).await;
    assert!(c.recv().await.unwrap().is_success());
    let f = c.recv().await.unwrap();
    assert_eq!(f.tag, FAILURE);
    assert_eq!(f.code(), "Neo.ClientError.Statement.SyntaxError");
    for _ in 0..3 {
        assert_eq!(c.recv().await.unwrap().tag, IGNORED);
    }
    // Still FAILED: more requests are ignored, not failed.
    c.send(BEGIN, &[empty()]).await;
    assert_eq!(c.recv().await.unwrap().tag, IGNORED);
    c.send(RESET, &[]).await;
    assert!(c.recv().await.unwrap().is_success());
    assert!(server.log.entries().contains(&"rollback".to_string()));
    // READY again.
    c.run("ROWS 1", empty(), empty()).await;
    c.pull(-1, None).await;
    assert!(c.recv().await.unwrap().is_success());
    let (rows, _) = c.records().await;
    assert_eq!(rows.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auto_commit_run_failure_rolls_back() {
    let server = start().await;
    let mut c = Client::ready(server.addr, 4, 4).await;
    c.run("FAIL", empty(), empty()).await;
    c.pull(-1, None).await;
    assert_eq!(c.recv().await.unwrap().tag, FAILURE);
    assert_eq!(c.recv().await.unwrap().tag, IGNORED);
    assert_eq!(server.log.entries().last().unwrap(), "rollback");
    c.send(RESET, &[]).await;
    assert!(c.recv().await.unwrap().is_success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn row_error_mid_stream_fails_and_dooms_tx() {
    let server = start().await;
    let mut c = Client::ready(server.addr, 5, 0).await;
    c.run("FAILROWS 2", empty(), empty()).await;
    c.pull(-1, None).await;
    c.recv().await.unwrap();
    let (rows, s) = c.records().await;
    assert_eq!(rows.len(), 2);
    assert_eq!(s.tag, FAILURE);
    assert_eq!(s.code(), "Neo.ClientError.Statement.ArithmeticError");
    assert_eq!(server.log.entries().last().unwrap(), "rollback");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn begin_failure_and_unknown_qid() {
    let server = start().await;
    let mut c = Client::ready(server.addr, 4, 4).await;
    c.send(BEGIN, &[map(&[("db", Value::from("missing"))])])
        .await;
    assert_eq!(
        c.recv().await.unwrap().code(),
        "Neo.ClientError.Database.DatabaseNotFound"
    );
    c.send(RESET, &[]).await;
    assert!(c.recv().await.unwrap().is_success());
    c.send(BEGIN, &[empty()]).await;
    c.run("ROWS 1", empty(), empty()).await;
    c.pull(-1, Some(7)).await;
    assert!(c.recv().await.unwrap().is_success());
    assert!(c.recv().await.unwrap().is_success());
    assert_eq!(c.recv().await.unwrap().tag, FAILURE);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reset_in_every_state_succeeds() {
    let server = start().await;
    let mut c = Client::ready(server.addr, 5, 4).await;
    c.send(RESET, &[]).await; // READY
    assert!(c.recv().await.unwrap().is_success());
    c.run("ROWS 3", empty(), empty()).await; // STREAMING
    assert!(c.recv().await.unwrap().is_success());
    c.send(RESET, &[]).await;
    assert!(c.recv().await.unwrap().is_success());
    c.send(BEGIN, &[empty()]).await; // TX_READY
    assert!(c.recv().await.unwrap().is_success());
    c.send(RESET, &[]).await;
    assert!(c.recv().await.unwrap().is_success());
    c.send(BEGIN, &[empty()]).await; // TX_STREAMING
    c.run("ROWS 3", empty(), empty()).await;
    for _ in 0..2 {
        assert!(c.recv().await.unwrap().is_success());
    }
    c.send(RESET, &[]).await;
    assert!(c.recv().await.unwrap().is_success());
    let rollbacks = server
        .log
        .entries()
        .iter()
        .filter(|e| *e == "rollback")
        .count();
    assert_eq!(rollbacks, 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reset_jumps_the_queue() {
    // Requests already queued ahead of a RESET are IGNORED (INTERRUPTED).
    let server = start().await;
    let mut c = Client::ready(server.addr, 5, 4).await;
    let mut batch = Vec::new();
    for body in [
        encode_struct(RUN, &[Value::from("ROWS 3"), empty(), empty()], c.shape()),
        encode_struct(PULL, &[map(&[("n", Value::Int(-1))])], c.shape()),
        encode_struct(RESET, &[], c.shape()),
    ] {
        causeway_bolt::chunk::write_message(&mut batch, &body);
    }
    c.send_raw(&batch).await;
    // Depending on timing RUN may have been answered before RESET arrived;
    // whatever was answered, the last answer is RESET's SUCCESS and the
    // connection is usable.
    let mut tags = Vec::new();
    loop {
        let m = c.recv().await.unwrap();
        tags.push(m.tag);
        if tags.iter().filter(|t| **t != RECORD).count() == 3 {
            break;
        }
    }
    assert_eq!(*tags.last().unwrap(), SUCCESS);
    c.run("ROWS 1", empty(), empty()).await;
    c.pull(-1, None).await;
    assert!(c.recv().await.unwrap().is_success());
    let (rows, _) = c.records().await;
    assert_eq!(rows.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reset_interrupts_endless_stream() {
    let config = causeway_bolt::BoltConfig {
        pull_batch_rows: 100,
        ..Default::default()
    };
    let server = start_with(config).await;
    let mut c = Client::ready(server.addr, 5, 4).await;
    c.run("FOREVER", empty(), empty()).await;
    c.pull(-1, None).await;
    assert!(c.recv().await.unwrap().is_success());
    // Let some records flow, then RESET.
    for _ in 0..10 {
        assert_eq!(c.recv().await.unwrap().tag, RECORD);
    }
    c.send(RESET, &[]).await;
    let summary = loop {
        let m = c.recv().await.unwrap();
        if m.tag != RECORD {
            break m;
        }
    };
    assert_eq!(summary.tag, IGNORED);
    assert!(c.recv().await.unwrap().is_success());
    assert_eq!(server.log.entries().last().unwrap(), "rollback");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn goodbye_closes_and_rolls_back() {
    let server = start().await;
    let mut c = Client::ready(server.addr, 4, 4).await;
    c.send(BEGIN, &[empty()]).await;
    assert!(c.recv().await.unwrap().is_success());
    c.send(GOODBYE, &[]).await;
    c.expect_closed().await;
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    assert_eq!(server.log.entries().last().unwrap(), "rollback");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn telemetry_5_4() {
    let server = start().await;
    let mut c = Client::ready(server.addr, 5, 4).await;
    // Pipelined before BEGIN, as Python does.
    c.send(TELEMETRY, &[Value::Int(1)]).await;
    c.send(BEGIN, &[empty()]).await;
    assert!(c.recv().await.unwrap().is_success());
    assert!(c.recv().await.unwrap().is_success());
    c.send(ROLLBACK, &[]).await;
    assert!(c.recv().await.unwrap().is_success());
    c.send(TELEMETRY, &[Value::Int(42)]).await;
    assert_eq!(c.recv().await.unwrap().tag, FAILURE);
    c.send(RESET, &[]).await;
    assert!(c.recv().await.unwrap().is_success());
    // Not a message before 5.4.
    let mut old = Client::ready(server.addr, 5, 3).await;
    old.send(TELEMETRY, &[Value::Int(0)]).await;
    assert_eq!(
        old.recv().await.unwrap().code(),
        "Neo.ClientError.Request.Invalid"
    );
    old.expect_closed().await;
}

fn route_servers(r: &Msg) -> (Value, Option<Value>, Vec<String>) {
    let rt = match r.get("rt") {
        Some(Value::Map(m)) => m,
        other => panic!("no rt: {other:?}"),
    };
    let roles = match rt.get("servers") {
        Some(Value::List(l)) => l
            .iter()
            .map(|s| match s {
                Value::Map(m) => match m.get("role") {
                    Some(Value::String(r)) => r.clone(),
                    _ => panic!("role missing"),
                },
                _ => panic!("server entry not a map"),
            })
            .collect(),
        other => panic!("no servers: {other:?}"),
    };
    (
        rt.get("ttl").cloned().unwrap(),
        rt.get("db").cloned(),
        roles,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn route_4_4_extra_map() {
    // Trap 7: the third ROUTE field is a map from 4.4 on.
    let server = start().await;
    let mut c = Client::ready(server.addr, 4, 4).await;
    c.send(
        ROUTE,
        &[
            map(&[("address", Value::from("localhost:7687"))]),
            Value::from(vec!["bm:1"]),
            map(&[
                ("db", Value::from("neo4j")),
                ("imp_user", Value::from("bob")),
            ]),
        ],
    )
    .await;
    let r = c.recv().await.unwrap();
    assert!(r.is_success(), "{r:?}");
    let (ttl, db, roles) = route_servers(&r);
    assert_eq!(ttl, Value::Int(10));
    assert_eq!(db, Some(Value::from("neo4j")));
    assert_eq!(roles, vec!["ROUTE", "READ", "WRITE"]);
    assert_eq!(
        server.log.entries().last().unwrap(),
        "route db=Some(\"neo4j\") imp=Some(\"bob\") bookmarks=[\"bm:1\"]"
    );
    // Python omits null keys: an empty map means the home database.
    c.send(ROUTE, &[map(&[]), Value::List(vec![]), map(&[])])
        .await;
    assert!(c.recv().await.unwrap().is_success());
    assert_eq!(
        server.log.entries().last().unwrap(),
        "route db=None imp=None bookmarks=[]"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn route_4_3_string_db() {
    let server = start().await;
    let mut c = Client::ready(server.addr, 4, 3).await;
    c.send(
        ROUTE,
        &[map(&[]), Value::List(vec![]), Value::from("neo4j")],
    )
    .await;
    let r = c.recv().await.unwrap();
    let (_, db, _) = route_servers(&r);
    assert_eq!(db, None, "4.3 tables carry no db");
    c.send(ROUTE, &[map(&[]), Value::List(vec![]), Value::Null])
        .await;
    assert!(c.recv().await.unwrap().is_success());
    assert_eq!(
        server.log.entries().last().unwrap(),
        "route db=None imp=None bookmarks=[]"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn route_not_in_4_1_and_not_in_tx() {
    let server = start().await;
    let mut c = Client::ready(server.addr, 4, 1).await;
    c.send(ROUTE, &[map(&[]), Value::List(vec![]), Value::Null])
        .await;
    assert_eq!(
        c.recv().await.unwrap().code(),
        "Neo.ClientError.Request.Invalid"
    );
    c.expect_closed().await;
    let mut c = Client::ready(server.addr, 5, 0).await;
    c.send(BEGIN, &[empty()]).await;
    c.send(ROUTE, &[map(&[]), Value::List(vec![]), map(&[])])
        .await;
    assert!(c.recv().await.unwrap().is_success());
    assert_eq!(
        c.recv().await.unwrap().code(),
        "Neo.ClientError.Request.Invalid"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn routing_context_reaches_backend() {
    let server = start().await;
    let (mut c, _) = Client::handshake(server.addr, exactly(4, 4)).await;
    c.hello_and_logon(map(&[(
        "routing",
        map(&[("address", Value::from("h:7687"))]),
    )]))
    .await;
    c.send(BEGIN, &[empty()]).await;
    assert!(c.recv().await.unwrap().is_success());
    assert!(server.log.begins()[0].ends_with("routing=true"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graph_values_4x_and_5x() {
    // Trap 10: element ids are consistent across node, relationship and path.
    let server = start().await;
    for (major, minor) in [(4, 4), (5, 4)] {
        let mut c = Client::ready(server.addr, major, minor).await;
        c.run("GRAPH", empty(), empty()).await;
        c.pull(-1, None).await;
        c.recv().await.unwrap();
        let (rows, s) = c.records().await;
        assert!(s.is_success());
        assert_eq!(rows[0][0], Value::Node(sample_node(1)));
        assert_eq!(rows[0][1], Value::Relationship(sample_rel(10, 1, 2)));
        assert_eq!(rows[0][2], Value::Path(sample_path()));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_string_parameter_round_trip() {
    let server = start().await;
    let mut c = Client::ready(server.addr, 5, 4).await;
    let big: String = "abcdefghij".repeat(500_000); // 5 MB
    c.run("ECHO", map(&[("s", Value::from(big.clone()))]), empty())
        .await;
    c.pull(-1, None).await;
    c.recv().await.unwrap();
    let (rows, s) = c.records().await;
    assert!(s.is_success());
    assert_eq!(rows, vec![vec![Value::String(big)]]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_message_fails_and_closes() {
    let config = causeway_bolt::BoltConfig {
        max_message_size: 1024,
        ..Default::default()
    };
    let server = start_with(config).await;
    let mut c = Client::ready(server.addr, 5, 4).await;
    c.run(
        "ECHO",
        map(&[("s", Value::from("x".repeat(2000)))]),
        empty(),
    )
    .await;
    let r = c.recv().await.unwrap();
    assert_eq!(r.tag, FAILURE);
    assert_eq!(r.code(), "Neo.ClientError.Request.Invalid");
    c.expect_closed().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deep_nesting_parameter_is_a_clean_failure() {
    let server = start().await;
    let mut c = Client::ready(server.addr, 5, 4).await;
    // RUN "ECHO" {p: [[[[...]]]]} nested 10,000 deep, built by hand.
    let mut body = vec![0xB3, RUN, 0x84];
    body.extend_from_slice(b"ECHO");
    body.extend_from_slice(&[0xA1, 0x81, b'p']);
    body.extend(std::iter::repeat_n(0x91, 10_000));
    body.push(0xC0);
    body.push(0xA0);
    c.send_body(&body).await;
    let r = c.recv().await.unwrap();
    assert_eq!(r.tag, FAILURE);
    assert_eq!(r.code(), "Neo.ClientError.Request.InvalidFormat");
    // The message was well framed, so the connection survives a RESET.
    c.send(RESET, &[]).await;
    assert!(c.recv().await.unwrap().is_success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_utf8_and_temporal_parameters() {
    let server = start().await;
    let mut c = Client::ready(server.addr, 5, 4).await;
    let mut body = vec![0xB3, RUN, 0x84];
    body.extend_from_slice(b"ECHO");
    body.extend_from_slice(&[0xA1, 0x81, b'p', 0x82, 0xC3, 0x28, 0xA0]);
    c.send_body(&body).await;
    let r = c.recv().await.unwrap();
    assert_eq!(r.code(), "Neo.ClientError.Request.InvalidFormat");
    c.send(RESET, &[]).await;
    assert!(c.recv().await.unwrap().is_success());
    // A Date structure as a parameter is echoed back.
    let mut body = vec![0xB3, RUN, 0x84];
    body.extend_from_slice(b"ECHO");
    body.extend_from_slice(&[0xA1, 0x81, b'd', 0xB1, 0x44, 0x01, 0xA0]);
    c.send_body(&body).await;
    c.pull(-1, None).await;
    assert!(c.recv().await.unwrap().is_success());
    let (rows, s) = c.records().await;
    assert!(s.is_success());
    assert_eq!(rows, vec![vec![Value::Date(1)]]);
    // One beyond the year range is not.
    let mut body = vec![0xB3, RUN, 0x84];
    body.extend_from_slice(b"ECHO");
    body.extend_from_slice(&[0xA1, 0x81, b'd', 0xB1, 0x44, 0xCB]);
    body.extend_from_slice(&i64::MAX.to_be_bytes());
    body.push(0xA0);
    c.send_body(&body).await;
    let r = c.recv().await.unwrap();
    assert_eq!(r.code(), "Neo.ClientError.Request.InvalidFormat");
    assert!(matches!(r.get("message"), Some(Value::String(m)) if m.contains("Date")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tiny_chunks_and_noops() {
    let server = start().await;
    let mut c = Client::ready(server.addr, 4, 4).await;
    let body = encode_struct(RUN, &[Value::from("ROWS 2"), empty(), empty()], c.shape());
    let mut raw = vec![0, 0, 0, 0]; // NOOPs before the message
    for b in &body {
        raw.extend_from_slice(&[0, 1, *b]);
    }
    raw.extend_from_slice(&[0, 0, 0, 0]); // end marker, then a NOOP
    c.send_raw(&raw).await;
    c.pull(-1, None).await;
    assert!(c.recv().await.unwrap().is_success());
    let (rows, _) = c.records().await;
    assert_eq!(rows.len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_pipelined_requests_without_reading() {
    // The server must not deadlock or drop answers when a client pipelines
    // far more than one buffer's worth before reading.
    let server = start().await;
    let c = Client::ready(server.addr, 5, 4).await;
    let mut batch = Vec::new();
    for _ in 0..2000 {
        for body in [
            encode_struct(RUN, &[Value::from("ROWS 3"), empty(), empty()], c.shape()),
            encode_struct(PULL, &[map(&[("n", Value::Int(-1))])], c.shape()),
        ] {
            causeway_bolt::chunk::write_message(&mut batch, &body);
        }
    }
    let (mut rd, mut wr) = c.stream.into_split();
    let writer = tokio::spawn(async move {
        use tokio::io::AsyncWriteExt;
        wr.write_all(&batch).await.unwrap();
        wr
    });
    let mut buf = Vec::new();
    let mut d = causeway_bolt::chunk::Dechunker::new(usize::MAX);
    let mut summaries = 0;
    let mut records = 0;
    while summaries < 4000 {
        use tokio::io::AsyncReadExt;
        let mut tmp = [0u8; 65536];
        let n = tokio::time::timeout(TIMEOUT, rd.read(&mut tmp))
            .await
            .unwrap()
            .unwrap();
        assert!(n > 0, "closed early");
        buf.extend_from_slice(&tmp[..n]);
        while let Some(m) = d.next_message(&mut buf).unwrap() {
            match m[1] {
                RECORD => records += 1,
                SUCCESS => summaries += 1,
                other => panic!("unexpected 0x{other:02X}"),
            }
        }
    }
    assert_eq!(records, 6000);
    writer.await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_stops_accepting_and_closes_idle() {
    let server = start().await;
    let mut c = Client::ready(server.addr, 5, 4).await;
    server.shutdown.send(true).unwrap();
    c.expect_closed().await;
    let r = tokio::time::timeout(TIMEOUT, server.task)
        .await
        .unwrap()
        .unwrap();
    assert!(r.is_ok());
    assert!(tokio::net::TcpStream::connect(server.addr).await.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_that_never_reads_is_dropped_after_write_timeout() {
    let config = causeway_bolt::BoltConfig {
        write_timeout: std::time::Duration::from_millis(300),
        ..Default::default()
    };
    let server = start_with(config).await;
    let mut c = Client::ready(server.addr, 5, 4).await;
    c.run("FOREVER", empty(), empty()).await;
    c.pull(-1, None).await;
    // Never read. The server must give up, roll back and free the memory.
    let deadline = std::time::Instant::now() + TIMEOUT;
    while !server.log.entries().contains(&"rollback".to_string()) {
        assert!(
            std::time::Instant::now() < deadline,
            "server kept streaming to a dead reader"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_idle_connections() {
    let server = start().await;
    let mut idle = Vec::new();
    for _ in 0..300 {
        idle.push(Client::ready(server.addr, 4, 4).await);
    }
    // All of them still work.
    for c in idle.iter_mut().step_by(50) {
        c.run("ROWS 1", empty(), empty()).await;
        c.pull(-1, None).await;
        assert!(c.recv().await.unwrap().is_success());
        let (rows, _) = c.records().await;
        assert_eq!(rows.len(), 1);
    }
}

/// 02:15 at +01:00 on 1970-01-01: UTC seconds 4500, wall-clock seconds 8100.
fn sample_datetime() -> Value {
    Value::DateTime(causeway_value::DateTime {
        seconds: 4500,
        nanos: 0,
        tz: causeway_value::Tz::Offset(3600),
    })
}

/// Echoes a date-time and returns the RECORD's raw body.
async fn echo_datetime(c: &mut Client) -> Vec<u8> {
    c.run("ECHO", map(&[("t", sample_datetime())]), empty())
        .await;
    c.pull(-1, None).await;
    assert!(c.recv().await.unwrap().is_success());
    let r = c.recv().await.unwrap();
    assert_eq!(r.tag, RECORD);
    assert_eq!(r.fields, vec![Value::List(vec![sample_datetime()])]);
    let body = c.last_body.clone();
    assert!(c.recv().await.unwrap().is_success());
    body
}

fn has(body: &[u8], needle: &[u8]) -> bool {
    body.windows(needle.len()).any(|w| w == needle)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn utc_patch_is_negotiated_on_4_4_only() {
    // Trap 13: patch_bolt is echoed exactly when we switch DateTime forms.
    let legacy = [0xB3, 0x46, 0xC9, 0x1F, 0xA4, 0x00, 0xC9, 0x0E, 0x10];
    let fixed = [0xB3, 0x49, 0xC9, 0x11, 0x94, 0x00, 0xC9, 0x0E, 0x10];
    let server = start().await;

    let (mut c, _) = Client::handshake(server.addr, exactly(4, 4)).await;
    c.send(HELLO, &[map(&[("patch_bolt", Value::from(vec!["utc"]))])])
        .await;
    let r = c.recv().await.unwrap();
    assert!(r.is_success());
    assert_eq!(r.get("patch_bolt"), Some(Value::from(vec!["utc"])));
    let body = echo_datetime(&mut c).await;
    assert!(has(&body, &fixed) && !has(&body, &legacy), "{body:02X?}");

    let mut c = Client::ready(server.addr, 4, 4).await;
    let body = echo_datetime(&mut c).await;
    assert!(has(&body, &legacy) && !has(&body, &fixed), "{body:02X?}");

    // 5.x always uses the fixed form and never echoes the patch.
    let (mut c, _) = Client::handshake(server.addr, exactly(5, 4)).await;
    c.send(HELLO, &[map(&[("patch_bolt", Value::from(vec!["utc"]))])])
        .await;
    let r = c.recv().await.unwrap();
    assert_eq!(r.get("patch_bolt"), None);
    c.send(0x6A, &[empty()]).await;
    assert!(c.recv().await.unwrap().is_success());
    let body = echo_datetime(&mut c).await;
    assert!(has(&body, &fixed) && !has(&body, &legacy), "{body:02X?}");

    // 4.1 has no patch: unknown patches are ignored, not echoed.
    let (mut c, _) = Client::handshake(server.addr, exactly(4, 1)).await;
    c.send(HELLO, &[map(&[("patch_bolt", Value::from(vec!["utc"]))])])
        .await;
    let r = c.recv().await.unwrap();
    assert_eq!(r.get("patch_bolt"), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_temporal_parameter_fails_the_request_only() {
    let server = start().await;
    let mut c = Client::ready(server.addr, 5, 4).await;
    // RUN "ECHO" {t: Time(nanos = one day, offset 0)}, {}.
    let mut body = vec![0xB3, 0x10, 0x84];
    body.extend_from_slice(b"ECHO");
    body.extend_from_slice(&[0xA1, 0x81, b't', 0xB2, 0x54, 0xCB]);
    body.extend_from_slice(&86_400_000_000_000i64.to_be_bytes());
    body.extend_from_slice(&[0x00, 0xA0]);
    c.send_body(&body).await;
    let r = c.recv().await.unwrap();
    assert_eq!(r.code(), "Neo.ClientError.Request.InvalidFormat");
    c.send(0x0F, &[]).await;
    assert!(c.recv().await.unwrap().is_success());
    c.run("ROWS 1", empty(), empty()).await;
    c.pull(-1, None).await;
    assert!(c.recv().await.unwrap().is_success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn py2neo_routing_procedure_pattern() {
    // Trap 8: py2neo runs the routing procedure as an auto-commit query on
    // `system` with PULL {n: -1, qid: -1}; the database name reaches the
    // backend and the columns come back in the order the backend gave.
    let server = start().await;
    let mut c = Client::ready(server.addr, 4, 3).await;
    c.run(
        "ECHO",
        map(&[("context", map(&[("address", Value::from("h:7687"))]))]),
        map(&[("db", Value::from("system"))]),
    )
    .await;
    c.pull(-1, Some(-1)).await;
    let r = c.recv().await.unwrap();
    assert_eq!(r.get("fields"), Some(Value::from(vec!["context"])));
    let (rows, s) = c.records().await;
    assert_eq!(rows.len(), 1);
    assert!(s.get("bookmark").is_some());
    assert!(server.log.begins()[0].contains("db=Some(\"system\")"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failure_codes_have_four_parts() {
    // Trap 5: py2neo crashes on codes that are not Neo.X.Y.Z.
    let server = start().await;
    let mut c = Client::ready(server.addr, 4, 3).await;
    c.run("FAIL", empty(), empty()).await;
    let r = c.recv().await.unwrap();
    let code = r.code();
    assert_eq!(code.split('.').count(), 4, "{code}");
    assert!(code.starts_with("Neo."));
    c.send(0x55, &[]).await; // FAILED: unknown tags still close
    let r = c.recv().await.unwrap();
    assert_eq!(r.code(), "Neo.ClientError.Request.Invalid");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_results_per_transaction_are_bounded() {
    let config = causeway_bolt::BoltConfig {
        max_open_results: 2,
        ..Default::default()
    };
    let server = start_with(config).await;
    let mut c = Client::ready(server.addr, 4, 4).await;
    c.send(BEGIN, &[empty()]).await;
    for _ in 0..3 {
        c.run("ROWS 1", empty(), empty()).await;
    }
    for _ in 0..3 {
        assert!(c.recv().await.unwrap().is_success());
    }
    let r = c.recv().await.unwrap();
    assert_eq!(r.tag, FAILURE);
    assert_eq!(server.log.entries().last().unwrap(), "rollback");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_record_fails_the_pull() {
    let config = causeway_bolt::BoltConfig {
        max_record_size: 100,
        ..Default::default()
    };
    let server = start_with(config).await;
    let mut c = Client::ready(server.addr, 5, 4).await;
    c.run("ECHO", map(&[("s", Value::from("y".repeat(200)))]), empty())
        .await;
    c.pull(-1, None).await;
    assert!(c.recv().await.unwrap().is_success());
    let (rows, s) = c.records().await;
    assert!(rows.is_empty());
    assert_eq!(s.tag, FAILURE);
    assert!(s.code().starts_with("Neo.DatabaseError."));
    c.send(RESET, &[]).await;
    assert!(c.recv().await.unwrap().is_success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thousands_of_tiny_pipelined_requests_stay_linear() {
    let server = start().await;
    let c = Client::ready(server.addr, 5, 4).await;
    const N: usize = 30_000;
    let mut batch = Vec::new();
    for _ in 0..N {
        causeway_bolt::chunk::write_message(&mut batch, &[0xB0, RESET]);
    }
    let (mut rd, mut wr) = c.stream.into_split();
    let writer = tokio::spawn(async move {
        use tokio::io::AsyncWriteExt;
        wr.write_all(&batch).await.unwrap();
        wr
    });
    let mut buf = Vec::new();
    let mut d = causeway_bolt::chunk::Dechunker::new(usize::MAX);
    let mut answers = 0;
    let started = std::time::Instant::now();
    while answers < N {
        use tokio::io::AsyncReadExt;
        let mut tmp = [0u8; 65536];
        let n = tokio::time::timeout(TIMEOUT, rd.read(&mut tmp))
            .await
            .unwrap()
            .unwrap();
        assert!(n > 0, "closed early");
        buf.extend_from_slice(&tmp[..n]);
        while let Some(m) = d.next_message(&mut buf).unwrap() {
            assert_eq!(m[1], SUCCESS);
            answers += 1;
        }
    }
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
    writer.await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn half_closed_client_still_gets_its_answers() {
    let config = causeway_bolt::BoltConfig {
        pull_batch_rows: 10,
        ..Default::default()
    };
    let server = start_with(config).await;
    let mut c = Client::ready(server.addr, 4, 4).await;
    c.run("ROWS 1000", empty(), empty()).await;
    c.pull(-1, None).await;
    {
        use tokio::io::AsyncWriteExt;
        c.stream.shutdown().await.unwrap();
    }
    assert!(c.recv().await.unwrap().is_success());
    let (rows, s) = c.records().await;
    assert_eq!(rows.len(), 1000);
    assert!(s.get("bookmark").is_some());
    c.expect_closed().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_extra_value_fails_request_but_not_connection() {
    let server = start().await;
    let mut c = Client::ready(server.addr, 5, 4).await;
    c.send(BEGIN, &[map(&[("tx_timeout", Value::Int(-5))])])
        .await;
    let r = c.recv().await.unwrap();
    assert_eq!(r.code(), "Neo.ClientError.Request.Invalid");
    c.send(RESET, &[]).await;
    assert!(c.recv().await.unwrap().is_success());
    c.send(
        BEGIN,
        &[map(&[
            ("tx_timeout", Value::Int(1500)),
            ("tx_metadata", map(&[("a", Value::Int(1))])),
            ("bookmarks", Value::Null),
        ])],
    )
    .await;
    assert!(c.recv().await.unwrap().is_success());
    assert!(
        server.log.begins()[0].contains("timeout=Some(1.5s)"),
        "{:?}",
        server.log.begins()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unauthenticated_connections_time_out_but_authenticated_idle_ones_stay() {
    let config = causeway_bolt::BoltConfig {
        auth_timeout: std::time::Duration::from_millis(200),
        ..Default::default()
    };
    let server = start_with(config).await;
    // 5.1+: HELLO but never LOGON.
    let (mut lazy, _) = Client::handshake(server.addr, exactly(5, 4)).await;
    lazy.send(HELLO, &[empty()]).await;
    assert!(lazy.recv().await.unwrap().is_success());
    // 4.4: handshake but never HELLO.
    let (mut silent, _) = Client::handshake(server.addr, exactly(4, 4)).await;
    let mut good = Client::ready(server.addr, 5, 4).await;
    lazy.expect_closed().await;
    silent.expect_closed().await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    good.run("ROWS 1", empty(), empty()).await;
    good.pull(-1, None).await;
    assert!(good.recv().await.unwrap().is_success());
    let (rows, _) = good.records().await;
    assert_eq!(rows.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_result_streams_in_bounded_batches() {
    let server = start().await;
    let mut c = Client::ready(server.addr, 5, 4).await;
    c.run("ROWS 200000", empty(), empty()).await;
    c.pull(-1, None).await;
    let started = std::time::Instant::now();
    assert!(c.recv().await.unwrap().is_success());
    let (rows, s) = c.records().await;
    assert_eq!(rows.len(), 200_000);
    assert_eq!(rows.last().unwrap()[0], Value::Int(199_999));
    assert!(s.get("bookmark").is_some());
    assert!(started.elapsed() < std::time::Duration::from_secs(20));
}
