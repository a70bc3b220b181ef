//! The metric catalogue and metric values (K4), the caller's flash figures (K1)
//! and dashboards with their widgets (K2), over JSON.

use super::openapi::{delete, get, patch, post, put, Op};
use super::types::{Body, Created, List};
use super::Path;
use super::Query;
use crate::auth::{ApiUser, Viewer};
use crate::error::{ApiError, ErrorDetail};
use crate::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use carnet_app::analytics::boards::Dashboard;
use carnet_app::analytics::{boards, engine, Context};
use carnet_app::AppError;
use carnet_domain::access::Role;
use carnet_domain::metrics::{self, Breakdown, Family, Metric, Unit};
use carnet_domain::records::{Catalog, RawInput};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

type ApiResult = Result<Response, ApiError>;

pub fn ops() -> Vec<Op> {
    vec![
        get("/metrics", catalogue)
            .doc("metrics", "The metric catalogue, with each metric's definition and breakdowns")
            .answers::<List<MetricOut>>(200),
        get("/metrics/{metric}/values", values)
            .doc(
                "metrics",
                "A metric's value over a period, split and compared; an unknown metric is 404",
            )
            .free_query::<MetricQuery>(METRIC_QUERY_HELP)
            .answers::<ValuesOut>(200),
        get("/me/figures", get_figures)
            .doc(
                "metrics",
                "The caller's flash figures with their values over a period, against the previous period and the year before",
            )
            .query::<FigureParams>()
            .answers::<List<FigureOut>>(200),
        put("/me/figures", set_figures)
            .doc(
                "metrics",
                "Choose the caller's flash figures (metric ids, in order); answers them with this month's values",
            )
            .body::<FiguresIn>()
            .answers::<List<FigureOut>>(200),
        get("/dashboards", list_dashboards)
            .doc("metrics", "Dashboards the caller sees")
            .answers::<List<Dashboard>>(200),
        post("/dashboards", create_dashboard)
            .doc("metrics", "Add a dashboard")
            .body::<NewDashboard>()
            .answers::<Created>(201),
        get("/dashboards/{id}", get_dashboard)
            .doc("metrics", "A dashboard with each widget's values (or its error in place)")
            .answers::<DashboardOut>(200),
        patch("/dashboards/{id}", update_dashboard)
            .doc("metrics", "Rename or share a dashboard")
            .body::<DashboardPatch>(),
        delete("/dashboards/{id}", delete_dashboard).doc("metrics", "Delete a dashboard"),
        post("/dashboards/{id}/widgets", add_widget)
            .doc("metrics", "Add a widget")
            .body::<NewWidget>()
            .answers::<Created>(201),
        patch("/dashboards/{id}/widgets/{wid}", update_widget)
            .doc("metrics", "Change a widget")
            .body::<WidgetPatch>(),
        delete("/dashboards/{id}/widgets/{wid}", delete_widget).doc("metrics", "Remove a widget"),
    ]
}

const METRIC_QUERY_HELP: &str = "period (today, this_week, last_month, this_year, … or custom with from/to as YYYY-MM-DD), breakdown (a key from the metric's breakdowns), compare (previous or last_year), currency, and filters: owner, segment, source, pipeline, stage, offer, type, status (ids). A parameter the metric does not take is refused (422).";

/// A metric's parameters, as query pairs.
#[derive(JsonSchema)]
#[allow(dead_code)]
#[schemars(extend("additionalProperties" = {"type": "string", "maxLength": 500}))]
pub struct MetricQuery {
    period: Option<String>,
    /// YYYY-MM-DD (custom periods).
    from: Option<String>,
    to: Option<String>,
    breakdown: Option<String>,
    compare: Option<String>,
    currency: Option<String>,
}

/// A metric of the catalogue.
#[derive(Serialize, JsonSchema)]
#[schemars(rename = "Metric")]
pub struct MetricOut {
    id: String,
    name: String,
    /// How it is computed, in words.
    definition: String,
    unit: Unit,
    computed_from: Family,
    /// What it can be split by here: named breakdowns, tags:CATEGORY_ID, field:FIELD_ID.
    breakdowns: Vec<String>,
    /// The filter parameters it takes (any other is refused).
    filters: Vec<String>,
    /// A stock read at the period's end rather than a flow over it.
    at_period_end: bool,
    managers_only: bool,
}

#[derive(Serialize, JsonSchema)]
pub struct PeriodOut {
    from: String,
    /// Inclusive.
    to: String,
}

#[derive(Serialize, JsonSchema)]
pub struct ValueRow {
    key: String,
    label: String,
    value: Option<f64>,
    compare: Option<f64>,
    change_percent: Option<f64>,
}

/// A metric's values.
#[derive(Serialize, JsonSchema)]
#[schemars(rename = "Values")]
pub struct ValuesOut {
    metric: MetricOut,
    period: PeriodOut,
    compare: Option<PeriodOut>,
    /// The comparison period has another number of days.
    compare_length_differs: bool,
    breakdown: Option<String>,
    currency: String,
    /// facts, records or snapshots.
    computed_from: String,
    total: ValueRow,
    rows: Vec<ValueRow>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FigureParams {
    /// A preset (today, this_week, this_month — the default —, last_month,
    /// this_quarter, this_year, …).
    period: Option<String>,
}

/// A flash figure: a metric's value over the period, with its comparisons.
#[derive(Serialize, JsonSchema)]
#[schemars(rename = "Figure")]
pub struct FigureOut {
    metric: String,
    name: String,
    unit: Unit,
    period: Option<PeriodOut>,
    value: Option<f64>,
    /// Over the previous period of the same length.
    previous: Option<f64>,
    change_percent: Option<f64>,
    /// Over the same period a year before.
    last_year: Option<f64>,
    change_last_year_percent: Option<f64>,
    /// Why the figure could not be computed for this user (the others still are).
    error: Option<String>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FiguresIn {
    /// Metric ids, in order.
    #[schemars(length(max = 12))]
    figures: Vec<String>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NewDashboard {
    #[schemars(length(min = 1, max = 200))]
    name: String,
    shared: Option<bool>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DashboardPatch {
    #[schemars(length(min = 1, max = 200))]
    name: Option<String>,
    shared: Option<bool>,
}

#[derive(Deserialize, JsonSchema, Clone, Copy)]
#[serde(rename_all = "lowercase")]
pub enum Chart {
    Number,
    Pie,
    Line,
    Bar,
    Table,
    Funnel,
}

impl Chart {
    fn as_str(self) -> &'static str {
        match self {
            Chart::Number => "number",
            Chart::Pie => "pie",
            Chart::Line => "line",
            Chart::Bar => "bar",
            Chart::Table => "table",
            Chart::Funnel => "funnel",
        }
    }
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NewWidget {
    #[schemars(length(max = 200))]
    title: Option<String>,
    /// number when absent.
    chart: Option<Chart>,
    /// Metric id.
    metric: String,
    /// The metric's parameters as a query string: period=this_year&breakdown=owner&compare=previous.
    query: Option<String>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WidgetPatch {
    #[schemars(length(max = 200))]
    title: Option<String>,
    chart: Option<Chart>,
    metric: Option<String>,
    query: Option<String>,
}

#[derive(Serialize, JsonSchema)]
#[schemars(rename = "Dashboard")]
pub struct DashboardOut {
    id: i64,
    name: String,
    shared: bool,
    owner_id: Option<i64>,
    widgets: Vec<WidgetOut>,
}

#[derive(Serialize, JsonSchema)]
pub struct WidgetOut {
    id: i64,
    title: String,
    chart: String,
    metric: String,
    query: String,
    position: i64,
    /// When it could be computed.
    #[serde(skip_serializing_if = "Option::is_none")]
    values: Option<ValuesOut>,
    /// When it could not (the other widgets are still there).
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<ErrorDetail>,
}

/// A metric with its definition and what it can be split by here: the named
/// breakdowns, `tags:{category id}` and `field:{custom field id}`.
pub fn metric_json(m: &Metric, v: &Viewer, cat: &Catalog) -> MetricOut {
    let l = v.user.locale;
    MetricOut {
        id: m.id.to_string(),
        name: m.name(l).to_string(),
        definition: m.definition(l).to_string(),
        unit: m.unit,
        computed_from: m.family,
        breakdowns: m.breakdowns_in(cat).into_iter().map(Breakdown::key).collect(),
        filters: m.filters().iter().map(|f| f.to_string()).collect(),
        at_period_end: m.at_end,
        managers_only: m.managers_only,
    }
}

pub async fn catalogue(State(s): State<AppState>, ApiUser(v): ApiUser) -> ApiResult {
    let cat = carnet_app::settings::catalog(&s.carnet.db).await?;
    let data: Vec<MetricOut> = metrics::CATALOGUE.iter().map(|m| metric_json(m, &v, &cat)).collect();
    Ok(Json(List::from(data)).into_response())
}

/// The change from `compare` to `value`, in percent.
pub fn change(value: Option<f64>, compare: Option<f64>) -> Option<f64> {
    match (value, compare) {
        (Some(v), Some(c)) if c != 0.0 => Some((v - c) / c.abs() * 100.0),
        _ => None,
    }
}

pub fn values_json(ctx: &Context, r: &engine::Request, v: &engine::Values, viewer: &Viewer) -> ValuesOut {
    let labels = ctx.labels();
    let row = |x: &engine::Row, label: String| ValueRow {
        key: x.key.clone(),
        label,
        value: x.value,
        compare: x.compare,
        change_percent: change(x.value, x.compare),
    };
    let period = |p: &metrics::Period| PeriodOut {
        from: p.from.to_string(),
        to: p.to.to_string(),
    };
    ValuesOut {
        metric: metric_json(r.metric, viewer, &ctx.cat),
        period: period(&v.period),
        compare: v.compare.as_ref().map(period),
        compare_length_differs: v.compare_length_differs,
        breakdown: r.breakdown.map(Breakdown::key),
        currency: r.filters.currency.clone(),
        computed_from: v.computed_from.to_string(),
        total: row(&v.total, viewer.user.fmt().t("analysis.total").into()),
        rows: v.rows.iter().map(|x| row(x, labels.label(r.breakdown, &x.key))).collect(),
    }
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

/// The caller's flash figures over `period` (this month by default), each
/// against the previous period and the year before, as the home page shows them.
async fn figures(s: &AppState, v: &Viewer, period: Option<String>) -> Result<Vec<FigureOut>, AppError> {
    let db = &s.carnet.db;
    let ctx = Context::load(db).await?;
    let mut input = RawInput::default();
    input.set("period", period.unwrap_or_else(|| "this_month".into()));
    carnet_app::analytics::request::parse_period(&input, ctx.today).map_err(AppError::Invalid)?;
    input.set("compare", "previous");
    let figures = ctx.flash_figures(db, &v.user, &input).await?;
    Ok(figures
        .into_iter()
        .map(|(m, values)| {
            let mut f = FigureOut {
                metric: m.id.to_string(),
                name: m.name(v.user.locale).to_string(),
                unit: m.unit,
                period: None,
                value: None,
                previous: None,
                change_percent: None,
                last_year: None,
                change_last_year_percent: None,
                error: None,
            };
            match values {
                Ok(vals) => {
                    f.period = Some(PeriodOut {
                        from: vals.period.from.to_string(),
                        to: vals.period.to.to_string(),
                    });
                    f.value = vals.total.value;
                    f.previous = vals.total.compare;
                    f.change_percent = change(vals.total.value, vals.total.compare);
                    f.last_year = vals.also;
                    f.change_last_year_percent = change(vals.total.value, vals.also);
                }
                Err(e) => f.error = Some(e.summary()),
            }
            f
        })
        .collect())
}

pub async fn get_figures(State(s): State<AppState>, ApiUser(v): ApiUser, Query(p): Query<FigureParams>) -> ApiResult {
    Ok(Json(List::from(figures(&s, &v, p.period).await?)).into_response())
}

pub async fn set_figures(State(s): State<AppState>, ApiUser(v): ApiUser, Body(b): Body<FiguresIn>) -> ApiResult {
    boards::set_figures(&s.carnet.db, v.user.id, &b.figures).await?;
    Ok(Json(List::from(figures(&s, &v, None).await?)).into_response())
}

fn is_admin(v: &Viewer) -> bool {
    v.user.role == Role::Admin
}

pub async fn list_dashboards(State(s): State<AppState>, ApiUser(v): ApiUser) -> ApiResult {
    Ok(Json(List::from(boards::visible(&s.carnet.db, v.user.id).await?)).into_response())
}

pub async fn create_dashboard(State(s): State<AppState>, ApiUser(v): ApiUser, Body(b): Body<NewDashboard>) -> ApiResult {
    let id = boards::create(&s.carnet.db, v.user.id, &b.name, b.shared.unwrap_or(false)).await?;
    Ok((StatusCode::CREATED, Json(Created { id })).into_response())
}

/// A dashboard with each widget's values; a widget that cannot be computed
/// carries its error in place, and the others are still there.
pub async fn get_dashboard(State(s): State<AppState>, ApiUser(v): ApiUser, Path(id): Path<i64>) -> ApiResult {
    let (d, widgets) = boards::get(&s.carnet.db, id, v.user.id).await?;
    let ctx = Context::load(&s.carnet.db).await?;
    let mut out = Vec::new();
    for w in &widgets {
        let input = RawInput::from_pairs(carnet_domain::values::parse_query_string(&w.query));
        let (values, error) = match ctx.evaluate(&s.carnet.db, &v.user, &w.metric, &input).await {
            Ok((r, vals)) => (Some(values_json(&ctx, &r, &vals, &v)), None),
            Err(AppError::Invalid(e)) => (
                None,
                Some(ErrorDetail {
                    code: "invalid".into(),
                    message: e.summary(),
                    fields: e.0,
                }),
            ),
            Err(e) => return Err(e.into()),
        };
        out.push(WidgetOut {
            id: w.id,
            title: w.title.clone(),
            chart: w.chart.clone(),
            metric: w.metric.clone(),
            query: w.query.clone(),
            position: w.position,
            values,
            error,
        });
    }
    Ok(Json(DashboardOut {
        id: d.id,
        name: d.name,
        shared: d.shared,
        owner_id: d.owner_id,
        widgets: out,
    })
    .into_response())
}

pub async fn update_dashboard(
    State(s): State<AppState>,
    ApiUser(v): ApiUser,
    Path(id): Path<i64>,
    Body(b): Body<DashboardPatch>,
) -> ApiResult {
    let (d, _) = boards::get(&s.carnet.db, id, v.user.id).await?;
    boards::update(
        &s.carnet.db,
        id,
        v.user.id,
        is_admin(&v),
        &b.name.unwrap_or(d.name),
        b.shared.unwrap_or(d.shared),
    )
    .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

pub async fn delete_dashboard(State(s): State<AppState>, ApiUser(v): ApiUser, Path(id): Path<i64>) -> ApiResult {
    boards::delete(&s.carnet.db, id, v.user.id, is_admin(&v)).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

pub async fn add_widget(State(s): State<AppState>, ApiUser(v): ApiUser, Path(id): Path<i64>, Body(b): Body<NewWidget>) -> ApiResult {
    let (title, query) = (b.title.unwrap_or_default(), b.query.unwrap_or_default());
    let w = boards::WidgetInput {
        title: &title,
        chart: b.chart.unwrap_or(Chart::Number).as_str(),
        metric: &b.metric,
        query: &query,
    };
    let wid = boards::add_widget(&s.carnet.db, id, v.user.id, is_admin(&v), &w).await?;
    Ok((StatusCode::CREATED, Json(Created { id: wid })).into_response())
}

pub async fn update_widget(
    State(s): State<AppState>,
    ApiUser(v): ApiUser,
    Path((id, wid)): Path<(i64, i64)>,
    Body(b): Body<WidgetPatch>,
) -> ApiResult {
    let (_, widgets) = boards::get(&s.carnet.db, id, v.user.id).await?;
    let cur = widgets.iter().find(|w| w.id == wid).ok_or(AppError::NotFound)?;
    let (title, metric, query) = (
        b.title.unwrap_or(cur.title.clone()),
        b.metric.unwrap_or(cur.metric.clone()),
        b.query.unwrap_or(cur.query.clone()),
    );
    let chart = b.chart.map_or(cur.chart.clone(), |c| c.as_str().to_string());
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
