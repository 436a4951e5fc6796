//! A tiny fake database and a raw Bolt client, for protocol-level tests only.
//! End-to-end behaviour with real drivers is tested elsewhere.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use causeway_bolt::chunk::{write_message, Dechunker};
use causeway_bolt::packstream::{DecodeOptions, GraphShape, Packer, Unpacker};
use causeway_bolt::{
    AuthToken, Backend, BeginRequest, BoltConfig, CommitInfo, RouteRequest, RoutingTable,
    RunResult, Session,
};
use causeway_value::{Code, Counters, Error, Map, Node, Path, QueryType, Relationship, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// Everything the fake backend was asked to do, in order.
#[derive(Default)]
pub struct Log(Mutex<Vec<String>>);

impl Log {
    pub fn push(&self, s: impl Into<String>) {
        self.0.lock().unwrap().push(s.into());
    }
    pub fn entries(&self) -> Vec<String> {
        self.0.lock().unwrap().clone()
    }
    pub fn begins(&self) -> Vec<String> {
        self.entries()
            .into_iter()
            .filter(|e| e.starts_with("begin"))
            .collect()
    }
}

pub struct Fake {
    pub log: Arc<Log>,
}

pub struct FakeSession {
    log: Arc<Log>,
    user: String,
}

pub struct FakeTx {
    id: u64,
}

static TX_IDS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

impl Backend for Fake {
    type Session = FakeSession;

    async fn authenticate(
        &self,
        token: &AuthToken,
        _peer: SocketAddr,
    ) -> Result<FakeSession, Error> {
        self.log.push(format!("auth {}", token.scheme));
        let ok = match token.scheme.as_str() {
            "none" => true,
            "basic" => {
                token.principal.as_deref() == Some("neo4j")
                    && token.credentials.as_deref() == Some("secret")
            }
            _ => false,
        };
        if ok {
            Ok(FakeSession {
                log: self.log.clone(),
                user: token.principal.clone().unwrap_or_default(),
            })
        } else {
            Err(Error::new(Code::Unauthorized, "bad credentials"))
        }
    }

    fn server_agent(&self) -> String {
        "Causeway/test".to_owned()
    }
}

fn rows_of(n: i64) -> causeway_bolt::RowIter {
    Box::new((0..n).map(|i| Ok(vec![Value::Int(i)])))
}

pub fn sample_node(id: u64) -> Node {
    let mut props = Map::new();
    props.insert("name".into(), Value::from(format!("n{id}")));
    Node {
        id,
        labels: vec!["Person".into()],
        props,
    }
}

pub fn sample_rel(id: u64, start: u64, end: u64) -> Relationship {
    Relationship {
        id,
        start,
        end,
        rel_type: "KNOWS".into(),
        props: Map::new(),
    }
}

/// a -> b <- c -> a (revisits a; middle step walks backwards)
pub fn sample_path() -> Path {
    let (a, b, c) = (sample_node(1), sample_node(2), sample_node(3));
    Path {
        nodes: vec![a.clone(), b.clone(), c.clone(), a.clone()],
        rels: vec![
            sample_rel(10, 1, 2),
            sample_rel(11, 3, 2),
            sample_rel(12, 3, 1),
        ],
    }
}

impl Session for FakeSession {
    type Tx = FakeTx;

    async fn begin(&mut self, req: BeginRequest) -> Result<FakeTx, Error> {
        self.log.push(format!(
            "begin auto={} db={:?} mode={:?} bookmarks={:?} timeout={:?} routing={}",
            req.auto_commit,
            req.db,
            req.mode,
            req.bookmarks,
            req.tx_timeout,
            req.routing.is_some()
        ));
        if req.db.as_deref() == Some("missing") {
            return Err(Error::new(Code::DatabaseNotFound, "no such database"));
        }
        let id = TX_IDS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Ok(FakeTx { id })
    }

    async fn run(
        &mut self,
        _tx: &mut FakeTx,
        query: String,
        params: Map,
    ) -> Result<RunResult, Error> {
        self.log.push(format!("run {query}"));
        let mut words = query.split_whitespace();
        let cmd = words.next().unwrap_or("");
        let arg: i64 = words.next().and_then(|w| w.parse().ok()).unwrap_or(0);
        let mut result = RunResult {
            fields: vec!["n".into()],
            rows: rows_of(0),
            query_type: QueryType::Read,
            counters: Counters::default(),
            plan: None,
            profile: false,
            db: "neo4j".into(),
        };
        match cmd {
            "ROWS" => result.rows = rows_of(arg),
            // A request that takes `arg` ms before it answers.
            "SLEEP" => tokio::time::sleep(std::time::Duration::from_millis(arg as u64)).await,
            // One row that takes `arg` ms to produce, blocking its thread as
            // a heavy query does.
            "HEAVY" => {
                result.rows = Box::new(std::iter::once_with(move || {
                    std::thread::sleep(std::time::Duration::from_millis(arg as u64));
                    Ok(vec![Value::Int(arg)])
                }))
            }
            "FOREVER" => result.rows = Box::new((0..).map(|i| Ok(vec![Value::Int(i)]))),
            "FAIL" => return Err(Error::new(Code::SyntaxError, "Invalid input 'FAIL'")),
            "FAILROWS" => {
                result.rows = Box::new((0..arg).map(|i| Ok(vec![Value::Int(i)])).chain(
                    std::iter::once(Err(Error::new(Code::ArithmeticError, "/ by zero"))),
                ))
            }
            "CREATE" => {
                result.fields = vec![];
                result.query_type = QueryType::Write;
                result.counters.nodes_created = 2;
                result.counters.properties_set = 3;
            }
            "EXPLAIN" => {
                let mut plan = Map::new();
                plan.insert("operatorType".into(), Value::from("ProduceResults"));
                result.plan = Some(plan);
            }
            "ECHO" => {
                result.fields = params.keys().cloned().collect();
                let row: Vec<Value> = params.values().cloned().collect();
                result.rows = Box::new(std::iter::once(Ok(row)));
            }
            "GRAPH" => {
                result.fields = vec!["n".into(), "r".into(), "p".into()];
                let row = vec![
                    Value::Node(sample_node(1)),
                    Value::Relationship(sample_rel(10, 1, 2)),
                    Value::Path(sample_path()),
                ];
                result.rows = Box::new(std::iter::once(Ok(row)));
            }
            "USER" => {
                result.fields = vec!["user".into()];
                let row = vec![Value::from(self.user.clone())];
                result.rows = Box::new(std::iter::once(Ok(row)));
            }
            _ => {}
        }
        Ok(result)
    }

    async fn commit(&mut self, tx: FakeTx) -> Result<CommitInfo, Error> {
        self.log.push("commit");
        Ok(CommitInfo {
            bookmark: format!("bm:{}", tx.id),
            db: "neo4j".into(),
        })
    }

    async fn rollback(&mut self, _tx: FakeTx) {
        self.log.push("rollback");
    }

    async fn route(&mut self, req: RouteRequest) -> Result<RoutingTable, Error> {
        self.log.push(format!(
            "route db={:?} imp={:?} bookmarks={:?}",
            req.db, req.imp_user, req.bookmarks
        ));
        Ok(RoutingTable {
            ttl_secs: 10,
            db: req.db.unwrap_or_else(|| "neo4j".into()),
            routers: vec!["127.0.0.1:7687".into()],
            readers: vec!["127.0.0.1:7687".into()],
            writers: vec!["127.0.0.1:7687".into()],
        })
    }
}

pub struct TestServer {
    pub addr: SocketAddr,
    pub log: Arc<Log>,
    pub shutdown: watch::Sender<bool>,
    pub task: tokio::task::JoinHandle<std::io::Result<()>>,
}

pub async fn start() -> TestServer {
    start_with(BoltConfig::default()).await
}

pub async fn start_with(config: BoltConfig) -> TestServer {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let log = Arc::new(Log::default());
    let backend = Arc::new(Fake { log: log.clone() });
    let (tx, rx) = watch::channel(false);
    let task = tokio::spawn(causeway_bolt::serve(
        causeway_net::TcpListener(listener),
        backend,
        config,
        rx,
    ));
    TestServer {
        addr,
        log,
        shutdown: tx,
        task,
    }
}

/// The 16 proposal bytes of a few real clients.
pub const PY_6X: [u8; 16] = [0, 0, 1, 0xFF, 0, 8, 8, 5, 0, 2, 4, 4, 0, 0, 0, 3];
pub const PY_525: [u8; 16] = [0, 7, 7, 5, 0, 2, 4, 4, 0, 0, 1, 4, 0, 0, 0, 3];
pub const PY2NEO: [u8; 16] = [0, 3, 3, 4, 0, 0, 0, 4, 0, 0, 0, 3, 0, 0, 0, 2];
pub const NEO4RS_08: [u8; 16] = [0, 0, 1, 4, 0, 0, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0];
pub const NEO4RS_09: [u8; 16] = [0, 0, 4, 4, 0, 0, 3, 4, 0, 0, 1, 4, 0, 0, 0, 4];

pub fn exactly(major: u8, minor: u8) -> [u8; 16] {
    let mut p = [0u8; 16];
    p[2] = minor;
    p[3] = major;
    p
}

pub const TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, Clone, PartialEq)]
pub struct Msg {
    pub tag: u8,
    pub fields: Vec<Value>,
}

pub const SUCCESS: u8 = 0x70;
pub const RECORD: u8 = 0x71;
pub const IGNORED: u8 = 0x7E;
pub const FAILURE: u8 = 0x7F;

impl Msg {
    pub fn meta(&self) -> Map {
        match self.fields.first() {
            Some(Value::Map(m)) => m.clone(),
            _ => Map::new(),
        }
    }
    pub fn get(&self, key: &str) -> Option<Value> {
        self.meta().get(key).cloned()
    }
    pub fn code(&self) -> String {
        match self.get("code") {
            Some(Value::String(s)) => s,
            _ => String::new(),
        }
    }
    pub fn is_success(&self) -> bool {
        self.tag == SUCCESS
    }
}

pub struct Client {
    pub stream: TcpStream,
    pub version: (u8, u8),
    /// The undecoded body of the last message received, for tests that
    /// check exact structure tags.
    pub last_body: Vec<u8>,
    inbuf: Vec<u8>,
    dechunker: Dechunker,
}

pub fn map(pairs: &[(&str, Value)]) -> Value {
    Value::Map(
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect(),
    )
}

pub fn encode_struct(tag: u8, fields: &[Value], shape: GraphShape) -> Vec<u8> {
    let mut body = Vec::new();
    let mut p = Packer::new(&mut body, shape);
    p.struct_header(fields.len() as u8, tag);
    for f in fields {
        p.value(f).unwrap();
    }
    body
}

impl Client {
    /// Handshake only; returns the raw 4-byte answer.
    pub async fn handshake(addr: SocketAddr, proposals: [u8; 16]) -> (Client, [u8; 4]) {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        let mut hs = vec![0x60, 0x60, 0xB0, 0x17];
        hs.extend_from_slice(&proposals);
        stream.write_all(&hs).await.unwrap();
        let mut answer = [0u8; 4];
        tokio::time::timeout(TIMEOUT, stream.read_exact(&mut answer))
            .await
            .unwrap()
            .unwrap();
        let client = Client {
            stream,
            version: (answer[3], answer[2]),
            last_body: Vec::new(),
            inbuf: Vec::new(),
            dechunker: Dechunker::new(usize::MAX),
        };
        (client, answer)
    }

    /// Handshake with exactly one version, HELLO, and (5.1+) LOGON as none.
    pub async fn ready(addr: SocketAddr, major: u8, minor: u8) -> Client {
        let (mut c, answer) = Client::handshake(addr, exactly(major, minor)).await;
        assert_eq!(answer, [0, 0, minor, major]);
        c.hello_and_logon(map(&[("user_agent", Value::from("test/1.0"))]))
            .await;
        c
    }

    pub async fn hello_and_logon(&mut self, hello: Value) {
        self.send(0x01, &[hello]).await;
        let r = self.recv().await.unwrap();
        assert!(r.is_success(), "HELLO failed: {r:?}");
        if self.version >= (5, 1) {
            self.send(0x6A, &[map(&[])]).await;
            let r = self.recv().await.unwrap();
            assert!(r.is_success(), "LOGON failed: {r:?}");
        }
    }

    pub fn shape(&self) -> GraphShape {
        if self.version.0 >= 5 {
            GraphShape::V5
        } else {
            GraphShape::V4
        }
    }

    pub async fn send(&mut self, tag: u8, fields: &[Value]) {
        let body = encode_struct(tag, fields, self.shape());
        self.send_body(&body).await;
    }

    pub async fn send_body(&mut self, body: &[u8]) {
        let mut framed = Vec::new();
        write_message(&mut framed, body);
        self.send_raw(&framed).await;
    }

    pub async fn send_raw(&mut self, bytes: &[u8]) {
        // The server may already have closed; tests then look at recv().
        let _ = self.stream.write_all(bytes).await;
    }

    /// Next message, or None when the server closed the connection.
    pub async fn recv(&mut self) -> Option<Msg> {
        loop {
            if let Some(body) = self.dechunker.next_message(&mut self.inbuf).unwrap() {
                let opts = DecodeOptions::results(self.shape());
                let mut u = Unpacker::new(&body, opts);
                let (n, tag) = u.struct_header().unwrap();
                let fields = (0..n).map(|_| u.value().unwrap()).collect();
                assert!(u.is_empty());
                self.last_body = body.to_vec();
                return Some(Msg { tag, fields });
            }
            let mut buf = [0u8; 65536];
            let n = tokio::time::timeout(TIMEOUT, self.stream.read(&mut buf))
                .await
                .expect("server did not answer in time")
                .unwrap_or(0);
            if n == 0 {
                return None;
            }
            self.inbuf.extend_from_slice(&buf[..n]);
        }
    }

    /// The next message, how many NOOPs (empty chunks) came before it,
    /// and the longest time nothing arrived while waiting for it.
    pub async fn recv_counting_noops(&mut self) -> (Option<Msg>, usize, std::time::Duration) {
        let mut noops = 0;
        let mut silence = std::time::Duration::ZERO;
        let mut last = std::time::Instant::now();
        loop {
            while self.inbuf.len() >= 2 && self.inbuf[..2] == [0, 0] {
                self.inbuf.drain(..2);
                noops += 1;
            }
            if self.inbuf.len() > 2 {
                return (self.recv().await, noops, silence);
            }
            let mut buf = [0u8; 2];
            let n = tokio::time::timeout(TIMEOUT, self.stream.read(&mut buf))
                .await
                .expect("server did not answer in time")
                .unwrap_or(0);
            silence = silence.max(last.elapsed());
            last = std::time::Instant::now();
            if n == 0 {
                return (None, noops, silence);
            }
            self.inbuf.extend_from_slice(&buf[..n]);
        }
    }

    /// Asserts that the server closes the connection without further output.
    pub async fn expect_closed(&mut self) {
        assert_eq!(self.recv().await, None);
    }

    pub async fn run(&mut self, query: &str, params: Value, extra: Value) {
        self.send(0x10, &[Value::from(query), params, extra]).await;
    }

    pub async fn pull(&mut self, n: i64, qid: Option<i64>) {
        let mut m = vec![("n", Value::Int(n))];
        if let Some(q) = qid {
            m.push(("qid", Value::Int(q)));
        }
        self.send(0x3F, &[map(&m)]).await;
    }

    /// Receives RECORDs until a summary; returns (records, summary).
    pub async fn records(&mut self) -> (Vec<Vec<Value>>, Msg) {
        let mut rows = Vec::new();
        loop {
            let m = self
                .recv()
                .await
                .expect("connection closed while streaming");
            if m.tag == RECORD {
                match m.fields.into_iter().next() {
                    Some(Value::List(v)) => rows.push(v),
                    other => panic!("bad record {other:?}"),
                }
            } else {
                return (rows, m);
            }
        }
    }
}
