//! The seams the later capabilities stand on: every writer records its events,
//! opportunity writes are versioned, a deleted stage's deals go through the
//! ordinary move, and the settings catalogue cache follows every settings write.

use crate::booking::booking_page;
use crate::helpers::*;
use carnet_app::db::q;
use carnet_app::platform::events::{self, Event, EventKind};
use reqwest::{Method, StatusCode};
use serde_json::json;
use std::collections::HashSet;

/// The events recorded since `after`, oldest first.
async fn events_since(app: &TestApp, after: i64) -> Vec<Event> {
    events::since(&mut app.carnet.db.conn().await.unwrap(), after, 1000).await.unwrap()
}

async fn last_event(app: &TestApp) -> i64 {
    carnet_app::db::q("SELECT COALESCE(MAX(id), 0) FROM events")
        .scalar(&mut app.carnet.db.conn().await.unwrap())
        .await
        .unwrap()
}

/// Runs the writes one by one and checks, after each, the events it recorded:
/// their kinds and entities in order, the record, who did it. Then every kind
/// of event must have been seen: a kind no writer records fails here.
#[tokio::test]
async fn every_writer_records_its_events_in_its_transaction() {
    let app = spawn_app().await;
    let (rep, _) = app.user_with_key("rep@test.example", "sales").await;
    let mut seen: HashSet<EventKind> = HashSet::new();
    let mut last = last_event(&app).await;
    // What a step must have recorded: (kind, entity) in order, on `record` when given.
    let mut expect = |label: &str, got: Vec<Event>, want: &[(EventKind, &str)], record: Option<i64>, actor: Option<i64>| {
        let kinds: Vec<(EventKind, String)> = got.iter().map(|e| (e.kind, e.entity.clone())).collect();
        let want: Vec<(EventKind, String)> = want.iter().map(|(k, e)| (*k, e.to_string())).collect();
        assert_eq!(kinds, want, "{label}");
        for e in &got {
            if let Some(r) = record {
                assert_eq!(e.record_id, r, "{label}: {e:?}");
            }
            assert_eq!(e.actor_id, actor, "{label}: who did it");
            seen.insert(e.kind);
        }
        got
    };
    use EventKind::*;
    let admin = Some(app.admin.id);

    let (_, a) = app.post("/api/v1/accounts", json!({"name": "Evented", "tags": ["Gold"]})).await;
    let account = a["id"].as_i64().unwrap();
    let got = events_since(&app, last).await;
    last = got.last().unwrap().id;
    let got = expect(
        "account created",
        got,
        &[(RecordCreated, "account"), (TagAdded, "account")],
        Some(account),
        admin,
    );
    assert_eq!(got[0].data["name"], "Evented");

    let (s, _) = app
        .patch(
            &format!("/api/v1/accounts/{account}"),
            json!({"name": "Evented SA", "status": "Customer", "owner": rep.id, "tags": ["Silver"]}),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let got = events_since(&app, last).await;
    last = got.last().unwrap().id;
    let got = expect(
        "account changed",
        got,
        &[
            (RecordUpdated, "account"),
            (TagAdded, "account"),
            (TagRemoved, "account"),
            (StatusChanged, "account"),
            (OwnerChanged, "account"),
        ],
        Some(account),
        admin,
    );
    let fields: Vec<&str> = got[0].data["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f.as_str().unwrap())
        .collect();
    for f in ["name", "status", "owner", "tags"] {
        assert!(fields.contains(&f), "{f} in {fields:?}");
    }
    assert_eq!(got[4].data["to"], rep.id);
    // Nothing changed, nothing recorded.
    app.patch(&format!("/api/v1/accounts/{account}"), json!({"name": "Evented SA"}))
        .await;
    assert!(events_since(&app, last).await.is_empty(), "an update that changes nothing");

    let (_, c) = app
        .post(
            "/api/v1/contacts",
            json!({"first_name": "Eve", "last_name": "Dent", "account": account}),
        )
        .await;
    let contact = c["id"].as_i64().unwrap();
    let got = events_since(&app, last).await;
    last = got.last().unwrap().id;
    expect("contact created", got, &[(RecordCreated, "contact")], Some(contact), admin);
    app.patch(&format!("/api/v1/contacts/{contact}"), json!({"job_title": "Buyer"}))
        .await;
    let got = events_since(&app, last).await;
    last = got.last().unwrap().id;
    let got = expect("contact changed", got, &[(RecordUpdated, "contact")], Some(contact), admin);
    assert_eq!(got[0].data["fields"], json!(["job_title"]));

    let (_, o) = app
        .post(
            "/api/v1/opportunities",
            json!({"name": "Evented deal", "account": account, "amount": "500"}),
        )
        .await;
    let deal = o["id"].as_i64().unwrap();
    let got = events_since(&app, last).await;
    last = got.last().unwrap().id;
    expect("opportunity created", got, &[(RecordCreated, "opportunity")], Some(deal), admin);
    app.post(&format!("/api/v1/opportunities/{deal}/move"), json!({"stage": "Proposal"}))
        .await;
    let got = events_since(&app, last).await;
    last = got.last().unwrap().id;
    expect("stage moved", got, &[(StageMoved, "opportunity")], Some(deal), admin);
    app.patch(&format!("/api/v1/opportunities/{deal}"), json!({"owner": rep.id, "amount": "600"}))
        .await;
    let got = events_since(&app, last).await;
    last = got.last().unwrap().id;
    expect(
        "opportunity changed",
        got,
        &[(RecordUpdated, "opportunity"), (OwnerChanged, "opportunity")],
        Some(deal),
        admin,
    );
    app.post(&format!("/api/v1/opportunities/{deal}/move"), json!({"stage": "Won"}))
        .await;
    let got = events_since(&app, last).await;
    last = got.last().unwrap().id;
    expect("won", got, &[(StageMoved, "opportunity"), (Won, "opportunity")], Some(deal), admin);
    let (_, lost) = app
        .post("/api/v1/opportunities", json!({"name": "Lost deal", "account": account}))
        .await;
    let lost = lost["id"].as_i64().unwrap();
    app.post(
        &format!("/api/v1/opportunities/{lost}/move"),
        json!({"stage": "Lost", "lost_reason": "Price"}),
    )
    .await;
    let got = events_since(&app, last).await;
    last = got.last().unwrap().id;
    let got = expect(
        "lost",
        got,
        &[(RecordCreated, "opportunity"), (StageMoved, "opportunity"), (Lost, "opportunity")],
        Some(lost),
        admin,
    );
    assert!(got[2].data["lost_reason"].as_i64().is_some());

    let (_, t) = app
        .post(
            "/api/v1/actions",
            json!({"type": "Task", "subject": "Call back", "account": account}),
        )
        .await;
    let task = t["id"].as_i64().unwrap();
    app.patch(&format!("/api/v1/actions/{task}"), json!({"subject": "Call back soon"}))
        .await;
    app.post(&format!("/api/v1/actions/{task}/finish"), json!({"outcome": "done"}))
        .await;
    let got = events_since(&app, last).await;
    last = got.last().unwrap().id;
    expect(
        "a task planned, changed, done",
        got,
        &[(ActionPlanned, "action"), (RecordUpdated, "action"), (ActionDone, "action")],
        Some(task),
        admin,
    );
    let (_, m) = app
        .post(
            "/api/v1/actions",
            json!({"type": "Demo", "subject": "Demo", "contact": contact, "starts_at": "2027-03-01T10:00", "duration": 30}),
        )
        .await;
    let meeting = m["id"].as_i64().unwrap();
    app.post(&format!("/api/v1/actions/{meeting}/finish"), json!({"outcome": "no_show"}))
        .await;
    app.api(Method::DELETE, &format!("/api/v1/actions/{meeting}"), None).await;
    let got = events_since(&app, last).await;
    last = got.last().unwrap().id;
    expect(
        "a meeting planned, missed, deleted",
        got,
        &[(ActionPlanned, "action"), (NoShow, "action"), (RecordDeleted, "action")],
        Some(meeting),
        admin,
    );

    let (s, e) = app.post("/api/v1/statuses", json!({"name": "Reseller"})).await;
    assert_eq!(s, StatusCode::CREATED, "{e}");
    let got = events_since(&app, last).await;
    let got = expect("a settings write", got, &[(SettingsChanged, "settings")], None, None);
    assert_eq!(got[0].data["section"], "statuses");

    // A prospect books on the public page (no user did it), then cancels.
    let (monday, _) = booking_page(&app).await;
    last = last_event(&app).await;
    let slot = carnet_domain::agenda::parse_local(&format!("{monday}T09:00"), chrono_tz::Europe::Paris).unwrap();
    let res = app
        .http
        .post(app.url("/book/ada"))
        .form(&[
            ("slot", slot.to_string().as_str()),
            ("name", "Bob Booker"),
            ("email", "bob@booker.example"),
        ])
        .send()
        .await
        .unwrap();
    let body = res.text().await.unwrap();
    let manage = body
        .split("href=\"/book/manage/")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_string();
    let got = events_since(&app, last).await;
    last = got.last().unwrap().id;
    let got = expect(
        "a booking",
        got,
        &[(RecordCreated, "contact"), (ActionPlanned, "action"), (BookingMade, "action")],
        None,
        None,
    );
    let booked = got[2].record_id;
    app.http
        .post(app.url(&format!("/book/manage/{manage}/cancel")))
        .send()
        .await
        .unwrap();
    let got = events_since(&app, last).await;
    last = got.last().unwrap().id;
    expect("a cancelled booking", got, &[(BookingCancelled, "action")], Some(booked), None);

    // An email: sent by its job, opened and clicked by a person, unsubscribed, bounced.
    let sink = carnet::smtp_sink::Sink::start().await;
    let mailer = app
        .carnet
        .clone()
        .with_relay(Some(carnet_app::mail::smtp::Relay::parse(&sink.url()).unwrap()));
    let (s, m) = app
        .post(
            "/api/v1/emails",
            json!({"contact_id": contact, "to": "eve@client.example", "subject": "Hello", "body": "See https://acme.example/x"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{m}");
    let mid = m["id"].as_i64().unwrap();
    assert!(events_since(&app, last).await.is_empty(), "queueing is not an event");
    {
        use carnet_app::platform::registry::JobKind;
        carnet_app::mail::outbox::Send::run_alone(&mailer, carnet_app::mail::outbox::SendPayload { email_id: mid })
            .await
            .unwrap();
    }
    let got = events_since(&app, last).await;
    last = got.last().unwrap().id;
    expect("an email sent", got, &[(EmailSent, "email")], Some(mid), admin);
    let site = app.carnet.site().unwrap();
    app.carnet.db.clock().pin(Some(app.carnet.db.now() + 3600));
    let ua = "Mozilla/5.0 (X11; Linux x86_64) Gecko/20100101 Firefox/140.0";
    for url in [
        carnet_app::mail::tracking::open_url(&site, mid),
        carnet_app::mail::tracking::click_url(&site, mid, 0),
    ] {
        let res = app.http.get(url).header("user-agent", ua).send().await.unwrap();
        assert!(res.status().is_success() || res.status().is_redirection());
    }
    // Opens and clicks are answered once queued, written by group commit.
    app.carnet.mailer.recorder(&app.carnet.db).settled().await;
    app.carnet.db.clock().pin(None);
    let got = events_since(&app, last).await;
    last = got.last().unwrap().id;
    expect(
        "opened and clicked",
        got,
        &[(EmailOpened, "email"), (EmailClicked, "email")],
        Some(mid),
        None,
    );
    app.http
        .post(carnet_app::mail::compose::unsubscribe_url(&site, mid))
        .form(&[("List-Unsubscribe", "One-Click")])
        .send()
        .await
        .unwrap();
    let got = events_since(&app, last).await;
    last = got.last().unwrap().id;
    expect("an unsubscribe", got, &[(Unsubscribed, "email")], Some(mid), None);
    let report = format!(
        "Content-Type: multipart/report; report-type=delivery-status; boundary=B\r\n\r\n--B\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; x\r\n\r\nFinal-Recipient: rfc822; eve@client.example\r\nAction: failed\r\nStatus: 5.1.1\r\n\r\n--B\r\nContent-Type: text/rfc822-headers\r\n\r\nMessage-ID: {}\r\n\r\n--B--\r\n",
        m["message_id"].as_str().unwrap()
    );
    let (s, r) = app.post("/api/v1/mail/bounces", json!({"message": report})).await;
    assert_eq!(s, StatusCode::OK, "{r}");
    let got = events_since(&app, last).await;
    expect("a bounce", got, &[(EmailBounced, "email")], Some(mid), None);

    // A visitor's form, then their double opt-in.
    crate::marketing::form(&app, "evented", json!({"consent_text": "Yes, write to me.", "double_opt_in": true})).await;
    last = last_event(&app).await;
    let (st, _) = crate::marketing::fill(
        &app,
        "evented",
        &[
            ("first_name", "Vi"),
            ("last_name", "Sitor"),
            ("email", "visitor@client.example"),
            ("consent", "yes"),
        ],
    )
    .await;
    assert_eq!(st, StatusCode::OK);
    let got = events_since(&app, last).await;
    last = got.last().unwrap().id;
    let visitor = got[0].record_id;
    expect(
        "a form submitted",
        got,
        &[(RecordCreated, "contact"), (FormSubmitted, "contact")],
        Some(visitor),
        None,
    );
    let token: String = q("SELECT token_hash FROM contact_consents WHERE contact_id = $1")
        .bind(visitor)
        .scalar(&mut app.carnet.db.conn().await.unwrap())
        .await
        .unwrap();
    // The table keeps the token's hash only: confirm through the service with a token whose hash is known.
    let fresh = carnet_app::access::random_token();
    q("UPDATE contact_consents SET token_hash = $1 WHERE token_hash = $2")
        .bind(carnet_app::access::token_hash(&fresh))
        .bind(token)
        .execute(&mut app.carnet.db.conn().await.unwrap())
        .await
        .unwrap();
    let res = app.http.post(app.url(&format!("/f/confirm/{fresh}"))).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let got = events_since(&app, last).await;
    expect("a double opt-in", got, &[(OptInConfirmed, "contact")], Some(visitor), None);
    // A lead magnet downloaded.
    let (form_id,): (i64,) = q("SELECT id FROM forms WHERE slug = 'evented'")
        .fetch_one(&mut app.carnet.db.conn().await.unwrap())
        .await
        .unwrap();
    carnet_app::marketing::forms::set_file(
        &app.carnet,
        form_id,
        carnet_app::records::attachments::Upload {
            file_name: "guide.pdf",
            content_type: "application/pdf",
            bytes: b"%PDF",
        },
    )
    .await
    .unwrap();
    last = last_event(&app).await;
    let files: i64 = q("SELECT COUNT(*) FROM emails WHERE contact_id = $1 AND template_key = 'lead_magnet'")
        .bind(visitor)
        .scalar(&mut app.carnet.db.conn().await.unwrap())
        .await
        .unwrap();
    assert_eq!(files, 0, "the form had no file when the address was confirmed");
    let (st, body) = crate::marketing::fill(
        &app,
        "evented",
        &[("first_name", "Vi"), ("last_name", "Sitor"), ("email", "visitor2@client.example")],
    )
    .await;
    assert_eq!(st, StatusCode::OK, "{body}");
    let got = events_since(&app, last).await;
    last = got.last().unwrap().id;
    let second = got[0].record_id;
    expect(
        "a form submitted",
        got,
        &[(RecordCreated, "contact"), (FormSubmitted, "contact")],
        Some(second),
        None,
    );
    let at = body.find("/f/file/").expect("no consent asked: the file at once");
    let token: String = body[at + 8..].chars().take_while(|c| *c != '"').collect();
    let res = app.http.get(app.url(&format!("/f/file/{token}"))).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let got = events_since(&app, last).await;
    last = got.last().unwrap().id;
    expect("a download", got, &[(FileDownloaded, "contact")], Some(second), None);
    // An interest shown without a phone; the rep adds it: a qualified lead.
    let mut tx = app.carnet.db.begin().await.unwrap();
    carnet_app::marketing::leads::interest(&mut tx, second, "call_me").await.unwrap();
    tx.commit().await.unwrap();
    let (st, e) = app
        .patch(&format!("/api/v1/contacts/{second}"), json!({"phone": "+33 1 02 03 04 05"}))
        .await;
    assert_eq!(st, StatusCode::OK, "{e}");
    let mut got = events_since(&app, last).await;
    let qualified = got.split_off(1);
    expect("a contact updated", got, &[(RecordUpdated, "contact")], Some(second), admin);
    expect("a lead qualified", qualified, &[(LeadQualified, "contact")], Some(second), None);
    // A website visitor: anonymous views record nothing; sending a form joins
    // them (their views replayed once per page and visit); then a return visit
    // as it happens.
    let (st, site) = app
        .post(
            "/api/v1/tracking/sites",
            json!({"name": "Site", "origins": "https://www.evented.example"}),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{site}");
    last = last_event(&app).await;
    let key = site["site_key"].as_str().unwrap().to_string();
    let hit = |path: &str| json!({"site": key, "vid": "evented-visitor-000001", "url": format!("https://www.evented.example{path}")});
    for path in ["/a", "/b", "/a"] {
        let res = app.http.post(app.url("/t/hit")).body(hit(path).to_string()).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::NO_CONTENT);
    }
    app.carnet.tracker.settled(&app.carnet.db).await;
    assert_eq!(last_event(&app).await, last, "anonymous views record no event");
    let (st, body) = crate::marketing::fill(
        &app,
        "evented",
        &[
            ("first_name", "Web"),
            ("last_name", "Visitor"),
            ("email", "web@client.example"),
            ("carnet_v", "evented-visitor-000001"),
        ],
    )
    .await;
    assert_eq!(st, StatusCode::OK, "{body}");
    let got = events_since(&app, last).await;
    last = got.last().unwrap().id;
    let web = got[0].record_id;
    expect(
        "a visitor joined",
        got,
        &[
            (RecordCreated, "contact"),
            (FormSubmitted, "contact"),
            (PageVisited, "contact"),
            (PageVisited, "contact"),
            (VisitorIdentified, "contact"),
        ],
        Some(web),
        None,
    );
    let now = app.carnet.db.now();
    app.carnet.db.clock().pin(Some(now + 31 * 86_400));
    let res = app.http.post(app.url("/t/hit")).body(hit("/c").to_string()).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    app.carnet.tracker.settled(&app.carnet.db).await;
    app.carnet.db.clock().pin(None);
    let got = events_since(&app, last).await;
    last = got.last().unwrap().id;
    expect(
        "a return visit",
        got,
        &[(ReturnVisit, "contact"), (PageVisited, "contact")],
        Some(web),
        None,
    );

    for (path, entity, id) in [
        ("opportunities", "opportunity", lost),
        ("contacts", "contact", contact),
        ("accounts", "account", account),
    ] {
        let (s, _) = app.api(Method::DELETE, &format!("/api/v1/{path}/{id}"), None).await;
        assert_eq!(s, StatusCode::NO_CONTENT);
        let got = events_since(&app, last).await;
        last = got.last().unwrap().id;
        expect("a deletion", got, &[(RecordDeleted, entity)], Some(id), admin);
    }
    let missing: Vec<&str> = EventKind::ALL.iter().filter(|k| !seen.contains(k)).map(|k| k.as_str()).collect();
    assert!(missing.is_empty(), "event kinds no writer recorded: {missing:?}");
    // A failed write records nothing: the event rolls back with it.
    let before = last_event(&app).await;
    let (s, _) = app
        .post("/api/v1/opportunities", json!({"name": "Nowhere", "account": 999_999}))
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(last_event(&app).await, before);
}

#[tokio::test]
async fn a_stale_write_of_an_opportunity_answers_409_and_changes_nothing() {
    let app = spawn_app().await;
    let (_, a) = app.post("/api/v1/accounts", json!({"name": "Versioned"})).await;
    let (_, o) = app
        .post("/api/v1/opportunities", json!({"name": "V1", "account": a["id"], "amount": "100"}))
        .await;
    let id = o["id"].as_i64().unwrap();
    let path = format!("/api/v1/opportunities/{id}");
    let send = |method: Method, path: String, if_match: Option<&'static str>, body: serde_json::Value| {
        let app = &app;
        async move {
            let mut req = app.http.request(method, app.url(&path)).bearer_auth(&app.key).json(&body);
            if let Some(m) = if_match {
                req = req.header("If-Match", m);
            }
            let res = req.send().await.unwrap();
            let etag = res.headers().get("etag").map(|e| e.to_str().unwrap().to_string());
            (res.status(), etag, res.json::<serde_json::Value>().await.unwrap_or_default())
        }
    };
    let (s, etag, got) = send(Method::GET, path.clone(), None, json!(null)).await;
    assert_eq!((s, etag.as_deref()), (StatusCode::OK, Some("\"0\"")));
    assert_eq!(got["version"], 0);
    let (s, etag, _) = send(Method::PATCH, path.clone(), Some("\"0\""), json!({"name": "V2"})).await;
    assert_eq!((s, etag.as_deref()), (StatusCode::OK, Some("\"1\"")), "one write, one version");
    // Someone who read version 0 writes: refused, nothing saved.
    let (s, _, e) = send(Method::PATCH, path.clone(), Some("\"0\""), json!({"name": "Lost update"})).await;
    assert_eq!(s, StatusCode::CONFLICT, "{e}");
    assert_eq!(e["error"]["code"], "conflict");
    assert_eq!(app.get(&path).await.1["name"], "V2");
    // The version as a field, a weak ETag, and a move.
    let (s, _, _) = send(Method::PATCH, path.clone(), None, json!({"name": "V3", "version": 1})).await;
    assert_eq!(s, StatusCode::OK);
    let (s, _, _) = send(Method::PATCH, path.clone(), Some("W/\"2\""), json!({"amount": "150"})).await;
    assert_eq!(s, StatusCode::OK);
    let (s, _, _) = send(Method::POST, format!("{path}/move"), Some("\"2\""), json!({"stage": "Proposal"})).await;
    assert_eq!(s, StatusCode::CONFLICT, "a stale move");
    let (s, etag, _) = send(Method::POST, format!("{path}/move"), Some("\"3\""), json!({"stage": "Proposal"})).await;
    assert_eq!((s, etag.as_deref()), (StatusCode::OK, Some("\"4\"")));
    assert_eq!(app.get(&format!("{path}/history")).await.1["data"].as_array().unwrap().len(), 2);
    // Without a version, writes go through (last writer wins, as before).
    assert_eq!(app.patch(&path, json!({"name": "V5"})).await.0, StatusCode::OK);
    // Bad versions, and kinds that keep none, say so.
    let (s, _, e) = send(Method::PATCH, path.clone(), Some("soon"), json!({"name": "x"})).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(e["error"]["fields"]["If-Match"].is_string(), "{e}");
    let (s, _, e) = send(Method::PATCH, path.clone(), Some("\"5\""), json!({"version": 4})).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
    let (s, _, e) = send(
        Method::PATCH,
        format!("/api/v1/accounts/{}", a["id"]),
        Some("\"1\""),
        json!({"name": "x"}),
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(e["error"]["fields"]["If-Match"].as_str().unwrap().contains("no version"), "{e}");
    assert_eq!(app.get(&format!("/api/v1/accounts/{}", a["id"])).await.1["name"], "Versioned");

    // The edit form carries the version; saving over a newer change answers
    // 409 with a notice and keeps what was typed.
    let b = app.browser(ADMIN_EMAIL).await;
    let form = b.get(&format!("/opportunities/{id}/edit")).await;
    assert!(form.body.contains("name=\"version\" value=\"5\""), "the form carries the version");
    app.patch(&path, json!({"amount": "175"})).await;
    let page = b
        .post_form(
            &format!("/opportunities/{id}"),
            &[
                ("version", "5"),
                ("name", "Typed by hand"),
                ("account", &a["id"].to_string()),
                ("pipeline", &o["pipeline"]["id"].to_string()),
                ("stage", "Proposal"),
                ("amount", "200"),
            ],
        )
        .await;
    assert_eq!(page.status, StatusCode::CONFLICT);
    assert!(page.body.contains("Someone else saved this record"), "the notice");
    assert!(page.body.contains("value=\"Typed by hand\""), "what was typed is kept");
    assert!(
        page.body.contains("name=\"version\" value=\"6\""),
        "saving again overwrites knowingly"
    );
    assert_eq!(app.get(&path).await.1["name"], "V5");
}

#[tokio::test]
async fn a_deleted_stage_moves_its_deals_through_the_ordinary_move() {
    let app = spawn_app().await;
    let (_, pipelines) = app.get("/api/v1/pipelines").await;
    let stages = pipelines["data"][0]["stages"].as_array().unwrap().clone();
    let stage = |name: &str| stages.iter().find(|s| s["name"] == name).unwrap()["id"].as_i64().unwrap();
    let (_, a) = app.post("/api/v1/accounts", json!({"name": "Staged", "tags": ["Gold"]})).await;
    let (_, c) = app
        .post("/api/v1/contacts", json!({"last_name": "Watcher", "account": a["id"]}))
        .await;
    let mut deals = Vec::new();
    for (i, st) in ["Discovery", "Discovery", "Discovery", "Proposal"].iter().enumerate() {
        let (s, o) = app
            .post(
                "/api/v1/opportunities",
                json!({"name": format!("S{i}"), "account": a["id"], "stage": st, "amount": format!("{}", 100 * (i + 1)), "contacts": [c["id"]]}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{o}");
        deals.push(o["id"].as_i64().unwrap());
    }
    let before = last_event(&app).await;
    let (s, e) = app
        .api(
            Method::DELETE,
            &format!("/api/v1/stages/{}?move_to={}", stage("Discovery"), stage("Won")),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT, "{e}");
    for (i, id) in deals.iter().enumerate() {
        let (_, o) = app.get(&format!("/api/v1/opportunities/{id}")).await;
        let (_, h) = app.get(&format!("/api/v1/opportunities/{id}/history")).await;
        let moves = h["data"].as_array().unwrap();
        if i < 3 {
            assert_eq!((o["status"].as_str(), o["stage"]["name"].as_str()), (Some("won"), Some("Won")));
            assert!(o["closed_at"].is_string(), "closed when won");
            let last = moves.last().unwrap();
            assert_eq!(
                (last["from"].as_str(), last["to"].as_str()),
                (Some("Discovery"), Some("Won")),
                "{h}"
            );
            assert!(last["by"].is_null(), "no person moved it");
            let (_, t) = app.get(&format!("/api/v1/opportunities/{id}/timeline")).await;
            assert!(
                t["data"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|e| e["kind"] == "stage_changed" && e["data"]["to"] == "Won"),
                "{t}"
            );
        } else {
            assert_eq!(moves.len(), 1, "the other deal did not move");
        }
    }
    let evs = events_since(&app, before).await;
    let moved: Vec<(EventKind, i64)> = evs
        .iter()
        .filter(|e| e.entity == "opportunity")
        .map(|e| (e.kind, e.record_id))
        .collect();
    let want: Vec<(EventKind, i64)> = deals[..3]
        .iter()
        .flat_map(|d| [(EventKind::StageMoved, *d), (EventKind::Won, *d)])
        .collect();
    assert_eq!(moved, want);
    // The contact's timeline echoes the wins; the figures equal a recount.
    let (_, t) = app.get(&format!("/api/v1/contacts/{}/timeline", c["id"])).await;
    assert_eq!(
        t["data"].as_array().unwrap().iter().filter(|e| e["data"]["event"] == "won").count(),
        3
    );
    let (_, won) = app.get("/api/v1/metrics/won_amount/values?period=today").await;
    assert_eq!(won["total"]["value"].as_f64(), Some(600.0), "{won}");
    let check = carnet_app::analytics::verify(&app.carnet.db, 2).await.unwrap();
    assert!(check.differences.is_empty(), "{:?}", check.differences);
    // Kept in the history, so archived rather than deleted.
    let (_, pipelines) = app.get("/api/v1/pipelines").await;
    let discovery = pipelines["data"][0]["stages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "Discovery")
        .cloned();
    assert!(discovery.as_ref().is_none_or(|d| d["archived"] == true), "{discovery:?}");
}

#[tokio::test]
async fn the_catalogue_cache_follows_every_settings_write_on_every_node() {
    let app = spawn_app().await;
    let db = &app.carnet.db;
    // A second node on the same database, its catalogue cached.
    let other = carnet_app::Carnet::open(&app.url, app.dir.join("files-2")).await.unwrap();
    let version = || async {
        carnet_app::db::q("SELECT version FROM catalog_version")
            .scalar::<i64>(&mut db.conn().await.unwrap())
            .await
            .unwrap()
    };
    carnet_app::settings::catalog(&other.db).await.unwrap();
    let (_, cat) = app.post("/api/v1/tag-categories", json!({"name": "Region"})).await;
    let (_, pipeline) = app.get("/api/v1/pipelines").await;
    let pipeline = pipeline["data"][0]["id"].as_i64().unwrap();
    let (_, status) = app.post("/api/v1/statuses", json!({"name": "Dormant"})).await;
    let writes: Vec<(&str, Method, String, serde_json::Value)> = vec![
        (
            "a status renamed",
            Method::PATCH,
            format!("/api/v1/statuses/{}", status["id"]),
            json!({"name": "Asleep"}),
        ),
        (
            "a tag",
            Method::POST,
            format!("/api/v1/tag-categories/{}/tags", cat["id"]),
            json!({"name": "North"}),
        ),
        (
            "a category made a segment",
            Method::PATCH,
            format!("/api/v1/tag-categories/{}", cat["id"]),
            json!({"name": "Region", "is_segment": true}),
        ),
        (
            "a custom field",
            Method::POST,
            "/api/v1/custom-fields".into(),
            json!({"entity": "account", "key": "fleet", "label": "Fleet", "kind": "number"}),
        ),
        (
            "a mandatory rule",
            Method::POST,
            "/api/v1/mandatory-rules".into(),
            json!({"entity": "account", "field": "phone"}),
        ),
        (
            "a contact role",
            Method::POST,
            "/api/v1/contact-roles".into(),
            json!({"name": "Sponsor"}),
        ),
        (
            "a user",
            Method::POST,
            "/api/v1/users".into(),
            json!({"email": "new@test.example", "name": "Nina New", "role": "sales", "password": "long enough password"}),
        ),
        ("a pipeline", Method::POST, "/api/v1/pipelines".into(), json!({"name": "Renewals"})),
        (
            "a stage",
            Method::POST,
            format!("/api/v1/pipelines/{pipeline}/stages"),
            json!({"name": "Pilot", "probability": 60}),
        ),
        (
            "an offer",
            Method::POST,
            "/api/v1/offers".into(),
            json!({"name": "Care", "code": "CARE", "list_price": "90"}),
        ),
        (
            "a source",
            Method::POST,
            "/api/v1/opportunity-sources".into(),
            json!({"name": "Fair", "kind": "marketing"}),
        ),
        (
            "a lost reason",
            Method::POST,
            "/api/v1/lost-reasons".into(),
            json!({"name": "Bad timing"}),
        ),
    ];
    for (label, method, path, body) in writes {
        let v0 = version().await;
        let (s, e) = app.api(method, &path, Some(body)).await;
        assert!(s.is_success(), "{label}: {s} {e}");
        assert!(version().await > v0, "{label} raises the catalogue's version");
    }
    // Each node reads the new settings at once, without a restart.
    for (node, c) in [("this node", db), ("the other node", &other.db)] {
        let cat = carnet_app::settings::catalog(c).await.unwrap();
        assert!(cat.statuses.iter().any(|s| s.name == "Asleep"), "{node}");
        assert!(
            cat.categories
                .iter()
                .any(|c| c.is_segment && c.tags.iter().any(|t| t.name == "North")),
            "{node}"
        );
        assert!(
            cat.fields.iter().any(|f| f.key == "fleet") && cat.rules.iter().any(|r| r.field == "phone"),
            "{node}"
        );
        assert!(
            cat.roles.iter().any(|r| r.name == "Sponsor") && cat.users.iter().any(|u| u.name == "Nina New"),
            "{node}"
        );
        let sales = &cat.sales;
        assert!(sales.pipelines.iter().any(|p| p.name == "Renewals"), "{node}");
        assert!(sales.pipelines.iter().any(|p| p.stages.iter().any(|s| s.name == "Pilot")), "{node}");
        assert!(
            sales.offers.iter().any(|o| o.code == "CARE") && sales.sources.iter().any(|s| s.name == "Fair"),
            "{node}"
        );
        assert!(sales.lost_reasons.iter().any(|r| r.name == "Bad timing"), "{node}");
    }
    // And the record parsers use it: the new rule applies at once.
    let (s, e) = app.post("/api/v1/accounts", json!({"name": "No phone", "status": "Asleep"})).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(e["error"]["fields"]["phone"].is_string(), "{e}");
    other.db.close().await;
}

/// The columns of a record that do not depend on when or in which order it was written.
async fn record_row(app: &TestApp, table: &str, id: i64) -> serde_json::Value {
    let path = match table {
        "accounts" => format!("/api/v1/accounts/{id}"),
        _ => format!("/api/v1/contacts/{id}"),
    };
    let mut v = app.get(&path).await.1;
    for k in ["id", "created_at", "updated_at", "accounts", "contacts"] {
        v.as_object_mut().unwrap().remove(k);
    }
    v
}

async fn tokens_of(app: &TestApp, entity: &str, id: i64) -> Vec<String> {
    carnet_app::db::q("SELECT token FROM search_tokens WHERE entity = $1 AND record_id = $2 ORDER BY token")
        .bind(entity)
        .bind(id)
        .fetch_all::<(String,)>(&mut app.carnet.db.conn().await.unwrap())
        .await
        .unwrap()
        .into_iter()
        .map(|(t,)| t)
        .collect()
}

/// The batch writer stores exactly what one-by-one creation stores: the same
/// columns, tags, custom values, search tokens, timeline entry and events; and
/// the set-based duplicate check finds what the per-record one finds.
#[tokio::test]
async fn the_batch_writer_writes_what_one_by_one_creation_writes() {
    use carnet_app::records::{accounts, contacts, duplicates, write};
    use carnet_domain::records::{AccountDraft, ContactDraft, RawInput};
    let app = spawn_app().await;
    app.post(
        "/api/v1/custom-fields",
        json!({"entity": "account", "key": "fleet", "label": "Fleet", "kind": "number"}),
    )
    .await;
    let cat = carnet_app::settings::catalog(&app.carnet.db).await.unwrap();
    let raw = |pairs: &[(&str, String)]| RawInput::from_pairs(pairs.iter().map(|(k, v)| (k.to_string(), v.clone())));
    let mut account_drafts = Vec::new();
    let mut contact_drafts = Vec::new();
    for i in 0..12 {
        let a = raw(&[
            ("name", format!("Imprimerie Batch {}", i % 5)),
            ("email", format!("hello@batch{}.example", i % 4)),
            ("phone", format!("01 02 03 04 {:02}", i % 3)),
            ("website", format!("https://batch{i}.example")),
            ("company_id", format!("{:09}", 500_000_000 + i % 6)),
            ("city", "Lyon".into()),
            ("tags", ["Gold", "Silver", ""][i % 3].into()),
            ("cf.fleet", format!("{}", i * 3)),
        ]);
        account_drafts.push(AccountDraft::parse(&a, &cat, &[]).unwrap());
        let c = raw(&[
            ("first_name", format!("Élise {}", i % 4)),
            ("last_name", "Dupré".into()),
            ("email", format!("elise{}@dupre.example", i % 5)),
            ("mobile", format!("06 11 22 33 {:02}", i % 2)),
            ("job_title", "Buyer".into()),
        ]);
        contact_drafts.push(ContactDraft::parse(&c, &cat, &[]).unwrap());
    }
    let mut one_by_one = Vec::new();
    for d in &account_drafts {
        one_by_one.push((
            "accounts",
            "account",
            accounts::create(&app.carnet, &cat, &app.admin, d).await.unwrap(),
        ));
    }
    for d in &contact_drafts {
        one_by_one.push((
            "contacts",
            "contact",
            contacts::create(&app.carnet, &cat, &app.admin, d, None).await.unwrap(),
        ));
    }
    // The duplicate checks, per record and for the whole batch, agree.
    let refs: Vec<&AccountDraft> = account_drafts.iter().collect();
    let batch_dups = duplicates::for_accounts(&app.carnet.db, &refs).await.unwrap();
    for (d, b) in account_drafts.iter().zip(&batch_dups) {
        let single = duplicates::for_account(&app.carnet.db, d).await.unwrap();
        assert_eq!(serde_json::to_value(&single).unwrap(), serde_json::to_value(b).unwrap());
        assert!(!single.is_empty());
    }
    let refs: Vec<&ContactDraft> = contact_drafts.iter().collect();
    let batch_dups = duplicates::for_contacts(&app.carnet.db, &refs).await.unwrap();
    for (d, b) in contact_drafts.iter().zip(&batch_dups) {
        let single = duplicates::for_contact(&app.carnet.db, d).await.unwrap();
        assert_eq!(serde_json::to_value(&single).unwrap(), serde_json::to_value(b).unwrap());
    }
    let before = last_event(&app).await;
    let segments = || async {
        app.get("/api/v1/metrics/segment_size/values?period=today&breakdown=segment")
            .await
            .1
    };
    let sizes_before = segments().await;
    let mut tx = app.carnet.db.begin().await.unwrap();
    let account_ids = write::insert(&mut tx, &cat, Some(app.admin.id), &account_drafts).await.unwrap();
    let contact_ids = write::insert(&mut tx, &cat, Some(app.admin.id), &contact_drafts).await.unwrap();
    tx.commit().await.unwrap();
    let batch: Vec<(&str, &str, i64)> = account_ids
        .iter()
        .map(|id| ("accounts", "account", *id))
        .chain(contact_ids.iter().map(|id| ("contacts", "contact", *id)))
        .collect();
    assert_eq!(batch.len(), one_by_one.len());
    let batch_events = events_since(&app, before).await;
    for ((table, entity, single), (_, _, batched)) in one_by_one.iter().zip(&batch) {
        assert_eq!(record_row(&app, table, *single).await, record_row(&app, table, *batched).await);
        assert_eq!(tokens_of(&app, entity, *single).await, tokens_of(&app, entity, *batched).await);
        let (_, t1) = app.get(&format!("/api/v1/{table}/{single}/timeline")).await;
        let (_, t2) = app.get(&format!("/api/v1/{table}/{batched}/timeline")).await;
        let kinds = |t: &serde_json::Value| t["data"].as_array().unwrap().iter().map(|e| e["kind"].clone()).collect::<Vec<_>>();
        assert_eq!(kinds(&t1), kinds(&t2));
        let of = |id: i64| {
            let evs: Vec<(EventKind, serde_json::Value)> = batch_events
                .iter()
                .filter(|e| e.entity == *entity && e.record_id == id)
                .map(|e| (e.kind, e.data.clone()))
                .collect();
            evs
        };
        let singles = events::for_record(&mut app.carnet.db.conn().await.unwrap(), entity, *single)
            .await
            .unwrap();
        let singles: Vec<(EventKind, serde_json::Value)> = singles.into_iter().map(|e| (e.kind, e.data)).collect();
        assert_eq!(singles, of(*batched));
    }
    // The same figures: each segment holds twice what one-by-one creation put there.
    let sizes_after = segments().await;
    let rows = |v: &serde_json::Value| -> Vec<(String, f64)> {
        v["rows"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| (r["key"].to_string(), r["value"].as_f64().unwrap_or(0.0)))
            .collect()
    };
    let doubled: Vec<(String, f64)> = rows(&sizes_before).into_iter().map(|(k, v)| (k, v * 2.0)).collect();
    assert!(!doubled.is_empty() && doubled.iter().any(|(_, v)| *v > 0.0), "{sizes_before}");
    assert_eq!(rows(&sizes_after), doubled, "{sizes_after}");
    // Found by the same searches, in the lists.
    let (_, found) = app.get("/api/v1/search?q=imprimerie%20batch%203").await;
    assert_eq!(found["data"].as_array().unwrap().len(), 4, "{found}");
    // Ids keep coming from the same sequence afterwards.
    let (s, a) = app.post("/api/v1/accounts", json!({"name": "After the batch"})).await;
    assert_eq!(s, StatusCode::CREATED);
    assert!(a["id"].as_i64().unwrap() > *account_ids.iter().max().unwrap());
}
