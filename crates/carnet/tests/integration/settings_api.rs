//! Settings over the API, the OpenAPI document against the real routes, and the
//! demo company.

use crate::helpers::*;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

#[tokio::test]
async fn statuses_tags_fields_and_roles() {
    let app = spawn_app().await;
    let (_, st) = app.get("/api/v1/statuses").await;
    let names: Vec<&str> = st["data"].as_array().unwrap().iter().map(|s| s["name"].as_str().unwrap()).collect();
    assert_eq!(names, vec!["Prospect", "Customer", "Partner", "Competitor", "Former customer"]);
    let (s, hot) = app
        .post("/api/v1/statuses", json!({"name": "Hot prospect", "color": "#ff0000"}))
        .await;
    assert_eq!(s, StatusCode::CREATED);
    assert_eq!(
        app.post("/api/v1/statuses", json!({"name": "Hot prospect"})).await.0,
        StatusCode::UNPROCESSABLE_ENTITY,
        "names are unique"
    );
    assert_eq!(
        app.post("/api/v1/statuses", json!({"name": "X", "color": "red"})).await.0,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    let (s, _) = app.patch(&format!("/api/v1/statuses/{}", hot["id"]), json!({"position": 2})).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (_, st) = app.get("/api/v1/statuses").await;
    assert_eq!(st["data"][1]["name"], "Hot prospect");
    // A status in use needs a replacement before it goes.
    let (_, a) = app
        .post("/api/v1/accounts", json!({"name": "Acme", "status": "Hot prospect"}))
        .await;
    let (s, e) = app.api(Method::DELETE, &format!("/api/v1/statuses/{}", hot["id"]), None).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(e["error"]["fields"]["replacement"].as_str().unwrap().contains("1 accounts"));
    let (_, cust) = (
        0,
        st["data"].as_array().unwrap().iter().find(|s| s["name"] == "Customer").unwrap()["id"].clone(),
    );
    let (s, _) = app
        .api(Method::DELETE, &format!("/api/v1/statuses/{}?replacement={cust}", hot["id"]), None)
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    assert_eq!(
        app.get(&format!("/api/v1/accounts/{}", a["id"])).await.1["status"]["name"],
        "Customer"
    );

    // Tag categories: single- and multi-valued.
    let (_, cat) = app
        .post("/api/v1/tag-categories", json!({"name": "Interests", "multi": true}))
        .await;
    for t in ["Print", "Scan"] {
        assert_eq!(
            app.post(
                &format!("/api/v1/tag-categories/{}/tags", cat["id"]),
                json!({"name": t, "color": "#123456"})
            )
            .await
            .0,
            StatusCode::CREATED
        );
    }
    let (s, a) = app
        .post("/api/v1/accounts", json!({"name": "Multi", "tags": ["Print", "Scan", "Gold"]}))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{a}");
    assert_eq!(a["tags"].as_array().unwrap().len(), 3);
    // Turning it single-valued while a record has two of its tags is refused.
    let (s, _) = app
        .patch(&format!("/api/v1/tag-categories/{}", cat["id"]), json!({"multi": false}))
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        app.post("/api/v1/tag-categories/999999/tags", json!({"name": "Orphan"})).await.0,
        StatusCode::UNPROCESSABLE_ENTITY
    );

    // Custom fields of every type.
    for (kind, extra, good, bad) in [
        ("text", json!({}), json!("hello"), json!("two\nlines")),
        ("long_text", json!({}), json!("two\nlines ok"), json!("x".repeat(20_001))),
        ("number", json!({}), json!(3.5), json!("three")),
        ("currency", json!({"choices": ["EUR"]}), json!("1 234,50"), json!("12,3,4,5x")),
        ("date", json!({}), json!("2026-03-01"), json!("2026-02-30")),
        ("boolean", json!({}), json!(true), json!("maybe")),
        ("single_choice", json!({"choices": ["A", "B"]}), json!("b"), json!("C")),
        (
            "multiple_choice",
            json!({"choices": ["A", "B"]}),
            json!(["A", "B"]),
            json!(["A", "Z"]),
        ),
        ("url", json!({}), json!("https://x.example/a"), json!("not a url")),
        ("email", json!({}), json!("a@b.example"), json!("a@")),
        ("phone", json!({}), json!("01 02 03 04 05"), json!("abc")),
    ] {
        let mut body = json!({"entity": "contact", "key": format!("f_{kind}"), "label": kind, "kind": kind});
        if let Some(c) = extra.get("choices") {
            body["choices"] = c.clone();
        }
        let (s, f) = app.post("/api/v1/custom-fields", body).await;
        assert_eq!(s, StatusCode::CREATED, "{kind}: {f}");
        let (s, c) = app
            .post("/api/v1/contacts", json!({"last_name": "T", "custom": {format!("f_{kind}"): good}}))
            .await;
        assert_eq!(s, StatusCode::CREATED, "{kind} accepts {good}: {c}");
        let (s, e) = app
            .post("/api/v1/contacts", json!({"last_name": "T", "custom": {format!("f_{kind}"): bad}}))
            .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{kind} refuses {bad}: {e}");
        assert!(e["error"]["fields"][format!("cf.f_{kind}")].is_string());
    }
    let (_, c) = app.get("/api/v1/contacts?cf.f_currency.min=1000").await;
    assert_eq!(c["data"][0]["custom"]["f_currency"], "1234.50");
    assert_eq!(
        app.post(
            "/api/v1/custom-fields",
            json!({"entity": "contact", "label": "Choice", "kind": "single_choice"})
        )
        .await
        .0,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    assert_eq!(
        app.post("/api/v1/custom-fields", json!({"entity": "planet", "label": "X", "kind": "text"}))
            .await
            .0,
        StatusCode::UNPROCESSABLE_ENTITY
    );

    // Contact roles.
    let (s, r) = app.post("/api/v1/contact-roles", json!({"name": "Accountant"})).await;
    assert_eq!(s, StatusCode::CREATED);
    assert_eq!(
        app.patch(&format!("/api/v1/contact-roles/{}", r["id"]), json!({"name": "Chief accountant"}))
            .await
            .0,
        StatusCode::NO_CONTENT
    );
    let (_, roles) = app.get("/api/v1/contact-roles").await;
    assert!(roles["data"].as_array().unwrap().iter().any(|r| r["name"] == "Chief accountant"));
}

#[tokio::test]
async fn users_are_created_and_validated() {
    let app = spawn_app().await;
    let (s, u) = app.post("/api/v1/users", json!({"email": "New@Rep.example", "name": "New Rep", "role": "sales", "password": "a long password", "locale": "fr", "time_zone": "America/New_York"})).await;
    assert_eq!(s, StatusCode::CREATED, "{u}");
    assert_eq!(u["email"], "new@rep.example");
    assert_eq!(u["time_zone"], "America/New_York");
    let (s, e) = app
        .post(
            "/api/v1/users",
            json!({"email": "x@y.example", "name": "X", "role": "king", "password": "short", "time_zone": "Mars/Olympus"}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    for f in ["role", "password", "time_zone"] {
        assert!(e["error"]["fields"][f].is_string(), "{f}: {e}");
    }
    assert_eq!(
        app.post(
            "/api/v1/users",
            json!({"email": "new@rep.example", "name": "Again", "role": "sales", "password": "a long password"})
        )
        .await
        .0,
        StatusCode::UNPROCESSABLE_ENTITY
    );
}

/// Every operation the OpenAPI document lists exists on the server: none
/// answers "no such route" or "method not allowed".
#[tokio::test]
async fn openapi_document_matches_the_routes() {
    let app = spawn_app().await;
    let doc: Value = app
        .http
        .get(app.url("/api/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    let paths = doc["paths"].as_object().unwrap();
    assert!(paths.len() >= 20);
    let mut checked = 0;
    for (path, ops) in paths {
        for (method, _) in ops.as_object().unwrap() {
            let concrete = path
                .replace("{id}", "999999")
                .replace("{contact_id}", "999999")
                .replace("{wid}", "999999")
                .replace("{metric}", "no_such_metric");
            let m = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let body = (m != Method::GET && m != Method::DELETE).then(|| json!({}));
            let (s, b) = app.api(m.clone(), &concrete, body).await;
            assert_ne!(s, StatusCode::METHOD_NOT_ALLOWED, "{method} {path}");
            assert_ne!(b["error"]["code"], "route_not_found", "{method} {path}");
            assert!(s.as_u16() < 500, "{method} {path} answered {s}");
            checked += 1;
        }
    }
    assert!(checked >= 40, "{checked} operations");
    // The router is built from the same list as the document (api::ops), so
    // no route can be missing from it.
    let (s, b) = app.get("/api/v1/nothing-here").await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_eq!(b["error"]["code"], "route_not_found");
}

#[tokio::test]
async fn demo_fills_an_empty_database_and_refuses_other_data() {
    let (_, carnet, _dir) = spawn_empty().await;
    carnet_app::demo::fill(&carnet, 7).await.unwrap();
    let mut c = carnet.db.conn().await.unwrap();
    let n: i64 = carnet_app::db::q("SELECT COUNT(*) FROM accounts").scalar(&mut c).await.unwrap();
    assert_eq!(n, 60);
    let links: i64 = carnet_app::db::q("SELECT COUNT(*) FROM account_contacts WHERE role_id IS NOT NULL")
        .scalar(&mut c)
        .await
        .unwrap();
    assert!(links > 60);
    // Marketing: campaigns with costs (one aimed at a segment), leads and deals attributed, two forms.
    let count = |sql: &'static str| carnet_app::db::q(sql);
    assert_eq!(count("SELECT COUNT(*) FROM campaigns").scalar::<i64>(&mut c).await.unwrap(), 4);
    assert!(count("SELECT COUNT(*) FROM campaign_costs").scalar::<i64>(&mut c).await.unwrap() >= 4);
    assert_eq!(
        count("SELECT COUNT(*) FROM campaigns WHERE segment_tag_id IS NOT NULL")
            .scalar::<i64>(&mut c)
            .await
            .unwrap(),
        1
    );
    assert!(
        count("SELECT COUNT(*) FROM contacts WHERE first_campaign_id IS NOT NULL")
            .scalar::<i64>(&mut c)
            .await
            .unwrap()
            > 10
    );
    assert!(
        count("SELECT COUNT(*) FROM opportunities WHERE campaign_id IS NOT NULL")
            .scalar::<i64>(&mut c)
            .await
            .unwrap()
            > 0
    );
    assert_eq!(count("SELECT COUNT(*) FROM forms").scalar::<i64>(&mut c).await.unwrap(), 2);
    // The website: known and anonymous visitors' visits.
    assert_eq!(count("SELECT COUNT(*) FROM track_sites").scalar::<i64>(&mut c).await.unwrap(), 1);
    assert!(
        count("SELECT COUNT(*) FROM track_visitors WHERE contact_id IS NOT NULL")
            .scalar::<i64>(&mut c)
            .await
            .unwrap()
            >= 30
    );
    assert_eq!(
        count("SELECT COUNT(*) FROM page_views").scalar::<i64>(&mut c).await.unwrap(),
        count("SELECT CAST(SUM(views) AS BIGINT) FROM track_visitors")
            .scalar::<i64>(&mut c)
            .await
            .unwrap(),
        "every view counted on its visitor"
    );
    drop(c);
    // Again: nothing changes.
    carnet_app::demo::fill(&carnet, 7).await.unwrap();
    let app = spawn_app().await;
    let err = carnet_app::demo::fill(&app.carnet, 7).await.unwrap_err();
    assert!(err.to_string().contains("not the demo"), "{err}");
}
