//! Procedures and SHOW commands answered by the server rather than by a
//! database's graph: components, routing tables, the list of databases.

use causeway_cypher::ast::ShowKind;
use causeway_exec::{ProcedureSignature, SystemCatalog};
use causeway_value::{Code, Error, Map, Result, Value};

use crate::db::{DEFAULT_DB, SYSTEM_DB};

pub const NEO4J_VERSION: &str = "5.26.0";

pub struct Catalog {
    pub advertised_bolt: String,
    pub routing_ttl_secs: i64,
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
        let db = match args.get(1) {
            None | Some(Value::Null) => DEFAULT_DB.to_owned(),
            Some(Value::String(s)) => s.clone(),
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
        let servers = ["WRITE", "READ", "ROUTE"]
            .iter()
            .map(|role| {
                let mut m = Map::new();
                m.insert(
                    "addresses".into(),
                    Value::List(vec![Value::String(self.advertised_bolt.clone())]),
                );
                m.insert("role".into(), Value::from(*role));
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
        ]);
        let rows = [DEFAULT_DB, SYSTEM_DB]
            .iter()
            .filter(|name| only.is_none_or(|o| o == **name))
            .map(|name| {
                let is_default = *name == DEFAULT_DB;
                vec![
                    Value::from(*name),
                    Value::from(if *name == SYSTEM_DB {
                        "system"
                    } else {
                        "standard"
                    }),
                    Value::List(vec![]),
                    Value::from("read-write"),
                    Value::String(self.advertised_bolt.clone()),
                    Value::from("primary"),
                    Value::Bool(true),
                    Value::from("online"),
                    Value::from("online"),
                    Value::from(""),
                    Value::Bool(is_default),
                    Value::Bool(is_default),
                    Value::List(vec![]),
                ]
            })
            .collect::<Vec<_>>();
        if let Some(name) = only {
            if rows.is_empty() {
                return Err(database_not_found(name));
            }
        }
        Ok((columns, rows))
    }
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
                    .map(|(name, signature, description, mode)| {
                        vec![
                            Value::String(name),
                            Value::String(signature),
                            Value::from(description),
                            Value::from(mode),
                        ]
                    })
                    .collect(),
            )),
            "dbms.routing.getRoutingTable" | "dbms.cluster.routing.getRoutingTable" => {
                self.routing_table(args)
            }
            "db.ping" => Ok((cols(&["success"]), vec![vec![Value::Bool(true)]])),
            _ => return None,
        })
    }

    fn show(&self, kind: &ShowKind) -> Option<Result<Rows>> {
        Some(match kind {
            ShowKind::Databases(name) => self.databases(name.as_deref()),
            ShowKind::DefaultDatabase | ShowKind::HomeDatabase => self.databases(Some(DEFAULT_DB)),
            ShowKind::Procedures => Ok((
                cols(&["name", "description", "mode", "worksOnSystem"]),
                all_procedures()
                    .into_iter()
                    .map(|(name, _, description, mode)| {
                        vec![
                            Value::String(name),
                            Value::from(description),
                            Value::from(mode),
                            Value::Bool(mode == "DBMS"),
                        ]
                    })
                    .collect(),
            )),
            _ => return None,
        })
    }
}

/// `(name, signature, description, mode)` of every procedure: the server's
/// own and those the query engine implements, sorted by name.
fn all_procedures() -> Vec<(String, String, &'static str, &'static str)> {
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
        (
            p.name.to_owned(),
            signature_text(&sig),
            p.description,
            p.mode,
        )
    });
    let engine = causeway_exec::builtin_procedures().into_iter().map(|sig| {
        let text = signature_text(&sig);
        (
            sig.name,
            text,
            "Lists the schema tokens of the current database.",
            "READ",
        )
    });
    let mut all: Vec<_> = own.chain(engine).collect();
    all.sort_by(|a, b| a.0.cmp(&b.0));
    all
}

fn signature_text(p: &ProcedureSignature) -> String {
    let list = |v: &[(String, String)]| {
        v.iter()
            .map(|(n, t)| format!("{n} :: {t}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    format!("{}({}) :: ({})", p.name, list(&p.inputs), list(&p.outputs))
}
