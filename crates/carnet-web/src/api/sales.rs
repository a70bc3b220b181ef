//! The sales process over JSON: pipelines and stages, opportunities and their
//! moves, the board, the forecast, offers, orders, sources and lost reasons.

use super::JsonBody;
use super::Path;
use crate::auth::ApiUser;
use crate::error::ApiError;
use crate::kinds::{iso, money, Kind, Opportunities};
use crate::AppState;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use carnet_app::sales::{self, board, forecast, opportunities, orders};
use carnet_app::AppError;
use carnet_domain::access::Permission;
use carnet_domain::records::{Catalog, RawInput};
use carnet_domain::sales::{OrderDraft, SalesCatalog};
use serde_json::{json, Value};

type ApiResult = Result<Response, ApiError>;

fn card_json(card: &opportunities::OpportunityCard, cat: &Catalog, now: i64) -> Value {
    <Opportunities as Kind>::card_json(card, cat, now)
}

fn history_json(card: &opportunities::OpportunityCard, sales: &SalesCatalog) -> Value {
    let name = |id: Option<i64>| id.and_then(|i| sales.stage(i)).map(|(_, s)| s.name.clone());
    Value::Array(
        card.history
            .iter()
            .map(|m| json!({"from": name(m.from_stage_id), "from_stage_id": m.from_stage_id, "to": name(Some(m.to_stage_id)), "to_stage_id": m.to_stage_id,
                            "by": m.moved_by_name, "at": iso(m.moved_at)}))
            .collect(),
    )
}

async fn catalogs(s: &AppState) -> Result<(Catalog, SalesCatalog), AppError> {
    let cat = sales::full_catalog(&s.carnet.db).await?;
    let sales = cat.sales.clone();
    Ok((cat, sales))
}

pub async fn list_pipelines(State(s): State<AppState>, ApiUser(v): ApiUser) -> ApiResult {
    v.require(Permission::ReadRecords)?;
    Ok(Json(json!({"data": sales::catalog(&s.carnet.db).await?.pipelines})).into_response())
}

fn id_list(b: &JsonBody, k: &str) -> Result<Option<Vec<i64>>, AppError> {
    match b.0.get(k) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(a)) => a
            .iter()
            .map(|x| x.as_i64().ok_or_else(|| AppError::field(k, "must be a list of ids")))
            .collect::<Result<Vec<_>, _>>()
            .map(Some),
        Some(_) => Err(AppError::field(k, "must be a list of ids")),
    }
}

pub async fn create_pipeline(State(s): State<AppState>, ApiUser(v): ApiUser, b: JsonBody) -> ApiResult {
    v.require(Permission::ManageSettings)?;
    b.only(&["name", "currency", "segments", "offers"])?;
    let (name, currency) = (b.str("name")?.unwrap_or_default(), b.str("currency")?.unwrap_or_default());
    let id = sales::create_pipeline(
        &s.carnet.db,
        sales::PipelineInput {
            name: &name,
            currency: &currency,
            segment_tag_ids: id_list(&b, "segments")?,
            offer_ids: id_list(&b, "offers")?,
            archived: None,
        },
    )
    .await?;
    Ok((StatusCode::CREATED, Json(json!({"id": id}))).into_response())
}

pub async fn update_pipeline(State(s): State<AppState>, ApiUser(v): ApiUser, Path(id): Path<i64>, b: JsonBody) -> ApiResult {
    v.require(Permission::ManageSettings)?;
    b.only(&["name", "currency", "segments", "offers", "archived"])?;
    let cur = sales::catalog(&s.carnet.db)
        .await?
        .pipeline(id)
        .cloned()
        .ok_or(AppError::NotFound)?;
    let (name, currency) = (b.str("name")?.unwrap_or(cur.name), b.str("currency")?.unwrap_or_default());
    sales::update_pipeline(
        &s.carnet.db,
        id,
        sales::PipelineInput {
            name: &name,
            currency: &currency,
            segment_tag_ids: id_list(&b, "segments")?,
            offer_ids: id_list(&b, "offers")?,
            archived: b.bool("archived")?,
        },
    )
    .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

fn num_or_str(b: &JsonBody, k: &str) -> Result<String, AppError> {
    match b.0.get(k) {
        None | Some(Value::Null) => Ok(String::new()),
        Some(Value::Number(n)) => Ok(n.to_string()),
        Some(Value::String(s)) => Ok(s.clone()),
        Some(_) => Err(AppError::field(k, "must be a number")),
    }
}

pub async fn create_stage(State(s): State<AppState>, ApiUser(v): ApiUser, Path(id): Path<i64>, b: JsonBody) -> ApiResult {
    v.require(Permission::ManageSettings)?;
    b.only(&["name", "probability", "stall_days", "outcome"])?;
    let (name, p, stall, outcome) = (
        b.str("name")?.unwrap_or_default(),
        num_or_str(&b, "probability")?,
        num_or_str(&b, "stall_days")?,
        b.str("outcome")?.unwrap_or_default(),
    );
    let sid = sales::create_stage(
        &s.carnet.db,
        id,
        sales::StageInput {
            name: &name,
            probability: &p,
            stall_days: &stall,
            outcome: &outcome,
        },
    )
    .await?;
    Ok((StatusCode::CREATED, Json(json!({"id": sid}))).into_response())
}

pub async fn update_stage(State(s): State<AppState>, ApiUser(v): ApiUser, Path(id): Path<i64>, b: JsonBody) -> ApiResult {
    v.require(Permission::ManageSettings)?;
    b.only(&["name", "probability", "stall_days", "position"])?;
    let sales_cat = sales::catalog(&s.carnet.db).await?;
    let (_, cur) = sales_cat.stage(id).ok_or(AppError::NotFound)?;
    let name = b.str("name")?.unwrap_or(cur.name.clone());
    let p = match num_or_str(&b, "probability")? {
        p if p.is_empty() => cur.probability.to_string(),
        p => p,
    };
    let stall = if b.0.contains_key("stall_days") {
        num_or_str(&b, "stall_days")?
    } else {
        cur.stall_days.map(|d| d.to_string()).unwrap_or_default()
    };
    sales::update_stage(
        &s.carnet.db,
        id,
        sales::StageInput {
            name: &name,
            probability: &p,
            stall_days: &stall,
            outcome: "",
        },
    )
    .await?;
    if let Some(delta) = b.i64("position")? {
        for _ in 0..delta.abs().min(100) {
            sales::move_stage_position(&s.carnet.db, id, delta.signum()).await?;
        }
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[derive(serde::Deserialize)]
pub struct MoveTo {
    move_to: Option<i64>,
}

pub async fn delete_stage(State(s): State<AppState>, ApiUser(v): ApiUser, Path(id): Path<i64>, Query(m): Query<MoveTo>) -> ApiResult {
    v.require(Permission::ManageSettings)?;
    sales::delete_stage(&s.carnet.db, id, m.move_to).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[derive(serde::Deserialize)]
pub struct BoardParams {
    owner: Option<i64>,
    segment: Option<i64>,
    offer: Option<i64>,
    source: Option<i64>,
    sort: Option<String>,
    per_column: Option<i64>,
}

pub async fn get_board(State(s): State<AppState>, ApiUser(v): ApiUser, Path(id): Path<i64>, Query(p): Query<BoardParams>) -> ApiResult {
    v.require(Permission::ReadRecords)?;
    let (cat, sales_cat) = catalogs(&s).await?;
    let sort = p.sort.unwrap_or_default();
    if !["", "amount", "close", "age"].contains(&sort.as_str()) {
        return Err(AppError::field("sort", "must be amount, close or age").into());
    }
    let f = board::BoardFilter {
        owner: p.owner,
        segment_tag: p.segment,
        offer: p.offer,
        source: p.source,
        sort,
        per_column: p.per_column.unwrap_or(50),
    };
    let b = board::board(&s.carnet.db, &cat, &sales_cat, id, &f).await?;
    let columns: Vec<Value> = b
        .columns
        .iter()
        .map(|c| {
            json!({"stage": {"id": c.stage.id, "name": c.stage.name, "probability": c.stage.probability, "stall_days": c.stage.stall_days},
                   "count": c.count, "total": money(c.total), "weighted": money(c.weighted),
                   "cards": c.cards.iter().map(|k| json!({"id": k.opportunity.id, "name": k.opportunity.name, "account": k.opportunity.account_name,
                        "amount": money(k.opportunity.amount), "owner_id": k.opportunity.owner_id, "days_in_stage": k.days_in_stage, "stalled": k.stalled,
                        "segment": k.segment.as_ref().map(|(n, c)| json!({"name": n, "color": c})), "expected_close": k.opportunity.expected_close})).collect::<Vec<_>>()})
        })
        .collect();
    Ok(Json(json!({"pipeline_id": b.pipeline_id, "currency": b.currency, "columns": columns})).into_response())
}

/// Moves an opportunity to another stage of its pipeline; a stage with mandatory
/// fields, or a lost stage without a reason, answers 422 naming the fields.
/// With `If-Match` (or a `version` field), a deal changed by someone else since
/// is not moved: 409.
pub async fn move_opportunity(
    State(s): State<AppState>,
    ApiUser(v): ApiUser,
    Path(id): Path<i64>,
    headers: axum::http::HeaderMap,
    b: JsonBody,
) -> ApiResult {
    v.require(Permission::WriteOpportunities)?;
    b.only(&["stage", "lost_reason", "version"])?;
    let stage = num_or_str(&b, "stage")?;
    if stage.is_empty() {
        return Err(AppError::field("stage", "is required").into());
    }
    let if_match = headers.get(axum::http::header::IF_MATCH).map(|h| h.to_str().unwrap_or("?"));
    let expected = crate::kinds::expected_version(if_match, b.i64("version")?.map(|v| v.to_string()).as_deref())?;
    let (cat, sales_cat) = catalogs(&s).await?;
    let lost_reason = num_or_str(&b, "lost_reason")?;
    opportunities::move_to(&s.carnet, &cat, &sales_cat, &v.user, id, &stage, &lost_reason, expected).await?;
    let card = opportunities::get(&s.carnet.db, &cat, id).await?;
    let etag = format!("\"{}\"", card.opportunity.version);
    Ok(([(axum::http::header::ETAG, etag)], Json(card_json(&card, &cat, s.carnet.db.now()))).into_response())
}

pub async fn opportunity_history(State(s): State<AppState>, ApiUser(v): ApiUser, Path(id): Path<i64>) -> ApiResult {
    v.require(Permission::ReadRecords)?;
    let (cat, sales_cat) = catalogs(&s).await?;
    let card = opportunities::get(&s.carnet.db, &cat, id).await?;
    Ok(Json(json!({"data": history_json(&card, &sales_cat)})).into_response())
}

#[derive(serde::Deserialize)]
pub struct ForecastParams {
    from: Option<String>,
    months: Option<u32>,
    by: Option<String>,
}

pub async fn get_forecast(State(s): State<AppState>, ApiUser(v): ApiUser, Query(p): Query<ForecastParams>) -> ApiResult {
    v.require(Permission::ReadRecords)?;
    let mut e = carnet_domain::FieldErrors::new();
    let from = match p.from.as_deref().unwrap_or("") {
        "" => Some(s.carnet.db.clock().today_in(v.user.tz)),
        f => e.check(
            "from",
            chrono::NaiveDate::parse_from_str(&format!("{f}-01"), "%Y-%m-%d").map_err(|_| "must be a month (YYYY-MM)".to_string()),
        ),
    };
    let months = p.months.unwrap_or(6);
    if !(1..=36).contains(&months) {
        e.add("months", "must be between 1 and 36");
    }
    let by = e.check("by", forecast::By::parse(p.by.as_deref().unwrap_or("")));
    e.into_result().map_err(AppError::Invalid)?;
    let (start, end) = forecast::month_range(from.unwrap(), months);
    let f = forecast::forecast(&s.carnet.db, start, end, by.unwrap(), v.user.tz).await?;
    let rows: Vec<Value> = f
        .rows
        .iter()
        .map(|r| json!({"month": r.month, "key": r.key, "currency": r.currency, "count": r.count, "open_amount": money(r.open_amount), "weighted_amount": money(r.weighted_amount)}))
        .collect();
    let won: Vec<Value> = f
        .won
        .iter()
        .map(|w| json!({"key": w.key, "currency": w.currency, "count": w.count, "amount": money(w.amount)}))
        .collect();
    Ok(Json(json!({"from": f.from, "to": f.to, "by": p.by.unwrap_or("owner".into()), "rows": rows, "won": won})).into_response())
}

pub async fn list_offers(State(s): State<AppState>, ApiUser(_): ApiUser) -> ApiResult {
    Ok(Json(json!({"data": sales::catalog(&s.carnet.db).await?.offers})).into_response())
}

pub async fn create_offer(State(s): State<AppState>, ApiUser(v): ApiUser, b: JsonBody) -> ApiResult {
    v.require(Permission::ManageSettings)?;
    b.only(&["name", "code", "list_price", "currency"])?;
    let g = |k: &str| num_or_str(&b, k);
    let id = sales::create_offer(&s.carnet.db, &g("name")?, &g("code")?, &g("list_price")?, &g("currency")?).await?;
    Ok((StatusCode::CREATED, Json(json!({"id": id}))).into_response())
}

pub async fn update_offer(State(s): State<AppState>, ApiUser(v): ApiUser, Path(id): Path<i64>, b: JsonBody) -> ApiResult {
    v.require(Permission::ManageSettings)?;
    b.only(&["name", "list_price", "active"])?;
    let cur = sales::catalog(&s.carnet.db)
        .await?
        .offers
        .into_iter()
        .find(|o| o.id == id)
        .ok_or(AppError::NotFound)?;
    let price = match num_or_str(&b, "list_price")? {
        p if p.is_empty() => money(cur.list_price),
        p => p,
    };
    sales::update_offer(
        &s.carnet.db,
        id,
        &b.str("name")?.unwrap_or(cur.name),
        &price,
        b.bool("active")?.unwrap_or(cur.active),
    )
    .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

pub async fn list_sources(State(s): State<AppState>, ApiUser(_): ApiUser) -> ApiResult {
    Ok(Json(json!({"data": sales::catalog(&s.carnet.db).await?.sources})).into_response())
}

pub async fn create_source(State(s): State<AppState>, ApiUser(v): ApiUser, b: JsonBody) -> ApiResult {
    v.require(Permission::ManageSettings)?;
    b.only(&["name", "kind"])?;
    let id = sales::add_to_list(
        &s.carnet.db,
        sales::ListTable::Sources,
        &b.str("name")?.unwrap_or_default(),
        &b.str("kind")?.unwrap_or("other".into()),
    )
    .await?;
    Ok((StatusCode::CREATED, Json(json!({"id": id}))).into_response())
}

pub async fn list_lost_reasons(State(s): State<AppState>, ApiUser(_): ApiUser) -> ApiResult {
    Ok(Json(json!({"data": sales::catalog(&s.carnet.db).await?.lost_reasons})).into_response())
}

pub async fn create_lost_reason(State(s): State<AppState>, ApiUser(v): ApiUser, b: JsonBody) -> ApiResult {
    v.require(Permission::ManageSettings)?;
    b.only(&["name"])?;
    let id = sales::add_to_list(&s.carnet.db, sales::ListTable::LostReasons, &b.str("name")?.unwrap_or_default(), "").await?;
    Ok((StatusCode::CREATED, Json(json!({"id": id}))).into_response())
}

fn order_json(o: &orders::Order) -> Value {
    json!({"id": o.id, "account_id": o.account_id, "number": o.number, "order_date": o.order_date, "amount": money(o.amount),
           "margin": o.margin.map(money), "currency": o.currency, "offer_id": o.offer_id, "created_at": iso(o.created_at)})
}

#[derive(serde::Deserialize)]
pub struct OrderParams {
    account: Option<i64>,
}

/// Orders of an account, with its lifetime totals.
pub async fn list_orders(State(s): State<AppState>, ApiUser(v): ApiUser, Query(p): Query<OrderParams>) -> ApiResult {
    v.require(Permission::ReadRecords)?;
    let account = p.account.ok_or_else(|| AppError::field("account", "is required"))?;
    let list = orders::for_account(&s.carnet.db, account).await?;
    let life = orders::lifetime(&s.carnet.db, account).await?;
    let lifetime: Vec<Value> = life
        .iter()
        .map(|l| json!({"currency": l.currency, "orders": l.orders, "revenue": money(l.revenue), "margin": money(l.margin)}))
        .collect();
    Ok(Json(json!({"data": list.iter().map(order_json).collect::<Vec<_>>(), "lifetime": lifetime})).into_response())
}

async fn order_draft(s: &AppState, b: &JsonBody, base: Option<&orders::Order>) -> Result<OrderDraft, AppError> {
    let sales_cat = sales::catalog(&s.carnet.db).await?;
    let mut raw = RawInput::default();
    if let Some(o) = base {
        raw.set("account", o.account_id.to_string());
        raw.set("number", o.number.clone());
        raw.set("order_date", o.order_date.clone());
        raw.set("amount", money(o.amount));
        raw.set("margin", o.margin.map(money).unwrap_or_default());
        raw.set("currency", o.currency.clone());
        raw.set("offer", o.offer_id.map(|x| x.to_string()).unwrap_or_default());
    }
    raw.overlay(RawInput::from_json(&b.value()).map_err(AppError::Invalid)?);
    OrderDraft::parse(&raw, &sales_cat, "EUR", &[]).map_err(AppError::Invalid)
}

pub async fn create_order(State(s): State<AppState>, ApiUser(v): ApiUser, b: JsonBody) -> ApiResult {
    v.require(Permission::WriteOpportunities)?;
    let d = order_draft(&s, &b, None).await?;
    let id = orders::create(&s.carnet.db, &v.user, &d).await?;
    Ok((StatusCode::CREATED, Json(order_json(&orders::get(&s.carnet.db, id).await?))).into_response())
}

pub async fn get_order(State(s): State<AppState>, ApiUser(v): ApiUser, Path(id): Path<i64>) -> ApiResult {
    v.require(Permission::ReadRecords)?;
    Ok(Json(order_json(&orders::get(&s.carnet.db, id).await?)).into_response())
}

pub async fn update_order(State(s): State<AppState>, ApiUser(v): ApiUser, Path(id): Path<i64>, b: JsonBody) -> ApiResult {
    v.require(Permission::WriteOpportunities)?;
    let cur = orders::get(&s.carnet.db, id).await?;
    let d = order_draft(&s, &b, Some(&cur)).await?;
    orders::update(&s.carnet.db, &v.user, id, &d).await?;
    Ok(Json(order_json(&orders::get(&s.carnet.db, id).await?)).into_response())
}

pub async fn delete_order(State(s): State<AppState>, ApiUser(v): ApiUser, Path(id): Path<i64>) -> ApiResult {
    v.require(Permission::DeleteRecords)?;
    orders::delete(&s.carnet.db, id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
