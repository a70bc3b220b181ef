//! Browser sessions: a random token in an HttpOnly cookie, its hash in the
//! database with the session's CSRF token and expiry.

use super::{random_token, token_hash, User};
use crate::db::{q, Db};
use crate::error::Result;

pub const SESSION_DAYS: i64 = 14;

pub struct NewSession {
    pub token: String,
    pub csrf: String,
}

pub async fn create(db: &Db, user_id: i64) -> Result<NewSession> {
    let token = random_token();
    let csrf = random_token();
    let t = db.now();
    let mut tx = db.begin().await?;
    // Expired sessions are swept as new ones are made.
    q("DELETE FROM sessions WHERE expires_at < $1").bind(t).execute(&mut tx).await?;
    q("INSERT INTO sessions (token_hash, user_id, csrf_token, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)")
        .bind(token_hash(&token))
        .bind(user_id)
        .bind(csrf.clone())
        .bind(t)
        .bind(t + SESSION_DAYS * 86_400)
        .execute(&mut tx)
        .await?;
    tx.commit().await?;
    Ok(NewSession { token, csrf })
}

/// The user and CSRF token of a live session.
pub async fn lookup(db: &Db, token: &str) -> Result<Option<(User, String)>> {
    let row: Option<(i64, String)> = q("SELECT s.user_id, s.csrf_token FROM sessions s JOIN users u ON u.id = s.user_id \
                                        WHERE s.token_hash = $1 AND s.expires_at > $2 AND u.active = TRUE")
    .bind(token_hash(token))
    .bind(db.now())
    .fetch_optional(&mut db.conn().await?)
    .await?;
    match row {
        Some((uid, csrf)) => Ok(Some((super::users::get(db, uid).await?, csrf))),
        None => Ok(None),
    }
}

pub async fn delete(db: &Db, token: &str) -> Result<()> {
    let mut tx = db.begin().await?;
    q("DELETE FROM sessions WHERE token_hash = $1")
        .bind(token_hash(token))
        .execute(&mut tx)
        .await?;
    tx.commit().await?;
    Ok(())
}
