//! Semantic analysis: variable scoping, pattern rules per clause, aggregation
//! placement, clause composition, and the type errors that are visible
//! without running the query. Error details use openCypher's names.

use crate::ast::*;
use crate::functions::{self, FunctionInfo};
use causeway_value::{Code, Error, Result};
use std::collections::{HashMap, HashSet};

fn err(detail: &'static str, msg: impl Into<String>) -> Error {
    Error::compile(Code::SyntaxError, detail, msg)
}

fn undefined(name: &str) -> Error {
    err(
        "UndefinedVariable",
        format!("Variable `{name}` not defined"),
    )
}

/// What is statically known about a variable's value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Node,
    Rel,
    Path,
    Int,
    Float,
    Bool,
    Str,
    List,
    Map,
    Null,
    Any,
}

impl Kind {
    fn type_name(self) -> &'static str {
        match self {
            Kind::Node => "Node",
            Kind::Rel => "Relationship",
            Kind::Path => "Path",
            Kind::Int => "Integer",
            Kind::Float => "Float",
            Kind::Bool => "Boolean",
            Kind::Str => "String",
            Kind::List => "List<T>",
            Kind::Map => "Map",
            Kind::Null => "Null",
            Kind::Any => "Any",
        }
    }

    /// A plain value that can never be a node, relationship or path.
    fn is_value(self) -> bool {
        matches!(
            self,
            Kind::Int | Kind::Float | Kind::Bool | Kind::Str | Kind::List | Kind::Map
        )
    }
}

fn type_mismatch(expected: &str, got: Kind) -> Error {
    err(
        "InvalidArgumentType",
        format!(
            "Type mismatch: expected {expected} but was {}",
            got.type_name()
        ),
    )
}

/// Variables in scope. Clause-level variables live in a hash map so large
/// generated statements stay linear; comprehension and subquery-local
/// bindings are a small stack that shadows them.
#[derive(Clone, Default)]
struct Scope {
    vars: HashMap<String, Kind>,
    /// Order of declaration, for `RETURN *` column order and conflicts.
    order: Vec<String>,
    locals: Vec<(String, Kind)>,
    /// Any name resolves (SHOW ... YIELD *: columns come from the executor).
    open: bool,
}

impl Scope {
    fn get(&self, name: &str) -> Option<Kind> {
        if let Some((_, k)) = self.locals.iter().rev().find(|(n, _)| n == name) {
            return Some(*k);
        }
        match self.vars.get(name) {
            Some(k) => Some(*k),
            None if self.open => Some(Kind::Any),
            None => None,
        }
    }

    fn declare(&mut self, name: &str, kind: Kind, local: bool) {
        if local {
            self.locals.push((name.to_string(), kind));
        } else if let Some(k) = self.vars.get_mut(name) {
            *k = kind;
        } else {
            self.vars.insert(name.to_string(), kind);
            self.order.push(name.to_string());
        }
    }

    /// The scope a nested query starts from: every visible name becomes a
    /// clause-level variable.
    fn flattened(&self) -> Scope {
        let mut s = Scope {
            vars: self.vars.clone(),
            order: self.order.clone(),
            locals: Vec::new(),
            open: self.open,
        };
        for (n, k) in &self.locals {
            s.declare(n, *k, false);
        }
        s
    }

    fn sorted_names(&self) -> Vec<String> {
        let mut v = self.order.clone();
        v.sort();
        v
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Agg {
    Forbidden,
    Allowed,
    Inside,
}

#[derive(Clone, Copy)]
struct Ctx<'p> {
    agg: Agg,
    /// Whether a bare pattern may stand here as an existence predicate.
    predicate: bool,
    /// ORDER BY after an aggregating or DISTINCT projection may repeat a
    /// projected expression even if its variables are no longer in scope.
    projected: &'p [ProjectionItem],
}

impl<'p> Ctx<'p> {
    fn new(agg: Agg) -> Ctx<'static> {
        Ctx {
            agg,
            predicate: false,
            projected: &[],
        }
    }

    fn pred(self, predicate: bool) -> Self {
        Ctx { predicate, ..self }
    }
}

const WHERE_CTX: Ctx<'static> = Ctx {
    agg: Agg::Forbidden,
    predicate: true,
    projected: &[],
};

pub(crate) fn check_statement(s: &Statement) -> Result<()> {
    match &s.kind {
        StatementKind::Query(q) => {
            check_query(q, Scope::default(), QueryMode::Top)?;
            Ok(())
        }
        StatementKind::Schema(_) => Ok(()),
        StatementKind::Show(show) => check_show(show),
    }
}

fn check_show(show: &ShowCommand) -> Result<()> {
    let mut scope = Scope::default();
    match &show.yield_items {
        Some(YieldSpec::Items(items)) => {
            for (_, var) in items {
                scope.declare(var, Kind::Any, false);
            }
        }
        _ => scope.open = true,
    }
    if let Some(w) = &show.where_ {
        check_expr(w, &mut scope, WHERE_CTX)?;
    }
    check_clauses(&show.then, scope, QueryMode::Show)?;
    Ok(())
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum QueryMode {
    Top,
    /// `CALL { ... }`
    Call,
    /// `EXISTS { ... }` / `COUNT { ... }`: need not end in RETURN.
    Exists,
    /// Clauses after `SHOW ... YIELD`.
    Show,
}

type Columns = Option<Vec<(String, Kind)>>;

fn check_query(q: &Query, scope: Scope, mode: QueryMode) -> Result<Columns> {
    if q.union_all.iter().any(|&a| a) && q.union_all.iter().any(|&a| !a) {
        return Err(err(
            "InvalidClauseComposition",
            "Invalid combination of UNION and UNION ALL",
        ));
    }
    let mut first: Columns = None;
    for (i, part) in q.parts.iter().enumerate() {
        let start = if mode == QueryMode::Call {
            call_subquery_scope(part, &scope)
        } else {
            scope.clone()
        };
        let cols = check_clauses(&part.clauses, start, mode)?;
        if i == 0 {
            first = cols;
        } else {
            let names = |c: &Columns| -> Option<Vec<String>> {
                c.as_ref()
                    .map(|v| v.iter().map(|(n, _)| n.clone()).collect())
            };
            if names(&first) != names(&cols) {
                return Err(err(
                    "DifferentColumnsInUnion",
                    "All sub queries in an UNION must have the same return column names",
                ));
            }
        }
    }
    Ok(first)
}

/// A `CALL { }` body sees outer variables only through a leading importing
/// WITH.
fn call_subquery_scope(part: &SingleQuery, outer: &Scope) -> Scope {
    match part.clauses.first() {
        Some(Clause::With(_)) => outer.flattened(),
        _ => Scope::default(),
    }
}

fn is_updating(c: &Clause) -> bool {
    matches!(
        c,
        Clause::Create(_)
            | Clause::Merge { .. }
            | Clause::Set(_)
            | Clause::Remove(_)
            | Clause::Delete { .. }
            | Clause::Foreach { .. }
    )
}

fn clause_name(c: &Clause) -> &'static str {
    match c {
        Clause::Match { optional: true, .. } => "OPTIONAL MATCH",
        Clause::Match { .. } => "MATCH",
        Clause::Unwind { .. } => "UNWIND",
        Clause::With(_) => "WITH",
        Clause::Return(_) => "RETURN",
        Clause::Create(_) => "CREATE",
        Clause::Merge { .. } => "MERGE",
        Clause::Set(_) => "SET",
        Clause::Remove(_) => "REMOVE",
        Clause::Delete { .. } => "DELETE",
        Clause::Foreach { .. } => "FOREACH",
        Clause::Call { .. } => "CALL",
        Clause::CallSubquery(_) => "CALL",
    }
}

fn check_clauses(clauses: &[Clause], mut scope: Scope, mode: QueryMode) -> Result<Columns> {
    let standalone_call = mode == QueryMode::Top && clauses.len() == 1;
    for (i, c) in clauses.iter().enumerate() {
        let last = i + 1 == clauses.len();
        if let Clause::Return(_) = c {
            if !last {
                return Err(err(
                    "InvalidClauseComposition",
                    "RETURN can only be used at the end of the query",
                ));
            }
        }
        if last && mode != QueryMode::Exists && mode != QueryMode::Show {
            let ok = match c {
                Clause::Return(_) | Clause::CallSubquery(_) => true,
                Clause::Call { yield_items, .. } => yield_items.is_none() || standalone_call,
                other => is_updating(other),
            };
            if !ok {
                return Err(err(
                    "InvalidClauseComposition",
                    format!(
                        "Query cannot conclude with {} (must be a RETURN clause, an update clause, \
                         a unit subquery call, or a procedure call with no YIELD)",
                        clause_name(c)
                    ),
                ));
            }
        }
        if let Clause::Return(p) = c {
            return check_projection(p, &mut scope, true).map(Some);
        }
        check_clause(c, &mut scope, standalone_call)?;
    }
    Ok(None)
}

fn check_clause(c: &Clause, scope: &mut Scope, standalone_call: bool) -> Result<()> {
    match c {
        Clause::Match {
            pattern, where_, ..
        } => {
            let mut declared = HashSet::new();
            for part in &pattern.parts {
                bind_part(part, scope, PatMode::Match, false, &mut declared)?;
            }
            if let Some(w) = where_ {
                check_expr(w, scope, WHERE_CTX)?;
            }
        }
        Clause::Unwind { expr, var } => {
            check_expr(expr, scope, Ctx::new(Agg::Forbidden))?;
            if scope.get(var).is_some() {
                return Err(already_bound(var));
            }
            let kind = element_kind(expr, scope);
            scope.declare(var, kind, false);
        }
        Clause::With(p) => {
            let cols = check_projection(p, scope, false)?;
            let mut next = Scope::default();
            for (name, kind) in cols {
                next.declare(&name, kind, false);
            }
            *scope = next;
        }
        Clause::Return(p) => {
            check_projection(p, scope, true)?;
        }
        Clause::Create(pattern) => {
            let mut declared = HashSet::new();
            for part in &pattern.parts {
                bind_part(part, scope, PatMode::Create, false, &mut declared)?;
            }
        }
        Clause::Merge {
            part,
            on_create,
            on_match,
        } => {
            let mut declared = HashSet::new();
            bind_part(part, scope, PatMode::Merge, false, &mut declared)?;
            for item in on_create.iter().chain(on_match) {
                check_set_item(item, scope)?;
            }
        }
        Clause::Set(items) => {
            for item in items {
                check_set_item(item, scope)?;
            }
        }
        Clause::Remove(items) => {
            for item in items {
                match item {
                    RemoveItem::Property { target, .. } => {
                        check_expr(target, scope, Ctx::new(Agg::Forbidden))?
                    }
                    RemoveItem::Labels { var, .. } => require_var(var, scope)?,
                }
            }
        }
        Clause::Delete { exprs, .. } => {
            for e in exprs {
                if let Expr::HasLabels(..) = e {
                    return Err(err(
                        "InvalidDelete",
                        "DELETE doesn't support removing labels from a node. Try REMOVE.",
                    ));
                }
                check_expr(e, scope, Ctx::new(Agg::Forbidden))?;
                let kind = static_kind(e, scope);
                if kind.is_value() && kind != Kind::List {
                    return Err(type_mismatch("Node, Path or Relationship", kind));
                }
            }
        }
        Clause::Foreach { var, list, clauses } => {
            check_expr(list, scope, Ctx::new(Agg::Forbidden))?;
            let mut inner = scope.flattened();
            inner.declare(var, element_kind(list, scope), false);
            for c in clauses {
                if !is_updating(c) {
                    return Err(err(
                        "InvalidClauseComposition",
                        format!(
                            "Invalid use of {} inside FOREACH: only updating clauses are allowed",
                            clause_name(c)
                        ),
                    ));
                }
                check_clause(c, &mut inner, false)?;
            }
        }
        Clause::Call {
            args,
            yield_items,
            where_,
            ..
        } => {
            for a in args.iter().flatten() {
                check_expr(a, scope, Ctx::new(Agg::Forbidden))?;
            }
            match yield_items {
                Some(YieldSpec::All) if !standalone_call => return Err(err(
                    "UnexpectedSyntax",
                    "Invalid input '*': YIELD * can only be used with a standalone procedure call",
                )),
                Some(YieldSpec::All) => scope.open = true,
                Some(YieldSpec::Items(items)) => {
                    for (_, var) in items {
                        if scope.get(var).is_some() {
                            return Err(already_bound(var));
                        }
                        scope.declare(var, Kind::Any, false);
                    }
                }
                None => {}
            }
            if let Some(w) = where_ {
                check_expr(w, scope, WHERE_CTX)?;
            }
        }
        Clause::CallSubquery(q) => {
            if let Some(cols) = check_query(q, scope.clone(), QueryMode::Call)? {
                for (name, kind) in cols {
                    if scope.get(&name).is_some() {
                        return Err(already_bound(&name));
                    }
                    scope.declare(&name, kind, false);
                }
            }
        }
    }
    Ok(())
}

fn already_bound(var: &str) -> Error {
    err(
        "VariableAlreadyBound",
        format!("Variable `{var}` already declared"),
    )
}

fn require_var(var: &str, scope: &Scope) -> Result<()> {
    scope.get(var).map(|_| ()).ok_or_else(|| undefined(var))
}

fn check_set_item(item: &SetItem, scope: &mut Scope) -> Result<()> {
    let cx = Ctx::new(Agg::Forbidden);
    match item {
        SetItem::Property { target, value, .. } => {
            check_expr(target, scope, cx)?;
            check_expr(value, scope, cx)
        }
        SetItem::Replace { var, value } | SetItem::Merge { var, value } => {
            require_var(var, scope)?;
            check_expr(value, scope, cx)
        }
        SetItem::Labels { var, .. } => require_var(var, scope),
    }
}

// ----- patterns --------------------------------------------------------------

#[derive(Clone, Copy, PartialEq, Eq)]
enum PatMode {
    Match,
    Create,
    Merge,
    /// Pattern comprehensions and EXISTS/COUNT bodies: new variables are
    /// local to the expression.
    Local,
    /// A pattern used as a predicate may not introduce variables.
    Predicate,
}

fn bind_part(
    part: &PatternPart,
    scope: &mut Scope,
    mode: PatMode,
    local: bool,
    declared: &mut HashSet<String>,
) -> Result<()> {
    let single_node = part.element.chain.is_empty();
    bind_node(&part.element.start, single_node, scope, mode, local)?;
    for (rel, node) in &part.element.chain {
        bind_rel(rel, scope, mode, local, declared)?;
        bind_node(node, false, scope, mode, local)?;
    }
    if let Some(p) = &part.var {
        if scope.get(p).is_some() {
            return Err(already_bound(p));
        }
        scope.declare(p, Kind::Path, local);
    }
    Ok(())
}

fn check_pattern_props(props: &Option<Expr>, scope: &mut Scope, mode: PatMode) -> Result<()> {
    match props {
        Some(Expr::Parameter(_)) if mode != PatMode::Create => Err(err(
            "InvalidParameterUse",
            "Parameter maps cannot be used in MATCH or MERGE patterns \
             (use a literal map instead, e.g. {id: $param.id})",
        )),
        Some(e) => check_expr(e, scope, Ctx::new(Agg::Forbidden)),
        None => Ok(()),
    }
}

fn bind_node(
    node: &NodePattern,
    single: bool,
    scope: &mut Scope,
    mode: PatMode,
    local: bool,
) -> Result<()> {
    if let Some(v) = &node.var {
        match scope.get(v) {
            Some(k @ (Kind::Rel | Kind::Path)) => {
                return Err(err(
                    "VariableTypeConflict",
                    format!(
                        "Type mismatch: `{v}` defined with conflicting type {} (expected Node)",
                        k.type_name()
                    ),
                ))
            }
            Some(k) if k.is_value() => {
                return Err(err(
                    "VariableTypeConflict",
                    format!(
                        "Type mismatch: `{v}` defined with conflicting type {} (expected Node)",
                        k.type_name()
                    ),
                ))
            }
            Some(_) => {
                if matches!(mode, PatMode::Create | PatMode::Merge)
                    && (single || !node.labels.is_empty() || node.props.is_some())
                {
                    return Err(already_bound(v));
                }
            }
            None => {
                if mode == PatMode::Predicate {
                    return Err(undefined(v));
                }
                scope.declare(v, Kind::Node, local);
            }
        }
    }
    check_pattern_props(&node.props, scope, mode)
}

fn bind_rel(
    rel: &RelPattern,
    scope: &mut Scope,
    mode: PatMode,
    local: bool,
    declared: &mut HashSet<String>,
) -> Result<()> {
    if matches!(mode, PatMode::Create | PatMode::Merge) {
        if rel.types.len() != 1 {
            return Err(err(
                "NoSingleRelationshipType",
                "A single relationship type must be specified for CREATE and MERGE",
            ));
        }
        if mode == PatMode::Create && rel.direction == Direction::Both {
            return Err(err(
                "RequiresDirectedRelationship",
                "Only directed relationships are supported in CREATE",
            ));
        }
        if rel.length.is_some() {
            return Err(err(
                "CreatingVarLength",
                "Variable length relationships cannot be used in CREATE or MERGE",
            ));
        }
    }
    if let Some(v) = &rel.var {
        match scope.get(v) {
            Some(k @ (Kind::Node | Kind::Path)) => {
                return Err(err(
                    "VariableTypeConflict",
                    format!("Type mismatch: `{v}` defined with conflicting type {} (expected Relationship)", k.type_name()),
                ))
            }
            Some(k) if k.is_value() && !(k == Kind::List && rel.length.is_some()) => {
                return Err(err(
                    "VariableTypeConflict",
                    format!("Type mismatch: `{v}` defined with conflicting type {} (expected Relationship)", k.type_name()),
                ))
            }
            Some(_) => {
                if matches!(mode, PatMode::Create | PatMode::Merge) || declared.contains(v) {
                    return Err(already_bound(v));
                }
            }
            None => {
                if mode == PatMode::Predicate {
                    return Err(undefined(v));
                }
                scope.declare(v, Kind::Rel, local);
            }
        }
        declared.insert(v.clone());
    }
    check_pattern_props(&rel.props, scope, mode)
}

// ----- projections -----------------------------------------------------------

fn check_projection(
    p: &Projection,
    scope: &mut Scope,
    is_return: bool,
) -> Result<Vec<(String, Kind)>> {
    let item_cx = Ctx::new(Agg::Allowed);
    for item in &p.items {
        check_expr(&item.expr, scope, item_cx)?;
        if !is_return && item.alias.is_none() && !matches!(item.expr, Expr::Variable(_)) {
            return Err(err(
                "NoExpressionAlias",
                format!("Expression in WITH must be aliased (use AS): {}", item.text),
            ));
        }
    }
    let mut cols: Vec<(String, Kind)> = Vec::new();
    if p.star {
        for name in scope.sorted_names() {
            let kind = scope.get(&name).unwrap_or(Kind::Any);
            cols.push((name, kind));
        }
    }
    let mut seen = HashSet::new();
    for item in &p.items {
        let name = item.name().to_string();
        if !seen.insert(name.clone()) {
            return Err(err(
                "ColumnNameConflict",
                format!("Multiple result columns with the same name `{name}` are not supported"),
            ));
        }
        let kind = static_kind(&item.expr, scope);
        if let Some(existing) = cols.iter_mut().find(|(n, _)| *n == name) {
            existing.1 = kind;
        } else {
            cols.push((name, kind));
        }
    }

    let aggregating = p.items.iter().any(|i| contains_aggregate(&i.expr));
    if aggregating {
        let grouped: Vec<&Expr> = p
            .items
            .iter()
            .filter(|i| !contains_aggregate(&i.expr))
            .map(|i| &i.expr)
            .collect();
        for item in p.items.iter().filter(|i| contains_aggregate(&i.expr)) {
            check_ambiguous(&item.expr, &grouped, &mut Vec::new())?;
        }
    }

    // ORDER BY and WITH ... WHERE see the projected names; without
    // aggregation or DISTINCT the earlier variables remain visible too.
    let mut after = if aggregating || p.distinct {
        Scope {
            open: scope.open,
            ..Scope::default()
        }
    } else {
        scope.flattened()
    };
    for (name, kind) in &cols {
        after.declare(name, *kind, false);
    }
    let sort_cx = Ctx {
        agg: if aggregating {
            Agg::Allowed
        } else {
            Agg::Forbidden
        },
        predicate: false,
        projected: &p.items,
    };
    for s in &p.order_by {
        check_expr(&s.expr, &mut after, sort_cx)?;
    }
    for e in p.skip.iter().chain(&p.limit) {
        check_skip_limit(e, scope)?;
    }
    if let Some(w) = &p.where_ {
        let where_cx = Ctx {
            projected: &p.items,
            ..WHERE_CTX
        };
        check_expr(w, &mut after, where_cx)?;
    }
    Ok(cols)
}

fn check_skip_limit(e: &Expr, scope: &mut Scope) -> Result<()> {
    if has_variables(e) {
        return Err(err(
            "NonConstantExpression",
            "It is not allowed to refer to variables in SKIP or LIMIT",
        ));
    }
    check_expr(e, scope, Ctx::new(Agg::Forbidden))?;
    match e {
        Expr::Literal(Literal::Int(v)) if *v < 0 => Err(err(
            "NegativeIntegerArgument",
            format!("Invalid input. '{v}' is not a valid value. Must be a non-negative integer."),
        )),
        Expr::Literal(Literal::Int(_) | Literal::Null) => Ok(()),
        _ => {
            let kind = static_kind(e, scope);
            if kind.is_value() && kind != Kind::Int {
                Err(type_mismatch("Integer", kind))
            } else {
                Ok(())
            }
        }
    }
}

/// In an aggregating projection, the parts of an item outside aggregate
/// calls must be grouping keys, or variables / properties of variables that
/// are grouping keys; anything else would be ambiguous.
fn check_ambiguous(e: &Expr, grouped: &[&Expr], locals: &mut Vec<String>) -> Result<()> {
    if is_aggregate_call(e) {
        return Ok(());
    }
    let simple = matches!(e, Expr::Variable(_))
        || matches!(e, Expr::Property(b, _) if matches!(**b, Expr::Variable(_)));
    if simple && grouped.contains(&e) {
        return Ok(());
    }
    match e {
        Expr::Variable(v) => {
            if locals.contains(v) {
                return Ok(());
            }
            if grouped
                .iter()
                .any(|g| matches!(g, Expr::Variable(w) if w == v))
            {
                return Ok(());
            }
            Err(err(
                "AmbiguousAggregationExpression",
                format!(
                    "Aggregation column contains implicit grouping expressions: `{v}` is \
                     neither a grouping key nor inside an aggregate function"
                ),
            ))
        }
        Expr::ListComprehension { var, .. } | Expr::Quantified { var, .. } => {
            locals.push(var.clone());
            let r = for_each_child(e, &mut |c| check_ambiguous(c, grouped, locals));
            locals.pop();
            r
        }
        Expr::Reduce { acc, var, .. } => {
            locals.push(acc.clone());
            locals.push(var.clone());
            let r = for_each_child(e, &mut |c| check_ambiguous(c, grouped, locals));
            locals.pop();
            locals.pop();
            r
        }
        // Subqueries and pattern expressions introduce their own variables;
        // leave them to the executor rather than risk false rejections.
        Expr::PatternComprehension { .. }
        | Expr::Exists(_)
        | Expr::CountSubquery(_)
        | Expr::PatternPredicate(_) => Ok(()),
        _ => for_each_child(e, &mut |c| check_ambiguous(c, grouped, locals)),
    }
}

// ----- expressions -----------------------------------------------------------

/// Calls `f` on each direct sub-expression (not descending into subquery
/// bodies or pattern properties).
fn for_each_child(e: &Expr, f: &mut dyn FnMut(&Expr) -> Result<()>) -> Result<()> {
    match e {
        Expr::Literal(_)
        | Expr::Parameter(_)
        | Expr::Variable(_)
        | Expr::CountStar
        | Expr::PatternPredicate(_)
        | Expr::Exists(_)
        | Expr::CountSubquery(_) => Ok(()),
        Expr::Property(b, _) => f(b),
        Expr::List(items) => items.iter().try_for_each(f),
        Expr::Map(entries) => entries.iter().try_for_each(|(_, v)| f(v)),
        Expr::Index(a, b) => {
            f(a)?;
            f(b)
        }
        Expr::Slice(a, b, c) => {
            f(a)?;
            if let Some(b) = b {
                f(b)?;
            }
            if let Some(c) = c {
                f(c)?;
            }
            Ok(())
        }
        Expr::Unary(_, a) => f(a),
        Expr::Binary(_, a, b) => {
            f(a)?;
            f(b)
        }
        Expr::IsNull { expr, .. } => f(expr),
        Expr::HasLabels(a, _) => f(a),
        Expr::Case {
            subject,
            whens,
            else_,
        } => {
            if let Some(s) = subject {
                f(s)?;
            }
            for (w, t) in whens {
                f(w)?;
                f(t)?;
            }
            if let Some(e) = else_ {
                f(e)?;
            }
            Ok(())
        }
        Expr::Function { args, .. } => args.iter().try_for_each(f),
        Expr::ListComprehension {
            list, filter, map, ..
        } => {
            f(list)?;
            if let Some(x) = filter {
                f(x)?;
            }
            if let Some(x) = map {
                f(x)?;
            }
            Ok(())
        }
        Expr::PatternComprehension { filter, map, .. } => {
            if let Some(x) = filter {
                f(x)?;
            }
            f(map)
        }
        Expr::Quantified { list, filter, .. } => {
            f(list)?;
            if let Some(x) = filter {
                f(x)?;
            }
            Ok(())
        }
        Expr::Reduce {
            init, list, expr, ..
        } => {
            f(init)?;
            f(list)?;
            f(expr)
        }
        Expr::MapProjection { items, .. } => items.iter().try_for_each(|i| match i {
            MapProjectionItem::Literal(_, e) => f(e),
            _ => Ok(()),
        }),
    }
}

fn is_aggregate_call(e: &Expr) -> bool {
    match e {
        Expr::CountStar => true,
        Expr::Function { name, .. } => functions::lookup(name).is_some_and(|f| f.aggregate),
        _ => false,
    }
}

fn contains_aggregate(e: &Expr) -> bool {
    if is_aggregate_call(e) {
        return true;
    }
    let mut found = false;
    let _ = for_each_child(e, &mut |c| {
        if !found && contains_aggregate(c) {
            found = true;
        }
        Ok(())
    });
    found
}

fn has_variables(e: &Expr) -> bool {
    match e {
        Expr::Variable(_) | Expr::MapProjection { .. } => true,
        Expr::PatternPredicate(_)
        | Expr::PatternComprehension { .. }
        | Expr::Exists(_)
        | Expr::CountSubquery(_) => true,
        _ => {
            let mut found = false;
            let _ = for_each_child(e, &mut |c| {
                if !found && has_variables(c) {
                    found = true;
                }
                Ok(())
            });
            found
        }
    }
}

fn static_kind(e: &Expr, scope: &Scope) -> Kind {
    match e {
        Expr::Literal(l) => match l {
            Literal::Null => Kind::Null,
            Literal::Bool(_) => Kind::Bool,
            Literal::Int(_) => Kind::Int,
            Literal::Float(_) => Kind::Float,
            Literal::String(_) => Kind::Str,
        },
        Expr::List(_) | Expr::ListComprehension { .. } | Expr::PatternComprehension { .. } => {
            Kind::List
        }
        Expr::Map(_) | Expr::MapProjection { .. } => Kind::Map,
        Expr::Variable(v) => scope.get(v).unwrap_or(Kind::Any),
        Expr::Binary(op, a, b) => {
            use BinaryOp::*;
            match op {
                Or | Xor | And | Eq | Ne | Lt | Le | Gt | Ge | In | StartsWith | EndsWith
                | Contains | RegexMatch => Kind::Bool,
                Add | Sub | Mul | Mod => match (static_kind(a, scope), static_kind(b, scope)) {
                    (Kind::Int, Kind::Int) => Kind::Int,
                    (Kind::Float | Kind::Int, Kind::Float | Kind::Int) => Kind::Float,
                    (Kind::Str, Kind::Str) if *op == Add => Kind::Str,
                    _ => Kind::Any,
                },
                _ => Kind::Any,
            }
        }
        Expr::Unary(UnaryOp::Not, _) => Kind::Bool,
        Expr::Unary(_, a) => match static_kind(a, scope) {
            k @ (Kind::Int | Kind::Float) => k,
            _ => Kind::Any,
        },
        Expr::IsNull { .. }
        | Expr::HasLabels(..)
        | Expr::PatternPredicate(_)
        | Expr::Exists(_)
        | Expr::Quantified { .. } => Kind::Bool,
        Expr::CountStar | Expr::CountSubquery(_) => Kind::Int,
        Expr::Function { name, .. } => {
            let lower = name.to_ascii_lowercase();
            match lower.as_str() {
                "count" | "size" | "length" | "tointeger" => Kind::Any,
                "collect" | "keys" | "labels" | "nodes" | "relationships" | "range" => Kind::List,
                "tostring" | "type" => Kind::Any,
                _ => Kind::Any,
            }
        }
        _ => Kind::Any,
    }
}

/// The kind of the elements of a list expression, when statically evident.
fn element_kind(list: &Expr, scope: &Scope) -> Kind {
    match list {
        Expr::List(items) => {
            let mut kinds = items.iter().map(|i| static_kind(i, scope));
            match kinds.next() {
                Some(first) if kinds.all(|k| k == first) => first,
                _ => Kind::Any,
            }
        }
        _ => Kind::Any,
    }
}

/// Operand kinds that are certainly wrong for boolean operators.
fn check_boolean_operand(e: &Expr, scope: &Scope) -> Result<()> {
    let k = static_kind(e, scope);
    if k.is_value() && k != Kind::Bool {
        return Err(type_mismatch("Boolean", k));
    }
    Ok(())
}

fn check_expr(e: &Expr, scope: &mut Scope, cx: Ctx) -> Result<()> {
    if !cx.projected.is_empty() && cx.projected.iter().any(|i| i.expr == *e) {
        return Ok(());
    }
    let plain = Ctx {
        predicate: false,
        ..cx
    };
    match e {
        Expr::Literal(_) | Expr::Parameter(_) => Ok(()),
        Expr::Variable(v) => require_var(v, scope),
        Expr::Property(base, _) => {
            check_expr(base, scope, plain)?;
            let k = static_kind(base, scope);
            if k.is_value() && k != Kind::Map {
                return Err(type_mismatch(
                    "Map, Node, Relationship, Point or temporal value",
                    k,
                ));
            }
            Ok(())
        }
        Expr::Unary(UnaryOp::Not, a) => {
            check_expr(a, scope, cx.pred(true))?;
            check_boolean_operand(a, scope)
        }
        Expr::Unary(_, a) => {
            check_expr(a, scope, plain)?;
            let k = static_kind(a, scope);
            if k.is_value() && !matches!(k, Kind::Int | Kind::Float) {
                return Err(type_mismatch("Integer, Float or Duration", k));
            }
            Ok(())
        }
        Expr::Binary(op, a, b) => {
            use BinaryOp::*;
            match op {
                And | Or | Xor => {
                    check_expr(a, scope, cx.pred(true))?;
                    check_expr(b, scope, cx.pred(true))?;
                    check_boolean_operand(a, scope)?;
                    check_boolean_operand(b, scope)
                }
                In => {
                    check_expr(a, scope, plain)?;
                    check_expr(b, scope, plain)?;
                    let k = static_kind(b, scope);
                    if k.is_value() && k != Kind::List {
                        return Err(type_mismatch("List<T>", k));
                    }
                    Ok(())
                }
                Sub | Mul | Div | Mod | Pow => {
                    check_expr(a, scope, plain)?;
                    check_expr(b, scope, plain)?;
                    for side in [a, b] {
                        let k = static_kind(side, scope);
                        if matches!(
                            k,
                            Kind::Str
                                | Kind::Bool
                                | Kind::Map
                                | Kind::Node
                                | Kind::Rel
                                | Kind::Path
                        ) || (k == Kind::List && *op != Sub)
                        {
                            return Err(type_mismatch("Integer, Float or Duration", k));
                        }
                    }
                    Ok(())
                }
                _ => {
                    check_expr(a, scope, plain)?;
                    check_expr(b, scope, plain)
                }
            }
        }
        Expr::Case {
            subject,
            whens,
            else_,
        } => {
            if let Some(s) = subject {
                check_expr(s, scope, plain)?;
            }
            for (w, t) in whens {
                check_expr(w, scope, plain.pred(subject.is_none()))?;
                check_expr(t, scope, plain)?;
            }
            if let Some(x) = else_ {
                check_expr(x, scope, plain)?;
            }
            Ok(())
        }
        Expr::Function {
            name,
            args,
            distinct,
        } => check_function(name, args, *distinct, scope, plain),
        Expr::CountStar => check_aggregate_placement("count(*)", cx),
        Expr::ListComprehension {
            var,
            list,
            filter,
            map,
        } => {
            check_expr(list, scope, plain)?;
            let kind = element_kind(list, scope);
            scope.declare(var, kind, true);
            let r = (|| {
                if let Some(f) = filter {
                    check_expr(f, scope, plain.pred(true))?;
                }
                if let Some(m) = map {
                    check_expr(m, scope, plain)?;
                }
                Ok(())
            })();
            scope.locals.pop();
            r
        }
        Expr::Quantified {
            var, list, filter, ..
        } => {
            check_expr(list, scope, plain)?;
            let kind = element_kind(list, scope);
            scope.declare(var, kind, true);
            let r = match filter {
                Some(f) => check_expr(f, scope, plain.pred(true)),
                None => Ok(()),
            };
            scope.locals.pop();
            r
        }
        Expr::Reduce {
            acc,
            init,
            var,
            list,
            expr,
        } => {
            check_expr(init, scope, plain)?;
            check_expr(list, scope, plain)?;
            let kind = element_kind(list, scope);
            scope.declare(acc, Kind::Any, true);
            scope.declare(var, kind, true);
            let r = check_expr(expr, scope, plain);
            scope.locals.pop();
            scope.locals.pop();
            r
        }
        Expr::PatternComprehension {
            path_var,
            pattern,
            filter,
            map,
        } => {
            let mark = scope.locals.len();
            let r = (|| {
                let part = PatternPart {
                    var: path_var.clone(),
                    shortest: None,
                    element: (**pattern).clone(),
                };
                bind_part(&part, scope, PatMode::Local, true, &mut HashSet::new())?;
                if let Some(f) = filter {
                    check_expr(f, scope, WHERE_CTX)?;
                }
                check_expr(map, scope, plain)
            })();
            scope.locals.truncate(mark);
            r
        }
        Expr::PatternPredicate(el) => {
            if !cx.predicate {
                return Err(err(
                    "UnexpectedSyntax",
                    "A pattern expression should only be used in order to test the existence \
                     of a pattern. It can no longer be used inside the function size(), an \
                     alternative is to replace size() with COUNT {}.",
                ));
            }
            let part = PatternPart {
                var: None,
                shortest: None,
                element: (**el).clone(),
            };
            let mark = scope.locals.len();
            let r = bind_part(&part, scope, PatMode::Predicate, true, &mut HashSet::new());
            scope.locals.truncate(mark);
            r
        }
        Expr::Exists(body) | Expr::CountSubquery(body) => check_subquery_body(body, scope),
        Expr::MapProjection { var, items } => {
            require_var(var, scope)?;
            for item in items {
                match item {
                    MapProjectionItem::Variable(v) => require_var(v, scope)?,
                    MapProjectionItem::Literal(_, e) => check_expr(e, scope, plain)?,
                    _ => {}
                }
            }
            Ok(())
        }
        Expr::List(_)
        | Expr::Map(_)
        | Expr::Index(..)
        | Expr::Slice(..)
        | Expr::IsNull { .. }
        | Expr::HasLabels(..) => for_each_child(e, &mut |c| check_expr(c, scope, plain)),
    }
}

fn check_subquery_body(body: &SubqueryPattern, scope: &mut Scope) -> Result<()> {
    match body {
        SubqueryPattern::Pattern { pattern, where_ } => {
            let mark = scope.locals.len();
            let r = (|| {
                let mut declared = HashSet::new();
                for part in &pattern.parts {
                    bind_part(part, scope, PatMode::Local, true, &mut declared)?;
                }
                if let Some(w) = where_ {
                    check_expr(w, scope, WHERE_CTX)?;
                }
                Ok(())
            })();
            scope.locals.truncate(mark);
            r
        }
        SubqueryPattern::Query(q) => {
            check_query(q, scope.flattened(), QueryMode::Exists)?;
            Ok(())
        }
    }
}

fn check_aggregate_placement(name: &str, cx: Ctx) -> Result<()> {
    match cx.agg {
        Agg::Allowed => Ok(()),
        Agg::Forbidden => Err(err(
            "InvalidAggregation",
            format!("Invalid use of aggregating function {name} in this context"),
        )),
        Agg::Inside => Err(err(
            "InvalidAggregation",
            "Can't use aggregate functions inside of aggregate functions.",
        )),
    }
}

fn check_function(
    name: &str,
    args: &[Expr],
    distinct: bool,
    scope: &mut Scope,
    cx: Ctx,
) -> Result<()> {
    let info: Option<&FunctionInfo> = functions::lookup(name);
    let mut arg_cx = cx;
    match info {
        None => {
            if !name.contains('.') {
                return Err(err("UnknownFunction", format!("Unknown function '{name}'")));
            }
        }
        Some(f) => {
            if args.len() < f.min_args || args.len() > f.max_args {
                return Err(err(
                    "InvalidNumberOfArguments",
                    format!(
                        "Insufficient or too many parameters for function '{name}': got {}",
                        args.len()
                    ),
                ));
            }
            if f.aggregate {
                check_aggregate_placement(&format!("{name}(...)"), cx)?;
                arg_cx.agg = Agg::Inside;
            } else if distinct {
                return Err(err(
                    "InvalidArgumentType",
                    format!("Invalid use of DISTINCT with function '{name}'"),
                ));
            }
        }
    }
    let lower = name.to_ascii_lowercase();
    let predicate_arg = lower == "exists";
    for a in args {
        check_expr(a, scope, arg_cx.pred(predicate_arg))?;
    }
    if let Some(first) = args.first() {
        let k = static_kind(first, scope);
        let bad = match lower.as_str() {
            "labels" => matches!(k, Kind::Rel | Kind::Path) || k.is_value(),
            "type" | "startnode" | "endnode" => {
                matches!(k, Kind::Node | Kind::Path) || k.is_value()
            }
            "properties" => matches!(k, Kind::Path) || (k.is_value() && k != Kind::Map),
            "nodes" | "relationships" => matches!(k, Kind::Node | Kind::Rel) || k.is_value(),
            _ => false,
        };
        if bad {
            return Err(err(
                "InvalidArgumentType",
                format!(
                    "Type mismatch: function {name}() does not accept an argument of type {}",
                    k.type_name()
                ),
            ));
        }
    }
    Ok(())
}
