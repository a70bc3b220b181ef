//! Users and access: login, sessions, setup link, CSRF, roles, API keys.

use crate::helpers::*;
use reqwest::{Method, StatusCode};
use serde_json::json;

#[tokio::test]
async fn health_answers_when_the_database_is_reachable() {
    let app = spawn_app().await;
    let res = app.http.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
}

#[tokio::test]
async fn anonymous_requests_get_nothing() {
    let app = spawn_app().await;
    for path in ["/", "/accounts", "/contacts/1", "/settings/statuses", "/profile"] {
        let res = app.http.get(app.url(path)).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::SEE_OTHER, "{path}");
        assert!(res.headers()["location"].to_str().unwrap().starts_with("/login"), "{path}");
    }
    let res = app.http.get(app.url("/api/v1/accounts")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["error"]["code"], "unauthorized");
    let (status, _) = app.api_with("carnet_not-a-key", Method::GET, "/api/v1/accounts", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn login_sets_a_safe_cookie_and_logout_ends_the_session() {
    let app = spawn_app().await;
    let res = app
        .sign_in(&[("email", ADMIN_EMAIL), ("password", PASSWORD), ("next", "/accounts")])
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(res.headers()["location"], "/accounts");
    let cookie = res.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"), "{cookie}");
    let token = cookie.split(';').next().unwrap().to_string();
    let page = app.http.get(app.url("/accounts")).header("cookie", &token).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let out = app.http.post(app.url("/logout")).header("cookie", &token).send().await.unwrap();
    assert_eq!(out.status(), StatusCode::SEE_OTHER);
    // The old cookie no longer opens anything.
    let again = app.http.get(app.url("/accounts")).header("cookie", &token).send().await.unwrap();
    assert_eq!(again.status(), StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn login_refuses_bad_passwords_and_foreign_redirects() {
    let app = spawn_app().await;
    let res = app.sign_in(&[("email", ADMIN_EMAIL), ("password", "wrong password!")]).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert!(
        res.headers()
            .get_all("set-cookie")
            .iter()
            .all(|c| !c.to_str().unwrap().starts_with("carnet_session")),
        "no session"
    );
    let body = res.text().await.unwrap();
    assert!(body.contains("Wrong email or password"));
    assert!(
        body.contains(&format!("value=\"{ADMIN_EMAIL}\"")),
        "the typed email stays in the form"
    );
    let res = app
        .sign_in(&[("email", ADMIN_EMAIL), ("password", PASSWORD), ("next", "//evil.example/")])
        .await;
    assert_eq!(res.headers()["location"], "/");
}

#[tokio::test]
async fn login_is_rate_limited() {
    let app = spawn_app().await;
    let mut statuses = Vec::new();
    for _ in 0..12 {
        let res = app.sign_in(&[("email", ADMIN_EMAIL), ("password", "not the password")]).await;
        statuses.push(res.status());
    }
    assert_eq!(statuses.iter().filter(|s| **s == StatusCode::UNAUTHORIZED).count(), 10);
    assert_eq!(*statuses.last().unwrap(), StatusCode::TOO_MANY_REQUESTS);
    // Even the right password waits while the limit holds.
    let res = app.sign_in(&[("email", ADMIN_EMAIL), ("password", PASSWORD)]).await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn expired_sessions_are_refused() {
    let app = spawn_app().await;
    let b = app.browser(ADMIN_EMAIL).await;
    assert_eq!(b.get("/accounts").await.status, StatusCode::OK);
    let mut tx = app.carnet.db.begin().await.unwrap();
    carnet_app::db::q("UPDATE sessions SET expires_at = 0")
        .execute(&mut tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(b.get("/accounts").await.status, StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn first_run_setup_link_works_once() {
    let (addr, carnet, _dir) = spawn_empty().await;
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let url = |p: &str| format!("http://{addr}{p}");
    let token = carnet_app::access::users::ensure_setup_token(&carnet.db)
        .await
        .unwrap()
        .expect("no user yet: a token");
    assert_eq!(
        http.get(url("/setup?token=forged")).send().await.unwrap().status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        http.get(url(&format!("/setup?token={token}"))).send().await.unwrap().status(),
        StatusCode::OK
    );
    // A short password is refused, and the typed name stays.
    let res = http
        .post(url("/setup"))
        .form(&[
            ("token", token.as_str()),
            ("email", "boss@x.example"),
            ("name", "The Boss"),
            ("password", "short"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(res.text().await.unwrap().contains("value=\"The Boss\""));
    let res = http
        .post(url("/setup"))
        .form(&[
            ("token", token.as_str()),
            ("email", "boss@x.example"),
            ("name", "The Boss"),
            ("password", "long enough password"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let u = carnet_app::access::users::find_by_email(&carnet.db, "boss@x.example")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(u.role.as_str(), "admin");
    let res = http
        .post(url("/setup"))
        .form(&[
            ("token", token.as_str()),
            ("email", "two@x.example"),
            ("name", "Two"),
            ("password", "long enough password"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert!(carnet_app::access::users::ensure_setup_token(&carnet.db).await.unwrap().is_none());
}

#[tokio::test]
async fn forms_without_the_csrf_token_change_nothing() {
    let app = spawn_app().await;
    let b = app.browser(ADMIN_EMAIL).await;
    let p = b.post_raw("/accounts", &[("csrf", "forged"), ("name", "Forged Ltd")]).await;
    assert_eq!(p.status, StatusCode::FORBIDDEN);
    let p = b.post_raw("/accounts", &[("name", "No Token Ltd")]).await;
    assert_eq!(p.status, StatusCode::FORBIDDEN);
    assert_eq!(app.count("accounts").await, 0);
    // The API through a browser session needs the token in a header.
    let res = b
        .http
        .post(format!("{}/api/v1/accounts", b.base))
        .json(&json!({"name": "X"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let csrf = b.csrf().await;
    let res = b
        .http
        .post(format!("{}/api/v1/accounts", b.base))
        .header("x-csrf-token", csrf)
        .json(&json!({"name": "X"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
}

#[tokio::test]
async fn roles_are_checked_on_the_server() {
    let app = spawn_app().await;
    let (_, sales) = app.user_with_key("rep@test.example", "sales").await;
    let (_, marketing) = app.user_with_key("mkt@test.example", "marketing").await;
    let (_, manager) = app.user_with_key("boss@test.example", "manager").await;
    // Settings are for administrators.
    let (s, body) = app
        .api_with(&sales, Method::POST, "/api/v1/statuses", Some(json!({"name": "Hot"})))
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    assert_eq!(body["error"]["code"], "forbidden");
    let (s, _) = app
        .api_with(
            &manager,
            Method::POST,
            "/api/v1/custom-fields",
            Some(json!({"entity": "account", "label": "X", "kind": "text"})),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _) = app
        .api_with(&sales, Method::POST, "/api/v1/users", Some(json!({"email": "x@y.example"})))
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    // Marketing works contacts, not accounts.
    let (s, _) = app
        .api_with(&marketing, Method::POST, "/api/v1/accounts", Some(json!({"name": "Acme"})))
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, c) = app
        .api_with(&marketing, Method::POST, "/api/v1/contacts", Some(json!({"last_name": "Lead"})))
        .await;
    assert_eq!(s, StatusCode::CREATED);
    // Sales cannot delete; managers can.
    let path = format!("/api/v1/contacts/{}", c["id"]);
    assert_eq!(app.api_with(&sales, Method::DELETE, &path, None).await.0, StatusCode::FORBIDDEN);
    assert_eq!(app.api_with(&manager, Method::DELETE, &path, None).await.0, StatusCode::NO_CONTENT);
    assert_eq!(app.count("contacts").await, 0);
    // And the pages say the same.
    let b = app.browser("rep@test.example").await;
    assert_eq!(b.get("/settings/statuses").await.status, StatusCode::FORBIDDEN);
    assert_eq!(
        b.post_form("/settings/statuses", &[("op", "create"), ("name", "Sneaky")])
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    assert!(!app.get("/api/v1/statuses").await.1.to_string().contains("Sneaky"));
}

#[tokio::test]
async fn api_keys_are_hashed_and_revocable() {
    let app = spawn_app().await;
    let stored: String = carnet_app::db::q("SELECT key_hash FROM api_keys")
        .scalar(&mut app.carnet.db.conn().await.unwrap())
        .await
        .unwrap();
    assert_ne!(stored, app.key);
    assert!(!stored.contains(&app.key));
    assert_eq!(app.get("/api/v1/me").await.1["email"], ADMIN_EMAIL);
    let keys = carnet_app::access::keys::list_for(&app.carnet.db, app.admin.id).await.unwrap();
    carnet_app::access::keys::revoke(&app.carnet.db, app.admin.id, keys[0].id)
        .await
        .unwrap();
    assert_eq!(app.get("/api/v1/me").await.0, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn deactivated_users_lose_access() {
    let app = spawn_app().await;
    let (u, key) = app.user_with_key("leaver@test.example", "sales").await;
    assert_eq!(app.api_with(&key, Method::GET, "/api/v1/me", None).await.0, StatusCode::OK);
    let (s, _) = app.patch(&format!("/api/v1/users/{}", u.id), json!({"active": false})).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        app.api_with(&key, Method::GET, "/api/v1/me", None).await.0,
        StatusCode::UNAUTHORIZED
    );
    // The last administrator cannot demote themself.
    let (s, body) = app
        .patch(&format!("/api/v1/users/{}", app.admin.id), json!({"role": "sales"}))
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(body["error"]["fields"]["role"].is_string());
}

/// The sign-in form carries its own token (double submit with a cookie): a
/// foreign page cannot sign a visitor into another account. The `next` target
/// is followed only when it is a path of this site, whatever it hides.
#[tokio::test]
async fn sign_in_needs_its_form_token_and_redirects_only_to_local_paths() {
    let app = spawn_app().await;
    let post = |fields: Vec<(&'static str, String)>, cookie: Option<&'static str>| {
        let app = &app;
        async move {
            let mut req = app.http.post(app.url("/login")).form(&fields);
            if let Some(c) = cookie {
                req = req.header("cookie", c);
            }
            req.send().await.unwrap()
        }
    };
    let creds = |extra: &[(&'static str, &str)]| {
        let mut v = vec![("email", ADMIN_EMAIL.to_string()), ("password", PASSWORD.to_string())];
        v.extend(extra.iter().map(|(k, x)| (*k, x.to_string())));
        v
    };
    let no_session = |res: &reqwest::Response| {
        res.headers()
            .get_all("set-cookie")
            .iter()
            .all(|c| !c.to_str().unwrap().starts_with("carnet_session"))
    };
    // No token, a token without its cookie, a cookie with another token: refused.
    for (fields, cookie) in [
        (creds(&[]), None),
        (creds(&[("csrf", "forged")]), None),
        (creds(&[("csrf", "forged")]), Some("carnet_login=another")),
    ] {
        let res = post(fields, cookie).await;
        assert_eq!(res.status(), StatusCode::FORBIDDEN);
        assert!(no_session(&res), "no session for a forged sign-in");
        assert!(res.text().await.unwrap().contains("This form has expired"));
    }
    // Whatever `next` hides, only a local path is followed.
    for (next, want) in [
        ("/accounts?tag=Gold", "/accounts?tag=Gold"),
        ("/\t/evil.example", "/"),
        ("/\tevil", "/"),
        ("/\n/evil.example", "/"),
        ("/\\evil.example", "/"),
        ("//evil.example", "/"),
        ("https://evil.example/", "/"),
        ("/ /evil.example", "/"),
    ] {
        let next = next.replace("\\t", "\t").replace("\\n", "\n");
        let res = app
            .sign_in(&[("email", ADMIN_EMAIL), ("password", PASSWORD), ("next", &next)])
            .await;
        assert_eq!(res.status(), StatusCode::SEE_OTHER, "{next:?}");
        assert_eq!(res.headers()["location"], want, "{next:?}");
    }
    // The sign-in page itself never echoes a foreign target.
    let page = app
        .http
        .get(app.url("/login?next=%2F%09%2Fevil.example"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("name=\"next\" value=\"/\""), "the form's next is the home page");
}
