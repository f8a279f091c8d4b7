//! quire am against b4 am, on mail shaped like b4 0.16's trailer samples (its
//! `src/tests/samples/trailers-followup-*.mbox`, exercised by its `test_followup_trailers`): each
//! `tests/b4_samples/<case>.mbox` is quire's own mail, and `<case>.b4.txt` is what b4 0.16 wrote
//! for it (`b4_expected.py` there makes them again). What is compared is what `git am` commits:
//! each patch's commit message, trailers included. b4's cases that need options quire has not
//! (b4's own Signed-off-by, Cc trailers from the headers, Link trailers, trailer order and
//! ignore lists, partial rerolls) are not here; docs/trailers.md lists them.

use quire_mail::{ParsedMessage, parse};
use quire_series::am::{AmOptions, AmPatch, render_mbox};
use quire_series::{assemble, collect_trailers, meta_from_parsed};
use std::path::PathBuf;

fn sample(file: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/b4_samples").join(file);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The messages of an mbox written with `From mboxrd@z` / `From git@z` envelope lines.
fn messages(mbox: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for line in mbox.split_inclusive('\n') {
        if line.starts_with("From mboxrd@z ") || line.starts_with("From git@z ") {
            out.push(String::new());
        } else if let Some(m) = out.last_mut() {
            m.push_str(line);
        }
    }
    out
}

/// What `git am` commits of each message of an am mbox: the text between the headers and the
/// `---` line (or the diff, for a patch without one), without blank lines at its end.
fn commit_messages(mbox: &str) -> Vec<String> {
    messages(mbox)
        .iter()
        .map(|m| {
            let body = m.split_once("\n\n").map_or("", |(_, b)| b);
            let mut kept: Vec<&str> = body
                .lines()
                .take_while(|l| !l.starts_with("---") && !l.starts_with("diff --git"))
                .collect();
            while kept.last().is_some_and(|l| l.trim().is_empty()) {
                kept.pop();
            }
            kept.join("\n")
        })
        .collect()
}

/// `quire am` of the newest series in a sample.
fn quire_am(case: &str, opts: &AmOptions) -> String {
    let parsed: Vec<ParsedMessage> =
        messages(&sample(&format!("{case}.mbox"))).iter().map(|m| parse(m.as_bytes())).collect();
    let metas: Vec<_> = parsed.iter().map(meta_from_parsed).collect();
    let assembly = assemble(&metas);
    let series = assembly.series.iter().max_by_key(|s| s.version).expect("a series");
    let collected = collect_trailers(series, &metas, &[]);
    let patches: Vec<AmPatch<'_>> = series
        .patches
        .iter()
        .map(|(n, id)| AmPatch {
            message: parsed.iter().find(|p| &p.message_id == id).unwrap(),
            number: *n,
            total: series.total,
            version: series.version,
            trailers: &collected.iter().find(|(m, _)| m == n).unwrap().1,
        })
        .collect();
    String::from_utf8(render_mbox(&patches, opts)).unwrap()
}

fn assert_as_b4(case: &str, expected: &str, opts: &AmOptions) {
    let ours = commit_messages(&quire_am(case, opts));
    let b4 = commit_messages(&sample(expected));
    assert_eq!(ours, b4, "{case}: quire am (left) and b4 am (right) commit different messages");
}

/// Each case's name is b4's (`trailers-followup-<case>.mbox`).
#[test]
fn single_patch_with_a_review_a_test_under_it_and_a_mismatched_review() {
    assert_as_b4("single", "single.b4.txt", &AmOptions::default());
}

#[test]
fn single_with_sloppy_trailers() {
    assert_as_b4("single", "single.sloppy.b4.txt", &AmOptions { sloppy_trailers: true });
}

#[test]
fn with_cover_one_reviewer_under_two_names() {
    assert_as_b4("with-cover", "with-cover.b4.txt", &AmOptions::default());
}

#[test]
fn custody_a_chain_of_signed_off_by_and_a_commented_link() {
    assert_as_b4("custody", "custody.b4.txt", &AmOptions::default());
}

#[test]
fn nore_a_reply_whose_subject_lost_its_re() {
    assert_as_b4("nore", "nore.b4.txt", &AmOptions::default());
}

#[test]
fn non_git_patch_without_a_separator_line() {
    assert_as_b4("non-git-patch", "non-git-patch.b4.txt", &AmOptions::default());
}

#[test]
fn non_git_patch_with_comments_below_the_separator() {
    assert_as_b4(
        "non-git-patch-with-comments",
        "non-git-patch-with-comments.b4.txt",
        &AmOptions::default(),
    );
}

#[test]
fn with_diffstat() {
    assert_as_b4("with-diffstat", "with-diffstat.b4.txt", &AmOptions::default());
}

#[test]
fn name_parens_brackets_and_a_last_first_name() {
    assert_as_b4("name-parens", "name-parens.b4.txt", &AmOptions::default());
}

#[test]
fn bare_address_in_the_patchs_own_trailers() {
    assert_as_b4("bare-address", "bare-address.b4.txt", &AmOptions::default());
}

#[test]
fn stripped_lines_of_a_diff_that_lost_its_blanks() {
    assert_as_b4("stripped-lines", "stripped-lines.b4.txt", &AmOptions::default());
}

#[test]
fn htmljunk_an_address_followed_by_its_mailto_link() {
    assert_as_b4("htmljunk", "htmljunk.b4.txt", &AmOptions::default());
}

#[test]
fn already_present_trailers_restated_in_a_reply_are_no_mismatch() {
    assert_as_b4("already-present", "already-present.b4.txt", &AmOptions::default());
    // b4's test_mismatched_trailer_already_on_patch_is_not_flagged: of the reply's restated
    // trailers none is given (the patch has them), so only the other reply's Tested-by is
    // unverified.
    let parsed: Vec<ParsedMessage> =
        messages(&sample("already-present.mbox")).iter().map(|m| parse(m.as_bytes())).collect();
    let metas: Vec<_> = parsed.iter().map(meta_from_parsed).collect();
    let collected = collect_trailers(&assemble(&metas).series[0], &metas, &[]);
    let unverified: Vec<&str> =
        collected[0].1.iter().filter(|t| !t.verified).map(|t| t.trailer.tag.as_str()).collect();
    assert_eq!(unverified, ["Tested-by"]);
    assert_eq!(collected[0].1.len(), 1);
}
