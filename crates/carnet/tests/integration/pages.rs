//! The HTML pages: forms keep what the user typed, duplicates are shown before
//! creating, attachments, comments, saved views, settings and the language.

use crate::helpers::*;
use reqwest::StatusCode;
use serde_json::json;

#[tokio::test]
async fn account_form_creates_and_keeps_input_on_errors() {
    let app = spawn_app().await;
    app.post(
        "/api/v1/custom-fields",
        json!({"entity": "account", "key": "printers", "label": "Printers installed", "kind": "number"}),
    )
    .await;
    let b = app.browser(ADMIN_EMAIL).await;
    assert_eq!(b.get("/accounts/new").await.status, StatusCode::OK);
    let gold = app.get("/api/v1/tag-categories").await.1["data"][0]["tags"][0]["id"].to_string();
    let p = b
        .post_form(
            "/accounts",
            &[
                ("name", "Atelier Vauban"),
                ("email", "not an email"),
                ("city", "Rennes"),
                ("tags", &gold),
                ("cf.printers", "7"),
            ],
        )
        .await;
    assert_eq!(p.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        p.body.contains("value=\"Atelier Vauban\"") && p.body.contains("value=\"Rennes\"") && p.body.contains("value=\"7\""),
        "typed values stay"
    );
    assert!(p.body.contains("Email is not a valid email address"), "the error names the field");
    assert_eq!(app.count("accounts").await, 0);
    let p = b
        .post_form(
            "/accounts",
            &[
                ("name", "Atelier Vauban"),
                ("email", "hello@vauban.example"),
                ("city", "Rennes"),
                ("tags", &gold),
                ("cf.printers", "7"),
            ],
        )
        .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER);
    let id = id_from_location(&p);
    let card = b.get(&format!("/accounts/{id}")).await;
    assert_eq!(card.status, StatusCode::OK);
    for want in ["Atelier Vauban", "hello@vauban.example", "Gold", "Printers installed", ">7<"] {
        assert!(card.body.contains(want), "{want} on the card");
    }
    // Editing: the form shows the current values; a change lands on the timeline.
    let edit = b.get(&format!("/accounts/{id}/edit")).await;
    assert!(edit.body.contains("value=\"hello@vauban.example\""));
    let p = b
        .post_form(
            &format!("/accounts/{id}"),
            &[
                ("name", "Atelier Vauban"),
                ("status", "Customer"),
                ("city", "Brest"),
                ("tags", &gold),
            ],
        )
        .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER);
    let card = b.get(&format!("/accounts/{id}")).await;
    assert!(card.body.contains("Prospect → Customer"), "status change on the timeline");
}

#[tokio::test]
async fn duplicates_are_shown_before_creating() {
    let app = spawn_app().await;
    let b = app.browser(ADMIN_EMAIL).await;
    let first = b
        .post_form("/accounts", &[("name", "Granite Logistics"), ("company_id", "123 456 789")])
        .await;
    assert_eq!(first.status, StatusCode::SEE_OTHER);
    let p = b
        .post_form("/accounts", &[("name", "Granite Logistics SAS"), ("city", "Lille")])
        .await;
    assert_eq!(p.status, StatusCode::OK);
    assert!(p.body.contains("Possible duplicates") && p.body.contains(&format!("/accounts/{}", id_from_location(&first))));
    assert!(p.body.contains("value=\"Lille\""), "the typed values wait in the form");
    assert_eq!(app.count("accounts").await, 1);
    let p = b
        .post_form(
            "/accounts",
            &[("name", "Granite Logistics SAS"), ("city", "Lille"), ("allow_duplicates", "1")],
        )
        .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER);
    assert_eq!(app.count("accounts").await, 2);
}

#[tokio::test]
async fn contacts_comments_and_attachments_from_the_card() {
    let app = spawn_app().await;
    let b = app.browser(ADMIN_EMAIL).await;
    let acc = id_from_location(&b.post_form("/accounts", &[("name", "Harbor Foods")]).await);
    let roles = app.get("/api/v1/contact-roles").await.1;
    let billing = roles["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "Billing contact")
        .unwrap()["id"]
        .to_string();
    let new = b.get(&format!("/contacts/new?account={acc}")).await;
    assert!(
        new.body.contains(&format!("value=\"#{acc} Harbor Foods\"")),
        "the account is preselected"
    );
    let p = b
        .post_form(
            "/contacts",
            &[
                ("first_name", "Nina"),
                ("last_name", "Leroy"),
                ("account", &format!("#{acc} Harbor Foods")),
                ("role", &billing),
            ],
        )
        .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER);
    let card = b.get(&format!("/accounts/{acc}")).await;
    assert!(card.body.contains("Nina Leroy") && card.body.contains("Billing contact"));

    let p = b
        .post_form(&format!("/accounts/{acc}/comments"), &[("body", "Call back <b>Monday</b>")])
        .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER);
    let card = b.get(&format!("/accounts/{acc}")).await;
    assert!(
        card.body.contains("Call back &#60;b&#62;Monday&#60;/b&#62;") || card.body.contains("Call back &lt;b&gt;Monday&lt;/b&gt;"),
        "comments are escaped"
    );

    // Upload, download with safe headers, and the size limit.
    let csrf = b.csrf().await;
    let form = reqwest::multipart::Form::new().text("csrf", csrf.clone()).part(
        "file",
        reqwest::multipart::Part::bytes(b"<html><script>alert(1)</script>".to_vec())
            .file_name("offer \"v2\".html")
            .mime_str("text/html")
            .unwrap(),
    );
    let res = b
        .http
        .post(format!("{}/accounts/{acc}/attachments", b.base))
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let card = b.get(&format!("/accounts/{acc}")).await;
    let att = card
        .body
        .split("/attachments/")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_string();
    let res = b.http.get(format!("{}/attachments/{att}", b.base)).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        res.headers()["content-type"],
        "application/octet-stream",
        "HTML is never served as HTML"
    );
    assert!(res.headers()["content-disposition"].to_str().unwrap().starts_with("attachment;"));
    assert_eq!(res.headers()["x-content-type-options"], "nosniff");
    assert_eq!(res.bytes().await.unwrap().as_ref(), b"<html><script>alert(1)</script>");
    let big = vec![0u8; app.carnet.max_upload_bytes + 10];
    let form = reqwest::multipart::Form::new()
        .text("csrf", csrf)
        .part("file", reqwest::multipart::Part::bytes(big).file_name("big.bin"));
    let res = b
        .http
        .post(format!("{}/accounts/{acc}/attachments", b.base))
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert!(res.status().is_client_error(), "oversized upload refused: {}", res.status());
    assert_eq!(app.count("attachments").await, 1);
    assert_eq!(
        std::fs::read_dir(app.dir.join("files")).unwrap().count(),
        1,
        "no stray file on disk"
    );
}

#[tokio::test]
async fn saved_views_on_the_list_page() {
    let app = spawn_app().await;
    app.post("/api/v1/accounts", json!({"name": "Gold One", "tags": ["Gold"]})).await;
    app.post("/api/v1/accounts", json!({"name": "Plain Two"})).await;
    let b = app.browser(ADMIN_EMAIL).await;
    let list = b.get("/accounts?tag=Gold").await;
    assert!(list.body.contains("Gold One") && !list.body.contains("Plain Two"));
    let p = b
        .post_form("/accounts/views", &[("name", "My Gold customers"), ("query", "tag=Gold")])
        .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER);
    let view = b.get(p.location.as_deref().unwrap()).await;
    assert!(view.body.contains("My Gold customers") && view.body.contains("Gold One") && !view.body.contains("Plain Two"));
    let p = b
        .post_form("/accounts/views", &[("name", "Broken"), ("query", "status=Nope")])
        .await;
    assert_eq!(p.status, StatusCode::UNPROCESSABLE_ENTITY);
    // A bad filter on the page answers 422, shows the error and keeps the page usable.
    let bad = b.get("/accounts?created_from=soon").await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bad.body.contains("created_from: must be a date"));
}

#[tokio::test]
async fn settings_forms_and_the_french_interface() {
    let app = spawn_app().await;
    let b = app.browser(ADMIN_EMAIL).await;
    let p = b
        .post_form("/settings/statuses", &[("op", "create"), ("name", ""), ("color", "#112233")])
        .await;
    assert_eq!(p.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(p.body.contains("name: is required"));
    let p = b
        .post_form(
            "/settings/statuses",
            &[("op", "create"), ("name", "Cold prospect"), ("color", "#112233")],
        )
        .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER);
    let p = b
        .post_form(
            "/settings/fields",
            &[
                ("op", "create"),
                ("entity", "account"),
                ("label", "Fleet size"),
                ("key", ""),
                ("kind", "number"),
                ("choices", ""),
            ],
        )
        .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER);
    let fields = app.get("/api/v1/custom-fields").await.1;
    assert_eq!(fields["data"][0]["key"], "fleet_size");
    let p = b
        .post_form("/settings/rules", &[("op", "create"), ("field", "account|cf.fleet_size")])
        .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER);
    let form = b.get("/accounts/new").await;
    assert!(
        form.body.contains("name=\"cf.fleet_size\" value=\"\" required"),
        "mandatory fields are marked"
    );

    let p = b
        .post_form(
            "/profile",
            &[
                ("op", "update"),
                ("name", "Ada Admin"),
                ("locale", "fr"),
                ("time_zone", "Europe/Paris"),
            ],
        )
        .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER);
    let home = b.get("/").await;
    assert!(home.body.contains("lang=\"fr\"") && home.body.contains("Fil d&#39;actualité") && home.body.contains("Comptes"));
    let p = b
        .post_form(
            "/profile",
            &[
                ("op", "update"),
                ("name", "Ada Admin"),
                ("locale", "fr"),
                ("time_zone", "Mars/Olympus"),
            ],
        )
        .await;
    assert_eq!(p.status, StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn home_feed_shows_company_activity() {
    let app = spawn_app().await;
    let (_, a) = app.post("/api/v1/accounts", json!({"name": "Summit Energy"})).await;
    app.post(
        &format!("/api/v1/accounts/{}/comments", a["id"]),
        json!({"body": "Budget approved"}),
    )
    .await;
    let b = app.browser(ADMIN_EMAIL).await;
    let home = b.get("/").await;
    assert!(home.body.contains("Summit Energy") && home.body.contains("Budget approved"));
    let only = b.get("/?kind=comment").await;
    assert!(only.body.contains("Budget approved") && !only.body.contains(">created<"));
    let search = b.get("/search?q=summ").await;
    assert!(search.body.contains(&format!("/accounts/{}", a["id"])));
}

/// The reporting zone is a setting of the analysis section: shown, changed
/// (the figures follow), refused when it is not a zone.
#[tokio::test]
async fn the_reporting_zone_is_set_in_the_settings() {
    let app = spawn_app().await;
    let b = app.browser(ADMIN_EMAIL).await;
    let page = b.get("/settings/analysis").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("Reporting time zone") && page.body.contains("<option selected>Europe/Paris</option>"));
    let p = b
        .post_form("/settings/analysis", &[("op", "zone"), ("time_zone", "Mars/Olympus")])
        .await;
    assert_eq!(p.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(p.body.contains("time_zone"), "the error names the field");
    let p = b
        .post_form("/settings/analysis", &[("op", "zone"), ("time_zone", "America/New_York")])
        .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER);
    let zone = carnet_app::analytics::report_zone(&app.carnet.db).await.unwrap();
    assert_eq!(zone, chrono_tz::America::New_York);
    assert!(b
        .get("/settings/analysis")
        .await
        .body
        .contains("<option selected>America/New_York</option>"));
    // A sales rep cannot.
    let (rep, _) = app.user_with_key("rep@test.example", "sales").await;
    let r = app.browser(&rep.email).await;
    assert_eq!(r.get("/settings/analysis").await.status, StatusCode::FORBIDDEN);
}
