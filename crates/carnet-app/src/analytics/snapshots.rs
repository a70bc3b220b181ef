//! History (K3): the open pipeline (count, amount and weighted amount per
//! pipeline, stage, owner and segment) and the segment sizes as they were at the
//! end of each day, so that "the pipeline on 1 March" is what it was then.
//!
//! A day's snapshot is taken once, by a job that runs at the end of that day in
//! the reporting zone ([`take`]), and never overwritten. When the end of the day
//! was missed (no node running), the pipeline is rebuilt from the stage history
//! instead ([`backfill`], with today's owners, segments and amounts: the history
//! does not keep their changes) and the segment sizes of that day stay unknown.
//! `snapshot_days` says which days are recorded, and how. The weighted amount
//! is stored exact, in cent-percents (Σ amount × probability).

use crate::db::{q, Db, Handle, Tx};
use crate::error::Result;
use chrono::{Duration, NaiveDate};
use std::collections::HashMap;

/// How late after the end of a day its state may still be taken as that day's.
pub const GRACE_SECS: i64 = 15 * 60;

/// When `day` ends in the reporting zone (its snapshot is due then).
pub async fn day_end(db: &Db, day: NaiveDate) -> Result<i64> {
    let tz = super::facts::zone(&mut db.conn().await?).await?;
    Ok(carnet_domain::time::day_start(tz, day + Duration::days(1)))
}

/// Whether `day` has its `kind` (`pipeline` or `segments`) recorded.
pub async fn recorded(h: &mut impl Handle, day: NaiveDate, kind: &str) -> Result<bool> {
    let found: Option<String> = q("SELECT source FROM snapshot_days WHERE day = $1 AND kind = $2")
        .bind(day.to_string())
        .bind(kind)
        .scalar_opt(h)
        .await?;
    Ok(found.is_some())
}

async fn mark(tx: &mut Tx, day: NaiveDate, kind: &str, source: &str) -> Result<()> {
    q("INSERT INTO snapshot_days (day, kind, source, taken_at) VALUES ($1, $2, $3, $4) ON CONFLICT (day, kind) DO NOTHING")
        .bind(day.to_string())
        .bind(kind)
        .bind(source)
        .bind(tx.now())
        .execute(tx)
        .await?;
    Ok(())
}

/// Records `day`'s snapshot, once: the pipeline and segment sizes as they are
/// now when the day has just ended (within [`GRACE_SECS`]), the pipeline
/// rebuilt from the stage history when its end was missed; nothing before the
/// day has ended, nothing over a day already recorded.
pub async fn take(db: &Db, day: NaiveDate) -> Result<()> {
    let end = day_end(db, day).await?;
    let now = db.now();
    if now < end {
        return Ok(());
    }
    if now > end + GRACE_SECS {
        backfill(db, day, day).await?;
        return Ok(());
    }
    let mut tx = db.begin().await?;
    if recorded(&mut tx, day, "pipeline").await? {
        return Ok(());
    }
    let d = day.to_string();
    q("INSERT INTO pipeline_snapshots (day, pipeline_id, stage_id, owner_key, segment_key, currency, deals, amount, weighted) \
       SELECT $1, p.pipeline_id, p.stage_id, p.owner_key, p.segment_key, p.currency, CAST(SUM(p.deals) AS BIGINT), CAST(SUM(p.amount) AS BIGINT), \
       CAST(SUM(p.amount * s.probability) AS BIGINT) FROM open_pipeline p JOIN stages s ON s.id = p.stage_id \
       GROUP BY p.pipeline_id, p.stage_id, p.owner_key, p.segment_key, p.currency HAVING SUM(p.deals) <> 0")
    .bind(d.clone())
    .execute(&mut tx)
    .await?;
    q("INSERT INTO segment_snapshots (day, tag_id, accounts) SELECT $1, rt.tag_id, COUNT(*) FROM record_tags rt JOIN tags t ON t.id = rt.tag_id \
       JOIN tag_categories tc ON tc.id = t.category_id WHERE tc.is_segment = TRUE AND rt.entity = 'account' GROUP BY rt.tag_id")
    .bind(d)
    .execute(&mut tx)
    .await?;
    stalled_at(&mut tx, day, end).await?;
    mark(&mut tx, day, "pipeline", "live").await?;
    mark(&mut tx, day, "segments", "live").await?;
    tx.commit().await?;
    Ok(())
}

/// Sets how many of each group's deals are stalled at `end` (entered their
/// stage more than its `stall_days` before), on `day`'s snapshot rows.
async fn stalled_at(tx: &mut Tx, day: NaiveDate, end: i64) -> Result<()> {
    let d = day.to_string();
    q("UPDATE pipeline_snapshots SET stalled = 0 WHERE day = $1")
        .bind(d.clone())
        .execute(&mut *tx)
        .await?;
    let groups: Vec<(i64, i64, i64, i64, String, i64)> = q(
        "SELECT o.pipeline_id, o.stage_id, COALESCE(o.owner_id, 0), COALESCE(o.segment_tag_id, 0), o.currency, COUNT(*) \
         FROM opportunities o JOIN stages s ON s.id = o.stage_id \
         WHERE o.status = 'open' AND s.stall_days IS NOT NULL AND s.stall_days > 0 AND o.stage_entered_at < $1 - s.stall_days * 86400 \
         GROUP BY o.pipeline_id, o.stage_id, COALESCE(o.owner_id, 0), COALESCE(o.segment_tag_id, 0), o.currency",
    )
    .bind(end)
    .fetch_all(&mut *tx)
    .await?;
    for (pipeline, stage, owner, segment, currency, n) in groups {
        q(
            "UPDATE pipeline_snapshots SET stalled = $1 WHERE day = $2 AND pipeline_id = $3 AND stage_id = $4 AND owner_key = $5 \
           AND segment_key = $6 AND currency = $7",
        )
        .bind(n)
        .bind(d.clone())
        .bind(pipeline)
        .bind(stage)
        .bind(owner)
        .bind(segment)
        .bind(currency)
        .execute(&mut *tx)
        .await?;
    }
    Ok(())
}

/// A snapshot row's key: pipeline, stage, owner, segment, currency.
type SnapshotKey = (i64, i64, i64, i64, String);

/// Rebuilds the pipeline snapshots of the days from `from` to `to` (included)
/// from the stage history; days already recorded are left alone.
pub async fn backfill(db: &Db, from: NaiveDate, to: NaiveDate) -> Result<usize> {
    let mut c = db.conn().await?;
    let tz = super::facts::zone(&mut c).await?;
    let opps: Vec<(i64, i64, i64, i64, i64, String, i64)> = q(
        "SELECT id, created_at, pipeline_id, COALESCE(owner_id, 0), COALESCE(segment_tag_id, 0), currency, amount FROM opportunities ORDER BY id",
    )
    .fetch_all(&mut c)
    .await?;
    let moves: Vec<(i64, i64, i64)> =
        q("SELECT opportunity_id, to_stage_id, moved_at FROM stage_history ORDER BY opportunity_id, moved_at, id")
            .fetch_all(&mut c)
            .await?;
    let stages: HashMap<i64, (String, i64, i64)> = q("SELECT id, outcome, probability, COALESCE(stall_days, 0) FROM stages")
        .fetch_all::<(i64, String, i64, i64)>(&mut c)
        .await?
        .into_iter()
        .map(|(id, o, p, stall)| (id, (o, p, stall)))
        .collect();
    let done: Vec<(String,)> = q("SELECT day FROM snapshot_days WHERE kind = 'pipeline'").fetch_all(&mut c).await?;
    drop(c);
    let done: std::collections::HashSet<String> = done.into_iter().map(|(d,)| d).collect();
    let mut by_opp: HashMap<i64, Vec<(i64, i64)>> = HashMap::new();
    for (o, stage, at) in moves {
        by_opp.entry(o).or_default().push((at, stage));
    }
    let mut days = 0;
    let mut day = from;
    while day <= to {
        if done.contains(&day.to_string()) {
            day += Duration::days(1);
            continue;
        }
        let end = carnet_domain::time::day_start(tz, day + Duration::days(1));
        if end > db.now() {
            // A day not over yet has no history.
            break;
        }
        let mut sums: HashMap<SnapshotKey, (i64, i64, i64, i64)> = HashMap::new();
        for (id, created, pipeline, owner, segment, currency, amount) in &opps {
            if *created >= end {
                continue;
            }
            let Some((entered, stage)) = by_opp.get(id).and_then(|m| m.iter().rfind(|(at, _)| *at < end)).copied() else {
                continue;
            };
            let Some((outcome, prob, stall)) = stages.get(&stage) else {
                continue;
            };
            if outcome != "open" {
                continue;
            }
            let e = sums.entry((*pipeline, stage, *owner, *segment, currency.clone())).or_default();
            e.0 += 1;
            e.1 += amount;
            e.2 += amount * prob;
            if *stall > 0 && entered < end - stall * 86_400 {
                e.3 += 1;
            }
        }
        let mut tx = db.begin().await?;
        if recorded(&mut tx, day, "pipeline").await? {
            day += Duration::days(1);
            continue;
        }
        for ((pipeline, stage, owner, segment, currency), (n, amount, weighted, stalled)) in sums {
            insert(
                &mut tx,
                day,
                pipeline,
                stage,
                owner,
                segment,
                &currency,
                [n, amount, weighted, stalled],
            )
            .await?;
        }
        mark(&mut tx, day, "pipeline", "history").await?;
        tx.commit().await?;
        days += 1;
        day += Duration::days(1);
    }
    Ok(days)
}

#[allow(clippy::too_many_arguments)]
async fn insert(
    h: &mut impl Handle,
    day: NaiveDate,
    pipeline: i64,
    stage: i64,
    owner: i64,
    segment: i64,
    currency: &str,
    m: [i64; 4],
) -> Result<()> {
    q(
        "INSERT INTO pipeline_snapshots (day, pipeline_id, stage_id, owner_key, segment_key, currency, deals, amount, weighted, stalled) \
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(day.to_string())
    .bind(pipeline)
    .bind(stage)
    .bind(owner)
    .bind(segment)
    .bind(currency)
    .bind(m[0])
    .bind(m[1])
    .bind(m[2])
    .bind(m[3])
    .execute(h)
    .await?;
    Ok(())
}
