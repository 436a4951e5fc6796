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
        SetItem::Labels { .. } => {}
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
            element(&part.element, f);
            for s in on_create.iter().chain(on_match) {
                set_item(s, f);
            }
        }
        Clause::Set(items) => items.iter().for_each(|s| set_item(s, f)),
        Clause::Remove(items) => {
            for i in items {
                if let RemoveItem::Property { target, .. } = i {
                    expr(target, f);
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
        Clause::CallSubquery(q) => query(q, f),
    }
}

pub fn pattern(p: &Pattern, f: &mut dyn FnMut(&Expr)) {
    for part in &p.parts {
        element(&part.element, f);
    }
}

fn element(el: &PatternElement, f: &mut dyn FnMut(&Expr)) {
    if let Some(p) = &el.start.props {
        expr(p, f);
    }
    for (r, n) in &el.chain {
        for p in [&r.props, &n.props].into_iter().flatten() {
            expr(p, f);
        }
    }
}

pub fn expr(e: &Expr, f: &mut dyn FnMut(&Expr)) {
    f(e);
    match e {
        Expr::PatternPredicate(p) => element(p, f),
        Expr::PatternComprehension { pattern: p, .. } => element(p, f),
        Expr::Exists(sq) | Expr::CountSubquery(sq) => match &**sq {
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
