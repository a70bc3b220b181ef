//! Facts: what each opportunity and each done action contributes to the
//! metrics, summed per day and per month of the reporting zone, per owner and for
//! everyone (`-1`). Writers read a record's state before and after their change
//! and apply the difference in their own transaction, as the open-pipeline totals
//! do; [`rebuild`] recomputes everything from the records with the same code.

use crate::db::dialect::bulk_insert;
use crate::db::{q, Handle, Value};
use crate::error::Result;
use chrono::NaiveDate;
use chrono_tz::Tz;
use std::collections::HashMap;

/// The reporting zone: the company's days (app setting `report_time_zone`).
pub async fn zone(h: &mut impl Handle) -> Result<Tz> {
    let z: Option<String> = q("SELECT value FROM app_settings WHERE key = 'report_time_zone'")
        .scalar_opt(h)
        .await?;
    Ok(z.and_then(|z| carnet_domain::i18n::parse_time_zone(&z).ok())
        .unwrap_or(chrono_tz::Europe::Paris))
}

/// The local day of an instant in the reporting zone.
pub fn day(tz: Tz, t: i64) -> NaiveDate {
    carnet_domain::time::local_date(tz, t)
}

/// An opportunity as the facts see it.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct OppState {
    pub id: i64,
    pub status: String,
    pub created_at: i64,
    pub closed_at: Option<i64>,
    pub owner_key: i64,
    pub segment_key: i64,
    pub source_key: i64,
    pub pipeline_id: i64,
    pub offer_key: i64,
    pub currency: String,
    pub amount: i64,
    pub margin: i64,
}

const OPP_COLS: &str =
    "id, status, created_at, closed_at, COALESCE(owner_id, 0) AS owner_key, COALESCE(segment_tag_id, 0) AS segment_key, \
                        COALESCE(source_id, 0) AS source_key, pipeline_id, COALESCE(offer_id, 0) AS offer_key, currency, amount, \
                        COALESCE(margin, 0) AS margin";

pub async fn opp_state(h: &mut impl Handle, id: i64) -> Result<Option<OppState>> {
    Ok(q(format!("SELECT {OPP_COLS} FROM opportunities WHERE id = $1"))
        .bind(id)
        .fetch_optional(h)
        .await?)
}

/// The states of an account's opportunities, by id.
pub async fn opp_states_of_account(h: &mut impl Handle, account_id: i64) -> Result<Vec<OppState>> {
    Ok(q(format!("SELECT {OPP_COLS} FROM opportunities WHERE account_id = $1 ORDER BY id"))
        .bind(account_id)
        .fetch_all(h)
        .await?)
}

/// Applies the change of many opportunities (the same ids, in order).
pub async fn apply_opportunities(h: &mut impl Handle, before: &[OppState], after: &[OppState]) -> Result<()> {
    for b in before {
        let a = after.iter().find(|a| a.id == b.id);
        apply_opportunity(h, Some(b), a).await?;
    }
    Ok(())
}

impl OppState {
    /// Won or lost, and the day it closed.
    fn closed(&self, tz: Tz) -> Option<(&'static str, NaiveDate)> {
        let kind = match self.status.as_str() {
            "won" => "won",
            "lost" => "lost",
            _ => return None,
        };
        self.closed_at.map(|t| (kind, day(tz, t)))
    }
}

/// One row of `fact_deals` before the owner/everyone and day/month spread.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct DealKey {
    day: NaiveDate,
    kind: &'static str,
    owner_key: i64,
    segment_key: i64,
    source_key: i64,
    pipeline_id: i64,
    offer_key: i64,
    currency: String,
}

fn deal_facts(s: &OppState, tz: Tz) -> Vec<(DealKey, [i64; 3])> {
    let key = |day, kind| DealKey {
        day,
        kind,
        owner_key: s.owner_key,
        segment_key: s.segment_key,
        source_key: s.source_key,
        pipeline_id: s.pipeline_id,
        offer_key: s.offer_key,
        currency: s.currency.clone(),
    };
    let mut out = vec![(key(day(tz, s.created_at), "created"), [1, s.amount, 0])];
    if let Some((kind, d)) = s.closed(tz) {
        out.push((key(d, kind), [1, s.amount, s.margin]));
    }
    out
}

/// The (grain, bucket) pairs a day counts in: its day, month and year.
fn buckets(d: NaiveDate) -> [(&'static str, String); 3] {
    [
        ("d", d.format("%Y-%m-%d").to_string()),
        ("m", d.format("%Y-%m").to_string()),
        ("y", d.format("%Y").to_string()),
    ]
}

/// The rows one fact counts in: everyone's with its dimensions, the person's
/// with its dimensions, and the person's with the dimensions collapsed (-1).
fn variants(person: i64) -> [(i64, bool); 3] {
    [(-1, false), (person, false), (person, true)]
}

/// A dimension's value in a variant: itself, or -1 where the dimensions collapse.
fn dim(collapse: bool, x: i64) -> i64 {
    if collapse {
        -1
    } else {
        x
    }
}

async fn add_deal(h: &mut impl Handle, k: &DealKey, m: [i64; 3], sign: i64) -> Result<()> {
    for (grain, bucket) in buckets(k.day) {
        for (owner, collapse) in variants(k.owner_key) {
            q("INSERT INTO fact_deals (grain, owner_key, bucket, kind, segment_key, source_key, pipeline_id, offer_key, currency, deals, amount, margin) \
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) \
               ON CONFLICT (grain, owner_key, bucket, kind, segment_key, source_key, pipeline_id, offer_key, currency) DO UPDATE SET \
               deals = fact_deals.deals + excluded.deals, amount = fact_deals.amount + excluded.amount, margin = fact_deals.margin + excluded.margin")
            .bind(grain)
            .bind(owner)
            .bind(bucket.clone())
            .bind(k.kind)
            .bind(dim(collapse, k.segment_key))
            .bind(dim(collapse, k.source_key))
            .bind(dim(collapse, k.pipeline_id))
            .bind(dim(collapse, k.offer_key))
            .bind(k.currency.clone())
            .bind(sign * m[0])
            .bind(sign * m[1])
            .bind(sign * m[2])
            .execute(h)
            .await?;
        }
    }
    Ok(())
}

/// Effort: done actions of a closed opportunity, by (day closed, kind, assignee, type, segment).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct EffortKey {
    day: NaiveDate,
    kind: &'static str,
    assignee_key: i64,
    type_id: i64,
    segment_key: i64,
}

async fn add_effort(h: &mut impl Handle, k: &EffortKey, m: [i64; 2], sign: i64) -> Result<()> {
    for (grain, bucket) in buckets(k.day) {
        for (who, collapse) in variants(k.assignee_key) {
            q("INSERT INTO fact_effort (grain, assignee_key, bucket, kind, type_id, segment_key, actions, minutes) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
               ON CONFLICT (grain, assignee_key, bucket, kind, type_id, segment_key) DO UPDATE SET \
               actions = fact_effort.actions + excluded.actions, minutes = fact_effort.minutes + excluded.minutes")
            .bind(grain)
            .bind(who)
            .bind(bucket.clone())
            .bind(k.kind)
            .bind(dim(collapse, k.type_id))
            .bind(dim(collapse, k.segment_key))
            .bind(sign * m[0])
            .bind(sign * m[1])
            .execute(h)
            .await?;
        }
    }
    Ok(())
}

/// The done actions of an opportunity: (assignee, type, count, minutes).
async fn opportunity_work(h: &mut impl Handle, id: i64) -> Result<Vec<(i64, i64, i64, i64)>> {
    Ok(q(
        "SELECT COALESCE(assignee_id, 0), type_id, COUNT(*), CAST(COALESCE(SUM(COALESCE(spent_min, 0)), 0) AS BIGINT) FROM actions \
         WHERE opportunity_id = $1 AND outcome = 'done' GROUP BY COALESCE(assignee_id, 0), type_id",
    )
    .bind(id)
    .fetch_all(h)
    .await?)
}

/// Applies an opportunity's change from `before` to `after` (None: absent).
/// Call it while its actions are still there (before a delete).
pub async fn apply_opportunity(h: &mut impl Handle, before: Option<&OppState>, after: Option<&OppState>) -> Result<()> {
    if before == after {
        return Ok(());
    }
    let tz = zone(h).await?;
    if let Some(b) = before {
        for (k, m) in deal_facts(b, tz) {
            add_deal(h, &k, m, -1).await?;
        }
    }
    if let Some(a) = after {
        for (k, m) in deal_facts(a, tz) {
            add_deal(h, &k, m, 1).await?;
        }
    }
    let closed_key = |s: Option<&OppState>| s.and_then(|s| s.closed(tz).map(|(kind, d)| (kind, d, s.segment_key)));
    let (kb, ka) = (closed_key(before), closed_key(after));
    if kb != ka {
        let id = before.or(after).map(|s| s.id).unwrap_or_default();
        let work = opportunity_work(h, id).await?;
        for (key, sign) in [(kb, -1), (ka, 1)] {
            let Some((kind, day, segment_key)) = key else { continue };
            for (assignee_key, type_id, n, minutes) in &work {
                let k = EffortKey {
                    day,
                    kind,
                    assignee_key: *assignee_key,
                    type_id: *type_id,
                    segment_key,
                };
                add_effort(h, &k, [*n, *minutes], sign).await?;
            }
        }
    }
    Ok(())
}

/// A done action as the facts see it.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ActState {
    pub done_at: i64,
    pub assignee_key: i64,
    pub type_id: i64,
    pub minutes: i64,
    /// The segment of the action's account (0 without one).
    pub segment_key: i64,
    /// The linked opportunity, if closed: its status, closing time and segment.
    pub opp_status: Option<String>,
    pub opp_closed_at: Option<i64>,
    pub opp_segment_key: i64,
}

fn act_cols(segment_of_account: &str) -> String {
    format!(
        "COALESCE(a.done_at, a.planned_at) AS done_at, COALESCE(a.assignee_id, 0) AS assignee_key, a.type_id, COALESCE(a.spent_min, 0) AS minutes, \
         COALESCE({segment_of_account}, 0) AS segment_key, o.status AS opp_status, o.closed_at AS opp_closed_at, COALESCE(o.segment_tag_id, 0) AS opp_segment_key"
    )
}

/// The segment tag of an action's account (`a.account_id`).
const SEGMENT_OF_ACTION: &str =
    "(SELECT MIN(rt.tag_id) FROM record_tags rt JOIN tags t ON t.id = rt.tag_id JOIN tag_categories tc ON tc.id = t.category_id \
     WHERE tc.is_segment = TRUE AND rt.entity = 'account' AND rt.record_id = a.account_id)";

/// Done actions matching a condition on `a` (and `o`, its opportunity).
async fn act_states(h: &mut impl Handle, condition: &str, id: i64) -> Result<Vec<ActState>> {
    Ok(q(format!(
        "SELECT {} FROM actions a LEFT JOIN opportunities o ON o.id = a.opportunity_id WHERE a.outcome = 'done' AND ({condition})",
        act_cols(SEGMENT_OF_ACTION)
    ))
    .bind(id)
    .fetch_all(h)
    .await?)
}

/// An action's contribution, if it is done.
pub async fn action_state(h: &mut impl Handle, id: i64) -> Result<Option<ActState>> {
    Ok(act_states(h, "a.id = $1", id).await?.pop())
}

async fn add_action(h: &mut impl Handle, tz: Tz, s: &ActState, sign: i64) -> Result<()> {
    for (grain, bucket) in buckets(day(tz, s.done_at)) {
        for (who, collapse) in variants(s.assignee_key) {
            q("INSERT INTO fact_actions (grain, assignee_key, bucket, type_id, segment_key, actions, minutes) VALUES ($1, $2, $3, $4, $5, $6, $7) \
               ON CONFLICT (grain, assignee_key, bucket, type_id, segment_key) DO UPDATE SET \
               actions = fact_actions.actions + excluded.actions, minutes = fact_actions.minutes + excluded.minutes")
            .bind(grain)
            .bind(who)
            .bind(bucket.clone())
            .bind(dim(collapse, s.type_id))
            .bind(dim(collapse, s.segment_key))
            .bind(sign)
            .bind(sign * s.minutes)
            .execute(h)
            .await?;
        }
    }
    if let (Some(status), Some(closed)) = (s.opp_status.as_deref(), s.opp_closed_at) {
        let kind = match status {
            "won" => "won",
            "lost" => "lost",
            _ => return Ok(()),
        };
        let k = EffortKey {
            day: day(tz, closed),
            kind,
            assignee_key: s.assignee_key,
            type_id: s.type_id,
            segment_key: s.opp_segment_key,
        };
        add_effort(h, &k, [1, s.minutes], sign).await?;
    }
    Ok(())
}

/// Applies a change of done actions (each list: the states before or after).
pub async fn apply_actions(h: &mut impl Handle, before: &[ActState], after: &[ActState]) -> Result<()> {
    if before == after {
        return Ok(());
    }
    let tz = zone(h).await?;
    for s in before {
        add_action(h, tz, s, -1).await?;
    }
    for s in after {
        add_action(h, tz, s, 1).await?;
    }
    Ok(())
}

/// The done actions of an account, for a change of its segment (their effort
/// moves with the account's opportunities).
pub async fn account_actions(h: &mut impl Handle, account_id: i64) -> Result<Vec<ActState>> {
    Ok(without_effort(act_states(h, "a.account_id = $1", account_id).await?))
}

/// Removes everything an account brings, before it is deleted: its
/// opportunities (with their effort) and the actions that go with it.
pub async fn forget_account(h: &mut impl Handle, account_id: i64) -> Result<()> {
    for s in opp_states_of_account(h, account_id).await? {
        apply_opportunity(h, Some(&s), None).await?;
    }
    // Actions on its opportunities: their effort went with the opportunities.
    let of_deals = act_states(
        h,
        "a.opportunity_id IN (SELECT id FROM opportunities WHERE account_id = $1)",
        account_id,
    )
    .await?;
    apply_actions(h, &without_effort(of_deals), &[]).await?;
    // Its other actions, some perhaps for another account's deal: all of them.
    let others = act_states(
        h,
        "a.account_id = $1 AND (a.opportunity_id IS NULL OR a.opportunity_id NOT IN (SELECT id FROM opportunities WHERE account_id = $1))",
        account_id,
    )
    .await?;
    apply_actions(h, &others, &[]).await
}

/// The same actions, leaving their opportunity's effort to the opportunity's
/// own change (so that it is not counted twice).
fn without_effort(acts: Vec<ActState>) -> Vec<ActState> {
    acts.into_iter()
        .map(|mut s| {
            s.opp_status = None;
            s
        })
        .collect()
}

/// Removes the done actions of an opportunity about to be deleted (they go with it).
pub async fn forget_opportunity_actions(h: &mut impl Handle, id: i64) -> Result<()> {
    let acts = act_states(h, "a.opportunity_id = $1", id).await?;
    apply_actions(h, &without_effort(acts), &[]).await
}

/// A fact_effort key: grain, person, bucket, kind, type, segment.
type EffortRow = (&'static str, i64, String, &'static str, i64, i64);
/// A done action read for a rebuild: id, when, who, type, minutes, segment, opportunity.
type DoneRow = (i64, i64, i64, i64, i64, i64, Option<i64>);

/// Recomputes every fact from the records, in the caller's transaction.
pub async fn rebuild(h: &mut impl Handle) -> Result<()> {
    let tz = zone(h).await?;
    for t in ["fact_deals", "fact_actions", "fact_effort"] {
        q(format!("DELETE FROM {t}")).execute(h).await?;
    }
    // Opportunities, in id ranges.
    let mut deals: HashMap<(&'static str, i64, String, DealKey), [i64; 3]> = HashMap::new();
    let mut closed: HashMap<i64, (&'static str, NaiveDate, i64)> = HashMap::new();
    let mut last = 0i64;
    loop {
        let page: Vec<OppState> = q(format!(
            "SELECT {OPP_COLS} FROM opportunities WHERE id > $1 ORDER BY id LIMIT 50000"
        ))
        .bind(last)
        .fetch_all(h)
        .await?;
        let Some(l) = page.last() else { break };
        last = l.id;
        for s in &page {
            if let Some((kind, d)) = s.closed(tz) {
                closed.insert(s.id, (kind, d, s.segment_key));
            }
            for (k, m) in deal_facts(s, tz) {
                for (grain, bucket) in buckets(k.day) {
                    for (owner, collapse) in variants(k.owner_key) {
                        // The bucket stands for the day (a month holds many).
                        let key = DealKey {
                            owner_key: owner,
                            day: NaiveDate::MIN,
                            segment_key: dim(collapse, k.segment_key),
                            source_key: dim(collapse, k.source_key),
                            pipeline_id: dim(collapse, k.pipeline_id),
                            offer_key: dim(collapse, k.offer_key),
                            ..k.clone()
                        };
                        let e = deals.entry((grain, owner, bucket.clone(), key)).or_default();
                        for i in 0..3 {
                            e[i] += m[i];
                        }
                    }
                }
            }
        }
    }
    let rows: Vec<Vec<Value>> = deals
        .into_iter()
        .map(|((grain, owner, bucket, k), m)| {
            vec![
                grain.into(),
                owner.into(),
                bucket.into(),
                k.kind.into(),
                k.segment_key.into(),
                k.source_key.into(),
                k.pipeline_id.into(),
                k.offer_key.into(),
                k.currency.into(),
                m[0].into(),
                m[1].into(),
                m[2].into(),
            ]
        })
        .collect();
    for chunk in rows.chunks(5000) {
        bulk_insert(
            h,
            "fact_deals",
            &[
                "grain",
                "owner_key",
                "bucket",
                "kind",
                "segment_key",
                "source_key",
                "pipeline_id",
                "offer_key",
                "currency",
                "deals",
                "amount",
                "margin",
            ],
            chunk,
        )
        .await?;
    }
    // Done actions, in id ranges, with their account's segment.
    let mut acts: HashMap<(&'static str, i64, String, i64, i64), [i64; 2]> = HashMap::new();
    let mut effort: HashMap<EffortRow, [i64; 2]> = HashMap::new();
    let mut last = 0i64;
    loop {
        let page: Vec<DoneRow> = q(format!(
            "SELECT a.id, COALESCE(a.done_at, a.planned_at), COALESCE(a.assignee_id, 0), a.type_id, COALESCE(a.spent_min, 0), \
             COALESCE({SEGMENT_OF_ACTION}, 0), a.opportunity_id FROM actions a WHERE a.outcome = 'done' AND a.id > $1 ORDER BY a.id LIMIT 50000"
        ))
        .bind(last)
        .fetch_all(h)
        .await?;
        let Some(l) = page.last() else { break };
        last = l.0;
        for (_, done_at, who, type_id, minutes, segment, opp) in page {
            for (grain, bucket) in buckets(day(tz, done_at)) {
                for (w, collapse) in variants(who) {
                    let e = acts
                        .entry((grain, w, bucket.clone(), dim(collapse, type_id), dim(collapse, segment)))
                        .or_default();
                    e[0] += 1;
                    e[1] += minutes;
                }
            }
            if let Some((kind, d, seg)) = opp.and_then(|o| closed.get(&o)) {
                for (grain, bucket) in buckets(*d) {
                    for (w, collapse) in variants(who) {
                        let e = effort
                            .entry((grain, w, bucket.clone(), *kind, dim(collapse, type_id), dim(collapse, *seg)))
                            .or_default();
                        e[0] += 1;
                        e[1] += minutes;
                    }
                }
            }
        }
    }
    let rows: Vec<Vec<Value>> = acts
        .into_iter()
        .map(|((g, w, b, t, s), m)| vec![g.into(), w.into(), b.into(), t.into(), s.into(), m[0].into(), m[1].into()])
        .collect();
    for chunk in rows.chunks(5000) {
        bulk_insert(
            h,
            "fact_actions",
            &["grain", "assignee_key", "bucket", "type_id", "segment_key", "actions", "minutes"],
            chunk,
        )
        .await?;
    }
    let rows: Vec<Vec<Value>> = effort
        .into_iter()
        .map(|((g, w, b, k, t, s), m)| vec![g.into(), w.into(), b.into(), k.into(), t.into(), s.into(), m[0].into(), m[1].into()])
        .collect();
    for chunk in rows.chunks(5000) {
        bulk_insert(
            h,
            "fact_effort",
            &[
                "grain",
                "assignee_key",
                "bucket",
                "kind",
                "type_id",
                "segment_key",
                "actions",
                "minutes",
            ],
            chunk,
        )
        .await?;
    }
    Ok(())
}
