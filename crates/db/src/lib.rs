//! Storage for the Compact Platform.
//!
//! One diesel `MultiConnection` over PostgreSQL and SQLite, picked by the scheme of the
//! database URL; an r2d2 pool; one `schema.rs`; migrations for both backends embedded in the
//! binary; the append-only, hash-chained audit store; and the mail outbox that other crates
//! write to inside their own transactions.

// The workspace denies unsafe code; only compact-api `memory` may allow it.
#![forbid(unsafe_code)]

pub mod audit;
mod connection;
mod error;
pub mod migrations;
pub mod outbox;
mod pool;
pub mod schema;
mod slow_statements;
mod sqlite_writer;
mod statistics;
#[cfg(feature = "testing")]
pub mod testing;
mod time;

pub use connection::{
    Backend, DatabaseUrl, DbConnection, MultiBackend, SQLITE_CONNECTION_PRAGMAS, write_transaction,
};
pub use error::DbError;
pub use pool::{Database, PoolOptions, PoolStatus, PooledConnection};
pub use statistics::refresh_statistics;
pub use time::{now, truncate_to_micros};
