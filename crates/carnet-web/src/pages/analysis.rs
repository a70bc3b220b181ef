//! Analysis pages: the flash figures on the home page (K1), dashboards of
//! widgets drawn as SVG by the server (K2), with each metric's definition at
//! hand (K4) and exports (SVG, CSV; PNG from the SVG in the browser).

use super::{checked_form, render, see_other, Layout, OrPage, PageError, PageResult};
use crate::api::metrics::change;
use crate::auth::{PageUser, Viewer};
use crate::charts::{self, Point};
use crate::AppState;
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Form, Router};
use carnet_app::analytics::request::sees_everyone;
use carnet_app::analytics::{boards, Context};
use carnet_app::AppError;
use carnet_domain::i18n::Fmt;
use carnet_domain::metrics::{self, Unit};
use carnet_domain::records::{Catalog, RawInput};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/figures", post(choose_figures))
        .route("/dashboards", get(list).post(create))
        .route("/dashboards/{id}", get(show).post(change_board))
        .route("/dashboards/{id}/widgets/{wid}/export", get(export))
}

/// A value as its unit reads.
pub fn show_value(fmt: &Fmt, unit: Unit, v: Option<f64>, currency: &str) -> String {
    let Some(v) = v else { return "—".into() };
    match unit {
        Unit::Count => fmt.number(v, 0),
        Unit::Money => fmt.money((v * 100.0).round() as i64, currency),
        Unit::Percent => format!("{}\u{a0}%", fmt.number(v, 1)),
        Unit::Hours => format!("{}\u{a0}h", fmt.number(v, 1)),
        Unit::Ratio => fmt.number(v, 1),
    }
}

fn show_change(fmt: &Fmt, c: Option<f64>) -> (String, &'static str) {
    match c {
        Some(c) if c > 0.05 => (format!("+{}\u{a0}%", fmt.number(c, 1)), "up"),
        Some(c) if c < -0.05 => (format!("{}\u{a0}%", fmt.number(c, 1)), "down"),
        Some(_) => ("=".into(), "flat"),
        None => ("—".into(), "flat"),
    }
}

pub struct Figure {
    pub id: &'static str,
    pub name: String,
    pub definition: String,
    pub value: String,
    pub previous: (String, &'static str),
    pub last_year: (String, &'static str),
    pub error: Option<String>,
}

/// The home strip: the figures the user chose, for a period, their own or (for
/// managers) the team's or one rep's.
pub struct Strip {
    pub figures: Vec<Figure>,
    pub periods: Vec<(String, String, bool)>,
    pub period_label: String,
    pub from: String,
    pub to: String,
    pub reps: Vec<(i64, String, bool)>,
    pub chosen: Vec<(&'static str, String, bool)>,
}

pub const STRIP_PERIODS: &[&str] = &["this_week", "this_month", "this_quarter", "this_year"];

pub async fn strip(s: &AppState, v: &Viewer, pairs: &[(String, String)]) -> Result<Strip, AppError> {
    let db = &s.carnet.db;
    let fmt = v.user.fmt();
    let ctx = Context::load(db).await?;
    let get = |k: &str| pairs.iter().find(|(x, _)| x == k).map(|(_, v)| v.clone()).unwrap_or_default();
    let (from, to) = (get("from"), get("to"));
    let custom = !from.is_empty() && !to.is_empty();
    let period = match get("period").as_str() {
        _ if custom => "custom".to_string(),
        p if STRIP_PERIODS.contains(&p) => p.to_string(),
        _ => "this_month".into(),
    };
    let rep: Option<i64> = get("rep").parse().ok();
    let everyone = sees_everyone(&v.user);
    let mut input = RawInput::default();
    if custom {
        input.set("from", from.clone());
        input.set("to", to.clone());
    } else {
        input.set("period", period.clone());
    }
    input.set("compare", "previous");
    if let (true, Some(r)) = (everyone, rep) {
        input.set("owner", r.to_string());
    }
    let mut figures = Vec::new();
    for (m, values) in ctx.flash_figures(db, &v.user, &input).await? {
        let mut f = Figure {
            id: m.id,
            name: m.name(v.user.locale).to_string(),
            definition: m.definition(v.user.locale).to_string(),
            value: "—".into(),
            previous: ("—".into(), "flat"),
            last_year: ("—".into(), "flat"),
            error: None,
        };
        match values {
            Ok(vals) => {
                f.value = show_value(&fmt, m.unit, vals.total.value, &ctx.currency);
                f.previous = show_change(&fmt, change(vals.total.value, vals.total.compare));
                f.last_year = show_change(&fmt, change(vals.total.value, vals.also));
            }
            Err(e) => f.error = Some(e.summary()),
        }
        figures.push(f);
    }
    let chosen = metrics::CATALOGUE
        .iter()
        .filter(|m| everyone || !m.managers_only)
        .map(|m| (m.id, m.name(v.user.locale).to_string(), figures.iter().any(|f| f.id == m.id)))
        .collect();
    let p = carnet_app::analytics::request::parse_period(&input, ctx.today).map_err(AppError::Invalid)?;
    Ok(Strip {
        figures,
        periods: STRIP_PERIODS
            .iter()
            .map(|x| (x.to_string(), fmt.t(&format!("period.{x}")).to_string(), *x == period))
            .collect(),
        period_label: format!("{} – {}", fmt.date(p.from), fmt.date(p.to)),
        from: p.from.to_string(),
        to: p.to.to_string(),
        reps: if everyone {
            ctx.cat
                .users
                .iter()
                .filter(|u| u.active)
                .map(|u| (u.id, u.name.clone(), rep == Some(u.id)))
                .collect()
        } else {
            vec![]
        },
        chosen,
    })
}

async fn choose_figures(State(s): State<AppState>, PageUser(v): PageUser, Form(pairs): Form<Vec<(String, String)>>) -> PageResult {
    let input = checked_form(&v, pairs)?;
    boards::set_figures(&s.carnet.db, v.user.id, input.all("figures"))
        .await
        .or_page(&v)?;
    Ok(see_other("/"))
}

#[derive(Template)]
#[template(path = "dashboards.html")]
struct ListPage {
    l: Layout,
    boards: Vec<(i64, String, bool, bool)>,
}

async fn list(State(s): State<AppState>, PageUser(v): PageUser) -> PageResult {
    let fmt = v.user.fmt();
    let boards = boards::visible(&s.carnet.db, v.user.id)
        .await
        .or_page(&v)?
        .into_iter()
        .map(|d| (d.id, d.name, d.shared, d.owner_id == Some(v.user.id)))
        .collect();
    Ok(render(&ListPage {
        boards,
        l: Layout::new(&v, fmt.t("nav.dashboards"), "dashboards"),
    }))
}

async fn create(State(s): State<AppState>, PageUser(v): PageUser, Form(pairs): Form<Vec<(String, String)>>) -> PageResult {
    let input = checked_form(&v, pairs)?;
    let id = boards::create(&s.carnet.db, v.user.id, input.one("name"), !input.one("shared").is_empty())
        .await
        .or_page(&v)?;
    Ok(see_other(&format!("/dashboards/{id}")))
}

pub struct WidgetView {
    pub id: i64,
    pub title: String,
    pub chart: String,
    pub definition: String,
    pub svg: String,
    pub number: String,
    pub sub: String,
    pub table: Vec<(String, String, String, String)>,
    pub compare_label: String,
    /// The widget's filters in words.
    pub filters: String,
    pub error: Option<String>,
}

#[derive(Template)]
#[template(path = "dashboard.html")]
struct BoardPage {
    l: Layout,
    id: i64,
    name: String,
    shared: bool,
    can_edit: bool,
    widgets: Vec<WidgetView>,
    metrics: Vec<(&'static str, String)>,
    charts: &'static [&'static str],
    /// (value, label) of every breakdown: named, by tag category, by field.
    breakdowns: Vec<(String, String)>,
    periods: &'static [&'static str],
    error: Option<String>,
    /// The widget form's filters: (parameter, label, options as (value, label)).
    filters: Vec<FilterChoice>,
    /// Whether the refused form had filters (they show unfolded).
    filters_open: bool,
    /// The widget form as typed, kept when it is refused.
    typed: RawInput,
}

type FilterChoice = (&'static str, String, Vec<(String, String)>);

/// The filters a widget can take, with their options from the catalogues.
fn filter_choices(fmt: &Fmt, ctx: &Context) -> Vec<FilterChoice> {
    let cat = &ctx.cat;
    let pairs = |it: &mut dyn Iterator<Item = (i64, String)>| it.map(|(id, n)| (id.to_string(), n)).collect::<Vec<_>>();
    let tag_names = |segment_only: bool| {
        cat.categories
            .iter()
            .filter(|c| c.is_segment || !segment_only)
            .flat_map(|c| c.tags.iter().map(move |t| (t.id.to_string(), format!("{}: {}", c.name, t.name))))
            .collect::<Vec<_>>()
    };
    let sales = &cat.sales;
    vec![
        (
            "owner",
            fmt.t("breakdown.owner").into(),
            pairs(&mut cat.users.iter().map(|u| (u.id, u.name.clone()))),
        ),
        ("segment", fmt.t("breakdown.segment").into(), tag_names(true)),
        (
            "source",
            fmt.t("breakdown.source").into(),
            pairs(&mut sales.sources.iter().map(|s| (s.id, s.name.clone()))),
        ),
        (
            "pipeline",
            fmt.t("breakdown.pipeline").into(),
            pairs(&mut sales.pipelines.iter().map(|p| (p.id, p.name.clone()))),
        ),
        (
            "stage",
            fmt.t("breakdown.stage").into(),
            sales
                .pipelines
                .iter()
                .flat_map(|p| {
                    p.stages
                        .iter()
                        .map(move |st| (st.id.to_string(), format!("{} · {}", p.name, st.name)))
                })
                .collect(),
        ),
        (
            "offer",
            fmt.t("breakdown.offer").into(),
            pairs(&mut sales.offers.iter().map(|o| (o.id, o.name.clone()))),
        ),
        (
            "type",
            fmt.t("breakdown.action_type").into(),
            pairs(&mut ctx.types().iter().cloned()),
        ),
        ("tag", fmt.t("breakdown.tags").into(), tag_names(false)),
        (
            "field",
            fmt.t("breakdown.field").into(),
            cat.fields
                .iter()
                .filter(|f| f.kind.has_choices())
                .flat_map(|f| {
                    f.choices
                        .iter()
                        .map(move |c| (format!("{}:{c}", f.key), format!("{}: {c}", f.label)))
                })
                .collect(),
        ),
    ]
    .into_iter()
    .filter(|(_, _, options)| !options.is_empty())
    .collect()
}

/// What a widget is filtered by, in words ("Rep: Ana · Tags: Interests: Fleet").
fn filter_summary(choices: &[FilterChoice], query: &RawInput) -> String {
    choices
        .iter()
        .filter_map(|(key, label, options)| {
            let chosen: Vec<&str> = query
                .all(key)
                .iter()
                .map(|v| options.iter().find(|(o, _)| o == v).map(|(_, l)| l.as_str()).unwrap_or(v.as_str()))
                .collect();
            (!chosen.is_empty()).then(|| format!("{label}: {}", chosen.join(", ")))
        })
        .collect::<Vec<_>>()
        .join(" · ")
}

/// What a breakdown is called in the widget form.
fn breakdown_label(fmt: &Fmt, cat: &Catalog, b: metrics::Breakdown) -> String {
    match b {
        metrics::Breakdown::Tags(id) => {
            let name = cat.categories.iter().find(|c| c.id == id).map(|c| c.name.as_str()).unwrap_or("?");
            format!("{}: {name}", fmt.t("breakdown.tags"))
        }
        metrics::Breakdown::Field(id, _) => {
            let label = cat.fields.iter().find(|f| f.id == id).map(|f| f.label.as_str()).unwrap_or("?");
            format!("{}: {label}", fmt.t("breakdown.field"))
        }
        named => fmt.t(&format!("breakdown.{}", named.name())).to_string(),
    }
}

/// One widget computed and drawn; a broken one carries its error. `choices`
/// name its filters in words (none for an export).
async fn widget_view(
    s: &AppState,
    v: &Viewer,
    ctx: &Context,
    w: &boards::Widget,
    choices: &[FilterChoice],
) -> Result<WidgetView, AppError> {
    let fmt = v.user.fmt();
    let mut view = WidgetView {
        id: w.id,
        title: w.title.clone(),
        chart: w.chart.clone(),
        definition: metrics::find(&w.metric)
            .map(|m| m.definition(v.user.locale).to_string())
            .unwrap_or_default(),
        svg: String::new(),
        number: String::new(),
        sub: String::new(),
        table: vec![],
        compare_label: String::new(),
        filters: String::new(),
        error: None,
    };
    let input = RawInput::from_pairs(carnet_domain::values::parse_query_string(&w.query));
    view.filters = filter_summary(choices, &input);
    let (r, vals) = match ctx.evaluate(&s.carnet.db, &v.user, &w.metric, &input).await {
        Ok(x) => x,
        Err(AppError::Invalid(e)) => {
            view.error = Some(e.summary());
            return Ok(view);
        }
        Err(e) => return Err(e),
    };
    let unit = r.metric.unit;
    let cur = &r.filters.currency;
    let labels = ctx.labels();
    let color_of = |key: &str| -> Option<String> {
        let id: i64 = key.parse().ok()?;
        match r.breakdown? {
            metrics::Breakdown::Segment | metrics::Breakdown::Tags(_) => ctx.cat.tag(id).map(|(_, t)| t.color.clone()),
            metrics::Breakdown::ActionType => ctx.type_color(id),
            _ => None,
        }
    };
    view.compare_label = match vals.compare {
        Some(c) => format!(
            "{} {} – {}{}",
            fmt.t("analysis.compared_to"),
            fmt.date(c.from),
            fmt.date(c.to),
            if vals.compare_length_differs {
                format!(" ({})", fmt.t("analysis.other_length"))
            } else {
                String::new()
            }
        ),
        None => String::new(),
    };
    view.number = show_value(&fmt, unit, vals.total.value, cur);
    view.sub = format!(
        "{} – {}{}",
        fmt.date(vals.period.from),
        fmt.date(vals.period.to),
        match change(vals.total.value, vals.total.compare) {
            Some(_) => format!(" · {}", show_change(&fmt, change(vals.total.value, vals.total.compare)).0),
            None => String::new(),
        }
    );
    let points: Vec<Point> = vals
        .rows
        .iter()
        .map(|row| Point {
            label: labels.label(r.breakdown, &row.key),
            value: row.value.unwrap_or(0.0),
            compare: row.compare,
            text: show_value(&fmt, unit, row.value, cur),
            color: color_of(&row.key),
        })
        .collect();
    view.table = vals
        .rows
        .iter()
        .map(|row| {
            (
                labels.label(r.breakdown, &row.key),
                show_value(&fmt, unit, row.value, cur),
                show_value(&fmt, unit, row.compare, cur),
                show_change(&fmt, change(row.value, row.compare)).0,
            )
        })
        .collect();
    view.table.push((
        fmt.t("analysis.total").into(),
        view.number.clone(),
        show_value(&fmt, unit, vals.total.compare, cur),
        show_change(&fmt, change(vals.total.value, vals.total.compare)).0,
    ));
    view.svg = match w.chart.as_str() {
        "bar" => charts::bar(&w.title, &points, &view.compare_label),
        "line" => charts::line(&w.title, &points, &view.compare_label),
        "pie" => charts::pie(&w.title, &points),
        "funnel" => charts::funnel(&w.title, &points),
        _ => charts::number(&w.title, &view.number, &view.sub),
    };
    Ok(view)
}

async fn board_page(s: &AppState, v: &Viewer, id: i64, error: Option<String>, typed: RawInput) -> PageResult {
    let (d, widgets) = boards::get(&s.carnet.db, id, v.user.id).await.or_page(v)?;
    let ctx = Context::load(&s.carnet.db).await.or_page(v)?;
    let choices = filter_choices(&v.user.fmt(), &ctx);
    let mut views = Vec::new();
    for w in &widgets {
        views.push(widget_view(s, v, &ctx, w, &choices).await.or_page(v)?);
    }
    let page = BoardPage {
        id,
        can_edit: d.owner_id == Some(v.user.id) || (d.shared && v.user.role == carnet_domain::access::Role::Admin),
        name: d.name.clone(),
        shared: d.shared,
        widgets: views,
        metrics: metrics::CATALOGUE
            .iter()
            .map(|m| (m.id, m.name(v.user.locale).to_string()))
            .collect(),
        charts: boards::CHARTS,
        breakdowns: metrics::Breakdown::offered(&ctx.cat)
            .into_iter()
            .map(|b| (b.key(), breakdown_label(&v.user.fmt(), &ctx.cat, b)))
            .collect(),
        periods: metrics::PRESETS,
        error: error.clone(),
        filters: choices,
        filters_open: FILTER_KEYS.iter().any(|k| !typed.all(k).is_empty()),
        typed,
        l: Layout::new(v, d.name, "dashboards"),
    };
    let mut r = render(&page);
    if error.is_some() {
        *r.status_mut() = axum::http::StatusCode::UNPROCESSABLE_ENTITY;
    }
    Ok(r)
}

async fn show(State(s): State<AppState>, PageUser(v): PageUser, Path(id): Path<i64>) -> PageResult {
    board_page(&s, &v, id, None, RawInput::default()).await
}

/// The filters a widget's request can carry.
const FILTER_KEYS: [&str; 9] = ["owner", "segment", "source", "pipeline", "stage", "offer", "type", "tag", "field"];

/// The widget form's fields as a request query string.
fn widget_query(i: &RawInput) -> String {
    let mut q = Vec::new();
    for k in ["period", "breakdown", "compare", "from", "to"] {
        let v = i.one(k).trim();
        if !v.is_empty() && v != "none" {
            q.push(format!("{k}={}", carnet_domain::values::url_encode(v)));
        }
    }
    for k in FILTER_KEYS {
        for v in i.all(k).iter().map(|v| v.trim()).filter(|v| !v.is_empty()) {
            q.push(format!("{k}={}", carnet_domain::values::url_encode(v)));
        }
    }
    q.join("&")
}

async fn change_board(
    State(s): State<AppState>,
    PageUser(v): PageUser,
    Path(id): Path<i64>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> PageResult {
    let i = checked_form(&v, pairs)?;
    let db = &s.carnet.db;
    let admin = v.user.role == carnet_domain::access::Role::Admin;
    let wid = |k: &str| i.one(k).parse::<i64>().map_err(|_| AppError::field(k, "is missing"));
    let result: Result<(), AppError> = async {
        match i.one("op") {
            "rename" => boards::update(db, id, v.user.id, admin, i.one("name"), !i.one("shared").is_empty()).await,
            "add" => {
                let query = widget_query(&i);
                let w = boards::WidgetInput {
                    title: i.one("title"),
                    chart: i.one("chart"),
                    metric: i.one("metric"),
                    query: &query,
                };
                boards::add_widget(db, id, v.user.id, admin, &w).await.map(drop)
            }
            "up" => boards::move_widget(db, id, wid("widget")?, v.user.id, admin, -1).await,
            "down" => boards::move_widget(db, id, wid("widget")?, v.user.id, admin, 1).await,
            "remove" => boards::delete_widget(db, id, wid("widget")?, v.user.id, admin).await,
            "delete" => boards::delete(db, id, v.user.id, admin).await,
            _ => Err(AppError::NotFound),
        }
    }
    .await;
    match result {
        Ok(()) if i.one("op") == "delete" => Ok(see_other("/dashboards")),
        Ok(()) => Ok(see_other(&format!("/dashboards/{id}"))),
        Err(AppError::Invalid(e)) => board_page(&s, &v, id, Some(e.summary()), i).await,
        Err(e) => Err(PageError::new(super::app_error_page(e, Some(&v)))),
    }
}

#[derive(serde::Deserialize)]
struct ExportParams {
    format: Option<String>,
}

/// A widget as SVG or CSV (the numbers, with the comparison).
async fn export(
    State(s): State<AppState>,
    PageUser(v): PageUser,
    Path((id, wid)): Path<(i64, i64)>,
    Query(p): Query<ExportParams>,
) -> PageResult {
    let (_, widgets) = boards::get(&s.carnet.db, id, v.user.id).await.or_page(&v)?;
    let w = widgets.iter().find(|w| w.id == wid).ok_or(AppError::NotFound).or_page(&v)?;
    let ctx = Context::load(&s.carnet.db).await.or_page(&v)?;
    let view = widget_view(&s, &v, &ctx, w, &[]).await.or_page(&v)?;
    if let Some(e) = view.error {
        return Err(AppError::field("widget", e)).or_page(&v);
    }
    let name: String = w.title.chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '-' }).collect();
    Ok(match p.format.as_deref() {
        Some("csv") => {
            let mut out = String::from("group,value,compared,change\r\n");
            let cell = |x: &str| {
                let x = x.replace(['\u{a0}', '\u{202f}'], " ");
                let x = if x.starts_with(['=', '+', '-', '@']) && x.parse::<f64>().is_err() {
                    format!("'{x}")
                } else {
                    x
                };
                format!("\"{}\"", x.replace('"', "\"\""))
            };
            for (g, a, b, c) in &view.table {
                out.push_str(&format!("{},{},{},{}\r\n", cell(g), cell(a), cell(b), cell(c)));
            }
            (
                [
                    (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
                    (header::CONTENT_DISPOSITION, format!("attachment; filename=\"{name}.csv\"")),
                ],
                out,
            )
                .into_response()
        }
        _ => (
            [
                (header::CONTENT_TYPE, "image/svg+xml".to_string()),
                (header::CONTENT_DISPOSITION, format!("attachment; filename=\"{name}.svg\"")),
            ],
            view.svg,
        )
            .into_response(),
    })
}
