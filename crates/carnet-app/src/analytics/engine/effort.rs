//! The effort and cost of winning and losing (done actions of closed deals): from the
//! effort facts, or recounted from the records.

use super::*;

/// Effort parts: [won actions, won minutes, lost actions, lost minutes, won cost,
/// lost cost, won deals].
pub(super) fn effort_values(kind: &str, n: i64, minutes: i64, hourly: i64) -> Vec<(usize, f64)> {
    let cost = minutes as f64 * hourly as f64 / 60.0;
    match kind {
        "won" => vec![(0, n as f64), (1, minutes as f64), (4, cost)],
        _ => vec![(2, n as f64), (3, minutes as f64), (5, cost)],
    }
}

/// The won deals an effort is divided by, grouped as the effort is (by owner for
/// a breakdown by person, by segment or time; not by action type).
pub(super) async fn won_deals(db: &Db, sales: &SalesCatalog, r: &Request, p: Period, source: Source, out: &mut Parts) -> Result<()> {
    let mut req = r.clone();
    req.metric = carnet_domain::metrics::find("opportunities_won").map_err(AppError::internal)?;
    req.filters.sources.clear();
    req.filters.types.clear();
    let by_type = r.breakdown == Some(Breakdown::ActionType);
    if by_type {
        req.breakdown = None;
    }
    let deals = match source {
        Source::Facts => deal_facts(db, sales, &req, p).await?,
        Source::Records => {
            let tz = facts::zone(&mut db.conn().await?).await?;
            deal_records(db, sales, tz, &req, p).await?
        }
    };
    let total: f64 = deals.values().map(|v| v[2]).sum();
    if by_type {
        for v in out.values_mut() {
            v[6] = total;
        }
    } else {
        for (k, v) in deals {
            add(out, k, 7, &[(6, v[2])]);
        }
    }
    Ok(())
}

pub(super) async fn effort_facts(db: &Db, sales: &SalesCatalog, r: &Request, p: Period) -> Result<Parts> {
    let f = &r.filters;
    let b = r.breakdown;
    let costs = crate::access::users::hourly_costs(db).await?;
    let other_dims = !(f.segments.is_empty() && f.types.is_empty()) || matches!(b, Some(Breakdown::Segment | Breakdown::ActionType));
    let g = match b {
        Some(Breakdown::Owner) => "assignee_key",
        other => group_column(other),
    };
    let mut out = Parts::new();
    for (grain, a, z) in ranges(p, b) {
        // Costs need each person's hours: always per person.
        let mut query = in_buckets(
            format!(
                "SELECT CAST({g} AS TEXT), kind, assignee_key, CAST(SUM(actions) AS BIGINT), CAST(SUM(minutes) AS BIGINT) FROM fact_effort"
            ),
            grain,
            &a,
            &z,
        );
        rows_for(&mut query, "assignee_key", &f.owners, true, other_dims);
        push_filter(&mut query, "segment_key", &f.segments);
        push_filter(&mut query, "type_id", &f.types);
        query.push(&format!(
            " GROUP BY {} HAVING SUM(actions) <> 0 OR SUM(minutes) <> 0",
            group_by(&[g, "kind", "assignee_key"])
        ));
        let rows: Vec<(String, String, i64, i64, i64)> = query.fetch_all(&mut db.conn().await?).await?;
        for (group, kind, who, n, minutes) in rows {
            let key = fact_group(b, grain, &group, sales);
            add(
                &mut out,
                key,
                7,
                &effort_values(&kind, n, minutes, costs.get(&who).copied().unwrap_or(0)),
            );
        }
    }
    won_deals(db, sales, r, p, Source::Facts, &mut out).await?;
    Ok(out)
}

pub(super) async fn effort_records(db: &Db, sales: &SalesCatalog, tz: Tz, r: &Request, p: Period) -> Result<Parts> {
    let f = &r.filters;
    let costs = crate::access::users::hourly_costs(db).await?;
    let (a, b) = instants(tz, p);
    const LINKS: Links = Links {
        account: "o.account_id",
        contact: "NULL",
        opportunity: "o.id",
    };
    let custom = custom_column(db, r.breakdown, &LINKS);
    let mut query = q(format!(
        "SELECT o.status, o.closed_at, COALESCE(a.assignee_id, 0), a.type_id, COALESCE(o.segment_tag_id, 0), COALESCE(a.spent_min, 0), {custom} \
         FROM actions a JOIN opportunities o ON o.id = a.opportunity_id \
         WHERE a.outcome = 'done' AND o.status IN ('won', 'lost') AND o.closed_at >= "
    ));
    query.push_bind(a).push(" AND o.closed_at < ").push_bind(b);
    push_filter(&mut query, "a.assignee_id", &f.owners);
    push_filter(&mut query, "COALESCE(o.segment_tag_id, 0)", &f.segments);
    push_filter(&mut query, "a.type_id", &f.types);
    push_catalogue_filters(&mut query, f, &LINKS);
    type R = (String, i64, i64, i64, i64, i64, Option<String>);
    let rows: Vec<R> = query.fetch_all(&mut db.conn().await?).await?;
    let mut out = Parts::new();
    for (status, closed, owner, action_type, segment, minutes, groups) in rows {
        let dims = Dims {
            owner,
            segment,
            action_type,
            custom: custom_groups(r.breakdown, groups),
            ..Dims::default()
        };
        let day = Some(facts::day(tz, closed));
        let values = effort_values(&status, 1, minutes, costs.get(&owner).copied().unwrap_or(0));
        add_record(&mut out, r.breakdown, &dims, day, sales, 7, &values);
    }
    won_deals(db, sales, r, p, Source::Records, &mut out).await?;
    Ok(out)
}
