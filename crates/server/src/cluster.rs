//! `causeway cluster`: a local cluster in one command: core members, and
//! read replicas if asked. Each member is a child process running
//! `causeway serve --mode core` (or `replica`) on loopback with its own data
//! directory; Ctrl-C (or SIGTERM) stops them all, gracefully.

use std::path::PathBuf;
use std::process::{Child, Command};
use std::time::Duration;

use anyhow::Context;

#[derive(clap::Args)]
pub struct ClusterArgs {
    /// Number of core members.
    #[arg(long, default_value_t = 3)]
    cores: u16,
    /// Number of read replicas, started after the cores (their ports follow
    /// the cores').
    #[arg(long, default_value_t = 0)]
    replicas: u16,
    /// Parent of the members' data directories (`core-1`, ..., `replica-1`).
    #[arg(long, default_value = "data/cluster")]
    data_dir: PathBuf,
    /// Bolt port of the first member; the others follow it.
    #[arg(long, default_value_t = 7687)]
    bolt_port: u16,
    /// HTTP port of the first member; the others follow it.
    #[arg(long, default_value_t = 7474)]
    http_port: u16,
    /// Cluster port of the first member; the others follow it.
    #[arg(long, default_value_t = 6000)]
    cluster_port: u16,
    /// `USER/PASSWORD` or `none`, for every member.
    #[arg(long, default_value = "neo4j/changeme")]
    auth: String,
    /// The shared cluster secret; by default one is made up for this run and
    /// kept in the data directory.
    #[arg(long)]
    cluster_secret: Option<String>,
    #[arg(long, default_value = "info")]
    log_level: String,
}

pub fn run(args: ClusterArgs) -> anyhow::Result<()> {
    anyhow::ensure!(args.cores >= 1, "--cores must be at least 1");
    std::fs::create_dir_all(&args.data_dir)
        .with_context(|| format!("creating {}", args.data_dir.display()))?;
    let secret = match args.cluster_secret {
        Some(s) => s,
        None => {
            let path = args.data_dir.join("cluster-secret");
            match std::fs::read_to_string(&path) {
                Ok(s) => s.trim().to_owned(),
                Err(_) => {
                    let s = format!("{:032x}", rand::random::<u128>());
                    std::fs::write(&path, &s)?;
                    s
                }
            }
        }
    };
    let exe = std::env::current_exe().context("finding the causeway binary")?;
    let port = |base: u16, i: u16| base.checked_add(i).context("port out of range");
    let mut initial = Vec::new();
    for i in 0..args.cores {
        initial.push(format!("127.0.0.1:{}", port(args.cluster_port, i)?));
    }
    let initial = initial.join(",");
    let mut children: Vec<(String, Child)> = Vec::new();
    let mut bolts = Vec::new();
    let members = args
        .cores
        .checked_add(args.replicas)
        .context("too many members")?;
    for i in 0..members {
        let (mode, name) = if i < args.cores {
            ("core", format!("core-{}", i + 1))
        } else {
            ("replica", format!("replica-{}", i - args.cores + 1))
        };
        let bolt = format!("127.0.0.1:{}", port(args.bolt_port, i)?);
        let http = format!("127.0.0.1:{}", port(args.http_port, i)?);
        let cluster = format!("127.0.0.1:{}", port(args.cluster_port, i)?);
        let dir = args.data_dir.join(&name);
        let child = Command::new(&exe)
            .arg("serve")
            .args(["--mode", mode])
            .arg("--data-dir")
            .arg(&dir)
            .args(["--bolt-listen", &bolt])
            .args(["--http-listen", &http])
            .args(["--cluster-listen", &cluster])
            .args(["--initial-members", &initial])
            .args(["--cluster-secret", &secret])
            .args(["--auth", &args.auth])
            .args(["--log-level", &args.log_level])
            .spawn()
            .with_context(|| format!("starting {name}"))?;
        println!(
            "{name}: bolt://{bolt}  http://{http}  cluster {cluster}  data {}",
            dir.display()
        );
        children.push((name, child));
        bolts.push(bolt);
    }
    println!(
        "connect with neo4j://{} (any member works as a router); Ctrl-C stops the cluster",
        bolts[0]
    );
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let exited = runtime.block_on(async {
        use tokio::signal::unix::{signal, SignalKind};
        let mut term = signal(SignalKind::terminate())?;
        let mut int = signal(SignalKind::interrupt())?;
        loop {
            tokio::select! {
                biased;
                _ = term.recv() => return anyhow::Ok(None),
                _ = int.recv() => return anyhow::Ok(None),
                _ = tokio::time::sleep(Duration::from_millis(500)) => {
                    for (name, c) in children.iter_mut() {
                        if let Ok(Some(status)) = c.try_wait() {
                            return anyhow::Ok(Some((name.clone(), status)));
                        }
                    }
                }
            }
        }
    })?;
    if let Some((name, status)) = &exited {
        eprintln!("causeway: member {name} exited ({status}); stopping the others");
    }
    // SIGTERM each member in turn: a leader hands over before it stops, so
    // the others keep serving until they are stopped too.
    for (_, c) in children.iter_mut() {
        if let Ok(None) = c.try_wait() {
            // SAFETY: kill() with a pid we spawned and have not reaped.
            unsafe {
                libc::kill(c.id() as libc::pid_t, libc::SIGTERM);
            }
            let _ = c.wait();
        }
    }
    match exited {
        Some((name, _)) => anyhow::bail!("member {name} exited"),
        None => Ok(()),
    }
}
