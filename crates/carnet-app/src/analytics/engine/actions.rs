//! Done actions and time spent: from the action facts, or recounted from the records.

use super::*;

pub(super) async fn action_facts(db: &Db, r: &Request, p: Period) -> Result<Parts> {
    let f = &r.filters;
    let b = r.breakdown;
    let per_person = b == Some(Breakdown::Owner);
    let other_dims = !(f.segments.is_empty() && f.types.is_empty()) || matches!(b, Some(Breakdown::Segment | Breakdown::ActionType));
    let g = match b {
        Some(Breakdown::Owner) => "assignee_key",
        other => group_column(other),
    };
    let sales = SalesCatalog::default();
    let mut out = Parts::new();
    for (grain, a, z) in ranges(p, b) {
        let mut query = in_buckets(format!(
            "SELECT CAST({g} AS TEXT), CAST(COALESCE(SUM(actions), 0) AS BIGINT), CAST(COALESCE(SUM(minutes), 0) AS BIGINT) FROM fact_actions"
        ), grain, &a, &z);
        rows_for(&mut query, "assignee_key", &f.owners, per_person, other_dims);
        push_filter(&mut query, "segment_key", &f.segments);
        push_filter(&mut query, "type_id", &f.types);
        // Without a breakdown: one sum (PostgreSQL refuses a constant to group by).
        if g != "''" {
            query.push(&format!(" GROUP BY {g} HAVING SUM(actions) <> 0 OR SUM(minutes) <> 0"));
        }
        let rows: Vec<(String, i64, i64)> = query.fetch_all(&mut db.conn().await?).await?;
        for (group, n, minutes) in rows {
            add(
                &mut out,
                fact_group(b, grain, &group, &sales),
                2,
                &[(0, n as f64), (1, minutes as f64)],
            );
        }
    }
    Ok(out)
}

/// The segment tag of an action's account, for raw queries on `actions a`.
pub(super) const SEGMENT_OF_ACTION: &str =
    "COALESCE((SELECT MIN(rt.tag_id) FROM record_tags rt JOIN tags t ON t.id = rt.tag_id JOIN tag_categories tc ON tc.id = t.category_id \
     WHERE tc.is_segment = TRUE AND rt.entity = 'account' AND rt.record_id = a.account_id), 0)";

pub(super) async fn action_records(db: &Db, tz: Tz, r: &Request, p: Period) -> Result<Parts> {
    let f = &r.filters;
    let (a, b) = instants(tz, p);
    const LINKS: Links = Links {
        account: "a.account_id",
        contact: "a.contact_id",
        opportunity: "a.opportunity_id",
    };
    let custom = custom_column(db, r.breakdown, &LINKS);
    let mut query = q(format!(
        "SELECT COALESCE(a.done_at, a.planned_at), COALESCE(a.assignee_id, 0), a.type_id, {SEGMENT_OF_ACTION}, COALESCE(a.spent_min, 0), {custom} \
         FROM actions a WHERE a.outcome = 'done' AND COALESCE(a.done_at, a.planned_at) >= "
    ));
    query.push_bind(a).push(" AND COALESCE(a.done_at, a.planned_at) < ").push_bind(b);
    push_filter(&mut query, "a.assignee_id", &f.owners);
    push_filter(&mut query, SEGMENT_OF_ACTION, &f.segments);
    push_filter(&mut query, "a.type_id", &f.types);
    push_catalogue_filters(&mut query, f, &LINKS);
    let rows: Vec<(i64, i64, i64, i64, i64, Option<String>)> = query.fetch_all(&mut db.conn().await?).await?;
    let sales = SalesCatalog::default();
    let mut out = Parts::new();
    for (at, owner, action_type, segment, minutes, groups) in rows {
        let dims = Dims {
            owner,
            segment,
            action_type,
            custom: custom_groups(r.breakdown, groups),
            ..Dims::default()
        };
        let day = Some(facts::day(tz, at));
        add_record(&mut out, r.breakdown, &dims, day, &sales, 2, &[(0, 1.0), (1, minutes as f64)]);
    }
    Ok(out)
}
