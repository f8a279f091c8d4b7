//! The maintainers' workflow, Patchwork's way: users with per-project roles, user tokens, a
//! state per patch (new, under-review, accepted, ... superseded), delegates, archiving, and
//! bundles of patches. None of it is derived from mail: it survives a reindex because patches
//! are named by their raw message row id.
//!
//! Numbering (stable across reindex): a patch, a cover letter and a comment are their raw
//! message row id; a series is its head's raw row id; a person (a submitter) is the row id of
//! their first message.
//!
//! `superseded` is set automatically: a patch whose state is still `new` or `under-review`
//! reads `superseded` as soon as a newer revision of its series is stored (also after a
//! reindex, since it is worked out on read). A state a maintainer chose otherwise is kept.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::{Page, Pool, Result, Store, Token};

/// Patch states, in Patchwork's order.
pub const PATCH_STATES: &[&str] = &[
    "new",
    "under-review",
    "accepted",
    "rejected",
    "rfc",
    "not-applicable",
    "changes-requested",
    "awaiting-upstream",
    "superseded",
    "deferred",
];

/// Roles a user can have in a project.
pub const ROLES: &[&str] = &["maintainer", "reviewer", "tester", "admin"];

/// The scope of a token that acts as its user (the user's roles say what it may do).
pub const USER_SCOPE: &str = "user";

/// An account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    pub id: i64,
    pub username: String,
    pub email: String,
    pub name: String,
    pub created: i64,
}

/// A submitter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Person {
    pub id: i64,
    pub name: String,
    pub email: String,
}

/// A project with its row id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProjectRef {
    pub id: i64,
    pub config: crate::ProjectConfig,
}

/// A patch as Patchwork shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PatchInfo {
    pub id: i64,
    pub message_id: String,
    pub project: String,
    pub project_id: i64,
    pub subject: String,
    pub submitter: Person,
    pub date: i64,
    /// Patchwork's hash of its diff (`quire_mail::diff::patchwork_hash`); None for rows stored
    /// before migration 0030 until a reindex.
    pub hash: Option<String>,
    pub state: String,
    pub archived: bool,
    pub delegate: Option<User>,
    pub commit_ref: Option<String>,
    /// The series: its id (head row id), head Message-ID, name, version, date; and the
    /// patch's number in it.
    pub series_id: i64,
    pub series_head: String,
    pub series_name: String,
    pub series_version: u32,
    pub series_date: i64,
    pub number: u32,
    /// Patches the series announces.
    pub series_total: u32,
}

/// How lists are ordered: a column and a direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Order {
    #[default]
    DateDesc,
    Date,
    Id,
    IdDesc,
    Name,
    NameDesc,
}

impl Order {
    /// Patchwork's `order=` values: `date`, `-date`, `id`, `-id`, `name`, `-name`.
    pub fn parse(s: &str) -> Option<Order> {
        Some(match s {
            "date" => Order::Date,
            "-date" => Order::DateDesc,
            "id" => Order::Id,
            "-id" => Order::IdDesc,
            "name" => Order::Name,
            "-name" => Order::NameDesc,
            _ => return None,
        })
    }
}

/// Which patches to list. Empty vectors mean "any"; values inside one vector are OR'd.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatchFilter {
    pub project: Option<String>,
    pub states: Vec<String>,
    pub archived: Option<bool>,
    /// Person ids or e-mail addresses.
    pub submitters: Vec<String>,
    /// User ids or usernames.
    pub delegates: Vec<String>,
    /// Patchwork's hash (40 hex digits, any case).
    pub hash: Option<String>,
    /// Without angle brackets.
    pub msgid: Option<String>,
    pub series: Option<i64>,
    /// Unix seconds, inclusive / exclusive.
    pub since: Option<i64>,
    pub before: Option<i64>,
    /// Words that must all be in the subject.
    pub words: Vec<String>,
    pub order: Order,
    pub page: u32,
    pub per_page: u32,
}

impl Default for PatchFilter {
    fn default() -> Self {
        PatchFilter {
            project: None,
            states: Vec::new(),
            archived: None,
            submitters: Vec::new(),
            delegates: Vec::new(),
            hash: None,
            msgid: None,
            series: None,
            since: None,
            before: None,
            words: Vec::new(),
            order: Order::DateDesc,
            page: 1,
            per_page: 30,
        }
    }
}

/// Which series to list (Patchwork's view).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeriesQuery {
    pub project: Option<String>,
    pub submitters: Vec<String>,
    pub since: Option<i64>,
    pub before: Option<i64>,
    pub words: Vec<String>,
    pub order: Order,
    pub page: u32,
    pub per_page: u32,
}

impl Default for SeriesQuery {
    fn default() -> Self {
        SeriesQuery {
            project: None,
            submitters: Vec::new(),
            since: None,
            before: None,
            words: Vec::new(),
            order: Order::DateDesc,
            page: 1,
            per_page: 30,
        }
    }
}

/// Filters of the cover letters' list (Patchwork's `covers/`): every one narrows it.
#[derive(Debug, Clone)]
pub struct CoverQuery {
    pub project: Option<String>,
    /// Submitters' person ids or e-mail addresses; any of them.
    pub submitters: Vec<String>,
    /// The cover letter's date, from (inclusive) and before (exclusive).
    pub since: Option<i64>,
    pub before: Option<i64>,
    /// Words the cover letter's subject contains, all of them.
    pub words: Vec<String>,
    /// The cover letter's Message-ID, with or without its angle brackets.
    pub msgid: Option<String>,
    /// The series' id (its head's row id).
    pub series: Option<i64>,
    pub order: Order,
    pub page: u32,
    pub per_page: u32,
}

impl Default for CoverQuery {
    fn default() -> Self {
        CoverQuery {
            project: None,
            submitters: Vec::new(),
            since: None,
            before: None,
            words: Vec::new(),
            msgid: None,
            series: None,
            order: Order::DateDesc,
            page: 1,
            per_page: 30,
        }
    }
}

/// A member of a series (cover letter or patch) as Patchwork lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeriesMember {
    pub id: i64,
    pub message_id: String,
    pub subject: String,
    pub date: i64,
    /// 0 for the cover letter.
    pub number: u32,
}

/// A series with its numeric id and members.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeriesInfo {
    /// The head's raw row id.
    pub id: i64,
    pub project_id: i64,
    pub summary: crate::SeriesSummary,
    pub submitter_id: i64,
    pub cover: Option<SeriesMember>,
    pub patches: Vec<SeriesMember>,
}

/// A reply to a patch or a cover letter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Comment {
    pub id: i64,
    pub message_id: String,
    pub subject: String,
    pub submitter: Person,
    pub date: i64,
    pub body: String,
}

/// What a maintainer changes on a patch; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PatchUpdate {
    pub state: Option<String>,
    /// `Some(None)` removes the delegate.
    pub delegate: Option<Option<i64>>,
    pub archived: Option<bool>,
    pub commit_ref: Option<Option<String>>,
}

/// A named list of patches.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bundle {
    pub id: i64,
    pub owner: User,
    pub project_id: i64,
    pub project: String,
    pub name: String,
    pub public: bool,
    /// Patch ids, in the bundle's order.
    pub patches: Vec<i64>,
}

/// An event with the fields Patchwork's event list filters on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventQuery {
    pub project: Option<String>,
    pub kinds: Vec<String>,
    pub page: u32,
    pub per_page: u32,
}

fn check_state(state: &str) -> Result<()> {
    if PATCH_STATES.contains(&state) {
        Ok(())
    } else {
        Err(crate::Error::Invalid(format!(
            "unknown patch state {state:?}: use one of {}",
            PATCH_STATES.join(", ")
        )))
    }
}

impl Store {
    /// Adds an account; the username must be new.
    pub async fn add_user(&self, username: &str, email: &str, name: &str) -> Result<User> {
        let username = username.trim();
        if username.is_empty()
            || username.len() > crate::accounts::MAX_USERNAME_LEN
            || !username.chars().all(|c| c.is_ascii_alphanumeric() || "-_.@".contains(c))
        {
            return Err(crate::Error::Invalid(format!(
                "bad username {username:?}: letters, digits, `-_.@`, at most 100"
            )));
        }
        if !email.contains('@') {
            return Err(crate::Error::Invalid(format!(
                "bad e-mail address {email:?}: it needs an @"
            )));
        }
        on_backend!(self.pool, |p, m| m::workflow::add_user(p, username, email.trim(), name.trim())
            .await)
    }

    /// Every account, by id; with `q`, those whose username, e-mail or name contains it.
    pub async fn users(&self, q: Option<&str>) -> Result<Vec<User>> {
        on_backend!(self.pool, |p, m| m::workflow::users(p, q).await)
    }

    pub async fn user(&self, id: i64) -> Result<Option<User>> {
        on_backend!(self.pool, |p, m| m::workflow::user(p, id).await)
    }

    pub async fn user_by_name(&self, username: &str) -> Result<Option<User>> {
        Ok(self.users(None).await?.into_iter().find(|u| u.username == username))
    }

    /// Gives `user` `role` in `project` (both must exist).
    pub async fn grant_role(&self, user_id: i64, project: &str, role: &str) -> Result<()> {
        if !ROLES.contains(&role) {
            return Err(crate::Error::Invalid(format!(
                "unknown role {role:?}: use one of {}",
                ROLES.join(", ")
            )));
        }
        on_backend!(self.pool, |p, m| m::workflow::grant_role(p, user_id, project, role).await)
    }

    /// The (project, role) pairs of a user.
    pub async fn roles(&self, user_id: i64) -> Result<Vec<(String, String)>> {
        on_backend!(self.pool, |p, m| m::workflow::roles(p, user_id).await)
    }

    /// Whether `user` may change patches of `project` (maintainer or admin there).
    pub async fn may_maintain(&self, user_id: i64, project: &str) -> Result<bool> {
        Ok(self
            .roles(user_id)
            .await?
            .iter()
            .any(|(p, r)| p == project && (r == "maintainer" || r == "admin")))
    }

    /// Creates a token that acts as `user` (scope [`USER_SCOPE`]); returns it and its secret.
    pub async fn create_user_token(&self, name: &str, user_id: i64) -> Result<(Token, String)> {
        if self.user(user_id).await?.is_none() {
            return Err(crate::Error::Invalid(format!("no user with id {user_id}")));
        }
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes)
            .map_err(|e| crate::Error::Invalid(format!("no randomness for a token: {e}")))?;
        let secret = format!("quire_{}", hex::encode(bytes));
        let hash = crate::derive::sha256_hex(secret.as_bytes());
        let id =
            on_backend!(self.pool, |p, m| m::workflow::create_user_token(p, name, &hash, user_id)
                .await)?;
        Ok((
            Token {
                id,
                name: name.to_string(),
                scope: USER_SCOPE.to_string(),
                created: crate::now(),
            },
            secret,
        ))
    }

    /// The live token whose secret this is, with its user if it has one.
    pub async fn token_user(&self, secret: &str) -> Result<Option<(Token, Option<User>)>> {
        let Some(token) = self.check_token(secret).await? else { return Ok(None) };
        let user = on_backend!(self.pool, |p, m| m::workflow::token_owner(p, token.id).await)?;
        Ok(Some((token, user)))
    }

    /// Every project with its row id.
    pub async fn project_refs(&self) -> Result<Vec<ProjectRef>> {
        on_backend!(self.pool, |p, m| m::workflow::project_refs(p).await)
    }

    /// Patches, filtered and paged.
    pub async fn patches(&self, f: &PatchFilter) -> Result<Page<PatchInfo>> {
        for s in &f.states {
            check_state(s)?;
        }
        on_backend!(self.pool, |p, m| m::workflow::patches(p, f).await)
    }

    /// One patch by id.
    pub async fn patch(&self, id: i64) -> Result<Option<PatchInfo>> {
        let f = PatchFilter { per_page: 1, ..Default::default() };
        on_backend!(self.pool, |p, m| m::workflow::patch(p, id, &f).await)
    }

    /// Changes a patch's state, delegate, archived flag or commit; records a
    /// `patch-state-changed` (and `patch-delegated`) event naming `by` and the change. The
    /// caller checks that `by` may.
    pub async fn update_patch(
        &self,
        id: i64,
        change: &PatchUpdate,
        by: &User,
    ) -> Result<Option<PatchInfo>> {
        if let Some(s) = &change.state {
            check_state(s)?;
        }
        if let Some(Some(d)) = change.delegate
            && self.user(d).await?.is_none()
        {
            return Err(crate::Error::Invalid(format!("no user with id {d} to delegate to")));
        }
        let Some(before) = self.patch(id).await? else { return Ok(None) };
        on_backend!(self.pool, |p, m| m::workflow::update_patch(p, &before, change, by).await)?;
        self.patch(id).await
    }

    /// Series, filtered and paged.
    pub async fn series_infos(&self, q: &SeriesQuery) -> Result<Page<SeriesInfo>> {
        on_backend!(self.pool, |p, m| m::workflow::series_infos(p, q).await)
    }

    /// One series by id (its head's row id).
    pub async fn series_info(&self, id: i64) -> Result<Option<SeriesInfo>> {
        on_backend!(self.pool, |p, m| m::workflow::series_info(p, id).await)
    }

    /// The id of the series headed by `head` (its row id), if one is.
    pub async fn series_id_of_head(&self, head: &str) -> Result<Option<i64>> {
        on_backend!(self.pool, |p, m| m::workflow::series_id_of_head(p, head).await)
    }

    /// The Message-ID of a stored message row.
    pub async fn message_id_of(&self, id: i64) -> Result<Option<String>> {
        on_backend!(self.pool, |p, m| m::workflow::message_id_of(p, id).await)
    }

    /// Cover letters (as series members), filtered by project, newest first.
    pub async fn covers(&self, q: &CoverQuery) -> Result<Page<(String, SeriesInfo)>> {
        on_backend!(self.pool, |p, m| m::workflow::covers(p, q).await)
    }

    /// The series whose cover letter is message row `id`.
    pub async fn cover(&self, id: i64) -> Result<Option<SeriesInfo>> {
        on_backend!(self.pool, |p, m| m::workflow::cover(p, id).await)
    }

    /// The comments of the patch or cover letter of message row `id`, oldest first: every
    /// other mail of its thread that Patchwork attaches to it ([`attach_comments`]).
    pub async fn comments(&self, id: i64) -> Result<Vec<Comment>> {
        on_backend!(self.pool, |p, m| m::workflow::comments(p, id).await)
    }

    /// Submitters (of `project`), whose name or e-mail contains `q`.
    pub async fn people(
        &self,
        project: Option<&str>,
        q: Option<&str>,
        page: u32,
        per_page: u32,
    ) -> Result<Page<Person>> {
        on_backend!(self.pool, |p, m| m::workflow::people(p, project, q, page, per_page).await)
    }

    pub async fn person(&self, id: i64) -> Result<Option<Person>> {
        on_backend!(self.pool, |p, m| m::workflow::person(p, id).await)
    }

    /// Creates a bundle of `patches` (ids; all in `project`) owned by `owner`.
    pub async fn create_bundle(
        &self,
        owner: &User,
        project: &str,
        name: &str,
        public: bool,
        patches: &[i64],
    ) -> Result<Bundle> {
        let name = name.trim();
        if name.is_empty() || name.len() > 200 {
            return Err(crate::Error::Invalid(
                "a bundle needs a name of at most 200 characters".into(),
            ));
        }
        for &id in patches {
            match self.patch(id).await? {
                Some(p) if p.project == project => {}
                Some(p) => {
                    return Err(crate::Error::Invalid(format!(
                        "patch {id} is in project {}, not {project}",
                        p.project
                    )));
                }
                None => return Err(crate::Error::Invalid(format!("no patch {id}"))),
            }
        }
        let id = on_backend!(self.pool, |p, m| m::workflow::create_bundle(
            p, owner.id, project, name, public, patches
        )
        .await)?;
        self.bundle(id).await?.ok_or_else(|| crate::Error::Invalid(format!("bundle {id} vanished")))
    }

    /// Bundles visible to `viewer` (public ones and the viewer's own), by name.
    pub async fn bundles(&self, project: Option<&str>, viewer: Option<i64>) -> Result<Vec<Bundle>> {
        on_backend!(self.pool, |p, m| m::workflow::bundles(p, project, viewer, None).await)
    }

    pub async fn bundle(&self, id: i64) -> Result<Option<Bundle>> {
        Ok(on_backend!(self.pool, |p, m| m::workflow::bundles(p, None, None, Some(id)).await)?
            .into_iter()
            .next())
    }

    /// Events, newest first, filtered by project and kind, paged.
    pub async fn events_page(&self, q: &EventQuery) -> Result<Page<crate::Event>> {
        on_backend!(self.pool, |p, m| m::workflow::events_page(p, q).await)
    }
}

/// A mail of a thread, as [`attach_comments`] needs it.
#[derive(Debug, Clone)]
pub(crate) struct ThreadMail {
    pub id: i64,
    pub message_id: String,
    /// A patch or pull request (Patchwork's Patch), a cover letter, or neither (a comment).
    pub submission: Option<Submission>,
    /// In-Reply-To, then References from the nearest ancestor back, as Patchwork reads them.
    pub ancestors: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Submission {
    Patch,
    Cover,
}

/// Which patch or cover letter each comment of a thread belongs to, as Patchwork's parser
/// attaches comments (`find_patch_for_comment`, then `find_cover_for_comment`): the first
/// ancestor that is a patch, or a comment attached to a patch; failing that, the first that is a
/// cover letter, or a comment attached to one. So a reply to a reply to a patch is the patch's
/// comment, however deep, and a mail whose parent is missing still finds the patch through its
/// References. Returns (comment row, submission row) pairs.
pub(crate) fn attach_comments(thread: &[ThreadMail]) -> Vec<(i64, i64)> {
    let by_id: HashMap<&str, usize> =
        thread.iter().enumerate().map(|(i, m)| (m.message_id.as_str(), i)).collect();
    // None: not worked out yet; Some(None): attached nowhere (or being worked out: a cycle of
    // References, which hostile mail can make, attaches nowhere).
    let mut attached: Vec<Option<Option<(Submission, usize)>>> = vec![None; thread.len()];
    fn attach(
        i: usize,
        thread: &[ThreadMail],
        by_id: &HashMap<&str, usize>,
        attached: &mut Vec<Option<Option<(Submission, usize)>>>,
    ) -> Option<(Submission, usize)> {
        if let Some(done) = attached[i] {
            return done;
        }
        attached[i] = Some(None);
        let mut found = None;
        'kinds: for kind in [Submission::Patch, Submission::Cover] {
            for a in &thread[i].ancestors {
                let Some(&j) = by_id.get(a.as_str()) else { continue };
                if j == i {
                    continue;
                }
                match thread[j].submission {
                    Some(k) if k == kind => {
                        found = Some((kind, j));
                        break 'kinds;
                    }
                    Some(_) => {}
                    None => {
                        if let Some((k, s)) = attach(j, thread, by_id, attached)
                            && k == kind
                        {
                            found = Some((kind, s));
                            break 'kinds;
                        }
                    }
                }
            }
        }
        attached[i] = Some(found);
        found
    }
    let mut out = Vec::new();
    for i in 0..thread.len() {
        if thread[i].submission.is_none()
            && let Some((_, s)) = attach(i, thread, &by_id, &mut attached)
        {
            out.push((thread[i].id, thread[s].id));
        }
    }
    out
}

#[cfg(test)]
mod comment_tests {
    use super::*;

    fn mail(id: i64, kind: Option<Submission>, ancestors: &[&str]) -> ThreadMail {
        ThreadMail {
            id,
            message_id: format!("m{id}"),
            submission: kind,
            ancestors: ancestors.iter().map(|a| a.to_string()).collect(),
        }
    }

    #[test]
    fn replies_below_a_patch_belong_to_it_however_deep() {
        use Submission::*;
        // cover 1; patches 2, 3 replying to it; 4 replies to 2; 5 to 4; 6 to 5 with its parent
        // chain only in References; 7 replies to the cover; 8 to 7; 9 to a missing mail
        // below patch 3.
        let thread = vec![
            mail(1, Some(Cover), &[]),
            mail(2, Some(Patch), &["m1"]),
            mail(3, Some(Patch), &["m1"]),
            mail(4, None, &["m2", "m1"]),
            mail(5, None, &["m4", "m2", "m1"]),
            mail(6, None, &["gone", "m5", "m4", "m2", "m1"]),
            mail(7, None, &["m1"]),
            mail(8, None, &["m7", "m1"]),
            mail(9, None, &["missing", "m3", "m1"]),
        ];
        let mut got = attach_comments(&thread);
        got.sort();
        assert_eq!(got, vec![(4, 2), (5, 2), (6, 2), (7, 1), (8, 1), (9, 3)]);
    }

    #[test]
    fn a_cycle_of_references_attaches_nowhere_and_ends() {
        let thread = vec![mail(1, None, &["m2"]), mail(2, None, &["m1"])];
        assert!(attach_comments(&thread).is_empty());
    }
}
