//! Transactional writes: Cypher-level checks, then a store primitive, then
//! the matching `Change` and counters.

use std::borrow::Cow;

use causeway_value::{Code, Error, Map, Result, Value};

use crate::schema::{duplicate_error, missing_props_error};
use crate::store::{node_not_found, rel_not_found, PropsRef};
use crate::{Change, ConstraintType, EntityType, NodeId, RelId, TxGraph};

fn type_error(msg: &str) -> Error {
    Error::runtime(Code::TypeError, "InvalidPropertyType", msg)
}

/// Neo4j stores only primitives and homogeneous arrays of primitives.
pub(crate) fn check_storable(v: &Value) -> Result<()> {
    match v {
        Value::Null
        | Value::Bool(_)
        | Value::Int(_)
        | Value::Float(_)
        | Value::String(_)
        | Value::Bytes(_)
        | Value::Date(_)
        | Value::Time(_)
        | Value::LocalTime(_)
        | Value::DateTime(_)
        | Value::LocalDateTime(_)
        | Value::Duration(_)
        | Value::Point(_) => Ok(()),
        Value::List(items) => {
            let mut family = None;
            for it in items {
                let f =
                    match it {
                        Value::Bool(_) => 0,
                        Value::Int(_) | Value::Float(_) => 1,
                        Value::String(_) => 2,
                        // Each temporal type is its own family, as Neo4j's
                        // typed arrays are.
                        Value::Date(_) => 3,
                        Value::Time(_) => 4,
                        Value::LocalTime(_) => 5,
                        Value::DateTime(_) => 6,
                        Value::LocalDateTime(_) => 7,
                        Value::Duration(_) => 8,
                        // Neo4j's point arrays hold one coordinate system.
                        Value::Point(p) => 9 + i64::from(p.srid),
                        Value::Null => return Err(type_error(
                            "Collections containing null values can not be stored in properties.",
                        )),
                        _ => {
                            return Err(type_error(
                                "Property values can only be of primitive types or arrays thereof",
                            ))
                        }
                    };
                if *family.get_or_insert(f) != f {
                    return Err(type_error(
                        "Collections containing mixed types can not be stored in properties.",
                    ));
                }
            }
            Ok(())
        }
        _ => Err(type_error(
            "Property values can only be of primitive types or arrays thereof",
        )),
    }
}

impl TxGraph {
    fn touch(&mut self, id: NodeId) {
        if !self.graph.constraints.is_empty() {
            self.touched.insert(id);
        }
    }

    fn touch_rel(&mut self, id: RelId) {
        if !self.graph.constraints.is_empty() {
            self.touched_rels.insert(id);
        }
    }

    /// Fails if giving entity `id` the prospective state (`has_label`,
    /// `get`) would duplicate a key in a unique index on that kind of
    /// entity. Only indexes on `label` (if given) and covering `key` (if
    /// given) are considered: the others are unaffected by the write.
    fn check_unique<'v>(
        &self,
        entity: EntityType,
        id: u64,
        has_label: &dyn Fn(&str) -> bool,
        get: &dyn Fn(&str) -> Option<Cow<'v, Value>>,
        label: Option<&str>,
        key: Option<&str>,
    ) -> Result<()> {
        for ix in self.graph.indexes.values() {
            if !ix.unique || ix.def.entity != entity {
                continue;
            }
            let d = &ix.def;
            if label.is_some_and(|l| l != d.label) || !has_label(&d.label) {
                continue;
            }
            if key.is_some_and(|k| !d.properties.iter().any(|p| p == k)) {
                continue;
            }
            let Some(k) = ix.key_with(get) else { continue };
            if let Some(ids) = ix.entries.get(&k) {
                if let Some(other) = ids.iter().find(|o| *o != id) {
                    let vals: Vec<Option<Cow<'_, Value>>> =
                        d.properties.iter().map(|p| get(p)).collect();
                    return Err(duplicate_error(
                        entity,
                        other,
                        &d.label,
                        &d.properties,
                        &vals,
                    ));
                }
            }
        }
        Ok(())
    }

    fn has_unique(&self, entity: EntityType) -> bool {
        self.graph
            .indexes
            .values()
            .any(|ix| ix.unique && ix.def.entity == entity)
    }

    pub(crate) fn tx_create_node(&mut self, labels: &[String], mut props: Map) -> Result<NodeId> {
        for v in props.values() {
            check_storable(v)?;
        }
        props.retain(|_, v| !v.is_null());
        let id = self.mint_node()?;
        if self.has_unique(EntityType::Node) {
            self.check_unique(
                EntityType::Node,
                id,
                &|l| labels.iter().any(|x| x == l),
                &|k| props.get(k).map(Cow::Borrowed),
                None,
                None,
            )?;
        }
        self.graph.raw_create_node(id, labels, &props)?;
        let mut distinct: Vec<String> = Vec::with_capacity(labels.len());
        for l in labels {
            if !distinct.contains(l) {
                distinct.push(l.clone());
            }
        }
        self.counters.nodes_created += 1;
        self.counters.labels_added += distinct.len() as i64;
        self.counters.properties_set += props.len() as i64;
        self.changes.push_back(Change::CreateNode {
            id,
            labels: distinct,
            props,
        });
        self.touch(id);
        Ok(id)
    }

    pub(crate) fn tx_create_rel(
        &mut self,
        start: NodeId,
        end: NodeId,
        rel_type: &str,
        mut props: Map,
    ) -> Result<RelId> {
        for v in props.values() {
            check_storable(v)?;
        }
        props.retain(|_, v| !v.is_null());
        let id = self.mint_rel()?;
        if self.has_unique(EntityType::Relationship) {
            self.check_unique(
                EntityType::Relationship,
                id,
                &|t| t == rel_type,
                &|k| props.get(k).map(Cow::Borrowed),
                Some(rel_type),
                None,
            )?;
        }
        self.graph
            .raw_create_rel(id, start, end, rel_type, &props)?;
        self.counters.relationships_created += 1;
        self.counters.properties_set += props.len() as i64;
        self.changes.push_back(Change::CreateRel {
            id,
            start,
            end,
            rel_type: rel_type.to_owned(),
            props,
        });
        self.touch_rel(id);
        Ok(id)
    }

    pub(crate) fn tx_set_node_prop(&mut self, id: NodeId, key: &str, value: Value) -> Result<()> {
        check_storable(&value)?;
        let rec = self.graph.node_rec(id).ok_or_else(|| node_not_found(id))?;
        if value.is_null() && !rec.props.has(key) {
            return Ok(());
        }
        if !value.is_null() && self.has_unique(EntityType::Node) {
            self.check_unique(
                EntityType::Node,
                id,
                &|l| rec.has_label(l),
                &|k| {
                    if k == key {
                        Some(Cow::Borrowed(&value))
                    } else {
                        rec.props.get(k)
                    }
                },
                None,
                Some(key),
            )?;
        }
        self.graph.raw_set_node_prop(id, key, value.clone())?;
        self.counters.properties_set += 1;
        self.changes.push_back(Change::SetNodeProp {
            id,
            key: key.to_owned(),
            value,
        });
        self.touch(id);
        Ok(())
    }

    pub(crate) fn tx_set_rel_prop(&mut self, id: RelId, key: &str, value: Value) -> Result<()> {
        check_storable(&value)?;
        let rec = self.graph.rel_view(id).ok_or_else(|| rel_not_found(id))?;
        if value.is_null() && !rec.props.has(key) {
            return Ok(());
        }
        if !value.is_null() && self.has_unique(EntityType::Relationship) {
            self.check_unique(
                EntityType::Relationship,
                id,
                &|t| t == &**rec.ty,
                &|k| {
                    if k == key {
                        Some(Cow::Borrowed(&value))
                    } else {
                        rec.props.get(k)
                    }
                },
                Some(rec.ty),
                Some(key),
            )?;
        }
        self.graph.raw_set_rel_prop(id, key, value.clone())?;
        self.counters.properties_set += 1;
        self.changes.push_back(Change::SetRelProp {
            id,
            key: key.to_owned(),
            value,
        });
        self.touch_rel(id);
        Ok(())
    }

    pub(crate) fn tx_add_label(&mut self, id: NodeId, label: &str) -> Result<bool> {
        let rec = self.graph.node_rec(id).ok_or_else(|| node_not_found(id))?;
        if rec.has_label(label) {
            return Ok(false);
        }
        if self.has_unique(EntityType::Node) {
            self.check_unique(
                EntityType::Node,
                id,
                &|l| l == label || rec.has_label(l),
                &|k| rec.props.get(k),
                Some(label),
                None,
            )?;
        }
        self.graph.raw_add_label(id, label)?;
        self.counters.labels_added += 1;
        self.changes.push_back(Change::AddLabel {
            id,
            label: label.to_owned(),
        });
        self.touch(id);
        Ok(true)
    }

    pub(crate) fn tx_remove_label(&mut self, id: NodeId, label: &str) -> Result<bool> {
        if !self.graph.raw_remove_label(id, label)? {
            return Ok(false);
        }
        self.counters.labels_removed += 1;
        self.changes.push_back(Change::RemoveLabel {
            id,
            label: label.to_owned(),
        });
        Ok(true)
    }

    pub(crate) fn tx_delete_node(&mut self, id: NodeId, detach: bool) -> Result<()> {
        let Some(rec) = self.graph.node_rec(id) else {
            return Ok(());
        };
        if self.graph.node_has_rels(rec, id) {
            if !detach {
                return Err(crate::store::connected_node(id));
            }
            let mut rels: Vec<RelId> = Vec::new();
            self.graph
                .expand_rec(rec, id, crate::Dir::Both, &[], |r, _| rels.push(r));
            rels.sort_unstable();
            for r in rels {
                self.tx_delete_rel(r)?;
            }
        }
        self.graph.raw_delete_node(id)?;
        self.counters.nodes_deleted += 1;
        self.changes.push_back(Change::DeleteNode { id });
        Ok(())
    }

    pub(crate) fn tx_delete_rel(&mut self, id: RelId) -> Result<()> {
        if !self.graph.rel_exists(id) {
            return Ok(());
        }
        self.graph.raw_delete_rel(id)?;
        self.counters.relationships_deleted += 1;
        self.changes.push_back(Change::DeleteRel { id });
        Ok(())
    }

    pub(crate) fn tx_validate(&self) -> Result<()> {
        if self.graph.constraints.is_empty() {
            return Ok(());
        }
        for id in self.touched.iter() {
            if let Some(rec) = self.graph.node_rec(*id) {
                let props = rec.props.view();
                self.validate_entity(EntityType::Node, *id, &|l| rec.has_label(l), props)?;
            }
        }
        for id in self.touched_rels.iter() {
            if let Some(rec) = self.graph.rel_view(*id) {
                self.validate_entity(
                    EntityType::Relationship,
                    *id,
                    &|t| t == &**rec.ty,
                    rec.props,
                )?;
            }
        }
        Ok(())
    }

    fn validate_entity(
        &self,
        entity: EntityType,
        id: u64,
        has_label: &dyn Fn(&str) -> bool,
        props: PropsRef<'_>,
    ) -> Result<()> {
        for c in self.graph.constraints.values() {
            if c.entity != entity || !has_label(&c.label) {
                continue;
            }
            if matches!(c.kind, ConstraintType::NotNull | ConstraintType::NodeKey)
                && c.properties.iter().any(|p| !props.has(p))
            {
                return Err(Error::runtime(
                    Code::ConstraintValidationFailed,
                    "ConstraintValidationFailed",
                    missing_props_error(entity, id, &c.label, &c.properties),
                ));
            }
            if matches!(c.kind, ConstraintType::Unique | ConstraintType::NodeKey) {
                // Writes are checked as they happen; this only guards
                // against a path that slipped past those checks.
                let Some(ix) = self.graph.indexes.get(&c.name) else {
                    continue;
                };
                let Some(k) = ix.key_for(props) else { continue };
                if let Some(ids) = ix.entries.get(&k) {
                    if let Some(other) = ids.iter().find(|o| *o != id) {
                        let vals: Vec<Option<Cow<'_, Value>>> =
                            c.properties.iter().map(|p| props.get(p)).collect();
                        return Err(duplicate_error(
                            entity,
                            other,
                            &c.label,
                            &c.properties,
                            &vals,
                        ));
                    }
                }
            }
        }
        Ok(())
    }
}
