//! Matching the engine's values against the TCK's expected values.
//!
//! Entities compare by labels/type and properties only: the TCK never states
//! ids. Integers and floats are distinct (`1` does not match `1.0`), as the
//! TCK intends; floats allow a tiny relative error because expected values
//! are written in decimal.

use crate::tckvalue::{TckNode, TckRel, TckValue};
use causeway_value::{Map, Node, Relationship, Value};
use std::collections::BTreeMap;

const FLOAT_REL_TOLERANCE: f64 = 1e-12;

pub fn float_eq(a: f64, b: f64) -> bool {
    if a.is_nan() || b.is_nan() {
        return a.is_nan() && b.is_nan();
    }
    if a == b {
        return true;
    }
    if a.is_infinite() || b.is_infinite() {
        return false;
    }
    (a - b).abs() <= FLOAT_REL_TOLERANCE * a.abs().max(b.abs())
}

/// `unordered_lists` makes every list, at any depth, compare as a multiset:
/// that is what the TCK's "ignoring element order for lists" asks for.
pub fn matches(actual: &Value, expected: &TckValue, unordered_lists: bool) -> bool {
    match (actual, expected) {
        (Value::Null, TckValue::Null) => true,
        (Value::Bool(a), TckValue::Bool(b)) => a == b,
        (Value::Int(a), TckValue::Int(b)) => a == b,
        (Value::Float(a), TckValue::Float(b)) => float_eq(*a, *b),
        (Value::String(a), TckValue::String(b)) => a == b,
        // The TCK writes temporal results as their ISO strings.
        (a, TckValue::String(b)) if a.is_temporal() => a.temporal_text().as_deref() == Some(b),
        (Value::List(a), TckValue::List(b)) => {
            if unordered_lists {
                multiset_match(a, b, |x, y| matches(x, y, true))
            } else {
                a.len() == b.len() && a.iter().zip(b).all(|(x, y)| matches(x, y, false))
            }
        }
        (Value::Map(a), TckValue::Map(b)) => props_match(a, b, unordered_lists),
        (Value::Node(a), TckValue::Node(b)) => node_matches(a, b, unordered_lists),
        (Value::Relationship(a), TckValue::Rel(b)) => rel_matches(a, b, unordered_lists),
        (Value::Path(a), TckValue::Path(b)) => {
            if a.rels.len() != b.segments.len() || a.nodes.len() != a.rels.len() + 1 {
                return false;
            }
            if !node_matches(&a.nodes[0], &b.start, unordered_lists) {
                return false;
            }
            b.segments
                .iter()
                .enumerate()
                .all(|(i, (rel, forward, node))| {
                    let r = &a.rels[i];
                    let (from, to) = (&a.nodes[i], &a.nodes[i + 1]);
                    let direction_ok = if *forward {
                        r.start == from.id && r.end == to.id
                    } else {
                        r.start == to.id && r.end == from.id
                    };
                    direction_ok
                        && rel_matches(r, rel, unordered_lists)
                        && node_matches(to, node, unordered_lists)
                })
        }
        _ => false,
    }
}

fn node_matches(a: &Node, b: &TckNode, unordered_lists: bool) -> bool {
    let mut la: Vec<&str> = a.labels.iter().map(String::as_str).collect();
    let mut lb: Vec<&str> = b.labels.iter().map(String::as_str).collect();
    la.sort_unstable();
    lb.sort_unstable();
    la == lb && props_match(&a.props, &b.props, unordered_lists)
}

fn rel_matches(a: &Relationship, b: &TckRel, unordered_lists: bool) -> bool {
    a.rel_type == b.rel_type && props_match(&a.props, &b.props, unordered_lists)
}

fn props_match(a: &Map, b: &BTreeMap<String, TckValue>, unordered_lists: bool) -> bool {
    a.len() == b.len()
        && a.iter()
            .all(|(k, v)| b.get(k).is_some_and(|e| matches(v, e, unordered_lists)))
}

/// Whether `actual` and `expected` are equal as multisets under `eq`.
/// Finds a perfect matching (augmenting paths), so a loose `eq` such as
/// float tolerance cannot make a greedy choice miss a valid pairing.
pub fn multiset_match<A, E>(actual: &[A], expected: &[E], eq: impl Fn(&A, &E) -> bool) -> bool {
    let n = actual.len();
    if n != expected.len() {
        return false;
    }
    let adj: Vec<Vec<usize>> = expected
        .iter()
        .map(|e| (0..n).filter(|&i| eq(&actual[i], e)).collect())
        .collect();
    if adj.iter().any(Vec::is_empty) {
        return false;
    }
    // owner[i] = the expected element actual[i] is paired with.
    let mut owner: Vec<Option<usize>> = vec![None; n];
    for e in 0..n {
        let mut seen = vec![false; n];
        if !augment(e, &adj, &mut owner, &mut seen) {
            return false;
        }
    }
    true
}

fn augment(e: usize, adj: &[Vec<usize>], owner: &mut [Option<usize>], seen: &mut [bool]) -> bool {
    for &a in &adj[e] {
        if seen[a] {
            continue;
        }
        seen[a] = true;
        let free = match owner[a] {
            None => true,
            Some(other) => augment(other, adj, owner, seen),
        };
        if free {
            owner[a] = Some(e);
            return true;
        }
    }
    false
}

pub fn rows_match(
    actual: &[Vec<Value>],
    expected: &[Vec<TckValue>],
    ordered: bool,
    unordered_lists: bool,
) -> bool {
    let row_eq = |a: &Vec<Value>, e: &Vec<TckValue>| {
        a.len() == e.len() && a.iter().zip(e).all(|(x, y)| matches(x, y, unordered_lists))
    };
    if ordered {
        actual.len() == expected.len() && actual.iter().zip(expected).all(|(a, e)| row_eq(a, e))
    } else {
        multiset_match(actual, expected, row_eq)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tckvalue::parse;
    use causeway_value::Path;

    fn node(id: u64, labels: &[&str], props: &[(&str, Value)]) -> Node {
        Node {
            id,
            labels: labels.iter().map(|s| s.to_string()).collect(),
            props: props
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect(),
        }
    }

    fn rel(id: u64, start: u64, end: u64, t: &str) -> Relationship {
        Relationship {
            id,
            start,
            end,
            rel_type: t.into(),
            props: Map::new(),
        }
    }

    fn m(actual: &Value, expected: &str) -> bool {
        matches(actual, &parse(expected).unwrap(), false)
    }

    #[test]
    fn scalars_are_type_strict() {
        assert!(m(&Value::Int(1), "1"));
        assert!(!m(&Value::Int(1), "1.0"));
        assert!(!m(&Value::Float(1.0), "1"));
        assert!(m(&Value::Float(0.1 + 0.2), "0.3"));
        assert!(!m(&Value::Float(0.31), "0.3"));
        assert!(m(&Value::Float(f64::NAN), "NaN"));
        assert!(m(&Value::Float(f64::NEG_INFINITY), "-Inf"));
        assert!(!m(&Value::Float(f64::INFINITY), "-Inf"));
        assert!(m(&Value::Null, "null"));
        assert!(!m(&Value::Null, "'null'"));
        assert!(m(&Value::from("it's"), r"'it\'s'"));
    }

    #[test]
    fn lists_and_maps() {
        let l = Value::from(vec![1i64, 2]);
        assert!(m(&l, "[1, 2]"));
        assert!(!m(&l, "[2, 1]"));
        assert!(matches(&l, &parse("[2, 1]").unwrap(), true));
        let nested = Value::List(vec![Value::from(vec![1i64, 2]), Value::from(vec![3i64])]);
        assert!(matches(&nested, &parse("[[3], [2, 1]]").unwrap(), true));
        assert!(!matches(&nested, &parse("[[3], [2, 2]]").unwrap(), true));
        let mut map = Map::new();
        map.insert("a".into(), Value::Int(1));
        assert!(m(&Value::Map(map.clone()), "{a: 1}"));
        assert!(!m(&Value::Map(map.clone()), "{a: 1, b: null}"));
        assert!(!m(&Value::Map(map), "{}"));
    }

    #[test]
    fn entities_ignore_ids_and_label_order() {
        let n = Value::Node(node(7, &["B", "A"], &[("name", Value::from("x"))]));
        assert!(m(&n, "(:A:B {name: 'x'})"));
        assert!(!m(&n, "(:A {name: 'x'})"));
        assert!(!m(&n, "(:A:B)"));
        let mut r = rel(3, 1, 2, "T");
        r.props.insert("k".into(), Value::Int(1));
        assert!(m(&Value::Relationship(r.clone()), "[:T {k: 1}]"));
        assert!(!m(&Value::Relationship(r), "[:U {k: 1}]"));
    }

    #[test]
    fn paths_check_direction() {
        let a = node(1, &["A"], &[]);
        let b = node(2, &["B"], &[]);
        let p = Value::Path(Path {
            nodes: vec![a.clone(), b.clone()],
            rels: vec![rel(9, 1, 2, "T")],
        });
        assert!(m(&p, "<(:A)-[:T]->(:B)>"));
        assert!(!m(&p, "<(:A)<-[:T]-(:B)>"));
        assert!(!m(&p, "<(:A)>"));
        let back = Value::Path(Path {
            nodes: vec![b, a],
            rels: vec![rel(9, 1, 2, "T")],
        });
        assert!(m(&back, "<(:B)<-[:T]-(:A)>"));
        let single = Value::Path(Path {
            nodes: vec![node(1, &[], &[])],
            rels: vec![],
        });
        assert!(m(&single, "<()>"));
    }

    #[test]
    fn rows_in_and_out_of_order() {
        let rows = vec![
            vec![Value::Int(1)],
            vec![Value::Int(2)],
            vec![Value::Int(1)],
        ];
        let exp = |v: &[i64]| -> Vec<Vec<TckValue>> {
            v.iter().map(|i| vec![TckValue::Int(*i)]).collect()
        };
        assert!(rows_match(&rows, &exp(&[1, 2, 1]), true, false));
        assert!(!rows_match(&rows, &exp(&[1, 1, 2]), true, false));
        assert!(rows_match(&rows, &exp(&[1, 1, 2]), false, false));
        assert!(!rows_match(&rows, &exp(&[1, 2, 2]), false, false));
        assert!(!rows_match(&rows, &exp(&[1, 2]), false, false));
        assert!(rows_match(&[], &[], false, false));
    }

    #[test]
    fn matching_is_not_greedy() {
        // 'a' matches both x and y; greedy pairing a-x would leave b unmatched.
        let eq = |a: &&str, e: &&str| match *a {
            "a" => true,
            "b" => *e == "x",
            _ => false,
        };
        assert!(multiset_match(&["a", "b"], &["x", "y"], eq));
    }
}
