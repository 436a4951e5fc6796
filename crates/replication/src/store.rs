//! openraft's log storage over our [`Wal`], with group commit.
//!
//! `append` puts entries in memory (readable at once, as openraft requires)
//! and hands them to a flusher thread, which writes every queued request,
//! fsyncs once, and only then reports them flushed. While one fsync runs, the
//! next batch accumulates, so the number of fsyncs per second stays roughly
//! constant however many writers there are.
//!
//! The vote and the purge point live in a small `meta.json`, replaced
//! atomically. It is written by the same thread, after the log is synced, so
//! a vote is never durable ahead of the entries that preceded it.
//!
//! The commit index lives in a small `committed` file, overwritten in place
//! before openraft applies anything up to it, so that a restarted member
//! re-applies everything it had applied before it opens to clients (it
//! never serves an older state than it already served). It is written but
//! not fsync'd: a process crash keeps it (the page cache does), and after a
//! power failure a stale value only means re-applying less at start-up,
//! with the rest learned from the leader; the value read back is never
//! beyond what the recovered log holds.

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::io;
use std::ops::RangeBounds;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::sync::Arc;

use openraft::alias::{EntryOf, VoteOf};
use openraft::storage::{IOFlushed, LogState, RaftLogReader, RaftLogStorage};
use openraft::OptionalSend;
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};

use crate::wal::{sync_dir, Wal, WalOptions};
use crate::{LogId, TypeConfig};

pub type Entry = EntryOf<TypeConfig>;
type Vote = VoteOf<TypeConfig>;

#[derive(Clone, Default, Serialize, Deserialize)]
struct Meta {
    vote: Option<Vote>,
    last_purged: Option<LogId>,
}

#[derive(Default)]
struct Mem {
    entries: BTreeMap<u64, Entry>,
    meta: Meta,
    committed: Option<LogId>,
}

enum Op {
    Append(Vec<(u64, Vec<u8>)>, IOFlushed<TypeConfig>),
    Truncate(u64, tokio::sync::oneshot::Sender<io::Result<()>>),
    SaveMeta(
        Meta,
        Option<u64>,
        tokio::sync::oneshot::Sender<io::Result<()>>,
    ),
}

#[derive(Clone)]
pub struct LogStore {
    mem: Arc<Mutex<Mem>>,
    writer: Writer,
    committed_file: Arc<std::fs::File>,
}

/// A log record's payload as the entry it holds.
pub fn decode_entry(bytes: &[u8]) -> io::Result<Entry> {
    postcard::from_bytes(bytes).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
}

/// What one log entry costs in memory besides its payload (the log store's
/// map entry and openraft's bookkeeping), so that many tiny entries count
/// for what they hold.
pub(crate) const ENTRY_OVERHEAD: u64 = 256;

/// What an entry holds in memory, about: its command's payload and
/// `ENTRY_OVERHEAD`.
fn entry_bytes(entry: &Entry) -> u64 {
    ENTRY_OVERHEAD
        + match &entry.payload {
            openraft::EntryPayload::Normal(cmd) => cmd.payload.len() as u64,
            _ => 0,
        }
}

/// The command a log record's payload carries, if it is an entry with one
/// (membership and blank entries carry none).
pub fn decode_command(bytes: &[u8]) -> io::Result<Option<crate::Command>> {
    Ok(match decode_entry(bytes)?.payload {
        openraft::EntryPayload::Normal(cmd) => Some(cmd),
        _ => None,
    })
}

/// Who writes the log: the flusher thread (group commit), or, on a
/// current-thread runtime (the deterministic simulation), the caller in
/// place, so that a write completes at a point the simulation controls.
#[derive(Clone)]
enum Writer {
    Thread(mpsc::Sender<Op>),
    Inline(Arc<Mutex<Option<InlineWal>>>),
}

struct InlineWal {
    wal: Wal,
    meta_path: PathBuf,
    fsync: bool,
}

const COMMITTED_FILE: &str = "committed";
/// index, term, leader node id, then a CRC-32 of those 24 bytes.
const COMMITTED_LEN: usize = 28;

fn encode_committed(l: &LogId) -> [u8; COMMITTED_LEN] {
    let mut b = [0u8; COMMITTED_LEN];
    b[..8].copy_from_slice(&l.index.to_le_bytes());
    b[8..16].copy_from_slice(&l.leader_id.term.to_le_bytes());
    b[16..24].copy_from_slice(&l.leader_id.node_id.to_le_bytes());
    let crc = crc32fast::hash(&b[..24]);
    b[24..].copy_from_slice(&crc.to_le_bytes());
    b
}

fn decode_committed(b: &[u8]) -> Option<LogId> {
    let b: &[u8; COMMITTED_LEN] = b.get(..COMMITTED_LEN)?.try_into().ok()?;
    if crc32fast::hash(&b[..24]).to_le_bytes() != b[24..] {
        return None;
    }
    let word = |i: usize| u64::from_le_bytes(b[i..i + 8].try_into().unwrap_or_default());
    Some(LogId {
        leader_id: openraft::vote::leader_id_adv::LeaderId {
            term: word(8),
            node_id: word(16),
        },
        index: word(0),
    })
}

/// The commit index to re-apply up to at start-up: the saved one, cut back
/// to what the recovered log holds (a leader may apply entries that only
/// its followers had stored, and a power failure loses unsynced ones).
/// Entries at or below a commit index are committed, so any prefix is safe.
fn recovered_committed(saved: Option<LogId>, entries: &BTreeMap<u64, Entry>) -> Option<LogId> {
    let saved = saved?;
    let last = *entries.keys().next_back()?;
    let at = entries.get(&saved.index.min(last))?;
    if at.log_id.index == saved.index && at.log_id != saved {
        // The log disagrees with the saved id: trust neither; the leader
        // will say what is committed.
        tracing::warn!(saved = %saved, logged = %at.log_id, "saved commit index does not match the log; not re-applying from it");
        return None;
    }
    Some(at.log_id)
}

impl LogStore {
    pub fn open(dir: &Path, fsync: bool) -> io::Result<LogStore> {
        std::fs::create_dir_all(dir)?;
        let meta_path = dir.join("meta.json");
        let meta: Meta = match std::fs::read(&meta_path) {
            Ok(b) => serde_json::from_slice(&b).map_err(io::Error::other)?,
            Err(e) if e.kind() == io::ErrorKind::NotFound => Meta::default(),
            Err(e) => return Err(e),
        };
        // On a current-thread runtime (the deterministic simulation) the log
        // is written in place, with no threads and no zero-filled segments.
        let current_thread = tokio::runtime::Handle::try_current()
            .is_ok_and(|h| h.runtime_flavor() == tokio::runtime::RuntimeFlavor::CurrentThread);
        let options = WalOptions {
            preallocate: !current_thread,
            ..WalOptions::default()
        };
        let recovered = Wal::open_with(&dir.join("wal"), options)?;
        if recovered.torn_bytes > 0 {
            tracing::warn!(
                bytes = recovered.torn_bytes,
                "cut a torn tail off the write-ahead log"
            );
        }
        let purged = meta.last_purged.as_ref().map(|l| l.index);
        let mut entries = BTreeMap::new();
        for (index, bytes) in recovered.records {
            if purged.is_some_and(|p| index <= p) {
                continue;
            }
            let entry = decode_entry(&bytes)
                .map_err(|e| io::Error::new(e.kind(), format!("log entry {index}: {e}")))?;
            entries.insert(index, entry);
        }
        let committed_path = dir.join(COMMITTED_FILE);
        let saved = match std::fs::read(&committed_path) {
            Ok(b) => decode_committed(&b),
            Err(e) if e.kind() == io::ErrorKind::NotFound => None,
            Err(e) => return Err(e),
        };
        let committed = recovered_committed(saved, &entries);
        let committed_file = Arc::new(
            std::fs::OpenOptions::new()
                .create(true)
                .write(true)
                .truncate(false)
                .open(&committed_path)?,
        );
        let mut wal = recovered.wal;
        // Records behind the purge point may still sit in the oldest
        // segment; the log must continue from the purge point, not after them.
        if let Some(p) = purged {
            wal.purge_upto(p)?;
        }
        let writer = if current_thread {
            Writer::Inline(Arc::new(Mutex::new(Some(InlineWal {
                wal,
                meta_path,
                fsync,
            }))))
        } else {
            let (tx, rx) = mpsc::channel();
            std::thread::Builder::new()
                .name("causeway-wal".into())
                .spawn(move || flusher(&mut wal, rx, meta_path, fsync))?;
            Writer::Thread(tx)
        };
        Ok(LogStore {
            mem: Arc::new(Mutex::new(Mem {
                entries,
                meta,
                committed,
            })),
            writer,
            committed_file,
        })
    }

    /// Where to purge so that the entries kept at or below `upto` (a
    /// snapshot's index) hold at most `keep_bytes`: the newest of them that
    /// no longer fits, or `None` when all of them do. openraft keeps a
    /// number of entries after a snapshot (`max_in_snapshot_log_to_keep`),
    /// which for a bulk load's large entries is most of the load, held in
    /// memory until the next snapshot.
    pub fn purge_point(&self, upto: u64, keep_bytes: u64) -> Option<u64> {
        let mem = self.mem.lock();
        let mut kept = 0u64;
        for (index, entry) in mem.entries.range(..=upto).rev() {
            kept += entry_bytes(entry);
            if kept > keep_bytes {
                return Some(*index);
            }
        }
        None
    }

    pub fn last_index(&self) -> Option<u64> {
        self.mem.lock().entries.keys().next_back().copied()
    }

    fn send(&self, op: Op) -> io::Result<()> {
        let stopped = || io::Error::other("the log writer has stopped");
        match &self.writer {
            Writer::Thread(tx) => tx.send(op).map_err(|_| stopped()),
            Writer::Inline(w) => {
                let mut guard = w.lock();
                let inline = guard.as_mut().ok_or_else(stopped)?;
                if !write_batch(&mut inline.wal, vec![op], &inline.meta_path, inline.fsync) {
                    *guard = None;
                }
                Ok(())
            }
        }
    }

    async fn save_meta(&self, meta: Meta, purge_upto: Option<u64>) -> io::Result<()> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.send(Op::SaveMeta(meta, purge_upto, tx))?;
        rx.await
            .map_err(|_| io::Error::other("the log writer thread has stopped"))?
    }
}

/// Drains every queued operation, then syncs once. A write error is fatal
/// for the group: it is reported to every waiter and the thread stops.
fn flusher(wal: &mut Wal, rx: mpsc::Receiver<Op>, meta_path: PathBuf, fsync: bool) {
    while let Ok(first) = rx.recv() {
        let mut batch = vec![first];
        while let Ok(op) = rx.try_recv() {
            batch.push(op);
        }
        if !write_batch(wal, batch, &meta_path, fsync) {
            return;
        }
    }
}

/// Writes a batch of operations, syncs once, and answers every waiter.
/// Returns false once the log has failed (nothing more may be written).
fn write_batch(wal: &mut Wal, batch: Vec<Op>, meta_path: &Path, fsync: bool) -> bool {
    let mut flushed = Vec::new();
    let mut result: io::Result<()> = Ok(());
    for op in batch {
        match op {
            Op::Append(records, cb) => {
                if result.is_ok() {
                    result = records
                        .iter()
                        .try_for_each(|(i, bytes)| wal.append(*i, bytes));
                }
                flushed.push(cb);
            }
            Op::Truncate(from, done) => {
                if result.is_ok() {
                    result = wal.truncate_from(from);
                }
                let _ = done.send(copy(&result));
            }
            Op::SaveMeta(meta, purge, done) => {
                if result.is_ok() {
                    result = wal.sync(fsync).and_then(|()| write_meta(meta_path, &meta));
                    if let (Ok(()), Some(upto)) = (&result, purge) {
                        result = wal.purge_upto(upto);
                    }
                }
                let _ = done.send(copy(&result));
            }
        }
    }
    if result.is_ok() {
        result = wal.sync(fsync);
    }
    let failed = result.is_err();
    if failed {
        // Cut the batch off before anyone hears "failed", so that a
        // failed write can never reappear in the log after a restart.
        tracing::error!(error = ?result, "write-ahead log failed; this member stops accepting writes");
        if let Err(e) = wal.discard_unsynced() {
            tracing::error!(error = %e, "could not cut unsynced records off the log");
        }
    }
    for cb in flushed {
        cb.io_completed(copy(&result));
    }
    !failed
}

fn copy(r: &io::Result<()>) -> io::Result<()> {
    match r {
        Ok(()) => Ok(()),
        Err(e) => Err(io::Error::new(e.kind(), e.to_string())),
    }
}

fn write_meta(path: &Path, meta: &Meta) -> io::Result<()> {
    use std::io::Write;
    let tmp = path.with_extension("tmp");
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(&serde_json::to_vec(meta).map_err(io::Error::other)?)?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)?;
    sync_dir(path.parent().unwrap_or(Path::new(".")))
}

impl RaftLogReader<TypeConfig> for LogStore {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + OptionalSend>(
        &mut self,
        range: RB,
    ) -> Result<Vec<Entry>, io::Error> {
        Ok(self
            .mem
            .lock()
            .entries
            .range(range)
            .map(|(_, e)| e.clone())
            .collect())
    }

    async fn read_vote(&mut self) -> Result<Option<Vote>, io::Error> {
        Ok(self.mem.lock().meta.vote)
    }
}

impl RaftLogStorage<TypeConfig> for LogStore {
    type LogReader = LogStore;

    async fn get_log_state(&mut self) -> Result<LogState<TypeConfig>, io::Error> {
        let mem = self.mem.lock();
        let last_purged_log_id = mem.meta.last_purged;
        let last_log_id = mem
            .entries
            .values()
            .next_back()
            .map(|e| e.log_id)
            .or(last_purged_log_id);
        Ok(LogState {
            last_purged_log_id,
            last_log_id,
        })
    }

    async fn get_log_reader(&mut self) -> Self::LogReader {
        self.clone()
    }

    async fn save_vote(&mut self, vote: &Vote) -> Result<(), io::Error> {
        let meta = {
            let mut mem = self.mem.lock();
            mem.meta.vote = Some(*vote);
            mem.meta.clone()
        };
        self.save_meta(meta, None).await
    }

    async fn save_committed(&mut self, committed: Option<LogId>) -> Result<(), io::Error> {
        // One small positioned write, no fsync (see the module comment);
        // openraft applies up to `committed` only after this returns.
        if let Some(c) = &committed {
            use std::os::unix::fs::FileExt;
            self.committed_file.write_all_at(&encode_committed(c), 0)?;
        }
        self.mem.lock().committed = committed;
        Ok(())
    }

    async fn read_committed(&mut self) -> Result<Option<LogId>, io::Error> {
        Ok(self.mem.lock().committed)
    }

    async fn append<I>(
        &mut self,
        entries: I,
        callback: IOFlushed<TypeConfig>,
    ) -> Result<(), io::Error>
    where
        I: IntoIterator<Item = Entry> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        let mut records = Vec::new();
        {
            let mut mem = self.mem.lock();
            for entry in entries {
                let bytes = postcard::to_stdvec(&entry).map_err(io::Error::other)?;
                records.push((entry.log_id.index, bytes));
                mem.entries.insert(entry.log_id.index, entry);
            }
        }
        self.send(Op::Append(records, callback))
    }

    async fn truncate_after(&mut self, last_log_id: Option<LogId>) -> Result<(), io::Error> {
        let from = last_log_id.map_or(0, |l| l.index + 1);
        self.mem.lock().entries.split_off(&from);
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.send(Op::Truncate(from, tx))?;
        rx.await
            .map_err(|_| io::Error::other("the log writer thread has stopped"))?
    }

    async fn purge(&mut self, log_id: LogId) -> Result<(), io::Error> {
        let meta = {
            let mut mem = self.mem.lock();
            let keep = mem.entries.split_off(&(log_id.index + 1));
            mem.entries = keep;
            mem.meta.last_purged = Some(log_id);
            mem.meta.clone()
        };
        self.save_meta(meta, Some(log_id.index)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(term: u64, index: u64) -> LogId {
        LogId {
            leader_id: openraft::vote::leader_id_adv::LeaderId { term, node_id: 7 },
            index,
        }
    }

    fn log(ids: &[LogId]) -> BTreeMap<u64, Entry> {
        ids.iter()
            .map(|l| {
                (
                    l.index,
                    Entry {
                        log_id: *l,
                        payload: openraft::EntryPayload::Blank,
                    },
                )
            })
            .collect()
    }

    #[test]
    fn the_entries_kept_below_a_snapshot_are_cut_to_a_byte_budget() {
        let dir = tempfile::tempdir().unwrap();
        let store = LogStore::open(dir.path(), false).unwrap();
        {
            let mut mem = store.mem.lock();
            for i in 1..=10u64 {
                let size = if i <= 6 { 1000 } else { 10 };
                let cmd = crate::Command {
                    id: i,
                    payload: vec![0; size],
                };
                let payload = openraft::EntryPayload::Normal(cmd);
                mem.entries.insert(
                    i,
                    Entry {
                        log_id: id(1, i),
                        payload,
                    },
                );
            }
        }
        let (small, large) = (256 + 10, 256 + 1000);
        assert_eq!(store.purge_point(10, 10_000), None);
        assert_eq!(store.purge_point(10, 4 * small), Some(6));
        assert_eq!(store.purge_point(10, 4 * small + large), Some(5));
        // Only entries at or below the snapshot count.
        assert_eq!(store.purge_point(8, 2 * small), Some(6));
        assert_eq!(store.purge_point(8, 2 * small - 1), Some(7));
    }

    #[test]
    fn the_saved_commit_index_is_cut_back_to_the_recovered_log() {
        let entries = log(&[id(1, 1), id(1, 2), id(2, 3)]);
        let bytes = encode_committed(&id(2, 3));
        assert_eq!(decode_committed(&bytes), Some(id(2, 3)));
        let mut torn = bytes;
        torn[3] ^= 1;
        assert_eq!(decode_committed(&torn), None, "a damaged record is ignored");
        assert_eq!(
            recovered_committed(Some(id(2, 3)), &entries),
            Some(id(2, 3))
        );
        assert_eq!(
            recovered_committed(Some(id(1, 2)), &entries),
            Some(id(1, 2))
        );
        // Ahead of the durable log: only what the log holds is re-applied.
        assert_eq!(
            recovered_committed(Some(id(2, 9)), &entries),
            Some(id(2, 3))
        );
        // A log that disagrees with the saved id is not trusted.
        assert_eq!(recovered_committed(Some(id(3, 3)), &entries), None);
        assert_eq!(recovered_committed(None, &entries), None);
        assert_eq!(recovered_committed(Some(id(1, 1)), &BTreeMap::new()), None);
    }
}
