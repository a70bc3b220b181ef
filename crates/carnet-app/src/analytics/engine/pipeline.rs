//! Today's open pipeline (the maintained totals) and a past day's (the snapshots).
//! Deals are counted whatever their currency; amounts are summed in the
//! request's currency only.

use super::*;

/// A snapshot group: pipeline, stage, owner, segment, deals, amount, weighted, currency.
type SnapshotRow = (i64, i64, i64, i64, i64, i64, i64, String);

/// The open pipeline at the end of the period: today's maintained totals, or
/// the snapshot of a past day.
pub(super) async fn pipeline(
    db: &Db,
    sales: &SalesCatalog,
    tz: Tz,
    r: &Request,
    p: Period,
    source: Source,
) -> Result<(Parts, &'static str)> {
    let f = &r.filters;
    let today = facts::day(tz, db.now());
    // The weighted amount is kept exact, in cent-percents (amount × probability),
    // and divided once, in the metric's formula: live, snapshot and backfill alike.
    let prob = |stage: i64| sales.stage(stage).map(|(_, s)| s.probability).unwrap_or(0);
    let mut out = Parts::new();
    let mut put = |dims: Dims, n: i64, currency: &str, amount: i64, weighted: i64| {
        let (amount, weighted) = if currency == f.currency { (amount, weighted) } else { (0, 0) };
        let key = group_key(r.breakdown, &dims, None, sales);
        add(&mut out, key, 3, &[(0, n as f64), (1, amount as f64), (2, weighted as f64)]);
    };
    let filters = |query: &mut Q, owner: &str, segment: &str| {
        push_filter(query, owner, &f.owners);
        push_filter(query, segment, &f.segments);
        push_filter(query, "pipeline_id", &f.pipelines);
        push_filter(query, "stage_id", &f.stages);
    };
    if p.to < today {
        let mut query = q(
            "SELECT pipeline_id, stage_id, owner_key, segment_key, CAST(SUM(deals) AS BIGINT), CAST(SUM(amount) AS BIGINT), \
                           CAST(SUM(weighted) AS BIGINT), currency FROM pipeline_snapshots WHERE day = ",
        );
        query.push_bind(p.to.to_string());
        filters(&mut query, "owner_key", "segment_key");
        query.push(" GROUP BY pipeline_id, stage_id, owner_key, segment_key, currency");
        let rows: Vec<SnapshotRow> = query.fetch_all(&mut db.conn().await?).await?;
        if !crate::analytics::snapshots::recorded(&mut db.conn().await?, p.to, "pipeline").await? {
            return Err(AppError::field(
                "period",
                format!("there is no snapshot of the pipeline on {}", p.to),
            ));
        }
        for (pipeline, stage, owner, segment, n, amount, weighted, currency) in rows {
            let dims = Dims {
                owner,
                segment,
                pipeline,
                stage,
                ..Dims::default()
            };
            put(dims, n, &currency, amount, weighted);
        }
        return Ok((out, "snapshot"));
    }
    let rows: Vec<(i64, i64, i64, i64, i64, i64, String)> = match source {
        // The company's pipeline: the per-stage totals (a few rows).
        Source::Facts
            if f.owners.is_empty() && f.segments.is_empty() && !matches!(r.breakdown, Some(Breakdown::Owner | Breakdown::Segment)) =>
        {
            let mut query = q("SELECT pipeline_id, stage_id, CAST(0 AS BIGINT), CAST(0 AS BIGINT), CAST(SUM(deals) AS BIGINT), CAST(SUM(amount) AS BIGINT), \
                               currency FROM open_stage WHERE 1 = 1");
            push_filter(&mut query, "pipeline_id", &f.pipelines);
            push_filter(&mut query, "stage_id", &f.stages);
            query.push(" GROUP BY pipeline_id, stage_id, currency");
            query.fetch_all(&mut db.conn().await?).await?
        }
        Source::Facts => {
            // Grouped by what the figure needs: the stage (its probability) and
            // the owner or segment.
            let (o, sg) = match r.breakdown {
                Some(Breakdown::Owner) => ("owner_key", "CAST(0 AS BIGINT)"),
                Some(Breakdown::Segment) => ("CAST(0 AS BIGINT)", "segment_key"),
                _ => ("CAST(0 AS BIGINT)", "CAST(0 AS BIGINT)"),
            };
            let mut query = q(format!(
                "SELECT pipeline_id, stage_id, {o}, {sg}, CAST(SUM(deals) AS BIGINT), CAST(SUM(amount) AS BIGINT), currency FROM open_pipeline WHERE 1 = 1"
            ));
            filters(&mut query, "owner_key", "segment_key");
            query.push(&format!(" GROUP BY {}", group_by(&["pipeline_id", "stage_id", o, sg, "currency"])));
            query.fetch_all(&mut db.conn().await?).await?
        }
        Source::Records => {
            let mut query = q(
                "SELECT pipeline_id, stage_id, COALESCE(owner_id, 0), COALESCE(segment_tag_id, 0), CAST(1 AS BIGINT), amount, currency \
                               FROM opportunities WHERE status = 'open'",
            );
            filters(&mut query, "COALESCE(owner_id, 0)", "COALESCE(segment_tag_id, 0)");
            query.fetch_all(&mut db.conn().await?).await?
        }
    };
    for (pipeline, stage, owner, segment, n, amount, currency) in rows {
        let dims = Dims {
            owner,
            segment,
            pipeline,
            stage,
            ..Dims::default()
        };
        put(dims, n, &currency, amount, amount * prob(stage));
    }
    Ok((out, "live"))
}
