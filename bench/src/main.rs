//! `causeway-bench`: drives a running server over Bolt and measures the
//! machine's own baselines, so that results can be read as ratios.
//!
//! ```text
//! causeway-bench all --addr 127.0.0.1:7687 --user neo4j --password pw --dir /var/tmp/x
//! ```
//! prints a Markdown report (see bench/run.sh, which starts a server and
//! writes docs/benchmarks.md). `causeway-bench engine` compares with
//! FalkorDB over its own protocol (bench/engine.py starts both).

mod client;
mod engine;
mod resp;

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use causeway_value::Value;
use client::{params, Client};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[derive(Clone)]
struct Args {
    cmd: String,
    addr: String,
    user: String,
    password: String,
    dir: PathBuf,
    seconds: u64,
    /// A follower's Bolt address, for the `lag` workload.
    follower: Option<String>,
    /// Where read workloads send their clients, round robin (default:
    /// `addr`); reads go in read mode so that each member answers itself.
    readers: Vec<String>,
    /// Connect over TLS (the server needs `tls_mode` optional or required).
    tls: bool,
    /// `cc`: a second server (another concurrency-control setting) to
    /// compare with `addr`, alternating in every round.
    addr_b: Option<String>,
    /// `cc`: client counts and client times inside each transaction.
    clients: Vec<usize>,
    think_ms: Vec<u64>,
    rounds: usize,
    /// `engine`: FalkorDB's RESP address, the graph's name there, and how
    /// many `:Person` nodes (ids 0..people) both hold.
    resp_addr: Option<String>,
    graph: String,
    people: i64,
}

fn parse_args() -> anyhow::Result<Args> {
    let mut it = std::env::args().skip(1);
    let cmd = it.next().unwrap_or_else(|| "all".into());
    let mut a = Args {
        cmd,
        addr: "127.0.0.1:7687".into(),
        user: "neo4j".into(),
        password: "neo4j".into(),
        dir: std::env::temp_dir(),
        seconds: 10,
        follower: None,
        readers: Vec::new(),
        tls: false,
        addr_b: None,
        clients: vec![16, 64],
        think_ms: vec![0, 1, 2],
        rounds: 3,
        resp_addr: None,
        graph: "bench".into(),
        people: 100_000,
    };
    while let Some(flag) = it.next() {
        let v = it.next().with_context(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--addr" => a.addr = v,
            "--user" => a.user = v,
            "--password" => a.password = v,
            "--dir" => a.dir = v.into(),
            "--seconds" => a.seconds = v.parse()?,
            "--follower" => a.follower = Some(v),
            "--readers" => a.readers = v.split(',').map(str::to_owned).collect(),
            "--tls" => a.tls = v.parse()?,
            "--addr-b" => a.addr_b = Some(v),
            "--clients" => a.clients = list(&v)?,
            "--think-ms" => a.think_ms = list(&v)?,
            "--rounds" => a.rounds = v.parse()?,
            "--resp-addr" => a.resp_addr = Some(v),
            "--graph" => a.graph = v,
            "--people" => a.people = v.parse()?,
            _ => anyhow::bail!("unknown flag {flag}"),
        }
    }
    Ok(a)
}

fn list<T: std::str::FromStr>(v: &str) -> anyhow::Result<Vec<T>>
where
    T::Err: std::error::Error + Send + Sync + 'static,
{
    Ok(v.split(',')
        .filter(|s| !s.is_empty() && *s != "none")
        .map(str::parse)
        .collect::<Result<_, _>>()?)
}

#[derive(Default)]
struct Stats {
    ops: usize,
    errors: usize,
    lat_us: Vec<u64>,
    elapsed: Duration,
}

impl Stats {
    fn pct(&mut self, p: f64) -> f64 {
        if self.lat_us.is_empty() {
            return f64::NAN;
        }
        self.lat_us.sort_unstable();
        let i = ((self.lat_us.len() as f64 - 1.0) * p).round() as usize;
        self.lat_us[i] as f64 / 1000.0
    }
    fn rate(&self) -> f64 {
        self.ops as f64 / self.elapsed.as_secs_f64()
    }
}

/// Runs `clients` connections, each repeating `op` until the time is up.
async fn load<F, Fut>(a: &Args, clients: usize, op: F) -> anyhow::Result<Stats>
where
    F: Fn(Client, u64) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = (Client, anyhow::Result<()>)> + Send,
{
    load_on(a, std::slice::from_ref(&a.addr), false, clients, op).await
}

/// `clients` closed loops spread round robin over `addrs`.
async fn load_on<F, Fut>(
    a: &Args,
    addrs: &[String],
    read: bool,
    clients: usize,
    op: F,
) -> anyhow::Result<Stats>
where
    F: Fn(Client, u64) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = (Client, anyhow::Result<()>)> + Send,
{
    // Every client connects before the clock starts, so that connection
    // set-up (TLS handshakes, logins) is not charged to the workload.
    let mut connected = Vec::with_capacity(clients);
    for c in 0..clients {
        let mut client =
            Client::connect(&addrs[c % addrs.len()], &a.user, &a.password, a.tls).await?;
        client.read = read;
        connected.push(client);
    }
    drive(connected, Duration::from_secs(a.seconds), op).await
}

/// Closed loops, one per connection (of any protocol), each repeating `op`
/// for `time`; an operation's latency counts only when it succeeds.
async fn drive<C, F, Fut>(connected: Vec<C>, time: Duration, op: F) -> anyhow::Result<Stats>
where
    C: Send + 'static,
    F: Fn(C, u64) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = (C, anyhow::Result<()>)> + Send,
{
    let op = Arc::new(op);
    let deadline = Instant::now() + time;
    let start = Instant::now();
    let mut tasks = Vec::new();
    for (c, mut client) in connected.into_iter().enumerate() {
        let op = op.clone();
        tasks.push(tokio::spawn(async move {
            let mut s = Stats::default();
            let mut i = c as u64 * 1_000_000_000;
            while Instant::now() < deadline {
                let t = Instant::now();
                let (back, r) = op(client, i).await;
                client = back;
                i += 1;
                match r {
                    Ok(()) => {
                        s.ops += 1;
                        s.lat_us.push(t.elapsed().as_micros() as u64);
                    }
                    Err(_) => s.errors += 1,
                }
            }
            s
        }));
    }
    let mut total = Stats::default();
    for t in tasks {
        let s = t.await?;
        total.ops += s.ops;
        total.errors += s.errors;
        total.lat_us.extend(s.lat_us);
    }
    total.elapsed = start.elapsed();
    Ok(total)
}

async fn write_load(a: &Args, clients: usize) -> anyhow::Result<Stats> {
    load(a, clients, |mut c, i| async move {
        let r = c
            .query(
                "CREATE (:BenchWrite {id: $id})",
                params(&[("id", Value::Int(i as i64))]),
            )
            .await
            .map(|_| ());
        (c, r)
    })
    .await
}

/// A managed write transaction as the drivers run one (`execute_write`):
/// BEGIN, RUN + PULL of one tiny CREATE, `think` of client time (a round
/// trip elsewhere, a little application logic), COMMIT; each step waits
/// for its reply.
async fn tx_write_load(a: &Args, clients: usize, think: Duration) -> anyhow::Result<Stats> {
    load(a, clients, move |mut c, i| async move {
        let r = async {
            c.begin().await?;
            c.run_in_tx(
                "CREATE (:BenchTxWrite {id: $id})",
                params(&[("id", Value::Int(i as i64))]),
            )
            .await?;
            if !think.is_zero() {
                tokio::time::sleep(think).await;
            }
            c.commit().await
        }
        .await;
        (c, r)
    })
    .await
}

/// A hot counter: every client increments the same property in a managed
/// write transaction, retrying at once on a transient error as a driver
/// would (without its back-off). With `read_first` the client reads the
/// value in one statement and writes it plus one in another (the worst
/// case for optimistic transactions: any two at once conflict). Returns
/// the stats of committed increments and the number of retries; fails if
/// the counter does not equal the increments committed (a lost or
/// doubled update).
async fn counter_load(
    a: &Args,
    clients: usize,
    read_first: bool,
) -> anyhow::Result<(Stats, usize)> {
    let mut setup = Client::connect(&a.addr, &a.user, &a.password, a.tls).await?;
    setup
        .query("MERGE (c:BenchCounter {id: 0}) SET c.n = 0", params(&[]))
        .await?;
    let retries = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counted = retries.clone();
    let s = load(a, clients, move |mut c, _| {
        let retries = counted.clone();
        async move {
            let r = loop {
                let attempt = async {
                    c.begin().await?;
                    if read_first {
                        let rows = c
                            .run_in_tx("MATCH (c:BenchCounter {id: 0}) RETURN c.n", params(&[]))
                            .await?;
                        let n = match rows.first().and_then(|r| r.first()) {
                            Some(Value::Int(n)) => *n,
                            other => anyhow::bail!("the counter reads {other:?}"),
                        };
                        c.run_in_tx(
                            "MATCH (c:BenchCounter {id: 0}) SET c.n = $n",
                            params(&[("n", Value::Int(n + 1))]),
                        )
                        .await?;
                    } else {
                        c.run_in_tx(
                            "MATCH (c:BenchCounter {id: 0}) SET c.n = c.n + 1",
                            params(&[]),
                        )
                        .await?;
                    }
                    c.commit().await
                }
                .await;
                match attempt {
                    Err(e)
                        if e.downcast_ref::<client::Failure>()
                            .is_some_and(client::Failure::transient) =>
                    {
                        retries.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    }
                    other => break other,
                }
            };
            (c, r)
        }
    })
    .await?;
    let rows = setup
        .query("MATCH (c:BenchCounter {id: 0}) RETURN c.n", params(&[]))
        .await?;
    let n = rows.first().and_then(|r| r.first()).cloned();
    anyhow::ensure!(
        n == Some(Value::Int(s.ops as i64)),
        "the counter reads {n:?} after {} committed increments",
        s.ops
    );
    Ok((s, retries.load(std::sync::atomic::Ordering::Relaxed)))
}

/// Concurrency control (issue 13): managed write transactions with client
/// time inside them, the hot counter and 64-client auto-commit writes,
/// against `addr` and, with `--addr-b`, against a second server in the
/// same run, alternating within each round and swapping which goes first
/// every round.
async fn cc_compare(a: &Args, out: &mut Vec<String>) -> anyhow::Result<()> {
    let servers: Vec<(&str, String)> = std::iter::once(("A", a.addr.clone()))
        .chain(a.addr_b.clone().map(|b| ("B", b)))
        .collect();
    // (name, unit, workload)
    let mut work: Vec<(String, &str, u8, usize, u64)> = Vec::new();
    for &clients in &a.clients {
        for &think in &a.think_ms {
            work.push((
                format!("execute_write tiny CREATE, {clients} clients, {think} ms inside"),
                "tx/s",
                0,
                clients,
                think,
            ));
        }
    }
    work.push((
        "hot counter (execute_write +1), 64 clients".into(),
        "tx/s",
        1,
        64,
        0,
    ));
    work.push((
        "hot counter read, then write (execute_write), 64 clients".into(),
        "tx/s",
        3,
        64,
        0,
    ));
    work.push((
        "tiny write tx (auto-commit CREATE), 64 clients".into(),
        "tx/s",
        2,
        64,
        0,
    ));
    let mut merged: Vec<Vec<Stats>> = work
        .iter()
        .map(|_| servers.iter().map(|_| Stats::default()).collect())
        .collect();
    let mut retries = vec![vec![0usize; servers.len()]; work.len()];
    let mut ratios: Vec<Vec<f64>> = vec![Vec::new(); work.len()];
    for round in 0..a.rounds {
        for (w, (_, _, kind, clients, think)) in work.iter().enumerate() {
            let mut order: Vec<usize> = (0..servers.len()).collect();
            if round % 2 == 1 {
                order.reverse();
            }
            let mut rates = vec![0.0; servers.len()];
            for k in order {
                let args = Args {
                    addr: servers[k].1.clone(),
                    ..a.clone()
                };
                let s = match kind {
                    0 => tx_write_load(&args, *clients, Duration::from_millis(*think)).await?,
                    1 | 3 => {
                        let (s, r) = counter_load(&args, *clients, *kind == 3).await?;
                        retries[w][k] += r;
                        s
                    }
                    _ => write_load(&args, *clients).await?,
                };
                rates[k] = s.rate();
                merged[w][k].merge(s);
            }
            if rates.len() == 2 {
                ratios[w].push(rates[1] / rates[0]);
            }
        }
    }
    for (w, (name, unit, kind, _, _)) in work.iter().enumerate() {
        for (k, (label, _)) in servers.iter().enumerate() {
            let mut name = format!("{name}, {label}");
            if matches!(kind, 1 | 3) {
                name.push_str(&format!(", {} retries", retries[w][k]));
            }
            out.push(row(&name, &mut merged[w][k], unit));
        }
    }
    if servers.len() == 2 {
        out.push(String::new());
        for (w, (name, ..)) in work.iter().enumerate() {
            out.push(ratio_line("B / A", name, &ratios[w]));
        }
    }
    Ok(())
}

const READ_NODES: i64 = 100_000;

async fn setup_reads(a: &Args) -> anyhow::Result<()> {
    let mut c = Client::connect(&a.addr, &a.user, &a.password, a.tls).await?;
    c.query(
        "CREATE INDEX bench_id IF NOT EXISTS FOR (n:BenchRead) ON (n.id)",
        params(&[]),
    )
    .await?;
    let have = c
        .query("MATCH (n:BenchRead) RETURN count(n)", params(&[]))
        .await?;
    if have.first().and_then(|r| r.first()) != Some(&Value::Int(READ_NODES)) {
        c.query("MATCH (n:BenchRead) DETACH DELETE n", params(&[]))
            .await?;
        for start in (0..READ_NODES).step_by(10_000) {
            c.query(
                "UNWIND range($s, $s + 9999) AS i CREATE (n:BenchRead {id: i, name: 'node ' + toString(i)})",
                params(&[("s", Value::Int(start))]),
            )
            .await?;
        }
        // Each node points at the next ten, for the expansion benchmark.
        c.query(
            "MATCH (a:BenchRead) WHERE a.id % 100 = 0 \
             UNWIND range(1, 10) AS k MATCH (b:BenchRead {id: (a.id + k) % $n}) CREATE (a)-[:NEXT]->(b)",
            params(&[("n", Value::Int(READ_NODES))]),
        )
        .await?;
    }
    Ok(())
}

fn spread(i: u64, n: i64) -> i64 {
    // A cheap mix so that clients do not walk the same ids in step.
    ((i.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 11) % n as u64) as i64
}

fn readers(a: &Args) -> Vec<String> {
    if a.readers.is_empty() {
        vec![a.addr.clone()]
    } else {
        a.readers.clone()
    }
}

async fn read_load(a: &Args, clients: usize) -> anyhow::Result<Stats> {
    load_on(a, &readers(a), true, clients, |mut c, i| async move {
        let id = spread(i, READ_NODES);
        let r = c
            .query(
                "MATCH (n:BenchRead {id: $id}) RETURN n.name",
                params(&[("id", Value::Int(id))]),
            )
            .await
            .and_then(|rows| {
                if rows.len() == 1 {
                    Ok(())
                } else {
                    Err(anyhow::anyhow!("expected one row"))
                }
            });
        (c, r)
    })
    .await
}

async fn expand_load(a: &Args, clients: usize) -> anyhow::Result<Stats> {
    load_on(a, &readers(a), true, clients, |mut c, i| async move {
        let id = spread(i, READ_NODES / 100) * 100;
        let r = c
            .query(
                "MATCH (n:BenchRead {id: $id})-[:NEXT]->(m) RETURN count(m)",
                params(&[("id", Value::Int(id))]),
            )
            .await
            .map(|_| ());
        (c, r)
    })
    .await
}

/// Follower apply lag under write load: while `clients` writers load the
/// leader, a probe commits a marker on the leader and then polls the
/// follower until the marker is visible there. The lag is the time from the
/// leader's acknowledgement to the follower's first answer that includes it.
async fn lag_load(a: &Args, follower: &str, clients: usize) -> anyhow::Result<Stats> {
    let mut setup = Client::connect(&a.addr, &a.user, &a.password, a.tls).await?;
    setup
        .query(
            "CREATE INDEX bench_lag IF NOT EXISTS FOR (n:BenchLag) ON (n.id)",
            params(&[]),
        )
        .await?;
    let writers = {
        let a = a.clone();
        tokio::spawn(async move { write_load(&a, clients).await })
    };
    let mut leader = Client::connect(&a.addr, &a.user, &a.password, a.tls).await?;
    let mut reader = Client::connect(follower, &a.user, &a.password, a.tls).await?;
    reader.read = true;
    let deadline = Instant::now() + Duration::from_secs(a.seconds);
    let mut s = Stats::default();
    let start = Instant::now();
    let mut id = 0i64;
    while Instant::now() < deadline {
        id += 1;
        let p = params(&[("id", Value::Int(id))]);
        if leader
            .query("CREATE (:BenchLag {id: $id})", p.clone())
            .await
            .is_err()
        {
            s.errors += 1;
            continue;
        }
        let acked = Instant::now();
        loop {
            let rows = reader
                .query("MATCH (n:BenchLag {id: $id}) RETURN count(n)", p.clone())
                .await?;
            if rows.first().and_then(|r| r.first()) == Some(&Value::Int(1)) {
                break;
            }
            if acked.elapsed() > Duration::from_secs(10) {
                anyhow::bail!("the follower did not apply marker {id} within 10 s");
            }
        }
        s.lat_us.push(acked.elapsed().as_micros() as u64);
        s.ops += 1;
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    s.elapsed = start.elapsed();
    writers.await??;
    Ok(s)
}

/// fsync latency of this machine's disk, measured the way the log uses it:
/// append 4 KiB, fdatasync.
fn fsync_baseline(dir: &std::path::Path) -> anyhow::Result<Stats> {
    let path = dir.join("causeway-bench-fsync.tmp");
    let mut f = std::fs::File::create(&path)?;
    let block = vec![7u8; 4096];
    let mut s = Stats::default();
    let start = Instant::now();
    for _ in 0..300 {
        let t = Instant::now();
        f.write_all(&block)?;
        f.sync_data()?;
        s.lat_us.push(t.elapsed().as_micros() as u64);
        s.ops += 1;
    }
    s.elapsed = start.elapsed();
    drop(f);
    let _ = std::fs::remove_file(&path);
    Ok(s)
}

/// Loopback TCP round trip: one byte there and back.
async fn rtt_baseline() -> anyhow::Result<Stats> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        if let Ok((mut sock, _)) = listener.accept().await {
            let _ = sock.set_nodelay(true);
            let mut b = [0u8; 1];
            while sock.read_exact(&mut b).await.is_ok() {
                if sock.write_all(&b).await.is_err() {
                    break;
                }
            }
        }
    });
    let mut sock = tokio::net::TcpStream::connect(addr).await?;
    sock.set_nodelay(true)?;
    let mut s = Stats::default();
    let start = Instant::now();
    let mut b = [1u8; 1];
    for _ in 0..5000 {
        let t = Instant::now();
        sock.write_all(&b).await?;
        sock.read_exact(&mut b).await?;
        s.lat_us.push(t.elapsed().as_micros() as u64);
        s.ops += 1;
    }
    s.elapsed = start.elapsed();
    Ok(s)
}

/// Opens a connection per operation: handshake (TLS too, with `--tls`),
/// HELLO, one `RETURN 1`, close.
async fn connect_load(a: &Args, clients: usize) -> anyhow::Result<Stats> {
    let target = a.clone();
    load(a, clients, move |c, _| {
        let a = target.clone();
        async move {
            let r = async {
                let mut fresh = Client::connect(&a.addr, &a.user, &a.password, a.tls).await?;
                fresh.query("RETURN 1", params(&[])).await.map(|_| ())
            }
            .await;
            (c, r)
        }
    })
    .await
}

impl Stats {
    fn merge(&mut self, other: Stats) {
        self.ops += other.ops;
        self.errors += other.errors;
        self.lat_us.extend(other.lat_us);
        self.elapsed += other.elapsed;
    }
}

/// The cost of TLS: each workload over plaintext and over TLS against the
/// same server (`tls_mode = optional`), alternating within each round and
/// swapping which goes first every round, so drift on a shared machine
/// falls on both. Prints the merged figures and the TLS/plaintext rate
/// ratio of every round.
async fn tls_cost(a: &Args, rounds: usize, out: &mut Vec<String>) -> anyhow::Result<()> {
    setup_reads(a).await?;
    let names = [
        ("indexed point read, 64 clients", "reads/s"),
        ("tiny write tx (auto-commit CREATE), 64 clients", "tx/s"),
        ("new connection + HELLO + RETURN 1, 16 clients", "conn/s"),
    ];
    let mut merged: Vec<[Stats; 2]> = (0..names.len()).map(|_| Default::default()).collect();
    let mut ratios: Vec<Vec<f64>> = vec![Vec::new(); names.len()];
    for round in 0..rounds {
        for (w, _) in names.iter().enumerate() {
            let mut rates = [0.0; 2];
            let order = if round % 2 == 0 {
                [false, true]
            } else {
                [true, false]
            };
            for tls in order {
                let args = Args { tls, ..a.clone() };
                let s = match w {
                    0 => read_load(&args, 64).await?,
                    1 => write_load(&args, 64).await?,
                    _ => connect_load(&args, 16).await?,
                };
                rates[usize::from(tls)] = s.rate();
                merged[w][usize::from(tls)].merge(s);
            }
            ratios[w].push(rates[1] / rates[0]);
        }
    }
    for (w, (name, unit)) in names.iter().enumerate() {
        let [plain, tls] = &mut merged[w];
        out.push(row(&format!("{name}, plaintext"), plain, unit));
        out.push(row(&format!("{name}, TLS"), tls, unit));
    }
    out.push(String::new());
    for (w, (name, _)) in names.iter().enumerate() {
        out.push(ratio_line("TLS / plaintext", name, &ratios[w]));
    }
    Ok(())
}

/// The median of a comparison's per-round rate ratios, and each round's.
fn ratio_line(what: &str, name: &str, ratios: &[f64]) -> String {
    let mut r = ratios.to_vec();
    r.sort_by(f64::total_cmp);
    let each: Vec<String> = ratios.iter().map(|x| format!("{x:.2}")).collect();
    format!(
        "{what} rate, {name}: median {:.2} (rounds: {})",
        r[r.len() / 2],
        each.join(", ")
    )
}

fn row(name: &str, s: &mut Stats, unit: &str) -> String {
    format!(
        "| {name} | {:.0} {unit} | {:.2} | {:.2} | {:.2} | {} |",
        s.rate(),
        s.pct(0.5),
        s.pct(0.99),
        s.pct(0.999),
        s.errors
    )
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let a = parse_args()?;
    let mut out = Vec::new();
    let mut fsync = fsync_baseline(&a.dir)?;
    let mut rtt = rtt_baseline().await?;
    let (fsync_p50, fsync_p99) = (fsync.pct(0.5), fsync.pct(0.99));
    out.push("| measure | rate | p50 ms | p99 ms | p99.9 ms | errors |".to_owned());
    out.push("|---|---|---|---|---|---|".to_owned());
    out.push(row(
        "fsync (4 KiB append + fdatasync)",
        &mut fsync,
        "fsync/s",
    ));
    out.push(row("loopback TCP round trip", &mut rtt, "rt/s"));
    let run_all = a.cmd == "all";
    let mut single_p50 = f64::NAN;
    let mut bracket_p50 = f64::NAN;
    if run_all || a.cmd == "writes" {
        let mut s = write_load(&a, 64).await?;
        out.push(row(
            "tiny write tx (auto-commit CREATE), 64 clients",
            &mut s,
            "tx/s",
        ));
        // The disk's fsync latency drifts on shared machines; bracket the
        // single-client run with fresh fsync measurements and compare
        // against their mean.
        let mut before = fsync_baseline(&a.dir)?;
        let mut s = write_load(&a, 1).await?;
        let mut after = fsync_baseline(&a.dir)?;
        single_p50 = s.pct(0.5);
        bracket_p50 = (before.pct(0.5) + after.pct(0.5)) / 2.0;
        out.push(row(
            "fsync, just before the 1-client run",
            &mut before,
            "fsync/s",
        ));
        out.push(row("tiny write tx, 1 client", &mut s, "tx/s"));
        out.push(row(
            "fsync, just after the 1-client run",
            &mut after,
            "fsync/s",
        ));
    }
    if a.cmd == "lag" {
        let follower = a
            .follower
            .clone()
            .context("lag needs --follower HOST:PORT")?;
        let mut s = lag_load(&a, &follower, 64).await?;
        out.push(row(
            "follower apply lag under 64-client writes (probe ack → visible on follower)",
            &mut s,
            "probes/s",
        ));
    }
    if a.cmd == "tls" {
        tls_cost(&a, 3, &mut out).await?;
    }
    if a.cmd == "cc" {
        cc_compare(&a, &mut out).await?;
    }
    if a.cmd == "engine" {
        engine::compare(&a, &mut out).await?;
    }
    if a.cmd == "point-reads" {
        setup_reads(&a).await?;
        let mut s = read_load(&a, 64).await?;
        out.push(row("indexed point read, 64 clients", &mut s, "reads/s"));
    }
    if run_all || a.cmd == "reads" {
        setup_reads(&a).await?;
        let mut s = read_load(&a, 64).await?;
        out.push(row("indexed point read, 64 clients", &mut s, "reads/s"));
        let mut s = expand_load(&a, 64).await?;
        out.push(row(
            "1-hop expansion (10 neighbours), 64 clients",
            &mut s,
            "queries/s",
        ));
    }
    let mut text = out.join("\n");
    if !single_p50.is_nan() {
        text.push_str(&format!(
        "\n\nfsync p50 {fsync_p50:.2} ms, p99 {fsync_p99:.2} ms at the start; single-client write p50 \
         {single_p50:.2} ms = {:.2} x the fsync p50 measured around it ({bracket_p50:.2} ms)\n",
            single_p50 / bracket_p50
        ));
    }
    println!("{text}");
    Ok(())
}
