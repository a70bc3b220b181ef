//! Re-qualification (M8): rules on behaviour propose moving an account from
//! one segment tag to another ("a Bronze customer who opens every email and
//! clicks: propose Silver"). The rules are evaluated by the daily job (or on
//! demand); each suggestion carries its evidence, and a manager accepts it
//! (the tags change through the record writer, on the timeline) or dismisses
//! it. An account gets no new suggestion from a rule while one is open, nor
//! again within the rule's window after a decision.

use crate::db::{q, Db, Tx};
use crate::error::{AppError, Result};
use crate::platform::events;
use crate::platform::registry::BoxFut;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, JsonSchema, sqlx::FromRow)]
#[schemars(rename = "RequalifyRule")]
pub struct Rule {
    pub id: i64,
    pub name: String,
    /// The segment tag the account has.
    pub from_tag_id: i64,
    /// The segment tag proposed instead.
    pub to_tag_id: i64,
    /// Over the last `within_days`, by the account's contacts, at least: a person's email opens…
    pub min_opens: i64,
    /// …clicks in emails…
    pub min_clicks: i64,
    /// …and forms sent.
    pub min_forms: i64,
    pub within_days: i64,
    pub active: bool,
    pub created_at: i64,
}

const COLS: &str = "id, name, from_tag_id, to_tag_id, min_opens, min_clicks, min_forms, within_days, active, created_at";

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "RequalifyRuleInput")]
pub struct RuleInput {
    pub name: String,
    pub from_tag_id: i64,
    pub to_tag_id: i64,
    #[serde(default)]
    pub min_opens: i64,
    #[serde(default)]
    pub min_clicks: i64,
    #[serde(default)]
    pub min_forms: i64,
    /// 1 to 730 days.
    pub within_days: i64,
}

pub async fn create_rule(db: &Db, i: &RuleInput) -> Result<i64> {
    let mut tx = db.begin().await?;
    let mut e = carnet_domain::FieldErrors::new();
    let name = e.check("name", carnet_domain::values::required_name(&i.name));
    for (field, tag) in [("from_tag_id", i.from_tag_id), ("to_tag_id", i.to_tag_id)] {
        let found: Option<i64> = q("SELECT id FROM tags WHERE id = $1").bind(tag).scalar_opt(&mut tx).await?;
        if found.is_none() {
            e.add(field, "is not a known tag");
        }
    }
    if i.from_tag_id == i.to_tag_id {
        e.add("to_tag_id", "must differ from the tag the account has");
    }
    for (field, n) in [("min_opens", i.min_opens), ("min_clicks", i.min_clicks), ("min_forms", i.min_forms)] {
        if !(0..=10_000).contains(&n) {
            e.add(field, "must be from 0 to 10000");
        }
    }
    if i.min_opens + i.min_clicks + i.min_forms == 0 {
        e.add("min_opens", "at least one behaviour must be asked for");
    }
    if !(1..=730).contains(&i.within_days) {
        e.add("within_days", "must be from 1 to 730 days");
    }
    e.into_result().map_err(AppError::Invalid)?;
    let id = q(
        "INSERT INTO requalify_rules (name, from_tag_id, to_tag_id, min_opens, min_clicks, min_forms, within_days, active, created_at) \
                VALUES ($1, $2, $3, $4, $5, $6, $7, TRUE, $8) RETURNING id",
    )
    .bind(name.unwrap())
    .bind(i.from_tag_id)
    .bind(i.to_tag_id)
    .bind(i.min_opens)
    .bind(i.min_clicks)
    .bind(i.min_forms)
    .bind(i.within_days)
    .bind(tx.now())
    .insert_id(&mut tx)
    .await?;
    events::settings_changed(&mut tx, "requalification", false).await?;
    tx.commit().await?;
    Ok(id)
}

pub async fn delete_rule(db: &Db, id: i64) -> Result<()> {
    crate::db::delete_by_id(db, "requalify_rules", id).await
}

pub async fn rules(db: &Db) -> Result<Vec<Rule>> {
    Ok(q(format!("SELECT {COLS} FROM requalify_rules ORDER BY id"))
        .fetch_all(&mut db.conn().await?)
        .await?)
}

/// A proposed segment change and what it rests on.
#[derive(Debug, Clone, Serialize, JsonSchema, sqlx::FromRow)]
pub struct Suggestion {
    pub id: i64,
    pub rule_id: i64,
    pub rule: String,
    pub account_id: i64,
    pub account: String,
    pub from_tag_id: i64,
    pub to_tag_id: i64,
    /// JSON: `{"opens", "clicks", "forms", "days"}`.
    pub evidence: String,
    /// `open`, `accepted` or `dismissed`.
    pub status: String,
    pub created_at: i64,
    pub decided_at: Option<i64>,
}

pub async fn suggestions(db: &Db, status: Option<&str>) -> Result<Vec<Suggestion>> {
    let mut query = q(
        "SELECT s.id, s.rule_id, r.name AS rule, s.account_id, a.name AS account, r.from_tag_id, r.to_tag_id, s.evidence, s.status, \
                       s.created_at, s.decided_at FROM requalify_suggestions s JOIN requalify_rules r ON r.id = s.rule_id \
                       JOIN accounts a ON a.id = s.account_id",
    );
    if let Some(st) = status {
        query.push(" WHERE s.status = ").push_bind(st.to_string());
    }
    query.push(" ORDER BY s.created_at DESC, s.id DESC LIMIT 500");
    Ok(query.fetch_all(&mut db.conn().await?).await?)
}

/// Evaluates every active rule; returns the suggestions made.
pub async fn evaluate(db: &Db) -> Result<usize> {
    let mut tx = db.begin().await?;
    let n = evaluate_in(&mut tx).await?;
    tx.commit().await?;
    Ok(n)
}

async fn evaluate_in(tx: &mut Tx) -> Result<usize> {
    let rules: Vec<Rule> = q(format!("SELECT {COLS} FROM requalify_rules WHERE active = TRUE ORDER BY id"))
        .fetch_all(&mut *tx)
        .await?;
    let now = tx.now();
    let mut made = 0;
    for r in rules {
        let since = now - r.within_days * 86_400;
        // Per account tagged `from` (and not already `to`), its contacts' behaviour in the window.
        let rows: Vec<(i64, i64, i64, i64)> = q(
            "SELECT a.id, \
               (SELECT COUNT(*) FROM email_events v JOIN emails m ON m.id = v.email_id JOIN account_contacts ac ON ac.contact_id = m.contact_id \
                 WHERE ac.account_id = a.id AND v.kind = 'open' AND v.human = TRUE AND v.created_at >= $2), \
               (SELECT COUNT(*) FROM email_events v JOIN emails m ON m.id = v.email_id JOIN account_contacts ac ON ac.contact_id = m.contact_id \
                 WHERE ac.account_id = a.id AND v.kind = 'click' AND v.human = TRUE AND v.created_at >= $2), \
               (SELECT COUNT(*) FROM form_submissions fs JOIN account_contacts ac ON ac.contact_id = fs.contact_id \
                 WHERE ac.account_id = a.id AND fs.created_at >= $2) \
             FROM accounts a JOIN record_tags t ON t.entity = 'account' AND t.record_id = a.id AND t.tag_id = $1 \
             WHERE NOT EXISTS (SELECT 1 FROM record_tags u WHERE u.entity = 'account' AND u.record_id = a.id AND u.tag_id = $3) \
             AND NOT EXISTS (SELECT 1 FROM requalify_suggestions s WHERE s.rule_id = $4 AND s.account_id = a.id \
                             AND (s.status = 'open' OR s.decided_at >= $2))",
        )
        .bind(r.from_tag_id)
        .bind(since)
        .bind(r.to_tag_id)
        .bind(r.id)
        .fetch_all(&mut *tx)
        .await?;
        for (account, opens, clicks, forms) in rows {
            if opens < r.min_opens || clicks < r.min_clicks || forms < r.min_forms {
                continue;
            }
            let evidence = serde_json::json!({"opens": opens, "clicks": clicks, "forms": forms, "days": r.within_days});
            q("INSERT INTO requalify_suggestions (rule_id, account_id, evidence, status, created_at) VALUES ($1, $2, $3, 'open', $4)")
                .bind(r.id)
                .bind(account)
                .bind(evidence.to_string())
                .bind(now)
                .execute(&mut *tx)
                .await?;
            made += 1;
        }
    }
    Ok(made)
}

pub fn daily<'a>(tx: &'a mut Tx, _day: chrono::NaiveDate) -> BoxFut<'a, Result<()>> {
    Box::pin(async move { evaluate_in(tx).await.map(|_| ()) })
}

/// A manager's decision: accepted, the account leaves the old segment tag for
/// the new one (through the record writer: timeline and events); dismissed,
/// nothing changes.
pub async fn decide(db: &Db, actor: i64, id: i64, accept: bool) -> Result<()> {
    let mut tx = db.begin().await?;
    let row: Option<(i64, String, i64, i64)> = q(
        "SELECT s.account_id, s.status, r.from_tag_id, r.to_tag_id FROM requalify_suggestions s \
                                                  JOIN requalify_rules r ON r.id = s.rule_id WHERE s.id = $1",
    )
    .bind(id)
    .fetch_optional(&mut tx)
    .await?;
    let (account, status, from, to) = row.ok_or(AppError::NotFound)?;
    if status != "open" {
        return Err(AppError::Conflict(format!("this suggestion was already {status}")));
    }
    q("UPDATE requalify_suggestions SET status = $1, decided_by = $2, decided_at = $3 WHERE id = $4")
        .bind(if accept { "accepted" } else { "dismissed" })
        .bind(actor)
        .bind(tx.now())
        .bind(id)
        .execute(&mut tx)
        .await?;
    if accept {
        let cat = crate::settings::catalog_in(&mut tx).await?;
        let card = crate::records::accounts::get_in(&mut tx, &cat, account).await?;
        let mut raw = crate::records::accounts::to_raw(&card, &cat);
        let mut tags: Vec<String> = card
            .extras
            .tag_ids
            .iter()
            .filter(|t| **t != from && **t != to)
            .map(|t| t.to_string())
            .collect();
        tags.push(to.to_string());
        raw.set_all("tags", tags);
        // The manager decides; the company's mandatory rules bind edits of the other fields, not this one.
        let lenient = cat.without_rules();
        let d = carnet_domain::records::AccountDraft::parse(&raw, &lenient, &[]).map_err(AppError::Invalid)?;
        crate::records::accounts::update_in(&mut tx, &lenient, &card, Some(actor), &d).await?;
    }
    tx.commit().await?;
    Ok(())
}
