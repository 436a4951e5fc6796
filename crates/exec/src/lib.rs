//! Query planning and execution over a `TxGraph`.
//!
//! CONTRACT (the server and the TCK runner code against exactly this API):
//! * `execute` parses, checks, plans and runs one statement inside a
//!   transaction. Updating statements run eagerly into the `TxGraph`; read-only
//!   ones return a lazy row stream over an O(1) snapshot, so nothing borrows
//!   the transaction and huge results stream in bounded memory.
//! * `classify` tells, from the text alone and without a graph, whether a
//!   statement writes, so that the caller can take the write lock first.

use causeway_graph::TxGraph;
use causeway_value::{Counters, Map, QueryType, Result, Value};

pub type RowStream = Box<dyn Iterator<Item = Result<Vec<Value>>> + Send>;

pub struct QueryResult {
    pub fields: Vec<String>,
    pub rows: RowStream,
    pub query_type: QueryType,
    /// Final once `execute` returns (updates are eager).
    pub counters: Counters,
    /// For EXPLAIN/PROFILE: the plan as Bolt's `plan`/`profile` map
    /// (`operatorType`, `identifiers`, `args`, `children`, ...).
    pub plan: Option<Map>,
}

/// What the server supplies for procedures and commands the graph alone can't
/// answer (`dbms.components()`, `SHOW DATABASES`, routing procedures...).
pub trait SystemCatalog: Send + Sync {
    /// The signature of a procedure this catalog provides, for compile-time
    /// checks (unknown procedure, argument count and types, YIELD names).
    fn procedure_signature(&self, name: &str) -> Option<ProcedureSignature>;
    /// `Some((columns, rows))` if this catalog knows the procedure.
    fn call_procedure(
        &self,
        name: &str,
        args: &[Value],
    ) -> Option<Result<(Vec<String>, Vec<Vec<Value>>)>>;
    /// `Some((columns, rows))` for SHOW commands other than INDEXES and
    /// CONSTRAINTS, which come from the graph.
    fn show(
        &self,
        kind: &causeway_cypher::ast::ShowKind,
    ) -> Option<Result<(Vec<String>, Vec<Vec<Value>>)>>;
}

/// Types are written as Cypher type names: `INTEGER?`, `STRING?`, `ANY?`,
/// `LIST? OF INTEGER?`, `NODE?`, ... (the `?` meaning nullable).
#[derive(Clone, Debug, PartialEq)]
pub struct ProcedureSignature {
    pub name: String,
    pub inputs: Vec<(String, String)>,
    pub outputs: Vec<(String, String)>,
}

pub struct ExecContext<'a> {
    pub database: &'a str,
    pub catalog: Option<&'a dyn SystemCatalog>,
    /// Named limits: a statement exceeding them fails with
    /// `MemoryPoolOutOfMemory` instead of exhausting memory.
    pub limits: Limits,
}

#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Rows a single operator may hold in memory (sort, aggregation,
    /// DISTINCT, eager write buffers).
    pub max_materialized_rows: usize,
    /// Elements in one list value (`range()`, `collect()`, ...).
    pub max_list_len: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_materialized_rows: 10_000_000,
            max_list_len: 10_000_000,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StatementClass {
    Read,
    Write,
    Schema,
}

pub fn classify(_query: &str) -> Result<StatementClass> {
    todo!()
}

pub fn execute(
    _tx: &mut TxGraph,
    _query: &str,
    _params: &Map,
    _ctx: &ExecContext<'_>,
) -> Result<QueryResult> {
    todo!()
}
