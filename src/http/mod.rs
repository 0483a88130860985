//! The HTTP layer: one router per resource, merged with the middleware stack in `router.rs`.

mod characters;
mod chats;
pub mod extract;
mod files;
mod health;
mod limits;
pub mod list;
mod messages;
mod metrics;
mod personas;
pub mod resource;
mod router;
mod tags;
pub mod throttle;
mod transfer;

pub use self::metrics::private_router as metrics_router;
pub use self::router::build_router;
