//! The sales process over JSON: pipelines and stages, opportunities and their
//! moves, the board, the forecast, offers, orders, sources and lost reasons.

use super::openapi::{delete, get, patch, post, Op};
use super::types::{nullable, Body, Created, Decimal, List, Money, Ref};
use super::{Path, Query};
use crate::auth::ApiUser;
use crate::error::ApiError;
use crate::kinds::{iso, money, Kind, Opportunities, OpportunityOut};
use crate::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use carnet_app::sales::{self, board, forecast, opportunities, orders};
use carnet_app::AppError;
use carnet_domain::access::Permission;
use carnet_domain::catalog::{NamedDef, OfferDef, Outcome, PipelineDef, SourceDef};
use carnet_domain::records::{Catalog, RawInput};
use carnet_domain::sales::{OrderDraft, SalesCatalog};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

type ApiResult = Result<Response, ApiError>;

pub fn ops() -> Vec<Op> {
    vec![
        get("/pipelines", list_pipelines)
            .requires(Permission::ReadRecords)
            .doc("sales", "Pipelines with their stages")
            .answers::<List<PipelineDef>>(200),
        post("/pipelines", create_pipeline)
            .requires(Permission::ManageSettings)
            .doc("sales", "Add a pipeline")
            .body::<NewPipeline>()
            .answers::<Created>(201),
        patch("/pipelines/{id}", update_pipeline)
            .requires(Permission::ManageSettings)
            .doc("sales", "Change or archive a pipeline")
            .body::<PipelinePatch>(),
        post("/pipelines/{id}/stages", create_stage)
            .requires(Permission::ManageSettings)
            .doc("sales", "Add a stage at the end of a pipeline")
            .body::<NewStage>()
            .answers::<Created>(201),
        get("/pipelines/{id}/board", get_board)
            .requires(Permission::ReadRecords)
            .doc("sales", "The pipeline's board: a column per stage with its deals and totals")
            .query::<BoardParams>()
            .answers::<BoardOut>(200),
        patch("/stages/{id}", update_stage)
            .requires(Permission::ManageSettings)
            .doc("sales", "Change a stage, or move it")
            .body::<StagePatch>(),
        delete("/stages/{id}", delete_stage)
            .requires(Permission::ManageSettings)
            .doc("sales", "Delete a stage; its deals move to move_to (required when it has deals)")
            .query::<MoveTo>(),
        post("/opportunities/{id}/move", move_opportunity)
            .requires(Permission::WriteOpportunities)
            .doc(
                "sales",
                "Move to a stage of its pipeline, recording history (lost stages need lost_reason)",
            )
            .body::<MoveIn>()
            .answers::<OpportunityOut>(200)
            .headers(&["ETag"]),
        get("/opportunities/{id}/history", opportunity_history)
            .requires(Permission::ReadRecords)
            .doc("sales", "An opportunity's stage moves, oldest first")
            .answers::<List<MoveOut>>(200),
        get("/forecast", get_forecast)
            .requires(Permission::ReadRecords)
            .doc(
                "sales",
                "Open deals by expected close month, and deals won, by owner, segment or pipeline",
            )
            .query::<ForecastParams>()
            .answers::<ForecastOut>(200),
        get("/offers", list_offers)
            .doc("sales", "Offers (list prices in cents)")
            .answers::<List<OfferDef>>(200),
        post("/offers", create_offer)
            .requires(Permission::ManageSettings)
            .doc("sales", "Add an offer")
            .body::<NewOffer>()
            .answers::<Created>(201),
        patch("/offers/{id}", update_offer)
            .requires(Permission::ManageSettings)
            .doc("sales", "Change an offer")
            .body::<OfferPatch>(),
        get("/opportunity-sources", list_sources)
            .doc("sales", "Where opportunities come from")
            .answers::<List<SourceDef>>(200),
        post("/opportunity-sources", create_source)
            .requires(Permission::ManageSettings)
            .doc("sales", "Add a source")
            .body::<NewSource>()
            .answers::<Created>(201),
        get("/lost-reasons", list_lost_reasons)
            .doc("sales", "Why deals are lost")
            .answers::<List<NamedDef>>(200),
        post("/lost-reasons", create_lost_reason)
            .requires(Permission::ManageSettings)
            .doc("sales", "Add a lost reason")
            .body::<NewLostReason>()
            .answers::<Created>(201),
        get("/orders", list_orders)
            .requires(Permission::ReadRecords)
            .doc("sales", "An account's orders, with its lifetime totals per currency")
            .query::<OrderParams>()
            .answers::<OrdersOut>(200),
        post("/orders", create_order)
            .requires(Permission::WriteOpportunities)
            .doc("sales", "Record an order (from the invoicing system)")
            .body::<NewOrder>()
            .answers::<OrderOut>(201),
        get("/orders/{id}", get_order)
            .requires(Permission::ReadRecords)
            .doc("sales", "One order")
            .answers::<OrderOut>(200),
        patch("/orders/{id}", update_order)
            .requires(Permission::WriteOpportunities)
            .doc("sales", "Change an order")
            .body::<OrderPatch>()
            .answers::<OrderOut>(200),
        delete("/orders/{id}", delete_order)
            .requires(Permission::DeleteRecords)
            .doc("sales", "Delete an order"),
    ]
}

/// An ISO 4217 currency code.
#[derive(Deserialize, JsonSchema)]
#[serde(transparent)]
pub struct Currency(#[schemars(regex(pattern = r"^[A-Za-z]{3}$"))] String);

fn currency(c: Option<Currency>) -> String {
    c.map(|c| c.0).unwrap_or_default()
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NewPipeline {
    #[schemars(length(min = 1, max = 200))]
    name: String,
    /// The company currency when absent.
    currency: Option<Currency>,
    /// Segment tag ids the pipeline serves.
    segments: Option<Vec<i64>>,
    /// Offer ids sold in it.
    offers: Option<Vec<i64>>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PipelinePatch {
    #[schemars(length(min = 1, max = 200))]
    name: Option<String>,
    currency: Option<Currency>,
    segments: Option<Vec<i64>>,
    offers: Option<Vec<i64>>,
    archived: Option<bool>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NewStage {
    #[schemars(length(min = 1, max = 200))]
    name: String,
    /// Win probability, 0–100 %.
    #[schemars(range(min = 0, max = 100))]
    probability: Option<i64>,
    /// Days a deal may stay before it is stalled.
    #[schemars(range(min = 1))]
    stall_days: Option<i64>,
    /// open (default), won or lost.
    outcome: Option<Outcome>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StagePatch {
    #[schemars(length(min = 1, max = 200))]
    name: Option<String>,
    #[schemars(range(min = 0, max = 100))]
    probability: Option<i64>,
    /// null: never stalled.
    #[serde(default, deserialize_with = "nullable")]
    #[schemars(range(min = 1))]
    stall_days: Option<Option<i64>>,
    /// Places to move it, negative = earlier.
    position: Option<i64>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MoveTo {
    /// The stage that takes the deleted one's deals.
    move_to: Option<i64>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BoardParams {
    /// Owner id.
    owner: Option<i64>,
    /// Segment tag id.
    segment: Option<i64>,
    /// Offer id.
    offer: Option<i64>,
    /// Source id.
    source: Option<i64>,
    sort: Option<BoardSort>,
    /// Cards per column, 1–500 (default 50).
    #[schemars(range(min = 1, max = 500))]
    per_column: Option<i64>,
}

#[derive(Deserialize, JsonSchema, Clone, Copy)]
#[serde(rename_all = "lowercase")]
pub enum BoardSort {
    Amount,
    Close,
    Age,
}

#[derive(Serialize, JsonSchema)]
#[schemars(rename = "Board")]
pub struct BoardOut {
    pipeline_id: i64,
    currency: String,
    columns: Vec<ColumnOut>,
}

#[derive(Serialize, JsonSchema)]
pub struct ColumnOut {
    stage: BoardStage,
    /// Deals in the stage (all of them, not only the cards shown).
    count: i64,
    total: Money,
    weighted: Money,
    cards: Vec<CardOut>,
}

#[derive(Serialize, JsonSchema)]
pub struct BoardStage {
    id: i64,
    name: String,
    probability: i64,
    stall_days: Option<i64>,
}

#[derive(Serialize, JsonSchema)]
pub struct CardOut {
    id: i64,
    name: String,
    /// The account's name.
    account: String,
    amount: Money,
    owner_id: Option<i64>,
    days_in_stage: i64,
    stalled: bool,
    segment: Option<SegmentOut>,
    #[schemars(extend("format" = "date"))]
    expected_close: Option<String>,
}

#[derive(Serialize, JsonSchema)]
pub struct SegmentOut {
    name: String,
    color: String,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MoveIn {
    /// Stage id or name, in the deal's pipeline.
    stage: Ref,
    /// Lost reason id or name: required for a lost stage.
    lost_reason: Option<Ref>,
    /// The version read (or send If-Match): a deal changed since answers 409.
    version: Option<i64>,
}

/// A stage move.
#[derive(Serialize, JsonSchema)]
pub struct MoveOut {
    /// The stage left (none for the first).
    from: Option<String>,
    from_stage_id: Option<i64>,
    to: Option<String>,
    to_stage_id: i64,
    /// Who moved it.
    by: Option<String>,
    at: String,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ForecastParams {
    /// The first month, YYYY-MM; this month when absent.
    #[schemars(regex(pattern = r"^[0-9]{4}-[0-9]{2}$"))]
    from: Option<String>,
    /// 1–36, default 6.
    #[schemars(range(min = 1, max = 36))]
    months: Option<u32>,
    /// owner (default), segment or pipeline.
    by: Option<String>,
}

#[derive(Serialize, JsonSchema)]
#[schemars(rename = "Forecast")]
pub struct ForecastOut {
    from: String,
    /// Exclusive.
    to: String,
    by: String,
    rows: Vec<ForecastRow>,
    won: Vec<WonRow>,
}

#[derive(Serialize, JsonSchema)]
pub struct ForecastRow {
    /// YYYY-MM, or empty for deals without an expected close date.
    month: String,
    /// Owner, segment tag or pipeline id; null when not set.
    key: Option<i64>,
    currency: String,
    count: i64,
    open_amount: Money,
    weighted_amount: Money,
}

#[derive(Serialize, JsonSchema)]
pub struct WonRow {
    key: Option<i64>,
    currency: String,
    count: i64,
    amount: Money,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NewOffer {
    #[schemars(length(min = 1, max = 200))]
    name: String,
    /// A short unique code.
    code: Option<String>,
    list_price: Option<Decimal>,
    currency: Option<Currency>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OfferPatch {
    #[schemars(length(min = 1, max = 200))]
    name: Option<String>,
    list_price: Option<Decimal>,
    active: Option<bool>,
}

#[derive(Deserialize, JsonSchema, Clone, Copy)]
#[serde(rename_all = "lowercase")]
pub enum SourceKind {
    Marketing,
    Sales,
    Other,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NewSource {
    #[schemars(length(min = 1, max = 200))]
    name: String,
    /// other when absent.
    kind: Option<SourceKind>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NewLostReason {
    #[schemars(length(min = 1, max = 200))]
    name: String,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OrderParams {
    /// The account (id).
    account: i64,
}

#[derive(Serialize, JsonSchema)]
#[schemars(rename = "Order")]
pub struct OrderOut {
    id: i64,
    account_id: i64,
    number: String,
    #[schemars(extend("format" = "date"))]
    order_date: String,
    amount: Money,
    margin: Option<Money>,
    currency: String,
    offer_id: Option<i64>,
    created_at: String,
}

#[derive(Serialize, JsonSchema)]
pub struct OrdersOut {
    data: Vec<OrderOut>,
    /// The account's totals per currency over its lifetime.
    lifetime: Vec<LifetimeOut>,
}

#[derive(Serialize, JsonSchema)]
pub struct LifetimeOut {
    currency: String,
    orders: i64,
    revenue: Money,
    margin: Money,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NewOrder {
    /// The account (id).
    account: i64,
    /// The invoicing system's number, unique.
    #[schemars(length(min = 1, max = 200))]
    number: String,
    /// YYYY-MM-DD.
    #[schemars(extend("format" = "date"))]
    order_date: String,
    amount: Decimal,
    margin: Option<Decimal>,
    currency: Option<Currency>,
    /// Offer id or code.
    offer: Option<Ref>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OrderPatch {
    account: Option<i64>,
    #[schemars(length(min = 1, max = 200))]
    number: Option<String>,
    #[schemars(extend("format" = "date"))]
    order_date: Option<String>,
    amount: Option<Decimal>,
    margin: Option<Decimal>,
    currency: Option<Currency>,
    offer: Option<Ref>,
}

fn card_json(card: &opportunities::OpportunityCard, cat: &Catalog, now: i64) -> Value {
    <Opportunities as Kind>::card_json(card, cat, now)
}

fn history_json(card: &opportunities::OpportunityCard, sales: &SalesCatalog) -> Vec<MoveOut> {
    let name = |id: Option<i64>| id.and_then(|i| sales.stage(i)).map(|(_, s)| s.name.clone());
    card.history
        .iter()
        .map(|m| MoveOut {
            from: name(m.from_stage_id),
            from_stage_id: m.from_stage_id,
            to: name(Some(m.to_stage_id)),
            to_stage_id: m.to_stage_id,
            by: m.moved_by_name.clone(),
            at: iso(m.moved_at),
        })
        .collect()
}

async fn catalogs(s: &AppState) -> Result<(Catalog, SalesCatalog), AppError> {
    let cat = sales::full_catalog(&s.carnet.db).await?;
    let sales = cat.sales.clone();
    Ok((cat, sales))
}

fn created(id: i64) -> ApiResult {
    Ok((StatusCode::CREATED, Json(Created { id })).into_response())
}

fn done() -> ApiResult {
    Ok(StatusCode::NO_CONTENT.into_response())
}

pub async fn list_pipelines(State(s): State<AppState>, ApiUser(_): ApiUser) -> ApiResult {
    Ok(Json(List::from(sales::catalog(&s.carnet.db).await?.pipelines)).into_response())
}

pub async fn create_pipeline(State(s): State<AppState>, ApiUser(_): ApiUser, Body(b): Body<NewPipeline>) -> ApiResult {
    let currency = currency(b.currency);
    let id = sales::create_pipeline(
        &s.carnet.db,
        sales::PipelineInput {
            name: &b.name,
            currency: &currency,
            segment_tag_ids: b.segments,
            offer_ids: b.offers,
            archived: None,
        },
    )
    .await?;
    created(id)
}

pub async fn update_pipeline(
    State(s): State<AppState>,
    ApiUser(_): ApiUser,
    Path(id): Path<i64>,
    Body(b): Body<PipelinePatch>,
) -> ApiResult {
    let cur = sales::catalog(&s.carnet.db)
        .await?
        .pipeline(id)
        .cloned()
        .ok_or(AppError::NotFound)?;
    let (name, currency) = (b.name.unwrap_or(cur.name), currency(b.currency));
    sales::update_pipeline(
        &s.carnet.db,
        id,
        sales::PipelineInput {
            name: &name,
            currency: &currency,
            segment_tag_ids: b.segments,
            offer_ids: b.offers,
            archived: b.archived,
        },
    )
    .await?;
    done()
}

fn number(n: Option<i64>) -> String {
    n.map(|n| n.to_string()).unwrap_or_default()
}

pub async fn create_stage(State(s): State<AppState>, ApiUser(_): ApiUser, Path(id): Path<i64>, Body(b): Body<NewStage>) -> ApiResult {
    let (p, stall) = (number(b.probability), number(b.stall_days));
    let sid = sales::create_stage(
        &s.carnet.db,
        id,
        sales::StageInput {
            name: &b.name,
            probability: &p,
            stall_days: &stall,
            outcome: b.outcome.map_or("", Outcome::as_str),
        },
    )
    .await?;
    created(sid)
}

pub async fn update_stage(State(s): State<AppState>, ApiUser(_): ApiUser, Path(id): Path<i64>, Body(b): Body<StagePatch>) -> ApiResult {
    let sales_cat = sales::catalog(&s.carnet.db).await?;
    let (_, cur) = sales_cat.stage(id).ok_or(AppError::NotFound)?;
    let name = b.name.unwrap_or(cur.name.clone());
    let p = b.probability.unwrap_or(cur.probability).to_string();
    let stall = number(b.stall_days.unwrap_or(cur.stall_days));
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
    if let Some(delta) = b.position {
        for _ in 0..delta.abs().min(100) {
            sales::move_stage_position(&s.carnet.db, id, delta.signum()).await?;
        }
    }
    done()
}

pub async fn delete_stage(State(s): State<AppState>, ApiUser(_): ApiUser, Path(id): Path<i64>, Query(m): Query<MoveTo>) -> ApiResult {
    sales::delete_stage(&s.carnet.db, id, m.move_to).await?;
    done()
}

pub async fn get_board(State(s): State<AppState>, ApiUser(_): ApiUser, Path(id): Path<i64>, Query(p): Query<BoardParams>) -> ApiResult {
    let (cat, sales_cat) = catalogs(&s).await?;
    let per_column = p.per_column.unwrap_or(50);
    if !(1..=500).contains(&per_column) {
        return Err(AppError::field("per_column", "must be between 1 and 500").into());
    }
    let sort = match p.sort {
        None => "",
        Some(BoardSort::Amount) => "amount",
        Some(BoardSort::Close) => "close",
        Some(BoardSort::Age) => "age",
    };
    let f = board::BoardFilter {
        owner: p.owner,
        segment_tag: p.segment,
        offer: p.offer,
        source: p.source,
        sort: sort.to_string(),
        per_column,
    };
    let b = board::board(&s.carnet.db, &cat, &sales_cat, id, &f).await?;
    let columns = b
        .columns
        .iter()
        .map(|c| ColumnOut {
            stage: BoardStage {
                id: c.stage.id,
                name: c.stage.name.clone(),
                probability: c.stage.probability,
                stall_days: c.stage.stall_days,
            },
            count: c.count,
            total: money(c.total),
            weighted: money(c.weighted),
            cards: c
                .cards
                .iter()
                .map(|k| CardOut {
                    id: k.opportunity.id,
                    name: k.opportunity.name.clone(),
                    account: k.opportunity.account_name.clone(),
                    amount: money(k.opportunity.amount),
                    owner_id: k.opportunity.owner_id,
                    days_in_stage: k.days_in_stage,
                    stalled: k.stalled,
                    segment: k.segment.as_ref().map(|(name, color)| SegmentOut {
                        name: name.clone(),
                        color: color.clone(),
                    }),
                    expected_close: k.opportunity.expected_close.clone(),
                })
                .collect(),
        })
        .collect();
    Ok(Json(BoardOut {
        pipeline_id: b.pipeline_id,
        currency: b.currency,
        columns,
    })
    .into_response())
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
    Body(b): Body<MoveIn>,
) -> ApiResult {
    if b.stage.as_str().trim().is_empty() {
        return Err(AppError::field("stage", "is required").into());
    }
    let if_match = headers.get(axum::http::header::IF_MATCH).map(|h| h.to_str().unwrap_or("?"));
    let expected = crate::kinds::expected_version(if_match, b.version.map(|v| v.to_string()).as_deref())?;
    let (cat, sales_cat) = catalogs(&s).await?;
    let lost_reason = b.lost_reason.map(|r| r.0).unwrap_or_default();
    opportunities::move_to(&s.carnet, &cat, &sales_cat, &v.user, id, b.stage.as_str(), &lost_reason, expected).await?;
    let card = opportunities::get(&s.carnet.db, &cat, id).await?;
    let etag = format!("\"{}\"", card.opportunity.version);
    Ok(([(axum::http::header::ETAG, etag)], Json(card_json(&card, &cat, s.carnet.db.now()))).into_response())
}

pub async fn opportunity_history(State(s): State<AppState>, ApiUser(_): ApiUser, Path(id): Path<i64>) -> ApiResult {
    let (cat, sales_cat) = catalogs(&s).await?;
    let card = opportunities::get(&s.carnet.db, &cat, id).await?;
    Ok(Json(List::from(history_json(&card, &sales_cat))).into_response())
}

pub async fn get_forecast(State(s): State<AppState>, ApiUser(v): ApiUser, Query(p): Query<ForecastParams>) -> ApiResult {
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
    let rows = f
        .rows
        .iter()
        .map(|r| ForecastRow {
            month: r.month.clone(),
            key: r.key,
            currency: r.currency.clone(),
            count: r.count,
            open_amount: money(r.open_amount),
            weighted_amount: money(r.weighted_amount),
        })
        .collect();
    let won = f
        .won
        .iter()
        .map(|w| WonRow {
            key: w.key,
            currency: w.currency.clone(),
            count: w.count,
            amount: money(w.amount),
        })
        .collect();
    Ok(Json(ForecastOut {
        from: f.from.to_string(),
        to: f.to.to_string(),
        by: p.by.unwrap_or("owner".into()),
        rows,
        won,
    })
    .into_response())
}

pub async fn list_offers(State(s): State<AppState>, ApiUser(_): ApiUser) -> ApiResult {
    Ok(Json(List::from(sales::catalog(&s.carnet.db).await?.offers)).into_response())
}

fn decimal(d: Option<Decimal>) -> String {
    d.map(|d| d.0).unwrap_or_default()
}

pub async fn create_offer(State(s): State<AppState>, ApiUser(_): ApiUser, Body(b): Body<NewOffer>) -> ApiResult {
    let code = b.code.unwrap_or_default();
    let id = sales::create_offer(&s.carnet.db, &b.name, &code, &decimal(b.list_price), &currency(b.currency)).await?;
    created(id)
}

pub async fn update_offer(State(s): State<AppState>, ApiUser(_): ApiUser, Path(id): Path<i64>, Body(b): Body<OfferPatch>) -> ApiResult {
    let cur = sales::catalog(&s.carnet.db)
        .await?
        .offers
        .into_iter()
        .find(|o| o.id == id)
        .ok_or(AppError::NotFound)?;
    let price = b.list_price.map_or_else(|| money(cur.list_price), |p| p.0);
    sales::update_offer(
        &s.carnet.db,
        id,
        &b.name.unwrap_or(cur.name),
        &price,
        b.active.unwrap_or(cur.active),
    )
    .await?;
    done()
}

pub async fn list_sources(State(s): State<AppState>, ApiUser(_): ApiUser) -> ApiResult {
    Ok(Json(List::from(sales::catalog(&s.carnet.db).await?.sources)).into_response())
}

pub async fn create_source(State(s): State<AppState>, ApiUser(_): ApiUser, Body(b): Body<NewSource>) -> ApiResult {
    let kind = match b.kind {
        Some(SourceKind::Marketing) => "marketing",
        Some(SourceKind::Sales) => "sales",
        Some(SourceKind::Other) | None => "other",
    };
    created(sales::add_to_list(&s.carnet.db, sales::ListTable::Sources, &b.name, kind).await?)
}

pub async fn list_lost_reasons(State(s): State<AppState>, ApiUser(_): ApiUser) -> ApiResult {
    Ok(Json(List::from(sales::catalog(&s.carnet.db).await?.lost_reasons)).into_response())
}

pub async fn create_lost_reason(State(s): State<AppState>, ApiUser(_): ApiUser, Body(b): Body<NewLostReason>) -> ApiResult {
    created(sales::add_to_list(&s.carnet.db, sales::ListTable::LostReasons, &b.name, "").await?)
}

fn order_json(o: &orders::Order) -> OrderOut {
    OrderOut {
        id: o.id,
        account_id: o.account_id,
        number: o.number.clone(),
        order_date: o.order_date.clone(),
        amount: money(o.amount),
        margin: o.margin.map(money),
        currency: o.currency.clone(),
        offer_id: o.offer_id,
        created_at: iso(o.created_at),
    }
}

/// Orders of an account, with its lifetime totals.
pub async fn list_orders(State(s): State<AppState>, ApiUser(_): ApiUser, Query(p): Query<OrderParams>) -> ApiResult {
    let list = orders::for_account(&s.carnet.db, p.account).await?;
    let life = orders::lifetime(&s.carnet.db, p.account).await?;
    let lifetime = life
        .iter()
        .map(|l| LifetimeOut {
            currency: l.currency.clone(),
            orders: l.orders,
            revenue: money(l.revenue),
            margin: money(l.margin),
        })
        .collect();
    Ok(Json(OrdersOut {
        data: list.iter().map(order_json).collect(),
        lifetime,
    })
    .into_response())
}

/// An order's fields as the draft parser reads them; `base` is the order changed.
async fn order_draft(s: &AppState, b: OrderPatch, base: Option<&orders::Order>) -> Result<OrderDraft, AppError> {
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
    let given = [
        ("account", b.account.map(|a| a.to_string())),
        ("number", b.number),
        ("order_date", b.order_date),
        ("amount", b.amount.map(|d| d.0)),
        ("margin", b.margin.map(|d| d.0)),
        ("currency", b.currency.map(|c| c.0)),
        ("offer", b.offer.map(|r| r.0)),
    ];
    for (k, v) in given {
        if let Some(v) = v {
            raw.set(k, v);
        }
    }
    OrderDraft::parse(&raw, &sales_cat, "EUR", &[]).map_err(AppError::Invalid)
}

pub async fn create_order(State(s): State<AppState>, ApiUser(v): ApiUser, Body(b): Body<NewOrder>) -> ApiResult {
    let all = OrderPatch {
        account: Some(b.account),
        number: Some(b.number),
        order_date: Some(b.order_date),
        amount: Some(b.amount),
        margin: b.margin,
        currency: b.currency,
        offer: b.offer,
    };
    let d = order_draft(&s, all, None).await?;
    let id = orders::create(&s.carnet.db, &v.user, &d).await?;
    Ok((StatusCode::CREATED, Json(order_json(&orders::get(&s.carnet.db, id).await?))).into_response())
}

pub async fn get_order(State(s): State<AppState>, ApiUser(_): ApiUser, Path(id): Path<i64>) -> ApiResult {
    Ok(Json(order_json(&orders::get(&s.carnet.db, id).await?)).into_response())
}

pub async fn update_order(State(s): State<AppState>, ApiUser(v): ApiUser, Path(id): Path<i64>, Body(b): Body<OrderPatch>) -> ApiResult {
    let cur = orders::get(&s.carnet.db, id).await?;
    let d = order_draft(&s, b, Some(&cur)).await?;
    orders::update(&s.carnet.db, &v.user, id, &d).await?;
    Ok(Json(order_json(&orders::get(&s.carnet.db, id).await?)).into_response())
}

pub async fn delete_order(State(s): State<AppState>, ApiUser(_): ApiUser, Path(id): Path<i64>) -> ApiResult {
    orders::delete(&s.carnet.db, id).await?;
    done()
}
