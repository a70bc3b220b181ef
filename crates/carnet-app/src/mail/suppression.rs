//! The suppression list (M6): addresses not to write to. Unsubscribed,
//! complained and hand-added addresses get no marketing message; a bounced
//! address gets nothing at all. Checked when a message is sent, not when it is
//! queued, so an unsubscribe stops what is already waiting.

use super::outbox::Category;
use crate::db::{q, Db, Handle, Tx};
use crate::error::{AppError, Result};
use crate::platform::events::{self, EventKind, NewEvent};
use crate::records::timeline::{self, NewEntry};
use carnet_domain::fields::Entity;
use carnet_domain::values::EmailAddress;
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    Unsubscribed,
    Bounced,
    Complained,
    Manual,
}

impl Reason {
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Unsubscribed => "unsubscribed",
            Reason::Bounced => "bounced",
            Reason::Complained => "complained",
            Reason::Manual => "manual",
        }
    }
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow, schemars::JsonSchema)]
pub struct Suppression {
    pub address: String,
    /// `unsubscribed`, `bounced`, `complained` or `manual`.
    pub reason: String,
    /// Where it came from: `one_click`, `page`, `smtp`, `dsn`, `api`, a user…
    pub source: String,
    pub detail: Option<String>,
    pub created_at: i64,
}

/// Why a message of `category` may not go to `address` now, if it may not.
pub async fn blocks(h: &mut impl Handle, address: &str, category: Category) -> Result<Option<String>> {
    let reason: Option<String> = q("SELECT reason FROM suppressions WHERE address_key = $1")
        .bind(address.trim().to_lowercase())
        .scalar_opt(h)
        .await?;
    Ok(reason.filter(|r| r == "bounced" || category == Category::Marketing))
}

/// Adds an address (a stronger reason replaces a weaker one: bounced wins).
pub async fn add(tx: &mut Tx, address: &str, reason: Reason, source: &str, detail: Option<&str>) -> Result<bool> {
    let key = address.trim().to_lowercase();
    let t = tx.now();
    let existing: Option<String> = q("SELECT reason FROM suppressions WHERE address_key = $1")
        .bind(key.clone())
        .scalar_opt(&mut *tx)
        .await?;
    match existing.as_deref() {
        Some("bounced") => return Ok(false),
        Some(_) if reason != Reason::Bounced => return Ok(false),
        Some(_) => {
            q("UPDATE suppressions SET reason = $1, source = $2, detail = $3, created_at = $4 WHERE address_key = $5")
                .bind(reason.as_str())
                .bind(source)
                .bind(detail)
                .bind(t)
                .bind(key)
                .execute(&mut *tx)
                .await?;
        }
        None => {
            q("INSERT INTO suppressions (address_key, address, reason, source, detail, created_at) VALUES ($1, $2, $3, $4, $5, $6)")
                .bind(key)
                .bind(address.trim())
                .bind(reason.as_str())
                .bind(source)
                .bind(detail)
                .bind(t)
                .execute(&mut *tx)
                .await?;
        }
    }
    Ok(true)
}

/// A hard bounce: the address is suppressed for every message, and the event recorded.
pub async fn bounce(tx: &mut Tx, address: &str, source: &str, detail: &str, email_id: Option<i64>) -> Result<()> {
    if add(tx, address, Reason::Bounced, source, Some(detail)).await? {
        let data = serde_json::json!({"address": address, "source": source, "email_id": email_id});
        if let Some(id) = email_id {
            record_hit(tx, id, "bounce", Some(detail)).await?;
        }
        events::record(
            tx,
            NewEvent::new(EventKind::EmailBounced, "email", email_id.unwrap_or(0), None, data),
        )
        .await?;
    }
    Ok(())
}

async fn record_hit(tx: &mut Tx, email_id: i64, kind: &str, why: Option<&str>) -> Result<()> {
    q("INSERT INTO email_events (email_id, kind, human, why, created_at) VALUES ($1, $2, TRUE, $3, $4)")
        .bind(email_id)
        .bind(kind)
        .bind(why)
        .bind(tx.now())
        .execute(tx)
        .await?;
    Ok(())
}

/// Unsubscribes the recipient of a message (one click, or the page): the
/// address is suppressed for marketing, the contacts with this address record
/// the date and source (GDPR), the timeline says so, and the event is recorded.
/// Idempotent: a second unsubscribe changes nothing.
pub async fn unsubscribe(db: &Db, email_id: i64, source: &str) -> Result<String> {
    let mut tx = db.begin().await?;
    let row: Option<(String, Option<i64>)> = q("SELECT to_address, contact_id FROM emails WHERE id = $1")
        .bind(email_id)
        .fetch_optional(&mut tx)
        .await?;
    let (address, contact) = row.ok_or(AppError::NotFound)?;
    if add(&mut tx, &address, Reason::Unsubscribed, source, None).await? {
        record_hit(&mut tx, email_id, "unsubscribe", Some(source)).await?;
        mark_contacts(&mut tx, &address, source).await?;
        let data = serde_json::json!({"address": address, "source": source, "email_id": email_id, "contact_id": contact});
        events::record(&mut tx, NewEvent::new(EventKind::Unsubscribed, "email", email_id, None, data)).await?;
    }
    tx.commit().await?;
    Ok(address)
}

/// Records the unsubscribe on every contact with this address.
async fn mark_contacts(tx: &mut Tx, address: &str, source: &str) -> Result<()> {
    let key = EmailAddress::parse(address)
        .map(|a| a.normalized())
        .unwrap_or_else(|_| address.to_lowercase());
    let t = tx.now();
    let ids: Vec<(i64, String)> = q("SELECT id, last_name FROM contacts WHERE email_key = $1 AND unsubscribed_at IS NULL")
        .bind(key)
        .fetch_all(&mut *tx)
        .await?;
    for (id, name) in ids {
        q("UPDATE contacts SET unsubscribed_at = $1, unsubscribe_source = $2 WHERE id = $3")
            .bind(t)
            .bind(source)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        timeline::add(
            tx,
            NewEntry {
                entity: Entity::Contact,
                record_id: id,
                kind: "unsubscribed",
                actor_id: None,
                title: &name,
                body: None,
                data: Some(serde_json::json!({"address": address, "source": source})),
            },
        )
        .await?;
    }
    Ok(())
}

/// Adds an address by hand (or through the API).
pub async fn add_manual(db: &Db, raw: &str, reason: Reason, source: &str, detail: Option<&str>) -> Result<()> {
    let addr = EmailAddress::parse(raw).map_err(|e| AppError::field("address", e))?;
    let mut tx = db.begin().await?;
    if add(&mut tx, addr.as_str(), reason, source, detail).await? {
        if reason == Reason::Unsubscribed {
            mark_contacts(&mut tx, addr.as_str(), source).await?;
        }
        events::settings_changed(&mut tx, "suppressions", false).await?;
    }
    tx.commit().await?;
    Ok(())
}

/// Removes an address (a person asked to hear from the company again).
pub async fn remove(db: &Db, raw: &str) -> Result<()> {
    let mut tx = db.begin().await?;
    let n = q("DELETE FROM suppressions WHERE address_key = $1")
        .bind(raw.trim().to_lowercase())
        .execute(&mut tx)
        .await?;
    if n == 0 {
        return Err(AppError::NotFound);
    }
    events::settings_changed(&mut tx, "suppressions", false).await?;
    tx.commit().await?;
    Ok(())
}

pub async fn get(db: &Db, address: &str) -> Result<Suppression> {
    q("SELECT address, reason, source, detail, created_at FROM suppressions WHERE address_key = $1")
        .bind(address.trim().to_lowercase())
        .fetch_optional(&mut db.conn().await?)
        .await?
        .ok_or(AppError::NotFound)
}

pub async fn list(db: &Db, limit: i64) -> Result<Vec<Suppression>> {
    Ok(
        q("SELECT address, reason, source, detail, created_at FROM suppressions ORDER BY created_at DESC, address_key LIMIT $1")
            .bind(limit)
            .fetch_all(&mut db.conn().await?)
            .await?,
    )
}
