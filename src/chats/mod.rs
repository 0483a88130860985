//! Chats and their messages beyond HTTP: the rules of swipe groups (alternative messages at
//! one position, exactly one of them active, that choice stored). Rules here are pure: they
//! take the messages a handler read and return the batch of changes the store commits
//! atomically, so unit tests reach them without a server and concurrent writers are caught by
//! the store's version checks (the handler then reads again and asks again).

pub mod format;
pub mod import;
pub mod message;
pub mod sillytavern;
pub mod swipes;

pub use self::message::{StoredMessage, Swipe};
pub use self::swipes::{Selection, SwipeError};
