//! Bolt clients inside the simulation, behaving as the official drivers'
//! managed transactions do: a transaction that fails with a retryable error
//! (a transient error, `NotALeader`, a connection lost before COMMIT) is run
//! again from the start; one whose COMMIT got no answer has an unknown
//! outcome and is not retried; any other failure is final. Every
//! transaction goes to one member, chosen at random, which routes writes to
//! the leader; half name the database, half leave it to the server.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::Duration;

use causeway_bolt::client::{Client, ClientError, Stream};
use causeway_bolt::AuthToken;
use causeway_value::{Map, Value};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::{host, SimNet, MEMBERS};

/// What the client was told.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// Took effect.
    Ok,
    /// Certainly did not take effect.
    Fail(String),
    /// Unknown (the answer to COMMIT was lost, or the server could not tell).
    Info(String),
}

/// One operation of the history.
#[derive(Clone, Debug, Hash)]
pub struct Op {
    pub process: usize,
    pub kind: Kind,
    pub outcome: Outcome,
    /// The member the last attempt went through.
    pub via: usize,
    /// Milliseconds of simulated time when it ended.
    pub at_ms: u128,
    /// Bookmarks the server handed out for it.
    pub bookmarks: Vec<String>,
}

#[derive(Clone, Debug, Hash)]
pub enum Kind {
    /// A transaction of list appends and reads; for an acknowledged one,
    /// each read's value is filled in.
    Txn(Vec<Micro>),
    /// A counter increment and the value it returned.
    Incr(Option<i64>),
    /// A write through one member, then a read of it through another with
    /// the write's bookmark: what the read counted.
    Ryw { value: i64, seen: Option<i64> },
}

#[derive(Clone, Debug, Hash)]
pub enum Micro {
    Append(usize, i64),
    Read(usize, Option<Vec<i64>>),
}

pub const KEYS: usize = 3;

/// What the clients share (one thread: `Rc`).
#[derive(Clone)]
pub struct Shared {
    pub history: Rc<RefCell<Vec<Op>>>,
    ready: Rc<Cell<bool>>,
    running: Rc<Cell<usize>>,
    next_value: Rc<Cell<i64>>,
}

impl Shared {
    pub fn new(history: Rc<RefCell<Vec<Op>>>, clients: usize) -> Shared {
        Shared {
            history,
            ready: Rc::default(),
            running: Rc::new(Cell::new(clients)),
            next_value: Rc::new(Cell::new(0)),
        }
    }

    fn value(&self) -> i64 {
        self.next_value.set(self.next_value.get() + 1);
        self.next_value.get()
    }

    pub async fn wait_done(&self) {
        while self.running.get() > 0 {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// How one attempt ended.
enum Attempt<T> {
    Done(T, Vec<String>),
    /// Try again (nothing of it was applied).
    Retry(String),
    Fail(String),
    Unknown(String),
}

/// A client waits this long for any answer (the drivers have no read
/// timeout at all; a server must answer or close well within this).
const CALL_TIMEOUT: Duration = Duration::from_secs(90);
/// How long a managed transaction keeps retrying (the drivers' default).
const RETRY_FOR: Duration = Duration::from_secs(30);

fn retryable(code: &str) -> bool {
    (code.starts_with("Neo.TransientError.")
        && code != "Neo.TransientError.Transaction.Terminated"
        && code != "Neo.TransientError.Transaction.LockClientStopped")
        || code == "Neo.ClientError.Cluster.NotALeader"
}

async fn connect(member: usize) -> Result<Client, ClientError> {
    let token = AuthToken {
        scheme: "none".into(),
        principal: None,
        credentials: None,
        extra: Map::new(),
    };
    Client::connect(
        &SimNet,
        &format!("{}:7687", host(member)),
        "causeway-sim",
        &token,
        CALL_TIMEOUT,
    )
    .await
}

async fn within<T>(
    f: impl std::future::Future<Output = Result<T, ClientError>>,
) -> Result<T, ClientError> {
    match tokio::time::timeout(CALL_TIMEOUT, f).await {
        Ok(r) => r,
        Err(_) => Err(ClientError::Connection("no answer in time".into())),
    }
}

/// One attempt of a transaction: BEGIN, the statements, COMMIT.
async fn attempt(
    member: usize,
    db: Option<&str>,
    mode_read: bool,
    bookmarks: &[String],
    statements: &[(String, Map)],
) -> Attempt<Vec<Stream>> {
    let mut c = match within(connect(member)).await {
        Ok(c) => c,
        Err(e) => return Attempt::Retry(format!("connect: {e:?}")),
    };
    let mut extra = Map::new();
    if let Some(db) = db {
        extra.insert("db".into(), Value::from(db));
    }
    if mode_read {
        extra.insert("mode".into(), Value::from("r"));
    }
    if !bookmarks.is_empty() {
        extra.insert(
            "bookmarks".into(),
            Value::List(bookmarks.iter().map(|b| Value::from(b.as_str())).collect()),
        );
    }
    let before_commit = |e: ClientError| match e {
        ClientError::Server(e) if retryable(e.code.as_str()) => Attempt::Retry(e.to_string()),
        ClientError::Server(e) => Attempt::Fail(e.to_string()),
        ClientError::Connection(e) => Attempt::Retry(e),
    };
    if let Err(e) = within(c.begin(extra)).await {
        return before_commit(e);
    }
    let mut streams = Vec::new();
    for (q, p) in statements {
        match within(c.run(q, p.clone(), Map::new())).await {
            Ok(s) => streams.push(s),
            Err(e) => return before_commit(e),
        }
    }
    match within(c.commit()).await {
        Ok(meta) => {
            let bookmarks = match meta.get("bookmark") {
                Some(Value::String(b)) => vec![b.clone()],
                _ => Vec::new(),
            };
            Attempt::Done(streams, bookmarks)
        }
        Err(ClientError::Server(e)) if e.code.as_str().starts_with("Neo.DatabaseError.") => {
            Attempt::Unknown(e.to_string())
        }
        Err(ClientError::Server(e)) if retryable(e.code.as_str()) => Attempt::Retry(e.to_string()),
        Err(ClientError::Server(e)) => Attempt::Fail(e.to_string()),
        Err(ClientError::Connection(e)) => Attempt::Unknown(e),
    }
}

/// A managed transaction: attempts on random members until one settles.
async fn managed(
    rng: &mut StdRng,
    db_named: bool,
    mode_read: bool,
    bookmarks: &[String],
    statements: &[(String, Map)],
    fixed_member: Option<usize>,
) -> (Attempt<Vec<Stream>>, usize) {
    let start = tokio::time::Instant::now();
    let mut delay = Duration::from_millis(50);
    loop {
        let member = fixed_member.unwrap_or_else(|| rng.gen_range(0..MEMBERS));
        let db = db_named.then_some("neo4j");
        match attempt(member, db, mode_read, bookmarks, statements).await {
            Attempt::Retry(why) if start.elapsed() < RETRY_FOR => {
                if std::env::var_os("CAUSEWAY_SIM_SETUP").is_some() {
                    eprintln!("  retry via {member}: {why}");
                }
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_millis(800));
            }
            Attempt::Retry(why) => return (Attempt::Fail(format!("gave up: {why}")), member),
            other => return (other, member),
        }
    }
}

fn params(pairs: &[(&str, Value)]) -> Map {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), v.clone()))
        .collect()
}

fn int(v: &Value) -> Option<i64> {
    match v {
        Value::Int(i) => Some(*i),
        _ => None,
    }
}

fn ints(v: &Value) -> Option<Vec<i64>> {
    match v {
        Value::List(l) => l.iter().map(int).collect(),
        _ => None,
    }
}

fn record(shared: &Shared, op: Op) {
    shared.history.borrow_mut().push(op);
}

fn outcome<T>(a: &Attempt<T>) -> Outcome {
    match a {
        Attempt::Done(..) => Outcome::Ok,
        Attempt::Fail(e) | Attempt::Retry(e) => Outcome::Fail(e.clone()),
        Attempt::Unknown(e) => Outcome::Info(e.clone()),
    }
}

/// Client `process`'s share of the workload.
pub async fn workload(shared: Shared, process: usize, seed: u64, ops: usize, span: Duration) {
    let mut rng = StdRng::seed_from_u64(seed);
    let epoch = tokio::time::Instant::now();
    let at = |_: ()| epoch.elapsed().as_millis();
    if process == 0 {
        // Formation, then the keys and the counter.
        tokio::time::sleep(Duration::from_secs(1)).await;
        // Idempotent: a setup whose outcome was unknown is simply run again.
        let setup = vec![(
            "UNWIND range(0, $n - 1) AS k MERGE (l:LA {k: k}) ON CREATE SET l.vals = [] \
             WITH count(*) AS c MERGE (t:Ctr) ON CREATE SET t.v = 0"
                .to_owned(),
            params(&[("n", Value::Int(KEYS as i64))]),
        )];
        loop {
            let (a, via) = managed(&mut rng, true, false, &[], &setup, None).await;
            if std::env::var_os("CAUSEWAY_SIM_SETUP").is_some() {
                eprintln!(
                    "setup via {via}: {:?} at {:?}",
                    outcome(&a),
                    epoch.elapsed()
                );
            }
            if let Attempt::Done(..) = a {
                break;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        shared.ready.set(true);
    }
    while !shared.ready.get() {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Spread over the span, on average.
    let gap = (span.as_millis() as u64 * 2 / ops.max(1) as u64).max(1);
    for _ in 0..ops {
        tokio::time::sleep(Duration::from_millis(rng.gen_range(0..gap))).await;
        let db_named = rng.gen_bool(0.5);
        match rng.gen_range(0..10) {
            0..=5 => {
                let mut micro = Vec::new();
                let mut stmts = Vec::new();
                for _ in 0..rng.gen_range(1..=3) {
                    let k = rng.gen_range(0..KEYS);
                    if rng.gen_bool(0.6) {
                        let v = shared.value();
                        micro.push(Micro::Append(k, v));
                        stmts.push((
                            "MATCH (n:LA {k: $k}) SET n.vals = n.vals + $v".to_owned(),
                            params(&[("k", Value::Int(k as i64)), ("v", Value::Int(v))]),
                        ));
                    } else {
                        micro.push(Micro::Read(k, None));
                        stmts.push((
                            "MATCH (n:LA {k: $k}) RETURN n.vals AS vals".to_owned(),
                            params(&[("k", Value::Int(k as i64))]),
                        ));
                    }
                }
                let (a, via) = managed(&mut rng, db_named, false, &[], &stmts, None).await;
                let mut bookmarks = Vec::new();
                if let Attempt::Done(streams, b) = &a {
                    bookmarks = b.clone();
                    for (m, s) in micro.iter_mut().zip(streams) {
                        if let Micro::Read(_, got) = m {
                            *got = s.records.first().and_then(|r| r.first()).and_then(ints);
                        }
                    }
                }
                record(
                    &shared,
                    Op {
                        process,
                        kind: Kind::Txn(micro),
                        outcome: outcome(&a),
                        via,
                        at_ms: at(()),
                        bookmarks,
                    },
                );
            }
            6..=7 => increment(&shared, &mut rng, process, db_named, at(()), None).await,
            _ => {
                let value = shared.value();
                let w = rng.gen_range(0..MEMBERS);
                let r = (w + rng.gen_range(1..MEMBERS)) % MEMBERS;
                let write = vec![(
                    "CREATE (:RYW {v: $v})".to_owned(),
                    params(&[("v", Value::Int(value))]),
                )];
                let (a, _) = managed(&mut rng, db_named, false, &[], &write, Some(w)).await;
                let mut op = Op {
                    process,
                    kind: Kind::Ryw { value, seen: None },
                    outcome: outcome(&a),
                    via: w,
                    at_ms: at(()),
                    bookmarks: Vec::new(),
                };
                if let Attempt::Done(_, b) = &a {
                    op.bookmarks = b.clone();
                    let read = vec![(
                        "MATCH (n:RYW {v: $v}) RETURN count(n) AS c".to_owned(),
                        params(&[("v", Value::Int(value))]),
                    )];
                    let (ra, _) = managed(&mut rng, !db_named, true, b, &read, Some(r)).await;
                    match ra {
                        Attempt::Done(s, _) => {
                            op.kind = Kind::Ryw {
                                value,
                                seen: s
                                    .first()
                                    .and_then(|s| s.records.first())
                                    .and_then(|r| r.first())
                                    .and_then(int),
                            };
                        }
                        // The write's outcome stands; the read is not
                        // judged.
                        other => op.outcome = Outcome::Info(format!("read: {:?}", outcome(&other))),
                    }
                }
                record(&shared, op);
            }
        }
    }
    shared.running.set(shared.running.get() - 1);
}

/// One counter increment, recorded with the value it returned.
async fn increment(
    shared: &Shared,
    rng: &mut StdRng,
    process: usize,
    db_named: bool,
    at_ms: u128,
    member: Option<usize>,
) {
    let stmts = vec![(
        "MATCH (c:Ctr) SET c.v = c.v + 1 RETURN c.v AS v".to_owned(),
        Map::new(),
    )];
    let (a, via) = managed(rng, db_named, false, &[], &stmts, member).await;
    let (got, bookmarks) = match &a {
        Attempt::Done(s, b) => (
            s.first()
                .and_then(|s| s.records.first())
                .and_then(|r| r.first())
                .and_then(int),
            b.clone(),
        ),
        _ => (None, Vec::new()),
    };
    record(
        shared,
        Op {
            process,
            kind: Kind::Incr(got),
            outcome: outcome(&a),
            via,
            at_ms,
            bookmarks,
        },
    );
}

/// A steady stream of counter increments (auto-commit-sized transactions
/// through `member`), so that the log moves fast enough for snapshots to
/// replace it while faults last.
pub async fn load(shared: Shared, process: usize, member: usize, seed: u64, span: Duration) {
    let mut rng = StdRng::seed_from_u64(seed);
    let epoch = tokio::time::Instant::now();
    while !shared.ready.get() {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    while epoch.elapsed() < span {
        let db_named = rng.gen_bool(0.5);
        increment(
            &shared,
            &mut rng,
            process,
            db_named,
            epoch.elapsed().as_millis(),
            Some(member),
        )
        .await;
        tokio::time::sleep(Duration::from_millis(rng.gen_range(5..30))).await;
    }
    shared.running.set(shared.running.get() - 1);
}

/// Every member's final state: each key's list, the counter, the number of
/// read-your-writes nodes.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Final {
    pub lists: Vec<Vec<i64>>,
    pub counter: i64,
    pub ryw: i64,
}

/// Once the faults have healed: a marker transaction through the leader,
/// then each member's state read with its bookmark (so each has applied
/// everything committed before it).
pub async fn final_state() -> Result<Vec<Final>, String> {
    let mut rng = StdRng::seed_from_u64(7);
    let marker = vec![("CREATE (:Marker)".to_owned(), Map::new())];
    let (a, _) = managed(&mut rng, true, false, &[], &marker, None).await;
    let bookmarks = match a {
        Attempt::Done(_, b) => b,
        other => return Err(format!("the final marker failed: {:?}", outcome(&other))),
    };
    let mut out = Vec::new();
    for m in 0..MEMBERS {
        let read = vec![
            (
                "MATCH (n:LA) RETURN n.k AS k, n.vals AS vals ORDER BY k".to_owned(),
                Map::new(),
            ),
            ("MATCH (c:Ctr) RETURN c.v AS v".to_owned(), Map::new()),
            ("MATCH (n:RYW) RETURN count(n) AS c".to_owned(), Map::new()),
        ];
        let (a, _) = managed(&mut rng, true, true, &bookmarks, &read, Some(m)).await;
        let Attempt::Done(s, _) = a else {
            return Err(format!(
                "reading member {m}'s final state failed: {:?}",
                outcome(&a)
            ));
        };
        let lists = s[0]
            .records
            .iter()
            .map(|r| r.get(1).and_then(ints).unwrap_or_default())
            .collect();
        let one = |i: usize| {
            s[i].records
                .first()
                .and_then(|r| r.first())
                .and_then(int)
                .unwrap_or(-1)
        };
        out.push(Final {
            lists,
            counter: one(1),
            ryw: one(2),
        });
    }
    Ok(out)
}
