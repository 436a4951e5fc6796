//! Runs user, role and privilege commands and answers the SHOW commands
//! that list them (docs/decisions/0021-users-and-roles.md).
//!
//! A command is turned into [`Command`]s against the transaction's view of
//! the security state (the applied state plus what the transaction already
//! did), with the caller's privileges checked first; the transaction
//! commits them as one log entry, which every member applies.

use std::collections::BTreeSet;
use std::sync::Arc;

use causeway_cypher::ast::{
    AdminCommand, Expr, Literal, PrivilegeKind, PrivilegeOp as AstOp, PrivilegeScope, PrivilegesOf,
    SchemaName, ShowKind, UserSpec,
};
use causeway_exec::{ProcedureSignature, SystemCatalog};
use causeway_value::{Code, Error, Map, Result, Value};

use crate::auth;
use crate::security::{
    check_password, check_user_name, Allowed, Command, Privilege, PrivilegeOp, Rights, Security,
    PUBLIC,
};

/// Who runs a statement: `None` when authentication is off, when anyone
/// may do anything.
#[derive(Clone, Debug, Default)]
pub struct Caller {
    pub user: Option<String>,
    /// The user's privileges when the transaction began; `None` with
    /// authentication off, or before the first user exists in the
    /// replicated state (then the only one who can log in is the
    /// configured first user).
    pub rights: Option<Arc<Rights>>,
    /// The user's password must change before anything else runs.
    pub expired: bool,
    /// Where a wrong password given in ALTER CURRENT USER counts towards
    /// the user's lock-out, as a failed login does.
    pub attempts: Option<Arc<auth::Attempts>>,
}

impl Caller {
    /// The caller as the replicated state knows them now.
    pub fn resolve(auth: &auth::Auth, user: Option<&str>, id: Option<u64>) -> Caller {
        let (true, Some(user)) = (auth.enabled(), user) else {
            return Caller::default();
        };
        let Some(security) = auth.security() else {
            return Caller {
                user: Some(user.to_owned()),
                attempts: Some(auth.attempts().clone()),
                ..Caller::default()
            };
        };
        // Logged in as another user of that name (dropped and made again
        // since): no rights.
        let same = security
            .users
            .get(user)
            .is_some_and(|u| id.is_none_or(|id| id == u.id));
        Caller {
            user: Some(user.to_owned()),
            rights: Some(if same {
                auth.rights(&security, user)
            } else {
                Arc::new(Rights::none(user))
            }),
            expired: security.users.get(user).is_some_and(|u| u.change_required),
            attempts: Some(auth.attempts().clone()),
        }
    }

    /// Checks a DBMS privilege (user, role and privilege management).
    pub fn require_dbms(&self, actions: &str) -> Result<()> {
        let Some(rights) = &self.rights else {
            return Ok(());
        };
        let tail = "Try executing SHOW USER PRIVILEGES to determine the missing or denied \
                    privileges. In case of missing privileges, they need to be granted (See \
                    GRANT). In case of denied privileges, they need to be revoked (See REVOKE) \
                    and granted.";
        match rights.allows("dbms_actions", "system", "system") {
            Allowed::Granted => Ok(()),
            Allowed::Missing => Err(Error::new(
                Code::Forbidden,
                format!("Permission has not been granted for {actions}. {tail}"),
            )),
            Allowed::Denied => Err(Error::new(
                Code::Forbidden,
                format!("Permission denied for {actions}. {tail}"),
            )),
        }
    }
}

fn param_string(params: &Map, name: &str, what: &str) -> Result<String> {
    match params.get(name) {
        Some(Value::String(s)) => Ok(s.clone()),
        Some(other) => Err(Error::new(
            Code::TypeError,
            format!(
                "Only STRING values are accepted as {what}, got: {}",
                other.type_name()
            ),
        )),
        None => Err(Error::new(
            Code::ParameterMissing,
            format!("Expected parameter(s): {name}"),
        )),
    }
}

fn name(n: &SchemaName, params: &Map) -> Result<String> {
    match n {
        SchemaName::Given(s) => Ok(s.clone()),
        SchemaName::Param(p) => param_string(params, p, "username or role name"),
    }
}

fn names(ns: &[SchemaName], params: &Map) -> Result<Vec<String>> {
    ns.iter().map(|n| name(n, params)).collect()
}

fn password(e: &Expr, params: &Map) -> Result<String> {
    match e {
        Expr::Literal(Literal::String(s)) => Ok(s.clone()),
        Expr::Parameter(p) => param_string(params, p, "password"),
        _ => Err(Error::new(
            Code::SyntaxError,
            "A password is a string or a parameter",
        )),
    }
}

/// Password hashing is slow by design: off the async workers.
async fn hash(password: String) -> Result<String> {
    auth::hashing(move || auth::hash_password(&password)).await?
}

async fn verifies(hash: String, password: String) -> Result<bool> {
    auth::hashing(move || auth::verify(&hash, &password)).await
}

/// The stored hash for a new password: checked and hashed when plaintext,
/// taken in Neo4j's format when `ENCRYPTED`.
async fn new_hash(pw: &(Expr, bool), params: &Map) -> Result<String> {
    let text = password(&pw.0, params)?;
    if pw.1 {
        return auth::import_encrypted(&text);
    }
    check_password(&text)?;
    hash(text).await
}

/// Rows a GRANT or DENY may name only where already held: the refusal
/// otherwise, and whether REVOKE may remove them.
type HeldOnly = (Error, bool);

/// The privilege rows a GRANT, DENY or REVOKE names, and, for rows
/// Causeway holds only because the built-in roles have them (privileges
/// over commands no one is served yet, MATCH on nodes or relationships
/// alone), the refusal a GRANT or DENY gets unless every role named
/// already holds the rows (replaying `SHOW PRIVILEGES AS COMMANDS`), with
/// whether REVOKE may remove them.
fn privilege_rows(
    privilege: &PrivilegeKind,
    scope: &PrivilegeScope,
    segments: &[&'static str],
    params: &Map,
) -> Result<(Vec<Privilege>, Option<HeldOnly>)> {
    let unsupported = |what: &str| {
        Error::new(
            Code::UnsupportedAdministrationCommand,
            format!(
                "The privilege {what} is not supported by this server. Supported: ACCESS, \
                 MATCH {{*}} and WRITE on whole graphs, NAME MANAGEMENT, INDEX MANAGEMENT, \
                 CONSTRAINT MANAGEMENT, SHOW INDEX, SHOW CONSTRAINT, ALL DATABASE PRIVILEGES \
                 and ALL DBMS PRIVILEGES."
            ),
        )
    };
    let graphs: Vec<String> = match scope {
        PrivilegeScope::Home => vec!["HOME".into()],
        PrivilegeScope::Named(None) | PrivilegeScope::Dbms => vec!["*".into()],
        PrivilegeScope::Named(Some(ns)) => names(ns, params)?,
    };
    let dbms = *scope == PrivilegeScope::Dbms;
    let (action, resource, on): (&str, &str, Vec<&str>) = match privilege {
        PrivilegeKind::AllDbms if dbms => ("dbms_actions", "database", vec!["database"]),
        PrivilegeKind::AllDbms => return Err(unsupported("ALL DBMS PRIVILEGES on a database")),
        PrivilegeKind::Load if dbms => ("load", "all_data", vec!["database"]),
        PrivilegeKind::ExecuteProcedures if dbms => ("execute", "database", vec!["PROCEDURE(*)"]),
        PrivilegeKind::ExecuteFunctions if dbms => ("execute", "database", vec!["FUNCTION(*)"]),
        _ if dbms => return Err(unsupported(&format!("{privilege:?} ON DBMS"))),
        PrivilegeKind::Load
        | PrivilegeKind::ExecuteProcedures
        | PrivilegeKind::ExecuteFunctions => {
            return Err(unsupported(&format!("{privilege:?} on a database")))
        }
        PrivilegeKind::Access => ("access", "database", vec!["database"]),
        PrivilegeKind::Start => ("start_database", "database", vec!["database"]),
        PrivilegeKind::Stop => ("stop_database", "database", vec!["database"]),
        PrivilegeKind::TransactionManagement => {
            ("transaction_management", "database", vec!["USER(*)"])
        }
        // Causeway shows or hides a graph whole: nodes without their
        // relationships (or the reverse) would be a partial view. (MATCH
        // on one of them is read below, for rows a role already holds.)
        PrivilegeKind::Write if segments.len() != 2 => {
            return Err(unsupported(&format!(
                "{privilege:?} on nodes or relationships alone (grant on ELEMENTS *)"
            )))
        }
        PrivilegeKind::Match => ("match", "all_properties", segments.to_vec()),
        PrivilegeKind::Write => ("write", "graph", vec!["NODE(*)", "RELATIONSHIP(*)"]),
        PrivilegeKind::NameManagement => ("token", "database", vec!["database"]),
        PrivilegeKind::IndexManagement => ("index", "database", vec!["database"]),
        PrivilegeKind::ConstraintManagement => ("constraint", "database", vec!["database"]),
        PrivilegeKind::ShowIndex => ("show_index", "database", vec!["database"]),
        PrivilegeKind::ShowConstraint => ("show_constraint", "database", vec!["database"]),
        PrivilegeKind::AllDatabase => ("database_actions", "database", vec!["database"]),
        // Causeway shows a whole graph or nothing: reading without
        // traversing (or the reverse) would need a view it cannot give.
        PrivilegeKind::Traverse => return Err(unsupported("TRAVERSE (grant MATCH {*})")),
        PrivilegeKind::Read => return Err(unsupported("READ {*} (grant MATCH {*})")),
        PrivilegeKind::Other(words) => return Err(unsupported(words)),
    };
    // The commands these govern (START/STOP DATABASE, SHOW/TERMINATE
    // TRANSACTIONS) are not served to anyone yet: a new grant or denial
    // would promise what no one can do. The built-in roles list them as
    // Neo4j's do, so they may be revoked, and granted again where held.
    let unserved = match privilege {
        PrivilegeKind::Start => Some((unsupported("START (START DATABASE is not served)"), true)),
        PrivilegeKind::Stop => Some((unsupported("STOP (STOP DATABASE is not served)"), true)),
        PrivilegeKind::TransactionManagement => Some((
            unsupported("TRANSACTION MANAGEMENT (SHOW and TERMINATE TRANSACTIONS are not served)"),
            true,
        )),
        // Everyone may load and execute everything: there is nothing a
        // grant or denial of these could change.
        PrivilegeKind::Load => Some((unsupported("LOAD (loading is not restricted)"), true)),
        PrivilegeKind::ExecuteProcedures | PrivilegeKind::ExecuteFunctions => Some((
            unsupported("EXECUTE (procedures and functions are not restricted)"),
            true,
        )),
        // `SHOW PRIVILEGES AS COMMANDS` lists a whole-graph MATCH as one
        // command for nodes and one for relationships, as Neo4j does;
        // revoking one of them would leave a partial view.
        PrivilegeKind::Match if segments.len() != 2 => Some((
            unsupported("Match on nodes or relationships alone (grant on ELEMENTS *)"),
            false,
        )),
        _ => None,
    };
    let mut rows = Vec::new();
    for graph in &graphs {
        for segment in &on {
            rows.push(Privilege {
                graph: graph.clone(),
                segment: (*segment).to_owned(),
                resource: resource.to_owned(),
                action: action.to_owned(),
                denied: false,
            });
        }
    }
    Ok((rows, unserved))
}

/// The security commands `cmd` makes, checked against `view` (which they
/// are applied to, so later statements of the transaction see them).
pub async fn plan(
    cmd: &AdminCommand,
    params: &Map,
    view: &mut Security,
    caller: &Caller,
) -> Result<Vec<Command>> {
    let by = caller.user.clone();
    let commands = match cmd {
        AdminCommand::CreateUser(spec) => {
            caller.require_dbms(if spec.replace {
                "CREATE USER and/or DROP USER"
            } else {
                "CREATE USER"
            })?;
            let user = name(&spec.name, params)?;
            check_user_name(&user)?;
            let pw = spec
                .password
                .as_ref()
                .ok_or_else(|| Error::new(Code::SyntaxError, "CREATE USER needs SET PASSWORD"))?;
            vec![Command::CreateUser {
                name: user,
                hash: new_hash(pw, params).await?,
                // Neo4j requires a change unless told otherwise.
                change_required: spec.change_required.unwrap_or(true),
                suspended: spec.suspended.unwrap_or(false),
                home: spec
                    .home
                    .clone()
                    .flatten()
                    .map(|h| name(&h, params))
                    .transpose()?,
                replace: spec.replace,
                if_not_exists: spec.if_not_exists,
                by,
            }]
        }
        AdminCommand::AlterUser(spec) => vec![alter_user(spec, params, view, caller).await?],
        AdminCommand::AlterCurrentUser { old, new } => {
            // A caller with a user always comes with the lock-out accounting.
            let (Some(user), Some(attempts)) = (caller.user.clone(), caller.attempts.clone())
            else {
                return Err(Error::new(
                    Code::Unknown,
                    "User failed to alter their own password: Command not available with auth disabled.",
                ));
            };
            let what = format!("User '{user}' failed to alter their own password");
            let (old, new) = (password(old, params)?, password(new, params)?);
            let stored = view
                .users
                .get(&user)
                .map(|u| u.hash.clone())
                .ok_or_else(|| {
                    Error::new(Code::ArgumentError, format!("{what}: User does not exist."))
                })?;
            let (u, o) = (user.clone(), old.clone());
            let checked = auth::hashing(move || attempts.check(&u, &stored, &o)).await?;
            match checked {
                Ok(()) => {}
                Err(e) if e.code == Code::Unauthorized => {
                    return Err(Error::new(
                        Code::ArgumentError,
                        format!("{what}: Invalid principal or credentials."),
                    ))
                }
                // Locked out: Neo4j's rate-limit error, as at login.
                Err(e) => return Err(e),
            }
            if old == new {
                return Err(Error::new(
                    Code::ArgumentError,
                    format!("{what}: Old password and new password cannot be the same."),
                ));
            }
            check_password(&new)?;
            vec![Command::SetOwnPassword {
                name: user,
                hash: hash(new).await?,
            }]
        }
        AdminCommand::RenameUser {
            from,
            to,
            if_exists,
        } => {
            caller.require_dbms("RENAME USER")?;
            vec![Command::RenameUser {
                from: name(from, params)?,
                to: name(to, params)?,
                if_exists: *if_exists,
            }]
        }
        AdminCommand::DropUser { name: n, if_exists } => {
            caller.require_dbms("DROP USER")?;
            vec![Command::DropUser {
                name: name(n, params)?,
                if_exists: *if_exists,
                by,
            }]
        }
        AdminCommand::CreateRole {
            name: n,
            replace,
            if_not_exists,
            copy_of,
        } => {
            caller.require_dbms(if *replace {
                "CREATE ROLE and/or DROP ROLE"
            } else {
                "CREATE ROLE"
            })?;
            vec![Command::CreateRole {
                name: name(n, params)?,
                copy_of: copy_of.as_ref().map(|c| name(c, params)).transpose()?,
                replace: *replace,
                if_not_exists: *if_not_exists,
            }]
        }
        AdminCommand::RenameRole {
            from,
            to,
            if_exists,
        } => {
            caller.require_dbms("RENAME ROLE")?;
            vec![Command::RenameRole {
                from: name(from, params)?,
                to: name(to, params)?,
                if_exists: *if_exists,
            }]
        }
        AdminCommand::DropRole { name: n, if_exists } => {
            caller.require_dbms("DROP ROLE")?;
            vec![Command::DropRole {
                name: name(n, params)?,
                if_exists: *if_exists,
            }]
        }
        AdminCommand::GrantRoles { roles, users } => {
            caller.require_dbms("ASSIGN ROLE")?;
            vec![Command::GrantRoles {
                roles: names(roles, params)?,
                users: names(users, params)?,
            }]
        }
        AdminCommand::RevokeRoles { roles, users } => {
            caller.require_dbms("REMOVE ROLE")?;
            vec![Command::RevokeRoles {
                roles: names(roles, params)?,
                users: names(users, params)?,
            }]
        }
        AdminCommand::Privilege {
            op,
            privilege,
            scope,
            segments,
            roles,
        } => {
            let op = match op {
                AstOp::Grant => PrivilegeOp::Grant,
                AstOp::Deny => PrivilegeOp::Deny,
                AstOp::Revoke(which) => PrivilegeOp::Revoke(*which),
            };
            caller.require_dbms(if matches!(op, PrivilegeOp::Revoke(_)) {
                "REMOVE PRIVILEGE"
            } else {
                "ASSIGN PRIVILEGE"
            })?;
            let (privileges, unserved) = privilege_rows(privilege, scope, segments, params)?;
            let roles = names(roles, params)?;
            let revoking = matches!(op, PrivilegeOp::Revoke(_));
            if let Some((refusal, revocable)) = unserved {
                if revoking && !revocable {
                    return Err(refusal);
                }
                let denied = op == PrivilegeOp::Deny;
                let held = roles.iter().all(|r| {
                    view.roles.get(r).is_some_and(|rows| {
                        privileges.iter().all(|p| {
                            rows.contains(&Privilege {
                                denied,
                                ..p.clone()
                            })
                        })
                    })
                });
                if !revoking && !held {
                    return Err(refusal);
                }
            }
            vec![Command::Privileges {
                op,
                privileges,
                roles,
            }]
        }
    };
    for c in &commands {
        view.apply(c)?;
    }
    Ok(commands)
}

async fn alter_user(
    spec: &UserSpec,
    params: &Map,
    view: &Security,
    caller: &Caller,
) -> Result<Command> {
    let mut actions = Vec::new();
    if spec.password.is_some() || spec.change_required.is_some() {
        actions.push("SET PASSWORDS");
    }
    if spec.suspended.is_some() {
        actions.push("SET USER STATUS");
    }
    if spec.home.is_some() {
        actions.push("SET USER HOME DATABASE");
    }
    actions.sort_unstable();
    caller.require_dbms(&actions.join(" and/or "))?;
    let user = name(&spec.name, params)?;
    let hash = match &spec.password {
        None => None,
        Some(pw) => {
            // Neo4j refuses to "change" a password to itself.
            if !pw.1 {
                let text = password(&pw.0, params)?;
                if let Some(current) = view.users.get(&user) {
                    if verifies(current.hash.clone(), text).await? {
                        return Err(Error::new(
                            Code::ArgumentError,
                            format!(
                                "Failed to alter the specified user '{user}': Old password and new password cannot be the same."
                            ),
                        ));
                    }
                }
            }
            Some(new_hash(pw, params).await?)
        }
    };
    let home = match &spec.home {
        None => None,
        Some(None) => Some(None),
        Some(Some(h)) => Some(Some(name(h, params)?)),
    };
    Ok(Command::AlterUser {
        name: user,
        if_exists: spec.if_exists,
        hash,
        change_required: spec.change_required,
        suspended: spec.suspended,
        home,
        by: caller.user.clone(),
    })
}

type Rows = (Vec<String>, Vec<Vec<Value>>);

fn cols(names: &[&str]) -> Vec<String> {
    names.iter().map(|s| (*s).to_owned()).collect()
}

fn user_row(name: &str, u: &crate::security::User, security: &Security) -> Vec<Value> {
    let mut roles: Vec<Value> = u
        .roles
        .iter()
        .filter(|r| security.roles.contains_key(*r))
        .map(|r| Value::from(r.as_str()))
        .collect();
    roles.push(Value::from(PUBLIC));
    vec![
        Value::from(name),
        Value::List(roles),
        Value::Bool(u.change_required),
        Value::Bool(u.suspended),
        u.home.as_deref().map_or(Value::Null, Value::from),
    ]
}

const USER_COLUMNS: [&str; 5] = [
    "user",
    "roles",
    "passwordChangeRequired",
    "suspended",
    "home",
];

/// The rows of `SHOW PRIVILEGES` for the given roles (sorted by role,
/// graph, segment, resource, action), with a `user` column when listing a
/// user's.
fn privilege_rows_of(security: &Security, roles: &[String], user: Option<&str>) -> Vec<Vec<Value>> {
    let mut out = Vec::new();
    let sorted: BTreeSet<&String> = roles.iter().collect();
    for role in sorted {
        let Some(held) = security.roles.get(role) else {
            continue;
        };
        for p in held {
            let mut row = vec![
                Value::from(if p.denied { "DENIED" } else { "GRANTED" }),
                Value::from(p.action.as_str()),
                Value::from(p.resource.as_str()),
                Value::from(p.graph.as_str()),
                Value::from(p.segment.as_str()),
                Value::from(role.as_str()),
                Value::Bool(false),
            ];
            if let Some(u) = user {
                row.push(Value::from(u));
            }
            out.push(row);
        }
    }
    out
}

/// A privilege row as the command that grants (or revokes) it.
fn as_command(p: &Privilege, role: &str, revoke: bool) -> String {
    let graph = match p.graph.as_str() {
        "*" => "*".to_owned(),
        "HOME" => String::new(),
        g => format!("`{g}`"),
    };
    let on_db = if p.graph == "HOME" {
        "HOME DATABASE".to_owned()
    } else {
        format!("DATABASE {graph}")
    };
    let on_graph = if p.graph == "HOME" {
        "HOME GRAPH".to_owned()
    } else {
        format!("GRAPH {graph}")
    };
    let entity = match p.segment.as_str() {
        "NODE(*)" => "NODE *",
        _ => "RELATIONSHIP *",
    };
    let what = match p.action.as_str() {
        "access" => format!("ACCESS ON {on_db}"),
        "start_database" => format!("START ON {on_db}"),
        "stop_database" => format!("STOP ON {on_db}"),
        "match" => format!("MATCH {{*}} ON {on_graph} {entity}"),
        "write" => format!("WRITE ON {on_graph}"),
        "token" => format!("NAME MANAGEMENT ON {on_db}"),
        "index" => format!("INDEX MANAGEMENT ON {on_db}"),
        "constraint" => format!("CONSTRAINT MANAGEMENT ON {on_db}"),
        "show_index" => format!("SHOW INDEX ON {on_db}"),
        "show_constraint" => format!("SHOW CONSTRAINT ON {on_db}"),
        "transaction_management" => format!("TRANSACTION MANAGEMENT (*) ON {on_db}"),
        "database_actions" => format!("ALL DATABASE PRIVILEGES ON {on_db}"),
        "dbms_actions" => "ALL DBMS PRIVILEGES ON DBMS".to_owned(),
        "execute" if p.segment == "FUNCTION(*)" => "EXECUTE FUNCTION * ON DBMS".to_owned(),
        "execute" => "EXECUTE PROCEDURE * ON DBMS".to_owned(),
        "load" => "LOAD ON ALL DATA".to_owned(),
        other => other.to_uppercase(),
    };
    let verb = match (revoke, p.denied) {
        (false, false) => "GRANT",
        (false, true) => "DENY",
        (true, false) => "REVOKE GRANT",
        (true, true) => "REVOKE DENY",
    };
    let to = if revoke { "FROM" } else { "TO" };
    format!("{verb} {what} {to} {role}")
}

/// The SHOW commands about users, roles and privileges, for `caller`.
pub fn show(
    kind: &ShowKind,
    security: &Security,
    caller: &Caller,
    params: &Map,
) -> Option<Result<Rows>> {
    let rows = match kind {
        ShowKind::Users => caller.require_dbms("SHOW USER").map(|()| {
            let rows = security
                .users
                .iter()
                .map(|(n, u)| user_row(n, u, security))
                .collect();
            (cols(&USER_COLUMNS), rows)
        }),
        ShowKind::CurrentUser => Ok((
            cols(&USER_COLUMNS),
            caller
                .user
                .as_deref()
                .and_then(|n| security.users.get(n).map(|u| user_row(n, u, security)))
                .into_iter()
                .collect(),
        )),
        ShowKind::Roles {
            populated,
            with_users,
        } => caller.require_dbms("SHOW ROLE").map(|()| {
            let mut rows = Vec::new();
            for role in security.roles.keys() {
                let members: Vec<&String> = security
                    .users
                    .iter()
                    .filter(|(_, u)| role == PUBLIC || u.roles.contains(role))
                    .map(|(n, _)| n)
                    .collect();
                if *populated && members.is_empty() {
                    continue;
                }
                if *with_users {
                    if members.is_empty() {
                        rows.push(vec![Value::from(role.as_str()), Value::Null]);
                    }
                    for m in members {
                        rows.push(vec![Value::from(role.as_str()), Value::from(m.as_str())]);
                    }
                } else {
                    rows.push(vec![Value::from(role.as_str())]);
                }
            }
            let columns = if *with_users {
                cols(&["role", "member"])
            } else {
                cols(&["role"])
            };
            (columns, rows)
        }),
        ShowKind::Privileges { of, as_commands } => {
            show_privileges(of, *as_commands, security, caller, params)
        }
        _ => return None,
    };
    Some(rows)
}

fn show_privileges(
    of: &PrivilegesOf,
    as_commands: Option<bool>,
    security: &Security,
    caller: &Caller,
    params: &Map,
) -> Result<Rows> {
    // Groups of (roles, the user they are listed for).
    let groups: Vec<(Vec<String>, Option<String>)> = match of {
        PrivilegesOf::All => {
            caller.require_dbms("SHOW PRIVILEGE")?;
            vec![(security.roles.keys().cloned().collect(), None)]
        }
        PrivilegesOf::Roles(rs) => {
            caller.require_dbms("SHOW PRIVILEGE")?;
            vec![(names(rs, params)?, None)]
        }
        PrivilegesOf::Users(users) => {
            let users = match users {
                None => caller.user.clone().into_iter().collect(),
                Some(us) => names(us, params)?,
            };
            // A user may always list their own.
            if users.iter().any(|u| Some(u) != caller.user.as_ref()) {
                caller.require_dbms("SHOW PRIVILEGE and/or SHOW USER")?;
            }
            users
                .into_iter()
                .filter_map(|u| {
                    let rec = security.users.get(&u)?;
                    let mut roles: Vec<String> = rec.roles.iter().cloned().collect();
                    roles.push(PUBLIC.to_owned());
                    Some((roles, Some(u)))
                })
                .collect()
        }
    };
    let for_user = matches!(of, PrivilegesOf::Users(_));
    match as_commands {
        None => {
            let mut columns = cols(&[
                "access",
                "action",
                "resource",
                "graph",
                "segment",
                "role",
                "immutable",
            ]);
            if for_user {
                columns.push("user".into());
            }
            let rows = groups
                .iter()
                .flat_map(|(roles, user)| privilege_rows_of(security, roles, user.as_deref()))
                .collect();
            Ok((columns, rows))
        }
        Some(revoke) => {
            let mut commands = BTreeSet::new();
            for (roles, _) in &groups {
                for role in roles {
                    for p in security.roles.get(role).into_iter().flatten() {
                        let shown = if for_user {
                            "$role".to_owned()
                        } else {
                            format!("`{role}`")
                        };
                        commands.insert(as_command(p, &shown, revoke));
                    }
                }
            }
            Ok((
                cols(&["command"]),
                commands
                    .into_iter()
                    .map(|c| vec![Value::String(c)])
                    .collect(),
            ))
        }
    }
}

/// The catalog one transaction sees: the server's, plus the security
/// listings answered for its caller, from the transaction's own view of
/// the security state if it changed it, else the applied one (read only
/// when a listing asks).
pub struct ScopedCatalog<'a> {
    pub base: &'a dyn SystemCatalog,
    pub view: Option<&'a Security>,
    pub applied: &'a (dyn Fn() -> Arc<Security> + Sync),
    pub caller: &'a Caller,
    /// The statement's parameters (`SHOW USER $name PRIVILEGES`).
    pub params: &'a Map,
}

impl SystemCatalog for ScopedCatalog<'_> {
    fn procedure_signature(&self, name: &str) -> Option<ProcedureSignature> {
        self.base.procedure_signature(name)
    }

    fn call_procedure(&self, name: &str, args: &[Value]) -> Option<Result<Rows>> {
        self.base.call_procedure(name, args)
    }

    fn show(&self, kind: &ShowKind) -> Option<Result<Rows>> {
        let security_listing = matches!(
            kind,
            ShowKind::Users
                | ShowKind::CurrentUser
                | ShowKind::Roles { .. }
                | ShowKind::Privileges { .. }
        );
        if !security_listing {
            return self.base.show(kind);
        }
        match self.view {
            Some(view) => show(kind, view, self.caller, self.params),
            None => show(kind, &(self.applied)(), self.caller, self.params),
        }
    }
}
