//! Recurring actions (A6): "for every account in segment S (a tag, or a saved
//! view of accounts), plan an action of type X every N months, assigned to the
//! account's owner" — visit Gold customers every four months.
//!
//! Occurrences are ordinary actions that carry their rule and the instant the
//! rule gave them (`rule_planned_at`), so a moved occurrence is told apart from
//! an untouched one. [`sync_one`] reconciles one (rule, account) pair with what
//! it should be, and is idempotent, so it can run as often as needed:
//!
//! - outside the segment (or rule inactive): its open occurrences go;
//! - the chain starts from the last time the work was really done (any done
//!   action of the type on the account) or the last closed occurrence, plus N
//!   months — so an occurrence done early, or a visit planned by hand, moves the
//!   following ones; a moved occurrence keeps its time and the next ones follow it;
//! - occurrences are created up to the horizon, on working days, owned by the
//!   account's current owner; appointments block the diary at the rule's time of
//!   day in the owner's zone.
//!
//! It runs through the job queue: when a rule is saved, when an account's tags or
//! owner change, when an action of the account is done or an occurrence moved,
//! and once a day for every rule (the horizon rolls forward).

use crate::db::{push_in_list, q, Db, Tx};
use crate::error::{AppError, Result};
use crate::platform::events::{Event, EventKind};
use crate::platform::jobs::{self, When};
use crate::platform::registry::{BoxFut, Delivery, JobKind, Mode, Registry, Subscriber};
use crate::records::{accounts, lists};
use crate::Carnet;
use carnet_domain::fields::Entity;
use chrono::{DateTime, Datelike, Months, NaiveDate, TimeZone, Weekday};
use chrono_tz::Tz;
use serde::Deserialize;
use serde::Serialize;

#[derive(Debug, Clone, Serialize, sqlx::FromRow, schemars::JsonSchema)]
pub struct RecurringRule {
    pub id: i64,
    pub name: String,
    pub type_id: i64,
    pub segment_tag_id: Option<i64>,
    pub view_id: Option<i64>,
    pub every_months: i64,
    pub horizon_months: i64,
    pub start_min: i64,
    pub duration_min: i64,
    pub active: bool,
    pub created_at: i64,
}

const COLS: &str = "id, name, type_id, segment_tag_id, view_id, every_months, horizon_months, start_min, duration_min, active, created_at";

pub use carnet_domain::agenda::RecurringDraft;

/// Checks what a parsed draft refers to (it may have gone since).
async fn check(tx: &mut Tx, r: &RecurringDraft) -> Result<()> {
    if !crate::sales::exists(tx, "action_types", r.type_id).await? {
        return Err(AppError::field("type", "is not a known action type"));
    }
    if let Some(t) = r.segment_tag_id {
        if !crate::sales::exists(tx, "tags", t).await? {
            return Err(AppError::field("segment", "is not a known tag"));
        }
    }
    if let Some(v) = r.view_id {
        let entity: Option<String> = q("SELECT entity FROM saved_views WHERE id = $1").bind(v).scalar_opt(tx).await?;
        if entity.as_deref() != Some(Entity::Account.as_str()) {
            return Err(AppError::field("view", "is not a saved view of accounts"));
        }
    }
    Ok(())
}

async fn queue_rule(tx: &mut Tx, id: i64) -> Result<()> {
    jobs::enqueue::<PlanRule>(tx, &RulePayload { rule_id: id }, When::Now, None).await
}

/// Queues the re-planning of an account's occurrences, in the caller's
/// transaction (when there are rules at all).
pub async fn queue_account(tx: &mut Tx, account_id: i64) -> Result<()> {
    let rules: i64 = q("SELECT COUNT(*) FROM recurring_rules").scalar(tx).await?;
    if rules == 0 {
        return Ok(());
    }
    jobs::enqueue::<PlanAccount>(tx, &AccountPayload { account_id }, When::Now, None).await
}

/// Re-plans every account of a rule (when it is saved, and daily).
pub struct PlanRule;

#[derive(Debug, Serialize, Deserialize)]
pub struct RulePayload {
    pub rule_id: i64,
}

impl JobKind for PlanRule {
    const NAME: &'static str = "recurring_rule";
    const MODE: Mode = Mode::Alone;
    type Payload = RulePayload;

    fn run_alone(c: &Carnet, p: RulePayload) -> BoxFut<'_, Result<()>> {
        Box::pin(sync_rule(c, p.rule_id))
    }
}

/// Re-plans one account under every rule.
pub struct PlanAccount;

#[derive(Debug, Serialize, Deserialize)]
pub struct AccountPayload {
    pub account_id: i64,
}

impl JobKind for PlanAccount {
    const NAME: &'static str = "recurring_account";
    const MODE: Mode = Mode::Alone;
    type Payload = AccountPayload;

    fn run_alone(c: &Carnet, p: AccountPayload) -> BoxFut<'_, Result<()>> {
        Box::pin(sync_account(c, p.account_id))
    }
}

/// An account created or changed (tags, owner, any field a saved view may
/// select on): its occurrences follow.
fn on_account<'a>(tx: &'a mut Tx, e: &'a Event) -> BoxFut<'a, Result<()>> {
    Box::pin(async move {
        if e.entity == "account" {
            queue_account(tx, e.record_id).await?;
        }
        Ok(())
    })
}

/// The daily job's part: every rule re-planned (the horizon rolls forward).
fn daily<'a>(tx: &'a mut Tx, day: NaiveDate) -> BoxFut<'a, Result<()>> {
    Box::pin(async move {
        let rules: Vec<(i64,)> = q("SELECT id FROM recurring_rules ORDER BY id").fetch_all(&mut *tx).await?;
        for (id,) in rules {
            jobs::enqueue::<PlanRule>(tx, &RulePayload { rule_id: id }, When::Now, Some(format!("recurring:{id}:{day}"))).await?;
        }
        Ok(())
    })
}

pub fn register(r: Registry) -> Registry {
    r.job::<PlanRule>()
        .job::<PlanAccount>()
        .subscribe(Subscriber {
            name: "recurring actions follow their account",
            kinds: &[EventKind::RecordCreated, EventKind::RecordUpdated],
            delivery: Delivery::InWriterTx,
            run: on_account,
        })
        .daily(daily)
}

pub async fn create(db: &Db, r: &RecurringDraft) -> Result<i64> {
    let mut tx = db.begin().await?;
    check(&mut tx, r).await?;
    let id = q(format!(
        "INSERT INTO recurring_rules ({}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id",
        &COLS[4..]
    ))
    .bind(r.name.clone())
    .bind(r.type_id)
    .bind(r.segment_tag_id)
    .bind(r.view_id)
    .bind(r.every_months)
    .bind(r.horizon_months)
    .bind(r.start_min)
    .bind(r.duration_min)
    .bind(r.active)
    .bind(tx.now())
    .insert_id(&mut tx)
    .await?;
    queue_rule(&mut tx, id).await?;
    tx.commit().await?;
    Ok(id)
}

pub async fn update(db: &Db, id: i64, r: &RecurringDraft) -> Result<()> {
    let mut tx = db.begin().await?;
    check(&mut tx, r).await?;
    let n = q(
        "UPDATE recurring_rules SET name = $1, type_id = $2, segment_tag_id = $3, view_id = $4, every_months = $5, horizon_months = $6, \
               start_min = $7, duration_min = $8, active = $9 WHERE id = $10",
    )
    .bind(r.name.clone())
    .bind(r.type_id)
    .bind(r.segment_tag_id)
    .bind(r.view_id)
    .bind(r.every_months)
    .bind(r.horizon_months)
    .bind(r.start_min)
    .bind(r.duration_min)
    .bind(r.active)
    .bind(id)
    .execute(&mut tx)
    .await?;
    if n == 0 {
        return Err(AppError::NotFound);
    }
    // A changed type or time: open occurrences are planned again from scratch
    // (moved ones keep their time).
    q("UPDATE actions SET type_id = $1, subject = $2 WHERE recurring_rule_id = $3 AND outcome IS NULL")
        .bind(r.type_id)
        .bind(r.name.trim())
        .bind(id)
        .execute(&mut tx)
        .await?;
    queue_rule(&mut tx, id).await?;
    tx.commit().await?;
    Ok(())
}

/// A rule as raw input: what an edit form shows, and what a PATCH overlays.
pub fn to_raw(r: &RecurringRule) -> carnet_domain::records::RawInput {
    let mut raw = carnet_domain::records::RawInput::default();
    raw.set("name", r.name.clone());
    raw.set("type", r.type_id.to_string());
    if let Some(t) = r.segment_tag_id {
        raw.set("segment", t.to_string());
    }
    if let Some(v) = r.view_id {
        raw.set("view", v.to_string());
    }
    raw.set("every_months", r.every_months.to_string());
    raw.set("horizon_months", r.horizon_months.to_string());
    raw.set("start_time", format!("{:02}:{:02}", r.start_min / 60, r.start_min % 60));
    raw.set("duration", r.duration_min.to_string());
    raw.set("active", r.active.to_string());
    raw
}

pub async fn list(db: &Db) -> Result<Vec<RecurringRule>> {
    Ok(q(format!("SELECT {COLS} FROM recurring_rules ORDER BY id"))
        .fetch_all(&mut db.conn().await?)
        .await?)
}

pub async fn get(db: &Db, id: i64) -> Result<RecurringRule> {
    q(format!("SELECT {COLS} FROM recurring_rules WHERE id = $1"))
        .bind(id)
        .fetch_optional(&mut db.conn().await?)
        .await?
        .ok_or(AppError::NotFound)
}

/// Deletes a rule and its open occurrences; done ones stay, as history.
pub async fn delete(db: &Db, id: i64) -> Result<()> {
    let mut tx = db.begin().await?;
    q("DELETE FROM actions WHERE recurring_rule_id = $1 AND outcome IS NULL")
        .bind(id)
        .execute(&mut tx)
        .await?;
    if q("DELETE FROM recurring_rules WHERE id = $1").bind(id).execute(&mut tx).await? == 0 {
        return Err(AppError::NotFound);
    }
    tx.commit().await?;
    Ok(())
}

/// The accounts of a rule's segment (all of them, or only among `only`).
async fn members(c: &Carnet, rule: &RecurringRule, only: Option<&[i64]>) -> Result<Vec<i64>> {
    let db = &c.db;
    if let Some(tag) = rule.segment_tag_id {
        let mut query = q("SELECT record_id FROM record_tags WHERE entity = 'account' AND tag_id = ");
        query.push_bind(tag);
        if let Some(ids) = only {
            query.push(" AND record_id IN ");
            push_in_list(&mut query, ids);
        }
        let rows: Vec<(i64,)> = query.fetch_all(&mut db.conn().await?).await?;
        return Ok(rows.into_iter().map(|(id,)| id).collect());
    }
    let Some(view) = rule.view_id else { return Ok(vec![]) };
    let saved: Option<(String, String)> = q(
        "SELECT v.query, COALESCE(u.time_zone, 'Europe/Paris') FROM saved_views v LEFT JOIN users u ON u.id = v.user_id WHERE v.id = $1",
    )
    .bind(view)
    .fetch_optional(&mut db.conn().await?)
    .await?;
    let Some((query, tz)) = saved else { return Ok(vec![]) };
    let cat = crate::settings::catalog(db).await?;
    let mut lq = lists::parse_query_string(Entity::Account, &query, &cat, &tz)?.with_limit(lists::MAX_LIMIT);
    if let Some(ids) = only {
        lq = lq.only_ids(ids.to_vec());
    }
    let mut out = Vec::new();
    loop {
        let page: lists::Page<accounts::Account> = lists::run(db, &lq, accounts::COLS).await?;
        out.extend(page.rows.iter().map(|a| a.id));
        match page.next {
            Some(next) => lq = lq.with_after(&next).map_err(AppError::internal)?,
            None => return Ok(out),
        }
    }
}

/// Re-plans every account a rule concerns: its segment's, and those that still
/// have open occurrences (they may have left the segment).
pub async fn sync_rule(c: &Carnet, rule_id: i64) -> Result<()> {
    let rule = match get(&c.db, rule_id).await {
        Ok(r) => r,
        Err(AppError::NotFound) => return Ok(()),
        Err(e) => return Err(e),
    };
    let accounts: Vec<i64> = if rule.active { members(c, &rule, None).await? } else { vec![] };
    let planned: Vec<(i64,)> =
        q("SELECT DISTINCT account_id FROM actions WHERE recurring_rule_id = $1 AND outcome IS NULL AND account_id IS NOT NULL")
            .bind(rule.id)
            .fetch_all(&mut c.db.conn().await?)
            .await?;
    let inside: std::collections::HashSet<i64> = accounts.iter().copied().collect();
    let leaving: Vec<i64> = planned.into_iter().map(|(a,)| a).filter(|a| !inside.contains(a)).collect();
    let today = c.db.clock().today_utc();
    for chunk in accounts.chunks(500) {
        sync_accounts(c, &rule, chunk, true, today).await?;
    }
    for chunk in leaving.chunks(500) {
        sync_accounts(c, &rule, chunk, false, today).await?;
    }
    Ok(())
}

/// Re-plans one account under every rule.
pub async fn sync_account(c: &Carnet, account_id: i64) -> Result<()> {
    let today = c.db.clock().today_utc();
    for rule in list(&c.db).await? {
        let member = rule.active && !members(c, &rule, Some(&[account_id])).await?.is_empty();
        sync_accounts(c, &rule, &[account_id], member, today).await?;
    }
    Ok(())
}

/// Re-plans every rule (the daily job).
pub async fn sync_all(c: &Carnet) -> Result<()> {
    for rule in list(&c.db).await? {
        sync_rule(c, rule.id).await?;
    }
    Ok(())
}

async fn sync_accounts(c: &Carnet, rule: &RecurringRule, ids: &[i64], member: bool, today: NaiveDate) -> Result<()> {
    let mut tx = c.db.begin().await?;
    // Syncs of one rule wait for each other (a row lock on PostgreSQL, the single
    // writer on SQLite): two workers never plan the same occurrence twice.
    if q("UPDATE recurring_rules SET active = active WHERE id = $1")
        .bind(rule.id)
        .execute(&mut tx)
        .await?
        == 0
    {
        return Ok(());
    }
    let kind: Option<String> = q("SELECT kind FROM action_types WHERE id = $1")
        .bind(rule.type_id)
        .scalar_opt(&mut tx)
        .await?;
    let appointment = kind.as_deref() == Some("appointment");
    let mut query = q("SELECT a.id, a.owner_id, u.time_zone FROM accounts a LEFT JOIN users u ON u.id = a.owner_id WHERE a.id IN ");
    push_in_list(&mut query, ids);
    let owners: Vec<(i64, Option<i64>, Option<String>)> = query.fetch_all(&mut tx).await?;
    // Appointments go to free times of their owner's diary, read once per owner.
    let mut diaries: std::collections::HashMap<i64, Diary> = std::collections::HashMap::new();
    if appointment && member && rule.active {
        let horizon = plus_months(today, rule.horizon_months);
        for owner in owners.iter().filter_map(|o| o.1) {
            if let std::collections::hash_map::Entry::Vacant(e) = diaries.entry(owner) {
                e.insert(Diary::load(&mut tx, owner, today, horizon).await?);
            }
        }
    }
    for id in ids {
        let found = owners.iter().find(|o| o.0 == *id);
        let target = match found {
            Some((_, owner, tz)) if member && rule.active => {
                let tz = tz
                    .as_deref()
                    .and_then(|z| carnet_domain::i18n::parse_time_zone(z).ok())
                    .unwrap_or(chrono_tz::Europe::Paris);
                Some(Target {
                    owner: *owner,
                    tz,
                    appointment,
                })
            }
            _ => None,
        };
        let diary = found.and_then(|o| o.1).and_then(|owner| diaries.get_mut(&owner));
        sync_one(&mut tx, rule, *id, target, diary, today).await?;
    }
    tx.commit().await?;
    Ok(())
}

/// Where an account's occurrences should go: its owner, in the owner's zone.
struct Target {
    owner: Option<i64>,
    tz: Tz,
    appointment: bool,
}

/// The next working day on or after `d`.
fn working_day(mut d: NaiveDate) -> NaiveDate {
    while matches!(d.weekday(), Weekday::Sat | Weekday::Sun) {
        d = d.succ_opt().unwrap_or(d);
    }
    d
}

/// One occurrence's place on a day: (planned_at, starts_at, due_date).
fn slot(rule: &RecurringRule, t: &Target, day: NaiveDate) -> (i64, Option<i64>, Option<String>) {
    let day = working_day(day);
    if t.appointment {
        let local = day.and_hms_opt(0, 0, 0).unwrap() + chrono::Duration::minutes(rule.start_min);
        let start =
            t.tz.from_local_datetime(&local)
                .earliest()
                // Inside a spring-forward gap: an hour later.
                .or_else(|| t.tz.from_local_datetime(&(local + chrono::Duration::hours(1))).earliest())
                .map(|d| d.timestamp())
                .unwrap_or_else(|| local.and_utc().timestamp());
        (start, Some(start), None)
    } else {
        (day.and_hms_opt(0, 0, 0).unwrap().and_utc().timestamp(), None, Some(day.to_string()))
    }
}

/// An owner's diary while occurrences are placed: working hours and the
/// appointments (start, end, id) from yesterday to past the horizon, by start.
struct Diary {
    hours: Vec<carnet_domain::slots::WorkInterval>,
    busy: Vec<(i64, i64, i64)>,
}

impl Diary {
    async fn load(tx: &mut Tx, owner: i64, today: NaiveDate, horizon: NaiveDate) -> Result<Diary> {
        let midnight = |d: NaiveDate| d.and_hms_opt(0, 0, 0).unwrap().and_utc().timestamp();
        let (from, to) = (
            midnight(today - chrono::Duration::days(1)),
            midnight(horizon + chrono::Duration::days(2 * SLIP_DAYS as i64 + 2)),
        );
        let mut busy: Vec<(i64, i64, i64)> = super::booking::appointments(tx, owner, from, to)
            .await?
            .into_iter()
            .map(|(id, s, e)| (s, e, id))
            .collect();
        busy.sort_unstable();
        Ok(Diary {
            hours: super::booking::hours(tx, owner).await?,
            busy,
        })
    }

    /// The busy intervals overlapping [from, to), but for the appointment `except`.
    fn around(&self, from: i64, to: i64, except: Option<i64>) -> Vec<(i64, i64)> {
        let lo = self
            .busy
            .partition_point(|b| b.0 < from - carnet_domain::agenda::MAX_DURATION_MIN * 60);
        let hi = self.busy.partition_point(|b| b.0 < to);
        self.busy[lo..hi]
            .iter()
            .filter(|b| b.1 > from && Some(b.2) != except)
            .map(|b| (b.0, b.1))
            .collect()
    }

    /// Records an appointment's new place (`id` 0 for one being created).
    fn book(&mut self, id: i64, start: i64, end: i64) {
        if id != 0 {
            self.busy.retain(|b| b.2 != id);
        }
        let at = self.busy.partition_point(|b| b.0 < start);
        self.busy.insert(at, (start, end, id));
    }
}

/// How many working days after its day an appointment may slip when its day is full.
const SLIP_DAYS: usize = 5;

/// An occurrence's place on a day (see [`slot`]); an appointment (the diary is
/// only read for appointment rules) goes to a free time of the owner's diary: the rule's time when free, else where it already
/// is (`current`: id and start) when still free, else the first free time that
/// day — or on one of the next working days when that day is full. When no day
/// has room, the rule's time on its day.
fn place(
    rule: &RecurringRule,
    t: &Target,
    diary: Option<&mut Diary>,
    day: NaiveDate,
    current: Option<(i64, i64)>,
) -> (i64, Option<i64>, Option<String>) {
    let Some(diary) = diary else {
        return slot(rule, t, day);
    };
    let mut d = working_day(day);
    for _ in 0..=SLIP_DAYS {
        // A local day lies within a UTC day and its neighbours.
        let midnight = d.and_hms_opt(0, 0, 0).unwrap().and_utc().timestamp();
        let busy = diary.around(midnight - 86_400, midnight + 2 * 86_400, current.map(|c| c.0));
        let at = carnet_domain::slots::place_on_day(
            t.tz,
            &diary.hours,
            &busy,
            d,
            rule.start_min as u32,
            rule.duration_min,
            current.map(|c| c.1),
        );
        if let Some(at) = at {
            diary.book(current.map_or(0, |c| c.0), at, at + rule.duration_min * 60);
            return (at, Some(at), None);
        }
        d = working_day(d.succ_opt().unwrap_or(d));
    }
    slot(rule, t, day)
}

fn day_of(t: &Target, ts: i64, appointment: bool) -> NaiveDate {
    let utc = DateTime::from_timestamp(ts, 0).unwrap_or_default();
    if appointment {
        utc.with_timezone(&t.tz).date_naive()
    } else {
        utc.date_naive()
    }
}

fn plus_months(d: NaiveDate, n: i64) -> NaiveDate {
    d.checked_add_months(Months::new(n as u32)).unwrap_or(d)
}

type Occurrence = (i64, i64, Option<i64>, Option<i64>, i64);

async fn sync_one(
    tx: &mut Tx,
    rule: &RecurringRule,
    account: i64,
    target: Option<Target>,
    mut diary: Option<&mut Diary>,
    today: NaiveDate,
) -> Result<()> {
    let Some(t) = target else {
        q("DELETE FROM actions WHERE recurring_rule_id = $1 AND account_id = $2 AND outcome IS NULL")
            .bind(rule.id)
            .bind(account)
            .execute(tx)
            .await?;
        return Ok(());
    };
    let open: Vec<Occurrence> = q("SELECT id, planned_at, rule_planned_at, assignee_id, created_at FROM actions \
         WHERE recurring_rule_id = $1 AND account_id = $2 AND outcome IS NULL ORDER BY planned_at, id")
    .bind(rule.id)
    .bind(account)
    .fetch_all(tx)
    .await?;
    // The work last done: a done action of the type (an occurrence or not); or
    // the last occurrence closed otherwise (cancelled, no-show: not replanned at once).
    let last_done: Option<i64> =
        q("SELECT MAX(COALESCE(done_at, planned_at)) FROM actions WHERE account_id = $1 AND type_id = $2 AND outcome = 'done'")
            .bind(account)
            .bind(rule.type_id)
            .scalar_opt::<Option<i64>>(tx)
            .await?
            .flatten();
    let last_closed: Option<i64> =
        q("SELECT MAX(planned_at) FROM actions WHERE recurring_rule_id = $1 AND account_id = $2 AND outcome IS NOT NULL AND outcome <> 'done'")
            .bind(rule.id)
            .bind(account)
            .scalar_opt::<Option<i64>>(tx)
            .await?
            .flatten();
    let anchor = [
        last_done.map(|ts| day_of(&t, ts, true)),
        last_closed.map(|ts| day_of(&t, ts, t.appointment)),
    ]
    .into_iter()
    .flatten()
    .max();
    let mut expected: Option<NaiveDate> = anchor.map(|d| plus_months(d, rule.every_months));
    let horizon = plus_months(today, rule.horizon_months);
    let stamp = tx.now();
    for (id, planned_at, rule_planned_at, assignee, created_at) in open {
        let moved = rule_planned_at != Some(planned_at);
        let created = day_of(&t, created_at, true);
        let day = if moved {
            day_of(&t, planned_at, t.appointment)
        } else {
            // Never earlier than the day the occurrence was planned.
            expected
                .map(|e| e.max(created))
                .unwrap_or_else(|| day_of(&t, planned_at, t.appointment))
        };
        if !moved && working_day(day) > horizon {
            q("DELETE FROM actions WHERE id = $1").bind(id).execute(tx).await?;
            continue;
        }
        let (p, starts, due) = if moved {
            (planned_at, None, None)
        } else {
            place(rule, &t, diary.as_deref_mut(), day, Some((id, planned_at)))
        };
        if !moved && p != planned_at {
            q(
                "UPDATE actions SET planned_at = $1, rule_planned_at = $1, starts_at = $2, duration_min = $3, due_date = $4, \
               sequence = sequence + 1, updated_at = $5 WHERE id = $6",
            )
            .bind(p)
            .bind(starts)
            .bind(starts.map(|_| rule.duration_min))
            .bind(due)
            .bind(stamp)
            .bind(id)
            .execute(tx)
            .await?;
        }
        if assignee != t.owner {
            q("UPDATE actions SET assignee_id = $1, sequence = sequence + 1, updated_at = $2 WHERE id = $3")
                .bind(t.owner)
                .bind(stamp)
                .bind(id)
                .execute(tx)
                .await?;
        }
        expected = Some(plus_months(working_day(day), rule.every_months));
    }
    let mut next = expected.map(|e| e.max(today)).unwrap_or(today);
    while working_day(next) <= horizon {
        let (p, starts, due) = place(rule, &t, diary.as_deref_mut(), next, None);
        q("INSERT INTO actions (type_id, subject, account_id, assignee_id, starts_at, duration_min, due_date, planned_at, rule_planned_at, \
           recurring_rule_id, sequence, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8, $9, 0, $10, $10)")
        .bind(rule.type_id)
        .bind(rule.name.clone())
        .bind(account)
        .bind(t.owner)
        .bind(starts)
        .bind(starts.map(|_| rule.duration_min))
        .bind(due)
        .bind(p)
        .bind(rule.id)
        .bind(stamp)
        .execute(tx)
        .await?;
        next = plus_months(working_day(next), rule.every_months);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn occurrences_land_on_working_days() {
        let sat = NaiveDate::from_ymd_opt(2026, 8, 1).unwrap();
        assert_eq!(working_day(sat), NaiveDate::from_ymd_opt(2026, 8, 3).unwrap());
        let mon = NaiveDate::from_ymd_opt(2026, 8, 3).unwrap();
        assert_eq!(working_day(mon), mon);
    }

    #[test]
    fn months_clamp_to_the_end_of_shorter_months() {
        let d = NaiveDate::from_ymd_opt(2026, 10, 31).unwrap();
        assert_eq!(plus_months(d, 4), NaiveDate::from_ymd_opt(2027, 2, 28).unwrap());
    }
}
