//! The HTTP layer: one router per resource, merged with the middleware stack in `router.rs`.

mod characters;
mod chats;
pub mod extract;
mod files;
mod health;
mod limits;
pub mod list;
mod messages;
mod personas;
pub mod resource;
mod router;
mod tags;
mod transfer;

pub use self::router::build_router;
