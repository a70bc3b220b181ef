//! Actions (A1): created, changed, done with an outcome. Each appears on the
//! timelines of the records it is linked to; being done, or a no-show, is an
//! event recorded in the same transaction, for the rules to react to.

use crate::access::User;
use crate::db::{dialect, push_in_list, q, Db, Tx};
use crate::error::{AppError, Result};
use crate::platform::events::{self, EventKind, NewEvent, Scope};
use crate::records::timeline::{self, NewEntry};
use carnet_domain::agenda::{ActionDraft, Outcome, When};
use carnet_domain::fields::Entity;
use serde::Serialize;

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Action {
    pub id: i64,
    pub type_id: i64,
    pub subject: String,
    pub notes: Option<String>,
    pub account_id: Option<i64>,
    pub contact_id: Option<i64>,
    pub opportunity_id: Option<i64>,
    pub assignee_id: Option<i64>,
    pub created_by: Option<i64>,
    pub starts_at: Option<i64>,
    pub duration_min: Option<i64>,
    pub due_date: Option<String>,
    pub done_at: Option<i64>,
    pub spent_min: Option<i64>,
    pub outcome: Option<String>,
    pub planned_at: i64,
    pub recurring_rule_id: Option<i64>,
    pub remind_min: Option<i64>,
    pub remind_at: Option<i64>,
    /// The contact gets a calendar invitation and its updates by email.
    pub invite: bool,
    pub sequence: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

pub const COLS: &str =
    "id, type_id, subject, notes, account_id, contact_id, opportunity_id, assignee_id, created_by, starts_at, duration_min, \
    due_date, done_at, spent_min, outcome, planned_at, recurring_rule_id, remind_min, remind_at, invite, sequence, created_at, updated_at";

async fn check_links(tx: &mut Tx, d: &ActionDraft) -> Result<()> {
    for (table, field, id) in [
        ("accounts", "account", d.account_id),
        ("contacts", "contact", d.contact_id),
        ("opportunities", "opportunity", d.opportunity_id),
    ] {
        if let Some(id) = id {
            if !crate::sales::exists(tx, table, id).await? {
                return Err(AppError::field(field, format!("{id} is not a known {field}")));
            }
        }
    }
    Ok(())
}

/// Timeline entries on each linked record.
async fn note(tx: &mut Tx, d: &ActionDraft, id: i64, kind: &str, actor: i64, data: serde_json::Value) -> Result<()> {
    for (entity, rid) in [
        (Entity::Account, d.account_id),
        (Entity::Contact, d.contact_id),
        (Entity::Opportunity, d.opportunity_id),
    ] {
        if let Some(rid) = rid {
            let mut data = data.clone();
            data["action_id"] = id.into();
            data["subject"] = d.subject.clone().into();
            timeline::add(
                tx,
                NewEntry {
                    entity,
                    record_id: rid,
                    kind,
                    actor_id: Some(actor),
                    title: &d.subject,
                    body: None,
                    data: Some(data),
                },
            )
            .await?;
        }
    }
    Ok(())
}

fn when_cols(w: &When) -> (Option<i64>, Option<i64>, Option<String>) {
    match w {
        When::At { starts_at, duration_min } => (Some(*starts_at), Some(*duration_min), None),
        When::Due(d) => (None, None, Some(d.to_string())),
    }
}

pub async fn create(db: &Db, actor: &User, d: &ActionDraft) -> Result<i64> {
    let mut tx = db.begin().await?;
    check_links(&mut tx, d).await?;
    let (starts, dur, due) = when_cols(&d.when);
    let t = tx.now();
    let id = q("INSERT INTO actions (type_id, subject, notes, account_id, contact_id, opportunity_id, assignee_id, created_by, starts_at, duration_min, \
                due_date, planned_at, remind_min, remind_at, invite, sequence, created_at, updated_at) \
                VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $14, $15, $16, 0, $13, $13) RETURNING id")
        .bind(d.type_id)
        .bind(d.subject.clone())
        .bind(d.notes.clone())
        .bind(d.account_id)
        .bind(d.contact_id)
        .bind(d.opportunity_id)
        .bind(d.assignee_id.or(Some(actor.id)))
        .bind(actor.id)
        .bind(starts)
        .bind(dur)
        .bind(due)
        .bind(d.when.planned_at())
        .bind(t)
        .bind(d.remind.map(|r| r.0))
        .bind(d.remind.map(|r| r.1))
        .bind(d.invite)
        .insert_id(&mut tx)
        .await?;
    note(
        &mut tx,
        d,
        id,
        "action_planned",
        actor.id,
        serde_json::json!({"planned_at": d.when.planned_at()}),
    )
    .await?;
    events::record(
        &mut tx,
        NewEvent::new(EventKind::ActionPlanned, "action", id, Some(actor.id), event_data(d)),
    )
    .await?;
    tx.commit().await?;
    Ok(id)
}

/// What an action's events carry: its type, people, records and time.
fn event_data(d: &ActionDraft) -> serde_json::Value {
    serde_json::json!({
        "type_id": d.type_id, "assignee_id": d.assignee_id, "account_id": d.account_id,
        "contact_id": d.contact_id, "opportunity_id": d.opportunity_id, "planned_at": d.when.planned_at(),
    })
}

pub async fn update(db: &Db, actor: &User, id: i64, d: &ActionDraft) -> Result<()> {
    let mut tx = db.begin().await?;
    check_links(&mut tx, d).await?;
    let occurrence_of: Option<(Option<i64>, Option<i64>)> = q("SELECT recurring_rule_id, account_id FROM actions WHERE id = $1")
        .bind(id)
        .fetch_optional(&mut tx)
        .await?;
    let (starts, dur, due) = when_cols(&d.when);
    // A done action counts in the facts by its type, assignee and account.
    let watch = events::watch(&mut tx, Scope::one("action", id)).await?;
    // SEQUENCE goes up on every change, for calendar clients (RFC 5545).
    let n = q("UPDATE actions SET type_id = $1, subject = $2, notes = $3, account_id = $4, contact_id = $5, opportunity_id = $6, assignee_id = $7, \
               starts_at = $8, duration_min = $9, due_date = $10, planned_at = $11, remind_min = $14, remind_at = $15, invite = $16, \
               sequence = sequence + 1, updated_at = $12 WHERE id = $13")
        .bind(d.type_id)
        .bind(d.subject.clone())
        .bind(d.notes.clone())
        .bind(d.account_id)
        .bind(d.contact_id)
        .bind(d.opportunity_id)
        .bind(d.assignee_id.or(Some(actor.id)))
        .bind(starts)
        .bind(dur)
        .bind(due)
        .bind(d.when.planned_at())
        .bind(tx.now())
        .bind(id)
        .bind(d.remind.map(|r| r.0))
        .bind(d.remind.map(|r| r.1))
        .bind(d.invite)
        .execute(&mut tx)
        .await?;
    if n == 0 {
        return Err(AppError::NotFound);
    }
    watch.settle(&mut tx).await?;
    events::record(
        &mut tx,
        NewEvent::new(EventKind::RecordUpdated, "action", id, Some(actor.id), event_data(d)),
    )
    .await?;
    // A moved occurrence of a recurring rule: the following ones follow it.
    if let Some((Some(_), Some(account))) = occurrence_of {
        super::recurring::queue_account(&mut tx, account).await?;
    }
    tx.commit().await?;
    Ok(())
}

/// Closes an action with an outcome and the time spent. `done` and `no_show` are
/// events the rules react to, recorded in this same transaction.
pub async fn finish(db: &Db, actor: &User, id: i64, outcome: Outcome, spent_min: Option<i64>) -> Result<()> {
    if spent_min.is_some_and(|m| !(0..=carnet_domain::agenda::MAX_DURATION_MIN).contains(&m)) {
        return Err(AppError::field("spent", "must be between 0 minutes and a week"));
    }
    let a = get(db, id).await?;
    if a.outcome.is_some() {
        return Err(AppError::field("outcome", "this action is already closed"));
    }
    let mut tx = db.begin().await?;
    let t = tx.now();
    let watch = events::watch(&mut tx, Scope::one("action", id)).await?;
    let n = q(
        "UPDATE actions SET outcome = $1, done_at = $2, spent_min = $3, remind_at = NULL, sequence = sequence + 1, updated_at = $2 \
               WHERE id = $4 AND outcome IS NULL",
    )
    .bind(outcome.as_str())
    .bind(t)
    .bind(spent_min.or(a.duration_min))
    .bind(id)
    .execute(&mut tx)
    .await?;
    if n == 0 {
        return Err(AppError::field("outcome", "this action is already closed"));
    }
    watch.settle(&mut tx).await?;
    let d = ActionDraft {
        type_id: a.type_id,
        subject: a.subject.clone(),
        notes: None,
        account_id: a.account_id,
        contact_id: a.contact_id,
        opportunity_id: a.opportunity_id,
        assignee_id: a.assignee_id,
        when: When::Due(chrono::NaiveDate::MIN),
        remind: None,
        invite: false,
    };
    note(
        &mut tx,
        &d,
        id,
        "action_done",
        actor.id,
        serde_json::json!({"outcome": outcome.as_str()}),
    )
    .await?;
    let mut data = event_data(&d);
    data["planned_at"] = a.planned_at.into();
    data["outcome"] = outcome.as_str().into();
    let kind = match outcome {
        Outcome::Done => EventKind::ActionDone,
        Outcome::NoShow => EventKind::NoShow,
        // Cancelled or rescheduled: the action changed, nobody met.
        Outcome::Cancelled | Outcome::Rescheduled => EventKind::RecordUpdated,
    };
    events::record(&mut tx, NewEvent::new(kind, "action", id, Some(actor.id), data)).await?;
    // Recurring occurrences follow the work really done, and a closed occurrence.
    if let Some(account) = a.account_id {
        if a.recurring_rule_id.is_some() || outcome == Outcome::Done {
            super::recurring::queue_account(&mut tx, account).await?;
        }
    }
    tx.commit().await?;
    Ok(())
}

pub async fn get(db: &Db, id: i64) -> Result<Action> {
    read(&mut db.conn().await?, id).await
}

/// One action, read on the caller's connection or transaction.
pub async fn read(h: &mut impl crate::db::Handle, id: i64) -> Result<Action> {
    q(format!("SELECT {COLS} FROM actions WHERE id = $1"))
        .bind(id)
        .fetch_optional(h)
        .await?
        .ok_or(AppError::NotFound)
}

pub async fn delete(db: &Db, actor: &User, id: i64) -> Result<()> {
    let mut tx = db.begin().await?;
    let subject: String = q("SELECT subject FROM actions WHERE id = $1")
        .bind(id)
        .scalar_opt(&mut tx)
        .await?
        .ok_or(AppError::NotFound)?;
    events::record(
        &mut tx,
        NewEvent::new(
            EventKind::RecordDeleted,
            "action",
            id,
            Some(actor.id),
            serde_json::json!({ "name": subject }),
        ),
    )
    .await?;
    events::watch(&mut tx, Scope::one("action", id)).await?.settle_gone(&mut tx).await?;
    q("DELETE FROM actions WHERE id = $1").bind(id).execute(&mut tx).await?;
    tx.commit().await?;
    Ok(())
}

/// Actions of an assignee planned in [from, to), or linked to a record.
pub struct ActionFilter {
    pub assignee: Option<i64>,
    pub from: Option<i64>,
    pub to: Option<i64>,
    pub record: Option<(Entity, i64)>,
    pub open_only: bool,
    /// Keyset paging: only actions after this (planned_at, id).
    pub after: Option<(i64, i64)>,
    pub limit: i64,
}

pub async fn list(db: &Db, f: &ActionFilter) -> Result<Vec<Action>> {
    let mut query = q(format!("SELECT {COLS} FROM actions WHERE 1 = 1"));
    if let Some(a) = f.assignee {
        query.push(" AND assignee_id = ").push_bind(a);
    }
    if let Some(t) = f.from {
        query.push(" AND planned_at >= ").push_bind(t);
    }
    if let Some(t) = f.to {
        query.push(" AND planned_at < ").push_bind(t);
    }
    if let Some((e, id)) = f.record {
        let col = match e {
            Entity::Account => "account_id",
            Entity::Contact => "contact_id",
            Entity::Opportunity => "opportunity_id",
        };
        query.push(&format!(" AND {col} = ")).push_bind(id);
    }
    if f.open_only {
        query.push(" AND outcome IS NULL");
    }
    if let Some((at, id)) = f.after {
        query
            .push(" AND (planned_at > ")
            .push_bind(at)
            .push(" OR (planned_at = ")
            .push_bind(at)
            .push(" AND id > ")
            .push_bind(id)
            .push("))");
    }
    query.push(" ORDER BY planned_at, id LIMIT ").push_bind(f.limit.clamp(1, 1000));
    Ok(query.fetch_all(&mut db.conn().await?).await?)
}

/// What a diary shows of an action: when, what, and the record it is for
/// (its opportunity's name, else its account's), read in one query. The
/// fields are in the order of [`ENTRY_COLUMNS`].
#[derive(Debug, Clone, serde::Deserialize)]
pub struct Entry {
    pub id: i64,
    pub type_id: i64,
    pub subject: String,
    pub assignee_id: Option<i64>,
    pub starts_at: Option<i64>,
    pub duration_min: Option<i64>,
    pub due_date: Option<String>,
    pub outcome: Option<String>,
    pub account_id: Option<i64>,
    pub opportunity_id: Option<i64>,
    pub record_name: Option<String>,
}

/// An entry's columns, the linked record's name by scalar subqueries that stop
/// at the first found (a join would look the account up for every action of an
/// opportunity too).
const ENTRY_COLUMNS: &str = "a.id, a.type_id, a.subject, a.assignee_id, a.starts_at, a.duration_min, a.due_date, a.outcome, \
     a.account_id, a.opportunity_id, COALESCE((SELECT o.name FROM opportunities o WHERE o.id = a.opportunity_id), \
     (SELECT ac.name FROM accounts ac WHERE ac.id = a.account_id))";

/// The entries of the actions `a` that `filter` selects (SQL after WHERE, its
/// parameters bound), sorted by `order`, at most `limit`. The database returns
/// them as one JSON array: one value through the driver instead of one row per
/// entry, which on SQLite cost more than reading the rows (a busy week of ten
/// diaries: ~40 ms by rows, ~13 ms as one array; see bench/RESULTS.md).
async fn entries(db: &Db, filter: crate::db::Q, order: &[&str], limit: i64) -> Result<Vec<Entry>> {
    let d = db.dialect();
    let keys: String = order.iter().enumerate().map(|(i, e)| format!(", {e} AS k{i}")).collect();
    let by_keys: Vec<String> = (0..order.len()).map(|i| format!("k{i}")).collect();
    let query = crate::db::Q {
        sql: format!(
            "SELECT {} FROM (SELECT {} AS j{keys} FROM actions a WHERE {} ORDER BY {} LIMIT {limit}) x",
            dialect::json_array_agg(d, "j", &by_keys.join(", ")),
            dialect::json_array(d, ENTRY_COLUMNS),
            filter.sql,
            order.join(", ")
        ),
        args: filter.args,
    };
    let text: String = query.scalar(&mut db.conn().await?).await?;
    // Each entry is an array of ENTRY_COLUMNS, read into the struct's fields in order.
    serde_json::from_str(&text).map_err(AppError::internal)
}

/// The actions of several diaries planned in [from, to), in one query, by
/// diary then time (at most `limit` in all).
pub async fn diaries(db: &Db, users: &[i64], from: i64, to: i64, limit: i64) -> Result<Vec<Entry>> {
    if users.is_empty() {
        return Ok(vec![]);
    }
    let mut filter = q("a.planned_at >= ");
    filter
        .push_bind(from)
        .push(" AND a.planned_at < ")
        .push_bind(to)
        .push(" AND a.assignee_id IN ");
    push_in_list(&mut filter, users);
    entries(db, filter, &["a.assignee_id", "a.planned_at", "a.id"], limit).await
}

/// A user's open actions planned before `before`, oldest first.
pub async fn overdue(db: &Db, user_id: i64, before: i64, limit: i64) -> Result<Vec<Entry>> {
    let mut filter = q("a.assignee_id = ");
    filter
        .push_bind(user_id)
        .push(" AND a.outcome IS NULL AND a.planned_at < ")
        .push_bind(before);
    entries(db, filter, &["a.planned_at", "a.id"], limit).await
}

/// The action as raw input in a zone: what an edit form shows, and what a
/// change (PATCH, drag and drop) overlays.
pub fn to_raw(a: &Action, tz: chrono_tz::Tz) -> carnet_domain::records::RawInput {
    let mut r = carnet_domain::records::RawInput::default();
    let opt = |v: Option<i64>| v.map(|x| x.to_string()).unwrap_or_default();
    r.set("type", a.type_id.to_string());
    r.set("subject", a.subject.clone());
    r.set("notes", a.notes.clone().unwrap_or_default());
    r.set("account", opt(a.account_id));
    r.set("contact", opt(a.contact_id));
    r.set("opportunity", opt(a.opportunity_id));
    r.set("assignee", opt(a.assignee_id));
    r.set("remind", opt(a.remind_min));
    r.set("invite", if a.invite { "true" } else { "" });
    match (a.starts_at, &a.due_date) {
        (Some(t), _) => {
            let local = chrono::DateTime::from_timestamp(t, 0).unwrap_or_default().with_timezone(&tz);
            r.set("starts_at", local.format("%Y-%m-%dT%H:%M").to_string());
            r.set("duration", opt(a.duration_min));
        }
        (None, Some(d)) => r.set("due_date", d.clone()),
        _ => {}
    }
    r
}

/// The reminders due for a user: open actions whose reminder time has come.
pub async fn due_reminders(db: &Db, user_id: i64, at: i64) -> Result<Vec<Action>> {
    Ok(q(format!(
        "SELECT {COLS} FROM actions a WHERE {DUE_REMINDERS} ORDER BY a.remind_at, a.id LIMIT 50"
    ))
    .bind(user_id)
    .bind(at)
    .fetch_all(&mut db.conn().await?)
    .await?)
}

/// The same, as diary entries (the reminders page).
pub async fn due_reminder_entries(db: &Db, user_id: i64, at: i64) -> Result<Vec<Entry>> {
    entries(db, q(DUE_REMINDERS).bind(user_id).bind(at), &["a.remind_at", "a.id"], 50).await
}

const DUE_REMINDERS: &str = "a.assignee_id = $1 AND a.remind_at IS NOT NULL AND a.remind_at <= $2 AND a.outcome IS NULL";

/// Marks a reminder seen (it is not shown again; the action stays).
pub async fn dismiss_reminder(db: &Db, user_id: i64, id: i64) -> Result<()> {
    let mut tx = db.begin().await?;
    let n = q("UPDATE actions SET remind_at = NULL WHERE id = $1 AND assignee_id = $2")
        .bind(id)
        .bind(user_id)
        .execute(&mut tx)
        .await?;
    if n == 0 {
        return Err(AppError::NotFound);
    }
    tx.commit().await?;
    Ok(())
}

/// The next planned action of each opportunity (the earliest open one).
pub async fn next_for_opportunities(db: &Db, ids: &[i64]) -> Result<Vec<Action>> {
    if ids.is_empty() {
        return Ok(vec![]);
    }
    let mut query = q(format!(
        "SELECT {COLS} FROM actions a WHERE a.outcome IS NULL AND a.opportunity_id IN "
    ));
    push_in_list(&mut query, ids);
    query.push(" AND a.id = (SELECT b.id FROM actions b WHERE b.opportunity_id = a.opportunity_id AND b.outcome IS NULL ORDER BY b.planned_at, b.id LIMIT 1)");
    Ok(query.fetch_all(&mut db.conn().await?).await?)
}
