//! The timeline of each record (R7) and the company news feed built from it (R9).
//! Entries store a kind and structured data; pages phrase them per language.

use crate::db::{q, Db, Handle};
use crate::error::Result;
use carnet_domain::fields::Entity;
use serde::Serialize;

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Entry {
    pub id: i64,
    pub entity: String,
    pub record_id: i64,
    pub kind: String,
    pub actor_id: Option<i64>,
    pub actor_name: Option<String>,
    /// The record's name when the entry was made.
    pub title: String,
    pub body: Option<String>,
    /// JSON details: changed fields, old and new status, file name...
    pub data: Option<String>,
    pub created_at: i64,
}

impl Entry {
    pub fn data_json(&self) -> serde_json::Value {
        self.data
            .as_deref()
            .and_then(|d| serde_json::from_str(d).ok())
            .unwrap_or(serde_json::Value::Null)
    }
}

pub const KINDS: &[&str] = &[
    "created",
    "updated",
    "status_changed",
    "comment",
    "attachment",
    "linked",
    "opportunity",
    "stage_changed",
    "action_planned",
    "action_done",
];

pub struct NewEntry<'a> {
    pub entity: Entity,
    pub record_id: i64,
    pub kind: &'a str,
    pub actor_id: Option<i64>,
    pub title: &'a str,
    pub body: Option<&'a str>,
    pub data: Option<serde_json::Value>,
}

pub async fn add(h: &mut impl Handle, e: NewEntry<'_>) -> Result<i64> {
    Ok(q(
        "INSERT INTO timeline (entity, record_id, kind, actor_id, title, body, data, created_at) \
          VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
    )
    .bind(e.entity.as_str())
    .bind(e.record_id)
    .bind(e.kind)
    .bind(e.actor_id)
    .bind(e.title)
    .bind(e.body)
    .bind(e.data.map(|d| d.to_string()))
    .bind(h.now())
    .insert_id(h)
    .await?)
}

const SELECT: &str = "SELECT t.id, t.entity, t.record_id, t.kind, t.actor_id, u.name AS actor_name, t.title, t.body, t.data, t.created_at \
                      FROM timeline t LEFT JOIN users u ON u.id = t.actor_id";

/// A record's timeline, newest first.
pub async fn for_record(db: &Db, entity: Entity, id: i64, limit: i64) -> Result<Vec<Entry>> {
    Ok(q(format!(
        "{SELECT} WHERE t.entity = $1 AND t.record_id = $2 ORDER BY t.id DESC LIMIT $3"
    ))
    .bind(entity.as_str())
    .bind(id)
    .bind(limit)
    .fetch_all(&mut db.conn().await?)
    .await?)
}

/// The company feed, newest first, optionally of some kinds, before an entry id.
pub async fn feed(db: &Db, kinds: &[String], before: Option<i64>, limit: i64) -> Result<Vec<Entry>> {
    let mut query = q(format!("{SELECT} WHERE 1 = 1"));
    if !kinds.is_empty() {
        query.push(" AND t.kind IN ");
        crate::db::push_in_list(&mut query, kinds);
    }
    if let Some(b) = before {
        query.push(" AND t.id < ").push_bind(b);
    }
    query.push(" ORDER BY t.id DESC LIMIT ").push_bind(limit);
    Ok(query.fetch_all(&mut db.conn().await?).await?)
}

/// Adds a comment (R8): free text every user can read.
pub async fn comment(db: &Db, entity: Entity, id: i64, actor: i64, title: &str, body: &str) -> Result<i64> {
    let body = carnet_domain::values::optional_text(body, carnet_domain::values::MAX_LONG_TEXT)
        .map_err(|e| crate::AppError::field("body", e))?
        .ok_or_else(|| crate::AppError::field("body", "is required"))?;
    let mut tx = db.begin().await?;
    let eid = add(
        &mut tx,
        NewEntry {
            entity,
            record_id: id,
            kind: "comment",
            actor_id: Some(actor),
            title,
            body: Some(&body),
            data: None,
        },
    )
    .await?;
    tx.commit().await?;
    Ok(eid)
}

/// Deletes a comment; only its author or an administrator may.
pub async fn delete_comment(db: &Db, entry_id: i64, actor: i64, is_admin: bool) -> Result<()> {
    let mut tx = db.begin().await?;
    let author: Option<(Option<i64>, String)> = q("SELECT actor_id, kind FROM timeline WHERE id = $1")
        .bind(entry_id)
        .fetch_optional(&mut tx)
        .await?;
    match author {
        Some((a, kind)) if kind == "comment" => {
            if a != Some(actor) && !is_admin {
                return Err(crate::AppError::Forbidden);
            }
        }
        _ => return Err(crate::AppError::NotFound),
    }
    q("DELETE FROM timeline WHERE id = $1").bind(entry_id).execute(&mut tx).await?;
    tx.commit().await?;
    Ok(())
}
