//! Expression parsing by precedence climbing. Binary operator levels share
//! one recursive function so that each level of source nesting costs only a
//! few stack frames.

use crate::ast::*;
use crate::lexer::Tok;
use crate::parser::Parser;
use causeway_value::Result;

const PREC_OR: u8 = 1;
const PREC_XOR: u8 = 2;
const PREC_AND: u8 = 3;
const PREC_NOT: u8 = 4;
const PREC_CMP: u8 = 5;
const PREC_PRED: u8 = 6;
const PREC_ADD: u8 = 7;
const PREC_MUL: u8 = 8;
const PREC_POW: u8 = 9;

#[derive(Clone, Copy)]
enum SubqueryKind {
    Exists,
    Count,
    Collect,
}

/// What a word in expression position starts.
enum Word {
    Literal(Literal),
    Case,
    /// `EXISTS {`, `COUNT {` or `COLLECT {`
    Subquery(SubqueryKind),
    Quantifier(Quantifier),
    Reduce,
    CountStar,
    /// `shortestPath(` or `allShortestPaths(` followed by a pattern.
    ShortestPath(Shortest),
    Function,
    Name,
}

#[derive(Clone, Copy)]
enum Op {
    Bin(BinaryOp),
    Cmp(BinaryOp),
    StartsWith,
    EndsWith,
    IsNull,
    Label,
}

impl<'a> Parser<'a> {
    pub fn expr(&mut self) -> Result<Expr> {
        self.binary(PREC_OR)
    }

    /// An expression that a `|` may follow as a separator.
    pub fn expr_before_pipe(&mut self) -> Result<Expr> {
        self.pipe_ends_expr += 1;
        let r = self.expr();
        self.pipe_ends_expr -= 1;
        r
    }

    fn where_before_pipe(&mut self) -> Result<Option<Expr>> {
        self.pipe_ends_expr += 1;
        let r = self.opt_where();
        self.pipe_ends_expr -= 1;
        r
    }

    /// Every expression nesting level passes through here, so this is where
    /// the nesting limit is counted.
    fn binary(&mut self, min: u8) -> Result<Expr> {
        self.enter()?;
        let r = self.prefix().and_then(|lhs| self.binary_rest(lhs, min));
        self.leave();
        r
    }

    /// The operator at the cursor, its precedence, and how many tokens it
    /// spans.
    fn peek_op(&self) -> Option<(Op, u8, usize)> {
        use BinaryOp::*;
        let t = self.peek();
        let r = match &t.tok {
            Tok::Eq => (Op::Cmp(Eq), PREC_CMP, 1),
            Tok::Ne => (Op::Cmp(Ne), PREC_CMP, 1),
            Tok::Lt => (Op::Cmp(Lt), PREC_CMP, 1),
            Tok::Le => (Op::Cmp(Le), PREC_CMP, 1),
            Tok::Gt => (Op::Cmp(Gt), PREC_CMP, 1),
            Tok::Ge => (Op::Cmp(Ge), PREC_CMP, 1),
            Tok::RegexEq => (Op::Bin(RegexMatch), PREC_PRED, 1),
            Tok::Colon => (Op::Label, PREC_PRED, 0),
            Tok::Plus => (Op::Bin(Add), PREC_ADD, 1),
            Tok::Minus => (Op::Bin(Sub), PREC_ADD, 1),
            Tok::Star => (Op::Bin(Mul), PREC_MUL, 1),
            Tok::Slash => (Op::Bin(Div), PREC_MUL, 1),
            Tok::Percent => (Op::Bin(Mod), PREC_MUL, 1),
            Tok::Caret => (Op::Bin(Pow), PREC_POW, 1),
            Tok::Ident => {
                let w = self.text(t);
                if w.eq_ignore_ascii_case("OR") {
                    (Op::Bin(Or), PREC_OR, 1)
                } else if w.eq_ignore_ascii_case("XOR") {
                    (Op::Bin(Xor), PREC_XOR, 1)
                } else if w.eq_ignore_ascii_case("AND") {
                    (Op::Bin(And), PREC_AND, 1)
                } else if w.eq_ignore_ascii_case("IN") {
                    (Op::Bin(In), PREC_PRED, 1)
                } else if w.eq_ignore_ascii_case("CONTAINS") {
                    (Op::Bin(Contains), PREC_PRED, 1)
                } else if w.eq_ignore_ascii_case("STARTS") && self.kw_at(1, "WITH") {
                    (Op::StartsWith, PREC_PRED, 2)
                } else if w.eq_ignore_ascii_case("ENDS") && self.kw_at(1, "WITH") {
                    (Op::EndsWith, PREC_PRED, 2)
                } else if w.eq_ignore_ascii_case("IS") {
                    (Op::IsNull, PREC_PRED, 0)
                } else {
                    return None;
                }
            }
            _ => return None,
        };
        Some(r)
    }

    /// Continues an expression whose left operand has been parsed. Every
    /// operator applied deepens the tree by one level, so each counts
    /// against the nesting limit; chains of AND / OR / XOR, which generated
    /// queries produce in bulk, are built as balanced trees instead.
    pub(crate) fn binary_rest(&mut self, lhs: Expr, min: u8) -> Result<Expr> {
        let depth_before = self.depth;
        let r = self.binary_rest_inner(lhs, min);
        self.depth = depth_before;
        r
    }

    fn binary_rest_inner(&mut self, mut lhs: Expr, min: u8) -> Result<Expr> {
        while let Some((op, prec, len)) = self.peek_op() {
            if prec < min {
                break;
            }
            lhs = match op {
                Op::Bin(b @ (BinaryOp::And | BinaryOp::Or | BinaryOp::Xor)) => {
                    self.logical_chain(lhs, b, prec)?
                }
                _ => {
                    self.enter()?;
                    for _ in 0..len {
                        self.bump();
                    }
                    self.apply_op(lhs, op, prec)?
                }
            };
        }
        Ok(lhs)
    }

    #[inline(never)]
    fn logical_chain(&mut self, lhs: Expr, op: BinaryOp, prec: u8) -> Result<Expr> {
        let mut operands = vec![lhs];
        while matches!(self.peek_op(), Some((Op::Bin(x), _, _)) if x == op) {
            self.bump();
            operands.push(self.binary(prec + 1)?);
        }
        Ok(balanced(op, operands))
    }

    #[inline(never)]
    fn apply_op(&mut self, lhs: Expr, op: Op, prec: u8) -> Result<Expr> {
        let b = match op {
            Op::Bin(b) => b,
            Op::StartsWith => BinaryOp::StartsWith,
            Op::EndsWith => BinaryOp::EndsWith,
            Op::IsNull => return self.is_null(lhs),
            Op::Label => {
                let labels = self.label_expression()?;
                return Ok(labels.predicate(&lhs));
            }
            Op::Cmp(first) => return self.comparison_chain(lhs, first),
        };
        let rhs = self.binary(prec + 1)?;
        Ok(Expr::Binary(b, Box::new(lhs), Box::new(rhs)))
    }

    #[inline(never)]
    fn is_null(&mut self, lhs: Expr) -> Result<Expr> {
        self.expect_kw("IS")?;
        let negated = self.eat_kw("NOT");
        self.expect_kw("NULL")?;
        Ok(Expr::IsNull {
            expr: Box::new(lhs),
            negated,
        })
    }

    /// `a < b <= c` means `a < b AND b <= c`.
    fn comparison_chain(&mut self, lhs: Expr, first: BinaryOp) -> Result<Expr> {
        let rhs = self.binary(PREC_CMP + 1)?;
        let mut result = Expr::Binary(first, Box::new(lhs), Box::new(rhs.clone()));
        let mut last = rhs;
        while let Some((Op::Cmp(op), _, _)) = self.peek_op() {
            self.enter()?;
            self.bump();
            let next = self.binary(PREC_CMP + 1)?;
            let cmp = Expr::Binary(op, Box::new(last), Box::new(next.clone()));
            result = Expr::Binary(BinaryOp::And, Box::new(result), Box::new(cmp));
            last = next;
        }
        Ok(result)
    }

    // The functions on the recursive path (expr, binary, prefix, atom, ...)
    // are kept small and push their less common cases into separate
    // non-inlined functions: in unoptimised builds every temporary of every
    // match arm gets its own stack slot, and the per-level frame size decides
    // how deep a query can nest before the stack runs out.

    fn prefix(&mut self) -> Result<Expr> {
        // The atom dispatch is repeated here rather than calling `atom` to
        // save a stack frame per nesting level.
        let atom = match self.peek().tok {
            Tok::Minus if matches!(self.peek_at(1).tok, Tok::Int(_)) => return self.negative_int(),
            Tok::Minus => return self.unary(UnaryOp::Neg),
            Tok::Plus => return self.unary(UnaryOp::Pos),
            Tok::Ident if self.at_kw("NOT") => return self.unary(UnaryOp::Not),
            Tok::LParen => self.paren_expr(),
            Tok::LBracket => self.list_like(),
            Tok::LBrace => self.map_literal(),
            Tok::Ident => self.word_atom(),
            Tok::QuotedIdent(_) => self.quoted_atom(),
            _ => self.literal_atom(),
        };
        atom.and_then(|a| self.postfix(a))
    }

    #[inline(never)]
    fn unary(&mut self, op: UnaryOp) -> Result<Expr> {
        self.bump();
        let r = if op == UnaryOp::Not {
            self.binary(PREC_NOT)
        } else {
            self.enter()?;
            let r = self.prefix();
            self.leave();
            r
        };
        Ok(Expr::Unary(op, Box::new(r?)))
    }

    /// Negative literals are folded here so that i64::MIN, whose magnitude
    /// does not fit in i64, can be written.
    #[inline(never)]
    fn negative_int(&mut self) -> Result<Expr> {
        self.bump();
        let t = self.next_token();
        let value = match t.tok {
            Tok::Int(Some(m)) if m <= i64::MAX as u64 + 1 => (m as i64).wrapping_neg(),
            _ => {
                return Err(self.error_at(
                    &t,
                    "IntegerOverflow",
                    format!("integer, -{}, is too large", self.text(&t)),
                ))
            }
        };
        self.postfix(Expr::Literal(Literal::Int(value)))
    }

    fn postfix(&mut self, e: Expr) -> Result<Expr> {
        let depth_before = self.depth;
        let r = self.postfix_inner(e);
        self.depth = depth_before;
        r
    }

    fn postfix_inner(&mut self, mut e: Expr) -> Result<Expr> {
        loop {
            if matches!(self.peek().tok, Tok::Dot | Tok::LBracket) {
                self.enter()?;
            }
            match self.peek().tok {
                Tok::Dot => {
                    self.bump();
                    let key = self.name("a property name")?;
                    e = Expr::Property(Box::new(e), key);
                }
                Tok::LBracket => {
                    self.bump();
                    if self.eat(&Tok::DotDot) {
                        let to = self.opt_slice_bound()?;
                        self.expect(&Tok::RBracket, "']'")?;
                        e = Expr::Slice(Box::new(e), None, to);
                        continue;
                    }
                    let idx = self.expr()?;
                    if self.eat(&Tok::DotDot) {
                        let to = self.opt_slice_bound()?;
                        self.expect(&Tok::RBracket, "']'")?;
                        e = Expr::Slice(Box::new(e), Some(Box::new(idx)), to);
                    } else {
                        self.expect(&Tok::RBracket, "']'")?;
                        e = Expr::Index(Box::new(e), Box::new(idx));
                    }
                }
                _ => return Ok(e),
            }
        }
    }

    fn opt_slice_bound(&mut self) -> Result<Option<Box<Expr>>> {
        if self.at(&Tok::RBracket) {
            Ok(None)
        } else {
            Ok(Some(Box::new(self.expr()?)))
        }
    }

    /// Property accesses only: the left-hand side of SET and REMOVE items.
    pub(crate) fn postfix_props(&mut self, mut e: Expr) -> Result<Expr> {
        let depth_before = self.depth;
        while self.eat(&Tok::Dot) {
            if let Err(err) = self.enter() {
                self.depth = depth_before;
                return Err(err);
            }
            let key = self.name("a property name")?;
            e = Expr::Property(Box::new(e), key);
        }
        self.depth = depth_before;
        Ok(e)
    }

    /// Whether a relationship pattern starts at token index `i`.
    fn rel_start_at(&self, i: usize) -> bool {
        let tok = |k: usize| self.toks.get(k).map(|t| &t.tok);
        match tok(i) {
            Some(Tok::Minus) => matches!(
                tok(i + 1),
                Some(Tok::LBracket) | Some(Tok::Minus) | Some(Tok::Gt)
            ),
            Some(Tok::Lt) => matches!(tok(i + 1), Some(Tok::Minus)),
            _ => false,
        }
    }

    /// Whether the `(` at the cursor (plus `ahead`) opens a pattern with at
    /// least one relationship rather than a parenthesised expression.
    fn pattern_ahead(&self, ahead: usize) -> bool {
        let i = self.pos + ahead;
        if !matches!(self.toks.get(i).map(|t| &t.tok), Some(Tok::LParen)) {
            return false;
        }
        match self.paren_match.get(i) {
            Some(&close) if close != usize::MAX => {
                self.rel_start_at(close + 1) && self.node_pattern_like(i)
            }
            _ => false,
        }
    }

    /// Whether the parenthesis at token `i` holds what a node pattern can
    /// start with, so `(n.x)<-1` stays a comparison.
    fn node_pattern_like(&self, i: usize) -> bool {
        let tok = |k: usize| self.toks.get(k).map(|t| &t.tok);
        let follows_name = |k: usize| match tok(k) {
            Some(Tok::RParen | Tok::Colon | Tok::LBrace | Tok::Param(_)) => true,
            Some(Tok::Ident) => self
                .toks
                .get(k)
                .is_some_and(|t| self.text(t).eq_ignore_ascii_case("WHERE")),
            _ => false,
        };
        match tok(i + 1) {
            Some(Tok::RParen | Tok::Colon | Tok::LBrace | Tok::Param(_)) => true,
            Some(Tok::Ident | Tok::QuotedIdent(_)) => follows_name(i + 2),
            _ => false,
        }
    }

    pub(crate) fn atom(&mut self) -> Result<Expr> {
        match self.peek().tok {
            Tok::LParen => self.paren_expr(),
            Tok::LBracket => self.list_like(),
            Tok::LBrace => self.map_literal(),
            Tok::Ident => self.word_atom(),
            Tok::QuotedIdent(_) => self.quoted_atom(),
            _ => self.literal_atom(),
        }
    }

    #[inline(never)]
    fn paren_expr(&mut self) -> Result<Expr> {
        if self.pattern_ahead(0) {
            return self.pattern_predicate();
        }
        self.bump();
        // Inside parentheses `|` cannot end the enclosing construct.
        let saved = std::mem::take(&mut self.pipe_ends_expr);
        let e = self.expr();
        self.pipe_ends_expr = saved;
        let e = e?;
        self.expect(&Tok::RParen, "')'")?;
        Ok(e)
    }

    #[inline(never)]
    fn pattern_predicate(&mut self) -> Result<Expr> {
        let el = self.pattern_element()?;
        Ok(Expr::PatternPredicate(Box::new(el)))
    }

    #[inline(never)]
    fn quoted_atom(&mut self) -> Result<Expr> {
        if self.at_n(1, &Tok::LParen) {
            return self.function_call();
        }
        let name = self.name("a variable name")?;
        if self.at(&Tok::LBrace) {
            return self.map_projection(name);
        }
        Ok(Expr::Variable(name))
    }

    #[inline(never)]
    fn literal_atom(&mut self) -> Result<Expr> {
        let t = self.next_token();
        match t.tok {
            Tok::Int(Some(m)) if m <= i64::MAX as u64 => Ok(Expr::Literal(Literal::Int(m as i64))),
            Tok::Int(_) => Err(self.error_at(
                &t,
                "IntegerOverflow",
                format!("integer, {}, is too large", self.text(&t)),
            )),
            Tok::Float(f) => Ok(Expr::Literal(Literal::Float(f))),
            Tok::Str(s) => Ok(Expr::Literal(Literal::String(s))),
            Tok::Param(p) => Ok(Expr::Parameter(p)),
            _ => Err(self.error_at(
                &t,
                "UnexpectedSyntax",
                format!("Invalid input '{}': expected an expression", self.text(&t)),
            )),
        }
    }

    fn word_atom(&mut self) -> Result<Expr> {
        match self.classify_word() {
            Word::Literal(l) => {
                self.bump();
                Ok(Expr::Literal(l))
            }
            Word::Case => {
                self.bump();
                self.case_expr()
            }
            Word::Subquery(kind) => self.subquery_expr(kind),
            Word::Quantifier(kind) => self.quantified(kind),
            Word::Reduce => self.reduce(),
            Word::CountStar => {
                for _ in 0..4 {
                    self.bump();
                }
                Ok(Expr::CountStar)
            }
            Word::ShortestPath(kind) => self.shortest_path_expr(kind),
            Word::Function => self.function_call(),
            Word::Name => self.name_atom(),
        }
    }

    /// Decides what a word in expression position starts, without consuming
    /// anything; kept apart from `word_atom` to keep that frame small.
    #[inline(never)]
    fn classify_word(&self) -> Word {
        let w = self.text(self.peek());
        let next = &self.peek_at(1).tok;
        let kw = |k: &str| w.eq_ignore_ascii_case(k);
        if kw("TRUE") {
            return Word::Literal(Literal::Bool(true));
        }
        if kw("FALSE") {
            return Word::Literal(Literal::Bool(false));
        }
        if kw("NULL") {
            return Word::Literal(Literal::Null);
        }
        if kw("CASE") {
            return Word::Case;
        }
        if *next == Tok::LBrace {
            if kw("EXISTS") {
                return Word::Subquery(SubqueryKind::Exists);
            }
            if kw("COUNT") {
                return Word::Subquery(SubqueryKind::Count);
            }
            if kw("COLLECT") {
                return Word::Subquery(SubqueryKind::Collect);
            }
        }
        if *next == Tok::LParen {
            let quant = if kw("ALL") {
                Some(Quantifier::All)
            } else if kw("ANY") {
                Some(Quantifier::Any)
            } else if kw("NONE") {
                Some(Quantifier::None)
            } else if kw("SINGLE") {
                Some(Quantifier::Single)
            } else {
                None
            };
            if let Some(kind) = quant {
                if Self::is_name_token(&self.peek_at(2).tok) && self.kw_at(3, "IN") {
                    return Word::Quantifier(kind);
                }
            }
            if kw("REDUCE") {
                return Word::Reduce;
            }
            if kw("COUNT") && self.at_n(2, &Tok::Star) && self.at_n(3, &Tok::RParen) {
                return Word::CountStar;
            }
            if self.pattern_ahead(2) {
                if kw("shortestPath") {
                    return Word::ShortestPath(Shortest::One);
                }
                if kw("allShortestPaths") {
                    return Word::ShortestPath(Shortest::All);
                }
            }
        }
        if self.function_ahead() {
            return Word::Function;
        }
        Word::Name
    }

    #[inline(never)]
    fn name_atom(&mut self) -> Result<Expr> {
        let name = self.name("a variable name")?;
        if self.at(&Tok::LBrace) {
            return self.map_projection(name);
        }
        Ok(Expr::Variable(name))
    }

    #[inline(never)]
    fn subquery_expr(&mut self, kind: SubqueryKind) -> Result<Expr> {
        self.bump();
        self.bump();
        if let SubqueryKind::Collect = kind {
            // Only a query can say what to collect: no pattern shorthand.
            let q = self.query()?;
            self.expect(&Tok::RBrace, "'}'")?;
            return Ok(Expr::CollectSubquery(Box::new(SubqueryPattern::Query(q))));
        }
        let body = self.subquery_body()?;
        self.expect(&Tok::RBrace, "'}'")?;
        Ok(match kind {
            SubqueryKind::Exists => Expr::Exists(Box::new(body)),
            _ => Expr::CountSubquery(Box::new(body)),
        })
    }

    /// `shortestPath(pattern)` as an expression is the path the MATCH form
    /// would bind, or null; `allShortestPaths(pattern)` the list of them.
    /// Both become a COLLECT subquery over that MATCH, so the search is the
    /// MATCH's own; the checker holds its pattern to variables already bound
    /// (`SubqueryPattern::shortest_expr`).
    #[inline(never)]
    fn shortest_path_expr(&mut self, kind: Shortest) -> Result<Expr> {
        self.bump();
        self.bump();
        let mark = self.inline_where.len();
        let element = self.pattern_element()?;
        self.expect(&Tok::RParen, "')'")?;
        let where_ = self.merge_inline_where(mark, None);
        let ends = [
            element.start.var.clone(),
            element.chain.last().and_then(|(_, n)| n.var.clone()),
        ];
        let path = SHORTEST_EXPR_PATH.to_string();
        let part = PatternPart {
            shortest: Some(kind),
            ..PatternPart::new(Some(path.clone()), element)
        };
        let query = Query {
            parts: vec![SingleQuery {
                clauses: vec![
                    Clause::Match {
                        optional: false,
                        pattern: Pattern { parts: vec![part] },
                        where_,
                    },
                    Clause::Return(Projection {
                        distinct: false,
                        star: false,
                        items: vec![ProjectionItem {
                            expr: Expr::Variable(path.clone()),
                            alias: None,
                            text: path,
                        }],
                        order_by: Vec::new(),
                        skip: None,
                        limit: None,
                        where_: None,
                    }),
                ],
            }],
            union_all: Vec::new(),
        };
        let paths = Expr::CollectSubquery(Box::new(SubqueryPattern::Query(query)));
        let search = match kind {
            Shortest::All => paths,
            Shortest::One => Expr::Index(Box::new(paths), Box::new(Expr::Literal(Literal::Int(0)))),
        };
        // Both forms are null when an end is null. The checker requires
        // both ends to be named; until then there is nothing to test.
        let ends: Vec<Expr> = ends
            .into_iter()
            .flatten()
            .map(|v| Expr::IsNull {
                expr: Box::new(Expr::Variable(v)),
                negated: false,
            })
            .collect();
        let Some(either_null) = ends
            .into_iter()
            .reduce(|a, b| Expr::Binary(BinaryOp::Or, Box::new(a), Box::new(b)))
        else {
            return Ok(search);
        };
        Ok(Expr::Case {
            subject: None,
            whens: vec![(either_null, Expr::Literal(Literal::Null))],
            else_: Some(Box::new(search)),
        })
    }

    /// `name(`, or `ns.name(` with any number of namespace parts.
    fn function_ahead(&self) -> bool {
        let mut i = 0;
        loop {
            if !Self::is_name_token(&self.peek_at(i).tok) {
                return false;
            }
            match self.peek_at(i + 1).tok {
                Tok::LParen => return true,
                Tok::Dot => i += 2,
                _ => return false,
            }
        }
    }

    fn function_call(&mut self) -> Result<Expr> {
        let mut name = self.name("a function name")?;
        while self.eat(&Tok::Dot) {
            name.push('.');
            name.push_str(&self.name("a function name")?);
        }
        self.expect(&Tok::LParen, "'('")?;
        let distinct = self.eat_kw("DISTINCT");
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
        Ok(Expr::Function {
            name,
            distinct,
            args,
        })
    }

    fn quantified(&mut self, kind: Quantifier) -> Result<Expr> {
        self.bump();
        self.bump();
        let var = self.name("a variable name")?;
        self.expect_kw("IN")?;
        let list = self.expr()?;
        let filter = self.opt_where()?.map(Box::new);
        self.expect(&Tok::RParen, "')'")?;
        Ok(Expr::Quantified {
            kind,
            var,
            list: Box::new(list),
            filter,
        })
    }

    fn reduce(&mut self) -> Result<Expr> {
        self.bump();
        self.bump();
        let acc = self.name("an accumulator name")?;
        self.expect(&Tok::Eq, "'='")?;
        let init = self.expr()?;
        self.expect(&Tok::Comma, "','")?;
        let var = self.name("a variable name")?;
        self.expect_kw("IN")?;
        let list = self.expr_before_pipe()?;
        self.expect(&Tok::Pipe, "'|'")?;
        let expr = self.expr()?;
        self.expect(&Tok::RParen, "')'")?;
        Ok(Expr::Reduce {
            acc,
            init: Box::new(init),
            var,
            list: Box::new(list),
            expr: Box::new(expr),
        })
    }

    fn case_expr(&mut self) -> Result<Expr> {
        let subject = if self.at_kw("WHEN") {
            None
        } else {
            Some(Box::new(self.expr()?))
        };
        let mut whens = Vec::new();
        while self.eat_kw("WHEN") {
            let w = self.expr()?;
            self.expect_kw("THEN")?;
            let t = self.expr()?;
            whens.push((w, t));
        }
        if whens.is_empty() {
            return Err(self.unexpected("'WHEN'"));
        }
        let else_ = if self.eat_kw("ELSE") {
            Some(Box::new(self.expr()?))
        } else {
            None
        };
        self.expect_kw("END")?;
        Ok(Expr::Case {
            subject,
            whens,
            else_,
        })
    }

    pub(crate) fn map_literal(&mut self) -> Result<Expr> {
        self.expect(&Tok::LBrace, "'{'")?;
        let mut entries = Vec::new();
        if self.eat(&Tok::RBrace) {
            return Ok(Expr::Map(entries));
        }
        loop {
            let key = self.name("a property key name")?;
            self.expect(&Tok::Colon, "':'")?;
            let value = self.expr()?;
            entries.push((key, value));
            if self.eat(&Tok::RBrace) {
                return Ok(Expr::Map(entries));
            }
            self.expect(&Tok::Comma, "',' or '}'")?;
        }
    }

    fn map_projection(&mut self, var: String) -> Result<Expr> {
        self.expect(&Tok::LBrace, "'{'")?;
        let mut items = Vec::new();
        if self.eat(&Tok::RBrace) {
            return Ok(Expr::MapProjection { var, items });
        }
        loop {
            if self.eat(&Tok::Dot) {
                if self.eat(&Tok::Star) {
                    items.push(MapProjectionItem::AllProperties);
                } else {
                    items.push(MapProjectionItem::Property(self.name("a property name")?));
                }
            } else {
                let key = self.name("a map projection item")?;
                if self.eat(&Tok::Colon) {
                    let e = self.expr()?;
                    items.push(MapProjectionItem::Literal(key, e));
                } else {
                    items.push(MapProjectionItem::Variable(key));
                }
            }
            if self.eat(&Tok::RBrace) {
                return Ok(Expr::MapProjection { var, items });
            }
            self.expect(&Tok::Comma, "',' or '}'")?;
        }
    }

    fn list_like(&mut self) -> Result<Expr> {
        self.expect(&Tok::LBracket, "'['")?;
        if self.eat(&Tok::RBracket) {
            return Ok(Expr::List(Vec::new()));
        }
        let named = Self::is_name_token(&self.peek().tok);
        if named && self.kw_at(1, "IN") {
            return self.list_comprehension();
        }
        let path_var = named && self.at_n(1, &Tok::Eq) && self.pattern_ahead(2);
        if path_var || self.pattern_ahead(0) {
            return self.pattern_comprehension(path_var);
        }
        let mut items = Vec::with_capacity(4);
        loop {
            items.push(self.expr()?);
            if self.eat(&Tok::RBracket) {
                return Ok(Expr::List(items));
            }
            self.expect(&Tok::Comma, "',' or ']'")?;
        }
    }

    #[inline(never)]
    fn pattern_comprehension(&mut self, has_path_var: bool) -> Result<Expr> {
        let path_var = if has_path_var {
            let v = self.name("a variable name")?;
            self.bump();
            Some(v)
        } else {
            None
        };
        let mark = self.inline_where.len();
        let pattern = self.pattern_element()?;
        let filter = self.where_before_pipe()?;
        let filter = self.merge_inline_where(mark, filter);
        if filter.is_some() || path_var.is_some() || self.at(&Tok::Pipe) {
            self.expect(&Tok::Pipe, "'|'")?;
            let map = self.expr()?;
            self.expect(&Tok::RBracket, "']'")?;
            return Ok(Expr::PatternComprehension {
                path_var,
                pattern: Box::new(pattern),
                filter: filter.map(Box::new),
                map: Box::new(map),
            });
        }
        // Not a comprehension after all: a list whose first element is a
        // pattern predicate.
        let first = self.postfix(Expr::PatternPredicate(Box::new(pattern)))?;
        let first = self.binary_rest(first, PREC_OR)?;
        self.list_rest(vec![first])
    }

    fn list_rest(&mut self, mut items: Vec<Expr>) -> Result<Expr> {
        loop {
            if self.eat(&Tok::RBracket) {
                return Ok(Expr::List(items));
            }
            self.expect(&Tok::Comma, "',' or ']'")?;
            items.push(self.expr()?);
        }
    }

    fn list_comprehension(&mut self) -> Result<Expr> {
        let var = self.name("a variable name")?;
        self.expect_kw("IN")?;
        let list = self.expr_before_pipe()?;
        let filter = self.where_before_pipe()?.map(Box::new);
        let map = if self.eat(&Tok::Pipe) {
            Some(Box::new(self.expr()?))
        } else {
            None
        };
        self.expect(&Tok::RBracket, "']'")?;
        Ok(Expr::ListComprehension {
            var,
            list: Box::new(list),
            filter,
            map,
        })
    }

    /// The inside of `EXISTS { }` / `COUNT { }`. A lone MATCH without RETURN
    /// is normalised to the pattern form.
    fn subquery_body(&mut self) -> Result<SubqueryPattern> {
        if self.at(&Tok::LParen)
            || (Self::is_name_token(&self.peek().tok) && self.at_n(1, &Tok::Eq))
        {
            let mark = self.inline_where.len();
            let pattern = self.pattern()?;
            let where_ = self.opt_where()?;
            let where_ = self.merge_inline_where(mark, where_);
            return Ok(SubqueryPattern::Pattern { pattern, where_ });
        }
        let mut q = self.query()?;
        if q.parts.len() == 1 && q.parts[0].clauses.len() == 1 {
            if let Clause::Match {
                optional: false, ..
            } = &q.parts[0].clauses[0]
            {
                if let Some(Clause::Match {
                    pattern, where_, ..
                }) = q.parts[0].clauses.pop()
                {
                    return Ok(SubqueryPattern::Pattern { pattern, where_ });
                }
            }
        }
        Ok(SubqueryPattern::Query(q))
    }
}

/// Folds operands of one associative operator into a tree of logarithmic
/// depth.
fn balanced(op: BinaryOp, mut operands: Vec<Expr>) -> Expr {
    if operands.len() <= 1 {
        return operands.pop().unwrap_or(Expr::Literal(Literal::Null));
    }
    let right = operands.split_off(operands.len() / 2);
    Expr::Binary(
        op,
        Box::new(balanced(op, operands)),
        Box::new(balanced(op, right)),
    )
}
