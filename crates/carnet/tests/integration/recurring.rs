//! Recurring actions (A6): occurrences that follow the segment, the owner, the
//! work done and the owner's diary.

use crate::helpers::*;
use carnet_app::agenda::recurring::{PlanRule, RulePayload};
use reqwest::{Method, StatusCode};
use serde_json::json;

/// The open occurrences of a recurring rule on an account, in order.
async fn occurrences(app: &TestApp, account: &serde_json::Value, rule: i64) -> Vec<serde_json::Value> {
    let (_, list) = app.get(&format!("/api/v1/actions?account={account}&open=true")).await;
    list["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["recurring_rule_id"] == rule)
        .cloned()
        .collect()
}

fn local_day(a: &serde_json::Value) -> chrono::NaiveDate {
    let t = chrono::DateTime::parse_from_rfc3339(a["starts_at"].as_str().unwrap()).unwrap();
    t.with_timezone(&chrono_tz::Europe::Paris).date_naive()
}

/// The working day on or after a day (where occurrences land).
fn working(mut d: chrono::NaiveDate) -> chrono::NaiveDate {
    use chrono::Datelike;
    while d.weekday().number_from_monday() > 5 {
        d = d.succ_opt().unwrap();
    }
    d
}

#[tokio::test]
async fn recurring_actions_follow_the_segment_the_owner_and_the_work_done() {
    use chrono::Months;
    let app = spawn_app().await;
    let (_, a) = app
        .post(
            "/api/v1/accounts",
            json!({"name": "Gold A", "tags": ["Gold"], "owner": app.admin.id}),
        )
        .await;
    let (_, b) = app
        .post(
            "/api/v1/accounts",
            json!({"name": "Gold B", "tags": ["Gold"], "owner": app.admin.id}),
        )
        .await;
    let (_, c) = app
        .post(
            "/api/v1/accounts",
            json!({"name": "Bronze C", "tags": ["Bronze"], "owner": app.admin.id}),
        )
        .await;
    // Bad input: every 0 months, no segment, both a tag and a view.
    for (body, field) in [
        (
            json!({"name": "Visit", "type": "Customer visit", "segment": "Gold", "every_months": 0}),
            "every_months",
        ),
        (json!({"name": "Visit", "type": "Customer visit", "every_months": 4}), "segment"),
        (
            json!({"name": "Visit", "type": "Nope", "segment": "Gold", "every_months": 4}),
            "type",
        ),
        (
            json!({"name": "Visit", "type": "Customer visit", "segment": "Gold", "every_months": 4, "start_time": "25:00"}),
            "start_time",
        ),
    ] {
        let (s, e) = app.post("/api/v1/recurring-rules", body).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
        assert!(e["error"]["fields"][field].is_string(), "{e}");
    }
    assert_eq!(app.count("recurring_rules").await, 0, "nothing saved");
    let (s, rule) = app
        .post(
            "/api/v1/recurring-rules",
            json!({"name": "Visit Gold customers", "type": "Customer visit", "segment": "Gold", "every_months": 4, "horizon_months": 10, "start_time": "10:00", "duration": 90}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{rule}");
    let rule_id = rule["data"]["id"].as_i64().unwrap();
    drain(&app).await;
    let today = app.carnet.db.clock().today_utc();
    let plan = |from: chrono::NaiveDate, n: u32| -> Vec<chrono::NaiveDate> {
        let mut out = vec![working(from)];
        for _ in 1..n {
            out.push(working(*out.last().unwrap() + Months::new(4)));
        }
        out
    };
    let days = |occ: &[serde_json::Value]| occ.iter().map(local_day).collect::<Vec<_>>();
    let occ_a = occurrences(&app, &a["id"], rule_id).await;
    assert_eq!(days(&occ_a), plan(today, 3), "every 4 months within 10 months, on working days");
    for o in &occ_a {
        let t = chrono::DateTime::parse_from_rfc3339(o["starts_at"].as_str().unwrap()).unwrap();
        assert_eq!(
            t.with_timezone(&chrono_tz::Europe::Paris).format("%H:%M").to_string(),
            "10:00",
            "in the owner's zone"
        );
        assert_eq!(
            (o["duration_min"].as_i64(), o["assignee_id"].as_i64()),
            (Some(90), Some(app.admin.id))
        );
    }
    assert_eq!(occurrences(&app, &b["id"], rule_id).await.len(), 3);
    assert!(occurrences(&app, &c["id"], rule_id).await.is_empty(), "not in the segment");
    // Planning again changes nothing.
    queue::<PlanRule>(&app, RulePayload { rule_id }).await;
    drain(&app).await;
    assert_eq!(occurrences(&app, &a["id"], rule_id).await, occ_a, "idempotent");

    // C enters the segment, B leaves it.
    let (s, _) = app.patch(&format!("/api/v1/accounts/{}", c["id"]), json!({"tags": ["Gold"]})).await;
    assert_eq!(s, StatusCode::OK);
    app.patch(&format!("/api/v1/accounts/{}", b["id"]), json!({"tags": ["Bronze"]}))
        .await;
    drain(&app).await;
    assert_eq!(days(&occurrences(&app, &c["id"], rule_id).await), plan(today, 3));
    assert!(occurrences(&app, &b["id"], rule_id).await.is_empty(), "left the segment");

    // A new owner takes the open occurrences.
    let (rep, _) = app.user_with_key("rep@test.example", "sales").await;
    app.patch(&format!("/api/v1/accounts/{}", a["id"]), json!({"owner": rep.id})).await;
    drain(&app).await;
    let occ_a = occurrences(&app, &a["id"], rule_id).await;
    assert!(occ_a.iter().all(|o| o["assignee_id"] == rep.id), "{occ_a:?}");

    // A moved occurrence keeps its time; the next ones follow it.
    let moved_to = working(local_day(&occ_a[1]) + Months::new(1));
    let (s, m) = app
        .patch(
            &format!("/api/v1/actions/{}", occ_a[1]["id"]),
            json!({"starts_at": format!("{moved_to}T15:00")}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{m}");
    drain(&app).await;
    let after = occurrences(&app, &a["id"], rule_id).await;
    assert_eq!(after[1]["id"], occ_a[1]["id"]);
    assert_eq!(local_day(&after[1]), moved_to, "the moved one stays");
    assert_eq!(local_day(&after[2]), working(moved_to + Months::new(4)), "the next follows it");

    // Done early: the next occurrences count from the day it was done.
    let occ_c = occurrences(&app, &c["id"], rule_id).await;
    for o in &occ_c[..2] {
        let (s, _) = app
            .post(&format!("/api/v1/actions/{}/finish", o["id"]), json!({"outcome": "done"}))
            .await;
        assert_eq!(s, StatusCode::OK);
    }
    drain(&app).await;
    let occ_c = occurrences(&app, &c["id"], rule_id).await;
    // The day it was done is the assignee's (Paris), which is not UTC's late in the evening.
    let done_day = app.carnet.db.clock().today_in(chrono_tz::Europe::Paris);
    assert_eq!(days(&occ_c), plan(working(done_day + Months::new(4)), 2), "{occ_c:?}");

    // Deleting the rule removes the open occurrences and keeps the done ones.
    let (s, _) = app.api(Method::DELETE, &format!("/api/v1/recurring-rules/{rule_id}"), None).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    assert!(occurrences(&app, &a["id"], rule_id).await.is_empty());
    let (_, done) = app.get(&format!("/api/v1/actions?account={}", c["id"])).await;
    assert_eq!(
        done["data"].as_array().unwrap().iter().filter(|x| x["outcome"] == "done").count(),
        2
    );
}

/// Recurring appointments go to free times of the owner's diary: the rule's
/// time when free, else the next free time that day; they never overlap the
/// diary or each other, and return to the rule's time once it frees up.
#[tokio::test]
async fn recurring_appointments_find_free_times_in_the_diary() {
    let app = spawn_app().await;
    let day = working(app.carnet.db.clock().today_utc());
    let (s, blocker) = app
        .post(
            "/api/v1/actions",
            json!({"type": "Demo", "subject": "Blocker", "starts_at": format!("{day}T10:00"), "duration": 60}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{blocker}");
    assert_eq!(blocker["assignee_id"], app.admin.id);
    let mut accounts = Vec::new();
    for name in ["P1", "P2", "P3"] {
        let (_, a) = app
            .post("/api/v1/accounts", json!({"name": name, "tags": ["Gold"], "owner": app.admin.id}))
            .await;
        accounts.push(a);
    }
    let (s, rule) = app
        .post(
            "/api/v1/recurring-rules",
            json!({"name": "Platinum visit", "type": "Customer visit", "segment": "Gold", "every_months": 6, "horizon_months": 1, "start_time": "10:00", "duration": 60}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{rule}");
    let rule_id = rule["data"]["id"].as_i64().unwrap();
    drain(&app).await;
    let hm = |o: &serde_json::Value| {
        chrono::DateTime::parse_from_rfc3339(o["starts_at"].as_str().unwrap())
            .unwrap()
            .with_timezone(&chrono_tz::Europe::Paris)
            .format("%H:%M")
            .to_string()
    };
    let mut placed = Vec::new();
    for a in &accounts {
        let occ = occurrences(&app, &a["id"], rule_id).await;
        assert_eq!(occ.len(), 1, "{occ:?}");
        assert_eq!(local_day(&occ[0]), day);
        placed.push(occ[0].clone());
    }
    let mut times: Vec<String> = placed.iter().map(hm).collect();
    times.sort();
    assert_eq!(
        times,
        ["11:00", "14:00", "15:00"],
        "after the blocker, within working hours, one after the other"
    );

    // The blocker is cancelled: at the next planning, one visit takes the rule's
    // time again and the others stay where they are.
    let (s, _) = app
        .post(
            &format!("/api/v1/actions/{}/finish", blocker["id"]),
            json!({"outcome": "cancelled"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let replan = || async {
        queue::<PlanRule>(&app, RulePayload { rule_id }).await;
        drain(&app).await;
    };
    replan().await;
    let mut after = Vec::new();
    for a in &accounts {
        after.push(occurrences(&app, &a["id"], rule_id).await.remove(0));
    }
    let changed: Vec<(&serde_json::Value, &serde_json::Value)> = placed
        .iter()
        .zip(&after)
        .filter(|(b, a)| b["starts_at"] != a["starts_at"])
        .collect();
    assert_eq!(changed.len(), 1, "{after:?}");
    let (before, now) = changed[0];
    assert_eq!((now["id"].clone(), hm(now)), (before["id"].clone(), "10:00".to_string()));
    assert_eq!(now["sequence"], before["sequence"].as_i64().unwrap() + 1, "calendars see the move");
    replan().await;
    for (a, o) in accounts.iter().zip(&after) {
        assert_eq!(&occurrences(&app, &a["id"], rule_id).await[0], o, "planning again changes nothing");
    }
}
