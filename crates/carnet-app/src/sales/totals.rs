//! Totals of open opportunities (count and amount by pipeline, stage, owner,
//! month of expected close and currency), maintained in the same transaction as
//! each opportunity write by this module's watchers (see `platform::events`):
//! they read an opportunity's state before the write and apply the difference
//! after. The board's totals and the forecast read them, so their cost does not
//! grow with the number of deals; filters the totals do not carry (segment,
//! offer, source) use live queries instead.
//!
//! An opportunity's segment (its account's tag in a segment category) is kept
//! on the row here too: when the account's tags change, and for every deal when
//! the segment categories change.

use crate::db::{q, Handle, Tx};
use crate::error::Result;
use crate::platform::events::{snapshot, Event, EventKind, Scope, Snapshot, Watcher};
use crate::platform::registry::{BoxFut, Delivery, Registry, Subscriber};

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

/// The open contributions of some opportunities (those still open).
async fn states(h: &mut impl Handle, ids: &[i64]) -> Result<Vec<State>> {
    let mut query = q(format!("SELECT {KEY_COLS} FROM opportunities WHERE status = 'open' AND id IN "));
    crate::db::push_in_list(&mut query, ids);
    Ok(query.fetch_all(h).await?)
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

/// Applies the change from `before` to `after`.
async fn apply(h: &mut impl Handle, before: &[State], after: &[State]) -> Result<()> {
    if before == after {
        return Ok(());
    }
    for b in before {
        add(h, b, -1).await?;
    }
    for a in after {
        add(h, a, 1).await?;
    }
    Ok(())
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

/// The SQL expression of an account's segment tag (for `opportunities` rows).
pub const SEGMENT_OF_ACCOUNT: &str =
    "(SELECT MIN(rt.tag_id) FROM record_tags rt JOIN tags t ON t.id = rt.tag_id JOIN tag_categories tc ON tc.id = t.category_id \
     WHERE tc.is_segment = TRUE AND rt.entity = 'account' AND rt.record_id = opportunities.account_id)";

/// The account's segment tag now (`None` without one).
async fn account_segment(h: &mut impl Handle, account_id: i64) -> Result<Option<i64>> {
    Ok(q(
        "SELECT MIN(rt.tag_id) FROM record_tags rt JOIN tags t ON t.id = rt.tag_id JOIN tag_categories tc ON tc.id = t.category_id \
         WHERE tc.is_segment = TRUE AND rt.entity = 'account' AND rt.record_id = $1",
    )
    .bind(account_id)
    .scalar::<Option<i64>>(h)
    .await?)
}

/// After an account's segment changed: its deals' segment, and the totals, follow.
async fn account_segment_changed(h: &mut impl Handle, account_id: i64) -> Result<()> {
    shift_account(h, account_id, -1).await?;
    q(format!(
        "UPDATE opportunities SET segment_tag_id = {SEGMENT_OF_ACCOUNT} WHERE account_id = $1"
    ))
    .bind(account_id)
    .execute(h)
    .await?;
    shift_account(h, account_id, 1).await
}

/// After the segment categories or their tags changed: every deal's segment,
/// and all totals, are recomputed.
pub async fn segments_changed(h: &mut impl Handle) -> Result<()> {
    q(format!("UPDATE opportunities SET segment_tag_id = {SEGMENT_OF_ACCOUNT}"))
        .execute(h)
        .await?;
    rebuild(h, None).await
}

fn before_opportunities<'a>(tx: &'a mut Tx, scope: &'a Scope) -> BoxFut<'a, Result<Snapshot>> {
    Box::pin(async move { Ok(Box::new(states(tx, &scope.ids).await?) as Snapshot) })
}

fn after_opportunities<'a>(tx: &'a mut Tx, scope: &'a Scope, before: Option<Snapshot>, gone: bool) -> BoxFut<'a, Result<()>> {
    Box::pin(async move {
        let before: Vec<State> = snapshot(before)?;
        if !gone {
            // A deal written in this transaction takes its account's segment now.
            let mut query = q(format!(
                "UPDATE opportunities SET segment_tag_id = {SEGMENT_OF_ACCOUNT} WHERE id IN "
            ));
            crate::db::push_in_list(&mut query, &scope.ids);
            query.execute(&mut *tx).await?;
        }
        let after = if gone { Vec::new() } else { states(tx, &scope.ids).await? };
        apply(tx, &before, &after).await
    })
}

/// Accounts: their segment, before.
#[derive(Default)]
struct Segments(Vec<(i64, Option<i64>)>);

fn before_accounts<'a>(tx: &'a mut Tx, scope: &'a Scope) -> BoxFut<'a, Result<Snapshot>> {
    Box::pin(async move {
        let mut out = Vec::new();
        for id in &scope.ids {
            out.push((*id, account_segment(&mut *tx, *id).await?));
        }
        Ok(Box::new(Segments(out)) as Snapshot)
    })
}

fn after_accounts<'a>(tx: &'a mut Tx, scope: &'a Scope, before: Option<Snapshot>, gone: bool) -> BoxFut<'a, Result<()>> {
    Box::pin(async move {
        let before: Segments = snapshot(before)?;
        for id in &scope.ids {
            if gone {
                // Its deals go with it.
                shift_account(&mut *tx, *id, -1).await?;
                continue;
            }
            let was = before.0.iter().find(|(a, _)| a == id).and_then(|(_, s)| *s);
            if account_segment(&mut *tx, *id).await? != was {
                account_segment_changed(&mut *tx, *id).await?;
            }
        }
        Ok(())
    })
}

fn on_settings<'a>(tx: &'a mut Tx, e: &'a Event) -> BoxFut<'a, Result<()>> {
    Box::pin(async move {
        if e.data["segments"].as_bool() == Some(true) {
            segments_changed(tx).await?;
        }
        Ok(())
    })
}

/// The sales watchers and subscribers (see `crate::registry`).
pub fn register(r: Registry) -> Registry {
    r.watch(Watcher {
        name: "open pipeline",
        entity: "opportunity",
        before: before_opportunities,
        after: after_opportunities,
    })
    .watch(Watcher {
        name: "segment of an account's deals",
        entity: "account",
        before: before_accounts,
        after: after_accounts,
    })
    .subscribe(Subscriber {
        name: "segments of every deal",
        kinds: &[EventKind::SettingsChanged],
        delivery: Delivery::InWriterTx,
        run: on_settings,
    })
}
