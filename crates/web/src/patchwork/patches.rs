//! `patches/`: the list with Patchwork's filters, one patch with its headers and diff, and the
//! maintainers' writes (state, archived, delegate, commit_ref).

use super::*;

pub(super) async fn patch_json(
    ctx: &Ctx,
    projects: &Projects,
    p: &PatchInfo,
    detail: bool,
) -> PwResult<Value> {
    let name = patch_name(&p.subject, p.series_version, p.number, p.series_total);
    let web = patch_web_url(ctx, &p.project, &p.message_id);
    let checks = ctx.state.store.checks(&p.message_id).await.map_err(store_err)?;
    let mut v = json!({
        "id": p.id,
        "url": format!("{}/patches/{}/", ctx.api, p.id),
        "project": projects.json(ctx, p.project_id),
        "msgid": format!("<{}>", p.message_id),
        "date": date(p.date),
        "name": name,
        "commit_ref": p.commit_ref,
        "pull_url": null,
        "state": p.state,
        "archived": p.archived,
        "hash": p.hash,
        "submitter": person_json(ctx, &p.submitter),
        "delegate": p.delegate.as_ref().map(|u| user_json(ctx, u)),
        "mbox": format!("{web}mbox/"),
        "series": [series_embed(ctx, &p.project, p.series_id, &p.series_name, p.series_version, p.series_date)],
        "check": check_summary(&checks),
        "checks": format!("{}/patches/{}/checks/", ctx.api, p.id),
        "tags": {},
    });
    if ctx.at_least(1, 1) {
        v["web_url"] = json!(web);
        v["comments"] = json!(format!("{}/patches/{}/comments/", ctx.api, p.id));
    }
    if ctx.at_least(1, 2) {
        v["list_archive_url"] =
            json!(format!("{}/{}/{}/", ctx.base, enc(&p.project), enc(&p.message_id)));
        v["related"] = json!([]);
    }
    if detail {
        let m = ctx.state.store.message(&p.message_id).await.map_err(store_err)?;
        let raw = ctx.state.store.raw(&p.message_id).await.map_err(store_err)?;
        v["headers"] = headers_json(raw.as_deref());
        v["content"] = json!(m.as_ref().map(|m| m.body.clone()).unwrap_or_default());
        v["diff"] = json!(m.and_then(|m| m.diff));
        v["prefixes"] = json!(prefixes(&p.subject));
    }
    Ok(v)
}

pub(super) fn prefixes(subject: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut s = subject.trim();
    while s.starts_with('[') {
        let Some(end) = s.find(']') else { break };
        out.extend(
            s[1..end]
                .split([' ', ','])
                .filter(|t| !t.is_empty() && !t.eq_ignore_ascii_case("patch"))
                .map(String::from),
        );
        s = s[end + 1..].trim_start();
    }
    out
}

pub(super) async fn list(ctx: Ctx) -> PwResult<Response> {
    let ctx = &ctx;
    let (page, per_page) = paging(ctx)?;
    let states = ctx.params.all("state");
    for s in &states {
        if !PATCH_STATES.contains(&s.as_str()) {
            return Err(PwError::bad(format!("state={s}: use one of {}", PATCH_STATES.join(", "))));
        }
    }
    let archived = match ctx.params.one("archived") {
        None => None,
        Some(a) => Some(
            parse_bool(&a)
                .ok_or_else(|| PwError::bad(format!("archived={a}: use true or false")))?,
        ),
    };
    let series = match ctx.params.one("series") {
        None => None,
        Some(s) => Some(
            s.parse::<i64>().map_err(|_| PwError::bad(format!("series={s}: give a series id")))?,
        ),
    };
    let f = PatchFilter {
        project: project_filter(ctx).await?,
        states,
        archived,
        submitters: ctx.params.all("submitter"),
        delegates: ctx.params.all("delegate"),
        hash: ctx.params.one("hash"),
        msgid: ctx.params.one("msgid"),
        series,
        since: ctx.params.one("since").map(|s| parse_date(&s, "since")).transpose()?,
        before: ctx.params.one("before").map(|s| parse_date(&s, "before")).transpose()?,
        words: words(ctx),
        order: order(ctx, Order::Id)?,
        page,
        per_page,
    };
    let found = ctx.state.store.patches(&f).await.map_err(store_err)?;
    let projects = Projects::load(ctx).await?;
    let mut items = Vec::with_capacity(found.items.len());
    for p in &found.items {
        items.push(patch_json(ctx, &projects, p, false).await?);
    }
    Ok(json_page(ctx, items, page, per_page, found.total))
}

pub(super) async fn load_patch(ctx: &Ctx, id: &str) -> PwResult<PatchInfo> {
    let id = id_of(id, "patch")?;
    ctx.state
        .store
        .patch(id)
        .await
        .map_err(store_err)?
        .ok_or_else(|| PwError::not_found(format!("no patch {id}")))
}

pub(super) async fn detail(ctx: Ctx, ids: Ids) -> PwResult<Response> {
    let (ctx, id) = (&ctx, ids.first());
    let p = load_patch(ctx, id).await?;
    let projects = Projects::load(ctx).await?;
    Ok(json_ok(patch_json(ctx, &projects, &p, true).await?))
}

pub(super) async fn update(ctx: Ctx, ids: Ids, Fields(body): Fields) -> PwResult<Response> {
    let (ctx, id) = (&ctx, ids.first());
    let user = need_user(ctx)?.clone();
    let p = load_patch(ctx, id).await?;
    if !ctx.state.store.may_maintain(user.id, &p.project).await.map_err(store_err)? {
        return Err(PwError::forbidden(format!(
            "user {} is not a maintainer of project {}",
            user.username, p.project
        )));
    }
    let mut change = PatchUpdate::default();
    if let Some(s) = body.get("state") {
        let s = s.as_str().unwrap_or_default().to_string();
        if !PATCH_STATES.contains(&s.as_str()) {
            return Err(PwError(
                StatusCode::BAD_REQUEST,
                json!({ "state": [format!("Invalid state {s}. Expected one of: {}.", PATCH_STATES.join(", "))] }),
            ));
        }
        change.state = Some(s);
    }
    if let Some(a) = body.get("archived") {
        change.archived = Some(field_bool(a, "archived")?);
    }
    if let Some(c) = body.get("commit_ref") {
        change.commit_ref =
            Some(c.as_str().map(str::trim).filter(|c| !c.is_empty()).map(String::from));
    }
    if let Some(d) = body.get("delegate") {
        change.delegate = Some(match d {
            Value::Null => None,
            Value::String(s) if s.trim().is_empty() => None,
            d => {
                let id = *field_ids(d, "delegate")?
                    .first()
                    .ok_or_else(|| PwError::bad("delegate: give a user id"))?;
                if ctx.state.store.user(id).await.map_err(store_err)?.is_none() {
                    return Err(PwError(
                        StatusCode::BAD_REQUEST,
                        json!({ "delegate": [format!("User {id} does not exist.")] }),
                    ));
                }
                Some(id)
            }
        });
    }
    let after = ctx.state.store.update_patch(p.id, &change, &user).await.map_err(store_err)?;
    let after = after.ok_or_else(|| PwError::not_found(format!("no patch {}", p.id)))?;
    let projects = Projects::load(ctx).await?;
    Ok(json_ok(patch_json(ctx, &projects, &after, true).await?))
}
