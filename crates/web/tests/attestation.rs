//! Attestation from the users' side (issue 29), on SQLite and PostgreSQL: mail signed here with
//! the test's own DKIM keys (pinned in the verifier: nothing reaches the network) is imported,
//! and the series page and the API show per patch and per trailer who signed it; a reindex
//! keeps it, verifying again replaces it.

use base64::Engine as _;
use http_body_util::BodyExt as _;
use mail_auth::common::crypto::Ed25519Key;
use mail_auth::common::headers::HeaderWriter as _;
use mail_auth::dkim::DkimSigner;
use quire_attest::{DkimKeys, Keyrings, Verifier};
use quire_store::{AttestationLevel, ProjectConfig, Store, both_backends};
use tower::ServiceExt as _;

fn key() -> (Ed25519Key, String) {
    let pkcs8 = Ed25519Key::generate_pkcs8().expect("key");
    let key = Ed25519Key::from_pkcs8_der(&pkcs8).expect("key");
    let b64 = base64::engine::general_purpose::STANDARD.encode(key.public_key());
    (key, format!("v=DKIM1; k=ed25519; p={b64}"))
}

fn sign(key: Ed25519Key, domain: &str, mail: &str) -> String {
    let sig = DkimSigner::from_key(key)
        .domain(domain)
        .selector("k1")
        .headers(["From", "Subject", "Message-ID", "Date"])
        .sign(mail.as_bytes())
        .expect("sign");
    format!("{}{mail}", sig.to_header())
}

fn mail(id: &str, from: &str, subject: &str, parent: Option<&str>, body: &str) -> String {
    let mut m = format!(
        "From: {from}\nTo: devel@lists.example.net\nSubject: {subject}\nMessage-ID: <{id}>\n\
         Date: Mon, 2 Mar 2026 10:00:00 +0000\nList-Id: <devel.lists.example.net>\n"
    );
    if let Some(p) = parent {
        m.push_str(&format!("In-Reply-To: <{p}>\nReferences: <{p}>\n"));
    }
    m.push_str(&format!("\n{body}"));
    m
}

fn patch_body(n: u32) -> String {
    format!(
        "Fix file {n}.\n\nSigned-off-by: Ann Author <ann@example.org>\n---\n f{n} | 2 +-\n\n\
         diff --git a/f{n} b/f{n}\n--- a/f{n}\n+++ b/f{n}\n@@ -1 +1 @@\n-a\n+b\n"
    )
}

async fn get(store: &Store, uri: &str) -> String {
    let state = quire_web::AppState::new(store.clone(), quire_web::WebConfig::default());
    let req = axum::http::Request::builder().uri(uri).body(axum::body::Body::empty()).expect("req");
    let resp = quire_web::router(state).oneshot(req).await.expect("infallible");
    assert_eq!(resp.status(), axum::http::StatusCode::OK, "GET {uri}");
    String::from_utf8_lossy(&resp.into_body().collect().await.expect("body").to_bytes())
        .into_owned()
}

both_backends!(signed_mail_shows_who_signed_it_per_patch_and_per_trailer, |store| async move {
    store
        .upsert_project(&ProjectConfig { name: "demo".into(), ..Default::default() })
        .await
        .expect("project");
    let (ann_key, ann_record) = key();
    let (ann_key2, _) = key();
    let (list_key, list_record) = key();
    let (rita_key, rita_record) = key();
    let ann = "Ann Author <ann@example.org>";
    // Patch 1: Ann's domain signed it, as sent.
    let p1 = sign(
        ann_key,
        "example.org",
        &mail("p1@x", ann, "[PATCH 1/2] fix one", None, &patch_body(1)),
    );
    // Patch 2: Ann's signature broken by the list's footer, the list signed what it sent.
    let p2 = sign(
        ann_key2,
        "example.org",
        &mail("p2@x", ann, "[PATCH 2/2] fix two", Some("p1@x"), &patch_body(2)),
    );
    let p2 = sign(list_key, "lists.example.net", &format!("{p2}-- \nDevel list footer\n"));
    // Rita's review of patch 1, signed by her domain and then changed in transit: bad.
    let rita = "Rita Reviewer <rita@example.com>";
    let review = sign(
        rita_key,
        "example.com",
        &mail(
            "r1@x",
            rita,
            "Re: [PATCH 1/2] fix one",
            Some("p1@x"),
            "Looks right.\n\nReviewed-by: Rita Reviewer <rita@example.com>\n",
        ),
    )
    .replace("Looks right.", "Looks wrong.");
    // Max's ack of patch 2, unsigned.
    let ack = mail(
        "a1@x",
        "Max Maint <max@example.com>",
        "Re: [PATCH 2/2] fix two",
        Some("p2@x"),
        "Acked-by: Max Maint <max@example.com>\n",
    );
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("list.mbox");
    let mbox: String = [p1, p2, review, ack]
        .iter()
        .map(|m| format!("From mboxrd@z Thu Jan  1 00:00:00 1970\n{m}\n"))
        .collect();
    std::fs::write(&path, mbox).expect("write");
    let keys = DkimKeys::offline();
    keys.add_key("k1", "example.org", &ann_record).expect("pin");
    keys.add_key("k1", "lists.example.net", &list_record).expect("pin");
    keys.add_key("k1", "example.com", &rita_record).expect("pin");
    let verifier = std::sync::Arc::new(Verifier::new(Some(keys), Keyrings::new(vec![])));
    let opts = quire_import::ImportOptions {
        project: Some("demo".into()),
        attest: Some(verifier.clone()),
        ..Default::default()
    };
    quire_import::import(&store, &[quire_import::Input::Path(path)], &opts, &|_| {})
        .await
        .expect("import");

    let ids: Vec<String> = ["p1@x", "p2@x", "r1@x", "a1@x"].map(String::from).to_vec();
    let found = store.attestations(&ids).await.expect("read");
    let level = |id: &str| found.get(id).map(|a| a.level);
    assert_eq!(level("p1@x"), Some(AttestationLevel::SenderDomain), "{found:#?}");
    assert_eq!(level("p2@x"), Some(AttestationLevel::ListOnly), "{found:#?}");
    assert_eq!(level("r1@x"), Some(AttestationLevel::Bad), "{found:#?}");
    assert_eq!(level("a1@x"), Some(AttestationLevel::None), "{found:#?}");

    let page = get(&store, "/demo/p1@x/").await;
    let trailers = &page[page.find("<section class=\"trailers\">").expect("trailers section")..];
    let trailers = &trailers[..trailers.find("</section>").expect("end")];
    assert!(trailers.contains(">signed by the sender&#39;s domain</span>"), "{trailers}");
    assert!(trailers.contains(">signed by the list only</span>"), "{trailers}");
    assert!(trailers.contains("Reviewed-by:</span> Rita Reviewer"), "{trailers}");
    assert!(
        trailers.contains("badge attest fail") && trailers.contains(">bad</span>"),
        "{trailers}"
    );
    assert!(trailers.contains(">none</span>"), "{trailers}");

    let json: serde_json::Value =
        serde_json::from_str(&get(&store, "/api/v1/series/p1@x").await).expect("json");
    assert_eq!(json["patches"][0]["attestation"]["level"], "sender_domain", "{json}");
    assert_eq!(json["patches"][1]["attestation"]["level"], "list_only", "{json}");
    let t0 = &json["patches"][0]["trailers"][0];
    assert_eq!(
        (t0["tag"].as_str(), t0["attestation"]["level"].as_str()),
        (Some("Reviewed-by"), Some("bad")),
        "{json}"
    );
    assert_eq!(json["patches"][1]["trailers"][0]["attestation"]["level"], "none", "{json}");
    let m: serde_json::Value =
        serde_json::from_str(&get(&store, "/api/v1/messages/p2@x").await).expect("json");
    assert_eq!(m["attestation"]["dkim"][0]["domain"], "lists.example.net", "{m}");

    // Derived rows are rebuilt from the raw mail; the attestation stored with it stays.
    store.reindex(|_, _| {}).await.expect("reindex");
    let again = store.attestations(&ids).await.expect("read");
    assert_eq!(again, found);

    // Verifying again (`quire reindex --attest`) with no keys pinned: not verified, and the
    // page says so at once.
    let stamp = store.series_page_stamp("demo", "p1@x").await.expect("stamp");
    let offline = Verifier::new(Some(DkimKeys::offline()), Keyrings::new(vec![]));
    let raws = store.raw_for_attestation(0, 100).await.expect("raws");
    assert_eq!(raws.len(), 4);
    let mut redone = Vec::new();
    for r in &raws {
        redone.push((r.id, offline.attest(&r.raw).await));
    }
    store.set_attestations(&redone).await.expect("store");
    assert_ne!(store.series_page_stamp("demo", "p1@x").await.expect("stamp"), stamp);
    let after = store.attestations(&ids).await.expect("read");
    assert_eq!(after.get("p1@x").map(|a| a.level), Some(AttestationLevel::Unverified));
    assert_eq!(after.get("a1@x").map(|a| a.level), Some(AttestationLevel::None));
});
