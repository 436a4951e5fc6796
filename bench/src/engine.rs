//! `engine`: Causeway over Bolt against FalkorDB over RESP, each through a
//! native client of this binary, on the graph bench/engine.py loaded into
//! both (`:Person` nodes with ids `0..people`, `:KNOWS` between them).
//!
//! Every round runs each workload on both systems, one after the other,
//! and swaps which goes first every round, so that drift on a shared
//! machine falls on both; the report gives each system's merged figures
//! and the Causeway / FalkorDB ratio of every round.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use causeway_value::Value;

use crate::client::{params, Client};
use crate::resp::RespClient;
use crate::{drive, row, spread, Args, Stats};

const LOOKUP: &str = "MATCH (p:Person {id: $id}) RETURN p.name";
const ONE_HOP: &str = "MATCH (p:Person {id: $id})-[:KNOWS]->(f) RETURN count(f)";
const WRITE: &str = "CREATE (:W {v: $v})";

#[derive(Clone, Copy, PartialEq)]
enum Work {
    Lookup,
    OneHop,
    Write,
}

impl Work {
    fn text(self) -> &'static str {
        match self {
            Work::Lookup => LOOKUP,
            Work::OneHop => ONE_HOP,
            Work::Write => WRITE,
        }
    }
}

struct Workload {
    name: &'static str,
    work: Work,
    clients: usize,
    /// Compared by p50 latency (a single client) rather than by rate.
    latency: bool,
}

const WORKLOADS: [Workload; 5] = [
    Workload {
        name: "point lookup, 1 client",
        work: Work::Lookup,
        clients: 1,
        latency: true,
    },
    Workload {
        name: "1-hop count, 1 client",
        work: Work::OneHop,
        clients: 1,
        latency: true,
    },
    Workload {
        name: "point lookup, 16 clients",
        work: Work::Lookup,
        clients: 16,
        latency: false,
    },
    Workload {
        name: "1-hop count, 16 clients",
        work: Work::OneHop,
        clients: 16,
        latency: false,
    },
    Workload {
        name: "tiny durable write (auto-commit CREATE), 64 clients",
        work: Work::Write,
        clients: 64,
        latency: false,
    },
];

/// The first error of a run, kept so that a non-zero error count in the
/// report comes with its reason.
type FirstError = Arc<Mutex<Option<String>>>;

fn note(first: &FirstError, e: &anyhow::Error) {
    let mut slot = first.lock().unwrap_or_else(|p| p.into_inner());
    slot.get_or_insert_with(|| format!("{e:#}"));
}

fn one_row(rows: usize) -> anyhow::Result<()> {
    anyhow::ensure!(rows == 1, "expected one row, got {rows}");
    Ok(())
}

async fn causeway(a: &Args, w: &Workload, first: FirstError) -> anyhow::Result<Stats> {
    let mut connected = Vec::with_capacity(w.clients);
    for _ in 0..w.clients {
        let mut c = Client::connect(&a.addr, &a.user, &a.password, false).await?;
        c.read = w.work != Work::Write;
        connected.push(c);
    }
    let (work, people) = (w.work, a.people);
    drive(
        connected,
        Duration::from_secs(a.seconds),
        move |mut c, i| {
            let first = first.clone();
            async move {
                let r = if work == Work::Write {
                    let p = params(&[("v", Value::Int(i as i64))]);
                    c.query(WRITE, p).await.map(|_| ())
                } else {
                    let p = params(&[("id", Value::Int(spread(i, people)))]);
                    c.query(work.text(), p)
                        .await
                        .and_then(|rows| one_row(rows.len()))
                };
                if let Err(e) = &r {
                    note(&first, e);
                }
                (c, r)
            }
        },
    )
    .await
}

async fn falkordb(a: &Args, addr: &str, w: &Workload, first: FirstError) -> anyhow::Result<Stats> {
    let mut connected = Vec::with_capacity(w.clients);
    for _ in 0..w.clients {
        connected.push(RespClient::connect(addr).await?);
    }
    let (work, people, graph) = (w.work, a.people, Arc::new(a.graph.clone()));
    drive(
        connected,
        Duration::from_secs(a.seconds),
        move |mut c, i| {
            let (first, graph) = (first.clone(), graph.clone());
            async move {
                // Parameters travel in FalkorDB's `CYPHER name=value` prefix,
                // as its own clients send them.
                let r = if work == Work::Write {
                    let q = format!("CYPHER v={i} {WRITE}");
                    c.graph_query(&graph, &q, false).await.map(|_| ())
                } else {
                    let q = format!("CYPHER id={} {}", spread(i, people), work.text());
                    c.graph_query(&graph, &q, true).await.and_then(one_row)
                };
                if let Err(e) = &r {
                    note(&first, e);
                }
                (c, r)
            }
        },
    )
    .await
}

/// Makes FalkorDB's writes as durable as Causeway's (acknowledged after
/// an fsync): the append-only file with `appendfsync always`. Turning the
/// file on at run time first writes the whole data set as its base; that
/// finishes before the first measurement so that it does not share the
/// machine with one.
async fn falkordb_durable(addr: &str) -> anyhow::Result<()> {
    let mut c = RespClient::connect(addr).await?;
    c.command(&["CONFIG", "SET", "appendfsync", "always"])
        .await?;
    c.command(&["CONFIG", "SET", "appendonly", "yes"]).await?;
    let deadline = std::time::Instant::now() + Duration::from_secs(600);
    loop {
        let info = c
            .command(&["INFO", "persistence"])
            .await?
            .as_text()
            .unwrap_or_default();
        let idle = [
            "aof_enabled:1",
            "aof_rewrite_in_progress:0",
            "aof_rewrite_scheduled:0",
        ]
        .iter()
        .all(|k| info.lines().any(|l| l.trim() == *k));
        if idle {
            return Ok(());
        }
        anyhow::ensure!(
            std::time::Instant::now() < deadline,
            "FalkorDB's append-only file was not ready after 10 minutes"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Both systems must hold the same people before anything is timed: a
/// lookup of an empty graph is fast and wrong.
async fn check_graphs(a: &Args, resp: &str) -> anyhow::Result<()> {
    let id = a.people - 1;
    let mut c = Client::connect(&a.addr, &a.user, &a.password, false).await?;
    let rows = c
        .query(LOOKUP, params(&[("id", Value::Int(id))]))
        .await
        .context("Causeway")?;
    anyhow::ensure!(rows.len() == 1, "Causeway has no :Person {{id: {id}}}");
    let mut r = RespClient::connect(resp).await?;
    let rows = r
        .graph_query(&a.graph, &format!("CYPHER id={id} {LOOKUP}"), true)
        .await
        .context("FalkorDB")?;
    anyhow::ensure!(rows == 1, "FalkorDB has no :Person {{id: {id}}}");
    Ok(())
}

pub async fn compare(a: &Args, out: &mut Vec<String>) -> anyhow::Result<()> {
    let resp = a
        .resp_addr
        .clone()
        .context("engine needs --resp-addr HOST:PORT (FalkorDB)")?;
    check_graphs(a, &resp).await?;
    falkordb_durable(&resp).await?;
    const SYSTEMS: [&str; 2] = ["Causeway", "FalkorDB"];
    let mut merged: Vec<[Stats; 2]> = WORKLOADS.iter().map(|_| Default::default()).collect();
    let mut ratios: Vec<Vec<f64>> = vec![Vec::new(); WORKLOADS.len()];
    let errors: Vec<[FirstError; 2]> = WORKLOADS.iter().map(|_| Default::default()).collect();
    for round in 0..a.rounds {
        for (w, work) in WORKLOADS.iter().enumerate() {
            let order = if round % 2 == 0 { [0, 1] } else { [1, 0] };
            let mut figure = [0.0; 2];
            for k in order {
                let first = errors[w][k].clone();
                let mut s = if k == 0 {
                    causeway(a, work, first).await?
                } else {
                    falkordb(a, &resp, work, first).await?
                };
                figure[k] = if work.latency { s.pct(0.5) } else { s.rate() };
                merged[w][k].merge(s);
            }
            ratios[w].push(figure[0] / figure[1]);
        }
    }
    for (w, work) in WORKLOADS.iter().enumerate() {
        let unit = if work.work == Work::Write {
            "tx/s"
        } else {
            "queries/s"
        };
        for (k, system) in SYSTEMS.iter().enumerate() {
            out.push(row(
                &format!("{}, {system}", work.name),
                &mut merged[w][k],
                unit,
            ));
        }
    }
    out.push(String::new());
    out.push(
        "FalkorDB: append-only file on, `appendfsync always` (set by this run); \
         Causeway: its defaults (every commit fsynced)."
            .to_owned(),
    );
    out.push(String::new());
    for (w, work) in WORKLOADS.iter().enumerate() {
        let what = if work.latency {
            "p50 latency (below 1: Causeway faster)"
        } else {
            "rate (above 1: Causeway faster)"
        };
        let each: Vec<String> = ratios[w].iter().map(|x| format!("{x:.2}")).collect();
        out.push(format!(
            "- Causeway / FalkorDB {what}, {}: median {:.2} (rounds: {})",
            work.name,
            median(&ratios[w]),
            each.join(", ")
        ));
    }
    for (w, work) in WORKLOADS.iter().enumerate() {
        for (k, system) in SYSTEMS.iter().enumerate() {
            let slot = errors[w][k].lock().unwrap_or_else(|p| p.into_inner());
            if let Some(e) = slot.as_ref() {
                out.push(format!("- first error, {}, {system}: {e}", work.name));
            }
        }
    }
    Ok(())
}

fn median(xs: &[f64]) -> f64 {
    let mut v = xs.to_vec();
    v.sort_by(f64::total_cmp);
    let mid = v.len() / 2;
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 0 => (v[mid - 1] + v[mid]) / 2.0,
        _ => v[mid],
    }
}
