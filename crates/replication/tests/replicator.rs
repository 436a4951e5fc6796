//! The one-member group on real files: writes are applied in order, survive
//! restarts, and survive snapshots plus log purging.

use std::time::Duration;

use causeway_replication::{Data, Replicator, ReplicatorConfig};

/// A toy state: the sum and the count of applied payloads, and a checksum
/// of their order, so that reordering or double application shows.
#[derive(Clone, Default, Debug, PartialEq)]
struct Sum {
    count: u64,
    total: u64,
    order: u64,
}

impl Data for Sum {
    fn apply(&mut self, payload: &[u8]) -> Result<bool, String> {
        // The first eight bytes carry the value; a payload of exactly 16
        // bytes carries the count it expects to find (a precondition), and
        // any other rest is padding.
        let word = |i: usize| {
            payload
                .get(i..i + 8)
                .and_then(|b| b.try_into().ok())
                .map(u64::from_le_bytes)
                .ok_or_else(|| "bad payload".to_owned())
        };
        let v = word(0)?;
        if payload.len() == 16 && word(8)? != self.count {
            return Ok(false);
        }
        self.count += 1;
        self.total += v;
        self.order = self.order.wrapping_mul(31).wrapping_add(v);
        Ok(true)
    }
    fn encode(&self) -> Vec<u8> {
        [self.count, self.total, self.order]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect()
    }
    fn decode(bytes: &[u8]) -> Result<Self, String> {
        let v: Vec<u64> = bytes
            .chunks(8)
            .map(|c| u64::from_le_bytes(c.try_into().unwrap()))
            .collect();
        Ok(Sum {
            count: v[0],
            total: v[1],
            order: v[2],
        })
    }
}

fn config(dir: &std::path::Path, snapshot_every: u64) -> ReplicatorConfig {
    ReplicatorConfig {
        dir: dir.to_owned(),
        node_id: 1,
        address: "127.0.0.1:0".into(),
        fsync: true,
        snapshot_every,
        snapshot_bytes: 64 << 20,
        snapshot_keep: 100,
        timing: Default::default(),
        cluster: None,
    }
}

async fn write_many(r: &Replicator<Sum>, from: u64, n: u64) -> u64 {
    let mut pending = Vec::new();
    for v in from..from + n {
        pending.push(
            r.submit(r.write_leader().unwrap(), v.to_le_bytes().to_vec())
                .await
                .unwrap(),
        );
    }
    let mut last = 0;
    for p in pending {
        let index = p.await.unwrap();
        assert!(index > last, "indexes must grow in submission order");
        last = index;
    }
    last
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_survive_restart_and_snapshots() {
    let dir = tempfile::tempdir().unwrap();
    let expected = {
        let r = Replicator::<Sum>::open(config(dir.path(), 50))
            .await
            .unwrap();
        let leader = r.write_leader().unwrap();
        let first = r
            .submit_as(leader, 0xC0FFEE, 0u64.to_le_bytes().to_vec())
            .await
            .unwrap()
            .await
            .unwrap();
        let last = write_many(&r, 1, 300).await;
        assert_eq!(r.applied_index(), last);
        let state = r.state();
        assert_eq!(state.count, 301);
        assert_eq!(state.total, 300 * 301 / 2);
        // Snapshots are built in the background once 50 entries pass.
        for _ in 0..100 {
            if r.snapshot_index().is_some_and(|i| i >= 250) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert!(
            r.snapshot_index().is_some_and(|i| i >= 250),
            "snapshot at {:?}",
            r.snapshot_index()
        );
        r.shutdown().await;
        (state, first, leader)
    };
    let (expected, first, leader) = expected;
    // Snapshots were taken and the log purged behind them.
    assert!(dir.path().join("snapshot/snapshot.bin").exists());
    let r = Replicator::<Sum>::open(config(dir.path(), 50))
        .await
        .unwrap();
    assert_eq!(r.state(), expected);
    // The applied command ids came back with the snapshot: a writer asking
    // after a restart learns the truth, not "not applied".
    assert_eq!(
        r.outcome(0xC0FFEE, leader.term, leader.last_log)
            .await
            .unwrap(),
        first
    );
    write_many(&r, 301, 10).await;
    assert_eq!(r.state().count, 311);
    r.wait_applied(r.applied_index(), Duration::from_secs(1))
        .await
        .unwrap();
    assert!(r
        .wait_applied(r.applied_index() + 100, Duration::from_millis(50))
        .await
        .is_err());
    r.shutdown().await;
}

/// A payload whose precondition fails is refused on apply, identically on
/// every member: its writer is told it was not applied, and so is anyone
/// who asks about it later (after a restart too).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_payload_is_reported_not_applied() {
    let dir = tempfile::tempdir().unwrap();
    let r = Replicator::<Sum>::open(config(dir.path(), 1_000_000))
        .await
        .unwrap();
    write_many(&r, 1, 3).await;
    let leader = r.write_leader().unwrap();
    let payload = |v: u64, expect: u64| [v.to_le_bytes(), expect.to_le_bytes()].concat();
    let ok = r.submit(leader, payload(10, 3)).await.unwrap().await;
    assert!(ok.is_ok(), "{ok:?}");
    let leader = r.write_leader().unwrap();
    let refused = r.submit_as(leader, 77, payload(20, 3)).await.unwrap().await;
    let err = refused.expect_err("the count was 4, not 3");
    assert_eq!(err.code, causeway_value::Code::NotALeader, "{err:?}");
    assert_eq!(r.state().total, 6 + 10);
    let again = r.outcome(77, leader.term, leader.last_log).await;
    assert_eq!(again.unwrap_err().code, causeway_value::Code::NotALeader);
    r.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_entries_trigger_snapshots_by_size() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path(), 1_000_000);
    cfg.snapshot_bytes = 64 * 1024;
    let r = Replicator::<Sum>::open(cfg).await.unwrap();
    for v in 0..20u64 {
        let mut payload = v.to_le_bytes().to_vec();
        payload.resize(16 * 1024, 0);
        r.submit(r.write_leader().unwrap(), payload)
            .await
            .unwrap()
            .await
            .unwrap();
    }
    for _ in 0..100 {
        if r.snapshot_index().is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        r.snapshot_index().is_some(),
        "320 KiB of entries took no snapshot"
    );
    r.shutdown().await;
}

/// Three members in this process, over real loopback TCP, each with the
/// switch that cuts it off from chosen peers.
async fn three_members(
    dirs: &[tempfile::TempDir],
) -> (
    Vec<Replicator<Sum>>,
    Vec<std::sync::Arc<causeway_replication::network::Faults>>,
) {
    three_members_snapshotting(dirs, 1_000_000).await
}

async fn three_members_snapshotting(
    dirs: &[tempfile::TempDir],
    snapshot_every: u64,
) -> (
    Vec<Replicator<Sum>>,
    Vec<std::sync::Arc<causeway_replication::network::Faults>>,
) {
    use causeway_replication::{ClusterConfig, Member};
    let ports: Vec<u16> = (0..3)
        .map(|_| {
            std::net::TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port()
        })
        .collect();
    let addrs: Vec<String> = ports.iter().map(|p| format!("127.0.0.1:{p}")).collect();
    let mut members = Vec::new();
    let mut switches = Vec::new();
    for (dir, addr) in dirs.iter().zip(&addrs) {
        let all = addrs.clone();
        let faults = std::sync::Arc::new(causeway_replication::network::Faults::default());
        switches.push(faults.clone());
        let mut cfg = config(dir.path(), snapshot_every);
        cfg.cluster = Some(ClusterConfig {
            replica: false,
            listen: addr.clone(),
            me: Member {
                cluster: addr.clone(),
                bolt: addr.clone(),
                ..Member::default()
            },
            discover: std::sync::Arc::new(move || all.clone()),
            min_initial_cores: 1,
            secret: b"test-secret".to_vec(),
            faults,
            net: causeway_net::tcp(),
        });
        members.push(Replicator::<Sum>::open(cfg).await.unwrap());
    }
    (members, switches)
}

async fn writable(members: &[Replicator<Sum>], not: Option<usize>) -> usize {
    for _ in 0..400 {
        for (i, m) in members.iter().enumerate() {
            if Some(i) != not && m.write_leader().is_ok() {
                return i;
            }
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("no writable leader");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_set_built_under_one_leader_never_commits_under_another() {
    let dirs: Vec<_> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
    let (members, _) = three_members(&dirs).await;
    let first = writable(&members, None).await;
    let old = members[first].write_leader().unwrap();
    let index = members[first]
        .submit(old, 1u64.to_le_bytes().to_vec())
        .await
        .unwrap()
        .await
        .unwrap();
    members[first].transfer_leadership().await;
    let second = writable(&members, Some(first)).await;
    let new = members[second].write_leader().unwrap();
    assert!(new.term > old.term);
    // Built under the old leadership: refused by the new leader before it
    // reaches the log, and by the old one, which no longer leads.
    for m in [&members[second], &members[first]] {
        let outcome = match m.submit(old, 1000u64.to_le_bytes().to_vec()).await {
            Ok(pending) => pending.await,
            Err(e) => Err(e),
        };
        let err = outcome.expect_err("a stale leadership must not commit");
        assert_eq!(err.code, causeway_value::Code::NotALeader, "{err:?}");
    }
    let last = members[second]
        .submit(new, 2u64.to_le_bytes().to_vec())
        .await
        .unwrap()
        .await
        .unwrap();
    assert!(last > index);
    for m in &members {
        m.wait_applied(last, Duration::from_secs(10)).await.unwrap();
        let s = m.state();
        assert_eq!(
            (s.count, s.total),
            (2, 3),
            "the fenced entries never applied"
        );
    }
    for m in &members {
        m.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_writer_cut_off_with_its_leader_learns_its_entry_was_not_applied() {
    let dirs: Vec<_> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
    let (members, switches) = three_members(&dirs).await;
    let old = writable(&members, None).await;
    let ids: Vec<u64> = members.iter().map(|m| m.status().node_id).collect();
    let leadership = members[old].write_leader().unwrap();
    // Cut the leader off, then propose at once: it may still append the
    // entry (its lease has not run out), but can never commit it.
    for (i, f) in switches.iter().enumerate() {
        let blocked = if i == old {
            ids.iter().copied().filter(|&id| id != ids[old]).collect()
        } else {
            [ids[old]].into_iter().collect()
        };
        f.set_blocked(blocked);
    }
    let pending = members[old]
        .submit(leadership, 1000u64.to_le_bytes().to_vec())
        .await;
    let new = writable(&members, Some(old)).await;
    let index = members[new]
        .submit(
            members[new].write_leader().unwrap(),
            1u64.to_le_bytes().to_vec(),
        )
        .await
        .unwrap()
        .await
        .unwrap();
    for f in &switches {
        f.set_blocked(Default::default());
    }
    // Once the old leader has applied the new leader's entries, the fate
    // of its own entry is known: it was not applied, and saying so with a
    // retryable code is safe.
    let outcome = match pending {
        Ok(p) => tokio::time::timeout(Duration::from_secs(20), p)
            .await
            .expect("the outcome must be learned, not hang"),
        Err(e) => Err(e),
    };
    let err = outcome.expect_err("an entry of a deposed leader cannot commit");
    assert_eq!(err.code, causeway_value::Code::NotALeader, "{err:?}");
    for m in &members {
        m.wait_applied(index, Duration::from_secs(10))
            .await
            .unwrap();
        let s = m.state();
        assert_eq!((s.count, s.total), (1, 1));
    }
    for m in &members {
        m.shutdown().await;
    }
}

/// The duplicate-write bug: a leader whose followers took its entry but
/// whose answers never came back is cut off; the next leader commits the
/// entry, writes on until the log behind it is replaced by snapshots, and
/// the old leader catches up by installing one. Its writer must learn that
/// the entry was applied, never "not applied, retry" (which made drivers
/// apply it twice).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leader_that_catches_up_from_a_snapshot_reports_its_committed_entry() {
    let dirs: Vec<_> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
    let (members, switches) = three_members_snapshotting(&dirs, 20).await;
    let old = writable(&members, None).await;
    let ids: Vec<u64> = members.iter().map(|m| m.status().node_id).collect();
    let leadership = members[old].write_leader().unwrap();
    for (i, f) in switches.iter().enumerate() {
        if i != old {
            f.set_mute([ids[old]].into_iter().collect());
        }
    }
    let before = members[old].status().last_log;
    let pending = members[old]
        .submit(leadership, 1000u64.to_le_bytes().to_vec())
        .await
        .unwrap();
    let entry = before + 1;
    for _ in 0..400 {
        if members.iter().all(|m| m.status().last_log >= entry) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    for (i, f) in switches.iter().enumerate() {
        f.set_mute(Default::default());
        let blocked = if i == old {
            ids.iter().copied().filter(|&id| id != ids[old]).collect()
        } else {
            [ids[old]].into_iter().collect()
        };
        f.set_blocked(blocked);
    }
    let new = writable(&members, Some(old)).await;
    // Write until the log the old leader would need is gone. Purging waits
    // while a replication stream has entries in flight, which for an
    // unreachable member clears only when an attempt fails (every few
    // hundred milliseconds of back-off).
    let mut last = 0;
    let mut written = 0;
    let until = std::time::Instant::now() + Duration::from_secs(20);
    while written < 400
        || (members[new].purged_index().is_none_or(|p| p <= entry)
            && std::time::Instant::now() < until)
    {
        last = write_many(&members[new], written + 1, 100).await;
        written += 100;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        members[new].purged_index().is_some_and(|p| p > entry),
        "the log the old leader lacks must be gone"
    );
    for f in &switches {
        f.set_blocked(Default::default());
    }
    let outcome = tokio::time::timeout(Duration::from_secs(30), pending)
        .await
        .expect("the outcome must be learned, not hang");
    let index =
        outcome.expect("the entry was committed by the next leader; the writer must be told so");
    assert!(
        index >= entry && index < last,
        "{index} in [{entry}, {last})"
    );
    for m in &members {
        m.wait_applied(last, Duration::from_secs(20)).await.unwrap();
        let s = m.state();
        assert_eq!(
            (s.count, s.total),
            (written + 1, 1000 + (1..=written).sum::<u64>())
        );
    }
    for m in &members {
        m.shutdown().await;
    }
}

/// A state that keeps three copies of every payload, so that its snapshot
/// outgrows the log that built it.
#[derive(Clone, Default, Debug, PartialEq)]
struct Blob(Vec<u8>);

impl Data for Blob {
    fn apply(&mut self, payload: &[u8]) -> Result<bool, String> {
        for _ in 0..3 {
            self.0.extend_from_slice(payload);
        }
        Ok(true)
    }
    fn encode(&self) -> Vec<u8> {
        self.0.clone()
    }
    fn decode(bytes: &[u8]) -> Result<Self, String> {
        Ok(Blob(bytes.to_vec()))
    }
}

/// Snapshots come as the log grows by the last snapshot's size (never
/// below `MIN_SNAPSHOT_LOG_BYTES`), not every so many entries: their cost
/// follows what was written, whatever the state's size.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snapshots_follow_log_growth_in_proportion_to_the_state() {
    const MIB: usize = 1 << 20;
    let floor = causeway_replication::sm::MIN_SNAPSHOT_LOG_BYTES as usize;
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path(), 1_000_000);
    cfg.snapshot_bytes = 1 << 30;
    let r = Replicator::<Blob>::open(cfg).await.unwrap();
    let write = |bytes: usize| {
        let r = &r;
        async move {
            for _ in 0..bytes / (64 * 1024) {
                r.submit(r.write_leader().unwrap(), vec![7; 64 * 1024])
                    .await
                    .unwrap()
                    .await
                    .unwrap();
            }
        }
    };
    let snapshot_after = |before: Option<u64>| {
        let r = &r;
        async move {
            for _ in 0..100 {
                if r.snapshot_index() != before {
                    return r.snapshot_index();
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            None
        }
    };
    write(floor - 2 * MIB).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(r.snapshot_index(), None, "a snapshot below the floor");
    write(3 * MIB).await;
    let first = snapshot_after(None).await;
    assert!(first.is_some(), "no snapshot past the floor");
    // The state is now three times the log that built it: the next
    // snapshot waits until the log has grown by as much.
    write(2 * floor).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        r.snapshot_index(),
        first,
        "a snapshot before the log grew by the state's size"
    );
    write(2 * floor).await;
    assert!(
        snapshot_after(first).await.is_some(),
        "no snapshot once it had"
    );
    r.shutdown().await;
}

/// A clean stop with more than a little log behind the last snapshot
/// leaves a snapshot of everything it applied; one with almost none does
/// not pay for one. Either way the state comes back whole.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clean_stop_snapshots_a_long_log() {
    let dir = tempfile::tempdir().unwrap();
    let open = || Replicator::<Blob>::open(config(dir.path(), 1_000_000));
    let r = open().await.unwrap();
    for _ in 0..3 {
        r.submit(r.write_leader().unwrap(), vec![1; 1024])
            .await
            .unwrap()
            .await
            .unwrap();
    }
    let state = r.state();
    r.shutdown().await;
    drop(r);
    assert!(!dir.path().join("snapshot/snapshot.bin").exists());
    let r = open().await.unwrap();
    assert_eq!(r.state(), state);
    for _ in 0..40 {
        r.submit(r.write_leader().unwrap(), vec![2; 64 * 1024])
            .await
            .unwrap()
            .await
            .unwrap();
    }
    let (state, applied) = (r.state(), r.applied_index());
    assert_eq!(r.snapshot_index(), None);
    r.shutdown().await;
    assert_eq!(r.snapshot_index(), Some(applied));
    drop(r);
    let r = open().await.unwrap();
    assert_eq!(r.state(), state);
    r.shutdown().await;
}

/// `Sum`, swapped for a copy decoded from each snapshot: `rebuilt` is
/// member-local (not encoded), set only on such a copy.
#[derive(Clone, Default, Debug)]
struct Rebuilt {
    sum: Sum,
    rebuilt: bool,
}

impl Data for Rebuilt {
    fn apply(&mut self, payload: &[u8]) -> Result<bool, String> {
        self.sum.apply(payload)
    }
    fn encode(&self) -> Vec<u8> {
        self.sum.encode()
    }
    fn decode(bytes: &[u8]) -> Result<Self, String> {
        Ok(Rebuilt {
            sum: Sum::decode(bytes)?,
            rebuilt: false,
        })
    }
    fn rebuild_from_snapshots() -> bool {
        true
    }
    fn decode_rebuilt(bytes: &[u8]) -> Result<Self, String> {
        // Slow, as a large state is: entries arrive while it decodes.
        std::thread::sleep(Duration::from_millis(20));
        Ok(Rebuilt {
            sum: Sum::decode(bytes)?,
            rebuilt: true,
        })
    }
}

/// A state decoded from its own snapshot replaces the live one once it has
/// caught up with the entries applied while it was decoded: with writes
/// streaming in throughout, every entry is in it exactly once, in order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_state_rebuilt_from_its_snapshot_misses_no_entry() {
    let dir = tempfile::tempdir().unwrap();
    let r = Replicator::<Rebuilt>::open(config(dir.path(), 40))
        .await
        .unwrap();
    let mut expected = Sum::default();
    let mut pending = Vec::new();
    for v in 1..=3000u64 {
        let payload = v.to_le_bytes().to_vec();
        expected.apply(&payload).unwrap();
        pending.push(r.submit(r.write_leader().unwrap(), payload).await.unwrap());
        // Some in flight while snapshots are built and decoded.
        if pending.len() == 16 {
            for p in pending.drain(..) {
                p.await.unwrap();
            }
        }
    }
    for p in pending {
        p.await.unwrap();
    }
    let mut state = r.state();
    for _ in 0..100 {
        if state.rebuilt {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
        state = r.state();
    }
    assert!(state.rebuilt, "no rebuilt state was swapped in");
    assert_eq!(state.sum, expected);
    // And later writes land on the rebuilt state.
    let p = r
        .submit(r.write_leader().unwrap(), 7u64.to_le_bytes().to_vec())
        .await
        .unwrap();
    p.await.unwrap();
    expected.apply(&7u64.to_le_bytes()).unwrap();
    assert_eq!(r.state().sum, expected);
    r.shutdown().await;
    let r = Replicator::<Rebuilt>::open(config(dir.path(), 40))
        .await
        .unwrap();
    assert_eq!(r.state().sum, expected);
    r.shutdown().await;
}
