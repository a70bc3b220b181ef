//! Website tracking (M5): hits from the tracker make visits and return
//! visits; an anonymous visitor's earlier visits join the contact when they
//! send a form or follow a tracked email link, and score; Do Not Track, Global
//! Privacy Control and a site's consent rule are honoured; forged and absurd
//! hits are refused, nothing half-kept; the figures match a recount.

use crate::email::{contact, drain as drain_mail, through, unthrottled};
use crate::helpers::*;
use crate::marketing::{fill, form};
use carnet::smtp_sink::Sink;
use carnet_app::db::q;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

const SITE: &str = "https://www.client.example";

/// A tracked site made through the API; returns it with its key.
async fn site(app: &TestApp, extra: Value) -> Value {
    let mut body = json!({"name": "Client site", "origins": format!("{SITE} https://client.example")});
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    let (s, site) = app.post("/api/v1/tracking/sites", body).await;
    assert_eq!(s, StatusCode::CREATED, "{site}");
    site
}

/// Sends a hit as the script does (a text body, the page's origin).
async fn hit(app: &TestApp, body: Value, headers: &[(&str, &str)]) -> (StatusCode, Value) {
    let mut req = app
        .http
        .post(app.url("/t/hit"))
        .header("origin", SITE)
        .header("content-type", "text/plain;charset=UTF-8")
        .body(body.to_string());
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let res = req.send().await.unwrap();
    let status = res.status();
    let text = res.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

fn view(key: &str, vid: &str, path: &str) -> Value {
    json!({"site": key, "vid": vid, "url": format!("{SITE}{path}"), "title": format!("Page {path}")})
}

async fn count(app: &TestApp, sql: &str) -> i64 {
    app.carnet.tracker.settled(&app.carnet.db).await;
    q(sql.to_string()).scalar(&mut app.carnet.db.conn().await.unwrap()).await.unwrap()
}

async fn score_of(app: &TestApp, contact: i64) -> i64 {
    let (s, v) = app.get(&format!("/api/v1/contacts/{contact}/score")).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    v["score"].as_i64().unwrap()
}

#[tokio::test]
async fn visits_join_the_contact_who_sends_a_form_and_score_once_per_visit() {
    let app = spawn_app().await;
    let s = site(&app, json!({})).await;
    let key = s["site_key"].as_str().unwrap();
    assert!(
        s["snippet"]
            .as_str()
            .unwrap()
            .contains(&format!("/t/carnet.js\" data-site=\"{key}\"")),
        "{s}"
    );
    let (st, r) = app
        .post(
            "/api/v1/scoring/rules",
            json!({"name": "Saw the prices", "trigger_kind": "page_visit", "target": "/pricing*", "points": 15, "decay_days": 7}),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{r}");
    let (st, r) = app
        .post(
            "/api/v1/scoring/rules",
            json!({"name": "Came back", "trigger_kind": "return_visit", "points": 5}),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{r}");
    drain(&app).await;
    let vid = "visitor-0123456789abcdef";
    let t0 = app.carnet.db.now();
    let clock = app.carnet.db.clock();
    // Visit 1: from a search engine, the prices twice, then the about page.
    clock.pin(Some(t0));
    let mut first = view(key, vid, "/pricing?utm_source=news&plan=pro#top");
    first["ref"] = json!("https://search.example/?q=crm");
    assert_eq!(hit(&app, first, &[]).await.0, StatusCode::NO_CONTENT);
    clock.pin(Some(t0 + 60));
    assert_eq!(hit(&app, view(key, vid, "/pricing?plan=pro"), &[]).await.0, StatusCode::NO_CONTENT);
    clock.pin(Some(t0 + 120));
    assert_eq!(hit(&app, view(key, vid, "/about"), &[]).await.0, StatusCode::NO_CONTENT);
    // Visit 2, forty minutes later.
    clock.pin(Some(t0 + 40 * 60));
    assert_eq!(hit(&app, view(key, vid, "/pricing?plan=pro"), &[]).await.0, StatusCode::NO_CONTENT);
    clock.pin(None);
    assert_eq!(count(&app, "SELECT COUNT(*) FROM page_views").await, 4);
    assert_eq!(
        count(&app, "SELECT COUNT(*) FROM track_urls").await,
        3,
        "one address per page, campaign parameters and fragments dropped, the referrer interned"
    );
    assert_eq!(
        count(
            &app,
            &format!("SELECT COUNT(*) FROM track_urls WHERE url = '{SITE}/pricing?plan=pro'")
        )
        .await,
        1
    );
    assert_eq!(count(&app, "SELECT visits FROM track_visitors").await, 2);
    assert_eq!(
        count(&app, "SELECT COUNT(*) FROM events WHERE kind = 'page_visited'").await,
        0,
        "anonymous"
    );

    // The visitor sends a form from the site: the visits join the new contact.
    form(&app, "demo-request", json!({})).await;
    let (st, _) = fill(
        &app,
        "demo-request",
        &[
            ("first_name", "Vera"),
            ("last_name", "Visitor"),
            ("email", "vera@client.example"),
            ("carnet_v", vid),
        ],
    )
    .await;
    assert_eq!(st, StatusCode::OK);
    let contact: i64 = count(&app, "SELECT id FROM contacts WHERE email_key = 'vera@client.example'").await;
    drain(&app).await;
    let (st, v) = app.get(&format!("/api/v1/contacts/{contact}/visits")).await;
    assert_eq!(st, StatusCode::OK, "{v}");
    assert_eq!((v["visits"].as_i64(), v["views"].as_i64()), (Some(2), Some(4)), "{v}");
    let latest = v["latest"].as_array().unwrap();
    assert_eq!(latest.len(), 2);
    assert_eq!(latest[1]["pages"].as_array().unwrap().len(), 3, "{v}");
    assert_eq!(latest[1]["referrer"], "https://search.example/?q=crm");
    assert_eq!(latest[1]["pages"][0]["url"], format!("{SITE}/pricing?plan=pro"));
    assert_eq!(latest[0]["started_at"].as_i64(), Some(t0 + 40 * 60));
    // The prices were seen in two visits: awarded twice, not three times.
    assert_eq!(score_of(&app, contact).await, 30);
    // The score distribution is the contacts' scores recounted.
    let (st, d) = app.get("/api/v1/scoring/distribution").await;
    assert_eq!(st, StatusCode::OK, "{d}");
    let bands = d["data"].as_array().unwrap();
    let total: i64 = bands.iter().map(|b| b["contacts"].as_i64().unwrap()).sum();
    assert_eq!(total, count(&app, "SELECT COUNT(*) FROM contacts").await);
    let band = bands.iter().find(|b| b["from"] == 25).unwrap();
    assert_eq!((band["to"].as_i64(), band["contacts"].as_i64()), (Some(49), Some(1)), "{d}");
    assert_eq!(
        bands[0]["contacts"].as_i64().unwrap(),
        count(&app, "SELECT COUNT(*) FROM contacts WHERE score < 1").await
    );
    // On the card and the timeline.
    let card = app.browser(ADMIN_EMAIL).await.get(&format!("/contacts/{contact}")).await;
    assert!(card.body.contains("Website visits · 2 visits · 4 pages seen"), "{}", card.body);
    assert!(
        card.body.contains("/pricing?plan=pro → /pricing?plan=pro → /about"),
        "{}",
        card.body
    );
    assert!(card.body.contains("earlier visits joined"), "{}", card.body);

    // Known now: a return visit 31 days later scores as it happens.
    let later = t0 + 31 * 86_400;
    clock.pin(Some(later));
    assert_eq!(hit(&app, view(key, vid, "/services"), &[]).await.0, StatusCode::NO_CONTENT);
    app.carnet.tracker.settled(&app.carnet.db).await;
    drain(&app).await;
    assert_eq!(count(&app, "SELECT COUNT(*) FROM page_views WHERE kind = 2").await, 1);
    // The prices' points expired after 7 days; the return visit's stay.
    carnet_app::marketing::scoring::expire(&app.carnet.db).await.unwrap();
    assert_eq!(score_of(&app, contact).await, 5);
    let (_, v) = app.get(&format!("/api/v1/contacts/{contact}/visits?limit=1")).await;
    assert_eq!(v["latest"][0]["return_visit"], true, "{v}");
    assert_eq!(v["visits"], 3);

    // The figures are the raw page views recounted.
    let (st, m) = app.get("/api/v1/metrics/page_views/values?period=last_12_months").await;
    assert_eq!(st, StatusCode::OK, "{m}");
    let views = count(&app, "SELECT COUNT(*) FROM page_views").await;
    assert_eq!(m["total"]["value"].as_f64(), Some(views as f64), "{m}");
    let (_, m) = app
        .get("/api/v1/metrics/website_visits/values?period=last_12_months&breakdown=day")
        .await;
    let by_day: f64 = m["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["value"].as_f64().unwrap_or(0.0))
        .sum();
    assert_eq!(
        by_day,
        count(&app, "SELECT COUNT(*) FROM page_views WHERE kind > 0").await as f64,
        "{m}"
    );
    let (_, m) = app.get("/api/v1/metrics/website_visitors/values?period=last_12_months").await;
    assert_eq!(m["total"]["value"].as_f64(), Some(1.0), "{m}");
    clock.pin(None);
}

#[tokio::test]
async fn a_tracked_email_link_names_the_visitor_on_the_companys_site_only() {
    let app = spawn_app().await;
    let s = site(&app, json!({})).await;
    let key = s["site_key"].as_str().unwrap().to_string();
    let sink = Sink::start().await;
    let carnet = through(&app, &sink);
    unthrottled(&app).await;
    let zoe = contact(&app, "zoe@client.example").await;
    let (st, e) = app
        .post(
            "/api/v1/emails",
            json!({"contact_id": zoe, "subject": "Our offer", "body": format!("See {SITE}/offer#plans and https://elsewhere.example/x")}),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{e}");
    drain_mail(&carnet).await;
    let got = sink.wait_for(1, 10).await;
    let raw = String::from_utf8_lossy(&got[0].data).replace("=\r\n", "").replace("=3D", "=");
    let clicks: Vec<String> = raw
        .match_indices(&format!("http://{}/t/c/", app.addr))
        .map(|(i, _)| raw[i..i + raw[i..].find(['"', '\r', '\n', ' ', '<', ')', '>']).unwrap()].to_string())
        .collect();
    assert!(clicks.len() >= 2, "{raw}");
    let follow = |url: String| {
        let http = app.http.clone();
        async move {
            let res = http
                .get(&url)
                .header("user-agent", "Mozilla/5.0 (X11; Linux x86_64) Firefox/130.0")
                .send()
                .await
                .unwrap();
            assert_eq!(res.status(), StatusCode::FOUND, "{url}");
            res.headers()["location"].to_str().unwrap().to_string()
        }
    };
    let to_site = follow(clicks[0].clone()).await;
    assert!(to_site.starts_with(&format!("{SITE}/offer?carnet_c={zoe}.")), "{to_site}");
    assert!(to_site.ends_with("#plans"), "the fragment stays last: {to_site}");
    let elsewhere = follow(clicks[1].clone()).await;
    assert_eq!(elsewhere, "https://elsewhere.example/x", "no token for other sites");
    // The tracker on the landing page sends the token once.
    let token = to_site.split("carnet_c=").nth(1).unwrap().split('#').next().unwrap();
    let mut h = view(&key, "reader-0123456789abcdef", "/offer");
    h["known"] = json!(token);
    assert_eq!(hit(&app, h, &[]).await.0, StatusCode::NO_CONTENT);
    app.carnet.tracker.settled(&app.carnet.db).await;
    let (_, v) = app.get(&format!("/api/v1/contacts/{zoe}/visits")).await;
    assert_eq!(v["views"], 1, "{v}");
    // A forged token names nobody.
    let mut h = view(&key, "forger-0123456789abcdef", "/offer");
    h["known"] = json!(format!("{zoe}.forged"));
    assert_eq!(hit(&app, h, &[]).await.0, StatusCode::NO_CONTENT);
    assert_eq!(
        count(&app, "SELECT COUNT(*) FROM track_visitors WHERE contact_id IS NOT NULL").await,
        1
    );
}

#[tokio::test]
async fn bad_hits_are_refused_or_dropped_and_keep_nothing() {
    let app = spawn_app().await;
    let s = site(&app, json!({})).await;
    let key = s["site_key"].as_str().unwrap().to_string();
    let vid = "good-visitor-0123456789";
    let field = |v: &Value, f: &str| v["error"]["fields"][f].as_str().unwrap_or("").to_string();
    // An unknown site key, a page of another site, a forged origin.
    let (st, e) = hit(&app, view("nope", vid, "/"), &[]).await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(field(&e, "site").contains("not a known site"), "{e}");
    let mut other = view(&key, vid, "/");
    other["url"] = json!("https://evil.example/");
    let (st, e) = hit(&app, other, &[]).await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(field(&e, "url").contains("not a page of this site"), "{e}");
    let res = app
        .http
        .post(app.url("/t/hit"))
        .header("origin", "https://evil.example")
        .body(view(&key, vid, "/").to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    // Absurd payloads: a time in 1970, a bad id, a 3,000-character address, not JSON, 10 MB.
    let mut old = view(&key, vid, "/");
    old["t"] = json!(0);
    let (st, e) = hit(&app, old, &[]).await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(field(&e, "t").contains("last ten minutes"), "{e}");
    let (st, e) = hit(&app, view(&key, "x", "/"), &[]).await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(!field(&e, "vid").is_empty(), "{e}");
    let (st, e) = hit(&app, view(&key, vid, &format!("/{}", "a".repeat(3000))), &[]).await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(field(&e, "url").contains("2048"), "{e}");
    let res = app.http.post(app.url("/t/hit")).body("{not json").send().await.unwrap();
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let res = app
        .http
        .post(app.url("/t/hit"))
        .body(format!(
            "{{\"site\":\"{key}\",\"vid\":\"{vid}\",\"url\":\"{SITE}/{}\"}}",
            "a".repeat(10 << 20)
        ))
        .send()
        .await;
    assert!(
        res.map(|r| r.status() == StatusCode::PAYLOAD_TOO_LARGE).unwrap_or(true),
        "refused (or the connection closed on it)"
    );
    // Do Not Track and Global Privacy Control: answered, nothing kept.
    assert_eq!(hit(&app, view(&key, vid, "/dnt"), &[("dnt", "1")]).await.0, StatusCode::NO_CONTENT);
    assert_eq!(
        hit(&app, view(&key, vid, "/gpc"), &[("sec-gpc", "1")]).await.0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(count(&app, "SELECT COUNT(*) FROM page_views").await, 0);
    assert_eq!(count(&app, "SELECT COUNT(*) FROM track_visitors").await, 0);
    assert_eq!(count(&app, "SELECT COUNT(*) FROM track_urls").await, 0);
    // A site that asks for consent keeps only the hits that carry it.
    let (st, _) = app
        .api(
            Method::PUT,
            &format!("/api/v1/tracking/sites/{}", s["id"]),
            Some(json!({"name": "Client site", "origins": SITE, "consent_required": true})),
        )
        .await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(hit(&app, view(&key, vid, "/no"), &[]).await.0, StatusCode::NO_CONTENT);
    let mut yes = view(&key, vid, "/yes");
    yes["consent"] = json!(true);
    assert_eq!(hit(&app, yes, &[]).await.0, StatusCode::NO_CONTENT);
    assert_eq!(count(&app, "SELECT COUNT(*) FROM page_views").await, 1);
    // Bad settings: named fields.
    let (st, e) = app
        .post(
            "/api/v1/tracking/sites",
            json!({"name": "", "origins": "ftp://x", "retention_days": 5}),
        )
        .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
    for f in ["name", "origins", "retention_days"] {
        assert!(!field(&e, f).is_empty(), "{f}: {e}");
    }
    // A flood from one address is slowed down; the others are served.
    let mut refused = 0;
    for i in 0..200 {
        let mut h = view(&key, vid, &format!("/flood/{i}"));
        h["consent"] = json!(true);
        if hit(&app, h, &[]).await.0 == StatusCode::TOO_MANY_REQUESTS {
            refused += 1;
        }
    }
    assert!(refused >= 50, "{refused} refused");
    assert_eq!(
        count(&app, "SELECT COUNT(*) FROM page_views").await,
        1 + 200 - refused as i64,
        "every hit answered 204 is kept"
    );
}

#[tokio::test]
async fn retention_deletes_old_views_and_forgets_anonymous_visitors() {
    let app = spawn_app().await;
    let s = site(&app, json!({"retention_days": 30})).await;
    let key = s["site_key"].as_str().unwrap().to_string();
    let t0 = app.carnet.db.now();
    let clock = app.carnet.db.clock();
    clock.pin(Some(t0 - 40 * 86_400));
    hit(&app, view(&key, "old-visitor-0123456789", "/old"), &[]).await;
    clock.pin(None);
    hit(&app, view(&key, "new-visitor-0123456789", "/new"), &[]).await;
    assert_eq!(count(&app, "SELECT COUNT(*) FROM page_views").await, 2);
    let mut tx = app.carnet.db.begin().await.unwrap();
    carnet_app::marketing::tracking::daily(&mut tx, chrono::Utc::now().date_naive())
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(count(&app, "SELECT COUNT(*) FROM page_views").await, 1);
    assert_eq!(count(&app, "SELECT COUNT(*) FROM track_visitors").await, 1);
    // Deleting the site deletes what it recorded.
    let (st, _) = app.api(Method::DELETE, &format!("/api/v1/tracking/sites/{}", s["id"]), None).await;
    assert_eq!(st, StatusCode::NO_CONTENT);
    assert_eq!(count(&app, "SELECT COUNT(*) FROM page_views").await, 0);
}
