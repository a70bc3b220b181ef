//! Saved list views (R10): a name and the list's filters, private or shared.

use crate::db::{q, Db};
use crate::error::{AppError, Result};
use carnet_domain::fields::Entity;
use carnet_domain::values::required_name;
use serde::Serialize;

#[derive(Debug, Clone, Serialize, sqlx::FromRow, schemars::JsonSchema)]
pub struct SavedView {
    pub id: i64,
    pub user_id: i64,
    pub entity: String,
    pub name: String,
    /// The list's query string (filters and sort).
    pub query: String,
    pub shared: bool,
    pub created_at: i64,
}

pub async fn create(db: &Db, user_id: i64, entity: Entity, name: &str, query: &str, shared: bool) -> Result<i64> {
    let name = required_name(name).map_err(|e| AppError::field("name", e))?;
    if query.len() > 4000 {
        return Err(AppError::field("query", "is too long"));
    }
    let mut tx = db.begin().await?;
    let id = q("INSERT INTO saved_views (user_id, entity, name, query, shared, created_at) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id")
        .bind(user_id)
        .bind(entity.as_str())
        .bind(name)
        .bind(query)
        .bind(shared)
        .bind(tx.now())
        .insert_id(&mut tx)
        .await?;
    tx.commit().await?;
    Ok(id)
}

/// The user's own views and the shared ones.
pub async fn visible(db: &Db, user_id: i64, entity: Entity) -> Result<Vec<SavedView>> {
    Ok(q("SELECT id, user_id, entity, name, query, shared, created_at FROM saved_views \
          WHERE entity = $1 AND (user_id = $2 OR shared = TRUE) ORDER BY name, id")
    .bind(entity.as_str())
    .bind(user_id)
    .fetch_all(&mut db.conn().await?)
    .await?)
}

pub async fn get(db: &Db, id: i64, user_id: i64) -> Result<SavedView> {
    q("SELECT id, user_id, entity, name, query, shared, created_at FROM saved_views WHERE id = $1 AND (user_id = $2 OR shared = TRUE)")
        .bind(id)
        .bind(user_id)
        .fetch_optional(&mut db.conn().await?)
        .await?
        .ok_or(AppError::NotFound)
}

pub async fn delete(db: &Db, id: i64, user_id: i64, is_admin: bool) -> Result<()> {
    let mut tx = db.begin().await?;
    let owner: Option<i64> = q("SELECT user_id FROM saved_views WHERE id = $1")
        .bind(id)
        .scalar_opt(&mut tx)
        .await?;
    match owner {
        None => return Err(AppError::NotFound),
        Some(o) if o != user_id && !is_admin => return Err(AppError::Forbidden),
        _ => {}
    }
    q("DELETE FROM saved_views WHERE id = $1").bind(id).execute(&mut tx).await?;
    tx.commit().await?;
    Ok(())
}
