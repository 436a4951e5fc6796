//! The Cypher abstract syntax tree: the contract between the parser and the
//! planner/executor. It mirrors the surface language closely; desugaring (for
//! example of chained comparisons) is done by the parser and noted below.

/// A whole request: one statement, optionally prefixed by EXPLAIN or PROFILE.
#[derive(Clone, Debug, PartialEq)]
pub struct Statement {
    pub explain: Option<ExplainMode>,
    pub kind: StatementKind,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExplainMode {
    Explain,
    Profile,
}

#[derive(Clone, Debug, PartialEq)]
pub enum StatementKind {
    Query(Query),
    Schema(SchemaCommand),
    /// `SHOW INDEXES`, `SHOW DATABASES`, ... with optional YIELD/WHERE/RETURN.
    Show(ShowCommand),
    /// User, role and privilege management, run against `system`.
    Admin(AdminCommand),
}

/// A user, role or privilege command. Names may be parameters; passwords
/// are string literals or parameters.
#[derive(Clone, Debug, PartialEq)]
pub enum AdminCommand {
    CreateUser(UserSpec),
    AlterUser(UserSpec),
    AlterCurrentUser {
        old: Expr,
        new: Expr,
    },
    RenameUser {
        from: SchemaName,
        to: SchemaName,
        if_exists: bool,
    },
    DropUser {
        name: SchemaName,
        if_exists: bool,
    },
    CreateRole {
        name: SchemaName,
        replace: bool,
        if_not_exists: bool,
        copy_of: Option<SchemaName>,
    },
    RenameRole {
        from: SchemaName,
        to: SchemaName,
        if_exists: bool,
    },
    DropRole {
        name: SchemaName,
        if_exists: bool,
    },
    GrantRoles {
        roles: Vec<SchemaName>,
        users: Vec<SchemaName>,
    },
    RevokeRoles {
        roles: Vec<SchemaName>,
        users: Vec<SchemaName>,
    },
    Privilege {
        op: PrivilegeOp,
        privilege: PrivilegeKind,
        scope: PrivilegeScope,
        /// For graph privileges, the segments named (`NODE(*)`,
        /// `RELATIONSHIP(*)`); empty for database and DBMS privileges.
        segments: Vec<&'static str>,
        roles: Vec<SchemaName>,
    },
}

impl AdminCommand {
    /// Neo4j's name for the command, as errors quote it.
    pub fn name(&self) -> &'static str {
        match self {
            AdminCommand::CreateUser(u) if u.replace => "CREATE OR REPLACE USER",
            AdminCommand::CreateUser(_) => "CREATE USER",
            AdminCommand::AlterUser(_) => "ALTER USER",
            AdminCommand::AlterCurrentUser { .. } => "ALTER CURRENT USER SET PASSWORD",
            AdminCommand::RenameUser { .. } => "RENAME USER",
            AdminCommand::DropUser { .. } => "DROP USER",
            AdminCommand::CreateRole { replace: true, .. } => "CREATE OR REPLACE ROLE",
            AdminCommand::CreateRole { .. } => "CREATE ROLE",
            AdminCommand::RenameRole { .. } => "RENAME ROLE",
            AdminCommand::DropRole { .. } => "DROP ROLE",
            AdminCommand::GrantRoles { .. } => "GRANT ROLE",
            AdminCommand::RevokeRoles { .. } => "REVOKE ROLE",
            AdminCommand::Privilege { op, .. } => match op {
                PrivilegeOp::Grant => "GRANT PRIVILEGE",
                PrivilegeOp::Deny => "DENY PRIVILEGE",
                PrivilegeOp::Revoke(_) => "REVOKE PRIVILEGE",
            },
        }
    }
}

/// `CREATE USER` / `ALTER USER` settings; `None` leaves a setting as it is
/// (or at its default, for a new user).
#[derive(Clone, Debug, PartialEq)]
pub struct UserSpec {
    pub name: SchemaName,
    pub replace: bool,
    pub if_not_exists: bool,
    pub if_exists: bool,
    /// The password expression and whether it is `ENCRYPTED`.
    pub password: Option<(Expr, bool)>,
    pub change_required: Option<bool>,
    pub suspended: Option<bool>,
    /// `Some(None)`: `REMOVE HOME DATABASE`.
    pub home: Option<Option<SchemaName>>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PrivilegeOp {
    Grant,
    Deny,
    /// `REVOKE [GRANT | DENY]`: `Some(true)` revokes denials only,
    /// `Some(false)` grants only, `None` both.
    Revoke(Option<bool>),
}

/// The privileges Causeway parses. Graph privileges (`MATCH`, `TRAVERSE`,
/// `READ`, `WRITE`) take a graph scope and segments; the rest a database
/// or the DBMS.
#[derive(Clone, Debug, PartialEq)]
pub enum PrivilegeKind {
    Access,
    Start,
    Stop,
    Traverse,
    /// `READ {*}` (only every property can be named).
    Read,
    /// `MATCH {*}`.
    Match,
    Write,
    NameManagement,
    IndexManagement,
    ConstraintManagement,
    ShowIndex,
    ShowConstraint,
    TransactionManagement,
    /// `ALL [DATABASE] PRIVILEGES`.
    AllDatabase,
    /// `ALL [DBMS] PRIVILEGES ON DBMS`.
    AllDbms,
    /// `LOAD ON ALL DATA` (its scope is read as `Dbms`).
    Load,
    /// `EXECUTE PROCEDURE[S] * ON DBMS`.
    ExecuteProcedures,
    /// `EXECUTE [USER [DEFINED]] FUNCTION[S] * ON DBMS`.
    ExecuteFunctions,
    /// Anything else Neo4j has (fine-grained and DBMS privileges), by its
    /// words, refused when run.
    Other(String),
}

#[derive(Clone, Debug, PartialEq)]
pub enum PrivilegeScope {
    /// `ON HOME DATABASE` / `ON HOME GRAPH`.
    Home,
    /// `ON DATABASE[S] *` (`None`) or named ones; likewise `GRAPH[S]`.
    Named(Option<Vec<SchemaName>>),
    /// `ON DBMS`.
    Dbms,
}

/// Whose privileges `SHOW ... PRIVILEGES` lists.
#[derive(Clone, Debug, PartialEq)]
pub enum PrivilegesOf {
    All,
    Roles(Vec<SchemaName>),
    /// `SHOW USER PRIVILEGES` (`None`: the current user).
    Users(Option<Vec<SchemaName>>),
}

/// A query is one or more single queries joined by UNION / UNION ALL.
/// `unions[i]` joins `parts[i]` and `parts[i + 1]`; `true` means UNION ALL.
#[derive(Clone, Debug, PartialEq)]
pub struct Query {
    pub parts: Vec<SingleQuery>,
    pub union_all: Vec<bool>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct SingleQuery {
    pub clauses: Vec<Clause>,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Clause {
    Match {
        optional: bool,
        pattern: Pattern,
        where_: Option<Expr>,
    },
    Unwind {
        expr: Expr,
        var: String,
    },
    With(Projection),
    Return(Projection),
    Create(Pattern),
    Merge {
        part: PatternPart,
        on_create: Vec<SetItem>,
        on_match: Vec<SetItem>,
    },
    Set(Vec<SetItem>),
    Remove(Vec<RemoveItem>),
    Delete {
        detach: bool,
        exprs: Vec<Expr>,
    },
    Foreach {
        var: String,
        list: Expr,
        clauses: Vec<Clause>,
    },
    /// `CALL proc.name(args) YIELD ... WHERE ...`. `args: None` is the
    /// standalone form without parentheses, whose arguments come from
    /// parameters of the same names.
    Call {
        procedure: String,
        args: Option<Vec<Expr>>,
        yield_items: Option<YieldSpec>,
        where_: Option<Expr>,
    },
    /// `CALL { subquery }`, or with a scope clause `CALL (a, b) { }`,
    /// `CALL (*) { }`, `CALL () { }`. Without a scope clause the body sees
    /// only what a leading importing WITH of each union part names
    /// (`SingleQuery::importing_with`).
    CallSubquery {
        query: Query,
        scope: Option<CallScope>,
        /// `IN [n CONCURRENT] TRANSACTIONS ...`: the body runs in batches
        /// of input rows, each its own inner transaction.
        in_transactions: Option<Box<InTransactions>>,
    },
}

/// The batching clause of `CALL { } IN TRANSACTIONS`.
#[derive(Clone, Debug, PartialEq)]
pub struct InTransactions {
    /// `IN n CONCURRENT TRANSACTIONS`: `Some(None)` when `n` is left out.
    pub concurrency: Option<Option<Expr>>,
    /// `OF n ROWS`; 1000 rows when absent.
    pub batch_size: Option<Expr>,
    pub on_error: OnError,
    /// `ON ERROR RETRY [FOR n SECONDS]`: `Some(None)` when RETRY has no
    /// duration; `on_error` is then what follows THEN (FAIL by default).
    pub retry: Option<Option<Expr>>,
    /// `REPORT STATUS AS var`
    pub report_status: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OnError {
    Fail,
    Continue,
    Break,
}

/// The scope clause of `CALL (...) { }`: what the subquery imports.
#[derive(Clone, Debug, PartialEq)]
pub enum CallScope {
    /// `CALL (*)`
    All,
    /// `CALL (a, b)`; empty for `CALL ()`.
    Vars(Vec<String>),
}

impl SingleQuery {
    /// The WITH that starts this part of a `CALL { }` body when it has the
    /// importing form: `WITH *` or plain variables, without DISTINCT,
    /// WHERE, ORDER BY, SKIP or LIMIT. Other leading WITHs import nothing.
    pub fn importing_with(&self) -> Option<&Projection> {
        match self.clauses.first() {
            Some(Clause::With(p)) if p.is_import() => Some(p),
            _ => None,
        }
    }
}

impl Projection {
    fn is_import(&self) -> bool {
        !self.distinct
            && self.order_by.is_empty()
            && self.skip.is_none()
            && self.limit.is_none()
            && self.where_.is_none()
            && (self.star || !self.items.is_empty())
            && self.items.iter().all(|i| match &i.expr {
                Expr::Variable(v) => i.alias.as_deref().is_none_or(|a| a == v),
                _ => false,
            })
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum YieldSpec {
    /// `YIELD *`
    All,
    /// `YIELD a, b AS c`: (procedure output name, variable name).
    Items(Vec<(String, String)>),
}

/// The body of WITH and RETURN. `where_` is only ever set for WITH.
#[derive(Clone, Debug, PartialEq)]
pub struct Projection {
    pub distinct: bool,
    /// `*`: project every variable in scope, before `items`.
    pub star: bool,
    pub items: Vec<ProjectionItem>,
    pub order_by: Vec<SortItem>,
    pub skip: Option<Expr>,
    pub limit: Option<Expr>,
    pub where_: Option<Expr>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct ProjectionItem {
    pub expr: Expr,
    pub alias: Option<String>,
    /// The item's source text, which names the column when there is no
    /// alias (`RETURN n.name` yields a column called `n.name`).
    pub text: String,
}

impl ProjectionItem {
    pub fn name(&self) -> &str {
        self.alias.as_deref().unwrap_or(&self.text)
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct SortItem {
    pub expr: Expr,
    pub descending: bool,
}

#[derive(Clone, Debug, PartialEq)]
pub enum SetItem {
    /// `SET n.p = expr` (the target may be any expression yielding an entity).
    Property {
        target: Expr,
        key: String,
        value: Expr,
    },
    /// `SET n = {map}`: replaces all properties.
    Replace { var: String, value: Expr },
    /// `SET n += {map}`: merges properties.
    Merge { var: String, value: Expr },
    /// `SET n:A:B`, and Cypher 5's dynamic labels `SET n:$(expr)`, each
    /// expression a string or a list of strings.
    Labels {
        var: String,
        labels: Vec<String>,
        dynamic: Vec<Expr>,
    },
}

#[derive(Clone, Debug, PartialEq)]
pub enum RemoveItem {
    Property {
        target: Expr,
        key: String,
    },
    Labels {
        var: String,
        labels: Vec<String>,
        dynamic: Vec<Expr>,
    },
}

/// A comma-separated list of pattern parts.
#[derive(Clone, Debug, PartialEq)]
pub struct Pattern {
    pub parts: Vec<PatternPart>,
}

/// One path pattern, optionally named (`p = (a)-->(b)`) and optionally wrapped
/// in `shortestPath(...)` / `allShortestPaths(...)`, or led by a path
/// selector (`SHORTEST 2`, `ANY`, ...) and a path mode (`ACYCLIC`).
#[derive(Clone, Debug, PartialEq)]
pub struct PatternPart {
    pub var: Option<String>,
    pub shortest: Option<Shortest>,
    pub selector: Option<PathSelector>,
    pub mode: PathMode,
    /// Under a selector only: the pattern's own predicates (inline `WHERE`s
    /// and that of a parenthesized path), applied before paths are selected.
    /// Elsewhere they are merged into the clause's WHERE.
    pub where_: Option<Expr>,
    pub element: PatternElement,
}

impl PatternPart {
    pub fn new(var: Option<String>, element: PatternElement) -> Self {
        PatternPart {
            var,
            shortest: None,
            selector: None,
            mode: PathMode::Trail,
            where_: None,
            element,
        }
    }
}

impl PathSelector {
    pub fn count(&self) -> &Expr {
        match self {
            PathSelector::Any(k) | PathSelector::Shortest(k) | PathSelector::ShortestGroups(k) => k,
        }
    }
}

impl PatternPart {
    /// The element's expressions, then the part's own predicate and the
    /// selector's count.
    pub fn expressions(&self) -> Vec<&Expr> {
        let mut out = self.element.expressions();
        out.extend(self.where_.iter());
        out.extend(self.selector.as_ref().map(PathSelector::count));
        out
    }
}

/// Which of the paths matched between one start node and one end node are
/// kept. `count` is an integer literal or a parameter.
#[derive(Clone, Debug, PartialEq)]
pub enum PathSelector {
    /// `ANY k`: any k paths.
    Any(Expr),
    /// `SHORTEST k` (`ANY SHORTEST` is k = 1): k paths, shortest first.
    Shortest(Expr),
    /// `SHORTEST k GROUPS` (`ALL SHORTEST` is k = 1): every path whose
    /// length is one of the k smallest.
    ShortestGroups(Expr),
}

/// GQL path modes. TRAIL (no relationship twice) is what Cypher matches
/// anyway, and WALK cannot loosen that within a MATCH, so only ACYCLIC
/// changes a result.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PathMode {
    Walk,
    Trail,
    Acyclic,
}

/// The path variable of the COLLECT subquery that `shortestPath(...)` and
/// `allShortestPaths(...)` become in an expression. A NUL cannot be written
/// in a query, so it shadows nothing.
pub const SHORTEST_EXPR_PATH: &str = "\u{0}shortest";

impl SubqueryPattern {
    /// The pattern of a `shortestPath(...)` expression, if this is one.
    pub fn shortest_expr(&self) -> Option<&PatternElement> {
        let SubqueryPattern::Query(q) = self else {
            return None;
        };
        let [single] = q.parts.as_slice() else {
            return None;
        };
        match single.clauses.as_slice() {
            [Clause::Match { pattern, .. }, Clause::Return(_)] => match pattern.parts.as_slice() {
                [part] if part.var.as_deref() == Some(SHORTEST_EXPR_PATH) => Some(&part.element),
                _ => None,
            },
            _ => None,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shortest {
    One,
    All,
}

#[derive(Clone, Debug, PartialEq)]
pub struct PatternElement {
    pub start: NodePattern,
    pub chain: Vec<(RelPattern, NodePattern)>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct NodePattern {
    pub var: Option<String>,
    /// All of these labels are required (`(n:A:B)`).
    pub labels: Vec<String>,
    /// In CREATE and MERGE only: `$(expr)` terms, each a label or a list of
    /// labels, evaluated per row and added to `labels`. (Where a pattern is
    /// matched they become a `HasDynamicLabels` predicate instead.)
    pub dynamic_labels: Vec<Expr>,
    /// A map literal or a parameter.
    pub props: Option<Expr>,
}

impl NodePattern {
    /// `()`.
    pub fn anonymous() -> Self {
        NodePattern {
            var: None,
            labels: Vec::new(),
            dynamic_labels: Vec::new(),
            props: None,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// `-[]->`
    Outgoing,
    /// `<-[]-`
    Incoming,
    /// `-[]-` (and `<-[]->`)
    Both,
}

#[derive(Clone, Debug, PartialEq)]
pub struct RelPattern {
    pub var: Option<String>,
    /// Any one of these types matches (`[:A|B]`); empty means any type.
    pub types: Vec<String>,
    /// In CREATE and MERGE only: `[:$(expr)]`, the one type, per row.
    pub dynamic_type: Option<Expr>,
    pub direction: Direction,
    /// `Some((min, max))` for variable length: `*` is `(None, None)`,
    /// `*2` is `(Some(2), Some(2))`, `*1..3`, `*..3`, `*2..`.
    pub length: Option<(Option<u64>, Option<u64>)>,
    pub props: Option<Expr>,
    /// A quantified path pattern (`((x)-[r]->(y) WHERE ...){1,3}`, or a
    /// quantified relationship `-[r]->+`) standing where this relationship
    /// would: it joins the node before it to the node after it, and every
    /// other field is empty.
    pub quantified: Option<Box<QuantifiedPath>>,
    /// A type expression beyond a list of alternatives (`[:!A]`, `[:%]`,
    /// `[:(A|B)&!C]`); `types` is empty then.
    pub type_expr: Option<TypeExpr>,
}

/// A relationship type expression, tested against the one type a
/// relationship has.
#[derive(Clone, Debug, PartialEq)]
pub enum TypeExpr {
    Name(String),
    /// `%`: any type.
    Any,
    Not(Box<TypeExpr>),
    And(Vec<TypeExpr>),
    Or(Vec<TypeExpr>),
}

impl TypeExpr {
    pub fn matches(&self, t: &str) -> bool {
        match self {
            TypeExpr::Name(n) => n == t,
            TypeExpr::Any => true,
            TypeExpr::Not(x) => !x.matches(t),
            TypeExpr::And(xs) => xs.iter().all(|x| x.matches(t)),
            TypeExpr::Or(xs) => xs.iter().any(|x| x.matches(t)),
        }
    }
}

impl RelPattern {
    /// An anonymous relationship of any type, in either direction.
    pub fn any() -> Self {
        RelPattern {
            var: None,
            types: Vec::new(),
            dynamic_type: None,
            direction: Direction::Both,
            length: None,
            props: None,
            quantified: None,
            type_expr: None,
        }
    }
}

/// The repeated part of a quantified path pattern. Its first node is the
/// node before it in the enclosing pattern (or the last node of the previous
/// iteration), its last node the node after it. Inside `element` and
/// `where_` a variable is one element of one iteration; after the pattern it
/// is the list of them, one per iteration (a group variable).
#[derive(Clone, Debug, PartialEq)]
pub struct QuantifiedPath {
    /// Fixed length, at least one relationship, no nested quantifiers.
    pub element: PatternElement,
    /// The iteration's own predicates: its `WHERE` and inline `WHERE`s.
    pub where_: Option<Expr>,
    pub min: u64,
    pub max: Option<u64>,
}

impl PatternElement {
    /// Every variable the element binds, group variables included.
    pub fn variables(&self) -> Vec<&str> {
        let mut out = Vec::new();
        self.collect_variables(&mut out);
        out
    }

    fn collect_variables<'a>(&'a self, out: &mut Vec<&'a str>) {
        out.extend(self.start.var.as_deref());
        for (r, n) in &self.chain {
            out.extend(r.var.as_deref());
            if let Some(q) = &r.quantified {
                q.element.collect_variables(out);
            }
            out.extend(n.var.as_deref());
        }
    }

    /// Every expression held in the pattern (property maps, dynamic labels
    /// and types, the predicates of quantified parts), outermost first.
    pub fn expressions(&self) -> Vec<&Expr> {
        let mut out = Vec::new();
        self.collect_expressions(&mut out);
        out
    }

    fn collect_expressions<'a>(&'a self, out: &mut Vec<&'a Expr>) {
        let node = |n: &'a NodePattern, out: &mut Vec<&'a Expr>| {
            out.extend(n.props.iter().chain(&n.dynamic_labels));
        };
        node(&self.start, out);
        for (r, n) in &self.chain {
            out.extend(r.props.iter().chain(&r.dynamic_type));
            if let Some(q) = &r.quantified {
                q.element.collect_expressions(out);
                out.extend(q.where_.iter());
            }
            node(n, out);
        }
    }

    /// Whether any step is a quantified path pattern.
    pub fn has_quantified(&self) -> bool {
        self.chain.iter().any(|(r, _)| r.quantified.is_some())
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum Literal {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    String(String),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UnaryOp {
    Not,
    Neg,
    Pos,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BinaryOp {
    Or,
    Xor,
    And,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    Pow,
    In,
    StartsWith,
    EndsWith,
    Contains,
    RegexMatch,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Quantifier {
    All,
    Any,
    None,
    Single,
}

#[derive(Clone, Debug, PartialEq)]
pub enum MapProjectionItem {
    /// `.name`
    Property(String),
    /// `.*`
    AllProperties,
    /// `key: expr`
    Literal(String, Expr),
    /// a bare variable `v`, which becomes `v: v`
    Variable(String),
}

#[derive(Clone, Debug, PartialEq)]
pub enum Expr {
    Literal(Literal),
    Parameter(String),
    Variable(String),
    Property(Box<Expr>, String),
    List(Vec<Expr>),
    Map(Vec<(String, Expr)>),
    /// `list[i]` or `map[key]`
    Index(Box<Expr>, Box<Expr>),
    /// `list[from..to]`
    Slice(Box<Expr>, Option<Box<Expr>>, Option<Box<Expr>>),
    Unary(UnaryOp, Box<Expr>),
    /// Chained comparisons (`a < b < c`) arrive desugared as
    /// `a < b AND b < c`.
    Binary(BinaryOp, Box<Expr>, Box<Expr>),
    /// `expr IS NULL` (`negated: false`) or `expr IS NOT NULL`.
    IsNull {
        expr: Box<Expr>,
        negated: bool,
    },
    /// `n:A:B` used as a predicate.
    HasLabels(Box<Expr>, Vec<String>),
    /// `n:$(expr)`, `n:$all(expr)` or `n:$any(expr)` in a pattern: the
    /// labels (or relationship types) `labels` evaluates to, a string or a
    /// list of strings; all of them must be present, or with `any` one.
    HasDynamicLabels {
        target: Box<Expr>,
        labels: Box<Expr>,
        any: bool,
    },
    Case {
        subject: Option<Box<Expr>>,
        whens: Vec<(Expr, Expr)>,
        else_: Option<Box<Expr>>,
    },
    /// Function names keep their written case and namespace (`toUpper`,
    /// `db.labels`); lookups are case-insensitive.
    Function {
        name: String,
        distinct: bool,
        args: Vec<Expr>,
    },
    /// `count(*)`
    CountStar,
    ListComprehension {
        var: String,
        list: Box<Expr>,
        filter: Option<Box<Expr>>,
        map: Option<Box<Expr>>,
    },
    PatternComprehension {
        path_var: Option<String>,
        pattern: Box<PatternElement>,
        filter: Option<Box<Expr>>,
        map: Box<Expr>,
    },
    /// `all(x IN list WHERE pred)` and friends.
    Quantified {
        kind: Quantifier,
        var: String,
        list: Box<Expr>,
        filter: Option<Box<Expr>>,
    },
    /// `reduce(acc = init, x IN list | expr)`
    Reduce {
        acc: String,
        init: Box<Expr>,
        var: String,
        list: Box<Expr>,
        expr: Box<Expr>,
    },
    MapProjection {
        var: String,
        items: Vec<MapProjectionItem>,
    },
    /// A relationship pattern used as a predicate (`WHERE (a)-->(b)`).
    PatternPredicate(Box<PatternElement>),
    /// `EXISTS { MATCH ... WHERE ... }` or `EXISTS { (a)-->(b) }`.
    Exists(Box<SubqueryPattern>),
    /// `COUNT { ... }`
    CountSubquery(Box<SubqueryPattern>),
    /// `COLLECT { ... RETURN x }`: always the query form, returning one
    /// column; evaluates to the list of its values.
    CollectSubquery(Box<SubqueryPattern>),
}

/// The body of EXISTS { }, COUNT { } and COLLECT { }: either a pattern with
/// an optional WHERE, or a full query (always the query for COLLECT).
#[derive(Clone, Debug, PartialEq)]
pub enum SubqueryPattern {
    Pattern {
        pattern: Pattern,
        where_: Option<Expr>,
    },
    Query(Query),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EntityKind {
    Node,
    Relationship,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConstraintKind {
    Unique,
    NotNull,
    NodeKey,
}

/// A schema rule's name as written, or a parameter (`CREATE INDEX $name`)
/// that must hold a string when the command runs.
#[derive(Clone, Debug, PartialEq)]
pub enum SchemaName {
    Given(String),
    Param(String),
}

impl From<&str> for SchemaName {
    fn from(name: &str) -> Self {
        SchemaName::Given(name.to_string())
    }
}

/// The index types of `CREATE [kind] INDEX ... FOR ... ON ...`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IndexKind {
    Range,
    Text,
    Point,
    Vector,
}

#[derive(Clone, Debug, PartialEq)]
pub enum SchemaCommand {
    /// `CREATE [RANGE|TEXT|POINT|VECTOR] INDEX [name] [IF NOT EXISTS]
    /// FOR (n:Label) ON (n.a, n.b) [OPTIONS {...}]`; also the old
    /// `CREATE INDEX ON :Label(a)`.
    CreateIndex {
        name: Option<SchemaName>,
        if_not_exists: bool,
        entity: EntityKind,
        label: String,
        properties: Vec<String>,
        kind: IndexKind,
        options: Option<Expr>,
    },
    /// `CREATE FULLTEXT INDEX [name] [IF NOT EXISTS] FOR (n:A|B)
    /// ON EACH [n.p, n.q] [OPTIONS {...}]`, or over relationship types.
    CreateFulltextIndex {
        name: Option<SchemaName>,
        if_not_exists: bool,
        entity: EntityKind,
        labels: Vec<String>,
        properties: Vec<String>,
        options: Option<Expr>,
    },
    /// `CREATE LOOKUP INDEX [name] [IF NOT EXISTS] FOR (n) ON EACH labels(n)`
    /// or `FOR ()-[r]-() ON EACH type(r)`.
    CreateLookupIndex {
        name: Option<SchemaName>,
        if_not_exists: bool,
        entity: EntityKind,
        options: Option<Expr>,
    },
    DropIndex {
        name: SchemaName,
        if_exists: bool,
    },
    /// Neo4j 4's `DROP INDEX ON :Label(p, ...)`, as py2neo sends it.
    DropIndexOn {
        label: String,
        properties: Vec<String>,
    },
    /// Neo4j 4's `DROP CONSTRAINT ON (n:L) ASSERT ...`, by its rule.
    DropConstraintOn {
        entity: EntityKind,
        label: String,
        properties: Vec<String>,
        kind: ConstraintKind,
    },
    /// `CREATE CONSTRAINT [name] [IF NOT EXISTS] FOR (n:L) REQUIRE n.p IS UNIQUE`;
    /// also the old `ON (n:L) ASSERT n.p IS UNIQUE`.
    CreateConstraint {
        name: Option<SchemaName>,
        if_not_exists: bool,
        entity: EntityKind,
        label: String,
        properties: Vec<String>,
        kind: ConstraintKind,
        options: Option<Expr>,
    },
    DropConstraint {
        name: SchemaName,
        if_exists: bool,
    },
}

#[derive(Clone, Debug, PartialEq)]
pub enum ShowKind {
    Indexes,
    Constraints,
    /// `SHOW DATABASES`, or `SHOW DATABASE name`, `SHOW DEFAULT DATABASE`,
    /// `SHOW HOME DATABASE`.
    Databases(Option<String>),
    DefaultDatabase,
    HomeDatabase,
    Procedures,
    Functions,
    Servers,
    Transactions,
    Users,
    CurrentUser,
    /// `SHOW [ALL | POPULATED] ROLES [WITH USERS]`.
    Roles {
        populated: bool,
        with_users: bool,
    },
    /// `SHOW ... PRIVILEGES [AS [REVOKE] COMMANDS]`.
    Privileges {
        of: PrivilegesOf,
        /// `Some(revoke)` for `AS [REVOKE] COMMANDS`.
        as_commands: Option<bool>,
    },
}

#[derive(Clone, Debug, PartialEq)]
pub struct ShowCommand {
    pub kind: ShowKind,
    /// What a qualifier such as `RANGE` or `RELATIONSHIP KEY`, or a list of
    /// transaction ids, keeps: a predicate over the listing's own column
    /// names, applied before YIELD, so that it holds whatever YIELD keeps.
    pub filter: Option<Expr>,
    pub yield_items: Option<YieldSpec>,
    pub where_: Option<Expr>,
    /// Clauses after YIELD (typically a RETURN).
    pub then: Vec<Clause>,
}
