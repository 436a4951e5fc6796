//! Scalar functions.

use crate::eval::{all_props, as_f64, eval, list_too_long, Ctx};
use crate::val::*;
use causeway_cypher::ast::Expr;
use causeway_value::{element_id, Code, Error, Result};
use std::sync::atomic::{AtomicU64, Ordering};

/// Names of every scalar function this module implements (lower case), for
/// compile-time "unknown function" checks.
pub const KNOWN: &[&str] = &[
    "id",
    "elementid",
    "labels",
    "type",
    "keys",
    "properties",
    "size",
    "length",
    "nodes",
    "relationships",
    "rels",
    "startnode",
    "endnode",
    "coalesce",
    "head",
    "last",
    "tail",
    "range",
    "reverse",
    "tostring",
    "tostringornull",
    "tointeger",
    "tointegerornull",
    "tofloat",
    "tofloatornull",
    "toboolean",
    "tobooleanornull",
    "tobooleanlist",
    "tointegerlist",
    "tofloatlist",
    "tostringlist",
    "abs",
    "sign",
    "ceil",
    "floor",
    "round",
    "sqrt",
    "exp",
    "log",
    "log10",
    "e",
    "pi",
    "sin",
    "cos",
    "tan",
    "cot",
    "asin",
    "acos",
    "atan",
    "atan2",
    "degrees",
    "radians",
    "haversin",
    "rand",
    "toupper",
    "tolower",
    "upper",
    "lower",
    "trim",
    "ltrim",
    "rtrim",
    "replace",
    "substring",
    "split",
    "left",
    "right",
    "timestamp",
    "randomuuid",
    "exists",
    "isempty",
    "char_length",
    "character_length",
    "nullif",
    "valuetype",
    "isnan",
    "date",
    "localtime",
    "time",
    "localdatetime",
    "datetime",
    "btrim",
    "sinh",
    "cosh",
    "tanh",
    "coth",
    "datetime.fromepoch",
    "datetime.fromepochmillis",
    "date.statement",
    "date.transaction",
    "date.realtime",
    "localtime.statement",
    "localtime.transaction",
    "localtime.realtime",
    "time.statement",
    "time.transaction",
    "time.realtime",
    "localdatetime.statement",
    "localdatetime.transaction",
    "localdatetime.realtime",
    "datetime.statement",
    "datetime.transaction",
    "datetime.realtime",
    "duration",
    "duration.between",
    "duration.inmonths",
    "duration.indays",
    "duration.inseconds",
    "date.truncate",
    "localtime.truncate",
    "time.truncate",
    "localdatetime.truncate",
    "datetime.truncate",
    "vector.similarity.cosine",
    "vector.similarity.euclidean",
    "point",
    "point.distance",
    "distance",
    "point.withinbbox",
];

pub fn call(ctx: &Ctx, name: &str, args: &[Expr], row: &Row) -> Result<Val> {
    let lname = name.to_ascii_lowercase();
    let mut vals = Vec::with_capacity(args.len());
    for a in args {
        vals.push(eval(ctx, a, row)?);
    }
    apply(ctx, &lname, name, &vals)
}

fn want(name: &str, v: &[Val], n: std::ops::RangeInclusive<usize>) -> Result<()> {
    if n.contains(&v.len()) {
        Ok(())
    } else {
        Err(Error::compile(
            Code::SyntaxError,
            "InvalidNumberOfArguments",
            format!("Insufficient parameters for function '{name}'"),
        ))
    }
}

fn bad_arg(name: &str, v: &Val) -> Error {
    type_error(format!(
        "Invalid input for function '{name}()': Expected a different type, got {}",
        v.type_name()
    ))
}

fn bad_value(name: &str, v: &Val) -> Error {
    Error::runtime(
        Code::TypeError,
        "InvalidArgumentValue",
        format!(
            "Invalid input for function '{name}()': Expected a String, Number or Boolean, got: {}",
            v.type_name()
        ),
    )
}

fn num_fn(name: &str, v: &Val, f: fn(f64) -> f64) -> Result<Val> {
    match v {
        Val::Null => Ok(Val::Null),
        Val::Int(_) | Val::Float(_) => Ok(Val::Float(f(as_f64(v)))),
        other => Err(bad_arg(name, other)),
    }
}

/// `vector.similarity.*`: the score a vector index would give the pair;
/// null if either is null (or, for cosine, has no direction).
fn vector_similarity(
    g: &causeway_graph::Graph,
    name: &str,
    similarity: causeway_graph::Similarity,
    a: &Val,
    b: &Val,
) -> Result<Val> {
    if a.is_null() || b.is_null() {
        return Ok(Val::Null);
    }
    let as_vector = |v: &Val| {
        causeway_graph::to_vector(&v.to_value(g)).ok_or_else(|| {
            Error::runtime(
                Code::ArgumentError,
                "InvalidArgumentValue",
                format!(
                    "Invalid input for function '{name}()': expected a non-empty list of \
                     finite numbers, got {}",
                    v.type_name()
                ),
            )
        })
    };
    let (x, y) = (as_vector(a)?, as_vector(b)?);
    if x.len() != y.len() {
        return Err(Error::runtime(
            Code::ArgumentError,
            "InvalidArgumentValue",
            format!(
                "Invalid input for function '{name}()': the supplied vectors do not have the \
                 same number of dimensions ({} and {}).",
                x.len(),
                y.len()
            ),
        ));
    }
    Ok(similarity.score(&x, &y).map_or(Val::Null, Val::Float))
}

fn str_arg<'v>(name: &str, v: &'v Val) -> Result<Option<&'v str>> {
    match v {
        Val::Null => Ok(None),
        Val::Str(s) => Ok(Some(s)),
        other => Err(bad_arg(name, other)),
    }
}

fn int_arg(name: &str, v: &Val) -> Result<Option<i64>> {
    match v {
        Val::Null => Ok(None),
        Val::Int(i) => Ok(Some(*i)),
        Val::Float(f) if f.fract() == 0.0 && f.abs() < 9.0e18 => Ok(Some(*f as i64)),
        other => Err(bad_arg(name, other)),
    }
}

pub fn apply(ctx: &Ctx, lname: &str, name: &str, v: &[Val]) -> Result<Val> {
    let g = ctx.g;
    let a0 = v.first().unwrap_or(&Val::Null);
    let a1 = v.get(1).unwrap_or(&Val::Null);
    let a2 = v.get(2).unwrap_or(&Val::Null);
    if lname.starts_with("apoc.") {
        if let Some(r) = crate::apoc::function(ctx, lname, v) {
            return r;
        }
    }
    match lname {
        "id" => {
            want(name, v, 1..=1)?;
            match a0 {
                Val::Null => Ok(Val::Null),
                Val::Node(i) | Val::Rel(i) => Ok(Val::Int(i64::try_from(*i).unwrap_or(i64::MAX))),
                other => Err(bad_arg(name, other)),
            }
        }
        "elementid" => {
            want(name, v, 1..=1)?;
            match a0 {
                Val::Null => Ok(Val::Null),
                // Bolt renders element ids with the same functions, so
                // this matches what drivers see.
                Val::Node(i) => Ok(Val::Str(element_id(*i))),
                Val::Rel(i) => Ok(Val::Str(causeway_value::rel_element_id(*i))),
                other => Err(bad_arg(name, other)),
            }
        }
        "labels" => {
            want(name, v, 1..=1)?;
            match a0 {
                Val::Null => Ok(Val::Null),
                Val::Node(i) => Ok(Val::List(
                    g.node_labels(*i)
                        .ok_or_else(|| crate::eval::deleted_access("Node", *i))?
                        .into_iter()
                        .map(|l| Val::Str(l.to_owned()))
                        .collect(),
                )),
                Val::Virtual(x) => match &**x {
                    causeway_value::Value::Node(n) => {
                        Ok(Val::List(n.labels.iter().cloned().map(Val::Str).collect()))
                    }
                    _ => Err(bad_arg(name, a0)),
                },
                other => Err(bad_arg(name, other)),
            }
        }
        "type" => {
            want(name, v, 1..=1)?;
            match a0 {
                Val::Null => Ok(Val::Null),
                Val::Rel(i) => Ok(Val::Str(crate::eval::rel_type(ctx, *i)?)),
                Val::Virtual(x) => match &**x {
                    causeway_value::Value::Relationship(r) => Ok(Val::Str(r.rel_type.clone())),
                    _ => Err(bad_arg(name, a0)),
                },
                other => Err(bad_arg(name, other)),
            }
        }
        "keys" => {
            want(name, v, 1..=1)?;
            match a0 {
                Val::Null => Ok(Val::Null),
                Val::Node(_) | Val::Rel(_) | Val::Map(_) | Val::Virtual(_) => Ok(Val::List(
                    all_props(g, a0)?
                        .into_iter()
                        .map(|(k, _)| Val::Str(k))
                        .collect(),
                )),
                other => Err(bad_arg(name, other)),
            }
        }
        "properties" => {
            want(name, v, 1..=1)?;
            match a0 {
                Val::Null => Ok(Val::Null),
                Val::Node(_) | Val::Rel(_) | Val::Map(_) | Val::Virtual(_) => {
                    Ok(Val::Map(all_props(g, a0)?.into_iter().collect()))
                }
                other => Err(bad_arg(name, other)),
            }
        }
        "size" => {
            want(name, v, 1..=1)?;
            match a0 {
                Val::Null => Ok(Val::Null),
                Val::List(l) => Ok(Val::Int(len_i64(l.len()))),
                Val::Str(s) => Ok(Val::Int(len_i64(s.chars().count()))),
                other => Err(bad_arg(name, other)),
            }
        }
        "char_length" | "character_length" => {
            want(name, v, 1..=1)?;
            match str_arg(name, a0)? {
                None => Ok(Val::Null),
                Some(s) => Ok(Val::Int(len_i64(s.chars().count()))),
            }
        }
        "length" => {
            want(name, v, 1..=1)?;
            match a0 {
                Val::Null => Ok(Val::Null),
                Val::Path(p) => Ok(Val::Int(len_i64(p.rels.len()))),
                Val::Str(s) => Ok(Val::Int(len_i64(s.chars().count()))),
                Val::List(l) => Ok(Val::Int(len_i64(l.len()))),
                other => Err(bad_arg(name, other)),
            }
        }
        "nodes" => {
            want(name, v, 1..=1)?;
            match a0 {
                Val::Null => Ok(Val::Null),
                Val::Path(p) => Ok(Val::List(p.nodes.iter().map(|n| Val::Node(*n)).collect())),
                other => Err(bad_arg(name, other)),
            }
        }
        "relationships" | "rels" => {
            want(name, v, 1..=1)?;
            match a0 {
                Val::Null => Ok(Val::Null),
                Val::Path(p) => Ok(Val::List(p.rels.iter().map(|n| Val::Rel(*n)).collect())),
                other => Err(bad_arg(name, other)),
            }
        }
        "startnode" | "endnode" => {
            want(name, v, 1..=1)?;
            match a0 {
                Val::Null => Ok(Val::Null),
                Val::Rel(i) => {
                    let r = g
                        .rel(*i)
                        .ok_or_else(|| crate::eval::deleted_access("Relationship", *i))?;
                    Ok(Val::Node(if lname == "startnode" {
                        r.start
                    } else {
                        r.end
                    }))
                }
                other => Err(bad_arg(name, other)),
            }
        }
        "coalesce" => {
            want(name, v, 1..=usize::MAX)?;
            Ok(v.iter()
                .find(|x| !x.is_null())
                .cloned()
                .unwrap_or(Val::Null))
        }
        "head" | "last" => {
            want(name, v, 1..=1)?;
            match a0 {
                Val::Null => Ok(Val::Null),
                Val::List(l) => Ok(if lname == "head" { l.first() } else { l.last() }
                    .cloned()
                    .unwrap_or(Val::Null)),
                other => Err(bad_arg(name, other)),
            }
        }
        "tail" => {
            want(name, v, 1..=1)?;
            match a0 {
                Val::Null => Ok(Val::Null),
                Val::List(l) => Ok(Val::List(l.iter().skip(1).cloned().collect())),
                other => Err(bad_arg(name, other)),
            }
        }
        "range" => {
            want(name, v, 2..=3)?;
            let start = int_arg(name, a0)?;
            let end = int_arg(name, a1)?;
            let step = if v.len() == 3 {
                int_arg(name, a2)?
            } else {
                Some(1)
            };
            let (Some(start), Some(end), Some(step)) = (start, end, step) else {
                return Ok(Val::Null);
            };
            Ok(Val::List(range_list(ctx, start, end, step)?))
        }
        "reverse" => {
            want(name, v, 1..=1)?;
            match a0 {
                Val::Null => Ok(Val::Null),
                Val::Str(s) => Ok(Val::Str(s.chars().rev().collect())),
                Val::List(l) => Ok(Val::List(l.iter().rev().cloned().collect())),
                other => Err(bad_arg(name, other)),
            }
        }
        "tostring" | "tostringornull" => {
            want(name, v, 1..=1)?;
            match a0 {
                Val::Null => Ok(Val::Null),
                Val::Str(_) | Val::Int(_) | Val::Float(_) | Val::Bool(_) => {
                    Ok(Val::Str(to_string_repr(a0)))
                }
                Val::Temporal(t) => Ok(Val::Str(t.render())),
                Val::Duration(d) => Ok(Val::Str(d.render())),
                Val::Point(p) => Ok(Val::Str(p.text())),
                other => {
                    if lname == "tostringornull" {
                        Ok(Val::Null)
                    } else {
                        Err(bad_value(name, other))
                    }
                }
            }
        }
        "tointeger" | "tointegerornull" => {
            want(name, v, 1..=1)?;
            let r = match a0 {
                Val::Null => return Ok(Val::Null),
                Val::Int(i) => Some(Val::Int(*i)),
                Val::Float(f) => float_to_int(*f).map(Val::Int),
                Val::Bool(b) => Some(Val::Int(*b as i64)),
                Val::Str(s) => Some(parse_int(s).map(Val::Int).unwrap_or(Val::Null)),
                _ => None,
            };
            match r {
                Some(x) => Ok(x),
                None if lname == "tointegerornull" => Ok(Val::Null),
                None => Err(bad_value(name, a0)),
            }
        }
        "tofloat" | "tofloatornull" => {
            want(name, v, 1..=1)?;
            let r = match a0 {
                Val::Null => return Ok(Val::Null),
                Val::Int(i) => Some(Val::Float(*i as f64)),
                Val::Float(f) => Some(Val::Float(*f)),
                Val::Str(s) => Some(parse_float(s).map(Val::Float).unwrap_or(Val::Null)),
                _ => None,
            };
            match r {
                Some(x) => Ok(x),
                None if lname == "tofloatornull" => Ok(Val::Null),
                None => Err(bad_value(name, a0)),
            }
        }
        "toboolean" | "tobooleanornull" => {
            want(name, v, 1..=1)?;
            let r = match a0 {
                Val::Null => return Ok(Val::Null),
                Val::Bool(b) => Some(Val::Bool(*b)),
                Val::Int(i) => Some(Val::Bool(*i != 0)),
                Val::Str(s) => Some(match s.trim().to_ascii_lowercase().as_str() {
                    "true" => Val::Bool(true),
                    "false" => Val::Bool(false),
                    _ => Val::Null,
                }),
                _ => None,
            };
            match r {
                Some(x) => Ok(x),
                None if lname == "tobooleanornull" => Ok(Val::Null),
                None => Err(bad_value(name, a0)),
            }
        }
        "tobooleanlist" | "tointegerlist" | "tofloatlist" | "tostringlist" => {
            want(name, v, 1..=1)?;
            let inner = match lname {
                "tobooleanlist" => "tobooleanornull",
                "tointegerlist" => "tointegerornull",
                "tofloatlist" => "tofloatornull",
                _ => "tostringornull",
            };
            match a0 {
                Val::Null => Ok(Val::Null),
                Val::List(l) => {
                    let mut out = Vec::with_capacity(l.len());
                    for x in l {
                        out.push(apply(ctx, inner, inner, std::slice::from_ref(x))?);
                    }
                    Ok(Val::List(out))
                }
                other => Err(bad_arg(name, other)),
            }
        }
        "abs" => {
            want(name, v, 1..=1)?;
            match a0 {
                Val::Null => Ok(Val::Null),
                Val::Int(i) => i.checked_abs().map(Val::Int).ok_or_else(overflow),
                Val::Float(f) => Ok(Val::Float(f.abs())),
                other => Err(bad_arg(name, other)),
            }
        }
        "sign" => {
            want(name, v, 1..=1)?;
            match a0 {
                Val::Null => Ok(Val::Null),
                Val::Int(i) => Ok(Val::Int(i.signum())),
                Val::Float(f) => Ok(Val::Int(if *f > 0.0 {
                    1
                } else if *f < 0.0 {
                    -1
                } else {
                    0
                })),
                other => Err(bad_arg(name, other)),
            }
        }
        "ceil" => {
            want(name, v, 1..=1)?;
            num_fn(name, a0, f64::ceil)
        }
        "floor" => {
            want(name, v, 1..=1)?;
            num_fn(name, a0, f64::floor)
        }
        "round" => {
            want(name, v, 1..=3)?;
            round(name, v)
        }
        "point" => {
            want(name, v, 1..=1)?;
            match a0 {
                Val::Null => Ok(Val::Null),
                Val::Map(_) => match a0.to_value(g) {
                    causeway_value::Value::Map(m) => Ok(causeway_value::Point::from_map(&m)?
                        .map_or(Val::Null, |p| Val::Point(Box::new(p)))),
                    _ => Ok(Val::Null),
                },
                other => Err(bad_arg(name, other)),
            }
        }
        "point.distance" | "distance" => {
            want(name, v, 2..=2)?;
            match (a0, a1) {
                (Val::Point(a), Val::Point(b)) => Ok(a.distance(b).map_or(Val::Null, Val::Float)),
                (Val::Null, _) | (_, Val::Null) => Ok(Val::Null),
                (Val::Point(_), other) | (other, _) => Err(bad_arg(name, other)),
            }
        }
        "point.withinbbox" => {
            want(name, v, 3..=3)?;
            match (a0, a1, a2) {
                (Val::Point(p), Val::Point(lo), Val::Point(hi)) => {
                    Ok(p.within_bbox(lo, hi).map_or(Val::Null, Val::Bool))
                }
                _ if v.iter().any(Val::is_null) => Ok(Val::Null),
                _ => Err(bad_arg(
                    name,
                    v.iter().find(|x| !matches!(x, Val::Point(_))).unwrap_or(a0),
                )),
            }
        }
        "vector.similarity.cosine" | "vector.similarity.euclidean" => {
            want(name, v, 2..=2)?;
            let similarity = if lname.ends_with("cosine") {
                causeway_graph::Similarity::Cosine
            } else {
                causeway_graph::Similarity::Euclidean
            };
            vector_similarity(g, name, similarity, a0, a1)
        }
        "sqrt" => num_fn(name, a0, f64::sqrt),
        "exp" => num_fn(name, a0, f64::exp),
        "log" => num_fn(name, a0, f64::ln),
        "log10" => num_fn(name, a0, f64::log10),
        "sin" => num_fn(name, a0, f64::sin),
        "cos" => num_fn(name, a0, f64::cos),
        "tan" => num_fn(name, a0, f64::tan),
        "cot" => num_fn(name, a0, |x| 1.0 / x.tan()),
        "asin" => num_fn(name, a0, f64::asin),
        "acos" => num_fn(name, a0, f64::acos),
        "atan" => num_fn(name, a0, f64::atan),
        "degrees" => num_fn(name, a0, f64::to_degrees),
        "radians" => num_fn(name, a0, f64::to_radians),
        "haversin" => num_fn(name, a0, |x| (1.0 - x.cos()) / 2.0),
        "sinh" => num_fn(name, a0, f64::sinh),
        "cosh" => num_fn(name, a0, f64::cosh),
        "tanh" => num_fn(name, a0, f64::tanh),
        "coth" => num_fn(name, a0, |x| 1.0 / x.tanh()),
        "atan2" => {
            want(name, v, 2..=2)?;
            match (a0, a1) {
                (Val::Null, _) | (_, Val::Null) => Ok(Val::Null),
                (Val::Int(_) | Val::Float(_), Val::Int(_) | Val::Float(_)) => {
                    Ok(Val::Float(as_f64(a0).atan2(as_f64(a1))))
                }
                (x, _) => Err(bad_arg(name, x)),
            }
        }
        "e" => Ok(Val::Float(std::f64::consts::E)),
        "pi" => Ok(Val::Float(std::f64::consts::PI)),
        "rand" => Ok(Val::Float(
            (ctx.sh.random() >> 11) as f64 / (1u64 << 53) as f64,
        )),
        "isnan" => match a0 {
            Val::Null => Ok(Val::Null),
            Val::Float(f) => Ok(Val::Bool(f.is_nan())),
            Val::Int(_) => Ok(Val::Bool(false)),
            other => Err(bad_arg(name, other)),
        },
        "toupper" | "upper" => Ok(str_arg(name, a0)?
            .map(|s| Val::Str(s.to_uppercase()))
            .unwrap_or(Val::Null)),
        "tolower" | "lower" => Ok(str_arg(name, a0)?
            .map(|s| Val::Str(s.to_lowercase()))
            .unwrap_or(Val::Null)),
        "trim" | "btrim" if v.len() == 2 => {
            let (s, chars) = (str_arg(name, a0)?, str_arg(name, a1)?);
            match (s, chars) {
                (Some(s), Some(cs)) => Ok(Val::Str(s.trim_matches(|c| cs.contains(c)).to_owned())),
                _ => Ok(Val::Null),
            }
        }
        "trim" | "btrim" => Ok(str_arg(name, a0)?
            .map(|s| Val::Str(s.trim().to_owned()))
            .unwrap_or(Val::Null)),
        "ltrim" => Ok(str_arg(name, a0)?
            .map(|s| Val::Str(s.trim_start().to_owned()))
            .unwrap_or(Val::Null)),
        "rtrim" => Ok(str_arg(name, a0)?
            .map(|s| Val::Str(s.trim_end().to_owned()))
            .unwrap_or(Val::Null)),
        "replace" => {
            want(name, v, 3..=3)?;
            let (s, from, to) = (str_arg(name, a0)?, str_arg(name, a1)?, str_arg(name, a2)?);
            match (s, from, to) {
                (Some(s), Some(from), Some(to)) => {
                    let worst = (s.chars().count() + 1).saturating_mul(to.len().max(1)) + s.len();
                    if worst > crate::eval::MAX_STRING_BYTES {
                        let matches = if from.is_empty() {
                            s.chars().count() + 1
                        } else {
                            s.matches(from).count()
                        };
                        let out_len = s.len().saturating_add(matches.saturating_mul(to.len()));
                        if out_len > crate::eval::MAX_STRING_BYTES {
                            return Err(crate::eval::string_too_long());
                        }
                    }
                    if from.is_empty() {
                        // Java's replace inserts around every char for "".
                        let mut out = String::from(to);
                        for c in s.chars() {
                            out.push(c);
                            out.push_str(to);
                        }
                        Ok(Val::Str(out))
                    } else {
                        Ok(Val::Str(s.replace(from, to)))
                    }
                }
                _ => Ok(Val::Null),
            }
        }
        "substring" => {
            want(name, v, 2..=3)?;
            let s = str_arg(name, a0)?;
            let start = int_arg(name, a1)?;
            let len = if v.len() == 3 {
                int_arg(name, a2)?
            } else {
                None
            };
            let (Some(s), Some(start)) = (s, start) else {
                return Ok(Val::Null);
            };
            if start < 0 {
                return Err(arg_error(
                    "NumberOutOfRange",
                    format!("Invalid input for function 'substring()': start {start} is negative"),
                ));
            }
            if let Some(l) = len {
                if l < 0 {
                    return Err(arg_error(
                        "NumberOutOfRange",
                        format!("Invalid input for function 'substring()': length {l} is negative"),
                    ));
                }
            }
            let chars = s.chars().skip(usize::try_from(start).unwrap_or(usize::MAX));
            Ok(Val::Str(match len {
                Some(l) => chars
                    .take(usize::try_from(l).unwrap_or(usize::MAX))
                    .collect(),
                None => chars.collect(),
            }))
        }
        "left" | "right" => {
            want(name, v, 2..=2)?;
            let s = str_arg(name, a0)?;
            let n = match a1 {
                Val::Null => {
                    if s.is_none() {
                        return Ok(Val::Null);
                    }
                    return Err(arg_error(
                        "InvalidArgumentValue",
                        format!("Invalid input for function '{name}()': length is null"),
                    ));
                }
                other => int_arg(name, other)?.unwrap_or(0),
            };
            let Some(s) = s else { return Ok(Val::Null) };
            if n < 0 {
                return Err(arg_error(
                    "NumberOutOfRange",
                    format!("Invalid input for function '{name}()': length {n} is negative"),
                ));
            }
            let n = usize::try_from(n).unwrap_or(usize::MAX);
            let count = s.chars().count();
            Ok(Val::Str(if lname == "left" {
                s.chars().take(n).collect()
            } else {
                s.chars().skip(count.saturating_sub(n)).collect()
            }))
        }
        "split" => {
            want(name, v, 2..=2)?;
            match (str_arg(name, a0)?, a1) {
                (None, _) | (_, Val::Null) => Ok(Val::Null),
                (Some(s), Val::Str(d)) => Ok(Val::List(split(s, std::slice::from_ref(d)))),
                (Some(s), Val::List(ds)) => {
                    let mut delims = Vec::new();
                    for d in ds {
                        match d {
                            Val::Str(d) => delims.push(d.clone()),
                            Val::Null => return Ok(Val::Null),
                            other => return Err(bad_arg(name, other)),
                        }
                    }
                    Ok(Val::List(split(s, &delims)))
                }
                (_, other) => Err(bad_arg(name, other)),
            }
        }
        "timestamp" => Ok(Val::Int(ctx.sh.now.2)),
        // APOC's name for the same thing.
        "randomuuid" | "apoc.create.uuid" => {
            let hi = ctx.sh.random();
            let lo = ctx.sh.random();
            let mut b = [0u8; 16];
            b[..8].copy_from_slice(&hi.to_be_bytes());
            b[8..].copy_from_slice(&lo.to_be_bytes());
            b[6] = (b[6] & 0x0f) | 0x40;
            b[8] = (b[8] & 0x3f) | 0x80;
            let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
            Ok(Val::Str(format!(
                "{}-{}-{}-{}-{}",
                &h[0..8],
                &h[8..12],
                &h[12..16],
                &h[16..20],
                &h[20..32]
            )))
        }
        "exists" => {
            want(name, v, 1..=1)?;
            match a0 {
                Val::Bool(b) => Ok(Val::Bool(*b)),
                other => Ok(Val::Bool(!other.is_null())),
            }
        }
        "isempty" => {
            want(name, v, 1..=1)?;
            match a0 {
                Val::Null => Ok(Val::Null),
                Val::List(l) => Ok(Val::Bool(l.is_empty())),
                Val::Str(s) => Ok(Val::Bool(s.is_empty())),
                Val::Map(m) => Ok(Val::Bool(m.is_empty())),
                other => Err(bad_arg(name, other)),
            }
        }
        "nullif" => {
            want(name, v, 2..=2)?;
            if cypher_eq(a0, a1) == Some(true) {
                Ok(Val::Null)
            } else {
                Ok(a0.clone())
            }
        }
        "valuetype" => {
            want(name, v, 1..=1)?;
            Ok(Val::Str(value_type(a0)))
        }
        "duration" => crate::duration::construct(v),
        "datetime.fromepoch" | "datetime.fromepochmillis" => {
            let (secs, nanos) = if lname == "datetime.fromepoch" {
                match (int_arg(name, a0)?, int_arg(name, a1)?) {
                    (Some(s), n) => (s as i128, n.unwrap_or(0) as i128),
                    _ => return Ok(Val::Null),
                }
            } else {
                match int_arg(name, a0)? {
                    Some(ms) => (
                        (ms as i128).div_euclid(1000),
                        (ms as i128).rem_euclid(1000) * 1_000_000,
                    ),
                    None => return Ok(Val::Null),
                }
            };
            let total = secs * 1_000_000_000 + nanos;
            let day = 86_400_000_000_000i128;
            let days = i64::try_from(total.div_euclid(day)).map_err(|_| overflow())?;
            Ok(Val::Temporal(crate::temporal::check_range(
                crate::temporal::Temporal {
                    kind: crate::temporal::Kind::DateTime,
                    days,
                    nanos: total.rem_euclid(day) as i64,
                    offset: 0,
                    zone: None,
                },
            )?))
        }
        _ if lname.ends_with(".statement")
            || lname.ends_with(".transaction")
            || lname.ends_with(".realtime") =>
        {
            let base = lname.rsplit_once('.').map(|(b, _)| b).unwrap_or("");
            let Some(kind) = crate::temporal::is_constructor(base) else {
                return Err(Error::compile(
                    Code::SyntaxError,
                    "UnknownFunction",
                    format!("Unknown function '{name}'"),
                ));
            };
            let clock = if lname.ends_with(".realtime") {
                crate::temporal::now()
            } else {
                ctx.sh.now
            };
            crate::temporal::construct(kind, v, clock)
        }
        "duration.between" => crate::duration::between_fn("all", v),
        "duration.inmonths" => crate::duration::between_fn("months", v),
        "duration.indays" => crate::duration::between_fn("days", v),
        "duration.inseconds" => crate::duration::between_fn("seconds", v),
        _ if crate::temporal::truncate_kind(lname).is_some() => {
            let kind = crate::temporal::truncate_kind(lname).unwrap_or(crate::temporal::Kind::Date);
            crate::temporal::truncate(kind, v)
        }
        _ if crate::temporal::is_constructor(lname).is_some() => {
            let kind =
                crate::temporal::is_constructor(lname).unwrap_or(crate::temporal::Kind::Date);
            crate::temporal::construct(kind, v, ctx.sh.now)
        }
        _ => {
            // Unknown names are normally rejected before execution; this is
            // the same error for any path that gets here.
            Err(Error::compile(
                Code::SyntaxError,
                "UnknownFunction",
                format!("Unknown function '{name}'"),
            ))
        }
    }
}

fn len_i64(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

pub fn range_list(ctx: &Ctx, start: i64, end: i64, step: i64) -> Result<Vec<Val>> {
    if step == 0 {
        return Err(arg_error(
            "NumberOutOfRange",
            "Step argument to range() can't be 0",
        ));
    }
    let count = range_len(start, end, step);
    if count > ctx.sh.limits.max_list_len as u128 {
        return Err(list_too_long());
    }
    let mut out = Vec::with_capacity(count as usize);
    let mut x = start as i128;
    for _ in 0..count {
        out.push(Val::Int(x as i64));
        x += step as i128;
    }
    Ok(out)
}

pub fn range_len(start: i64, end: i64, step: i64) -> u128 {
    let (s, e, st) = (start as i128, end as i128, step as i128);
    if (st > 0 && s > e) || (st < 0 && s < e) || st == 0 {
        return 0;
    }
    ((e - s) / st + 1) as u128
}

fn split(s: &str, delims: &[String]) -> Vec<Val> {
    if delims.iter().all(|d| d.is_empty()) {
        return s.chars().map(|c| Val::Str(c.to_string())).collect();
    }
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut rest = s;
    'outer: while !rest.is_empty() {
        for d in delims {
            if !d.is_empty() && rest.starts_with(d.as_str()) {
                out.push(Val::Str(std::mem::take(&mut cur)));
                rest = &rest[d.len()..];
                continue 'outer;
            }
        }
        let mut it = rest.chars();
        if let Some(c) = it.next() {
            cur.push(c);
        }
        rest = it.as_str();
    }
    out.push(Val::Str(cur));
    out
}

fn round(name: &str, v: &[Val]) -> Result<Val> {
    let x = match &v[0] {
        Val::Null => return Ok(Val::Null),
        Val::Int(i) => *i as f64,
        Val::Float(f) => *f,
        other => return Err(bad_arg(name, other)),
    };
    let precision = match v.get(1) {
        None => 0,
        Some(Val::Null) => return Ok(Val::Null),
        Some(p) => int_arg(name, p)?.unwrap_or(0),
    };
    let mode = match v.get(2) {
        None => "HALF_UP".to_owned(),
        Some(Val::Null) => return Ok(Val::Null),
        Some(Val::Str(s)) => s.to_ascii_uppercase(),
        Some(other) => return Err(bad_arg(name, other)),
    };
    if !x.is_finite() {
        return Ok(Val::Float(x));
    }
    let factor = 10f64.powi(i32::try_from(precision.clamp(-300, 300)).unwrap_or(0));
    let y = x * factor;
    let r = match mode.as_str() {
        "UP" => {
            if y >= 0.0 {
                y.ceil()
            } else {
                y.floor()
            }
        }
        "DOWN" => y.trunc(),
        "CEILING" => y.ceil(),
        "FLOOR" => y.floor(),
        "HALF_DOWN" => {
            let t = y.trunc();
            if (y - t).abs() > 0.5 {
                t + y.signum()
            } else {
                t
            }
        }
        "HALF_EVEN" => {
            let t = y.trunc();
            let d = (y - t).abs();
            if d > 0.5 || (d == 0.5 && (t % 2.0) != 0.0) {
                t + y.signum()
            } else {
                t
            }
        }
        _ => {
            // Java's Math.round is half-up toward positive infinity for the
            // one-argument form; with a precision Neo4j uses HALF_UP away
            // from zero.
            if v.len() == 1 {
                (y + 0.5).floor()
            } else {
                let t = y.trunc();
                if (y - t).abs() >= 0.5 {
                    t + y.signum()
                } else {
                    t
                }
            }
        }
    };
    Ok(Val::Float(r / factor))
}

fn float_to_int(f: f64) -> Option<i64> {
    if f.is_nan() || !(-9.223_372_036_854_776e18..9.223_372_036_854_776e18).contains(&f) {
        None
    } else {
        Some(f.trunc() as i64)
    }
}

fn parse_int(s: &str) -> Option<i64> {
    let t = s.trim();
    if let Ok(i) = t.parse::<i64>() {
        return Some(i);
    }
    let f = parse_float(t)?;
    float_to_int(f)
}

fn parse_float(s: &str) -> Option<f64> {
    let t = s.trim();
    if t.is_empty()
        || t.chars()
            .any(|c| !(c.is_ascii_digit() || matches!(c, '.' | '-' | '+' | 'e' | 'E')))
    {
        // Rust would accept "inf"/"nan", Java does not parse them like this.
        return match t {
            "NaN" => Some(f64::NAN),
            "Infinity" | "+Infinity" => Some(f64::INFINITY),
            "-Infinity" => Some(f64::NEG_INFINITY),
            _ => None,
        };
    }
    t.parse::<f64>().ok()
}

/// `toString` rendering, matching Java's `Double.toString` for floats.
pub fn to_string_repr(v: &Val) -> String {
    match v {
        Val::Str(s) => s.clone(),
        Val::Int(i) => i.to_string(),
        Val::Bool(b) => b.to_string(),
        Val::Float(f) => causeway_value::java_double(*f),
        Val::Null => "null".into(),
        other => format!("{other:?}"),
    }
}

fn value_type(v: &Val) -> String {
    match v {
        Val::Null => "NULL".into(),
        Val::Bool(_) => "BOOLEAN NOT NULL".into(),
        Val::Int(_) => "INTEGER NOT NULL".into(),
        Val::Float(_) => "FLOAT NOT NULL".into(),
        Val::Str(_) => "STRING NOT NULL".into(),
        Val::Bytes(_) => "BYTES NOT NULL".into(),
        Val::Map(_) => "MAP NOT NULL".into(),
        Val::Node(_) => "NODE NOT NULL".into(),
        Val::Rel(_) => "RELATIONSHIP NOT NULL".into(),
        Val::Virtual(v) => match **v {
            causeway_value::Value::Relationship(_) => "RELATIONSHIP NOT NULL".into(),
            _ => "NODE NOT NULL".into(),
        },
        Val::Path(_) => "PATH NOT NULL".into(),
        Val::Duration(_) => "DURATION NOT NULL".into(),
        Val::Point(_) => "POINT NOT NULL".into(),
        Val::Temporal(t) => match t.kind {
            crate::temporal::Kind::Date => "DATE NOT NULL".into(),
            crate::temporal::Kind::LocalTime => "LOCAL TIME NOT NULL".into(),
            crate::temporal::Kind::Time => "ZONED TIME NOT NULL".into(),
            crate::temporal::Kind::LocalDateTime => "LOCAL DATETIME NOT NULL".into(),
            crate::temporal::Kind::DateTime => "ZONED DATETIME NOT NULL".into(),
        },
        Val::List(l) => {
            let mut inner: Vec<String> = Vec::new();
            for x in l {
                let t = value_type(x);
                if !inner.contains(&t) {
                    inner.push(t);
                }
            }
            let inner = match inner.len() {
                0 => "NOTHING".to_owned(),
                1 => inner.remove(0),
                _ => "ANY NOT NULL".to_owned(),
            };
            format!("LIST<{inner}> NOT NULL")
        }
    }
}

static RNG: AtomicU64 = AtomicU64::new(0);

/// A draw from the process-wide sequence, seeded from the clock on first
/// use.
pub(crate) fn shared_random() -> u64 {
    if RNG.load(Ordering::Relaxed) == 0 {
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0x9e37_79b9);
        let _ = RNG.compare_exchange(0, t | 1, Ordering::Relaxed, Ordering::Relaxed);
    }
    splitmix(&RNG)
}

/// A splitmix64 step on `state`: statistically fine for rand() and
/// randomUUID(), and avoids a dependency.
pub(crate) fn splitmix(state: &AtomicU64) -> u64 {
    let s = state
        .fetch_add(0x9e37_79b9_7f4a_7c15, Ordering::Relaxed)
        .wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = s;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}
