//! Events (action done, no-show, ...) recorded in the same transaction as the
//! change that caused them, with a job that hands them to the rules: if the
//! process dies after the commit, the job is still there; if it dies before,
//! neither the change nor the event happened.

use super::jobs;
use crate::db::{now, q, Tx};
use crate::error::Result;

pub async fn record(tx: &mut Tx, kind: &str, entity: &str, record_id: i64, data: serde_json::Value) -> Result<i64> {
    let id = q("INSERT INTO events (kind, entity, record_id, data, created_at) VALUES ($1, $2, $3, $4, $5) RETURNING id")
        .bind(kind)
        .bind(entity)
        .bind(record_id)
        .bind(data.to_string())
        .bind(now())
        .insert_id(&mut *tx)
        .await?;
    jobs::enqueue(
        tx,
        jobs::NewJob {
            kind: "event",
            payload: serde_json::json!({"event_id": id}),
            run_at: None,
            idempotency_key: Some(format!("event:{id}")),
        },
    )
    .await?;
    Ok(id)
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Event {
    pub id: i64,
    pub kind: String,
    pub entity: String,
    pub record_id: i64,
    pub data: String,
    pub created_at: i64,
}

pub async fn get(h: &mut impl crate::db::Handle, id: i64) -> Result<Option<Event>> {
    Ok(q("SELECT id, kind, entity, record_id, data, created_at FROM events WHERE id = $1")
        .bind(id)
        .fetch_optional(h)
        .await?)
}
