//! One Bolt connection: handshake, then the server state machine.
//!
//! Requests are processed strictly in arrival order and answered in that
//! order; responses are buffered and flushed when no further complete request
//! is waiting, so pipelined requests get pipelined answers.

use std::iter::Peekable;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use causeway_value::{Code, Counters, Error, Map, QueryType, Value};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf, ReadHalf, WriteHalf};
use tokio::sync::watch;
use tracing::{debug, warn, Instrument};

use crate::backend::{
    AccessMode, AuthToken, Backend, BeginRequest, RouteRequest, RowIter, RunResult, Session,
};
use crate::chunk::{self, Dechunker, FrameError};
use crate::handshake::{self, Preamble, Version, SUPPORTED_VERSIONS};
use crate::keepalive::{KeepAlive, Pulse};
use crate::message::{self, tag, DecodeError, Request, Response, StreamArgs, TxExtra};
use crate::server::BoltConfig;

/// Source of `connection_id`s; only used to correlate logs.
static NEXT_CONNECTION: AtomicU64 = AtomicU64::new(1);

/// Buffers larger than this are released once empty, so that one big result
/// does not keep a busy connection fat.
const SHRINK_ABOVE: usize = 64 * 1024;

/// An idle connection waits for its next request with no heap buffers at
/// all, reading the first bytes into this much inline space; thousands of
/// idle drivers then cost little more than their sockets.
const IDLE_READ_SIZE: usize = 256;

/// How many queued requests are searched for a RESET that should interrupt
/// the work ahead of it.
const RESET_LOOKAHEAD: usize = 64;

/// Waits until `shutdown` is true. A dropped sender means nobody can ask for
/// shutdown any more, so this then never completes.
pub(crate) async fn shutdown_requested(shutdown: &mut watch::Receiver<bool>) {
    loop {
        if *shutdown.borrow_and_update() {
            return;
        }
        if shutdown.changed().await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

/// Completes at `at`, or never.
async fn deadline(at: Option<tokio::time::Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// Serves one client connection until it closes. Never panics on client
/// input; every failure ends in a FAILURE message and/or a closed socket.
pub async fn serve_connection<B, S>(
    stream: S,
    peer: SocketAddr,
    backend: Arc<B>,
    config: &BoltConfig,
) where
    B: Backend,
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (_never, rx) = watch::channel(false);
    serve_connection_until(stream, peer, backend, config, rx).await
}

/// [`serve_connection`] that also stops, between requests, once `shutdown`
/// becomes true.
pub async fn serve_connection_until<B, S>(
    stream: S,
    peer: SocketAddr,
    backend: Arc<B>,
    config: &BoltConfig,
    shutdown: watch::Receiver<bool>,
) where
    B: Backend,
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    // A connection served on its own has its own keep-alive ticker.
    let keep_alive = config.recv_timeout_hint.map(KeepAlive::start);
    serve_registered(stream, peer, backend, config, shutdown, keep_alive).await
}

/// Serves a connection of a listener whose keep-alive registry is
/// `keep_alive` (present when clients are told a read timeout).
pub(crate) async fn serve_registered<B, S>(
    stream: S,
    peer: SocketAddr,
    backend: Arc<B>,
    config: &BoltConfig,
    shutdown: watch::Receiver<bool>,
    keep_alive: Option<Arc<KeepAlive>>,
) where
    B: Backend,
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let id = format!("bolt-{}", NEXT_CONNECTION.fetch_add(1, Ordering::Relaxed));
    // Everything logged while serving this connection, by us or by the
    // backend, carries the connection id and peer.
    let span = tracing::debug_span!("bolt", conn = %id, %peer);
    serve_inner(stream, peer, backend, config, shutdown, id, keep_alive)
        .instrument(span)
        .await
}

async fn serve_inner<B, S>(
    mut stream: S,
    peer: SocketAddr,
    backend: Arc<B>,
    config: &BoltConfig,
    shutdown: watch::Receiver<bool>,
    id: String,
    keep_alive: Option<Arc<KeepAlive>>,
) where
    B: Backend,
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let version =
        match tokio::time::timeout(config.handshake_timeout, handshake(&mut stream, &id, peer))
            .await
        {
            Ok(Some(v)) => v,
            Ok(None) => return,
            Err(_) => {
                debug!(conn = %id, %peer, "Bolt handshake timed out");
                return;
            }
        };
    debug!(conn = %id, %peer, %version, product = %backend.server_agent(), "Bolt connection established");
    let (reader, writer) = tokio::io::split(stream);
    let writer = Arc::new(tokio::sync::Mutex::new(writer));
    // Clients told to time out reads (Bolt 4.3+ hints) get NOOPs while a
    // request runs; the watch lasts exactly as long as the connection.
    let (pulse, _watch) = match keep_alive {
        Some(k) if version.has_hints() => {
            let (pulse, watch) = k.watch(writer.clone());
            (pulse, Some(watch))
        }
        _ => (Pulse::unwatched(), None),
    };
    let mut conn = Conn {
        reader,
        writer,
        pulse,
        config,
        backend,
        peer,
        id,
        version,
        state: State::Negotiation,
        session: None,
        tx: None,
        routing: None,
        inbuf: Vec::new(),
        inpos: 0,
        out: Vec::new(),
        dechunker: Dechunker::new(config.max_message_size),
        shutdown,
        auth_deadline: Some(tokio::time::Instant::now() + config.auth_timeout),
        input_closed: false,
        output_broken: false,
    };
    conn.run().await;
    conn.cleanup().await;
    let _ = conn.writer.lock().await.shutdown().await;
    debug!(conn = %conn.id, "Bolt connection closed");
}

/// Reads the preamble and proposals, answers, and returns the version.
async fn handshake<S>(stream: &mut S, id: &str, peer: SocketAddr) -> Option<Version>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut first = [0u8; 4];
    stream.read_exact(&mut first).await.ok()?;
    match handshake::classify_preamble(first) {
        Preamble::Bolt => {}
        Preamble::Http => {
            debug!(conn = %id, %peer, "HTTP request on the Bolt port; closing");
            return None;
        }
        Preamble::Garbage => {
            debug!(conn = %id, %peer, "not a Bolt client; closing");
            return None;
        }
    }
    let mut proposals = [0u8; 16];
    stream.read_exact(&mut proposals).await.ok()?;
    match handshake::negotiate(&proposals, &SUPPORTED_VERSIONS) {
        Some(v) => {
            // One write: some drivers read the answer with a single recv.
            stream.write_all(&v.to_bytes()).await.ok()?;
            stream.flush().await.ok()?;
            Some(v)
        }
        None => {
            debug!(conn = %id, %peer, ?proposals, "no common Bolt version");
            let _ = stream.write_all(&[0, 0, 0, 0]).await;
            let _ = stream.flush().await;
            None
        }
    }
}

/// The server states of the Bolt specification. INTERRUPTED is not stored:
/// it is "a RESET is already queued", computed per request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// After the handshake, before HELLO (4.x calls this CONNECTED).
    Negotiation,
    /// 5.1+: after HELLO, before LOGON.
    Authentication,
    Ready,
    /// An auto-commit result is open.
    Streaming,
    TxReady,
    TxStreaming,
    Failed,
}

enum Flow {
    Continue,
    Close,
}

struct ResultStream {
    qid: i64,
    rows: Peekable<RowIter>,
    query_type: QueryType,
    counters: Counters,
    plan: Option<Map>,
    profile: bool,
    db: String,
    /// Time spent producing rows so far.
    pulling: Duration,
}

struct OpenTx<T> {
    tx: T,
    auto_commit: bool,
    streams: Vec<ResultStream>,
    next_qid: i64,
}

type TxOf<B> = <<B as Backend>::Session as Session>::Tx;

struct Conn<'c, B: Backend, S> {
    reader: ReadHalf<S>,
    /// Shared with the keep-alive thread; held for a whole flush, so a NOOP
    /// never lands inside a message.
    writer: Arc<tokio::sync::Mutex<WriteHalf<S>>>,
    pulse: Arc<Pulse>,
    config: &'c BoltConfig,
    backend: Arc<B>,
    peer: SocketAddr,
    id: String,
    version: Version,
    state: State,
    session: Option<B::Session>,
    tx: Option<OpenTx<TxOf<B>>>,
    /// HELLO's routing context; passed on so the backend may route.
    routing: Option<Map>,
    /// Received bytes not yet reassembled into a message.
    inbuf: Vec<u8>,
    /// Start of the unconsumed bytes in `inbuf`.
    inpos: usize,
    /// Responses not yet written.
    out: Vec<u8>,
    dechunker: Dechunker,
    shutdown: watch::Receiver<bool>,
    /// Until the client is authenticated, it must get there by this time;
    /// otherwise unauthenticated sockets could hold connection slots forever.
    auth_deadline: Option<tokio::time::Instant>,
    /// The client closed its sending side (seen while reading ahead); the
    /// requests already buffered are still served.
    input_closed: bool,
    /// A write failed or timed out; nothing more can be sent.
    output_broken: bool,
}

#[derive(Clone, Copy)]
struct BatchLimits {
    flush_at: usize,
    max_record: usize,
}

enum BatchEnd {
    /// Produced the requested number of rows, or filled the output buffer.
    Paused,
    Exhausted,
    Failed(Error),
}

/// Pull time after which a result stream's further batches run under
/// `block_in_place`, so that one heavy query cannot occupy an async worker
/// that other connections need.
const INLINE_PULL_BUDGET: Duration = Duration::from_millis(2);

/// Pulls rows on the current thread without stalling the runtime's other
/// tasks where that is possible (multi-thread runtime).
fn blocking<R>(f: impl FnOnce() -> R) -> R {
    match tokio::runtime::Handle::try_current() {
        Ok(h) if h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(f)
        }
        _ => f(),
    }
}

fn ms(d: Duration) -> Value {
    Value::Int(i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

fn protocol_error(msg: impl Into<String>) -> Error {
    Error::new(Code::RequestInvalid, msg)
}

impl<B, S> Conn<'_, B, S>
where
    B: Backend,
    S: AsyncRead + AsyncWrite + Unpin + Send,
{
    async fn run(&mut self) {
        loop {
            let (used, next) = self.dechunker.take_message(&self.inbuf[self.inpos..]);
            self.inpos += used;
            match next {
                Err(FrameError::TooLarge { limit }) => {
                    self.respond(Response::Failure(protocol_error(format!(
                        "message exceeds the maximum size of {limit} bytes"
                    ))));
                    let _ = self.flush().await;
                    return;
                }
                Ok(Some(msg)) => {
                    self.pulse.busy();
                    let reset_queued = self.reset_queued();
                    let flow = self.handle(&msg, reset_queued).await;
                    drop(msg);
                    if let Flow::Close = flow {
                        let _ = self.flush().await;
                        return;
                    }
                    if self.out.len() >= self.config.output_flush_threshold
                        && self.flush().await.is_err()
                    {
                        return;
                    }
                }
                Ok(None) => {
                    if self.flush().await.is_err() {
                        return;
                    }
                    // Every answer is out: the client is not waiting on us.
                    self.pulse.idle();
                    if !self.read_more().await {
                        return;
                    }
                }
            }
        }
    }

    fn reset_queued(&self) -> bool {
        chunk::buffered_message_starts_with(
            &self.inbuf[self.inpos..],
            [0xB0, tag::RESET],
            RESET_LOOKAHEAD,
        )
    }

    /// Drops consumed bytes from the front of the input buffer.
    fn compact_input(&mut self) {
        self.inbuf.drain(..self.inpos);
        self.inpos = 0;
    }

    /// Waits for more bytes. False when the connection should end (EOF,
    /// error, shutdown).
    async fn read_more(&mut self) -> bool {
        if self.input_closed {
            return false;
        }
        self.compact_input();
        if self.inbuf.is_empty() && !self.dechunker.mid_message() {
            return self.read_idle().await;
        }
        let old = self.inbuf.len();
        let room = self
            .config
            .input_buffer_limit
            .saturating_sub(old)
            .min(self.config.read_chunk_size);
        if room == 0 {
            // Cannot happen with a validated config (a whole chunk always
            // fits), but never spin.
            warn!(conn = %self.id, "Bolt input buffer full without a complete chunk");
            return false;
        }
        self.inbuf.resize(old + room, 0);
        let closable = self.closable();
        let result = tokio::select! {
            biased;
            r = self.reader.read(&mut self.inbuf[old..]) => Some(r),
            _ = shutdown_requested(&mut self.shutdown), if closable => None,
            _ = deadline(self.auth_deadline) => {
                debug!("client did not authenticate in time; closing");
                None
            }
        };
        match result {
            Some(Ok(n)) if n > 0 => {
                self.inbuf.truncate(old + n);
                true
            }
            _ => {
                self.inbuf.truncate(old);
                false
            }
        }
    }

    /// Whether a shutdown may close this connection now. Inside a
    /// transaction or an open result it may not: the client's next message
    /// is likely its COMMIT, and a connection closed under a COMMIT leaves
    /// the client unable to tell whether it committed (the drivers raise
    /// IncompleteCommit and do not retry). Such a connection closes once the
    /// transaction ends, or when the listener's shutdown grace runs out.
    fn closable(&self) -> bool {
        !matches!(
            self.state,
            State::Streaming | State::TxReady | State::TxStreaming
        )
    }

    /// Waits for the next request between messages, holding no buffers.
    async fn read_idle(&mut self) -> bool {
        self.inbuf = Vec::new();
        self.inpos = 0;
        if self.out.is_empty() {
            self.out = Vec::new();
        }
        let mut first = [0u8; IDLE_READ_SIZE];
        let closable = self.closable();
        let result = tokio::select! {
            biased;
            r = self.reader.read(&mut first) => Some(r),
            _ = shutdown_requested(&mut self.shutdown), if closable => None,
            _ = deadline(self.auth_deadline) => {
                debug!("client did not authenticate in time; closing");
                None
            }
        };
        match result {
            Some(Ok(n)) if n > 0 => {
                self.inbuf.extend_from_slice(&first[..n]);
                true
            }
            _ => false,
        }
    }

    /// Non-blocking look at the socket while a long PULL is running, so that
    /// a RESET sent meanwhile can interrupt it.
    fn read_ahead(&mut self) {
        self.compact_input();
        let old = self.inbuf.len();
        let room = self
            .config
            .input_buffer_limit
            .saturating_sub(old)
            .min(self.config.read_chunk_size);
        if room == 0 || self.input_closed {
            return;
        }
        self.inbuf.resize(old + room, 0);
        let mut cx = Context::from_waker(Waker::noop());
        let mut rb = ReadBuf::new(&mut self.inbuf[old..]);
        let n = match Pin::new(&mut self.reader).poll_read(&mut cx, &mut rb) {
            Poll::Ready(Ok(())) => {
                let n = rb.filled().len();
                if n == 0 {
                    self.input_closed = true;
                }
                n
            }
            Poll::Ready(Err(_)) => {
                self.input_closed = true;
                0
            }
            Poll::Pending => 0,
        };
        self.inbuf.truncate(old + n);
    }

    async fn flush(&mut self) -> Result<(), ()> {
        if self.output_broken || self.pulse.torn() {
            return Err(());
        }
        if !self.out.is_empty() {
            let write = async {
                let mut w = self.writer.lock().await;
                w.write_all(&self.out).await?;
                w.flush().await?;
                self.pulse.wrote();
                Ok::<(), std::io::Error>(())
            };
            match tokio::time::timeout(self.config.write_timeout, write).await {
                Ok(Ok(())) => {}
                Ok(Err(_)) => {
                    self.output_broken = true;
                    return Err(());
                }
                Err(_) => {
                    debug!(conn = %self.id, "client did not read responses in time; closing");
                    self.output_broken = true;
                    return Err(());
                }
            }
            self.out.clear();
        }
        if self.out.capacity() > SHRINK_ABOVE {
            self.out = Vec::new();
        }
        Ok(())
    }

    fn respond(&mut self, resp: Response) {
        if let Err(e) = message::encode_response(&mut self.out, &resp, self.version) {
            // Only metadata supplied by the backend can fail to encode.
            warn!(conn = %self.id, error = %e, "could not encode Bolt response");
            let fallback = Response::Failure(e);
            let _ = message::encode_response(&mut self.out, &fallback, self.version);
        }
    }

    fn success(&mut self, meta: Map) {
        self.respond(Response::Success(meta));
    }

    /// A request that is illegal in the current state: FAILURE, then close.
    fn violation(&mut self, req: &str) -> Flow {
        debug!(conn = %self.id, state = ?self.state, req, "Bolt protocol violation");
        self.respond(Response::Failure(protocol_error(format!(
            "{req} is not allowed in state {:?}",
            self.state
        ))));
        Flow::Close
    }

    /// A failed request: FAILURE, abandon any transaction, enter FAILED.
    async fn fail(&mut self, err: Error) {
        self.respond(Response::Failure(err));
        self.abandon_tx().await;
        self.state = State::Failed;
    }

    async fn abandon_tx(&mut self) {
        if let Some(open) = self.tx.take() {
            drop(open.streams);
            if let Some(session) = self.session.as_mut() {
                session.rollback(open.tx).await;
            }
        }
    }

    async fn cleanup(&mut self) {
        self.abandon_tx().await;
        self.session = None;
    }

    async fn handle(&mut self, msg: &[u8], reset_queued: bool) -> Flow {
        let limits = message::DecodeLimits {
            max_depth: self.config.max_nesting_depth,
            max_values: self.config.max_values_per_message,
        };
        let req = match message::decode_request(msg, self.version, limits) {
            Ok(r) => r,
            Err(DecodeError { error, fatal }) => {
                debug!(conn = %self.id, error = %error, fatal, "undecodable Bolt request");
                if fatal || matches!(self.state, State::Negotiation | State::Authentication) {
                    self.respond(Response::Failure(error));
                    return Flow::Close;
                }
                if self.state == State::Failed || reset_queued {
                    self.respond(Response::Ignored);
                } else {
                    self.fail(error).await;
                }
                return Flow::Continue;
            }
        };
        match req {
            Request::Goodbye => return Flow::Close,
            Request::Reset => return self.reset().await,
            _ => {}
        }
        if self.state == State::Negotiation {
            return match req {
                Request::Hello(h) => self.hello(h).await,
                other => self.violation(other.name()),
            };
        }
        // A queued RESET interrupts work, not authentication: LOGON is
        // answered normally so the client learns whether it is logged in.
        let interrupted = reset_queued && self.state != State::Authentication;
        if self.state == State::Failed || interrupted {
            self.respond(Response::Ignored);
            return Flow::Continue;
        }
        match (self.state, req) {
            (State::Authentication, Request::Logon(token)) => self.logon(token).await,
            (State::Ready, Request::Logoff) => {
                self.session = None;
                self.state = State::Authentication;
                self.auth_deadline = Some(tokio::time::Instant::now() + self.config.auth_timeout);
                self.success(Map::new());
                Flow::Continue
            }
            (
                State::Ready,
                Request::Run {
                    query,
                    params,
                    extra,
                },
            ) => self.run_auto_commit(query, params, extra).await,
            (State::TxReady | State::TxStreaming, Request::Run { query, params, .. }) => {
                // Keys in an in-transaction RUN (neo4rs sends `db`) are
                // ignored: the transaction already fixed them.
                self.run_in_tx(query, params).await
            }
            (State::Ready, Request::Begin(extra)) => self.begin(extra).await,
            (State::Streaming | State::TxStreaming, Request::Pull(args)) => {
                self.pull(args, false).await
            }
            (State::Streaming | State::TxStreaming, Request::Discard(args)) => {
                self.pull(args, true).await
            }
            (State::TxReady | State::TxStreaming, Request::Commit) => self.commit().await,
            (State::TxReady | State::TxStreaming, Request::Rollback) => {
                self.abandon_tx().await;
                self.state = State::Ready;
                self.success(Map::new());
                Flow::Continue
            }
            (State::Ready, Request::Route(args)) => self.route(args).await,
            (State::Ready, Request::Telemetry(api)) => {
                if (0..=3).contains(&api) {
                    self.success(Map::new());
                } else {
                    self.fail(protocol_error(format!("unknown TELEMETRY api {api}")))
                        .await;
                }
                Flow::Continue
            }
            (_, other) => self.violation(other.name()),
        }
    }

    async fn reset(&mut self) -> Flow {
        match self.state {
            State::Negotiation => self.violation("RESET"),
            State::Authentication => {
                self.success(Map::new());
                Flow::Continue
            }
            _ => {
                self.abandon_tx().await;
                self.state = if self.session.is_some() {
                    State::Ready
                } else {
                    State::Authentication
                };
                self.success(Map::new());
                Flow::Continue
            }
        }
    }

    fn hello_metadata(&self) -> Map {
        let mut meta = Map::new();
        meta.insert(
            "server".to_owned(),
            Value::String(self.config.server_agent.clone()),
        );
        meta.insert("connection_id".to_owned(), Value::String(self.id.clone()));
        if self.version.has_hints() {
            // Only hints we honour: the read timeout is backed by the
            // keep-alive thread's NOOPs (no telemetry wish).
            let mut hints = Map::new();
            if let Some(hint) = self.config.recv_timeout_hint {
                hints.insert(
                    "connection.recv_timeout_seconds".to_owned(),
                    Value::Int(i64::try_from(hint.as_secs()).unwrap_or(i64::MAX)),
                );
            }
            meta.insert("hints".to_owned(), Value::Map(hints));
        }
        if self.version.utc_patch {
            meta.insert(
                "patch_bolt".to_owned(),
                Value::List(vec![Value::from("utc")]),
            );
        }
        meta
    }

    async fn hello(&mut self, hello: message::Hello) -> Flow {
        debug!(
            conn = %self.id,
            user_agent = hello.user_agent.as_deref().unwrap_or(""),
            routing = hello.routing.is_some(),
            "HELLO"
        );
        self.routing = hello.routing;
        if self.version.accepts_utc_patch() && hello.patch_bolt.iter().any(|p| p == "utc") {
            // From the HELLO SUCCESS on, both directions use 'I'/'i'.
            self.version = self.version.with_utc_patch();
        }
        if self.version.has_logon() {
            self.state = State::Authentication;
        } else {
            let token = hello.auth.unwrap_or_else(|| AuthToken {
                scheme: "none".to_owned(),
                principal: None,
                credentials: None,
                extra: Map::new(),
            });
            match self.backend.authenticate(&token, self.peer).await {
                Ok(session) => {
                    self.session = Some(session);
                    self.state = State::Ready;
                    self.auth_deadline = None;
                }
                Err(e) => {
                    self.respond(Response::Failure(e));
                    return Flow::Close;
                }
            }
        }
        let mut meta = self.hello_metadata();
        self.note_expired_credentials(&mut meta);
        self.success(meta);
        Flow::Continue
    }

    fn note_expired_credentials(&self, meta: &mut Map) {
        if self
            .session
            .as_ref()
            .is_some_and(|s| s.credentials_expired())
        {
            meta.insert("credentials_expired".to_owned(), Value::Bool(true));
        }
    }

    async fn logon(&mut self, token: AuthToken) -> Flow {
        match self.backend.authenticate(&token, self.peer).await {
            Ok(session) => {
                self.session = Some(session);
                self.state = State::Ready;
                self.auth_deadline = None;
                let mut meta = Map::new();
                self.note_expired_credentials(&mut meta);
                self.success(meta);
                Flow::Continue
            }
            Err(e) => {
                self.respond(Response::Failure(e));
                Flow::Close
            }
        }
    }

    fn begin_request(&self, extra: TxExtra, auto_commit: bool) -> BeginRequest {
        BeginRequest {
            db: extra.db,
            mode: extra.mode.unwrap_or(AccessMode::Write),
            bookmarks: extra.bookmarks,
            tx_timeout: extra.tx_timeout,
            tx_metadata: extra.tx_metadata,
            imp_user: extra.imp_user,
            auto_commit,
            routing: self.routing.clone(),
            forward: extra.forward,
        }
    }

    async fn begin(&mut self, extra: TxExtra) -> Flow {
        let req = self.begin_request(extra, false);
        let Some(session) = self.session.as_mut() else {
            return self.violation("BEGIN");
        };
        match session.begin(req).await {
            Ok(tx) => {
                self.tx = Some(OpenTx {
                    tx,
                    auto_commit: false,
                    streams: Vec::new(),
                    next_qid: 0,
                });
                self.state = State::TxReady;
                self.success(Map::new());
            }
            Err(e) => self.fail(e).await,
        }
        Flow::Continue
    }

    async fn run_auto_commit(&mut self, query: String, params: Map, extra: TxExtra) -> Flow {
        let req = self.begin_request(extra, true);
        let Some(session) = self.session.as_mut() else {
            return self.violation("RUN");
        };
        let started = Instant::now();
        let mut tx = match session.begin(req).await {
            Ok(tx) => tx,
            Err(e) => {
                self.fail(e).await;
                return Flow::Continue;
            }
        };
        match session.run(&mut tx, query, params).await {
            Ok(result) => {
                let meta = run_metadata(&result, started.elapsed(), None);
                self.tx = Some(OpenTx {
                    tx,
                    auto_commit: true,
                    streams: vec![new_stream(0, result)],
                    next_qid: 1,
                });
                self.state = State::Streaming;
                self.success(meta);
            }
            Err(e) => {
                session.rollback(tx).await;
                self.fail(e).await;
            }
        }
        Flow::Continue
    }

    async fn run_in_tx(&mut self, query: String, params: Map) -> Flow {
        let (Some(session), Some(open)) = (self.session.as_mut(), self.tx.as_mut()) else {
            return self.violation("RUN");
        };
        if open.streams.len() >= self.config.max_open_results {
            let limit = self.config.max_open_results;
            self.fail(protocol_error(format!(
                "more than {limit} open results in one transaction; consume or discard some first"
            )))
            .await;
            return Flow::Continue;
        }
        let started = Instant::now();
        match session.run(&mut open.tx, query, params).await {
            Ok(result) => {
                let qid = open.next_qid;
                open.next_qid += 1;
                let meta = run_metadata(&result, started.elapsed(), Some(qid));
                open.streams.push(new_stream(qid, result));
                self.state = State::TxStreaming;
                self.success(meta);
            }
            Err(e) => self.fail(e).await,
        }
        Flow::Continue
    }

    async fn commit(&mut self) -> Flow {
        // Send what the transaction produced before waiting for the commit:
        // a client (or a member routing for one) then holds the results
        // before the only step whose outcome it might have to learn another
        // way, should this server die mid-commit.
        if !self.out.is_empty() {
            let _ = self.flush().await;
        }
        let (Some(session), Some(open)) = (self.session.as_mut(), self.tx.take()) else {
            return self.violation("COMMIT");
        };
        // Results still open are discarded: neo4rs may commit without
        // draining them.
        drop(open.streams);
        match session.commit(open.tx).await {
            Ok(info) => {
                self.state = State::Ready;
                let mut meta = Map::new();
                meta.insert("bookmark".to_owned(), Value::String(info.bookmark));
                self.success(meta);
            }
            Err(e) => self.fail(e).await,
        }
        Flow::Continue
    }

    async fn route(&mut self, args: message::RouteArgs) -> Flow {
        let Some(session) = self.session.as_mut() else {
            return self.violation("ROUTE");
        };
        let req = RouteRequest {
            routing: args.routing,
            bookmarks: args.bookmarks,
            db: args.db,
            imp_user: args.imp_user,
        };
        match session.route(req).await {
            Ok(table) => {
                let role = |name: &str, addrs: Vec<String>| {
                    let mut m = Map::new();
                    m.insert("addresses".to_owned(), Value::from(addrs));
                    m.insert("role".to_owned(), Value::from(name));
                    Value::Map(m)
                };
                let mut rt = Map::new();
                rt.insert("ttl".to_owned(), Value::Int(table.ttl_secs));
                if self.version.route_has_extra() {
                    rt.insert("db".to_owned(), Value::String(table.db));
                }
                rt.insert(
                    "servers".to_owned(),
                    Value::List(vec![
                        role("ROUTE", table.routers),
                        role("READ", table.readers),
                        role("WRITE", table.writers),
                    ]),
                );
                let mut meta = Map::new();
                meta.insert("rt".to_owned(), Value::Map(rt));
                self.success(meta);
            }
            Err(e) => self.fail(e).await,
        }
        Flow::Continue
    }

    /// PULL (or DISCARD when `discard`): streams up to `n` rows of the
    /// result `qid`, then a summary.
    async fn pull(&mut self, args: StreamArgs, discard: bool) -> Flow {
        let what = if discard { "DISCARD" } else { "PULL" };
        let Some(open) = self.tx.as_mut() else {
            return self.violation(what);
        };
        let idx = if args.qid == -1 {
            open.streams.len().checked_sub(1)
        } else {
            open.streams.iter().position(|s| s.qid == args.qid)
        };
        let Some(idx) = idx else {
            self.fail(protocol_error(format!(
                "no open result with qid {}",
                args.qid
            )))
            .await;
            return Flow::Continue;
        };
        let mut remaining: u64 = if args.n < 0 { u64::MAX } else { args.n as u64 };
        let version = self.version;
        let batch_rows = self.config.pull_batch_rows as u64;
        let flush_at = self.config.output_flush_threshold;
        let limits = BatchLimits {
            flush_at,
            max_record: self.config.max_record_size,
        };
        let end = loop {
            let Some(open) = self.tx.as_mut() else {
                return self.violation(what);
            };
            let Some(stream) = open.streams.get_mut(idx) else {
                return self.violation(what);
            };
            let want = remaining.min(batch_rows);
            let out = &mut self.out;
            let started = Instant::now();
            // Handing the worker thread over (block_in_place) costs more than
            // a small query does, halving throughput for point reads, so a
            // stream is pulled inline until it has proved heavy.
            let (end, produced) = if stream.pulling >= INLINE_PULL_BUDGET {
                blocking(|| pull_batch(stream, out, version, want, limits, discard))
            } else {
                pull_batch(stream, out, version, want, limits, discard)
            };
            stream.pulling += started.elapsed();
            remaining -= produced;
            match end {
                BatchEnd::Exhausted | BatchEnd::Failed(_) => break end,
                BatchEnd::Paused if remaining == 0 => break end,
                BatchEnd::Paused => {}
            }
            if self.out.len() >= flush_at && self.flush().await.is_err() {
                return Flow::Close;
            }
            self.read_ahead();
            if self.reset_queued() {
                // The client gave up on this result; RESET will clean up.
                self.respond(Response::Ignored);
                return Flow::Continue;
            }
        };
        match end {
            BatchEnd::Failed(e) => {
                self.fail(e).await;
                Flow::Continue
            }
            BatchEnd::Paused => {
                let mut meta = Map::new();
                meta.insert("has_more".to_owned(), Value::Bool(true));
                self.success(meta);
                Flow::Continue
            }
            BatchEnd::Exhausted => self.finish_stream(idx).await,
        }
    }

    async fn finish_stream(&mut self, idx: usize) -> Flow {
        let Some(open) = self.tx.as_mut() else {
            return self.violation("PULL");
        };
        if idx >= open.streams.len() {
            return self.violation("PULL");
        }
        let stream = open.streams.remove(idx);
        let mut meta = summary_metadata(&stream);
        if open.auto_commit {
            let Some(open) = self.tx.take() else {
                return self.violation("PULL");
            };
            let Some(session) = self.session.as_mut() else {
                return self.violation("PULL");
            };
            match session.commit(open.tx).await {
                Ok(info) => {
                    meta.insert("bookmark".to_owned(), Value::String(info.bookmark));
                    self.state = State::Ready;
                }
                Err(e) => {
                    self.fail(e).await;
                    return Flow::Continue;
                }
            }
        } else {
            self.state = if open.streams.is_empty() {
                State::TxReady
            } else {
                State::TxStreaming
            };
        }
        self.success(meta);
        Flow::Continue
    }
}

fn new_stream(qid: i64, r: RunResult) -> ResultStream {
    ResultStream {
        qid,
        rows: r.rows.peekable(),
        query_type: r.query_type,
        counters: r.counters,
        plan: r.plan,
        profile: r.profile,
        db: r.db,
        pulling: Duration::ZERO,
    }
}

fn run_metadata(r: &RunResult, elapsed: Duration, qid: Option<i64>) -> Map {
    let mut meta = Map::new();
    meta.insert(
        "fields".to_owned(),
        Value::List(r.fields.iter().map(|f| Value::String(f.clone())).collect()),
    );
    meta.insert("t_first".to_owned(), ms(elapsed));
    if let Some(qid) = qid {
        meta.insert("qid".to_owned(), Value::Int(qid));
    }
    meta
}

/// The final PULL/DISCARD metadata (without the bookmark).
fn summary_metadata(s: &ResultStream) -> Map {
    let mut meta = Map::new();
    meta.insert("type".to_owned(), Value::from(s.query_type.as_str()));
    meta.insert("t_last".to_owned(), ms(s.pulling));
    meta.insert("db".to_owned(), Value::String(s.db.clone()));
    let mut stats = Map::new();
    for (k, v) in s.counters.entries() {
        if v != 0 {
            stats.insert(k.to_owned(), Value::Int(v));
        }
    }
    if s.counters.contains_updates() {
        stats.insert("contains-updates".to_owned(), Value::Bool(true));
    }
    if s.counters.system_updates != 0 {
        stats.insert("contains-system-updates".to_owned(), Value::Bool(true));
    }
    if !stats.is_empty() {
        meta.insert("stats".to_owned(), Value::Map(stats));
    }
    if let Some(plan) = &s.plan {
        let key = if s.profile { "profile" } else { "plan" };
        meta.insert(key.to_owned(), Value::Map(plan.clone()));
    }
    meta
}

/// Moves up to `want` rows from the stream into `out` as RECORDs (or drops
/// them when discarding). Stops early once `out` reaches `flush_at` so the
/// caller can flush. Returns how the batch ended and how many rows it took.
fn pull_batch(
    stream: &mut ResultStream,
    out: &mut Vec<u8>,
    version: Version,
    want: u64,
    limits: BatchLimits,
    discard: bool,
) -> (BatchEnd, u64) {
    let mut produced = 0;
    while produced < want {
        match stream.rows.next() {
            None => return (BatchEnd::Exhausted, produced),
            Some(Err(e)) => return (BatchEnd::Failed(e), produced),
            Some(Ok(row)) => {
                produced += 1;
                if !discard {
                    let before = out.len();
                    if let Err(e) = message::encode_record(out, &row, version) {
                        return (BatchEnd::Failed(e), produced);
                    }
                    let size = out.len() - before;
                    if size > limits.max_record {
                        out.truncate(before);
                        return (
                            BatchEnd::Failed(Error::new(
                                Code::Unknown,
                                format!(
                                    "a result row of {size} bytes exceeds the limit of {} bytes",
                                    limits.max_record
                                ),
                            )),
                            produced,
                        );
                    }
                    if out.len() >= limits.flush_at && produced < want {
                        return (BatchEnd::Paused, produced);
                    }
                }
            }
        }
    }
    // Peeking tells the client whether to ask again; an error waiting in the
    // stream is reported by the next PULL.
    if stream.rows.peek().is_none() {
        (BatchEnd::Exhausted, produced)
    } else {
        (BatchEnd::Paused, produced)
    }
}
