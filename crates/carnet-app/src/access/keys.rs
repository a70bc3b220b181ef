//! Personal API keys: shown once at creation, stored as a hash, sent as
//! `Authorization: Bearer <key>`. A key acts with its user's role.

use super::{random_token, token_hash, User};
use crate::db::{q, Db};
use crate::error::{AppError, Result};
use carnet_domain::values::required_name;
use serde::Serialize;

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct ApiKey {
    pub id: i64,
    pub user_id: i64,
    pub name: String,
    pub prefix: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

/// Creates a key and returns it in clear, the only time it is seen.
pub async fn create(db: &Db, user_id: i64, name: &str) -> Result<(ApiKey, String)> {
    let name = required_name(name).map_err(|e| AppError::field("name", e))?;
    let secret = random_token();
    let prefix: String = secret.chars().take(8).collect();
    let key = format!("carnet_{secret}");
    let mut tx = db.begin().await?;
    let id = q("INSERT INTO api_keys (user_id, name, key_hash, prefix, created_at) VALUES ($1, $2, $3, $4, $5) RETURNING id")
        .bind(user_id)
        .bind(name)
        .bind(token_hash(&key))
        .bind(prefix)
        .bind(tx.now())
        .insert_id(&mut tx)
        .await?;
    tx.commit().await?;
    let k = q("SELECT id, user_id, name, prefix, created_at, last_used_at, revoked_at FROM api_keys WHERE id = $1")
        .bind(id)
        .fetch_one(&mut db.conn().await?)
        .await?;
    Ok((k, key))
}

pub async fn list_for(db: &Db, user_id: i64) -> Result<Vec<ApiKey>> {
    Ok(
        q("SELECT id, user_id, name, prefix, created_at, last_used_at, revoked_at FROM api_keys WHERE user_id = $1 ORDER BY id")
            .bind(user_id)
            .fetch_all(&mut db.conn().await?)
            .await?,
    )
}

pub async fn revoke(db: &Db, user_id: i64, key_id: i64) -> Result<()> {
    let mut tx = db.begin().await?;
    let n = q("UPDATE api_keys SET revoked_at = $1 WHERE id = $2 AND user_id = $3 AND revoked_at IS NULL")
        .bind(tx.now())
        .bind(key_id)
        .bind(user_id)
        .execute(&mut tx)
        .await?;
    tx.commit().await?;
    if n == 0 {
        return Err(AppError::NotFound);
    }
    Ok(())
}

/// The user a key belongs to, if the key is live and the user active.
pub async fn authenticate(db: &Db, key: &str) -> Result<Option<User>> {
    let row: Option<(i64, i64, Option<i64>)> = q(
        "SELECT k.id, k.user_id, k.last_used_at FROM api_keys k JOIN users u ON u.id = k.user_id \
                                                  WHERE k.key_hash = $1 AND k.revoked_at IS NULL AND u.active = TRUE",
    )
    .bind(token_hash(key.trim()))
    .fetch_optional(&mut db.conn().await?)
    .await?;
    let Some((key_id, user_id, last)) = row else { return Ok(None) };
    let t = db.now();
    // Recording use at most once a minute keeps API reads from becoming writes.
    if last.is_none_or(|l| t - l > 60) {
        let mut tx = db.begin().await?;
        q("UPDATE api_keys SET last_used_at = $1 WHERE id = $2")
            .bind(t)
            .bind(key_id)
            .execute(&mut tx)
            .await?;
        tx.commit().await?;
    }
    Ok(Some(super::users::get(db, user_id).await?))
}
