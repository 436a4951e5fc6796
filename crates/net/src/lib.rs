//! The network as the rest of Causeway sees it: dial an address, bind a
//! listener, accept connections. Production uses real TCP ([`Tcp`]); the
//! deterministic simulation plugs in a simulated network with the same
//! interface, so the transport, Bolt and routing code it runs is exactly
//! the code that ships.
//!
//! Streams are boxed: a virtual call per read or write costs nothing next
//! to the system call behind it.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite};

/// A connected byte stream.
pub trait Stream: AsyncRead + AsyncWrite + Send + Sync + Unpin + 'static {}
impl<T: AsyncRead + AsyncWrite + Send + Sync + Unpin + 'static> Stream for T {}

pub type BoxStream = Box<dyn Stream>;
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Dials and binds addresses written `host:port`.
pub trait Network: Send + Sync + 'static {
    fn connect<'a>(&'a self, addr: &'a str) -> BoxFuture<'a, io::Result<BoxStream>>;
    fn bind<'a>(&'a self, addr: &'a str) -> BoxFuture<'a, io::Result<Box<dyn Listener>>>;
}

/// A bound listener.
pub trait Listener: Send + Sync + 'static {
    fn accept(&self) -> BoxFuture<'_, io::Result<(BoxStream, SocketAddr)>>;
    fn local_addr(&self) -> io::Result<SocketAddr>;
}

pub type Net = Arc<dyn Network>;

/// Real TCP through tokio. Every stream has Nagle's algorithm off: requests
/// and answers are small and latency-bound.
pub struct Tcp;

/// The production network.
pub fn tcp() -> Net {
    Arc::new(Tcp)
}

impl Network for Tcp {
    fn connect<'a>(&'a self, addr: &'a str) -> BoxFuture<'a, io::Result<BoxStream>> {
        Box::pin(async move {
            let s = tokio::net::TcpStream::connect(addr).await?;
            s.set_nodelay(true)?;
            Ok(Box::new(s) as BoxStream)
        })
    }

    fn bind<'a>(&'a self, addr: &'a str) -> BoxFuture<'a, io::Result<Box<dyn Listener>>> {
        Box::pin(async move {
            let l = tokio::net::TcpListener::bind(addr).await?;
            Ok(Box::new(TcpListener(l)) as Box<dyn Listener>)
        })
    }
}

/// Idle time before the kernel probes a silent peer of an accepted socket.
pub const KEEPALIVE_IDLE: Duration = Duration::from_secs(5);
/// Time between unanswered probes.
pub const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(1);
/// Unanswered probes after which the connection is reset.
pub const KEEPALIVE_PROBES: u32 = 3;
/// How long sent bytes may stay unacknowledged before the connection is
/// reset. Keep-alive only watches idle sockets; a peer that vanished with
/// an answer in flight would otherwise be retried for about 15 minutes.
/// A slow reader is not affected: its kernel still acknowledges.
pub const UNACKED_LIMIT: Duration = Duration::from_secs(10);

/// A tokio listener whose accepted streams have Nagle's algorithm off and
/// TCP keep-alive on. A client whose link dies sends no reset; without
/// probes its idle connection (and any transaction it holds open, with the
/// write lock) would live until the transaction timeout. With them, and
/// the limit on unacknowledged bytes, it is gone within about 10 s.
pub struct TcpListener(pub tokio::net::TcpListener);

impl Listener for TcpListener {
    fn accept(&self) -> BoxFuture<'_, io::Result<(BoxStream, SocketAddr)>> {
        Box::pin(async move {
            let (s, peer) = self.0.accept().await?;
            // A failure leaves a slower or less watched socket, not a
            // broken one.
            let _ = tune_accepted(&s);
            Ok((Box::new(s) as BoxStream, peer))
        })
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.0.local_addr()
    }
}

/// Nagle off, keep-alive probes on (see [`TcpListener`]).
fn tune_accepted(s: &tokio::net::TcpStream) -> io::Result<()> {
    s.set_nodelay(true)?;
    let keepalive = socket2::TcpKeepalive::new()
        .with_time(KEEPALIVE_IDLE)
        .with_interval(KEEPALIVE_INTERVAL)
        .with_retries(KEEPALIVE_PROBES);
    let sock = socket2::SockRef::from(s);
    sock.set_tcp_keepalive(&keepalive)?;
    sock.set_tcp_user_timeout(Some(UNACKED_LIMIT))
}

impl Listener for Box<dyn Listener> {
    fn accept(&self) -> BoxFuture<'_, io::Result<(BoxStream, SocketAddr)>> {
        (**self).accept()
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        (**self).local_addr()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn accepted_sockets_probe_a_silent_peer() {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        let _client = tokio::net::TcpStream::connect(addr).await.unwrap();
        let (s, _) = l.accept().await.unwrap();
        tune_accepted(&s).unwrap();
        let sock = socket2::SockRef::from(&s);
        assert!(sock.keepalive().unwrap());
        assert_eq!(sock.tcp_keepalive_time().unwrap(), KEEPALIVE_IDLE);
        assert_eq!(sock.tcp_keepalive_interval().unwrap(), KEEPALIVE_INTERVAL);
        assert_eq!(sock.tcp_keepalive_retries().unwrap(), KEEPALIVE_PROBES);
        assert_eq!(sock.tcp_user_timeout().unwrap(), Some(UNACKED_LIMIT));
        assert!(s.nodelay().unwrap());
    }
}
