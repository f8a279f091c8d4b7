//! What public-inbox clients (b4, lei) ask an archive for: the whole thread of a message as raw
//! mails, and the messages a search query matches (optionally expanded to their threads).
//!
//! Searches run in two steps. SQL narrows the messages with a *prefilter* compiled from the
//! query: parameterised conditions that every matching message meets (a superset; a term SQL
//! cannot decide, such as `t:` on headers the tables do not keep, or anything under `NOT`,
//! constrains nothing). Then every candidate is checked against the whole query in Rust, with
//! the exact meaning of each prefix. So the index does the heavy lifting for what b4 sends
//! (`patchid:A OR patchid:B`, `nq:"change-id: X" AND d:..`, `s:".." AND f:".."`) and the
//! answer is still exact for any mix of AND/OR/NOT.
//!
//! Prefixes follow public-inbox: `s:` subject, `f:` From, `t:` To, `c:` Cc, `b:` body and
//! diff, `bs:` subject or body, `nq:` body lines not quoted, `q:` quoted lines, `dfn:` a file
//! the diff touches, `dfa:` removed (`-`) lines, `dfb:` added (`+`) lines, `patchid:`
//! `git patch-id --stable`, `m:` Message-ID, `d:` date range, `rt:` received-time range.
//! Matching is case-insensitive substring matching (public-inbox matches words; a substring
//! match finds at least as much).

use std::collections::HashSet;

use quire_query::{Field, Query, Term};

use crate::error::{Error, Result};
use crate::{Pool, Store, clean};

/// One stored mail as a public-inbox mbox carries it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboxMail {
    pub message_id: String,
    /// Unix seconds of the Date header, when it had one.
    pub date: Option<i64>,
    /// The bytes as first received.
    pub raw: Vec<u8>,
}

/// Messages a search answers at most (before expanding to threads); public-inbox caps its
/// mbox answers too, and b4's queries match a handful.
pub const MAX_MATCHES: usize = 1000;
/// Messages a thread expansion returns at most, so a query cannot ask for the whole archive.
pub const MAX_EXPANDED: usize = 10_000;
/// Candidate rows read at most for one search (newest first): bounds the cost of queries
/// the prefilter cannot narrow (`NOT s:x`, `t:someone`).
pub const MAX_SCANNED: usize = 100_000;
/// Candidate rows read per round trip.
const SCAN_BATCH: i64 = 500;

impl Store {
    /// Every message of the thread of `message_id` (all messages sharing its root), oldest
    /// first, raw. With `project`, only when the message belongs to that project, and only the
    /// thread's messages that do. `None` when there is no such message.
    pub async fn inbox_thread(
        &self,
        project: Option<&str>,
        message_id: &str,
    ) -> Result<Option<Vec<InboxMail>>> {
        match &*self.pool {
            Pool::Sqlite(p, _) => sqlite_inbox::thread(p, project, message_id).await,
            Pool::Pg(p) => pg_inbox::thread(p, project, message_id).await,
        }
    }

    /// The messages matching the public-inbox query `query` (within `project` when given),
    /// newest first, at most [`MAX_MATCHES`]; with `threads`, every message of their threads
    /// instead (oldest first within a thread, at most [`MAX_EXPANDED`]). A query that does
    /// not parse (past quire-query's limits too), or uses a series-only term (`is:`,
    /// `state:`...), is [`Error::Invalid`] with one line naming the problem; one the database
    /// refuses as too large for it is an [`Error::BadQuery`] saying so.
    pub async fn inbox_search(
        &self,
        project: Option<&str>,
        query: &str,
        threads: bool,
    ) -> Result<Vec<InboxMail>> {
        let plan = Plan::read(query)?;
        match &*self.pool {
            Pool::Sqlite(p, _) => sqlite_inbox::search(p, project, None, &plan, threads).await,
            Pool::Pg(p) => pg_inbox::search(p, project, None, &plan, threads).await,
        }
    }

    /// The messages of the thread of `message_id` (within `project`) that match `query`, as
    /// public-inbox's `/<list>/<msgid>/?x=m&q=` answers (liblore asks it for what is new in a
    /// thread). `None` when there is no such message; errors as [`Store::inbox_search`].
    pub async fn inbox_search_thread(
        &self,
        project: Option<&str>,
        message_id: &str,
        query: &str,
    ) -> Result<Option<Vec<InboxMail>>> {
        let plan = Plan::read(query)?;
        match &*self.pool {
            Pool::Sqlite(p, _) => {
                let Some(key) = sqlite_inbox::thread_key(p, project, message_id).await? else {
                    return Ok(None);
                };
                sqlite_inbox::search(p, project, Some(&key), &plan, false).await.map(Some)
            }
            Pool::Pg(p) => {
                let Some(key) = pg_inbox::thread_key(p, project, message_id).await? else {
                    return Ok(None);
                };
                pg_inbox::search(p, project, Some(&key), &plan, false).await.map(Some)
            }
        }
    }

    /// The Message-IDs of the thread of `message_id` (as [`Store::inbox_thread`], without the
    /// bytes), oldest first; empty when there is no such message.
    pub async fn inbox_thread_ids(
        &self,
        project: Option<&str>,
        message_id: &str,
    ) -> Result<Vec<String>> {
        match &*self.pool {
            Pool::Sqlite(p, _) => sqlite_inbox::thread_ids(p, project, message_id).await,
            Pool::Pg(p) => pg_inbox::thread_ids(p, project, message_id).await,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The query, checked once.

/// Marks a `dt:` term carried through quire-query as a phrase: quire-query does not know
/// public-inbox's `dt:` (a date-time range on the Date header, `YYYYMMDDHHMMSS..`, which b4
/// sends), so `dt:V` is rewritten to the phrase `"<DT>V"` and read back from it here.
const DT: &str = "\u{1}dt:";

/// `query` with every `dt:VALUE` term written as the phrase `"\u{1}dt:VALUE"`.
fn with_dt_terms(query: &str) -> String {
    let mut out = String::with_capacity(query.len() + 8);
    let mut rest = query;
    let mut at_word_start = true;
    let mut in_quote = false;
    while let Some(c) = rest.chars().next() {
        if !in_quote
            && at_word_start
            && rest.len() > 3
            && rest.is_char_boundary(3)
            && rest[..3].eq_ignore_ascii_case("dt:")
        {
            let value_len = rest[3..]
                .find(|c: char| c.is_whitespace() || c == ')' || c == '(')
                .unwrap_or(rest.len() - 3);
            let value = &rest[3..3 + value_len];
            if !value.is_empty() && !value.contains('"') {
                out.push('"');
                out.push_str(DT);
                out.push_str(value);
                out.push('"');
                rest = &rest[3 + value_len..];
                at_word_start = false;
                continue;
            }
        }
        if c == '"' {
            in_quote = !in_quote;
        }
        at_word_start = !in_quote && (c.is_whitespace() || c == '(' || c == '-');
        out.push(c);
        rest = &rest[c.len_utf8()..];
    }
    out
}

/// The range of a `dt:` term carried as a phrase, `[from, to)` in Unix seconds.
fn dt_range(t: &Term) -> Option<Result<(Option<i64>, Option<i64>)>> {
    let Term::Text { value, .. } = t else { return None };
    let v = value.strip_prefix(DT)?;
    Some(time_range(v).ok_or_else(|| {
        Error::Invalid(format!(
            "`dt:{v}` is not a date-time range: write `dt:YYYYMMDDHHMMSS..YYYYMMDDHHMMSS`"
        ))
    }))
}

/// A query ready to run: the AST, checked for terms that mean nothing for single messages,
/// with what the candidates must carry to be judged.
#[derive(Debug)]
pub(crate) struct Plan {
    query: Query,
    /// Some term looks at To/Cc, which only the raw mail holds.
    needs_raw: bool,
}

impl Plan {
    /// `dt:` and parse (which bounds the query's length, terms and depth): the query as a
    /// client sent it, ready to run.
    fn read(query: &str) -> Result<Plan> {
        let parsed = quire_query::parse(&with_dt_terms(query))
            .map_err(|e| Error::Invalid(format!("cannot read the query: {e}")))?;
        Plan::new(&parsed)
    }

    fn new(query: &Query) -> Result<Plan> {
        let mut needs_raw = false;
        check(query, &mut needs_raw)?;
        Ok(Plan { query: query.clone(), needs_raw })
    }
}

fn check(q: &Query, needs_raw: &mut bool) -> Result<()> {
    match q {
        Query::And(parts) | Query::Or(parts) => parts.iter().try_for_each(|p| check(p, needs_raw)),
        Query::Not(inner) => check(inner, needs_raw),
        Query::Term(t) => {
            let series_only = |what: &str| {
                Err(Error::Invalid(format!(
                    "`{what}` describes a series, not a message: use it in the series list's search, not in a public-inbox query"
                )))
            };
            match t {
                Term::Version(_) => series_only("version:"),
                Term::Is(_) => series_only("is:"),
                Term::Has(_) => series_only("has:"),
                Term::State(_) => series_only("state:"),
                Term::Check { .. } => series_only("check:"),
                Term::Field { field: Field::Awaiting, .. } => series_only("awaiting:"),
                Term::Field { field: Field::Project, .. } => Err(Error::Invalid(
                    "`project:` is not a public-inbox prefix: search under the list's own URL (/<project>/?q=...)".into(),
                )),
                Term::Field { field: Field::To | Field::Cc, .. } => {
                    *needs_raw = true;
                    Ok(())
                }
                Term::Text { .. } => dt_range(t).map_or(Ok(()), |r| r.map(|_| ())),
                Term::Field { field: Field::Recipients, value } => {
                    if time_range(value).is_none() {
                        *needs_raw = true;
                    }
                    Ok(())
                }
                _ => Ok(()),
            }
        }
    }
}

/// `rt:` is public-inbox's received-time range; quire-query keeps its value as text (it also
/// reads `rt:` as "recipients" for its own searches). A value that reads as a range is a
/// received time, `[from, to)` in Unix seconds; anything else is matched against To and Cc.
fn time_range(v: &str) -> Option<(Option<i64>, Option<i64>)> {
    let (a, b, is_range) = match v.split_once("..") {
        Some((a, b)) => (a, b, true),
        None => (v, v, false),
    };
    let from = if a.is_empty() { None } else { Some(instant(a)?.0) };
    let to = if b.is_empty() {
        None
    } else {
        let (t, len) = instant(b)?;
        // A bare day or second covers all of it.
        Some(if is_range && len == Granularity::Second { t } else { t + len.seconds() })
    };
    if from.is_none() && to.is_none() { None } else { Some((from, to)) }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Granularity {
    Day,
    Second,
}

impl Granularity {
    fn seconds(self) -> i64 {
        match self {
            Granularity::Day => 86_400,
            Granularity::Second => 1,
        }
    }
}

/// `YYYYMMDD`, `YYYY-MM-DD` or `YYYYMMDDHHMMSS` (UTC) as Unix seconds.
fn instant(s: &str) -> Option<(i64, Granularity)> {
    let digits: String = s.chars().filter(|c| !matches!(c, '-' | ':' | 'T' | ' ')).collect();
    if !digits.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let num = |r: std::ops::Range<usize>| digits.get(r).and_then(|x| x.parse::<u32>().ok());
    let (date, g) = match digits.len() {
        8 => (
            chrono::NaiveDate::from_ymd_opt(num(0..4)? as i32, num(4..6)?, num(6..8)?)?
                .and_hms_opt(0, 0, 0)?,
            Granularity::Day,
        ),
        14 => (
            chrono::NaiveDate::from_ymd_opt(num(0..4)? as i32, num(4..6)?, num(6..8)?)?
                .and_hms_opt(num(8..10)?, num(10..12)?, num(12..14)?)?,
            Granularity::Second,
        ),
        // Unix seconds, as liblore sends `rt:` (`rt:1704067200..`).
        9..=11 => return Some((digits.parse().ok()?, Granularity::Second)),
        _ => return None,
    };
    Some((date.and_utc().timestamp(), g))
}

// ---------------------------------------------------------------------------------------------
// The exact check, in Rust.

/// One candidate as read from the store, with what only some terms need decoded on demand.
struct Candidate {
    row_id: i64,
    message_id: String,
    thread_key: String,
    subject: String,
    from_name: String,
    from_email: String,
    date: Option<i64>,
    received: i64,
    patch_id: Option<String>,
    files: Option<String>,
    meta: String,
    body: String,
    diff: Option<Vec<u8>>,
    raw: Option<Vec<u8>>,
    decoded_diff: std::cell::OnceCell<String>,
    parsed_raw: std::cell::OnceCell<Option<quire_mail::ParsedMessage>>,
}

impl Candidate {
    fn diff(&self) -> &str {
        self.decoded_diff.get_or_init(|| {
            // A diff that cannot be decompressed matches nothing rather than failing the
            // whole search (the row is reported by `reindex`, which reads the raw mail again).
            self.diff
                .as_deref()
                .and_then(|d| zstd::decode_all(d).ok())
                .map(|d| String::from_utf8_lossy(&d).into_owned())
                .unwrap_or_default()
        })
    }

    fn parsed(&self) -> Option<&quire_mail::ParsedMessage> {
        self.parsed_raw
            .get_or_init(|| {
                let raw = self.raw.as_deref()?;
                let bytes = zstd::decode_all(raw).ok()?;
                Some(quire_mail::parse(&bytes))
            })
            .as_ref()
    }

    fn addresses(&self, to: bool, cc: bool) -> String {
        let Some(p) = self.parsed() else { return String::new() };
        let mut out = String::new();
        let lists = [(to, &p.to), (cc, &p.cc)];
        for a in lists.iter().filter(|(on, _)| *on).flat_map(|(_, l)| l.iter()) {
            out.push_str(&a.name);
            out.push_str(" <");
            out.push_str(&a.email);
            out.push_str(">\n");
        }
        out
    }
}

/// Lower case with whitespace runs as one space: how needles and haystacks are compared.
fn fold(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for word in s.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        out.extend(word.chars().flat_map(char::to_lowercase));
    }
    out
}

fn contains(haystack: &str, needle: &str) -> bool {
    let needle = fold(needle);
    needle.is_empty() || fold(haystack).contains(&needle)
}

/// A line quoted in a reply: `>` after optional spaces.
fn is_quoted(line: &str) -> bool {
    line.trim_start().starts_with('>')
}

fn lines_where<'a>(text: &'a str, keep: impl Fn(&str) -> bool + 'a) -> String {
    text.lines().filter(|l| keep(l)).collect::<Vec<_>>().join("\n")
}

/// The diff's added (`+`) or removed (`-`) lines, without the `+++`/`---` file headers.
fn diff_side(diff: &str, sign: char) -> String {
    let header = if sign == '+' { "+++" } else { "---" };
    diff.lines()
        .filter(|l| l.starts_with(sign) && !l.starts_with(header))
        .map(|l| &l[1..])
        .collect::<Vec<_>>()
        .join("\n")
}

fn matches(q: &Query, c: &Candidate, now: i64) -> bool {
    match q {
        Query::And(parts) => parts.iter().all(|p| matches(p, c, now)),
        Query::Or(parts) => parts.iter().any(|p| matches(p, c, now)),
        Query::Not(inner) => !matches(inner, c, now),
        Query::Term(t) => term_matches(t, c, now),
    }
}

fn in_days(date: Option<i64>, after: Option<i64>, before: Option<i64>) -> bool {
    let Some(d) = date else { return false };
    after.is_none_or(|a| d >= a.saturating_mul(86_400))
        && before.is_none_or(|b| d < b.saturating_mul(86_400))
}

fn term_matches(t: &Term, c: &Candidate, now: i64) -> bool {
    match t {
        Term::Text { value, .. } => match dt_range(t) {
            Some(Ok((from, to))) => {
                c.date.is_some_and(|d| from.is_none_or(|f| d >= f) && to.is_none_or(|t| d < t))
            }
            Some(Err(_)) => false,
            None => {
                contains(&c.subject, value) || contains(&c.body, value) || contains(c.diff(), value)
            }
        },
        Term::Date { after, before } => in_days(c.date, *after, *before),
        Term::Age { younger, seconds } => match c.date {
            Some(d) if *younger => d >= now.saturating_sub(*seconds),
            Some(d) => d < now.saturating_sub(*seconds),
            None => false,
        },
        Term::Field { field, value } => field_matches(*field, value, c),
        // Refused by `check` before any candidate is read.
        Term::Version(_) | Term::Is(_) | Term::Has(_) | Term::State(_) | Term::Check { .. } => {
            false
        }
    }
}

fn field_matches(field: Field, v: &str, c: &Candidate) -> bool {
    match field {
        Field::Subject => contains(&c.subject, v),
        Field::From => {
            contains(&c.from_name, v)
                || contains(&c.from_email, v)
                || contains(&format!("{} <{}>", c.from_name, c.from_email), v)
        }
        Field::To => contains(&c.addresses(true, false), v),
        Field::Cc => contains(&c.addresses(false, true), v),
        Field::Recipients => match time_range(v) {
            Some((from, to)) => {
                from.is_none_or(|f| c.received >= f) && to.is_none_or(|t| c.received < t)
            }
            None => contains(&c.addresses(true, true), v),
        },
        Field::Body => contains(&c.body, v) || contains(c.diff(), v),
        Field::SubjectOrBody => {
            contains(&c.subject, v) || contains(&c.body, v) || contains(c.diff(), v)
        }
        Field::NonQuoted => contains(&lines_where(&c.body, |l| !is_quoted(l)), v),
        Field::Quoted => {
            let quoted = lines_where(&c.body, is_quoted);
            contains(&quoted.replace('>', " "), v)
        }
        Field::MessageId => c.message_id == v.trim().trim_start_matches('<').trim_end_matches('>'),
        Field::PatchId => c.patch_id.as_deref().is_some_and(|p| p.eq_ignore_ascii_case(v.trim())),
        Field::File => c.files.as_deref().is_some_and(|f| contains(f, v)),
        // quire-query names the fields after the prefixes `dfa:`/`dfb:`; public-inbox's `dfa:`
        // is the a-side (removed lines) and `dfb:` the b-side (added lines).
        Field::DiffAdded => contains(&diff_side(c.diff(), '-'), v),
        Field::DiffBefore => contains(&diff_side(c.diff(), '+'), v),
        Field::ReviewedBy => trailer_matches(c, "reviewed-by", v),
        Field::AckedBy => trailer_matches(c, "acked-by", v),
        Field::TestedBy => trailer_matches(c, "tested-by", v),
        Field::Project | Field::Awaiting => false,
    }
}

fn trailer_matches(c: &Candidate, tag: &str, v: &str) -> bool {
    let Ok(meta) = serde_json::from_str::<quire_series::MessageMeta>(&c.meta) else { return false };
    meta.trailers.iter().any(|t| t.tag.eq_ignore_ascii_case(tag) && contains(&t.value, v))
}

// ---------------------------------------------------------------------------------------------
// The prefilter, in SQL.

/// A LIKE pattern for `needle`'s longest word, lower case, or None when SQL cannot be trusted
/// to find it (non-ASCII: SQLite's LOWER folds ASCII only; empty).
fn like_word(needle: &str) -> Option<String> {
    let word = needle.split_whitespace().max_by_key(|w| w.len())?;
    if !word.is_ascii() {
        return None;
    }
    let mut p = String::with_capacity(word.len() + 2);
    p.push('%');
    for ch in word.chars() {
        if matches!(ch, '%' | '_' | '\\') {
            p.push('\\');
        }
        p.push(ch.to_ascii_lowercase());
    }
    p.push('%');
    Some(p)
}

/// Whether the prefilter of `q` constrains anything (else it is "true" and left out).
fn constrains(q: &Query) -> bool {
    match q {
        Query::And(parts) => parts.iter().any(constrains),
        Query::Or(parts) => !parts.is_empty() && parts.iter().all(constrains),
        Query::Not(_) => false,
        Query::Term(t) => match t {
            Term::Text { value, .. } => {
                dt_range(t).is_some_and(|r| r.is_ok()) || like_word(value).is_some()
            }
            Term::Date { .. } | Term::Age { .. } => true,
            Term::Field { field, value } => match field {
                Field::PatchId | Field::MessageId | Field::DiffAdded | Field::DiffBefore => true,
                Field::Subject
                | Field::Body
                | Field::SubjectOrBody
                | Field::NonQuoted
                | Field::Quoted
                | Field::File => like_word(value).is_some(),
                Field::From => {
                    like_word(value).is_some()
                        && !value.contains(['<', '>'])
                        && value.split_whitespace().count() == 1
                }
                Field::Recipients => time_range(value).is_some(),
                _ => false,
            },
            _ => false,
        },
    }
}

/// A Message-ID as stored and looked up.
fn bare(v: &str) -> String {
    clean(v.trim().trim_start_matches('<').trim_end_matches('>')).into_owned()
}

/// Writes the backend functions once per backend: `$Db` is the sqlx database.
macro_rules! inbox_backend {
    ($m:ident, $Db:ty) => {
        mod $m {
            use super::*;
            use crate::derive::text_hash;
            use crate::error::{Context, corrupt};
            use sqlx::{QueryBuilder, Row};

            type Db = $Db;
            type DbRow = <Db as sqlx::Database>::Row;
            type DbPool = sqlx::Pool<Db>;

            fn get<'r, T>(row: &'r DbRow, index: usize, what: &str) -> Result<T>
            where
                T: sqlx::Decode<'r, Db> + sqlx::Type<Db>,
            {
                row.try_get::<T, usize>(index).ctx(what)
            }

            /// ` AND m.id IN (messages of project)` when a project is given.
            fn push_project(qb: &mut QueryBuilder<'_, Db>, project: Option<&str>) {
                if let Some(p) = project {
                    qb.push(
                        " AND m.id IN (SELECT mp.message_id FROM message_projects mp JOIN projects p ON p.id = mp.project_id WHERE p.name = ",
                    );
                    qb.push_bind(clean(p).into_owned());
                    qb.push(")");
                }
            }

            /// The thread key of a stored message (within `project` when given).
            pub(crate) async fn thread_key(pool: &DbPool, project: Option<&str>, message_id: &str) -> Result<Option<String>> {
                let mid = bare(message_id);
                let mut qb = QueryBuilder::<Db>::new("SELECT m.thread_key FROM messages m WHERE m.mid_hash = ");
                qb.push_bind(text_hash(&mid));
                qb.push(" AND m.message_id = ");
                qb.push_bind(mid);
                push_project(&mut qb, project);
                let row = qb.build().fetch_optional(pool).await.ctx("looking up a message's thread")?;
                row.map(|r| get(&r, 0, "looking up a message's thread")).transpose()
            }

            /// The messages of the threads `keys` (within `project`), oldest first: row id,
            /// Message-ID, date and, with `with_raw`, the compressed raw bytes.
            async fn thread_rows(
                pool: &DbPool,
                project: Option<&str>,
                keys: &[String],
                with_raw: bool,
                limit: usize,
            ) -> Result<Vec<(i64, String, Option<i64>, Option<Vec<u8>>)>> {
                let what = "reading a thread";
                let mut out = Vec::new();
                for key in keys {
                    if out.len() >= limit {
                        break;
                    }
                    let cols = if with_raw { "r.data" } else { "NULL" };
                    let mut qb = QueryBuilder::<Db>::new(format!(
                        "SELECT m.id, m.message_id, m.date, {cols} FROM messages m JOIN raw_messages r ON r.id = m.id WHERE m.thread_hash = "
                    ));
                    qb.push_bind(text_hash(key));
                    qb.push(" AND m.thread_key = ");
                    qb.push_bind(key.clone());
                    push_project(&mut qb, project);
                    // NULL dates sort first on both backends (PostgreSQL would put them last).
                    qb.push(" ORDER BY COALESCE(m.date, 0), m.id LIMIT ");
                    qb.push_bind(i64::try_from(limit - out.len()).unwrap_or(i64::MAX));
                    for r in qb.build().fetch_all(pool).await.ctx(what)? {
                        out.push((get(&r, 0, what)?, get(&r, 1, what)?, get(&r, 2, what)?, get(&r, 3, what)?));
                    }
                }
                Ok(out)
            }

            fn decompress(id: i64, data: Option<Vec<u8>>) -> Result<Vec<u8>> {
                let data = data.ok_or_else(|| corrupt(format!("raw message {id}"), "missing"))?;
                zstd::decode_all(data.as_slice()).map_err(|e| corrupt(format!("raw message {id}"), e))
            }

            pub(crate) async fn thread(pool: &DbPool, project: Option<&str>, message_id: &str) -> Result<Option<Vec<InboxMail>>> {
                let Some(key) = thread_key(pool, project, message_id).await? else { return Ok(None) };
                let rows = thread_rows(pool, project, &[key], true, MAX_EXPANDED).await?;
                let mut out = Vec::with_capacity(rows.len());
                for (id, message_id, date, data) in rows {
                    out.push(InboxMail { message_id, date, raw: decompress(id, data)? });
                }
                Ok(Some(out))
            }

            pub(crate) async fn thread_ids(pool: &DbPool, project: Option<&str>, message_id: &str) -> Result<Vec<String>> {
                let Some(key) = thread_key(pool, project, message_id).await? else { return Ok(Vec::new()) };
                let rows = thread_rows(pool, project, &[key], false, MAX_EXPANDED).await?;
                Ok(rows.into_iter().map(|(_, id, _, _)| id).collect())
            }

            /// Appends the prefilter of `q`; only called when `constrains(q)`.
            fn push_prefilter(qb: &mut QueryBuilder<'_, Db>, q: &Query) {
                match q {
                    Query::And(parts) | Query::Or(parts) => {
                        let joiner = if matches!(q, Query::And(_)) { " AND " } else { " OR " };
                        qb.push("(");
                        let mut first = true;
                        for p in parts.iter().filter(|p| constrains(p)) {
                            if !first {
                                qb.push(joiner);
                            }
                            first = false;
                            push_prefilter(qb, p);
                        }
                        qb.push(")");
                    }
                    Query::Not(_) => {
                        qb.push("1 = 1");
                    }
                    Query::Term(t) => push_term(qb, t),
                }
            }

            fn push_like(qb: &mut QueryBuilder<'_, Db>, column: &str, value: &str) {
                let pattern = like_word(value).unwrap_or_else(|| "%".into());
                qb.push(format!("LOWER({column}) LIKE "));
                qb.push_bind(pattern);
                qb.push(" ESCAPE '\\'");
            }

            fn push_days(qb: &mut QueryBuilder<'_, Db>, column: &str, from: Option<i64>, to: Option<i64>) {
                qb.push("(1 = 1");
                if let Some(f) = from {
                    qb.push(format!(" AND {column} >= "));
                    qb.push_bind(f);
                }
                if let Some(t) = to {
                    qb.push(format!(" AND {column} < "));
                    qb.push_bind(t);
                }
                qb.push(")");
            }

            fn push_term(qb: &mut QueryBuilder<'_, Db>, t: &Term) {
                let now = crate::now();
                match t {
                    Term::Text { .. } if dt_range(t).is_some() => {
                        let (from, to) = dt_range(t).and_then(|r| r.ok()).unwrap_or((None, None));
                        push_days(qb, "m.date", from, to);
                    }
                    Term::Text { value, .. } => {
                        qb.push("(");
                        push_like(qb, "m.subject", value);
                        qb.push(" OR ");
                        push_like(qb, "m.body", value);
                        qb.push(" OR m.diff IS NOT NULL)");
                    }
                    Term::Date { after, before } => push_days(
                        qb,
                        "m.date",
                        after.map(|a| a.saturating_mul(86_400)),
                        before.map(|b| b.saturating_mul(86_400)),
                    ),
                    Term::Age { younger, seconds } => {
                        let edge = now.saturating_sub(*seconds);
                        if *younger { push_days(qb, "m.date", Some(edge), None) } else { push_days(qb, "m.date", None, Some(edge)) }
                    }
                    Term::Field { field, value } => match field {
                        Field::PatchId => {
                            qb.push("m.patch_id = ");
                            qb.push_bind(value.trim().to_ascii_lowercase());
                        }
                        Field::MessageId => {
                            let mid = bare(value);
                            qb.push("(m.mid_hash = ");
                            qb.push_bind(text_hash(&mid));
                            qb.push(" AND m.message_id = ");
                            qb.push_bind(mid);
                            qb.push(")");
                        }
                        Field::DiffAdded | Field::DiffBefore => {
                            qb.push("m.diff IS NOT NULL");
                        }
                        Field::Subject => push_like(qb, "m.subject", value),
                        Field::NonQuoted | Field::Quoted => push_like(qb, "m.body", value),
                        Field::Body => {
                            qb.push("(");
                            push_like(qb, "m.body", value);
                            qb.push(" OR m.diff IS NOT NULL)");
                        }
                        Field::SubjectOrBody => {
                            qb.push("(");
                            push_like(qb, "m.subject", value);
                            qb.push(" OR ");
                            push_like(qb, "m.body", value);
                            qb.push(" OR m.diff IS NOT NULL)");
                        }
                        Field::File => push_like(qb, "m.files", value),
                        Field::From => {
                            qb.push("(");
                            push_like(qb, "m.from_name", value);
                            qb.push(" OR ");
                            push_like(qb, "m.from_email", value);
                            qb.push(")");
                        }
                        Field::Recipients => {
                            let (from, to) = time_range(value).unwrap_or((None, None));
                            push_days(qb, "r.received", from, to);
                        }
                        _ => {
                            qb.push("1 = 1");
                        }
                    },
                    _ => {
                        qb.push("1 = 1");
                    }
                }
            }

            fn candidate(r: &DbRow) -> Result<Candidate> {
                let what = "reading search candidates";
                Ok(Candidate {
                    row_id: get(r, 0, what)?,
                    message_id: get(r, 1, what)?,
                    thread_key: get(r, 2, what)?,
                    subject: get(r, 3, what)?,
                    from_name: get(r, 4, what)?,
                    from_email: get(r, 5, what)?,
                    date: get(r, 6, what)?,
                    patch_id: get(r, 7, what)?,
                    files: get(r, 8, what)?,
                    meta: get(r, 9, what)?,
                    body: get(r, 10, what)?,
                    diff: get(r, 11, what)?,
                    received: get(r, 12, what)?,
                    raw: get(r, 13, what)?,
                    decoded_diff: std::cell::OnceCell::new(),
                    parsed_raw: std::cell::OnceCell::new(),
                })
            }

            pub(crate) async fn search(
                pool: &DbPool,
                project: Option<&str>,
                thread: Option<&str>,
                plan: &Plan,
                threads: bool,
            ) -> Result<Vec<InboxMail>> {
                let what = "searching messages";
                let now = crate::now();
                // (row id, Message-ID, thread key, date) of each match, newest first.
                let mut found: Vec<(i64, String, String, Option<i64>)> = Vec::new();
                let mut scanned = 0usize;
                let mut below: Option<i64> = None;
                while found.len() < MAX_MATCHES && scanned < MAX_SCANNED {
                    let raw_col = if plan.needs_raw { "r.data" } else { "NULL" };
                    let mut qb = QueryBuilder::<Db>::new(format!(
                        "SELECT m.id, m.message_id, m.thread_key, m.subject, m.from_name, m.from_email, m.date, m.patch_id, \
                         m.files, m.meta, m.body, m.diff, r.received, {raw_col} \
                         FROM messages m JOIN raw_messages r ON r.id = m.id WHERE 1 = 1"
                    ));
                    push_project(&mut qb, project);
                    if let Some(key) = thread {
                        qb.push(" AND m.thread_hash = ");
                        qb.push_bind(text_hash(key));
                        qb.push(" AND m.thread_key = ");
                        qb.push_bind(key.to_string());
                    }
                    if let Some(b) = below {
                        qb.push(" AND m.id < ");
                        qb.push_bind(b);
                    }
                    if constrains(&plan.query) {
                        qb.push(" AND ");
                        push_prefilter(&mut qb, &plan.query);
                    }
                    qb.push(" ORDER BY m.id DESC LIMIT ");
                    qb.push_bind(SCAN_BATCH);
                    let rows = qb.build().fetch_all(pool).await.ctx_query(what)?;
                    if rows.is_empty() {
                        break;
                    }
                    scanned += rows.len();
                    let batch: Vec<Candidate> = rows.iter().map(candidate).collect::<Result<_>>()?;
                    below = batch.last().map(|c| c.row_id);
                    for c in batch {
                        if found.len() < MAX_MATCHES && matches(&plan.query, &c, now) {
                            found.push((c.row_id, c.message_id, c.thread_key, c.date));
                        }
                    }
                    if i64::try_from(rows.len()).unwrap_or(0) < SCAN_BATCH {
                        break;
                    }
                }
                if threads {
                    let mut keys: Vec<String> = Vec::new();
                    let mut seen = HashSet::new();
                    for (_, _, key, _) in &found {
                        if seen.insert(key.clone()) {
                            keys.push(key.clone());
                        }
                    }
                    let rows = thread_rows(pool, project, &keys, true, MAX_EXPANDED).await?;
                    let mut out = Vec::with_capacity(rows.len());
                    let mut ids = HashSet::new();
                    for (id, message_id, date, data) in rows {
                        if ids.insert(id) {
                            out.push(InboxMail { message_id, date, raw: decompress(id, data)? });
                        }
                    }
                    return Ok(out);
                }
                let ids: Vec<i64> = found.iter().map(|(id, ..)| *id).collect();
                let mut out = Vec::with_capacity(ids.len());
                for (id, message_id, _, date) in found {
                    let row = sqlx::query("SELECT data FROM raw_messages WHERE id = $1")
                        .bind(id)
                        .fetch_optional(pool)
                        .await
                        .ctx("reading a matching message")?;
                    let data: Option<Vec<u8>> = row.map(|r| get(&r, 0, "reading a matching message")).transpose()?;
                    out.push(InboxMail { message_id, date, raw: decompress(id, data)? });
                }
                Ok(out)
            }
        }
    };
}

inbox_backend!(sqlite_inbox, sqlx::Sqlite);
inbox_backend!(pg_inbox, sqlx::Postgres);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Incoming, ProjectConfig};

    const COVER: &str = "From: Alice Author <alice@example.org>\nTo: list1@example.org\nCc: Carol <carol@example.org>\n\
        Subject: [PATCH 0/2] widget: frob faster\nDate: Wed, 10 Jan 2024 10:00:00 +0000\nMessage-ID: <a0@example.org>\n\n\
        Frobbing is slow.\n\nchange-id: 20240110-frob-abc\n";
    const PATCH: &str = "From: Alice Author <alice@example.org>\nTo: list1@example.org\n\
        Subject: [PATCH 1/2] widget: call frob_fast\nDate: Wed, 10 Jan 2024 10:01:00 +0000\nMessage-ID: <a1@example.org>\n\
        In-Reply-To: <a0@example.org>\nReferences: <a0@example.org>\n\n\
        Use the fast path.\n\nSigned-off-by: Alice Author <alice@example.org>\n---\n src/widget.c | 2 +-\n\n\
        diff --git a/src/widget.c b/src/widget.c\n--- a/src/widget.c\n+++ b/src/widget.c\n@@ -1,3 +1,3 @@\n int x;\n\
        -frob_slow();\n+frob_fast();\n int y;\n-- \n2.43.0\n";
    const REVIEW: &str = "From: Bob <bob@example.org>\nTo: list1@example.org\n\
        Subject: Re: [PATCH 1/2] widget: call frob_fast\nDate: Fri, 12 Jan 2024 09:00:00 +0000\nMessage-ID: <r1@example.org>\n\
        In-Reply-To: <a1@example.org>\nReferences: <a0@example.org> <a1@example.org>\n\n\
        > +frob_fast looks fine\nchange-id: not-this-one\n\nReviewed-by: Bob <bob@example.org>\n";
    const OTHER: &str = "From: Dave <dave@example.org>\nTo: list2@example.org\nSubject: another thing\n\
        Date: Thu, 01 Jun 2023 09:00:00 +0000\nMessage-ID: <b0@example.org>\n\nHello, 100% unrelated.\n";

    async fn ids(store: &Store, project: Option<&str>, q: &str, threads: bool) -> Vec<String> {
        let mut out: Vec<String> = store
            .inbox_search(project, q, threads)
            .await
            .unwrap_or_else(|e| panic!("{q}: {e}"))
            .into_iter()
            .map(|m| m.message_id)
            .collect();
        out.sort();
        out
    }

    async fn search_semantics(store: Store) {
        for (name, list) in [("p1", "list1@example.org"), ("p2", "list2@example.org")] {
            let p = ProjectConfig {
                name: name.into(),
                list_addresses: vec![list.into()],
                ..Default::default()
            };
            store.upsert_project(&p).await.expect("project");
        }
        let batch = [COVER, PATCH, REVIEW, OTHER]
            .iter()
            .map(|m| Incoming::parse(m.as_bytes().to_vec(), None))
            .collect();
        store.ingest(batch).await.expect("ingest");
        let pid = store
            .message("a1@example.org")
            .await
            .expect("read")
            .and_then(|m| m.patch_id)
            .expect("a patch-id");

        let all = ["a0@example.org", "a1@example.org", "b0@example.org", "r1@example.org"];
        let cases: Vec<(Option<&str>, String, bool, Vec<&str>)> = vec![
            (Some("p1"), "s:\"frob faster\"".into(), false, vec!["a0@example.org"]),
            (Some("p1"), "f:alice".into(), false, vec!["a0@example.org", "a1@example.org"]),
            (
                Some("p1"),
                "f:\"Alice Author <alice@example.org>\"".into(),
                false,
                vec!["a0@example.org", "a1@example.org"],
            ),
            (Some("p1"), "c:carol".into(), false, vec!["a0@example.org"]),
            (None, "t:list2".into(), false, vec!["b0@example.org"]),
            (
                Some("p1"),
                "nq:\"change-id: 20240110-frob-abc\"".into(),
                false,
                vec!["a0@example.org"],
            ),
            (
                Some("p1"),
                "(nq:\"change-id: 20240110-frob-abc\") AND d:20240101..".into(),
                false,
                vec!["a0@example.org"],
            ),
            (
                Some("p1"),
                "(nq:\"change-id: 20240110-frob-abc\") AND d:20240111..".into(),
                false,
                vec![],
            ),
            (Some("p1"), "q:\"frob_fast looks\"".into(), false, vec!["r1@example.org"]),
            (Some("p1"), "nq:\"frob_fast looks\"".into(), false, vec![]),
            (Some("p1"), "dfn:widget.c".into(), false, vec!["a1@example.org"]),
            (Some("p1"), "dfb:frob_fast".into(), false, vec!["a1@example.org"]),
            (Some("p1"), "dfa:frob_slow".into(), false, vec!["a1@example.org"]),
            (Some("p1"), "dfa:frob_fast".into(), false, vec![]),
            (Some("p1"), "b:frob_fast".into(), false, vec!["a1@example.org", "r1@example.org"]),
            (Some("p1"), "bs:faster".into(), false, vec!["a0@example.org"]),
            (
                Some("p1"),
                format!("patchid:{pid} OR patchid:{}", "0".repeat(40)),
                false,
                vec!["a1@example.org"],
            ),
            (
                Some("p1"),
                format!("patchid:{pid}"),
                true,
                vec!["a0@example.org", "a1@example.org", "r1@example.org"],
            ),
            (Some("p2"), format!("patchid:{pid}"), true, vec![]),
            (None, "m:<r1@example.org>".into(), false, vec!["r1@example.org"]),
            (None, "d:..20240101".into(), false, vec!["b0@example.org"]),
            (None, "d:20240112".into(), false, vec!["r1@example.org"]),
            (Some("p1"), "NOT f:alice".into(), false, vec!["r1@example.org"]),
            (
                None,
                "s:\"frob faster\" OR s:another".into(),
                false,
                vec!["a0@example.org", "b0@example.org"],
            ),
            (None, "s:widget AND NOT (f:bob OR s:\"0/2\")".into(), false, vec!["a1@example.org"]),
            (
                None,
                "s:\"widget: frob\" AND f:\"alice@example.org\"".into(),
                false,
                vec!["a0@example.org"],
            ),
            (None, "reviewed-by:bob".into(), false, vec!["r1@example.org"]),
            (None, "\"100%\"".into(), false, vec!["b0@example.org"]),
            (None, "rt:20000101..".into(), false, all.to_vec()),
            (None, "rt:946684800..".into(), false, all.to_vec()),
            (
                None,
                "f:\"alice@example.org\" AND dt:20240110093000..20240110100030".into(),
                false,
                vec!["a0@example.org"],
            ),
            (None, "dt:20240110100030..".into(), false, vec!["a1@example.org", "r1@example.org"]),
            (None, "rt:..20000101".into(), false, vec![]),
        ];
        for (project, q, threads, want) in cases {
            assert_eq!(
                ids(&store, project, &q, threads).await,
                want,
                "{project:?} {q} t={threads}"
            );
        }

        // Threads: whole, from any message; scoped to a list the message is in.
        let whole =
            store.inbox_thread(Some("p1"), "r1@example.org").await.expect("thread").expect("known");
        let order: Vec<&str> = whole.iter().map(|m| m.message_id.as_str()).collect();
        assert_eq!(order, ["a0@example.org", "a1@example.org", "r1@example.org"]);
        assert_eq!(whole[1].raw, PATCH.as_bytes());
        assert_eq!(
            store.inbox_thread(None, "<a0@example.org>").await.expect("thread").map(|t| t.len()),
            Some(3)
        );
        assert!(store.inbox_thread(Some("p2"), "a0@example.org").await.expect("thread").is_none());
        assert!(
            store.inbox_thread(Some("p1"), "../a0@example.org").await.expect("thread").is_none()
        );
        assert!(store.inbox_thread(None, "a\0b").await.expect("thread").is_none());
        assert_eq!(store.inbox_thread_ids(None, "a1@example.org").await.expect("ids").len(), 3);

        // Within one thread: only its messages that match, no expansion.
        let in_thread = |q: &'static str| {
            let store = store.clone();
            async move {
                let found = store
                    .inbox_search_thread(Some("p1"), "a1@example.org", q)
                    .await
                    .expect("search");
                found.map(|m| m.into_iter().map(|m| m.message_id).collect::<Vec<_>>())
            }
        };
        assert_eq!(
            in_thread("dt:20240111000000..").await,
            Some(vec!["r1@example.org".to_string()])
        );
        assert_eq!(in_thread("s:another").await, Some(vec![]));
        assert!(
            store
                .inbox_search_thread(Some("p2"), "a1@example.org", "s:x")
                .await
                .expect("search")
                .is_none()
        );

        // Big but bounded queries run (b4 sends one patchid: per patch).
        let big = format!("patchid:{pid} OR ") + &vec!["patchid:0"; 499].join(" OR ");
        assert_eq!(ids(&store, None, &big, false).await, ["a1@example.org"]);

        // As many words ANDed as the parser reads: the prefilter's SQL still runs.
        let and = "s:\"frob faster\" ".to_string() + &vec!["s:frob"; 499].join(" ");
        assert_eq!(ids(&store, None, &and, false).await, ["a0@example.org"], "500 terms ANDed");

        // Bad queries: one line naming the problem. The parser bounds the query (its length,
        // terms, and nesting of parentheses and negations alike).
        let deep = format!("{}a{}", "(".repeat(10_000), ")".repeat(10_000));
        let negated = format!("{}a", "-".repeat(3000));
        let nots = format!("{}a", "NOT ".repeat(3000));
        let long = "patchid:0 OR ".repeat(6000) + "patchid:1";
        let many = "patchid:0 OR ".repeat(600) + "patchid:1";
        for (bad, says) in [
            ("s:\"open", "unclosed quote"),
            ("is:rfc", "is:"),
            ("", "empty query"),
            ("a OR", "after `OR`"),
            (deep.as_str(), "nests 10000 deep at column 33"),
            (negated.as_str(), "nests 3000 deep at column 33"),
            (nots.as_str(), "nests 3000 deep at column 129"),
            (long.as_str(), "78009 bytes long"),
            (many.as_str(), "has 601 terms"),
        ] {
            match store.inbox_search(None, bad, false).await {
                Err(Error::Invalid(why)) => assert!(
                    why.contains(says) && !why.contains('\n'),
                    "{}: {why}",
                    &bad[..bad.len().min(40)]
                ),
                other => panic!("{}: {other:?}", &bad[..bad.len().min(40)]),
            }
        }
    }

    crate::both_backends!(search_on_both_backends, |store| search_semantics(store));

    #[test]
    fn time_ranges() {
        assert_eq!(time_range("20240101.."), Some((Some(1_704_067_200), None)));
        assert_eq!(time_range("..20240101"), Some((None, Some(1_704_067_200 + 86_400))));
        assert_eq!(
            time_range("20240101"),
            Some((Some(1_704_067_200), Some(1_704_067_200 + 86_400)))
        );
        assert_eq!(
            time_range("20240101000000..20240101000010"),
            Some((Some(1_704_067_200), Some(1_704_067_210)))
        );
        assert_eq!(time_range("1704067200.."), Some((Some(1_704_067_200), None)));
        assert_eq!(time_range("someone@example.org"), None);
        assert_eq!(time_range(".."), None);
        assert_eq!(time_range("20241399.."), None);
    }

    #[test]
    fn dt_terms_become_marked_phrases() {
        assert_eq!(
            with_dt_terms("f:\"a@b\" AND dt:20240101000000..20240101010000"),
            "f:\"a@b\" AND \"\u{1}dt:20240101000000..20240101010000\""
        );
        assert_eq!(with_dt_terms("(dt:2024..)"), "(\"\u{1}dt:2024..\")");
        assert_eq!(with_dt_terms("-dt:x NOT dt:y"), "-\"\u{1}dt:x\" NOT \"\u{1}dt:y\"");
        // Not at a word start, inside quotes, or empty: left alone.
        assert_eq!(with_dt_terms("s:\"a dt:1\" nodt:1 dt: é"), "s:\"a dt:1\" nodt:1 dt: é");
        let parsed = quire_query::parse(&with_dt_terms("dt:20240101000000..")).expect("parses");
        let Query::Term(t) = &parsed else { panic!("{parsed:?}") };
        assert!(matches!(dt_range(t), Some(Ok((Some(1_704_067_200), None)))));
        assert!(
            Plan::read("dt:yesterday..").expect_err("bad dt").to_string().contains("dt:yesterday")
        );
        // Odd inputs read without a panic, whatever they give.
        for odd in [
            "dt:é",
            "dtdt:1",
            "dt:\"",
            "\"dt:x",
            "dt:)(",
            "(((dt:",
            "dt:..",
            "DT:20240101..",
            "é dt:ü",
            "dt:\u{1}dt:1",
        ] {
            let _ = Plan::read(odd);
        }
    }

    #[test]
    fn like_patterns_escape_and_pick_the_longest_word() {
        assert_eq!(
            like_word("change-id: 20240101-foo_bar").as_deref(),
            Some("%20240101-foo\\_bar%")
        );
        assert_eq!(like_word("100%"), Some("%100\\%%".into()));
        assert_eq!(like_word("Ünïcode"), None);
        assert_eq!(like_word("   "), None);
    }

    #[test]
    fn prefilters_only_constrain_what_every_match_meets() {
        let q = |s: &str| quire_query::parse(s).expect(s);
        assert!(constrains(&q("patchid:abc OR patchid:def")));
        assert!(!constrains(&q("patchid:abc OR t:someone")));
        assert!(constrains(&q("patchid:abc AND t:someone")));
        assert!(!constrains(&q("NOT s:foo")));
        assert!(constrains(&q("(nq:\"change-id: X\") AND d:20240101..")));
        assert!(!constrains(&q("f:\"A Person <a@b>\"")));
    }

    #[test]
    fn series_terms_are_refused_with_a_reason() {
        for bad in
            ["is:rfc", "state:merged", "version:2", "has:replies", "check:ci=pass", "project:ltp"]
        {
            let parsed = quire_query::parse(bad).expect(bad);
            let err = Plan::new(&parsed).expect_err(bad).to_string();
            assert!(err.contains(bad.split(':').next().unwrap_or(bad)), "{bad}: {err}");
        }
    }

    #[test]
    fn quoted_and_diff_sides() {
        let body = "Hi,\n> quoted change-id: Q\nchange-id: N\n";
        assert_eq!(lines_where(body, |l| !is_quoted(l)), "Hi,\nchange-id: N");
        let diff = "--- a/x\n+++ b/x\n@@ -1 +1 @@\n-old line\n+new line\n";
        assert_eq!(diff_side(diff, '-'), "old line");
        assert_eq!(diff_side(diff, '+'), "new line");
        assert!(contains("Foo   BAR baz", "foo bar"));
        assert!(!contains("foo", "foo bar"));
    }
}
