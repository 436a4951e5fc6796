//! Compact versioned binary encoding of change sets and whole graphs.
//!
//! Layout: a 4-byte magic (kind + format version), then LEB128 varints,
//! zigzag for signed integers, little-endian IEEE floats, length-prefixed
//! UTF-8 strings. Every length or count is checked against the bytes left
//! before anything is allocated, so corrupt input fails cleanly.

use std::sync::Arc;

use causeway_value::{
    spatial, Code, DateTime, Duration, Error, LocalDateTime, Map, Result, Time, Tz, Value,
};

use crate::base::{find_sorted, RelBaseBuilder};
use crate::store::{NodeRec, Props, PropsRef, Stored, StoredRef, Sym};
use crate::{
    Change, ChangeSet, ConstraintDef, ConstraintType, EntityType, FulltextIndexDef, Graph,
    IndexDef, IndexType, PointSettings, Similarity, VectorIndexDef, MAX_DIMENSIONS,
};

const CHANGES_MAGIC: &[u8; 4] = b"CWC\x01";
const GRAPH_MAGIC: &[u8; 4] = b"CWG\x01";
/// Format 2 adds temporal value tags (9..=15) to format 1, and format 3
/// point tags (16, 17). An encoding is written in the lowest format that
/// holds its values, so that a peer or an older binary keeps reading
/// whatever it can represent, and refuses the rest as an unknown format.
const FORMAT_V1: u8 = 1;
const FORMAT_V2: u8 = 2;
const FORMAT_V3: u8 = 3;
/// Set in an index definition's option byte and in a constraint's kind
/// byte for relationship schema. Node schema leaves it clear, so it encodes
/// exactly as before relationship schema existed and older binaries keep
/// reading it; they reject relationship schema as corrupt rather than
/// silently turning it into node schema.
const REL_FLAG: u8 = 0x80;
/// Property lists are flat; the margin only tolerates maps in lists.
const MAX_DEPTH: u32 = 32;

fn corrupt(what: &str) -> Error {
    Error::new(Code::Unknown, format!("corrupt encoding: {what}"))
}

/// The bytes so far, and the format they need (0 until a value needs more
/// than format 1).
#[derive(Default)]
struct W(Vec<u8>, u8);

impl W {
    /// The bytes, with the magic's format byte raised to what the values
    /// written need.
    fn finish(mut self) -> Vec<u8> {
        if self.1 > FORMAT_V1 {
            if let Some(b) = self.0.get_mut(3) {
                *b = self.1;
            }
        }
        self.0
    }
    fn u8(&mut self, b: u8) {
        self.0.push(b);
    }
    fn u64(&mut self, mut v: u64) {
        while v >= 0x80 {
            self.0.push((v as u8) | 0x80);
            v >>= 7;
        }
        self.0.push(v as u8);
    }
    fn len(&mut self, n: usize) {
        self.u64(n as u64);
    }
    fn i64(&mut self, v: i64) {
        self.u64(((v << 1) ^ (v >> 63)) as u64);
    }
    fn bytes(&mut self, b: &[u8]) {
        self.len(b.len());
        self.0.extend_from_slice(b);
    }
    fn str(&mut self, s: &str) {
        self.bytes(s.as_bytes());
    }
    fn strs<S: AsRef<str>>(&mut self, v: &[S]) {
        self.len(v.len());
        for s in v {
            self.str(s.as_ref());
        }
    }
    /// A string as `value` writes `Value::String`.
    fn string_value(&mut self, s: &str) {
        self.u8(5);
        self.str(s);
    }
    fn value(&mut self, v: &Value) {
        match v {
            Value::Bool(false) => self.u8(1),
            Value::Bool(true) => self.u8(2),
            Value::Int(i) => {
                self.u8(3);
                self.i64(*i);
            }
            Value::Float(f) => {
                self.u8(4);
                self.f64(*f);
            }
            Value::String(s) => self.string_value(s),
            Value::Bytes(b) => {
                self.u8(6);
                self.bytes(b);
            }
            Value::List(items) => {
                self.u8(7);
                self.len(items.len());
                for it in items {
                    self.value(it);
                }
            }
            Value::Map(m) => {
                self.u8(8);
                self.map(m);
            }
            Value::Date(_)
            | Value::Time(_)
            | Value::LocalTime(_)
            | Value::DateTime(_)
            | Value::LocalDateTime(_)
            | Value::Duration(_) => {
                self.1 = self.1.max(FORMAT_V2);
                self.temporal(v);
            }
            Value::Point(p) => {
                self.1 = self.1.max(FORMAT_V3);
                self.u8(if p.z.is_some() { 17 } else { 16 });
                self.u64(u64::from(p.srid));
                for c in [Some(p.x), Some(p.y), p.z].into_iter().flatten() {
                    self.0.extend_from_slice(&c.to_bits().to_le_bytes());
                }
            }
            // Not storable, so never part of a change set or graph.
            Value::Null | Value::Node(_) | Value::Relationship(_) | Value::Path(_) => self.u8(0),
        }
    }
    fn temporal(&mut self, v: &Value) {
        match v {
            Value::Date(d) => {
                self.u8(9);
                self.i64(*d);
            }
            Value::Time(t) => {
                self.u8(10);
                self.i64(t.nanos);
                self.i64(i64::from(t.offset));
            }
            Value::LocalTime(n) => {
                self.u8(11);
                self.i64(*n);
            }
            Value::DateTime(dt) => match &dt.tz {
                Tz::Offset(o) => {
                    self.u8(12);
                    self.i64(dt.seconds);
                    self.i64(dt.nanos);
                    self.i64(i64::from(*o));
                }
                Tz::Zone(z) => {
                    self.u8(13);
                    self.i64(dt.seconds);
                    self.i64(dt.nanos);
                    self.str(z);
                }
            },
            Value::LocalDateTime(l) => {
                self.u8(14);
                self.i64(l.seconds);
                self.i64(l.nanos);
            }
            Value::Duration(d) => {
                self.u8(15);
                self.i64(d.months);
                self.i64(d.days);
                self.i64(d.seconds);
                self.i64(d.nanos);
            }
            _ => unreachable!("only temporal values are written here"),
        }
    }
    fn map(&mut self, m: &Map) {
        self.len(m.len());
        for (k, v) in m {
            self.str(k);
            self.value(v);
        }
    }
    fn props(&mut self, p: PropsRef<'_>) {
        self.len(p.len());
        p.for_each(|k, v| {
            self.str(k);
            match v {
                // Written without building a `Value` first.
                StoredRef::Str(s) => self.string_value(s),
                other => self.value(&other.get()),
            }
        });
    }
    fn index_def(&mut self, d: &IndexDef) {
        self.str(&d.name);
        self.str(&d.label);
        self.strs(&d.properties);
        // Bit 1: owned by a constraint, its name follows. Bit 2: a point
        // index, its settings follow (a tag older binaries refuse).
        let point = match &d.kind {
            IndexType::Range => None,
            IndexType::Point(s) => Some(s),
        };
        let flags = u8::from(d.owning_constraint.is_some()) | if point.is_some() { 2 } else { 0 };
        self.u8(flags | entity_flag(d.entity));
        if let Some(c) = &d.owning_constraint {
            self.str(c);
        }
        if let Some(settings) = point {
            self.len(settings.0.len());
            for (key, values) in &settings.0 {
                self.str(key);
                self.len(values.len());
                for v in values {
                    self.f64(*v);
                }
            }
        }
    }
    fn f64(&mut self, f: f64) {
        self.0.extend_from_slice(&f.to_bits().to_le_bytes());
    }
    fn vector_index_def(&mut self, d: &VectorIndexDef) {
        self.str(&d.name);
        self.str(&d.label);
        self.str(&d.property);
        self.u8(entity_flag(d.entity));
        self.u64(d.dimensions.map_or(0, u64::from));
        self.u8(match d.similarity {
            Similarity::Cosine => 0,
            Similarity::Euclidean => 1,
        });
        self.u64(u64::from(d.hnsw_m));
        self.u64(u64::from(d.hnsw_ef_construction));
        self.u8(u8::from(d.quantization));
    }
    fn fulltext_index_def(&mut self, d: &FulltextIndexDef) {
        self.str(&d.name);
        self.u8(entity_flag(d.entity) | if d.eventually_consistent { 2 } else { 0 });
        self.strs(&d.labels);
        self.strs(&d.properties);
        self.str(&d.analyzer);
    }
    fn constraint_def(&mut self, d: &ConstraintDef) {
        self.str(&d.name);
        self.str(&d.label);
        self.strs(&d.properties);
        let kind = match d.kind {
            ConstraintType::Unique => 0,
            ConstraintType::NotNull => 1,
            ConstraintType::NodeKey => 2,
        };
        self.u8(kind | entity_flag(d.entity));
    }
}

fn entity_flag(e: EntityType) -> u8 {
    match e {
        EntityType::Node => 0,
        EntityType::Relationship => REL_FLAG,
    }
}

/// Splits a byte into its entity flag and the rest.
fn split_entity(b: u8) -> (EntityType, u8) {
    if b & REL_FLAG != 0 {
        (EntityType::Relationship, b & !REL_FLAG)
    } else {
        (EntityType::Node, b)
    }
}

struct R<'a> {
    buf: &'a [u8],
    pos: usize,
    format: u8,
}

impl<'a> R<'a> {
    fn new(buf: &'a [u8]) -> Self {
        R {
            buf,
            pos: 0,
            format: FORMAT_V1,
        }
    }
    fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }
    fn u8(&mut self) -> Result<u8> {
        let b = *self.buf.get(self.pos).ok_or_else(|| corrupt("truncated"))?;
        self.pos += 1;
        Ok(b)
    }
    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        if n > self.remaining() {
            return Err(corrupt("length exceeds input"));
        }
        let s = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }
    fn f64(&mut self) -> Result<f64> {
        let b = self.take(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(f64::from_bits(u64::from_le_bytes(a)))
    }
    fn u64(&mut self) -> Result<u64> {
        let mut v: u64 = 0;
        for shift in (0..64).step_by(7) {
            let b = self.u8()?;
            let bits = u64::from(b & 0x7f);
            if shift == 63 && bits > 1 {
                return Err(corrupt("varint overflow"));
            }
            v |= bits << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(corrupt("varint too long"))
    }
    fn i64(&mut self) -> Result<i64> {
        let u = self.u64()?;
        Ok(((u >> 1) as i64) ^ -((u & 1) as i64))
    }
    /// A count of items each taking at least `min_size` bytes.
    fn count(&mut self, min_size: usize) -> Result<usize> {
        let n = self.u64()?;
        let n = usize::try_from(n).map_err(|_| corrupt("count too large"))?;
        if n.saturating_mul(min_size.max(1)) > self.remaining() {
            return Err(corrupt("count exceeds input"));
        }
        Ok(n)
    }
    fn bytes(&mut self) -> Result<&'a [u8]> {
        let n = self.count(1)?;
        self.take(n)
    }
    fn str(&mut self) -> Result<&'a str> {
        std::str::from_utf8(self.bytes()?).map_err(|_| corrupt("invalid utf-8"))
    }
    fn string(&mut self) -> Result<String> {
        self.str().map(str::to_owned)
    }
    fn strs(&mut self) -> Result<Vec<String>> {
        let n = self.count(1)?;
        let mut v = Vec::with_capacity(n);
        for _ in 0..n {
            v.push(self.string()?);
        }
        Ok(v)
    }
    fn value(&mut self, depth: u32) -> Result<Value> {
        if depth > MAX_DEPTH {
            return Err(corrupt("nesting too deep"));
        }
        let t = self.u8()?;
        if t >= 9 && self.format < FORMAT_V2 {
            return Err(corrupt("temporal value in a format 1 encoding"));
        }
        if t >= 16 && self.format < FORMAT_V3 {
            return Err(corrupt("point in a format 1 or 2 encoding"));
        }
        Ok(match t {
            0 => Value::Null,
            1 => Value::Bool(false),
            2 => Value::Bool(true),
            3 => Value::Int(self.i64()?),
            4 => Value::Float(self.f64()?),
            5 => Value::String(self.string()?),
            6 => Value::Bytes(self.bytes()?.to_vec()),
            7 => {
                let n = self.count(1)?;
                let mut v = Vec::with_capacity(n);
                for _ in 0..n {
                    v.push(self.value(depth + 1)?);
                }
                Value::List(v)
            }
            8 => Value::Map(self.map(depth + 1)?),
            9 => Value::Date(self.i64()?),
            10 => Value::Time(Time {
                nanos: self.i64()?,
                offset: self.offset()?,
            }),
            11 => Value::LocalTime(self.i64()?),
            12 => Value::DateTime(DateTime {
                seconds: self.i64()?,
                nanos: self.i64()?,
                tz: Tz::Offset(self.offset()?),
            }),
            13 => Value::DateTime(DateTime {
                seconds: self.i64()?,
                nanos: self.i64()?,
                tz: Tz::Zone(self.string()?),
            }),
            14 => Value::LocalDateTime(LocalDateTime {
                seconds: self.i64()?,
                nanos: self.i64()?,
            }),
            15 => Value::Duration(Duration {
                months: self.i64()?,
                days: self.i64()?,
                seconds: self.i64()?,
                nanos: self.i64()?,
            }),
            16 | 17 => {
                let srid = i64::try_from(self.u64()?).map_err(|_| corrupt("point srid"))?;
                let crs = spatial::crs_by_srid(srid).ok_or_else(|| corrupt("point srid"))?;
                let n = if t == 17 { 3 } else { 2 };
                let mut coords = Vec::with_capacity(n);
                for _ in 0..n {
                    coords.push(self.f64()?);
                }
                Value::Point(spatial::Point::new(crs, &coords).map_err(|_| corrupt("point"))?)
            }
            _ => return Err(corrupt("unknown value tag")),
        })
    }
    fn offset(&mut self) -> Result<i32> {
        i32::try_from(self.i64()?).map_err(|_| corrupt("time zone offset out of range"))
    }
    fn map(&mut self, depth: u32) -> Result<Map> {
        let n = self.count(2)?;
        let mut m = Map::new();
        for _ in 0..n {
            let k = self.string()?;
            let v = self.value(depth)?;
            m.insert(k, v);
        }
        Ok(m)
    }
    fn index_def(&mut self) -> Result<IndexDef> {
        let name = self.string()?;
        let label = self.string()?;
        let properties = self.strs()?;
        let (entity, tag) = split_entity(self.u8()?);
        if tag & !3 != 0 {
            return Err(corrupt("bad option tag"));
        }
        let owning_constraint = if tag & 1 != 0 {
            Some(self.string()?)
        } else {
            None
        };
        let kind = if tag & 2 != 0 {
            let n = self.count(2)?;
            let mut settings = Vec::with_capacity(n);
            for _ in 0..n {
                let key = self.string()?;
                let m = self.count(8)?;
                let mut values = Vec::with_capacity(m);
                for _ in 0..m {
                    values.push(self.f64()?);
                }
                settings.push((key, values));
            }
            IndexType::Point(PointSettings(settings))
        } else {
            IndexType::Range
        };
        Ok(IndexDef {
            name,
            entity,
            label,
            properties,
            owning_constraint,
            kind,
        })
    }
    fn vector_index_def(&mut self) -> Result<VectorIndexDef> {
        let name = self.string()?;
        let label = self.string()?;
        let property = self.string()?;
        let (entity, rest) = split_entity(self.u8()?);
        if rest != 0 {
            return Err(corrupt("bad vector index flags"));
        }
        let dimensions = match self.u64()? {
            0 => None,
            d if d <= u64::from(MAX_DIMENSIONS) => Some(d as u32),
            _ => return Err(corrupt("vector dimensions out of range")),
        };
        let similarity = match self.u8()? {
            0 => Similarity::Cosine,
            1 => Similarity::Euclidean,
            _ => return Err(corrupt("unknown similarity")),
        };
        let small = |v: u64| u32::try_from(v).map_err(|_| corrupt("vector setting out of range"));
        let hnsw_m = small(self.u64()?)?;
        let hnsw_ef_construction = small(self.u64()?)?;
        let quantization = match self.u8()? {
            0 => false,
            1 => true,
            _ => return Err(corrupt("bad boolean")),
        };
        Ok(VectorIndexDef {
            name,
            entity,
            label,
            property,
            dimensions,
            similarity,
            hnsw_m,
            hnsw_ef_construction,
            quantization,
        })
    }
    fn fulltext_index_def(&mut self) -> Result<FulltextIndexDef> {
        let name = self.string()?;
        let (entity, rest) = split_entity(self.u8()?);
        if rest & !2 != 0 {
            return Err(corrupt("bad fulltext index flags"));
        }
        let labels = self.strs()?;
        let properties = self.strs()?;
        if labels.is_empty() || properties.is_empty() {
            return Err(corrupt("empty fulltext index"));
        }
        Ok(FulltextIndexDef {
            name,
            entity,
            labels,
            properties,
            analyzer: self.string()?,
            eventually_consistent: rest & 2 != 0,
        })
    }
    fn constraint_def(&mut self) -> Result<ConstraintDef> {
        let name = self.string()?;
        let label = self.string()?;
        let properties = self.strs()?;
        let (entity, tag) = split_entity(self.u8()?);
        let kind = match tag {
            0 => ConstraintType::Unique,
            1 => ConstraintType::NotNull,
            2 => ConstraintType::NodeKey,
            _ => return Err(corrupt("bad constraint kind")),
        };
        Ok(ConstraintDef {
            name,
            entity,
            label,
            properties,
            kind,
        })
    }
    fn magic(&mut self, m: &[u8; 4]) -> Result<()> {
        let got = self.take(4)?;
        if got[..3] != m[..3] {
            return Err(corrupt("bad magic"));
        }
        if !(FORMAT_V1..=FORMAT_V3).contains(&got[3]) {
            return Err(corrupt("unsupported format version"));
        }
        self.format = got[3];
        Ok(())
    }
    fn end(&self) -> Result<()> {
        if self.remaining() != 0 {
            return Err(corrupt("trailing bytes"));
        }
        Ok(())
    }
}

fn write_change(w: &mut W, c: &Change) {
    match c {
        Change::CreateNode { id, labels, props } => {
            w.u8(0);
            w.u64(*id);
            w.strs(labels);
            w.map(props);
        }
        Change::CreateRel {
            id,
            start,
            end,
            rel_type,
            props,
        } => {
            w.u8(1);
            w.u64(*id);
            w.u64(*start);
            w.u64(*end);
            w.str(rel_type);
            w.map(props);
        }
        Change::SetNodeProp { id, key, value } => {
            w.u8(2);
            w.u64(*id);
            w.str(key);
            w.value(value);
        }
        Change::SetRelProp { id, key, value } => {
            w.u8(3);
            w.u64(*id);
            w.str(key);
            w.value(value);
        }
        Change::AddLabel { id, label } => {
            w.u8(4);
            w.u64(*id);
            w.str(label);
        }
        Change::RemoveLabel { id, label } => {
            w.u8(5);
            w.u64(*id);
            w.str(label);
        }
        Change::DeleteNode { id } => {
            w.u8(6);
            w.u64(*id);
        }
        Change::DeleteRel { id } => {
            w.u8(7);
            w.u64(*id);
        }
        Change::CreateIndex { def } => {
            w.u8(8);
            w.index_def(def);
        }
        Change::DropIndex { name } => {
            w.u8(9);
            w.str(name);
        }
        Change::CreateConstraint { def } => {
            w.u8(10);
            w.constraint_def(def);
        }
        Change::DropConstraint { name } => {
            w.u8(11);
            w.str(name);
        }
        // A tag older binaries do not know: they refuse the log entry
        // rather than skip an index.
        Change::CreateVectorIndex { def } => {
            w.u8(12);
            w.vector_index_def(def);
        }
        Change::CreateFulltextIndex { def } => {
            w.u8(13);
            w.fulltext_index_def(def);
        }
    }
}

fn read_change(r: &mut R<'_>) -> Result<Change> {
    Ok(match r.u8()? {
        0 => Change::CreateNode {
            id: r.u64()?,
            labels: r.strs()?,
            props: r.map(0)?,
        },
        1 => Change::CreateRel {
            id: r.u64()?,
            start: r.u64()?,
            end: r.u64()?,
            rel_type: r.string()?,
            props: r.map(0)?,
        },
        2 => Change::SetNodeProp {
            id: r.u64()?,
            key: r.string()?,
            value: r.value(0)?,
        },
        3 => Change::SetRelProp {
            id: r.u64()?,
            key: r.string()?,
            value: r.value(0)?,
        },
        4 => Change::AddLabel {
            id: r.u64()?,
            label: r.string()?,
        },
        5 => Change::RemoveLabel {
            id: r.u64()?,
            label: r.string()?,
        },
        6 => Change::DeleteNode { id: r.u64()? },
        7 => Change::DeleteRel { id: r.u64()? },
        8 => Change::CreateIndex {
            def: r.index_def()?,
        },
        9 => Change::DropIndex { name: r.string()? },
        10 => Change::CreateConstraint {
            def: r.constraint_def()?,
        },
        11 => Change::DropConstraint { name: r.string()? },
        12 => Change::CreateVectorIndex {
            def: r.vector_index_def()?,
        },
        13 => Change::CreateFulltextIndex {
            def: r.fulltext_index_def()?,
        },
        _ => return Err(corrupt("unknown change tag")),
    })
}

pub(crate) fn encode_changes(cs: &ChangeSet) -> Vec<u8> {
    let mut w = W::default();
    w.0.extend_from_slice(CHANGES_MAGIC);
    w.len(cs.changes.len());
    for c in &cs.changes {
        write_change(&mut w, c);
    }
    w.finish()
}

pub(crate) fn decode_changes(bytes: &[u8]) -> Result<ChangeSet> {
    let mut r = R::new(bytes);
    r.magic(CHANGES_MAGIC)?;
    let n = r.count(2)?;
    let mut changes = Vec::with_capacity(n);
    for _ in 0..n {
        changes.push(read_change(&mut r)?);
    }
    r.end()?;
    Ok(ChangeSet { changes })
}

pub(crate) fn encode_graph(g: &Graph) -> Vec<u8> {
    let mut w = W::default();
    w.0.extend_from_slice(GRAPH_MAGIC);
    w.u64(g.version);
    w.u64(g.next_node);
    w.u64(g.next_rel);
    w.len(g.prop_keys.len());
    for k in g.prop_keys.iter() {
        w.str(k);
    }
    w.len(g.nodes.len());
    for (id, rec) in g.nodes.iter() {
        w.u64(*id);
        w.strs(&rec.labels);
        w.props(rec.props.view());
    }
    let rels = g.all_rels();
    w.len(rels.len());
    for id in rels {
        let Some(rec) = g.rel_view(id) else {
            continue;
        };
        w.u64(id);
        w.str(rec.ty);
        w.u64(rec.start);
        w.u64(rec.end);
        w.props(rec.props);
    }
    let plain: Vec<&IndexDef> = g
        .indexes
        .values()
        .map(|ix| &*ix.def)
        .filter(|d| d.owning_constraint.is_none())
        .collect();
    w.len(plain.len());
    for d in plain {
        w.index_def(d);
    }
    w.len(g.constraints.len());
    for c in g.constraints.values() {
        w.constraint_def(c);
    }
    // Trailing sections, written only when needed, so a graph without
    // vector or fulltext indexes encodes as before; an older binary refuses
    // a section it does not know. Fulltext follows vector (even an empty
    // vector section).
    if !g.vector_indexes.is_empty() || !g.fulltext_indexes.is_empty() {
        w.len(g.vector_indexes.len());
        for d in g.vector_indexes.values() {
            w.vector_index_def(d);
        }
    }
    if !g.fulltext_indexes.is_empty() {
        w.len(g.fulltext_indexes.len());
        for d in g.fulltext_indexes.values() {
            w.fulltext_index_def(d);
        }
    }
    w.finish()
}

/// Reads an entity's properties into `push(key, value)`, which returns
/// false for a key the entity already has; a null or repeated key is
/// corrupt.
fn read_prop_entries(r: &mut R<'_>, mut push: impl FnMut(&str, Stored) -> bool) -> Result<()> {
    let n = r.count(2)?;
    for _ in 0..n {
        let k = r.str()?;
        let Some(v) = Stored::new(r.value(0)?) else {
            return Err(corrupt("bad property"));
        };
        if !push(k, v) {
            return Err(corrupt("bad property"));
        }
    }
    Ok(())
}

fn read_props(r: &mut R<'_>, g: &mut Graph) -> Result<Props> {
    let mut entries: Vec<(Sym, Stored)> = Vec::new();
    read_prop_entries(r, |k, v| {
        if entries.iter().any(|(x, _)| &**x == k) {
            return false;
        }
        entries.push((g.intern(k), v));
        true
    })?;
    Ok(Props::from_entries(entries))
}

pub(crate) fn decode_graph(bytes: &[u8]) -> Result<Graph> {
    let mut r = R::new(bytes);
    r.magic(GRAPH_MAGIC)?;
    let mut g = Graph::new();
    let version = r.u64()?;
    let next_node = r.u64()?;
    let next_rel = r.u64()?;
    let n = r.count(1)?;
    for _ in 0..n {
        let k = r.str()?;
        let k = g.intern(k);
        g.prop_keys.insert(k);
    }
    let n = r.count(3)?;
    // The base numbers nodes with u32 positions.
    if n > u32::MAX as usize {
        return Err(corrupt("too many nodes"));
    }
    let mut node_ids: Vec<u64> = Vec::with_capacity(n);
    for _ in 0..n {
        let id = r.u64()?;
        if node_ids.last().is_some_and(|l| id <= *l) {
            return Err(corrupt("node ids out of order"));
        }
        node_ids.push(id);
        let nl = r.count(1)?;
        let mut labels: Vec<Sym> = Vec::with_capacity(nl);
        for _ in 0..nl {
            let l = r.str()?;
            if labels.iter().any(|x| &**x == l) {
                return Err(corrupt("duplicate label"));
            }
            labels.push(g.intern(l));
        }
        let props = read_props(&mut r, &mut g)?;
        g.insert_node_rec(
            id,
            NodeRec {
                labels,
                props,
                ..NodeRec::default()
            },
        );
    }
    // Relationships go straight into the base's arrays.
    let n = r.count(5)?;
    let mut last = None;
    let mut base = RelBaseBuilder::default();
    for _ in 0..n {
        let id = r.u64()?;
        if last.is_some_and(|l| id <= l) {
            return Err(corrupt("relationship ids out of order"));
        }
        last = Some(id);
        let ty = r.str()?;
        let start = r.u64()?;
        let end = r.u64()?;
        if find_sorted(&node_ids, start).is_none() || find_sorted(&node_ids, end).is_none() {
            return Err(corrupt("relationship to missing node"));
        }
        if !base.has_room() {
            return Err(corrupt("too many relationships"));
        }
        base.push(id, ty, start, end, |t| g.intern(t));
        read_prop_entries(&mut r, |k, v| base.props.push(k, v, |k| g.intern(k)))?;
        base.props.end_row();
    }
    g.base = Arc::new(base.finish(&node_ids));
    g.next_rel = g.next_rel.max(last.map_or(0, |l| l.saturating_add(1)));
    let n = r.count(4)?;
    for _ in 0..n {
        let d = r.index_def()?;
        if d.owning_constraint.is_some() {
            return Err(corrupt("owned index listed as plain"));
        }
        g.raw_create_index(&d)
            .map_err(|_| corrupt("duplicate index"))?;
    }
    let n = r.count(4)?;
    for _ in 0..n {
        let d = r.constraint_def()?;
        g.raw_create_constraint(&d)
            .map_err(|_| corrupt("duplicate constraint"))?;
    }
    if r.remaining() > 0 {
        let n = r.count(6)?;
        for _ in 0..n {
            let d = r.vector_index_def()?;
            g.raw_create_vector_index(&d)
                .map_err(|_| corrupt("duplicate index"))?;
        }
    }
    if r.remaining() > 0 {
        let n = r.count(4)?;
        for _ in 0..n {
            let d = r.fulltext_index_def()?;
            g.raw_create_fulltext_index(&d)
                .map_err(|_| corrupt("duplicate or malformed fulltext index"))?;
        }
    }
    r.end()?;
    if next_node < g.next_node || next_rel < g.next_rel {
        return Err(corrupt("id counters behind data"));
    }
    g.version = version;
    g.next_node = next_node;
    g.next_rel = next_rel;
    Ok(g)
}
