//! TLS on every port (docs/decisions/0020-tls.md).
//!
//! Clients' ports (Bolt and HTTP) take TLS and, unless `tls_mode` is
//! `required`, plaintext on the same port: the first byte tells them apart
//! (a TLS record starts with 22, a Bolt preamble with 0x60, HTTP with a
//! letter). Members talk to each other over mutual TLS with certificates of
//! their own: on the cluster port always once `cluster_tls_*` is set, and on
//! the clients' ports when a member routes a transaction to another one,
//! which it marks with its own ALPN protocol so that the port presents the
//! member certificate and asks for the peer's.
//!
//! Certificates are read from PEM files and read again when the files
//! change; a handshake uses whatever was loaded when it began. The
//! handshake of an accepted connection runs on that connection's first read
//! or write, inside its own task, so a slow or silent client never holds up
//! the accept loop.

use std::future::Future;
use std::io;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::{Arc, Mutex, RwLock};
use std::task::{ready, Context, Poll};
use std::time::Duration;

use anyhow::Context as _;
use causeway_net::{BoxFuture, BoxStream, Listener, Net, Network};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::server::WebPkiClientVerifier;
use rustls::{ClientConfig, RootCertStore, ServerConfig};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, ReadBuf};

use crate::config::Config;

/// The ALPN protocol a member offers when it dials another member's Bolt or
/// HTTP port, so that the port answers with the member certificate.
pub const MEMBER_ALPN: &[u8] = b"causeway-member/1";
/// Longest a TLS handshake (or the first byte of a connection) may take.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// A PEM file larger than this is refused rather than read.
const MAX_PEM_BYTES: u64 = 1 << 20;

/// `tls_mode`: what the clients' ports accept.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Plaintext only.
    Off,
    /// TLS and plaintext on the same port.
    Optional,
    /// TLS only: plaintext connections are closed.
    Required,
}

impl Mode {
    pub fn parse(s: &str) -> anyhow::Result<Mode> {
        match s {
            "off" => Ok(Mode::Off),
            "optional" => Ok(Mode::Optional),
            "required" => Ok(Mode::Required),
            other => anyhow::bail!("tls_mode must be off, optional or required, not `{other}`"),
        }
    }
}

/// The PEM files, as configured.
#[derive(Clone, Debug, Default)]
struct Files {
    certificate: Option<PathBuf>,
    private_key: Option<PathBuf>,
    cluster_certificate: Option<PathBuf>,
    cluster_private_key: Option<PathBuf>,
    cluster_ca: Option<PathBuf>,
}

impl Files {
    fn all(&self) -> impl Iterator<Item = &PathBuf> {
        [
            &self.certificate,
            &self.private_key,
            &self.cluster_certificate,
            &self.cluster_private_key,
            &self.cluster_ca,
        ]
        .into_iter()
        .flatten()
    }
}

/// The rustls configurations built from one reading of the files.
struct Configs {
    /// What clients' ports present to clients.
    clients: Option<Arc<ServerConfig>>,
    /// What a member presents to another member dialling it; asks for the
    /// dialler's certificate and checks it against the cluster CA.
    member_server: Option<Arc<ServerConfig>>,
    /// How a member dials another: its own certificate, the peer's checked
    /// against the cluster CA.
    member_client: Option<Arc<ClientConfig>>,
}

/// TLS settings and the certificates currently in force.
pub struct Tls {
    mode: Mode,
    files: Files,
    verify_member_hostname: bool,
    current: RwLock<Arc<Configs>>,
    /// A digest of each file's contents at the last reading (a renewed
    /// certificate can have the same length and, rewritten in place, the
    /// same modification time).
    stamps: Mutex<Vec<Option<u64>>>,
}

fn path(setting: &str) -> Option<PathBuf> {
    (!setting.trim().is_empty()).then(|| PathBuf::from(setting.trim()))
}

impl Tls {
    /// Reads the configured files; `None` when no TLS is configured at all.
    pub fn from_config(config: &Config) -> anyhow::Result<Option<Arc<Tls>>> {
        let mode = Mode::parse(&config.tls_mode)?;
        let files = Files {
            certificate: path(&config.tls_certificate),
            private_key: path(&config.tls_private_key),
            cluster_certificate: path(&config.cluster_tls_certificate),
            cluster_private_key: path(&config.cluster_tls_private_key),
            cluster_ca: path(&config.cluster_tls_ca),
        };
        anyhow::ensure!(
            files.certificate.is_some() == files.private_key.is_some(),
            "set tls_certificate and tls_private_key together"
        );
        anyhow::ensure!(
            mode == Mode::Off || files.certificate.is_some(),
            "tls_mode = {} needs tls_certificate and tls_private_key",
            config.tls_mode
        );
        let cluster = [
            &files.cluster_certificate,
            &files.cluster_private_key,
            &files.cluster_ca,
        ];
        anyhow::ensure!(
            cluster.iter().all(|f| f.is_some()) || cluster.iter().all(|f| f.is_none()),
            "set cluster_tls_certificate, cluster_tls_private_key and cluster_tls_ca together"
        );
        // Members reach each other's Bolt and HTTP ports to route: with
        // those ports refusing plaintext, that needs member certificates.
        anyhow::ensure!(
            mode != Mode::Required
                || config.mode == "single"
                || files.cluster_certificate.is_some(),
            "tls_mode = required in a cluster needs cluster_tls_certificate, \
             cluster_tls_private_key and cluster_tls_ca (members route to each \
             other's Bolt and HTTP ports over mutual TLS)"
        );
        if files.all().next().is_none() {
            return Ok(None);
        }
        let configs = build(mode, &files, config.cluster_tls_verify_hostname)?;
        let tls = Tls {
            mode,
            stamps: Mutex::new(stamps(&files)),
            files,
            verify_member_hostname: config.cluster_tls_verify_hostname,
            current: RwLock::new(Arc::new(configs)),
        };
        Ok(Some(Arc::new(tls)))
    }

    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// Whether members talk to each other over TLS.
    pub fn members(&self) -> bool {
        self.files.cluster_certificate.is_some()
    }

    fn current(&self) -> Arc<Configs> {
        self.current
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Reads the files again if any changed since the last reading. A set
    /// of files that does not load (say, a certificate written before its
    /// key) keeps the old configuration and is tried again next time.
    pub fn reload_if_changed(&self) -> anyhow::Result<bool> {
        let now = stamps(&self.files);
        {
            let seen = self.stamps.lock().unwrap_or_else(|p| p.into_inner());
            if *seen == now {
                return Ok(false);
            }
        }
        let configs = build(self.mode, &self.files, self.verify_member_hostname)?;
        *self.current.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(configs);
        *self.stamps.lock().unwrap_or_else(|p| p.into_inner()) = now;
        Ok(true)
    }

    /// Looks at the files every `every` and reloads what changed.
    pub fn watch(self: &Arc<Self>, every: Duration) -> tokio::task::JoinHandle<()> {
        let tls = Arc::downgrade(self);
        tokio::spawn(async move {
            let mut failing = false;
            loop {
                tokio::time::sleep(every).await;
                let Some(tls) = tls.upgrade() else { return };
                match tls.reload_if_changed() {
                    Ok(true) => {
                        failing = false;
                        tracing::info!("TLS certificates reloaded");
                    }
                    Ok(false) => {}
                    Err(e) if !failing => {
                        failing = true;
                        tracing::warn!(error = %format!("{e:#}"), "TLS certificates changed but do not load; keeping the previous ones");
                    }
                    Err(_) => {}
                }
            }
        })
    }

    /// Wraps a clients' port (Bolt, HTTP).
    pub fn clients_port(self: &Arc<Self>, inner: Box<dyn Listener>) -> Box<dyn Listener> {
        Box::new(TlsListener {
            inner,
            tls: self.clone(),
            port: Port::Clients,
        })
    }

    /// The network a member uses for its cluster port and to dial other
    /// members (their cluster ports, and their Bolt and HTTP ports to
    /// route): mutual TLS when member certificates are set, else `inner`.
    pub fn member_net(self: &Arc<Self>, inner: Net) -> Net {
        if !self.members() {
            return inner;
        }
        Arc::new(MemberNet {
            inner,
            tls: self.clone(),
        })
    }
}

fn stamps(files: &Files) -> Vec<Option<u64>> {
    use std::hash::{Hash, Hasher};
    files
        .all()
        .map(|p| {
            let bytes = read_pem(p).ok()?;
            let mut h = std::collections::hash_map::DefaultHasher::new();
            bytes.hash(&mut h);
            Some(h.finish())
        })
        .collect()
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn read_pem(path: &Path) -> anyhow::Result<Vec<u8>> {
    let len = std::fs::metadata(path)
        .with_context(|| format!("reading {}", path.display()))?
        .len();
    anyhow::ensure!(
        len <= MAX_PEM_BYTES,
        "{} is larger than {MAX_PEM_BYTES} bytes",
        path.display()
    );
    std::fs::read(path).with_context(|| format!("reading {}", path.display()))
}

fn certificates(path: &Path) -> anyhow::Result<Vec<CertificateDer<'static>>> {
    let pem = read_pem(path)?;
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    anyhow::ensure!(!certs.is_empty(), "{} holds no certificate", path.display());
    Ok(certs)
}

fn private_key(path: &Path) -> anyhow::Result<PrivateKeyDer<'static>> {
    let pem = read_pem(path)?;
    PrivateKeyDer::from_pem_slice(&pem).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
}

fn roots(path: &Path) -> anyhow::Result<Arc<RootCertStore>> {
    let mut store = RootCertStore::empty();
    for cert in certificates(path)? {
        store
            .add(cert)
            .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    }
    Ok(Arc::new(store))
}

fn build(mode: Mode, files: &Files, verify_member_hostname: bool) -> anyhow::Result<Configs> {
    let clients = match (&files.certificate, &files.private_key) {
        (Some(cert), Some(key)) if mode != Mode::Off => {
            let config = ServerConfig::builder_with_provider(provider())
                .with_safe_default_protocol_versions()?
                .with_no_client_auth()
                .with_single_cert(certificates(cert)?, private_key(key)?)
                .with_context(|| format!("{} and {}", cert.display(), key.display()))?;
            Some(Arc::new(config))
        }
        _ => None,
    };
    let (member_server, member_client) = match (
        &files.cluster_certificate,
        &files.cluster_private_key,
        &files.cluster_ca,
    ) {
        (Some(cert), Some(key), Some(ca)) => {
            let (certs, key_der, roots) = (certificates(cert)?, private_key(key)?, roots(ca)?);
            let verifier = WebPkiClientVerifier::builder_with_provider(roots.clone(), provider())
                .build()
                .with_context(|| format!("cluster CA {}", ca.display()))?;
            let server = ServerConfig::builder_with_provider(provider())
                .with_safe_default_protocol_versions()?
                .with_client_cert_verifier(verifier)
                .with_single_cert(certs.clone(), key_der.clone_key())
                .with_context(|| format!("{} and {}", cert.display(), key.display()))?;
            let peer = rustls::client::WebPkiServerVerifier::builder_with_provider(
                roots.clone(),
                provider(),
            )
            .build()
            .with_context(|| format!("cluster CA {}", ca.display()))?;
            let mut client = ClientConfig::builder_with_provider(provider())
                .with_safe_default_protocol_versions()?
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(PeerVerifier {
                    chain: Some(peer),
                    hostname: verify_member_hostname,
                    provider: provider(),
                }))
                .with_client_auth_cert(certs, key_der)
                .with_context(|| format!("{} and {}", cert.display(), key.display()))?;
            client.alpn_protocols = vec![MEMBER_ALPN.to_vec()];
            (Some(Arc::new(server)), Some(Arc::new(client)))
        }
        _ => (None, None),
    };
    Ok(Configs {
        clients,
        member_server,
        member_client,
    })
}

/// Checks the certificate a dialled server presents. For members (`chain`
/// set), it must chain to the cluster CA; like Neo4j's cluster policy
/// (`verify_hostname` off by default), the name in it need not match the
/// address dialled unless `cluster_tls_verify_hostname` is set: members
/// are often dialled by addresses a certificate cannot foresee (pod IPs),
/// and the CA is the cluster's own. Without `chain` any certificate is
/// taken (the health probe); the handshake's signatures are checked
/// either way.
#[derive(Debug)]
struct PeerVerifier {
    chain: Option<Arc<rustls::client::WebPkiServerVerifier>>,
    hostname: bool,
    provider: Arc<rustls::crypto::CryptoProvider>,
}

impl ServerCertVerifier for PeerVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        use rustls::CertificateError::{NotValidForName, NotValidForNameContext};
        let Some(chain) = &self.chain else {
            return Ok(ServerCertVerified::assertion());
        };
        match chain.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now) {
            Err(rustls::Error::InvalidCertificate(
                NotValidForName | NotValidForNameContext { .. },
            )) if !self.hostname => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        let algorithms = &self.provider.signature_verification_algorithms;
        rustls::crypto::verify_tls12_signature(message, cert, dss, algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        let algorithms = &self.provider.signature_verification_algorithms;
        rustls::crypto::verify_tls13_signature(message, cert, dss, algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// A client for `causeway healthcheck`, which asks its own member over
/// loopback for its health: it sends no credentials and reads only a
/// status, so it takes whatever certificate the member presents (the
/// member's may name only its public host, or come from a CA the probe
/// cannot see).
pub fn probe_client() -> Arc<ClientConfig> {
    let provider = provider();
    let config = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .expect("ring supports the default protocol versions")
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(PeerVerifier {
            chain: None,
            hostname: false,
            provider,
        }))
        .with_no_client_auth();
    Arc::new(config)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Port {
    /// Bolt or HTTP: clients, and members routing.
    Clients,
    /// The cluster port: members only, over mutual TLS.
    Cluster,
}

struct TlsListener {
    inner: Box<dyn Listener>,
    tls: Arc<Tls>,
    port: Port,
}

impl Listener for TlsListener {
    fn accept(&self) -> BoxFuture<'_, io::Result<(BoxStream, std::net::SocketAddr)>> {
        Box::pin(async move {
            let (raw, peer) = self.inner.accept().await?;
            let (tls, port) = (self.tls.clone(), self.port);
            let opening = Box::pin(async move {
                let opened = open(raw, tls, port).await;
                if let Err(e) = &opened {
                    // A member that cannot prove itself is an operator's
                    // problem (a wrong or expired certificate); a client's
                    // failed handshake is the client's.
                    if port == Port::Cluster {
                        tracing::warn!(%peer, error = %e, "refused a member connection: TLS handshake failed");
                    } else {
                        tracing::debug!(%peer, error = %e, "TLS handshake failed");
                    }
                }
                opened
            });
            Ok((Box::new(Lazy::new(opening)) as BoxStream, peer))
        })
    }

    fn local_addr(&self) -> io::Result<std::net::SocketAddr> {
        self.inner.local_addr()
    }
}

/// TLS record content type "handshake": the first byte of a ClientHello.
const TLS_HANDSHAKE: u8 = 22;

fn refused(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::ConnectionRefused, what.to_owned())
}

/// The server side of a new connection: plaintext or TLS, as the port and
/// the first byte say.
async fn open(raw: BoxStream, tls: Arc<Tls>, port: Port) -> io::Result<BoxStream> {
    let opening = async move {
        let mut raw = raw;
        let configs = tls.current();
        let first = raw.read_u8().await?;
        let rewound = Rewind {
            first: Some(first),
            inner: raw,
        };
        if first != TLS_HANDSHAKE {
            return match (port, tls.mode) {
                (Port::Clients, Mode::Off | Mode::Optional) => Ok(Box::new(rewound) as BoxStream),
                (Port::Clients, Mode::Required) => {
                    Err(refused("plaintext refused: tls_mode = required"))
                }
                (Port::Cluster, _) => Err(refused("plaintext refused on the cluster port")),
            };
        }
        let start =
            tokio_rustls::LazyConfigAcceptor::new(rustls::server::Acceptor::default(), rewound)
                .await?;
        let member = start
            .client_hello()
            .alpn()
            .is_some_and(|mut protocols| protocols.any(|p| p == MEMBER_ALPN));
        let config = match port {
            Port::Cluster => configs.member_server.clone(),
            Port::Clients if member && configs.member_server.is_some() => {
                configs.member_server.clone()
            }
            Port::Clients => configs.clients.clone(),
        };
        let config = config.ok_or_else(|| refused("TLS is not configured on this port"))?;
        let stream = start.into_stream(config).await?;
        Ok(Box::new(stream) as BoxStream)
    };
    tokio::time::timeout(HANDSHAKE_TIMEOUT, opening)
        .await
        .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "TLS handshake timed out"))?
}

/// A stream whose first byte was read to choose a protocol, giving it back.
struct Rewind {
    first: Option<u8>,
    inner: BoxStream,
}

impl AsyncRead for Rewind {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if let Some(b) = self.first {
            if buf.remaining() > 0 {
                buf.put_slice(&[b]);
                self.first = None;
            }
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for Rewind {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

type Opening = Pin<Box<dyn Future<Output = io::Result<BoxStream>> + Send>>;

/// A stream that becomes usable once its opening (TLS handshake) is done;
/// the opening runs on the first read or write, in the task that owns the
/// connection.
struct Lazy {
    state: LazyState,
}

enum LazyState {
    // In a mutex only to be `Sync`, as every stream is; it is only ever
    // reached through `&mut`, so never locked.
    Opening(Mutex<Opening>),
    Open(BoxStream),
    Failed(io::ErrorKind, String),
}

impl Lazy {
    fn new(opening: Opening) -> Lazy {
        Lazy {
            state: LazyState::Opening(Mutex::new(opening)),
        }
    }

    fn poll_open(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<&mut BoxStream>> {
        if let LazyState::Opening(f) = &mut self.state {
            let f = f.get_mut().unwrap_or_else(|p| p.into_inner());
            self.state = match ready!(f.as_mut().poll(cx)) {
                Ok(s) => LazyState::Open(s),
                Err(e) => LazyState::Failed(e.kind(), e.to_string()),
            };
        }
        match &mut self.state {
            LazyState::Open(s) => Poll::Ready(Ok(s)),
            LazyState::Failed(kind, why) => Poll::Ready(Err(io::Error::new(*kind, why.clone()))),
            LazyState::Opening(_) => unreachable!("resolved above"),
        }
    }
}

impl AsyncRead for Lazy {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let s = ready!(self.get_mut().poll_open(cx))?;
        Pin::new(s).poll_read(cx, buf)
    }
}

impl AsyncWrite for Lazy {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let s = ready!(self.get_mut().poll_open(cx))?;
        Pin::new(s).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let s = ready!(self.get_mut().poll_open(cx))?;
        Pin::new(s).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match &mut self.get_mut().state {
            LazyState::Open(s) => Pin::new(s).poll_shutdown(cx),
            // Nothing was said yet: dropping the socket is the shutdown.
            _ => Poll::Ready(Ok(())),
        }
    }
}

/// Member-to-member connections over mutual TLS.
struct MemberNet {
    inner: Net,
    tls: Arc<Tls>,
}

/// The host of `host:port` (brackets of an IPv6 literal removed).
fn host_of(addr: &str) -> &str {
    let host = addr.rsplit_once(':').map_or(addr, |(h, _)| h);
    host.trim_start_matches('[').trim_end_matches(']')
}

impl Network for MemberNet {
    fn connect<'a>(&'a self, addr: &'a str) -> BoxFuture<'a, io::Result<BoxStream>> {
        Box::pin(async move {
            let raw = self.inner.connect(addr).await?;
            let config = self
                .tls
                .current()
                .member_client
                .clone()
                .ok_or_else(|| refused("member TLS is not configured"))?;
            let name = ServerName::try_from(host_of(addr).to_owned())
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
            let connecting = tokio_rustls::TlsConnector::from(config).connect(name, raw);
            let stream = tokio::time::timeout(HANDSHAKE_TIMEOUT, connecting)
                .await
                .map_err(|_| {
                    io::Error::new(io::ErrorKind::TimedOut, "TLS handshake timed out")
                })??;
            Ok(Box::new(stream) as BoxStream)
        })
    }

    fn bind<'a>(&'a self, addr: &'a str) -> BoxFuture<'a, io::Result<Box<dyn Listener>>> {
        Box::pin(async move {
            let inner = self.inner.bind(addr).await?;
            Ok(Box::new(TlsListener {
                inner,
                tls: self.tls.clone(),
                port: Port::Cluster,
            }) as Box<dyn Listener>)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};
    use tokio::io::AsyncWriteExt;

    struct Authority {
        cert: rcgen::Certificate,
        key: KeyPair,
    }

    impl Authority {
        fn new() -> Authority {
            let key = KeyPair::generate().unwrap();
            let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
            params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
            Authority {
                cert: params.self_signed(&key).unwrap(),
                key,
            }
        }

        /// A certificate for `localhost`, as (chain PEM, key PEM).
        fn issue(&self) -> (String, String) {
            let key = KeyPair::generate().unwrap();
            let cert = CertificateParams::new(vec!["localhost".to_owned()])
                .unwrap()
                .signed_by(&key, &self.cert, &self.key)
                .unwrap();
            (cert.pem(), key.serialize_pem())
        }
    }

    fn write(dir: &Path, name: &str, text: &str) -> String {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        p.display().to_string()
    }

    fn config(dir: &Path, ca: &Authority, mode: &str, members: Option<&Authority>) -> Config {
        let (cert, key) = ca.issue();
        let mut c = Config {
            tls_mode: mode.into(),
            tls_certificate: write(dir, "cert.pem", &cert),
            tls_private_key: write(dir, "key.pem", &key),
            ..Config::default()
        };
        if let Some(m) = members {
            let (cert, key) = m.issue();
            c.cluster_tls_certificate = write(dir, "member.pem", &cert);
            c.cluster_tls_private_key = write(dir, "member.key", &key);
            c.cluster_tls_ca = write(dir, "members-ca.pem", &m.cert.pem());
        }
        c
    }

    fn client(ca: &Authority) -> tokio_rustls::TlsConnector {
        let mut roots = RootCertStore::empty();
        roots.add(ca.cert.der().clone()).unwrap();
        let config = ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        tokio_rustls::TlsConnector::from(Arc::new(config))
    }

    async fn clients_port(tls: &Arc<Tls>) -> (Box<dyn Listener>, String) {
        let inner = causeway_net::tcp().bind("127.0.0.1:0").await.unwrap();
        let addr = inner.local_addr().unwrap().to_string();
        (tls.clients_port(inner), addr)
    }

    /// Accepts one connection and echoes one line back.
    fn echo_once(listener: Box<dyn Listener>) -> tokio::task::JoinHandle<io::Result<Vec<u8>>> {
        tokio::spawn(async move {
            let (mut s, _) = listener.accept().await?;
            let mut buf = [0u8; 5];
            s.read_exact(&mut buf).await?;
            s.write_all(&buf).await?;
            s.flush().await?;
            Ok(buf.to_vec())
        })
    }

    #[tokio::test]
    async fn optional_takes_both_and_required_refuses_plaintext() {
        let dir = tempfile::tempdir().unwrap();
        let ca = Authority::new();
        let tls = Tls::from_config(&config(dir.path(), &ca, "optional", None))
            .unwrap()
            .unwrap();
        let (l, addr) = clients_port(&tls).await;
        let server = echo_once(l);
        let raw = tokio::net::TcpStream::connect(&addr).await.unwrap();
        let name = ServerName::try_from("localhost").unwrap();
        let mut s = client(&ca).connect(name.clone(), raw).await.unwrap();
        s.write_all(b"hello").await.unwrap();
        let mut back = [0u8; 5];
        s.read_exact(&mut back).await.unwrap();
        assert_eq!(&back, b"hello");
        assert_eq!(server.await.unwrap().unwrap(), b"hello");

        let (l, addr) = clients_port(&tls).await;
        let server = echo_once(l);
        let mut raw = tokio::net::TcpStream::connect(&addr).await.unwrap();
        raw.write_all(b"plain").await.unwrap();
        raw.read_exact(&mut back).await.unwrap();
        assert_eq!(&back, b"plain");
        server.await.unwrap().unwrap();

        let tls = Tls::from_config(&config(dir.path(), &ca, "required", None))
            .unwrap()
            .unwrap();
        let (l, addr) = clients_port(&tls).await;
        let server = echo_once(l);
        let mut raw = tokio::net::TcpStream::connect(&addr).await.unwrap();
        raw.write_all(b"plain").await.unwrap();
        let e = server.await.unwrap().unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::ConnectionRefused);
        // A client trusting another authority fails its handshake.
        let (l, addr) = clients_port(&tls).await;
        let _server = echo_once(l);
        let raw = tokio::net::TcpStream::connect(&addr).await.unwrap();
        assert!(client(&Authority::new()).connect(name, raw).await.is_err());
    }

    #[tokio::test]
    async fn a_reload_takes_only_a_matching_pair() {
        let dir = tempfile::tempdir().unwrap();
        let ca = Authority::new();
        let c = config(dir.path(), &ca, "required", None);
        let tls = Tls::from_config(&c).unwrap().unwrap();
        assert!(!tls.reload_if_changed().unwrap());
        let before = tls.current();
        let (cert, key) = ca.issue();
        // A new key beside the old certificate does not load; the old pair
        // stays in force.
        std::fs::write(&c.tls_private_key, format!("{key}\n")).unwrap();
        assert!(tls.reload_if_changed().is_err());
        assert!(Arc::ptr_eq(&before, &tls.current()));
        std::fs::write(&c.tls_certificate, format!("{cert}\n\n")).unwrap();
        assert!(tls.reload_if_changed().unwrap());
        assert!(!Arc::ptr_eq(&before, &tls.current()));
        assert!(!tls.reload_if_changed().unwrap());
    }

    #[tokio::test]
    async fn members_need_a_certificate_of_the_cluster_authority() {
        let dir = tempfile::tempdir().unwrap();
        let (ca, members) = (Authority::new(), Authority::new());
        let mine = Tls::from_config(&config(dir.path(), &ca, "off", Some(&members)))
            .unwrap()
            .unwrap();
        let net = mine.member_net(causeway_net::tcp());
        let listener = net.bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let server = tokio::spawn(async move {
            let mut results = Vec::new();
            for _ in 0..3 {
                let (mut s, _) = listener.accept().await.unwrap();
                let mut buf = [0u8; 5];
                results.push(s.read_exact(&mut buf).await.map(|_| buf));
            }
            results
        });
        // A member of the same authority gets through.
        let mut s = net.connect(&addr).await.unwrap();
        s.write_all(b"raft!").await.unwrap();
        s.flush().await.unwrap();
        // A caller that trusts the cluster's authority but whose own
        // certificate another one signed, and a plaintext caller, do not.
        let other_dir = tempfile::tempdir().unwrap();
        let mut c = config(other_dir.path(), &ca, "off", Some(&Authority::new()));
        c.cluster_tls_ca = write(other_dir.path(), "members-ca.pem", &members.cert.pem());
        let stranger = Tls::from_config(&c).unwrap().unwrap();
        let _ = stranger
            .member_net(causeway_net::tcp())
            .connect(&addr)
            .await
            .map(|mut s| async move { s.write_all(b"raft?").await });
        let mut plain = tokio::net::TcpStream::connect(&addr).await.unwrap();
        plain.write_all(b"raft?").await.unwrap();
        let results = server.await.unwrap();
        assert_eq!(results[0].as_ref().unwrap(), b"raft!");
        assert!(results[1].is_err() && results[2].is_err(), "{results:?}");
    }

    #[test]
    fn settings_are_checked() {
        let mut c = Config {
            tls_mode: "required".into(),
            ..Config::default()
        };
        assert!(Tls::from_config(&c).is_err());
        c.tls_mode = "sometimes".into();
        assert!(Tls::from_config(&c).is_err());
        c.tls_mode = "off".into();
        assert!(Tls::from_config(&c).unwrap().is_none());
        c.cluster_tls_ca = "/nonexistent/ca.pem".into();
        assert!(Tls::from_config(&c).is_err());
        assert_eq!(host_of("[::1]:7687"), "::1");
        assert_eq!(host_of("core1:6000"), "core1");
    }
}
