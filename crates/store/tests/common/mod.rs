//! Builders for hand-made messages: the store's rules are about ids, threads and kinds, so
//! tests state exactly those instead of depending on the parser.

use quire_mail::{Address, Diff, FileStat, MessageKind, ParsedMessage, SubjectInfo, Trailer};
use quire_store::Incoming;

pub const DAY: i64 = 86400;
pub const T0: i64 = 1_600_000_000;

pub fn person(name: &str, email: &str) -> Address {
    Address { name: name.into(), email: email.into() }
}

/// A message with raw bytes that depend on every argument (so different content gives
/// different bytes).
pub fn msg(id: &str, subject: &str, kind: MessageKind) -> ParsedMessage {
    ParsedMessage {
        message_id: id.into(),
        subject: subject.into(),
        subject_info: SubjectInfo { version: 1, name: subject.into(), ..Default::default() },
        from: person("Ann Author", "ann@example.org"),
        date: Some(T0),
        kind,
        body: format!("body of {id}"),
        ..Default::default()
    }
}

/// `[PATCH vV n/m] name`.
pub fn patch(id: &str, version: u32, n: u32, m: u32, name: &str) -> ParsedMessage {
    let subject = if version > 1 {
        format!("[PATCH v{version} {n}/{m}] {name}")
    } else {
        format!("[PATCH {n}/{m}] {name}")
    };
    let kind = if n == 0 { MessageKind::CoverLetter } else { MessageKind::Patch };
    let mut p = msg(id, &subject, kind);
    p.subject_info = SubjectInfo {
        tags: vec!["PATCH".into()],
        version,
        number: Some(n),
        total: Some(m),
        name: name.into(),
        ..Default::default()
    };
    if n > 0 {
        p.diff = Some(Diff {
            text: format!(
                "diff --git a/f{n} b/f{n}\n--- a/f{n}\n+++ b/f{n}\n@@ -1 +1 @@\n-a\n+{name}\n"
            ),
            files: vec![FileStat {
                path: format!("f{n}"),
                insertions: 1,
                deletions: 1,
                ..Default::default()
            }],
            patch_id: format!("{:040x}", u128::from(n) * 7919 + name.len() as u128),
            patchwork_hash: None,
        });
    }
    p
}

pub fn reply_to(id: &str, parent: &ParsedMessage, body: &str) -> ParsedMessage {
    let mut p = msg(id, &format!("Re: {}", parent.subject), MessageKind::Reply);
    p.subject_info.is_reply = true;
    p.in_reply_to = Some(parent.message_id.clone());
    p.references = parent.references.clone();
    p.references.push(parent.message_id.clone());
    p.from = person("Rita Reviewer", "rita@example.org");
    p.body = body.into();
    p.date = parent.date.map(|d| d + 3600);
    for line in body.lines() {
        if let Some(v) = line.strip_prefix("Reviewed-by: ") {
            p.trailers.push(Trailer {
                tag: "Reviewed-by".into(),
                value: v.into(),
                person: Some(person("Rita Reviewer", "rita@example.org")),
            });
        }
    }
    p
}

/// `child` threaded under `parent`.
pub fn threaded(mut child: ParsedMessage, parent: &ParsedMessage) -> ParsedMessage {
    child.in_reply_to = Some(parent.message_id.clone());
    child.references = parent.references.clone();
    child.references.push(parent.message_id.clone());
    child
}

pub fn incoming(p: ParsedMessage) -> Incoming {
    let raw = format!(
        "Message-ID: <{}>\nSubject: {}\nFrom: {} <{}>\n\n{}\n",
        p.message_id, p.subject, p.from.name, p.from.email, p.body
    )
    .into_bytes();
    Incoming::new(raw, p, None)
}

#[allow(dead_code)] // not every test target uses it
pub fn incoming_with_raw(p: ParsedMessage, raw: &[u8]) -> Incoming {
    Incoming::new(raw.to_vec(), p, None)
}

/// The messages of a gzipped mboxrd archive, `From ` lines removed and `>From ` unescaped.
/// (The importer has the real reader; this is just enough to feed the store real mail.)
pub fn mboxrd_messages(path: &str) -> Vec<Vec<u8>> {
    use std::io::Read;
    let file = std::fs::File::open(path).unwrap_or_else(|e| panic!("cannot open {path}: {e}"));
    let mut bytes = Vec::new();
    flate2::read::MultiGzDecoder::new(file)
        .read_to_end(&mut bytes)
        .unwrap_or_else(|e| panic!("cannot gunzip {path}: {e}"));
    let mut out: Vec<Vec<u8>> = Vec::new();
    let mut current: Option<Vec<u8>> = None;
    for line in bytes.split_inclusive(|&b| b == b'\n') {
        if line.starts_with(b"From ") {
            out.extend(current.take());
            current = Some(Vec::new());
            continue;
        }
        let Some(msg) = current.as_mut() else { continue };
        let quoted_from = line
            .iter()
            .position(|&b| b != b'>')
            .is_some_and(|i| i > 0 && line[i..].starts_with(b"From "));
        msg.extend_from_slice(if quoted_from { &line[1..] } else { line });
    }
    out.extend(current);
    out
}

pub fn corpus(name: &str) -> String {
    format!("{}/../../../shared/corpus/{name}", env!("CARGO_MANIFEST_DIR"))
}

pub fn meta(p: &ParsedMessage) -> quire_series::MessageMeta {
    quire_series::meta_from_parsed(p)
}
