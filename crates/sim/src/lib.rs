//! Deterministic simulation of a three-member Causeway cluster.
//!
//! Everything a cluster member runs is the shipped code: the server's
//! start-up, Bolt listener and sessions, server-side routing, openraft, the
//! write-ahead log and state machine on real files, and the cluster
//! transport. Only the network and the clock are simulated (turmoil: every
//! member on its own single-threaded runtime in simulated time, every byte
//! between them through a simulated network), so that one seed decides
//! everything: message timing, faults, node ids, election timeouts. A
//! failing seed replays exactly.
//!
//! Each seed runs Bolt clients (managed transactions with retries, as the
//! official drivers do; through a member that routes to the leader, with
//! and without a database name) doing list appends with reads, counter
//! increments and read-your-writes with bookmarks, while a seeded schedule
//! of faults plays: members crashed and restarted (with a torn write at the
//! log's tail), members cut off, one-way cuts (aimed at the leader too),
//! links held (what was sent meanwhile is delivered when a cut heals, as TCP
//! retransmits), slow links. Packet loss and clock jumps are the fault
//! suite's (`tests/faults`). Then the faults heal and the history is checked against
//! every member's final state (see [`check`]).

pub mod check;
mod client;

use std::cell::RefCell;
use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::time::Duration;

use causeway_net::{BoxFuture, BoxStream, Listener, Network};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

pub use check::Anomaly;
pub use client::{Op, Outcome};

pub const MEMBERS: usize = 3;

/// turmoil's network, behind the interface the server code dials through.
/// Cuts are made here rather than in turmoil, whose cut links lose bytes
/// for good: a member does not read what a cut-off peer sent until the cut
/// heals, as TCP holds and then retransmits it (see [`cuts`]).
pub struct SimNet;

impl Network for SimNet {
    fn connect<'a>(&'a self, addr: &'a str) -> BoxFuture<'a, io::Result<BoxStream>> {
        Box::pin(async move {
            let s = turmoil::net::TcpStream::connect(addr).await?;
            Ok(Box::new(cuts::Stream::new(s)?) as BoxStream)
        })
    }

    fn bind<'a>(&'a self, addr: &'a str) -> BoxFuture<'a, io::Result<Box<dyn Listener>>> {
        Box::pin(async move {
            let l = turmoil::net::TcpListener::bind(addr).await?;
            Ok(Box::new(SimListener(l)) as Box<dyn Listener>)
        })
    }
}

struct SimListener(turmoil::net::TcpListener);

impl Listener for SimListener {
    fn accept(&self) -> BoxFuture<'_, io::Result<(BoxStream, SocketAddr)>> {
        Box::pin(async move {
            let (s, peer) = self.0.accept().await?;
            Ok((Box::new(cuts::Stream::new(s)?) as BoxStream, peer))
        })
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.0.local_addr()
    }
}

/// One-way cuts between members, kept per simulation thread.
pub mod cuts {
    use std::cell::RefCell;
    use std::collections::HashSet;
    use std::io;
    use std::net::IpAddr;
    use std::pin::Pin;
    use std::task::{Context, Poll, Waker};

    use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

    thread_local! {
        /// (from, to): what `from` sends is not read at `to`.
        static CUT: RefCell<HashSet<(IpAddr, IpAddr)>> = RefCell::new(HashSet::new());
        static WAITING: RefCell<Vec<Waker>> = const { RefCell::new(Vec::new()) };
        /// (a, b): every connection between them breaks, as if reset, and
        /// new ones fail, until healed.
        static RESET: RefCell<HashSet<(IpAddr, IpAddr)>> = RefCell::new(HashSet::new());
    }

    pub fn reset(a: IpAddr, b: IpAddr) {
        RESET.with(|r| r.borrow_mut().insert((a, b)));
        for w in WAITING.with(|w| std::mem::take(&mut *w.borrow_mut())) {
            w.wake();
        }
    }

    pub fn unreset(a: IpAddr, b: IpAddr) {
        RESET.with(|r| r.borrow_mut().remove(&(a, b)));
    }

    fn is_reset(a: IpAddr, b: IpAddr) -> bool {
        RESET.with(|r| {
            let r = r.borrow();
            r.contains(&(a, b)) || r.contains(&(b, a))
        })
    }

    pub fn cut(from: IpAddr, to: IpAddr) {
        CUT.with(|c| c.borrow_mut().insert((from, to)));
    }

    pub fn heal(from: IpAddr, to: IpAddr) {
        CUT.with(|c| c.borrow_mut().remove(&(from, to)));
        for w in WAITING.with(|w| std::mem::take(&mut *w.borrow_mut())) {
            w.wake();
        }
    }

    pub fn clear() {
        CUT.with(|c| c.borrow_mut().clear());
        RESET.with(|r| r.borrow_mut().clear());
        WAITING.with(|w| w.borrow_mut().clear());
    }

    fn is_cut(from: IpAddr, to: IpAddr) -> bool {
        CUT.with(|c| c.borrow().contains(&(from, to)))
    }

    pub struct Stream {
        inner: turmoil::net::TcpStream,
        from: IpAddr,
        to: IpAddr,
        /// Reset once: a reset connection stays dead after the heal.
        broken: bool,
    }

    impl Stream {
        pub fn new(inner: turmoil::net::TcpStream) -> io::Result<Stream> {
            let from = inner.peer_addr()?.ip();
            let to = inner.local_addr()?.ip();
            Ok(Stream {
                inner,
                from,
                to,
                broken: false,
            })
        }

        fn check_reset(&mut self) -> io::Result<()> {
            self.broken = self.broken || is_reset(self.from, self.to);
            match self.broken {
                true => Err(io::ErrorKind::ConnectionReset.into()),
                false => Ok(()),
            }
        }
    }

    impl AsyncRead for Stream {
        fn poll_read(
            mut self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            buf: &mut ReadBuf<'_>,
        ) -> Poll<io::Result<()>> {
            if let Err(e) = self.check_reset() {
                return Poll::Ready(Err(e));
            }
            if is_cut(self.from, self.to) {
                WAITING.with(|w| w.borrow_mut().push(cx.waker().clone()));
                return Poll::Pending;
            }
            Pin::new(&mut self.inner).poll_read(cx, buf)
        }
    }

    impl AsyncWrite for Stream {
        fn poll_write(
            mut self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            buf: &[u8],
        ) -> Poll<io::Result<usize>> {
            if let Err(e) = self.check_reset() {
                return Poll::Ready(Err(e));
            }
            Pin::new(&mut self.inner).poll_write(cx, buf)
        }
        fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
            Pin::new(&mut self.inner).poll_flush(cx)
        }
        fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
            Pin::new(&mut self.inner).poll_shutdown(cx)
        }
    }
}

pub fn host(i: usize) -> String {
    format!("m{i}")
}

fn ip(sim: &turmoil::Sim<'_>, i: usize) -> std::net::IpAddr {
    sim.lookup(host(i))
}

/// What one seed does.
#[derive(Clone, Debug)]
pub struct Options {
    pub seed: u64,
    /// Operations per client.
    pub ops: usize,
    pub clients: usize,
    /// Print the fault schedule and the history.
    pub verbose: bool,
    /// Simulated time the clients work for; faults come and go within it.
    pub workload: Duration,
    /// turmoil's step, the clock's resolution; `None` draws one per seed
    /// (finer steps interleave messages more finely, coarser ones run
    /// faster).
    pub tick: Option<Duration>,
}

impl Options {
    pub fn new(seed: u64) -> Options {
        Options {
            seed,
            ops: 10,
            clients: 3,
            verbose: false,
            workload: Duration::from_secs(6),
            tick: None,
        }
    }
}

/// A seed's result: the history and what the checker found.
pub struct Report {
    pub seed: u64,
    pub ops: Vec<Op>,
    pub anomalies: Vec<Anomaly>,
    pub faults: Vec<String>,
    /// Simulated time the seed took.
    pub elapsed: Duration,
    /// A digest of everything observable: equal across runs of one seed.
    pub digest: u64,
}

#[derive(Clone, Copy, Debug)]
enum Fault {
    /// Crash a member; restart it `down` later, after writing a torn record
    /// at its log's tail (a write the crash interrupted).
    Crash { member: usize, down: Duration },
    /// Cut a member off from the others: nothing it sends or is sent
    /// arrives until the cut heals, when what was held is delivered (as TCP
    /// retransmits) and connections carry on.
    Isolate { member: usize, lasts: Duration },
    /// What `from` sends does not reach `to`.
    OneWay {
        from: usize,
        to: usize,
        lasts: Duration,
    },
    /// The same between two members only.
    Hold { a: usize, b: usize, lasts: Duration },
    /// Nothing the other members send reaches whoever leads now (its own
    /// messages still arrive): it replicates but never hears back, so its
    /// writers' entries may commit under the next leader without it
    /// knowing.
    CutToLeader { lasts: Duration },
    /// Aimed at the leader while one of its writes is on the way to the
    /// followers (`last_log > committed`; it waits up to `ARM_WAIT` for
    /// one): what the others send stops reaching it, so that write reaches
    /// them but their answers do not. `acks_for` later its connections to
    /// them are reset and new ones fail (`Isolated`), as when a link goes
    /// down for longer than TCP retries: nothing sent meanwhile arrives
    /// late. The followers elect, and the new leader commits that write
    /// and moves on, often past a snapshot. At the heal, within the old
    /// leader's 1.3 s lease lapse, the new leader finds the old one from
    /// scratch (a snapshot, if it has purged the log the old one needs)
    /// while the old leader's writer still waits for its answer: the case
    /// where a wrong "not applied" makes a retried write land twice.
    Depose { acks_for: Duration, lasts: Duration },
    /// The second phase of a `Depose`, scheduled when it starts: the
    /// connections between `leader` and the others reset.
    Isolated { leader: usize, lasts: Duration },
    /// A slow link.
    Slow {
        a: usize,
        b: usize,
        latency: Duration,
        lasts: Duration,
    },
}

fn schedule(rng: &mut StdRng, horizon: Duration) -> Vec<(Duration, Fault)> {
    let mut out = Vec::new();
    // The cluster forms and the clients set up in the first two seconds.
    let mut t = Duration::from_millis(rng.gen_range(2_000..3_000));
    while t < horizon {
        let member = rng.gen_range(0..MEMBERS);
        let other = (member + rng.gen_range(1..MEMBERS)) % MEMBERS;
        let lasts = Duration::from_millis(rng.gen_range(200..3_000));
        let fault = match rng.gen_range(0..7) {
            0 => Fault::Crash {
                member,
                down: lasts,
            },
            1 => Fault::Isolate { member, lasts },
            // The leader's calls run into their 2 s timeout before the
            // others stop hearing it and elect: such a cut must last longer.
            2 => Fault::CutToLeader {
                lasts: Duration::from_millis(rng.gen_range(2_500..6_000)),
            },
            6 => Fault::Depose {
                acks_for: Duration::from_millis(rng.gen_range(5..60)),
                // The followers elect 450-600 ms into the isolation (their
                // lease from the last heartbeat, then the election timeout),
                // and the new leader needs a few hundred ms more to commit
                // past a snapshot; all within the old leader's lapse.
                lasts: Duration::from_millis(rng.gen_range(900..1_150)),
            },
            5 => Fault::OneWay {
                from: member,
                to: other,
                lasts,
            },
            3 => Fault::Hold {
                a: member,
                b: other,
                lasts,
            },
            _ => Fault::Slow {
                a: member,
                b: other,
                latency: Duration::from_millis(rng.gen_range(5..200)),
                lasts,
            },
        };
        out.push((t, fault));
        // Sometimes the next fault begins while this one lasts.
        t += if rng.gen_bool(0.3) {
            Duration::from_millis(rng.gen_range(0..lasts.as_millis() as u64 + 1))
        } else {
            lasts + Duration::from_millis(rng.gen_range(200..2_000))
        };
    }
    out
}

/// Appends a torn record to the tail of a member's log: the first bytes of
/// a record header, as if the crash cut a write short. Recovery must cut
/// it off and keep everything before it.
fn tear_log_tail(data: &Path, rng: &mut StdRng) {
    let wal = data.join("databases/neo4j/log/wal");
    let Ok(entries) = std::fs::read_dir(&wal) else {
        return;
    };
    let mut segments: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("wal-") && n.ends_with(".log"))
        })
        .collect();
    segments.sort();
    let Some(last) = segments.last() else {
        return;
    };
    let Ok(bytes) = std::fs::read(last) else {
        return;
    };
    // The log is written in place under simulation: the file ends where
    // its records end.
    let (_, end) = causeway_replication::wal::scan_records(&bytes);
    let mut torn = bytes[..end].to_vec();
    let n = rng.gen_range(1..40);
    torn.extend((0..n).map(|_| rng.gen::<u8>() | 1));
    let _ = std::fs::write(last, torn);
}

fn member_config(
    dir: &Path,
    i: usize,
    snapshot_every: u64,
    snapshot_keep: u64,
) -> causeway_server::config::Config {
    let peers: Vec<String> = (0..MEMBERS).map(|j| format!("{}:6000", host(j))).collect();
    let flags: Vec<(&str, String)> = vec![
        ("data_dir", dir.display().to_string()),
        ("bolt_listen", "0.0.0.0:7687".into()),
        ("bolt_advertised", format!("{}:7687", host(i))),
        ("http_listen", "0.0.0.0:7474".into()),
        ("auth", "none".into()),
        ("mode", "core".into()),
        ("cluster_listen", "0.0.0.0:6000".into()),
        ("cluster_advertised", format!("{}:6000", host(i))),
        ("initial_members", peers.join(",")),
        ("discovery", "list".into()),
        ("cluster_secret", "simulation".into()),
        ("snapshot_every", snapshot_every.to_string()),
        ("snapshot_log_keep", snapshot_keep.to_string()),
        ("fsync", "false".into()),
        // Keep-alive NOOPs are written by an OS thread on the wall clock,
        // outside the simulation; its clients set no read timeout anyway.
        ("bolt_recv_timeout_secs", "0".into()),
    ];
    causeway_server::config::Config::load(None, |_| None, &flags)
        .expect("the simulation's member settings are valid")
}

/// Runs one seed to the end and checks it.
/// tokio numbers tasks from one process-wide counter, and a current-thread
/// runtime files its tasks in four lists by that number; a crashed host's
/// tasks are dropped list by list, and the order in which its connections
/// close changes what the others do next. Starting every run at a number
/// that is a multiple of the list count makes a seed replay the same
/// however many runs this thread made before. (Runs on other threads of
/// the process would draw numbers in between: `--jobs` uses processes.)
fn align_task_ids() {
    const ALIGN: u64 = 64;
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a runtime");
    loop {
        let id: u64 = rt
            .spawn(async {})
            .id()
            .to_string()
            .parse()
            .expect("task ids print as numbers");
        if (id + 1).is_multiple_of(ALIGN) {
            return;
        }
    }
}

pub fn run(opts: &Options) -> Report {
    align_task_ids();
    let mut rng = StdRng::seed_from_u64(opts.seed);
    // Node ids, command ids and openraft's timeouts all come from here.
    causeway_replication::random::seed_this_thread(rng.gen());
    let tmp = tempfile::Builder::new()
        .prefix("causeway-sim-")
        .tempdir()
        .expect("a scratch directory");
    // Snapshots often, and followers sent one as soon as they lag, in most
    // seeds: catching up from a snapshot is where outcomes used to get lost.
    let snapshot_every = [10, 20, 50, 200, 20_000][rng.gen_range(0..5)];
    let snapshot_keep = [0, 5, 100][rng.gen_range(0..3)];
    let tick = opts
        .tick
        .unwrap_or_else(|| Duration::from_millis([2, 5, 10, 10][rng.gen_range(0..4)]));
    let workload = opts.workload;
    let faults = schedule(&mut rng, workload.saturating_sub(Duration::from_secs(2)));
    let mut sim = turmoil::Builder::new()
        .rng_seed(rng.gen())
        .simulation_duration(Duration::from_secs(180))
        .tick_duration(tick)
        .min_message_latency(Duration::from_micros(100))
        .max_message_latency(Duration::from_millis(rng.gen_range(1..5)))
        .build();
    let watch: Watch = Rc::new(RefCell::new(vec![None; MEMBERS]));
    WATCH.with(|w| *w.borrow_mut() = Some(watch.clone()));
    for i in 0..MEMBERS {
        let dir = tmp.path().join(host(i));
        std::fs::create_dir_all(&dir).expect("member directory");
        let config = member_config(&dir, i, snapshot_every, snapshot_keep);
        sim.host(host(i), move || {
            let config = config.clone();
            async move {
                let env = causeway_server::server::Env {
                    net: std::sync::Arc::new(SimNet),
                    http: false,
                    observe: Some(Box::new(move |r| {
                        let weak = std::sync::Arc::downgrade(r);
                        WATCH.with(|w| {
                            if let Some(w) = w.borrow().as_ref() {
                                w.borrow_mut()[i] = Some(weak);
                            }
                        });
                    })),
                };
                causeway_server::server::run_with(config, env, std::future::pending())
                    .await
                    .map_err(|e| e.to_string().into())
            }
        });
    }
    let history: Rc<RefCell<Vec<Op>>> = Rc::default();
    let shared = client::Shared::new(history.clone(), opts.clients + LOADERS);
    let finals = Rc::new(RefCell::new(None));
    {
        // One client runtime for every client process and the final
        // check: each runtime costs the simulation a step per tick.
        let seeds: Vec<u64> = (0..opts.clients).map(|_| rng.gen()).collect();
        let load_seeds: Vec<u64> = (0..LOADERS).map(|_| rng.gen()).collect();
        let (ops, finals) = (opts.ops, finals.clone());
        sim.client("clients", async move {
            let local = tokio::task::LocalSet::new();
            local
                .run_until(async move {
                    let n = seeds.len();
                    for (c, seed) in seeds.into_iter().enumerate() {
                        tokio::task::spawn_local(client::workload(
                            shared.clone(),
                            c,
                            seed,
                            ops,
                            workload,
                        ));
                    }
                    for (l, seed) in load_seeds.into_iter().enumerate() {
                        let process = n + l;
                        tokio::task::spawn_local(client::load(
                            shared.clone(),
                            process,
                            l,
                            seed,
                            workload,
                        ));
                    }
                    // Every fault has ended by then (the last starts before
                    // the workload's last two seconds and lasts up to 3 s).
                    tokio::time::sleep(workload + Duration::from_secs(2)).await;
                    shared.wait_done().await;
                    *finals.borrow_mut() = Some(client::final_state().await);
                })
                .await;
            Ok(())
        });
    }

    let mut log = Vec::new();
    let mut pending = std::collections::VecDeque::from(faults);
    let mut ends: Vec<(Duration, Duration, Fault)> = Vec::new();
    let mut aimed = Aimed::default();
    let mut failure = None;
    loop {
        let now = sim.elapsed();
        while let Some(&(t, f)) = pending.front() {
            if t > now
                || matches!(f, Fault::Depose { .. })
                    && now < t + ARM_WAIT
                    && !write_in_flight(&watch)
            {
                break;
            }
            pending.pop_front();
            log.push(format!(
                "{:>6} ms  start {f:?}{}",
                now.as_millis(),
                leader_log(&watch)
            ));
            if let Some(next) = start_fault(&mut sim, f, &watch, &mut aimed, now) {
                let at = pending.partition_point(|(t, _)| *t <= next.0);
                pending.insert(at, next);
            }
            let lasts = match f {
                Fault::Crash { down, .. } => down,
                Fault::Isolate { lasts, .. }
                | Fault::OneWay { lasts, .. }
                | Fault::CutToLeader { lasts }
                | Fault::Depose { lasts, .. }
                | Fault::Isolated { lasts, .. }
                | Fault::Hold { lasts, .. }
                | Fault::Slow { lasts, .. } => lasts,
            };
            ends.push((now + lasts, now, f));
        }
        let (due, later): (Vec<_>, Vec<_>) = ends.into_iter().partition(|(t, _, _)| *t <= now);
        ends = later;
        for (t, started, f) in due {
            log.push(format!("{:>6} ms  end   {f:?}", t.as_millis()));
            end_fault(&mut sim, f, tmp.path(), &mut rng, &mut aimed, started);
        }
        match sim.step() {
            Ok(true) => break,
            Ok(false) => {}
            Err(e) => {
                failure = Some(e.to_string());
                break;
            }
        }
    }
    let elapsed = sim.elapsed();
    drop(sim);
    cuts::clear();
    WATCH.with(|w| *w.borrow_mut() = None);
    causeway_replication::random::unseed_this_thread();
    let ops = std::mem::take(&mut *history.borrow_mut());
    let finals = finals.borrow_mut().take();
    let mut anomalies = check::check(&ops, finals.as_ref());
    if let Some(e) = failure {
        anomalies.push(Anomaly::new("simulation", e));
    }
    let digest = check::digest(&ops, finals.as_ref());
    Report {
        seed: opts.seed,
        ops,
        anomalies,
        faults: log,
        elapsed,
        digest,
    }
}

/// Each member's replicator while it runs (weak: a crash drops it).
type Watch = Rc<
    RefCell<
        Vec<
            Option<
                std::sync::Weak<causeway_replication::Replicator<causeway_server::db::GraphState>>,
            >,
        >,
    >,
>;

thread_local! {
    static WATCH: RefCell<Option<Watch>> = const { RefCell::new(None) };
}

fn leader(watch: &Watch) -> Option<usize> {
    leader_status(watch).map(|(l, _)| l)
}

/// The leader, with its status.
fn leader_status(watch: &Watch) -> Option<(usize, causeway_replication::Status)> {
    watch.borrow().iter().enumerate().find_map(|(i, r)| {
        let r = r.as_ref()?.upgrade()?;
        r.is_leader().then(|| (i, r.status()))
    })
}

/// Faults aimed at the leader, with the leader they hit.
#[derive(Default)]
struct Aimed(Vec<(Duration, usize)>);

/// Processes that keep the log moving with counter increments, one through
/// each member: while a cut-off leader holds the writes sent to it, the
/// others' go on through the new leader, which must commit past a snapshot
/// before the old one hears of it.
const LOADERS: usize = MEMBERS;

/// How long a `Depose` waits for the leader to have a write on the way.
const ARM_WAIT: Duration = Duration::from_millis(500);

/// The leader's log position, for the fault log.
fn leader_log(watch: &Watch) -> String {
    leader_status(watch).map_or_else(String::new, |(l, st)| {
        format!(
            " (leader m{l}: log {}, committed {})",
            st.last_log, st.committed
        )
    })
}

/// Whether the leader has an entry in its log that is not committed yet.
fn write_in_flight(watch: &Watch) -> bool {
    leader_status(watch).is_some_and(|(_, st)| st.last_log > st.committed)
}

/// Starts `f`; returns a later phase of it to schedule, if it has one.
fn start_fault(
    sim: &mut turmoil::Sim<'_>,
    f: Fault,
    watch: &Watch,
    aimed: &mut Aimed,
    now: Duration,
) -> Option<(Duration, Fault)> {
    match f {
        Fault::CutToLeader { .. } | Fault::Depose { .. } => {
            let l = leader(watch)?;
            aimed.0.push((now, l));
            for j in (0..MEMBERS).filter(|j| *j != l) {
                cuts::cut(ip(sim, j), ip(sim, l));
            }
            if let Fault::Depose { acks_for, lasts } = f {
                let lasts = lasts.saturating_sub(acks_for);
                return Some((now + acks_for, Fault::Isolated { leader: l, lasts }));
            }
        }
        Fault::Isolated { leader: l, .. } => {
            for j in (0..MEMBERS).filter(|j| *j != l) {
                cuts::reset(ip(sim, l), ip(sim, j));
            }
        }
        Fault::OneWay { from, to, .. } => cuts::cut(ip(sim, from), ip(sim, to)),
        Fault::Crash { member, .. } => sim.crash(host(member)),
        Fault::Isolate { member, .. } => {
            for j in (0..MEMBERS).filter(|j| *j != member) {
                cuts::cut(ip(sim, member), ip(sim, j));
                cuts::cut(ip(sim, j), ip(sim, member));
            }
        }
        Fault::Hold { a, b, .. } => sim.hold(host(a), host(b)),
        Fault::Slow { a, b, latency, .. } => sim.set_link_latency(host(a), host(b), latency),
    }
    None
}

fn end_fault(
    sim: &mut turmoil::Sim<'_>,
    f: Fault,
    base: &Path,
    rng: &mut StdRng,
    aimed: &mut Aimed,
    started: Duration,
) {
    match f {
        Fault::CutToLeader { .. } | Fault::Depose { .. } => {
            if let Some(i) = aimed.0.iter().position(|(t, _)| *t == started) {
                let (_, l) = aimed.0.remove(i);
                for j in (0..MEMBERS).filter(|j| *j != l) {
                    cuts::heal(ip(sim, j), ip(sim, l));
                }
            }
        }
        Fault::Isolated { leader: l, .. } => {
            for j in (0..MEMBERS).filter(|j| *j != l) {
                cuts::unreset(ip(sim, l), ip(sim, j));
            }
        }
        Fault::OneWay { from, to, .. } => cuts::heal(ip(sim, from), ip(sim, to)),
        Fault::Crash { member, .. } => {
            if rng.gen_bool(0.5) {
                tear_log_tail(&base.join(host(member)), rng);
            }
            sim.bounce(host(member));
        }
        Fault::Isolate { member, .. } => {
            for j in (0..MEMBERS).filter(|j| *j != member) {
                cuts::heal(ip(sim, member), ip(sim, j));
                cuts::heal(ip(sim, j), ip(sim, member));
            }
        }
        Fault::Hold { a, b, .. } => sim.release(host(a), host(b)),
        Fault::Slow { a, b, .. } => sim.set_link_latency(host(a), host(b), Duration::ZERO),
    }
}
