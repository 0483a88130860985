//! Health: `/api/health` (every store with status and latency), `/api/health/live` (the
//! process serves requests) and `/api/health/ready` (every store answers).

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use super::openapi::{Access, Op, json_response, reference, with_dependencies};
use super::routes::{Endpoint, Routes};
use crate::http::AppState;
use crate::model::Timestamp;
use crate::store::{HealthStatus, StoreHealth};

pub fn routes() -> Routes {
    let op = |id: &str, summary: &str| Op::new(id, "service", summary).access(Access::Public);
    let health = op("getHealth", "Every store with its status and latency")
        .json(200, "healthy", reference("Health"))
        .response(
            503,
            json_response("degraded or unhealthy", reference("Health")),
        );
    let live =
        op("getLiveness", "The process serves requests").json(200, "alive", reference("Liveness"));
    let ready = op("getReadiness", "Every store answers")
        .json(200, "ready", reference("Readiness"))
        .response(
            503,
            json_response("a store is unhealthy", reference("Readiness")),
        );
    let mut schemas = with_dependencies::<Health>();
    schemas.extend(with_dependencies::<Liveness>());
    schemas.extend(with_dependencies::<Readiness>());
    Routes::new()
        .endpoint("/api/health", Endpoint::get(get_health, health))
        .endpoint("/api/health/live", Endpoint::get(get_liveness, live))
        .endpoint("/api/health/ready", Endpoint::get(get_readiness, ready))
        .schemas(schemas)
}

/// The answer of `GET /api/health`: the worst service decides `status`.
#[derive(Serialize, ToSchema)]
struct Health {
    status: HealthStatus,
    timestamp: Timestamp,
    version: &'static str,
    services: Services,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct Services {
    metadata: ServiceHealth,
    blobs: ServiceHealth,
    /// The store blobs move away from (`BLOBS_FALLBACK`), while one is configured: files
    /// whose record still names it are served from it. Its failure degrades the service.
    #[serde(skip_serializing_if = "Option::is_none")]
    blobs_fallback: Option<ServiceHealth>,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct ServiceHealth {
    backend: &'static str,
    status: HealthStatus,
    latency_ms: f64,
    message: Option<String>,
}

/// The answer of `GET /api/health/live`.
#[derive(Serialize, ToSchema)]
struct Liveness {
    /// Always `alive`.
    #[schema(pattern = "^alive$")]
    status: &'static str,
}

/// The answer of `GET /api/health/ready`: `ready`, or `not_ready` with the services.
#[derive(Serialize, ToSchema)]
struct Readiness {
    #[schema(pattern = "^(ready|not_ready)$")]
    status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    services: Option<Services>,
}

impl From<&StoreHealth> for ServiceHealth {
    fn from(health: &StoreHealth) -> Self {
        Self {
            backend: health.backend,
            status: health.status,
            latency_ms: (health.latency.as_secs_f64() * 1000.0 * 100.0).round() / 100.0,
            message: health.message.clone(),
        }
    }
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

async fn services(state: &AppState) -> (HealthStatus, Services) {
    let (metadata, (blobs, fallback)) = tokio::join!(state.store.health(), state.blobs.health());
    let mut status = worst(metadata.status, blobs.status);
    if let Some(fallback) = &fallback
        && fallback.status != HealthStatus::Healthy
    {
        // Only the files not moved yet are out of reach: the service still works.
        status = worst(status, HealthStatus::Degraded);
    }
    let services = Services {
        metadata: ServiceHealth::from(&metadata),
        blobs: ServiceHealth::from(&blobs),
        blobs_fallback: fallback.as_ref().map(|fallback| ServiceHealth {
            message: Some(fallback.message.clone().unwrap_or_else(|| {
                "files not moved yet are served from here; `quillstore migrate copy \
                 --from-fallback` moves them"
                    .to_owned()
            })),
            ..ServiceHealth::from(fallback)
        }),
    };
    (status, services)
}

async fn get_health(State(state): State<AppState>) -> Response {
    let (status, services) = services(&state).await;
    let body = Health {
        status,
        timestamp: Timestamp::now(),
        version: env!("CARGO_PKG_VERSION"),
        services,
    };
    let code = if status == HealthStatus::Healthy {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (code, axum::Json(body)).into_response()
}

async fn get_liveness() -> Response {
    axum::Json(Liveness { status: "alive" }).into_response()
}

async fn get_readiness(State(state): State<AppState>) -> Response {
    let (status, services) = services(&state).await;
    if status == HealthStatus::Unhealthy {
        let body = Readiness {
            status: "not_ready",
            services: Some(services),
        };
        (StatusCode::SERVICE_UNAVAILABLE, axum::Json(body)).into_response()
    } else {
        axum::Json(Readiness {
            status: "ready",
            services: None,
        })
        .into_response()
    }
}
