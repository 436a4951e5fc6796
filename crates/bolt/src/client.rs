//! A small Bolt 5.4 client, for one member to run a transaction on another
//! (server-side routing). It speaks only what that needs: HELLO and LOGON,
//! BEGIN, RUN with PULL of every record, COMMIT, ROLLBACK and RESET.
//!
//! Every reply is bounded: messages by [`chunk::DEFAULT_MAX_MESSAGE_SIZE`],
//! one result by [`MAX_RESULT_BYTES`], and every wait by the caller (the
//! futures here are cancel-safe only in the sense that a cancelled client
//! must be dropped, never reused).

use std::time::Duration;

use causeway_net::{BoxStream, Network};
use causeway_value::{Code, Error, Map, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::backend::AuthToken;
use crate::chunk::{self, Dechunker};
use crate::message::tag;
use crate::packstream::{DecodeOptions, GraphShape, Packer, Unpacker};

/// The most record bytes one forwarded result may hold: the records are
/// gathered before the caller sees the first, because Bolt reports a
/// query's counters only after its last record.
pub const MAX_RESULT_BYTES: usize = 256 << 20;

/// Why a request did not succeed.
#[derive(Debug)]
pub enum ClientError {
    /// The server answered with a FAILURE (or refused the request).
    Server(Error),
    /// The connection failed or the server broke the protocol: what
    /// happened to the request is unknown.
    Connection(String),
}

impl From<std::io::Error> for ClientError {
    fn from(e: std::io::Error) -> Self {
        ClientError::Connection(e.to_string())
    }
}

/// A query's records and the metadata of its RUN and final PULL.
#[derive(Debug)]
pub struct Stream {
    pub fields: Vec<String>,
    pub records: Vec<Vec<Value>>,
    /// The final PULL's SUCCESS map (`type`, `stats`, `bookmark`, `db`...).
    pub summary: Map,
}

pub struct Client {
    stream: BoxStream,
    inbuf: Vec<u8>,
    out: Vec<u8>,
    dechunker: Dechunker,
}

const VERSION: (u8, u8) = (5, 4);

impl Client {
    /// Connects over `net`, negotiates Bolt 5.4 and logs on with `auth`.
    pub async fn connect(
        net: &dyn Network,
        addr: &str,
        user_agent: &str,
        auth: &AuthToken,
        timeout: Duration,
    ) -> Result<Client, ClientError> {
        let stream = tokio::time::timeout(timeout, net.connect(addr))
            .await
            .map_err(|_| ClientError::Connection(format!("connecting to {addr} timed out")))??;
        let mut c = Client {
            stream,
            inbuf: Vec::new(),
            out: Vec::new(),
            dechunker: Dechunker::new(chunk::DEFAULT_MAX_MESSAGE_SIZE),
        };
        tokio::time::timeout(timeout, c.handshake(user_agent, auth))
            .await
            .map_err(|_| ClientError::Connection(format!("logging on to {addr} timed out")))??;
        Ok(c)
    }

    async fn handshake(&mut self, user_agent: &str, auth: &AuthToken) -> Result<(), ClientError> {
        let mut hs = crate::handshake::MAGIC.to_vec();
        hs.extend_from_slice(&[0, 0, VERSION.1, VERSION.0]);
        hs.extend_from_slice(&[0; 12]);
        self.stream.write_all(&hs).await?;
        let mut answer = [0u8; 4];
        self.stream.read_exact(&mut answer).await?;
        if answer != [0, 0, VERSION.1, VERSION.0] {
            return Err(ClientError::Connection(format!(
                "the server does not speak Bolt {}.{} (answered {answer:?})",
                VERSION.0, VERSION.1
            )));
        }
        let mut hello = Map::new();
        hello.insert("user_agent".into(), Value::from(user_agent));
        self.push(tag::HELLO, &[Value::Map(hello)])?;
        let mut logon = auth.extra.clone();
        logon.insert("scheme".into(), Value::from(auth.scheme.as_str()));
        if let Some(p) = &auth.principal {
            logon.insert("principal".into(), Value::from(p.as_str()));
        }
        if let Some(c) = &auth.credentials {
            logon.insert("credentials".into(), Value::from(c.as_str()));
        }
        self.push(tag::LOGON, &[Value::Map(logon)])?;
        self.flush().await?;
        self.summary().await?;
        self.summary().await?;
        Ok(())
    }

    fn push(&mut self, t: u8, fields: &[Value]) -> Result<(), ClientError> {
        let start = chunk::begin_in_place(&mut self.out);
        let mut p = Packer::new(&mut self.out, GraphShape::V5).utc_datetime(true);
        p.struct_header(fields.len() as u8, t);
        for f in fields {
            if let Err(e) = p.value(f) {
                self.out.truncate(start);
                return Err(ClientError::Server(e));
            }
        }
        chunk::finish_in_place(&mut self.out, start);
        Ok(())
    }

    async fn flush(&mut self) -> Result<(), ClientError> {
        self.stream.write_all(&self.out).await?;
        self.out.clear();
        Ok(())
    }

    /// The next message as (tag, fields, body size).
    async fn recv(&mut self) -> Result<(u8, Vec<Value>, usize), ClientError> {
        loop {
            let body = self.dechunker.next_message(&mut self.inbuf).map_err(|e| {
                ClientError::Connection(format!("bad framing from the server: {e:?}"))
            })?;
            if let Some(body) = body {
                let mut u = Unpacker::new(&body, DecodeOptions::results(GraphShape::V5));
                let bad =
                    |e: Error| ClientError::Connection(format!("bad message from the server: {e}"));
                let (n, t) = u.struct_header().map_err(bad)?;
                let mut fields = Vec::with_capacity(n);
                for _ in 0..n {
                    fields.push(u.value().map_err(bad)?);
                }
                return Ok((t, fields, body.len()));
            }
            let mut buf = [0u8; 64 * 1024];
            let n = self.stream.read(&mut buf).await?;
            if n == 0 {
                return Err(ClientError::Connection(
                    "the server closed the connection".into(),
                ));
            }
            self.inbuf.extend_from_slice(&buf[..n]);
        }
    }

    /// Reads one summary message: SUCCESS gives its map, FAILURE the error.
    async fn summary(&mut self) -> Result<Map, ClientError> {
        let (t, mut fields, _) = self.recv().await?;
        let meta = match fields.pop() {
            Some(Value::Map(m)) => m,
            _ => Map::new(),
        };
        match t {
            tag::SUCCESS => Ok(meta),
            tag::FAILURE => Err(ClientError::Server(failure(&meta))),
            tag::IGNORED => Err(ClientError::Server(Error::new(
                Code::RequestInvalid,
                "the request was ignored after an earlier failure",
            ))),
            other => Err(ClientError::Connection(format!(
                "unexpected message 0x{other:02X} from the server"
            ))),
        }
    }

    pub async fn begin(&mut self, extra: Map) -> Result<Map, ClientError> {
        self.push(tag::BEGIN, &[Value::Map(extra)])?;
        self.flush().await?;
        self.summary().await
    }

    /// A whole transaction of one query, in one round trip: BEGIN, RUN,
    /// PULL of every record, and COMMIT. The commit's answer is `None` when
    /// the query failed first (the COMMIT was then ignored, so nothing was
    /// committed) or the connection broke before it.
    pub async fn run_and_commit(
        &mut self,
        extra: Map,
        query: &str,
        params: Map,
    ) -> (
        Result<Stream, ClientError>,
        Option<Result<Map, ClientError>>,
    ) {
        if let Err(e) = self.push(tag::BEGIN, &[Value::Map(extra)]) {
            return (Err(e), None);
        }
        match self
            .run_pipelined(query, params, Map::new(), true, true)
            .await
        {
            Ok(stream) => {
                let committed = self.summary().await;
                (Ok(stream), Some(committed))
            }
            Err(e) => (Err(e), None),
        }
    }

    /// RUN and PULL of every record, pipelined.
    pub async fn run(
        &mut self,
        query: &str,
        params: Map,
        extra: Map,
    ) -> Result<Stream, ClientError> {
        self.run_pipelined(query, params, extra, false, false).await
    }

    /// Sends RUN and PULL (after a BEGIN already queued when `begun`, and
    /// before a COMMIT when `commit`) and reads up to the PULL's summary.
    async fn run_pipelined(
        &mut self,
        query: &str,
        params: Map,
        extra: Map,
        begun: bool,
        commit: bool,
    ) -> Result<Stream, ClientError> {
        self.push(
            tag::RUN,
            &[Value::from(query), Value::Map(params), Value::Map(extra)],
        )?;
        let mut pull = Map::new();
        pull.insert("n".into(), Value::Int(-1));
        self.push(tag::PULL, &[Value::Map(pull)])?;
        if commit {
            self.push(tag::COMMIT, &[])?;
        }
        self.flush().await?;
        // After a FAILURE the requests behind it are answered with IGNORED.
        let mut pending = 2 + usize::from(begun) + usize::from(commit);
        let mut first_error = None;
        let mut fields = Vec::new();
        if begun {
            pending -= 1;
            if let Err(e) = self.summary().await {
                first_error = Some(e);
            }
        }
        if first_error.is_none() {
            pending -= 1;
            match self.summary().await {
                Ok(meta) => {
                    if let Some(Value::List(f)) = meta.get("fields") {
                        fields = f
                            .iter()
                            .map(|v| match v {
                                Value::String(s) => s.clone(),
                                _ => String::new(),
                            })
                            .collect();
                    }
                }
                Err(e) => first_error = Some(e),
            }
        }
        if let Some(e) = first_error {
            for _ in 0..pending {
                if let Err(ClientError::Connection(c)) = self.summary().await {
                    return Err(ClientError::Connection(c));
                }
            }
            return Err(e);
        }
        let mut records = Vec::new();
        let mut bytes = 0usize;
        loop {
            let (t, mut f, size) = self.recv().await?;
            if t == tag::RECORD {
                bytes += size;
                if bytes > MAX_RESULT_BYTES {
                    return Err(ClientError::Server(Error::new(
                        Code::MemoryPoolOutOfMemory,
                        format!(
                            "The result of this routed query exceeds {MAX_RESULT_BYTES} bytes; \
                             run it on the leader or in a read transaction."
                        ),
                    )));
                }
                match f.pop() {
                    Some(Value::List(values)) => records.push(values),
                    _ => return Err(ClientError::Connection("a RECORD without values".into())),
                }
                continue;
            }
            let meta = match f.pop() {
                Some(Value::Map(m)) => m,
                _ => Map::new(),
            };
            return match t {
                tag::SUCCESS => Ok(Stream {
                    fields,
                    records,
                    summary: meta,
                }),
                tag::FAILURE => Err(ClientError::Server(failure(&meta))),
                other => Err(ClientError::Connection(format!(
                    "unexpected message 0x{other:02X} in a result"
                ))),
            };
        }
    }

    pub async fn commit(&mut self) -> Result<Map, ClientError> {
        self.push(tag::COMMIT, &[])?;
        self.flush().await?;
        self.summary().await
    }

    pub async fn rollback(&mut self) -> Result<(), ClientError> {
        self.push(tag::ROLLBACK, &[])?;
        self.flush().await?;
        self.summary().await.map(|_| ())
    }
}

/// The error a FAILURE map describes, with the code the server sent when it
/// is one of ours.
fn failure(meta: &Map) -> Error {
    let text = |k: &str| match meta.get(k) {
        Some(Value::String(s)) => s.clone(),
        _ => String::new(),
    };
    let code = text("code");
    match Code::from_name(&code) {
        Some(c) => Error::new(c, text("message")),
        None => Error::new(Code::Unknown, format!("{code}: {}", text("message"))),
    }
}
