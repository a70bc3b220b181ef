//! The durable job queue (SPEC W2, STYLE lesson 6). A job is a row: kind,
//! payload, run-at time, attempts, a lease and an idempotency key. A worker
//! claims a batch of due jobs (or jobs whose lease expired) by taking a lease,
//! runs them, and marks them done — only those it still holds. Failures retry
//! with exponential backoff, then stay visible as `failed` with their error.
//!
//! Exactly once: claiming is atomic (PostgreSQL `FOR UPDATE SKIP LOCKED`, SQLite's
//! single writer), so two workers never hold the same job; a worker that dies
//! leaves its lease to expire and the job runs again. Most handlers (events,
//! follow-up rules) write through the queue's own transaction, which marks
//! their jobs done in the same commit — a group commit per batch, see
//! [`run_batch`]; the others (recurring plans, snapshots) are idempotent or
//! record their effect under an effect key (`job_effects`).

use super::registry::{BoxFut, JobKind, Mode, Outcome, Registry, Retry};
use crate::db::{q, Db, Handle, Tx};
use crate::error::{AppError, Result};
use crate::Carnet;
use serde::{Deserialize, Serialize};
use std::time::Duration;
use tracing::Instrument;

/// When a queued job is due.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum When {
    Now,
    At(i64),
}

/// Queues a job of kind `K` in the caller's transaction. A second job with the
/// same idempotency key is not queued.
pub async fn enqueue<K: JobKind>(tx: &mut Tx, payload: &K::Payload, when: When, idempotency_key: Option<String>) -> Result<()> {
    let t = tx.now();
    q(
        "INSERT INTO jobs (kind, payload, status, run_at, attempts, max_attempts, idempotency_key, created_at) \
       VALUES ($1, $2, 'queued', $3, 0, $4, $5, $6) ON CONFLICT (idempotency_key) DO NOTHING",
    )
    .bind(K::NAME)
    .bind(super::registry::encode::<K>(payload)?)
    .bind(match when {
        When::Now => t,
        When::At(at) => at,
    })
    .bind(K::RETRY.max_attempts)
    .bind(idempotency_key)
    .bind(t)
    .execute(tx)
    .await?;
    Ok(())
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Job {
    pub id: i64,
    pub kind: String,
    pub payload: String,
    pub status: String,
    pub run_at: i64,
    pub attempts: i64,
    pub max_attempts: i64,
    pub locked_by: Option<String>,
    pub locked_until: Option<i64>,
    pub last_error: Option<String>,
    pub created_at: i64,
    pub finished_at: Option<i64>,
}

const COLS: &str =
    "id, kind, payload, status, run_at, attempts, max_attempts, locked_by, locked_until, last_error, created_at, finished_at";

/// Claims the next due job for `worker`, holding it for `lease` seconds.
pub async fn claim(db: &Db, worker: &str, lease: i64) -> Result<Option<Job>> {
    Ok(claim_batch(db, worker, lease, 1).await?.into_iter().next())
}

/// Claims up to `limit` jobs: first those whose lease expired (their worker
/// died), then due ones in (run_at, id) order. Each part is one statement that
/// reads an index and stops early; an `OR` of both made PostgreSQL scan and sort
/// every queued job on each claim.
///
/// Kinds with a concurrency limit are claimed apart: under a lock per kind
/// (PostgreSQL advisory lock; SQLite's single writer), the jobs of the kind
/// still running under a live lease are counted and at most the rest claimed,
/// so the limit holds across workers and nodes.
pub async fn claim_batch(db: &Db, worker: &str, lease: i64, limit: i64) -> Result<Vec<Job>> {
    let t = db.now();
    let limit = limit.max(1);
    let limited = db.registry().limited();
    let mut tx = db.begin().await?;
    let lock = crate::db::dialect::claim_lock_clause(tx.dialect());
    let mut not_limited = String::new();
    for (name, _) in &limited {
        // Kind names are code constants ([a-z_]), not input.
        not_limited.push_str(&format!(" AND kind <> '{name}'"));
    }
    let mut jobs = Vec::new();
    for due in [
        format!("status = 'running' AND locked_until < $3{not_limited} ORDER BY locked_until, id"),
        format!("status = 'queued' AND run_at <= $3{not_limited} ORDER BY run_at, id"),
    ] {
        let left = limit - jobs.len() as i64;
        if left == 0 {
            break;
        }
        jobs.extend(
            q(format!(
                "UPDATE jobs SET status = 'running', locked_by = $1, locked_until = $2, attempts = attempts + 1 \
                 WHERE id IN (SELECT id FROM jobs WHERE {due} LIMIT $4{lock}) RETURNING {COLS}"
            ))
            .bind(worker)
            .bind(t + lease)
            .bind(t)
            .bind(left)
            .fetch_all::<Job>(&mut tx)
            .await?,
        );
    }
    for (name, max) in limited {
        let left = limit - jobs.len() as i64;
        if left == 0 {
            break;
        }
        crate::db::dialect::lock_key(&mut tx, &format!("job-kind:{name}")).await?;
        let running: i64 = q("SELECT COUNT(*) FROM jobs WHERE kind = $1 AND status = 'running' AND locked_until >= $2")
            .bind(name)
            .bind(t)
            .scalar(&mut tx)
            .await?;
        let room = (max - running).min(left);
        if room <= 0 {
            continue;
        }
        jobs.extend(
            q(format!(
                "UPDATE jobs SET status = 'running', locked_by = $1, locked_until = $2, attempts = attempts + 1 \
                 WHERE id IN (SELECT id FROM jobs WHERE kind = $5 AND ((status = 'queued' AND run_at <= $3) OR (status = 'running' AND locked_until < $3)) \
                 ORDER BY run_at, id LIMIT $4{lock}) RETURNING {COLS}"
            ))
            .bind(worker)
            .bind(t + lease)
            .bind(t)
            .bind(room)
            .bind(name)
            .fetch_all::<Job>(&mut tx)
            .await?,
        );
    }
    tx.commit().await?;
    jobs.sort_by_key(|j| (j.run_at, j.id));
    Ok(jobs)
}

/// Marks a job done, if `worker` still holds it.
pub async fn complete(db: &Db, id: i64, worker: &str) -> Result<bool> {
    let mut tx = db.begin().await?;
    let n = mark_done(&[id], worker, tx.now()).execute(&mut tx).await?;
    tx.commit().await?;
    Ok(n == 1)
}

/// The statement that marks jobs done, those `worker` still holds.
fn mark_done(ids: &[i64], worker: &str, at: i64) -> crate::db::Q {
    let mut query = q("UPDATE jobs SET status = 'done', finished_at = ");
    query
        .push_bind(at)
        .push(", locked_by = NULL, locked_until = NULL, last_error = NULL WHERE status = 'running' AND locked_by = ")
        .push_bind(worker)
        .push(" AND id IN ");
    crate::db::push_in_list(&mut query, ids);
    query
}

/// How a job went wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// Retried by its kind's policy.
    Transient,
    /// Cannot succeed (unknown kind, unreadable payload): failed at once, visibly.
    Permanent,
}

/// Records a failure: retried later, or failed for good after the last attempt.
pub async fn fail(db: &Db, job: &Job, worker: &str, error: &str, how: Failure) -> Result<()> {
    let mut tx = db.begin().await?;
    record_failure(&mut tx, job, Some(worker), error, how).await?;
    tx.commit().await?;
    Ok(())
}

/// Records a failure in `tx`: only while `worker` holds the job, or
/// unconditionally (`None`) when the caller already holds its row.
async fn record_failure(tx: &mut Tx, job: &Job, worker: Option<&str>, error: &str, how: Failure) -> Result<()> {
    let error: String = error.chars().take(2000).collect();
    let t = tx.now();
    let retry = tx.shared().registry().kind(&job.kind).map(|k| k.retry).unwrap_or(Retry::DEFAULT);
    let mut query = if how == Failure::Permanent || job.attempts >= job.max_attempts {
        let mut query = q("UPDATE jobs SET status = 'failed', finished_at = ");
        query.push_bind(t);
        query
    } else {
        let mut query = q("UPDATE jobs SET status = 'queued', finished_at = NULL, run_at = ");
        query.push_bind(t + retry.delay(job.attempts));
        query
    };
    query
        .push(", last_error = ")
        .push_bind(error)
        .push(", locked_by = NULL, locked_until = NULL WHERE id = ")
        .push_bind(job.id);
    if let Some(worker) = worker {
        query.push(" AND locked_by = ").push_bind(worker);
    }
    query.execute(tx).await?;
    Ok(())
}

/// Failed jobs, newest first, for the administrators' page.
pub async fn failed(db: &Db, limit: i64) -> Result<Vec<Job>> {
    Ok(q(format!(
        "SELECT {COLS} FROM jobs WHERE status = 'failed' ORDER BY finished_at DESC, id DESC LIMIT $1"
    ))
    .bind(limit)
    .fetch_all(&mut db.conn().await?)
    .await?)
}

pub async fn get(db: &Db, id: i64) -> Result<Job> {
    q(format!("SELECT {COLS} FROM jobs WHERE id = $1"))
        .bind(id)
        .fetch_optional(&mut db.conn().await?)
        .await?
        .ok_or(AppError::NotFound)
}

/// Puts a failed job back in the queue, with fresh attempts.
pub async fn retry(db: &Db, id: i64) -> Result<()> {
    let mut tx = db.begin().await?;
    let n = q("UPDATE jobs SET status = 'queued', attempts = 0, run_at = $1, finished_at = NULL WHERE id = $2 AND status = 'failed'")
        .bind(tx.now())
        .bind(id)
        .execute(&mut tx)
        .await?;
    if n == 0 {
        return Err(AppError::NotFound);
    }
    tx.commit().await?;
    Ok(())
}

/// Records an effect under its key; false if it was already produced (a re-run).
pub async fn first_time(h: &mut impl Handle, effect_key: &str) -> Result<bool> {
    let t = h.now();
    let n = q("INSERT INTO job_effects (effect_key, created_at) VALUES ($1, $2) ON CONFLICT (effect_key) DO NOTHING")
        .bind(effect_key)
        .bind(t)
        .execute(h)
        .await?;
    Ok(n == 1)
}

/// Claims and runs one job; returns whether there was one.
pub async fn run_once(c: &Carnet, worker: &str, lease: i64) -> Result<bool> {
    Ok(run_batch(c, worker, lease, 1).await? > 0)
}

/// Claims up to `limit` jobs and runs them, in order. Returns how many were claimed.
///
/// Jobs whose handlers write through the queue's transaction run as a group
/// commit: one transaction first marks them done — only those `worker` still
/// holds, which also locks their rows (the single writer on SQLite) so no other
/// worker can take them meanwhile — then runs each handler. If one fails, the
/// batch runs again with each handler inside a savepoint: the failing one is
/// rolled back to it and its job recorded as failed in the same transaction.
/// So a job's effect and its completion commit together, exactly once, and a
/// batch costs two commits (claim, run) instead of one per job. Other jobs run
/// alone, as they come, between groups.
pub async fn run_batch(c: &Carnet, worker: &str, lease: i64, limit: i64) -> Result<usize> {
    let jobs = claim_batch(&c.db, worker, lease, limit).await?;
    run_claimed(c, worker, &jobs).await?;
    Ok(jobs.len())
}

/// Runs jobs `worker` claimed (see [`run_batch`]); returns how many were done.
pub async fn run_claimed(c: &Carnet, worker: &str, jobs: &[Job]) -> Result<usize> {
    let registry = c.db.registry();
    let in_tx = |j: &Job| registry.runs_in_queue_tx(&j.kind);
    let mut done = 0;
    for group in jobs.chunk_by(|a, b| in_tx(a) == in_tx(b)) {
        if in_tx(&group[0]) {
            done += run_group(&c.db, &registry, worker, group).await?;
            continue;
        }
        for job in group {
            match registry.run_alone(c, &job.kind, &job.payload).instrument(span(job)).await {
                Ok(()) if complete(&c.db, job.id, worker).await? => done += 1,
                Ok(()) => tracing::warn!("lease lost before completion; the job will run again"),
                Err(outcome) => {
                    let (error, how) = failure(outcome);
                    fail(&c.db, job, worker, &error, how).await?;
                }
            }
        }
    }
    Ok(done)
}

/// A failed job's error and whether to retry it; logged.
fn failure(outcome: Outcome) -> (String, Failure) {
    match outcome {
        Outcome::Failed(e) => {
            tracing::warn!(error = %e, "job failed");
            (e.to_string(), Failure::Transient)
        }
        Outcome::Unrunnable(why) => {
            tracing::error!(error = %why, "job cannot run; failed without retry");
            (why.to_string(), Failure::Permanent)
        }
    }
}

fn span(job: &Job) -> tracing::Span {
    tracing::info_span!("job", id = job.id, kind = %job.kind, attempt = job.attempts)
}

/// One group commit (see [`run_batch`]); returns how many jobs succeeded.
/// Failures are rare, so the batch first runs without savepoints (each costs a
/// statement per job); if a handler fails, that transaction is rolled back whole
/// and the batch runs again with a savepoint per job.
async fn run_group(db: &Db, registry: &Registry, worker: &str, group: &[Job]) -> Result<usize> {
    match try_group(db, registry, worker, group, false).await? {
        Some(done) => Ok(done),
        None => Ok(try_group(db, registry, worker, group, true).await?.unwrap_or_default()),
    }
}

/// Runs a group in one transaction; `None` when a handler failed without
/// savepoints (then nothing was committed).
async fn try_group(db: &Db, registry: &Registry, worker: &str, group: &[Job], savepoints: bool) -> Result<Option<usize>> {
    let ids: Vec<i64> = group.iter().map(|j| j.id).collect();
    let mut tx = db.begin().await?;
    let mut query = mark_done(&ids, worker, tx.now());
    query.push(" RETURNING id");
    let held: std::collections::HashSet<i64> = query.fetch_all::<(i64,)>(&mut tx).await?.into_iter().map(|(id,)| id).collect();
    if held.len() < group.len() {
        tracing::warn!(
            lost = group.len() - held.len(),
            "leases lost before the jobs ran; their new holders run them"
        );
    }
    let mut done = 0;
    for job in group.iter().filter(|j| held.contains(&j.id)) {
        if savepoints {
            q("SAVEPOINT job").execute(&mut tx).await?;
        }
        match registry.run_in(&mut tx, &job.kind, &job.payload).instrument(span(job)).await {
            Ok(()) => done += 1,
            Err(_) if !savepoints => {
                tracing::debug!(job = job.id, "a job of the batch failed; running it again job by job");
                return Ok(None);
            }
            Err(outcome) => {
                q("ROLLBACK TO SAVEPOINT job").execute(&mut tx).await?;
                let (error, how) = failure(outcome);
                record_failure(&mut tx, job, None, &error, how).await?;
            }
        }
        if savepoints {
            q("RELEASE SAVEPOINT job").execute(&mut tx).await?;
        }
    }
    tx.commit().await?;
    Ok(Some(done))
}

/// The work done once a day: one job per day for all nodes (its idempotency
/// key). It prunes and compacts the queue, then lets each capability queue its
/// day's work as jobs of their own ([`Registry::daily`]), in one transaction.
pub struct Daily;

#[derive(Debug, Serialize, Deserialize)]
pub struct DailyPayload {
    pub day: chrono::NaiveDate,
}

impl JobKind for Daily {
    const NAME: &'static str = "daily";
    const MODE: Mode = Mode::Alone;
    type Payload = DailyPayload;

    fn run_alone(c: &Carnet, p: DailyPayload) -> BoxFut<'_, Result<()>> {
        Box::pin(async move {
            prune(&c.db, c.db.now() - KEEP_DONE_DAYS * 86_400).await?;
            // The queue's table churns (each job leaves row versions behind): compact it
            // on PostgreSQL even where autovacuum is off or lags; fresh statistics.
            crate::db::dialect::after_refill(&c.db, &["jobs"]).await?;
            let registry = c.db.registry();
            let mut tx = c.db.begin().await?;
            for task in registry.daily_tasks() {
                task(&mut tx, p.day).await?;
            }
            tx.commit().await?;
            Ok(())
        })
    }
}

/// Measures the queue itself (benchmark, health checks): does nothing.
pub struct Noop;

/// Measures the queue with a job that writes one row.
pub struct Touch;

#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Empty {}

impl JobKind for Noop {
    const NAME: &'static str = "noop";
    const MODE: Mode = Mode::InQueueTx;
    type Payload = Empty;

    fn run_in(_tx: &mut Tx, _p: Empty) -> BoxFut<'_, Result<()>> {
        Box::pin(async { Ok(()) })
    }
}

#[derive(Debug, Default, Serialize, Deserialize)]
pub struct TouchPayload {
    pub key: String,
}

impl JobKind for Touch {
    const NAME: &'static str = "touch";
    const MODE: Mode = Mode::InQueueTx;
    type Payload = TouchPayload;

    fn run_in(tx: &mut Tx, p: TouchPayload) -> BoxFut<'_, Result<()>> {
        Box::pin(async move { first_time(tx, &format!("touch:{}", p.key)).await.map(|_| ()) })
    }
}

/// The platform's own job kinds and subscribers, which every registry starts with.
pub fn platform_registry() -> Registry {
    let r = Registry::default()
        .job::<super::events::Deliver>()
        .job::<Daily>()
        .job::<Noop>()
        .job::<Touch>();
    super::idempotency::register(r)
}

/// Done jobs are kept this long (to see what ran), then deleted by the daily job.
pub const KEEP_DONE_DAYS: i64 = 30;

/// Deletes the jobs done before `before`; failed and pending ones stay.
pub async fn prune(db: &Db, before: i64) -> Result<u64> {
    let mut tx = db.begin().await?;
    let n = q("DELETE FROM jobs WHERE status = 'done' AND finished_at < $1")
        .bind(before)
        .execute(&mut tx)
        .await?;
    tx.commit().await?;
    Ok(n)
}

/// Queues today's daily job unless it is already queued (by this or another node).
pub async fn schedule_daily(db: &Db, day: chrono::NaiveDate) -> Result<()> {
    let mut tx = db.begin().await?;
    enqueue::<Daily>(&mut tx, &DailyPayload { day }, When::Now, Some(format!("daily:{day}"))).await?;
    tx.commit().await?;
    Ok(())
}

/// Jobs a worker claims at once: few enough that one lease covers them all.
pub const BATCH: i64 = 32;

/// A worker loop: runs due jobs, sleeps briefly when idle, stops on `stop`.
pub async fn worker(c: Carnet, name: String, lease: i64, mut stop: tokio::sync::watch::Receiver<bool>) {
    let mut scheduled: Option<chrono::NaiveDate> = None;
    loop {
        if *stop.borrow() {
            return;
        }
        let today = c.db.clock().today_utc();
        if scheduled != Some(today) {
            match schedule_daily(&c.db, today).await {
                Ok(()) => scheduled = Some(today),
                Err(e) => tracing::error!(error = %e, "scheduling the daily job"),
            }
        }
        match run_batch(&c, &name, lease, BATCH).await {
            Ok(n) if n > 0 => continue,
            Ok(_) => {}
            Err(e) => tracing::error!(error = %e, "job queue"),
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(250)) => {}
            _ = stop.changed() => {}
        }
    }
}

/// A worker name unique to this process and task.
pub fn worker_name(n: usize) -> String {
    let mut b = [0u8; 4];
    getrandom::getrandom(&mut b).expect("the operating system provides randomness");
    format!("{}-{:08x}-{n}", std::process::id(), u32::from_le_bytes(b))
}
