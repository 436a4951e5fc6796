//! Pattern matching: binds the variables of MATCH patterns against the graph,
//! choosing for each path pattern the most selective node to start from.

use std::borrow::Cow;

use crate::eval::{eval, eval_pred, variables, Ctx};
use crate::val::*;
use causeway_cypher::ast::*;
use causeway_graph::{Bound, Dir, EntityType};
use causeway_value::{Code, Error, Result};

/// A predicate from WHERE that can drive an index lookup.
#[derive(Clone, Debug)]
pub enum Hint<'e> {
    /// `id(v) = e` (`false`) or `elementId(v) = e` (`true`), or `IN` lists
    /// of either (`list` set).
    Id {
        var: &'e str,
        element: bool,
        list: bool,
        expr: &'e Expr,
    },
    Eq(&'e str, &'e str, &'e Expr),
    In(&'e str, &'e str, &'e Expr),
    Range(&'e str, &'e str, BinaryOp, &'e Expr),
    Prefix(&'e str, &'e str, &'e Expr),
    /// `point.withinBBox(v.k, lowerLeft, upperRight)`.
    Within(&'e str, &'e str, &'e Expr, &'e Expr),
    /// `point.distance(v.k, centre) < radius` (or `<=`, either argument
    /// order, either side).
    Distance(&'e str, &'e str, &'e Expr, &'e Expr),
}

impl Hint<'_> {
    fn var(&self) -> &str {
        match self {
            Hint::Id { var, .. }
            | Hint::Eq(var, ..)
            | Hint::In(var, ..)
            | Hint::Range(var, ..)
            | Hint::Prefix(var, ..)
            | Hint::Within(var, ..)
            | Hint::Distance(var, ..) => var,
        }
    }
}

/// Splits a WHERE into index-usable predicates on `var.prop`.
pub fn hints(where_: Option<&Expr>) -> Vec<Hint<'_>> {
    let mut out = Vec::new();
    if let Some(w) = where_ {
        collect_hints(w, &mut out);
    }
    out
}

/// `v.k`, as `(v, k)`.
fn prop_of(x: &Expr) -> Option<(&str, &str)> {
    if let Expr::Property(base, key) = x {
        if let Expr::Variable(v) = &**base {
            return Some((v.as_str(), key.as_str()));
        }
    }
    None
}

/// `point.distance(v.k, centre)` or `point.distance(centre, v.k)`, as
/// `(v, k, centre)`.
fn distance_of(x: &Expr) -> Option<(&str, &str, &Expr)> {
    let Expr::Function { name, args, .. } = x else {
        return None;
    };
    if !name.eq_ignore_ascii_case("point.distance") {
        return None;
    }
    match args.as_slice() {
        [a, c] if prop_of(a).is_some() => prop_of(a).map(|(v, k)| (v, k, c)),
        [c, a] => prop_of(a).map(|(v, k)| (v, k, c)),
        _ => None,
    }
}

fn collect_hints<'e>(e: &'e Expr, out: &mut Vec<Hint<'e>>) {
    match e {
        Expr::Binary(BinaryOp::And, a, b) => {
            collect_hints(a, out);
            collect_hints(b, out);
        }
        Expr::Function { name, args, .. } if name.eq_ignore_ascii_case("point.withinBBox") => {
            if let [p, lo, hi] = args.as_slice() {
                if let Some((v, k)) = prop_of(p) {
                    out.push(Hint::Within(v, k, lo, hi));
                }
            }
        }
        Expr::Binary(op, a, b) => {
            let prop = prop_of;
            match (op, distance_of(a), distance_of(b)) {
                (BinaryOp::Lt | BinaryOp::Le, Some((v, k, c)), _) => {
                    out.push(Hint::Distance(v, k, c, b))
                }
                (BinaryOp::Gt | BinaryOp::Ge, None, Some((v, k, c))) => {
                    out.push(Hint::Distance(v, k, c, a))
                }
                _ => {}
            }
            let id_of = |x: &'e Expr| -> Option<(&'e str, bool)> {
                if let Expr::Function { name, args, .. } = x {
                    let element = name.eq_ignore_ascii_case("elementId");
                    if element || name.eq_ignore_ascii_case("id") {
                        if let [Expr::Variable(v)] = args.as_slice() {
                            return Some((v.as_str(), element));
                        }
                    }
                }
                None
            };
            match (op, id_of(a), id_of(b)) {
                (BinaryOp::Eq, Some((var, element)), _) => out.push(Hint::Id {
                    var,
                    element,
                    list: false,
                    expr: b,
                }),
                (BinaryOp::Eq, None, Some((var, element))) => out.push(Hint::Id {
                    var,
                    element,
                    list: false,
                    expr: a,
                }),
                (BinaryOp::In, Some((var, element)), _) => out.push(Hint::Id {
                    var,
                    element,
                    list: true,
                    expr: b,
                }),
                _ => {}
            }
            match op {
                BinaryOp::Eq => {
                    // Both sides may be properties (`a.x = b.y`): either
                    // variable can then be looked up once the other is bound.
                    if let Some((v, k)) = prop(a) {
                        out.push(Hint::Eq(v, k, b));
                    }
                    if let Some((v, k)) = prop(b) {
                        out.push(Hint::Eq(v, k, a));
                    }
                }
                BinaryOp::In => {
                    if let Some((v, k)) = prop(a) {
                        out.push(Hint::In(v, k, b));
                    }
                }
                BinaryOp::StartsWith => {
                    if let Some((v, k)) = prop(a) {
                        out.push(Hint::Prefix(v, k, b));
                    }
                }
                BinaryOp::Lt | BinaryOp::Le | BinaryOp::Gt | BinaryOp::Ge => {
                    if let Some((v, k)) = prop(a) {
                        out.push(Hint::Range(v, k, *op, b));
                    } else if let Some((v, k)) = prop(b) {
                        let flipped = match op {
                            BinaryOp::Lt => BinaryOp::Gt,
                            BinaryOp::Le => BinaryOp::Ge,
                            BinaryOp::Gt => BinaryOp::Lt,
                            _ => BinaryOp::Le,
                        };
                        out.push(Hint::Range(v, k, flipped, a));
                    }
                }
                _ => {}
            }
        }
        _ => {}
    }
}

/// How a start node is found; also what EXPLAIN reports.
#[derive(Clone, Debug, PartialEq)]
pub enum Access {
    Bound,
    ById,
    IndexSeek {
        label: String,
        prop: String,
        unique: bool,
    },
    IndexRange {
        label: String,
        prop: String,
    },
    IndexPrefix {
        label: String,
        prop: String,
    },
    /// A point index searched with the boxes of a `point.withinBBox` or
    /// `point.distance` predicate.
    PointSeek {
        label: String,
        prop: String,
    },
    CompositeSeek {
        label: String,
        props: Vec<String>,
    },
    LabelScan(String),
    AllNodes,
}

pub fn match_parts(
    ctx: &Ctx,
    parts: &[PatternPart],
    row: &Row,
    out: &mut dyn FnMut(Row) -> Result<bool>,
) -> Result<()> {
    match_parts_hinted(ctx, parts, row, &[], &[], out)
}

/// A conjunct of WHERE, checked as soon as the variables it reads are
/// bound, so that partial matches that cannot pass are not extended.
pub struct Filter<'e> {
    expr: &'e Expr,
    vars: Vec<String>,
}

pub fn filters(where_: Option<&Expr>) -> Vec<Filter<'_>> {
    fn split<'e>(e: &'e Expr, out: &mut Vec<&'e Expr>) {
        if let Expr::Binary(BinaryOp::And, a, b) = e {
            split(a, out);
            split(b, out);
        } else {
            out.push(e);
        }
    }
    let mut conj = Vec::new();
    if let Some(w) = where_ {
        split(w, &mut conj);
    }
    conj.into_iter()
        .filter_map(|expr| {
            let mut vars = Vec::new();
            variables(expr, &mut vars);
            (!vars.is_empty()).then_some(Filter { expr, vars })
        })
        .collect()
}

pub fn match_parts_hinted(
    ctx: &Ctx,
    parts: &[PatternPart],
    row: &Row,
    hints: &[Hint],
    filters: &[Filter],
    out: &mut dyn FnMut(Row) -> Result<bool>,
) -> Result<()> {
    let mut m = Matcher {
        ctx,
        hints,
        filters,
        used: Vec::new(),
        force_first: None,
    };
    m.parts(parts, 0, row.clone(), out)?;
    Ok(())
}

/// For streaming: the anchor position and start candidates of the first
/// path pattern, so that a caller can match one candidate at a time.
/// `None` when the first pattern cannot be split that way.
pub fn first_anchor(
    ctx: &Ctx,
    parts: &[PatternPart],
    row: &Row,
    hints: &[Hint],
) -> Result<Option<(usize, Vec<u64>)>> {
    let Some(first) = parts.first() else {
        return Ok(None);
    };
    if first.shortest.is_some() || first.selector.is_some() {
        return Ok(None);
    }
    let m = Matcher {
        ctx,
        hints,
        filters: &[],
        used: Vec::new(),
        force_first: None,
    };
    let a = m.choose_anchor(first, row);
    Ok(Some((a.index, m.anchor_candidates(first, &a, row)?)))
}

/// Matches with the first pattern's anchor restricted to some candidates.
pub fn match_parts_anchored(
    ctx: &Ctx,
    parts: &[PatternPart],
    row: &Row,
    hints: &[Hint],
    filters: &[Filter],
    anchor: (usize, Vec<u64>),
    out: &mut dyn FnMut(Row) -> Result<bool>,
) -> Result<()> {
    let mut m = Matcher {
        ctx,
        hints,
        filters,
        used: Vec::new(),
        force_first: Some(anchor),
    };
    m.parts(parts, 0, row.clone(), out)?;
    Ok(())
}

/// Where a path pattern starts: a node position, found either through its
/// own access path or as an end of the relationships of an adjacent typed
/// hop (`(relationship index, node is its left end)`).
pub struct Anchor {
    pub index: usize,
    pub via_rel: Option<(usize, bool)>,
    pub access: Access,
}

fn node_at(el: &PatternElement, i: usize) -> &NodePattern {
    if i == 0 {
        &el.start
    } else {
        &el.chain[i - 1].1
    }
}

pub fn choose_anchor(ctx: &Ctx, hints: &[Hint], part: &PatternPart, row: &Row) -> Anchor {
    let el = &part.element;
    let g = ctx.g;
    let mut best = Anchor {
        index: 0,
        via_rel: None,
        access: Access::AllNodes,
    };
    let mut best_score = u64::MAX;
    for i in 0..=el.chain.len() {
        let access = access_for(ctx, hints, node_at(el, i), row);
        let mut score = match &access {
            Access::Bound | Access::ById => 0,
            Access::IndexSeek { .. } | Access::CompositeSeek { .. } => 1,
            Access::IndexRange { .. } | Access::IndexPrefix { .. } | Access::PointSeek { .. } => 2,
            Access::LabelScan(l) => 10u64.saturating_add(g.label_count(l) as u64),
            Access::AllNodes => 11u64.saturating_add(g.node_count() as u64),
        };
        let mut via_rel = None;
        if score >= 10 {
            // Adjacent single hops with types: the hop left of node i has
            // node i as its right end, the hop right of it as its left end.
            let hops = [
                i.checked_sub(1).map(|r| (r, false)),
                (i < el.chain.len()).then_some((i, true)),
            ];
            for (r, left) in hops.into_iter().flatten() {
                let rp = &el.chain[r].0;
                if rp.length.is_some() || rp.types.is_empty() {
                    continue;
                }
                let n: u64 = rp.types.iter().map(|t| g.type_count(t) as u64).sum();
                let s = 10u64.saturating_add(n);
                if s < score {
                    score = s;
                    via_rel = Some((r, left));
                }
            }
        }
        if score < best_score {
            best = Anchor {
                index: i,
                via_rel,
                access,
            };
            best_score = score;
        }
    }
    best
}

enum Want {
    Any,
    Never,
    Map(ValMap),
}

impl Want {
    fn matches<'g>(&self, get: impl Fn(&str) -> Option<Cow<'g, causeway_value::Value>>) -> bool {
        match self {
            Want::Any => true,
            Want::Never => false,
            Want::Map(m) => m.iter().all(|(k, v)| match get(k) {
                Some(h) => cypher_eq(&Val::from_prop(h), v) == Some(true),
                None => false,
            }),
        }
    }
}

fn bind_node(np: &NodePattern, id: u64, row: &mut Row) {
    if let Some(v) = &np.var {
        if !row.contains(v) {
            row.set(v, Val::Node(id));
        }
    }
}

enum RelBind {
    One(u64),
    Many(Vec<u64>),
}

struct Matcher<'a, 'h> {
    ctx: &'a Ctx<'a>,
    hints: &'h [Hint<'h>],
    filters: &'h [Filter<'h>],
    used: Vec<u64>,
    force_first: Option<(usize, Vec<u64>)>,
}

fn dir_of(d: Direction) -> Dir {
    match d {
        Direction::Outgoing => Dir::Out,
        Direction::Incoming => Dir::In,
        Direction::Both => Dir::Both,
    }
}

fn flip(d: Dir) -> Dir {
    match d {
        Dir::Out => Dir::In,
        Dir::In => Dir::Out,
        Dir::Both => Dir::Both,
    }
}

fn var_bound(row: &Row, v: &Option<String>) -> bool {
    v.as_deref().map(|v| row.contains(v)).unwrap_or(false)
}

impl Matcher<'_, '_> {
    /// Returns false once the consumer asked to stop.
    fn parts(
        &mut self,
        parts: &[PatternPart],
        i: usize,
        row: Row,
        out: &mut dyn FnMut(Row) -> Result<bool>,
    ) -> Result<bool> {
        let Some(part) = parts.get(i) else {
            return out(row);
        };
        let force = if i == 0 {
            self.force_first.take()
        } else {
            None
        };
        if i + 1 == parts.len() {
            return self.part(part, &row, force, &mut |r, _| out(r));
        }
        let mut results: Vec<(Row, Vec<u64>)> = Vec::new();
        let used_before = self.used.len();
        // Earlier parts are buffered per input row so that later parts can
        // be matched with the relationships they used excluded.
        self.part(part, &row, force, &mut |r, used| {
            results.push((r, used.to_vec()));
            Ok(true)
        })?;
        for (r, used) in results {
            let saved = std::mem::replace(&mut self.used, used);
            let go = self.parts(parts, i + 1, r, out)?;
            self.used = saved;
            self.used.truncate(used_before);
            if !go {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// The most selective node of a path pattern to start from: a bound
    /// node, else an index seek, else the smallest of a label scan and the
    /// ends of an adjacent typed relationship.
    fn choose_anchor(&self, part: &PatternPart, row: &Row) -> Anchor {
        choose_anchor(self.ctx, self.hints, part, row)
    }

    fn anchor_candidates(&self, part: &PatternPart, a: &Anchor, row: &Row) -> Result<Vec<u64>> {
        let el = &part.element;
        match a.via_rel {
            Some((rel_idx, node_is_left)) => {
                let g = self.ctx.g;
                let rp = &el.chain[rel_idx].0;
                let mut ids = Vec::new();
                for t in &rp.types {
                    for rid in g.rels_with_type(t) {
                        let Some(r) = g.rel(rid) else { continue };
                        match (rp.direction, node_is_left) {
                            (Direction::Outgoing, true) | (Direction::Incoming, false) => {
                                ids.push(r.start)
                            }
                            (Direction::Outgoing, false) | (Direction::Incoming, true) => {
                                ids.push(r.end)
                            }
                            (Direction::Both, _) => {
                                ids.push(r.start);
                                ids.push(r.end);
                            }
                        }
                    }
                }
                ids.sort_unstable();
                ids.dedup();
                Ok(ids)
            }
            None => self.candidates(node_at(el, a.index), row),
        }
    }

    fn part(
        &mut self,
        part: &PatternPart,
        row: &Row,
        force: Option<(usize, Vec<u64>)>,
        emit: &mut dyn FnMut(Row, &[u64]) -> Result<bool>,
    ) -> Result<bool> {
        let el = &part.element;
        if let Some(kind) = part.shortest {
            return self.shortest(part, kind, row, emit);
        }
        if let Some(selector) = &part.selector {
            return self.selective(part, selector, row, force, emit);
        }
        let k = el.chain.len();
        let node_at = |i: usize| -> &NodePattern {
            if i == 0 {
                &el.start
            } else {
                &el.chain[i - 1].1
            }
        };
        let (best, candidates) = match force {
            Some((a, cs)) => (a, cs),
            None => {
                let a = self.choose_anchor(part, row);
                (a.index, self.anchor_candidates(part, &a, row)?)
            }
        };
        let anchor = node_at(best);
        let mut nodes: Vec<u64> = vec![0; k + 1];
        let mut rels: Vec<Option<RelBind>> = (0..k).map(|_| None).collect();
        let want = self.want(&anchor.props, row)?;
        for c in candidates {
            if !self.node_check(anchor, c, row, &want) {
                continue;
            }
            let mut r = row.clone();
            bind_node(anchor, c, &mut r);
            if !self.early_ok(&r, [&anchor.var, &None])? {
                continue;
            }
            nodes[best] = c;
            if !self.step(part, best, best, true, &mut nodes, &mut rels, r, emit)? {
                return Ok(false);
            }
        }
        Ok(true)
    }

    pub fn access_for(&self, np: &NodePattern, row: &Row) -> Access {
        access_for(self.ctx, self.hints, np, row)
    }

    fn candidates(&self, np: &NodePattern, row: &Row) -> Result<Vec<u64>> {
        let g = self.ctx.g;
        if let Some(v) = &np.var {
            if let Some(b) = row.get(v) {
                return Ok(match b {
                    Val::Node(id) if g.node_exists(*id) => vec![*id],
                    _ => Vec::new(),
                });
            }
        }
        match self.access_for(np, row) {
            Access::ById => {
                let var = np.var.as_deref().unwrap_or("");
                let mut ids = Vec::new();
                for h in self.hints {
                    if let Hint::Id {
                        var: v,
                        element,
                        list,
                        expr,
                    } = h
                    {
                        if *v != var || !expr_ready(expr, row) {
                            continue;
                        }
                        let vals = match eval(self.ctx, expr, row)? {
                            Val::List(l) if *list => l,
                            x if !*list => vec![x],
                            _ => Vec::new(),
                        };
                        for x in vals {
                            let id = match (&x, element) {
                                (Val::Int(i), false) => u64::try_from(*i).ok(),
                                (Val::Str(s), true) => causeway_value::parse_element_id(s),
                                _ => None,
                            };
                            if let Some(id) = id {
                                if g.node_exists(id) {
                                    ids.push(id);
                                }
                            }
                        }
                        ids.sort_unstable();
                        ids.dedup();
                        return Ok(ids);
                    }
                }
                Ok(ids)
            }
            Access::IndexSeek { label, prop, .. } => {
                let mut ids = Vec::new();
                for value in self.seek_values(np, &prop, row)? {
                    if value.is_null() {
                        continue;
                    }
                    let v = value.to_value(g);
                    if let Some(found) = g.index_seek(&label, &prop, &v) {
                        ids.extend(found);
                    }
                }
                ids.sort_unstable();
                ids.dedup();
                Ok(ids)
            }
            Access::IndexRange { label, prop } => {
                let var = np.var.as_deref().unwrap_or("");
                let mut lower = Bound::Unbounded;
                let mut upper = Bound::Unbounded;
                for h in self.hints {
                    if let Hint::Range(v, k, op, e) = h {
                        if *v == var && *k == prop && expr_ready(e, row) {
                            let x = eval(self.ctx, e, row)?;
                            if x.is_null() {
                                return Ok(Vec::new());
                            }
                            let x = x.to_value(g);
                            match op {
                                BinaryOp::Gt => lower = Bound::Excluded(x),
                                BinaryOp::Ge => lower = Bound::Included(x),
                                BinaryOp::Lt => upper = Bound::Excluded(x),
                                _ => upper = Bound::Included(x),
                            }
                        }
                    }
                }
                Ok(g.index_range(&label, &prop, &lower, &upper)
                    .unwrap_or_else(|| g.nodes_with_label(&label)))
            }
            Access::PointSeek { label, prop } => self.point_seek(np, &label, &prop, row),
            Access::CompositeSeek { label, props } => {
                let mut values = Vec::with_capacity(props.len());
                for p in &props {
                    let vs = self.seek_values(np, p, row)?;
                    match vs.as_slice() {
                        [v] if !v.is_null() => values.push(v.to_value(g)),
                        _ => return Ok(Vec::new()),
                    }
                }
                Ok(g.index_seek_composite(&label, &props, &values)
                    .unwrap_or_else(|| g.nodes_with_label(&label)))
            }
            Access::IndexPrefix { label, prop } => {
                let var = np.var.as_deref().unwrap_or("");
                for h in self.hints {
                    if let Hint::Prefix(v, k, e) = h {
                        if *v == var && *k == prop && expr_ready(e, row) {
                            return Ok(match eval(self.ctx, e, row)? {
                                Val::Str(p) => g
                                    .index_prefix(&label, &prop, &p)
                                    .unwrap_or_else(|| g.nodes_with_label(&label)),
                                _ => Vec::new(),
                            });
                        }
                    }
                }
                Ok(g.nodes_with_label(&label))
            }
            Access::LabelScan(l) => {
                // Small labels are cheaper to scan than to hash.
                if let (Some(j), true) = (self.ctx.joins, g.label_count(&l) >= 64) {
                    if let Some(prop) = self.join_key(np, row) {
                        let vals = self.seek_values(np, &prop, row)?;
                        if let Some(t) = j.table(g, &l, &prop) {
                            let mut ids = Vec::new();
                            for v in vals.iter().filter(|v| !v.is_null()) {
                                if let Some(found) = t.get(&key_of(v)) {
                                    ids.extend(found.iter().copied());
                                }
                            }
                            ids.sort_unstable();
                            ids.dedup();
                            return Ok(ids);
                        }
                    }
                }
                Ok(g.nodes_with_label(&l))
            }
            _ => Ok(g.all_nodes()),
        }
    }

    /// A property whose required values are known before scanning, in the
    /// order `seek_values` resolves them.
    fn join_key(&self, np: &NodePattern, row: &Row) -> Option<String> {
        match &np.props {
            Some(Expr::Map(items)) => {
                if let Some((k, _)) = items.iter().find(|(_, e)| expr_ready(e, row)) {
                    return Some(k.clone());
                }
            }
            Some(Expr::Parameter(p)) => {
                if let Some(Val::Map(m)) = self.ctx.sh.params.get(p) {
                    if let Some(k) = m.keys().next() {
                        return Some(k.clone());
                    }
                }
            }
            _ => {}
        }
        let var = np.var.as_deref()?;
        self.hints.iter().find_map(|h| match h {
            Hint::Eq(v, k, e) | Hint::In(v, k, e) if *v == var && expr_ready(e, row) => {
                Some((*k).to_owned())
            }
            _ => None,
        })
    }

    /// Values to look up for an index seek on `np.prop`, from the pattern's
    /// property map or from WHERE.
    fn seek_values(&self, np: &NodePattern, prop: &str, row: &Row) -> Result<Vec<Val>> {
        if let Some(Expr::Map(items)) = &np.props {
            if let Some((_, e)) = items.iter().find(|(k, _)| k == prop) {
                return Ok(vec![eval(self.ctx, e, row)?]);
            }
        }
        if let Some(Expr::Parameter(p)) = &np.props {
            if let Some(Val::Map(m)) = self.ctx.sh.params.get(p) {
                if let Some(v) = m.get(prop) {
                    return Ok(vec![v.clone()]);
                }
            }
        }
        let var = np.var.as_deref().unwrap_or("");
        for h in self.hints {
            match h {
                Hint::Eq(v, k, e) if *v == var && *k == prop && expr_ready(e, row) => {
                    return Ok(vec![eval(self.ctx, e, row)?]);
                }
                Hint::In(v, k, e) if *v == var && *k == prop && expr_ready(e, row) => {
                    return Ok(match eval(self.ctx, e, row)? {
                        Val::List(l) => l,
                        _ => Vec::new(),
                    });
                }
                _ => {}
            }
        }
        Ok(Vec::new())
    }

    fn node_ok(&self, np: &NodePattern, id: u64, row: &mut Row) -> Result<bool> {
        let g = self.ctx.g;
        if let Some(v) = &np.var {
            if let Some(b) = row.get(v) {
                match b {
                    Val::Node(x) if *x == id => {}
                    _ => return Ok(false),
                }
            }
        }
        for l in &np.labels {
            if !g.node_has_label(id, l) {
                return Ok(false);
            }
        }
        if let Some(p) = &np.props {
            if !self.props_ok(p, row, |k| g.node_prop(id, k))? {
                return Ok(false);
            }
        }
        if let Some(v) = &np.var {
            if !row.contains(v) {
                row.set(v, Val::Node(id));
            }
        }
        Ok(true)
    }

    /// Whether the WHERE conjuncts that just became evaluable (they read
    /// one of `new` and everything they read is bound) all hold.
    fn early_ok(&self, row: &Row, new: [&Option<String>; 2]) -> Result<bool> {
        let new: Vec<&str> = new.iter().filter_map(|v| v.as_deref()).collect();
        self.fresh_ok(row, &new)
    }

    fn fresh_ok(&self, row: &Row, new: &[&str]) -> Result<bool> {
        for f in self.filters {
            let fresh = new.iter().any(|v| f.vars.iter().any(|x| x == v));
            if fresh && f.vars.iter().all(|v| row.contains(v)) && !eval_pred(self.ctx, f.expr, row)?
            {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// Evaluates a property map once for all candidates of one step.
    fn want(&self, p: &Option<Expr>, row: &Row) -> Result<Want> {
        let Some(p) = p else { return Ok(Want::Any) };
        match eval(self.ctx, p, row)? {
            Val::Map(m) => Ok(Want::Map(m)),
            Val::Null => Ok(Want::Never),
            other => Err(type_error(format!(
                "Expected a map of properties but got {}",
                other.type_name()
            ))),
        }
    }

    /// `node_ok` without binding, against pre-evaluated properties.
    fn node_check(&self, np: &NodePattern, id: u64, row: &Row, want: &Want) -> bool {
        let g = self.ctx.g;
        if let Some(v) = &np.var {
            if let Some(b) = row.get(v) {
                if !matches!(b, Val::Node(x) if *x == id) {
                    return false;
                }
            }
        }
        np.labels.iter().all(|l| g.node_has_label(id, l)) && want.matches(|k| g.node_prop(id, k))
    }

    fn props_ok<'g>(
        &self,
        p: &Expr,
        row: &Row,
        get: impl Fn(&str) -> Option<Cow<'g, causeway_value::Value>>,
    ) -> Result<bool> {
        let want = match eval(self.ctx, p, row)? {
            Val::Map(m) => m,
            Val::Null => return Ok(false),
            other => {
                return Err(type_error(format!(
                    "Expected a map of properties but got {}",
                    other.type_name()
                )))
            }
        };
        for (k, v) in &want {
            let have = match get(k) {
                Some(h) => Val::from_prop(h),
                None => return Ok(false),
            };
            if cypher_eq(&have, v) != Some(true) {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// The type expression of `[:!A]`, `[:%]` and the like; plain lists
    /// of types are filtered by the graph's expansion already.
    fn type_ok(&self, rp: &RelPattern, rid: u64) -> bool {
        match &rp.type_expr {
            Some(te) => self.ctx.g.rel(rid).is_some_and(|r| te.matches(r.rel_type)),
            None => true,
        }
    }

    fn rel_ok(&self, rp: &RelPattern, rid: u64, row: &Row) -> Result<bool> {
        if !self.type_ok(rp, rid) {
            return Ok(false);
        }
        if let Some(p) = &rp.props {
            let g = self.ctx.g;
            return self.props_ok(p, row, |k| g.rel_prop(rid, k));
        }
        Ok(true)
    }

    /// Matches the chain outward from the anchor: first rightwards to the
    /// end, then leftwards to the start.
    #[allow(clippy::too_many_arguments)]
    fn step(
        &mut self,
        part: &PatternPart,
        anchor: usize,
        pos: usize,
        rightwards: bool,
        nodes: &mut Vec<u64>,
        rels: &mut Vec<Option<RelBind>>,
        row: Row,
        emit: &mut dyn FnMut(Row, &[u64]) -> Result<bool>,
    ) -> Result<bool> {
        self.ctx.sh.tick()?;
        let el = &part.element;
        let k = el.chain.len();
        let (rel_idx, next_pos, dir_flip) = if rightwards {
            if pos == k {
                if anchor == 0 {
                    return self.finish(part, nodes, rels, row, emit);
                }
                return self.step(part, anchor, anchor, false, nodes, rels, row, emit);
            }
            (pos, pos + 1, false)
        } else {
            if pos == 0 {
                return self.finish(part, nodes, rels, row, emit);
            }
            (pos - 1, pos - 1, true)
        };
        let (rp, _) = &el.chain[rel_idx];
        // A bare quantified relationship (`-[r:R]->{1,3}`) is exactly the
        // variable length relationship `-[r:R*1..3]->`, which has its own
        // quicker expansion.
        let as_var_length = rp.quantified.as_deref().and_then(plain_repetition);
        let rp = as_var_length.as_ref().unwrap_or(rp);
        let np = if next_pos == 0 {
            &el.start
        } else {
            &el.chain[next_pos - 1].1
        };
        let mut dir = dir_of(rp.direction);
        if dir_flip {
            dir = flip(dir);
        }
        let from = nodes[pos];
        let g = self.ctx.g;
        if let Some(q) = &rp.quantified {
            let names = q.element.variables();
            let end = match np.var.as_deref().and_then(|v| row.get(v)) {
                Some(Val::Node(id)) => Some(*id),
                Some(_) => return Ok(true),
                None => None,
            };
            for m in self.quantified(q, from, end, dir_flip, &row)? {
                let mut r = row.clone();
                if !self.node_ok(np, m.end, &mut r)? {
                    continue;
                }
                for (name, vals) in names.iter().zip(m.groups) {
                    r.set(name, Val::List(vals));
                }
                let mut fresh = names.clone();
                fresh.extend(np.var.as_deref());
                if !self.fresh_ok(&r, &fresh)? {
                    continue;
                }
                let n_used = self.used.len();
                self.used.extend(m.rels.iter().copied());
                nodes[next_pos] = m.end;
                rels[rel_idx] = Some(RelBind::Many(m.rels));
                let go = self.step(part, anchor, next_pos, rightwards, nodes, rels, r, emit)?;
                self.used.truncate(n_used);
                if !go {
                    return Ok(false);
                }
            }
            return Ok(true);
        }
        if let Some((min, max)) = rp.length {
            let min = min.unwrap_or(1);
            let max = max.unwrap_or(u64::MAX);
            let mut found: Vec<(u64, Vec<u64>)> = Vec::new();
            let mut path = Vec::new();
            let bound = rp.var.as_deref().and_then(|v| row.get(v)).cloned();
            if let Some(b) = bound {
                // A bound list of relationships must be walked exactly.
                let Val::List(items) = b else {
                    return Ok(true);
                };
                let mut seq: Vec<u64> = Vec::new();
                for it in &items {
                    match it {
                        Val::Rel(r) => seq.push(*r),
                        _ => return Ok(true),
                    }
                }
                if dir_flip {
                    seq.reverse();
                }
                let mut cur = from;
                for rid in &seq {
                    let Some(rel) = g.rel(*rid) else {
                        return Ok(true);
                    };
                    if !rp.types.is_empty() && !rp.types.iter().any(|t| t == rel.rel_type)
                        || !self.type_ok(rp, *rid)
                    {
                        return Ok(true);
                    }
                    cur = match dir {
                        Dir::Out if rel.start == cur => rel.end,
                        Dir::In if rel.end == cur => rel.start,
                        Dir::Both if rel.start == cur => rel.end,
                        Dir::Both if rel.end == cur => rel.start,
                        _ => return Ok(true),
                    };
                }
                let len = seq.len() as u64;
                if len >= min && len <= max {
                    found.push((cur, seq));
                }
            } else {
                self.var_expand(rp, from, dir, min, max, &row, &mut path, &mut found)?;
            }
            for (end, mut rlist) in found {
                let mut r = row.clone();
                if !self.node_ok(np, end, &mut r)? {
                    continue;
                }
                if dir_flip {
                    rlist.reverse();
                }
                if let Some(v) = &rp.var {
                    r.set(v, Val::List(rlist.iter().map(|x| Val::Rel(*x)).collect()));
                }
                if !self.early_ok(&r, [&np.var, &rp.var])? {
                    continue;
                }
                let n_used = self.used.len();
                self.used.extend(rlist.iter().copied());
                nodes[next_pos] = end;
                rels[rel_idx] = Some(RelBind::Many(rlist));
                let go = self.step(part, anchor, next_pos, rightwards, nodes, rels, r, emit)?;
                self.used.truncate(n_used);
                if !go {
                    return Ok(false);
                }
            }
            return Ok(true);
        }
        let bound_rel = rp.var.as_deref().and_then(|v| row.get(v)).cloned();
        let expansions: Vec<(u64, u64)> = match bound_rel {
            Some(Val::Rel(rid)) => match g.rel(rid) {
                Some(r) => {
                    let mut v = Vec::new();
                    if matches!(dir, Dir::Out | Dir::Both) && r.start == from {
                        v.push((rid, r.end));
                    }
                    if matches!(dir, Dir::In | Dir::Both)
                        && r.end == from
                        && !(dir == Dir::Both && r.start == r.end)
                    {
                        v.push((rid, r.start));
                    }
                    if !rp.types.is_empty() && !rp.types.iter().any(|t| t == r.rel_type) {
                        v.clear();
                    }
                    v
                }
                None => Vec::new(),
            },
            Some(_) => Vec::new(),
            None => g.expand(from, dir, &rp.types),
        };
        let want_rel = self.want(&rp.props, &row)?;
        let want_node = self.want(&np.props, &row)?;
        for (rid, other) in expansions {
            if self.used.contains(&rid) || !self.type_ok(rp, rid) {
                continue;
            }
            if !want_rel.matches(|k| g.rel_prop(rid, k)) {
                continue;
            }
            if !self.node_check(np, other, &row, &want_node) {
                continue;
            }
            let mut r = row.clone();
            bind_node(np, other, &mut r);
            if let Some(v) = &rp.var {
                r.set(v, Val::Rel(rid));
            }
            if !self.early_ok(&r, [&np.var, &rp.var])? {
                continue;
            }
            self.used.push(rid);
            nodes[next_pos] = other;
            rels[rel_idx] = Some(RelBind::One(rid));
            let go = self.step(part, anchor, next_pos, rightwards, nodes, rels, r, emit)?;
            self.used.pop();
            if !go {
                return Ok(false);
            }
        }
        Ok(true)
    }

    #[allow(clippy::too_many_arguments)]
    fn var_expand(
        &self,
        rp: &RelPattern,
        from: u64,
        dir: Dir,
        min: u64,
        max: u64,
        row: &Row,
        path: &mut Vec<u64>,
        found: &mut Vec<(u64, Vec<u64>)>,
    ) -> Result<()> {
        // A depth-first walk over an explicit stack, so that long paths cannot
        // overflow the call stack.

        let g = self.ctx.g;
        let mut stack: Vec<(u64, Vec<(u64, u64)>, usize)> = Vec::new();
        // Relationships held across the paths found.
        let mut held = 0usize;
        if min == 0 {
            found.push((from, Vec::new()));
        }
        if max == 0 {
            return Ok(());
        }
        stack.push((from, g.expand(from, dir, &rp.types), 0));
        while let Some((_, exps, idx)) = stack.last_mut() {
            if *idx >= exps.len() {
                stack.pop();
                path.pop();
                continue;
            }
            let (rid, other) = exps[*idx];
            *idx += 1;
            self.ctx.sh.tick()?;
            if path.contains(&rid) || self.used.contains(&rid) || !self.rel_ok(rp, rid, row)? {
                continue;
            }
            path.push(rid);
            let depth = path.len() as u64;
            if depth >= min {
                found.push((other, path.clone()));
                held += path.len();
            }
            let limit = self.ctx.sh.limits.max_materialized_rows;
            if found.len() > limit || held > limit {
                return Err(Error::new(
                    Code::MemoryPoolOutOfMemory,
                    "Variable-length expansion exceeded the row limit",
                ));
            }
            if depth < max {
                stack.push((other, g.expand(other, dir, &rp.types), 0));
            } else {
                path.pop();
            }
        }
        Ok(())
    }

    fn finish(
        &mut self,
        part: &PatternPart,
        nodes: &[u64],
        rels: &[Option<RelBind>],
        mut row: Row,
        emit: &mut dyn FnMut(Row, &[u64]) -> Result<bool>,
    ) -> Result<bool> {
        let acyclic = part.mode == PathMode::Acyclic;
        if part.var.is_some() || acyclic {
            let g = self.ctx.g;
            let mut pn = vec![nodes[0]];
            let mut pr = Vec::new();
            for (i, rb) in rels.iter().enumerate() {
                match rb {
                    Some(RelBind::One(r)) => {
                        pr.push(*r);
                        pn.push(nodes[i + 1]);
                    }
                    Some(RelBind::Many(rs)) => {
                        let mut cur = nodes[i];
                        for r in rs {
                            pr.push(*r);
                            if let Some(rel) = g.rel(*r) {
                                cur = if rel.start == cur { rel.end } else { rel.start };
                            }
                            pn.push(cur);
                        }
                    }
                    None => {}
                }
            }
            if acyclic && has_repeats(&pn) {
                return Ok(true);
            }
            if let Some(pv) = &part.var {
                row.set(
                    pv,
                    Val::Path(Box::new(PathVal {
                        nodes: pn,
                        rels: pr,
                    })),
                );
            }
        }
        emit(row, &self.used)
    }

    /// The ways through a quantified path pattern from `from`, each with
    /// its end node, relationships (left to right) and group variable
    /// values (one list per name of `q.element.variables()`). Leftwards,
    /// the iterations are matched on the reversed pattern and the results
    /// turned back. Relationships stay unique across iterations and with
    /// the rest of the MATCH.
    fn quantified(
        &mut self,
        q: &QuantifiedPath,
        from: u64,
        end: Option<u64>,
        leftwards: bool,
        row: &Row,
    ) -> Result<Vec<QuantifiedMatch>> {
        let names = q.element.variables();
        let element = if leftwards {
            reversed(&q.element)
        } else {
            q.element.clone()
        };
        let iteration = PatternPart::new(Some(ITERATION_PATH.to_string()), element);
        // The clause's WHERE reads group variables as lists: it must not
        // see the single elements bound inside an iteration.
        let filters = std::mem::take(&mut self.filters);
        let hints = std::mem::take(&mut self.hints);
        let r = self.iterate(q, &iteration, &names, from, end, row);
        self.filters = filters;
        self.hints = hints;
        let mut found = r?;
        if leftwards {
            for m in &mut found {
                m.rels.reverse();
                m.groups.iter_mut().for_each(|g| g.reverse());
            }
        }
        Ok(found)
    }

    fn iterate(
        &mut self,
        q: &QuantifiedPath,
        iteration: &PatternPart,
        names: &[&str],
        from: u64,
        end: Option<u64>,
        row: &Row,
    ) -> Result<Vec<QuantifiedMatch>> {
        let limit = self.ctx.sh.limits.max_materialized_rows;
        // Only ways that end on `end`, when the node after the pattern is
        // already bound, are kept.
        let wanted = |n: u64| end.is_none_or(|e| e == n);
        // Relationships held across the ways found.
        let mut held = 0usize;
        let max = q.max.unwrap_or(u64::MAX);
        let mut found = Vec::new();
        let mut current = QuantifiedMatch {
            end: from,
            rels: Vec::new(),
            groups: vec![Vec::new(); names.len()],
        };
        if q.min == 0 && wanted(from) {
            found.push(current.clone());
        }
        let used_base = self.used.len();
        // Depth-first over iterations on an explicit stack: frame i holds
        // the ways to match iteration i + 1 from where iteration i ended.
        let mut stack: Vec<(Vec<Iteration>, usize)> =
            vec![(self.iterations(q, iteration, names, from, row)?, 0)];
        let mut applied: Vec<usize> = Vec::new();
        while let Some((ways, idx)) = stack.last_mut() {
            if *idx >= ways.len() {
                stack.pop();
                if let Some(n) = applied.pop() {
                    undo(&mut current, &mut self.used, n);
                }
                continue;
            }
            // Each way is applied once: it can be moved out.
            let way = std::mem::take(&mut ways[*idx]);
            *idx += 1;
            self.ctx.sh.tick()?;
            current.end = way.end;
            current.rels.extend(&way.rels);
            self.used.extend(&way.rels);
            for (g, v) in current.groups.iter_mut().zip(way.values) {
                g.push(v);
            }
            applied.push(way.rels.len());
            let depth = applied.len() as u64;
            if depth >= q.min && wanted(way.end) {
                found.push(current.clone());
                held += current.rels.len() + 1;
                if found.len() > limit || held > limit {
                    self.used.truncate(used_base);
                    return Err(Error::new(
                        Code::MemoryPoolOutOfMemory,
                        "Quantified path pattern expansion exceeded the row limit",
                    ));
                }
            }
            if depth < max {
                let next = self.iterations(q, iteration, names, way.end, row)?;
                stack.push((next, 0));
            } else if let Some(n) = applied.pop() {
                undo(&mut current, &mut self.used, n);
            }
        }
        self.used.truncate(used_base);
        Ok(found)
    }

    /// The ways to match one iteration starting at node `at`.
    fn iterations(
        &mut self,
        q: &QuantifiedPath,
        iteration: &PatternPart,
        names: &[&str],
        at: u64,
        row: &Row,
    ) -> Result<Vec<Iteration>> {
        let ctx = self.ctx;
        let mut ways = Vec::new();
        self.part(iteration, row, Some((0, vec![at])), &mut |r, _| {
            if let Some(w) = &q.where_ {
                if !eval_pred(ctx, w, &r)? {
                    return Ok(true);
                }
            }
            let Some(Val::Path(p)) = r.get(ITERATION_PATH) else {
                return Ok(true);
            };
            let end = p.nodes.last().copied().unwrap_or(at);
            let values = names
                .iter()
                .map(|n| r.get(n).cloned().unwrap_or(Val::Null))
                .collect();
            ways.push(Iteration {
                end,
                rels: p.rels.clone(),
                values,
            });
            Ok(true)
        })?;
        Ok(ways)
    }

    /// A pattern under a path selector: its matches, filtered by the
    /// pattern's own predicates, grouped by start and end node and cut
    /// down to the selected paths. The clause's WHERE comes afterwards.
    fn selective(
        &mut self,
        part: &PatternPart,
        selector: &PathSelector,
        row: &Row,
        force: Option<(usize, Vec<u64>)>,
        emit: &mut dyn FnMut(Row, &[u64]) -> Result<bool>,
    ) -> Result<bool> {
        let ctx = self.ctx;
        let k = match eval(ctx, selector.count(), row)? {
            Val::Int(k) if k >= 1 => k as u64,
            other => {
                return Err(Error::new(
                    Code::ArgumentError,
                    format!(
                        "The number of paths to select must be a positive integer, got {}",
                        other.type_name()
                    ),
                ))
            }
        };
        let path_var = part
            .var
            .clone()
            .unwrap_or_else(|| SELECTED_PATH.to_string());
        let plain = PatternPart {
            var: Some(path_var.clone()),
            selector: None,
            where_: None,
            ..part.clone()
        };
        // Only the end nodes' index hints apply before selection: paths
        // are chosen per pair of end nodes.
        let el = &part.element;
        let ends = [
            el.start.var.as_deref(),
            el.chain.last().and_then(|(_, n)| n.var.as_deref()),
        ];
        let hints: Vec<Hint> = self
            .hints
            .iter()
            .filter(|h| ends.contains(&Some(h.var())))
            .cloned()
            .collect();
        let limit = ctx.sh.limits.max_materialized_rows;
        let mut found: Vec<(Row, Vec<u64>)> = Vec::new();
        // The clause's WHERE filters after the selection, so the search
        // runs without it.
        let mut search = Matcher {
            ctx,
            hints: &hints,
            filters: &[],
            used: self.used.clone(),
            force_first: None,
        };
        let all_shortest = matches!(selector, PathSelector::ShortestGroups(_));
        // A predicate over the whole path can only be checked on paths
        // enumerated whole.
        let quick = match part.where_ {
            None => search.breadth_first(&plain, all_shortest, k, force.is_some(), row)?,
            Some(_) => None,
        };
        match quick {
            Some(rows) => found = rows,
            None => {
                // Rows, and path elements across them, held at once.
                let mut held = 0usize;
                search.part(&plain, row, force, &mut |r, used| {
                    if let Some(Val::Path(p)) = r.get(&path_var) {
                        held += p.nodes.len();
                    }
                    found.push((r, used.to_vec()));
                    if found.len() > limit || held > limit {
                        return Err(Error::new(
                            Code::MemoryPoolOutOfMemory,
                            "Path selection exceeded the row limit",
                        ));
                    }
                    Ok(true)
                })?;
            }
        }
        let mut groups: Vec<Vec<(usize, Row, Vec<u64>)>> = Vec::new();
        let mut index: std::collections::HashMap<(u64, u64), usize> =
            std::collections::HashMap::new();
        for (r, used) in found {
            if let Some(w) = &part.where_ {
                if !eval_pred(ctx, w, &r)? {
                    continue;
                }
            }
            let Some(Val::Path(p)) = r.get(&path_var) else {
                continue;
            };
            let key = (
                p.nodes.first().copied().unwrap_or(0),
                p.nodes.last().copied().unwrap_or(0),
            );
            let len = p.rels.len();
            let slot = *index.entry(key).or_insert_with(|| {
                groups.push(Vec::new());
                groups.len() - 1
            });
            groups[slot].push((len, r, used));
        }
        for mut group in groups {
            group.sort_by_key(|(len, ..)| *len);
            let keep = select(selector, k, &group);
            for (_, mut r, used) in group.into_iter().take(keep) {
                if part.var.is_none() {
                    r.0.retain(|(n, _)| &**n != SELECTED_PATH);
                }
                if !emit(r, &used)? {
                    return Ok(false);
                }
            }
        }
        Ok(true)
    }

    /// The common selective pattern, one repeated hop between two nodes
    /// (`(a)-[:R]-+(b)`, `(a) (()-[r]->(x:L) WHERE ...){1,5} (b)`, or
    /// `-[:R*]-`), searched breadth first from one end instead of
    /// enumerating trails: one path or every shortest path per pair from
    /// the shortest-path predecessors (a shortest walk never repeats a
    /// node, since cutting the loop out would leave a shorter walk whose
    /// every hop still qualifies, so it is the shortest trail too);
    /// several paths per pair, or paths above a lower bound of one, level
    /// by level (`layered`). The caller's selection then keeps exactly
    /// what the selector asks for. `None` when the pattern is not of that
    /// shape.
    fn breadth_first(
        &mut self,
        part: &PatternPart,
        all_shortest: bool,
        k: u64,
        forced: bool,
        row: &Row,
    ) -> Result<Option<Vec<(Row, Vec<u64>)>>> {
        let el = &part.element;
        let [(step, end_np)] = el.chain.as_slice() else {
            return Ok(None);
        };
        if forced {
            return Ok(None);
        }
        let mut hop = match (&step.quantified, step.length) {
            (Some(q), _) => {
                let [(rel, right)] = q.element.chain.as_slice() else {
                    return Ok(None);
                };
                let checked =
                    |n: &NodePattern| n.var.is_some() || !n.labels.is_empty() || n.props.is_some();
                Hop {
                    rel,
                    left: &q.element.start,
                    right,
                    where_: q.where_.as_ref(),
                    plain: !checked(&q.element.start) && !checked(right) && q.where_.is_none(),
                    min: q.min,
                    max: q.max.unwrap_or(u64::MAX),
                    backward: false,
                }
            }
            (None, Some((min, max))) => Hop::var_length(step, &el.start, end_np, min, max),
            (None, None) => return Ok(None),
        };
        // Several paths per pair, or a lower bound above one, need the
        // paths themselves rather than the predecessors of the shortest.
        let layered = k > 1 || hop.min > 1;
        // A relationship list bound before must be walked exactly, which
        // the general matcher does.
        if step.var.as_deref().is_some_and(|v| row.contains(v)) {
            return Ok(None);
        }
        let anchor = self.choose_anchor(part, row);
        let backward = anchor.index == 1;
        hop.backward = backward;
        let (root_np, other_np) = if backward {
            (end_np, &el.start)
        } else {
            (&el.start, end_np)
        };
        let limit = self.ctx.sh.limits.max_materialized_rows;
        let want = if all_shortest { limit + 1 } else { 1 };
        // Path elements held at once, across all the paths found.
        let mut budget = limit;
        let mut out = Vec::new();
        for root in self.candidates(root_np, row)? {
            let mut r0 = row.clone();
            if !self.node_ok(root_np, root, &mut r0)? {
                continue;
            }
            // With the far end found through an index or an id, the
            // search can stop once it has reached all of its candidates.
            let far = match self.access_for(other_np, &r0) {
                Access::Bound
                | Access::ById
                | Access::IndexSeek { .. }
                | Access::CompositeSeek { .. } => {
                    let c = self.candidates(other_np, &r0)?;
                    if c.len() <= MAX_SEARCH_TARGETS {
                        c
                    } else {
                        Vec::new()
                    }
                }
                _ => Vec::new(),
            };
            if layered {
                let by_end = self.layered(&hop, part.mode, root, &far, (k, all_shortest), &r0)?;
                for (other, paths) in by_end {
                    let mut r1 = r0.clone();
                    if !self.node_ok(other_np, other, &mut r1)? {
                        continue;
                    }
                    for (nodes, rels) in paths {
                        self.push_selected(part, step, &hop, &r1, nodes, rels, &mut out)?;
                    }
                }
                continue;
            }
            let search = self.bfs_from(&hop, root, None, &far, &r0)?;
            let mut ends: Vec<u64> = Vec::new();
            if hop.min == 0 || part.mode != PathMode::Acyclic {
                ends.push(root);
            }
            if far.is_empty() {
                ends.extend(&search.order);
            } else {
                // Only the candidates can match: no need to test every
                // node reached against the far end's pattern.
                ends.extend(
                    far.iter()
                        .filter(|&&n| n != root && search.level.contains_key(&n)),
                );
            }
            for other in ends {
                let mut r1 = r0.clone();
                if !self.node_ok(other_np, other, &mut r1)? {
                    continue;
                }
                let paths = if other != root {
                    search.paths_to(root, other, want, &mut budget, self.ctx)?
                } else if hop.min == 0 {
                    vec![(vec![root], Vec::new())]
                } else {
                    self.cycles(&hop, root, &search, want, &mut budget, &r0)?
                };
                for (nodes, rels) in paths {
                    self.push_selected(part, step, &hop, &r1, nodes, rels, &mut out)?;
                }
            }
        }
        Ok(Some(out))
    }

    /// One selected path (found from the search's root) as a row.
    #[allow(clippy::too_many_arguments)]
    fn push_selected(
        &self,
        part: &PatternPart,
        step: &RelPattern,
        hop: &Hop,
        row: &Row,
        mut nodes: Vec<u64>,
        mut rels: Vec<u64>,
        out: &mut Vec<(Row, Vec<u64>)>,
    ) -> Result<()> {
        if hop.backward {
            nodes.reverse();
            rels.reverse();
        }
        let mut r = row.clone();
        hop.bind(step, &nodes, &rels, &mut r);
        if let Some(pv) = &part.var {
            r.set(
                pv,
                Val::Path(Box::new(PathVal {
                    nodes,
                    rels: rels.clone(),
                })),
            );
        }
        let mut used = self.used.clone();
        used.extend(rels);
        out.push((r, used));
        if out.len() > self.ctx.sh.limits.max_materialized_rows {
            return Err(Error::new(
                Code::MemoryPoolOutOfMemory,
                "Path selection exceeded the row limit",
            ));
        }
        Ok(())
    }

    /// The paths a selector keeps from `root`, by end node, found level by
    /// level (shortest first): `k` paths per end, or with `groups` every
    /// path of the `k` shortest lengths. Partial paths share their
    /// prefixes in one arena, which the row limit bounds.
    ///
    /// With `targets` (the far end's few candidates), a partial path is
    /// only extended while it can still reach a target within a length
    /// budget: the budget starts at the shortest conceivable length (a
    /// breadth-first search back from the targets, ignoring predicates and
    /// uniqueness, so it never overestimates) and grows by one until every
    /// target has what the selector needs, or nothing was cut.
    fn layered(
        &self,
        hop: &Hop,
        mode: PathMode,
        root: u64,
        targets: &[u64],
        select: (u64, bool),
        row: &Row,
    ) -> Result<Vec<(u64, Vec<(Vec<u64>, Vec<u64>)>)>> {
        let mut dir = dir_of(hop.rel.direction);
        if hop.backward {
            dir = flip(dir);
        }
        if targets.is_empty() {
            let (found, _) =
                self.layered_within(hop, dir, mode, root, targets, select, None, row)?;
            return Ok(found);
        }
        let near = self.distances_to(targets, flip(dir), &hop.rel.types, hop.max)?;
        let Some(mut budget) = near.get(root) else {
            return Ok(Vec::new());
        };
        budget = budget.max(hop.min);
        loop {
            let bound = Some((&near, budget));
            let (found, cut) =
                self.layered_within(hop, dir, mode, root, targets, select, bound, row)?;
            let satisfied = targets.iter().all(|t| {
                found.iter().any(|(end, paths)| {
                    *end == *t && {
                        let lengths: std::collections::BTreeSet<usize> =
                            paths.iter().map(|(_, rels)| rels.len()).collect();
                        if select.1 {
                            lengths.len() as u64 >= select.0
                        } else {
                            paths.len() as u64 >= select.0
                        }
                    }
                })
            });
            if satisfied || !cut || budget >= hop.max {
                return Ok(found);
            }
            budget += 1;
        }
    }

    /// `layered`'s search with a length budget: partial paths that cannot
    /// reach a target within it (by `bound`'s distances) are cut, and the
    /// flag says whether any was.
    #[allow(clippy::too_many_arguments, clippy::type_complexity)]
    fn layered_within(
        &self,
        hop: &Hop,
        dir: Dir,
        mode: PathMode,
        root: u64,
        targets: &[u64],
        (k, groups): (u64, bool),
        bound: Option<(&Distances, u64)>,
        row: &Row,
    ) -> Result<(Vec<(u64, Vec<(Vec<u64>, Vec<u64>)>)>, bool)> {
        use std::collections::BTreeMap;
        let g = self.ctx.g;
        let limit = self.ctx.sh.limits.max_materialized_rows;
        // (node, relationship into it, previous entry); entry 0 is the root.
        let mut arena: Vec<(u64, u64, usize)> = vec![(root, 0, usize::MAX)];
        // Per end node: paths kept (arena entries), lengths seen, last length.
        let mut kept: BTreeMap<u64, (Vec<usize>, u64, u64)> = BTreeMap::new();
        let keep =
            |kept: &mut BTreeMap<u64, (Vec<usize>, u64, u64)>, end: u64, at: usize, len: u64| {
                let e = kept.entry(end).or_insert((Vec::new(), 0, u64::MAX));
                let new_length = e.2 != len;
                let room = if groups {
                    e.1 < k || !new_length
                } else {
                    (e.0.len() as u64) < k
                };
                if room {
                    if new_length {
                        e.1 += 1;
                        e.2 = len;
                    }
                    e.0.push(at);
                }
            };
        let is_end = |n: u64| targets.is_empty() || targets.contains(&n);
        if hop.min == 0 && is_end(root) {
            keep(&mut kept, root, 0, 0);
        }
        // Whether the path at entry `at` already holds `rid` (or, acyclic,
        // the node `n`).
        let on_path = |arena: &[(u64, u64, usize)], mut at: usize, rid: u64, n: u64| {
            while at != usize::MAX {
                let (node, rel, prev) = arena[at];
                let hit = match mode {
                    PathMode::Acyclic => node == n,
                    // Relationships never repeat within a MATCH, WALK
                    // included, as everywhere else in the matcher.
                    PathMode::Trail | PathMode::Walk => at != 0 && rel == rid,
                };
                if hit {
                    return true;
                }
                at = prev;
            }
            false
        };
        let done = |kept: &BTreeMap<u64, (Vec<usize>, u64, u64)>| {
            !targets.is_empty()
                && targets.iter().all(|t| {
                    kept.get(t).is_some_and(|e| {
                        if groups {
                            e.1 >= k
                        } else {
                            e.0.len() as u64 >= k
                        }
                    })
                })
        };
        let mut cut = false;
        let mut frontier = vec![0usize];
        let mut depth = 0u64;
        while !frontier.is_empty() && depth < hop.max && !done(&kept) {
            depth += 1;
            let mut next = Vec::new();
            for at in frontier {
                self.ctx.sh.tick()?;
                let n = arena[at].0;
                for (rid, o) in g.expand(n, dir, &hop.rel.types) {
                    if let Some((near, budget)) = bound {
                        match near.get(o) {
                            // No target can be reached from here at all:
                            // a larger budget would not help either.
                            None => continue,
                            Some(d) if depth.saturating_add(d) > budget => {
                                cut = true;
                                continue;
                            }
                            Some(_) => {}
                        }
                    }
                    let (left, right) = if hop.backward { (o, n) } else { (n, o) };
                    if on_path(&arena, at, rid, o) || !self.hop_ok(hop, left, rid, right, row)? {
                        continue;
                    }
                    arena.push((o, rid, at));
                    if arena.len() > limit {
                        return Err(Error::new(
                            Code::MemoryPoolOutOfMemory,
                            "Path selection exceeded the row limit",
                        ));
                    }
                    let entry = arena.len() - 1;
                    if depth >= hop.min && is_end(o) {
                        keep(&mut kept, o, entry, depth);
                    }
                    next.push(entry);
                }
            }
            frontier = next;
        }
        let path = |mut at: usize| {
            let (mut nodes, mut rels) = (Vec::new(), Vec::new());
            while at != usize::MAX {
                let (n, rid, prev) = arena[at];
                nodes.push(n);
                if prev != usize::MAX {
                    rels.push(rid);
                }
                at = prev;
            }
            nodes.reverse();
            rels.reverse();
            (nodes, rels)
        };
        let found = kept
            .into_iter()
            .map(|(end, (entries, ..))| (end, entries.into_iter().map(path).collect()))
            .collect();
        Ok((found, cut))
    }

    /// Hops from each node to the nearest of `targets`, following `dir`
    /// from the targets (so the search's own direction towards them), by
    /// type only: a lower bound on any qualifying path's remaining length.
    fn distances_to(
        &self,
        targets: &[u64],
        dir: Dir,
        types: &[String],
        max: u64,
    ) -> Result<Distances> {
        let g = self.ctx.g;
        let limit = self.ctx.sh.limits.max_materialized_rows;
        let mut level: std::collections::HashMap<u64, u64> =
            targets.iter().map(|&t| (t, 0)).collect();
        let mut frontier: Vec<u64> = targets.to_vec();
        let mut depth = 0u64;
        while !frontier.is_empty() && depth < max {
            // Past the memory budget the search stops: every node not yet
            // reached is then at least one level further away.
            if level.len() > limit {
                return Ok(Distances {
                    level,
                    beyond: Some(depth + 1),
                });
            }
            depth += 1;
            let mut next = Vec::new();
            for n in frontier {
                self.ctx.sh.tick()?;
                for (_, o) in g.expand(n, dir, types) {
                    if let std::collections::hash_map::Entry::Vacant(v) = level.entry(o) {
                        v.insert(depth);
                        next.push(o);
                    }
                }
            }
            frontier = next;
        }
        // A search cut short by `max` leaves nodes further than it, which
        // no allowed path reaches anyway.
        Ok(Distances {
            level,
            beyond: None,
        })
    }

    /// Whether one hop from `left` over `rid` to `right` (in the pattern's
    /// own direction) satisfies the repeated part.
    fn hop_ok(&self, hop: &Hop, left: u64, rid: u64, right: u64, row: &Row) -> Result<bool> {
        if self.used.contains(&rid) {
            return Ok(false);
        }
        if hop.plain {
            return self.rel_ok(hop.rel, rid, row);
        }
        let mut r = row.clone();
        if !self.node_ok(hop.left, left, &mut r)? {
            return Ok(false);
        }
        if let Some(v) = &hop.rel.var {
            r.set(v, Val::Rel(rid));
        }
        if !self.rel_ok(hop.rel, rid, &r)? || !self.node_ok(hop.right, right, &mut r)? {
            return Ok(false);
        }
        match hop.where_ {
            Some(w) => eval_pred(self.ctx, w, &r),
            None => Ok(true),
        }
    }

    /// Levels and shortest-path predecessors of everything reachable from
    /// `root` in at most `hop.max` hops, skipping relationship `exclude`,
    /// stopping after the level that reaches the last of `targets` (when
    /// there are any). Backward, hops are followed against the pattern's
    /// direction.
    fn bfs_from(
        &self,
        hop: &Hop,
        root: u64,
        exclude: Option<u64>,
        targets: &[u64],
        row: &Row,
    ) -> Result<Search> {
        use std::collections::HashMap;
        let g = self.ctx.g;
        let mut dir = dir_of(hop.rel.direction);
        if hop.backward {
            dir = flip(dir);
        }
        let mut s = Search {
            order: Vec::new(),
            level: HashMap::new(),
            preds: HashMap::new(),
            closing: Vec::new(),
        };
        s.level.insert(root, 0);
        let mut frontier = vec![root];
        let mut depth = 0u64;
        while !frontier.is_empty() && depth < hop.max {
            depth += 1;
            let mut next = Vec::new();
            for &n in &frontier {
                self.ctx.sh.tick()?;
                for (rid, o) in g.expand(n, dir, &hop.rel.types) {
                    if Some(rid) == exclude {
                        continue;
                    }
                    let (left, right) = if hop.backward { (o, n) } else { (n, o) };
                    if !self.hop_ok(hop, left, rid, right, row)? {
                        continue;
                    }
                    if o == root {
                        s.closing.push((n, rid));
                        continue;
                    }
                    if s.reach(n, rid, o, depth) {
                        next.push(o);
                    }
                }
            }
            if s.level.len() > self.ctx.sh.limits.max_materialized_rows {
                return Err(Error::new(
                    Code::MemoryPoolOutOfMemory,
                    "Shortest path search exceeded the row limit",
                ));
            }
            if !targets.is_empty() && targets.iter().all(|t| s.level.contains_key(t)) {
                break;
            }
            frontier = next;
        }
        Ok(s)
    }

    /// Up to `want` shortest paths from `from` to a different node `to`,
    /// from breadth-first searches run at both ends, a level at a time on
    /// whichever side has the smaller frontier. The first level whose nodes
    /// the other side has already reached is finished and ends the search:
    /// every shortest path crosses that level at one of those nodes, and the
    /// predecessors on both sides are complete up to them.
    fn bidirectional(
        &self,
        hop: &Hop,
        from: u64,
        to: u64,
        want: usize,
        row: &Row,
    ) -> Result<Vec<(Vec<u64>, Vec<u64>)>> {
        use std::collections::HashMap;
        let g = self.ctx.g;
        let limit = self.ctx.sh.limits.max_materialized_rows;
        let dir = dir_of(hop.rel.direction);
        let side = |root: u64| Search {
            order: Vec::new(),
            level: HashMap::from([(root, 0)]),
            preds: HashMap::new(),
            closing: Vec::new(),
        };
        let mut sides = [side(from), side(to)];
        let mut frontiers = [vec![from], vec![to]];
        let mut depths = [0u64; 2];
        let mut meeting = Vec::new();
        while meeting.is_empty() {
            if depths[0] + depths[1] >= hop.max || frontiers.iter().any(Vec::is_empty) {
                return Ok(Vec::new());
            }
            // Forward (0) follows the pattern's direction; backward (1)
            // goes against it, so its hops are seen from their far end.
            let i = usize::from(frontiers[1].len() < frontiers[0].len());
            let (mine, theirs) = if i == 0 {
                let (a, b) = sides.split_at_mut(1);
                (&mut a[0], &b[0])
            } else {
                let (a, b) = sides.split_at_mut(1);
                (&mut b[0], &a[0])
            };
            let search_dir = if i == 0 { dir } else { flip(dir) };
            depths[i] += 1;
            let depth = depths[i];
            let mut next = Vec::new();
            for &n in &frontiers[i] {
                self.ctx.sh.tick()?;
                for (rid, o) in g.expand(n, search_dir, &hop.rel.types) {
                    let (left, right) = if i == 0 { (n, o) } else { (o, n) };
                    if !self.hop_ok(hop, left, rid, right, row)? {
                        continue;
                    }
                    if mine.reach(n, rid, o, depth) {
                        next.push(o);
                        if theirs.level.contains_key(&o) {
                            meeting.push(o);
                        }
                    }
                }
            }
            if sides[0].level.len() + sides[1].level.len() > limit {
                return Err(Error::new(
                    Code::MemoryPoolOutOfMemory,
                    "Shortest path search exceeded the row limit",
                ));
            }
            frontiers[i] = next;
        }
        let mut out = Vec::new();
        let mut budget = limit;
        for m in meeting {
            let heads = sides[0].paths_to(from, m, want - out.len(), &mut budget, self.ctx)?;
            let tails = sides[1].paths_to(to, m, want - out.len(), &mut budget, self.ctx)?;
            for (hn, hr) in &heads {
                for (tn, tr) in &tails {
                    budget = budget.checked_sub(hn.len() + tn.len()).ok_or_else(|| {
                        Error::new(
                            Code::MemoryPoolOutOfMemory,
                            "Shortest path search found more paths than the memory limit allows",
                        )
                    })?;
                    // The far side's path runs from `to` to `m`: reversed,
                    // it continues the near side's past `m`.
                    let mut nodes = hn.clone();
                    nodes.extend(tn.iter().rev().skip(1));
                    let mut rels = hr.clone();
                    rels.extend(tr.iter().rev());
                    out.push((nodes, rels));
                    if out.len() >= want {
                        return Ok(out);
                    }
                }
            }
        }
        Ok(out)
    }

    /// The shortest paths from `root` back to itself: over each hop that
    /// closes into the root, the shortest way to its far node without
    /// that hop's relationship.
    fn cycles(
        &self,
        hop: &Hop,
        root: u64,
        search: &Search,
        want: usize,
        budget: &mut usize,
        row: &Row,
    ) -> Result<Vec<(Vec<u64>, Vec<u64>)>> {
        let mut best: Option<u64> = None;
        let mut out: Vec<(Vec<u64>, Vec<u64>)> = Vec::new();
        for &(n, rid) in &search.closing {
            let (level, paths) = if n == root {
                (0, vec![(vec![root], Vec::new())])
            } else {
                let s = self.bfs_from(hop, root, Some(rid), &[n], row)?;
                let Some(&level) = s.level.get(&n) else {
                    continue;
                };
                (level, s.paths_to(root, n, want, budget, self.ctx)?)
            };
            let len = level + 1;
            if len > hop.max || best.is_some_and(|b| len > b) {
                continue;
            }
            if best.is_some_and(|b| len < b) {
                out.clear();
            }
            best = Some(len);
            for (mut nodes, mut rels) in paths {
                nodes.push(root);
                rels.push(rid);
                out.push((nodes, rels));
            }
        }
        out.truncate(want);
        Ok(out)
    }

    /// The nodes a point index gives for the first spatial predicate on
    /// `np`'s variable whose arguments are points (and a number). Other
    /// arguments fall back to the label, so that the predicate itself
    /// raises its type error.
    fn point_seek(&self, np: &NodePattern, label: &str, prop: &str, row: &Row) -> Result<Vec<u64>> {
        let g = self.ctx.g;
        let var = np.var.as_deref().unwrap_or("");
        for h in self.hints {
            // The system searched, and the boxes within it.
            let (srid, boxes) = match h {
                Hint::Within(v, k, lo, hi)
                    if *v == var && *k == prop && expr_ready(lo, row) && expr_ready(hi, row) =>
                {
                    match (eval(self.ctx, lo, row)?, eval(self.ctx, hi, row)?) {
                        (Val::Point(lo), Val::Point(hi)) => {
                            (lo.srid, causeway_value::Point::bbox_boxes(&lo, &hi))
                        }
                        (Val::Null, _) | (_, Val::Null) => return Ok(Vec::new()),
                        _ => continue,
                    }
                }
                Hint::Distance(v, k, c, r)
                    if *v == var && *k == prop && expr_ready(c, row) && expr_ready(r, row) =>
                {
                    match (eval(self.ctx, c, row)?, eval(self.ctx, r, row)?) {
                        (Val::Point(c), Val::Float(r)) => (c.srid, c.distance_boxes(r)),
                        (Val::Point(c), Val::Int(r)) => (c.srid, c.distance_boxes(r as f64)),
                        (Val::Null, _) | (_, Val::Null) => return Ok(Vec::new()),
                        _ => continue,
                    }
                }
                _ => continue,
            };
            let mut ids = Vec::new();
            for (lo, hi) in boxes {
                ids.extend(
                    g.point_index_within(EntityType::Node, label, prop, srid, &lo, &hi)
                        .unwrap_or_default(),
                );
            }
            ids.sort_unstable();
            ids.dedup();
            return Ok(ids);
        }
        Ok(g.nodes_with_label(label))
    }

    /// `shortestPath` and `allShortestPaths`: one breadth-first search per
    /// start node towards its end candidates (all of them at once when
    /// there are few), then the shortest paths walked back through the
    /// predecessors, each path charged to the row limit.
    fn shortest(
        &mut self,
        part: &PatternPart,
        kind: Shortest,
        row: &Row,
        emit: &mut dyn FnMut(Row, &[u64]) -> Result<bool>,
    ) -> Result<bool> {
        let el = &part.element;
        let Some((rp, end_np)) = el.chain.first() else {
            return Ok(true);
        };
        let (min, max) = rp.length.unwrap_or((Some(1), Some(1)));
        let hop = Hop::var_length(rp, &el.start, end_np, min, max);
        let limit = self.ctx.sh.limits.max_materialized_rows;
        let want = match kind {
            Shortest::One => 1,
            Shortest::All => limit + 1,
        };
        for s in self.candidates(&el.start, row)? {
            let mut r0 = row.clone();
            if !self.node_ok(&el.start, s, &mut r0)? {
                continue;
            }
            let mut ends = Vec::new();
            for e in self.candidates(end_np, &r0)? {
                let mut r1 = r0.clone();
                if self.node_ok(end_np, e, &mut r1)? {
                    ends.push((e, r1));
                }
            }
            let targets: Vec<u64> = ends.iter().map(|(e, _)| *e).filter(|&e| e != s).collect();
            // Between two nodes, searching from both ends meets in the
            // middle and reaches far fewer nodes than one search does; it
            // needs every path to be at least one hop long.
            let both_ends = hop.min <= 1 && targets.len() == 1;
            // Relationship properties may read the end node, which only
            // a search per end has bound.
            let shared = if !both_ends
                && !targets.is_empty()
                && targets.len() <= MAX_SEARCH_TARGETS
                && rp.props.is_none()
            {
                Some(self.bfs_from(&hop, s, None, &targets, &r0)?)
            } else {
                None
            };
            for (e, r1) in ends {
                let paths = if e == s {
                    // A path from a node to itself is the empty one, and
                    // only where length zero is allowed.
                    if hop.min == 0 {
                        vec![(vec![s], Vec::new())]
                    } else {
                        Vec::new()
                    }
                } else if both_ends {
                    self.bidirectional(&hop, s, e, want, &r1)?
                } else {
                    let own;
                    let search = match &shared {
                        Some(search) => search,
                        None => {
                            own = self.bfs_from(&hop, s, None, &[e], &r1)?;
                            &own
                        }
                    };
                    match search.level.get(&e) {
                        Some(&l) if l >= hop.min => {
                            // Each pair's paths are emitted before the
                            // next pair's are found.
                            let mut budget = limit;
                            search.paths_to(s, e, want, &mut budget, self.ctx)?
                        }
                        _ => Vec::new(),
                    }
                };
                for (pn, pr) in paths {
                    let mut r = r1.clone();
                    if let Some(v) = &rp.var {
                        r.set(v, Val::List(pr.iter().map(|x| Val::Rel(*x)).collect()));
                    }
                    if let Some(pv) = &part.var {
                        r.set(
                            pv,
                            Val::Path(Box::new(PathVal {
                                nodes: pn,
                                rels: pr,
                            })),
                        );
                    }
                    if !emit(r, &self.used)? {
                        return Ok(false);
                    }
                }
            }
        }
        Ok(true)
    }
}

/// An expression is usable for a seek once every variable it mentions is
/// bound.
fn expr_ready(e: &Expr, row: &Row) -> bool {
    let mut vs = Vec::new();
    variables(e, &mut vs);
    vs.iter().all(|v| row.contains(v))
}

pub fn access_for(ctx: &Ctx, hints: &[Hint], np: &NodePattern, row: &Row) -> Access {
    let g = ctx.g;
    if var_bound(row, &np.var) {
        return Access::Bound;
    }
    let var = np.var.as_deref().unwrap_or("\u{0}");
    for h in hints {
        if let Hint::Id { var: v, expr, .. } = h {
            if *v == var && expr_ready(expr, row) {
                return Access::ById;
            }
        }
    }
    for l in &np.labels {
        let mut keys: Vec<&str> = Vec::new();
        match &np.props {
            Some(Expr::Map(items)) => {
                for (k, e) in items {
                    if expr_ready(e, row) {
                        keys.push(k);
                    }
                }
            }
            Some(Expr::Parameter(p)) => {
                if let Some(Val::Map(m)) = ctx.sh.params.get(p) {
                    keys.extend(m.keys().map(|k| k.as_str()));
                }
            }
            _ => {}
        }
        for h in hints {
            match h {
                Hint::Eq(v, k, e) | Hint::In(v, k, e) if *v == var && expr_ready(e, row) => {
                    keys.push(k)
                }
                _ => {}
            }
        }
        for k in &keys {
            if let Some(ix) = g.find_index(l, k) {
                return Access::IndexSeek {
                    label: l.clone(),
                    prop: (*k).to_owned(),
                    unique: ix.owning_constraint.is_some(),
                };
            }
        }
        if keys.len() > 1 {
            for ix in g.indexes() {
                if ix.entity == causeway_graph::EntityType::Node
                    && ix.label == *l
                    && ix.properties.len() > 1
                    && ix.properties.iter().all(|p| keys.contains(&p.as_str()))
                {
                    return Access::CompositeSeek {
                        label: l.clone(),
                        props: ix.properties.clone(),
                    };
                }
            }
        }
    }
    for l in &np.labels {
        for h in hints {
            match h {
                Hint::Range(v, k, _, e)
                    if *v == var && expr_ready(e, row) && g.find_index(l, k).is_some() =>
                {
                    return Access::IndexRange {
                        label: l.clone(),
                        prop: (*k).to_owned(),
                    };
                }
                Hint::Prefix(v, k, e)
                    if *v == var && expr_ready(e, row) && g.find_index(l, k).is_some() =>
                {
                    return Access::IndexPrefix {
                        label: l.clone(),
                        prop: (*k).to_owned(),
                    };
                }
                _ => {}
            }
        }
    }
    for l in &np.labels {
        for h in hints {
            let (v, k, ready) = match h {
                Hint::Within(v, k, lo, hi) => (v, k, expr_ready(lo, row) && expr_ready(hi, row)),
                Hint::Distance(v, k, c, r) => (v, k, expr_ready(c, row) && expr_ready(r, row)),
                _ => continue,
            };
            if *v == var && ready && g.find_point_index(EntityType::Node, l, k).is_some() {
                return Access::PointSeek {
                    label: l.clone(),
                    prop: (*k).to_owned(),
                };
            }
        }
    }
    match np.labels.iter().min_by_key(|l| g.label_count(l)) {
        Some(l) => Access::LabelScan(l.clone()),
        None => Access::AllNodes,
    }
}

/// A breadth-first search stops early once it has reached every candidate
/// for the far end, when an index or id gives at most this many.
const MAX_SEARCH_TARGETS: usize = 64;

/// Hidden variables: the path of one iteration of a quantified path pattern,
/// and that of a selective pattern without a path variable. A NUL cannot be
/// written in a Cypher name.
const ITERATION_PATH: &str = "\u{0}iteration";
const SELECTED_PATH: &str = "\u{0}selected";

/// One way through a quantified path pattern.
#[derive(Clone)]
struct QuantifiedMatch {
    end: u64,
    rels: Vec<u64>,
    groups: Vec<Vec<Val>>,
}

/// One match of a single iteration.
#[derive(Clone, Default)]
struct Iteration {
    end: u64,
    rels: Vec<u64>,
    values: Vec<Val>,
}

/// Takes the last iteration (of `n` relationships) back off `m`.
fn undo(m: &mut QuantifiedMatch, used: &mut Vec<u64>, n: usize) {
    m.rels.truncate(m.rels.len() - n);
    used.truncate(used.len() - n);
    m.groups.iter_mut().for_each(|g| {
        g.pop();
    });
    // The end is only read right after an iteration is applied.
}

/// The element read right to left: same nodes and relationships, each
/// direction turned round.
fn reversed(el: &PatternElement) -> PatternElement {
    let mut nodes: Vec<NodePattern> = std::iter::once(el.start.clone())
        .chain(el.chain.iter().map(|(_, n)| n.clone()))
        .collect();
    nodes.reverse();
    let mut rels: Vec<RelPattern> = el.chain.iter().map(|(r, _)| r.clone()).collect();
    rels.reverse();
    for r in &mut rels {
        r.direction = match r.direction {
            Direction::Outgoing => Direction::Incoming,
            Direction::Incoming => Direction::Outgoing,
            Direction::Both => Direction::Both,
        };
    }
    let mut nodes = nodes.into_iter();
    let start = nodes.next().unwrap_or_else(NodePattern::anonymous);
    PatternElement {
        start,
        chain: rels.into_iter().zip(nodes).collect(),
    }
}

/// How many of a partition's paths, sorted by length, a selector keeps.
fn select<T>(selector: &PathSelector, k: u64, sorted: &[(usize, T, Vec<u64>)]) -> usize {
    let k = usize::try_from(k).unwrap_or(usize::MAX);
    match selector {
        PathSelector::Any(_) | PathSelector::Shortest(_) => k.min(sorted.len()),
        PathSelector::ShortestGroups(_) => {
            let mut lengths = 0;
            let mut last = None;
            for (i, (len, ..)) in sorted.iter().enumerate() {
                if last != Some(*len) {
                    lengths += 1;
                    if lengths > k {
                        return i;
                    }
                    last = Some(*len);
                }
            }
            sorted.len()
        }
    }
}

fn has_repeats(nodes: &[u64]) -> bool {
    let mut seen = std::collections::HashSet::with_capacity(nodes.len());
    !nodes.iter().all(|n| seen.insert(*n))
}

/// The repeated hop of a pattern searched breadth first.
struct Hop<'p> {
    rel: &'p RelPattern,
    /// The nodes either side of one hop (for `-[*]-`, the pattern's ends,
    /// which are not checked per hop: `plain` is set).
    left: &'p NodePattern,
    right: &'p NodePattern,
    where_: Option<&'p Expr>,
    /// Only the relationship's own properties need checking.
    plain: bool,
    min: u64,
    max: u64,
    /// The search runs from the pattern's last node, against the
    /// direction of its hops.
    backward: bool,
}

impl<'p> Hop<'p> {
    /// `(left)-[rel*min..max]-(right)`: only the relationship is checked
    /// per hop.
    fn var_length(
        rel: &'p RelPattern,
        left: &'p NodePattern,
        right: &'p NodePattern,
        min: Option<u64>,
        max: Option<u64>,
    ) -> Self {
        Hop {
            rel,
            left,
            right,
            where_: None,
            plain: true,
            min: min.unwrap_or(1),
            max: max.unwrap_or(u64::MAX),
            backward: false,
        }
    }

    /// Binds the group variables (or the variable length relationship
    /// list) of a path found, given left to right.
    fn bind(&self, step: &RelPattern, nodes: &[u64], rels: &[u64], row: &mut Row) {
        let list = |ids: &[u64], node: bool| {
            Val::List(
                ids.iter()
                    .map(|&i| if node { Val::Node(i) } else { Val::Rel(i) })
                    .collect(),
            )
        };
        if step.quantified.is_none() {
            if let Some(v) = &step.var {
                row.set(v, list(rels, false));
            }
            return;
        }
        let n = rels.len();
        if let Some(v) = &self.left.var {
            row.set(v, list(&nodes[..n], true));
        }
        if let Some(v) = &self.rel.var {
            row.set(v, list(rels, false));
        }
        if let Some(v) = &self.right.var {
            row.set(v, list(&nodes[1..=n], true));
        }
    }
}

/// Lower bounds on the hops from nodes to the nearest search target.
struct Distances {
    level: std::collections::HashMap<u64, u64>,
    /// The bound for nodes not reached, when the search was cut short;
    /// `None` when it was complete (they cannot reach a target at all).
    beyond: Option<u64>,
}

impl Distances {
    fn get(&self, n: u64) -> Option<u64> {
        self.level.get(&n).copied().or(self.beyond)
    }
}

/// What a breadth-first search from one root found.
struct Search {
    /// Nodes in the order first reached.
    order: Vec<u64>,
    level: std::collections::HashMap<u64, u64>,
    /// For each node, every (previous node, relationship) on a shortest
    /// way to it.
    preds: std::collections::HashMap<u64, Vec<(u64, u64)>>,
    /// Hops back into the root: (far node, relationship).
    closing: Vec<(u64, u64)>,
}

impl Search {
    /// Records that `node` was reached from `from` over `rel` at level
    /// `depth`, and whether that was the first time. A node already reached
    /// at a lower level keeps only the predecessors of its shortest ways.
    fn reach(&mut self, from: u64, rel: u64, node: u64, depth: u64) -> bool {
        let first = match self.level.get(&node) {
            Some(&l) if l < depth => return false,
            Some(_) => false,
            None => {
                self.level.insert(node, depth);
                self.order.push(node);
                true
            }
        };
        self.preds.entry(node).or_default().push((from, rel));
        first
    }

    /// Up to `want` shortest paths from the root to `target`, root first,
    /// walked back through the predecessors one choice per level (no
    /// partial path is copied). Every node of every path found is charged
    /// to `budget`: the number of shortest paths can grow exponentially
    /// with their length.
    fn paths_to(
        &self,
        root: u64,
        target: u64,
        want: usize,
        budget: &mut usize,
        ctx: &Ctx,
    ) -> Result<Vec<(Vec<u64>, Vec<u64>)>> {
        let mut out = Vec::new();
        let mut nodes = vec![target];
        let mut rels: Vec<u64> = Vec::new();
        let mut choice: Vec<usize> = vec![0];
        while let Some(&n) = nodes.last() {
            ctx.sh.tick()?;
            if n == root {
                *budget = budget.checked_sub(nodes.len()).ok_or_else(|| {
                    Error::new(
                        Code::MemoryPoolOutOfMemory,
                        "Shortest path search found more paths than the memory limit allows",
                    )
                })?;
                out.push((
                    nodes.iter().rev().copied().collect(),
                    rels.iter().rev().copied().collect(),
                ));
                if out.len() >= want {
                    break;
                }
                nodes.pop();
                rels.pop();
                choice.pop();
                continue;
            }
            let preds = self.preds.get(&n).map(Vec::as_slice).unwrap_or(&[]);
            let Some(i) = choice.last_mut() else { break };
            match preds.get(*i) {
                Some(&(p, rid)) => {
                    *i += 1;
                    nodes.push(p);
                    rels.push(rid);
                    choice.push(0);
                }
                None => {
                    nodes.pop();
                    rels.pop();
                    choice.pop();
                }
            }
        }
        Ok(out)
    }
}

/// The variable length relationship a quantified path pattern equals, when
/// it repeats one hop between anonymous, unconstrained nodes with no WHERE.
fn plain_repetition(q: &QuantifiedPath) -> Option<RelPattern> {
    let [(rel, end)] = q.element.chain.as_slice() else {
        return None;
    };
    let bare = |n: &NodePattern| *n == NodePattern::anonymous();
    if !bare(&q.element.start) || !bare(end) || q.where_.is_some() {
        return None;
    }
    Some(RelPattern {
        length: Some((Some(q.min), q.max)),
        ..rel.clone()
    })
}
