//! Booking pages (A4): free slots, personal and team pages, races for one slot,
//! cancelling and rescheduling from the manage link.

use crate::helpers::*;
use reqwest::{Method, StatusCode};
use serde_json::json;

/// A rep's booking page: Monday to Friday 09:00–12:00 in Paris, 30-minute
/// meetings with a 15-minute buffer, no notice needed.
pub(crate) async fn booking_page(app: &TestApp) -> (String, i64) {
    let (s, e) = app
        .api(
            Method::PUT,
            "/api/v1/me/booking-page",
            Some(json!({"slug": "ada", "type": "Videoconference", "duration": 30, "buffer_before": 15, "buffer_after": 15, "min_notice": 0, "horizon_days": 60,
                        "hours": {"monday": "09:00-12:00", "tuesday": "09:00-12:00", "wednesday": "09:00-12:00", "thursday": "09:00-12:00", "friday": "09:00-12:00"}})),
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT, "{e}");
    // The next Monday at least two days ahead, 00:00 Paris.
    let mut day = app.carnet.db.clock().today_utc() + chrono::Duration::days(2);
    while chrono::Datelike::weekday(&day) != chrono::Weekday::Mon {
        day += chrono::Duration::days(1);
    }
    (
        day.to_string(),
        carnet_domain::agenda::parse_local(&format!("{day}T00:00"), chrono_tz::Europe::Paris).unwrap(),
    )
}

#[tokio::test]
async fn free_slots_go_around_appointments_and_buffers() {
    let app = spawn_app().await;
    let (monday, _) = booking_page(&app).await;
    app.post(
        "/api/v1/actions",
        json!({"type": "Demo", "subject": "Busy", "starts_at": format!("{monday}T10:00"), "duration": 60}),
    )
    .await;
    let (s, slots) = app
        .get(&format!(
            "/api/v1/users/{}/free-slots?from={monday}&to={monday}T23:59",
            app.admin.id
        ))
        .await;
    assert_eq!(s, StatusCode::OK, "{slots}");
    let times: Vec<String> = slots["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            let t = chrono::DateTime::parse_from_rfc3339(t.as_str().unwrap())
                .unwrap()
                .with_timezone(&chrono_tz::Europe::Paris);
            t.format("%H:%M").to_string()
        })
        .collect();
    // 09:00 and 09:15 end by 09:45, clear of 10:00 minus the buffer; then from 11:15 (11:00 + 15).
    assert_eq!(times, vec!["09:00", "09:15", "11:15", "11:30"]);
    for bad in [
        "from=soon",
        "duration=0",
        "from=2026-01-10&to=2026-01-01",
        "from=2026-01-01&to=2026-06-01",
    ] {
        let (s, _) = app.get(&format!("/api/v1/users/{}/free-slots?{bad}", app.admin.id)).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
    }
    let (s, e) = app
        .api(
            Method::PUT,
            "/api/v1/me/booking-page",
            Some(json!({"slug": "x y", "type": "Task", "duration": 0, "hours": {"funday": "09:00-10:00"}})),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
}

#[tokio::test]
async fn prospects_book_a_free_slot_and_can_cancel_it() {
    let app = spawn_app().await;
    let (monday, _) = booking_page(&app).await;
    let page = app.http.get(app.url("/book/ada")).send().await.unwrap().text().await.unwrap();
    assert!(
        page.contains("Meeting with Ada Admin") && page.contains("09:00"),
        "free times are listed"
    );
    app.post(
        "/api/v1/actions",
        json!({"type": "Demo", "subject": "Secret client meeting", "starts_at": format!("{monday}T10:00"), "duration": 60}),
    )
    .await;
    let page = app.http.get(app.url("/book/ada")).send().await.unwrap().text().await.unwrap();
    assert!(!page.contains("Secret client meeting"), "never the content of the diary");
    let slot = carnet_domain::agenda::parse_local(&format!("{monday}T09:00"), chrono_tz::Europe::Paris)
        .unwrap()
        .to_string();
    // Bad input keeps what was typed and books nothing.
    let res = app
        .http
        .post(app.url("/book/ada"))
        .form(&[("slot", slot.as_str()), ("name", "Paul Ricard"), ("email", "not-an-email")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(res.text().await.unwrap().contains("value=\"Paul Ricard\""));
    let res = app
        .http
        .post(app.url("/book/ada"))
        .form(&[
            ("slot", slot.as_str()),
            ("name", "Bot"),
            ("email", "bot@x.example"),
            ("website", "http://spam"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY, "the honeypot");
    let before = app.count("actions").await;
    let res = app
        .http
        .post(app.url("/book/ada"))
        .form(&[
            ("slot", slot.as_str()),
            ("name", "Paul Ricard"),
            ("email", "paul@ricard.example"),
            ("company", "Ricard SA"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let body = res.text().await.unwrap();
    assert!(body.contains("Your meeting is booked"));
    let manage = body
        .split("href=\"/book/manage/")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_string();
    assert_eq!(app.count("actions").await, before + 1);
    let (_, contacts) = app.get("/api/v1/contacts?email=paul@ricard.example").await;
    assert_eq!(contacts["data"][0]["name"], "Paul Ricard");
    let (_, acts) = app.get(&format!("/api/v1/actions?contact={}", contacts["data"][0]["id"])).await;
    assert_eq!(acts["data"][0]["type"]["name"], "Videoconference");
    assert_eq!(acts["data"][0]["assignee_id"], app.admin.id);
    // The slot is gone; the same person booking again is the same contact.
    let page = app.http.get(app.url("/book/ada")).send().await.unwrap().text().await.unwrap();
    assert!(!page.contains(&format!("value=\"{slot}\"")));
    // The manage link works without an account, and cancelling frees the slot.
    let res = app
        .http
        .post(app.url(&format!("/book/manage/{manage}/cancel")))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        app.get(&format!("/api/v1/actions/{}", acts["data"][0]["id"])).await.1["outcome"],
        "cancelled"
    );
    let page = app.http.get(app.url("/book/ada")).send().await.unwrap().text().await.unwrap();
    assert!(page.contains(&format!("value=\"{slot}\"")));
    assert_eq!(
        app.http.get(app.url("/book/manage/forged")).send().await.unwrap().status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.http.get(app.url("/book/nobody")).send().await.unwrap().status(),
        StatusCode::NOT_FOUND
    );
}

/// Many prospects race for one slot: exactly one gets it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_bookings_of_one_slot_give_it_once() {
    let app = spawn_app().await;
    let (monday, _) = booking_page(&app).await;
    let slot = carnet_domain::agenda::parse_local(&format!("{monday}T11:00"), chrono_tz::Europe::Paris)
        .unwrap()
        .to_string();
    let mut tasks = Vec::new();
    for i in 0..12 {
        let (http, url, slot) = (app.http.clone(), app.url("/book/ada"), slot.clone());
        tasks.push(tokio::spawn(async move {
            let email = format!("p{i}@race.example");
            http.post(url)
                .form(&[("slot", slot.as_str()), ("name", "Racer"), ("email", email.as_str())])
                .send()
                .await
                .unwrap()
                .status()
        }));
    }
    let mut ok = 0;
    for t in tasks {
        match t.await.unwrap() {
            StatusCode::OK => ok += 1,
            StatusCode::CONFLICT => {}
            other => panic!("unexpected {other}"),
        }
    }
    assert_eq!(ok, 1);
    let booked: i64 = carnet_app::db::q("SELECT COUNT(*) FROM actions WHERE starts_at = $1")
        .bind(slot.parse::<i64>().unwrap())
        .scalar(&mut app.carnet.db.conn().await.unwrap())
        .await
        .unwrap();
    assert_eq!(booked, 1);
}

#[tokio::test]
async fn the_booking_page_is_set_up_from_the_profile() {
    let app = spawn_app().await;
    let b = app.browser(ADMIN_EMAIL).await;
    let (_, types) = app.get("/api/v1/action-types").await;
    let video = types["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "Videoconference")
        .unwrap()["id"]
        .to_string();
    let mut form: Vec<(&str, String)> = vec![
        ("op", "booking".into()),
        ("slug", "ada-admin".into()),
        ("type", video),
        ("duration", "45".into()),
        ("active", "1".into()),
    ];
    for d in ["monday", "tuesday", "wednesday", "thursday", "friday"] {
        form.push((Box::leak(format!("hours_{d}").into_boxed_str()), "08:30-12:30".into()));
    }
    let bad: Vec<(&str, &str)> = vec![
        ("op", "booking"),
        ("slug", "ada-admin"),
        ("type", "1"),
        ("hours_monday", "12:00-08:00"),
    ];
    assert_eq!(b.post_form("/profile", &bad).await.status, StatusCode::UNPROCESSABLE_ENTITY);
    let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    assert_eq!(b.post_form("/profile", &pairs).await.status, StatusCode::SEE_OTHER);
    let page = app.http.get(app.url("/book/ada-admin")).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("45 min") && page.contains("08:30"));
    let profile = b.get("/profile").await;
    assert!(profile.body.contains("value=\"08:30-12:30\""), "the hours come back in the form");
    let proposed = carnet_app::agenda::booking::propose(&app.carnet.db, app.admin.id, 3).await.unwrap();
    assert_eq!(proposed.len(), 3);
    assert!(proposed.windows(2).all(|w| w[0] < w[1]) && proposed[0] > app.carnet.db.now());
}

pub(crate) async fn types_named(app: &TestApp, name: &str) -> String {
    let (_, types) = app.get("/api/v1/action-types").await;
    types["data"].as_array().unwrap().iter().find(|t| t["name"] == name).unwrap()["id"].to_string()
}

/// Books `slot` (UTC seconds) on a public page; returns the status and the
/// manage token when it was booked.
async fn book_on(app: &TestApp, slug: &str, slot: i64, email: &str) -> (StatusCode, Option<String>, String) {
    let res = app
        .http
        .post(app.url(&format!("/book/{slug}")))
        .form(&[("slot", slot.to_string().as_str()), ("name", "Pat Prospect"), ("email", email)])
        .send()
        .await
        .unwrap();
    let status = res.status();
    let body = res.text().await.unwrap();
    let token = body
        .split("href=\"/book/manage/")
        .nth(1)
        .map(|t| t.split('"').next().unwrap().to_string());
    (status, token, body)
}

/// A team page: a booking goes to a free member, in turn or to the least busy;
/// when all are taken, the slot is refused. A booking can be moved from its
/// manage link to another free slot of the same rep.
#[tokio::test]
async fn team_booking_pages_share_bookings_and_bookings_can_be_rescheduled() {
    let app = spawn_app().await;
    let (rep, _) = app.user_with_key("rep@test.example", "sales").await;
    for (body, field) in [
        (json!({"slug": "sales-team", "name": "Sales", "members": []}), "members"),
        (
            json!({"slug": "sales-team", "name": "Sales", "members": [rep.id], "strategy": "random"}),
            "strategy",
        ),
        (
            json!({"slug": "sales-team", "name": "Sales", "members": [rep.id], "time_zone": "Mars/Olympus"}),
            "time_zone",
        ),
    ] {
        let (s, e) = app.post("/api/v1/booking-teams", body).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
        assert!(e["error"]["fields"][field].is_string(), "{e}");
    }
    let (s, team) = app
        .post(
            "/api/v1/booking-teams",
            json!({"slug": "sales-team", "name": "Sales team", "type": "Videoconference", "duration": 30, "min_notice": 0,
                   "members": [app.admin.id, "rep@test.example"], "strategy": "round_robin"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{team}");
    // One address for one page: a personal page cannot take the team's.
    let (s, e) = app
        .api(
            Method::PUT,
            "/api/v1/me/booking-page",
            Some(json!({"slug": "sales-team", "type": "Videoconference"})),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
    assert!(e["error"]["fields"]["slug"].is_string(), "{e}");
    let mut day = app.carnet.db.clock().today_utc() + chrono::Duration::days(2);
    while chrono::Datelike::weekday(&day) != chrono::Weekday::Mon {
        day += chrono::Duration::days(1);
    }
    let at = |hm: &str| carnet_domain::agenda::parse_local(&format!("{day}T{hm}"), chrono_tz::Europe::Paris).unwrap();
    let page = app
        .http
        .get(app.url("/book/sales-team"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("Sales team") && page.contains(&format!("value=\"{}\"", at("10:00"))));
    let assignee = |token: String| {
        let app = &app;
        async move {
            let a = carnet_app::agenda::booking::by_token(&app.carnet.db, &token).await.unwrap();
            (a.assignee_id.unwrap(), a)
        }
    };
    // Round robin: the first member, then the other for the same slot; then refused.
    let (s, t1, body) = book_on(&app, "sales-team", at("10:00"), "a@p.example").await;
    assert_eq!(s, StatusCode::OK);
    assert!(body.contains("Ada Admin (Sales team)"), "names the rep: {body}");
    assert_eq!(assignee(t1.clone().unwrap()).await.0, app.admin.id);
    let (_, t2, _) = book_on(&app, "sales-team", at("10:00"), "b@p.example").await;
    assert_eq!(assignee(t2.unwrap()).await.0, rep.id);
    let (s, _, _) = book_on(&app, "sales-team", at("10:00"), "c@p.example").await;
    assert_eq!(s, StatusCode::CONFLICT, "both diaries are taken");
    let page = app
        .http
        .get(app.url("/book/sales-team"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!page.contains(&format!("value=\"{}\"", at("10:00"))), "no longer offered");
    let (_, t3, _) = book_on(&app, "sales-team", at("11:00"), "d@p.example").await;
    assert_eq!(assignee(t3.unwrap()).await.0, app.admin.id, "in turn");
    // Least busy: the admin has two, the rep one.
    let (s, _) = app
        .patch(
            &format!("/api/v1/booking-teams/{}", team["data"]["id"]),
            json!({"strategy": "least_busy"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let (_, t4, _) = book_on(&app, "sales-team", at("14:30"), "e@p.example").await;
    assert_eq!(assignee(t4.unwrap()).await.0, rep.id);

    // Reschedule from the manage link: the rep's free slots, the booking's own time left out.
    let t1 = t1.unwrap();
    let manage = app
        .http
        .get(app.url(&format!("/book/manage/{t1}")))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(manage.contains(&format!("value=\"{}\"", at("15:00"))) && manage.contains(&format!("value=\"{}\"", at("10:00"))));
    assert!(
        !manage.contains(&format!("value=\"{}\"", at("11:00"))),
        "the admin's 11:00 is taken"
    );
    let res = app
        .http
        .post(app.url(&format!("/book/manage/{t1}/reschedule")))
        .form(&[("slot", at("11:00").to_string())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CONFLICT);
    let res = app
        .http
        .post(app.url(&format!("/book/manage/{t1}/reschedule")))
        .form(&[("slot", at("15:00").to_string())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let (uid, a) = assignee(t1.clone()).await;
    assert_eq!((uid, a.starts_at, a.sequence), (app.admin.id, Some(at("15:00")), 1));
    let res = app
        .http
        .post(app.url("/book/manage/forged/reschedule"))
        .form(&[("slot", at("15:30").to_string())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
}
