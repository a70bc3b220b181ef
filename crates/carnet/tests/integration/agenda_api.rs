//! Actions (A1–A3, A5): validation in the user's zone, follow-up rules, the
//! agenda views and moves, reminders and the calendar feed.

use crate::booking::types_named;
use crate::helpers::*;
use reqwest::{Method, StatusCode};
use serde_json::json;

#[tokio::test]
async fn actions_are_validated_in_the_users_zone() {
    let app = spawn_app().await;
    let (_, types) = app.get("/api/v1/action-types").await;
    let names: Vec<&str> = types["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        vec![
            "Task",
            "Phone call",
            "Email",
            "Physical appointment",
            "Phone appointment",
            "Videoconference",
            "Demo",
            "Customer visit"
        ]
    );
    let (_, a) = app.post("/api/v1/accounts", json!({"name": "Agenda Co"})).await;
    // The admin's zone is Europe/Paris: 10:00 there is 08:00 UTC in summer.
    let (s, act) = app
        .post(
            "/api/v1/actions",
            json!({"type": "Demo", "subject": "Show the fleet tool", "starts_at": "2026-07-01T10:00", "duration": 45, "account": a["id"]}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{act}");
    assert_eq!(act["starts_at"], "2026-07-01T08:00:00+00:00");
    assert_eq!(act["assignee_id"], app.admin.id, "the creator by default");
    let before = app.count("actions").await;
    for (body, field) in [
        (
            json!({"type": "Demo", "subject": "S", "starts_at": "2026-07-01T10:00", "ends_at": "2026-07-01T09:00"}),
            "ends_at",
        ),
        (
            json!({"type": "Demo", "subject": "S", "starts_at": "2026-07-01T10:00", "duration": 0}),
            "duration",
        ),
        (
            json!({"type": "Demo", "subject": "S", "starts_at": "2026-07-01T10:00", "duration": -30}),
            "duration",
        ),
        (
            json!({"type": "Demo", "subject": "S", "starts_at": "2026-03-29T02:30"}),
            "starts_at",
        ),
        (
            json!({"type": "Demo", "subject": "S", "starts_at": "2026-07-01T10:00", "time_zone": "Atlantis/Capital"}),
            "time_zone",
        ),
        (json!({"type": "Golf", "subject": "S"}), "type"),
        (json!({"type": "Task", "subject": "S", "account": 999999}), "account"),
        (json!({"type": "Task", "subject": ""}), "subject"),
    ] {
        let (s, e) = app.post("/api/v1/actions", body.clone()).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert!(e["error"]["fields"][field].is_string(), "{body} → {e}");
    }
    assert_eq!(app.count("actions").await, before, "nothing saved");
    // Moving it raises the SEQUENCE calendar clients rely on.
    let (s, moved) = app
        .patch(&format!("/api/v1/actions/{}", act["id"]), json!({"starts_at": "2026-07-02T14:00"}))
        .await;
    assert_eq!(s, StatusCode::OK, "{moved}");
    assert_eq!(
        (
            moved["starts_at"].as_str(),
            moved["sequence"].as_i64(),
            moved["duration_min"].as_i64()
        ),
        (Some("2026-07-02T12:00:00+00:00"), Some(1), Some(45))
    );
}

#[tokio::test]
async fn done_actions_trigger_follow_ups_exactly_once() {
    let app = spawn_app().await;
    let (_, a) = app.post("/api/v1/accounts", json!({"name": "Follow Co", "tags": ["Gold"]})).await;
    let (s, _) = app.post("/api/v1/followup-rules", json!({"when_type": "Physical appointment", "segment": "Gold", "then_type": "Email", "subject": "Send the product sheet", "due_days": 2})).await;
    assert_eq!(s, StatusCode::CREATED);
    let (_, act) = app
        .post(
            "/api/v1/actions",
            json!({"type": "Physical appointment", "subject": "Visit", "starts_at": "2026-07-01T10:00", "account": a["id"]}),
        )
        .await;
    let (s, done) = app
        .post(
            &format!("/api/v1/actions/{}/finish", act["id"]),
            json!({"outcome": "done", "spent_min": 50}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{done}");
    assert_eq!((done["outcome"].as_str(), done["spent_min"].as_i64()), (Some("done"), Some(50)));
    let (s, _) = app
        .post(&format!("/api/v1/actions/{}/finish", act["id"]), json!({"outcome": "done"}))
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "closed once");
    // The event and its job were written with the change.
    assert_eq!(app.count("events WHERE kind = 'action_done'").await, 1);
    assert_eq!(drain(&app).await, 1);
    let (_, list) = app.get(&format!("/api/v1/actions?account={}", a["id"])).await;
    let follow: Vec<&serde_json::Value> = list["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|x| x["subject"] == "Send the product sheet")
        .collect();
    assert_eq!(follow.len(), 1);
    let today = app.carnet.db.clock().today_utc();
    assert_eq!(follow[0]["due_date"], carnet_domain::agenda::add_days(today, 2, true).to_string());
    assert_eq!(follow[0]["assignee_id"], app.admin.id, "the same rep");
    // A re-run of the job (as after a crash) does not create it again.
    let mut tx = app.carnet.db.begin().await.unwrap();
    carnet_app::db::q("UPDATE jobs SET status = 'queued', run_at = 0")
        .execute(&mut tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(drain(&app).await, 1);
    let (_, list) = app.get(&format!("/api/v1/actions?account={}", a["id"])).await;
    assert_eq!(
        list["data"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|x| x["subject"] == "Send the product sheet")
            .count(),
        1
    );
    // Outside the segment, no follow-up.
    let (_, b) = app.post("/api/v1/accounts", json!({"name": "Bronze Co", "tags": ["Bronze"]})).await;
    let (_, act) = app
        .post(
            "/api/v1/actions",
            json!({"type": "Physical appointment", "subject": "Visit", "starts_at": "2026-07-01T10:00", "account": b["id"]}),
        )
        .await;
    app.post(&format!("/api/v1/actions/{}/finish", act["id"]), json!({"outcome": "done"}))
        .await;
    drain(&app).await;
    let (_, list) = app.get(&format!("/api/v1/actions?account={}", b["id"])).await;
    assert_eq!(list["data"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn the_board_shows_the_next_planned_action() {
    let app = spawn_app().await;
    let (_, a) = app.post("/api/v1/accounts", json!({"name": "Next Co"})).await;
    let (_, o) = app
        .post(
            "/api/v1/opportunities",
            json!({"name": "Next deal", "account": a["id"], "amount": "100"}),
        )
        .await;
    app.post(
        "/api/v1/actions",
        json!({"type": "Email", "subject": "Send the quote", "opportunity": o["id"], "due_date": "2030-01-02"}),
    )
    .await;
    app.post(
        "/api/v1/actions",
        json!({"type": "Demo", "subject": "Later demo", "opportunity": o["id"], "starts_at": "2030-02-01T10:00"}),
    )
    .await;
    let (_, p) = app.get("/api/v1/pipelines").await;
    let b = app.browser(ADMIN_EMAIL).await;
    let board = b.get(&format!("/pipelines/{}/board", p["data"][0]["id"])).await;
    assert!(board.body.contains("→ Email · Send the quote"), "the earliest open action");
    let card = b.get(&format!("/opportunities/{}", o["id"])).await;
    assert!(card.body.contains("Next action: Email · Send the quote"));
}

#[tokio::test]
async fn the_week_agenda_plans_for_colleagues_and_lists_overdue_tasks() {
    let app = spawn_app().await;
    let (rep, _) = app.user_with_key("rep@test.example", "sales").await;
    let b = app.browser(ADMIN_EMAIL).await;
    let (_, types) = app.get("/api/v1/action-types").await;
    let demo = types["data"].as_array().unwrap().iter().find(|t| t["name"] == "Demo").unwrap()["id"].to_string();
    let monday = {
        let today = app.carnet.db.clock().today_utc();
        today - chrono::Duration::days(chrono::Datelike::weekday(&today).num_days_from_monday() as i64)
    };
    let start = format!("{}T09:30", monday + chrono::Duration::days(2));
    // An appointment for a colleague; a bad one keeps what was typed.
    let p = b
        .post_form(
            "/agenda/actions",
            &[
                ("type", &demo),
                ("subject", "Demo for Acme"),
                ("assignee", &rep.id.to_string()),
                ("starts_at", ""),
                ("duration", "60"),
            ],
        )
        .await;
    assert_eq!(p.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(p.body.contains("value=\"Demo for Acme\""));
    let p = b
        .post_form(
            "/agenda/actions",
            &[
                ("type", &demo),
                ("subject", "Demo for Acme"),
                ("assignee", &rep.id.to_string()),
                ("starts_at", &start),
                ("duration", "60"),
            ],
        )
        .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER);
    let week = b
        .get(&format!("/agenda?week={monday}&users={}&users={}", app.admin.id, rep.id))
        .await;
    assert!(
        week.body.contains("Demo for Acme") && week.body.contains("09:30 – 10:30"),
        "shown in the viewer zone: {}",
        &week.body[week.body.find("<table").unwrap_or(0)..]
            .chars()
            .take(3000)
            .collect::<String>()
    );
    // An overdue task of the viewer's.
    app.post(
        "/api/v1/actions",
        json!({"type": "Task", "subject": "Old chore", "due_date": "2020-01-06"}),
    )
    .await;
    let week = b.get("/agenda").await;
    assert!(week.body.contains("Old chore"));
    let action = app.get(&format!("/api/v1/actions?assignee={}", rep.id)).await.1["data"][0]["id"]
        .as_i64()
        .unwrap();
    let p = b
        .post_form(
            &format!("/agenda/actions/{action}/finish"),
            &[("outcome", "no_show"), ("back", "/agenda")],
        )
        .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER);
    assert_eq!(app.get(&format!("/api/v1/actions/{action}")).await.1["outcome"], "no_show");
    assert_eq!(app.count("events WHERE kind = 'no_show'").await, 1, "a no-show is an event");
}

/// The subscription feed, read by an independent iCalendar parser: stable UIDs,
/// UTC times, SEQUENCE after a change, cancelled events marked; revoked and
/// forged tokens get nothing.
#[tokio::test]
async fn the_calendar_feed_is_valid_icalendar() {
    use icalendar::Component;
    use std::str::FromStr;
    let app = spawn_app().await;
    let (s, f) = app.post("/api/v1/me/calendar-feed", json!({})).await;
    assert_eq!(s, StatusCode::CREATED);
    let url = f["url"].as_str().unwrap().to_string();
    let path = &url[url.find("/calendar/").unwrap()..];
    let (_, demo) = app.post("/api/v1/actions", json!({"type": "Demo", "subject": "Demo; with, commas", "starts_at": "2026-10-25T02:30", "duration": 60, "notes": "Line one\nline two"})).await;
    let (_, task) = app
        .post(
            "/api/v1/actions",
            json!({"type": "Task", "subject": "Send the quote", "due_date": "2026-12-01"}),
        )
        .await;
    let (_, gone) = app
        .post(
            "/api/v1/actions",
            json!({"type": "Phone appointment", "subject": "Call off", "starts_at": "2026-12-02T09:00"}),
        )
        .await;
    app.post(&format!("/api/v1/actions/{}/finish", gone["id"]), json!({"outcome": "cancelled"}))
        .await;
    app.patch(&format!("/api/v1/actions/{}", demo["id"]), json!({"duration": 90})).await;

    let res = app.http.get(app.url(path)).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.headers()["content-type"].to_str().unwrap().starts_with("text/calendar"));
    let body = res.text().await.unwrap();
    assert!(
        body.contains("\r\n") && body.lines().all(|l| l.trim_end_matches('\r').len() <= 75),
        "CRLF lines of at most 75 octets"
    );
    let cal = icalendar::Calendar::from_str(&body).expect("an independent parser reads the feed");
    let events: Vec<&icalendar::Event> = cal
        .components
        .iter()
        .filter_map(|c| {
            if let icalendar::CalendarComponent::Event(e) = c {
                Some(e)
            } else {
                None
            }
        })
        .collect();
    assert_eq!(events.len(), 3);
    let by_summary = |s: &str| {
        *events
            .iter()
            .find(|e| e.property_value("SUMMARY").is_some_and(|v| v.contains(s)))
            .unwrap()
    };
    let d = by_summary("Demo");
    assert!(d.property_value("UID").unwrap().starts_with(&format!("action-{}@", demo["id"])));
    // 02:30 in Paris on the day summer time ends is 00:30 UTC (the first 02:30).
    assert_eq!(d.property_value("DTSTART"), Some("20261025T003000Z"));
    assert_eq!(d.property_value("DTEND"), Some("20261025T020000Z"));
    assert_eq!(d.property_value("SEQUENCE"), Some("1"));
    assert_eq!(by_summary("Send the quote").property_value("DTSTART"), Some("20261201"));
    assert_eq!(by_summary("Call off").property_value("STATUS"), Some("CANCELLED"));
    // The same UID on every read.
    let again = app.http.get(app.url(path)).send().await.unwrap().text().await.unwrap();
    assert!(again.contains(d.property_value("UID").unwrap()));
    // A single event downloads as .ics.
    let b = app.browser(ADMIN_EMAIL).await;
    let one = b.get(&format!("/agenda/actions/{}/event.ics", task["id"])).await;
    assert_eq!(one.status, StatusCode::OK);
    assert!(icalendar::Calendar::from_str(&one.body).is_ok());
    // Forged and revoked links give nothing.
    assert_eq!(
        app.http.get(app.url("/calendar/forged.ics")).send().await.unwrap().status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.api(Method::DELETE, "/api/v1/me/calendar-feed", None).await.0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(app.http.get(app.url(path)).send().await.unwrap().status(), StatusCode::NOT_FOUND);
}

/// Day and month views; moving an appointment by the drag-and-drop form (to a
/// colleague's diary, a new time and length) and by the keyboard path (the edit
/// form); reminders in the app; the agenda settings section.
#[tokio::test]
async fn agenda_views_moves_reminders_and_settings() {
    let app = spawn_app().await;
    let (rep, _) = app.user_with_key("rep@test.example", "sales").await;
    let b = app.browser(ADMIN_EMAIL).await;
    let day = chrono::NaiveDate::from_ymd_opt(2026, 3, 10).unwrap();
    let (_, a) = app
        .post(
            "/api/v1/actions",
            json!({"type": "Demo", "subject": "Demo Zeta", "starts_at": format!("{day}T09:00"), "duration": 60, "remind": 30}),
        )
        .await;
    let id = a["id"].as_i64().unwrap();
    let (_, t) = app
        .post(
            "/api/v1/actions",
            json!({"type": "Task", "subject": "Send quote", "due_date": day.to_string()}),
        )
        .await;
    // The day view places the appointment by its time; tasks above.
    let page = b.get(&format!("/agenda?view=day&date={day}")).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("Demo Zeta") && page.body.contains("09:00 – 10:00") && page.body.contains("Send quote"));
    assert!(page.body.contains(&format!("data-move=\"/agenda/actions/{id}/move\"")));
    // The month view shows both on their day.
    let page = b.get(&format!("/agenda?view=month&date={day}")).await;
    assert!(page.body.contains(&format!("data-day=\"{day}\"")) && page.body.contains("Demo Zeta"));
    // Drag and drop: to the colleague's diary at 14:15 for 45 minutes.
    let p = b
        .post_form(
            &format!("/agenda/actions/{id}/move"),
            &[
                ("starts_at", &format!("{day}T14:15")),
                ("duration", "45"),
                ("assignee", &rep.id.to_string()),
                ("back", "/agenda?view=day"),
            ],
        )
        .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER);
    assert_eq!(p.location.as_deref(), Some("/agenda?view=day"));
    let (_, moved) = app.get(&format!("/api/v1/actions/{id}")).await;
    assert_eq!(moved["starts_at"], "2026-03-10T13:15:00+00:00", "14:15 in Paris");
    assert_eq!(
        (moved["duration_min"].as_i64(), moved["assignee_id"].as_i64()),
        (Some(45), Some(rep.id))
    );
    assert_eq!(moved["sequence"], 1);
    // A week-view drop on another day keeps the time of day; a task's due date moves.
    let next = day + chrono::Duration::days(1);
    b.post_form(&format!("/agenda/actions/{id}/move"), &[("day", &next.to_string())])
        .await;
    assert_eq!(
        app.get(&format!("/api/v1/actions/{id}")).await.1["starts_at"],
        "2026-03-11T13:15:00+00:00"
    );
    b.post_form(&format!("/agenda/actions/{}/move", t["id"]), &[("day", &next.to_string())])
        .await;
    assert_eq!(
        app.get(&format!("/api/v1/actions/{}", t["id"])).await.1["due_date"],
        next.to_string()
    );
    // A move into a daylight-saving gap is refused and nothing changes.
    let p = b
        .post_form(&format!("/agenda/actions/{id}/move"), &[("starts_at", "2026-03-29T02:30")])
        .await;
    assert_eq!(p.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(p.body.contains("daylight-saving"), "the error names the reason");
    assert_eq!(
        app.get(&format!("/api/v1/actions/{id}")).await.1["starts_at"],
        "2026-03-11T13:15:00+00:00"
    );
    // The keyboard path: the edit form.
    let form = b.get(&format!("/agenda/actions/{id}")).await;
    assert!(form.body.contains("value=\"2026-03-11T14:15\""), "local time in the form");
    let p = b
        .post_form(
            &format!("/agenda/actions/{id}"),
            &[
                ("type", &moved["type"]["id"].to_string()),
                ("subject", "Demo Zeta (moved)"),
                ("assignee", &rep.id.to_string()),
                ("starts_at", "2026-03-12T11:00"),
                ("duration", "30"),
                ("remind", "60"),
            ],
        )
        .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER);
    let (_, edited) = app.get(&format!("/api/v1/actions/{id}")).await;
    assert_eq!(
        (edited["subject"].as_str(), edited["starts_at"].as_str()),
        (Some("Demo Zeta (moved)"), Some("2026-03-12T10:00:00+00:00"))
    );

    // Reminders: due once their time has come (these are in the past), for the assignee.
    let (_, r) = app.get("/api/v1/me/reminders").await;
    assert!(
        r["data"].as_array().unwrap().is_empty(),
        "the admin's reminder moved to the rep with the action"
    );
    let rb = app.browser("rep@test.example").await;
    let page = rb.get("/reminders").await;
    assert!(page.body.contains("Demo Zeta (moved)"), "{}", page.body);
    let p = rb.post_form(&format!("/reminders/{id}/dismiss"), &[]).await;
    assert_eq!(p.status, StatusCode::SEE_OTHER);
    assert!(!rb.get("/reminders").await.body.contains("Demo Zeta"));
    let (s, e) = app
        .post("/api/v1/actions", json!({"type": "Task", "subject": "x", "remind": -5}))
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(e["error"]["fields"]["remind"].is_string());

    // Settings: a type, a follow-up rule and a recurring rule from the forms.
    let p = b
        .post_form(
            "/settings/agenda",
            &[
                ("op", "create_type"),
                ("name", "Trade show"),
                ("color", "#aa3300"),
                ("icon", "flag"),
                ("kind", "appointment"),
            ],
        )
        .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER);
    let p = b
        .post_form(
            "/settings/agenda",
            &[
                ("op", "create_followup"),
                ("when_type", "Trade show"),
                ("segment", ""),
                ("then_type", "Email"),
                ("subject", "Thank visitors"),
                ("due_days", "1"),
                ("business_days", "false"),
                ("business_days", "true"),
            ],
        )
        .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER);
    let p = b
        .post_form(
            "/settings/agenda",
            &[
                ("op", "create_recurring"),
                ("name", "Gold visits"),
                ("type", "Customer visit"),
                ("segment", "Gold"),
                ("every_months", "0"),
            ],
        )
        .await;
    assert_eq!(p.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        p.body.contains("every_months") && p.body.contains("value=\"Gold visits\""),
        "names the field, keeps the input"
    );
    let p = b
        .post_form(
            "/settings/agenda",
            &[
                ("op", "create_recurring"),
                ("name", "Gold visits"),
                ("type", "Customer visit"),
                ("segment", "Gold"),
                ("every_months", "4"),
            ],
        )
        .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER);
    let page = b.get("/settings/agenda").await;
    assert!(page.body.contains("Trade show") && page.body.contains("Thank visitors") && page.body.contains("Gold visits"));
    let (_, rules) = app.get("/api/v1/followup-rules").await;
    assert_eq!(rules["data"][0]["business_days"], true);
    // A team booking page from the same section.
    let video = types_named(&app, "Videoconference").await;
    let (admin_id, rep_id) = (app.admin.id.to_string(), rep.id.to_string());
    let team = [
        ("op", "create_team"),
        ("name", "Inside sales"),
        ("slug", "inside"),
        ("type", video.as_str()),
        ("duration", "30"),
        ("strategy", "least_busy"),
        ("time_zone", "Europe/Paris"),
    ];
    let p = b.post_form("/settings/agenda", &team).await;
    assert_eq!(p.status, StatusCode::UNPROCESSABLE_ENTITY, "no members");
    let mut with_members = team.to_vec();
    with_members.extend([("members", admin_id.as_str()), ("members", rep_id.as_str())]);
    assert_eq!(b.post_form("/settings/agenda", &with_members).await.status, StatusCode::SEE_OTHER);
    assert!(b.get("/settings/agenda").await.body.contains("/book/inside"));
    let (_, teams) = app.get("/api/v1/booking-teams").await;
    assert_eq!(teams["data"][0]["members"], json!([app.admin.id, rep.id]));
}

/// The week view reads exactly its days in the viewer's zone, far east or west
/// of UTC: appointments by their local start, tasks by their due day (planned
/// at 00:00 UTC), nothing from the days around.
#[tokio::test]
async fn the_week_view_shows_its_edge_days_in_any_zone() {
    let app = spawn_app().await;
    let b = app.browser(ADMIN_EMAIL).await;
    let monday = chrono::NaiveDate::from_ymd_opt(2027, 3, 1).unwrap();
    let day = |n: i64| monday + chrono::Duration::days(n);
    for (i, zone) in [
        "Pacific/Kiritimati",
        "Pacific/Auckland",
        "Europe/Paris",
        "America/Los_Angeles",
        "Pacific/Pago_Pago",
    ]
    .iter()
    .enumerate()
    {
        let (s, e) = app
            .patch(&format!("/api/v1/users/{}", app.admin.id), json!({"time_zone": zone}))
            .await;
        assert_eq!(s, StatusCode::OK, "{e}");
        let mut inside = Vec::new();
        let mut outside = Vec::new();
        for (n, shown) in [(-1, false), (0, true), (6, true), (7, false)] {
            let task = format!("Task{i}-{n}");
            let (s, e) = app
                .post(
                    "/api/v1/actions",
                    json!({"type": "Task", "subject": task, "due_date": day(n).to_string()}),
                )
                .await;
            assert_eq!(s, StatusCode::CREATED, "{e}");
            let time = if n <= 0 { "00:30" } else { "23:30" };
            let meeting = format!("Meeting{i}-{n}");
            let (s, e) = app
                .post(
                    "/api/v1/actions",
                    json!({"type": "Demo", "subject": meeting, "starts_at": format!("{}T{time}", day(n)), "duration": 20, "time_zone": zone}),
                )
                .await;
            assert_eq!(s, StatusCode::CREATED, "{e}");
            if shown {
                inside.extend([task, meeting]);
            } else {
                outside.extend([task, meeting]);
            }
        }
        let page = b.get(&format!("/agenda?view=week&date={}", day(3))).await;
        assert_eq!(page.status, StatusCode::OK);
        for s in &inside {
            assert!(
                page.body.contains(&format!("{s}<")) || page.body.contains(&format!("{s} ")),
                "{zone}: {s} shown"
            );
        }
        for s in &outside {
            assert!(!page.body.contains(s.as_str()), "{zone}: {s} not shown");
        }
    }
}

/// The diary reader (one JSON array from the database): every column, the
/// linked record's name (the opportunity's, else the account's), any text
/// (quotes, backslashes, tabs, emoji), the order by diary then time, the limit.
#[tokio::test]
async fn diary_entries_come_back_whole_and_in_order() {
    let app = spawn_app().await;
    let (rep, _) = app.user_with_key("rep@test.example", "sales").await;
    let (_, acc) = app.post("/api/v1/accounts", json!({"name": "Zoë & \"Fils\""})).await;
    let (_, opp) = app
        .post(
            "/api/v1/opportunities",
            json!({"name": "Fleet \\ 2027", "account": acc["id"], "amount": "100"}),
        )
        .await;
    let odd = "Call \"Zoë\" \\ back\tthen 🚀 <b>";
    let mut made = Vec::new();
    for (who, start, subject, link) in [
        (rep.id, "2027-03-02T15:00", "Rep later", json!({})),
        (app.admin.id, "2027-03-02T09:00", odd, json!({"account": acc["id"]})),
        (
            rep.id,
            "2027-03-01T08:00",
            "Rep first",
            json!({"account": acc["id"], "opportunity": opp["id"]}),
        ),
        (app.admin.id, "2027-03-01T10:00", "Admin first", json!({})),
    ] {
        let mut body = json!({"type": "Demo", "subject": subject, "starts_at": start, "duration": 45, "assignee": who, "time_zone": "UTC"});
        for (k, v) in link.as_object().unwrap() {
            body[k] = v.clone();
        }
        let (s, a) = app.post("/api/v1/actions", body).await;
        assert_eq!(s, StatusCode::CREATED, "{a}");
        made.push(a["id"].as_i64().unwrap());
    }
    let from = carnet_domain::agenda::parse_local("2027-03-01T00:00", chrono_tz::UTC).unwrap();
    let to = from + 7 * 86_400;
    let db = &app.carnet.db;
    let all = carnet_app::agenda::actions::diaries(db, &[rep.id, app.admin.id], from, to, 100)
        .await
        .unwrap();
    let order: Vec<&str> = all.iter().map(|e| e.subject.as_str()).collect();
    let (first, second) = if app.admin.id < rep.id { (0, 2) } else { (2, 0) };
    let mut want = vec![""; 4];
    want[first] = "Admin first";
    want[first + 1] = odd;
    want[second] = "Rep first";
    want[second + 1] = "Rep later";
    assert_eq!(order, want, "by diary, then time");
    let e = all.iter().find(|e| e.subject == "Rep first").unwrap();
    assert_eq!(
        (
            e.record_name.as_deref(),
            e.account_id,
            e.opportunity_id,
            e.duration_min,
            e.assignee_id,
            e.outcome.as_deref()
        ),
        (
            Some("Fleet \\ 2027"),
            acc["id"].as_i64(),
            opp["id"].as_i64(),
            Some(45),
            Some(rep.id),
            None
        ),
        "the opportunity's name"
    );
    assert_eq!(e.starts_at, Some(from + 8 * 3600));
    let e = all.iter().find(|e| e.subject == odd).unwrap();
    assert_eq!(e.record_name.as_deref(), Some("Zoë & \"Fils\""), "else the account's");
    assert_eq!(all.iter().find(|e| e.subject == "Admin first").unwrap().record_name, None);
    let two = carnet_app::agenda::actions::diaries(db, &[rep.id, app.admin.id], from, to, 2)
        .await
        .unwrap();
    assert_eq!(
        two.iter().map(|e| e.subject.as_str()).collect::<Vec<_>>(),
        &want[..2],
        "the limit keeps the first"
    );
    assert!(carnet_app::agenda::actions::diaries(db, &[rep.id], to, to + 86_400, 10)
        .await
        .unwrap()
        .is_empty());
    let b = app.browser(ADMIN_EMAIL).await;
    let page = b.get("/agenda?view=week&date=2027-03-01").await;
    assert!(
        page.body.contains("Call &quot;Zoë&quot; \\ back") || page.body.contains("Call &#34;Zoë&#34; \\ back"),
        "escaped on the page"
    );
    assert!(!page.body.contains("<b>"));
}

/// A busy diary's feed carries every action of the window, the furthest future
/// included (it was capped at 1,000 from 90 days back, oldest first).
#[tokio::test]
async fn a_busy_calendar_feed_keeps_its_furthest_future() {
    let app = spawn_app().await;
    let (_, f) = app.post("/api/v1/me/calendar-feed", json!({})).await;
    let url = f["url"].as_str().unwrap().to_string();
    let path = url[url.find("/calendar/").unwrap()..].to_string();
    let demo: i64 = carnet_app::db::q("SELECT id FROM action_types WHERE name = 'Demo'")
        .scalar(&mut app.carnet.db.conn().await.unwrap())
        .await
        .unwrap();
    let now = app.carnet.db.now();
    // 1,500 appointments from 80 days back to 360 days ahead, several at the same instant.
    let rows: Vec<Vec<carnet_app::db::Value>> = (0..1500i64)
        .map(|i| {
            let at = now - 80 * 86_400 + (i / 3) * 76_000;
            vec![
                demo.into(),
                format!("Meeting {i}").into(),
                app.admin.id.into(),
                at.into(),
                30i64.into(),
                at.into(),
                0i64.into(),
                now.into(),
                now.into(),
            ]
        })
        .collect();
    let mut tx = app.carnet.db.begin().await.unwrap();
    carnet_app::db::dialect::bulk_insert(
        &mut tx,
        "actions",
        &[
            "type_id",
            "subject",
            "assignee_id",
            "starts_at",
            "duration_min",
            "planned_at",
            "sequence",
            "created_at",
            "updated_at",
        ],
        &rows,
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let body = app.http.get(app.url(&path)).send().await.unwrap().text().await.unwrap();
    assert_eq!(body.matches("BEGIN:VEVENT").count(), 1500);
    assert!(body.contains("SUMMARY:Meeting 1499"), "the furthest future is there");
}

/// No agenda date, however far, makes a page fail (chrono's limits).
#[tokio::test]
async fn agenda_dates_at_the_calendars_limits_do_not_fail() {
    let app = spawn_app().await;
    let b = app.browser(ADMIN_EMAIL).await;
    for date in [
        "+262142-12-31",
        "-262143-01-01",
        "0000-01-01",
        "9999-12-31",
        "1899-12-31",
        "2026-02-30",
    ] {
        for view in ["day", "week", "month"] {
            let page = b.get(&format!("/agenda?view={view}&date={}", date.replace('+', "%2B"))).await;
            assert_eq!(page.status, StatusCode::OK, "{view} {date}");
        }
    }
}
