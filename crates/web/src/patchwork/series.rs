//! `series/`: a series with its cover letter and patches, quire's review counts beside.

use super::*;

pub(super) fn series_json(ctx: &Ctx, projects: &Projects, s: &SeriesInfo) -> Value {
    let sum = &s.summary;
    let submitter = Person {
        id: s.submitter_id,
        name: sum.submitter.name.clone(),
        email: sum.submitter.email.clone(),
    };
    let cover = s.cover.as_ref().map(|c| {
        member_json(
            ctx,
            "covers",
            &sum.project,
            c,
            patch_name(&c.subject, sum.version, 0, sum.total),
        )
    });
    let patches: Vec<Value> = s
        .patches
        .iter()
        .map(|p| {
            member_json(
                ctx,
                "patches",
                &sum.project,
                p,
                patch_name(&p.subject, sum.version, p.number, sum.total),
            )
        })
        .collect();
    let mut v = json!({
        "id": s.id,
        "url": format!("{}/series/{}/", ctx.api, s.id),
        "project": projects.json(ctx, s.project_id),
        "name": sum.name,
        "date": date(sum.date),
        "submitter": person_json(ctx, &submitter),
        "version": sum.version,
        "total": sum.total,
        "received_total": s.patches.len(),
        "received_all": sum.complete,
        "mbox": format!("{}/series/{}/mbox/", ctx.base, s.id),
        "cover_letter": cover,
        "patches": patches,
    });
    // quire's own (issue 29), which Patchwork's clients pass over: the A/R/T counts and,
    // where the project's maintainers file says, the approval state with who is awaited.
    v["reviews"] = json!(sum.reviews);
    v["approval"] = json!(sum.approval.as_ref().map(|a| json!({
        "approved": a.approved,
        "awaiting": a.awaiting.iter().map(|p| p.name.clone()).collect::<Vec<_>>(),
    })));
    if ctx.at_least(1, 1) {
        v["web_url"] =
            json!(format!("{}/project/{}/list/?series={}", ctx.base, enc(&sum.project), s.id));
    }
    if ctx.at_least(1, 3) {
        v["dependencies"] = json!([]);
        v["dependents"] = json!([]);
    }
    v
}

pub(super) async fn list(ctx: Ctx) -> PwResult<Response> {
    let ctx = &ctx;
    let (page, per_page) = paging(ctx)?;
    let q = SeriesQuery {
        project: project_filter(ctx).await?,
        submitters: ctx.params.all("submitter"),
        since: ctx.params.one("since").map(|s| parse_date(&s, "since")).transpose()?,
        before: ctx.params.one("before").map(|s| parse_date(&s, "before")).transpose()?,
        words: words(ctx),
        order: order(ctx, Order::Id)?,
        page,
        per_page,
    };
    let mut found = ctx.state.store.series_infos(&q).await.map_err(store_err)?;
    with_review_lines(ctx, &mut found.items).await?;
    let projects = Projects::load(ctx).await?;
    let items = found.items.iter().map(|s| series_json(ctx, &projects, s)).collect();
    Ok(json_page(ctx, items, page, per_page, found.total))
}

pub(super) async fn detail(ctx: Ctx, ids: Ids) -> PwResult<Response> {
    let (ctx, id) = (&ctx, ids.first());
    let id = id_of(id, "series")?;
    let s = ctx
        .state
        .store
        .series_info(id)
        .await
        .map_err(store_err)?
        .ok_or_else(|| PwError::not_found(format!("no series {id}")))?;
    let mut one = [s];
    with_review_lines(ctx, &mut one).await?;
    let projects = Projects::load(ctx).await?;
    Ok(json_ok(series_json(ctx, &projects, &one[0])))
}

/// The series' review counts and approval line, read for the page at once.
pub(super) async fn with_review_lines(ctx: &Ctx, items: &mut [SeriesInfo]) -> PwResult<()> {
    let mut sums: Vec<quire_store::SeriesSummary> =
        items.iter().map(|s| s.summary.clone()).collect();
    ctx.state.store.fill_review_lines(&mut sums).await.map_err(store_err)?;
    for (s, sum) in items.iter_mut().zip(sums) {
        s.summary = sum;
    }
    Ok(())
}
