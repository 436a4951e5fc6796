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

/// A tokio listener whose accepted streams have Nagle's algorithm off.
pub struct TcpListener(pub tokio::net::TcpListener);

impl Listener for TcpListener {
    fn accept(&self) -> BoxFuture<'_, io::Result<(BoxStream, SocketAddr)>> {
        Box::pin(async move {
            let (s, peer) = self.0.accept().await?;
            // A failure here leaves a slower socket, not a broken one.
            let _ = s.set_nodelay(true);
            Ok((Box::new(s) as BoxStream, peer))
        })
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.0.local_addr()
    }
}

impl Listener for Box<dyn Listener> {
    fn accept(&self) -> BoxFuture<'_, io::Result<(BoxStream, SocketAddr)>> {
        (**self).accept()
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        (**self).local_addr()
    }
}
