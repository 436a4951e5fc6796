//! Users, roles and privileges: the security model every member holds as
//! replicated state (docs/decisions/0021-users-and-roles.md).
//!
//! The model changes only through [`Command`]s, applied in log order on
//! every member by [`Security::apply`], which validates each one against
//! the state it meets, so every member reaches the same state and a
//! command refused on one is refused on all. The leader runs the same
//! validation on a copy first, so that a client hears Neo4j's precise
//! error instead of a refused log entry.
//!
//! Privileges are kept as the rows `SHOW PRIVILEGES` prints (access,
//! action, resource, graph, segment); only the graph- and database-wide
//! privileges Causeway enforces can be granted at all.

use std::collections::{BTreeMap, BTreeSet};

use causeway_value::{Code, Error};
use serde::{Deserialize, Serialize};

/// The role every user has, which cannot be granted, revoked or dropped.
pub const PUBLIC: &str = "PUBLIC";
/// The roles a new DBMS starts with, in the order Neo4j lists them.
pub const BUILT_IN_ROLES: [&str; 6] = [
    PUBLIC,
    "admin",
    "architect",
    "editor",
    "publisher",
    "reader",
];
/// The role the first user gets.
pub const ADMIN: &str = "admin";
/// Neo4j's `dbms.security.auth_minimum_password_length` default.
pub const MIN_PASSWORD_CHARS: usize = 8;
/// Longest user or role name; longer ones are refused before anything is
/// stored.
pub const MAX_NAME_BYTES: usize = 256;
/// Users and roles at most, so that a client cannot grow the replicated
/// state without bound.
pub const MAX_USERS: usize = 100_000;
pub const MAX_ROLES: usize = 10_000;
/// Privilege rows one role may hold.
pub const MAX_PRIVILEGES_PER_ROLE: usize = 1_000;

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    /// Unique for the life of the DBMS: a user dropped and made again
    /// under the same name gets a new one (a rename keeps it).
    pub id: u64,
    /// An argon2id PHC string, or `SHA-256,<hash>,<salt>,<iterations>`
    /// for a password given `ENCRYPTED` in Neo4j's format.
    pub hash: String,
    pub change_required: bool,
    pub suspended: bool,
    pub home: Option<String>,
    /// Granted roles, PUBLIC not included (every user has it).
    pub roles: BTreeSet<String>,
}

/// One privilege row, as `SHOW PRIVILEGES` prints it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Privilege {
    /// Sort order is `SHOW PRIVILEGES`'s (role first, then these fields in
    /// this order).
    pub graph: String,
    pub segment: String,
    pub resource: String,
    pub action: String,
    pub denied: bool,
}

impl Privilege {
    fn row(action: &str, resource: &str, graph: &str, segment: &str) -> Privilege {
        Privilege {
            graph: graph.into(),
            segment: segment.into(),
            resource: resource.into(),
            action: action.into(),
            denied: false,
        }
    }
}

/// The replicated security state.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Security {
    /// Whether the first user and the built-in roles exist. Until then a
    /// member checks logins against its own `auth` setting.
    pub initialized: bool,
    /// The id the next new user gets.
    pub next_user_id: u64,
    pub users: BTreeMap<String, User>,
    /// Every role, PUBLIC and the built-in ones included, with its
    /// privileges.
    pub roles: BTreeMap<String, BTreeSet<Privilege>>,
}

/// What `GRANT`, `DENY` and `REVOKE` do with privilege rows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum PrivilegeOp {
    Grant,
    Deny,
    /// `REVOKE [GRANT | DENY]`: `None` revokes both.
    Revoke(Option<bool>),
}

/// A change to the security state. Names and hashes are final: passwords
/// are hashed before a command is built, so the log never holds one.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Command {
    /// The first user, with `admin`, and the built-in roles. Does nothing
    /// once the state is initialised (every member may propose it).
    Bootstrap {
        user: String,
        hash: String,
    },
    /// A DBMS no one can log in to (every user was made while
    /// authentication was off, or is suspended), started with
    /// authentication on under a user name it does not have: that user is
    /// made, with `admin`. Does nothing in any other state, so it can
    /// neither bring back a dropped user nor raise an existing one.
    RecoverAdmin {
        user: String,
        hash: String,
    },
    CreateUser {
        name: String,
        hash: String,
        change_required: bool,
        suspended: bool,
        home: Option<String>,
        replace: bool,
        if_not_exists: bool,
        by: Option<String>,
    },
    AlterUser {
        name: String,
        if_exists: bool,
        hash: Option<String>,
        change_required: Option<bool>,
        suspended: Option<bool>,
        /// `Some(None)`: REMOVE HOME DATABASE.
        home: Option<Option<String>>,
        by: Option<String>,
    },
    /// `ALTER CURRENT USER SET PASSWORD`: the old password was checked by
    /// the member that took the command.
    SetOwnPassword {
        name: String,
        hash: String,
    },
    RenameUser {
        from: String,
        to: String,
        if_exists: bool,
    },
    DropUser {
        name: String,
        if_exists: bool,
        by: Option<String>,
    },
    CreateRole {
        name: String,
        copy_of: Option<String>,
        replace: bool,
        if_not_exists: bool,
    },
    RenameRole {
        from: String,
        to: String,
        if_exists: bool,
    },
    DropRole {
        name: String,
        if_exists: bool,
    },
    GrantRoles {
        roles: Vec<String>,
        users: Vec<String>,
    },
    RevokeRoles {
        roles: Vec<String>,
        users: Vec<String>,
    },
    Privileges {
        op: PrivilegeOp,
        privileges: Vec<Privilege>,
        roles: Vec<String>,
    },
}

/// What a command did, for the client's notifications.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Outcome {
    /// The command changed nothing (`IF NOT EXISTS` on an existing name,
    /// a role already granted, ...): Neo4j's `CommandHasNoEffect`.
    pub no_effect: bool,
}

fn argument(message: String) -> Error {
    Error::new(Code::ArgumentError, message)
}

/// Moves `from` to `to` in a map of users or roles; `Ok(false)` when
/// `from` is missing and `if_exists` allows that.
fn rename<T>(
    map: &mut BTreeMap<String, T>,
    kind: &str,
    from: &str,
    to: &str,
    if_exists: bool,
) -> Result<bool, Error> {
    let what = format!("Failed to rename the specified {kind} '{from}' to '{to}'");
    if !map.contains_key(from) {
        if if_exists {
            return Ok(false);
        }
        return Err(argument(format!(
            "{what}: The {kind} '{from}' does not exist."
        )));
    }
    if map.contains_key(to) {
        let kind = if kind == "user" { "User" } else { "Role" };
        return Err(argument(format!("{what}: {kind} '{to}' already exists.")));
    }
    let value = map.remove(from).expect("checked above");
    map.insert(to.to_owned(), value);
    Ok(true)
}

/// Neo4j's rule for user names: non-empty ASCII `!`..`~` except `,` and
/// `:`.
pub fn check_user_name(name: &str) -> Result<(), Error> {
    if name.is_empty() {
        return Err(argument("The provided username is empty.".into()));
    }
    if name.len() > MAX_NAME_BYTES
        || !name
            .bytes()
            .all(|b| (b'!'..=b'~').contains(&b) && b != b',' && b != b':')
    {
        return Err(argument(format!(
            "Username '{name}' contains illegal characters.\nUse ascii characters that are not ',', ':' or whitespaces."
        )));
    }
    Ok(())
}

/// Neo4j's rule for role names: ASCII letters, digits and underscores,
/// starting with a letter.
pub fn check_role_name(name: &str) -> Result<(), Error> {
    if name.is_empty() {
        return Err(argument("The provided role name is empty.".into()));
    }
    let ok = name.len() <= MAX_NAME_BYTES
        && name.starts_with(|c: char| c.is_ascii_alphabetic())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !ok {
        return Err(argument(format!(
            "Role name '{name}' contains illegal characters.\nUse simple ascii characters, numbers and underscores."
        )));
    }
    Ok(())
}

/// Checks a new plaintext password (ENCRYPTED ones are taken as given).
pub fn check_password(password: &str) -> Result<(), Error> {
    if password.is_empty() {
        return Err(argument("A password cannot be empty.".into()));
    }
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(argument(format!(
            "A password must be at least {MIN_PASSWORD_CHARS} characters."
        )));
    }
    Ok(())
}

/// The privileges of the built-in roles, as Neo4j 5 grants them.
fn built_in_privileges(role: &str) -> BTreeSet<Privilege> {
    let db = |action: &str| Privilege::row(action, "database", "*", "database");
    let matching = [
        Privilege::row("match", "all_properties", "*", "NODE(*)"),
        Privilege::row("match", "all_properties", "*", "RELATIONSHIP(*)"),
    ];
    let writing = [
        Privilege::row("write", "graph", "*", "NODE(*)"),
        Privilege::row("write", "graph", "*", "RELATIONSHIP(*)"),
    ];
    let mut rows: Vec<Privilege> = Vec::new();
    let reader = |rows: &mut Vec<Privilege>| {
        rows.push(db("access"));
        rows.extend(matching.iter().cloned());
        rows.push(db("show_constraint"));
        rows.push(db("show_index"));
    };
    match role {
        PUBLIC => {
            rows.push(Privilege::row("access", "database", "HOME", "database"));
            rows.push(Privilege::row("execute", "database", "*", "FUNCTION(*)"));
            rows.push(Privilege::row("execute", "database", "*", "PROCEDURE(*)"));
            rows.push(Privilege::row("load", "all_data", "*", "database"));
        }
        "reader" => reader(&mut rows),
        "editor" | "publisher" | "architect" | "admin" => {
            reader(&mut rows);
            rows.extend(writing.iter().cloned());
            rows.push(db("token"));
            if role == "editor" {
                rows.pop();
            }
            if role == "architect" || role == "admin" {
                rows.push(db("index"));
                rows.push(db("constraint"));
            }
            if role == "admin" {
                rows.push(db("dbms_actions"));
                rows.push(db("start_database"));
                rows.push(db("stop_database"));
                rows.push(Privilege::row(
                    "transaction_management",
                    "database",
                    "*",
                    "USER(*)",
                ));
                rows.push(Privilege::row("load", "all_data", "*", "database"));
            }
        }
        _ => {}
    }
    rows.into_iter().collect()
}

impl Security {
    /// A new user holding `admin`.
    fn add_admin(&mut self, user: &str, hash: &str) {
        self.next_user_id += 1;
        self.users.insert(
            user.to_owned(),
            User {
                id: self.next_user_id,
                hash: hash.to_owned(),
                roles: [ADMIN.to_owned()].into(),
                ..User::default()
            },
        );
    }

    /// Whether `RecoverAdmin` for `user` would do anything: the state is
    /// initialised, no user can log in (each has the unusable hash of a
    /// user made while authentication was off, or is suspended), and the
    /// name is new.
    pub fn admin_recovery_applies(&self, user: &str) -> bool {
        self.initialized
            && !self.users.contains_key(user)
            && self
                .users
                .values()
                .all(|u| u.suspended || u.hash == crate::auth::UNSET_HASH)
    }

    /// Runs `cmd` against the state. An error leaves the state unchanged.
    pub fn apply(&mut self, cmd: &Command) -> Result<Outcome, Error> {
        self.apply_all(std::slice::from_ref(cmd))
    }

    /// Runs the commands in order, all or none (one copy of the state,
    /// however many there are).
    pub fn apply_all(&mut self, cmds: &[Command]) -> Result<Outcome, Error> {
        let mut next = self.clone();
        let mut outcome = Outcome { no_effect: true };
        for cmd in cmds {
            outcome.no_effect &= next.change(cmd)?.no_effect;
        }
        *self = next;
        Ok(outcome)
    }

    fn user_mut(&mut self, name: &str, what: impl Fn() -> String) -> Result<&mut User, Error> {
        self.users
            .get_mut(name)
            .ok_or_else(|| argument(format!("{}: User does not exist.", what())))
    }

    fn change(&mut self, cmd: &Command) -> Result<Outcome, Error> {
        let done = Ok(Outcome::default());
        let nothing = Ok(Outcome { no_effect: true });
        match cmd {
            Command::Bootstrap { user, hash } => {
                if self.initialized {
                    return nothing;
                }
                check_user_name(user)?;
                self.initialized = true;
                for role in BUILT_IN_ROLES {
                    self.roles.insert(role.into(), built_in_privileges(role));
                }
                self.add_admin(user, hash);
                done
            }
            Command::RecoverAdmin { user, hash } => {
                if !self.admin_recovery_applies(user) {
                    return nothing;
                }
                check_user_name(user)?;
                self.roles
                    .entry(ADMIN.to_owned())
                    .or_insert_with(|| built_in_privileges(ADMIN));
                self.add_admin(user, hash);
                done
            }
            Command::CreateUser {
                name,
                hash,
                change_required,
                suspended,
                home,
                replace,
                if_not_exists,
                by,
            } => {
                check_user_name(name)?;
                let what = || format!("Failed to create the specified user '{name}'");
                if *replace && *if_not_exists {
                    return Err(Error::new(
                        Code::SyntaxError,
                        format!(
                            "{}: cannot have both `OR REPLACE` and `IF NOT EXISTS`.",
                            what()
                        ),
                    ));
                }
                if self.users.contains_key(name) {
                    if *if_not_exists {
                        return nothing;
                    }
                    if !*replace {
                        return Err(argument(format!("{}: User already exists.", what())));
                    }
                    if by.as_deref() == Some(name.as_str()) {
                        return Err(argument(format!(
                            "Failed to replace the specified user '{name}': Deleting yourself is not allowed."
                        )));
                    }
                } else if self.users.len() >= MAX_USERS {
                    return Err(argument(format!(
                        "{}: there are already {MAX_USERS} users.",
                        what()
                    )));
                }
                self.next_user_id += 1;
                self.users.insert(
                    name.clone(),
                    User {
                        id: self.next_user_id,
                        hash: hash.clone(),
                        change_required: *change_required,
                        suspended: *suspended,
                        home: home.clone(),
                        roles: BTreeSet::new(),
                    },
                );
                done
            }
            Command::AlterUser {
                name,
                if_exists,
                hash,
                change_required,
                suspended,
                home,
                by,
            } => {
                let what = || format!("Failed to alter the specified user '{name}'");
                if !self.users.contains_key(name) && *if_exists {
                    return nothing;
                }
                if suspended.is_some() && by.as_deref() == Some(name.as_str()) {
                    return Err(argument(format!(
                        "{}: Changing your own activation status is not allowed.",
                        what()
                    )));
                }
                let user = self.user_mut(name, what)?;
                if let Some(h) = hash {
                    user.hash = h.clone();
                }
                if let Some(c) = change_required {
                    user.change_required = *c;
                }
                if let Some(s) = suspended {
                    user.suspended = *s;
                }
                if let Some(h) = home {
                    user.home = h.clone();
                }
                done
            }
            Command::SetOwnPassword { name, hash } => {
                let user = self.user_mut(name, || {
                    format!("User '{name}' failed to alter their own password")
                })?;
                user.hash = hash.clone();
                user.change_required = false;
                done
            }
            Command::RenameUser {
                from,
                to,
                if_exists,
            } => {
                check_user_name(to)?;
                if !rename(&mut self.users, "user", from, to, *if_exists)? {
                    return nothing;
                }
                done
            }
            Command::DropUser {
                name,
                if_exists,
                by,
            } => {
                let what = || format!("Failed to delete the specified user '{name}'");
                if by.as_deref() == Some(name.as_str()) {
                    return Err(argument(format!(
                        "{}: Deleting yourself is not allowed.",
                        what()
                    )));
                }
                if self.users.remove(name).is_none() {
                    if *if_exists {
                        return nothing;
                    }
                    return Err(argument(format!("{}: User does not exist.", what())));
                }
                done
            }
            Command::CreateRole {
                name,
                copy_of,
                replace,
                if_not_exists,
            } => {
                let what = || format!("Failed to create the specified role '{name}'");
                if *replace && *if_not_exists {
                    return Err(Error::new(
                        Code::SyntaxError,
                        format!(
                            "{}: cannot have both `OR REPLACE` and `IF NOT EXISTS`.",
                            what()
                        ),
                    ));
                }
                if name == PUBLIC {
                    return Err(argument(format!(
                        "{}: 'PUBLIC' is a reserved role.",
                        what()
                    )));
                }
                check_role_name(name)?;
                let privileges = match copy_of {
                    None => BTreeSet::new(),
                    Some(source) => self.roles.get(source).cloned().ok_or_else(|| {
                        argument(format!(
                            "Failed to create a role as copy of '{source}': Role does not exist."
                        ))
                    })?,
                };
                if self.roles.contains_key(name) {
                    if *if_not_exists {
                        return nothing;
                    }
                    if !*replace {
                        return Err(argument(format!("{}: Role already exists.", what())));
                    }
                    // Replacing drops the old role, and so its grants.
                    for u in self.users.values_mut() {
                        u.roles.remove(name);
                    }
                } else if self.roles.len() >= MAX_ROLES {
                    return Err(argument(format!(
                        "{}: there are already {MAX_ROLES} roles.",
                        what()
                    )));
                }
                self.roles.insert(name.clone(), privileges);
                done
            }
            Command::RenameRole {
                from,
                to,
                if_exists,
            } => {
                let what = || format!("Failed to rename the specified role '{from}' to '{to}'");
                if from == PUBLIC || to == PUBLIC {
                    return Err(argument(format!(
                        "{}: 'PUBLIC' is a reserved role.",
                        what()
                    )));
                }
                check_role_name(to)?;
                if !rename(&mut self.roles, "role", from, to, *if_exists)? {
                    return nothing;
                }
                for u in self.users.values_mut() {
                    if u.roles.remove(from) {
                        u.roles.insert(to.clone());
                    }
                }
                done
            }
            Command::DropRole { name, if_exists } => {
                let what = || format!("Failed to delete the specified role '{name}'");
                if name == PUBLIC {
                    return Err(argument(format!(
                        "{}: 'PUBLIC' is a reserved role.",
                        what()
                    )));
                }
                if self.roles.remove(name).is_none() {
                    if *if_exists {
                        return nothing;
                    }
                    return Err(argument(format!("{}: Role does not exist.", what())));
                }
                for u in self.users.values_mut() {
                    u.roles.remove(name);
                }
                done
            }
            Command::GrantRoles { roles, users } => {
                let mut changed = false;
                for role in roles {
                    for user in users {
                        let what = || format!("Failed to grant role '{role}' to user '{user}'");
                        if !self.roles.contains_key(role) {
                            return Err(argument(format!("{}: Role does not exist.", what())));
                        }
                        let u = self.user_mut(user, what)?;
                        if role != PUBLIC {
                            changed |= u.roles.insert(role.clone());
                        }
                    }
                }
                Ok(Outcome {
                    no_effect: !changed,
                })
            }
            Command::RevokeRoles { roles, users } => {
                if roles.iter().any(|r| r == PUBLIC) {
                    return Err(argument(
                        "Failed to revoke the specified role 'PUBLIC': 'PUBLIC' is a reserved role."
                            .into(),
                    ));
                }
                let mut changed = false;
                for user in users {
                    if let Some(u) = self.users.get_mut(user) {
                        for role in roles {
                            changed |= u.roles.remove(role);
                        }
                    }
                }
                Ok(Outcome {
                    no_effect: !changed,
                })
            }
            Command::Privileges {
                op,
                privileges,
                roles,
            } => {
                let mut changed = false;
                for role in roles {
                    let Some(held) = self.roles.get_mut(role) else {
                        if matches!(op, PrivilegeOp::Revoke(_)) {
                            continue;
                        }
                        return Err(argument(format!(
                            "Failed to {} privilege to role '{role}': Role does not exist.",
                            if *op == PrivilegeOp::Deny {
                                "deny"
                            } else {
                                "grant"
                            }
                        )));
                    };
                    for p in privileges {
                        match op {
                            PrivilegeOp::Grant | PrivilegeOp::Deny => {
                                let denied = *op == PrivilegeOp::Deny;
                                let row = Privilege {
                                    denied,
                                    ..p.clone()
                                };
                                if held.len() >= MAX_PRIVILEGES_PER_ROLE && !held.contains(&row) {
                                    return Err(argument(format!(
                                        "Role '{role}' already holds {MAX_PRIVILEGES_PER_ROLE} privileges."
                                    )));
                                }
                                changed |= held.insert(row);
                            }
                            PrivilegeOp::Revoke(which) => {
                                for denied in [false, true] {
                                    if which.is_none_or(|w| w == denied) {
                                        let row = Privilege {
                                            denied,
                                            ..p.clone()
                                        };
                                        changed |= held.remove(&row);
                                    }
                                }
                            }
                        }
                    }
                }
                Ok(Outcome {
                    no_effect: !changed,
                })
            }
        }
    }

    /// What `user` may do, or `None` for a user that does not exist or is
    /// suspended (a suspended user loses every role, PUBLIC included).
    pub fn rights(&self, user: &str) -> Option<Rights> {
        let u = self.users.get(user).filter(|u| !u.suspended)?;
        let mut roles: Vec<String> = u
            .roles
            .iter()
            .filter(|r| self.roles.contains_key(*r))
            .cloned()
            .collect();
        roles.push(PUBLIC.to_owned());
        // Neo4j names roles in messages sorted as Java strings sort.
        roles.sort();
        let rows = roles
            .iter()
            .filter_map(|r| self.roles.get(r))
            .flatten()
            .cloned()
            .collect();
        Some(Rights {
            user: user.to_owned(),
            roles,
            home: u.home.clone(),
            rows,
        })
    }
}

/// Whether an action is allowed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Allowed {
    Granted,
    /// Not granted by any role.
    Missing,
    /// Denied by a role: a denial beats every grant.
    Denied,
}

/// A user's privileges, as one transaction sees them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rights {
    pub user: String,
    /// Sorted, PUBLIC included.
    pub roles: Vec<String>,
    pub home: Option<String>,
    rows: Vec<Privilege>,
}

/// Which granted actions cover `action`.
fn covering(action: &str) -> &'static [&'static str] {
    match action {
        "access" => &["access", "database_actions"],
        "token" => &["token", "database_actions"],
        "index" => &["index", "database_actions"],
        "constraint" => &["constraint", "database_actions"],
        "show_index" => &["show_index", "index", "database_actions"],
        "show_constraint" => &["show_constraint", "constraint", "database_actions"],
        "match" => &["match"],
        "write" => &["write"],
        "start_database" => &["start_database"],
        "stop_database" => &["stop_database"],
        "transaction_management" => &["transaction_management"],
        "dbms_actions" => &["dbms_actions"],
        _ => &[],
    }
}

impl Rights {
    /// No privileges at all: a user dropped or suspended since logging in.
    pub fn none(user: &str) -> Rights {
        Rights {
            user: user.to_owned(),
            roles: Vec::new(),
            home: None,
            rows: Vec::new(),
        }
    }

    /// Whether the action is allowed on database `db` (`default` being the
    /// DBMS's default database, the home of users without one).
    pub fn allows(&self, action: &str, db: &str, default: &str) -> Allowed {
        let home = self.home.as_deref().unwrap_or(default);
        let covers = covering(action);
        let on = |p: &Privilege| {
            covers.contains(&p.action.as_str())
                && match p.graph.as_str() {
                    "*" => true,
                    "HOME" => home.eq_ignore_ascii_case(db),
                    named => named.eq_ignore_ascii_case(db),
                }
        };
        if self.rows.iter().any(|p| p.denied && on(p)) {
            Allowed::Denied
        } else if self.rows.iter().any(|p| !p.denied && on(p)) {
            Allowed::Granted
        } else {
            Allowed::Missing
        }
    }

    /// `user 'u' with roles [PUBLIC, editor]`, as Neo4j's messages name a
    /// user.
    pub fn describe(&self) -> String {
        format!(
            "user '{}' with roles [{}]",
            self.user,
            self.roles.join(", ")
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn boot() -> Security {
        let mut s = Security::default();
        s.apply(&Command::Bootstrap {
            user: "neo4j".into(),
            hash: "h".into(),
        })
        .unwrap();
        s
    }

    fn create(name: &str) -> Command {
        Command::CreateUser {
            name: name.into(),
            hash: "x".into(),
            change_required: true,
            suspended: false,
            home: None,
            replace: false,
            if_not_exists: false,
            by: Some("neo4j".into()),
        }
    }

    #[test]
    fn an_admin_is_recovered_only_where_no_one_can_log_in() {
        let recover = |user: &str| Command::RecoverAdmin {
            user: user.into(),
            hash: "real".into(),
        };
        // A usable user exists: nothing happens.
        let mut s = boot();
        assert!(s.apply(&recover("alice")).unwrap().no_effect);
        assert!(!s.users.contains_key("alice"));
        // Made without authentication: alice is made, with admin.
        let mut s = Security::default();
        s.apply(&Command::Bootstrap {
            user: "neo4j".into(),
            hash: crate::auth::UNSET_HASH.into(),
        })
        .unwrap();
        let mut plain = create("bob");
        if let Command::CreateUser { hash, .. } = &mut plain {
            *hash = crate::auth::UNSET_HASH.into();
        }
        s.apply(&plain).unwrap();
        // An existing name is never raised, whatever its state.
        assert!(s.apply(&recover("bob")).unwrap().no_effect);
        assert!(!s.users["bob"].roles.contains(ADMIN));
        s.roles.remove(ADMIN);
        assert!(!s.apply(&recover("alice")).unwrap().no_effect);
        assert!(s.users["alice"].roles.contains(ADMIN));
        assert!(s.roles.contains_key(ADMIN));
        assert!(s.rights("alice").is_some());
        // Now someone can log in: a second recovery does nothing.
        assert!(s.apply(&recover("carol")).unwrap().no_effect);
    }

    #[test]
    fn built_in_roles_hold_neo4j_s_privileges() {
        let s = boot();
        let count = |r: &str| s.roles[r].len();
        assert_eq!(
            BUILT_IN_ROLES.map(count),
            [4, 15, 10, 7, 8, 5],
            "PUBLIC, admin, architect, editor, publisher, reader"
        );
        let admin = s.rights("neo4j").unwrap();
        assert_eq!(admin.roles, ["PUBLIC", "admin"]);
        for action in ["access", "match", "write", "token", "index", "dbms_actions"] {
            assert_eq!(
                admin.allows(action, "neo4j", "neo4j"),
                Allowed::Granted,
                "{action}"
            );
        }
    }

    #[test]
    fn roles_grant_what_neo4j_s_built_in_roles_grant() {
        let mut s = boot();
        for (user, role) in [
            ("r", "reader"),
            ("e", "editor"),
            ("p", "publisher"),
            ("a", "architect"),
        ] {
            s.apply(&create(user)).unwrap();
            s.apply(&Command::GrantRoles {
                roles: vec![role.into()],
                users: vec![user.into()],
            })
            .unwrap();
        }
        s.apply(&create("nobody")).unwrap();
        let can = |u: &str, action: &str| {
            s.rights(u).unwrap().allows(action, "neo4j", "neo4j") == Allowed::Granted
        };
        let table = [
            // user, access, match, write, token, index, constraint, dbms
            ("nobody", [true, false, false, false, false, false, false]),
            ("r", [true, true, false, false, false, false, false]),
            ("e", [true, true, true, false, false, false, false]),
            ("p", [true, true, true, true, false, false, false]),
            ("a", [true, true, true, true, true, true, false]),
            ("neo4j", [true, true, true, true, true, true, true]),
        ];
        let actions = [
            "access",
            "match",
            "write",
            "token",
            "index",
            "constraint",
            "dbms_actions",
        ];
        for (user, expected) in table {
            let got = actions.map(|a| can(user, a));
            assert_eq!(got, expected, "{user}");
        }
        // PUBLIC reaches only the home database.
        let nobody = s.rights("nobody").unwrap();
        assert_eq!(nobody.allows("access", "other", "neo4j"), Allowed::Missing);
        assert_eq!(nobody.describe(), "user 'nobody' with roles [PUBLIC]");
        assert_eq!(
            s.rights("e").unwrap().describe(),
            "user 'e' with roles [PUBLIC, editor]"
        );
    }

    #[test]
    fn a_denial_beats_a_grant_and_revoke_removes_either() {
        let mut s = boot();
        s.apply(&create("u")).unwrap();
        s.apply(&Command::CreateRole {
            name: "custom".into(),
            copy_of: Some("editor".into()),
            replace: false,
            if_not_exists: false,
        })
        .unwrap();
        s.apply(&Command::GrantRoles {
            roles: vec!["custom".into()],
            users: vec!["u".into()],
        })
        .unwrap();
        let write = Privilege::row("write", "graph", "neo4j", "NODE(*)");
        let deny = Command::Privileges {
            op: PrivilegeOp::Deny,
            privileges: vec![write.clone()],
            roles: vec!["custom".into()],
        };
        s.apply(&deny).unwrap();
        let rights = s.rights("u").unwrap();
        assert_eq!(rights.allows("write", "neo4j", "neo4j"), Allowed::Denied);
        assert_eq!(rights.allows("write", "other", "neo4j"), Allowed::Granted);
        assert!(s.apply(&deny).unwrap().no_effect);
        s.apply(&Command::Privileges {
            op: PrivilegeOp::Revoke(Some(true)),
            privileges: vec![write],
            roles: vec!["custom".into()],
        })
        .unwrap();
        assert_eq!(
            s.rights("u").unwrap().allows("write", "neo4j", "neo4j"),
            Allowed::Granted
        );
    }

    #[test]
    fn commands_are_refused_with_neo4j_s_messages_and_change_nothing() {
        let mut s = boot();
        s.apply(&create("alice")).unwrap();
        let before = s.clone();
        let refused = |s: &mut Security, c: Command| s.apply(&c).unwrap_err().message;
        assert_eq!(
            refused(&mut s, create("alice")),
            "Failed to create the specified user 'alice': User already exists."
        );
        assert_eq!(
            refused(
                &mut s,
                Command::DropUser {
                    name: "neo4j".into(),
                    if_exists: false,
                    by: Some("neo4j".into())
                }
            ),
            "Failed to delete the specified user 'neo4j': Deleting yourself is not allowed."
        );
        assert_eq!(
            refused(
                &mut s,
                Command::DropRole {
                    name: "PUBLIC".into(),
                    if_exists: false
                }
            ),
            "Failed to delete the specified role 'PUBLIC': 'PUBLIC' is a reserved role."
        );
        assert_eq!(
            refused(
                &mut s,
                Command::GrantRoles {
                    roles: vec!["nosuch".into()],
                    users: vec!["alice".into()]
                }
            ),
            "Failed to grant role 'nosuch' to user 'alice': Role does not exist."
        );
        assert_eq!(
            refused(&mut s, create("a:b")).lines().next().unwrap(),
            "Username 'a:b' contains illegal characters."
        );
        assert_eq!(s, before);
        // IF NOT EXISTS / IF EXISTS change nothing and say so.
        let mut again = create("alice");
        if let Command::CreateUser { if_not_exists, .. } = &mut again {
            *if_not_exists = true;
        }
        assert!(s.apply(&again).unwrap().no_effect);
        assert!(
            s.apply(&Command::DropUser {
                name: "ghost".into(),
                if_exists: true,
                by: None
            })
            .unwrap()
            .no_effect
        );
        // A second bootstrap does nothing.
        assert!(
            s.apply(&Command::Bootstrap {
                user: "other".into(),
                hash: "h".into()
            })
            .unwrap()
            .no_effect
        );
        assert_eq!(s, before);
    }

    #[test]
    fn renames_carry_grants_and_suspension_removes_rights() {
        let mut s = boot();
        s.apply(&create("bob")).unwrap();
        s.apply(&Command::CreateRole {
            name: "ops".into(),
            copy_of: None,
            replace: false,
            if_not_exists: false,
        })
        .unwrap();
        s.apply(&Command::GrantRoles {
            roles: vec!["ops".into()],
            users: vec!["bob".into()],
        })
        .unwrap();
        s.apply(&Command::RenameRole {
            from: "ops".into(),
            to: "sre".into(),
            if_exists: false,
        })
        .unwrap();
        s.apply(&Command::RenameUser {
            from: "bob".into(),
            to: "robert".into(),
            if_exists: false,
        })
        .unwrap();
        assert_eq!(s.rights("robert").unwrap().roles, ["PUBLIC", "sre"]);
        assert!(s.rights("bob").is_none());
        s.apply(&Command::AlterUser {
            name: "robert".into(),
            if_exists: false,
            hash: None,
            change_required: None,
            suspended: Some(true),
            home: None,
            by: Some("neo4j".into()),
        })
        .unwrap();
        assert!(s.rights("robert").is_none());
        assert_eq!(
            s.apply(&Command::AlterUser {
                name: "neo4j".into(),
                if_exists: false,
                hash: None,
                change_required: None,
                suspended: Some(true),
                home: None,
                by: Some("neo4j".into()),
            })
            .unwrap_err()
            .message,
            "Failed to alter the specified user 'neo4j': Changing your own activation status is not allowed."
        );
    }

    #[test]
    fn names_and_passwords_follow_neo4j_s_rules() {
        assert!(check_user_name("alice@example.com").is_ok());
        assert!(check_user_name("has space").is_err());
        assert!(check_role_name("role_1").is_ok());
        assert!(check_role_name("1role").is_err());
        assert!(check_role_name("my%role").is_err());
        assert_eq!(
            check_password("").unwrap_err().message,
            "A password cannot be empty."
        );
        assert_eq!(
            check_password("short").unwrap_err().message,
            "A password must be at least 8 characters."
        );
        assert!(check_password("long enough").is_ok());
    }
}
