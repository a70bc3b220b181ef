//! A metric request as typed in a URL or a widget: period (a preset, or from and
//! to), comparison, breakdown, filters — each resolved against the catalogue
//! (ids or names) with errors that name the parameter.

use super::engine::{Filters, Request};
use crate::access::User;
use carnet_domain::access::Role;
use carnet_domain::metrics::{self, Breakdown, Period};
use carnet_domain::records::{Catalog, RawInput};
use carnet_domain::FieldErrors;
use chrono::NaiveDate;

pub const KEYS: &[&str] = &[
    "period",
    "from",
    "to",
    "compare",
    "compare_from",
    "compare_to",
    "breakdown",
    "owner",
    "segment",
    "source",
    "pipeline",
    "stage",
    "offer",
    "type",
    "currency",
];

fn date(e: &mut FieldErrors, k: &str, raw: &str) -> Option<NaiveDate> {
    e.check(
        k,
        NaiveDate::parse_from_str(raw.trim(), "%Y-%m-%d").map_err(|_| "must be a date (YYYY-MM-DD)".to_string()),
    )
}

/// A period from `period` or `from`/`to` (this month by default).
fn period(e: &mut FieldErrors, input: &RawInput, today: NaiveDate, p: &str, from: &str, to: &str) -> Option<Period> {
    let (f, t) = (input.one(from).trim(), input.one(to).trim());
    if !f.is_empty() || !t.is_empty() {
        let (a, b) = (date(e, from, f), date(e, to, t));
        return match (a, b) {
            (Some(a), Some(b)) => e.check(to, Period::new(a, b)),
            _ => None,
        };
    }
    match input.one(p).trim() {
        "" => Some(Period::preset("this_month", today).unwrap()),
        name => e.check(p, Period::preset(name, today)),
    }
}

/// The period a request's `period` or `from`/`to` names.
pub fn parse_period(input: &RawInput, today: NaiveDate) -> Result<Period, FieldErrors> {
    let mut e = FieldErrors::new();
    let p = period(&mut e, input, today, "period", "from", "to");
    e.into_result()?;
    Ok(p.expect("checked"))
}

/// Whether a user sees the figures of the whole company (and of each rep), or
/// only their own.
pub fn sees_everyone(u: &User) -> bool {
    matches!(u.role, Role::Admin | Role::Manager)
}

/// Parses a request for `metric` by `user`; `today` is in the reporting zone.
pub fn parse(metric: &str, input: &RawInput, cat: &Catalog, user: &User, today: NaiveDate, currency: &str) -> Result<Request, FieldErrors> {
    let mut e = FieldErrors::new();
    for k in input.0.keys() {
        if !KEYS.contains(&k.as_str()) {
            e.add(k.clone(), "is not a known parameter");
        }
    }
    let m = match metrics::find(metric) {
        Ok(m) => Some(m),
        Err(msg) => {
            e.add("metric", msg);
            None
        }
    };
    let p = period(&mut e, input, today, "period", "from", "to");
    let compare = match (input.one("compare").trim(), p) {
        ("" | "none", _) if input.one("compare_from").is_empty() => None,
        ("previous", Some(p)) => Some(p.previous()),
        ("last_year", Some(p)) => Some(p.year_before()),
        ("" | "custom", _) => period(&mut e, input, today, "compare", "compare_from", "compare_to"),
        (other, _) if p.is_some() => {
            e.add(
                "compare",
                format!("“{other}” is not a comparison (previous, last_year, none, or compare_from and compare_to)"),
            );
            None
        }
        _ => None,
    };
    let breakdown = match input.one("breakdown").trim() {
        "" | "none" => None,
        b => e.check("breakdown", Breakdown::parse(b, cat)),
    };
    if let (Some(m), Some(b)) = (m, breakdown) {
        if !m.allows(b) {
            e.add(
                "breakdown",
                format!(
                    "{} cannot be broken down by {} (it can by: {})",
                    m.id,
                    input.one("breakdown").trim(),
                    m.breakdown_names()
                ),
            );
        }
    }
    let mut ids = |k: &str, resolve: &dyn Fn(&str) -> Result<i64, String>| -> Vec<i64> {
        input
            .all(k)
            .iter()
            .filter(|v| !v.trim().is_empty())
            .filter_map(|v| e.check(k, resolve(v)))
            .collect()
    };
    let sales = &cat.sales;
    let mut f = Filters {
        owners: ids("owner", &|v| cat.resolve_user(v)),
        segments: ids("segment", &|v| cat.resolve_tag(v)),
        sources: ids("source", &|v| sales.resolve_source(v).map(|s| s.id)),
        pipelines: ids("pipeline", &|v| sales.resolve_pipeline(v).map(|p| p.id)),
        stages: ids("stage", &|v| {
            v.trim()
                .parse::<i64>()
                .ok()
                .filter(|id| sales.stage(*id).is_some())
                .ok_or_else(|| format!("“{v}” is not a known stage id"))
        }),
        offers: ids("offer", &|v| sales.resolve_offer(v).map(|o| o.id)),
        types: ids("type", &|v| {
            v.trim().parse::<i64>().map_err(|_| format!("“{v}” is not an action type id"))
        }),
        currency: match input.one("currency").trim() {
            "" => currency.to_string(),
            c if c.len() == 3 && c.chars().all(|x| x.is_ascii_alphabetic()) => c.to_uppercase(),
            _ => {
                e.add("currency", "must be a three-letter currency code");
                currency.to_string()
            }
        },
    };
    // A rep sees their own figures; money of the whole company is for managers.
    if let Some(m) = m {
        if !sees_everyone(user) {
            if m.managers_only {
                e.add("metric", format!("{} is for managers and administrators", m.id));
            }
            if f.owners.iter().any(|o| *o != user.id) {
                e.add("owner", "you can see your own figures only");
            }
            f.owners = vec![user.id];
        }
    }
    e.into_result()?;
    Ok(Request {
        metric: m.expect("checked"),
        period: p.expect("checked"),
        compare,
        also: None,
        breakdown,
        filters: f,
    })
}
