//! The API's rate limit (per caller and per address, 429 with Retry-After) and
//! its idempotency keys (a write sent again answers the first answer, once).

use crate::helpers::*;
use carnet_app::platform::idempotency::{self, Claim};
use carnet_web::api::guard::ApiLimits;
use carnet_web::ratelimit::Quota;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

/// The same Carnet served a second time, with the given limits.
async fn serve_with(app: &TestApp, limits: ApiLimits) -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let state = carnet_web::AppState::new(app.carnet.clone(), false).with_api_limits(limits);
    tokio::spawn(carnet_web::serve(state, listener, std::future::pending()));
    addr
}

async fn get_at(app: &TestApp, addr: std::net::SocketAddr, key: &str) -> reqwest::Response {
    app.http
        .get(format!("http://{addr}/api/v1/me"))
        .bearer_auth(key)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn each_key_has_its_pace_and_the_excess_waits() {
    let app = spawn_app().await;
    let limits = ApiLimits {
        per_caller: Quota { per_minute: 60, burst: 5 },
        per_address: Quota::per_minute(0),
        ..ApiLimits::OFF
    };
    let addr = serve_with(&app, limits).await;
    for i in 0..5 {
        assert_eq!(get_at(&app, addr, &app.key).await.status(), StatusCode::OK, "request {i}");
    }
    let res = get_at(&app, addr, &app.key).await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    let wait: u64 = res.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&wait), "Retry-After: {wait}");
    assert_eq!(res.headers()["content-type"], "application/json");
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"]["code"], "too_many_requests");
    // Another key is not slowed down by the first one.
    let (_, other) = carnet_app::access::keys::create(&app.carnet.db, app.admin.id, "second")
        .await
        .unwrap();
    assert_eq!(get_at(&app, addr, &other).await.status(), StatusCode::OK);
    // A wrong key is paced too (guessing keys is slow), and still told 401 first.
    for _ in 0..5 {
        assert_eq!(get_at(&app, addr, "wrong").await.status(), StatusCode::UNAUTHORIZED);
    }
    assert_eq!(get_at(&app, addr, "wrong").await.status(), StatusCode::TOO_MANY_REQUESTS);
    // The server with the default limits is not affected by this one's counts.
    assert_eq!(app.get("/api/v1/me").await.0, StatusCode::OK);
}

#[tokio::test]
async fn one_address_cannot_spread_its_requests_over_many_keys() {
    let app = spawn_app().await;
    let limits = ApiLimits {
        per_caller: Quota::per_minute(0),
        per_address: Quota { per_minute: 60, burst: 3 },
        ..ApiLimits::OFF
    };
    let addr = serve_with(&app, limits).await;
    let mut statuses = Vec::new();
    for i in 0..4 {
        let (_, key) = carnet_app::access::keys::create(&app.carnet.db, app.admin.id, &format!("k{i}"))
            .await
            .unwrap();
        statuses.push(get_at(&app, addr, &key).await.status());
    }
    assert_eq!(
        statuses,
        [StatusCode::OK, StatusCode::OK, StatusCode::OK, StatusCode::TOO_MANY_REQUESTS]
    );
    // Limits off: no 429 however many.
    let open = serve_with(&app, ApiLimits::OFF).await;
    for _ in 0..50 {
        assert_eq!(get_at(&app, open, &app.key).await.status(), StatusCode::OK);
    }
}

async fn send(app: &TestApp, method: Method, path: &str, key: Option<&str>, body: Option<Value>) -> reqwest::Response {
    let mut req = app.http.request(method, app.url(path)).bearer_auth(&app.key);
    if let Some(k) = key {
        req = req.header("Idempotency-Key", k);
    }
    if let Some(b) = body {
        req = req.json(&b);
    }
    req.send().await.unwrap()
}

async fn accounts_named(app: &TestApp, name: &str) -> i64 {
    let mut c = app.carnet.db.conn().await.unwrap();
    carnet_app::db::q("SELECT COUNT(*) FROM accounts WHERE name = $1")
        .bind(name)
        .scalar(&mut c)
        .await
        .unwrap()
}

#[tokio::test]
async fn a_write_sent_again_with_its_key_answers_the_first_answer() {
    let app = spawn_app().await;
    let body = json!({"name": "Idempotent SARL", "city": "Lyon"});
    let first = send(&app, Method::POST, "/api/v1/accounts", Some("order-7781"), Some(body.clone())).await;
    assert_eq!(first.status(), StatusCode::CREATED);
    let location = first.headers()["location"].clone();
    assert!(first.headers().get("idempotent-replayed").is_none());
    let first: Value = first.json().await.unwrap();
    let again = send(&app, Method::POST, "/api/v1/accounts", Some("order-7781"), Some(body.clone())).await;
    assert_eq!(again.status(), StatusCode::CREATED);
    assert_eq!(again.headers()["location"], location);
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    assert_eq!(again.headers()["content-type"], "application/json");
    assert_eq!(again.json::<Value>().await.unwrap(), first);
    assert_eq!(accounts_named(&app, "Idempotent SARL").await, 1);

    // The same key for another request is refused, naming the header.
    let other = send(
        &app,
        Method::POST,
        "/api/v1/accounts",
        Some("order-7781"),
        Some(json!({"name": "Autre"})),
    )
    .await;
    assert_eq!(other.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let err: Value = other.json().await.unwrap();
    assert!(err["error"]["fields"]["Idempotency-Key"].is_string(), "{err}");
    assert_eq!(accounts_named(&app, "Autre").await, 0);

    // Without a key, the same body writes again (the caller asked for no protection).
    assert_eq!(
        send(&app, Method::POST, "/api/v1/accounts", None, Some(body)).await.status(),
        StatusCode::CREATED
    );
    assert_eq!(accounts_named(&app, "Idempotent SARL").await, 2);

    // A refused input is an answer too: the retry gets the same 422.
    let bad = json!({"name": ""});
    let r1 = send(&app, Method::POST, "/api/v1/accounts", Some("bad-1"), Some(bad.clone())).await;
    assert_eq!(r1.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let r2 = send(&app, Method::POST, "/api/v1/accounts", Some("bad-1"), Some(bad)).await;
    assert_eq!(r2.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r2.headers()["idempotent-replayed"], "true");

    // A delete sent twice answers 204 twice, not 404 the second time.
    let id = first["id"].as_i64().unwrap();
    let path = format!("/api/v1/accounts/{id}");
    assert_eq!(
        send(&app, Method::DELETE, &path, Some("del-1"), None).await.status(),
        StatusCode::NO_CONTENT
    );
    let d2 = send(&app, Method::DELETE, &path, Some("del-1"), None).await;
    assert_eq!(d2.status(), StatusCode::NO_CONTENT);
    assert_eq!(d2.headers()["idempotent-replayed"], "true");
    assert_eq!(send(&app, Method::DELETE, &path, None, None).await.status(), StatusCode::NOT_FOUND);

    // Keys belong to their user: another user's same key is a new request.
    let (_, key2) = second_user_key(&app).await;
    let res = app
        .http
        .post(app.url("/api/v1/accounts"))
        .bearer_auth(&key2)
        .header("Idempotency-Key", "order-7781")
        .json(&json!({"name": "Idempotent SARL", "city": "Lyon"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    assert!(res.headers().get("idempotent-replayed").is_none());

    // A key must be something a client would send.
    for k in ["", "has space", &"x".repeat(256), "é"] {
        let res = app
            .http
            .post(app.url("/api/v1/accounts"))
            .bearer_auth(&app.key)
            .header("Idempotency-Key", reqwest::header::HeaderValue::from_bytes(k.as_bytes()).unwrap())
            .json(&json!({"name": "Never"}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY, "key {k:?}");
    }
    assert_eq!(accounts_named(&app, "Never").await, 0);
    // Reads ignore the header.
    assert_eq!(
        send(&app, Method::GET, "/api/v1/me", Some("has space"), None).await.status(),
        StatusCode::OK
    );
}

async fn second_user_key(app: &TestApp) -> (i64, String) {
    let u = carnet_app::access::users::create(
        &app.carnet.db,
        carnet_app::access::users::NewUser::parse("second@example.com", "Second", "sales", PASSWORD, "en", "Europe/Paris").unwrap(),
    )
    .await
    .unwrap();
    let (_, key) = carnet_app::access::keys::create(&app.carnet.db, u.id, "second").await.unwrap();
    (u.id, key)
}

/// Retries racing the first request: one write, every answer is the write's or
/// "still running".
#[tokio::test]
async fn racing_retries_write_once() {
    let app = spawn_app().await;
    let body = json!({"name": "Race SARL"});
    let sends: Vec<_> = (0..6)
        .map(|_| {
            let req = app
                .http
                .post(app.url("/api/v1/accounts"))
                .bearer_auth(&app.key)
                .header("Idempotency-Key", "race-1")
                .json(&body);
            tokio::spawn(req.send())
        })
        .collect();
    let mut answers = Vec::new();
    for s in sends {
        answers.push(s.await.unwrap().unwrap());
    }
    for a in &answers {
        assert!([StatusCode::CREATED, StatusCode::CONFLICT].contains(&a.status()), "{}", a.status());
    }
    assert!(answers.iter().any(|a| a.status() == StatusCode::CREATED));
    assert_eq!(accounts_named(&app, "Race SARL").await, 1);
}

/// A key is kept a day; a claim whose request never finished is taken over.
#[tokio::test]
async fn keys_expire_and_abandoned_claims_are_taken_over() {
    let app = spawn_app().await;
    let db = &app.carnet.db;
    let uid = app.admin.id;
    let t0 = db.now();
    db.clock().pin(Some(t0));
    assert_eq!(idempotency::claim(db, uid, "k", "a").await.unwrap(), Claim::Fresh);
    assert_eq!(idempotency::claim(db, uid, "k", "a").await.unwrap(), Claim::InProgress);
    db.clock().pin(Some(t0 + idempotency::ABANDONED_SECS + 1));
    assert_eq!(idempotency::claim(db, uid, "k", "a").await.unwrap(), Claim::Fresh);
    let answer = idempotency::Answer {
        status: 201,
        content_type: Some("application/json".into()),
        location: None,
        etag: None,
        body: "{}".into(),
    };
    idempotency::keep(db, uid, "k", &answer).await.unwrap();
    db.clock().pin(Some(t0 + 3600));
    assert_eq!(idempotency::claim(db, uid, "k", "a").await.unwrap(), Claim::Replay(answer));
    assert_eq!(idempotency::claim(db, uid, "k", "b").await.unwrap(), Claim::Reused);
    db.clock().pin(Some(t0 + idempotency::KEEP_SECS + 3600));
    assert_eq!(idempotency::claim(db, uid, "k", "b").await.unwrap(), Claim::Fresh);
    // The daily job deletes keys past their day.
    assert_eq!(idempotency::claim(db, uid, "old", "x").await.unwrap(), Claim::Fresh);
    db.clock().pin(Some(t0 + 3 * idempotency::KEEP_SECS));
    let mut tx = db.begin().await.unwrap();
    for task in db.registry().daily_tasks() {
        task(&mut tx, db.clock().today_utc()).await.unwrap();
    }
    tx.commit().await.unwrap();
    let mut c = db.conn().await.unwrap();
    let left: i64 = carnet_app::db::q("SELECT COUNT(*) FROM idempotency_keys")
        .scalar(&mut c)
        .await
        .unwrap();
    assert_eq!(left, 0);
}
