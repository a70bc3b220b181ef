//! The metrics computed from the records through indexes rather than facts:
//! stalled opportunities (a count of today's open deals by their age in stage),
//! leads from marketing and their conversion (bounded by the contacts created
//! in the period), customer acquisition cost and lifetime value (per new or
//! existing customer), segment sizes (today's tags, or the daily snapshot), and
//! the email rates (the messages handed to the relay in the period, through the
//! outbox's time indexes), and the website's page views, visits and visitors
//! (through the page views' time order).
//! None is in the home strip or the default dashboard by default.

use super::facts;
use super::parts::{add, instants, Parts, Request};
use crate::db::{push_in_list, q, Db, Q};
use crate::error::{AppError, Result};
use carnet_domain::metrics::{week_key, Breakdown, Period};
use carnet_domain::sales::SalesCatalog;
use chrono_tz::Tz;
use std::collections::HashMap;

/// A message handed to the relay, as the email rates count it.
#[derive(sqlx::FromRow)]
struct EmailRow {
    owner: i64,
    template: String,
    status: String,
    at: i64,
    tracking: bool,
    opened: bool,
    clicked: bool,
    unsubscribed: bool,
    bounced: bool,
}

fn time_key(b: Option<Breakdown>, tz: Tz, t: i64) -> Option<String> {
    let d = facts::day(tz, t);
    match b {
        Some(Breakdown::Day) => Some(d.to_string()),
        Some(Breakdown::Week) => Some(week_key(d)),
        Some(Breakdown::Month) => Some(d.format("%Y-%m").to_string()),
        _ => None,
    }
}

/// The period cut at each day, week or month boundary of the breakdown: each
/// piece's key and instants.
fn split_instants(tz: Tz, b: Option<Breakdown>, p: Period) -> Vec<(Option<String>, i64, i64)> {
    let mut out: Vec<(Option<String>, i64, i64)> = Vec::new();
    let mut d = p.from;
    while d <= p.to {
        let (a, z) = instants(tz, Period { from: d, to: d });
        let key = time_key(b, tz, a);
        match out.last_mut() {
            Some(last) if last.0 == key => last.2 = z,
            _ => out.push((key, a, z)),
        }
        d = d.succ_opt().expect("a day after");
    }
    out
}

fn filter(query: &mut Q, col: &str, ids: &[i64]) {
    if !ids.is_empty() {
        query.push(&format!(" AND {col} IN "));
        push_in_list(query, ids);
    }
}

/// The segment tag of an account `acc`.
fn segment_of(account: &str) -> String {
    format!(
        "COALESCE((SELECT MIN(rt.tag_id) FROM record_tags rt JOIN tags t ON t.id = rt.tag_id JOIN tag_categories tc ON tc.id = t.category_id \
         WHERE tc.is_segment = TRUE AND rt.entity = 'account' AND rt.record_id = {account}), 0)"
    )
}

/// Marketing sources' names, lower-cased (contacts carry their source as text).
fn marketing_sources(sales: &SalesCatalog) -> Vec<String> {
    sales
        .sources
        .iter()
        .filter(|s| s.kind == "marketing")
        .map(|s| s.name.to_lowercase())
        .collect()
}

/// Contacts `c` created in [a, z) that are leads from marketing: created by
/// a form, or with a marketing source typed by a person.
fn marketing_leads(query: &mut crate::db::Q, sources: &[String], a: i64, z: i64) {
    query
        .push("c.created_at >= ")
        .push_bind(a)
        .push(" AND c.created_at < ")
        .push_bind(z)
        .push(" AND (c.source_form_id IS NOT NULL");
    if !sources.is_empty() {
        query.push(" OR LOWER(c.source) IN ");
        push_in_list(query, sources);
    }
    query.push(")");
}

pub async fn parts(db: &Db, sales: &SalesCatalog, tz: Tz, r: &Request, p: Period) -> Result<Parts> {
    let f = &r.filters;
    let b = r.breakdown;
    let (a, z) = instants(tz, p);
    let mut out = Parts::new();
    let mut c = db.conn().await?;
    match r.metric.id {
        "stalled_opportunities" if p.to < facts::day(tz, db.now()) => {
            // A past period: the deals stalled at its end, from that day's snapshot.
            if !super::snapshots::recorded(&mut c, p.to, "pipeline").await? {
                return Err(AppError::field(
                    "period",
                    format!("there is no snapshot of the pipeline on {}", p.to),
                ));
            }
            let unknown: i64 = q("SELECT COUNT(*) FROM pipeline_snapshots WHERE day = $1 AND stalled IS NULL")
                .bind(p.to.to_string())
                .scalar(&mut c)
                .await?;
            if unknown > 0 {
                return Err(AppError::field("period", format!("stalled deals were not recorded on {}", p.to)));
            }
            let mut query = q("SELECT owner_key, pipeline_id, stage_id, CAST(SUM(stalled) AS BIGINT) FROM pipeline_snapshots WHERE day = ");
            query.push_bind(p.to.to_string());
            filter(&mut query, "owner_key", &f.owners);
            filter(&mut query, "pipeline_id", &f.pipelines);
            filter(&mut query, "stage_id", &f.stages);
            query.push(" GROUP BY owner_key, pipeline_id, stage_id");
            let rows: Vec<(i64, i64, i64, i64)> = query.fetch_all(&mut c).await?;
            for (owner, pipeline, stage, n) in rows {
                add(&mut out, stalled_key(b, owner, pipeline, stage), 2, &[(0, n as f64)]);
            }
        }
        "stalled_opportunities" => {
            let mut query = q(
                "SELECT COALESCE(o.owner_id, 0), o.pipeline_id, o.stage_id FROM opportunities o JOIN stages s ON s.id = o.stage_id \
                               WHERE o.status = 'open' AND s.stall_days IS NOT NULL AND s.stall_days > 0 AND o.stage_entered_at < ",
            );
            query.push_bind(db.now()).push(" - s.stall_days * 86400");
            filter(&mut query, "o.owner_id", &f.owners);
            filter(&mut query, "o.pipeline_id", &f.pipelines);
            filter(&mut query, "o.stage_id", &f.stages);
            let rows: Vec<(i64, i64, i64)> = query.fetch_all(&mut c).await?;
            for (owner, pipeline, stage) in rows {
                add(&mut out, stalled_key(b, owner, pipeline, stage), 2, &[(0, 1.0)]);
            }
        }
        "leads_from_marketing" | "lead_conversion" => {
            let sources = marketing_sources(sales);
            let mut query = q("SELECT c.id, c.created_at, COALESCE(c.owner_id, 0) FROM contacts c WHERE ");
            marketing_leads(&mut query, &sources, a, z);
            filter(&mut query, "c.owner_id", &f.owners);
            let leads: Vec<(i64, i64, i64)> = query.fetch_all(&mut c).await?;
            let steps: HashMap<i64, (bool, bool)> = if r.metric.id == "lead_conversion" && !leads.is_empty() {
                // An opportunity on one of the lead's accounts, created after the lead; won or not.
                let ids: Vec<i64> = leads.iter().map(|l| l.0).collect();
                let mut found = HashMap::new();
                for chunk in ids.chunks(500) {
                    let mut sq = q(
                        "SELECT ac.contact_id, o.status FROM account_contacts ac JOIN opportunities o ON o.account_id = ac.account_id \
                                    JOIN contacts c ON c.id = ac.contact_id WHERE o.created_at >= c.created_at AND ac.contact_id IN ",
                    );
                    push_in_list(&mut sq, chunk);
                    let rows: Vec<(i64, String)> = sq.fetch_all(&mut c).await?;
                    for (contact, status) in rows {
                        let e = found.entry(contact).or_insert((false, false));
                        e.0 = true;
                        e.1 |= status == "won";
                    }
                }
                found
            } else {
                HashMap::new()
            };
            for (id, created, owner) in leads {
                let key = match b {
                    Some(Breakdown::Owner) => owner.to_string(),
                    _ => time_key(b, tz, created).unwrap_or_default(),
                };
                let (opp, won) = steps.get(&id).copied().unwrap_or((false, false));
                let n = if r.metric.id == "lead_conversion" { 3 } else { 2 };
                let step = |x: bool| if x { 1.0 } else { 0.0 };
                let mut v = vec![(0, 1.0), (1, step(opp))];
                if n == 3 {
                    v.push((2, step(won)));
                }
                add(&mut out, key, n, &v);
            }
        }
        "qualified_leads" => {
            let mut query = q("SELECT c.qualified_at, COALESCE(c.owner_id, 0) FROM contacts c WHERE c.qualified_at >= ");
            query.push_bind(a).push(" AND c.qualified_at < ").push_bind(z);
            filter(&mut query, "c.owner_id", &f.owners);
            let rows: Vec<(i64, i64)> = query.fetch_all(&mut c).await?;
            for (at, owner) in rows {
                let key = match b {
                    Some(Breakdown::Owner) => owner.to_string(),
                    _ => time_key(b, tz, at).unwrap_or_default(),
                };
                add(&mut out, key, 1, &[(0, 1.0)]);
            }
        }
        "page_views" | "website_visits" => {
            // Counted per quarter hour (every time zone's offset is a whole
            // number of quarter hours), then gathered per day, week or month.
            let only_visits = r.metric.id == "website_visits";
            let rows: Vec<(i64, i64)> = q(format!(
                "SELECT at_ms / 900000, COUNT(*) FROM page_views WHERE at_ms >= $1 AND at_ms < $2{} GROUP BY at_ms / 900000",
                if only_visits { " AND kind > 0" } else { "" }
            ))
            .bind(a * 1000)
            .bind(z * 1000)
            .fetch_all(&mut c)
            .await?;
            for (quarter, n) in rows {
                let key = time_key(b, tz, quarter * 900).unwrap_or_default();
                add(&mut out, key, 1, &[(0, n as f64)]);
            }
        }
        "website_visitors" => {
            // Distinct per time key: each bucket of the split is counted on its own.
            let keys: Vec<(Option<String>, i64, i64)> = match b {
                None => vec![(None, a, z)],
                Some(_) => split_instants(tz, b, p),
            };
            for (key, from, to) in keys {
                let n: i64 = q("SELECT COUNT(DISTINCT visitor_id) FROM page_views WHERE at_ms >= $1 AND at_ms < $2")
                    .bind(from * 1000)
                    .bind(to * 1000)
                    .scalar(&mut c)
                    .await?;
                if n > 0 || key.is_none() {
                    add(&mut out, key.unwrap_or_default(), 1, &[(0, n as f64)]);
                }
            }
        }
        "cost_per_lead" => {
            let mut query = q("SELECT COUNT(*) FROM contacts c WHERE ");
            marketing_leads(&mut query, &marketing_sources(sales), a, z);
            let leads: i64 = query.scalar(&mut c).await?;
            let spent: Option<i64> =
                q("SELECT CAST(SUM(amount) AS BIGINT) FROM campaign_costs WHERE day >= $1 AND day <= $2 AND currency = $3")
                    .bind(p.from.to_string())
                    .bind(p.to.to_string())
                    .bind(f.currency.clone())
                    .scalar(&mut c)
                    .await?;
            add(&mut out, String::new(), 2, &[(0, leads as f64), (1, spent.unwrap_or(0) as f64)]);
        }
        id if id.starts_with("email") => {
            // Messages handed to the relay in the period (their last attempt),
            // sent ones by the time the relay accepted them.
            let mut query = q(
                "SELECT COALESCE(e.user_id, 0) AS owner, COALESCE(e.template_key, '') AS template, e.status, COALESCE(e.sent_at, e.sending_at) AS at, e.tracking, e.opens > 0 AS opened, \
                 e.clicks > 0 AS clicked, EXISTS (SELECT 1 FROM email_events v WHERE v.email_id = e.id AND v.kind = 'unsubscribe') AS unsubscribed, \
                 EXISTS (SELECT 1 FROM email_events v WHERE v.email_id = e.id AND v.kind = 'bounce') AS bounced \
                 FROM emails e WHERE e.status IN ('sent', 'failed', 'unknown') AND ((e.sent_at >= ",
            );
            query
                .push_bind(a)
                .push(" AND e.sent_at < ")
                .push_bind(z)
                .push(") OR (e.sent_at IS NULL AND e.sending_at >= ")
                .push_bind(a)
                .push(" AND e.sending_at < ")
                .push_bind(z)
                .push("))");
            filter(&mut query, "e.user_id", &f.owners);
            let rows: Vec<EmailRow> = query.fetch_all(&mut c).await?;
            let n = carnet_domain::metrics::EMAIL_PARTS;
            for EmailRow {
                owner,
                template,
                status,
                at,
                tracking,
                opened,
                clicked,
                unsubscribed,
                bounced,
            } in rows
            {
                let key = match b {
                    Some(Breakdown::Owner) => owner.to_string(),
                    // A rep's own message, written by hand, has no template.
                    Some(Breakdown::Template) => template,
                    _ => time_key(b, tz, at).unwrap_or_default(),
                };
                let one = |x: bool| if x { 1.0 } else { 0.0 };
                let sent = status == "sent";
                add(
                    &mut out,
                    key,
                    n,
                    &[
                        (0, 1.0),
                        (1, one(sent)),
                        (2, one(sent && tracking)),
                        (3, one(sent && tracking && opened)),
                        (4, one(sent && tracking && clicked)),
                        (5, one(sent && unsubscribed)),
                        (6, one(bounced)),
                    ],
                );
            }
        }
        "customer_acquisition_cost" => {
            // New customers: accounts whose first won deal closed in the period.
            let mut query = q(format!(
                "SELECT o.account_id, {}, MIN(o.closed_at) FROM opportunities o WHERE o.status = 'won' AND o.closed_at >= ",
                segment_of("o.account_id")
            ));
            query.push_bind(a).push(" AND o.closed_at < ").push_bind(z);
            query.push(
                " AND NOT EXISTS (SELECT 1 FROM opportunities w WHERE w.account_id = o.account_id AND w.status = 'won' AND w.closed_at < ",
            );
            query.push_bind(a).push(") GROUP BY o.account_id");
            // Their acquisition's time: the actions done on them up to their first win.
            let customers: Vec<(i64, i64, i64)> = query.fetch_all(&mut c).await?;
            let costs = crate::access::users::hourly_costs(db).await?;
            for chunk in customers.chunks(500) {
                let ids: Vec<i64> = chunk.iter().map(|x| x.0).collect();
                let mut sq = q(
                    "SELECT account_id, COALESCE(assignee_id, 0), COALESCE(spent_min, 0), COALESCE(done_at, planned_at) FROM actions \
                                WHERE outcome = 'done' AND COALESCE(done_at, planned_at) < ",
                );
                sq.push_bind(z).push(" AND account_id IN ");
                push_in_list(&mut sq, &ids);
                let done: Vec<(i64, i64, i64, i64)> = sq.fetch_all(&mut c).await?;
                let won_at: HashMap<i64, i64> = chunk.iter().map(|(acc, _, at)| (*acc, *at)).collect();
                let spent: Vec<(i64, i64, i64)> = done
                    .into_iter()
                    .filter(|(acc, _, _, at)| won_at.get(acc).is_some_and(|w| at <= w))
                    .map(|(acc, who, minutes, _)| (acc, who, minutes))
                    .collect();
                for (acc, segment, _) in chunk {
                    if !f.segments.is_empty() && !f.segments.contains(segment) {
                        continue;
                    }
                    let key = if b == Some(Breakdown::Segment) {
                        segment.to_string()
                    } else {
                        String::new()
                    };
                    let cost: f64 = spent
                        .iter()
                        .filter(|(x, _, _)| x == acc)
                        .map(|(_, who, m)| *m as f64 * costs.get(who).copied().unwrap_or(0) as f64 / 60.0)
                        .sum();
                    add(&mut out, key, 2, &[(0, 1.0), (1, cost)]);
                }
            }
            // Campaign costs of the period, in the segment the campaign targets.
            let mut query = q("SELECT COALESCE(c.segment_tag_id, 0), CAST(SUM(k.amount) AS BIGINT) FROM campaign_costs k JOIN campaigns c ON c.id = k.campaign_id WHERE k.day >= ");
            query
                .push_bind(p.from.to_string())
                .push(" AND k.day <= ")
                .push_bind(p.to.to_string())
                .push(" AND k.currency = ")
                .push_bind(f.currency.clone())
                .push(" GROUP BY COALESCE(c.segment_tag_id, 0)");
            let spent: Vec<(i64, i64)> = query.fetch_all(&mut c).await?;
            for (segment, amount) in spent {
                if !f.segments.is_empty() && !f.segments.contains(&segment) {
                    continue;
                }
                let key = if b == Some(Breakdown::Segment) {
                    segment.to_string()
                } else {
                    String::new()
                };
                add(&mut out, key, 2, &[(1, amount as f64)]);
            }
        }
        "lifetime_basket" => {
            // Customers at the end of the period and all they brought until then.
            let mut by_account: HashMap<i64, (i64, f64)> = HashMap::new();
            let mut query = q(format!(
                "SELECT o.account_id, {}, CAST(SUM(o.amount) AS BIGINT) FROM opportunities o WHERE o.status = 'won' AND o.currency = ",
                segment_of("o.account_id")
            ));
            query
                .push_bind(f.currency.clone())
                .push(" AND o.closed_at < ")
                .push_bind(z)
                .push(" GROUP BY o.account_id");
            let rows: Vec<(i64, i64, i64)> = query.fetch_all(&mut c).await?;
            for (acc, seg, amount) in rows {
                by_account.entry(acc).or_insert((seg, 0.0)).1 += amount as f64;
            }
            let mut query = q(format!(
                "SELECT r.account_id, {}, CAST(SUM(r.amount) AS BIGINT) FROM orders r WHERE r.currency = ",
                segment_of("r.account_id")
            ));
            query
                .push_bind(f.currency.clone())
                .push(" AND r.order_date <= ")
                .push_bind(p.to.to_string())
                .push(" GROUP BY r.account_id");
            let rows: Vec<(i64, i64, i64)> = query.fetch_all(&mut c).await?;
            for (acc, seg, amount) in rows {
                by_account.entry(acc).or_insert((seg, 0.0)).1 += amount as f64;
            }
            for (seg, total) in by_account.into_values() {
                if !f.segments.is_empty() && !f.segments.contains(&seg) {
                    continue;
                }
                let key = if b == Some(Breakdown::Segment) {
                    seg.to_string()
                } else {
                    String::new()
                };
                add(&mut out, key, 2, &[(0, 1.0), (1, total)]);
            }
        }
        "segment_size" => {
            let today = facts::day(tz, db.now());
            let rows: Vec<(i64, i64)> = if p.to < today {
                // The same rule as the pipeline: a past day without its snapshot has no answer.
                if !super::snapshots::recorded(&mut c, p.to, "segments").await? {
                    return Err(AppError::field(
                        "period",
                        format!("there is no snapshot of the segments on {}", p.to),
                    ));
                }
                q("SELECT tag_id, accounts FROM segment_snapshots WHERE day = $1")
                    .bind(p.to.to_string())
                    .fetch_all(&mut c)
                    .await?
            } else {
                q("SELECT rt.tag_id, COUNT(*) FROM record_tags rt JOIN tags t ON t.id = rt.tag_id JOIN tag_categories tc ON tc.id = t.category_id \
                   WHERE tc.is_segment = TRUE AND rt.entity = 'account' GROUP BY rt.tag_id")
                .fetch_all(&mut c)
                .await?
            };
            for (tag, n) in rows {
                if !f.segments.is_empty() && !f.segments.contains(&tag) {
                    continue;
                }
                let key = if b == Some(Breakdown::Segment) {
                    tag.to_string()
                } else {
                    String::new()
                };
                add(&mut out, key, 2, &[(0, n as f64)]);
            }
        }
        _ => {}
    }
    Ok(out)
}

/// A stalled deal's group for a breakdown by owner, pipeline or stage.
fn stalled_key(b: Option<Breakdown>, owner: i64, pipeline: i64, stage: i64) -> String {
    match b {
        Some(Breakdown::Owner) => owner.to_string(),
        Some(Breakdown::Pipeline) => pipeline.to_string(),
        Some(Breakdown::Stage) => stage.to_string(),
        _ => String::new(),
    }
}
