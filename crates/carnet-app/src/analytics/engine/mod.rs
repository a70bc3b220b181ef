//! Metric values. Each metric is a formula over a few sums ("parts") per group
//! of its breakdown. The parts come from the facts (day and month sums, so the
//! cost depends on the period and the breakdown, not on the data size) or — to
//! check them — from a straightforward recount over the records
//! ([`Source::Records`]). Both paths end in the same formula.

use super::facts;
pub use super::parts::{add, instants, Filters, Parts, Request, Source};
use crate::db::{push_in_list, q, Db, Handle, Q};
use crate::error::{AppError, Result};
use carnet_domain::fields::Entity;
use carnet_domain::metrics::{formula, width};
use carnet_domain::metrics::{week_key, Breakdown, Family, Period};
use carnet_domain::sales::SalesCatalog;
use chrono::{Datelike, NaiveDate};
use chrono_tz::Tz;
use serde::Serialize;
use std::collections::HashMap;

mod actions;
mod deals;
mod effort;
mod pipeline;

use actions::{action_facts, action_records};
use deals::{deal_facts, deal_records};
use effort::{effort_facts, effort_records};
use pipeline::pipeline;

#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub key: String,
    pub value: Option<f64>,
    pub compare: Option<f64>,
    /// The sums behind the value, for checks and tables.
    pub parts: Vec<f64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Values {
    pub metric: &'static str,
    pub period: Period,
    pub compare: Option<Period>,
    /// The comparison period has another length than the period.
    pub compare_length_differs: bool,
    pub rows: Vec<Row>,
    pub total: Row,
    /// The total over the second comparison period.
    pub also: Option<f64>,
    /// facts, snapshot, live or records.
    pub computed_from: &'static str,
}

/// What the groups are called, for pages and exports.
pub struct Labels<'a> {
    pub users: &'a [(i64, String)],
    pub statuses: &'a [(i64, String)],
    pub tags: &'a [(i64, String)],
    pub sales: &'a SalesCatalog,
    pub types: &'a [(i64, String)],
}

impl Labels<'_> {
    pub fn label(&self, b: Option<Breakdown>, key: &str) -> String {
        let id: i64 = key.parse().unwrap_or(0);
        let find = |list: &[(i64, String)]| list.iter().find(|(i, _)| *i == id).map(|(_, n)| n.clone());
        let none = || "—".to_string();
        match b {
            None => String::new(),
            Some(Breakdown::Owner) => find(self.users).unwrap_or_else(none),
            Some(Breakdown::Status) => find(self.statuses).unwrap_or_else(none),
            Some(Breakdown::Segment | Breakdown::Tags(_)) => find(self.tags).unwrap_or_else(none),
            Some(Breakdown::Field(..)) if key.is_empty() => none(),
            Some(Breakdown::ActionType) => find(self.types).unwrap_or_else(none),
            Some(Breakdown::Source) => self
                .sales
                .sources
                .iter()
                .find(|s| s.id == id)
                .map(|s| s.name.clone())
                .unwrap_or_else(none),
            Some(Breakdown::Pipeline) => self
                .sales
                .pipelines
                .iter()
                .find(|p| p.id == id)
                .map(|p| p.name.clone())
                .unwrap_or_else(none),
            // With several pipelines, a stage says whose it is.
            Some(Breakdown::Stage) => match self.sales.stage(id) {
                Some((p, s)) if self.sales.pipelines.len() > 1 => format!("{} · {}", p.name, s.name),
                Some((_, s)) => s.name.clone(),
                None => none(),
            },
            Some(Breakdown::Offer) => self
                .sales
                .offers
                .iter()
                .find(|o| o.id == id)
                .map(|o| o.name.clone())
                .unwrap_or_else(none),
            Some(_) => key.to_string(),
        }
    }
}

/// The company currency: the most common among the pipelines (EUR without any).
pub async fn company_currency(h: &mut impl Handle) -> Result<String> {
    let c: Option<String> = q("SELECT currency FROM pipelines GROUP BY currency ORDER BY COUNT(*) DESC, currency LIMIT 1")
        .scalar_opt(h)
        .await?;
    Ok(c.unwrap_or_else(|| "EUR".into()))
}

/// Parts already computed for a page: the metrics of one family share them
/// (created, won, lost, basket and rate all read the same deal sums).
#[derive(Default)]
pub struct Cache {
    parts: HashMap<String, (Parts, &'static str)>,
    tz: Option<Tz>,
}

/// Computes a metric for its period (and comparison period).
pub async fn values(db: &Db, sales: &SalesCatalog, r: &Request, source: Source) -> Result<Values> {
    values_cached(db, sales, r, source, &mut Cache::default()).await
}

/// The same, reusing the parts a page already computed.
pub async fn values_cached(db: &Db, sales: &SalesCatalog, r: &Request, source: Source, cache: &mut Cache) -> Result<Values> {
    let tz = match cache.tz {
        Some(tz) => tz,
        None => {
            let tz = facts::zone(&mut db.conn().await?).await?;
            cache.tz = Some(tz);
            tz
        }
    };
    if let Some(b) = r.breakdown {
        if !r.metric.allows(b) {
            return Err(AppError::field(
                "breakdown",
                format!("{} cannot be broken down by {}", r.metric.id, b.key()),
            ));
        }
    }
    let (cur, from) = cached_parts(db, sales, tz, r, r.period, source, cache).await?;
    let (cur, cur_total) = split_total(cur);
    // A comparison the history cannot give (no snapshot that day) is left empty.
    let cmp = comparison(db, sales, tz, r, r.compare, source, cache).await?;
    let also = comparison(db, sales, tz, r, r.also, source, cache).await?;
    let n = width(r.metric);
    // The total is the sum of the groups, unless a record can be in several.
    let sum = |p: &Parts, total: Option<&Vec<f64>>| match total {
        Some(t) => t.clone(),
        None => {
            let mut t = vec![0.0; n];
            for v in p.values() {
                for (i, x) in v.iter().enumerate() {
                    t[i] += x;
                }
            }
            t
        }
    };
    let mut total_parts = sum(&cur, cur_total.as_ref());
    // Per-won-deal effort by action type: every type is divided by all won deals.
    if per_won_deal(r) {
        total_parts[6] = cur.values().map(|v| v[6]).fold(0.0, f64::max);
    }
    let keys: Vec<String> = {
        let mut k: Vec<String> = cur.keys().cloned().collect();
        if let Some((cm, _)) = &cmp {
            for key in cm.keys() {
                if !k.contains(key) && !r.breakdown.is_some_and(Breakdown::is_time) {
                    k.push(key.clone());
                }
            }
        }
        k.sort_by(|a, b| match (a.parse::<f64>(), b.parse::<f64>()) {
            (Ok(x), Ok(y)) => x.partial_cmp(&y).unwrap_or(std::cmp::Ordering::Equal),
            _ => a.cmp(b),
        });
        k
    };
    let zero = vec![0.0; n];
    let rows = if r.breakdown.is_some() {
        keys.iter()
            .map(|k| {
                let p = cur.get(k).cloned().unwrap_or_else(|| zero.clone());
                Row {
                    key: k.clone(),
                    value: formula(r.metric, &p),
                    compare: cmp.as_ref().and_then(|(cm, _)| cm.get(k)).and_then(|p| formula(r.metric, p)),
                    parts: p,
                }
            })
            .collect()
    } else {
        vec![]
    };
    let total = Row {
        key: String::new(),
        value: formula(r.metric, &total_parts),
        compare: cmp.as_ref().and_then(|(cm, cm_total)| {
            let mut t = sum(cm, cm_total.as_ref());
            if per_won_deal(r) {
                t[6] = cm.values().map(|v| v[6]).fold(0.0, f64::max);
            }
            formula(r.metric, &t)
        }),
        parts: total_parts,
    };
    Ok(Values {
        metric: r.metric.id,
        period: r.period,
        compare: r.compare,
        compare_length_differs: r.compare.is_some_and(|c| c.days() != r.period.days()),
        rows,
        also: also.as_ref().and_then(|(a, a_total)| formula(r.metric, &sum(a, a_total.as_ref()))),
        total,
        computed_from: from,
    })
}

/// Parts without their explicit total (see [`TOTAL`]), and that total.
fn split_total(mut parts: Parts) -> (Parts, Option<Vec<f64>>) {
    let total = parts.remove(TOTAL);
    (parts, total)
}

/// The parts of a comparison period, if any; none if the history cannot give them.
async fn comparison(
    db: &Db,
    sales: &SalesCatalog,
    tz: Tz,
    r: &Request,
    p: Option<Period>,
    source: Source,
    cache: &mut Cache,
) -> Result<Option<(Parts, Option<Vec<f64>>)>> {
    let Some(p) = p else { return Ok(None) };
    match cached_parts(db, sales, tz, r, p, source, cache).await {
        Ok((parts, _)) => Ok(Some(split_total(parts))),
        Err(AppError::Invalid(_)) => Ok(None),
        Err(e) => Err(e),
    }
}

/// The groups of a record for a breakdown: one, or for a tag category each of
/// the account's tags in it.
fn group_keys(b: Option<Breakdown>, dims: &Dims, day: Option<NaiveDate>, sales: &SalesCatalog) -> Vec<String> {
    match b {
        Some(b) if b.is_custom() => dims.custom.clone(),
        _ => vec![group_key(b, dims, day, sales)],
    }
}

/// The group of a record for a breakdown, from its dimension values and day.
fn group_key(b: Option<Breakdown>, dims: &Dims, day: Option<NaiveDate>, sales: &SalesCatalog) -> String {
    match b {
        None => String::new(),
        Some(Breakdown::Owner) => dims.owner.to_string(),
        Some(Breakdown::Status) => dims.status.to_string(),
        Some(Breakdown::Segment) => dims.segment.to_string(),
        Some(Breakdown::Source) => dims.source.to_string(),
        Some(Breakdown::SourceKind) => source_kind(sales, dims.source),
        Some(Breakdown::Pipeline) => dims.pipeline.to_string(),
        Some(Breakdown::Stage) => dims.stage.to_string(),
        Some(Breakdown::Offer) => dims.offer.to_string(),
        Some(Breakdown::ActionType) => dims.action_type.to_string(),
        // Only the email metrics (computed from the outbox) split by template.
        Some(Breakdown::Template) => String::new(),
        Some(Breakdown::Day) => day.map(|d| d.to_string()).unwrap_or_default(),
        Some(Breakdown::Week) => day.map(week_key).unwrap_or_default(),
        Some(Breakdown::Month) => day.map(|d| d.format("%Y-%m").to_string()).unwrap_or_default(),
        Some(Breakdown::Tags(_) | Breakdown::Field(..)) => dims.custom.join(","),
    }
}

/// The key of the explicit total in parts whose groups overlap (a breakdown
/// by a tag category: a record with two tags is in two groups, once in the total).
const TOTAL: &str = "\u{1}total";

/// Adds a record's values to each of its groups, and once to the explicit
/// total when groups can overlap.
fn add_record(
    out: &mut Parts,
    b: Option<Breakdown>,
    dims: &Dims,
    day: Option<NaiveDate>,
    sales: &SalesCatalog,
    n: usize,
    values: &[(usize, f64)],
) {
    for key in group_keys(b, dims, day, sales) {
        add(out, key, n, values);
    }
    if b.is_some_and(Breakdown::is_custom) {
        add(out, TOTAL.to_string(), n, values);
    }
}

/// An effort per won deal split by action type: every type is divided by all
/// the won deals (a deal is not of one type).
fn per_won_deal(r: &Request) -> bool {
    matches!(r.metric.id, "actions_per_won_deal" | "hours_per_won_deal") && r.breakdown == Some(Breakdown::ActionType)
}

/// Whether a request splits or filters by tags or custom fields, which the
/// facts do not carry.
fn by_catalogue(r: &Request) -> bool {
    r.breakdown.is_some_and(Breakdown::is_custom) || !r.filters.tags.is_empty() || !r.filters.fields.is_empty()
}

/// The SQL of the records a counted row links to: its account, contact (NULL
/// when it has none) and opportunity.
struct Links {
    account: &'static str,
    contact: &'static str,
    opportunity: &'static str,
}

impl Links {
    fn of(&self, e: Entity) -> &'static str {
        match e {
            Entity::Account => self.account,
            Entity::Contact => self.contact,
            Entity::Opportunity => self.opportunity,
        }
    }
}

/// The tag and custom-field filters on a records query.
fn push_catalogue_filters(query: &mut Q, f: &Filters, links: &Links) {
    if !f.tags.is_empty() {
        query.push(&format!(
            " AND EXISTS (SELECT 1 FROM record_tags rt WHERE rt.entity = 'account' AND rt.record_id = {} AND rt.tag_id IN ",
            links.account
        ));
        push_in_list(query, &f.tags);
        query.push(")");
    }
    for (field, on, values) in &f.fields {
        let record = links.of(*on);
        query.push(&format!(
            " AND EXISTS (SELECT 1 FROM field_values fv WHERE fv.field_id = {field} AND fv.record_id = {record} AND fv.value_text IN "
        ));
        push_in_list(query, values);
        query.push(")");
    }
}

/// A column giving a row's groups for a breakdown by the catalogue, as text:
/// the account's tags in a category (a comma-separated list), or a custom
/// field's value on the linked record of its entity; NULL for other breakdowns.
fn custom_column(db: &Db, b: Option<Breakdown>, links: &Links) -> String {
    match b {
        Some(Breakdown::Tags(category)) => format!(
            "(SELECT {} FROM record_tags rt JOIN tags t ON t.id = rt.tag_id \
             WHERE rt.entity = 'account' AND rt.record_id = {} AND t.category_id = {category})",
            crate::db::dialect::text_list(db.dialect(), "rt.tag_id"),
            links.account
        ),
        Some(Breakdown::Field(field, on)) => format!(
            "(SELECT MIN(fv.value_text) FROM field_values fv WHERE fv.field_id = {field} AND fv.record_id = {})",
            links.of(on)
        ),
        _ => "CAST(NULL AS TEXT)".into(),
    }
}

/// A record's groups from its [`custom_column`].
fn custom_groups(b: Option<Breakdown>, raw: Option<String>) -> Vec<String> {
    match b {
        Some(Breakdown::Tags(_)) => {
            let mut ids: Vec<i64> = raw
                .iter()
                .flat_map(|s| s.split(','))
                .filter_map(|x| x.trim().parse().ok())
                .collect();
            ids.sort_unstable();
            ids.dedup();
            if ids.is_empty() {
                return vec!["0".into()]; // no tag of the category: "—"
            }
            ids.iter().map(i64::to_string).collect()
        }
        Some(Breakdown::Field(..)) => vec![raw.unwrap_or_default()],
        _ => vec![],
    }
}

fn source_kind(sales: &SalesCatalog, source: i64) -> String {
    sales
        .sources
        .iter()
        .find(|s| s.id == source)
        .map(|s| s.kind.clone())
        .unwrap_or_else(|| "other".into())
}

#[derive(Debug, Default, Clone)]
struct Dims {
    owner: i64,
    status: i64,
    segment: i64,
    source: i64,
    pipeline: i64,
    stage: i64,
    offer: i64,
    action_type: i64,
    /// The groups of a breakdown by the catalogue (tags, a custom field).
    custom: Vec<String>,
}

fn push_filter(query: &mut Q, col: &str, ids: &[i64]) {
    if !ids.is_empty() {
        query.push(&format!(" AND {col} IN "));
        push_in_list(query, ids);
    }
}

async fn cached_parts(
    db: &Db,
    sales: &SalesCatalog,
    tz: Tz,
    r: &Request,
    p: Period,
    source: Source,
    cache: &mut Cache,
) -> Result<(Parts, &'static str)> {
    // Within a family the parts do not depend on the metric (raw metrics do).
    let who = if r.metric.family == Family::Raw { r.metric.id } else { "" };
    let key = format!("{:?}|{who}|{p:?}|{:?}|{:?}|{source:?}", r.metric.family, r.breakdown, r.filters);
    if let Some(hit) = cache.parts.get(&key) {
        return Ok(hit.clone());
    }
    let found = parts(db, sales, tz, r, p, source).await?;
    cache.parts.insert(key, found.clone());
    Ok(found)
}

async fn parts(db: &Db, sales: &SalesCatalog, tz: Tz, r: &Request, p: Period, source: Source) -> Result<(Parts, &'static str)> {
    let m = r.metric;
    match (m.family, source) {
        // The account's status changes without the deal: by status, deals are
        // counted from the records (through the created and closed indexes).
        // So do the breakdowns and filters by tags and custom fields (see ARCHITECTURE.md).
        (Family::Deals, _) if r.breakdown == Some(Breakdown::Status) || by_catalogue(r) => {
            Ok((deal_records(db, sales, tz, r, p).await?, "records"))
        }
        (Family::Actions, _) if by_catalogue(r) => Ok((action_records(db, tz, r, p).await?, "records")),
        (Family::Effort, _) if by_catalogue(r) => Ok((effort_records(db, sales, tz, r, p).await?, "records")),
        (Family::Deals, Source::Facts) => Ok((deal_facts(db, sales, r, p).await?, "facts")),
        (Family::Deals, Source::Records) => Ok((deal_records(db, sales, tz, r, p).await?, "records")),
        (Family::Actions, Source::Facts) => Ok((action_facts(db, r, p).await?, "facts")),
        (Family::Actions, Source::Records) => Ok((action_records(db, tz, r, p).await?, "records")),
        (Family::Effort, Source::Facts) => Ok((effort_facts(db, sales, r, p).await?, "facts")),
        (Family::Effort, Source::Records) => Ok((effort_records(db, sales, tz, r, p).await?, "records")),
        (Family::Pipeline, _) => pipeline(db, sales, tz, r, p, source).await,
        (Family::Raw, _) => Ok((super::raw::parts(db, sales, tz, r, p).await?, "records")),
    }
}

/// A query on a fact table (`select` ends with its FROM) limited to one grain
/// and a range of buckets.
fn in_buckets(select: String, grain: &str, from: &str, to: &str) -> Q {
    let mut query = q(format!("{select} WHERE grain = "));
    query
        .push_bind(grain.to_string())
        .push(" AND bucket >= ")
        .push_bind(from.to_string())
        .push(" AND bucket <= ")
        .push_bind(to.to_string());
    query
}

/// The bucket ranges a period reads: (grain, first, last) — whole years from the
/// year sums and whole months from the month sums unless the breakdown needs
/// days or months, the edge days from the day sums.
fn ranges(p: Period, b: Option<Breakdown>) -> Vec<(&'static str, String, String)> {
    let d = |x: NaiveDate| x.format("%Y-%m-%d").to_string();
    let m = |x: NaiveDate| x.format("%Y-%m").to_string();
    if matches!(b, Some(Breakdown::Day) | Some(Breakdown::Week)) {
        return vec![("d", d(p.from), d(p.to))];
    }
    let (days, months) = p.split();
    let mut out: Vec<_> = days.into_iter().map(|(a, b)| ("d", d(a), d(b))).collect();
    let Some((a, z)) = months else { return out };
    // Whole years inside the months: from the first January to the last December.
    let first = if a.month() == 1 { a.year() } else { a.year() + 1 };
    let last = if z.month() == 12 { z.year() } else { z.year() - 1 };
    if b == Some(Breakdown::Month) || first > last {
        out.push(("m", m(a), m(z)));
        return out;
    }
    let jan = |y: i32| NaiveDate::from_ymd_opt(y, 1, 1).unwrap();
    if a < jan(first) {
        out.push(("m", m(a), m(jan(first) - chrono::Duration::days(1))));
    }
    out.push(("y", first.to_string(), last.to_string()));
    if jan(last + 1) <= z {
        out.push(("m", m(jan(last + 1)), m(z)));
    }
    out
}

/// The day a bucket stands for (months and years: their first day).
fn bucket_day(grain: &str, bucket: &str) -> Option<NaiveDate> {
    match grain {
        "y" => NaiveDate::parse_from_str(&format!("{bucket}-01-01"), "%Y-%m-%d").ok(),
        "m" => NaiveDate::parse_from_str(&format!("{bucket}-01"), "%Y-%m-%d").ok(),
        _ => NaiveDate::parse_from_str(bucket, "%Y-%m-%d").ok(),
    }
}

/// The column a breakdown groups fact rows by (as text), if any.
fn group_column(b: Option<Breakdown>) -> &'static str {
    match b {
        Some(Breakdown::Owner) => "owner_key",
        Some(Breakdown::Segment) => "segment_key",
        Some(Breakdown::Source) | Some(Breakdown::SourceKind) => "source_key",
        Some(Breakdown::Pipeline) => "pipeline_id",
        Some(Breakdown::Offer) => "offer_key",
        Some(Breakdown::ActionType) => "type_id",
        Some(Breakdown::Day) | Some(Breakdown::Week) | Some(Breakdown::Month) => "bucket",
        _ => "''",
    }
}

/// A GROUP BY list without the constants (PostgreSQL refuses to group by one).
fn group_by(cols: &[&str]) -> String {
    cols.iter()
        .filter(|c| **c != "''" && !c.starts_with("CAST(0"))
        .copied()
        .collect::<Vec<_>>()
        .join(", ")
}

/// The group of a fact row: its breakdown value, mapped for time and source kinds.
fn fact_group(b: Option<Breakdown>, grain: &str, g: &str, sales: &SalesCatalog) -> String {
    match b {
        Some(Breakdown::SourceKind) => source_kind(sales, g.parse().unwrap_or(0)),
        Some(Breakdown::Day) | Some(Breakdown::Week) | Some(Breakdown::Month) => {
            group_key(b, &Dims::default(), bucket_day(grain, g), sales)
        }
        _ => g.to_string(),
    }
}

/// Which rows of a fact table to read. Everyone's rows (person = -1) carry all
/// dimensions; each person's rows come twice: with all dimensions, and with
/// them collapsed (-1), which a per-person figure reads when it needs no other
/// dimension — "this year by rep" reads a row per rep and kind.
fn rows_for(query: &mut Q, person_col: &str, people: &[i64], per_person: bool, other_dims: bool) {
    if people.is_empty() && !per_person {
        query.push(&format!(" AND {person_col} = -1"));
        return;
    }
    query.push(&format!(" AND {person_col} <> -1"));
    push_filter(query, person_col, people);
    let op = if other_dims { "<>" } else { "=" };
    query.push(&format!(" AND segment_key {op} -1"));
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The days a range of buckets stands for.
    fn days_of(grain: &str, from: &str, to: &str) -> Vec<NaiveDate> {
        let first = bucket_day(grain, from).unwrap();
        let last_start = bucket_day(grain, to).unwrap();
        let end = match grain {
            "y" => NaiveDate::from_ymd_opt(last_start.year() + 1, 1, 1).unwrap(),
            "m" => last_start.checked_add_months(chrono::Months::new(1)).unwrap(),
            _ => last_start + chrono::Duration::days(1),
        };
        first.iter_days().take_while(|d| *d < end).collect()
    }

    proptest! {
        #[test]
        fn ranges_cover_each_day_of_the_period_once(start in 0i64..3000, len in 0i64..1200, b in 0usize..4) {
            let from = NaiveDate::from_ymd_opt(2020, 1, 1).unwrap() + chrono::Duration::days(start);
            let p = Period::new(from, from + chrono::Duration::days(len)).unwrap();
            let breakdown = [None, Some(Breakdown::Owner), Some(Breakdown::Month), Some(Breakdown::Week)][b];
            let rs = ranges(p, breakdown);
            let mut all: Vec<NaiveDate> = rs.iter().flat_map(|(g, a, z)| days_of(g, a, z)).collect();
            all.sort();
            let want: Vec<NaiveDate> = p.from.iter_days().take_while(|d| *d <= p.to).collect();
            prop_assert_eq!(all, want);
            // A breakdown by month or finer never reads year sums.
            if matches!(breakdown, Some(Breakdown::Month) | Some(Breakdown::Week)) {
                prop_assert!(rs.iter().all(|(g, _, _)| *g != "y"));
            }
        }
    }

    #[test]
    fn a_calendar_year_reads_one_year_row() {
        let p = Period::new(
            NaiveDate::from_ymd_opt(2026, 1, 1).unwrap(),
            NaiveDate::from_ymd_opt(2026, 12, 31).unwrap(),
        )
        .unwrap();
        assert_eq!(
            ranges(p, Some(Breakdown::Owner)),
            vec![("y", "2026".to_string(), "2026".to_string())]
        );
    }
}
