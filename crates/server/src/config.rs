//! Server configuration, layered: built-in defaults, then a TOML file, then
//! `CAUSEWAY_*` environment variables, then command-line flags. Each layer
//! overrides the one before, key by key.
//!
//! Every key is flat and snake_case. Its environment variable is the key in
//! upper case with a `CAUSEWAY_` prefix: `bolt_listen` is
//! `CAUSEWAY_BOLT_LISTEN`. `CAUSEWAY_<KEY>_FILE` names a file holding the
//! value instead, the way Docker and Kubernetes mount secrets. Unknown keys
//! in the file are an error, so a typo never silently falls back to a
//! default.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub data_dir: PathBuf,
    pub bolt_listen: String,
    /// The address clients are told to use (routing tables); empty means
    /// `bolt_listen`, with `advertised_host` for its host (see there).
    pub bolt_advertised: String,
    /// The Bolt address other members use to route transactions to this
    /// one (server-side routing); empty means `bolt_advertised`. Inside a
    /// container network it differs from the address outside clients use,
    /// like Neo4j's `server.routing.advertised_address`.
    pub routing_advertised: String,
    /// The host of every advertised address that is not set (Neo4j's
    /// `server.default_advertised_address`). Empty means the listen
    /// address's host, or this machine's host name where that host is
    /// unspecified (`0.0.0.0`, `::`): no member advertises an address that
    /// nobody can dial.
    pub advertised_host: String,
    pub http_listen: String,
    /// `USER/PASSWORD` sets that user's password at start-up; `none` turns
    /// authentication off. Empty keeps the stored users, or on first start
    /// creates `neo4j` with a random password printed to the log.
    pub auth: String,
    pub log_level: String,
    /// Turning this off makes acknowledged writes losable on power failure;
    /// it exists for benchmarks that isolate CPU cost.
    pub fsync: bool,
    pub max_connections: usize,
    pub max_message_bytes: usize,
    /// The read timeout Bolt clients are asked to apply (whole seconds; 0
    /// asks for none), backed by keep-alive NOOPs while a request runs.
    pub bolt_recv_timeout_secs: u64,
    /// Largest change set (encoded bytes) one transaction may commit.
    pub max_transaction_bytes: usize,
    /// Longest a write transaction may hold the database's write lock.
    pub transaction_timeout_ms: u64,
    /// How long a writer waits for the write lock before a transient error.
    pub lock_timeout_ms: u64,
    /// `optimistic`: explicit write transactions run on a snapshot and are
    /// re-run at their commit point if anything committed meanwhile
    /// (docs/decisions/0022); `lock`: they hold the write lock from their
    /// first statement to COMMIT (0004).
    pub concurrency_control: String,
    /// How long a transaction waits for the bookmarks it presents.
    pub bookmark_timeout_ms: u64,
    /// Log entries between snapshots, at most; a restart replays at most
    /// this many. Snapshots usually come sooner, by size (`snapshot_bytes`).
    pub snapshot_every: u64,
    /// The most the log grows by between snapshots (it stays in memory until
    /// purged behind one). Below it, a snapshot comes once the log has grown
    /// by the last snapshot's size, so that snapshots cost in proportion to
    /// what was written, not to the graph.
    pub snapshot_bytes: u64,
    /// Log entries kept behind a snapshot: a follower that lags by fewer
    /// catches up from the log, one that lags by more gets the snapshot.
    pub snapshot_log_keep: u64,
    /// Rows one operator may hold in memory (sorts, aggregations).
    pub max_materialized_rows: usize,
    /// Vector queries over fewer entities of the label or type than this
    /// score every one (exact); at or above it they use the member's HNSW
    /// once it is built (docs/decisions/0014-vector-indexes.md).
    pub vector_exact_below: usize,
    /// Failed logins per user before further attempts are refused for
    /// `auth_lock_ms`.
    pub auth_max_failed_attempts: u32,
    pub auth_lock_ms: u64,
    /// The `server` string sent in HELLO SUCCESS. The 5.x Python driver
    /// refuses anything not starting with `Neo4j/`.
    pub server_agent: String,
    /// `single` (one server, its own one-member Raft group), `core` (a
    /// voting member of a cluster) or `replica` (not yet supported).
    pub mode: String,
    /// Where this member listens for other members.
    pub cluster_listen: String,
    /// The cluster address other members are told to use; empty means
    /// `cluster_listen`.
    pub cluster_advertised: String,
    /// The cores' cluster addresses, comma-separated (`list` discovery), or
    /// one `name:port` whose A records are the cores (`dns` discovery).
    pub initial_members: String,
    /// `list` or `dns`.
    pub discovery: String,
    /// With `dns` discovery, the cores that must be found before a new
    /// cluster forms (Neo4j's
    /// `dbms.cluster.minimum_initial_system_primaries_count`).
    pub minimum_initial_cores: u64,
    /// Shared by every member; members prove it to each other (HMAC) before
    /// any Raft message. Required in `core` mode.
    pub cluster_secret: String,
    /// Advertised HTTP address; empty means `http_listen` (host as for
    /// `bolt_advertised`).
    pub http_advertised: String,
    /// The HTTP address other members use to pass on a request for an open
    /// transaction this member holds; empty means `http_advertised`.
    pub http_routing_advertised: String,
    /// Raft heartbeat and election timeouts
    /// (docs/decisions/0006-cluster.md).
    pub heartbeat_ms: u64,
    pub election_timeout_min_ms: u64,
    pub election_timeout_max_ms: u64,
    /// How long drivers may cache a routing table.
    pub routing_ttl_secs: u64,
    /// List the leader among READ servers even when followers exist.
    pub read_from_leader: bool,
    /// A member that is not the leader runs write-mode transactions on the
    /// leader for its clients (server-side routing), over `bolt://` and
    /// `neo4j://` alike.
    pub server_side_routing: bool,
    /// `client`: routing tables list the leader as writer and followers as
    /// readers. `server`: they list only the member that was asked, for
    /// clients that must use one address (every member routes).
    pub default_router: String,
    /// Require Basic auth on `/db/{db}/cluster/*` and
    /// `/dbms/cluster/status`, as Neo4j does by default.
    pub cluster_status_auth: bool,
    /// PEM files (certificate chain, private key) that the Bolt and HTTP
    /// ports present to clients (docs/decisions/0020-tls.md). Read again
    /// when they change.
    pub tls_certificate: String,
    pub tls_private_key: String,
    /// `off`: plaintext only. `optional`: TLS and plaintext on the same
    /// ports. `required`: TLS only, plaintext connections are closed.
    pub tls_mode: String,
    /// PEM files for mutual TLS between members: this member's certificate
    /// and key, and the CA that members' certificates must chain to. Set
    /// all three or none; once set, the cluster port takes only members
    /// presenting a certificate of that CA.
    pub cluster_tls_certificate: String,
    pub cluster_tls_private_key: String,
    pub cluster_tls_ca: String,
    /// Also require a member's certificate to name the address it was
    /// dialled at (off by default, like Neo4j's cluster policy: members are
    /// often dialled by addresses no certificate foresees).
    pub cluster_tls_verify_hostname: bool,
    /// How often the TLS files are looked at for changes.
    pub tls_reload_interval_ms: u64,
    /// HTTP connections open at once; more are closed at once.
    pub http_max_connections: usize,
    /// Serve `PUT /causeway/faults`, which drops cluster traffic to and from
    /// chosen members (a network partition on demand). For tests only.
    pub fault_injection: bool,
}

impl Default for Config {
    fn default() -> Self {
        let timing = causeway_replication::Timing::default();
        Config {
            data_dir: PathBuf::from("data"),
            bolt_listen: "127.0.0.1:7687".into(),
            bolt_advertised: String::new(),
            routing_advertised: String::new(),
            advertised_host: String::new(),
            http_listen: "127.0.0.1:7474".into(),
            auth: String::new(),
            log_level: "info".into(),
            fsync: true,
            max_connections: 10_000,
            max_message_bytes: 64 << 20,
            bolt_recv_timeout_secs: 1,
            max_transaction_bytes: 128 << 20,
            transaction_timeout_ms: 60_000,
            lock_timeout_ms: 10_000,
            concurrency_control: "optimistic".into(),
            bookmark_timeout_ms: 30_000,
            snapshot_every: 1_000_000,
            snapshot_bytes: 256 << 20,
            snapshot_log_keep: 100,
            max_materialized_rows: 1_000_000,
            vector_exact_below: causeway_graph::DEFAULT_EXACT_BELOW,
            auth_max_failed_attempts: 3,
            auth_lock_ms: 5_000,
            server_agent: format!("Neo4j/5.26.0 (Causeway {})", env!("CARGO_PKG_VERSION")),
            mode: "single".into(),
            cluster_listen: "127.0.0.1:6000".into(),
            cluster_advertised: String::new(),
            initial_members: String::new(),
            discovery: "list".into(),
            minimum_initial_cores: 3,
            cluster_secret: String::new(),
            http_advertised: String::new(),
            http_routing_advertised: String::new(),
            heartbeat_ms: timing.heartbeat_ms,
            election_timeout_min_ms: timing.election_min_ms,
            election_timeout_max_ms: timing.election_max_ms,
            routing_ttl_secs: 10,
            read_from_leader: false,
            server_side_routing: true,
            default_router: "client".into(),
            cluster_status_auth: true,
            tls_certificate: String::new(),
            tls_private_key: String::new(),
            tls_mode: "off".into(),
            cluster_tls_certificate: String::new(),
            cluster_tls_private_key: String::new(),
            cluster_tls_ca: String::new(),
            cluster_tls_verify_hostname: false,
            tls_reload_interval_ms: 5_000,
            http_max_connections: 1_000,
            fault_injection: false,
        }
    }
}

pub const ENV_PREFIX: &str = "CAUSEWAY_";

impl Config {
    /// Builds the configuration from the optional file, the process
    /// environment and the flags (`(key, value)` pairs, already named by key).
    pub fn load(
        file: Option<&Path>,
        env: impl Fn(&str) -> Option<String>,
        flags: &[(&str, String)],
    ) -> anyhow::Result<Config> {
        let defaults = toml::Table::try_from(Config::default())?;
        let mut table = defaults.clone();
        if let Some(path) = file {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading config file {}", path.display()))?;
            let from_file: toml::Table = text
                .parse()
                .with_context(|| format!("parsing config file {}", path.display()))?;
            for (k, v) in from_file {
                if !defaults.contains_key(&k) {
                    bail!("unknown key `{k}` in {}", path.display());
                }
                table.insert(k, v);
            }
        }
        for (key, default) in &defaults {
            let name = format!("{ENV_PREFIX}{}", key.to_uppercase());
            let raw = match (env(&name), env(&format!("{name}_FILE"))) {
                (Some(_), Some(_)) => bail!("set {name} or {name}_FILE, not both"),
                (Some(raw), None) => raw,
                (None, Some(path)) => {
                    read_secret(&path).with_context(|| format!("reading {name}_FILE ({path})"))?
                }
                (None, None) => continue,
            };
            table.insert(key.clone(), typed(key, default, &raw)?);
        }
        for (key, raw) in flags {
            let default = defaults
                .get(*key)
                .with_context(|| format!("unknown key `{key}`"))?;
            table.insert((*key).to_owned(), typed(key, default, raw)?);
        }
        let config: Config = table.try_into()?;
        config.validate()?;
        Ok(config)
    }

    fn validate(&self) -> anyhow::Result<()> {
        if !self.server_agent.starts_with("Neo4j/") {
            bail!("server_agent must start with `Neo4j/`: the Neo4j 5.x Python driver refuses other servers");
        }
        if self.auth != "none" && !self.auth.is_empty() && !self.auth.contains('/') {
            bail!("auth must be `none` or `USER/PASSWORD`");
        }
        if self.max_message_bytes < 1024 {
            bail!("max_message_bytes must be at least 1024");
        }
        // The log refuses records over 256 MiB; leave room for framing.
        if !(1024..=(200 << 20)).contains(&self.max_transaction_bytes) {
            bail!("max_transaction_bytes must be between 1024 and 209715200");
        }
        // The write lock is only ever released by commit, rollback or the
        // transaction timeout, so zero (Neo4j's "no timeout") is refused.
        if self.transaction_timeout_ms == 0 || self.lock_timeout_ms == 0 {
            bail!("transaction_timeout_ms and lock_timeout_ms must be positive");
        }
        if !matches!(self.concurrency_control.as_str(), "optimistic" | "lock") {
            bail!("concurrency_control must be optimistic or lock");
        }
        match self.mode.as_str() {
            "single" => {}
            m @ ("core" | "replica") => {
                if self.cluster_secret.is_empty() {
                    bail!("mode {m} needs cluster_secret (--cluster-secret or CAUSEWAY_CLUSTER_SECRET), shared by all members");
                }
                if self.initial_members.trim().is_empty() {
                    bail!("mode {m} needs initial_members (--initial-members HOST:PORT,..., the cores' cluster addresses)");
                }
            }
            m => bail!("mode must be single, core or replica, not `{m}`"),
        }
        match self.default_router.as_str() {
            "client" => {}
            "server" if self.server_side_routing => {}
            "server" => bail!("default_router = server needs server_side_routing = true: every member must take writes"),
            r => bail!("default_router must be client or server, not `{r}`"),
        }
        if !matches!(self.discovery.as_str(), "list" | "dns") {
            bail!("discovery must be list or dns");
        }
        if self.minimum_initial_cores == 0 {
            bail!("minimum_initial_cores must be at least 1");
        }
        if self.heartbeat_ms == 0
            || self.election_timeout_min_ms < 2 * self.heartbeat_ms
            || self.election_timeout_max_ms <= self.election_timeout_min_ms
        {
            bail!("need 0 < heartbeat_ms, 2 x heartbeat_ms <= election_timeout_min_ms < election_timeout_max_ms");
        }
        if self.routing_ttl_secs == 0 {
            bail!("routing_ttl_secs must be positive");
        }
        crate::tls::Mode::parse(&self.tls_mode)?;
        if self.tls_reload_interval_ms == 0 || self.http_max_connections == 0 {
            bail!("tls_reload_interval_ms and http_max_connections must be positive");
        }
        Ok(())
    }

    pub fn cluster_advertised(&self) -> String {
        self.advertised(&self.cluster_advertised, &self.cluster_listen)
    }

    pub fn http_advertised(&self) -> String {
        self.advertised(&self.http_advertised, &self.http_listen)
    }

    pub fn bolt_advertised(&self) -> String {
        self.advertised(&self.bolt_advertised, &self.bolt_listen)
    }

    pub fn routing_advertised(&self) -> String {
        match self.routing_advertised.as_str() {
            "" => self.bolt_advertised(),
            set => set.to_owned(),
        }
    }

    pub fn http_routing_advertised(&self) -> String {
        match self.http_routing_advertised.as_str() {
            "" => self.http_advertised(),
            set => set.to_owned(),
        }
    }

    /// An advertised address: as set, else the listen address with
    /// `advertised_host` (or, for an unspecified listen host, the host
    /// name) in place of its host.
    fn advertised(&self, set: &str, listen: &str) -> String {
        if !set.is_empty() {
            return set.to_owned();
        }
        let Some((host, port)) = listen.rsplit_once(':') else {
            return listen.to_owned();
        };
        let host = if !self.advertised_host.is_empty() {
            self.advertised_host.clone()
        } else if unspecified_host(host) {
            host_name().unwrap_or_else(|| "localhost".to_owned())
        } else {
            return listen.to_owned();
        };
        format!("{host}:{port}")
    }
}

/// Whether a listen address's host means every interface, which nobody can
/// dial.
pub fn unspecified_host(host: &str) -> bool {
    matches!(host, "" | "0.0.0.0" | "::" | "[::]")
}

/// A secret's file, as Docker and Kubernetes mount them: the value is the
/// contents less one trailing line break.
fn read_secret(path: &str) -> std::io::Result<String> {
    let text = std::fs::read_to_string(path)?;
    let text = text.strip_suffix('\n').unwrap_or(&text);
    Ok(text.strip_suffix('\r').unwrap_or(text).to_owned())
}

/// This machine's host name (a container's or pod's own name).
fn host_name() -> Option<String> {
    let mut buf = [0u8; 256];
    // SAFETY: gethostname writes at most `buf.len()` bytes into `buf`.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    let end = buf.iter().position(|&b| b == 0)?;
    (rc == 0 && end > 0).then(|| String::from_utf8_lossy(&buf[..end]).into_owned())
}

/// Environment variables and flags arrive as strings; give them the type of
/// the key's default so that `CAUSEWAY_FSYNC=false` is a boolean.
fn typed(key: &str, default: &toml::Value, raw: &str) -> anyhow::Result<toml::Value> {
    Ok(match default {
        toml::Value::Boolean(_) => toml::Value::Boolean(
            raw.parse()
                .with_context(|| format!("`{key}` must be true or false, not `{raw}`"))?,
        ),
        toml::Value::Integer(_) => toml::Value::Integer(
            raw.parse()
                .with_context(|| format!("`{key}` must be an integer, not `{raw}`"))?,
        ),
        _ => toml::Value::String(raw.to_owned()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn layers_override_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("c.toml");
        std::fs::write(
            &file,
            "bolt_listen = \"127.0.0.1:1\"\nlock_timeout_ms = 5\nfsync = true\n",
        )
        .unwrap();
        let env = |k: &str| match k {
            "CAUSEWAY_BOLT_LISTEN" => Some("127.0.0.1:2".to_owned()),
            "CAUSEWAY_FSYNC" => Some("false".to_owned()),
            _ => None,
        };
        let c = Config::load(Some(&file), env, &[("bolt_listen", "127.0.0.1:3".into())]).unwrap();
        assert_eq!(c.bolt_listen, "127.0.0.1:3");
        assert!(!c.fsync);
        assert_eq!(c.lock_timeout_ms, 5);
        assert_eq!(c.http_listen, Config::default().http_listen);
    }

    #[test]
    fn a_file_variable_supplies_a_secret() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("secret");
        std::fs::write(&file, "neo4j/s3cret\n").unwrap();
        let path = file.to_str().unwrap().to_owned();
        let env = |k: &str| (k == "CAUSEWAY_AUTH_FILE").then(|| path.clone());
        assert_eq!(Config::load(None, env, &[]).unwrap().auth, "neo4j/s3cret");
        let both = |k: &str| match k {
            "CAUSEWAY_AUTH_FILE" => Some(path.clone()),
            "CAUSEWAY_AUTH" => Some("neo4j/other".to_owned()),
            _ => None,
        };
        assert!(Config::load(None, both, &[]).is_err());
        let missing = |k: &str| (k == "CAUSEWAY_AUTH_FILE").then(|| "/no/such/file".to_owned());
        assert!(Config::load(None, missing, &[]).is_err());
    }

    #[test]
    fn advertised_addresses_never_name_an_unspecified_host() {
        let mut c = Config {
            bolt_listen: "0.0.0.0:7687".into(),
            http_listen: "127.0.0.1:7474".into(),
            ..Config::default()
        };
        let name = host_name().unwrap();
        assert_eq!(c.bolt_advertised(), format!("{name}:7687"));
        assert_eq!(c.http_advertised(), "127.0.0.1:7474");
        assert_eq!(c.routing_advertised(), c.bolt_advertised());
        c.advertised_host = "core1".into();
        c.bolt_advertised = "localhost:17687".into();
        assert_eq!(c.bolt_advertised(), "localhost:17687");
        assert_eq!(c.http_advertised(), "core1:7474");
        assert_eq!(c.cluster_advertised(), "core1:6000");
        c.routing_advertised = "core1:7687".into();
        assert_eq!(c.routing_advertised(), "core1:7687");
    }

    #[test]
    fn rejects_unknown_keys_and_bad_types() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("c.toml");
        std::fs::write(&file, "bolt_lisen = \"x\"\n").unwrap();
        assert!(Config::load(Some(&file), no_env, &[]).is_err());
        let env = |k: &str| (k == "CAUSEWAY_FSYNC").then(|| "maybe".to_owned());
        assert!(Config::load(None, env, &[]).is_err());
        assert!(Config::load(None, no_env, &[("auth", "nopassword".into())]).is_err());
    }
}
