//! Pattern matching: binds the variables of MATCH patterns against the graph,
//! choosing for each path pattern the most selective node to start from.

use crate::eval::{eval, eval_pred, variables, Ctx};
use crate::val::*;
use causeway_cypher::ast::*;
use causeway_graph::{Bound, Dir};
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
}

/// Splits a WHERE into index-usable predicates on `var.prop`.
pub fn hints(where_: Option<&Expr>) -> Vec<Hint<'_>> {
    let mut out = Vec::new();
    if let Some(w) = where_ {
        collect_hints(w, &mut out);
    }
    out
}

fn collect_hints<'e>(e: &'e Expr, out: &mut Vec<Hint<'e>>) {
    match e {
        Expr::Binary(BinaryOp::And, a, b) => {
            collect_hints(a, out);
            collect_hints(b, out);
        }
        Expr::Binary(op, a, b) => {
            let prop = |x: &'e Expr| -> Option<(&'e str, &'e str)> {
                if let Expr::Property(base, key) = x {
                    if let Expr::Variable(v) = &**base {
                        return Some((v.as_str(), key.as_str()));
                    }
                }
                None
            };
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
    if first.shortest.is_some() {
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
            Access::IndexRange { .. } | Access::IndexPrefix { .. } => 2,
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
    fn matches<'g>(&self, get: impl Fn(&str) -> Option<&'g causeway_value::Value>) -> bool {
        match self {
            Want::Any => true,
            Want::Never => false,
            Want::Map(m) => m.iter().all(|(k, v)| match get(k) {
                Some(h) => cypher_eq(&Val::from_value(h), v) == Some(true),
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
        for f in self.filters {
            let fresh = new
                .iter()
                .any(|v| v.as_deref().is_some_and(|v| f.vars.iter().any(|x| x == v)));
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
        get: impl Fn(&str) -> Option<&'g causeway_value::Value>,
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
                Some(h) => Val::from_value(h),
                None => return Ok(false),
            };
            if cypher_eq(&have, v) != Some(true) {
                return Ok(false);
            }
        }
        Ok(true)
    }

    fn rel_ok(&self, rp: &RelPattern, rid: u64, row: &Row) -> Result<bool> {
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
                    if !rp.types.is_empty() && !rp.types.iter().any(|t| t == rel.rel_type) {
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
            if self.used.contains(&rid) {
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
            }
            if found.len() > self.ctx.sh.limits.max_materialized_rows {
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
        if let Some(pv) = &part.var {
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
            row.set(
                pv,
                Val::Path(Box::new(PathVal {
                    nodes: pn,
                    rels: pr,
                })),
            );
        }
        emit(row, &self.used)
    }

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
        let min = min.unwrap_or(1);
        let max = max.unwrap_or(u64::MAX);
        let starts = self.candidates(&el.start, row)?;
        let dir = dir_of(rp.direction);
        for s in starts {
            let mut r0 = row.clone();
            if !self.node_ok(&el.start, s, &mut r0)? {
                continue;
            }
            let ends = self.candidates(end_np, &r0)?;
            for e in ends {
                let mut r1 = r0.clone();
                if !self.node_ok(end_np, e, &mut r1)? {
                    continue;
                }
                let paths = self.bfs(rp, s, e, dir, min, max, kind, &r1)?;
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
                                rels: pr.clone(),
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

    #[allow(clippy::too_many_arguments)]
    fn bfs(
        &self,
        rp: &RelPattern,
        s: u64,
        e: u64,
        dir: Dir,
        min: u64,
        max: u64,
        kind: Shortest,
        row: &Row,
    ) -> Result<Vec<(Vec<u64>, Vec<u64>)>> {
        use std::collections::HashMap;
        if s == e && min == 0 {
            return Ok(vec![(vec![s], Vec::new())]);
        }
        let g = self.ctx.g;
        // Predecessors per node at the level it was first reached.
        let mut preds: HashMap<u64, Vec<(u64, u64)>> = HashMap::new();
        let mut level: HashMap<u64, u64> = HashMap::new();
        level.insert(s, 0);
        let mut frontier = vec![s];
        let mut depth = 0u64;
        let mut reached = false;
        while !frontier.is_empty() && depth < max && !reached {
            depth += 1;
            let mut next = Vec::new();
            for &n in &frontier {
                self.ctx.sh.tick()?;
                for (rid, o) in g.expand(n, dir, &rp.types) {
                    if !self.rel_ok(rp, rid, row)? || self.used.contains(&rid) {
                        continue;
                    }
                    match level.get(&o) {
                        Some(&l) if l < depth => continue,
                        Some(_) => {}
                        None => {
                            level.insert(o, depth);
                            next.push(o);
                        }
                    }
                    if o == s {
                        continue;
                    }
                    preds.entry(o).or_default().push((n, rid));
                    if o == e {
                        reached = true;
                    }
                }
            }
            if preds.len() > self.ctx.sh.limits.max_materialized_rows {
                return Err(Error::new(
                    Code::MemoryPoolOutOfMemory,
                    "shortestPath search exceeded the row limit",
                ));
            }
            frontier = next;
        }
        if !reached || depth < min {
            return Ok(Vec::new());
        }
        // Enumerate paths back from the end node.
        let mut out = Vec::new();
        let mut stack: Vec<(u64, Vec<u64>, Vec<u64>)> = vec![(e, vec![e], Vec::new())];
        while let Some((n, pn, pr)) = stack.pop() {
            if n == s {
                let mut pn = pn;
                let mut pr = pr;
                pn.reverse();
                pr.reverse();
                out.push((pn, pr));
                if kind == Shortest::One {
                    break;
                }
                continue;
            }
            if let Some(ps) = preds.get(&n) {
                for (p, rid) in ps {
                    if pr.contains(rid) {
                        continue;
                    }
                    let mut pn2 = pn.clone();
                    pn2.push(*p);
                    let mut pr2 = pr.clone();
                    pr2.push(*rid);
                    stack.push((*p, pn2, pr2));
                }
            }
        }
        Ok(out)
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
    match np.labels.iter().min_by_key(|l| g.label_count(l)) {
        Some(l) => Access::LabelScan(l.clone()),
        None => Access::AllNodes,
    }
}
