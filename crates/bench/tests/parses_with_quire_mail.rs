//! A generated archive must come out of quire's own parser with the intended kinds.
use quire_mail::{parse, MessageKind};

#[test]
fn generated_2000_messages_parse_with_no_unparsable_and_the_intended_mix() {
    let mut mbox = Vec::new();
    quire_bench::generate(2000, 42, &mut mbox).expect("write to Vec");
    let text = String::from_utf8(mbox).expect("generator writes UTF-8");
    let msgs: Vec<&str> = text.split("From mboxrd@z Thu Jan  1 00:00:00 1970\n").filter(|m| !m.is_empty()).collect();
    assert_eq!(msgs.len(), 2000);
    let (mut patch, mut cover, mut reply, mut bad, mut trailers) = (0, 0, 0, 0, 0);
    for m in &msgs {
        let p = parse(m.as_bytes());
        match p.kind {
            MessageKind::Patch => { patch += 1; assert!(p.diff.is_some(), "patch without diff: {}", p.subject) }
            MessageKind::CoverLetter => cover += 1,
            MessageKind::Reply => { reply += 1; trailers += p.trailers.len() }
            _ => bad += 1,
        }
        assert!(p.date.is_some(), "unreadable date in {}", p.subject);
    }
    assert_eq!(bad, 0);
    assert!(patch > 600 && cover > 50 && reply > 400, "patch {patch} cover {cover} reply {reply}");
    assert_eq!(trailers, reply, "every generated review carries one trailer");
}
