//! Email (M6): the outbox sends over real SMTP to a listener started by the
//! test, at most once; headers and MIME parts are read back by an independent
//! parser (mailparse, the invitation by icalendar); opens and clicks are
//! classified; unsubscribes, bounces and suppression hold at send time.

use crate::helpers::*;
use carnet::smtp_sink::Sink;
use carnet_app::db::q;
use carnet_app::mail::smtp::Relay;
use carnet_app::platform::jobs;
use carnet_app::Carnet;
use mailparse::{MailHeaderMap, ParsedMail};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

/// The test's Carnet sending through `sink`.
pub(crate) fn through(app: &TestApp, sink: &Sink) -> Carnet {
    app.carnet.clone().with_relay(Some(Relay::parse(&sink.url()).unwrap()))
}

/// Runs due jobs until none is left.
pub(crate) async fn drain(c: &Carnet) {
    for _ in 0..200 {
        if jobs::run_batch(c, "mail-test", 60, 32).await.unwrap() == 0 {
            return;
        }
    }
    panic!("the queue does not empty");
}

pub(crate) async fn contact(app: &TestApp, email: &str) -> i64 {
    let (s, c) = app
        .post(
            "/api/v1/contacts",
            json!({"first_name": "Zoé", "last_name": "Martin", "email": email}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{c}");
    c["id"].as_i64().unwrap()
}

async fn email(app: &TestApp, id: i64) -> Value {
    // Opens and clicks are answered once queued, written by group commit.
    app.carnet.mailer.recorder(&app.carnet.db).settled().await;
    let (s, e) = app.get(&format!("/api/v1/emails/{id}")).await;
    assert_eq!(s, StatusCode::OK, "{e}");
    e
}

/// No speed setting in the way of a test (the default is 600 a minute).
pub(crate) async fn unthrottled(app: &TestApp) {
    let (s, e) = app
        .api(
            Method::PUT,
            "/api/v1/mail/settings",
            Some(json!({"sender_name": "Acme Sales", "sender_address": "sales@acme.example", "tracking": true, "per_minute": 0})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{e}");
}

fn parts<'a>(m: &'a ParsedMail<'a>, out: &mut Vec<&'a ParsedMail<'a>>) {
    if m.subparts.is_empty() {
        out.push(m);
    }
    for p in &m.subparts {
        parts(p, out);
    }
}

fn part<'a>(m: &'a ParsedMail<'a>, mime: &str) -> Option<&'a ParsedMail<'a>> {
    let mut all = Vec::new();
    parts(m, &mut all);
    all.into_iter().find(|p| p.ctype.mimetype == mime)
}

#[tokio::test]
async fn a_reps_email_goes_out_with_its_headers_and_parts_and_lands_on_the_timeline() {
    let app = spawn_app().await;
    let sink = Sink::start().await;
    let carnet = through(&app, &sink);
    unthrottled(&app).await;
    let cid = contact(&app, "zoe@client.example").await;
    let (s, e) = app
        .post(
            "/api/v1/emails",
            json!({"contact_id": cid, "subject": "Our prices", "body": "Hello Zoé,\n\nHere are our prices: https://acme.example/prices?a=1&b=2\n\nAda"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{e}");
    assert_eq!(e["status"], "queued");
    let id = e["id"].as_i64().unwrap();
    drain(&carnet).await;
    let got = sink.wait_for(1, 10).await;
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].to, vec!["zoe@client.example".to_string()]);
    assert_eq!(got[0].from, "sales@acme.example");
    let m = mailparse::parse_mail(&got[0].data).unwrap();
    let e = email(&app, id).await;
    assert_eq!(e["status"], "sent", "{e}");
    assert_eq!(m.headers.get_first_value("Message-ID").unwrap(), e["message_id"].as_str().unwrap());
    assert!(m.headers.get_first_value("Reply-To").unwrap().contains(ADMIN_EMAIL));
    let from = m.headers.get_first_value("From").unwrap();
    assert!(from.contains("Ada Admin") && from.contains("sales@acme.example"), "{from}");
    assert_eq!(m.headers.get_first_value("Subject").unwrap(), "Our prices");
    assert!(
        m.headers.get_first_value("List-Unsubscribe").is_none(),
        "a rep's own email is not marketing"
    );
    assert_eq!(m.ctype.mimetype, "multipart/alternative");
    let text = part(&m, "text/plain").unwrap().get_body().unwrap();
    let html = part(&m, "text/html").unwrap().get_body().unwrap();
    assert!(text.contains("Hello Zoé,") && text.contains("/t/c/"), "{text}");
    assert!(html.contains("<p>Hello Zoé,</p>") && html.contains("/t/o/"), "{html}");
    assert!(
        !html.contains("href=\"https://acme.example/prices"),
        "links go through the redirect"
    );
    assert_eq!(e["links"][0], "https://acme.example/prices?a=1&b=2");
    // On the contact's timeline, with what became of it.
    let b = app.browser(ADMIN_EMAIL).await;
    let card = b.get(&format!("/contacts/{cid}")).await;
    assert!(card.body.contains("sent an email “Our prices”"), "{}", card.body);
    assert!(card.body.contains("not opened yet"));
    // Bad input: named fields, nothing queued.
    let before = app.count("emails").await;
    for (body, field) in [
        (json!({"contact_id": cid, "subject": "", "body": "x"}), "subject"),
        (json!({"contact_id": cid, "subject": "x", "body": ""}), "body"),
        (json!({"contact_id": cid, "to": "nope", "subject": "x", "body": "y"}), "to"),
        (json!({"contact_id": 999999, "subject": "x", "body": "y"}), "contact_id"),
        (json!({"contact_id": cid, "template_id": 999999, "body": "y"}), "template_id"),
        (json!({"contact_id": cid, "subject": "x", "body": "y".repeat(300_000)}), "body"),
    ] {
        let (s, e) = app.post("/api/v1/emails", body).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
        assert!(e["error"]["fields"][field].is_string(), "{field}: {e}");
    }
    assert_eq!(app.count("emails").await, before);
}

#[tokio::test]
async fn opens_and_clicks_are_told_apart_from_proxies_and_scanners() {
    let app = spawn_app().await;
    let sink = Sink::start().await;
    let carnet = through(&app, &sink);
    unthrottled(&app).await;
    let cid = contact(&app, "zoe@client.example").await;
    let (_, e) = app
        .post(
            "/api/v1/emails",
            json!({"contact_id": cid, "subject": "Links", "body": "https://a.example/1 https://a.example/2 https://a.example/3"}),
        )
        .await;
    let id = e["id"].as_i64().unwrap();
    drain(&carnet).await;
    let html = mailparse::parse_mail(&sink.wait_for(1, 10).await[0].data)
        .unwrap()
        .subparts
        .iter()
        .find(|p| p.ctype.mimetype == "text/html")
        .unwrap()
        .get_body()
        .unwrap();
    let href = |needle: &str| -> String {
        let start = html.find(needle).unwrap();
        let end = html[start..].find('"').unwrap();
        html[start..start + end].to_string()
    };
    let pixel = href("http://").replace("&amp;", "&");
    let pixel = if pixel.contains("/t/o/") {
        pixel
    } else {
        href(&format!("http://{}/t/o/", app.addr))
    };
    let clicks: Vec<String> = html
        .match_indices(&format!("http://{}/t/c/", app.addr))
        .map(|(i, _)| html[i..i + html[i..].find('"').unwrap()].to_string())
        .collect();
    assert_eq!(clicks.len(), 3);
    let safari = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Safari/605.1.15";
    let get = |url: String, ua: &'static str| {
        let http = app.http.clone();
        async move { http.get(url).header("user-agent", ua).send().await.unwrap() }
    };
    // Apple Mail Privacy Protection fetches the pixel right away with a bare agent.
    assert_eq!(get(pixel.clone(), "Mozilla/5.0").await.status(), StatusCode::OK);
    // A person opens it an hour later; twice.
    let sent_at = email(&app, id).await["sent_at"].as_i64().unwrap();
    app.carnet.db.clock().pin(Some(sent_at + 3600));
    let res = get(pixel.clone(), safari).await;
    assert_eq!(res.headers()["content-type"], "image/gif");
    get(pixel.clone(), safari).await;
    // A HEAD request never counts.
    app.http.head(&pixel).header("user-agent", safari).send().await.unwrap();
    // A person clicks the second link: redirected to the address that was in the email.
    let res = get(clicks[1].clone(), safari).await;
    assert_eq!(res.status(), StatusCode::FOUND);
    assert_eq!(res.headers()["location"], "https://a.example/2");
    let e = email(&app, id).await;
    assert_eq!((e["opens"].as_i64(), e["clicks"].as_i64()), (Some(2), Some(1)), "{e}");
    let machine: Vec<&Value> = e["hits"].as_array().unwrap().iter().filter(|h| h["human"] == false).collect();
    assert_eq!(machine.len(), 2, "the proxy fetch and the HEAD request: {e}");
    assert!(machine
        .iter()
        .any(|h| h["why"].as_str().unwrap().contains("Apple Mail Privacy Protection")));
    // A scanner follows every link within a second: all its clicks are machine clicks.
    app.carnet.db.clock().pin(Some(sent_at + 7200));
    for c in &clicks {
        get(c.clone(), safari).await;
    }
    let e = email(&app, id).await;
    assert_eq!(e["clicks"].as_i64(), Some(1), "the burst does not count: {e}");
    // Forged tokens and links that were not in the message go nowhere.
    let forged = clicks[0].replace(&format!("/t/c/{id}.0."), &format!("/t/c/{id}.7."));
    assert_eq!(get(forged, safari).await.status(), StatusCode::NOT_FOUND);
    let other = clicks[0].replace(&format!("/t/c/{id}."), &format!("/t/c/{}.", id + 1));
    assert_eq!(get(other, safari).await.status(), StatusCode::NOT_FOUND);
    assert_eq!(get(app.url("/t/o/1.AAAA.gif"), safari).await.status(), StatusCode::NOT_FOUND);
    // The timeline tells the rep.
    app.carnet.mailer.recorder(&app.carnet.db).settled().await;
    let b = app.browser(ADMIN_EMAIL).await;
    let card = b.get(&format!("/contacts/{cid}")).await;
    assert!(
        card.body.contains("opened 2 times") && card.body.contains("clicked a.example/2"),
        "{}",
        card.body
    );
    app.carnet.db.clock().pin(None);
}

/// A marketing template, its one-click unsubscribe, and the suppression list
/// checked when a message is sent.
#[tokio::test]
async fn unsubscribes_and_bounces_hold_at_send_time() {
    let app = spawn_app().await;
    let sink = Sink::start().await;
    sink.refuse("gone@", 550, "5.1.1 <gone@client.example>: user unknown");
    let carnet = through(&app, &sink);
    unthrottled(&app).await;
    let (s, t) = app
        .post(
            "/api/v1/email-templates",
            json!({"template_key": "newsletter", "locale": "en", "name": "Newsletter", "category": "marketing",
                   "subject": "News for {{ contact.first_name }}", "html": "<p>Hi {{ contact.first_name }}, read <a href=\"https://acme.example/blog\">the blog</a>.</p>"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{t}");
    let tid = t["id"].as_i64().unwrap();
    let zoe = contact(&app, "Zoe@Client.example").await;
    let (_, first) = app.post("/api/v1/emails", json!({"contact_id": zoe, "template_id": tid})).await;
    drain(&carnet).await;
    let got = sink.wait_for(1, 10).await;
    let m = mailparse::parse_mail(&got[0].data).unwrap();
    assert_eq!(m.headers.get_first_value("Subject").unwrap(), "News for Zoé");
    let lu = m.headers.get_first_value("List-Unsubscribe").unwrap();
    assert_eq!(
        m.headers.get_first_value("List-Unsubscribe-Post").unwrap(),
        "List-Unsubscribe=One-Click"
    );
    assert!(lu.contains("mailto:sales@acme.example"), "{lu}");
    let url = lu.split(['<', '>']).find(|p| p.starts_with("http")).unwrap().to_string();
    let html = part(&m, "text/html").unwrap().get_body().unwrap();
    assert!(html.contains(&url), "the body links to the same page: {html}");
    // The page asks; "keep" changes nothing.
    let page = app
        .http
        .get(&url)
        .header("accept-language", "fr-FR")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("Les e-mails marketing ne seront plus envoyés à") && page.contains("Zoe@client.example"),
        "{page}"
    );
    app.http.post(&url).form(&[("choice", "keep")]).send().await.unwrap();
    assert_eq!(app.count("suppressions").await, 0);
    // A second marketing message waits in the outbox; then the one-click POST (RFC 8058).
    let (_, second) = app.post("/api/v1/emails", json!({"contact_id": zoe, "template_id": tid})).await;
    let res = app.http.post(&url).form(&[("List-Unsubscribe", "One-Click")]).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    drain(&carnet).await;
    let second = email(&app, second["id"].as_i64().unwrap()).await;
    assert_eq!(second["status"], "suppressed", "checked at send time: {second}");
    assert_eq!(sink.received(), 1);
    // A rep's own (transactional) email still goes.
    let (_, own) = app
        .post(
            "/api/v1/emails",
            json!({"contact_id": zoe, "subject": "Your quote", "body": "Attached."}),
        )
        .await;
    drain(&carnet).await;
    assert_eq!(email(&app, own["id"].as_i64().unwrap()).await["status"], "sent");
    // The contact records the unsubscribe (GDPR): date and source, and the timeline says so.
    let (at, source): (Option<i64>, Option<String>) = q("SELECT unsubscribed_at, unsubscribe_source FROM contacts WHERE id = $1")
        .bind(zoe)
        .fetch_one(&mut app.carnet.db.conn().await.unwrap())
        .await
        .unwrap();
    assert!(at.is_some());
    assert_eq!(source.as_deref(), Some("one_click"));
    let (_, list) = app.get("/api/v1/suppressions").await;
    assert_eq!(list["data"][0]["reason"], "unsubscribed");
    // An unknown or forged token is a 404, and changes nothing.
    assert_eq!(
        app.http
            .post(app.url("/u/1.forged"))
            .form(&[("List-Unsubscribe", "One-Click")])
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::NOT_FOUND
    );
    let _ = first;
    // A 550 at RCPT: failed with the relay's answer, and the address suppressed for every message.
    let gone = contact(&app, "gone@client.example").await;
    let (_, g) = app
        .post("/api/v1/emails", json!({"contact_id": gone, "subject": "Hello", "body": "Hi"}))
        .await;
    drain(&carnet).await;
    let g = email(&app, g["id"].as_i64().unwrap()).await;
    assert_eq!(g["status"], "failed");
    assert!(g["last_error"].as_str().unwrap().contains("user unknown"), "{g}");
    let (_, again) = app
        .post("/api/v1/emails", json!({"contact_id": gone, "subject": "Hello", "body": "Hi"}))
        .await;
    drain(&carnet).await;
    assert_eq!(email(&app, again["id"].as_i64().unwrap()).await["status"], "suppressed");
}

#[tokio::test]
async fn temporary_failures_retry_and_broken_conversations_are_never_resent() {
    let app = spawn_app().await;
    let sink = Sink::start().await;
    sink.refuse("busy@", 451, "4.3.0 try again later");
    let carnet = through(&app, &sink);
    unthrottled(&app).await;
    let busy = contact(&app, "busy@client.example").await;
    let (_, e) = app
        .post("/api/v1/emails", json!({"contact_id": busy, "subject": "Hi", "body": "x"}))
        .await;
    let id = e["id"].as_i64().unwrap();
    drain(&carnet).await;
    let e = email(&app, id).await;
    assert_eq!((e["status"].as_str(), e["attempts"].as_i64()), (Some("queued"), Some(1)), "{e}");
    assert!(e["last_error"].as_str().unwrap().contains("451"), "{e}");
    // It is tried again with backoff, then given up on.
    let t0 = app.carnet.db.now();
    for hour in 1..=8 {
        app.carnet.db.clock().pin(Some(t0 + hour * 3600));
        drain(&carnet).await;
    }
    let e = email(&app, id).await;
    assert_eq!((e["status"].as_str(), e["attempts"].as_i64()), (Some("failed"), Some(6)), "{e}");
    app.carnet.db.clock().pin(None);

    // The relay cannot be reached: nothing was sent, it waits and retries.
    let ok = contact(&app, "ok@client.example").await;
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let nowhere = app
        .carnet
        .clone()
        .with_relay(Some(Relay::parse(&format!("smtp://{closed}?tls=none")).unwrap()));
    let (_, e) = app
        .post("/api/v1/emails", json!({"contact_id": ok, "subject": "Hi", "body": "x"}))
        .await;
    let id = e["id"].as_i64().unwrap();
    drain(&nowhere).await;
    let e = email(&app, id).await;
    assert_eq!(e["status"], "queued");
    assert!(e["last_error"].as_str().unwrap().contains("cannot reach"), "{e}");
    // The status page says what went wrong, never the password.
    let (_, st) = app.get("/api/v1/mail/status").await;
    assert!(st["last_error"].as_str().is_some(), "{st}");

    // The relay refuses the login: not sent, retried.
    let locked = Sink::start().await;
    locked.require_login("carnet", "right");
    let wrong = app.carnet.clone().with_relay(Some(
        Relay::parse(&format!("smtp://carnet:wrong@{}?tls=none", locked.addr)).unwrap(),
    ));
    app.carnet.db.clock().pin(Some(app.carnet.db.now() + 3600));
    drain(&wrong).await;
    let e = email(&app, id).await;
    assert_eq!(e["status"], "queued");
    assert!(e["last_error"].as_str().unwrap().contains("refused the login"), "{e}");
    assert_eq!(locked.received(), 0);
    let right = app.carnet.clone().with_relay(Some(
        Relay::parse(&format!("smtp://carnet:right@{}?tls=none", locked.addr)).unwrap(),
    ));
    app.carnet.db.clock().pin(Some(app.carnet.db.now() + 7200));
    drain(&right).await;
    assert_eq!(email(&app, id).await["status"], "sent");
    assert_eq!(locked.received(), 1);
    app.carnet.db.clock().pin(None);

    // The connection breaks once the message is under way: unknown, never resent by itself.
    let flaky = Sink::start().await;
    flaky.drop_after_data(true);
    let c = through(&app, &flaky);
    let (_, e) = app
        .post("/api/v1/emails", json!({"contact_id": ok, "subject": "Flaky", "body": "x"}))
        .await;
    let id = e["id"].as_i64().unwrap();
    drain(&c).await;
    assert_eq!(email(&app, id).await["status"], "unknown");
    app.carnet.db.clock().pin(Some(app.carnet.db.now() + 86_400));
    drain(&c).await;
    app.carnet.db.clock().pin(None);
    assert_eq!(flaky.received(), 1, "not sent again");
    // A person decides: it was delivered.
    let (s, e) = app.post(&format!("/api/v1/emails/{id}/decision"), json!({"delivered": true})).await;
    assert_eq!((s, e["status"].as_str()), (StatusCode::OK, Some("sent")), "{e}");
    let recorded: i64 = q("SELECT COUNT(*) FROM events WHERE kind = 'email_sent' AND record_id = $1 AND actor_id = $2")
        .bind(id)
        .bind(app.admin.id)
        .scalar(&mut app.carnet.db.conn().await.unwrap())
        .await
        .unwrap();
    assert_eq!(recorded, 1, "the decision is recorded as the send it was");
    let (s, _) = app.post(&format!("/api/v1/emails/{id}/decision"), json!({"delivered": true})).await;
    assert_eq!(s, StatusCode::CONFLICT);

    // A node died mid-conversation: the message stayed `sending`; its job runs again and marks it unknown.
    let (_, e) = app
        .post("/api/v1/emails", json!({"contact_id": ok, "subject": "Crash", "body": "x"}))
        .await;
    let id = e["id"].as_i64().unwrap();
    q("UPDATE emails SET status = 'sending' WHERE id = $1")
        .bind(id)
        .execute(&mut app.carnet.db.conn().await.unwrap())
        .await
        .unwrap();
    drain(&carnet).await;
    assert_eq!(email(&app, id).await["status"], "unknown");
    let (_, e) = app
        .post(&format!("/api/v1/emails/{id}/decision"), json!({"delivered": false}))
        .await;
    assert_eq!(e["status"], "queued");
    drain(&carnet).await;
    assert_eq!(email(&app, id).await["status"], "sent");
}

#[tokio::test]
async fn the_pace_holds_per_node() {
    let app = spawn_app().await;
    let sink = Sink::start().await;
    let carnet = through(&app, &sink);
    let (s, _) = app
        .api(
            Method::PUT,
            "/api/v1/mail/settings",
            Some(json!({"sender_name": "Acme", "sender_address": "sales@acme.example", "tracking": false, "per_minute": 600})),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let cid = contact(&app, "zoe@client.example").await;
    for i in 0..6 {
        app.post(
            "/api/v1/emails",
            json!({"contact_id": cid, "subject": format!("n{i}"), "body": "x"}),
        )
        .await;
    }
    let started = std::time::Instant::now();
    drain(&carnet).await;
    assert_eq!(sink.wait_for(6, 10).await.len(), 6);
    // 600 a minute is one every 100 ms: six take at least half a second.
    assert!(
        started.elapsed() >= std::time::Duration::from_millis(490),
        "{:?}",
        started.elapsed()
    );
    let first = sink.messages();
    let html = mailparse::parse_mail(&first[0].data).unwrap();
    assert!(
        !part(&html, "text/html").unwrap().get_body().unwrap().contains("/t/o/"),
        "tracking off: no pixel"
    );
}

#[tokio::test]
async fn templates_are_checked_on_save_and_previewed_with_a_real_record() {
    let app = spawn_app().await;
    let (_, list) = app.get("/api/v1/email-templates").await;
    let keys: Vec<&str> = list["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["template_key"].as_str().unwrap())
        .collect();
    for k in [
        "booking_confirmation",
        "booking_notice",
        "booking_cancelled",
        "booking_rescheduled",
        "action_reminder",
        "test",
    ] {
        assert_eq!(keys.iter().filter(|x| **x == k).count(), 2, "{k} in English and French");
    }
    for (body, field) in [
        (
            json!({"template_key": "a", "locale": "en", "name": "A", "category": "marketing", "subject": "Hi {{ contact.nickname }}", "html": "<p>x</p>"}),
            "subject",
        ),
        (
            json!({"template_key": "a", "locale": "en", "name": "A", "category": "marketing", "subject": "Hi", "html": "<p>{{ owner.shoe_size }}</p>"}),
            "html",
        ),
        (
            json!({"template_key": "a", "locale": "en", "name": "A", "category": "marketing", "subject": "Hi", "html": "{% if %}"}),
            "html",
        ),
        (
            json!({"template_key": "A B", "locale": "en", "name": "A", "category": "marketing", "subject": "Hi", "html": "<p>x</p>"}),
            "template_key",
        ),
        (
            json!({"template_key": "a", "locale": "de", "name": "A", "category": "marketing", "subject": "Hi", "html": "<p>x</p>"}),
            "locale",
        ),
        (
            json!({"template_key": "booking_notice", "locale": "en", "name": "A", "category": "marketing", "subject": "Hi", "html": "<p>x</p>"}),
            "template_key",
        ),
    ] {
        let (s, e) = app.post("/api/v1/email-templates", body).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
        assert!(e["error"]["fields"][field].is_string(), "{field}: {e}");
    }
    let (s, t) = app
        .post(
            "/api/v1/email-templates",
            json!({"template_key": "intro", "locale": "fr", "name": "Intro", "category": "transactional",
                   "subject": "Bonjour {{ contact.first_name }}", "html": "<p>Bonjour {{ contact.first_name }}<script>x()</script></p>"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{t}");
    assert!(!t["html"].as_str().unwrap().contains("script"), "sanitised before it is stored");
    let cid = contact(&app, "zoe@client.example").await;
    let (s, p) = app
        .post(&format!("/api/v1/email-templates/{}/preview", t["id"]), json!({"contact_id": cid}))
        .await;
    assert_eq!(s, StatusCode::OK, "{p}");
    assert_eq!(p["subject"], "Bonjour Zoé");
    assert_eq!(p["text"], "Bonjour Zoé\n");
    let builtin = list["data"].as_array().unwrap().iter().find(|t| t["builtin"] == true).unwrap();
    let (s, _) = app
        .api(Method::DELETE, &format!("/api/v1/email-templates/{}", builtin["id"]), None)
        .await;
    assert_eq!(s, StatusCode::CONFLICT);
}

#[tokio::test]
async fn a_booking_sends_the_invitation_and_its_updates_with_one_uid() {
    let app = spawn_app().await;
    let sink = Sink::start().await;
    let carnet = through(&app, &sink);
    unthrottled(&app).await;
    let (monday, _) = crate::booking::booking_page(&app).await;
    let slot = carnet_domain::agenda::parse_local(&format!("{monday}T09:00"), chrono_tz::Europe::Paris).unwrap();
    let res = app
        .http
        .post(app.url("/book/ada"))
        .form(&[
            ("slot", slot.to_string().as_str()),
            ("name", "Paul Ricard"),
            ("email", "paul@ricard.example"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let body = res.text().await.unwrap();
    let manage = body
        .split("href=\"/book/manage/")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_string();
    drain(&carnet).await;
    let got = sink.wait_for(2, 10).await;
    let to_prospect = got
        .iter()
        .find(|m| m.to == vec!["paul@ricard.example".to_string()])
        .expect("the confirmation");
    let to_rep = got
        .iter()
        .find(|m| m.to == vec![ADMIN_EMAIL.to_string()])
        .expect("the rep's notice");
    let m = mailparse::parse_mail(&to_prospect.data).unwrap();
    assert!(m
        .headers
        .get_first_value("Subject")
        .unwrap()
        .starts_with("Your appointment with Ada Admin"));
    let html = part(&m, "text/html").unwrap().get_body().unwrap();
    assert!(html.contains(&format!("/book/manage/{manage}")), "the manage link: {html}");
    let cal = part(&m, "text/calendar").unwrap();
    assert_eq!(cal.ctype.params.get("method").map(String::as_str), Some("REQUEST"));
    let ics: icalendar::Calendar = cal.get_body().unwrap().parse().unwrap();
    let uid = event_prop(&ics, "UID");
    assert_eq!(event_prop(&ics, "SEQUENCE"), "0");
    assert!(
        attendees(&ics).iter().any(|a| a == "mailto:paul@ricard.example"),
        "{}",
        cal.get_body().unwrap()
    );
    assert!(part(&m, "application/ics").is_some(), "and as invite.ics");
    let notice = mailparse::parse_mail(&to_rep.data).unwrap();
    assert!(notice
        .headers
        .get_first_value("Subject")
        .unwrap()
        .starts_with("New booking: Paul Ricard"));
    // Cancelled from the manage link: the same UID, a higher SEQUENCE, METHOD:CANCEL.
    let res = app
        .http
        .post(app.url(&format!("/book/manage/{manage}/cancel")))
        .send()
        .await
        .unwrap();
    assert!(res.status().is_redirection() || res.status().is_success());
    drain(&carnet).await;
    let got = sink.wait_for(3, 10).await;
    let m = mailparse::parse_mail(&got[2].data).unwrap();
    assert!(m.headers.get_first_value("Subject").unwrap().starts_with("Cancelled:"));
    let cal = part(&m, "text/calendar").unwrap();
    assert_eq!(cal.ctype.params.get("method").map(String::as_str), Some("CANCEL"));
    let ics: icalendar::Calendar = cal.get_body().unwrap().parse().unwrap();
    assert_eq!(event_prop(&ics, "UID"), uid);
    assert!(event_prop(&ics, "SEQUENCE").parse::<i64>().unwrap() > 0);
    assert_eq!(event_prop(&ics, "STATUS"), "CANCELLED");
}

fn attendees(cal: &icalendar::Calendar) -> Vec<String> {
    use icalendar::Component;
    cal.components
        .iter()
        .filter_map(|c| match c {
            icalendar::CalendarComponent::Event(e) => Some(e),
            _ => None,
        })
        .flat_map(|e| e.multi_properties().get("ATTENDEE").cloned().unwrap_or_default())
        .map(|p| p.value().to_string())
        .collect()
}

fn event_prop(cal: &icalendar::Calendar, name: &str) -> String {
    use icalendar::Component;
    let ev = cal
        .components
        .iter()
        .find_map(|c| match c {
            icalendar::CalendarComponent::Event(e) => Some(e),
            _ => None,
        })
        .expect("an event");
    ev.property_value(name).unwrap_or_default().to_string()
}

#[tokio::test]
async fn reminders_go_by_email_at_their_time() {
    let app = spawn_app().await;
    let sink = Sink::start().await;
    let carnet = through(&app, &sink);
    unthrottled(&app).await;
    let tomorrow = app.carnet.db.clock().today_utc() + chrono::Duration::days(1);
    let (s, a) = app
        .post(
            "/api/v1/actions",
            json!({"type": "Phone appointment", "subject": "Call Zoé back", "starts_at": format!("{tomorrow}T10:00"), "duration": 30, "remind": 60}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{a}");
    drain(&carnet).await;
    assert_eq!(
        sink.received(),
        0,
        "not before its time: {:?}",
        sink.messages()
            .iter()
            .map(|m| String::from_utf8_lossy(&m.data).to_string())
            .collect::<Vec<_>>()
    );
    let remind_at: i64 = q("SELECT remind_at FROM actions WHERE id = $1")
        .bind(a["id"].as_i64().unwrap())
        .scalar(&mut app.carnet.db.conn().await.unwrap())
        .await
        .unwrap();
    app.carnet.db.clock().pin(Some(remind_at + 1));
    drain(&carnet).await;
    app.carnet.db.clock().pin(None);
    let got = sink.wait_for(1, 10).await;
    assert_eq!(got.len(), 1);
    let m = mailparse::parse_mail(&got[0].data).unwrap();
    assert_eq!(
        m.headers.get_first_value("Subject").unwrap().split(" (").next().unwrap(),
        "Reminder: Call Zoé back"
    );
    assert_eq!(got[0].to, vec![ADMIN_EMAIL.to_string()]);
}

const DSN: &str = "From: MAILER-DAEMON@relay.example\r\nTo: sales@acme.example\r\nSubject: Undelivered\r\nMIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=delivery-status; boundary=\"B\"\r\n\r\n--B\r\nContent-Type: text/plain\r\n\r\nCould not deliver.\r\n--B\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; relay.example\r\n\r\nFinal-Recipient: rfc822; late@client.example\r\nAction: failed\r\nStatus: 5.1.1\r\nDiagnostic-Code: smtp; 550 5.1.1 user unknown\r\n\r\n--B\r\nContent-Type: text/rfc822-headers\r\n\r\nMessage-ID: MID\r\n\r\n--B--\r\n";

#[tokio::test]
async fn delivery_reports_suppress_the_address_they_name() {
    let app = spawn_app().await;
    let sink = Sink::start().await;
    let carnet = through(&app, &sink);
    unthrottled(&app).await;
    let cid = contact(&app, "late@client.example").await;
    let (_, e) = app
        .post("/api/v1/emails", json!({"contact_id": cid, "subject": "Hi", "body": "x"}))
        .await;
    drain(&carnet).await;
    let e = email(&app, e["id"].as_i64().unwrap()).await;
    assert_eq!(e["status"], "sent");
    let report = DSN.replace("MID", e["message_id"].as_str().unwrap());
    let (s, r) = app.post("/api/v1/mail/bounces", json!({"message": report})).await;
    assert_eq!(s, StatusCode::OK, "{r}");
    assert_eq!(r["suppressed"], json!(["late@client.example"]));
    let e = email(&app, e["id"].as_i64().unwrap()).await;
    assert_eq!(e["status"], "failed");
    assert!(e["hits"].as_array().unwrap().iter().any(|h| h["kind"] == "bounce"));
    let (_, again) = app
        .post("/api/v1/emails", json!({"contact_id": cid, "subject": "Hi", "body": "x"}))
        .await;
    drain(&carnet).await;
    assert_eq!(email(&app, again["id"].as_i64().unwrap()).await["status"], "suppressed");
    let (s, e) = app
        .post("/api/v1/mail/bounces", json!({"message": "Subject: hi\r\n\r\nhello"}))
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(e["error"]["fields"]["message"].as_str().unwrap().contains("delivery status"), "{e}");
}

#[tokio::test]
async fn settings_say_whether_sending_works_and_never_show_the_password() {
    let app = spawn_app().await;
    let sink = Sink::start().await;
    sink.require_login("carnet", "s3cret-pass");
    // The web server's own Carnet sends through the relay for the test email.
    let carnet = app.carnet.clone().with_relay(Some(
        Relay::parse(&format!("smtp://carnet:s3cret-pass@{}?tls=none", sink.addr)).unwrap(),
    ));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(carnet_web::serve(
        carnet_web::AppState::new(carnet.clone(), false),
        listener,
        std::future::pending(),
    ));
    let res = app
        .http
        .get(format!("http://{addr}/api/v1/mail/status"))
        .bearer_auth(&app.key)
        .send()
        .await
        .unwrap();
    let text = res.text().await.unwrap();
    assert!(text.contains(&sink.addr.port().to_string()) && !text.contains("s3cret"), "{text}");
    for (body, field) in [
        (
            json!({"sender_name": "", "sender_address": "a@b.example", "tracking": true, "per_minute": 10}),
            "sender_name",
        ),
        (
            json!({"sender_name": "A", "sender_address": "nope", "tracking": true, "per_minute": 10}),
            "sender_address",
        ),
        (
            json!({"sender_name": "A", "sender_address": "a@b.example", "tracking": true, "per_minute": 1000000}),
            "per_minute",
        ),
    ] {
        let (s, e) = app.api(Method::PUT, "/api/v1/mail/settings", Some(body)).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
        assert!(e["error"]["fields"][field].is_string(), "{field}: {e}");
    }
    // Settings → Email: the test email reaches the user.
    let b = app.browser(ADMIN_EMAIL).await;
    let page = b.get("/settings/email").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("Send me a test email") && !page.body.contains("s3cret"));
    let p = b.post_form("/settings/email", &[("op", "test")]).await;
    assert_eq!(p.status, StatusCode::SEE_OTHER);
    drain(&carnet).await;
    let got = sink.wait_for(1, 10).await;
    assert_eq!(got[0].to, vec![ADMIN_EMAIL.to_string()]);
    // A refused form keeps what was typed.
    let p = b
        .post_form(
            "/settings/email",
            &[
                ("op", "settings"),
                ("sender_name", "Acme Ventes"),
                ("sender_address", "pas-une-adresse"),
                ("per_minute", "60"),
            ],
        )
        .await;
    assert_eq!(p.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(p.body.contains("value=\"pas-une-adresse\"") && p.body.contains("value=\"Acme Ventes\""));
}

/// `carnet serve` with 2,000 queued emails is killed (SIGKILL) five times while
/// sending, then left to finish: every recipient got at most one copy, and
/// every message is `sent` or `unknown` — and every `sent` one arrived.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_while_sending_nothing_goes_twice() {
    use crate::jobs::Node;
    let app = spawn_app().await;
    unthrottled(&app).await;
    let sink = Sink::start().await;
    let n = 2000usize;
    let db = &app.carnet.db;
    let mut tx = db.begin().await.unwrap();
    for i in 0..n {
        let to = carnet_domain::values::EmailAddress::parse(&format!("r{i}@client.example")).unwrap();
        let e = carnet_app::mail::outbox::NewEmail::new(
            carnet_app::mail::outbox::Category::Transactional,
            to,
            format!("Message {i}"),
            format!("<p>Hello {i}, see https://acme.example/{i}</p>"),
        );
        carnet_app::mail::outbox::queue(&mut tx, e).await.unwrap();
    }
    tx.commit().await.unwrap();
    let count = |status: &'static str| async move {
        q("SELECT COUNT(*) FROM emails WHERE status = $1")
            .bind(status)
            .scalar::<i64>(&mut db.conn().await.unwrap())
            .await
            .unwrap()
    };
    let url = sink.url();
    for round in 0..5 {
        let before = sink.received();
        let mut node = Node::start_with(&app, &format!("files-{round}"), &[("CARNET_SMTP_URL", &url)]);
        // Killed once it is well into sending (or after 60 s, whatever it did).
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while sink.received() < before + 150 && std::time::Instant::now() < deadline {
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        node.0.kill().unwrap();
        node.0.wait().unwrap();
        println!("round {round}: killed after {} new messages", sink.received() - before);
    }
    let node = Node::start_with(&app, "files-last", &[("CARNET_SMTP_URL", &url)]);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(240);
    while (count("queued").await > 0 || count("sending").await > 0) && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    drop(node);
    let (sent, unknown, queued, sending) = (
        count("sent").await,
        count("unknown").await,
        count("queued").await,
        count("sending").await,
    );
    println!(
        "after 5 kills: {sent} sent, {unknown} unknown, {queued} queued, {sending} sending; the relay received {}",
        sink.received()
    );
    assert_eq!((queued, sending), (0, 0), "everything was settled");
    assert_eq!(sent + unknown, n as i64, "every message is sent or unknown");
    let mut copies = std::collections::HashMap::<String, usize>::new();
    for m in sink.messages() {
        for t in m.to {
            *copies.entry(t).or_default() += 1;
        }
    }
    let twice: Vec<_> = copies.iter().filter(|(_, c)| **c > 1).collect();
    assert!(twice.is_empty(), "recipients with more than one copy: {twice:?}");
    let sent_to: Vec<String> = q("SELECT to_address FROM emails WHERE status = 'sent'")
        .fetch_all::<(String,)>(&mut db.conn().await.unwrap())
        .await
        .unwrap()
        .into_iter()
        .map(|(a,)| a)
        .collect();
    assert!(sent_to.iter().all(|a| copies.contains_key(a)), "a message marked sent arrived");
}

/// The email metrics equal a plain recount over the outbox: sent, open, click,
/// unsubscribe and bounce rates, by rep.
#[tokio::test]
async fn email_figures_equal_a_recount_of_the_outbox() {
    let app = spawn_app().await;
    let sink = Sink::start().await;
    sink.refuse("gone", 550, "5.1.1 user unknown");
    let carnet = through(&app, &sink);
    unthrottled(&app).await;
    let (rep, rep_key) = app.user_with_key("rep@test.example", "sales").await;
    let mut ids = Vec::new();
    for i in 0..12 {
        let to = if i % 5 == 4 {
            format!("gone{i}@client.example")
        } else {
            format!("p{i}@client.example")
        };
        let key = if i % 2 == 0 { app.key.clone() } else { rep_key.clone() };
        let (s, e) = app
            .api_with(
                &key,
                Method::POST,
                "/api/v1/emails",
                Some(json!({"to": to, "subject": format!("n{i}"), "body": "https://acme.example/a", "tracking": i != 3})),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{e}");
        ids.push(e["id"].as_i64().unwrap());
    }
    drain(&carnet).await;
    let site = app.carnet.site().unwrap();
    app.carnet.db.clock().pin(Some(app.carnet.db.now() + 3600));
    let human = "Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0";
    for (n, id) in ids.iter().enumerate() {
        if n % 3 == 0 || n == 5 {
            app.http
                .get(carnet_app::mail::tracking::open_url(&site, *id))
                .header("user-agent", human)
                .send()
                .await
                .unwrap();
        }
        if n % 4 == 1 {
            app.http
                .get(carnet_app::mail::tracking::open_url(&site, *id))
                .header("user-agent", "Mozilla/5.0")
                .send()
                .await
                .unwrap();
            app.http
                .get(carnet_app::mail::tracking::click_url(&site, *id, 0))
                .header("user-agent", human)
                .send()
                .await
                .unwrap();
        }
        if n == 2 || n == 7 {
            app.http
                .post(carnet_app::mail::compose::unsubscribe_url(&site, *id))
                .form(&[("List-Unsubscribe", "One-Click")])
                .send()
                .await
                .unwrap();
        }
    }
    app.carnet.mailer.recorder(&app.carnet.db).settled().await;
    app.carnet.db.clock().pin(None);
    // The recount: plain SQL over the outbox and its events.
    let db = &app.carnet.db;
    let count = |sql: String| async move { q(sql).scalar::<i64>(&mut db.conn().await.unwrap()).await.unwrap() as f64 };
    for owner in [app.admin.id, rep.id] {
        let w = format!("user_id = {owner}");
        let attempted = count(format!(
            "SELECT COUNT(*) FROM emails WHERE {w} AND status IN ('sent', 'failed', 'unknown')"
        ))
        .await;
        let sent = count(format!("SELECT COUNT(*) FROM emails WHERE {w} AND status = 'sent'")).await;
        let tracked = count(format!(
            "SELECT COUNT(*) FROM emails WHERE {w} AND status = 'sent' AND tracking = TRUE"
        ))
        .await;
        let opened = count(format!(
            "SELECT COUNT(DISTINCT e.id) FROM emails e JOIN email_events v ON v.email_id = e.id AND v.kind = 'open' AND v.human = TRUE WHERE e.{w} AND e.status = 'sent' AND e.tracking = TRUE"
        ))
        .await;
        let clicked = count(format!(
            "SELECT COUNT(DISTINCT e.id) FROM emails e JOIN email_events v ON v.email_id = e.id AND v.kind = 'click' AND v.human = TRUE WHERE e.{w} AND e.status = 'sent' AND e.tracking = TRUE"
        ))
        .await;
        let unsubscribed = count(format!(
            "SELECT COUNT(DISTINCT e.id) FROM emails e JOIN email_events v ON v.email_id = e.id AND v.kind = 'unsubscribe' WHERE e.{w} AND e.status = 'sent'"
        ))
        .await;
        let bounced = count(format!(
            "SELECT COUNT(DISTINCT e.id) FROM emails e JOIN email_events v ON v.email_id = e.id AND v.kind = 'bounce' WHERE e.{w}"
        ))
        .await;
        assert!(sent > 0.0 && bounced > 0.0 && opened > 0.0, "the data exercises every part");
        for (metric, want) in [
            ("emails_sent", sent),
            ("email_open_rate", opened / tracked * 100.0),
            ("email_click_rate", clicked / tracked * 100.0),
            ("email_unsubscribe_rate", unsubscribed / sent * 100.0),
            ("email_bounce_rate", bounced / attempted * 100.0),
        ] {
            let (s, v) = app
                .get(&format!("/api/v1/metrics/{metric}/values?period=today&breakdown=owner"))
                .await;
            assert_eq!(s, StatusCode::OK, "{v}");
            let row = v["rows"]
                .as_array()
                .or_else(|| v["data"].as_array())
                .unwrap()
                .iter()
                .find(|r| r["key"].as_str() == Some(owner.to_string().as_str()))
                .unwrap_or_else(|| panic!("{metric}: no row for {owner}: {v}"))
                .clone();
            let got = row["value"].as_f64().unwrap();
            assert!((got - want).abs() < 1e-6, "{metric} for {owner}: {got} ≠ recount {want}");
        }
    }
    // By template: a rep's own messages have none; a template's are under its key.
    let (_, t) = app.get("/api/v1/email-templates").await;
    let test_tpl = t["data"].as_array().unwrap().iter().find(|t| t["template_key"] == "test").unwrap()["id"].clone();
    app.post("/api/v1/emails", json!({"to": "p99@client.example", "template_id": test_tpl}))
        .await;
    drain(&carnet).await;
    let (s, v) = app.get("/api/v1/metrics/emails_sent/values?period=today&breakdown=template").await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let rows = v["rows"].as_array().or_else(|| v["data"].as_array()).unwrap().clone();
    for (key, sql) in [
        ("", "SELECT COUNT(*) FROM emails WHERE status = 'sent' AND template_key IS NULL"),
        (
            "test",
            "SELECT COUNT(*) FROM emails WHERE status = 'sent' AND template_key = 'test'",
        ),
    ] {
        let want = count(sql.to_string()).await;
        let got = rows
            .iter()
            .find(|r| r["key"] == key)
            .map(|r| r["value"].as_f64().unwrap())
            .unwrap_or(0.0);
        assert_eq!(got, want, "template {key:?}: {v}");
    }
}

/// A rep's appointment marked `invite`: the contact gets the invitation, its
/// change and its cancellation, one UID, the SEQUENCE raised each time.
#[tokio::test]
async fn a_reps_appointment_invites_the_contact_and_follows_its_changes() {
    let app = spawn_app().await;
    let sink = Sink::start().await;
    let carnet = through(&app, &sink);
    unthrottled(&app).await;
    let cid = contact(&app, "zoe@client.example").await;
    let day = app.carnet.db.clock().today_utc() + chrono::Duration::days(3);
    let (s, a) = app
        .post(
            "/api/v1/actions",
            json!({"type": "Demo", "subject": "Demo of the printers", "contact": cid, "starts_at": format!("{day}T10:00"), "duration": 45, "invite": true}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{a}");
    assert_eq!(a["invite"], true);
    let id = a["id"].as_i64().unwrap();
    drain(&carnet).await;
    app.patch(&format!("/api/v1/actions/{id}"), json!({"starts_at": format!("{day}T14:00")}))
        .await;
    drain(&carnet).await;
    let (s, e) = app
        .post(&format!("/api/v1/actions/{id}/finish"), json!({"outcome": "cancelled"}))
        .await;
    assert_eq!(s, StatusCode::OK, "{e}");
    drain(&carnet).await;
    let got = sink.wait_for(3, 10).await;
    assert_eq!(got.len(), 3);
    let mut uids = Vec::new();
    for (m, (subject, method, seq)) in got.iter().zip([
        ("Invitation: Demo of the printers", "REQUEST", 0),
        ("Updated:", "REQUEST", 1),
        ("Cancelled:", "CANCEL", 2),
    ]) {
        assert_eq!(m.to, vec!["zoe@client.example".to_string()]);
        let p = mailparse::parse_mail(&m.data).unwrap();
        assert!(p.headers.get_first_value("Subject").unwrap().starts_with(subject), "{subject}");
        let cal = part(&p, "text/calendar").unwrap();
        assert_eq!(cal.ctype.params.get("method").map(String::as_str), Some(method));
        let ics: icalendar::Calendar = cal.get_body().unwrap().parse().unwrap();
        assert_eq!(event_prop(&ics, "SEQUENCE"), seq.to_string());
        uids.push(event_prop(&ics, "UID"));
    }
    assert!(uids.iter().all(|u| *u == uids[0]), "one UID: {uids:?}");
    // Refused, naming the field, with nothing written: a contact without an
    // email, no contact at all, a task.
    let (_, nobody) = app.post("/api/v1/contacts", json!({"last_name": "Sans Adresse"})).await;
    let before = app.count("actions").await;
    for body in [
        json!({"type": "Demo", "subject": "x", "contact": nobody["id"], "starts_at": format!("{day}T10:00"), "invite": true}),
        json!({"type": "Demo", "subject": "x", "starts_at": format!("{day}T10:00"), "invite": true}),
        json!({"type": "Task", "subject": "x", "contact": cid, "invite": true}),
    ] {
        let (s, e) = app.post("/api/v1/actions", body).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
        assert!(e["error"]["fields"]["invite"].is_string(), "{e}");
    }
    assert_eq!(app.count("actions").await, before);
}

/// The link of a password email (its text part names it).
fn password_link(m: &carnet::smtp_sink::Received) -> String {
    let p = mailparse::parse_mail(&m.data).unwrap();
    let text = part(&p, "text/plain").unwrap().get_body().unwrap();
    let start = text.find("http://").expect("a link");
    text[start..].split([')', ' ', '\n']).next().unwrap().to_string()
}

#[tokio::test]
async fn password_resets_and_invitations_go_by_email_and_work_once() {
    let app = spawn_app().await;
    let sink = Sink::start().await;
    let carnet = through(&app, &sink);
    unthrottled(&app).await;
    // An administrator invites a new user, who chooses a password from the email.
    let b = app.browser(ADMIN_EMAIL).await;
    let p = b
        .post_form(
            "/settings/users",
            &[
                ("op", "invite"),
                ("name", "Nina Newcomer"),
                ("email", "nina@test.example"),
                ("role", "sales"),
                ("locale", "fr"),
                ("time_zone", "Europe/Paris"),
            ],
        )
        .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.body);
    drain(&carnet).await;
    let got = sink.wait_for(1, 10).await;
    let invitation = got
        .iter()
        .find(|m| m.to == vec!["nina@test.example".to_string()])
        .expect("the invitation");
    let m = mailparse::parse_mail(&invitation.data).unwrap();
    assert!(
        m.headers.get_first_value("Subject").unwrap().starts_with("Vous êtes invité"),
        "in her language"
    );
    let link = password_link(invitation);
    let res = app
        .http
        .post(&link)
        .form(&[("password", "nina's own password"), ("confirm", "nina's own password")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let signed = app
        .sign_in(&[("email", "nina@test.example"), ("password", "nina's own password"), ("next", "/")])
        .await;
    assert_eq!(signed.status(), StatusCode::SEE_OTHER);

    // Asked for on the sign-in page: the same answer for an unknown address, and no email.
    for email in ["nobody@test.example", ADMIN_EMAIL] {
        let res = app
            .http
            .post(app.url("/password/forgot"))
            .form(&[("email", email)])
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        assert!(res.text().await.unwrap().contains("If an account exists for this address"));
    }
    drain(&carnet).await;
    let got = sink.wait_for(2, 10).await;
    assert_eq!(got.len(), 2, "only the account's owner gets a link");
    assert_eq!(got[1].to, vec![ADMIN_EMAIL.to_string()]);
    let link = password_link(&got[1]);
    assert!(link.starts_with(&format!("http://{}/password/", app.addr)), "{link}");
    assert_eq!(app.http.get(&link).send().await.unwrap().status(), StatusCode::OK);
    // Refused, keeping the link usable: too short, or not the same twice.
    for (p, c) in [("short", "short"), ("a long new password", "another long one")] {
        let res = app.http.post(&link).form(&[("password", p), ("confirm", c)]).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    }
    let res = app
        .http
        .post(&link)
        .form(&[("password", "a long new password"), ("confirm", "a long new password")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let signed = app
        .sign_in(&[("email", ADMIN_EMAIL), ("password", "a long new password"), ("next", "/")])
        .await;
    assert_eq!(signed.status(), StatusCode::SEE_OTHER, "the new password signs in");
    // Once only.
    let res = app
        .http
        .post(&link)
        .form(&[("password", "yet another password"), ("confirm", "yet another password")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::GONE);
    // Expired after an hour.
    app.http
        .post(app.url("/password/forgot"))
        .form(&[("email", ADMIN_EMAIL)])
        .send()
        .await
        .unwrap();
    drain(&carnet).await;
    let late = password_link(&sink.wait_for(3, 10).await[2]);
    app.carnet.db.clock().pin(Some(app.carnet.db.now() + 3601));
    assert_eq!(app.http.get(&late).send().await.unwrap().status(), StatusCode::GONE);
    app.carnet.db.clock().pin(None);
}

/// From an opportunity card: to its contact, on the timelines of the
/// opportunity, the contact and the account.
#[tokio::test]
async fn a_rep_writes_from_an_opportunity_card() {
    let app = spawn_app().await;
    let sink = Sink::start().await;
    let carnet = through(&app, &sink);
    unthrottled(&app).await;
    let (_, acc) = app.post("/api/v1/accounts", json!({"name": "Riverside"})).await;
    let cid = contact(&app, "zoe@client.example").await;
    let (s, o) = app
        .post(
            "/api/v1/opportunities",
            json!({"name": "Printers", "account": acc["id"], "amount": "1200", "contacts": [cid]}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{o}");
    let oid = o["id"].as_i64().unwrap();
    let b = app.browser(ADMIN_EMAIL).await;
    let card = b.get(&format!("/opportunities/{oid}")).await;
    assert!(card.body.contains("id=\"write-email\""), "the form is on the card");
    let p = b
        .post_form(
            &format!("/opportunities/{oid}/email"),
            &[("subject", "Your quote"), ("body", "Attached.")],
        )
        .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.body);
    drain(&carnet).await;
    assert_eq!(sink.wait_for(1, 10).await[0].to, vec!["zoe@client.example".to_string()]);
    for path in [format!("/opportunities/{oid}"), format!("/contacts/{cid}")] {
        assert!(b.get(&path).await.body.contains("sent an email “Your quote”"), "{path}");
    }
}

/// Without a relay, a message waits in the outbox (its job ends without a
/// failure to alarm anyone); once a relay is set (at start), it is queued
/// again and sent.
#[tokio::test]
async fn messages_queued_without_a_relay_go_once_one_is_set() {
    let app = spawn_app().await;
    unthrottled(&app).await;
    let cid = contact(&app, "zoe@client.example").await;
    let (_, e) = app
        .post("/api/v1/emails", json!({"contact_id": cid, "subject": "Hi", "body": "x"}))
        .await;
    let id = e["id"].as_i64().unwrap();
    let t0 = app.carnet.db.now();
    for hour in 0..10 {
        app.carnet.db.clock().pin(Some(t0 + hour * 3600));
        drain(&app.carnet).await;
    }
    app.carnet.db.clock().pin(None);
    assert_eq!(email(&app, id).await["status"], "queued", "it waits");
    let failed: i64 = q("SELECT COUNT(*) FROM jobs WHERE kind = 'mail.send' AND status = 'failed'")
        .scalar(&mut app.carnet.db.conn().await.unwrap())
        .await
        .unwrap();
    assert_eq!(failed, 0, "no failed job in Settings → Background jobs");
    let (_, st) = app.get("/api/v1/mail/status").await;
    assert_eq!(st["counts"]["queued"], 1, "Settings → Email shows it waiting: {st}");
    assert!(st["relay"].is_null());
    let sink = Sink::start().await;
    assert_eq!(carnet_app::mail::outbox::resume(&app.carnet.db).await.unwrap(), 1);
    assert_eq!(carnet_app::mail::outbox::resume(&app.carnet.db).await.unwrap(), 0, "not twice");
    drain(&through(&app, &sink)).await;
    assert_eq!(email(&app, id).await["status"], "sent");
    assert_eq!(sink.received(), 1);
}
