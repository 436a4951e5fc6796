//! Bolt request and response messages and their wire forms.

use std::time::Duration;

use causeway_value::{Code, Error, Map, Value};

use crate::backend::{AccessMode, AuthToken, Forward, AUTO_COMMIT_KEY, FORWARD_KEY};
use crate::chunk;
use crate::handshake::Version;
use crate::packstream::{
    DecodeOptions, GraphShape, Packer, Unpacker, MAX_NESTING_DEPTH, MAX_VALUES_PER_MESSAGE,
};

/// Message tags.
pub mod tag {
    pub const HELLO: u8 = 0x01;
    pub const GOODBYE: u8 = 0x02;
    pub const RESET: u8 = 0x0F;
    pub const RUN: u8 = 0x10;
    pub const BEGIN: u8 = 0x11;
    pub const COMMIT: u8 = 0x12;
    pub const ROLLBACK: u8 = 0x13;
    pub const DISCARD: u8 = 0x2F;
    pub const PULL: u8 = 0x3F;
    pub const TELEMETRY: u8 = 0x54;
    pub const ROUTE: u8 = 0x66;
    pub const LOGON: u8 = 0x6A;
    pub const LOGOFF: u8 = 0x6B;
    pub const SUCCESS: u8 = 0x70;
    pub const RECORD: u8 = 0x71;
    pub const IGNORED: u8 = 0x7E;
    pub const FAILURE: u8 = 0x7F;
}

/// HELLO, with the keys we act on pulled out.
#[derive(Clone, Debug, PartialEq)]
pub struct Hello {
    pub user_agent: Option<String>,
    /// `Some` when the client connected with `neo4j://` (routing allowed).
    pub routing: Option<Map>,
    /// Bolt ≤ 5.0 only: the auth keys (`scheme`, `principal`, ...).
    pub auth: Option<AuthToken>,
    pub patch_bolt: Vec<String>,
    /// The whole map, for logging and future keys.
    pub extra: Map,
}

/// Transaction settings from BEGIN or an auto-commit RUN.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct TxExtra {
    pub bookmarks: Vec<String>,
    pub tx_timeout: Option<Duration>,
    pub tx_metadata: Map,
    pub mode: Option<AccessMode>,
    pub db: Option<String>,
    pub imp_user: Option<String>,
    pub forward: Option<Forward>,
}

/// `n` and `qid` of PULL and DISCARD.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StreamArgs {
    /// Number of records; -1 = all.
    pub n: i64,
    /// Statement id; -1 = the most recent one.
    pub qid: i64,
}

#[derive(Clone, Debug, PartialEq)]
pub struct RouteArgs {
    pub routing: Map,
    pub bookmarks: Vec<String>,
    pub db: Option<String>,
    pub imp_user: Option<String>,
}

/// A decoded client request.
#[derive(Clone, Debug, PartialEq)]
pub enum Request {
    Hello(Hello),
    Logon(AuthToken),
    Logoff,
    Goodbye,
    Reset,
    Run {
        query: String,
        params: Map,
        extra: TxExtra,
    },
    Begin(TxExtra),
    Commit,
    Rollback,
    Discard(StreamArgs),
    Pull(StreamArgs),
    Telemetry(i64),
    Route(RouteArgs),
}

impl Request {
    pub fn name(&self) -> &'static str {
        match self {
            Request::Hello(_) => "HELLO",
            Request::Logon(_) => "LOGON",
            Request::Logoff => "LOGOFF",
            Request::Goodbye => "GOODBYE",
            Request::Reset => "RESET",
            Request::Run { .. } => "RUN",
            Request::Begin(_) => "BEGIN",
            Request::Commit => "COMMIT",
            Request::Rollback => "ROLLBACK",
            Request::Discard(_) => "DISCARD",
            Request::Pull(_) => "PULL",
            Request::Telemetry(_) => "TELEMETRY",
            Request::Route(_) => "ROUTE",
        }
    }
}

/// A decoding failure, and whether the connection can survive it.
#[derive(Clone, Debug, PartialEq)]
pub struct DecodeError {
    pub error: Error,
    /// True for protocol violations (unknown message, wrong arity, fields of
    /// the wrong type): the connection is closed after the FAILURE. False when
    /// the message was well-formed but a value inside it is unacceptable
    /// (an unsupported parameter type, a bad `extra` entry): the request
    /// fails and the connection enters FAILED, recoverable with RESET.
    pub fatal: bool,
}

fn invalid(msg: impl Into<String>) -> DecodeError {
    DecodeError {
        error: Error::new(Code::RequestInvalid, msg),
        fatal: true,
    }
}

/// A well-formed message with an unacceptable value in it (a negative
/// `tx_timeout`, a PULL without `n`, ...): the request fails, the connection
/// survives.
fn bad_value(msg: impl Into<String>) -> DecodeError {
    DecodeError {
        error: Error::new(Code::RequestInvalid, msg),
        fatal: false,
    }
}

fn shape_of(version: Version) -> GraphShape {
    if version.has_element_ids() {
        GraphShape::V5
    } else {
        GraphShape::V4
    }
}

/// Bounds on what one request may make the decoder build.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DecodeLimits {
    pub max_depth: usize,
    pub max_values: usize,
}

impl Default for DecodeLimits {
    fn default() -> Self {
        DecodeLimits {
            max_depth: MAX_NESTING_DEPTH,
            max_values: MAX_VALUES_PER_MESSAGE,
        }
    }
}

/// Decodes one reassembled message (the bytes between chunk framing).
/// Never panics, whatever the input.
pub fn decode_message(bytes: &[u8], version: Version) -> Result<Request, Error> {
    decode_request(bytes, version, DecodeLimits::default()).map_err(|e| e.error)
}

/// [`decode_message`] with configurable limits and the fatality flag.
pub fn decode_request(
    bytes: &[u8],
    version: Version,
    limits: DecodeLimits,
) -> Result<Request, DecodeError> {
    let opts = DecodeOptions {
        max_depth: limits.max_depth,
        max_values: limits.max_values,
        graph_structs: false,
        shape: shape_of(version),
    };
    let mut u = Unpacker::new(bytes, opts);
    let (fields, t) = u.struct_header().map_err(|e| invalid(e.message))?;
    let allowed = match t {
        tag::HELLO
        | tag::GOODBYE
        | tag::RESET
        | tag::RUN
        | tag::BEGIN
        | tag::COMMIT
        | tag::ROLLBACK
        | tag::DISCARD
        | tag::PULL => true,
        tag::ROUTE => version.has_route(),
        tag::LOGON | tag::LOGOFF => version.has_logon(),
        tag::TELEMETRY => version.has_telemetry(),
        _ => false,
    };
    if !allowed {
        return Err(invalid(format!(
            "message 0x{t:02X} is not a request of Bolt {version}"
        )));
    }
    let arity = match t {
        tag::HELLO | tag::BEGIN | tag::DISCARD | tag::PULL | tag::LOGON | tag::TELEMETRY => 1,
        tag::RUN | tag::ROUTE => 3,
        _ => 0,
    };
    if fields != arity {
        return Err(invalid(format!(
            "message 0x{t:02X} has {fields} fields, expected {arity}"
        )));
    }
    let mut values = Vec::with_capacity(arity);
    for _ in 0..arity {
        values.push(u.value().map_err(|error| DecodeError {
            fatal: false,
            error,
        })?);
    }
    if !u.is_empty() {
        return Err(invalid("trailing bytes after message"));
    }
    let mut values = values.into_iter();
    let mut next = || values.next().unwrap_or(Value::Null);
    let req = match t {
        tag::HELLO => Request::Hello(hello(expect_map(next(), "HELLO extra")?, version)?),
        tag::GOODBYE => Request::Goodbye,
        tag::RESET => Request::Reset,
        tag::RUN => {
            let query = match next() {
                Value::String(s) => s,
                other => {
                    return Err(invalid(format!(
                        "RUN query must be a string, found {}",
                        other.type_name()
                    )))
                }
            };
            let params = match next() {
                Value::Null => Map::new(),
                v => expect_map(v, "RUN parameters")?,
            };
            let extra = tx_extra(expect_map_or_null(next(), "RUN extra")?)?;
            Request::Run {
                query,
                params,
                extra,
            }
        }
        tag::BEGIN => Request::Begin(tx_extra(expect_map_or_null(next(), "BEGIN extra")?)?),
        tag::COMMIT => Request::Commit,
        tag::ROLLBACK => Request::Rollback,
        tag::DISCARD => Request::Discard(stream_args(expect_map(next(), "DISCARD extra")?)?),
        tag::PULL => Request::Pull(stream_args(expect_map(next(), "PULL extra")?)?),
        tag::TELEMETRY => match next() {
            Value::Int(api) => Request::Telemetry(api),
            other => {
                return Err(invalid(format!(
                    "TELEMETRY api must be an integer, found {}",
                    other.type_name()
                )))
            }
        },
        tag::ROUTE => {
            let routing = expect_map_or_null(next(), "ROUTE routing")?;
            let bookmarks = match next() {
                Value::Null => Vec::new(),
                v => string_list(v, "ROUTE bookmarks")?,
            };
            // 4.3 sends a bare database name, 4.4+ a map. Accept either
            // shape in any version: misreading the map as a string is the
            // bug that broke other servers.
            let (db, imp_user) = match next() {
                Value::Null => (None, None),
                Value::String(s) => (non_empty(s), None),
                Value::Map(mut m) => (
                    opt_string(m.remove("db"), "ROUTE db")?,
                    opt_string(m.remove("imp_user"), "ROUTE imp_user")?,
                ),
                other => {
                    return Err(invalid(format!(
                        "ROUTE database must be a string or map, found {}",
                        other.type_name()
                    )))
                }
            };
            Request::Route(RouteArgs {
                routing,
                bookmarks,
                db,
                imp_user,
            })
        }
        tag::LOGON => Request::Logon(auth_token(expect_map(next(), "LOGON auth")?)?),
        _ => Request::Logoff,
    };
    Ok(req)
}

fn expect_map(v: Value, what: &str) -> Result<Map, DecodeError> {
    match v {
        Value::Map(m) => Ok(m),
        other => Err(invalid(format!(
            "{what} must be a map, found {}",
            other.type_name()
        ))),
    }
}

fn expect_map_or_null(v: Value, what: &str) -> Result<Map, DecodeError> {
    match v {
        Value::Null => Ok(Map::new()),
        v => expect_map(v, what),
    }
}

fn non_empty(s: String) -> Option<String> {
    if s.is_empty() {
        None
    } else {
        Some(s)
    }
}

/// Absent, null and "" all mean "not given".
fn opt_string(v: Option<Value>, what: &str) -> Result<Option<String>, DecodeError> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(non_empty(s)),
        Some(other) => Err(bad_value(format!(
            "{what} must be a string, found {}",
            other.type_name()
        ))),
    }
}

fn string_list(v: Value, what: &str) -> Result<Vec<String>, DecodeError> {
    match v {
        Value::List(items) => items
            .into_iter()
            .map(|i| match i {
                Value::String(s) => Ok(s),
                other => Err(bad_value(format!(
                    "{what} must contain strings, found {}",
                    other.type_name()
                ))),
            })
            .collect(),
        other => Err(bad_value(format!(
            "{what} must be a list, found {}",
            other.type_name()
        ))),
    }
}

fn auth_token(mut m: Map) -> Result<AuthToken, DecodeError> {
    // An auth map without a scheme is how Python says "no auth".
    let scheme = opt_string(m.remove("scheme"), "scheme")?.unwrap_or_else(|| "none".to_owned());
    let principal = opt_string(m.remove("principal"), "principal")?;
    let credentials = match m.remove("credentials") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s),
        Some(_) => return Err(bad_value("credentials must be a string")),
    };
    Ok(AuthToken {
        scheme,
        principal,
        credentials,
        extra: m,
    })
}

const FORWARD_SHAPE: &str = "causeway_forward must be [command id, term, routing member]";

const AUTH_KEYS: [&str; 5] = ["scheme", "principal", "credentials", "realm", "parameters"];

fn hello(mut extra: Map, version: Version) -> Result<Hello, DecodeError> {
    let user_agent = opt_string(extra.get("user_agent").cloned(), "user_agent")?;
    let routing = match extra.get("routing") {
        None | Some(Value::Null) => None,
        Some(Value::Map(m)) => Some(m.clone()),
        Some(other) => {
            return Err(bad_value(format!(
                "HELLO routing must be a map, found {}",
                other.type_name()
            )))
        }
    };
    let patch_bolt = match extra.get("patch_bolt") {
        None | Some(Value::Null) => Vec::new(),
        Some(v) => string_list(v.clone(), "patch_bolt")?,
    };
    let auth = if version.has_logon() {
        None
    } else {
        let mut auth_map = Map::new();
        for k in AUTH_KEYS {
            if let Some(v) = extra.remove(k) {
                auth_map.insert(k.to_owned(), v);
            }
        }
        Some(auth_token(auth_map)?)
    };
    // Keep secrets out of the map that may be logged.
    extra.remove("credentials");
    Ok(Hello {
        user_agent,
        routing,
        auth,
        patch_bolt,
        extra,
    })
}

fn tx_extra(mut m: Map) -> Result<TxExtra, DecodeError> {
    let bookmarks = match m.remove("bookmarks") {
        None | Some(Value::Null) => Vec::new(),
        Some(v) => string_list(v, "bookmarks")?,
    };
    let tx_timeout = match m.remove("tx_timeout") {
        None | Some(Value::Null) => None,
        Some(Value::Int(ms)) if ms > 0 => Some(Duration::from_millis(ms as u64)),
        // Zero means "no timeout" to the drivers.
        Some(Value::Int(0)) => None,
        Some(_) => return Err(bad_value("tx_timeout must be a non-negative integer")),
    };
    let tx_metadata = match m.remove("tx_metadata") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Map(md)) => md,
        Some(_) => return Err(bad_value("tx_metadata must be a map")),
    };
    let mode = match m.remove("mode") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s == "r" => Some(AccessMode::Read),
        Some(Value::String(s)) if s == "w" => Some(AccessMode::Write),
        Some(_) => return Err(bad_value("mode must be \"r\" or \"w\"")),
    };
    let db = opt_string(m.remove("db"), "db")?;
    let imp_user = opt_string(m.remove("imp_user"), "imp_user")?;
    let forward = match m.remove(FORWARD_KEY) {
        None | Some(Value::Null) => None,
        Some(Value::List(l)) => match l.as_slice() {
            [Value::Int(id), Value::Int(term), Value::Int(origin)] => Some(Forward {
                command_id: *id as u64,
                term: *term as u64,
                origin: *origin as u64,
                auto_commit: false,
            }),
            // One build (ca18d09) sent the auto-commit flag as a fourth
            // element; members running it may still route here.
            [Value::Int(id), Value::Int(term), Value::Int(origin), Value::Bool(auto)] => {
                Some(Forward {
                    command_id: *id as u64,
                    term: *term as u64,
                    origin: *origin as u64,
                    auto_commit: *auto,
                })
            }
            _ => return Err(bad_value(FORWARD_SHAPE)),
        },
        Some(_) => return Err(bad_value(FORWARD_SHAPE)),
    };
    let auto_commit = matches!(m.remove(AUTO_COMMIT_KEY), Some(Value::Bool(true)));
    let forward = forward.map(|f| Forward {
        auto_commit: f.auto_commit || auto_commit,
        ..f
    });
    // Remaining keys (notification filters, bolt 5.x extensions) are ignored
    // on purpose: unknown keys must not fail a request.
    Ok(TxExtra {
        bookmarks,
        tx_timeout,
        tx_metadata,
        mode,
        db,
        imp_user,
        forward,
    })
}

fn stream_args(mut m: Map) -> Result<StreamArgs, DecodeError> {
    let n = match m.remove("n") {
        Some(Value::Int(n)) if n == -1 || n > 0 => n,
        Some(Value::Int(n)) => return Err(bad_value(format!("n must be -1 or positive, got {n}"))),
        Some(_) => return Err(bad_value("n must be an integer")),
        None => return Err(bad_value("n is required")),
    };
    let qid = match m.remove("qid") {
        None | Some(Value::Null) => -1,
        Some(Value::Int(q)) if q >= -1 => q,
        Some(_) => return Err(bad_value("qid must be an integer >= -1")),
    };
    Ok(StreamArgs { n, qid })
}

/// A server response.
#[derive(Clone, Debug, PartialEq)]
pub enum Response {
    Success(Map),
    Record(Vec<Value>),
    Ignored,
    Failure(Error),
}

/// Appends one framed response to `out`. On an encoding error (a value that
/// cannot be represented) nothing is appended.
pub fn encode_response(out: &mut Vec<u8>, resp: &Response, version: Version) -> Result<(), Error> {
    match resp {
        Response::Record(values) => encode_record(out, values, version),
        Response::Success(meta) => encode_with_map(out, tag::SUCCESS, meta, version),
        Response::Ignored => {
            let start = chunk::begin_in_place(out);
            Packer::new(out, GraphShape::V4).struct_header(0, tag::IGNORED);
            chunk::finish_in_place(out, start);
            Ok(())
        }
        Response::Failure(err) => {
            encode_with_map(out, tag::FAILURE, &failure_metadata(err), version)
        }
    }
}

/// The FAILURE map. Bolt ≤ 5.6 clients read `code` and `message`; neo4rs
/// panics if `message` is missing, py2neo if `code` is not four dotted parts.
pub fn failure_metadata(err: &Error) -> Map {
    let mut m = Map::new();
    m.insert("code".to_owned(), Value::from(err.code.as_str()));
    m.insert("message".to_owned(), Value::String(err.message.clone()));
    m
}

fn encode_with_map(out: &mut Vec<u8>, t: u8, meta: &Map, version: Version) -> Result<(), Error> {
    let start = chunk::begin_in_place(out);
    // Metadata is normally plain data, but a plan could carry entities;
    // they take the connection's shape like any other value.
    let mut p = Packer::new(out, shape_of(version)).utc_datetime(version.utc_datetime());
    p.struct_header(1, t);
    if let Err(e) = p.map(meta) {
        out.truncate(start);
        return Err(e);
    }
    chunk::finish_in_place(out, start);
    Ok(())
}

/// Appends a framed RECORD.
pub fn encode_record(out: &mut Vec<u8>, values: &[Value], version: Version) -> Result<(), Error> {
    let start = chunk::begin_in_place(out);
    let mut p = Packer::new(out, shape_of(version)).utc_datetime(version.utc_datetime());
    p.struct_header(1, tag::RECORD);
    let res = p.list_header(values.len()).and_then(|_| {
        for v in values {
            p.value(v)?;
        }
        Ok(())
    });
    if let Err(e) = res {
        out.truncate(start);
        return Err(e);
    }
    chunk::finish_in_place(out, start);
    Ok(())
}
