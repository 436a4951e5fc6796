//! Databases and their transactions.
//!
//! Concurrency model (see ARCHITECTURE.md): readers run on an O(1) snapshot of
//! the applied state and never wait. Commits are serialised by one write lock
//! per database, which guards the *head*: the applied state plus every change
//! set that has been handed to the log but not yet applied. A change set is
//! always built on the head by its lock holder, so no update can be lost.
//! The lock is released as soon as the change set is queued in the log, so
//! the fsync wait overlaps with the next writer's work: that is what lets
//! many transactions share one fsync.
//!
//! Who holds the lock, and for how long (docs/decisions/0022): auto-commit
//! writes and schema commands while they execute; an explicit write
//! transaction under `concurrency_control = lock` from its first statement
//! to COMMIT. Under `optimistic` an explicit write transaction runs on a
//! snapshot of the head with no lock, keeping its statements (`rerun.rs`);
//! at COMMIT it takes the lock briefly and, if the head moved, runs them
//! again there and commits that run only if its client would have seen the
//! same results.

use std::sync::Arc;
use std::time::{Duration, Instant};

use causeway_bolt::Forward;
use causeway_exec::{ExecContext, Inputs, Limits, QueryResult, StatementClass, SystemCatalog};
use causeway_graph::{Graph, IdAllocator, TxGraph};
use causeway_replication::{Data, Replicator, WriteLeader};
use causeway_value::{Code, Error, Map};

use crate::admin::{Caller, ScopedCatalog};
use crate::forward::text_size;
use crate::rerun::{Hot, Journal, MAX_JOURNAL_BYTES};
use crate::security::{Allowed, Command, Security};
use tokio::sync::{Mutex, OwnedMutexGuard};

pub const DEFAULT_DB: &str = "neo4j";

/// How often a writer waiting on the leader (for the write lock, or for the
/// log to be applied) checks that waiting still makes sense.
const LEADERSHIP_CHECK: Duration = Duration::from_millis(50);
/// How long past the election timeout a leader's majority may stay silent
/// before such writers are sent elsewhere. They have queued nothing, so
/// they lose nothing by going; the margin keeps one late heartbeat answer
/// on a loaded machine from sending them away.
const WAIT_LAPSE_GRACE: Duration = Duration::from_millis(300);

/// Runs `wait` unless this member stops leading, or is cut off from its
/// majority for a while, first (`Replicator::still_leading`); then the
/// writer gets `NotALeader` and its driver goes to the new leader. The lock
/// may be held by a routed transaction whose routing member is on the far
/// side of the cut and can never end it; without this the writer would
/// wait until the cut heals or the lock wait times out.
async fn while_leading<F: std::future::Future>(
    repl: &Replicator<GraphState>,
    wait: F,
) -> Result<F::Output, Error> {
    tokio::pin!(wait);
    loop {
        tokio::select! {
            biased;
            out = &mut wait => return Ok(out),
            () = tokio::time::sleep(LEADERSHIP_CHECK) => repl.still_leading(WAIT_LAPSE_GRACE)?,
        }
    }
}
pub const SYSTEM_DB: &str = "system";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Read,
    Write,
}

pub struct DbConfig {
    /// Largest encoded change set one transaction may commit; the log
    /// refuses bigger records, so bigger transactions fail alone here.
    pub max_transaction_bytes: usize,
    pub lock_timeout: Duration,
    /// Explicit write transactions run without the lock until COMMIT
    /// (`concurrency_control = optimistic`).
    pub optimistic: bool,
    pub transaction_timeout: Duration,
    pub bookmark_timeout: Duration,
    pub limits: Limits,
}

/// The state writers build on: applied state plus queued change sets, valid
/// for one leadership only.
pub struct Head {
    graph: Graph,
    /// The leadership this head was built under. When it differs from the
    /// current one, the head is rebuilt from the applied state once
    /// everything in the log is applied: change sets queued under an earlier
    /// leadership may have been dropped by the cluster.
    leader: Option<WriteLeader>,
    /// The command id of the last change set queued into this head and not
    /// known to be applied, with the graph version it makes: a transaction
    /// that read the head may be acknowledged only once that very change
    /// set is applied (another one could reach the same version).
    queued: Option<(u64, u64)>,
    /// Changes whenever `graph` is rebuilt, so that (epoch, version) never
    /// names two states: versions repeat when a head that held a change set
    /// that never committed is rebuilt and others are built on it.
    epoch: u64,
    /// The graph's id counters when it was rebuilt: ids below them may have
    /// been used under another leadership, so a re-run may not take them.
    floor: (u64, u64),
}

/// The head as it was when last published, readable while a writer holds
/// the lock: where optimistic transactions take their snapshot. A commit
/// only withdraws the graph (the next optimistic transaction publishes
/// the head again if the lock is free), so that writers that never read it
/// do not pay for copying it on every commit.
#[derive(Clone, Default)]
struct View {
    epoch: u64,
    graph: Option<Graph>,
    queued: Option<(u64, u64)>,
    /// (term, node) of the leadership the head belongs to; `None` while the
    /// head must be rebuilt before use.
    leader: Option<(u64, u64)>,
}

/// The replicated state of a database: its graph, and the users, roles
/// and privileges of the DBMS (held by the group until the `system`
/// database has a group of its own). Change sets are applied exactly as the
/// transaction that produced them left them, and only onto the graph
/// version they were built on.
#[derive(Clone, Default)]
pub struct GraphState(pub Graph, pub Arc<Security>);

/// Marks a log payload that names the graph version its change set was
/// built on.
const BASED_MAGIC: &[u8; 4] = b"CWB1";
/// Marks a log payload of security commands (JSON), applied together or
/// not at all.
const SECURITY_MAGIC: &[u8; 4] = b"CWU1";
/// Marks a snapshot that starts with the security state: the magic, its
/// length (u32, little-endian), its JSON, then the graph.
const SECURITY_SNAPSHOT_MAGIC: &[u8; 4] = b"CWS\x01";

impl GraphState {
    /// A log payload of security commands, applied in order, all or none.
    pub fn security_payload(commands: &[Command]) -> Vec<u8> {
        let mut out = SECURITY_MAGIC.to_vec();
        out.extend(serde_json::to_vec(commands).expect("commands serialise"));
        out
    }

    /// A snapshot's security state, and the graph's bytes after it.
    fn decode_security(bytes: &[u8]) -> Result<(Security, &[u8]), String> {
        Ok(
            match bytes.strip_prefix(SECURITY_SNAPSHOT_MAGIC.as_slice()) {
                Some(rest) => {
                    let (len, rest) = rest
                        .split_first_chunk::<4>()
                        .ok_or_else(|| "snapshot: short security header".to_owned())?;
                    let len = u32::from_le_bytes(*len) as usize;
                    if rest.len() < len {
                        return Err("snapshot: truncated security state".into());
                    }
                    let (json, graph) = rest.split_at(len);
                    let security: Security = serde_json::from_slice(json)
                        .map_err(|e| format!("snapshot: security state: {e}"))?;
                    (security, graph)
                }
                None => (Security::default(), bytes),
            },
        )
    }

    /// A change set built on graph version `base`. A writer builds on the
    /// head, which may hold change sets still on their way through the log;
    /// should one of those never reach the log (openraft refuses a proposal
    /// when the leader's lease lapses or a hand-over starts, and may accept
    /// the next one once that passes), a change set built on it must not
    /// apply either: it carries that entry's effects and its reads saw them.
    pub fn based_payload(base: u64, changes: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(12 + changes.len());
        out.extend_from_slice(BASED_MAGIC);
        out.extend_from_slice(&base.to_le_bytes());
        out.extend_from_slice(changes);
        out
    }
}

impl Data for GraphState {
    fn apply(&mut self, payload: &[u8]) -> Result<bool, String> {
        let applied = self.apply_rebuilt(payload)?;
        // Only committed graphs reach this member's vector-index builder.
        if applied {
            self.0.feed_index_builders();
        }
        Ok(applied)
    }
    /// Not fed to the index builders: a rebuilt state has none of its own
    /// until it takes over the live state's.
    fn apply_rebuilt(&mut self, payload: &[u8]) -> Result<bool, String> {
        if let Some(json) = payload.strip_prefix(SECURITY_MAGIC.as_slice()) {
            let commands: Vec<Command> =
                serde_json::from_slice(json).map_err(|e| format!("security commands: {e}"))?;
            let mut next = (*self.1).clone();
            // Refused the same way on every member: the entry changes
            // nothing and its writer is told.
            if next.apply_all(&commands).is_err() {
                return Ok(false);
            }
            self.1 = Arc::new(next);
            return Ok(true);
        }
        let changes = match payload.strip_prefix(BASED_MAGIC.as_slice()) {
            Some(rest) => {
                let (base, changes) = rest
                    .split_first_chunk::<8>()
                    .ok_or_else(|| "log payload: short header".to_owned())?;
                if u64::from_le_bytes(*base) != self.0.version() {
                    return Ok(false);
                }
                changes
            }
            None => payload,
        };
        let changes = causeway_graph::ChangeSet::decode(changes).map_err(|e| e.message)?;
        self.0.apply(&changes).map_err(|e| e.message)?;
        Ok(true)
    }
    fn encode(&self) -> Vec<u8> {
        let graph = self.0.encode();
        if *self.1 == Security::default() {
            return graph;
        }
        let security = serde_json::to_vec(&*self.1).expect("the security state serialises");
        let mut out = Vec::with_capacity(8 + security.len() + graph.len());
        out.extend_from_slice(SECURITY_SNAPSHOT_MAGIC);
        out.extend_from_slice(&(security.len() as u32).to_le_bytes());
        out.extend_from_slice(&security);
        out.extend_from_slice(&graph);
        out
    }
    fn decode(bytes: &[u8]) -> Result<Self, String> {
        let state = Self::decode_rebuilt(bytes)?;
        state.0.feed_index_builders();
        Ok(state)
    }
    /// The graph as decoded from a snapshot is denser than one built a
    /// write at a time (docs/decisions/0023-compact-graph-storage.md).
    fn rebuild_from_snapshots() -> bool {
        true
    }
    /// Not fed to the index builders: it takes over the live state's.
    fn decode_rebuilt(bytes: &[u8]) -> Result<Self, String> {
        let (security, graph) = Self::decode_security(bytes)?;
        let g = Graph::decode(graph).map_err(|e| e.message)?;
        Ok(GraphState(g, Arc::new(security)))
    }
    fn take_local(&mut self, live: &Self) {
        self.0.take_local(&live.0);
    }
}

pub struct Database {
    pub name: String,
    repl: Option<Arc<Replicator<GraphState>>>,
    /// The group that holds the users, roles and privileges, for a database
    /// without a group of its own (`system`).
    security: Option<Arc<Replicator<GraphState>>>,
    head: Arc<Mutex<Head>>,
    view: std::sync::Mutex<View>,
    /// Node and relationship ids for every writer on this member while it
    /// leads (`causeway_graph::IdAllocator`).
    ids: Arc<IdAllocator>,
    hot: Hot,
    config: DbConfig,
    catalog: Arc<dyn SystemCatalog>,
}

/// The write lock, as a transaction holds it. A watchdog may take the guard
/// out when the transaction outlives its timeout, so that a client that goes
/// idle in the middle of a write transaction cannot stall every writer.
type LockSlot = Arc<std::sync::Mutex<Option<OwnedMutexGuard<Head>>>>;

pub struct Transaction {
    mode: Mode,
    /// Explicit (BEGIN ... COMMIT) rather than auto-commit.
    explicit: bool,
    graph: TxGraph,
    lock: Option<LockSlot>,
    watchdog: Option<tokio::task::AbortHandle>,
    statements: usize,
    deadline: tokio::time::Instant,
    failed: bool,
    /// Set when the leader let go of this routed transaction's write lock
    /// because the member that routed it stopped answering.
    orphaned: Arc<std::sync::atomic::AtomicBool>,
    /// Set when another member routed this transaction here.
    forward: Option<Forward>,
    /// Who runs it, with the privileges they had when it began.
    caller: Box<Caller>,
    /// The caller may not see this database's graph: it reads an empty one
    /// and may not write.
    blind: bool,
    /// The security state as this transaction's administration commands
    /// left it (taken from the applied state at the first one).
    security: Option<Box<Security>>,
    /// Those commands, committed as one log entry.
    pending: Vec<Command>,
    /// Optimistic (no lock yet): the statements so far, to run again at
    /// the commit point.
    journal: Option<Box<Journal>>,
    /// The head the snapshot came from, as (epoch, version); epoch 0 for the
    /// applied state.
    snapshot: (u64, u64),
    /// What a commit that wrote nothing waits to see applied: the version
    /// read and the change set queued into it, if any.
    seen: Option<(u64, Option<(u64, u64)>)>,
    /// The first statement's key (`Hot::shape`), when it was needed.
    shape: Option<u64>,
}

impl Drop for Transaction {
    fn drop(&mut self) {
        if let Some(w) = self.watchdog.take() {
            w.abort();
        }
    }
}

impl Database {
    /// A database whose commits go through `repl`. `None` makes a read-only
    /// database with no data (the `system` database, which answers
    /// administration commands from the catalog).
    pub fn new(
        name: &str,
        repl: Option<Arc<Replicator<GraphState>>>,
        config: DbConfig,
        catalog: Arc<dyn SystemCatalog>,
    ) -> Self {
        let graph = repl.as_ref().map(|r| r.state().0).unwrap_or_default();
        Database {
            name: name.to_owned(),
            repl,
            security: None,
            head: Arc::new(Mutex::new(Head {
                graph,
                leader: None,
                queued: None,
                epoch: 0,
                floor: (0, 0),
            })),
            view: std::sync::Mutex::default(),
            ids: Arc::default(),
            hot: Hot::default(),
            config,
            catalog,
        }
    }

    /// The `system` database: no graph of its own, its users, roles and
    /// privileges in `group`'s replicated state.
    pub fn with_security(mut self, group: Arc<Replicator<GraphState>>) -> Self {
        self.security = Some(group);
        self
    }

    /// The Raft group this database commits through: its own, or for
    /// `system` the one that holds the security state.
    fn group(&self) -> Option<&Arc<Replicator<GraphState>>> {
        self.repl.as_ref().or(self.security.as_ref())
    }

    /// Whether writes to this database go through a Raft group (and so,
    /// on a member that is not the leader, are routed to it).
    pub fn is_replicated(&self) -> bool {
        self.group().is_some()
    }

    pub fn applied_index(&self) -> u64 {
        self.group().map_or(0, |r| r.applied_index())
    }

    /// The users, roles and privileges as this member has applied them.
    pub fn security(&self) -> Arc<Security> {
        self.group().map(|r| r.state().1).unwrap_or_default()
    }

    pub fn bookmark(&self, index: u64) -> String {
        format!("causeway:{}:{index}", self.name)
    }

    /// Begins a transaction after the database has applied every bookmark the
    /// client presents (causal consistency).
    pub async fn begin(
        &self,
        mode: Mode,
        explicit: bool,
        bookmarks: &[String],
        timeout: Option<Duration>,
        forward: Option<Forward>,
        caller: Caller,
    ) -> Result<Transaction, Error> {
        let mut wanted = 0;
        for b in bookmarks {
            wanted = wanted.max(self.parse_bookmark(b)?);
        }
        // `system` holds no data; what may be done there is checked per
        // command.
        let mut blind = false;
        if let (Some(rights), false) = (&caller.rights, self.name == SYSTEM_DB) {
            if rights.allows("access", &self.name, DEFAULT_DB) != Allowed::Granted {
                return Err(Error::new(
                    Code::Forbidden,
                    format!("Database access is not allowed for {}.", rights.describe()),
                ));
            }
            // Without MATCH the graph is invisible, as in Neo4j: reads see
            // nothing, and no error.
            blind = rights.allows("match", &self.name, DEFAULT_DB) != Allowed::Granted;
        }
        if let Some(repl) = self.group() {
            if wanted > repl.applied_index() {
                let _slow = SlowWarning::start("waiting for bookmarks", wanted);
                repl.wait_applied(wanted, self.config.bookmark_timeout)
                    .await
                    .map_err(|_| {
                        Error::new(
                            Code::BookmarkTimeout,
                            format!(
                                "Database '{}' has not caught up with bookmark {wanted} in time",
                                self.name
                            ),
                        )
                    })?;
            }
        }
        let base = match &self.repl {
            Some(r) if !blind => r.state().0,
            _ => Graph::default(),
        };
        let timeout = timeout
            .unwrap_or(self.config.transaction_timeout)
            .min(self.config.transaction_timeout);
        Ok(Transaction {
            mode,
            explicit,
            graph: self.working_copy(base),
            lock: None,
            watchdog: None,
            statements: 0,
            deadline: tokio::time::Instant::now() + timeout,
            failed: false,
            orphaned: Arc::default(),
            forward,
            caller: Box::new(caller),
            blind,
            security: None,
            pending: Vec::new(),
            journal: None,
            snapshot: (0, 0),
            seen: None,
            shape: None,
        })
    }

    /// A transaction's working copy of `base`, taking ids from this
    /// member's allocator.
    fn working_copy(&self, base: Graph) -> TxGraph {
        TxGraph::new(base).with_ids(self.ids.clone())
    }

    fn view(&self) -> std::sync::MutexGuard<'_, View> {
        // Replaced whole under the lock; never left half-written.
        self.view.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Publishes the head for optimistic transactions to start from.
    fn publish(&self, head: &Head) {
        if !self.config.optimistic {
            return;
        }
        let old = std::mem::replace(
            &mut *self.view(),
            View {
                epoch: head.epoch,
                graph: Some(head.graph.clone()),
                queued: head.queued,
                leader: head.leader.map(|l| (l.term, l.node_id)),
            },
        );
        drop(old);
    }

    /// Withdraws the published head, which the head under the lock has
    /// left behind (dropped outside the view's lock).
    fn withdraw(&self) {
        let old = self.view().graph.take();
        drop(old);
    }

    /// Points an optimistic transaction's first statement at the newest
    /// state: the published head where this member leads and has one,
    /// otherwise the applied state it began on.
    fn take_snapshot(&self, tx: &mut Transaction, repl: &Replicator<GraphState>) {
        tx.journal = Some(Box::default());
        let mut view = self.view().clone();
        if view.graph.is_none() {
            // Never waits: with the lock taken, the applied state serves.
            if let Ok(head) = self.head.try_lock() {
                if head.leader.is_some() {
                    self.publish(&head);
                    view = self.view().clone();
                }
            }
        }
        let leading = repl.write_leader().ok().map(|l| (l.term, l.node_id));
        match view.graph {
            Some(graph)
                if view.leader.is_some()
                    && view.leader == leading
                    && graph.version() >= tx.graph.version() =>
            {
                tx.snapshot = (view.epoch, graph.version());
                tx.seen = Some((graph.version(), view.queued));
                tx.graph = self.working_copy(graph);
            }
            _ => tx.snapshot = (0, tx.graph.version()),
        }
    }

    /// A bookmark's index for this database: bookmarks of the other
    /// databases this member hosts are accepted and wait for nothing here,
    /// since a driver sends every bookmark of its session, whichever
    /// database they came from (the session checks that they name one).
    fn parse_bookmark(&self, b: &str) -> Result<u64, Error> {
        let (db, index) = parse_bookmark(b)?;
        Ok(if db.eq_ignore_ascii_case(&self.name) {
            index
        } else {
            0
        })
    }

    /// Runs one statement inside `tx`.
    pub async fn run(
        &self,
        tx: &mut Transaction,
        query: &str,
        params: &Map,
    ) -> Result<QueryResult, Error> {
        if tx.failed {
            return Err(Error::new(
                Code::Terminated,
                "The transaction has been terminated after an earlier error.",
            ));
        }
        let lock_revoked = tx
            .lock
            .as_ref()
            .is_some_and(|slot| lock_slot(slot).is_none());
        if tokio::time::Instant::now() > tx.deadline || lock_revoked {
            tx.failed = true;
            tx.lock = None;
            return Err(lock_lost(tx));
        }
        let info = causeway_exec::statement_info(query)?;
        let class = info.class;
        if tx.caller.expired && !info.changes_own_password {
            tx.failed = true;
            return Err(credentials_expired());
        }
        if let (Some(action), Some(rights)) = (info.schema_action, &tx.caller.rights) {
            let needs = match action {
                "create_index" | "drop_index" => "index",
                "create_constraint" | "drop_constraint" => "constraint",
                other => other,
            };
            if rights.allows(needs, &self.name, DEFAULT_DB) != Allowed::Granted {
                tx.failed = true;
                let message = match action {
                    "show_index" => format!(
                        "Show indexes on database '{}' is not allowed for {}.",
                        self.name,
                        rights.describe()
                    ),
                    "show_constraint" => format!(
                        "Show constraints on database '{}' is not allowed for {}.",
                        self.name,
                        rights.describe()
                    ),
                    _ => format!(
                        "Schema operation '{action}' on database '{}' is not allowed for {}.",
                        self.name,
                        rights.describe()
                    ),
                };
                return Err(Error::new(Code::Forbidden, message));
            }
        }
        // A routed auto-commit query arrives as the first statement of a
        // transaction marked so; nothing else counts as implicit.
        let implicit =
            !tx.explicit || (tx.statements == 0 && tx.forward.is_some_and(|f| f.auto_commit));
        if !implicit && info.inner_transactions {
            tx.failed = true;
            return Err(Error::new(
                Code::TransactionStartFailed,
                "A query with 'CALL { ... } IN TRANSACTIONS' can only be executed in an implicit \
                 transaction, but tried to execute in an explicit transaction.",
            ));
        }
        // An explicit write-mode transaction takes the write lock with its
        // first statement, even a read: its later writes may depend on what
        // it read, and under the lock nothing can change in between. That
        // makes write-write conflicts impossible instead of retried.
        let needs_lock = class != StatementClass::Admin
            && !tx.blind
            && (class != StatementClass::Read || (tx.explicit && tx.mode == Mode::Write));
        if class != StatementClass::Read && tx.mode == Mode::Read {
            return Err(Error::new(
                Code::AccessMode,
                "Writing in read access mode not allowed.",
            ));
        }
        if class == StatementClass::Admin {
            return self.run_admin(tx, query, params).await;
        }
        if class == StatementClass::Schema && tx.blind {
            tx.failed = true;
            return Err(Error::new(
                Code::Forbidden,
                format!(
                    "Schema operations on database '{}' need MATCH on it here: Causeway runs them \
                     against the graph the caller can see.",
                    self.name
                ),
            ));
        }
        if !tx.pending.is_empty() && class != StatementClass::Read {
            tx.failed = true;
            return Err(mixed_admin());
        }
        // Under `optimistic` an explicit write transaction holds no lock
        // until COMMIT; schema commands, statements that keep conflicting
        // and transactions too large to keep take the lock as before.
        let optimistic = needs_lock
            && !implicit
            && self.config.optimistic
            && tx.lock.is_none()
            && class != StatementClass::Schema
            && self.stays_optimistic(tx, query, params);
        if let (true, Some(repl)) = (optimistic, &self.repl) {
            if tx.journal.is_none() {
                self.take_snapshot(tx, repl);
            }
            // A follower serves the reads of a write-mode transaction from
            // its snapshot and refuses its first write; a routed one was
            // meant for the leader and must fail, to be sent elsewhere.
            if class != StatementClass::Read || tx.forward.is_some() {
                if let Err(e) = leading_for(tx, repl) {
                    tx.failed = true;
                    return Err(e);
                }
            }
        } else if needs_lock {
            match self.lock_for_write(tx, true).await {
                Ok(()) => {}
                // A follower serves the reads of a write-mode transaction
                // from its snapshot, and refuses its first write.
                Err(e) if e.code == Code::NotALeader => {
                    // A routed transaction was meant for a leader: it must
                    // fail, so the routing member can send it elsewhere. So
                    // must an optimistic one: a read served here would not
                    // be in its journal, so its commit could not check it.
                    if class != StatementClass::Read || tx.forward.is_some() || tx.journal.is_some()
                    {
                        tx.failed = true;
                        return Err(e);
                    }
                }
                Err(e) => return Err(e),
            }
        }
        if class != StatementClass::Read && self.repl.is_none() {
            return Err(Error::new(
                Code::ForbiddenReadOnly,
                format!(
                    "The database '{}' does not accept data or schema writes.",
                    self.name
                ),
            ));
        }
        tx.statements += 1;
        let inputs = optimistic.then(Inputs::fresh);
        let (mut result, before) = self.execute_checked(
            &mut tx.graph,
            Who {
                caller: &tx.caller,
                security: tx.security.as_deref(),
                blind: tx.blind,
            },
            (query, params, class == StatementClass::Write),
            inputs,
            tx.deadline,
        );
        if let (Some(journal), Some(inputs)) = (tx.journal.as_mut(), inputs) {
            result = result.map(|r| journal.record(query, params, inputs, r));
        }
        if let Err(e) = result {
            tx.failed = true;
            // Inner transactions (`CALL { } IN TRANSACTIONS`) that finished
            // before the failure stay committed, as in Neo4j, and the client
            // gets the statement's error. If they could not be committed,
            // the client must learn that instead (a transient error to
            // retry, or an unknown outcome): it would otherwise take them
            // for committed.
            if implicit {
                if let Some(done) = tx.graph.take_finished_batches() {
                    tx.graph = done;
                    // What the finished batches wrote must be allowed too.
                    if let Some((count, snapshot)) = &before {
                        self.check_writes(tx.who(), &tx.graph, snapshot, *count)?;
                    }
                    if let Err(mut c) = self.commit_changes(tx).await {
                        tracing::warn!(db = %self.name, error = %c,
                            "the finished inner transactions of a failed statement did not commit");
                        c.message = format!(
                            "{} (committing the inner transactions that finished before the \
                             statement failed with: {})",
                            c.message, e.message
                        );
                        return Err(c);
                    }
                }
            }
            return Err(e);
        }
        result
    }

    /// Whether an explicit write transaction's statement may run without
    /// the lock: not if its first statement is hot, or if it has outgrown
    /// what it may keep for a re-run.
    fn stays_optimistic(&self, tx: &mut Transaction, query: &str, params: &Map) -> bool {
        match &tx.journal {
            Some(journal) => journal.fits(query, params),
            None if tx.statements > 0 => false,
            None if text_size(query, params) > MAX_JOURNAL_BYTES => false,
            None if self.hot.is_empty() => true,
            None => {
                let shape = self.hot.shape(query, params);
                tx.shape = Some(shape);
                !self.hot.is_hot(shape)
            }
        }
    }

    /// Runs one statement (text, parameters, whether it writes) on `graph`
    /// for `who`, then checks what it wrote against their rights. Also
    /// returns what the check compared against (the change count and
    /// graph before a write statement).
    fn execute_checked(
        &self,
        graph: &mut TxGraph,
        who: Who<'_>,
        (query, params, writes): (&str, &Map, bool),
        inputs: Option<Inputs>,
        deadline: tokio::time::Instant,
    ) -> (Result<QueryResult, Error>, Option<(usize, Graph)>) {
        let applied = || self.security();
        let scoped = ScopedCatalog {
            base: &*self.catalog,
            view: who.security,
            applied: &applied,
            caller: who.caller,
            params,
        };
        let ctx = ExecContext {
            database: &self.name,
            catalog: Some(&scoped),
            limits: self.config.limits,
            inputs,
        };
        // What a write statement changed is checked against the caller's
        // rights afterwards; reads need no "before".
        let before = writes.then(|| (graph.change_count(), graph.snapshot()));
        // Inline on the async worker: read statements only plan here (their
        // rows are pulled later, see the Bolt connection), and handing the
        // worker over with block_in_place costs more than a typical write.
        let mut result = causeway_exec::execute_until(graph, query, params, &ctx, Some(deadline));
        // Writes run eagerly: what they changed is known now.
        if let (Ok(_), Some((count, snapshot))) = (&result, &before) {
            if let Err(e) = self.check_writes(who, graph, snapshot, *count) {
                result = Err(e);
            }
        }
        (result, before)
    }

    /// Runs an optimistic transaction's statements again on the head, each
    /// with its first run's clock, random seed and ids. The result stands
    /// only if every statement gives its client what it already received.
    fn rerun(&self, tx: &Transaction, head: &Head) -> Result<TxGraph, Error> {
        let conflict = || {
            Error::new(
                Code::Outdated,
                "The transaction read data that another transaction has since changed; retry it.",
            )
        };
        let Some(journal) = &tx.journal else {
            return Err(conflict());
        };
        if journal.failed() {
            return Err(conflict());
        }
        let mut graph = TxGraph::rerun_of(&tx.graph, head.graph.clone(), head.floor);
        for entry in &journal.entries {
            let writes = causeway_exec::statement_info(&entry.query)
                .is_ok_and(|i| i.class == StatementClass::Write);
            let (result, _) = self.execute_checked(
                &mut graph,
                tx.who(),
                (&entry.query, &entry.params, writes),
                Some(entry.inputs),
                tx.deadline,
            );
            match result {
                Ok(r) => {
                    if !entry.same_as(r) {
                        return Err(conflict());
                    }
                }
                // Not a conflict: the same would happen on any retry.
                Err(e) if matches!(e.code, Code::Forbidden | Code::TransactionTimedOut) => {
                    return Err(e)
                }
                Err(_) => return Err(conflict()),
            }
        }
        Ok(graph)
    }

    /// Checks what a statement wrote against the caller's privileges: new
    /// labels, types and property keys need NAME MANAGEMENT, any change
    /// WRITE, and a caller who cannot see the graph may not change it.
    fn check_writes(
        &self,
        who: Who<'_>,
        graph: &TxGraph,
        before: &Graph,
        from: usize,
    ) -> Result<(), Error> {
        use causeway_graph::Change;
        let db = &self.name;
        let Some(rights) = &who.caller.rights else {
            return Ok(());
        };
        let who_desc = rights.describe();
        // A caller who cannot see the graph read an empty one; the names
        // that exist are the real graph's.
        let applied;
        let before = match (&self.repl, who.blind) {
            (Some(r), true) => {
                applied = r.state().0;
                &applied
            }
            _ => before,
        };
        let may = |action: &str| rights.allows(action, db, DEFAULT_DB) == Allowed::Granted;
        let (token, write) = (may("token"), may("write"));
        let new_token = |kind: &str, grant: &str| {
            Error::new(
                Code::Forbidden,
                format!(
                    "Creating new {kind} on database '{db}' is not allowed for {who_desc}. See GRANT CREATE NEW {grant} ON DATABASE `{db}`..."
                ),
            )
        };
        let mut first = None;
        for change in graph.changes_since(from) {
            first.get_or_insert(change);
            if token {
                continue;
            }
            let (labels, rel_type, keys): (Vec<&str>, Option<&str>, Vec<&str>) = match change {
                Change::CreateNode { labels, props, .. } => (
                    labels.iter().map(String::as_str).collect(),
                    None,
                    props.keys().map(String::as_str).collect(),
                ),
                Change::CreateRel {
                    rel_type, props, ..
                } => (
                    Vec::new(),
                    Some(rel_type.as_str()),
                    props.keys().map(String::as_str).collect(),
                ),
                Change::SetNodeProp { key, .. } | Change::SetRelProp { key, .. } => {
                    (Vec::new(), None, vec![key.as_str()])
                }
                Change::AddLabel { label, .. } => (vec![label.as_str()], None, Vec::new()),
                _ => (Vec::new(), None, Vec::new()),
            };
            if labels.iter().any(|l| !before.knows_label(l)) {
                return Err(new_token("node label", "NODE LABEL"));
            }
            if rel_type.is_some_and(|t| !before.knows_rel_type(t)) {
                return Err(new_token("relationship type", "RELATIONSHIP TYPE"));
            }
            if keys.iter().any(|k| !before.knows_property_key(k)) {
                return Err(new_token("property name", "PROPERTY NAME"));
            }
        }
        let Some(first) = first else {
            return Ok(());
        };
        if write && !who.blind {
            return Ok(());
        }
        if write {
            // Granted WRITE without MATCH: the graph this transaction read
            // is not the real one, so nothing it wrote can stand.
            return Err(Error::new(Code::Forbidden, "Permission denied."));
        }
        let what = match first {
            Change::CreateNode { labels, .. } => {
                format!("Create node with labels '{}'", labels.join(","))
            }
            Change::CreateRel { rel_type, .. } => {
                format!("Create relationship with type '{rel_type}'")
            }
            Change::SetNodeProp { key, .. } | Change::SetRelProp { key, .. } => {
                format!("Set property for property '{key}'")
            }
            Change::AddLabel { label, .. } => format!("Set label for label '{label}'"),
            Change::RemoveLabel { label, .. } => format!("Remove label for label '{label}'"),
            Change::DeleteNode { id } => format!(
                "Delete node with labels '{}'",
                before
                    .node_value(*id)
                    .map(|n| n.labels.join(","))
                    .unwrap_or_default()
            ),
            Change::DeleteRel { id } => format!(
                "Delete relationship with type '{}'",
                before
                    .rel_value(*id)
                    .map(|r| r.rel_type)
                    .unwrap_or_default()
            ),
            _ => "Write".to_owned(),
        };
        Err(Error::new(
            Code::Forbidden,
            format!("{what} on database '{db}' is not allowed for {who_desc}."),
        ))
    }

    /// Runs a user, role or privilege command: checked now against the
    /// transaction's view of the security state, committed with it.
    async fn run_admin(
        &self,
        tx: &mut Transaction,
        query: &str,
        params: &Map,
    ) -> Result<QueryResult, Error> {
        let stmt = causeway_cypher::parse(query)?;
        let causeway_cypher::ast::StatementKind::Admin(cmd) = &stmt.kind else {
            return Err(Error::new(Code::Unknown, "not an administration command"));
        };
        if tx.graph.has_changes() {
            tx.failed = true;
            return Err(mixed_admin());
        }
        if self.group().is_none() {
            tx.failed = true;
            return Err(Error::new(
                Code::UnsupportedAdministrationCommand,
                "This database has no replicated security state.",
            ));
        }
        let mut view = match tx.security.take() {
            Some(v) => v,
            None => Box::new((*self.security()).clone()),
        };
        let planned = crate::admin::plan(cmd, params, &mut view, &tx.caller).await;
        match planned {
            Ok(commands) if tx.pending.len() + commands.len() > MAX_PENDING_COMMANDS => {
                tx.failed = true;
                Err(Error::new(
                    Code::TransactionCommitFailed,
                    format!(
                        "A transaction may hold at most {MAX_PENDING_COMMANDS} administration commands."
                    ),
                ))
            }
            Ok(commands) => {
                tx.security = Some(view);
                tx.statements += 1;
                let updates = commands.len() as i64;
                tx.pending.extend(commands);
                Ok(QueryResult {
                    fields: Vec::new(),
                    rows: Box::new(std::iter::empty()),
                    query_type: causeway_value::QueryType::Schema,
                    counters: causeway_value::Counters {
                        system_updates: updates,
                        ..Default::default()
                    },
                    plan: None,
                })
            }
            Err(e) => {
                tx.failed = true;
                Err(e)
            }
        }
    }

    /// Commits a transaction's administration commands as one log entry.
    async fn commit_security(&self, tx: &mut Transaction) -> Result<String, Error> {
        let Some(group) = self.group() else {
            return Err(Error::new(Code::Unknown, "no replicated security state"));
        };
        let leader = group.write_leader().map_err(|mut e| {
            e.message = format!(
                "Administration commands must be executed on the LEADER server. ({})",
                e.message
            );
            e
        })?;
        let id = tx
            .forward
            .map_or_else(causeway_replication::random::u64, |f| f.command_id);
        let commands = std::mem::take(&mut tx.pending);
        let payload = GraphState::security_payload(&commands);
        if payload.len() > self.config.max_transaction_bytes {
            return Err(Error::new(
                Code::TransactionCommitFailed,
                "The transaction's administration commands are larger than max_transaction_bytes.",
            ));
        }
        let committed = match group.submit_as(leader, id, payload).await {
            Ok(pending) => pending.await,
            Err(e) => Err(e),
        };
        match committed {
            Ok(index) => Ok(self.bookmark(index)),
            Err(e) => {
                // Refused on apply: another transaction changed what these
                // commands were checked against. Checking them again says
                // what, in Neo4j's words.
                let mut now = (*self.security()).clone();
                match now.apply_all(&commands) {
                    Err(precise) => Err(precise),
                    Ok(_) => Err(e),
                }
            }
        }
    }

    /// Takes the write lock for `tx`, on the head of the current
    /// leadership. An optimistic transaction is moved onto the head, run
    /// again there if the head moved since its snapshot. `held`: the lock
    /// stays with the transaction across client requests (not just to
    /// commit), so a watchdog may take it back.
    async fn lock_for_write(&self, tx: &mut Transaction, held: bool) -> Result<(), Error> {
        if tx.lock.is_some() {
            return Ok(());
        }
        let Some(repl) = &self.repl else {
            return Ok(());
        };
        let wait = self.config.lock_timeout.min(
            tx.deadline
                .saturating_duration_since(tokio::time::Instant::now()),
        );
        let lock_timeout = || {
            Error::new(
                Code::LockAcquisitionTimeout,
                format!(
                    "Could not acquire the write lock of database '{}' within {wait:?}",
                    self.name
                ),
            )
        };
        let until = tokio::time::Instant::now() + wait;
        let mut guard = match self.head.clone().try_lock_owned() {
            Ok(guard) => guard,
            Err(_) => {
                // A hot statement stays hot while its transactions queue.
                if let Some(shape) = tx
                    .shape
                    .filter(|s| tx.journal.is_none() && self.hot.is_hot(*s))
                {
                    self.hot.mark(shape);
                }
                let _slow = SlowWarning::start("waiting for the write lock", 0);
                tokio::time::timeout_at(until, while_leading(repl, self.head.clone().lock_owned()))
                    .await
                    .map_err(|_| lock_timeout())??
            }
        };
        // Checked under the lock, so no writer queues under a leadership
        // that has ended without this one seeing it.
        let leader = leading_for(tx, repl)?;
        if guard.leader.map(|l| (l.term, l.node_id)) != Some((leader.term, leader.node_id)) {
            let left = until.saturating_duration_since(tokio::time::Instant::now());
            let _slow =
                SlowWarning::start("rebuilding the head for a new leadership", leader.last_log);
            while_leading(repl, repl.wait_applied(leader.last_log, left))
                .await?
                .map_err(|_| lock_timeout())?;
            guard.graph = repl.state().0;
            guard.leader = Some(leader);
            guard.queued = None;
            guard.epoch += 1;
            guard.floor = guard.graph.next_ids();
            self.ids.seed(&guard.graph);
            self.publish(&guard);
        }
        if tx.journal.is_some() {
            if tx.snapshot != (guard.epoch, guard.graph.version()) {
                match self.rerun(tx, &guard) {
                    Ok(graph) => tx.graph = graph,
                    Err(e) => {
                        if e.code == Code::Outdated {
                            let first = tx.journal.as_ref().and_then(|j| j.entries.first());
                            let shape = tx
                                .shape
                                .or_else(|| first.map(|f| self.hot.shape(&f.query, &f.params)));
                            if let Some(shape) = shape {
                                self.hot.mark(shape);
                            }
                        }
                        tx.failed = true;
                        return Err(e);
                    }
                }
            }
            if let Some(journal) = tx.journal.take() {
                journal.seal();
            }
        } else if guard.graph.version() != tx.graph.version() {
            // Someone committed since this transaction's snapshot. Before it
            // has read anything the snapshot can simply move forward; after,
            // its earlier reads may be stale, so it must be retried.
            if tx.statements > 0 || tx.graph.has_changes() {
                return Err(Error::new(
                    Code::Outdated,
                    "The transaction read data that another transaction has since changed; retry it.",
                ));
            }
            tx.graph = self.working_copy(guard.graph.clone());
        }
        tx.seen = Some((guard.graph.version(), guard.queued));
        let slot: LockSlot = Arc::new(std::sync::Mutex::new(Some(guard)));
        if !held {
            tx.lock = Some(slot);
            return Ok(());
        }
        let watched = Arc::downgrade(&slot);
        let deadline = tx.deadline;
        let db = self.name.clone();
        let origin = tx.forward.map(|f| f.origin);
        let orphaned = tx.orphaned.clone();
        let repl = repl.clone();
        // Aborted when the transaction ends, so finished transactions leave
        // no sleeping task behind.
        let watchdog = tokio::spawn(async move {
            let why = loop {
                tokio::select! {
                    () = tokio::time::sleep_until(deadline) => {
                        break "a transaction outlived its timeout holding the write lock";
                    }
                    () = tokio::time::sleep(LEADERSHIP_CHECK), if origin.is_some() => {
                        if origin.is_some_and(|o| repl.member_silent(o, WAIT_LAPSE_GRACE)) {
                            orphaned.store(true, std::sync::atomic::Ordering::Relaxed);
                            break "the member that routed a transaction holding the write lock \
                                   stopped answering";
                        }
                    }
                }
            };
            if let Some(slot) = watched.upgrade() {
                if lock_slot(&slot).take().is_some() {
                    tracing::warn!(%db, "{why}; lock released");
                }
            }
        });
        tx.watchdog = Some(watchdog.abort_handle());
        tx.lock = Some(slot);
        Ok(())
    }

    /// Commits; returns the bookmark of the state that includes this
    /// transaction (for a read-only one, the state it could have seen).
    pub async fn commit(&self, mut tx: Transaction) -> Result<String, Error> {
        if tx.failed {
            return Err(Error::new(
                Code::Terminated,
                "The transaction has been terminated after an earlier error.",
            ));
        }
        if !tx.pending.is_empty() {
            return self.commit_security(&mut tx).await;
        }
        self.commit_changes(&mut tx).await
    }

    /// What `commit` does once the transaction may commit; leaves `tx`
    /// without its changes and its lock.
    async fn commit_changes(&self, tx: &mut Transaction) -> Result<String, Error> {
        let Some(repl) = &self.repl else {
            return Ok(self.bookmark(self.applied_index()));
        };
        if tx.journal.is_some() {
            if tokio::time::Instant::now() > tx.deadline {
                return Err(timed_out());
            }
            if tx.graph.has_changes() {
                self.lock_for_write(tx, false).await?;
            }
        }
        let guard = match tx.lock.take() {
            Some(slot) => match lock_slot(&slot).take() {
                Some(guard) => Some(guard),
                None => return Err(lock_lost(tx)),
            },
            None => None,
        };
        let graph = std::mem::replace(&mut tx.graph, TxGraph::new(Graph::default()));
        graph.validate()?;
        let (graph, changes) = graph.finish();
        if changes.is_empty() {
            drop(guard);
            let Some((seen, queued)) = tx.seen else {
                return Ok(self.bookmark(self.applied_index()));
            };
            // This transaction read the head, which may hold change sets
            // still on their way through the log. Acknowledge only once
            // everything it saw is applied, with a bookmark that covers it;
            // if the last of them never is, what it read was never
            // committed.
            // A leader cut off from its majority may never apply them: its
            // client is told so, and retries elsewhere, instead of waiting
            // for the cut to heal.
            while_leading(repl, self.wait_version(repl, seen, tx.deadline)).await??;
            if let Some((id, version)) = queued {
                if version <= seen && !repl.was_applied(id) {
                    return Err(Error::new(
                        Code::Outdated,
                        "This transaction read changes that were never committed (the leader \
                         changed); it was not applied. Retry it.",
                    ));
                }
            }
            return Ok(self.bookmark(self.applied_index()));
        }
        // `finish` moved the version one past the base this transaction
        // was built on.
        let bytes = GraphState::based_payload(graph.version() - 1, &changes.encode());
        if bytes.len() > self.config.max_transaction_bytes {
            return Err(Error::new(
                Code::TransactionCommitFailed,
                format!(
                    "The transaction's changes take {} bytes, more than the limit of {} \
                     (max_transaction_bytes); split it into smaller transactions.",
                    bytes.len(),
                    self.config.max_transaction_bytes
                ),
            ));
        }
        // Queue the entry while holding the lock, so that log order is lock
        // order; then let the next writer in while this one waits for fsync.
        // If queueing fails nothing reached the log and the head stays as it
        // was.
        let Some(mut guard) = guard else {
            return Err(Error::new(
                Code::Unknown,
                "a change set without the write lock",
            ));
        };
        let Some(leader) = guard.leader else {
            return Err(Error::new(
                Code::NotALeader,
                "no leadership to commit under",
            ));
        };
        let pending = {
            let _slow = SlowWarning::start("queueing a commit", 0);
            let id = tx
                .forward
                .map_or_else(causeway_replication::random::u64, |f| f.command_id);
            (id, repl.submit_as(leader, id, bytes).await?)
        };
        let (id, pending) = pending;
        guard.queued = Some((id, graph.version()));
        guard.graph = graph;
        self.withdraw();
        drop(guard);
        let waited = {
            let _slow = SlowWarning::start("waiting for a commit", 0);
            pending.await
        };
        match waited {
            Ok(index) => {
                self.share_head_with_applied(repl);
                Ok(self.bookmark(index))
            }
            Err(e) => {
                // The head holds this change set, which never committed:
                // make the next writer rebuild it from the applied state,
                // and optimistic ones start from the applied state.
                let mut head = self.head.lock().await;
                head.leader = None;
                self.withdraw();
                tracing::warn!(db = %self.name, error = %e, "a queued commit failed");
                Err(e)
            }
        }
    }

    /// Once the applied state is rebuilt from a snapshot, the head takes it
    /// too, so that the copy it replaced is freed (`share_head_with_applied`).
    /// Holds the database weakly and reaches the replicator through it, so
    /// that the task ends with them.
    pub fn follow_rebuilt_state(self: &Arc<Self>) {
        let Some(repl) = &self.repl else {
            return;
        };
        let mut rebuilt = repl.rebuilt_watch();
        let db = Arc::downgrade(self);
        tokio::spawn(async move {
            while rebuilt.changed().await.is_ok() {
                let Some(db) = db.upgrade() else {
                    return;
                };
                if let Some(repl) = &db.repl {
                    db.share_head_with_applied(repl);
                }
                drop(db);
                // The allocator keeps what the old copy freed for reuse;
                // give the whole pages back once the readers that held it
                // are likely done, so the resident set shows the saving.
                tokio::time::sleep(Duration::from_secs(1)).await;
                // Off the async workers, except in the simulation, where a
                // real thread would finish at an unpredictable moment.
                let _ = causeway_replication::blocking(crate::memory::return_free_pages).await;
            }
        });
    }

    /// The head and the applied state are built separately (the writer's
    /// working copy, and the state machine replaying the change set), so
    /// they hold the same data twice. Once nothing is pending, the head
    /// becomes a clone of the applied state and the duplicate is freed.
    /// A head that is not this member's current leadership's (a follower's,
    /// or a former leader's) is rebuilt before any use, so until then it
    /// holds only memory: it takes the applied state and loses its
    /// leadership, which forces that rebuild. Skipped when a writer holds
    /// the lock; a later commit will catch up.
    fn share_head_with_applied(&self, repl: &Replicator<GraphState>) {
        if let Ok(mut head) = self.head.try_lock() {
            let applied = repl.state().0;
            // Only when the versions differ is the leadership asked for:
            // this runs after every commit, and it copies Raft's metrics.
            let leads = || {
                let current = repl.write_leader().ok().map(|l| (l.term, l.node_id));
                head.leader
                    .is_some_and(|l| Some((l.term, l.node_id)) == current)
            };
            if applied.version() == head.graph.version() {
                head.graph = applied;
            } else if !leads() {
                head.graph = applied;
                head.leader = None;
                head.queued = None;
                head.epoch += 1;
            } else {
                return;
            }
            self.withdraw();
        }
    }

    /// Waits until the applied state includes graph version `version`.
    async fn wait_version(
        &self,
        repl: &Replicator<GraphState>,
        version: u64,
        deadline: tokio::time::Instant,
    ) -> Result<(), Error> {
        while repl.state().0.version() < version {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            if left.is_zero() {
                return Err(unavailable(&self.name));
            }
            let next = repl.applied_index() + 1;
            // A timeout here just means "look again": the loop re-checks.
            let _ = repl
                .wait_applied(next, left.min(Duration::from_millis(100)))
                .await;
        }
        Ok(())
    }
}
/// Who runs a statement: the caller, the security state as their
/// transaction's administration commands left it, and whether they may
/// see the graph.
#[derive(Clone, Copy)]
struct Who<'a> {
    caller: &'a Caller,
    security: Option<&'a Security>,
    blind: bool,
}

impl Transaction {
    fn who(&self) -> Who<'_> {
        Who {
            caller: &self.caller,
            security: self.security.as_deref(),
            blind: self.blind,
        }
    }
}

/// Fails unless this member leads, in the term a routed transaction was
/// sent for.
fn leading_for(
    tx: &Transaction,
    repl: &Replicator<GraphState>,
) -> Result<causeway_replication::WriteLeader, Error> {
    let leader = repl.write_leader()?;
    if let Some(f) = tx.forward.filter(|f| f.term != leader.term) {
        return Err(Error::new(
            Code::NotALeader,
            format!(
                "This transaction was routed to the leader of term {}, but the term is now {}; \
                 it was not applied. Retry it.",
                f.term, leader.term
            ),
        ));
    }
    Ok(leader)
}

/// Administration commands one transaction may hold.
const MAX_PENDING_COMMANDS: usize = 1_000;

fn credentials_expired() -> Error {
    Error::new(
        Code::CredentialsExpired,
        "Permission denied.\n\nThe credentials you provided were valid, but must be changed before you can use this instance. If this is the first time you are using Neo4j, this is to ensure you are not using the default credentials in production. If you are not using default credentials, you are getting this message because an administrator requires a password change.\nTo change your password, issue an `ALTER CURRENT USER SET PASSWORD FROM 'current password' TO 'new password'` statement against the system database.",
    )
}

fn mixed_admin() -> Error {
    Error::new(
        Code::Forbidden,
        "Administration commands cannot be combined with data or schema writes in one transaction.",
    )
}

/// Splits a bookmark into the database it names and its log index.
fn parse_bookmark(b: &str) -> Result<(&str, u64), Error> {
    let invalid = || {
        Error::new(
            Code::InvalidBookmark,
            format!("Supplied bookmark '{b}' is not valid"),
        )
    };
    let rest = b.strip_prefix("causeway:").ok_or_else(invalid)?;
    let (db, index) = rest.rsplit_once(':').ok_or_else(invalid)?;
    let index: u64 = index.parse().map_err(|_| invalid())?;
    if db.is_empty() {
        return Err(invalid());
    }
    Ok((db, index))
}

/// The database a bookmark names.
pub fn bookmark_database(b: &str) -> Result<&str, Error> {
    parse_bookmark(b).map(|(db, _)| db)
}

/// Logs, when dropped, a step that took longer than a second: the
/// operator's clue to where a stalled write was waiting.
struct SlowWarning {
    since: Instant,
    what: &'static str,
    index: u64,
}

impl SlowWarning {
    fn start(what: &'static str, index: u64) -> Self {
        SlowWarning {
            since: Instant::now(),
            what,
            index,
        }
    }
}

impl Drop for SlowWarning {
    fn drop(&mut self) {
        let took = self.since.elapsed();
        if took > Duration::from_secs(1) {
            tracing::warn!(
                step = self.what,
                index = self.index,
                ?took,
                "slow write step"
            );
        }
    }
}

fn unavailable(db: &str) -> Error {
    Error::new(
        Code::DatabaseUnavailable,
        format!("Database '{db}' did not apply the changes this transaction saw in time; retry."),
    )
}

fn lock_slot(slot: &LockSlot) -> std::sync::MutexGuard<'_, Option<OwnedMutexGuard<Head>>> {
    // Only `take()` happens under this mutex, which cannot leave it
    // half-updated, so a poisoned lock is still sound to use.
    slot.lock().unwrap_or_else(|e| e.into_inner())
}

/// Why a transaction no longer holds the write lock it took.
fn lock_lost(tx: &Transaction) -> Error {
    if tx.orphaned.load(std::sync::atomic::Ordering::Relaxed) {
        return Error::new(
            Code::Outdated,
            "The member that routed this transaction to the leader stopped answering while it \
             held the write lock; it was rolled back and not applied. Retry it.",
        );
    }
    timed_out()
}

fn timed_out() -> Error {
    Error::new(
        Code::TransactionTimedOut,
        "The transaction has been terminated. Retry your operation in a new transaction, and you should see a \
         successful result. The transaction has not completed within the specified timeout.",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change_set(base: &Graph, query: &str) -> (Graph, Vec<u8>) {
        let mut tx = TxGraph::new(base.clone());
        let ctx = ExecContext {
            database: DEFAULT_DB,
            catalog: None,
            limits: Limits::default(),
            inputs: None,
        };
        causeway_exec::execute(&mut tx, query, &Map::new(), &ctx).unwrap();
        let (graph, changes) = tx.finish();
        let payload = GraphState::based_payload(graph.version() - 1, &changes.encode());
        (graph, payload)
    }

    /// A change set built on a head that held another, which never reached
    /// the log, is refused on apply: its reads and its values carry that
    /// other one's effects.
    #[test]
    fn a_change_set_applies_only_onto_the_version_it_was_built_on() {
        let applied = GraphState::default();
        let (head, first) = change_set(&applied.0, "CREATE (:N {v: 1})");
        let (_, second) = change_set(&head, "MATCH (n:N) SET n.v = n.v + 1");
        // In order, both apply.
        let mut state = applied.clone();
        assert!(state.apply(&first).unwrap());
        assert!(state.apply(&second).unwrap());
        assert_eq!(state.0.version(), 2);
        // Without the first, the second is refused and changes nothing.
        let mut state = applied.clone();
        assert!(!state.apply(&second).unwrap());
        assert_eq!(state.0.version(), 0);
        assert_eq!(state.0.stats().nodes, 0);
        // Payloads from before the version was recorded still apply.
        let mut state = applied;
        let bare = &first[12..];
        assert!(state.apply(bare).unwrap());
    }
}
