//! Recursive-descent parser for statements, clauses and patterns. Expression
//! parsing lives in `expr.rs`; both share the `Parser` state defined here.

use crate::ast::*;
use crate::lexer::{self, Tok, Token};
use causeway_value::{Error, Result};

/// How deeply constructs may nest (parentheses, lists, subqueries, unary
/// operators, ...). Recursion is bounded by this so hostile input yields a
/// SyntaxError instead of exhausting the stack.
pub const MAX_NESTING: usize = 500;

/// Stack the parser (and, separately, the checker) may use, measured from
/// its entry point. Frame sizes differ between optimised and debug builds and
/// between constructs (a nested subquery costs far more than a parenthesis),
/// so besides counting levels we measure: whichever limit is hit first turns
/// into a SyntaxError. Callers' threads need at least this much stack free.
pub(crate) const STACK_BUDGET: usize = 1 << 20;

/// An approximation of the current stack pointer: the address of a local.
#[inline(always)]
pub(crate) fn stack_position() -> usize {
    let marker = 0u8;
    std::ptr::addr_of!(marker) as usize
}

pub(crate) struct Parser<'a> {
    pub src: &'a str,
    pub toks: Vec<Token>,
    pub pos: usize,
    pub depth: usize,
    pub stack_base: usize,
    /// For each `(` token, the index of its matching `)` (or `usize::MAX`).
    /// Lets the expression parser tell `(a)-->(b)` from `(a)` in O(1).
    pub paren_match: Vec<usize>,
    /// Predicates written inside patterns (`(n WHERE n.x > 1)`), waiting to
    /// be merged into the WHERE of the enclosing MATCH or comprehension.
    pub inline_where: Vec<Expr>,
    /// Non-zero while parsing an expression that a `|` may end (the list
    /// and filter of comprehensions, FOREACH, reduce): there `|` is not read
    /// as a label disjunction.
    pub pipe_ends_expr: usize,
    /// Set while parsing the pattern of a CREATE or MERGE, where `$(expr)`
    /// labels and types are kept in the pattern to be evaluated per row.
    pub creating: bool,
    /// The path variable declared inside a parenthesized path pattern,
    /// passed from the element up to its part.
    pub paren_path_var: Option<String>,
}

/// A label expression (`:A|B`, `:A&!B`, `:(A|B)&C`), before it is lowered to
/// plain labels or a predicate.
pub(crate) enum LabelExpr {
    Name(String),
    Not(Box<LabelExpr>),
    And(Vec<LabelExpr>),
    Or(Vec<LabelExpr>),
    /// `$(expr)` / `$all(expr)` (`any: false`) or `$any(expr)`.
    Dynamic(Expr, bool),
    /// `%`: any label (a node with at least one), any type.
    Wildcard,
}

impl LabelExpr {
    /// The labels, when the expression is a plain conjunction of names.
    fn plain_labels(&self) -> Option<Vec<String>> {
        match self {
            LabelExpr::Name(n) => Some(vec![n.clone()]),
            LabelExpr::And(parts) => {
                let mut out = Vec::new();
                for p in parts {
                    out.extend(p.plain_labels()?);
                }
                Some(out)
            }
            _ => None,
        }
    }

    /// For CREATE and MERGE: the static labels and the `$(expr)` terms of
    /// a conjunction; `None` for anything else (`|`, `!`, `$any`).
    fn created_labels(&self) -> Option<(Vec<String>, Vec<Expr>)> {
        match self {
            LabelExpr::Name(n) => Some((vec![n.clone()], Vec::new())),
            LabelExpr::Dynamic(e, false) => Some((Vec::new(), vec![e.clone()])),
            LabelExpr::And(parts) => {
                let (mut names, mut dynamic) = (Vec::new(), Vec::new());
                for p in parts {
                    let (n, d) = p.created_labels()?;
                    names.extend(n);
                    dynamic.extend(d);
                }
                Some((names, dynamic))
            }
            _ => None,
        }
    }

    /// The predicate `target` satisfies this expression, from `HasLabels`,
    /// NOT, AND and OR.
    pub fn predicate(&self, target: &Expr) -> Expr {
        if let Some(labels) = self.plain_labels() {
            return Expr::HasLabels(Box::new(target.clone()), labels);
        }
        let fold = |op: BinaryOp, parts: &[LabelExpr]| {
            let mut iter = parts.iter().map(|p| p.predicate(target));
            let first = iter
                .next()
                .unwrap_or(Expr::Literal(Literal::Bool(op == BinaryOp::And)));
            iter.fold(first, |acc, p| Expr::Binary(op, Box::new(acc), Box::new(p)))
        };
        match self {
            LabelExpr::Name(n) => Expr::HasLabels(Box::new(target.clone()), vec![n.clone()]),
            LabelExpr::Not(x) => Expr::Unary(UnaryOp::Not, Box::new(x.predicate(target))),
            LabelExpr::And(parts) => fold(BinaryOp::And, parts),
            LabelExpr::Or(parts) => fold(BinaryOp::Or, parts),
            LabelExpr::Dynamic(labels, any) => Expr::HasDynamicLabels {
                target: Box::new(target.clone()),
                labels: Box::new(labels.clone()),
                any: *any,
            },
            LabelExpr::Wildcard => {
                let call = |name: &str, arg: Expr| Expr::Function {
                    name: name.to_string(),
                    distinct: false,
                    args: vec![arg],
                };
                Expr::Binary(
                    BinaryOp::Gt,
                    Box::new(call("size", call("labels", target.clone()))),
                    Box::new(Expr::Literal(Literal::Int(0))),
                )
            }
        }
    }

    /// A relationship's types: a list of alternatives when the expression
    /// is one, else the expression to test each type against.
    fn relationship_types(self) -> Option<(Vec<String>, Option<TypeExpr>)> {
        fn lower(e: LabelExpr) -> Option<TypeExpr> {
            Some(match e {
                LabelExpr::Name(n) => TypeExpr::Name(n),
                LabelExpr::Wildcard => TypeExpr::Any,
                LabelExpr::Not(x) => TypeExpr::Not(Box::new(lower(*x)?)),
                LabelExpr::And(xs) => {
                    TypeExpr::And(xs.into_iter().map(lower).collect::<Option<_>>()?)
                }
                LabelExpr::Or(xs) => {
                    TypeExpr::Or(xs.into_iter().map(lower).collect::<Option<_>>()?)
                }
                LabelExpr::Dynamic(..) => return None,
            })
        }
        let names = match &self {
            LabelExpr::Name(n) => Some(vec![n.clone()]),
            LabelExpr::Or(xs) => xs
                .iter()
                .map(|x| match x {
                    LabelExpr::Name(n) => Some(n.clone()),
                    _ => None,
                })
                .collect(),
            _ => None,
        };
        match names {
            Some(names) => Some((names, None)),
            None => Some((Vec::new(), Some(lower(self)?))),
        }
    }
}

pub(crate) fn parse_statement(src: &str) -> Result<Statement> {
    let toks = lexer::tokenize(src)?;
    let paren_match = match_parens(&toks);
    let mut p = Parser {
        src,
        toks,
        pos: 0,
        depth: 0,
        stack_base: stack_position(),
        paren_match,
        inline_where: Vec::new(),
        paren_path_var: None,
        pipe_ends_expr: 0,
        creating: false,
    };
    let stmt = p.statement()?;
    p.reject_inline_where(0)?;
    while p.eat(&Tok::Semicolon) {}
    if !p.at(&Tok::Eof) {
        return Err(p.unexpected("end of input"));
    }
    Ok(stmt)
}

fn match_parens(toks: &[Token]) -> Vec<usize> {
    let mut out = vec![usize::MAX; toks.len()];
    let mut stack = Vec::new();
    for (i, t) in toks.iter().enumerate() {
        match t.tok {
            Tok::LParen => stack.push(i),
            Tok::RParen => {
                if let Some(open) = stack.pop() {
                    out[open] = i;
                }
            }
            _ => {}
        }
    }
    out
}

impl<'a> Parser<'a> {
    // ----- token helpers -------------------------------------------------

    pub fn peek(&self) -> &Token {
        self.peek_at(0)
    }

    pub fn peek_at(&self, n: usize) -> &Token {
        let i = (self.pos + n).min(self.toks.len() - 1);
        &self.toks[i]
    }

    pub fn at(&self, tok: &Tok) -> bool {
        &self.peek().tok == tok
    }

    pub fn at_n(&self, n: usize, tok: &Tok) -> bool {
        &self.peek_at(n).tok == tok
    }

    pub fn bump(&mut self) {
        if self.pos < self.toks.len() - 1 {
            self.pos += 1;
        }
    }

    /// Consumes the current token, returning a copy of it.
    pub fn next_token(&mut self) -> Token {
        let t = self.peek().clone();
        self.bump();
        t
    }

    pub fn eat(&mut self, tok: &Tok) -> bool {
        if self.at(tok) {
            self.bump();
            true
        } else {
            false
        }
    }

    pub fn expect(&mut self, tok: &Tok, what: &str) -> Result<()> {
        if self.at(tok) {
            self.bump();
            Ok(())
        } else {
            Err(self.unexpected(what))
        }
    }

    pub fn text(&self, t: &Token) -> &'a str {
        &self.src[t.start..t.end]
    }

    /// Whether token `n` ahead is the (case-insensitive) keyword `kw`.
    pub fn kw_at(&self, n: usize, kw: &str) -> bool {
        let t = self.peek_at(n);
        t.tok == Tok::Ident && self.text(t).eq_ignore_ascii_case(kw)
    }

    pub fn at_kw(&self, kw: &str) -> bool {
        self.kw_at(0, kw)
    }

    pub fn eat_kw(&mut self, kw: &str) -> bool {
        if self.at_kw(kw) {
            self.bump();
            true
        } else {
            false
        }
    }

    pub fn expect_kw(&mut self, kw: &str) -> Result<()> {
        if self.eat_kw(kw) {
            Ok(())
        } else {
            Err(self.unexpected(&format!("'{kw}'")))
        }
    }

    /// End byte of the most recently consumed token.
    pub fn prev_end(&self) -> usize {
        if self.pos == 0 {
            0
        } else {
            self.toks[self.pos - 1].end
        }
    }

    pub fn is_name_token(t: &Tok) -> bool {
        matches!(t, Tok::Ident | Tok::QuotedIdent(_))
    }

    /// A symbolic name: an identifier (keywords included) or a quoted one.
    pub fn name(&mut self, what: &str) -> Result<String> {
        let t = self.peek().clone();
        match t.tok {
            Tok::Ident => {
                self.bump();
                Ok(self.text(&t).to_string())
            }
            Tok::QuotedIdent(s) => {
                self.bump();
                Ok(s)
            }
            _ => Err(self.unexpected(what)),
        }
    }

    pub fn enter(&mut self) -> Result<()> {
        self.depth += 1;
        if self.depth > MAX_NESTING || stack_position().abs_diff(self.stack_base) > STACK_BUDGET {
            let at = self.peek().start;
            return Err(lexer::syntax_error(
                self.src,
                at,
                "UnexpectedSyntax",
                "Invalid input: the query is nested too deeply".to_string(),
            ));
        }
        Ok(())
    }

    pub fn leave(&mut self) {
        self.depth -= 1;
    }

    pub fn unexpected(&self, expected: &str) -> Error {
        let t = self.peek();
        let shown = match t.tok {
            Tok::Eof => String::new(),
            _ => self.text(t).chars().take(40).collect(),
        };
        lexer::syntax_error(
            self.src,
            t.start,
            "UnexpectedSyntax",
            format!("Invalid input '{shown}': expected {expected}"),
        )
    }

    pub fn error_at(&self, t: &Token, detail: &'static str, msg: impl Into<String>) -> Error {
        lexer::syntax_error(self.src, t.start, detail, msg)
    }

    // ----- statements ------------------------------------------------------

    fn statement(&mut self) -> Result<Statement> {
        let mut explain = None;
        loop {
            if self.eat_kw("EXPLAIN") {
                explain = Some(ExplainMode::Explain);
            } else if self.eat_kw("PROFILE") {
                explain = Some(ExplainMode::Profile);
            } else if self.at_kw("CYPHER") && !self.at_n(1, &Tok::LParen) {
                self.bump();
                self.skip_query_options();
            } else {
                break;
            }
        }
        let kind = if self.admin_ahead() {
            StatementKind::Admin(self.admin()?)
        } else if self.at_kw("CREATE") && self.schema_create_ahead() {
            self.bump();
            StatementKind::Schema(self.schema_create()?)
        } else if self.at_kw("DROP") {
            self.bump();
            StatementKind::Schema(self.schema_drop()?)
        } else if self.at_kw("SHOW") {
            self.bump();
            StatementKind::Show(self.show()?)
        } else {
            StatementKind::Query(self.query()?)
        };
        Ok(Statement { explain, kind })
    }

    /// `CYPHER 5 runtime=slotted ...`: version and planner options, which
    /// have no effect here.
    fn skip_query_options(&mut self) {
        if matches!(self.peek().tok, Tok::Int(_) | Tok::Float(_)) {
            self.bump();
        }
        while self.peek().tok == Tok::Ident && self.at_n(1, &Tok::Eq) {
            self.bump();
            self.bump();
            if !matches!(self.peek().tok, Tok::Eof) {
                self.bump();
            }
        }
    }

    /// Takes the inline pattern predicates collected since `mark` and joins
    /// them with `where_` into one predicate.
    pub fn merge_inline_where(&mut self, mark: usize, where_: Option<Expr>) -> Option<Expr> {
        let mut preds: Vec<Expr> = self.inline_where.drain(mark..).collect();
        preds.extend(where_);
        let mut iter = preds.into_iter();
        let first = iter.next()?;
        Some(iter.fold(first, |acc, p| {
            Expr::Binary(BinaryOp::And, Box::new(acc), Box::new(p))
        }))
    }

    /// Inline pattern predicates are only meaningful where the pattern is
    /// matched; elsewhere (CREATE, MERGE, pattern predicates) they are errors.
    pub fn reject_inline_where(&mut self, mark: usize) -> Result<()> {
        if self.inline_where.len() > mark {
            self.inline_where.truncate(mark);
            let t = self.peek().clone();
            return Err(self.error_at(
                &t,
                "UnexpectedSyntax",
                "Invalid input: WHERE inside a pattern is only allowed in MATCH, \
                 pattern comprehensions and subquery patterns",
            ));
        }
        Ok(())
    }

    pub fn query(&mut self) -> Result<Query> {
        self.enter()?;
        let r = self.query_inner();
        self.leave();
        r
    }

    fn query_inner(&mut self) -> Result<Query> {
        let mut parts = vec![self.single_query()?];
        let mut union_all = Vec::new();
        while self.eat_kw("UNION") {
            union_all.push(self.eat_kw("ALL"));
            parts.push(self.single_query()?);
        }
        Ok(Query { parts, union_all })
    }

    fn at_query_end(&self) -> bool {
        matches!(self.peek().tok, Tok::Eof | Tok::Semicolon | Tok::RBrace) || self.at_kw("UNION")
    }

    fn single_query(&mut self) -> Result<SingleQuery> {
        let mut clauses = Vec::new();
        loop {
            if self.at_query_end() {
                if clauses.is_empty() {
                    return Err(self.unexpected(CLAUSE_START));
                }
                break;
            }
            clauses.push(self.clause()?);
        }
        Ok(SingleQuery { clauses })
    }

    pub fn clause(&mut self) -> Result<Clause> {
        let mark = self.inline_where.len();
        let c = self.clause_inner()?;
        self.reject_inline_where(mark)?;
        Ok(c)
    }

    fn clause_inner(&mut self) -> Result<Clause> {
        let t = self.peek().clone();
        if t.tok != Tok::Ident {
            return Err(self.unexpected(CLAUSE_START));
        }
        let word = self.text(&t).to_ascii_uppercase();
        match word.as_str() {
            "MATCH" => {
                self.bump();
                self.match_clause(false)
            }
            "OPTIONAL" => {
                self.bump();
                self.expect_kw("MATCH")?;
                self.match_clause(true)
            }
            "UNWIND" => {
                self.bump();
                let expr = self.expr()?;
                self.expect_kw("AS")?;
                let var = self.name("a variable name")?;
                Ok(Clause::Unwind { expr, var })
            }
            "WITH" => {
                self.bump();
                Ok(Clause::With(self.projection(true)?))
            }
            "RETURN" => {
                self.bump();
                Ok(Clause::Return(self.projection(false)?))
            }
            "CREATE" => {
                self.bump();
                self.creating = true;
                let p = self.pattern();
                self.creating = false;
                Ok(Clause::Create(p?))
            }
            "MERGE" => {
                self.bump();
                self.merge_clause()
            }
            "SET" => {
                self.bump();
                Ok(Clause::Set(self.set_items()?))
            }
            "REMOVE" => {
                self.bump();
                self.remove_clause()
            }
            "DELETE" => {
                self.bump();
                self.delete_clause(false)
            }
            "DETACH" => {
                self.bump();
                self.expect_kw("DELETE")?;
                self.delete_clause(true)
            }
            "NODETACH" => {
                self.bump();
                self.expect_kw("DELETE")?;
                self.delete_clause(false)
            }
            "FOREACH" => {
                self.bump();
                self.foreach_clause()
            }
            "CALL" => {
                self.bump();
                self.call_clause()
            }
            _ => Err(self.unexpected(CLAUSE_START)),
        }
    }

    fn match_clause(&mut self, optional: bool) -> Result<Clause> {
        let mark = self.inline_where.len();
        let pattern = self.pattern()?;
        let inline = self.merge_inline_where(mark, None);
        while self.at_kw("USING") {
            self.bump();
            self.skip_planner_hint()?;
        }
        let where_ = self.opt_where()?;
        let where_ = match (inline, where_) {
            (Some(a), Some(b)) => Some(Expr::Binary(BinaryOp::And, Box::new(a), Box::new(b))),
            (a, b) => a.or(b),
        };
        Ok(Clause::Match {
            optional,
            pattern,
            where_,
        })
    }

    /// `USING [TEXT|RANGE|POINT] INDEX [SEEK] n:L(p, ...)`, `USING SCAN n:L`,
    /// `USING JOIN ON a, b`: hints for a cost-based planner, which only
    /// change how a result is computed, never what it is.
    fn skip_planner_hint(&mut self) -> Result<()> {
        if self.eat_kw("JOIN") {
            self.expect_kw("ON")?;
            self.name("a variable name")?;
            while self.eat(&Tok::Comma) {
                self.name("a variable name")?;
            }
            return Ok(());
        }
        if !self.eat_kw("SCAN") {
            let _ = self.eat_kw("TEXT")
                || self.eat_kw("RANGE")
                || self.eat_kw("POINT")
                || self.eat_kw("BTREE");
            self.expect_kw("INDEX")?;
            self.eat_kw("SEEK");
        }
        self.name("a variable name")?;
        self.expect(&Tok::Colon, "':'")?;
        self.name("a label or relationship type")?;
        if self.eat(&Tok::LParen) {
            self.name("a property name")?;
            while self.eat(&Tok::Comma) {
                self.name("a property name")?;
            }
            self.expect(&Tok::RParen, "')'")?;
        }
        Ok(())
    }

    pub fn opt_where(&mut self) -> Result<Option<Expr>> {
        if self.eat_kw("WHERE") {
            Ok(Some(self.expr()?))
        } else {
            Ok(None)
        }
    }

    fn projection(&mut self, is_with: bool) -> Result<Projection> {
        let distinct = self.eat_kw("DISTINCT");
        let mut star = false;
        let mut items = Vec::new();
        if self.eat(&Tok::Star) {
            star = true;
            if self.eat(&Tok::Comma) {
                items = self.projection_items()?;
            }
        } else {
            items = self.projection_items()?;
        }
        let mut order_by = Vec::new();
        if self.at_kw("ORDER") {
            self.bump();
            self.expect_kw("BY")?;
            order_by = self.sort_items()?;
        }
        let skip = if self.eat_kw("SKIP") || self.eat_kw("OFFSET") {
            Some(self.expr()?)
        } else {
            None
        };
        let limit = if self.eat_kw("LIMIT") {
            Some(self.expr()?)
        } else {
            None
        };
        let where_ = if is_with { self.opt_where()? } else { None };
        Ok(Projection {
            distinct,
            star,
            items,
            order_by,
            skip,
            limit,
            where_,
        })
    }

    fn projection_items(&mut self) -> Result<Vec<ProjectionItem>> {
        let mut items = Vec::new();
        loop {
            let start = self.peek().start;
            let expr = self.expr()?;
            let text = self.src[start..self.prev_end().max(start)].to_string();
            let alias = if self.eat_kw("AS") {
                Some(self.name("a variable name")?)
            } else {
                None
            };
            items.push(ProjectionItem { expr, alias, text });
            if !self.eat(&Tok::Comma) {
                return Ok(items);
            }
        }
    }

    pub fn sort_items(&mut self) -> Result<Vec<SortItem>> {
        let mut items = Vec::new();
        loop {
            let expr = self.expr()?;
            let descending = if self.eat_kw("DESC") || self.eat_kw("DESCENDING") {
                true
            } else {
                let _ = self.eat_kw("ASC") || self.eat_kw("ASCENDING");
                false
            };
            items.push(SortItem { expr, descending });
            if !self.eat(&Tok::Comma) {
                return Ok(items);
            }
        }
    }

    fn merge_clause(&mut self) -> Result<Clause> {
        self.creating = true;
        let part = self.pattern_part();
        self.creating = false;
        let part = part?;
        let mut on_create = Vec::new();
        let mut on_match = Vec::new();
        while self.at_kw("ON") {
            self.bump();
            if self.eat_kw("CREATE") {
                self.expect_kw("SET")?;
                on_create.extend(self.set_items()?);
            } else if self.eat_kw("MATCH") {
                self.expect_kw("SET")?;
                on_match.extend(self.set_items()?);
            } else {
                return Err(self.unexpected("'CREATE' or 'MATCH'"));
            }
        }
        Ok(Clause::Merge {
            part,
            on_create,
            on_match,
        })
    }

    fn set_items(&mut self) -> Result<Vec<SetItem>> {
        let mut items = Vec::new();
        loop {
            items.push(self.set_item()?);
            if !self.eat(&Tok::Comma) {
                return Ok(items);
            }
        }
    }

    fn set_item(&mut self) -> Result<SetItem> {
        let start = self.peek().clone();
        let target = self.set_target()?;
        if self.at(&Tok::Colon) {
            let var = self.target_var(target, &start)?;
            let (labels, dynamic) = self.updated_labels()?;
            return Ok(SetItem::Labels {
                var,
                labels,
                dynamic,
            });
        }
        if self.eat(&Tok::PlusEq) {
            let var = self.target_var(target, &start)?;
            let value = self.expr()?;
            return Ok(SetItem::Merge { var, value });
        }
        self.expect(&Tok::Eq, "'=', '+=' or ':'")?;
        let value = self.expr()?;
        match target {
            Expr::Property(target, key) => Ok(SetItem::Property {
                target: *target,
                key,
                value,
            }),
            Expr::Variable(var) => Ok(SetItem::Replace { var, value }),
            _ => Err(self.error_at(
                &start,
                "UnexpectedSyntax",
                format!(
                    "Invalid input '{}': expected a property or a variable to set",
                    self.text(&start)
                ),
            )),
        }
    }

    /// The left side of a SET/REMOVE item: an atom with property accesses.
    fn set_target(&mut self) -> Result<Expr> {
        let atom = self.atom()?;
        self.postfix_props(atom)
    }

    fn target_var(&self, target: Expr, start: &Token) -> Result<String> {
        match target {
            Expr::Variable(v) => Ok(v),
            _ => Err(self.error_at(
                start,
                "UnexpectedSyntax",
                format!("Invalid input '{}': expected a variable", self.text(start)),
            )),
        }
    }

    /// `:A:B` (also `:A&B`), used by SET and REMOVE.
    /// The labels SET and REMOVE take: `:A:B`, each of which may instead be
    /// `$(expr)`, a label computed per row.
    fn updated_labels(&mut self) -> Result<(Vec<String>, Vec<Expr>)> {
        let (mut labels, mut dynamic) = (Vec::new(), Vec::new());
        self.expect(&Tok::Colon, "':'")?;
        loop {
            if self.eat(&Tok::Dollar) {
                self.expect(&Tok::LParen, "'('")?;
                dynamic.push(self.expr()?);
                self.expect(&Tok::RParen, "')'")?;
            } else {
                labels.push(self.name("a label name")?);
            }
            if !(self.eat(&Tok::Colon) || self.eat(&Tok::Amp)) {
                return Ok((labels, dynamic));
            }
        }
    }

    /// A label expression after its leading `:`. `|` is a disjunction unless
    /// the surrounding construct uses `|` as a separator.
    pub fn label_expression(&mut self) -> Result<LabelExpr> {
        self.expect(&Tok::Colon, "':'")?;
        self.enter()?;
        let r = self.label_or();
        self.leave();
        r
    }

    fn label_or(&mut self) -> Result<LabelExpr> {
        let mut parts = vec![self.label_and()?];
        while self.pipe_ends_expr == 0 && self.eat(&Tok::Pipe) {
            self.eat(&Tok::Colon);
            parts.push(self.label_and()?);
        }
        Ok(if parts.len() == 1 {
            parts.swap_remove(0)
        } else {
            LabelExpr::Or(parts)
        })
    }

    fn label_and(&mut self) -> Result<LabelExpr> {
        let mut parts = vec![self.label_factor()?];
        while self.eat(&Tok::Amp) || self.eat(&Tok::Colon) {
            parts.push(self.label_factor()?);
        }
        Ok(if parts.len() == 1 {
            parts.swap_remove(0)
        } else {
            LabelExpr::And(parts)
        })
    }

    fn label_factor(&mut self) -> Result<LabelExpr> {
        if self.eat(&Tok::Bang) {
            self.enter()?;
            let inner = self.label_factor();
            self.leave();
            return Ok(LabelExpr::Not(Box::new(inner?)));
        }
        if self.eat(&Tok::LParen) {
            self.enter()?;
            let saved = std::mem::take(&mut self.pipe_ends_expr);
            let inner = self.label_or();
            self.pipe_ends_expr = saved;
            self.leave();
            let inner = inner?;
            self.expect(&Tok::RParen, "')'")?;
            return Ok(inner);
        }
        if self.eat(&Tok::Percent) {
            return Ok(LabelExpr::Wildcard);
        }
        if let Some(any) = self.dynamic_label_start() {
            self.expect(&Tok::LParen, "'('")?;
            let saved = std::mem::take(&mut self.pipe_ends_expr);
            let e = self.expr();
            self.pipe_ends_expr = saved;
            let e = e?;
            self.expect(&Tok::RParen, "')'")?;
            return Ok(LabelExpr::Dynamic(e, any));
        }
        Ok(LabelExpr::Name(self.name("a label name")?))
    }

    /// Eats `$` (then `(` follows) or `$all` / `$any` directly followed by
    /// `(`, and says whether it was `$any`.
    fn dynamic_label_start(&mut self) -> Option<bool> {
        if self.eat(&Tok::Dollar) {
            return Some(false);
        }
        let any = match &self.peek().tok {
            Tok::Param(n) if n.eq_ignore_ascii_case("all") => false,
            Tok::Param(n) if n.eq_ignore_ascii_case("any") => true,
            _ => return None,
        };
        if !self.at_n(1, &Tok::LParen) {
            return None;
        }
        self.bump();
        Some(any)
    }

    fn remove_clause(&mut self) -> Result<Clause> {
        let mut items = Vec::new();
        loop {
            let start = self.peek().clone();
            let target = self.set_target()?;
            if self.at(&Tok::Colon) {
                let var = self.target_var(target, &start)?;
                let (labels, dynamic) = self.updated_labels()?;
                items.push(RemoveItem::Labels {
                    var,
                    labels,
                    dynamic,
                });
            } else {
                match target {
                    Expr::Property(target, key) => items.push(RemoveItem::Property {
                        target: *target,
                        key,
                    }),
                    _ => return Err(self.unexpected("a property or labels to remove")),
                }
            }
            if !self.eat(&Tok::Comma) {
                return Ok(Clause::Remove(items));
            }
        }
    }

    fn delete_clause(&mut self, detach: bool) -> Result<Clause> {
        let mut exprs = vec![self.expr()?];
        while self.eat(&Tok::Comma) {
            exprs.push(self.expr()?);
        }
        Ok(Clause::Delete { detach, exprs })
    }

    fn foreach_clause(&mut self) -> Result<Clause> {
        self.enter()?;
        let r = self.foreach_inner();
        self.leave();
        r
    }

    fn foreach_inner(&mut self) -> Result<Clause> {
        self.expect(&Tok::LParen, "'('")?;
        let var = self.name("a variable name")?;
        self.expect_kw("IN")?;
        let list = self.expr_before_pipe()?;
        self.expect(&Tok::Pipe, "'|'")?;
        let mut clauses = Vec::new();
        while !self.at(&Tok::RParen) {
            clauses.push(self.clause()?);
        }
        if clauses.is_empty() {
            return Err(self.unexpected("an updating clause"));
        }
        self.bump();
        Ok(Clause::Foreach { var, list, clauses })
    }

    fn call_clause(&mut self) -> Result<Clause> {
        if self.at(&Tok::LParen)
            && self.paren_match.get(self.pos).is_some_and(|&close| {
                close != usize::MAX
                    && matches!(self.toks.get(close + 1).map(|t| &t.tok), Some(Tok::LBrace))
            })
        {
            return self.scoped_call_subquery();
        }
        if self.eat(&Tok::LBrace) {
            let q = self.query()?;
            self.expect(&Tok::RBrace, "'}'")?;
            return Ok(Clause::CallSubquery {
                query: q,
                scope: None,
                in_transactions: self.in_transactions()?,
            });
        }
        let mut procedure = self.name("a procedure name")?;
        while self.eat(&Tok::Dot) {
            procedure.push('.');
            procedure.push_str(&self.name("a procedure name")?);
        }
        let args = if self.eat(&Tok::LParen) {
            let mut args = Vec::new();
            if !self.eat(&Tok::RParen) {
                loop {
                    args.push(self.expr()?);
                    if self.eat(&Tok::RParen) {
                        break;
                    }
                    self.expect(&Tok::Comma, "',' or ')'")?;
                }
            }
            Some(args)
        } else {
            None
        };
        let mut yield_items = None;
        let mut where_ = None;
        if self.eat_kw("YIELD") {
            yield_items = Some(self.yield_spec()?);
            where_ = self.opt_where()?;
        }
        Ok(Clause::Call {
            procedure,
            args,
            yield_items,
            where_,
        })
    }

    /// `CALL (a, b) { ... }`, `CALL (*) { ... }`, `CALL () { ... }`. The
    /// scope clause names plain variables only, as Neo4j requires.
    fn scoped_call_subquery(&mut self) -> Result<Clause> {
        self.bump();
        let scope = if self.eat(&Tok::Star) {
            CallScope::All
        } else {
            let mut vars = Vec::new();
            if !self.at(&Tok::RParen) {
                loop {
                    vars.push(self.name("a variable name")?);
                    if !self.eat(&Tok::Comma) {
                        break;
                    }
                }
            }
            CallScope::Vars(vars)
        };
        self.expect(&Tok::RParen, "')'")?;
        self.expect(&Tok::LBrace, "'{'")?;
        let q = self.query()?;
        self.expect(&Tok::RBrace, "'}'")?;
        Ok(Clause::CallSubquery {
            query: q,
            scope: Some(scope),
            in_transactions: self.in_transactions()?,
        })
    }

    /// `IN [n] CONCURRENT TRANSACTIONS` or `IN TRANSACTIONS`, then `OF n
    /// ROWS`, `ON ERROR ...` and `REPORT STATUS AS s`, each at most once, in
    /// any order.
    fn in_transactions(&mut self) -> Result<Option<Box<InTransactions>>> {
        if !self.eat_kw("IN") {
            return Ok(None);
        }
        let concurrency = if self.eat_kw("TRANSACTIONS") {
            None
        } else if self.eat_kw("CONCURRENT") {
            self.expect_kw("TRANSACTIONS")?;
            Some(None)
        } else {
            let n = self.expr()?;
            self.expect_kw("CONCURRENT")?;
            self.expect_kw("TRANSACTIONS")?;
            Some(Some(n))
        };
        let mut spec = InTransactions {
            concurrency,
            batch_size: None,
            on_error: OnError::Fail,
            retry: None,
            report_status: None,
        };
        let (mut of, mut on_error) = (false, false);
        let twice = |p: &Self, what: &str| {
            p.error_at(
                p.peek(),
                "InvalidClauseComposition",
                format!("Duplicated {what} parameter"),
            )
        };
        loop {
            if self.eat_kw("OF") {
                if std::mem::replace(&mut of, true) {
                    return Err(twice(self, "OF ROWS"));
                }
                spec.batch_size = Some(self.expr()?);
                if !(self.eat_kw("ROWS") || self.eat_kw("ROW")) {
                    return Err(self.unexpected("ROW or ROWS"));
                }
            } else if self.eat_kw("ON") {
                if std::mem::replace(&mut on_error, true) {
                    return Err(twice(self, "ON ERROR"));
                }
                self.expect_kw("ERROR")?;
                if self.eat_kw("RETRY") {
                    let mut duration = None;
                    if self.eat_kw("FOR") {
                        duration = Some(self.expr()?);
                        if !(self.eat_kw("SECONDS") || self.eat_kw("SECOND")) {
                            return Err(self.unexpected("SECOND or SECONDS"));
                        }
                    }
                    spec.retry = Some(duration);
                    if self.eat_kw("THEN") {
                        spec.on_error = self.on_error_behaviour()?;
                    }
                } else {
                    spec.on_error = self.on_error_behaviour()?;
                }
            } else if self.eat_kw("REPORT") {
                if spec.report_status.is_some() {
                    return Err(twice(self, "REPORT STATUS"));
                }
                self.expect_kw("STATUS")?;
                self.expect_kw("AS")?;
                spec.report_status = Some(self.name("a variable name")?);
            } else {
                return Ok(Some(Box::new(spec)));
            }
        }
    }

    fn on_error_behaviour(&mut self) -> Result<OnError> {
        if self.eat_kw("CONTINUE") {
            Ok(OnError::Continue)
        } else if self.eat_kw("BREAK") {
            Ok(OnError::Break)
        } else if self.eat_kw("FAIL") {
            Ok(OnError::Fail)
        } else {
            Err(self.unexpected("CONTINUE, BREAK or FAIL"))
        }
    }

    fn yield_spec(&mut self) -> Result<YieldSpec> {
        if self.eat(&Tok::Star) {
            return Ok(YieldSpec::All);
        }
        let mut items = Vec::new();
        loop {
            let field = self.name("a procedure output name")?;
            let var = if self.eat_kw("AS") {
                self.name("a variable name")?
            } else {
                field.clone()
            };
            items.push((field, var));
            if !self.eat(&Tok::Comma) {
                return Ok(YieldSpec::Items(items));
            }
        }
    }

    // ----- patterns --------------------------------------------------------

    pub fn pattern(&mut self) -> Result<Pattern> {
        let mut parts = vec![self.pattern_part()?];
        while self.eat(&Tok::Comma) {
            parts.push(self.pattern_part()?);
        }
        Ok(Pattern { parts })
    }

    /// `p =` before a path pattern.
    fn opt_path_var(&mut self) -> Result<Option<String>> {
        if !(Self::is_name_token(&self.peek().tok) && self.at_n(1, &Tok::Eq)) {
            return Ok(None);
        }
        let v = self.name("a variable name")?;
        self.bump();
        Ok(Some(v))
    }

    pub fn pattern_part(&mut self) -> Result<PatternPart> {
        let var = self.opt_path_var()?;
        let shortest = if self.at_kw("shortestPath") && self.at_n(1, &Tok::LParen) {
            Some(Shortest::One)
        } else if self.at_kw("allShortestPaths") && self.at_n(1, &Tok::LParen) {
            Some(Shortest::All)
        } else {
            None
        };
        if shortest.is_some() {
            self.bump();
            self.bump();
            let element = self.pattern_element()?;
            self.expect(&Tok::RParen, "')'")?;
            return Ok(PatternPart {
                shortest,
                ..PatternPart::new(var, element)
            });
        }
        let selector = self.path_selector()?;
        let mode = self.path_mode();
        let mark = self.inline_where.len();
        self.paren_path_var = None;
        let element = self.pattern_element()?;
        let var = match (var, self.paren_path_var.take()) {
            (Some(_), Some(inner)) => {
                return Err(self.unexpected(&format!(
                    "one path variable, not a second one (`{inner}`) inside the parentheses"
                )))
            }
            (a, b) => a.or(b),
        };
        // A selective pattern keeps its own predicates: they choose among
        // paths before the selection, while the clause's WHERE comes after.
        let where_ = match selector {
            Some(_) => self.merge_inline_where(mark, None),
            None => None,
        };
        Ok(PatternPart {
            selector,
            mode: mode.unwrap_or(PathMode::Trail),
            where_,
            ..PatternPart::new(var, element)
        })
    }

    /// `ANY [k]`, `ALL`, `ANY SHORTEST`, `ALL SHORTEST`, `SHORTEST k`,
    /// `SHORTEST [k] GROUPS`, each optionally followed by PATH or PATHS.
    fn path_selector(&mut self) -> Result<Option<PathSelector>> {
        let one = || Expr::Literal(Literal::Int(1));
        let selector = if self.at_kw("ANY") && !self.at_n(1, &Tok::Eq) {
            self.bump();
            if self.eat_kw("SHORTEST") {
                Some(PathSelector::Shortest(one()))
            } else {
                let k = self.path_count()?;
                Some(PathSelector::Any(k.unwrap_or_else(one)))
            }
        } else if self.at_kw("ALL") && !self.at_n(1, &Tok::Eq) {
            self.bump();
            if self.eat_kw("SHORTEST") {
                Some(PathSelector::ShortestGroups(one()))
            } else {
                self.path_or_paths();
                return Ok(None);
            }
        } else if self.at_kw("SHORTEST") && !self.at_n(1, &Tok::Eq) {
            self.bump();
            let k = self.path_count()?;
            self.path_or_paths();
            if self.eat_kw("GROUPS") || self.eat_kw("GROUP") {
                return Ok(Some(PathSelector::ShortestGroups(k.unwrap_or_else(one))));
            }
            match k {
                Some(k) => Some(PathSelector::Shortest(k)),
                None => return Err(self.unexpected("a number of paths or GROUPS")),
            }
        } else {
            return Ok(None);
        };
        self.path_or_paths();
        Ok(selector)
    }

    fn path_or_paths(&mut self) {
        let _ = self.eat_kw("PATHS") || self.eat_kw("PATH");
    }

    /// A selector's count: an integer literal or a parameter.
    fn path_count(&mut self) -> Result<Option<Expr>> {
        match self.peek().tok.clone() {
            Tok::Int(_) => {
                let t = self.peek().clone();
                let v = self.opt_unsigned()?.and_then(|v| i64::try_from(v).ok());
                let v = v.ok_or_else(|| {
                    self.error_at(
                        &t,
                        "IntegerOverflow",
                        format!("Invalid input '{}': integer is too large", self.text(&t)),
                    )
                })?;
                Ok(Some(Expr::Literal(Literal::Int(v))))
            }
            Tok::Param(name) => {
                self.bump();
                Ok(Some(Expr::Parameter(name)))
            }
            _ => Ok(None),
        }
    }

    fn path_mode(&mut self) -> Option<PathMode> {
        let mode = if self.eat_kw("WALK") {
            PathMode::Walk
        } else if self.eat_kw("TRAIL") {
            PathMode::Trail
        } else if self.eat_kw("ACYCLIC") {
            PathMode::Acyclic
        } else {
            return None;
        };
        self.path_or_paths();
        Some(mode)
    }

    pub fn pattern_element(&mut self) -> Result<PatternElement> {
        self.enter()?;
        let r = self.pattern_element_inner();
        self.leave();
        r
    }

    /// Node patterns joined by relationships, and quantified path patterns
    /// juxtaposed with the nodes around them: `(a) ((x)-->(y)){2} (b)`.
    fn pattern_element_inner(&mut self) -> Result<PatternElement> {
        let mut start: Option<NodePattern> = None;
        let mut chain: Vec<(RelPattern, NodePattern)> = Vec::new();
        // After a quantified part, the node that ends it is implicit until a
        // node pattern juxtaposed to it names it.
        let mut open_end = false;
        loop {
            if self.at_paren_path() {
                let at = self.peek().clone();
                self.bump();
                let mark = self.inline_where.len();
                // `(p = (a)-->+(b) WHERE length(p) > 2)`: a path variable
                // declared inside, so that the WHERE can read it.
                let inner_var = self.opt_path_var()?;
                let inner = self.pattern_element()?;
                let nested_var = self.paren_path_var.take();
                let where_ = self.opt_where()?;
                self.expect(&Tok::RParen, "')'")?;
                let Some((min, max)) = self.quantifier()? else {
                    // A parenthesized path: the whole element, its WHERE
                    // joining the pattern's predicates.
                    if start.is_some() || self.at(&Tok::LParen) || self.at_rel_start() {
                        return Err(self.error_at(
                            &at,
                            "UnexpectedSyntax",
                            "Invalid input '(': a parenthesized path pattern inside a longer \
                             pattern needs a quantifier, such as {1,3} or +",
                        ));
                    }
                    self.inline_where.extend(where_);
                    self.paren_path_var = inner_var.or(nested_var);
                    return Ok(inner);
                };
                if inner_var.is_some() || nested_var.is_some() {
                    return Err(self.error_at(
                        &at,
                        "UnexpectedSyntax",
                        "A path variable cannot be declared inside a quantified path pattern",
                    ));
                }
                let where_ = self.merge_inline_where(mark, where_);
                if inner.chain.is_empty() {
                    return Err(self.error_at(
                        &at,
                        "UnexpectedSyntax",
                        "A quantified path pattern needs to have at least one relationship",
                    ));
                }
                if inner
                    .chain
                    .iter()
                    .any(|(r, _)| r.length.is_some() || r.quantified.is_some())
                {
                    return Err(self.error_at(
                        &at,
                        "UnexpectedSyntax",
                        "Quantified path patterns are not allowed to be nested, \
                         nor to hold a variable length relationship",
                    ));
                }
                let q = QuantifiedPath {
                    element: inner,
                    where_,
                    min,
                    max,
                };
                start.get_or_insert_with(NodePattern::anonymous);
                chain.push((
                    RelPattern {
                        quantified: Some(Box::new(q)),
                        ..RelPattern::any()
                    },
                    NodePattern::anonymous(),
                ));
                open_end = true;
                continue;
            }
            if self.at(&Tok::LParen) {
                let node = self.node_pattern()?;
                match (&start, open_end) {
                    (None, _) => start = Some(node),
                    (Some(_), true) => {
                        if let Some(last) = chain.last_mut() {
                            last.1 = node;
                        }
                    }
                    (Some(_), false) => {
                        let t = self.peek().clone();
                        return Err(self.error_at(
                            &t,
                            "UnexpectedSyntax",
                            "Concatenation is currently only supported for quantified path patterns",
                        ));
                    }
                }
            } else if start.is_none() || !open_end || self.at_rel_start() {
                // After a quantified part comes a node pattern, another
                // quantified part, or the end of the pattern.
                return Err(self.unexpected("'('"));
            }
            open_end = false;
            if !self.at_rel_start() {
                if self.at_paren_path() {
                    continue;
                }
                if self.at(&Tok::LParen) {
                    let t = self.peek().clone();
                    return Err(self.error_at(
                        &t,
                        "UnexpectedSyntax",
                        "Concatenation is currently only supported for quantified path patterns",
                    ));
                }
                break;
            }
            while self.at_rel_start() {
                let mark = self.inline_where.len();
                let rel = self.rel_pattern()?;
                let step = match self.quantifier()? {
                    None => rel,
                    Some((min, max)) => {
                        if rel.length.is_some() {
                            let t = self.peek().clone();
                            return Err(self.error_at(
                                &t,
                                "UnexpectedSyntax",
                                "A variable length relationship cannot be quantified",
                            ));
                        }
                        let where_ = self.merge_inline_where(mark, None);
                        let element = PatternElement {
                            start: NodePattern::anonymous(),
                            chain: vec![(rel, NodePattern::anonymous())],
                        };
                        RelPattern {
                            quantified: Some(Box::new(QuantifiedPath {
                                element,
                                where_,
                                min,
                                max,
                            })),
                            ..RelPattern::any()
                        }
                    }
                };
                let node = self.node_pattern()?;
                chain.push((step, node));
            }
            if !self.at_paren_path() {
                break;
            }
        }
        let start = start.ok_or_else(|| self.unexpected("'('"))?;
        let only_optional_parts = start == NodePattern::anonymous()
            && chain.iter().all(|(r, n)| {
                *n == NodePattern::anonymous() && r.quantified.as_ref().is_some_and(|q| q.min == 0)
            });
        if only_optional_parts && !chain.is_empty() {
            return Err(self.unexpected(
                "a node pattern: a path pattern must be written such that it always \
                 evaluates to at least one node pattern",
            ));
        }
        Ok(PatternElement { start, chain })
    }

    /// An unsigned integer literal, when one comes next.
    fn opt_unsigned(&mut self) -> Result<Option<u64>> {
        let Tok::Int(v) = self.peek().tok else {
            return Ok(None);
        };
        let t = self.next_token();
        v.map(Some).ok_or_else(|| {
            self.error_at(
                &t,
                "IntegerOverflow",
                format!("Invalid input '{}': integer is too large", self.text(&t)),
            )
        })
    }

    /// `{n}`, `{m,n}`, `{m,}`, `{,n}`, `+` or `*` after a parenthesized path
    /// or a relationship pattern.
    fn quantifier(&mut self) -> Result<Option<(u64, Option<u64>)>> {
        if self.eat(&Tok::Plus) {
            return Ok(Some((1, None)));
        }
        if self.eat(&Tok::Star) {
            return Ok(Some((0, None)));
        }
        if !self.at(&Tok::LBrace) {
            return Ok(None);
        }
        let at = self.next_token();
        let min = self.opt_unsigned()?;
        let (min, max) = if self.eat(&Tok::Comma) {
            (min.unwrap_or(0), self.opt_unsigned()?)
        } else {
            match min {
                Some(n) => (n, Some(n)),
                None => return Err(self.unexpected("an integer")),
            }
        };
        self.expect(&Tok::RBrace, "'}'")?;
        if max == Some(0) {
            return Err(self.error_at(
                &at,
                "InvalidQuantifier",
                "A quantifier for a path pattern must not be limited by 0",
            ));
        }
        if max.is_some_and(|max| max < min) {
            return Err(self.error_at(
                &at,
                "InvalidQuantifier",
                format!(
                    "A quantifier for a path pattern must not have a lower bound greater than \
                     the upper bound, got {{{min},{}}}",
                    max.unwrap_or_default()
                ),
            ));
        }
        Ok(Some((min, max)))
    }

    /// `((` or `(p =`: a parenthesized path pattern.
    fn at_paren_path(&self) -> bool {
        self.at(&Tok::LParen)
            && (self.at_n(1, &Tok::LParen)
                || (Self::is_name_token(&self.peek_at(1).tok) && self.at_n(2, &Tok::Eq)))
    }

    pub fn at_rel_start(&self) -> bool {
        match self.peek().tok {
            Tok::Minus => matches!(self.peek_at(1).tok, Tok::LBracket | Tok::Minus | Tok::Gt),
            Tok::Lt => self.at_n(1, &Tok::Minus),
            _ => false,
        }
    }

    fn node_pattern(&mut self) -> Result<NodePattern> {
        self.expect(&Tok::LParen, "'('")?;
        let var = if Self::is_name_token(&self.peek().tok) {
            Some(self.name("a variable name")?)
        } else {
            None
        };
        let mut labels = Vec::new();
        let mut dynamic_labels = Vec::new();
        if self.at(&Tok::Colon) {
            let at = self.peek().clone();
            let expr = self.label_expression()?;
            if self.creating {
                (labels, dynamic_labels) = expr.created_labels().ok_or_else(|| {
                    self.error_at(
                        &at,
                        "UnexpectedSyntax",
                        "Invalid input: only labels joined by ':' or '&', each a name or \
                         $(expr), can be created",
                    )
                })?;
            }
            match (expr.plain_labels(), &var) {
                _ if self.creating => {}
                (Some(plain), _) => labels = plain,
                // Label expressions beyond a conjunction become a predicate
                // on the node, merged into the MATCH's WHERE.
                (None, Some(v)) => {
                    let pred = expr.predicate(&Expr::Variable(v.clone()));
                    self.inline_where.push(pred);
                }
                (None, None) => return Err(self.error_at(
                    &at,
                    "UnexpectedSyntax",
                    "Invalid input: a label expression with '|', '!' or '$(...)' needs a node variable here",
                )),
            }
        }
        let props = self.pattern_props()?;
        self.inline_pattern_where()?;
        self.expect(&Tok::RParen, "')'")?;
        Ok(NodePattern {
            var,
            labels,
            dynamic_labels,
            props,
        })
    }

    fn inline_pattern_where(&mut self) -> Result<()> {
        if self.eat_kw("WHERE") {
            let pred = self.expr()?;
            self.inline_where.push(pred);
        }
        Ok(())
    }

    fn pattern_props(&mut self) -> Result<Option<Expr>> {
        match &self.peek().tok {
            Tok::LBrace => Ok(Some(self.map_literal()?)),
            Tok::Param(name) => {
                let name = name.clone();
                self.bump();
                Ok(Some(Expr::Parameter(name)))
            }
            _ => Ok(None),
        }
    }

    fn rel_pattern(&mut self) -> Result<RelPattern> {
        let left = self.eat(&Tok::Lt);
        self.expect(&Tok::Minus, "'-'")?;
        let mut var = None;
        let mut types = Vec::new();
        let mut dynamic_type = None;
        let mut length = None;
        let mut props = None;
        let mut type_expr = None;
        if self.eat(&Tok::LBracket) {
            if Self::is_name_token(&self.peek().tok) {
                var = Some(self.name("a variable name")?);
            }
            let dynamic = self.at(&Tok::Colon)
                && (self.at_n(1, &Tok::Dollar)
                    || matches!(&self.peek_at(1).tok, Tok::Param(n)
                        if (n.eq_ignore_ascii_case("all") || n.eq_ignore_ascii_case("any"))
                            && self.at_n(2, &Tok::LParen)));
            if self.at(&Tok::Colon) && !dynamic {
                let at = self.peek_at(1).clone();
                // Inside the brackets `|` always joins types, even in a
                // pattern comprehension.
                let saved = std::mem::take(&mut self.pipe_ends_expr);
                let expr = self.label_expression();
                self.pipe_ends_expr = saved;
                let (names, expr) = expr?.relationship_types().ok_or_else(|| {
                    self.error_at(
                        &at,
                        "UnexpectedSyntax",
                        "Invalid input: a dynamic type can only stand alone in a relationship pattern",
                    )
                })?;
                types = names;
                type_expr = expr;
            } else if self.eat(&Tok::Colon) {
                let at = self.peek().clone();
                if let Some(any) = self.dynamic_label_start() {
                    // `[r:$(expr)]`: any type, then a predicate on `r`;
                    // in CREATE and MERGE, the type to create.
                    self.expect(&Tok::LParen, "'('")?;
                    let labels = self.expr()?;
                    self.expect(&Tok::RParen, "')'")?;
                    if self.creating && !any {
                        dynamic_type = Some(labels);
                    } else if let Some(v) = var.as_ref().filter(|_| !self.creating) {
                        self.inline_where.push(Expr::HasDynamicLabels {
                            target: Box::new(Expr::Variable(v.clone())),
                            labels: Box::new(labels),
                            any,
                        });
                    } else {
                        return Err(self.error_at(
                            &at,
                            "UnexpectedSyntax",
                            "Invalid input: a dynamic relationship type needs a relationship \
                             variable here, and CREATE and MERGE take one type ($(expr))",
                        ));
                    }
                } else {
                    types.push(self.name("a relationship type")?);
                }
                while self.eat(&Tok::Pipe) {
                    self.eat(&Tok::Colon);
                    types.push(self.name("a relationship type")?);
                }
            }
            if self.at(&Tok::Star) {
                if type_expr.is_some() {
                    let t = self.peek().clone();
                    return Err(self.error_at(
                        &t,
                        "UnexpectedSyntax",
                        "Variable length relationships must not use relationship type expressions",
                    ));
                }
                length = Some(self.rel_length()?);
            } else if self.at(&Tok::DotDot) {
                let t = self.peek().clone();
                return Err(self.error_at(
                    &t,
                    "InvalidRelationshipPattern",
                    "Invalid input '..': a variable length relationship needs '*'",
                ));
            }
            props = self.pattern_props()?;
            self.inline_pattern_where()?;
            self.expect(&Tok::RBracket, "']'")?;
        }
        self.expect(&Tok::Minus, "'-'")?;
        let right = self.eat(&Tok::Gt);
        let direction = match (left, right) {
            (true, false) => Direction::Incoming,
            (false, true) => Direction::Outgoing,
            _ => Direction::Both,
        };
        Ok(RelPattern {
            var,
            types,
            dynamic_type,
            direction,
            length,
            props,
            quantified: None,
            type_expr,
        })
    }

    fn rel_length(&mut self) -> Result<(Option<u64>, Option<u64>)> {
        self.bump();
        let bound = |p: &mut Self| -> Result<Option<u64>> {
            match p.peek().tok.clone() {
                Tok::Minus | Tok::Float(_) => {
                    let t = p.peek().clone();
                    Err(p.error_at(
                        &t,
                        "InvalidRelationshipPattern",
                        format!(
                            "Invalid input '{}': relationship length bounds must be non-negative integers",
                            p.text(&t)
                        ),
                    ))
                }
                _ => p.opt_unsigned(),
            }
        };
        let min = bound(self)?;
        if self.eat(&Tok::DotDot) {
            let max = bound(self)?;
            Ok((min, max))
        } else if min.is_some() {
            Ok((min, min))
        } else {
            Ok((None, None))
        }
    }

    // ----- schema and administration ----------------------------------------

    fn schema_create_ahead(&self) -> bool {
        let mut n = 1;
        if [
            "RANGE", "TEXT", "POINT", "BTREE", "LOOKUP", "FULLTEXT", "VECTOR",
        ]
        .iter()
        .any(|k| self.kw_at(1, k))
        {
            n = 2;
        }
        self.kw_at(n, "INDEX") || self.kw_at(1, "CONSTRAINT")
    }

    fn schema_create(&mut self) -> Result<SchemaCommand> {
        if self.eat_kw("CONSTRAINT") {
            return self.create_constraint();
        }
        let kind_tok = self.peek().clone();
        let plain = self.at_kw("INDEX");
        let kind = if plain || self.eat_kw("RANGE") {
            Some(IndexKind::Range)
        } else if self.eat_kw("TEXT") {
            Some(IndexKind::Text)
        } else if self.eat_kw("POINT") {
            Some(IndexKind::Point)
        } else if self.eat_kw("VECTOR") {
            Some(IndexKind::Vector)
        } else if self.at_kw("BTREE") {
            return Err(self.error_at(
                &kind_tok,
                "InvalidIndexType",
                "Invalid index type b-tree, use range, point or text index instead.",
            ));
        } else {
            None
        };
        let Some(kind) = kind else {
            if self.eat_kw("FULLTEXT") {
                self.expect_kw("INDEX")?;
                return self.create_fulltext_index();
            }
            self.expect_kw("LOOKUP")?;
            self.expect_kw("INDEX")?;
            return self.create_lookup_index();
        };
        self.expect_kw("INDEX")?;
        // Old form: CREATE INDEX ON :Label(prop, ...)
        if plain && self.at_kw("ON") && self.at_n(1, &Tok::Colon) {
            let (label, properties) = self.old_index_target()?;
            return Ok(SchemaCommand::CreateIndex {
                name: None,
                if_not_exists: false,
                entity: EntityKind::Node,
                label,
                properties,
                kind,
                options: None,
            });
        }
        let (name, if_not_exists) = self.schema_name_and_if_not_exists()?;
        self.expect_kw("FOR")?;
        let (var, entity, label) = self.schema_entity()?;
        self.expect_kw("ON")?;
        let mut properties = Vec::new();
        let paren = self.eat(&Tok::LParen);
        loop {
            properties.push(self.schema_property(&var)?);
            if !self.eat(&Tok::Comma) {
                break;
            }
        }
        if paren {
            self.expect(&Tok::RParen, "')'")?;
        }
        let options = self.schema_options()?;
        Ok(SchemaCommand::CreateIndex {
            name,
            if_not_exists,
            entity,
            label,
            properties,
            kind,
            options,
        })
    }

    /// After `CREATE FULLTEXT INDEX`: `[name] [IF NOT EXISTS] FOR (n:A|B)
    /// ON EACH [n.p, ...]`, or `FOR ()-[r:T|U]-() ON EACH [r.p, ...]`.
    fn create_fulltext_index(&mut self) -> Result<SchemaCommand> {
        let (name, if_not_exists) = self.schema_name_and_if_not_exists()?;
        self.expect_kw("FOR")?;
        let (var, entity, labels) = self.schema_entity_alternatives()?;
        self.expect_kw("ON")?;
        self.expect_kw("EACH")?;
        self.expect(&Tok::LBracket, "'['")?;
        let mut properties = vec![self.schema_property(&var)?];
        while self.eat(&Tok::Comma) {
            properties.push(self.schema_property(&var)?);
        }
        self.expect(&Tok::RBracket, "']'")?;
        let options = self.schema_options()?;
        Ok(SchemaCommand::CreateFulltextIndex {
            name,
            if_not_exists,
            entity,
            labels,
            properties,
            options,
        })
    }

    /// After `CREATE LOOKUP INDEX`: `[name] [IF NOT EXISTS] FOR (n) ON EACH
    /// labels(n)` or `FOR ()-[r]-() ON EACH type(r)`.
    fn create_lookup_index(&mut self) -> Result<SchemaCommand> {
        let (name, if_not_exists) = self.schema_name_and_if_not_exists()?;
        self.expect_kw("FOR")?;
        let element = self.pattern_element()?;
        let (var, entity, function) = match element.chain.as_slice() {
            [] if element.start.labels.is_empty() => {
                (element.start.var.clone(), EntityKind::Node, "labels")
            }
            [(rel, _)] if rel.types.is_empty() => {
                (rel.var.clone(), EntityKind::Relationship, "type")
            }
            _ => return Err(self.unexpected("a pattern without labels or types")),
        };
        self.expect_kw("ON")?;
        self.expect_kw("EACH")?;
        self.expect_kw(function)?;
        self.expect(&Tok::LParen, "'('")?;
        let used = self.name("a variable")?;
        if Some(&used) != var.as_ref() {
            return Err(self.unexpected("the pattern's variable"));
        }
        self.expect(&Tok::RParen, "')'")?;
        let options = self.schema_options()?;
        Ok(SchemaCommand::CreateLookupIndex {
            name,
            if_not_exists,
            entity,
            options,
        })
    }

    fn schema_name_and_if_not_exists(&mut self) -> Result<(Option<SchemaName>, bool)> {
        let mut name = None;
        if let Tok::Param(p) = &self.peek().tok {
            name = Some(SchemaName::Param(p.clone()));
            self.bump();
        } else if !self.at_kw("IF") && !self.at_kw("FOR") && !self.at_kw("ON") {
            name = Some(SchemaName::Given(self.name("a name")?));
        }
        let mut if_not_exists = false;
        if self.at_kw("IF") {
            self.bump();
            self.expect_kw("NOT")?;
            self.expect_kw("EXISTS")?;
            if_not_exists = true;
        }
        Ok((name, if_not_exists))
    }

    pub(crate) fn schema_name(&mut self) -> Result<SchemaName> {
        if let Tok::Param(p) = &self.peek().tok {
            let p = p.clone();
            self.bump();
            return Ok(SchemaName::Param(p));
        }
        Ok(SchemaName::Given(self.name("a name")?))
    }

    /// `(n:A|B)` or `()-[r:T|U]-()`: the variable, entity kind and the
    /// labels or types, as full-text indexes take them.
    fn schema_entity_alternatives(&mut self) -> Result<(String, EntityKind, Vec<String>)> {
        self.expect(&Tok::LParen, "'('")?;
        let node = !self.at(&Tok::RParen);
        if !node {
            self.bump();
            self.expect(&Tok::Minus, "'-'")?;
            self.expect(&Tok::LBracket, "'['")?;
        }
        let var = self.name("a variable name")?;
        self.expect(&Tok::Colon, "':'")?;
        let mut names = vec![self.name("a label or type name")?];
        while self.eat(&Tok::Pipe) {
            names.push(self.name("a label or type name")?);
        }
        if node {
            self.expect(&Tok::RParen, "')'")?;
            return Ok((var, EntityKind::Node, names));
        }
        self.expect(&Tok::RBracket, "']'")?;
        self.expect(&Tok::Minus, "'-'")?;
        self.eat(&Tok::Gt);
        self.expect(&Tok::LParen, "'('")?;
        self.expect(&Tok::RParen, "')'")?;
        Ok((var, EntityKind::Relationship, names))
    }

    /// `(n:Label)` or `()-[r:TYPE]-()`; returns the variable, entity kind and
    /// label or type.
    fn schema_entity(&mut self) -> Result<(String, EntityKind, String)> {
        let element = self.pattern_element()?;
        match element.chain.as_slice() {
            [] => {
                let var = element.start.var.clone().unwrap_or_default();
                match element.start.labels.as_slice() {
                    [label] => Ok((var, EntityKind::Node, label.clone())),
                    _ => Err(self.unexpected("a single label")),
                }
            }
            [(rel, _)] => {
                let var = rel.var.clone().unwrap_or_default();
                match rel.types.as_slice() {
                    [t] => Ok((var, EntityKind::Relationship, t.clone())),
                    _ => Err(self.unexpected("a single relationship type")),
                }
            }
            _ => Err(self.unexpected("a node or relationship pattern")),
        }
    }

    fn schema_property(&mut self, var: &str) -> Result<String> {
        let t = self.peek().clone();
        let v = self.name("a property reference")?;
        if v != var {
            return Err(self.error_at(
                &t,
                "UndefinedVariable",
                format!("Variable `{v}` not defined"),
            ));
        }
        self.expect(&Tok::Dot, "'.'")?;
        self.name("a property name")
    }

    /// `OPTIONS {...}`, kept as an expression: it may use parameters, so it
    /// is evaluated and checked when the command runs.
    fn schema_options(&mut self) -> Result<Option<Expr>> {
        if self.eat_kw("OPTIONS") {
            return Ok(Some(self.expr()?));
        }
        Ok(None)
    }

    /// Neo4j 4's index target after `INDEX`: `ON :Label(prop, ...)`.
    fn old_index_target(&mut self) -> Result<(String, Vec<String>)> {
        self.expect_kw("ON")?;
        self.expect(&Tok::Colon, "':'")?;
        let label = self.name("a label name")?;
        self.expect(&Tok::LParen, "'('")?;
        let mut properties = vec![self.name("a property name")?];
        while self.eat(&Tok::Comma) {
            properties.push(self.name("a property name")?);
        }
        self.expect(&Tok::RParen, "')'")?;
        Ok((label, properties))
    }

    fn create_constraint(&mut self) -> Result<SchemaCommand> {
        let (name, if_not_exists) = self.schema_name_and_if_not_exists()?;
        let old = if self.eat_kw("ON") {
            true
        } else {
            self.expect_kw("FOR")?;
            false
        };
        let (entity, label, properties, kind) = self.constraint_rule(old)?;
        let options = self.schema_options()?;
        Ok(SchemaCommand::CreateConstraint {
            name,
            if_not_exists,
            entity,
            label,
            properties,
            kind,
            options,
        })
    }

    /// A constraint's rule after `FOR` (or the old `ON`): the pattern, then
    /// `REQUIRE` (old: `ASSERT`) and what it requires.
    fn constraint_rule(
        &mut self,
        old: bool,
    ) -> Result<(EntityKind, String, Vec<String>, ConstraintKind)> {
        let (var, entity, label) = self.schema_entity()?;
        if old {
            self.expect_kw("ASSERT")?;
        } else {
            self.expect_kw("REQUIRE")?;
        }
        let mut properties = Vec::new();
        // Old form `ASSERT exists(n.p)` is the not-null constraint.
        if self.at_kw("exists") && self.at_n(1, &Tok::LParen) {
            self.bump();
            self.bump();
            properties.push(self.schema_property(&var)?);
            self.expect(&Tok::RParen, "')'")?;
            return Ok((entity, label, properties, ConstraintKind::NotNull));
        }
        if self.eat(&Tok::LParen) {
            loop {
                properties.push(self.schema_property(&var)?);
                if !self.eat(&Tok::Comma) {
                    break;
                }
            }
            self.expect(&Tok::RParen, "')'")?;
        } else {
            properties.push(self.schema_property(&var)?);
        }
        self.expect_kw("IS")?;
        let kind = if self.eat_kw("UNIQUE") {
            ConstraintKind::Unique
        } else if self.eat_kw("NOT") {
            self.expect_kw("NULL")?;
            ConstraintKind::NotNull
        } else if self.at_kw("NODE") || self.at_kw("RELATIONSHIP") || self.at_kw("REL") {
            let t = self.peek().clone();
            let said = if self.at_kw("NODE") {
                EntityKind::Node
            } else {
                EntityKind::Relationship
            };
            self.bump();
            if said != entity {
                let (word, other) = match said {
                    EntityKind::Node => ("NODE", "relationship"),
                    EntityKind::Relationship => ("RELATIONSHIP", "node"),
                };
                return Err(self.error_at(
                    &t,
                    "InvalidConstraint",
                    format!(
                        "Invalid constraint syntax, 'IS {word} ...' does not allow {other} \
                         patterns."
                    ),
                ));
            }
            if self.eat_kw("UNIQUE") {
                ConstraintKind::Unique
            } else {
                self.expect_kw("KEY")?;
                ConstraintKind::NodeKey
            }
        } else if self.eat_kw("KEY") {
            ConstraintKind::NodeKey
        } else {
            return Err(self.unexpected("'UNIQUE', 'NOT NULL' or 'NODE KEY'"));
        };
        Ok((entity, label, properties, kind))
    }

    fn schema_drop(&mut self) -> Result<SchemaCommand> {
        let index = if self.eat_kw("INDEX") {
            true
        } else if self.eat_kw("CONSTRAINT") {
            false
        } else {
            return Err(self.unexpected("'INDEX' or 'CONSTRAINT'"));
        };
        // Neo4j 4's forms name the rule instead of the index or constraint.
        if index && self.at_kw("ON") && self.at_n(1, &Tok::Colon) {
            let (label, properties) = self.old_index_target()?;
            return Ok(SchemaCommand::DropIndexOn { label, properties });
        }
        if !index && self.at_kw("ON") && self.at_n(1, &Tok::LParen) {
            self.bump();
            let (entity, label, properties, kind) = self.constraint_rule(true)?;
            return Ok(SchemaCommand::DropConstraintOn {
                entity,
                label,
                properties,
                kind,
            });
        }
        let name = self.schema_name()?;
        let mut if_exists = false;
        if self.at_kw("IF") {
            self.bump();
            self.expect_kw("EXISTS")?;
            if_exists = true;
        }
        Ok(if index {
            SchemaCommand::DropIndex { name, if_exists }
        } else {
            SchemaCommand::DropConstraint { name, if_exists }
        })
    }

    fn show(&mut self) -> Result<ShowCommand> {
        // Qualifiers such as `SHOW RANGE INDEXES`, `SHOW NODE KEY CONSTRAINTS`
        // or `SHOW BUILT IN FUNCTIONS` become a filter on the listing.
        const QUALIFIERS: &[&str] = &[
            "ALL",
            "RANGE",
            "TEXT",
            "POINT",
            "LOOKUP",
            "FULLTEXT",
            "VECTOR",
            "BTREE",
            "UNIQUE",
            "UNIQUENESS",
            "KEY",
            "EXIST",
            "EXISTS",
            "EXISTENCE",
            "PROPERTY",
            "TYPE",
            "NODE",
            "RELATIONSHIP",
            "REL",
            "BUILT",
            "IN",
            "USER",
            "DEFINED",
            "POPULATED",
            "LOCAL",
            "REMOTE",
        ];
        let mut qualifiers = Vec::new();
        while self.peek().tok == Tok::Ident
            && QUALIFIERS.iter().any(|q| self.at_kw(q))
            // `USER` qualifies only as `USER DEFINED`.
            && (!self.at_kw("USER") || self.kw_at(1, "DEFINED"))
        {
            qualifiers.push(self.text(self.peek()).to_ascii_uppercase());
            self.bump();
        }
        let t = self.peek().clone();
        let word = if t.tok == Tok::Ident {
            self.text(&t).to_ascii_uppercase()
        } else {
            String::new()
        };
        let security_qualified = qualifiers.iter().all(|q| q == "ALL" || q == "POPULATED");
        if security_qualified {
            let populated = qualifiers.iter().any(|q| q == "POPULATED");
            if let Some(kind) = self.show_security(&word, populated)? {
                return self.show_tail(kind);
            }
        }
        let kind = match word.as_str() {
            "INDEX" | "INDEXES" => ShowKind::Indexes,
            "CONSTRAINT" | "CONSTRAINTS" => ShowKind::Constraints,
            "DATABASES" => ShowKind::Databases(None),
            "DATABASE" => {
                self.bump();
                let name = self.name("a database name")?;
                let kind = ShowKind::Databases(Some(name));
                return self.show_tail(kind);
            }
            "DEFAULT" | "HOME" => {
                self.bump();
                self.expect_kw("DATABASE")?;
                let kind = if word == "DEFAULT" {
                    ShowKind::DefaultDatabase
                } else {
                    ShowKind::HomeDatabase
                };
                return self.show_tail(kind);
            }
            "PROCEDURE" | "PROCEDURES" => ShowKind::Procedures,
            "FUNCTION" | "FUNCTIONS" => ShowKind::Functions,
            "SERVER" | "SERVERS" => ShowKind::Servers,
            "TRANSACTION" | "TRANSACTIONS" => ShowKind::Transactions,
            "USERS" => ShowKind::Users,
            "CURRENT" => {
                self.bump();
                self.expect_kw("USER")?;
                return self.show_tail(ShowKind::CurrentUser);
            }
            _ => return Err(self.unexpected("what to show, e.g. 'INDEXES' or 'DATABASES'")),
        };
        self.bump();
        let mut filter = show_filter(&kind, &qualifiers);
        if kind == ShowKind::Transactions && matches!(self.peek().tok, Tok::Str(_) | Tok::Param(_))
        {
            let mut ids = vec![self.expr()?];
            while self.eat(&Tok::Comma) {
                ids.push(self.expr()?);
            }
            let ids = match ids.as_slice() {
                // A single parameter may hold a list of ids.
                [Expr::Parameter(_)] => ids.remove(0),
                _ => Expr::List(ids),
            };
            filter = Some(("transactionId", ids));
        }
        let mut cmd = self.show_tail(kind)?;
        if let Some((column, values)) = filter {
            cmd.filter = Some(show_filter_pred(column, values));
        }
        Ok(cmd)
    }

    fn show_tail(&mut self, kind: ShowKind) -> Result<ShowCommand> {
        let mut yield_items = None;
        let mut where_;
        let mut then = Vec::new();
        if self.eat_kw("YIELD") {
            yield_items = Some(self.yield_spec()?);
            // ORDER BY / SKIP / LIMIT on YIELD are expressed as a WITH *.
            let mut order_by = Vec::new();
            if self.at_kw("ORDER") {
                self.bump();
                self.expect_kw("BY")?;
                order_by = self.sort_items()?;
            }
            let skip = if self.eat_kw("SKIP") || self.eat_kw("OFFSET") {
                Some(self.expr()?)
            } else {
                None
            };
            let limit = if self.eat_kw("LIMIT") {
                Some(self.expr()?)
            } else {
                None
            };
            where_ = self.opt_where()?;
            if !order_by.is_empty() || skip.is_some() || limit.is_some() {
                then.push(Clause::With(Projection {
                    distinct: false,
                    star: true,
                    items: Vec::new(),
                    order_by,
                    skip,
                    limit,
                    where_: where_.take(),
                }));
            }
        } else {
            where_ = self.opt_where()?;
        }
        while !self.at_query_end() {
            then.push(self.clause()?);
        }
        Ok(ShowCommand {
            kind,
            filter: None,
            yield_items,
            where_,
            then,
        })
    }
}

const CLAUSE_START: &str = "a clause such as MATCH, RETURN, WITH, UNWIND, CREATE, MERGE, SET, DELETE, REMOVE, FOREACH or CALL";

/// The listing column and accepted values a SHOW qualifier stands for, in
/// the names Neo4j uses for the `type` and `isBuiltIn` columns.
fn show_filter(kind: &ShowKind, qualifiers: &[String]) -> Option<(&'static str, Expr)> {
    let has = |w: &str| qualifiers.iter().any(|q| q == w);
    let strings = |v: &[&str]| {
        Expr::List(
            v.iter()
                .map(|s| Expr::Literal(Literal::String(s.to_string())))
                .collect(),
        )
    };
    match kind {
        ShowKind::Indexes => [
            "RANGE", "TEXT", "POINT", "LOOKUP", "FULLTEXT", "VECTOR", "BTREE",
        ]
        .iter()
        .find(|t| has(t))
        .map(|t| ("type", strings(&[t]))),
        ShowKind::Constraints => {
            let node = !(has("RELATIONSHIP") || has("REL"));
            let rel = !has("NODE");
            let (n, r) = if has("UNIQUE") || has("UNIQUENESS") {
                ("UNIQUENESS", "RELATIONSHIP_UNIQUENESS")
            } else if has("KEY") {
                ("NODE_KEY", "RELATIONSHIP_KEY")
            } else if has("EXIST") || has("EXISTS") || has("EXISTENCE") {
                ("NODE_PROPERTY_EXISTENCE", "RELATIONSHIP_PROPERTY_EXISTENCE")
            } else if has("TYPE") {
                ("NODE_PROPERTY_TYPE", "RELATIONSHIP_PROPERTY_TYPE")
            } else {
                return None;
            };
            let mut types = Vec::new();
            if node {
                types.push(n);
            }
            if rel {
                types.push(r);
            }
            Some(("type", strings(&types)))
        }
        ShowKind::Functions | ShowKind::Procedures if has("BUILT") => {
            Some(("isBuiltIn", Expr::Literal(Literal::Bool(true))))
        }
        ShowKind::Functions | ShowKind::Procedures if has("DEFINED") => {
            Some(("isBuiltIn", Expr::Literal(Literal::Bool(false))))
        }
        _ => None,
    }
}

/// `column IN values`, or `column = value` for a single literal.
fn show_filter_pred(column: &str, values: Expr) -> Expr {
    let op = if matches!(values, Expr::Literal(_)) {
        BinaryOp::Eq
    } else {
        BinaryOp::In
    };
    Expr::Binary(
        op,
        Box::new(Expr::Variable(column.into())),
        Box::new(values),
    )
}
