//! Patchwork's download URLs outside `/api/`: mboxes of series, patches, covers and bundles,
//! and redirects from Patchwork's page URLs to quire's pages.

use super::*;
use axum::extract::State;

// ---------------------------------------------------------------------------------------------
// Downloads

/// `Sample-series` from `A sample series`: Patchwork's file names.
pub(super) fn slug(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        if c.is_ascii_alphanumeric() || c == '_' {
            out.push(c);
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    let out = out.trim_matches('-').chars().take(100).collect::<String>();
    if out.is_empty() { "patch".into() } else { out }
}

fn download(body: Vec<u8>, content_type: &'static str, filename: &str) -> Response {
    let mut resp = (StatusCode::OK, [(header::CONTENT_TYPE, content_type)], body).into_response();
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename={filename}")) {
        resp.headers_mut().insert(header::CONTENT_DISPOSITION, v);
    }
    resp
}

/// Patches `numbers` of the series of `head` as one mbox for `git am`, with collected trailers.
pub(crate) async fn series_patches_mbox(
    state: &AppState,
    head: &str,
    numbers: Option<&[u32]>,
) -> PwResult<Vec<u8>> {
    let s = state
        .store
        .series(head)
        .await
        .map_err(store_err)?
        .ok_or_else(|| PwError::not_found(format!("no series <{head}>")))?;
    let chosen: Vec<&quire_store::SeriesPatch> =
        s.patches.iter().filter(|p| numbers.is_none_or(|n| n.contains(&p.number))).collect();
    let mut parsed = Vec::with_capacity(chosen.len());
    for p in &chosen {
        let raw = state.store.raw(&p.message_id).await.map_err(store_err)?;
        let raw =
            raw.ok_or_else(|| PwError::not_found(format!("no raw copy of <{}>", p.message_id)))?;
        let trailers: Vec<quire_series::CollectedTrailer> = p
            .trailers
            .iter()
            .map(|t| quire_series::CollectedTrailer {
                trailer: quire_mail::Trailer {
                    tag: t.tag.clone(),
                    value: t.value.clone(),
                    person: (!t.email.is_empty()).then(|| quire_mail::Address {
                        name: t.name.clone(),
                        email: t.email.clone(),
                    }),
                },
                message_id: t.message_id.clone(),
                verified: t.verified,
                carried_over: t.carried_over,
            })
            .collect();
        parsed.push((p.number, quire_mail::parse(&raw), trailers));
    }
    let patches: Vec<quire_series::am::AmPatch<'_>> = parsed
        .iter()
        .map(|(number, message, trailers)| quire_series::am::AmPatch {
            message,
            number: *number,
            total: s.total,
            version: s.version,
            trailers,
        })
        .collect();
    Ok(quire_series::am::render_mbox(&patches, &quire_series::am::AmOptions::default()))
}

fn dl_error(e: PwError) -> Response {
    let msg =
        e.1.get("detail")
            .and_then(|d| d.as_str())
            .map(String::from)
            .unwrap_or_else(|| e.1.to_string());
    (e.0, [(header::CONTENT_TYPE, "text/plain; charset=utf-8")], format!("{msg}\n")).into_response()
}

/// `/series/{id}/mbox/`.
pub async fn series_download(State(state): State<AppState>, uri: Uri) -> Response {
    let segs: Vec<String> =
        uri.path().split('/').filter(|s| !s.is_empty()).map(percent_decode).collect();
    let r = async {
        match segs.as_slice() {
            [_, id, m] if m == "mbox" => {
                let id = id_of(id, "series")?;
                let s = state
                    .store
                    .series_info(id)
                    .await
                    .map_err(store_err)?
                    .ok_or_else(|| PwError::not_found(format!("no series {id}")))?;
                let mbox = series_patches_mbox(&state, &s.summary.message_id, None).await?;
                Ok(download(mbox, "text/plain", &format!("{}.patch", slug(&s.summary.name))))
            }
            _ => Err(PwError::not_found("no such download: /series/ID/mbox/")),
        }
    }
    .await;
    r.unwrap_or_else(dl_error)
}

/// `/patch/{id}/mbox/` (and `/raw/`, `/`) → `/project/P/patch/MSGID/...`.
pub async fn patch_redirect(State(state): State<AppState>, uri: Uri) -> Response {
    let segs: Vec<String> =
        uri.path().split('/').filter(|s| !s.is_empty()).map(percent_decode).collect();
    let r = async {
        let [_, id, rest @ ..] = segs.as_slice() else {
            return Err(PwError::not_found("no such patch"));
        };
        let id = id_of(id, "patch")?;
        let p = state
            .store
            .patch(id)
            .await
            .map_err(store_err)?
            .ok_or_else(|| PwError::not_found(format!("no patch {id}")))?;
        let mut to = format!("/project/{}/patch/{}/", enc(&p.project), enc(&p.message_id));
        for r in rest {
            to.push_str(&enc(r));
            to.push('/');
        }
        if let Some(q) = uri.query() {
            to.push('?');
            to.push_str(q);
        }
        Ok((StatusCode::FOUND, [(header::LOCATION, to)]).into_response())
    }
    .await;
    r.unwrap_or_else(dl_error)
}

/// `/project/{p}/patch/{msgid}/{mbox,raw}/`, `/project/{p}/cover/{msgid}/mbox/`,
/// `/project/{p}/list/?series=N`, and the web pages of patches and covers (redirects to
/// quire's own pages).
pub async fn project_download(State(state): State<AppState>, uri: Uri) -> Response {
    let path = uri.path();
    let params = Params::parse(uri.query().unwrap_or(""));
    let r = async {
        let rest = path.strip_prefix("/project/").unwrap_or("");
        let (project, rest) = rest.split_once('/').unwrap_or((rest, ""));
        let project = percent_decode(project);
        let (kind, rest) = rest.split_once('/').unwrap_or((rest, ""));
        if kind == "list" {
            return match params.one("series").and_then(|s| s.parse::<i64>().ok()) {
                Some(id) => {
                    let s = state.store.series_info(id).await.map_err(store_err)?.ok_or_else(|| PwError::not_found(format!("no series {id}")))?;
                    Ok((StatusCode::FOUND, [(header::LOCATION, format!("/{}/{}/", enc(&project), enc(&s.summary.message_id)))]).into_response())
                }
                None => Ok((StatusCode::FOUND, [(header::LOCATION, format!("/{}/", enc(&project)))]).into_response()),
            };
        }
        // The Message-ID may hold `/`: the action is the last segment when it is one we know.
        let rest = rest.trim_end_matches('/');
        let (msgid, action) = match rest.rsplit_once('/') {
            Some((m, a)) if ["mbox", "raw"].contains(&a) => (m, a),
            _ => (rest, ""),
        };
        let msgid = percent_decode(msgid);
        match (kind, action) {
            ("patch", "") | ("cover", "") => Ok((StatusCode::FOUND, [(header::LOCATION, format!("/{}/{}/", enc(&project), enc(&msgid)))]).into_response()),
            ("patch", action) => {
                let f = PatchFilter { project: Some(project.clone()), msgid: Some(msgid.clone()), per_page: 1, ..Default::default() };
                let p = state.store.patches(&f).await.map_err(store_err)?.items.into_iter().next();
                let p = p.ok_or_else(|| PwError::not_found(format!("no patch <{msgid}> in project {project}")))?;
                let total = p.series_total;
                let name = slug(&patch_name(&p.subject, p.series_version, p.number, total));
                if action == "raw" {
                    let m = state.store.message(&p.message_id).await.map_err(store_err)?;
                    let diff = m.and_then(|m| m.diff).unwrap_or_default();
                    return Ok(download(diff.into_bytes(), "text/x-patch", &format!("{name}.diff")));
                }
                // `?series=*` (or the series' id): this patch and the ones before it.
                let numbers: Vec<u32> = match params.one("series").as_deref() {
                    Some("*") => (1..=p.number).collect(),
                    Some(s) if s.parse::<i64>().ok() == Some(p.series_id) => (1..=p.number).collect(),
                    Some(s) => return Err(PwError::not_found(format!("patch {} is not in series {s}", p.id))),
                    None => vec![p.number],
                };
                let mbox = series_patches_mbox(&state, &p.series_head, Some(&numbers)).await?;
                Ok(download(mbox, "text/plain; charset=utf-8", &format!("{name}.patch")))
            }
            ("cover", "mbox") => {
                let raw = state.store.raw(&msgid).await.map_err(store_err)?.ok_or_else(|| PwError::not_found(format!("no cover letter <{msgid}>")))?;
                let m = state.store.message(&msgid).await.map_err(store_err)?;
                let name = m.map(|m| slug(bare_subject(&m.subject))).unwrap_or_else(|| "cover".into());
                let mut mbox = Vec::with_capacity(raw.len() + 64);
                // Writing to memory cannot fail.
                let _ = quire_mail::mbox::write_message(
                    &mut mbox,
                    b"From patchwork Thu Jan  1 00:00:00 1970\n",
                    &raw,
                );
                Ok(download(mbox, "text/plain", &format!("{name}.mbox")))
            }
            _ => Err(PwError::not_found("no such download: /project/P/patch/MSGID/mbox/, .../raw/ or /project/P/cover/MSGID/mbox/")),
        }
    }
    .await;
    r.unwrap_or_else(dl_error)
}

/// A patch line of the bundle page.
pub struct BundlePatchLine {
    pub name: String,
    pub state: String,
    pub submitter: String,
    pub url: String,
}

#[derive(askama::Template)]
#[template(path = "bundle.html")]
pub struct BundlePage {
    pub user: Option<String>,
    pub csrf: String,
    pub name: String,
    pub owner: String,
    pub project: String,
    pub project_url: String,
    pub public: bool,
    pub mbox_url: String,
    pub patches: Vec<BundlePatchLine>,
}

/// `/bundle/{user}/{name}/`, the page git-pw prints as a bundle's `web_url`, and
/// `/bundle/{user}/{name}/mbox/`, its patches in order as one mbox. A public bundle is served
/// to anybody, a private one to its owner only, by web session or API token (anybody else gets
/// the 404 a missing one gets).
pub async fn bundle_download(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    let segs: Vec<String> =
        uri.path().split('/').filter(|s| !s.is_empty()).map(percent_decode).collect();
    let r = async {
        let (owner, name, mbox) = match segs.as_slice() {
            [_, owner, name] => (owner, name, false),
            [_, owner, name, m] if m == "mbox" => (owner, name, true),
            _ => {
                return Err(PwError::not_found(
                    "no such bundle page: /bundle/USER/NAME/ or /bundle/USER/NAME/mbox/",
                ));
            }
        };
        let viewer = crate::accounts::session(&state, &headers).await.map_err(|_| {
            PwError(
                StatusCode::SERVICE_UNAVAILABLE,
                json!({ "detail": "the session could not be read; try again" }),
            )
        })?;
        let user = state
            .store
            .user_by_name(owner)
            .await
            .map_err(store_err)?
            .ok_or_else(|| PwError::not_found(format!("no user {owner}")))?;
        let bundles = state.store.bundles(None, Some(user.id)).await.map_err(store_err)?;
        // The owner, by the web session or by an API token (git-pw's `bundle download` sends
        // its token).
        let owner_asks = viewer.as_ref().is_some_and(|s| s.user.id == user.id)
            || authenticate(&state, &headers)
                .await
                .is_ok_and(|(u, _)| u.is_some_and(|u| u.id == user.id));
        let b = bundles
            .into_iter()
            .find(|b| b.owner.id == user.id && &b.name == name && (b.public || owner_asks));
        let b =
            b.ok_or_else(|| PwError::not_found(format!("no public bundle {name} of {owner}")))?;
        let mut patches = Vec::new();
        for id in &b.patches {
            if let Some(p) = state.store.patch(*id).await.map_err(store_err)? {
                patches.push(p);
            }
        }
        if mbox {
            let mut out = Vec::new();
            for p in &patches {
                out.extend(series_patches_mbox(&state, &p.series_head, Some(&[p.number])).await?);
            }
            let resp = download(out, "text/plain", &format!("{}.mbox", slug(&b.name)));
            return Ok(if b.public { resp } else { crate::accounts::private(resp) });
        }
        let page = BundlePage {
            user: viewer.as_ref().map(|s| s.user.username.clone()),
            csrf: viewer.as_ref().map(|s| s.csrf.clone()).unwrap_or_default(),
            project_url: format!("/{}/", enc(&b.project)),
            mbox_url: format!("/bundle/{}/{}/mbox/", enc(&user.username), enc(&b.name)),
            name: b.name.clone(),
            owner: user.username.clone(),
            project: b.project.clone(),
            public: b.public,
            patches: patches
                .iter()
                .map(|p| BundlePatchLine {
                    name: patch_name(&p.subject, p.series_version, p.number, p.series_total),
                    state: p.state.clone(),
                    submitter: p.submitter.name.clone(),
                    url: format!("/{}/{}/", enc(&p.project), enc(&p.message_id)),
                })
                .collect(),
        };
        let html = askama::Template::render(&page).map_err(|e| {
            tracing::error!(error = %e, "rendering a bundle page");
            PwError(
                StatusCode::INTERNAL_SERVER_ERROR,
                json!({ "detail": "the page could not be rendered; the error is in the log" }),
            )
        })?;
        let resp = axum::response::Html(html).into_response();
        // A session's page (its account line, a private bundle) is not for shared caches.
        Ok(if viewer.is_some() || !b.public { crate::accounts::private(resp) } else { resp })
    }
    .await;
    r.unwrap_or_else(dl_error)
}
