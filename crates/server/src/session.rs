//! The Bolt backend: authenticates connections and maps Bolt requests onto
//! databases and transactions.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use causeway_bolt::backend::{
    AccessMode, AuthToken, Backend, BeginRequest, CommitInfo, RouteRequest, RoutingTable,
    RunResult, Session,
};
use causeway_bolt::client::Stream;
use causeway_exec::StatementClass;
use causeway_value::{Code, Counters, Error, Map, QueryType, Value};

use crate::admin::Caller;
use crate::auth::Door;
use crate::catalog::{database_not_found, Catalog};
use crate::db::{Database, Mode, Transaction, DEFAULT_DB};
use crate::forward::{Digest, Forwarder, RemoteTx, ROUTED_MARK};

/// The pause before an auto-commit write that this member refused with
/// `NotALeader` is routed again.
const REROUTE_PAUSE: std::time::Duration = std::time::Duration::from_millis(50);

pub struct Shared {
    /// Every login passes here, Bolt's and HTTP's alike.
    pub door: Arc<Door>,
    pub databases: HashMap<String, Arc<Database>>,
    pub catalog: Arc<Catalog>,
    /// Server-side routing of write transactions to the leader (cluster
    /// members with `server_side_routing` on).
    pub forwarder: Option<Arc<Forwarder>>,
}

impl Shared {
    /// Every bookmark must name a database this member hosts: one that
    /// names no database or another one cannot be honoured, and ignoring it
    /// would silently break read-your-writes.
    pub fn check_bookmarks(&self, bookmarks: &[String]) -> Result<(), Error> {
        for b in bookmarks {
            let db = crate::db::bookmark_database(b)?;
            if !self.databases.contains_key(&db.to_lowercase()) {
                return Err(Error::new(
                    Code::InvalidBookmark,
                    format!(
                        "Supplied bookmark '{b}' refers to database '{db}', which does not exist."
                    ),
                ));
            }
        }
        Ok(())
    }

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
    /// The client's credentials, which a routed transaction presents to the
    /// leader.
    token: AuthToken,
    /// The connection comes from another member routing to us: never route
    /// it onwards.
    routed: bool,
    /// The authenticated user (`None` with authentication off).
    user: Option<String>,
    /// The id the user had at login: a user dropped and made again under
    /// the same name is another user, and this session is not theirs.
    user_id: Option<u64>,
}

pub enum BoltTx {
    Local {
        db: Arc<Database>,
        tx: Transaction,
    },
    /// An auto-commit query whose route is chosen when its text is known.
    Pending(BeginRequest),
    Remote(RemoteTx),
    /// A routed auto-commit query, already committed on the leader.
    Committed {
        bookmark: String,
        db: String,
    },
}

impl Backend for BoltBackend {
    type Session = BoltSession;

    async fn authenticate(
        &self,
        token: &AuthToken,
        peer: SocketAddr,
    ) -> Result<BoltSession, Error> {
        let user = self.0.door.admit(token).await;
        match user {
            Ok(user) => {
                tracing::debug!(%peer, %user, "authenticated");
                Ok(BoltSession {
                    shared: self.0.clone(),
                    routed: token.extra.contains_key(ROUTED_MARK),
                    token: token.clone(),
                    user_id: self.0.door.auth().user_id(&user),
                    user: Some(user),
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

impl BoltSession {
    /// A session for one HTTP request, with the request's credentials.
    pub fn for_http(shared: Arc<Shared>, token: AuthToken) -> BoltSession {
        // Each HTTP request logs in anew, so the user is the current one.
        let user_id = token
            .principal
            .as_deref()
            .and_then(|u| shared.door.auth().user_id(u));
        BoltSession {
            shared,
            user: token.principal.clone(),
            user_id,
            token,
            routed: false,
        }
    }

    /// Who runs this session's transactions, with their privileges now.
    fn caller(&self) -> Caller {
        Caller::resolve(self.shared.door.auth(), self.user.as_deref(), self.user_id)
    }

    /// The member that should run a transaction: write-mode transactions
    /// of a replicated database go to the leader, unless routing is off
    /// or this connection was itself routed here.
    fn forwarder(&self, req: &BeginRequest, db: &Database) -> Option<&Arc<Forwarder>> {
        let routes = req.mode == AccessMode::Write && !self.routed && db.is_replicated();
        self.shared.forwarder.as_ref().filter(|_| routes)
    }

    /// The forwarder, for a transaction that is already routed.
    fn routing(&self) -> Result<&Forwarder, Error> {
        self.shared
            .forwarder
            .as_deref()
            .ok_or_else(|| Error::new(Code::Unknown, "server-side routing is off"))
    }

    /// Runs a routed transaction that was cut off when this member became
    /// the leader again here: its statements in order, each of whose
    /// results must digest exactly as what the client was already sent
    /// (as [`Forwarder`]'s replay on another member does). `None` when they
    /// differ or the record outgrew its bound; the client then gets the
    /// retryable error it would have had without replay.
    async fn replay_here(&self, remote: &RemoteTx) -> Option<(Arc<Database>, Transaction)> {
        let record = remote.replay_record()?;
        let db = self.shared.database(Some(&remote.db)).ok()?;
        let mut tx = Self::begin_local(&db, remote.request(), self.caller())
            .await
            .ok()?;
        for (query, params, expected) in record {
            let r = db.run(&mut tx, query, params).await.ok()?;
            // Digested row by row: a result that differs may be any size.
            let mut digest = Digest::new(&r.fields, &r.counters);
            for row in r.rows {
                digest.record(&row.ok()?);
            }
            if digest.finish() != *expected {
                return None;
            }
        }
        tracing::info!(
            statements = record.len(),
            "replayed a routed transaction here, the new leader"
        );
        Some((db, tx))
    }

    async fn begin_local(
        db: &Database,
        req: &BeginRequest,
        caller: Caller,
    ) -> Result<Transaction, Error> {
        let mode = match req.mode {
            AccessMode::Read => Mode::Read,
            AccessMode::Write => Mode::Write,
        };
        db.begin(
            mode,
            !req.auto_commit,
            &req.bookmarks,
            req.tx_timeout,
            req.forward,
            caller,
        )
        .await
    }
}

fn run_result(result: causeway_exec::QueryResult, query: &str, db: &Database) -> RunResult {
    RunResult {
        fields: result.fields,
        rows: result.rows,
        query_type: result.query_type,
        counters: result.counters,
        profile: result.plan.is_some() && is_profile(query),
        plan: result.plan,
        db: db.name.clone(),
    }
}

/// A routed query's result, as if it had run here.
fn routed_result(stream: Stream, query: &str, db: &str) -> RunResult {
    let s = &stream.summary;
    let plan = match s.get("profile").or(s.get("plan")) {
        Some(Value::Map(m)) => Some(m.clone()),
        _ => None,
    };
    RunResult {
        query_type: match s.get("type") {
            Some(Value::String(t)) => QueryType::from_name(t).unwrap_or(QueryType::Read),
            _ => QueryType::Read,
        },
        counters: match s.get("stats") {
            Some(Value::Map(m)) => Counters::from_stats(m),
            _ => Counters::default(),
        },
        profile: s.contains_key("profile") || (plan.is_some() && is_profile(query)),
        plan,
        db: match s.get("db") {
            Some(Value::String(d)) => d.clone(),
            _ => db.to_owned(),
        },
        fields: stream.fields,
        rows: Box::new(stream.records.into_iter().map(Ok)),
    }
}

/// Impersonation (`impersonated_user` in the drivers) would run a
/// transaction with another user's rights; Causeway does not grant the
/// IMPERSONATE privilege, so it refuses rather than run with the login's.
fn refuse_impersonation(imp_user: Option<&str>) -> Result<(), Error> {
    match imp_user {
        Some(u) if !u.is_empty() => Err(Error::new(
            Code::Forbidden,
            format!(
                "Impersonating user '{}' is not supported by this server.",
                u.chars().take(64).collect::<String>()
            ),
        )),
        _ => Ok(()),
    }
}

/// Auto-commit statements a member answers about itself rather than routing
/// them: read-only cluster and routing procedures, and SHOW commands. One
/// that does not parse is sent on, to be refused where it runs.
fn answered_here(query: &str) -> bool {
    causeway_exec::statement_info(query).is_ok_and(|i| i.answered_here)
}

fn is_profile(query: &str) -> bool {
    causeway_exec::statement_info(query).is_ok_and(|i| i.profile)
}

impl Session for BoltSession {
    type Tx = BoltTx;

    async fn begin(&mut self, mut req: BeginRequest) -> Result<BoltTx, Error> {
        refuse_impersonation(req.imp_user.as_deref())?;
        let db = self.shared.database(req.db.as_deref())?;
        self.shared.check_bookmarks(&req.bookmarks)?;
        // From here on the database is named, so that every bookmark made
        // for this transaction, here or on the leader it is routed to,
        // carries the resolved name.
        req.db = Some(db.name.clone());
        if let Some(fw) = self.forwarder(&req, &db) {
            if req.auto_commit {
                return Ok(BoltTx::Pending(req));
            }
            if let Some(remote) = fw.begin(&req, &self.token).await? {
                return Ok(BoltTx::Remote(remote));
            }
        }
        let tx = Self::begin_local(&db, &req, self.caller()).await?;
        Ok(BoltTx::Local { db, tx })
    }

    async fn run(
        &mut self,
        tx: &mut BoltTx,
        query: String,
        params: Map,
    ) -> Result<RunResult, Error> {
        match tx {
            BoltTx::Local { db, tx } => {
                let result = db.run(tx, &query, &params).await?;
                Ok(run_result(result, &query, db))
            }
            BoltTx::Pending(req) => {
                let req = req.clone();
                let db = self.shared.database(req.db.as_deref())?;
                let fw = self.forwarder(&req, &db).filter(|_| !answered_here(&query));
                let deadline = tokio::time::Instant::now() + crate::forward::LEADER_WAIT;
                loop {
                    if let Some(fw) = fw {
                        let routed = match fw.auto_commit(&req, &self.token, &query, &params).await
                        {
                            Ok(r) => r,
                            // Without a leader (an election, or a minority
                            // partition) reads are still served here.
                            Err(e)
                                if matches!(e.code, Code::NotALeader | Code::NoLeader)
                                    && causeway_exec::classify(&query)
                                        .is_ok_and(|c| c == StatementClass::Read) =>
                            {
                                None
                            }
                            Err(e) => return Err(e),
                        };
                        if let Some(routed) = routed {
                            let result = routed_result(routed.stream, &query, &db.name);
                            *tx = BoltTx::Committed {
                                bookmark: routed.bookmark.unwrap_or_else(|| db.bookmark(0)),
                                db: result.db.clone(),
                            };
                            return Ok(result);
                        }
                    }
                    let mut local = Self::begin_local(&db, &req, self.caller()).await?;
                    let result = db.run(&mut local, &query, &params).await;
                    // Leadership moved between choosing this member and
                    // writing: nothing was applied, so route it again, after
                    // a pause that lets an election or a late heartbeat
                    // answer settle it.
                    if fw.is_some()
                        && tokio::time::Instant::now() < deadline
                        && matches!(&result, Err(e) if e.code == Code::NotALeader)
                    {
                        tokio::time::sleep(REROUTE_PAUSE).await;
                        continue;
                    }
                    let out = result.map(|r| run_result(r, &query, &db));
                    *tx = BoltTx::Local { db, tx: local };
                    return out;
                }
            }
            BoltTx::Remote(remote) => {
                let routed = self
                    .routing()?
                    .run_statement(remote, &self.token, &query, &params)
                    .await;
                match routed {
                    Ok(stream) => Ok(routed_result(stream, &query, &remote.db)),
                    Err(e) if remote.led_here => {
                        let Some((db, mut local)) = self.replay_here(remote).await else {
                            return Err(e);
                        };
                        let out = db
                            .run(&mut local, &query, &params)
                            .await
                            .map(|r| run_result(r, &query, &db));
                        *tx = BoltTx::Local { db, tx: local };
                        out
                    }
                    Err(e) => Err(e),
                }
            }
            BoltTx::Committed { .. } => Err(Error::new(
                Code::RequestInvalid,
                "An auto-commit transaction runs one query.",
            )),
        }
    }

    async fn commit(&mut self, tx: BoltTx) -> Result<CommitInfo, Error> {
        match tx {
            BoltTx::Local { db, tx } => {
                let bookmark = db.commit(tx).await?;
                Ok(CommitInfo {
                    bookmark,
                    db: db.name.clone(),
                })
            }
            BoltTx::Pending(req) => {
                let db = self.shared.database(req.db.as_deref())?;
                Ok(CommitInfo {
                    bookmark: db.bookmark(db.applied_index()),
                    db: db.name.clone(),
                })
            }
            BoltTx::Remote(mut remote) => {
                let db = remote.db.clone();
                match self.routing()?.commit(&mut remote, &self.token).await {
                    Ok(bookmark) => Ok(CommitInfo { bookmark, db }),
                    Err(e) if remote.led_here => {
                        let Some((db, local)) = self.replay_here(&remote).await else {
                            return Err(e);
                        };
                        let bookmark = db.commit(local).await?;
                        Ok(CommitInfo {
                            bookmark,
                            db: db.name.clone(),
                        })
                    }
                    Err(e) => Err(e),
                }
            }
            BoltTx::Committed { bookmark, db } => Ok(CommitInfo { bookmark, db }),
        }
    }

    async fn rollback(&mut self, tx: BoltTx) {
        if let BoltTx::Remote(remote) = tx {
            if let Some(fw) = &self.shared.forwarder {
                fw.rollback(remote).await;
            }
        }
    }

    fn credentials_expired(&self) -> bool {
        self.caller().expired
    }

    async fn route(&mut self, req: RouteRequest) -> Result<RoutingTable, Error> {
        refuse_impersonation(req.imp_user.as_deref())?;
        let db = self.shared.database(req.db.as_deref())?;
        self.shared.check_bookmarks(&req.bookmarks)?;
        let routes = self
            .shared
            .catalog
            .routes_when_led(req.db.is_none())
            .await?;
        Ok(RoutingTable {
            ttl_secs: self.shared.catalog.routing_ttl_secs,
            db: db.name.clone(),
            routers: routes.routers,
            readers: routes.readers,
            writers: routes.writers,
        })
    }
}
