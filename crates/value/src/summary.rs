/// Update counters, named after the `stats` keys Bolt clients read.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counters {
    pub nodes_created: i64,
    pub nodes_deleted: i64,
    pub relationships_created: i64,
    pub relationships_deleted: i64,
    pub properties_set: i64,
    pub labels_added: i64,
    pub labels_removed: i64,
    pub indexes_added: i64,
    pub indexes_removed: i64,
    pub constraints_added: i64,
    pub constraints_removed: i64,
    pub system_updates: i64,
}

impl Counters {
    /// `(bolt key, value)` pairs, in the order Neo4j lists them.
    pub fn entries(&self) -> [(&'static str, i64); 12] {
        let mut c = *self;
        c.slots().map(|(k, v)| (k, *v))
    }

    fn slots(&mut self) -> [(&'static str, &mut i64); 12] {
        [
            ("nodes-created", &mut self.nodes_created),
            ("nodes-deleted", &mut self.nodes_deleted),
            ("relationships-created", &mut self.relationships_created),
            ("relationships-deleted", &mut self.relationships_deleted),
            ("properties-set", &mut self.properties_set),
            ("labels-added", &mut self.labels_added),
            ("labels-removed", &mut self.labels_removed),
            ("indexes-added", &mut self.indexes_added),
            ("indexes-removed", &mut self.indexes_removed),
            ("constraints-added", &mut self.constraints_added),
            ("constraints-removed", &mut self.constraints_removed),
            ("system-updates", &mut self.system_updates),
        ]
    }

    /// The counters a `stats` map reports (as another server sent them);
    /// unknown keys are ignored.
    pub fn from_stats(stats: &crate::Map) -> Counters {
        let mut c = Counters::default();
        for (k, slot) in c.slots() {
            if let Some(crate::Value::Int(i)) = stats.get(k) {
                *slot = *i;
            }
        }
        c
    }

    pub fn contains_updates(&self) -> bool {
        self.entries()[..11].iter().any(|(_, v)| *v != 0)
    }

    pub fn add(&mut self, o: &Counters) {
        self.nodes_created += o.nodes_created;
        self.nodes_deleted += o.nodes_deleted;
        self.relationships_created += o.relationships_created;
        self.relationships_deleted += o.relationships_deleted;
        self.properties_set += o.properties_set;
        self.labels_added += o.labels_added;
        self.labels_removed += o.labels_removed;
        self.indexes_added += o.indexes_added;
        self.indexes_removed += o.indexes_removed;
        self.constraints_added += o.constraints_added;
        self.constraints_removed += o.constraints_removed;
        self.system_updates += o.system_updates;
    }
}

/// The `type` field of a result summary.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum QueryType {
    Read,
    Write,
    ReadWrite,
    Schema,
}

impl QueryType {
    pub fn from_name(s: &str) -> Option<QueryType> {
        [
            QueryType::Read,
            QueryType::Write,
            QueryType::ReadWrite,
            QueryType::Schema,
        ]
        .into_iter()
        .find(|t| t.as_str() == s)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            QueryType::Read => "r",
            QueryType::Write => "w",
            QueryType::ReadWrite => "rw",
            QueryType::Schema => "s",
        }
    }
}
