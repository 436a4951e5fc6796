use super::*;
use causeway_graph::{ChangeSet, Graph, TxGraph};
use causeway_value::Code;

pub(crate) fn ctx() -> ExecContext<'static> {
    ExecContext {
        database: "neo4j",
        catalog: None,
        limits: Limits::default(),
        inputs: None,
    }
}

pub(crate) fn run(tx: &mut TxGraph, q: &str) -> Vec<Vec<Value>> {
    let r = execute(tx, q, &Map::new(), &ctx()).unwrap_or_else(|e| panic!("{q}: {e}"));
    r.rows.map(|r| r.unwrap()).collect()
}

#[test]
fn create_and_match() {
    let mut tx = TxGraph::new(Graph::new());
    run(&mut tx, "CREATE (:A {x: 1})-[:R]->(:B {x: 2})");
    let rows = run(&mut tx, "MATCH (a:A)-[:R]->(b) RETURN a.x, b.x");
    assert_eq!(rows, vec![vec![Value::Int(1), Value::Int(2)]]);
}

fn run_params(tx: &mut TxGraph, q: &str, params: Map) -> Vec<Vec<Value>> {
    let r = execute(tx, q, &params, &ctx()).unwrap_or_else(|e| panic!("{q}: {e}"));
    r.rows.map(|r| r.unwrap()).collect()
}

pub(crate) fn err(tx: &mut TxGraph, q: &str) -> causeway_value::Error {
    match execute(tx, q, &Map::new(), &ctx()) {
        Err(e) => e,
        Ok(r) => {
            for row in r.rows {
                if let Err(e) = row {
                    return e;
                }
            }
            panic!("{q}: expected an error")
        }
    }
}

/// The error of a statement run on a copy of `tx`, so that whatever it
/// wrote before failing does not linger (the server rolls such a
/// transaction back).
fn fails(tx: &TxGraph, q: &str) -> causeway_value::Error {
    err(&mut tx.clone(), q)
}

#[test]
fn huge_unwind_streams() {
    let mut tx = TxGraph::new(Graph::new());
    let r = execute(
        &mut tx,
        "UNWIND range(1, 10000000) AS x RETURN x",
        &Map::new(),
        &ctx(),
    )
    .unwrap();
    let first: Vec<_> = r.rows.take(3).map(|r| r.unwrap()).collect();
    assert_eq!(first[2], vec![Value::Int(3)]);
}

#[test]
fn materialisation_limit() {
    let mut tx = TxGraph::new(Graph::new());
    let c = ExecContext {
        database: "neo4j",
        catalog: None,
        limits: Limits {
            max_materialized_rows: 100,
            max_list_len: 1000,
        },
        inputs: None,
    };
    let r = execute(
        &mut tx,
        "UNWIND range(1, 1000) AS x RETURN x ORDER BY x DESC",
        &Map::new(),
        &c,
    )
    .unwrap();
    let e = r.rows.filter_map(|r| r.err()).next().unwrap();
    assert_eq!(e.code, causeway_value::Code::MemoryPoolOutOfMemory);
    // ORDER BY with LIMIT keeps only the top rows.
    let r = execute(
        &mut tx,
        "UNWIND range(1, 1000) AS x RETURN x ORDER BY x DESC LIMIT 2",
        &Map::new(),
        &c,
    )
    .unwrap();
    let rows: Vec<_> = r.rows.map(|r| r.unwrap()).collect();
    assert_eq!(rows, vec![vec![Value::Int(1000)], vec![Value::Int(999)]]);
    let e = execute(&mut tx, "RETURN range(1, 5000) AS l", &Map::new(), &c)
        .and_then(|r| r.rows.collect::<Result<Vec<_>>>().map(|_| ()))
        .unwrap_err();
    assert_eq!(e.code, causeway_value::Code::MemoryPoolOutOfMemory);
}

#[test]
fn explain_uses_index_seek() {
    let mut tx = TxGraph::new(Graph::new());
    run(&mut tx, "CREATE INDEX FOR (c:Counter) ON (c.id)");
    run(
        &mut tx,
        "UNWIND range(1, 100) AS i CREATE (:Counter {id: i, n: 0})",
    );
    let r = execute(
        &mut tx,
        "EXPLAIN MATCH (c:Counter {id: $id}) RETURN c.n",
        &Map::new(),
        &ctx(),
    )
    .unwrap();
    let plan = format!("{:?}", r.plan.unwrap());
    assert!(plan.contains("NodeIndexSeek@causeway"), "{plan}");
    let r = execute(
        &mut tx,
        "EXPLAIN MATCH (c:Counter) WHERE c.id = 5 RETURN c.n",
        &Map::new(),
        &ctx(),
    )
    .unwrap();
    let plan = format!("{:?}", r.plan.unwrap());
    assert!(plan.contains("NodeIndexSeek@causeway"), "{plan}");
    let r = execute(
        &mut tx,
        "PROFILE MATCH (c:Counter) WHERE c.id > 95 RETURN c.n",
        &Map::new(),
        &ctx(),
    )
    .unwrap();
    let plan = format!("{:?}", r.plan.unwrap());
    assert!(plan.contains("NodeIndexSeekByRange@causeway"), "{plan}");
    assert_eq!(r.rows.count(), 5);
    let mut p = Map::new();
    p.insert("id".into(), Value::Int(7));
    for _ in 0..3 {
        run_params(
            &mut tx,
            "MATCH (c:Counter {id: $id}) SET c.n = c.n + 1",
            p.clone(),
        );
    }
    let rows = run_params(&mut tx, "MATCH (c:Counter {id: $id}) RETURN c.n", p);
    assert_eq!(rows, vec![vec![Value::Int(3)]]);
}

#[test]
fn runtime_errors() {
    let mut tx = TxGraph::new(Graph::new());
    assert_eq!(err(&mut tx, "RETURN 1 / 0").code, Code::ArithmeticError);
    assert_eq!(err(&mut tx, "RETURN 1 % 0").code, Code::ArithmeticError);
    assert_eq!(
        err(&mut tx, "RETURN 9223372036854775807 + 1").code,
        Code::ArithmeticError
    );
    assert_eq!(err(&mut tx, "RETURN $x").code, Code::ParameterMissing);
    assert_eq!(
        err(&mut tx, "RETURN range(1, 2, 0)").code,
        Code::ArgumentError
    );
    assert_eq!(err(&mut tx, "RETURN toUpper(1)").code, Code::TypeError);
    assert_eq!(
        err(&mut tx, "CALL no.such.proc()").code,
        Code::ProcedureNotFound
    );
    run(&mut tx, "CREATE (:A)-[:R]->(:B)");
    assert_eq!(
        err(&mut tx, "MATCH (a:A) DELETE a").code,
        Code::ConstraintValidationFailed
    );
    let rows = run(
        &mut tx,
        "RETURN 1.0 / 0 AS x, 'a' + 1 AS y, [1, 2][-1] AS z",
    );
    assert_eq!(
        rows,
        vec![vec![
            Value::Float(f64::INFINITY),
            Value::String("a1".into()),
            Value::Int(2)
        ]]
    );
}

#[test]
fn classify_statements() {
    assert_eq!(
        classify("MATCH (n) RETURN n").unwrap(),
        StatementClass::Read
    );
    assert_eq!(classify("CREATE (n)").unwrap(), StatementClass::Write);
    assert_eq!(
        classify("MATCH (n) FOREACH (x IN [1] | SET n.x = x)").unwrap(),
        StatementClass::Write
    );
    assert_eq!(
        classify("CREATE INDEX FOR (n:A) ON (n.x)").unwrap(),
        StatementClass::Schema
    );
}

#[test]
fn index_types_and_options_not_implemented_are_refused() {
    let mut tx = TxGraph::new(Graph::new());
    for q in [
        "CREATE TEXT INDEX FOR (n:A) ON (n.x)",
        "CREATE LOOKUP INDEX FOR (n) ON EACH labels(n)",
    ] {
        let e = fails(&tx, q);
        assert_eq!(e.code, Code::UnsupportedOperation, "{q}: {e}");
    }
    for q in [
        "CREATE INDEX FOR (n:A) ON (n.x) OPTIONS {indexProvider: 'text-2.0'}",
        "CREATE INDEX FOR (n:A) ON (n.x) OPTIONS {indexConfig: {`spatial.cartesian.min`: [0, 0]}}",
        "CREATE INDEX FOR (n:A) ON (n.x) OPTIONS {nonsense: 1}",
        "CREATE INDEX FOR (n:A) ON (n.x) OPTIONS 3",
        "CREATE FULLTEXT INDEX f FOR (n:A|B) ON EACH [n.x] OPTIONS {indexProvider: 'range-1.0'}",
        "CREATE FULLTEXT INDEX f FOR (n:A) ON EACH [n.x] \
         OPTIONS {indexConfig: {`fulltext.analyzer`: 'klingon'}}",
        "CREATE FULLTEXT INDEX f FOR (n:A) ON EACH [n.x] \
         OPTIONS {indexConfig: {`fulltext.eventually_consistent`: 'yes'}}",
        "CREATE CONSTRAINT FOR (n:A) REQUIRE n.x IS NOT NULL OPTIONS {indexProvider: 'range-1.0'}",
    ] {
        let e = fails(&tx, q);
        assert_eq!(e.code, Code::ArgumentError, "{q}: {e}");
    }
    // Nothing of the refused commands was created.
    assert!(run(&mut tx, "SHOW INDEXES").is_empty());
    // Neo4j's own options for a range index, and names as parameters.
    let params: Map = [
        ("name".to_string(), Value::from("by_x")),
        ("provider".to_string(), Value::from("range-1.0")),
    ]
    .into_iter()
    .collect();
    run_params(
        &mut tx,
        "CREATE INDEX $name IF NOT EXISTS FOR (n:A) ON (n.x) \
         OPTIONS {indexProvider: $provider, indexConfig: {}}",
        params.clone(),
    );
    run_params(
        &mut tx,
        "CREATE CONSTRAINT $name IF NOT EXISTS FOR (n:B) REQUIRE n.k IS UNIQUE \
         OPTIONS {indexProvider: 'range-1.0'}",
        [("name".to_string(), Value::from("b_k"))]
            .into_iter()
            .collect(),
    );
    let names = run(&mut tx, "SHOW INDEXES YIELD name RETURN name ORDER BY name");
    assert_eq!(
        names,
        vec![vec![Value::from("b_k")], vec![Value::from("by_x")]]
    );
    run_params(&mut tx, "DROP INDEX $name", params);
    let e = fails(&tx, "DROP CONSTRAINT $missing");
    assert_eq!(e.code, Code::ParameterMissing);
    let e = err(&mut tx.clone(), "CREATE INDEX $n FOR (n:A) ON (n.y)");
    assert_eq!(e.code, Code::ParameterMissing);
}

#[test]
fn vector_index_create_show_query_and_drop() {
    let mut tx = TxGraph::new(Graph::new());
    let params: Map = [("d".to_string(), Value::Int(3))].into_iter().collect();
    run_params(
        &mut tx,
        "CREATE VECTOR INDEX chunks IF NOT EXISTS FOR (c:Chunk) ON c.embedding \
         OPTIONS {indexConfig: {`vector.dimensions`: toInteger($d), \
         `vector.similarity_function`: 'cosine'}}",
        params.clone(),
    );
    // IF NOT EXISTS on the same schema is a no-op; without it, an error.
    run_params(
        &mut tx,
        "CREATE VECTOR INDEX chunks IF NOT EXISTS FOR (c:Chunk) ON c.embedding",
        params,
    );
    let e = fails(
        &tx,
        "CREATE VECTOR INDEX other FOR (c:Chunk) ON c.embedding",
    );
    assert_eq!(e.code, Code::EquivalentSchemaRuleAlreadyExists, "{e}");
    let e = fails(&tx, "CREATE INDEX chunks FOR (c:Chunk) ON (c.text)");
    assert_eq!(e.code, Code::IndexAlreadyExists, "{e}");
    // An index named like a constraint (whose backing index has that name
    // too) is an index clash; a constraint named like an index, the reverse.
    run(
        &mut tx,
        "CREATE CONSTRAINT uniq FOR (n:U) REQUIRE n.k IS UNIQUE",
    );
    let e = fails(&tx, "CREATE INDEX uniq FOR (n:U) ON (n.j)");
    assert_eq!(e.code, Code::IndexAlreadyExists, "{e}");
    let e = fails(
        &tx,
        "CREATE CONSTRAINT uniq FOR (n:U) REQUIRE n.j IS UNIQUE",
    );
    assert_eq!(e.code, Code::ConstraintAlreadyExists, "{e}");
    let e = fails(
        &tx,
        "CREATE CONSTRAINT chunks FOR (n:U) REQUIRE n.j IS NOT NULL",
    );
    assert_eq!(e.code, Code::IndexAlreadyExists, "{e}");
    run(&mut tx, "DROP CONSTRAINT uniq");
    let rows = run(
        &mut tx,
        "SHOW VECTOR INDEXES YIELD name, type, labelsOrTypes, properties, options \
         RETURN name, type, labelsOrTypes, properties, \
         options.indexConfig.`vector.dimensions` AS d, \
         options.indexConfig.`vector.similarity_function` AS f, options.indexProvider AS p",
    );
    assert_eq!(
        rows,
        vec![vec![
            Value::from("chunks"),
            Value::from("VECTOR"),
            Value::List(vec![Value::from("Chunk")]),
            Value::List(vec![Value::from("embedding")]),
            Value::Int(3),
            Value::from("COSINE"),
            Value::from("vector-2.0"),
        ]]
    );
    run(
        &mut tx,
        "UNWIND [[1, 0, 0], [0.9, 0.1, 0], [0, 1, 0], [-1, 0, 0]] AS v \
         CREATE (:Chunk {text: toString(v[0]), embedding: v})",
    );
    // Nodes whose property is no vector of the index's size are skipped.
    run(
        &mut tx,
        "CREATE (:Chunk {text: 'short', embedding: [1, 0]}), (:Chunk {text: 'none'})",
    );
    run(
        &mut tx,
        "CREATE (c:Chunk {text: 'set'}) WITH c \
         CALL db.create.setNodeVectorProperty(c, 'embedding', [0.5, 0.5, 0.0])",
    );
    let rows = run(
        &mut tx,
        "CALL db.index.vector.queryNodes('chunks', 3, [1.0, 0.0, 0.0]) YIELD node, score \
         RETURN node.text, round(score, 4)",
    );
    assert_eq!(
        rows,
        vec![
            vec![Value::from("1"), Value::Float(1.0)],
            vec![Value::from("0.9"), Value::Float(0.9969)],
            vec![Value::from("set"), Value::Float(0.8536)],
        ]
    );
    for (q, code) in [
        ("CALL db.index.vector.queryNodes('nope', 3, [1, 0, 0])", Code::ProcedureCallFailed),
        ("CALL db.index.vector.queryNodes('chunks', 3, [1, 0])", Code::ProcedureCallFailed),
        ("CALL db.index.vector.queryNodes('chunks', 0, [1, 0, 0])", Code::ProcedureCallFailed),
        ("CALL db.index.vector.queryRelationships('chunks', 3, [1, 0, 0])", Code::ProcedureCallFailed),
        ("CREATE VECTOR INDEX FOR (n:A) ON (n.a, n.b)", Code::SyntaxError),
        (
            "CREATE VECTOR INDEX FOR (n:A) ON n.e OPTIONS {indexConfig: {`vector.dimensions`: 0}}",
            Code::ArgumentError,
        ),
        (
            "CREATE VECTOR INDEX FOR (n:A) ON n.e OPTIONS {indexConfig: {`vector.similarity_function`: 'dot'}}",
            Code::ArgumentError,
        ),
        (
            "CREATE VECTOR INDEX FOR (n:A) ON n.e OPTIONS {indexConfig: {`vector.unknown`: 1}}",
            Code::ArgumentError,
        ),
        (
            "CREATE VECTOR INDEX FOR (n:A) ON n.e OPTIONS {indexProvider: 'vector-1.0'}",
            Code::ArgumentError,
        ),
    ] {
        assert_eq!(fails(&tx, q).code, code, "{q}");
    }
    // Writes through the procedure make the statement a write.
    assert_eq!(
        classify("MATCH (n) CALL db.create.setNodeVectorProperty(n, 'e', [1.0])").unwrap(),
        StatementClass::Write
    );
    // Relationships, Euclidean similarity and the functions.
    run(
        &mut tx,
        "CREATE VECTOR INDEX rels FOR ()-[r:SIMILAR]-() ON (r.v) \
         OPTIONS {indexConfig: {`vector.similarity_function`: 'EUCLIDEAN'}}",
    );
    run(
        &mut tx,
        "CREATE (:X)-[:SIMILAR {v: [0.0, 0.0]}]->(:X)-[:SIMILAR {v: [3.0, 4.0]}]->(:X)",
    );
    let rows = run(
        &mut tx,
        "CALL db.index.vector.queryRelationships('rels', 5, [0, 0]) \
         YIELD relationship, score RETURN relationship.v[0], score",
    );
    assert_eq!(
        rows,
        vec![
            vec![Value::Float(0.0), Value::Float(1.0)],
            vec![Value::Float(3.0), Value::Float(1.0 / 26.0)],
        ]
    );
    let rows = run(
        &mut tx,
        "RETURN vector.similarity.cosine([1, 0], [0, 1]), \
         vector.similarity.euclidean([0, 0], [3, 4]), vector.similarity.cosine(null, [1])",
    );
    assert_eq!(
        rows,
        vec![vec![
            Value::Float(0.5),
            Value::Float(1.0 / 26.0),
            Value::Null
        ]]
    );
    assert_eq!(
        fails(&tx, "RETURN vector.similarity.cosine([1, 0], [1, 0, 0])").code,
        Code::ArgumentError
    );
    // Replay on another member gives the same schema, and so does a snapshot.
    let (g, changes) = tx.clone().finish();
    let mut replica = Graph::new();
    replica
        .apply(&ChangeSet::decode(&changes.encode()).unwrap())
        .unwrap();
    assert_eq!(replica.vector_indexes(), g.vector_indexes());
    assert_eq!(
        Graph::decode(&g.encode()).unwrap().vector_indexes(),
        g.vector_indexes()
    );
    run(&mut tx, "DROP INDEX chunks");
    assert_eq!(
        run(&mut tx, "SHOW INDEXES YIELD name RETURN name"),
        vec![vec![Value::from("rels")]]
    );
}

#[test]
fn schema_introspection_procedures() {
    let mut tx = TxGraph::new(Graph::new());
    run(
        &mut tx,
        "CREATE (:Person {name: 'a', age: 1})-[:KNOWS {since: 2020}]->(:Person {name: 'b'}), \
         (:Person:Admin {name: 'c', tags: ['x']}), (:Empty), ()-[:LINK]->()",
    );
    let rows = run(
        &mut tx,
        "CALL db.schema.nodeTypeProperties() \
         YIELD nodeType, nodeLabels, propertyName, propertyTypes, mandatory \
         RETURN nodeType, nodeLabels, propertyName, propertyTypes, mandatory \
         ORDER BY nodeType, propertyName",
    );
    let s = |x: &str| Value::from(x);
    let l = |xs: &[&str]| Value::List(xs.iter().map(|x| Value::from(*x)).collect());
    assert_eq!(
        rows,
        vec![
            vec![
                s(":`Admin`:`Person`"),
                l(&["Admin", "Person"]),
                s("name"),
                l(&["String"]),
                Value::Bool(true)
            ],
            vec![
                s(":`Admin`:`Person`"),
                l(&["Admin", "Person"]),
                s("tags"),
                l(&["StringArray"]),
                Value::Bool(true)
            ],
            vec![
                s(":`Empty`"),
                l(&["Empty"]),
                Value::Null,
                Value::Null,
                Value::Bool(false)
            ],
            vec![
                s(":`Person`"),
                l(&["Person"]),
                s("age"),
                l(&["Long"]),
                Value::Bool(false)
            ],
            vec![
                s(":`Person`"),
                l(&["Person"]),
                s("name"),
                l(&["String"]),
                Value::Bool(true)
            ],
        ]
    );
    let rows = run(
        &mut tx,
        "CALL db.schema.relTypeProperties() YIELD relType, propertyName, propertyTypes, mandatory \
         RETURN relType, propertyName, propertyTypes, mandatory ORDER BY relType",
    );
    assert_eq!(
        rows,
        vec![
            vec![s(":`KNOWS`"), s("since"), l(&["Long"]), Value::Bool(true)],
            vec![s(":`LINK`"), Value::Null, Value::Null, Value::Bool(false)],
        ]
    );
}

#[test]
fn apoc_meta_data_describes_labels_types_and_properties() {
    let mut tx = TxGraph::new(Graph::new());
    run(&mut tx, "CREATE INDEX FOR (m:Movie) ON (m.title)");
    run(
        &mut tx,
        "CREATE CONSTRAINT FOR (a:Actor) REQUIRE a.name IS UNIQUE",
    );
    run(
        &mut tx,
        "CREATE (t:Actor {name:'Tom Hanks'})-[:ACTED_IN {roles:'Forrest'}]->(m1:Movie {title:'Forrest Gump'}), \
         (b:Actor {name:'Bruce Lee'})-[:ACTED_IN {roles:'FooBaz'}]->(m1), \
         (t)-[:ACTED_IN {roles:'R2'}]->(m2:Movie {title:'Movie2'}), \
         (t)-[:ACTED_IN {roles:'R3'}]->(:Movie {title:'Movie3'}), \
         (t)-[:DIRECTED {foo:'first'}]->(m2), (t)-[:DIRECTED {foo:'second'}]->(:Movie {title:'Movie4'}), \
         (:Studio {name:'Pixar', tags: ['a']})-[:ANIMATED {bar:'alpha'}]->(m2)",
    );
    let rows = run(
        &mut tx,
        "CALL apoc.meta.data() YIELD label, property, count, unique, index, existence, type, \
         array, left, right, other, elementType \
         RETURN label + '|' + property + '|' + count + '|' + unique + '|' + index + '|' + \
         existence + '|' + type + '|' + array + '|' + left + '|' + right + '|' + \
         reduce(s = '', o IN other | s + o) + '|' + elementType AS row ORDER BY row",
    );
    let want = [
        "ACTED_IN|Actor|2|false|false|false|RELATIONSHIP|true|2|0|Movie|relationship",
        "ACTED_IN|roles|0|false|false|false|STRING|false|0|0||relationship",
        "ANIMATED|Studio|1|false|false|false|RELATIONSHIP|false|1|0|Movie|relationship",
        "ANIMATED|bar|0|false|false|false|STRING|false|0|0||relationship",
        "Actor|ACTED_IN|2|false|false|false|RELATIONSHIP|true|2|0|Movie|node",
        "Actor|DIRECTED|1|false|false|false|RELATIONSHIP|true|2|0|Movie|node",
        "Actor|name|0|true|true|false|STRING|false|0|0||node",
        "DIRECTED|Actor|1|false|false|false|RELATIONSHIP|true|2|0|Movie|relationship",
        "DIRECTED|foo|0|false|false|false|STRING|false|0|0||relationship",
        "Movie|title|0|false|true|false|STRING|false|0|0||node",
        "Studio|ANIMATED|1|false|false|false|RELATIONSHIP|false|1|0|Movie|node",
        "Studio|name|0|false|false|false|STRING|false|0|0||node",
        "Studio|tags|0|false|false|false|LIST|true|0|0||node",
    ];
    let want: Vec<String> = want.iter().map(|w| format!("'{w}'")).collect();
    assert_eq!(strings(rows), want);
    // Sampling every node gives the same; a sample of 0 is APOC's division error.
    assert_eq!(
        run(&mut tx, "CALL apoc.meta.data({sample: -1})").len(),
        want.len()
    );
    assert_eq!(
        fails(&tx, "CALL apoc.meta.data({sample: 0})").code,
        Code::ProcedureCallFailed
    );
}

#[test]
fn apoc_merge_and_create_procedures_write_in_the_transaction() {
    let mut tx = TxGraph::new(Graph::new());
    // The second row merges onto the node the first created; RETURN sees
    // the clause's finished work (clause-at-a-time, as for SET).
    let rows = run(
        &mut tx,
        "UNWIND [{id: 1, n: 'a'}, {id: 1, n: 'b'}, {id: 2, n: 'c'}] AS row \
         CALL apoc.merge.node(['Entity', 'Person'], {id: row.id}, {name: row.n}, {seen: true}) \
         YIELD node RETURN node.id, node.name, node.seen",
    );
    assert_eq!(
        rows,
        vec![
            vec![Value::Int(1), Value::from("a"), Value::Bool(true)],
            vec![Value::Int(1), Value::from("a"), Value::Bool(true)],
            vec![Value::Int(2), Value::from("c"), Value::Null],
        ]
    );
    assert_eq!(
        run(&mut tx, "MATCH (n:Entity:Person) RETURN count(n)"),
        vec![vec![Value::Int(2)]]
    );
    // Five arguments, as LangChain calls it; again: the same relationship.
    for since in [2020, 2021] {
        run(
            &mut tx,
            &format!(
                "MATCH (a {{id: 1}}), (b {{id: 2}}) \
                 CALL apoc.merge.relationship(a, 'KNOWS', {{}}, {{since: {since}}}, b) \
                 YIELD rel RETURN rel"
            ),
        );
    }
    assert_eq!(
        run(
            &mut tx,
            "MATCH ()-[r:KNOWS]->() RETURN count(r), collect(r.since)"
        ),
        vec![vec![Value::Int(1), Value::List(vec![Value::Int(2020)])]]
    );
    let rows = run(
        &mut tx,
        "MATCH (a {id: 1}) CALL apoc.create.addLabels(a, ['Extra']) YIELD node \
         CALL apoc.create.setProperty(node, 'name', null) YIELD node AS n2 \
         RETURN labels(n2), n2.name",
    );
    assert_eq!(
        rows,
        vec![vec![
            Value::List(vec![
                Value::from("Entity"),
                Value::from("Person"),
                Value::from("Extra")
            ]),
            Value::Null
        ]]
    );
    let rows = run(
        &mut tx,
        "CALL apoc.create.node(['T'], {k: 1, gone: null}) YIELD node AS a \
         CALL apoc.create.node(['T'], {k: 2}) YIELD node AS b \
         CALL apoc.create.relationship(a, 'LINKS TO', {w: 0.5}, b) YIELD rel \
         RETURN type(rel), rel.w, keys(a)",
    );
    assert_eq!(
        rows,
        vec![vec![
            Value::from("LINKS TO"),
            Value::Float(0.5),
            Value::List(vec![Value::from("k")])
        ]]
    );
    for q in [
        "CALL apoc.merge.node(['X'], {})",
        "CALL apoc.merge.node(['X', ''], {k: 1})",
        "MATCH (a {id: 1}) CALL apoc.merge.relationship(a, '', {}, {}, a) YIELD rel RETURN rel",
    ] {
        assert_eq!(fails(&tx, q).code, Code::ProcedureCallFailed, "{q}");
    }
    assert_eq!(
        classify("CALL apoc.merge.node(['X'], {k: 1})").unwrap(),
        StatementClass::Write
    );
    // What a write procedure returns, and its YIELD's WHERE, see its write.
    assert_eq!(
        run(
            &mut tx,
            "CALL apoc.create.node(['W'], {x: 1}) YIELD node WHERE node.x = 1 RETURN node.x"
        ),
        vec![vec![Value::Int(1)]]
    );
    assert_eq!(
        run(
            &mut tx,
            "CALL apoc.merge.node(['W'], {x: 1}, {}, {y: 2}) YIELD node WHERE node.y = 2 \
             RETURN node.y"
        ),
        vec![vec![Value::Int(2)]]
    );
}

#[test]
fn apoc_meta_schema_maps_labels_and_types() {
    let mut tx = TxGraph::new(Graph::new());
    run(&mut tx, "CREATE INDEX FOR (n:Movie) ON (n.title)");
    run(
        &mut tx,
        "CREATE CONSTRAINT FOR (p:Person) REQUIRE p.name IS UNIQUE",
    );
    run(
        &mut tx,
        "CREATE (:Person:Actor:Director {name:'Tom', born:'05-06-1956', dead:false}) \
         -[:ACTED_IN {roles:'Forrest'}]->(:Movie {title:'Forrest Gump'})",
    );
    let q = |tx: &mut TxGraph, path: &str| {
        run(
            tx,
            &format!("CALL apoc.meta.schema() YIELD value RETURN {path}"),
        )
        .remove(0)
        .remove(0)
    };
    let s = |x: &str| Value::from(x);
    let l = |xs: &[&str]| Value::List(xs.iter().map(|x| Value::from(*x)).collect());
    assert_eq!(q(&mut tx, "size(keys(value))"), Value::Int(5));
    assert_eq!(q(&mut tx, "value.Person.labels"), l(&["Actor", "Director"]));
    assert_eq!(q(&mut tx, "value.Person.count"), Value::Int(1));
    assert_eq!(
        q(&mut tx, "value.Person.properties.name"),
        Value::Map(
            [
                ("type".to_string(), s("STRING")),
                ("indexed".to_string(), Value::Bool(true)),
                ("unique".to_string(), Value::Bool(true)),
                ("existence".to_string(), Value::Bool(false)),
            ]
            .into_iter()
            .collect()
        )
    );
    assert_eq!(
        q(&mut tx, "value.Person.relationships.ACTED_IN.direction"),
        s("out")
    );
    assert_eq!(
        q(&mut tx, "value.Person.relationships.ACTED_IN.labels"),
        l(&["Movie"])
    );
    assert_eq!(
        q(&mut tx, "value.Movie.relationships.ACTED_IN.direction"),
        s("in")
    );
    assert_eq!(
        q(&mut tx, "value.Movie.relationships.ACTED_IN.labels"),
        l(&["Actor", "Director", "Person"])
    );
    assert_eq!(
        q(&mut tx, "value.Movie.relationships.ACTED_IN.count"),
        Value::Int(1)
    );
    assert_eq!(q(&mut tx, "value.ACTED_IN.type"), s("relationship"));
    assert_eq!(
        q(&mut tx, "value.ACTED_IN.properties.roles.type"),
        s("STRING")
    );
    assert_eq!(
        q(&mut tx, "size(keys(value.ACTED_IN.properties.roles))"),
        Value::Int(4)
    );
    // A type named like a label is set apart.
    run(&mut tx, "CREATE (:Movie)-[:Person]->(:Movie)");
    assert_eq!(
        q(&mut tx, "value.`Person (RELATIONSHIP)`.count"),
        Value::Int(1)
    );
}

#[test]
fn apoc_functions() {
    let mut tx = TxGraph::new(Graph::new());
    let rows = run(
        &mut tx,
        "RETURN apoc.map.clean({name: 'Tom', age: null, x: '', y: 'N/A', id: 1, n: 1}, ['id'], ['', 'N/A', '1']) AS c, \
         apoc.map.merge({a: 1, b: 2}, {b: 3, c: 4}) AS m, \
         apoc.coll.toSet([1, 2, 1.0, 3, 2]) AS s, apoc.coll.contains([1, 2], 2.0) AS has, \
         apoc.coll.flatten([1, [2, [3]], 4]) AS f1, apoc.coll.flatten([1, [2, [3]], 4], true) AS f2, \
         apoc.coll.sum([1, 2, 3]) AS sum, apoc.coll.avg([1, 2, 3, 4]) AS avg, apoc.coll.sum([]) AS none, \
         apoc.text.join(['Hello', 'World'], ' ') AS j",
    );
    let m = |kv: &[(&str, Value)]| {
        Value::Map(kv.iter().map(|(k, v)| (k.to_string(), v.clone())).collect())
    };
    let ints = |xs: &[i64]| Value::List(xs.iter().map(|x| Value::Int(*x)).collect());
    assert_eq!(
        rows,
        vec![vec![
            m(&[("name", Value::from("Tom"))]),
            m(&[
                ("a", Value::Int(1)),
                ("b", Value::Int(3)),
                ("c", Value::Int(4))
            ]),
            ints(&[1, 2, 3]),
            Value::Bool(true),
            Value::List(vec![
                Value::Int(1),
                Value::Int(2),
                ints(&[3]),
                Value::Int(4)
            ]),
            ints(&[1, 2, 3, 4]),
            Value::Float(6.0),
            Value::Float(2.5),
            Value::Null,
            Value::from("Hello World"),
        ]]
    );
    assert_eq!(
        fails(&tx, "RETURN apoc.coll.nope([1])").code,
        Code::SyntaxError
    );
    // The rest of the collection basics, each as a (query, expected JSON)
    // pair: APOC's results and its edge cases (nulls, empty lists).
    for (expr, want) in [
        ("apoc.coll.max([3, null, 'a', 7, 2.5])", "7"),
        ("apoc.coll.min([3, 1.5, 7])", "1.5"),
        ("apoc.coll.max([])", "null"),
        ("apoc.coll.sort([3, 1, null, 2])", "[1,2,3]"),
        ("apoc.coll.union([1, 2, 2], [2, 3])", "[1,2,3]"),
        ("apoc.coll.intersection([1, 2, 2, 3], [2.0, 3, 4])", "[2,3]"),
        ("apoc.coll.subtract([1, 2, 2, 3], [3])", "[1,2]"),
        ("apoc.coll.indexOf(['a', 'b', 'c'], 'b')", "1"),
        ("apoc.coll.indexOf(['a'], 'z')", "-1"),
        ("apoc.coll.containsAll([1, 2, 3], [3, 1])", "true"),
        ("apoc.coll.containsAll([1, 2], [1, 4])", "false"),
        ("apoc.coll.containsAny([1, 2], [4, 2])", "true"),
        ("apoc.coll.containsAny(null, [1])", "false"),
        ("apoc.coll.pairs([1, 2, 3])", "[[1,2],[2,3],[3,null]]"),
        (
            "apoc.coll.zip([1, 2, 3], ['a', 'b'])",
            "[[1,\"a\"],[2,\"b\"],[3,null]]",
        ),
        (
            "apoc.coll.frequencies(['a', 'b', 'a', 1, 1.0])",
            "[{\"count\":2,\"item\":\"a\"},{\"count\":1,\"item\":\"b\"},{\"count\":2,\"item\":1}]",
        ),
        ("apoc.coll.duplicates([1, 2, 1, 3, 2, 1])", "[1,2]"),
        ("apoc.coll.remove([1, 2, 3, 4], 1)", "[1,3,4]"),
        ("apoc.coll.remove([1, 2, 3, 4], 1, 2)", "[1,4]"),
        ("apoc.coll.insert([1, 3], 1, 2)", "[1,2,3]"),
    ] {
        let rows = run(&mut tx, &format!("RETURN apoc.convert.toJson({expr}) AS j"));
        // toJson(null) is null itself.
        let want = if want == "null" {
            Value::Null
        } else {
            Value::from(want)
        };
        assert_eq!(rows, vec![vec![want]], "{expr}");
    }
    assert_eq!(
        fails(&tx, "RETURN apoc.coll.insert([1], 5, 2)").code,
        Code::ArgumentError
    );
}

#[test]
fn apoc_schema_nodes_and_relationships() {
    let mut tx = TxGraph::new(Graph::new());
    run(
        &mut tx,
        "CREATE CONSTRAINT bar_unique FOR (b:Bar) REQUIRE b.bar IS UNIQUE",
    );
    run(&mut tx, "CREATE INDEX foo_idx FOR (n:Foo) ON (n.foo)");
    run(
        &mut tx,
        "CREATE CONSTRAINT FOR ()-[s:SINCE]-() REQUIRE s.year IS UNIQUE",
    );
    run(&mut tx, "UNWIND [1, 2, 2, 3] AS x CREATE (:Foo {foo: x})");
    let rows = run(
        &mut tx,
        "CALL apoc.schema.nodes() YIELD name, label, properties, status, type, size, valuesSelectivity \
         RETURN name, label, properties, status, type, size, valuesSelectivity",
    );
    let s = |x: &str| Value::from(x);
    let l = |xs: &[&str]| Value::List(xs.iter().map(|x| Value::from(*x)).collect());
    assert_eq!(
        rows,
        vec![
            vec![
                s(":Bar(bar)"),
                s("Bar"),
                l(&["bar"]),
                s(""),
                s("UNIQUENESS"),
                Value::Int(0),
                Value::Float(0.0)
            ],
            vec![
                s(":Bar(bar)"),
                s("Bar"),
                l(&["bar"]),
                s("ONLINE"),
                s("RANGE"),
                Value::Int(0),
                Value::Float(1.0)
            ],
            vec![
                s(":Foo(foo)"),
                s("Foo"),
                l(&["foo"]),
                s("ONLINE"),
                s("RANGE"),
                Value::Int(4),
                Value::Float(0.75)
            ],
        ]
    );
    assert_eq!(
        run(
            &mut tx,
            "CALL apoc.schema.nodes({labels: ['Foo']}) YIELD name RETURN name"
        ),
        vec![vec![s(":Foo(foo)")]]
    );
    assert_eq!(
        fails(
            &tx,
            "CALL apoc.schema.nodes({labels: ['Foo'], excludeLabels: ['Bar']})"
        )
        .code,
        Code::ProcedureCallFailed
    );
    assert_eq!(
        run(
            &mut tx,
            "CALL apoc.schema.relationships() YIELD name, type RETURN name, type"
        ),
        vec![
            vec![
                s("CONSTRAINT FOR ()-[since:SINCE]-() REQUIRE since.year IS UNIQUE"),
                s("RELATIONSHIP_UNIQUENESS")
            ],
            vec![s(":SINCE(year)"), s("RANGE")],
        ]
    );
}

#[test]
fn dynamic_labels_in_set_and_remove() {
    let mut tx = TxGraph::new(Graph::new());
    let params: Map = [("extra".to_string(), Value::from("Extra"))]
        .into_iter()
        .collect();
    run_params(
        &mut tx,
        "UNWIND [{id: 1, type: 'Person', more: ['A', 'B']}, {id: 2, type: 'Company', more: []}] AS row \
         CREATE (n:Entity {id: row.id}) SET n:$(row.type):$(row.more), n:$($extra)",
        params,
    );
    assert_eq!(
        run(
            &mut tx,
            "MATCH (n:Entity) RETURN n.id, labels(n) ORDER BY n.id"
        ),
        vec![
            vec![
                Value::Int(1),
                Value::List(
                    ["Entity", "Person", "A", "B", "Extra"]
                        .map(Value::from)
                        .to_vec()
                )
            ],
            vec![
                Value::Int(2),
                Value::List(["Entity", "Company", "Extra"].map(Value::from).to_vec())
            ],
        ]
    );
    run(&mut tx, "MATCH (n:Entity) REMOVE n:$(['A', 'Extra'])");
    assert_eq!(
        run(&mut tx, "MATCH (n:Extra) RETURN count(n)"),
        vec![vec![Value::Int(0)]]
    );
    for q in [
        "MATCH (n:Entity) SET n:$(null)",
        "MATCH (n:Entity) SET n:$('')",
        "MATCH (n:Entity) SET n:$(1)",
    ] {
        assert_eq!(fails(&tx, q).code, Code::TypeError, "{q}");
    }
    assert_eq!(
        fails(&tx, "MATCH (n) SET n:$(undefinedVar)").code,
        Code::SyntaxError
    );
    assert_eq!(
        fails(&tx, "MATCH (n) SET n:$($missing)").code,
        Code::ParameterMissing
    );
    assert_eq!(
        fails(&tx, "MATCH (n) REMOVE n:$($missing)").code,
        Code::ParameterMissing
    );
    assert_eq!(
        fails(&tx, "MATCH (n) REMOVE n:$(nope(1))").code,
        Code::SyntaxError
    );
}

#[test]
fn show_indexes_and_builtin_procedures() {
    let mut tx = TxGraph::new(Graph::new());
    run(&mut tx, "CREATE INDEX idx FOR (n:A) ON (n.x)");
    run(&mut tx, "CREATE (:A {x: 1})-[:R]->(:B)");
    let r = execute(&mut tx, "SHOW INDEXES", &Map::new(), &ctx()).unwrap();
    assert_eq!(r.fields[1], "name");
    let rows: Vec<_> = r.rows.map(|r| r.unwrap()).collect();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0][1], Value::String("idx".into()));
    let rows = run(
        &mut tx,
        "CALL db.labels() YIELD label RETURN label ORDER BY label",
    );
    assert_eq!(rows, vec![vec![Value::from("A")], vec![Value::from("B")]]);
    let r = execute(&mut tx, "CALL db.relationshipTypes", &Map::new(), &ctx()).unwrap();
    assert_eq!(r.fields, vec!["relationshipType".to_string()]);
}

#[test]
fn merge_sees_earlier_rows_and_counters() {
    let mut tx = TxGraph::new(Graph::new());
    let r = execute(
        &mut tx,
        "UNWIND [1, 1, 2] AS i MERGE (n:N {i: i}) RETURN n.i",
        &Map::new(),
        &ctx(),
    )
    .unwrap();
    assert_eq!(r.counters.nodes_created, 2);
    assert_eq!(r.query_type, QueryType::ReadWrite);
    assert_eq!(r.rows.count(), 3);
}

#[test]
fn match_streams_past_the_materialisation_limit() {
    let mut tx = TxGraph::new(Graph::new());
    run(
        &mut tx,
        "UNWIND range(1, 1000) AS i CREATE (:N {i: i})-[:R]->(:M)",
    );
    let c = ExecContext {
        database: "neo4j",
        catalog: None,
        limits: Limits {
            max_materialized_rows: 100,
            max_list_len: 100,
        },
        inputs: None,
    };
    let r = execute(
        &mut tx,
        "MATCH (n:N)-[:R]->(m) OPTIONAL MATCH (m)-->(x) RETURN n.i, x",
        &Map::new(),
        &c,
    )
    .unwrap();
    assert_eq!(r.rows.filter(|r| r.is_ok()).count(), 1000);
}

#[test]
fn id_seek() {
    let mut tx = TxGraph::new(Graph::new());
    run(&mut tx, "UNWIND range(1, 50) AS i CREATE (:N {i: i})");
    let rows = run(&mut tx, "MATCH (n:N {i: 7}) RETURN id(n), elementId(n)");
    let (Value::Int(id), eid) = (&rows[0][0], &rows[0][1]) else {
        panic!("no id")
    };
    let rows = run(&mut tx, &format!("MATCH (n) WHERE id(n) = {id} RETURN n.i"));
    assert_eq!(rows, vec![vec![Value::Int(7)]]);
    let rows = run(
        &mut tx,
        &format!("MATCH (n) WHERE elementId(n) = {eid} RETURN n.i"),
    );
    assert_eq!(rows, vec![vec![Value::Int(7)]]);
    let r = execute(
        &mut tx,
        "EXPLAIN MATCH (n) WHERE id(n) IN [1, 2] RETURN n",
        &Map::new(),
        &ctx(),
    )
    .unwrap();
    assert!(format!("{:?}", r.plan).contains("NodeByIdSeek"));
}

#[test]
fn prefix_seek() {
    let mut tx = TxGraph::new(Graph::new());
    run(&mut tx, "CREATE INDEX FOR (n:P) ON (n.name)");
    run(
        &mut tx,
        "UNWIND ['apple', 'apricot', 'banana', 'ap'] AS x CREATE (:P {name: x}), (:P {name: 1})",
    );
    let mut rows = run(
        &mut tx,
        "MATCH (n:P) WHERE n.name STARTS WITH 'ap' RETURN n.name",
    );
    rows.sort_by_key(|r| r[0].to_string());
    assert_eq!(
        rows,
        vec![
            vec![Value::from("ap")],
            vec![Value::from("apple")],
            vec![Value::from("apricot")]
        ]
    );
    let r = execute(
        &mut tx,
        "EXPLAIN MATCH (n:P) WHERE n.name STARTS WITH $p RETURN n",
        &Map::new(),
        &ctx(),
    )
    .unwrap();
    assert!(format!("{:?}", r.plan).contains("NodeIndexSeekByRange"));
}

#[test]
fn composite_seek() {
    let mut tx = TxGraph::new(Graph::new());
    run(&mut tx, "CREATE INDEX FOR (n:P) ON (n.a, n.b)");
    run(
        &mut tx,
        "UNWIND range(1, 20) AS i CREATE (:P {a: i % 3, b: i % 5, i: i})",
    );
    let mut rows = run(&mut tx, "MATCH (n:P {a: 1, b: 2}) RETURN n.i");
    rows.sort_by_key(|r| r[0].to_string());
    assert_eq!(rows, vec![vec![Value::Int(7)]]);
    let rows = run(&mut tx, "MATCH (n:P) WHERE n.a = 1 AND n.b = 2 RETURN n.i");
    assert_eq!(rows, vec![vec![Value::Int(7)]]);
    let r = execute(
        &mut tx,
        "EXPLAIN MATCH (n:P {a: $x, b: $y}) RETURN n",
        &Map::new(),
        &ctx(),
    )
    .unwrap();
    assert!(format!("{:?}", r.plan).contains("NodeIndexSeek"));
}

/// Extreme inputs must produce values or errors, never panics.
#[test]
fn extreme_inputs_do_not_panic() {
    let queries = [
        "RETURN [1,2,3][9223372036854775807]",
        "RETURN [1][-9223372036854775807]",
        "RETURN size(range(-9223372036854775807, 9223372036854775807, 9223372036854775807))",
        "UNWIND range(1, 5, 9223372036854775807) AS x RETURN x",
        "RETURN substring('x', 9223372036854775807), left('abc', 9223372036854775807)",
        "RETURN date('é2015-01-01')",
        "RETURN date('-999999999999999999-01-01')",
        "RETURN duration('P99999999999999999999Y')",
        "RETURN duration({years: 1e300})",
        "RETURN datetime.fromepoch(9223372036854775807, 9223372036854775807)",
        "RETURN date('2000-01-01') + duration({months: 9223372036854775807})",
        "RETURN date({weekYear: 9223372036854775807, week: 1})",
        "RETURN reduce(d = duration({seconds: 9000000000000000000}), x IN range(1, 200) | d + d)",
        "RETURN duration({seconds: 9000000000000000000}) * 9223372036854775807",
        "RETURN toInteger(1e300), 2^1000000, round(1e308, 300)",
        "RETURN 'a' =~ '('",
        "RETURN abs(-9223372036854775807 - 1)",
        "RETURN -9223372036854775807 - 2",
        "RETURN 9223372036854775807 * 2",
        "RETURN (-9223372036854775807 - 1) / -1",
        "RETURN (-9223372036854775807 - 1) % -1",
        "UNWIND [1, 2] AS x RETURN sum(x * 9223372036854775807)",
        "RETURN percentileDisc(1, 2)",
        "RETURN split('', ''), reverse('🎉x'), toString(-0.0)",
        "RETURN range(0, 10, 0)",
        "RETURN datetime({year: -999999999, month: 1, day: 1}).epochMillis",
        "RETURN size(reduce(s = 'xy', i IN range(1, 64) | s + s))",
        "RETURN size(reduce(s = 'xy', i IN range(1, 64) | replace(s, 'x', s)))",
        "RETURN size(reduce(l = [1], i IN range(1, 64) | l + l))",
    ];
    for q in queries {
        let mut tx = TxGraph::new(Graph::new());
        if let Ok(r) = execute(&mut tx, q, &Map::new(), &ctx()) {
            for row in r.rows {
                let _ = row;
            }
        }
    }
}

/// The parser admits expressions up to its nesting limit; evaluating them
/// must fit in a small thread stack.
#[test]
fn deep_expressions_fit_the_stack() {
    let depth = causeway_cypher::MAX_NESTING - 10;
    let qs = [
        format!("RETURN {}1{}", "[".repeat(depth), "]".repeat(depth)),
        format!("RETURN {}1{}", "(1 + ".repeat(depth), ")".repeat(depth)),
        format!("RETURN {}1", "- ".repeat(depth)),
        format!(
            "RETURN {}1{}",
            "[x IN [".repeat(depth / 4),
            "] | x]".repeat(depth / 4)
        ),
    ];
    for q in qs {
        let h = std::thread::Builder::new()
            .stack_size(2 << 20)
            .spawn(move || {
                let mut tx = TxGraph::new(Graph::new());
                match execute(&mut tx, &q, &Map::new(), &ctx()) {
                    Ok(r) => r.rows.for_each(drop),
                    Err(e) => println!("{e}"),
                }
            })
            .unwrap();
        h.join().unwrap();
    }
}

#[test]
fn long_patterns_fit_the_stack() {
    let h = std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(|| {
            let mut tx = TxGraph::new(Graph::new());
            run(&mut tx, "UNWIND range(1, 300) AS i CREATE (:C {i: i})");
            run(
                &mut tx,
                "MATCH (a:C), (b:C) WHERE b.i = a.i + 1 CREATE (a)-[:N]->(b)",
            );
            let q = format!(
                "MATCH (:C {{i: 1}}){}-->(z) RETURN z.i",
                "-->()".repeat(290)
            );
            assert_eq!(run(&mut tx, &q), vec![vec![Value::Int(292)]]);
        })
        .unwrap();
    h.join().unwrap();
}

#[test]
fn value_nesting_is_bounded() {
    let h = std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(|| {
            let mut tx = TxGraph::new(Graph::new());
            let e = err(
                &mut tx,
                "RETURN reduce(l = [], x IN range(1, 100000) | [l]) AS deep",
            );
            assert_eq!(e.code, causeway_value::Code::ArgumentError);
            let rows = run(
                &mut tx,
                "RETURN size(reduce(l = [], x IN range(1, 1000) | l + x)) AS n",
            );
            assert_eq!(rows, vec![vec![Value::Int(1000)]]);
        })
        .unwrap();
    h.join().unwrap();
}

#[test]
fn builtin_procedure_listing() {
    let names: Vec<String> = builtin_procedures().into_iter().map(|p| p.name).collect();
    assert_eq!(
        names,
        vec![
            "db.labels",
            "db.relationshipTypes",
            "db.propertyKeys",
            "db.schema.nodeTypeProperties",
            "db.schema.relTypeProperties",
            "apoc.meta.data",
            "apoc.meta.schema",
            "apoc.schema.nodes",
            "apoc.schema.relationships",
            "apoc.meta.graph",
            "apoc.meta.subGraph",
            "apoc.schema.properties.distinct",
            "apoc.periodic.iterate",
            "apoc.util.sleep",
            "apoc.merge.node",
            "apoc.merge.relationship",
            "apoc.create.node",
            "apoc.create.relationship",
            "apoc.create.addLabels",
            "apoc.create.setProperty",
            "db.index.vector.queryNodes",
            "db.index.vector.queryRelationships",
            "apoc.path.expand",
            "apoc.path.expandConfig",
            "apoc.path.subgraphNodes",
            "apoc.path.subgraphAll",
            "apoc.path.spanningTree",
            "db.schema.visualization",
            "db.indexes",
            "db.index.fulltext.queryNodes",
            "db.index.fulltext.queryRelationships",
            "db.index.fulltext.listAvailableAnalyzers",
            "db.index.fulltext.awaitEventuallyConsistentIndexRefresh",
            "db.create.setNodeVectorProperty",
            "db.create.setRelationshipVectorProperty",
        ]
    );
    assert_eq!(
        builtin_procedure_info("DB.CREATE.SETNODEVECTORPROPERTY").map(|(_, m)| m),
        Some("WRITE")
    );
}

fn strings(rows: Vec<Vec<Value>>) -> Vec<String> {
    rows.iter()
        .map(|r| {
            r.iter()
                .map(|v| v.to_string())
                .collect::<Vec<_>>()
                .join(" | ")
        })
        .collect()
}

#[test]
fn clause_semantics() {
    let mut tx = TxGraph::new(Graph::new());
    run(
        &mut tx,
        "CREATE (a:P {name: 'a'})-[:K]->(b:P {name: 'b'})-[:K]->(c:P {name: 'c'}), (a)-[:K]->(c)",
    );
    let cases: &[(&str, &[&str])] = &[
        (
            "MATCH (p:P) OPTIONAL MATCH (p)-[:K]->(q) RETURN p.name, q.name ORDER BY p.name, q.name",
            &["'a' | 'b'", "'a' | 'c'", "'b' | 'c'", "'c' | null"],
        ),
        (
            "MATCH (p:P) RETURN p.name AS n, size([(p)-->(x) | x]) AS out ORDER BY out DESC, n",
            &["'a' | 2", "'b' | 1", "'c' | 0"],
        ),
        (
            "MATCH p = shortestPath((a:P {name: 'a'})-[*]->(c:P {name: 'c'})) RETURN length(p)",
            &["1"],
        ),
        (
            "MATCH (a:P {name: 'a'})-[*2]->(x) RETURN x.name",
            &["'c'"],
        ),
        (
            "MATCH (p:P) RETURN p.name AS x UNION MATCH (p:P) RETURN p.name AS x",
            &["'a'", "'b'", "'c'"],
        ),
        (
            "UNWIND [3, 1, 2, 1] AS x RETURN x, count(*) AS c ORDER BY x",
            &["1 | 2", "2 | 1", "3 | 1"],
        ),
        (
            "UNWIND [1, 'a', null, [1], true, 1.5] AS x RETURN x ORDER BY x",
            &["[1]", "'a'", "true", "1", "1.5", "null"],
        ),
        (
            "MATCH (p:P) CALL { WITH p MATCH (p)-->(q) RETURN count(q) AS n } RETURN p.name, n ORDER BY p.name",
            &["'a' | 2", "'b' | 1", "'c' | 0"],
        ),
        (
            "MERGE (p:P {name: 'a'}) ON MATCH SET p.seen = true ON CREATE SET p.new = true RETURN p.seen, p.new",
            &["true | null"],
        ),
        (
            "MERGE (p:P {name: 'd'}) ON MATCH SET p.seen = true ON CREATE SET p.new = true RETURN p.seen, p.new",
            &["null | true"],
        ),
        (
            "FOREACH (i IN range(1, 3) | CREATE (:F {i: i})) WITH 1 AS one MATCH (f:F) RETURN sum(f.i)",
            &["6"],
        ),
        (
            "MATCH (p:P) WITH p ORDER BY p.name SKIP 1 LIMIT 2 RETURN collect(p.name)",
            &["['b', 'c']"],
        ),
        (
            "MATCH (p:P {name: 'd'}) DETACH DELETE p RETURN count(*)",
            &["1"],
        ),
        (
            "MATCH (p:P) WHERE p.name IN ['a', 'c'] AND EXISTS { (p)-->() } RETURN p.name",
            &["'a'"],
        ),
    ];
    for (q, want) in cases {
        let got = strings(run(&mut tx, q));
        assert_eq!(got, want.to_vec(), "{q}");
    }
}

#[test]
fn unindexed_equality_lookups() {
    let mut tx = TxGraph::new(Graph::new());
    run(
        &mut tx,
        "UNWIND range(0, 199) AS i CREATE (:L {i: i, f: toFloat(i), s: toString(i)})",
    );
    let cases: &[(&str, &[&str])] = &[
        (
            "UNWIND [1, 2.0, null, 'x'] AS x MATCH (b:L {i: x}) RETURN x, b.i",
            &["1 | 1", "2.0 | 2"],
        ),
        (
            "UNWIND [3, 4] AS x MATCH (b:L) WHERE b.f = x RETURN b.s",
            &["'3'", "'4'"],
        ),
        (
            "UNWIND range(1, 300) AS x MATCH (b:L) WHERE b.i IN [x, x + 1] RETURN count(b)",
            &["397"],
        ),
        (
            "UNWIND ['5', '6'] AS x MATCH (b:L) WHERE x = b.s AND b.i > 5 RETURN b.i",
            &["6"],
        ),
    ];
    for (q, want) in cases {
        assert_eq!(strings(run(&mut tx, q)), want.to_vec(), "{q}");
    }
}

#[test]
fn value_size() {
    assert!(
        std::mem::size_of::<crate::val::Val>() <= 32,
        "{}",
        std::mem::size_of::<crate::val::Val>()
    );
}

#[test]
fn deadlines_stop_long_statements() {
    let mut tx = TxGraph::new(Graph::new());
    let past = Some(tokio::time::Instant::now());
    let r = execute_until(
        &mut tx,
        "UNWIND range(1, 100000000) AS x RETURN count(*)",
        &Map::new(),
        &ctx(),
        past,
    )
    .and_then(|r| r.rows.collect::<Result<Vec<_>>>());
    assert_eq!(
        r.map(|_| ()).unwrap_err().code,
        causeway_value::Code::TransactionTimedOut
    );
    let e = execute_until(
        &mut tx,
        "UNWIND range(1, 10) AS x CREATE (:N)",
        &Map::new(),
        &ctx(),
        past,
    )
    .map(|_| ())
    .unwrap_err();
    assert_eq!(e.code, causeway_value::Code::TransactionTimedOut);
    let far = Some(tokio::time::Instant::now() + std::time::Duration::from_secs(3600));
    let rows = execute_until(&mut tx, "RETURN 1", &Map::new(), &ctx(), far)
        .unwrap()
        .rows
        .count();
    assert_eq!(rows, 1);
}

fn dt(seconds: i64, nanos: i64, offset: i32) -> Value {
    Value::DateTime(causeway_value::DateTime {
        seconds,
        nanos,
        tz: causeway_value::Tz::Offset(offset),
    })
}

#[test]
fn temporal_results_are_temporal_values() {
    use causeway_value::temporal::days_from_civil;
    let mut tx = TxGraph::new(Graph::new());
    let day = days_from_civil(2015, 7, 21);
    let rows = run(
        &mut tx,
        "RETURN date('2015-07-21'), datetime('2015-07-21T21:40:32.142+01:00'), \
         localdatetime('2015-07-21T21:40:32'), time('21:40:32+01:00'), \
         localtime('00:00:01.5'), duration('P1Y2M3DT4.5S'), duration('-PT0.5S')",
    );
    assert_eq!(
        rows[0],
        vec![
            Value::Date(day),
            dt(day * 86_400 + 20 * 3600 + 40 * 60 + 32, 142_000_000, 3600),
            Value::LocalDateTime(causeway_value::LocalDateTime {
                seconds: day * 86_400 + 21 * 3600 + 40 * 60 + 32,
                nanos: 0,
            }),
            Value::Time(causeway_value::Time {
                nanos: (21 * 3600 + 40 * 60 + 32) * 1_000_000_000,
                offset: 3600,
            }),
            Value::LocalTime(1_500_000_000),
            Value::Duration(causeway_value::Duration {
                months: 14,
                days: 3,
                seconds: 4,
                nanos: 500_000_000,
            }),
            // Negative time parts keep nanoseconds in 0..1e9, as Bolt does.
            Value::Duration(causeway_value::Duration {
                months: 0,
                days: 0,
                seconds: -1,
                nanos: 500_000_000,
            }),
        ]
    );
    // Rendering is unchanged: toString and Display agree with the old strings.
    let rows = run(
        &mut tx,
        "WITH datetime('2015-07-21T21:40:32.142+01:00') AS t RETURN toString(t), t",
    );
    assert_eq!(rows[0][0], Value::from("2015-07-21T21:40:32.142+01:00"));
    assert_eq!(rows[0][1].to_string(), "'2015-07-21T21:40:32.142+01:00'");
}

#[test]
fn temporal_parameters_compute_and_compare() {
    let mut tx = TxGraph::new(Graph::new());
    let mut p = Map::new();
    p.insert("d".into(), Value::Date(0));
    // 1970-01-01T02:15+01:00 as Bolt 5 sends it.
    p.insert("t".into(), dt(4500, 0, 3600));
    p.insert(
        "z".into(),
        Value::DateTime(causeway_value::DateTime {
            seconds: 4500,
            nanos: 0,
            tz: causeway_value::Tz::Zone("UTC".into()),
        }),
    );
    p.insert(
        "dur".into(),
        Value::Duration(causeway_value::Duration {
            months: 0,
            days: 1,
            seconds: 3600,
            nanos: 0,
        }),
    );
    let rows = run_params(
        &mut tx,
        "RETURN $d + $dur, $t.hour, $t.minute, $t.offset, $t = $z, $t < $z + duration('PT1S'), \
         toString($z), $t + $dur, $dur.hours",
        p,
    );
    assert_eq!(
        rows[0],
        vec![
            Value::Date(1),
            Value::Int(2),
            Value::Int(15),
            Value::from("+01:00"),
            Value::Bool(false),
            Value::Bool(true),
            Value::from("1970-01-01T01:15Z[UTC]"),
            dt(4500 + 90_000, 0, 3600),
            Value::Int(1),
        ]
    );
    // Named zones follow the IANA rules: offsets by date, DST gaps moved
    // forward, arithmetic across a change on the instant.
    let rows = run(
        &mut tx,
        "WITH datetime({year: 2024, month: 3, day: 31, hour: 2, minute: 30, \
         timezone: 'Europe/Berlin'}) AS gap, \
         datetime('2024-10-27T01:30[Europe/Berlin]') AS before \
         RETURN toString(gap), toString(before + duration({hours: 2})), \
         toString(datetime('2024-01-15T12:00[America/New_York]')), \
         duration.inSeconds(before, before + duration({days: 1})).hours",
    );
    assert_eq!(
        rows,
        vec![vec![
            Value::from("2024-03-31T03:30+02:00[Europe/Berlin]"),
            Value::from("2024-10-27T02:30+01:00[Europe/Berlin]"),
            Value::from("2024-01-15T12:00-05:00[America/New_York]"),
            Value::Int(25),
        ]]
    );
    // In an overlap the offset a value has (or was written with) stays
    // while it is valid, as Java keeps it; time-only durations move the
    // instant and nothing else.
    let rows = run(
        &mut tx,
        "RETURN toString(datetime('2021-10-31T02:00+01:00[Europe/Berlin]') + duration('PT1H')),          toString(datetime('2021-10-31T02:30+01:00[Europe/Berlin]')),          toString(datetime('2021-10-31T02:30[Europe/Berlin]')),          toString(datetime('2021-10-30T02:30+02:00[Europe/Berlin]') + duration('P1D'))",
    );
    assert_eq!(
        rows,
        vec![vec![
            Value::from("2021-10-31T03:00+01:00[Europe/Berlin]"),
            Value::from("2021-10-31T02:30+01:00[Europe/Berlin]"),
            Value::from("2021-10-31T02:30+02:00[Europe/Berlin]"),
            Value::from("2021-10-31T02:30+02:00[Europe/Berlin]"),
        ]]
    );
    // A zone we cannot place on the time line is refused, not guessed.
    let mut p = Map::new();
    p.insert(
        "z".into(),
        Value::List(vec![Value::DateTime(causeway_value::DateTime {
            seconds: 0,
            nanos: 0,
            tz: causeway_value::Tz::Zone("Mars/Olympus".into()),
        })]),
    );
    let e = match execute(&mut tx, "RETURN $z", &p, &ctx()) {
        Err(e) => e,
        Ok(_) => panic!("unknown zone accepted"),
    };
    assert_eq!(e.code, causeway_value::Code::ArgumentError);
}

#[test]
fn stored_temporals_keep_their_type_and_order() {
    let mut tx = TxGraph::new(Graph::new());
    run(
        &mut tx,
        "CREATE (:E {i: 1, t: datetime('2020-01-01T10:00+02:00'), d: date('2020-01-03')}), \
                (:E {i: 2, t: datetime('2020-01-01T09:30Z'), d: date('2019-12-31')}), \
                (:E {i: 3, t: datetime('2020-01-01T07:59-01:00'), d: date('2020-01-01')}), \
                (:E {i: 4, l: [date('2020-01-01'), date('2020-01-02')], dur: duration('P1D')})",
    );
    let node = tx
        .all_nodes()
        .into_iter()
        .find(|id| tx.node_prop(*id, "i").as_deref() == Some(&Value::Int(1)))
        .unwrap();
    assert!(matches!(
        tx.node_prop(node, "t").as_deref(),
        Some(Value::DateTime(_))
    ));
    assert!(matches!(
        tx.node_prop(node, "d").as_deref(),
        Some(Value::Date(_))
    ));
    let order = |tx: &mut TxGraph, q: &str| -> Vec<Value> {
        run(tx, q).into_iter().map(|r| r[0].clone()).collect()
    };
    // 08:00Z, 09:30Z, 08:59Z.
    let by_t = "MATCH (e:E) WHERE e.t IS NOT NULL RETURN e.i ORDER BY e.t";
    assert_eq!(
        order(&mut tx, by_t),
        vec![Value::Int(1), Value::Int(3), Value::Int(2)]
    );
    let by_d = "MATCH (e:E) WHERE e.d IS NOT NULL RETURN e.i ORDER BY e.d DESC";
    assert_eq!(
        order(&mut tx, by_d),
        vec![Value::Int(1), Value::Int(3), Value::Int(2)]
    );
    let range =
        "MATCH (e:E) WHERE e.t >= datetime('2020-01-01T09:00+01:00') RETURN e.i ORDER BY e.i";
    let eq = "MATCH (e:E) WHERE e.d = date('2020-01-01') RETURN e.i";
    let before = (order(&mut tx, range), order(&mut tx, eq));
    assert_eq!(before.0, vec![Value::Int(1), Value::Int(2), Value::Int(3)]);
    assert_eq!(before.1, vec![Value::Int(3)]);
    // Indexes give the same answers.
    run(&mut tx, "CREATE INDEX FOR (e:E) ON (e.t)");
    run(&mut tx, "CREATE INDEX FOR (e:E) ON (e.d)");
    assert_eq!((order(&mut tx, range), order(&mut tx, eq)), before);
    let rows = run(
        &mut tx,
        "MATCH (e:E {i: 4}) RETURN e.l, e.dur, e.l[1] > e.l[0]",
    );
    assert_eq!(
        rows[0],
        vec![
            Value::List(vec![Value::Date(18_262), Value::Date(18_263)]),
            Value::Duration(causeway_value::Duration {
                months: 0,
                days: 1,
                seconds: 0,
                nanos: 0,
            }),
            Value::Bool(true),
        ]
    );
    // Lists mixing temporal types are not storable.
    let e = err(&mut tx, "CREATE ({l: [date(), localtime()]})");
    assert_eq!(e.code, causeway_value::Code::TypeError);
}

#[test]
fn oversized_durations_leave_as_text() {
    let d = crate::duration::Duration {
        months: 0,
        days: 0,
        nanos: 10i128.pow(30),
    };
    assert!(matches!(val::duration_to_value(&d), Value::String(_)));
    let t = crate::temporal::Temporal {
        kind: crate::temporal::Kind::DateTime,
        days: i64::MAX,
        nanos: i64::MAX,
        offset: i32::MIN,
        zone: None,
    };
    // Saturates instead of overflowing.
    assert!(matches!(val::temporal_to_value(&t), Value::DateTime(_)));
}

#[test]
fn temporal_boundary_round_trips_and_renders_identically() {
    use crate::temporal::{Kind, Temporal};
    use crate::val::Val;
    // A small deterministic generator: no dependency, same cases every run.
    let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move |n: i64| -> i64 {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed % n as u64) as i64
    };
    let kinds = [
        Kind::Date,
        Kind::LocalTime,
        Kind::Time,
        Kind::LocalDateTime,
        Kind::DateTime,
    ];
    for i in 0..5000 {
        let kind = kinds[i % kinds.len()];
        let dated = matches!(kind, Kind::Date | Kind::LocalDateTime | Kind::DateTime);
        let timed = kind != Kind::Date;
        let zoned = matches!(kind, Kind::Time | Kind::DateTime);
        let days = if !dated {
            0
        } else if i % 7 == 0 {
            // Far years exercise the signed rendering.
            next(2 * 365_000_000) - 365_000_000
        } else {
            next(200_000) - 100_000
        };
        let nanos = if !timed {
            0
        } else if i % 3 == 0 {
            next(86_400) * 1_000_000_000
        } else {
            next(86_400_000_000_000)
        };
        let offset = if zoned {
            (next(129) - 64) as i32 * 900
        } else {
            0
        };
        let t = Temporal {
            kind,
            days,
            nanos,
            offset,
            zone: None,
        };
        let v = val::temporal_to_value(&t);
        assert_eq!(
            v.temporal_text().as_deref(),
            Some(t.render().as_str()),
            "{t:?}"
        );
        assert_eq!(Val::from_value(&v), Val::Temporal(t), "{t:?}");
    }
    for _ in 0..2000 {
        let d = crate::duration::Duration {
            months: next(2_000) - 1_000,
            days: next(2_000) - 1_000,
            nanos: i128::from(next(1 << 50)) - (1 << 49),
        };
        let v = val::duration_to_value(&d);
        assert_eq!(v.temporal_text(), Some(d.render()));
        assert_eq!(Val::from_value(&v), Val::Duration(Box::new(d)));
    }
}

#[test]
fn relationship_uniqueness_constraint_rejects_duplicates() {
    let mut tx = TxGraph::new(Graph::new());
    run(
        &mut tx,
        "CREATE CONSTRAINT c FOR ()-[r:T]-() REQUIRE r.p IS UNIQUE",
    );
    run(&mut tx, "CREATE (:A)-[:T {p: 'x'}]->(:B)");
    let e = fails(&tx, "CREATE (:A)-[:T {p: 'x'}]->(:B)");
    assert_eq!(e.code, Code::ConstraintValidationFailed);
    assert_eq!(
        e.message,
        "Relationship(0) already exists with type `T` and property `p` = 'x'"
    );
    run(&mut tx, "MATCH (a:A) CREATE (a)-[:T {p: 'y'}]->(a)");
    let e = fails(&tx, "MATCH ()-[r:T {p: 'y'}]->() SET r.p = 'x'");
    assert_eq!(e.code, Code::ConstraintValidationFailed);
    // A node with the type's name as label is not constrained.
    run(&mut tx, "CREATE (:T {p: 'x'}), (:T {p: 'x'})");
    let rows = run(&mut tx, "MATCH ()-[r:T]->() RETURN r.p ORDER BY r.p");
    assert_eq!(rows, vec![vec![Value::from("x")], vec![Value::from("y")]]);
    // Deleting frees the value.
    run(&mut tx, "MATCH ()-[r:T {p: 'x'}]->() DELETE r");
    run(&mut tx, "MATCH ()-[r:T {p: 'y'}]->() SET r.p = 'x'");
    run(&mut tx, "MATCH (a:A) DETACH DELETE a");
    run(&mut tx, "CREATE (:A)-[:T {p: 'x'}]->(:B)");

    for q in [
        "CREATE CONSTRAINT k FOR ()-[r:K]-() REQUIRE (r.a, r.b) IS RELATIONSHIP KEY",
        "CREATE CONSTRAINT k2 FOR ()-[r:K2]-() REQUIRE r.a IS REL KEY",
        "CREATE CONSTRAINT u2 FOR ()-[r:U2]-() REQUIRE r.a IS REL UNIQUE",
        "CREATE CONSTRAINT u3 FOR ()-[r:U3]-() REQUIRE r.a IS RELATIONSHIP UNIQUE",
    ] {
        run(&mut tx, q);
    }
    run(&mut tx, "CREATE ()-[:U2 {a: 1}]->()");
    let e = fails(&tx, "CREATE ()-[:U2 {a: 1}]->()");
    assert_eq!(e.code, Code::ConstraintValidationFailed);
    run(&mut tx, "CREATE ()-[:U3 {a: 1}]->()");
    let e = fails(&tx, "CREATE ()-[:U3 {a: 1.0}]->()");
    assert_eq!(e.code, Code::ConstraintValidationFailed);
    let e = fails(&tx, "CREATE ()-[:K2]->()");
    assert_eq!(
        e.message,
        "Relationship(5) with type `K2` must have the property `a`"
    );
    let e = fails(&tx, "CREATE ()-[:K {a: 1}]->()");
    assert_eq!(
        e.message,
        "Relationship(5) with type `K` must have the properties (`a`, `b`)"
    );
}

#[test]
fn relationship_existence_constraints() {
    let mut tx = TxGraph::new(Graph::new());
    run(&mut tx, "CREATE ()-[:T {p: 1}]->(), ()-[:T]->()");
    let e = fails(
        &tx,
        "CREATE CONSTRAINT e FOR ()-[r:T]-() REQUIRE r.p IS NOT NULL",
    );
    assert_eq!(e.code, Code::ConstraintValidationFailed);
    assert_eq!(
        e.message,
        "Unable to create Constraint( name='e', type='RELATIONSHIP PROPERTY EXISTENCE', \
         schema=()-[:T {p}]-() ):\nRelationship(1) with type `T` must have the property `p`"
    );
    run(&mut tx, "MATCH ()-[r:T]->() WHERE r.p IS NULL DELETE r");
    run(
        &mut tx,
        "CREATE CONSTRAINT e FOR ()-[r:T]-() REQUIRE r.p IS NOT NULL",
    );
    let e = fails(&tx, "CREATE ()-[:T]->()");
    assert_eq!(e.code, Code::ConstraintValidationFailed);
    assert_eq!(
        e.message,
        "Relationship(2) with type `T` must have the property `p`"
    );
    let e = fails(&tx, "MATCH ()-[r:T]->() REMOVE r.p");
    assert_eq!(
        e.message,
        "Relationship(0) with type `T` must have the property `p`"
    );
    // The old syntax means the same; nodes labelled T are unaffected.
    run(
        &mut tx,
        "CREATE CONSTRAINT e2 ON ()-[r:U]-() ASSERT exists(r.q)",
    );
    let e = fails(&tx, "CREATE ()-[:U]->()");
    assert_eq!(
        e.message,
        "Relationship(2) with type `U` must have the property `q`"
    );
    run(&mut tx, "CREATE (:T), (:U)");
    // Existing duplicates refuse a uniqueness constraint.
    run(&mut tx, "CREATE ()-[:V {p: 'x'}]->(), ()-[:V {p: 'x'}]->()");
    let e = fails(
        &tx,
        "CREATE CONSTRAINT v FOR ()-[r:V]-() REQUIRE r.p IS UNIQUE",
    );
    assert_eq!(
        e.message,
        "Unable to create Constraint( name='v', type='RELATIONSHIP UNIQUENESS', \
         schema=()-[:V {p}]-() ):\nBoth Relationship(2) and Relationship(3) have the type \
         `V` and property `p` = 'x'"
    );
}

#[test]
fn relationship_and_node_schema_are_distinct() {
    let mut tx = TxGraph::new(Graph::new());
    run(&mut tx, "CREATE INDEX FOR ()-[r:T]-() ON (r.p)");
    // The node index on :T(p) is a different rule, not an equivalent one.
    run(&mut tx, "CREATE INDEX FOR (n:T) ON (n.p)");
    let e = fails(&tx, "CREATE INDEX FOR ()-[r:T]-() ON (r.p)");
    assert_eq!(e.code, Code::EquivalentSchemaRuleAlreadyExists);
    run(
        &mut tx,
        "CREATE INDEX IF NOT EXISTS FOR ()-[r:T]-() ON (r.p)",
    );
    run(&mut tx, "CREATE CONSTRAINT FOR (n:C) REQUIRE n.p IS UNIQUE");
    run(
        &mut tx,
        "CREATE CONSTRAINT FOR ()-[r:C]-() REQUIRE r.p IS UNIQUE",
    );
    let e = fails(
        &tx,
        "CREATE CONSTRAINT FOR ()-[r:C]-() REQUIRE r.p IS UNIQUE",
    );
    assert_eq!(e.code, Code::EquivalentSchemaRuleAlreadyExists);
    assert_eq!(
        strings(run(
            &mut tx,
            "SHOW CONSTRAINTS YIELD entityType RETURN entityType ORDER BY entityType"
        )),
        vec!["'NODE'", "'RELATIONSHIP'"]
    );

    // Mismatched key words are refused, as Neo4j does.
    let e = fails(
        &tx,
        "CREATE CONSTRAINT FOR ()-[r:T]-() REQUIRE r.p IS NODE KEY",
    );
    assert_eq!(e.code, Code::SyntaxError);
    let e = fails(&tx, "CREATE CONSTRAINT FOR (n:T) REQUIRE n.p IS REL KEY");
    assert_eq!(e.code, Code::SyntaxError);

    // A node lookup never uses the relationship index, and finds the nodes.
    run(&mut tx, "CREATE (:R {p: 1}), ()-[:R {p: 1}]->()");
    run(&mut tx, "CREATE INDEX rel_r FOR ()-[r:R]-() ON (r.p)");
    let r = execute(
        &mut tx,
        "EXPLAIN MATCH (n:R) WHERE n.p = 1 RETURN n",
        &Map::new(),
        &ctx(),
    )
    .unwrap();
    let plan = format!("{:?}", r.plan.unwrap());
    assert!(!plan.contains("IndexSeek"), "{plan}");
    let rows = run(&mut tx, "MATCH (n:R) WHERE n.p = 1 RETURN count(n)");
    assert_eq!(rows, vec![vec![Value::Int(1)]]);
    let rows = run(&mut tx, "MATCH (n:R) WHERE n.p > 0 RETURN count(n)");
    assert_eq!(rows, vec![vec![Value::Int(1)]]);
    let rows = run(&mut tx, "MATCH ()-[r:R {p: 1}]->() RETURN count(r)");
    assert_eq!(rows, vec![vec![Value::Int(1)]]);
}

#[test]
fn show_reports_relationship_schema() {
    let mut tx = TxGraph::new(Graph::new());
    run(&mut tx, "CREATE INDEX ri FOR ()-[r:T]-() ON (r.p, r.q)");
    run(
        &mut tx,
        "CREATE CONSTRAINT ru FOR ()-[r:T]-() REQUIRE r.u IS UNIQUE",
    );
    run(
        &mut tx,
        "CREATE CONSTRAINT rk FOR ()-[r:T]-() REQUIRE r.k IS RELATIONSHIP KEY",
    );
    run(
        &mut tx,
        "CREATE CONSTRAINT re FOR ()-[r:T]-() REQUIRE r.e IS NOT NULL",
    );
    let rows = run(
        &mut tx,
        "SHOW INDEXES YIELD name, entityType, labelsOrTypes, properties, owningConstraint, \
         createStatement RETURN *",
    );
    let s = |x: &str| Value::from(x);
    let l = |v: &[&str]| Value::List(v.iter().map(|x| Value::from(*x)).collect());
    // RETURN * orders columns by name.
    assert_eq!(
        rows,
        vec![
            vec![
                s("CREATE RANGE INDEX `ri` FOR ()-[r:`T`]-() ON (r.`p`, r.`q`)"),
                s("RELATIONSHIP"),
                l(&["T"]),
                s("ri"),
                Value::Null,
                l(&["p", "q"]),
            ],
            vec![
                s("CREATE RANGE INDEX `rk` FOR ()-[r:`T`]-() ON (r.`k`)"),
                s("RELATIONSHIP"),
                l(&["T"]),
                s("rk"),
                s("rk"),
                l(&["k"]),
            ],
            vec![
                s("CREATE RANGE INDEX `ru` FOR ()-[r:`T`]-() ON (r.`u`)"),
                s("RELATIONSHIP"),
                l(&["T"]),
                s("ru"),
                s("ru"),
                l(&["u"]),
            ],
        ]
    );
    let rows = run(
        &mut tx,
        "SHOW CONSTRAINTS YIELD name, type, entityType, labelsOrTypes, createStatement \
         RETURN name, type, entityType, labelsOrTypes, createStatement",
    );
    assert_eq!(
        rows,
        vec![
            vec![
                s("re"),
                s("RELATIONSHIP_PROPERTY_EXISTENCE"),
                s("RELATIONSHIP"),
                l(&["T"]),
                s("CREATE CONSTRAINT `re` FOR ()-[r:`T`]-() REQUIRE (r.`e`) IS NOT NULL"),
            ],
            vec![
                s("rk"),
                s("RELATIONSHIP_KEY"),
                s("RELATIONSHIP"),
                l(&["T"]),
                s("CREATE CONSTRAINT `rk` FOR ()-[r:`T`]-() REQUIRE (r.`k`) IS RELATIONSHIP KEY"),
            ],
            vec![
                s("ru"),
                s("RELATIONSHIP_UNIQUENESS"),
                s("RELATIONSHIP"),
                l(&["T"]),
                s("CREATE CONSTRAINT `ru` FOR ()-[r:`T`]-() REQUIRE (r.`u`) IS UNIQUE"),
            ],
        ]
    );
    // The qualified listings filter on the relationship kinds too, whatever
    // YIELD keeps.
    assert_eq!(
        strings(run(
            &mut tx,
            "SHOW RELATIONSHIP KEY CONSTRAINTS YIELD name RETURN name"
        )),
        vec!["'rk'"]
    );
    assert_eq!(
        strings(run(
            &mut tx,
            "SHOW NODE UNIQUE CONSTRAINTS YIELD name RETURN name"
        )),
        Vec::<String>::new()
    );
    assert_eq!(
        strings(run(
            &mut tx,
            "SHOW EXISTENCE CONSTRAINTS YIELD name AS type RETURN type"
        )),
        vec!["'re'"]
    );
}

fn ints(rows: Vec<Vec<Value>>) -> Vec<Vec<i64>> {
    rows.into_iter()
        .map(|r| {
            r.into_iter()
                .map(|v| match v {
                    Value::Int(i) => i,
                    other => panic!("not an integer: {other:?}"),
                })
                .collect()
        })
        .collect()
}

#[test]
fn call_subquery_sees_only_what_it_imports() {
    let mut tx = TxGraph::new(Graph::new());
    run(
        &mut tx,
        "CREATE (a:X {i: 1}), (:X {i: 2}), (:X {i: 3}), (a)-[:R]->(:Y {v: 10}), (a)-[:R]->(:Y {v: 20})",
    );
    // Without an import `a` inside is a new variable matching every X.
    for q in [
        "MATCH (a:X) CALL { MATCH (a:X) RETURN count(a) AS c } RETURN c",
        "MATCH (a:X) CALL () { MATCH (a:X) RETURN count(a) AS c } RETURN c",
    ] {
        assert_eq!(
            ints(run(&mut tx, q)),
            vec![vec![3], vec![3], vec![3]],
            "{q}"
        );
    }
    // Imported, it is the outer node.
    for q in [
        "MATCH (a:X) CALL { WITH a MATCH (a:X) RETURN count(a) AS c } RETURN a.i, c ORDER BY a.i",
        "MATCH (a:X) CALL (a) { MATCH (a:X) RETURN count(a) AS c } RETURN a.i, c ORDER BY a.i",
        "MATCH (a:X) CALL (*) { MATCH (a:X) RETURN count(a) AS c } RETURN a.i, c ORDER BY a.i",
        "MATCH (a:X) CALL { WITH * MATCH (a:X) RETURN count(a) AS c } RETURN a.i, c ORDER BY a.i",
    ] {
        assert_eq!(
            ints(run(&mut tx, q)),
            vec![vec![1, 1], vec![2, 1], vec![3, 1]],
            "{q}"
        );
    }
    // The scope clause imports only what it names.
    assert_eq!(
        ints(run(
            &mut tx,
            "MATCH (a:X {i: 1}), (b:X {i: 2}) CALL (a) { MATCH (b:X) RETURN count(b) AS c } \
             RETURN c"
        )),
        vec![vec![3]]
    );
    // An outer name of another kind of value is simply redeclared inside.
    assert_eq!(
        ints(run(
            &mut tx,
            "WITH 7 AS a CALL { MATCH (a:X) RETURN a.i AS v } RETURN a, v ORDER BY v"
        )),
        vec![vec![7, 1], vec![7, 2], vec![7, 3]]
    );
    assert_eq!(
        ints(run(
            &mut tx,
            "MATCH (a:X) CALL { WITH a MATCH (a)-[:R]->(y) RETURN y.v AS v } RETURN a.i, v ORDER BY v"
        )),
        vec![vec![1, 10], vec![1, 20]]
    );
    // Imports are per union part; the other part sees nothing.
    assert_eq!(
        ints(run(
            &mut tx,
            "UNWIND [1, 2] AS x CALL { WITH x RETURN x * 10 AS y UNION RETURN 0 AS y } \
             RETURN x, y ORDER BY x, y"
        )),
        vec![vec![1, 0], vec![1, 10], vec![2, 0], vec![2, 20]]
    );
    assert_eq!(
        ints(run(
            &mut tx,
            "UNWIND [1, 2] AS x CALL (x) { RETURN x * 10 AS y UNION RETURN x AS y } \
             RETURN x, y ORDER BY x, y"
        )),
        vec![vec![1, 1], vec![1, 10], vec![2, 2], vec![2, 20]]
    );
    // Unit subqueries write once per outer row, with or without imports.
    run(&mut tx, "MATCH (a:X) CALL { CREATE (:Z) }");
    run(
        &mut tx,
        "MATCH (a:X) CALL (a) { CREATE (a)-[:S]->(:W {i: a.i}) }",
    );
    run(
        &mut tx,
        "UNWIND [1, 2] AS i CALL (i) { CREATE (:T {i: i}) } IN TRANSACTIONS OF 1 ROW",
    );
    assert_eq!(
        ints(run(
            &mut tx,
            "MATCH (z:Z) WITH count(z) AS z MATCH (:X)-[:S]->(w:W) WITH z, count(w) AS w \
             MATCH (t:T) RETURN z, w, sum(t.i)"
        )),
        vec![vec![3, 3, 3]]
    );
}

#[test]
fn call_subquery_scope_errors() {
    let mut tx = TxGraph::new(Graph::new());
    run(&mut tx, "CREATE (:X {i: 1})");
    let e = err(&mut tx, "WITH 1 AS c CALL { RETURN 2 AS c } RETURN c");
    assert_eq!(e.code, Code::SyntaxError);
    assert_eq!(e.message, "Variable `c` already declared in outer scope");
    let e = err(&mut tx, "MATCH (a:X) CALL (a) { RETURN a } RETURN a");
    assert_eq!(e.message, "Variable `a` already declared in outer scope");
    let e = err(&mut tx, "MATCH (a:X) CALL { RETURN a.i AS i } RETURN i");
    assert_eq!(e.message, "Variable `a` not defined");
    let e = err(
        &mut tx,
        "MATCH (a:X) CALL { WITH a WHERE a.i > 0 RETURN a.i AS i } RETURN i",
    );
    assert_eq!(
        e.message,
        "Importing WITH should consist only of simple references to outside variables. \
         WHERE is not allowed."
    );
    // With a scope clause, a leading WITH is an ordinary one.
    assert_eq!(
        run(
            &mut tx,
            "MATCH (a:X) CALL (a) { WITH a RETURN a.i AS i } RETURN i"
        ),
        vec![vec![Value::Int(1)]]
    );
}

#[test]
fn expression_subqueries_see_outer_variables_and_keep_their_own() {
    let mut tx = TxGraph::new(Graph::new());
    run(
        &mut tx,
        "CREATE (a:X {i: 1}), (:X {i: 2}), (a)-[:R]->(:Y {v: 20}), (a)-[:R]->(:Y {v: 10})",
    );
    let rows = run(
        &mut tx,
        "MATCH (a:X) RETURN a.i, EXISTS { MATCH (a)-->(b) WHERE b.v > 15 }, \
         COUNT { MATCH (a)-->(b) RETURN b }, \
         COLLECT { MATCH (a)-->(b) RETURN b.v ORDER BY b.v }, \
         [(a)-->(b) WHERE b.v < 15 | b.v] ORDER BY a.i",
    );
    let l = |v: &[i64]| Value::List(v.iter().map(|i| Value::Int(*i)).collect());
    assert_eq!(
        rows,
        vec![
            vec![
                Value::Int(1),
                Value::Bool(true),
                Value::Int(2),
                l(&[10, 20]),
                l(&[10])
            ],
            vec![
                Value::Int(2),
                Value::Bool(false),
                Value::Int(0),
                l(&[]),
                l(&[])
            ],
        ]
    );
    // Names the subqueries declare do not reach the outer row.
    let r = execute(
        &mut tx,
        "MATCH (a:X {i: 1}) WHERE COUNT { MATCH (a)-->(b) RETURN b } = 2 \
         AND EXISTS { MATCH (a)-->(c) } AND size([(a)-->(d) | d]) = 2 \
         AND size(COLLECT { MATCH (a)-->(e) RETURN e }) = 2 RETURN *",
        &Map::new(),
        &ctx(),
    )
    .unwrap();
    assert_eq!(r.fields, vec!["a".to_string()]);
    assert_eq!(r.rows.count(), 1);
    let rows = run(
        &mut tx,
        "MATCH (a:X {i: 1}) RETURN COLLECT { UNWIND [3, 1, 2] AS x RETURN x * a.i } AS xs",
    );
    assert_eq!(rows, vec![vec![l(&[3, 1, 2])]]);
    let rows = run(
        &mut tx,
        "RETURN COLLECT { MATCH (y:Y) RETURN y.v AS v UNION ALL RETURN 0 AS v } AS xs",
    );
    assert_eq!(rows.len(), 1);
    let Value::List(mut got) = rows[0][0].clone() else {
        panic!("{rows:?}")
    };
    got.sort_by_key(|v| match v {
        Value::Int(i) => *i,
        _ => -1,
    });
    assert_eq!(got, vec![Value::Int(0), Value::Int(10), Value::Int(20)]);
}

#[test]
fn apoc_text_convert_and_type_functions() {
    let mut tx = TxGraph::new(Graph::new());
    let one = |tx: &mut TxGraph, expr: &str| run(tx, &format!("RETURN {expr} AS v"))[0][0].clone();
    let strs = |xs: &[&str]| Value::List(xs.iter().map(|x| Value::from(*x)).collect());
    let cases: Vec<(&str, Value)> = vec![
        ("apoc.version()", Value::from("5.26.0")),
        ("apoc.text.replace('Hello World!', '[^a-zA-Z]', '')", Value::from("HelloWorld")),
        ("apoc.text.replace(null, 'a', 'b')", Value::Null),
        ("apoc.text.split('Hello   World', ' +')", strs(&["Hello", "World"])),
        ("apoc.text.split('a,b,,', ',')", strs(&["a", "b"])),
        ("apoc.text.split('a,b,,', ',', -1)", strs(&["a", "b", "", ""])),
        ("apoc.text.split('a,b,c', ',', 2)", strs(&["a", "b,c"])),
        ("apoc.text.capitalize('neo4j')", Value::from("Neo4j")),
        ("apoc.text.decapitalize('Neo4j')", Value::from("neo4j")),
        ("apoc.text.clean('Hello World!')", Value::from("helloworld")),
        ("apoc.text.distance('Levenshtein', 'Levenstein')", Value::Int(1)),
        ("apoc.text.lpad('ab', 5, '0')", Value::from("000ab")),
        ("apoc.text.rpad('ab', 4)", Value::from("ab  ")),
        (
            "apoc.text.regexGroups('abc <link xxx1>yyy1</link> def <link xxx2>yyy2</link>', '<link (\\\\w+)>(\\\\w+)</link>')",
            Value::List(vec![
                strs(&["<link xxx1>yyy1</link>", "xxx1", "yyy1"]),
                strs(&["<link xxx2>yyy2</link>", "xxx2", "yyy2"]),
            ]),
        ),
        ("apoc.convert.toJson({a: [1, 2.5, 'x', null, true]})", Value::from("{\"a\":[1,2.5,\"x\",null,true]}")),
        ("apoc.convert.toJson(date('2020-01-02'))", Value::from("\"2020-01-02\"")),
        (
            "apoc.convert.toJson([point({x: 1, y: 2}), point({longitude: 2, latitude: 1, height: 3})])",
            Value::from(
                "[{\"crs\":\"cartesian\",\"x\":1.0,\"y\":2.0,\"z\":null},\
                 {\"crs\":\"wgs-84-3d\",\"latitude\":1.0,\"longitude\":2.0,\"height\":3.0}]",
            ),
        ),
        ("apoc.convert.fromJsonMap('{\"a\": 42, \"b\": \"foo\", \"c\": [1, 2]}').c", Value::List(vec![Value::Int(1), Value::Int(2)])),
        ("apoc.convert.fromJsonList('[1, 2.5, \"x\"]')", Value::List(vec![Value::Int(1), Value::Float(2.5), Value::from("x")])),
        ("apoc.convert.toList(1)", Value::List(vec![Value::Int(1)])),
        ("apoc.convert.toList(null)", Value::Null),
        ("apoc.convert.toSet([1, 1.0, 2])", Value::List(vec![Value::Int(1), Value::Int(2)])),
        ("apoc.convert.toMap({a: 1}).a", Value::Int(1)),
        ("apoc.meta.cypher.type(1)", Value::from("INTEGER")),
        ("apoc.meta.cypher.type(['Neo4j', 2020])", Value::from("LIST OF ANY")),
        ("apoc.meta.cypher.type(['Neo4j', 'Bloom'])", Value::from("LIST OF STRING")),
        ("apoc.meta.cypher.type(datetime())", Value::from("DATE_TIME")),
        ("apoc.meta.cypher.type(null)", Value::from("NULL")),
        ("apoc.meta.cypher.isType(datetime(), 'DATE_TIME')", Value::Bool(true)),
        ("apoc.meta.cypher.isType(1, 'NODE')", Value::Bool(false)),
        ("apoc.meta.cypher.types(1)", Value::Map(Map::new())),
    ];
    for (expr, want) in cases {
        assert_eq!(one(&mut tx, expr), want, "{expr}");
    }
    run(&mut tx, "CREATE (:Foo:Foo2 {bar: 'baz'})-[:MY_REL {n: 1}]->(:Bar), (:Foo {bar: 'qux'}), (:Foo {bar: 'baz'})");
    assert_eq!(
        one(&mut tx, "[(a:Foo2)-[r]->() | apoc.convert.toJson(r)][0]"),
        Value::from(
            "{\"id\":\"0\",\"type\":\"relationship\",\"label\":\"MY_REL\",\
             \"start\":{\"id\":\"0\",\"labels\":[\"Foo\",\"Foo2\"]},\
             \"end\":{\"id\":\"1\",\"labels\":[\"Bar\"]},\"properties\":{\"n\":1}}"
        )
    );
    assert_eq!(
        one(
            &mut tx,
            "COLLECT { MATCH (b:Bar) RETURN apoc.convert.toJson(b) }[0]"
        ),
        Value::from("{\"id\":\"1\",\"type\":\"node\",\"labels\":[\"Bar\"]}")
    );
    assert_eq!(
        run(
            &mut tx,
            "CALL apoc.schema.properties.distinct('Foo', 'bar')"
        ),
        vec![vec![strs(&["baz", "qux"])]]
    );
    assert_eq!(
        run(
            &mut tx,
            "CALL apoc.schema.properties.distinct('', 'bar') YIELD value RETURN value"
        ),
        vec![vec![strs(&["baz", "qux"])]]
    );
    assert_eq!(
        run(&mut tx, "CALL apoc.schema.properties.distinct('Foo2', '')"),
        vec![vec![strs(&["baz"])]]
    );
    assert_eq!(
        one(
            &mut tx,
            "COLLECT { MATCH (a:Foo2) RETURN apoc.meta.cypher.types(a) }[0]"
        ),
        Value::Map(
            [("bar".to_string(), Value::from("STRING"))]
                .into_iter()
                .collect()
        )
    );
    for bad in [
        "apoc.text.replace('a', '(', 'b')",
        "apoc.convert.fromJsonMap('{not json')",
        "apoc.convert.fromJsonMap('[1]')",
    ] {
        assert_eq!(
            fails(&tx, &format!("RETURN {bad}")).code,
            Code::ProcedureCallFailed,
            "{bad}"
        );
    }
    assert_eq!(
        fails(&tx, "RETURN apoc.convert.fromJsonMap('{}', '$.a')").code,
        Code::UnsupportedOperation
    );
}

#[test]
fn dynamic_labels_and_types_in_match() {
    let mut tx = TxGraph::new(Graph::new());
    run(
        &mut tx,
        "CREATE (:Person:Actor {n: 1})-[:ACTED_IN]->(:Movie {n: 2}), \
         (:Person {n: 3})-[:DIRECTED]->(:Movie {n: 4}), (:Actor {n: 5})",
    );
    let p = |k: &str, v: Value| -> Map { [(k.to_string(), v)].into_iter().collect() };
    let ns = |tx: &mut TxGraph, q: &str, params: Map| -> Vec<i64> {
        run_params(tx, q, params)
            .into_iter()
            .map(|r| match &r[0] {
                Value::Int(i) => *i,
                other => panic!("{other:?}"),
            })
            .collect()
    };
    let strs = |xs: &[&str]| Value::List(xs.iter().map(|x| Value::from(*x)).collect());
    let q = "MATCH (n:$($l)) RETURN n.n ORDER BY n.n";
    assert_eq!(ns(&mut tx, q, p("l", Value::from("Person"))), vec![1, 3]);
    assert_eq!(ns(&mut tx, q, p("l", strs(&["Person", "Actor"]))), vec![1]);
    let q = "MATCH (n:$any($l)) RETURN n.n ORDER BY n.n";
    assert_eq!(
        ns(&mut tx, q, p("l", strs(&["Person", "Actor"]))),
        vec![1, 3, 5]
    );
    let q = "MATCH (n:$all($l)&Actor) RETURN n.n ORDER BY n.n";
    assert_eq!(ns(&mut tx, q, p("l", Value::from("Person"))), vec![1]);
    let q = "MATCH (a)-[r:$($t)]->(m) RETURN m.n ORDER BY m.n";
    assert_eq!(ns(&mut tx, q, p("t", Value::from("DIRECTED"))), vec![4]);
    // All of two different types: no relationship has both.
    assert!(ns(&mut tx, q, p("t", strs(&["DIRECTED", "ACTED_IN"]))).is_empty());
    let q = "MATCH (a)-[r:$any($t)]->(m) RETURN m.n ORDER BY m.n";
    assert_eq!(
        ns(&mut tx, q, p("t", strs(&["DIRECTED", "ACTED_IN"]))),
        vec![2, 4]
    );
    // In WHERE and with a computed label.
    let q = "WITH 'Mov' + 'ie' AS l MATCH (n) WHERE n:$(l) RETURN n.n ORDER BY n.n";
    assert_eq!(ns(&mut tx, q, Map::new()), vec![2, 4]);
    let e = execute(
        &mut tx.clone(),
        "MATCH (n:$($l)) RETURN n",
        &p("l", Value::Int(1)),
        &ctx(),
    )
    .and_then(|r| r.rows.collect::<Result<Vec<_>, _>>())
    .unwrap_err();
    assert_eq!(e.code, Code::TypeError);
    assert_eq!(
        fails(&tx, "MATCH (:$('A')) RETURN 1").code,
        Code::SyntaxError
    );
}

#[test]
fn dynamic_labels_and_types_in_create_and_merge() {
    let mut tx = TxGraph::new(Graph::new());
    let params: Map = [
        ("l".to_string(), Value::from("Person")),
        (
            "ls".to_string(),
            Value::List(vec![Value::from("A"), Value::from("B")]),
        ),
        ("t".to_string(), Value::from("KNOWS")),
    ]
    .into_iter()
    .collect();
    run_params(
        &mut tx,
        "CREATE (a:$($l) {n: 1})-[:$($t)]->(b:$($ls):Extra {n: 2})",
        params.clone(),
    );
    let labels = |tx: &mut TxGraph, n: i64| {
        run(tx, &format!("MATCH (x {{n: {n}}}) RETURN labels(x)"))[0][0].clone()
    };
    let strs = |xs: &[&str]| Value::List(xs.iter().map(|x| Value::from(*x)).collect());
    assert_eq!(labels(&mut tx, 1), strs(&["Person"]));
    assert_eq!(labels(&mut tx, 2), strs(&["Extra", "A", "B"]));
    assert_eq!(
        run(&mut tx, "MATCH ()-[r]->() RETURN type(r)"),
        vec![vec![Value::from("KNOWS")]]
    );
    // MERGE matches with the evaluated labels and type, then creates.
    for _ in 0..2 {
        run_params(
            &mut tx,
            "MERGE (p:$($l) {n: 1}) MERGE (q:$($l) {n: 3}) MERGE (p)-[:$($t)]->(q)",
            params.clone(),
        );
    }
    assert_eq!(
        run(&mut tx, "MATCH (p:Person) RETURN count(p)"),
        vec![vec![Value::Int(2)]]
    );
    assert_eq!(
        run(&mut tx, "MATCH ()-[r:KNOWS]->() RETURN count(r)"),
        vec![vec![Value::Int(2)]]
    );
    let e = execute(&mut tx.clone(), "CREATE ()-[:$($ls)]->()", &params, &ctx())
        .map(|_| ())
        .unwrap_err();
    assert_eq!(e.code, Code::SyntaxError);
    assert_eq!(fails(&tx, "CREATE (n:$any(['A']))").code, Code::SyntaxError);
    assert_eq!(fails(&tx, "CREATE (n:$(x))").code, Code::SyntaxError);
    // A token name cannot be empty, wherever the term stands.
    for q in [
        "CREATE (:$(''))",
        "CREATE (:$(['A', '']))",
        "CREATE ()-[:$('')]->()",
        "MERGE (:$('') {k: 1})",
        "MATCH (n) SET n:$('')",
    ] {
        assert_eq!(fails(&tx, q).code, Code::TypeError, "{q}");
    }
}

#[test]
fn scoped_call_with_a_leading_with() {
    let mut tx = TxGraph::new(Graph::new());
    run(
        &mut tx,
        "CREATE (:E {n: 1})-[:R]->(:E {n: 2})-[:R]->(:E {n: 3})",
    );
    let rows = run(
        &mut tx,
        "MATCH (e:E) WHERE e.n = 2 CALL (e) { WITH e MATCH (e)-[:R]->(t) RETURN t.n AS n \
         UNION ALL WITH e MATCH (e)<-[:R]-(t) RETURN t.n AS n } RETURN n ORDER BY n",
    );
    assert_eq!(rows, vec![vec![Value::Int(1)], vec![Value::Int(3)]]);
}

#[test]
fn apoc_meta_graph_returns_virtual_nodes_and_relationships() {
    let mut tx = TxGraph::new(Graph::new());
    run(
        &mut tx,
        "CREATE (a:Person)-[:KNOWS]->(:Person), (a)-[:LIKES]->(:Movie), (:Movie)",
    );
    // As llama-index's Neo4jPropertyGraphStore reads it.
    let rows = run(
        &mut tx,
        "CALL apoc.meta.subGraph({}) YIELD nodes, relationships \
         RETURN [n IN nodes | {name: n.name, count: n.count, labels: labels(n)}] AS nodes, \
         [rel IN relationships | {name: apoc.any.property(rel, 'type'), \
          count: apoc.any.property(rel, 'count'), type: type(rel)}] AS relationships",
    );
    let m = |kv: &[(&str, Value)]| {
        Value::Map(kv.iter().map(|(k, v)| (k.to_string(), v.clone())).collect())
    };
    let node = |name: &str, count: i64| {
        m(&[
            ("name", Value::from(name)),
            ("count", Value::Int(count)),
            ("labels", Value::List(vec![Value::from(name)])),
        ])
    };
    let rel = |t: &str, count: i64| {
        m(&[
            ("name", Value::from(t)),
            ("count", Value::Int(count)),
            ("type", Value::from(t)),
        ])
    };
    assert_eq!(
        rows,
        vec![vec![
            Value::List(vec![node("Movie", 2), node("Person", 2)]),
            Value::List(vec![rel("KNOWS", 1), rel("LIKES", 1)]),
        ]]
    );
    // Returned whole, they are nodes and relationships with ids of their own.
    let rows = run(
        &mut tx,
        "CALL apoc.meta.graph({labels: ['Person']}) YIELD nodes, relationships \
         RETURN nodes, relationships",
    );
    let Value::List(nodes) = &rows[0][0] else {
        panic!()
    };
    let Value::List(rels) = &rows[0][1] else {
        panic!()
    };
    let [Value::Node(p)] = nodes.as_slice() else {
        panic!("{nodes:?}")
    };
    assert!(p.id >= crate::val::VIRTUAL_IDS);
    let [Value::Relationship(k)] = rels.as_slice() else {
        panic!("{rels:?}")
    };
    assert_eq!((k.start, k.end, k.rel_type.as_str()), (p.id, p.id, "KNOWS"));
    assert_eq!(
        run(
            &mut tx,
            "RETURN apoc.any.properties({a: 1, b: 2}, ['a']) AS p"
        ),
        vec![vec![m(&[("a", Value::Int(1))])]]
    );
}

#[test]
fn apoc_path_expanders_follow_filters_levels_and_uniqueness() {
    let mut tx = TxGraph::new(Graph::new());
    run(
        &mut tx,
        "CREATE (a:P {n: 'a'})-[:KNOWS]->(b:P {n: 'b'})-[:KNOWS]->(c:P {n: 'c'}), \
         (c)-[:LIKES]->(d:Q {n: 'd'}), (e:P {n: 'e'})-[:KNOWS]->(a), \
         (b)-[:KNOWS]->(x:P:Banned {n: 'x'}), (c)-[:KNOWS]->(a)",
    );
    let names = |tx: &mut TxGraph, q: &str| -> Vec<String> {
        let mut v: Vec<String> = run(tx, q)
            .into_iter()
            .map(|r| match &r[0] {
                Value::String(s) => s.clone(),
                other => panic!("{q}: {other:?}"),
            })
            .collect();
        v.sort();
        v
    };
    // Outgoing KNOWS only, 1 to 2 hops, relationship-path uniqueness.
    assert_eq!(
        names(
            &mut tx,
            "MATCH (a {n: 'a'}) CALL apoc.path.expand(a, 'KNOWS>', '', 1, 2) YIELD path \
             RETURN reduce(s = '', n IN nodes(path) | s + n.n) AS p"
        ),
        ["ab", "abc", "abx"]
    );
    // Blacklist, and any direction.
    assert_eq!(
        names(
            &mut tx,
            "MATCH (a {n: 'a'}) CALL apoc.path.subgraphNodes(a, {relationshipFilter: 'KNOWS', \
             labelFilter: '-Banned'}) YIELD node RETURN node.n AS n"
        ),
        ["a", "b", "c", "e"]
    );
    // Termination label: paths end at the first Q, start not returned.
    assert_eq!(
        names(
            &mut tx,
            "MATCH (a {n: 'a'}) CALL apoc.path.expandConfig(a, {labelFilter: '/Q', \
             relationshipFilter: 'KNOWS>|LIKES>'}) YIELD path \
             RETURN reduce(s = '', n IN nodes(path) | s + n.n) AS p"
        ),
        ["abcd"]
    );
    // maxLevel bounds, and subgraphAll returns the relationships between.
    let rows = run(
        &mut tx,
        "MATCH (a {n: 'a'}) CALL apoc.path.subgraphAll(a, {maxLevel: 1, \
         relationshipFilter: 'KNOWS'}) YIELD nodes, relationships \
         RETURN size(nodes), size(relationships)",
    );
    // a, b, e, c; and b-c counts too, though no walk of one step used it.
    assert_eq!(rows, vec![vec![Value::Int(4), Value::Int(4)]]);
    // A spanning tree reaches every node once.
    assert_eq!(
        run(
            &mut tx,
            "MATCH (a {n: 'a'}) CALL apoc.path.spanningTree(a, {}) YIELD path \
             RETURN count(path)"
        ),
        vec![vec![Value::Int(6)]]
    );
    let e = err(
        &mut tx,
        "MATCH (a {n: 'a'}) CALL apoc.path.expandConfig(a, {uniqueness: 'SIDEWAYS'}) \
         YIELD path RETURN path",
    );
    assert_eq!(e.code, Code::ProcedureCallFailed);
}

#[test]
fn schema_visualization_lists_labels_and_relationship_shapes() {
    let mut tx = TxGraph::new(Graph::new());
    run(
        &mut tx,
        "CREATE (:Person {name: 'a'})-[:WORKS_AT]->(:Company {name: 'c'}), (:Person)",
    );
    run(&mut tx, "CREATE INDEX FOR (p:Person) ON (p.name)");
    let rows = run(
        &mut tx,
        "CALL db.schema.visualization() YIELD nodes, relationships \
         UNWIND nodes AS n WITH n, relationships ORDER BY n.name \
         RETURN collect(n.name) AS names, collect(size(n.indexes)) AS ix, \
         [r IN relationships | r.name] AS rels",
    );
    assert_eq!(
        rows,
        vec![vec![
            Value::List(vec![Value::from("Company"), Value::from("Person")]),
            Value::List(vec![Value::Int(0), Value::Int(1)]),
            Value::List(vec![Value::from("WORKS_AT")]),
        ]]
    );
}

/// `CALL { } IN TRANSACTIONS`: a failed batch is rolled back to its
/// savepoint and, under CONTINUE, the other batches keep their writes; BREAK
/// stops starting batches; FAIL (the default) fails the statement; the status
/// map reports each batch.
#[test]
fn call_in_transactions_batches() {
    let mut tx = TxGraph::new(Graph::new());
    let rows = run(
        &mut tx,
        "UNWIND [1, 2, 5, 0, 10] AS i \
         CALL (i) { CREATE (n:P {v: 10 / i}) RETURN n.v AS v } \
         IN TRANSACTIONS OF 2 ROWS ON ERROR CONTINUE REPORT STATUS AS s \
         RETURN i, v, s.started AS started, s.committed AS committed, \
                s.errorMessage IS NULL AS ok, s.transactionId IS NOT NULL AS named",
    );
    let t = Value::Bool(true);
    let f = Value::Bool(false);
    let expected = vec![
        vec![
            Value::Int(1),
            Value::Int(10),
            t.clone(),
            t.clone(),
            t.clone(),
            t.clone(),
        ],
        vec![
            Value::Int(2),
            Value::Int(5),
            t.clone(),
            t.clone(),
            t.clone(),
            t.clone(),
        ],
        vec![
            Value::Int(5),
            Value::Null,
            t.clone(),
            f.clone(),
            f.clone(),
            t.clone(),
        ],
        vec![
            Value::Int(0),
            Value::Null,
            t.clone(),
            f.clone(),
            f.clone(),
            t.clone(),
        ],
        vec![
            Value::Int(10),
            Value::Int(1),
            t.clone(),
            t.clone(),
            t.clone(),
            t.clone(),
        ],
    ];
    assert_eq!(rows, expected);
    // The batch [5, 0] left nothing behind: 5's node was rolled back with it.
    assert_eq!(
        ints(run(&mut tx, "MATCH (n:P) RETURN n.v ORDER BY n.v")),
        vec![vec![1], vec![5], vec![10]]
    );

    let rows = run(
        &mut tx,
        "UNWIND [1, 0, 2] AS i CALL (i) { CREATE (:Q {v: 1 / i}) } \
         IN TRANSACTIONS OF 1 ROW ON ERROR BREAK REPORT STATUS AS s \
         RETURN i, s.started AS started, s.committed AS committed",
    );
    assert_eq!(
        rows,
        vec![
            vec![Value::Int(1), t.clone(), t.clone()],
            vec![Value::Int(0), t.clone(), f.clone()],
            vec![Value::Int(2), f.clone(), f.clone()],
        ]
    );
    assert_eq!(
        ints(run(&mut tx, "MATCH (q:Q) RETURN count(q)")),
        vec![vec![1]]
    );

    // A failed batch under a constraint is caught at the batch's end.
    run(
        &mut tx,
        "CREATE CONSTRAINT u FOR (k:K) REQUIRE k.id IS UNIQUE",
    );
    run(
        &mut tx,
        "UNWIND [1, 2, 2, 3] AS i CALL (i) { CREATE (:K {id: i}) } \
         IN TRANSACTIONS OF 1 ROW ON ERROR CONTINUE",
    );
    assert_eq!(
        ints(run(&mut tx, "MATCH (k:K) RETURN count(k)")),
        vec![vec![3]]
    );

    // ON ERROR FAIL: the statement fails; batches finished before the
    // failing one are marked to commit all the same, as Neo4j keeps them.
    // (Each statement from a committed state, as an auto-commit query.)
    let committed = || TxGraph::new(tx.clone().finish().0);
    let mut failing = committed();
    let e = err(
        &mut failing,
        "UNWIND [1, 0] AS i CALL (i) { CREATE (:R {v: 1 / i}) } IN TRANSACTIONS OF 1 ROW",
    );
    assert_eq!(e.code, Code::ArithmeticError);
    let mut kept = failing
        .take_finished_batches()
        .expect("the first batch is kept");
    assert_eq!(
        ints(run(&mut kept, "MATCH (r:R) RETURN count(r)")),
        vec![vec![1]]
    );
    let mut failing = committed();
    err(
        &mut failing,
        "UNWIND [0, 1] AS i CALL (i) { CREATE (:R {v: 1 / i}) } IN TRANSACTIONS OF 1 ROW",
    );
    assert!(!failing.keeps_finished_batches());
    // A failure after the clause keeps the finished batches too ...
    let mut failing = committed();
    err(
        &mut failing,
        "UNWIND [1, 2] AS i CALL (i) { CREATE (:R {v: i}) } IN TRANSACTIONS OF 1 ROW \
         WITH count(*) AS n RETURN 1 / (n - 2)",
    );
    let mut kept = failing
        .take_finished_batches()
        .expect("both batches are kept");
    assert_eq!(
        ints(run(&mut kept, "MATCH (r:R) RETURN count(r)")),
        vec![vec![2]]
    );
    // ... but not when the outer query wrote before the clause: that write
    // belongs to the outer transaction, which fails.
    let mut failing = committed();
    err(
        &mut failing,
        "CREATE (:Outer) WITH 1 AS x UNWIND [1, 0] AS i \
         CALL (i) { CREATE (:R {v: 1 / i}) } IN TRANSACTIONS OF 1 ROW",
    );
    assert!(!failing.keeps_finished_batches());
    // ON ERROR RETRY ... THEN CONTINUE: a deterministic failure is not
    // retried and the batch is skipped.
    run(
        &mut tx,
        "UNWIND [1, 0] AS i CALL (i) { CREATE (:S {v: 1 / i}) } \
         IN 2 CONCURRENT TRANSACTIONS OF 1 ROW ON ERROR RETRY FOR 1 SECOND THEN CONTINUE",
    );
    assert_eq!(
        ints(run(&mut tx, "MATCH (s:S) RETURN count(s)")),
        vec![vec![1]]
    );
    let mut p = Map::new();
    p.insert("n".into(), Value::Int(0));
    let e = execute(
        &mut tx.clone(),
        "UNWIND [1] AS i CALL (i) { CREATE (:T) } IN TRANSACTIONS OF $n ROWS",
        &p,
        &ctx(),
    )
    .err()
    .expect("a batch size of 0 is refused");
    assert_eq!(e.code, Code::ArgumentError);
}

#[test]
fn call_in_transactions_compile_errors() {
    let tx = TxGraph::new(Graph::new());
    let e = fails(
        &tx,
        "UNWIND [1] AS i CALL (i) { CREATE (:T) } IN TRANSACTIONS REPORT STATUS AS s RETURN s",
    );
    assert_eq!(e.code, Code::SyntaxError);
    assert!(e.message.contains("REPORT STATUS can only be used"), "{e}");
    let e = fails(
        &tx,
        "CALL { CALL { CREATE (:T) } IN TRANSACTIONS } IN TRANSACTIONS",
    );
    assert!(e.message.contains("Nested CALL"), "{e}");
    let e = fails(
        &tx,
        "UNWIND [1] AS i CALL (i) { CREATE (:T) } IN TRANSACTIONS OF 0 ROWS",
    );
    assert!(e.message.contains("Must be a positive integer"), "{e}");
    let e = fails(
        &tx,
        "UNWIND [1] AS s CALL (s) { CREATE (:T) } IN TRANSACTIONS ON ERROR CONTINUE REPORT STATUS AS s RETURN s",
    );
    assert!(e.message.contains("already declared"), "{e}");
    let e = fails(
        &tx,
        "CALL { CREATE (:T) } IN TRANSACTIONS OF 1 ROW OF 2 ROWS",
    );
    assert_eq!(e.code, Code::SyntaxError);
    assert!(
        statement_info("CALL { CREATE (:T) } IN TRANSACTIONS")
            .unwrap()
            .inner_transactions
    );
    assert!(
        !statement_info("CALL { CREATE (:T) }")
            .unwrap()
            .inner_transactions
    );
    let info = statement_info("PROFILE MATCH (n) RETURN n").unwrap();
    assert!(info.profile && !info.answered_here && info.class == StatementClass::Read);
    assert!(
        statement_info("call DBMS.components()")
            .unwrap()
            .answered_here
    );
    // A write that starts with a cluster procedure is routed like any write.
    assert!(
        !statement_info("CALL dbms.components() YIELD name CREATE (:C {name: name})")
            .unwrap()
            .answered_here
    );
    assert!(statement_info("SHOW PROCEDURES").unwrap().answered_here);
    assert!(!statement_info("CALL db.labels()").unwrap().answered_here);
}

/// `apoc.periodic.iterate`: the action per row (columns as variables and
/// parameters) or per batch (`$_batch`); a failing batch is rolled back and
/// counted, the others stay.
#[test]
fn apoc_periodic_iterate() {
    let mut tx = TxGraph::new(Graph::new());
    run(&mut tx, "UNWIND range(1, 10) AS i CREATE (:It {i: i})");
    let rows = run(
        &mut tx,
        "CALL apoc.periodic.iterate('MATCH (n:It) RETURN n', 'SET n.d = 12 / (n.i - 5)', \
         {batchSize: 3}) YIELD batches, total, committedOperations, failedOperations, \
         failedBatches, errorMessages, batch, operations, updateStatistics \
         RETURN batches, total, committedOperations, failedOperations, failedBatches, \
         size(keys(errorMessages)) AS errors, batch.failed AS bf, operations.committed AS oc, \
         updateStatistics.propertiesSet AS set",
    );
    // Rows 4, 5, 6 form the failing batch (division by zero at 5).
    assert_eq!(ints(rows), vec![vec![4, 10, 7, 3, 1, 1, 1, 7, 7]]);
    assert_eq!(
        ints(run(
            &mut tx,
            "MATCH (n:It) WHERE n.d IS NULL RETURN n.i ORDER BY n.i"
        )),
        vec![vec![4], vec![5], vec![6]]
    );
    let rows = run(
        &mut tx,
        "CALL apoc.periodic.iterate('UNWIND range(1, 5) AS x RETURN x', \
         'UNWIND $_batch AS row CREATE (:Batch {x: row.x, k: $k})', \
         {batchSize: 2, params: {k: 'v'}}) YIELD batches, total RETURN batches, total",
    );
    assert_eq!(ints(rows), vec![vec![3, 5]]);
    assert_eq!(
        ints(run(&mut tx, "MATCH (b:Batch {k: 'v'}) RETURN sum(b.x)")),
        vec![vec![15]]
    );
    let e = fails(
        &tx,
        "CALL apoc.periodic.iterate('RETURN 1 AS x', 'CREATE (:Y)', {batchSize: 0})",
    );
    assert_eq!(e.code, Code::ProcedureCallFailed);
    assert!(run(&mut tx, "CALL apoc.util.sleep(5)").is_empty());
    // BATCH_SINGLE hands the action each batch; a deterministic failure is
    // retried as often as asked and still fails; parallel batches may run
    // one after another; modes not built are refused, not ignored.
    let rows = run(
        &mut tx,
        "CALL apoc.periodic.iterate('UNWIND range(1, 6) AS x RETURN x', \
         'UNWIND $_batch AS b CREATE (:Single {x: b.x, n: size($_batch)})', \
         {batchSize: 4, batchMode: 'BATCH_SINGLE', parallel: true, concurrency: 4}) \
         YIELD batches, total RETURN batches, total",
    );
    assert_eq!(ints(rows), vec![vec![2, 6]]);
    assert_eq!(
        ints(run(
            &mut tx,
            "MATCH (s:Single) RETURN s.n, count(*) ORDER BY s.n"
        )),
        vec![vec![2, 2], vec![4, 4]]
    );
    let rows = run(
        &mut tx,
        "CALL apoc.periodic.iterate('UNWIND [1, 0, 2] AS x RETURN x', 'CREATE (:R {v: 1 / x})', \
         {batchSize: 1, retries: 2}) YIELD batches, failedBatches, retries \
         RETURN batches, failedBatches, retries",
    );
    assert_eq!(ints(rows), vec![vec![3, 1, 2]]);
    for config in [
        "{batchMode: 'SINGLE'}",
        "{batchMode: 'EACH'}",
        "{iterateList: false}",
        "{failedParams: 5}",
        "{retries: -1}",
        "{parallel: 'yes'}",
    ] {
        let e = fails(
            &tx,
            &format!("CALL apoc.periodic.iterate('RETURN 1 AS x', 'CREATE (:Y)', {config})"),
        );
        assert_eq!(e.code, Code::ProcedureCallFailed, "{config}: {e}");
    }
}

/// SHOW FUNCTIONS lists exactly the functions a query can call, each with a
/// signature whose argument count the checker accepts.
#[test]
fn show_functions_lists_every_callable_function() {
    use crate::function_list::{parse, FUNCTIONS};
    let listed: std::collections::HashSet<String> = FUNCTIONS
        .iter()
        .map(|f| parse(f.0).name.to_ascii_lowercase())
        .collect();
    assert_eq!(listed.len(), FUNCTIONS.len(), "a function is listed twice");
    let apoc: Vec<&str> = crate::apoc_functions::NAMES
        .iter()
        .chain(crate::apoc::FUNCTIONS)
        .copied()
        .collect();
    // What the executor runs: its scalar functions, the aggregates and APOC's.
    let aggregates = causeway_cypher::function_names()
        .filter(|n| causeway_cypher::function_arity(n).is_some_and(|a| a.2));
    let callable: std::collections::HashSet<String> = crate::functions::KNOWN
        .iter()
        .copied()
        .chain(aggregates)
        .chain(apoc.iter().copied())
        .map(str::to_owned)
        .collect();
    assert_eq!(listed, callable, "SHOW FUNCTIONS and the executor disagree");
    for &(sig, _, _) in FUNCTIONS {
        let p = parse(sig);
        if let Some((min, max, _)) = causeway_cypher::function_arity(p.name) {
            let n = p.args.len();
            assert!(
                n == max || (max == usize::MAX && n >= min.max(1)),
                "{sig}: the checker takes {min}..{max} arguments"
            );
        }
    }
    let mut tx = TxGraph::new(Graph::new());
    let r = execute(&mut tx, "SHOW FUNCTIONS", &Map::new(), &ctx()).unwrap();
    assert_eq!(r.fields, vec!["name", "category", "description"]);
    let rows = run(
        &mut tx,
        "SHOW FUNCTIONS YIELD name, signature, aggregating, isBuiltIn, argumentDescription \
         WHERE name IN ['count', 'toUpper', 'apoc.text.join'] \
         RETURN name, signature, aggregating, isBuiltIn, size(argumentDescription) AS args",
    );
    assert_eq!(
        rows,
        vec![
            vec![
                Value::from("apoc.text.join"),
                Value::from("apoc.text.join(lst :: LIST<STRING>, delimiter :: STRING) :: STRING"),
                Value::Bool(false),
                Value::Bool(false),
                Value::Int(2),
            ],
            vec![
                Value::from("count"),
                Value::from("count(input :: ANY) :: INTEGER"),
                Value::Bool(true),
                Value::Bool(true),
                Value::Int(1),
            ],
            vec![
                Value::from("toUpper"),
                Value::from("toUpper(input :: STRING) :: STRING"),
                Value::Bool(false),
                Value::Bool(true),
                Value::Int(1),
            ],
        ]
    );
    let builtin = run(
        &mut tx,
        "SHOW BUILT IN FUNCTIONS YIELD name RETURN count(*) AS n",
    );
    let all = run(&mut tx, "SHOW FUNCTIONS YIELD name RETURN count(*) AS n");
    assert_eq!(
        ints(all)[0][0] - ints(builtin)[0][0],
        i64::try_from(apoc.len()).unwrap()
    );
}

#[test]
fn spatial_points() {
    let mut tx = TxGraph::new(Graph::new());
    let rows = run(
        &mut tx,
        "WITH point({x: 3, y: 4}) AS p, point({x: 0, y: 0}) AS o \
         RETURN point.distance(p, o) AS d, p.x AS x, p.srid AS srid, p.crs AS crs, \
                toString(p) AS s, valueType(p) AS t, p = point({x: 3.0, y: 4.0}) AS same, \
                p < o AS lt, distance(p, o) AS legacy",
    );
    assert_eq!(
        rows,
        vec![vec![
            Value::Float(5.0),
            Value::Float(3.0),
            Value::Int(7203),
            Value::from("cartesian"),
            Value::from("point({x: 3.0, y: 4.0, crs: 'cartesian'})"),
            Value::from("POINT NOT NULL"),
            Value::Bool(true),
            Value::Null,
            Value::Float(5.0),
        ]]
    );
    run(
        &mut tx,
        "CREATE (:Pt {p: point({latitude: 55.6, longitude: 13.0}), \
                      ps: [point({x: 1, y: 1}), point({x: 2, y: 2})]})",
    );
    let rows = run(
        &mut tx,
        "MATCH (n:Pt) WHERE n.p = point({longitude: 13.0, latitude: 55.6, crs: 'WGS-84'}) \
         RETURN n.p.longitude AS lon, size(n.ps) AS k, \
                point.withinBBox(n.ps[0], point({x: 0, y: 0}), point({x: 1, y: 1})) AS inside",
    );
    assert_eq!(
        rows,
        vec![vec![Value::Float(13.0), Value::Int(2), Value::Bool(true)]]
    );
    // Null coordinates give null; a bad coordinate system or range fails.
    assert_eq!(
        run(&mut tx, "RETURN point({x: null, y: 1}) AS p"),
        vec![vec![Value::Null]]
    );
    assert_eq!(
        fails(&tx, "RETURN point({x: 1, y: 1, crs: 'mars'})").code,
        Code::ArgumentError
    );
    assert_eq!(
        fails(&tx, "RETURN point({latitude: 91, longitude: 0})").code,
        Code::ArgumentError
    );
    assert!(fails(&tx, "RETURN point({x: 1, y: 1}).latitude")
        .message
        .contains("latitude"));
    assert_eq!(
        fails(
            &tx,
            "CREATE (:Pt {q: [point({x: 1, y: 1}), point({latitude: 1, longitude: 1})]})"
        )
        .code,
        Code::TypeError
    );
    // Ordering groups points together and keeps them apart from other types.
    let rows = run(
        &mut tx,
        "UNWIND [point({x: 2, y: 0}), 1, point({x: 1, y: 5})] AS v RETURN v ORDER BY v",
    );
    assert_eq!(rows.len(), 3);
    assert_eq!(rows[2], vec![Value::Int(1)]);
}

/// A statement given the same inputs draws the same random values and
/// reads the same clock: how a transaction re-run at its commit point
/// reproduces what its client was shown.
#[test]
fn the_same_inputs_give_the_same_random_and_clock_values() {
    let q = "RETURN rand() AS r, randomUUID() AS u, datetime() AS d, timestamp() AS t, \
             [x IN range(1, 3) | rand()] AS more";
    let rows = |inputs: Option<Inputs>| {
        let mut tx = TxGraph::new(Graph::new());
        let c = ExecContext { inputs, ..ctx() };
        let r = execute(&mut tx, q, &Map::new(), &c).unwrap();
        r.rows.collect::<Result<Vec<_>>>().unwrap()
    };
    let inputs = Inputs::fresh();
    assert_eq!(rows(Some(inputs)), rows(Some(inputs)));
    let other = Inputs {
        seed: inputs.seed.wrapping_add(1),
        ..inputs
    };
    assert_ne!(rows(Some(inputs)), rows(Some(other)));
    assert_ne!(rows(None), rows(None));
}

/// Counts answered from the graph's tallies agree with the same counts
/// scanned (`WHERE true` keeps the planner from using the tallies), inside
/// a transaction that has written, and for any number of input rows.
#[test]
fn counts_from_the_tallies_agree_with_scans() {
    let mut tx = TxGraph::new(Graph::new());
    run(
        &mut tx,
        "UNWIND range(1, 50) AS i CREATE (a:A {i: i})-[:R]->(b:B), (a)-[:S]->(a)",
    );
    run(&mut tx, "MATCH (a:A) WHERE a.i > 40 DETACH DELETE a");
    run(&mut tx, "MATCH (b:B) WITH b LIMIT 5 SET b:A");
    for (fast, slow) in [
        (
            "MATCH (n:A) RETURN count(n)",
            "MATCH (n:A) WHERE true RETURN count(n)",
        ),
        (
            "MATCH (n) RETURN count(*) AS c",
            "MATCH (n) WHERE true RETURN count(*) AS c",
        ),
        (
            "MATCH (n:Missing) RETURN count(n)",
            "MATCH (n:Missing) WHERE true RETURN count(n)",
        ),
        (
            "MATCH ()-[r:R]->() RETURN count(r)",
            "MATCH ()-[r:R]->() WHERE true RETURN count(r)",
        ),
        (
            "MATCH ()<-[r:S]-() RETURN count(r)",
            "MATCH ()<-[r:S]-() WHERE true RETURN count(r)",
        ),
        (
            "MATCH (a)-[r]->(b) RETURN count(*), count(a)",
            "MATCH (a)-[r]->(b) WHERE true RETURN count(*), count(a)",
        ),
        (
            "UNWIND [1, 2, 3] AS x MATCH (n:B) RETURN count(n) AS c",
            "UNWIND [1, 2, 3] AS x MATCH (n:B) WHERE true RETURN count(n) AS c",
        ),
        (
            "UNWIND [] AS x MATCH (n) RETURN count(n) AS c",
            "UNWIND [] AS x MATCH (n) WHERE true RETURN count(n) AS c",
        ),
        (
            "MATCH (n:A) WITH count(n) AS c RETURN c + 1 AS d",
            "MATCH (n:A) WHERE true WITH count(n) AS c RETURN c + 1 AS d",
        ),
        // A bound variable makes the count depend on the row.
        (
            "MATCH (a:A) MATCH (a) RETURN count(a)",
            "MATCH (a:A) MATCH (a) WHERE true RETURN count(a)",
        ),
        (
            "MATCH (a)-[r]->(a) RETURN count(r)",
            "MATCH (a)-[r]->(a) WHERE true RETURN count(r)",
        ),
        // Type expressions beyond one name, and ACYCLIC, which drops loops.
        (
            "MATCH ()-[r:!R]->() RETURN count(r)",
            "MATCH ()-[r:!R]->() WHERE true RETURN count(r)",
        ),
        (
            "MATCH ()-[:R&S]->() RETURN count(*)",
            "MATCH ()-[:R&S]->() WHERE true RETURN count(*)",
        ),
        (
            "MATCH ()-[r:%]->() RETURN count(r)",
            "MATCH ()-[r:%]->() WHERE true RETURN count(r)",
        ),
        (
            "MATCH ACYCLIC (a)-[r]->(b) RETURN count(r)",
            "MATCH ACYCLIC (a)-[r]->(b) WHERE true RETURN count(r)",
        ),
    ] {
        assert_eq!(run(&mut tx, fast), run(&mut tx, slow), "{fast}");
    }
    assert_eq!(
        run(&mut tx, "MATCH (n:A) RETURN count(n)"),
        vec![vec![Value::Int(45)]]
    );
    assert_eq!(
        run(&mut tx, "MATCH ()-[r:S]->() RETURN count(r)"),
        vec![vec![Value::Int(40)]]
    );
    let plan = |tx: &mut TxGraph, q: &str| {
        let r = execute(tx, q, &Map::new(), &ctx()).unwrap();
        format!("{:?}", r.plan.unwrap())
    };
    let p = plan(&mut tx, "EXPLAIN MATCH (n:A) RETURN count(n)");
    assert!(p.contains("NodeCountFromCountStore@causeway"), "{p}");
    let p = plan(&mut tx, "EXPLAIN MATCH ()-[r:R]->() RETURN count(r) AS c");
    assert!(
        p.contains("RelationshipCountFromCountStore@causeway"),
        "{p}"
    );
    let p = plan(&mut tx, "EXPLAIN MATCH (n:A) RETURN count(DISTINCT n)");
    assert!(!p.contains("CountStore"), "{p}");
}

/// ORDER BY ... LIMIT gives the first rows of the whole sort, whether the
/// rows are sorted before they are projected (the sort keys read only
/// what the projection keeps meaning) or after (they read a renamed or
/// aggregated item).
#[test]
fn sorting_with_a_limit_keeps_the_first_rows_of_the_full_sort() {
    let mut tx = TxGraph::new(Graph::new());
    run(
        &mut tx,
        "UNWIND range(1, 300) AS i CREATE (:P {i: i, a: (i * 37) % 11, b: (i * 13) % 7, name: 'p' + i})",
    );
    for (limited, full, skip, limit) in [
        (
            "MATCH (p:P) RETURN p.name ORDER BY p.a DESC, p.i LIMIT 7",
            "MATCH (p:P) RETURN p.name ORDER BY p.a DESC, p.i",
            0,
            7,
        ),
        (
            "MATCH (p:P) RETURN p.name AS n, p.b AS b ORDER BY b, n SKIP 5 LIMIT 9",
            "MATCH (p:P) RETURN p.name AS n, p.b AS b ORDER BY b, n",
            5,
            9,
        ),
        (
            "MATCH (p:P) RETURN p.a AS p ORDER BY p DESC LIMIT 4",
            "MATCH (p:P) RETURN p.a AS p ORDER BY p DESC",
            0,
            4,
        ),
        (
            "MATCH (p:P) WITH p.i AS i, p.a AS a ORDER BY a, i DESC LIMIT 6 RETURN i, a",
            "MATCH (p:P) WITH p.i AS i, p.a AS a ORDER BY a, i DESC RETURN i, a",
            0,
            6,
        ),
        (
            "MATCH (p:P) WITH p, p.b AS q ORDER BY p.i DESC LIMIT 3 RETURN p.i, q",
            "MATCH (p:P) WITH p, p.b AS q ORDER BY p.i DESC RETURN p.i, q",
            0,
            3,
        ),
        (
            "UNWIND [3, 1, 2] AS x WITH x AS y, -x AS x ORDER BY x LIMIT 2 RETURN y, x",
            "UNWIND [3, 1, 2] AS x WITH x AS y, -x AS x ORDER BY x RETURN y, x",
            0,
            2,
        ),
        // A subquery in the sort key reads the projection's names.
        (
            "MATCH (p:P) WHERE p.i <= 20 WITH p.i AS i MATCH (q:P {i: i}) \
             RETURN q AS x ORDER BY COUNT { MATCH (y:P) WHERE y.i < x.i } DESC LIMIT 3",
            "MATCH (p:P) WHERE p.i <= 20 WITH p.i AS i MATCH (q:P {i: i}) \
             RETURN q AS x ORDER BY COUNT { MATCH (y:P) WHERE y.i < x.i } DESC",
            0,
            3,
        ),
    ] {
        let all = run(&mut tx, full);
        let want: Vec<_> = all.into_iter().skip(skip).take(limit).collect();
        assert_eq!(run(&mut tx, limited), want, "{limited}");
    }
    // A key that repeats an item sorts by the item's own value.
    let rows = run(
        &mut tx,
        "MATCH (p:P) RETURN p.i AS i, rand() AS r ORDER BY rand() LIMIT 20",
    );
    let keys: Vec<f64> = rows
        .iter()
        .map(|r| match r[1] {
            Value::Float(f) => f,
            ref other => panic!("{other:?}"),
        })
        .collect();
    assert!(keys.windows(2).all(|w| w[0] <= w[1]), "{keys:?}");
}
