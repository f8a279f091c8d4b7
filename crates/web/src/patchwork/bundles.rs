//! `bundles/` (API 1.1; written from 1.2): a user's chosen patches, public or private.

use super::*;

pub(super) fn bundle_json(
    ctx: &Ctx,
    projects: &Projects,
    b: &Bundle,
    patches: Vec<Value>,
) -> Value {
    let web = format!("{}/bundle/{}/{}/", ctx.base, enc(&b.owner.username), enc(&b.name));
    let mut v = json!({
        "id": b.id,
        "url": format!("{}/bundles/{}/", ctx.api, b.id),
        "project": projects.json(ctx, b.project_id),
        "name": b.name,
        "owner": user_json(ctx, &b.owner),
        "patches": patches,
        "public": b.public,
        "mbox": format!("{web}mbox/"),
    });
    if ctx.at_least(1, 1) {
        v["web_url"] = json!(web);
    }
    v
}

pub(super) async fn bundle_patches(ctx: &Ctx, b: &Bundle) -> PwResult<Vec<Value>> {
    let mut out = Vec::new();
    for &id in &b.patches {
        if let Some(p) = ctx.state.store.patch(id).await.map_err(store_err)? {
            let total = p.series_total;
            let m = SeriesMember {
                id: p.id,
                message_id: p.message_id.clone(),
                subject: p.subject.clone(),
                date: p.date,
                number: p.number,
            };
            out.push(member_json(
                ctx,
                "patches",
                &p.project,
                &m,
                patch_name(&p.subject, p.series_version, p.number, total),
            ));
        }
    }
    Ok(out)
}

pub(super) async fn list(ctx: Ctx) -> PwResult<Response> {
    let ctx = &ctx;
    let (page, per_page) = paging(ctx)?;
    let project = project_filter(ctx).await?;
    let mut all = ctx
        .state
        .store
        .bundles(project.as_deref(), ctx.user.as_ref().map(|u| u.id))
        .await
        .map_err(store_err)?;
    if let Some(q) = ctx.params.one("q") {
        let q = q.to_lowercase();
        all.retain(|b| b.name.to_lowercase().contains(&q));
    }
    let owners = ctx.params.all("owner");
    if !owners.is_empty() {
        all.retain(|b| {
            owners.iter().any(|o| {
                *o == b.owner.username || o.parse::<i64>().is_ok_and(|id| id == b.owner.id)
            })
        });
    }
    let total = all.len() as u64;
    let projects = Projects::load(ctx).await?;
    let mut items = Vec::new();
    for b in all.iter().skip(((page - 1) * per_page) as usize).take(per_page as usize) {
        items.push(bundle_json(ctx, &projects, b, bundle_patches(ctx, b).await?));
    }
    Ok(json_page(ctx, items, page, per_page, total))
}

pub(super) async fn detail(ctx: Ctx, ids: Ids) -> PwResult<Response> {
    let (ctx, id) = (&ctx, ids.first());
    let id = id_of(id, "bundle")?;
    let b = ctx.state.store.bundle(id).await.map_err(store_err)?;
    let b = b
        .filter(|b| b.public || ctx.user.as_ref().is_some_and(|u| u.id == b.owner.id))
        .ok_or_else(|| PwError::not_found(format!("no bundle {id}")))?;
    let projects = Projects::load(ctx).await?;
    Ok(json_ok(bundle_json(ctx, &projects, &b, bundle_patches(ctx, &b).await?)))
}

pub(super) async fn create(ctx: Ctx, Fields(body): Fields) -> PwResult<Response> {
    let ctx = &ctx;
    let user = need_user(ctx)?.clone();
    let name = body.get("name").and_then(|v| v.as_str()).map(str::trim).unwrap_or("").to_string();
    if name.is_empty() {
        return Err(PwError(
            StatusCode::BAD_REQUEST,
            json!({ "name": ["This field is required."] }),
        ));
    }
    let ids = match body.get("patches") {
        Some(v) => field_ids(v, "patches")?,
        None => Vec::new(),
    };
    if ids.is_empty() {
        return Err(PwError(
            StatusCode::BAD_REQUEST,
            json!({ "patches": ["Bundles cannot be empty"] }),
        ));
    }
    let public = match body.get("public") {
        Some(v) => field_bool(v, "public")?,
        None => false,
    };
    let first = ctx.state.store.patch(ids[0]).await.map_err(store_err)?.ok_or_else(|| {
        PwError(
            StatusCode::BAD_REQUEST,
            json!({ "patches": [format!("Invalid pk \"{}\" - object does not exist.", ids[0])] }),
        )
    })?;
    let b = ctx
        .state
        .store
        .create_bundle(&user, &first.project, &name, public, &ids)
        .await
        .map_err(store_err)?;
    let projects = Projects::load(ctx).await?;
    let v = bundle_json(ctx, &projects, &b, bundle_patches(ctx, &b).await?);
    let mut resp =
        (StatusCode::CREATED, [(header::CONTENT_TYPE, "application/json")], v.to_string())
            .into_response();
    if let Ok(loc) = HeaderValue::from_str(&format!("{}/bundles/{}/", ctx.api, b.id)) {
        resp.headers_mut().insert(header::LOCATION, loc);
    }
    Ok(resp)
}

/// `POST bundles/` below API 1.2, which had bundles read-only.
pub(super) async fn create_needs_1_2() -> PwError {
    PwError(
        StatusCode::METHOD_NOT_ALLOWED,
        json!({ "detail": "writing bundles needs API 1.2 or later" }),
    )
}
