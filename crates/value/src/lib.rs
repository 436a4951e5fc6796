//! The vocabulary every Causeway crate shares: values as clients see them, the
//! Neo4j status codes errors carry, and query summaries.
//!
//! Nothing here knows about storage, Cypher or Bolt; keeping it that way lets
//! the protocol, the engine and the TCK runner agree on one set of types.

mod error;
pub mod spatial;
mod summary;
pub mod temporal;
mod value;

pub use error::{Code, Error, Phase, Result};
pub use spatial::Point;
pub use summary::{Counters, QueryType};
pub use temporal::{DateTime, Duration, LocalDateTime, Time, Tz};
pub use value::{
    element_id, java_double, parse_element_id, parse_rel_element_id, rel_element_id, Map, Node,
    Path, Relationship, Value,
};
