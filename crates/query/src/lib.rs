//! The quire search query language (issue 4): parsed once into a [`Query`] AST.
//! Pure: no I/O. The lexer walks `char_indices`, so no slicing ever lands off a char boundary.
//!
//! Every query is bounded here, whoever reads it (web pages, both APIs, the public-inbox
//! search, the CLI): at most [`MAX_QUERY_LEN`] bytes, [`MAX_TERMS`] terms and [`MAX_DEPTH`]
//! levels of nesting. The parser recurses once per level, and so does every walk over the AST
//! after it (the store's SQL, the public-inbox matcher, dropping it): a query nested 3,000
//! deep overflowed a server thread's stack and aborted the process (issue 24).

use std::fmt;

/// Longest query read, in bytes: b4's longest (one `patchid:` per patch of a big series) is a
/// few KB.
pub const MAX_QUERY_LEN: usize = 64 * 1024;
/// Deepest nesting read: each `(` and each negation (`-`, `NOT`) is a level, as each is one
/// recursion of the parser. Nobody types more than a few; 32 keeps the parser's recursion, and
/// every walk over the AST, shallow whatever the thread's stack.
pub const MAX_DEPTH: usize = 32;
/// Most terms in one query: b4 asks for the patches of a series with one `patchid:` per patch,
/// ORed. The series search reads fewer (its own limit: each term is a subquery there).
pub const MAX_TERMS: usize = 500;

/// A parsed query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Query {
    Term(Term),
    Not(Box<Query>),
    And(Vec<Query>),
    Or(Vec<Query>),
}

impl Query {
    /// How many terms the query holds (a negated term counts once).
    pub fn terms(&self) -> usize {
        match self {
            Query::Term(_) => 1,
            Query::Not(inner) => inner.terms(),
            Query::And(parts) | Query::Or(parts) => parts.iter().map(Query::terms).sum(),
        }
    }
}

/// One search term.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Term {
    /// Free word or "quoted phrase" over subject and body.
    Text {
        value: String,
        phrase: bool,
    },
    /// `field:value` (from, to, cc, subject, id, project, file, body...).
    Field {
        field: Field,
        value: String,
    },
    Version(u32),
    /// `age:<2w` = younger than; `age:>3d` = older than. Seconds.
    Age {
        younger: bool,
        seconds: i64,
    },
    /// `after:`/`before:`/`d:A..B`: dates as `YYYY-MM-DD` or `YYYYMMDD`, kept as days since epoch.
    Date {
        after: Option<i64>,
        before: Option<i64>,
    },
    Is(String),
    Has(String),
    State(String),
    Check {
        name: String,
        result: String,
    },
    /// A trailer given in a message (`reviewed-by:bob`, `fixes:abc123`, `change-id:X`): any
    /// `Tag-Name:` prefix ([`is_trailer_tag`]), the tag lowercased.
    Trailer {
        tag: String,
        value: String,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    From,
    To,
    Cc,
    Subject,
    Body,
    SubjectOrBody,
    NonQuoted,
    Quoted,
    MessageId,
    Project,
    File,
    /// `dfa:`: the diff's removed (`-`, a-side) lines.
    DiffRemoved,
    /// `dfb:`: the diff's added (`+`, b-side) lines.
    DiffAdded,
    /// `dfctx:`: the diff's context lines.
    DiffContext,
    /// `dfhh:`: the text after a hunk header's `@@ ... @@` (the function name).
    DiffHunkHeader,
    /// `dfpre:`/`dfpost:`: the blob ids of an `index PRE..POST` line.
    DiffPreImage,
    DiffPostImage,
    PatchId,
    Recipients,
    /// `a:`: From, To or Cc.
    Addresses,
    /// `tc:`: To or Cc.
    ToOrCc,
    /// `l:`: the List-Id.
    ListId,
    /// A series awaiting this person's approval (their name or address, or part of it).
    Awaiting,
}

/// Error with byte position, 1-based column (in chars) and what was expected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    pub pos: usize,
    pub column: usize,
    pub message: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.message)
    }
}
impl std::error::Error for ParseError {}

const PREFIXES: &[&str] = &[
    "from",
    "to",
    "cc",
    "subject",
    "id",
    "project",
    "version",
    "file",
    "dfn",
    "age",
    "after",
    "before",
    "is",
    "has",
    "state",
    "check",
    "reviewed-by",
    "acked-by",
    "tested-by",
    "awaiting",
    "a",
    "tc",
    "l",
    "dfctx",
    "dfhh",
    "dfpre",
    "dfpost",
    "s",
    "f",
    "t",
    "c",
    "b",
    "bs",
    "nq",
    "q",
    "dfa",
    "dfb",
    "patchid",
    "m",
    "d",
    "rt",
];
/// Trailer tags of one word (no `-`) read as prefixes; every tag with a `-` is one
/// (`release-acked-by:`, `change-id:`), unless it is a known prefix or one edit from one.
const ONE_WORD_TRAILERS: &[&str] = &["fixes", "link", "closes", "cc", "bug", "reference"];

/// Whether `tag` (lowercase) names a trailer: `Word-Word:` (letters, digits, inner `-`) or
/// one of the one-word tags (`fixes`, `link`, `closes`...). The store indexes the lines
/// whose tag passes this, and the parser reads such a prefix as a [`Term::Trailer`].
pub fn is_trailer_tag(tag: &str) -> bool {
    let ok_chars = !tag.is_empty()
        && tag.len() <= 40
        && tag.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        && tag.as_bytes()[0].is_ascii_alphabetic()
        && !tag.ends_with('-')
        && !tag.contains("--");
    ok_chars && (tag.contains('-') || ONE_WORD_TRAILERS.contains(&tag))
}

const IS_VALUES: &[&str] = &[
    "complete",
    "incomplete",
    "reviewed",
    "obsolete",
    "applied",
    "failed",
    "merged",
    "pull",
    "rfc",
    "approved",
];
const HAS_VALUES: &[&str] = &["replies", "trailers"];
/// What `state:` takes (the series search's states).
pub const STATE_VALUES: &[&str] =
    &["new", "pending", "incomplete", "obsolete", "applied", "failed", "merged"];

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    LParen,
    RParen,
    Or,
    And,
    Not,
    Minus,
    Word { prefix: Option<String>, value: String, quoted: bool, pos: usize, vpos: usize },
}

fn column(q: &str, pos: usize) -> usize {
    q.char_indices().take_while(|(i, _)| *i < pos).count() + 1
}

fn err(q: &str, pos: usize, what: impl FnOnce(usize) -> String) -> ParseError {
    let column = column(q, pos);
    ParseError { pos, column, message: what(column) }
}

fn lex(q: &str) -> Result<Vec<(usize, Tok)>, ParseError> {
    let chars: Vec<(usize, char)> = q.char_indices().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let (pos, c) = chars[i];
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        match c {
            '(' => {
                out.push((pos, Tok::LParen));
                i += 1;
                continue;
            }
            ')' => {
                out.push((pos, Tok::RParen));
                i += 1;
                continue;
            }
            '-' => {
                out.push((pos, Tok::Minus));
                i += 1;
                continue;
            }
            _ => {}
        }
        // a word: optional `prefix:` then a bare or quoted value
        let mut word = String::new();
        let mut prefix = None;
        let mut vpos = pos;
        let mut quoted = false;
        while i < chars.len() {
            let (p, ch) = chars[i];
            if ch == '"' {
                quoted = true;
                if word.is_empty() {
                    vpos = p;
                }
                i += 1;
                let mut closed = false;
                while i < chars.len() {
                    let (_, ch) = chars[i];
                    i += 1;
                    if ch == '"' {
                        closed = true;
                        break;
                    }
                    word.push(ch);
                }
                if !closed {
                    return Err(err(q, p, |c| {
                        format!("unclosed quote at column {c}: expected a closing `\"`")
                    }));
                }
                continue;
            }
            if ch.is_whitespace() || ch == '(' || ch == ')' {
                break;
            }
            if ch == ':'
                && prefix.is_none()
                && !quoted
                && !word.is_empty()
                && word.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            {
                prefix = Some(std::mem::take(&mut word));
                i += 1;
                vpos = chars.get(i).map_or(q.len(), |x| x.0);
                continue;
            }
            word.push(ch);
            i += 1;
        }
        let tok = match (prefix.is_none() && !quoted, word.as_str()) {
            (true, "OR") => Tok::Or,
            (true, "AND") => Tok::And,
            (true, "NOT") => Tok::Not,
            _ => Tok::Word { prefix, value: word, quoted, pos, vpos },
        };
        out.push((pos, tok));
    }
    Ok(out)
}

struct Parser<'a> {
    q: &'a str,
    toks: Vec<(usize, Tok)>,
    i: usize,
    /// Levels entered (`(` and negations) around the token being read.
    depth: usize,
}

/// Parse a query. Empty input is an error (nothing to search for), and so is a query past
/// [`MAX_QUERY_LEN`], [`MAX_TERMS`] or [`MAX_DEPTH`], with the column where it passes the limit.
pub fn parse(q: &str) -> Result<Query, ParseError> {
    if q.len() > MAX_QUERY_LEN {
        return Err(err(q, q.floor_char_boundary(MAX_QUERY_LEN), |c| {
            format!(
                "the query is {} bytes long; at most {MAX_QUERY_LEN} are read (it runs past them at column {c})",
                q.len()
            )
        }));
    }
    let toks = lex(q)?;
    let words = || toks.iter().filter(|(_, t)| matches!(t, Tok::Word { .. }));
    if let Some((pos, _)) = words().nth(MAX_TERMS) {
        let terms = words().count();
        return Err(err(q, *pos, |c| {
            format!(
                "the query has {terms} terms; at most {MAX_TERMS} are read (term {} is at column {c})",
                MAX_TERMS + 1
            )
        }));
    }
    let mut p = Parser { q, toks, i: 0, depth: 0 };
    if p.toks.is_empty() {
        return Err(err(q, 0, |_| "empty query: expected a search term at column 1".into()));
    }
    let query = p.or()?;
    match p.toks.get(p.i) {
        None => Ok(query),
        Some((pos, Tok::RParen)) => Err(err(q, *pos, |c| {
            format!("unbalanced parenthesis: `)` at column {c} has no matching `(`")
        })),
        Some((pos, _)) => Err(err(q, *pos, |c| format!("unexpected token at column {c}"))),
    }
}

/// How deep `toks` nest as the parser reads them: a `(` is a level until its `)`, and so is
/// each negation before it; a negation before a term is a level for that term alone. Only for
/// the message of a query nested too deep, which names how deep it goes.
fn nesting(toks: &[(usize, Tok)]) -> usize {
    // The levels each open `(` added: itself and the negations just before it.
    let mut open: Vec<usize> = Vec::new();
    let (mut depth, mut negations, mut deepest) = (0usize, 0usize, 0usize);
    for (_, t) in toks {
        match t {
            Tok::Minus | Tok::Not => negations += 1,
            Tok::LParen => {
                open.push(negations + 1);
                depth += negations + 1;
                negations = 0;
            }
            Tok::RParen => {
                depth -= open.pop().unwrap_or(0);
                negations = 0;
            }
            _ => negations = 0,
        }
        deepest = deepest.max(depth + negations);
    }
    deepest
}

impl Parser<'_> {
    fn or(&mut self) -> Result<Query, ParseError> {
        let mut parts = vec![self.and()?];
        while matches!(self.toks.get(self.i), Some((_, Tok::Or))) {
            let pos = self.toks[self.i].0;
            self.i += 1;
            if self.at_end_of_group() {
                return Err(err(self.q, pos, |c| {
                    format!("expected a term after `OR` at column {c}")
                }));
            }
            parts.push(self.and()?);
        }
        Ok(if parts.len() == 1 { parts.remove(0) } else { Query::Or(parts) })
    }
    fn at_end_of_group(&self) -> bool {
        matches!(self.toks.get(self.i), None | Some((_, Tok::RParen)))
    }
    fn and(&mut self) -> Result<Query, ParseError> {
        let mut parts = vec![self.unary()?];
        loop {
            match self.toks.get(self.i) {
                None | Some((_, Tok::RParen)) | Some((_, Tok::Or)) => break,
                Some((pos, Tok::And)) => {
                    let pos = *pos;
                    self.i += 1;
                    if self.at_end_of_group() {
                        return Err(err(self.q, pos, |c| {
                            format!("expected a term after `AND` at column {c}")
                        }));
                    }
                }
                _ => {}
            }
            parts.push(self.unary()?);
        }
        Ok(if parts.len() == 1 { parts.remove(0) } else { Query::And(parts) })
    }
    /// One level deeper, for the `(` or negation at `pos`: refused past [`MAX_DEPTH`] before
    /// the parser recurses, so no input can run it out of stack.
    fn enter(&mut self, pos: usize) -> Result<(), ParseError> {
        if self.depth == MAX_DEPTH {
            let deepest = nesting(&self.toks);
            return Err(err(self.q, pos, |c| {
                format!(
                    "the query nests {deepest} deep at column {c}; at most {MAX_DEPTH} levels of parentheses and negations (`-`, `NOT`) are read"
                )
            }));
        }
        self.depth += 1;
        Ok(())
    }
    fn unary(&mut self) -> Result<Query, ParseError> {
        let Some((pos, tok)) = self.toks.get(self.i).cloned() else {
            return Err(err(self.q, self.q.len(), |c| {
                format!("expected a search term at column {c}")
            }));
        };
        self.i += 1;
        match tok {
            Tok::Minus | Tok::Not => {
                if self.at_end_of_group() {
                    return Err(err(self.q, pos, |c| {
                        format!("expected a term to negate at column {c}")
                    }));
                }
                self.enter(pos)?;
                let inner = self.unary()?;
                self.depth -= 1;
                Ok(Query::Not(Box::new(inner)))
            }
            Tok::LParen => {
                self.enter(pos)?;
                let inner = self.or()?;
                self.depth -= 1;
                match self.toks.get(self.i) {
                    Some((_, Tok::RParen)) => {
                        self.i += 1;
                        Ok(inner)
                    }
                    _ => Err(err(self.q, pos, |c| {
                        format!("unbalanced parenthesis: `(` at column {c} is never closed")
                    })),
                }
            }
            Tok::RParen => Err(err(self.q, pos, |c| {
                format!("unbalanced parenthesis: expected a term before `)` at column {c}")
            })),
            Tok::Or | Tok::And => Err(err(self.q, pos, |c| {
                format!("expected a term before the operator at column {c}")
            })),
            Tok::Word { prefix, value, quoted, pos, vpos } => {
                term(self.q, prefix, value, quoted, pos, vpos).map(Query::Term)
            }
        }
    }
}

fn suggest(prefix: &str) -> Option<&'static str> {
    PREFIXES
        .iter()
        .copied()
        .filter(|p| p.len() > 2)
        .min_by_key(|p| edit_distance(prefix, p))
        .filter(|p| edit_distance(prefix, p) <= 2)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for j in 0..b.len() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != b[j])).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

fn term(
    q: &str,
    prefix: Option<String>,
    value: String,
    quoted: bool,
    pos: usize,
    vpos: usize,
) -> Result<Term, ParseError> {
    let Some(prefix) = prefix else { return Ok(Term::Text { value, phrase: quoted }) };
    let p = prefix.to_ascii_lowercase();
    let trailer = !PREFIXES.contains(&p.as_str())
        && is_trailer_tag(&p)
        && suggest(&p).is_none_or(|s| edit_distance(&p, s) > 1);
    if !PREFIXES.contains(&p.as_str()) && !trailer {
        return Err(err(q, pos, |c| match suggest(&p) {
            Some(s) => format!("unknown prefix `{prefix}:` at column {c}; did you mean `{s}:`?"),
            None => format!("unknown prefix `{prefix}:` at column {c}"),
        }));
    }
    if value.is_empty() {
        return Err(err(q, vpos, |c| format!("expected a value after `{prefix}:` at column {c}")));
    }
    let field = |f| Ok(Term::Field { field: f, value: value.clone() });
    if trailer {
        return Ok(Term::Trailer { tag: p, value });
    }
    match p.as_str() {
        "from" | "f" => field(Field::From),
        "to" | "t" => field(Field::To),
        "cc" | "c" => field(Field::Cc),
        "rt" => field(Field::Recipients),
        "subject" | "s" => field(Field::Subject),
        "b" => field(Field::Body),
        "bs" => field(Field::SubjectOrBody),
        "nq" => field(Field::NonQuoted),
        "q" => field(Field::Quoted),
        "id" | "m" => field(Field::MessageId),
        "project" => field(Field::Project),
        "file" | "dfn" => field(Field::File),
        "dfa" => field(Field::DiffRemoved),
        "dfb" => field(Field::DiffAdded),
        "dfctx" => field(Field::DiffContext),
        "dfhh" => field(Field::DiffHunkHeader),
        "dfpre" => field(Field::DiffPreImage),
        "dfpost" => field(Field::DiffPostImage),
        "a" => field(Field::Addresses),
        "tc" => field(Field::ToOrCc),
        "l" => field(Field::ListId),
        "patchid" => field(Field::PatchId),
        "reviewed-by" | "acked-by" | "tested-by" => Ok(Term::Trailer { tag: p, value }),
        "awaiting" => field(Field::Awaiting),
        "state" => keyword(q, vpos, &p, value, STATE_VALUES).map(Term::State),
        "version" => {
            value.trim_start_matches(['v', 'V']).parse().map(Term::Version).map_err(|_| {
                err(q, vpos, |c| format!("`version:` takes a number like `2` at column {c}"))
            })
        }
        "age" => age(&value).ok_or_else(|| {
            err(q, vpos, |c| format!("`age:` takes a duration like `<2w` at column {c}"))
        }),
        "after" | "before" => {
            let d = date(&value).ok_or_else(|| {
                err(q, vpos, |c| format!("`{p}:` takes a date like `2024-01-31` at column {c}"))
            })?;
            Ok(if p == "after" {
                Term::Date { after: Some(d), before: None }
            } else {
                Term::Date { after: None, before: Some(d) }
            })
        }
        "d" => date_range(&value).ok_or_else(|| {
            err(q, vpos, |c| {
                format!("`d:` takes a date range like `20240101..20240201` at column {c}")
            })
        }),
        "is" => keyword(q, vpos, &p, value, IS_VALUES).map(Term::Is),
        "has" => keyword(q, vpos, &p, value, HAS_VALUES).map(Term::Has),
        "check" => match value.split_once('=') {
            Some((n, r)) if !n.is_empty() && ["pass", "fail", "warning", "error"].contains(&r) => {
                Ok(Term::Check { name: n.to_string(), result: r.to_string() })
            }
            _ => Err(err(q, vpos, |c| {
                format!("`check:` takes `NAME=pass|fail|warning|error` at column {c}")
            })),
        },
        _ => Err(err(q, pos, |c| format!("unknown prefix `{prefix}:` at column {c}"))),
    }
}

fn keyword(
    q: &str,
    vpos: usize,
    p: &str,
    value: String,
    allowed: &[&str],
) -> Result<String, ParseError> {
    let v = value.to_ascii_lowercase();
    if allowed.contains(&v.as_str()) {
        return Ok(v);
    }
    Err(err(q, vpos, |c| {
        format!("unknown `{p}:{value}` at column {c}: expected one of {}", allowed.join(", "))
    }))
}

fn age(v: &str) -> Option<Term> {
    let (younger, rest) = match v.chars().next()? {
        '<' => (true, &v[1..]),
        '>' => (false, &v[1..]),
        _ => return None,
    };
    let unit = rest.chars().last()?;
    let n: i64 = rest[..rest.len() - unit.len_utf8()].parse().ok()?;
    let mult = match unit {
        'h' => 3600,
        'd' => 86_400,
        'w' => 7 * 86_400,
        'm' => 30 * 86_400,
        'y' => 365 * 86_400,
        _ => return None,
    };
    Some(Term::Age { younger, seconds: n.checked_mul(mult)? })
}

/// Days since 1970-01-01 of `YYYY-MM-DD` or `YYYYMMDD`.
fn date(v: &str) -> Option<i64> {
    let digits: String = v.chars().filter(|c| *c != '-').collect();
    if digits.len() != 8 || !digits.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let y: i64 = digits[0..4].parse().ok()?;
    let m: i64 = digits[4..6].parse().ok()?;
    let d: i64 = digits[6..8].parse().ok()?;
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    // days_from_civil (Howard Hinnant)
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    Some(era * 146_097 + doe - 719_468)
}

fn date_range(v: &str) -> Option<Term> {
    let (a, b) = match v.split_once("..") {
        Some(x) => x,
        None => (v, v),
    };
    let after = if a.is_empty() { None } else { Some(date(a)?) };
    let before =
        if b.is_empty() { None } else { Some(date(b)? + if v.contains("..") { 0 } else { 1 }) };
    if after.is_none() && before.is_none() {
        return None;
    }
    Some(Term::Date { after, before })
}

#[cfg(test)]
mod tests;
