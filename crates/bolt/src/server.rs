//! The listener: accepts sockets, enforces connection limits, drains on
//! shutdown. Each connection is a task, not a thread, so thousands of idle
//! drivers cost only their buffers.

use std::io;
use std::sync::Arc;
use std::time::Duration;

use causeway_net::Listener;
use tokio::sync::{watch, Semaphore};
use tracing::{info, warn};

use crate::backend::Backend;
use crate::chunk::{DEFAULT_MAX_MESSAGE_SIZE, MAX_CHUNK_SIZE};
use crate::connection::{serve_registered, shutdown_requested};
use crate::keepalive::KeepAlive;
use crate::packstream::{MAX_NESTING_DEPTH, MAX_VALUES_PER_MESSAGE};

/// Every limit of the Bolt listener, plus the agent string it presents.
#[derive(Clone, Debug, PartialEq)]
pub struct BoltConfig {
    /// The HELLO `server` field. Python 5.x drivers refuse servers whose
    /// agent does not start with `Neo4j/`, so this is the compatibility
    /// string, not our product name (that is [`Backend::server_agent`]).
    pub server_agent: String,
    /// Largest reassembled request; larger ones get FAILURE and a close.
    pub max_message_size: usize,
    /// Deepest nesting of lists/maps/structures accepted in a request.
    pub max_nesting_depth: usize,
    /// Most values (of any kind) one request may contain; bounds the memory
    /// a request costs once decoded, which is a multiple of its wire size.
    pub max_values_per_message: usize,
    /// Open connections beyond this are accepted and closed at once.
    pub max_connections: usize,
    /// Time a new socket has to complete the 20-byte handshake.
    pub handshake_timeout: Duration,
    /// Time from the handshake (or a LOGOFF) to a successful
    /// authentication; unauthenticated sockets must not hold slots forever.
    pub auth_timeout: Duration,
    /// How long one flush may wait for a client that does not read before
    /// the connection is dropped.
    pub write_timeout: Duration,
    /// Bytes requested from the socket per read.
    pub read_chunk_size: usize,
    /// Unprocessed received bytes held per connection. Must hold a whole
    /// chunk; when full, we stop reading and the client's pipeline stalls.
    pub input_buffer_limit: usize,
    /// Buffered response bytes that trigger a flush. Together with the write
    /// timeout this bounds what a non-reading client can pin.
    pub output_flush_threshold: usize,
    /// Largest single RECORD we send; a bigger row fails the request rather
    /// than ballooning the output buffer.
    pub max_record_size: usize,
    /// Results one explicit transaction may hold open at once (each holds
    /// a row iterator in the backend).
    pub max_open_results: usize,
    /// Rows pulled from the backend per blocking section, between which the
    /// connection flushes and looks for a queued RESET.
    pub pull_batch_rows: usize,
    /// How long [`serve`] waits for open connections after shutdown.
    pub shutdown_grace: Duration,
    /// The read timeout Bolt 4.3+ clients are asked to apply
    /// (`connection.recv_timeout_seconds`, whole seconds), backed by NOOPs
    /// sent while a request runs. A client of a member that vanished from
    /// the network (no reset ever reaches it) then gives up after this long
    /// instead of waiting on its socket indefinitely. `None`: no hint.
    pub recv_timeout_hint: Option<Duration>,
}

/// The agent Neo4j 5.26 reports; drivers only check the `Neo4j/` prefix.
pub const DEFAULT_SERVER_AGENT: &str = "Neo4j/5.26.0";
pub const DEFAULT_MAX_CONNECTIONS: usize = 10_000;
pub const DEFAULT_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
pub const DEFAULT_AUTH_TIMEOUT: Duration = Duration::from_secs(30);
pub const DEFAULT_WRITE_TIMEOUT: Duration = Duration::from_secs(30);
pub const DEFAULT_READ_CHUNK_SIZE: usize = 16 * 1024;
/// One maximal chunk plus its header, plus room for the next request.
pub const DEFAULT_INPUT_BUFFER_LIMIT: usize = 2 * (MAX_CHUNK_SIZE + 2);
pub const DEFAULT_OUTPUT_FLUSH_THRESHOLD: usize = 64 * 1024;
pub const DEFAULT_MAX_RECORD_SIZE: usize = 256 * 1024 * 1024;
pub const DEFAULT_MAX_OPEN_RESULTS: usize = 1000;
pub const DEFAULT_PULL_BATCH_ROWS: usize = 1000;
/// How long a stopping server lets open transactions finish: Neo4j's
/// `db.shutdown_transaction_end_timeout` (10 s), and well inside the 30 s a
/// container platform waits between SIGTERM and SIGKILL.
pub const DEFAULT_SHUTDOWN_GRACE: Duration = Duration::from_secs(10);
pub const DEFAULT_RECV_TIMEOUT_HINT: Duration = Duration::from_secs(1);
/// Pause after a failed accept (e.g. out of file descriptors) so the loop
/// does not spin.
const ACCEPT_ERROR_BACKOFF: Duration = Duration::from_millis(100);

impl Default for BoltConfig {
    fn default() -> Self {
        BoltConfig {
            server_agent: DEFAULT_SERVER_AGENT.to_owned(),
            max_message_size: DEFAULT_MAX_MESSAGE_SIZE,
            max_nesting_depth: MAX_NESTING_DEPTH,
            max_values_per_message: MAX_VALUES_PER_MESSAGE,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            handshake_timeout: DEFAULT_HANDSHAKE_TIMEOUT,
            auth_timeout: DEFAULT_AUTH_TIMEOUT,
            write_timeout: DEFAULT_WRITE_TIMEOUT,
            read_chunk_size: DEFAULT_READ_CHUNK_SIZE,
            input_buffer_limit: DEFAULT_INPUT_BUFFER_LIMIT,
            output_flush_threshold: DEFAULT_OUTPUT_FLUSH_THRESHOLD,
            max_record_size: DEFAULT_MAX_RECORD_SIZE,
            max_open_results: DEFAULT_MAX_OPEN_RESULTS,
            pull_batch_rows: DEFAULT_PULL_BATCH_ROWS,
            shutdown_grace: DEFAULT_SHUTDOWN_GRACE,
            recv_timeout_hint: Some(DEFAULT_RECV_TIMEOUT_HINT),
        }
    }
}

impl BoltConfig {
    /// Rejects settings that would break clients or the framing invariants.
    pub fn validate(&self) -> Result<(), String> {
        if !self.server_agent.starts_with("Neo4j/") {
            return Err(format!(
                "server_agent {:?} must start with \"Neo4j/\" or Python drivers refuse to connect",
                self.server_agent
            ));
        }
        if self.input_buffer_limit < MAX_CHUNK_SIZE + 2 {
            return Err(format!(
                "input_buffer_limit must be at least {} (one chunk with header)",
                MAX_CHUNK_SIZE + 2
            ));
        }
        if self.max_message_size == 0
            || self.max_nesting_depth == 0
            || self.max_values_per_message == 0
            || self.max_connections == 0
            || self.read_chunk_size == 0
            || self.pull_batch_rows == 0
            || self.max_record_size == 0
            || self.max_open_results == 0
            || self.output_flush_threshold == 0
        {
            return Err("Bolt limits must be positive".to_owned());
        }
        if self
            .recv_timeout_hint
            .is_some_and(|t| t.as_secs() == 0 || t.subsec_nanos() != 0)
        {
            return Err(
                "recv_timeout_hint must be a whole number of seconds, at least 1".to_owned(),
            );
        }
        if self.max_connections > Semaphore::MAX_PERMITS || self.max_connections > u32::MAX as usize
        {
            return Err("max_connections is too large".to_owned());
        }
        Ok(())
    }
}

/// Accepts Bolt connections on `listener` until `shutdown` becomes true (or
/// its sender is dropped after sending true), then stops accepting and waits
/// up to `shutdown_grace` for open connections, which close after finishing
/// the request they are working on.
pub async fn serve<B: Backend, L: Listener>(
    listener: L,
    backend: Arc<B>,
    config: BoltConfig,
    mut shutdown: watch::Receiver<bool>,
) -> io::Result<()> {
    config
        .validate()
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
    let config = Arc::new(config);
    let permits = Arc::new(Semaphore::new(config.max_connections));
    let registry = config.recv_timeout_hint.map(KeepAlive::start);
    info!(
        addr = ?listener.local_addr().ok(),
        product = %backend.server_agent(),
        agent = %config.server_agent,
        "Bolt listener started"
    );
    loop {
        let accepted = tokio::select! {
            biased;
            r = listener.accept() => r,
            _ = shutdown_requested(&mut shutdown) => break,
        };
        let (socket, peer) = match accepted {
            Ok(x) => x,
            Err(e) => {
                warn!(error = %e, "Bolt accept failed");
                tokio::time::sleep(ACCEPT_ERROR_BACKOFF).await;
                continue;
            }
        };
        let Ok(permit) = permits.clone().try_acquire_owned() else {
            warn!(%peer, limit = config.max_connections, "too many Bolt connections; closing new one");
            drop(socket);
            continue;
        };
        let backend = backend.clone();
        let config = config.clone();
        let conn_shutdown = shutdown.clone();
        let registry = registry.clone();
        tokio::spawn(async move {
            serve_registered(socket, peer, backend, &config, conn_shutdown, registry).await;
            drop(permit);
        });
    }
    drop(listener);
    info!("Bolt listener stopped accepting; draining connections");
    let all = config.max_connections as u32;
    if tokio::time::timeout(config.shutdown_grace, permits.acquire_many(all))
        .await
        .is_err()
    {
        warn!("Bolt connections still open after the shutdown grace period");
    }
    Ok(())
}
