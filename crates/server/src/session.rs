//! The Bolt backend: authenticates connections and maps Bolt requests onto
//! databases and transactions.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use causeway_bolt::backend::{
    AccessMode, AuthToken, Backend, BeginRequest, CommitInfo, RouteRequest, RoutingTable,
    RunResult, Session,
};
use causeway_value::{Code, Error, Map};

use crate::auth::Auth;
use crate::catalog::{database_not_found, Catalog};
use crate::db::{Database, Mode, Transaction, DEFAULT_DB};

pub struct Shared {
    pub auth: Arc<Auth>,
    /// Password checks allowed to run at once. Each argon2 check takes
    /// about 19 MiB and a core for tens of milliseconds; without a bound, a
    /// flood of logins could exhaust memory.
    pub auth_slots: tokio::sync::Semaphore,
    pub databases: HashMap<String, Arc<Database>>,
    pub catalog: Arc<Catalog>,
}

impl Shared {
    pub fn database(&self, name: Option<&str>) -> Result<Arc<Database>, Error> {
        let name = match name {
            None | Some("") => DEFAULT_DB,
            Some(n) => n,
        };
        // Neo4j database names are case-insensitive.
        self.databases
            .get(&name.to_lowercase())
            .cloned()
            .ok_or_else(|| database_not_found(name))
    }
}

#[derive(Clone)]
pub struct BoltBackend(pub Arc<Shared>);

pub struct BoltSession {
    shared: Arc<Shared>,
}

pub struct BoltTx {
    db: Arc<Database>,
    tx: Transaction,
}

impl Backend for BoltBackend {
    type Session = BoltSession;

    async fn authenticate(
        &self,
        token: &AuthToken,
        peer: SocketAddr,
    ) -> Result<BoltSession, Error> {
        let auth = self.0.auth.clone();
        let (scheme, principal, credentials) = (
            token.scheme.clone(),
            token.principal.clone(),
            token.credentials.clone(),
        );
        let _slot = self
            .0
            .auth_slots
            .acquire()
            .await
            .map_err(|_| Error::new(Code::Unknown, "the server is shutting down"))?;
        // Password hashing is deliberately slow; keep it off the async workers.
        let user = tokio::task::spawn_blocking(move || {
            auth.authenticate(&scheme, principal.as_deref(), credentials.as_deref())
        })
        .await
        .map_err(|e| Error::new(Code::Unknown, format!("authentication task failed: {e}")))?;
        match user {
            Ok(user) => {
                tracing::debug!(%peer, %user, "authenticated");
                Ok(BoltSession {
                    shared: self.0.clone(),
                })
            }
            Err(e) => {
                // Names are attacker-controlled: log a bounded prefix.
                let user: String = token
                    .principal
                    .as_deref()
                    .unwrap_or("")
                    .chars()
                    .take(64)
                    .collect();
                tracing::info!(%peer, %user, code = e.code.as_str(), "authentication failed");
                Err(e)
            }
        }
    }

    fn server_agent(&self) -> String {
        format!("Causeway/{}", env!("CARGO_PKG_VERSION"))
    }
}

impl Session for BoltSession {
    type Tx = BoltTx;

    async fn begin(&mut self, req: BeginRequest) -> Result<BoltTx, Error> {
        let db = self.shared.database(req.db.as_deref())?;
        let mode = match req.mode {
            AccessMode::Read => Mode::Read,
            AccessMode::Write => Mode::Write,
        };
        let tx = db
            .begin(mode, !req.auto_commit, &req.bookmarks, req.tx_timeout)
            .await?;
        Ok(BoltTx { db, tx })
    }

    async fn run(
        &mut self,
        tx: &mut BoltTx,
        query: String,
        params: Map,
    ) -> Result<RunResult, Error> {
        let result = tx.db.run(&mut tx.tx, &query, &params).await?;
        Ok(RunResult {
            fields: result.fields,
            rows: result.rows,
            query_type: result.query_type,
            counters: result.counters,
            profile: result.plan.is_some() && starts_with_keyword(&query, "PROFILE"),
            plan: result.plan,
            db: tx.db.name.clone(),
        })
    }

    async fn commit(&mut self, tx: BoltTx) -> Result<CommitInfo, Error> {
        let bookmark = tx.db.commit(tx.tx).await?;
        Ok(CommitInfo {
            bookmark,
            db: tx.db.name.clone(),
        })
    }

    async fn rollback(&mut self, tx: BoltTx) {
        drop(tx);
    }

    async fn route(&mut self, req: RouteRequest) -> Result<RoutingTable, Error> {
        let db = self.shared.database(req.db.as_deref())?;
        let routes = self.shared.catalog.routes()?;
        Ok(RoutingTable {
            ttl_secs: self.shared.catalog.routing_ttl_secs,
            db: db.name.clone(),
            routers: routes.routers,
            readers: routes.readers,
            writers: routes.writers,
        })
    }
}

fn starts_with_keyword(query: &str, keyword: &str) -> bool {
    let q = query.trim_start();
    q.len() >= keyword.len()
        && q.is_char_boundary(keyword.len())
        && q[..keyword.len()].eq_ignore_ascii_case(keyword)
        && q[keyword.len()..].starts_with(|c: char| c.is_whitespace())
}
