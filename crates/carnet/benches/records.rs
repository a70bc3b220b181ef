//! Records benchmark (issue: foundation; SPEC "Performance targets").
//!
//! Loads N contacts and 0.3·N accounts with tags and a custom field
//! (`carnet demo --scale`'s generator, deterministic), starts the real server,
//! and measures through HTTP: the first page of the contact list with a tag
//! filter, the next page by cursor, search by name prefix and by email. Each
//! scenario is also run as the plain SQL a hand-written CRM would send, in the
//! same run, as the baseline; results are medians, p95 and the ratio.
//!
//!   cargo bench -p carnet --bench records -- [--contacts N] [--db sqlite|postgres|both] [--requests R]
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
}

fn args() -> Args {
    let mut a = Args {
        contacts: 1_000_000,
        db: "both".into(),
        requests: 300,
        pg: "postgres://postgres@127.0.0.1:5432".into(),
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

async fn time_http(client: &reqwest::Client, key: &str, urls: &[String], n: usize) -> Stat {
    for u in urls.iter().take(5) {
        client.get(u).bearer_auth(key).send().await.unwrap().bytes().await.unwrap();
    }
    let mut d = Vec::with_capacity(n);
    for i in 0..n {
        let u = &urls[i % urls.len()];
        let t = Instant::now();
        let res = client.get(u).bearer_auth(key).send().await.unwrap();
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
        let rows: Vec<(i64, String)> = query.fetch_all(&mut c).await.unwrap();
        std::hint::black_box(rows);
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
        out.push(format!("| {kind} | bulk load: {} contacts + {} accounts (tags, custom field, links, search tokens) | {s:.1} s | {:.0} contacts/s | | |", a.contacts, a.contacts * 3 / 10, a.contacts as f64 / s));
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
        carnet_web::AppState::new(carnet.clone(), false),
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
        "| db | scenario | HTTP p50 | HTTP p95 (target ≤ 30 ms) | plain SQL p50 | HTTP / SQL |".into(),
        "|---|---|---|---|---|---|".into(),
    ];
    for k in kinds {
        lines.extend(run(k, &a).await);
    }
    println!("{}", lines.join("\n"));
}
