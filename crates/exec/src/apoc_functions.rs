//! APOC's text, conversion and type functions (APOC 5 core), on evaluated
//! values. Nulls in give null out unless APOC documents otherwise; a bad
//! argument fails the statement with the function's name, as Neo4j does for
//! a Java exception inside a function.

use causeway_value::{Code, Error, Result};

use crate::eval::Ctx;
use crate::val::{Val, ValMap};

/// The APOC release these functions follow (the one paired with the Neo4j
/// version the server announces).
pub(crate) const APOC_VERSION: &str = "5.26.0";

/// The names `function` answers, in lower case.
pub(crate) const NAMES: &[&str] = &[
    "apoc.version",
    "apoc.text.replace",
    "apoc.text.split",
    "apoc.text.regexgroups",
    "apoc.text.capitalize",
    "apoc.text.decapitalize",
    "apoc.text.clean",
    "apoc.text.distance",
    "apoc.text.lpad",
    "apoc.text.rpad",
    "apoc.convert.tojson",
    "apoc.convert.fromjsonmap",
    "apoc.convert.fromjsonlist",
    "apoc.convert.tolist",
    "apoc.convert.tomap",
    "apoc.convert.toset",
    "apoc.meta.cypher.type",
    "apoc.meta.cypher.types",
    "apoc.meta.cypher.istype",
    "apoc.any.property",
    "apoc.any.properties",
];

fn invalid(name: &str, why: impl std::fmt::Display) -> Error {
    Error::new(
        Code::ProcedureCallFailed,
        format!("Failed to invoke function `{name}`: Caused by: {why}"),
    )
}

fn regex(name: &str, pattern: &str) -> Result<regex::Regex> {
    // Regexes come from queries: bound what one may cost to build.
    regex::RegexBuilder::new(pattern)
        .size_limit(1 << 20)
        .build()
        .map_err(|e| invalid(name, format!("java.util.regex.PatternSyntaxException: {e}")))
}

fn int_arg(name: &str, v: &Val, default: i64) -> Result<i64> {
    match v {
        Val::Null => Ok(default),
        Val::Int(i) => Ok(*i),
        other => Err(invalid(
            name,
            format!("expected an integer, got {}", other.type_name()),
        )),
    }
}

/// Runs one of `NAMES`; `None` for any other name.
pub(crate) fn function(ctx: &Ctx, name: &str, args: &[Val]) -> Option<Result<Val>> {
    if !NAMES.contains(&name) {
        return None;
    }
    Some(call(ctx, name, args))
}

fn call(ctx: &Ctx, name: &str, args: &[Val]) -> Result<Val> {
    let arg = |i: usize| args.get(i).unwrap_or(&Val::Null);
    let text = |i: usize| match arg(i) {
        Val::Str(s) => Some(s.as_str()),
        _ => None,
    };
    Ok(match name {
        "apoc.version" => Val::Str(APOC_VERSION.into()),
        "apoc.text.replace" => match (text(0), text(1), text(2)) {
            (Some(t), Some(re), Some(with)) => {
                Val::Str(regex(name, re)?.replace_all(t, with).into_owned())
            }
            _ => Val::Null,
        },
        // Java's String.split: a limit above 0 caps the parts, 0 drops
        // trailing empty strings, below 0 keeps them.
        "apoc.text.split" => match (text(0), text(1)) {
            (Some(t), Some(re)) => {
                let limit = int_arg(name, arg(2), 0)?;
                let re = regex(name, re)?;
                let mut parts: Vec<&str> = if limit > 0 {
                    re.splitn(t, limit as usize).collect()
                } else {
                    re.split(t).collect()
                };
                if limit == 0 {
                    while parts.len() > 1 && parts.last() == Some(&"") {
                        parts.pop();
                    }
                }
                Val::List(parts.into_iter().map(|p| Val::Str(p.into())).collect())
            }
            _ => Val::Null,
        },
        "apoc.text.regexgroups" => match (text(0), text(1)) {
            (Some(t), Some(re)) => Val::List(
                regex(name, re)?
                    .captures_iter(t)
                    .map(|c| {
                        Val::List(
                            c.iter()
                                .map(|m| m.map_or(Val::Null, |m| Val::Str(m.as_str().into())))
                                .collect(),
                        )
                    })
                    .collect(),
            ),
            _ => Val::Null,
        },
        "apoc.text.capitalize" | "apoc.text.decapitalize" => match text(0) {
            Some(t) => {
                let mut chars = t.chars();
                Val::Str(match chars.next() {
                    Some(c) if name == "apoc.text.capitalize" => {
                        c.to_uppercase().chain(chars).collect()
                    }
                    Some(c) => c.to_lowercase().chain(chars).collect(),
                    None => String::new(),
                })
            }
            None => Val::Null,
        },
        // Letters and digits only, in lower case.
        "apoc.text.clean" => match text(0) {
            Some(t) => Val::Str(
                t.chars()
                    .filter(|c| c.is_alphanumeric())
                    .flat_map(char::to_lowercase)
                    .collect(),
            ),
            None => Val::Null,
        },
        "apoc.text.distance" => match (text(0), text(1)) {
            (Some(a), Some(b)) => Val::Int(levenshtein(a, b) as i64),
            _ => Val::Null,
        },
        "apoc.text.lpad" | "apoc.text.rpad" => {
            let Some(t) = text(0) else {
                return Ok(Val::Null);
            };
            let count = int_arg(name, arg(1), 0)?;
            let fill = text(2).unwrap_or(" ");
            let have = t.chars().count() as i64;
            if count <= have || fill.is_empty() {
                return Ok(Val::Str(t.into()));
            }
            // Bounded like any string a query builds.
            let need = usize::try_from(count - have)
                .ok()
                .filter(|n| *n <= crate::eval::MAX_STRING_BYTES)
                .ok_or_else(|| invalid(name, "the padded string would be too long"))?;
            let pad: String = fill.chars().cycle().take(need).collect();
            Val::Str(if name == "apoc.text.lpad" {
                pad + t
            } else {
                t.to_owned() + &pad
            })
        }
        "apoc.convert.tojson" => match arg(0) {
            Val::Null => Val::Null,
            v => {
                let mut out = String::new();
                json(ctx, v, &mut out);
                Val::Str(out)
            }
        },
        "apoc.convert.fromjsonmap" | "apoc.convert.fromjsonlist" => {
            let Some(t) = text(0) else {
                return Ok(Val::Null);
            };
            if !matches!(arg(1), Val::Null) && text(1) != Some("") && text(1) != Some("$") {
                return Err(Error::new(
                    Code::UnsupportedOperation,
                    format!("{name}: JSON paths are not supported by this server"),
                ));
            }
            let parsed: serde_json::Value = serde_json::from_str(t)
                .map_err(|e| invalid(name, format!("java.lang.RuntimeException: {e}")))?;
            match (name, from_json(parsed)) {
                ("apoc.convert.fromjsonmap", v @ (Val::Map(_) | Val::Null)) => v,
                ("apoc.convert.fromjsonlist", v @ (Val::List(_) | Val::Null)) => v,
                (_, other) => {
                    return Err(invalid(
                        name,
                        format!(
                            "java.lang.RuntimeException: Can't convert {} to the expected type",
                            other.type_name()
                        ),
                    ))
                }
            }
        }
        "apoc.convert.tolist" => match arg(0) {
            Val::Null => Val::Null,
            Val::List(items) => Val::List(items.clone()),
            Val::Path(p) => Val::List(path_elements(p)),
            other => Val::List(vec![other.clone()]),
        },
        "apoc.convert.tomap" => match arg(0) {
            Val::Map(m) => Val::Map(m.clone()),
            Val::Node(id) => props_val(ctx.g.node_props(*id)),
            Val::Rel(id) => props_val(ctx.g.rel_props(*id)),
            _ => Val::Null,
        },
        "apoc.convert.toset" => match arg(0) {
            Val::Null => Val::Null,
            Val::List(items) => Val::List(crate::apoc::distinct(items.clone())),
            other => Val::List(vec![other.clone()]),
        },
        // Any node, relationship (virtual too) or map.
        "apoc.any.property" => match (arg(0), text(1)) {
            (Val::Null, _) | (_, None) => Val::Null,
            (v, Some(key)) => crate::eval::property(ctx.g, v, key)?,
        },
        "apoc.any.properties" => {
            let all = crate::eval::all_props(ctx.g, arg(0))?;
            let keys = match arg(1) {
                Val::List(k) => Some(k),
                _ => None,
            };
            Val::Map(
                all.into_iter()
                    .filter(|(k, _)| {
                        keys.is_none_or(|ks| ks.iter().any(|x| matches!(x, Val::Str(s) if s == k)))
                    })
                    .collect(),
            )
        }
        "apoc.meta.cypher.type" => Val::Str(cypher_type(arg(0))),
        "apoc.meta.cypher.istype" => match text(1) {
            Some(t) => Val::Bool(cypher_type(arg(0)).eq_ignore_ascii_case(t)),
            None => Val::Bool(false),
        },
        "apoc.meta.cypher.types" => {
            let props: Vec<(String, Val)> = match arg(0) {
                Val::Map(m) => m.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
                Val::Node(id) => entity_props(ctx.g.node_props(*id)),
                Val::Rel(id) => entity_props(ctx.g.rel_props(*id)),
                _ => Vec::new(),
            };
            Val::Map(
                props
                    .into_iter()
                    .map(|(k, v)| {
                        let t = Val::Str(cypher_type(&v));
                        (k, t)
                    })
                    .collect(),
            )
        }
        _ => unreachable!("listed in NAMES"),
    })
}

fn entity_props(props: Option<causeway_value::Map>) -> Vec<(String, Val)> {
    props
        .unwrap_or_default()
        .iter()
        .map(|(k, v)| (k.clone(), Val::from_value(v)))
        .collect()
}

fn props_val(props: Option<causeway_value::Map>) -> Val {
    match props {
        Some(_) => Val::Map(entity_props(props).into_iter().collect::<ValMap>()),
        None => Val::Null,
    }
}

/// APOC's type names: `LIST OF <TYPE>` when every element has one type,
/// `LIST OF ANY` otherwise (an empty list too).
fn cypher_type(v: &Val) -> String {
    use crate::temporal::Kind;
    match v {
        Val::Null => "NULL".into(),
        Val::Bool(_) => "BOOLEAN".into(),
        Val::Int(_) => "INTEGER".into(),
        Val::Float(_) => "FLOAT".into(),
        Val::Str(_) => "STRING".into(),
        Val::Bytes(_) => "BYTE[]".into(),
        Val::Map(_) => "MAP".into(),
        Val::Node(_) => "NODE".into(),
        Val::Rel(_) => "RELATIONSHIP".into(),
        Val::Virtual(v) => match **v {
            causeway_value::Value::Relationship(_) => "RELATIONSHIP".into(),
            _ => "NODE".into(),
        },
        Val::Path(_) => "PATH".into(),
        Val::Duration(_) => "DURATION".into(),
        Val::Point(_) => "POINT".into(),
        Val::Temporal(t) => match t.kind {
            Kind::Date => "DATE",
            Kind::Time => "TIME",
            Kind::LocalTime => "LOCAL_TIME",
            Kind::DateTime => "DATE_TIME",
            Kind::LocalDateTime => "LOCAL_DATE_TIME",
        }
        .into(),
        Val::List(items) => {
            let mut kinds = items.iter().map(cypher_type);
            let first = kinds.next();
            match first {
                Some(f) if kinds.all(|k| k == f) => format!("LIST OF {f}"),
                _ => "LIST OF ANY".into(),
            }
        }
    }
}

/// A path as APOC lists it: node, relationship, node, ...
fn path_elements(p: &crate::val::PathVal) -> Vec<Val> {
    let mut items = Vec::new();
    for (i, n) in p.nodes.iter().enumerate() {
        items.push(Val::Node(*n));
        if let Some(r) = p.rels.get(i) {
            items.push(Val::Rel(*r));
        }
    }
    items
}

fn levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, ca) in a.chars().enumerate() {
        cur[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            cur[j + 1] = sub.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

fn from_json(v: serde_json::Value) -> Val {
    use serde_json::Value as J;
    match v {
        J::Null => Val::Null,
        J::Bool(b) => Val::Bool(b),
        J::Number(n) => n
            .as_i64()
            .map(Val::Int)
            .unwrap_or_else(|| Val::Float(n.as_f64().unwrap_or(f64::NAN))),
        J::String(s) => Val::Str(s),
        J::Array(items) => Val::List(items.into_iter().map(from_json).collect()),
        J::Object(m) => Val::Map(m.into_iter().map(|(k, v)| (k, from_json(v))).collect()),
    }
}

fn json_str(s: &str, out: &mut String) {
    out.push_str(&serde_json::Value::String(s.to_owned()).to_string());
}

/// APOC's JSON: entities as maps with their id (a string), type, labels or
/// relationship type, and properties when they have any.
fn json(ctx: &Ctx, v: &Val, out: &mut String) {
    let g = ctx.g;
    let seq = |out: &mut String, items: &mut dyn Iterator<Item = &Val>| {
        out.push('[');
        for (i, x) in items.enumerate() {
            if i > 0 {
                out.push(',');
            }
            json(ctx, x, out);
        }
        out.push(']');
    };
    let props = |out: &mut String, m: Option<causeway_value::Map>| {
        let m = m.unwrap_or_default();
        if !m.is_empty() {
            out.push_str(",\"properties\":");
            let vals: ValMap = m
                .iter()
                .map(|(k, v)| (k.clone(), Val::from_value(v)))
                .collect();
            json(ctx, &Val::Map(vals), out);
        }
    };
    let labels = |out: &mut String, id: u64| {
        out.push_str(",\"labels\":[");
        for (i, l) in g.node_labels(id).unwrap_or_default().iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            json_str(l, out);
        }
        out.push(']');
    };
    match v {
        Val::Null => out.push_str("null"),
        Val::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Val::Int(i) => out.push_str(&i.to_string()),
        Val::Float(f) => out.push_str(
            &serde_json::Number::from_f64(*f).map_or_else(|| "null".to_owned(), |n| n.to_string()),
        ),
        Val::Str(s) => json_str(s, out),
        Val::Bytes(b) => seq(
            out,
            &mut b
                .iter()
                .map(|x| Val::Int(i64::from(*x as i8)))
                .collect::<Vec<_>>()
                .iter(),
        ),
        Val::List(items) => seq(out, &mut items.iter()),
        Val::Map(m) => {
            out.push('{');
            for (i, (k, x)) in m.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                json_str(k, out);
                out.push(':');
                json(ctx, x, out);
            }
            out.push('}');
        }
        Val::Node(id) => {
            out.push_str(&format!("{{\"id\":\"{id}\",\"type\":\"node\""));
            labels(out, *id);
            props(out, g.node_props(*id));
            out.push('}');
        }
        Val::Rel(id) => {
            out.push_str(&format!("{{\"id\":\"{id}\",\"type\":\"relationship\""));
            if let Some(r) = g.rel(*id) {
                out.push_str(",\"label\":");
                json_str(r.rel_type, out);
                for (key, node) in [("start", r.start), ("end", r.end)] {
                    out.push_str(&format!(",\"{key}\":{{\"id\":\"{node}\""));
                    labels(out, node);
                    out.push('}');
                }
            }
            props(out, g.rel_props(*id));
            out.push('}');
        }
        Val::Path(p) => seq(out, &mut path_elements(p).iter()),
        Val::Temporal(t) => json_str(&t.render(), out),
        Val::Duration(d) => json_str(&d.render(), out),
        // APOC writes a point as an object: its system, then x, y, z, or
        // latitude, longitude, height; the third is null in 2D.
        Val::Point(p) => {
            let num = |f: Option<f64>| {
                f.and_then(serde_json::Number::from_f64)
                    .map_or_else(|| "null".to_owned(), |n| n.to_string())
            };
            let crs = p.crs();
            out.push_str("{\"crs\":");
            json_str(crs.name, out);
            let fields = if crs.geographic {
                [("latitude", p.y), ("longitude", p.x)]
            } else {
                [("x", p.x), ("y", p.y)]
            };
            for (name, value) in fields {
                out.push_str(&format!(",\"{name}\":{}", num(Some(value))));
            }
            let third = if crs.geographic { "height" } else { "z" };
            out.push_str(&format!(",\"{third}\":{}}}", num(p.z)));
        }
        // Virtual entities: their own id, labels or type, and properties.
        Val::Virtual(v) => {
            let (id, kind, names, m) = match &**v {
                causeway_value::Value::Node(n) => (n.id, "node", n.labels.clone(), &n.props),
                causeway_value::Value::Relationship(r) => {
                    (r.id, "relationship", vec![r.rel_type.clone()], &r.props)
                }
                _ => return out.push_str("null"),
            };
            out.push_str(&format!("{{\"id\":\"{}\",\"type\":\"{kind}\"", id as i64));
            out.push_str(if kind == "node" {
                ",\"labels\":"
            } else {
                ",\"label\":"
            });
            let names: Vec<Val> = names.into_iter().map(Val::Str).collect();
            match names.as_slice() {
                [one] if kind != "node" => json(ctx, one, out),
                _ => json(ctx, &Val::List(names), out),
            }
            props(out, Some(m.clone()));
            out.push('}');
        }
    }
}
