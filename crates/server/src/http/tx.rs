//! Neo4j's Query API (`POST /db/{db}/query/v2`, one statement, plain JSON)
//! and its transactional HTTP endpoint: `POST /db/{db}/tx/commit` runs a
//! list of statements in one transaction and commits it; `POST /db/{db}/tx`
//! opens a transaction that later requests continue (`POST .../tx/{id}`),
//! commit (`POST .../tx/{id}/commit`) or roll back (`DELETE .../tx/{id}`).
//! Requests go through the same sessions as Bolt, so a write that reaches a
//! member other than the leader is routed there (server-side routing),
//! bookmarks are honoured, and errors carry the same Neo4j codes.
//!
//! An open transaction lives on the member that opened it. Its id carries
//! that member's tag (the low bits of its node id), so a request that a
//! load balancer sends to another member is passed on to the owner; if the
//! owner is gone, the client gets a clear error, never a silent loss.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use causeway_bolt::{AccessMode, BeginRequest, Session};
use causeway_value::{element_id, rel_element_id, Code, Error, Map, Value};
use serde_json::{json, Value as JsonValue};

use crate::http::HttpState;
use crate::session::BoltSession;

/// Statements one request may carry.
pub const MAX_STATEMENTS: usize = 1_000;
/// Rows one request may return, over all its statements.
pub const MAX_RESULT_ROWS: usize = 1_000_000;
/// Bytes of a request body.
pub const MAX_BODY_BYTES: usize = 16 << 20;

/// Open transactions one member holds at most.
pub const MAX_OPEN_TRANSACTIONS: usize = 1_000;
/// An open transaction with no request for this long is rolled back, as
/// Neo4j's `server.http.transaction_idle_timeout` (60 s by default).
pub const IDLE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);
/// Bits of a transaction id that count transactions; the bits above carry
/// the owner's tag. 20 + 33 bits keep ids exact in JavaScript numbers.
const COUNTER_BITS: u32 = 33;
const TAG_BITS: u32 = 20;

type St = State<Arc<HttpState>>;
type TxPath = Path<(String, String)>;
/// A request body, or why it could not be read (too large, say).
type Body = Result<Payload, Refusal>;

pub fn routes() -> Router<Arc<HttpState>> {
    Router::new()
        .route("/db/:db/tx/commit", post(commit_in_one_request))
        .route("/db/:db/query/v2", post(query_v2))
        .route("/db/:db/tx", post(open))
        .route(
            "/db/:db/tx/:id",
            post(|s: St, p: TxPath, h: HeaderMap, b: Body| follow_up(s, p, h, b, Step::Run))
                .delete(|s: St, p: TxPath, h: HeaderMap| {
                    follow_up(s, p, h, Ok(Payload::default()), Step::Rollback)
                }),
        )
        .route(
            "/db/:db/tx/:id/commit",
            post(|s: St, p: TxPath, h: HeaderMap, b: Body| follow_up(s, p, h, b, Step::Commit)),
        )
        // Neo4j 3.x's paths for the default database, which py2neo (and
        // other clients written then) still post to when no database is
        // named: the same endpoints, the same JSON.
        .route(
            "/db/data/transaction/commit",
            post(|s: St, h: HeaderMap, b: Body| commit_in_one_request(s, default_db(), h, b)),
        )
        .route(
            "/db/data/transaction",
            post(|s: St, h: HeaderMap, b: Body| open(s, default_db(), h, b)),
        )
        .route(
            "/db/data/transaction/:id",
            post(|s: St, Path(id): Path<String>, h: HeaderMap, b: Body| {
                follow_up(s, legacy(id), h, b, Step::Run)
            })
            .delete(|s: St, Path(id): Path<String>, h: HeaderMap| {
                follow_up(s, legacy(id), h, Ok(Payload::default()), Step::Rollback)
            }),
        )
        .route(
            "/db/data/transaction/:id/commit",
            post(|s: St, Path(id): Path<String>, h: HeaderMap, b: Body| {
                follow_up(s, legacy(id), h, b, Step::Commit)
            }),
        )
}

fn default_db() -> Path<String> {
    Path(crate::db::DEFAULT_DB.to_owned())
}

/// A legacy transaction path's id, as a path of the default database.
fn legacy(id: String) -> TxPath {
    Path((crate::db::DEFAULT_DB.to_owned(), id))
}

/// Bytes of an oversized body that are still read, and thrown away, before
/// the 413 goes out. A client that sends its whole body before reading the
/// answer (urllib, PHP streams) would otherwise meet a closed socket, and
/// the reset would swallow the answer. Past this the connection is dropped.
pub const MAX_DISCARDED_BYTES: usize = 64 << 20;
/// How long the rest of an oversized body is read for, at most.
const DISCARD_TIME: std::time::Duration = std::time::Duration::from_secs(10);

/// A whole request body of at most [`MAX_BODY_BYTES`].
#[derive(Default)]
struct Payload(axum::body::Bytes);

#[axum::async_trait]
impl<S: Send + Sync> axum::extract::FromRequest<S> for Payload {
    type Rejection = Refusal;

    async fn from_request(req: axum::extract::Request, _: &S) -> Result<Self, Refusal> {
        use http_body_util::BodyExt;
        let declared = req
            .headers()
            .get(axum::http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        let mut body = req.into_body();
        let mut bytes = Vec::new();
        let unreadable = |e: axum::Error| {
            let err = invalid(format!("The request body could not be read: {e}"));
            Refusal(StatusCode::BAD_REQUEST, err)
        };
        if declared.is_none_or(|n| n <= MAX_BODY_BYTES as u64) {
            loop {
                let Some(frame) = body.frame().await else {
                    return Ok(Payload(bytes.into()));
                };
                let Ok(data) = frame.map_err(unreadable)?.into_data() else {
                    continue;
                };
                if bytes.len() + data.len() > MAX_BODY_BYTES {
                    break;
                }
                bytes.extend_from_slice(&data);
            }
            drop(bytes);
        }
        let mut discarded = 0usize;
        let _ = tokio::time::timeout(DISCARD_TIME, async {
            while discarded < MAX_DISCARDED_BYTES {
                match body.frame().await {
                    Some(Ok(frame)) => discarded += frame.data_ref().map_or(0, |d| d.len()),
                    _ => break,
                }
            }
        })
        .await;
        let err = Error::new(
            Code::RequestInvalid,
            format!("The request body is larger than the limit of {MAX_BODY_BYTES} bytes."),
        );
        Err(Refusal(StatusCode::PAYLOAD_TOO_LARGE, err))
    }
}

/// The open transactions of this member.
#[derive(Default)]
pub struct OpenTransactions {
    next: std::sync::atomic::AtomicU64,
    txs: std::sync::Mutex<std::collections::HashMap<u64, Arc<tokio::sync::Mutex<OpenTx>>>>,
}

pub struct OpenTx {
    session: BoltSession,
    tx: Option<crate::session::BoltTx>,
    db: String,
    /// Who opened it: only the same credentials may continue it.
    principal: Option<String>,
    expires: std::time::SystemTime,
}

fn tag_of(node_id: u64) -> u64 {
    node_id & ((1 << TAG_BITS) - 1)
}

impl OpenTransactions {
    fn insert(&self, node_id: u64, tx: OpenTx) -> Result<u64, Error> {
        let mut txs = self.txs.lock().unwrap_or_else(|p| p.into_inner());
        if txs.len() >= MAX_OPEN_TRANSACTIONS {
            return Err(Error::new(
                Code::RequestInvalid,
                format!("This member holds {MAX_OPEN_TRANSACTIONS} open HTTP transactions, its limit; commit or roll back some first."),
            ));
        }
        let n = self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
        let id = (tag_of(node_id) << COUNTER_BITS) | (n & ((1 << COUNTER_BITS) - 1));
        txs.insert(id, Arc::new(tokio::sync::Mutex::new(tx)));
        Ok(id)
    }

    fn get(&self, id: u64) -> Option<Arc<tokio::sync::Mutex<OpenTx>>> {
        self.txs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&id)
            .cloned()
    }

    fn remove(&self, id: u64) {
        self.txs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&id);
    }

    /// Rolls back transactions idle past their expiry; run periodically.
    pub async fn sweep(&self) {
        let now = std::time::SystemTime::now();
        let all: Vec<(u64, Arc<tokio::sync::Mutex<OpenTx>>)> = self
            .txs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .map(|(k, v)| (*k, v.clone()))
            .collect();
        for (id, tx) in all {
            // One in use is not idle.
            let Ok(mut open) = tx.try_lock() else {
                continue;
            };
            if open.expires <= now {
                if let Some(t) = open.tx.take() {
                    open.session.rollback(t).await;
                }
                self.remove(id);
                tracing::info!(id, "an idle HTTP transaction expired and was rolled back");
            }
        }
    }
}

fn not_found(id: &str) -> Response {
    let err = Error::new(
        Code::TransactionNotFound,
        format!("Unrecognized transaction id {id}. It may have timed out and been rolled back."),
    );
    (
        StatusCode::NOT_FOUND,
        Json(json!({"results": [], "errors": [error_json(&err)]})),
    )
        .into_response()
}

fn error_json(e: &Error) -> JsonValue {
    json!({"code": e.code.as_str(), "message": e.message})
}

fn invalid(msg: impl Into<String>) -> Error {
    Error::new(Code::RequestInvalidFormat, msg)
}

/// A JSON parameter as a Cypher value: integral numbers are integers.
fn to_value(j: &JsonValue) -> Value {
    match j {
        JsonValue::Null => Value::Null,
        JsonValue::Bool(b) => Value::Bool(*b),
        JsonValue::Number(n) => match n.as_i64() {
            Some(i) => Value::Int(i),
            None => Value::Float(n.as_f64().unwrap_or(f64::NAN)),
        },
        JsonValue::String(s) => Value::String(s.clone()),
        JsonValue::Array(a) => Value::List(a.iter().map(to_value).collect()),
        JsonValue::Object(o) => {
            Value::Map(o.iter().map(|(k, v)| (k.clone(), to_value(v))).collect())
        }
    }
}

/// A statement's `parameters` object as Cypher parameters.
fn parameters(p: Option<&JsonValue>) -> Result<Map, Error> {
    match p {
        None | Some(JsonValue::Null) => Ok(Map::new()),
        Some(JsonValue::Object(o)) => Ok(o.iter().map(|(k, v)| (k.clone(), to_value(v))).collect()),
        Some(_) => Err(invalid("`parameters` must be an object")),
    }
}

/// A path's nodes and relationships in walking order.
fn path_items(p: &causeway_value::Path) -> Vec<Value> {
    let mut out = Vec::with_capacity(p.nodes.len() + p.rels.len());
    for (i, n) in p.nodes.iter().enumerate() {
        out.push(Value::Node(n.clone()));
        if let Some(r) = p.rels.get(i) {
            out.push(Value::Relationship(r.clone()));
        }
    }
    out
}

/// Pulls a statement's rows, counting them against the request's budget.
/// Rows may be computed lazily and take a while, so this runs off the async
/// worker.
fn collect_rows(rows: causeway_bolt::RowIter, left: &mut usize) -> Result<Vec<Vec<Value>>, Error> {
    tokio::task::block_in_place(|| {
        let mut out = Vec::new();
        for r in rows {
            if *left == 0 {
                return Err(Error::new(
                    Code::RequestInvalid,
                    format!("The results exceed {MAX_RESULT_ROWS} rows; page through them with SKIP and LIMIT."),
                ));
            }
            *left -= 1;
            out.push(r?);
        }
        Ok(out)
    })
}

fn props_json(m: &Map) -> JsonValue {
    JsonValue::Object(m.iter().map(|(k, v)| (k.clone(), row_json(v))).collect())
}

/// A value in the `row` format: entities are their properties.
fn row_json(v: &Value) -> JsonValue {
    match v {
        Value::Null => JsonValue::Null,
        Value::Bool(b) => JsonValue::Bool(*b),
        Value::Int(i) => json!(i),
        Value::Float(f) => {
            serde_json::Number::from_f64(*f).map_or(JsonValue::Null, JsonValue::Number)
        }
        Value::String(s) => JsonValue::String(s.clone()),
        Value::Bytes(b) => JsonValue::Array(b.iter().map(|x| json!(x)).collect()),
        Value::List(l) => JsonValue::Array(l.iter().map(row_json).collect()),
        Value::Map(m) => props_json(m),
        Value::Node(n) => props_json(&n.props),
        Value::Relationship(r) => props_json(&r.props),
        Value::Path(p) => JsonValue::Array(path_items(p).iter().map(row_json).collect()),
        // GeoJSON with the coordinate system linked, as Neo4j's HTTP API
        // writes points.
        Value::Point(p) => {
            let crs = p.crs();
            let coords: Vec<f64> = [Some(p.x), Some(p.y), p.z].into_iter().flatten().collect();
            json!({"type": "Point", "coordinates": coords, "crs": {
                "srid": p.srid, "name": crs.name, "type": "link",
                "properties": {"href": format!("{}ogcwkt/", crs.href), "type": "ogcwkt"}}})
        }
        other => other
            .temporal_text()
            .map_or(JsonValue::Null, JsonValue::String),
    }
}

/// A value in Neo4j 3.x's `rest` format: entities carry their own URI
/// (whose last segment is the id, all clients read of it), labels or type
/// and properties; paths list their members' URIs and directions.
fn rest_json(v: &Value) -> JsonValue {
    let node_uri = |id: u64| format!("/db/data/node/{id}");
    let rel_uri = |id: u64| format!("/db/data/relationship/{id}");
    match v {
        Value::Node(n) => json!({
            "self": node_uri(n.id), "metadata": {"id": n.id, "labels": n.labels},
            "data": props_json(&n.props)
        }),
        Value::Relationship(r) => json!({
            "self": rel_uri(r.id), "type": r.rel_type, "start": node_uri(r.start),
            "end": node_uri(r.end), "metadata": {"id": r.id, "type": r.rel_type},
            "data": props_json(&r.props)
        }),
        Value::Path(p) => {
            let directions: Vec<&str> = p
                .rels
                .iter()
                .zip(&p.nodes)
                .map(|(r, from)| if r.start == from.id { "->" } else { "<-" })
                .collect();
            json!({
                "start": p.nodes.first().map(|n| node_uri(n.id)),
                "end": p.nodes.last().map(|n| node_uri(n.id)),
                "nodes": p.nodes.iter().map(|n| node_uri(n.id)).collect::<Vec<_>>(),
                "relationships": p.rels.iter().map(|r| rel_uri(r.id)).collect::<Vec<_>>(),
                "directions": directions,
                "length": p.rels.len(),
            })
        }
        Value::List(l) => JsonValue::Array(l.iter().map(rest_json).collect()),
        Value::Map(m) => {
            JsonValue::Object(m.iter().map(|(k, v)| (k.clone(), rest_json(v))).collect())
        }
        other => row_json(other),
    }
}

/// The `meta` entry of a value: what the row format leaves out.
fn meta_json(v: &Value) -> JsonValue {
    match v {
        Value::Node(n) => {
            json!({"id": n.id, "elementId": element_id(n.id), "type": "node", "deleted": false})
        }
        Value::Relationship(r) => json!({
            "id": r.id, "elementId": rel_element_id(r.id), "type": "relationship", "deleted": false
        }),
        Value::Path(p) => JsonValue::Array(path_items(p).iter().map(meta_json).collect()),
        Value::List(l) => JsonValue::Array(l.iter().map(meta_json).collect()),
        Value::Date(_) => json!({"type": "date"}),
        Value::Time(_) => json!({"type": "time"}),
        Value::LocalTime(_) => json!({"type": "localtime"}),
        Value::DateTime(_) => json!({"type": "datetime"}),
        Value::LocalDateTime(_) => json!({"type": "localdatetime"}),
        Value::Duration(_) => json!({"type": "duration"}),
        Value::Point(_) => json!({"type": "point"}),
        _ => JsonValue::Null,
    }
}

/// Nodes and relationships of a row, for the `graph` format.
fn collect_graph(v: &Value, nodes: &mut Vec<JsonValue>, rels: &mut Vec<JsonValue>) {
    let node = |n: &causeway_value::Node| {
        json!({"id": n.id.to_string(), "elementId": element_id(n.id),
               "labels": n.labels, "properties": props_json(&n.props)})
    };
    let rel = |r: &causeway_value::Relationship| {
        json!({"id": r.id.to_string(), "elementId": rel_element_id(r.id), "type": r.rel_type,
               "startNode": r.start.to_string(), "endNode": r.end.to_string(),
               "startNodeElementId": element_id(r.start), "endNodeElementId": element_id(r.end),
               "properties": props_json(&r.props)})
    };
    let push = |list: &mut Vec<JsonValue>, j: JsonValue| {
        if !list.iter().any(|x| x["id"] == j["id"]) {
            list.push(j);
        }
    };
    match v {
        Value::Node(n) => push(nodes, node(n)),
        Value::Relationship(r) => push(rels, rel(r)),
        Value::Path(p) => {
            for n in &p.nodes {
                push(nodes, node(n));
            }
            for r in &p.rels {
                push(rels, rel(r));
            }
        }
        Value::List(l) => l.iter().for_each(|x| collect_graph(x, nodes, rels)),
        Value::Map(m) => m.values().for_each(|x| collect_graph(x, nodes, rels)),
        _ => {}
    }
}

struct Statement {
    text: String,
    params: Map,
    row: bool,
    graph: bool,
    /// Neo4j 3.x's `rest` format, which py2neo asks for over HTTP.
    rest: bool,
    stats: bool,
}

fn statements(body: &JsonValue) -> Result<Vec<Statement>, Error> {
    let list = match body.get("statements") {
        None | Some(JsonValue::Null) => return Ok(Vec::new()),
        Some(JsonValue::Array(l)) => l,
        Some(_) => return Err(invalid("`statements` must be a list")),
    };
    if list.len() > MAX_STATEMENTS {
        return Err(Error::new(
            Code::RequestInvalid,
            format!(
                "A request may carry at most {MAX_STATEMENTS} statements; this one has {}.",
                list.len()
            ),
        ));
    }
    list.iter()
        .map(|s| {
            let text = s
                .get("statement")
                .and_then(JsonValue::as_str)
                .ok_or_else(|| invalid("every statement needs a `statement` string"))?;
            let params = parameters(s.get("parameters"))?;
            let formats: Vec<&str> = match s.get("resultDataContents") {
                Some(JsonValue::Array(f)) => f.iter().filter_map(JsonValue::as_str).collect(),
                _ => vec!["row"],
            };
            let wants = |f: &str| formats.iter().any(|x| x.eq_ignore_ascii_case(f));
            Ok(Statement {
                text: text.to_owned(),
                params,
                row: wants("row") || !(wants("graph") || wants("rest")),
                graph: wants("graph"),
                rest: wants("rest"),
                stats: s
                    .get("includeStats")
                    .and_then(JsonValue::as_bool)
                    .unwrap_or(false),
            })
        })
        .collect()
}

fn stats_json(c: &causeway_value::Counters) -> JsonValue {
    let mut m = serde_json::Map::new();
    m.insert(
        "contains_updates".into(),
        JsonValue::Bool(c.contains_updates()),
    );
    for (k, v) in c.entries() {
        m.insert(k.replace('-', "_"), json!(v));
    }
    m.insert(
        "contains_system_updates".into(),
        JsonValue::Bool(c.system_updates > 0),
    );
    JsonValue::Object(m)
}

/// Bookmarks from the `Bookmarks` header: a JSON list, or comma-separated.
fn bookmarks(headers: &HeaderMap) -> Vec<String> {
    let Some(raw) = headers.get("bookmarks").and_then(|v| v.to_str().ok()) else {
        return Vec::new();
    };
    match serde_json::from_str::<Vec<String>>(raw) {
        Ok(list) => list,
        Err(_) => raw
            .split(',')
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
            .collect(),
    }
}

fn access_mode(headers: &HeaderMap) -> AccessMode {
    match headers.get("access-mode").and_then(|v| v.to_str().ok()) {
        Some(m) if m.eq_ignore_ascii_case("read") => AccessMode::Read,
        _ => AccessMode::Write,
    }
}

/// A request refused before any statement ran.
struct Refusal(StatusCode, Error);

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        (
            self.0,
            Json(json!({"results": [], "errors": [error_json(&self.1)]})),
        )
            .into_response()
    }
}

/// The request body as JSON (an empty body is an empty object).
fn read_json(body: Body) -> Result<JsonValue, Refusal> {
    let Payload(body) = body?;
    json_body(&body).map_err(|e| Refusal(StatusCode::BAD_REQUEST, e))
}

/// A request body's bytes as JSON (an empty body is an empty object).
fn json_body(bytes: &[u8]) -> Result<JsonValue, Error> {
    if bytes.is_empty() {
        return Ok(json!({}));
    }
    serde_json::from_slice(bytes)
        .map_err(|e| invalid(format!("Unable to deserialize request: {e}")))
}

/// The statements and parameters of a transactional-endpoint body, as the
/// handlers read them (the fuzz target's way in).
pub fn request_statements(bytes: &[u8]) -> Result<Vec<(String, Map)>, Error> {
    Ok(statements(&json_body(bytes)?)?
        .into_iter()
        .map(|s| (s.text, s.params))
        .collect())
}

/// The statement and parameters of a Query API body.
pub fn query_statement(body: &JsonValue) -> Result<(String, Map), Error> {
    let statement = body
        .get("statement")
        .and_then(JsonValue::as_str)
        .ok_or_else(|| invalid("the request needs a `statement` string"))?;
    Ok((statement.to_owned(), parameters(body.get("parameters"))?))
}

/// [`query_statement`] from a body's bytes.
pub fn query_body(bytes: &[u8]) -> Result<(String, Map), Error> {
    query_statement(&json_body(bytes)?)
}

/// The request's statements.
fn parse_request(body: Body) -> Result<Vec<Statement>, Refusal> {
    statements(&read_json(body)?).map_err(|e| Refusal(StatusCode::OK, e))
}

/// A new transaction that has run the request's statements.
struct Started {
    session: BoltSession,
    tx: crate::session::BoltTx,
    results: Vec<JsonValue>,
    principal: Option<String>,
}

/// Authenticates, begins a transaction and runs the request's statements
/// in it; a failure ends (rolls back) the transaction and becomes the
/// response.
async fn start(
    s: &HttpState,
    db: String,
    headers: &HeaderMap,
    body: Body,
    one_shot: bool,
) -> Result<Started, Response> {
    let token = crate::http::authenticate(s, headers).await?;
    let statements = parse_request(body).map_err(IntoResponse::into_response)?;
    let principal = token.principal.clone();
    let mut session = BoltSession::for_http(s.sessions.clone(), token);
    let mut req = begin_request(db, headers);
    // A single statement with `CALL { } IN TRANSACTIONS` committed in the
    // same request runs as an auto-commit query, as Neo4j runs it in an
    // implicit transaction. Others stay explicit, so that a result too
    // large to send can still roll the transaction back.
    req.auto_commit = one_shot
        && statements.len() == 1
        && causeway_exec::statement_info(&statements[0].text).is_ok_and(|i| i.inner_transactions);
    let mut tx = session
        .begin(req)
        .await
        .map_err(|e| Refusal(StatusCode::OK, e).into_response())?;
    let (results, failed) = run_statements(&mut session, &mut tx, statements).await;
    if let Some(e) = failed {
        session.rollback(tx).await;
        return Err(Json(json!({"results": results, "errors": [error_json(&e)]})).into_response());
    }
    Ok(Started {
        session,
        tx,
        results,
        principal,
    })
}

fn begin_request(db: String, headers: &HeaderMap) -> BeginRequest {
    BeginRequest {
        db: Some(db),
        mode: access_mode(headers),
        bookmarks: bookmarks(headers),
        tx_timeout: None,
        tx_metadata: Map::new(),
        imp_user: None,
        auto_commit: false,
        routing: None,
        forward: None,
    }
}

async fn commit_in_one_request(
    State(s): State<Arc<HttpState>>,
    Path(db): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let Started {
        mut session,
        tx,
        results,
        ..
    } = match start(&s, db, &headers, body, true).await {
        Ok(st) => st,
        Err(r) => return r,
    };
    let mut out = json!({"results": results, "errors": []});
    match session.commit(tx).await {
        Ok(c) => out["lastBookmarks"] = json!([c.bookmark]),
        Err(e) => out["errors"] = json!([error_json(&e)]),
    }
    Json(out).into_response()
}

/// Where this request's transaction URLs point: the address the client
/// used (a load balancer's, say), so follow-ups take the same way in.
fn base_url(s: &HttpState, headers: &HeaderMap) -> String {
    let host = headers
        .get(axum::http::header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or(&s.http_advertised);
    format!("http://{host}")
}

fn expiry() -> std::time::SystemTime {
    std::time::SystemTime::now() + IDLE_TIMEOUT
}

/// RFC 1123, as Neo4j writes `transaction.expires`.
fn http_date(t: std::time::SystemTime) -> String {
    let secs = t
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs()) as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (y, m, d) = causeway_value::temporal::civil_from_days(days);
    const WEEKDAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    format!(
        "{}, {:02} {} {} {:02}:{:02}:{:02} GMT",
        WEEKDAYS[days.rem_euclid(7) as usize],
        d,
        MONTHS[(m - 1).clamp(0, 11) as usize],
        y,
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

async fn open(
    State(s): State<Arc<HttpState>>,
    Path(db): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let Started {
        session,
        tx,
        results,
        principal,
    } = match start(&s, db.clone(), &headers, body, false).await {
        Ok(st) => st,
        Err(r) => return r,
    };
    let expires = expiry();
    let open = OpenTx {
        session,
        tx: Some(tx),
        db: db.clone(),
        principal,
        expires,
    };
    let id = match s.open_txs.insert(s.node_id, open) {
        Ok(id) => id,
        Err(e) => {
            return Json(json!({"results": results, "errors": [error_json(&e)]})).into_response()
        }
    };
    let url = format!("{}/db/{db}/tx/{id}", base_url(&s, &headers));
    (
        StatusCode::CREATED,
        [(axum::http::header::LOCATION, url.clone())],
        Json(json!({
            "results": results,
            "errors": [],
            "commit": format!("{url}/commit"),
            "transaction": {"expires": http_date(expires)},
        })),
    )
        .into_response()
}

/// What a follow-up request does with the open transaction.
#[derive(Clone, Copy, PartialEq)]
enum Step {
    Run,
    Commit,
    Rollback,
}

async fn follow_up(
    State(s): State<Arc<HttpState>>,
    Path((db, id_text)): Path<(String, String)>,
    headers: HeaderMap,
    body: Body,
    step: Step,
) -> Response {
    let Ok(id) = id_text.parse::<u64>() else {
        return not_found(&id_text);
    };
    let owner_tag = id >> COUNTER_BITS;
    if owner_tag != tag_of(s.node_id) {
        return pass_on(&s, owner_tag, &db, &id_text, &headers, body, step).await;
    }
    let token = match crate::http::authenticate(&s, &headers).await {
        Ok(t) => t,
        Err(r) => return r,
    };
    let Some(entry) = s.open_txs.get(id) else {
        return not_found(&id_text);
    };
    let mut open = entry.lock().await;
    if open.principal != token.principal || !open.db.eq_ignore_ascii_case(&db) {
        return not_found(&id_text);
    }
    let Some(mut tx) = open.tx.take() else {
        return not_found(&id_text);
    };
    let statements = match parse_request(body) {
        Ok(st) => st,
        Err(r) => {
            open.tx = Some(tx);
            return r.into_response();
        }
    };
    let open = &mut *open;
    let (results, failed) = run_statements(&mut open.session, &mut tx, statements).await;
    if let Some(e) = failed {
        open.session.rollback(tx).await;
        s.open_txs.remove(id);
        return Json(json!({"results": results, "errors": [error_json(&e)]})).into_response();
    }
    match step {
        Step::Run => {
            open.tx = Some(tx);
            open.expires = expiry();
            let url = format!("{}/db/{db}/tx/{id}", base_url(&s, &headers));
            Json(json!({
                "results": results,
                "errors": [],
                "commit": format!("{url}/commit"),
                "transaction": {"expires": http_date(open.expires)},
            }))
            .into_response()
        }
        Step::Commit => {
            s.open_txs.remove(id);
            let mut out = json!({"results": results, "errors": []});
            match open.session.commit(tx).await {
                Ok(c) => out["lastBookmarks"] = json!([c.bookmark]),
                Err(e) => out["errors"] = json!([error_json(&e)]),
            }
            Json(out).into_response()
        }
        Step::Rollback => {
            s.open_txs.remove(id);
            open.session.rollback(tx).await;
            Json(json!({"results": [], "errors": []})).into_response()
        }
    }
}

/// Sends a follow-up to the member that holds the transaction and returns
/// its answer. If that member cannot be reached, the transaction is gone
/// with it (a commit that was under way may or may not have happened).
async fn pass_on(
    s: &HttpState,
    owner_tag: u64,
    db: &str,
    id: &str,
    headers: &HeaderMap,
    body: Body,
    step: Step,
) -> Response {
    let st = s.repl.status();
    let Some(owner) = st.members.iter().find(|m| tag_of(m.node_id) == owner_tag) else {
        return not_found(id);
    };
    let body = match body {
        Ok(Payload(body)) => body,
        Err(refusal) => return refusal.into_response(),
    };
    let (method, path) = match step {
        Step::Run => ("POST", format!("/db/{db}/tx/{id}")),
        Step::Commit => ("POST", format!("/db/{db}/tx/{id}/commit")),
        Step::Rollback => ("DELETE", format!("/db/{db}/tx/{id}")),
    };
    match crate::http::client::request(
        &*s.members,
        &owner.member.http_routing,
        method,
        &path,
        headers,
        &body,
    )
    .await
    {
        Ok(resp) => resp,
        Err(e) => {
            let (code, what) = if step == Step::Commit {
                (
                    Code::TransactionCommitFailed,
                    "whether the commit happened is unknown: check before retrying",
                )
            } else {
                (
                    Code::TransactionNotFound,
                    "the transaction was lost with it; start it again",
                )
            };
            let err = Error::new(
                code,
                format!(
                    "Transaction {id} is held by the member at {}, which cannot be reached ({e}); {what}.",
                    &owner.member.http_routing
                ),
            );
            (
                StatusCode::OK,
                Json(json!({"results": [], "errors": [error_json(&err)]})),
            )
                .into_response()
        }
    }
}

/// Runs statements in `tx`. Stops at the first error, returning it with the
/// results so far; the caller rolls the transaction back.
async fn run_statements(
    session: &mut BoltSession,
    tx: &mut crate::session::BoltTx,
    statements: Vec<Statement>,
) -> (Vec<JsonValue>, Option<Error>) {
    let mut results = Vec::new();
    let mut rows_left = MAX_RESULT_ROWS;
    for st in statements {
        let result = match session.run(tx, st.text.clone(), st.params.clone()).await {
            Ok(r) => r,
            Err(e) => return (results, Some(e)),
        };
        let counters = result.counters;
        let columns = result.fields.clone();
        let rows = match collect_rows(result.rows, &mut rows_left) {
            Ok(r) => r,
            Err(e) => return (results, Some(e)),
        };
        let data: Vec<JsonValue> = rows
            .iter()
            .map(|row| {
                let mut d = serde_json::Map::new();
                if st.row {
                    d.insert(
                        "row".into(),
                        JsonValue::Array(row.iter().map(row_json).collect()),
                    );
                    d.insert(
                        "meta".into(),
                        JsonValue::Array(row.iter().map(meta_json).collect()),
                    );
                }
                if st.rest {
                    d.insert(
                        "rest".into(),
                        JsonValue::Array(row.iter().map(rest_json).collect()),
                    );
                }
                if st.graph {
                    let (mut nodes, mut rels) = (Vec::new(), Vec::new());
                    for v in row {
                        collect_graph(v, &mut nodes, &mut rels);
                    }
                    d.insert(
                        "graph".into(),
                        json!({"nodes": nodes, "relationships": rels}),
                    );
                }
                JsonValue::Object(d)
            })
            .collect();
        let mut r = json!({"columns": columns, "data": data});
        if st.stats {
            r["stats"] = stats_json(&counters);
        }
        results.push(r);
    }
    (results, None)
}

/// A value as the Query API writes it in plain JSON: entities as objects
/// with their element ids, paths as the alternating list of them.
fn plain_json(v: &Value) -> JsonValue {
    let node = |n: &causeway_value::Node| json!({"elementId": element_id(n.id), "labels": n.labels, "properties": plain_map(&n.props)});
    let rel = |r: &causeway_value::Relationship| {
        json!({"elementId": rel_element_id(r.id), "startNodeElementId": element_id(r.start),
               "endNodeElementId": element_id(r.end), "type": r.rel_type,
               "properties": plain_map(&r.props)})
    };
    match v {
        Value::Node(n) => node(n),
        Value::Relationship(r) => rel(r),
        Value::Path(p) => JsonValue::Array(path_items(p).iter().map(plain_json).collect()),
        Value::List(l) => JsonValue::Array(l.iter().map(plain_json).collect()),
        Value::Map(m) => plain_map(m),
        // Well-known text with the SRID, as the Query API writes points.
        Value::Point(p) => {
            let num =
                |x: f64| serde_json::Number::from_f64(x).map_or(x.to_string(), |n| n.to_string());
            let wkt = match p.z {
                None => format!("SRID={};POINT ({} {})", p.srid, num(p.x), num(p.y)),
                Some(z) => format!(
                    "SRID={};POINT Z ({} {} {})",
                    p.srid,
                    num(p.x),
                    num(p.y),
                    num(z)
                ),
            };
            JsonValue::String(wkt)
        }
        other => row_json(other),
    }
}

fn plain_map(m: &Map) -> JsonValue {
    JsonValue::Object(m.iter().map(|(k, v)| (k.clone(), plain_json(v))).collect())
}

fn counters_json(c: &causeway_value::Counters) -> JsonValue {
    let camel = |k: &str| {
        let mut out = String::new();
        let mut up = false;
        for ch in k.chars() {
            if ch == '-' {
                up = true;
            } else if up {
                out.extend(ch.to_uppercase());
                up = false;
            } else {
                out.push(ch);
            }
        }
        out
    };
    let mut m = serde_json::Map::new();
    m.insert(
        "containsUpdates".into(),
        JsonValue::Bool(c.contains_updates()),
    );
    for (k, v) in c.entries() {
        m.insert(camel(k), json!(v));
    }
    m.insert(
        "containsSystemUpdates".into(),
        JsonValue::Bool(c.system_updates > 0),
    );
    JsonValue::Object(m)
}

/// `POST /db/{db}/query/v2`: one statement in its own transaction. 202 with
/// `data.fields`, `data.values`, `bookmarks` (and `counters` if asked);
/// errors as 400 with `errors`.
async fn query_v2(
    State(s): St,
    Path(db): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let fail = |code: StatusCode, e: &Error| {
        (code, Json(json!({"errors": [error_json(e)]}))).into_response()
    };
    let token = match crate::http::authenticate(&s, &headers).await {
        Ok(t) => t,
        Err(r) => return r,
    };
    let body = match read_json(body) {
        Ok(b) => b,
        Err(Refusal(code, e)) => return fail(code, &e),
    };
    let (statement, params) = match query_statement(&body) {
        Ok(sp) => sp,
        Err(e) => return fail(StatusCode::BAD_REQUEST, &e),
    };
    let mut req = begin_request(db, &headers);
    req.auto_commit = causeway_exec::statement_info(&statement).is_ok_and(|i| i.inner_transactions);
    if let Some(JsonValue::String(m)) = body.get("accessMode") {
        req.mode = if m.eq_ignore_ascii_case("read") {
            AccessMode::Read
        } else {
            AccessMode::Write
        };
    }
    if let Some(JsonValue::Array(b)) = body.get("bookmarks") {
        req.bookmarks = b
            .iter()
            .filter_map(JsonValue::as_str)
            .map(str::to_owned)
            .collect();
    }
    let mut session = BoltSession::for_http(s.sessions.clone(), token);
    let mut tx = match session.begin(req).await {
        Ok(tx) => tx,
        Err(e) => return fail(StatusCode::BAD_REQUEST, &e),
    };
    let result = match session.run(&mut tx, statement, params).await {
        Ok(r) => r,
        Err(e) => {
            session.rollback(tx).await;
            return fail(StatusCode::BAD_REQUEST, &e);
        }
    };
    let (fields, counters) = (result.fields.clone(), result.counters);
    let mut budget = MAX_RESULT_ROWS;
    let values = match collect_rows(result.rows, &mut budget) {
        Ok(rows) => rows
            .iter()
            .map(|r| JsonValue::Array(r.iter().map(plain_json).collect()))
            .collect::<Vec<_>>(),
        Err(e) => {
            session.rollback(tx).await;
            return fail(StatusCode::BAD_REQUEST, &e);
        }
    };
    let bookmark = match session.commit(tx).await {
        Ok(c) => c.bookmark,
        Err(e) => return fail(StatusCode::BAD_REQUEST, &e),
    };
    let mut out = json!({"data": {"fields": fields, "values": values}, "bookmarks": [bookmark]});
    if body.get("includeCounters").and_then(JsonValue::as_bool) == Some(true) {
        out["counters"] = counters_json(&counters);
    }
    (StatusCode::ACCEPTED, Json(out)).into_response()
}
