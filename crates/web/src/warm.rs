//! Pages rendered when the server starts, before `/readyz` says it is ready.
//!
//! A server just started has no kept pages (crate::page_cache): its first visitors all wait for
//! first renders, and under an import on the same cores those queue (p99 200 ms at 100 clients
//! in quire-bench's "server just started" row). Visitors mostly read the newest series, so the
//! server renders, for each project in turn, its first list page and its newest series pages, the
//! way an anonymous visitor gets them, until it has done [`WarmOptions::pages`] of them, spent
//! [`WarmOptions::budget`], or filled half the page cache. `/readyz` answers 503 ("warming up")
//! meanwhile, so a load balancer sends visitors to it when its pages are ready; pages asked for
//! during the warm-up are served as usual.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use axum::http::HeaderMap;

use crate::AppState;

/// How many pages to render at start and for how long at most.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WarmOptions {
    /// Series pages at most, over all projects (0: no warm-up).
    pub pages: usize,
    /// Time at most; the server is ready after it whatever is left.
    pub budget: Duration,
}

impl Default for WarmOptions {
    fn default() -> Self {
        WarmOptions { pages: 300, budget: Duration::from_secs(20) }
    }
}

/// Whether the server has finished its warm-up (true when it had none to do).
#[derive(Debug)]
pub struct Warmth(AtomicBool);

impl Default for Warmth {
    fn default() -> Self {
        Warmth(AtomicBool::new(true))
    }
}

impl Warmth {
    pub fn is_warm(&self) -> bool {
        self.0.load(Ordering::Acquire)
    }

    fn set(&self, warm: bool) {
        self.0.store(warm, Ordering::Release);
    }
}

/// What a warm-up did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Warmed {
    pub lists: usize,
    pub series: usize,
    pub elapsed: Duration,
}

/// Marks the server cold; [`warm`] marks it warm again when it is done. Called before the
/// server listens, so that no `/readyz` answers "ready" in between.
pub fn begin(state: &AppState, options: WarmOptions) {
    if options.pages > 0 {
        state.warmth.set(false);
    }
}

/// Renders the pages (see the module); errors only shorten the warm-up, they are logged.
pub async fn warm(state: AppState, options: WarmOptions) -> Warmed {
    let started = Instant::now();
    let mut done = Warmed::default();
    if options.pages > 0
        && let Err(e) = render_newest(&state, options, started, &mut done).await
    {
        tracing::warn!("warming the page cache stopped: {e}");
    }
    done.elapsed = started.elapsed();
    state.warmth.set(true);
    tracing::info!(
        lists = done.lists,
        series = done.series,
        ms = done.elapsed.as_millis() as u64,
        "page cache warmed"
    );
    done
}

async fn render_newest(
    state: &AppState,
    options: WarmOptions,
    started: Instant,
    done: &mut Warmed,
) -> anyhow::Result<()> {
    let mut names: Vec<String> = state.project_configs().await?.keys().cloned().collect();
    names.sort();
    if names.is_empty() {
        return Ok(());
    }
    // As many of each as the whole warm-up may take: a project with few series leaves its
    // share to the others.
    let per_project = options.pages.min(1000) as u32;
    let mut newest = Vec::with_capacity(names.len());
    for name in &names {
        let filter = quire_store::SeriesFilter { per_page: per_project, ..Default::default() };
        let ids: Vec<String> = state
            .store
            .series_list(name, &filter)
            .await?
            .items
            .into_iter()
            .map(|s| s.message_id)
            .collect();
        newest.push(ids);
    }
    let over = |done: &Warmed| {
        started.elapsed() > options.budget
            || state.pages.is_half_full()
            || done.series >= options.pages
    };
    for name in &names {
        if over(done) {
            return Ok(());
        }
        let list = crate::pages::ListQuery::first();
        let _ = crate::pages::series_list_page(state.clone(), name.clone(), list, HeaderMap::new())
            .await;
        done.lists += 1;
    }
    // Round robin over the projects, newest first in each.
    for i in 0..per_project as usize {
        for (name, ids) in names.iter().zip(&newest) {
            let Some(id) = ids.get(i) else { continue };
            if over(done) {
                return Ok(());
            }
            let _ = crate::pages::message_page(
                state.clone(),
                name.clone(),
                id.clone(),
                HeaderMap::new(),
            )
            .await;
            done.series += 1;
        }
    }
    Ok(())
}
