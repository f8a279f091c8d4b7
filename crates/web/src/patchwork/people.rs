//! `people/` (senders of mail) and `users/` (accounts, whose addresses only token holders see).

use super::*;

pub(super) fn user_json(ctx: &Ctx, u: &User) -> Value {
    let (first, last) = u.name.split_once(' ').unwrap_or((u.name.as_str(), ""));
    json!({
        "id": u.id,
        "url": format!("{}/users/{}/", ctx.api, u.id),
        "username": u.username,
        "first_name": first,
        "last_name": last,
        // Accounts' addresses are for those with a token only, as in Patchwork: listed to
        // anybody, they named every account to guess at (issue 24). Null rather than absent,
        // so that clients reading the field keep working.
        "email": if ctx.authenticated() { Some(u.email.as_str()) } else { None },
    })
}

pub(super) fn person_json(ctx: &Ctx, p: &Person) -> Value {
    json!({ "id": p.id, "url": format!("{}/people/{}/", ctx.api, p.id), "name": p.name, "email": p.email })
}

pub(super) async fn people_list(ctx: Ctx) -> PwResult<Response> {
    let ctx = &ctx;
    let (page, per_page) = paging(ctx)?;
    let project = project_filter(ctx).await?;
    let q = ctx.params.one("q");
    let found = ctx
        .state
        .store
        .people(project.as_deref(), q.as_deref(), page, per_page)
        .await
        .map_err(store_err)?;
    let items = found.items.iter().map(|p| person_json(ctx, p)).collect();
    Ok(json_page(ctx, items, page, per_page, found.total))
}

pub(super) async fn person_detail(ctx: Ctx, ids: Ids) -> PwResult<Response> {
    let (ctx, id) = (&ctx, ids.first());
    let id = id_of(id, "person")?;
    let p = ctx
        .state
        .store
        .person(id)
        .await
        .map_err(store_err)?
        .ok_or_else(|| PwError::not_found(format!("no person {id}")))?;
    Ok(json_ok(person_json(ctx, &p)))
}

pub(super) async fn users_list(ctx: Ctx) -> PwResult<Response> {
    let ctx = &ctx;
    let (page, per_page) = paging(ctx)?;
    let q = ctx.params.one("q");
    let mut all = ctx.state.store.users(q.as_deref()).await.map_err(store_err)?;
    if let Some(q) = q.as_deref().map(str::trim).filter(|q| !q.is_empty())
        && !ctx.authenticated()
    {
        // Without a token `q` matches what is shown (username, name, id), never the hidden
        // e-mail address: a match would tell that an address has an account.
        let q = q.to_lowercase();
        all.retain(|u| {
            u.username.to_lowercase().contains(&q)
                || u.name.to_lowercase().contains(&q)
                || u.id.to_string() == q
        });
    }
    let total = all.len() as u64;
    let items = all
        .iter()
        .skip(((page - 1) * per_page) as usize)
        .take(per_page as usize)
        .map(|u| user_json(ctx, u))
        .collect();
    Ok(json_page(ctx, items, page, per_page, total))
}

pub(super) async fn user_detail(ctx: Ctx, ids: Ids) -> PwResult<Response> {
    let (ctx, id) = (&ctx, ids.first());
    let id = id_of(id, "user")?;
    let u = ctx
        .state
        .store
        .user(id)
        .await
        .map_err(store_err)?
        .ok_or_else(|| PwError::not_found(format!("no user {id}")))?;
    let mut v = user_json(ctx, &u);
    if ctx.user.as_ref().is_some_and(|me| me.id == u.id) {
        v["settings"] =
            json!({ "send_email": false, "items_per_page": DEFAULT_PER_PAGE, "show_ids": true });
    }
    Ok(json_ok(v))
}
