//! Sales pages: the kanban board per pipeline (S3), moving an opportunity, the
//! forecast (S4), and entering orders on an account (S6); the opportunity
//! record pages (`opportunity_kind`).

mod opportunity_kind;

pub(crate) use opportunity_kind::opportunities_section;

use crate::auth::PageUser;
use crate::kinds::{Kind, Opportunities};
use crate::pages::records::form_page;
use crate::pages::view::{Badge, Field};
use crate::pages::{checked_form, render, see_other, Layout, OrPage, PageError, PageResult};
use crate::AppState;
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::routing::{get, post};
use axum::{Form, Router};
use carnet_app::sales::{self, board, forecast, opportunities, orders};
use carnet_app::AppError;
use carnet_domain::access::Permission;
use carnet_domain::records::RawInput;
use carnet_domain::sales::OrderDraft;
use carnet_domain::FieldErrors;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/pipeline", get(first_board))
        .route("/pipelines/{id}/board", get(board_page))
        .route("/opportunities/{id}/move", post(move_opportunity))
        .route("/forecast", get(forecast_page))
        .route("/accounts/{id}/orders", post(add_order))
}

async fn first_board(State(s): State<AppState>, PageUser(v): PageUser) -> PageResult {
    let cat = sales::catalog(&s.carnet.db).await.or_page(&v)?;
    let p = cat.pipelines.iter().find(|p| !p.archived).ok_or(AppError::NotFound).or_page(&v)?;
    Ok(see_other(&format!("/pipelines/{}/board", p.id)))
}

pub struct CardView {
    pub id: i64,
    pub name: String,
    pub account: String,
    pub amount: String,
    pub owner: String,
    pub days: i64,
    pub stalled: bool,
    pub segment: Option<Badge>,
    pub close: String,
    pub next: Option<String>,
}

/// "Demo · 3 Dec 2026, 10:00 AM": an action's type and when.
pub fn describe_action(
    a: &carnet_app::agenda::actions::Action,
    types: &[carnet_domain::agenda::ActionTypeDef],
    fmt: &carnet_domain::i18n::Fmt,
) -> String {
    let kind = types.iter().find(|t| t.id == a.type_id).map(|t| t.name.as_str()).unwrap_or("");
    let when = match (a.starts_at, &a.due_date) {
        (Some(t), _) => fmt.datetime(t),
        (None, Some(d)) => chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d")
            .map(|d| fmt.date(d))
            .unwrap_or_default(),
        _ => String::new(),
    };
    format!("{kind} · {} · {when}", a.subject)
}

pub struct ColumnView {
    pub stage_id: i64,
    pub name: String,
    pub probability: i64,
    pub count: i64,
    pub total: String,
    pub weighted: String,
    pub cards: Vec<CardView>,
    pub more: i64,
}

#[derive(Template)]
#[template(path = "board.html")]
struct BoardPage {
    l: Layout,
    pipeline_id: i64,
    pipelines: Vec<(i64, String, bool)>,
    columns: Vec<ColumnView>,
    closing: Vec<(i64, String, bool)>,
    stage_options: Vec<(String, String)>,
    filters: Vec<Field>,
    total: String,
    weighted: String,
    back: String,
    can_move: bool,
}

#[derive(serde::Deserialize, Default)]
pub struct BoardParams {
    owner: Option<String>,
    segment: Option<String>,
    offer: Option<String>,
    source: Option<String>,
    sort: Option<String>,
}

fn opt_id(field: &str, v: &Option<String>, e: &mut FieldErrors) -> Option<i64> {
    match v.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(x) => e.check(field, x.parse::<i64>().map_err(|_| "must be an id".to_string())),
    }
}

const PER_COLUMN: i64 = 30;

async fn board_page(State(s): State<AppState>, PageUser(v): PageUser, Path(id): Path<i64>, Query(p): Query<BoardParams>) -> PageResult {
    let db = &s.carnet.db;
    let cat = sales::full_catalog(db).await.or_page(&v)?;
    let pipeline = cat.sales.pipeline(id).cloned().ok_or(AppError::NotFound).or_page(&v)?;
    let mut e = FieldErrors::new();
    let sort = p.sort.clone().unwrap_or_default();
    let f = board::BoardFilter {
        owner: opt_id("owner", &p.owner, &mut e),
        segment_tag: opt_id("segment", &p.segment, &mut e),
        offer: opt_id("offer", &p.offer, &mut e),
        source: opt_id("source", &p.source, &mut e),
        sort: if ["amount", "close", "age"].contains(&sort.as_str()) {
            sort
        } else {
            String::new()
        },
        per_column: PER_COLUMN,
    };
    e.into_result().map_err(AppError::Invalid).or_page(&v)?;
    let b = board::board(db, &cat, &cat.sales, id, &f).await.or_page(&v)?;
    let fmt = v.user.fmt();
    let cur = &b.currency;
    let columns: Vec<ColumnView> = b
        .columns
        .iter()
        .map(|c| ColumnView {
            stage_id: c.stage.id,
            name: c.stage.name.clone(),
            probability: c.stage.probability,
            count: c.count,
            total: fmt.money(c.total, cur),
            weighted: fmt.money(c.weighted, cur),
            more: c.count - c.cards.len() as i64,
            cards: c
                .cards
                .iter()
                .map(|k| CardView {
                    id: k.opportunity.id,
                    name: k.opportunity.name.clone(),
                    account: k.opportunity.account_name.clone(),
                    amount: fmt.money(k.opportunity.amount, cur),
                    owner: k
                        .opportunity
                        .owner_id
                        .and_then(|o| cat.user(o))
                        .map(|u| u.name.clone())
                        .unwrap_or_default(),
                    days: k.days_in_stage,
                    stalled: k.stalled,
                    segment: k.segment.as_ref().map(|(n, c)| Badge {
                        text: n.clone(),
                        color: c.clone(),
                    }),
                    close: k
                        .opportunity
                        .expected_close
                        .as_deref()
                        .and_then(|d| chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
                        .map(|d| fmt.date(d))
                        .unwrap_or_default(),
                    next: None,
                })
                .collect(),
        })
        .collect();
    // The next planned action of each card.
    let ids: Vec<i64> = columns.iter().flat_map(|c| c.cards.iter().map(|k| k.id)).collect();
    let next = carnet_app::agenda::actions::next_for_opportunities(db, &ids).await.or_page(&v)?;
    let types = carnet_app::agenda::types(db).await.or_page(&v)?;
    let mut columns = columns;
    for card in columns.iter_mut().flat_map(|c| c.cards.iter_mut()) {
        card.next = next
            .iter()
            .find(|a| a.opportunity_id == Some(card.id))
            .map(|a| describe_action(a, &types, &fmt));
    }
    let none = RawInput::from_pairs([
        ("owner".to_string(), p.owner.clone().unwrap_or_default()),
        ("segment".to_string(), p.segment.clone().unwrap_or_default()),
        ("offer".to_string(), p.offer.clone().unwrap_or_default()),
        ("source".to_string(), p.source.clone().unwrap_or_default()),
        ("sort".to_string(), f.sort.clone()),
    ]);
    let errs = FieldErrors::new();
    let any = || (String::new(), fmt.t("list.any").to_string());
    let filters = vec![
        Field::new("owner", fmt.t("field.owner"), "select", &none, &errs).options(
            std::iter::once(any())
                .chain(cat.users.iter().map(|u| (u.id.to_string(), u.name.clone())))
                .collect(),
        ),
        Field::new("segment", fmt.t("opp.segment"), "select", &none, &errs).options(
            std::iter::once(any())
                .chain(
                    cat.categories
                        .iter()
                        .filter(|c| c.is_segment)
                        .flat_map(|c| c.tags.iter().map(|t| (t.id.to_string(), t.name.clone()))),
                )
                .collect(),
        ),
        Field::new("offer", fmt.t("opp.offer"), "select", &none, &errs).options(
            std::iter::once(any())
                .chain(cat.sales.offers.iter().map(|o| (o.id.to_string(), o.name.clone())))
                .collect(),
        ),
        Field::new("source", fmt.t("field.source"), "select", &none, &errs).options(
            std::iter::once(any())
                .chain(cat.sales.sources.iter().map(|o| (o.id.to_string(), o.name.clone())))
                .collect(),
        ),
        Field::new("sort", fmt.t("list.sort"), "select", &none, &errs).options(vec![
            (String::new(), fmt.t("board.sort_amount").into()),
            ("close".into(), fmt.t("board.sort_close").into()),
            ("age".into(), fmt.t("board.sort_age").into()),
        ]),
    ];
    let total: i64 = b.columns.iter().map(|c| c.total).sum();
    let weighted: i64 = b.columns.iter().map(|c| c.weighted).sum();
    let query = carnet_domain::values::to_query_string(
        none.0
            .iter()
            .filter(|(_, v)| !v[0].is_empty())
            .map(|(k, v)| (k.as_str(), v[0].as_str())),
    );
    Ok(render(&BoardPage {
        pipeline_id: id,
        pipelines: cat
            .sales
            .pipelines
            .iter()
            .filter(|p| !p.archived)
            .map(|p| (p.id, p.name.clone(), p.id == id))
            .collect(),
        closing: pipeline
            .stages
            .iter()
            .filter(|s| s.outcome != carnet_domain::sales::Outcome::Open && !s.archived)
            .map(|s| (s.id, s.name.clone(), s.outcome == carnet_domain::sales::Outcome::Lost))
            .collect(),
        stage_options: pipeline
            .stages
            .iter()
            .filter(|s| !s.archived)
            .map(|s| (s.id.to_string(), s.name.clone()))
            .collect(),
        columns,
        filters,
        total: fmt.money(total, cur),
        weighted: fmt.money(weighted, cur),
        back: if query.is_empty() {
            format!("/pipelines/{id}/board")
        } else {
            format!("/pipelines/{id}/board?{query}")
        },
        can_move: v.can(Permission::WriteOpportunities),
        l: Layout::new(&v, format!("{} — {}", fmt.t("nav.pipeline"), pipeline.name), "pipeline"),
    }))
}

/// A move from the board or the card. When the target stage needs fields
/// (mandatory rules, a lost reason), the opportunity's form opens with them
/// marked instead of the move failing silently.
async fn move_opportunity(
    State(s): State<AppState>,
    PageUser(v): PageUser,
    Path(id): Path<i64>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> PageResult {
    let input = checked_form(&v, pairs)?;
    v.require(Permission::WriteOpportunities).or_page(&v)?;
    let cat = sales::full_catalog(&s.carnet.db).await.or_page(&v)?;
    let back = crate::pages::local_path(input.one("back"))
        .map(str::to_string)
        .unwrap_or(format!("/opportunities/{id}"));
    match opportunities::move_to(
        &s.carnet,
        &cat,
        &cat.sales,
        &v.user,
        id,
        input.one("stage"),
        input.one("lost_reason"),
        None,
    )
    .await
    {
        Ok(()) => Ok(see_other(&back)),
        Err(AppError::Invalid(errors)) => {
            let card = opportunities::get(&s.carnet.db, &cat, id).await.or_page(&v)?;
            let mut raw = <Opportunities as Kind>::to_raw(&card, &cat);
            raw.set("stage", input.one("stage"));
            raw.set("lost_reason", input.one("lost_reason"));
            Ok(form_page::<Opportunities>(&v, &cat, &raw, &errors, Some(id), &[]))
        }
        Err(e) => Err(PageError::new(super::app_error_page(e, Some(&v)))),
    }
}

pub struct ForecastRow {
    pub label: String,
    pub cells: Vec<(String, String)>,
    pub total: String,
}

pub struct Bar {
    pub x: i64,
    pub y: i64,
    pub h: i64,
    pub wy: i64,
    pub wh: i64,
    pub label: String,
    pub title: String,
}

#[derive(Template)]
#[template(path = "forecast.html")]
struct ForecastPage {
    l: Layout,
    by: String,
    from: String,
    months_n: u32,
    months: Vec<String>,
    rows: Vec<ForecastRow>,
    totals: Vec<(String, String)>,
    won: Vec<(String, String, i64)>,
    bars: Vec<Bar>,
    chart_w: i64,
    max_label: String,
    error: Option<String>,
}

#[derive(serde::Deserialize)]
pub struct ForecastParams {
    from: Option<String>,
    months: Option<u32>,
    by: Option<String>,
}

async fn forecast_page(State(s): State<AppState>, PageUser(v): PageUser, Query(p): Query<ForecastParams>) -> PageResult {
    let fmt = v.user.fmt();
    let cat = sales::full_catalog(&s.carnet.db).await.or_page(&v)?;
    let mut e = FieldErrors::new();
    let from = match p.from.as_deref().unwrap_or("") {
        "" => Some(s.carnet.db.clock().today_in(v.user.tz)),
        f => e.check(
            "from",
            chrono::NaiveDate::parse_from_str(&format!("{f}-01"), "%Y-%m-%d").map_err(|_| "must be a month (YYYY-MM)".to_string()),
        ),
    }
    .unwrap_or_else(|| s.carnet.db.clock().today_in(v.user.tz));
    let n = p.months.unwrap_or(6).clamp(1, 24);
    let by = e
        .check("by", forecast::By::parse(p.by.as_deref().unwrap_or("")))
        .unwrap_or(forecast::By::Owner);
    let (start, end) = forecast::month_range(from, n);
    let f = forecast::forecast(&s.carnet.db, start, end, by, v.user.tz).await.or_page(&v)?;
    // Month i of the period starts i months after `start`.
    let months: Vec<String> = (0..n)
        .map(|i| if i == 0 { start } else { forecast::month_range(start, i).1 })
        .map(|m| m.format("%Y-%m").to_string())
        .collect();
    let label = |key: Option<i64>| -> String {
        match (by, key) {
            (_, None) => fmt.t("forecast.none").to_string(),
            (forecast::By::Owner, Some(k)) => cat.user(k).map(|u| u.name.clone()).unwrap_or_default(),
            (forecast::By::Segment, Some(k)) => cat.tag(k).map(|(_, t)| t.name.clone()).unwrap_or_default(),
            (forecast::By::Pipeline, Some(k)) => cat.sales.pipeline(k).map(|p| p.name.clone()).unwrap_or_default(),
        }
    };
    // Amounts are shown in the main currency; other currencies get their own rows.
    let mut keys: Vec<(Option<i64>, String)> = f.rows.iter().map(|r| (r.key, r.currency.clone())).collect();
    keys.sort();
    keys.dedup();
    let cols: Vec<String> = months.iter().cloned().chain(std::iter::once(String::new())).collect();
    let rows: Vec<ForecastRow> = keys
        .iter()
        .map(|(k, cur)| {
            let cell = |m: &str| {
                f.rows
                    .iter()
                    .find(|r| r.key == *k && &r.currency == cur && r.month == m)
                    .map(|r| (fmt.money(r.weighted_amount, cur), fmt.money(r.open_amount, cur)))
                    .unwrap_or_default()
            };
            let total: i64 = f
                .rows
                .iter()
                .filter(|r| r.key == *k && &r.currency == cur)
                .map(|r| r.weighted_amount)
                .sum();
            ForecastRow {
                label: format!("{} ({cur})", label(*k)),
                cells: cols.iter().map(|m| cell(m)).collect(),
                total: fmt.money(total, cur),
            }
        })
        .collect();
    let main = f.rows.first().map(|r| r.currency.clone()).unwrap_or("EUR".into());
    let per_month: Vec<(i64, i64)> = months
        .iter()
        .map(|m| {
            let rs = f.rows.iter().filter(|r| &r.month == m && r.currency == main);
            rs.fold((0, 0), |acc, r| (acc.0 + r.open_amount, acc.1 + r.weighted_amount))
        })
        .collect();
    let totals = per_month
        .iter()
        .map(|(o, w)| (fmt.money(*w, &main), fmt.money(*o, &main)))
        .collect();
    let max = per_month.iter().map(|x| x.0).max().unwrap_or(0).max(1);
    let (h, bw) = (180i64, 56i64);
    let bars = months
        .iter()
        .zip(&per_month)
        .enumerate()
        .map(|(i, (m, (open, weighted)))| {
            let oh = open * h / max;
            let wh = weighted * h / max;
            Bar {
                x: 48 + i as i64 * (bw + 16),
                y: 10 + h - oh,
                h: oh,
                wy: 10 + h - wh,
                wh,
                label: m.clone(),
                title: format!(
                    "{m}: {} {} · {} {}",
                    fmt.t("forecast.open"),
                    fmt.money(*open, &main),
                    fmt.t("forecast.weighted"),
                    fmt.money(*weighted, &main)
                ),
            }
        })
        .collect();
    Ok(render(&ForecastPage {
        by: p.by.clone().unwrap_or("owner".into()),
        from: start.format("%Y-%m").to_string(),
        months_n: n,
        chart_w: 64 + months.len() as i64 * (bw + 16),
        max_label: fmt.money(max, &main),
        months,
        rows,
        totals,
        won: f
            .won
            .iter()
            .map(|w| (label(w.key), fmt.money(w.amount, &w.currency), w.count))
            .collect(),
        bars,
        error: (!e.is_empty()).then(|| e.summary()),
        l: Layout::new(&v, fmt.t("nav.forecast"), "forecast"),
    }))
}

/// Records an order from the account card.
async fn add_order(
    State(s): State<AppState>,
    PageUser(v): PageUser,
    Path(id): Path<i64>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> PageResult {
    let mut input = checked_form(&v, pairs)?;
    v.require(Permission::WriteOpportunities).or_page(&v)?;
    input.set("account", id.to_string());
    let sales_cat = sales::catalog(&s.carnet.db).await.or_page(&v)?;
    let currency = sales_cat.pipelines.first().map(|p| p.currency.clone()).unwrap_or("EUR".into());
    let d = OrderDraft::parse(&input, &sales_cat, &currency, &[])
        .map_err(AppError::Invalid)
        .or_page(&v)?;
    orders::create(&s.carnet.db, &v.user, &d).await.or_page(&v)?;
    Ok(see_other(&format!("/accounts/{id}#orders")))
}
