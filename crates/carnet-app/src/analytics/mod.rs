//! Analysis (SPEC K1–K4): facts maintained with each write (`facts`), metric
//! values computed from them or, for checking, recounted from the records
//! (`engine`, `raw`), requests as typed (`request`), daily snapshots of the
//! pipeline and segments (`snapshots`), and the users' flash figures and
//! dashboards (`boards`).

pub mod boards;
pub mod engine;
pub mod facts;
pub mod parts;
pub mod raw;
pub mod request;
pub mod snapshots;
pub mod watch;

pub use watch::register;

use crate::access::User;
use crate::db::q;
use crate::error::{AppError, Result};
use crate::Db;
use carnet_domain::records::{Catalog, RawInput};
use chrono::Datelike;
use engine::{Labels, Source, Values};

/// What a page or the API needs to compute and show metrics: the catalogues,
/// the reporting day and currency, the names of everything a group can be.
pub struct Context {
    pub cat: Catalog,
    pub today: chrono::NaiveDate,
    pub currency: String,
    users: Vec<(i64, String)>,
    statuses: Vec<(i64, String)>,
    tags: Vec<(i64, String)>,
    types: Vec<(i64, String)>,
    type_colors: Vec<(i64, String)>,
}

impl Context {
    pub async fn load(db: &Db) -> Result<Context> {
        let cat = crate::sales::full_catalog(db).await?;
        let mut c = db.conn().await?;
        let tz = facts::zone(&mut c).await?;
        let currency = engine::company_currency(&mut c).await?;
        drop(c);
        let all_types = crate::agenda::types(db).await?;
        let type_colors = all_types.iter().map(|t| (t.id, t.color.clone())).collect();
        let types = all_types.into_iter().map(|t| (t.id, t.name)).collect();
        Ok(Context {
            today: facts::day(tz, db.now()),
            currency,
            users: cat.users.iter().map(|u| (u.id, u.name.clone())).collect(),
            statuses: cat.statuses.iter().map(|s| (s.id, s.name.clone())).collect(),
            tags: cat
                .categories
                .iter()
                .flat_map(|c| c.tags.iter().map(|t| (t.id, t.name.clone())))
                .collect(),
            types,
            type_colors,
            cat,
        })
    }

    /// The action types: (id, name).
    pub fn types(&self) -> &[(i64, String)] {
        &self.types
    }

    /// An action type's colour, for charts broken down by type.
    pub fn type_color(&self, id: i64) -> Option<String> {
        self.type_colors.iter().find(|(t, _)| *t == id).map(|(_, c)| c.clone())
    }

    pub fn labels(&self) -> Labels<'_> {
        Labels {
            users: &self.users,
            statuses: &self.statuses,
            tags: &self.tags,
            sales: &self.cat.sales,
            types: &self.types,
        }
    }

    /// Parses and computes one metric request for a user.
    pub async fn evaluate(&self, db: &Db, user: &User, metric: &str, input: &RawInput) -> Result<(engine::Request, Values)> {
        // An unknown metric is an unknown resource (404), not a bad parameter.
        carnet_domain::metrics::find(metric).map_err(|_| AppError::NotFound)?;
        let r = request::parse(metric, input, &self.cat, user, self.today, &self.currency).map_err(AppError::Invalid)?;
        let v = engine::values(db, &self.cat.sales, &r, Source::Facts).await?;
        Ok((r, v))
    }
}

/// A flash figure: its metric, and its values over the period asked (with the
/// comparison asked and the year before in `also`), or why it cannot be had.
pub type Figure = (
    &'static carnet_domain::metrics::Metric,
    std::result::Result<Values, carnet_domain::FieldErrors>,
);

impl Context {
    /// A user's flash figures for one request (period, comparison, filters),
    /// each also against the same period a year before; the figures of one
    /// family share their sums (`engine::Cache`).
    pub async fn flash_figures(&self, db: &Db, user: &User, input: &RawInput) -> Result<Vec<Figure>> {
        let mut cache = engine::Cache::default();
        let mut out = Vec::new();
        for id in boards::figures(db, user.id).await? {
            let Ok(m) = carnet_domain::metrics::find(&id) else { continue };
            let values = match request::parse(m.id, input, &self.cat, user, self.today, &self.currency) {
                Ok(mut r) => {
                    r.also = Some(r.period.year_before());
                    Ok(engine::values_cached(db, &self.cat.sales, &r, Source::Facts, &mut cache).await?)
                }
                Err(e) => Err(e),
            };
            out.push((m, values));
        }
        Ok(out)
    }
}

/// What `carnet analytics verify` found: the checks made and the differences.
pub struct Verification {
    pub checks: usize,
    pub differences: Vec<String>,
}

/// Recounts every fact-based metric over the records, month by month for the
/// last `months` months (and the open pipeline today), without and with the
/// owner and segment breakdowns, and reports any difference with the facts.
pub async fn verify(db: &Db, months: u32) -> Result<Verification> {
    use carnet_domain::metrics::{Breakdown, Family, Period, CATALOGUE};
    let ctx = Context::load(db).await?;
    let mut out = Verification {
        checks: 0,
        differences: vec![],
    };
    let first = ctx.today.with_day(1).unwrap_or(ctx.today);
    for m in CATALOGUE.iter().filter(|m| m.family != Family::Raw) {
        let periods: Vec<Period> = if m.family == Family::Pipeline {
            vec![Period::new(ctx.today, ctx.today).map_err(AppError::internal)?]
        } else {
            (0..months)
                .map(|i| {
                    let from = first - chrono::Months::new(i);
                    Period::new(from, from + chrono::Months::new(1) - chrono::Duration::days(1)).map_err(AppError::internal)
                })
                .collect::<Result<_>>()?
        };
        for p in periods {
            for b in [None, Some(Breakdown::Owner), Some(Breakdown::Segment)] {
                if b.is_some_and(|b| !m.allows(b)) {
                    continue;
                }
                let r = engine::Request {
                    metric: m,
                    period: p,
                    compare: None,
                    also: None,
                    breakdown: b,
                    filters: engine::Filters {
                        currency: ctx.currency.clone(),
                        ..Default::default()
                    },
                };
                let f = engine::values(db, &ctx.cat.sales, &r, Source::Facts).await?;
                let c = engine::values(db, &ctx.cat.sales, &r, Source::Records).await?;
                out.checks += 1;
                let same = same_parts;
                let mut bad = !same(&f.total.parts, &c.total.parts);
                for row in f.rows.iter().filter(|x| x.parts.iter().any(|v| *v != 0.0)) {
                    let other = c
                        .rows
                        .iter()
                        .find(|y| y.key == row.key)
                        .map(|y| y.parts.clone())
                        .unwrap_or_default();
                    bad |= other.is_empty() || !same(&row.parts, &other);
                }
                if bad {
                    out.differences.push(format!(
                        "{} {}..{} by {}: facts {:?}, records {:?}",
                        m.id,
                        p.from,
                        p.to,
                        b.map(Breakdown::key).unwrap_or_else(|| "nothing".into()),
                        f.total.parts,
                        c.total.parts
                    ));
                }
            }
        }
    }
    Ok(out)
}

/// Whether two metrics' sums agree. The sums are counts and amounts in cents
/// (whole numbers) carried as floats: each is compared exactly as the whole
/// number it stands for, so float noise in the last bits (a PostgreSQL `SUM`
/// against a Rust sum) is not a difference and a cent is.
pub fn same_parts(a: &[f64], b: &[f64]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.round() as i64 == y.round() as i64)
}

/// The reporting zone: where the company's days begin and end in every figure.
pub async fn report_zone(db: &Db) -> Result<chrono_tz::Tz> {
    facts::zone(&mut db.conn().await?).await
}

/// Recomputes the facts (in the reporting zone, changed first when given; the
/// change is a settings event).
pub async fn rebuild(db: &Db, time_zone: Option<&str>) -> Result<()> {
    let mut tx = db.begin().await?;
    if let Some(z) = time_zone {
        carnet_domain::i18n::parse_time_zone(z).map_err(|e| AppError::field("time_zone", e))?;
        crate::platform::events::settings_changed(&mut tx, "analysis", false).await?;
        q("DELETE FROM app_settings WHERE key = 'report_time_zone'")
            .execute(&mut tx)
            .await?;
        q("INSERT INTO app_settings (key, value) VALUES ('report_time_zone', $1)")
            .bind(z.trim())
            .execute(&mut tx)
            .await?;
    }
    facts::rebuild(&mut tx).await?;
    tx.commit().await?;
    crate::db::dialect::after_refill(db, &["fact_deals", "fact_actions", "fact_effort"]).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn sums_are_compared_as_whole_numbers() {
        use super::same_parts;
        assert!(same_parts(&[6706029309.050001, 3.0], &[6706029309.049999, 3.0]));
        assert!(!same_parts(&[6706029309.0], &[6706029310.0]));
        assert!(!same_parts(&[1.0, 2.0], &[1.0]));
        assert!(same_parts(&[], &[]));
    }
}
