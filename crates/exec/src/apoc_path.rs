//! APOC's path expanders: `apoc.path.expand`, `expandConfig`,
//! `subgraphNodes`, `subgraphAll` and `spanningTree`, with APOC's
//! relationship filter (`KNOWS>|<LIKES|WORKS_AT`), label filter (`+white`,
//! `-black`, `/termination`, `>end node`, `*`), levels, uniqueness, limit
//! and breadth- or depth-first order.

use std::collections::{HashSet, VecDeque};

use causeway_graph::{Dir, Graph};
use causeway_value::{Code, Error, Map, Result, Value};

use crate::val::{PathVal, Val};

/// The most paths one call may build before it is refused: a bound on the
/// work and memory of unbounded expansions (`maxLevel: -1` over a dense
/// graph).
pub const MAX_EXPANDED_PATHS: usize = 1_000_000;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Uniqueness {
    RelationshipPath,
    NodePath,
    NodeGlobal,
    RelationshipGlobal,
    None,
}

#[derive(Default)]
struct Labels {
    white: Vec<String>,
    any_white: bool,
    black: Vec<String>,
    termination: Vec<String>,
    end: Vec<String>,
}

struct Spec {
    /// (type, direction); empty: every type, both directions.
    rels: Vec<(Option<String>, Dir)>,
    labels: Labels,
    min: usize,
    max: Option<usize>,
    limit: Option<usize>,
    uniqueness: Uniqueness,
    bfs: bool,
    filter_start: bool,
}

fn failed(msg: String) -> Error {
    Error::new(
        Code::ProcedureCallFailed,
        format!("Failed to invoke procedure: {msg}"),
    )
}

fn rel_filter(s: &str) -> Vec<(Option<String>, Dir)> {
    s.split(['|', ','])
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(|t| {
            let (t, dir) = if let Some(rest) = t.strip_prefix('<') {
                (rest, Dir::In)
            } else if let Some(rest) = t.strip_suffix('>') {
                (rest, Dir::Out)
            } else {
                (t, Dir::Both)
            };
            ((!t.is_empty()).then(|| t.to_string()), dir)
        })
        .collect()
}

fn label_filter(s: &str) -> Labels {
    let mut l = Labels::default();
    for t in s.split(['|', ',']).map(str::trim).filter(|t| !t.is_empty()) {
        let (list, name) = match t.as_bytes()[0] {
            b'+' => (&mut l.white, &t[1..]),
            b'-' => (&mut l.black, &t[1..]),
            b'/' => (&mut l.termination, &t[1..]),
            b'>' => (&mut l.end, &t[1..]),
            _ => (&mut l.white, t),
        };
        if name == "*" {
            l.any_white = true;
        } else {
            list.push(name.to_string());
        }
    }
    l
}

fn level(v: Option<&Value>, key: &str, default: i64) -> Result<i64> {
    match v {
        None | Some(Value::Null) => Ok(default),
        Some(Value::Int(n)) => Ok(*n),
        Some(other) => Err(failed(format!(
            "`{key}` must be an integer, not {}",
            other.type_name()
        ))),
    }
}

fn text<'a>(m: &'a Map, key: &str) -> Result<&'a str> {
    match m.get(key) {
        None | Some(Value::Null) => Ok(""),
        Some(Value::String(s)) => Ok(s),
        Some(other) => Err(failed(format!(
            "`{key}` must be a string, not {}",
            other.type_name()
        ))),
    }
}

impl Spec {
    fn from_config(m: &Map, uniqueness: Uniqueness) -> Result<Spec> {
        let min = level(m.get("minLevel"), "minLevel", 0)?.max(0) as usize;
        let max = level(m.get("maxLevel"), "maxLevel", -1)?;
        let limit = level(m.get("limit"), "limit", -1)?;
        let uniqueness = match m.get("uniqueness") {
            None | Some(Value::Null) => uniqueness,
            Some(Value::String(u)) => match u.to_ascii_uppercase().as_str() {
                "RELATIONSHIP_PATH" => Uniqueness::RelationshipPath,
                "NODE_PATH" => Uniqueness::NodePath,
                "NODE_GLOBAL" => Uniqueness::NodeGlobal,
                "RELATIONSHIP_GLOBAL" => Uniqueness::RelationshipGlobal,
                "NONE" => Uniqueness::None,
                other => {
                    return Err(failed(format!(
                        "unsupported uniqueness '{other}': use RELATIONSHIP_PATH, NODE_PATH, \
                         NODE_GLOBAL, RELATIONSHIP_GLOBAL or NONE"
                    )))
                }
            },
            Some(other) => {
                return Err(failed(format!(
                    "`uniqueness` must be a string, not {}",
                    other.type_name()
                )))
            }
        };
        let flag = |key: &str, default: bool| match m.get(key) {
            Some(Value::Bool(b)) => *b,
            _ => default,
        };
        Ok(Spec {
            rels: rel_filter(text(m, "relationshipFilter")?),
            labels: label_filter(text(m, "labelFilter")?),
            min,
            max: (max >= 0).then_some(max as usize),
            limit: (limit >= 0).then_some(limit as usize),
            uniqueness,
            bfs: flag("bfs", true),
            filter_start: flag("filterStartNode", false),
        })
    }

    /// Whether the walk may enter `node` at all: not blacklisted, and
    /// whitelisted when there is a whitelist (termination and end-node
    /// labels count as whitelisted).
    fn admits(&self, g: &Graph, node: u64) -> bool {
        let l = &self.labels;
        let has = |ls: &[String]| ls.iter().any(|x| g.node_has_label(node, x));
        if has(&l.black) {
            return false;
        }
        l.white.is_empty() || l.any_white || has(&l.white) || has(&l.termination) || has(&l.end)
    }

    /// The relationships the filter lets the walk follow from `node`, with
    /// the node at the other end.
    fn neighbours(&self, g: &Graph, node: u64) -> Vec<(u64, u64)> {
        if self.rels.is_empty() {
            return g.expand(node, Dir::Both, &[]);
        }
        let mut out = Vec::new();
        for (ty, dir) in &self.rels {
            let types: Vec<String> = ty.iter().cloned().collect();
            out.extend(g.expand(node, *dir, &types));
        }
        out
    }

    fn ends_here(&self, g: &Graph, node: u64) -> (bool, bool) {
        let l = &self.labels;
        let has = |ls: &[String]| ls.iter().any(|x| g.node_has_label(node, x));
        let terminates = has(&l.termination);
        let returned = if l.termination.is_empty() && l.end.is_empty() {
            true
        } else {
            terminates || has(&l.end)
        };
        (returned, terminates)
    }

    /// Every path the expander yields from `starts`, in APOC's order.
    fn paths(&self, g: &Graph, starts: &[u64]) -> Result<Vec<PathVal>> {
        let mut out = Vec::new();
        let mut seen_nodes: HashSet<u64> = HashSet::new();
        let mut seen_rels: HashSet<u64> = HashSet::new();
        let mut queue: VecDeque<PathVal> = VecDeque::new();
        for &s in starts {
            if g.node_value(s).is_none() {
                continue;
            }
            if self.filter_start && !self.admits(g, s) {
                continue;
            }
            seen_nodes.insert(s);
            queue.push_back(PathVal {
                nodes: vec![s],
                rels: Vec::new(),
            });
        }
        let mut built = 0usize;
        while let Some(path) = if self.bfs {
            queue.pop_front()
        } else {
            queue.pop_back()
        } {
            let depth = path.rels.len();
            let last = *path.nodes.last().unwrap_or(&0);
            // The start node ends a path only without end-node filters (or
            // when it is filtered like the others).
            let (returned, terminates) = if depth == 0 && !self.filter_start {
                let plain = self.labels.termination.is_empty() && self.labels.end.is_empty();
                (plain, false)
            } else {
                self.ends_here(g, last)
            };
            if depth >= self.min && returned {
                out.push(path.clone());
                if self.limit.is_some_and(|l| out.len() >= l) {
                    break;
                }
            }
            if terminates || self.max.is_some_and(|m| depth >= m) {
                continue;
            }
            for (rel, other) in self.neighbours(g, last) {
                let fresh = match self.uniqueness {
                    Uniqueness::RelationshipPath => !path.rels.contains(&rel),
                    Uniqueness::NodePath => !path.nodes.contains(&other),
                    Uniqueness::NodeGlobal => !seen_nodes.contains(&other),
                    Uniqueness::RelationshipGlobal => !seen_rels.contains(&rel),
                    Uniqueness::None => true,
                };
                if !fresh || !self.admits(g, other) {
                    continue;
                }
                seen_nodes.insert(other);
                seen_rels.insert(rel);
                built += 1;
                if built > MAX_EXPANDED_PATHS {
                    return Err(failed(format!(
                        "the expansion built more than {MAX_EXPANDED_PATHS} paths; bound it \
                         with maxLevel, limit or a stricter uniqueness"
                    )));
                }
                let mut p = path.clone();
                p.nodes.push(other);
                p.rels.push(rel);
                queue.push_back(p);
            }
        }
        Ok(out)
    }
}

/// The start nodes an expander was given: a node, a list of them, or null.
fn starts(v: Option<&Value>) -> Result<Vec<u64>> {
    match v {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Node(n)) => Ok(vec![n.id]),
        Some(Value::Int(id)) if *id >= 0 => Ok(vec![*id as u64]),
        Some(Value::List(items)) => {
            let mut out = Vec::new();
            for i in items {
                out.extend(starts(Some(i))?);
            }
            Ok(out)
        }
        Some(other) => Err(failed(format!(
            "the start must be a node or a list of nodes, not {}",
            other.type_name()
        ))),
    }
}

fn path_rows(g: &Graph, paths: Vec<PathVal>) -> Vec<Vec<Value>> {
    paths
        .into_iter()
        .map(|p| vec![Val::Path(Box::new(p)).to_value(g)])
        .collect()
}

/// `apoc.path.expand(start, relationshipFilter, labelFilter, minLevel,
/// maxLevel)`.
pub(crate) fn expand(g: &Graph, argv: &[Value]) -> Result<Vec<Vec<Value>>> {
    let mut m = Map::new();
    for (i, key) in ["relationshipFilter", "labelFilter", "minLevel", "maxLevel"]
        .into_iter()
        .enumerate()
    {
        if let Some(v) = argv.get(i + 1) {
            m.insert(key.to_string(), v.clone());
        }
    }
    let spec = Spec::from_config(&m, Uniqueness::RelationshipPath)?;
    Ok(path_rows(g, spec.paths(g, &starts(argv.first())?)?))
}

fn config(argv: &[Value]) -> Result<Map> {
    match argv.get(1) {
        None | Some(Value::Null) => Ok(Map::new()),
        Some(Value::Map(m)) => Ok(m.clone()),
        Some(other) => Err(failed(format!(
            "the config must be a map, not {}",
            other.type_name()
        ))),
    }
}

/// `apoc.path.expandConfig(start, config)`.
pub(crate) fn expand_config(g: &Graph, argv: &[Value]) -> Result<Vec<Vec<Value>>> {
    let spec = Spec::from_config(&config(argv)?, Uniqueness::RelationshipPath)?;
    Ok(path_rows(g, spec.paths(g, &starts(argv.first())?)?))
}

/// `apoc.path.spanningTree(start, config)`: one path to each reachable node.
pub(crate) fn spanning_tree(g: &Graph, argv: &[Value]) -> Result<Vec<Vec<Value>>> {
    let mut m = config(argv)?;
    m.remove("uniqueness");
    let spec = Spec::from_config(&m, Uniqueness::NodeGlobal)?;
    Ok(path_rows(g, spec.paths(g, &starts(argv.first())?)?))
}

fn subgraph(g: &Graph, argv: &[Value]) -> Result<(Spec, Vec<u64>)> {
    let mut m = config(argv)?;
    m.remove("uniqueness");
    let spec = Spec::from_config(&m, Uniqueness::NodeGlobal)?;
    let nodes = spec
        .paths(g, &starts(argv.first())?)?
        .into_iter()
        .filter_map(|p| p.nodes.last().copied())
        .collect();
    Ok((spec, nodes))
}

/// `apoc.path.subgraphNodes(start, config)`.
pub(crate) fn subgraph_nodes(g: &Graph, argv: &[Value]) -> Result<Vec<Vec<Value>>> {
    let (_, nodes) = subgraph(g, argv)?;
    Ok(nodes
        .into_iter()
        .map(|n| vec![Val::Node(n).to_value(g)])
        .collect())
}

/// `apoc.path.subgraphAll(start, config)`: the nodes, and every
/// relationship between them that the relationship filter allows.
pub(crate) fn subgraph_all(g: &Graph, argv: &[Value]) -> Result<Vec<Vec<Value>>> {
    let (spec, nodes) = subgraph(g, argv)?;
    let inside: HashSet<u64> = nodes.iter().copied().collect();
    let mut rels = Vec::new();
    let mut seen = HashSet::new();
    for &n in &nodes {
        for (rel, other) in spec.neighbours(g, n) {
            if inside.contains(&other) && seen.insert(rel) {
                rels.push(rel);
            }
        }
    }
    Ok(vec![vec![
        Value::List(
            nodes
                .into_iter()
                .map(|n| Val::Node(n).to_value(g))
                .collect(),
        ),
        Value::List(rels.into_iter().map(|r| Val::Rel(r).to_value(g)).collect()),
    ]])
}
