//! The HTTP layer: one route table per resource (`routes.rs`: handlers with their OpenAPI
//! operations), merged with the middleware stack in `router.rs`.

mod account;
mod api_keys;
mod cards;
mod characters;
mod chat_export;
mod chat_import;
mod chats;
mod docs;
pub mod extract;
mod files;
mod health;
mod idle;
mod limits;
pub mod list;
mod lorebooks;
mod measure;
mod memories;
mod message_page;
mod messages;
mod metrics;
mod openapi;
mod personas;
mod profiles;
pub mod resource;
mod router;
pub mod routes;
pub mod server;
mod settings;
mod state;
mod tags;
pub mod throttle;
mod transfer;

pub use self::metrics::private_router as metrics_router;
pub use self::router::{build_router, route_table};
pub use self::state::{AppState, Services};
