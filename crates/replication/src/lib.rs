//! Replication: the Raft group every database's writes go through.
//!
//! openraft provides consensus; this crate provides what openraft asks of
//! us: the log storage (our write-ahead log, [`wal`]), the state machine
//! ([`sm`]), and the transport. A single server is a one-member group, so
//! there is exactly one commit path, whatever the cluster size.
//!
//! The crate knows nothing about graphs: the state machine applies opaque,
//! deterministic change sets through the [`Data`] trait.

pub mod network;
pub mod random;
pub mod runtime;
pub mod sm;
pub mod store;
pub mod wal;

use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;
use std::io;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use causeway_value::{Code, Error};
use openraft::alias::LogIdOf;
use openraft::impls::ProgressResponder;
use openraft::{Config, RaftMetrics, SnapshotPolicy};
use serde::{Deserialize, Serialize};

/// A log entry's application payload: an encoded change set, with a random
/// id by which a writer whose leader lost office learns whether it was
/// applied (see [`Replicator::submit`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Command {
    pub id: u64,
    pub payload: Vec<u8>,
}

impl fmt::Display for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "change set {:x} ({} bytes)", self.id, self.payload.len())
    }
}

/// What applying an entry returns to the writer waiting for it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Applied {
    pub index: u64,
    /// The state refused the payload (its precondition did not hold), the
    /// same way on every member: the entry is in the log but changed
    /// nothing.
    pub refused: bool,
}

/// How members reach one another and how clients reach a member: the Raft
/// node type, stored in the membership config.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Member {
    /// The cluster transport's advertised address.
    pub cluster: String,
    /// Advertised Bolt address, as routing tables list it.
    pub bolt: String,
    /// Advertised HTTP address.
    pub http: String,
    /// The Bolt address members use to route a transaction here
    /// (server-side routing). Clients outside a container network and
    /// members inside it dial different addresses. Empty only for a single
    /// server's member, to which nobody routes.
    pub routing: String,
    /// The HTTP address members use to pass on a request (empty as
    /// `routing`).
    pub http_routing: String,
}

impl fmt::Display for Member {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (bolt {})", self.cluster, self.bolt)
    }
}

openraft::declare_raft_types!(
    pub TypeConfig:
        D = Command,
        R = Applied,
        NodeId = u64,
        Node = Member,
        AsyncRuntime = runtime::Runtime,
);

pub type LogId = LogIdOf<TypeConfig>;

/// The replicated state, as the state machine sees it. Implementations must
/// be deterministic: the same state and payload give the same new state on
/// every member.
pub trait Data: Clone + Default + Send + Sync + 'static {
    /// Applies a payload: `Ok(true)` once applied, `Ok(false)` when the
    /// payload's own precondition on the state does not hold (the state is
    /// left as it was, on every member alike), `Err` when it cannot be
    /// applied at all (members would diverge: the state machine stops).
    fn apply(&mut self, payload: &[u8]) -> Result<bool, String>;
    fn encode(&self) -> Vec<u8>;
    fn decode(bytes: &[u8]) -> Result<Self, String>;
    /// Whether a state decoded from its own snapshot is worth swapping in
    /// for the live one (it lays its data out afresh: denser, in id order,
    /// free of what writes left behind). Off by default.
    fn rebuild_from_snapshots() -> bool {
        false
    }
    /// Decodes a state for that swap: `decode` without the side effects a
    /// state that goes live at once may have.
    fn decode_rebuilt(bytes: &[u8]) -> Result<Self, String> {
        Self::decode(bytes)
    }
    /// `apply`, for such a state catching up: likewise without side
    /// effects.
    fn apply_rebuilt(&mut self, payload: &[u8]) -> Result<bool, String> {
        self.apply(payload)
    }
    /// Called on such a rebuilt state, equal to `live` in everything
    /// replicated, just before it replaces `live`: takes over what only
    /// this member keeps (caches, index builders).
    fn take_local(&mut self, live: &Self) {
        let _ = live;
    }
}

/// Like `blocking`, without waiting for `f`: on a current-thread runtime
/// (the simulation) it still runs in place, so that it finishes at a
/// predictable moment.
pub(crate) fn detached_blocking(f: impl FnOnce() + Send + 'static) {
    match tokio::runtime::Handle::try_current() {
        Ok(h) if h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
            drop(tokio::task::spawn_blocking(f));
        }
        _ => f(),
    }
}

/// Runs `f`, which blocks (hashing, encoding, a DNS lookup), off the async
/// workers: on a blocking-pool thread, except on a current-thread runtime,
/// where it runs in place. The deterministic simulation runs each member on
/// a current-thread runtime in simulated time, where a real thread would
/// finish at an unpredictable moment.
pub async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> io::Result<T> {
    match tokio::runtime::Handle::try_current() {
        Ok(h) if h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
            tokio::task::spawn_blocking(f)
                .await
                .map_err(io::Error::other)
        }
        _ => Ok(f()),
    }
}

/// Raft timing, in milliseconds (docs/decisions/0006-cluster.md).
#[derive(Clone, Copy, Debug)]
pub struct Timing {
    pub heartbeat_ms: u64,
    pub election_min_ms: u64,
    pub election_max_ms: u64,
}

impl Default for Timing {
    fn default() -> Self {
        Timing {
            heartbeat_ms: 50,
            election_min_ms: 150,
            election_max_ms: 300,
        }
    }
}

/// Where the other core members are, re-read on every formation attempt
/// (a DNS name may resolve to different addresses over time).
pub type Discover = Arc<dyn Fn() -> Vec<String> + Send + Sync>;

#[derive(Clone)]
pub struct ClusterConfig {
    /// A read replica: an openraft learner that receives the log but never
    /// votes; it asks the cores to add it instead of forming a cluster.
    pub replica: bool,
    pub listen: String,
    pub me: Member,
    pub discover: Discover,
    /// Cores (this one included) that must answer before a new cluster
    /// forms. Discovery only says who is there now: a DNS name lists the
    /// pods that exist so far, so without a floor the first core up could
    /// form a cluster of one, and another core a second one beside it.
    pub min_initial_cores: usize,
    pub secret: Vec<u8>,
    pub faults: Arc<network::Faults>,
    /// How this member reaches the others (real TCP, or a simulation's).
    pub net: causeway_net::Net,
}

#[derive(Clone)]
pub struct ReplicatorConfig {
    pub dir: PathBuf,
    /// The node id of a single server (`cluster` is `None`); cluster members
    /// keep a random one in their data directory.
    pub node_id: u64,
    pub address: String,
    pub fsync: bool,
    /// Entries between snapshots, at most.
    pub snapshot_every: u64,
    /// The most the log grows by between snapshots; below it, a snapshot is
    /// taken once the log has grown by the last snapshot's size (sm.rs,
    /// `Growth`).
    pub snapshot_bytes: u64,
    /// Log entries kept behind a snapshot (followers lagging by more catch
    /// up from the snapshot).
    pub snapshot_keep: u64,
    pub timing: Timing,
    pub cluster: Option<ClusterConfig>,
}

type Raft<S> = openraft::Raft<TypeConfig, sm::StateMachine<S>>;

/// How long a writer whose entry's fate became unknown (its leader lost
/// office) waits to learn whether the entry was committed.
const OUTCOME_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a writer waits for a majority to acknowledge its entry before
/// it is told the outcome is unknown.
const COMMIT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long after its lease ran out (no majority heard within the longest
/// election timeout) a leader keeps its writers waiting: enough for a
/// briefly lost answer to come back, short enough that a cut-off leader
/// lets its clients go well before they give up themselves.
const LEASE_LAPSE_GRACE: Duration = Duration::from_secs(1);
const LEASE_POLL: Duration = Duration::from_millis(50);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    Leader,
    Follower,
    Candidate,
    Learner,
    Shutdown,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Leader => "LEADER",
            Role::Follower => "FOLLOWER",
            Role::Candidate => "CANDIDATE",
            Role::Learner => "READ_REPLICA",
            Role::Shutdown => "UNKNOWN",
        }
    }
}

/// One member as this member sees the group.
#[derive(Clone, Debug)]
pub struct MemberStatus {
    pub node_id: u64,
    pub member: Member,
    pub voter: bool,
    /// Index this member is known to have replicated (leader's view only).
    pub matched: Option<u64>,
}

#[derive(Clone, Debug)]
pub struct Status {
    pub node_id: u64,
    pub role: Role,
    pub term: u64,
    pub leader: Option<u64>,
    /// This member can accept writes right now: leader, lease held, and its
    /// own first entry of the term applied.
    pub writable: bool,
    /// This member is Raft leader but has not heard from a majority within
    /// its lease: it takes no writes and, as Neo4j's leaders do when they
    /// lose their majority, should be presented as a follower.
    pub lease_lost: bool,
    /// Milliseconds since this member last heard from a leader: 0 on the
    /// leader itself, `None` if never.
    pub millis_since_leader: Option<u64>,
    pub members: Vec<MemberStatus>,
    pub applied: u64,
    pub committed: u64,
    pub last_log: u64,
    pub cluster_id: Option<String>,
}

/// Whether a leader has heard no majority for the longest election timeout
/// (`election_max_ms`) plus `grace`. A leader that has not heard one yet
/// (just elected) counts as silent only when `unheard_is_silent`.
fn quorum_silent(
    m: &RaftMetrics<TypeConfig>,
    election_max_ms: u64,
    grace: Duration,
    unheard_is_silent: bool,
) -> bool {
    m.membership_config.membership().voter_ids().count() > 1
        && m.last_quorum_acked
            .as_ref()
            .map_or(unheard_is_silent, |t| lapsed(&**t, election_max_ms, grace))
}

/// Whether more than the longest election timeout plus `grace` has passed
/// since `t`: the silence after which a member, or a quorum, counts as gone.
fn lapsed(t: &impl openraft_rt::Instant, election_max_ms: u64, grace: Duration) -> bool {
    t.elapsed() > Duration::from_millis(election_max_ms) + grace
}

pub struct Replicator<S: Data> {
    raft: Raft<S>,
    shared: Arc<sm::Shared<S>>,
    node_id: u64,
    identity: Option<Arc<network::Identity>>,
    timing: Timing,
    tasks: Vec<tokio::task::AbortHandle>,
    heard: Heard,
}

struct RaftHandler<S: Data> {
    raft: Raft<S>,
    heard: Heard,
    ctx: Arc<network::NetContext>,
}

/// When this member last received AppendEntries (a leader's message), on
/// tokio's clock (which a simulation controls).
type Heard = Arc<std::sync::Mutex<Option<tokio::time::Instant>>>;

impl<S: Data> RaftHandler<S> {
    /// A copy of openraft's metrics (never hold the watch: see `Replicator::metrics`).
    fn metrics(&self) -> RaftMetrics<TypeConfig> {
        use openraft_rt::WatchReceiver;
        self.raft.metrics().borrow_watched().clone()
    }
}

impl<S: Data> network::Handler for RaftHandler<S> {
    async fn append(
        &self,
        rpc: openraft::raft::AppendEntriesRequest<TypeConfig>,
    ) -> Result<openraft::raft::AppendEntriesResponse<TypeConfig>, String> {
        *self.heard.lock().unwrap_or_else(|p| p.into_inner()) = Some(tokio::time::Instant::now());
        self.raft
            .append_entries(rpc)
            .await
            .map_err(|e| e.to_string())
    }
    async fn vote(
        &self,
        rpc: openraft::raft::VoteRequest<TypeConfig>,
        pre: bool,
    ) -> Result<openraft::raft::VoteResponse<TypeConfig>, String> {
        let r = if pre {
            self.raft.pre_vote(rpc).await
        } else {
            self.raft.vote(rpc).await
        };
        r.map_err(|e| e.to_string())
    }
    async fn snapshot(
        &self,
        vote: openraft::alias::VoteOf<TypeConfig>,
        meta: openraft::alias::SnapshotMetaOf<TypeConfig>,
        data: Vec<u8>,
    ) -> Result<openraft::raft::SnapshotResponse<TypeConfig>, String> {
        self.raft
            .install_full_snapshot(
                vote,
                sm::Snapshot {
                    meta,
                    snapshot: data,
                },
            )
            .await
            .map_err(|e| e.to_string())
    }
    async fn transfer_leader(
        &self,
        req: openraft::raft::TransferLeaderRequest<TypeConfig>,
    ) -> Result<openraft::raft::TransferLeaderResponse<TypeConfig>, String> {
        self.raft
            .handle_transfer_leader(req)
            .await
            .map_err(|e| e.to_string())
    }

    /// Adds a read replica (a learner). Only the leader can; the others
    /// say so, and the replica asks the next core. A learner already
    /// listed at the same address under another id (a replica whose data
    /// was wiped) is removed first, so the leader stops calling the old one.
    async fn join(&self, node_id: u64, member: Member) -> Result<(), String> {
        let m = self.metrics();
        if m.current_leader != Some(self.ctx.identity.node_id) {
            return Err("not the leader".into());
        }
        let membership = m.membership_config.membership();
        if membership.voter_ids().any(|id| id == node_id) {
            return Err(format!("node {node_id} is a core member, not a replica"));
        }
        let stale: std::collections::BTreeSet<u64> = membership
            .learner_ids()
            .filter(|id| *id != node_id)
            .filter(|id| {
                membership
                    .get_node(id)
                    .is_some_and(|n| n.cluster == member.cluster)
            })
            .collect();
        if !stale.is_empty() {
            tracing::info!(?stale, address = %member.cluster, "removing replicas replaced at the same address");
            self.raft
                .change_membership(openraft::ChangeMembers::RemoveNodes(stale), false)
                .await
                .map_err(|e| e.to_string())?;
        }
        if membership.get_node(&node_id) == Some(&member) {
            return Ok(());
        }
        self.raft
            .add_learner(node_id, member.clone(), false)
            .await
            .map_err(|e| e.to_string())?;
        tracing::info!(node_id, replica = %member, "added a read replica");
        Ok(())
    }

    async fn last_log(&self) -> Option<u64> {
        self.metrics().last_log_index
    }

    /// Cuts a crashed leader's failover short. When a leader's process dies
    /// its connections close at once, but followers would still wait out
    /// their leader lease and an election timeout (450 to 600 ms with the
    /// default timing) before anyone campaigns. If nobody listens at the
    /// leader's cluster address any more, the process is gone. The surviving
    /// voter with the lowest node id then coordinates: it asks the other
    /// survivors for their last log ids, picks the most up-to-date member
    /// (lowest id on ties), and hands every survivor a leadership-transfer
    /// request in the dead leader's name. That drops the lease each granted,
    /// and the chosen one campaigns at once with a vote marked as a
    /// transfer, which voters grant without waiting for their leases. Votes
    /// still compare logs and terms, so this changes only who campaigns
    /// when. Others only drop their own lease, so that if the coordinator
    /// is gone too they elect at a lease-free timeout. A leader that is
    /// alive but unreachable (a partition) accepts connections or times
    /// out, so it is never deposed this way.
    async fn peer_disconnected(&self, peer: u64) {
        let m = self.metrics();
        if m.current_leader != Some(peer) || m.state != openraft::ServerState::Follower {
            return;
        }
        let membership = m.membership_config.membership();
        let Some(addr) = membership.get_node(&peer).map(|n| n.cluster.clone()) else {
            return;
        };
        // A process being killed may close this connection before its
        // listener, whose backlog still completes connections for a moment:
        // look a few times before concluding it is alive.
        let mut refused = false;
        for _ in 0..LEADER_PROBES {
            refused = matches!(
                tokio::time::timeout(LEADER_PROBE_TIMEOUT, self.ctx.net.connect(&addr)).await,
                Ok(Err(e)) if e.kind() == io::ErrorKind::ConnectionRefused
            );
            if refused {
                break;
            }
            tokio::time::sleep(LEADER_PROBE_TIMEOUT / 8).await;
        }
        if !refused {
            return;
        }
        let me = self.ctx.identity.node_id;
        let others: Vec<(u64, String)> = membership
            .voter_ids()
            .filter(|id| *id != peer && *id != me)
            .filter_map(|id| membership.get_node(&id).map(|n| (id, n.cluster.clone())))
            .collect();
        let coordinator = others.iter().all(|(id, _)| *id > me);
        let mut to = others
            .iter()
            .map(|(id, _)| *id)
            .chain([me])
            .min()
            .unwrap_or(me);
        if coordinator {
            // Whoever holds the most entries campaigns; the vote itself
            // still checks terms, this only avoids a doomed campaign.
            let mut best = (self.last_log().await, me);
            for (id, addr) in &others {
                let asked = tokio::time::timeout(
                    LEADER_PROBE_TIMEOUT,
                    network::last_log_of(&self.ctx, addr, *id),
                )
                .await;
                if let Ok(Ok(l)) = asked {
                    if l > best.0 || (l == best.0 && *id < best.1) {
                        best = (l, *id);
                    }
                }
            }
            to = best.1;
        }
        tracing::info!(
            leader = peer,
            campaigner = to,
            "the leader's process is gone; electing a new leader now"
        );
        let req = openraft::raft::TransferLeaderRequest::new(m.vote, to, None);
        if coordinator {
            for (id, addr) in &others {
                let sent = tokio::time::timeout(
                    LEADER_PROBE_TIMEOUT,
                    network::send_transfer(&self.ctx, addr, *id, req.clone()),
                )
                .await;
                if !matches!(sent, Ok(Ok(()))) {
                    tracing::debug!(member = id, "could not pass on the early election");
                }
            }
        }
        if let Err(e) = self.raft.handle_transfer_leader(req).await {
            tracing::debug!(error = %e, "early election not started");
        }
    }
}

/// How long a follower waits to learn whether its lost leader's address
/// still accepts connections (loopback or a LAN answers in well under this).
const LEADER_PROBE_TIMEOUT: Duration = Duration::from_millis(200);
const LEADER_PROBES: usize = 4;

impl<S: Data> Replicator<S> {
    /// Opens (or creates) the group's storage and starts Raft. A single
    /// server returns once everything in its log has been applied, so that
    /// reads see every acknowledged write; a cluster member returns at once
    /// and forms or rejoins its cluster in the background.
    pub async fn open(config: ReplicatorConfig) -> io::Result<Self> {
        std::fs::create_dir_all(&config.dir)?;
        let (node_id, identity) = match &config.cluster {
            Some(_) => {
                let id = Arc::new(network::Identity::load_or_create(&config.dir)?);
                (id.node_id, Some(id))
            }
            None => (config.node_id, None),
        };
        let log = store::LogStore::open(&config.dir.join("log"), config.fsync)?;
        let last_log = log.last_index();
        let (machine, shared) =
            sm::StateMachine::<S>::open(config.dir.join("snapshot"), config.snapshot_bytes)?;
        let t = config.timing;
        let raft_config = Config {
            cluster_name: "causeway".into(),
            heartbeat_interval: t.heartbeat_ms,
            election_timeout_min: t.election_min_ms,
            election_timeout_max: t.election_max_ms,
            // A member that cannot win (partitioned, or with a stale log)
            // asks first, so rejoining never disturbs a healthy leader.
            enable_pre_vote: Some(true),
            snapshot_policy: SnapshotPolicy::LogsSinceLast(config.snapshot_every.max(1)),
            // Followers that fall further behind catch up from a snapshot;
            // keeping fewer entries bounds the log held in memory.
            max_in_snapshot_log_to_keep: config.snapshot_keep,
            install_snapshot_timeout: 30_000,
            ..Default::default()
        };
        let raft_config = Arc::new(raft_config.validate().map_err(io::Error::other)?);
        let (ctx, cluster) = match (&config.cluster, &identity) {
            (Some(c), Some(identity)) => (
                Arc::new(network::NetContext {
                    identity: identity.clone(),
                    secret: c.secret.clone(),
                    me: c.me.clone(),
                    faults: c.faults.clone(),
                    net: c.net.clone(),
                }),
                Some(c.clone()),
            ),
            _ => (
                Arc::new(network::NetContext {
                    identity: Arc::new(network::Identity::ephemeral(node_id)),
                    secret: Vec::new(),
                    me: Member::default(),
                    faults: Arc::default(),
                    net: causeway_net::tcp(),
                }),
                None,
            ),
        };
        let kept_log = log.clone();
        let raft = Raft::new(
            node_id,
            raft_config,
            network::Network { ctx: ctx.clone() },
            log,
            machine,
        )
        .await
        .map_err(io::Error::other)?;
        let mut me = Replicator {
            raft: raft.clone(),
            shared,
            node_id,
            identity,
            timing: t,
            tasks: Vec::new(),
            heard: Heard::default(),
        };

        let Some(cluster) = cluster else {
            if !raft.is_initialized().await.map_err(io::Error::other)? {
                let member = Member {
                    bolt: config.address.clone(),
                    ..Member::default()
                };
                let members = BTreeMap::from([(node_id, member)]);
                raft.initialize(members).await.map_err(io::Error::other)?;
            }
            // A one-member group elects itself within an election timeout;
            // writes before that would be refused.
            raft.wait(Some(Duration::from_secs(30)))
                .current_leader(node_id, "single member becomes leader")
                .await
                .map_err(io::Error::other)?;
            if let Some(last) = last_log {
                // A restarted member re-applies its log once it is leader again.
                me.wait_applied(last, Duration::from_secs(600))
                    .await
                    .map_err(|_| io::Error::other("timed out replaying the log"))?;
            }
            // ...and accepts writes once its own first entry is applied.
            // (Polled: the applied index and the metrics move separately.)
            let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
            while me.write_leader().is_err() {
                if tokio::time::Instant::now() > deadline {
                    return Err(io::Error::other(
                        "the single member did not become writable",
                    ));
                }
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
            me.request_snapshots_as_the_log_grows();
            me.purge_large_entries_after_snapshots(kept_log);
            return Ok(me);
        };
        let listener = cluster.net.bind(&cluster.listen).await.map_err(|e| {
            io::Error::new(e.kind(), format!("cluster listen {}: {e}", cluster.listen))
        })?;
        let handler = Arc::new(RaftHandler {
            raft: raft.clone(),
            heard: me.heard.clone(),
            ctx: ctx.clone(),
        });
        me.tasks
            .push(tokio::spawn(network::serve(listener, ctx.clone(), handler)).abort_handle());
        if !raft.is_initialized().await.map_err(io::Error::other)? {
            let task = if cluster.replica {
                tokio::spawn(join_as_replica(raft.clone(), ctx, cluster))
            } else {
                tokio::spawn(form(raft.clone(), ctx, cluster))
            };
            me.tasks.push(task.abort_handle());
        }
        me.request_snapshots_as_the_log_grows();
        me.purge_large_entries_after_snapshots(kept_log);
        Ok(me)
    }

    /// Started once `open` succeeds, so that a failed open leaves no task
    /// holding the Raft handle.
    fn request_snapshots_as_the_log_grows(&mut self) {
        /// How long writes must pause before an idle snapshot.
        const IDLE_SNAPSHOT_AFTER: Duration = Duration::from_secs(2);
        let (shared, raft) = (self.shared.clone(), self.raft.clone());
        self.tasks.push(
            tokio::spawn(async move {
                let mut applied = shared.applied_index();
                loop {
                    // A state rebuilt from its snapshots is also snapshotted
                    // once writes pause with a long log behind it, so that
                    // what a bulk load wrote since its last snapshot is laid
                    // out afresh too.
                    let idle = tokio::select! {
                        () = shared.growth.due.notified() => false,
                        () = tokio::time::sleep(IDLE_SNAPSHOT_AFTER), if S::rebuild_from_snapshots() => true,
                    };
                    if idle {
                        let now = shared.applied_index();
                        let still = std::mem::replace(&mut applied, now) == now;
                        if !still || !shared.growth.worth_an_idle_snapshot() {
                            continue;
                        }
                    }
                    if let Err(e) = raft.trigger().snapshot().await {
                        tracing::warn!(error = %e, "could not request a snapshot");
                    }
                    // At most a few requests a second while one is built.
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            })
            .abort_handle(),
        );
    }

    /// openraft keeps `snapshot_keep` entries below each snapshot, for
    /// followers just behind it. Tiny writes make that a few kilobytes; a
    /// bulk load's entries (a batch of 10,000 rows is about half a megabyte)
    /// made it most of the load, held in memory until the next snapshot,
    /// which may never come once writes stop. After each snapshot this
    /// purges whatever of that tail passes `KEPT_LOG_BYTES`; a follower
    /// further behind takes the snapshot, as it would past `snapshot_keep`.
    fn purge_large_entries_after_snapshots(&mut self, log: store::LogStore) {
        const KEPT_LOG_BYTES: u64 = 4 << 20;
        let raft = self.raft.clone();
        let mut built = self.shared.snapshotted.subscribe();
        self.tasks.push(
            tokio::spawn(async move {
                while built.changed().await.is_ok() {
                    let index = *built.borrow_and_update();
                    if let Some(upto) = log.purge_point(index, KEPT_LOG_BYTES) {
                        if let Err(e) = raft.trigger().purge_log(upto).await {
                            tracing::warn!(error = %e, "could not purge the log");
                        }
                    }
                }
            })
            .abort_handle(),
        );
    }

    /// The applied state: an O(1) clone when `S` is persistent.
    pub fn state(&self) -> S {
        self.shared.state()
    }

    /// See `sm::Shared::rebuilt_watch`.
    pub fn rebuilt_watch(&self) -> tokio::sync::watch::Receiver<u64> {
        self.shared.rebuilt_watch()
    }
    pub fn applied_index(&self) -> u64 {
        self.shared.applied_index()
    }

    /// Index of the latest snapshot, if one has been taken.
    pub fn snapshot_index(&self) -> Option<u64> {
        self.metrics().snapshot.as_ref().map(|l| l.index)
    }

    /// Whether openraft considers this member the leader (lease or not).
    pub fn is_leader(&self) -> bool {
        self.is_leader_in(&self.metrics())
    }

    /// Whether command `id` is among the recently applied commands and was
    /// applied (not refused).
    pub fn was_applied(&self, id: u64) -> bool {
        matches!(self.shared.outcome(id, u64::MAX), sm::Outcome::Applied(_))
    }

    /// Resolves once this member has applied an entry of a term later than
    /// `term`: from then on no leader of `term` can commit anything more,
    /// and the fate of every entry proposed under it is in this member's
    /// log.
    pub async fn superseded(&self, term: u64) {
        let mut rx = self.shared.applied_watch();
        while self.shared.applied_term() <= term {
            if rx.changed().await.is_err() {
                std::future::pending::<()>().await;
            }
        }
    }

    /// Index up to which this member's log has been purged (its entries
    /// are only in a snapshot now).
    pub fn purged_index(&self) -> Option<u64> {
        self.metrics().purged.as_ref().map(|l| l.index)
    }

    pub async fn wait_applied(&self, index: u64, timeout: Duration) -> Result<(), Error> {
        let mut rx = self.shared.applied_watch();
        let ok = matches!(
            tokio::time::timeout(timeout, rx.wait_for(|applied| *applied >= index)).await,
            Ok(Ok(_))
        );
        match ok {
            true => Ok(()),
            false => Err(Error::new(
                Code::BookmarkTimeout,
                format!("log index {index} not applied within {timeout:?}"),
            )),
        }
    }

    /// The leadership a writer builds under, if this member may accept
    /// writes now. `NotALeader` otherwise, which drivers answer by
    /// refreshing their routing table and retrying on the leader.
    pub fn write_leader(&self) -> Result<WriteLeader, Error> {
        self.write_leader_in(&self.metrics())
    }

    /// A copy of openraft's metrics. Never hold the watch's borrow: the Raft
    /// core publishes through it, and a reader that borrows twice while the
    /// core waits to publish deadlocks the core.
    fn metrics(&self) -> RaftMetrics<TypeConfig> {
        use openraft_rt::WatchReceiver;
        self.raft.metrics().borrow_watched().clone()
    }

    /// Whether a leader still holds its lease: a majority acknowledged it
    /// within the longest election timeout, so no other leader can exist.
    fn lease_held(&self, m: &RaftMetrics<TypeConfig>) -> bool {
        !quorum_silent(m, self.timing.election_max_ms, Duration::ZERO, true)
    }

    /// `NotALeader` once waiting on this member for a write is in vain: it
    /// does not lead, or it leads but no majority has answered it for the
    /// longest election timeout plus `grace`, so nothing it queues can
    /// commit. A leader that has not heard from a majority yet (just
    /// elected) is still worth waiting for.
    pub fn still_leading(&self, grace: Duration) -> Result<(), Error> {
        let m = self.metrics();
        if m.state != openraft::ServerState::Leader {
            return Err(Error::new(
                Code::NotALeader,
                "This member stopped leading while the write waited; it was not applied. Retry it.",
            ));
        }
        if quorum_silent(&m, self.timing.election_max_ms, grace, false) {
            return Err(Error::new(
                Code::NotALeader,
                "This member leads but cannot reach a majority of the cluster; the write was not \
                 applied. Retry it.",
            ));
        }
        Ok(())
    }

    /// Whether this member leads and has heard nothing from member `node`
    /// for the longest election timeout plus `grace`. False when it does not
    /// lead, or has not heard from `node` at all yet (just elected).
    pub fn member_silent(&self, node: u64, grace: Duration) -> bool {
        let m = self.metrics();
        node != self.node_id
            && self.is_leader_in(&m)
            && m.heartbeat
                .as_ref()
                .and_then(|h| h.get(&node))
                .is_some_and(|t| {
                    t.as_ref()
                        .is_some_and(|t| lapsed(&**t, self.timing.election_max_ms, grace))
                })
    }

    /// This member's node id.
    pub fn node_id(&self) -> u64 {
        self.node_id
    }

    fn is_leader_in(&self, m: &RaftMetrics<TypeConfig>) -> bool {
        m.state == openraft::ServerState::Leader && m.current_leader == Some(self.node_id)
    }

    fn write_leader_in(&self, m: &RaftMetrics<TypeConfig>) -> Result<WriteLeader, Error> {
        let lease_ok = self.lease_held(m);
        let leader = self.is_leader_in(m);
        if leader && lease_ok && self.shared.applied_term() == m.current_term {
            return Ok(WriteLeader {
                term: m.current_term,
                node_id: self.node_id,
                last_log: m.last_log_index.unwrap_or(0),
            });
        }
        let why = if !leader {
            "No write operations are allowed on this database. This is a read only Neo4j instance \
             (this member is not the cluster leader)."
        } else if !lease_ok {
            "This member was the leader but cannot reach a majority of the cluster; writes are \
             unavailable until a leader with a majority is elected."
        } else {
            "This member has just become leader and is still applying its log; retry."
        };
        Err(Error::new(Code::NotALeader, why))
    }

    /// Queues a change set under `leader` (see [`Replicator::write_leader`]).
    /// Returns once it is queued, so that callers that serialise their calls
    /// get log order equal to call order; the returned future resolves with
    /// the entry's index once it is committed and applied.
    ///
    /// Exactly-once: if the leadership ends before the entry's fate is
    /// known, the future waits until this member has applied an entry of a
    /// later term, then reports whether this entry was applied. A retryable
    /// error is returned only when it certainly was not.
    pub async fn submit(
        &self,
        leader: WriteLeader,
        payload: Vec<u8>,
    ) -> Result<impl Future<Output = Result<u64, Error>> + Send + 'static, Error> {
        self.submit_as(leader, random::u64(), payload).await
    }

    /// [`Replicator::submit`] under a command id the caller chose, so that
    /// another member can learn the outcome with [`Replicator::outcome`].
    pub async fn submit_as(
        &self,
        leader: WriteLeader,
        id: u64,
        payload: Vec<u8>,
    ) -> Result<impl Future<Output = Result<u64, Error>> + Send + 'static, Error> {
        let (responder, rx) = ProgressResponder::complete_only();
        let expected = openraft::vote::leader_id_adv::LeaderId {
            term: leader.term,
            node_id: leader.node_id,
        };
        self.raft
            .write(Command { id, payload })
            .responder(responder)
            .with_leader(expected)
            .await
            .map_err(|e| {
                Error::new(
                    Code::DatabaseUnavailable,
                    format!("the log is unavailable: {e}"),
                )
            })?;
        let shared = self.shared.clone();
        let raft = self.raft.clone();
        let election_max_ms = self.timing.election_max_ms;
        Ok(async move {
            // A leader cut off from its followers keeps the entry pending
            // until it hears of a newer term, which may be never while the
            // cut lasts; a follower may hold the entry, so nobody can say
            // it will not commit. Once no majority has answered for a
            // while, the writer is told the outcome is unknown instead of
            // waiting with it.
            let lapsed = async {
                loop {
                    tokio::time::sleep(LEASE_POLL).await;
                    use openraft_rt::WatchReceiver;
                    let m = raft.metrics().borrow_watched().clone();
                    if m.state != openraft::ServerState::Leader {
                        // Deposed: the log will tell.
                        return false;
                    }
                    if quorum_silent(&m, election_max_ms, LEASE_LAPSE_GRACE, true) {
                        return true;
                    }
                }
            };
            let answer = tokio::select! {
                biased;
                a = rx => a,
                cut_off = lapsed => {
                    if !cut_off {
                        return resolve(&shared, id, leader.term, leader.last_log).await;
                    }
                    return known_now(&shared, id, leader.last_log, "no majority of the cluster acknowledged it in time");
                }
                _ = tokio::time::sleep(COMMIT_TIMEOUT) => {
                    return known_now(&shared, id, leader.last_log, "it was not acknowledged in time");
                }
            };
            match answer {
                Ok(Ok(resp)) if resp.data.refused => Err(not_applied()),
                Ok(Ok(resp)) => Ok(resp.data.index),
                Ok(Err(openraft::errors::ClientWriteError::ForwardToLeader(f))) => {
                    tracing::debug!(forward = %f, "proposal refused before it was appended");
                    Err(not_applied())
                }
                other => {
                    tracing::info!(outcome = ?other.as_ref().err().map(|e| e.to_string()), "commit outcome unknown; learning it from the log");
                    resolve(&shared, id, leader.term, leader.last_log).await
                }
            }
        })
    }

    /// Removes read replica `node_id` from the membership. Only the leader
    /// can; core members are never removed this way.
    pub async fn remove_replica(&self, node_id: u64) -> Result<(), Error> {
        let m = self.metrics();
        if m.membership_config
            .membership()
            .voter_ids()
            .any(|id| id == node_id)
        {
            return Err(Error::new(
                Code::ArgumentError,
                "That server is a core member; only read replicas can be removed.",
            ));
        }
        self.write_leader()?;
        self.raft
            .change_membership(
                openraft::ChangeMembers::RemoveNodes(std::collections::BTreeSet::from([node_id])),
                false,
            )
            .await
            .map_err(|e| {
                Error::new(
                    Code::DatabaseUnavailable,
                    format!("removing the replica failed: {e}"),
                )
            })?;
        tracing::info!(node_id, "removed a read replica");
        Ok(())
    }

    /// The fate of command `id`, proposed by a leader of `term` whose answer
    /// was lost, and known to lie after log index `after` if it was
    /// appended at all: the index it was applied at, a retryable error once
    /// this member's log shows it never will be, or an outcome-unknown error
    /// (see [`resolve`]).
    pub async fn outcome(&self, id: u64, term: u64, after: u64) -> Result<u64, Error> {
        resolve(&self.shared, id, term, after).await
    }

    /// This member's view of the group, for routing and cluster procedures.
    pub fn status(&self) -> Status {
        let m = self.metrics();
        let membership = m.membership_config.membership();
        let voters: std::collections::BTreeSet<u64> = membership.voter_ids().collect();
        let matched = m.replication.as_ref();
        let members = membership
            .nodes()
            .map(|(id, node)| MemberStatus {
                node_id: *id,
                member: node.clone(),
                voter: voters.contains(id),
                matched: if *id == self.node_id {
                    m.last_log_index
                } else {
                    matched
                        .and_then(|r| r.get(id))
                        .and_then(|l| l.as_ref().map(|l| l.index))
                },
            })
            .collect();
        let role = match m.state {
            openraft::ServerState::Leader => Role::Leader,
            openraft::ServerState::Follower => Role::Follower,
            openraft::ServerState::Candidate => Role::Candidate,
            openraft::ServerState::Learner => Role::Learner,
            openraft::ServerState::Shutdown => Role::Shutdown,
        };
        Status {
            node_id: self.node_id,
            role,
            term: m.current_term,
            leader: m.current_leader,
            writable: self.write_leader_in(&m).is_ok(),
            lease_lost: self.is_leader_in(&m) && !self.lease_held(&m),
            millis_since_leader: if self.is_leader_in(&m) {
                Some(0)
            } else {
                self.heard
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .map(|t| t.elapsed().as_millis() as u64)
            },
            members,
            applied: self.shared.applied_index(),
            committed: m.local_committed.as_ref().map_or(0, |l| l.index),
            last_log: m.last_log_index.unwrap_or(0),
            cluster_id: self.identity.as_ref().and_then(|i| i.cluster_id()),
        }
    }

    /// Hands leadership to the most up-to-date follower and waits (briefly)
    /// for it to take over, so that a leader's planned shutdown costs
    /// clients no failed transaction.
    pub async fn transfer_leadership(&self) {
        let status = self.status();
        if status.role != Role::Leader {
            return;
        }
        let Some(to) = status
            .members
            .iter()
            .filter(|m| m.voter && m.node_id != self.node_id)
            .max_by_key(|m| m.matched.unwrap_or(0))
            .map(|m| m.node_id)
        else {
            return;
        };
        if let Err(e) = self.raft.trigger().transfer_leader(to).await {
            tracing::warn!(error = %e, "leadership transfer failed");
            return;
        }
        let r = self
            .raft
            .wait(Some(Duration::from_millis(self.timing.election_max_ms * 4)))
            .current_leader(to, "leadership transferred")
            .await;
        match r {
            Ok(_) => tracing::info!(to, "leadership transferred"),
            // (The error's text carries openraft's whole metrics.)
            Err(_) => tracing::warn!(to, "leadership did not move in time; stopping anyway"),
        }
    }

    pub async fn shutdown(&self) {
        for t in &self.tasks {
            t.abort();
        }
        // A state rebuilt now would only be thrown away.
        self.shared
            .closing
            .store(true, std::sync::atomic::Ordering::Relaxed);
        // A clean stop leaves a snapshot of what it applied, so the next
        // start loads that instead of replaying the log behind it (replay
        // runs every change set again, much slower than loading a snapshot).
        // A leader of several members that could not hand over keeps the
        // others from electing one while it snapshots; it stops at once.
        let m = self.metrics();
        let holds_others =
            self.is_leader_in(&m) && m.membership_config.membership().voter_ids().count() > 1;
        if self.shared.growth.worth_keeping() && !holds_others {
            let applied = self.applied_index();
            let deadline = tokio::time::Instant::now() + SHUTDOWN_SNAPSHOT_WAIT;
            // Asked again while waiting: a request made while another
            // snapshot is being built is dropped.
            while self.snapshot_index().is_none_or(|i| i < applied)
                && tokio::time::Instant::now() < deadline
            {
                if let Err(e) = self.raft.trigger().snapshot().await {
                    tracing::warn!(error = %e, "could not request a snapshot at shutdown");
                    break;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
        if let Err(e) = self.raft.shutdown().await {
            tracing::warn!(error = %e, "raft shutdown");
        }
    }
}

/// The longest a clean stop waits for its snapshot: well inside the
/// termination grace periods of container runtimes (Kubernetes: 30 s).
const SHUTDOWN_SNAPSHOT_WAIT: Duration = Duration::from_secs(20);

/// A leadership under which a writer builds its change set.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WriteLeader {
    pub term: u64,
    pub node_id: u64,
    /// The last log index when this was read: a new head must wait until
    /// everything up to here is applied.
    pub last_log: u64,
}

/// The answer for a change set that certainly never reached the state: safe
/// for drivers to retry, which they do for this code.
fn not_applied() -> Error {
    Error::new(
        Code::NotALeader,
        "Leadership changed before this transaction could commit; it was not applied. Retry it.",
    )
}

/// The answer for a change set whose fate this member cannot learn: it may
/// have been applied. `TransactionCommitFailed` is a database error, which
/// the official drivers never retry on their own (they retry transient
/// errors, `NotALeader` and lost connections outside COMMIT), so a client
/// is not led into applying it twice.
fn outcome_unknown(why: &str) -> Error {
    Error::new(
        Code::TransactionCommitFailed,
        format!(
            "The leader changed while this transaction was committing and {why}; it may or may \
             not have been applied. Check before retrying it."
        ),
    )
}

/// The fate of entry `id` as this member's log tells it right now, with a
/// pending entry's fate unknown (`why` says why nobody waits longer).
fn known_now<S: Data>(
    shared: &sm::Shared<S>,
    id: u64,
    after: u64,
    why: &str,
) -> Result<u64, Error> {
    match shared.outcome(id, after) {
        sm::Outcome::Applied(index) => Ok(index),
        sm::Outcome::Refused => Err(not_applied()),
        _ => Err(outcome_unknown(why)),
    }
}

/// Learns the fate of entry `id`, submitted under `term` and known to lie
/// after log index `after` if it was appended at all, whose leader lost
/// office before answering. Once an entry of a later term is applied here,
/// the log up to it is final, and an entry of an earlier term that has not
/// been applied by then never will be (terms never decrease along a log).
async fn resolve<S: Data>(
    shared: &sm::Shared<S>,
    id: u64,
    term: u64,
    after: u64,
) -> Result<u64, Error> {
    let mut rx = shared.applied_watch();
    let deadline = tokio::time::Instant::now() + OUTCOME_TIMEOUT;
    loop {
        // The term is read first: the outcome window is updated before the
        // applied term moves, so a later term seen here implies the window
        // already holds every entry up to it.
        let later_term = shared.applied_term() > term;
        match shared.outcome(id, after) {
            sm::Outcome::Applied(index) => return Ok(index),
            sm::Outcome::Refused => return Err(not_applied()),
            sm::Outcome::Absent if later_term => return Err(not_applied()),
            sm::Outcome::Forgotten if later_term => {
                return Err(outcome_unknown(&format!(
                    "its entry is older than the {} most recent commits this member remembers",
                    sm::RECENT_OUTCOMES
                )))
            }
            _ => {}
        }
        if tokio::time::timeout_at(deadline, rx.changed())
            .await
            .is_err()
        {
            return Err(outcome_unknown("the outcome could not be learned in time"));
        }
    }
}

/// Cluster formation. Every fresh core member runs this with the same
/// initial member list. Once all of them answer and none belongs to a
/// cluster yet, the one with the lowest advertised cluster address creates
/// the cluster with all of them as voters; the others learn the cluster id
/// when its leader first reaches them. A member that finds an existing
/// cluster waits to be reached (it is a member of it) and never creates one.
/// A new read replica asks the cores, in turn, to add it as a learner; the
/// leader does, and from then on reaches it with the log (the first such
/// call also tells it its cluster id). Done once this member has a
/// membership.
async fn join_as_replica<S: Data>(
    raft: Raft<S>,
    ctx: Arc<network::NetContext>,
    cluster: ClusterConfig,
) {
    let mut logged = String::new();
    loop {
        if raft.is_initialized().await.unwrap_or(true) {
            return;
        }
        let discover = cluster.discover.clone();
        let addrs = blocking(move || discover()).await.unwrap_or_default();
        let mut answers = Vec::new();
        for addr in &addrs {
            match network::ask_to_join(&ctx, addr, cluster.me.clone()).await {
                Ok(()) => {
                    tracing::info!(via = %addr, "added to the cluster as a read replica");
                    answers.clear();
                    break;
                }
                Err(e) => answers.push(format!("{addr}: {e}")),
            }
        }
        let note = if answers.is_empty() {
            "waiting for the leader to send the log".to_owned()
        } else {
            format!(
                "asking the cores to add this replica: {}",
                answers.join("; ")
            )
        };
        if note != logged {
            tracing::info!("replica: {note}");
            logged = note;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

async fn form<S: Data>(raft: Raft<S>, ctx: Arc<network::NetContext>, cluster: ClusterConfig) {
    let mut logged = String::new();
    loop {
        if raft.is_initialized().await.unwrap_or(true) || ctx.identity.cluster_id().is_some() {
            return;
        }
        let discover = cluster.discover.clone();
        // DNS lookups block; keep them off the async workers.
        let addrs = blocking(move || discover()).await.unwrap_or_default();
        let mut found = BTreeMap::from([(ctx.identity.node_id, cluster.me.clone())]);
        let mut existing = None;
        let mut missing = Vec::new();
        for addr in &addrs {
            if *addr == cluster.me.cluster || *addr == cluster.listen {
                continue;
            }
            match network::probe(&ctx, addr).await {
                Ok(info) => {
                    if info.cluster_id.is_some() {
                        existing = info.cluster_id.clone();
                    }
                    found.insert(info.node_id, info.member);
                }
                Err(e) => missing.push(format!("{addr}: {e}")),
            }
        }
        let note = if let Some(c) = &existing {
            format!("found existing cluster {c}; waiting for its leader to reach this member")
        } else if !missing.is_empty() {
            format!("waiting for initial members: {}", missing.join("; "))
        } else if found.len() < addrs.len().max(1) {
            format!(
                "{} of {} initial members answered with distinct identities",
                found.len(),
                addrs.len()
            )
        } else if found.len() < cluster.min_initial_cores {
            format!(
                "found {} of the {} cores needed to form a cluster",
                found.len(),
                cluster.min_initial_cores
            )
        } else {
            let lowest = found.values().map(|m| m.cluster.as_str()).min();
            if lowest == Some(cluster.me.cluster.as_str()) {
                let id = format!("{:032x}", random::u128());
                if let Err(e) = ctx.identity.join(&id) {
                    tracing::error!(error = %e, "could not record the new cluster id");
                    return;
                }
                match raft.initialize(found.clone()).await {
                    Ok(()) => {
                        tracing::info!(cluster = %id, members = found.len(), "formed a new cluster");
                        return;
                    }
                    Err(e) => format!("initialising the cluster failed: {e}"),
                }
            } else {
                "all initial members answered; the one with the lowest address forms the cluster"
                    .to_owned()
            }
        };
        if note != logged {
            tracing::info!("cluster formation: {note}");
            logged = note;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}
