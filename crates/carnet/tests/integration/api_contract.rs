//! The API's contract at its edges: one JSON error shape for every rejection
//! (ids that are not numbers, bodies too large or not JSON, unknown metrics),
//! and list filters that refuse what must not reach SQL, on both databases.

use crate::helpers::*;
use reqwest::StatusCode;
use serde_json::{json, Value};

async fn raw(app: &TestApp, method: reqwest::Method, path: &str, content_type: &str, body: Vec<u8>) -> (StatusCode, String, Value) {
    let res = app
        .http
        .request(method, app.url(path))
        .bearer_auth(&app.key)
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .unwrap();
    let status = res.status();
    let ct = res
        .headers()
        .get("content-type")
        .map(|c| c.to_str().unwrap().to_string())
        .unwrap_or_default();
    let text = res.text().await.unwrap();
    (status, ct, serde_json::from_str(&text).unwrap_or(Value::Null))
}

#[tokio::test]
async fn every_rejection_answers_the_documented_json_error() {
    let app = spawn_app().await;
    // A path id that is not a number, or out of range, names nothing: 404.
    for path in [
        "/api/v1/accounts/abc",
        "/api/v1/accounts/99999999999999999999999",
        "/api/v1/opportunities/1.5/history",
        "/api/v1/contacts/-",
    ] {
        let (s, ct, body) = raw(&app, reqwest::Method::GET, path, "application/json", vec![]).await;
        assert_eq!(s, StatusCode::NOT_FOUND, "{path}");
        assert!(ct.starts_with("application/json"), "{path}: {ct}");
        assert_eq!(body["error"]["code"], "not_found", "{path}: {body}");
    }
    // A body over the limit: 413; not JSON by its content type: 415.
    let big = format!("{{\"name\": \"{}\"}}", "x".repeat(3 * 1024 * 1024));
    let (s, _, body) = raw(
        &app,
        reqwest::Method::POST,
        "/api/v1/accounts",
        "application/json",
        big.into_bytes(),
    )
    .await;
    assert_eq!(
        (s, body["error"]["code"].as_str()),
        (StatusCode::PAYLOAD_TOO_LARGE, Some("payload_too_large")),
        "{body}"
    );
    let (s, _, body) = raw(
        &app,
        reqwest::Method::POST,
        "/api/v1/accounts",
        "text/plain",
        b"{\"name\": \"Acme\"}".to_vec(),
    )
    .await;
    assert_eq!(
        (s, body["error"]["code"].as_str()),
        (StatusCode::UNSUPPORTED_MEDIA_TYPE, Some("unsupported_media_type")),
        "{body}"
    );
    let (s, _, body) = raw(
        &app,
        reqwest::Method::POST,
        "/api/v1/accounts",
        "application/json",
        b"{\"name\": ".to_vec(),
    )
    .await;
    assert_eq!(
        (s, body["error"]["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("validation_failed")),
        "{body}"
    );
    assert_eq!(app.count("accounts").await, 0, "nothing saved");
    // An unknown metric is an unknown resource.
    let (s, body) = app.get("/api/v1/metrics/no_such_metric/values").await;
    assert_eq!(
        (s, body["error"]["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("not_found")),
        "{body}"
    );
}

/// NUL bytes, other control characters and over-long values in any list
/// filter are refused with 422 naming the parameter — never a 5xx — in the API
/// and in the HTML lists.
#[tokio::test]
async fn list_filters_refuse_what_must_not_reach_sql() {
    let app = spawn_app().await;
    app.post("/api/v1/accounts", json!({"name": "Filtered", "city": "Lyon"})).await;
    let long = "a".repeat(20_001);
    let lists: [(&str, &[&str]); 3] = [
        (
            "accounts",
            &[
                "q",
                "city",
                "country",
                "postal_code",
                "source",
                "email",
                "sort",
                "tag",
                "status",
                "owner",
            ],
        ),
        ("contacts", &["q", "city", "email", "job_title", "source"]),
        ("opportunities", &["q", "stage", "pipeline"]),
    ];
    let b = app.browser(ADMIN_EMAIL).await;
    for (list, params) in lists {
        for p in params.iter() {
            for bad in ["%00", "a%00b", "%01", "%0A", &long] {
                let (s, body) = app.get(&format!("/api/v1/{list}?{p}={bad}")).await;
                assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{list}?{p}={}", &bad[..bad.len().min(8)]);
                assert!(body["error"]["fields"][*p].is_string(), "{list}?{p}: {body}");
            }
            let page = b.get(&format!("/{list}?{p}=%00")).await;
            assert!(page.status.is_client_error(), "/{list}?{p}=%00: {}", page.status);
        }
    }
    // The ordinary filters still work.
    let (s, body) = app.get("/api/v1/accounts?city=Lyon").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(body["data"].as_array().unwrap().len(), 1);
}

/// Each field of each record kind, given a value of the wrong JSON type, is
/// refused with 422 naming the field, and nothing is saved — on create and on
/// PATCH (where the record keeps its values).
#[tokio::test]
async fn wrong_json_types_are_refused_naming_the_field() {
    let app = spawn_app().await;
    let (_, a) = app.post("/api/v1/accounts", json!({"name": "Typed"})).await;
    let (_, o) = app
        .post(
            "/api/v1/opportunities",
            json!({"name": "Typed deal", "account": a["id"], "amount": "10"}),
        )
        .await;
    let text = [json!(true), json!(42), json!(["x", "y"]), json!({"a": 1})];
    let reference = [json!(true), json!(1.5), json!(["x"]), json!({"id": 1})];
    let number = [json!(true), json!(["1"]), json!({"n": 1})];
    let list = [json!(true), json!({"a": 1}), json!([{"a": 1}]), json!([true])];
    type Fields<'a> = Vec<(&'a str, &'a [serde_json::Value])>;
    let kinds: [(&str, serde_json::Value, Fields); 3] = [
        (
            "accounts",
            json!({"name": "Base"}),
            vec![
                ("name", &text[..]),
                ("email", &text[..]),
                ("city", &text[..]),
                ("description", &text[..]),
                ("status", &reference[..]),
                ("owner", &reference[..]),
                ("tags", &list[..]),
            ],
        ),
        (
            "contacts",
            json!({"last_name": "Base"}),
            vec![
                ("first_name", &text[..]),
                ("last_name", &text[..]),
                ("job_title", &text[..]),
                ("owner", &reference[..]),
                ("account", &reference[..]),
            ],
        ),
        (
            "opportunities",
            json!({"name": "Base", "account": a["id"]}),
            vec![
                ("name", &text[..]),
                ("expected_close", &text[..]),
                ("amount", &number[..]),
                ("stage", &reference[..]),
                ("contacts", &list[..]),
            ],
        ),
    ];
    for (path, base, fields) in kinds {
        let before = app.count(path).await;
        for (field, bad_values) in fields {
            for bad in bad_values {
                let mut body = base.clone();
                body[field] = bad.clone();
                let (s, e) = app.post(&format!("/api/v1/{path}"), body.clone()).await;
                assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "POST {path} {body}: {e}");
                assert!(e["error"]["fields"][field].is_string(), "POST {path} {body}: {e}");
            }
        }
        assert_eq!(app.count(path).await, before, "{path}: nothing saved");
    }
    // On PATCH too: the record keeps its values.
    for (path, id, field) in [("accounts", &a["id"], "name"), ("opportunities", &o["id"], "name")] {
        let (s, e) = app.patch(&format!("/api/v1/{path}/{id}"), json!({field: ["x", "y"]})).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
        assert!(e["error"]["fields"][field].is_string(), "{e}");
    }
    assert_eq!(app.get(&format!("/api/v1/accounts/{}", a["id"])).await.1["name"], "Typed");
    // The documented forms still work: a reference by id or by name, money as text or number.
    let (s, e) = app
        .post(
            "/api/v1/opportunities",
            json!({"name": "By name", "account": a["id"], "stage": "Proposal", "amount": 99.5, "owner": ADMIN_EMAIL}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{e}");
    assert_eq!(e["amount"], "99.50");
}

/// A list's `q` matches the start of any word of the name (and the other
/// search tokens), like the global search.
#[tokio::test]
async fn list_search_matches_any_word_start() {
    let app = spawn_app().await;
    app.post("/api/v1/accounts", json!({"name": "Imprimerie Dubois SARL"})).await;
    app.post("/api/v1/accounts", json!({"name": "Dubreuil"})).await;
    let names = |q: &'static str| {
        let app = &app;
        async move {
            let (s, v) = app.get(&format!("/api/v1/accounts?q={q}")).await;
            assert_eq!(s, StatusCode::OK, "{v}");
            let mut n: Vec<String> = v["data"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r["name"].as_str().unwrap().to_string())
                .collect();
            n.sort();
            n
        }
    };
    assert_eq!(names("Dubois").await, ["Imprimerie Dubois SARL"]);
    assert_eq!(names("dub").await, ["Dubreuil", "Imprimerie Dubois SARL"]);
    assert_eq!(names("sarl%20impr").await, ["Imprimerie Dubois SARL"]);
    assert!(names("zzz").await.is_empty());
}

/// The CSV export fails visibly when it cannot read what it must write: the
/// download breaks off rather than arriving without tags and custom values.
#[tokio::test]
async fn a_failing_export_breaks_off_instead_of_dropping_columns() {
    let app = spawn_app().await;
    app.post("/api/v1/accounts", json!({"name": "Exported", "tags": ["Gold"]})).await;
    let b = app.browser(ADMIN_EMAIL).await;
    let ok = b.http.get(format!("{}/accounts/export.csv", b.base)).send().await.unwrap();
    assert!(ok.text().await.unwrap().contains("Exported"));
    // The tags can no longer be read.
    let mut tx = app.carnet.db.begin().await.unwrap();
    carnet_app::db::q("ALTER TABLE record_tags RENAME TO record_tags_gone")
        .execute(&mut tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let res = b.http.get(format!("{}/accounts/export.csv", b.base)).send().await;
    let broke = match res {
        Err(_) => true,
        Ok(r) => r.bytes().await.is_err(),
    };
    assert!(broke, "the download does not complete");
}

/// Links Carnet hands out come from the configured public URL, not from the
/// request's Host header (which anyone can set).
#[tokio::test]
async fn feed_links_come_from_the_public_url_not_the_host_header() {
    let app = spawn_app().await;
    // Without a configured address, links point where the server listens, whatever the Host.
    let res = app
        .http
        .post(app.url("/api/v1/me/calendar-feed"))
        .bearer_auth(&app.key)
        .header("host", "evil.example")
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    let url = res.json::<Value>().await.unwrap()["url"].as_str().unwrap().to_string();
    assert!(url.starts_with(&format!("http://{}/calendar/", app.addr)), "{url}");
    // With one (`--public-url`), every link is built from it.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let state = carnet_web::AppState::new(app.carnet.clone(), true).with_public_url(Some("https://crm.example.com/".into()));
    tokio::spawn(carnet_web::serve(state, listener, std::future::pending()));
    let res = app
        .http
        .post(format!("http://{addr}/api/v1/me/calendar-feed"))
        .bearer_auth(&app.key)
        .header("host", "evil.example")
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    let url = res.json::<Value>().await.unwrap()["url"].as_str().unwrap().to_string();
    assert!(
        url.starts_with("https://crm.example.com/calendar/") && url.ends_with(".ics"),
        "{url}"
    );
}

/// The public booking pages answer through the same error mapping: an unknown
/// manage link is a 404 page, not a blanket one for any error.
#[tokio::test]
async fn public_booking_pages_map_errors_like_the_rest() {
    let app = spawn_app().await;
    for (method, path) in [
        ("GET", "/book/manage/nope"),
        ("POST", "/book/manage/nope/cancel"),
        ("GET", "/book/nobody"),
    ] {
        let req = if method == "GET" {
            app.http.get(app.url(path))
        } else {
            app.http.post(app.url(path))
        };
        let res = req.send().await.unwrap();
        assert_eq!(res.status(), StatusCode::NOT_FOUND, "{method} {path}");
        assert!(res.text().await.unwrap().contains("does not exist"), "{method} {path}");
    }
}
