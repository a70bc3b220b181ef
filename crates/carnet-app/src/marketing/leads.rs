//! Qualified leads (M9): a lead shows an interest — it crossed a scoring
//! threshold, booked a meeting, or ticked "please call me" on a form — and is
//! qualified once its email and a phone number are known (at once, or when a
//! rep or a later form fills them in). Qualified leads wait in their rep's
//! "to call" list until a call or any other action on them is done.

use crate::db::{q, Db, Tx};
use crate::error::Result;
use crate::platform::events::{self, Event, EventKind, NewEvent};
use crate::platform::registry::BoxFut;
use crate::records::timeline::{self, NewEntry};
use carnet_domain::fields::Entity;
use schemars::JsonSchema;
use serde::Serialize;

/// The events that show an interest (seen from the queue).
pub const INTEREST: &[EventKind] = &[EventKind::BookingMade, EventKind::FormSubmitted];
/// A contact's details changed (seen in the writer's transaction: one cheap
/// update, rather than a queued job for every edit).
pub const DETAILS: &[EventKind] = &[EventKind::RecordUpdated];

/// Notes a lead's first interest (`why`: `score`, `booking`, `call_me`), then qualifies it if it can be.
pub async fn interest(tx: &mut Tx, contact: i64, why: &str) -> Result<()> {
    q("UPDATE contacts SET interest_at = $1, interest = $2 WHERE id = $3 AND interest_at IS NULL")
        .bind(tx.now())
        .bind(why)
        .bind(contact)
        .execute(&mut *tx)
        .await?;
    qualify(tx, contact).await
}

/// Qualifies a lead that showed an interest once its email and phone are known (once).
pub async fn qualify(tx: &mut Tx, contact: i64) -> Result<()> {
    let now = tx.now();
    let n = q(
        "UPDATE contacts SET qualified_at = $1 WHERE id = $2 AND qualified_at IS NULL AND interest_at IS NOT NULL \
               AND email IS NOT NULL AND (phone IS NOT NULL OR mobile IS NOT NULL)",
    )
    .bind(now)
    .bind(contact)
    .execute(&mut *tx)
    .await?;
    if n == 0 {
        return Ok(());
    }
    let why: Option<String> = q("SELECT interest FROM contacts WHERE id = $1")
        .bind(contact)
        .scalar_opt::<Option<String>>(&mut *tx)
        .await?
        .flatten();
    let data = serde_json::json!({"interest": why});
    timeline::add(
        tx,
        NewEntry {
            entity: Entity::Contact,
            record_id: contact,
            kind: "lead_qualified",
            actor_id: None,
            title: "",
            body: None,
            data: Some(data.clone()),
        },
    )
    .await?;
    events::record(tx, NewEvent::new(EventKind::LeadQualified, "contact", contact, None, data)).await?;
    Ok(())
}

/// The queued subscriber: a booking or a "call me" is an interest; a form's
/// new details may qualify a lead.
pub fn on_event<'a>(tx: &'a mut Tx, e: &'a Event) -> BoxFut<'a, Result<()>> {
    Box::pin(async move {
        match e.kind {
            EventKind::BookingMade => {
                if let Some(c) = e.data.get("contact_id").and_then(|v| v.as_i64()) {
                    interest(tx, c, "booking").await?;
                }
            }
            EventKind::FormSubmitted if e.data.get("call_me") == Some(&serde_json::Value::Bool(true)) => {
                interest(tx, e.record_id, "call_me").await?;
            }
            EventKind::FormSubmitted => qualify(tx, e.record_id).await?,
            _ => {}
        }
        Ok(())
    })
}

/// The writer's subscriber: a rep who fills in a lead's phone qualifies it.
pub fn on_details<'a>(tx: &'a mut Tx, e: &'a Event) -> BoxFut<'a, Result<()>> {
    Box::pin(async move {
        if e.entity == "contact" {
            qualify(tx, e.record_id).await?;
        }
        Ok(())
    })
}

/// A lead to call.
#[derive(Debug, Clone, Serialize, JsonSchema, sqlx::FromRow)]
pub struct ToCall {
    pub contact_id: i64,
    pub first_name: Option<String>,
    pub last_name: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub mobile: Option<String>,
    pub account: Option<String>,
    pub owner_id: Option<i64>,
    pub score: i64,
    /// `score`, `booking` or `call_me`.
    pub interest: Option<String>,
    pub qualified_at: i64,
}

/// Qualified leads no action was done on since they qualified, oldest first;
/// one rep's, or everyone's.
pub async fn to_call(db: &Db, owner: Option<i64>, limit: i64) -> Result<Vec<ToCall>> {
    let mut query = q("SELECT c.id AS contact_id, c.first_name, c.last_name, c.email, c.phone, c.mobile, \
         (SELECT MIN(a.name) FROM account_contacts ac JOIN accounts a ON a.id = ac.account_id WHERE ac.contact_id = c.id) AS account, \
         c.owner_id, c.score, c.interest, c.qualified_at FROM contacts c WHERE c.qualified_at IS NOT NULL \
         AND NOT EXISTS (SELECT 1 FROM actions x WHERE x.contact_id = c.id AND x.outcome = 'done' AND x.done_at >= c.qualified_at)");
    if let Some(o) = owner {
        query.push(" AND c.owner_id = ").push_bind(o);
    }
    query.push(" ORDER BY c.qualified_at, c.id LIMIT ").push_bind(limit);
    Ok(query.fetch_all(&mut db.conn().await?).await?)
}
