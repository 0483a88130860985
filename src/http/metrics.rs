//! `/metrics` in Prometheus text format. On the main port it answers only with
//! `Authorization: Bearer <METRICS_TOKEN>` (404 when no token is configured, so the route is
//! invisible); `METRICS_ADDR` serves it on a separate, private address without a token.

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use super::openapi::{Access, Op, string};
use super::routes::{Endpoint, Routes};
use crate::error::ApiError;
use crate::http::AppState;

const PROMETHEUS_TEXT: &str = "text/plain; version=0.0.4; charset=utf-8";

pub fn routes() -> Routes {
    let text = utoipa::openapi::ResponseBuilder::new()
        .description("the metrics in Prometheus text format")
        .content("text/plain", utoipa::openapi::Content::new(Some(string())));
    let op = Op::new("getMetrics", "service", "Prometheus metrics")
        .describe("Only with `METRICS_TOKEN` as the bearer token; 404 when none is configured.")
        .access(Access::Metrics)
        .response(200, text);
    Routes::new().endpoint("/metrics", Endpoint::get(get_metrics, op))
}

/// The router of the separate metrics address: a private listener, not part of the API
/// (and so not of its document).
#[allow(clippy::disallowed_methods)]
pub fn private_router() -> Router {
    Router::new().route("/metrics", get(|| async { render() }))
}

fn render() -> Response {
    let body = crate::metrics::install().render();
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static(PROMETHEUS_TEXT),
        )],
        body,
    )
        .into_response()
}

async fn get_metrics(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let Some(token) = &state.config.guard.metrics_token else {
        return Err(ApiError::NotFound);
    };
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .unwrap_or_default();
    if !constant_time_eq(presented.as_bytes(), token.expose().as_bytes()) {
        return Err(ApiError::Unauthorized(
            "a valid metrics token is required".to_owned(),
        ));
    }
    Ok(render())
}

fn constant_time_eq(left: &[u8], right: &[u8]) -> bool {
    left.len() == right.len()
        && left
            .iter()
            .zip(right)
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}
