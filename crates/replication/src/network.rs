//! Member-to-member transport: framed TCP with an authenticated handshake.
//!
//! Every frame is `[length: u32 BE][postcard body]`, at most
//! [`MAX_FRAME_BYTES`]. A connection opens with a handshake:
//!
//! 1. the caller sends `Hello` (protocol version, its node id, the node id
//!    it expects to reach, its cluster id, a random nonce);
//! 2. the callee checks version, node id and cluster id, and answers with
//!    its own nonce and an HMAC-SHA256 proof over both nonces keyed with the
//!    cluster secret, or with `Refuse` and a reason that both sides log;
//! 3. the caller checks that proof and sends its own.
//!
//! Only then do requests flow, one at a time per connection, each answered
//! before the next (openraft keeps one client per peer and stream, so this
//! bounds what a connection can queue). Snapshots travel in chunks of
//! [`SNAPSHOT_CHUNK_BYTES`]. Each request carries a sequence number that its
//! answer repeats: openraft abandons a heartbeat that takes longer than the
//! heartbeat interval, and the late answer must then be skipped, never read
//! as the answer to the next request on that connection.
//!
//! Invariants: a member never talks Raft with a peer that has not proved
//! the secret; a member that belongs to one cluster refuses callers from
//! another; a caller that expects node X at an address and finds node Y (a
//! wiped data directory) is refused, never silently merged; an answer is
//! only ever taken as the answer to the request that carried its number.

use std::collections::{HashSet, VecDeque};
use std::future::Future;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use causeway_net::{BoxStream, Listener, Net};
use hmac::{Hmac, Mac};
use openraft::alias::{SnapshotMetaOf, SnapshotOf, VoteOf};
use openraft::errors::{NetworkError, RPCError, ReplicationClosed, StreamingError, Unreachable};
use openraft::network::{RPCOption, RaftNetworkFactory, RaftNetworkV2};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, SnapshotResponse, TransferLeaderRequest,
    TransferLeaderResponse, VoteRequest, VoteResponse,
};
use openraft::OptionalSend;
use parking_lot::RwLock;
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::{Member, TypeConfig};

const MAGIC: [u8; 4] = *b"CWRP";
/// 2: requests and answers carry a sequence number.
pub const PROTOCOL_VERSION: u16 = 2;
/// Largest frame: an append batch (openraft sends at most
/// `max_payload_entries` entries, each at most one transaction's change set).
pub const MAX_FRAME_BYTES: usize = 512 << 20;
pub const SNAPSHOT_CHUNK_BYTES: usize = 8 << 20;
/// Largest snapshot a member accepts.
pub const MAX_SNAPSHOT_BYTES: u64 = 16 << 30;
/// Concurrent inbound connections; more are closed at once.
pub const MAX_INBOUND_CONNECTIONS: usize = 256;
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(5);
const CONNECT_TIMEOUT: Duration = Duration::from_millis(500);
/// A connection that carries no request for this long is closed.
const IDLE_TIMEOUT: Duration = Duration::from_secs(300);
/// The least time a request may take to be written, and the longest an
/// abandoned request's answer is waited for before its connection is
/// replaced. openraft asks for heartbeat answers within one heartbeat
/// interval (50 ms) and abandons the call after that, which costs nothing
/// here (the late answer is skipped); a connection given up by this
/// transport is replaced instead, and the data it carried sent again while
/// the follower may still work on the first copy, so that is kept rare.
const MIN_CALL_TIMEOUT: Duration = Duration::from_secs(2);
/// While a callee works on a request it says so this often (`Working`), so
/// that a caller can tell a slow answer from a connection that died
/// without a reset (a dropped route, a flushed NAT table, a dead host)...
const KEEPALIVE_EVERY: Duration = Duration::from_millis(100);
/// ...which it takes to be the case after this long without a frame.
const SILENCE_LIMIT: Duration = Duration::from_millis(600);
/// Requests a connection may have sent whose answers were abandoned and
/// not read yet; beyond this (or once the oldest has waited
/// [`MIN_CALL_TIMEOUT`]) the connection is taken for stuck and replaced.
const MAX_UNANSWERED: usize = 64;
/// A caller's read buffer is given back once empty if it grew past this
/// (a snapshot answer or a large append batch).
const RBUF_KEEP_BYTES: usize = 1 << 20;

type Vote = VoteOf<TypeConfig>;
type SnapshotMeta = SnapshotMetaOf<TypeConfig>;
type HmacSha256 = Hmac<Sha256>;

/// Who this member is: its node id (kept in the data directory, so that a
/// restart is the same member) and the cluster it belongs to, once known.
pub struct Identity {
    pub node_id: u64,
    cluster_id: RwLock<Option<String>>,
    path: PathBuf,
}

#[derive(Serialize, Deserialize)]
struct IdentityFile {
    node_id: u64,
    cluster_id: Option<String>,
}

impl Identity {
    pub fn load_or_create(dir: &Path) -> io::Result<Identity> {
        std::fs::create_dir_all(dir)?;
        let path = dir.join("member.json");
        let file: IdentityFile = match std::fs::read(&path) {
            Ok(b) => serde_json::from_slice(&b).map_err(|e| {
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("{}: {e}", path.display()),
                )
            })?,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                // Zero is reserved: it never names a member.
                let f = IdentityFile {
                    node_id: crate::random::u64().max(1) >> 1,
                    cluster_id: None,
                };
                write_json(&path, &f)?;
                f
            }
            Err(e) => return Err(e),
        };
        Ok(Identity {
            node_id: file.node_id,
            cluster_id: RwLock::new(file.cluster_id),
            path,
        })
    }

    /// A single server's identity: never written, never joins a cluster.
    pub fn ephemeral(node_id: u64) -> Identity {
        Identity {
            node_id,
            cluster_id: RwLock::new(None),
            path: PathBuf::new(),
        }
    }

    pub fn cluster_id(&self) -> Option<String> {
        self.cluster_id.read().clone()
    }

    /// Records the cluster this member belongs to; refuses to change it.
    pub fn join(&self, cluster_id: &str) -> io::Result<()> {
        let mut cur = self.cluster_id.write();
        match cur.as_deref() {
            Some(c) if c == cluster_id => Ok(()),
            Some(c) => Err(io::Error::other(format!(
                "this member belongs to cluster {c}, not {cluster_id}"
            ))),
            None => {
                write_json(
                    &self.path,
                    &IdentityFile {
                        node_id: self.node_id,
                        cluster_id: Some(cluster_id.to_owned()),
                    },
                )?;
                *cur = Some(cluster_id.to_owned());
                Ok(())
            }
        }
    }
}

fn write_json<T: Serialize>(path: &Path, v: &T) -> io::Result<()> {
    use std::io::Write;
    let tmp = path.with_extension("tmp");
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(&serde_json::to_vec_pretty(v).map_err(io::Error::other)?)?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)?;
    crate::wal::sync_dir(path.parent().unwrap_or(Path::new(".")))
}

/// Faults the tests inject: messages to and from `blocked` node ids are
/// dropped, as a network partition would; requests from `mute` node ids
/// are carried out but never answered, as when only the way back is cut.
#[derive(Default)]
pub struct Faults {
    blocked: RwLock<HashSet<u64>>,
    mute: RwLock<HashSet<u64>>,
}

impl Faults {
    pub fn set_blocked(&self, ids: HashSet<u64>) {
        *self.blocked.write() = ids;
    }
    pub fn blocked(&self) -> Vec<u64> {
        self.blocked.read().iter().copied().collect()
    }
    fn is_blocked(&self, id: u64) -> bool {
        self.blocked.read().contains(&id)
    }
    pub fn set_mute(&self, ids: HashSet<u64>) {
        *self.mute.write() = ids;
    }
    fn is_mute(&self, id: u64) -> bool {
        self.mute.read().contains(&id)
    }
}

/// What every connection of this member shares.
pub struct NetContext {
    pub identity: Arc<Identity>,
    pub secret: Vec<u8>,
    pub me: Member,
    pub faults: Arc<Faults>,
    pub net: Net,
}

#[derive(Serialize, Deserialize)]
struct Hello {
    magic: [u8; 4],
    version: u16,
    from: u64,
    target: Option<u64>,
    cluster_id: Option<String>,
    nonce: [u8; 32],
}

#[derive(Serialize, Deserialize)]
enum HelloReply {
    Accept {
        node_id: u64,
        cluster_id: Option<String>,
        nonce: [u8; 32],
        proof: Vec<u8>,
    },
    Refuse {
        reason: String,
    },
}

#[derive(Serialize, Deserialize)]
struct ClientProof {
    proof: Vec<u8>,
}

/// What a member says about itself when probed (cluster formation).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PeerInfo {
    pub node_id: u64,
    pub cluster_id: Option<String>,
    pub member: Member,
}

#[derive(Serialize, Deserialize)]
enum Request {
    Identify,
    Append(AppendEntriesRequest<TypeConfig>),
    Vote(VoteRequest<TypeConfig>),
    PreVote(VoteRequest<TypeConfig>),
    SnapshotBegin {
        vote: Vote,
        meta: SnapshotMeta,
        total: u64,
    },
    SnapshotChunk {
        data: Vec<u8>,
        last: bool,
    },
    TransferLeader(TransferLeaderRequest<TypeConfig>),
    /// The callee's last log index (choosing who campaigns after a crash).
    LastLog,
    /// A read replica asks to be added as a learner.
    Join(Member),
}

#[derive(Serialize, Deserialize)]
enum Response {
    Identity(PeerInfo),
    Append(Result<AppendEntriesResponse<TypeConfig>, String>),
    Vote(Result<VoteResponse<TypeConfig>, String>),
    ChunkAccepted,
    /// Not an answer: the callee is still working on the request.
    Working,
    Snapshot(Result<SnapshotResponse<TypeConfig>, String>),
    TransferLeader(Result<TransferLeaderResponse<TypeConfig>, String>),
    LastLog(Option<u64>),
    Join(Result<(), String>),
}

fn proof(secret: &[u8], label: &[u8], a: &[u8; 32], b: &[u8; 32]) -> HmacSha256 {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = HmacSha256::new_from_slice(secret).expect("hmac takes any key length");
    mac.update(label);
    mac.update(a);
    mac.update(b);
    mac
}

async fn write_frame<T: Serialize>(sock: &mut BoxStream, msg: &T) -> io::Result<()> {
    let body = postcard::to_stdvec(msg).map_err(io::Error::other)?;
    if body.len() > MAX_FRAME_BYTES {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("frame of {} bytes exceeds {MAX_FRAME_BYTES}", body.len()),
        ));
    }
    let mut buf = Vec::with_capacity(body.len() + 4);
    buf.extend_from_slice(&(body.len() as u32).to_be_bytes());
    buf.extend_from_slice(&body);
    sock.write_all(&buf).await
}

async fn read_frame<T: for<'de> Deserialize<'de>>(sock: &mut BoxStream) -> io::Result<T> {
    let len = sock.read_u32().await? as usize;
    if len > MAX_FRAME_BYTES {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("frame of {len} bytes exceeds {MAX_FRAME_BYTES}"),
        ));
    }
    let mut body = vec![0u8; len];
    sock.read_exact(&mut body).await?;
    postcard::from_bytes(&body).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
}

/// Opens an authenticated connection to `addr`, expecting node `target`
/// there (`None` when probing an unknown member).
async fn connect(ctx: &NetContext, addr: &str, target: Option<u64>) -> io::Result<BoxStream> {
    let mut sock = tokio::time::timeout(CONNECT_TIMEOUT, ctx.net.connect(addr))
        .await
        .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, format!("connecting to {addr}")))??;
    let nonce: [u8; 32] = crate::random::array();
    let handshake = async {
        write_frame(
            &mut sock,
            &Hello {
                magic: MAGIC,
                version: PROTOCOL_VERSION,
                from: ctx.identity.node_id,
                target,
                cluster_id: ctx.identity.cluster_id(),
                nonce,
            },
        )
        .await?;
        match read_frame::<HelloReply>(&mut sock).await? {
            HelloReply::Refuse { reason } => Err(io::Error::new(
                io::ErrorKind::PermissionDenied,
                format!("{addr} refused this member: {reason}"),
            )),
            HelloReply::Accept {
                node_id,
                cluster_id,
                nonce: theirs,
                proof: p,
            } => {
                proof(&ctx.secret, b"causeway-callee", &nonce, &theirs)
                    .verify_slice(&p)
                    .map_err(|_| {
                        io::Error::new(
                            io::ErrorKind::PermissionDenied,
                            format!("{addr} does not know the cluster secret"),
                        )
                    })?;
                if target.is_some_and(|t| t != node_id) {
                    return Err(io::Error::new(
                        io::ErrorKind::PermissionDenied,
                        format!(
                            "{addr} is node {node_id}, not the expected node {}",
                            target.unwrap_or_default()
                        ),
                    ));
                }
                if let (Some(mine), Some(theirs)) = (ctx.identity.cluster_id(), &cluster_id) {
                    if &mine != theirs {
                        return Err(io::Error::new(
                            io::ErrorKind::PermissionDenied,
                            format!("{addr} belongs to cluster {theirs}, not {mine}"),
                        ));
                    }
                }
                let mine = proof(&ctx.secret, b"causeway-caller", &theirs, &nonce);
                write_frame(
                    &mut sock,
                    &ClientProof {
                        proof: mine.finalize().into_bytes().to_vec(),
                    },
                )
                .await
            }
        }
    };
    tokio::time::timeout(HANDSHAKE_TIMEOUT, handshake)
        .await
        .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, format!("handshake with {addr}")))??;
    Ok(sock)
}

/// Asks the member at `addr` who it is (cluster formation).
pub async fn probe(ctx: &NetContext, addr: &str) -> io::Result<PeerInfo> {
    match call_once(ctx, addr, None, &Request::Identify).await? {
        Response::Identity(info) => Ok(info),
        _ => Err(io::Error::other("unexpected answer to a probe")),
    }
}

/// One request on a fresh connection to `addr` (expecting member `target`
/// there, if known), for the rare calls outside openraft's own streams.
async fn call_once(
    ctx: &NetContext,
    addr: &str,
    target: Option<u64>,
    req: &Request,
) -> io::Result<Response> {
    let mut sock = connect(ctx, addr, target).await?;
    write_frame(&mut sock, &(0u64, req)).await?;
    match tokio::time::timeout(HANDSHAKE_TIMEOUT, read_frame::<(u64, Response)>(&mut sock)).await {
        Ok(r) => r.map(|(_, resp)| resp),
        Err(_) => Err(io::Error::new(io::ErrorKind::TimedOut, "cluster call")),
    }
}

/// The last log index of member `target`.
pub async fn last_log_of(ctx: &NetContext, addr: &str, target: u64) -> io::Result<Option<u64>> {
    match call_once(ctx, addr, Some(target), &Request::LastLog).await? {
        Response::LastLog(l) => Ok(l),
        _ => Err(io::Error::other("unexpected answer to LastLog")),
    }
}

/// Asks the core at `addr` to add this member as a read replica.
pub async fn ask_to_join(ctx: &NetContext, addr: &str, me: Member) -> io::Result<()> {
    match call_once(ctx, addr, None, &Request::Join(me)).await? {
        Response::Join(Ok(())) => Ok(()),
        Response::Join(Err(e)) => Err(io::Error::other(e)),
        _ => Err(io::Error::other("unexpected answer to Join")),
    }
}

/// Hands member `target` a leadership-transfer request.
pub async fn send_transfer(
    ctx: &NetContext,
    addr: &str,
    target: u64,
    req: TransferLeaderRequest<TypeConfig>,
) -> io::Result<()> {
    match call_once(ctx, addr, Some(target), &Request::TransferLeader(req)).await? {
        Response::TransferLeader(Ok(_)) => Ok(()),
        Response::TransferLeader(Err(e)) => Err(io::Error::other(e)),
        _ => Err(io::Error::other("unexpected answer to TransferLeader")),
    }
}

/// openraft's network factory: one [`Peer`] per target and stream.
#[derive(Clone)]
pub struct Network {
    pub ctx: Arc<NetContext>,
}

impl RaftNetworkFactory<TypeConfig> for Network {
    type Network = Peer;

    async fn new_client(&mut self, target: u64, node: &Member) -> Peer {
        Peer {
            ctx: self.ctx.clone(),
            target,
            addr: node.cluster.clone(),
            conn: None,
            connecting: None,
        }
    }
}

pub struct Peer {
    ctx: Arc<NetContext>,
    target: u64,
    addr: String,
    conn: Option<Conn>,
    /// A connection being opened. It runs as its own task so that a call
    /// openraft abandons (a heartbeat has 50 ms, and a handshake takes two
    /// round trips) does not abandon the handshake too: the next call picks
    /// it up, so a slow link still gets connected.
    connecting: Option<tokio::task::JoinHandle<io::Result<BoxStream>>>,
}

/// A caller's end of a connection. openraft may drop a call at any await
/// (a heartbeat gets one heartbeat interval), so everything here survives
/// that: reads go through `rbuf` (an abandoned read loses no bytes), a
/// write abandoned part-way marks the stream `torn`, and answers are
/// matched to requests by sequence number.
struct Conn {
    sock: BoxStream,
    rbuf: Vec<u8>,
    next_seq: u64,
    /// Requests sent whose answers have not been read, oldest first.
    unanswered: VecDeque<(u64, tokio::time::Instant)>,
    torn: bool,
}

impl Conn {
    fn new(sock: BoxStream) -> Conn {
        Conn {
            sock,
            rbuf: Vec::new(),
            next_seq: 1,
            unanswered: VecDeque::new(),
            torn: false,
        }
    }

    /// Whether a fresh connection should replace this one.
    fn worn_out(&self) -> bool {
        self.torn
            || self.unanswered.len() >= MAX_UNANSWERED
            || self
                .unanswered
                .front()
                .is_some_and(|(_, sent)| sent.elapsed() >= MIN_CALL_TIMEOUT)
    }

    /// Sends `req` (within `write_limit`) and waits for its answer for as
    /// long as the callee keeps saying it works on it.
    async fn exchange(&mut self, req: &Request, write_limit: Duration) -> io::Result<Response> {
        let seq = self.next_seq;
        self.next_seq += 1;
        self.torn = true;
        tokio::time::timeout(write_limit, write_frame(&mut self.sock, &(seq, req)))
            .await
            .map_err(|_| silent("could not send a request", write_limit))??;
        self.torn = false;
        self.unanswered
            .push_back((seq, tokio::time::Instant::now()));
        loop {
            let (got, resp): (u64, Response) =
                tokio::time::timeout(SILENCE_LIMIT, self.read_frame())
                    .await
                    .map_err(|_| silent("heard nothing", SILENCE_LIMIT))??;
            if matches!(resp, Response::Working) {
                continue;
            }
            while self.unanswered.front().is_some_and(|(s, _)| *s <= got) {
                self.unanswered.pop_front();
            }
            match got.cmp(&seq) {
                std::cmp::Ordering::Equal => return Ok(resp),
                // The late answer to a call openraft gave up on.
                std::cmp::Ordering::Less => continue,
                std::cmp::Ordering::Greater => {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        format!("answer {got} to a request not sent yet (last sent {seq})"),
                    ))
                }
            }
        }
    }

    /// Reads one frame; dropping this future part-way loses nothing, as
    /// the bytes read so far stay in `rbuf`.
    async fn read_frame<T: for<'de> Deserialize<'de>>(&mut self) -> io::Result<T> {
        loop {
            if let Some(head) = self.rbuf.first_chunk::<4>() {
                let len = u32::from_be_bytes(*head) as usize;
                if len > MAX_FRAME_BYTES {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        format!("frame of {len} bytes exceeds {MAX_FRAME_BYTES}"),
                    ));
                }
                if self.rbuf.len() >= 4 + len {
                    let v = postcard::from_bytes(&self.rbuf[4..4 + len]);
                    self.rbuf.drain(..4 + len);
                    if self.rbuf.is_empty() && self.rbuf.capacity() > RBUF_KEEP_BYTES {
                        self.rbuf = Vec::new();
                    }
                    return v.map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e));
                }
                self.rbuf.reserve(4 + len - self.rbuf.len());
            }
            if self.sock.read_buf(&mut self.rbuf).await? == 0 {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
        }
    }
}

/// Why a call failed: before anything was sent (the peer is unreachable),
/// or part-way (the outcome is unknown).
enum CallError {
    Unreachable(io::Error),
    Network(io::Error),
}

impl From<CallError> for RPCError<TypeConfig> {
    fn from(e: CallError) -> Self {
        match e {
            CallError::Unreachable(e) => RPCError::Unreachable(Unreachable::new(&e)),
            CallError::Network(e) => RPCError::Network(NetworkError::new(&e)),
        }
    }
}

impl From<CallError> for StreamingError<TypeConfig> {
    fn from(e: CallError) -> Self {
        match e {
            CallError::Unreachable(e) => StreamingError::Unreachable(Unreachable::new(&e)),
            CallError::Network(e) => StreamingError::Network(NetworkError::new(&e)),
        }
    }
}

impl Peer {
    async fn call(&mut self, req: &Request, ttl: Duration) -> Result<Response, CallError> {
        if self.ctx.faults.is_blocked(self.target) {
            return Err(CallError::Unreachable(io::Error::other(
                "blocked by an injected fault",
            )));
        }
        if self.conn.as_ref().is_some_and(Conn::worn_out) {
            self.conn = None;
        }
        if self.conn.is_none() {
            let pending = self.connecting.get_or_insert_with(|| {
                let (ctx, addr, target) = (self.ctx.clone(), self.addr.clone(), self.target);
                tokio::spawn(async move { connect(&ctx, &addr, Some(target)).await })
            });
            let connected = pending.await;
            self.connecting = None;
            let sock = connected
                .unwrap_or_else(|e| Err(io::Error::other(e)))
                .map_err(|e| {
                    if e.kind() == io::ErrorKind::PermissionDenied {
                        tracing::warn!(peer = %self.addr, error = %e, "cluster handshake refused");
                    }
                    CallError::Unreachable(e)
                })?;
            self.conn = Some(Conn::new(sock));
        }
        let Some(conn) = self.conn.as_mut() else {
            return Err(CallError::Unreachable(io::Error::other("not connected")));
        };
        match conn.exchange(req, ttl.max(MIN_CALL_TIMEOUT)).await {
            Ok(resp) => Ok(resp),
            Err(e) => {
                tracing::debug!(peer = %self.addr, error = %e, "cluster call failed");
                self.conn = None;
                Err(CallError::Network(e))
            }
        }
    }
}

fn silent(what: &str, limit: Duration) -> io::Error {
    io::Error::new(
        io::ErrorKind::TimedOut,
        format!("{what} within {limit:?}: the connection is taken for dead"),
    )
}

fn remote(e: String) -> CallError {
    CallError::Network(io::Error::other(format!("peer: {e}")))
}

fn unexpected() -> CallError {
    CallError::Network(io::Error::other("peer sent an unexpected answer"))
}

impl RaftNetworkV2<TypeConfig> for Peer {
    type SnapshotData = Vec<u8>;

    async fn append_entries(
        &mut self,
        rpc: AppendEntriesRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<AppendEntriesResponse<TypeConfig>, RPCError<TypeConfig>> {
        match self.call(&Request::Append(rpc), option.hard_ttl()).await? {
            Response::Append(r) => r.map_err(|e| remote(e).into()),
            _ => Err(unexpected().into()),
        }
    }

    async fn vote(
        &mut self,
        rpc: VoteRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<VoteResponse<TypeConfig>, RPCError<TypeConfig>> {
        self.ask_vote(&Request::Vote(rpc), option).await
    }

    async fn pre_vote(
        &mut self,
        rpc: VoteRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<VoteResponse<TypeConfig>, RPCError<TypeConfig>> {
        self.ask_vote(&Request::PreVote(rpc), option).await
    }

    async fn full_snapshot(
        &mut self,
        vote: Vote,
        snapshot: SnapshotOf<TypeConfig, Vec<u8>>,
        cancel: impl Future<Output = ReplicationClosed> + OptionalSend + 'static,
        option: RPCOption,
    ) -> Result<SnapshotResponse<TypeConfig>, StreamingError<TypeConfig>> {
        let send = async {
            let ttl = option.hard_ttl();
            let data = snapshot.snapshot;
            let begin = Request::SnapshotBegin {
                vote,
                meta: snapshot.meta,
                total: data.len() as u64,
            };
            chunk_accepted(self.call(&begin, ttl).await?)?;
            // Every snapshot ends with a chunk marked last, even an empty one.
            let mut chunks: Vec<&[u8]> = data.chunks(SNAPSHOT_CHUNK_BYTES).collect();
            let last = chunks.pop().unwrap_or_default();
            for chunk in chunks {
                let req = Request::SnapshotChunk {
                    data: chunk.to_vec(),
                    last: false,
                };
                chunk_accepted(self.call(&req, ttl).await?)?;
            }
            let req = Request::SnapshotChunk {
                data: last.to_vec(),
                last: true,
            };
            match self.call(&req, ttl).await? {
                Response::Snapshot(r) => r.map_err(remote),
                _ => Err(unexpected()),
            }
        };
        tokio::select! {
            biased;
            r = send => r.map_err(Into::into),
            closed = cancel => {
                self.conn = None;
                Err(StreamingError::Closed(closed))
            }
        }
    }

    async fn transfer_leader(
        &mut self,
        req: TransferLeaderRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<TransferLeaderResponse<TypeConfig>, RPCError<TypeConfig>> {
        match self
            .call(&Request::TransferLeader(req), option.hard_ttl())
            .await?
        {
            Response::TransferLeader(r) => r.map_err(|e| remote(e).into()),
            _ => Err(unexpected().into()),
        }
    }
}

impl Peer {
    async fn ask_vote(
        &mut self,
        req: &Request,
        option: RPCOption,
    ) -> Result<VoteResponse<TypeConfig>, RPCError<TypeConfig>> {
        match self.call(req, option.hard_ttl()).await? {
            Response::Vote(r) => r.map_err(|e| remote(e).into()),
            _ => Err(unexpected().into()),
        }
    }
}

/// The callee's answer to a snapshot's beginning or a middle chunk.
fn chunk_accepted(resp: Response) -> Result<(), CallError> {
    match resp {
        Response::ChunkAccepted => Ok(()),
        Response::Snapshot(Err(e)) => Err(remote(e)),
        _ => Err(unexpected()),
    }
}

/// The callee's side: what it needs from the Raft node.
pub trait Handler: Send + Sync + 'static {
    fn append(
        &self,
        rpc: AppendEntriesRequest<TypeConfig>,
    ) -> impl Future<Output = Result<AppendEntriesResponse<TypeConfig>, String>> + Send;
    fn vote(
        &self,
        rpc: VoteRequest<TypeConfig>,
        pre: bool,
    ) -> impl Future<Output = Result<VoteResponse<TypeConfig>, String>> + Send;
    fn snapshot(
        &self,
        vote: Vote,
        meta: SnapshotMeta,
        data: Vec<u8>,
    ) -> impl Future<Output = Result<SnapshotResponse<TypeConfig>, String>> + Send;
    fn transfer_leader(
        &self,
        req: TransferLeaderRequest<TypeConfig>,
    ) -> impl Future<Output = Result<TransferLeaderResponse<TypeConfig>, String>> + Send;
    fn last_log(&self) -> impl Future<Output = Option<u64>> + Send;
    fn join(&self, node_id: u64, member: Member)
        -> impl Future<Output = Result<(), String>> + Send;
    /// An authenticated connection from member `peer` has ended.
    fn peer_disconnected(&self, peer: u64) -> impl Future<Output = ()> + Send;
}

/// Accepts member connections until this task is aborted, which also ends
/// every connection it accepted (so none reaches a Raft node that has shut
/// down).
pub async fn serve<H: Handler>(listener: Box<dyn Listener>, ctx: Arc<NetContext>, handler: Arc<H>) {
    let slots = Arc::new(tokio::sync::Semaphore::new(MAX_INBOUND_CONNECTIONS));
    let mut conns = tokio::task::JoinSet::new();
    loop {
        // Reap finished connections so the set stays as small as the
        // number of open ones.
        while conns.try_join_next().is_some() {}
        let (sock, peer) = match listener.accept().await {
            Ok(x) => x,
            Err(e) => {
                tracing::warn!(error = %e, "cluster listener accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let Ok(permit) = slots.clone().try_acquire_owned() else {
            tracing::warn!(%peer, "too many cluster connections; closing one");
            continue;
        };
        let (ctx, handler) = (ctx.clone(), handler.clone());
        conns.spawn(async move {
            let mut from = None;
            if let Err(e) = serve_conn(sock, &ctx, &*handler, &mut from).await {
                if e.kind() != io::ErrorKind::UnexpectedEof {
                    tracing::debug!(%peer, error = %e, "cluster connection closed");
                }
            }
            if let Some(from) = from {
                handler.peer_disconnected(from).await;
            }
            drop(permit);
        });
    }
}

async fn accept_handshake(sock: &mut BoxStream, ctx: &NetContext) -> io::Result<Hello> {
    let hello: Hello = read_frame(sock).await?;
    let me = ctx.identity.node_id;
    let mine = ctx.identity.cluster_id();
    let refusal = if hello.magic != MAGIC || hello.version != PROTOCOL_VERSION {
        Some(format!(
            "unsupported cluster protocol version {} (this member speaks {PROTOCOL_VERSION})",
            hello.version
        ))
    } else if hello.target.is_some_and(|t| t != me) {
        Some(format!(
            "this member is node {me}, not node {}: its data directory was probably wiped; \
             remove the old member from the cluster and add this one",
            hello.target.unwrap_or_default()
        ))
    } else {
        match (&mine, &hello.cluster_id) {
            (Some(m), Some(t)) if m != t => Some(format!(
                "this member belongs to cluster {m}, the caller to cluster {t}"
            )),
            _ => None,
        }
    };
    if let Some(reason) = refusal {
        tracing::warn!(caller = hello.from, %reason, "refused a cluster connection");
        write_frame(
            sock,
            &HelloReply::Refuse {
                reason: reason.clone(),
            },
        )
        .await?;
        return Err(io::Error::new(io::ErrorKind::PermissionDenied, reason));
    }
    let nonce: [u8; 32] = crate::random::array();
    let p = proof(&ctx.secret, b"causeway-callee", &hello.nonce, &nonce);
    write_frame(
        sock,
        &HelloReply::Accept {
            node_id: me,
            cluster_id: mine,
            nonce,
            proof: p.finalize().into_bytes().to_vec(),
        },
    )
    .await?;
    let theirs: ClientProof = match read_frame(sock).await {
        Ok(p) => p,
        Err(e) => {
            // A caller that cannot verify our proof hangs up here.
            tracing::warn!(
                caller = hello.from,
                error = %e,
                "a cluster handshake was abandoned by the caller: it may use a different cluster secret"
            );
            return Err(e);
        }
    };
    if proof(&ctx.secret, b"causeway-caller", &nonce, &hello.nonce)
        .verify_slice(&theirs.proof)
        .is_err()
    {
        tracing::warn!(
            caller = hello.from,
            "refused a cluster connection: wrong cluster secret"
        );
        return Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            "wrong cluster secret",
        ));
    }
    // A fresh member learns its cluster from the first leader that reaches
    // it by its node id: that leader got the id from this member's probe.
    if let (None, Some(c), Some(_)) = (ctx.identity.cluster_id(), &hello.cluster_id, hello.target) {
        ctx.identity.join(c)?;
        tracing::info!(cluster = %c, "joined cluster");
    }
    Ok(hello)
}

async fn serve_conn<H: Handler>(
    mut sock: BoxStream,
    ctx: &NetContext,
    handler: &H,
    from: &mut Option<u64>,
) -> io::Result<()> {
    let hello = tokio::time::timeout(HANDSHAKE_TIMEOUT, accept_handshake(&mut sock, ctx))
        .await
        .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "handshake"))??;
    *from = Some(hello.from);
    let mut pending: Option<(Vote, SnapshotMeta, u64, Vec<u8>)> = None;
    let mute = || ctx.faults.is_mute(hello.from);
    loop {
        let (seq, req): (u64, Request) =
            match tokio::time::timeout(IDLE_TIMEOUT, read_frame(&mut sock)).await {
                Ok(r) => r?,
                Err(_) => return Ok(()),
            };
        if ctx.faults.is_blocked(hello.from) {
            return Ok(());
        }
        let work = async {
            match req {
                Request::Identify => Response::Identity(PeerInfo {
                    node_id: ctx.identity.node_id,
                    cluster_id: ctx.identity.cluster_id(),
                    member: ctx.me.clone(),
                }),
                Request::Append(rpc) => Response::Append(handler.append(rpc).await),
                Request::Vote(rpc) => Response::Vote(handler.vote(rpc, false).await),
                Request::PreVote(rpc) => Response::Vote(handler.vote(rpc, true).await),
                Request::SnapshotBegin { vote, meta, total } => {
                    if total > MAX_SNAPSHOT_BYTES {
                        pending = None;
                        Response::Snapshot(Err(format!(
                        "snapshot of {total} bytes exceeds this member's limit of {MAX_SNAPSHOT_BYTES}"
                    )))
                    } else {
                        pending = Some((vote, meta, total, Vec::new()));
                        Response::ChunkAccepted
                    }
                }
                Request::SnapshotChunk { data, last } => match pending.as_mut() {
                    None => Response::Snapshot(Err("snapshot chunk without a beginning".into())),
                    Some((_, _, total, buf)) => {
                        if buf.len() as u64 + data.len() as u64 > *total {
                            pending = None;
                            Response::Snapshot(Err("snapshot longer than announced".into()))
                        } else {
                            buf.extend_from_slice(&data);
                            if last {
                                match pending.take() {
                                    Some((vote, meta, _, buf)) => {
                                        Response::Snapshot(handler.snapshot(vote, meta, buf).await)
                                    }
                                    None => Response::Snapshot(Err("no snapshot".into())),
                                }
                            } else {
                                Response::ChunkAccepted
                            }
                        }
                    }
                },
                Request::TransferLeader(req) => {
                    Response::TransferLeader(handler.transfer_leader(req).await)
                }
                Request::LastLog => Response::LastLog(handler.last_log().await),
                Request::Join(member) => Response::Join(handler.join(hello.from, member).await),
            }
        };
        tokio::pin!(work);
        let resp = loop {
            tokio::select! {
                biased;
                resp = &mut work => break resp,
                () = tokio::time::sleep(KEEPALIVE_EVERY) => {
                    if !mute() {
                        write_frame(&mut sock, &(seq, Response::Working)).await?;
                    }
                }
            }
        };
        if mute() {
            return Ok(());
        }
        write_frame(&mut sock, &(seq, resp)).await?;
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU64, Ordering};

    use super::*;

    /// Answers `LastLog` with the number of the call; the first answer
    /// comes after the given delay.
    struct Counting(AtomicU64, Duration);

    impl Handler for Counting {
        async fn append(
            &self,
            _: AppendEntriesRequest<TypeConfig>,
        ) -> Result<AppendEntriesResponse<TypeConfig>, String> {
            Err("not in this test".into())
        }
        async fn vote(
            &self,
            _: VoteRequest<TypeConfig>,
            _: bool,
        ) -> Result<VoteResponse<TypeConfig>, String> {
            Err("not in this test".into())
        }
        async fn snapshot(
            &self,
            _: Vote,
            _: SnapshotMeta,
            _: Vec<u8>,
        ) -> Result<SnapshotResponse<TypeConfig>, String> {
            Err("not in this test".into())
        }
        async fn transfer_leader(
            &self,
            _: TransferLeaderRequest<TypeConfig>,
        ) -> Result<TransferLeaderResponse<TypeConfig>, String> {
            Err("not in this test".into())
        }
        async fn last_log(&self) -> Option<u64> {
            let n = self.0.fetch_add(1, Ordering::SeqCst) + 1;
            if n == 1 {
                tokio::time::sleep(self.1).await;
            }
            Some(n)
        }
        async fn join(&self, _: u64, _: Member) -> Result<(), String> {
            Err("not in this test".into())
        }
        async fn peer_disconnected(&self, _: u64) {}
    }

    fn context(node_id: u64) -> Arc<NetContext> {
        Arc::new(NetContext {
            identity: Arc::new(Identity::ephemeral(node_id)),
            secret: b"s".to_vec(),
            me: Member::default(),
            faults: Arc::default(),
            net: causeway_net::tcp(),
        })
    }

    /// A callee (node 2) whose first answer takes `first`, and a caller's
    /// client for it.
    async fn pair(first: Duration) -> (Peer, tokio::task::JoinHandle<()>) {
        let listener = causeway_net::tcp().bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let server = tokio::spawn(serve(
            listener,
            context(2),
            Arc::new(Counting(AtomicU64::new(0), first)),
        ));
        let peer = Network { ctx: context(1) }
            .new_client(
                2,
                &Member {
                    cluster: addr,
                    ..Member::default()
                },
            )
            .await;
        (peer, server)
    }

    fn last_log(r: Result<Response, CallError>) -> Result<Option<u64>, String> {
        match r {
            Ok(Response::LastLog(got)) => Ok(got),
            Ok(_) => Err("unexpected answer".into()),
            Err(CallError::Unreachable(e) | CallError::Network(e)) => Err(e.to_string()),
        }
    }

    #[tokio::test]
    async fn a_slow_answer_is_waited_for_as_long_as_the_callee_works_on_it() {
        let (mut peer, server) = pair(SILENCE_LIMIT * 3).await;
        let ttl = Duration::from_millis(50);
        assert_eq!(
            last_log(peer.call(&Request::LastLog, ttl).await),
            Ok(Some(1))
        );
        server.abort();
    }

    #[tokio::test]
    async fn a_connection_that_goes_silent_is_given_up_within_the_silence_limit() {
        // A callee that shakes hands, then swallows every request: what a
        // caller sees when the way back dies and no reset tells it so.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let callee = tokio::spawn(async move {
            let (s, _) = listener.accept().await?;
            let mut sock: BoxStream = Box::new(s);
            accept_handshake(&mut sock, &context(2)).await?;
            let mut buf = vec![0u8; 1 << 16];
            while sock.read(&mut buf).await? > 0 {}
            io::Result::Ok(())
        });
        let mut peer = Network { ctx: context(1) }
            .new_client(
                2,
                &Member {
                    cluster: addr,
                    ..Member::default()
                },
            )
            .await;
        let t0 = tokio::time::Instant::now();
        let r = last_log(
            peer.call(&Request::LastLog, Duration::from_millis(50))
                .await,
        );
        let took = t0.elapsed();
        assert!(r.is_err(), "{r:?}");
        assert!(took >= SILENCE_LIMIT && took < MIN_CALL_TIMEOUT, "{took:?}");
        assert!(peer.conn.is_none(), "a dead connection must not be reused");
        callee.abort();
    }

    #[tokio::test]
    async fn the_late_answer_to_an_abandoned_call_is_not_taken_for_the_next() {
        let (mut peer, server) = pair(Duration::from_millis(200)).await;
        let ttl = Duration::from_secs(5);
        // openraft gives a heartbeat one interval, then drops the call.
        let abandoned =
            tokio::time::timeout(Duration::from_millis(50), peer.call(&Request::LastLog, ttl))
                .await;
        assert!(abandoned.is_err(), "the first answer should come late");
        for want in 2..5 {
            assert_eq!(
                last_log(peer.call(&Request::LastLog, ttl).await),
                Ok(Some(want))
            );
        }
        // The connection was kept: the late answer was skipped, not fatal.
        assert!(peer.conn.as_ref().is_some_and(|c| c.unanswered.is_empty()));
        server.abort();
    }
}
