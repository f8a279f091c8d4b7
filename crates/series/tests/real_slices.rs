//! Assembly of a whole real archive (the LTP slice) at once, and a 10,000-message thread.

use flate2::read::GzDecoder;
use quire_mail::{Address, MessageKind, SubjectInfo};
use quire_series::{MessageMeta, Role, assemble, meta_from_parsed};
use std::io::Read;
use std::path::Path;

fn slice(file: &str) -> Vec<MessageMeta> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus").join(file);
    let mut data = Vec::new();
    GzDecoder::new(std::fs::File::open(path).unwrap()).read_to_end(&mut data).unwrap();
    let mut msgs: Vec<Vec<u8>> = Vec::new();
    let mut prev_blank = true;
    for line in data.split_inclusive(|&b| b == b'\n') {
        if prev_blank && line.starts_with(b"From ") {
            msgs.push(Vec::new());
        } else if let Some(m) = msgs.last_mut() {
            m.extend_from_slice(
                line.strip_prefix(b">").filter(|l| l.starts_with(b"From ")).unwrap_or(line),
            );
        }
        prev_blank = line.trim_ascii().is_empty();
    }
    msgs.iter().map(|raw| meta_from_parsed(&quire_mail::parse(raw))).collect()
}

#[test]
fn the_ltp_slice_assembles_into_plausible_series() {
    let metas = slice("ltp-2019-2020.4k.mbox.gz");
    let a = assemble(&metas);
    // Distinct Message-IDs: the archive holds a few messages twice.
    let patches = metas
        .iter()
        .filter(|m| m.kind == MessageKind::Patch)
        .map(|m| m.message_id.as_str())
        .collect::<std::collections::HashSet<_>>()
        .len();
    let in_series = a.members.iter().filter(|(_, _, r)| matches!(r, Role::Patch(_))).count();
    let complete = a.series.iter().filter(|s| s.complete).count();
    let multi = a.series.iter().filter(|s| s.total > 1).count();
    let revised = {
        let mut keys = std::collections::HashMap::new();
        for s in &a.series {
            *keys.entry(&s.revision_key).or_insert(0) += 1;
        }
        keys.values().filter(|&&n| n > 1).count()
    };
    eprintln!(
        "LTP: {} messages, {patches} patches, {} series ({multi} with several patches, {complete} complete), {revised} revised, {} members",
        metas.len(),
        a.series.len(),
        a.members.len()
    );
    // Every patch lands in exactly one series.
    assert_eq!(in_series, patches);
    // Most series of a real list are complete; many get revised.
    assert!(complete * 10 >= a.series.len() * 8, "{complete} of {}", a.series.len());
    assert!(revised > 50, "{revised}");
    // Most replies hang under a series (LTP is a patch list).
    let replies = metas.iter().filter(|m| m.kind == MessageKind::Reply).count();
    let placed = a.members.iter().filter(|(_, _, r)| *r == Role::Reply).count();
    assert!(placed * 10 >= replies * 8, "{placed} of {replies} replies placed");
}

/// A 10,000-message thread (one patch, replies each answering the previous) assembles in
/// linear time: the walk up is memoised.
#[test]
fn a_ten_thousand_message_thread() {
    let person = Address { name: "A".into(), email: "a@example.com".into() };
    let mut metas = vec![MessageMeta {
        message_id: "p@x".into(),
        from: person.clone(),
        date: 1,
        subject: "[PATCH] x".into(),
        subject_info: SubjectInfo { version: 1, name: "x".into(), ..Default::default() },
        kind: MessageKind::Patch,
        ..Default::default()
    }];
    for i in 0..10_000 {
        let parent = if i == 0 { "p@x".to_string() } else { format!("r{}@x", i - 1) };
        metas.push(MessageMeta {
            message_id: format!("r{i}@x"),
            in_reply_to: Some(parent.clone()),
            references: vec!["p@x".into(), parent],
            from: person.clone(),
            date: 2 + i,
            subject: "Re: [PATCH] x".into(),
            subject_info: SubjectInfo {
                is_reply: true,
                version: 1,
                name: "x".into(),
                ..Default::default()
            },
            kind: MessageKind::Reply,
            ..Default::default()
        });
    }
    let a = assemble(&metas);
    assert_eq!(a.series.len(), 1);
    assert_eq!(a.members.len(), 10_001);
}
