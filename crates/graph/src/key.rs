//! Index keys: a totally ordered image of storable property values in which
//! Cypher-equal values (e.g. `1` and `1.0`) are the same key, so an ordered
//! map gives both equality seeks and range scans.

use std::cmp::Ordering;

use causeway_value::Value;

#[derive(Clone, Copy, Debug)]
pub(crate) enum Num {
    Int(i64),
    Float(f64),
}

#[derive(Clone, Debug)]
pub(crate) enum Key {
    Bool(bool),
    Num(Num),
    Str(String),
    Bytes(Vec<u8>),
    List(Vec<Key>),
    /// Composite-index key; never mixed with other shapes in one index.
    Tuple(Vec<Key>),
    /// One temporal type (`kind`: date, local time, time, local date-time,
    /// date-time; each its own family, so ranges never mix them): `at` orders
    /// chronologically (instants for zoned types), and the offset breaks
    /// ties because Cypher calls zoned values equal only when both the
    /// instant and the offset agree.
    Temporal {
        kind: u8,
        at: i128,
        offset: i32,
    },
    /// Months, days, time part: equality only, durations have no order.
    Duration(i64, i64, i128),
    /// SRID, position on the Z-order curve, coordinate bit patterns.
    /// Cypher gives points no order; this one keeps equal points together
    /// and lays each coordinate system out along the curve, so a point
    /// index answers a bounding box with a few key ranges.
    Point(u32, u64, Box<[u64]>),
}

const NANOS: i128 = 1_000_000_000;

impl Key {
    /// `None` for values that can never be stored (or never compare equal).
    pub(crate) fn from_value(v: &Value) -> Option<Key> {
        Some(match v {
            Value::Bool(b) => Key::Bool(*b),
            Value::Int(i) => Key::Num(Num::Int(*i)),
            Value::Float(f) => {
                // Integral floats take the integer form, so Cypher-equal
                // values always have one canonical key whatever was
                // written first.
                let f = *f;
                if f.fract() == 0.0
                    && (-9_223_372_036_854_775_808.0..9_223_372_036_854_775_808.0).contains(&f)
                {
                    Key::Num(Num::Int(f as i64))
                } else {
                    Key::Num(Num::Float(f))
                }
            }
            Value::String(s) => Key::Str(s.clone()),
            Value::Bytes(b) => Key::Bytes(b.clone()),
            Value::List(items) => Key::List(
                items
                    .iter()
                    .map(Key::from_value)
                    .collect::<Option<Vec<_>>>()?,
            ),
            Value::Date(d) => Key::Temporal {
                kind: 0,
                at: i128::from(*d),
                offset: 0,
            },
            Value::LocalTime(n) => Key::Temporal {
                kind: 1,
                at: i128::from(*n),
                offset: 0,
            },
            Value::Time(t) => Key::Temporal {
                kind: 2,
                at: i128::from(t.nanos) - i128::from(t.offset) * NANOS,
                offset: t.offset,
            },
            Value::LocalDateTime(l) => Key::Temporal {
                kind: 3,
                at: i128::from(l.seconds) * NANOS + i128::from(l.nanos),
                offset: 0,
            },
            Value::DateTime(dt) => Key::Temporal {
                kind: 4,
                at: i128::from(dt.seconds) * NANOS + i128::from(dt.nanos),
                offset: dt.offset().unwrap_or(0),
            },
            Value::Duration(d) => Key::Duration(d.months, d.days, d.total_nanos()),
            // Bit patterns: points are equal when their coordinates are
            // bit for bit (0.0 and -0.0 differ), as Cypher's `=` says.
            Value::Point(p) => {
                let coords: Vec<f64> = [Some(p.x), Some(p.y), p.z].into_iter().flatten().collect();
                Key::Point(
                    p.srid,
                    crate::spatial::z_value(&coords),
                    coords.iter().map(|c| c.to_bits()).collect(),
                )
            }
            _ => return None,
        })
    }

    /// Widens a zoned temporal bound to every offset at its instant: range
    /// predicates compare instants only, so `>= t` must include values at
    /// t's instant in any offset. `low` picks the smallest such key.
    pub(crate) fn instant_bound(self, low: bool) -> Key {
        match self {
            Key::Temporal { kind, at, .. } => Key::Temporal {
                kind,
                at,
                offset: if low { i32::MIN } else { i32::MAX },
            },
            other => other,
        }
    }

    pub(crate) fn family(&self) -> u8 {
        match self {
            Key::Bool(_) => 0,
            Key::Num(_) => 1,
            Key::Str(_) => 2,
            Key::Bytes(_) => 3,
            Key::List(_) => 4,
            Key::Tuple(_) => 5,
            Key::Temporal { kind, .. } => 6 + kind,
            Key::Duration(..) => 11,
            Key::Point(..) => 12,
        }
    }

    /// The smallest key of a family, where an unbounded range scan starts.
    pub(crate) fn family_min(family: u8) -> Key {
        match family {
            0 => Key::Bool(false),
            1 => Key::Num(Num::Float(f64::NEG_INFINITY)),
            2 => Key::Str(String::new()),
            3 => Key::Bytes(Vec::new()),
            4 => Key::List(Vec::new()),
            6..=10 => Key::Temporal {
                kind: family - 6,
                at: i128::MIN,
                offset: i32::MIN,
            },
            11 => Key::Duration(i64::MIN, i64::MIN, i128::MIN),
            12 => Key::Point(0, 0, Box::default()),
            _ => Key::Tuple(Vec::new()),
        }
    }

    /// NaN is not equal (nor ordered) to anything in Cypher, so keys holding
    /// one never match a seek or a range.
    pub(crate) fn has_nan(&self) -> bool {
        match self {
            Key::Num(Num::Float(f)) => f.is_nan(),
            Key::List(items) | Key::Tuple(items) => items.iter().any(Key::has_nan),
            _ => false,
        }
    }
}

fn cmp_int_float(i: i64, f: f64) -> Ordering {
    if f.is_nan() {
        return Ordering::Less;
    }
    // 2^63 is exactly representable; anything at or above it exceeds i64.
    if f >= 9_223_372_036_854_775_808.0 {
        return Ordering::Less;
    }
    if f < -9_223_372_036_854_775_808.0 {
        return Ordering::Greater;
    }
    let t = f.trunc();
    match i.cmp(&(t as i64)) {
        Ordering::Equal => {
            let frac = f - t;
            if frac > 0.0 {
                Ordering::Less
            } else if frac < 0.0 {
                Ordering::Greater
            } else {
                Ordering::Equal
            }
        }
        o => o,
    }
}

fn cmp_num(a: Num, b: Num) -> Ordering {
    match (a, b) {
        (Num::Int(x), Num::Int(y)) => x.cmp(&y),
        (Num::Int(x), Num::Float(y)) => cmp_int_float(x, y),
        (Num::Float(x), Num::Int(y)) => cmp_int_float(y, x).reverse(),
        (Num::Float(x), Num::Float(y)) => match (x.is_nan(), y.is_nan()) {
            (true, true) => Ordering::Equal,
            (true, false) => Ordering::Greater,
            (false, true) => Ordering::Less,
            // -0.0 == 0.0 here, as in Cypher.
            (false, false) => x.partial_cmp(&y).unwrap_or(Ordering::Equal),
        },
    }
}

impl Ord for Key {
    fn cmp(&self, other: &Self) -> Ordering {
        match (self, other) {
            (Key::Bool(a), Key::Bool(b)) => a.cmp(b),
            (Key::Num(a), Key::Num(b)) => cmp_num(*a, *b),
            (Key::Str(a), Key::Str(b)) => a.cmp(b),
            (Key::Bytes(a), Key::Bytes(b)) => a.cmp(b),
            (Key::List(a), Key::List(b)) | (Key::Tuple(a), Key::Tuple(b)) => a.cmp(b),
            (
                Key::Temporal {
                    kind: ka,
                    at: a,
                    offset: oa,
                },
                Key::Temporal {
                    kind: kb,
                    at: b,
                    offset: ob,
                },
            ) => (ka, a, oa).cmp(&(kb, b, ob)),
            (Key::Duration(ma, da, na), Key::Duration(mb, db, nb)) => {
                (ma, da, na).cmp(&(mb, db, nb))
            }
            (Key::Point(sa, za, a), Key::Point(sb, zb, b)) => (sa, za, a).cmp(&(sb, zb, b)),
            _ => self.family().cmp(&other.family()),
        }
    }
}

impl PartialOrd for Key {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Key {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Key {}

#[cfg(test)]
mod tests {
    use super::*;

    fn k(v: Value) -> Key {
        Key::from_value(&v).unwrap()
    }

    #[test]
    fn ints_and_floats_compare_numerically() {
        assert_eq!(k(Value::Int(1)), k(Value::Float(1.0)));
        assert!(k(Value::Int(1)) < k(Value::Float(1.5)));
        assert!(k(Value::Float(0.5)) < k(Value::Int(1)));
        assert!(k(Value::Int(i64::MAX)) < k(Value::Float(1e19)));
        assert!(k(Value::Int(i64::MIN)) > k(Value::Float(-1e19)));
        assert!(k(Value::Int(-1)) < k(Value::Float(-0.5)));
        assert_eq!(k(Value::Float(-0.0)), k(Value::Int(0)));
        assert!(k(Value::Float(f64::NAN)) > k(Value::Float(f64::INFINITY)));
        assert!(k(Value::Float(f64::NAN)).has_nan());
    }

    #[test]
    fn lists_compare_elementwise() {
        assert_eq!(
            k(Value::from(vec![1i64, 2])),
            k(Value::List(vec![Value::Float(1.0), Value::Int(2)]))
        );
        assert!(Key::from_value(&Value::List(vec![Value::Null])).is_none());
    }

    #[test]
    fn temporals_order_within_their_type() {
        use causeway_value::{DateTime, Time, Tz};
        assert!(k(Value::Date(1)) < k(Value::Date(2)));
        assert_ne!(k(Value::Date(1)), k(Value::LocalTime(1)));
        assert_ne!(k(Value::Date(1)).family(), k(Value::LocalTime(1)).family());
        // 10:00+01:00 is 09:00Z: earlier than 09:30Z.
        let t = |h: i64, m: i64, offset: i32| {
            k(Value::Time(Time {
                nanos: (h * 60 + m) * 60_000_000_000,
                offset,
            }))
        };
        assert!(t(10, 0, 3600) < t(9, 30, 0));
        assert_ne!(t(10, 0, 3600), t(9, 0, 0));
        let dt = |seconds: i64, tz: Tz| {
            k(Value::DateTime(DateTime {
                seconds,
                nanos: 0,
                tz,
            }))
        };
        assert_eq!(dt(5, Tz::Offset(0)), dt(5, Tz::Zone("UTC".into())));
        assert!(dt(5, Tz::Offset(7200)) < dt(6, Tz::Offset(0)));
        let lo = dt(5, Tz::Offset(0)).instant_bound(true);
        let hi = dt(5, Tz::Offset(0)).instant_bound(false);
        assert!(lo < dt(5, Tz::Offset(-3600)) && dt(5, Tz::Offset(3600)) < hi);
    }
}
