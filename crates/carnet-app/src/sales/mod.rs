//! The sales process (SPEC S1–S6): pipelines and stages, offers, sources and lost
//! reasons (this file), opportunities and their stage moves, the board, the
//! forecast, and orders.

pub mod board;
pub mod forecast;
pub mod opportunities;
pub mod orders;
pub mod totals;

pub use totals::register;

use crate::db::{q, Db, Handle, Tx};
use crate::error::{AppError, Result};
use crate::platform::events;
use carnet_domain::sales::{currency, NamedDef, OfferDef, Outcome, PipelineDef, Probability, SalesCatalog, SourceDef, StageDef, StageRule};
use carnet_domain::values::required_name;
use carnet_domain::FieldErrors;

#[derive(sqlx::FromRow)]
struct StageRow {
    id: i64,
    pipeline_id: i64,
    name: String,
    position: i64,
    probability: i64,
    stall_days: Option<i64>,
    outcome: String,
    archived: bool,
}

pub async fn catalog(db: &Db) -> Result<SalesCatalog> {
    catalog_in(&mut db.conn().await?).await
}

/// The same, read through any handle (a transaction included).
pub async fn catalog_in(c: &mut impl crate::db::Handle) -> Result<SalesCatalog> {
    let pipelines: Vec<(i64, String, String, bool)> = q("SELECT id, name, currency, archived FROM pipelines ORDER BY position, id")
        .fetch_all(&mut *c)
        .await?;
    let stages: Vec<StageRow> = q(
        "SELECT id, pipeline_id, name, position, probability, stall_days, outcome, archived FROM stages ORDER BY pipeline_id, position, id",
    )
    .fetch_all(&mut *c)
    .await?;
    let segments: Vec<(i64, i64)> = q("SELECT pipeline_id, tag_id FROM pipeline_segments").fetch_all(&mut *c).await?;
    let p_offers: Vec<(i64, i64)> = q("SELECT pipeline_id, offer_id FROM pipeline_offers").fetch_all(&mut *c).await?;
    let offers: Vec<(i64, String, String, i64, String, bool)> =
        q("SELECT id, name, code, list_price, currency, active FROM offers ORDER BY name, id")
            .fetch_all(&mut *c)
            .await?;
    let sources: Vec<(i64, String, String)> = q("SELECT id, name, kind FROM opportunity_sources ORDER BY position, id")
        .fetch_all(&mut *c)
        .await?;
    let reasons: Vec<(i64, String)> = q("SELECT id, name FROM lost_reasons ORDER BY position, id")
        .fetch_all(&mut *c)
        .await?;
    let rules: Vec<(String, Option<i64>)> = q("SELECT field, from_stage_id FROM mandatory_rules WHERE entity = 'opportunity' ORDER BY id")
        .fetch_all(&mut *c)
        .await?;
    Ok(SalesCatalog {
        pipelines: pipelines
            .into_iter()
            .map(|(id, name, currency, archived)| PipelineDef {
                id,
                name,
                currency,
                archived,
                segment_tag_ids: segments.iter().filter(|s| s.0 == id).map(|s| s.1).collect(),
                offer_ids: p_offers.iter().filter(|s| s.0 == id).map(|s| s.1).collect(),
                stages: stages
                    .iter()
                    .filter(|s| s.pipeline_id == id)
                    .map(|s| StageDef {
                        id: s.id,
                        pipeline_id: s.pipeline_id,
                        name: s.name.clone(),
                        position: s.position,
                        probability: s.probability,
                        stall_days: s.stall_days,
                        outcome: Outcome::parse(&s.outcome).unwrap_or(Outcome::Open),
                        archived: s.archived,
                    })
                    .collect(),
            })
            .collect(),
        offers: offers
            .into_iter()
            .map(|(id, name, code, list_price, currency, active)| OfferDef {
                id,
                name,
                code,
                list_price,
                currency,
                active,
            })
            .collect(),
        sources: sources.into_iter().map(|(id, name, kind)| SourceDef { id, name, kind }).collect(),
        lost_reasons: reasons.into_iter().map(|(id, name)| NamedDef { id, name }).collect(),
        rules: rules
            .into_iter()
            .map(|(field, from_stage_id)| StageRule { field, from_stage_id })
            .collect(),
    })
}

/// The settings catalogue with its sales part, for opportunity pages and parsers.
pub async fn full_catalog(db: &Db) -> Result<carnet_domain::records::Catalog> {
    crate::settings::catalog(db).await
}

/// Default stages of a new B2B pipeline: (name, probability, stalled after N days, outcome).
const DEFAULT_STAGES: &[(&str, i64, Option<i64>, Outcome)] = &[
    ("Qualification", 10, Some(14), Outcome::Open),
    ("Discovery", 25, Some(21), Outcome::Open),
    ("Proposal", 50, Some(21), Outcome::Open),
    ("Negotiation", 75, Some(14), Outcome::Open),
    ("Won", 100, None, Outcome::Won),
    ("Lost", 0, None, Outcome::Lost),
];

/// The sales defaults, once: a B2B pipeline, sources and lost reasons.
pub async fn seed_defaults(db: &Db) -> Result<()> {
    let mut tx = db.begin().await?;
    let seeded: Option<String> = q("SELECT value FROM app_settings WHERE key = 'seeded_sales'")
        .scalar_opt(&mut tx)
        .await?;
    if seeded.is_some() {
        return Ok(());
    }
    insert_pipeline(&mut tx, "Sales", "EUR").await?;
    for (i, (name, kind)) in [
        ("Marketing campaign", "marketing"),
        ("Sales prospecting", "sales"),
        ("Existing customer", "sales"),
        ("Referral / word of mouth", "other"),
        ("Partner", "other"),
        ("Other", "other"),
    ]
    .iter()
    .enumerate()
    {
        q("INSERT INTO opportunity_sources (name, kind, position) VALUES ($1, $2, $3)")
            .bind(*name)
            .bind(*kind)
            .bind(i as i64 + 1)
            .execute(&mut tx)
            .await?;
    }
    for (i, name) in ["Price", "Competitor chosen", "No budget", "No decision", "Timing", "Other"]
        .iter()
        .enumerate()
    {
        q("INSERT INTO lost_reasons (name, position) VALUES ($1, $2)")
            .bind(*name)
            .bind(i as i64 + 1)
            .execute(&mut tx)
            .await?;
    }
    q("INSERT INTO app_settings (key, value) VALUES ('seeded_sales', $1)")
        .bind(tx.now().to_string())
        .execute(&mut tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

async fn insert_pipeline(tx: &mut Tx, name: &str, currency: &str) -> Result<i64> {
    let pos: i64 = q("SELECT COALESCE(MAX(position), 0) + 1 FROM pipelines").scalar(tx).await?;
    let id = q("INSERT INTO pipelines (name, currency, position, archived) VALUES ($1, $2, $3, FALSE) RETURNING id")
        .bind(name)
        .bind(currency)
        .bind(pos)
        .insert_id(tx)
        .await
        .map_err(|e| unique(e, "name", "a pipeline with this name"))?;
    for (i, (stage, p, stall, outcome)) in DEFAULT_STAGES.iter().enumerate() {
        q("INSERT INTO stages (pipeline_id, name, position, probability, stall_days, outcome, archived) VALUES ($1, $2, $3, $4, $5, $6, FALSE)")
            .bind(id)
            .bind(*stage)
            .bind(i as i64 + 1)
            .bind(*p)
            .bind(*stall)
            .bind(outcome.as_str())
            .execute(tx)
            .await?;
    }
    Ok(id)
}

fn unique(e: sqlx::Error, field: &str, what: &str) -> AppError {
    if crate::db::is_unique_violation(&e) {
        AppError::field(field, format!("{what} already exists"))
    } else {
        e.into()
    }
}

/// What a pipeline is for: segments (tag ids) and offers.
pub struct PipelineInput<'a> {
    pub name: &'a str,
    pub currency: &'a str,
    pub segment_tag_ids: Option<Vec<i64>>,
    pub offer_ids: Option<Vec<i64>>,
    pub archived: Option<bool>,
}

/// Creates a pipeline with the default B2B stages.
pub async fn create_pipeline(db: &Db, p: PipelineInput<'_>) -> Result<i64> {
    let mut e = FieldErrors::new();
    let name = e.check("name", required_name(p.name));
    let cur = e.check("currency", currency(if p.currency.trim().is_empty() { "EUR" } else { p.currency }));
    e.into_result()?;
    let mut tx = db.begin().await?;
    let id = insert_pipeline(&mut tx, &name.unwrap(), &cur.unwrap()).await?;
    set_targets(&mut tx, id, &p).await?;
    events::settings_changed(&mut tx, "pipelines", false).await?;
    tx.commit().await?;
    Ok(id)
}

async fn set_targets(tx: &mut Tx, id: i64, p: &PipelineInput<'_>) -> Result<()> {
    if let Some(tags) = &p.segment_tag_ids {
        q("DELETE FROM pipeline_segments WHERE pipeline_id = $1")
            .bind(id)
            .execute(tx)
            .await?;
        for t in tags {
            q("INSERT INTO pipeline_segments (pipeline_id, tag_id) VALUES ($1, $2)")
                .bind(id)
                .bind(*t)
                .execute(tx)
                .await
                .map_err(|e| {
                    if crate::db::is_foreign_key_violation(&e) {
                        AppError::field("segments", "contains an unknown tag")
                    } else {
                        e.into()
                    }
                })?;
        }
    }
    if let Some(offers) = &p.offer_ids {
        q("DELETE FROM pipeline_offers WHERE pipeline_id = $1").bind(id).execute(tx).await?;
        for o in offers {
            q("INSERT INTO pipeline_offers (pipeline_id, offer_id) VALUES ($1, $2)")
                .bind(id)
                .bind(*o)
                .execute(tx)
                .await
                .map_err(|e| {
                    if crate::db::is_foreign_key_violation(&e) {
                        AppError::field("offers", "contains an unknown offer")
                    } else {
                        e.into()
                    }
                })?;
        }
    }
    Ok(())
}

pub async fn update_pipeline(db: &Db, id: i64, p: PipelineInput<'_>) -> Result<()> {
    let name = required_name(p.name).map_err(|e| AppError::field("name", e))?;
    let mut tx = db.begin().await?;
    let cur: Option<(String, bool)> = q("SELECT currency, archived FROM pipelines WHERE id = $1")
        .bind(id)
        .fetch_optional(&mut tx)
        .await?;
    let (cur_currency, archived) = cur.ok_or(AppError::NotFound)?;
    let new_currency = if p.currency.trim().is_empty() {
        cur_currency.clone()
    } else {
        currency(p.currency).map_err(|e| AppError::field("currency", e))?
    };
    if new_currency != cur_currency {
        let used: i64 = q("SELECT COUNT(*) FROM opportunities WHERE pipeline_id = $1")
            .bind(id)
            .scalar(&mut tx)
            .await?;
        if used > 0 {
            return Err(AppError::field("currency", "cannot change while the pipeline has opportunities"));
        }
    }
    q("UPDATE pipelines SET name = $1, currency = $2, archived = $3 WHERE id = $4")
        .bind(name)
        .bind(new_currency)
        .bind(p.archived.unwrap_or(archived))
        .bind(id)
        .execute(&mut tx)
        .await
        .map_err(|e| unique(e, "name", "a pipeline with this name"))?;
    set_targets(&mut tx, id, &p).await?;
    events::settings_changed(&mut tx, "pipelines", false).await?;
    tx.commit().await?;
    Ok(())
}

pub struct StageInput<'a> {
    pub name: &'a str,
    pub probability: &'a str,
    pub stall_days: &'a str,
    pub outcome: &'a str,
}

fn parse_stage(s: &StageInput<'_>) -> Result<(String, i64, Option<i64>, Outcome), AppError> {
    let mut e = FieldErrors::new();
    let name = e.check("name", required_name(s.name));
    let p = e.check("probability", Probability::parse(s.probability));
    let stall = match s.stall_days.trim() {
        "" => Some(None),
        d => e.check(
            "stall_days",
            d.parse::<i64>()
                .ok()
                .filter(|n| (1..=3650).contains(n))
                .map(Some)
                .ok_or("must be a number of days from 1 to 3650".to_string()),
        ),
    };
    let outcome = e.check("outcome", Outcome::parse(s.outcome));
    e.into_result()?;
    Ok((name.unwrap(), p.unwrap().percent(), stall.unwrap(), outcome.unwrap()))
}

pub async fn create_stage(db: &Db, pipeline_id: i64, s: StageInput<'_>) -> Result<i64> {
    let (name, p, stall, outcome) = parse_stage(&s)?;
    let mut tx = db.begin().await?;
    let exists: Option<i64> = q("SELECT id FROM pipelines WHERE id = $1")
        .bind(pipeline_id)
        .scalar_opt(&mut tx)
        .await?;
    if exists.is_none() {
        return Err(AppError::NotFound);
    }
    // New open stages go before the closing ones.
    let pos: i64 = q("SELECT COALESCE(MAX(position), 0) + 1 FROM stages WHERE pipeline_id = $1 AND (outcome = 'open' OR $2 <> 'open')")
        .bind(pipeline_id)
        .bind(outcome.as_str())
        .scalar(&mut tx)
        .await?;
    q("UPDATE stages SET position = position + 1 WHERE pipeline_id = $1 AND position >= $2")
        .bind(pipeline_id)
        .bind(pos)
        .execute(&mut tx)
        .await?;
    let id = q("INSERT INTO stages (pipeline_id, name, position, probability, stall_days, outcome, archived) VALUES ($1, $2, $3, $4, $5, $6, FALSE) RETURNING id")
        .bind(pipeline_id)
        .bind(name)
        .bind(pos)
        .bind(p)
        .bind(stall)
        .bind(outcome.as_str())
        .insert_id(&mut tx)
        .await?;
    events::settings_changed(&mut tx, "stages", false).await?;
    tx.commit().await?;
    Ok(id)
}

/// Renames a stage, changes its probability and stall limit; the outcome stays
/// (opportunities' statuses depend on it).
pub async fn update_stage(db: &Db, id: i64, s: StageInput<'_>) -> Result<()> {
    let (name, p, stall, _) = parse_stage(&StageInput { outcome: "", ..s })?;
    let mut tx = db.begin().await?;
    let n = q("UPDATE stages SET name = $1, probability = $2, stall_days = $3 WHERE id = $4")
        .bind(name)
        .bind(p)
        .bind(stall)
        .bind(id)
        .execute(&mut tx)
        .await?;
    if n == 0 {
        return Err(AppError::NotFound);
    }
    events::settings_changed(&mut tx, "stages", false).await?;
    tx.commit().await?;
    Ok(())
}

/// Moves a stage one place earlier (-1) or later (+1) in its pipeline.
pub async fn move_stage_position(db: &Db, id: i64, delta: i64) -> Result<()> {
    let mut tx = db.begin().await?;
    let pipeline: Option<i64> = q("SELECT pipeline_id FROM stages WHERE id = $1")
        .bind(id)
        .scalar_opt(&mut tx)
        .await?;
    let pipeline = pipeline.ok_or(AppError::NotFound)?;
    let ids: Vec<(i64,)> = q("SELECT id FROM stages WHERE pipeline_id = $1 ORDER BY position, id")
        .bind(pipeline)
        .fetch_all(&mut tx)
        .await?;
    let mut ids: Vec<i64> = ids.into_iter().map(|r| r.0).collect();
    let i = ids.iter().position(|x| *x == id).unwrap_or(0);
    let j = i as i64 + delta;
    if j >= 0 && (j as usize) < ids.len() {
        ids.swap(i, j as usize);
    }
    for (pos, sid) in ids.iter().enumerate() {
        q("UPDATE stages SET position = $1 WHERE id = $2")
            .bind(pos as i64 + 1)
            .bind(*sid)
            .execute(&mut tx)
            .await?;
    }
    events::settings_changed(&mut tx, "stages", false).await?;
    tx.commit().await?;
    Ok(())
}

/// Archives a stage, or deletes it when nothing refers to it. A stage with
/// opportunities in it needs a stage of the same pipeline to move them to.
pub async fn delete_stage(db: &Db, id: i64, move_to: Option<i64>) -> Result<()> {
    let cat = full_catalog(db).await?;
    let mut tx = db.begin().await?;
    let pipeline: Option<i64> = q("SELECT pipeline_id FROM stages WHERE id = $1")
        .bind(id)
        .scalar_opt(&mut tx)
        .await?;
    let pipeline = pipeline.ok_or(AppError::NotFound)?;
    let used: i64 = q("SELECT COUNT(*) FROM opportunities WHERE stage_id = $1")
        .bind(id)
        .scalar(&mut tx)
        .await?;
    if used > 0 {
        let to = move_to.filter(|t| *t != id).ok_or_else(|| {
            AppError::field(
                "move_to",
                format!("{used} opportunities are in this stage: choose the stage they move to"),
            )
        })?;
        let target: Option<(i64, String)> = q("SELECT pipeline_id, outcome FROM stages WHERE id = $1")
            .bind(to)
            .fetch_optional(&mut tx)
            .await?;
        match target {
            Some((p, outcome)) if p == pipeline => {
                let outcome = Outcome::parse(&outcome).map_err(AppError::internal)?;
                let target = opportunities::Target {
                    stage_id: to,
                    outcome,
                    lost_reason_id: None,
                };
                opportunities::move_all(&mut tx, &cat, &cat.sales, id, target).await?;
            }
            _ => return Err(AppError::field("move_to", "must be a stage of the same pipeline")),
        }
    }
    let referenced: i64 = q("SELECT COUNT(*) FROM stage_history WHERE from_stage_id = $1 OR to_stage_id = $1")
        .bind(id)
        .scalar(&mut tx)
        .await?;
    if referenced > 0 {
        // History keeps pointing at it: archive rather than delete.
        q("UPDATE stages SET archived = TRUE WHERE id = $1")
            .bind(id)
            .execute(&mut tx)
            .await?;
    } else {
        q("DELETE FROM stages WHERE id = $1").bind(id).execute(&mut tx).await?;
    }
    events::settings_changed(&mut tx, "stages", false).await?;
    tx.commit().await?;
    Ok(())
}

pub async fn create_offer(db: &Db, name: &str, code: &str, list_price: &str, cur: &str) -> Result<i64> {
    let mut e = FieldErrors::new();
    let name = e.check("name", required_name(name));
    let code = e.check("code", required_name(code)).map(|c| c.to_uppercase());
    let price = e.check(
        "list_price",
        carnet_domain::sales::amount(if list_price.trim().is_empty() { "0" } else { list_price }),
    );
    let cur = e.check("currency", currency(if cur.trim().is_empty() { "EUR" } else { cur }));
    e.into_result()?;
    let mut tx = db.begin().await?;
    let id = q("INSERT INTO offers (name, code, list_price, currency, active, created_at) VALUES ($1, $2, $3, $4, TRUE, $5) RETURNING id")
        .bind(name.unwrap())
        .bind(code.unwrap())
        .bind(price.unwrap())
        .bind(cur.unwrap())
        .bind(tx.now())
        .insert_id(&mut tx)
        .await
        .map_err(|e| unique(e, "code", "an offer with this code"))?;
    events::settings_changed(&mut tx, "offers", false).await?;
    tx.commit().await?;
    Ok(id)
}

pub async fn update_offer(db: &Db, id: i64, name: &str, list_price: &str, active: bool) -> Result<()> {
    let mut e = FieldErrors::new();
    let name = e.check("name", required_name(name));
    let price = e.check("list_price", carnet_domain::sales::amount(list_price));
    e.into_result()?;
    let mut tx = db.begin().await?;
    let n = q("UPDATE offers SET name = $1, list_price = $2, active = $3 WHERE id = $4")
        .bind(name.unwrap())
        .bind(price.unwrap())
        .bind(active)
        .bind(id)
        .execute(&mut tx)
        .await?;
    if n == 0 {
        return Err(AppError::NotFound);
    }
    events::settings_changed(&mut tx, "offers", false).await?;
    tx.commit().await?;
    Ok(())
}

/// Adds a name to one of the small configurable lists (sources, lost reasons).
pub async fn add_to_list(db: &Db, table: ListTable, name: &str, kind: &str) -> Result<i64> {
    let name = required_name(name).map_err(|e| AppError::field("name", e))?;
    let mut tx = db.begin().await?;
    let pos: i64 = q(format!("SELECT COALESCE(MAX(position), 0) + 1 FROM {}", table.name()))
        .scalar(&mut tx)
        .await?;
    let r = match table {
        ListTable::Sources => {
            if !["marketing", "sales", "other"].contains(&kind) {
                return Err(AppError::field("kind", "must be marketing, sales or other"));
            }
            q("INSERT INTO opportunity_sources (name, kind, position) VALUES ($1, $2, $3) RETURNING id")
                .bind(name)
                .bind(kind)
                .bind(pos)
        }
        ListTable::LostReasons => q("INSERT INTO lost_reasons (name, position) VALUES ($1, $2) RETURNING id")
            .bind(name)
            .bind(pos),
    };
    let id = r
        .insert_id(&mut tx)
        .await
        .map_err(|e| unique(e, "name", "an entry with this name"))?;
    events::settings_changed(&mut tx, "opportunity_sources", false).await?;
    tx.commit().await?;
    Ok(id)
}

#[derive(Clone, Copy)]
pub enum ListTable {
    Sources,
    LostReasons,
}

impl ListTable {
    fn name(self) -> &'static str {
        match self {
            ListTable::Sources => "opportunity_sources",
            ListTable::LostReasons => "lost_reasons",
        }
    }
}

/// Whether a handle sees a row in a table by id (for field-named errors).
pub(crate) async fn exists(h: &mut impl Handle, table: &str, id: i64) -> Result<bool> {
    Ok(q(format!("SELECT id FROM {table} WHERE id = $1"))
        .bind(id)
        .scalar_opt::<i64>(h)
        .await?
        .is_some())
}
