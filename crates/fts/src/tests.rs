use super::query::{Occur, TermKind};
use super::*;

fn doc(id: u64, values: &[&[&str]]) -> Doc {
    Doc {
        id,
        values: values
            .iter()
            .map(|v| v.iter().map(|s| s.to_string()).collect())
            .collect(),
    }
}

fn props() -> Vec<String> {
    vec!["name".into(), "text".into()]
}

fn corpus() -> Vec<Doc> {
    vec![
        doc(1, &[&["Alice Smith"], &["The quick brown fox"]]),
        doc(2, &[&["Bob Jones"], &["A lazy dog sleeps"]]),
        doc(3, &[&["Carol"], &["quick thinking, quicker acting"]]),
        doc(4, &[&["Dave O'Brien"], &["Wi-Fi and e-mail at the café"]]),
        doc(5, &[&[], &["brown dog, quick fox jumps"]]),
    ]
}

/// Ids matching `q`, best first, over the corpus: once all in a committed
/// generation, once all pending, and once split between the two (stale
/// versions of some documents left in the generation). The first two must
/// agree on ids and scores; the split on ids (its statistics also count
/// the stale versions, as Lucene counts deleted documents until a merge).
fn ids(q: &str) -> Vec<u64> {
    ids_with(q, "standard-no-stop-words")
}

fn ids_with(q: &str, analyzer: &str) -> Vec<u64> {
    let an = Analyzer::named(analyzer).unwrap();
    let parsed = parse(q).unwrap();
    let props = props();
    let search = Search {
        query: &parsed,
        properties: &props,
        analyzer: &an,
        query_analyzer: &an,
    };
    let docs = corpus();
    let mut w = Writer::new(props.len(), &an).unwrap();
    for d in &docs {
        w.put(d.id, Some(d)).unwrap();
    }
    let all_main = w.commit().unwrap();
    let a = sorted(search.run(Some(&all_main), |_| false, &[]).unwrap());
    let b = sorted(search.run(None, |_| false, &docs).unwrap());
    // Documents 2 and 4 are stale in the generation; their current version
    // is pending.
    let split: Vec<Doc> = docs.iter().filter(|d| d.id % 2 == 0).cloned().collect();
    for d in &split {
        w.put(d.id, Some(&doc(d.id, &[&["stale"], &["stale"]])))
            .unwrap();
    }
    let stale_main = w.commit().unwrap();
    let c = sorted(
        search
            .run(Some(&stale_main), |id| id % 2 == 0, &split)
            .unwrap(),
    );
    let key = |v: &Vec<(u64, f32)>| v.iter().map(|(id, _)| *id).collect::<Vec<_>>();
    assert_eq!(key(&a), key(&b), "{q}: generation against pending");
    for ((_, x), (_, y)) in a.iter().zip(&b) {
        assert!((x - y).abs() < 1e-5, "{q}: scores {x} and {y}");
    }
    assert_eq!(set(key(&a)), set(key(&c)), "{q}: generation against split");
    key(&a)
}

fn sorted(mut v: Vec<(u64, f32)>) -> Vec<(u64, f32)> {
    v.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    v
}

fn set(mut v: Vec<u64>) -> Vec<u64> {
    v.sort();
    v
}

#[test]
fn terms_search_every_property_and_rank_by_bm25() {
    assert_eq!(set(ids("quick")), vec![1, 3, 5]);
    assert_eq!(ids("alice"), vec![1]);
    assert_eq!(ids("ALICE"), vec![1]);
    assert_eq!(set(ids("dog fox")), vec![1, 2, 5]);
    // Both terms beat one.
    assert_eq!(ids("dog fox")[0], 5);
}

#[test]
fn boolean_operators_follow_lucene() {
    assert_eq!(set(ids("quick AND brown")), vec![1, 5]);
    assert_eq!(set(ids("quick && brown")), vec![1, 5]);
    assert_eq!(set(ids("+quick +brown")), vec![1, 5]);
    assert_eq!(set(ids("quick NOT fox")), vec![3]);
    assert_eq!(set(ids("quick -fox")), vec![3]);
    assert_eq!(set(ids("quick !fox")), vec![3]);
    assert_eq!(set(ids("alice OR bob")), vec![1, 2]);
    assert_eq!(set(ids("alice || bob")), vec![1, 2]);
    assert_eq!(set(ids("(alice OR bob) AND dog")), vec![2]);
    // A query of prohibited clauses only matches nothing, as in Lucene.
    assert!(ids("-quick").is_empty());
    // Lower-case words are terms, not operators.
    assert_eq!(set(ids("and")), vec![4]);
}

#[test]
fn fields_phrases_wildcards_fuzzy_ranges_regex() {
    assert_eq!(ids("name:alice"), vec![1]);
    assert!(ids("text:alice").is_empty());
    assert!(ids("nosuchfield:alice").is_empty());
    assert_eq!(ids("name:(alice OR bob)").len(), 2);
    assert_eq!(ids("\"quick brown fox\""), vec![1]);
    assert!(ids("\"quick fox\"").is_empty() || ids("\"quick fox\"") == vec![5]);
    assert_eq!(set(ids("\"quick fox\"~1")), vec![1, 5]);
    assert_eq!(set(ids("qui*")), vec![1, 3, 5]);
    assert_eq!(set(ids("*cker")), vec![3]);
    assert_eq!(ids("j?nes"), vec![2]);
    assert_eq!(ids("smyth~"), vec![1]);
    assert_eq!(ids("smyth~1"), vec![1]);
    assert!(ids("smyyyth~1").is_empty());
    assert_eq!(set(ids("name:[a TO c]")), vec![1, 2]);
    assert_eq!(set(ids("name:{alice TO carol}")), vec![2]);
    assert_eq!(set(ids("name:[* TO bob]")), vec![1, 2]);
    assert_eq!(set(ids("/sm.th/")), vec![1]);
    assert_eq!(ids("*:*").len(), 5);
    // A bare `*` matches every document with a token in any property.
    assert_eq!(ids("*").len(), 5);
    assert_eq!(ids("name:*").len(), 4);
}

#[test]
fn boosts_reorder() {
    let plain = ids("alice OR bob");
    let boosted = ids("alice OR bob^10");
    assert_eq!(boosted[0], 2);
    assert_eq!(plain.len(), boosted.len());
}

#[test]
fn analyzers_split_and_filter_as_named() {
    let std = Analyzer::named("standard-no-stop-words").unwrap();
    let texts = |a: &Analyzer, s: &str| a.tokens(s).into_iter().map(|t| t.1).collect::<Vec<_>>();
    assert_eq!(
        texts(&std, "Wi-Fi at the Café"),
        ["wi", "fi", "at", "the", "café"]
    );
    let standard = Analyzer::named("standard").unwrap();
    assert_eq!(texts(&standard, "The fox and the dog"), ["fox", "dog"]);
    let english = Analyzer::named("english").unwrap();
    assert_eq!(
        texts(&english, "The runner's running dogs"),
        ["runner", "run", "dog"]
    );
    let ws = Analyzer::named("whitespace").unwrap();
    assert_eq!(texts(&ws, "Hello, World"), ["Hello,", "World"]);
    let kw = Analyzer::named("keyword").unwrap();
    assert_eq!(texts(&kw, "Hello World"), ["Hello World"]);
    let simple = Analyzer::named("simple").unwrap();
    assert_eq!(texts(&simple, "R2D2 rocks"), ["r", "d", "rocks"]);
    let folding = Analyzer::named("standard-folding").unwrap();
    assert_eq!(texts(&folding, "Café Ñandú"), ["cafe", "nandu"]);
    assert!(Analyzer::named("klingon").is_none());
    // Stop words only drop clauses: a query of them alone matches nothing.
    assert!(ids_with("the", "standard").is_empty());
    assert_eq!(ids_with("the fox", "standard").len(), 2);
    assert_eq!(set(ids_with("jump", "english")), vec![5]);
}

#[test]
fn the_parser_reads_lucene_classic_syntax() {
    let q = parse("a AND b OR -c").unwrap();
    let Query::Bool(cl) = q else { panic!() };
    let occurs: Vec<Occur> = cl.iter().map(|c| c.0).collect();
    assert_eq!(occurs, [Occur::Must, Occur::Must, Occur::MustNot]);
    assert_eq!(
        parse("foo\\:bar").unwrap(),
        Query::Term {
            field: None,
            text: "foo:bar".into(),
            kind: TermKind::Plain
        }
    );
    assert!(matches!(
        parse("te?t~").unwrap(),
        Query::Term {
            kind: TermKind::Fuzzy(2),
            ..
        }
    ));
    for bad in [
        "(unclosed",
        "\"open phrase",
        "AND",
        "a AND",
        "x^",
        "[a TO",
        "a)",
        "",
        "trailing\\",
    ] {
        assert!(parse(bad).is_err(), "{bad:?} should not parse");
    }
    let deep = "(".repeat(200) + "a" + &")".repeat(200);
    assert!(parse(&deep).is_err());
}

#[test]
fn writer_replaces_and_removes_by_id() {
    let an = Analyzer::named(DEFAULT_ANALYZER).unwrap();
    let props = props();
    let mut w = Writer::new(2, &an).unwrap();
    w.put(1, Some(&doc(1, &[&["old name"], &[]]))).unwrap();
    w.put(2, Some(&doc(2, &[&["other"], &[]]))).unwrap();
    let g1 = w.commit().unwrap();
    w.put(1, Some(&doc(1, &[&["new name"], &[]]))).unwrap();
    w.put(2, None).unwrap();
    let g2 = w.commit().unwrap();
    let run = |g: &Generation, q: &str| {
        let parsed = parse(q).unwrap();
        let s = Search {
            query: &parsed,
            properties: &props,
            analyzer: &an,
            query_analyzer: &an,
        };
        set(s
            .run(Some(g), |_| false, &[])
            .unwrap()
            .into_iter()
            .map(|h| h.0)
            .collect())
    };
    // An older generation still answers as of its commit.
    assert_eq!(run(&g1, "old"), vec![1]);
    assert_eq!(run(&g1, "other"), vec![2]);
    assert!(run(&g2, "old").is_empty());
    assert_eq!(run(&g2, "new"), vec![1]);
    assert!(run(&g2, "other").is_empty());
    assert_eq!(g2.docs(), 1);
}

#[test]
fn hostile_patterns_are_refused_or_bounded_not_fatal() {
    let an = Analyzer::named(DEFAULT_ANALYZER).unwrap();
    let props = props();
    let run = |q: &str| {
        let parsed = parse(q).unwrap();
        Search {
            query: &parsed,
            properties: &props,
            analyzer: &an,
            query_analyzer: &an,
        }
        .run(None, |_| false, &corpus())
    };
    // Chains of optional parts recurse deeply while the automaton is built:
    // that happens on a thread with room for it, never on the caller's.
    assert!(run("/(?:a?){0,20000}/").is_err());
    // Nested repetitions within the bounds: answered or refused by the
    // automaton's size limit; what this checks is that the process lives.
    let _ = run("/((?:a?){0,100}){0,100}/");
    let stars = format!("a{}", "*".repeat(400));
    assert!(run(&stars).is_ok());
    assert!(run(&format!("a{}", "*".repeat(2_000))).is_err());
    assert!(run(&format!("/{}/", "a?".repeat(600))).is_err());
}
