//! The contract between the Bolt protocol layer and the database.
//!
//! The protocol layer owns sockets, framing, the per-connection state machine
//! and the wire metadata. The database owns authentication, transactions,
//! query execution and routing. A connection talks to the database only
//! through these traits, which keeps the protocol testable with a fake.
//!
//! Lifecycle, as seen by an implementation:
//!
//! 1. [`Backend::authenticate`] turns credentials into a [`Session`]
//!    (HELLO in Bolt ≤ 5.0, LOGON from 5.1). LOGOFF drops the session; a later
//!    LOGON creates a new one. A connection holds at most one session.
//! 2. Explicit transactions: [`Session::begin`] (`auto_commit = false`), any
//!    number of [`Session::run`] calls, then exactly one of
//!    [`Session::commit`] or [`Session::rollback`].
//! 3. Auto-commit queries: `begin` with `auto_commit = true`, one `run`, then
//!    `commit` once the client has consumed or discarded the result, or
//!    `rollback` if running or pulling failed.
//! 4. Whenever a transaction is abandoned (RESET, a failure, the client
//!    disconnecting, server shutdown) the connection calls `rollback`. A
//!    transaction value is never silently dropped while the session lives.

use std::fmt;
use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use causeway_value::{Counters, Error, Map, QueryType, Value};

/// Credentials as the client sent them (HELLO ≤ 5.0, LOGON 5.1+).
#[derive(Clone, PartialEq)]
pub struct AuthToken {
    /// `basic`, `bearer`, `kerberos`, `none`, or a custom scheme. An auth map
    /// without a scheme is reported as `none` (Python sends `{}` for no auth).
    pub scheme: String,
    pub principal: Option<String>,
    pub credentials: Option<String>,
    /// Every other key of the auth map (`realm`, `parameters`, ...).
    pub extra: Map,
}

// Hand-written so that credentials never end up in logs.
impl fmt::Debug for AuthToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthToken")
            .field("scheme", &self.scheme)
            .field("principal", &self.principal)
            .field(
                "credentials",
                &self.credentials.as_ref().map(|_| "<redacted>"),
            )
            .field("extra_keys", &self.extra.keys().collect::<Vec<_>>())
            .finish()
    }
}

/// Read or write, as declared by the client.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AccessMode {
    Read,
    /// Also what an absent `mode` means: Python never sends `"w"`, and
    /// neo4rs' BEGIN sends no mode at all.
    Write,
}

/// Everything a client may say when it starts a transaction (BEGIN, or the
/// `extra` map of an auto-commit RUN).
#[derive(Clone, Debug, PartialEq)]
pub struct BeginRequest {
    /// `None` means the user's home/default database (absent, null or "").
    pub db: Option<String>,
    pub mode: AccessMode,
    /// Wait until these are applied before running (opaque strings we made).
    pub bookmarks: Vec<String>,
    /// `None` means no timeout was requested.
    pub tx_timeout: Option<Duration>,
    pub tx_metadata: Map,
    pub imp_user: Option<String>,
    pub auto_commit: bool,
    /// The routing context from HELLO. `Some` means the client connected
    /// with `neo4j://`, which is what allows server-side routing (forwarding
    /// a write from a follower to the leader); `None` (`bolt://`) forbids it.
    pub routing: Option<Map>,
    /// Set by another member that routes this transaction here (see
    /// [`Forward`]).
    pub forward: Option<Forward>,
}

/// The BEGIN/RUN extra key a member uses when it routes a write
/// transaction to the leader: `[command id, term, routing member's node id]`.
pub const FORWARD_KEY: &str = "causeway_forward";

/// Sent beside [`FORWARD_KEY`] when the routed transaction is a client's
/// auto-commit query. A key of its own, so that a member that does not know
/// it ignores it, as unknown BEGIN keys are ignored.
pub const AUTO_COMMIT_KEY: &str = "causeway_auto_commit";

/// How a routed transaction is fenced: it may only take the write lock
/// while the leader is still in `term`, and its change set is proposed
/// under `command_id`, so that the routing member can learn from its own
/// copy of the log whether it was applied if the leader dies mid-commit.
/// The leader lets go of the write lock such a transaction holds once
/// `origin`, the member that routed it, stops answering it: that member's
/// client can neither commit nor roll back until the cut heals.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Forward {
    pub command_id: u64,
    pub term: u64,
    pub origin: u64,
    /// The client sent an auto-commit query, which the routing member runs
    /// on the leader as BEGIN, RUN, COMMIT: it still counts as implicit.
    pub auto_commit: bool,
}

/// Rows of one query, produced lazily.
pub type RowIter = Box<dyn Iterator<Item = Result<Vec<Value>, Error>> + Send>;

/// The outcome of [`Session::run`].
///
/// The query's effects must be complete when `run` returns (its counters are
/// reported from here). Rows may be produced lazily: the connection pulls
/// them as the client asks, inside `tokio::task::block_in_place`, and may drop
/// the iterator before it is exhausted (DISCARD, COMMIT with an open result,
/// RESET). An `Err` item ends the stream, fails the request and dooms the
/// transaction.
pub struct RunResult {
    /// Column names; sent even when empty because clients require the key.
    pub fields: Vec<String>,
    pub rows: RowIter,
    pub query_type: QueryType,
    pub counters: Counters,
    /// EXPLAIN/PROFILE output.
    pub plan: Option<Map>,
    /// Whether `plan` is a PROFILE (sent as `profile`) rather than an EXPLAIN
    /// plan (sent as `plan`).
    pub profile: bool,
    /// The database that actually ran the query.
    pub db: String,
}

impl fmt::Debug for RunResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RunResult")
            .field("fields", &self.fields)
            .field("query_type", &self.query_type)
            .field("counters", &self.counters)
            .field("plan", &self.plan)
            .field("profile", &self.profile)
            .field("db", &self.db)
            .finish_non_exhaustive()
    }
}

/// The outcome of a successful commit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommitInfo {
    /// Must be non-empty: clients keep their previous bookmarks otherwise,
    /// which breaks read-your-writes across sessions. Read-only commits may
    /// repeat the latest applied position.
    pub bookmark: String,
    pub db: String,
}

/// A ROUTE request (or its 4.3 shape, normalised).
#[derive(Clone, Debug, PartialEq)]
pub struct RouteRequest {
    /// The client's routing context, including `address` = what it dialled.
    pub routing: Map,
    pub bookmarks: Vec<String>,
    /// `None` = the caller's home database; answer with its name in
    /// [`RoutingTable::db`].
    pub db: Option<String>,
    pub imp_user: Option<String>,
}

/// A routing table. Addresses are `host:port` strings reachable by clients.
/// Clients discard tables without routers or readers, so both should be
/// non-empty; an empty writer list means "election in progress".
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RoutingTable {
    pub ttl_secs: i64,
    pub db: String,
    pub routers: Vec<String>,
    pub readers: Vec<String>,
    pub writers: Vec<String>,
}

/// The database as seen by the Bolt listener. One value is shared by all
/// connections.
pub trait Backend: Send + Sync + 'static {
    type Session: Session;

    /// Checks credentials and opens a session. An `Err` (normally
    /// `Code::Unauthorized`) is sent to the client as FAILURE, after which the
    /// connection is closed, as Bolt requires.
    fn authenticate(
        &self,
        token: &AuthToken,
        peer: SocketAddr,
    ) -> impl Future<Output = Result<Self::Session, Error>> + Send;

    /// The full product name and version (e.g. `Causeway/0.1.0`), logged when
    /// a connection is established. It is *not* the HELLO `server` field,
    /// which must look like `Neo4j/x.y.z` for drivers to accept us; that one
    /// comes from [`crate::BoltConfig::server_agent`].
    fn server_agent(&self) -> String;
}

/// One authenticated user on one connection.
pub trait Session: Send + 'static {
    /// An open transaction.
    type Tx: Send + 'static;

    fn begin(&mut self, req: BeginRequest) -> impl Future<Output = Result<Self::Tx, Error>> + Send;

    /// Runs one statement inside `tx`. Several results of one transaction may
    /// be open at once; each `RunResult` must not borrow from `tx`.
    fn run(
        &mut self,
        tx: &mut Self::Tx,
        query: String,
        params: Map,
    ) -> impl Future<Output = Result<RunResult, Error>> + Send;

    fn commit(&mut self, tx: Self::Tx) -> impl Future<Output = Result<CommitInfo, Error>> + Send;

    /// Must always succeed from the client's point of view; log internal
    /// problems instead of returning them.
    fn rollback(&mut self, tx: Self::Tx) -> impl Future<Output = ()> + Send;

    fn route(
        &mut self,
        req: RouteRequest,
    ) -> impl Future<Output = Result<RoutingTable, Error>> + Send;

    /// Whether the user must change their password before anything else
    /// runs; HELLO/LOGON SUCCESS then carries `credentials_expired: true`,
    /// which tools read to ask for a new password.
    fn credentials_expired(&self) -> bool {
        false
    }
}
