//! Causeway's Bolt server: the wire protocol Neo4j drivers speak.
//!
//! Independent of the database: a connection talks to it only through the
//! [`Backend`] and [`Session`] traits. Layers, bottom up:
//!
//! - [`packstream`]: value encoding, with a decoder that bounds depth,
//!   lengths and allocations for untrusted input.
//! - [`chunk`]: message framing.
//! - [`handshake`]: magic preamble and version negotiation.
//! - [`message`]: requests and responses.
//! - `connection`: the per-connection state machine.
//! - `server`: the listener, connection limits and shutdown.

pub mod backend;
pub mod chunk;
mod connection;
pub mod handshake;
pub mod message;
pub mod packstream;
mod server;

pub use backend::{
    AccessMode, AuthToken, Backend, BeginRequest, CommitInfo, RouteRequest, RoutingTable, RowIter,
    RunResult, Session,
};
pub use connection::{serve_connection, serve_connection_until};
pub use handshake::{Version, SUPPORTED_VERSIONS};
pub use message::{decode_message, Request, Response};
pub use server::{serve, BoltConfig};
