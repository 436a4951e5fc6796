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
//!
//! # Wiring it up
//!
//! Implement [`Backend`] (authentication, product name) and [`Session`]
//! (transactions, queries, routing), then hand a bound listener to
//! [`serve`] on a multi-thread tokio runtime (rows are pulled inside
//! `block_in_place`, which a current-thread runtime cannot offer; there the
//! rows are pulled inline instead):
//!
//! ```ignore
//! let listener = tokio::net::TcpListener::bind("0.0.0.0:7687").await?;
//! let (stop, stopped) = tokio::sync::watch::channel(false);
//! let config = causeway_bolt::BoltConfig::default();
//! tokio::spawn(causeway_bolt::serve(causeway_net::TcpListener(listener), Arc::new(my_backend), config, stopped));
//! // ... later: stop accepting, let requests in flight finish.
//! stop.send(true)?;
//! ```
//!
//! Or drive single connections yourself (TLS, tests) with
//! [`serve_connection`] on any `AsyncRead + AsyncWrite` stream.
//!
//! # What the connection guarantees the backend
//!
//! - Requests reach the backend strictly in arrival order, one at a time
//!   per connection; a session is never used concurrently.
//! - Every transaction ends in exactly one `commit` or `rollback`, including
//!   when the client vanishes or the server shuts down.
//! - Protocol-level metadata (qids, `has_more`, `t_first`/`t_last`, `stats`,
//!   FAILED/IGNORED bookkeeping, RESET) is handled here; the backend only
//!   sees databases, queries, parameters and rows.
//!
//! # Versions
//!
//! Bolt 4.1, 4.3, 4.4 and 5.0–5.4 (see [`SUPPORTED_VERSIONS`]), which
//! covers the Python driver 5.x/6.x, py2neo (4.3) and neo4rs (4.1/4.4).
//! Temporal values travel as their PackStream structures. Date-times use
//! the UTC forms ('I'/'i') from Bolt 5 on, and on 4.3/4.4 when the client
//! asks for the `utc` patch in HELLO (we then echo it); otherwise the legacy
//! wall-clock forms ('F'/'f'). Named zones are accepted only when they have
//! one fixed offset (UTC, `Etc/GMT+5`, ...), since there is no time-zone
//! database. Spatial values are not supported: as parameters they are
//! refused with `Neo.ClientError.Request.InvalidFormat`.

pub mod backend;
pub mod chunk;
pub mod client;
mod connection;
pub mod handshake;
mod keepalive;
pub mod message;
pub mod packstream;
mod server;

pub use backend::{
    AccessMode, AuthToken, Backend, BeginRequest, CommitInfo, Forward, RouteRequest, RoutingTable,
    RowIter, RunResult, Session, AUTO_COMMIT_KEY, FORWARD_KEY,
};
pub use connection::{serve_connection, serve_connection_until};
pub use handshake::{Version, SUPPORTED_VERSIONS};
pub use message::{decode_message, Request, Response};
pub use server::{serve, BoltConfig};
