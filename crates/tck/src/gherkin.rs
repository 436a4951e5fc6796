//! The slice of Gherkin the openCypher TCK uses: Feature, Background,
//! Scenario, Scenario Outline with Examples, tags, doc strings and tables.
//! Outlines are expanded here so that the runner only ever sees concrete
//! scenarios.

#[derive(Clone, Debug, PartialEq)]
pub struct Step {
    /// `Given`, `When`, `Then`, `And`, `But` or `*`. Kept for messages only:
    /// the TCK's step texts are distinct enough to dispatch on.
    pub keyword: String,
    pub text: String,
    pub doc: Option<String>,
    pub table: Option<Vec<Vec<String>>>,
    pub line: usize,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Scenario {
    /// As written, placeholders included, so that ids stay stable when an
    /// example row changes.
    pub name: String,
    pub tags: Vec<String>,
    pub line: usize,
    /// 1-based index of the example row this scenario was expanded from,
    /// counted across all Examples blocks of the outline.
    pub example: Option<usize>,
    /// Background steps first, then the scenario's own.
    pub steps: Vec<Step>,
}

#[derive(Clone, Debug, PartialEq, Default)]
pub struct Feature {
    pub name: String,
    pub scenarios: Vec<Scenario>,
}

#[derive(Debug, PartialEq)]
pub struct ParseError {
    pub line: usize,
    pub message: String,
}

impl std::fmt::Display for ParseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

struct Outline {
    name: String,
    tags: Vec<String>,
    line: usize,
    is_outline: bool,
    steps: Vec<Step>,
    /// Header and rows of each Examples block.
    examples: Vec<(Vec<String>, Vec<Vec<String>>)>,
}

enum Section {
    None,
    Background,
    Scenario,
    Examples,
}

const STEP_KEYWORDS: [&str; 6] = ["Given ", "When ", "Then ", "And ", "But ", "* "];

pub fn parse(src: &str) -> Result<Feature, ParseError> {
    let lines: Vec<&str> = src.lines().collect();
    let mut feature = Feature::default();
    let mut background: Vec<Step> = Vec::new();
    let mut outlines: Vec<Outline> = Vec::new();
    let mut pending_tags: Vec<String> = Vec::new();
    let mut section = Section::None;
    let mut i = 0;
    while i < lines.len() {
        let lineno = i + 1;
        let raw = lines[i];
        let t = raw.trim();
        i += 1;
        if t.is_empty() || t.starts_with('#') {
            continue;
        }
        if t.starts_with('@') {
            pending_tags.extend(t.split_whitespace().map(str::to_owned));
            continue;
        }
        if let Some(rest) = t.strip_prefix("Feature:") {
            feature.name = rest.trim().to_owned();
            pending_tags.clear();
            continue;
        }
        if t.starts_with("Background:") {
            section = Section::Background;
            continue;
        }
        let outline_name = t
            .strip_prefix("Scenario Outline:")
            .or_else(|| t.strip_prefix("Scenario Template:"));
        if let Some(name) = outline_name.or_else(|| t.strip_prefix("Scenario:")) {
            outlines.push(Outline {
                name: name.trim().to_owned(),
                tags: std::mem::take(&mut pending_tags),
                line: lineno,
                is_outline: outline_name.is_some(),
                steps: Vec::new(),
                examples: Vec::new(),
            });
            section = Section::Scenario;
            continue;
        }
        if t.starts_with("Examples:") || t.starts_with("Scenarios:") {
            let Some(o) = outlines.last_mut() else {
                return Err(err(lineno, "Examples outside a scenario"));
            };
            let (table, next) = read_table(&lines, i);
            i = next;
            let mut rows = table.into_iter();
            let header = rows.next().unwrap_or_default();
            o.examples.push((header, rows.collect()));
            section = Section::Examples;
            pending_tags.clear();
            continue;
        }
        if let Some(kw) = STEP_KEYWORDS.iter().find(|k| t.starts_with(*k)) {
            let mut step = Step {
                keyword: kw.trim().to_owned(),
                text: t[kw.len()..].trim().to_owned(),
                doc: None,
                table: None,
                line: lineno,
            };
            // A step's argument follows it directly, comments aside.
            let mut j = i;
            while j < lines.len() && {
                let n = lines[j].trim();
                n.is_empty() || (n.starts_with('#') && !is_doc_delim(n))
            } {
                j += 1;
            }
            if j < lines.len() {
                let n = lines[j].trim();
                if is_doc_delim(n) {
                    let (doc, next) = read_doc(&lines, j)?;
                    step.doc = Some(doc);
                    i = next;
                } else if n.starts_with('|') {
                    let (table, next) = read_table(&lines, j);
                    step.table = Some(table);
                    i = next;
                }
            }
            match section {
                Section::Background => background.push(step),
                Section::Scenario => match outlines.last_mut() {
                    Some(o) => o.steps.push(step),
                    None => return Err(err(lineno, "step outside a scenario")),
                },
                Section::Examples => return Err(err(lineno, "step after Examples")),
                Section::None => return Err(err(lineno, "step before any scenario")),
            }
            continue;
        }
        if t.starts_with('|') {
            return Err(err(lineno, "table without a step"));
        }
        // Free-text description under Feature/Scenario headers.
        if matches!(section, Section::None) {
            continue;
        }
        return Err(err(lineno, &format!("unrecognised line: {t}")));
    }

    for o in outlines {
        if !o.is_outline {
            let mut steps = background.clone();
            steps.extend(o.steps);
            feature.scenarios.push(Scenario {
                name: o.name,
                tags: o.tags,
                line: o.line,
                example: None,
                steps,
            });
            continue;
        }
        let mut index = 0;
        for (header, rows) in &o.examples {
            for row in rows {
                index += 1;
                let subst = |s: &str| substitute(s, header, row);
                let mut steps = background.clone();
                steps.extend(o.steps.iter().map(|s| Step {
                    keyword: s.keyword.clone(),
                    text: subst(&s.text),
                    doc: s.doc.as_deref().map(subst),
                    table: s.table.as_ref().map(|t| {
                        t.iter()
                            .map(|r| r.iter().map(|c| subst(c)).collect())
                            .collect()
                    }),
                    line: s.line,
                }));
                feature.scenarios.push(Scenario {
                    name: o.name.clone(),
                    tags: o.tags.clone(),
                    line: o.line,
                    example: Some(index),
                    steps,
                });
            }
        }
    }
    Ok(feature)
}

fn err(line: usize, message: &str) -> ParseError {
    ParseError {
        line,
        message: message.to_owned(),
    }
}

fn is_doc_delim(t: &str) -> bool {
    t.starts_with("\"\"\"") || t.starts_with("```")
}

/// Reads a doc string whose opening delimiter is at `start`; returns the
/// content and the index of the line after the closing delimiter. Gherkin
/// strips the opening delimiter's indentation from every content line.
fn read_doc(lines: &[&str], start: usize) -> Result<(String, usize), ParseError> {
    let open = lines[start];
    let indent = open.len() - open.trim_start().len();
    let delim = &open.trim()[..3];
    let mut out: Vec<String> = Vec::new();
    let mut j = start + 1;
    while j < lines.len() {
        let l = lines[j];
        if l.trim() == delim {
            return Ok((out.join("\n"), j + 1));
        }
        let lead = l.len() - l.trim_start().len();
        out.push(l[lead.min(indent)..].to_owned());
        j += 1;
    }
    Err(err(start + 1, "unterminated doc string"))
}

/// Reads consecutive table rows (comments allowed between them) from
/// `start`; returns them and the index of the first line after the table.
fn read_table(lines: &[&str], start: usize) -> (Vec<Vec<String>>, usize) {
    let mut rows = Vec::new();
    let mut j = start;
    let mut end = start;
    while j < lines.len() {
        let t = lines[j].trim();
        if t.starts_with('|') {
            rows.push(split_row(t));
            j += 1;
            end = j;
        } else if t.is_empty() || t.starts_with('#') {
            j += 1;
        } else {
            break;
        }
    }
    (rows, end)
}

/// Splits `| a | b |` into trimmed cells, applying Gherkin's cell escapes
/// (`\|`, `\\`, `\n`); any other backslash is kept, so Cypher escapes such
/// as `\'` reach the value parser intact. A lone `|` is a row of no cells.
pub fn split_row(t: &str) -> Vec<String> {
    let body = t.strip_prefix('|').unwrap_or(t);
    let mut cells = Vec::new();
    let mut cur = String::new();
    let mut chars = body.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some('|') => cur.push('|'),
                Some('\\') => cur.push('\\'),
                Some('n') => cur.push('\n'),
                Some(o) => {
                    cur.push('\\');
                    cur.push(o);
                }
                None => cur.push('\\'),
            },
            '|' => cells.push(std::mem::take(&mut cur).trim().to_owned()),
            _ => cur.push(c),
        }
    }
    // Text after the last `|` is not a cell (normally only whitespace).
    cells
}

fn substitute(s: &str, header: &[String], row: &[String]) -> String {
    let mut out = s.to_owned();
    for (h, v) in header.iter().zip(row) {
        out = out.replace(&format!("<{h}>"), v);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = r#"# comment
#encoding: utf-8

Feature: Sample - things

  Background:
    Given an empty graph

  @ignore @other
  Scenario: [1] Plain
    And having executed:
      """
      CREATE (:A)
        -[:T]->()
      """
    When executing query:
      """
      MATCH (n) RETURN n
      """
    Then the result should be, in any order:
      | n    |
      # a comment inside a table
      | (:A) |
    And no side effects

  Scenario Outline: [2] Outline <x>
    Given any graph
    When executing query:
      """
      RETURN <x> AS r
      """
    Then the result should be, in order:
      | r   |
      | <y> |

    Examples:
      | x | y   |
      | 1 | 1   |
      | 2 | 'a\|b' |

    Examples:
      | x | y |
      | 3 | 3 |
"#;

    #[test]
    fn parses_features_backgrounds_and_outlines() {
        let f = parse(SAMPLE).unwrap();
        assert_eq!(f.name, "Sample - things");
        assert_eq!(f.scenarios.len(), 4);
        let s = &f.scenarios[0];
        assert_eq!(s.name, "[1] Plain");
        assert_eq!(s.tags, vec!["@ignore", "@other"]);
        assert_eq!(s.example, None);
        assert_eq!(s.steps.len(), 5);
        assert_eq!(s.steps[0].text, "an empty graph");
        assert_eq!(s.steps[1].doc.as_deref(), Some("CREATE (:A)\n  -[:T]->()"));
        assert_eq!(
            s.steps[3].table.as_ref().unwrap(),
            &vec![vec!["n".to_owned()], vec!["(:A)".to_owned()]]
        );
        assert_eq!(s.steps[4].text, "no side effects");

        let o = &f.scenarios[2];
        assert_eq!(o.name, "[2] Outline <x>");
        assert_eq!(o.example, Some(2));
        assert!(o.tags.is_empty());
        assert_eq!(o.steps[2].doc.as_deref(), Some("RETURN 2 AS r"));
        assert_eq!(o.steps[3].table.as_ref().unwrap()[1], vec!["'a|b'"]);
        assert_eq!(f.scenarios[3].example, Some(3));
        assert_eq!(
            f.scenarios[3].steps[2].doc.as_deref(),
            Some("RETURN 3 AS r")
        );
    }

    #[test]
    fn cell_escapes() {
        assert_eq!(split_row("| a | b |"), vec!["a", "b"]);
        assert_eq!(split_row("|"), Vec::<String>::new());
        assert_eq!(split_row(r"| 'a\\\\b\'' |"), vec![r"'a\\b\''"]);
        assert_eq!(split_row(r"| '\nx' |"), vec!["'\nx'"]);
        assert_eq!(split_row(r"| a\|b |"), vec!["a|b"]);
    }

    #[test]
    fn empty_table_row_after_step() {
        let src = "Feature: F\n  Scenario: s\n    And there exists a procedure p() :: ():\n      |\n    When executing query:\n      \"\"\"\n      CALL p\n      \"\"\"\n";
        let f = parse(src).unwrap();
        let steps = &f.scenarios[0].steps;
        assert_eq!(
            steps[0].table.as_ref().unwrap(),
            &vec![Vec::<String>::new()]
        );
        assert_eq!(steps[1].doc.as_deref(), Some("CALL p"));
    }

    #[test]
    fn rejects_unterminated_doc() {
        let src =
            "Feature: F\n  Scenario: s\n    When executing query:\n      \"\"\"\n      RETURN 1\n";
        assert!(parse(src).is_err());
    }
}
