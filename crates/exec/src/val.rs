//! The executor's own value type. Graph entities are kept as ids so that rows
//! stay small and cheap to clone; they are materialised into client values
//! only when results leave the engine.

use crate::temporal::{Kind, Temporal};
use causeway_graph::Graph;
use causeway_value::{Code, Error, Map, Value};
use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::sync::Arc;

pub type ValMap = BTreeMap<String, Val>;

#[derive(Clone, Debug, PartialEq)]
pub enum Val {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Bytes(Vec<u8>),
    List(Vec<Val>),
    Map(ValMap),
    Node(u64),
    Rel(u64),
    Path(Box<PathVal>),
    Temporal(Temporal),
    /// Boxed: a duration is twice the size of any other variant.
    Duration(Box<crate::duration::Duration>),
    /// Boxed, as durations are: a point is larger than any other variant.
    Point(Box<causeway_value::Point>),
    /// A virtual node or relationship (`Value::Node` / `Value::Relationship`
    /// with an id at or above `VIRTUAL_IDS`), as APOC's meta procedures
    /// return: it lives in the result only, never in the graph.
    Virtual(Box<Value>),
}

/// Ids of virtual entities start here: as Bolt's signed 64-bit ids they are
/// negative, as Neo4j's virtual ids are, and no stored entity reaches them.
pub const VIRTUAL_IDS: u64 = 1 << 63;

#[derive(Clone, Debug, PartialEq)]
pub struct PathVal {
    pub nodes: Vec<u64>,
    pub rels: Vec<u64>,
}

impl Val {
    pub fn is_null(&self) -> bool {
        matches!(self, Val::Null)
    }

    pub fn type_name(&self) -> &'static str {
        match self {
            Val::Null => "NULL",
            Val::Bool(_) => "Boolean",
            Val::Int(_) => "Integer",
            Val::Float(_) => "Float",
            Val::Str(_) => "String",
            Val::Bytes(_) => "ByteArray",
            Val::List(_) => "List",
            Val::Map(_) => "Map",
            Val::Node(_) => "Node",
            Val::Rel(_) => "Relationship",
            Val::Path(_) => "Path",
            Val::Temporal(_) => "Temporal",
            Val::Duration(_) => "Duration",
            Val::Point(_) => "Point",
            Val::Virtual(v) => match **v {
                Value::Relationship(_) => "Relationship",
                _ => "Node",
            },
        }
    }

    /// A property as the graph hands it out: an owned string moves in
    /// rather than being copied a second time.
    pub fn from_prop(v: std::borrow::Cow<'_, Value>) -> Val {
        match v {
            std::borrow::Cow::Owned(Value::String(s)) => Val::Str(s),
            v => Val::from_value(&v),
        }
    }

    pub fn from_value(v: &Value) -> Val {
        match v {
            Value::Null => Val::Null,
            Value::Bool(b) => Val::Bool(*b),
            Value::Int(i) => Val::Int(*i),
            Value::Float(f) => Val::Float(*f),
            Value::String(s) => Val::Str(s.clone()),
            Value::Bytes(b) => Val::Bytes(b.clone()),
            Value::List(l) => Val::List(l.iter().map(Val::from_value).collect()),
            Value::Map(m) => Val::Map(
                m.iter()
                    .map(|(k, v)| (k.clone(), Val::from_value(v)))
                    .collect(),
            ),
            Value::Node(n) if n.id >= VIRTUAL_IDS => Val::Virtual(Box::new(v.clone())),
            Value::Relationship(r) if r.id >= VIRTUAL_IDS => Val::Virtual(Box::new(v.clone())),
            Value::Node(n) => Val::Node(n.id),
            Value::Relationship(r) => Val::Rel(r.id),
            Value::Path(p) => Val::Path(Box::new(PathVal {
                nodes: p.nodes.iter().map(|n| n.id).collect(),
                rels: p.rels.iter().map(|r| r.id).collect(),
            })),
            Value::Date(_)
            | Value::Time(_)
            | Value::LocalTime(_)
            | Value::DateTime(_)
            | Value::LocalDateTime(_)
            | Value::Duration(_) => temporal_from_value(v),
            Value::Point(p) => Val::Point(Box::new(*p)),
        }
    }

    /// Materialises the value for a client. Entities deleted earlier in the
    /// statement no longer exist in the graph; like Neo4j we still hand out
    /// their identity (with no labels or properties) instead of failing.
    pub fn to_value(&self, g: &Graph) -> Value {
        match self {
            Val::Null => Value::Null,
            Val::Bool(b) => Value::Bool(*b),
            Val::Int(i) => Value::Int(*i),
            Val::Float(f) => Value::Float(*f),
            Val::Str(s) => Value::String(s.clone()),
            Val::Bytes(b) => Value::Bytes(b.clone()),
            Val::List(l) => Value::List(l.iter().map(|v| v.to_value(g)).collect()),
            Val::Map(m) => Value::Map(m.iter().map(|(k, v)| (k.clone(), v.to_value(g))).collect()),
            Val::Node(id) => Value::Node(node_value(g, *id)),
            Val::Rel(id) => Value::Relationship(rel_value(g, *id)),
            Val::Temporal(t) => temporal_to_value(t),
            Val::Duration(d) => duration_to_value(d),
            Val::Point(p) => Value::Point(**p),
            Val::Virtual(v) => (**v).clone(),
            Val::Path(p) => Value::Path(causeway_value::Path {
                nodes: p.nodes.iter().map(|n| node_value(g, *n)).collect(),
                rels: p.rels.iter().map(|r| rel_value(g, *r)).collect(),
            }),
        }
    }
}

/// The engine's form of a client temporal value. Zoned date-times live on
/// their wall clock in the engine, so the UTC instant is shifted by the
/// offset; an unknown zone id (rejected earlier, at the Bolt decoder and by
/// [`check_params`]) would be read as UTC.
fn temporal_from_value(v: &Value) -> Val {
    let t = |kind, days, nanos, offset| {
        Val::Temporal(Temporal {
            kind,
            days,
            nanos,
            offset,
            zone: None,
        })
    };
    match v {
        Value::Date(d) => t(Kind::Date, *d, 0, 0),
        Value::LocalTime(n) => t(Kind::LocalTime, 0, *n, 0),
        Value::Time(x) => t(Kind::Time, 0, x.nanos, x.offset),
        Value::LocalDateTime(l) => {
            let (days, nanos) = l.local();
            t(Kind::LocalDateTime, days, nanos, 0)
        }
        Value::DateTime(dt) => {
            let (days, nanos) = dt.local();
            Val::Temporal(Temporal {
                kind: Kind::DateTime,
                days,
                nanos,
                offset: dt.offset().unwrap_or(0),
                zone: match &dt.tz {
                    causeway_value::Tz::Zone(z) => causeway_value::temporal::NamedZone::parse(z),
                    causeway_value::Tz::Offset(_) => None,
                },
            })
        }
        Value::Duration(d) => Val::Duration(Box::new(crate::duration::Duration {
            months: d.months,
            days: d.days,
            nanos: d.total_nanos(),
        })),
        _ => Val::Null,
    }
}

const SECS_PER_DAY: i64 = 86_400;
const NANOS_PER_SEC: i64 = 1_000_000_000;

/// Epoch seconds and nanoseconds of a local wall clock. Engine values stay
/// within ±10^9 years, far inside i64 seconds; saturation only guards the
/// arithmetic.
fn wall_seconds(days: i64, nanos: i64) -> (i64, i64) {
    let secs = days
        .saturating_mul(SECS_PER_DAY)
        .saturating_add(nanos.div_euclid(NANOS_PER_SEC));
    (secs, nanos.rem_euclid(NANOS_PER_SEC))
}

pub fn temporal_to_value(t: &Temporal) -> Value {
    match t.kind {
        Kind::Date => Value::Date(t.days),
        Kind::LocalTime => Value::LocalTime(t.nanos),
        Kind::Time => Value::Time(causeway_value::Time {
            nanos: t.nanos,
            offset: t.offset,
        }),
        Kind::LocalDateTime => {
            let (seconds, nanos) = wall_seconds(t.days, t.nanos);
            Value::LocalDateTime(causeway_value::LocalDateTime { seconds, nanos })
        }
        Kind::DateTime => {
            let (local, nanos) = wall_seconds(t.days, t.nanos);
            Value::DateTime(causeway_value::DateTime {
                seconds: local.saturating_sub(i64::from(t.offset)),
                nanos,
                tz: match t.zone {
                    Some(z) => causeway_value::Tz::Zone(z.name().to_string()),
                    None => causeway_value::Tz::Offset(t.offset),
                },
            })
        }
    }
}

/// Durations whose time part exceeds i64 seconds (possible only through
/// extreme arithmetic) cannot travel as a Bolt Duration; they leave as text.
pub fn duration_to_value(d: &crate::duration::Duration) -> Value {
    let nps = i128::from(NANOS_PER_SEC);
    match i64::try_from(d.nanos.div_euclid(nps)) {
        Ok(seconds) => Value::Duration(causeway_value::Duration {
            months: d.months,
            days: d.days,
            seconds,
            nanos: d.nanos.rem_euclid(nps) as i64,
        }),
        Err(_) => Value::String(d.render()),
    }
}

/// Parameters the engine cannot represent faithfully: date-times in a zone
/// that is neither a fixed offset nor in the time-zone database.
pub fn check_params(params: &Map) -> Result<(), Error> {
    let mut stack: Vec<&Value> = params.values().collect();
    while let Some(v) = stack.pop() {
        match v {
            Value::List(l) => stack.extend(l.iter()),
            Value::Map(m) => stack.extend(m.values()),
            Value::DateTime(dt) if dt.offset().is_none() => {
                if let causeway_value::Tz::Zone(z) = &dt.tz {
                    return Err(arg_error(
                        "InvalidArgumentValue",
                        format!("Unknown time zone '{z}'"),
                    ));
                }
            }
            _ => {}
        }
    }
    Ok(())
}

fn node_value(g: &Graph, id: u64) -> causeway_value::Node {
    g.node_value(id).unwrap_or(causeway_value::Node {
        id,
        labels: Vec::new(),
        props: Map::new(),
    })
}

fn rel_value(g: &Graph, id: u64) -> causeway_value::Relationship {
    g.rel_value(id).unwrap_or(causeway_value::Relationship {
        id,
        start: 0,
        end: 0,
        rel_type: String::new(),
        props: Map::new(),
    })
}

/// A row of variable bindings. Few variables are in scope at a time, so a
/// small vector with linear lookup beats hashing.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Row(pub Vec<(Arc<str>, Val)>);

impl Row {
    pub fn get(&self, name: &str) -> Option<&Val> {
        self.0.iter().find(|(n, _)| &**n == name).map(|(_, v)| v)
    }
    pub fn contains(&self, name: &str) -> bool {
        self.0.iter().any(|(n, _)| &**n == name)
    }
    pub fn set(&mut self, name: &str, v: Val) {
        if let Some(slot) = self.0.iter_mut().find(|(n, _)| &**n == name) {
            slot.1 = v;
        } else {
            self.0.push((Arc::from(name), v));
        }
    }
    pub fn set_arc(&mut self, name: &Arc<str>, v: Val) {
        if let Some(slot) = self.0.iter_mut().find(|(n, _)| n == name) {
            slot.1 = v;
        } else {
            self.0.push((name.clone(), v));
        }
    }
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(|(n, _)| &**n)
    }
}

/// Cypher equality: `None` is null (unknown).
pub fn cypher_eq(a: &Val, b: &Val) -> Option<bool> {
    match (a, b) {
        (Val::Null, _) | (_, Val::Null) => None,
        (Val::Int(x), Val::Int(y)) => Some(x == y),
        (Val::Int(x), Val::Float(y)) | (Val::Float(y), Val::Int(x)) => Some(int_float_eq(*x, *y)),
        (Val::Float(x), Val::Float(y)) => Some(x == y),
        (Val::Bool(x), Val::Bool(y)) => Some(x == y),
        (Val::Str(x), Val::Str(y)) => Some(x == y),
        (Val::Bytes(x), Val::Bytes(y)) => Some(x == y),
        (Val::Node(x), Val::Node(y)) => Some(x == y),
        (Val::Rel(x), Val::Rel(y)) => Some(x == y),
        (Val::Path(x), Val::Path(y)) => Some(x == y),
        (Val::Temporal(x), Val::Temporal(y)) => {
            Some(x.cmp_same(y) == Some(Ordering::Equal) && x.offset == y.offset && x.zone == y.zone)
        }
        (Val::Duration(x), Val::Duration(y)) => Some(x == y),
        // Coordinates compare as Neo4j compares them, bit for bit (so
        // 0.0 and -0.0 differ), which keeps `=` and DISTINCT in agreement.
        (Val::Point(x), Val::Point(y)) => Some(
            x.srid == y.srid
                && x.x.to_bits() == y.x.to_bits()
                && x.y.to_bits() == y.y.to_bits()
                && x.z.map(f64::to_bits) == y.z.map(f64::to_bits),
        ),
        (Val::List(x), Val::List(y)) => {
            if x.len() != y.len() {
                return Some(false);
            }
            let mut unknown = false;
            for (p, q) in x.iter().zip(y) {
                match cypher_eq(p, q) {
                    Some(false) => return Some(false),
                    None => unknown = true,
                    Some(true) => {}
                }
            }
            if unknown {
                None
            } else {
                Some(true)
            }
        }
        (Val::Map(x), Val::Map(y)) => {
            if x.len() != y.len() || x.keys().zip(y.keys()).any(|(p, q)| p != q) {
                return Some(false);
            }
            let mut unknown = false;
            for (p, q) in x.values().zip(y.values()) {
                match cypher_eq(p, q) {
                    Some(false) => return Some(false),
                    None => unknown = true,
                    Some(true) => {}
                }
            }
            if unknown {
                None
            } else {
                Some(true)
            }
        }
        _ => Some(false),
    }
}

fn int_float_eq(i: i64, f: f64) -> bool {
    if f.fract() != 0.0 || !f.is_finite() {
        return false;
    }
    // Comparing through i128 avoids the rounding of casting i64 to f64.
    if !(-9.3e18..=9.3e18).contains(&f) {
        return false;
    }
    (f as i128) == i as i128
}

fn cmp_int_float(i: i64, f: f64) -> Option<Ordering> {
    if f.is_nan() {
        return None;
    }
    if f >= 9.3e18 {
        return Some(Ordering::Less);
    }
    if f <= -9.3e18 {
        return Some(Ordering::Greater);
    }
    let fi = f.floor() as i128;
    match (i as i128).cmp(&fi) {
        Ordering::Equal => {
            if f.fract() > 0.0 {
                Some(Ordering::Less)
            } else {
                Some(Ordering::Equal)
            }
        }
        o => Some(o),
    }
}

/// Cypher comparison for `<` and friends. `None` means the comparison is
/// null (incomparable types or a null operand). NaN compares as "false" for
/// every operator, which callers get via `CmpResult::NaN`.
pub enum CmpResult {
    Ord(Ordering),
    Null,
    False,
}

pub fn cypher_cmp(a: &Val, b: &Val) -> CmpResult {
    match (a, b) {
        (Val::Null, _) | (_, Val::Null) => CmpResult::Null,
        (Val::Int(x), Val::Int(y)) => CmpResult::Ord(x.cmp(y)),
        (Val::Float(x), Val::Float(y)) => match x.partial_cmp(y) {
            Some(o) => CmpResult::Ord(o),
            None => CmpResult::False,
        },
        (Val::Int(x), Val::Float(y)) => match cmp_int_float(*x, *y) {
            Some(o) => CmpResult::Ord(o),
            None => CmpResult::False,
        },
        (Val::Float(x), Val::Int(y)) => match cmp_int_float(*y, *x) {
            Some(o) => CmpResult::Ord(o.reverse()),
            None => CmpResult::False,
        },
        (Val::Str(x), Val::Str(y)) => CmpResult::Ord(x.cmp(y)),
        (Val::Bool(x), Val::Bool(y)) => CmpResult::Ord(x.cmp(y)),
        (Val::Temporal(x), Val::Temporal(y)) => match x.cmp_same(y) {
            Some(o) => CmpResult::Ord(o),
            None => CmpResult::Null,
        },
        (Val::List(x), Val::List(y)) => {
            for (p, q) in x.iter().zip(y) {
                match cypher_cmp(p, q) {
                    CmpResult::Ord(Ordering::Equal) => {}
                    other => return other,
                }
            }
            CmpResult::Ord(x.len().cmp(&y.len()))
        }
        _ => CmpResult::Null,
    }
}

fn type_rank(v: &Val) -> u8 {
    match v {
        Val::Map(_) => 0,
        Val::Node(_) => 1,
        Val::Rel(_) => 2,
        Val::Virtual(v) => match **v {
            Value::Relationship(_) => 2,
            _ => 1,
        },
        Val::List(_) => 3,
        Val::Path(_) => 4,
        Val::Point(_) => 5,
        Val::Temporal(_) => 6,
        Val::Duration(_) => 7,
        Val::Bytes(_) => 8,
        Val::Str(_) => 9,
        Val::Bool(_) => 10,
        Val::Int(_) | Val::Float(_) => 11,
        Val::Null => 12,
    }
}

/// The total order used by ORDER BY, min/max over mixed types and sorting:
/// values of different types order by type, nulls last, NaN above all numbers.
pub fn total_cmp(a: &Val, b: &Val) -> Ordering {
    let (ra, rb) = (type_rank(a), type_rank(b));
    if ra != rb {
        return ra.cmp(&rb);
    }
    match (a, b) {
        (Val::Int(x), Val::Int(y)) => x.cmp(y),
        (Val::Float(x), Val::Float(y)) => float_total(*x, *y),
        (Val::Int(x), Val::Float(y)) => {
            if y.is_nan() {
                Ordering::Less
            } else {
                cmp_int_float(*x, *y).unwrap_or(Ordering::Equal)
            }
        }
        (Val::Float(x), Val::Int(y)) => {
            if x.is_nan() {
                Ordering::Greater
            } else {
                cmp_int_float(*y, *x).unwrap_or(Ordering::Equal).reverse()
            }
        }
        (Val::Str(x), Val::Str(y)) => x.cmp(y),
        (Val::Bool(x), Val::Bool(y)) => x.cmp(y),
        (Val::Bytes(x), Val::Bytes(y)) => x.cmp(y),
        (Val::Temporal(x), Val::Temporal(y)) => x.total_cmp(y),
        (Val::Duration(x), Val::Duration(y)) => {
            (x.months, x.days, x.nanos).cmp(&(y.months, y.days, y.nanos))
        }
        (Val::Point(x), Val::Point(y)) => x
            .srid
            .cmp(&y.srid)
            .then_with(|| float_total(x.x, y.x))
            .then_with(|| float_total(x.y, y.y))
            .then_with(|| float_total(x.z.unwrap_or(0.0), y.z.unwrap_or(0.0))),
        (Val::Node(x), Val::Node(y)) | (Val::Rel(x), Val::Rel(y)) => x.cmp(y),
        (Val::List(x), Val::List(y)) => {
            for (p, q) in x.iter().zip(y) {
                let o = total_cmp(p, q);
                if o != Ordering::Equal {
                    return o;
                }
            }
            x.len().cmp(&y.len())
        }
        (Val::Path(x), Val::Path(y)) => x.nodes.cmp(&y.nodes).then_with(|| x.rels.cmp(&y.rels)),
        (Val::Map(x), Val::Map(y)) => {
            for ((kx, vx), (ky, vy)) in x.iter().zip(y.iter()) {
                let o = kx.cmp(ky).then_with(|| total_cmp(vx, vy));
                if o != Ordering::Equal {
                    return o;
                }
            }
            x.len().cmp(&y.len())
        }
        _ => Ordering::Equal,
    }
}

fn float_total(x: f64, y: f64) -> Ordering {
    match (x.is_nan(), y.is_nan()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Greater,
        (false, true) => Ordering::Less,
        _ => x.partial_cmp(&y).unwrap_or(Ordering::Equal),
    }
}

/// A hashable stand-in for a value under equivalence (used by DISTINCT and
/// grouping): null equals null, NaN equals NaN, 1 equals 1.0.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Key {
    Null,
    Bool(bool),
    Int(i64),
    Float(u64),
    NaN,
    Str(String),
    Bytes(Vec<u8>),
    List(Vec<Key>),
    Map(Vec<(String, Key)>),
    Node(u64),
    Rel(u64),
    Path(Vec<u64>, Vec<u64>),
    Temporal(String),
}

pub fn key_of(v: &Val) -> Key {
    match v {
        Val::Null => Key::Null,
        Val::Bool(b) => Key::Bool(*b),
        Val::Int(i) => Key::Int(*i),
        Val::Float(f) => {
            if f.is_nan() {
                Key::NaN
            } else if f.fract() == 0.0 && f.abs() < 9.0e15 {
                Key::Int(*f as i64)
            } else if *f == 0.0 {
                Key::Int(0)
            } else {
                Key::Float(f.to_bits())
            }
        }
        Val::Str(s) => Key::Str(s.clone()),
        Val::Bytes(b) => Key::Bytes(b.clone()),
        Val::List(l) => Key::List(l.iter().map(key_of).collect()),
        Val::Map(m) => Key::Map(m.iter().map(|(k, v)| (k.clone(), key_of(v))).collect()),
        Val::Node(id) => Key::Node(*id),
        Val::Rel(id) => Key::Rel(*id),
        Val::Virtual(v) => match &**v {
            Value::Relationship(r) => Key::Rel(r.id),
            Value::Node(n) => Key::Node(n.id),
            _ => Key::Null,
        },
        Val::Path(p) => Key::Path(p.nodes.clone(), p.rels.clone()),
        Val::Temporal(t) => Key::Temporal(format!("{:?}{}", t.kind, t.render())),
        Val::Duration(d) => Key::Temporal(format!("D{}", d.render())),
        Val::Point(p) => Key::Temporal(p.text()),
    }
}

pub fn type_error(msg: impl Into<String>) -> Error {
    Error::runtime(Code::TypeError, "InvalidArgumentType", msg)
}

pub fn arg_error(detail: &'static str, msg: impl Into<String>) -> Error {
    Error::runtime(Code::ArgumentError, detail, msg)
}

pub fn overflow() -> Error {
    Error::runtime(Code::ArithmeticError, "IntegerOverflow", "long overflow")
}

pub fn to_val_map(m: &Map) -> ValMap {
    m.iter()
        .map(|(k, v)| (k.clone(), Val::from_value(v)))
        .collect()
}

/// How deeply values may nest. Recursive code over values (comparison,
/// hashing, conversion, the Bolt encoder, even `Drop`) stays well within
/// small thread stacks below this.
pub const MAX_VALUE_DEPTH: usize = 256;

/// Whether `v` nests deeper than `limit`, walked without recursion.
pub fn nesting_exceeds(v: &Val, limit: usize) -> bool {
    let mut stack: Vec<(&Val, usize)> = vec![(v, 1)];
    while let Some((x, d)) = stack.pop() {
        if d > limit {
            return true;
        }
        match x {
            Val::List(l) => stack.extend(l.iter().map(|c| (c, d + 1))),
            Val::Map(m) => stack.extend(m.values().map(|c| (c, d + 1))),
            _ => {}
        }
    }
    false
}
