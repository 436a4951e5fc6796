//! `causeway`: the server binary.

use std::path::PathBuf;
use std::process::ExitCode;

use causeway_server::{cluster, config, server};
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "causeway",
    version,
    about = "A clustered graph database that Neo4j drivers use unchanged"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a server (Bolt on 127.0.0.1:7687, HTTP on 127.0.0.1:7474, data under ./data).
    Serve(Box<ServeArgs>),
    /// Run a local cluster of core members as child processes on loopback.
    Cluster(cluster::ClusterArgs),
    /// Ask the member on this machine whether it is ready to serve (exit 0)
    /// or not (exit 1): for container health checks and probes, where there
    /// is no shell or curl.
    Healthcheck(HealthcheckArgs),
}

#[derive(clap::Args)]
struct HealthcheckArgs {
    /// The settings file the member runs with (its `http_listen` is asked).
    #[arg(long, value_name = "FILE", env = "CAUSEWAY_CONFIG")]
    config: Option<PathBuf>,
    /// The member's HTTP address; by default its `http_listen` setting,
    /// from the same file and `CAUSEWAY_*` variables the member reads.
    #[arg(long, value_name = "HOST:PORT")]
    http: Option<String>,
    /// Only ask whether the process answers (`/health/live`), not whether
    /// it is ready (`/health/ready`: in the cluster, caught up).
    #[arg(long)]
    live: bool,
    /// Seconds to wait for the answer.
    #[arg(long, value_name = "SECONDS", default_value_t = 5)]
    timeout: u64,
    /// Ask over TLS (HTTPS); by default when the member's `tls_mode` is
    /// `required`.
    #[arg(long)]
    tls: bool,
}

/// Every flag is also a config-file key and a `CAUSEWAY_*` environment
/// variable; flags win over both.
#[derive(clap::Args)]
struct ServeArgs {
    /// A TOML file of settings (keys as documented in docs/configuration.md).
    #[arg(long, value_name = "FILE", env = "CAUSEWAY_CONFIG")]
    config: Option<PathBuf>,
    #[arg(long, value_name = "PATH")]
    data_dir: Option<String>,
    #[arg(long, value_name = "HOST:PORT")]
    bolt_listen: Option<String>,
    /// The Bolt address clients are told to use (routing tables).
    #[arg(long, value_name = "HOST:PORT")]
    bolt_advertised: Option<String>,
    #[arg(long, value_name = "HOST:PORT")]
    http_listen: Option<String>,
    /// `USER/PASSWORD`, or `none` to turn authentication off.
    #[arg(long, value_name = "USER/PASSWORD|none")]
    auth: Option<String>,
    /// error, warn, info, debug or trace (or a tracing filter).
    #[arg(long, value_name = "LEVEL")]
    log_level: Option<String>,
    /// single, core or replica.
    #[arg(long, value_name = "MODE")]
    mode: Option<String>,
    /// Where this member listens for other members.
    #[arg(long, value_name = "HOST:PORT")]
    cluster_listen: Option<String>,
    /// The cluster address other members are told to use.
    #[arg(long, value_name = "HOST:PORT")]
    cluster_advertised: Option<String>,
    /// The cores' cluster addresses (list discovery) or one NAME:PORT (dns).
    #[arg(long, value_name = "HOST:PORT,...")]
    initial_members: Option<String>,
    /// list or dns.
    #[arg(long, value_name = "list|dns")]
    discovery: Option<String>,
    /// The secret every member of the cluster shares.
    #[arg(long, value_name = "SECRET")]
    cluster_secret: Option<String>,
    /// client (routing tables name the leader and followers) or server
    /// (they name only the member asked, which routes writes itself).
    #[arg(long, value_name = "client|server")]
    default_router: Option<String>,
    /// Any other setting, as KEY=VALUE; may be repeated.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    set: Vec<String>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve(args) => report(serve(*args)),
        Command::Cluster(args) => report(cluster::run(args)),
        Command::Healthcheck(args) => match healthcheck(args) {
            Ok(true) => ExitCode::SUCCESS,
            Ok(false) => ExitCode::FAILURE,
            Err(e) => report(Err(e)),
        },
    }
}

/// One GET to the member's health endpoint; true when it answers 200.
fn healthcheck(args: HealthcheckArgs) -> anyhow::Result<bool> {
    use std::io::{Read, Write};
    use std::net::ToSocketAddrs;
    let env = |k: &str| std::env::var(k).ok();
    let config = config::Config::load(args.config.as_deref(), env, &[])?;
    let tls = args.tls || config.tls_mode == "required";
    let addr = args.http.unwrap_or(config.http_listen);
    // A member listening on every interface is asked on loopback.
    let addr = match addr.rsplit_once(':') {
        Some((host, port)) if config::unspecified_host(host) => {
            let loopback = if host.contains(':') {
                "[::1]"
            } else {
                "127.0.0.1"
            };
            format!("{loopback}:{port}")
        }
        _ => addr,
    };
    let timeout = std::time::Duration::from_secs(args.timeout.max(1));
    let target = addr
        .to_socket_addrs()?
        .next()
        .ok_or_else(|| anyhow::anyhow!("{addr} resolves to no address"))?;
    let path = if args.live {
        "/health/live"
    } else {
        "/health/ready"
    };
    let tcp = std::net::TcpStream::connect_timeout(&target, timeout)?;
    tcp.set_read_timeout(Some(timeout))?;
    tcp.set_write_timeout(Some(timeout))?;
    let mut conn: Box<dyn ReadWrite> = if tls {
        let name = rustls::pki_types::ServerName::try_from("localhost")?;
        let client = rustls::ClientConnection::new(causeway_server::tls::probe_client(), name)?;
        Box::new(rustls::StreamOwned::new(client, tcp))
    } else {
        Box::new(tcp)
    };
    write!(
        conn,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )?;
    conn.flush()?;
    // A health answer is a few hundred bytes; read no more than a page.
    let mut answer = Vec::new();
    match conn.take(64 << 10).read_to_end(&mut answer) {
        Ok(_) => {}
        // A TLS peer that closes without a close_notify has still said
        // everything once the answer is in.
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof && !answer.is_empty() => {}
        Err(e) => return Err(e.into()),
    }
    let answer = String::from_utf8_lossy(&answer);
    let ok = answer.starts_with("HTTP/1.1 200");
    let body = answer.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    println!("{}", body.trim());
    Ok(ok)
}

trait ReadWrite: std::io::Read + std::io::Write {}
impl<T: std::io::Read + std::io::Write> ReadWrite for T {}

fn report(r: anyhow::Result<()>) -> ExitCode {
    match r {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("causeway: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let mut flags: Vec<(&str, String)> = Vec::new();
    let named = [
        ("data_dir", args.data_dir),
        ("bolt_listen", args.bolt_listen),
        ("bolt_advertised", args.bolt_advertised),
        ("http_listen", args.http_listen),
        ("auth", args.auth),
        ("log_level", args.log_level),
        ("mode", args.mode),
        ("cluster_listen", args.cluster_listen),
        ("cluster_advertised", args.cluster_advertised),
        ("initial_members", args.initial_members),
        ("discovery", args.discovery),
        ("cluster_secret", args.cluster_secret),
        ("default_router", args.default_router),
    ];
    for (key, value) in named {
        if let Some(v) = value {
            flags.push((key, v));
        }
    }
    let mut extra = Vec::new();
    for kv in &args.set {
        let (k, v) = kv
            .split_once('=')
            .ok_or_else(|| anyhow::anyhow!("--set expects KEY=VALUE, got `{kv}`"))?;
        extra.push((k.to_owned(), v.to_owned()));
    }
    for (k, v) in &extra {
        flags.push((k.as_str(), v.clone()));
    }
    let config = config::Config::load(args.config.as_deref(), |k| std::env::var(k).ok(), &flags)?;
    init_logging(&config.log_level);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("causeway")
        .build()?;
    runtime.block_on(server::run(config))
}

fn init_logging(level: &str) {
    // openraft logs its whole state at info on start-up, and a warning for
    // every heartbeat to an unreachable member (twenty a second); keep it to
    // errors unless the operator asks for a specific filter. Causeway logs
    // the events operators act on (formation, refusals, hand-overs) itself.
    let directive = if level.contains('=') {
        level.to_owned()
    } else {
        format!("{level},openraft=error")
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("RUST_LOG")
        .or_else(|_| tracing_subscriber::EnvFilter::try_new(&directive))
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr)
        .init();
}
