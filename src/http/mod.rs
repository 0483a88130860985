//! The HTTP layer: one router per resource, merged with the middleware stack in `router.rs`.

mod characters;
pub mod extract;
mod files;
mod health;
mod limits;
pub mod list;
mod personas;
pub mod resource;
mod router;
mod tags;

pub use self::router::build_router;
