//! A generated archive must come out of quire's own parser with the intended kinds: every patch
//! with its diff, QP and base64 bodies decoded, dates readable but for the odd mail made bad.
use quire_mail::{MessageKind, parse};

#[test]
fn generated_messages_parse_with_the_intended_kinds() {
    let mut mbox = Vec::new();
    quire_bench::generate(5000, 42, &mut mbox).expect("write to Vec");
    let msgs = quire_bench::profile::split_mbox(&mbox);
    assert_eq!(msgs.len(), 5000);
    let (mut patch, mut cover, mut reply, mut pull, mut bad_dates) = (0, 0, 0, 0, 0);
    for m in &msgs {
        let p = parse(m);
        match p.kind {
            MessageKind::Patch => {
                patch += 1;
                let d =
                    p.diff.as_ref().unwrap_or_else(|| panic!("patch without diff: {}", p.subject));
                assert!(!d.files.is_empty() && d.patch_id.len() == 40, "{}", p.subject);
                assert!(
                    p.body.contains("Handle the case properly"),
                    "body not decoded: {}",
                    p.subject
                );
            }
            MessageKind::CoverLetter => cover += 1,
            MessageKind::Reply => reply += 1,
            MessageKind::PullRequest => pull += 1,
            MessageKind::Unparsable => panic!("unparsable: {:?}", p.problems),
        }
        if p.date.is_none() {
            bad_dates += 1;
        }
    }
    assert!(
        patch > 1000 && cover > 50 && reply > 2500 && pull > 0,
        "patch {patch} cover {cover} reply {reply} pull {pull}"
    );
    assert!(bad_dates < 20, "{bad_dates} messages without a readable date");
}
