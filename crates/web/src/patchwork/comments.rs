//! `patches/N/comments/` and `covers/N/comments/`: the replies to a patch or a cover letter.

use super::*;

/// `patches/N/comments/`.
pub(super) async fn patch_comments(ctx: Ctx, ids: Ids) -> PwResult<Response> {
    comments_list(&ctx, "patches", ids.first()).await
}

/// `covers/N/comments/`.
pub(super) async fn cover_comments(ctx: Ctx, ids: Ids) -> PwResult<Response> {
    comments_list(&ctx, "covers", ids.first()).await
}

async fn comments_list(ctx: &Ctx, kind: &str, id: &str) -> PwResult<Response> {
    let (page, per_page) = paging(ctx)?;
    let (row, project) = if kind == "patches" {
        let p = load_patch(ctx, id).await?;
        (p.id, p.project)
    } else {
        let id = id_of(id, "cover")?;
        let s = ctx
            .state
            .store
            .cover(id)
            .await
            .map_err(store_err)?
            .ok_or_else(|| PwError::not_found(format!("no cover letter {id}")))?;
        (id, s.summary.project)
    };
    let all = ctx.state.store.comments(row).await.map_err(store_err)?;
    let total = all.len() as u64;
    let mut items = Vec::new();
    for c in all.iter().skip(((page - 1) * per_page) as usize).take(per_page as usize) {
        let raw = ctx.state.store.raw(&c.message_id).await.map_err(store_err)?;
        let mut v = json!({
            "id": c.id,
            "msgid": format!("<{}>", c.message_id),
            "date": date(c.date),
            "subject": c.subject,
            "submitter": person_json(ctx, &c.submitter),
            "content": c.body,
            "headers": headers_json(raw.as_deref()),
        });
        if ctx.at_least(1, 1) {
            v["web_url"] = json!(format!("{}/{}/{}/", ctx.base, enc(&project), enc(&c.message_id)));
        }
        if ctx.at_least(1, 2) {
            v["list_archive_url"] =
                json!(format!("{}/{}/{}/", ctx.base, enc(&project), enc(&c.message_id)));
        }
        if ctx.at_least(1, 3) {
            v["url"] = json!(format!("{}/{kind}/{row}/comments/{}/", ctx.api, c.id));
            v["addressed"] = json!(false);
        }
        items.push(v);
    }
    Ok(json_page(ctx, items, page, per_page, total))
}
