//! `patches/N/checks/`: results posted by CI (testers' tokens and maintainers), and the patch's
//! summary of them.

use super::*;

pub(super) fn check_state_name(s: CheckState) -> &'static str {
    match s {
        CheckState::Pass => "success",
        CheckState::Warning => "warning",
        CheckState::Fail | CheckState::Error => "fail",
    }
}

/// Patchwork's summary of checks: the worst of the newest per context, `pending` when none.
pub(super) fn check_summary(checks: &[quire_store::Check]) -> &'static str {
    let mut newest: HashMap<&str, CheckState> = HashMap::new();
    for c in checks {
        newest.insert(c.name.as_str(), c.state);
    }
    if newest.is_empty() {
        return "pending";
    }
    if newest.values().any(|s| matches!(s, CheckState::Fail | CheckState::Error)) {
        "fail"
    } else if newest.values().any(|s| *s == CheckState::Warning) {
        "warning"
    } else {
        "success"
    }
}

pub(super) fn check_json(ctx: &Ctx, patch: i64, c: &quire_store::Check) -> Value {
    json!({
        "id": c.id,
        "url": format!("{}/patches/{patch}/checks/{}/", ctx.api, c.id),
        "user": null,
        "date": date(c.created),
        "state": check_state_name(c.state),
        "target_url": c.url,
        "context": c.name,
        "description": c.description,
    })
}

pub(super) async fn list(ctx: Ctx, ids: Ids) -> PwResult<Response> {
    let (ctx, id) = (&ctx, ids.first());
    let (page, per_page) = paging(ctx)?;
    let p = load_patch(ctx, id).await?;
    let all = ctx.state.store.checks(&p.message_id).await.map_err(store_err)?;
    let total = all.len() as u64;
    let items = all
        .iter()
        .skip(((page - 1) * per_page) as usize)
        .take(per_page as usize)
        .map(|c| check_json(ctx, p.id, c))
        .collect();
    Ok(json_page(ctx, items, page, per_page, total))
}

pub(super) async fn detail(ctx: Ctx, ids: Ids) -> PwResult<Response> {
    let (ctx, id, check) = (&ctx, ids.first(), ids.second());
    let p = load_patch(ctx, id).await?;
    let all = ctx.state.store.checks(&p.message_id).await.map_err(store_err)?;
    let c = check.parse::<i64>().ok().and_then(|n| all.iter().find(|c| c.id == n));
    let c =
        c.ok_or_else(|| PwError::not_found(format!("patch {} has no check {check:?}", p.id)))?;
    Ok(json_ok(check_json(ctx, p.id, c)))
}

pub(super) async fn create(ctx: Ctx, ids: Ids, Fields(body): Fields) -> PwResult<Response> {
    let (ctx, id) = (&ctx, ids.first());
    let p = load_patch(ctx, id).await?;
    let allowed = match (&ctx.user, &ctx.service) {
        (Some(u), _) => {
            let roles = ctx.state.store.roles(u.id).await.map_err(store_err)?;
            roles.iter().any(|(proj, r)| {
                proj == &p.project && ["maintainer", "tester", "admin"].contains(&r.as_str())
            })
        }
        (None, Some(scope)) => scope == "tester" || scope == "admin",
        (None, None) => {
            return Err(PwError::forbidden("Authentication credentials were not provided."));
        }
    };
    if !allowed {
        return Err(PwError::forbidden(format!(
            "this token may not post checks on project {}",
            p.project
        )));
    }
    let text = |k: &str| {
        body.get(k)
            .and_then(|v| v.as_str())
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(String::from)
    };
    let state = match text("state").as_deref() {
        Some("success") => CheckState::Pass,
        Some("warning") => CheckState::Warning,
        Some("fail") => CheckState::Fail,
        Some("pending") => {
            return Err(PwError(
                StatusCode::BAD_REQUEST,
                json!({ "state": ["quire records finished checks only: post success, warning or fail when the check is done."] }),
            ));
        }
        other => {
            return Err(PwError(
                StatusCode::BAD_REQUEST,
                json!({ "state": [format!("Invalid state {}. Expected one of: success, warning, fail.", other.unwrap_or(""))] }),
            ));
        }
    };
    let context = text("context").unwrap_or_else(|| "default".into());
    if context.len() > 255
        || !context.chars().all(|c| c.is_ascii_alphanumeric() || "-_.@".contains(c))
    {
        return Err(PwError(
            StatusCode::BAD_REQUEST,
            json!({ "context": ["letters, digits and -_.@ only, at most 255"] }),
        ));
    }
    let target_url = text("target_url");
    if target_url.as_deref().is_some_and(|u| !crate::url::web_link(u)) {
        return Err(PwError(
            StatusCode::BAD_REQUEST,
            json!({ "target_url": ["only http:// and https:// URLs are accepted"] }),
        ));
    }
    let check = NewCheck {
        name: context,
        state,
        url: target_url,
        description: text("description"),
        log: None,
    };
    let check_id = ctx.state.store.add_check(&p.message_id, &check).await.map_err(store_err)?;
    let all = ctx.state.store.checks(&p.message_id).await.map_err(store_err)?;
    let c = all
        .iter()
        .find(|c| c.id == check_id)
        .ok_or_else(|| PwError::not_found("the check vanished"))?;
    let v = check_json(ctx, p.id, c);
    let mut resp =
        (StatusCode::CREATED, [(header::CONTENT_TYPE, "application/json")], v.to_string())
            .into_response();
    if let Ok(loc) =
        HeaderValue::from_str(&format!("{}/patches/{}/checks/{check_id}/", ctx.api, p.id))
    {
        resp.headers_mut().insert(header::LOCATION, loc);
    }
    Ok(resp)
}
