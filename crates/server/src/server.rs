//! Start-up and shutdown: opens storage, binds the listeners, and on SIGTERM
//! or SIGINT stops accepting, lets in-flight work finish, and closes the log.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use causeway_bolt::BoltConfig;
use causeway_exec::Limits;
use causeway_replication::network::Faults;
use causeway_replication::{ClusterConfig, Discover, Member, Replicator, ReplicatorConfig, Timing};
use tokio::sync::watch;

use crate::auth::{Auth, Door};
use crate::catalog::Catalog;
use crate::config::Config;
use crate::db::{Database, DbConfig, GraphState, DEFAULT_DB, SYSTEM_DB};
use crate::forward::Forwarder;
use crate::http::{self, HttpState};
use crate::session::{BoltBackend, Shared};

/// A server process: real TCP, HTTP on, stopped by SIGTERM or SIGINT.
pub async fn run(config: Config) -> anyhow::Result<()> {
    let env = Env {
        net: causeway_net::tcp(),
        http: true,
        observe: None,
    };
    run_with(config, env, wait_for_signal()).await
}

/// What differs between a server process and a member of the deterministic
/// simulation, which runs several members in one process on a simulated
/// network.
pub struct Env {
    /// How Bolt and the cluster transport reach and are reached.
    pub net: causeway_net::Net,
    /// Serve HTTP (always on real TCP: the simulation leaves it off).
    pub http: bool,
    /// Told of the database's replicator once it is open (the simulation
    /// watches who leads, to aim its faults).
    pub observe: Option<Observer>,
}

/// See [`Env::observe`].
pub type Observer = Box<dyn Fn(&Arc<Replicator<GraphState>>) + Send>;

/// Runs until `stop` completes, then shuts down as on SIGTERM.
pub async fn run_with(
    config: Config,
    env: Env,
    stop: impl std::future::Future<Output = ()>,
) -> anyhow::Result<()> {
    if !causeway_replication::random::seeded() {
        raise_fd_limit();
    }
    std::fs::create_dir_all(&config.data_dir)
        .with_context(|| format!("creating data directory {}", config.data_dir.display()))?;
    let _lock = lock_data_dir(&config.data_dir)?;
    check_data_format(&config.data_dir)?;
    let tls = crate::tls::Tls::from_config(&config)?;
    // Member-to-member connections: the cluster port, and routing to
    // another member's Bolt and HTTP ports.
    let members = match &tls {
        Some(t) => t.member_net(env.net.clone()),
        None => env.net.clone(),
    };
    let auth = Arc::new(Auth::open(
        &config.data_dir.join("system"),
        &config.auth,
        config.auth_max_failed_attempts,
        Duration::from_millis(config.auth_lock_ms),
    )?);

    // Each may look up the host name; work them out once.
    let bolt_advertised = config.bolt_advertised();
    let http_advertised = config.http_advertised();
    let faults: Arc<Faults> = Arc::default();
    causeway_graph::set_vector_exact_below(config.vector_exact_below);
    let repl = Arc::new(
        Replicator::<GraphState>::open(ReplicatorConfig {
            dir: config.data_dir.join("databases").join(DEFAULT_DB),
            node_id: 1,
            address: bolt_advertised.clone(),
            fsync: config.fsync,
            snapshot_every: config.snapshot_every,
            snapshot_bytes: config.snapshot_bytes,
            snapshot_keep: config.snapshot_log_keep,
            timing: Timing {
                heartbeat_ms: config.heartbeat_ms,
                election_min_ms: config.election_timeout_min_ms,
                election_max_ms: config.election_timeout_max_ms,
            },
            cluster: (config.mode != "single").then(|| ClusterConfig {
                replica: config.mode == "replica",
                listen: config.cluster_listen.clone(),
                me: Member {
                    cluster: config.cluster_advertised(),
                    bolt: bolt_advertised.clone(),
                    http: http_advertised.clone(),
                    routing: config.routing_advertised(),
                    http_routing: config.http_routing_advertised(),
                },
                discover: discovery(&config),
                // A list names every core; a DNS name only those up so far.
                min_initial_cores: if config.discovery == "dns" {
                    config.minimum_initial_cores as usize
                } else {
                    1
                },
                secret: config.cluster_secret.clone().into_bytes(),
                faults: faults.clone(),
                net: members.clone(),
            }),
        })
        .await
        .context("opening database `neo4j`")?,
    );
    tracing::info!(applied = repl.applied_index(), "database `neo4j` open");
    // Users, roles and privileges live in the replicated state; the local
    // users file only bootstraps it.
    {
        let repl = repl.clone();
        auth.follow(Arc::new(move || repl.state().1));
    }
    let bootstrap = tokio::spawn(bootstrap_security(repl.clone(), auth.clone()));
    if let Some(observe) = &env.observe {
        observe(&repl);
    }

    let catalog = Arc::new(Catalog {
        advertised_bolt: bolt_advertised.clone(),
        advertised_http: http_advertised.clone(),
        routing_ttl_secs: config.routing_ttl_secs as i64,
        read_from_leader: config.read_from_leader,
        server_router: config.default_router == "server",
        clustered: config.mode != "single",
        repl: repl.clone(),
    });
    let db_config = || DbConfig {
        max_transaction_bytes: config.max_transaction_bytes,
        lock_timeout: Duration::from_millis(config.lock_timeout_ms),
        optimistic: config.concurrency_control == "optimistic",
        transaction_timeout: Duration::from_millis(config.transaction_timeout_ms),
        bookmark_timeout: Duration::from_millis(config.bookmark_timeout_ms),
        limits: Limits {
            max_materialized_rows: config.max_materialized_rows,
            ..Limits::default()
        },
    };
    let mut databases = HashMap::new();
    let default_db = Arc::new(Database::new(
        DEFAULT_DB,
        Some(repl.clone()),
        db_config(),
        catalog.clone(),
    ));
    default_db.follow_rebuilt_state();
    databases.insert(DEFAULT_DB.to_owned(), default_db);
    databases.insert(
        SYSTEM_DB.to_owned(),
        Arc::new(
            Database::new(SYSTEM_DB, None, db_config(), catalog.clone())
                .with_security(repl.clone()),
        ),
    );
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let shared = Arc::new(Shared {
        door: Arc::new(Door::new(auth.clone(), cores)),
        databases,
        catalog: catalog.clone(),
        forwarder: (config.mode != "single" && config.server_side_routing)
            .then(|| Arc::new(Forwarder::new(repl.clone(), members.clone()))),
    });
    let backend = Arc::new(BoltBackend(shared.clone()));

    let bolt_listener = env
        .net
        .bind(&config.bolt_listen)
        .await
        .with_context(|| format!("binding Bolt to {}", config.bolt_listen))?;
    let http_listener = if env.http {
        Some(
            causeway_net::tcp()
                .bind(&config.http_listen)
                .await
                .with_context(|| format!("binding HTTP to {}", config.http_listen))?,
        )
    } else {
        None
    };
    // Clients' ports sniff TLS when TLS is on for clients, or for members
    // routing to them.
    let (bolt_listener, http_listener) = match &tls {
        Some(t) => (
            t.clients_port(bolt_listener),
            http_listener.map(|l| t.clients_port(l)),
        ),
        None => (bolt_listener, http_listener),
    };
    let tls_watch = tls
        .as_ref()
        .map(|t| t.watch(Duration::from_millis(config.tls_reload_interval_ms)));
    let bolt_config = BoltConfig {
        server_agent: config.server_agent.clone(),
        max_message_size: config.max_message_bytes,
        max_connections: config.max_connections,
        recv_timeout_hint: (config.bolt_recv_timeout_secs > 0)
            .then(|| Duration::from_secs(config.bolt_recv_timeout_secs)),
        ..BoltConfig::default()
    };
    bolt_config
        .validate()
        .map_err(|e| anyhow::anyhow!("Bolt settings: {e}"))?;
    let (stop_tx, stop_rx) = watch::channel(false);
    let bolt = tokio::spawn(causeway_bolt::serve(
        bolt_listener,
        backend,
        bolt_config,
        stop_rx.clone(),
    ));
    let open_txs = Arc::new(crate::http::tx::OpenTransactions::default());
    // Idle HTTP transactions are rolled back, so an abandoned client cannot
    // hold the write lock or memory for long.
    let sweeper = {
        let open_txs = open_txs.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_secs(5)).await;
                open_txs.sweep().await;
            }
        })
    };
    let app = http::router(Arc::new(HttpState {
        bolt_advertised: bolt_advertised.clone(),
        sessions: shared.clone(),
        open_txs: open_txs.clone(),
        node_id: repl.status().node_id,
        http_advertised,
        status_auth: config.cluster_status_auth,
        leader_silence: Duration::from_millis(config.election_timeout_max_ms * 4)
            .max(Duration::from_secs(1)),
        faults: config.fault_injection.then(|| faults.clone()),
        repl: repl.clone(),
        members,
    }));
    let http = tokio::spawn({
        let stop = stop_rx.clone();
        let max = config.http_max_connections;
        async move {
            if let Some(listener) = http_listener {
                http::serve::serve(listener, app, max, stop).await;
            }
        }
    });
    tracing::info!(
        bolt = %config.bolt_listen,
        advertised = %bolt_advertised,
        http = %config.http_listen,
        tls = %config.tls_mode,
        member_tls = tls.as_ref().is_some_and(|t| t.members()),
        data = %config.data_dir.display(),
        "Causeway {} ready",
        env!("CARGO_PKG_VERSION")
    );

    stop.await;
    tracing::info!("shutting down: no new connections; finishing in-flight work");
    // A leader hands over first: drivers then find a writer at once, and
    // managed transactions see no failure at all.
    repl.transfer_leadership().await;
    let _ = stop_tx.send(true);
    match bolt.await {
        Ok(Err(e)) => tracing::warn!(error = %e, "Bolt listener"),
        Err(e) => tracing::warn!(error = %e, "Bolt listener task"),
        Ok(Ok(())) => {}
    }
    let _ = http.await;
    if let Some(w) = tls_watch {
        w.abort();
    }
    bootstrap.abort();
    // Open HTTP transactions end (roll back) before the log closes.
    sweeper.abort();
    drop(open_txs);
    repl.shutdown().await;
    tracing::info!("stopped");
    Ok(())
}

/// Creates the first user and the built-in roles in the replicated state
/// once this member leads a cluster whose state has none: the leader
/// proposes, every member applies. A proposal that loses a race with
/// another member's changes nothing (the command does nothing once the
/// state is initialised).
async fn bootstrap_security(repl: Arc<Replicator<GraphState>>, auth: Arc<Auth>) {
    use crate::security::Command;
    loop {
        let state = repl.state().1;
        let commands = match auth.bootstrap_identity() {
            Err(e) => {
                tracing::warn!(error = %e, "bootstrapping users");
                Vec::new()
            }
            Ok((user, hash)) if !state.initialized => vec![Command::Bootstrap { user, hash }],
            // The first user was made while authentication was off: it
            // takes the password configured now.
            Ok((user, hash))
                if auth.enabled()
                    && state
                        .users
                        .get(&user)
                        .is_some_and(|u| u.hash == crate::auth::UNSET_HASH) =>
            {
                vec![Command::AlterUser {
                    name: user,
                    if_exists: true,
                    hash: Some(hash),
                    change_required: None,
                    suspended: None,
                    home: None,
                    by: None,
                }]
            }
            // Made while authentication was off, and now started with
            // another user name: no one can log in, so the user configured
            // now is made, with `admin` (its password is configured, or
            // was logged when made). The state machine checks the same
            // again when it applies, so a race makes it a no-op.
            Ok((user, hash)) if auth.enabled() && state.admin_recovery_applies(&user) => {
                vec![Command::RecoverAdmin { user, hash }]
            }
            Ok(_) => return,
        };
        if let (Ok(leader), false) = (repl.write_leader(), commands.is_empty()) {
            let payload = GraphState::security_payload(&commands);
            match repl.submit(leader, payload).await {
                Ok(pending) => match pending.await {
                    Ok(_) => tracing::info!("created the first user and the built-in roles"),
                    Err(e) => tracing::debug!(error = %e, "bootstrapping users: retrying"),
                },
                Err(e) => tracing::debug!(error = %e, "bootstrapping users: retrying"),
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The cores' cluster addresses, as formation re-reads them: the list as
/// given, or every A record of one `name:port`.
fn discovery(config: &Config) -> Discover {
    let raw = config.initial_members.clone();
    if config.discovery == "dns" {
        Arc::new(move || {
            use std::net::ToSocketAddrs;
            let mut addrs: Vec<String> = match raw.trim().to_socket_addrs() {
                Ok(it) => it.map(|a| a.to_string()).collect(),
                Err(e) => {
                    tracing::warn!(name = %raw, error = %e, "DNS discovery failed");
                    Vec::new()
                }
            };
            addrs.sort();
            addrs.dedup();
            addrs
        })
    } else {
        let list: Vec<String> = raw
            .split(',')
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
            .collect();
        Arc::new(move || list.clone())
    }
}

async fn wait_for_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    match (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) {
        (Ok(mut term), Ok(mut int)) => {
            tokio::select! {
                biased;
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
        }
        _ => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

/// Thousands of idle Bolt connections need thousands of descriptors; the
/// usual soft limit of 1024 is far too low, so raise it to the hard limit.
fn raise_fd_limit() {
    // SAFETY: getrlimit/setrlimit only read and write the struct we pass.
    unsafe {
        let mut lim = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) == 0 && lim.rlim_cur < lim.rlim_max {
            lim.rlim_cur = lim.rlim_max;
            let _ = libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
        }
    }
}

/// The version of a data directory's layout and encodings. Log entries and
/// snapshots are postcard, which is not self-describing: a type read with a
/// changed shape is misread, not refused. So any such change raises this,
/// and a directory of another version is refused before anything is read.
/// Format 2 added the members' routing addresses to the membership.
const DATA_FORMAT: u32 = 2;

fn check_data_format(dir: &Path) -> anyhow::Result<()> {
    let path = dir.join("FORMAT");
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            let found: u32 = text
                .trim()
                .parse()
                .with_context(|| format!("{} is not a format number", path.display()))?;
            anyhow::ensure!(
                found == DATA_FORMAT,
                "data directory {} is in format {found}; this build reads format {DATA_FORMAT}",
                dir.display()
            );
            Ok(())
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            anyhow::ensure!(
                !dir.join("databases").exists(),
                "data directory {} was written by an earlier build (format 1); this build reads format {DATA_FORMAT}",
                dir.display()
            );
            crate::auth::write_atomically(&path, format!("{DATA_FORMAT}\n").as_bytes())
        }
        Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
    }
}

/// Two servers on one data directory would corrupt it; an exclusive lock on
/// a file inside it makes the second one fail at start-up instead.
fn lock_data_dir(dir: &Path) -> anyhow::Result<std::fs::File> {
    use std::os::unix::io::AsRawFd;
    let path = dir.join("LOCK");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)?;
    // SAFETY: flock on a descriptor we own.
    let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
    anyhow::ensure!(
        rc == 0,
        "data directory {} is in use by another causeway process",
        dir.display()
    );
    Ok(file)
}
