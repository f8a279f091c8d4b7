//! `events/`: the store's events under Patchwork's categories.

use super::*;

/// Patchwork's event categories and the store's event kinds.
const CATEGORIES: &[(&str, &str)] = &[
    ("series-created", "series-new"),
    ("series-completed", "series-complete"),
    ("patch-state-changed", "patch-state-changed"),
    ("patch-delegated", "patch-delegated"),
    ("check-created", "check-finished"),
];

pub(super) async fn list(ctx: Ctx) -> PwResult<Response> {
    let ctx = &ctx;
    let (page, per_page) = paging(ctx)?;
    let mut kinds = Vec::new();
    for c in ctx.params.all("category") {
        match CATEGORIES.iter().find(|(cat, _)| *cat == c) {
            Some((_, kind)) => kinds.push(kind.to_string()),
            None => {
                let known: Vec<&str> = CATEGORIES.iter().map(|(c, _)| *c).collect();
                return Err(PwError::bad(format!(
                    "category={c}: quire records {}",
                    known.join(", ")
                )));
            }
        }
    }
    if kinds.is_empty() {
        kinds = CATEGORIES.iter().map(|(_, k)| k.to_string()).collect();
    }
    let q = quire_store::EventQuery { project: project_filter(ctx).await?, kinds, page, per_page };
    let found = ctx.state.store.events_page(&q).await.map_err(store_err)?;
    let projects = Projects::load(ctx).await?;
    let by_name: HashMap<String, i64> =
        projects.0.values().map(|p| (p.config.name.clone(), p.id)).collect();
    // A page's events name the same series and patches again and again (a series' creation
    // and completion, the patches a new revision superseded): each is read once per page.
    let mut series_of: HashMap<String, Option<Value>> = HashMap::new();
    let mut patch_of: HashMap<String, Option<PatchInfo>> = HashMap::new();
    let mut items = Vec::new();
    for e in &found.items {
        let category =
            CATEGORIES.iter().find(|(_, k)| *k == e.kind).map(|(c, _)| *c).unwrap_or("unknown");
        let mut payload = serde_json::Map::new();
        if let Some(head) = &e.series_head {
            if !series_of.contains_key(head) {
                let mut embed = None;
                if let Some(id) =
                    ctx.state.store.series_id_of_head(head).await.map_err(store_err)?
                    && let Some(s) = ctx.state.store.series_info(id).await.map_err(store_err)?
                {
                    let sum = &s.summary;
                    embed =
                        Some(series_embed(ctx, &sum.project, id, &sum.name, sum.version, sum.date));
                }
                series_of.insert(head.clone(), embed);
            }
            if let Some(Some(embed)) = series_of.get(head) {
                payload.insert("series".into(), embed.clone());
            }
        }
        if let Some(mid) = &e.message_id
            && e.kind != "series-new"
            && e.kind != "series-complete"
        {
            if !patch_of.contains_key(mid) {
                let f = PatchFilter { msgid: Some(mid.clone()), per_page: 1, ..Default::default() };
                let found = ctx.state.store.patches(&f).await.map_err(store_err)?;
                patch_of.insert(mid.clone(), found.items.into_iter().next());
            }
            if let Some(Some(p)) = patch_of.get(mid) {
                let total = p.series_total;
                let m = SeriesMember {
                    id: p.id,
                    message_id: p.message_id.clone(),
                    subject: p.subject.clone(),
                    date: p.date,
                    number: p.number,
                };
                payload.insert(
                    "patch".into(),
                    member_json(
                        ctx,
                        "patches",
                        &p.project,
                        &m,
                        patch_name(&p.subject, p.series_version, p.number, total),
                    ),
                );
            }
        }
        for (from, to) in [("previous_state", "previous_state"), ("current_state", "current_state")]
        {
            if let Some(v) = e.payload.get(from) {
                payload.insert(to.into(), v.clone());
            }
        }
        if e.kind == "check-finished" {
            payload.insert("check".into(), json!({ "context": e.payload.get("name"), "state": e.payload.get("state").and_then(|s| s.as_str()).map(|s| match s { "pass" => "success", "error" => "fail", o => o }) }));
        }
        let mut v = json!({
            "id": e.id,
            "category": category,
            "project": e.project.as_ref().and_then(|p| by_name.get(p)).map(|id| projects.json(ctx, *id)).unwrap_or(Value::Null),
            "date": date(e.created),
            "payload": payload,
        });
        if ctx.at_least(1, 2) {
            v["actor"] = Value::Null;
        }
        items.push(v);
    }
    Ok(json_page(ctx, items, page, per_page, found.total))
}
