//! Health and status over HTTP: Neo4j's per-database cluster endpoints and
//! `/dbms/cluster/status` (same paths, codes and bodies, so load balancers
//! configured for Neo4j work unchanged), plus a readiness probe for
//! Kubernetes that, unlike Neo4j's `isHealthy`, is false while the cluster
//! has no leader or this member lags behind it.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use causeway_replication::{Role, Status};
use serde_json::{json, Value};

use crate::catalog::server_id;
use crate::db::{DEFAULT_DB, SYSTEM_DB};
use crate::http::HttpState;

/// A follower is ready while its applied index is at most this many entries
/// behind the commit index it has heard of.
pub const READY_MAX_LAG: u64 = 1_000;
pub fn routes() -> Router<Arc<HttpState>> {
    Router::new()
        .route("/db/:db/cluster/:which", get(cluster_endpoint))
        .route("/dbms/cluster/status", get(dbms_status))
        .route("/health/ready", get(ready))
}

fn plain(ok: bool) -> Response {
    let code = if ok {
        StatusCode::OK
    } else {
        StatusCode::NOT_FOUND
    };
    (
        code,
        [(header::CONTENT_TYPE, "text/plain")],
        if ok { "true" } else { "false" },
    )
        .into_response()
}

/// The database names this member hosts (every member hosts both).
fn hosted(db: &str) -> bool {
    let db = db.to_lowercase();
    db == DEFAULT_DB || db == SYSTEM_DB
}

/// Checks Basic credentials when `cluster_status_auth` is on. `None` means
/// the request may proceed.
async fn denied(s: &HttpState, headers: &HeaderMap) -> Option<Response> {
    if !s.status_auth {
        return None;
    }
    crate::http::authenticate(s, headers).await.err()
}

/// `/db/{db}/cluster/{writable,read-only,available,status}`.
async fn cluster_endpoint(
    State(s): State<Arc<HttpState>>,
    Path((db, which)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    if let Some(r) = denied(&s, &headers).await {
        return r;
    }
    let st = s.repl.status();
    let here = hosted(&db);
    match which.as_str() {
        "writable" => plain(here && st.writable),
        "read-only" => plain(here && !st.writable),
        // Every hosted database serves reads from its applied state, with
        // or without a leader.
        "available" => plain(here && st.role != Role::Shutdown),
        "status" if here => Json(status_json(&st, "isHealthy")).into_response(),
        _ => plain(false),
    }
}

/// The members as Neo4j's status JSON describes them.
fn status_json(st: &Status, healthy_key: &str) -> Value {
    let voters: Vec<String> = st
        .members
        .iter()
        .filter(|m| m.voter)
        .map(|m| server_id(m.node_id))
        .collect();
    let joined = !voters.is_empty();
    let leader = st.leader.filter(|_| !st.lease_lost).map(server_id);
    let mut v = json!({
        "core": st.role != Role::Learner,
        "lastAppliedRaftIndex": st.applied,
        "participatingInRaftGroup": joined && st.role != Role::Shutdown,
        "votingMembers": voters,
        "memberId": server_id(st.node_id),
        "leader": leader,
        "millisSinceLastLeaderMessage": st.millis_since_leader,
    });
    // Like Neo4j's, this health is local: the member runs and belongs to
    // the group. Whether the group can write is `writable`; whether this
    // member should take traffic is `/health/ready`.
    v[healthy_key] = Value::Bool(joined && st.role != Role::Shutdown);
    v
}

async fn dbms_status(State(s): State<Arc<HttpState>>, headers: HeaderMap) -> Response {
    if let Some(r) = denied(&s, &headers).await {
        return r;
    }
    let st = s.repl.status();
    let entries: Vec<Value> = [DEFAULT_DB, SYSTEM_DB]
        .into_iter()
        .map(|name| {
            json!({
                "databaseName": name,
                "databaseUuid": database_uuid(&st, name),
                "databaseStatus": status_json(&st, "healthy"),
            })
        })
        .collect();
    Json(Value::Array(entries)).into_response()
}

/// A stable id per (cluster, database), shaped like Neo4j's UUIDs.
fn database_uuid(st: &Status, name: &str) -> String {
    let seed = format!("{}/{name}", st.cluster_id.as_deref().unwrap_or("single"));
    // FNV-1a, twice with different offsets: stable, not cryptographic.
    let fnv = |offset: u64| {
        seed.bytes().fold(offset, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        })
    };
    let (a, b) = (fnv(0xcbf2_9ce4_8422_2325), fnv(0x8422_2325_cbf2_9ce4));
    format!(
        "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0xffff,
        b >> 48,
        b & 0xffff_ffff_ffff
    )
}

/// Ready to take traffic: the group has a leader this member hears from
/// (or this member is it, able to write) and this member has applied
/// nearly everything it knows is committed.
pub fn readiness(st: &Status, heard_within: Duration) -> Result<(), String> {
    if st.writable {
        return Ok(());
    }
    if st.members.iter().all(|m| !m.voter) {
        return Err("this member has not joined a cluster".into());
    }
    let Some(_) = st.leader.filter(|_| !st.lease_lost) else {
        return Err("the cluster has no leader".into());
    };
    if st.role == Role::Leader {
        return Err("this member leads but cannot write yet".into());
    }
    match st.millis_since_leader {
        Some(ms) if ms <= heard_within.as_millis() as u64 => {}
        _ => return Err("this member has not heard from the leader recently".into()),
    }
    if st.applied + READY_MAX_LAG < st.committed {
        return Err(format!(
            "this member is catching up: applied {} of {} committed entries",
            st.applied, st.committed
        ));
    }
    Ok(())
}

async fn ready(State(s): State<Arc<HttpState>>) -> Response {
    let st = s.repl.status();
    let body = |ready: bool, reason: Option<String>| {
        Json(json!({
            "ready": ready,
            "reason": reason,
            "role": st.role.as_str(),
            "leader": st.leader.map(server_id),
            "applied": st.applied,
            "committed": st.committed,
        }))
    };
    match readiness(&st, s.leader_silence) {
        Ok(()) => (StatusCode::OK, body(true, None)).into_response(),
        Err(reason) => (StatusCode::SERVICE_UNAVAILABLE, body(false, Some(reason))).into_response(),
    }
}
