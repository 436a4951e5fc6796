//! A minimal Bolt 5.0 client: just enough to drive load the way a driver
//! does (pipelined RUN+PULL, BEGIN/COMMIT), reusing the server's PackStream
//! code for encoding and decoding.

use anyhow::{anyhow, bail, Context};
use causeway_bolt::chunk::{write_message, Dechunker};
use causeway_bolt::packstream::{DecodeOptions, GraphShape, Packer, Unpacker};
use causeway_value::{Map, Value};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

trait Stream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Stream for T {}

const SUCCESS: u8 = 0x70;
const RECORD: u8 = 0x71;
const IGNORED: u8 = 0x7E;
const FAILURE: u8 = 0x7F;

pub struct Client {
    stream: Box<dyn Stream>,
    input: Vec<u8>,
    dechunker: Dechunker,
    out: Vec<u8>,
    /// Send queries in read mode, so that a follower or replica answers
    /// them itself instead of routing them to the leader.
    pub read: bool,
}

/// A FAILURE the server sent, with its Neo4j status code, so that a caller
/// can tell a transient error (to retry) from any other.
#[derive(Debug)]
pub struct Failure {
    pub code: String,
    pub message: String,
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl std::error::Error for Failure {}

impl Failure {
    fn from_map(m: &Map) -> Failure {
        let text = |k: &str| match m.get(k) {
            Some(Value::String(s)) => s.clone(),
            _ => String::new(),
        };
        Failure {
            code: text("code"),
            message: text("message"),
        }
    }

    /// Whether a driver would retry the transaction.
    pub fn transient(&self) -> bool {
        self.code.starts_with("Neo.TransientError.")
    }
}

pub enum Reply {
    Success,
    Record(Vec<Value>),
    Failure(Map),
    Ignored,
}

fn map(pairs: &[(&str, Value)]) -> Map {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), v.clone()))
        .collect()
}

impl Client {
    /// With `tls`, over TLS taking any certificate (what a benchmark
    /// measures is the cost of the encryption, not of trust).
    pub async fn connect(
        addr: &str,
        user: &str,
        password: &str,
        tls: bool,
    ) -> anyhow::Result<Client> {
        let tcp = TcpStream::connect(addr)
            .await
            .with_context(|| format!("connecting to {addr}"))?;
        tcp.set_nodelay(true)?;
        let mut stream: Box<dyn Stream> = if tls {
            let connector = tokio_rustls::TlsConnector::from(causeway_server::tls::probe_client());
            let name = rustls::pki_types::ServerName::try_from("localhost")?;
            Box::new(connector.connect(name, tcp).await?)
        } else {
            Box::new(tcp)
        };
        let mut hs = vec![0x60, 0x60, 0xB0, 0x17];
        hs.extend_from_slice(&[0, 0, 0, 5]);
        hs.extend_from_slice(&[0; 12]);
        stream.write_all(&hs).await?;
        let mut v = [0u8; 4];
        stream.read_exact(&mut v).await?;
        if v != [0, 0, 0, 5] {
            bail!("server did not accept Bolt 5.0: {v:?}");
        }
        let mut c = Client {
            stream,
            input: Vec::new(),
            dechunker: Dechunker::new(64 << 20),
            out: Vec::new(),
            read: false,
        };
        let extra = map(&[
            ("user_agent", Value::from("causeway-bench/0.1")),
            ("scheme", Value::from("basic")),
            ("principal", Value::from(user)),
            ("credentials", Value::from(password)),
        ]);
        c.message(0x01, &[Value::Map(extra)])?;
        c.flush().await?;
        match c.reply().await? {
            Reply::Success => Ok(c),
            Reply::Failure(m) => bail!("HELLO failed: {m:?}"),
            _ => bail!("unexpected HELLO reply"),
        }
    }

    fn message(&mut self, tag: u8, fields: &[Value]) -> anyhow::Result<()> {
        let mut body = Vec::new();
        let mut p = Packer::new(&mut body, GraphShape::V5);
        p.struct_header(fields.len() as u8, tag);
        for f in fields {
            p.value(f).map_err(|e| anyhow!("{e}"))?;
        }
        write_message(&mut self.out, &body);
        Ok(())
    }

    pub fn run(&mut self, query: &str, params: Map) -> anyhow::Result<()> {
        let extra = if self.read {
            map(&[("mode", Value::from("r"))])
        } else {
            Map::new()
        };
        self.message(
            0x10,
            &[Value::from(query), Value::Map(params), Value::Map(extra)],
        )
    }

    pub fn pull_all(&mut self) -> anyhow::Result<()> {
        self.message(0x3F, &[Value::Map(map(&[("n", Value::Int(-1))]))])
    }

    pub async fn flush(&mut self) -> anyhow::Result<()> {
        self.stream.write_all(&self.out).await?;
        // TLS holds written records until flushed.
        self.stream.flush().await?;
        self.out.clear();
        Ok(())
    }

    pub async fn reply(&mut self) -> anyhow::Result<Reply> {
        loop {
            if let Some(msg) = self
                .dechunker
                .next_message(&mut self.input)
                .map_err(|e| anyhow!("{e:?}"))?
            {
                let mut u = Unpacker::new(&msg, DecodeOptions::results(GraphShape::V5));
                let (_, tag) = u.struct_header().map_err(|e| anyhow!("{e}"))?;
                let value = if u.is_empty() {
                    Value::Null
                } else {
                    u.value().map_err(|e| anyhow!("{e}"))?
                };
                return Ok(match (tag, value) {
                    (SUCCESS, Value::Map(_)) => Reply::Success,
                    (RECORD, Value::List(l)) => Reply::Record(l),
                    (FAILURE, Value::Map(m)) => Reply::Failure(m),
                    (IGNORED, _) => Reply::Ignored,
                    (t, _) => bail!("unexpected message 0x{t:02x}"),
                });
            }
            let mut buf = [0u8; 64 * 1024];
            let n = self.stream.read(&mut buf).await?;
            if n == 0 {
                bail!("server closed the connection");
            }
            self.input.extend_from_slice(&buf[..n]);
        }
    }

    /// Reads replies until `summaries` SUCCESS/FAILURE messages have
    /// arrived; returns the records seen and fails on any FAILURE.
    pub async fn finish(&mut self, summaries: usize) -> anyhow::Result<Vec<Vec<Value>>> {
        let mut rows = Vec::new();
        let mut seen = 0;
        let mut failure = None;
        while seen < summaries {
            match self.reply().await? {
                Reply::Record(r) => rows.push(r),
                Reply::Success | Reply::Ignored => seen += 1,
                Reply::Failure(m) => {
                    seen += 1;
                    failure.get_or_insert(m);
                }
            }
        }
        if let Some(m) = failure {
            // Clear the failed state so the connection can be reused.
            self.message(0x0F, &[])?;
            self.flush().await?;
            let _ = self.reply().await?;
            return Err(Failure::from_map(&m).into());
        }
        Ok(rows)
    }

    /// BEGIN of an explicit write transaction, waiting for its reply as
    /// the drivers' managed transactions do.
    pub async fn begin(&mut self) -> anyhow::Result<()> {
        self.message(0x11, &[Value::Map(Map::new())])?;
        self.flush().await?;
        self.finish(1).await.map(|_| ())
    }

    /// RUN + PULL inside the open transaction.
    pub async fn run_in_tx(&mut self, query: &str, params: Map) -> anyhow::Result<Vec<Vec<Value>>> {
        self.message(
            0x10,
            &[
                Value::from(query),
                Value::Map(params),
                Value::Map(Map::new()),
            ],
        )?;
        self.pull_all()?;
        self.flush().await?;
        self.finish(2).await
    }

    pub async fn commit(&mut self) -> anyhow::Result<()> {
        self.message(0x12, &[])?;
        self.flush().await?;
        self.finish(1).await.map(|_| ())
    }

    /// One auto-commit query, pipelined as drivers do (RUN + PULL in one
    /// write).
    pub async fn query(&mut self, query: &str, params: Map) -> anyhow::Result<Vec<Vec<Value>>> {
        self.run(query, params)?;
        self.pull_all()?;
        self.flush().await?;
        self.finish(2).await
    }
}

pub fn params(pairs: &[(&str, Value)]) -> Map {
    map(pairs)
}
