//! The durable job queue (SPEC W2, STYLE lesson 6). A job is a row: kind,
//! payload, run-at time, attempts, a lease and an idempotency key. A worker
//! claims one due job (or one whose lease expired) by taking a lease, runs it,
//! and marks it done — only if it still holds the lease. Failures retry with
//! exponential backoff, then stay visible as `failed` with their error.
//!
//! Exactly once: claiming is atomic (PostgreSQL `FOR UPDATE SKIP LOCKED`, SQLite's
//! single writer), so two workers never hold the same job; a worker that dies
//! leaves its lease to expire and the job runs again, so handlers record their
//! effect under an effect key (`job_effects`) in the effect's own transaction.

use crate::db::{now, q, Db, Handle, Tx};
use crate::error::{AppError, Result};
use crate::Carnet;
use serde::Serialize;
use std::time::Duration;

pub struct NewJob<'a> {
    pub kind: &'a str,
    pub payload: serde_json::Value,
    pub run_at: Option<i64>,
    /// A second job with the same key is not queued.
    pub idempotency_key: Option<String>,
}

pub const MAX_ATTEMPTS: i64 = 8;

/// Queues a job in the caller's transaction.
pub async fn enqueue(tx: &mut Tx, j: NewJob<'_>) -> Result<()> {
    let t = now();
    q(
        "INSERT INTO jobs (kind, payload, status, run_at, attempts, max_attempts, idempotency_key, created_at) \
       VALUES ($1, $2, 'queued', $3, 0, $4, $5, $6) ON CONFLICT (idempotency_key) DO NOTHING",
    )
    .bind(j.kind)
    .bind(j.payload.to_string())
    .bind(j.run_at.unwrap_or(t))
    .bind(MAX_ATTEMPTS)
    .bind(j.idempotency_key)
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

/// Claims up to `limit` due jobs (or jobs whose lease expired) in one statement.
pub async fn claim_batch(db: &Db, worker: &str, lease: i64, limit: i64) -> Result<Vec<Job>> {
    let t = now();
    let mut tx = db.begin().await?;
    let lock = crate::db::dialect::claim_lock_clause(tx_dialect(&mut tx));
    let mut jobs: Vec<Job> = q(format!(
        "UPDATE jobs SET status = 'running', locked_by = $1, locked_until = $2, attempts = attempts + 1 \
         WHERE id IN (SELECT id FROM jobs WHERE (status = 'queued' AND run_at <= $3) OR (status = 'running' AND locked_until < $3) \
                      ORDER BY run_at, id LIMIT $4{lock}) \
         RETURNING {COLS}"
    ))
    .bind(worker)
    .bind(t + lease)
    .bind(t)
    .bind(limit.max(1))
    .fetch_all(&mut tx)
    .await?;
    tx.commit().await?;
    jobs.sort_by_key(|j| (j.run_at, j.id));
    Ok(jobs)
}

fn tx_dialect(tx: &mut Tx) -> crate::db::Dialect {
    crate::db::Handle::dialect(tx)
}

/// Marks a job done, if `worker` still holds it.
pub async fn complete(db: &Db, id: i64, worker: &str) -> Result<bool> {
    Ok(complete_many(db, &[id], worker).await? == 1)
}

/// Marks jobs done in one statement, those `worker` still holds; returns how many.
pub async fn complete_many(db: &Db, ids: &[i64], worker: &str) -> Result<u64> {
    if ids.is_empty() {
        return Ok(0);
    }
    let mut tx = db.begin().await?;
    let mut query = q("UPDATE jobs SET status = 'done', finished_at = ");
    query
        .push_bind(now())
        .push(", locked_by = NULL, locked_until = NULL, last_error = NULL WHERE status = 'running' AND locked_by = ")
        .push_bind(worker)
        .push(" AND id IN ");
    crate::db::push_in_list(&mut query, ids);
    let n = query.execute(&mut tx).await?;
    tx.commit().await?;
    Ok(n)
}

/// Seconds before attempt `n + 1`: 5 s, 10 s, 20 s… up to an hour.
pub fn backoff(attempts: i64) -> i64 {
    (5i64 << attempts.clamp(0, 20)).min(3600)
}

/// Records a failure: retried later, or failed for good after the last attempt.
pub async fn fail(db: &Db, job: &Job, worker: &str, error: &str) -> Result<()> {
    let mut tx = db.begin().await?;
    let t = now();
    let error: String = error.chars().take(2000).collect();
    if job.attempts >= job.max_attempts {
        q("UPDATE jobs SET status = 'failed', last_error = $1, finished_at = $2, locked_by = NULL, locked_until = NULL WHERE id = $3 AND locked_by = $4")
            .bind(error)
            .bind(t)
            .bind(job.id)
            .bind(worker)
            .execute(&mut tx)
            .await?;
    } else {
        q("UPDATE jobs SET status = 'queued', last_error = $1, run_at = $2, locked_by = NULL, locked_until = NULL WHERE id = $3 AND locked_by = $4")
            .bind(error)
            .bind(t + backoff(job.attempts))
            .bind(job.id)
            .bind(worker)
            .execute(&mut tx)
            .await?;
    }
    tx.commit().await?;
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
        .bind(now())
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
    let n = q("INSERT INTO job_effects (effect_key, created_at) VALUES ($1, $2) ON CONFLICT (effect_key) DO NOTHING")
        .bind(effect_key)
        .bind(now())
        .execute(h)
        .await?;
    Ok(n == 1)
}

/// Runs one job's handler.
async fn run(c: &Carnet, job: &Job) -> Result<()> {
    let payload: serde_json::Value = serde_json::from_str(&job.payload).map_err(AppError::internal)?;
    match job.kind.as_str() {
        "event" => {
            let id = payload["event_id"]
                .as_i64()
                .ok_or_else(|| AppError::internal("event job without event_id"))?;
            crate::agenda::rules::on_event(c, id).await
        }
        "recurring_rule" => {
            let id = payload["rule_id"]
                .as_i64()
                .ok_or_else(|| AppError::internal("recurring_rule job without rule_id"))?;
            crate::agenda::recurring::sync_rule(c, id).await
        }
        "recurring_account" => {
            let id = payload["account_id"]
                .as_i64()
                .ok_or_else(|| AppError::internal("recurring_account job without account_id"))?;
            crate::agenda::recurring::sync_account(c, id).await
        }
        "daily" => daily(c, payload["day"].as_str().unwrap_or_default()).await,
        "snapshot" => {
            let day = payload["day"]
                .as_str()
                .and_then(|d| chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
                .ok_or_else(|| AppError::internal("snapshot job without day"))?;
            crate::analytics::snapshots::take(&c.db, day).await
        }
        // Measure the queue itself (benchmark, health checks): nothing, or one row.
        "noop" => Ok(()),
        "touch" => {
            let mut tx = c.db.begin().await?;
            first_time(&mut tx, &format!("touch:{}", job.id)).await?;
            tx.commit().await?;
            Ok(())
        }
        other => Err(AppError::internal(format!("no handler for job kind {other}"))),
    }
}

/// Claims and runs one job; returns whether there was one.
pub async fn run_once(c: &Carnet, worker: &str, lease: i64) -> Result<bool> {
    Ok(run_batch(c, worker, lease, 1).await? > 0)
}

/// Claims up to `limit` jobs and runs them; the ones that succeed are marked
/// done together. Returns how many were claimed.
pub async fn run_batch(c: &Carnet, worker: &str, lease: i64, limit: i64) -> Result<usize> {
    let jobs = claim_batch(&c.db, worker, lease, limit).await?;
    let mut done = Vec::with_capacity(jobs.len());
    for job in &jobs {
        let span = tracing::info_span!("job", id = job.id, kind = %job.kind, attempt = job.attempts);
        let _g = span.enter();
        match run(c, job).await {
            Ok(()) => done.push(job.id),
            Err(e) => {
                tracing::warn!(error = %e, "job failed");
                fail(&c.db, job, worker, &e.to_string()).await?;
            }
        }
    }
    let marked = complete_many(&c.db, &done, worker).await?;
    if marked < done.len() as u64 {
        tracing::warn!(
            lost = done.len() as u64 - marked,
            "leases lost before completion; those jobs will run again"
        );
    }
    Ok(jobs.len())
}

/// The work done once a day: one job per day for all nodes (its idempotency
/// key), which queues the day's tasks as jobs of their own.
async fn daily(c: &Carnet, day: &str) -> Result<()> {
    crate::db::dialect::refresh_statistics(&c.db).await?;
    let mut tx = c.db.begin().await?;
    // The pipeline and segments as the previous day ended.
    if let Ok(d) = chrono::NaiveDate::parse_from_str(day, "%Y-%m-%d") {
        let yesterday = (d - chrono::Duration::days(1)).to_string();
        enqueue(
            &mut tx,
            NewJob {
                kind: "snapshot",
                payload: serde_json::json!({ "day": yesterday }),
                run_at: None,
                idempotency_key: Some(format!("snapshot:{yesterday}")),
            },
        )
        .await?;
    }
    for rule in crate::agenda::recurring::list(&c.db).await? {
        enqueue(
            &mut tx,
            NewJob {
                kind: "recurring_rule",
                payload: serde_json::json!({ "rule_id": rule.id }),
                run_at: None,
                idempotency_key: Some(format!("recurring:{}:{day}", rule.id)),
            },
        )
        .await?;
    }
    tx.commit().await?;
    Ok(())
}

/// Queues today's daily job unless it is already queued (by this or another node).
pub async fn schedule_daily(db: &Db, day: chrono::NaiveDate) -> Result<()> {
    let mut tx = db.begin().await?;
    enqueue(
        &mut tx,
        NewJob {
            kind: "daily",
            payload: serde_json::json!({ "day": day.to_string() }),
            run_at: None,
            idempotency_key: Some(format!("daily:{day}")),
        },
    )
    .await?;
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
        let today = chrono::Utc::now().date_naive();
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
    format!(
        "{}-{}-{n}",
        std::process::id(),
        crate::access::random_token().chars().take(6).collect::<String>()
    )
}
