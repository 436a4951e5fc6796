//! Semantic analysis: variable scoping, pattern rules per clause, aggregation
//! placement, clause composition, and the type errors that are visible
//! without running the query. Error details use openCypher's names.

use crate::ast::*;
use crate::functions::{self, FunctionInfo};
use crate::parser::{stack_position, STACK_BUDGET};
use causeway_value::{Code, Error, Result};
use std::cell::Cell;
use std::collections::{HashMap, HashSet};

thread_local! {
    /// Stack position at the entry of `check_statement` on this thread.
    static STACK_BASE: Cell<usize> = const { Cell::new(0) };
}

/// Fails cleanly instead of overflowing when a statement nests deeper than
/// the checker's stack budget allows.
fn guard_stack() -> Result<()> {
    let base = STACK_BASE.with(Cell::get);
    if base != 0 && stack_position().abs_diff(base) > STACK_BUDGET {
        return Err(err(
            "UnexpectedSyntax",
            "The query nests too deeply to be analysed",
        ));
    }
    Ok(())
}

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
    /// Clause-level names in declaration order (`RETURN *` sorts them, as
    /// Neo4j does, but iteration over the map would not be deterministic).
    order: Vec<String>,
    locals: Vec<(String, Kind)>,
    /// Any name resolves (SHOW ... YIELD *: columns come from the executor).
    open: bool,
    /// The names the graph pattern being bound introduces: a quantified
    /// path pattern's predicates may not read them (Neo4j 5 allows only
    /// variables bound by earlier clauses there, and the matcher may reach
    /// the QPP before them).
    pattern_new: Vec<String>,
}

impl Scope {
    /// Records which names the pattern elements introduce (see
    /// `pattern_new`), returning what was recorded before.
    fn enter_pattern<'e>(
        &mut self,
        elements: impl Iterator<Item = &'e PatternElement>,
    ) -> Vec<String> {
        let mut new = Vec::new();
        for el in elements {
            for v in el.variables() {
                if self.get(v).is_none() && !new.iter().any(|n| n == v) {
                    new.push(v.to_string());
                }
            }
        }
        std::mem::replace(&mut self.pattern_new, new)
    }

    /// This scope without the names the current pattern introduces.
    fn before_pattern(&self) -> Scope {
        let mut s = self.clone();
        for v in &self.pattern_new {
            s.vars.remove(v);
            s.order.retain(|n| n != v);
            s.locals.retain(|(n, _)| n != v);
        }
        s
    }

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
            pattern_new: Vec::new(),
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
    /// Restores the previous stack base even if checking unwinds, so a
    /// stale base can never make later checks on this thread fail.
    struct Restore(usize);
    impl Drop for Restore {
        fn drop(&mut self) {
            STACK_BASE.with(|b| b.set(self.0));
        }
    }
    let previous = STACK_BASE.with(|b| b.replace(stack_position()));
    let _restore = Restore(previous);
    check_statement_kind(s)
}

fn check_statement_kind(s: &Statement) -> Result<()> {
    match &s.kind {
        StatementKind::Query(q) => {
            check_query(q, Scope::default(), QueryMode::Top)?;
            Ok(())
        }
        StatementKind::Schema(_) | StatementKind::Admin(_) => Ok(()),
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
    check_query_with(q, mode, &|_| Ok(scope.clone()))
}

/// `check_query` where each union part starts from the scope `start` gives
/// it (a `CALL { }` body imports per part).
fn check_query_with(
    q: &Query,
    mode: QueryMode,
    start: &dyn Fn(&SingleQuery) -> Result<Scope>,
) -> Result<Columns> {
    guard_stack()?;
    if q.union_all.iter().any(|&a| a) && q.union_all.iter().any(|&a| !a) {
        return Err(err(
            "InvalidClauseComposition",
            "Invalid combination of UNION and UNION ALL",
        ));
    }
    let batched = |part: &SingleQuery| {
        part.clauses.iter().any(|c| {
            matches!(
                c,
                Clause::CallSubquery {
                    in_transactions: Some(_),
                    ..
                }
            )
        })
    };
    if q.parts.len() > 1 && q.parts.iter().any(batched) {
        return Err(err(
            "InvalidClauseComposition",
            "CALL { ... } IN TRANSACTIONS in a UNION is not supported",
        ));
    }
    let mut first: Columns = None;
    for (i, part) in q.parts.iter().enumerate() {
        let cols = check_clauses(&part.clauses, start(part)?, mode)?;
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

/// The scope one union part of a `CALL` body starts from: what the scope
/// clause names, or else what a leading importing WITH names; nothing
/// otherwise, so that an outer name used inside is a new variable.
fn call_body_scope(part: &SingleQuery, clause: Option<&CallScope>, outer: &Scope) -> Result<Scope> {
    let import = |names: &mut dyn Iterator<Item = &String>| -> Result<Scope> {
        let mut s = Scope::default();
        for n in names {
            let kind = outer.get(n).ok_or_else(|| undefined(n))?;
            s.declare(n, kind, false);
        }
        Ok(s)
    };
    let lead = match part.clauses.first() {
        Some(Clause::With(p)) => Some(p),
        _ => None,
    };
    // With a scope clause there is no importing WITH: a leading `WITH e`
    // is an ordinary WITH over what the clause imported (Neo4j 5.23+).
    if let Some(clause) = clause {
        return match clause {
            CallScope::All => Ok(outer.clone()),
            CallScope::Vars(vars) => import(&mut vars.iter()),
        };
    }
    match (part.importing_with(), lead) {
        (Some(p), _) if p.star => Ok(outer.clone()),
        (Some(p), _) => import(&mut p.items.iter().map(|i| match &i.expr {
            Expr::Variable(v) => v,
            // `importing_with` admits plain variables only.
            _ => &i.text,
        })),
        (None, Some(p)) => {
            // A leading WITH that is not an import may not reach outside
            // either; say why rather than that a name is undefined.
            let reaches_out = check_projection(p, &mut Scope::default(), false).is_err()
                && check_projection(p, &mut outer.clone(), false).is_ok();
            if reaches_out {
                return Err(importing_with_error(p));
            }
            Ok(Scope::default())
        }
        (None, None) => Ok(Scope::default()),
    }
}

fn importing_with_error(p: &Projection) -> Error {
    let why = if p.distinct {
        "DISTINCT is not allowed."
    } else if p.where_.is_some() {
        "WHERE is not allowed."
    } else if !p.order_by.is_empty() {
        "ORDER BY is not allowed."
    } else if p.skip.is_some() {
        "SKIP is not allowed."
    } else if p.limit.is_some() {
        "LIMIT is not allowed."
    } else {
        "Aliasing or expressions are not supported."
    };
    err(
        "InvalidClauseComposition",
        format!(
            "Importing WITH should consist only of simple references to outside variables. {why}"
        ),
    )
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
        Clause::CallSubquery { .. } => "CALL",
    }
}

/// What Neo4j refuses at compile time in `IN TRANSACTIONS`: a status
/// report on a failing batch that ends the query anyway, and batch sizes or
/// concurrencies written as literals that are not positive integers.
fn check_in_transactions(spec: &InTransactions) -> Result<()> {
    if spec.report_status.is_some() && spec.on_error == OnError::Fail {
        return Err(err(
            "InvalidClauseComposition",
            "REPORT STATUS can only be used when specifying ON ERROR CONTINUE or ON ERROR BREAK",
        ));
    }
    let literals = [
        spec.batch_size.as_ref(),
        spec.concurrency.as_ref().and_then(|c| c.as_ref()),
    ];
    for e in literals.into_iter().flatten() {
        let shown = match e {
            Expr::Literal(Literal::Int(n)) if *n > 0 => continue,
            Expr::Literal(Literal::Int(n)) => n.to_string(),
            Expr::Literal(Literal::Float(f)) => f.to_string(),
            Expr::Literal(Literal::String(s)) => s.clone(),
            Expr::Literal(Literal::Bool(b)) => b.to_string(),
            Expr::Literal(Literal::Null) => "NULL".into(),
            _ => continue,
        };
        return Err(err(
            "InvalidArgument",
            format!("Invalid input. '{shown}' is not a valid value. Must be a positive integer."),
        ));
    }
    Ok(())
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
        if mode == QueryMode::Exists && (is_updating(c) || matches!(c, Clause::Call { .. })) {
            return Err(err(
                "InvalidClauseComposition",
                format!(
                    "An EXISTS or COUNT subquery cannot contain {}",
                    clause_name(c)
                ),
            ));
        }
        if last && mode != QueryMode::Exists && mode != QueryMode::Show {
            let ok = match c {
                Clause::Return(_) | Clause::CallSubquery { .. } => true,
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
        if let Clause::CallSubquery {
            in_transactions: Some(_),
            ..
        } = c
        {
            if mode != QueryMode::Top {
                return Err(err(
                    "InvalidClauseComposition",
                    "Nested CALL { ... } IN TRANSACTIONS is not supported",
                ));
            }
        }
        check_clause(c, &mut scope, standalone_call)?;
    }
    Ok(None)
}

fn check_clause(c: &Clause, scope: &mut Scope, standalone_call: bool) -> Result<()> {
    guard_stack()?;
    match c {
        Clause::Match {
            pattern, where_, ..
        } => {
            check_graph_pattern(pattern)?;
            let saved = scope.enter_pattern(pattern.parts.iter().map(|p| &p.element));
            let mut declared = HashSet::new();
            let bound = pattern
                .parts
                .iter()
                .try_for_each(|part| bind_part(part, scope, PatMode::Match, false, &mut declared));
            scope.pattern_new = saved;
            bound?;
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
            // `WITH *` over columns only the executor knows keeps them all.
            let mut next = Scope {
                open: p.star && scope.open,
                ..Scope::default()
            };
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
                    RemoveItem::Labels { var, dynamic, .. } => {
                        require_var(var, scope)?;
                        for e in dynamic {
                            check_expr(e, scope, Ctx::new(Agg::Forbidden))?;
                        }
                    }
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
        Clause::CallSubquery {
            query,
            scope: clause,
            in_transactions,
        } => {
            let outer = scope.flattened();
            let start = |part: &SingleQuery| call_body_scope(part, clause.as_ref(), &outer);
            let mut declared =
                check_query_with(query, QueryMode::Call, &start)?.unwrap_or_default();
            if let Some(spec) = in_transactions {
                check_in_transactions(spec)?;
                if let Some(s) = &spec.report_status {
                    declared.push((s.clone(), Kind::Map));
                }
            }
            for (name, kind) in declared {
                if scope.get(&name).is_some() {
                    return Err(err(
                        "VariableAlreadyBound",
                        format!("Variable `{name}` already declared in outer scope"),
                    ));
                }
                scope.declare(&name, kind, false);
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
        SetItem::Labels { var, dynamic, .. } => {
            require_var(var, scope)?;
            dynamic.iter().try_for_each(|e| check_expr(e, scope, cx))
        }
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

/// The rules that span the path patterns of one MATCH (or subquery
/// pattern): a selective pattern stands alone, and old-style variable length
/// relationships do not mix with quantified path patterns.
fn check_graph_pattern(pattern: &Pattern) -> Result<()> {
    if pattern.parts.len() > 1 && pattern.parts.iter().any(|p| p.selector.is_some()) {
        return Err(err(
            "UnexpectedSyntax",
            "Multiple path patterns cannot be used in the same clause in combination with a \
             selective path selector",
        ));
    }
    let steps = || {
        pattern
            .parts
            .iter()
            .flat_map(|p| p.element.chain.iter().map(|(r, _)| r))
    };
    if steps().any(|r| r.length.is_some()) && steps().any(|r| r.quantified.is_some()) {
        return Err(err(
            "UnexpectedSyntax",
            "Mixing variable-length relationships ('-[*]-') with quantified relationships \
             ('()-->*()') or quantified path patterns ('(()-->())*') is not allowed",
        ));
    }
    let modes: HashSet<PathMode> = pattern.parts.iter().map(|p| p.mode).collect();
    if modes.len() > 1 {
        return Err(err(
            "UnexpectedSyntax",
            "Mixing different path modes in the same graph pattern is not supported; \
             split the pattern into separate MATCH clauses instead",
        ));
    }
    Ok(())
}

fn bind_part(
    part: &PatternPart,
    scope: &mut Scope,
    mode: PatMode,
    local: bool,
    declared: &mut HashSet<String>,
) -> Result<()> {
    if part.shortest.is_some() {
        check_shortest(&part.element, mode)?;
    }
    let special = part.selector.is_some() || part.mode != PathMode::Trail;
    if special && matches!(mode, PatMode::Create | PatMode::Merge) {
        return Err(err(
            "UnexpectedSyntax",
            "Path selectors and path modes can only be used to match, not in CREATE or MERGE",
        ));
    }
    bind_chain(
        part.var.as_deref(),
        &part.element,
        scope,
        mode,
        local,
        declared,
    )?;
    if let Some(w) = &part.where_ {
        check_expr(w, scope, WHERE_CTX)?;
    }
    if let Some(selector) = &part.selector {
        if let Expr::Literal(Literal::Int(n)) = selector.count() {
            if *n < 1 {
                return Err(err(
                    "InvalidArgument",
                    format!("The number of paths to select must be a positive integer, got {n}"),
                ));
            }
        }
    }
    Ok(())
}

/// A shortest-path search is over one relationship pattern, found by
/// matching, starting from zero or one hop.
fn check_shortest(element: &PatternElement, mode: PatMode) -> Result<()> {
    if matches!(mode, PatMode::Create | PatMode::Merge) {
        return Err(err(
            "UnexpectedSyntax",
            "shortestPath(...) and allShortestPaths(...) cannot be used to CREATE or MERGE",
        ));
    }
    let [(rel, _)] = element.chain.as_slice() else {
        return Err(err(
            "UnexpectedSyntax",
            "shortestPath(...) requires a pattern containing a single relationship",
        ));
    };
    if rel.quantified.is_some() {
        return Err(err(
            "UnexpectedSyntax",
            "shortestPath(...) cannot hold a quantified path pattern; use SHORTEST 1 instead",
        ));
    }
    if let Some((Some(min), _)) = rel.length {
        if min > 1 {
            return Err(err(
                "UnexpectedSyntax",
                "shortestPath(...) does not support a minimal length different from 0 or 1",
            ));
        }
    }
    Ok(())
}

/// Binds the variables of a pattern used inside an expression; they are
/// local to it.
fn bind_element(
    path_var: Option<&str>,
    element: &PatternElement,
    scope: &mut Scope,
    mode: PatMode,
) -> Result<()> {
    bind_chain(path_var, element, scope, mode, true, &mut HashSet::new())
}

fn bind_chain(
    path_var: Option<&str>,
    element: &PatternElement,
    scope: &mut Scope,
    mode: PatMode,
    local: bool,
    declared: &mut HashSet<String>,
) -> Result<()> {
    let single_node = element.chain.is_empty();
    bind_node(&element.start, single_node, scope, mode, local)?;
    for (rel, node) in &element.chain {
        match &rel.quantified {
            Some(q) => bind_quantified(q, scope, mode, local, declared)?,
            None => bind_rel(rel, scope, mode, local, declared)?,
        }
        bind_node(node, false, scope, mode, local)?;
    }
    if let Some(p) = path_var {
        if scope.get(p).is_some() {
            return Err(already_bound(p));
        }
        scope.declare(p, Kind::Path, local);
    }
    Ok(())
}

/// Inside a quantified path pattern its variables are single elements of
/// one iteration; after it, lists. They are all new names.
fn bind_quantified(
    q: &QuantifiedPath,
    scope: &mut Scope,
    mode: PatMode,
    local: bool,
    declared: &mut HashSet<String>,
) -> Result<()> {
    if matches!(mode, PatMode::Create | PatMode::Merge) {
        return Err(err(
            "UnexpectedSyntax",
            "Quantified path patterns cannot be used in CREATE or MERGE",
        ));
    }
    let names = q.element.variables();
    for v in &names {
        if scope.get(v).is_some() || declared.contains(*v) {
            return Err(err(
                "VariableAlreadyBound",
                format!(
                    "The variable `{v}` is already defined; a variable of a quantified path \
                     pattern must be new"
                ),
            ));
        }
        if mode == PatMode::Predicate {
            return Err(undefined(v));
        }
    }
    let mut inner = scope.before_pattern();
    bind_chain(
        None,
        &q.element,
        &mut inner,
        PatMode::Local,
        true,
        &mut HashSet::new(),
    )?;
    if let Some(w) = &q.where_ {
        check_expr(w, &mut inner, WHERE_CTX)?;
    }
    for v in names {
        declared.insert(v.to_string());
        scope.declare(v, Kind::List, local);
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
                    && (single
                        || !node.labels.is_empty()
                        || !node.dynamic_labels.is_empty()
                        || node.props.is_some())
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
    for e in &node.dynamic_labels {
        check_expr(e, scope, Ctx::new(Agg::Forbidden))?;
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
        if rel.types.len() + usize::from(rel.dynamic_type.is_some()) != 1 {
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
    if let Some(e) = &rel.dynamic_type {
        check_expr(e, scope, Ctx::new(Agg::Forbidden))?;
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
    // `WITH *` over an empty scope is allowed (the TCK relies on it);
    // `RETURN *` would produce rows without columns.
    if is_return && p.star && p.items.is_empty() && scope.order.is_empty() && !scope.open {
        return Err(err(
            "NoVariablesInScope",
            "RETURN * is not allowed when there are no variables in scope",
        ));
    }
    if p.star {
        for name in scope.sorted_names() {
            let kind = scope.get(&name).unwrap_or(Kind::Any);
            cols.push((name, kind));
        }
    }
    let mut seen: HashSet<&str> = HashSet::new();
    // Position of each star-projected column, so an explicit item of the
    // same name replaces it rather than adding a duplicate.
    let star_index: HashMap<String, usize> = cols
        .iter()
        .enumerate()
        .map(|(i, (n, _))| (n.clone(), i))
        .collect();
    for item in &p.items {
        let name = item.name();
        if !seen.insert(name) {
            return Err(err(
                "ColumnNameConflict",
                format!("Multiple result columns with the same name `{name}` are not supported"),
            ));
        }
        let kind = static_kind(&item.expr, scope);
        match star_index.get(name) {
            Some(&i) => cols[i].1 = kind,
            None => cols.push((name.to_string(), kind)),
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
            check_ambiguous(&item.expr, &grouped)?;
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
///
/// Iterative, with comprehension-local names kept as a linked list of
/// (parent, name) entries, so deep expressions cannot exhaust the stack.
fn check_ambiguous(root: &Expr, grouped: &[&Expr]) -> Result<()> {
    let mut locals: Vec<(Option<usize>, &str)> = Vec::new();
    let mut stack: Vec<(&Expr, Option<usize>)> = vec![(root, None)];
    let mut kids = Vec::new();
    while let Some((e, scope)) = stack.pop() {
        if is_aggregate_call(e) {
            continue;
        }
        let simple = matches!(e, Expr::Variable(_))
            || matches!(e, Expr::Property(b, _) if matches!(**b, Expr::Variable(_)));
        if simple && grouped.contains(&e) {
            continue;
        }
        let mut inner_scope = scope;
        match e {
            Expr::Variable(v) => {
                let mut cur = scope;
                let mut is_local = false;
                while let Some(i) = cur {
                    if locals[i].1 == v {
                        is_local = true;
                        break;
                    }
                    cur = locals[i].0;
                }
                let grouped_var = grouped
                    .iter()
                    .any(|g| matches!(g, Expr::Variable(w) if w == v));
                if !is_local && !grouped_var {
                    return Err(err(
                        "AmbiguousAggregationExpression",
                        format!(
                            "Aggregation column contains implicit grouping expressions: `{v}` is \
                             neither a grouping key nor inside an aggregate function"
                        ),
                    ));
                }
                continue;
            }
            Expr::ListComprehension { var, .. } | Expr::Quantified { var, .. } => {
                locals.push((scope, var));
                inner_scope = Some(locals.len() - 1);
            }
            Expr::Reduce { acc, var, .. } => {
                locals.push((scope, acc));
                locals.push((Some(locals.len() - 1), var));
                inner_scope = Some(locals.len() - 1);
            }
            // Subqueries and pattern expressions introduce their own
            // variables; leave them to the executor rather than risk false
            // rejections.
            Expr::PatternComprehension { .. }
            | Expr::Exists(_)
            | Expr::CountSubquery(_)
            | Expr::CollectSubquery(_)
            | Expr::PatternPredicate(_) => continue,
            _ => {}
        }
        kids.clear();
        push_children(e, &mut kids);
        // The list a comprehension iterates over is outside its scope, but
        // binding it too is harmless: the name only shadows within.
        stack.extend(kids.iter().map(|k| (*k, inner_scope)));
    }
    Ok(())
}

// ----- expressions -----------------------------------------------------------

/// Appends the direct sub-expressions of `e` (not descending into subquery
/// bodies or pattern properties).
fn push_children<'e>(e: &'e Expr, out: &mut Vec<&'e Expr>) {
    match e {
        Expr::Literal(_)
        | Expr::Parameter(_)
        | Expr::Variable(_)
        | Expr::CountStar
        | Expr::PatternPredicate(_)
        | Expr::Exists(_)
        | Expr::CountSubquery(_)
        | Expr::CollectSubquery(_) => {}
        Expr::Property(b, _) => out.push(b),
        Expr::List(items) => out.extend(items.iter()),
        Expr::Map(entries) => out.extend(entries.iter().map(|(_, v)| v)),
        Expr::Index(a, b) => out.extend([&**a, &**b]),
        Expr::Slice(a, b, c) => {
            out.push(a);
            out.extend(b.as_deref());
            out.extend(c.as_deref());
        }
        Expr::Unary(_, a) => out.push(a),
        Expr::Binary(_, a, b) => out.extend([&**a, &**b]),
        Expr::IsNull { expr, .. } => out.push(expr),
        Expr::HasLabels(a, _) => out.push(a),
        Expr::HasDynamicLabels { target, labels, .. } => out.extend([&**target, &**labels]),
        Expr::Case {
            subject,
            whens,
            else_,
        } => {
            out.extend(subject.as_deref());
            for (w, t) in whens {
                out.extend([w, t]);
            }
            out.extend(else_.as_deref());
        }
        Expr::Function { args, .. } => out.extend(args.iter()),
        Expr::ListComprehension {
            list, filter, map, ..
        } => {
            out.push(list);
            out.extend(filter.as_deref());
            out.extend(map.as_deref());
        }
        Expr::PatternComprehension { filter, map, .. } => {
            out.extend(filter.as_deref());
            out.push(map);
        }
        Expr::Quantified { list, filter, .. } => {
            out.push(list);
            out.extend(filter.as_deref());
        }
        Expr::Reduce {
            init, list, expr, ..
        } => out.extend([&**init, &**list, &**expr]),
        Expr::MapProjection { items, .. } => out.extend(items.iter().filter_map(|i| match i {
            MapProjectionItem::Literal(_, e) => Some(e),
            _ => None,
        })),
    }
}

/// Whether any node of the tree satisfies `pred`, searched iteratively.
fn any_node(root: &Expr, pred: impl Fn(&Expr) -> bool) -> bool {
    let mut stack = vec![root];
    while let Some(e) = stack.pop() {
        if pred(e) {
            return true;
        }
        push_children(e, &mut stack);
    }
    false
}

fn is_aggregate_call(e: &Expr) -> bool {
    match e {
        Expr::CountStar => true,
        Expr::Function { name, .. } => functions::lookup(name).is_some_and(|f| f.aggregate),
        _ => false,
    }
}

fn contains_aggregate(e: &Expr) -> bool {
    any_node(e, is_aggregate_call)
}

fn has_variables(e: &Expr) -> bool {
    any_node(e, |n| {
        matches!(
            n,
            Expr::Variable(_)
                | Expr::MapProjection { .. }
                | Expr::PatternPredicate(_)
                | Expr::PatternComprehension { .. }
                | Expr::Exists(_)
                | Expr::CountSubquery(_)
                | Expr::CollectSubquery(_)
        )
    })
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
        | Expr::HasDynamicLabels { .. }
        | Expr::PatternPredicate(_)
        | Expr::Exists(_)
        | Expr::Quantified { .. } => Kind::Bool,
        Expr::CountStar | Expr::CountSubquery(_) => Kind::Int,
        Expr::CollectSubquery(_) => Kind::List,
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

/// Checks one expression. This is a thin dispatcher: each kind of node is
/// handled in its own non-inlined function so that the frames on the
/// recursive path stay small (nesting depth is bounded by the parser, but the
/// per-level cost decides whether that bound fits the stack).
fn check_expr(e: &Expr, scope: &mut Scope, cx: Ctx) -> Result<()> {
    guard_stack()?;
    if !cx.projected.is_empty() && cx.projected.iter().any(|i| i.expr == *e) {
        return Ok(());
    }
    match e {
        Expr::Literal(_) | Expr::Parameter(_) => Ok(()),
        Expr::Variable(v) => require_var(v, scope),
        Expr::Property(base, _) => check_property(base, scope, cx),
        Expr::Unary(op, a) => check_unary(*op, a, scope, cx),
        Expr::Binary(op, a, b) => check_binary(*op, a, b, scope, cx),
        Expr::Case { .. } => check_case(e, scope, cx),
        Expr::Function {
            name,
            args,
            distinct,
        } => check_function(name, args, *distinct, scope, cx.pred(false)),
        Expr::CountStar => check_aggregate_placement("count(*)", cx),
        Expr::ListComprehension { .. } | Expr::Quantified { .. } | Expr::Reduce { .. } => {
            check_iteration(e, scope, cx.pred(false))
        }
        Expr::PatternComprehension { .. } => check_pattern_comprehension(e, scope, cx),
        Expr::PatternPredicate(el) => check_pattern_predicate(el, scope, cx),
        Expr::Exists(body) | Expr::CountSubquery(body) => check_subquery_body(body, scope),
        Expr::CollectSubquery(body) => check_collect_body(body, scope),
        Expr::MapProjection { var, items } => check_map_projection(var, items, scope, cx),
        Expr::List(items) => check_all(items, scope, cx.pred(false)),
        Expr::Map(_)
        | Expr::Index(..)
        | Expr::Slice(..)
        | Expr::IsNull { .. }
        | Expr::HasLabels(..)
        | Expr::HasDynamicLabels { .. } => check_children(e, scope, cx.pred(false)),
    }
}

#[inline(never)]
fn check_all(items: &[Expr], scope: &mut Scope, cx: Ctx) -> Result<()> {
    for i in items {
        check_expr(i, scope, cx)?;
    }
    Ok(())
}

#[inline(never)]
fn check_children(e: &Expr, scope: &mut Scope, cx: Ctx) -> Result<()> {
    let mut kids = Vec::new();
    push_children(e, &mut kids);
    for k in kids {
        check_expr(k, scope, cx)?;
    }
    Ok(())
}

#[inline(never)]
fn check_property(base: &Expr, scope: &mut Scope, cx: Ctx) -> Result<()> {
    check_expr(base, scope, cx.pred(false))?;
    let k = static_kind(base, scope);
    if k.is_value() && k != Kind::Map {
        return Err(type_mismatch(
            "Map, Node, Relationship, Point or temporal value",
            k,
        ));
    }
    Ok(())
}

#[inline(never)]
fn check_unary(op: UnaryOp, a: &Expr, scope: &mut Scope, cx: Ctx) -> Result<()> {
    if op == UnaryOp::Not {
        check_expr(a, scope, cx.pred(true))?;
        return check_boolean_operand(a, scope);
    }
    check_expr(a, scope, cx.pred(false))?;
    let k = static_kind(a, scope);
    if k.is_value() && !matches!(k, Kind::Int | Kind::Float) {
        return Err(type_mismatch("Integer, Float or Duration", k));
    }
    Ok(())
}

#[inline(never)]
fn check_binary(op: BinaryOp, a: &Expr, b: &Expr, scope: &mut Scope, cx: Ctx) -> Result<()> {
    use BinaryOp::*;
    let logical = matches!(op, And | Or | Xor);
    let operand_cx = cx.pred(logical);
    check_expr(a, scope, operand_cx)?;
    check_expr(b, scope, operand_cx)?;
    match op {
        And | Or | Xor => {
            check_boolean_operand(a, scope)?;
            check_boolean_operand(b, scope)
        }
        In => {
            let k = static_kind(b, scope);
            if k.is_value() && k != Kind::List {
                return Err(type_mismatch("List<T>", k));
            }
            Ok(())
        }
        Sub | Mul | Div | Mod | Pow => {
            for side in [a, b] {
                let k = static_kind(side, scope);
                if matches!(
                    k,
                    Kind::Str | Kind::Bool | Kind::Map | Kind::Node | Kind::Rel | Kind::Path
                ) || (k == Kind::List && op != Sub)
                {
                    return Err(type_mismatch("Integer, Float or Duration", k));
                }
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

#[inline(never)]
fn check_case(e: &Expr, scope: &mut Scope, cx: Ctx) -> Result<()> {
    let Expr::Case {
        subject,
        whens,
        else_,
    } = e
    else {
        return Ok(());
    };
    let plain = cx.pred(false);
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

/// List comprehensions, quantifiers and reduce: a local variable bound to
/// each element.
#[inline(never)]
fn check_iteration(e: &Expr, scope: &mut Scope, cx: Ctx) -> Result<()> {
    let mark = scope.locals.len();
    let r = check_iteration_inner(e, scope, cx);
    scope.locals.truncate(mark);
    r
}

fn check_iteration_inner(e: &Expr, scope: &mut Scope, cx: Ctx) -> Result<()> {
    match e {
        Expr::ListComprehension {
            var,
            list,
            filter,
            map,
        } => {
            check_expr(list, scope, cx)?;
            let kind = element_kind(list, scope);
            scope.declare(var, kind, true);
            if let Some(f) = filter {
                check_expr(f, scope, cx.pred(true))?;
            }
            if let Some(m) = map {
                check_expr(m, scope, cx)?;
            }
            Ok(())
        }
        Expr::Quantified {
            var, list, filter, ..
        } => {
            check_expr(list, scope, cx)?;
            let kind = element_kind(list, scope);
            scope.declare(var, kind, true);
            match filter {
                Some(f) => check_expr(f, scope, cx.pred(true)),
                None => Ok(()),
            }
        }
        Expr::Reduce {
            acc,
            init,
            var,
            list,
            expr,
        } => {
            check_expr(init, scope, cx)?;
            check_expr(list, scope, cx)?;
            let kind = element_kind(list, scope);
            scope.declare(acc, Kind::Any, true);
            scope.declare(var, kind, true);
            check_expr(expr, scope, cx)
        }
        _ => Ok(()),
    }
}

#[inline(never)]
fn check_pattern_comprehension(e: &Expr, scope: &mut Scope, cx: Ctx) -> Result<()> {
    let Expr::PatternComprehension {
        path_var,
        pattern,
        filter,
        map,
    } = e
    else {
        return Ok(());
    };
    let mark = scope.locals.len();
    let saved = scope.enter_pattern(std::iter::once(&**pattern));
    let r = (|| {
        bind_element(path_var.as_deref(), pattern, scope, PatMode::Local)?;
        if let Some(f) = filter {
            check_expr(f, scope, WHERE_CTX)?;
        }
        check_expr(map, scope, cx.pred(false))
    })();
    scope.locals.truncate(mark);
    scope.pattern_new = saved;
    r
}

#[inline(never)]
fn check_pattern_predicate(el: &PatternElement, scope: &mut Scope, cx: Ctx) -> Result<()> {
    if !cx.predicate {
        return Err(err(
            "UnexpectedSyntax",
            "A pattern expression should only be used in order to test the existence \
             of a pattern. It can no longer be used inside the function size(), an \
             alternative is to replace size() with COUNT {}.",
        ));
    }
    let mark = scope.locals.len();
    let r = bind_element(None, el, scope, PatMode::Predicate);
    scope.locals.truncate(mark);
    r
}

#[inline(never)]
fn check_map_projection(
    var: &str,
    items: &[MapProjectionItem],
    scope: &mut Scope,
    cx: Ctx,
) -> Result<()> {
    require_var(var, scope)?;
    for item in items {
        match item {
            MapProjectionItem::Variable(v) => require_var(v, scope)?,
            MapProjectionItem::Literal(_, e) => check_expr(e, scope, cx.pred(false))?,
            _ => {}
        }
    }
    Ok(())
}

fn check_subquery_body(body: &SubqueryPattern, scope: &mut Scope) -> Result<()> {
    match body {
        SubqueryPattern::Pattern { pattern, where_ } => {
            let mark = scope.locals.len();
            let saved = scope.enter_pattern(pattern.parts.iter().map(|p| &p.element));
            let r = (|| {
                check_graph_pattern(pattern)?;
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
            scope.pattern_new = saved;
            r
        }
        SubqueryPattern::Query(q) => {
            check_query(q, scope.flattened(), QueryMode::Exists)?;
            Ok(())
        }
    }
}

/// Like EXISTS and COUNT, with one RETURN column to collect.
fn check_collect_body(body: &SubqueryPattern, scope: &mut Scope) -> Result<()> {
    if let Some(el) = body.shortest_expr() {
        // A shortest-path search used as an expression runs between two
        // given nodes, and like any pattern in an expression it may only
        // refer to variables already bound.
        check_shortest(el, PatMode::Predicate)?;
        let end = el.chain.last().map_or(&el.start, |(_, n)| n);
        for node in [&el.start, end] {
            match &node.var {
                Some(v) if scope.get(v).is_some() => {}
                v => {
                    return Err(err(
                        "UnexpectedSyntax",
                        format!(
                            "To find a shortest path, both ends of the path need to be \
                             provided. Couldn't find `{}`",
                            v.as_deref().unwrap_or("an unnamed node")
                        ),
                    ))
                }
            }
        }
        let mark = scope.locals.len();
        let r = bind_element(None, el, scope, PatMode::Predicate);
        scope.locals.truncate(mark);
        r?;
    }
    let cols = match body {
        SubqueryPattern::Query(q) => check_query(q, scope.flattened(), QueryMode::Exists)?,
        SubqueryPattern::Pattern { .. } => None,
    };
    match cols {
        Some(c) if c.len() == 1 => Ok(()),
        _ => Err(err(
            "InvalidClauseComposition",
            "A Collect subquery must end with a single return column.",
        )),
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
    let lower = name.to_ascii_lowercase();
    if lower == "shortestpath" || lower == "allshortestpaths" {
        // The parser takes a pattern argument as the search itself, so
        // anything reaching here is not one.
        return Err(err(
            "InvalidArgumentType",
            format!("{name}() requires a relationship pattern"),
        ));
    }
    let info: Option<&FunctionInfo> = functions::lookup(name);
    let mut arg_cx = cx;
    match info {
        None => {
            // Namespaced names may be user-defined functions the executor
            // knows, except in the namespaces of built-in functions.
            let builtin_namespace = lower.rsplit_once('.').is_some_and(|(ns, _)| {
                matches!(
                    ns,
                    "date"
                        | "datetime"
                        | "localdatetime"
                        | "time"
                        | "localtime"
                        | "duration"
                        | "point"
                )
            });
            if !name.contains('.') || builtin_namespace {
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
            "nodes" | "relationships" | "rels" => {
                matches!(k, Kind::Node | Kind::Rel) || k.is_value()
            }
            "size" => matches!(
                k,
                Kind::Node | Kind::Path | Kind::Bool | Kind::Int | Kind::Float | Kind::Map
            ),
            "length" => matches!(
                k,
                Kind::Node | Kind::Bool | Kind::Int | Kind::Float | Kind::Map
            ),
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
