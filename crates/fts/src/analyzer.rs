//! Analyzers under the names Neo4j gives them, built from tantivy's token
//! filters and two tokenizers of our own: Unicode words (UAX #29, as
//! Lucene's StandardTokenizer splits) and runs of characters that satisfy a
//! predicate (letters, or everything but white space).

use tantivy::tokenizer::{
    AsciiFoldingFilter, Language, LowerCaser, RemoveLongFilter, Stemmer, StopWordFilter,
    TextAnalyzer, Token, TokenStream, Tokenizer,
};
use unicode_segmentation::UnicodeSegmentation;

/// The analyzer an index gets when its OPTIONS name none.
pub const DEFAULT_ANALYZER: &str = "standard-no-stop-words";

/// Lucene's English stop-word set, which Neo4j's `standard`, `stop` and
/// `english` analyzers remove.
const ENGLISH_STOP_WORDS: [&str; 33] = [
    "a", "an", "and", "are", "as", "at", "be", "but", "by", "for", "if", "in", "into", "is", "it",
    "no", "not", "of", "on", "or", "such", "that", "the", "their", "then", "there", "these",
    "they", "this", "to", "was", "will", "with",
];

/// Longer terms are dropped: Lucene refuses terms over 32,766 bytes, and
/// tantivy's own limit is just below 65,535.
const MAX_TERM_BYTES: usize = 32_766;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Split {
    /// UAX #29 words that hold a letter or digit.
    Words,
    /// Runs of letters.
    Letters,
    /// Runs of anything but white space.
    Whitespace,
    /// The whole value.
    Keyword,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stops {
    None,
    English,
    Language(Language),
}

/// One analyzer: how text is split and which filters follow.
#[derive(Clone, Copy, Debug)]
pub struct Analyzer {
    name: &'static str,
    description: &'static str,
    split: Split,
    lower: bool,
    fold: bool,
    possessive: bool,
    stops: Stops,
    stem: Option<Language>,
}

const fn plain(name: &'static str, description: &'static str, split: Split) -> Analyzer {
    Analyzer {
        name,
        description,
        split,
        lower: true,
        fold: false,
        possessive: false,
        stops: Stops::None,
        stem: None,
    }
}

const fn language(name: &'static str, lang: Language, stops: bool) -> Analyzer {
    Analyzer {
        name,
        description: "Unicode words, lower-cased, with the language's Snowball stop words \
                      (where tantivy has them) and Snowball stemmer.",
        split: Split::Words,
        lower: true,
        fold: false,
        possessive: false,
        stops: if stops {
            Stops::Language(lang)
        } else {
            Stops::None
        },
        stem: Some(lang),
    }
}

/// Every analyzer Causeway provides, in the order it lists them.
pub const ANALYZERS: &[Analyzer] = &[
    plain(
        "standard-no-stop-words",
        "The default analyzer: Unicode words (UAX #29) in lower case, no stop words.",
        Split::Words,
    ),
    Analyzer {
        stops: Stops::English,
        ..plain(
            "standard",
            "Unicode words (UAX #29) in lower case, without English stop words.",
            Split::Words,
        )
    },
    Analyzer {
        fold: true,
        ..plain(
            "standard-folding",
            "Unicode words (UAX #29) in lower case, with accents folded to ASCII.",
            Split::Words,
        )
    },
    plain("simple", "Runs of letters, in lower case.", Split::Letters),
    Analyzer {
        stops: Stops::English,
        ..plain(
            "stop",
            "Runs of letters, in lower case, without English stop words.",
            Split::Letters,
        )
    },
    Analyzer {
        lower: false,
        ..plain(
            "whitespace",
            "Text split at white space, case kept.",
            Split::Whitespace,
        )
    },
    Analyzer {
        lower: false,
        ..plain(
            "unicode_whitespace",
            "Text split at Unicode white space, case kept.",
            Split::Whitespace,
        )
    },
    Analyzer {
        lower: false,
        ..plain(
            "keyword",
            "The whole value as one term, unchanged.",
            Split::Keyword,
        )
    },
    Analyzer {
        description: "Unicode words in lower case, possessives removed, without English \
                      stop words, stemmed by Snowball's English (Porter 2) stemmer.",
        possessive: true,
        stops: Stops::English,
        stem: Some(Language::English),
        ..plain("english", "", Split::Words)
    },
    language("arabic", Language::Arabic, false),
    language("danish", Language::Danish, true),
    language("dutch", Language::Dutch, true),
    language("finnish", Language::Finnish, true),
    language("french", Language::French, true),
    language("german", Language::German, true),
    language("greek", Language::Greek, false),
    language("hungarian", Language::Hungarian, true),
    language("italian", Language::Italian, true),
    language("norwegian", Language::Norwegian, true),
    language("portuguese", Language::Portuguese, true),
    language("romanian", Language::Romanian, false),
    language("russian", Language::Russian, true),
    language("spanish", Language::Spanish, true),
    language("swedish", Language::Swedish, true),
    language("turkish", Language::Turkish, false),
];

impl Analyzer {
    /// The analyzer of that name (case as Neo4j: exact).
    pub fn named(name: &str) -> Option<Analyzer> {
        ANALYZERS.iter().find(|a| a.name == name).copied()
    }

    pub fn name(&self) -> &'static str {
        self.name
    }

    pub fn description(&self) -> &'static str {
        self.description
    }

    /// The stop words this analyzer removes, as
    /// `db.index.fulltext.listAvailableAnalyzers` shows them.
    pub fn stopwords(&self) -> Vec<String> {
        match self.stops {
            Stops::None => Vec::new(),
            Stops::English => ENGLISH_STOP_WORDS.iter().map(|s| s.to_string()).collect(),
            // tantivy keeps its Snowball lists private, so they cannot be
            // shown; the description says they apply.
            Stops::Language(_) => Vec::new(),
        }
    }

    /// The full pipeline, for indexing and for analysed query text.
    pub fn text_analyzer(&self) -> TextAnalyzer {
        self.pipeline(true)
    }

    /// What wildcard, fuzzy, range and prefix terms go through: case and
    /// accents only, as Lucene's `Analyzer.normalize` (no stemming, no stop
    /// words).
    pub fn normalize(&self, term: &str) -> String {
        let mut s = if self.lower {
            term.to_lowercase()
        } else {
            term.to_string()
        };
        if self.fold {
            let mut a = TextAnalyzer::builder(Whole)
                .filter(AsciiFoldingFilter)
                .build();
            let folded = {
                let mut ts = a.token_stream(&s);
                ts.advance().then(|| ts.token().text.clone())
            };
            if let Some(f) = folded {
                s = f;
            }
        }
        s
    }

    fn pipeline(&self, full: bool) -> TextAnalyzer {
        let mut b = TextAnalyzer::builder(Splitter(self.split))
            .filter(RemoveLongFilter::limit(MAX_TERM_BYTES))
            .dynamic();
        if self.possessive {
            b = b.filter_dynamic(Possessive);
        }
        if self.lower {
            b = b.filter_dynamic(LowerCaser);
        }
        if self.fold {
            b = b.filter_dynamic(AsciiFoldingFilter);
        }
        if full {
            match self.stops {
                Stops::None => {}
                Stops::English => {
                    b = b.filter_dynamic(StopWordFilter::remove(
                        ENGLISH_STOP_WORDS.iter().map(|s| s.to_string()),
                    ))
                }
                Stops::Language(lang) => {
                    if let Some(f) = StopWordFilter::new(lang) {
                        b = b.filter_dynamic(f);
                    }
                }
            }
            if let Some(lang) = self.stem {
                b = b.filter_dynamic(Stemmer::new(lang));
            }
        }
        b.build()
    }

    /// The tokens of `text`, with their positions.
    pub fn tokens(&self, text: &str) -> Vec<(usize, String)> {
        let mut a = self.text_analyzer();
        let mut ts = a.token_stream(text);
        let mut out = Vec::new();
        while ts.advance() {
            let t = ts.token();
            out.push((t.position, t.text.clone()));
        }
        out
    }
}

/// Our tokenizers. Tokens are computed up front: values are short, and it
/// keeps the stream trivial.
#[derive(Clone)]
struct Splitter(Split);

/// The whole text as one token (for folding a single term).
#[derive(Clone)]
struct Whole;

struct Tokens {
    tokens: Vec<Token>,
    at: usize,
}

impl TokenStream for Tokens {
    fn advance(&mut self) -> bool {
        self.at += 1;
        self.at <= self.tokens.len()
    }
    fn token(&self) -> &Token {
        &self.tokens[self.at - 1]
    }
    fn token_mut(&mut self) -> &mut Token {
        &mut self.tokens[self.at - 1]
    }
}

fn token(position: usize, from: usize, text: &str) -> Token {
    Token {
        offset_from: from,
        offset_to: from + text.len(),
        position,
        text: text.to_string(),
        position_length: 1,
    }
}

fn runs(text: &str, keep: impl Fn(char) -> bool) -> Vec<Token> {
    let mut out = Vec::new();
    let mut start = None;
    for (i, c) in text
        .char_indices()
        .chain(std::iter::once((text.len(), ' ')))
    {
        match (keep(c) && i < text.len(), start) {
            (true, None) => start = Some(i),
            (false, Some(s)) => {
                out.push(token(out.len(), s, &text[s..i]));
                start = None;
            }
            _ => {}
        }
    }
    out
}

impl Tokenizer for Splitter {
    type TokenStream<'a> = Tokens;
    fn token_stream<'a>(&'a mut self, text: &'a str) -> Tokens {
        let tokens = match self.0 {
            Split::Words => text
                .unicode_word_indices()
                .enumerate()
                .map(|(n, (i, w))| token(n, i, w))
                .collect(),
            Split::Letters => runs(text, char::is_alphabetic),
            Split::Whitespace => runs(text, |c| !c.is_whitespace()),
            Split::Keyword if text.is_empty() => Vec::new(),
            Split::Keyword => vec![token(0, 0, text)],
        };
        Tokens { tokens, at: 0 }
    }
}

impl Tokenizer for Whole {
    type TokenStream<'a> = Tokens;
    fn token_stream<'a>(&'a mut self, text: &'a str) -> Tokens {
        Tokens {
            tokens: vec![token(0, 0, text)],
            at: 0,
        }
    }
}

/// Drops a trailing `'s` (or `’s`), as Lucene's EnglishPossessiveFilter.
#[derive(Clone)]
struct Possessive;

impl tantivy::tokenizer::TokenFilter for Possessive {
    type Tokenizer<T: Tokenizer> = PossessiveTokenizer<T>;
    fn transform<T: Tokenizer>(self, tokenizer: T) -> PossessiveTokenizer<T> {
        PossessiveTokenizer(tokenizer)
    }
}

#[derive(Clone)]
struct PossessiveTokenizer<T>(T);

impl<T: Tokenizer> Tokenizer for PossessiveTokenizer<T> {
    type TokenStream<'a> = PossessiveStream<T::TokenStream<'a>>;
    fn token_stream<'a>(&'a mut self, text: &'a str) -> Self::TokenStream<'a> {
        PossessiveStream(self.0.token_stream(text))
    }
}

struct PossessiveStream<S>(S);

impl<S: TokenStream> TokenStream for PossessiveStream<S> {
    fn advance(&mut self) -> bool {
        if !self.0.advance() {
            return false;
        }
        let t = &mut self.0.token_mut().text;
        for suffix in ["'s", "'S", "\u{2019}s", "\u{2019}S"] {
            if t.len() > suffix.len() && t.ends_with(suffix) {
                t.truncate(t.len() - suffix.len());
                break;
            }
        }
        true
    }
    fn token(&self) -> &Token {
        self.0.token()
    }
    fn token_mut(&mut self) -> &mut Token {
        self.0.token_mut()
    }
}
