//! The Compact's registry: organizations and groups (and, as they land, nominations,
//! documents, updates, audiences and search). Nothing here knows HTTP.

// The workspace denies unsafe code; only compact-api `memory` may allow it.
#![forbid(unsafe_code)]

pub mod attachments;
pub mod audience;
pub mod demo;
mod demo_items;
pub mod directory;
pub mod error;
pub mod groups;
pub mod items;
pub mod nominations;
pub mod organizations;
pub mod search;
pub mod subscriptions;
mod validate;

pub use error::RegistryError;
