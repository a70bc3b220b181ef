//! Lead scoring (M7): rules award points on events (a person's email open or
//! click, a form sent, a file downloaded, a questionnaire band, a page of the
//! company's website seen — once per visit — or a return visit), each award
//! kept in a ledger with its expiry; the contact's score is the sum of the
//! awards that have not expired. Crossing a threshold hands the lead to a rep
//! once — round robin among the threshold's reps when nobody owns it — with a
//! call task due today (its reminder rings at once), the account's status set,
//! and an email to the rep.
//!
//! Awards run as a queued event subscriber, in the queue's transaction: an
//! event delivered twice awards once (`UNIQUE (event_id, rule_id)`), and a
//! contact crosses a threshold once whatever the number of events or workers
//! (`threshold_crossings`' key). Expiries are taken off by the daily job; a
//! changed rule re-scores everyone through the `scoring.rescore` job.

use crate::db::{q, Db, Handle, Tx};
use crate::error::{AppError, Result};
use crate::platform::events::{self, Event, EventKind, NewEvent};
use crate::platform::jobs::{self, When};
use crate::platform::registry::{BoxFut, JobKind, Mode};
use crate::records::timeline::{self, NewEntry};
use carnet_domain::fields::Entity;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// What a rule reacts to.
pub const TRIGGERS: &[&str] = &[
    "email_open",
    "email_click",
    "form_submitted",
    "file_downloaded",
    "questionnaire_band",
    "page_visit",
    "return_visit",
];

/// The event kinds scoring listens to.
pub const EVENTS: &[EventKind] = &[
    EventKind::EmailOpened,
    EventKind::EmailClicked,
    EventKind::FormSubmitted,
    EventKind::FileDownloaded,
    EventKind::PageVisited,
    EventKind::ReturnVisit,
];

fn triggers_of(kind: EventKind) -> &'static [&'static str] {
    match kind {
        EventKind::EmailOpened => &["email_open"],
        EventKind::EmailClicked => &["email_click"],
        EventKind::FormSubmitted => &["form_submitted", "questionnaire_band"],
        EventKind::FileDownloaded => &["file_downloaded"],
        EventKind::PageVisited => &["page_visit"],
        EventKind::ReturnVisit => &["return_visit"],
        _ => &[],
    }
}

fn kinds_of(trigger: &str) -> &'static [&'static str] {
    match trigger {
        "email_open" => &["email_opened"],
        "email_click" => &["email_clicked"],
        "form_submitted" | "questionnaire_band" => &["form_submitted"],
        "file_downloaded" => &["file_downloaded"],
        "page_visit" => &["page_visited"],
        "return_visit" => &["return_visit"],
        _ => &[],
    }
}

#[derive(Debug, Clone, Serialize, JsonSchema, sqlx::FromRow)]
#[schemars(rename = "ScoringRule")]
pub struct Rule {
    pub id: i64,
    pub name: String,
    /// `email_open`, `email_click`, `form_submitted`, `file_downloaded`,
    /// `questionnaire_band`, `page_visit` or `return_visit`.
    pub trigger_kind: String,
    /// A form's id (forms, downloads), a band's label (questionnaires) or an
    /// address pattern (pages: `/pricing`, `/services/*`); none: any.
    pub target: Option<String>,
    pub points: i64,
    /// The points expire after this many days (none: they stay).
    pub decay_days: Option<i64>,
    pub active: bool,
    pub created_at: i64,
    pub updated_at: i64,
}

const RULE_COLS: &str = "id, name, trigger_kind, target, points, decay_days, active, created_at, updated_at";

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "ScoringRuleInput")]
pub struct RuleInput {
    pub name: String,
    pub trigger_kind: String,
    #[serde(default)]
    pub target: Option<String>,
    /// -1000 to 1000, not 0.
    pub points: i64,
    #[serde(default)]
    pub decay_days: Option<i64>,
    #[serde(default = "yes")]
    pub active: bool,
}

fn yes() -> bool {
    true
}

async fn check_rule(tx: &mut Tx, i: &RuleInput) -> Result<(String, Option<String>)> {
    let mut e = carnet_domain::FieldErrors::new();
    let name = e.check("name", carnet_domain::values::required_name(&i.name));
    if !TRIGGERS.contains(&i.trigger_kind.as_str()) {
        e.add("trigger_kind", format!("must be one of {}", TRIGGERS.join(", ")));
    }
    if i.points == 0 || i.points.abs() > 1000 {
        e.add("points", "must be from -1000 to 1000, not 0");
    }
    if let Some(d) = i.decay_days {
        if !(1..=3650).contains(&d) {
            e.add("decay_days", "must be from 1 to 3650 days");
        }
    }
    let target = i.target.as_deref().map(str::trim).filter(|t| !t.is_empty()).map(String::from);
    match (i.trigger_kind.as_str(), &target) {
        ("form_submitted" | "file_downloaded", Some(t)) => {
            let found = match t.parse::<i64>() {
                Ok(id) => q("SELECT id FROM forms WHERE id = $1").bind(id).scalar_opt::<i64>(&mut *tx).await?,
                Err(_) => None,
            };
            if found.is_none() {
                e.add("target", "is not a known form (its id)");
            }
        }
        ("questionnaire_band", None) => e.add("target", "names the band (its label)"),
        ("questionnaire_band", Some(t)) if t.chars().count() > 200 => e.add("target", "must be at most 200 characters"),
        ("email_open" | "email_click", Some(_)) => e.add("target", "is not used for email rules"),
        ("return_visit", Some(_)) => e.add("target", "is not used for return visits"),
        ("page_visit", None) => e.add("target", "names the pages (a path such as /pricing or /services/*)"),
        ("page_visit", Some(t)) => {
            if let Err(r) = carnet_domain::tracking::pattern(t) {
                e.add("target", r);
            }
        }
        _ => {}
    }
    e.into_result().map_err(AppError::Invalid)?;
    Ok((name.unwrap(), target))
}

/// Saves a rule (new when `id` is `None`) and re-scores everyone through the queue.
pub async fn save_rule(db: &Db, id: Option<i64>, i: &RuleInput) -> Result<i64> {
    let mut tx = db.begin().await?;
    let (name, target) = check_rule(&mut tx, i).await?;
    let t = tx.now();
    let id = match id {
        None => {
            q(
                "INSERT INTO scoring_rules (name, trigger_kind, target, points, decay_days, active, created_at, updated_at) \
               VALUES ($1, $2, $3, $4, $5, $6, $7, $7) RETURNING id",
            )
            .bind(name)
            .bind(i.trigger_kind.clone())
            .bind(target)
            .bind(i.points)
            .bind(i.decay_days)
            .bind(i.active)
            .bind(t)
            .insert_id(&mut tx)
            .await?
        }
        Some(id) => {
            let n = q("UPDATE scoring_rules SET name = $1, trigger_kind = $2, target = $3, points = $4, decay_days = $5, active = $6, updated_at = $7 WHERE id = $8")
                .bind(name)
                .bind(i.trigger_kind.clone())
                .bind(target)
                .bind(i.points)
                .bind(i.decay_days)
                .bind(i.active)
                .bind(t)
                .bind(id)
                .execute(&mut tx)
                .await?;
            if n == 0 {
                return Err(AppError::NotFound);
            }
            id
        }
    };
    jobs::enqueue::<Rescore>(&mut tx, &RescorePayload { rule_id: id }, When::Now, None).await?;
    events::settings_changed(&mut tx, "scoring", false).await?;
    tx.commit().await?;
    Ok(id)
}

/// Deletes a rule: its awards go, and the scores are counted again.
pub async fn delete_rule(db: &Db, id: i64) -> Result<()> {
    let mut tx = db.begin().await?;
    let n = q("DELETE FROM scoring_rules WHERE id = $1").bind(id).execute(&mut tx).await?;
    if n == 0 {
        return Err(AppError::NotFound);
    }
    recount_scores(&mut tx).await?;
    events::settings_changed(&mut tx, "scoring", false).await?;
    tx.commit().await?;
    Ok(())
}

pub async fn rules(db: &Db) -> Result<Vec<Rule>> {
    Ok(q(format!("SELECT {RULE_COLS} FROM scoring_rules ORDER BY id"))
        .fetch_all(&mut db.conn().await?)
        .await?)
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Threshold {
    pub id: i64,
    pub name: String,
    pub points: i64,
    /// Only for contacts of accounts in this segment (tag); none: everyone.
    pub segment_tag_id: Option<i64>,
    /// The reps leads are handed to in turn (when nobody owns the lead).
    pub reps: Vec<i64>,
    /// The account status set on crossing.
    pub status_id: Option<i64>,
    /// The type of the call task (a "Phone call" task by default).
    pub task_type_id: Option<i64>,
    pub notify: bool,
    pub active: bool,
}

#[derive(sqlx::FromRow)]
struct ThresholdRow {
    id: i64,
    name: String,
    points: i64,
    segment_tag_id: Option<i64>,
    reps: String,
    status_id: Option<i64>,
    task_type_id: Option<i64>,
    notify: bool,
    active: bool,
}

impl ThresholdRow {
    fn reps(&self) -> Vec<i64> {
        self.reps.split_whitespace().filter_map(|r| r.parse().ok()).collect()
    }
    fn out(self) -> Threshold {
        Threshold {
            reps: self.reps(),
            id: self.id,
            name: self.name,
            points: self.points,
            segment_tag_id: self.segment_tag_id,
            status_id: self.status_id,
            task_type_id: self.task_type_id,
            notify: self.notify,
            active: self.active,
        }
    }
}

const THRESHOLD_COLS: &str = "id, name, points, segment_tag_id, reps, status_id, task_type_id, notify, active";

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ThresholdInput {
    pub name: String,
    /// 1 to 100000.
    pub points: i64,
    #[serde(default)]
    pub segment_tag_id: Option<i64>,
    /// Active users, at least one.
    pub reps: Vec<i64>,
    #[serde(default)]
    pub status_id: Option<i64>,
    #[serde(default)]
    pub task_type_id: Option<i64>,
    #[serde(default = "yes")]
    pub notify: bool,
    #[serde(default = "yes")]
    pub active: bool,
}

async fn exists(tx: &mut Tx, sql: &str, id: i64) -> Result<bool> {
    Ok(q(sql).bind(id).scalar_opt::<i64>(&mut *tx).await?.is_some())
}

pub async fn save_threshold(db: &Db, id: Option<i64>, i: &ThresholdInput) -> Result<i64> {
    let mut tx = db.begin().await?;
    let mut e = carnet_domain::FieldErrors::new();
    let name = e.check("name", carnet_domain::values::required_name(&i.name));
    if !(1..=100_000).contains(&i.points) {
        e.add("points", "must be from 1 to 100000");
    }
    if i.reps.is_empty() || i.reps.len() > 100 {
        e.add("reps", "must name 1 to 100 users");
    }
    for r in &i.reps {
        if !exists(&mut tx, "SELECT id FROM users WHERE id = $1 AND active = TRUE", *r).await? {
            e.add("reps", format!("{r} is not an active user"));
        }
    }
    if let Some(t) = i.segment_tag_id {
        if !exists(&mut tx, "SELECT id FROM tags WHERE id = $1", t).await? {
            e.add("segment_tag_id", "is not a known tag");
        }
    }
    if let Some(st) = i.status_id {
        if !exists(&mut tx, "SELECT id FROM statuses WHERE id = $1", st).await? {
            e.add("status_id", "is not a known status");
        }
    }
    if let Some(t) = i.task_type_id {
        if !exists(&mut tx, "SELECT id FROM action_types WHERE id = $1 AND kind = 'task'", t).await? {
            e.add("task_type_id", "is not a task type");
        }
    }
    e.into_result().map_err(AppError::Invalid)?;
    let reps = i.reps.iter().map(|r| r.to_string()).collect::<Vec<_>>().join(" ");
    let id =
        match id {
            None => q(
                "INSERT INTO scoring_thresholds (name, points, segment_tag_id, reps, status_id, task_type_id, notify, active, created_at) \
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
            )
            .bind(name.unwrap())
            .bind(i.points)
            .bind(i.segment_tag_id)
            .bind(reps)
            .bind(i.status_id)
            .bind(i.task_type_id)
            .bind(i.notify)
            .bind(i.active)
            .bind(tx.now())
            .insert_id(&mut tx)
            .await?,
            Some(id) => {
                let n = q(
                "UPDATE scoring_thresholds SET name = $1, points = $2, segment_tag_id = $3, reps = $4, status_id = $5, task_type_id = $6, \
                       notify = $7, active = $8 WHERE id = $9",
            )
            .bind(name.unwrap())
            .bind(i.points)
            .bind(i.segment_tag_id)
            .bind(reps)
            .bind(i.status_id)
            .bind(i.task_type_id)
            .bind(i.notify)
            .bind(i.active)
            .bind(id)
            .execute(&mut tx)
            .await?;
                if n == 0 {
                    return Err(AppError::NotFound);
                }
                id
            }
        };
    events::settings_changed(&mut tx, "scoring", false).await?;
    tx.commit().await?;
    Ok(id)
}

pub async fn delete_threshold(db: &Db, id: i64) -> Result<()> {
    crate::db::delete_by_id(db, "scoring_thresholds", id).await
}

pub async fn thresholds(db: &Db) -> Result<Vec<Threshold>> {
    let rows: Vec<ThresholdRow> = q(format!("SELECT {THRESHOLD_COLS} FROM scoring_thresholds ORDER BY points, id"))
        .fetch_all(&mut db.conn().await?)
        .await?;
    Ok(rows.into_iter().map(ThresholdRow::out).collect())
}

/// One award of a contact's score.
#[derive(Debug, Clone, Serialize, JsonSchema, sqlx::FromRow)]
pub struct Award {
    pub rule_id: i64,
    pub rule: String,
    pub points: i64,
    pub at: i64,
    pub expires_at: Option<i64>,
    pub expired: bool,
}

/// The score bands of the distribution: each band's lowest score.
pub const BANDS: &[i64] = &[1, 10, 25, 50, 100];

/// How many contacts have a score in each band: below 1 (none or negative),
/// 1–9, 10–24, 25–49, 50–99, 100 and more.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[schemars(rename = "ScoreBand")]
pub struct Band {
    /// The band's lowest score (none: below 1).
    pub from: Option<i64>,
    /// The band's highest score (none: no limit).
    pub to: Option<i64>,
    pub contacts: i64,
}

pub async fn distribution(db: &Db) -> Result<Vec<Band>> {
    let mut case = String::from("CASE");
    for (i, b) in BANDS.iter().enumerate().rev() {
        case.push_str(&format!(" WHEN score >= {b} THEN {}", i + 1));
    }
    case.push_str(" ELSE 0 END");
    let rows: Vec<(i64, i64)> = q(format!("SELECT CAST({case} AS BIGINT) AS band, COUNT(*) FROM contacts GROUP BY 1"))
        .fetch_all(&mut db.conn().await?)
        .await?;
    Ok((0..=BANDS.len())
        .map(|i| Band {
            from: i.checked_sub(1).map(|j| BANDS[j]),
            to: BANDS.get(i).map(|next| next - 1),
            contacts: rows.iter().find(|r| r.0 == i as i64).map_or(0, |r| r.1),
        })
        .collect())
}

/// A contact's score and the awards that make it, newest first.
pub async fn awards(db: &Db, contact_id: i64) -> Result<(i64, Vec<Award>)> {
    let mut c = db.conn().await?;
    let score: Option<i64> = q("SELECT score FROM contacts WHERE id = $1")
        .bind(contact_id)
        .scalar_opt(&mut c)
        .await?;
    let score = score.ok_or(AppError::NotFound)?;
    let list = q(
        "SELECT p.rule_id, r.name AS rule, p.points, p.at, p.expires_at, p.expired FROM score_points p \
                  JOIN scoring_rules r ON r.id = p.rule_id WHERE p.contact_id = $1 ORDER BY p.at DESC, p.id DESC LIMIT 500",
    )
    .bind(contact_id)
    .fetch_all(&mut c)
    .await?;
    Ok((score, list))
}

/// The contact an event is about, and the form and band it names.
async fn subject_of(tx: &mut Tx, e: &Event) -> Result<Option<i64>> {
    match e.entity.as_str() {
        "contact" => Ok(Some(e.record_id)),
        "email" => Ok(q("SELECT contact_id FROM emails WHERE id = $1")
            .bind(e.record_id)
            .scalar_opt::<Option<i64>>(&mut *tx)
            .await?
            .flatten()),
        _ => Ok(None),
    }
}

fn matches(r: &Rule, e: &Event) -> bool {
    let form = e.data.get("form_id").and_then(|v| v.as_i64()).map(|f| f.to_string());
    match (r.trigger_kind.as_str(), &r.target) {
        ("questionnaire_band", Some(band)) => e.data.get("band").and_then(|b| b.as_str()) == Some(band.as_str()),
        ("form_submitted" | "file_downloaded", Some(t)) => form.as_deref() == Some(t.as_str()),
        ("page_visit", Some(p)) => e
            .data
            .get("url")
            .and_then(|u| u.as_str())
            .is_some_and(|u| carnet_domain::tracking::matches(p, u)),
        _ => true,
    }
}

/// When an event happened: a page view replayed when its visitor became known
/// says when it was seen.
fn at_of(e: &Event) -> i64 {
    e.data.get("at").and_then(|a| a.as_i64()).unwrap_or(e.created_at)
}

/// A page rule awards once per visit: the visit an event belongs to.
fn visit_of(r: &Rule, e: &Event) -> Option<i64> {
    (r.trigger_kind == "page_visit")
        .then(|| e.data.get("visit_at").and_then(|a| a.as_i64()))
        .flatten()
}

/// Awards a rule's points for an event, once; returns whether it was new.
async fn award(tx: &mut Tx, contact: i64, r: &Rule, event_id: i64, at: i64) -> Result<bool> {
    let expires = r.decay_days.map(|d| at + d * 86_400);
    let expired = expires.is_some_and(|x| x <= tx.now());
    let n = q(
        "INSERT INTO score_points (contact_id, rule_id, event_id, points, at, expires_at, expired) VALUES ($1, $2, $3, $4, $5, $6, $7) \
               ON CONFLICT (event_id, rule_id) DO NOTHING",
    )
    .bind(contact)
    .bind(r.id)
    .bind(event_id)
    .bind(r.points)
    .bind(at)
    .bind(expires)
    .bind(expired)
    .execute(&mut *tx)
    .await?;
    Ok(n == 1 && !expired)
}

/// The queued subscriber: awards the matching rules' points, notes each
/// change on the timeline, then hands the lead over if it crossed a threshold.
pub fn on_event<'a>(tx: &'a mut Tx, e: &'a Event) -> BoxFut<'a, Result<()>> {
    Box::pin(async move {
        let triggers = triggers_of(e.kind);
        if triggers.is_empty() {
            return Ok(());
        }
        let Some(contact) = subject_of(tx, e).await? else {
            return Ok(());
        };
        let mut query = q(format!(
            "SELECT {RULE_COLS} FROM scoring_rules WHERE active = TRUE AND trigger_kind IN "
        ));
        crate::db::push_in_list(&mut query, triggers);
        let rules: Vec<Rule> = query.fetch_all(&mut *tx).await?;
        for r in rules.iter().filter(|r| matches(r, e)) {
            if let Some(visit) = visit_of(r, e) {
                let earlier: Option<i64> =
                    q("SELECT id FROM score_points WHERE contact_id = $1 AND rule_id = $2 AND at >= $3 AND event_id <> $4")
                        .bind(contact)
                        .bind(r.id)
                        .bind(visit)
                        .bind(e.id)
                        .scalar_opt(&mut *tx)
                        .await?;
                if earlier.is_some() {
                    continue;
                }
            }
            if !award(tx, contact, r, e.id, at_of(e)).await? {
                continue;
            }
            let score: i64 = q("UPDATE contacts SET score = score + $1 WHERE id = $2 RETURNING score")
                .bind(r.points)
                .bind(contact)
                .scalar(&mut *tx)
                .await?;
            timeline::add(
                tx,
                NewEntry {
                    entity: Entity::Contact,
                    record_id: contact,
                    kind: "score_changed",
                    actor_id: None,
                    title: &r.name,
                    body: None,
                    data: Some(serde_json::json!({"rule_id": r.id, "points": r.points, "score": score})),
                },
            )
            .await?;
        }
        hand_over(tx, contact).await
    })
}

/// Hands a lead over for each threshold its score has reached and it never crossed.
async fn hand_over(tx: &mut Tx, contact: i64) -> Result<()> {
    let score: Option<i64> = q("SELECT score FROM contacts WHERE id = $1")
        .bind(contact)
        .scalar_opt(&mut *tx)
        .await?;
    let Some(score) = score else { return Ok(()) };
    let due: Vec<ThresholdRow> = q(format!(
        "SELECT {THRESHOLD_COLS} FROM scoring_thresholds t WHERE active = TRUE AND points <= $1 \
         AND NOT EXISTS (SELECT 1 FROM threshold_crossings x WHERE x.contact_id = $2 AND x.threshold_id = t.id) \
         AND (segment_tag_id IS NULL OR EXISTS (SELECT 1 FROM account_contacts ac JOIN record_tags rt ON rt.entity = 'account' AND rt.record_id = ac.account_id \
              WHERE ac.contact_id = $2 AND rt.tag_id = t.segment_tag_id)) ORDER BY points, id"
    ))
    .bind(score)
    .bind(contact)
    .fetch_all(&mut *tx)
    .await?;
    for t in due {
        // The key makes it once, even for two events crossing together on two workers.
        let n = q("INSERT INTO threshold_crossings (contact_id, threshold_id, score, at) VALUES ($1, $2, $3, $4) ON CONFLICT (contact_id, threshold_id) DO NOTHING")
            .bind(contact)
            .bind(t.id)
            .bind(score)
            .bind(tx.now())
            .execute(&mut *tx)
            .await?;
        if n == 1 {
            cross(tx, contact, score, &t).await?;
        }
    }
    Ok(())
}

/// The next rep in turn after `last` among `reps` (the first after the end).
pub fn next_rep(reps: &[i64], last: Option<i64>) -> Option<i64> {
    let at = last.and_then(|l| reps.iter().position(|r| *r == l));
    match at {
        Some(i) => reps.get((i + 1) % reps.len()).copied(),
        None => reps.first().copied(),
    }
}

async fn cross(tx: &mut Tx, contact: i64, score: i64, t: &ThresholdRow) -> Result<()> {
    let cat = crate::settings::catalog_in(&mut *tx).await?;
    let card = crate::records::contacts::get_in(&mut *tx, &cat, contact).await?;
    let rep = match card.contact.owner_id {
        Some(owner) => owner,
        None => {
            // The threshold's turn, under its row lock: concurrent hand-offs take turns.
            let lock = crate::db::dialect::row_lock_clause(tx.dialect());
            let last: Option<i64> = q(format!("SELECT last_rep_id FROM scoring_thresholds WHERE id = $1{lock}"))
                .bind(t.id)
                .scalar::<Option<i64>>(&mut *tx)
                .await?;
            let active: Vec<(i64,)> = q("SELECT id FROM users WHERE active = TRUE").fetch_all(&mut *tx).await?;
            let reps: Vec<i64> = t.reps().into_iter().filter(|r| active.iter().any(|a| a.0 == *r)).collect();
            let Some(rep) = next_rep(&reps, last) else {
                return Ok(());
            };
            q("UPDATE scoring_thresholds SET last_rep_id = $1 WHERE id = $2")
                .bind(rep)
                .bind(t.id)
                .execute(&mut *tx)
                .await?;
            let mut raw = crate::records::contacts::to_raw(&card, &cat);
            raw.set("owner", rep.to_string());
            let public = cat.without_rules();
            let d = carnet_domain::records::ContactDraft::parse(&raw, &public, &[]).map_err(AppError::Invalid)?;
            crate::records::contacts::update_in(tx, &public, &card, None, &d).await?;
            rep
        }
    };
    let account = card.accounts.first().map(|a| a.account_id);
    if let (Some(status), Some(acc)) = (t.status_id, account) {
        let a = crate::records::accounts::get_in(&mut *tx, &cat, acc).await?;
        if a.account.status_id != status {
            let mut raw = crate::records::accounts::to_raw(&a, &cat);
            raw.set("status", status.to_string());
            let public = cat.without_rules();
            let d = carnet_domain::records::AccountDraft::parse(&raw, &public, &[]).map_err(AppError::Invalid)?;
            crate::records::accounts::update_in(tx, &public, &a, None, &d).await?;
        }
    }
    let type_id = match t.task_type_id {
        Some(id) => Some(id),
        None => {
            q("SELECT id FROM action_types WHERE kind = 'task' ORDER BY CASE WHEN name = 'Phone call' THEN 0 ELSE 1 END, id LIMIT 1")
                .scalar_opt::<i64>(&mut *tx)
                .await?
        }
    };
    let name = card.contact.name();
    let mut action_id = None;
    if let Some(type_id) = type_id {
        let now = tx.now();
        let today = chrono::DateTime::from_timestamp(now, 0).map(|d| d.date_naive()).unwrap_or_default();
        // In the rep's language: the task is theirs.
        let locale: Option<String> = q("SELECT locale FROM users WHERE id = $1").bind(rep).scalar_opt(&mut *tx).await?;
        let locale = carnet_domain::i18n::Locale::parse(locale.as_deref().unwrap_or("en")).unwrap_or_default();
        let call = carnet_domain::i18n::Fmt::new(locale, chrono_tz::Europe::Paris).t("leads.call");
        let subject = format!("{call} {name} (score {score})");
        let id = q("INSERT INTO actions (type_id, subject, notes, account_id, contact_id, assignee_id, due_date, planned_at, remind_min, remind_at, sequence, created_at, updated_at) \
                    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 0, $8, 0, $8, $8) RETURNING id")
            .bind(type_id)
            .bind(subject.clone())
            .bind(format!("{} ({} ≥ {})", t.name, score, t.points))
            .bind(account)
            .bind(contact)
            .bind(rep)
            .bind(today.to_string())
            .bind(now)
            .insert_id(&mut *tx)
            .await?;
        timeline::add(
            tx,
            NewEntry {
                entity: Entity::Contact,
                record_id: contact,
                kind: "action_planned",
                actor_id: None,
                title: &subject,
                body: None,
                data: Some(serde_json::json!({"action_id": id, "subject": subject, "planned_at": now})),
            },
        )
        .await?;
        let data =
            serde_json::json!({"type_id": type_id, "assignee_id": rep, "contact_id": contact, "account_id": account, "planned_at": now});
        events::record(tx, NewEvent::new(EventKind::ActionPlanned, "action", id, None, data)).await?;
        action_id = Some(id);
    }
    q("UPDATE threshold_crossings SET rep_id = $1, action_id = $2 WHERE contact_id = $3 AND threshold_id = $4")
        .bind(rep)
        .bind(action_id)
        .bind(contact)
        .bind(t.id)
        .execute(&mut *tx)
        .await?;
    timeline::add(
        tx,
        NewEntry {
            entity: Entity::Contact,
            record_id: contact,
            kind: "lead_handed_over",
            actor_id: None,
            title: &t.name,
            body: None,
            data: Some(serde_json::json!({"threshold_id": t.id, "score": score, "rep_id": rep})),
        },
    )
    .await?;
    if t.notify {
        crate::mail::owed::lead_notice(tx, rep, contact, &t.name, score).await?;
    }
    super::leads::interest(tx, contact, "score").await
}

/// Takes expired awards off the scores (the daily job; a test calls it with a
/// pinned clock). Returns how many awards expired.
pub async fn expire(db: &Db) -> Result<usize> {
    let mut tx = db.begin().await?;
    let n = expire_in(&mut tx).await?;
    tx.commit().await?;
    Ok(n)
}

async fn expire_in(tx: &mut Tx) -> Result<usize> {
    let now = tx.now();
    let due: Vec<(i64, i64, i64, String)> = q(
        "SELECT p.id, p.contact_id, p.points, r.name FROM score_points p JOIN scoring_rules r ON r.id = p.rule_id \
                                               WHERE p.expired = FALSE AND p.expires_at <= $1 ORDER BY p.contact_id, p.id",
    )
    .bind(now)
    .fetch_all(&mut *tx)
    .await?;
    for (id, contact, points, rule) in &due {
        q("UPDATE score_points SET expired = TRUE WHERE id = $1")
            .bind(*id)
            .execute(&mut *tx)
            .await?;
        let score: i64 = q("UPDATE contacts SET score = score - $1 WHERE id = $2 RETURNING score")
            .bind(*points)
            .bind(*contact)
            .scalar(&mut *tx)
            .await?;
        timeline::add(
            tx,
            NewEntry {
                entity: Entity::Contact,
                record_id: *contact,
                kind: "score_expired",
                actor_id: None,
                title: rule,
                body: None,
                data: Some(serde_json::json!({"points": -points, "score": score})),
            },
        )
        .await?;
    }
    Ok(due.len())
}

pub fn daily<'a>(tx: &'a mut Tx, _day: chrono::NaiveDate) -> BoxFut<'a, Result<()>> {
    Box::pin(async move { expire_in(tx).await.map(|_| ()) })
}

/// Every contact's score counted again from its awards that have not expired.
async fn recount_scores(tx: &mut Tx) -> Result<()> {
    // By the contact's index only (a condition on `expired` would lead the
    // planner to the expiry index and scan every award for each contact).
    q(
        "UPDATE contacts SET score = COALESCE((SELECT SUM(CASE WHEN p.expired THEN 0 ELSE p.points END) FROM score_points p \
       WHERE p.contact_id = contacts.id), 0) WHERE score <> 0 OR EXISTS (SELECT 1 FROM score_points p WHERE p.contact_id = contacts.id)",
    )
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// Re-scores everyone after a rule changed: its awards are taken back and
/// given again from the recorded events, a batch per transaction, then the
/// scores are counted again. Hand-offs are not replayed: a lead a new rule
/// lifts over a threshold is handed over on its next event.
pub struct Rescore;

#[derive(Debug, Serialize, Deserialize)]
pub struct RescorePayload {
    pub rule_id: i64,
}

const RESCORE_BATCH: i64 = 5_000;

impl JobKind for Rescore {
    const NAME: &'static str = "scoring.rescore";
    const MODE: Mode = Mode::Alone;
    const CONCURRENCY: Option<i64> = Some(1);
    type Payload = RescorePayload;

    fn run_alone(c: &crate::Carnet, p: RescorePayload) -> BoxFut<'_, Result<()>> {
        Box::pin(async move { rescore(&c.db, p.rule_id).await })
    }
}

pub async fn rescore(db: &Db, rule_id: i64) -> Result<()> {
    let mut tx = db.begin().await?;
    let rule: Option<Rule> = q(format!("SELECT {RULE_COLS} FROM scoring_rules WHERE id = $1"))
        .bind(rule_id)
        .fetch_optional(&mut tx)
        .await?;
    q("DELETE FROM score_points WHERE rule_id = $1")
        .bind(rule_id)
        .execute(&mut tx)
        .await?;
    tx.commit().await?;
    if let Some(rule) = rule.filter(|r| r.active) {
        let mut after = 0i64;
        let now = db.now();
        // Page rules: the (contact, visit) pairs already awarded.
        let mut visits_scored = std::collections::HashSet::new();
        loop {
            let mut tx = db.begin().await?;
            let batch = events::of_kinds(&mut tx, after, kinds_of(&rule.trigger_kind), RESCORE_BATCH).await?;
            let Some(last) = batch.last().map(|e| e.id) else {
                break;
            };
            let matched: Vec<&Event> = batch.iter().filter(|e| matches(&rule, e)).collect();
            // Emails name their contact: one query for the batch.
            let emails: Vec<i64> = matched.iter().filter(|e| e.entity == "email").map(|e| e.record_id).collect();
            let mut contact_of_email = std::collections::HashMap::new();
            for chunk in emails.chunks(1000) {
                let mut query = q("SELECT id, contact_id FROM emails WHERE contact_id IS NOT NULL AND id IN ");
                crate::db::push_in_list(&mut query, chunk);
                contact_of_email.extend(query.fetch_all::<(i64, i64)>(&mut tx).await?);
            }
            let contact_of = |e: &Event| match e.entity.as_str() {
                "contact" => Some(e.record_id),
                "email" => contact_of_email.get(&e.record_id).copied(),
                _ => None,
            };
            // Contacts deleted since their events have nothing to score.
            let named: Vec<i64> = matched.iter().filter_map(|e| contact_of(e)).collect();
            let mut alive = std::collections::HashSet::new();
            for chunk in named.chunks(1000) {
                let mut query = q("SELECT id FROM contacts WHERE id IN ");
                crate::db::push_in_list(&mut query, chunk);
                alive.extend(query.fetch_all::<(i64,)>(&mut tx).await?.into_iter().map(|r| r.0));
            }
            let rows: Vec<Vec<crate::db::Value>> = matched
                .iter()
                .filter_map(|e| {
                    let contact = contact_of(e).filter(|c| alive.contains(c))?;
                    if let Some(visit) = visit_of(&rule, e) {
                        if !visits_scored.insert((contact, visit)) {
                            return None;
                        }
                    }
                    let at = at_of(e);
                    let expires = rule.decay_days.map(|d| at + d * 86_400);
                    Some(vec![
                        contact.into(),
                        rule.id.into(),
                        e.id.into(),
                        rule.points.into(),
                        at.into(),
                        expires.into(),
                        expires.is_some_and(|x| x <= now).into(),
                    ])
                })
                .collect();
            crate::db::dialect::bulk_insert(
                &mut tx,
                "score_points",
                &["contact_id", "rule_id", "event_id", "points", "at", "expires_at", "expired"],
                &rows,
            )
            .await?;
            tx.commit().await?;
            after = last;
        }
    }
    let mut tx = db.begin().await?;
    recount_scores(&mut tx).await?;
    tx.commit().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::next_rep;
    use proptest::prelude::*;

    proptest! {
        /// Taking turns from any starting point gives each rep their share: over
        /// n hand-offs, counts differ by at most one.
        #[test]
        fn round_robin_is_fair(reps in prop::collection::btree_set(1i64..50, 1..8), start in 0usize..8, n in 1usize..200) {
            let reps: Vec<i64> = reps.into_iter().collect();
            let mut last = reps.get(start % reps.len()).copied();
            let mut counts = std::collections::HashMap::new();
            for _ in 0..n {
                let r = next_rep(&reps, last).unwrap();
                *counts.entry(r).or_insert(0usize) += 1;
                last = Some(r);
            }
            let max = reps.iter().map(|r| counts.get(r).copied().unwrap_or(0)).max().unwrap();
            let min = reps.iter().map(|r| counts.get(r).copied().unwrap_or(0)).min().unwrap();
            prop_assert!(max - min <= 1);
        }
    }
}
