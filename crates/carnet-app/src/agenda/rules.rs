//! Follow-up rules (A5), run by the job queue when an action is done: "when an
//! action of type X is done [for an account in segment S], create action Y for
//! the same people, due in N (business) days, assigned to the same rep". Each
//! follow-up is created under an effect key, so a job re-run after a crash does
//! not create it twice.

use super::actions;
use crate::db::{q, Db, Tx};
use crate::error::{AppError, Result};
use crate::platform::events::{Event, EventKind};
use crate::platform::jobs;
use crate::platform::registry::{BoxFut, Delivery, Registry, Subscriber};
use carnet_domain::agenda::add_days;
use serde::Serialize;

#[derive(Debug, Clone, Serialize, sqlx::FromRow, schemars::JsonSchema)]
pub struct FollowupRule {
    pub id: i64,
    pub when_type_id: i64,
    pub segment_tag_id: Option<i64>,
    pub then_type_id: i64,
    pub subject: String,
    pub due_days: i64,
    pub business_days: bool,
    pub active: bool,
}

pub use carnet_domain::agenda::FollowupDraft;

pub async fn create(db: &Db, r: &FollowupDraft) -> Result<i64> {
    let mut tx = db.begin().await?;
    if let Some(t) = r.segment_tag_id {
        if !crate::sales::exists(&mut tx, "tags", t).await? {
            return Err(AppError::field("segment", "is not a known tag"));
        }
    }
    for (field, id) in [("when_type", r.when_type_id), ("then_type", r.then_type_id)] {
        if !crate::sales::exists(&mut tx, "action_types", id).await? {
            return Err(AppError::field(field, "is not a known action type"));
        }
    }
    let id = q(
        "INSERT INTO followup_rules (when_type_id, segment_tag_id, then_type_id, subject, due_days, business_days, active, created_at) \
                VALUES ($1, $2, $3, $4, $5, $6, TRUE, $7) RETURNING id",
    )
    .bind(r.when_type_id)
    .bind(r.segment_tag_id)
    .bind(r.then_type_id)
    .bind(r.subject.clone())
    .bind(r.due_days)
    .bind(r.business_days)
    .bind(tx.now())
    .insert_id(&mut tx)
    .await?;
    tx.commit().await?;
    Ok(id)
}

const COLS: &str = "id, when_type_id, segment_tag_id, then_type_id, subject, due_days, business_days, active";

pub async fn list(db: &Db) -> Result<Vec<FollowupRule>> {
    Ok(q(format!("SELECT {COLS} FROM followup_rules ORDER BY id"))
        .fetch_all(&mut db.conn().await?)
        .await?)
}

pub async fn delete(db: &Db, id: i64) -> Result<()> {
    crate::db::delete_by_id(db, "followup_rules", id).await
}

/// The queue's handler for events. It reads and writes only through `tx`, the
/// queue's transaction for a batch of jobs: the follow-ups and the job's
/// completion are committed together. Each follow-up is also recorded under an
/// effect key, so an event handled twice (a job re-queued by hand) creates it once.
pub async fn on_event(tx: &mut Tx, ev: &Event) -> Result<()> {
    if ev.kind != EventKind::ActionDone {
        return Ok(());
    }
    let done = actions::read(tx, ev.record_id).await?;
    let rules: Vec<FollowupRule> = q(format!(
        "SELECT {COLS} FROM followup_rules WHERE active = TRUE AND when_type_id = $1 ORDER BY id"
    ))
    .bind(done.type_id)
    .fetch_all(tx)
    .await?;
    for r in rules {
        if let Some(tag) = r.segment_tag_id {
            let Some(account) = done.account_id else { continue };
            let tagged: i64 = q("SELECT COUNT(*) FROM record_tags WHERE entity = 'account' AND record_id = $1 AND tag_id = $2")
                .bind(account)
                .bind(tag)
                .scalar(tx)
                .await?;
            if tagged == 0 {
                continue;
            }
        }
        let done_day = chrono::DateTime::from_timestamp(done.done_at.unwrap_or(ev.created_at), 0)
            .map(|d| d.date_naive())
            .unwrap_or_default();
        let due = add_days(done_day, r.due_days, r.business_days);
        if !jobs::first_time(tx, &format!("followup:{}:{}", r.id, done.id)).await? {
            continue;
        }
        let t = tx.now();
        q("INSERT INTO actions (type_id, subject, account_id, contact_id, opportunity_id, assignee_id, created_by, due_date, planned_at, sequence, created_at, updated_at) \
           VALUES ($1, $2, $3, $4, $5, $6, NULL, $7, $8, 0, $9, $9)")
            .bind(r.then_type_id)
            .bind(r.subject.clone())
            .bind(done.account_id)
            .bind(done.contact_id)
            .bind(done.opportunity_id)
            .bind(done.assignee_id)
            .bind(due.to_string())
            .bind(due.and_hms_opt(0, 0, 0).unwrap().and_utc().timestamp())
            .bind(t)
            .execute(tx)
            .await?;
    }
    Ok(())
}

fn deliver<'a>(tx: &'a mut Tx, e: &'a Event) -> BoxFut<'a, Result<()>> {
    Box::pin(on_event(tx, e))
}

pub fn register(r: Registry) -> Registry {
    r.subscribe(Subscriber {
        name: "follow-up rules",
        kinds: &[EventKind::ActionDone],
        delivery: Delivery::Queued,
        run: deliver,
    })
}
