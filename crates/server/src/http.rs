//! The HTTP listener. In this release it answers liveness and Neo4j's
//! discovery document; the transactional HTTP API comes with server-side
//! routing.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;
use std::sync::Arc;

pub struct HttpState {
    pub bolt_advertised: String,
}

pub fn router(state: Arc<HttpState>) -> Router {
    Router::new()
        .route("/", get(discovery))
        .route("/health/live", get(|| async { "OK" }))
        .with_state(state)
}

async fn discovery(State(s): State<Arc<HttpState>>) -> Json<serde_json::Value> {
    Json(json!({
        "bolt_direct": format!("bolt://{}", s.bolt_advertised),
        "bolt_routing": format!("neo4j://{}", s.bolt_advertised),
        "neo4j_version": crate::catalog::NEO4J_VERSION,
        "neo4j_edition": "enterprise",
    }))
}
