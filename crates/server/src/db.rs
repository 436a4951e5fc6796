//! Databases and their transactions.
//!
//! Concurrency model (see ARCHITECTURE.md): readers run on an O(1) snapshot of
//! the applied state and never wait. Writers are serialised by one write lock
//! per database, taken when a transaction runs its first updating statement;
//! the lock guards the *head*, the applied state plus every change set that
//! has been handed to the log but not yet applied. Because a writer always
//! starts from the head while holding the lock, no update can be lost (the
//! 64-client counter test) and no write-write conflict can arise. The lock is
//! released as soon as the change set is queued in the log, so the fsync wait
//! overlaps with the next writer's work: that is what lets many transactions
//! share one fsync.

use std::sync::Arc;
use std::time::{Duration, Instant};

use causeway_bolt::Forward;
use causeway_exec::{ExecContext, Limits, QueryResult, StatementClass, SystemCatalog};
use causeway_graph::{Graph, TxGraph};
use causeway_replication::{Data, Replicator, WriteLeader};
use causeway_value::{Code, Error, Map};
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
}

/// The replicated state of a database: its graph. Change sets are applied
/// exactly as the transaction that produced them left them, and only onto
/// the graph version they were built on.
#[derive(Clone, Default)]
pub struct GraphState(pub Graph);

/// Marks a log payload that names the graph version its change set was
/// built on.
const BASED_MAGIC: &[u8; 4] = b"CWB1";

impl GraphState {
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
        // Only committed graphs reach this member's vector-index builder.
        self.0.feed_index_builders();
        Ok(true)
    }
    fn encode(&self) -> Vec<u8> {
        self.0.encode()
    }
    fn decode(bytes: &[u8]) -> Result<Self, String> {
        let g = Graph::decode(bytes).map_err(|e| e.message)?;
        g.feed_index_builders();
        Ok(GraphState(g))
    }
}

pub struct Database {
    pub name: String,
    repl: Option<Arc<Replicator<GraphState>>>,
    head: Arc<Mutex<Head>>,
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
            head: Arc::new(Mutex::new(Head {
                graph,
                leader: None,
                queued: None,
            })),
            config,
            catalog,
        }
    }

    /// Whether writes to this database go through the Raft group (the
    /// `system` database is answered by each member itself).
    pub fn is_replicated(&self) -> bool {
        self.repl.is_some()
    }

    pub fn applied_index(&self) -> u64 {
        self.repl.as_ref().map_or(0, |r| r.applied_index())
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
    ) -> Result<Transaction, Error> {
        let mut wanted = 0;
        for b in bookmarks {
            wanted = wanted.max(self.parse_bookmark(b)?);
        }
        if let Some(repl) = &self.repl {
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
        let base = self.repl.as_ref().map(|r| r.state().0).unwrap_or_default();
        let timeout = timeout
            .unwrap_or(self.config.transaction_timeout)
            .min(self.config.transaction_timeout);
        Ok(Transaction {
            mode,
            explicit,
            graph: TxGraph::new(base),
            lock: None,
            watchdog: None,
            statements: 0,
            deadline: tokio::time::Instant::now() + timeout,
            failed: false,
            orphaned: Arc::default(),
            forward,
        })
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
        if class == StatementClass::Admin {
            // Parsed (crates/cypher/src/admin.rs) and modelled
            // (security.rs), not yet run: refused as Neo4j refuses a
            // command it does not support, never half-applied.
            tx.failed = true;
            return Err(Error::new(
                Code::UnsupportedAdministrationCommand,
                "User, role and privilege management is not available on this server yet.",
            ));
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
        let needs_lock = class != StatementClass::Read || (tx.explicit && tx.mode == Mode::Write);
        if class != StatementClass::Read && tx.mode == Mode::Read {
            return Err(Error::new(
                Code::AccessMode,
                "Writing in read access mode not allowed.",
            ));
        }
        if needs_lock {
            match self.lock_for_write(tx).await {
                Ok(()) => {}
                // A follower serves the reads of a write-mode transaction
                // from its snapshot, and refuses its first write.
                Err(e) if e.code == Code::NotALeader => {
                    // A routed transaction was meant for a leader: it must
                    // fail, so the routing member can send it elsewhere.
                    if class != StatementClass::Read || tx.forward.is_some() {
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
        let ctx = ExecContext {
            database: &self.name,
            catalog: Some(&*self.catalog),
            limits: self.config.limits,
        };
        // Inline on the async worker: read statements only plan here (their
        // rows are pulled later, see the Bolt connection), and handing the
        // worker over with block_in_place costs more than a typical write.
        let result =
            causeway_exec::execute_until(&mut tx.graph, query, params, &ctx, Some(tx.deadline));
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

    async fn lock_for_write(&self, tx: &mut Transaction) -> Result<(), Error> {
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
        let mut guard = {
            let _slow = SlowWarning::start("waiting for the write lock", 0);
            tokio::time::timeout_at(until, while_leading(repl, self.head.clone().lock_owned()))
                .await
                .map_err(|_| lock_timeout())??
        };
        // Checked under the lock, so no writer queues under a leadership
        // that has ended without this one seeing it.
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
        }
        if guard.graph.version() != tx.graph.version() {
            // Someone committed since this transaction's snapshot. Before it
            // has read anything the snapshot can simply move forward; after,
            // its earlier reads may be stale, so it must be retried.
            if tx.statements > 0 || tx.graph.has_changes() {
                return Err(Error::new(
                    Code::Outdated,
                    "The transaction read data that another transaction has since changed; retry it.",
                ));
            }
            tx.graph = TxGraph::new(guard.graph.clone());
        }
        let slot: LockSlot = Arc::new(std::sync::Mutex::new(Some(guard)));
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
        self.commit_changes(&mut tx).await
    }

    /// What `commit` does once the transaction may commit; leaves `tx`
    /// without its changes and its lock.
    async fn commit_changes(&self, tx: &mut Transaction) -> Result<String, Error> {
        let (Some(slot), Some(repl)) = (tx.lock.take(), &self.repl) else {
            return Ok(self.bookmark(self.applied_index()));
        };
        let Some(mut guard) = lock_slot(&slot).take() else {
            return Err(lock_lost(tx));
        };
        let graph = std::mem::replace(&mut tx.graph, TxGraph::new(Graph::default()));
        graph.validate()?;
        let (graph, changes) = graph.finish();
        if changes.is_empty() {
            // Under the lock this transaction saw the head, which may hold
            // change sets still on their way through the log. Acknowledge
            // only once everything it saw is applied, with a bookmark that
            // covers it; if the last of them never is, what it read was
            // never committed.
            let seen = guard.graph.version();
            let queued = guard.queued;
            drop(guard);
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
                // make the next writer rebuild it from the applied state.
                self.head.lock().await.leader = None;
                tracing::warn!(db = %self.name, error = %e, "a queued commit failed");
                Err(e)
            }
        }
    }

    /// The head and the applied state are built separately (the writer's
    /// working copy, and the state machine replaying the change set), so
    /// they hold the same data twice. Once nothing is pending, the head
    /// becomes a clone of the applied state and the duplicate is freed.
    /// Skipped when a writer holds the lock; a later commit will catch up.
    fn share_head_with_applied(&self, repl: &Replicator<GraphState>) {
        if let Ok(mut head) = self.head.try_lock() {
            let applied = repl.state().0;
            if applied.version() == head.graph.version() {
                head.graph = applied;
            }
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
