//! Assembles the routers and the middleware stack.

use std::any::Any;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Extension, MatchedPath, Request};
use axum::http::{HeaderName, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::{DefaultOnResponse, TraceLayer};

use super::docs::OpenApiJson;
use super::measure::MeasureLayer;
use super::routes::{RouteTable, Routes};
use super::{account, api_keys, memories, profiles, settings};
use super::{
    cards, characters, chats, docs, files, health, limits, lorebooks, messages, metrics, openapi,
    personas, tags, throttle,
};
use crate::config::{Config, CorsOrigins, PublicBaseUrl};
use crate::error::{ApiError, envelope};
use crate::http::AppState;

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Every response header the service sends that a browser app may need to read, beyond the
/// CORS-safelisted ones (`Cache-Control`, `Content-Length`, `Content-Type`, ...): the README
/// lists exactly these.
pub const EXPOSED_HEADERS: &[&str] = &[
    "etag",
    "location",
    "content-range",
    "content-disposition",
    "accept-ranges",
    "retry-after",
    "www-authenticate",
    "x-request-id",
    super::resource::REFERENCES_CLEARED,
    "x-variant-cache",
];

/// Every route of the service with its operation: the one source of the router and of the
/// OpenAPI document.
pub fn routes(config: &Config) -> Routes {
    // JSON document routes: bounded bodies and a time limit.
    let (max_json_bytes, timeout) = (config.max_json_bytes, config.request_timeout);
    let documents = Routes::new()
        .merge(tags::routes())
        .merge(characters::routes())
        .merge(personas::routes())
        .merge(chats::routes())
        .merge(messages::routes())
        .merge(lorebooks::routes())
        .merge(memories::routes())
        .merge(profiles::routes())
        .merge(api_keys::routes())
        .merge(settings::routes())
        .map(|router| {
            router
                .layer(DefaultBodyLimit::max(max_json_bytes))
                .route_layer(super::idle::TimeLimitLayer::new(timeout))
        });

    // Card and world-info imports: bodies up to MAX_IMPORT_BYTES (read by the handlers).
    let max_import_bytes = config.max_import_bytes;
    let imports = cards::routes().map(|router| {
        router
            .layer(DefaultBodyLimit::max(max_import_bytes))
            .route_layer(super::idle::TimeLimitLayer::new(timeout))
    });

    // File routes stream bodies of any length: they bound JSON bodies and time themselves,
    // route by route (see `files::routes`).
    Routes::new()
        .merge(health::routes())
        .merge(limits::routes())
        .merge(documents)
        .merge(imports)
        .merge(files::routes(config))
        .merge(account::routes(config))
        .merge(metrics::routes())
        .merge(docs::routes())
}

/// The table of every route (for the document and the tests that hold the router to it).
pub fn route_table(config: &Config) -> RouteTable {
    routes(config).into_parts().1
}

pub fn build_router(state: AppState) -> Router {
    let (routes, table) = routes(&state.config).into_parts();
    let document =
        serde_json::to_vec(&openapi::document(&table)).expect("the OpenAPI document serializes");
    let routes = routes
        .layer(Extension(OpenApiJson(Arc::new(Bytes::from(document)))))
        .fallback(|| async { ApiError::NotFound })
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed });
    with_middleware(routes, &state).with_state(state)
}

/// The middleware every request passes. `ServiceBuilder` lists it outermost first: a request
/// id is assigned before the trace span opens so the span carries it; CORS answers preflights
/// before anything else runs and puts its headers on every answer, the per-address 429
/// included (a browser app can read it and its `Retry-After`); panics become a 500 envelope
/// innermost, so they are traced and carry the request id.
fn with_middleware(routes: Router<AppState>, state: &AppState) -> Router<AppState> {
    routes.layer(
        ServiceBuilder::new()
            .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
            .layer(TraceLayer::new_for_http().make_span_with(|request: &Request| {
                let route = request
                    .extensions()
                    .get::<MatchedPath>()
                    .map_or("(unmatched)", MatchedPath::as_str);
                let request_id = request
                    .headers()
                    .get(REQUEST_ID)
                    .and_then(|value| value.to_str().ok())
                    .unwrap_or_default();
                let user_id = tracing::field::Empty;
                tracing::info_span!("request", method = %request.method(), route, request_id, user_id)
            })
            .on_response(DefaultOnResponse::new().level(tracing::Level::INFO)))
            .layer(PropagateRequestIdLayer::new(REQUEST_ID))
            .layer(MeasureLayer)
            .map_response(only_for_allowed_origins)
            .layer(cors_layer(&state.config.cors_allowed_origins))
            .layer(throttle::AddressLimitLayer::new(state.clone()))
            .map_response({
                let base = state.config.public_base_url.clone();
                move |response| absolute_location(&base, response)
            })
            .layer(CatchPanicLayer::custom(panic_response)),
    )
}

fn cors_layer(origins: &CorsOrigins) -> CorsLayer {
    // `Vary` goes on in `only_for_allowed_origins`, as one ready value: the layer would join
    // its list into a new value on every response.
    let allow_origin = match origins {
        CorsOrigins::None => return CorsLayer::new().vary([]),
        CorsOrigins::Any => AllowOrigin::any(),
        CorsOrigins::List(list) => AllowOrigin::list(
            list.iter()
                .filter_map(|origin| HeaderValue::from_str(origin).ok()),
        ),
    };
    CorsLayer::new()
        .allow_origin(allow_origin)
        .allow_methods([
            Method::GET,
            Method::HEAD,
            Method::POST,
            Method::PUT,
            Method::PATCH,
            Method::DELETE,
        ])
        .allow_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            header::IF_MATCH,
            header::IF_NONE_MATCH,
            header::RANGE,
            REQUEST_ID,
        ])
        .expose_headers(
            EXPOSED_HEADERS
                .iter()
                .map(|name| HeaderName::from_static(name))
                .collect::<Vec<_>>(),
        )
        .max_age(Duration::from_secs(600))
        .vary([])
}

/// The request headers a CORS answer depends on, as `CorsLayer` would list them in `Vary`.
const CORS_VARY: HeaderValue = HeaderValue::from_static(
    "origin, access-control-request-method, access-control-request-headers",
);

/// A `Location` that is a path becomes absolute on `PUBLIC_BASE_URL` when it is set: one
/// place for every route that answers with one (created documents, redirects).
fn absolute_location<B>(
    base: &PublicBaseUrl,
    mut response: axum::http::Response<B>,
) -> axum::http::Response<B> {
    let headers = response.headers_mut();
    let absolute = headers
        .get(header::LOCATION)
        .and_then(|value| value.to_str().ok())
        .filter(|location| location.starts_with('/'))
        .and_then(|location| HeaderValue::from_str(&base.absolute(location)).ok());
    if let Some(absolute) = absolute {
        headers.insert(header::LOCATION, absolute);
    }
    response
}

/// `CorsLayer` puts the allowed methods and headers on every preflight and the exposed headers
/// on every response; only `Access-Control-Allow-Origin` depends on the origin. An origin that
/// is not allowed gets no CORS header at all. Every answer says which request headers it
/// varies by (after any `Vary` of its own).
fn only_for_allowed_origins<B>(mut response: axum::http::Response<B>) -> axum::http::Response<B> {
    let headers = response.headers_mut();
    headers.append(header::VARY, CORS_VARY);
    if !headers.contains_key(header::ACCESS_CONTROL_ALLOW_ORIGIN) {
        let names: Vec<HeaderName> = headers
            .keys()
            .filter(|name| name.as_str().starts_with("access-control-"))
            .cloned()
            .collect();
        for name in names {
            headers.remove(name);
        }
    }
    response
}

fn panic_response(_panic: Box<dyn Any + Send + 'static>) -> Response {
    tracing::error!("a request handler panicked");
    let body = envelope("internal", "internal server error", &[]);
    (StatusCode::INTERNAL_SERVER_ERROR, axum::Json(body)).into_response()
}
