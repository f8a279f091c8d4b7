//! Series pages rendered before, served again while nothing they show has changed.
//!
//! A series page reads the series, its revisions, the whole review thread, checks, the apply
//! result and the patch states: milliseconds of queries and rendering, and the page most read.
//! Anonymous visitors all see the same page, so the rendered HTML (and its gzip) is kept per
//! (project, series) with the store's stamp for it ([`quire_store::Store::series_page_stamp`],
//! one indexed query that changes whenever the series, one of its revisions, an apply result, a
//! check, a patch state or a merge is written, by any process). A request serves the kept page
//! when the stamp is unchanged and the page is younger than [`MAX_AGE`] (the page says "3 hours
//! ago"). Pages for logged-in users carry their forms and are never kept. Each web server keeps
//! its own: nothing is shared between processes but the store.

use std::collections::HashMap;
use std::io::Write as _;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};

/// A kept page is rendered again after this long at least, for its relative dates; each page
/// gets up to as long again on top (from a hash of its key), so that pages rendered together,
/// as at start (crate::warm), are not all rendered again in the same second.
pub const MAX_AGE: Duration = Duration::from_secs(30);

/// The header of a page served from the cache: `x-quire-page: kept`.
pub const KEPT_HEADER: &str = "x-quire-page";

/// Bytes of pages kept at most (HTML and gzip together); past it the oldest half goes.
const BUDGET: usize = 64 << 20;

struct Kept {
    stamp: u64,
    made: Instant,
    /// [`MAX_AGE`] and this page's share of as long again.
    lifetime: Duration,
    html: Bytes,
    gzip: Bytes,
}

impl Kept {
    fn size(&self) -> usize {
        self.html.len() + self.gzip.len()
    }
}

#[derive(Default)]
pub struct PageCache {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    pages: HashMap<(String, String), Kept>,
    bytes: usize,
}

impl PageCache {
    /// The page kept for `key` if it was made for `stamp` less than [`MAX_AGE`] ago.
    pub fn get(&self, key: &(String, String), stamp: u64, headers: &HeaderMap) -> Option<Response> {
        let inner = self.inner.lock().ok()?;
        let kept =
            inner.pages.get(key).filter(|k| k.stamp == stamp && k.made.elapsed() < k.lifetime)?;
        let (html, gzip) = (kept.html.clone(), kept.gzip.clone());
        drop(inner);
        let mut r = if accepts_gzip(headers) {
            let mut r = gzip.into_response();
            let h = r.headers_mut();
            h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
            h.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
            h.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
            r
        } else {
            let mut r = html.into_response();
            r.headers_mut()
                .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
            r
        };
        // Says to operators (and tests) that the page was not rendered for this request.
        r.headers_mut().insert(KEPT_HEADER, HeaderValue::from_static("kept"));
        Some(r)
    }

    /// Keeps `html` for `key`, made for `stamp` (read before the page's data was).
    pub fn put(&self, key: (String, String), stamp: u64, html: &str) {
        let mut gz = flate2::write::GzEncoder::new(
            Vec::with_capacity(html.len() / 4),
            flate2::Compression::default(),
        );
        if gz.write_all(html.as_bytes()).is_err() {
            return;
        }
        let Ok(gzip) = gz.finish() else { return };
        let kept = Kept {
            stamp,
            made: Instant::now(),
            lifetime: lifetime(&key),
            html: Bytes::copy_from_slice(html.as_bytes()),
            gzip: Bytes::from(gzip),
        };
        if kept.size() > BUDGET / 8 {
            return;
        }
        let Ok(mut inner) = self.inner.lock() else { return };
        inner.bytes += kept.size();
        if let Some(old) = inner.pages.insert(key, kept) {
            inner.bytes -= old.size();
        }
        if inner.bytes > BUDGET {
            let mut ages: Vec<Instant> = inner.pages.values().map(|k| k.made).collect();
            ages.sort_unstable();
            let cut = ages[ages.len() / 2];
            inner.pages.retain(|_, k| k.made > cut);
            inner.bytes = inner.pages.values().map(Kept::size).sum();
        }
    }

    /// Pages kept now (for tests and /metrics).
    pub fn len(&self) -> usize {
        self.inner.lock().map(|i| i.pages.len()).unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether the kept pages take half the budget or more (the start's warm-up stops there).
    pub fn is_half_full(&self) -> bool {
        self.inner.lock().map(|i| i.bytes >= BUDGET / 2).unwrap_or(true)
    }
}

/// How long the page kept for `key` lives: [`MAX_AGE`] plus a share of it that depends on the
/// key only (FNV-1a; any spread will do).
fn lifetime(key: &(String, String)) -> Duration {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in key.0.bytes().chain([0]).chain(key.1.bytes()) {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    MAX_AGE + MAX_AGE.mul_f64((h % 1000) as f64 / 1000.0)
}

/// Whether the request's Accept-Encoding takes gzip (not with q=0).
fn accepts_gzip(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|item| {
            let mut parts = item.split(';').map(str::trim);
            let coding = parts.next().unwrap_or("");
            let zero = parts.any(|p| {
                p.strip_prefix("q=")
                    .and_then(|q| q.trim().parse::<f32>().ok())
                    .is_some_and(|q| q == 0.0)
            });
            (coding.eq_ignore_ascii_case("gzip") || coding == "*") && !zero
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(accept: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::ACCEPT_ENCODING, HeaderValue::from_str(accept).unwrap());
        h
    }

    #[test]
    fn gzip_is_taken_unless_refused() {
        assert!(accepts_gzip(&headers("gzip, deflate, br")));
        assert!(accepts_gzip(&headers("br;q=1.0, GZIP;q=0.5")));
        assert!(accepts_gzip(&headers("*")));
        assert!(!accepts_gzip(&headers("gzip;q=0, br")));
        assert!(!accepts_gzip(&headers("br, zstd")));
        assert!(!accepts_gzip(&HeaderMap::new()));
    }

    #[test]
    fn a_page_is_served_for_its_stamp_only() {
        let c = PageCache::default();
        let key = ("p".to_string(), "a@b".to_string());
        assert!(c.get(&key, 1, &HeaderMap::new()).is_none());
        c.put(key.clone(), 1, "<p>one</p>");
        assert!(c.get(&key, 1, &HeaderMap::new()).is_some());
        assert!(c.get(&key, 2, &HeaderMap::new()).is_none(), "another stamp: the page changed");
        assert!(
            c.get(&("q".into(), "a@b".into()), 1, &HeaderMap::new()).is_none(),
            "another project"
        );
        let r = c.get(&key, 1, &headers("gzip")).unwrap();
        assert_eq!(r.headers()[header::CONTENT_ENCODING], "gzip");
        c.put(key.clone(), 2, "<p>two</p>");
        assert_eq!(c.len(), 1);
        assert!(c.get(&key, 1, &HeaderMap::new()).is_none());
    }

    #[test]
    fn the_budget_holds() {
        let c = PageCache::default();
        let page = "x".repeat(1 << 20);
        for i in 0..200 {
            c.put(("p".into(), format!("{i}")), 1, &page);
        }
        let inner = c.inner.lock().unwrap();
        assert!(inner.bytes <= BUDGET, "{} bytes kept", inner.bytes);
        assert!(!inner.pages.is_empty());
    }

    #[test]
    fn pages_kept_together_expire_apart() {
        let lifetimes: Vec<Duration> =
            (0..300).map(|i| lifetime(&("p".into(), format!("{i}@example.org")))).collect();
        assert!(lifetimes.iter().all(|l| *l >= MAX_AGE && *l < 2 * MAX_AGE), "{lifetimes:?}");
        // 300 pages rendered in the same second: no 10-second window holds more than half.
        let in_window = |from: Duration| {
            lifetimes.iter().filter(|l| **l >= from && **l < from + Duration::from_secs(10)).count()
        };
        assert!((30..50).all(|s| in_window(Duration::from_secs(s)) < 150), "{lifetimes:?}");
    }
}
