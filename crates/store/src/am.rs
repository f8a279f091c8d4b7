//! A series as `git am` takes it: the stored raw patches, re-parsed, with the trailers
//! reviewers gave them (see `quire_series::am`). Shared by `quire am` and the web's mbox download.

use crate::{Result, SeriesDetail, SeriesTrailer, Store};
use quire_mail::{Address, Trailer};
use quire_series::CollectedTrailer;
use quire_series::am::{AmOptions, AmPatch, render_mbox};

/// A series written out for `git am`.
pub struct AmMbox {
    /// The revision written (the newest one when asked for the latest).
    pub series: SeriesDetail,
    pub mbox: Vec<u8>,
    /// Patch numbers 1..=total that are missing from the mbox (an incomplete series).
    pub missing: Vec<u32>,
}

impl Store {
    /// The series that `message_id` (any of its messages) belongs to as an mbox for `git am`,
    /// each patch with its collected trailers above its `---` line. With `latest`, the newest
    /// revision of that series instead. `None` when the message is in no series.
    pub async fn am_mbox(
        &self,
        message_id: &str,
        latest: bool,
        opts: &AmOptions,
    ) -> Result<Option<AmMbox>> {
        let Some(mut series) = self.series(message_id).await? else { return Ok(None) };
        if latest
            && let Some(newest) = series.revisions.iter().max_by_key(|r| (r.version, r.date))
            && newest.message_id != series.message_id
            && let Some(s) = self.series(&newest.message_id).await?
        {
            series = s;
        }
        let mut parsed = Vec::with_capacity(series.patches.len());
        for patch in &series.patches {
            let Some(raw) = self.raw(&patch.message_id).await? else { continue };
            let trailers: Vec<CollectedTrailer> = patch.trailers.iter().map(collected).collect();
            parsed.push((patch.number, quire_mail::parse(&raw), trailers));
        }
        let patches: Vec<AmPatch<'_>> = parsed
            .iter()
            .map(|(number, message, trailers)| AmPatch {
                message,
                number: *number,
                total: series.total,
                version: series.version,
                trailers,
            })
            .collect();
        let mbox = render_mbox(&patches, opts);
        let present: Vec<u32> = series.patches.iter().map(|p| p.number).collect();
        let missing = (1..=series.total).filter(|n| !present.contains(n)).collect();
        Ok(Some(AmMbox { series, mbox, missing }))
    }
}

fn collected(t: &SeriesTrailer) -> CollectedTrailer {
    let person =
        (!t.email.is_empty()).then(|| Address { name: t.name.clone(), email: t.email.clone() });
    CollectedTrailer {
        trailer: Trailer { tag: t.tag.clone(), value: t.value.clone(), person },
        message_id: t.message_id.clone(),
        verified: t.verified,
        carried_over: t.carried_over,
    }
}
