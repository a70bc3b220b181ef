//! Campaigns (M1): what a company does to draw prospects in, what it costs,
//! and who came through it. A contact's touches keep its first campaign and
//! its latest; an opportunity keeps its contacts' first touch and the last one
//! before it was created (set by a subscriber in the opportunity's own
//! transaction).

use crate::db::{q, Db, Handle, Tx};
use crate::error::{AppError, Result};
use crate::platform::events::{self, Event, EventKind};
use crate::platform::registry::BoxFut;
use carnet_domain::marketing::{CampaignDraft, CostDraft};
use schemars::JsonSchema;
use serde::Serialize;

#[derive(Debug, Clone, Serialize, JsonSchema, sqlx::FromRow)]
pub struct Campaign {
    pub id: i64,
    pub name: String,
    /// `emailing`, `linkedin_ads`, `trade_show`, `conference`, `webinar`, `blog` or `other`.
    pub channel: String,
    /// YYYY-MM-DD.
    pub starts_on: Option<String>,
    pub ends_on: Option<String>,
    /// The segment (tag) it targets: its costs count in that segment's acquisition cost.
    pub segment_tag_id: Option<i64>,
    pub description: Option<String>,
    pub archived: bool,
    pub created_at: i64,
    pub updated_at: i64,
}

const COLS: &str = "id, name, channel, starts_on, ends_on, segment_tag_id, description, archived, created_at, updated_at";

#[derive(Debug, Clone, Serialize, JsonSchema, sqlx::FromRow)]
pub struct Cost {
    pub id: i64,
    pub campaign_id: i64,
    /// YYYY-MM-DD.
    pub day: String,
    /// In minor units (cents).
    pub amount: i64,
    pub currency: String,
    pub label: String,
    pub created_at: i64,
}

async fn name_taken(tx: &mut Tx, name: &str, except: i64) -> Result<()> {
    let other: Option<i64> = q("SELECT id FROM campaigns WHERE LOWER(name) = LOWER($1) AND id <> $2")
        .bind(name)
        .bind(except)
        .scalar_opt(&mut *tx)
        .await?;
    if other.is_some() {
        return Err(AppError::field("name", "is the name of another campaign"));
    }
    Ok(())
}

pub async fn create(db: &Db, d: &CampaignDraft) -> Result<i64> {
    let mut tx = db.begin().await?;
    name_taken(&mut tx, &d.name, 0).await?;
    let t = tx.now();
    let id = q(
        "INSERT INTO campaigns (name, channel, starts_on, ends_on, segment_tag_id, description, archived, created_at, updated_at) \
                VALUES ($1, $2, $3, $4, $5, $6, FALSE, $7, $7) RETURNING id",
    )
    .bind(d.name.clone())
    .bind(d.channel.as_str())
    .bind(d.starts_on.map(|x| x.to_string()))
    .bind(d.ends_on.map(|x| x.to_string()))
    .bind(d.segment_tag_id)
    .bind(d.description.clone())
    .bind(t)
    .insert_id(&mut tx)
    .await?;
    events::settings_changed(&mut tx, "campaigns", false).await?;
    tx.commit().await?;
    Ok(id)
}

pub async fn update(db: &Db, id: i64, d: &CampaignDraft, archived: bool) -> Result<()> {
    let mut tx = db.begin().await?;
    name_taken(&mut tx, &d.name, id).await?;
    let n = q(
        "UPDATE campaigns SET name = $1, channel = $2, starts_on = $3, ends_on = $4, segment_tag_id = $5, description = $6, \
               archived = $7, updated_at = $8 WHERE id = $9",
    )
    .bind(d.name.clone())
    .bind(d.channel.as_str())
    .bind(d.starts_on.map(|x| x.to_string()))
    .bind(d.ends_on.map(|x| x.to_string()))
    .bind(d.segment_tag_id)
    .bind(d.description.clone())
    .bind(archived)
    .bind(tx.now())
    .bind(id)
    .execute(&mut tx)
    .await?;
    if n == 0 {
        return Err(AppError::NotFound);
    }
    events::settings_changed(&mut tx, "campaigns", false).await?;
    tx.commit().await?;
    Ok(())
}

pub async fn get(h: &mut impl Handle, id: i64) -> Result<Campaign> {
    q(format!("SELECT {COLS} FROM campaigns WHERE id = $1"))
        .bind(id)
        .fetch_optional(h)
        .await?
        .ok_or(AppError::NotFound)
}

/// Every campaign, running ones first (newest start first), archived last.
pub async fn list(db: &Db) -> Result<Vec<Campaign>> {
    Ok(q(format!(
        "SELECT {COLS} FROM campaigns ORDER BY archived, COALESCE(starts_on, '9999') DESC, id DESC"
    ))
    .fetch_all(&mut db.conn().await?)
    .await?)
}

pub async fn add_cost(db: &Db, campaign_id: i64, actor: i64, d: &CostDraft) -> Result<i64> {
    let mut tx = db.begin().await?;
    get(&mut tx, campaign_id).await?;
    let id = q(
        "INSERT INTO campaign_costs (campaign_id, day, amount, currency, label, created_by, created_at) \
                VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
    )
    .bind(campaign_id)
    .bind(d.day.to_string())
    .bind(d.amount.0)
    .bind(d.currency.clone())
    .bind(d.label.clone())
    .bind(actor)
    .bind(tx.now())
    .insert_id(&mut tx)
    .await?;
    events::settings_changed(&mut tx, "campaigns", false).await?;
    tx.commit().await?;
    Ok(id)
}

pub async fn delete_cost(db: &Db, campaign_id: i64, cost_id: i64) -> Result<()> {
    let mut tx = db.begin().await?;
    let n = q("DELETE FROM campaign_costs WHERE id = $1 AND campaign_id = $2")
        .bind(cost_id)
        .bind(campaign_id)
        .execute(&mut tx)
        .await?;
    if n == 0 {
        return Err(AppError::NotFound);
    }
    events::settings_changed(&mut tx, "campaigns", false).await?;
    tx.commit().await?;
    Ok(())
}

pub async fn costs(db: &Db, campaign_id: i64) -> Result<Vec<Cost>> {
    Ok(q("SELECT id, campaign_id, day, amount, currency, label, created_at FROM campaign_costs WHERE campaign_id = $1 ORDER BY day DESC, id DESC")
        .bind(campaign_id)
        .fetch_all(&mut db.conn().await?)
        .await?)
}

/// A contact came through a campaign: the touch is kept, the contact's first
/// campaign set once and its latest moved.
pub async fn touch(tx: &mut Tx, contact_id: i64, campaign_id: i64, via: &str) -> Result<()> {
    let t = tx.now();
    q("INSERT INTO campaign_touches (contact_id, campaign_id, via, at) VALUES ($1, $2, $3, $4)")
        .bind(contact_id)
        .bind(campaign_id)
        .bind(via)
        .bind(t)
        .execute(&mut *tx)
        .await?;
    q("UPDATE contacts SET first_campaign_id = COALESCE(first_campaign_id, $1), last_campaign_id = $1 WHERE id = $2")
        .bind(campaign_id)
        .bind(contact_id)
        .execute(&mut *tx)
        .await?;
    Ok(())
}

/// An amount in one currency.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct Amount {
    pub currency: String,
    /// Minor units (cents).
    pub amount: i64,
}

/// What a campaign brought and cost, counted from the records.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[schemars(rename = "CampaignReport")]
pub struct Report {
    /// Contacts whose first campaign it is.
    pub leads: i64,
    /// Of those leads, the ones that became qualified (M9).
    pub qualified_leads: i64,
    /// Contacts it touched at all (first touch or later).
    pub contacts_touched: i64,
    pub submissions: i64,
    /// Opportunities whose last campaign before their creation it is.
    pub opportunities: i64,
    pub won: i64,
    /// Accounts with a deal attributed to the campaign and won.
    pub customers: i64,
    pub won_amounts: Vec<Amount>,
    pub costs: Vec<Amount>,
    /// Costs ÷ leads, per currency (none without leads).
    pub cost_per_lead: Vec<Amount>,
    /// Costs ÷ customers, per currency (none without customers).
    pub cost_per_customer: Vec<Amount>,
}

fn per(total: &[Amount], n: i64) -> Vec<Amount> {
    if n == 0 {
        return vec![];
    }
    total
        .iter()
        .map(|a| Amount {
            currency: a.currency.clone(),
            amount: (a.amount as f64 / n as f64).round() as i64,
        })
        .collect()
}

fn amounts(rows: Vec<(String, i64)>) -> Vec<Amount> {
    rows.into_iter().map(|(currency, amount)| Amount { currency, amount }).collect()
}

pub async fn report(db: &Db, id: i64) -> Result<Report> {
    let mut c = db.conn().await?;
    get(&mut c, id).await?;
    let count = |sql: &'static str| q(sql).bind(id);
    let leads: i64 = count("SELECT COUNT(*) FROM contacts WHERE first_campaign_id = $1")
        .scalar(&mut c)
        .await?;
    let qualified_leads: i64 = count("SELECT COUNT(*) FROM contacts WHERE first_campaign_id = $1 AND qualified_at IS NOT NULL")
        .scalar(&mut c)
        .await?;
    let contacts_touched: i64 = count("SELECT COUNT(DISTINCT contact_id) FROM campaign_touches WHERE campaign_id = $1")
        .scalar(&mut c)
        .await?;
    let submissions: i64 = count("SELECT COUNT(*) FROM form_submissions WHERE campaign_id = $1")
        .scalar(&mut c)
        .await?;
    let opportunities: i64 = count("SELECT COUNT(*) FROM opportunities WHERE campaign_id = $1")
        .scalar(&mut c)
        .await?;
    let won: i64 = count("SELECT COUNT(*) FROM opportunities WHERE campaign_id = $1 AND status = 'won'")
        .scalar(&mut c)
        .await?;
    let customers: i64 = count("SELECT COUNT(DISTINCT account_id) FROM opportunities WHERE campaign_id = $1 AND status = 'won'")
        .scalar(&mut c)
        .await?;
    let won_amounts = amounts(
        count("SELECT currency, CAST(SUM(amount) AS BIGINT) FROM opportunities WHERE campaign_id = $1 AND status = 'won' GROUP BY currency ORDER BY currency")
            .fetch_all(&mut c)
            .await?,
    );
    let costs = amounts(
        count(
            "SELECT currency, CAST(SUM(amount) AS BIGINT) FROM campaign_costs WHERE campaign_id = $1 GROUP BY currency ORDER BY currency",
        )
        .fetch_all(&mut c)
        .await?,
    );
    Ok(Report {
        leads,
        qualified_leads,
        contacts_touched,
        submissions,
        opportunities,
        won,
        customers,
        cost_per_lead: per(&costs, leads),
        cost_per_customer: per(&costs, customers),
        won_amounts,
        costs,
    })
}

/// A contact's touches, newest first: (campaign id, name, via, at).
pub async fn touches_of(db: &Db, contact_id: i64) -> Result<Vec<(i64, String, String, i64)>> {
    Ok(q(
        "SELECT t.campaign_id, c.name, t.via, t.at FROM campaign_touches t JOIN campaigns c ON c.id = t.campaign_id \
          WHERE t.contact_id = $1 ORDER BY t.at DESC, t.id DESC",
    )
    .bind(contact_id)
    .fetch_all(&mut db.conn().await?)
    .await?)
}

/// A new opportunity takes its contacts' campaigns (or, without contacts,
/// its account's contacts'): the first touch of all, and the latest one.
pub fn attribute<'a>(tx: &'a mut Tx, e: &'a Event) -> BoxFut<'a, Result<()>> {
    Box::pin(async move {
        if e.kind != EventKind::RecordCreated || e.entity != "opportunity" {
            return Ok(());
        }
        let people = "(SELECT contact_id FROM opportunity_contacts WHERE opportunity_id = $1 \
                       UNION SELECT ac.contact_id FROM account_contacts ac JOIN opportunities o ON o.account_id = ac.account_id \
                       WHERE o.id = $1 AND NOT EXISTS (SELECT 1 FROM opportunity_contacts WHERE opportunity_id = $1))";
        let pick = |order: &str| {
            format!("SELECT campaign_id FROM campaign_touches WHERE contact_id IN {people} ORDER BY at {order}, id {order} LIMIT 1")
        };
        // Every touch recorded so far came before the deal.
        let first: Option<i64> = q(pick("ASC")).bind(e.record_id).scalar_opt(&mut *tx).await?;
        let Some(first) = first else {
            return Ok(());
        };
        let last: Option<i64> = q(pick("DESC")).bind(e.record_id).scalar_opt(&mut *tx).await?;
        q("UPDATE opportunities SET first_campaign_id = $1, campaign_id = $2 WHERE id = $3")
            .bind(first)
            .bind(last.unwrap_or(first))
            .bind(e.record_id)
            .execute(&mut *tx)
            .await?;
        Ok(())
    })
}
