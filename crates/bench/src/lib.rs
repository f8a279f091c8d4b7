//! Deterministic generator of mailing-list archives (mboxrd) with the shape of real patch lists,
//! and the profile of a real archive that the shape is taken from.
//!
//! The shape ([`SHAPE`]) was measured on the two real slices in `../shared/corpus/` with
//! `quire-bench profile` (io-uring 2019-21, 8,000 messages; LTP 2019-20, 4,000 messages):
//! about 60% of the mail is replies, 30% patches, 3% cover letters, the rest other mail (pull
//! requests, announcements, odd mail); revisions v1..v8 with v1 most common; bodies mostly
//! 7bit/8bit with quoted-printable and base64 (LTP: a quarter base64); sizes p50 ~5.6 KB, p99
//! 30-80 KB. The generator draws from these figures, so an archive of any size has that mix.
//! Same `seed`, same bytes; memory stays flat whatever the size.

pub mod profile;
pub mod revisions;
pub mod run;

use std::io::{self, Write};

/// The figures the generator draws from (per mille unless said).
pub struct Shape {
    /// Share of series with more than one patch (and so a cover letter).
    pub multi_patch_series: u32,
    /// Revisions: chance that a series gets a v2, then each further one (v3..v5).
    pub next_revision: [u32; 4],
    /// Replies per posted message: weights of 0, 1, 2, 3, 4, 5 replies.
    pub replies: [u32; 6],
    /// Chance that a reply replies to the previous reply (a deeper thread) rather than the post.
    pub deeper: u32,
    /// Chance that a reply carries a trailer (Reviewed-by, Acked-by, Tested-by).
    pub trailer: u32,
    /// Body encodings of patches: quoted-printable, base64 (the rest 7bit/8bit).
    pub quoted_printable: u32,
    pub base64: u32,
    /// Chance of a pull request in place of a series.
    pub pull_request: u32,
    /// Chance of odd mail in place of a series: no Message-ID, bad dates, HTML only, no subject.
    pub odd: u32,
    /// Chance of a big patch (many hunks: the size tail).
    pub big_patch: u32,
}

pub const SHAPE: Shape = Shape {
    multi_patch_series: 330,
    next_revision: [300, 450, 450, 350],
    replies: [250, 300, 200, 120, 80, 50],
    deeper: 450,
    trailer: 120,
    quoted_printable: 60,
    base64: 80,
    pull_request: 15,
    odd: 10,
    big_patch: 40,
};

const NAMES: &[&str] = &[
    "Jens Axboe",
    "Pavel Begunkov",
    "Cyril Hrubis",
    "Petr Vorel",
    "Li Wang",
    "Jürgen Groß",
    "Zhang Wei",
    "Hao Xu",
    "Stefano Stabellini",
    "Jan Beulich",
    "Andrew Cooper",
    "Roger Pau Monné",
    "Ольга Иванова",
    "José García",
];
const FILES: &[&str] = &[
    "fs/io_uring.c",
    "include/uapi/linux/io_uring.h",
    "lib/tst_test.c",
    "testcases/kernel/syscalls/read/read01.c",
    "fs/io-wq.c",
    "xen/include/public/io/ring.h",
    "xen/arch/x86/mm.c",
    "tools/libs/ctrl/xc_domain.c",
    "include/linux/sched.h",
];
const TOPICS: &[&str] = &[
    "io_uring:",
    "syscalls/read:",
    "lib:",
    "xen/arm:",
    "x86/mm:",
    "tools/libxc:",
    "sched:",
    "docs:",
];
const VERBS: &[&str] = &["fix", "add", "remove", "rework", "use", "avoid", "handle", "document"];
const OBJECTS: &[&str] = &[
    "request handling",
    "a race in teardown",
    "the ring size check",
    "locking",
    "error paths",
    "a NULL dereference",
    "timeouts",
    "the test for EINVAL",
];
const TRAILERS: &[&str] = &["Reviewed-by", "Acked-by", "Tested-by"];

fn chance(rng: &mut fastrand::Rng, per_mille: u32) -> bool {
    rng.u32(..1000) < per_mille
}

fn weighted(rng: &mut fastrand::Rng, weights: &[u32]) -> usize {
    let total: u32 = weights.iter().sum();
    let mut x = rng.u32(..total.max(1));
    for (i, w) in weights.iter().enumerate() {
        if x < *w {
            return i;
        }
        x -= w;
    }
    weights.len() - 1
}

fn local_part(name: &str) -> String {
    let l: String =
        name.chars().filter(|c| c.is_ascii_alphabetic()).collect::<String>().to_lowercase();
    if l.is_empty() { "someone".into() } else { l }
}

fn addr(name: &str) -> String {
    if name.is_ascii() {
        format!("{name} <{}@example.org>", local_part(name))
    } else {
        format!("=?UTF-8?B?{}?= <{}@example.org>", b64(name.as_bytes()), local_part(name))
    }
}

fn b64(b: &[u8]) -> String {
    const T: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut s = String::with_capacity(b.len() * 4 / 3 + 4);
    for c in b.chunks(3) {
        let n = (c[0] as u32) << 16
            | (*c.get(1).unwrap_or(&0) as u32) << 8
            | *c.get(2).unwrap_or(&0) as u32;
        for i in 0..4 {
            if i <= c.len() {
                s.push(T[(n >> (18 - 6 * i) & 63) as usize] as char)
            } else {
                s.push('=')
            }
        }
    }
    s
}

/// Base64 in lines of 76 characters, as mailers write it.
fn b64_lines(b: &[u8]) -> String {
    let flat = b64(b);
    let mut out = String::with_capacity(flat.len() + flat.len() / 76 + 1);
    for chunk in flat.as_bytes().chunks(76) {
        out.push_str(std::str::from_utf8(chunk).unwrap_or(""));
        out.push('\n');
    }
    out
}

/// Quoted-printable (RFC 2045): `=XX` for `=` and non-ASCII, soft breaks at 76.
fn qp(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 10);
    for line in text.split('\n') {
        let mut col = 0;
        for &b in line.as_bytes() {
            let piece = if b == b'=' || b >= 0x80 || (b < 0x20 && b != b'\t') {
                format!("={b:02X}")
            } else {
                (b as char).to_string()
            };
            if col + piece.len() > 75 {
                out.push_str("=\n");
                col = 0;
            }
            col += piece.len();
            out.push_str(&piece);
        }
        out.push('\n');
    }
    out.pop();
    out
}

/// One unified diff with correct hunk counts, `hunks` hunks in `file`.
fn diff(rng: &mut fastrand::Rng, file: &str, hunks: usize) -> String {
    let mut d = format!(
        "diff --git a/{file} b/{file}\nindex {:07x}..{:07x} 100644\n--- a/{file}\n+++ b/{file}\n",
        rng.u32(..1 << 28),
        rng.u32(..1 << 28)
    );
    let mut start = rng.usize(1..200);
    for _ in 0..hunks {
        let (del, add, ctx) = (rng.usize(0..4), rng.usize(1..12), 3);
        d.push_str(&format!(
            "@@ -{start},{} +{start},{} @@ static int f_{start}(struct req *req)\n",
            ctx + del,
            ctx + add
        ));
        for i in 0..ctx {
            d.push_str(&format!(" \tctx_line_{i}(req);\n"));
        }
        for i in 0..del {
            d.push_str(&format!("-\told_call_{i}(req);\n"));
        }
        for i in 0..add {
            d.push_str(&format!("+\tnew_call_{i}(req, {});\n", rng.u32(..)));
        }
        start += rng.usize(20..400);
    }
    d
}

struct Out<'a, W: Write> {
    w: &'a mut W,
    written: u64,
    limit: u64,
    /// The lists of the thread being written (indexes into `Lists`): the first is the one it
    /// was posted to, the others are Cc'd. Each list's archive keeps its own copy of every
    /// message, with its own `List-Id` (as lore's archives do), so a cross-posted message is
    /// written once per list.
    lists: Vec<usize>,
    /// More than one list: the addresses are numbered (`list7@lists.example.org`).
    numbered: bool,
}

/// A message to write.
struct Mail<'a> {
    from: String,
    subject: &'a str,
    id: Option<&'a str>,
    reply_to: Option<&'a str>,
    body: &'a str,
    /// "8bit", "quoted-printable", "base64"
    encoding: &'a str,
    date_ok: bool,
}

impl<W: Write> Out<'_, W> {
    fn full(&self) -> bool {
        self.written >= self.limit
    }

    fn write(&mut self, m: &Mail) -> io::Result<()> {
        if self.full() {
            return Ok(());
        }
        // Every copy is dated by the first one's place in the archive.
        let t = self.written;
        let body = match m.encoding {
            "base64" => b64_lines(m.body.as_bytes()),
            "quoted-printable" => qp(m.body),
            _ => m.body.to_string(),
        };
        if !self.numbered {
            self.head(m, t)?;
            writeln!(
                self.w,
                "To: list@lists.example.org\nList-Id: <list.lists.example.org>\nMIME-Version: 1.0"
            )?;
            self.body(m, &body)?;
            self.written += 1;
            return Ok(());
        }
        // One copy per list, differing only in List-Id (what each list's server adds).
        let lists = self.lists.clone();
        let cc: Vec<String> =
            lists[1..].iter().map(|l| format!("list{l}@lists.example.org")).collect();
        for list in &lists {
            if self.full() {
                return Ok(());
            }
            self.head(m, t)?;
            writeln!(self.w, "To: list{}@lists.example.org", lists[0])?;
            if !cc.is_empty() {
                writeln!(self.w, "Cc: {}", cc.join(", "))?;
            }
            writeln!(self.w, "List-Id: <list{list}.lists.example.org>\nMIME-Version: 1.0")?;
            self.body(m, &body)?;
            self.written += 1;
        }
        Ok(())
    }

    /// The separator and the headers before the recipients.
    fn head(&mut self, m: &Mail, t: u64) -> io::Result<()> {
        let w = &mut *self.w;
        writeln!(w, "From mboxrd@z Thu Jan  1 00:00:00 1970")?;
        writeln!(w, "From: {}\nSubject: {}", m.from, m.subject)?;
        if m.date_ok {
            writeln!(w, "Date: {}", rfc2822(1_560_000_000 + t * 300))?;
        } else {
            writeln!(w, "Date: Thu, 31 Feb 2019 25:61:00 +9999")?;
        }
        if let Some(id) = m.id {
            writeln!(w, "Message-ID: {id}")?;
        }
        if let Some(p) = m.reply_to {
            writeln!(w, "In-Reply-To: {p}\nReferences: {p}")?;
        }
        Ok(())
    }

    fn body(&mut self, m: &Mail, body: &str) -> io::Result<()> {
        let w = &mut *self.w;
        writeln!(
            w,
            "Content-Type: text/plain; charset=UTF-8\nContent-Transfer-Encoding: {}\n",
            m.encoding
        )?;
        for line in body.lines() {
            // mboxrd: a body line matching ^>*From  gets one more '>'.
            if line.trim_start_matches('>').starts_with("From ") {
                w.write_all(b">")?;
            }
            writeln!(w, "{line}")?;
        }
        writeln!(w)?;
        Ok(())
    }
}

/// Writes `n` messages of one list; same `seed`, same bytes. Streams: memory stays flat.
pub fn generate<W: Write>(n: u64, seed: u64, w: &mut W) -> io::Result<()> {
    generate_lists(n, seed, &Lists::ONE, w)
}

/// The lists an archive holds, as the kernel's archives are: many lists of very different
/// sizes, and threads cross-posted to several of them.
#[derive(Debug, Clone, Copy)]
pub struct Lists {
    /// How many lists (`list1` .. `listN`); 1 writes the single list of [`generate`].
    pub count: usize,
    /// Chance (per mille) that a thread is cross-posted to one or two more lists.
    pub cross_post: u32,
}

impl Lists {
    pub const ONE: Lists = Lists { count: 1, cross_post: 0 };

    /// The lists of a new thread: the first drawn with weight 1/k (list1 the busiest, as
    /// LKML is), then any others it is Cc'd to.
    fn draw(&self, rng: &mut fastrand::Rng) -> Vec<usize> {
        let pick = |rng: &mut fastrand::Rng| {
            // Inverse of the harmonic weights: ln-spaced, cheap and stable.
            let h = (self.count as f64).ln() + 0.5772;
            let x = rng.f64() * h;
            ((x - 0.5772).exp().floor() as usize).clamp(0, self.count - 1) + 1
        };
        let mut lists = vec![pick(rng)];
        if chance(rng, self.cross_post) {
            let more = if chance(rng, 300) { 2 } else { 1 };
            for _ in 0..more {
                let l = rng.usize(1..=self.count);
                if !lists.contains(&l) {
                    lists.push(l);
                }
            }
        }
        lists
    }

    /// The `[[project]]` tables of a quire.toml that sorts these lists into projects.
    pub fn config(&self) -> String {
        (1..=self.count.max(1))
            .map(|k| {
                format!(
                    "[[project]]\nname = \"list{k}\"\nlist_id = [\"list{k}.lists.example.org\"]\nlist_address = [\"list{k}@lists.example.org\"]\n\n"
                )
            })
            .collect()
    }
}

/// Writes `n` messages (copies in several lists count once each) over `lists`; same `seed`
/// and lists, same bytes. Streams: memory stays flat.
pub fn generate_lists<W: Write>(n: u64, seed: u64, lists: &Lists, w: &mut W) -> io::Result<()> {
    let mut rng = fastrand::Rng::with_seed(seed);
    // A separate stream for the lists, so that one list gives the same bytes as before.
    let mut list_rng = fastrand::Rng::with_seed(seed ^ 0x6c69_7374);
    let numbered = lists.count > 1;
    let mut out = Out { w, written: 0, limit: n, lists: vec![1], numbered };
    let s = &SHAPE;
    let mut sid = 0u64;
    while !out.full() {
        sid += 1;
        if numbered {
            out.lists = lists.draw(&mut list_rng);
        }
        let author = NAMES[rng.usize(..NAMES.len())];
        if chance(&mut rng, s.pull_request) {
            pull_request(&mut out, &mut rng, sid, author)?;
            continue;
        }
        if chance(&mut rng, s.odd) {
            odd_mail(&mut out, &mut rng, sid)?;
            continue;
        }
        let npatch = if chance(&mut rng, s.multi_patch_series) { rng.usize(2..12) } else { 1 };
        let mut versions = 1;
        while versions < 5 && chance(&mut rng, s.next_revision[versions - 1]) {
            versions += 1;
        }
        let topic = format!(
            "{} {} {} ({sid})",
            TOPICS[rng.usize(..TOPICS.len())],
            VERBS[rng.usize(..VERBS.len())],
            OBJECTS[rng.usize(..OBJECTS.len())]
        );
        let encoding = match rng.u32(..1000) {
            x if x < s.quoted_printable => "quoted-printable",
            x if x < s.quoted_printable + s.base64 => "base64",
            _ => "8bit",
        };
        for v in 1..=versions {
            let vtag = if v > 1 { format!(" v{v}") } else { String::new() };
            let root = format!("<{sid}.v{v}.0@gen.example.org>");
            let mut posts = Vec::new();
            if npatch > 1 {
                let mut body = format!("This series {topic}.\n\n");
                if v > 1 {
                    body.push_str(&format!("Changes in v{v}:\n - addressed review comments\n\n"));
                }
                body.push_str(&format!("{author} ({npatch}):\n"));
                for i in 1..=npatch {
                    body.push_str(&format!("  {topic} part {i}\n"));
                }
                body.push_str("\n-- \n2.39.2\n");
                posts.push((root.clone(), format!("[PATCH{vtag} 0/{npatch}] {topic}"), body));
            }
            for i in 1..=npatch {
                let id = if npatch == 1 {
                    root.clone()
                } else {
                    format!("<{sid}.v{v}.{i}@gen.example.org>")
                };
                let file = FILES[rng.usize(..FILES.len())];
                let hunks =
                    if chance(&mut rng, s.big_patch) { rng.usize(10..60) } else { rng.usize(1..4) };
                let num = if npatch > 1 { format!(" {i}/{npatch}") } else { String::new() };
                let subject = format!("[PATCH{vtag}{num}] {topic} part {i}");
                let body = format!(
                    "Handle the case properly: the caller may pass a request that was\nalready completed, and the old code dereferenced it.\n\nSigned-off-by: {}\n---\n {file} | {} +\n\n{}-- \n2.39.2\n",
                    addr(author),
                    hunks * 5,
                    diff(&mut rng, file, hunks)
                );
                posts.push((id, subject, body));
            }
            for (k, (id, subject, body)) in posts.iter().enumerate() {
                let reply_to = if k > 0 { Some(root.as_str()) } else { None };
                let from = addr(author);
                out.write(&Mail {
                    from,
                    subject,
                    id: Some(id),
                    reply_to,
                    body,
                    encoding,
                    date_ok: true,
                })?;
                replies(&mut out, &mut rng, id, subject, sid)?;
            }
        }
    }
    Ok(())
}

fn replies<W: Write>(
    out: &mut Out<W>,
    rng: &mut fastrand::Rng,
    post: &str,
    subject: &str,
    sid: u64,
) -> io::Result<()> {
    let s = &SHAPE;
    let count = weighted(rng, &s.replies);
    let mut parent = post.to_string();
    for _ in 0..count {
        if out.full() {
            return Ok(());
        }
        let who = NAMES[rng.usize(..NAMES.len())];
        let id = format!("<r{}.{sid}@gen.example.org>", out.written);
        let mut body = format!(
            "On Mon, Someone wrote:\n> Handle the case properly: the caller may pass a request that was\n> already completed, and the old code dereferenced it.\n>\n> From the diff above\n\n{}\n",
            [
                "Looks good.",
                "Why is this needed? The caller checks it already.",
                "This breaks the build on arm32.",
                "Nit: the comment is stale."
            ][rng.usize(..4)]
        );
        if chance(rng, s.trailer) {
            body.push_str(&format!("\n{}: {}\n", TRAILERS[rng.usize(..TRAILERS.len())], addr(who)));
        }
        body.push_str(&format!("\n-- \n{who}\n"));
        let subject = format!("Re: {subject}");
        out.write(&Mail {
            from: addr(who),
            subject: &subject,
            id: Some(&id),
            reply_to: Some(&parent),
            body: &body,
            encoding: "8bit",
            date_ok: true,
        })?;
        if chance(rng, s.deeper) {
            parent = id;
        }
    }
    Ok(())
}

fn pull_request<W: Write>(
    out: &mut Out<W>,
    rng: &mut fastrand::Rng,
    sid: u64,
    author: &str,
) -> io::Result<()> {
    let id = format!("<pull.{sid}@gen.example.org>");
    let body = format!(
        "The following changes since commit {:040x}:\n\n  Linux 6.{} (2021-01-01)\n\nare available in the Git repository at:\n\n  git://git.example.org/pub/scm/linux/kernel/git/maint/linux.git tags/for-6.{}-{sid}\n\nfor you to fetch changes up to {:040x}:\n\n  io_uring: fix things ({sid})\n\n----------------------------------------------------------------\nFixes for this cycle.\n",
        rng.u128(..),
        rng.u32(..10),
        rng.u32(..10),
        rng.u128(..)
    );
    let subject = format!("[GIT PULL] fixes for 6.{} ({sid})", rng.u32(..10));
    out.write(&Mail {
        from: addr(author),
        subject: &subject,
        id: Some(&id),
        reply_to: None,
        body: &body,
        encoding: "8bit",
        date_ok: true,
    })?;
    replies(out, rng, &id, &subject, sid)
}

fn odd_mail<W: Write>(out: &mut Out<W>, rng: &mut fastrand::Rng, sid: u64) -> io::Result<()> {
    let id = format!("<odd.{sid}@gen.example.org>");
    match rng.u32(..4) {
        0 => out.write(&Mail {
            from: "nobody".into(),
            subject: "",
            id: Some(&id),
            reply_to: None,
            body: "no subject, no address\n",
            encoding: "8bit",
            date_ok: true,
        }),
        1 => out.write(&Mail {
            from: addr("Spam Bot"),
            subject: "[PATCH] no message id",
            id: None,
            reply_to: None,
            body: "hello\n",
            encoding: "8bit",
            date_ok: true,
        }),
        2 => out.write(&Mail {
            from: addr("Late Mailer"),
            subject: "a date from nowhere",
            id: Some(&id),
            reply_to: None,
            body: "bad date\n",
            encoding: "8bit",
            date_ok: false,
        }),
        _ => out.write(&Mail {
            from: addr("Mobile"),
            subject: "Re: something",
            id: Some(&id),
            reply_to: Some("<not-in-archive@elsewhere>"),
            body: "Sent from my phone\n",
            encoding: "base64",
            date_ok: true,
        }),
    }
}

/// RFC 2822 date (UTC) for a Unix time; civil-from-days after H. Hinnant.
fn rfc2822(secs: u64) -> String {
    let days = (secs / 86400) as i64;
    let (h, m, s) = (secs % 86400 / 3600, secs % 3600 / 60, secs % 60);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let mo = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + (mo <= 2) as i64;
    const WD: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MO: [&str; 12] =
        ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    format!(
        "{}, {d} {} {y} {h:02}:{m:02}:{s:02} +0000",
        WD[days.rem_euclid(7) as usize],
        MO[(mo - 1) as usize]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn many_lists_keep_a_copy_of_each_cross_posted_message_per_list() {
        let lists = Lists { count: 50, cross_post: 150 };
        let mut a = Vec::new();
        generate_lists(20_000, 7, &lists, &mut a).unwrap();
        let mut b = Vec::new();
        generate_lists(20_000, 7, &lists, &mut b).unwrap();
        assert_eq!(a, b, "same seed and lists, same bytes");
        let text = String::from_utf8(a).unwrap();
        let messages: Vec<&str> = text.split("From mboxrd@z ").skip(1).collect();
        assert_eq!(messages.len(), 20_000);
        let header = |m: &str, name: &str| {
            m.lines().find_map(|l| l.strip_prefix(name).map(str::to_string)).unwrap_or_default()
        };
        let mut copies: std::collections::HashMap<String, Vec<String>> = Default::default();
        let mut per_list: std::collections::HashMap<String, usize> = Default::default();
        for m in &messages {
            let list = header(m, "List-Id: ");
            *per_list.entry(list.clone()).or_default() += 1;
            let id = header(m, "Message-ID: ");
            if !id.is_empty() {
                copies.entry(id).or_default().push(list);
            }
        }
        assert!(per_list.len() >= 45, "most of the 50 lists get mail: {}", per_list.len());
        let busiest = per_list.values().max().copied().unwrap_or(0);
        let quietest = per_list.values().min().copied().unwrap_or(0);
        assert!(busiest > 10 * quietest.max(1), "lists differ in size: {busiest} vs {quietest}");
        let cross: Vec<&Vec<String>> = copies.values().filter(|l| l.len() > 1).collect();
        let share = cross.len() as f64 / copies.len() as f64;
        assert!((0.08..0.30).contains(&share), "share of cross-posted messages: {share}");
        for lists in cross {
            let distinct: std::collections::HashSet<&String> = lists.iter().collect();
            assert_eq!(distinct.len(), lists.len(), "one copy per list: {lists:?}");
        }
        // One list: the bytes `generate` always wrote.
        let (mut one, mut plain) = (Vec::new(), Vec::new());
        generate_lists(500, 3, &Lists::ONE, &mut one).unwrap();
        generate(500, 3, &mut plain).unwrap();
        assert_eq!(one, plain);
        assert!(String::from_utf8(one).unwrap().contains("List-Id: <list.lists.example.org>"));
        assert!(
            lists.config().contains("name = \"list50\"\nlist_id = [\"list50.lists.example.org\"]")
        );
    }

    #[test]
    fn same_seed_gives_same_bytes_and_other_seed_differs() {
        let (mut a, mut b, mut c) = (Vec::new(), Vec::new(), Vec::new());
        generate(2000, 7, &mut a).unwrap();
        generate(2000, 7, &mut b).unwrap();
        generate(2000, 8, &mut c).unwrap();
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_eq!(rfc2822(1_560_000_000), "Sat, 8 Jun 2019 13:20:00 +0000");
        assert_eq!(a.windows(20).filter(|x| x == b"From mboxrd@z Thu Ja").count(), 2000);
    }

    #[test]
    fn encodings_round_trip() {
        let text = "Grüße = 100%\n\tand a long line that goes on and on and on and on and on and on and on and on and on\n";
        let mut back = Vec::new();
        let mut soft = false;
        for line in qp(text).split('\n') {
            let (line, cont) = match line.strip_suffix('=') {
                Some(l) => (l, true),
                None => (line, false),
            };
            let bytes = line.as_bytes();
            let mut i = 0;
            while i < bytes.len() {
                if bytes[i] == b'=' {
                    back.push(
                        u8::from_str_radix(std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap(), 16)
                            .unwrap(),
                    );
                    i += 3;
                } else {
                    back.push(bytes[i]);
                    i += 1;
                }
            }
            if !cont {
                back.push(b'\n');
            }
            soft = cont;
        }
        assert!(!soft);
        back.pop();
        assert_eq!(String::from_utf8(back).unwrap(), text);
        assert!(qp(text).lines().all(|l| l.len() <= 76));
        assert_eq!(b64(b"quire"), "cXVpcmU=");
    }

    #[test]
    fn the_mix_has_the_shape_of_real_lists() {
        let mut mbox = Vec::new();
        generate(20_000, 1, &mut mbox).unwrap();
        let p = profile::profile(&mbox);
        assert_eq!(p.messages, 20_000);
        let share = |x: u64| x * 1000 / p.messages;
        // Measured on the real slices: replies 58-68%, patches 26-32%, cover letters 2-4%.
        assert!((520..=720).contains(&share(p.replies)), "{p:?}");
        assert!((200..=380).contains(&share(p.patches)), "{p:?}");
        assert!((15..=60).contains(&share(p.cover_letters)), "{p:?}");
        assert!(
            p.pull_requests > 0 && p.quoted_printable > 0 && p.base64 > 0 && p.with_trailers > 0,
            "{p:?}"
        );
        assert!(p.versions.len() >= 5, "revisions v1..v5: {p:?}");
        assert!(p.max_depth >= 3, "{p:?}");
    }
}
