//! Opportunities created, won and lost: from the deal facts, or recounted from the records.
//!
//! Counts take every deal whatever its currency; amounts and margins are summed
//! in the request's currency only (the company's by default), and part 7 counts
//! the won deals in that currency, so that an average basket divides amounts by
//! the deals they come from.

use super::*;

pub(super) async fn deal_facts(db: &Db, sales: &SalesCatalog, r: &Request, p: Period) -> Result<Parts> {
    let f = &r.filters;
    let b = r.breakdown;
    let per_person = b == Some(Breakdown::Owner);
    let other_dims = !(f.segments.is_empty() && f.sources.is_empty() && f.pipelines.is_empty() && f.offers.is_empty())
        || matches!(
            b,
            Some(Breakdown::Segment | Breakdown::Source | Breakdown::SourceKind | Breakdown::Pipeline | Breakdown::Offer)
        );
    let g = group_column(b);
    let mut out = Parts::new();
    for (grain, a, z) in ranges(p, b) {
        let mut query = in_buckets(format!(
            "SELECT CAST({g} AS TEXT), kind, currency, CAST(SUM(deals) AS BIGINT), CAST(SUM(amount) AS BIGINT), CAST(SUM(margin) AS BIGINT) FROM fact_deals"
        ), grain, &a, &z);
        rows_for(&mut query, "owner_key", &f.owners, per_person, other_dims);
        push_filter(&mut query, "segment_key", &f.segments);
        push_filter(&mut query, "source_key", &f.sources);
        push_filter(&mut query, "pipeline_id", &f.pipelines);
        push_filter(&mut query, "offer_key", &f.offers);
        // Rows brought back to zero by later changes are skipped.
        query.push(&format!(
            " GROUP BY {} HAVING SUM(deals) <> 0 OR SUM(amount) <> 0 OR SUM(margin) <> 0",
            group_by(&[g, "kind", "currency"])
        ));
        let rows: Vec<(String, String, String, i64, i64, i64)> = query.fetch_all(&mut db.conn().await?).await?;
        for (group, kind, currency, n, amount, margin) in rows {
            add(
                &mut out,
                fact_group(b, grain, &group, sales),
                WIDTH,
                &deal_values(&kind, n, amount, margin, currency == f.currency),
            );
        }
    }
    Ok(out)
}

/// The parts of the deal family.
const WIDTH: usize = 8;

/// A group of `n` deals' parts: counts always, money only in the request's
/// currency (`in_currency`).
pub(super) fn deal_values(kind: &str, n: i64, amount: i64, margin: i64, in_currency: bool) -> Vec<(usize, f64)> {
    let money = |x: i64| if in_currency { x as f64 } else { 0.0 };
    match kind {
        "created" => vec![(0, n as f64), (1, money(amount))],
        "won" => vec![(2, n as f64), (3, money(amount)), (4, money(margin)), (7, money(n))],
        _ => vec![(5, n as f64), (6, money(amount))],
    }
}

pub(super) async fn deal_records(db: &Db, sales: &SalesCatalog, tz: Tz, r: &Request, p: Period) -> Result<Parts> {
    let f = &r.filters;
    let (a, b) = instants(tz, p);
    const LINKS: Links = Links {
        account: "opportunities.account_id",
        contact: "NULL",
        opportunity: "opportunities.id",
    };
    let custom = custom_column(db, r.breakdown, &LINKS);
    // The account's status costs a lookup per deal: only for that breakdown.
    let status = if r.breakdown == Some(Breakdown::Status) {
        "COALESCE((SELECT a.status_id FROM accounts a WHERE a.id = opportunities.account_id), 0)"
    } else {
        "CAST(0 AS BIGINT)"
    };
    let mut query = q(format!(
        "SELECT created_at, closed_at, status, COALESCE(owner_id, 0), COALESCE(segment_tag_id, 0), COALESCE(source_id, 0), \
                       pipeline_id, COALESCE(offer_id, 0), amount, COALESCE(margin, 0), {status}, {custom} \
         , currency FROM opportunities WHERE "
    ));
    query.push("((created_at >= ").push_bind(a).push(" AND created_at < ").push_bind(b);
    query
        .push(") OR (status IN ('won', 'lost') AND closed_at >= ")
        .push_bind(a)
        .push(" AND closed_at < ")
        .push_bind(b)
        .push("))");
    push_filter(&mut query, "owner_id", &f.owners);
    push_filter(&mut query, "COALESCE(segment_tag_id, 0)", &f.segments);
    push_filter(&mut query, "COALESCE(source_id, 0)", &f.sources);
    push_filter(&mut query, "pipeline_id", &f.pipelines);
    push_filter(&mut query, "COALESCE(offer_id, 0)", &f.offers);
    push_catalogue_filters(&mut query, f, &LINKS);
    type R = (
        i64,
        Option<i64>,
        String,
        i64,
        i64,
        i64,
        i64,
        i64,
        i64,
        i64,
        i64,
        Option<String>,
        String,
    );
    let rows: Vec<R> = query.fetch_all(&mut db.conn().await?).await?;
    let mut out = Parts::new();
    for (created, closed, status, owner, segment, source, pipeline, offer, amount, margin, account_status, groups, currency) in rows {
        let same = currency == f.currency;
        let dims = Dims {
            owner,
            status: account_status,
            segment,
            source,
            pipeline,
            offer,
            custom: custom_groups(r.breakdown, groups),
            ..Dims::default()
        };
        if created >= a && created < b {
            let (day, values) = (Some(facts::day(tz, created)), deal_values("created", 1, amount, margin, same));
            add_record(&mut out, r.breakdown, &dims, day, sales, WIDTH, &values);
        }
        if let Some(cl) = closed.filter(|t| *t >= a && *t < b && (status == "won" || status == "lost")) {
            let (day, values) = (Some(facts::day(tz, cl)), deal_values(&status, 1, amount, margin, same));
            add_record(&mut out, r.breakdown, &dims, day, sales, WIDTH, &values);
        }
    }
    Ok(out)
}
