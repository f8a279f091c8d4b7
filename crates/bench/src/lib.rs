//! Deterministic generator of mailing-list archives (mboxrd) shaped like real patch lists:
//! series with cover letters, revisions, threaded reviews with trailers, real unified diffs.
use std::io::{self, Write};

const NAMES: &[&str] = &["Jens Axboe", "Pavel Begunkov", "Cyril Hrubis", "Petr Vorel", "Li Wang", "Jürgen Groß", "Zhang Wei", "Hao Xu"];
const FILES: &[&str] = &["fs/io_uring.c", "include/uapi/linux/io_uring.h", "lib/tst_test.c", "testcases/kernel/syscalls/read/read01.c", "fs/io-wq.c"];
const TRAILERS: &[&str] = &["Reviewed-by", "Acked-by", "Tested-by"];

fn addr(name: &str) -> String {
    let local: String = name.chars().filter(|c| c.is_ascii_alphabetic()).collect::<String>().to_lowercase();
    if name.is_ascii() { format!("{name} <{local}@example.org>") } else { format!("=?UTF-8?B?{}?= <{local}@example.org>", b64(name.as_bytes())) }
}

fn b64(b: &[u8]) -> String {
    const T: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut s = String::new();
    for c in b.chunks(3) {
        let n = (c[0] as u32) << 16 | (*c.get(1).unwrap_or(&0) as u32) << 8 | *c.get(2).unwrap_or(&0) as u32;
        for i in 0..4 { if i <= c.len() { s.push(T[(n >> (18 - 6 * i) & 63) as usize] as char) } else { s.push('=') } }
    }
    s
}

/// One unified diff with correct hunk counts: `ctx` context lines around `add` added / `del` removed.
fn diff(rng: &mut fastrand::Rng, file: &str) -> String {
    let (del, add, ctx) = (rng.usize(0..4), rng.usize(1..12), 3);
    let start = rng.usize(1..2000);
    let mut d = format!("diff --git a/{file} b/{file}\nindex 1a2b3c4..5d6e7f8 100644\n--- a/{file}\n+++ b/{file}\n@@ -{start},{} +{start},{} @@\n", ctx + del, ctx + add);
    for i in 0..ctx { d.push_str(&format!(" \tctx_line_{i}();\n")) }
    for i in 0..del { d.push_str(&format!("-\told_call_{i}(req);\n")) }
    for i in 0..add { d.push_str(&format!("+\tnew_call_{i}(req, {});\n", rng.u32(..))) }
    d
}

/// Writes `n` messages, same `seed` -> same bytes. Streams; memory stays flat.
pub fn generate<W: Write>(n: u64, seed: u64, w: &mut W) -> io::Result<()> {
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut written = 0u64;
    let mut sid = 0u64;
    while written < n {
        sid += 1;
        let author = NAMES[rng.usize(..NAMES.len())];
        let npatch = if rng.u8(..10) < 6 { 1 } else { rng.usize(2..8) };
        let versions = 1 + (rng.u8(..10) < 3) as usize + (rng.u8(..10) < 1) as usize;
        let topic = format!("{} fix request handling {sid}", ["io_uring:", "syscalls/read:", "lib:"][rng.usize(..3)]);
        for v in 1..=versions {
            let vtag = if v > 1 { format!("v{v} ") } else { String::new() };
            let root = format!("<{sid}.v{v}.0@gen.example.org>");
            let mut parts = Vec::new();
            if npatch > 1 {
                let body = format!("This series fixes {topic}.\n\n{author} (1):\n  change\n\n-- \n2.30.0\n");
                parts.push((root.clone(), format!("[PATCH {vtag}0/{npatch}] {topic}"), body));
            }
            for i in 1..=npatch {
                let mid = if npatch == 1 { root.clone() } else { format!("<{sid}.v{v}.{i}@gen.example.org>") };
                let file = FILES[rng.usize(..FILES.len())];
                let num = if npatch > 1 { format!("{i}/{npatch}") } else { String::new() };
                let subj = format!("[PATCH {vtag}{num}] {topic} part {i}").replace(" ]", "]");
                let body = format!("Handle the case properly.\n\nSigned-off-by: {}\n---\n {file} | 1 +\n\n{}-- \n2.30.0\n", addr(author), diff(&mut rng, file));
                parts.push((mid, subj, body));
            }
            for (k, (mid, subj, body)) in parts.iter().enumerate() {
                if written >= n { return Ok(()) }
                let reply_to = if k > 0 && npatch > 1 { Some(root.as_str()) } else { None };
                msg(w, &addr(author), subj, mid, reply_to, body, written)?;
                written += 1;
                let mut parent = mid.clone();
                for depth in 0..rng.usize(0..3) {
                    if written >= n { return Ok(()) }
                    let who = NAMES[rng.usize(..NAMES.len())];
                    let rmid = format!("<r{written}.{sid}@gen.example.org>");
                    let tr = TRAILERS[rng.usize(..TRAILERS.len())];
                    let body = format!("> Handle the case properly.\n>\n> From the diff above\n\nLooks good (depth {depth}).\n\n{tr}: {}\n-- \n{who}\n", addr(who));
                    msg(w, &addr(who), &format!("Re: {subj}"), &rmid, Some(&parent), &body, written)?;
                    written += 1;
                    parent = rmid;
                }
            }
        }
    }
    Ok(())
}

fn msg<W: Write>(w: &mut W, from: &str, subj: &str, mid: &str, irt: Option<&str>, body: &str, t: u64) -> io::Result<()> {
    let secs = 1_560_000_000 + t * 600;
    writeln!(w, "From mboxrd@z Thu Jan  1 00:00:00 1970")?;
    writeln!(w, "From: {from}\nSubject: {subj}\nDate: {}\nMessage-ID: {mid}", rfc2822(secs))?;
    if let Some(p) = irt { writeln!(w, "In-Reply-To: {p}\nReferences: {p}")?; }
    writeln!(w, "MIME-Version: 1.0\nContent-Type: text/plain; charset=UTF-8\nContent-Transfer-Encoding: 8bit\n")?;
    for line in body.lines() {
        // mboxrd: any body line matching ^>*From  gets one more '>'.
        if line.trim_start_matches('>').starts_with("From ") { w.write_all(b">")?; }
        writeln!(w, "{line}")?;
    }
    writeln!(w)
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
    const MO: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    format!("{}, {d} {} {y} {h:02}:{m:02}:{s:02} +0000", WD[days.rem_euclid(7) as usize], MO[(mo - 1) as usize])
}

#[cfg(test)]
mod tests {
    #[test]
    fn same_seed_gives_same_bytes_and_other_seed_differs() {
        let (mut a, mut b, mut c) = (Vec::new(), Vec::new(), Vec::new());
        super::generate(500, 7, &mut a).unwrap();
        super::generate(500, 7, &mut b).unwrap();
        super::generate(500, 8, &mut c).unwrap();
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_eq!(super::rfc2822(1_560_000_000), "Sat, 8 Jun 2019 13:20:00 +0000");
        assert_eq!(a.windows(20).filter(|x| x == b"From mboxrd@z Thu Ja").count(), 500);
    }
}
