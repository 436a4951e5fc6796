//! Parsed statements keyed by query text, so that repeated (parameterised)
//! queries skip parsing and checking.

use causeway_cypher::ast::Statement;
use causeway_value::Result;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

const CAPACITY: usize = 1000;

struct Lru {
    map: HashMap<String, (Arc<Statement>, u64)>,
    tick: u64,
}

fn cache() -> &'static Mutex<Lru> {
    static CACHE: OnceLock<Mutex<Lru>> = OnceLock::new();
    CACHE.get_or_init(|| {
        Mutex::new(Lru {
            map: HashMap::new(),
            tick: 0,
        })
    })
}

pub fn statement(query: &str) -> Result<Arc<Statement>> {
    if let Ok(mut c) = cache().lock() {
        c.tick += 1;
        let t = c.tick;
        if let Some(entry) = c.map.get_mut(query) {
            entry.1 = t;
            return Ok(entry.0.clone());
        }
    }
    let stmt = causeway_cypher::parse(query)?;
    causeway_cypher::check(&stmt)?;
    let stmt = Arc::new(stmt);
    if let Ok(mut c) = cache().lock() {
        if c.map.len() >= CAPACITY {
            // Evicting the least recently used entry is a linear scan, paid
            // only when a new query arrives at a full cache.
            if let Some(oldest) = c
                .map
                .iter()
                .min_by_key(|(_, (_, t))| *t)
                .map(|(k, _)| k.clone())
            {
                c.map.remove(&oldest);
            }
        }
        let t = c.tick;
        c.map.insert(query.to_owned(), (stmt.clone(), t));
    }
    Ok(stmt)
}
