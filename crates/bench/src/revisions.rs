//! `quire-bench revisions`: how well a store links revisions, by signal (issue 25).
//!
//! For every series at v2 or later: is an earlier revision linked (another series with the same
//! revision key, earlier by version then date), and by which signal (the series' own
//! `revision_link`, or the link of the first of its chain that has one). Recall proxy: the
//! share of v>=2 series with a predecessor. Precision proxy: the share of links (each series
//! with a predecessor, to its nearest predecessor) where the version increases and at least half
//! of the patch subjects (of the smaller side) or the b4 change-id agree; the others are listed
//! (up to `sample`) for checking by hand. Works on a store made by any quire version (the
//! store's migrations add what the report reads; an older one records no signal).

use quire_store::RevisionReportRow;
use std::collections::{BTreeMap, HashMap, HashSet};

#[derive(Debug, Default, PartialEq, Eq)]
pub struct Report {
    pub series: usize,
    pub at_v2_or_later: usize,
    pub with_predecessor: usize,
    /// Of the v>=2 series with a predecessor, by the signal that linked it.
    pub by_signal: BTreeMap<String, usize>,
    pub links: usize,
    pub good_links: usize,
    /// Links where the version does not increase or nothing agrees: (series, predecessor).
    pub doubtful: Vec<(String, String)>,
    /// Of the links, by signal: (links, good).
    pub links_by_signal: BTreeMap<String, (usize, usize)>,
}

fn agree(a: &RevisionReportRow, b: &RevisionReportRow) -> bool {
    if a.change_id.is_some() && a.change_id == b.change_id {
        return true;
    }
    let sa: HashSet<&str> = a.patch_subjects.iter().map(String::as_str).collect();
    let sb: HashSet<&str> = b.patch_subjects.iter().map(String::as_str).collect();
    let shared = sa.intersection(&sb).count();
    shared > 0 && shared * 2 >= sa.len().min(sb.len())
}

fn line(r: &RevisionReportRow) -> String {
    format!("v{} {} <{}> {}", r.version, r.subject, r.submitter.email, r.head)
}

/// The figures of `rows` (every series of a store).
pub fn measure(rows: &[RevisionReportRow], sample: usize) -> Report {
    let mut report = Report { series: rows.len(), ..Report::default() };
    let mut chains: HashMap<(i64, &str), Vec<&RevisionReportRow>> = HashMap::new();
    for r in rows {
        chains.entry((r.project_id, r.revision_key.as_str())).or_default().push(r);
    }
    for chain in chains.values_mut() {
        chain.sort_by_key(|r| (r.version, r.date, r.id));
        for (i, r) in chain.iter().enumerate() {
            let signal =
                || r.revision_link.clone().unwrap_or_else(|| "sender-and-name".to_string());
            if i > 0 {
                let p = chain[i - 1];
                report.links += 1;
                let good = r.version > p.version && agree(r, p);
                let entry = report.links_by_signal.entry(signal()).or_default();
                entry.0 += 1;
                if good {
                    report.good_links += 1;
                    entry.1 += 1;
                } else if report.doubtful.len() < sample {
                    report.doubtful.push((line(r), line(p)));
                }
            }
            if r.version >= 2 {
                report.at_v2_or_later += 1;
                if i > 0 {
                    report.with_predecessor += 1;
                    *report.by_signal.entry(signal()).or_default() += 1;
                }
            }
        }
    }
    report.doubtful.sort();
    report
}

fn pct(a: usize, b: usize) -> String {
    if b == 0 { "-".into() } else { format!("{:.1}%", 100.0 * a as f64 / b as f64) }
}

pub fn print(report: &Report) {
    println!("series: {}", report.series);
    println!(
        "v>=2 series with an earlier revision linked (recall proxy): {} of {} ({})",
        report.with_predecessor,
        report.at_v2_or_later,
        pct(report.with_predecessor, report.at_v2_or_later)
    );
    for (signal, n) in &report.by_signal {
        println!("  by {signal}: {n}");
    }
    println!(
        "links where the version increases and half the patch subjects or the change-id agree (precision proxy): {} of {} ({})",
        report.good_links,
        report.links,
        pct(report.good_links, report.links)
    );
    for (signal, (n, good)) in &report.links_by_signal {
        println!("  {signal}: {good} of {n} ({})", pct(*good, *n));
    }
    if !report.doubtful.is_empty() {
        println!("links to check by hand (series <- the revision before it):");
        for (a, b) in &report.doubtful {
            println!("  {a}\n    <- {b}");
        }
    }
}

/// Opens the store of `data_dir` (or `database_url`) and prints its report.
pub fn revisions_cmd(
    data_dir: &std::path::Path,
    database_url: Option<&str>,
    sample: usize,
) -> Result<(), String> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start a runtime: {e}"))?;
    let rows = rt.block_on(async {
        let store = quire_store::Store::open(data_dir, database_url)
            .await
            .map_err(|e| format!("cannot open the store of {}: {e}", data_dir.display()))?;
        let rows = store.revision_report().await.map_err(|e| format!("cannot read series: {e}"));
        store.close().await;
        rows
    })?;
    print(&measure(&rows, sample));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use quire_mail::Address;

    fn row(
        id: i64,
        key: &str,
        version: u32,
        subjects: &[&str],
        link: Option<&str>,
    ) -> RevisionReportRow {
        RevisionReportRow {
            id,
            project_id: 1,
            head: format!("h{id}"),
            subject: format!("[PATCH v{version}] s{id}"),
            version,
            date: id,
            submitter: Address { name: "A".into(), email: "a@x".into() },
            revision_key: key.into(),
            revision_link: link.map(Into::into),
            patch_subjects: subjects.iter().map(|s| s.to_string()).collect(),
            change_id: None,
        }
    }

    #[test]
    fn recall_and_precision_by_signal() {
        let rows = [
            row(1, "k1", 1, &["a", "b"], None),
            row(2, "k1", 2, &["a", "c"], Some("patch-subjects")),
            row(3, "k2", 2, &["x"], None),
            row(4, "k3", 1, &["p"], None),
            row(5, "k3", 2, &["q"], Some("person")),
        ];
        let r = measure(&rows, 10);
        assert_eq!(r.at_v2_or_later, 3);
        assert_eq!(r.with_predecessor, 2);
        assert_eq!(r.links, 2);
        assert_eq!(r.good_links, 1);
        assert_eq!(r.by_signal.get("patch-subjects"), Some(&1));
        assert_eq!(r.links_by_signal.get("person"), Some(&(1, 0)));
        assert_eq!(r.doubtful.len(), 1);
        assert!(r.doubtful[0].0.contains("s5"));
    }
}
