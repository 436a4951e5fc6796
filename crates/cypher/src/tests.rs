use crate::ast::*;
use crate::{check, parse};
use causeway_value::{Code, Error, Phase};

fn stmt(src: &str) -> Statement {
    parse(src).unwrap_or_else(|e| panic!("{src}\n{}", e.message))
}

fn clauses(src: &str) -> Vec<Clause> {
    match stmt(src).kind {
        StatementKind::Query(mut q) => q.parts.remove(0).clauses,
        other => panic!("not a query: {other:?}"),
    }
}

/// The expression of the first item of `RETURN <src>`.
fn expr(src: &str) -> Expr {
    match clauses(&format!("RETURN {src}")).remove(0) {
        Clause::Return(mut p) => p.items.remove(0).expr,
        other => panic!("{other:?}"),
    }
}

fn syntax_error(src: &str) -> Error {
    match parse(src) {
        Ok(s) => panic!("expected a syntax error for {src}, got {s:?}"),
        Err(e) => {
            assert_eq!(e.code, Code::SyntaxError);
            assert_eq!(e.phase, Phase::Compile);
            e
        }
    }
}

/// The detail of the error `parse` + `check` report.
fn fails(src: &str) -> &'static str {
    let r = parse(src).and_then(|s| check(&s));
    match r {
        Ok(()) => panic!("expected an error for {src}"),
        Err(e) => {
            assert_eq!(e.phase, Phase::Compile, "{src}");
            e.detail.unwrap_or("<none>")
        }
    }
}

fn accepts(src: &str) {
    let s = stmt(src);
    if let Err(e) = check(&s) {
        panic!("{src} rejected: {:?} {}", e.detail, e.message);
    }
}

fn int(v: i64) -> Expr {
    Expr::Literal(Literal::Int(v))
}

fn var(v: &str) -> Expr {
    Expr::Variable(v.to_string())
}

fn bin(op: BinaryOp, a: Expr, b: Expr) -> Expr {
    Expr::Binary(op, Box::new(a), Box::new(b))
}

fn prop(e: Expr, key: &str) -> Expr {
    Expr::Property(Box::new(e), key.to_string())
}

// ----- literals ----------------------------------------------------------------

#[test]
fn integer_literals() {
    assert_eq!(expr("42"), int(42));
    assert_eq!(expr("0x1F"), int(31));
    assert_eq!(expr("0o17"), int(15));
    assert_eq!(expr("-9223372036854775808"), int(i64::MIN));
    assert_eq!(expr("9223372036854775807"), int(i64::MAX));
    assert_eq!(expr("-0x8000000000000000"), int(i64::MIN));
    assert_eq!(expr("- 5"), int(-5));
}

#[test]
fn integer_overflow() {
    for q in [
        "RETURN 9223372036854775808",
        "RETURN -9223372036854775809",
        "RETURN 0x8000000000000000",
        "RETURN -0x8000000000000001",
        "RETURN 0o1000000000000000000000",
        "RETURN 123456789012345678901234567890",
    ] {
        assert_eq!(syntax_error(q).detail, Some("IntegerOverflow"), "{q}");
    }
}

#[test]
fn float_literals() {
    assert_eq!(expr("1.5"), Expr::Literal(Literal::Float(1.5)));
    assert_eq!(expr(".5"), Expr::Literal(Literal::Float(0.5)));
    assert_eq!(expr("1e10"), Expr::Literal(Literal::Float(1e10)));
    assert_eq!(expr("1.5E-3"), Expr::Literal(Literal::Float(1.5e-3)));
    assert_eq!(
        expr("-2.5"),
        Expr::Unary(UnaryOp::Neg, Box::new(Expr::Literal(Literal::Float(2.5))))
    );
}

#[test]
fn invalid_number_literals() {
    for q in [
        "RETURN 0x",
        "RETURN 0x1A2b3j4D5E6f7",
        "RETURN 9223372h54775808",
        "RETURN 9223372036854775808.5e",
        "RETURN 1.5ex",
        "RETURN 0o8",
        "RETURN 0777",
    ] {
        assert_eq!(syntax_error(q).detail, Some("InvalidNumberLiteral"), "{q}");
    }
    assert_eq!(
        syntax_error("RETURN 9223372#54775808").detail,
        Some("UnexpectedSyntax")
    );
}

#[test]
fn string_literals_and_escapes() {
    let s = |v: &str| Expr::Literal(Literal::String(v.to_string()));
    assert_eq!(expr("'abc'"), s("abc"));
    assert_eq!(expr("\"abc\""), s("abc"));
    assert_eq!(expr(r#"'a\'b\"c\\d'"#), s("a'b\"c\\d"));
    assert_eq!(expr(r"'\n\t\r\b\f'"), s("\n\t\r\u{8}\u{c}"));
    assert_eq!(expr(r"'\u00e9\u01FF'"), s("é\u{1FF}"));
    assert_eq!(expr(r"'\uD83D\uDE00'"), s("😀"));
    assert_eq!(expr(r"'\d+'"), s("\\d+"));
    assert!(
        parse("RETURN 'it''s'").is_err(),
        "adjacent strings do not concatenate"
    );
}

#[test]
fn bad_strings() {
    assert_eq!(
        syntax_error(r"RETURN '\u12'").detail,
        Some("InvalidUnicodeCharacter")
    );
    assert_eq!(
        syntax_error(r"RETURN '\uZZZZ'").detail,
        Some("InvalidUnicodeCharacter")
    );
    assert_eq!(
        syntax_error(r"RETURN '\uD800'").detail,
        Some("InvalidUnicodeCharacter")
    );
    assert_eq!(syntax_error("RETURN 'abc").detail, Some("UnexpectedSyntax"));
    assert_eq!(
        syntax_error("RETURN 42 — 41").detail,
        Some("InvalidUnicodeCharacter")
    );
}

#[test]
fn lists_maps_parameters() {
    assert_eq!(expr("[1, 2]"), Expr::List(vec![int(1), int(2)]));
    assert_eq!(expr("[]"), Expr::List(vec![]));
    assert_eq!(
        expr("{a: 1, `b c`: 2}"),
        Expr::Map(vec![("a".into(), int(1)), ("b c".into(), int(2))])
    );
    assert_eq!(expr("$p"), Expr::Parameter("p".into()));
    assert_eq!(expr("$0"), Expr::Parameter("0".into()));
    assert_eq!(expr("`a``b`"), var("a`b"));
    for q in [
        "RETURN [, ]",
        "RETURN {1}",
        "RETURN {{}}",
        "RETURN [[','[]',']]",
    ] {
        assert_eq!(syntax_error(q).detail, Some("UnexpectedSyntax"), "{q}");
    }
}

// ----- operators -----------------------------------------------------------------

#[test]
fn precedence() {
    use BinaryOp::*;
    assert_eq!(
        expr("1 + 2 * 3 ^ 2"),
        bin(Add, int(1), bin(Mul, int(2), bin(Pow, int(3), int(2))))
    );
    assert_eq!(
        expr("2 ^ 3 ^ 2"),
        bin(Pow, bin(Pow, int(2), int(3)), int(2))
    );
    assert_eq!(expr("-2 ^ 2"), bin(Pow, int(-2), int(2)));
    assert_eq!(
        expr("1 - 2 - 3"),
        bin(Sub, bin(Sub, int(1), int(2)), int(3))
    );
    assert_eq!(
        expr("a OR b XOR c AND NOT d"),
        bin(
            Or,
            var("a"),
            bin(
                Xor,
                var("b"),
                bin(And, var("c"), Expr::Unary(UnaryOp::Not, Box::new(var("d"))))
            )
        )
    );
    assert_eq!(
        expr("NOT a = b"),
        Expr::Unary(UnaryOp::Not, Box::new(bin(Eq, var("a"), var("b"))))
    );
    assert_eq!(
        expr("a + 1 = b"),
        bin(Eq, bin(Add, var("a"), int(1)), var("b"))
    );
    assert_eq!(
        expr("a + 1 IN b"),
        bin(In, bin(Add, var("a"), int(1)), var("b"))
    );
    assert_eq!(
        expr("a IN b = c"),
        bin(Eq, bin(In, var("a"), var("b")), var("c"))
    );
    assert_eq!(
        expr("-a.b"),
        Expr::Unary(UnaryOp::Neg, Box::new(prop(var("a"), "b")))
    );
    assert_eq!(
        expr("a.b[0].c"),
        prop(
            Expr::Index(Box::new(prop(var("a"), "b")), Box::new(int(0))),
            "c"
        )
    );
}

#[test]
fn chained_comparisons_desugar_to_and() {
    use BinaryOp::*;
    assert_eq!(
        expr("1 < a <= 3"),
        bin(And, bin(Lt, int(1), var("a")), bin(Le, var("a"), int(3)))
    );
}

#[test]
fn long_and_chains_are_balanced() {
    let e = expr("a AND b AND c AND d");
    let Expr::Binary(BinaryOp::And, l, r) = e else {
        panic!()
    };
    assert_eq!(*l, bin(BinaryOp::And, var("a"), var("b")));
    assert_eq!(*r, bin(BinaryOp::And, var("c"), var("d")));
}

#[test]
fn string_and_null_predicates() {
    use BinaryOp::*;
    let s = |v: &str| Expr::Literal(Literal::String(v.to_string()));
    assert_eq!(expr("a STARTS WITH 'x'"), bin(StartsWith, var("a"), s("x")));
    assert_eq!(expr("a ends with 'x'"), bin(EndsWith, var("a"), s("x")));
    assert_eq!(expr("a CONTAINS 'x'"), bin(Contains, var("a"), s("x")));
    assert_eq!(expr("a =~ 'x.*'"), bin(RegexMatch, var("a"), s("x.*")));
    assert_eq!(
        expr("a IS NOT NULL"),
        Expr::IsNull {
            expr: Box::new(var("a")),
            negated: true
        }
    );
    assert_eq!(
        expr("a.b IS NULL"),
        Expr::IsNull {
            expr: Box::new(prop(var("a"), "b")),
            negated: false
        }
    );
    assert_eq!(
        expr("n:A:B"),
        Expr::HasLabels(Box::new(var("n")), vec!["A".into(), "B".into()])
    );
}

#[test]
fn slices_and_indexes() {
    let l = || Box::new(var("l"));
    assert_eq!(
        expr("l[1..2]"),
        Expr::Slice(l(), Some(Box::new(int(1))), Some(Box::new(int(2))))
    );
    assert_eq!(
        expr("l[..2]"),
        Expr::Slice(l(), None, Some(Box::new(int(2))))
    );
    assert_eq!(
        expr("l[1..]"),
        Expr::Slice(l(), Some(Box::new(int(1))), None)
    );
    assert_eq!(expr("l[0]"), Expr::Index(l(), Box::new(int(0))));
}

// ----- compound expressions -------------------------------------------------

#[test]
fn case_expressions() {
    let e = expr("CASE x WHEN 1 THEN 'a' ELSE 'b' END");
    assert!(
        matches!(e, Expr::Case { subject: Some(_), ref whens, else_: Some(_) } if whens.len() == 1)
    );
    let e = expr("CASE WHEN a THEN 1 WHEN b THEN 2 END");
    assert!(matches!(e, Expr::Case { subject: None, ref whens, else_: None } if whens.len() == 2));
}

#[test]
fn function_calls() {
    assert_eq!(
        expr("count(DISTINCT x)"),
        Expr::Function {
            name: "count".into(),
            distinct: true,
            args: vec![var("x")]
        }
    );
    assert_eq!(expr("COUNT(*)"), Expr::CountStar);
    assert_eq!(
        expr("db.labels()"),
        Expr::Function {
            name: "db.labels".into(),
            distinct: false,
            args: vec![]
        }
    );
    assert_eq!(
        expr("toUpper('a')"),
        Expr::Function {
            name: "toUpper".into(),
            distinct: false,
            args: vec![Expr::Literal(Literal::String("a".into()))]
        }
    );
}

#[test]
fn comprehensions_and_quantifiers() {
    assert!(matches!(
        expr("[x IN l WHERE x > 1 | x * 2]"),
        Expr::ListComprehension {
            filter: Some(_),
            map: Some(_),
            ..
        }
    ));
    assert!(matches!(
        expr("[x IN l]"),
        Expr::ListComprehension {
            filter: None,
            map: None,
            ..
        }
    ));
    assert!(matches!(
        expr("[p = (a)-->(b) WHERE b.x > 1 | p]"),
        Expr::PatternComprehension {
            path_var: Some(_),
            filter: Some(_),
            ..
        }
    ));
    assert!(matches!(
        expr("[(a)-[:T]->(b) | b.name]"),
        Expr::PatternComprehension {
            path_var: None,
            filter: None,
            ..
        }
    ));
    for (q, k) in [
        ("all", Quantifier::All),
        ("any", Quantifier::Any),
        ("none", Quantifier::None),
        ("single", Quantifier::Single),
    ] {
        let e = expr(&format!("{q}(x IN l WHERE x > 0)"));
        assert!(matches!(e, Expr::Quantified { kind, .. } if kind == k));
    }
    assert!(matches!(
        expr("reduce(acc = 0, x IN l | acc + x)"),
        Expr::Reduce { .. }
    ));
}

#[test]
fn map_projection() {
    assert_eq!(
        expr("n{.a, .*, k: 1, v}"),
        Expr::MapProjection {
            var: "n".into(),
            items: vec![
                MapProjectionItem::Property("a".into()),
                MapProjectionItem::AllProperties,
                MapProjectionItem::Literal("k".into(), int(1)),
                MapProjectionItem::Variable("v".into()),
            ]
        }
    );
}

#[test]
fn pattern_predicates_and_subqueries() {
    let c = clauses("MATCH (a) WHERE (a)-[:T]->() AND NOT (a)<--(:B) RETURN a");
    let Clause::Match {
        where_: Some(Expr::Binary(BinaryOp::And, l, r)),
        ..
    } = &c[0]
    else {
        panic!("{c:?}")
    };
    assert!(matches!(**l, Expr::PatternPredicate(_)));
    assert!(matches!(**r, Expr::Unary(UnaryOp::Not, _)));
    // A parenthesised variable is not a pattern.
    assert_eq!(expr("(a)"), var("a"));
    assert_eq!(expr("(a) - 1"), bin(BinaryOp::Sub, var("a"), int(1)));
    assert_eq!(
        expr("(a.x)<-1"),
        bin(BinaryOp::Lt, prop(var("a"), "x"), int(-1))
    );
    assert!(matches!(
        expr("EXISTS { MATCH (n)-->(m) WHERE m.x = 1 }"),
        Expr::Exists(b) if matches!(*b, SubqueryPattern::Pattern { where_: Some(_), .. })
    ));
    assert!(matches!(
        expr("exists { (n)-->() }"),
        Expr::Exists(b) if matches!(*b, SubqueryPattern::Pattern { where_: None, .. })
    ));
    assert!(matches!(
        expr("COUNT { MATCH (n)-->(m) RETURN m }"),
        Expr::CountSubquery(b) if matches!(*b, SubqueryPattern::Query(_))
    ));
}

#[test]
fn keywords_as_names() {
    accepts("MATCH (n:End) RETURN n.count, n.type, n.match");
    accepts("WITH 1 AS count RETURN count");
    accepts("MATCH (end:Node) RETURN end");
    accepts("MATCH (n) RETURN n {.return, .all}");
    accepts("RETURN {match: 1, return: 2}.match");
    accepts("mAtCh (n) wHeRe n.x = 1 ReTuRn n");
}

#[test]
fn comments() {
    accepts("MATCH (n) // a comment\n/* block\ncomment */ RETURN n // trailing");
    assert_eq!(
        syntax_error("RETURN 1 /* open").detail,
        Some("UnexpectedSyntax")
    );
}

// ----- clauses -----------------------------------------------------------------

#[test]
fn projection_text_names_columns() {
    let c = clauses("MATCH (n) RETURN n.name, count( * ), n.x AS y ORDER BY y DESC SKIP 1 LIMIT 2");
    let Clause::Return(p) = &c[1] else { panic!() };
    let names: Vec<&str> = p.items.iter().map(|i| i.name()).collect();
    assert_eq!(names, ["n.name", "count( * )", "y"]);
    assert!(p.order_by[0].descending);
    assert_eq!(p.skip, Some(int(1)));
    assert_eq!(p.limit, Some(int(2)));
}

#[test]
fn with_clause() {
    let c = clauses(
        "MATCH (a) WITH DISTINCT *, a.x AS x ORDER BY x SKIP 1 LIMIT 1 WHERE x > 1 RETURN x",
    );
    let Clause::With(p) = &c[1] else { panic!() };
    assert!(p.distinct && p.star);
    assert_eq!(p.items.len(), 1);
    assert!(p.where_.is_some() && p.skip.is_some() && p.limit.is_some());
}

#[test]
fn match_patterns() {
    let c = clauses(
        "OPTIONAL MATCH p = (a:A:B {x: 1})<-[r:T|:U*1..3 {w: 2}]-(b), (c)-[*]->(d), (e)-[:X*2]-(f), (g)-[*..3]->(h), (i)-[*2..]->(j) RETURN p",
    );
    let Clause::Match {
        optional: true,
        pattern,
        where_: None,
    } = &c[0]
    else {
        panic!()
    };
    let p0 = &pattern.parts[0];
    assert_eq!(p0.var.as_deref(), Some("p"));
    assert_eq!(p0.element.start.labels, ["A", "B"]);
    let (r, b) = &p0.element.chain[0];
    assert_eq!(r.var.as_deref(), Some("r"));
    assert_eq!(r.types, ["T", "U"]);
    assert_eq!(r.direction, Direction::Incoming);
    assert_eq!(r.length, Some((Some(1), Some(3))));
    assert!(r.props.is_some());
    assert_eq!(b.var.as_deref(), Some("b"));
    let len = |i: usize| pattern.parts[i].element.chain[0].0.length;
    assert_eq!(len(1), Some((None, None)));
    assert_eq!(len(2), Some((Some(2), Some(2))));
    assert_eq!(len(3), Some((None, Some(3))));
    assert_eq!(len(4), Some((Some(2), None)));
    assert_eq!(
        pattern.parts[1].element.chain[0].0.direction,
        Direction::Outgoing
    );
    assert_eq!(
        pattern.parts[2].element.chain[0].0.direction,
        Direction::Both
    );
}

#[test]
fn shortest_paths() {
    let c =
        clauses("MATCH p = shortestPath((a)-[*]-(b)), q = allShortestPaths((a)-->(b)) RETURN p, q");
    let Clause::Match { pattern, .. } = &c[0] else {
        panic!()
    };
    assert_eq!(pattern.parts[0].shortest, Some(Shortest::One));
    assert_eq!(pattern.parts[1].shortest, Some(Shortest::All));
}

#[test]
fn relationship_pattern_errors() {
    for q in [
        "MATCH (a)-[:LIKES..]->(c) RETURN c",
        "MATCH (a)-[:LIKES*-2]->(c) RETURN c",
    ] {
        assert_eq!(
            syntax_error(q).detail,
            Some("InvalidRelationshipPattern"),
            "{q}"
        );
    }
}

#[test]
fn updating_clauses() {
    let c = clauses(
        "MATCH (n) SET n.x = 1, n = {a: 1}, n += $m, n:A:B REMOVE n.x, n:A DETACH DELETE n",
    );
    let Clause::Set(items) = &c[1] else { panic!() };
    assert!(matches!(&items[0], SetItem::Property { key, .. } if key == "x"));
    assert!(matches!(&items[1], SetItem::Replace { var, .. } if var == "n"));
    assert!(matches!(&items[2], SetItem::Merge { var, .. } if var == "n"));
    assert!(matches!(&items[3], SetItem::Labels { labels, .. } if labels.len() == 2));
    let Clause::Remove(items) = &c[2] else {
        panic!()
    };
    assert_eq!(items.len(), 2);
    assert!(matches!(&c[3], Clause::Delete { detach: true, exprs } if exprs.len() == 1));
    let c = clauses("MERGE (a:A {id: 1}) ON CREATE SET a.c = 1 ON MATCH SET a.m = 2, a.n = 3");
    assert!(
        matches!(&c[0], Clause::Merge { on_create, on_match, .. } if on_create.len() == 1 && on_match.len() == 2)
    );
    let c = clauses("UNWIND [1, 2] AS x FOREACH (y IN [x] | CREATE (:N {v: y}) SET y.z = 1)");
    assert!(matches!(&c[1], Clause::Foreach { clauses, .. } if clauses.len() == 2));
}

#[test]
fn calls() {
    let c = clauses("CALL db.labels");
    assert!(
        matches!(&c[0], Clause::Call { procedure, args: None, yield_items: None, .. } if procedure == "db.labels")
    );
    let c = clauses("CALL a.b.c(1, $x) YIELD x AS y, z WHERE y > 1 RETURN y, z");
    let Clause::Call {
        args: Some(args),
        yield_items: Some(YieldSpec::Items(items)),
        where_: Some(_),
        ..
    } = &c[0]
    else {
        panic!()
    };
    assert_eq!(args.len(), 2);
    assert_eq!(
        items,
        &[("x".to_string(), "y".to_string()), ("z".into(), "z".into())]
    );
    let c = clauses("CALL db.labels() YIELD *");
    assert!(matches!(
        &c[0],
        Clause::Call {
            yield_items: Some(YieldSpec::All),
            ..
        }
    ));
    let c = clauses("MATCH (n) CALL { WITH n MATCH (n)-->(m) RETURN m } RETURN n, m");
    assert!(matches!(&c[1], Clause::CallSubquery { scope: None, .. }));
}

#[test]
fn unions_and_prefixes() {
    let s = stmt("EXPLAIN RETURN 1 AS a UNION RETURN 2 AS a UNION RETURN 3 AS a");
    assert_eq!(s.explain, Some(ExplainMode::Explain));
    let StatementKind::Query(q) = s.kind else {
        panic!()
    };
    assert_eq!(q.parts.len(), 3);
    assert_eq!(q.union_all, [false, false]);
    let s = stmt("profile RETURN 1 AS a UNION ALL RETURN 2 AS a;");
    assert_eq!(s.explain, Some(ExplainMode::Profile));
}

#[test]
fn index_kinds_options_and_parameter_names() {
    let schema = |q: &str| match stmt(q).kind {
        StatementKind::Schema(s) => s,
        other => panic!("{other:?}"),
    };
    for (q, want) in [
        ("CREATE TEXT INDEX t FOR (n:L) ON (n.p)", IndexKind::Text),
        ("CREATE POINT INDEX FOR (n:L) ON (n.p)", IndexKind::Point),
        ("CREATE RANGE INDEX FOR (n:L) ON (n.p)", IndexKind::Range),
        (
            "CREATE VECTOR INDEX v IF NOT EXISTS FOR (m:Chunk) ON m.embedding \
             OPTIONS {indexConfig: {`vector.dimensions`: toInteger($d)}}",
            IndexKind::Vector,
        ),
    ] {
        match schema(q) {
            SchemaCommand::CreateIndex { kind, .. } => assert_eq!(kind, want, "{q}"),
            other => panic!("{q}: {other:?}"),
        }
    }
    assert!(matches!(
        schema("CREATE VECTOR INDEX $name IF NOT EXISTS FOR (n:L) ON n.e OPTIONS {}"),
        SchemaCommand::CreateIndex { name: Some(SchemaName::Param(ref p)), options: Some(_), .. }
            if p == "name"
    ));
    assert_eq!(
        schema("CREATE FULLTEXT INDEX ft FOR (n:A|B) ON EACH [n.x, n.y]"),
        SchemaCommand::CreateFulltextIndex {
            name: Some("ft".into()),
            if_not_exists: false,
            entity: EntityKind::Node,
            labels: vec!["A".into(), "B".into()],
            properties: vec!["x".into(), "y".into()],
            options: None,
        }
    );
    assert_eq!(
        schema("DROP INDEX ON :Person(name, age)"),
        SchemaCommand::DropIndexOn {
            label: "Person".into(),
            properties: vec!["name".into(), "age".into()],
        }
    );
    assert_eq!(
        schema("DROP CONSTRAINT ON (p:Person) ASSERT p.email IS UNIQUE"),
        SchemaCommand::DropConstraintOn {
            entity: EntityKind::Node,
            label: "Person".into(),
            properties: vec!["email".into()],
            kind: ConstraintKind::Unique,
        }
    );
    assert!(matches!(
        schema("DROP CONSTRAINT ON (p:Person) ASSERT exists(p.email)"),
        SchemaCommand::DropConstraintOn {
            kind: ConstraintKind::NotNull,
            ..
        }
    ));
    assert!(matches!(
        schema("CREATE FULLTEXT INDEX ft FOR ()-[r:T|U]-() ON EACH [r.x]"),
        SchemaCommand::CreateFulltextIndex { entity: EntityKind::Relationship, ref labels, .. }
            if labels.len() == 2
    ));
    assert!(matches!(
        schema("CREATE LOOKUP INDEX l IF NOT EXISTS FOR (n) ON EACH labels(n)"),
        SchemaCommand::CreateLookupIndex {
            entity: EntityKind::Node,
            if_not_exists: true,
            ..
        }
    ));
    assert!(matches!(
        schema("CREATE LOOKUP INDEX FOR ()-[r]-() ON EACH type(r)"),
        SchemaCommand::CreateLookupIndex {
            entity: EntityKind::Relationship,
            ..
        }
    ));
    assert_eq!(
        schema("DROP INDEX $n"),
        SchemaCommand::DropIndex {
            name: SchemaName::Param("n".into()),
            if_exists: false
        }
    );
    let e = parse("CREATE BTREE INDEX FOR (n:L) ON (n.p)").unwrap_err();
    assert_eq!(e.code, Code::SyntaxError);
    assert!(
        e.message.contains("Invalid index type b-tree"),
        "{}",
        e.message
    );
    assert!(parse("CREATE LOOKUP INDEX FOR (n) ON EACH type(n)").is_err());
    assert!(parse("CREATE FULLTEXT INDEX FOR (n:A) ON EACH [m.x]").is_err());
}

#[test]
fn schema_commands() {
    let schema = |q: &str| match stmt(q).kind {
        StatementKind::Schema(s) => s,
        other => panic!("{other:?}"),
    };
    assert_eq!(
        schema("CREATE INDEX idx IF NOT EXISTS FOR (n:Person) ON (n.name, n.age)"),
        SchemaCommand::CreateIndex {
            name: Some("idx".into()),
            if_not_exists: true,
            entity: EntityKind::Node,
            label: "Person".into(),
            properties: vec!["name".into(), "age".into()],
            kind: IndexKind::Range,
            options: None,
        }
    );
    assert_eq!(
        schema("CREATE INDEX ON :Person(name)"),
        SchemaCommand::CreateIndex {
            name: None,
            if_not_exists: false,
            entity: EntityKind::Node,
            label: "Person".into(),
            properties: vec!["name".into()],
            kind: IndexKind::Range,
            options: None,
        }
    );
    assert!(matches!(
        schema("CREATE RANGE INDEX FOR ()-[r:KNOWS]-() ON (r.since)"),
        SchemaCommand::CreateIndex { entity: EntityKind::Relationship, ref label, .. } if label == "KNOWS"
    ));
    assert_eq!(
        schema("DROP INDEX idx IF EXISTS"),
        SchemaCommand::DropIndex {
            name: "idx".into(),
            if_exists: true
        }
    );
    assert!(matches!(
        schema("CREATE CONSTRAINT c IF NOT EXISTS FOR (n:L) REQUIRE n.p IS UNIQUE"),
        SchemaCommand::CreateConstraint {
            kind: ConstraintKind::Unique,
            if_not_exists: true,
            ..
        }
    ));
    assert!(matches!(
        schema("CREATE CONSTRAINT FOR (n:L) REQUIRE n.p IS NOT NULL"),
        SchemaCommand::CreateConstraint {
            kind: ConstraintKind::NotNull,
            name: None,
            ..
        }
    ));
    assert!(matches!(
        schema("CREATE CONSTRAINT FOR (n:L) REQUIRE (n.a, n.b) IS NODE KEY"),
        SchemaCommand::CreateConstraint { kind: ConstraintKind::NodeKey, ref properties, .. } if properties.len() == 2
    ));
    assert!(matches!(
        schema("CREATE CONSTRAINT ON (n:L) ASSERT n.p IS UNIQUE"),
        SchemaCommand::CreateConstraint {
            kind: ConstraintKind::Unique,
            ..
        }
    ));
    assert_eq!(
        schema("DROP CONSTRAINT c"),
        SchemaCommand::DropConstraint {
            name: "c".into(),
            if_exists: false
        }
    );
    for (q, kind) in [
        (
            "CREATE CONSTRAINT c FOR ()-[r:T]-() REQUIRE r.p IS UNIQUE",
            ConstraintKind::Unique,
        ),
        (
            "CREATE CONSTRAINT c FOR ()-[r:T]-() REQUIRE r.p IS REL UNIQUE",
            ConstraintKind::Unique,
        ),
        (
            "CREATE CONSTRAINT c FOR ()-[r:T]-() REQUIRE r.p IS RELATIONSHIP UNIQUE",
            ConstraintKind::Unique,
        ),
        (
            "CREATE CONSTRAINT c FOR ()-[r:T]-() REQUIRE r.p IS NOT NULL",
            ConstraintKind::NotNull,
        ),
        (
            "CREATE CONSTRAINT c ON ()-[r:T]-() ASSERT exists(r.p)",
            ConstraintKind::NotNull,
        ),
        (
            "CREATE CONSTRAINT c FOR ()-[r:T]-() REQUIRE (r.p) IS REL KEY",
            ConstraintKind::NodeKey,
        ),
        (
            "CREATE CONSTRAINT c FOR ()<-[r:T]-() REQUIRE r.p IS RELATIONSHIP KEY",
            ConstraintKind::NodeKey,
        ),
    ] {
        assert_eq!(
            schema(q),
            SchemaCommand::CreateConstraint {
                name: Some("c".into()),
                if_not_exists: false,
                entity: EntityKind::Relationship,
                label: "T".into(),
                properties: vec!["p".into()],
                kind,
                options: None,
            },
            "{q}"
        );
    }
    // A key or uniqueness word naming the other kind of entity is refused.
    for q in [
        "CREATE CONSTRAINT FOR ()-[r:T]-() REQUIRE r.p IS NODE KEY",
        "CREATE CONSTRAINT FOR ()-[r:T]-() REQUIRE r.p IS NODE UNIQUE",
        "CREATE CONSTRAINT FOR (n:T) REQUIRE n.p IS REL KEY",
        "CREATE CONSTRAINT FOR (n:T) REQUIRE n.p IS RELATIONSHIP UNIQUE",
    ] {
        let e = syntax_error(q);
        assert!(e.message.contains("does not allow"), "{q}: {}", e.message);
    }
    // CREATE followed by a pattern is still a query.
    assert!(matches!(
        stmt("CREATE (index:Index)").kind,
        StatementKind::Query(_)
    ));
}

#[test]
fn show_commands() {
    let show = |q: &str| match stmt(q).kind {
        StatementKind::Show(s) => s,
        other => panic!("{other:?}"),
    };
    assert_eq!(show("SHOW INDEXES").kind, ShowKind::Indexes);
    assert_eq!(show("SHOW CONSTRAINTS").kind, ShowKind::Constraints);
    assert_eq!(show("SHOW DATABASES").kind, ShowKind::Databases(None));
    assert_eq!(
        show("SHOW DATABASE neo4j").kind,
        ShowKind::Databases(Some("neo4j".into()))
    );
    assert_eq!(
        show("SHOW DEFAULT DATABASE").kind,
        ShowKind::DefaultDatabase
    );
    assert_eq!(show("SHOW HOME DATABASE").kind, ShowKind::HomeDatabase);
    assert_eq!(show("SHOW PROCEDURES").kind, ShowKind::Procedures);
    assert_eq!(show("SHOW FUNCTIONS").kind, ShowKind::Functions);
    assert_eq!(show("SHOW SERVERS").kind, ShowKind::Servers);
    assert_eq!(show("SHOW TRANSACTIONS").kind, ShowKind::Transactions);
    assert_eq!(show("SHOW USERS").kind, ShowKind::Users);
    assert_eq!(show("SHOW CURRENT USER").kind, ShowKind::CurrentUser);
    let s = show("SHOW INDEXES YIELD name, type WHERE type = 'RANGE' RETURN name");
    assert!(matches!(s.yield_items, Some(YieldSpec::Items(ref i)) if i.len() == 2));
    assert!(s.where_.is_some());
    assert_eq!(s.then.len(), 1);
    let s = show("SHOW RANGE INDEXES");
    assert_eq!(s.kind, ShowKind::Indexes);
    assert!(matches!(s.filter, Some(Expr::Binary(BinaryOp::In, _, _))));
    assert!(s.where_.is_none());
    let s = show("SHOW NODE KEY CONSTRAINTS WHERE name = 'c'");
    assert_eq!(s.kind, ShowKind::Constraints);
    assert!(matches!(s.filter, Some(Expr::Binary(BinaryOp::In, _, _))));
    assert!(matches!(s.where_, Some(Expr::Binary(BinaryOp::Eq, _, _))));
    // The qualifier holds even when YIELD leaves its column out.
    let s = show("SHOW BUILT IN FUNCTIONS YIELD name");
    assert_eq!(s.kind, ShowKind::Functions);
    assert!(matches!(s.filter, Some(Expr::Binary(BinaryOp::Eq, _, _))));
    let s = show("SHOW RELATIONSHIP KEY CONSTRAINTS YIELD name AS type");
    assert!(s.filter.is_some());
    let s = show("SHOW USER DEFINED FUNCTIONS");
    assert!(s.filter.is_some());
    let s = show("SHOW TRANSACTIONS 'neo4j-transaction-1', 'neo4j-transaction-2'");
    assert!(s.filter.is_some());
    let s = show("SHOW DATABASES WHERE name = 'x'");
    assert!(s.yield_items.is_none() && s.where_.is_some());
    accepts("SHOW INDEXES YIELD name, type WHERE type = 'RANGE' RETURN name");
    accepts("SHOW DATABASES YIELD * WHERE name = 'neo4j' RETURN name");
    accepts("SHOW PROCEDURES YIELD name ORDER BY name LIMIT 5");
    accepts("SHOW PROCEDURES YIELD * ORDER BY name LIMIT 5 RETURN name, signature");
}

// ----- syntax errors ------------------------------------------------------------

#[test]
fn error_positions_follow_neo4j() {
    let e = syntax_error("MATCH (a)\nWHERE a.x = 1 AND\n  a.y = ]\nRETURN a");
    assert_eq!(e.detail, Some("UnexpectedSyntax"));
    let mut lines = e.message.lines();
    assert_eq!(
        lines.next(),
        Some("Invalid input ']': expected an expression (line 3, column 9 (offset: 36))")
    );
    assert_eq!(lines.next(), Some("\"  a.y = ]\""));
    assert_eq!(lines.next(), Some("         ^"));
    let e = syntax_error("RETRUN 1");
    assert!(
        e.message.starts_with("Invalid input 'RETRUN': expected"),
        "{}",
        e.message
    );
    assert!(e.message.contains("(line 1, column 1 (offset: 0))"));
    let e = syntax_error("RETURN 1 +");
    assert!(e
        .message
        .starts_with("Invalid input '': expected an expression (line 1, column 11 (offset: 10))"));
    let e = syntax_error("RETURN 'é' + ]");
    assert!(
        e.message.contains("(line 1, column 14 (offset: 13))"),
        "{}",
        e.message
    );
}

#[test]
fn misc_syntax_errors() {
    for q in [
        "",
        "   ",
        "MATCH",
        "MATCH (n RETURN n",
        "MATCH (n) RETURN",
        "RETURN 1 2",
        "RETURN (1",
        "RETURN [1, 2",
        "RETURN {a 1}",
        "MATCH (a)-[r:]->(b) RETURN a",
        "CASE WHEN",
        "RETURN CASE END",
        "MATCH (n) SET n",
        "RETURN 1; RETURN 2",
        "FOREACH (x IN [1] | )",
        "RETURN `unterminated",
        "RETURN $",
        "RETURN a.",
        "UNWIND [1] AS",
        "CREATE INDEX FOR (n:A|B) ON (n.x)",
        "SHOW NOTHING",
    ] {
        let e = syntax_error(q);
        assert!(e.detail.is_some(), "{q}");
    }
}

// ----- semantic checks ------------------------------------------------------------

#[test]
fn undefined_variables() {
    assert_eq!(fails("MATCH () RETURN foo"), "UndefinedVariable");
    assert_eq!(fails("RETURN {k1: k2}"), "UndefinedVariable");
    assert_eq!(
        fails("CREATE (b {name: missing}) RETURN b"),
        "UndefinedVariable"
    );
    assert_eq!(
        fails("MATCH (a) WITH a.x AS x RETURN a"),
        "UndefinedVariable"
    );
    assert_eq!(
        fails("MATCH (n) WHERE (n)-[r]->(a) RETURN n"),
        "UndefinedVariable"
    );
    assert_eq!(
        fails("MATCH (a) RETURN DISTINCT a.name ORDER BY a.age"),
        "UndefinedVariable"
    );
    assert_eq!(
        fails("CALL test.my.proc(1) RETURN out"),
        "UndefinedVariable"
    );
    assert_eq!(fails("MATCH (n) SET m.x = 1"), "UndefinedVariable");
    assert_eq!(fails("RETURN [x IN [1] | y]"), "UndefinedVariable");
    assert_eq!(
        fails("CALL { RETURN x AS y } RETURN y"),
        "UndefinedVariable"
    );
    accepts("MATCH (a) WITH a, a.x AS x ORDER BY a.y RETURN x");
    accepts("MATCH (a) RETURN a.x AS x ORDER BY a.y");
    accepts("MATCH (a) RETURN DISTINCT a.name ORDER BY a.name");
    accepts("MATCH (n) RETURN n.name, count(*) ORDER BY n.name");
    accepts("UNWIND [1, 2] AS x RETURN [y IN [x] | y + x] AS l");
    accepts("MATCH (n) CALL { WITH n RETURN n.x AS x } RETURN x");
}

#[test]
fn variable_binding_rules() {
    assert_eq!(fails("MATCH (a) CREATE (a)"), "VariableAlreadyBound");
    assert_eq!(
        fails("CREATE (n:Foo) CREATE (n {})-[:OWNS]->(:Dog)"),
        "VariableAlreadyBound"
    );
    assert_eq!(
        fails("MATCH p = (p)-[]-() RETURN p"),
        "VariableAlreadyBound"
    );
    assert_eq!(
        fails("MATCH (p) MATCH p = ()-[]-() RETURN p"),
        "VariableAlreadyBound"
    );
    assert_eq!(
        fails("MATCH ()-[r]-()-[r]-() RETURN r"),
        "VariableAlreadyBound"
    );
    assert_eq!(
        fails("MATCH (n) UNWIND [1] AS n RETURN n"),
        "VariableAlreadyBound"
    );
    assert_eq!(
        fails("MATCH ()-[r]-() MATCH (r) RETURN r"),
        "VariableTypeConflict"
    );
    assert_eq!(
        fails("MATCH r = ()-[]-(), (r) RETURN r"),
        "VariableTypeConflict"
    );
    assert_eq!(
        fails("MATCH (n) WITH [n] AS users MATCH (users)-->(m) RETURN m"),
        "VariableTypeConflict"
    );
    accepts("MATCH (a) CREATE (a)-[:T]->(b) RETURN b");
    accepts("MATCH ()-[r]-() MATCH ()-[r]-() RETURN r");
    accepts("MATCH (a), (b) MERGE (a)-[:T]-(b)");
}

#[test]
fn create_and_merge_relationship_rules() {
    assert_eq!(
        fails("CREATE (a)-[:FOO]-(b)"),
        "RequiresDirectedRelationship"
    );
    assert_eq!(
        fails("CREATE (a)<-[:FOO]->(b)"),
        "RequiresDirectedRelationship"
    );
    assert_eq!(fails("CREATE (a)-[]->(b)"), "NoSingleRelationshipType");
    assert_eq!(fails("CREATE (a)-[:A|B]->(b)"), "NoSingleRelationshipType");
    assert_eq!(
        fails("MERGE (a)-[NO_COLON]->(b)"),
        "NoSingleRelationshipType"
    );
    assert_eq!(fails("CREATE (a)-[:T*2]->(b)"), "CreatingVarLength");
}

#[test]
fn parameter_maps_in_patterns() {
    assert_eq!(fails("MATCH (n $param) RETURN n"), "InvalidParameterUse");
    assert_eq!(
        fails("MATCH ()-[r:FOO $param]->() RETURN r"),
        "InvalidParameterUse"
    );
    assert_eq!(
        fails("MERGE (a)-[r:FOO $param]->(b) RETURN r"),
        "InvalidParameterUse"
    );
    accepts("CREATE (n $props) RETURN n");
    accepts("MATCH (n {id: $id}) RETURN n");
}

#[test]
fn aggregation_rules() {
    assert_eq!(fails("RETURN count(count(1))"), "InvalidAggregation");
    assert_eq!(
        fails("MATCH (n) WHERE count(n) > 1 RETURN n"),
        "InvalidAggregation"
    );
    assert_eq!(
        fails("MATCH (n) RETURN n.num1 ORDER BY max(n.num2)"),
        "InvalidAggregation"
    );
    assert_eq!(
        fails("MATCH (n) WITH n.a AS a ORDER BY count(1) RETURN a"),
        "InvalidAggregation"
    );
    assert_eq!(fails("CREATE ({x: count(1)})"), "InvalidAggregation");
    assert_eq!(
        fails("MATCH (me)--(you) RETURN me.age + you.age, me.age + you.age + count(*)"),
        "AmbiguousAggregationExpression"
    );
    assert_eq!(
        fails("MATCH (a) RETURN a.x, a.y + count(*)"),
        "AmbiguousAggregationExpression"
    );
    accepts("MATCH (me)--(you) RETURN me.age, me.age + count(you.age)");
    accepts("MATCH (a) RETURN a, count(a) + 3");
    accepts("MATCH (p) RETURN $age + avg(p.age) - 1000");
    accepts("MATCH (n) RETURN n, [x IN collect(n) | x.name] AS names");
    accepts("MATCH (n) RETURN count(*) AS c ORDER BY c");
    accepts("MATCH (n) WITH n.x AS x, count(*) AS c ORDER BY count(*) RETURN x, c");
}

#[test]
fn skip_and_limit() {
    assert_eq!(
        fails("MATCH (n) RETURN n SKIP -1"),
        "NegativeIntegerArgument"
    );
    assert_eq!(
        fails("MATCH (n) RETURN n LIMIT -1"),
        "NegativeIntegerArgument"
    );
    assert_eq!(fails("MATCH (n) RETURN n SKIP 1.5"), "InvalidArgumentType");
    assert_eq!(fails("MATCH (n) RETURN n LIMIT 'a'"), "InvalidArgumentType");
    assert_eq!(
        fails("MATCH (n) RETURN n SKIP n.count"),
        "NonConstantExpression"
    );
    accepts("MATCH (n) RETURN n SKIP $s LIMIT 1 + 2");
    accepts("MATCH (n) RETURN n SKIP toInteger(rand() * 3)");
}

#[test]
fn functions_checked() {
    assert_eq!(fails("MATCH (a) RETURN foo(a)"), "UnknownFunction");
    assert_eq!(fails("RETURN toUpper()"), "InvalidNumberOfArguments");
    assert_eq!(
        fails("RETURN substring('a', 1, 2, 3)"),
        "InvalidNumberOfArguments"
    );
    assert_eq!(fails("MATCH (r) RETURN type(r)"), "InvalidArgumentType");
    assert_eq!(
        fails("MATCH p = (a) RETURN labels(p)"),
        "InvalidArgumentType"
    );
    assert_eq!(fails("RETURN properties(1)"), "InvalidArgumentType");
    accepts("RETURN date(), datetime('2020-01-01'), localdatetime(), time(), localtime(), duration('P1D')");
    accepts("RETURN point({x: 1, y: 2}), distance(point({x: 1, y: 2}), point({x: 0, y: 0}))");
    accepts("RETURN my.custom.fn(1)");
    assert_eq!(fails("RETURN date.tomorrow()"), "UnknownFunction");
    accepts("RETURN ToUpper('a'), COALESCE(null, 1), stDev(1), percentileCont(1, 0.5)");
}

#[test]
fn static_type_errors() {
    for q in [
        "RETURN 123 AND true",
        "RETURN NOT 'x'",
        "RETURN [] OR false",
        "RETURN 1 IN 123",
        "RETURN 1 IN {x: []}",
        "WITH 123 AS nonMap RETURN nonMap.num",
        "WITH [1] AS nonMap RETURN nonMap.num",
        "RETURN none(x IN ['Clara'] WHERE x % 2 = 0)",
        "RETURN -'a'",
    ] {
        assert_eq!(fails(q), "InvalidArgumentType", "{q}");
    }
    accepts("RETURN null AND true, NOT null, 1 IN null, {a: 1}.a");
    accepts("WITH {num: 1} AS m RETURN m.num");
}

#[test]
fn clause_composition() {
    assert_eq!(fails("MATCH (n)"), "InvalidClauseComposition");
    assert_eq!(fails("MATCH (n) WITH n"), "InvalidClauseComposition");
    assert_eq!(
        fails("RETURN 1 AS a MATCH (n) RETURN n"),
        "InvalidClauseComposition"
    );
    assert_eq!(
        fails("RETURN 1 AS a UNION RETURN 2 AS a UNION ALL RETURN 3 AS a"),
        "InvalidClauseComposition"
    );
    assert_eq!(
        fails("RETURN 1 AS a UNION RETURN 2 AS b"),
        "DifferentColumnsInUnion"
    );
    assert_eq!(
        fails("FOREACH (x IN [1] | MATCH (n))"),
        "InvalidClauseComposition"
    );
    assert_eq!(
        fails("CALL test.my.proc('Stefan', 1) YIELD * RETURN city"),
        "UnexpectedSyntax"
    );
    accepts("CREATE (n)");
    accepts("MATCH (n) DELETE n");
    accepts("CALL db.labels() YIELD *");
    accepts("MATCH (n) CALL { WITH n CREATE (m) }");
}

#[test]
fn column_conflicts_and_deletes() {
    assert_eq!(fails("RETURN 1 AS a, 2 AS a"), "ColumnNameConflict");
    assert_eq!(fails("WITH 1 AS a, 2 AS a RETURN a"), "ColumnNameConflict");
    assert_eq!(fails("MATCH ()-[r:T]-() DELETE r:T"), "InvalidDelete");
    assert_eq!(fails("MATCH (n) WITH n.x RETURN 1"), "NoExpressionAlias");
}

#[test]
fn pattern_expressions_only_as_predicates() {
    assert_eq!(fails("MATCH (n) RETURN (n)-[]->()"), "UnexpectedSyntax");
    assert_eq!(fails("MATCH (a) RETURN size((a)-->())"), "UnexpectedSyntax");
    accepts("MATCH (n) WHERE (n)-->() OR NOT (n)<--() RETURN n");
    accepts("MATCH (n) RETURN exists((n)-->()) AS e");
    accepts("MATCH (n) RETURN size([(n)-->(m) | m]) AS deg");
    accepts("MATCH (n) RETURN CASE WHEN (n)-->() THEN 1 ELSE 0 END AS x");
    accepts("MATCH (n) WHERE EXISTS { MATCH (n)-->(m) WHERE m.x = 1 } RETURN n");
    accepts("MATCH (n) RETURN COUNT { (n)-->() } AS c");
}

#[test]
fn inline_pattern_predicates() {
    let c = clauses("MATCH (n:L WHERE n.x > 1)-[r:T WHERE r.w = 2]->(m) WHERE m.y = 3 RETURN n");
    let Clause::Match {
        where_: Some(w), ..
    } = &c[0]
    else {
        panic!()
    };
    let Expr::Binary(BinaryOp::And, l, r) = w else {
        panic!("{w:?}")
    };
    assert!(matches!(**l, Expr::Binary(BinaryOp::And, _, _)));
    assert_eq!(**r, bin(BinaryOp::Eq, prop(var("m"), "y"), int(3)));
    accepts("MATCH (n WHERE n.x > 1) RETURN n");
    accepts("MATCH (a) RETURN [(a)-->(b WHERE b.x > 1) | b] AS bs");
    accepts("MATCH (a) WHERE EXISTS { (a)-->(b WHERE b.x > 1) } RETURN a");
    assert!(parse("CREATE (n WHERE n.x > 1)").is_err());
    assert!(parse("MATCH (a) WHERE (a)-->(b WHERE b.x = 1) RETURN a").is_err());
}

#[test]
fn query_options_prefix() {
    accepts("CYPHER 5 MATCH (n) RETURN n");
    accepts("CYPHER runtime=slotted EXPLAIN MATCH (n) RETURN n");
    assert_eq!(
        stmt("EXPLAIN CYPHER 5 RETURN 1").explain,
        Some(ExplainMode::Explain)
    );
}

#[test]
fn shortest_path_expressions() {
    accepts("MATCH (a), (b) RETURN shortestPath((a)-[*]-(b)) AS p");
    assert_eq!(
        fails("MATCH (a) RETURN shortestPath((a)-[*]-(b)) AS p"),
        "UndefinedVariable"
    );
    assert_eq!(
        fails("MATCH (a) RETURN allShortestPaths((a)-[*]-(:B)) AS p"),
        "UnexpectedSyntax"
    );
    assert_eq!(
        fails("MATCH (a), (b) RETURN shortestPath((a)-[r*]-(b)) AS p"),
        "UndefinedVariable"
    );
}

#[test]
fn more_compile_time_errors() {
    assert_eq!(fails("RETURN *"), "NoVariablesInScope");
    accepts("MATCH () CREATE () WITH * CREATE ()");
    assert_eq!(
        fails("MATCH p = (a)-->(b) RETURN size(p)"),
        "InvalidArgumentType"
    );
    assert_eq!(fails("RETURN size(1)"), "InvalidArgumentType");
    assert_eq!(fails("MATCH (n) DELETE 1 + 1"), "InvalidArgumentType");
    assert_eq!(
        fails("MATCH (n) WHERE EXISTS { MATCH (n)-->(m) SET m.x = 1 } RETURN n"),
        "InvalidClauseComposition"
    );
    accepts("MATCH (n) RETURN *");
    accepts("MATCH ()-[r*]->() RETURN size(r)");
    accepts("RETURN size('abc'), size([1]), length('abc')");
}

#[test]
fn label_expressions() {
    use BinaryOp::*;
    let has = |v: &str, l: &[&str]| {
        Expr::HasLabels(Box::new(var(v)), l.iter().map(|s| s.to_string()).collect())
    };
    assert_eq!(expr("n:A|B"), bin(Or, has("n", &["A"]), has("n", &["B"])));
    assert_eq!(expr("n:A&B"), has("n", &["A", "B"]));
    assert_eq!(
        expr("n:A&!B"),
        bin(
            And,
            has("n", &["A"]),
            Expr::Unary(UnaryOp::Not, Box::new(has("n", &["B"])))
        )
    );
    assert_eq!(
        expr("n:(A|B)&C"),
        bin(
            And,
            bin(Or, has("n", &["A"]), has("n", &["B"])),
            has("n", &["C"])
        )
    );
    let c = clauses("MATCH (n:A|B) RETURN n");
    let Clause::Match {
        pattern,
        where_: Some(w),
        ..
    } = &c[0]
    else {
        panic!()
    };
    assert!(pattern.parts[0].element.start.labels.is_empty());
    assert_eq!(*w, bin(Or, has("n", &["A"]), has("n", &["B"])));
    // In a comprehension `|` still separates the filter from the projection.
    assert!(matches!(
        expr("[x IN l WHERE x:A | x.name]"),
        Expr::ListComprehension {
            filter: Some(_),
            map: Some(_),
            ..
        }
    ));
    assert!(matches!(
        expr("[x IN l WHERE (x:A|B) | x.name]"),
        Expr::ListComprehension {
            filter: Some(_),
            map: Some(_),
            ..
        }
    ));
    accepts("MATCH (n:!Hidden) RETURN n");
    assert!(parse("MATCH (:A|B) RETURN 1").is_err());
}

#[test]
fn planner_hints_are_accepted() {
    accepts("MATCH (n:Person) USING INDEX n:Person(name) WHERE n.name = 'x' RETURN n");
    accepts("MATCH (a:A)-->(b:B) USING SCAN a:A USING JOIN ON b RETURN a");
    accepts("MATCH (n:P) USING TEXT INDEX SEEK n:P(name, age) RETURN n");
}

#[test]
fn scoped_call_subqueries() {
    let c = clauses("MATCH (n), (m) CALL (n, m) { MATCH (n)-->(x) RETURN x } RETURN x");
    let Clause::CallSubquery {
        query,
        scope: Some(scope),
        in_transactions: None,
    } = &c[1]
    else {
        panic!("{c:?}")
    };
    assert_eq!(*scope, CallScope::Vars(vec!["n".into(), "m".into()]));
    assert!(matches!(query.parts[0].clauses[0], Clause::Match { .. }));
    let c = clauses("CALL (*) { RETURN 1 AS x } RETURN x");
    assert!(matches!(
        &c[0],
        Clause::CallSubquery {
            scope: Some(CallScope::All),
            ..
        }
    ));
    let c = clauses("CALL () { RETURN 1 AS x } IN TRANSACTIONS OF 10 ROWS RETURN x");
    assert!(
        matches!(&c[0], Clause::CallSubquery { scope: Some(CallScope::Vars(v)), .. } if v.is_empty())
    );
    let c = clauses(
        "CALL () { RETURN 1 AS x } IN 3 CONCURRENT TRANSACTIONS REPORT STATUS AS s \
         ON ERROR RETRY FOR 2.5 SECONDS THEN BREAK OF $n ROWS RETURN x, s",
    );
    let Clause::CallSubquery {
        in_transactions: Some(spec),
        ..
    } = &c[0]
    else {
        panic!("{c:?}")
    };
    assert_eq!(spec.concurrency, Some(Some(Expr::Literal(Literal::Int(3)))));
    assert_eq!(spec.batch_size, Some(Expr::Parameter("n".into())));
    assert_eq!(spec.on_error, OnError::Break);
    assert_eq!(spec.retry, Some(Some(Expr::Literal(Literal::Float(2.5)))));
    assert_eq!(spec.report_status.as_deref(), Some("s"));
    let c = clauses("CALL () { CREATE () } IN CONCURRENT TRANSACTIONS ON ERROR CONTINUE");
    assert!(matches!(
        &c[0],
        Clause::CallSubquery { in_transactions: Some(t), .. }
            if t.concurrency == Some(None) && t.on_error == OnError::Continue && t.retry.is_none()
    ));
    syntax_error("CALL () { CREATE () } IN TRANSACTIONS ON ERROR IGNORE");
    syntax_error("CALL () { CREATE () } IN 2 TRANSACTIONS");
    // The scope clause names variables, nothing else.
    syntax_error("MATCH (n) CALL (n.x) { RETURN 1 AS y } RETURN y");
    syntax_error("MATCH (n) CALL (n AS m) { RETURN 1 AS y } RETURN y");
    accepts("MATCH (n), (m) CALL (n, m) { MATCH (n)-->(x) RETURN x } RETURN x");
    accepts("MATCH (n) CALL () { MATCH (n)-->(x) RETURN x } RETURN x");
    accepts("MATCH (n) CALL (*) { CREATE (:Copy {of: id(n)}) }");
    assert_eq!(
        fails("MATCH (n) CALL () { MATCH (n) RETURN n } RETURN n"),
        "VariableAlreadyBound",
    );
    assert_eq!(
        fails("MATCH (n) CALL () { RETURN n AS y } RETURN y"),
        "UndefinedVariable"
    );
}

/// The error message `parse` + `check` report.
fn message(src: &str) -> String {
    match parse(src).and_then(|s| check(&s)) {
        Ok(()) => panic!("expected an error for {src}"),
        Err(e) => e.message,
    }
}

#[test]
fn call_subquery_scoping() {
    // Without an import the body starts empty: an outer name is new inside.
    accepts("MATCH (a:X) CALL { MATCH (a:X) RETURN count(a) AS c } RETURN a, c");
    assert_eq!(
        fails("MATCH (a) CALL { RETURN a.x AS y } RETURN y"),
        "UndefinedVariable"
    );
    assert_eq!(
        fails("MATCH (a), (b) CALL { WITH a RETURN b AS y } RETURN y"),
        "UndefinedVariable"
    );
    accepts("MATCH (a), (b) CALL { WITH a, b RETURN a.x + b.x AS y } RETURN y");
    accepts("MATCH (a), (b) CALL { WITH * RETURN a.x + b.x AS y } RETURN y");
    accepts("MATCH (a) CALL { WITH a AS a RETURN a.x AS y } RETURN y");
    // A leading WITH that reaches no outer variable is an ordinary WITH.
    accepts("MATCH (a) CALL { WITH 1 AS x RETURN x } RETURN a, x");
    accepts("MATCH (a) CALL { WITH 0 AS n ORDER BY n RETURN n } RETURN a, n");
    // Importing WITHs are plain variables only.
    for (q, why) in [
        (
            "MATCH (a) CALL { WITH a.x AS x RETURN x } RETURN x",
            "Aliasing or expressions are not supported.",
        ),
        (
            "MATCH (a) CALL { WITH a AS b RETURN b } RETURN b",
            "Aliasing or expressions are not supported.",
        ),
        (
            "MATCH (a) CALL { WITH a, 1 AS k RETURN k } RETURN k",
            "Aliasing or expressions are not supported.",
        ),
        (
            "MATCH (a) CALL { WITH a WHERE a.x > 1 RETURN a.x AS x } RETURN x",
            "WHERE is not allowed.",
        ),
        (
            "MATCH (a) CALL { WITH DISTINCT a RETURN a.x AS x } RETURN x",
            "DISTINCT is not allowed.",
        ),
        (
            "MATCH (a) CALL { WITH a ORDER BY a.x RETURN a.x AS x } RETURN x",
            "ORDER BY is not allowed.",
        ),
        (
            "MATCH (a) CALL { WITH a SKIP 1 RETURN a.x AS x } RETURN x",
            "SKIP is not allowed.",
        ),
        (
            "MATCH (a) CALL { WITH a LIMIT 1 RETURN a.x AS x } RETURN x",
            "LIMIT is not allowed.",
        ),
    ] {
        assert_eq!(
            message(q),
            format!(
                "Importing WITH should consist only of simple references to outside \
                 variables. {why}"
            ),
            "{q}"
        );
    }
    // Imports are per union part.
    accepts("MATCH (a) CALL { WITH a RETURN a.x AS x UNION RETURN 1 AS x } RETURN x");
    assert_eq!(
        fails("MATCH (a) CALL { WITH a RETURN a.x AS x UNION RETURN a.y AS x } RETURN x"),
        "UndefinedVariable"
    );
    // The scope clause imports exactly what it names.
    accepts("MATCH (a), (b) CALL (a) { RETURN a.x AS y } RETURN y");
    assert_eq!(
        fails("MATCH (a), (b) CALL (a) { RETURN b.x AS y } RETURN y"),
        "UndefinedVariable"
    );
    assert_eq!(
        fails("MATCH (a) CALL (z) { RETURN 1 AS y } RETURN y"),
        "UndefinedVariable"
    );
    accepts("MATCH (a), (b) CALL (*) { RETURN a.x + b.x AS y } RETURN y");
    accepts("MATCH (a) CALL (a) { RETURN a.x AS x UNION RETURN a.y AS x } RETURN x");
    accepts("MATCH (a) CALL (a) { WITH a.x AS x RETURN x } RETURN x");
    // ...and makes a leading WITH an ordinary one over what it imported
    // (llama-index sends `CALL (e) { WITH e MATCH ... }`), which cannot
    // reach past the scope clause.
    accepts("MATCH (a) CALL (a) { WITH a RETURN a.x AS x } RETURN x");
    accepts("MATCH (a) CALL (*) { WITH * RETURN a.x AS x } RETURN x");
    accepts("MATCH (a) CALL (a) { WITH a WHERE a.x > 1 RETURN a.x AS x } RETURN x");
    assert_eq!(
        fails("MATCH (a) CALL () { WITH a RETURN a.x AS x } RETURN x"),
        "UndefinedVariable"
    );
    // What the body returns must not clash with the outer scope, imported
    // or not.
    for q in [
        "MATCH (a) CALL { MATCH (c) RETURN c AS a } RETURN a",
        "MATCH (a) CALL { WITH a RETURN a } RETURN a",
        "MATCH (a) CALL (a) { RETURN a } RETURN a",
        "WITH 1 AS c CALL () { RETURN 2 AS c } RETURN c",
    ] {
        assert_eq!(fails(q), "VariableAlreadyBound", "{q}");
    }
    assert_eq!(
        message("WITH 1 AS c CALL { RETURN 2 AS c } RETURN c"),
        "Variable `c` already declared in outer scope"
    );
    // IN TRANSACTIONS changes nothing about scope.
    assert_eq!(
        fails("MATCH (a) CALL { CREATE (:Y {v: a.x}) } IN TRANSACTIONS"),
        "UndefinedVariable"
    );
    accepts("MATCH (a) CALL (a) { CREATE (:Y {v: a.x}) } IN TRANSACTIONS");
}

#[test]
fn expression_subquery_scoping() {
    // Outer variables are visible inside EXISTS, COUNT and COLLECT, and
    // pattern comprehensions.
    accepts("MATCH (a) WHERE EXISTS { MATCH (a)-->(b) WHERE b.x = a.x } RETURN a");
    accepts("MATCH (a) RETURN COUNT { MATCH (a)-->(b) RETURN b } AS n");
    accepts("MATCH (a) RETURN COLLECT { MATCH (a)-->(b) RETURN b.x } AS xs");
    accepts("MATCH (a) RETURN [(a)-->(b) | b.x] AS xs");
    // What they declare stays inside.
    for q in [
        "MATCH (a) WHERE EXISTS { MATCH (a)-->(b) } RETURN b",
        "MATCH (a) RETURN COUNT { MATCH (a)-->(b) RETURN b } AS n, b",
        "MATCH (a) RETURN COLLECT { MATCH (a)-->(b) RETURN b.x AS x } AS xs, x",
        "MATCH (a) RETURN [(a)-->(b) | b.x] AS xs, b",
        "MATCH (a) WITH a, COLLECT { MATCH (a)-->(b) RETURN b } AS bs RETURN b",
    ] {
        assert_eq!(fails(q), "UndefinedVariable", "{q}");
    }
    // COLLECT returns exactly one column and is a list.
    assert!(matches!(
        expr("COLLECT { MATCH (n) RETURN n.x }"),
        Expr::CollectSubquery(_)
    ));
    for q in [
        "RETURN COLLECT { MATCH (n) RETURN n.x AS x, n.y AS y } AS l",
        "RETURN COLLECT { MATCH (n) } AS l",
        "RETURN COLLECT { MATCH (n) WHERE n.x > 1 } AS l",
    ] {
        assert_eq!(
            message(q),
            "A Collect subquery must end with a single return column.",
            "{q}"
        );
    }
    assert_eq!(
        fails("RETURN COLLECT { CREATE (n) RETURN n } AS l"),
        "InvalidClauseComposition"
    );
    accepts("RETURN size(COLLECT { UNWIND [1, 2] AS x RETURN x }) AS l");
    // `collect(...)` is still the aggregate.
    accepts("MATCH (n) RETURN collect(n) AS l");
}

fn first_part(src: &str) -> PatternPart {
    match clauses(src).remove(0) {
        Clause::Match { mut pattern, .. } => pattern.parts.remove(0),
        other => panic!("{other:?}"),
    }
}

#[test]
fn quantified_path_patterns_parse() {
    // A quantified relationship is a one-hop QPP between anonymous nodes,
    // its inline WHERE the iteration's own.
    let part = first_part("MATCH (a)-[r:R WHERE r.w > 1]->{2,5}(b) RETURN a");
    let (step, end) = &part.element.chain[0];
    assert_eq!(end.var.as_deref(), Some("b"));
    let q = step.quantified.as_deref().expect("quantified");
    assert_eq!((q.min, q.max), (2, Some(5)));
    assert_eq!(q.element.chain[0].0.var.as_deref(), Some("r"));
    assert_eq!(q.element.chain[0].0.types, vec!["R".to_string()]);
    assert!(q.where_.is_some());
    for (src, bounds) in [
        ("MATCH (a)-->+(b) RETURN a", (1, None)),
        ("MATCH (a)-->*(b) RETURN a", (0, None)),
        ("MATCH (a)-->{3}(b) RETURN a", (3, Some(3))),
        ("MATCH (a)-->{,4}(b) RETURN a", (0, Some(4))),
        ("MATCH (a)-->{2,}(b) RETURN a", (2, None)),
        ("MATCH (a) ((x)-->(y)){1,3} (b) RETURN a", (1, Some(3))),
    ] {
        let part = first_part(src);
        let q = part.element.chain[0].0.quantified.as_deref().expect(src);
        assert_eq!((q.min, q.max), bounds, "{src}");
    }
    // Juxtaposed parts share their boundary nodes; a pattern may start and
    // end with one.
    let part = first_part("MATCH ((x)-->(y)){2} ((u)<--(v))+ (b:B) RETURN b");
    assert_eq!(part.element.start, NodePattern::anonymous());
    assert_eq!(part.element.chain.len(), 2);
    assert_eq!(part.element.chain[1].1.labels, vec!["B".to_string()]);
    assert_eq!(part.element.variables(), vec!["x", "y", "u", "v", "b"]);
    // Old-style variable names stay names.
    accepts("MATCH any = (a)-->(b) RETURN any");
    accepts("WITH [1] AS all MATCH (shortest) RETURN all, shortest");
    accepts("RETURN [(a)-[:A|B]->(b) | b] AS l, any(x IN [1] WHERE x = 1) AS t");
}

#[test]
fn path_selectors_and_modes_parse() {
    let cases = [
        (
            "MATCH p = ANY SHORTEST (a)-->+(b) RETURN p",
            PathSelector::Shortest(int(1)),
        ),
        (
            "MATCH p = ALL SHORTEST PATHS (a)-->+(b) RETURN p",
            PathSelector::ShortestGroups(int(1)),
        ),
        (
            "MATCH p = SHORTEST 3 (a)-->+(b) RETURN p",
            PathSelector::Shortest(int(3)),
        ),
        (
            "MATCH p = SHORTEST 2 PATH GROUPS (a)-->+(b) RETURN p",
            PathSelector::ShortestGroups(int(2)),
        ),
        (
            "MATCH p = SHORTEST GROUP (a)-->+(b) RETURN p",
            PathSelector::ShortestGroups(int(1)),
        ),
        (
            "MATCH p = ANY 4 PATHS (a)-->+(b) RETURN p",
            PathSelector::Any(int(4)),
        ),
        (
            "MATCH p = ANY (a)-->+(b) RETURN p",
            PathSelector::Any(int(1)),
        ),
        (
            "MATCH p = SHORTEST $k (a)-->+(b) RETURN p",
            PathSelector::Shortest(Expr::Parameter("k".into())),
        ),
    ];
    for (src, want) in cases {
        assert_eq!(first_part(src).selector, Some(want), "{src}");
    }
    assert_eq!(
        first_part("MATCH p = ALL (a)-->+(b) RETURN p").selector,
        None
    );
    let part = first_part("MATCH p = SHORTEST 1 ACYCLIC (a)-->+(b) RETURN p");
    assert_eq!(part.mode, PathMode::Acyclic);
    // Under a selector the pattern keeps its own WHERE; the path variable
    // may be declared inside the parentheses.
    let part = first_part("MATCH SHORTEST 1 (p = (a)-->+(b) WHERE length(p) > 1) RETURN p");
    assert_eq!(part.var.as_deref(), Some("p"));
    assert!(part.where_.is_some());
    syntax_error("MATCH p = SHORTEST (a)-->+(b) RETURN p");
    syntax_error("MATCH (a)-->{0}(b) RETURN a");
}

fn show(q: &str) -> ShowCommand {
    match stmt(q).kind {
        StatementKind::Show(s) => s,
        other => panic!("{other:?}"),
    }
}

fn admin(q: &str) -> AdminCommand {
    match stmt(q).kind {
        StatementKind::Admin(c) => c,
        other => panic!("{q}: not an administration command: {other:?}"),
    }
}

#[test]
fn user_commands_parse() {
    let AdminCommand::CreateUser(u) = admin(
        "CREATE OR REPLACE USER alice SET PLAINTEXT PASSWORD 'secret pw' CHANGE NOT REQUIRED \
         SET STATUS SUSPENDED SET HOME DATABASE movies",
    ) else {
        panic!()
    };
    assert!(u.replace && !u.if_not_exists);
    assert_eq!(u.name, SchemaName::Given("alice".into()));
    assert_eq!(u.change_required, Some(false));
    assert_eq!(u.suspended, Some(true));
    assert_eq!(u.home, Some(Some(SchemaName::Given("movies".into()))));
    assert!(
        matches!(u.password, Some((Expr::Literal(Literal::String(ref p)), false)) if p == "secret pw")
    );
    let AdminCommand::CreateUser(u) =
        admin("CREATE USER $name IF NOT EXISTS SET ENCRYPTED PASSWORD $pw")
    else {
        panic!()
    };
    assert!(u.if_not_exists && matches!(u.password, Some((Expr::Parameter(_), true))));
    assert_eq!(u.change_required, None);
    let AdminCommand::AlterUser(u) =
        admin("ALTER USER bob IF EXISTS REMOVE HOME DATABASE SET PASSWORD CHANGE REQUIRED")
    else {
        panic!()
    };
    assert!(u.if_exists && u.password.is_none());
    assert_eq!((u.home, u.change_required), (Some(None), Some(true)));
    assert!(matches!(
        admin("ALTER CURRENT USER SET PASSWORD FROM 'old' TO $new"),
        AdminCommand::AlterCurrentUser { .. }
    ));
    assert!(matches!(
        admin("RENAME USER a IF EXISTS TO b"),
        AdminCommand::RenameUser {
            if_exists: true,
            ..
        }
    ));
    assert!(matches!(
        admin("DROP USER `x y`"),
        AdminCommand::DropUser {
            if_exists: false,
            ..
        }
    ));
    // A user needs a password; ALTER needs something to change.
    assert!(parse("CREATE USER alice").is_err());
    assert!(parse("ALTER USER alice").is_err());
    assert!(parse("CREATE USER a SET AUTH 'oidc' { SET ID 'x' }").is_err());
}

#[test]
fn role_and_privilege_commands_parse() {
    assert!(matches!(
        admin("CREATE ROLE ops IF NOT EXISTS AS COPY OF editor"),
        AdminCommand::CreateRole {
            if_not_exists: true,
            copy_of: Some(_),
            ..
        }
    ));
    let AdminCommand::GrantRoles { roles, users } =
        admin("GRANT ROLES reader, editor TO alice, bob")
    else {
        panic!()
    };
    assert_eq!((roles.len(), users.len()), (2, 2));
    assert!(matches!(
        admin("REVOKE ROLE reader FROM alice"),
        AdminCommand::RevokeRoles { .. }
    ));
    let AdminCommand::Privilege {
        op,
        privilege,
        scope,
        segments,
        ..
    } = admin("GRANT MATCH {*} ON GRAPH * NODES * TO ops")
    else {
        panic!()
    };
    assert_eq!(op, PrivilegeOp::Grant);
    assert_eq!(privilege, PrivilegeKind::Match);
    assert_eq!(scope, PrivilegeScope::Named(None));
    assert_eq!(segments, ["NODE(*)"]);
    let AdminCommand::Privilege {
        op,
        privilege,
        scope,
        ..
    } = admin("REVOKE DENY WRITE ON GRAPHS neo4j, movies FROM ops")
    else {
        panic!()
    };
    assert_eq!(op, PrivilegeOp::Revoke(Some(true)));
    assert_eq!(privilege, PrivilegeKind::Write);
    assert!(matches!(scope, PrivilegeScope::Named(Some(ref v)) if v.len() == 2));
    for (q, kind) in [
        ("GRANT ACCESS ON HOME DATABASE TO r", PrivilegeKind::Access),
        (
            "DENY NAME MANAGEMENT ON DATABASE * TO r",
            PrivilegeKind::NameManagement,
        ),
        (
            "GRANT INDEX MANAGEMENT ON DATABASES * TO r",
            PrivilegeKind::IndexManagement,
        ),
        (
            "GRANT SHOW CONSTRAINTS ON DATABASE * TO r",
            PrivilegeKind::ShowConstraint,
        ),
        (
            "GRANT ALL DBMS PRIVILEGES ON DBMS TO r",
            PrivilegeKind::AllDbms,
        ),
        (
            "GRANT ALL DATABASE PRIVILEGES ON DATABASE * TO r",
            PrivilegeKind::AllDatabase,
        ),
        (
            "GRANT TRANSACTION MANAGEMENT (*) ON DATABASE * TO r",
            PrivilegeKind::TransactionManagement,
        ),
        (
            "GRANT CREATE NEW NODE LABEL ON DATABASE * TO r",
            PrivilegeKind::Other("CREATE NEW NODE LABEL".into()),
        ),
        // What the built-in roles hold, as SHOW PRIVILEGES AS COMMANDS
        // prints it.
        ("GRANT LOAD ON ALL DATA TO r", PrivilegeKind::Load),
        (
            "GRANT EXECUTE PROCEDURE * ON DBMS TO r",
            PrivilegeKind::ExecuteProcedures,
        ),
        (
            "GRANT EXECUTE USER DEFINED FUNCTIONS * ON DBMS TO r",
            PrivilegeKind::ExecuteFunctions,
        ),
        (
            "GRANT EXECUTE PROCEDURE db.* ON DBMS TO r",
            PrivilegeKind::Other("EXECUTE PROCEDURE DB . *".into()),
        ),
    ] {
        let AdminCommand::Privilege { privilege, .. } = admin(q) else {
            panic!("{q}")
        };
        assert_eq!(privilege, kind, "{q}");
    }
    // Only whole graphs: a label or a property list is refused when run,
    // or here when the syntax has no other meaning.
    assert!(parse("GRANT MATCH {*} ON GRAPH * NODES Person TO r").is_err());
    assert!(parse("GRANT ACCESS ON DEFAULT DATABASE TO r").is_err());
    let AdminCommand::Privilege { privilege, .. } = admin("GRANT READ {name} ON GRAPH * TO r")
    else {
        panic!()
    };
    assert!(matches!(privilege, PrivilegeKind::Other(_)));
}

#[test]
fn security_listings_parse() {
    assert_eq!(
        show("SHOW ROLES").kind,
        ShowKind::Roles {
            populated: false,
            with_users: false
        }
    );
    assert_eq!(
        show("SHOW POPULATED ROLES WITH USERS YIELD role, member").kind,
        ShowKind::Roles {
            populated: true,
            with_users: true
        }
    );
    assert_eq!(
        show("SHOW ALL ROLES").kind,
        ShowKind::Roles {
            populated: false,
            with_users: false
        }
    );
    assert_eq!(
        show("SHOW PRIVILEGES").kind,
        ShowKind::Privileges {
            of: PrivilegesOf::All,
            as_commands: None
        }
    );
    assert_eq!(
        show("SHOW ROLE reader PRIVILEGES AS COMMANDS").kind,
        ShowKind::Privileges {
            of: PrivilegesOf::Roles(vec![SchemaName::Given("reader".into())]),
            as_commands: Some(false)
        }
    );
    assert_eq!(
        show("SHOW USER PRIVILEGES").kind,
        ShowKind::Privileges {
            of: PrivilegesOf::Users(None),
            as_commands: None
        }
    );
    assert_eq!(
        show("SHOW USERS alice, $b PRIVILEGES AS REVOKE COMMANDS").kind,
        ShowKind::Privileges {
            of: PrivilegesOf::Users(Some(vec![
                SchemaName::Given("alice".into()),
                SchemaName::Param("b".into())
            ])),
            as_commands: Some(true)
        }
    );
    assert_eq!(show("SHOW USERS").kind, ShowKind::Users);
    assert_eq!(
        show("SHOW USERS YIELD user WHERE user = 'x'").kind,
        ShowKind::Users
    );
    assert_eq!(show("SHOW ALL FUNCTIONS").kind, ShowKind::Functions);
    assert_eq!(
        show("SHOW USER DEFINED FUNCTIONS").kind,
        ShowKind::Functions
    );
}
