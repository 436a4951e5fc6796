//! The state machine: applies committed change sets to the replicated state
//! and makes snapshots of it.
//!
//! Invariants:
//! * entries are applied in log order, each exactly once (`last_applied`
//!   only moves forward, and a restart resumes from the snapshot's index);
//! * a snapshot file is complete or absent: it is written to a temporary
//!   name, fsync'd and renamed, and carries a checksum, so openraft never
//!   purges log entries that a snapshot does not really contain.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use futures_util::{Stream, TryStreamExt};
use openraft::alias::{SnapshotMetaOf, SnapshotOf, StoredMembershipOf};
use openraft::storage::{EntryResponder, RaftSnapshotBuilder, RaftStateMachine};
use openraft::{EntryPayload, OptionalSend};
use parking_lot::RwLock;
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use crate::wal::sync_dir;
use crate::{Applied, Data, LogId, TypeConfig};

type Meta = SnapshotMetaOf<TypeConfig>;
type Membership = StoredMembershipOf<TypeConfig>;
pub type Snapshot = SnapshotOf<TypeConfig, Vec<u8>>;

const SNAPSHOT_FILE: &str = "snapshot.bin";
const MAGIC: &[u8; 8] = b"CWSNAP01";

/// What readers share with the state machine.
pub struct Shared<S> {
    state: RwLock<S>,
    applied: watch::Sender<u64>,
    /// Term of the last applied entry: once it equals the current term, a
    /// new leader has applied its own first entry, and with it everything
    /// its predecessors committed.
    applied_term: std::sync::atomic::AtomicU64,
    /// Ids of recently applied commands and where they landed.
    recent: parking_lot::Mutex<(
        std::collections::HashMap<u64, u64>,
        std::collections::VecDeque<u64>,
    )>,
}

/// Applied command ids remembered for writers that must learn an outcome
/// after a leader change; a writer waits at most seconds, far fewer
/// commits than this.
pub const RECENT_OUTCOMES: usize = 200_000;

impl<S: Data> Shared<S> {
    pub fn state(&self) -> S {
        self.state.read().clone()
    }
    pub fn applied_index(&self) -> u64 {
        *self.applied.borrow()
    }
    pub fn applied_watch(&self) -> watch::Receiver<u64> {
        self.applied.subscribe()
    }
    /// Publishes a new last applied entry: its term first, so that whoever
    /// sees the index also sees the term.
    fn set_applied(&self, last: Option<&LogId>) {
        self.applied_term.store(
            last.map_or(0, |l| l.leader_id.term),
            std::sync::atomic::Ordering::Release,
        );
        self.applied.send_replace(last.map_or(0, |l| l.index));
    }
    pub fn applied_term(&self) -> u64 {
        self.applied_term.load(std::sync::atomic::Ordering::Acquire)
    }
    /// Index at which the command with this id was applied, if it was
    /// among the last [`RECENT_OUTCOMES`] applied here.
    pub fn outcome(&self, id: u64) -> Option<u64> {
        self.recent.lock().0.get(&id).copied()
    }
    fn record_outcome(&self, id: u64, index: u64) {
        let mut r = self.recent.lock();
        let (map, order) = &mut *r;
        map.insert(id, index);
        order.push_back(id);
        if order.len() > RECENT_OUTCOMES {
            if let Some(old) = order.pop_front() {
                map.remove(&old);
            }
        }
    }
}

#[derive(Clone, Default, Serialize, Deserialize)]
struct Header {
    last_applied: Option<LogId>,
    membership: Membership,
}

pub struct StateMachine<S: Data> {
    shared: Arc<Shared<S>>,
    header: Header,
    dir: PathBuf,
}

impl<S: Data> StateMachine<S> {
    pub fn open(dir: PathBuf) -> io::Result<(Self, Arc<Shared<S>>)> {
        std::fs::create_dir_all(&dir)?;
        let (header, state) = match read_snapshot(&dir.join(SNAPSHOT_FILE))? {
            Some((header, data)) => (
                header,
                S::decode(&data).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?,
            ),
            None => (Header::default(), S::default()),
        };
        let index = header.last_applied.as_ref().map_or(0, |l| l.index);
        let shared = Arc::new(Shared {
            state: RwLock::new(state),
            applied: watch::Sender::new(index),
            applied_term: header
                .last_applied
                .as_ref()
                .map_or(0, |l| l.leader_id.term)
                .into(),
            recent: Default::default(),
        });
        Ok((
            StateMachine {
                shared: shared.clone(),
                header,
                dir,
            },
            shared,
        ))
    }
}

fn encode_snapshot(header: &Header, data: &[u8]) -> io::Result<Vec<u8>> {
    let h = serde_json::to_vec(header).map_err(io::Error::other)?;
    let mut out = Vec::with_capacity(data.len() + h.len() + 24);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&(h.len() as u64).to_le_bytes());
    out.extend_from_slice(&h);
    out.extend_from_slice(data);
    let crc = crc32fast::hash(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    Ok(out)
}

fn decode_snapshot(bytes: &[u8]) -> io::Result<(Header, Vec<u8>)> {
    let bad = |what: &str| io::Error::new(io::ErrorKind::InvalidData, format!("snapshot: {what}"));
    if bytes.len() < 20 || &bytes[..8] != MAGIC {
        return Err(bad("not a Causeway snapshot"));
    }
    let (body, crc) = bytes.split_at(bytes.len() - 4);
    if crc32fast::hash(body).to_le_bytes() != crc {
        return Err(bad("checksum mismatch"));
    }
    let hlen =
        u64::from_le_bytes(body[8..16].try_into().map_err(|_| bad("short header"))?) as usize;
    let h = body
        .get(16..16usize.saturating_add(hlen))
        .ok_or_else(|| bad("short header"))?;
    let header: Header = serde_json::from_slice(h).map_err(|e| bad(&e.to_string()))?;
    Ok((header, body[16 + hlen..].to_vec()))
}

fn read_snapshot(path: &Path) -> io::Result<Option<(Header, Vec<u8>)>> {
    match std::fs::read(path) {
        Ok(bytes) => decode_snapshot(&bytes).map(Some),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

fn write_file_atomically(path: &Path, bytes: &[u8]) -> io::Result<()> {
    use std::io::Write;
    let tmp = path.with_extension("tmp");
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)?;
    sync_dir(path.parent().unwrap_or(Path::new(".")))
}

fn to_snapshot(header: Header, data: Vec<u8>) -> Snapshot {
    Snapshot {
        meta: Meta {
            last_log_id: header.last_applied,
            last_membership: header.membership,
        },
        snapshot: data,
    }
}

pub struct Builder<S: Data> {
    state: S,
    header: Header,
    dir: PathBuf,
}

impl<S: Data> RaftSnapshotBuilder<TypeConfig> for Builder<S> {
    type SnapshotData = Vec<u8>;

    async fn build_snapshot(&mut self) -> Result<Snapshot, io::Error> {
        let state = self.state.clone();
        let header = self.header.clone();
        let path = self.dir.join(SNAPSHOT_FILE);
        // Encoding a large graph takes a while; keep it off the async workers.
        let data = tokio::task::spawn_blocking(move || -> io::Result<Vec<u8>> {
            let data = state.encode();
            write_file_atomically(&path, &encode_snapshot(&header, &data)?)?;
            Ok(data)
        })
        .await
        .map_err(io::Error::other)??;
        tracing::info!(index = ?self.header.last_applied.as_ref().map(|l| l.index), bytes = data.len(), "snapshot written");
        Ok(to_snapshot(self.header.clone(), data))
    }
}

impl<S: Data> RaftStateMachine<TypeConfig> for StateMachine<S> {
    type SnapshotData = Vec<u8>;
    type SnapshotBuilder = Builder<S>;

    async fn applied_state(&mut self) -> Result<(Option<LogId>, Membership), io::Error> {
        Ok((self.header.last_applied, self.header.membership.clone()))
    }

    async fn apply<Strm>(&mut self, mut entries: Strm) -> Result<(), io::Error>
    where
        Strm: Stream<Item = Result<EntryResponder<TypeConfig>, io::Error>> + Unpin + OptionalSend,
    {
        while let Some((entry, responder)) = entries.try_next().await? {
            let index = entry.log_id.index;
            match &entry.payload {
                EntryPayload::Normal(cmd) => {
                    self.shared.record_outcome(cmd.id, index);
                    // A change set that fails to apply means members would
                    // diverge; stopping is the only safe answer.
                    self.shared.state.write().apply(&cmd.payload).map_err(|e| {
                        io::Error::new(
                            io::ErrorKind::InvalidData,
                            format!("applying entry {index}: {e}"),
                        )
                    })?;
                }
                EntryPayload::Membership(m) => {
                    self.header.membership = Membership::new(Some(entry.log_id), m.clone());
                }
                EntryPayload::Blank => {}
            }
            self.header.last_applied = Some(entry.log_id);
            self.shared.set_applied(self.header.last_applied.as_ref());
            if let Some(r) = responder {
                r.send(Applied { index });
            }
        }
        Ok(())
    }

    async fn get_snapshot_builder(&mut self) -> Self::SnapshotBuilder {
        Builder {
            state: self.shared.state(),
            header: self.header.clone(),
            dir: self.dir.clone(),
        }
    }

    async fn install_snapshot(&mut self, meta: &Meta, snapshot: Vec<u8>) -> Result<(), io::Error> {
        let state =
            S::decode(&snapshot).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
        let header = Header {
            last_applied: meta.last_log_id,
            membership: meta.last_membership.clone(),
        };
        write_file_atomically(
            &self.dir.join(SNAPSHOT_FILE),
            &encode_snapshot(&header, &snapshot)?,
        )?;
        *self.shared.state.write() = state;
        self.header = header;
        self.shared.set_applied(self.header.last_applied.as_ref());
        tracing::info!(index = ?self.header.last_applied.as_ref().map(|l| l.index), bytes = snapshot.len(), "installed a snapshot from the leader");
        Ok(())
    }

    async fn get_current_snapshot(&mut self) -> Result<Option<Snapshot>, io::Error> {
        Ok(read_snapshot(&self.dir.join(SNAPSHOT_FILE))?.map(|(h, d)| to_snapshot(h, d)))
    }
}
