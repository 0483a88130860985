//! Black-box tests of the HTTP API (`docs/api.md`): every test starts its own app on port 0
//! with its own temporary `DATA_DIR` and talks to it over HTTP only.

mod auth;
mod auth_keys;
mod binary;
mod characters;
mod chat_durability;
mod chat_transfer;
mod chats;
mod concurrency;
mod crash;
mod durability;
mod files;
mod files_dedup;
mod files_direct;
mod files_links;
mod files_ranges;
mod files_recovery;
mod files_s3;
mod files_safety;
mod health;
mod helpers;
mod lists;
mod messages;
mod personas;
mod references;
mod swipes;
mod tags;
mod validation;
