//! What a health probe of a backing store found: the metadata store and the blob store both
//! report it, `/api/health` and `check-config` show it. It lives at the bottom of the crate so
//! both stores can report it without knowing each other.

use std::time::Duration;

/// What a health probe of a store found.
#[derive(Debug, Clone)]
pub struct StoreHealth {
    pub backend: &'static str,
    pub status: HealthStatus,
    pub latency: Duration,
    pub message: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum HealthStatus {
    Healthy,
    Degraded,
    Unhealthy,
}
