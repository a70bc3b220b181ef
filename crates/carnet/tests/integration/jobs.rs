//! The durable job queue: workers and processes that never run a job twice, leases,
//! batches that fail halfway, pruning, failed jobs, and typed job kinds.

use crate::helpers::*;
use carnet_app::platform::events::{EventKind, NewEvent};
use carnet_app::platform::jobs;
use carnet_app::platform::registry::JobKind;
use reqwest::{Method, StatusCode};
use serde_json::json;

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
/// A real `carnet serve` process on the test's database (jobs leased for 2 s).
pub(crate) struct Node(pub std::process::Child);

impl Node {
    pub(crate) fn start(app: &TestApp, name: &str) -> Node {
        Node::start_with(app, name, &[])
    }

    pub(crate) fn start_with(app: &TestApp, name: &str, env: &[(&str, &str)]) -> Node {
        let child = std::process::Command::new(env!("CARGO_BIN_EXE_carnet"))
            .args(["serve", "--listen", "127.0.0.1:0", "--job-lease-secs", "2"])
            .env("CARNET_DATABASE_URL", &app.url)
            .env("CARNET_FILES_DIR", app.dir.join(name))
            .envs(env.iter().copied())
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

    // The survivor starts once the doomed node holds jobs, so that a slow start
    // of the first (a loaded machine) cannot leave it nothing to hold.
    let doomed = Node::start(&app, "files-a");
    let pid = doomed.0.id();
    let held_by_doomed = format!("SELECT id FROM jobs WHERE status = 'running' AND locked_by LIKE '{pid}-%'");
    let mut held: Vec<(i64,)> = Vec::new();
    // Bounded at a minute: a loaded machine starts a debug binary slowly.
    for _ in 0..12_000 {
        held = q(held_by_doomed.clone()).fetch_all(&mut db.conn().await.unwrap()).await.unwrap();
        if !held.is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    assert!(!held.is_empty(), "the first node never took a job");
    let _survivor = Node::start(&app, "files-b");
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
