//! What a metric's computation works on: the request as typed (metric, period,
//! comparison, breakdown, filters), where its parts come from, and the parts
//! themselves — a few sums per group — with the helpers both the facts engine and
//! the raw recounts use.

use carnet_domain::fields::Entity;
use carnet_domain::metrics::{Breakdown, Metric, Period};
use chrono_tz::Tz;
use serde::Serialize;
use std::collections::BTreeMap;

/// Where the parts come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Facts,
    Records,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Filters {
    pub owners: Vec<i64>,
    pub segments: Vec<i64>,
    pub sources: Vec<i64>,
    pub pipelines: Vec<i64>,
    pub stages: Vec<i64>,
    pub offers: Vec<i64>,
    pub types: Vec<i64>,
    /// The account has one of these tags (any category).
    pub tags: Vec<i64>,
    /// A custom field (its id and entity) has one of these values; several
    /// fields must all match.
    pub fields: Vec<(i64, Entity, Vec<String>)>,
    /// Money is summed in one currency (the company's by default).
    pub currency: String,
}

#[derive(Debug, Clone)]
pub struct Request {
    pub metric: &'static Metric,
    pub period: Period,
    pub compare: Option<Period>,
    /// A second comparison for the total only (the flash figures' same period last year).
    pub also: Option<Period>,
    pub breakdown: Option<Breakdown>,
    pub filters: Filters,
}

pub type Parts = BTreeMap<String, Vec<f64>>;

/// [from, to) instants of a period's days in the reporting zone.
pub fn instants(tz: Tz, p: Period) -> (i64, i64) {
    carnet_domain::time::days_span(tz, p.from, p.to)
}

pub fn add(parts: &mut Parts, key: String, n: usize, values: &[(usize, f64)]) {
    let e = parts.entry(key).or_insert_with(|| vec![0.0; n]);
    for (i, v) in values {
        e[*i] += v;
    }
}
