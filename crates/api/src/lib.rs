//! The Compact Platform's HTTP API (actix-web) and the `compact` command.
//!
//! Only this crate knows HTTP and OpenAPI; domain rules live in `compact-auth` and
//! `compact-registry`, storage in `compact-db`, mail delivery in `compact-mail`.

pub mod app;
pub mod auth;
pub mod cli;
pub mod config;
pub mod error;
pub mod extract;
pub mod memory;
pub mod metrics;
pub mod routes;
pub mod server;
pub mod telemetry;
pub mod timestamp;
