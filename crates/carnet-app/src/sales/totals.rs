//! Totals of open opportunities (count and amount by pipeline, stage, owner,
//! month of expected close and currency), maintained in the same transaction as
//! each opportunity write: callers read an opportunity's state before and after
//! the write and apply the difference. The board's totals and the forecast read
//! them, so their cost does not grow with the number of deals; filters the
//! totals do not carry (segment, offer, source) use live queries instead.

use crate::analytics::facts::{self, OppState};
use crate::db::{q, Handle};
use crate::error::Result;

/// What an opportunity contributes to the totals, if it is open.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct State {
    pub pipeline_id: i64,
    pub stage_id: i64,
    pub owner_key: i64,
    pub segment_key: i64,
    pub month: String,
    pub currency: String,
    pub amount: i64,
}

/// The columns of a deal's contribution, for `opportunities`.
const KEY_COLS: &str = "pipeline_id, stage_id, COALESCE(owner_id, 0) AS owner_key, COALESCE(segment_tag_id, 0) AS segment_key, \
                        COALESCE(SUBSTR(expected_close, 1, 7), '') AS month, currency, amount";

/// Everything an opportunity contributes to maintained sums: the open-pipeline
/// totals (when open) and the analysis facts (created, won, lost, effort).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Contribution {
    pub open: Option<State>,
    pub facts: Option<OppState>,
}

/// The opportunity's contribution now (empty when it is gone).
pub async fn state(h: &mut impl Handle, id: i64) -> Result<Contribution> {
    let open = q(format!("SELECT {KEY_COLS} FROM opportunities WHERE status = 'open' AND id = $1"))
        .bind(id)
        .fetch_optional(h)
        .await?;
    Ok(Contribution {
        open,
        facts: facts::opp_state(h, id).await?,
    })
}

/// Adds (+1) or removes (-1) one open deal: in the detailed totals, and in the
/// per-stage ones.
async fn add(h: &mut impl Handle, s: &State, sign: i64) -> Result<()> {
    q(
        "INSERT INTO open_pipeline (pipeline_id, stage_id, owner_key, segment_key, month, currency, deals, amount) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
       ON CONFLICT (pipeline_id, stage_id, owner_key, segment_key, month, currency) \
       DO UPDATE SET deals = open_pipeline.deals + excluded.deals, amount = open_pipeline.amount + excluded.amount",
    )
    .bind(s.pipeline_id)
    .bind(s.stage_id)
    .bind(s.owner_key)
    .bind(s.segment_key)
    .bind(s.month.clone())
    .bind(s.currency.clone())
    .bind(sign)
    .bind(sign * s.amount)
    .execute(h)
    .await?;
    q("INSERT INTO open_stage (pipeline_id, stage_id, currency, deals, amount) VALUES ($1, $2, $3, $4, $5) \
       ON CONFLICT (pipeline_id, stage_id, currency) DO UPDATE SET deals = open_stage.deals + excluded.deals, amount = open_stage.amount + excluded.amount")
    .bind(s.pipeline_id)
    .bind(s.stage_id)
    .bind(s.currency.clone())
    .bind(sign)
    .bind(sign * s.amount)
    .execute(h)
    .await?;
    Ok(())
}

/// Applies the change from `before` to `after` (call it while the
/// opportunity's actions are still there, before a delete).
pub async fn apply(h: &mut impl Handle, before: &Contribution, after: &Contribution) -> Result<()> {
    if before == after {
        return Ok(());
    }
    if before.open != after.open {
        if let Some(b) = &before.open {
            add(h, b, -1).await?;
        }
        if let Some(a) = &after.open {
            add(h, a, 1).await?;
        }
    }
    facts::apply_opportunity(h, before.facts.as_ref(), after.facts.as_ref()).await
}

/// Recomputes the totals of some pipelines (all with `None`) from the deals.
pub async fn rebuild(h: &mut impl Handle, pipeline: Option<i64>) -> Result<()> {
    let (filter_del, filter_sel) = match pipeline {
        Some(_) => (" WHERE pipeline_id = $1", " AND pipeline_id = $1"),
        None => ("", ""),
    };
    let mut del = q(format!("DELETE FROM open_pipeline{filter_del}"));
    let mut ins = q(format!(
        "INSERT INTO open_pipeline (pipeline_id, stage_id, owner_key, segment_key, month, currency, deals, amount) \
         SELECT pipeline_id, stage_id, COALESCE(owner_id, 0), COALESCE(segment_tag_id, 0), COALESCE(SUBSTR(expected_close, 1, 7), ''), currency, COUNT(*), SUM(amount) \
         FROM opportunities WHERE status = 'open'{filter_sel} \
         GROUP BY pipeline_id, stage_id, COALESCE(owner_id, 0), COALESCE(segment_tag_id, 0), COALESCE(SUBSTR(expected_close, 1, 7), ''), currency"
    ));
    let mut del_stage = q(format!("DELETE FROM open_stage{filter_del}"));
    let mut ins_stage = q(format!(
        "INSERT INTO open_stage (pipeline_id, stage_id, currency, deals, amount) SELECT pipeline_id, stage_id, currency, SUM(deals), SUM(amount) \
         FROM open_pipeline{filter_del} GROUP BY pipeline_id, stage_id, currency"
    ));
    if let Some(p) = pipeline {
        del = del.bind(p);
        ins = ins.bind(p);
        del_stage = del_stage.bind(p);
        ins_stage = ins_stage.bind(p);
    }
    del.execute(h).await?;
    ins.execute(h).await?;
    del_stage.execute(h).await?;
    ins_stage.execute(h).await?;
    Ok(())
}

/// Adds (+1) or removes (-1) the open deals of an account from the totals.
pub async fn shift_account(h: &mut impl Handle, account_id: i64, sign: i64) -> Result<()> {
    let states: Vec<State> = q(format!(
        "SELECT {KEY_COLS} FROM opportunities WHERE status = 'open' AND account_id = $1"
    ))
    .bind(account_id)
    .fetch_all(h)
    .await?;
    for s in &states {
        add(h, s, sign).await?;
    }
    Ok(())
}

/// Subtracts what an account about to be deleted brings: its open deals, and
/// its opportunities' and actions' facts.
pub async fn subtract_account(h: &mut impl Handle, account_id: i64) -> Result<()> {
    facts::forget_account(h, account_id).await?;
    shift_account(h, account_id, -1).await
}

/// The SQL expression of an account's segment tag (for `opportunities` rows).
pub const SEGMENT_OF_ACCOUNT: &str =
    "(SELECT MIN(rt.tag_id) FROM record_tags rt JOIN tags t ON t.id = rt.tag_id JOIN tag_categories tc ON tc.id = t.category_id \
     WHERE tc.is_segment = TRUE AND rt.entity = 'account' AND rt.record_id = opportunities.account_id)";

/// Re-reads the segment of one opportunity from its account (call before reading its state).
pub async fn refresh_segment(h: &mut impl Handle, opportunity_id: i64) -> Result<()> {
    q(format!(
        "UPDATE opportunities SET segment_tag_id = {SEGMENT_OF_ACCOUNT} WHERE id = $1"
    ))
    .bind(opportunity_id)
    .execute(h)
    .await?;
    Ok(())
}

/// After an account's tags changed: its deals' segment, and the totals, follow.
pub async fn account_tags_changed(h: &mut impl Handle, account_id: i64) -> Result<()> {
    let before = facts::opp_states_of_account(h, account_id).await?;
    shift_account(h, account_id, -1).await?;
    q(format!(
        "UPDATE opportunities SET segment_tag_id = {SEGMENT_OF_ACCOUNT} WHERE account_id = $1"
    ))
    .bind(account_id)
    .execute(h)
    .await?;
    shift_account(h, account_id, 1).await?;
    let after = facts::opp_states_of_account(h, account_id).await?;
    facts::apply_opportunities(h, &before, &after).await
}

/// After the segment categories or their tags changed: every deal's segment, and
/// all totals, are recomputed.
pub async fn segments_changed(h: &mut impl Handle) -> Result<()> {
    q(format!("UPDATE opportunities SET segment_tag_id = {SEGMENT_OF_ACCOUNT}"))
        .execute(h)
        .await?;
    rebuild(h, None).await?;
    facts::rebuild(h).await
}
