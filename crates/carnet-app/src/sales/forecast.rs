//! The forecast (S4): open and weighted pipeline by month of expected close, by
//! owner, segment or pipeline, per currency; and what was won in the period.

use crate::db::{q, Db};
use crate::error::{AppError, Result};
use chrono::{Datelike, NaiveDate};
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum By {
    Owner,
    Segment,
    Pipeline,
}

impl By {
    pub fn parse(s: &str) -> std::result::Result<Self, String> {
        match s {
            "" | "owner" => Ok(By::Owner),
            "segment" => Ok(By::Segment),
            "pipeline" => Ok(By::Pipeline),
            _ => Err("must be owner, segment or pipeline".into()),
        }
    }
    /// The grouping key in the maintained totals `t` (NULL = none).
    fn totals_key(self) -> &'static str {
        match self {
            By::Owner => "NULLIF(t.owner_key, 0)",
            By::Pipeline => "t.pipeline_id",
            By::Segment => "NULLIF(t.segment_key, 0)",
        }
    }
    /// The SQL of the grouping key for opportunity `o` (NULL = none).
    fn key(self) -> &'static str {
        match self {
            By::Owner => "o.owner_id",
            By::Pipeline => "o.pipeline_id",
            By::Segment => "o.segment_tag_id",
        }
    }
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Row {
    /// `YYYY-MM`, or empty for opportunities without an expected close date.
    pub month: String,
    /// Owner, segment tag or pipeline id; None when not set.
    pub key: Option<i64>,
    pub currency: String,
    pub count: i64,
    pub open_amount: i64,
    /// Σ amount × stage probability / 100, in cents.
    pub weighted_amount: i64,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Won {
    pub key: Option<i64>,
    pub currency: String,
    pub count: i64,
    pub amount: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Forecast {
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub rows: Vec<Row>,
    pub won: Vec<Won>,
}

/// Open opportunities expected to close in [from, to) (and those without a
/// date), grouped; and won opportunities closed in the period, by the same key.
pub async fn forecast(db: &Db, from: NaiveDate, to: NaiveDate, by: By, tz: chrono_tz::Tz) -> Result<Forecast> {
    if to <= from {
        return Err(AppError::field("to", "must be after from"));
    }
    let key = by.key();
    let mut c = db.conn().await?;
    // Owner, pipeline and segment are all in the maintained totals: a few thousand rows.
    let k = by.totals_key();
    let rows: Vec<(String, Option<i64>, String, i64, i64, i64)> = q(format!(
        "SELECT t.month, {k} AS k, t.currency, CAST(SUM(t.deals) AS BIGINT), CAST(SUM(t.amount) AS BIGINT), CAST(SUM(t.amount * s.probability) AS BIGINT) \
         FROM open_pipeline t JOIN stages s ON s.id = t.stage_id WHERE t.month = '' OR (t.month >= $1 AND t.month < $2) \
         GROUP BY t.month, {k}, t.currency HAVING SUM(t.deals) > 0 ORDER BY 1, 2, 3"
    ))
    .bind(from.format("%Y-%m").to_string())
    .bind(to.format("%Y-%m").to_string())
    .fetch_all(&mut c)
    .await?;
    let start = |d: NaiveDate| carnet_domain::time::day_start(tz, d);
    let won: Vec<(Option<i64>, String, i64, i64)> = q(format!(
        "SELECT {key} AS k, o.currency, COUNT(*), CAST(SUM(o.amount) AS BIGINT) FROM opportunities o \
         WHERE o.status = 'won' AND o.closed_at >= $1 AND o.closed_at < $2 GROUP BY {key}, o.currency ORDER BY 1, 2"
    ))
    .bind(start(from))
    .bind(start(to))
    .fetch_all(&mut c)
    .await?;
    Ok(Forecast {
        from,
        to,
        rows: rows
            .into_iter()
            .map(|(month, key, currency, count, open_amount, weighted)| Row {
                month,
                key,
                currency,
                count,
                open_amount,
                weighted_amount: weighted / 100,
            })
            .collect(),
        won: won
            .into_iter()
            .map(|(key, currency, count, amount)| Won {
                key,
                currency,
                count,
                amount,
            })
            .collect(),
    })
}

/// The first day of the month `d` is in, and of the month `n` months later.
pub fn month_range(d: NaiveDate, n: u32) -> (NaiveDate, NaiveDate) {
    let first = NaiveDate::from_ymd_opt(d.year(), d.month(), 1).unwrap();
    let total = d.month0() + n;
    let end = NaiveDate::from_ymd_opt(d.year() + (total / 12) as i32, total % 12 + 1, 1).unwrap();
    (first, end)
}
