//! The sales process over the API: pipelines and stages, opportunities and their
//! stage history, won/lost, stalled detection, concurrent moves, the board and
//! the forecast against a recount over the raw rows, offers and orders.

use crate::helpers::*;
use proptest::prelude::*;
use reqwest::{Method, StatusCode};
use serde_json::json;
use std::collections::BTreeMap;

async fn account(app: &TestApp, name: &str) -> i64 {
    let (s, a) = app.post("/api/v1/accounts", json!({"name": name})).await;
    assert_eq!(s, StatusCode::CREATED);
    a["id"].as_i64().unwrap()
}

async fn stages(app: &TestApp) -> (i64, BTreeMap<String, i64>) {
    let (_, p) = app.get("/api/v1/pipelines").await;
    let pipeline = &p["data"][0];
    let ids = pipeline["stages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["name"].as_str().unwrap().to_string(), s["id"].as_i64().unwrap()))
        .collect();
    (pipeline["id"].as_i64().unwrap(), ids)
}

#[tokio::test]
async fn default_pipeline_and_opportunity_lifecycle() {
    let app = spawn_app().await;
    let (_, p) = app.get("/api/v1/pipelines").await;
    let names: Vec<&str> = p["data"][0]["stages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, vec!["Qualification", "Discovery", "Proposal", "Negotiation", "Won", "Lost"]);
    let acc = account(&app, "Bluebird Dental").await;
    let (s, c) = app.post("/api/v1/contacts", json!({"last_name": "Moreau", "account": acc})).await;
    assert_eq!(s, StatusCode::CREATED);
    let (s, o) = app
        .post("/api/v1/opportunities", json!({"name": "Fleet renewal", "account": acc, "contacts": [c["id"]], "amount": "12 000", "source": "Partner", "expected_close": "2027-03-15"}))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{o}");
    let id = o["id"].as_i64().unwrap();
    assert_eq!(
        (o["stage"]["name"].as_str(), o["status"].as_str(), o["amount"].as_str()),
        (Some("Qualification"), Some("open"), Some("12000.00"))
    );
    assert_eq!(o["weighted_amount"], "1200.00");
    for stage in ["Discovery", "Proposal", "Won"] {
        let (s, o) = app.post(&format!("/api/v1/opportunities/{id}/move"), json!({"stage": stage})).await;
        assert_eq!(s, StatusCode::OK, "{o}");
    }
    let (_, o) = app.get(&format!("/api/v1/opportunities/{id}")).await;
    assert_eq!(o["status"], "won");
    assert!(o["closed_at"].is_string());
    let (_, h) = app.get(&format!("/api/v1/opportunities/{id}/history")).await;
    let moves: Vec<(Option<&str>, &str)> = h["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["from"].as_str(), m["to"].as_str().unwrap()))
        .collect();
    assert_eq!(
        moves,
        vec![
            (None, "Qualification"),
            (Some("Qualification"), "Discovery"),
            (Some("Discovery"), "Proposal"),
            (Some("Proposal"), "Won")
        ]
    );
    assert_eq!(h["data"][1]["by"], "Ada Admin");
    // The account's and the contact's timelines show it.
    let (_, tl) = app.get(&format!("/api/v1/accounts/{acc}/timeline")).await;
    let events: Vec<&str> = tl["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "opportunity")
        .map(|e| e["data"]["event"].as_str().unwrap())
        .collect();
    assert!(events.contains(&"created") && events.contains(&"won"), "{events:?}");
    let (_, tl) = app.get(&format!("/api/v1/contacts/{}/timeline", c["id"])).await;
    assert!(tl["data"].as_array().unwrap().iter().any(|e| e["kind"] == "opportunity"));
    // Re-opening is a move too.
    let (s, o) = app
        .post(&format!("/api/v1/opportunities/{id}/move"), json!({"stage": "Negotiation"}))
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(o["status"], "open");
    assert!(o["closed_at"].is_null());
}

#[tokio::test]
async fn lost_needs_a_reason_and_bad_input_saves_nothing() {
    let app = spawn_app().await;
    let acc = account(&app, "Horizon Foods").await;
    let (_, o) = app
        .post(
            "/api/v1/opportunities",
            json!({"name": "Scanners", "account": acc, "amount": "500"}),
        )
        .await;
    let id = o["id"].as_i64().unwrap();
    let (s, e) = app
        .post(&format!("/api/v1/opportunities/{id}/move"), json!({"stage": "Lost"}))
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(e["error"]["fields"]["lost_reason"].is_string());
    let (s, o) = app
        .post(
            &format!("/api/v1/opportunities/{id}/move"),
            json!({"stage": "Lost", "lost_reason": "Price"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        (o["status"].as_str(), o["lost_reason"]["name"].as_str()),
        (Some("lost"), Some("Price"))
    );

    let (_, other) = app.post("/api/v1/pipelines", json!({"name": "Export", "currency": "USD"})).await;
    let (_, pipelines) = app.get("/api/v1/pipelines").await;
    let foreign = pipelines["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["id"] == other["id"])
        .unwrap()["stages"][0]["id"]
        .as_i64()
        .unwrap();
    let before = (app.count("opportunities").await, app.count("stage_history").await);
    for (body, field) in [
        (json!({"name": "X", "account": acc, "amount": "-5"}), "amount"),
        (json!({"name": "X", "account": acc, "amount": "ten"}), "amount"),
        (json!({"name": "X", "account": acc, "stage": "Imaginary"}), "stage"),
        (json!({"name": "X", "account": acc, "pipeline": "Sales", "stage": foreign}), "stage"),
        (json!({"name": "X", "account": acc, "currency": "USD"}), "currency"),
        (json!({"name": "X", "account": acc, "amount": "10", "margin": "20"}), "margin"),
        (json!({"name": "X", "account": 999999}), "account"),
        (json!({"name": "X", "account": acc, "contacts": [999999]}), "contacts"),
        (json!({"name": "X", "account": acc, "source": "Telepathy"}), "source"),
        (json!({"name": "X", "account": acc, "stage": "Lost"}), "lost_reason"),
        (json!({"name": "", "account": acc}), "name"),
    ] {
        let (s, e) = app.post("/api/v1/opportunities", body.clone()).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert!(e["error"]["fields"][field].is_string(), "{body} → {e}");
    }
    let (s, _) = app
        .post(&format!("/api/v1/opportunities/{id}/move"), json!({"stage": foreign}))
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "moving to a stage of another pipeline");
    let (s, e) = app
        .post(
            &format!("/api/v1/pipelines/{}/stages", other["id"]),
            json!({"name": "Maybe", "probability": 120}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(e["error"]["fields"]["probability"].is_string());
    let (s, e) = app
        .post(
            "/api/v1/orders",
            json!({"account": 999999, "number": "F-1", "order_date": "2026-01-02", "amount": "10"}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(e["error"]["fields"]["account"].is_string());
    assert_eq!((app.count("opportunities").await, app.count("stage_history").await), before);
    assert_eq!(app.count("orders").await, 0);
}

#[tokio::test]
async fn mandatory_fields_from_a_stage_on() {
    let app = spawn_app().await;
    let (_, ids) = stages(&app).await;
    let (s, _) = app
        .post(
            "/api/v1/mandatory-rules",
            json!({"entity": "opportunity", "field": "amount", "from_stage": ids["Proposal"]}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    let acc = account(&app, "Granite").await;
    let (_, o) = app
        .post("/api/v1/opportunities", json!({"name": "No amount yet", "account": acc}))
        .await;
    let id = o["id"].as_i64().unwrap();
    assert_eq!(
        app.post(&format!("/api/v1/opportunities/{id}/move"), json!({"stage": "Discovery"}))
            .await
            .0,
        StatusCode::OK
    );
    let (s, e) = app
        .post(&format!("/api/v1/opportunities/{id}/move"), json!({"stage": "Proposal"}))
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(e["error"]["fields"]["amount"], "is mandatory from stage “Proposal” on");
    assert_eq!(
        app.get(&format!("/api/v1/opportunities/{id}")).await.1["stage"]["name"],
        "Discovery",
        "nothing moved"
    );
    app.patch(&format!("/api/v1/opportunities/{id}"), json!({"amount": "9000"})).await;
    assert_eq!(
        app.post(&format!("/api/v1/opportunities/{id}/move"), json!({"stage": "Proposal"}))
            .await
            .0,
        StatusCode::OK
    );
}

#[tokio::test]
async fn stalled_after_the_stage_limit() {
    let app = spawn_app().await;
    let acc = account(&app, "Summit").await;
    let (_, o) = app
        .post("/api/v1/opportunities", json!({"name": "Slow deal", "account": acc, "amount": "1"}))
        .await;
    let id = o["id"].as_i64().unwrap();
    // Qualification stalls after 14 days.
    for (days, stalled) in [(13, false), (14, false), (15, true)] {
        let at = app.carnet.db.now() - days * 86_400 - 60;
        let mut tx = app.carnet.db.begin().await.unwrap();
        carnet_app::db::q("UPDATE opportunities SET stage_entered_at = $1 WHERE id = $2")
            .bind(at)
            .bind(id)
            .execute(&mut tx)
            .await
            .unwrap();
        tx.commit().await.unwrap();
        let (_, o) = app.get(&format!("/api/v1/opportunities/{id}")).await;
        assert_eq!(
            (o["days_in_stage"].as_i64(), o["stalled"].as_bool()),
            (Some(days), Some(stalled)),
            "after {days} days"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_moves_keep_a_consistent_history() {
    let app = spawn_app().await;
    let acc = account(&app, "Race Ltd").await;
    let (_, o) = app
        .post(
            "/api/v1/opportunities",
            json!({"name": "Contested", "account": acc, "amount": "100"}),
        )
        .await;
    let id = o["id"].as_i64().unwrap();
    let targets = [
        "Discovery",
        "Proposal",
        "Negotiation",
        "Qualification",
        "Proposal",
        "Discovery",
        "Negotiation",
        "Won",
    ];
    let mut handles = Vec::new();
    for t in targets {
        let (http, url, key) = (
            app.http.clone(),
            app.url(&format!("/api/v1/opportunities/{id}/move")),
            app.key.clone(),
        );
        handles.push(tokio::spawn(async move {
            http.post(url)
                .bearer_auth(key)
                .json(&json!({"stage": t}))
                .send()
                .await
                .unwrap()
                .status()
        }));
    }
    for h in handles {
        assert_eq!(h.await.unwrap(), StatusCode::OK);
    }
    let (_, h) = app.get(&format!("/api/v1/opportunities/{id}/history")).await;
    let moves = h["data"].as_array().unwrap();
    // Each move starts where the previous one ended: no lost or crossed row.
    for pair in moves.windows(2) {
        assert_eq!(pair[1]["from_stage_id"], pair[0]["to_stage_id"], "{moves:?}");
    }
    let (_, o) = app.get(&format!("/api/v1/opportunities/{id}")).await;
    assert_eq!(o["stage"]["id"], moves.last().unwrap()["to_stage_id"]);
}

#[tokio::test]
async fn board_columns_equal_a_recount() {
    let app = spawn_app().await;
    let (pipeline, ids) = stages(&app).await;
    let (rep, _) = app.user_with_key("rep@test.example", "sales").await;
    let gold_acc = {
        let (_, a) = app.post("/api/v1/accounts", json!({"name": "Gold Co", "tags": ["Gold"]})).await;
        a["id"].as_i64().unwrap()
    };
    let plain = account(&app, "Plain Co").await;
    let mut expected: BTreeMap<&str, (i64, i64)> = BTreeMap::new();
    for i in 0..9i64 {
        let stage = ["Qualification", "Discovery", "Proposal"][(i % 3) as usize];
        let amount = 1000 + i * 250;
        let body = json!({"name": format!("Deal {i}"), "account": if i % 2 == 0 { gold_acc } else { plain }, "stage": stage, "amount": amount.to_string(),
                          "owner": if i < 4 { rep.id } else { app.admin.id }});
        assert_eq!(app.post("/api/v1/opportunities", body).await.0, StatusCode::CREATED);
        let e = expected.entry(stage).or_default();
        e.0 += 1;
        e.1 += amount * 100;
    }
    let (_, b) = app.get(&format!("/api/v1/pipelines/{pipeline}/board?per_column=2")).await;
    for col in b["columns"].as_array().unwrap() {
        let name = col["stage"]["name"].as_str().unwrap();
        let (count, cents) = expected.get(name).copied().unwrap_or((0, 0));
        assert_eq!(col["count"].as_i64().unwrap(), count, "{name}");
        assert_eq!(col["total"], carnet_domain::values::Money(cents).to_plain(), "{name}");
        let p = col["stage"]["probability"].as_i64().unwrap();
        assert_eq!(col["weighted"], carnet_domain::values::Money(cents * p / 100).to_plain());
        assert!(col["cards"].as_array().unwrap().len() <= 2, "cards are bounded per column");
        if !col["cards"].as_array().unwrap().is_empty() {
            let amounts: Vec<f64> = col["cards"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c["amount"].as_str().unwrap().parse().unwrap())
                .collect();
            assert!(amounts.windows(2).all(|w| w[0] >= w[1]), "largest first");
        }
    }
    let (_, mine) = app.get(&format!("/api/v1/pipelines/{pipeline}/board?owner={}", rep.id)).await;
    let total: i64 = mine["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["count"].as_i64().unwrap())
        .sum();
    assert_eq!(total, 4);
    let gold = app.get("/api/v1/tag-categories").await.1["data"][0]["tags"][0]["id"]
        .as_i64()
        .unwrap();
    let (_, seg) = app.get(&format!("/api/v1/pipelines/{pipeline}/board?segment={gold}")).await;
    let total: i64 = seg["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["count"].as_i64().unwrap())
        .sum();
    assert_eq!(total, 5);
    assert_eq!(seg["columns"][0]["cards"][0]["segment"]["name"], "Gold");
    // A stage with opportunities in it goes only with a destination.
    let (s, _) = app.api(Method::DELETE, &format!("/api/v1/stages/{}", ids["Discovery"]), None).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    let (s, _) = app
        .api(
            Method::DELETE,
            &format!("/api/v1/stages/{}?move_to={}", ids["Discovery"], ids["Proposal"]),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (_, b) = app.get(&format!("/api/v1/pipelines/{pipeline}/board")).await;
    let proposal = b["columns"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["stage"]["name"] == "Proposal")
        .unwrap();
    assert_eq!(proposal["count"], 6);
}

#[tokio::test]
async fn orders_and_lifetime_revenue() {
    let app = spawn_app().await;
    let acc = account(&app, "Loyal Customer").await;
    let (s, offer) = app
        .post(
            "/api/v1/offers",
            json!({"name": "Managed print", "code": "mps", "list_price": "99.90"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    for (n, amount, margin) in [("F-001", "1200", "300"), ("F-002", "800.50", "200.25")] {
        let (s, o) = app
            .post(
                "/api/v1/orders",
                json!({"account": acc, "number": n, "order_date": "2026-06-01", "amount": amount, "margin": margin, "offer": "MPS"}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{o}");
        assert_eq!(o["offer_id"], offer["id"]);
    }
    let (s, e) = app
        .post(
            "/api/v1/orders",
            json!({"account": acc, "number": "F-001", "order_date": "2026-06-02", "amount": "1"}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(e["error"]["fields"]["number"].is_string());
    let (s, e) = app
        .post(
            "/api/v1/orders",
            json!({"account": acc, "number": "F-9", "order_date": "2026-13-01", "amount": "-1"}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(e["error"]["fields"]["order_date"].is_string() && e["error"]["fields"]["amount"].is_string());
    let (_, list) = app.get(&format!("/api/v1/orders?account={acc}")).await;
    assert_eq!(list["data"].as_array().unwrap().len(), 2);
    assert_eq!(
        list["lifetime"],
        json!([{"currency": "EUR", "orders": 2, "revenue": "2000.50", "margin": "500.25"}])
    );
}

/// The forecast equals a plain recount over the raw opportunity rows.
async fn forecast_matches(app: &TestApp, deals: &[(i64, usize, u32, bool)]) {
    let open = ["Qualification", "Discovery", "Proposal", "Negotiation"];
    let (rep, _) = app.user_with_key(&format!("r{}@test.example", deals.len()), "sales").await;
    let acc = account(app, "Forecast Co").await;
    for (i, (amount, stage, month, mine)) in deals.iter().enumerate() {
        let body = json!({"name": format!("D{i}"), "account": acc, "amount": amount.to_string(), "stage": open[*stage],
                          "expected_close": format!("2027-{month:02}-10"), "owner": if *mine { rep.id } else { app.admin.id }});
        assert_eq!(app.post("/api/v1/opportunities", body).await.0, StatusCode::CREATED);
    }
    let (_, f) = app.get("/api/v1/forecast?from=2027-01&months=12&by=owner").await;
    let mut got: BTreeMap<(String, i64), (i64, String, String)> = BTreeMap::new();
    for r in f["rows"].as_array().unwrap() {
        got.insert(
            (r["month"].as_str().unwrap().into(), r["key"].as_i64().unwrap()),
            (
                r["count"].as_i64().unwrap(),
                r["open_amount"].as_str().unwrap().into(),
                r["weighted_amount"].as_str().unwrap().into(),
            ),
        );
    }
    // Recount from the raw rows.
    let raw: Vec<(String, i64, i64, i64)> = carnet_app::db::q("SELECT o.expected_close, o.owner_id, o.amount, s.probability FROM opportunities o JOIN stages s ON s.id = o.stage_id WHERE o.status = 'open'")
        .fetch_all(&mut app.carnet.db.conn().await.unwrap())
        .await
        .unwrap();
    let mut want: BTreeMap<(String, i64), (i64, i64, i64)> = BTreeMap::new();
    for (close, owner, amount, p) in raw {
        let e = want.entry((close[..7].to_string(), owner)).or_default();
        e.0 += 1;
        e.1 += amount;
        e.2 += amount * p;
    }
    let want: BTreeMap<(String, i64), (i64, String, String)> = want
        .into_iter()
        .map(|(k, (n, a, w))| {
            (
                k,
                (
                    n,
                    carnet_domain::values::Money(a).to_plain(),
                    carnet_domain::values::Money(w / 100).to_plain(),
                ),
            )
        })
        .collect();
    assert_eq!(got, want);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 5, .. ProptestConfig::default() })]
    #[test]
    fn forecast_equals_a_recount(deals in proptest::collection::vec((0i64..50_000, 0usize..4, 1u32..13, any::<bool>()), 1..15)) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async {
            let app = spawn_app().await;
            forecast_matches(&app, &deals).await;
        });
    }
}

#[tokio::test]
async fn opportunity_lists_filter_by_pipeline_stage_and_status() {
    let app = spawn_app().await;
    let (pipeline, ids) = stages(&app).await;
    let acc = account(&app, "Lister").await;
    for (n, stage) in [("A", "Qualification"), ("B", "Proposal"), ("C", "Proposal")] {
        app.post(
            "/api/v1/opportunities",
            json!({"name": n, "account": acc, "stage": stage, "amount": "10"}),
        )
        .await;
    }
    let (_, l) = app
        .get(&format!("/api/v1/opportunities?pipeline={pipeline}&stage={}", ids["Proposal"]))
        .await;
    assert_eq!(l["data"].as_array().unwrap().len(), 2);
    let (_, l) = app.get("/api/v1/opportunities?status=open&sort=-created").await;
    assert_eq!(l["data"][0]["name"], "C");
    let (s, _) = app.get("/api/v1/opportunities?status=maybe").await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    let (_, hits) = app.get("/api/v1/search?q=lister").await;
    assert_eq!(hits["data"][0]["entity"], "account");
}

/// pipeline, stage, owner, segment, month, currency, deals, amount
type TotalsRow = (i64, i64, i64, i64, String, String, i64, i64);

/// The maintained totals of open deals equal a recount over the raw rows after
/// every kind of change: edits of amount, owner and close date, moves to won and
/// back, deletions of a deal, of an account and of a stage with deals in it.
#[tokio::test]
async fn open_pipeline_totals_follow_every_edit() {
    let app = spawn_app().await;
    let (pipeline, ids) = stages(&app).await;
    let (rep, _) = app.user_with_key("rep@test.example", "sales").await;
    let a1 = account(&app, "Totals One").await;
    let a2 = account(&app, "Totals Two").await;
    let mut deals = Vec::new();
    for i in 0..8i64 {
        let stage = ["Qualification", "Discovery", "Proposal"][(i % 3) as usize];
        let (s, o) = app
            .post("/api/v1/opportunities", json!({"name": format!("T{i}"), "account": if i < 6 { a1 } else { a2 }, "stage": stage,
                "amount": (100 * (i + 1)).to_string(), "expected_close": format!("2027-0{}-01", 1 + i % 3), "owner": if i % 2 == 0 { rep.id } else { app.admin.id }}))
            .await;
        assert_eq!(s, StatusCode::CREATED);
        deals.push(o["id"].as_i64().unwrap());
    }
    let check = |label: &'static str| {
        let app = &app;
        async move {
            let mut c = app.carnet.db.conn().await.unwrap();
            let kept: Vec<TotalsRow> = carnet_app::db::q(
                "SELECT pipeline_id, stage_id, owner_key, segment_key, month, currency, deals, amount FROM open_pipeline WHERE deals <> 0 ORDER BY 1, 2, 3, 4, 5, 6",
            )
            .fetch_all(&mut c)
            .await
            .unwrap();
            let recount: Vec<TotalsRow> = carnet_app::db::q(
                "SELECT o.pipeline_id, o.stage_id, COALESCE(o.owner_id, 0), COALESCE((SELECT MIN(rt.tag_id) FROM record_tags rt JOIN tags t ON t.id = rt.tag_id \
                 JOIN tag_categories tc ON tc.id = t.category_id WHERE tc.is_segment = TRUE AND rt.entity = 'account' AND rt.record_id = o.account_id), 0), \
                 COALESCE(SUBSTR(o.expected_close, 1, 7), ''), o.currency, COUNT(*), CAST(SUM(o.amount) AS BIGINT) \
                 FROM opportunities o WHERE o.status = 'open' GROUP BY 1, 2, 3, 4, 5, 6 ORDER BY 1, 2, 3, 4, 5, 6",
            )
            .fetch_all(&mut c)
            .await
            .unwrap();
            assert_eq!(kept, recount, "after {label}");
        }
    };
    check("creation").await;
    app.patch(&format!("/api/v1/accounts/{a1}"), json!({"tags": ["Gold"]})).await;
    check("the account entering a segment").await;
    app.patch(&format!("/api/v1/accounts/{a1}"), json!({"tags": ["Silver"]})).await;
    check("the account changing segment").await;
    app.patch(
        &format!("/api/v1/opportunities/{}", deals[0]),
        json!({"amount": "999", "owner": app.admin.id, "expected_close": "2027-06-15"}),
    )
    .await;
    check("an edit").await;
    app.post(&format!("/api/v1/opportunities/{}/move", deals[1]), json!({"stage": "Won"}))
        .await;
    check("a win").await;
    app.post(&format!("/api/v1/opportunities/{}/move", deals[1]), json!({"stage": "Negotiation"}))
        .await;
    check("a reopening").await;
    app.patch(
        &format!("/api/v1/opportunities/{}", deals[2]),
        json!({"stage": "Lost", "lost_reason": "Price"}),
    )
    .await;
    check("a loss through PATCH").await;
    app.api(Method::DELETE, &format!("/api/v1/opportunities/{}", deals[3]), None).await;
    check("a deletion").await;
    app.api(Method::DELETE, &format!("/api/v1/accounts/{a2}"), None).await;
    check("an account deletion").await;
    app.api(
        Method::DELETE,
        &format!("/api/v1/stages/{}?move_to={}", ids["Discovery"], ids["Proposal"]),
        None,
    )
    .await;
    check("a stage deletion").await;
    // And the board and the forecast read the same numbers.
    let (_, b) = app.get(&format!("/api/v1/pipelines/{pipeline}/board?owner={}", rep.id)).await;
    let board_count: i64 = b["columns"].as_array().unwrap().iter().map(|c| c["count"].as_i64().unwrap()).sum();
    let live: i64 = carnet_app::db::q("SELECT COUNT(*) FROM opportunities WHERE status = 'open' AND owner_id = $1")
        .bind(rep.id)
        .scalar(&mut app.carnet.db.conn().await.unwrap())
        .await
        .unwrap();
    assert_eq!(board_count, live);
}
