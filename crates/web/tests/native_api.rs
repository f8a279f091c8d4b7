//! quire's own API (`/api/v1/...`) on real mail, on SQLite and PostgreSQL: every response these
//! tests get is checked against the OpenAPI document the server serves (`/api/v1/openapi.json`):
//! its status must be documented for that path and method, and its body must match the
//! documented schema. The schema checker below knows the keywords the document uses and fails
//! on any other, so the document cannot say more than is checked.

mod common;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use http_body_util::BodyExt;
use quire_store::Store;
use quire_web::{AppState, WebConfig, router};
use serde_json::{Value, json};
use tower::ServiceExt;

/// Checks `v` against `schema` (resolving `#/components/schemas/...` in `doc`).
fn check(doc: &Value, schema: &Value, v: &Value, at: &str) -> Result<(), String> {
    let Some(obj) = schema.as_object() else {
        return Err(format!("{at}: schema is not an object"));
    };
    for k in obj.keys() {
        if ![
            "$ref",
            "type",
            "properties",
            "required",
            "additionalProperties",
            "items",
            "enum",
            "anyOf",
            "description",
        ]
        .contains(&k.as_str())
        {
            return Err(format!("{at}: the checker does not know schema keyword {k:?}"));
        }
    }
    if let Some(r) = obj.get("$ref").and_then(Value::as_str) {
        let name = r
            .strip_prefix("#/components/schemas/")
            .ok_or_else(|| format!("{at}: unsupported $ref {r}"))?;
        let target = doc["components"]["schemas"]
            .get(name)
            .ok_or_else(|| format!("{at}: no schema {name}"))?;
        return check(doc, target, v, at);
    }
    if let Some(any) = obj.get("anyOf").and_then(Value::as_array) {
        let errors: Vec<String> = any.iter().filter_map(|s| check(doc, s, v, at).err()).collect();
        if errors.len() == any.len() {
            return Err(format!("{at}: matches none of anyOf: {}", errors.join(" / ")));
        }
    }
    if let Some(t) = obj.get("type") {
        let types: Vec<&str> = match t {
            Value::String(s) => vec![s.as_str()],
            Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
            _ => return Err(format!("{at}: bad type in schema")),
        };
        let ok = types.iter().any(|t| match *t {
            "string" => v.is_string(),
            "integer" => v.is_i64() || v.is_u64(),
            "number" => v.is_number(),
            "boolean" => v.is_boolean(),
            "null" => v.is_null(),
            "array" => v.is_array(),
            "object" => v.is_object(),
            _ => false,
        });
        if !ok {
            return Err(format!("{at}: {v} is not of type {types:?}"));
        }
    }
    if let Some(e) = obj.get("enum").and_then(Value::as_array)
        && !e.contains(v)
    {
        return Err(format!("{at}: {v} is not one of {e:?}"));
    }
    if let (Some(items), Some(a)) = (obj.get("items"), v.as_array()) {
        for (i, x) in a.iter().enumerate() {
            check(doc, items, x, &format!("{at}[{i}]"))?;
        }
    }
    if let Some(o) = v.as_object() {
        let props = obj.get("properties").and_then(Value::as_object);
        for r in obj
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
        {
            if !o.contains_key(r) {
                return Err(format!("{at}: required field {r:?} missing"));
            }
        }
        for (k, x) in o {
            match props.and_then(|p| p.get(k)) {
                Some(s) => check(doc, s, x, &format!("{at}.{k}"))?,
                None if obj.get("additionalProperties") == Some(&Value::Bool(false)) => {
                    return Err(format!("{at}: field {k:?} is not in the document"));
                }
                None => {}
            }
        }
    }
    Ok(())
}

/// The document's path template matching a concrete path (`{message_id}` may hold `/`).
fn template<'a>(doc: &'a Value, path: &str) -> Option<&'a str> {
    let path = path.split('?').next().unwrap_or(path);
    doc["paths"].as_object()?.keys().map(String::as_str).find(|t| {
        let ts: Vec<&str> = t.split('/').collect();
        let ps: Vec<&str> = path.split('/').collect();
        if t.ends_with("{message_id}") {
            ps.len() >= ts.len() && ts[..ts.len() - 1].iter().zip(&ps).all(|(a, b)| a == b)
        } else {
            ts.len() == ps.len() && ts.iter().zip(&ps).all(|(a, b)| a.starts_with('{') || a == b)
        }
    })
}

struct Api {
    state: AppState,
    doc: Value,
    /// (method, template, status) seen, to check that the tests cover the document.
    seen: std::sync::Mutex<Vec<(String, String, u16)>>,
}

impl Api {
    async fn call(
        &self,
        method: Method,
        uri: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut req = Request::builder().method(method.clone()).uri(uri);
        if let Some(t) = token {
            req = req.header(header::AUTHORIZATION, format!("Bearer {t}"));
        }
        let body = match body {
            Some(b) => {
                req = req.header(header::CONTENT_TYPE, "application/json");
                Body::from(b.to_string())
            }
            None => Body::empty(),
        };
        let resp = router(self.state.clone())
            .oneshot(req.body(body).expect("request"))
            .await
            .expect("infallible");
        let status = resp.status();
        let ct = resp
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        let bytes = resp.into_body().collect().await.expect("body").to_bytes();
        assert!(ct.starts_with("application/json"), "{method} {uri}: content type {ct:?}");
        let v: Value = serde_json::from_slice(&bytes)
            .unwrap_or_else(|e| panic!("{method} {uri}: not JSON ({e})"));
        let t = template(&self.doc, uri)
            .unwrap_or_else(|| panic!("{uri} is not in the OpenAPI document"));
        let op = &self.doc["paths"][t][method.as_str().to_lowercase()];
        assert!(op.is_object(), "{method} {t} is not in the OpenAPI document");
        let r = &op["responses"][status.as_str()];
        assert!(
            r.is_object(),
            "{method} {uri} answered {status}, which the document does not list for {t}: {v}"
        );
        let schema = &r["content"]["application/json"]["schema"];
        if let Err(e) = check(&self.doc, schema, &v, "body") {
            panic!("{method} {uri} ({status}) does not match the document: {e}\n{v}");
        }
        self.seen.lock().expect("lock").push((
            method.as_str().to_lowercase(),
            t.to_string(),
            status.as_u16(),
        ));
        (status, v)
    }

    async fn get(&self, uri: &str) -> (StatusCode, Value) {
        self.call(Method::GET, uri, None, None).await
    }
}

fn seg(s: &str) -> String {
    quire_web::url::segment(s)
}

async fn native_api(store: Store) {
    common::fill_with_real_mail(&store).await;
    let maint = store.add_user("maint", "maint@example.org", "Mai Ntainer").await.expect("user");
    store.grant_role(maint.id, "ltp", "maintainer").await.expect("role");
    let other = store.add_user("other", "o@example.org", "").await.expect("user");
    let (_, token) = store.create_user_token("t", maint.id).await.expect("token");
    let (_, other_token) = store.create_user_token("o", other.id).await.expect("token");
    let (_, tester) = store.create_token("ci", "tester").await.expect("token");
    let state = AppState::new(store.clone(), WebConfig::default());
    let doc: Value =
        serde_json::from_str(quire_web::api::OPENAPI).expect("the OpenAPI document parses");
    assert_eq!(doc["openapi"], "3.1.0");
    let api = Api { state, doc: doc.clone(), seen: Default::default() };

    // The document served is the document checked.
    let (s, served) = api.get("/api/v1/openapi.json").await;
    assert_eq!((s, &served), (StatusCode::OK, &doc));
    let (_, idx) = api.get("/api/v1/").await;
    assert_eq!(idx["openapi"], "/api/v1/openapi.json");

    let (_, projects) = api.get("/api/v1/projects").await;
    let ltp = projects["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "ltp")
        .expect("ltp listed")
        .clone();
    assert!(ltp["messages"].as_u64().unwrap() > 1000);

    // Paging: `next` leads to the next page, pages do not overlap, the total is the project's.
    let (_, p1) = api.get("/api/v1/projects/ltp/series?per_page=3").await;
    assert_eq!(p1["items"].as_array().map(Vec::len), Some(3));
    let next = p1["next"].as_str().expect("a next page").to_string();
    let (_, p2) = api.get(&next).await;
    assert_eq!(p2["page"], 2);
    assert_ne!(p1["items"][0]["message_id"], p2["items"][0]["message_id"]);
    let (_, everything) =
        api.get("/api/v1/projects/ltp/series?per_page=500&include_superseded=true").await;
    assert!(everything["total"].as_u64() >= p1["total"].as_u64());
    assert_eq!(api.get("/api/v1/projects/ltp/series?page=0").await.0, StatusCode::BAD_REQUEST);
    assert_eq!(
        api.get("/api/v1/projects/ltp/series?include_superseded=maybe").await.0,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(api.get("/api/v1/projects/nope/series").await.0, StatusCode::NOT_FOUND);

    // A series with reviews: trailers, revisions, patch states; found by any of its messages.
    let mut chosen = None;
    for item in everything["items"].as_array().unwrap() {
        let head = item["message_id"].as_str().unwrap();
        let (_, d) = api.get(&format!("/api/v1/series/{}", seg(head))).await;
        if d["patches"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| !p["trailers"].as_array().unwrap().is_empty())
            && d["patches"].as_array().unwrap().len() >= 2
        {
            chosen = Some(d);
            break;
        }
    }
    let d = chosen.expect("an LTP series of 2+ patches with collected trailers");
    let head = d["message_id"].as_str().unwrap().to_string();
    let patch = d["patches"][1]["message_id"].as_str().unwrap().to_string();
    let (_, by_patch) = api.get(&format!("/api/v1/series/{}", seg(&patch))).await;
    assert_eq!(by_patch["message_id"], head.as_str());
    assert_eq!(d["patch_states"].as_array().map(Vec::len), d["patches"].as_array().map(Vec::len));
    assert_eq!(api.get("/api/v1/series/no-such@example.org").await.0, StatusCode::NOT_FOUND);

    // Approvals (issue 29): once a maintainers map is stored for the series, the series, its
    // list line and the search carry them, as the document says.
    assert!(d["approvals"].is_null());
    let files: Vec<(u32, Vec<String>)> = d["patches"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            let paths = p["diffstat"].as_array().unwrap().iter();
            (
                p["number"].as_u64().unwrap() as u32,
                paths.map(|f| f["path"].as_str().unwrap().to_string()).collect(),
            )
        })
        .collect();
    let inputs: Vec<quire_maintainers::PatchInput> = files
        .iter()
        .map(|(n, f)| quire_maintainers::PatchInput {
            number: *n,
            files: f.iter().map(String::as_str).collect(),
            diff: "+tst_res(TPASS)",
        })
        .collect();
    let maintainers = "LTP TESTS\nM:\tCyril Hrubis <chrubis@suse.cz>\nR:\tLi Wang <liwang@redhat.com>\nS:\tMaintained\nF:\ttestcases/\nN:\t\\.c$\nK:\ttst_res\n\n\
                       THE REST\nM:\tPetr Vorel <pvorel@suse.cz>\nF:\t*\nF:\t*/\n";
    let map = quire_maintainers::map_series(
        &quire_maintainers::parse(maintainers),
        "0123456789ab",
        "MAINTAINERS",
        "b",
        &inputs,
    );
    store.set_series_maintainers(&head, &map).await.expect("a maintainers map");
    let (_, d) = api.get(&format!("/api/v1/series/{}", seg(&head))).await;
    assert!(d["approvals"]["approved"].is_boolean(), "{}", d["approvals"]);
    assert!(!d["approvals"]["files"].as_array().unwrap().is_empty());
    let (_, found) = api.get(&format!("/api/v1/search?q={}", seg(&format!("id:{head}")))).await;
    assert!(found["items"][0]["approval"]["approved"].is_boolean(), "{found}");
    assert!(found["items"][0]["reviews"]["acked"].is_u64(), "{found}");
    let (_, approved) = api.get("/api/v1/search?q=is%3Aapproved").await;
    let (_, awaiting) =
        api.get("/api/v1/search?q=awaiting%3Apvorel%20OR%20awaiting%3Achrubis").await;
    assert_eq!(approved["total"].as_u64().unwrap() + awaiting["total"].as_u64().unwrap(), 1);

    let (_, m) = api.get(&format!("/api/v1/messages/{}", seg(&patch))).await;
    assert_eq!(m["kind"], "patch");
    assert_eq!(m["series_head"], head.as_str());
    assert!(m["diff"].as_str().unwrap().contains("diff --git"));
    assert_eq!(api.get("/api/v1/messages/no-such@example.org").await.0, StatusCode::NOT_FOUND);

    // Events: paged by `after`.
    let (_, e1) = api.get("/api/v1/events?limit=5").await;
    let after = e1["next_after"].as_i64().unwrap();
    let (_, e2) = api.get(&format!("/api/v1/events?after={after}&limit=5")).await;
    assert!(e2["items"][0]["id"].as_i64().unwrap() > after);
    assert_eq!(api.get("/api/v1/events?limit=0").await.0, StatusCode::BAD_REQUEST);

    // Checks: posted by a tester token, listed; errors documented.
    let new = json!({"message_id": patch, "name": "build", "state": "fail", "description": "boom"});
    assert_eq!(
        api.call(Method::POST, "/api/v1/checks", None, Some(new.clone())).await.0,
        StatusCode::UNAUTHORIZED
    );
    let (s, created) = api.call(Method::POST, "/api/v1/checks", Some(&tester), Some(new)).await;
    assert_eq!(s, StatusCode::CREATED);
    let (_, list) = api.get(&format!("/api/v1/checks?message_id={}", seg(&patch))).await;
    assert_eq!(list["items"][0]["id"], created["check_id"]);
    assert_eq!(list["items"][0]["state"], "fail");
    assert_eq!(api.get("/api/v1/checks").await.0, StatusCode::BAD_REQUEST);
    assert_eq!(api.get("/api/v1/checks?message_id=nope@x").await.0, StatusCode::NOT_FOUND);
    let bad = json!({"message_id": patch, "name": "build", "state": "sideways"});
    assert_eq!(
        api.call(Method::POST, "/api/v1/checks", Some(&tester), Some(bad)).await.0,
        StatusCode::BAD_REQUEST
    );
    let script =
        json!({"message_id": patch, "name": "b", "state": "pass", "url": "javascript:alert(1)"});
    let (s, refused) = api.call(Method::POST, "/api/v1/checks", Some(&tester), Some(script)).await;
    assert_eq!(
        (s, refused["detail"].as_str()),
        (StatusCode::BAD_REQUEST, Some("url: only http:// and https:// URLs are accepted"))
    );
    let (s, _) = api
        .call(
            Method::POST,
            "/api/v1/checks",
            Some(&tester),
            Some(json!({"message_id": "nope@x", "name": "b", "state": "pass"})),
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);

    // Search: the query language (docs/search.md); bad queries are 400s naming the column.
    let word =
        d["name"].as_str().unwrap().split_whitespace().max_by_key(|w| w.len()).unwrap().to_string();
    let (s, found) = api
        .get(&format!(
            "/api/v1/search?q={}&project=ltp&per_page=100",
            seg(&format!("subject:{word}"))
        ))
        .await;
    assert_eq!(s, StatusCode::OK);
    assert!(
        found["items"].as_array().unwrap().iter().any(|i| i["message_id"] == head.as_str()),
        "{word}: {found}"
    );
    let (_, found2) =
        api.get(&format!("/api/v1/search?q={}", seg(&format!("project:ltp subject:{word}")))).await;
    assert_eq!(found2["total"], found["total"]);
    let (s, none) = api
        .get(&format!("/api/v1/search?q={}&project=ltp", seg("from:nobody-at-all.invalid")))
        .await;
    assert_eq!((s, none["total"].as_u64()), (StatusCode::OK, Some(0)), "{none}");
    let (s, negated) = api
        .get(&format!(
            "/api/v1/search?q={}&project=ltp&per_page=100",
            seg(&format!("subject:{word} -subject:{word}"))
        ))
        .await;
    assert_eq!((s, negated["total"].as_u64()), (StatusCode::OK, Some(0)), "{negated}");
    for q in ["(((", "is:nonsense", ""] {
        let (s, e) = api.get(&format!("/api/v1/search?q={}&project=ltp", seg(q))).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{q}: {e}");
    }
    let (s, e) = api.get(&format!("/api/v1/search?q={}", seg("((("))).await;
    assert!(s == StatusCode::BAD_REQUEST && e.to_string().contains("column"), "{e}");
    // Across projects when none is named.
    let (s, all) = api
        .get(&format!("/api/v1/search?q={}&per_page=100", seg(&format!("subject:{word}"))))
        .await;
    assert_eq!(s, StatusCode::OK);
    assert!(
        all["items"].as_array().unwrap().iter().any(|i| i["message_id"] == head.as_str()),
        "{all}"
    );
    assert_eq!(api.get("/api/v1/search?q=word&project=nope").await.0, StatusCode::NOT_FOUND);

    // A maintainer changes a patch; others may not; bad input is a 400.
    let uri = format!("/api/v1/patches/{}", seg(&patch));
    let change = json!({"state": "accepted", "delegate": "maint", "commit_ref": "cafe"});
    assert_eq!(
        api.call(Method::PATCH, &uri, None, Some(change.clone())).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        api.call(Method::PATCH, &uri, Some("quire_wrong"), Some(change.clone())).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        api.call(Method::PATCH, &uri, Some(&other_token), Some(change.clone())).await.0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        api.call(Method::PATCH, &uri, Some(&tester), Some(change.clone())).await.0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        api.call(Method::PATCH, &uri, Some(&token), Some(json!({"state": "bogus"}))).await.0,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        api.call(Method::PATCH, &uri, Some(&token), Some(json!({"delegate": "nobody"}))).await.0,
        StatusCode::BAD_REQUEST
    );
    let (s, after) = api.call(Method::PATCH, &uri, Some(&token), Some(change)).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        (after["state"].as_str(), after["delegate"].as_str(), after["commit_ref"].as_str()),
        (Some("accepted"), Some("maint"), Some("cafe"))
    );
    let head_uri = format!("/api/v1/patches/{}", seg(&head));
    let (_, d) = api.get(&format!("/api/v1/series/{}", seg(&head))).await;
    let st = d["patch_states"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["message_id"] == patch.as_str())
        .expect("state listed")
        .clone();
    assert_eq!(st["state"], "accepted");
    if d["cover_letter"].is_object() {
        assert_eq!(
            api.call(Method::PATCH, &head_uri, Some(&token), Some(json!({"state": "new"}))).await.0,
            StatusCode::NOT_FOUND
        );
    }

    // Every path and method of the document was exercised.
    let seen = api.seen.lock().expect("lock").clone();
    for (path, ops) in doc["paths"].as_object().unwrap() {
        for method in ops.as_object().unwrap().keys() {
            assert!(
                seen.iter().any(|(m, t, _)| m == method && t == path),
                "{method} {path} is documented but no test called it"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn native_api_on_sqlite() {
    let (_dir, store) = common::sqlite_store().await;
    native_api(store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn native_api_on_postgres() {
    native_api(common::pg_store().await).await;
}

#[test]
fn the_checker_rejects_what_the_document_forbids() {
    let doc: Value = serde_json::from_str(quire_web::api::OPENAPI).expect("parses");
    let s = json!({"$ref": "#/components/schemas/Check"});
    let good = json!({"id": 1, "message_id": "a@b", "name": "n", "state": "pass", "url": null, "description": null, "log": null, "created": 0});
    assert!(check(&doc, &s, &good, "x").is_ok());
    let mut extra = good.clone();
    extra["surprise"] = json!(1);
    assert!(check(&doc, &s, &extra, "x").unwrap_err().contains("surprise"));
    let mut wrong = good.clone();
    wrong["state"] = json!("sideways");
    assert!(check(&doc, &s, &wrong, "x").is_err());
    let mut missing = good;
    missing.as_object_mut().unwrap().remove("created");
    assert!(check(&doc, &s, &missing, "x").unwrap_err().contains("created"));
    assert!(
        check(&doc, &json!({"minimum": 1}), &json!(1), "x").unwrap_err().contains("does not know")
    );
}
