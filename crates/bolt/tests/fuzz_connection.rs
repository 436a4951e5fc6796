//! Deterministic pseudo-random request sequences and byte mutations thrown at
//! a whole connection (state machine included). The connection task must
//! end without panicking, and every answered request gets exactly one
//! summary, in order.
mod common;

use std::sync::Arc;

use causeway_bolt::chunk::{write_message, Dechunker};
use causeway_bolt::packstream::GraphShape;
use causeway_bolt::{serve_connection, BoltConfig};
use causeway_value::Value;
use common::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        // splitmix64: deterministic, good enough to vary test inputs.
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[self.below(xs.len() as u64) as usize]
    }
}

fn stream_request(rng: &mut Rng, shape: GraphShape, qids: u64) -> Vec<u8> {
    let n = *rng.pick(&[-1i64, 1, 2, 5]);
    let tag = if rng.below(5) == 0 { 0x2F } else { 0x3F };
    let mut m = vec![("n", Value::Int(n))];
    if qids > 0 && rng.below(2) == 0 {
        m.push(("qid", Value::Int(rng.below(qids) as i64)));
    }
    encode_struct(tag, &[map(&m)], shape)
}

fn run_request(rng: &mut Rng, shape: GraphShape) -> Vec<u8> {
    let query = *rng.pick(&[
        "ROWS 0",
        "ROWS 3",
        "ROWS 7",
        "ROWS 1",
        "FAIL",
        "FAILROWS 2",
        "CREATE",
        "GRAPH",
        "ECHO",
    ]);
    let params = map(&[("x", Value::Int(1))]);
    encode_struct(0x10, &[Value::from(query), params, map(&[])], shape)
}

/// A plausible client conversation: auto-commit queries and explicit
/// transactions with pulls, occasionally sprinkled with arbitrary requests.
fn scenario(rng: &mut Rng, shape: GraphShape, out: &mut Vec<Vec<u8>>) {
    if rng.below(2) == 0 {
        out.push(run_request(rng, shape));
        for _ in 0..1 + rng.below(3) {
            out.push(stream_request(rng, shape, 1));
        }
    } else {
        out.push(encode_struct(0x11, &[map(&[])], shape));
        let runs = rng.below(4);
        for _ in 0..runs {
            out.push(run_request(rng, shape));
            if rng.below(2) == 0 {
                out.push(stream_request(rng, shape, runs));
            }
        }
        out.push(encode_struct(
            if rng.below(4) == 0 { 0x13 } else { 0x12 },
            &[],
            shape,
        ));
    }
    if rng.below(12) == 0 {
        out.push(random_request(rng, shape));
    }
    if rng.below(10) == 0 {
        out.push(encode_struct(0x0F, &[], shape));
    }
}

fn random_request(rng: &mut Rng, shape: GraphShape) -> Vec<u8> {
    let e = map(&[]);
    let n = *rng.pick(&[-1i64, 1, 2, 5, -1, 3, -1, 1, 2, 0]);
    let qid = *rng.pick(&[-1i64, -1, -1, 0, 1, 2, 9]);
    let stream = map(&[("n", Value::Int(n)), ("qid", Value::Int(qid))]);
    let query = *rng.pick(&[
        "ROWS 0",
        "ROWS 3",
        "FAIL",
        "FAILROWS 1",
        "CREATE",
        "GRAPH",
        "ECHO",
    ]);
    // Weighted towards the transaction and streaming paths; requests that
    // end a connection (violations, GOODBYE) or interrupt it (RESET) are
    // rarer so that sequences get deep into the state machine.
    let (tag, fields): (u8, Vec<Value>) = match rng.below(40) {
        0 => (0x01, vec![map(&[("scheme", Value::from("none"))])]),
        1 => (0x6A, vec![e]),
        2 => (0x6B, vec![]),
        3..=12 => (
            0x10,
            vec![Value::from(query), map(&[("x", Value::Int(1))]), e],
        ),
        13..=15 => (0x11, vec![map(&[("mode", Value::from("r"))])]),
        16 | 17 => (0x12, vec![]),
        18 => (0x13, vec![]),
        19..=28 => (0x3F, vec![stream]),
        29..=31 => (0x2F, vec![stream]),
        32 => (0x0F, vec![]),
        33 => (0x54, vec![Value::Int(rng.below(6) as i64)]),
        34 => (0x66, vec![e.clone(), Value::List(vec![]), e]),
        35 => (0x66, vec![e, Value::List(vec![]), Value::from("neo4j")]),
        36 => (0x02, vec![]),
        37 => (rng.below(256) as u8, vec![]),
        _ => (0x10, vec![Value::from("ROWS 4"), e.clone(), e]),
    };
    encode_struct(tag, &fields, shape)
}

/// Runs one connection over an in-memory pipe; returns the server's output.
async fn drive(proposal: [u8; 16], input: Vec<u8>) -> Vec<u8> {
    let (mut client, server) = tokio::io::duplex(16 * 1024);
    let log = Arc::new(Log::default());
    let backend = Arc::new(Fake { log });
    let config = BoltConfig {
        pull_batch_rows: 2,
        ..Default::default()
    };
    let peer = "127.0.0.1:1".parse().unwrap();
    let task = tokio::spawn(async move { serve_connection(server, peer, backend, &config).await });
    let mut hs = vec![0x60, 0x60, 0xB0, 0x17];
    hs.extend_from_slice(&proposal);
    hs.extend_from_slice(&input);
    let (mut rd, mut wr) = tokio::io::split(client);
    let writer = tokio::spawn(async move {
        let _ = wr.write_all(&hs).await;
        let _ = wr.shutdown().await;
        wr
    });
    let mut out = Vec::new();
    tokio::time::timeout(TIMEOUT, rd.read_to_end(&mut out))
        .await
        .expect("connection did not finish")
        .unwrap();
    task.await.expect("connection task panicked");
    let wr = writer.await.unwrap();
    client = rd.unsplit(wr);
    drop(client);
    out
}

/// Splits server output into (tags of) messages after the 4-byte version.
fn tags(out: &[u8]) -> Vec<u8> {
    let mut rest = out.get(4..).unwrap_or_default().to_vec();
    let mut d = Dechunker::new(usize::MAX);
    let mut tags = Vec::new();
    while let Ok(Some(m)) = d.next_message(&mut rest) {
        tags.push(m[1]);
    }
    tags
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_request_sequences() {
    let mut rng = Rng(0x5EED_1234_ABCD_0001);
    let (mut total_records, mut total_summaries, mut total_ignored) = (0, 0, 0);
    for round in 0..400 {
        let (major, minor) = *rng.pick(&[(4u8, 1u8), (4, 3), (4, 4), (5, 0), (5, 1), (5, 4)]);
        let shape = if major >= 5 {
            GraphShape::V5
        } else {
            GraphShape::V4
        };
        let mut input = Vec::new();
        // Usually start with a proper HELLO/LOGON to get past authentication.
        if rng.below(8) != 0 {
            write_message(&mut input, &encode_struct(0x01, &[map(&[])], shape));
            if (major, minor) >= (5, 1) {
                write_message(&mut input, &encode_struct(0x6A, &[map(&[])], shape));
            }
        }
        let mut requests = Vec::new();
        for _ in 0..1 + rng.below(6) {
            scenario(&mut rng, shape, &mut requests);
        }
        let count = requests.len() as u64;
        for r in requests {
            write_message(&mut input, &r);
        }
        let out = drive(exactly(major, minor), input).await;
        assert_eq!(&out[..4], &[0, 0, minor, major], "round {round}");
        let tags = tags(&out);
        let summaries = tags.iter().filter(|t| **t != RECORD).count();
        assert!(
            summaries as u64 <= count + 2,
            "round {round}: more summaries than requests"
        );
        total_records += tags.iter().filter(|t| **t == RECORD).count();
        total_ignored += tags.iter().filter(|t| **t == IGNORED).count();
        total_summaries += summaries;
    }
    // Guard against a generator that only ever trips the first check.
    assert!(total_records > 100, "{total_records} records");
    assert!(total_ignored > 100, "{total_ignored} ignored");
    assert!(total_summaries > 2000, "{total_summaries} summaries");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mutated_byte_streams() {
    let mut rng = Rng(0xBADC_0FFE_E0DD_F00D);
    let shape = GraphShape::V5;
    let mut base = Vec::new();
    write_message(&mut base, &encode_struct(0x01, &[map(&[])], shape));
    write_message(&mut base, &encode_struct(0x6A, &[map(&[])], shape));
    for _ in 0..10 {
        write_message(&mut base, &random_request(&mut rng, shape));
    }
    for _ in 0..300 {
        let mut input = base.clone();
        for _ in 0..1 + rng.below(8) {
            let i = rng.below(input.len() as u64) as usize;
            match rng.below(3) {
                0 => input[i] ^= 1 << rng.below(8),
                1 => input[i] = rng.below(256) as u8,
                _ => input.truncate(i),
            }
            if input.is_empty() {
                break;
            }
        }
        drive(exactly(5, 4), input).await;
    }
}
