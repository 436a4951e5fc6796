use std::fmt;

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Declares [`Code`] and the list of all its variants from one list.
macro_rules! codes {
    ($($(#[$group:meta])* $name:ident,)*) => {
        /// The Neo4j status codes Causeway sends. Drivers classify errors by
        /// these strings (retryable or not, which exception class), so each
        /// variant maps to exactly the code Neo4j itself would send in the
        /// same situation.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum Code {
            $($(#[$group])* $name,)*
        }

        impl Code {
            /// Every code, so that a name can be mapped back to its code.
            pub const ALL: &'static [Code] = &[$(Code::$name,)*];
        }
    };
}

codes! {
    // Client errors: the request is wrong; retrying will not help.
    SyntaxError,
    SemanticError,
    TypeError,
    ArgumentError,
    ArithmeticError,
    /// A feature Neo4j has and Causeway does not (yet): refused, never
    /// downgraded to something else.
    UnsupportedOperation,
    ParameterMissing,
    EntityNotFound,
    NotSystemDatabaseError,
    /// An administration command this server does not run.
    UnsupportedAdministrationCommand,
    ConstraintValidationFailed,
    IndexAlreadyExists,
    EquivalentSchemaRuleAlreadyExists,
    ConstraintAlreadyExists,
    ProcedureNotFound,
    ProcedureCallFailed,
    DatabaseNotFound,
    Unauthorized,
    AuthenticationRateLimit,
    CredentialsExpired,
    Forbidden,
    ForbiddenReadOnly,
    RequestInvalid,
    RequestInvalidFormat,
    TransactionNotFound,
    InvalidBookmark,
    TransactionAccessModeForbidden,
    NotALeader,
    AccessMode,
    // Transient errors: drivers retry these in managed transactions.
    DeadlockDetected,
    LockAcquisitionTimeout,
    Outdated,
    BookmarkTimeout,
    LeaderSwitch,
    NoLeader,
    MemoryPoolOutOfMemory,
    TransactionTimedOut,
    Terminated,
    DatabaseUnavailable,
    // Database errors: our fault, or the outcome is unknown.
    TransactionCommitFailed,
    /// `CALL { } IN TRANSACTIONS` inside an explicit transaction.
    TransactionStartFailed,
    /// DROP INDEX / DROP CONSTRAINT of a rule that is not there (or not
    /// droppable): Neo4j 5 answers with these database errors, and
    /// libraries (LangChain) catch exactly that class.
    IndexDropFailed,
    ConstraintDropFailed,
    Unknown,
}

impl Code {
    /// The code Neo4j's name stands for, if it is one Causeway sends.
    pub fn from_name(name: &str) -> Option<Code> {
        Code::ALL.iter().copied().find(|c| c.as_str() == name)
    }

    pub fn as_str(self) -> &'static str {
        use Code::*;
        match self {
            SyntaxError => "Neo.ClientError.Statement.SyntaxError",
            SemanticError => "Neo.ClientError.Statement.SemanticError",
            TypeError => "Neo.ClientError.Statement.TypeError",
            ArgumentError => "Neo.ClientError.Statement.ArgumentError",
            ArithmeticError => "Neo.ClientError.Statement.ArithmeticError",
            UnsupportedOperation => "Neo.ClientError.Statement.UnsupportedOperationError",
            ParameterMissing => "Neo.ClientError.Statement.ParameterMissing",
            EntityNotFound => "Neo.ClientError.Statement.EntityNotFound",
            NotSystemDatabaseError => "Neo.ClientError.Statement.NotSystemDatabaseError",
            UnsupportedAdministrationCommand => {
                "Neo.ClientError.Statement.UnsupportedAdministrationCommand"
            }
            ConstraintValidationFailed => "Neo.ClientError.Schema.ConstraintValidationFailed",
            IndexAlreadyExists => "Neo.ClientError.Schema.IndexAlreadyExists",
            IndexDropFailed => "Neo.DatabaseError.Schema.IndexDropFailed",
            EquivalentSchemaRuleAlreadyExists => {
                "Neo.ClientError.Schema.EquivalentSchemaRuleAlreadyExists"
            }
            ConstraintAlreadyExists => "Neo.ClientError.Schema.ConstraintAlreadyExists",
            ConstraintDropFailed => "Neo.DatabaseError.Schema.ConstraintDropFailed",
            ProcedureNotFound => "Neo.ClientError.Procedure.ProcedureNotFound",
            ProcedureCallFailed => "Neo.ClientError.Procedure.ProcedureCallFailed",
            DatabaseNotFound => "Neo.ClientError.Database.DatabaseNotFound",
            Unauthorized => "Neo.ClientError.Security.Unauthorized",
            AuthenticationRateLimit => "Neo.ClientError.Security.AuthenticationRateLimit",
            Forbidden => "Neo.ClientError.Security.Forbidden",
            CredentialsExpired => "Neo.ClientError.Security.CredentialsExpired",
            ForbiddenReadOnly => "Neo.ClientError.General.ForbiddenOnReadOnlyDatabase",
            RequestInvalid => "Neo.ClientError.Request.Invalid",
            RequestInvalidFormat => "Neo.ClientError.Request.InvalidFormat",
            TransactionNotFound => "Neo.ClientError.Transaction.TransactionNotFound",
            InvalidBookmark => "Neo.ClientError.Transaction.InvalidBookmark",
            TransactionAccessModeForbidden => {
                "Neo.ClientError.Transaction.ForbiddenDueToTransactionType"
            }
            NotALeader => "Neo.ClientError.Cluster.NotALeader",
            AccessMode => "Neo.ClientError.Statement.AccessMode",
            DeadlockDetected => "Neo.TransientError.Transaction.DeadlockDetected",
            LockAcquisitionTimeout => "Neo.TransientError.Transaction.LockAcquisitionTimeout",
            Outdated => "Neo.TransientError.Transaction.Outdated",
            BookmarkTimeout => "Neo.TransientError.Transaction.BookmarkTimeout",
            LeaderSwitch => "Neo.TransientError.Transaction.LeaderSwitch",
            NoLeader => "Neo.TransientError.Cluster.NoLeaderAvailable",
            MemoryPoolOutOfMemory => "Neo.TransientError.General.MemoryPoolOutOfMemoryError",
            TransactionTimedOut => "Neo.ClientError.Transaction.TransactionTimedOut",
            Terminated => "Neo.ClientError.Transaction.Terminated",
            DatabaseUnavailable => "Neo.TransientError.General.DatabaseUnavailable",
            TransactionCommitFailed => "Neo.DatabaseError.Transaction.TransactionCommitFailed",
            TransactionStartFailed => "Neo.DatabaseError.Transaction.TransactionStartFailed",
            Unknown => "Neo.DatabaseError.General.UnknownError",
        }
    }

    /// The GQLSTATUS that Bolt 5.7+ FAILURE messages carry beside the code.
    pub fn gql_status(self) -> &'static str {
        use Code::*;
        match self {
            SyntaxError => "42001",
            SemanticError => "42N00",
            TypeError => "22G03",
            ArgumentError | ParameterMissing => "22N00",
            ArithmeticError => "22012",
            ConstraintValidationFailed => "22N77",
            DatabaseNotFound => "22N51",
            Unauthorized | Forbidden => "42NFF",
            CredentialsExpired => "42NFD",
            ProcedureNotFound => "42N08",
            // "not supported in this version"
            UnsupportedOperation => "51N26",
            NotALeader | NoLeader | LeaderSwitch | DatabaseUnavailable => "08N09",
            _ => "50N42",
        }
    }

    /// `CLIENT_ERROR`, `TRANSIENT_ERROR` or `DATABASE_ERROR`.
    pub fn classification(self) -> &'static str {
        let s = self.as_str();
        if s.starts_with("Neo.TransientError") {
            "TRANSIENT_ERROR"
        } else if s.starts_with("Neo.DatabaseError") {
            "DATABASE_ERROR"
        } else {
            "CLIENT_ERROR"
        }
    }
}

/// When an error was detected: the TCK distinguishes compile-time errors from
/// runtime ones, and so do operators reading logs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    Compile,
    Runtime,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Error {
    pub code: Code,
    pub message: String,
    pub phase: Phase,
    /// openCypher's name for the error detail (`UndefinedVariable`,
    /// `InvalidArgumentType`, ...), when there is one.
    pub detail: Option<&'static str>,
}

impl Error {
    pub fn new(code: Code, message: impl Into<String>) -> Self {
        Error {
            code,
            message: message.into(),
            phase: Phase::Runtime,
            detail: None,
        }
    }

    pub fn compile(code: Code, detail: &'static str, message: impl Into<String>) -> Self {
        Error {
            code,
            message: message.into(),
            phase: Phase::Compile,
            detail: Some(detail),
        }
    }

    pub fn runtime(code: Code, detail: &'static str, message: impl Into<String>) -> Self {
        Error {
            code,
            message: message.into(),
            phase: Phase::Runtime,
            detail: Some(detail),
        }
    }

    pub fn is_transient(&self) -> bool {
        self.code.classification() == "TRANSIENT_ERROR"
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code.as_str(), self.message)
    }
}

impl std::error::Error for Error {}

#[cfg(test)]
mod tests {
    use super::Code;

    #[test]
    fn every_code_round_trips_through_its_name() {
        for &c in Code::ALL {
            assert_eq!(Code::from_name(c.as_str()), Some(c));
        }
        assert_eq!(Code::from_name("Neo.ClientError.Nope.Nope"), None);
    }
}
