//! Schema commands: index and constraint creation and removal. Names may be
//! parameters and OPTIONS may use them, so both are resolved here, when the
//! command runs. Every index type and option Causeway does not implement is
//! refused with Neo4j's error: a silently different index would only fail
//! later, at the first query that needs the real one.

use std::sync::Arc;

use causeway_cypher::ast::{
    ConstraintKind, EntityKind, Expr, IndexKind, SchemaCommand, SchemaName,
};
use causeway_graph::{ConstraintType, EntityType, TxGraph};
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
            if *kind != IndexKind::Range {
                return Err(unsupported_index(kind_name(*kind)));
            }
            let name = resolve_optional(name, sh)?;
            range_options(tx, options.as_ref(), sh, "range index")?;
            tx.create_index_for(
                entity_type(*entity),
                name,
                label,
                properties,
                *if_not_exists,
            )
        }
        SchemaCommand::CreateFulltextIndex { .. } => Err(unsupported_index("FULLTEXT")),
        SchemaCommand::CreateLookupIndex { .. } => Err(unsupported_index("LOOKUP")),
        SchemaCommand::DropIndex { name, if_exists } => {
            tx.drop_index(&resolve(name, sh)?, *if_exists)
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
            let kind = match kind {
                ConstraintKind::Unique => ConstraintType::Unique,
                ConstraintKind::NotNull => ConstraintType::NotNull,
                ConstraintKind::NodeKey => ConstraintType::NodeKey,
            };
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
