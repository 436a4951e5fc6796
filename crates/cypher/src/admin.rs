//! Parsing of user, role and privilege commands (`CREATE USER`, `GRANT
//! ROLE`, `GRANT MATCH {*} ON GRAPH * TO r`, ...) and of the SHOW forms
//! that list them.

use crate::ast::*;
use crate::lexer::Tok;
use crate::parser::Parser;
use causeway_value::Result;

impl Parser<'_> {
    /// Whether the statement ahead is an administration command.
    pub(crate) fn admin_ahead(&self) -> bool {
        let user_or_role = |n: usize| self.kw_at(n, "USER") || self.kw_at(n, "ROLE");
        if self.at_kw("CREATE") {
            return user_or_role(1)
                || (self.kw_at(1, "OR") && self.kw_at(2, "REPLACE"))
                || (self.kw_at(1, "IMMUTABLE") && self.kw_at(2, "ROLE"));
        }
        if self.at_kw("DROP") || self.at_kw("RENAME") {
            return user_or_role(1);
        }
        if self.at_kw("ALTER") {
            return self.kw_at(1, "USER") || (self.kw_at(1, "CURRENT") && self.kw_at(2, "USER"));
        }
        self.at_kw("GRANT") || self.at_kw("DENY") || self.at_kw("REVOKE")
    }

    pub(crate) fn admin(&mut self) -> Result<AdminCommand> {
        if self.eat_kw("CREATE") {
            let replace = if self.eat_kw("OR") {
                self.expect_kw("REPLACE")?;
                true
            } else {
                false
            };
            if self.eat_kw("USER") {
                return self.user_spec(true, replace).map(AdminCommand::CreateUser);
            }
            if self.at_kw("IMMUTABLE") {
                return Err(
                    self.unexpected("'ROLE' (IMMUTABLE roles need authentication disabled)")
                );
            }
            self.expect_kw("ROLE")?;
            let name = self.schema_name()?;
            let if_not_exists = self.if_not_exists()?;
            let copy_of = if self.eat_kw("AS") {
                self.expect_kw("COPY")?;
                self.expect_kw("OF")?;
                Some(self.schema_name()?)
            } else {
                None
            };
            return Ok(AdminCommand::CreateRole {
                name,
                replace,
                if_not_exists,
                copy_of,
            });
        }
        if self.eat_kw("DROP") {
            let user = self.eat_kw("USER");
            if !user {
                self.expect_kw("ROLE")?;
            }
            let name = self.schema_name()?;
            let if_exists = self.if_exists()?;
            return Ok(if user {
                AdminCommand::DropUser { name, if_exists }
            } else {
                AdminCommand::DropRole { name, if_exists }
            });
        }
        if self.eat_kw("RENAME") {
            let user = self.eat_kw("USER");
            if !user {
                self.expect_kw("ROLE")?;
            }
            let from = self.schema_name()?;
            let if_exists = self.if_exists()?;
            self.expect_kw("TO")?;
            let to = self.schema_name()?;
            return Ok(if user {
                AdminCommand::RenameUser {
                    from,
                    to,
                    if_exists,
                }
            } else {
                AdminCommand::RenameRole {
                    from,
                    to,
                    if_exists,
                }
            });
        }
        if self.eat_kw("ALTER") {
            if self.eat_kw("CURRENT") {
                self.expect_kw("USER")?;
                self.expect_kw("SET")?;
                self.expect_kw("PASSWORD")?;
                self.expect_kw("FROM")?;
                let old = self.password_expr()?;
                self.expect_kw("TO")?;
                let new = self.password_expr()?;
                return Ok(AdminCommand::AlterCurrentUser { old, new });
            }
            self.expect_kw("USER")?;
            return self.user_spec(false, false).map(AdminCommand::AlterUser);
        }
        let op = if self.eat_kw("GRANT") {
            PrivilegeOp::Grant
        } else if self.eat_kw("DENY") {
            PrivilegeOp::Deny
        } else {
            self.expect_kw("REVOKE")?;
            if self.eat_kw("GRANT") {
                PrivilegeOp::Revoke(Some(false))
            } else if self.eat_kw("DENY") {
                PrivilegeOp::Revoke(Some(true))
            } else {
                PrivilegeOp::Revoke(None)
            }
        };
        if self.at_kw("IMMUTABLE") {
            return Err(
                self.unexpected("a privilege (IMMUTABLE privileges need authentication disabled)")
            );
        }
        let roles_ahead = (self.at_kw("ROLE") || self.at_kw("ROLES"))
            && !matches!(op, PrivilegeOp::Deny | PrivilegeOp::Revoke(Some(_)));
        if roles_ahead {
            self.bump();
            let roles = self.name_list()?;
            let users = if op == PrivilegeOp::Grant {
                self.expect_kw("TO")?;
                self.name_list()?
            } else {
                self.expect_kw("FROM")?;
                self.name_list()?
            };
            return Ok(if op == PrivilegeOp::Grant {
                AdminCommand::GrantRoles { roles, users }
            } else {
                AdminCommand::RevokeRoles { roles, users }
            });
        }
        let (privilege, graph) = self.privilege_kind()?;
        self.expect_kw("ON")?;
        let scope = self.privilege_scope(graph)?;
        let segments = if graph {
            self.graph_segments()?
        } else {
            Vec::new()
        };
        if matches!(op, PrivilegeOp::Revoke(_)) {
            self.expect_kw("FROM")?;
        } else {
            self.expect_kw("TO")?;
        }
        let roles = self.name_list()?;
        Ok(AdminCommand::Privilege {
            op,
            privilege,
            scope,
            segments,
            roles,
        })
    }

    fn if_exists(&mut self) -> Result<bool> {
        if self.eat_kw("IF") {
            self.expect_kw("EXISTS")?;
            return Ok(true);
        }
        Ok(false)
    }

    fn if_not_exists(&mut self) -> Result<bool> {
        if self.eat_kw("IF") {
            self.expect_kw("NOT")?;
            self.expect_kw("EXISTS")?;
            return Ok(true);
        }
        Ok(false)
    }

    fn name_list(&mut self) -> Result<Vec<SchemaName>> {
        let mut names = vec![self.schema_name()?];
        while self.eat(&Tok::Comma) {
            names.push(self.schema_name()?);
        }
        Ok(names)
    }

    /// A password: a string literal or a parameter.
    fn password_expr(&mut self) -> Result<Expr> {
        match self.peek().tok.clone() {
            Tok::Str(s) => {
                self.bump();
                Ok(Expr::Literal(Literal::String(s)))
            }
            Tok::Param(p) => {
                self.bump();
                Ok(Expr::Parameter(p))
            }
            _ => Err(self.unexpected("a string or a parameter")),
        }
    }

    fn user_spec(&mut self, create: bool, replace: bool) -> Result<UserSpec> {
        let name = self.schema_name()?;
        let mut spec = UserSpec {
            name,
            replace,
            if_not_exists: false,
            if_exists: false,
            password: None,
            change_required: None,
            suspended: None,
            home: None,
        };
        if create {
            spec.if_not_exists = self.if_not_exists()?;
        } else {
            spec.if_exists = self.if_exists()?;
            while self.eat_kw("REMOVE") {
                if self.eat_kw("HOME") {
                    self.expect_kw("DATABASE")?;
                    spec.home = Some(None);
                } else {
                    return Err(self.unexpected(
                        "'HOME DATABASE' (authentication providers are not supported)",
                    ));
                }
            }
        }
        let mut any = spec.home.is_some();
        loop {
            if self.at_kw("CHANGE") {
                spec.change_required = Some(self.change_required()?);
            } else if self.eat_kw("SET") {
                if self.eat_kw("PLAINTEXT") || self.at_kw("ENCRYPTED") {
                    let encrypted = self.eat_kw("ENCRYPTED");
                    self.expect_kw("PASSWORD")?;
                    spec.password = Some((self.password_expr()?, encrypted));
                } else if self.eat_kw("PASSWORD") {
                    if self.at_kw("CHANGE") {
                        spec.change_required = Some(self.change_required()?);
                        any = true;
                        continue;
                    }
                    spec.password = Some((self.password_expr()?, false));
                    if self.at_kw("CHANGE") {
                        spec.change_required = Some(self.change_required()?);
                    }
                } else if self.eat_kw("STATUS") {
                    spec.suspended = Some(if self.eat_kw("SUSPENDED") {
                        true
                    } else {
                        self.expect_kw("ACTIVE")?;
                        false
                    });
                } else if self.eat_kw("HOME") {
                    self.expect_kw("DATABASE")?;
                    spec.home = Some(Some(self.schema_name()?));
                } else if self.at_kw("AUTH") {
                    return Err(self.unexpected("'PASSWORD', 'STATUS' or 'HOME DATABASE' (authentication providers are not supported)"));
                } else {
                    return Err(self.unexpected("'PASSWORD', 'STATUS' or 'HOME DATABASE'"));
                }
            } else {
                break;
            }
            any = true;
        }
        if create && spec.password.is_none() {
            return Err(self.unexpected("'SET PASSWORD'"));
        }
        if !create && !any {
            return Err(self.unexpected("'SET' or 'REMOVE'"));
        }
        Ok(spec)
    }

    /// `CHANGE [NOT] REQUIRED`.
    fn change_required(&mut self) -> Result<bool> {
        self.expect_kw("CHANGE")?;
        let not = self.eat_kw("NOT");
        self.expect_kw("REQUIRED")?;
        Ok(!not)
    }

    /// The privilege and whether it is a graph privilege.
    fn privilege_kind(&mut self) -> Result<(PrivilegeKind, bool)> {
        let kind = if self.eat_kw("ACCESS") {
            PrivilegeKind::Access
        } else if self.eat_kw("START") {
            PrivilegeKind::Start
        } else if self.eat_kw("STOP") {
            PrivilegeKind::Stop
        } else if self.eat_kw("TRAVERSE") {
            return Ok((PrivilegeKind::Traverse, true));
        } else if self.at_kw("READ") || self.at_kw("MATCH") {
            let read = self.eat_kw("READ");
            if !read {
                self.bump();
            }
            self.expect(&Tok::LBrace, "'{'")?;
            if !self.eat(&Tok::Star) {
                let mut props = vec![self.name("a property name")?];
                while self.eat(&Tok::Comma) {
                    props.push(self.name("a property name")?);
                }
                self.expect(&Tok::RBrace, "'}'")?;
                let what = if read { "READ" } else { "MATCH" };
                return Ok((
                    PrivilegeKind::Other(format!("{what} {{{}}}", props.join(", "))),
                    true,
                ));
            }
            self.expect(&Tok::RBrace, "'}'")?;
            return Ok((
                if read {
                    PrivilegeKind::Read
                } else {
                    PrivilegeKind::Match
                },
                true,
            ));
        } else if self.eat_kw("WRITE") {
            return Ok((PrivilegeKind::Write, true));
        } else if self.at_kw("NAME") {
            self.bump();
            self.eat_kw("MANAGEMENT");
            PrivilegeKind::NameManagement
        } else if self.at_kw("INDEX") || self.at_kw("INDEXES") {
            self.bump();
            self.eat_kw("MANAGEMENT");
            PrivilegeKind::IndexManagement
        } else if self.at_kw("CONSTRAINT") || self.at_kw("CONSTRAINTS") {
            self.bump();
            self.eat_kw("MANAGEMENT");
            PrivilegeKind::ConstraintManagement
        } else if self.at_kw("SHOW") && (self.kw_at(1, "INDEX") || self.kw_at(1, "INDEXES")) {
            self.bump();
            self.bump();
            PrivilegeKind::ShowIndex
        } else if self.at_kw("SHOW")
            && (self.kw_at(1, "CONSTRAINT") || self.kw_at(1, "CONSTRAINTS"))
        {
            self.bump();
            self.bump();
            PrivilegeKind::ShowConstraint
        } else if self.at_kw("TRANSACTION") {
            self.bump();
            self.eat_kw("MANAGEMENT");
            if self.eat(&Tok::LParen) {
                if !self.eat(&Tok::Star) {
                    let users = self.name_list()?;
                    self.expect(&Tok::RParen, "')'")?;
                    let names: Vec<String> = users
                        .iter()
                        .map(|u| match u {
                            SchemaName::Given(n) => n.clone(),
                            SchemaName::Param(p) => format!("${p}"),
                        })
                        .collect();
                    return Ok((
                        PrivilegeKind::Other(format!(
                            "TRANSACTION MANAGEMENT ({})",
                            names.join(", ")
                        )),
                        false,
                    ));
                }
                self.expect(&Tok::RParen, "')'")?;
            }
            PrivilegeKind::TransactionManagement
        } else if self.eat_kw("ALL") {
            let dbms = self.eat_kw("DBMS");
            let database = !dbms && self.eat_kw("DATABASE");
            let graph = !dbms && !database && self.eat_kw("GRAPH");
            self.eat_kw("PRIVILEGES");
            if graph {
                return Ok((PrivilegeKind::Other("ALL GRAPH PRIVILEGES".into()), true));
            }
            if dbms || self.kw_at(1, "DBMS") {
                PrivilegeKind::AllDbms
            } else {
                PrivilegeKind::AllDatabase
            }
        } else if self.at_kw("LOAD")
            && self.kw_at(1, "ON")
            && self.kw_at(2, "ALL")
            && self.kw_at(3, "DATA")
        {
            self.bump();
            PrivilegeKind::Load
        } else if let Some((kind, words)) = self.execute_all() {
            for _ in 0..words {
                self.bump();
            }
            kind
        } else {
            // Every other privilege Neo4j knows: its words up to ON, kept
            // so the refusal can name it.
            let mut words = Vec::new();
            while !self.at_kw("ON") && !matches!(self.peek().tok, Tok::Eof | Tok::Semicolon) {
                words.push(self.text(self.peek()).to_ascii_uppercase());
                self.bump();
            }
            if words.is_empty() {
                return Err(self.unexpected("a privilege"));
            }
            let graph = self.kw_at(1, "GRAPH")
                || self.kw_at(1, "GRAPHS")
                || (self.kw_at(1, "HOME") && self.kw_at(2, "GRAPH"));
            return Ok((PrivilegeKind::Other(words.join(" ")), graph));
        };
        Ok((kind, false))
    }

    /// `EXECUTE PROCEDURE[S] *` or `EXECUTE [USER [DEFINED]] FUNCTION[S] *`
    /// (the forms the built-in roles hold), with how many tokens they take.
    fn execute_all(&self) -> Option<(PrivilegeKind, usize)> {
        if !self.at_kw("EXECUTE") {
            return None;
        }
        let mut n = 1;
        let kind = if self.kw_at(n, "PROCEDURE") || self.kw_at(n, "PROCEDURES") {
            PrivilegeKind::ExecuteProcedures
        } else {
            if self.kw_at(n, "USER") {
                n += 1;
                if self.kw_at(n, "DEFINED") {
                    n += 1;
                }
            }
            if !(self.kw_at(n, "FUNCTION") || self.kw_at(n, "FUNCTIONS")) {
                return None;
            }
            PrivilegeKind::ExecuteFunctions
        };
        n += 1;
        (self.peek_at(n).tok == Tok::Star && self.kw_at(n + 1, "ON")).then_some((kind, n + 1))
    }

    fn privilege_scope(&mut self, graph: bool) -> Result<PrivilegeScope> {
        if self.eat_kw("DBMS") {
            return Ok(PrivilegeScope::Dbms);
        }
        // `LOAD ON ALL DATA`: the whole DBMS's data.
        if self.at_kw("ALL") && self.kw_at(1, "DATA") {
            self.bump();
            self.bump();
            return Ok(PrivilegeScope::Dbms);
        }
        if self.eat_kw("HOME") {
            if !(self.eat_kw("DATABASE") || self.eat_kw("GRAPH")) {
                return Err(self.unexpected("'DATABASE' or 'GRAPH'"));
            }
            return Ok(PrivilegeScope::Home);
        }
        if self.at_kw("DEFAULT") {
            let t = self.peek().clone();
            let what = if graph { "GRAPH" } else { "DATABASE" };
            return Err(self.error_at(
                &t,
                "UnexpectedSyntax",
                format!("`ON DEFAULT {what}` is not supported. Use `ON HOME {what}` instead."),
            ));
        }
        let ok = if graph {
            self.eat_kw("GRAPH") || self.eat_kw("GRAPHS")
        } else {
            self.eat_kw("DATABASE") || self.eat_kw("DATABASES")
        };
        if !ok {
            return Err(self.unexpected(if graph {
                "'GRAPH', 'GRAPHS' or 'HOME GRAPH'"
            } else {
                "'DATABASE', 'DATABASES', 'HOME DATABASE' or 'DBMS'"
            }));
        }
        if self.eat(&Tok::Star) {
            return Ok(PrivilegeScope::Named(None));
        }
        Ok(PrivilegeScope::Named(Some(self.name_list()?)))
    }

    /// `ELEMENTS *`, `NODES *`, `RELATIONSHIPS *` (default: every element).
    /// Named labels or types are refused: Causeway grants graph privileges
    /// on whole graphs only.
    fn graph_segments(&mut self) -> Result<Vec<&'static str>> {
        let (nodes, rels) = if self.at_kw("ELEMENT") || self.at_kw("ELEMENTS") {
            (true, true)
        } else if self.at_kw("NODE") || self.at_kw("NODES") {
            (true, false)
        } else if self.at_kw("RELATIONSHIP") || self.at_kw("RELATIONSHIPS") {
            (false, true)
        } else if self.at_kw("FOR") {
            return Err(self.unexpected("'TO' (property-based access control is not supported)"));
        } else {
            return Ok(vec!["NODE(*)", "RELATIONSHIP(*)"]);
        };
        self.bump();
        if !self.eat(&Tok::Star) {
            return Err(self.unexpected(
                "'*' (privileges on single labels or types are not supported: grant on every element)",
            ));
        }
        let mut segments = Vec::new();
        if nodes {
            segments.push("NODE(*)");
        }
        if rels {
            segments.push("RELATIONSHIP(*)");
        }
        Ok(segments)
    }

    /// `SHOW [ALL | POPULATED] ROLES [WITH USERS]` and the PRIVILEGES forms,
    /// once `SHOW` and any `ALL`/`POPULATED` are behind.
    pub(crate) fn show_security(
        &mut self,
        word: &str,
        populated: bool,
    ) -> Result<Option<ShowKind>> {
        match word {
            "ROLE" | "ROLES" => {
                self.bump();
                // `SHOW ROLE r PRIVILEGES`.
                if !self.at_kw("WITH")
                    && !self.at_kw("YIELD")
                    && !self.at_kw("WHERE")
                    && !matches!(self.peek().tok, Tok::Eof | Tok::Semicolon)
                {
                    let roles = self.name_list()?;
                    return self.privileges_tail(PrivilegesOf::Roles(roles)).map(Some);
                }
                let with_users = if self.eat_kw("WITH") {
                    if !(self.eat_kw("USER") || self.eat_kw("USERS")) {
                        return Err(self.unexpected("'USERS'"));
                    }
                    true
                } else {
                    false
                };
                Ok(Some(ShowKind::Roles {
                    populated,
                    with_users,
                }))
            }
            "PRIVILEGE" | "PRIVILEGES" => {
                self.bump();
                self.privileges_as(PrivilegesOf::All).map(Some)
            }
            "USER" | "USERS" if !self.kw_at(1, "DEFINED") => {
                let plural = word == "USERS";
                let after = self.peek_at(1).clone();
                let next_word = |p: &Self| p.text(&after).to_ascii_uppercase();
                if after.tok == Tok::Ident
                    && matches!(next_word(self).as_str(), "PRIVILEGE" | "PRIVILEGES")
                {
                    self.bump();
                    return self.privileges_tail(PrivilegesOf::Users(None)).map(Some);
                }
                let named = matches!(after.tok, Tok::QuotedIdent(_) | Tok::Param(_))
                    || (after.tok == Tok::Ident
                        && !matches!(next_word(self).as_str(), "YIELD" | "WHERE" | "WITH"));
                if named {
                    self.bump();
                    let users = self.name_list()?;
                    return self
                        .privileges_tail(PrivilegesOf::Users(Some(users)))
                        .map(Some);
                }
                if !plural {
                    return Err(self.unexpected("'PRIVILEGES'"));
                }
                if self.kw_at(1, "WITH") {
                    self.bump();
                    return Err(self.unexpected(
                        "'YIELD' or 'WHERE' (authentication providers are not supported)",
                    ));
                }
                Ok(None)
            }
            _ => Ok(None),
        }
    }

    fn privileges_tail(&mut self, of: PrivilegesOf) -> Result<ShowKind> {
        if !(self.eat_kw("PRIVILEGE") || self.eat_kw("PRIVILEGES")) {
            return Err(self.unexpected("'PRIVILEGES'"));
        }
        self.privileges_as(of)
    }

    fn privileges_as(&mut self, of: PrivilegesOf) -> Result<ShowKind> {
        let as_commands = if self.eat_kw("AS") {
            let revoke = self.eat_kw("REVOKE");
            if !(self.eat_kw("COMMAND") || self.eat_kw("COMMANDS")) {
                return Err(self.unexpected("'COMMANDS'"));
            }
            Some(revoke)
        } else {
            None
        };
        Ok(ShowKind::Privileges { of, as_commands })
    }
}
