use std::collections::BTreeMap;
use std::fmt;

use crate::spatial::Point;
use crate::temporal::{self, DateTime, Duration, LocalDateTime, Time, Tz};

/// Property maps and Cypher map values. Ordered so that output is stable,
/// which keeps tests and snapshots deterministic.
pub type Map = BTreeMap<String, Value>;

/// A value as a client sees it: the PackStream types plus graph entities.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    String(String),
    Bytes(Vec<u8>),
    List(Vec<Value>),
    Map(Map),
    Node(Node),
    Relationship(Relationship),
    Path(Path),
    /// Days since 1970-01-01.
    Date(i64),
    Time(Time),
    /// Nanoseconds since midnight.
    LocalTime(i64),
    DateTime(DateTime),
    LocalDateTime(LocalDateTime),
    Duration(Duration),
    Point(Point),
}

#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    pub id: u64,
    pub labels: Vec<String>,
    pub props: Map,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Relationship {
    pub id: u64,
    pub start: u64,
    pub end: u64,
    pub rel_type: String,
    pub props: Map,
}

/// `rels[i]` joins `nodes[i]` and `nodes[i + 1]`, in either direction; its
/// own `start`/`end` say which way it points.
#[derive(Clone, Debug, PartialEq)]
pub struct Path {
    pub nodes: Vec<Node>,
    pub rels: Vec<Relationship>,
}

/// Element ids follow Neo4j 5's shape (`<kind>:<database>:<id>`) so that tools
/// which split them do not break; the numeric id is the source of truth.
pub fn element_id(id: u64) -> String {
    // Virtual entities' ids (2^63 and up) read as negative, as on the wire.
    format!("4:causeway:{}", id as i64)
}

/// The inverse of [`element_id`]; `None` for strings we did not produce.
pub fn parse_element_id(s: &str) -> Option<u64> {
    s.strip_prefix("4:causeway:")?.parse().ok()
}

/// Relationship element ids use another prefix, as Neo4j's do, so that a
/// node and a relationship with the same number never share an element id.
pub fn rel_element_id(id: u64) -> String {
    format!("5:causeway:{}", id as i64)
}

/// The inverse of [`rel_element_id`].
pub fn parse_rel_element_id(s: &str) -> Option<u64> {
    s.strip_prefix("5:causeway:")?.parse().ok()
}

impl Value {
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Null => "NULL",
            Value::Bool(_) => "BOOLEAN",
            Value::Int(_) => "INTEGER",
            Value::Float(_) => "FLOAT",
            Value::String(_) => "STRING",
            Value::Bytes(_) => "BYTE ARRAY",
            Value::List(_) => "LIST",
            Value::Map(_) => "MAP",
            Value::Node(_) => "NODE",
            Value::Relationship(_) => "RELATIONSHIP",
            Value::Path(_) => "PATH",
            Value::Date(_) => "DATE",
            Value::Time(_) => "ZONED TIME",
            Value::LocalTime(_) => "LOCAL TIME",
            Value::DateTime(_) => "ZONED DATETIME",
            Value::LocalDateTime(_) => "LOCAL DATETIME",
            Value::Duration(_) => "DURATION",
            Value::Point(_) => "POINT",
        }
    }

    pub fn is_temporal(&self) -> bool {
        matches!(
            self,
            Value::Date(_)
                | Value::Time(_)
                | Value::LocalTime(_)
                | Value::DateTime(_)
                | Value::LocalDateTime(_)
                | Value::Duration(_)
        )
    }

    /// The ISO-8601 text of a temporal value, in the form Cypher's
    /// `toString()` gives (and the TCK quotes); `None` for other values.
    pub fn temporal_text(&self) -> Option<String> {
        let mut s = String::new();
        match self {
            Value::Date(d) => temporal::write_date(&mut s, *d),
            Value::Time(t) => {
                temporal::write_time(&mut s, t.nanos);
                temporal::write_offset(&mut s, t.offset);
            }
            Value::LocalTime(n) => temporal::write_time(&mut s, *n),
            Value::DateTime(dt) => {
                let (days, nanos) = dt.local();
                temporal::write_date(&mut s, days);
                s.push('T');
                temporal::write_time(&mut s, nanos);
                temporal::write_offset(&mut s, dt.offset().unwrap_or(0));
                if let Tz::Zone(z) = &dt.tz {
                    s.push('[');
                    s.push_str(z);
                    s.push(']');
                }
            }
            Value::LocalDateTime(l) => {
                let (days, nanos) = l.local();
                temporal::write_date(&mut s, days);
                s.push('T');
                temporal::write_time(&mut s, nanos);
            }
            Value::Duration(d) => s = d.iso(),
            _ => return None,
        }
        Some(s)
    }

    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }
}

impl From<bool> for Value {
    fn from(v: bool) -> Self {
        Value::Bool(v)
    }
}
impl From<i64> for Value {
    fn from(v: i64) -> Self {
        Value::Int(v)
    }
}
impl From<f64> for Value {
    fn from(v: f64) -> Self {
        Value::Float(v)
    }
}
impl From<&str> for Value {
    fn from(v: &str) -> Self {
        Value::String(v.to_owned())
    }
}
impl From<String> for Value {
    fn from(v: String) -> Self {
        Value::String(v)
    }
}
impl<T: Into<Value>> From<Vec<T>> for Value {
    fn from(v: Vec<T>) -> Self {
        Value::List(v.into_iter().map(Into::into).collect())
    }
}

/// Cypher-literal rendering, the form the TCK writes expected values in.
impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Null => f.write_str("null"),
            Value::Bool(b) => write!(f, "{b}"),
            Value::Int(i) => write!(f, "{i}"),
            Value::Float(x) => fmt_float(*x, f),
            Value::String(s) => write!(f, "'{}'", s.replace('\\', "\\\\").replace('\'', "\\'")),
            Value::Bytes(b) => write!(f, "bytes({})", b.len()),
            Value::List(items) => {
                f.write_str("[")?;
                for (i, v) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{v}")?;
                }
                f.write_str("]")
            }
            Value::Map(m) => fmt_map(m, f),
            Value::Node(n) => fmt_node(n, f),
            Value::Relationship(r) => {
                write!(f, "[:{}", r.rel_type)?;
                if !r.props.is_empty() {
                    f.write_str(" ")?;
                    fmt_map(&r.props, f)?;
                }
                f.write_str("]")
            }
            Value::Date(_)
            | Value::Time(_)
            | Value::LocalTime(_)
            | Value::DateTime(_)
            | Value::LocalDateTime(_)
            | Value::Duration(_) => {
                // The TCK writes temporal results as quoted ISO strings.
                write!(f, "'{}'", self.temporal_text().unwrap_or_default())
            }
            Value::Point(p) => f.write_str(&p.text()),
            Value::Path(p) => {
                f.write_str("<")?;
                for (i, n) in p.nodes.iter().enumerate() {
                    if i > 0 {
                        let r = &p.rels[i - 1];
                        let forward = r.start == p.nodes[i - 1].id && r.end == n.id;
                        let rel = Value::Relationship(r.clone());
                        if forward {
                            write!(f, "-{rel}->")?;
                        } else {
                            write!(f, "<-{rel}-")?;
                        }
                    }
                    fmt_node(n, f)?;
                }
                f.write_str(">")
            }
        }
    }
}

/// A float as Java's `Double.toString` writes it, which is what Cypher's
/// `toString` gives: at least one decimal, and scientific notation below
/// 10^-3 and from 10^7 on (`1.0E7`, `1.0E-4`).
pub fn java_double(f: f64) -> String {
    if f.is_nan() {
        return "NaN".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { "Infinity" } else { "-Infinity" }.into();
    }
    let a = f.abs();
    if a != 0.0 && !(1e-3..1e7).contains(&a) {
        let s = format!("{f:e}");
        let (m, e) = s.split_once('e').unwrap_or((&s, "0"));
        let m = if m.contains('.') {
            m.to_owned()
        } else {
            format!("{m}.0")
        };
        return format!("{m}E{e}");
    }
    let s = format!("{f}");
    if s.contains('.') {
        s
    } else {
        format!("{s}.0")
    }
}

fn fmt_float(x: f64, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    if x.is_nan() {
        f.write_str("NaN")
    } else if x.is_infinite() {
        f.write_str(if x > 0.0 { "Infinity" } else { "-Infinity" })
    } else if x == x.trunc() && x.abs() < 1e16 {
        write!(f, "{x:.1}")
    } else {
        write!(f, "{x}")
    }
}

fn fmt_map(m: &Map, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    f.write_str("{")?;
    for (i, (k, v)) in m.iter().enumerate() {
        if i > 0 {
            f.write_str(", ")?;
        }
        write!(f, "{k}: {v}")?;
    }
    f.write_str("}")
}

fn fmt_node(n: &Node, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    f.write_str("(")?;
    for l in &n.labels {
        write!(f, ":{l}")?;
    }
    if !n.props.is_empty() {
        if !n.labels.is_empty() {
            f.write_str(" ")?;
        }
        fmt_map(&n.props, f)?;
    }
    f.write_str(")")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn element_ids_round_trip() {
        assert_eq!(parse_element_id(&element_id(42)), Some(42));
        assert_eq!(parse_element_id("4:other:42"), None);
        assert_eq!(parse_rel_element_id(&rel_element_id(42)), Some(42));
        assert_ne!(element_id(7), rel_element_id(7));
        assert_eq!(parse_element_id(&rel_element_id(7)), None);
    }

    #[test]
    fn display_is_cypher_literal() {
        let v = Value::List(vec![Value::Int(1), Value::Float(2.0), Value::from("it's")]);
        assert_eq!(v.to_string(), "[1, 2.0, 'it\\'s']");
    }

    #[test]
    fn temporals_render_as_cypher_prints_them() {
        let date = Value::Date(temporal::days_from_civil(2015, 7, 21));
        assert_eq!(date.to_string(), "'2015-07-21'");
        let secs = temporal::days_from_civil(2015, 7, 21) * 86_400 + 20 * 3600 + 40 * 60 + 32;
        let dt = Value::DateTime(DateTime {
            seconds: secs,
            nanos: 142_000_000,
            tz: Tz::Offset(3600),
        });
        assert_eq!(dt.to_string(), "'2015-07-21T21:40:32.142+01:00'");
        let zoned = Value::DateTime(DateTime {
            seconds: secs,
            nanos: 0,
            tz: Tz::Zone("Etc/GMT-2".into()),
        });
        assert_eq!(
            zoned.temporal_text().unwrap(),
            "2015-07-21T22:40:32+02:00[Etc/GMT-2]"
        );
        let t = Value::Time(Time {
            nanos: 12 * 3_600_000_000_000 + 1,
            offset: -5400,
        });
        assert_eq!(t.to_string(), "'12:00:00.000000001-01:30'");
        assert_eq!(Value::LocalTime(0).to_string(), "'00:00'");
        let ldt = Value::LocalDateTime(LocalDateTime {
            seconds: -1,
            nanos: 500_000_000,
        });
        assert_eq!(ldt.to_string(), "'1969-12-31T23:59:59.500'");
        let d = Value::Duration(Duration {
            months: 14,
            days: 3,
            seconds: 3723,
            nanos: 500_000_000,
        });
        assert_eq!(d.to_string(), "'P1Y2M3DT1H2M3.5S'");
        assert_eq!(Value::Date(-719_528 * 2000).type_name(), "DATE");
        // Far out of range must still render, never panic.
        let _ = Value::Date(i64::MIN).to_string();
        let _ = Value::DateTime(DateTime {
            seconds: i64::MAX,
            nanos: i64::MAX,
            tz: Tz::Offset(i32::MIN),
        })
        .to_string();
    }

    #[test]
    fn fixed_zones_resolve() {
        assert_eq!(temporal::fixed_zone_offset("UTC"), Some(0));
        assert_eq!(temporal::fixed_zone_offset("Etc/GMT+5"), Some(-5 * 3600));
        assert_eq!(temporal::fixed_zone_offset("+05:30"), Some(19_800));
        assert_eq!(temporal::fixed_zone_offset("UTC-03:00"), Some(-10_800));
        assert_eq!(temporal::fixed_zone_offset("Europe/Berlin"), None);
        // 2024-01-15 and 2024-07-15, noon UTC.
        assert_eq!(
            temporal::zone_offset_at("Europe/Berlin", 1_705_320_000),
            Some(3600)
        );
        assert_eq!(
            temporal::zone_offset_at("Europe/Berlin", 1_721_044_800),
            Some(7200)
        );
        assert_eq!(temporal::zone_offset_at("Mars/Olympus", 0), None);
        let berlin = temporal::NamedZone::parse("Europe/Berlin").unwrap();
        // 2024-03-31 02:30 does not exist there: it reads as 03:30+02:00.
        let gap = 1_711_852_200; // 2024-03-31T02:30 as a wall clock
        assert_eq!(berlin.from_local(gap), (gap - 3600, 7200));
        // 2024-10-27 02:30 happens twice: the first, at +02:00.
        let overlap = 1_729_996_200;
        assert_eq!(berlin.from_local(overlap), (overlap - 7200, 7200));
        assert_eq!(temporal::fixed_zone_offset("+19:00"), None);
        assert_eq!(temporal::fixed_zone_offset("Etc/GMT+"), None);
    }
}
