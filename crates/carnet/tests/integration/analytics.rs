//! Analysis: every metric computed from the maintained facts equals a plain
//! recount over the records, after random writes spread over a year and a half
//! (time-zone edge days and daylight-saving days included) through the real
//! API: creations, moves, re-openings, amount and owner changes, deletions,
//! actions done and deleted, accounts changing segment or deleted.

use crate::helpers::*;
use carnet_app::analytics::engine::{self, Filters, Request, Source};
use carnet_domain::metrics::{self, Breakdown, Family, Period};
use reqwest::{Method, StatusCode};
use serde_json::json;

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[self.below(xs.len() as u64) as usize]
    }
}

const START: i64 = 1_735_689_600; // 2025-01-01 00:00 UTC
const SPAN_DAYS: i64 = 540;

/// A random instant; one in three falls within half an hour of a local midnight
/// in Paris (the reporting zone), some on daylight-saving days.
fn instant(rng: &mut Rng) -> i64 {
    let day = START + rng.below(SPAN_DAYS as u64) as i64 * 86_400;
    match rng.below(6) {
        0 | 1 => {
            let local = chrono::DateTime::from_timestamp(day, 0).unwrap().date_naive();
            let midnight = carnet_domain::agenda::parse_local(&format!("{local}T00:00"), chrono_tz::Europe::Paris).unwrap();
            midnight + rng.below(3600) as i64 - 1800
        }
        2 => *rng.pick(&[1_743_296_400 - 60, 1_743_296_400 + 60, 1_761_440_400 - 60, 1_761_440_400 + 60]),
        _ => day + rng.below(86_400) as i64,
    }
}

fn date(s: &str) -> chrono::NaiveDate {
    chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

#[tokio::test]
async fn every_metric_equals_a_recount_after_random_edits() {
    let app = spawn_app().await;
    // CARNET_TEST_SEED explores other histories; the default one is fixed.
    let seed = std::env::var("CARNET_TEST_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5eed_2026);
    let mut rng = Rng(seed);
    let (r1, _) = app.user_with_key("r1@test.example", "sales").await;
    let (r2, _) = app.user_with_key("r2@test.example", "manager").await;
    let owners = [app.admin.id, r1.id, r2.id];
    for (u, cost) in [(app.admin.id, 9_000), (r1.id, 4_500), (r2.id, 6_000)] {
        let mut tx = app.carnet.db.begin().await.unwrap();
        carnet_app::db::q("UPDATE users SET hourly_cost = $1 WHERE id = $2")
            .bind(cost)
            .bind(u)
            .execute(&mut tx)
            .await
            .unwrap();
        tx.commit().await.unwrap();
    }
    let (_, p) = app.get("/api/v1/pipelines").await;
    let stages: Vec<(i64, String)> = p["data"][0]["stages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["id"].as_i64().unwrap(), s["outcome"].as_str().unwrap().to_string()))
        .collect();
    let sources: Vec<String> = app.get("/api/v1/opportunity-sources").await.1["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap().to_string())
        .collect();
    let reason = app.get("/api/v1/lost-reasons").await.1["data"][0]["name"]
        .as_str()
        .unwrap()
        .to_string();
    let (_, offer) = app
        .post("/api/v1/offers", json!({"name": "Fleet", "code": "FLT", "list_price": "1000"}))
        .await;
    let types = ["Phone call", "Physical appointment", "Email", "Demo"];
    let tags = ["Gold", "Silver", "Bronze", ""];
    let mut accounts: Vec<i64> = Vec::new();
    let mut opps: Vec<i64> = Vec::new();
    let mut done: Vec<i64> = Vec::new();
    for i in 0..8 {
        app.carnet.db.clock().pin(Some(instant(&mut rng)));
        let tag = *rng.pick(&tags);
        let body = if tag.is_empty() {
            json!({"name": format!("Account {i}")})
        } else {
            json!({"name": format!("Account {i}"), "tags": [tag]})
        };
        let (s, a) = app.post("/api/v1/accounts", body).await;
        assert_eq!(s, StatusCode::CREATED, "{a}");
        accounts.push(a["id"].as_i64().unwrap());
    }
    for step in 0..260 {
        app.carnet.db.clock().pin(Some(instant(&mut rng)));
        let op = rng.below(100);
        match op {
            0..=24 => {
                let mut body = json!({
                    "name": format!("Deal {step}"), "account": *rng.pick(&accounts), "amount": format!("{}.{:02}", 100 + rng.below(90_000), rng.below(100)),
                    "owner": *rng.pick(&owners), "source": rng.pick(&sources).clone(),
                });
                if rng.below(3) == 0 {
                    body["offer"] = offer["id"].clone();
                    body["margin"] = json!("50.00");
                }
                let (s, o) = app.post("/api/v1/opportunities", body).await;
                assert_eq!(s, StatusCode::CREATED, "{o}");
                opps.push(o["id"].as_i64().unwrap());
            }
            25..=49 if !opps.is_empty() => {
                // Moves: forward, to won or lost, or back open (a re-opening).
                let id = *rng.pick(&opps);
                let (stage, outcome) = rng.pick(&stages).clone();
                let body = if outcome == "lost" {
                    json!({"stage": stage, "lost_reason": reason})
                } else {
                    json!({"stage": stage})
                };
                let (s, e) = app.post(&format!("/api/v1/opportunities/{id}/move"), body).await;
                assert!(s == StatusCode::OK || s == StatusCode::UNPROCESSABLE_ENTITY, "{e}");
            }
            50..=59 if !opps.is_empty() => {
                let id = *rng.pick(&opps);
                let body = match rng.below(3) {
                    0 => json!({"amount": format!("{}", 50 + rng.below(50_000))}),
                    1 => json!({"owner": *rng.pick(&owners)}),
                    _ => json!({"source": rng.pick(&sources).clone()}),
                };
                let (s, e) = app.patch(&format!("/api/v1/opportunities/{id}"), body).await;
                assert_eq!(s, StatusCode::OK, "{e}");
            }
            60..=81 => {
                // An action done, on an account, sometimes for one of its deals.
                let account = *rng.pick(&accounts);
                let mut body = json!({"type": *rng.pick(&types), "subject": format!("Work {step}"), "account": account,
                                      "assignee": *rng.pick(&owners), "due_date": "2025-06-02", "starts_at": "2025-06-02T10:00", "duration": 30});
                if !opps.is_empty() && rng.below(2) == 0 {
                    body["opportunity"] = json!(*rng.pick(&opps));
                }
                let ty = body["type"].as_str().unwrap();
                if ty == "Phone call" || ty == "Email" {
                    body.as_object_mut().unwrap().remove("starts_at");
                    body.as_object_mut().unwrap().remove("duration");
                } else {
                    body.as_object_mut().unwrap().remove("due_date");
                }
                let (s, a) = app.post("/api/v1/actions", body).await;
                if s != StatusCode::CREATED {
                    continue; // the opportunity was deleted meanwhile
                }
                let id = a["id"].as_i64().unwrap();
                app.carnet.db.clock().pin(Some(instant(&mut rng)));
                let (s, e) = app
                    .post(
                        &format!("/api/v1/actions/{id}/finish"),
                        json!({"outcome": "done", "spent_min": 5 + rng.below(120)}),
                    )
                    .await;
                assert_eq!(s, StatusCode::OK, "{e}");
                done.push(id);
            }
            82..=86 if !done.is_empty() => {
                let i = rng.below(done.len() as u64) as usize;
                let id = done.swap_remove(i);
                let (s, _) = app.api(Method::DELETE, &format!("/api/v1/actions/{id}"), None).await;
                assert!(s == StatusCode::NO_CONTENT || s == StatusCode::NOT_FOUND);
            }
            87..=93 => {
                let id = *rng.pick(&accounts);
                let tag = *rng.pick(&tags);
                let body = if tag.is_empty() {
                    json!({"tags": []})
                } else {
                    json!({"tags": [tag]})
                };
                let (s, e) = app.patch(&format!("/api/v1/accounts/{id}"), body).await;
                assert_eq!(s, StatusCode::OK, "{e}");
            }
            94..=96 if !opps.is_empty() => {
                let i = rng.below(opps.len() as u64) as usize;
                let id = opps.swap_remove(i);
                let (s, _) = app.api(Method::DELETE, &format!("/api/v1/opportunities/{id}"), None).await;
                assert_eq!(s, StatusCode::NO_CONTENT);
            }
            97..=99 if accounts.len() > 4 => {
                let i = rng.below(accounts.len() as u64) as usize;
                let id = accounts.swap_remove(i);
                let (s, _) = app.api(Method::DELETE, &format!("/api/v1/accounts/{id}"), None).await;
                assert_eq!(s, StatusCode::NO_CONTENT);
                // Its deals went with it.
                let (_, left) = app.get("/api/v1/opportunities?limit=1000").await;
                let alive: Vec<i64> = left["data"].as_array().unwrap().iter().map(|o| o["id"].as_i64().unwrap()).collect();
                opps.retain(|o| alive.contains(o));
            }
            _ => {}
        }
    }
    app.carnet.db.clock().pin(None);
    let db = &app.carnet.db;
    let sales = carnet_app::sales::catalog(db).await.unwrap();
    let cat = carnet_app::settings::catalog(db).await.unwrap();
    let tag_ids: Vec<i64> = tags.iter().filter(|t| !t.is_empty()).map(|t| cat.resolve_tag(t).unwrap()).collect();
    let checked: Vec<&metrics::Metric> = metrics::CATALOGUE
        .iter()
        .filter(|m| matches!(m.family, Family::Deals | Family::Actions | Family::Effort | Family::Pipeline))
        .collect();
    let mut compared = 0;
    for round in 0..160 {
        let m = checked[round % checked.len()];
        let period = if m.family == Family::Pipeline {
            Period::new(date("2025-01-01"), date("2034-12-31")).unwrap()
        } else if rng.below(4) == 0 {
            let today = date("2025-01-01") + chrono::Duration::days(rng.below(SPAN_DAYS as u64) as i64);
            Period::preset(metrics::PRESETS[rng.below(metrics::PRESETS.len() as u64) as usize], today).unwrap()
        } else {
            let from = date("2024-12-20") + chrono::Duration::days(rng.below(SPAN_DAYS as u64) as i64);
            Period::new(from, from + chrono::Duration::days(rng.below(420) as i64)).unwrap()
        };
        let breakdown = if rng.below(4) == 0 { None } else { Some(*rng.pick(m.breakdowns)) };
        let mut filters = Filters {
            currency: "EUR".into(),
            ..Filters::default()
        };
        match rng.below(5) {
            0 => filters.owners = vec![*rng.pick(&owners)],
            1 => filters.segments = vec![*rng.pick(&tag_ids)],
            _ => {}
        }
        let r = Request {
            metric: m,
            period,
            compare: Some(period.previous()),
            also: Some(period.year_before()),
            breakdown,
            filters,
        };
        let facts = engine::values(db, &sales, &r, Source::Facts).await.unwrap();
        let recount = engine::values(db, &sales, &r, Source::Records).await.unwrap();
        let close = |a: &[f64], b: &[f64]| a.len() == b.len() && a.iter().zip(b).all(|(x, y)| (x - y).abs() < 1e-6);
        let what = format!("{} {:?} {:?} {:?}", m.id, r.period, r.breakdown.map(Breakdown::key), r.filters);
        assert!(
            close(&facts.total.parts, &recount.total.parts),
            "{what}: total {:?} ≠ recount {:?}",
            facts.total.parts,
            recount.total.parts
        );
        let same = |a: Option<f64>, b: Option<f64>| match (a, b) {
            (Some(x), Some(y)) => (x - y).abs() < 1e-6,
            (x, y) => x == y,
        };
        assert!(same(facts.total.compare, recount.total.compare), "{what}: comparison");
        assert!(same(facts.also, recount.also), "{what}: a year before");
        let nonzero = |rows: &[engine::Row]| -> Vec<(String, Vec<f64>)> {
            rows.iter()
                .filter(|r| r.parts.iter().any(|x| *x != 0.0))
                .map(|r| (r.key.clone(), r.parts.clone()))
                .collect()
        };
        let (a, b) = (nonzero(&facts.rows), nonzero(&recount.rows));
        assert_eq!(a.len(), b.len(), "{what}: groups {a:?} vs {b:?}");
        for ((ka, pa), (kb, pb)) in a.iter().zip(&b) {
            assert!(ka == kb && close(pa, pb), "{what}: group {ka} {pa:?} ≠ {kb} {pb:?}");
        }
        if facts.total.parts.iter().any(|x| *x != 0.0) {
            compared += 1;
        }
    }
    assert!(compared > 60, "most checks saw data ({compared})");
    // A rebuild from the records gives the same facts.
    let before = dump(&app).await;
    let mut tx = db.begin().await.unwrap();
    carnet_app::analytics::facts::rebuild(&mut tx).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(dump(&app).await, before, "maintained facts = rebuilt facts");
}

/// The non-zero fact rows, sorted.
async fn dump(app: &TestApp) -> Vec<String> {
    let mut c = app.carnet.db.conn().await.unwrap();
    let mut out = Vec::new();
    type DealRow = (String, i64, String, String, i64, i64, i64, i64, String, i64, i64, i64);
    type EffortRow = (String, i64, String, String, i64, i64, i64, i64);
    let deals: Vec<DealRow> = carnet_app::db::q(
        "SELECT grain, owner_key, bucket, kind, segment_key, source_key, pipeline_id, offer_key, currency, deals, amount, margin FROM fact_deals \
         WHERE deals <> 0 OR amount <> 0 OR margin <> 0",
    )
    .fetch_all(&mut c)
    .await
    .unwrap();
    out.extend(deals.iter().map(|r| format!("{r:?}")));
    let acts: Vec<(String, i64, String, i64, i64, i64, i64)> = carnet_app::db::q(
        "SELECT grain, assignee_key, bucket, type_id, segment_key, actions, minutes FROM fact_actions WHERE actions <> 0 OR minutes <> 0",
    )
    .fetch_all(&mut c)
    .await
    .unwrap();
    out.extend(acts.iter().map(|r| format!("{r:?}")));
    let effort: Vec<EffortRow> = carnet_app::db::q(
        "SELECT grain, assignee_key, bucket, kind, type_id, segment_key, actions, minutes FROM fact_effort WHERE actions <> 0 OR minutes <> 0",
    )
    .fetch_all(&mut c)
    .await
    .unwrap();
    out.extend(effort.iter().map(|r| format!("{r:?}")));
    out.sort();
    out
}

/// The metrics API, its errors and role limits; dashboards with their widgets
/// (a broken widget shows its error, the others their values); exports; the
/// home strip; snapshots for a past day; the verify command's check.
#[tokio::test]
async fn metrics_api_dashboards_and_the_home_strip() {
    let app = spawn_app().await;
    let (_, a) = app.post("/api/v1/accounts", json!({"name": "Won Co", "tags": ["Gold"]})).await;
    let (_, o) = app
        .post(
            "/api/v1/opportunities",
            json!({"name": "Fleet", "account": a["id"], "amount": "12000", "owner": app.admin.id}),
        )
        .await;
    let (s, e) = app
        .post(&format!("/api/v1/opportunities/{}/move", o["id"]), json!({"stage": "Won"}))
        .await;
    assert_eq!(s, StatusCode::OK, "{e}");
    let (_, act) = app
        .post(
            "/api/v1/actions",
            json!({"type": "Phone call", "subject": "Call", "account": a["id"], "opportunity": o["id"]}),
        )
        .await;
    app.post(
        &format!("/api/v1/actions/{}/finish", act["id"]),
        json!({"outcome": "done", "spent_min": 90}),
    )
    .await;

    let (s, cat) = app.get("/api/v1/metrics").await;
    assert_eq!(s, StatusCode::OK);
    let list = cat["data"].as_array().unwrap();
    assert_eq!(list.len(), metrics::CATALOGUE.len());
    assert!(list.iter().all(|m| !m["definition"].as_str().unwrap().is_empty()));
    let (s, v) = app
        .get("/api/v1/metrics/opportunities_won/values?period=this_month&compare=previous")
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(
        (v["total"]["value"].as_f64(), v["computed_from"].as_str()),
        (Some(1.0), Some("facts"))
    );
    let (_, v) = app.get("/api/v1/metrics/won_amount/values?breakdown=segment").await;
    assert_eq!(v["rows"][0]["label"], "Gold");
    assert_eq!(v["rows"][0]["value"].as_f64(), Some(12000.0));
    let (_, v) = app.get("/api/v1/metrics/average_basket/values?breakdown=status").await;
    assert_eq!(
        (v["computed_from"].as_str(), v["rows"][0]["value"].as_f64()),
        (Some("records"), Some(12000.0)),
        "{v}"
    );
    assert!(!v["rows"][0]["label"].as_str().unwrap().is_empty());
    let (_, v) = app.get("/api/v1/metrics/time_spent/values?period=this_year").await;
    assert_eq!(v["total"]["value"].as_f64(), Some(1.5));
    let (_, v) = app
        .get("/api/v1/metrics/opportunities_created/values?from=2026-01-01&to=2026-01-31&compare_from=2025-12-01&compare_to=2025-12-15")
        .await;
    assert_eq!(v["compare_length_differs"], true, "allowed, but labelled");
    // An unknown metric is an unknown resource (see api_contract).
    assert_eq!(app.get("/api/v1/metrics/nope/values").await.0, StatusCode::NOT_FOUND);
    for (url, field) in [
        ("/api/v1/metrics/time_spent/values?breakdown=source", "breakdown"),
        ("/api/v1/metrics/time_spent/values?breakdown=colour", "breakdown"),
        ("/api/v1/metrics/time_spent/values?from=2026-03-02&to=2026-03-01", "to"),
        ("/api/v1/metrics/won_amount/values?segment=Platinum", "segment"),
        ("/api/v1/metrics/won_amount/values?period=someday", "period"),
        ("/api/v1/metrics/won_amount/values?colour=red", "colour"),
    ] {
        let (s, e) = app.get(url).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{url}: {e}");
        assert!(e["error"]["fields"][field].is_string(), "{url}: {e}");
    }
    // A rep sees their own figures; the company's money is for managers.
    let (rep, key) = app.user_with_key("rep@test.example", "sales").await;
    let (s, v) = app
        .api_with(&key, Method::GET, "/api/v1/metrics/opportunities_won/values", None)
        .await;
    assert_eq!(
        (s, v["total"]["value"].as_f64()),
        (StatusCode::OK, Some(0.0)),
        "the rep's own: none"
    );
    let (s, e) = app.api_with(&key, Method::GET, "/api/v1/metrics/revenue/values", None).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(e["error"]["fields"]["metric"].as_str().unwrap().contains("managers"));
    let (s, _) = app
        .api_with(
            &key,
            Method::GET,
            &format!("/api/v1/metrics/opportunities_won/values?owner={}", app.admin.id),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    let _ = rep;

    // The default dashboard, and one of our own with a broken widget.
    let (_, boards) = app.get("/api/v1/dashboards").await;
    let default = boards["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["name"] == "Sales model review")
        .unwrap()["id"]
        .clone();
    let (s, d) = app.get(&format!("/api/v1/dashboards/{default}")).await;
    assert_eq!(s, StatusCode::OK);
    let widgets = d["widgets"].as_array().unwrap();
    assert_eq!(widgets.len(), 6);
    assert!(widgets.iter().all(|w| w["values"].is_object()), "{d}");
    let (s, mine) = app.post("/api/v1/dashboards", json!({"name": "Mine"})).await;
    assert_eq!(s, StatusCode::CREATED);
    let id = mine["id"].clone();
    let (s, e) = app
        .post(
            &format!("/api/v1/dashboards/{id}/widgets"),
            json!({"chart": "radar", "metric": "time_spent"}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
    app.post(
        &format!("/api/v1/dashboards/{id}/widgets"),
        json!({"title": "Broken", "chart": "bar", "metric": "time_spent", "query": "breakdown=source"}),
    )
    .await;
    let (s, w) = app
        .post(
            &format!("/api/v1/dashboards/{id}/widgets"),
            json!({"title": "Won by segment", "chart": "pie", "metric": "won_amount", "query": "period=this_year&breakdown=segment&compare=last_year"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    let (_, d) = app.get(&format!("/api/v1/dashboards/{id}")).await;
    assert!(d["widgets"][0]["error"]["fields"]["breakdown"].is_string(), "{d}");
    assert_eq!(d["widgets"][1]["values"]["total"]["value"].as_f64(), Some(12000.0));

    // Pages: the dashboard with SVG charts, exports, the home strip.
    let b = app.browser(ADMIN_EMAIL).await;
    let page = b.get(&format!("/dashboards/{id}")).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("<svg") && page.body.contains("This widget cannot be computed") && page.body.contains("Gold: €12,000.00"));
    let svg = b.get(&format!("/dashboards/{id}/widgets/{}/export?format=svg", w["id"])).await;
    assert!(svg.body.starts_with("<svg") && svg.body.contains("Gold"));
    let csv = b.get(&format!("/dashboards/{id}/widgets/{}/export?format=csv", w["id"])).await;
    assert!(
        csv.body.starts_with("group,value,compared,change") && csv.body.contains("\"Gold\",\"€12,000.00\""),
        "{}",
        csv.body
    );
    let page = b.get(&format!("/dashboards/{default}")).await;
    assert_eq!(page.body.matches("class=\"panel widget").count(), 6);
    let home = b.get("/").await;
    assert!(
        home.body.contains("Opportunities won") && home.body.contains("€12,000.00"),
        "the strip shows the won amount"
    );
    let p = b.post_form("/figures", &[("figures", "time_spent"), ("figures", "revenue")]).await;
    assert_eq!(p.status, StatusCode::SEE_OTHER);
    let home = b.get("/?period=this_year").await;
    assert!(home.body.contains("data-metric=\"revenue\"") && !home.body.contains("data-metric=\"opportunities_won\""));
    let (_, figs) = app.get("/api/v1/me/figures?period=this_year").await;
    let ids: Vec<&str> = figs["data"]
        .as_array()
        .unwrap_or_else(|| panic!("{figs}"))
        .iter()
        .map(|f| f["metric"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["time_spent", "revenue"]);
    // With their values, the same as the metric asked alone.
    let (_, revenue) = app.get("/api/v1/metrics/revenue/values?period=this_year&compare=previous").await;
    assert_eq!(figs["data"][1]["value"], revenue["total"]["value"], "{figs}");
    assert_eq!(figs["data"][1]["previous"], revenue["total"]["compare"], "{figs}");
    assert_eq!(figs["data"][1]["name"], "Revenue");
    let (s, e) = app.get("/api/v1/me/figures?period=next_century").await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
    let custom = b.get("/?from=2026-01-05&to=2026-02-20").await;
    assert!(
        custom.body.contains("value=\"2026-01-05\"") && custom.body.contains("Feb 20, 2026"),
        "a custom period"
    );
    let bad = b.get("/?from=2026-03-05&to=2026-02-20").await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY, "a period that ends before it starts");

    // History: a past day without its snapshot has no answer (see
    // `snapshots_are_taken_once_at_the_end_of_the_day` for the history itself).
    let yesterday = app.carnet.db.clock().today_utc() - chrono::Duration::days(1);
    let (s, e) = app
        .get(&format!("/api/v1/metrics/open_pipeline/values?from={yesterday}&to={yesterday}"))
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "no snapshot yet: {e}");
    for (name, amount) in [("Open deal", "500"), ("Later deal", "700")] {
        app.post("/api/v1/opportunities", json!({"name": name, "account": a["id"], "amount": amount}))
            .await;
    }
    let (_, v) = app.get("/api/v1/metrics/open_pipeline/values").await;
    assert_eq!(v["total"]["value"].as_f64(), Some(1200.0));

    let check = carnet_app::analytics::verify(&app.carnet.db, 3).await.unwrap();
    assert!(check.checks > 30 && check.differences.is_empty(), "{:?}", check.differences);
}

/// The groups of a raw record for a breakdown.
type Groups<'a, T> = Box<dyn Fn(&T) -> Vec<String> + 'a>;

/// Breakdowns by any tag category (several tags: the record counts in each
/// group, once in the total) and by single-choice custom fields of accounts,
/// contacts and opportunities, checked against a recount written here over the
/// raw tables; the errors, the catalogue and the widget form.
#[tokio::test]
async fn breakdowns_by_tags_and_custom_fields_equal_a_recount() {
    let app = spawn_app().await;
    let mut rng = Rng(0xb7ea_4d0e);
    let (s, cat) = app
        .post("/api/v1/tag-categories", json!({"name": "Interests", "multi": true}))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{cat}");
    let mut interest_ids = Vec::new();
    for t in ["Fleet", "Cloud", "Print"] {
        let (s, e) = app
            .post(
                &format!("/api/v1/tag-categories/{}/tags", cat["id"]),
                json!({"name": t, "color": "#3366aa"}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{e}");
        interest_ids.push(e["id"].as_i64().unwrap());
    }
    let mut fields = std::collections::HashMap::new();
    for (entity, key, kind, choices) in [
        ("account", "tier", "single_choice", vec!["A", "B", "C"]),
        ("opportunity", "channel", "single_choice", vec!["Web", "Partner"]),
        ("contact", "persona", "single_choice", vec!["Buyer", "User"]),
        ("account", "topics", "multiple_choice", vec!["X", "Y"]),
    ] {
        let (s, f) = app
            .post(
                "/api/v1/custom-fields",
                json!({"entity": entity, "key": key, "label": key, "kind": kind, "choices": choices}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{f}");
        fields.insert(key, f["id"].as_i64().unwrap());
    }
    let interests = ["Interests/Fleet", "Interests/Cloud", "Interests/Print"];
    let mut accounts = Vec::new();
    let mut contacts = Vec::new();
    for i in 0..9 {
        app.carnet.db.clock().pin(Some(instant(&mut rng)));
        let tags: Vec<&str> = interests.iter().copied().filter(|_| rng.below(2) == 0).collect();
        let mut body = json!({"name": format!("Account {i}"), "tags": tags});
        if rng.below(4) != 0 {
            body["custom"] = json!({"tier": *rng.pick(&["A", "B", "C"])});
        }
        let (s, a) = app.post("/api/v1/accounts", body).await;
        assert_eq!(s, StatusCode::CREATED, "{a}");
        let id = a["id"].as_i64().unwrap();
        accounts.push(id);
        let mut body = json!({"last_name": format!("Person {i}"), "account": id});
        if rng.below(3) != 0 {
            body["custom"] = json!({"persona": *rng.pick(&["Buyer", "User"])});
        }
        let (s, c) = app.post("/api/v1/contacts", body).await;
        assert_eq!(s, StatusCode::CREATED, "{c}");
        contacts.push((id, c["id"].as_i64().unwrap()));
    }
    let mut opps = Vec::new();
    for step in 0..70 {
        app.carnet.db.clock().pin(Some(instant(&mut rng)));
        match rng.below(3) {
            0 => {
                let mut body = json!({"name": format!("Deal {step}"), "account": *rng.pick(&accounts),
                                      "amount": format!("{}", 100 + rng.below(9_000))});
                if rng.below(3) != 0 {
                    body["custom"] = json!({"channel": *rng.pick(&["Web", "Partner"])});
                }
                let (s, o) = app.post("/api/v1/opportunities", body).await;
                assert_eq!(s, StatusCode::CREATED, "{o}");
                opps.push(o["id"].as_i64().unwrap());
            }
            1 if !opps.is_empty() => {
                let stage = if rng.below(2) == 0 {
                    json!({"stage": "Won"})
                } else {
                    json!({"stage": "Lost", "lost_reason": app.get("/api/v1/lost-reasons").await.1["data"][0]["name"].clone()})
                };
                let (s, e) = app.post(&format!("/api/v1/opportunities/{}/move", rng.pick(&opps)), stage).await;
                assert!(s == StatusCode::OK || s == StatusCode::UNPROCESSABLE_ENTITY, "{e}");
            }
            _ => {
                let (account, contact) = *rng.pick(&contacts);
                let mut body =
                    json!({"type": "Phone call", "subject": format!("Call {step}"), "account": account, "due_date": "2025-06-02"});
                if rng.below(2) == 0 {
                    body["contact"] = json!(contact);
                }
                if !opps.is_empty() && rng.below(2) == 0 {
                    body["opportunity"] = json!(*rng.pick(&opps));
                }
                let (s, a) = app.post("/api/v1/actions", body).await;
                assert_eq!(s, StatusCode::CREATED, "{a}");
                app.carnet.db.clock().pin(Some(instant(&mut rng)));
                let (s, e) = app
                    .post(
                        &format!("/api/v1/actions/{}/finish", a["id"]),
                        json!({"outcome": "done", "spent_min": 5 + rng.below(90)}),
                    )
                    .await;
                assert_eq!(s, StatusCode::OK, "{e}");
            }
        }
    }
    app.carnet.db.clock().pin(None);

    // The raw records, read plainly.
    let db = &app.carnet.db;
    let mut c = db.conn().await.unwrap();
    let tz = carnet_app::analytics::facts::zone(&mut c).await.unwrap();
    type Deal = (i64, i64, i64, Option<i64>, String, i64);
    let deals: Vec<Deal> = carnet_app::db::q("SELECT id, account_id, created_at, closed_at, status, amount FROM opportunities")
        .fetch_all(&mut c)
        .await
        .unwrap();
    type Act = (Option<i64>, Option<i64>, Option<i64>, i64, i64);
    let acts: Vec<Act> = carnet_app::db::q(
        "SELECT account_id, contact_id, opportunity_id, COALESCE(done_at, planned_at), COALESCE(spent_min, 0) FROM actions WHERE outcome = 'done'",
    )
    .fetch_all(&mut c)
    .await
    .unwrap();
    let tagged: Vec<(i64, i64)> = carnet_app::db::q(
        "SELECT rt.record_id, rt.tag_id FROM record_tags rt JOIN tags t ON t.id = rt.tag_id WHERE rt.entity = 'account' AND t.category_id = $1",
    )
    .bind(cat["id"].as_i64().unwrap())
    .fetch_all(&mut c)
    .await
    .unwrap();
    let values: Vec<(i64, i64, String)> = carnet_app::db::q("SELECT field_id, record_id, value_text FROM field_values")
        .fetch_all(&mut c)
        .await
        .unwrap();
    drop(c);
    let value_of = |field: i64, record: Option<i64>| -> Vec<String> {
        vec![values
            .iter()
            .find(|(f, r, _)| *f == field && Some(*r) == record)
            .map(|v| v.2.clone())
            .unwrap_or_default()]
    };
    let tags_of = |account: Option<i64>| -> Vec<String> {
        let mut t: Vec<String> = tagged
            .iter()
            .filter(|(r, _)| Some(*r) == account)
            .map(|(_, t)| t.to_string())
            .collect();
        if t.is_empty() {
            t.push("0".into());
        }
        t
    };
    let start = |d: chrono::NaiveDate| carnet_domain::agenda::parse_local(&format!("{d}T00:00"), tz).unwrap();

    let mut compared = 0;
    for round in 0..24 {
        let from = date("2024-12-20") + chrono::Duration::days(rng.below(SPAN_DAYS as u64) as i64);
        let to = from + chrono::Duration::days(30 + rng.below(400) as i64);
        let (a, b) = (start(from), start(to + chrono::Duration::days(1)));
        let within = |t: i64| t >= a && t < b;
        // Half the rounds keep only the accounts with one of the interests.
        let only: Option<i64> = (round >= 12).then(|| interest_ids[round % 3]);
        let kept = |account: Option<i64>| only.is_none_or(|t| tagged.iter().any(|(r, x)| Some(*r) == account && *x == t));
        let (breakdown, groups_deal, groups_act): (String, Groups<'_, Deal>, Groups<'_, Act>) = match round % 4 {
            0 => (
                format!("tags:{}", cat["id"]),
                Box::new(|d: &Deal| tags_of(Some(d.1))),
                Box::new(|x: &Act| tags_of(x.0)),
            ),
            1 => (
                "field:tier".into(),
                Box::new(|d: &Deal| value_of(fields["tier"], Some(d.1))),
                Box::new(|x: &Act| value_of(fields["tier"], x.0)),
            ),
            2 => (
                format!("field:{}", fields["channel"]),
                Box::new(|d: &Deal| value_of(fields["channel"], Some(d.0))),
                Box::new(|x: &Act| value_of(fields["channel"], x.2)),
            ),
            _ => (
                "field:persona".into(),
                Box::new(|_: &Deal| vec![]),
                Box::new(|x: &Act| value_of(fields["persona"], x.1)),
            ),
        };
        // (metric, the recount: per group and in total)
        let mut expected: Vec<(&str, std::collections::BTreeMap<String, f64>, f64)> = Vec::new();
        if round % 4 != 3 {
            let mut created = std::collections::BTreeMap::new();
            let mut won = std::collections::BTreeMap::new();
            let (mut created_total, mut won_total) = (0.0, 0.0);
            for d in deals.iter().filter(|d| kept(Some(d.1))) {
                if within(d.2) {
                    created_total += 1.0;
                    for g in groups_deal(d) {
                        *created.entry(g).or_insert(0.0) += 1.0;
                    }
                }
                if d.4 == "won" && d.3.is_some_and(within) && kept(Some(d.1)) {
                    won_total += d.5 as f64 / 100.0;
                    for g in groups_deal(d) {
                        *won.entry(g).or_insert(0.0) += d.5 as f64 / 100.0;
                    }
                }
            }
            expected.push(("opportunities_created", created, created_total));
            expected.push(("won_amount", won, won_total));
            // Effort: actions done on the deals won in the period, per won deal.
            let mut per_deal = std::collections::BTreeMap::new();
            let (mut actions_total, mut deals_total) = (0.0, 0.0);
            for d in deals.iter().filter(|d| d.4 == "won" && d.3.is_some_and(within) && kept(Some(d.1))) {
                let n = acts.iter().filter(|x| x.2 == Some(d.0)).count() as f64;
                actions_total += n;
                deals_total += 1.0;
                for g in groups_deal(d) {
                    let e = per_deal.entry(g).or_insert((0.0, 0.0));
                    e.0 += n;
                    e.1 += 1.0;
                }
            }
            let ratio = per_deal.into_iter().map(|(g, (n, d))| (g, n / d)).collect();
            expected.push((
                "actions_per_won_deal",
                ratio,
                if deals_total > 0.0 { actions_total / deals_total } else { 0.0 },
            ));
        }
        let mut spent = std::collections::BTreeMap::new();
        let mut spent_total = 0.0;
        for x in acts.iter().filter(|x| within(x.3) && kept(x.0)) {
            spent_total += x.4 as f64 / 60.0;
            for g in groups_act(x) {
                *spent.entry(g).or_insert(0.0) += x.4 as f64 / 60.0;
            }
        }
        expected.push(("time_spent", spent, spent_total));
        for (metric, groups, total) in expected {
            let mut url = format!("/api/v1/metrics/{metric}/values?from={from}&to={to}&breakdown={breakdown}");
            if let Some(t) = only {
                url.push_str(&format!("&tag={t}"));
            }
            let (s, v) = app.get(&url).await;
            assert_eq!(s, StatusCode::OK, "{url}: {v}");
            assert_eq!(v["computed_from"], "records", "{url}");
            let got: std::collections::BTreeMap<String, f64> = v["rows"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|r| r["value"].as_f64().unwrap_or(0.0) != 0.0)
                .map(|r| (r["key"].as_str().unwrap().to_string(), r["value"].as_f64().unwrap()))
                .collect();
            let want: std::collections::BTreeMap<String, f64> = groups.into_iter().filter(|(_, x)| *x != 0.0).collect();
            assert_eq!(got.keys().collect::<Vec<_>>(), want.keys().collect::<Vec<_>>(), "{url}: {v}");
            for (k, x) in &want {
                assert!((got[k] - x).abs() < 1e-6, "{url}: group {k} {} ≠ {x}", got[k]);
            }
            assert!(
                (v["total"]["value"].as_f64().unwrap_or(0.0) - total).abs() < 1e-6,
                "{url}: total {v}"
            );
            if total != 0.0 {
                compared += 1;
            }
        }
    }
    assert!(compared > 25, "most checks saw data ({compared})");

    // Filters by custom fields: several values of one field are any of them.
    let count_deals = |keep: &dyn Fn(&Deal) -> bool| deals.iter().filter(|d| keep(d)).count() as f64;
    for (query, want) in [
        (
            "field=channel:Web".to_string(),
            count_deals(&|d| value_of(fields["channel"], Some(d.0)) == ["Web"]),
        ),
        (
            "field=channel:web&field=channel:Partner".into(),
            count_deals(&|d| !value_of(fields["channel"], Some(d.0))[0].is_empty()),
        ),
        (
            format!("field=tier:B&tag={}", interest_ids[0]),
            count_deals(&|d| value_of(fields["tier"], Some(d.1)) == ["B"] && tagged.contains(&(d.1, interest_ids[0]))),
        ),
    ] {
        let url = format!("/api/v1/metrics/opportunities_created/values?from=2024-01-01&to=2026-12-31&{query}");
        let (s, v) = app.get(&url).await;
        assert_eq!(s, StatusCode::OK, "{url}: {v}");
        assert_eq!(v["total"]["value"].as_f64(), Some(want), "{url}: {v}");
    }
    let buyers: f64 = acts
        .iter()
        .filter(|x| value_of(fields["persona"], x.1) == ["Buyer"])
        .map(|x| x.4 as f64 / 60.0)
        .sum();
    let (_, v) = app
        .get("/api/v1/metrics/time_spent/values?from=2024-01-01&to=2026-12-31&field=persona:Buyer")
        .await;
    assert!((v["total"]["value"].as_f64().unwrap() - buyers).abs() < 1e-6, "{v}");
    for (url, field, says) in [
        ("/api/v1/metrics/won_amount/values?field=tier:Z", "field", "not a choice"),
        ("/api/v1/metrics/won_amount/values?field=tier", "field", "field:value"),
        ("/api/v1/metrics/won_amount/values?field=nope:A", "field", "not a custom field"),
        (
            "/api/v1/metrics/won_amount/values?field=persona:Buyer",
            "field",
            "cannot be filtered",
        ),
        (
            "/api/v1/metrics/weighted_pipeline/values?tag=Interests/Fleet",
            "tag",
            "cannot be filtered",
        ),
        ("/api/v1/metrics/won_amount/values?tag=Interests/Nope", "tag", "not"),
    ] {
        let (s, e) = app.get(url).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{url}: {e}");
        assert!(e["error"]["fields"][field].as_str().unwrap().contains(says), "{url}: {e}");
    }

    // Labels: a tag's name, a field's choice, "—" for none.
    let (_, v) = app
        .get("/api/v1/metrics/opportunities_created/values?from=2024-01-01&to=2026-12-31&breakdown=tags:Interests")
        .await;
    let labels: Vec<&str> = v["rows"].as_array().unwrap().iter().map(|r| r["label"].as_str().unwrap()).collect();
    assert!(
        labels.iter().all(|l| ["Fleet", "Cloud", "Print", "—"].contains(l)) && labels.len() > 1,
        "{v}"
    );
    assert_eq!(v["breakdown"], format!("tags:{}", cat["id"]));
    // The catalogue lists them for the metrics that take them.
    let (_, list) = app.get("/api/v1/metrics").await;
    let of = |id: &str| list["data"].as_array().unwrap().iter().find(|m| m["id"] == id).unwrap()["breakdowns"].clone();
    let tier = format!("field:{}", fields["tier"]);
    let persona = format!("field:{}", fields["persona"]);
    assert!(of("won_amount").as_array().unwrap().contains(&json!(tier)));
    assert!(
        !of("won_amount").as_array().unwrap().contains(&json!(persona)),
        "a deal has no one contact"
    );
    assert!(of("time_spent").as_array().unwrap().contains(&json!(persona)));
    assert!(!of("weighted_pipeline").as_array().unwrap().contains(&json!(tier)));
    for (url, says) in [
        ("/api/v1/metrics/won_amount/values?breakdown=tags:Nope", "not a tag category"),
        (
            "/api/v1/metrics/won_amount/values?breakdown=field:topics",
            "not a single-choice field",
        ),
        ("/api/v1/metrics/won_amount/values?breakdown=field:nope", "not a custom field"),
        ("/api/v1/metrics/won_amount/values?breakdown=field:persona", "cannot be broken down"),
        (
            "/api/v1/metrics/weighted_pipeline/values?breakdown=tags:Interests",
            "cannot be broken down",
        ),
    ] {
        let (s, e) = app.get(url).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{url}: {e}");
        assert!(e["error"]["fields"]["breakdown"].as_str().unwrap().contains(says), "{url}: {e}");
    }

    // A widget by a field, then the field deleted: the widget shows its error.
    let (_, d) = app.post("/api/v1/dashboards", json!({"name": "By tier"})).await;
    let id = d["id"].clone();
    for query in [
        "period=last_12_months&breakdown=field:tier",
        "period=last_12_months&breakdown=tags:Interests",
    ] {
        let (s, e) = app
            .post(
                &format!("/api/v1/dashboards/{id}/widgets"),
                json!({"title": query, "chart": "bar", "metric": "opportunities_created", "query": query}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{e}");
    }
    let b = app.browser(ADMIN_EMAIL).await;
    let page = b.get(&format!("/dashboards/{id}")).await;
    assert!(
        page.body
            .contains(&format!("<option value=\"tags:{}\" >Tags: Interests</option>", cat["id"]))
            && page.body.contains(&format!("value=\"{tier}\" >Field: tier</option>")),
        "the widget form offers them"
    );
    assert!(!page.body.contains("This widget cannot be computed"));
    // A widget made in the form, filtered by a tag: its filters in words.
    let fleet = interest_ids[0].to_string();
    let form = [
        ("op", "add"),
        ("title", "Fleet deals"),
        ("metric", "opportunities_created"),
        ("chart", "number"),
        ("tag", fleet.as_str()),
        ("period", "last_12_months"),
    ];
    let p = b.post_form(&format!("/dashboards/{id}"), &form).await;
    assert_eq!(p.status, StatusCode::SEE_OTHER);
    let (_, d) = app.get(&format!("/api/v1/dashboards/{id}")).await;
    assert_eq!(d["widgets"][2]["query"], format!("period=last_12_months&tag={fleet}"), "{d}");
    let page = b.get(&format!("/dashboards/{id}")).await;
    assert!(page.body.contains("Tags: Interests: Fleet"), "the widget says what it keeps");
    for filter in ["owner", "segment", "source", "pipeline", "stage", "type", "tag", "field"] {
        assert!(
            page.body.contains(&format!("name=\"{filter}\" multiple")),
            "the form filters by {filter}"
        );
    }
    let (s, _) = app
        .api(Method::DELETE, &format!("/api/v1/custom-fields/{}", fields["tier"]), None)
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (_, d) = app.get(&format!("/api/v1/dashboards/{id}")).await;
    assert!(d["widgets"][0]["error"]["fields"]["breakdown"].is_string(), "{d}");
    assert!(d["widgets"][1]["values"].is_object(), "{d}");
    // The widget form keeps what was typed when it is refused.
    let p = b
        .post_form(
            &format!("/dashboards/{id}"),
            &[
                ("op", "add"),
                ("title", "Kept title"),
                ("metric", "time_spent"),
                ("chart", "radar"),
                ("breakdown", &persona),
            ],
        )
        .await;
    assert_eq!(p.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        p.body.contains("value=\"Kept title\"") && p.body.contains(&format!("value=\"{persona}\" selected")),
        "typed values stay"
    );
}

/// K3: a day's pipeline and segment sizes are taken once, when the day ends in
/// the reporting zone, and never overwritten by a later state; a day whose end
/// was missed gets its pipeline from the stage history and no segment sizes; a
/// past day without a snapshot answers 422 for both, and the daily job queues
/// each day's snapshot for the end of that day in the reporting zone.
#[tokio::test]
async fn snapshots_are_taken_once_at_the_end_of_the_day() {
    use carnet_app::analytics::snapshots;
    let app = spawn_app().await;
    let db = &app.carnet.db;
    let paris = chrono_tz::Europe::Paris;
    let x = chrono::NaiveDate::from_ymd_opt(2026, 3, 28).unwrap(); // the last day before summer time
    let end_of = |d: chrono::NaiveDate| carnet_domain::time::day_start(paris, d + chrono::Duration::days(1));
    let day = chrono::Duration::days(1);
    let (_, gold) = app
        .post("/api/v1/tag-categories", json!({"name": "Tier", "is_segment": true}))
        .await;
    let (_, tag) = app
        .post(&format!("/api/v1/tag-categories/{}/tags", gold["id"]), json!({"name": "Gold"}))
        .await;
    // 23:50 on day x: an account of the segment with an open deal of 500.
    db.clock().pin(Some(end_of(x) - 600));
    let (_, a) = app.post("/api/v1/accounts", json!({"name": "Acme", "tags": [tag["id"]]})).await;
    app.post(
        "/api/v1/opportunities",
        json!({"name": "First", "account": a["id"], "amount": "500"}),
    )
    .await;
    // Before the day has ended nothing is taken.
    snapshots::take(db, x).await.unwrap();
    assert!(!snapshots::recorded(&mut db.conn().await.unwrap(), x, "pipeline").await.unwrap());
    // 00:01 the next day: taken as it is now, then a deal of 700 and a second Gold account.
    db.clock().pin(Some(end_of(x) + 60));
    snapshots::take(db, x).await.unwrap();
    app.post(
        "/api/v1/opportunities",
        json!({"name": "Second", "account": a["id"], "amount": "700"}),
    )
    .await;
    app.post("/api/v1/accounts", json!({"name": "Bolt", "tags": [tag["id"]]})).await;
    // Taking it again (a second node, a restart) changes nothing.
    snapshots::take(db, x).await.unwrap();
    let app_ref = &app;
    let value = |metric: &str, d: chrono::NaiveDate| {
        let path = format!("/api/v1/metrics/{metric}/values?from={d}&to={d}");
        async move { app_ref.get(&path).await }
    };
    let (s, v) = value("open_pipeline", x).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(
        (v["total"]["value"].as_f64(), v["computed_from"].as_str()),
        (Some(500.0), Some("snapshot"))
    );
    let (s, v) = value("segment_size", x).await;
    assert_eq!((s, v["total"]["value"].as_f64()), (StatusCode::OK, Some(1.0)), "{v}");

    // Day x+1 ends with no node running: two days later its pipeline is rebuilt
    // from the stage history (both deals were open then), its segment sizes are unknown.
    db.clock().pin(Some(end_of(x + day * 2) + 3600));
    snapshots::take(db, x + day).await.unwrap();
    let (_, v) = value("open_pipeline", x + day).await;
    assert_eq!(v["total"]["value"].as_f64(), Some(1200.0), "{v}");
    let (s, e) = value("segment_size", x + day).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
    assert!(e["error"]["fields"]["period"].as_str().unwrap().contains("no snapshot"), "{e}");
    // Neither metric answers for a day never recorded.
    for metric in ["open_pipeline", "segment_size"] {
        let (s, _) = value(metric, x - day * 30).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{metric}");
    }
    // Day x still reads what it was.
    assert_eq!(value("open_pipeline", x).await.1["total"]["value"].as_f64(), Some(500.0));

    // The daily job (run at any hour, on any node) queues yesterday's and today's
    // snapshots for the end of each day in the reporting zone, once.
    let today = x + day * 3;
    for _ in 0..2 {
        let mut tx = db.begin().await.unwrap();
        for task in db.registry().daily_tasks() {
            task(&mut tx, db.clock().today_utc()).await.unwrap();
        }
        tx.commit().await.unwrap();
    }
    let mut c = db.conn().await.unwrap();
    let queued: Vec<(String, i64)> = carnet_app::db::q("SELECT idempotency_key, run_at FROM jobs WHERE kind = 'snapshot' ORDER BY run_at")
        .fetch_all(&mut c)
        .await
        .unwrap();
    assert_eq!(
        queued,
        vec![
            (format!("snapshot:{}", today - day), end_of(today - day)),
            (format!("snapshot:{today}"), end_of(today)),
        ]
    );
    // Summer time: the day after x is 23 hours long, and its end is Paris midnight.
    assert_eq!(end_of(x + day) - end_of(x), 23 * 3600);
}

/// A filter a metric cannot apply is refused (422 naming it), never ignored;
/// the catalogue lists the filters each metric takes.
#[tokio::test]
async fn filters_a_metric_cannot_apply_are_refused() {
    let app = spawn_app().await;
    let (_, cat) = app.get("/api/v1/metrics").await;
    let listed = |id: &str| -> Vec<String> {
        cat["data"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["id"] == id)
            .map(|m| serde_json::from_value(m["filters"].clone()).unwrap())
            .unwrap()
    };
    assert!(listed("opportunities_won").contains(&"source".to_string()));
    assert!(!listed("opportunities_won").contains(&"stage".to_string()));
    assert_eq!(listed("customer_acquisition_cost"), ["segment"]);
    let me = app.admin.id;
    for (metric, query, field) in [
        ("opportunities_won", "stage=1".to_string(), "stage"),
        ("opportunities_won", "type=1".to_string(), "type"),
        ("open_pipeline", "source=1".to_string(), "source"),
        ("open_pipeline", "tag=1".to_string(), "tag"),
        ("customer_acquisition_cost", format!("owner={me}"), "owner"),
        ("time_spent", "pipeline=1".to_string(), "pipeline"),
        ("time_spent", "currency=EUR".to_string(), "currency"),
        ("segment_size", format!("owner={me}"), "owner"),
        ("lifetime_basket", format!("owner={me}"), "owner"),
    ] {
        let (s, e) = app.get(&format!("/api/v1/metrics/{metric}/values?{query}")).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{metric}?{query}: {e}");
        let why = e["error"]["fields"][field].as_str().unwrap_or_default();
        assert!(why.contains("cannot be filtered"), "{metric}?{query}: {e}");
    }
    // The filters a metric takes still work.
    for (metric, query) in [
        ("opportunities_won", format!("owner={me}")),
        ("open_pipeline", "pipeline=1".to_string()),
        ("time_spent", format!("owner={me}")),
        ("stalled_opportunities", "pipeline=1".to_string()),
    ] {
        let (s, e) = app.get(&format!("/api/v1/metrics/{metric}/values?{query}")).await;
        assert_eq!(s, StatusCode::OK, "{metric}?{query}: {e}");
    }
}

/// Counts and rates take every deal whatever its currency; money is summed in
/// the company's currency (or the one asked); an average divides the amounts by
/// the deals they come from; actions per won deal divide the actions on won
/// deals by those deals, in any currency. Checked against a recount of the
/// opportunities as the API lists them.
#[tokio::test]
async fn counts_take_every_currency_and_money_stays_per_currency() {
    let app = spawn_app().await;
    let (_, a) = app.post("/api/v1/accounts", json!({"name": "Globex"})).await;
    let (_, p) = app.get("/api/v1/pipelines").await;
    let stages = p["data"][0]["stages"].as_array().unwrap().clone();
    let stage = |outcome: &str| stages.iter().find(|s| s["outcome"] == outcome).unwrap()["id"].clone();
    // A pipeline in dollars, with an open and a won stage.
    let (_, usd) = app.post("/api/v1/pipelines", json!({"name": "Export", "currency": "USD"})).await;
    let mut usd_stages = Vec::new();
    for (name, outcome) in [("Proposal", "open"), ("Signed", "won")] {
        let (s, st) = app
            .post(
                &format!("/api/v1/pipelines/{}/stages", usd["id"]),
                json!({"name": name, "probability": 50, "outcome": outcome}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{st}");
        usd_stages.push(st["id"].clone());
    }
    let mut ids = Vec::new();
    for (name, amount, pipeline) in [
        ("Eur won", "100", &p["data"][0]["id"]),
        ("Eur open", "200", &p["data"][0]["id"]),
        ("Usd won", "1000", &usd["id"]),
        ("Usd open", "300", &usd["id"]),
    ] {
        let (s, o) = app
            .post(
                "/api/v1/opportunities",
                json!({"name": name, "account": a["id"], "amount": amount, "pipeline": pipeline}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{o}");
        ids.push(o["id"].as_i64().unwrap());
    }
    // Four done actions on the USD deal, then both "won" deals are won.
    for i in 0..4 {
        let (s, act) = app
            .post(
                "/api/v1/actions",
                json!({"type": "Phone call", "subject": format!("Call {i}"), "opportunity": ids[2], "due_date": "2026-01-05"}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{act}");
        let (s, e) = app
            .post(
                &format!("/api/v1/actions/{}/finish", act["id"]),
                json!({"outcome": "done", "spent_min": 30}),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{e}");
    }
    for (id, won) in [(ids[0], stage("won")), (ids[2], usd_stages[1].clone())] {
        let (s, e) = app.post(&format!("/api/v1/opportunities/{id}/move"), json!({"stage": won})).await;
        assert_eq!(s, StatusCode::OK, "{e}");
    }
    // The recount, from the list the API gives.
    let (_, list) = app.get("/api/v1/opportunities?limit=1000").await;
    let deals = list["data"].as_array().unwrap();
    let count = |f: &dyn Fn(&serde_json::Value) -> bool| deals.iter().filter(|d| f(d)).count() as f64;
    let eur_sum = |f: &dyn Fn(&serde_json::Value) -> bool| {
        deals
            .iter()
            .filter(|d| f(d) && d["currency"] == "EUR")
            .map(|d| d["amount"].as_str().unwrap().parse::<f64>().unwrap())
            .sum::<f64>()
    };
    let won = |d: &serde_json::Value| d["status"] == "won";
    let open = |d: &serde_json::Value| d["status"] == "open";
    let any = |_: &serde_json::Value| true;
    let expected = [
        ("opportunities_created", count(&any)),
        ("opportunities_created_amount", eur_sum(&any)),
        ("opportunities_won", count(&won)),
        ("won_amount", eur_sum(&won)),
        ("average_basket", eur_sum(&won) / count(&|d| won(d) && d["currency"] == "EUR")),
        ("transformation_rate", 100.0 * count(&won) / count(&|d| d["status"] != "open")),
        ("open_opportunities", count(&open)),
        ("open_pipeline", eur_sum(&open)),
        ("actions_per_won_deal", 4.0 / count(&won)),
        // Four half hours over the won deals.
        ("hours_per_won_deal", 2.0 / count(&won)),
    ];
    assert_eq!(expected[0].1, 4.0);
    for (metric, want) in expected {
        let (s, v) = app.get(&format!("/api/v1/metrics/{metric}/values?period=today")).await;
        assert_eq!(s, StatusCode::OK, "{metric}: {v}");
        assert_eq!(v["total"]["value"].as_f64(), Some(want), "{metric}: {v}");
    }
    // Asked in dollars: the same counts, the dollar amounts.
    let (_, v) = app.get("/api/v1/metrics/won_amount/values?period=today&currency=USD").await;
    assert_eq!(v["total"]["value"].as_f64(), Some(1000.0), "{v}");
    let (_, v) = app.get("/api/v1/metrics/opportunities_won/values?period=today&currency=USD").await;
    assert_eq!(v["total"]["value"].as_f64(), Some(2.0), "{v}");
}

/// Deleting a stage moves its deals through the ordinary move: lost deals moved
/// into a won stage are won on the day of the move (not on their loss date),
/// deals moved into an open stage are open again without a closing date or a
/// lost reason; the counts of the days before do not change.
#[tokio::test]
async fn deleting_a_stage_re_dates_the_deals_it_moves() {
    let app = spawn_app().await;
    let db = &app.carnet.db;
    let (_, a) = app.post("/api/v1/accounts", json!({"name": "Initech"})).await;
    let (_, p) = app.get("/api/v1/pipelines").await;
    let pipeline = p["data"][0]["id"].clone();
    let stage = |outcome: &str| {
        p["data"][0]["stages"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["outcome"] == outcome)
            .unwrap()["id"]
            .clone()
    };
    let reason = app.get("/api/v1/lost-reasons").await.1["data"][0]["name"].clone();
    let mut extra = Vec::new();
    for name in ["Lost on price", "Lost on timing"] {
        let (s, st) = app
            .post(
                &format!("/api/v1/pipelines/{pipeline}/stages"),
                json!({"name": name, "probability": 0, "outcome": "lost"}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{st}");
        extra.push(st["id"].clone());
    }
    // Lost in January: one deal in each extra lost stage.
    let january = chrono::NaiveDate::from_ymd_opt(2026, 1, 15).unwrap();
    db.clock()
        .pin(Some(carnet_domain::time::day_start(chrono_tz::Europe::Paris, january) + 36_000));
    let mut deals = Vec::new();
    for (i, st) in extra.iter().enumerate() {
        let (_, o) = app
            .post(
                "/api/v1/opportunities",
                json!({"name": format!("Deal {i}"), "account": a["id"], "amount": "1000"}),
            )
            .await;
        let (s, e) = app
            .post(
                &format!("/api/v1/opportunities/{}/move", o["id"]),
                json!({"stage": st, "lost_reason": reason}),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{e}");
        deals.push(o["id"].clone());
    }
    let app_ref = &app;
    let won_in = |period: &'static str| async move {
        let (_, v) = app_ref.get(&format!("/api/v1/metrics/opportunities_won/values?{period}")).await;
        v["total"]["value"].as_f64()
    };
    // In March, the first stage goes into the won stage, the second into an open one.
    let march = chrono::NaiveDate::from_ymd_opt(2026, 3, 10).unwrap();
    db.clock()
        .pin(Some(carnet_domain::time::day_start(chrono_tz::Europe::Paris, march) + 36_000));
    let (s, e) = app
        .api(
            Method::DELETE,
            &format!("/api/v1/stages/{}?move_to={}", extra[0], stage("won")),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT, "{e}");
    let (s, e) = app
        .api(
            Method::DELETE,
            &format!("/api/v1/stages/{}?move_to={}", extra[1], stage("open")),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT, "{e}");
    assert_eq!(won_in("from=2026-01-01&to=2026-01-31").await, Some(0.0));
    assert_eq!(won_in("from=2026-03-01&to=2026-03-31").await, Some(1.0));
    let (_, won) = app.get(&format!("/api/v1/opportunities/{}", deals[0])).await;
    assert_eq!(won["status"], "won");
    assert!(won["closed_at"].as_str().unwrap().starts_with("2026-03-10"), "{won}");
    assert!(won["lost_reason"].is_null(), "{won}");
    let (_, open) = app.get(&format!("/api/v1/opportunities/{}", deals[1])).await;
    assert_eq!(open["status"], "open");
    assert!(open["closed_at"].is_null() && open["lost_reason"].is_null(), "{open}");
    // Neither is a lost deal any more: January counts no loss (a deal counts
    // as lost on its closing date while it stays lost).
    let (_, v) = app
        .get("/api/v1/metrics/opportunities_lost/values?from=2026-01-01&to=2026-01-31")
        .await;
    assert_eq!(v["total"]["value"].as_f64(), Some(0.0), "{v}");
}

/// The weighted pipeline is rounded once: live, in a day's snapshot and in a
/// day rebuilt from the history, three one-cent deals at 50 % weigh 1.5 cents.
#[tokio::test]
async fn the_weighted_pipeline_is_rounded_once() {
    use carnet_app::analytics::snapshots;
    let app = spawn_app().await;
    let db = &app.carnet.db;
    let paris = chrono_tz::Europe::Paris;
    let x = chrono::NaiveDate::from_ymd_opt(2026, 5, 4).unwrap();
    let end_of = |d: chrono::NaiveDate| carnet_domain::time::day_start(paris, d + chrono::Duration::days(1));
    db.clock().pin(Some(end_of(x) - 3600));
    let (_, pipe) = app.post("/api/v1/pipelines", json!({"name": "Small"})).await;
    let (_, st) = app
        .post(
            &format!("/api/v1/pipelines/{}/stages", pipe["id"]),
            json!({"name": "Half", "probability": 50}),
        )
        .await;
    let (_, a) = app.post("/api/v1/accounts", json!({"name": "Tiny"})).await;
    for i in 0..3 {
        let (s, o) = app
            .post(
                "/api/v1/opportunities",
                json!({"name": format!("Cent {i}"), "account": a["id"], "amount": "0.01", "pipeline": pipe["id"], "stage": st["id"]}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{o}");
    }
    let (app_ref, pid) = (&app, pipe["id"].to_string());
    let pid = &pid;
    let weighted = |q: String| async move {
        let (s, v) = app_ref
            .get(&format!("/api/v1/metrics/weighted_pipeline/values?pipeline={pid}&{q}"))
            .await;
        assert_eq!(s, StatusCode::OK, "{v}");
        v["total"]["value"].as_f64().unwrap()
    };
    let live = weighted(String::new()).await;
    assert!((live - 0.015).abs() < 1e-9, "live {live}");
    // Day x taken live at its end; day x+1 rebuilt from the history two days later.
    db.clock().pin(Some(end_of(x) + 60));
    snapshots::take(db, x).await.unwrap();
    db.clock().pin(Some(end_of(x + chrono::Duration::days(2)) + 3600));
    snapshots::take(db, x + chrono::Duration::days(1)).await.unwrap();
    for day in [x, x + chrono::Duration::days(1)] {
        let past = weighted(format!("from={day}&to={day}")).await;
        assert_eq!(past, live, "{day}");
    }
}

/// Stalled opportunities of a past period are those stalled at its end, from
/// that day's snapshot (taken live or rebuilt from the stage history), not
/// today's count.
#[tokio::test]
async fn stalled_deals_of_a_past_period_are_those_stalled_at_its_end() {
    use carnet_app::analytics::snapshots;
    let app = spawn_app().await;
    let db = &app.carnet.db;
    let paris = chrono_tz::Europe::Paris;
    let day = chrono::Duration::days(1);
    let x = chrono::NaiveDate::from_ymd_opt(2026, 6, 20).unwrap();
    let start_of = |d: chrono::NaiveDate| carnet_domain::time::day_start(paris, d);
    // Day x-10, 10:00: a deal enters a stage that allows 3 days.
    db.clock().pin(Some(start_of(x - day * 10) + 36_000));
    let (_, pipe) = app.post("/api/v1/pipelines", json!({"name": "Slow"})).await;
    let mut stages = Vec::new();
    for name in ["Waiting", "Talking"] {
        let (_, st) = app
            .post(
                &format!("/api/v1/pipelines/{}/stages", pipe["id"]),
                json!({"name": name, "probability": 20, "stall_days": 3}),
            )
            .await;
        stages.push(st["id"].clone());
    }
    let (_, a) = app.post("/api/v1/accounts", json!({"name": "Sloth"})).await;
    let (s, o) = app
        .post(
            "/api/v1/opportunities",
            json!({"name": "Sleepy", "account": a["id"], "amount": "100", "pipeline": pipe["id"], "stage": stages[0]}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{o}");
    // Day x ends with the deal stalled; taken live.
    db.clock().pin(Some(start_of(x + day) + 60));
    snapshots::take(db, x).await.unwrap();
    // The next morning it moves on: no longer stalled.
    db.clock().pin(Some(start_of(x + day) + 36_000));
    let (s, e) = app
        .post(&format!("/api/v1/opportunities/{}/move", o["id"]), json!({"stage": stages[1]}))
        .await;
    assert_eq!(s, StatusCode::OK, "{e}");
    // Two past days rebuilt from the history: not yet stalled (x-8), stalled (x-5).
    for d in [x - day * 8, x - day * 5] {
        snapshots::take(db, d).await.unwrap();
    }
    let stalled = |q: String| {
        let app = &app;
        async move {
            let (s, v) = app.get(&format!("/api/v1/metrics/stalled_opportunities/values?{q}")).await;
            assert_eq!(s, StatusCode::OK, "{q}: {v}");
            v["total"]["value"].as_f64().unwrap()
        }
    };
    assert_eq!(stalled("period=today".into()).await, 0.0);
    assert_eq!(stalled(format!("from={x}&to={x}")).await, 1.0);
    assert_eq!(stalled(format!("from={}&to={}", x - day * 5, x - day * 5)).await, 1.0);
    assert_eq!(stalled(format!("from={}&to={}", x - day * 8, x - day * 8)).await, 0.0);
    // A past day without a snapshot has no answer.
    let (s, _) = app
        .get(&format!(
            "/api/v1/metrics/stalled_opportunities/values?from={}&to={}",
            x - day * 2,
            x - day * 2
        ))
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
}

/// Customer acquisition cost: a new customer's time cost is the time spent on
/// its actions up to its first won deal, not after.
#[tokio::test]
async fn acquisition_cost_counts_the_time_up_to_the_first_win() {
    let app = spawn_app().await;
    let db = &app.carnet.db;
    let (s, e) = app
        .patch(&format!("/api/v1/users/{}", app.admin.id), json!({"hourly_cost": "60.00"}))
        .await;
    assert_eq!(s, StatusCode::OK, "{e}");
    let at = |day: u32, hour: i64| {
        let d = chrono::NaiveDate::from_ymd_opt(2026, 9, day).unwrap();
        carnet_domain::time::day_start(chrono_tz::Europe::Paris, d) + hour * 3600
    };
    db.clock().pin(Some(at(1, 9)));
    let (_, a) = app.post("/api/v1/accounts", json!({"name": "Newco"})).await;
    let (_, o) = app
        .post(
            "/api/v1/opportunities",
            json!({"name": "First order", "account": a["id"], "amount": "5000"}),
        )
        .await;
    let act = |minutes: i64| {
        let (app, a) = (&app, a["id"].clone());
        async move {
            let (_, x) = app
                .post(
                    "/api/v1/actions",
                    json!({"type": "Phone call", "subject": "Call", "account": a, "due_date": "2026-09-01"}),
                )
                .await;
            let (s, e) = app
                .post(
                    &format!("/api/v1/actions/{}/finish", x["id"]),
                    json!({"outcome": "done", "spent_min": minutes}),
                )
                .await;
            assert_eq!(s, StatusCode::OK, "{e}");
        }
    };
    db.clock().pin(Some(at(3, 10)));
    act(60).await;
    db.clock().pin(Some(at(10, 10)));
    let (_, p) = app.get("/api/v1/pipelines").await;
    let won = p["data"][0]["stages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["outcome"] == "won")
        .unwrap()["id"]
        .clone();
    let (s, e) = app
        .post(&format!("/api/v1/opportunities/{}/move", o["id"]), json!({"stage": won}))
        .await;
    assert_eq!(s, StatusCode::OK, "{e}");
    // After the win, in the same month: account management, not acquisition.
    db.clock().pin(Some(at(20, 10)));
    act(120).await;
    db.clock().pin(Some(at(28, 10)));
    let (s, v) = app
        .get("/api/v1/metrics/customer_acquisition_cost/values?from=2026-09-01&to=2026-09-30")
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["total"]["value"].as_f64(), Some(60.0), "one hour at 60.00: {v}");
}
