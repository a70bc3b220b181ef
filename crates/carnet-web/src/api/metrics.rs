//! The metric catalogue and metric values (K4), the caller's flash figures (K1)
//! and dashboards with their widgets (K2), over JSON.

use super::JsonBody;
use super::Path;
use crate::auth::{ApiUser, Viewer};
use crate::error::ApiError;
use crate::AppState;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use carnet_app::analytics::{boards, engine, Context};
use carnet_app::AppError;
use carnet_domain::access::Role;
use carnet_domain::metrics::{self, Breakdown, Metric};
use carnet_domain::records::{Catalog, RawInput};
use serde_json::{json, Value};

type ApiResult = Result<Response, ApiError>;

/// A metric with its definition and what it can be split by here: the named
/// breakdowns, `tags:{category id}` and `field:{custom field id}`.
pub fn metric_json(m: &Metric, v: &Viewer, cat: &Catalog) -> Value {
    let l = v.user.locale;
    json!({"id": m.id, "name": m.name(l), "definition": m.definition(l), "unit": m.unit, "computed_from": m.family,
           "breakdowns": m.breakdowns_in(cat).into_iter().map(Breakdown::key).collect::<Vec<_>>(), "at_period_end": m.at_end,
           "managers_only": m.managers_only})
}

pub async fn catalogue(State(s): State<AppState>, ApiUser(v): ApiUser) -> ApiResult {
    let cat = carnet_app::settings::catalog(&s.carnet.db).await?;
    Ok(Json(json!({"data": metrics::CATALOGUE.iter().map(|m| metric_json(m, &v, &cat)).collect::<Vec<_>>()})).into_response())
}

/// The change from `compare` to `value`, in percent.
pub fn change(value: Option<f64>, compare: Option<f64>) -> Option<f64> {
    match (value, compare) {
        (Some(v), Some(c)) if c != 0.0 => Some((v - c) / c.abs() * 100.0),
        _ => None,
    }
}

pub fn values_json(ctx: &Context, r: &engine::Request, v: &engine::Values, viewer: &Viewer) -> Value {
    let labels = ctx.labels();
    let row = |x: &engine::Row, label: String| {
        json!({"key": x.key, "label": label, "value": x.value, "compare": x.compare,
               "change_percent": change(x.value, x.compare)})
    };
    json!({
        "metric": metric_json(r.metric, viewer, &ctx.cat),
        "period": {"from": v.period.from, "to": v.period.to},
        "compare": v.compare.map(|c| json!({"from": c.from, "to": c.to})),
        "compare_length_differs": v.compare_length_differs,
        "breakdown": r.breakdown.map(Breakdown::key),
        "currency": r.filters.currency,
        "computed_from": v.computed_from,
        "total": row(&v.total, viewer.user.fmt().t("analysis.total").into()),
        "rows": v.rows.iter().map(|x| row(x, labels.label(r.breakdown, &x.key))).collect::<Vec<_>>(),
    })
}

pub async fn values(
    State(s): State<AppState>,
    ApiUser(v): ApiUser,
    Path(id): Path<String>,
    Query(pairs): Query<Vec<(String, String)>>,
) -> ApiResult {
    let ctx = Context::load(&s.carnet.db).await?;
    let input = RawInput::from_pairs(pairs);
    let (r, vals) = ctx.evaluate(&s.carnet.db, &v.user, &id, &input).await?;
    Ok(Json(values_json(&ctx, &r, &vals, &v)).into_response())
}

pub async fn get_figures(State(s): State<AppState>, ApiUser(v): ApiUser) -> ApiResult {
    Ok(Json(json!({"data": boards::figures(&s.carnet.db, v.user.id).await?})).into_response())
}

pub async fn set_figures(State(s): State<AppState>, ApiUser(v): ApiUser, b: JsonBody) -> ApiResult {
    b.only(&["figures"])?;
    let list = b.strs("figures")?.ok_or_else(|| AppError::field("figures", "is required"))?;
    boards::set_figures(&s.carnet.db, v.user.id, &list).await?;
    get_figures(State(s), ApiUser(v)).await
}

fn is_admin(v: &Viewer) -> bool {
    v.user.role == Role::Admin
}

pub async fn list_dashboards(State(s): State<AppState>, ApiUser(v): ApiUser) -> ApiResult {
    Ok(Json(json!({"data": boards::visible(&s.carnet.db, v.user.id).await?})).into_response())
}

pub async fn create_dashboard(State(s): State<AppState>, ApiUser(v): ApiUser, b: JsonBody) -> ApiResult {
    b.only(&["name", "shared"])?;
    let id = boards::create(
        &s.carnet.db,
        v.user.id,
        &b.str("name")?.unwrap_or_default(),
        b.bool("shared")?.unwrap_or(false),
    )
    .await?;
    Ok((StatusCode::CREATED, Json(json!({"id": id}))).into_response())
}

/// A dashboard with each widget's values; a widget that cannot be computed
/// carries its error in place, and the others are still there.
pub async fn get_dashboard(State(s): State<AppState>, ApiUser(v): ApiUser, Path(id): Path<i64>) -> ApiResult {
    let (d, widgets) = boards::get(&s.carnet.db, id, v.user.id).await?;
    let ctx = Context::load(&s.carnet.db).await?;
    let mut out = Vec::new();
    for w in &widgets {
        let input = RawInput::from_pairs(carnet_domain::values::parse_query_string(&w.query));
        let result = match ctx.evaluate(&s.carnet.db, &v.user, &w.metric, &input).await {
            Ok((r, vals)) => json!({"values": values_json(&ctx, &r, &vals, &v)}),
            Err(AppError::Invalid(e)) => json!({"error": {"code": "invalid", "message": e.summary(), "fields": e.0}}),
            Err(e) => return Err(e.into()),
        };
        let mut item =
            json!({"id": w.id, "title": w.title, "chart": w.chart, "metric": w.metric, "query": w.query, "position": w.position});
        for (k, val) in result.as_object().cloned().unwrap_or_default() {
            item[k] = val;
        }
        out.push(item);
    }
    Ok(Json(json!({"id": d.id, "name": d.name, "shared": d.shared, "owner_id": d.owner_id, "widgets": out})).into_response())
}

pub async fn update_dashboard(State(s): State<AppState>, ApiUser(v): ApiUser, Path(id): Path<i64>, b: JsonBody) -> ApiResult {
    b.only(&["name", "shared"])?;
    let (d, _) = boards::get(&s.carnet.db, id, v.user.id).await?;
    boards::update(
        &s.carnet.db,
        id,
        v.user.id,
        is_admin(&v),
        &b.str("name")?.unwrap_or(d.name),
        b.bool("shared")?.unwrap_or(d.shared),
    )
    .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

pub async fn delete_dashboard(State(s): State<AppState>, ApiUser(v): ApiUser, Path(id): Path<i64>) -> ApiResult {
    boards::delete(&s.carnet.db, id, v.user.id, is_admin(&v)).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

fn widget_input(b: &JsonBody) -> Result<(String, String, String, String), ApiError> {
    b.only(&["title", "chart", "metric", "query"])?;
    Ok((
        b.str("title")?.unwrap_or_default(),
        b.str("chart")?.unwrap_or_else(|| "number".into()),
        b.str("metric")?.unwrap_or_default(),
        b.str("query")?.unwrap_or_default(),
    ))
}

pub async fn add_widget(State(s): State<AppState>, ApiUser(v): ApiUser, Path(id): Path<i64>, b: JsonBody) -> ApiResult {
    let (title, chart, metric, query) = widget_input(&b)?;
    let w = boards::WidgetInput {
        title: &title,
        chart: &chart,
        metric: &metric,
        query: &query,
    };
    let wid = boards::add_widget(&s.carnet.db, id, v.user.id, is_admin(&v), &w).await?;
    Ok((StatusCode::CREATED, Json(json!({"id": wid}))).into_response())
}

pub async fn update_widget(State(s): State<AppState>, ApiUser(v): ApiUser, Path((id, wid)): Path<(i64, i64)>, b: JsonBody) -> ApiResult {
    let (_, widgets) = boards::get(&s.carnet.db, id, v.user.id).await?;
    let cur = widgets.iter().find(|w| w.id == wid).ok_or(AppError::NotFound)?;
    let (title, chart, metric, query) = widget_input(&b)?;
    let pick = |new: String, k: &str, old: &str| if b.0.contains_key(k) { new } else { old.to_string() };
    let (title, chart, metric, query) = (
        pick(title, "title", &cur.title),
        pick(chart, "chart", &cur.chart),
        pick(metric, "metric", &cur.metric),
        pick(query, "query", &cur.query),
    );
    let w = boards::WidgetInput {
        title: &title,
        chart: &chart,
        metric: &metric,
        query: &query,
    };
    boards::update_widget(&s.carnet.db, id, wid, v.user.id, is_admin(&v), &w).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

pub async fn delete_widget(State(s): State<AppState>, ApiUser(v): ApiUser, Path((id, wid)): Path<(i64, i64)>) -> ApiResult {
    boards::delete_widget(&s.carnet.db, id, wid, v.user.id, is_admin(&v)).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
