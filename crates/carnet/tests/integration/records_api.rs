//! Accounts and contacts over the API: create, read, change, delete; timeline;
//! mandatory rules; bad input; duplicates; lists, pagination and search.

use crate::helpers::*;
use proptest::prelude::*;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

async fn printers_field(app: &TestApp) {
    let (s, _) = app
        .post(
            "/api/v1/custom-fields",
            json!({"entity": "account", "key": "printers", "label": "Printers installed", "kind": "number"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
}

#[tokio::test]
async fn account_lifecycle_with_tags_custom_fields_and_timeline() {
    let app = spawn_app().await;
    printers_field(&app).await;
    let (s, a) = app
        .post(
            "/api/v1/accounts",
            json!({"name": "Imprimerie Lumière", "email": "Contact@Lumiere.example", "phone": "+33 1 23 45 67 89",
            "website": "lumiere.example", "tags": ["Gold"], "custom": {"printers": 12}, "owner": ADMIN_EMAIL}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{a}");
    let id = a["id"].as_i64().unwrap();
    assert_eq!(a["status"]["name"], "Prospect", "the default status");
    assert_eq!(a["tags"][0]["name"], "Gold");
    assert_eq!(a["tags"][0]["category"], "Potential");
    assert_eq!(a["custom"]["printers"], 12.0);
    assert_eq!(a["email"], "contact@lumiere.example");
    assert_eq!(a["website"], "https://lumiere.example");
    assert_eq!(a["owner"]["email"], ADMIN_EMAIL);

    let (s, a2) = app
        .patch(&format!("/api/v1/accounts/{id}"), json!({"status": "Customer", "city": "Lyon"}))
        .await;
    assert_eq!(s, StatusCode::OK, "{a2}");
    assert_eq!(a2["status"]["name"], "Customer");
    assert_eq!(a2["city"], "Lyon");
    assert_eq!(a2["custom"]["printers"], 12.0, "a PATCH keeps the other fields");

    let (_, tl) = app.get(&format!("/api/v1/accounts/{id}/timeline")).await;
    let kinds: Vec<&str> = tl["data"].as_array().unwrap().iter().map(|e| e["kind"].as_str().unwrap()).collect();
    assert!(
        kinds.contains(&"created") && kinds.contains(&"status_changed") && kinds.contains(&"updated"),
        "{kinds:?}"
    );
    let change = tl["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["kind"] == "status_changed")
        .unwrap();
    assert_eq!(change["data"], json!({"from": "Prospect", "to": "Customer"}));
    assert_eq!(change["actor"]["name"], "Ada Admin");

    let (s, _) = app
        .post(
            &format!("/api/v1/accounts/{id}/comments"),
            json!({"body": "Met at the trade show."}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    let (s, _) = app.post(&format!("/api/v1/accounts/{id}/comments"), json!({"body": "   "})).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);

    assert_eq!(
        app.api(Method::DELETE, &format!("/api/v1/accounts/{id}"), None).await.0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(app.get(&format!("/api/v1/accounts/{id}")).await.0, StatusCode::NOT_FOUND);
    for table in ["accounts", "timeline", "record_tags", "field_values", "search_tokens"] {
        assert_eq!(app.count(table).await, 0, "{table} is cleaned up");
    }
}

#[tokio::test]
async fn bad_input_names_the_field_and_saves_nothing() {
    let app = spawn_app().await;
    printers_field(&app).await;
    let long = "x".repeat(201);
    let cases: Vec<(Value, &str)> = vec![
        (json!({"name": ""}), "name"),
        (json!({"name": long}), "name"),
        (json!({"name": "A", "email": "not-an-email"}), "email"),
        (json!({"name": "A", "phone": "12"}), "phone"),
        (json!({"name": "A", "website": "javascript:alert(1)"}), "website"),
        (json!({"name": "A", "status": "Imaginary"}), "status"),
        (json!({"name": "A", "tags": ["Platinum"]}), "tags"),
        (json!({"name": "A", "tags": ["Gold", "Silver"]}), "tags"),
        (json!({"name": "A", "custom": {"printers": "many"}}), "cf.printers"),
        (json!({"name": "A", "custom": {"unknown_field": 1}}), "cf.unknown_field"),
        (json!({"name": "A", "colour": "red"}), "colour"),
        (json!({"name": "A", "owner": "nobody@x.example"}), "owner"),
        (json!({"name": {"nested": true}}), "name"),
    ];
    for (body, field) in cases {
        let (s, err) = app.post("/api/v1/accounts", body.clone()).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(err["error"]["code"], "validation_failed");
        assert!(err["error"]["fields"][field].is_string(), "{body} → {err}");
    }
    let res = app
        .http
        .post(app.url("/api/v1/accounts"))
        .bearer_auth(&app.key)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body: Value = res.json().await.unwrap();
    assert!(body["error"]["fields"]["body"].is_string());
    assert_eq!(app.count("accounts").await, 0);
    assert_eq!(app.count("timeline").await, 0);
    // A rejected change leaves the record as it was.
    let (_, a) = app.post("/api/v1/accounts", json!({"name": "Keep Me"})).await;
    let (s, _) = app
        .patch(&format!("/api/v1/accounts/{}", a["id"]), json!({"name": "Changed", "email": "bad"}))
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(app.get(&format!("/api/v1/accounts/{}", a["id"])).await.1["name"], "Keep Me");
}

#[tokio::test]
async fn mandatory_fields_apply_from_a_status_on() {
    let app = spawn_app().await;
    let (s, _) = app
        .post(
            "/api/v1/mandatory-rules",
            json!({"entity": "account", "field": "phone", "from_status": "Customer"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    let (s, _) = app.post("/api/v1/accounts", json!({"name": "Prospect Co"})).await;
    assert_eq!(s, StatusCode::CREATED);
    let (s, e) = app
        .post("/api/v1/accounts", json!({"name": "Customer Co", "status": "Customer"}))
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(e["error"]["fields"]["phone"], "is mandatory from status “Customer” on");
    let (s, _) = app
        .post(
            "/api/v1/accounts",
            json!({"name": "Customer Co", "status": "Customer", "phone": "01 02 03 04 05"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    // Statuses after Customer in the order are covered too; before it, not.
    let (s, _) = app
        .post("/api/v1/accounts", json!({"name": "Former Co", "status": "Former customer"}))
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    // An always-mandatory custom field on contacts.
    app.post(
        "/api/v1/custom-fields",
        json!({"entity": "contact", "key": "channel", "label": "Channel", "kind": "single_choice", "choices": ["Phone", "Email"]}),
    )
    .await;
    let (s, _) = app
        .post("/api/v1/mandatory-rules", json!({"entity": "contact", "field": "cf.channel"}))
        .await;
    assert_eq!(s, StatusCode::CREATED);
    let (s, e) = app.post("/api/v1/contacts", json!({"last_name": "Doe"})).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(e["error"]["fields"]["cf.channel"], "is mandatory");
    let (s, _) = app
        .post("/api/v1/contacts", json!({"last_name": "Doe", "custom": {"channel": "email"}}))
        .await;
    assert_eq!(s, StatusCode::CREATED);
}

#[tokio::test]
async fn contacts_on_several_accounts_with_roles() {
    let app = spawn_app().await;
    let (_, a1) = app.post("/api/v1/accounts", json!({"name": "Alpha"})).await;
    let (_, a2) = app.post("/api/v1/accounts", json!({"name": "Beta"})).await;
    let (s, c) = app
        .post(
            "/api/v1/contacts",
            json!({"first_name": "Jeanne", "last_name": "Roux", "account": a1["id"], "role": "Billing contact"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{c}");
    let cid = c["id"].as_i64().unwrap();
    let (s, _) = app
        .post(
            &format!("/api/v1/accounts/{}/contacts", a2["id"]),
            json!({"contact_id": cid, "role": "Decision maker"}),
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (_, card) = app.get(&format!("/api/v1/contacts/{cid}")).await;
    let roles: Vec<(String, String)> = card["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| (a["name"].as_str().unwrap().into(), a["role"].as_str().unwrap().into()))
        .collect();
    assert_eq!(
        roles,
        vec![("Alpha".into(), "Billing contact".into()), ("Beta".into(), "Decision maker".into())]
    );
    let (_, acc) = app.get(&format!("/api/v1/accounts/{}", a1["id"])).await;
    assert_eq!(acc["contacts"][0]["role"], "Billing contact");
    // The role shows as a label on the account card.
    let b = app.browser(ADMIN_EMAIL).await;
    let page = b.get(&format!("/accounts/{}", a1["id"])).await;
    assert!(
        page.body.contains("Jeanne Roux") && page.body.contains("class=\"badge role\">Billing contact"),
        "role label on the card"
    );
    let (s, e) = app
        .post(
            &format!("/api/v1/accounts/{}/contacts", a2["id"]),
            json!({"contact_id": cid, "role": "Astronaut"}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(e["error"]["fields"]["role"].is_string());
    assert_eq!(
        app.api(Method::DELETE, &format!("/api/v1/accounts/{}/contacts/{cid}", a2["id"]), None)
            .await
            .0,
        StatusCode::NO_CONTENT
    );
    let (_, card) = app.get(&format!("/api/v1/contacts/{cid}")).await;
    assert_eq!(card["accounts"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn likely_duplicates_are_reported_on_create() {
    let app = spawn_app().await;
    app.post(
        "/api/v1/accounts",
        json!({"name": "Dupont & Fils SARL", "company_id": "552 100 554", "website": "https://www.dupont.example"}),
    )
    .await;
    let (s, a) = app
        .post("/api/v1/accounts", json!({"name": "DUPONT & FILS", "company_id": "552100554"}))
        .await;
    assert_eq!(s, StatusCode::CREATED);
    let reasons = &a["warnings"]["duplicates"][0]["reasons"];
    assert!(reasons.as_array().unwrap().contains(&json!("same_company_id")), "{a}");
    assert!(reasons.as_array().unwrap().contains(&json!("same_name")), "{a}");
    let (_, a) = app
        .post("/api/v1/accounts", json!({"name": "Other", "website": "dupont.example/contact"}))
        .await;
    assert_eq!(a["warnings"]["duplicates"][0]["reasons"], json!(["same_domain"]));
    app.post(
        "/api/v1/contacts",
        json!({"last_name": "Martin", "email": "p.martin@x.example", "phone": "06 12 34 56 78"}),
    )
    .await;
    let (_, c) = app
        .post("/api/v1/contacts", json!({"last_name": "Autre", "email": "P.Martin@X.example"}))
        .await;
    assert_eq!(c["warnings"]["duplicates"][0]["reasons"], json!(["same_email"]));
    let (_, c) = app
        .post("/api/v1/contacts", json!({"last_name": "Encore", "mobile": "+33 6 12 34 56 78"}))
        .await;
    assert_eq!(c["warnings"]["duplicates"][0]["reasons"], json!(["same_phone"]));
}

async fn all_pages(app: &TestApp, base: &str) -> Vec<Value> {
    let mut out = Vec::new();
    let mut next: Option<String> = None;
    for _ in 0..1000 {
        let sep = if base.contains('?') { '&' } else { '?' };
        let url = match &next {
            Some(c) => format!("{base}{sep}after={c}"),
            None => base.to_string(),
        };
        let (s, page) = app.get(&url).await;
        assert_eq!(s, StatusCode::OK, "{url}: {page}");
        out.extend(page["data"].as_array().unwrap().iter().cloned());
        match page["next_cursor"].as_str() {
            Some(c) => next = Some(c.to_string()),
            None => return out,
        }
    }
    panic!("pagination did not end");
}

#[tokio::test]
async fn lists_filter_sort_and_page_by_cursor() {
    let app = spawn_app().await;
    printers_field(&app).await;
    let (rep, _) = app.user_with_key("rep@test.example", "sales").await;
    let names = ["Zeta", "alpha", "Émile", "beta", "Gamma", "delta", "Epsilon"];
    for (i, n) in names.iter().enumerate() {
        let mut body = json!({"name": n, "custom": {"printers": i * 10}, "city": if i % 2 == 0 { "Lyon" } else { "Paris" }});
        if i < 3 {
            body["tags"] = json!(["Gold"]);
            body["owner"] = json!(rep.id);
        }
        assert_eq!(app.post("/api/v1/accounts", body).await.0, StatusCode::CREATED);
    }
    let rows = all_pages(&app, "/api/v1/accounts?limit=2").await;
    let got: Vec<&str> = rows.iter().map(|r| r["name"].as_str().unwrap()).collect();
    assert_eq!(
        got,
        vec!["alpha", "beta", "delta", "Émile", "Epsilon", "Gamma", "Zeta"],
        "accent- and case-insensitive name order"
    );
    let gold = all_pages(&app, "/api/v1/accounts?tag=Gold&limit=1").await;
    assert_eq!(gold.len(), 3);
    let mine = all_pages(&app, &format!("/api/v1/accounts?owner={}", rep.id)).await;
    assert_eq!(mine.len(), 3);
    assert_eq!(all_pages(&app, "/api/v1/accounts?owner=none").await.len(), 4);
    let many = all_pages(&app, "/api/v1/accounts?cf.printers.min=30&sort=-cf.printers&limit=2").await;
    let p: Vec<f64> = many.iter().map(|r| r["custom"]["printers"].as_f64().unwrap()).collect();
    assert_eq!(p, vec![60.0, 50.0, 40.0, 30.0]);
    assert_eq!(all_pages(&app, "/api/v1/accounts?city=lyon").await.len(), 4);
    assert_eq!(
        all_pages(&app, "/api/v1/accounts?q=e").await.len(),
        2,
        "Émile and Epsilon start with e"
    );
    let newest = all_pages(&app, "/api/v1/accounts?sort=-created&limit=3").await;
    assert_eq!(newest.len(), 7);
    assert_eq!(all_pages(&app, "/api/v1/accounts?created_from=2999-01-01").await.len(), 0);
    for bad in [
        "sort=shoe_size",
        "limit=0",
        "after=garbage",
        "tag=Platinum",
        "created_from=yesterday",
        "frobnicate=1",
        "created_from=2026-05-02&created_to=2026-05-01",
    ] {
        let (s, e) = app.get(&format!("/api/v1/accounts?{bad}")).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{bad}: {e}");
    }
}

#[tokio::test]
async fn search_finds_names_emails_phones_ids_and_tags() {
    let app = spawn_app().await;
    app.post(
        "/api/v1/accounts",
        json!({"name": "Société Générale des Eaux", "company_id": "552 120 222", "tags": ["Silver"]}),
    )
    .await;
    app.post(
        "/api/v1/contacts",
        json!({"first_name": "Élodie", "last_name": "Fournier", "email": "e.fournier@eaux.example", "phone": "06 11 22 33 44"}),
    )
    .await;
    for (q, expect) in [
        ("soc gen", "Société Générale des Eaux"),
        ("GENERALE", "Société Générale des Eaux"),
        ("552120", "Société Générale des Eaux"),
        ("silver", "Société Générale des Eaux"),
        ("elo four", "Élodie Fournier"),
        ("e.fournier@eaux", "Élodie Fournier"),
        ("0611", "Élodie Fournier"),
        ("+33 6 11 22", "Élodie Fournier"),
    ] {
        let (s, r) = app.get(&format!("/api/v1/search?q={}", urlencode(q))).await;
        assert_eq!(s, StatusCode::OK);
        let names: Vec<&str> = r["data"].as_array().unwrap().iter().map(|h| h["name"].as_str().unwrap()).collect();
        assert_eq!(names, vec![expect], "query {q:?}");
    }
    assert!(app.get("/api/v1/search?q=zzz").await.1["data"].as_array().unwrap().is_empty());
    // Changes re-index: the old name no longer matches.
    let (_, list) = app.get("/api/v1/contacts").await;
    let id = list["data"][0]["id"].as_i64().unwrap();
    app.patch(&format!("/api/v1/contacts/{id}"), json!({"last_name": "Garnier"})).await;
    assert!(app.get("/api/v1/search?q=fournier").await.1["data"].as_array().unwrap().is_empty());
    assert_eq!(app.get("/api/v1/search?q=garn").await.1["data"][0]["name"], "Élodie Garnier");
}

pub fn urlencode(s: &str) -> String {
    carnet_domain::values::url_encode(s)
}

#[tokio::test]
async fn saved_views_must_be_valid_lists() {
    let app = spawn_app().await;
    let (s, v) = app
        .post(
            "/api/v1/saved-views",
            json!({"entity": "account", "name": "My Gold", "query": "tag=Gold&sort=-created", "shared": true}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    let (s, e) = app
        .post(
            "/api/v1/saved-views",
            json!({"entity": "account", "name": "Broken", "query": "tag=Unobtainium"}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(e["error"]["fields"]["query"].as_str().unwrap().contains("tag"));
    let (_, views) = app.get("/api/v1/saved-views?entity=account").await;
    assert_eq!(views["data"].as_array().unwrap().len(), 1);
    // Another user sees the shared view but cannot delete it.
    let (_, key) = app.user_with_key("rep@test.example", "sales").await;
    let (_, theirs) = app.api_with(&key, Method::GET, "/api/v1/saved-views", None).await;
    assert_eq!(theirs["data"][0]["name"], "My Gold");
    assert_eq!(
        app.api_with(&key, Method::DELETE, &format!("/api/v1/saved-views/{}", v["id"]), None)
            .await
            .0,
        StatusCode::FORBIDDEN
    );
}

#[tokio::test]
async fn csv_export_is_safe_against_formulas() {
    let app = spawn_app().await;
    app.post(
        "/api/v1/accounts",
        json!({"name": "=HYPERLINK(\"http://evil\")", "city": "+33", "tags": ["Gold"]}),
    )
    .await;
    app.post("/api/v1/accounts", json!({"name": "Plain SAS", "city": "Lyon"})).await;
    let b = app.browser(ADMIN_EMAIL).await;
    let res = b.http.get(format!("{}/accounts/export.csv?tag=Gold", b.base)).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.headers()["content-disposition"].to_str().unwrap().starts_with("attachment"));
    let body = res.text().await.unwrap();
    let lines: Vec<&str> = body.lines().collect();
    assert_eq!(lines.len(), 2, "header and the one Gold account: {body}");
    assert!(lines[0].starts_with("id,name,status"));
    assert!(lines[1].contains("\"'=HYPERLINK(\"\"http://evil\"\")\""), "{}", lines[1]);
    assert!(lines[1].contains(",'+33,"), "{}", lines[1]);
    assert!(lines[1].contains("Potential/Gold"));
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 6, .. ProptestConfig::default() })]
    /// Whatever the names and the page size, paging through a list returns every
    /// record once, in the order a plain sort of the raw records gives.
    #[test]
    fn paging_equals_a_sorted_recount(names in proptest::collection::vec("[A-Za-zÉé ]{1,12}", 1..25), limit in 1i64..6, desc in any::<bool>()) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async {
            let app = spawn_app().await;
            for n in &names {
                let n = if n.trim().is_empty() { "X" } else { n.as_str() };
                let (s, _) = app.post("/api/v1/contacts", json!({"last_name": n})).await;
                assert_eq!(s, StatusCode::CREATED);
            }
            let sort = if desc { "-name" } else { "name" };
            let rows = all_pages(&app, &format!("/api/v1/contacts?limit={limit}&sort={sort}")).await;
            let got: Vec<i64> = rows.iter().map(|r| r["id"].as_i64().unwrap()).collect();
            let mut raw: Vec<(String, i64)> = carnet_app::db::q("SELECT name_key, id FROM contacts")
                .fetch_all::<(String, i64)>(&mut app.carnet.db.conn().await.unwrap()).await.unwrap();
            raw.sort();
            if desc { raw.reverse(); }
            let want: Vec<i64> = raw.into_iter().map(|r| r.1).collect();
            assert_eq!(got, want);
        });
    }
}
