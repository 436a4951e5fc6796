//! Hostile nesting must produce a clean SyntaxError, and nesting just under
//! the limit must still work, on a thread with the default 2 MiB test stack.

use causeway_cypher::{check, parse, MAX_NESTING};

fn run(q: &str) -> Result<(), causeway_value::Error> {
    let s = parse(q)?;
    check(&s)
}

fn nested(open: &str, inner: &str, close: &str, n: usize) -> String {
    format!("RETURN {}{}{}", open.repeat(n), inner, close.repeat(n))
}

#[test]
fn very_deep_nesting_is_a_syntax_error() {
    for q in [
        nested("(", "1", ")", 10_000),
        nested("[", "1", "]", 10_000),
        nested("{a: ", "1", "}", 10_000),
        nested("-", "1", "", 10_000),
        nested("NOT ", "true", "", 10_000),
        nested("[x IN ", "[1]", " | x]", 10_000),
        nested("size(", "[1]", ")", 10_000),
        nested("(", "", "", 10_000),
        nested("CASE WHEN true THEN ", "1", " END", 10_000),
        format!("RETURN 1{}", " + 1".repeat(10_000)),
        format!("RETURN 1{}", " < 1".repeat(10_000)),
        format!("RETURN {{a: 1}}{}", ".a".repeat(10_000)),
        format!("RETURN [1]{}", "[0]".repeat(10_000)),
        format!(
            "MATCH (n) WHERE {}true{} RETURN n",
            "EXISTS { MATCH (m) WHERE ".repeat(5_000),
            " }".repeat(5_000)
        ),
        format!("{}RETURN 1{}", "CALL { ".repeat(5_000), " }".repeat(5_000)),
        format!(
            "UNWIND [1] AS x {}CREATE (){}",
            "FOREACH (y IN [1] | ".repeat(5_000),
            ")".repeat(5_000)
        ),
    ] {
        let e = run(&q).expect_err("deep nesting must be rejected");
        assert_eq!(e.code, causeway_value::Code::SyntaxError, "{}", &q[..40]);
    }
}

#[test]
fn long_flat_chains_are_fine() {
    let or_chain = format!(
        "MATCH (n) WHERE n.id = 0{} RETURN n",
        (1..5_000)
            .map(|i| format!(" OR n.id = {i}"))
            .collect::<String>()
    );
    run(&or_chain).expect("long OR chain");
    let list = format!("RETURN [{}]", vec!["1"; 100_000].join(", "));
    run(&list).expect("long list");
    let create = format!(
        "CREATE {}",
        (0..20_000)
            .map(|i| format!("(n{i}:L {{id: {i}}})"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    run(&create).expect("big CREATE");
}

#[test]
fn nesting_below_the_limit_works() {
    let n = MAX_NESTING - 10;
    for q in [
        nested("(", "1", ")", n),
        nested("[", "1", "]", n),
        nested("{a: ", "1", "}", n / 2),
        nested("-", "1", "", n),
        nested("NOT ", "true", "", n),
        nested("[x IN ", "[1]", " | x]", n / 2),
        format!("RETURN 1{}", " + 1".repeat(n)),
    ] {
        run(&q).unwrap_or_else(|e| panic!("{}: {}", &q[..30], e.message));
    }
}
