//! The Cypher front end: the AST, the parser with positioned errors, and
//! semantic checks.
//!
//! `lexer` turns text into spanned tokens, `parser` (clauses, patterns,
//! schema and SHOW commands) and `expr` (precedence climbing) build the AST,
//! and `check` performs scoping, aggregation and clause-composition analysis
//! with the built-in function table in `functions`.
//!
//! Nesting is bounded twice: by [`MAX_NESTING`] levels and by a stack budget
//! of 1 MiB measured from the entry of `parse` and of `check`, so callers'
//! threads need a little over that much free stack. Trees handed to the
//! executor are therefore at most about `MAX_NESTING` levels deep.

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

#[cfg(test)]
mod tests;
