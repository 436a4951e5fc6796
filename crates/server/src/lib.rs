//! The Causeway server: configuration, authentication, databases and
//! transactions, the Bolt backend, server-side routing, HTTP, and start-up.
//! The `causeway` binary (`main.rs`) is a thin command line over it; the
//! library form lets fuzz targets and tests reach the parts directly.

pub mod admin;
pub mod auth;
pub mod catalog;
pub mod cluster;
pub mod config;
pub mod db;
pub mod forward;
pub mod fuzzing;
pub mod http;
mod memory;
mod rerun;
pub mod security;
pub mod server;
pub mod session;
pub mod tls;
