//! Keep-alive NOOPs for clients that time out reads.
//!
//! Bolt 4.3+ clients are told `connection.recv_timeout_seconds`; the Python
//! drivers then give up on a connection that stays silent that long. So that
//! only a vanished member is given up on, never a slow commit or a heavy
//! query, a connection that has been working on a request for a while
//! without writing gets a NOOP (an empty chunk, between messages).
//!
//! The NOOPs are written by one OS thread per listener, not by a task: a
//! query that computes its first row for seconds holds its worker thread,
//! and while it does, the runtime may have nobody polling its timers (an idle
//! worker sleeps until it is given a task), so no task-based ticker would
//! run. The thread writes without waiting: it skips a connection whose
//! writer is busy (a flush says enough) or whose socket cannot take two
//! bytes at once.

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use tokio::io::{AsyncWrite, WriteHalf};

/// NOOP checks per advertised read timeout. A NOOP goes out within two
/// checks of the connection's last write, so a client hears something at
/// least every half of its timeout.
const CHECKS_PER_TIMEOUT: u32 = 4;

type Noop = Box<dyn Fn() -> Written + Send + Sync>;

enum Written {
    Noop,
    /// The writer was busy or the socket full: nothing was written.
    Skipped,
    /// Only half a NOOP went out: the stream is broken.
    Torn,
}

/// The connections of one listener whose clients were asked to time out
/// reads.
pub struct KeepAlive {
    every: Duration,
    start: Instant,
    next_id: AtomicU64,
    conns: Mutex<HashMap<u64, (Arc<Pulse>, Noop)>>,
}

/// When a connection last wrote and since when it has been working on a
/// request: milliseconds since its registry's epoch, plus one, so that 0
/// means "never" / "idle".
pub struct Pulse {
    start: Instant,
    busy_since: AtomicU64,
    last_write: AtomicU64,
    /// Half a NOOP was written; the connection must close.
    torn: AtomicBool,
}

fn millis_since(start: Instant) -> u64 {
    u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX - 1) + 1
}

impl Pulse {
    fn new(start: Instant) -> Arc<Pulse> {
        Arc::new(Pulse {
            start,
            busy_since: AtomicU64::new(0),
            last_write: AtomicU64::new(0),
            torn: AtomicBool::new(false),
        })
    }

    /// A pulse nobody looks at: for connections without a read timeout.
    pub fn unwatched() -> Arc<Pulse> {
        Pulse::new(Instant::now())
    }

    /// A request is being worked on (cheap: called for every request).
    pub fn busy(&self) {
        if self.busy_since.load(Ordering::Relaxed) == 0 {
            self.busy_since
                .store(millis_since(self.start), Ordering::Relaxed);
        }
    }

    /// Every answer is out; the client is not waiting on us.
    pub fn idle(&self) {
        self.busy_since.store(0, Ordering::Relaxed);
    }

    pub fn wrote(&self) {
        self.last_write
            .store(millis_since(self.start), Ordering::Relaxed);
    }

    /// Half a NOOP went out: nothing more may be written.
    pub fn torn(&self) -> bool {
        self.torn.load(Ordering::Relaxed)
    }

    /// Busy and silent for at least `every_ms`.
    fn quiet(&self, every_ms: u64) -> bool {
        let since = self.busy_since.load(Ordering::Relaxed);
        let last = self.last_write.load(Ordering::Relaxed);
        since != 0 && millis_since(self.start).saturating_sub(since.max(last)) >= every_ms
    }
}

/// Takes a connection out of its registry when the connection ends.
pub struct Watch {
    registry: Arc<KeepAlive>,
    id: u64,
}

impl Drop for Watch {
    fn drop(&mut self) {
        self.registry.lock().remove(&self.id);
    }
}

impl KeepAlive {
    /// A registry for clients told `timeout`, with its writer thread, which
    /// ends once the registry is dropped.
    pub fn start(timeout: Duration) -> Arc<KeepAlive> {
        let registry = Arc::new(KeepAlive {
            every: (timeout / CHECKS_PER_TIMEOUT).max(Duration::from_millis(1)),
            start: Instant::now(),
            next_id: AtomicU64::new(0),
            conns: Mutex::new(HashMap::new()),
        });
        let weak = Arc::downgrade(&registry);
        let spawned = std::thread::Builder::new()
            .name("bolt-keepalive".into())
            .spawn(move || beat(weak));
        if let Err(e) = spawned {
            tracing::warn!(error = %e, "no keep-alive thread; clients may time out slow requests");
        }
        registry
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u64, (Arc<Pulse>, Noop)>> {
        // A panic elsewhere cannot leave the map half-updated.
        self.conns.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Registers a connection that writes through `writer`, which it holds
    /// for whole writes, so a NOOP never lands inside a message.
    pub fn watch<S>(
        self: &Arc<Self>,
        writer: Arc<tokio::sync::Mutex<WriteHalf<S>>>,
    ) -> (Arc<Pulse>, Watch)
    where
        S: AsyncWrite + Send + 'static,
    {
        let pulse = Pulse::new(self.start);
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let noop: Noop = Box::new(move || try_noop(&writer));
        self.lock().insert(id, (pulse.clone(), noop));
        let guard = Watch {
            registry: self.clone(),
            id,
        };
        (pulse, guard)
    }
}

/// Writes a NOOP if that can be done at once.
fn try_noop<S: AsyncWrite>(writer: &tokio::sync::Mutex<WriteHalf<S>>) -> Written {
    let Ok(mut w) = writer.try_lock() else {
        return Written::Skipped;
    };
    let mut cx = Context::from_waker(Waker::noop());
    let mut left: &[u8] = &[0, 0];
    // A socket that took one byte takes the next at once unless it is
    // full to the byte; a few tries settle it.
    for _ in 0..3 {
        match Pin::new(&mut *w).poll_write(&mut cx, left) {
            Poll::Ready(Ok(n)) if n >= left.len() => {
                let _ = Pin::new(&mut *w).poll_flush(&mut cx);
                return Written::Noop;
            }
            Poll::Ready(Ok(n)) if n > 0 => left = &left[n..],
            _ if left.len() == 2 => return Written::Skipped,
            _ => {}
        }
    }
    Written::Torn
}

fn beat(registry: Weak<KeepAlive>) {
    loop {
        let Some(r) = registry.upgrade() else {
            return;
        };
        let every = r.every;
        let every_ms = u64::try_from(every.as_millis()).unwrap_or(u64::MAX);
        for (pulse, noop) in r.lock().values() {
            if !pulse.quiet(every_ms) || pulse.torn() {
                continue;
            }
            match noop() {
                Written::Noop => pulse.wrote(),
                Written::Skipped => {}
                Written::Torn => pulse.torn.store(true, Ordering::Relaxed),
            }
        }
        drop(r);
        std::thread::sleep(every);
    }
}
