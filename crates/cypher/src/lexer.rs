//! Tokenizer for Cypher. Tokens carry byte spans into the source so the
//! parser can recover exact source text (projection column names) and report
//! positions without storing line/column for every token.

use causeway_value::{Code, Error, Result};

#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Tok {
    /// An unquoted identifier or keyword; its text is the token's span.
    Ident,
    /// A backtick-quoted identifier, already unescaped.
    QuotedIdent(String),
    Str(String),
    /// The magnitude of an integer literal; `None` when it does not even fit
    /// in a u64, so negation can still accept `-9223372036854775808`.
    Int(Option<u64>),
    Float(f64),
    Param(String),
    /// `$` before `(`: a dynamic label or type, `:$(expr)`.
    Dollar,
    LParen,
    RParen,
    LBracket,
    RBracket,
    LBrace,
    RBrace,
    Comma,
    Dot,
    DotDot,
    Colon,
    Semicolon,
    Pipe,
    Amp,
    Bang,
    Star,
    Plus,
    PlusEq,
    Minus,
    Slash,
    Percent,
    Caret,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    RegexEq,
    Eof,
}

#[derive(Clone, Debug)]
pub(crate) struct Token {
    pub tok: Tok,
    pub start: usize,
    pub end: usize,
}

/// Line, column (both 1-based, in characters) and character offset of a byte
/// position, computed only when an error is reported.
pub(crate) fn position(src: &str, byte: usize) -> (usize, usize, usize) {
    let mut byte = byte.min(src.len());
    while !src.is_char_boundary(byte) {
        byte -= 1;
    }
    let before = &src[..byte];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = src[line_start..byte].chars().count() + 1;
    let offset = before.chars().count();
    (line, column, offset)
}

/// Builds a Neo4j-shaped syntax error: the message, the position, then the
/// offending line with a caret under the column.
pub(crate) fn syntax_error(
    src: &str,
    byte: usize,
    detail: &'static str,
    message: impl Into<String>,
) -> Error {
    let (line, column, offset) = position(src, byte);
    let text = src.lines().nth(line - 1).unwrap_or("");
    let msg = format!(
        "{} (line {}, column {} (offset: {}))\n\"{}\"\n{}^",
        message.into(),
        line,
        column,
        offset,
        text,
        " ".repeat(column)
    );
    Error::compile(Code::SyntaxError, detail, msg)
}

pub(crate) fn is_ident_start(c: char) -> bool {
    c == '_' || c.is_alphabetic()
}

pub(crate) fn is_ident_continue(c: char) -> bool {
    c == '_' || c.is_alphanumeric()
}

struct Lexer<'a> {
    src: &'a str,
    bytes: &'a [u8],
    pos: usize,
    out: Vec<Token>,
}

pub(crate) fn tokenize(src: &str) -> Result<Vec<Token>> {
    let mut lx = Lexer {
        src,
        bytes: src.as_bytes(),
        pos: 0,
        out: Vec::with_capacity(src.len() / 3 + 1),
    };
    lx.run()?;
    Ok(lx.out)
}

impl<'a> Lexer<'a> {
    fn peek_byte(&self, ahead: usize) -> u8 {
        self.bytes.get(self.pos + ahead).copied().unwrap_or(0)
    }

    fn cur_char(&self) -> Option<char> {
        self.src.get(self.pos..).and_then(|s| s.chars().next())
    }

    fn push(&mut self, tok: Tok, start: usize) {
        self.out.push(Token {
            tok,
            start,
            end: self.pos,
        });
    }

    fn err(&self, at: usize, detail: &'static str, msg: impl Into<String>) -> Error {
        syntax_error(self.src, at, detail, msg)
    }

    fn invalid_input(&self, at: usize) -> Error {
        let shown: String = self.src[at..].chars().take(1).collect();
        self.err(
            at,
            "UnexpectedSyntax",
            format!("Invalid input '{shown}': expected an expression"),
        )
    }

    fn run(&mut self) -> Result<()> {
        loop {
            self.skip_trivia()?;
            let start = self.pos;
            let Some(c) = self.cur_char() else {
                self.push(Tok::Eof, start);
                return Ok(());
            };
            if c.is_ascii_digit() || (c == '.' && self.peek_byte(1).is_ascii_digit()) {
                self.number()?;
                continue;
            }
            if is_ident_start(c) {
                self.pos += c.len_utf8();
                self.ident_tail();
                self.push(Tok::Ident, start);
                continue;
            }
            let single = |t: Tok| (t, 1usize);
            let (tok, len) = match c {
                '(' => single(Tok::LParen),
                ')' => single(Tok::RParen),
                '[' => single(Tok::LBracket),
                ']' => single(Tok::RBracket),
                '{' => single(Tok::LBrace),
                '}' => single(Tok::RBrace),
                ',' => single(Tok::Comma),
                ':' => single(Tok::Colon),
                ';' => single(Tok::Semicolon),
                '|' => single(Tok::Pipe),
                '&' => single(Tok::Amp),
                '!' if self.peek_byte(1) == b'=' => (Tok::Ne, 2),
                '!' => single(Tok::Bang),
                '*' => single(Tok::Star),
                '/' => single(Tok::Slash),
                '%' => single(Tok::Percent),
                '^' => single(Tok::Caret),
                '-' => single(Tok::Minus),
                '+' if self.peek_byte(1) == b'=' => (Tok::PlusEq, 2),
                '+' => single(Tok::Plus),
                '.' if self.peek_byte(1) == b'.' => (Tok::DotDot, 2),
                '.' => single(Tok::Dot),
                '=' if self.peek_byte(1) == b'~' => (Tok::RegexEq, 2),
                '=' => single(Tok::Eq),
                '<' if self.peek_byte(1) == b'>' => (Tok::Ne, 2),
                '<' if self.peek_byte(1) == b'=' => (Tok::Le, 2),
                '<' => single(Tok::Lt),
                '>' if self.peek_byte(1) == b'=' => (Tok::Ge, 2),
                '>' => single(Tok::Gt),
                '\'' | '"' => {
                    let s = self.string(c)?;
                    self.push(Tok::Str(s), start);
                    continue;
                }
                '`' => {
                    let s = self.quoted_ident()?;
                    self.push(Tok::QuotedIdent(s), start);
                    continue;
                }
                '$' if self.peek_byte(1) == b'(' => single(Tok::Dollar),
                '$' => {
                    self.pos += 1;
                    let name = self.param_name(start)?;
                    self.push(Tok::Param(name), start);
                    continue;
                }
                // Stray non-ASCII characters are usually typeset lookalikes
                // of operators or quotes (an em dash for a minus, curly
                // quotes) pasted from documents; Neo4j names them apart.
                _ if !c.is_ascii() => {
                    return Err(self.err(
                        start,
                        "InvalidUnicodeCharacter",
                        format!(
                            "Invalid input '{c}': unexpected unicode character U+{:04X}",
                            c as u32
                        ),
                    ));
                }
                _ => return Err(self.invalid_input(start)),
            };
            self.pos += len;
            self.push(tok, start);
        }
    }

    fn skip_trivia(&mut self) -> Result<()> {
        loop {
            let Some(c) = self.cur_char() else {
                return Ok(());
            };
            if c.is_whitespace() {
                self.pos += c.len_utf8();
            } else if c == '/' && self.peek_byte(1) == b'/' {
                match self.src[self.pos..].find('\n') {
                    Some(i) => self.pos += i + 1,
                    None => self.pos = self.src.len(),
                }
            } else if c == '/' && self.peek_byte(1) == b'*' {
                match self.src[self.pos + 2..].find("*/") {
                    Some(i) => self.pos += i + 4,
                    None => {
                        return Err(self.err(
                            self.pos,
                            "UnexpectedSyntax",
                            "Invalid input '/*': unterminated comment",
                        ))
                    }
                }
            } else {
                return Ok(());
            }
        }
    }

    fn ident_tail(&mut self) {
        while let Some(c) = self.cur_char() {
            if is_ident_continue(c) {
                self.pos += c.len_utf8();
            } else {
                break;
            }
        }
    }

    fn param_name(&mut self, start: usize) -> Result<String> {
        match self.cur_char() {
            Some('`') => self.quoted_ident(),
            Some(c) if is_ident_continue(c) => {
                let s = self.pos;
                self.ident_tail();
                Ok(self.src[s..self.pos].to_string())
            }
            _ => Err(self.err(
                start,
                "UnexpectedSyntax",
                "Invalid input '$': expected a parameter name",
            )),
        }
    }

    fn quoted_ident(&mut self) -> Result<String> {
        let start = self.pos;
        self.pos += 1;
        let mut out = String::new();
        loop {
            let rest = &self.src[self.pos..];
            match rest.find('`') {
                None => {
                    return Err(self.err(
                        start,
                        "UnexpectedSyntax",
                        "Invalid input '`': unterminated quoted identifier",
                    ))
                }
                Some(i) => {
                    out.push_str(&rest[..i]);
                    self.pos += i + 1;
                    // A doubled backtick is an escaped backtick.
                    if self.peek_byte(0) == b'`' {
                        out.push('`');
                        self.pos += 1;
                    } else {
                        return Ok(out);
                    }
                }
            }
        }
    }

    fn string(&mut self, quote: char) -> Result<String> {
        let start = self.pos;
        self.pos += 1;
        let mut out = String::new();
        loop {
            let Some(c) = self.cur_char() else {
                return Err(self.err(
                    start,
                    "UnexpectedSyntax",
                    format!(
                        "Invalid input '{quote}': failed to parse string literal. \
                         The query must contain an even number of non-escaped quotes."
                    ),
                ));
            };
            if c == quote {
                self.pos += 1;
                return Ok(out);
            }
            if c != '\\' {
                out.push(c);
                self.pos += c.len_utf8();
                continue;
            }
            let esc_at = self.pos;
            self.pos += 1;
            let Some(e) = self.cur_char() else {
                continue;
            };
            self.pos += e.len_utf8();
            match e {
                '\\' => out.push('\\'),
                '\'' => out.push('\''),
                '"' => out.push('"'),
                'n' | 'N' => out.push('\n'),
                't' | 'T' => out.push('\t'),
                'r' | 'R' => out.push('\r'),
                'b' | 'B' => out.push('\u{8}'),
                'f' | 'F' => out.push('\u{c}'),
                'u' | 'U' => {
                    let c = self.unicode_escape(esc_at)?;
                    out.push(c);
                }
                other => {
                    // Unknown escapes are kept verbatim rather than rejected,
                    // so regular expressions such as '\d+' work unchanged.
                    out.push('\\');
                    out.push(other);
                }
            }
        }
    }

    fn hex4(&self, at: usize) -> Option<u32> {
        let hex = self.src.get(at..at + 4)?;
        if !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        u32::from_str_radix(hex, 16).ok()
    }

    /// `\uXXXX` (the `\u` already consumed). A UTF-16 surrogate pair written
    /// as two escapes, as Java-based drivers produce, is combined.
    fn unicode_escape(&mut self, esc_at: usize) -> Result<char> {
        let bad = |lx: &Self| {
            let shown: String = lx.src[esc_at..].chars().take(6).collect();
            lx.err(
                esc_at,
                "InvalidUnicodeCharacter",
                format!("Invalid input '{shown}': invalid unicode escape sequence"),
            )
        };
        let Some(v) = self.hex4(self.pos) else {
            return Err(bad(self));
        };
        self.pos += 4;
        if (0xD800..0xDC00).contains(&v) {
            let rest = self.src.get(self.pos..self.pos + 2);
            if matches!(rest, Some("\\u") | Some("\\U")) {
                if let Some(lo) = self.hex4(self.pos + 2) {
                    if (0xDC00..0xE000).contains(&lo) {
                        self.pos += 6;
                        let cp = 0x10000 + ((v - 0xD800) << 10) + (lo - 0xDC00);
                        return char::from_u32(cp).ok_or_else(|| bad(self));
                    }
                }
            }
        }
        char::from_u32(v).ok_or_else(|| bad(self))
    }

    fn number(&mut self) -> Result<()> {
        let start = self.pos;
        let b0 = self.peek_byte(0);
        let b1 = self.peek_byte(1);
        if b0 == b'0' && (b1 == b'x' || b1 == b'X' || b1 == b'o' || b1 == b'O') {
            let radix = if b1 == b'x' || b1 == b'X' { 16 } else { 8 };
            self.pos += 2;
            let digits_start = self.pos;
            while self.peek_byte(0).is_ascii_alphanumeric() || self.peek_byte(0) == b'_' {
                self.pos += 1;
            }
            self.ident_tail();
            let digits: String = self.src[digits_start..self.pos]
                .chars()
                .filter(|&c| c != '_')
                .collect();
            if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
                return Err(self.bad_number(start));
            }
            let v = u64::from_str_radix(&digits, radix).ok();
            self.push(Tok::Int(v), start);
            return Ok(());
        }
        self.digits();
        let mut float = false;
        if self.peek_byte(0) == b'.' && self.peek_byte(1).is_ascii_digit() {
            float = true;
            self.pos += 1;
            self.digits();
        }
        if matches!(self.peek_byte(0), b'e' | b'E') {
            let save = self.pos;
            self.pos += 1;
            if matches!(self.peek_byte(0), b'+' | b'-') {
                self.pos += 1;
            }
            if !self.peek_byte(0).is_ascii_digit() {
                self.pos = save;
                self.ident_tail();
                return Err(self.bad_number(start));
            }
            self.digits();
            float = true;
        }
        if self.cur_char().is_some_and(is_ident_continue) {
            self.ident_tail();
            return Err(self.bad_number(start));
        }
        let text: String = self.src[start..self.pos]
            .chars()
            .filter(|&c| c != '_')
            .collect();
        if float {
            let v: f64 = text.parse().map_err(|_| self.bad_number(start))?;
            if !v.is_finite() {
                return Err(self.err(
                    start,
                    "FloatingPointOverflow",
                    format!(
                        "Invalid input '{}': floating point number is too large",
                        &self.src[start..self.pos]
                    ),
                ));
            }
            self.push(Tok::Float(v), start);
        } else {
            // A leading zero once meant octal; Neo4j 5 refuses the old form
            // rather than guess, and so do we.
            if text.len() > 1 && text.starts_with('0') {
                let digits = &self.src[start..self.pos];
                return Err(self.err(
                    start,
                    "InvalidNumberLiteral",
                    format!(
                        "The octal integer literal syntax `{digits}` is no longer supported, \
                         please use `0o{}` instead",
                        digits.trim_start_matches('0')
                    ),
                ));
            }
            self.push(Tok::Int(text.parse::<u64>().ok()), start);
        }
        Ok(())
    }

    fn digits(&mut self) {
        while self.peek_byte(0).is_ascii_digit()
            || (self.peek_byte(0) == b'_' && self.peek_byte(1).is_ascii_digit())
        {
            self.pos += 1;
        }
    }

    fn bad_number(&self, start: usize) -> Error {
        let text = &self.src[start..self.pos.max(start)];
        self.err(
            start,
            "InvalidNumberLiteral",
            format!("Invalid input '{text}': invalid number literal"),
        )
    }
}
