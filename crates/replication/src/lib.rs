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
use openraft::impls::{BasicNode, ProgressResponder};
use openraft::{Config, SnapshotPolicy};
use serde::{Deserialize, Serialize};

/// A log entry's application payload: an encoded change set.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Command(pub Vec<u8>);

impl fmt::Display for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "change set ({} bytes)", self.0.len())
    }
}

/// What applying an entry returns to the writer waiting for it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Applied {
    pub index: u64,
}

openraft::declare_raft_types!(
    pub TypeConfig:
        D = Command,
        R = Applied,
        NodeId = u64,
        Node = BasicNode,
);

pub type LogId = LogIdOf<TypeConfig>;

/// The replicated state, as the state machine sees it. Implementations must
/// be deterministic: the same state and payload give the same new state on
/// every member.
pub trait Data: Clone + Default + Send + Sync + 'static {
    fn apply(&mut self, payload: &[u8]) -> Result<(), String>;
    fn encode(&self) -> Vec<u8>;
    fn decode(bytes: &[u8]) -> Result<Self, String>;
}

#[derive(Clone, Debug)]
pub struct ReplicatorConfig {
    pub dir: PathBuf,
    pub node_id: u64,
    pub address: String,
    pub fsync: bool,
    /// Entries between snapshots.
    pub snapshot_every: u64,
    /// Log payload bytes between snapshots.
    pub snapshot_bytes: u64,
}

type Raft<S> = openraft::Raft<TypeConfig, sm::StateMachine<S>>;

pub struct Replicator<S: Data> {
    raft: Raft<S>,
    shared: Arc<sm::Shared<S>>,
    /// Payload bytes submitted since the last snapshot was requested.
    /// openraft only counts entries; large entries must trigger snapshots
    /// too, or the log (held in memory until purged) grows without bound.
    bytes_since_snapshot: std::sync::atomic::AtomicU64,
    snapshot_bytes: u64,
}

impl<S: Data> Replicator<S> {
    /// Opens (or creates) the group's storage and starts Raft; returns once
    /// everything in the log has been applied, so that reads see every
    /// acknowledged write.
    pub async fn open(config: ReplicatorConfig) -> io::Result<Self> {
        std::fs::create_dir_all(&config.dir)?;
        let log = store::LogStore::open(&config.dir.join("log"), config.fsync)?;
        let last_log = log.last_index();
        let (machine, shared) = sm::StateMachine::<S>::open(config.dir.join("snapshot"))?;
        let raft_config = Config {
            cluster_name: "causeway".into(),
            heartbeat_interval: 100,
            election_timeout_min: 300,
            election_timeout_max: 600,
            snapshot_policy: SnapshotPolicy::LogsSinceLast(config.snapshot_every.max(1)),
            // Followers that fall further behind catch up from a snapshot;
            // keeping fewer entries bounds the log held in memory.
            max_in_snapshot_log_to_keep: 100,
            ..Default::default()
        };
        let raft_config = Arc::new(raft_config.validate().map_err(io::Error::other)?);
        let raft = Raft::new(config.node_id, raft_config, network::Network, log, machine)
            .await
            .map_err(io::Error::other)?;
        if !raft.is_initialized().await.map_err(io::Error::other)? {
            let members = BTreeMap::from([(config.node_id, BasicNode::new(&config.address))]);
            raft.initialize(members).await.map_err(io::Error::other)?;
        }
        // A one-member group elects itself within an election timeout;
        // writes before that would be refused.
        raft.wait(Some(Duration::from_secs(30)))
            .current_leader(config.node_id, "single member becomes leader")
            .await
            .map_err(io::Error::other)?;
        let me = Replicator {
            raft,
            shared,
            bytes_since_snapshot: std::sync::atomic::AtomicU64::new(0),
            snapshot_bytes: config.snapshot_bytes.max(1),
        };
        if let Some(last) = last_log {
            // A restarted member re-applies its log once it is leader again.
            me.wait_applied(last, Duration::from_secs(600))
                .await
                .map_err(|_| io::Error::other("timed out replaying the log"))?;
        }
        Ok(me)
    }

    /// The applied state: an O(1) clone when `S` is persistent.
    pub fn state(&self) -> S {
        self.shared.state()
    }

    pub fn applied_index(&self) -> u64 {
        self.shared.applied_index()
    }

    /// Index of the latest snapshot, if one has been taken.
    pub fn snapshot_index(&self) -> Option<u64> {
        use openraft_rt::WatchReceiver;
        self.raft
            .metrics()
            .borrow_watched()
            .snapshot
            .as_ref()
            .map(|l| l.index)
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

    /// Queues a change set. Returns once it is queued, so that callers that
    /// serialise their calls get log order equal to call order; the returned
    /// future resolves with the entry's index once it is committed and
    /// applied.
    pub async fn submit(
        &self,
        payload: Vec<u8>,
    ) -> Result<impl Future<Output = Result<u64, Error>> + Send, Error> {
        use std::sync::atomic::Ordering;
        let size = payload.len() as u64;
        let since = self.bytes_since_snapshot.fetch_add(size, Ordering::Relaxed) + size;
        if since >= self.snapshot_bytes {
            self.bytes_since_snapshot.store(0, Ordering::Relaxed);
            if let Err(e) = self.raft.trigger().snapshot().await {
                tracing::warn!(error = %e, "could not request a snapshot");
            }
        }
        let (responder, rx) = ProgressResponder::complete_only();
        self.raft
            .client_write_ff(Command(payload), Some(responder))
            .await
            .map_err(|e| {
                Error::new(
                    Code::DatabaseUnavailable,
                    format!("the log is unavailable: {e}"),
                )
            })?;
        Ok(async move {
            match rx.await {
                Ok(Ok(resp)) => Ok(resp.data.index),
                Ok(Err(e)) => Err(Error::new(
                    Code::NotALeader,
                    format!("write not accepted: {e}"),
                )),
                // The entry may or may not have become durable: a code that
                // drivers retry could apply it twice, so this one is final.
                Err(_) => Err(Error::new(
                    Code::Unknown,
                    "the log stopped before confirming this commit; its outcome is unknown",
                )),
            }
        })
    }

    pub async fn shutdown(&self) {
        if let Err(e) = self.raft.shutdown().await {
            tracing::warn!(error = %e, "raft shutdown");
        }
    }
}
