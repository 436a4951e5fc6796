//! Visits every expression of a statement, including those inside patterns
//! and subqueries (unlike `eval::walk`, which stays in one scope).

use causeway_cypher::ast::*;

pub fn query(q: &Query, f: &mut dyn FnMut(&Expr)) {
    for p in &q.parts {
        clauses(&p.clauses, f);
    }
}

pub fn clauses(cs: &[Clause], f: &mut dyn FnMut(&Expr)) {
    for c in cs {
        clause(c, f);
    }
}

fn projection(p: &Projection, f: &mut dyn FnMut(&Expr)) {
    for i in &p.items {
        expr(&i.expr, f);
    }
    for s in &p.order_by {
        expr(&s.expr, f);
    }
    for e in [&p.skip, &p.limit, &p.where_].into_iter().flatten() {
        expr(e, f);
    }
}

fn set_item(s: &SetItem, f: &mut dyn FnMut(&Expr)) {
    match s {
        SetItem::Property { target, value, .. } => {
            expr(target, f);
            expr(value, f);
        }
        SetItem::Replace { value, .. } | SetItem::Merge { value, .. } => expr(value, f),
        SetItem::Labels { dynamic, .. } => dynamic.iter().for_each(|e| expr(e, f)),
    }
}

pub fn clause(c: &Clause, f: &mut dyn FnMut(&Expr)) {
    match c {
        Clause::Match {
            pattern: p, where_, ..
        } => {
            pattern(p, f);
            if let Some(w) = where_ {
                expr(w, f);
            }
        }
        Clause::Unwind { expr: e, .. } => expr(e, f),
        Clause::With(p) | Clause::Return(p) => projection(p, f),
        Clause::Create(p) => pattern(p, f),
        Clause::Merge {
            part,
            on_create,
            on_match,
        } => {
            part.expressions().into_iter().for_each(|e| expr(e, f));
            for s in on_create.iter().chain(on_match) {
                set_item(s, f);
            }
        }
        Clause::Set(items) => items.iter().for_each(|s| set_item(s, f)),
        Clause::Remove(items) => {
            for i in items {
                match i {
                    RemoveItem::Property { target, .. } => expr(target, f),
                    RemoveItem::Labels { dynamic, .. } => dynamic.iter().for_each(|e| expr(e, f)),
                }
            }
        }
        Clause::Delete { exprs, .. } => exprs.iter().for_each(|e| expr(e, f)),
        Clause::Foreach {
            list, clauses: cs, ..
        } => {
            expr(list, f);
            clauses(cs, f);
        }
        Clause::Call { args, where_, .. } => {
            for a in args.iter().flatten() {
                expr(a, f);
            }
            if let Some(w) = where_ {
                expr(w, f);
            }
        }
        Clause::CallSubquery { query: q, .. } => query(q, f),
    }
}

pub fn pattern(p: &Pattern, f: &mut dyn FnMut(&Expr)) {
    for part in &p.parts {
        for e in part.expressions() {
            expr(e, f);
        }
    }
}

pub fn expr(e: &Expr, f: &mut dyn FnMut(&Expr)) {
    f(e);
    match e {
        Expr::PatternPredicate(p) | Expr::PatternComprehension { pattern: p, .. } => {
            p.expressions().into_iter().for_each(|e| expr(e, f))
        }
        Expr::Exists(sq) | Expr::CountSubquery(sq) | Expr::CollectSubquery(sq) => match &**sq {
            SubqueryPattern::Pattern { pattern: p, where_ } => {
                pattern(p, f);
                if let Some(w) = where_ {
                    expr(w, f);
                }
            }
            SubqueryPattern::Query(q) => query(q, f),
        },
        _ => {}
    }
    crate::eval::for_children(e, &mut |c| expr(c, f));
}

/// How deeply a statement nests (expressions, patterns, subqueries): the
/// executor recurses about that deep, so deep statements get a big stack.
pub fn query_depth(q: &Query) -> usize {
    q.parts
        .iter()
        .map(|p| clauses_depth(&p.clauses))
        .max()
        .unwrap_or(0)
}

fn clauses_depth(cs: &[Clause]) -> usize {
    let mut d = 0;
    for c in cs {
        let mut cd = 0;
        // Matching recurses once per pattern part and per hop.
        let pattern_depth = |parts: &mut dyn Iterator<Item = &PatternPart>| {
            parts
                .map(|p| p.element.chain.len() + 1)
                .fold(0usize, |a, b| a.saturating_add(b))
        };
        match c {
            Clause::Match { pattern, .. } | Clause::Create(pattern) => {
                cd = cd.max(pattern_depth(&mut pattern.parts.iter()));
            }
            Clause::Merge { part, .. } => cd = cd.max(pattern_depth(&mut std::iter::once(part))),
            Clause::Foreach { clauses: inner, .. } => cd = cd.max(1 + clauses_depth(inner)),
            Clause::CallSubquery { query, .. } => cd = cd.max(1 + query_depth(query)),
            _ => {}
        }
        // Expressions directly under the clause.
        let mut tops: Vec<&Expr> = Vec::new();
        clause_top_exprs(c, &mut tops);
        for e in tops {
            cd = cd.max(expr_depth(e));
        }
        d = d.max(cd);
    }
    d
}

fn clause_top_exprs<'a>(c: &'a Clause, out: &mut Vec<&'a Expr>) {
    let pat = |p: &'a PatternPart, out: &mut Vec<&'a Expr>| out.extend(p.expressions());
    match c {
        Clause::Match {
            pattern, where_, ..
        } => {
            for part in &pattern.parts {
                pat(part, out);
            }
            out.extend(where_.iter());
        }
        Clause::Create(pattern) => {
            for part in &pattern.parts {
                pat(part, out);
            }
        }
        Clause::Merge {
            part,
            on_create,
            on_match,
        } => {
            pat(part, out);
            for s in on_create.iter().chain(on_match) {
                set_exprs(s, out);
            }
        }
        Clause::Unwind { expr, .. } => out.push(expr),
        Clause::With(p) | Clause::Return(p) => {
            out.extend(p.items.iter().map(|i| &i.expr));
            out.extend(p.order_by.iter().map(|s| &s.expr));
            out.extend([&p.skip, &p.limit, &p.where_].into_iter().flatten());
        }
        Clause::Set(items) => items.iter().for_each(|s| set_exprs(s, out)),
        Clause::Remove(items) => {
            for i in items {
                match i {
                    RemoveItem::Property { target, .. } => out.push(target),
                    RemoveItem::Labels { dynamic, .. } => out.extend(dynamic),
                }
            }
        }
        Clause::Delete { exprs, .. } => out.extend(exprs.iter()),
        Clause::Foreach { list, .. } => out.push(list),
        Clause::Call { args, where_, .. } => {
            out.extend(args.iter().flatten());
            out.extend(where_.iter());
        }
        Clause::CallSubquery { .. } => {}
    }
}

fn set_exprs<'a>(s: &'a SetItem, out: &mut Vec<&'a Expr>) {
    match s {
        SetItem::Property { target, value, .. } => {
            out.push(target);
            out.push(value);
        }
        SetItem::Replace { value, .. } | SetItem::Merge { value, .. } => out.push(value),
        SetItem::Labels { dynamic, .. } => out.extend(dynamic),
    }
}

pub fn expr_depth(e: &Expr) -> usize {
    let mut d = 0;
    match e {
        Expr::PatternPredicate(p) | Expr::PatternComprehension { pattern: p, .. } => {
            d = d.max(element_depth(p));
        }
        Expr::Exists(sq) | Expr::CountSubquery(sq) | Expr::CollectSubquery(sq) => match &**sq {
            SubqueryPattern::Pattern { pattern, where_ } => {
                d = d.max(pattern.parts.len());
                for part in &pattern.parts {
                    d = d.max(element_depth(&part.element) + pattern.parts.len());
                }
                if let Some(w) = where_ {
                    d = d.max(expr_depth(w));
                }
            }
            SubqueryPattern::Query(q) => d = d.max(query_depth(q)),
        },
        _ => {}
    }
    crate::eval::for_children(e, &mut |c| d = d.max(expr_depth(c)));
    d + 1
}

fn element_depth(p: &PatternElement) -> usize {
    let mut d = p.chain.len();
    for e in p.expressions() {
        d = d.max(expr_depth(e));
    }
    for (r, _) in &p.chain {
        if let Some(q) = &r.quantified {
            d = d.max(element_depth(&q.element));
        }
    }
    d + 1
}
