//! Flash figures (K1: the metrics each user chose for the home strip) and
//! dashboards (K2: named, shared or not, arranged widgets), with the default
//! "sales model review" dashboard built from the articles' indicators.

use crate::db::{q, Db};
use crate::error::{AppError, Result};
use carnet_domain::metrics;
use carnet_domain::values::required_name;
use carnet_domain::FieldErrors;
use serde::Serialize;

/// The strip a user sees until they choose: eight figures.
pub const DEFAULT_FIGURES: &[&str] = &[
    "opportunities_created",
    "opportunities_won",
    "won_amount",
    "transformation_rate",
    "average_basket",
    "weighted_pipeline",
    "actions_done",
    "time_spent",
];

pub const MAX_FIGURES: usize = 12;

pub async fn figures(db: &Db, user_id: i64) -> Result<Vec<String>> {
    let rows: Vec<(String,)> = q("SELECT metric FROM user_figures WHERE user_id = $1 ORDER BY position")
        .bind(user_id)
        .fetch_all(&mut db.conn().await?)
        .await?;
    Ok(if rows.is_empty() {
        DEFAULT_FIGURES.iter().map(|s| s.to_string()).collect()
    } else {
        rows.into_iter().map(|(m,)| m).collect()
    })
}

pub async fn set_figures(db: &Db, user_id: i64, list: &[String]) -> Result<()> {
    let mut e = FieldErrors::new();
    if list.is_empty() || list.len() > MAX_FIGURES {
        e.add("figures", format!("choose from 1 to {MAX_FIGURES} figures"));
    }
    for m in list {
        if let Err(msg) = metrics::find(m) {
            e.add("figures", msg);
        }
    }
    e.into_result()?;
    let mut tx = db.begin().await?;
    q("DELETE FROM user_figures WHERE user_id = $1")
        .bind(user_id)
        .execute(&mut tx)
        .await?;
    let mut seen = Vec::new();
    for m in list {
        if seen.contains(m) {
            continue;
        }
        seen.push(m.clone());
        q("INSERT INTO user_figures (user_id, position, metric) VALUES ($1, $2, $3)")
            .bind(user_id)
            .bind(seen.len() as i64)
            .bind(m.clone())
            .execute(&mut tx)
            .await?;
    }
    tx.commit().await?;
    Ok(())
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow, schemars::JsonSchema)]
#[schemars(rename = "DashboardSummary")]
pub struct Dashboard {
    pub id: i64,
    pub name: String,
    pub owner_id: Option<i64>,
    pub shared: bool,
    pub created_at: i64,
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Widget {
    pub id: i64,
    pub dashboard_id: i64,
    pub position: i64,
    pub title: String,
    pub chart: String,
    pub metric: String,
    pub query: String,
}

pub const CHARTS: &[&str] = &["number", "pie", "line", "bar", "table", "funnel"];

/// The dashboards a user may open: their own and the shared ones.
pub async fn visible(db: &Db, user_id: i64) -> Result<Vec<Dashboard>> {
    Ok(
        q("SELECT id, name, owner_id, shared, created_at FROM dashboards WHERE shared = TRUE OR owner_id = $1 ORDER BY name, id")
            .bind(user_id)
            .fetch_all(&mut db.conn().await?)
            .await?,
    )
}

pub async fn get(db: &Db, id: i64, user_id: i64) -> Result<(Dashboard, Vec<Widget>)> {
    let mut c = db.conn().await?;
    let d: Dashboard =
        q("SELECT id, name, owner_id, shared, created_at FROM dashboards WHERE id = $1 AND (shared = TRUE OR owner_id = $2)")
            .bind(id)
            .bind(user_id)
            .fetch_optional(&mut c)
            .await?
            .ok_or(AppError::NotFound)?;
    let w = q("SELECT id, dashboard_id, position, title, chart, metric, query FROM widgets WHERE dashboard_id = $1 ORDER BY position, id")
        .bind(id)
        .fetch_all(&mut c)
        .await?;
    Ok((d, w))
}

/// Only the owner (or an administrator, for shared ones) changes a dashboard.
async fn check_owner(db: &Db, id: i64, user_id: i64, admin: bool) -> Result<Dashboard> {
    let (d, _) = get(db, id, user_id).await?;
    if d.owner_id == Some(user_id) || (admin && d.shared) {
        Ok(d)
    } else {
        Err(AppError::Forbidden)
    }
}

pub async fn create(db: &Db, user_id: i64, name: &str, shared: bool) -> Result<i64> {
    let name = required_name(name).map_err(|e| AppError::field("name", e))?;
    let mut tx = db.begin().await?;
    let id = q("INSERT INTO dashboards (name, owner_id, shared, created_at) VALUES ($1, $2, $3, $4) RETURNING id")
        .bind(name)
        .bind(user_id)
        .bind(shared)
        .bind(tx.now())
        .insert_id(&mut tx)
        .await?;
    tx.commit().await?;
    Ok(id)
}

pub async fn update(db: &Db, id: i64, user_id: i64, admin: bool, name: &str, shared: bool) -> Result<()> {
    check_owner(db, id, user_id, admin).await?;
    let name = required_name(name).map_err(|e| AppError::field("name", e))?;
    let mut tx = db.begin().await?;
    q("UPDATE dashboards SET name = $1, shared = $2 WHERE id = $3")
        .bind(name)
        .bind(shared)
        .bind(id)
        .execute(&mut tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

pub async fn delete(db: &Db, id: i64, user_id: i64, admin: bool) -> Result<()> {
    check_owner(db, id, user_id, admin).await?;
    crate::db::delete_by_id(db, "dashboards", id).await
}

/// A widget as typed: its request is checked for known keys, metric and chart;
/// the rest (a breakdown the metric refuses, a filter on something deleted) is
/// reported where the widget is shown, so one broken widget never hides a board.
pub struct WidgetInput<'a> {
    pub title: &'a str,
    pub chart: &'a str,
    pub metric: &'a str,
    pub query: &'a str,
}

fn check_widget(w: &WidgetInput<'_>) -> Result<(String, String)> {
    let mut e = FieldErrors::new();
    if !CHARTS.contains(&w.chart) {
        e.add("chart", format!("must be one of: {}", CHARTS.join(", ")));
    }
    let metric = e.check("metric", metrics::find(w.metric.trim()).map(|m| m.id.to_string()));
    let pairs = carnet_domain::values::parse_query_string(w.query.trim().trim_start_matches('?'));
    for (k, _) in &pairs {
        if !super::request::KEYS.contains(&k.as_str()) {
            e.add("query", format!("“{k}” is not a known parameter"));
        }
    }
    let title = match w.title.trim() {
        "" => metric.clone().unwrap_or_default().replace('_', " "),
        t => e.check("title", required_name(t)).unwrap_or_default(),
    };
    e.into_result()?;
    Ok((title, metric.unwrap_or_default()))
}

pub async fn add_widget(db: &Db, dashboard: i64, user_id: i64, admin: bool, w: &WidgetInput<'_>) -> Result<i64> {
    check_owner(db, dashboard, user_id, admin).await?;
    let (title, metric) = check_widget(w)?;
    let mut tx = db.begin().await?;
    let pos: i64 = q("SELECT COALESCE(MAX(position), 0) + 1 FROM widgets WHERE dashboard_id = $1")
        .bind(dashboard)
        .scalar(&mut tx)
        .await?;
    let id = q("INSERT INTO widgets (dashboard_id, position, title, chart, metric, query) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id")
        .bind(dashboard)
        .bind(pos)
        .bind(title)
        .bind(w.chart)
        .bind(metric)
        .bind(w.query.trim().trim_start_matches('?'))
        .insert_id(&mut tx)
        .await?;
    tx.commit().await?;
    Ok(id)
}

pub async fn update_widget(db: &Db, dashboard: i64, id: i64, user_id: i64, admin: bool, w: &WidgetInput<'_>) -> Result<()> {
    check_owner(db, dashboard, user_id, admin).await?;
    let (title, metric) = check_widget(w)?;
    let mut tx = db.begin().await?;
    let n = q("UPDATE widgets SET title = $1, chart = $2, metric = $3, query = $4 WHERE id = $5 AND dashboard_id = $6")
        .bind(title)
        .bind(w.chart)
        .bind(metric)
        .bind(w.query.trim().trim_start_matches('?'))
        .bind(id)
        .bind(dashboard)
        .execute(&mut tx)
        .await?;
    if n == 0 {
        return Err(AppError::NotFound);
    }
    tx.commit().await?;
    Ok(())
}

/// Moves a widget one place earlier (-1) or later (1).
pub async fn move_widget(db: &Db, dashboard: i64, id: i64, user_id: i64, admin: bool, delta: i64) -> Result<()> {
    let (_, widgets) = get(db, dashboard, user_id).await?;
    check_owner(db, dashboard, user_id, admin).await?;
    let Some(i) = widgets.iter().position(|w| w.id == id) else {
        return Err(AppError::NotFound);
    };
    let j = i as i64 + delta;
    if j < 0 || j >= widgets.len() as i64 {
        return Ok(());
    }
    let mut order: Vec<i64> = widgets.iter().map(|w| w.id).collect();
    order.swap(i, j as usize);
    let mut tx = db.begin().await?;
    for (pos, wid) in order.iter().enumerate() {
        q("UPDATE widgets SET position = $1 WHERE id = $2")
            .bind(pos as i64 + 1)
            .bind(*wid)
            .execute(&mut tx)
            .await?;
    }
    tx.commit().await?;
    Ok(())
}

pub async fn delete_widget(db: &Db, dashboard: i64, id: i64, user_id: i64, admin: bool) -> Result<()> {
    check_owner(db, dashboard, user_id, admin).await?;
    let mut tx = db.begin().await?;
    if q("DELETE FROM widgets WHERE id = $1 AND dashboard_id = $2")
        .bind(id)
        .bind(dashboard)
        .execute(&mut tx)
        .await?
        == 0
    {
        return Err(AppError::NotFound);
    }
    tx.commit().await?;
    Ok(())
}

/// The default dashboard, shared, made once: the indicators of the articles.
pub const DEFAULT_WIDGETS: &[(&str, &str, &str, &str)] = &[
    (
        "Opportunities created by source",
        "pie",
        "opportunities_created",
        "period=this_year&breakdown=source_kind",
    ),
    (
        "Transformation rate per rep",
        "bar",
        "transformation_rate",
        "period=this_year&breakdown=owner",
    ),
    (
        "Average basket by account type",
        "bar",
        "average_basket",
        "period=this_year&breakdown=segment",
    ),
    (
        "Sales effort by segment",
        "bar",
        "actions_done",
        "period=this_year&breakdown=segment",
    ),
    ("Time spent", "line", "time_spent", "period=last_12_months&breakdown=month"),
    ("Weighted pipeline by stage", "funnel", "weighted_pipeline", "breakdown=stage"),
];

pub async fn ensure_default(db: &Db) -> Result<()> {
    let seeded: Option<String> = q("SELECT value FROM app_settings WHERE key = 'seeded_dashboard'")
        .scalar_opt(&mut db.conn().await?)
        .await?;
    if seeded.is_some() {
        return Ok(());
    }
    let mut tx = db.begin().await?;
    let id = q("INSERT INTO dashboards (name, owner_id, shared, created_at) VALUES ('Sales model review', NULL, TRUE, $1) RETURNING id")
        .bind(tx.now())
        .insert_id(&mut tx)
        .await?;
    for (i, (title, chart, metric, query)) in DEFAULT_WIDGETS.iter().enumerate() {
        q("INSERT INTO widgets (dashboard_id, position, title, chart, metric, query) VALUES ($1, $2, $3, $4, $5, $6)")
            .bind(id)
            .bind(i as i64 + 1)
            .bind(*title)
            .bind(*chart)
            .bind(*metric)
            .bind(*query)
            .execute(&mut tx)
            .await?;
    }
    q("INSERT INTO app_settings (key, value) VALUES ('seeded_dashboard', $1)")
        .bind(id.to_string())
        .execute(&mut tx)
        .await?;
    tx.commit().await?;
    Ok(())
}
