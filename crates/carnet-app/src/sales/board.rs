//! The kanban board of a pipeline (S3): per open stage, the count, total and
//! weighted amount of every matching opportunity (one GROUP BY), and a bounded
//! number of cards per column, sorted to show what to work on first.

use super::opportunities::{Opportunity, COLS};
use crate::db::{push_in_list, q, Db, Q};
use crate::error::{AppError, Result};
use carnet_domain::records::Catalog;
use carnet_domain::sales::{Outcome, SalesCatalog, StageDef};
use serde::Serialize;

#[derive(Debug, Clone, Default)]
pub struct BoardFilter {
    pub owner: Option<i64>,
    pub segment_tag: Option<i64>,
    pub offer: Option<i64>,
    pub source: Option<i64>,
    /// `amount` (default), `close` (expected close, soonest first) or `age` (longest in stage first).
    pub sort: String,
    pub per_column: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Card {
    pub opportunity: Opportunity,
    pub days_in_stage: i64,
    pub stalled: bool,
    /// The account's segment tag (name, colour), if it has one.
    pub segment: Option<(String, String)>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Column {
    pub stage: StageDef,
    pub count: i64,
    pub total: i64,
    /// Σ amount × probability / 100, in cents.
    pub weighted: i64,
    pub cards: Vec<Card>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Board {
    pub pipeline_id: i64,
    pub currency: String,
    pub columns: Vec<Column>,
}

/// The board's filters on opportunities aliased `a` in the query.
fn push_filters(query: &mut Q, f: &BoardFilter, a: &str) {
    if let Some(o) = f.owner {
        query.push(&format!(" AND {a}.owner_id = ")).push_bind(o);
    }
    if let Some(t) = f.segment_tag {
        query.push(&format!(" AND {a}.segment_tag_id = ")).push_bind(t);
    }
    if let Some(o) = f.offer {
        query.push(&format!(" AND {a}.offer_id = ")).push_bind(o);
    }
    if let Some(s) = f.source {
        query.push(&format!(" AND {a}.source_id = ")).push_bind(s);
    }
}

pub async fn board(db: &Db, cat: &Catalog, sales: &SalesCatalog, pipeline_id: i64, f: &BoardFilter) -> Result<Board> {
    let p = sales.pipeline(pipeline_id).ok_or(AppError::NotFound)?;
    let open: Vec<&StageDef> = p.stages.iter().filter(|s| s.outcome == Outcome::Open && !s.archived).collect();
    let mut c = db.conn().await?;
    // The maintained totals carry pipeline, stage, owner and segment; offer and source count live.
    let totals = if f.offer.is_none() && f.source.is_none() {
        let mut t = q(
            "SELECT t.stage_id, CAST(SUM(t.deals) AS BIGINT), CAST(SUM(t.amount) AS BIGINT) FROM open_pipeline t WHERE t.pipeline_id = ",
        );
        t.push_bind(pipeline_id);
        if let Some(o) = f.owner {
            t.push(" AND t.owner_key = ").push_bind(o);
        }
        if let Some(g) = f.segment_tag {
            t.push(" AND t.segment_key = ").push_bind(g);
        }
        t.push(" GROUP BY t.stage_id");
        t
    } else {
        let mut t =
            q("SELECT o.stage_id, COUNT(*), CAST(COALESCE(SUM(o.amount), 0) AS BIGINT) FROM opportunities o WHERE o.pipeline_id = ");
        t.push_bind(pipeline_id).push(" AND o.status = 'open'");
        push_filters(&mut t, f, "o");
        t.push(" GROUP BY o.stage_id");
        t
    };
    let sums: Vec<(i64, i64, i64)> = totals.fetch_all(&mut c).await?;
    let order = match f.sort.as_str() {
        "close" => "r.expected_close IS NULL, r.expected_close, r.id",
        "age" => "r.stage_entered_at, r.id",
        _ => "r.amount DESC, r.id",
    };
    let t = db.now();
    let mut columns = Vec::new();
    for s in open {
        let mut cards_q = q(format!("SELECT {COLS} FROM opportunities r WHERE r.stage_id = "));
        cards_q.push_bind(s.id).push(" AND r.status = 'open'");
        push_filters(&mut cards_q, f, "r");
        cards_q
            .push(&format!(" ORDER BY {order} LIMIT "))
            .push_bind(f.per_column.clamp(1, 200));
        let opps: Vec<Opportunity> = cards_q.fetch_all(&mut c).await?;
        let (count, total) = sums.iter().find(|x| x.0 == s.id).map(|x| (x.1, x.2)).unwrap_or((0, 0));
        columns.push(Column {
            stage: s.clone(),
            count,
            total,
            weighted: total * s.probability / 100,
            cards: opps
                .into_iter()
                .map(|o| Card {
                    days_in_stage: o.days_in_stage(t),
                    stalled: o.is_stalled(sales, t),
                    segment: None,
                    opportunity: o,
                })
                .collect(),
        });
    }
    // Segment colours: the account tags of categories used as segments.
    let seg_tags: Vec<i64> = cat
        .categories
        .iter()
        .filter(|c| c.is_segment)
        .flat_map(|c| c.tags.iter().map(|t| t.id))
        .collect();
    let accounts: Vec<i64> = columns
        .iter()
        .flat_map(|c| c.cards.iter().map(|k| k.opportunity.account_id))
        .collect();
    if !seg_tags.is_empty() && !accounts.is_empty() {
        let mut sq = q("SELECT record_id, tag_id FROM record_tags WHERE entity = 'account' AND record_id IN ");
        push_in_list(&mut sq, &accounts);
        sq.push(" AND tag_id IN ");
        push_in_list(&mut sq, &seg_tags);
        let found: Vec<(i64, i64)> = sq.fetch_all(&mut c).await?;
        for col in &mut columns {
            for card in &mut col.cards {
                card.segment = found
                    .iter()
                    .find(|(a, _)| *a == card.opportunity.account_id)
                    .and_then(|(_, t)| cat.tag(*t))
                    .map(|(_, t)| (t.name.clone(), t.color.clone()));
            }
        }
    }
    Ok(Board {
        pipeline_id,
        currency: p.currency.clone(),
        columns,
    })
}
