//! Files attached to records (R8), stored on local disk under random names; the
//! database keeps the original name and type for a safe download.

use super::timeline::{self, NewEntry};
use crate::db::{q, Db};
use crate::error::{AppError, Result};
use crate::Carnet;
use carnet_domain::fields::Entity;
use serde::Serialize;

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Attachment {
    pub id: i64,
    pub entity: String,
    pub record_id: i64,
    pub file_name: String,
    pub content_type: String,
    pub size_bytes: i64,
    pub storage_key: String,
    pub uploaded_by: Option<i64>,
    pub created_at: i64,
}

/// Keeps a file name displayable and harmless in a header.
pub(crate) fn clean_name(raw: &str) -> Result<String> {
    let base = raw.rsplit(['/', '\\']).next().unwrap_or("").trim();
    let cleaned: String = base.chars().filter(|c| !c.is_control() && *c != '"').take(200).collect();
    if cleaned.is_empty() || cleaned == "." || cleaned == ".." {
        return Err(AppError::field("file", "needs a file name"));
    }
    Ok(cleaned)
}

/// A file as received.
pub struct Upload<'a> {
    pub file_name: &'a str,
    pub content_type: &'a str,
    pub bytes: &'a [u8],
}

/// Stores a file for a record; `record_name` titles the timeline entry.
pub async fn save(c: &Carnet, entity: Entity, record_id: i64, record_name: &str, actor: i64, upload: Upload<'_>) -> Result<i64> {
    let Upload {
        file_name,
        content_type,
        bytes,
    } = upload;
    if bytes.is_empty() {
        return Err(AppError::field("file", "is empty"));
    }
    if bytes.len() > c.max_upload_bytes {
        return Err(AppError::field(
            "file",
            format!("is larger than {} MB", c.max_upload_bytes / (1024 * 1024)),
        ));
    }
    let name = clean_name(file_name)?;
    let key = crate::access::token_hash(&crate::access::random_token());
    let path = c.files_dir.join(&key);
    tokio::fs::write(&path, bytes).await.map_err(AppError::internal)?;
    let result = async {
        let mut tx = c.db.begin().await?;
        let id = q(
            "INSERT INTO attachments (entity, record_id, file_name, content_type, size_bytes, storage_key, uploaded_by, created_at) \
                    VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
        )
        .bind(entity.as_str())
        .bind(record_id)
        .bind(name.clone())
        .bind(content_type.chars().take(100).collect::<String>())
        .bind(bytes.len() as i64)
        .bind(key.clone())
        .bind(actor)
        .bind(tx.now())
        .insert_id(&mut tx)
        .await?;
        timeline::add(
            &mut tx,
            NewEntry {
                entity,
                record_id,
                kind: "attachment",
                actor_id: Some(actor),
                title: record_name,
                body: None,
                data: Some(serde_json::json!({"file": name, "attachment_id": id})),
            },
        )
        .await?;
        tx.commit().await?;
        Ok::<i64, AppError>(id)
    }
    .await;
    if result.is_err() {
        // Nothing half-saved: a file without its row is removed.
        let _ = tokio::fs::remove_file(&path).await;
    }
    result
}

pub async fn for_record(db: &Db, entity: Entity, id: i64) -> Result<Vec<Attachment>> {
    Ok(q(
        "SELECT id, entity, record_id, file_name, content_type, size_bytes, storage_key, uploaded_by, created_at \
          FROM attachments WHERE entity = $1 AND record_id = $2 ORDER BY id DESC",
    )
    .bind(entity.as_str())
    .bind(id)
    .fetch_all(&mut db.conn().await?)
    .await?)
}

pub async fn get(db: &Db, id: i64) -> Result<Attachment> {
    q("SELECT id, entity, record_id, file_name, content_type, size_bytes, storage_key, uploaded_by, created_at FROM attachments WHERE id = $1")
        .bind(id)
        .fetch_optional(&mut db.conn().await?)
        .await?
        .ok_or(AppError::NotFound)
}

pub async fn read(c: &Carnet, a: &Attachment) -> Result<Vec<u8>> {
    tokio::fs::read(c.files_dir.join(&a.storage_key)).await.map_err(AppError::internal)
}

pub async fn delete(c: &Carnet, id: i64) -> Result<()> {
    let a = get(&c.db, id).await?;
    let mut tx = c.db.begin().await?;
    q("DELETE FROM attachments WHERE id = $1").bind(id).execute(&mut tx).await?;
    tx.commit().await?;
    remove_files(c, &[a.storage_key]).await;
    Ok(())
}

/// Removes stored files after their rows are gone; a leftover file is harmless.
pub async fn remove_files(c: &Carnet, keys: &[String]) {
    for k in keys {
        if let Err(e) = tokio::fs::remove_file(c.files_dir.join(k)).await {
            tracing::warn!(error = %e, "could not remove an attachment file");
        }
    }
}
