//! Health: `/api/health` (every store with status and latency), `/api/health/live` (the
//! process serves requests) and `/api/health/ready` (every store answers).

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::json;

use crate::AppState;
use crate::model::Timestamp;
use crate::store::{HealthStatus, StoreHealth};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/health", get(get_health))
        .route("/api/health/live", get(get_liveness))
        .route("/api/health/ready", get(get_readiness))
}

fn service_json(health: &StoreHealth) -> serde_json::Value {
    json!({
        "backend": health.backend,
        "status": health.status,
        "latencyMs": (health.latency.as_secs_f64() * 1000.0 * 100.0).round() / 100.0,
        "message": health.message,
    })
}

/// The worse of two states.
fn worst(left: HealthStatus, right: HealthStatus) -> HealthStatus {
    let rank = |status| match status {
        HealthStatus::Healthy => 0,
        HealthStatus::Degraded => 1,
        HealthStatus::Unhealthy => 2,
    };
    if rank(right) > rank(left) {
        right
    } else {
        left
    }
}

async fn get_health(State(state): State<AppState>) -> Response {
    let (metadata, blobs) = tokio::join!(state.store.health(), state.blobs.health());
    let status = worst(metadata.status, blobs.status);
    let body = json!({
        "status": status,
        "timestamp": Timestamp::now(),
        "version": env!("CARGO_PKG_VERSION"),
        "services": {"metadata": service_json(&metadata), "blobs": service_json(&blobs)},
    });
    let code = if status == HealthStatus::Healthy {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (code, axum::Json(body)).into_response()
}

async fn get_liveness() -> Response {
    axum::Json(json!({"status": "alive"})).into_response()
}

async fn get_readiness(State(state): State<AppState>) -> Response {
    let (metadata, blobs) = tokio::join!(state.store.health(), state.blobs.health());
    if worst(metadata.status, blobs.status) == HealthStatus::Unhealthy {
        let body = json!({"status": "not_ready", "services": {
            "metadata": service_json(&metadata),
            "blobs": service_json(&blobs),
        }});
        (StatusCode::SERVICE_UNAVAILABLE, axum::Json(body)).into_response()
    } else {
        axum::Json(json!({"status": "ready"})).into_response()
    }
}
