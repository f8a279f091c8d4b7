//! `covers/`: cover letters, as members of their series.

use super::*;

pub(super) fn cover_json(
    ctx: &Ctx,
    projects: &Projects,
    s: &SeriesInfo,
    detail: Option<(&str, Option<&[u8]>)>,
) -> Option<Value> {
    let c = s.cover.as_ref()?;
    let sum = &s.summary;
    let submitter = Person {
        id: s.submitter_id,
        name: sum.submitter.name.clone(),
        email: sum.submitter.email.clone(),
    };
    let mut v = member_json(
        ctx,
        "covers",
        &sum.project,
        c,
        patch_name(&c.subject, sum.version, 0, sum.total),
    );
    v["project"] = projects.json(ctx, s.project_id);
    v["submitter"] = person_json(ctx, &submitter);
    v["series"] = json!([series_embed(ctx, &sum.project, s.id, &sum.name, sum.version, sum.date)]);
    if ctx.at_least(1, 1) {
        v["comments"] = json!(format!("{}/covers/{}/comments/", ctx.api, c.id));
    }
    if let Some((body, raw)) = detail {
        v["headers"] = headers_json(raw);
        v["content"] = json!(body);
    }
    Some(v)
}

pub(super) async fn list(ctx: Ctx) -> PwResult<Response> {
    let ctx = &ctx;
    let (page, per_page) = paging(ctx)?;
    // Patchwork's filters of covers/, each narrowing the list; a value that cannot be read is a
    // 400 naming it, never a list of unrelated covers.
    let series = match ctx.params.one("series") {
        None => None,
        Some(s) => Some(
            s.trim()
                .parse::<i64>()
                .map_err(|_| PwError::bad(format!("series={s}: give a series id")))?,
        ),
    };
    let q = CoverQuery {
        project: project_filter(ctx).await?,
        submitters: ctx.params.all("submitter"),
        since: ctx.params.one("since").map(|s| parse_date(&s, "since")).transpose()?,
        before: ctx.params.one("before").map(|s| parse_date(&s, "before")).transpose()?,
        words: words(ctx),
        msgid: ctx.params.one("msgid"),
        series,
        order: order(ctx, Order::DateDesc)?,
        page,
        per_page,
    };
    let found = ctx.state.store.covers(&q).await.map_err(store_err)?;
    let projects = Projects::load(ctx).await?;
    let items =
        found.items.iter().filter_map(|(_, s)| cover_json(ctx, &projects, s, None)).collect();
    Ok(json_page(ctx, items, page, per_page, found.total))
}

pub(super) async fn detail(ctx: Ctx, ids: Ids) -> PwResult<Response> {
    let (ctx, id) = (&ctx, ids.first());
    let id = id_of(id, "cover")?;
    let s = ctx
        .state
        .store
        .cover(id)
        .await
        .map_err(store_err)?
        .ok_or_else(|| PwError::not_found(format!("no cover letter {id}")))?;
    let msgid = s.cover.as_ref().map(|c| c.message_id.clone()).unwrap_or_default();
    let body = ctx
        .state
        .store
        .message(&msgid)
        .await
        .map_err(store_err)?
        .map(|m| m.body)
        .unwrap_or_default();
    let raw = ctx.state.store.raw(&msgid).await.map_err(store_err)?;
    let projects = Projects::load(ctx).await?;
    cover_json(ctx, &projects, &s, Some((&body, raw.as_deref())))
        .map(json_ok)
        .ok_or_else(|| PwError::not_found(format!("no cover letter {id}")))
}
