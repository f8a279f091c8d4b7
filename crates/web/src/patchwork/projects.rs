//! `projects/`: the projects and their maintainers; the `project=` filter every list takes.

use super::*;

pub(super) fn project_json(ctx: &Ctx, p: &ProjectRef, maintainers: Option<Vec<Value>>) -> Value {
    let c = &p.config;
    let mut v = json!({
        "id": p.id,
        "url": format!("{}/projects/{}/", ctx.api, p.id),
        "name": c.name,
        "link_name": c.name,
        "list_id": c.list_ids.first().cloned().unwrap_or_default(),
        "list_email": c.list_addresses.first().cloned().unwrap_or_default(),
        "web_url": format!("{}/{}/", ctx.base, enc(&c.name)),
        "scm_url": c.git_url.clone().unwrap_or_default(),
        "webscm_url": c.mirror_url.clone().unwrap_or_default(),
    });
    if ctx.at_least(1, 2) {
        v["list_archive_url"] = json!(format!("{}/{}/", ctx.base, enc(&c.name)));
        v["list_archive_url_format"] = json!(format!("{}/{}/{{}}/", ctx.base, enc(&c.name)));
        v["commit_url_format"] = json!("");
    }
    if let Some(m) = maintainers {
        v["maintainers"] = Value::Array(m);
        v["subject_match"] = json!("");
        if ctx.at_least(1, 2) {
            v["show_dependencies"] = json!(false);
        }
    }
    v
}

pub(super) async fn find_project(ctx: &Ctx, name_or_id: &str) -> PwResult<ProjectRef> {
    let projects = ctx.state.store.project_refs().await.map_err(store_err)?;
    projects
        .into_iter()
        .find(|p| {
            p.config.name == name_or_id || name_or_id.parse::<i64>().is_ok_and(|id| id == p.id)
        })
        .ok_or_else(|| PwError::not_found(format!("no project {name_or_id:?}")))
}

/// The `project=` filter, checked: a project that does not exist is a 404, not an empty list.
pub(super) async fn project_filter(ctx: &Ctx) -> PwResult<Option<String>> {
    match ctx.params.one("project") {
        None => Ok(None),
        Some(p) => Ok(Some(find_project(ctx, &p).await?.config.name)),
    }
}

pub(super) async fn maintainers(ctx: &Ctx, project: &str) -> PwResult<Vec<Value>> {
    let mut out = Vec::new();
    for u in ctx.state.store.users(None).await.map_err(store_err)? {
        if ctx.state.store.may_maintain(u.id, project).await.map_err(store_err)? {
            out.push(user_json(ctx, &u));
        }
    }
    Ok(out)
}

pub(super) async fn list(ctx: Ctx) -> PwResult<Response> {
    let ctx = &ctx;
    let (page, per_page) = paging(ctx)?;
    let all = ctx.state.store.project_refs().await.map_err(store_err)?;
    let total = all.len() as u64;
    let mut items = Vec::new();
    for p in all.iter().skip(((page - 1) * per_page) as usize).take(per_page as usize) {
        items.push(project_json(ctx, p, Some(maintainers(ctx, &p.config.name).await?)));
    }
    Ok(json_page(ctx, items, page, per_page, total))
}

pub(super) async fn detail(ctx: Ctx, ids: Ids) -> PwResult<Response> {
    let (ctx, id) = (&ctx, ids.first());
    let p = find_project(ctx, id).await?;
    let m = maintainers(ctx, &p.config.name).await?;
    Ok(json_ok(project_json(ctx, &p, Some(m))))
}
