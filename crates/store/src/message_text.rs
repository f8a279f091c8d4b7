//! The words of one message as the public-inbox search indexes them (issue 26, migration
//! 0050): each word filed under the part of the message it stands in, public-inbox's
//! prefixes (`s:` subject, `nq:` unquoted text, `dfb:` added diff lines...). Pure: the store
//! writes a [`Document`] per message into SQLite's FTS5 table `message_text` (one column per
//! part) or PostgreSQL's `message_text.tsv` (lexemes `part:word`), and compiles a query's
//! terms into lookups of the same words ([`Match`]).
//!
//! Words are runs of letters and digits, lower case (`io_uring` is the phrase `io uring`,
//! `linus.walleij@linaro.org` the phrase `linus walleij linaro org`), as the series search
//! reads text. Words longer than [`MAX_WORD`] bytes (base64, hashes of attachments) are not
//! indexed.

use quire_mail::ParsedMessage;

/// The parts, in the column order of SQLite's `message_text`.
pub(crate) const PARTS: [&str; 14] =
    ["s", "f", "t", "c", "l", "nq", "q", "dfa", "dfb", "dfctx", "dfhh", "dfn", "dfpre", "dfpost"];

/// Longest word indexed, in bytes.
pub(crate) const MAX_WORD: usize = 64;
/// Longest trailer value kept, in bytes.
const MAX_TRAILER_VALUE: usize = 500;
/// PostgreSQL keeps positions up to 16383 and at most 255 per lexeme; a tsvector is at most
/// 1 MB. Past these a word is still indexed (found by a word query), without its position.
const PG_MAX_POS: u32 = 16_383;
const PG_MAX_POSITIONS: usize = 255;
const PG_MAX_BYTES: usize = 900_000;

/// Where public-inbox's prefixes look (a plain word: subject, text and diff).
pub(crate) const TEXT: &[&str] = &["s", "nq", "q", "dfa", "dfb", "dfctx", "dfhh"];
pub(crate) const BODY: &[&str] = &["nq", "q", "dfa", "dfb", "dfctx", "dfhh"];
pub(crate) const SUBJECT_OR_BODY: &[&str] = TEXT;

/// One message's words by part (each part's words joined by one space) and its trailers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Document {
    pub(crate) parts: [String; PARTS.len()],
    /// The unquoted words below an inline diff (`ParsedMessage::tail`: b4's `change-id:`, the
    /// signature, list footers). Public-inbox's `nq:` holds them: SQLite's `nq` column gets
    /// them appended ([`Document::nq_with_tail`]); PostgreSQL files them as `tl:word`, which
    /// an `nq` lookup also asks for, so that the series search, which reads the body of a
    /// series' own messages there as SQLite reads it in `series_fts` (`messages.body`, without
    /// what follows the diff), can leave them out ([`Match::without_tail`]).
    pub(crate) tail: String,
    /// (tag, value), lowercased, without repeats.
    pub(crate) trailers: Vec<(String, String)>,
}

/// The words of `text`, lower case, in order.
pub(crate) fn words(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty() && w.len() <= MAX_WORD)
        // ASCII (nearly every word of mail and diffs) lowercased bytewise: collecting chars
        // one by one was 3% of an import's CPU (perf).
        .map(|w| {
            if w.is_ascii() {
                w.to_ascii_lowercase()
            } else {
                w.chars().flat_map(char::to_lowercase).collect()
            }
        })
}

fn push_words(out: &mut String, text: &str) {
    for w in words(text) {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(&w);
    }
}

fn part(name: &str) -> usize {
    PARTS.iter().position(|p| *p == name).unwrap_or(0)
}

/// A line quoted in a reply: `>` after optional spaces.
pub(crate) fn is_quoted(line: &str) -> bool {
    line.trim_start().starts_with('>')
}

/// `Tag: value` with a trailer's tag, lowercased.
fn trailer_of(line: &str) -> Option<(String, String)> {
    let (tag, value) = line.split_once(':')?;
    let tag = tag.to_ascii_lowercase();
    let value = value.trim();
    if value.is_empty() || !quire_query::is_trailer_tag(&tag) {
        return None;
    }
    let value = value.to_lowercase();
    let cut = value.floor_char_boundary(MAX_TRAILER_VALUE);
    Some((tag, value[..cut].to_string()))
}

/// The words and trailers of `p` (as sanitized for storing).
pub(crate) fn document(p: &ParsedMessage) -> Document {
    let mut d = Document::default();
    push_words(&mut d.parts[part("s")], &p.subject);
    push_words(&mut d.parts[part("f")], &p.from.name);
    push_words(&mut d.parts[part("f")], &p.from.email);
    for (name, list) in [("t", &p.to), ("c", &p.cc)] {
        for a in list {
            push_words(&mut d.parts[part(name)], &a.name);
            push_words(&mut d.parts[part(name)], &a.email);
        }
    }
    if let Some(l) = &p.list_id {
        push_words(&mut d.parts[part("l")], l);
    }
    for (line, below_diff) in
        p.body.lines().map(|l| (l, false)).chain(p.tail.lines().map(|l| (l, true)))
    {
        if is_quoted(line) {
            push_words(&mut d.parts[part("q")], line);
        } else {
            push_words(if below_diff { &mut d.tail } else { &mut d.parts[part("nq")] }, line);
            if let Some(t) = trailer_of(line) {
                d.trailers.push(t);
            }
        }
    }
    if let Some(diff) = &p.diff {
        for f in &diff.files {
            push_words(&mut d.parts[part("dfn")], &f.path);
            if let Some(old) = &f.old_path {
                push_words(&mut d.parts[part("dfn")], old);
            }
        }
        for line in diff.text.lines() {
            diff_line(&mut d, line);
        }
    }
    d.trailers.sort_unstable();
    d.trailers.dedup();
    d
}

impl Document {
    /// SQLite's `nq` column: the unquoted text above and below the diff.
    pub(crate) fn nq_with_tail(&self) -> std::borrow::Cow<'_, str> {
        let nq = &self.parts[part("nq")];
        match (nq.is_empty(), self.tail.is_empty()) {
            (_, true) => nq.as_str().into(),
            (true, false) => self.tail.as_str().into(),
            (false, false) => format!("{nq} {}", self.tail).into(),
        }
    }
}

/// PostgreSQL's part of [`Document::tail`].
const TAIL: &str = "tl";

/// Files one line of a diff under its part.
fn diff_line(d: &mut Document, line: &str) {
    const HEADERS: &[&str] = &[
        "diff ",
        "--- ",
        "+++ ",
        "new file mode",
        "deleted file mode",
        "old mode",
        "new mode",
        "similarity index",
        "dissimilarity index",
        "rename from",
        "rename to",
        "copy from",
        "copy to",
        "Binary files",
        "GIT binary patch",
    ];
    if let Some(rest) = line.strip_prefix("@@") {
        // `@@ -1,3 +1,4 @@ static int foo(void)`: the function name after the second `@@`.
        if let Some((_, hh)) = rest.split_once("@@") {
            push_words(&mut d.parts[part("dfhh")], hh);
        }
        return;
    }
    if let Some(ids) = line.strip_prefix("index ") {
        let ids = ids.split_whitespace().next().unwrap_or_default();
        if let Some((pre, post)) = ids.split_once("..") {
            push_words(&mut d.parts[part("dfpre")], pre);
            push_words(&mut d.parts[part("dfpost")], post);
        }
        return;
    }
    if HEADERS.iter().any(|h| line.starts_with(h)) {
        return;
    }
    let (name, rest) = match line.as_bytes().first() {
        Some(b'+') => ("dfb", &line[1..]),
        Some(b'-') => ("dfa", &line[1..]),
        Some(b' ') => ("dfctx", &line[1..]),
        _ => return,
    };
    push_words(&mut d.parts[part(name)], rest);
}

/// The lexemes of `d` as PostgreSQL's tsvector holds them (`part:word`) with their positions,
/// in the order they first occur, within PostgreSQL's limits.
fn lexemes(d: &Document) -> Vec<(String, Vec<u32>)> {
    let mut index: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    let mut out: Vec<(String, Vec<u32>)> = Vec::new();
    let mut bytes = 0usize;
    for (name, text) in PARTS.iter().zip(&d.parts).chain([(&TAIL, &d.tail)]) {
        for (i, w) in text.split(' ').filter(|w| !w.is_empty()).enumerate() {
            let pos = u32::try_from(i + 1).unwrap_or(u32::MAX);
            let key = format!("{name}:{w}");
            match index.get(&key) {
                Some(&at) => {
                    let list = &mut out[at].1;
                    if pos <= PG_MAX_POS && list.len() < PG_MAX_POSITIONS {
                        list.push(pos);
                        bytes += 6;
                    }
                }
                None => {
                    if bytes + key.len() + 8 > PG_MAX_BYTES {
                        continue;
                    }
                    bytes += key.len() + 8;
                    index.insert(key.clone(), out.len());
                    out.push((key, if pos <= PG_MAX_POS { vec![pos] } else { vec![] }));
                }
            }
        }
    }
    out
}

/// PostgreSQL's tsvector of `d` in its text form: `'part:word':1,5 ...` (words are letters
/// and digits only, so nothing needs quoting inside the quotes). What [`tsvector_binary`]
/// sends, readable (tests).
#[cfg(test)]
pub(crate) fn tsvector(d: &Document) -> String {
    let mut out = String::new();
    for (key, list) in lexemes(d) {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push('\'');
        out.push_str(&key);
        out.push('\'');
        for (i, p) in list.iter().enumerate() {
            out.push(if i == 0 { ':' } else { ',' });
            out.push_str(&p.to_string());
        }
    }
    out
}

/// A tsvector sent to PostgreSQL in its binary form (`tsvectorsend`'s): the server stores it
/// without parsing text. Parsing the text form (`CAST($1 AS tsvector)`) was 5-6 s of the
/// whole io-uring archive's import (insert of the same rows: 8.8 s from text, 3.4 s as is).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PgTsVector(Vec<u8>);

/// [`PgTsVector`] of `d`: the entry count (int32), then per lexeme, in byte order (the
/// server's own order, so it need not sort), the lexeme and a NUL, its position count (uint16)
/// and positions (uint16, weight bits 0), all big-endian.
pub(crate) fn tsvector_binary(d: &Document) -> PgTsVector {
    let mut lexemes = lexemes(d);
    lexemes.sort_unstable_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    let size: usize = lexemes.iter().map(|(k, p)| k.len() + 3 + 2 * p.len()).sum();
    let mut out = Vec::with_capacity(4 + size);
    out.extend_from_slice(&u32::try_from(lexemes.len()).unwrap_or(u32::MAX).to_be_bytes());
    for (key, positions) in &lexemes {
        out.extend_from_slice(key.as_bytes());
        out.push(0);
        out.extend_from_slice(&u16::try_from(positions.len()).unwrap_or(u16::MAX).to_be_bytes());
        for p in positions {
            // Positions are at most PG_MAX_POS (14 bits): the weight bits above stay 0 (D).
            out.extend_from_slice(&u16::try_from(*p).unwrap_or(0).to_be_bytes());
        }
    }
    PgTsVector(out)
}

impl sqlx::Type<sqlx::Postgres> for PgTsVector {
    fn type_info() -> sqlx::postgres::PgTypeInfo {
        sqlx::postgres::PgTypeInfo::with_name("tsvector")
    }
}

// Bound only on PostgreSQL; the SQL of `sql/` is compiled for SQLite too, where it would be a
// blob.
impl sqlx::Type<sqlx::Sqlite> for PgTsVector {
    fn type_info() -> sqlx::sqlite::SqliteTypeInfo {
        <Vec<u8> as sqlx::Type<sqlx::Sqlite>>::type_info()
    }
}

impl<'q> sqlx::Encode<'q, sqlx::Sqlite> for PgTsVector {
    fn encode_by_ref(
        &self,
        buf: &mut <sqlx::Sqlite as sqlx::Database>::ArgumentBuffer<'q>,
    ) -> Result<sqlx::encode::IsNull, sqlx::error::BoxDynError> {
        <Vec<u8> as sqlx::Encode<'q, sqlx::Sqlite>>::encode_by_ref(&self.0, buf)
    }
}

impl sqlx::Encode<'_, sqlx::Postgres> for PgTsVector {
    fn encode_by_ref(
        &self,
        buf: &mut sqlx::postgres::PgArgumentBuffer,
    ) -> Result<sqlx::encode::IsNull, sqlx::error::BoxDynError> {
        buf.extend_from_slice(&self.0);
        Ok(sqlx::encode::IsNull::No)
    }
}

/// What one term of a query asks of the index: these words in a row (a phrase; one word is
/// a phrase of one), the last one as a prefix when the value ended in `*`, in any of `parts`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Match {
    pub(crate) parts: &'static [&'static str],
    pub(crate) words: Vec<String>,
    pub(crate) prefix: bool,
    /// Whether `nq` also asks for the text below the diff ([`Document::tail`]).
    pub(crate) tail: bool,
}

impl Match {
    /// `None` when the value holds no word (it matches nothing).
    pub(crate) fn new(parts: &'static [&'static str], value: &str) -> Option<Match> {
        let value = value.trim();
        let prefix = value.ends_with('*');
        let words: Vec<String> = words(value).collect();
        (!words.is_empty()).then_some(Match { parts, words, prefix, tail: true })
    }

    /// `nq` without the text below the diff (PostgreSQL; SQLite's `nq` column holds both, and
    /// the series search reads its own text from `series_fts` there).
    pub(crate) fn without_tail(self) -> Match {
        Match { tail: false, ..self }
    }

    /// FTS5: `{s nq} : "a b" *`.
    pub(crate) fn fts5(&self) -> String {
        let mut out = String::from("{");
        out.push_str(&self.parts.join(" "));
        out.push_str("} : \"");
        out.push_str(&self.words.join(" "));
        out.push('"');
        if self.prefix {
            out.push_str(" *");
        }
        out
    }

    /// PostgreSQL: `('s:a' <-> 's:b') | ('nq:a' <-> 'nq:b':*)`.
    pub(crate) fn tsquery(&self) -> String {
        let mut alternatives = Vec::with_capacity(self.parts.len() + 1);
        let tail = (self.tail && self.parts.contains(&"nq")).then_some(&TAIL);
        for part in self.parts.iter().chain(tail) {
            let last = self.words.len() - 1;
            let phrase: Vec<String> = self
                .words
                .iter()
                .enumerate()
                .map(|(i, w)| {
                    let star = if self.prefix && i == last { ":*" } else { "" };
                    format!("'{part}:{w}'{star}")
                })
                .collect();
            alternatives.push(format!("({})", phrase.join(" <-> ")));
        }
        alternatives.join(" | ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PATCH: &str = "From: Linus Walleij <linus.walleij@linaro.org>\nTo: list@example.org\n\
        Cc: Bob <bob@example.org>\nList-Id: <linux-gpio.vger.kernel.org>\n\
        Subject: [PATCH] pinctrl: rzg2l: fix\nMessage-ID: <p@x>\n\n\
        Use devm_kmemdup_const.\n> quoted words here\n\nSuggested-by: Carol <carol@example.org>\n\
        Signed-off-by: Linus Walleij <linus.walleij@linaro.org>\n---\n\
        diff --git a/drivers/pinctrl/rzg2l.c b/drivers/pinctrl/rzg2l.c\n\
        index 1234abc..5678def 100644\n--- a/drivers/pinctrl/rzg2l.c\n+++ b/drivers/pinctrl/rzg2l.c\n\
        @@ -1,3 +1,3 @@ static int rzg2l_probe(void)\n int keep;\n-old_call();\n+new_call();\n int y;\n\
        ---\nbase-commit: abcdef\nchange-id: 20240110-frob-abc\n\nBest regards,\n";

    fn doc() -> Document {
        let mut p = quire_mail::parse(PATCH.as_bytes());
        crate::sanitize(&mut p);
        document(&p)
    }

    fn part_of(d: &Document, name: &str) -> String {
        d.parts[part(name)].clone()
    }

    #[test]
    fn every_part_gets_its_words() {
        let d = doc();
        assert_eq!(part_of(&d, "s"), "patch pinctrl rzg2l fix");
        assert_eq!(part_of(&d, "f"), "linus walleij linus walleij linaro org");
        assert_eq!(part_of(&d, "t"), "list example org");
        assert_eq!(part_of(&d, "c"), "bob bob example org");
        assert_eq!(part_of(&d, "l"), "linux gpio vger kernel org");
        assert!(part_of(&d, "nq").starts_with("use devm kmemdup const suggested by"));
        assert_eq!(part_of(&d, "q"), "quoted words here");
        assert_eq!(part_of(&d, "dfa"), "old call");
        assert_eq!(part_of(&d, "dfb"), "new call");
        assert_eq!(part_of(&d, "dfctx"), "int keep int y");
        assert_eq!(part_of(&d, "dfhh"), "static int rzg2l probe void");
        assert_eq!(part_of(&d, "dfn"), "drivers pinctrl rzg2l c");
        assert_eq!(part_of(&d, "dfpre"), "1234abc");
        assert_eq!(part_of(&d, "dfpost"), "5678def");
    }

    #[test]
    fn lines_after_the_diff_are_text_and_their_trailers_count() {
        let d = doc();
        assert!(d.tail.contains("change id 20240110 frob abc"), "{}", d.tail);
        assert!(d.nq_with_tail().ends_with(&d.tail));
        assert!(tsvector(&d).contains("'tl:frob'"));
        let m = Match::new(BODY, "frob").expect("words");
        assert!(m.tsquery().contains("'tl:frob'"), "nq: asks for the tail on PostgreSQL");
        assert!(!m.without_tail().tsquery().contains("'tl:"), "the series search does not");
        let tags: Vec<&str> = d.trailers.iter().map(|(t, _)| t.as_str()).collect();
        assert_eq!(tags, ["base-commit", "change-id", "signed-off-by", "suggested-by"]);
        assert!(d.trailers.contains(&("change-id".into(), "20240110-frob-abc".into())));
    }

    #[test]
    fn tsvector_and_queries_spell_the_same_lexemes() {
        let d = doc();
        let tsv = tsvector(&d);
        assert!(tsv.contains("'dfb:new':1"), "{tsv}");
        assert!(tsv.contains("'f:walleij':2,4"), "{tsv}");
        let m = Match::new(&["f"], "linus.walleij").expect("words");
        assert_eq!(m.tsquery(), "('f:linus' <-> 'f:walleij')");
        assert_eq!(m.fts5(), "{f} : \"linus walleij\"");
        let m = Match::new(BODY, "kmemdup*").expect("words");
        assert!(m.fts5().ends_with("\"kmemdup\" *"));
        assert!(m.tsquery().contains("'nq:kmemdup':*"));
        assert_eq!(Match::new(TEXT, " ... "), None);
    }

    /// The binary form read back as `tsvectorrecv` reads it: the text form's lexemes and
    /// positions, in byte order.
    #[test]
    fn the_binary_tsvector_holds_the_text_forms_lexemes_in_byte_order() {
        let d = doc();
        let PgTsVector(bin) = tsvector_binary(&d);
        let n = u32::from_be_bytes(bin[..4].try_into().unwrap()) as usize;
        let mut at = 4;
        let mut read = Vec::new();
        for _ in 0..n {
            let nul = bin[at..].iter().position(|&b| b == 0).unwrap();
            let lexeme = std::str::from_utf8(&bin[at..at + nul]).unwrap().to_string();
            at += nul + 1;
            let npos = u16::from_be_bytes([bin[at], bin[at + 1]]) as usize;
            at += 2;
            let positions: Vec<String> = (0..npos)
                .map(|i| u16::from_be_bytes([bin[at + 2 * i], bin[at + 2 * i + 1]]).to_string())
                .collect();
            at += 2 * npos;
            read.push(if positions.is_empty() {
                format!("'{lexeme}'")
            } else {
                format!("'{lexeme}':{}", positions.join(","))
            });
        }
        assert_eq!(at, bin.len());
        let mut text: Vec<String> = tsvector(&d).split(' ').map(String::from).collect();
        text.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
        let mut sorted = read.clone();
        sorted.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
        assert_eq!(read, sorted, "sent in byte order");
        assert_eq!(read, text);
    }

    #[test]
    fn huge_messages_keep_a_bounded_tsvector() {
        let mut d = Document::default();
        let many: Vec<String> = (0..200_000).map(|i| format!("w{i}")).collect();
        d.parts[part("dfb")] = many.join(" ");
        d.parts[part("nq")] = vec!["same"; 100_000].join(" ");
        let tsv = tsvector(&d);
        assert!(tsv.len() < 1_000_000, "{}", tsv.len());
        let same = tsv.split(' ').find(|l| l.starts_with("'nq:same'")).expect("kept");
        assert_eq!(same.split(',').count(), PG_MAX_POSITIONS);
    }
}
