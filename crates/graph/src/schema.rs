//! Indexes and constraints: naming, Neo4j-shaped errors, replay.

use std::borrow::Cow;
use std::sync::Arc;

use causeway_value::{Code, Error, Result, Value};

use crate::index::Index;
use crate::{
    Change, ConstraintDef, ConstraintType, EntityType, Graph, IndexDef, IndexType, TxGraph,
};

/// FNV-1a: stable across platforms and releases, unlike std's hasher, so
/// every replica derives the same default name.
fn fnv1a(s: &str) -> u32 {
    let mut h: u32 = 0x811c_9dc5;
    for b in s.bytes() {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x0100_0193);
    }
    h
}

/// Neo4j's schema description: `(:L {p})` or `()-[:T {p}]-()`.
pub(crate) fn schema_desc(entity: EntityType, label: &str, props: &[String]) -> String {
    match entity {
        EntityType::Node => format!("(:{label} {{{}}})", props.join(", ")),
        EntityType::Relationship => format!("()-[:{label} {{{}}}]-()", props.join(", ")),
    }
}

fn kind_name(entity: EntityType, k: ConstraintType) -> &'static str {
    match (entity, k) {
        (EntityType::Node, ConstraintType::Unique) => "UNIQUENESS",
        (EntityType::Node, ConstraintType::NotNull) => "NODE PROPERTY EXISTENCE",
        (EntityType::Node, ConstraintType::NodeKey) => "NODE KEY",
        (EntityType::Relationship, ConstraintType::Unique) => "RELATIONSHIP UNIQUENESS",
        (EntityType::Relationship, ConstraintType::NotNull) => "RELATIONSHIP PROPERTY EXISTENCE",
        (EntityType::Relationship, ConstraintType::NodeKey) => "RELATIONSHIP KEY",
    }
}

/// Neo4j's name for one entity in messages, and the word for its token.
fn entity_words(entity: EntityType) -> (&'static str, &'static str) {
    match entity {
        EntityType::Node => ("Node", "label"),
        EntityType::Relationship => ("Relationship", "type"),
    }
}

/// `index_<hash>`, the hash over the index kind and its schema, so that
/// indexes of different kinds on one property get different names. The
/// hashed text of a node rule is what it was before relationship rules
/// existed, so that default names of existing node rules do not change.
pub(crate) fn default_named(
    kind: &str,
    entity: EntityType,
    label: &str,
    props: &[String],
) -> String {
    format!(
        "index_{:08x}",
        fnv1a(&format!("{kind}:{}", schema_desc(entity, label, props)))
    )
}

fn default_constraint_name(
    entity: EntityType,
    label: &str,
    props: &[String],
    kind: ConstraintType,
) -> String {
    format!(
        "constraint_{:08x}",
        fnv1a(&format!(
            "constraint:{}:{}",
            kind_name(entity, kind),
            schema_desc(entity, label, props)
        ))
    )
}

pub(crate) fn index_desc(d: &IndexDef) -> String {
    let (kind, provider) = match d.kind {
        IndexType::Range => ("RANGE", "range-1.0"),
        IndexType::Point(_) => ("POINT", "point-1.0"),
    };
    format!(
        "Index( name='{}', type='{kind}', schema={}, indexProvider='{provider}' )",
        d.name,
        schema_desc(d.entity, &d.label, &d.properties)
    )
}

pub(crate) fn constraint_desc(d: &ConstraintDef) -> String {
    format!(
        "Constraint( name='{}', type='{}', schema={} )",
        d.name,
        kind_name(d.entity, d.kind),
        schema_desc(d.entity, &d.label, &d.properties)
    )
}

fn backs_index(k: ConstraintType) -> bool {
    matches!(k, ConstraintType::Unique | ConstraintType::NodeKey)
}

fn fmt_props(props: &[String]) -> String {
    props
        .iter()
        .map(|p| format!("`{p}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Neo4j's "`p` = 'v'" / "properties `a` = 1, `b` = 2" phrasing.
pub(crate) fn fmt_assignment(props: &[String], values: &[Option<Cow<'_, Value>>]) -> String {
    let parts: Vec<String> = props
        .iter()
        .zip(values)
        .map(|(p, v)| match v {
            Some(v) => format!("`{p}` = {v}"),
            None => format!("`{p}` = null"),
        })
        .collect();
    if props.len() == 1 {
        format!("property {}", parts.join(", "))
    } else {
        format!("properties {}", parts.join(", "))
    }
}

pub(crate) fn missing_props_error(
    entity: EntityType,
    id: u64,
    label: &str,
    props: &[String],
) -> String {
    let (what, token) = entity_words(entity);
    if props.len() == 1 {
        format!(
            "{what}({id}) with {token} `{label}` must have the property `{}`",
            props[0]
        )
    } else {
        format!(
            "{what}({id}) with {token} `{label}` must have the properties ({})",
            fmt_props(props)
        )
    }
}

/// A write that would give `other`'s key to another entity.
pub(crate) fn duplicate_error(
    entity: EntityType,
    other: u64,
    label: &str,
    props: &[String],
    values: &[Option<Cow<'_, Value>>],
) -> Error {
    let (what, token) = entity_words(entity);
    Error::runtime(
        Code::ConstraintValidationFailed,
        "ConstraintValidationFailed",
        format!(
            "{what}({other}) already exists with {token} `{label}` and {}",
            fmt_assignment(props, values)
        ),
    )
}

impl Graph {
    /// Whether an index (of any kind) or a constraint is called `name`:
    /// they share one namespace.
    pub(crate) fn schema_name_taken(&self, name: &str) -> bool {
        self.is_index_named(name) || self.constraints.contains_key(name)
    }

    /// Whether an index of any kind is called `name`.
    pub(crate) fn is_index_named(&self, name: &str) -> bool {
        self.indexes.contains_key(name)
            || self.vector_indexes.contains_key(name)
            || self.fulltext_indexes.contains_key(name)
    }

    /// `None` if a new rule may take `name`; otherwise what creating it
    /// answers: nothing to do under IF NOT EXISTS, else Neo4j's error, which
    /// names the kind being created first (a constraint's backing index has
    /// the constraint's name, so both kinds may hold it).
    pub(crate) fn name_clash(
        &self,
        name: &str,
        if_not_exists: bool,
        creating_index: bool,
    ) -> Option<Result<()>> {
        if !self.schema_name_taken(name) {
            return None;
        }
        if if_not_exists {
            return Some(Ok(()));
        }
        let index_named = self.is_index_named(name);
        let constraint_first = if creating_index {
            !index_named
        } else {
            self.constraints.contains_key(name)
        };
        Some(Err(if constraint_first {
            Error::new(
                Code::ConstraintAlreadyExists,
                format!("There already exists a constraint called '{name}'."),
            )
        } else {
            Error::new(
                Code::IndexAlreadyExists,
                format!("There already exists an index called '{name}'."),
            )
        }))
    }

    /// What creating an index answers when an equivalent one exists
    /// (`equivalent`, Neo4j's description of it) or its name is taken:
    /// nothing to do under IF NOT EXISTS, else Neo4j's error; `None` when
    /// it may be created.
    pub(crate) fn index_clash(
        &self,
        equivalent: Option<String>,
        name: &str,
        if_not_exists: bool,
    ) -> Option<Result<()>> {
        if let Some(desc) = equivalent {
            if if_not_exists {
                return Some(Ok(()));
            }
            return Some(Err(Error::new(
                Code::EquivalentSchemaRuleAlreadyExists,
                format!("An equivalent index already exists, '{desc}'."),
            )));
        }
        self.name_clash(name, if_not_exists, true)
    }

    pub(crate) fn raw_create_index(&mut self, def: &IndexDef) -> Result<()> {
        // Constraint-owned indexes only come into being with their
        // constraint; accepting one here would orphan it.
        if self.schema_name_taken(&def.name) || def.owning_constraint.is_some() {
            return Err(Error::new(
                Code::Unknown,
                format!("index `{}` already exists", def.name),
            ));
        }
        let ix = self.build_index(def.clone(), false);
        Arc::make_mut(&mut self.indexes).insert(def.name.clone(), ix);
        Ok(())
    }

    pub(crate) fn raw_drop_index(&mut self, name: &str) -> Result<()> {
        if self.vector_indexes.contains_key(name) || self.fulltext_indexes.contains_key(name) {
            Arc::make_mut(&mut self.vector_indexes).remove(name);
            Arc::make_mut(&mut self.fulltext_indexes).remove(name);
            Arc::make_mut(&mut self.search_live).remove(name);
            return Ok(());
        }
        Arc::make_mut(&mut self.indexes)
            .remove(name)
            .map(|_| ())
            .ok_or_else(|| Error::new(Code::Unknown, format!("no index `{name}`")))
    }

    pub(crate) fn raw_create_constraint(&mut self, def: &ConstraintDef) -> Result<()> {
        self.raw_create_constraint_with(def, None)
    }

    /// `backing`, if given, is the already built index for `def`, which
    /// spares building it twice when the caller has checked the data.
    pub(crate) fn raw_create_constraint_with(
        &mut self,
        def: &ConstraintDef,
        backing: Option<Index>,
    ) -> Result<()> {
        // One namespace for every rule, on replay as in a transaction.
        if self.schema_name_taken(&def.name) {
            return Err(Error::new(
                Code::Unknown,
                format!("constraint `{}` already exists", def.name),
            ));
        }
        if backs_index(def.kind) {
            let ix = backing.unwrap_or_else(|| {
                let idef = IndexDef {
                    name: def.name.clone(),
                    entity: def.entity,
                    label: def.label.clone(),
                    properties: def.properties.clone(),
                    owning_constraint: Some(def.name.clone()),
                    kind: IndexType::Range,
                };
                self.build_index(idef, true)
            });
            Arc::make_mut(&mut self.indexes).insert(def.name.clone(), ix);
        }
        self.constraints.insert(def.name.clone(), def.clone());
        Ok(())
    }

    pub(crate) fn raw_drop_constraint(&mut self, name: &str) -> Result<()> {
        if self.constraints.remove(name).is_none() {
            return Err(Error::new(Code::Unknown, format!("no constraint `{name}`")));
        }
        let owned: Vec<String> = self
            .indexes
            .iter()
            .filter(|(_, ix)| ix.def.owning_constraint.as_deref() == Some(name))
            .map(|(n, _)| n.clone())
            .collect();
        let indexes = Arc::make_mut(&mut self.indexes);
        for n in owned {
            indexes.remove(&n);
        }
        Ok(())
    }

    pub(crate) fn apply_one(&mut self, c: &Change) -> Result<()> {
        match c {
            Change::CreateNode { id, labels, props } => self.raw_create_node(*id, labels, props),
            Change::CreateRel {
                id,
                start,
                end,
                rel_type,
                props,
            } => self.raw_create_rel(*id, *start, *end, rel_type, props),
            Change::SetNodeProp { id, key, value } => {
                self.raw_set_node_prop(*id, key, value.clone()).map(|_| ())
            }
            Change::SetRelProp { id, key, value } => {
                self.raw_set_rel_prop(*id, key, value.clone()).map(|_| ())
            }
            Change::AddLabel { id, label } => self.raw_add_label(*id, label).map(|_| ()),
            Change::RemoveLabel { id, label } => self.raw_remove_label(*id, label).map(|_| ()),
            Change::DeleteNode { id } => self.raw_delete_node(*id),
            Change::DeleteRel { id } => self.raw_delete_rel(*id),
            Change::CreateIndex { def } => self.raw_create_index(def),
            Change::CreateVectorIndex { def } => self.raw_create_vector_index(def),
            Change::CreateFulltextIndex { def } => self.raw_create_fulltext_index(def),
            Change::DropIndex { name } => self.raw_drop_index(name),
            Change::CreateConstraint { def } => self.raw_create_constraint(def),
            Change::DropConstraint { name } => self.raw_drop_constraint(name),
        }
    }

    /// First violation of `def` over all existing data, as Neo4j words it.
    fn check_constraint_on_data(&self, def: &ConstraintDef, backing: Option<&Index>) -> Result<()> {
        let fail = |detail: String| {
            Err(Error::runtime(
                Code::ConstraintValidationFailed,
                "ConstraintValidationFailed",
                format!("Unable to create {}:\n{detail}", constraint_desc(def)),
            ))
        };
        let props_of = |id: u64| match def.entity {
            EntityType::Node => self.node_rec(id).map(|r| r.props.view()),
            EntityType::Relationship => self.rel_view(id).map(|r| r.props),
        };
        if matches!(def.kind, ConstraintType::NotNull | ConstraintType::NodeKey) {
            let ids = match def.entity {
                EntityType::Node => self.nodes_with_label(&def.label),
                EntityType::Relationship => self.rels_with_type(&def.label),
            };
            for id in ids {
                let Some(props) = props_of(id) else {
                    continue;
                };
                if def.properties.iter().any(|p| !props.has(p)) {
                    return fail(missing_props_error(
                        def.entity,
                        id,
                        &def.label,
                        &def.properties,
                    ));
                }
            }
        }
        if let Some(ix) = backing {
            for (_, ids) in ix.entries.iter() {
                if ids.len() > 1 {
                    let mut it = ids.iter();
                    let (a, b) = (it.next(), it.next());
                    let (Some(a), Some(b)) = (a, b) else { continue };
                    let vals: Vec<Option<Cow<'_, Value>>> = def
                        .properties
                        .iter()
                        .map(|p| props_of(a).and_then(|x| x.get(p)))
                        .collect();
                    let (what, token) = entity_words(def.entity);
                    return fail(format!(
                        "Both {what}({a}) and {what}({b}) have the {token} `{}` and {}",
                        def.label,
                        fmt_assignment(&def.properties, &vals)
                    ));
                }
            }
        }
        Ok(())
    }
}

impl TxGraph {
    pub(crate) fn tx_create_index(
        &mut self,
        entity: EntityType,
        name: Option<String>,
        label: &str,
        properties: &[String],
        kind: IndexType,
        if_not_exists: bool,
    ) -> Result<()> {
        if properties.is_empty() {
            return Err(Error::new(
                Code::ArgumentError,
                "An index needs at least one property",
            ));
        }
        let point = matches!(kind, IndexType::Point(_));
        if point && properties.len() != 1 {
            return Err(Error::new(
                Code::SyntaxError,
                "Only single property point indexes are supported",
            ));
        }
        // Indexes of different kinds may share a schema, and get different
        // default names.
        let name = name.unwrap_or_else(|| {
            let what = if point { "point" } else { "index" };
            default_named(what, entity, label, properties)
        });
        let existing = if point {
            self.graph.point_index_on(entity, label, &properties[0])
        } else {
            self.graph.index_on_schema(entity, label, properties)
        };
        if let Some(ix) = existing {
            if if_not_exists {
                return Ok(());
            }
            if let Some(c) = &ix.def.owning_constraint {
                return Err(Error::new(
                    Code::IndexAlreadyExists,
                    format!(
                        "There is a uniqueness constraint on {}, so an index is already created \
                         that matches this. (constraint `{c}`)",
                        schema_desc(entity, label, properties)
                    ),
                ));
            }
            return Err(Error::new(
                Code::EquivalentSchemaRuleAlreadyExists,
                format!(
                    "An equivalent index already exists, '{}'.",
                    index_desc(&ix.def)
                ),
            ));
        }
        if let Some(outcome) = self.graph.name_clash(&name, if_not_exists, true) {
            return outcome;
        }
        let def = IndexDef {
            name,
            entity,
            label: label.to_owned(),
            properties: properties.to_vec(),
            owning_constraint: None,
            kind,
        };
        self.graph.raw_create_index(&def)?;
        self.changes.push_back(Change::CreateIndex { def });
        self.counters.indexes_added += 1;
        Ok(())
    }

    pub(crate) fn tx_drop_index(&mut self, name: &str, if_exists: bool) -> Result<()> {
        match self.graph.indexes.get(name) {
            Some(ix) if ix.def.owning_constraint.is_none() => {}
            None if self.graph.is_index_named(name) => {}
            Some(_) => {
                return Err(Error::new(
                    Code::IndexDropFailed,
                    format!(
                        "Unable to drop index called `{name}`. The index belongs to a \
                         constraint; drop the constraint instead."
                    ),
                ))
            }
            None if if_exists => return Ok(()),
            None => {
                return Err(Error::new(
                    Code::IndexDropFailed,
                    format!("Unable to drop index called `{name}`. There is no such index."),
                ))
            }
        }
        self.graph.raw_drop_index(name)?;
        self.changes.push_back(Change::DropIndex {
            name: name.to_owned(),
        });
        self.counters.indexes_removed += 1;
        Ok(())
    }

    pub(crate) fn tx_create_constraint(
        &mut self,
        entity: EntityType,
        name: Option<String>,
        label: &str,
        properties: &[String],
        kind: ConstraintType,
        if_not_exists: bool,
    ) -> Result<()> {
        if properties.is_empty() {
            return Err(Error::new(
                Code::ArgumentError,
                "A constraint needs at least one property",
            ));
        }
        let name = name.unwrap_or_else(|| default_constraint_name(entity, label, properties, kind));
        let g = &self.graph;
        if let Some(c) = g.constraints.values().find(|c| {
            c.entity == entity && c.label == label && c.properties == properties && c.kind == kind
        }) {
            if if_not_exists {
                return Ok(());
            }
            return Err(Error::new(
                Code::EquivalentSchemaRuleAlreadyExists,
                format!(
                    "An equivalent constraint already exists, '{}'.",
                    constraint_desc(c)
                ),
            ));
        }
        if let Some(outcome) = g.name_clash(&name, if_not_exists, false) {
            return outcome;
        }
        if backs_index(kind) {
            if let Some(ix) = g.index_on_schema(entity, label, properties) {
                if if_not_exists {
                    return Ok(());
                }
                return Err(match &ix.def.owning_constraint {
                    Some(c) => Error::new(
                        Code::ConstraintAlreadyExists,
                        format!(
                            "Constraint already exists: {}",
                            g.constraints
                                .get(c)
                                .map(constraint_desc)
                                .unwrap_or_else(|| c.clone())
                        ),
                    ),
                    None => Error::new(
                        Code::IndexAlreadyExists,
                        format!(
                            "There already exists an index {}. A constraint cannot be created \
                             until the index has been dropped.",
                            schema_desc(entity, label, properties)
                        ),
                    ),
                });
            }
        }
        let def = ConstraintDef {
            name: name.clone(),
            entity,
            label: label.to_owned(),
            properties: properties.to_vec(),
            kind,
        };
        let backing = if backs_index(kind) {
            Some(self.graph.build_index(
                IndexDef {
                    name: name.clone(),
                    entity,
                    label: label.to_owned(),
                    properties: properties.to_vec(),
                    owning_constraint: Some(name.clone()),
                    kind: IndexType::Range,
                },
                true,
            ))
        } else {
            None
        };
        self.graph
            .check_constraint_on_data(&def, backing.as_ref())?;
        self.graph.raw_create_constraint_with(&def, backing)?;
        self.changes.push_back(Change::CreateConstraint { def });
        self.counters.constraints_added += 1;
        Ok(())
    }

    pub(crate) fn tx_drop_constraint(&mut self, name: &str, if_exists: bool) -> Result<()> {
        if !self.graph.constraints.contains_key(name) {
            if if_exists {
                return Ok(());
            }
            return Err(Error::new(
                Code::ConstraintDropFailed,
                format!("Unable to drop constraint `{name}`: No such constraint {name}."),
            ));
        }
        self.graph.raw_drop_constraint(name)?;
        self.changes.push_back(Change::DropConstraint {
            name: name.to_owned(),
        });
        self.counters.constraints_removed += 1;
        Ok(())
    }
}
