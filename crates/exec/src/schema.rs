//! Schema commands: index and constraint creation and removal. Names may be
//! parameters and OPTIONS may use them, so both are resolved here, when the
//! command runs. Every index type and option Causeway does not implement is
//! refused with Neo4j's error: a silently different index would only fail
//! later, at the first query that needs the real one.

use std::sync::Arc;

use causeway_cypher::ast::{
    ConstraintKind, EntityKind, Expr, IndexKind, SchemaCommand, SchemaName,
};
use causeway_graph::{
    ConstraintType, EntityType, FulltextIndexDef, IndexType, PointSettings, Similarity, TxGraph,
    VectorIndexDef,
};
use causeway_value::{Code, Error, Result};

use crate::eval::{self, Ctx, Shared};
use crate::val::{Row, Val};

pub(crate) fn run(tx: &mut TxGraph, cmd: &SchemaCommand, sh: &Arc<Shared>) -> Result<()> {
    match cmd {
        SchemaCommand::CreateIndex {
            name,
            if_not_exists,
            entity,
            label,
            properties,
            kind,
            options,
        } => {
            let name = resolve_optional(name, sh)?;
            if *kind == IndexKind::Vector {
                let [property] = properties.as_slice() else {
                    return Err(Error::new(
                        Code::SyntaxError,
                        "Only single property vector indexes are supported",
                    ));
                };
                let def = vector_index(
                    tx,
                    options.as_ref(),
                    sh,
                    VectorIndexDef {
                        name: name.unwrap_or_default(),
                        entity: entity_type(*entity),
                        label: label.clone(),
                        property: property.clone(),
                        dimensions: None,
                        similarity: Similarity::Cosine,
                        hnsw_m: 16,
                        hnsw_ef_construction: 100,
                        quantization: true,
                    },
                )?;
                return tx.create_vector_index(def, *if_not_exists);
            }
            if *kind == IndexKind::Point {
                let settings = point_options(tx, options.as_ref(), sh)?;
                return tx.create_index_of(
                    IndexType::Point(settings),
                    entity_type(*entity),
                    name,
                    label,
                    properties,
                    *if_not_exists,
                );
            }
            if *kind != IndexKind::Range {
                return Err(unsupported_index(kind_name(*kind)));
            }
            range_options(tx, options.as_ref(), sh, "range index")?;
            tx.create_index_for(
                entity_type(*entity),
                name,
                label,
                properties,
                *if_not_exists,
            )
        }
        SchemaCommand::CreateFulltextIndex {
            name,
            if_not_exists,
            entity,
            labels,
            properties,
            options,
        } => {
            let mut def = FulltextIndexDef {
                name: resolve_optional(name, sh)?.unwrap_or_default(),
                entity: entity_type(*entity),
                labels: labels.clone(),
                properties: properties.clone(),
                analyzer: causeway_fts::DEFAULT_ANALYZER.to_string(),
                eventually_consistent: false,
            };
            fulltext_options(tx, options.as_ref(), sh, &mut def)?;
            tx.create_fulltext_index(def, *if_not_exists)
        }
        SchemaCommand::CreateLookupIndex { .. } => Err(unsupported_index("LOOKUP")),
        SchemaCommand::DropIndex { name, if_exists } => {
            tx.drop_index(&resolve(name, sh)?, *if_exists)
        }
        SchemaCommand::DropIndexOn { label, properties } => {
            let g = tx.snapshot();
            let found = g.indexes().into_iter().find(|d| {
                d.entity == EntityType::Node
                    && d.owning_constraint.is_none()
                    && d.label == *label
                    && d.properties == *properties
            });
            match found {
                Some(d) => tx.drop_index(&d.name, false),
                None => Err(Error::new(
                    Code::IndexDropFailed,
                    format!(
                        "Unable to drop index on (:{label} {{{}}}). There is no such index.",
                        properties.join(", ")
                    ),
                )),
            }
        }
        SchemaCommand::DropConstraintOn {
            entity,
            label,
            properties,
            kind,
        } => {
            let kind = constraint_type(*kind);
            let entity = entity_type(*entity);
            let g = tx.snapshot();
            let found = g.constraints().into_iter().find(|c| {
                c.entity == entity
                    && c.kind == kind
                    && c.label == *label
                    && c.properties == *properties
            });
            match found {
                Some(c) => tx.drop_constraint(&c.name, false),
                None => Err(Error::new(
                    Code::ConstraintDropFailed,
                    format!(
                        "Unable to drop constraint on ({}{label} {{{}}}): No such constraint.",
                        if entity == EntityType::Node {
                            ":"
                        } else {
                            "()-[:"
                        },
                        properties.join(", ")
                    ),
                )),
            }
        }
        SchemaCommand::CreateConstraint {
            name,
            if_not_exists,
            entity,
            label,
            properties,
            kind,
            options,
        } => {
            let name = resolve_optional(name, sh)?;
            let kind = constraint_type(*kind);
            if kind == ConstraintType::NotNull {
                no_options(tx, options.as_ref(), sh)?;
            } else {
                range_options(tx, options.as_ref(), sh, "constraint")?;
            }
            tx.create_constraint_for(
                entity_type(*entity),
                name,
                label,
                properties,
                kind,
                *if_not_exists,
            )
        }
        SchemaCommand::DropConstraint { name, if_exists } => {
            tx.drop_constraint(&resolve(name, sh)?, *if_exists)
        }
    }
}

fn constraint_type(k: ConstraintKind) -> ConstraintType {
    match k {
        ConstraintKind::Unique => ConstraintType::Unique,
        ConstraintKind::NotNull => ConstraintType::NotNull,
        ConstraintKind::NodeKey => ConstraintType::NodeKey,
    }
}

fn entity_type(e: EntityKind) -> EntityType {
    match e {
        EntityKind::Node => EntityType::Node,
        EntityKind::Relationship => EntityType::Relationship,
    }
}

fn kind_name(kind: IndexKind) -> &'static str {
    match kind {
        IndexKind::Range => "RANGE",
        IndexKind::Text => "TEXT",
        IndexKind::Point => "POINT",
        IndexKind::Vector => "VECTOR",
    }
}

fn unsupported_index(kind: &str) -> Error {
    Error::new(
        Code::UnsupportedOperation,
        format!(
            "{kind} indexes are not available: this implementation of Cypher (Causeway) does \
             not support them yet. RANGE indexes and constraints are supported."
        ),
    )
}

fn resolve(name: &SchemaName, sh: &Arc<Shared>) -> Result<String> {
    match name {
        SchemaName::Given(n) => Ok(n.clone()),
        SchemaName::Param(p) => match sh.params.get(p) {
            Some(Val::Str(s)) => Ok(s.clone()),
            Some(other) => Err(Error::new(
                Code::TypeError,
                format!(
                    "Expected the parameter ${p} to be a String, but it was {}",
                    other.type_name()
                ),
            )),
            None => Err(Error::new(
                Code::ParameterMissing,
                format!("Expected parameter(s): {p}"),
            )),
        },
    }
}

fn resolve_optional(name: &Option<SchemaName>, sh: &Arc<Shared>) -> Result<Option<String>> {
    name.as_ref().map(|n| resolve(n, sh)).transpose()
}

/// The OPTIONS map's entries, evaluated (they may use parameters).
fn options_map(
    tx: &TxGraph,
    options: Option<&Expr>,
    sh: &Arc<Shared>,
) -> Result<Vec<(String, Val)>> {
    let Some(e) = options else {
        return Ok(Vec::new());
    };
    let g = tx.snapshot();
    let ctx = Ctx {
        g: &g,
        sh,
        aggs: None,
        joins: None,
    };
    match eval::eval(&ctx, e, &Row::default())? {
        Val::Map(m) => Ok(m.into_iter().map(|(k, v)| (k.to_string(), v)).collect()),
        other => Err(Error::new(
            Code::ArgumentError,
            format!("OPTIONS must be a map, but was {}", other.type_name()),
        )),
    }
}

/// A range index, or the index behind a uniqueness or key constraint,
/// takes `indexProvider: 'range-1.0'` and an empty `indexConfig`.
fn range_options(tx: &TxGraph, options: Option<&Expr>, sh: &Arc<Shared>, what: &str) -> Result<()> {
    for (key, value) in options_map(tx, options, sh)? {
        match (key.as_str(), &value) {
            ("indexProvider", Val::Str(p)) if p == "range-1.0" => {}
            ("indexProvider", _) => {
                return Err(Error::new(
                    Code::ArgumentError,
                    format!(
                        "Could not create {what} with specified index provider '{}'. \
                         To create a {what}, please use 'range-1.0'.",
                        shown(&value)
                    ),
                ))
            }
            ("indexConfig", Val::Map(m)) if m.is_empty() => {}
            ("indexConfig", _) => {
                return Err(Error::new(
                    Code::ArgumentError,
                    format!(
                        "Could not create {what} with specified index config '{}': \
                         range indexes have no valid config values.",
                        shown(&value)
                    ),
                ))
            }
            _ => {
                return Err(Error::new(
                    Code::ArgumentError,
                    format!(
                        "Failed to create {what}: Invalid option provided, valid options are \
                         `indexProvider` and `indexConfig`."
                    ),
                ))
            }
        }
    }
    Ok(())
}

/// The OPTIONS of an index with settings: `indexProvider`, which must be
/// `provider`, and `indexConfig`, a map whose entries go to `setting` one
/// by one (its message becomes an `ArgumentError`).
fn settings_options(
    tx: &TxGraph,
    options: Option<&Expr>,
    sh: &Arc<Shared>,
    (what, provider): (&str, &str),
    mut setting: impl FnMut(&str, &Val) -> std::result::Result<(), String>,
) -> Result<()> {
    let bad = |msg: String| Error::new(Code::ArgumentError, msg);
    for (key, value) in options_map(tx, options, sh)? {
        match (key.as_str(), value) {
            ("indexProvider", Val::Str(p)) if p == provider => {}
            ("indexProvider", v) => {
                return Err(bad(format!(
                    "Could not create {what} with specified index provider '{}'. \
                     To create a {what}, please use '{provider}'.",
                    shown(&v)
                )))
            }
            ("indexConfig", Val::Map(config)) => {
                for (k, v) in config {
                    setting(&k, &v).map_err(bad)?;
                }
            }
            ("indexConfig", v) => {
                return Err(bad(format!(
                    "Could not create {what} with specified index config '{}': \
                     it must be a map.",
                    shown(&v)
                )))
            }
            _ => {
                return Err(bad(format!(
                    "Failed to create {what}: Invalid option provided, valid options \
                     are `indexProvider` and `indexConfig`."
                )))
            }
        }
    }
    Ok(())
}

/// A point index's OPTIONS: `indexProvider: 'point-1.0'` and the
/// `indexConfig` settings `spatial.<crs>.min|max`, each a list of numbers.
fn point_options(tx: &TxGraph, options: Option<&Expr>, sh: &Arc<Shared>) -> Result<PointSettings> {
    let mut settings = PointSettings::default();
    settings_options(tx, options, sh, ("point index", "point-1.0"), |k, v| {
        let numbers = match v {
            Val::List(items) => items
                .iter()
                .map(|x| match x {
                    Val::Int(i) => Some(*i as f64),
                    Val::Float(f) => Some(*f),
                    _ => None,
                })
                .collect::<Option<Vec<f64>>>(),
            _ => None,
        };
        let numbers = numbers.ok_or_else(|| {
            format!(
                "Invalid index config value for '{k}': '{}' is not a list of numbers.",
                shown(v)
            )
        })?;
        settings.set(k, numbers).map_err(|e| e.message)
    })?;
    settings.check()?;
    Ok(settings)
}

/// A fulltext index's OPTIONS: `indexProvider: 'fulltext-1.0'` and the
/// `indexConfig` settings `fulltext.analyzer` and
/// `fulltext.eventually_consistent`.
fn fulltext_options(
    tx: &TxGraph,
    options: Option<&Expr>,
    sh: &Arc<Shared>,
    def: &mut FulltextIndexDef,
) -> Result<()> {
    settings_options(
        tx,
        options,
        sh,
        ("fulltext index", "fulltext-1.0"),
        |k, v| {
            match (k, v) {
                ("fulltext.analyzer", Val::Str(a)) => {
                    if causeway_fts::Analyzer::named(a).is_none() {
                        return Err(format!(
                            "Could not create fulltext index with specified index config \
                         '{{fulltext.analyzer: {a}}}': no such analyzer '{a}'; \
                         db.index.fulltext.listAvailableAnalyzers() lists them."
                        ));
                    }
                    def.analyzer = a.clone();
                }
                ("fulltext.eventually_consistent", Val::Bool(b)) => def.eventually_consistent = *b,
                _ => {
                    return Err(format!(
                        "Invalid index config key '{k}' or value '{}': a fulltext index takes \
                     `fulltext.analyzer` (a string) and `fulltext.eventually_consistent` (a \
                     boolean).",
                        shown(v)
                    ))
                }
            }
            Ok(())
        },
    )
}

/// A vector index's OPTIONS: `indexProvider: 'vector-2.0'` and the
/// `indexConfig` settings Neo4j 5.26 has, each checked as Neo4j checks it.
fn vector_index(
    tx: &TxGraph,
    options: Option<&Expr>,
    sh: &Arc<Shared>,
    mut def: VectorIndexDef,
) -> Result<VectorIndexDef> {
    settings_options(tx, options, sh, ("vector index", "vector-2.0"), |k, v| {
        vector_setting(&mut def, k, v)
    })?;
    Ok(def)
}

fn vector_setting(def: &mut VectorIndexDef, key: &str, v: &Val) -> std::result::Result<(), String> {
    let int_in = |lo: i64, hi: i64| match v {
        Val::Int(i) if (lo..=hi).contains(i) => Ok(*i as u32),
        _ => Err(format!(
            "Invalid value for index setting '{key}': '{}' must be an integer between {lo} \
             and {hi}.",
            shown(v)
        )),
    };
    match key {
        "vector.dimensions" => {
            def.dimensions = Some(int_in(1, i64::from(causeway_graph::MAX_DIMENSIONS))?)
        }
        "vector.similarity_function" => {
            def.similarity = match v {
                Val::Str(s) if s.eq_ignore_ascii_case("cosine") => Similarity::Cosine,
                Val::Str(s) if s.eq_ignore_ascii_case("euclidean") => Similarity::Euclidean,
                _ => {
                    return Err(format!(
                        "Invalid value for index setting '{key}': '{}' is not a supported \
                         similarity function; use 'COSINE' or 'EUCLIDEAN'.",
                        shown(v)
                    ))
                }
            }
        }
        "vector.hnsw.m" => def.hnsw_m = int_in(1, 512)?,
        "vector.hnsw.ef_construction" => def.hnsw_ef_construction = int_in(1, 3200)?,
        "vector.quantization.enabled" => match v {
            Val::Bool(b) => def.quantization = *b,
            _ => {
                return Err(format!(
                    "Invalid value for index setting '{key}': must be a boolean."
                ))
            }
        },
        _ => {
            return Err(format!(
                "Invalid index config key '{key}', it was not recognized as a vector index \
                 setting."
            ))
        }
    }
    Ok(())
}

/// Property existence constraints have no index and take no options.
fn no_options(tx: &TxGraph, options: Option<&Expr>, sh: &Arc<Shared>) -> Result<()> {
    if options_map(tx, options, sh)?.is_empty() {
        return Ok(());
    }
    Err(Error::new(
        Code::ArgumentError,
        "Could not create property existence constraint: property existence constraints \
         have no valid options values.",
    ))
}

fn shown(v: &Val) -> String {
    match v {
        Val::Str(s) => s.clone(),
        other => format!("{other:?}"),
    }
}
