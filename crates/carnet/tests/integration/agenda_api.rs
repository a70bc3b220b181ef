//! Actions, follow-up rules and the durable job queue.

use crate::helpers::*;
use carnet_app::agenda::recurring::{PlanRule, RulePayload};
use carnet_app::platform::events::{EventKind, NewEvent};
use carnet_app::platform::jobs;
use carnet_app::platform::registry::JobKind;
use reqwest::{Method, StatusCode};
use serde_json::json;

/// Queues a job, as the application would, in a transaction of its own.
async fn queue<K: JobKind>(app: &TestApp, payload: K::Payload) {
    let mut tx = app.carnet.db.begin().await.unwrap();
    jobs::enqueue::<K>(&mut tx, &payload, jobs::When::Now, None).await.unwrap();
    tx.commit().await.unwrap();
}

async fn drain(app: &TestApp) -> usize {
    let mut n = 0;
    while jobs::run_once(&app.carnet, "test-worker", 60).await.unwrap() {
        n += 1;
        assert!(n < 10_000, "the queue does not drain");
    }
    n
}

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

/// Two workers with their own connections drain one queue: every job runs once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_workers_never_run_the_same_job() {
    let app = spawn_app().await;
    let (_, a) = app.post("/api/v1/accounts", json!({"name": "Busy Co"})).await;
    app.post(
        "/api/v1/followup-rules",
        json!({"when_type": "Phone call", "then_type": "Task", "subject": "Call back", "due_days": 1, "business_days": false}),
    )
    .await;
    for i in 0..30 {
        let (_, act) = app
            .post(
                "/api/v1/actions",
                json!({"type": "Phone call", "subject": format!("Call {i}"), "account": a["id"]}),
            )
            .await;
        app.post(&format!("/api/v1/actions/{}/finish", act["id"]), json!({"outcome": "done"}))
            .await;
    }
    // A second node: another Carnet on the same database, with its own pool.
    let other = carnet_app::Carnet::open(&app.url, app.dir.join("files2")).await.unwrap();
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let w1 = tokio::spawn(jobs::worker(app.carnet.clone(), "node-a".into(), 60, stopped.clone()));
    let w2 = tokio::spawn(jobs::worker(other.clone(), "node-b".into(), 60, stopped.clone()));
    for _ in 0..200 {
        let left: i64 = carnet_app::db::q("SELECT COUNT(*) FROM jobs WHERE status <> 'done'")
            .scalar(&mut app.carnet.db.conn().await.unwrap())
            .await
            .unwrap();
        if left == 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    stop.send(true).unwrap();
    w1.await.unwrap();
    w2.await.unwrap();
    let mut c = app.carnet.db.conn().await.unwrap();
    // (Each node also queues the daily job, once for both.)
    let runs: Vec<(i64, String)> = carnet_app::db::q("SELECT attempts, status FROM jobs WHERE kind = 'event'")
        .fetch_all(&mut c)
        .await
        .unwrap();
    assert_eq!(runs.len(), 30);
    let daily: i64 = carnet_app::db::q("SELECT COUNT(*) FROM jobs WHERE kind = 'daily'")
        .scalar(&mut app.carnet.db.conn().await.unwrap())
        .await
        .unwrap();
    assert_eq!(daily, 1, "one daily job for two nodes");
    assert!(runs.iter().all(|(n, s)| *n == 1 && s == "done"), "each job claimed once: {runs:?}");
    let followups: i64 = carnet_app::db::q("SELECT COUNT(*) FROM actions WHERE subject = 'Call back'")
        .scalar(&mut c)
        .await
        .unwrap();
    assert_eq!(followups, 30);
}

/// A `carnet serve` process, killed when dropped.
struct Node(std::process::Child);

impl Node {
    fn start(app: &TestApp, name: &str) -> Node {
        let child = std::process::Command::new(env!("CARGO_BIN_EXE_carnet"))
            .args(["serve", "--listen", "127.0.0.1:0", "--job-lease-secs", "2"])
            .env("CARNET_DATABASE_URL", &app.url)
            .env("CARNET_FILES_DIR", app.dir.join(name))
            .env("RUST_LOG", "error")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("carnet serve starts");
        Node(child)
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Two real `carnet serve` processes drain one queue, and one is killed
/// (SIGKILL) while it holds jobs: those run again on the other once their lease
/// expires, and every event's follow-up exists exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_one_killed_run_every_job_once() {
    use carnet_app::db::q;
    let app = spawn_app().await;
    app.post(
        "/api/v1/followup-rules",
        json!({"when_type": "Phone call", "then_type": "Task", "subject": "Ring back", "due_days": 1, "business_days": false}),
    )
    .await;
    let n = 3000i64;
    let db = &app.carnet.db;
    let call: i64 = q("SELECT id FROM action_types WHERE name = 'Phone call'")
        .scalar(&mut db.conn().await.unwrap())
        .await
        .unwrap();
    let mut tx = db.begin().await.unwrap();
    let t = app.carnet.db.now();
    for i in 0..n {
        let id = q(
            "INSERT INTO actions (type_id, subject, assignee_id, planned_at, done_at, outcome, sequence, created_at, updated_at) \
                    VALUES ($1, $2, $3, $4, $4, 'done', 0, $4, $4) RETURNING id",
        )
        .bind(call)
        .bind(format!("Call {i}"))
        .bind(app.admin.id)
        .bind(t)
        .insert_id(&mut tx)
        .await
        .unwrap();
        carnet_app::platform::events::record(&mut tx, NewEvent::new(EventKind::ActionDone, "action", id, None, json!({})))
            .await
            .unwrap();
    }
    tx.commit().await.unwrap();
    let count = |sql: &'static str| async move { q(sql).scalar::<i64>(&mut db.conn().await.unwrap()).await.unwrap() };

    let doomed = Node::start(&app, "files-a");
    let _survivor = Node::start(&app, "files-b");
    let pid = doomed.0.id();
    let held_by_doomed = format!("SELECT id FROM jobs WHERE status = 'running' AND locked_by LIKE '{pid}-%'");
    let mut held: Vec<(i64,)> = Vec::new();
    for _ in 0..3000 {
        held = q(held_by_doomed.clone()).fetch_all(&mut db.conn().await.unwrap()).await.unwrap();
        if !held.is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    assert!(!held.is_empty(), "the first node never took a job");
    drop(doomed);
    // What the dead node held when it died (its last transaction is rolled back).
    let held: Vec<(i64,)> = q(held_by_doomed).fetch_all(&mut db.conn().await.unwrap()).await.unwrap();
    for _ in 0..600 {
        if count("SELECT COUNT(*) FROM jobs WHERE kind = 'event' AND status <> 'done'").await == 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(
        count("SELECT COUNT(*) FROM jobs WHERE kind = 'event' AND status = 'done'").await,
        n,
        "every job done"
    );
    assert_eq!(
        count("SELECT COUNT(*) FROM actions WHERE subject = 'Ring back'").await,
        n,
        "one follow-up per call"
    );
    assert_eq!(
        count("SELECT COUNT(*) FROM job_effects WHERE effect_key LIKE 'followup:%'").await,
        n
    );
    // Jobs ran once, but those the dead node held: claimed again after its lease.
    let rerun: Vec<(i64,)> = q("SELECT id FROM jobs WHERE kind = 'event' AND attempts > 1 ORDER BY id")
        .fetch_all(&mut db.conn().await.unwrap())
        .await
        .unwrap();
    let mut held = held;
    held.sort();
    assert!(
        rerun == held,
        "exactly the dead node's jobs ran again: {} ran again, it held {}",
        rerun.len(),
        held.len()
    );
    assert!(rerun.len() as i64 <= 2 * jobs::BATCH);
}

/// A worker that dies holding a job: its lease expires, another worker runs the
/// job again, and the effect still happens once.
#[tokio::test]
async fn an_expired_lease_runs_the_job_again_with_one_effect() {
    let app = spawn_app().await;
    let (_, a) = app.post("/api/v1/accounts", json!({"name": "Crash Co"})).await;
    app.post(
        "/api/v1/followup-rules",
        json!({"when_type": "Task", "then_type": "Email", "subject": "After the task", "due_days": 0}),
    )
    .await;
    let (_, act) = app
        .post("/api/v1/actions", json!({"type": "Task", "subject": "Do it", "account": a["id"]}))
        .await;
    app.post(&format!("/api/v1/actions/{}/finish", act["id"]), json!({"outcome": "done"}))
        .await;
    // The first worker claims the job with a one-second lease and "dies" after
    // producing the effect but before marking the job done (as a handler that
    // commits on its own could).
    let job = jobs::claim(&app.carnet.db, "doomed", 1).await.unwrap().expect("a due job");
    let mut tx = app.carnet.db.begin().await.unwrap();
    assert_eq!(job.kind, "event");
    let ran = app.carnet.db.registry().run_in(&mut tx, &job.kind, &job.payload).await;
    assert!(ran.is_ok(), "the event's subscribers ran");
    tx.commit().await.unwrap();
    assert!(
        jobs::claim(&app.carnet.db, "other", 60).await.unwrap().is_none(),
        "held while the lease lasts"
    );
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    let again = jobs::claim(&app.carnet.db, "survivor", 60).await.unwrap().expect("the expired job");
    assert_eq!(again.id, job.id);
    // The first worker wakes up: its lease is gone, so it runs nothing.
    assert_eq!(
        jobs::run_claimed(&app.carnet, "doomed", std::slice::from_ref(&job)).await.unwrap(),
        0
    );
    assert_eq!(jobs::run_claimed(&app.carnet, "survivor", &[again]).await.unwrap(), 1);
    assert!(
        !jobs::complete(&app.carnet.db, job.id, "doomed").await.unwrap(),
        "the dead worker's lease is gone"
    );
    let done = jobs::get(&app.carnet.db, job.id).await.unwrap();
    assert_eq!((done.status.as_str(), done.attempts), ("done", 2));
    let (_, list) = app.get(&format!("/api/v1/actions?account={}", a["id"])).await;
    assert_eq!(
        list["data"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|x| x["subject"] == "After the task")
            .count(),
        1
    );
}

/// A batch of jobs commits together, but a job that fails halfway is rolled
/// back alone (its savepoint): the others' effects and completions stay, and the
/// failed one is retried later with its error.
#[tokio::test]
async fn a_failing_job_in_a_batch_loses_only_its_own_writes() {
    let app = spawn_app().await;
    let (_, doomed) = app.post("/api/v1/accounts", json!({"name": "Doomed Co", "tags": ["Gold"]})).await;
    let (_, fine) = app.post("/api/v1/accounts", json!({"name": "Fine Co"})).await;
    for (segment, subject) in [(None, "Call back"), (Some("Gold"), "Explode")] {
        let (s, body) = app
            .post(
                "/api/v1/followup-rules",
                json!({"when_type": "Phone call", "segment": segment, "then_type": "Task", "subject": subject, "due_days": 1}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{body}");
    }
    for a in [&doomed, &fine] {
        let (_, act) = app
            .post(
                "/api/v1/actions",
                json!({"type": "Phone call", "subject": "Call", "account": a["id"]}),
            )
            .await;
        app.post(&format!("/api/v1/actions/{}/finish", act["id"]), json!({"outcome": "done"}))
            .await;
    }
    queue::<jobs::Touch>(&app, jobs::TouchPayload { key: "t".into() }).await;
    let mut tx = app.carnet.db.begin().await.unwrap();
    // The second follow-up of the doomed account's job fails in the database,
    // after its first follow-up was written.
    let trigger: &[&str] = match app.carnet.db.dialect() {
        carnet_app::db::Dialect::Sqlite => &[
            "CREATE TRIGGER boom BEFORE INSERT ON actions WHEN NEW.subject = 'Explode' BEGIN SELECT RAISE(ABORT, 'boom'); END",
        ],
        carnet_app::db::Dialect::Postgres => &[
            "CREATE FUNCTION boom() RETURNS trigger AS $$ BEGIN IF NEW.subject = 'Explode' THEN RAISE EXCEPTION 'boom'; END IF; RETURN NEW; END $$ LANGUAGE plpgsql",
            "CREATE TRIGGER boom BEFORE INSERT ON actions FOR EACH ROW EXECUTE FUNCTION boom()",
        ],
    };
    for sql in trigger {
        carnet_app::db::q(*sql).execute(&mut tx).await.unwrap();
    }
    tx.commit().await.unwrap();
    let jobs_before: Vec<(i64, String)> = carnet_app::db::q("SELECT id, kind FROM jobs ORDER BY id")
        .fetch_all(&mut app.carnet.db.conn().await.unwrap())
        .await
        .unwrap();
    assert_eq!(
        jobs_before.iter().map(|j| j.1.as_str()).collect::<Vec<_>>(),
        ["event", "event", "touch"]
    );
    assert_eq!(jobs::run_batch(&app.carnet, "w", 60, 32).await.unwrap(), 3, "one batch");
    let subjects = |a: &serde_json::Value| {
        let path = format!("/api/v1/actions?account={}", a["id"]);
        let app = &app;
        async move {
            let (_, list) = app.get(&path).await;
            let mut s: Vec<String> = list["data"]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x["subject"].as_str().unwrap().to_string())
                .collect();
            s.sort();
            s
        }
    };
    assert_eq!(subjects(&fine).await, ["Call", "Call back"]);
    assert_eq!(
        subjects(&doomed).await,
        ["Call"],
        "the failed job's first follow-up was rolled back"
    );
    let failed = jobs::get(&app.carnet.db, jobs_before[0].0).await.unwrap();
    assert_eq!((failed.status.as_str(), failed.attempts), ("queued", 1));
    assert!(failed.last_error.as_deref().unwrap_or_default().contains("boom"), "{failed:?}");
    assert_eq!(failed.locked_by, None);
    for (id, _) in &jobs_before[1..] {
        assert_eq!(jobs::get(&app.carnet.db, *id).await.unwrap().status, "done");
    }
    assert_eq!(app.count("job_effects").await, 2, "the touch job's row and one follow-up key");
    // Mended, the job runs again and does all of its work once.
    let mut tx = app.carnet.db.begin().await.unwrap();
    let drop = match app.carnet.db.dialect() {
        carnet_app::db::Dialect::Sqlite => "DROP TRIGGER boom",
        carnet_app::db::Dialect::Postgres => "DROP TRIGGER boom ON actions",
    };
    carnet_app::db::q(drop).execute(&mut tx).await.unwrap();
    carnet_app::db::q("UPDATE jobs SET run_at = 0 WHERE status = 'queued'")
        .execute(&mut tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(drain(&app).await, 1);
    assert_eq!(subjects(&doomed).await, ["Call", "Call back", "Explode"]);
    assert_eq!(jobs::get(&app.carnet.db, jobs_before[0].0).await.unwrap().status, "done");
}

/// The daily job deletes jobs done more than a month ago; failed and pending
/// ones, and recent ones, stay.
#[tokio::test]
async fn the_daily_job_prunes_old_done_jobs() {
    let app = spawn_app().await;
    let day = 86_400;
    let t = app.carnet.db.now();
    let mut tx = app.carnet.db.begin().await.unwrap();
    for (kind, status, finished) in [
        ("old", "done", Some(t - 31 * day)),
        ("recent", "done", Some(t - 29 * day)),
        ("lost", "failed", Some(t - 90 * day)),
        ("later", "queued", None),
    ] {
        carnet_app::db::q(
            "INSERT INTO jobs (kind, payload, status, run_at, attempts, max_attempts, created_at, finished_at) \
             VALUES ($1, '{}', $2, $3, 1, 8, 0, $4)",
        )
        .bind(kind)
        .bind(status)
        .bind(t + day)
        .bind(finished)
        .execute(&mut tx)
        .await
        .unwrap();
    }
    tx.commit().await.unwrap();
    jobs::schedule_daily(&app.carnet.db, app.carnet.db.clock().today_utc())
        .await
        .unwrap();
    drain(&app).await;
    let mut kinds: Vec<(String, String)> = carnet_app::db::q("SELECT kind, status FROM jobs ORDER BY kind")
        .fetch_all(&mut app.carnet.db.conn().await.unwrap())
        .await
        .unwrap();
    kinds.retain(|(k, _)| ["old", "recent", "lost", "later", "daily"].contains(&k.as_str()));
    assert_eq!(
        kinds,
        [("daily", "done"), ("later", "queued"), ("lost", "failed"), ("recent", "done")].map(|(k, s)| (k.to_string(), s.to_string()))
    );
}

#[tokio::test]
async fn failed_jobs_are_visible_and_can_be_retried() {
    let app = spawn_app().await;
    let mut tx = app.carnet.db.begin().await.unwrap();
    carnet_app::db::q("INSERT INTO jobs (kind, payload, status, run_at, attempts, max_attempts, created_at) VALUES ('mystery', '{}', 'queued', 0, 0, 2, 0)")
        .execute(&mut tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    // A kind this build does not know cannot succeed later: failed at once, visibly.
    assert!(jobs::run_once(&app.carnet, "w", 60).await.unwrap());
    let job = jobs::get(&app.carnet.db, 1).await.unwrap();
    assert_eq!(job.status, "failed", "not retried");
    assert_eq!(job.attempts, 1);
    let (_, failed) = app.get("/api/v1/jobs/failed").await;
    assert_eq!(failed["data"][0]["kind"], "mystery");
    assert!(failed["data"][0]["error"].as_str().unwrap().contains("unknown job kind"));
    let (_, key) = app.user_with_key("rep@test.example", "sales").await;
    assert_eq!(
        app.api_with(&key, Method::GET, "/api/v1/jobs/failed", None).await.0,
        StatusCode::FORBIDDEN
    );
    let b = app.browser(ADMIN_EMAIL).await;
    let page = b.get("/settings/jobs").await;
    assert!(page.body.contains("mystery") && page.body.contains("unknown job kind"));
    assert_eq!(app.post("/api/v1/jobs/1/retry", json!({})).await.0, StatusCode::NO_CONTENT);
    assert_eq!(jobs::get(&app.carnet.db, 1).await.unwrap().status, "queued");
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
    assert_eq!(days(&occ_c), plan(working(today + Months::new(4)), 2), "{occ_c:?}");

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

async fn types_named(app: &TestApp, name: &str) -> String {
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

/// A kind whose handler always fails, to see the retry policy at work.
struct Flaky;
impl JobKind for Flaky {
    const NAME: &'static str = "flaky";
    const MODE: carnet_app::platform::registry::Mode = carnet_app::platform::registry::Mode::Alone;
    const RETRY: carnet_app::platform::registry::Retry = carnet_app::platform::registry::Retry {
        max_attempts: 2,
        first_delay_secs: 7,
        max_delay_secs: 60,
    };
    type Payload = jobs::Empty;
    fn run_alone(_c: &carnet_app::Carnet, _p: jobs::Empty) -> carnet_app::platform::registry::BoxFut<'_, carnet_app::error::Result<()>> {
        Box::pin(async { Err(carnet_app::AppError::internal("the remote end is down")) })
    }
}

/// A kind of which one job at a time may run, over every worker.
struct OneAtATime;
impl JobKind for OneAtATime {
    const NAME: &'static str = "one_at_a_time";
    const MODE: carnet_app::platform::registry::Mode = carnet_app::platform::registry::Mode::InQueueTx;
    const CONCURRENCY: Option<i64> = Some(1);
    type Payload = jobs::TouchPayload;
    fn run_in(
        tx: &mut carnet_app::db::Tx,
        p: jobs::TouchPayload,
    ) -> carnet_app::platform::registry::BoxFut<'_, carnet_app::error::Result<()>> {
        Box::pin(async move { jobs::first_time(tx, &format!("one:{}", p.key)).await.map(|_| ()) })
    }
}

#[tokio::test]
async fn job_kinds_retry_by_their_policy_refuse_other_payload_versions_and_keep_their_concurrency_limit() {
    let app = spawn_app_with(carnet_app::registry().job::<Flaky>().job::<OneAtATime>()).await;
    let db = &app.carnet.db;
    // Retried after the kind's first delay, then failed for good after its attempts.
    queue::<Flaky>(&app, jobs::Empty {}).await;
    let id: i64 = carnet_app::db::q("SELECT id FROM jobs WHERE kind = 'flaky'")
        .scalar(&mut db.conn().await.unwrap())
        .await
        .unwrap();
    assert!(jobs::run_once(&app.carnet, "w", 60).await.unwrap());
    let job = jobs::get(db, id).await.unwrap();
    assert_eq!((job.status.as_str(), job.max_attempts), ("queued", 2));
    let wait = job.run_at - db.now();
    assert!((6..=7).contains(&wait), "the kind's first delay: {wait}");
    assert!(job.last_error.unwrap().contains("remote end is down"));
    db.clock().pin(Some(db.now() + 8));
    assert!(jobs::run_once(&app.carnet, "w", 60).await.unwrap());
    db.clock().pin(None);
    assert_eq!(jobs::get(db, id).await.unwrap().status, "failed", "after its two attempts");

    // A payload written by another version of the kind is not misread.
    let mut tx = db.begin().await.unwrap();
    carnet_app::db::q("INSERT INTO jobs (kind, payload, status, run_at, attempts, max_attempts, created_at) VALUES ('touch', '{\"v\": 9, \"key\": \"x\"}', 'queued', 0, 0, 8, 0) RETURNING id")
        .execute(&mut tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert!(jobs::run_once(&app.carnet, "w", 60).await.unwrap());
    let (_, failed) = app.get("/api/v1/jobs/failed").await;
    let touch = failed["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|j| j["kind"] == "touch")
        .expect("failed at once");
    assert!(touch["error"].as_str().unwrap().contains("version 9"), "{touch}");

    // At most one `one_at_a_time` job runs at once, whoever claims.
    for k in ["a", "b", "c"] {
        queue::<OneAtATime>(&app, jobs::TouchPayload { key: k.into() }).await;
    }
    let first = jobs::claim_batch(db, "w1", 60, 10).await.unwrap();
    assert_eq!(first.iter().filter(|j| j.kind == "one_at_a_time").count(), 1, "{first:?}");
    let second = jobs::claim_batch(db, "w2", 60, 10).await.unwrap();
    assert!(second.iter().all(|j| j.kind != "one_at_a_time"), "the limit holds across workers");
    assert_eq!(jobs::run_claimed(&app.carnet, "w1", &first).await.unwrap(), first.len());
    let third = jobs::claim_batch(db, "w2", 60, 10).await.unwrap();
    assert_eq!(
        third.iter().filter(|j| j.kind == "one_at_a_time").count(),
        1,
        "the next one, once the first is done"
    );
    // A lease that expired does not count: its job is claimable again.
    db.clock().pin(Some(db.now() + 61));
    let fourth = jobs::claim_batch(db, "w3", 60, 10).await.unwrap();
    db.clock().pin(None);
    assert_eq!(fourth.iter().filter(|j| j.kind == "one_at_a_time").count(), 1);
}
