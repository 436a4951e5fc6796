//! The HTTP listener: Neo4j's discovery document, liveness, the cluster
//! health endpoints (`health.rs`), and Causeway's own status and test
//! fault switch.

use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};
use axum::{Json, Router};
use base64ct::Encoding;
use causeway_bolt::AuthToken;
use causeway_replication::network::Faults;
use causeway_replication::Replicator;
use causeway_value::{Code, Map};
use serde_json::json;
use std::sync::Arc;

use crate::db::GraphState;

pub mod client;
pub mod health;
pub mod serve;
pub mod tx;

pub struct HttpState {
    pub bolt_advertised: String,
    /// What HTTP transactions run through, as Bolt sessions do.
    pub sessions: Arc<crate::session::Shared>,
    /// Transactions opened by `POST /db/{db}/tx`, held by this member.
    pub open_txs: Arc<crate::http::tx::OpenTransactions>,
    /// This member's Raft node id (open transaction ids carry its tag).
    pub node_id: u64,
    pub http_advertised: String,
    /// Require Basic auth on the cluster status endpoints, as Neo4j does by
    /// default (`cluster_status_auth`).
    pub status_auth: bool,
    /// How long a follower may go without hearing from its leader and still
    /// call itself ready.
    pub leader_silence: std::time::Duration,
    /// Present only with `fault_injection = true`.
    pub faults: Option<Arc<Faults>>,
    pub repl: Arc<Replicator<GraphState>>,
    /// How this member dials another one (the owner of an open
    /// transaction): over mutual TLS when member certificates are set.
    pub members: causeway_net::Net,
}

pub fn router(state: Arc<HttpState>) -> Router {
    Router::new()
        .route("/", get(discovery))
        .route("/health/live", get(|| async { "OK" }))
        .route("/causeway/status", get(status))
        .route("/causeway/faults", put(set_faults))
        .merge(crate::http::health::routes())
        .merge(crate::http::tx::routes())
        .with_state(state)
}

/// This member's view of its Raft group, for operators and tests.
async fn status(State(s): State<Arc<HttpState>>) -> Json<serde_json::Value> {
    let st = s.repl.status();
    let members: Vec<_> = st
        .members
        .iter()
        .map(|m| {
            json!({
                "id": m.node_id,
                "cluster": m.member.cluster,
                "bolt": m.member.bolt,
                "http": m.member.http,
                "voter": m.voter,
                "matched": m.matched,
            })
        })
        .collect();
    let vector_indexes: Vec<_> = s
        .repl
        .state()
        .0
        .vector_build_status()
        .into_iter()
        .map(|v| {
            json!({
                "name": v.name,
                "indexed": v.indexed,
                "tombstones": v.tombstones,
                "through": v.through,
                "behind": v.behind,
            })
        })
        .collect();
    Json(json!({
        "id": st.node_id,
        "role": st.role.as_str(),
        "term": st.term,
        "leader": st.leader,
        "writable": st.writable,
        "lease_lost": st.lease_lost,
        "applied": st.applied,
        "committed": st.committed,
        "last_log": st.last_log,
        "cluster_id": st.cluster_id,
        "members": members,
        // This member's HNSW per vector index (docs/decisions/0014).
        "vector_indexes": vector_indexes,
    }))
}

#[derive(serde::Deserialize)]
struct FaultRequest {
    /// Node ids whose cluster traffic this member drops, both ways.
    blocked: Vec<u64>,
    /// Node ids whose requests this member carries out but never answers
    /// (only the way back to them is cut).
    #[serde(default)]
    mute: Vec<u64>,
}

async fn set_faults(
    State(s): State<Arc<HttpState>>,
    Json(req): Json<FaultRequest>,
) -> (StatusCode, Json<serde_json::Value>) {
    match &s.faults {
        None => (
            StatusCode::NOT_FOUND,
            Json(json!({"error": "fault injection is off (fault_injection = false)"})),
        ),
        Some(f) => {
            f.set_blocked(req.blocked.into_iter().collect());
            f.set_mute(req.mute.into_iter().collect());
            (StatusCode::OK, Json(json!({"blocked": f.blocked()})))
        }
    }
}

async fn discovery(State(s): State<Arc<HttpState>>) -> Json<serde_json::Value> {
    Json(json!({
        "bolt_direct": format!("bolt://{}", s.bolt_advertised),
        "bolt_routing": format!("neo4j://{}", s.bolt_advertised),
        "neo4j_version": crate::catalog::NEO4J_VERSION,
        "neo4j_edition": "enterprise",
    }))
}

fn unauthorized(code: Code, message: &str) -> Response {
    let status = if code == Code::AuthenticationRateLimit {
        StatusCode::TOO_MANY_REQUESTS
    } else {
        StatusCode::UNAUTHORIZED
    };
    (
        status,
        [(header::WWW_AUTHENTICATE, "Basic realm=\"Neo4j\"")],
        Json(json!({"errors": [{
            "code": code.as_str(),
            "message": message
        }]})),
    )
        .into_response()
}

/// The credentials of an HTTP request (Basic auth), checked at the same
/// door as a Bolt logon, as the token a session presents (a routed
/// transaction shows it to the leader).
pub async fn authenticate(s: &HttpState, headers: &HeaderMap) -> Result<AuthToken, Response> {
    let value = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let token = match value.map(basic_credentials) {
        Some(Some((user, password))) => AuthToken {
            scheme: "basic".into(),
            principal: Some(user),
            credentials: Some(password),
            extra: Map::new(),
        },
        Some(None) => {
            return Err(unauthorized(
                Code::Unauthorized,
                "Invalid authentication header.",
            ))
        }
        None => AuthToken {
            scheme: "none".into(),
            principal: None,
            credentials: None,
            extra: Map::new(),
        },
    };
    let checked = s.sessions.door.admit(&token).await;
    match checked {
        Ok(_) => Ok(token),
        Err(e) if e.code == Code::AuthenticationRateLimit => Err(unauthorized(e.code, &e.message)),
        Err(_) if value.is_none() => Err(unauthorized(
            Code::Unauthorized,
            "No authentication header supplied.",
        )),
        Err(_) => Err(unauthorized(
            Code::Unauthorized,
            "Invalid username or password.",
        )),
    }
}

/// `Basic base64(user:password)`.
pub fn basic_credentials(header: &str) -> Option<(String, String)> {
    let encoded = header.strip_prefix("Basic ")?.trim();
    let decoded = base64ct::Base64::decode_vec(encoded).ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (user, password) = text.split_once(':')?;
    Some((user.to_owned(), password.to_owned()))
}
