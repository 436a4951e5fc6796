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

use crate::wal::{sync_dir, Wal};
use crate::{LogId, TypeConfig};

type Entry = EntryOf<TypeConfig>;
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
    ops: mpsc::Sender<Op>,
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
        let recovered = Wal::open(&dir.join("wal"))?;
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
            let entry: Entry = postcard::from_bytes(&bytes).map_err(|e| {
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("log entry {index}: {e}"),
                )
            })?;
            entries.insert(index, entry);
        }
        let (tx, rx) = mpsc::channel();
        let mut wal = recovered.wal;
        // Records behind the purge point may still sit in the oldest
        // segment; the log must continue from the purge point, not after them.
        if let Some(p) = purged {
            wal.purge_upto(p)?;
        }
        std::thread::Builder::new()
            .name("causeway-wal".into())
            .spawn(move || flusher(&mut wal, rx, meta_path, fsync))?;
        Ok(LogStore {
            mem: Arc::new(Mutex::new(Mem {
                entries,
                meta,
                committed: None,
            })),
            ops: tx,
        })
    }

    pub fn last_index(&self) -> Option<u64> {
        self.mem.lock().entries.keys().next_back().copied()
    }

    fn send(&self, op: Op) -> io::Result<()> {
        self.ops
            .send(op)
            .map_err(|_| io::Error::other("the log writer thread has stopped"))
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
                        result = wal.sync(fsync).and_then(|()| write_meta(&meta_path, &meta));
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
        if failed {
            return;
        }
    }
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
        // Kept in memory only: after a restart the member re-commits its log
        // when it becomes leader again (or learns the commit index from the
        // leader), so persisting this would only add fsyncs.
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
