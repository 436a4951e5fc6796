//! The built-in functions the checker knows: their arity and whether they
//! aggregate. Names are matched case-insensitively. Unknown functions without
//! a namespace are rejected at compile time; unknown namespaced ones are left
//! to the executor (user-defined functions).

pub(crate) struct FunctionInfo {
    pub min_args: usize,
    pub max_args: usize,
    pub aggregate: bool,
}

const MANY: usize = usize::MAX;

/// (name in lower case, min args, max args, aggregate)
const FUNCTIONS: &[(&str, usize, usize, bool)] = &[
    // aggregation
    ("count", 1, 1, true),
    ("sum", 1, 1, true),
    ("avg", 1, 1, true),
    ("min", 1, 1, true),
    ("max", 1, 1, true),
    ("collect", 1, 1, true),
    ("stdev", 1, 1, true),
    ("stdevp", 1, 1, true),
    ("percentilecont", 2, 2, true),
    ("percentiledisc", 2, 2, true),
    // scalar
    ("coalesce", 1, MANY, false),
    ("head", 1, 1, false),
    ("last", 1, 1, false),
    ("size", 1, 1, false),
    ("length", 1, 1, false),
    ("char_length", 1, 1, false),
    ("character_length", 1, 1, false),
    ("type", 1, 1, false),
    ("id", 1, 1, false),
    ("elementid", 1, 1, false),
    ("startnode", 1, 1, false),
    ("endnode", 1, 1, false),
    ("properties", 1, 1, false),
    ("timestamp", 0, 0, false),
    ("randomuuid", 0, 0, false),
    ("nullif", 2, 2, false),
    ("valuetype", 1, 1, false),
    ("exists", 1, 1, false),
    ("isempty", 1, 1, false),
    // conversion
    ("tointeger", 1, 1, false),
    ("tofloat", 1, 1, false),
    ("toboolean", 1, 1, false),
    ("tostring", 1, 1, false),
    ("tointegerornull", 1, 1, false),
    ("tofloatornull", 1, 1, false),
    ("tobooleanornull", 1, 1, false),
    ("tostringornull", 1, 1, false),
    ("tointegerlist", 1, 1, false),
    ("tofloatlist", 1, 1, false),
    ("tobooleanlist", 1, 1, false),
    ("tostringlist", 1, 1, false),
    // lists
    ("keys", 1, 1, false),
    ("labels", 1, 1, false),
    ("nodes", 1, 1, false),
    ("relationships", 1, 1, false),
    ("rels", 1, 1, false),
    ("range", 2, 3, false),
    ("reverse", 1, 1, false),
    ("tail", 1, 1, false),
    // math
    ("abs", 1, 1, false),
    ("ceil", 1, 1, false),
    ("floor", 1, 1, false),
    ("rand", 0, 0, false),
    ("round", 1, 3, false),
    ("sign", 1, 1, false),
    ("e", 0, 0, false),
    ("exp", 1, 1, false),
    ("log", 1, 1, false),
    ("log10", 1, 1, false),
    ("sqrt", 1, 1, false),
    ("acos", 1, 1, false),
    ("asin", 1, 1, false),
    ("atan", 1, 1, false),
    ("atan2", 2, 2, false),
    ("cos", 1, 1, false),
    ("cosh", 1, 1, false),
    ("cot", 1, 1, false),
    ("coth", 1, 1, false),
    ("degrees", 1, 1, false),
    ("haversin", 1, 1, false),
    ("pi", 0, 0, false),
    ("radians", 1, 1, false),
    ("sin", 1, 1, false),
    ("sinh", 1, 1, false),
    ("tan", 1, 1, false),
    ("tanh", 1, 1, false),
    ("isnan", 1, 1, false),
    // strings
    ("left", 2, 2, false),
    ("right", 2, 2, false),
    ("ltrim", 1, 2, false),
    ("rtrim", 1, 2, false),
    ("trim", 1, 2, false),
    ("btrim", 1, 2, false),
    ("replace", 3, 3, false),
    ("split", 2, 2, false),
    ("substring", 2, 3, false),
    ("tolower", 1, 1, false),
    ("toupper", 1, 1, false),
    ("lower", 1, 1, false),
    ("upper", 1, 1, false),
    ("normalize", 1, 2, false),
    // temporal
    ("date", 0, 1, false),
    ("datetime", 0, 1, false),
    ("localdatetime", 0, 1, false),
    ("time", 0, 1, false),
    ("localtime", 0, 1, false),
    ("duration", 1, 1, false),
    ("date.truncate", 2, 3, false),
    ("datetime.truncate", 2, 3, false),
    ("localdatetime.truncate", 2, 3, false),
    ("time.truncate", 2, 3, false),
    ("localtime.truncate", 2, 3, false),
    ("date.transaction", 0, 1, false),
    ("date.statement", 0, 1, false),
    ("date.realtime", 0, 1, false),
    ("datetime.transaction", 0, 1, false),
    ("datetime.statement", 0, 1, false),
    ("datetime.realtime", 0, 1, false),
    ("localdatetime.transaction", 0, 1, false),
    ("localdatetime.statement", 0, 1, false),
    ("localdatetime.realtime", 0, 1, false),
    ("time.transaction", 0, 1, false),
    ("time.statement", 0, 1, false),
    ("time.realtime", 0, 1, false),
    ("localtime.transaction", 0, 1, false),
    ("localtime.statement", 0, 1, false),
    ("localtime.realtime", 0, 1, false),
    ("datetime.fromepoch", 2, 2, false),
    ("datetime.fromepochmillis", 1, 1, false),
    ("duration.between", 2, 2, false),
    ("duration.inmonths", 2, 2, false),
    ("duration.indays", 2, 2, false),
    ("duration.inseconds", 2, 2, false),
    // spatial
    ("point", 1, 1, false),
    ("distance", 2, 2, false),
    ("point.distance", 2, 2, false),
    ("point.withinbbox", 3, 3, false),
];

pub(crate) fn names() -> impl Iterator<Item = &'static str> {
    FUNCTIONS.iter().map(|f| f.0)
}

pub(crate) fn lookup(name: &str) -> Option<&'static FunctionInfo> {
    use std::sync::OnceLock;
    static TABLE: OnceLock<Vec<(&'static str, FunctionInfo)>> = OnceLock::new();
    let table = TABLE.get_or_init(|| {
        let mut v: Vec<_> = FUNCTIONS
            .iter()
            .map(|&(n, min_args, max_args, aggregate)| {
                (
                    n,
                    FunctionInfo {
                        min_args,
                        max_args,
                        aggregate,
                    },
                )
            })
            .collect();
        v.sort_by(|a, b| a.0.cmp(b.0));
        v
    });
    if name.len() > 64 {
        return None;
    }
    let lower = name.to_ascii_lowercase();
    table
        .binary_search_by(|(n, _)| (*n).cmp(lower.as_str()))
        .ok()
        .map(|i| &table[i].1)
}
