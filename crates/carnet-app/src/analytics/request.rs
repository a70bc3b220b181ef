//! A metric request as typed in a URL or a widget: period (a preset, or from and
//! to), comparison, breakdown, filters — each resolved against the catalogue
//! (ids or names) with errors that name the parameter.

use super::parts::{Filters, Request};
use crate::access::User;
use carnet_domain::access::Role;
use carnet_domain::fields::Entity;
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
    "tag",
    "field",
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

/// A custom-field filter written `field:value` (the field by id or key, one of
/// its choices): the field's id and entity and the stored choice.
fn field_filter(cat: &Catalog, raw: &str) -> Result<(i64, Entity, String), String> {
    let (key, value) = raw.split_once(':').ok_or_else(|| format!("“{raw}” must be written field:value"))?;
    let f = cat.resolve_field(key)?;
    if !f.kind.has_choices() {
        return Err(format!("“{}” is not a choice field", f.label));
    }
    let choice = f
        .choices
        .iter()
        .find(|c| c.eq_ignore_ascii_case(value.trim()))
        .ok_or_else(|| format!("“{}” is not a choice of “{}”", value.trim(), f.label))?;
    Ok((f.id, f.entity, choice.clone()))
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
    if let Some(m) = m {
        for k in metrics::FILTERS {
            let given = input.all(k).iter().any(|v| !v.trim().is_empty());
            if given && !m.filters().contains(k) {
                e.add(
                    *k,
                    format!("{} cannot be filtered by {k} (it can by: {})", m.id, m.filters().join(", ")),
                );
            }
        }
    }
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
        tags: ids("tag", &|v| cat.resolve_tag(v)),
        fields: vec![],
        currency: match input.one("currency").trim() {
            "" => currency.to_string(),
            c if c.len() == 3 && c.chars().all(|x| x.is_ascii_alphabetic()) => c.to_uppercase(),
            _ => {
                e.add("currency", "must be a three-letter currency code");
                currency.to_string()
            }
        },
    };
    for raw in input.all("field").iter().filter(|v| !v.trim().is_empty()) {
        if let Some((id, entity, value)) = e.check("field", field_filter(cat, raw)) {
            match f.fields.iter_mut().find(|x| x.0 == id) {
                Some(x) => x.2.push(value),
                None => f.fields.push((id, entity, vec![value])),
            }
        }
    }
    // Tags and fields are the records': not every metric counts records that have them.
    if let Some(m) = m {
        let tag_ok = f
            .tags
            .iter()
            .all(|t| cat.tag(*t).is_some_and(|(c, _)| m.allows(Breakdown::Tags(c.id))));
        if !tag_ok {
            e.add("tag", format!("{} cannot be filtered by tags", m.id));
        }
        if let Some((id, _, _)) = f.fields.iter().find(|(id, on, _)| !m.allows(Breakdown::Field(*id, *on))) {
            let label = cat.fields.iter().find(|x| x.id == *id).map(|x| x.label.as_str()).unwrap_or("");
            e.add("field", format!("{} cannot be filtered by “{label}”", m.id));
        }
    }
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
