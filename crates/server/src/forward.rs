//! Server-side routing: a write transaction that reaches a member other than
//! the leader runs on the leader, over a Bolt connection this member opens
//! with the client's own credentials (so the leader checks them and applies
//! its own privileges). The client cannot tell, except by latency.
//!
//! Exactly-once across a leader change: every routed transaction is fenced
//! to the term in which this member saw the leader, and its change set is
//! proposed under a command id chosen here (`causeway_forward` in BEGIN).
//! If the connection dies during COMMIT, this member learns the outcome from
//! its own copy of the log ([`Replicator::outcome`]): applied means the
//! commit succeeded; not applied means a retryable error. An auto-commit
//! query is routed as an explicit transaction whose BEGIN, RUN, PULL and
//! COMMIT travel together, so the leader's write lock is never held across
//! a network round trip; its records precede the commit on the wire.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use causeway_bolt::client::{Client, ClientError, Stream};
use causeway_bolt::{AuthToken, BeginRequest, Forward, AUTO_COMMIT_KEY, FORWARD_KEY};
use causeway_replication::{Replicator, Role};
use causeway_value::{Code, Counters, Error, Map, Value};

use crate::db::GraphState;

/// How long a routed transaction waits for a leader to appear (an election)
/// before it fails with a retryable error. Elections take well under a
/// second; drivers retry for 30 s.
pub const LEADER_WAIT: Duration = Duration::from_secs(5);
/// Connecting and logging on to the leader.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Idle connections kept per (leader, credentials), and credential sets
/// kept at all; beyond these, connections are closed instead of pooled.
const MAX_IDLE_PER_KEY: usize = 64;
const MAX_POOL_KEYS: usize = 1024;
/// The auth-token key that marks a connection as routed by another member:
/// such a connection never routes again, so a stale view cannot loop.
pub const ROUTED_MARK: &str = "causeway_routed";
const POLL: Duration = Duration::from_millis(10);
/// A routed statement without a timeout of its own waits at most this
/// (Neo4j's and our default transaction timeout) plus [`LIMIT_MARGIN`].
const STATEMENT_LIMIT: Duration = Duration::from_secs(60);
/// A leader answers a COMMIT within its own commit wait (10 s, or a
/// second after it lost its majority); past this, the answer was lost.
const COMMIT_LIMIT: Duration = Duration::from_secs(15);
const LIMIT_MARGIN: Duration = Duration::from_secs(5);

#[derive(Clone, PartialEq, Eq, Hash)]
struct PoolKey {
    addr: String,
    scheme: String,
    principal: Option<String>,
    credentials: Option<String>,
}

/// Where a write-mode transaction runs.
pub enum Route {
    /// This member is the leader and can write.
    Local,
    Leader(Target),
}

#[derive(Clone, Debug)]
pub struct Target {
    pub term: u64,
    pub bolt: String,
}

pub struct Forwarder {
    repl: Arc<Replicator<GraphState>>,
    net: causeway_net::Net,
    pool: Mutex<HashMap<PoolKey, Vec<Client>>>,
    agent: String,
}

/// A transaction running on the leader for a client of this member.
pub struct RemoteTx {
    conn: Option<(PoolKey, Client)>,
    fence: Forward,
    /// This member's applied index when the fence was made: the leader had
    /// committed at least this much, so the transaction's entry, if any,
    /// lies beyond it.
    after: u64,
    pub db: String,
    req: BeginRequest,
    /// What the client has been sent, for running the transaction again on
    /// a new leader (see [`Forwarder::replay`]).
    replay: Replay,
    /// This member became the leader while the transaction was cut off:
    /// only this member can run it again (see [`RemoteTx::replay_record`]).
    pub led_here: bool,
}

impl RemoteTx {
    /// The statements to run again, in order, each with the digest its
    /// result must have; `None` when the record outgrew its bound.
    pub fn replay_record(&self) -> Option<&[(String, Map, u64)]> {
        (!self.replay.overflowed).then_some(&self.replay.statements[..])
    }

    /// The transaction's begin request (bookmarks, mode, timeout).
    pub fn request(&self) -> &BeginRequest {
        &self.req
    }
}

/// The statements of a routed transaction that succeeded, each with a
/// digest of the result the client was sent.
#[derive(Default)]
struct Replay {
    statements: Vec<(String, Map, u64)>,
    bytes: usize,
    /// The record outgrew [`MAX_REPLAY_BYTES`]: replay is not attempted.
    overflowed: bool,
}

/// Statement text and parameters kept per routed transaction for replay;
/// a bigger transaction is not replayed (its client retries it instead).
const MAX_REPLAY_BYTES: usize = 1 << 20;

impl Replay {
    fn record(&mut self, query: &str, params: &Map, stream: &Stream) {
        if self.overflowed {
            return;
        }
        let size = text_size(query, params);
        if self.bytes + size > MAX_REPLAY_BYTES {
            self.overflowed = true;
            self.statements.clear();
            return;
        }
        self.bytes += size;
        self.statements
            .push((query.to_owned(), params.clone(), stream_digest(stream)));
    }
}

/// What keeping a statement for a re-run costs, about: its text and its
/// parameters' sizes, walked rather than formatted (a batch parameter may
/// hold megabytes).
pub(crate) fn text_size(query: &str, params: &Map) -> usize {
    query.len() + map_size(params)
}

fn map_size(m: &Map) -> usize {
    m.iter()
        .map(|(k, v)| k.len() + value_size(v))
        .sum::<usize>()
        + 2
}

fn value_size(v: &Value) -> usize {
    match v {
        Value::String(s) => s.len() + 2,
        Value::Bytes(b) => b.len() + 2,
        Value::List(items) => items.iter().map(value_size).sum::<usize>() + 2,
        Value::Map(m) => map_size(m),
        Value::Node(n) => map_size(&n.props) + n.labels.iter().map(String::len).sum::<usize>() + 16,
        Value::Relationship(r) => map_size(&r.props) + r.rel_type.len() + 32,
        Value::Path(p) => {
            p.nodes
                .iter()
                .map(|n| map_size(&n.props) + 16)
                .sum::<usize>()
                + p.rels
                    .iter()
                    .map(|r| map_size(&r.props) + 32)
                    .sum::<usize>()
        }
        _ => 16,
    }
}

/// Passes formatted text on piece by piece, so that nothing is built just
/// to be measured or hashed (a result may be large).
pub(crate) struct Sink<F: FnMut(&str)>(pub F);

impl<F: FnMut(&str)> std::fmt::Write for Sink<F> {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        (self.0)(s);
        Ok(())
    }
}

/// A digest of what a client receives for a statement: its fields, its
/// records and its counters, fed one record at a time. Routed and local
/// results digest alike, so a transaction can be replayed on whichever
/// member leads now.
pub struct Digest(std::collections::hash_map::DefaultHasher);

impl Digest {
    /// SipHash with fixed keys: the same on every run and member. Maps are
    /// ordered (BTreeMap), so equal values format alike.
    pub fn new(fields: &[String], counters: &Counters) -> Digest {
        let mut d = Digest(std::collections::hash_map::DefaultHasher::new());
        d.feed(format_args!("{fields:?}|{counters:?}"));
        d
    }

    pub fn record(&mut self, record: &[Value]) {
        self.feed(format_args!("|{record:?}"));
    }

    pub fn finish(&self) -> u64 {
        use std::hash::Hasher;
        self.0.finish()
    }

    fn feed(&mut self, args: std::fmt::Arguments<'_>) {
        use std::hash::Hasher;
        let h = &mut self.0;
        let _ = std::fmt::Write::write_fmt(&mut Sink(|s: &str| h.write(s.as_bytes())), args);
    }
}

fn stream_digest(stream: &Stream) -> u64 {
    let counters = match stream.summary.get("stats") {
        Some(Value::Map(m)) => Counters::from_stats(m),
        _ => Counters::default(),
    };
    let mut d = Digest::new(&stream.fields, &counters);
    for record in &stream.records {
        d.record(record);
    }
    d.finish()
}

/// A routed query's result.
pub struct Routed {
    pub stream: Stream,
    /// Set when the transaction committed (auto-commit).
    pub bookmark: Option<String>,
}

fn retry_later(what: &str) -> Error {
    Error::new(
        Code::NoLeader,
        format!("No leader was available within {LEADER_WAIT:?} to {what}; retry."),
    )
}

pub fn switched(e: String) -> Error {
    Error::new(
        Code::LeaderSwitch,
        format!("The connection to the leader was lost ({e}); the transaction was rolled back. Retry it."),
    )
}

/// Errors after which a transaction that has not run a statement yet can be
/// sent again, to whichever member leads now: nothing of it was applied.
fn resendable(e: &ClientError) -> bool {
    match e {
        ClientError::Connection(_) => true,
        ClientError::Server(e) => matches!(e.code, Code::NotALeader | Code::NoLeader),
    }
}

impl Forwarder {
    pub fn new(repl: Arc<Replicator<GraphState>>, net: causeway_net::Net) -> Forwarder {
        Forwarder {
            repl,
            net,
            pool: Mutex::new(HashMap::new()),
            agent: format!("causeway-router/{}", env!("CARGO_PKG_VERSION")),
        }
    }

    /// Where a write-mode transaction should run now, waiting out an
    /// election for up to [`LEADER_WAIT`].
    pub async fn route(&self) -> Result<Route, Error> {
        let deadline = tokio::time::Instant::now() + LEADER_WAIT;
        loop {
            // The leader's own writes come through here: answer them from
            // one metrics read, without building the whole status.
            if self.repl.write_leader().is_ok() {
                return Ok(Route::Local);
            }
            let st = self.repl.status();
            if st.lease_lost {
                // This member led but lost its majority: fail fast rather
                // than wait for an election it cannot see the end of. A
                // leader that has not heard from a majority yet (just
                // elected) is waited for instead.
                self.repl.still_leading(Duration::ZERO)?;
            }
            if matches!(st.role, Role::Follower | Role::Learner) {
                let leader = st
                    .leader
                    .filter(|l| *l != st.node_id)
                    .and_then(|l| st.members.iter().find(|m| m.node_id == l));
                if let Some(m) = leader.filter(|m| !m.member.routing.is_empty()) {
                    return Ok(Route::Leader(Target {
                        term: st.term,
                        bolt: m.member.routing.clone(),
                    }));
                }
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(retry_later("take this write"));
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// The leader to try next, with a fresh fence for it and the index its
    /// entry will lie beyond; `None` when this member leads.
    async fn attempt(&self) -> Result<Option<(Target, Forward, u64)>, Error> {
        Ok(match self.route().await? {
            Route::Local => None,
            Route::Leader(t) => {
                let after = self.repl.applied_index();
                let fence = Forward {
                    command_id: causeway_replication::random::u64(),
                    term: t.term,
                    origin: self.repl.node_id(),
                    auto_commit: false,
                };
                Some((t, fence, after))
            }
        })
    }

    /// `call`, on the leader of `term`, unless this member applies an entry
    /// of a later term first: that leader can then commit nothing more, so
    /// waiting for its answer (a leader cut off or paused may never send
    /// one) only stalls the client. Nor does anyone wait longer than
    /// `limit`: a connection whose answer was lost on the way (the way back
    /// cut while the leader stays in office) would otherwise hang until
    /// TCP gives up, minutes later. Either ending looks like a lost
    /// connection, so the caller begins again elsewhere or settles the
    /// commit from the log.
    async fn unless_superseded<T>(
        &self,
        term: u64,
        limit: Duration,
        call: impl std::future::Future<Output = Result<T, ClientError>>,
    ) -> Result<T, ClientError> {
        tokio::select! {
            biased;
            r = call => r,
            () = self.repl.superseded(term) => Err(ClientError::Connection(format!(
                "the leader of term {term} was replaced while this member waited for it"
            ))),
            () = tokio::time::sleep(limit) => Err(ClientError::Connection(format!(
                "the leader of term {term} did not answer within {limit:?}"
            ))),
        }
    }

    /// The longest a routed statement may take on the leader: its own
    /// timeout (or the leader's default), with a margin.
    fn statement_limit(req: &BeginRequest) -> Duration {
        req.tx_timeout.unwrap_or(STATEMENT_LIMIT) + LIMIT_MARGIN
    }

    fn key(target: &Target, token: &AuthToken) -> PoolKey {
        PoolKey {
            addr: target.bolt.clone(),
            scheme: token.scheme.clone(),
            principal: token.principal.clone(),
            credentials: token.credentials.clone(),
        }
    }

    async fn connect(
        &self,
        target: &Target,
        token: &AuthToken,
    ) -> Result<(PoolKey, Client), ClientError> {
        let key = Self::key(target, token);
        let pooled = self
            .pool
            .lock()
            .unwrap()
            .get_mut(&key)
            .and_then(|v| v.pop());
        if let Some(c) = pooled {
            return Ok((key, c));
        }
        let mut auth = token.clone();
        auth.extra.insert(ROUTED_MARK.into(), Value::Bool(true));
        let c = Client::connect(
            &*self.net,
            &target.bolt,
            &self.agent,
            &auth,
            CONNECT_TIMEOUT,
        )
        .await?;
        Ok((key, c))
    }

    fn give_back(&self, key: PoolKey, c: Client) {
        let mut pool = self.pool.lock().unwrap();
        if pool.len() >= MAX_POOL_KEYS && !pool.contains_key(&key) {
            pool.clear();
        }
        let idle = pool.entry(key).or_default();
        if idle.len() < MAX_IDLE_PER_KEY {
            idle.push(c);
        }
    }

    fn begin_extra(req: &BeginRequest, fence: Forward) -> Map {
        let mut m = Map::new();
        if let Some(db) = &req.db {
            m.insert("db".into(), Value::from(db.as_str()));
        }
        if !req.bookmarks.is_empty() {
            m.insert(
                "bookmarks".into(),
                Value::List(
                    req.bookmarks
                        .iter()
                        .map(|b| Value::from(b.as_str()))
                        .collect(),
                ),
            );
        }
        if let Some(t) = req.tx_timeout {
            m.insert("tx_timeout".into(), Value::Int(t.as_millis().max(1) as i64));
        }
        if !req.tx_metadata.is_empty() {
            m.insert("tx_metadata".into(), Value::Map(req.tx_metadata.clone()));
        }
        if let Some(u) = &req.imp_user {
            m.insert("imp_user".into(), Value::from(u.as_str()));
        }
        m.insert(
            FORWARD_KEY.into(),
            Value::List(vec![
                Value::Int(fence.command_id as i64),
                Value::Int(fence.term as i64),
                Value::Int(fence.origin as i64),
            ]),
        );
        if req.auto_commit {
            m.insert(AUTO_COMMIT_KEY.into(), Value::Bool(true));
        }
        m
    }

    /// Opens an explicit transaction on the leader. `Ok(None)` means this
    /// member has become the leader meanwhile: run it here.
    pub async fn begin(
        &self,
        req: &BeginRequest,
        token: &AuthToken,
    ) -> Result<Option<RemoteTx>, Error> {
        let deadline = tokio::time::Instant::now() + LEADER_WAIT;
        loop {
            let Some((target, fence, after)) = self.attempt().await? else {
                return Ok(None);
            };
            let res = async {
                let (key, mut c) = self
                    .unless_superseded(fence.term, CONNECT_TIMEOUT, self.connect(&target, token))
                    .await?;
                match self
                    .unless_superseded(
                        fence.term,
                        Self::statement_limit(req),
                        c.begin(Self::begin_extra(req, fence)),
                    )
                    .await
                {
                    Ok(meta) => Ok((key, c, meta)),
                    Err(e) => {
                        if let ClientError::Connection(_) = e {
                            self.forget(&key);
                        }
                        Err(e)
                    }
                }
            }
            .await;
            match res {
                Ok((key, c, meta)) => {
                    let db = match meta.get("db") {
                        Some(Value::String(s)) => s.clone(),
                        _ => req.db.clone().unwrap_or_default(),
                    };
                    return Ok(Some(RemoteTx {
                        conn: Some((key, c)),
                        fence,
                        after,
                        db,
                        req: req.clone(),
                        replay: Replay::default(),
                        led_here: false,
                    }));
                }
                Err(e) if resendable(&e) && tokio::time::Instant::now() < deadline => {
                    tracing::debug!(?e, "routing BEGIN again");
                    tokio::time::sleep(POLL).await;
                }
                Err(ClientError::Server(e)) => return Err(e),
                Err(ClientError::Connection(e)) => return Err(switched(e)),
            }
        }
    }

    /// Runs a statement of a routed explicit transaction. While none of its
    /// statements has succeeded, nothing the client has seen depends on the
    /// leader it began on (whose transaction dies with its connection), so
    /// if that leader is lost the transaction begins again on the new one;
    /// after that, it is replayed there ([`Forwarder::replay`]).
    pub async fn run_statement(
        &self,
        tx: &mut RemoteTx,
        token: &AuthToken,
        query: &str,
        params: &Map,
    ) -> Result<Stream, Error> {
        let deadline = tokio::time::Instant::now() + LEADER_WAIT;
        loop {
            match self.run(tx, query, params).await {
                Ok(stream) => {
                    tx.replay.record(query, params, &stream);
                    return Ok(stream);
                }
                Err(e) if resendable(&e) && tokio::time::Instant::now() < deadline => {
                    tracing::debug!(?e, "running a routed transaction again");
                    tx.conn = None;
                    self.replay(tx, token, &e).await?;
                }
                Err(ClientError::Server(e)) => return Err(e),
                Err(ClientError::Connection(e)) => return Err(switched(e)),
            }
        }
    }

    /// Runs a routed transaction whose leader was lost, before anything of
    /// it was committed, again on the leader now in office: its statements
    /// in order, each of whose results must digest exactly as what the
    /// client was already sent. Then the client can go on as if nothing had
    /// happened. If any result differs (other writes came in between, or a
    /// statement reads the clock or draws random numbers), or the record
    /// outgrew its bound, the transaction is rolled back and the client
    /// gets the retryable `LeaderSwitch`, as before replay existed.
    async fn replay(
        &self,
        tx: &mut RemoteTx,
        token: &AuthToken,
        why: &ClientError,
    ) -> Result<(), Error> {
        let cause = || match why {
            ClientError::Connection(e) => e.clone(),
            ClientError::Server(e) => e.to_string(),
        };
        if tx.replay.overflowed {
            return Err(switched(format!(
                "{}; the transaction is too large to run again",
                cause()
            )));
        }
        let Some(mut again) = self.begin(&tx.req, token).await? else {
            tx.led_here = true;
            return Err(Error::new(
                Code::LeaderSwitch,
                "This member became the leader while routing the transaction; retry it.",
            ));
        };
        for (query, params, expected) in &tx.replay.statements {
            let same = match self.run(&mut again, query, params).await {
                Ok(stream) => stream_digest(&stream) == *expected,
                Err(_) => false,
            };
            if !same {
                self.rollback(again).await;
                return Err(switched(format!(
                    "{}; running it again gave other results",
                    cause()
                )));
            }
        }
        again.replay = std::mem::take(&mut tx.replay);
        tracing::info!(
            statements = again.replay.statements.len(),
            "replayed a routed transaction on the new leader"
        );
        *tx = again;
        Ok(())
    }

    async fn run(
        &self,
        tx: &mut RemoteTx,
        query: &str,
        params: &Map,
    ) -> Result<Stream, ClientError> {
        let Some((_, c)) = tx.conn.as_mut() else {
            return Err(ClientError::Server(Error::new(
                Code::Terminated,
                "The transaction has been terminated after an earlier error.",
            )));
        };
        let r = self
            .unless_superseded(
                tx.fence.term,
                Self::statement_limit(&tx.req),
                c.run(query, params.clone(), Map::new()),
            )
            .await;
        if let Err(ClientError::Connection(_)) = &r {
            if let Some((key, _)) = tx.conn.take() {
                self.forget(&key);
            }
        }
        r
    }

    /// Commits a routed transaction; returns its bookmark. A commit that
    /// certainly did not apply (the leader refused it, or was lost and the
    /// log shows it never applied it) is replayed on the new leader and
    /// committed there, when replay gives the same results.
    pub async fn commit(&self, tx: &mut RemoteTx, token: &AuthToken) -> Result<String, Error> {
        let deadline = tokio::time::Instant::now() + LEADER_WAIT;
        loop {
            let Some((key, mut c)) = tx.conn.take() else {
                return Err(Error::new(
                    Code::Terminated,
                    "The transaction has been terminated after an earlier error.",
                ));
            };
            let refused = match self
                .unless_superseded(tx.fence.term, COMMIT_LIMIT, c.commit())
                .await
            {
                Ok(meta) => {
                    self.give_back(key, c);
                    return Ok(bookmark_of(&meta, &tx.db));
                }
                Err(e @ ClientError::Server(_)) if resendable(&e) => e,
                Err(ClientError::Server(e)) => return Err(e),
                Err(ClientError::Connection(e)) => {
                    self.forget(&key);
                    match self.settle(tx.fence, tx.after, &tx.db, e).await {
                        // Certainly not applied.
                        Err(e) if e.code == Code::LeaderSwitch => {
                            ClientError::Connection(e.message.clone())
                        }
                        settled => return settled,
                    }
                }
            };
            if tokio::time::Instant::now() >= deadline {
                return Err(switched(format!("{refused:?}")));
            }
            self.replay(tx, token, &refused).await?;
        }
    }

    /// The bookmark of a commit whose answer was lost, once this member's
    /// log tells whether it was applied.
    async fn settle(
        &self,
        fence: Forward,
        after: u64,
        db: &str,
        e: String,
    ) -> Result<String, Error> {
        tracing::info!(error = %e, "lost the leader during a routed commit; learning the outcome from the log");
        let outcome = self.repl.outcome(fence.command_id, fence.term, after).await;
        tracing::debug!(?outcome, "the log settled a routed commit");
        match outcome {
            Ok(index) => Ok(format!("causeway:{db}:{index}")),
            // A direct driver turns NotALeader into "no write service";
            // for a routed transaction the retryable truth is a switch.
            Err(e) if e.code == Code::NotALeader => Err(Error::new(Code::LeaderSwitch, e.message)),
            Err(e) => Err(e),
        }
    }

    pub async fn rollback(&self, mut tx: RemoteTx) {
        if let Some((key, mut c)) = tx.conn.take() {
            if c.rollback().await.is_ok() {
                self.give_back(key, c);
            }
        }
    }

    /// A whole auto-commit query on the leader, in one round trip.
    /// `Ok(None)` means this member has become the leader: run it here.
    pub async fn auto_commit(
        &self,
        req: &BeginRequest,
        token: &AuthToken,
        query: &str,
        params: &Map,
    ) -> Result<Option<Routed>, Error> {
        let deadline = tokio::time::Instant::now() + LEADER_WAIT;
        loop {
            let Some((target, fence, after)) = self.attempt().await? else {
                return Ok(None);
            };
            let (key, mut c) = match self
                .unless_superseded(fence.term, CONNECT_TIMEOUT, self.connect(&target, token))
                .await
            {
                Ok(x) => x,
                Err(e) if resendable(&e) && tokio::time::Instant::now() < deadline => {
                    tokio::time::sleep(POLL).await;
                    continue;
                }
                Err(ClientError::Server(e)) => return Err(e),
                Err(ClientError::Connection(e)) => return Err(switched(e)),
            };
            let default_db = || {
                req.db
                    .clone()
                    .unwrap_or_else(|| crate::db::DEFAULT_DB.into())
            };
            let db_of = |stream: &Stream| match stream.summary.get("db") {
                Some(Value::String(s)) => s.clone(),
                _ => default_db(),
            };
            // One round trip, so the leader's write lock is never held
            // while a message crosses the network.
            let extra = Self::begin_extra(req, fence);
            let (stream, committed) = match self
                .unless_superseded(
                    fence.term,
                    Self::statement_limit(req) + COMMIT_LIMIT,
                    async { Ok(c.run_and_commit(extra, query, params.clone()).await) },
                )
                .await
            {
                Ok(answers) => answers,
                Err(e) => (Err(e), None),
            };
            let (stream, e) = match (stream, committed) {
                (Ok(stream), Some(Ok(meta))) => {
                    self.give_back(key, c);
                    let bookmark = Some(bookmark_of(&meta, &db_of(&stream)));
                    return Ok(Some(Routed { stream, bookmark }));
                }
                // The leader refused it (the COMMIT behind a failure is
                // ignored, so nothing was applied); NotALeader and NoLeader
                // mean it may go to whoever leads now.
                (Err(ClientError::Server(e)), _) | (Ok(_), Some(Err(ClientError::Server(e)))) => {
                    if matches!(e.code, Code::NotALeader | Code::NoLeader)
                        && tokio::time::Instant::now() < deadline
                    {
                        tokio::time::sleep(POLL).await;
                        continue;
                    }
                    return Err(e);
                }
                (Ok(stream), Some(Err(ClientError::Connection(e)))) => (Some(stream), e),
                (Ok(stream), None) => (Some(stream), "no answer to COMMIT".into()),
                (Err(ClientError::Connection(e)), _) => (None, e),
            };
            // The connection broke after COMMIT was sent: the log says
            // whether it was applied.
            self.forget(&key);
            let db = stream.as_ref().map_or_else(default_db, db_of);
            match self.settle(fence, after, &db, e).await {
                Ok(bookmark) => {
                    let Some(stream) = stream else {
                        return Err(Error::new(
                            Code::Unknown,
                            "The query was committed on the leader, but the leader failed before \
                             its result reached this member; do not retry it blindly.",
                        ));
                    };
                    return Ok(Some(Routed {
                        stream,
                        bookmark: Some(bookmark),
                    }));
                }
                // Certainly not applied: send it again.
                Err(e)
                    if e.code == Code::LeaderSwitch && tokio::time::Instant::now() < deadline =>
                {
                    tokio::time::sleep(POLL).await;
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Drops the idle connections to a leader that just failed one.
    fn forget(&self, key: &PoolKey) {
        self.pool.lock().unwrap().remove(key);
    }
}

fn bookmark_of(meta: &Map, db: &str) -> String {
    match meta.get("bookmark") {
        Some(Value::String(b)) => b.clone(),
        _ => format!("causeway:{db}:0"),
    }
}
