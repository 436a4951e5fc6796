//! Neo4j's transactional HTTP endpoint, the one-request form:
//! `POST /db/{db}/tx/commit` runs a list of statements in one transaction
//! and commits it. Requests go through the same sessions as Bolt, so a
//! write that reaches a member other than the leader is routed there
//! (server-side routing), bookmarks are honoured, and errors carry the same
//! Neo4j codes.

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

pub fn routes() -> Router<Arc<HttpState>> {
    Router::new()
        .route("/db/:db/tx/commit", post(commit_in_one_request))
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY_BYTES))
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
        Value::Path(p) => {
            let mut out = Vec::new();
            for (i, n) in p.nodes.iter().enumerate() {
                out.push(props_json(&n.props));
                if let Some(r) = p.rels.get(i) {
                    out.push(props_json(&r.props));
                }
            }
            JsonValue::Array(out)
        }
        other => other
            .temporal_text()
            .map_or(JsonValue::Null, JsonValue::String),
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
        Value::Path(p) => {
            let mut out = Vec::new();
            for (i, n) in p.nodes.iter().enumerate() {
                out.push(meta_json(&Value::Node(n.clone())));
                if let Some(r) = p.rels.get(i) {
                    out.push(meta_json(&Value::Relationship(r.clone())));
                }
            }
            JsonValue::Array(out)
        }
        Value::List(l) => JsonValue::Array(l.iter().map(meta_json).collect()),
        Value::Date(_) => json!({"type": "date"}),
        Value::Time(_) => json!({"type": "time"}),
        Value::LocalTime(_) => json!({"type": "localtime"}),
        Value::DateTime(_) => json!({"type": "datetime"}),
        Value::LocalDateTime(_) => json!({"type": "localdatetime"}),
        Value::Duration(_) => json!({"type": "duration"}),
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
            let params = match s.get("parameters") {
                None | Some(JsonValue::Null) => Map::new(),
                Some(JsonValue::Object(o)) => {
                    o.iter().map(|(k, v)| (k.clone(), to_value(v))).collect()
                }
                Some(_) => return Err(invalid("`parameters` must be an object")),
            };
            let formats: Vec<&str> = match s.get("resultDataContents") {
                Some(JsonValue::Array(f)) => f.iter().filter_map(JsonValue::as_str).collect(),
                _ => vec!["row"],
            };
            let wants = |f: &str| formats.iter().any(|x| x.eq_ignore_ascii_case(f));
            Ok(Statement {
                text: text.to_owned(),
                params,
                row: wants("row") || !wants("graph"),
                graph: wants("graph"),
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

async fn commit_in_one_request(
    State(s): State<Arc<HttpState>>,
    Path(db): Path<String>,
    headers: HeaderMap,
    body: Result<axum::body::Bytes, axum::extract::rejection::BytesRejection>,
) -> Response {
    let token = match crate::health::authenticate(&s, &headers).await {
        Ok(t) => t,
        Err(r) => return r,
    };
    let body = match body {
        Ok(b) => b,
        Err(rejection) => {
            let err = Error::new(
                Code::RequestInvalid,
                format!(
                    "The request body could not be read ({}); the limit is {MAX_BODY_BYTES} bytes.",
                    rejection.body_text()
                ),
            );
            let body = json!({"results": [], "errors": [error_json(&err)]});
            return (rejection.status(), Json(body)).into_response();
        }
    };
    let body: JsonValue = if body.is_empty() {
        json!({})
    } else {
        match serde_json::from_slice(&body) {
            Ok(b) => b,
            Err(e) => {
                let err = invalid(format!("Unable to deserialize request: {e}"));
                return (
                    StatusCode::BAD_REQUEST,
                    Json(json!({"results": [], "errors": [error_json(&err)]})),
                )
                    .into_response();
            }
        }
    };
    let statements = match statements(&body) {
        Ok(st) => st,
        Err(e) => return Json(json!({"results": [], "errors": [error_json(&e)]})).into_response(),
    };
    let mut session = BoltSession::for_http(s.sessions.clone(), token);
    let req = BeginRequest {
        db: Some(db),
        mode: access_mode(&headers),
        bookmarks: bookmarks(&headers),
        tx_timeout: None,
        tx_metadata: Map::new(),
        imp_user: None,
        auto_commit: false,
        routing: None,
        forward: None,
    };
    let (results, outcome) = run_all(&mut session, req, statements).await;
    let mut out = json!({"results": results, "errors": []});
    match outcome {
        Ok(bookmark) => out["lastBookmarks"] = json!([bookmark]),
        Err(e) => out["errors"] = json!([error_json(&e)]),
    }
    Json(out).into_response()
}

/// Runs the statements in one transaction and commits it; on the first
/// error the transaction is rolled back and the results so far returned.
async fn run_all(
    session: &mut BoltSession,
    req: BeginRequest,
    statements: Vec<Statement>,
) -> (Vec<JsonValue>, Result<String, Error>) {
    let mut results = Vec::new();
    let mut tx = match session.begin(req).await {
        Ok(tx) => tx,
        Err(e) => return (results, Err(e)),
    };
    let mut rows_left = MAX_RESULT_ROWS;
    for st in statements {
        let result = match session
            .run(&mut tx, st.text.clone(), st.params.clone())
            .await
        {
            Ok(r) => r,
            Err(e) => {
                session.rollback(tx).await;
                return (results, Err(e));
            }
        };
        let counters = result.counters;
        let columns = result.fields.clone();
        // Rows may be computed lazily and take a while: off the async worker.
        let rows = tokio::task::block_in_place(|| {
            let mut rows = Vec::new();
            for r in result.rows {
                if rows_left == 0 {
                    return Err(Error::new(
                        Code::RequestInvalid,
                        format!("The results exceed {MAX_RESULT_ROWS} rows; page through them with SKIP and LIMIT."),
                    ));
                }
                rows_left -= 1;
                rows.push(r?);
            }
            Ok(rows)
        });
        let rows = match rows {
            Ok(r) => r,
            Err(e) => {
                session.rollback(tx).await;
                return (results, Err(e));
            }
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
    let outcome = session.commit(tx).await.map(|c| c.bookmark);
    (results, outcome)
}
