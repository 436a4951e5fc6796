//! Procedures and SHOW commands answered by the server rather than by a
//! database's graph: components, routing tables, the list of databases.

use std::sync::Arc;

use causeway_cypher::ast::ShowKind;
use causeway_exec::{ProcedureSignature, SystemCatalog};
use causeway_replication::{Replicator, Role, Status};
use causeway_value::{Code, Error, Map, Result, Value};

use crate::db::{GraphState, DEFAULT_DB, SYSTEM_DB};

pub const NEO4J_VERSION: &str = "5.26.0";

/// How long a member may go without a leader before it stops offering
/// itself as a router: longer than an election takes (a leader lease of up
/// to 300 ms, then an election timeout of 150 to 300 ms with the default
/// timing; the early election after a crash is faster still).
pub const LEADERLESS_GRACE: std::time::Duration = std::time::Duration::from_millis(700);

pub struct Catalog {
    pub advertised_bolt: String,
    pub advertised_http: String,
    pub routing_ttl_secs: i64,
    /// List the leader among readers even when followers exist.
    pub read_from_leader: bool,
    /// `default_router = server`: tables name only this member.
    pub server_router: bool,
    /// A cluster member rather than a single server.
    pub clustered: bool,
    pub repl: Arc<Replicator<GraphState>>,
}

/// Who serves what, from this member's view of the group.
pub struct Routes {
    pub writers: Vec<String>,
    pub readers: Vec<String>,
    pub routers: Vec<String>,
}

/// How a member shows up in `SHOW SERVERS` and `dbms.cluster.overview()`.
pub fn server_id(node_id: u64) -> String {
    format!("{node_id:016x}")
}

type Rows = (Vec<String>, Vec<Vec<Value>>);

struct Proc {
    name: &'static str,
    inputs: &'static [(&'static str, &'static str)],
    outputs: &'static [(&'static str, &'static str)],
    description: &'static str,
    mode: &'static str,
}

const ROUTING_OUT: &[(&str, &str)] = &[("ttl", "INTEGER"), ("servers", "LIST<MAP>")];
const ROUTING_IN: &[(&str, &str)] = &[("context", "MAP"), ("database", "STRING? = null")];

const PROCEDURES: &[Proc] = &[
    Proc {
        name: "dbms.components",
        inputs: &[],
        outputs: &[
            ("name", "STRING"),
            ("versions", "LIST<STRING>"),
            ("edition", "STRING"),
        ],
        description: "List DBMS components and their versions.",
        mode: "DBMS",
    },
    Proc {
        name: "dbms.procedures",
        inputs: &[],
        outputs: &[
            ("name", "STRING"),
            ("signature", "STRING"),
            ("description", "STRING"),
            ("mode", "STRING"),
        ],
        description: "List all procedures in the DBMS.",
        mode: "DBMS",
    },
    Proc {
        name: "dbms.routing.getRoutingTable",
        inputs: ROUTING_IN,
        outputs: ROUTING_OUT,
        description: "Returns the advertised bolt capable endpoints for a given database.",
        mode: "DBMS",
    },
    Proc {
        name: "dbms.cluster.routing.getRoutingTable",
        inputs: ROUTING_IN,
        outputs: ROUTING_OUT,
        description: "Returns the advertised bolt capable endpoints for a given database.",
        mode: "DBMS",
    },
    Proc {
        name: "dbms.cluster.overview",
        inputs: &[],
        outputs: &[
            ("id", "STRING"),
            ("addresses", "LIST<STRING>"),
            ("groups", "LIST<STRING>"),
            ("databases", "MAP"),
        ],
        description:
            "Overview of all currently accessible cluster members, their databases and roles.",
        mode: "READ",
    },
    Proc {
        name: "dbms.cluster.role",
        inputs: &[("database", "STRING? = null")],
        outputs: &[("role", "STRING")],
        description: "The role of this member in the cluster for the given database.",
        mode: "READ",
    },
    Proc {
        name: "causeway.cluster.removeReplica",
        inputs: &[("serverId", "STRING")],
        outputs: &[("serverId", "STRING"), ("removed", "BOOLEAN")],
        description: "Removes a read replica (by its id in SHOW SERVERS) from the cluster; \
                      runs on the leader (a write-mode call on any member is routed there).",
        mode: "DBMS",
    },
    Proc {
        name: "db.ping",
        inputs: &[],
        outputs: &[("success", "BOOLEAN")],
        description: "Checks that the database is reachable.",
        mode: "READ",
    },
];

impl Catalog {
    fn find(&self, name: &str) -> Option<&'static Proc> {
        PROCEDURES
            .iter()
            .find(|p| p.name.eq_ignore_ascii_case(name))
    }

    fn routing_table(&self, args: &[Value]) -> Result<Rows> {
        database_arg(args.get(1))?;
        let home = matches!(args.get(1), None | Some(Value::Null));
        let routes = self.routes(home)?;
        let servers = [
            ("WRITE", routes.writers),
            ("READ", routes.readers),
            ("ROUTE", routes.routers),
        ]
        .into_iter()
        .map(|(role, addrs)| {
            let mut m = Map::new();
            m.insert(
                "addresses".into(),
                Value::List(addrs.into_iter().map(Value::String).collect()),
            );
            m.insert("role".into(), Value::from(role));
            Value::Map(m)
        })
        .collect();
        Ok((
            cols(&["ttl", "servers"]),
            vec![vec![
                Value::Int(self.routing_ttl_secs),
                Value::List(servers),
            ]],
        ))
    }

    /// With `default_router = server`, every role lists only this member.
    /// Otherwise WRITE lists the leader, and nobody while there is no writable leader
    /// (an election, or a leader that lost its majority); READ lists the
    /// followers and read replicas, and the leader only when it is alone or
    /// `read_from_leader` is set; ROUTE lists every core. Advertised Bolt
    /// addresses only.
    ///
    /// A member cut off from the leader for longer than an election takes
    /// ([`Catalog::cut_off`]) is no useful router: for a named database it
    /// refuses, so the driver asks the other routers it knows. A request
    /// naming no database is a driver resolving its home database, which it
    /// asks only of its first address; that gets an answer (the database's
    /// name), with this member left out of every role, so that the table
    /// the driver then keeps sends it to the other members.
    pub fn routes(&self, home_resolution: bool) -> Result<Routes> {
        // `default_router = server`: this member takes everything and
        // routes it itself.
        if !self.clustered || self.server_router {
            let me = vec![self.advertised_bolt.clone()];
            return Ok(Routes {
                writers: me.clone(),
                readers: me.clone(),
                routers: me,
            });
        }
        let st = self.status();
        let voters: Vec<_> = st.members.iter().filter(|m| m.voter).collect();
        if voters.is_empty() {
            // A member outside any cluster must not present itself as the
            // only router: the driver would stop asking the real members.
            return Err(Error::new(
                Code::DatabaseUnavailable,
                "This member has not joined a cluster yet; ask another member for routing.",
            ));
        }
        let leader = st
            .leader
            .and_then(|l| voters.iter().find(|m| m.node_id == l));
        // This member knows for sure only whether it can write itself; a
        // leader that lost its lease must not be advertised as writer.
        let leader_ok = match leader {
            Some(l) if l.node_id == st.node_id => st.writable,
            Some(_) => matches!(st.role, Role::Follower | Role::Learner),
            None => false,
        };
        let writers: Vec<String> = leader
            .filter(|_| leader_ok)
            .map(|l| vec![l.member.bolt.clone()])
            .unwrap_or_default();
        if writers.is_empty() && self.cut_off(&st) {
            let others: Vec<String> = st
                .members
                .iter()
                .filter(|m| m.node_id != st.node_id)
                .map(|m| m.member.bolt.clone())
                .collect();
            if !home_resolution || others.is_empty() {
                return Err(Error::new(
                    Code::DatabaseUnavailable,
                    "This member has no leader (it may be cut off from the majority); ask \
                     another member for routing.",
                ));
            }
            let routers = voters
                .iter()
                .filter(|m| m.node_id != st.node_id)
                .map(|m| m.member.bolt.clone())
                .collect::<Vec<_>>();
            return Ok(Routes {
                writers,
                routers: if routers.is_empty() {
                    others.clone()
                } else {
                    routers
                },
                readers: others,
            });
        }
        // Followers and read replicas (learners).
        let mut readers: Vec<String> = st
            .members
            .iter()
            .filter(|m| Some(m.node_id) != st.leader)
            .map(|m| m.member.bolt.clone())
            .collect();
        if readers.is_empty() || self.read_from_leader {
            readers.extend(writers.iter().cloned());
        }
        if readers.is_empty() {
            readers.push(self.advertised_bolt.clone());
        }
        let routers: Vec<String> = voters.iter().map(|m| m.member.bolt.clone()).collect();
        Ok(Routes {
            writers,
            readers,
            routers,
        })
    }

    /// Whether this member has gone without a leader for longer than an
    /// election lasts ([`LEADERLESS_GRACE`]): a leader that lost its lease
    /// has, by definition; a follower or candidate once it has heard no
    /// leader for that long (or never has).
    fn cut_off(&self, st: &Status) -> bool {
        if st.lease_lost {
            return true;
        }
        st.millis_since_leader
            .is_none_or(|ms| ms > LEADERLESS_GRACE.as_millis() as u64)
    }

    /// The routing table once this member knows a writer, waiting out an
    /// election for up to [`LEADERLESS_GRACE`]: a driver asking during one
    /// would otherwise get a table without a writer and retry after its
    /// back-off.
    pub async fn routes_when_led(&self, home_resolution: bool) -> Result<Routes> {
        let deadline = tokio::time::Instant::now() + LEADERLESS_GRACE;
        loop {
            let routes = self.routes(home_resolution)?;
            // A member cut off from any leader answers at once (see
            // `routes`): waiting would not bring one.
            if !routes.writers.is_empty()
                || tokio::time::Instant::now() >= deadline
                || (self.clustered && self.cut_off(&self.status()))
            {
                return Ok(routes);
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    }

    /// One `(name, address, http, role, writer, health, applied)` entry per
    /// member (a single server is a group of one).
    /// The group as Neo4j would present it: a leader that lost its
    /// majority has stepped down, so it is a follower with no known leader.
    fn status(&self) -> Status {
        let mut st = self.repl.status();
        if st.lease_lost {
            st.role = Role::Follower;
            st.leader = None;
        }
        st
    }

    fn members(&self) -> (Status, Vec<MemberRow>) {
        let st = self.status();
        let rows = st
            .members
            .iter()
            .map(|m| {
                let me = m.node_id == st.node_id;
                let is_leader = st.leader == Some(m.node_id);
                let role = if is_leader {
                    "LEADER"
                } else if !m.voter {
                    "READ_REPLICA"
                } else if me {
                    match st.role {
                        Role::Candidate => "CANDIDATE",
                        _ => "FOLLOWER",
                    }
                } else {
                    "FOLLOWER"
                };
                // Health that this member can vouch for: itself, the leader
                // it hears from, and (on the leader) members that keep up.
                let healthy = me
                    || (is_leader && matches!(st.role, Role::Follower | Role::Learner))
                    || (st.role == Role::Leader && m.matched.is_some());
                MemberRow {
                    id: server_id(m.node_id),
                    me,
                    bolt: if m.member.bolt.is_empty() {
                        self.advertised_bolt.clone()
                    } else {
                        m.member.bolt.clone()
                    },
                    http: if m.member.http.is_empty() {
                        self.advertised_http.clone()
                    } else {
                        m.member.http.clone()
                    },
                    role,
                    writer: is_leader && (!me || st.writable),
                    healthy,
                    applied: if me { Some(st.applied) } else { m.matched },
                }
            })
            .collect();
        (st, rows)
    }

    fn overview(&self) -> Rows {
        let (_, members) = self.members();
        let rows = members
            .into_iter()
            .map(|m| {
                let mut dbs = Map::new();
                dbs.insert(DEFAULT_DB.into(), Value::from(m.role));
                dbs.insert(SYSTEM_DB.into(), Value::from(m.role));
                vec![
                    Value::String(m.id),
                    Value::List(vec![
                        Value::String(format!("bolt://{}", m.bolt)),
                        Value::String(format!("http://{}", m.http)),
                    ]),
                    Value::List(vec![]),
                    Value::Map(dbs),
                ]
            })
            .collect();
        (cols(&["id", "addresses", "groups", "databases"]), rows)
    }

    fn remove_replica(&self, args: &[Value]) -> Result<Rows> {
        let id =
            match args.first() {
                Some(Value::String(s)) => s.clone(),
                _ => return Err(Error::new(
                    Code::ArgumentError,
                    "causeway.cluster.removeReplica needs a server id (a string from SHOW SERVERS)",
                )),
            };
        let st = self.repl.status();
        let Some(m) = st.members.iter().find(|m| server_id(m.node_id) == id) else {
            return Ok((
                cols(&["serverId", "removed"]),
                vec![vec![Value::String(id), Value::Bool(false)]],
            ));
        };
        let node_id = m.node_id;
        // Membership changes are asynchronous; procedures are not. The
        // statement runs on a multi-threaded runtime's worker, which may block.
        let repl = self.repl.clone();
        tokio::task::block_in_place(|| {
            tokio::runtime::Handle::current().block_on(repl.remove_replica(node_id))
        })?;
        Ok((
            cols(&["serverId", "removed"]),
            vec![vec![Value::String(id), Value::Bool(true)]],
        ))
    }

    fn role(&self, args: &[Value]) -> Result<Rows> {
        database_arg(args.first())?;
        let (_, members) = self.members();
        let role = members.iter().find(|m| m.me).map_or("UNKNOWN", |m| m.role);
        let role = if self.clustered { role } else { "PRIMARY" };
        Ok((cols(&["role"]), vec![vec![Value::from(role)]]))
    }

    fn servers(&self) -> Rows {
        let (_, members) = self.members();
        let rows = members
            .into_iter()
            .map(|m| {
                vec![
                    Value::String(m.id.clone()),
                    Value::String(m.id),
                    Value::String(m.bolt),
                    Value::String(m.http),
                    Value::from("Enabled"),
                    Value::from(if m.healthy {
                        "Available"
                    } else {
                        "Unavailable"
                    }),
                    Value::List(vec![Value::from(SYSTEM_DB), Value::from(DEFAULT_DB)]),
                    Value::List(vec![Value::from(SYSTEM_DB), Value::from(DEFAULT_DB)]),
                    Value::List(vec![]),
                    Value::from(if m.role == "READ_REPLICA" {
                        "SECONDARY"
                    } else {
                        "NONE"
                    }),
                    Value::from(NEO4J_VERSION),
                ]
            })
            .collect();
        (
            cols(&[
                "serverId",
                "name",
                "address",
                "httpAddress",
                "state",
                "health",
                "hosting",
                "requestedHosting",
                "tags",
                "modeConstraint",
                "version",
            ]),
            rows,
        )
    }

    fn databases(&self, only: Option<&str>) -> Result<Rows> {
        let columns = cols(&[
            "name",
            "type",
            "aliases",
            "access",
            "address",
            "role",
            "writer",
            "requestedStatus",
            "currentStatus",
            "statusMessage",
            "default",
            "home",
            "constituents",
            "serverID",
            "health",
            "lastCommittedTxn",
            "replicationLag",
        ]);
        let (st, members) = self.members();
        let leader_applied = members
            .iter()
            .find(|m| m.role == "LEADER")
            .and_then(|m| m.applied)
            .unwrap_or(st.committed);
        let mut rows = Vec::new();
        for name in [DEFAULT_DB, SYSTEM_DB] {
            if only.is_some_and(|o| o != name) {
                continue;
            }
            for m in &members {
                let is_default = name == DEFAULT_DB;
                rows.push(vec![
                    Value::from(name),
                    Value::from(if name == SYSTEM_DB {
                        "system"
                    } else {
                        "standard"
                    }),
                    Value::List(vec![]),
                    Value::from("read-write"),
                    Value::String(m.bolt.clone()),
                    Value::from(if m.role == "READ_REPLICA" {
                        "secondary"
                    } else {
                        "primary"
                    }),
                    Value::Bool(m.writer),
                    Value::from("online"),
                    Value::from(if m.healthy { "online" } else { "unknown" }),
                    Value::from(""),
                    Value::Bool(is_default),
                    Value::Bool(is_default),
                    Value::List(vec![]),
                    Value::String(m.id.clone()),
                    Value::from(if m.healthy {
                        "Available"
                    } else {
                        "Unavailable"
                    }),
                    m.applied.map_or(Value::Null, |a| Value::Int(a as i64)),
                    m.applied.map_or(Value::Null, |a| {
                        Value::Int(leader_applied.saturating_sub(a) as i64)
                    }),
                ]);
            }
        }
        if let Some(name) = only {
            if rows.is_empty() {
                return Err(database_not_found(name));
            }
        }
        Ok((columns, rows))
    }
}

/// A procedure's database argument: null means the default database;
/// names are case-insensitive, and only existing databases are accepted.
fn database_arg(arg: Option<&Value>) -> Result<String> {
    let db = match arg {
        None | Some(Value::Null) => DEFAULT_DB.to_owned(),
        Some(Value::String(s)) => s.to_lowercase(),
        Some(v) => {
            return Err(Error::new(
                Code::TypeError,
                format!("database must be a STRING, got {}", v.type_name()),
            ))
        }
    };
    if db != DEFAULT_DB && db != SYSTEM_DB {
        return Err(database_not_found(&db));
    }
    Ok(db)
}

struct MemberRow {
    id: String,
    /// The member answering.
    me: bool,
    bolt: String,
    http: String,
    role: &'static str,
    writer: bool,
    healthy: bool,
    applied: Option<u64>,
}

fn cols(names: &[&str]) -> Vec<String> {
    names.iter().map(|s| (*s).to_owned()).collect()
}

pub fn database_not_found(name: &str) -> Error {
    Error::new(
        Code::DatabaseNotFound,
        format!("Database does not exist. Database name: '{name}'."),
    )
}

impl SystemCatalog for Catalog {
    fn procedure_signature(&self, name: &str) -> Option<ProcedureSignature> {
        let p = self.find(name)?;
        let pairs = |v: &[(&str, &str)]| {
            v.iter()
                .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
                .collect()
        };
        Some(ProcedureSignature {
            name: p.name.to_owned(),
            inputs: pairs(p.inputs),
            outputs: pairs(p.outputs),
        })
    }

    fn call_procedure(&self, name: &str, args: &[Value]) -> Option<Result<Rows>> {
        let p = self.find(name)?;
        Some(match p.name {
            "dbms.components" => Ok((
                cols(&["name", "versions", "edition"]),
                vec![vec![
                    Value::from("Neo4j Kernel"),
                    Value::List(vec![Value::from(NEO4J_VERSION)]),
                    Value::from("enterprise"),
                ]],
            )),
            "dbms.procedures" => Ok((
                cols(&["name", "signature", "description", "mode"]),
                all_procedures()
                    .into_iter()
                    .map(|p| {
                        let signature = signature_text(&p.sig);
                        vec![
                            Value::String(p.sig.name),
                            Value::String(signature),
                            Value::from(p.description),
                            Value::from(p.mode),
                        ]
                    })
                    .collect(),
            )),
            "dbms.routing.getRoutingTable" | "dbms.cluster.routing.getRoutingTable" => {
                self.routing_table(args)
            }
            "db.ping" => Ok((cols(&["success"]), vec![vec![Value::Bool(true)]])),
            "dbms.cluster.overview" => Ok(self.overview()),
            "dbms.cluster.role" => self.role(args),
            "causeway.cluster.removeReplica" => self.remove_replica(args),
            _ => return None,
        })
    }

    fn show(&self, kind: &ShowKind) -> Option<Result<Rows>> {
        Some(match kind {
            ShowKind::Databases(name) => self.databases(name.as_deref()),
            ShowKind::DefaultDatabase | ShowKind::HomeDatabase => self.databases(Some(DEFAULT_DB)),
            ShowKind::Servers => Ok(self.servers()),
            // Neo4j 5's columns; without YIELD only the first four show.
            ShowKind::Procedures => Ok((
                cols(&[
                    "name",
                    "description",
                    "mode",
                    "worksOnSystem",
                    "signature",
                    "argumentDescription",
                    "returnDescription",
                    "admin",
                    "rolesExecution",
                    "rolesBoostedExecution",
                    "isDeprecated",
                    "deprecatedBy",
                    "option",
                ]),
                all_procedures()
                    .into_iter()
                    .map(|p| {
                        let described = |v: &[(String, String)]| {
                            Value::List(
                                v.iter()
                                    .map(|(n, t)| {
                                        let (ty, _) = split_default(t);
                                        Value::Map(
                                            [
                                                ("name", Value::from(n.as_str())),
                                                ("type", Value::from(ty)),
                                                (
                                                    "description",
                                                    Value::from(format!("{n} :: {ty}")),
                                                ),
                                                ("isDeprecated", Value::Bool(false)),
                                            ]
                                            .into_iter()
                                            .map(|(k, v)| (k.to_owned(), v))
                                            .collect(),
                                        )
                                    })
                                    .collect(),
                            )
                        };
                        vec![
                            Value::from(p.sig.name.as_str()),
                            Value::from(p.description),
                            Value::from(p.mode),
                            Value::Bool(p.mode == "DBMS"),
                            Value::String(signature_text(&p.sig)),
                            described(&p.sig.inputs),
                            described(&p.sig.outputs),
                            Value::Bool(false),
                            Value::Null,
                            Value::Null,
                            Value::Bool(false),
                            Value::Null,
                            Value::Map(
                                [("deprecated".to_owned(), Value::Bool(false))]
                                    .into_iter()
                                    .collect(),
                            ),
                        ]
                    })
                    .collect(),
            )),
            _ => return None,
        })
    }
}

struct ProcedureInfo {
    sig: ProcedureSignature,
    description: &'static str,
    mode: &'static str,
}

/// Every procedure: the server's own and those the query engine
/// implements, sorted by name.
fn all_procedures() -> Vec<ProcedureInfo> {
    let own = PROCEDURES.iter().map(|p| {
        let pairs = |v: &[(&str, &str)]| {
            v.iter()
                .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
                .collect()
        };
        let sig = ProcedureSignature {
            name: p.name.to_owned(),
            inputs: pairs(p.inputs),
            outputs: pairs(p.outputs),
        };
        ProcedureInfo {
            sig,
            description: p.description,
            mode: p.mode,
        }
    });
    let engine = causeway_exec::builtin_procedures().into_iter().map(|sig| {
        let (description, mode) =
            causeway_exec::builtin_procedure_info(&sig.name).unwrap_or(("", "READ"));
        ProcedureInfo {
            sig,
            description,
            mode,
        }
    });
    let mut all: Vec<_> = own.chain(engine).collect();
    all.sort_by(|a, b| a.sig.name.cmp(&b.sig.name));
    all
}

/// A declared type and its default: `MAP = {}` is `("MAP", Some("{}"))`.
fn split_default(t: &str) -> (&str, Option<&str>) {
    match t.split_once(" = ") {
        Some((ty, default)) => (ty, Some(default)),
        None => (t, None),
    }
}

/// Neo4j's signature text: `name(arg = default :: TYPE, ...) :: (col :: TYPE, ...)`.
fn signature_text(p: &ProcedureSignature) -> String {
    let list = |v: &[(String, String)]| {
        v.iter()
            .map(|(n, t)| match split_default(t) {
                (ty, Some(default)) => format!("{n} = {default} :: {ty}"),
                (ty, None) => format!("{n} :: {ty}"),
            })
            .collect::<Vec<_>>()
            .join(", ")
    };
    format!("{}({}) :: ({})", p.name, list(&p.inputs), list(&p.outputs))
}
