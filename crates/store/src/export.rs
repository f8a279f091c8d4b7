//! Reading the raw mail back out, as it was received: for `quire export` (backups, moving a
//! site, feeding another tool). Importing the export into an empty store gives the same store.

use crate::{Pool, Result, Store};

impl Store {
    /// Raw messages stored after row `after` (0 for the first batch), oldest first, at most
    /// `limit`, with their row ids (pass the last one as `after` for the next batch). With
    /// `project`, only the messages of that project (and their second copies).
    pub async fn raw_messages_after(
        &self,
        after: i64,
        limit: u32,
        project: Option<&str>,
    ) -> Result<Vec<(i64, Vec<u8>)>> {
        on_backend!(self.pool, |p, m| m::reads::raw_batch(p, after, i64::from(limit), project)
            .await)
    }
}
