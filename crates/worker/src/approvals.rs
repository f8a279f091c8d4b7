//! The approvals a series needs (issue 29): its project's maintainers file, read at the commit
//! the series applies on, mapped onto the files each patch touches. The store keeps the
//! result and works the approvals out from it whenever trailers arrive; pages never run git.

use std::sync::{Arc, Mutex};

use quire_maintainers::{Maintainers, PatchInput, SeriesMaintainers};
use quire_store::{ProjectConfig, Store};

use crate::{Result, blocking, open_mirror};

/// Largest maintainers file read (Linux's is under 1 MB).
pub const MAX_MAINTAINERS_BYTES: u64 = 16 << 20;

/// Parsed maintainers files by blob id: series applied on nearby commits share the file, and
/// Linux's takes a while to read (its N:/K: expressions are compiled).
#[derive(Default, Clone)]
pub struct MaintainersCache {
    files: Arc<Mutex<Vec<Parsed>>>,
}

/// A blob id and the file it holds, parsed.
type Parsed = (String, Arc<Maintainers>);

/// Blobs kept.
const CACHED: usize = 4;

impl MaintainersCache {
    fn get_or_parse(&self, blob: &str, bytes: &[u8]) -> Arc<Maintainers> {
        let mut files = self.files.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((_, m)) = files.iter().find(|(b, _)| b == blob) {
            return m.clone();
        }
        let parsed = Arc::new(quire_maintainers::parse(&String::from_utf8_lossy(bytes)));
        files.push((blob.to_string(), parsed.clone()));
        if files.len() > CACHED {
            files.remove(0);
        }
        parsed
    }
}

/// Reads `project`'s maintainers file at `base` in its mirror and stores the sections
/// concerning the series `head` (with the approvals they give). `None` when the project's
/// approvals are off or the file is not in the tree at `base`.
pub async fn record_maintainers(
    store: &Store,
    git_dir: &std::path::Path,
    project: &ProjectConfig,
    head: &str,
    base: &str,
    cache: &MaintainersCache,
) -> Result<Option<SeriesMaintainers>> {
    let config = store.project_approvals(&project.name).await?;
    if !config.enabled || config.maintainers_file.trim().is_empty() {
        return Ok(None);
    }
    let mirror = open_mirror(git_dir, project, false).await?;
    let (file, commit) = (config.maintainers_file.trim().to_string(), base.to_string());
    let read = {
        let file = file.clone();
        blocking(move || Ok(mirror.read_file(&commit, &file, MAX_MAINTAINERS_BYTES)?)).await?
    };
    let Some((blob, bytes)) = read else { return Ok(None) };
    let parsed = {
        let (cache, blob) = (cache.clone(), blob.clone());
        blocking(move || Ok(cache.get_or_parse(&blob, &bytes))).await?
    };
    let Some(series) = store.series(head).await? else { return Ok(None) };
    let mut patches = Vec::new();
    for p in &series.patches {
        let Some(m) = store.message(&p.message_id).await? else { continue };
        let files: Vec<String> = m
            .diffstat
            .iter()
            .flat_map(|f| std::iter::once(f.path.clone()).chain(f.old_path.clone()))
            .collect();
        patches.push((p.number, files, m.diff.unwrap_or_default()));
    }
    let base = base.to_string();
    let map = blocking(move || {
        let inputs: Vec<PatchInput> = patches
            .iter()
            .map(|(n, files, diff)| PatchInput {
                number: *n,
                files: files.iter().map(String::as_str).collect(),
                diff,
            })
            .collect();
        Ok(quire_maintainers::map_series(&parsed, &base, &file, &blob, &inputs))
    })
    .await?;
    store.set_series_maintainers(head, &map).await?;
    Ok(Some(map))
}
