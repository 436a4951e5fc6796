//! The state machine: applies committed change sets to the replicated state
//! and makes snapshots of it.
//!
//! Invariants:
//! * entries are applied in log order, each exactly once (`last_applied`
//!   only moves forward, and a restart resumes from the snapshot's index);
//! * a snapshot file is complete or absent: it is written to a temporary
//!   name, fsync'd and renamed, and carries a checksum, so openraft never
//!   purges log entries that a snapshot does not really contain.

use std::collections::{HashMap, VecDeque};
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
    outcomes: parking_lot::Mutex<Outcomes>,
    pub(crate) growth: Growth,
    /// Entries applied since the snapshot being built, for the state
    /// rebuilt from it (`Data::rebuild_from_snapshots`) to catch up on.
    catch_up: parking_lot::Mutex<Option<CatchUp>>,
    /// Set once the member is stopping.
    pub(crate) closing: std::sync::atomic::AtomicBool,
    /// Counts rebuilt states swapped in, for holders of older copies.
    rebuilt: watch::Sender<u64>,
    /// Index of the last snapshot this member built.
    pub(crate) snapshotted: watch::Sender<u64>,
}

/// The log entries a rebuilt state still lacks: those applied after index
/// `from`, where the snapshot it is decoded from was taken.
struct CatchUp {
    from: u64,
    /// (index, payload, whether the live state refused it)
    entries: Vec<(u64, Vec<u8>, bool)>,
    bytes: usize,
}

/// A rebuild is given up when the entries applied while it is decoded pass
/// this: holding them costs more than the rebuild saves.
const CATCH_UP_BYTES: usize = 64 << 20;

/// What the log has grown by since the last snapshot, so that snapshots are
/// taken as the log grows, in proportion to the state: once the entries
/// applied since the last one would take about as many bytes as that
/// snapshot did. A snapshot then costs at most about as much as the writes
/// it follows, however large the state, and the log held in memory (and
/// replayed at start-up) stays within about one snapshot's size.
pub(crate) struct Growth {
    since: std::sync::atomic::AtomicU64,
    last_snapshot: std::sync::atomic::AtomicU64,
    /// Never more than this between snapshots (`snapshot_bytes`).
    cap: u64,
    pub(crate) due: tokio::sync::Notify,
}

/// A small state is not snapshotted for every few writes: below this the
/// log may always grow.
pub const MIN_SNAPSHOT_LOG_BYTES: u64 = 8 << 20;

/// Below this much log since the last snapshot, a clean stop does not
/// take one: replaying it is quick.
const SHUTDOWN_SNAPSHOT_LOG_BYTES: u64 = 1 << 20;

impl Growth {
    fn new(cap: u64, last_snapshot: u64) -> Self {
        Growth {
            since: 0.into(),
            last_snapshot: last_snapshot.into(),
            cap: cap.max(1),
            due: tokio::sync::Notify::new(),
        }
    }

    fn applied(&self, payload: usize) {
        use std::sync::atomic::Ordering::Relaxed;
        let size = payload as u64 + crate::store::ENTRY_OVERHEAD;
        let since = self.since.fetch_add(size, Relaxed) + size;
        let want = self
            .last_snapshot
            .load(Relaxed)
            .max(MIN_SNAPSHOT_LOG_BYTES)
            .min(self.cap);
        // Every entry past the mark asks again (the asks collapse into one
        // until it is taken): a request made while a snapshot was being
        // built is dropped, and the log must not then grow unchecked.
        if since >= want {
            self.due.notify_one();
        }
    }

    /// Whether the log since the last snapshot is long enough that a stop
    /// should snapshot first: replaying it would take longer than loading.
    pub(crate) fn worth_keeping(&self) -> bool {
        self.since.load(std::sync::atomic::Ordering::Relaxed) >= SHUTDOWN_SNAPSHOT_LOG_BYTES
    }

    /// Whether writes that pause should be followed by a snapshot: the log
    /// since the last one is worth keeping and at least a quarter of that
    /// snapshot's size, so that small bursts on a large state do not each
    /// cost a whole one.
    pub(crate) fn worth_an_idle_snapshot(&self) -> bool {
        use std::sync::atomic::Ordering::Relaxed;
        self.worth_keeping() && self.since.load(Relaxed) >= self.last_snapshot.load(Relaxed) / 4
    }

    /// A snapshot is being built from (or installed at) the state as it is
    /// now: the log counts again from here.
    fn restart(&self) {
        self.since.store(0, std::sync::atomic::Ordering::Relaxed);
    }

    fn snapshot_size(&self, bytes: usize) {
        self.last_snapshot
            .store(bytes as u64, std::sync::atomic::Ordering::Relaxed);
    }
}

/// Applied command ids remembered for writers that must learn an outcome
/// after a leader change. Part of the replicated state: snapshots carry the
/// window, so a member that catches up from a snapshot (or restarts from
/// one) answers exactly as a member that applied every entry. At the
/// highest write rates measured (about 30,000 commits a second) this covers
/// several seconds of commits; a writer whose entry fell out of it is told
/// the outcome is unknown, never that it was not applied.
pub const RECENT_OUTCOMES: usize = 200_000;

/// The fate of a command, as far as this member's applied log can tell.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Applied at this index.
    Applied(u64),
    /// In the log, but refused by the state (its precondition failed), so
    /// it changed nothing.
    Refused,
    /// Not among the applied commands this member remembers, and the window
    /// reaches back far enough that it would be if it had been applied.
    Absent,
    /// Not remembered, but commands that could be it have been forgotten.
    Forgotten,
}

/// The window of recently applied command ids, in apply order.
#[derive(Clone, Default)]
pub(crate) struct Outcomes {
    by_id: HashMap<u64, (u64, bool)>,
    /// (id, index, refused), in apply order.
    order: VecDeque<(u64, u64, bool)>,
    /// Every command applied at this log index or later is remembered.
    floor: u64,
}

impl Outcomes {
    fn record(&mut self, id: u64, index: u64, refused: bool) {
        self.by_id.insert(id, (index, refused));
        self.order.push_back((id, index, refused));
        while self.order.len() > RECENT_OUTCOMES {
            if let Some((old, at, _)) = self.order.pop_front() {
                // A repeated id (a retried routed transaction reuses none,
                // but be exact) keeps its newest index.
                if self.by_id.get(&old).is_some_and(|(i, _)| *i == at) {
                    self.by_id.remove(&old);
                }
                self.floor = at + 1;
            }
        }
    }

    /// What a snapshot keeps: the order and the floor (the map is rebuilt).
    fn window(&self) -> Outcomes {
        Outcomes {
            by_id: HashMap::new(),
            order: self.order.clone(),
            floor: self.floor,
        }
    }

    /// `after`: an index the command is known to lie beyond, if it exists.
    fn lookup(&self, id: u64, after: u64) -> Outcome {
        match self.by_id.get(&id) {
            Some((_, true)) => Outcome::Refused,
            Some((index, false)) => Outcome::Applied(*index),
            None if self.floor <= after.saturating_add(1) => Outcome::Absent,
            None => Outcome::Forgotten,
        }
    }

    /// A compact form for snapshots: the floor, then each id with the gap
    /// to its index from the previous one (indexes only grow), shifted left
    /// once to carry the refused flag.
    fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(16 + self.order.len() * 10);
        out.extend_from_slice(&self.floor.to_le_bytes());
        out.extend_from_slice(&(self.order.len() as u64).to_le_bytes());
        let mut prev = self.floor;
        for (id, index, refused) in &self.order {
            out.extend_from_slice(&id.to_le_bytes());
            put_varint(
                &mut out,
                (index.wrapping_sub(prev) << 1) | u64::from(*refused),
            );
            prev = *index;
        }
        out
    }

    fn decode(bytes: &[u8]) -> io::Result<Outcomes> {
        let bad = || io::Error::new(io::ErrorKind::InvalidData, "snapshot: bad outcome window");
        let mut r = bytes;
        let floor = take_u64(&mut r).ok_or_else(bad)?;
        let n = take_u64(&mut r).ok_or_else(bad)?;
        if n > RECENT_OUTCOMES as u64 || n.saturating_mul(9) > r.len() as u64 {
            return Err(bad());
        }
        let mut out = Outcomes {
            floor,
            ..Outcomes::default()
        };
        let mut prev = floor;
        for _ in 0..n {
            let id = take_u64(&mut r).ok_or_else(bad)?;
            let word = take_varint(&mut r).ok_or_else(bad)?;
            let refused = word & 1 == 1;
            let index = prev.checked_add(word >> 1).ok_or_else(bad)?;
            out.by_id.insert(id, (index, refused));
            out.order.push_back((id, index, refused));
            prev = index;
        }
        if !r.is_empty() {
            return Err(bad());
        }
        Ok(out)
    }
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn take_varint(r: &mut &[u8]) -> Option<u64> {
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        let (&b, rest) = r.split_first()?;
        *r = rest;
        v |= u64::from(b & 0x7f).checked_shl(shift)?;
        if b & 0x80 == 0 {
            return Some(v);
        }
    }
    None
}

fn take_u64(r: &mut &[u8]) -> Option<u64> {
    let (head, rest) = r.split_first_chunk::<8>()?;
    *r = rest;
    Some(u64::from_le_bytes(*head))
}

/// A snapshot's data as members exchange it: the outcome window, then the
/// encoded state. Data without the marker is an older snapshot holding
/// only the state; nothing is known of its outcomes.
const PAYLOAD_MAGIC: &[u8; 8] = b"CWSTATE2";

fn encode_payload(outcomes: &Outcomes, state: &[u8]) -> Vec<u8> {
    let window = outcomes.encode();
    let mut out = Vec::with_capacity(16 + window.len() + state.len());
    out.extend_from_slice(PAYLOAD_MAGIC);
    out.extend_from_slice(&(window.len() as u64).to_le_bytes());
    out.extend_from_slice(&window);
    out.extend_from_slice(state);
    out
}

/// Splits snapshot data into its outcome window and state bytes.
fn decode_payload<'a>(
    data: &'a [u8],
    last_applied: Option<&LogId>,
) -> io::Result<(Outcomes, &'a [u8])> {
    let Some(rest) = data.strip_prefix(PAYLOAD_MAGIC.as_slice()) else {
        let floor = last_applied.map_or(0, |l| l.index + 1);
        return Ok((
            Outcomes {
                floor,
                ..Outcomes::default()
            },
            data,
        ));
    };
    let mut r = rest;
    let bad = || io::Error::new(io::ErrorKind::InvalidData, "snapshot: bad data header");
    let len = usize::try_from(take_u64(&mut r).ok_or_else(bad)?).map_err(|_| bad())?;
    if len > r.len() {
        return Err(bad());
    }
    let (window, state) = r.split_at(len);
    Ok((Outcomes::decode(window)?, state))
}

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
    /// Changes each time a rebuilt state replaces the live one: whoever
    /// keeps a copy of the state (equal to it) should take the new one, so
    /// that the old one is freed.
    pub fn rebuilt_watch(&self) -> watch::Receiver<u64> {
        self.rebuilt.subscribe()
    }
    /// Stops recording entries for the rebuild from the snapshot at `index`
    /// (a later one may start), unless one from another snapshot replaced it.
    fn give_up_rebuild(&self, index: u64) {
        let mut catch_up = self.catch_up.lock();
        if catch_up.as_ref().is_some_and(|c| c.from == index) {
            *catch_up = None;
        }
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
    /// What this member's applied log says of command `id`, which, if it
    /// was ever appended, lies after log index `after`.
    pub fn outcome(&self, id: u64, after: u64) -> Outcome {
        self.outcomes.lock().lookup(id, after)
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
    /// `snapshot_bytes`: the most the log may grow by between snapshots.
    pub fn open(dir: PathBuf, snapshot_bytes: u64) -> io::Result<(Self, Arc<Shared<S>>)> {
        std::fs::create_dir_all(&dir)?;
        let (header, state, outcomes, size) = match read_snapshot(&dir.join(SNAPSHOT_FILE))? {
            Some((header, data)) => {
                let (state, outcomes) = decode_state(&data, header.last_applied.as_ref())?;
                (header, state, outcomes, data.len())
            }
            None => (Header::default(), S::default(), Outcomes::default(), 0),
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
            outcomes: parking_lot::Mutex::new(outcomes),
            growth: Growth::new(snapshot_bytes, size as u64),
            catch_up: parking_lot::Mutex::new(None),
            closing: false.into(),
            rebuilt: watch::Sender::new(0),
            snapshotted: watch::Sender::new(0),
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

/// Snapshot data (as a leader sends it, or as a snapshot file holds it) as
/// the state and outcome window it carries.
pub(crate) fn decode_state<S: Data>(
    data: &[u8],
    last_applied: Option<&LogId>,
) -> io::Result<(S, Outcomes)> {
    let (outcomes, state) = decode_payload(data, last_applied)?;
    let state = S::decode(state).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
    Ok((state, outcomes))
}

/// Whatever a snapshot file or a leader's snapshot data holds, decoded as
/// this member would (the fuzz target's way in): errors, never panics.
pub fn decode_untrusted<S: Data>(bytes: &[u8]) -> io::Result<S> {
    if let Ok((header, data)) = decode_snapshot(bytes) {
        return decode_state::<S>(&data, header.last_applied.as_ref()).map(|(s, _)| s);
    }
    decode_state::<S>(bytes, None).map(|(s, _)| s)
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
    outcomes: Outcomes,
    header: Header,
    dir: PathBuf,
    shared: Arc<Shared<S>>,
    /// Whether this snapshot's state is to be decoded and swapped in.
    rebuild: bool,
}

impl<S: Data> RaftSnapshotBuilder<TypeConfig> for Builder<S> {
    type SnapshotData = Vec<u8>;

    async fn build_snapshot(&mut self) -> Result<Snapshot, io::Error> {
        let state = self.state.clone();
        let outcomes = std::mem::take(&mut self.outcomes);
        let header = self.header.clone();
        let path = self.dir.join(SNAPSHOT_FILE);
        let index = self.header.last_applied.as_ref().map_or(0, |l| l.index);
        // Encoding a large graph takes a while; keep it off the async workers.
        let built = crate::blocking(move || -> io::Result<_> {
            let encoded = state.encode();
            let data = encode_payload(&outcomes, &encoded);
            write_file_atomically(&path, &encode_snapshot(&header, &data)?)?;
            Ok((data, encoded))
        })
        .await
        .and_then(|r| r);
        let (data, encoded) = match built {
            Ok(b) => b,
            Err(e) => {
                if self.rebuild {
                    self.shared.give_up_rebuild(index);
                }
                return Err(e);
            }
        };
        self.shared.growth.snapshot_size(data.len());
        tracing::info!(index, bytes = data.len(), "snapshot written");
        self.shared.snapshotted.send_replace(index);
        if self.rebuild {
            let shared = self.shared.clone();
            crate::detached_blocking(move || rebuild(&shared, index, encoded));
        }
        Ok(to_snapshot(self.header.clone(), data))
    }
}

/// Decodes the state from the snapshot just written at `index`, catches it
/// up with the entries applied since, and swaps it in for the live state,
/// which it equals in everything replicated. The live state was built one
/// write at a time; the decoded one is laid out afresh, so it takes less
/// memory and scans faster. Readers holding the old state keep it until
/// they finish.
fn rebuild<S: Data>(shared: &Shared<S>, index: u64, encoded: Vec<u8>) {
    let started = std::time::Instant::now();
    match caught_up(shared, index, encoded) {
        Ok(Some(caught_up)) => tracing::info!(
            index,
            caught_up,
            ms = started.elapsed().as_millis() as u64,
            "state rebuilt from its snapshot"
        ),
        // Superseded by a snapshot from the leader, or stopping.
        Ok(None) => {
            shared.give_up_rebuild(index);
            tracing::debug!(index, "rebuild given up");
        }
        Err(e) => {
            // The live state stays, and is all that ever served: members
            // never diverge over a rebuild.
            shared.give_up_rebuild(index);
            tracing::error!(index, error = %e, "could not rebuild the state from its snapshot");
        }
    }
}

/// The body of `rebuild`: how many entries the rebuilt state caught up on
/// before it went live, or `None` when it was given up.
fn caught_up<S: Data>(
    shared: &Shared<S>,
    index: u64,
    encoded: Vec<u8>,
) -> Result<Option<u64>, String> {
    let closing = || shared.closing.load(std::sync::atomic::Ordering::Relaxed);
    if closing() {
        return Ok(None);
    }
    let mut fresh = S::decode_rebuilt(&encoded)?;
    drop(encoded);
    let mut entries = 0;
    loop {
        // The entries applied meanwhile, a batch at a time without the lock,
        // then the last few with it, so the swap sees no entry in between.
        let mut catch_up = shared.catch_up.lock();
        let batch: Vec<(u64, Vec<u8>, bool)> = match catch_up.as_mut() {
            Some(c) if c.from == index => {
                c.bytes = 0;
                std::mem::take(&mut c.entries)
            }
            // A snapshot from the leader was installed since, or the
            // entries meanwhile outgrew `CATCH_UP_BYTES`.
            _ => return Ok(None),
        };
        if closing() {
            return Ok(None);
        }
        if batch.is_empty() {
            *catch_up = None;
            let mut live = shared.state.write();
            fresh.take_local(&live);
            let old = std::mem::replace(&mut *live, fresh);
            drop(live);
            drop(catch_up);
            drop(old);
            shared.rebuilt.send_modify(|n| *n += 1);
            return Ok(Some(entries));
        }
        drop(catch_up);
        for (i, payload, refused) in batch {
            let applied = fresh
                .apply_rebuilt(&payload)
                .map_err(|e| format!("entry {i}, which the live state applied: {e}"))?;
            if applied == refused {
                return Err(format!(
                    "entry {i}: the live state {} it, the rebuilt one did not",
                    if refused { "refused" } else { "applied" }
                ));
            }
            entries += 1;
        }
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
            let mut refused = false;
            match &entry.payload {
                EntryPayload::Normal(cmd) => {
                    // Held across the apply, so that a rebuild swapping in
                    // its state sees either both or neither.
                    let mut catch_up = self.shared.catch_up.lock();
                    // A change set that fails to apply means members would
                    // diverge; stopping is the only safe answer.
                    let applied = self.shared.state.write().apply(&cmd.payload).map_err(|e| {
                        io::Error::new(
                            io::ErrorKind::InvalidData,
                            format!("applying entry {index}: {e}"),
                        )
                    })?;
                    refused = !applied;
                    if let Some(c) = catch_up.as_mut() {
                        c.bytes += cmd.payload.len();
                        if c.bytes > CATCH_UP_BYTES {
                            *catch_up = None;
                        } else {
                            c.entries.push((index, cmd.payload.clone(), refused));
                        }
                    }
                    drop(catch_up);
                    self.shared.outcomes.lock().record(cmd.id, index, refused);
                    self.shared.growth.applied(cmd.payload.len());
                }
                EntryPayload::Membership(m) => {
                    self.header.membership = Membership::new(Some(entry.log_id), m.clone());
                }
                EntryPayload::Blank => {}
            }
            self.header.last_applied = Some(entry.log_id);
            self.shared.set_applied(self.header.last_applied.as_ref());
            if let Some(r) = responder {
                r.send(Applied { index, refused });
            }
        }
        Ok(())
    }

    async fn get_snapshot_builder(&mut self) -> Self::SnapshotBuilder {
        self.shared.growth.restart();
        // One rebuild at a time: a snapshot started while one is decoded
        // gets none, so that under steady writes each still finishes.
        let mut rebuild = false;
        if S::rebuild_from_snapshots() {
            let mut catch_up = self.shared.catch_up.lock();
            if catch_up.is_none() {
                *catch_up = Some(CatchUp {
                    from: self.header.last_applied.as_ref().map_or(0, |l| l.index),
                    entries: Vec::new(),
                    bytes: 0,
                });
                rebuild = true;
            }
        }
        Builder {
            state: self.shared.state(),
            outcomes: self.shared.outcomes.lock().window(),
            header: self.header.clone(),
            dir: self.dir.clone(),
            shared: self.shared.clone(),
            rebuild,
        }
    }

    async fn install_snapshot(&mut self, meta: &Meta, snapshot: Vec<u8>) -> Result<(), io::Error> {
        let (state, outcomes) = decode_state(&snapshot, meta.last_log_id.as_ref())?;
        let header = Header {
            last_applied: meta.last_log_id,
            membership: meta.last_membership.clone(),
        };
        write_file_atomically(
            &self.dir.join(SNAPSHOT_FILE),
            &encode_snapshot(&header, &snapshot)?,
        )?;
        // The window goes in before the applied index moves, so a writer
        // that sees the new index also sees the outcomes that came with it.
        *self.shared.outcomes.lock() = outcomes;
        *self.shared.catch_up.lock() = None;
        *self.shared.state.write() = state;
        self.shared.growth.restart();
        self.shared.growth.snapshot_size(snapshot.len());
        self.header = header;
        self.shared.set_applied(self.header.last_applied.as_ref());
        tracing::info!(index = ?self.header.last_applied.as_ref().map(|l| l.index), bytes = snapshot.len(), "installed a snapshot from the leader");
        Ok(())
    }

    async fn get_current_snapshot(&mut self) -> Result<Option<Snapshot>, io::Error> {
        Ok(read_snapshot(&self.dir.join(SNAPSHOT_FILE))?.map(|(h, d)| to_snapshot(h, d)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_outcome_window_survives_encoding_and_knows_its_floor() {
        let mut o = Outcomes::default();
        for i in 0..(RECENT_OUTCOMES as u64 + 10) {
            // Ids in no order, indexes with gaps (membership and blank
            // entries carry no command).
            o.record(i.wrapping_mul(0x9E37_79B9_7F4A_7C15), 3 + i * 2, i % 7 == 0);
        }
        let back = Outcomes::decode(&o.window().encode()).unwrap();
        assert_eq!(back.order, o.order);
        assert_eq!(back.floor, o.floor);
        assert_eq!(back.by_id, o.by_id);
        // The ten oldest were forgotten: the floor is past the tenth.
        assert_eq!(back.floor, 3 + 9 * 2 + 1);
        let newest = RECENT_OUTCOMES as u64 + 9;
        assert_eq!(
            back.lookup(newest.wrapping_mul(0x9E37_79B9_7F4A_7C15), 0),
            Outcome::Applied(3 + newest * 2)
        );
        let refused = (RECENT_OUTCOMES as u64 / 7) * 7;
        assert_eq!(
            back.lookup(refused.wrapping_mul(0x9E37_79B9_7F4A_7C15), 0),
            Outcome::Refused
        );
        // An unknown id that could only lie beyond the floor: not applied.
        assert_eq!(back.lookup(7, back.floor - 1), Outcome::Absent);
        // One that could lie where ids were forgotten: unknown.
        assert_eq!(back.lookup(7, 5), Outcome::Forgotten);
        assert_eq!(
            back.lookup(0, 0),
            Outcome::Forgotten,
            "the first was evicted"
        );
    }

    #[test]
    fn snapshot_data_carries_the_window_and_old_data_has_none() {
        let mut o = Outcomes::default();
        o.record(42, 7, false);
        let data = encode_payload(&o, b"state");
        let (back, state) = decode_payload(&data, None).unwrap();
        assert_eq!(state, b"state");
        assert_eq!(back.lookup(42, 0), Outcome::Applied(7));
        assert_eq!(back.lookup(43, 0), Outcome::Absent);
        // Data from before the window existed: nothing at or below the
        // snapshot's index can be said to be absent.
        let last = LogId {
            leader_id: openraft::vote::leader_id_adv::LeaderId {
                term: 2,
                node_id: 1,
            },
            index: 9,
        };
        let (legacy, state) = decode_payload(b"old state", Some(&last)).unwrap();
        assert_eq!(state, b"old state");
        assert_eq!(legacy.lookup(42, 3), Outcome::Forgotten);
        assert_eq!(legacy.lookup(42, 9), Outcome::Absent);
        // Damage is refused, never half-read.
        assert!(decode_payload(&data[..20], None).is_err());
        let mut bad = data.clone();
        bad[8] = 0xff;
        assert!(decode_payload(&bad, None).is_err());
    }
}
