//! Procedure calls, SHOW commands and compile-time checks of calls and
//! function names.

use crate::eval::{eval, eval_pred, is_aggregate_name, walk, Ctx};
use crate::exec::{collect_rows, from_vec, RowIter, Runner};
use crate::functions::KNOWN;
use crate::val::*;
use crate::{ProcedureSignature, SystemCatalog};
use causeway_cypher::ast::*;
use causeway_graph::{ConstraintType, EntityType, Graph, IndexType, TxGraph};
use causeway_value::{Code, Error, Result, Value};

/// A procedure this crate implements itself.
pub struct Builtin {
    pub name: &'static str,
    pub inputs: &'static [(&'static str, &'static str)],
    pub outputs: &'static [(&'static str, &'static str)],
    /// `READ` or `WRITE`, as SHOW PROCEDURES lists it; a statement calling
    /// a WRITE procedure is a write.
    pub mode: &'static str,
    pub description: &'static str,
}

const VECTOR_QUERY_INPUTS: &[(&str, &str)] = &[
    ("indexName", "STRING"),
    ("numberOfNearestNeighbours", "INTEGER"),
    ("query", "ANY"),
];

const FULLTEXT_QUERY_INPUTS: &[(&str, &str)] = &[
    ("indexName", "STRING"),
    ("queryString", "STRING"),
    ("options", "MAP = {}"),
];

pub const BUILTINS: &[Builtin] = &[
    Builtin {
        name: "db.labels",
        inputs: &[],
        outputs: &[("label", "STRING?")],
        mode: "READ",
        description: "List all labels attached to nodes within a database.",
    },
    Builtin {
        name: "db.relationshipTypes",
        inputs: &[],
        outputs: &[("relationshipType", "STRING?")],
        mode: "READ",
        description: "List all types attached to relationships within a database.",
    },
    Builtin {
        name: "db.propertyKeys",
        inputs: &[],
        outputs: &[("propertyKey", "STRING?")],
        mode: "READ",
        description: "List all property keys in the database.",
    },
    Builtin {
        name: "db.schema.nodeTypeProperties",
        inputs: &[],
        outputs: &[
            ("nodeType", "STRING"),
            ("nodeLabels", "LIST<STRING>"),
            ("propertyName", "STRING"),
            ("propertyTypes", "LIST<STRING>"),
            ("mandatory", "BOOLEAN"),
        ],
        mode: "READ",
        description: "Show the derived property schema of the nodes in tabular form.",
    },
    Builtin {
        name: "db.schema.relTypeProperties",
        inputs: &[],
        outputs: &[
            ("relType", "STRING"),
            ("propertyName", "STRING"),
            ("propertyTypes", "LIST<STRING>"),
            ("mandatory", "BOOLEAN"),
        ],
        mode: "READ",
        description: "Show the derived property schema of the relationships in tabular form.",
    },
    Builtin {
        name: "apoc.meta.data",
        inputs: &[("config", "MAP = {}")],
        outputs: &[
            ("label", "STRING"),
            ("property", "STRING"),
            ("count", "INTEGER"),
            ("unique", "BOOLEAN"),
            ("index", "BOOLEAN"),
            ("existence", "BOOLEAN"),
            ("type", "STRING"),
            ("array", "BOOLEAN"),
            ("sample", "LIST<ANY>"),
            ("left", "INTEGER"),
            ("right", "INTEGER"),
            ("other", "LIST<STRING>"),
            ("otherLabels", "LIST<STRING>"),
            ("elementType", "STRING"),
        ],
        mode: "READ",
        description: "Examines the full graph and returns a table of metadata.",
    },
    Builtin {
        name: "apoc.meta.schema",
        inputs: &[("config", "MAP = {}")],
        outputs: &[("value", "MAP")],
        mode: "READ",
        description: "Returns the metadata for the labels, relationship types and properties.",
    },
    Builtin {
        name: "apoc.schema.nodes",
        inputs: &[("config", "MAP = {}")],
        outputs: &[
            ("name", "STRING"),
            ("label", "ANY"),
            ("properties", "LIST<STRING>"),
            ("status", "STRING"),
            ("type", "STRING"),
            ("failure", "STRING"),
            ("populationProgress", "FLOAT"),
            ("size", "INTEGER"),
            ("valuesSelectivity", "FLOAT"),
            ("userDescription", "STRING"),
        ],
        mode: "SCHEMA",
        description: "Returns all indexes and constraints information for all node labels in the database.",
    },
    Builtin {
        name: "apoc.schema.relationships",
        inputs: &[("config", "MAP = {}")],
        outputs: &[
            ("name", "STRING"),
            ("type", "STRING"),
            ("properties", "LIST<STRING>"),
            ("status", "STRING"),
            ("relationshipType", "ANY"),
        ],
        mode: "SCHEMA",
        description: "Returns the indexes and constraints information for all the relationship types in the database.",
    },
    Builtin {
        name: "apoc.meta.graph",
        inputs: &[("config", "MAP = {}")],
        outputs: &[("nodes", "LIST<NODE>"), ("relationships", "LIST<RELATIONSHIP>")],
        mode: "READ",
        description: "Examines the full graph and returns a meta-graph.",
    },
    Builtin {
        name: "apoc.meta.subGraph",
        inputs: &[("config", "MAP")],
        outputs: &[("nodes", "LIST<NODE>"), ("relationships", "LIST<RELATIONSHIP>")],
        mode: "READ",
        description: "Examines a sub-graph and returns a meta-graph.",
    },
    Builtin {
        name: "apoc.schema.properties.distinct",
        inputs: &[("label", "STRING"), ("key", "STRING")],
        outputs: &[("value", "LIST<ANY>")],
        mode: "READ",
        description: "Returns all distinct node property values for the given key.",
    },
    Builtin {
        name: "apoc.periodic.iterate",
        inputs: &[
            ("cypherIterate", "STRING"),
            ("cypherAction", "STRING"),
            ("config", "MAP"),
        ],
        outputs: &[
            ("batches", "INTEGER"),
            ("total", "INTEGER"),
            ("timeTaken", "INTEGER"),
            ("committedOperations", "INTEGER"),
            ("failedOperations", "INTEGER"),
            ("failedBatches", "INTEGER"),
            ("retries", "INTEGER"),
            ("errorMessages", "MAP"),
            ("batch", "MAP"),
            ("operations", "MAP"),
            ("wasTerminated", "BOOLEAN"),
            ("failedParams", "MAP"),
            ("updateStatistics", "MAP"),
        ],
        mode: "WRITE",
        description: "Runs the second statement for each item returned by the first statement. \
                      Returns number of batches and total processed rows.",
    },
    Builtin {
        name: "apoc.util.sleep",
        inputs: &[("duration", "INTEGER")],
        outputs: &[],
        mode: "READ",
        description: "Causes the current thread to sleep for the given duration in milliseconds.",
    },
    Builtin {
        name: "apoc.merge.node",
        inputs: &[
            ("labels", "LIST<STRING>"),
            ("identProps", "MAP"),
            ("onCreateProps", "MAP = {}"),
            ("onMatchProps", "MAP = {}"),
        ],
        outputs: &[("node", "NODE")],
        mode: "WRITE",
        description: "Merges the given node with the given labels and identifying properties.",
    },
    Builtin {
        name: "apoc.merge.relationship",
        inputs: &[
            ("startNode", "NODE"),
            ("relType", "STRING"),
            ("identProps", "MAP"),
            ("onCreateProps", "MAP"),
            ("endNode", "NODE"),
            ("onMatchProps", "MAP = {}"),
        ],
        outputs: &[("rel", "RELATIONSHIP")],
        mode: "WRITE",
        description:
            "Merges the given relationship with the given type and identifying properties.",
    },
    Builtin {
        name: "apoc.create.node",
        inputs: &[("labels", "LIST<STRING>"), ("props", "MAP")],
        outputs: &[("node", "NODE")],
        mode: "WRITE",
        description: "Creates a node with the given dynamic labels.",
    },
    Builtin {
        name: "apoc.create.relationship",
        inputs: &[
            ("from", "NODE"),
            ("relType", "STRING"),
            ("props", "MAP"),
            ("to", "NODE"),
        ],
        outputs: &[("rel", "RELATIONSHIP")],
        mode: "WRITE",
        description: "Creates a relationship with the given dynamic relationship type.",
    },
    Builtin {
        name: "apoc.create.addLabels",
        inputs: &[("nodes", "ANY"), ("labels", "LIST<STRING>")],
        outputs: &[("node", "NODE")],
        mode: "WRITE",
        description: "Adds the given labels to the given nodes.",
    },
    Builtin {
        name: "apoc.create.setProperty",
        inputs: &[("nodes", "ANY"), ("key", "STRING"), ("value", "ANY")],
        outputs: &[("node", "NODE")],
        mode: "WRITE",
        description: "Sets the given property to the given nodes.",
    },
    Builtin {
        name: "db.index.vector.queryNodes",
        inputs: VECTOR_QUERY_INPUTS,
        outputs: &[("node", "NODE"), ("score", "FLOAT")],
        mode: "READ",
        description: "Query the given vector index for the nodes closest to a query vector.",
    },
    Builtin {
        name: "db.index.vector.queryRelationships",
        inputs: VECTOR_QUERY_INPUTS,
        outputs: &[("relationship", "RELATIONSHIP"), ("score", "FLOAT")],
        mode: "READ",
        description:
            "Query the given vector index for the relationships closest to a query vector.",
    },
    Builtin {
        name: "apoc.path.expand",
        inputs: &[
            ("startNode", "ANY"),
            ("relationshipFilter", "STRING"),
            ("labelFilter", "STRING"),
            ("minDepth", "INTEGER"),
            ("maxDepth", "INTEGER"),
        ],
        outputs: &[("path", "PATH")],
        mode: "READ",
        description: "Returns paths expanded from the start node following the given \
                      relationship types from min-depth to max-depth.",
    },
    Builtin {
        name: "apoc.path.expandConfig",
        inputs: &[("startNode", "ANY"), ("config", "MAP")],
        outputs: &[("path", "PATH")],
        mode: "READ",
        description: "Returns paths expanded from the start node, following the given \
                      relationship types from min-depth to max-depth.",
    },
    Builtin {
        name: "apoc.path.subgraphNodes",
        inputs: &[("startNode", "ANY"), ("config", "MAP")],
        outputs: &[("node", "NODE")],
        mode: "READ",
        description: "Returns the nodes in the sub-graph reachable from the start node \
                      following the given relationship types to max-depth.",
    },
    Builtin {
        name: "apoc.path.subgraphAll",
        inputs: &[("startNode", "ANY"), ("config", "MAP")],
        outputs: &[("nodes", "LIST<NODE>"), ("relationships", "LIST<RELATIONSHIP>")],
        mode: "READ",
        description: "Returns the sub-graph reachable from the start node following the \
                      given relationship types to max-depth.",
    },
    Builtin {
        name: "apoc.path.spanningTree",
        inputs: &[("startNode", "ANY"), ("config", "MAP")],
        outputs: &[("path", "PATH")],
        mode: "READ",
        description: "Returns spanning tree paths expanded from the start node following \
                      the given relationship types to max-depth.",
    },
    Builtin {
        name: "db.schema.visualization",
        inputs: &[],
        outputs: &[("nodes", "LIST<NODE>"), ("relationships", "LIST<RELATIONSHIP>")],
        mode: "READ",
        description: "Visualizes the schema of the data based on available statistics.",
    },
    Builtin {
        name: "db.indexes",
        inputs: &[],
        outputs: &[
            ("id", "INTEGER"),
            ("name", "STRING"),
            ("state", "STRING"),
            ("populationPercent", "FLOAT"),
            ("uniqueness", "STRING"),
            ("type", "STRING"),
            ("entityType", "STRING"),
            ("labelsOrTypes", "LIST<STRING>"),
            ("properties", "LIST<STRING>"),
            ("provider", "STRING"),
        ],
        mode: "READ",
        description: "List all indexes in the database (Neo4j 4's form of SHOW INDEXES, \
                      which py2neo reads).",
    },
    Builtin {
        name: "db.index.fulltext.queryNodes",
        inputs: FULLTEXT_QUERY_INPUTS,
        outputs: &[("node", "NODE"), ("score", "FLOAT")],
        mode: "READ",
        description: "Query the given fulltext index. Returns the matching nodes and their \
                      Lucene query score, ordered by score.",
    },
    Builtin {
        name: "db.index.fulltext.queryRelationships",
        inputs: FULLTEXT_QUERY_INPUTS,
        outputs: &[("relationship", "RELATIONSHIP"), ("score", "FLOAT")],
        mode: "READ",
        description: "Query the given fulltext index. Returns the matching relationships and \
                      their Lucene query score, ordered by score.",
    },
    Builtin {
        name: "db.index.fulltext.listAvailableAnalyzers",
        inputs: &[],
        outputs: &[
            ("analyzer", "STRING"),
            ("description", "STRING"),
            ("stopwords", "LIST<STRING>"),
        ],
        mode: "READ",
        description: "List the available analyzers that the fulltext indexes can be \
                      configured with.",
    },
    Builtin {
        name: "db.index.fulltext.awaitEventuallyConsistentIndexRefresh",
        inputs: &[],
        outputs: &[],
        mode: "READ",
        description: "Wait for the updates from recently committed transactions to be applied \
                      to any eventually-consistent fulltext indexes (Causeway's are always \
                      consistent with the query's snapshot, so it returns at once).",
    },
    Builtin {
        name: "db.create.setNodeVectorProperty",
        inputs: &[("node", "NODE"), ("key", "STRING"), ("vector", "ANY")],
        outputs: &[],
        mode: "WRITE",
        description: "Set a vector property on a given node, stored as 32-bit floats.",
    },
    Builtin {
        name: "db.create.setRelationshipVectorProperty",
        inputs: &[
            ("relationship", "RELATIONSHIP"),
            ("key", "STRING"),
            ("vector", "ANY"),
        ],
        outputs: &[],
        mode: "WRITE",
        description: "Set a vector property on a given relationship, stored as 32-bit floats.",
    },
];

pub fn builtin(name: &str) -> Option<&'static Builtin> {
    BUILTINS.iter().find(|b| b.name.eq_ignore_ascii_case(name))
}

pub fn builtin_signature(name: &str) -> Option<ProcedureSignature> {
    let b = builtin(name)?;
    let pairs = |v: &[(&str, &str)]| {
        v.iter()
            .map(|(n, t)| (n.to_string(), t.to_string()))
            .collect()
    };
    Some(ProcedureSignature {
        name: b.name.to_owned(),
        inputs: pairs(b.inputs),
        outputs: pairs(b.outputs),
    })
}

/// Whether calling `name` writes (so the statement needs the leader).
pub fn is_write_procedure(name: &str) -> bool {
    builtin(name).is_some_and(|b| b.mode == "WRITE")
}

/// Runs a builtin procedure; `None` if `name` is not one.
fn builtin_call(
    tx: Option<&mut TxGraph>,
    g: &Graph,
    name: &str,
    argv: &[Value],
) -> Option<Result<Vec<Vec<Value>>>> {
    let b = builtin(name)?;
    let list = |items: Vec<String>| Ok(items.into_iter().map(|s| vec![Value::String(s)]).collect());
    Some(match b.name {
        "db.labels" => list(g.labels()),
        "db.relationshipTypes" => list(g.rel_types()),
        "db.propertyKeys" => list(g.property_keys()),
        "db.schema.nodeTypeProperties" => Ok(crate::introspect::node_type_properties(g)),
        "db.schema.relTypeProperties" => Ok(crate::introspect::rel_type_properties(g)),
        "apoc.meta.data" => meta_sample(argv).and_then(|n| crate::introspect::apoc_meta_data(g, n)),
        "apoc.schema.nodes" => {
            crate::introspect::apoc_schema_nodes(g, &crate::apoc::map_arg(argv.first()))
        }
        "apoc.schema.relationships" => {
            crate::introspect::apoc_schema_relationships(g, &crate::apoc::map_arg(argv.first()))
        }
        "apoc.meta.schema" => meta_sample(argv)
            .and_then(|n| crate::introspect::apoc_meta_schema(g, n))
            .map(|v| vec![vec![v]]),
        "db.index.vector.queryNodes" => vector_query(g, EntityType::Node, argv),
        "db.index.vector.queryRelationships" => vector_query(g, EntityType::Relationship, argv),
        "db.indexes" => legacy_index_rows(g),
        "db.schema.visualization" => crate::introspect::schema_visualization(g),
        "apoc.path.expand" => crate::apoc_path::expand(g, argv),
        "apoc.path.expandConfig" => crate::apoc_path::expand_config(g, argv),
        "apoc.path.subgraphNodes" => crate::apoc_path::subgraph_nodes(g, argv),
        "apoc.path.subgraphAll" => crate::apoc_path::subgraph_all(g, argv),
        "apoc.path.spanningTree" => crate::apoc_path::spanning_tree(g, argv),
        "db.index.fulltext.queryNodes" => fulltext_query(g, EntityType::Node, argv),
        "db.index.fulltext.queryRelationships" => fulltext_query(g, EntityType::Relationship, argv),
        "db.index.fulltext.listAvailableAnalyzers" => Ok(causeway_fts::ANALYZERS
            .iter()
            .map(|a| {
                vec![
                    Value::from(a.name()),
                    Value::from(a.description()),
                    Value::List(a.stopwords().into_iter().map(Value::String).collect()),
                ]
            })
            .collect()),
        "db.index.fulltext.awaitEventuallyConsistentIndexRefresh" => Ok(Vec::new()),
        "db.create.setNodeVectorProperty" => {
            writable(tx).and_then(|tx| set_vector_property(tx, b.name, argv, false))
        }
        "db.create.setRelationshipVectorProperty" => {
            writable(tx).and_then(|tx| set_vector_property(tx, b.name, argv, true))
        }
        "apoc.schema.properties.distinct" => crate::apoc::properties_distinct(g, argv),
        "apoc.meta.graph" | "apoc.meta.subGraph" => {
            crate::introspect::apoc_meta_graph(g, &crate::apoc::map_arg(argv.first()))
        }
        "apoc.merge.node" => writable(tx).and_then(|tx| crate::apoc::merge_node(tx, argv)),
        "apoc.merge.relationship" => {
            writable(tx).and_then(|tx| crate::apoc::merge_relationship(tx, argv))
        }
        "apoc.create.node" => writable(tx).and_then(|tx| crate::apoc::create_node(tx, argv)),
        "apoc.create.relationship" => {
            writable(tx).and_then(|tx| crate::apoc::create_relationship(tx, argv))
        }
        "apoc.create.addLabels" => writable(tx).and_then(|tx| crate::apoc::add_labels(tx, argv)),
        "apoc.create.setProperty" => {
            writable(tx).and_then(|tx| crate::apoc::set_property(tx, argv))
        }
        _ => return None,
    })
}

/// The `sample` of an APOC meta config: an integer, 1000 unless given.
fn meta_sample(argv: &[Value]) -> Result<i64> {
    match argv.first() {
        Some(Value::Map(m)) => match m.get("sample") {
            None | Some(Value::Null) => Ok(1000),
            Some(Value::Int(n)) => Ok(*n),
            Some(other) => Err(Error::new(
                Code::ProcedureCallFailed,
                format!(
                    "Failed to invoke procedure: the config's `sample` must be an integer, \
                     not {}",
                    other.type_name()
                ),
            )),
        },
        _ => Ok(1000),
    }
}

fn vector_query(g: &Graph, entity: EntityType, argv: &[Value]) -> Result<Vec<Vec<Value>>> {
    let (Some(Value::String(name)), Some(Value::Int(k)), Some(query)) =
        (argv.first(), argv.get(1), argv.get(2))
    else {
        return Err(Error::new(
            Code::ProcedureCallFailed,
            "Failed to invoke procedure: the index name, the number of neighbours and the \
             query vector must not be null",
        ));
    };
    let hits = g.vector_query(name, entity, *k, query)?;
    Ok(scored_rows(g, entity, hits))
}

/// An index query's hits as (entity, score) rows.
fn scored_rows(g: &Graph, entity: EntityType, hits: Vec<(u64, f64)>) -> Vec<Vec<Value>> {
    hits.into_iter()
        .filter_map(|(id, score)| {
            let entity = match entity {
                EntityType::Node => Value::Node(g.node_value(id)?),
                EntityType::Relationship => Value::Relationship(g.rel_value(id)?),
            };
            Some(vec![entity, Value::Float(score)])
        })
        .collect()
}

/// `db.indexes()`: SHOW INDEXES' rows in Neo4j 4's ten columns.
fn legacy_index_rows(g: &Graph) -> Result<Vec<Vec<Value>>> {
    let (cols, rows) = show_rows(g, &ShowKind::Indexes, None)?;
    let at = |name: &str| cols.iter().position(|c| c == name);
    let unique: std::collections::HashSet<String> = g
        .constraints()
        .into_iter()
        .filter(|c| c.kind != ConstraintType::NotNull)
        .map(|c| c.name)
        .collect();
    let mut out = Vec::new();
    for row in rows {
        let get = |name: &str| {
            at(name)
                .and_then(|i| row.get(i))
                .map(|v| v.to_value(g))
                .unwrap_or(Value::Null)
        };
        let owner = match get("owningConstraint") {
            Value::String(s) => Some(s),
            _ => None,
        };
        let uniqueness = if owner.is_some_and(|o| unique.contains(&o)) {
            "UNIQUE"
        } else {
            "NONUNIQUE"
        };
        out.push(vec![
            get("id"),
            get("name"),
            get("state"),
            get("populationPercent"),
            Value::from(uniqueness),
            get("type"),
            get("entityType"),
            get("labelsOrTypes"),
            get("properties"),
            get("indexProvider"),
        ]);
    }
    Ok(out)
}

fn fulltext_query(g: &Graph, entity: EntityType, argv: &[Value]) -> Result<Vec<Vec<Value>>> {
    let failed = |msg: &str| {
        Error::new(
            Code::ProcedureCallFailed,
            format!("Failed to invoke procedure: {msg}"),
        )
    };
    let (Some(Value::String(name)), Some(Value::String(query))) = (argv.first(), argv.get(1))
    else {
        return Err(failed(
            "the index name and the query string must be strings",
        ));
    };
    let count = |key: &str, m: &causeway_value::Map| match m.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Int(n)) if *n >= 0 => Ok(Some(*n as usize)),
        Some(other) => Err(failed(&format!(
            "the option `{key}` must be a non-negative integer, not {other:?}"
        ))),
    };
    let (skip, limit, analyzer) = match argv.get(2) {
        Some(Value::Map(m)) => (
            count("skip", m)?.unwrap_or(0),
            count("limit", m)?,
            match m.get("analyzer") {
                None | Some(Value::Null) => None,
                Some(Value::String(a)) => Some(a.as_str()),
                Some(_) => return Err(failed("the option `analyzer` must be a string")),
            },
        ),
        None | Some(Value::Null) => (0, None, None),
        Some(_) => return Err(failed("the options must be a map")),
    };
    let hits = g.fulltext_query(name, entity, query, analyzer, skip, limit)?;
    Ok(scored_rows(g, entity, hits))
}

/// The transaction a write procedure writes into; a statement run without
/// one is a read.
fn writable(tx: Option<&mut TxGraph>) -> Result<&mut TxGraph> {
    tx.ok_or_else(|| Error::new(Code::AccessMode, "Writing in read access mode not allowed."))
}

fn set_vector_property(
    tx: &mut TxGraph,
    name: &str,
    argv: &[Value],
    rel: bool,
) -> Result<Vec<Vec<Value>>> {
    let failed = |why: &str| crate::apoc::failed(name, why);
    let id = match (argv.first(), rel) {
        (Some(Value::Node(n)), false) => n.id,
        (Some(Value::Relationship(r)), true) => r.id,
        _ => return Err(failed("the entity must not be null")),
    };
    let Some(Value::String(key)) = argv.get(1) else {
        return Err(failed("'key' must not be null"));
    };
    let vector = argv
        .get(2)
        .and_then(causeway_graph::to_vector)
        .ok_or_else(|| failed("'vector' must be a non-empty list of finite numbers"))?;
    let value = Value::List(
        vector
            .into_iter()
            .map(|x| Value::Float(f64::from(x)))
            .collect(),
    );
    if rel {
        tx.set_rel_prop(id, key, value)?;
    } else {
        tx.set_node_prop(id, key, value)?;
    }
    Ok(Vec::new())
}

pub fn signature(catalog: Option<&dyn SystemCatalog>, name: &str) -> Result<ProcedureSignature> {
    if let Some(s) = builtin_signature(name) {
        return Ok(s);
    }
    if let Some(s) = catalog.and_then(|c| c.procedure_signature(name)) {
        return Ok(s);
    }
    Err(Error::compile(
        Code::ProcedureNotFound,
        "ProcedureNotFound",
        format!(
            "There is no procedure with the name `{name}` registered for this database instance. \
             Please ensure you've spelled the procedure name correctly and that the procedure is \
             properly deployed."
        ),
    ))
}

/// Checks done before anything runs, so that a failing statement has no
/// side effects: procedure existence and arity, and unknown functions.
pub fn precheck(q: &Query, catalog: Option<&dyn SystemCatalog>) -> Result<()> {
    for part in &q.parts {
        precheck_clauses(&part.clauses, catalog)?;
    }
    Ok(())
}

/// Missing parameters fail the statement before it runs, naming all of
/// them, as Neo4j does.
pub fn check_params(q: &Query, params: &ValMap) -> Result<()> {
    let mut missing: Vec<String> = Vec::new();
    crate::visit::query(q, &mut |e| {
        if let Expr::Parameter(p) = e {
            if !params.contains_key(p) && !missing.contains(p) {
                missing.push(p.clone());
            }
        }
    });
    if missing.is_empty() {
        Ok(())
    } else {
        Err(Error::new(
            Code::ParameterMissing,
            format!("Expected parameter(s): {}", missing.join(", ")),
        ))
    }
}

fn precheck_clauses(clauses: &[Clause], catalog: Option<&dyn SystemCatalog>) -> Result<()> {
    let mut err = None;
    let mut check_expr = |e: &Expr| {
        walk(e, &mut |x| {
            if let Expr::Function { name, .. } = x {
                let l = name.to_ascii_lowercase();
                if err.is_none()
                    && !is_aggregate_name(&l)
                    && !KNOWN.contains(&l.as_str())
                    && !crate::apoc::FUNCTIONS.contains(&l.as_str())
                    && !crate::apoc_functions::NAMES.contains(&l.as_str())
                {
                    err = Some(Error::compile(
                        Code::SyntaxError,
                        "UnknownFunction",
                        format!("Unknown function '{name}'"),
                    ));
                }
            }
        })
    };
    let single = clauses.len() == 1;
    for c in clauses {
        match c {
            Clause::Call {
                procedure, args, ..
            } => {
                let sig = signature(catalog, procedure)?;
                if args.is_none() && !single && !sig.inputs.is_empty() {
                    return Err(Error::compile(
                        Code::SyntaxError,
                        "InvalidArgumentPassingMode",
                        format!(
                            "Procedure call inside a query does not support passing arguments implicitly. Pass arguments explicitly in parentheses after procedure name for {procedure}"
                        ),
                    ));
                }
                if let Some(args) = args {
                    if !arity_ok(&sig, args.len()) {
                        return Err(Error::compile(
                            Code::SyntaxError,
                            "InvalidNumberOfArguments",
                            format!(
                                "Procedure call does not provide the required number of arguments: got {} expected {}",
                                args.len(),
                                sig.inputs.len()
                            ),
                        ));
                    }
                    for a in args {
                        check_expr(a);
                    }
                }
            }
            Clause::Foreach { clauses, list, .. } => {
                check_expr(list);
                precheck_clauses(clauses, catalog)?;
            }
            Clause::CallSubquery { query, .. } => precheck(query, catalog)?,
            Clause::Match {
                where_: Some(w), ..
            } => check_expr(w),
            Clause::Unwind { expr, .. } => check_expr(expr),
            Clause::With(p) | Clause::Return(p) => {
                for i in &p.items {
                    check_expr(&i.expr);
                }
                for s in &p.order_by {
                    check_expr(&s.expr);
                }
                if let Some(w) = &p.where_ {
                    check_expr(w);
                }
            }
            Clause::Set(items) => {
                for i in items {
                    match i {
                        SetItem::Property { value, .. }
                        | SetItem::Replace { value, .. }
                        | SetItem::Merge { value, .. } => check_expr(value),
                        SetItem::Labels { dynamic, .. } => dynamic.iter().for_each(&mut check_expr),
                    }
                }
            }
            Clause::Delete { exprs, .. } => exprs.iter().for_each(&mut check_expr),
            Clause::Remove(items) => {
                for i in items {
                    match i {
                        RemoveItem::Property { target, .. } => check_expr(target),
                        RemoveItem::Labels { dynamic, .. } => {
                            dynamic.iter().for_each(&mut check_expr)
                        }
                    }
                }
            }
            _ => {}
        }
    }
    match err {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

fn type_ok(v: &Val, ty: &str) -> Option<Val> {
    if v.is_null() {
        return Some(Val::Null);
    }
    let t = ty.trim().trim_end_matches('?').to_ascii_uppercase();
    let base = t.split_whitespace().next().unwrap_or("ANY");
    let ok = match base {
        "INTEGER" | "INT" => matches!(v, Val::Int(_)),
        "FLOAT" => {
            if let Val::Int(i) = v {
                return Some(Val::Float(*i as f64));
            }
            matches!(v, Val::Float(_))
        }
        "NUMBER" => matches!(v, Val::Int(_) | Val::Float(_)),
        "STRING" => matches!(v, Val::Str(_)),
        "BOOLEAN" => matches!(v, Val::Bool(_)),
        "MAP" => matches!(v, Val::Map(_) | Val::Node(_) | Val::Rel(_)),
        "NODE" => matches!(v, Val::Node(_)),
        "RELATIONSHIP" => matches!(v, Val::Rel(_)),
        "PATH" => matches!(v, Val::Path(_)),
        "LIST" => matches!(v, Val::List(_)),
        _ => true,
    };
    if ok {
        Some(v.clone())
    } else {
        None
    }
}

#[allow(clippy::too_many_arguments)]
pub fn call_stage(
    runner: &mut Runner,
    it: RowIter,
    name: &str,
    args: Option<&[Expr]>,
    yield_items: Option<&YieldSpec>,
    where_: Option<&Expr>,
    standalone: bool,
) -> Result<(RowIter, Vec<String>)> {
    let sig = signature(runner.catalog, name)?;
    if let Some(a) = args {
        if !arity_ok(&sig, a.len()) {
            return Err(Error::compile(
                Code::SyntaxError,
                "InvalidNumberOfArguments",
                "Procedure call does not provide the required number of arguments",
            ));
        }
    }
    let outputs: Vec<String> = sig.outputs.iter().map(|(n, _)| n.clone()).collect();
    // (procedure output, variable)
    let binds: Vec<(String, String)> = match yield_items {
        Some(YieldSpec::Items(items)) => checked_yield(items, &outputs, |o| {
            format!("Unknown procedure output: `{o}`")
        })?,
        Some(YieldSpec::All) => outputs.iter().map(|o| (o.clone(), o.clone())).collect(),
        None if standalone => outputs.iter().map(|o| (o.clone(), o.clone())).collect(),
        None => Vec::new(),
    };
    let rows = collect_rows(it, runner.sh.limits.max_materialized_rows)?;
    // A write procedure changes the transaction: what it returns, the
    // YIELD's WHERE and the next row's arguments read the graph after it.
    let writes = is_write_procedure(name);
    let mut g = runner.snapshot();
    let sh = runner.sh.clone();
    let mut out = Vec::new();
    for row in rows {
        let ctx = Ctx {
            g: &g,
            sh: &sh,
            aggs: None,
            joins: None,
        };
        let mut argv = Vec::with_capacity(sig.inputs.len());
        for (i, (iname, ity)) in sig.inputs.iter().enumerate() {
            let (ity, optional) = input_type(ity);
            let v = match args {
                Some(a) => match a.get(i) {
                    Some(e) => eval(&ctx, e, &row)?,
                    None => Val::Null,
                },
                None => match sh.params.get(iname) {
                    Some(v) => v.clone(),
                    None if optional => Val::Null,
                    None => {
                        return Err(Error::new(
                            Code::ParameterMissing,
                            format!("Expected parameter(s): {iname}"),
                        ))
                    }
                },
            };
            let v = type_ok(&v, ity).ok_or_else(|| {
                Error::compile(
                    Code::SyntaxError,
                    "InvalidArgumentType",
                    format!(
                        "Type mismatch for argument `{iname}`: expected {ity} but was {}",
                        v.type_name()
                    ),
                )
            })?;
            argv.push(v.to_value(&g));
        }
        let own = match sig.name.as_str() {
            "apoc.periodic.iterate" => Some(crate::apoc_periodic::iterate(runner, &argv)),
            "apoc.util.sleep" => Some(crate::apoc_periodic::sleep(&sh, &argv)),
            _ => builtin_call(runner.tx.as_deref_mut(), &g, name, &argv),
        };
        let (cols, res) = match own {
            Some(r) => (outputs.clone(), r?),
            None => match runner.catalog.and_then(|c| c.call_procedure(name, &argv)) {
                Some(r) => r?,
                None => {
                    return Err(signature(None, name).err().unwrap_or_else(|| {
                        Error::new(Code::ProcedureCallFailed, "Procedure call failed")
                    }))
                }
            },
        };
        if writes {
            g = runner.snapshot();
        }
        let ctx = Ctx {
            g: &g,
            sh: &sh,
            aggs: None,
            joins: None,
        };
        if outputs.is_empty() {
            // Void procedures leave the row stream as it was.
            out.push(row);
            continue;
        }
        for r in res {
            let mut nr = row.clone();
            for (o, var) in &binds {
                let v = cols
                    .iter()
                    .position(|c| c == o)
                    .and_then(|i| r.get(i))
                    .map(Val::from_value)
                    .unwrap_or(Val::Null);
                nr.set(var, v);
            }
            if let Some(w) = where_ {
                if !eval_pred(&ctx, w, &nr)? {
                    continue;
                }
            }
            out.push(nr);
        }
    }
    let cols = binds.into_iter().map(|(_, v)| v).collect();
    Ok((from_vec(out), cols))
}

const INDEX_COLS: &[&str] = &[
    "id",
    "name",
    "state",
    "populationPercent",
    "type",
    "entityType",
    "labelsOrTypes",
    "properties",
    "indexProvider",
    "owningConstraint",
    "lastRead",
    "readCount",
    "trackedSince",
    "options",
    "failureMessage",
    "createStatement",
];

/// Columns shown when SHOW INDEXES has no YIELD; `YIELD *` shows all.
const INDEX_DEFAULT: usize = 12;
const CONSTRAINT_DEFAULT: usize = 8;

fn options() -> Val {
    let mut m = ValMap::new();
    m.insert("indexProvider".into(), Val::Str("range-1.0".into()));
    m.insert("indexConfig".into(), Val::Map(ValMap::new()));
    Val::Map(m)
}

/// A vector index's SHOW INDEXES row, after the id column.
fn vector_index_row(d: &causeway_graph::VectorIndexDef) -> Vec<Val> {
    let (entity, pattern, var) = entity_parts(d.entity, &d.label);
    let mut config = ValMap::new();
    if let Some(n) = d.dimensions {
        config.insert("vector.dimensions".into(), Val::Int(i64::from(n)));
    }
    config.insert(
        "vector.similarity_function".into(),
        Val::Str(d.similarity.name().into()),
    );
    config.insert("vector.hnsw.m".into(), Val::Int(i64::from(d.hnsw_m)));
    config.insert(
        "vector.hnsw.ef_construction".into(),
        Val::Int(i64::from(d.hnsw_ef_construction)),
    );
    config.insert(
        "vector.quantization.enabled".into(),
        Val::Bool(d.quantization),
    );
    search_index_row(
        &d.name,
        ("VECTOR", "vector-2.0"),
        entity,
        std::slice::from_ref(&d.label),
        std::slice::from_ref(&d.property),
        config,
        format!(
            "FOR {pattern} ON ({})",
            prop_list(var, std::slice::from_ref(&d.property))
        ),
    )
}

/// A fulltext index's SHOW INDEXES row, after the id column.
fn fulltext_index_row(d: &causeway_graph::FulltextIndexDef) -> Vec<Val> {
    let (entity, var) = match d.entity {
        EntityType::Node => ("NODE", "n"),
        EntityType::Relationship => ("RELATIONSHIP", "r"),
    };
    let labels = d
        .labels
        .iter()
        .map(|l| quote(l))
        .collect::<Vec<_>>()
        .join("|");
    let pattern = match d.entity {
        EntityType::Node => format!("(n:{labels})"),
        EntityType::Relationship => format!("()-[r:{labels}]-()"),
    };
    let mut config = ValMap::new();
    config.insert("fulltext.analyzer".into(), Val::Str(d.analyzer.clone()));
    config.insert(
        "fulltext.eventually_consistent".into(),
        Val::Bool(d.eventually_consistent),
    );
    search_index_row(
        &d.name,
        ("FULLTEXT", "fulltext-1.0"),
        entity,
        &d.labels,
        &d.properties,
        config,
        format!("FOR {pattern} ON EACH [{}]", prop_list(var, &d.properties)),
    )
}

/// The SHOW INDEXES row of an index with an `indexConfig` (vector,
/// fulltext), after the id column; `target` is its `FOR ... ON ...`.
fn search_index_row(
    name: &str,
    (kind, provider): (&str, &str),
    entity: &str,
    labels: &[String],
    properties: &[String],
    config: ValMap,
    target: String,
) -> Vec<Val> {
    let shown_config = config
        .iter()
        .map(|(k, v)| match v {
            Val::Str(s) => format!("`{k}`: '{s}'"),
            Val::Int(i) => format!("`{k}`: {i}"),
            Val::Bool(b) => format!("`{k}`: {b}"),
            Val::List(items) => format!(
                "`{k}`: [{}]",
                items
                    .iter()
                    .map(|x| match x {
                        Val::Float(f) => causeway_value::java_double(*f),
                        _ => String::new(),
                    })
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            _ => String::new(),
        })
        .collect::<Vec<_>>()
        .join(", ");
    let mut opts = ValMap::new();
    opts.insert("indexProvider".into(), Val::Str(provider.into()));
    opts.insert("indexConfig".into(), Val::Map(config));
    vec![
        Val::Str(name.to_string()),
        Val::Str("ONLINE".into()),
        Val::Float(100.0),
        Val::Str(kind.into()),
        Val::Str(entity.into()),
        strs(labels),
        strs(properties),
        Val::Str(provider.into()),
        Val::Null,
        Val::Null,
        Val::Int(0),
        Val::Null,
        Val::Map(opts),
        Val::Str(String::new()),
        Val::Str(format!(
            "CREATE {kind} INDEX {} {target} OPTIONS {{indexConfig: {{{shown_config}}}, \
             indexProvider: '{provider}'}}",
            quote(name)
        )),
    ]
}

fn quote(name: &str) -> String {
    format!("`{}`", name.replace('`', "``"))
}

const CONSTRAINT_COLS: &[&str] = &[
    "id",
    "name",
    "type",
    "entityType",
    "labelsOrTypes",
    "properties",
    "ownedIndex",
    "propertyType",
    "options",
    "createStatement",
];

fn strs(v: &[String]) -> Val {
    Val::List(v.iter().map(|s| Val::Str(s.clone())).collect())
}

/// `entityType`, the pattern a create statement names the entity with, and
/// its variable.
fn entity_parts(entity: EntityType, label: &str) -> (&'static str, String, &'static str) {
    match entity {
        EntityType::Node => ("NODE", format!("(n:{})", quote(label)), "n"),
        EntityType::Relationship => ("RELATIONSHIP", format!("()-[r:{}]-()", quote(label)), "r"),
    }
}

fn prop_list(var: &str, props: &[String]) -> String {
    props
        .iter()
        .map(|p| format!("{var}.{}", quote(p)))
        .collect::<Vec<_>>()
        .join(", ")
}

pub fn show_rows(
    g: &Graph,
    kind: &ShowKind,
    catalog: Option<&dyn SystemCatalog>,
) -> Result<(Vec<String>, Vec<Vec<Val>>)> {
    match kind {
        ShowKind::Indexes => {
            // (name, the row after its id): both kinds, in name order.
            let mut named: Vec<(String, Vec<Val>)> = Vec::new();
            for ix in g.indexes() {
                let (entity, pattern, var) = entity_parts(ix.entity, &ix.label);
                if let IndexType::Point(settings) = &ix.kind {
                    let config: ValMap = settings
                        .0
                        .iter()
                        .map(|(k, v)| {
                            let list = v.iter().map(|f| Val::Float(*f)).collect();
                            (k.as_str().into(), Val::List(list))
                        })
                        .collect();
                    let row = search_index_row(
                        &ix.name,
                        ("POINT", "point-1.0"),
                        entity,
                        std::slice::from_ref(&ix.label),
                        &ix.properties,
                        config,
                        format!("FOR {pattern} ON ({})", prop_list(var, &ix.properties)),
                    );
                    named.push((ix.name.clone(), row));
                    continue;
                }
                named.push((
                    ix.name.clone(),
                    vec![
                        Val::Str(ix.name.clone()),
                        Val::Str("ONLINE".into()),
                        Val::Float(100.0),
                        Val::Str("RANGE".into()),
                        Val::Str(entity.into()),
                        strs(std::slice::from_ref(&ix.label)),
                        strs(&ix.properties),
                        Val::Str("range-1.0".into()),
                        ix.owning_constraint
                            .clone()
                            .map(Val::Str)
                            .unwrap_or(Val::Null),
                        Val::Null,
                        Val::Int(0),
                        Val::Null,
                        options(),
                        Val::Str(String::new()),
                        Val::Str(format!(
                            "CREATE RANGE INDEX {} FOR {pattern} ON ({})",
                            quote(&ix.name),
                            prop_list(var, &ix.properties)
                        )),
                    ],
                ));
            }
            for d in g.vector_indexes() {
                named.push((d.name.clone(), vector_index_row(&d)));
            }
            for d in g.fulltext_indexes() {
                named.push((d.name.clone(), fulltext_index_row(&d)));
            }
            named.sort_by(|a, b| a.0.cmp(&b.0));
            let rows = named
                .into_iter()
                .enumerate()
                .map(|(i, (_, rest))| {
                    let mut row = vec![Val::Int(i as i64 + 1)];
                    row.extend(rest);
                    row
                })
                .collect();
            Ok((INDEX_COLS.iter().map(|s| s.to_string()).collect(), rows))
        }
        ShowKind::Constraints => {
            let indexes = g.indexes();
            let mut rows = Vec::new();
            for (i, c) in g.constraints().iter().enumerate() {
                let rel = c.entity == EntityType::Relationship;
                let ty = match (c.kind, rel) {
                    (ConstraintType::Unique, false) => "UNIQUENESS",
                    (ConstraintType::NotNull, false) => "NODE_PROPERTY_EXISTENCE",
                    (ConstraintType::NodeKey, false) => "NODE_KEY",
                    (ConstraintType::Unique, true) => "RELATIONSHIP_UNIQUENESS",
                    (ConstraintType::NotNull, true) => "RELATIONSHIP_PROPERTY_EXISTENCE",
                    (ConstraintType::NodeKey, true) => "RELATIONSHIP_KEY",
                };
                let (entity, pattern, var) = entity_parts(c.entity, &c.label);
                let owned = indexes
                    .iter()
                    .find(|ix| ix.owning_constraint.as_deref() == Some(c.name.as_str()))
                    .map(|ix| Val::Str(ix.name.clone()))
                    .unwrap_or(Val::Null);
                rows.push(vec![
                    Val::Int(i as i64 + 1),
                    Val::Str(c.name.clone()),
                    Val::Str(ty.into()),
                    Val::Str(entity.into()),
                    strs(std::slice::from_ref(&c.label)),
                    strs(&c.properties),
                    owned,
                    Val::Null,
                    options(),
                    Val::Str(format!(
                        "CREATE CONSTRAINT {} FOR {pattern} REQUIRE ({}) {}",
                        quote(&c.name),
                        prop_list(var, &c.properties),
                        match (c.kind, rel) {
                            (ConstraintType::Unique, _) => "IS UNIQUE",
                            (ConstraintType::NotNull, _) => "IS NOT NULL",
                            (ConstraintType::NodeKey, false) => "IS NODE KEY",
                            (ConstraintType::NodeKey, true) => "IS RELATIONSHIP KEY",
                        }
                    )),
                ]);
            }
            Ok((
                CONSTRAINT_COLS.iter().map(|s| s.to_string()).collect(),
                rows,
            ))
        }
        ShowKind::Functions => Ok((
            crate::function_list::COLUMNS
                .iter()
                .map(|c| c.to_string())
                .collect(),
            crate::function_list::rows(),
        )),
        other => match catalog.and_then(|c| c.show(other)) {
            Some(r) => {
                let (cols, rows) = r?;
                Ok((
                    cols,
                    rows.into_iter()
                        .map(|r| r.iter().map(Val::from_value).collect())
                        .collect(),
                ))
            }
            None => Err(Error::new(
                Code::SyntaxError,
                format!("{other:?} is not supported by this server"),
            )),
        },
    }
}

pub fn run_show(runner: &mut Runner, cmd: &ShowCommand) -> Result<(RowIter, Vec<String>)> {
    let g = runner.snapshot();
    let (cols, rows) = show_rows(&g, &cmd.kind, runner.catalog)?;
    let binds: Vec<(String, String)> = match &cmd.yield_items {
        Some(YieldSpec::Items(items)) => {
            checked_yield(items, &cols, |o| format!("Variable `{o}` not defined"))?
        }
        Some(YieldSpec::All) => cols.iter().map(|c| (c.clone(), c.clone())).collect(),
        None => {
            let n = match cmd.kind {
                ShowKind::Indexes => INDEX_DEFAULT,
                ShowKind::Constraints => CONSTRAINT_DEFAULT,
                // name, category, description
                ShowKind::Functions => 3,
                // name, description, mode, worksOnSystem
                ShowKind::Procedures => 4,
                _ => cols.len(),
            };
            cols.iter()
                .take(n)
                .map(|c| (c.clone(), c.clone()))
                .collect()
        }
    };
    let sh = runner.sh.clone();
    let ctx = Ctx {
        g: &g,
        sh: &sh,
        aggs: None,
        joins: None,
    };
    let mut out = Vec::new();
    for r in rows {
        let mut full = Row::default();
        for (c, v) in cols.iter().zip(r) {
            full.set(c, v);
        }
        if let Some(f) = &cmd.filter {
            if !eval_pred(&ctx, f, &full)? {
                continue;
            }
        }
        let mut row = Row::default();
        for (o, var) in &binds {
            row.set(var, full.get(o).cloned().unwrap_or(Val::Null));
        }
        if let Some(w) = &cmd.where_ {
            // WHERE may use any column, yielded or not.
            let mut probe = full.clone();
            for (n, v) in &row.0 {
                probe.set_arc(n, v.clone());
            }
            if !eval_pred(&ctx, w, &probe)? {
                continue;
            }
        }
        out.push(row);
    }
    let names: Vec<String> = binds.into_iter().map(|(_, v)| v).collect();
    if cmd.then.is_empty() {
        return Ok((from_vec(out), names));
    }
    let mut scope = names;
    runner.run_clauses(&cmd.then, from_vec(out), &mut scope)
}

/// Input types may carry a default, written as Neo4j prints signatures
/// (`STRING? = null`); such trailing inputs may be left out of a call.
/// Returns the bare type and whether the input is optional.
fn input_type(t: &str) -> (&str, bool) {
    match t.split_once(" = ") {
        Some((ty, _default)) => (ty.trim(), true),
        None => (t, false),
    }
}

fn arity_ok(sig: &ProcedureSignature, given: usize) -> bool {
    let required = sig.inputs.iter().filter(|(_, t)| !input_type(t).1).count();
    (required..=sig.inputs.len()).contains(&given)
}

/// The `(column, variable)` pairs of a `YIELD a, b AS c`, after checking
/// that every yielded column exists.
fn checked_yield(
    items: &[(String, String)],
    columns: &[String],
    unknown: impl Fn(&str) -> String,
) -> Result<Vec<(String, String)>> {
    if let Some((o, _)) = items.iter().find(|(o, _)| !columns.contains(o)) {
        return Err(Error::compile(
            Code::SyntaxError,
            "UndefinedVariable",
            unknown(o),
        ));
    }
    Ok(items.to_vec())
}
