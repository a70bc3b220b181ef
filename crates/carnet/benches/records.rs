//! Records benchmark (issue: foundation; SPEC "Performance targets").
//!
//! Loads N contacts and 0.3·N accounts with tags and a custom field
//! (`carnet demo --scale`'s generator, deterministic), starts the real server,
//! and measures through HTTP: the first page of the contact list with a tag
//! filter, the next page by cursor, search by name prefix and by email. Each
//! scenario is also run as the plain SQL a hand-written CRM would send, in the
//! same run, as the baseline; results are medians, p95 and the ratio.
//!
//!   cargo bench -p carnet --bench records -- [--contacts N] [--db sqlite|postgres|both] [--requests R] [--suite records|sales|agenda|analysis|writer|email|all]
//!
//! The sales suite (same data: N opportunities over the accounts) measures the
//! board of a pipeline, a stage move and the forecast. The agenda suite (10·N
//! actions over 0.0004·N reps) measures free slots, the job queue and the week
//! view of a team of 10. The analysis suite measures the home page's flash
//! figures and the default dashboard against plain SQL over the raw tables; run
//! it at two sizes (`--contacts 10000` and `--contacts 1000000`) to see that
//! its cost does not grow with the data.
//!
//! The email suite (`--suite email`, its own fresh database; `--messages M`,
//! default 2000) sends M tracked messages through the outbox to an SMTP sink on
//! loopback with two workers, against the same messages sent by a bare lettre
//! loop over one pooled connection; then hits the open pixel and the click
//! redirect (each hit queued, then recorded and classified by group commit)
//! from 8 concurrent clients,
//! against `/healthz` on the same server.
//!
//! The scoring suite (`--suite scoring`, its own fresh database) re-scores N
//! contacts after a rule change: N `form_submitted` events (one per contact)
//! re-awarded from the events table by `scoring::rescore` (batches of 5,000,
//! then every score recounted), against plain bulk INSERTs of the same N
//! award rows; three rounds, medians.
//!
//! The tracking suite (`--suite tracking`, its own fresh database; `--views V`,
//! default 1,000,000) feeds V page views of V/10 visitors over 5,000 pages
//! (one visitor in twenty known, a page rule and a return-visit rule active)
//! through the group writer, then drains the scoring events they queued;
//! against plain bulk INSERTs of the same page-view rows into a table of the
//! same layout. It reports the bytes stored per page view (indexes included),
//! the hit endpoint's latency from 8 clients against `/healthz`, and a
//! contact's visits read through the API with 10,000 visits on record,
//! against the plain SQL read of their latest views.
//!
//! Data sets are kept between runs (target/bench/*.db, PostgreSQL database
//! carnet_bench_N) and reused when they already hold N contacts.

use carnet_app::access::{keys, users};
use carnet_app::db::q;
use carnet_app::Carnet;
use std::time::{Duration, Instant};

struct Args {
    contacts: u64,
    db: String,
    requests: usize,
    pg: String,
    suite: String,
    messages: usize,
    views: usize,
}

fn args() -> Args {
    let mut a = Args {
        contacts: 1_000_000,
        db: "both".into(),
        requests: 300,
        pg: "postgres://postgres@127.0.0.1:5432".into(),
        suite: "all".into(),
        messages: 2000,
        views: 1_000_000,
    };
    let v: Vec<String> = std::env::args().collect();
    let mut i = 1;
    while i < v.len() {
        let next = v.get(i + 1).cloned().unwrap_or_default();
        match v[i].as_str() {
            "--contacts" => a.contacts = next.parse().expect("--contacts N"),
            "--db" => a.db = next,
            "--requests" => a.requests = next.parse().expect("--requests R"),
            "--pg" => a.pg = next,
            "--suite" => a.suite = next,
            "--messages" => a.messages = next.parse().expect("--messages M"),
            "--views" => a.views = next.parse().expect("--views V"),
            _ => {
                i += 1;
                continue;
            }
        }
        i += 2;
    }
    a
}

fn pct(sorted: &[Duration], p: usize) -> f64 {
    sorted[(sorted.len() * p / 100).min(sorted.len() - 1)].as_secs_f64() * 1000.0
}

struct Stat {
    p50: f64,
    p95: f64,
}

fn stat(mut d: Vec<Duration>) -> Stat {
    d.sort();
    Stat {
        p50: pct(&d, 50),
        p95: pct(&d, 95),
    }
}

async fn open(kind: &str, a: &Args) -> (Carnet, String) {
    let target = std::env::var("CARGO_TARGET_DIR").unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/../../target").into());
    let dir = std::path::PathBuf::from(target).join("bench");
    std::fs::create_dir_all(&dir).unwrap();
    let url = match kind {
        "sqlite" => format!("sqlite:{}", dir.join(format!("carnet-{}.db", a.contacts)).display()),
        _ => {
            let name = format!("carnet_bench_{}", a.contacts);
            let admin = carnet_app::Db::connect(&format!("{}/postgres", a.pg))
                .await
                .expect("PostgreSQL reachable");
            let mut c = admin.conn().await.unwrap();
            let exists: Option<i32> = q("SELECT 1 FROM pg_database WHERE datname = $1")
                .bind(name.clone())
                .scalar_opt(&mut c)
                .await
                .unwrap();
            if exists.is_none() {
                carnet_app::db::dialect::exec_raw(&mut c, &format!("CREATE DATABASE {name}"))
                    .await
                    .unwrap();
            }
            format!("{}/{name}", a.pg)
        }
    };
    let carnet = Carnet::open(&url, dir.join("files")).await.unwrap();
    (carnet, url)
}

/// A client that carries a session cookie of `user_id` (for pages).
async fn signed_in(db: &carnet_app::Db, user_id: i64) -> reqwest::Client {
    let session = carnet_app::access::sessions::create(db, user_id).await.unwrap();
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(
        reqwest::header::COOKIE,
        format!("carnet_session={}", session.token).parse().unwrap(),
    );
    reqwest::Client::builder().default_headers(headers).build().unwrap()
}

/// Times GET requests; `key` is an API key, or empty for a client that carries
/// a session cookie (pages).
async fn time_http(client: &reqwest::Client, key: &str, urls: &[String], n: usize) -> Stat {
    let get = |u: &String| {
        let r = client.get(u);
        if key.is_empty() {
            r
        } else {
            r.bearer_auth(key)
        }
    };
    for u in urls.iter().take(5) {
        get(u).send().await.unwrap().bytes().await.unwrap();
    }
    let mut d = Vec::with_capacity(n);
    for i in 0..n {
        let u = &urls[i % urls.len()];
        let t = Instant::now();
        let res = get(u).send().await.unwrap();
        assert!(res.status().is_success(), "{u}: {}", res.status());
        res.bytes().await.unwrap();
        d.push(t.elapsed());
    }
    stat(d)
}

async fn time_sql(carnet: &Carnet, queries: &[carnet_app::db::Q], n: usize) -> Stat {
    let mut d = Vec::with_capacity(n);
    for i in 0..n + 5 {
        let query = queries[i % queries.len()].clone();
        let t = Instant::now();
        let mut c = carnet.db.conn().await.unwrap();
        std::hint::black_box(query.execute(&mut c).await.unwrap());
        if i >= 5 {
            d.push(t.elapsed());
        }
    }
    stat(d)
}

async fn run(kind: &str, a: &Args) -> Vec<String> {
    let (carnet, _) = open(kind, a).await;
    let mut c = carnet.db.conn().await.unwrap();
    let have: i64 = q("SELECT COUNT(*) FROM contacts").scalar(&mut c).await.unwrap();
    drop(c);
    let mut out = Vec::new();
    if have != a.contacts as i64 {
        assert_eq!(
            have, 0,
            "{kind}: the bench database holds {have} contacts, not {}; delete it to regenerate",
            a.contacts
        );
        eprintln!("[{kind}] generating {} contacts…", a.contacts);
        let t = Instant::now();
        carnet_app::demo::generate_scale(&carnet, a.contacts, 42, |p| eprintln!("[{kind}]   {p}"))
            .await
            .unwrap();
        let s = t.elapsed().as_secs_f64();
        out.push(format!(
            "| {kind} | bulk load: {} contacts + {} accounts + {} opportunities (tags, custom field, links, search tokens, stage history) | {s:.1} s | {:.0} contacts/s | | |",
            a.contacts,
            a.contacts * 3 / 10,
            a.contacts,
            a.contacts as f64 / s
        ));
    }
    // Data sets made before actions were generated get them now.
    let mut c = carnet.db.conn().await.unwrap();
    let actions: i64 = q("SELECT COUNT(*) FROM actions").scalar(&mut c).await.unwrap();
    drop(c);
    let want = a.contacts * carnet_app::demo::ACTIONS_PER_CONTACT;
    if (actions as u64) < want / 2 {
        eprintln!("[{kind}] generating {want} actions…");
        let t = Instant::now();
        carnet_app::demo::generate_actions(&carnet, want, 42, &|p: &str| eprintln!("[{kind}]   {p}"))
            .await
            .unwrap();
        carnet_app::db::dialect::after_bulk_load(&carnet.db).await.unwrap();
        out.push(format!(
            "| {kind} | bulk load: {want} actions | {:.1} s | | | |",
            t.elapsed().as_secs_f64()
        ));
    }
    let admin = match users::find_by_email(&carnet.db, "bench@carnet.example").await.unwrap() {
        Some(u) => u,
        None => users::create(
            &carnet.db,
            users::NewUser::parse("bench@carnet.example", "Bench", "admin", "bench password", "en", "UTC").unwrap(),
        )
        .await
        .unwrap(),
    };
    let (_, key) = keys::create(&carnet.db, admin.id, "bench").await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(carnet_web::serve(
        carnet_web::AppState::new(carnet.clone(), false).with_api_limits(carnet_web::api::guard::ApiLimits::OFF),
        listener,
        std::future::pending(),
    ));
    let client = reqwest::Client::new();
    let base = format!("http://{addr}/api/v1");
    let cat = carnet_app::settings::catalog(&carnet.db).await.unwrap();
    let gold = cat.resolve_tag("Gold").unwrap();

    // Inputs: name prefixes and emails that exist in the generated data.
    let mut c = carnet.db.conn().await.unwrap();
    let samples: Vec<(String, String)> = q("SELECT last_name, email FROM contacts WHERE id % 9973 = 1 ORDER BY id LIMIT 50")
        .fetch_all(&mut c)
        .await
        .unwrap();
    drop(c);
    let prefixes: Vec<String> = samples
        .iter()
        .map(|(l, _)| carnet_domain::values::fold(l).chars().take(4).collect())
        .collect();
    let emails: Vec<String> = samples.iter().map(|(_, e)| e.split('@').next().unwrap().to_string()).collect();
    let first: serde_json::Value = client
        .get(format!("{base}/contacts?tag={gold}&limit=50"))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let cursor = first["next_cursor"].as_str().expect("a second page").to_string();

    let n = a.requests;
    if a.suite == "all" || a.suite == "sales" {
        out.extend(sales_suite(kind, &carnet, &client, &key, &base, n).await);
    }
    if a.suite == "all" || a.suite == "agenda" {
        out.extend(agenda_suite(kind, &carnet, &client, &key, &base, n).await);
    }
    if a.suite == "all" || a.suite == "analysis" {
        out.extend(analysis_suite(kind, &carnet, &base, n).await);
    }
    if a.suite == "sales" || a.suite == "agenda" || a.suite == "analysis" {
        return out;
    }
    let scenarios: Vec<(&str, Vec<String>, Vec<carnet_app::db::Q>)> = vec![
        (
            "contact list, tag filter, first page (50)",
            vec![format!("{base}/contacts?tag={gold}&limit=50")],
            vec![q("SELECT r.id, r.last_name FROM contacts r WHERE EXISTS (SELECT 1 FROM record_tags rt WHERE rt.entity = 'contact' AND rt.record_id = r.id AND rt.tag_id = $1) ORDER BY r.name_key, r.id LIMIT 51").bind(gold)],
        ),
        (
            "contact list, tag filter, next page by cursor",
            vec![format!("{base}/contacts?tag={gold}&limit=50&after={cursor}")],
            {
                let last = first["data"].as_array().unwrap().last().unwrap();
                let mut c = carnet.db.conn().await.unwrap();
                let key_of: String = q("SELECT name_key FROM contacts WHERE id = $1").bind(last["id"].as_i64().unwrap()).scalar(&mut c).await.unwrap();
                vec![q("SELECT r.id, r.last_name FROM contacts r WHERE EXISTS (SELECT 1 FROM record_tags rt WHERE rt.entity = 'contact' AND rt.record_id = r.id AND rt.tag_id = $1) AND (r.name_key > $2 OR (r.name_key = $2 AND r.id > $3)) ORDER BY r.name_key, r.id LIMIT 51")
                    .bind(gold).bind(key_of).bind(last["id"].as_i64().unwrap())]
            },
        ),
        (
            "search by name prefix (20 hits)",
            prefixes.iter().map(|p| format!("{base}/search?q={p}&limit=20")).collect(),
            prefixes.iter().map(|p| q("SELECT c.id, c.last_name FROM contacts c WHERE c.name_key >= $1 AND c.name_key < $2 ORDER BY c.name_key LIMIT 20").bind(p.clone()).bind(format!("{p}\u{10FFFF}"))).collect(),
        ),
        (
            "search by email",
            emails.iter().map(|e| format!("{base}/search?q={}&limit=20", carnet_domain::values::url_encode(e))).collect(),
            emails.iter().map(|e| q("SELECT c.id, c.last_name FROM contacts c WHERE c.email_key >= $1 AND c.email_key < $2 LIMIT 20").bind(e.clone()).bind(format!("{e}\u{10FFFF}"))).collect(),
        ),
        (
            "account list, first page (50)",
            vec![format!("{base}/accounts?limit=50")],
            vec![q("SELECT r.id, r.name FROM accounts r ORDER BY r.name_key, r.id LIMIT 51")],
        ),
    ];
    for (name, urls, sql) in scenarios {
        let h = time_http(&client, &key, &urls, n).await;
        let s = time_sql(&carnet, &sql, n).await;
        let verdict = if h.p95 <= 30.0 { "✓" } else { "✗" };
        out.push(format!(
            "| {kind} | {name} | {:.2} ms | {:.2} ms {verdict} | {:.2} ms | ×{:.1} |",
            h.p50,
            h.p95,
            s.p50,
            h.p50 / s.p50.max(0.001)
        ));
        eprintln!("{}", out.last().unwrap());
    }
    out
}

fn row(kind: &str, name: &str, h: &Stat, s: &Stat, target: f64) -> String {
    let verdict = if h.p95 <= target { "✓" } else { "✗" };
    format!(
        "| {kind} | {name} | {:.2} ms | {:.2} ms {verdict} (≤ {target} ms) | {:.2} ms | ×{:.1} |",
        h.p50,
        h.p95,
        s.p50,
        h.p50 / s.p50.max(0.001)
    )
}

/// The sales scenarios: the board of a pipeline (all, and one owner's), a stage
/// move, and the forecast, against the plain SQL a hand-written CRM would run.
async fn sales_suite(kind: &str, carnet: &Carnet, client: &reqwest::Client, key: &str, base: &str, n: usize) -> Vec<String> {
    let mut out = Vec::new();
    let sales = carnet_app::sales::catalog(&carnet.db).await.unwrap();
    let p = &sales.pipelines[0];
    let mut c = carnet.db.conn().await.unwrap();
    let owner: i64 = q("SELECT owner_id FROM opportunities WHERE pipeline_id = $1 AND status = 'open' AND owner_id IS NOT NULL LIMIT 1")
        .bind(p.id)
        .scalar(&mut c)
        .await
        .unwrap();
    let movers: Vec<(i64,)> = q("SELECT id FROM opportunities WHERE pipeline_id = $1 AND status = 'open' ORDER BY id LIMIT 200")
        .bind(p.id)
        .fetch_all(&mut c)
        .await
        .unwrap();
    drop(c);
    let totals = |owner: Option<i64>| {
        let mut query =
            q("SELECT o.stage_id, COUNT(*), SUM(o.amount) FROM opportunities o WHERE o.pipeline_id = $1 AND o.status = 'open'").bind(p.id);
        if let Some(o) = owner {
            query.push(" AND o.owner_id = ").push_bind(o);
        }
        query.push(" GROUP BY o.stage_id");
        query
    };
    let h = time_http(client, key, &[format!("{base}/pipelines/{}/board", p.id)], n).await;
    let s = time_sql(carnet, &[totals(None)], n).await;
    out.push(row(
        kind,
        &format!("board of one pipeline ({} open stages, 30 cards each)", p.stages.len() - 2),
        &h,
        &s,
        50.0,
    ));
    eprintln!("{}", out.last().unwrap());
    let h = time_http(client, key, &[format!("{base}/pipelines/{}/board?owner={owner}&sort=age", p.id)], n).await;
    let s = time_sql(carnet, &[totals(Some(owner))], n).await;
    out.push(row(kind, "board filtered by owner, sorted by age", &h, &s, 50.0));
    eprintln!("{}", out.last().unwrap());

    // Segment filters are counted live (the totals do not carry the segment).
    let cat = carnet_app::settings::catalog(&carnet.db).await.unwrap();
    let gold = cat.resolve_tag("Gold").unwrap();
    let h = time_http(client, key, &[format!("{base}/pipelines/{}/board?segment={gold}", p.id)], n).await;
    let mut seg = q("SELECT o.stage_id, COUNT(*), SUM(o.amount) FROM opportunities o WHERE o.pipeline_id = $1 AND o.status = 'open' \
                     AND EXISTS (SELECT 1 FROM record_tags rt WHERE rt.entity = 'account' AND rt.record_id = o.account_id AND rt.tag_id = $2) GROUP BY o.stage_id")
        .bind(p.id);
    seg = seg.bind(gold);
    let s = time_sql(carnet, &[seg], n).await;
    out.push(row(kind, "board filtered by segment", &h, &s, 50.0));
    eprintln!("{}", out.last().unwrap());

    // Stage moves: each request moves one deal between two open stages.
    let (a, b) = (p.stages[1].id, p.stages[2].id);
    let mut d = Vec::with_capacity(n);
    for i in 0..n {
        let id = movers[i % movers.len()].0;
        let to = if (i / movers.len()).is_multiple_of(2) { b } else { a };
        let t = Instant::now();
        let res = client
            .post(format!("{base}/opportunities/{id}/move"))
            .bearer_auth(key)
            .json(&serde_json::json!({"stage": to}))
            .send()
            .await
            .unwrap();
        assert!(res.status().is_success(), "move: {}", res.status());
        res.bytes().await.unwrap();
        d.push(t.elapsed());
    }
    let h = stat(d);
    let mut d = Vec::with_capacity(n);
    for i in 0..n {
        let id = movers[i % movers.len()].0;
        let to = if (i / movers.len()).is_multiple_of(2) { a } else { b };
        let t = Instant::now();
        let mut tx = carnet.db.begin().await.unwrap();
        q("UPDATE opportunities SET stage_id = $1, stage_entered_at = $2 WHERE id = $3")
            .bind(to)
            .bind(0i64)
            .bind(id)
            .execute(&mut tx)
            .await
            .unwrap();
        q("INSERT INTO stage_history (opportunity_id, from_stage_id, to_stage_id, moved_at) VALUES ($1, NULL, $2, 0)")
            .bind(id)
            .bind(to)
            .execute(&mut tx)
            .await
            .unwrap();
        tx.commit().await.unwrap();
        d.push(t.elapsed());
    }
    let s = stat(d);
    // The baseline's bare UPDATEs bypassed the maintained totals: recompute them.
    let mut tx = carnet.db.begin().await.unwrap();
    carnet_app::sales::totals::rebuild(&mut tx, None).await.unwrap();
    tx.commit().await.unwrap();
    out.push(row(kind, "stage move (history row, totals, timelines, rules)", &h, &s, 10.0));
    eprintln!("{}", out.last().unwrap());

    let (from, to) = carnet_app::sales::forecast::month_range(carnet.db.clock().today_utc(), 6);
    let plain = q("SELECT SUBSTR(o.expected_close, 1, 7), o.owner_id, COUNT(*), SUM(o.amount), SUM(o.amount * s.probability) FROM opportunities o \
                   JOIN stages s ON s.id = o.stage_id WHERE o.status = 'open' AND o.expected_close >= $1 AND o.expected_close < $2 GROUP BY 1, 2")
        .bind(from.to_string())
        .bind(to.to_string());
    let h = time_http(client, key, &[format!("{base}/forecast?months=6&by=owner")], n).await;
    let s = time_sql(carnet, &[plain], n).await;
    out.push(row(kind, "forecast, 6 months by owner", &h, &s, 50.0));
    eprintln!("{}", out.last().unwrap());
    out
}

/// The agenda scenarios: a month of free slots on a busy diary, and the job
/// queue's throughput (no-op jobs and jobs that write a row, two workers) against
/// a plain UPDATE loop over the same number of rows.
async fn agenda_suite(kind: &str, carnet: &Carnet, client: &reqwest::Client, key: &str, base: &str, n: usize) -> Vec<String> {
    let mut out = Vec::new();
    let db = &carnet.db;
    let user = carnet_app::access::users::find_by_email(db, "bench@carnet.example")
        .await
        .unwrap()
        .unwrap();
    let mut c = db.conn().await.unwrap();
    let have: i64 = q("SELECT COUNT(*) FROM actions WHERE assignee_id = $1")
        .bind(user.id)
        .scalar(&mut c)
        .await
        .unwrap();
    drop(c);
    let now = db.now();
    if have == 0 {
        // A busy month: eight one-hour appointments a working day, some cancelled.
        let types = carnet_app::agenda::types(db).await.unwrap();
        let demo = types.iter().find(|t| t.kind == "appointment").unwrap().id;
        let mut rows = Vec::new();
        for d in 0..31 {
            for h in 0..8 {
                let start = now - now % 86_400 + d * 86_400 + (7 + h) * 3600 + 1800 * (h % 2);
                rows.push(vec![
                    demo.into(),
                    format!("Busy {d}-{h}").into(),
                    user.id.into(),
                    start.into(),
                    60i64.into(),
                    start.into(),
                    carnet_app::db::Value::Text(if (d + h) % 7 == 0 { Some("cancelled".into()) } else { None }),
                    now.into(),
                    now.into(),
                ]);
            }
        }
        let mut tx = db.begin().await.unwrap();
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
                "outcome",
                "created_at",
                "updated_at",
            ],
            &rows,
        )
        .await
        .unwrap();
        tx.commit().await.unwrap();
    }
    let from = chrono::DateTime::from_timestamp(now + 86_400, 0).unwrap().date_naive();
    let to = from + chrono::Duration::days(30);
    let h = time_http(
        client,
        key,
        &[format!("{base}/users/{}/free-slots?from={from}&to={to}", user.id)],
        n,
    )
    .await;
    let s = time_sql(
        carnet,
        &[q("SELECT starts_at, duration_min FROM actions WHERE assignee_id = $1 AND starts_at IS NOT NULL AND planned_at >= $2 AND planned_at < $3").bind(user.id).bind(now).bind(now + 31 * 86_400)],
        n,
    )
    .await;
    out.push(row(kind, "free slots for a month, busy diary (~250 appointments)", &h, &s, 20.0));
    eprintln!("{}", out.last().unwrap());

    // The agenda week view of a team of 10 reps, over all the actions: the
    // page itself (signed in), against the plain SQL of the same week.
    let mut c = db.conn().await.unwrap();
    let total: i64 = q("SELECT COUNT(*) FROM actions").scalar(&mut c).await.unwrap();
    let team: Vec<(i64,)> = q("SELECT id FROM users WHERE role = 'sales' ORDER BY id LIMIT 10")
        .fetch_all(&mut c)
        .await
        .unwrap();
    drop(c);
    let browser = signed_in(db, user.id).await;
    let page = base.trim_end_matches("/api/v1");
    let today = chrono::DateTime::from_timestamp(now, 0).unwrap().date_naive();
    let weeks: Vec<chrono::NaiveDate> = (0..8).map(|w| today - chrono::Duration::days(7 * w)).collect();
    let users_q: String = team.iter().map(|(u,)| format!("&users={u}")).collect();
    let urls: Vec<String> = weeks.iter().map(|d| format!("{page}/agenda?view=week&date={d}{users_q}")).collect();
    let h = time_http(&browser, "", &urls, n).await;
    let ids: Vec<i64> = team.iter().map(|(u,)| *u).collect();
    let sql: Vec<carnet_app::db::Q> = weeks
        .iter()
        .map(|d| {
            let monday = *d - chrono::Duration::days(chrono::Datelike::weekday(d).num_days_from_monday() as i64);
            let from = monday.and_hms_opt(0, 0, 0).unwrap().and_utc().timestamp();
            let mut sq = q(
                "SELECT id, type_id, subject, account_id, opportunity_id, assignee_id, starts_at, duration_min, due_date, outcome \
                            FROM actions WHERE planned_at >= ",
            );
            sq.push_bind(from - 86_400)
                .push(" AND planned_at < ")
                .push_bind(from + 8 * 86_400)
                .push(" AND assignee_id IN ");
            carnet_app::db::push_in_list(&mut sq, &ids);
            sq.push(" ORDER BY assignee_id, planned_at");
            sq
        })
        .collect();
    let s = time_sql(carnet, &sql, n).await;
    let label = format!("agenda week view, team of 10, {total} actions in the database");
    out.push(row(kind, &label, &h, &s, 50.0));
    eprintln!("{}", out.last().unwrap());

    for job_kind in ["noop", "touch"] {
        // Rounds alternate the queue and its baseline, so that both see the same
        // moments of a shared machine; the median of each is reported.
        let (count, rounds) = (10_000i64, 5);
        let mut rates = Vec::with_capacity(rounds);
        let mut base_rates = Vec::with_capacity(rounds);
        for _ in 0..rounds {
            rates.push(count as f64 / drain_jobs(carnet, job_kind, count, now).await);
            base_rates.push(count as f64 / update_loop(db, job_kind, count).await);
            clear_jobs(db).await;
        }
        let (rate, base) = (median(&mut rates), median(&mut base_rates));
        let verdict = if rate >= 2000.0 { "✓" } else { "✗" };
        out.push(format!(
            "| {kind} | job queue, {job_kind} jobs, 2 workers (median of {rounds} × {count}) | {rate:.0} jobs/s {verdict} (≥ 2000/s) | | {base:.0} plain UPDATE tx/s | ×{:.2} |",
            rate / base
        ));
        eprintln!("{}", out.last().unwrap());
    }
    out
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Runs due jobs with two workers until none is left.
async fn drain_two(carnet: &Carnet) {
    let workers: Vec<_> = (0..2)
        .map(|w| {
            let c = carnet.clone();
            tokio::spawn(async move {
                while carnet_app::platform::jobs::run_batch(&c, &format!("bench-{w}"), 60, carnet_app::platform::jobs::BATCH)
                    .await
                    .unwrap()
                    > 0
                {}
            })
        })
        .collect();
    for w in workers {
        w.await.unwrap();
    }
}

/// Queues `count` jobs of a kind and drains them with two workers; returns the seconds taken.
async fn drain_jobs(carnet: &Carnet, job_kind: &str, count: i64, now: i64) -> f64 {
    let db = &carnet.db;
    let mut tx = db.begin().await.unwrap();
    // A touch job writes one row under its own key.
    let rows: Vec<Vec<carnet_app::db::Value>> = (0..count)
        .map(|i| {
            let payload = if job_kind == "touch" {
                format!("{{\"key\":\"{i}\"}}")
            } else {
                "{}".into()
            };
            vec![
                job_kind.into(),
                payload.into(),
                "queued".into(),
                0i64.into(),
                0i64.into(),
                8i64.into(),
                now.into(),
            ]
        })
        .collect();
    carnet_app::db::dialect::bulk_insert(
        &mut tx,
        "jobs",
        &["kind", "payload", "status", "run_at", "attempts", "max_attempts", "created_at"],
        &rows,
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let started = Instant::now();
    drain_two(carnet).await;
    let secs = started.elapsed().as_secs_f64();
    let left: i64 = q("SELECT COUNT(*) FROM jobs WHERE kind = $1 AND status <> 'done'")
        .bind(job_kind)
        .scalar(&mut db.conn().await.unwrap())
        .await
        .unwrap();
    assert_eq!(left, 0, "every {job_kind} job done");
    secs
}

/// The baseline: as many single-row UPDATE transactions over the jobs, done plainly.
async fn update_loop(db: &carnet_app::db::Db, job_kind: &str, count: i64) -> f64 {
    let ids: Vec<(i64,)> = q("SELECT id FROM jobs WHERE kind = $1 ORDER BY id DESC LIMIT $2")
        .bind(job_kind)
        .bind(count)
        .fetch_all(&mut db.conn().await.unwrap())
        .await
        .unwrap();
    let started = Instant::now();
    for (id,) in &ids {
        let mut tx = db.begin().await.unwrap();
        q("UPDATE jobs SET attempts = attempts + 1 WHERE id = $1")
            .bind(*id)
            .execute(&mut tx)
            .await
            .unwrap();
        tx.commit().await.unwrap();
    }
    started.elapsed().as_secs_f64()
}

async fn clear_jobs(db: &carnet_app::db::Db) {
    let mut tx = db.begin().await.unwrap();
    q("DELETE FROM jobs WHERE kind IN ('noop', 'touch')")
        .execute(&mut tx)
        .await
        .unwrap();
    q("DELETE FROM job_effects WHERE effect_key LIKE 'touch:%'")
        .execute(&mut tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    // What autovacuum (off on some hosts) or the daily job would do between bursts.
    carnet_app::db::dialect::after_refill(db, &["jobs", "job_effects"]).await.unwrap();
}

/// Times a group of queries run one after the other, as one sample.
async fn time_sql_all(carnet: &Carnet, queries: &[carnet_app::db::Q], n: usize) -> Stat {
    let mut d = Vec::with_capacity(n);
    for i in 0..n + 1 {
        let t = Instant::now();
        for query in queries {
            let mut c = carnet.db.conn().await.unwrap();
            std::hint::black_box(query.clone().execute(&mut c).await.unwrap());
        }
        if i >= 1 {
            d.push(t.elapsed());
        }
    }
    stat(d)
}

/// The analysis scenarios: the home page with its strip of 8 flash figures
/// (each with the previous period and last year) and the default dashboard (6
/// widgets), signed in as an administrator (the company's figures), against the
/// same numbers computed by plain SQL over the raw tables, as peer CRMs do.
async fn analysis_suite(kind: &str, carnet: &Carnet, base: &str, n: usize) -> Vec<String> {
    let mut out = Vec::new();
    let db = &carnet.db;
    let mut c = db.conn().await.unwrap();
    let facts: i64 = q("SELECT COUNT(*) FROM fact_deals").scalar(&mut c).await.unwrap();
    drop(c);
    if facts == 0 {
        let t = Instant::now();
        carnet_app::analytics::rebuild(db, None).await.unwrap();
        carnet_app::db::dialect::after_bulk_load(db).await.unwrap();
        out.push(format!(
            "| {kind} | analytics rebuild (facts from all opportunities and actions) | {:.1} s | | | |",
            t.elapsed().as_secs_f64()
        ));
        eprintln!("{}", out.last().unwrap());
    }
    let user = users::find_by_email(db, "bench@carnet.example").await.unwrap().unwrap();
    let browser = signed_in(db, user.id).await;
    let page = base.trim_end_matches("/api/v1");
    let mut c = db.conn().await.unwrap();
    let board: i64 = q("SELECT id FROM dashboards WHERE name = 'Sales model review'")
        .scalar(&mut c)
        .await
        .unwrap();
    let totals: (i64, i64) = q("SELECT (SELECT COUNT(*) FROM opportunities), (SELECT COUNT(*) FROM actions)")
        .fetch_one(&mut c)
        .await
        .unwrap();
    drop(c);
    let size = format!("{} opportunities, {} actions", totals.0, totals.1);

    // The plain SQL: this month, the previous month and the same month last year.
    let today = db.clock().today_utc();
    let ts = |d: chrono::NaiveDate| d.and_hms_opt(0, 0, 0).unwrap().and_utc().timestamp();
    let m0 = chrono::Datelike::with_day(&today, 1).unwrap();
    let periods = [
        (ts(m0), ts(m0 + chrono::Months::new(1))),
        (ts(m0 - chrono::Months::new(1)), ts(m0)),
        (ts(m0 - chrono::Months::new(12)), ts(m0 - chrono::Months::new(11))),
    ];
    let mut strip = Vec::new();
    for (a, b) in periods {
        strip.push(
            q("SELECT COUNT(*) FROM opportunities WHERE created_at >= $1 AND created_at < $2")
                .bind(a)
                .bind(b),
        );
        strip.push(q("SELECT status, COUNT(*), SUM(amount) FROM opportunities WHERE status IN ('won', 'lost') AND closed_at >= $1 AND closed_at < $2 GROUP BY status").bind(a).bind(b));
        strip.push(
            q("SELECT COUNT(*), SUM(amount) FROM opportunities WHERE status = 'won' AND closed_at >= $1 AND closed_at < $2")
                .bind(a)
                .bind(b),
        );
        strip.push(
            q("SELECT COUNT(*), SUM(spent_min) FROM actions WHERE outcome = 'done' AND done_at >= $1 AND done_at < $2")
                .bind(a)
                .bind(b),
        );
    }
    strip.push(q(
        "SELECT SUM(o.amount * s.probability) FROM opportunities o JOIN stages s ON s.id = o.stage_id WHERE o.status = 'open'",
    ));
    let year = (
        ts(chrono::NaiveDate::from_ymd_opt(chrono::Datelike::year(&today), 1, 1).unwrap()),
        ts(today + chrono::Duration::days(1)),
    );
    let year12 = ts(m0 - chrono::Months::new(11));
    let dashboard = vec![
        q("SELECT source_id, COUNT(*) FROM opportunities WHERE created_at >= $1 AND created_at < $2 GROUP BY source_id").bind(year.0).bind(year.1),
        q("SELECT owner_id, status, COUNT(*) FROM opportunities WHERE status IN ('won', 'lost') AND closed_at >= $1 AND closed_at < $2 GROUP BY owner_id, status").bind(year.0).bind(year.1),
        q("SELECT segment_tag_id, COUNT(*), SUM(amount) FROM opportunities WHERE status = 'won' AND closed_at >= $1 AND closed_at < $2 GROUP BY segment_tag_id").bind(year.0).bind(year.1),
        q("SELECT rt.tag_id, COUNT(*) FROM actions a LEFT JOIN record_tags rt ON rt.entity = 'account' AND rt.record_id = a.account_id \
           AND rt.tag_id IN (SELECT t.id FROM tags t JOIN tag_categories tc ON tc.id = t.category_id WHERE tc.is_segment = TRUE) \
           WHERE a.outcome = 'done' AND a.done_at >= $1 AND a.done_at < $2 GROUP BY rt.tag_id").bind(year.0).bind(year.1),
        q("SELECT done_at / 2629800, SUM(spent_min) FROM actions WHERE outcome = 'done' AND done_at >= $1 GROUP BY done_at / 2629800").bind(year12),
        q("SELECT o.stage_id, SUM(o.amount * s.probability) FROM opportunities o JOIN stages s ON s.id = o.stage_id WHERE o.status = 'open' GROUP BY o.stage_id"),
    ];
    // The baselines scan the tables: a few samples are enough to see their order.
    let base_n = if totals.1 > 1_000_000 { 5 } else { n.min(50) };
    let h = time_http(&browser, "", &[format!("{page}/?period=this_month")], n).await;
    let s = time_sql_all(carnet, &strip, base_n).await;
    out.push(row(
        kind,
        &format!("home page with 8 flash figures (each vs previous and last year), {size}"),
        &h,
        &s,
        50.0,
    ));
    eprintln!("{}", out.last().unwrap());
    let h = time_http(&browser, "", &[format!("{page}/dashboards/{board}")], n).await;
    let s = time_sql_all(carnet, &dashboard, base_n).await;
    out.push(row(
        kind,
        &format!("default dashboard, 6 widgets drawn as SVG, {size}"),
        &h,
        &s,
        50.0,
    ));
    eprintln!("{}", out.last().unwrap());

    // A breakdown the facts do not carry, read from the period's records: this
    // month's deal figures by a tag category, against the same GROUP BY.
    let mut c = db.conn().await.unwrap();
    let category: i64 = q("SELECT id FROM tag_categories ORDER BY is_segment DESC, id LIMIT 1")
        .scalar(&mut c)
        .await
        .unwrap();
    drop(c);
    let url = format!("{base}/metrics/won_amount/values?period=this_month&breakdown=tags:{category}");
    let h = time_http(&browser, "", &[url], n).await;
    let (a, b) = periods[0];
    let plain = q("SELECT rt.tag_id, o.status, COUNT(*), SUM(o.amount) FROM opportunities o \
                   LEFT JOIN record_tags rt ON rt.entity = 'account' AND rt.record_id = o.account_id \
                   AND rt.tag_id IN (SELECT id FROM tags WHERE category_id = $1) \
                   WHERE (o.created_at >= $2 AND o.created_at < $3) OR (o.status IN ('won', 'lost') AND o.closed_at >= $2 AND o.closed_at < $3) \
                   GROUP BY rt.tag_id, o.status")
    .bind(category)
    .bind(a)
    .bind(b);
    let s = time_sql_all(carnet, &[plain], base_n).await;
    out.push(row(
        kind,
        "widget by a tag category (from the month's records, not the facts)",
        &h,
        &s,
        50.0,
    ));
    eprintln!("{}", out.last().unwrap());
    out
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let a = args();
    let kinds: Vec<&str> = match a.db.as_str() {
        "both" => vec!["sqlite", "postgres"],
        k => vec![k],
    };
    let mut lines = vec![
        format!(
            "{} contacts, {} requests per scenario, sequential, one client on loopback",
            a.contacts, a.requests
        ),
        String::new(),
        "| db | scenario | HTTP p50 | HTTP p95 (target) | plain SQL p50 | HTTP / SQL |".into(),
        "|---|---|---|---|---|---|".into(),
    ];
    for k in kinds {
        if a.suite == "writer" {
            lines.extend(writer_suite(k, &a).await);
            continue;
        }
        if a.suite == "email" {
            lines.extend(email_suite(k, &a).await);
            continue;
        }
        if a.suite == "scoring" {
            lines.extend(scoring_suite(k, &a).await);
            continue;
        }
        if a.suite == "tracking" {
            lines.extend(tracking_suite(k, &a).await);
            continue;
        }
        lines.extend(run(k, &a).await);
    }
    println!("{}", lines.join("\n"));
}

/// The record writer (`--suite writer`): N contacts created through
/// `records::write::insert` in transactions of 10,000 — rows, tags, search
/// tokens, a timeline entry and the events of each — against the demo's bulk
/// path for the same rows (rows, tags and search tokens by `bulk_insert`, no
/// timeline or events), three rounds each on a fresh database, medians reported.
async fn writer_suite(kind: &str, a: &Args) -> Vec<String> {
    use carnet_app::db::Value;
    use carnet_domain::records::ContactDraft;
    let carnet = fresh(kind, a, "writer").await;
    let db = &carnet.db;
    let cat = carnet_app::settings::catalog(db).await.unwrap();
    let gold = cat.resolve_tag("Gold").unwrap();
    let n = a.contacts as usize;
    // Deterministic contacts (a linear congruential sequence, seed 42).
    let mut x: u64 = 42;
    let mut next = move || {
        x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (x >> 33) as usize
    };
    const FIRST: &[&str] = &["Élise", "Marc", "Chloé", "Hugo", "Léa", "Louis", "Inès", "Jules"];
    const LAST: &[&str] = &["Martin", "Bernard", "Dubois", "Thomas", "Robert", "Richard", "Petit", "Durand"];
    let drafts: Vec<ContactDraft> = (0..n)
        .map(|i| {
            let first = FIRST[next() % FIRST.len()].to_string();
            let last = format!("{}-{}", LAST[next() % LAST.len()], i % 997);
            let email = format!(
                "{}.{}{i}@mail{}.example",
                carnet_domain::values::fold(&first).replace(' ', ""),
                carnet_domain::values::fold(&last).replace(' ', ""),
                i % 50
            );
            ContactDraft {
                first_name: Some(first),
                last_name: last,
                email: Some(carnet_domain::values::EmailAddress::parse(&email).unwrap()),
                phone: Some(carnet_domain::values::Phone::parse(&format!("06{:08}", i)).unwrap()),
                mobile: None,
                job_title: None,
                owner_id: None,
                source: None,
                address: None,
                postal_code: None,
                city: None,
                country: None,
                description: None,
                tag_ids: if next() % 10 < 6 { vec![gold] } else { vec![] },
                custom: vec![],
            }
        })
        .collect();
    let clear = || async {
        let mut tx = db.begin().await.unwrap();
        for t in [
            "DELETE FROM contacts",
            "DELETE FROM record_tags",
            "DELETE FROM search_tokens",
            "DELETE FROM timeline",
            "DELETE FROM events",
            "DELETE FROM jobs",
        ] {
            q(t).execute(&mut tx).await.unwrap();
        }
        tx.commit().await.unwrap();
        carnet_app::db::dialect::after_refill(db, &["contacts", "record_tags", "search_tokens", "timeline", "events", "jobs"])
            .await
            .unwrap();
    };
    const BATCH: usize = 10_000;
    let (mut writer, mut bulk) = (Vec::new(), Vec::new());
    for _ in 0..3 {
        clear().await;
        let t = Instant::now();
        for chunk in drafts.chunks(BATCH) {
            let mut tx = db.begin().await.unwrap();
            carnet_app::records::write::insert(&mut tx, &cat, None, chunk).await.unwrap();
            tx.commit().await.unwrap();
        }
        writer.push(n as f64 / t.elapsed().as_secs_f64());
        let tokens: i64 = q("SELECT COUNT(*) FROM search_tokens")
            .scalar(&mut db.conn().await.unwrap())
            .await
            .unwrap();
        assert!(tokens > n as i64, "the writer indexed the contacts");
        clear().await;
        // The demo's bulk path: rows with ids past the largest, tags and tokens.
        let t = Instant::now();
        let mut base: i64 = q("SELECT COALESCE(MAX(id), 0) FROM contacts")
            .scalar(&mut db.conn().await.unwrap())
            .await
            .unwrap();
        let now = db.now();
        for chunk in drafts.chunks(BATCH) {
            let mut rows = carnet_app::demo::BulkContacts::default();
            for d in chunk {
                base += 1;
                let tag = d.tag_ids.first().map(|t| (*t, "Gold"));
                let (email, phone) = (d.email.as_ref().unwrap(), d.phone.as_ref().unwrap());
                let first = d.first_name.as_deref().unwrap_or_default();
                rows.push(base, first, &d.last_name, email.as_str(), &phone.digits, Value::Int(None), now, tag);
            }
            let mut tx = db.begin().await.unwrap();
            rows.insert(&mut tx).await.unwrap();
            tx.commit().await.unwrap();
        }
        bulk.push(n as f64 / t.elapsed().as_secs_f64());
    }
    clear().await;
    carnet.db.close().await;
    let (w, b) = (median(&mut writer), median(&mut bulk));
    let line = format!(
        "| {kind} | create {n} contacts, batch writer (rows, tags, tokens, timeline, events), transactions of {BATCH} (median of 3) | {w:.0} contacts/s | | {b:.0} contacts/s demo bulk path (rows, tags, tokens) | ×{:.2} |",
        w / b
    );
    eprintln!("{line}");
    vec![line]
}

/// A fresh database of its own for a suite that writes (`carnet-{name}.db`, `carnet_bench_{name}`).
async fn fresh(kind: &str, a: &Args, name: &str) -> Carnet {
    let target = std::env::var("CARGO_TARGET_DIR").unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/../../target").into());
    let dir = std::path::PathBuf::from(target).join("bench");
    std::fs::create_dir_all(&dir).unwrap();
    let url = match kind {
        "sqlite" => {
            let file = dir.join(format!("carnet-{name}.db"));
            for ext in ["", "-wal", "-shm"] {
                let _ = std::fs::remove_file(format!("{}{ext}", file.display()));
            }
            format!("sqlite:{}", file.display())
        }
        _ => {
            let admin = carnet_app::Db::connect(&format!("{}/postgres", a.pg)).await.unwrap();
            let mut c = admin.conn().await.unwrap();
            carnet_app::db::dialect::exec_raw(&mut c, &format!("DROP DATABASE IF EXISTS carnet_bench_{name}"))
                .await
                .unwrap();
            carnet_app::db::dialect::exec_raw(&mut c, &format!("CREATE DATABASE carnet_bench_{name}"))
                .await
                .unwrap();
            format!("{}/carnet_bench_{name}", a.pg)
        }
    };
    Carnet::open(&url, dir.join("files")).await.unwrap()
}

/// The email suite (see the top of the file).
async fn email_suite(kind: &str, a: &Args) -> Vec<String> {
    use carnet_app::mail::{outbox, smtp::Relay};
    let m = a.messages;
    let sink = carnet::smtp_sink::Sink::start().await;
    sink.count_only();
    let carnet = fresh(kind, a, "email").await.with_relay(Some(Relay::parse(&sink.url()).unwrap()));
    let db = &carnet.db;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    carnet.set_public_url(&format!("http://{addr}"));
    tokio::spawn(carnet_web::serve(
        carnet_web::AppState::new(carnet.clone(), false).with_api_limits(carnet_web::api::guard::ApiLimits::OFF),
        listener,
        std::future::pending(),
    ));
    carnet_app::mail::MailSettings::save(
        db,
        &carnet_app::mail::MailSettingsInput {
            sender_name: "Bench".into(),
            sender_address: "bench@carnet.example".into(),
            tracking: true,
            per_minute: 0,
        },
    )
    .await
    .unwrap();
    let queue = |round: usize| {
        let carnet = carnet.clone();
        async move {
            let mut tx = carnet.db.begin().await.unwrap();
            for i in 0..m {
                let to = carnet_domain::values::EmailAddress::parse(&format!("r{round}-{i}@client.example")).unwrap();
                let html = format!(
                    "<p>Hello {i},</p><p>Our <a href=\"https://acme.example/prices\">prices</a> and <a href=\"https://acme.example/case/{i}\">a case study</a>.</p>"
                );
                outbox::queue(
                    &mut tx,
                    outbox::NewEmail::new(outbox::Category::Marketing, to, format!("News {i}"), html),
                )
                .await
                .unwrap();
            }
            tx.commit().await.unwrap();
        }
    };
    let (mut rates, mut bases) = (Vec::new(), Vec::new());
    for round in 0..3 {
        queue(round).await;
        let before = sink.received();
        let t = Instant::now();
        drain_two(&carnet).await;
        let secs = t.elapsed().as_secs_f64();
        assert_eq!(sink.received() - before, m, "every message reached the sink");
        rates.push(m as f64 / secs);
        // The same messages, sent by a bare lettre loop (one pooled connection, no database).
        let site = carnet.site().unwrap();
        let rows = outbox::list(db, Some("sent"), None, None, m as i64).await.unwrap();
        let built: Vec<_> = rows.iter().map(|e| carnet_app::mail::compose::message(e, &site).unwrap()).collect();
        // One connection (without Nagle's delay, as Carnet's), messages sent one after the other.
        let before = sink.received();
        let t = Instant::now();
        let stream = tokio::net::TcpStream::connect(sink.addr).await.unwrap();
        stream.set_nodelay(true).unwrap();
        let hello = lettre::transport::smtp::extension::ClientId::Domain("bench.example".into());
        let mut conn = lettre::transport::smtp::client::AsyncSmtpConnection::connect_with_transport(Box::new(stream), &hello)
            .await
            .unwrap();
        for (envelope, bytes) in &built {
            conn.send(envelope, bytes).await.unwrap();
        }
        conn.quit().await.unwrap();
        bases.push(built.len() as f64 / t.elapsed().as_secs_f64());
        assert_eq!(sink.received() - before, built.len());
    }
    let (rate, base) = (median(&mut rates), median(&mut bases));
    let mut out = vec![format!(
        "| {kind} | outbox: {m} tracked marketing messages to an SMTP sink, 2 workers (median of 3) | {rate:.0} messages/s {} (≥ 300/s) | | {base:.0} messages/s bare lettre loop | ×{:.2} |",
        if rate >= 300.0 { "✓" } else { "✗" },
        rate / base
    )];
    eprintln!("{}", out.last().unwrap());
    // Opens and clicks: every hit recorded (a row, the counters, an event for a person's).
    let site = carnet.site().unwrap();
    let ids: Vec<(i64,)> = q("SELECT id FROM emails ORDER BY id LIMIT 1000")
        .fetch_all(&mut db.conn().await.unwrap())
        .await
        .unwrap();
    db.clock().pin(Some(db.now() + 3600));
    let opens: Vec<String> = ids.iter().map(|(id,)| carnet_app::mail::tracking::open_url(&site, *id)).collect();
    let clicks: Vec<String> = ids
        .iter()
        .map(|(id,)| carnet_app::mail::tracking::click_url(&site, *id, 0))
        .collect();
    let health = vec![format!("http://{addr}/healthz")];
    let hits = 4000;
    let (h_rate, h) = hammer(&health, hits).await;
    for (label, urls) in [("open pixel", &opens), ("click redirect", &clicks)] {
        let (r, st) = hammer(urls, hits).await;
        out.push(format!(
            "| {kind} | {label}: {hits} hits from 8 clients, each queued then recorded and classified by group commit | {r:.0} hits/s {} (≥ 5000/s) | p50 {:.2} ms, p95 {:.2} ms {} (≤ 5 ms) | {h_rate:.0} req/s /healthz (p95 {:.2} ms) | ×{:.2} |",
            if r >= 5000.0 { "✓" } else { "✗" },
            st.p50,
            st.p95,
            if st.p95 <= 5.0 { "✓" } else { "✗" },
            h.p95,
            r / h_rate
        ));
        eprintln!("{}", out.last().unwrap());
    }
    carnet.mailer.recorder(db).settled().await;
    db.clock().pin(None);
    let recorded: i64 = q("SELECT COUNT(*) FROM email_events")
        .scalar(&mut db.conn().await.unwrap())
        .await
        .unwrap();
    assert!(recorded >= 2 * hits as i64, "every hit was recorded ({recorded})");
    carnet.db.close().await;
    out
}

/// `n` GETs spread over `urls` from 8 concurrent clients: the rate and each request's latency.
async fn hammer(urls: &[String], n: usize) -> (f64, Stat) {
    let urls = std::sync::Arc::new(urls.to_vec());
    hammer_with(n, move |client, i| client.get(&urls[i % urls.len()])).await
}

/// `n` requests made by `make` (the request number) from 8 concurrent clients.
async fn hammer_with(n: usize, make: impl Fn(&reqwest::Client, usize) -> reqwest::RequestBuilder + Send + Sync + 'static) -> (f64, Stat) {
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .user_agent("Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0")
        .build()
        .unwrap();
    let make = std::sync::Arc::new(make);
    let t = Instant::now();
    let tasks: Vec<_> = (0..8)
        .map(|w| {
            let (client, make) = (client.clone(), make.clone());
            tokio::spawn(async move {
                let mut d = Vec::new();
                for i in (w..n).step_by(8) {
                    let req = make(&client, i);
                    let s = Instant::now();
                    let res = req.send().await.unwrap();
                    let u = res.url().to_string();
                    assert!(res.status().is_success() || res.status().is_redirection(), "{u}: {}", res.status());
                    res.bytes().await.unwrap();
                    d.push(s.elapsed());
                }
                d
            })
        })
        .collect();
    let mut all = Vec::new();
    for task in tasks {
        all.extend(task.await.unwrap());
    }
    (n as f64 / t.elapsed().as_secs_f64(), stat(all))
}

/// The scoring suite (see the top of the file).
async fn scoring_suite(kind: &str, a: &Args) -> Vec<String> {
    use carnet_app::db::Value;
    use carnet_app::marketing::scoring;
    let carnet = fresh(kind, a, "scoring").await;
    let db = &carnet.db;
    let n = a.contacts as usize;
    const CHUNK: usize = 10_000;
    let now = db.now();
    // N contacts by the demo's bulk path, and a form sent by each.
    for start in (0..n).step_by(CHUNK) {
        let mut rows = carnet_app::demo::BulkContacts::default();
        for i in start..(start + CHUNK).min(n) {
            let id = i as i64 + 1;
            rows.push(
                id,
                "Lead",
                &format!("Person{i}"),
                &format!("lead{i}@mail.example"),
                "",
                Value::Int(None),
                now,
                None,
            );
        }
        let mut tx = db.begin().await.unwrap();
        rows.insert(&mut tx).await.unwrap();
        let events: Vec<Vec<Value>> = (start..(start + CHUNK).min(n))
            .map(|i| {
                vec![
                    "form_submitted".into(),
                    "contact".into(),
                    (i as i64 + 1).into(),
                    r#"{"form_id":1}"#.into(),
                    (now - (i % 86_400) as i64).into(),
                ]
            })
            .collect();
        carnet_app::db::dialect::bulk_insert(&mut tx, "events", &["kind", "entity", "record_id", "data", "created_at"], &events)
            .await
            .unwrap();
        tx.commit().await.unwrap();
    }
    carnet_app::db::dialect::after_refill(db, &["contacts", "events"]).await.unwrap();
    let rule = scoring::save_rule(
        db,
        None,
        &scoring::RuleInput {
            name: "Any form".into(),
            trigger_kind: "form_submitted".into(),
            target: None,
            points: 10,
            decay_days: Some(90),
            active: true,
        },
    )
    .await
    .unwrap();
    let (mut rescore, mut plain) = (Vec::new(), Vec::new());
    for _ in 0..3 {
        let t = Instant::now();
        scoring::rescore(db, rule).await.unwrap();
        rescore.push(n as f64 / t.elapsed().as_secs_f64());
        let total: i64 = q("SELECT CAST(SUM(score) AS BIGINT) FROM contacts")
            .scalar(&mut db.conn().await.unwrap())
            .await
            .unwrap();
        assert_eq!(total, 10 * n as i64, "every contact re-scored");
        // The baseline: the same award rows by plain bulk INSERTs, nothing else.
        let mut tx = db.begin().await.unwrap();
        q("DELETE FROM score_points").execute(&mut tx).await.unwrap();
        tx.commit().await.unwrap();
        let t = Instant::now();
        for start in (0..n).step_by(CHUNK) {
            let rows: Vec<Vec<Value>> = (start..(start + CHUNK).min(n))
                .map(|i| {
                    let id = i as i64 + 1;
                    vec![
                        id.into(),
                        rule.into(),
                        id.into(),
                        10i64.into(),
                        now.into(),
                        (now + 90 * 86_400).into(),
                        false.into(),
                    ]
                })
                .collect();
            let mut tx = db.begin().await.unwrap();
            carnet_app::db::dialect::bulk_insert(
                &mut tx,
                "score_points",
                &["contact_id", "rule_id", "event_id", "points", "at", "expires_at", "expired"],
                &rows,
            )
            .await
            .unwrap();
            tx.commit().await.unwrap();
        }
        plain.push(n as f64 / t.elapsed().as_secs_f64());
    }
    carnet.db.close().await;
    let (r, p) = (median(&mut rescore), median(&mut plain));
    let line = format!(
        "| {kind} | re-score {n} contacts after a rule change (events read back, awards written, every score recounted; median of 3) | {r:.0} contacts/s | | {p:.0} rows/s plain bulk INSERT of the awards | ×{:.2} |",
        r / p
    );
    eprintln!("{line}");
    vec![line]
}

/// A deterministic stream of numbers (a linear congruential generator).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, below: u64) -> u64 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (self.0 >> 33) % below
    }
}

/// Bytes the tables (and their indexes) of `names` take: dbstat on SQLite,
/// `pg_total_relation_size` on PostgreSQL.
async fn bytes_of(db: &carnet_app::Db, names: &[&str]) -> i64 {
    let mut c = db.conn().await.unwrap();
    let mut total = 0;
    for name in names {
        total += match db.dialect() {
            carnet_app::db::dialect::Dialect::Sqlite => q("SELECT CAST(COALESCE(SUM(d.pgsize), 0) AS BIGINT) FROM dbstat d JOIN sqlite_schema s ON s.name = d.name WHERE s.tbl_name = $1")
                .bind(*name)
                .scalar::<i64>(&mut c)
                .await
                .unwrap(),
            carnet_app::db::dialect::Dialect::Postgres => q(format!("SELECT CAST(pg_total_relation_size('{name}') AS BIGINT)"))
                .scalar::<i64>(&mut c)
                .await
                .unwrap(),
        };
    }
    total
}

/// The tracking suite (see the top of the file).
async fn tracking_suite(kind: &str, a: &Args) -> Vec<String> {
    use carnet_app::db::Value;
    use carnet_app::marketing::{scoring, tracking};
    let carnet = fresh(kind, a, "tracking").await;
    let db = &carnet.db;
    let v = a.views;
    let visitors = (v / 10).max(1);
    let known = (visitors / 20).max(1);
    let origin = "https://www.acme.example";
    let site = tracking::save_site(
        db,
        None,
        &tracking::SiteInput {
            name: "Bench".into(),
            origins: origin.into(),
            consent_required: false,
            retention_days: 395,
            active: true,
        },
    )
    .await
    .unwrap();
    for (name, trigger, target, points) in [
        ("Pricing", "page_visit", Some("/pricing*"), 5),
        ("Came back", "return_visit", None, 10),
    ] {
        scoring::save_rule(
            db,
            None,
            &scoring::RuleInput {
                name: name.into(),
                trigger_kind: trigger.into(),
                target: target.map(String::from),
                points,
                decay_days: Some(30),
                active: true,
            },
        )
        .await
        .unwrap();
    }
    while carnet_app::platform::jobs::run_batch(&carnet, "bench", 60, carnet_app::platform::jobs::BATCH)
        .await
        .unwrap()
        > 0
    {}
    // The known visitors' contacts, and their visitors joined already.
    let now = db.now();
    let mut rows = carnet_app::demo::BulkContacts::default();
    for i in 0..=known {
        rows.push(
            i as i64 + 1,
            "Known",
            &format!("Visitor{i}"),
            &format!("known{i}@mail.example"),
            "",
            Value::Int(None),
            now,
            None,
        );
    }
    let joined: Vec<Vec<Value>> = (0..=known)
        .map(|i| {
            let anon = if i == known {
                "timeline-visitor-0000".to_string()
            } else {
                format!("v{i:016}")
            };
            vec![
                site.into(),
                anon.into(),
                (i as i64 + 1).into(),
                now.into(),
                0i64.into(),
                0i64.into(),
                0i64.into(),
                0i64.into(),
                0i64.into(),
            ]
        })
        .collect();
    let mut tx = db.begin().await.unwrap();
    rows.insert(&mut tx).await.unwrap();
    carnet_app::db::dialect::bulk_insert(
        &mut tx,
        "track_visitors",
        &[
            "site_id",
            "anon",
            "contact_id",
            "identified_at",
            "first_at",
            "last_at",
            "visit_at",
            "visits",
            "views",
        ],
        &joined,
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let timeline_contact = known as i64 + 1;
    // V page views over the last 60 days, in time order, of random visitors.
    let mut rng = Lcg(7);
    let start = (now - 60 * 86_400) * 1000;
    let step = (60 * 86_400_000 / v as i64).max(1);
    let hit = |i: usize, rng: &mut Lcg| {
        let visitor = rng.next(visitors as u64);
        let page = rng.next(5_000);
        let path = if page < 250 {
            format!("/pricing/{page}")
        } else {
            format!("/page/{page}")
        };
        let referrer = (rng.next(10) == 0).then(|| format!("https://search.example/?q={}", rng.next(100)));
        tracking::Hit {
            site_id: site,
            anon: format!("v{visitor:016}"),
            url: format!("{origin}{path}"),
            title: Some(format!("Page {page}")),
            referrer,
            at_ms: start + i as i64 * step,
            contact: None,
        }
    };
    let t = Instant::now();
    for i in 0..v {
        let h = hit(i, &mut rng);
        carnet.tracker.send(db, h).await.unwrap();
    }
    carnet.tracker.settled(db).await;
    let ingest = v as f64 / t.elapsed().as_secs_f64();
    let stored: i64 = q("SELECT COUNT(*) FROM page_views")
        .scalar(&mut db.conn().await.unwrap())
        .await
        .unwrap();
    assert_eq!(stored, v as i64, "every page view stored");
    // The scoring the known visitors' views queued, drained by two workers.
    let t = Instant::now();
    drain_two(&carnet).await;
    let scoring_secs = t.elapsed().as_secs_f64();
    let events: i64 = q("SELECT COUNT(*) FROM events WHERE kind IN ('page_visited', 'return_visit')")
        .scalar(&mut db.conn().await.unwrap())
        .await
        .unwrap();
    let scored: i64 = q("SELECT COUNT(*) FROM score_points")
        .scalar(&mut db.conn().await.unwrap())
        .await
        .unwrap();
    // The baseline: the same rows by plain bulk INSERTs, groups of 2,000, into the same layout.
    let mut c = db.conn().await.unwrap();
    carnet_app::db::dialect::exec_raw(
        &mut c,
        &db.dialect().render(
            "CREATE TABLE page_views_plain (at_ms BIGINT NOT NULL, visitor_id INTEGER NOT NULL, url_id INTEGER NOT NULL, referrer_id INTEGER, kind SMALLINT NOT NULL
--sqlite: , PRIMARY KEY (at_ms, visitor_id)
)
--sqlite: WITHOUT ROWID
;
--postgres: CREATE INDEX page_views_plain_time ON page_views_plain USING brin (at_ms);
CREATE INDEX page_views_plain_visitor ON page_views_plain(visitor_id, at_ms);",
        ),
    )
    .await
    .unwrap();
    let all: Vec<(i64, i64, i64, Option<i64>, i64)> =
        q("SELECT at_ms, CAST(visitor_id AS BIGINT), CAST(url_id AS BIGINT), CAST(referrer_id AS BIGINT), CAST(kind AS BIGINT) FROM page_views")
            .fetch_all(&mut c)
            .await
            .unwrap();
    drop(c);
    let mut order: Vec<usize> = (0..all.len()).collect();
    // In arrival order (time), as the writer got them.
    order.sort_by_key(|i| all[*i].0);
    let t = Instant::now();
    for chunk in order.chunks(2_000) {
        let rows: Vec<Vec<Value>> = chunk
            .iter()
            .map(|i| {
                let r = all[*i];
                vec![r.0.into(), r.1.into(), r.2.into(), r.3.into(), r.4.into()]
            })
            .collect();
        let mut tx = db.begin().await.unwrap();
        carnet_app::db::dialect::bulk_insert(
            &mut tx,
            "page_views_plain",
            &["at_ms", "visitor_id", "url_id", "referrer_id", "kind"],
            &rows,
        )
        .await
        .unwrap();
        tx.commit().await.unwrap();
    }
    let plain = v as f64 / t.elapsed().as_secs_f64();
    drop(all);
    if db.dialect() == carnet_app::db::dialect::Dialect::Postgres {
        let mut c = db.conn().await.unwrap();
        // One statement each: VACUUM refuses to run in a transaction block.
        for t in ["page_views", "page_views_plain", "track_visitors", "track_urls"] {
            carnet_app::db::dialect::exec_raw(&mut c, &format!("VACUUM ANALYZE {t}"))
                .await
                .unwrap();
        }
    }
    let per_view = bytes_of(db, &["page_views"]).await as f64 / v as f64;
    let with_tables = bytes_of(db, &["page_views", "track_urls", "track_visitors"]).await as f64 / v as f64;
    let plain_per_view = bytes_of(db, &["page_views_plain"]).await as f64 / v as f64;
    let mut out = vec![
        format!(
            "| {kind} | tracking ingestion: {v} page views of {visitors} visitors ({known} known; page and return-visit rules on) through the group writer | {ingest:.0} views/s {} (≥ 20000/s) | scoring: {events} events → {scored} awards drained in {scoring_secs:.1} s by 2 workers | {plain:.0} rows/s plain bulk INSERT | ×{:.2} |",
            if ingest >= 20_000.0 { "✓" } else { "✗" },
            ingest / plain
        ),
        format!(
            "| {kind} | bytes per page view at {v} views, indexes included | {per_view:.1} B {} (≤ 100) | with the interned addresses and the visitors: {with_tables:.1} B | {plain_per_view:.1} B the plain table | ×{:.2} |",
            if per_view <= 100.0 { "✓" } else { "✗" },
            per_view / plain_per_view
        ),
    ];
    eprintln!("{}\n{}", out[0], out[1]);
    // A contact with 10,000 visits of 3 pages, two hours apart, before the rest.
    let first = start - 10_000 * 7_200_000;
    for visit in 0..10_000i64 {
        for p in 0..3i64 {
            let path = ["/", "/pricing/1", "/contact"][p as usize];
            carnet
                .tracker
                .send(
                    db,
                    tracking::Hit {
                        site_id: site,
                        anon: "timeline-visitor-0000".into(),
                        url: format!("{origin}{path}"),
                        title: None,
                        referrer: None,
                        at_ms: first + visit * 7_200_000 + p * 60_000,
                        contact: None,
                    },
                )
                .await
                .unwrap();
        }
    }
    carnet.tracker.settled(db).await;
    while carnet_app::platform::jobs::run_batch(&carnet, "bench", 60, carnet_app::platform::jobs::BATCH)
        .await
        .unwrap()
        > 0
    {}
    // Served for real: the hit endpoint and the contact's visits.
    let admin = users::create(
        db,
        users::NewUser::parse("bench@carnet.example", "Bench", "admin", "bench password", "en", "UTC").unwrap(),
    )
    .await
    .unwrap();
    let (_, key) = keys::create(db, admin.id, "bench").await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(carnet_web::serve(
        carnet_web::AppState::new(carnet.clone(), false).with_api_limits(carnet_web::api::guard::ApiLimits::OFF),
        listener,
        std::future::pending(),
    ));
    let site_key = tracking::site(db, site).await.unwrap().site_key;
    let n = 4_000;
    let health = vec![format!("http://{addr}/healthz")];
    let (h_rate, h) = hammer(&health, n).await;
    let to = format!("http://{addr}/t/hit");
    let (r, st) = hammer_with(n, move |client, i| {
        let body = format!(
            r#"{{"site":"{site_key}","vid":"endpoint{:012}","url":"{origin}/page/{}","title":"Page"}}"#,
            i % 500,
            i % 300
        );
        client.post(&to).header("origin", origin).body(body)
    })
    .await;
    carnet.tracker.settled(db).await;
    out.push(format!(
        "| {kind} | hit endpoint: {n} hits from 8 clients, each checked then queued for the group writer | {r:.0} hits/s | p50 {:.2} ms, p95 {:.2} ms {} (≤ 10 ms) | {h_rate:.0} req/s /healthz (p95 {:.2} ms) | ×{:.2} |",
        st.p50,
        st.p95,
        if st.p95 <= 10.0 { "✓" } else { "✗" },
        h.p95,
        r / h_rate
    ));
    eprintln!("{}", out.last().unwrap());
    let visitor: i64 = q("SELECT id FROM track_visitors WHERE anon = 'timeline-visitor-0000'")
        .scalar(&mut db.conn().await.unwrap())
        .await
        .unwrap();
    let url = format!("http://{addr}/api/v1/contacts/{timeline_contact}/visits");
    let client = reqwest::Client::new();
    let (mut api, mut sql) = (Vec::new(), Vec::new());
    for _ in 0..a.requests {
        let t = Instant::now();
        let res = client.get(&url).bearer_auth(&key).send().await.unwrap();
        assert!(res.status().is_success(), "{}", res.status());
        let body: serde_json::Value = res.json().await.unwrap();
        api.push(t.elapsed());
        assert_eq!(body["visits"], 10_000, "{}", body["visits"]);
        assert_eq!(body["latest"].as_array().unwrap().len(), 20);
        let t = Instant::now();
        let rows: Vec<(i64, i64)> =
            q("SELECT at_ms, CAST(url_id AS BIGINT) FROM page_views WHERE visitor_id = $1 ORDER BY at_ms DESC LIMIT 500")
                .bind(visitor)
                .fetch_all(&mut db.conn().await.unwrap())
                .await
                .unwrap();
        assert_eq!(rows.len(), 500);
        sql.push(t.elapsed());
    }
    let (api, sql) = (stat(api), stat(sql));
    out.push(format!(
        "| {kind} | a contact's visits through the API (10,000 visits on record; counts and the latest 20 visits with their pages) | {:.2} ms | {:.2} ms {} (≤ 50 ms) | {:.2} ms plain SQL, their latest 500 views | ×{:.2} |",
        api.p50,
        api.p95,
        if api.p95 <= 50.0 { "✓" } else { "✗" },
        sql.p50,
        api.p50 / sql.p50
    ));
    eprintln!("{}", out.last().unwrap());
    carnet.db.close().await;
    out
}
