//! Every function a query can call, as `SHOW FUNCTIONS` lists it: the
//! signature (name as Neo4j spells it, arguments, result type), category
//! and a short description. A test checks that this list and the functions
//! the checker and the executor know are the same set.

use crate::val::{Val, ValMap};

/// (signature, category, description). Categories are Neo4j's; APOC's
/// functions have none (they are not built in).
#[rustfmt::skip]
pub(crate) const FUNCTIONS: &[(&str, &str, &str)] = &[
    // Aggregating
    ("avg(input :: INTEGER | FLOAT | DURATION) :: INTEGER | FLOAT | DURATION", "Aggregating", "The average of a set of numbers or durations."),
    ("collect(input :: ANY) :: LIST<ANY>", "Aggregating", "The non-null values of a group as a list."),
    ("count(input :: ANY) :: INTEGER", "Aggregating", "The number of values or rows in a group."),
    ("max(input :: ANY) :: ANY", "Aggregating", "The largest value of a group."),
    ("min(input :: ANY) :: ANY", "Aggregating", "The smallest value of a group."),
    ("percentileCont(input :: FLOAT, percentile :: FLOAT) :: FLOAT", "Aggregating", "A percentile of a group, interpolated between values."),
    ("percentileDisc(input :: INTEGER | FLOAT, percentile :: FLOAT) :: INTEGER | FLOAT", "Aggregating", "A percentile of a group, rounded to the nearest value."),
    ("stDev(input :: FLOAT) :: FLOAT", "Aggregating", "The sample standard deviation of a group."),
    ("stDevP(input :: FLOAT) :: FLOAT", "Aggregating", "The population standard deviation of a group."),
    ("sum(input :: INTEGER | FLOAT | DURATION) :: INTEGER | FLOAT | DURATION", "Aggregating", "The sum of a set of numbers or durations."),
    // Scalar
    ("char_length(input :: STRING) :: INTEGER", "Scalar", "The number of characters in a string."),
    ("character_length(input :: STRING) :: INTEGER", "Scalar", "The number of characters in a string."),
    ("coalesce(input :: ANY) :: ANY", "Scalar", "The first of its arguments that is not null."),
    ("elementId(input :: NODE | RELATIONSHIP) :: STRING", "Scalar", "The element id of a node or relationship."),
    ("endNode(input :: RELATIONSHIP) :: NODE", "Scalar", "The end node of a relationship."),
    ("head(list :: LIST<ANY>) :: ANY", "Scalar", "The first element of a list."),
    ("id(input :: NODE | RELATIONSHIP) :: INTEGER", "Scalar", "The numeric id of a node or relationship."),
    ("last(list :: LIST<ANY>) :: ANY", "Scalar", "The last element of a list."),
    ("length(input :: PATH) :: INTEGER", "Scalar", "The number of relationships in a path."),
    ("nullIf(v1 :: ANY, v2 :: ANY) :: ANY", "Scalar", "Null when both arguments are equal, else the first."),
    ("properties(input :: MAP | NODE | RELATIONSHIP) :: MAP", "Scalar", "The properties of a node, relationship or map as a map."),
    ("randomUUID() :: STRING", "Scalar", "A random UUID as a string."),
    ("size(input :: STRING | LIST<ANY>) :: INTEGER", "Scalar", "The number of elements in a list or characters in a string."),
    ("startNode(input :: RELATIONSHIP) :: NODE", "Scalar", "The start node of a relationship."),
    ("timestamp() :: INTEGER", "Scalar", "Milliseconds since the Unix epoch, fixed for the statement."),
    ("toBoolean(input :: STRING | BOOLEAN | INTEGER) :: BOOLEAN", "Scalar", "A string or integer converted to a boolean."),
    ("toBooleanOrNull(input :: ANY) :: BOOLEAN", "Scalar", "A value converted to a boolean, or null."),
    ("toFloat(input :: STRING | INTEGER | FLOAT) :: FLOAT", "Scalar", "A string or integer converted to a float."),
    ("toFloatOrNull(input :: ANY) :: FLOAT", "Scalar", "A value converted to a float, or null."),
    ("toInteger(input :: STRING | INTEGER | FLOAT | BOOLEAN) :: INTEGER", "Scalar", "A string, float or boolean converted to an integer."),
    ("toIntegerOrNull(input :: ANY) :: INTEGER", "Scalar", "A value converted to an integer, or null."),
    ("type(input :: RELATIONSHIP) :: STRING", "Scalar", "The type of a relationship."),
    ("valueType(input :: ANY) :: STRING", "Scalar", "The Cypher type of a value, as a string."),
    // Predicate
    ("exists(input :: ANY) :: BOOLEAN", "Predicate", "Whether a property or pattern exists."),
    ("isEmpty(input :: LIST<ANY> | MAP | STRING) :: BOOLEAN", "Predicate", "Whether a list, map or string is empty."),
    // List
    ("keys(input :: NODE | RELATIONSHIP | MAP) :: LIST<STRING>", "List", "The property keys of a node, relationship or map."),
    ("labels(input :: NODE) :: LIST<STRING>", "List", "The labels of a node."),
    ("nodes(input :: PATH) :: LIST<NODE>", "List", "The nodes of a path."),
    ("range(start :: INTEGER, end :: INTEGER, step :: INTEGER) :: LIST<INTEGER>", "List", "The integers from start to end, both included, by step."),
    ("relationships(input :: PATH) :: LIST<RELATIONSHIP>", "List", "The relationships of a path."),
    ("rels(input :: PATH) :: LIST<RELATIONSHIP>", "List", "The relationships of a path."),
    ("reverse(input :: STRING | LIST<ANY>) :: STRING | LIST<ANY>", "List", "A string or list in reverse order."),
    ("tail(input :: LIST<ANY>) :: LIST<ANY>", "List", "A list without its first element."),
    ("toBooleanList(input :: LIST<ANY>) :: LIST<BOOLEAN>", "List", "A list converted element by element to booleans."),
    ("toFloatList(input :: LIST<ANY>) :: LIST<FLOAT>", "List", "A list converted element by element to floats."),
    ("toIntegerList(input :: LIST<ANY>) :: LIST<INTEGER>", "List", "A list converted element by element to integers."),
    ("toStringList(input :: LIST<ANY>) :: LIST<STRING>", "List", "A list converted element by element to strings."),
    // Numeric
    ("abs(input :: INTEGER | FLOAT) :: INTEGER | FLOAT", "Numeric", "The absolute value of a number."),
    ("ceil(input :: FLOAT) :: FLOAT", "Numeric", "The smallest integer not below the number."),
    ("floor(input :: FLOAT) :: FLOAT", "Numeric", "The largest integer not above the number."),
    ("isNaN(input :: INTEGER | FLOAT) :: BOOLEAN", "Numeric", "Whether a number is NaN."),
    ("rand() :: FLOAT", "Numeric", "A random float in [0, 1)."),
    ("round(value :: FLOAT, precision :: INTEGER | FLOAT, mode :: STRING) :: FLOAT", "Numeric", "A number rounded, optionally to a precision and with a rounding mode."),
    ("sign(input :: INTEGER | FLOAT) :: INTEGER", "Numeric", "The sign of a number: -1, 0 or 1."),
    // Logarithmic
    ("e() :: FLOAT", "Logarithmic", "The base of the natural logarithm."),
    ("exp(input :: FLOAT) :: FLOAT", "Logarithmic", "e raised to the power of the number."),
    ("log(input :: FLOAT) :: FLOAT", "Logarithmic", "The natural logarithm of a number."),
    ("log10(input :: FLOAT) :: FLOAT", "Logarithmic", "The base-10 logarithm of a number."),
    ("sqrt(input :: FLOAT) :: FLOAT", "Logarithmic", "The square root of a number."),
    // Trigonometric
    ("acos(input :: FLOAT) :: FLOAT", "Trigonometric", "The arccosine of a number, in radians."),
    ("asin(input :: FLOAT) :: FLOAT", "Trigonometric", "The arcsine of a number, in radians."),
    ("atan(input :: FLOAT) :: FLOAT", "Trigonometric", "The arctangent of a number, in radians."),
    ("atan2(y :: FLOAT, x :: FLOAT) :: FLOAT", "Trigonometric", "The arctangent of y / x, in radians."),
    ("cos(input :: FLOAT) :: FLOAT", "Trigonometric", "The cosine of an angle in radians."),
    ("cosh(input :: FLOAT) :: FLOAT", "Trigonometric", "The hyperbolic cosine of a number."),
    ("cot(input :: FLOAT) :: FLOAT", "Trigonometric", "The cotangent of an angle in radians."),
    ("coth(input :: FLOAT) :: FLOAT", "Trigonometric", "The hyperbolic cotangent of a number."),
    ("degrees(input :: FLOAT) :: FLOAT", "Trigonometric", "Radians converted to degrees."),
    ("haversin(input :: FLOAT) :: FLOAT", "Trigonometric", "Half the versine of a number."),
    ("pi() :: FLOAT", "Trigonometric", "The number pi."),
    ("radians(input :: FLOAT) :: FLOAT", "Trigonometric", "Degrees converted to radians."),
    ("sin(input :: FLOAT) :: FLOAT", "Trigonometric", "The sine of an angle in radians."),
    ("sinh(input :: FLOAT) :: FLOAT", "Trigonometric", "The hyperbolic sine of a number."),
    ("tan(input :: FLOAT) :: FLOAT", "Trigonometric", "The tangent of an angle in radians."),
    ("tanh(input :: FLOAT) :: FLOAT", "Trigonometric", "The hyperbolic tangent of a number."),
    // String
    ("btrim(original :: STRING, trimCharacterString :: STRING) :: STRING", "String", "A string without leading and trailing characters (whitespace by default)."),
    ("left(original :: STRING, length :: INTEGER) :: STRING", "String", "The first characters of a string."),
    ("lower(input :: STRING) :: STRING", "String", "A string in lower case."),
    ("ltrim(input :: STRING, trimCharacterString :: STRING) :: STRING", "String", "A string without leading characters (whitespace by default)."),
    ("replace(original :: STRING, search :: STRING, replace :: STRING) :: STRING", "String", "A string with every occurrence of one string replaced by another."),
    ("right(original :: STRING, length :: INTEGER) :: STRING", "String", "The last characters of a string."),
    ("rtrim(input :: STRING, trimCharacterString :: STRING) :: STRING", "String", "A string without trailing characters (whitespace by default)."),
    ("split(original :: STRING, splitDelimiter :: STRING | LIST<STRING>) :: LIST<STRING>", "String", "A string split at each delimiter."),
    ("substring(original :: STRING, start :: INTEGER, length :: INTEGER) :: STRING", "String", "Part of a string, from a 0-based start, optionally of a length."),
    ("toLower(input :: STRING) :: STRING", "String", "A string in lower case."),
    ("toString(input :: ANY) :: STRING", "String", "A value converted to a string."),
    ("toStringOrNull(input :: ANY) :: STRING", "String", "A value converted to a string, or null."),
    ("toUpper(input :: STRING) :: STRING", "String", "A string in upper case."),
    ("trim(input :: STRING, trimCharacterString :: STRING) :: STRING", "String", "A string without leading and trailing whitespace."),
    ("upper(input :: STRING) :: STRING", "String", "A string in upper case."),
    // Temporal
    ("date(input :: ANY) :: DATE", "Temporal", "A date: now, or built from a string or map."),
    ("date.realtime(timezone :: ANY) :: DATE", "Temporal", "Today by the real-time clock."),
    ("date.statement(timezone :: ANY) :: DATE", "Temporal", "Today by the statement clock."),
    ("date.transaction(timezone :: ANY) :: DATE", "Temporal", "Today by the transaction clock."),
    ("date.truncate(unit :: STRING, input :: ANY, fields :: MAP) :: DATE", "Temporal", "A temporal value truncated to a unit, as a date."),
    ("datetime(input :: ANY) :: ZONED DATETIME", "Temporal", "A zoned datetime: now, or built from a string or map."),
    ("datetime.fromepoch(seconds :: INTEGER | FLOAT, nanoseconds :: INTEGER | FLOAT) :: ZONED DATETIME", "Temporal", "The datetime at seconds and nanoseconds since the epoch."),
    ("datetime.fromepochmillis(milliseconds :: INTEGER | FLOAT) :: ZONED DATETIME", "Temporal", "The datetime at milliseconds since the epoch."),
    ("datetime.realtime(timezone :: ANY) :: ZONED DATETIME", "Temporal", "Now by the real-time clock."),
    ("datetime.statement(timezone :: ANY) :: ZONED DATETIME", "Temporal", "Now by the statement clock."),
    ("datetime.transaction(timezone :: ANY) :: ZONED DATETIME", "Temporal", "Now by the transaction clock."),
    ("datetime.truncate(unit :: STRING, input :: ANY, fields :: MAP) :: ZONED DATETIME", "Temporal", "A temporal value truncated to a unit, as a zoned datetime."),
    ("duration(input :: ANY) :: DURATION", "Duration", "A duration built from a string or map."),
    ("duration.between(from :: ANY, to :: ANY) :: DURATION", "Duration", "The duration between two temporal values."),
    ("duration.inDays(from :: ANY, to :: ANY) :: DURATION", "Duration", "The duration between two temporal values, in whole days."),
    ("duration.inMonths(from :: ANY, to :: ANY) :: DURATION", "Duration", "The duration between two temporal values, in whole months."),
    ("duration.inSeconds(from :: ANY, to :: ANY) :: DURATION", "Duration", "The duration between two temporal values, in seconds."),
    ("localdatetime(input :: ANY) :: LOCAL DATETIME", "Temporal", "A local datetime: now, or built from a string or map."),
    ("localdatetime.realtime(timezone :: ANY) :: LOCAL DATETIME", "Temporal", "Now by the real-time clock, without a zone."),
    ("localdatetime.statement(timezone :: ANY) :: LOCAL DATETIME", "Temporal", "Now by the statement clock, without a zone."),
    ("localdatetime.transaction(timezone :: ANY) :: LOCAL DATETIME", "Temporal", "Now by the transaction clock, without a zone."),
    ("localdatetime.truncate(unit :: STRING, input :: ANY, fields :: MAP) :: LOCAL DATETIME", "Temporal", "A temporal value truncated to a unit, as a local datetime."),
    ("localtime(input :: ANY) :: LOCAL TIME", "Temporal", "A local time: now, or built from a string or map."),
    ("localtime.realtime(timezone :: ANY) :: LOCAL TIME", "Temporal", "The time by the real-time clock, without a zone."),
    ("localtime.statement(timezone :: ANY) :: LOCAL TIME", "Temporal", "The time by the statement clock, without a zone."),
    ("localtime.transaction(timezone :: ANY) :: LOCAL TIME", "Temporal", "The time by the transaction clock, without a zone."),
    ("localtime.truncate(unit :: STRING, input :: ANY, fields :: MAP) :: LOCAL TIME", "Temporal", "A temporal value truncated to a unit, as a local time."),
    ("time(input :: ANY) :: ZONED TIME", "Temporal", "A zoned time: now, or built from a string or map."),
    ("time.realtime(timezone :: ANY) :: ZONED TIME", "Temporal", "The time by the real-time clock."),
    ("time.statement(timezone :: ANY) :: ZONED TIME", "Temporal", "The time by the statement clock."),
    ("time.transaction(timezone :: ANY) :: ZONED TIME", "Temporal", "The time by the transaction clock."),
    ("time.truncate(unit :: STRING, input :: ANY, fields :: MAP) :: ZONED TIME", "Temporal", "A temporal value truncated to a unit, as a zoned time."),
    // Spatial
    ("distance(from :: POINT, to :: POINT) :: FLOAT", "Spatial", "The distance between two points (the 4.x name of point.distance)."),
    ("point(input :: MAP) :: POINT", "Spatial", "A point built from its coordinates."),
    ("point.distance(from :: POINT, to :: POINT) :: FLOAT", "Spatial", "The distance between two points of one coordinate system."),
    ("point.withinBBox(point :: POINT, lowerLeft :: POINT, upperRight :: POINT) :: BOOLEAN", "Spatial", "Whether a point lies in a bounding box."),
    // Vector
    ("vector.similarity.cosine(a :: LIST<INTEGER | FLOAT>, b :: LIST<INTEGER | FLOAT>) :: FLOAT", "Vector", "The cosine similarity of two vectors, scaled to [0, 1]."),
    ("vector.similarity.euclidean(a :: LIST<INTEGER | FLOAT>, b :: LIST<INTEGER | FLOAT>) :: FLOAT", "Vector", "The Euclidean similarity of two vectors, in (0, 1]."),
    // APOC
    ("apoc.any.properties(object :: ANY, keys :: LIST<STRING> = null) :: MAP", "", "The properties of a node, relationship or map, optionally only some keys."),
    ("apoc.any.property(object :: ANY, key :: STRING) :: ANY", "", "One property of a node, relationship or map."),
    ("apoc.coll.avg(coll :: LIST<INTEGER | FLOAT>) :: FLOAT", "", "The average of a list of numbers."),
    ("apoc.coll.contains(coll :: LIST<ANY>, value :: ANY) :: BOOLEAN", "", "Whether a list holds a value."),
    ("apoc.coll.containsAll(coll1 :: LIST<ANY>, coll2 :: LIST<ANY>) :: BOOLEAN", "", "Whether a list holds every value of another."),
    ("apoc.coll.containsAny(coll1 :: LIST<ANY>, coll2 :: LIST<ANY>) :: BOOLEAN", "", "Whether a list holds any value of another."),
    ("apoc.coll.duplicates(coll :: LIST<ANY>) :: LIST<ANY>", "", "The values a list holds more than once."),
    ("apoc.coll.flatten(coll :: LIST<ANY>, recursive :: BOOLEAN = false) :: LIST<ANY>", "", "A list of lists flattened, one level or all."),
    ("apoc.coll.frequencies(coll :: LIST<ANY>) :: LIST<MAP>", "", "Each distinct value of a list with how often it occurs."),
    ("apoc.coll.indexOf(coll :: LIST<ANY>, value :: ANY) :: INTEGER", "", "The position of a value in a list, or -1."),
    ("apoc.coll.insert(coll :: LIST<ANY>, index :: INTEGER, value :: ANY) :: LIST<ANY>", "", "A list with a value inserted at a position."),
    ("apoc.coll.intersection(list1 :: LIST<ANY>, list2 :: LIST<ANY>) :: LIST<ANY>", "", "The distinct values two lists share."),
    ("apoc.coll.max(values :: LIST<ANY>) :: ANY", "", "The largest value of a list."),
    ("apoc.coll.min(values :: LIST<ANY>) :: ANY", "", "The smallest value of a list."),
    ("apoc.coll.pairs(list :: LIST<ANY>) :: LIST<LIST<ANY>>", "", "Each value of a list with the next one."),
    ("apoc.coll.remove(coll :: LIST<ANY>, index :: INTEGER, length :: INTEGER = 1) :: LIST<ANY>", "", "A list without the values from a position."),
    ("apoc.coll.sort(coll :: LIST<ANY>) :: LIST<ANY>", "", "A list sorted ascending."),
    ("apoc.coll.subtract(list1 :: LIST<ANY>, list2 :: LIST<ANY>) :: LIST<ANY>", "", "The distinct values of a list that another lacks."),
    ("apoc.coll.sum(coll :: LIST<INTEGER | FLOAT>) :: FLOAT", "", "The sum of a list of numbers."),
    ("apoc.coll.toSet(coll :: LIST<ANY>) :: LIST<ANY>", "", "A list without duplicates, first occurrences kept."),
    ("apoc.coll.union(list1 :: LIST<ANY>, list2 :: LIST<ANY>) :: LIST<ANY>", "", "The distinct values of two lists."),
    ("apoc.coll.zip(list1 :: LIST<ANY>, list2 :: LIST<ANY>) :: LIST<LIST<ANY>>", "", "Pairs of the values at the same positions of two lists."),
    ("apoc.convert.fromJsonList(list :: STRING, path :: STRING = '', pathOptions :: LIST<STRING> = null) :: LIST<ANY>", "", "A JSON array parsed into a list."),
    ("apoc.convert.fromJsonMap(map :: STRING, path :: STRING = '', pathOptions :: LIST<STRING> = null) :: MAP", "", "A JSON object parsed into a map."),
    ("apoc.convert.toJson(value :: ANY) :: STRING", "", "A value written as JSON."),
    ("apoc.convert.toList(value :: ANY) :: LIST<ANY>", "", "A value converted to a list."),
    ("apoc.convert.toMap(map :: ANY) :: MAP", "", "A value converted to a map."),
    ("apoc.convert.toSet(list :: LIST<ANY>) :: LIST<ANY>", "", "A list without duplicates."),
    ("apoc.create.uuid() :: STRING", "", "A random UUID as a string."),
    ("apoc.map.clean(map :: MAP, keys :: LIST<STRING>, values :: LIST<ANY>) :: MAP", "", "A map without the given keys and without entries holding the given values."),
    ("apoc.map.merge(map1 :: MAP, map2 :: MAP) :: MAP", "", "Two maps merged, the second winning on shared keys."),
    ("apoc.meta.cypher.isType(value :: ANY, type :: STRING) :: BOOLEAN", "", "Whether a value has the given APOC type name."),
    ("apoc.meta.cypher.type(value :: ANY) :: STRING", "", "The APOC type name of a value."),
    ("apoc.meta.cypher.types(props :: ANY) :: MAP", "", "The APOC type name of each entry of a map or each property of an entity."),
    ("apoc.text.capitalize(text :: STRING) :: STRING", "", "A string with its first letter in upper case."),
    ("apoc.text.clean(text :: STRING) :: STRING", "", "A string in lower case with everything but letters and digits removed."),
    ("apoc.text.decapitalize(text :: STRING) :: STRING", "", "A string with its first letter in lower case."),
    ("apoc.text.distance(text1 :: STRING, text2 :: STRING) :: INTEGER", "", "The Levenshtein distance between two strings."),
    ("apoc.text.join(lst :: LIST<STRING>, delimiter :: STRING) :: STRING", "", "Strings joined with a delimiter."),
    ("apoc.text.lpad(text :: STRING, count :: INTEGER, delim :: STRING = ' ') :: STRING", "", "A string padded on the left to a length."),
    ("apoc.text.regexGroups(text :: STRING, regex :: STRING) :: LIST<LIST<STRING>>", "", "Every match of a regular expression, each with its groups."),
    ("apoc.text.replace(text :: STRING, regex :: STRING, replacement :: STRING) :: STRING", "", "A string with every match of a regular expression replaced."),
    ("apoc.text.rpad(text :: STRING, count :: INTEGER, delim :: STRING = ' ') :: STRING", "", "A string padded on the right to a length."),
    ("apoc.text.split(text :: STRING, regex :: STRING, limit :: INTEGER = 0) :: LIST<STRING>", "", "A string split at each match of a regular expression."),
    ("apoc.version() :: STRING", "", "The APOC version these functions follow."),
];

/// SHOW FUNCTIONS columns; without YIELD the first three show.
pub(crate) const COLUMNS: &[&str] = &[
    "name",
    "category",
    "description",
    "signature",
    "isBuiltIn",
    "argumentDescription",
    "returnDescription",
    "aggregating",
    "rolesExecution",
    "rolesBoostedExecution",
    "isDeprecated",
    "deprecatedBy",
];

pub(crate) struct Parsed<'a> {
    pub name: &'a str,
    /// (name, type, default if optional)
    pub args: Vec<(&'a str, &'a str, Option<&'a str>)>,
    pub returns: &'a str,
}

/// Splits a signature; the table is ours, so its shape is known.
pub(crate) fn parse(sig: &str) -> Parsed<'_> {
    let open = sig.find('(').unwrap_or(sig.len());
    let close = sig.rfind(") :: ").unwrap_or(sig.len());
    let inner = sig.get(open + 1..close).unwrap_or("");
    let args = inner
        .split(", ")
        .filter(|a| !a.is_empty())
        .map(|a| {
            let (name, ty) = a.split_once(" :: ").unwrap_or((a, "ANY"));
            match ty.split_once(" = ") {
                Some((ty, default)) => (name, ty, Some(default)),
                None => (name, ty, None),
            }
        })
        .collect();
    Parsed {
        name: &sig[..open],
        args,
        returns: sig.get(close + 5..).unwrap_or("ANY"),
    }
}

/// The rows of SHOW FUNCTIONS, in name order (`COLUMNS`).
pub(crate) fn rows() -> Vec<Vec<Val>> {
    let mut rows: Vec<(String, Vec<Val>)> = FUNCTIONS
        .iter()
        .map(|&(sig, category, description)| {
            let p = parse(sig);
            let entry = |name: &str, ty: &str, default: Option<&str>| {
                let mut m = ValMap::new();
                m.insert("name".into(), Val::Str(name.into()));
                m.insert("type".into(), Val::Str(ty.into()));
                let shown = match default {
                    Some(d) => format!("{name} = {d} :: {ty}"),
                    None => format!("{name} :: {ty}"),
                };
                m.insert("description".into(), Val::Str(shown));
                m.insert("isDeprecated".into(), Val::Bool(false));
                if let Some(d) = default {
                    m.insert("default".into(), Val::Str(d.into()));
                }
                Val::Map(m)
            };
            let builtin = !category.is_empty();
            let aggregating = causeway_cypher::function_arity(p.name).is_some_and(|a| a.2);
            let row = vec![
                Val::Str(p.name.into()),
                Val::Str(category.into()),
                Val::Str(description.into()),
                Val::Str(sig.into()),
                Val::Bool(builtin),
                Val::List(p.args.iter().map(|&(n, t, d)| entry(n, t, d)).collect()),
                Val::Str(p.returns.into()),
                Val::Bool(aggregating),
                Val::Null,
                Val::Null,
                Val::Bool(false),
                Val::Null,
            ];
            (p.name.to_ascii_lowercase(), row)
        })
        .collect();
    rows.sort_by(|a, b| a.0.cmp(&b.0));
    rows.into_iter().map(|(_, r)| r).collect()
}
