//! The Cypher front end: the AST, the parser with positioned errors, and
//! semantic checks.
//!
//! `lexer` turns text into spanned tokens, `parser` (clauses, patterns,
//! schema and SHOW commands) and `expr` (precedence climbing) build the AST,
//! and `check` performs scoping, aggregation and clause-composition analysis
//! with the built-in function table in `functions`.
//!
//! Some newer syntax is lowered onto the existing AST rather than given
//! nodes of its own, so the executor sees only familiar shapes:
//! - label expressions (`n:A|B`, `(n:!A)`) become `HasLabels` combined with
//!   NOT / AND / OR; in a MATCH pattern they move into the clause's WHERE;
//! - inline pattern predicates (`(n WHERE n.x > 1)`, `-[r WHERE ...]->`) are
//!   ANDed into the WHERE of their MATCH, comprehension or EXISTS/COUNT;
//! - `CALL (a, b) { ... }` becomes `CALL { WITH a, b ... }`;
//! - `SHOW RANGE INDEXES`, `SHOW NODE KEY CONSTRAINTS`, `SHOW BUILT IN
//!   FUNCTIONS` and transaction ids become a WHERE on `type`, `isBuiltIn` or
//!   `transactionId`; YIELD ... ORDER BY/SKIP/LIMIT becomes a leading `WITH *`;
//! - `EXISTS { MATCH p WHERE w }` becomes the pattern form;
//! - chains of AND / OR / XOR are balanced trees; `-<integer>` is a literal;
//! - `shortestPath(...)` used as an expression is `COLLECT { MATCH p =
//!   shortestPath(...) RETURN p }[0]` (the list itself for
//!   `allShortestPaths`), null when either end is null;
//! - planner hints (`USING ...`) and `CYPHER` options are accepted and
//!   dropped.
//!
//! ORDER BY and WITH ... WHERE may repeat a projected expression verbatim
//! even when its variables are no longer in scope (`WITH DISTINCT a.x AS y
//! WHERE a.x > 1`): such a sub-expression denotes the projected column.
//!
//! Nesting is bounded twice: by [`MAX_NESTING`] levels and by a stack budget
//! of 1 MiB measured from the entry of `parse` and of `check`, so callers'
//! threads need a little over that much free stack. Trees handed to the
//! executor are therefore at most about `MAX_NESTING` levels deep.

mod admin;
pub mod ast;
mod check;
mod expr;
mod functions;
mod lexer;
mod parser;

pub use parser::MAX_NESTING;

use causeway_value::Result;

/// Parse one statement. Syntax errors carry `Code::SyntaxError`, the
/// position (line, column, offset) in the message as Neo4j formats it, and
/// `Phase::Compile`. Semantic errors (undefined variables, ...) are reported
/// by `check`.
pub fn parse(query: &str) -> Result<ast::Statement> {
    parser::parse_statement(query)
}

/// Semantic checks over a parsed statement: variable scoping, aggregation
/// placement, type errors visible at compile time, ... Errors carry an
/// openCypher `detail` name and `Phase::Compile`.
pub fn check(statement: &ast::Statement) -> Result<()> {
    check::check_statement(statement)
}

/// `(min args, max args, aggregating)` of a function the checker knows
/// (the built-in functions without a namespace, and temporal and spatial
/// ones with theirs); case-insensitive.
pub fn function_arity(name: &str) -> Option<(usize, usize, bool)> {
    functions::lookup(name).map(|f| (f.min_args, f.max_args, f.aggregate))
}

/// Every function name the checker knows, in lower case.
pub fn function_names() -> impl Iterator<Item = &'static str> {
    functions::names()
}

#[cfg(test)]
mod tests;
