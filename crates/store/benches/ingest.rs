//! Ingest throughput on the two real list slices, on SQLite (and on PostgreSQL when
//! QUIRE_TEST_PG is set): messages/s for the store alone (ingest, including series assembly)
//! and end to end (parse on every core + ingest), and peak RSS.
//!
//! A last pass ("threaded") stands in for the real parser and assembler while they are being
//! written: headers read with mail-parser, subject tags and diffs found crudely, series grouped
//! per thread by the tests' assembler. It loads the store as real threads do (re-keying,
//! neighbourhoods, series rows); it is skipped once `quire_mail::parse` recognises patches.
//!
//! `cargo bench -p quire-store --bench ingest`

#[path = "../tests/common/mod.rs"]
#[allow(dead_code)]
mod common;

use std::time::{Duration, Instant};

use quire_store::{BatchOutcome, Incoming, Store};

const BATCH: usize = 1000;

fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("VmHWM:")).map(|l| l.to_string()))
        .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        .unwrap_or(0)
}

fn parse_all(raws: Vec<Vec<u8>>) -> Vec<Incoming> {
    let threads = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    let per = raws.len().div_ceil(threads).max(1);
    let mut chunks: Vec<Vec<Vec<u8>>> = Vec::new();
    let mut it = raws.into_iter();
    loop {
        let c: Vec<_> = it.by_ref().take(per).collect();
        if c.is_empty() {
            break;
        }
        chunks.push(c);
    }
    std::thread::scope(|s| {
        let handles: Vec<_> = chunks
            .into_iter()
            .map(|c| s.spawn(move || c.into_iter().map(|r| Incoming::parse(r, None)).collect::<Vec<_>>()))
            .collect();
        handles.into_iter().flat_map(|h| h.join().unwrap_or_default()).collect()
    })
}

async fn run(store: &Store, raws: &[Vec<u8>]) -> (Duration, Duration, BatchOutcome) {
    let mut parse = Duration::ZERO;
    let mut ingest = Duration::ZERO;
    let mut total = BatchOutcome::default();
    for chunk in raws.chunks(BATCH) {
        let t = Instant::now();
        let batch = parse_all(chunk.to_vec());
        parse += t.elapsed();
        let t = Instant::now();
        match store.ingest(batch).await {
            Ok(out) => total.add(&out),
            Err(e) => panic!("ingest failed: {e}"),
        }
        ingest += t.elapsed();
    }
    (parse, ingest, total)
}

fn report(backend: &str, name: &str, n: usize, parse: Duration, ingest: Duration, out: &BatchOutcome) {
    let rate = |d: Duration| n as f64 / d.as_secs_f64().max(1e-9);
    println!(
        "{backend:8} {name:32} {n:6} msgs  store {:8.0} msg/s  end-to-end {:8.0} msg/s  (parse {:.2}s, store {:.2}s)  new {} dup {} conflicting {} patches {} series {}  peak RSS {} MiB",
        rate(ingest),
        rate(parse + ingest),
        parse.as_secs_f64(),
        ingest.as_secs_f64(),
        out.new_messages,
        out.duplicates,
        out.conflicting_duplicates.len(),
        out.patches,
        out.series_created,
        peak_rss_kib() / 1024,
    );
}

/// Headers, subject tags and the diff of one mail, crudely: enough for the store's threading
/// and series work to see the shape of real threads.
fn crude_parse(raw: Vec<u8>) -> Incoming {
    use quire_mail::{Diff, MessageKind, ParsedMessage};
    let mut p = ParsedMessage::default();
    if let Some(m) = mail_parser::MessageParser::default().parse(&raw) {
        let list = |v: &mail_parser::HeaderValue| -> Vec<String> {
            v.as_text_list()
                .map(|l| l.iter().map(|s| s.to_string()).collect())
                .or_else(|| v.as_text().map(|t| vec![t.to_string()]))
                .unwrap_or_default()
        };
        p.message_id = m.message_id().unwrap_or("").to_string();
        p.in_reply_to = list(m.in_reply_to()).pop();
        p.references = list(m.references());
        p.subject = m.subject().unwrap_or("").to_string();
        if let Some(a) = m.from().and_then(|f| f.first()) {
            p.from.name = a.name().unwrap_or("").to_string();
            p.from.email = a.address().unwrap_or("").to_string();
        }
        p.date = m.date().map(|d| d.to_timestamp());
        p.body = m.body_text(0).map(|b| b.into_owned()).unwrap_or_default();
    }
    if p.message_id.is_empty() {
        p.message_id = format!("{}@bench.invalid", raw.len());
    }
    let info = &mut p.subject_info;
    info.version = 1;
    info.is_reply = p.subject.to_ascii_lowercase().starts_with("re:");
    for tag in p.subject.split(['[', ']']).skip(1).step_by(2).flat_map(str::split_whitespace) {
        info.tags.push(tag.to_string());
        if let Some(v) = tag.strip_prefix('v').and_then(|v| v.parse().ok()) {
            info.version = v;
        }
        if let Some((n, m)) = tag.split_once('/') {
            if let (Ok(n), Ok(m)) = (n.parse(), m.parse()) {
                info.number = Some(n);
                info.total = Some(m);
            }
        }
    }
    info.name = p.subject.rsplit(']').next().unwrap_or("").trim().to_string();
    if let Some(at) = p.body.find("\ndiff --git ") {
        let text = p.body.split_off(at + 1);
        p.diff = Some(Diff { patch_id: format!("{:040x}", text.len()), text, files: Vec::new() });
    }
    p.kind = match (info.is_reply, info.number, &p.diff) {
        (false, Some(0), _) => MessageKind::CoverLetter,
        (false, _, Some(_)) => MessageKind::Patch,
        _ => MessageKind::Reply,
    };
    Incoming { raw, parsed: p, project: None }
}

/// One series per thread holding patches (the tests' stand-in for `quire_series::assemble`).
fn by_thread(metas: &[quire_series::MessageMeta]) -> quire_series::Assembly {
    use quire_mail::MessageKind;
    use quire_series::{Assembly, Role, Series};
    let mut threads: std::collections::BTreeMap<&str, Vec<&quire_series::MessageMeta>> = Default::default();
    for m in metas {
        let root = m.references.first().or(m.in_reply_to.as_ref()).unwrap_or(&m.message_id);
        threads.entry(root).or_default().push(m);
    }
    let mut out = Assembly::default();
    for msgs in threads.values() {
        let cover = msgs.iter().find(|m| m.kind == MessageKind::CoverLetter);
        let mut patches: Vec<(u32, &str)> = msgs
            .iter()
            .filter(|m| m.kind == MessageKind::Patch)
            .map(|m| (m.subject_info.number.unwrap_or(1), m.message_id.as_str()))
            .collect();
        patches.sort();
        patches.dedup_by_key(|p| p.0);
        let Some(head) = cover.copied().or_else(|| msgs.iter().find(|m| Some(m.message_id.as_str()) == patches.first().map(|p| p.1)).copied()) else {
            continue;
        };
        let total = head.subject_info.total.unwrap_or(1);
        out.series.push(Series {
            head: head.message_id.clone(),
            cover_letter: cover.map(|c| c.message_id.clone()),
            patches: patches.iter().map(|(n, id)| (*n, id.to_string())).collect(),
            version: head.subject_info.version,
            total,
            complete: (1..=total).all(|n| patches.iter().any(|p| p.0 == n)),
            subject: head.subject.clone(),
            name: head.subject_info.name.clone(),
            submitter: head.from.clone(),
            date: head.date,
            is_rfc: false,
            is_pull: false,
            revision_key: format!("{}\n{}", head.from.email.to_lowercase(), quire_mail::normalized_name(&head.subject_info.name)),
        });
        for m in msgs {
            let role = match m.kind {
                MessageKind::CoverLetter => Role::CoverLetter,
                MessageKind::Patch => Role::Patch(m.subject_info.number.unwrap_or(1)),
                _ => Role::Reply,
            };
            out.members.push((m.message_id.clone(), head.message_id.clone(), role));
        }
    }
    out
}

async fn run_threaded(store: &Store, raws: &[Vec<u8>]) -> (Duration, Duration, BatchOutcome) {
    let mut parse = Duration::ZERO;
    let mut ingest = Duration::ZERO;
    let mut total = BatchOutcome::default();
    for chunk in raws.chunks(BATCH) {
        let t = Instant::now();
        let batch: Vec<Incoming> = chunk.iter().cloned().map(crude_parse).collect();
        parse += t.elapsed();
        let t = Instant::now();
        match store.ingest(batch).await {
            Ok(out) => total.add(&out),
            Err(e) => panic!("ingest failed: {e}"),
        }
        ingest += t.elapsed();
    }
    (parse, ingest, total)
}

fn main() {
    let rt = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => panic!("cannot start tokio: {e}"),
    };
    rt.block_on(async {
        for name in ["ltp-2019-2020.4k.mbox.gz", "io-uring-2019-2021.8k.mbox.gz"] {
            let raws = common::mboxrd_messages(&common::corpus(name));
            let (dir, store) = quire_store::testing::sqlite_store().await;
            let (parse, ingest, out) = run(&store, &raws).await;
            report("sqlite", name, raws.len(), parse, ingest, &out);
            if let Ok(stats) = store.stats().await {
                println!(
                    "sqlite   {name:32} raw {} MB stored {} MB (zstd ratio {:.1})",
                    stats.raw_bytes >> 20,
                    stats.stored_bytes >> 20,
                    stats.raw_bytes as f64 / stats.stored_bytes.max(1) as f64
                );
            }
            let t = Instant::now();
            if let Err(e) = store.reindex(|_, _| {}).await {
                panic!("reindex failed: {e}");
            }
            println!("sqlite   {name:32} reindex {:8.0} msg/s", raws.len() as f64 / t.elapsed().as_secs_f64());
            store.close().await;
            drop(dir);
            if std::env::var("QUIRE_TEST_PG").is_ok() || std::env::var("QUIRE_BENCH_PG").is_ok() {
                let store = quire_store::testing::pg_store().await;
                let (parse, ingest, out) = run(&store, &raws).await;
                report("postgres", name, raws.len(), parse, ingest, &out);
                store.close().await;
            }
        }
        if common::parser_available() {
            return;
        }
        quire_store::testing::use_assembler(by_thread);
        for name in ["ltp-2019-2020.4k.mbox.gz", "io-uring-2019-2021.8k.mbox.gz"] {
            let raws = common::mboxrd_messages(&common::corpus(name));
            let (dir, store) = quire_store::testing::sqlite_store().await;
            let (parse, ingest, out) = run_threaded(&store, &raws).await;
            report("threaded", name, raws.len(), parse, ingest, &out);
            if let Ok(stats) = store.stats().await {
                println!("threaded {name:32} threads {} series {} complete {}", stats.threads, stats.series, stats.complete_series);
            }
            store.close().await;
            drop(dir);
            if std::env::var("QUIRE_TEST_PG").is_ok() || std::env::var("QUIRE_BENCH_PG").is_ok() {
                let store = quire_store::testing::pg_store().await;
                let (parse, ingest, out) = run_threaded(&store, &raws).await;
                report("thr-pg", name, raws.len(), parse, ingest, &out);
                store.close().await;
            }
        }
    });
}
