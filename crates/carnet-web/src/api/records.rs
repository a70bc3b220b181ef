//! Accounts and contacts over JSON, written once for both through [`Kind`].

use super::JsonBody;
use super::Path;
use crate::auth::ApiUser;
use crate::error::ApiError;
use crate::kinds::{iso, Kind};
use crate::AppState;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use carnet_app::records::lists::Listed;
use carnet_app::records::{contacts, lists, load_extras, search as search_svc, timeline, views};
use carnet_app::AppError;
use carnet_domain::access::Permission;
use carnet_domain::fields::Entity;
use carnet_domain::records::RawInput;
use serde_json::{json, Value};

type ApiResult = Result<Response, ApiError>;

pub async fn list<K: Kind>(State(s): State<AppState>, ApiUser(v): ApiUser, Query(pairs): Query<Vec<(String, String)>>) -> ApiResult {
    v.require(Permission::ReadRecords)?;
    let cat = K::catalog(&s.carnet.db).await?;
    let lq = lists::ListQuery::parse(K::ENTITY, &RawInput::from_pairs(pairs), &cat, v.user.tz).map_err(AppError::Invalid)?;
    let page: lists::Page<K::Row> = lists::run(&s.carnet.db, &lq, K::COLS).await?;
    let ids: Vec<i64> = page.rows.iter().map(|r| r.id()).collect();
    let extras = load_extras(&mut s.carnet.db.conn().await?, &cat, K::ENTITY, &ids).await?;
    let now = s.carnet.db.now();
    let data: Vec<Value> = page.rows.iter().map(|r| K::row_json(r, &extras[&r.id()], &cat, now)).collect();
    Ok(Json(json!({"data": data, "next_cursor": page.next})).into_response())
}

pub async fn get_one<K: Kind>(State(s): State<AppState>, ApiUser(v): ApiUser, Path(id): Path<i64>) -> ApiResult {
    v.require(Permission::ReadRecords)?;
    let cat = K::catalog(&s.carnet.db).await?;
    let card = K::card(&s.carnet.db, &cat, id).await?;
    Ok(card_response::<K>(&s, &card, &cat))
}

/// A record's JSON, with its version as `ETag` for kinds that keep one.
fn card_response<K: Kind>(s: &AppState, card: &K::Card, cat: &carnet_domain::records::Catalog) -> Response {
    let body = Json(K::card_json(card, cat, s.carnet.db.now()));
    match K::version(card) {
        Some(v) => ([(axum::http::header::ETAG, format!("\"{v}\""))], body).into_response(),
        None => body.into_response(),
    }
}

/// Creates a record. Likely duplicates do not block an API create: they come
/// back as `warnings.duplicates` so the caller can review them.
pub async fn create<K: Kind>(State(s): State<AppState>, ApiUser(v): ApiUser, body: JsonBody) -> ApiResult {
    v.require(K::WRITE)?;
    let cat = K::catalog(&s.carnet.db).await?;
    let raw = RawInput::from_json_shaped(&body.value(), |k| K::shape(k, &cat)).map_err(AppError::Invalid)?;
    let draft = K::parse(&raw, &cat).map_err(AppError::Invalid)?;
    let dups = K::duplicates(&s.carnet.db, &draft).await?;
    let id = K::create(&s.carnet, &cat, &v.user, &draft, &raw).await?;
    let card = K::card(&s.carnet.db, &cat, id).await?;
    let mut out = K::card_json(&card, &cat, s.carnet.db.now());
    out["warnings"] = json!({"duplicates": dups});
    Ok((
        StatusCode::CREATED,
        [(axum::http::header::LOCATION, format!("/api/v1/{}/{id}", K::PATH))],
        Json(out),
    )
        .into_response())
}

/// Changes the fields given; the others keep their values. With `If-Match`
/// (or a `version` field) on a kind that keeps versions, a record changed by
/// someone else since is not overwritten: 409.
pub async fn update<K: Kind>(
    State(s): State<AppState>,
    ApiUser(v): ApiUser,
    Path(id): Path<i64>,
    headers: axum::http::HeaderMap,
    mut body: JsonBody,
) -> ApiResult {
    v.require(K::WRITE)?;
    let if_match = headers.get(axum::http::header::IF_MATCH).map(|h| h.to_str().unwrap_or("?"));
    let field = match body.0.remove("version") {
        None | Some(Value::Null) => None,
        Some(Value::Number(n)) => Some(n.to_string()),
        Some(_) => return Err(AppError::field("version", "must be a whole number").into()),
    };
    let expected = crate::kinds::expected_version(if_match, field.as_deref())?;
    let cat = K::catalog(&s.carnet.db).await?;
    let card = K::card(&s.carnet.db, &cat, id).await?;
    let mut raw = K::to_raw(&card, &cat);
    raw.overlay(RawInput::from_json_shaped(&body.value(), |k| K::shape(k, &cat)).map_err(AppError::Invalid)?);
    let draft = K::parse(&raw, &cat).map_err(AppError::Invalid)?;
    K::update(&s.carnet, &cat, &v.user, id, &draft, expected).await?;
    let card = K::card(&s.carnet.db, &cat, id).await?;
    Ok(card_response::<K>(&s, &card, &cat))
}

pub async fn remove<K: Kind>(State(s): State<AppState>, ApiUser(v): ApiUser, Path(id): Path<i64>) -> ApiResult {
    v.require(Permission::DeleteRecords)?;
    K::delete(&s.carnet, &v.user, id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

fn entry_json(e: &timeline::Entry) -> Value {
    json!({
        "id": e.id, "kind": e.kind, "record": {"type": e.entity, "id": e.record_id, "name": e.title},
        "actor": e.actor_id.map(|id| json!({"id": id, "name": e.actor_name})),
        "body": e.body, "data": e.data_json(), "created_at": iso(e.created_at),
    })
}

pub async fn timeline<K: Kind>(State(s): State<AppState>, ApiUser(v): ApiUser, Path(id): Path<i64>) -> ApiResult {
    v.require(Permission::ReadRecords)?;
    let cat = K::catalog(&s.carnet.db).await?;
    K::card(&s.carnet.db, &cat, id).await?;
    let entries = timeline::for_record(&s.carnet.db, K::ENTITY, id, 200).await?;
    Ok(Json(json!({"data": entries.iter().map(entry_json).collect::<Vec<_>>()})).into_response())
}

pub async fn comment<K: Kind>(State(s): State<AppState>, ApiUser(v): ApiUser, Path(id): Path<i64>, body: JsonBody) -> ApiResult {
    v.require(Permission::Comment)?;
    body.only(&["body"])?;
    let cat = K::catalog(&s.carnet.db).await?;
    let card = K::card(&s.carnet.db, &cat, id).await?;
    let text = body.str("body")?.unwrap_or_default();
    let eid = timeline::comment(&s.carnet.db, K::ENTITY, id, v.user.id, &K::card_name(&card), &text).await?;
    Ok((StatusCode::CREATED, Json(json!({"id": eid}))).into_response())
}

pub async fn link_contact(State(s): State<AppState>, ApiUser(v): ApiUser, Path(account_id): Path<i64>, body: JsonBody) -> ApiResult {
    v.require(Permission::WriteContacts)?;
    body.only(&["contact_id", "role"])?;
    let cat = carnet_app::settings::catalog(&s.carnet.db).await?;
    let contact_id = body
        .i64("contact_id")?
        .ok_or_else(|| AppError::field("contact_id", "is required"))?;
    let role = match body.str("role")? {
        Some(r) if !r.trim().is_empty() => Some(cat.resolve_role(&r).map_err(|e| AppError::field("role", e))?),
        _ => None,
    };
    if !carnet_app::records::accounts::exists(&s.carnet.db, account_id).await? {
        return Err(AppError::NotFound.into());
    }
    contacts::link(&s.carnet, &cat, &v.user, account_id, contact_id, role).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

pub async fn unlink_contact(State(s): State<AppState>, ApiUser(v): ApiUser, Path((account_id, contact_id)): Path<(i64, i64)>) -> ApiResult {
    v.require(Permission::WriteContacts)?;
    contacts::unlink(&s.carnet, account_id, contact_id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[derive(serde::Deserialize)]
pub struct SearchParams {
    q: Option<String>,
    limit: Option<usize>,
}

pub async fn search(State(s): State<AppState>, ApiUser(v): ApiUser, Query(p): Query<SearchParams>) -> ApiResult {
    v.require(Permission::ReadRecords)?;
    let q = p.q.unwrap_or_default();
    if q.len() > 200 {
        return Err(AppError::field("q", "must be at most 200 characters").into());
    }
    let hits = search_svc::search(&s.carnet.db, &q, p.limit.unwrap_or(20).clamp(1, 100)).await?;
    Ok(Json(json!({"data": hits})).into_response())
}

#[derive(serde::Deserialize)]
pub struct ViewParams {
    entity: Option<String>,
}

pub async fn list_views(State(s): State<AppState>, ApiUser(v): ApiUser, Query(p): Query<ViewParams>) -> ApiResult {
    let mut out = Vec::new();
    let entities = match p.entity.as_deref() {
        None => vec![Entity::Account, Entity::Contact],
        Some(e) => vec![Entity::parse(e).map_err(|r| AppError::field("entity", r))?],
    };
    for e in entities {
        out.extend(views::visible(&s.carnet.db, v.user.id, e).await?);
    }
    Ok(Json(json!({"data": out})).into_response())
}

pub async fn create_view(State(s): State<AppState>, ApiUser(v): ApiUser, body: JsonBody) -> ApiResult {
    body.only(&["entity", "name", "query", "shared"])?;
    let entity = Entity::parse(&body.str("entity")?.unwrap_or_default()).map_err(|r| AppError::field("entity", r))?;
    let query = body.str("query")?.unwrap_or_default();
    let cat = carnet_app::settings::catalog(&s.carnet.db).await?;
    // A view must be a list the server can run.
    lists::parse_query_string(entity, &query, &cat, v.user.tz.name()).map_err(|e| match e {
        AppError::Invalid(f) => AppError::field("query", f.summary()),
        other => other,
    })?;
    let id = views::create(
        &s.carnet.db,
        v.user.id,
        entity,
        &body.str("name")?.unwrap_or_default(),
        &query,
        body.bool("shared")?.unwrap_or(false),
    )
    .await?;
    Ok((StatusCode::CREATED, Json(json!({"id": id}))).into_response())
}

pub async fn delete_view(State(s): State<AppState>, ApiUser(v): ApiUser, Path(id): Path<i64>) -> ApiResult {
    views::delete(&s.carnet.db, id, v.user.id, v.can(Permission::ManageSettings)).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
