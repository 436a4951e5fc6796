//! Counts answered from the graph's own tallies instead of a scan: a MATCH of
//! one node by at most one label, or of one directed relationship by at most
//! one type between unconstrained nodes, followed by a projection of nothing
//! but `count(*)` or `count(variable)` of it. Neo4j plans the same queries as
//! `NodeCountFromCountStore` and `RelationshipCountFromCountStore`.

use causeway_cypher::ast::{Clause, Direction, Expr, NodePattern, PathMode, Pattern, Projection};
use causeway_graph::Graph;

/// What is counted.
#[derive(Clone, Debug, PartialEq)]
pub enum Tally {
    /// Nodes with this label, or every node.
    Nodes(Option<String>),
    /// Relationships of this type, or every relationship.
    Rels(Option<String>),
}

impl Tally {
    pub fn count(&self, g: &Graph) -> usize {
        match self {
            Tally::Nodes(Some(l)) => g.label_count(l),
            Tally::Nodes(None) => g.node_count(),
            Tally::Rels(Some(t)) => g.type_count(t),
            Tally::Rels(None) => g.rel_count(),
        }
    }

    /// The plan operator and its details, as EXPLAIN shows them.
    pub fn describe(&self) -> (&'static str, String) {
        match self {
            Tally::Nodes(l) => (
                "NodeCountFromCountStore",
                format!(
                    "({})",
                    l.as_ref().map(|l| format!(":{l}")).unwrap_or_default()
                ),
            ),
            Tally::Rels(t) => (
                "RelationshipCountFromCountStore",
                format!(
                    "()-[{}]->()",
                    t.as_ref().map(|t| format!(":{t}")).unwrap_or_default()
                ),
            ),
        }
    }
}

/// The tally a MATCH clause followed by `next` amounts to, if it is one.
/// `scope` holds the variables bound before the MATCH: a pattern that
/// mentions one of them depends on the row and is not a plain count.
pub fn tally(clause: &Clause, next: &Clause, scope: &[String]) -> Option<Tally> {
    let Clause::Match {
        optional: false,
        pattern,
        where_: None,
    } = clause
    else {
        return None;
    };
    let (Clause::With(p) | Clause::Return(p)) = next else {
        return None;
    };
    let (tally, vars) = pattern_tally(pattern)?;
    if vars.iter().any(|v| scope.contains(v)) || !counts_only(p, &vars) {
        return None;
    }
    Some(tally)
}

fn plain(n: &NodePattern) -> bool {
    n.labels.is_empty() && n.props.is_none() && n.dynamic_labels.is_empty()
}

fn pattern_tally(pattern: &Pattern) -> Option<(Tally, Vec<&String>)> {
    let [part] = pattern.parts.as_slice() else {
        return None;
    };
    if part.var.is_some() || part.shortest.is_some() || part.selector.is_some() {
        return None;
    }
    let el = &part.element;
    let start = &el.start;
    match el.chain.as_slice() {
        [] => {
            if start.props.is_some() || !start.dynamic_labels.is_empty() || start.labels.len() > 1 {
                return None;
            }
            let vars = start.var.iter().collect();
            Some((Tally::Nodes(start.labels.first().cloned()), vars))
        }
        [(rel, end)] => {
            let simple = plain(start)
                && plain(end)
                && rel.props.is_none()
                && rel.length.is_none()
                && rel.quantified.is_none()
                && rel.dynamic_type.is_none()
                && rel.type_expr.is_none()
                && rel.types.len() <= 1
                && rel.direction != Direction::Both
                // ACYCLIC drops loops, which the tally counts.
                && part.mode != PathMode::Acyclic;
            // `(a)-[r]->(a)` counts loops only.
            let distinct_ends = start.var.is_none() || start.var != end.var;
            if !simple || !distinct_ends {
                return None;
            }
            let vars = [&start.var, &rel.var, &end.var]
                .into_iter()
                .flatten()
                .collect();
            Some((Tally::Rels(rel.types.first().cloned()), vars))
        }
        _ => None,
    }
}

/// Every item is `count(*)` or a non-distinct `count` of a pattern variable
/// (never null in a match), and nothing else shapes the rows.
fn counts_only(p: &Projection, vars: &[&String]) -> bool {
    let plain_projection = !p.distinct
        && !p.star
        && p.order_by.is_empty()
        && p.skip.is_none()
        && p.limit.is_none()
        && p.where_.is_none()
        && !p.items.is_empty();
    plain_projection
        && p.items.iter().all(|i| match &i.expr {
            Expr::CountStar => true,
            Expr::Function {
                name,
                distinct: false,
                args,
            } if name.eq_ignore_ascii_case("count") => {
                matches!(args.as_slice(), [Expr::Variable(v)] if vars.contains(&v))
            }
            _ => false,
        })
}
