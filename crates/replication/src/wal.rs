//! The write-ahead log: the Raft log on disk.
//!
//! Layout: a directory of segment files `wal-<first index>.log`, each a
//! sequence of records
//!
//! ```text
//! [len: u32 LE][crc32: u32 LE][index: u64 LE][payload: len bytes]
//! ```
//!
//! where the checksum covers the index and the payload, followed by zero
//! bytes up to the end of the file. Segments are created full of zeros
//! (prepared ahead by a background thread), because `fdatasync` of a write
//! into blocks that already exist needs no file-size update in the file
//! system's journal: on the session machine it took 0.09 ms where an append
//! took 0.15 ms. Invariants:
//! * indexes are contiguous across all segments, in file order;
//! * only the last segment is ever written to, and only right after its
//!   last record;
//! * every byte after a segment's last record is zero: cutting records off
//!   (a torn tail, a truncation) overwrites them with zeros;
//! * on open, the first record that is short or fails its checksum in the
//!   last segment is a torn tail from a crash: it and everything after it is
//!   cut off. The same damage, or any non-zero byte after the records, in an
//!   earlier segment is real corruption and opening fails, because
//!   acknowledged entries would be lost.

use std::collections::VecDeque;
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::thread::JoinHandle;

const HEADER: usize = 16;
/// Start a new segment beyond this size, so that purging after a snapshot can
/// delete whole files. Also the size each segment is zero-filled to.
pub const SEGMENT_BYTES: u64 = 16 << 20;
/// The next segment, zero-filled in the background under this name and
/// renamed when it is needed. Never holds records.
const PREPARED: &str = "next-segment.tmp";
/// Zeros are written in pieces of this size.
const ZERO_CHUNK: usize = 1 << 20;
/// One record may not exceed this; a larger length field means corruption.
pub const MAX_RECORD_BYTES: usize = 256 << 20;

struct Segment {
    first: u64,
    path: PathBuf,
    /// End of the last record; everything after it is zero.
    end: u64,
}

#[derive(Clone, Copy)]
pub struct WalOptions {
    pub segment_bytes: u64,
    /// Zero-fill segments ahead of use (see the module comment).
    pub preallocate: bool,
}

impl Default for WalOptions {
    fn default() -> Self {
        WalOptions {
            segment_bytes: SEGMENT_BYTES,
            preallocate: true,
        }
    }
}

pub struct Wal {
    dir: PathBuf,
    options: WalOptions,
    /// The background zero-fill of the next segment, if one is running or
    /// finished and not yet used.
    preparing: Option<JoinHandle<io::Result<()>>>,
    segments: Vec<Segment>,
    writer: BufWriter<File>,
    /// Bytes in the last segment, including buffered ones.
    tail_len: u64,
    /// Bytes of the last segment known to be on disk (after the last sync).
    synced_len: u64,
    /// `(index, segment first index, offset)` of every record still on disk,
    /// so that truncation knows where to cut.
    positions: VecDeque<(u64, u64, u64)>,
}

pub struct Recovered {
    pub wal: Wal,
    /// Every intact record, in index order.
    pub records: Vec<(u64, Vec<u8>)>,
    /// Bytes cut off a torn tail, for the log.
    pub torn_bytes: u64,
}

fn segment_path(dir: &Path, first: u64) -> PathBuf {
    dir.join(format!("wal-{first:020}.log"))
}

fn corrupt(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg)
}

impl Wal {
    pub fn open(dir: &Path) -> io::Result<Recovered> {
        Wal::open_with(dir, WalOptions::default())
    }

    pub fn open_with(dir: &Path, options: WalOptions) -> io::Result<Recovered> {
        fs::create_dir_all(dir)?;
        // A half-prepared segment from before a crash holds no records.
        match fs::remove_file(dir.join(PREPARED)) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
        let mut firsts: Vec<u64> = fs::read_dir(dir)?
            .filter_map(|e| e.ok())
            .filter_map(|e| {
                let name = e.file_name().into_string().ok()?;
                name.strip_prefix("wal-")?
                    .strip_suffix(".log")?
                    .parse()
                    .ok()
            })
            .collect();
        firsts.sort_unstable();
        let mut records = Vec::new();
        let mut positions = VecDeque::new();
        let mut torn_bytes = 0;
        let mut segments = Vec::with_capacity(firsts.len());
        let count = firsts.len();
        for (i, &first) in firsts.iter().enumerate() {
            let path = segment_path(dir, first);
            let mut bytes = Vec::new();
            File::open(&path)?.read_to_end(&mut bytes)?;
            let (found, off) = scan_records(&bytes);
            for (index, at, payload) in found {
                let expected = records
                    .last()
                    .map_or(first, |(last, _): &(u64, Vec<u8>)| last + 1);
                if index != expected || (at == 0 && index != first) {
                    return Err(corrupt(format!(
                        "{}: record index {index} where {expected} was expected",
                        path.display()
                    )));
                }
                positions.push_back((index, first, at as u64));
                records.push((index, payload.to_vec()));
            }
            let dirty = bytes[off..]
                .iter()
                .rposition(|&b| b != 0)
                .map_or(0, |p| p + 1);
            if dirty > 0 {
                if i + 1 < count {
                    return Err(corrupt(format!(
                        "{}: damaged record at offset {off} in a sealed segment",
                        path.display()
                    )));
                }
                torn_bytes = dirty as u64;
                let mut f = OpenOptions::new().write(true).open(&path)?;
                zero_range(&mut f, off as u64, (off + dirty) as u64)?;
                f.sync_all()?;
            }
            segments.push(Segment {
                first,
                path,
                end: off as u64,
            });
        }
        if segments.is_empty() {
            segments.push(Segment {
                first: 0,
                path: segment_path(dir, 0),
                end: 0,
            });
        }
        let (last, tail_len) = segments
            .last()
            .map(|s| (s.path.clone(), s.end))
            .unwrap_or_default();
        let mut file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&last)?;
        file.seek(SeekFrom::Start(tail_len))?;
        sync_dir(dir)?;
        let mut wal = Wal {
            dir: dir.to_owned(),
            options,
            preparing: None,
            segments,
            writer: BufWriter::with_capacity(1 << 20, file),
            tail_len,
            synced_len: tail_len,
            positions,
        };
        wal.prepare_next();
        Ok(Recovered {
            wal,
            records,
            torn_bytes,
        })
    }

    /// Index the next appended record must carry, if the log is not empty.
    pub fn next_index(&self) -> Option<u64> {
        self.positions.back().map(|(i, _, _)| i + 1)
    }

    /// Buffers a record; it is durable only after `sync`.
    pub fn append(&mut self, index: u64, payload: &[u8]) -> io::Result<()> {
        if payload.len() > MAX_RECORD_BYTES {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "log record too large",
            ));
        }
        if let Some(next) = self.next_index() {
            if index != next {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!("append of index {index}, expected {next}"),
                ));
            }
        }
        if self.positions.is_empty() || self.tail_len >= self.options.segment_bytes {
            self.start_segment(index)?;
        }
        let mut crc = crc32fast::Hasher::new();
        crc.update(&index.to_le_bytes());
        crc.update(payload);
        let mut header = [0u8; HEADER];
        header[0..4].copy_from_slice(&(payload.len() as u32).to_le_bytes());
        header[4..8].copy_from_slice(&crc.finalize().to_le_bytes());
        header[8..16].copy_from_slice(&index.to_le_bytes());
        self.writer.write_all(&header)?;
        self.writer.write_all(payload)?;
        let first = self.segments.last().map_or(index, |s| s.first);
        self.positions.push_back((index, first, self.tail_len));
        self.tail_len += (HEADER + payload.len()) as u64;
        Ok(())
    }

    /// Makes every appended record durable (one fdatasync for all of them).
    pub fn sync(&mut self, fsync: bool) -> io::Result<()> {
        self.writer.flush()?;
        if fsync {
            self.writer.get_ref().sync_data()?;
        }
        self.synced_len = self.tail_len;
        Ok(())
    }

    /// After a failed write or sync: forget everything since the last good
    /// sync, so that records whose writers were told "failed" cannot turn up
    /// in the log after a restart.
    pub fn discard_unsynced(&mut self) -> io::Result<()> {
        let Some(path) = self.segments.last().map(|s| s.path.clone()) else {
            return Ok(());
        };
        let file = OpenOptions::new().write(true).open(&path)?;
        let old = std::mem::replace(&mut self.writer, BufWriter::with_capacity(1 << 20, file));
        // into_parts hands back the unwritten buffer instead of flushing it.
        drop(old.into_parts());
        let synced = self.synced_len;
        self.cut_last(synced)?;
        let last_first = self.segments.last().map(|s| s.first);
        self.positions
            .retain(|(_, seg, off)| Some(*seg) != last_first || *off < synced);
        Ok(())
    }

    /// Zeroes the last segment from `at` to the end of what was ever
    /// written to it, syncs, and continues writing at `at`.
    fn cut_last(&mut self, at: u64) -> io::Result<()> {
        let dirty_end = self.tail_len.max(self.synced_len);
        let file = self.writer.get_mut();
        zero_range(file, at, dirty_end)?;
        file.sync_data()?;
        file.seek(SeekFrom::Start(at))?;
        self.tail_len = at;
        self.synced_len = at;
        Ok(())
    }

    fn start_segment(&mut self, first: u64) -> io::Result<()> {
        self.sync(true)?;
        if let Some(last) = self.segments.last_mut() {
            last.end = self.tail_len;
        }
        // An empty log keeps one empty segment file; rename it to the real
        // first index rather than leaving a stray file behind.
        if self.positions.is_empty() {
            for s in self.segments.drain(..) {
                let _ = fs::remove_file(&s.path);
            }
        }
        let path = segment_path(&self.dir, first);
        let prepared = match self.preparing.take().map(|h| h.join()) {
            Some(Ok(Ok(()))) => fs::rename(self.dir.join(PREPARED), &path).is_ok(),
            Some(Ok(Err(e))) => {
                tracing::warn!(error = %e, "could not zero-fill the next log segment");
                false
            }
            Some(Err(_)) | None => false,
        };
        let file = if prepared {
            OpenOptions::new().write(true).open(&path)?
        } else {
            OpenOptions::new()
                .create(true)
                .write(true)
                .truncate(true)
                .open(&path)?
        };
        sync_dir(&self.dir)?;
        self.writer = BufWriter::with_capacity(1 << 20, file);
        self.segments.push(Segment {
            first,
            path,
            end: 0,
        });
        self.tail_len = 0;
        self.synced_len = 0;
        self.prepare_next();
        Ok(())
    }

    /// Starts zero-filling the segment after the current one.
    fn prepare_next(&mut self) {
        if !self.options.preallocate || self.preparing.is_some() {
            return;
        }
        let path = self.dir.join(PREPARED);
        let len = self.options.segment_bytes;
        let spawned = std::thread::Builder::new()
            .name("causeway-wal-prep".into())
            .spawn(move || {
                let mut f = File::create(&path)?;
                zero_range(&mut f, 0, len)?;
                f.sync_all()
            });
        match spawned {
            Ok(h) => self.preparing = Some(h),
            Err(e) => tracing::warn!(error = %e, "could not start the log segment preparer"),
        }
    }

    /// Removes `index` and every later record (a follower's conflicting
    /// suffix). Durable on return.
    pub fn truncate_from(&mut self, index: u64) -> io::Result<()> {
        self.writer.flush()?;
        let Some(pos) = self.positions.iter().position(|(i, _, _)| *i >= index) else {
            return Ok(());
        };
        let (_, seg_first, offset) = self.positions[pos];
        self.positions.truncate(pos);
        let mut removed = false;
        while self.segments.last().is_some_and(|s| s.first > seg_first) {
            if let Some(s) = self.segments.pop() {
                fs::remove_file(&s.path)?;
                removed = true;
            }
        }
        if removed {
            // Make the deletions durable before cutting the kept segment, or
            // a power loss could bring a deleted segment back beside the cut
            // one and leave a gap that refuses to open.
            sync_dir(&self.dir)?;
            let kept = self.segments.last().map(|s| (s.path.clone(), s.end));
            let (path, end) = kept.unwrap_or_default();
            self.writer =
                BufWriter::with_capacity(1 << 20, OpenOptions::new().write(true).open(&path)?);
            self.tail_len = end;
            self.synced_len = end;
        }
        self.cut_last(offset)
    }

    /// Forgets records up to and including `index` (they are in a snapshot).
    /// Whole segments are deleted; a partly purged segment stays on disk, and
    /// its old records are skipped when the log is read back.
    pub fn purge_upto(&mut self, index: u64) -> io::Result<()> {
        while self.positions.front().is_some_and(|(i, _, _)| *i <= index) {
            self.positions.pop_front();
        }
        while self.segments.len() > 1 && self.segments[1].first <= index + 1 {
            let s = self.segments.remove(0);
            fs::remove_file(&s.path)?;
        }
        Ok(())
    }
}

/// A record found in a segment: its index, its offset, its payload.
pub type Found<'a> = (u64, usize, &'a [u8]);

/// The intact records at the start of a segment's bytes, and the offset
/// where they end (what follows is zeros, a torn tail or damage).
pub fn scan_records(bytes: &[u8]) -> (Vec<Found<'_>>, usize) {
    let mut out = Vec::new();
    let mut off = 0usize;
    while let Some((index, payload, used)) = bytes.get(off..).and_then(read_record) {
        out.push((index, off, payload));
        off += used;
    }
    (out, off)
}

/// `(index, payload, bytes used)` of the record at the start of `buf`, or
/// `None` if it is short or damaged.
fn read_record(buf: &[u8]) -> Option<(u64, &[u8], usize)> {
    let header = buf.get(..HEADER)?;
    let len = u32::from_le_bytes(header[0..4].try_into().ok()?) as usize;
    let crc = u32::from_le_bytes(header[4..8].try_into().ok()?);
    let index = u64::from_le_bytes(header[8..16].try_into().ok()?);
    if len > MAX_RECORD_BYTES {
        return None;
    }
    let payload = buf.get(HEADER..HEADER + len)?;
    let mut h = crc32fast::Hasher::new();
    h.update(&index.to_le_bytes());
    h.update(payload);
    (h.finalize() == crc).then_some((index, payload, HEADER + len))
}

/// Overwrites `[from, to)` with zeros, leaving the file's length alone
/// unless `to` lies beyond it.
fn zero_range(f: &mut File, from: u64, to: u64) -> io::Result<()> {
    let zeros = vec![0u8; ZERO_CHUNK.min(to.saturating_sub(from) as usize)];
    f.seek(SeekFrom::Start(from))?;
    let mut at = from;
    while at < to {
        let n = ((to - at) as usize).min(zeros.len());
        f.write_all(&zeros[..n])?;
        at += n as u64;
    }
    Ok(())
}

pub fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn payload(i: u64) -> Vec<u8> {
        format!("entry-{i}")
            .repeat((i % 7) as usize + 1)
            .into_bytes()
    }

    #[test]
    fn round_trip_and_torn_tail_is_cut() {
        let dir = tempfile::tempdir().unwrap();
        let end;
        {
            let mut wal = Wal::open(dir.path()).unwrap().wal;
            for i in 1..=100 {
                wal.append(i, &payload(i)).unwrap();
            }
            wal.sync(true).unwrap();
            end = wal.tail_len;
        }
        // Simulate a crash in the middle of writing record 101.
        let seg = segment_path(dir.path(), 1);
        let mut f = OpenOptions::new().write(true).open(&seg).unwrap();
        f.seek(SeekFrom::Start(end)).unwrap();
        f.write_all(&[9, 0, 0, 0, 1, 2, 3]).unwrap();
        drop(f);
        let r = Wal::open(dir.path()).unwrap();
        assert_eq!(r.records.len(), 100);
        assert_eq!(r.torn_bytes, 7);
        assert!(r.records.iter().all(|(i, p)| *p == payload(*i)));
        let mut wal = r.wal;
        wal.append(101, b"x").unwrap();
        wal.sync(true).unwrap();
        assert_eq!(Wal::open(dir.path()).unwrap().records.len(), 101);
    }

    #[test]
    fn flipped_bit_in_last_record_is_cut_but_not_earlier() {
        let dir = tempfile::tempdir().unwrap();
        let end;
        {
            let mut wal = Wal::open(dir.path()).unwrap().wal;
            for i in 1..=10 {
                wal.append(i, &payload(i)).unwrap();
            }
            wal.sync(true).unwrap();
            end = wal.tail_len as usize;
        }
        let seg = segment_path(dir.path(), 1);
        let mut bytes = fs::read(&seg).unwrap();
        bytes[end - 1] ^= 0xff;
        fs::write(&seg, &bytes).unwrap();
        assert_eq!(Wal::open(dir.path()).unwrap().records.len(), 9);
    }

    #[test]
    fn truncate_and_purge() {
        let dir = tempfile::tempdir().unwrap();
        let mut wal = Wal::open(dir.path()).unwrap().wal;
        for i in 5..=50 {
            wal.append(i, &payload(i)).unwrap();
        }
        wal.truncate_from(40).unwrap();
        assert_eq!(wal.next_index(), Some(40));
        wal.append(40, b"new").unwrap();
        wal.sync(true).unwrap();
        wal.purge_upto(20).unwrap();
        drop(wal);
        let r = Wal::open(dir.path()).unwrap();
        assert_eq!(r.records.first().unwrap().0, 5);
        assert_eq!(r.records.last().unwrap(), &(40, b"new".to_vec()));
        assert!(Wal::open(dir.path())
            .unwrap()
            .wal
            .append(42, b"gap")
            .is_err());
    }

    #[test]
    fn discarding_unsynced_records_leaves_only_synced_ones() {
        let dir = tempfile::tempdir().unwrap();
        let mut wal = Wal::open(dir.path()).unwrap().wal;
        for i in 1..=5 {
            wal.append(i, &payload(i)).unwrap();
        }
        wal.sync(true).unwrap();
        for i in 6..=8 {
            wal.append(i, &payload(i)).unwrap();
        }
        wal.discard_unsynced().unwrap();
        drop(wal);
        let r = Wal::open(dir.path()).unwrap();
        assert_eq!(r.records.len(), 5);
        assert_eq!(r.torn_bytes, 0);
    }

    fn small() -> WalOptions {
        WalOptions {
            segment_bytes: 4096,
            preallocate: true,
        }
    }

    #[test]
    fn preallocated_segments_roll_over_and_reopen() {
        let dir = tempfile::tempdir().unwrap();
        {
            let mut wal = Wal::open_with(dir.path(), small()).unwrap().wal;
            for i in 1..=300 {
                wal.append(i, &payload(i)).unwrap();
                if i % 10 == 0 {
                    wal.sync(true).unwrap();
                }
            }
            wal.sync(true).unwrap();
            assert!(wal.segments.len() > 3);
        }
        // Every segment was zero-filled ahead of use (sealed ones may be
        // longer: the record that crosses the size limit extends them).
        let lens: Vec<u64> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap())
            .filter(|e| e.file_name().to_string_lossy().starts_with("wal-"))
            .map(|e| e.metadata().unwrap().len())
            .collect();
        assert!(lens.iter().all(|&l| l >= 4096), "{lens:?}");
        let r = Wal::open_with(dir.path(), small()).unwrap();
        assert_eq!(r.torn_bytes, 0);
        assert_eq!(r.records.len(), 300);
        assert!(r.records.iter().all(|(i, p)| *p == payload(*i)));
        let mut wal = r.wal;
        wal.truncate_from(250).unwrap();
        wal.append(250, b"again").unwrap();
        wal.sync(true).unwrap();
        drop(wal);
        let r = Wal::open_with(dir.path(), small()).unwrap();
        assert_eq!(r.records.len(), 250);
        assert_eq!(r.records.last().unwrap(), &(250, b"again".to_vec()));
    }

    #[test]
    fn torn_tail_inside_a_zero_filled_segment_is_zeroed() {
        let dir = tempfile::tempdir().unwrap();
        let seg;
        let end;
        {
            let mut wal = Wal::open_with(dir.path(), small()).unwrap().wal;
            wal.append(1, b"one").unwrap();
            wal.sync(true).unwrap();
            // The second segment comes from the preparer, already 4 KiB.
            for i in 2..=60 {
                wal.append(i, &payload(i)).unwrap();
            }
            wal.sync(true).unwrap();
            seg = wal.segments.last().unwrap().path.clone();
            end = wal.tail_len;
        }
        // Garbage where the next record would have gone, then a gap of
        // zeros, then more garbage: a write that reached the disk in pieces.
        let mut f = OpenOptions::new().write(true).open(&seg).unwrap();
        f.seek(SeekFrom::Start(end)).unwrap();
        f.write_all(&[7; 5]).unwrap();
        f.seek(SeekFrom::Start(end + 40)).unwrap();
        f.write_all(&[9; 3]).unwrap();
        drop(f);
        let r = Wal::open_with(dir.path(), small()).unwrap();
        assert_eq!(r.records.len(), 60);
        assert_eq!(r.torn_bytes, 43);
        drop(r);
        let r = Wal::open_with(dir.path(), small()).unwrap();
        assert_eq!(r.torn_bytes, 0, "the cut bytes were zeroed on disk");
        assert_eq!(r.records.len(), 60);
    }

    #[test]
    fn garbage_after_records_in_a_sealed_segment_is_corruption() {
        let dir = tempfile::tempdir().unwrap();
        let first_seg;
        {
            let mut wal = Wal::open_with(dir.path(), small()).unwrap().wal;
            for i in 1..=200 {
                wal.append(i, &payload(i)).unwrap();
            }
            wal.sync(true).unwrap();
            first_seg = wal.segments[0].path.clone();
        }
        let mut f = OpenOptions::new().write(true).open(&first_seg).unwrap();
        f.seek(SeekFrom::End(-1)).unwrap();
        f.write_all(&[1]).unwrap();
        drop(f);
        let err = Wal::open_with(dir.path(), small()).err().unwrap();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
    }
}
