//! Idempotency keys of API writes. A client that retries a write with the same
//! `Idempotency-Key` gets the first answer again instead of a second write.
//!
//! The first request *claims* its (user, key) with a row whose answer is still
//! empty; the web layer runs the request and [`keep`]s the answer, or
//! [`release`]s the claim when the answer must not be replayed (a 5xx, an
//! authentication failure, a rate limit). A retry finds the row: the same
//! request gets the stored answer, another request under the same key is
//! refused, and a retry while the first still runs is told to wait. Keys are
//! kept for [`KEEP_SECS`]; a claim whose request never finished (a node that
//! died) is taken over after [`ABANDONED_SECS`].

use super::registry::{BoxFut, Registry};
use crate::db::{q, Db, Tx};
use crate::error::Result;

/// How long an answer is replayed.
pub const KEEP_SECS: i64 = 24 * 3600;
/// After this, a claim without an answer is treated as abandoned.
pub const ABANDONED_SECS: i64 = 300;

/// A kept answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    pub status: u16,
    pub content_type: Option<String>,
    pub location: Option<String>,
    pub etag: Option<String>,
    pub body: String,
}

#[derive(Debug, PartialEq)]
pub enum Claim {
    /// The key is this request's: run it, then [`keep`] or [`release`].
    Fresh,
    /// The same request was answered before: answer this again.
    Replay(Answer),
    /// The key was used for another request (method, path or body differ).
    Reused,
    /// The first request with this key is still running.
    InProgress,
}

/// The SHA-256 of what makes two requests the same one.
pub fn fingerprint(method: &str, path_and_query: &str, body: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(method.as_bytes());
    h.update([0]);
    h.update(path_and_query.as_bytes());
    h.update([0]);
    h.update(body);
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

type Row = (
    String,
    Option<i64>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    i64,
);

pub async fn claim(db: &Db, user_id: i64, key: &str, fingerprint: &str) -> Result<Claim> {
    let now = db.now();
    let mut tx = db.begin().await?;
    let inserted = q(
        "INSERT INTO idempotency_keys (user_id, idem_key, fingerprint, created_at) VALUES ($1, $2, $3, $4) \
                      ON CONFLICT (user_id, idem_key) DO NOTHING",
    )
    .bind(user_id)
    .bind(key)
    .bind(fingerprint)
    .bind(now)
    .execute(&mut tx)
    .await?;
    if inserted == 1 {
        tx.commit().await?;
        return Ok(Claim::Fresh);
    }
    let row: Option<Row> = q("SELECT fingerprint, status, content_type, location, etag, body, created_at \
                              FROM idempotency_keys WHERE user_id = $1 AND idem_key = $2")
    .bind(user_id)
    .bind(key)
    .fetch_optional(&mut tx)
    .await?;
    let Some((fp, status, content_type, location, etag, body, created_at)) = row else {
        // Released between the two statements: the key is free again.
        drop(tx);
        return Box::pin(claim(db, user_id, key, fingerprint)).await;
    };
    let expired = created_at <= now - KEEP_SECS;
    let abandoned = status.is_none() && created_at <= now - ABANDONED_SECS;
    if expired || abandoned {
        take_over(&mut tx, user_id, key, fingerprint, now).await?;
        tx.commit().await?;
        return Ok(Claim::Fresh);
    }
    tx.commit().await?;
    if fp != fingerprint {
        return Ok(Claim::Reused);
    }
    Ok(match status {
        None => Claim::InProgress,
        Some(s) => Claim::Replay(Answer {
            status: u16::try_from(s).unwrap_or(500),
            content_type,
            location,
            etag,
            body: body.unwrap_or_default(),
        }),
    })
}

async fn take_over(tx: &mut Tx, user_id: i64, key: &str, fingerprint: &str, now: i64) -> Result<()> {
    q(
        "UPDATE idempotency_keys SET fingerprint = $3, status = NULL, content_type = NULL, location = NULL, etag = NULL, \
       body = NULL, created_at = $4 WHERE user_id = $1 AND idem_key = $2",
    )
    .bind(user_id)
    .bind(key)
    .bind(fingerprint)
    .bind(now)
    .execute(tx)
    .await?;
    Ok(())
}

/// Keeps the answer of a claimed key.
pub async fn keep(db: &Db, user_id: i64, key: &str, a: &Answer) -> Result<()> {
    let mut c = db.conn().await?;
    q(
        "UPDATE idempotency_keys SET status = $3, content_type = $4, location = $5, etag = $6, body = $7 \
       WHERE user_id = $1 AND idem_key = $2",
    )
    .bind(user_id)
    .bind(key)
    .bind(i64::from(a.status))
    .bind(a.content_type.clone())
    .bind(a.location.clone())
    .bind(a.etag.clone())
    .bind(a.body.clone())
    .execute(&mut c)
    .await?;
    Ok(())
}

/// Gives a claimed key up: the next request with it runs.
pub async fn release(db: &Db, user_id: i64, key: &str) -> Result<()> {
    let mut c = db.conn().await?;
    q("DELETE FROM idempotency_keys WHERE user_id = $1 AND idem_key = $2 AND status IS NULL")
        .bind(user_id)
        .bind(key)
        .execute(&mut c)
        .await?;
    Ok(())
}

/// The daily job's part: keys past their day go.
fn daily<'a>(tx: &'a mut Tx, _day: chrono::NaiveDate) -> BoxFut<'a, Result<()>> {
    Box::pin(async move {
        let before = tx.now() - KEEP_SECS;
        q("DELETE FROM idempotency_keys WHERE created_at < $1")
            .bind(before)
            .execute(tx)
            .await?;
        Ok(())
    })
}

pub fn register(r: Registry) -> Registry {
    r.daily(daily)
}
