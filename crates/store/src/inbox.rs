//! What public-inbox clients (b4, lei) ask an archive for: the whole thread of a message as raw
//! mails, and the messages a search query matches (optionally expanded to their threads).
//!
//! A query is compiled once into one SQL statement over the message index of migration 0050
//! (issue 26): every term is an index lookup — words and phrases in the part of the message
//! public-inbox's prefix names (`message_text`: FTS5 on SQLite, a GIN-indexed tsvector on
//! PostgreSQL, so that every `quire serve` on the database answers the same), trailers in
//! `message_trailers`, and `patchid:`, `m:`, `d:`/`dt:` and `rt:` on indexed columns of
//! `messages` — combined with the query's AND/OR/NOT. No message is read to decide whether
//! it matches; results are newest first (by arrival in the store).
//!
//! Prefixes follow public-inbox: `s:` subject, `f:` From, `t:` To, `c:` Cc, `a:` any of
//! them, `tc:` To or Cc, `l:` List-Id, `b:` body and diff, `bs:` subject or body, `nq:`
//! unquoted text, `q:` quoted lines, `dfn:` a file the diff touches, `dfa:` removed (`-`)
//! lines, `dfb:` added (`+`) lines, `dfctx:` context lines, `dfhh:` hunk headers' function
//! names, `dfpre:`/`dfpost:` blob ids, `patchid:` `git patch-id --stable`, `m:` Message-ID,
//! `d:` date range, `dt:` date-time range, `rt:` received-time range, and any trailer
//! (`reviewed-by:`, `change-id:`, `fixes:`...). Words are matched as public-inbox matches
//! them: whole words (a trailing `*` makes the last one a prefix), a value of several words
//! (`f:linus.walleij`, `"a phrase"`) as a phrase; trailers contain the value.

pub(crate) use quire_query::{Field, Query, Term};

pub(crate) use crate::error::{Error, Result};
pub(crate) use crate::message_text::{self, Match};
pub(crate) use crate::{Pool, Store, clean};

/// One stored mail as a public-inbox mbox carries it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboxMail {
    pub message_id: String,
    /// Unix seconds of the Date header, when it had one.
    pub date: Option<i64>,
    /// The bytes as first received.
    pub raw: Vec<u8>,
}

/// Matches one search answers at most (before expanding to threads), from its offset `o=`.
/// public-inbox streams every match; quire stops here and says so (`InboxHits::more`, which
/// the web answers with an `X-Quire-Search-More` header and a `Link: rel=next` giving the
/// next offset).
pub const MAX_MATCHES: usize = 10_000;
/// Messages a thread expansion returns at most, so a query cannot ask for the whole archive.
pub const MAX_EXPANDED: usize = 10_000;

/// The messages a search found: raw row ids in answer order (newest match first; with thread
/// expansion, thread by thread, oldest first within one), read with [`Store::inbox_mails`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InboxHits {
    pub ids: Vec<i64>,
    /// Where the matches began (`o=`).
    pub offset: usize,
    /// More matches follow [`MAX_MATCHES`] after `offset` (or the thread expansion stopped
    /// at [`MAX_EXPANDED`]).
    pub more: bool,
}

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
            Pool::Sqlite(p, _) => crate::sqlite::inbox::thread(p, project, message_id).await,
            Pool::Pg(p) => crate::pg::inbox::thread(p, project, message_id).await,
        }
    }

    /// The messages matching the public-inbox query `query` (within `project` when given),
    /// newest first, at most [`MAX_MATCHES`] from `offset`; with `threads`, every message of
    /// their threads instead (oldest first within a thread, at most [`MAX_EXPANDED`]). A
    /// query that does not parse (past quire-query's limits too), or uses a series-only term
    /// (`is:`, `state:`...), is [`Error::Invalid`] with one line naming the problem; one the
    /// database refuses as too large for it is an [`Error::BadQuery`] saying so.
    pub async fn inbox_search_hits(
        &self,
        project: Option<&str>,
        query: &str,
        threads: bool,
        offset: usize,
    ) -> Result<InboxHits> {
        let plan = Plan::read(query)?;
        match &*self.pool {
            Pool::Sqlite(p, _) => {
                crate::sqlite::inbox::search(p, project, None, &plan, threads, offset, MAX_MATCHES)
                    .await
            }
            Pool::Pg(p) => {
                crate::pg::inbox::search(p, project, None, &plan, threads, offset, MAX_MATCHES)
                    .await
            }
        }
    }

    /// The stored mails of raw row ids `ids` (as [`InboxHits`] gives them), in that order;
    /// ids not stored are left out.
    pub async fn inbox_mails(&self, ids: &[i64]) -> Result<Vec<InboxMail>> {
        match &*self.pool {
            Pool::Sqlite(p, _) => crate::sqlite::inbox::mails(p, ids).await,
            Pool::Pg(p) => crate::pg::inbox::mails(p, ids).await,
        }
    }

    /// [`Store::inbox_search_hits`] from the first match, with the mails read.
    pub async fn inbox_search(
        &self,
        project: Option<&str>,
        query: &str,
        threads: bool,
    ) -> Result<Vec<InboxMail>> {
        let hits = self.inbox_search_hits(project, query, threads, 0).await?;
        self.inbox_mails(&hits.ids).await
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
        let hits = match &*self.pool {
            Pool::Sqlite(p, _) => {
                let Some(key) = crate::sqlite::inbox::thread_key(p, project, message_id).await?
                else {
                    return Ok(None);
                };
                crate::sqlite::inbox::search(p, project, Some(&key), &plan, false, 0, MAX_EXPANDED)
                    .await?
            }
            Pool::Pg(p) => {
                let Some(key) = crate::pg::inbox::thread_key(p, project, message_id).await? else {
                    return Ok(None);
                };
                crate::pg::inbox::search(p, project, Some(&key), &plan, false, 0, MAX_EXPANDED)
                    .await?
            }
        };
        self.inbox_mails(&hits.ids).await.map(Some)
    }

    /// The Message-IDs of the thread of `message_id` (as [`Store::inbox_thread`], without the
    /// bytes), oldest first; empty when there is no such message.
    pub async fn inbox_thread_ids(
        &self,
        project: Option<&str>,
        message_id: &str,
    ) -> Result<Vec<String>> {
        match &*self.pool {
            Pool::Sqlite(p, _) => crate::sqlite::inbox::thread_ids(p, project, message_id).await,
            Pool::Pg(p) => crate::pg::inbox::thread_ids(p, project, message_id).await,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The query, checked once.

/// Marks a `dt:` term carried through quire-query as a phrase: quire-query does not know
/// public-inbox's `dt:` (a date-time range on the Date header, `YYYYMMDDHHMMSS..`, which b4
/// sends), so `dt:V` is rewritten to the phrase `"<DT>V"` and read back from it here.
pub(crate) const DT: &str = "\u{1}dt:";

/// `query` with every `dt:VALUE` term written as the phrase `"\u{1}dt:VALUE"`.
pub(crate) fn with_dt_terms(query: &str) -> String {
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
pub(crate) fn dt_range(t: &Term) -> Option<Result<(Option<i64>, Option<i64>)>> {
    let Term::Text { value, .. } = t else { return None };
    let v = value.strip_prefix(DT)?;
    Some(time_range(v).ok_or_else(|| {
        Error::Invalid(format!(
            "`dt:{v}` is not a date-time range: write `dt:YYYYMMDDHHMMSS..YYYYMMDDHHMMSS`"
        ))
    }))
}

/// A query ready to run: the AST, checked for terms that mean nothing for single messages.
#[derive(Debug)]
pub(crate) struct Plan {
    pub(crate) query: Query,
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
        check(query)?;
        Ok(Plan { query: query.clone() })
    }
}

pub(crate) fn check(q: &Query) -> Result<()> {
    match q {
        Query::And(parts) | Query::Or(parts) => parts.iter().try_for_each(check),
        Query::Not(inner) => check(inner),
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
                Term::Text { .. } => dt_range(t).map_or(Ok(()), |r| r.map(|_| ())),
                _ => Ok(()),
            }
        }
    }
}

/// `rt:` is public-inbox's received-time range; quire-query keeps its value as text (it also
/// reads `rt:` as "recipients" for its own searches). A value that reads as a range is a
/// received time, `[from, to)` in Unix seconds; anything else is matched against To and Cc.
pub(crate) fn time_range(v: &str) -> Option<(Option<i64>, Option<i64>)> {
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
pub(crate) enum Granularity {
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
pub(crate) fn instant(s: &str) -> Option<(i64, Granularity)> {
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
// The query, compiled to index lookups.

/// What one term looks up: a phrase in some parts of the message index, a trailer, a column
/// test, or nothing (a value without a word: it matches no message).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Lookup {
    Words(Match),
    Trailer {
        tag: String,
        pattern: String,
    },
    PatchId(String),
    MessageId(String),
    /// `[from, to)` in Unix seconds on `messages.date` or `messages.received`.
    Date {
        from: Option<i64>,
        to: Option<i64>,
    },
    Received {
        from: Option<i64>,
        to: Option<i64>,
    },
    Nothing,
}

pub(crate) fn words(parts: &'static [&'static str], value: &str) -> Lookup {
    Match::new(parts, value).map_or(Lookup::Nothing, Lookup::Words)
}

/// `%value%` for LIKE, lowercased, wildcards escaped (with `ESCAPE '\'`).
pub(crate) fn like_contains(v: &str) -> String {
    let mut p = String::with_capacity(v.len() + 2);
    p.push('%');
    for ch in v.trim().to_lowercase().chars() {
        if matches!(ch, '%' | '_' | '\\') {
            p.push('\\');
        }
        p.push(ch);
    }
    p.push('%');
    p
}

pub(crate) fn days(d: Option<i64>) -> Option<i64> {
    d.map(|d| d.saturating_mul(86_400))
}

/// The lookup of one term (terms `check` refused never get here: they look up nothing).
pub(crate) fn lookup(t: &Term, now: i64) -> Lookup {
    use message_text::{BODY, SUBJECT_OR_BODY, TEXT};
    match t {
        Term::Text { value, .. } => match dt_range(t) {
            Some(Ok((from, to))) => Lookup::Date { from, to },
            Some(Err(_)) => Lookup::Nothing,
            None => words(TEXT, value),
        },
        Term::Date { after, before } => Lookup::Date { from: days(*after), to: days(*before) },
        Term::Age { younger, seconds } => {
            let edge = now.saturating_sub(*seconds);
            if *younger {
                Lookup::Date { from: Some(edge), to: None }
            } else {
                Lookup::Date { from: None, to: Some(edge) }
            }
        }
        Term::Trailer { tag, value } => {
            Lookup::Trailer { tag: tag.clone(), pattern: like_contains(value) }
        }
        Term::Field { field, value } => match field {
            Field::Subject => words(&["s"], value),
            Field::From => words(&["f"], value),
            Field::To => words(&["t"], value),
            Field::Cc => words(&["c"], value),
            Field::Addresses => words(&["f", "t", "c"], value),
            Field::ToOrCc => words(&["t", "c"], value),
            Field::ListId => words(&["l"], value),
            Field::Body => words(BODY, value),
            Field::SubjectOrBody => words(SUBJECT_OR_BODY, value),
            Field::NonQuoted => words(&["nq"], value),
            Field::Quoted => words(&["q"], value),
            Field::File => words(&["dfn"], value),
            Field::DiffRemoved => words(&["dfa"], value),
            Field::DiffAdded => words(&["dfb"], value),
            Field::DiffContext => words(&["dfctx"], value),
            Field::DiffHunkHeader => words(&["dfhh"], value),
            Field::DiffPreImage => words(&["dfpre"], value),
            Field::DiffPostImage => words(&["dfpost"], value),
            Field::Recipients => match time_range(value) {
                Some((from, to)) => Lookup::Received { from, to },
                None => words(&["t", "c"], value),
            },
            Field::PatchId => Lookup::PatchId(value.trim().to_ascii_lowercase()),
            Field::MessageId => Lookup::MessageId(bare(value)),
            Field::Project | Field::Awaiting => Lookup::Nothing,
        },
        Term::Version(_) | Term::Is(_) | Term::Has(_) | Term::State(_) | Term::Check { .. } => {
            Lookup::Nothing
        }
    }
}

/// A Message-ID as stored and looked up.
pub(crate) fn bare(v: &str) -> String {
    clean(v.trim().trim_start_matches('<').trim_end_matches('>')).into_owned()
}

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
    /// A single patch as b4 sends it: `base-commit:` and `change-id:` below the diff, a
    /// Received: header, a List-Id, a hunk header naming a function.
    const SINGLE: &str = "Received: from mx.example.org by lists.example.org; Mon, 05 Feb 2024 12:00:00 +0000\n\
        From: Erin <erin@example.org>\nTo: list2@example.org\nCc: Frank Reviewer <frank@example.org>\n\
        List-Id: <list2.example.org>\nSubject: [PATCH] gadget: tidy\nDate: Mon, 05 Feb 2024 11:59:00 +0000\n\
        Message-ID: <s1@example.org>\n\nTidy it.\n\nRelease-Acked-by: Grace <grace@example.org>\n\
        Signed-off-by: Erin <erin@example.org>\n---\n\
        diff --git a/gadget.c b/gadget.c\nindex 0123abc..4567def 100644\n--- a/gadget.c\n+++ b/gadget.c\n\
        @@ -10,3 +10,3 @@ static void gadget_probe(void)\n keep_me();\n-untidy();\n+tidy();\n more();\n\
        \n---\nbase-commit: 0123456789abcdef\nchange-id: 20240205-gadget-tidy-1a2b\n\nBest regards,\n-- \nErin\n";

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
        let batch = [COVER, PATCH, REVIEW, OTHER, SINGLE]
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

        let all = [
            "a0@example.org",
            "a1@example.org",
            "b0@example.org",
            "r1@example.org",
            "s1@example.org",
        ];
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
            (None, "t:list2".into(), false, vec!["b0@example.org", "s1@example.org"]),
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
            (
                None,
                "dt:20240110100030..".into(),
                false,
                vec!["a1@example.org", "r1@example.org", "s1@example.org"],
            ),
            (None, "rt:..20000101".into(), false, vec![]),
            // Issue 26: the prefixes public-inbox has, trailers, text below the diff.
            (
                None,
                "nq:\"change-id: 20240205-gadget-tidy-1a2b\"".into(),
                false,
                vec!["s1@example.org"],
            ),
            (None, "change-id:20240205-gadget-tidy-1a2b".into(), false, vec!["s1@example.org"]),
            (None, "base-commit:0123456789".into(), false, vec!["s1@example.org"]),
            (None, "release-acked-by:grace".into(), false, vec!["s1@example.org"]),
            (
                None,
                "signed-off-by:erin OR signed-off-by:alice".into(),
                false,
                vec!["a1@example.org", "s1@example.org"],
            ),
            (None, "a:frank".into(), false, vec!["s1@example.org"]),
            (None, "a:dave".into(), false, vec!["b0@example.org"]),
            (None, "tc:carol".into(), false, vec!["a0@example.org"]),
            (None, "tc:alice".into(), false, vec![]),
            (None, "l:list2.example.org".into(), false, vec!["s1@example.org"]),
            (None, "dfhh:gadget_probe".into(), false, vec!["s1@example.org"]),
            (None, "dfctx:keep_me".into(), false, vec!["s1@example.org"]),
            (None, "dfctx:tidy".into(), false, vec![]),
            (None, "dfpre:0123abc dfpost:4567def".into(), false, vec!["s1@example.org"]),
            (None, "dfn:gadget.c".into(), false, vec!["s1@example.org"]),
            (None, "gadg*".into(), false, vec!["s1@example.org"]),
            (None, "b:\"tidy more\"".into(), false, vec![]),
            (None, "dfb:tidy -s:gadget".into(), false, vec![]),
            (None, "rt:20240205..20240206".into(), false, vec!["s1@example.org"]),
            (None, "rt:20240205120000..20240205120001".into(), false, vec!["s1@example.org"]),
            (None, "zzzxqy".into(), false, vec![]),
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

        // A reindex rebuilds the index: the same answers after it (received times too).
        store.reindex(|_, _| {}).await.expect("reindex");
        for q in
            ["change-id:20240205-gadget-tidy-1a2b", "dfhh:gadget_probe", "rt:20240205..20240206"]
        {
            assert_eq!(ids(&store, None, q, false).await, ["s1@example.org"], "{q} after reindex");
        }
        assert_eq!(
            ids(&store, Some("p1"), "b:frob_fast", false).await,
            ["a1@example.org", "r1@example.org"]
        );

        // As many trailer terms ANDed: PostgreSQL plans it in bounded time.
        let trailers = vec!["signed-off-by:erin"; 500].join(" ");
        assert_eq!(ids(&store, None, &trailers, false).await, ["s1@example.org"], "500 trailers");

        // Offsets: the newest match first, then on from `o=`; `more` when matches follow.
        let all_hits =
            store.inbox_search_hits(None, "rt:20000101..", false, 0).await.expect("hits");
        assert_eq!((all_hits.ids.len(), all_hits.more), (5, false));
        let from_two =
            store.inbox_search_hits(None, "rt:20000101..", false, 2).await.expect("hits");
        assert_eq!(from_two.ids, all_hits.ids[2..]);
        assert_eq!(from_two.offset, 2);
        let mut sorted = all_hits.ids.clone();
        sorted.sort_unstable_by(|a, b| b.cmp(a));
        assert_eq!(all_hits.ids, sorted, "newest first");
        let mails = store.inbox_mails(&all_hits.ids[..2]).await.expect("mails");
        assert_eq!(mails.len(), 2);

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
    fn series_terms_are_refused_with_a_reason() {
        for bad in
            ["is:rfc", "state:merged", "version:2", "has:replies", "check:ci=pass", "project:ltp"]
        {
            let parsed = quire_query::parse(bad).expect(bad);
            let err = Plan::new(&parsed).expect_err(bad).to_string();
            assert!(err.contains(bad.split(':').next().unwrap_or(bad)), "{bad}: {err}");
        }
    }
}
