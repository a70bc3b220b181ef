//! Accounts and contacts over JSON, written once for both through [`Kind`].

use super::openapi::{delete, get, patch, post, Op};
use super::types::{Body, Created, List, Named, Page, Ref};
use super::{Path, Query};
use crate::auth::ApiUser;
use crate::error::ApiError;
use crate::kinds::{iso, Accounts, Contacts, Kind, Opportunities};
use crate::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use carnet_app::records::lists::Listed;
use carnet_app::records::{contacts, lists, load_extras, search as search_svc, timeline, views};
use carnet_app::AppError;
use carnet_domain::access::Permission;
use carnet_domain::fields::Entity;
use carnet_domain::records::RawInput;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

type ApiResult = Result<Response, ApiError>;

/// A record kind's operations: list, create, read, change, delete, timeline, comment.
/// `paths`: the list, one record, its timeline, its comments.
fn kind_ops<K: Kind>(tag: &'static str, paths: [&'static str; 4], listing: &'static str, one: &'static str) -> Vec<Op> {
    let [all, one_path, timeline_path, comments] = paths;
    debug_assert!(all.ends_with(K::PATH));
    vec![
        get(all, list::<K>)
            .requires(Permission::ReadRecords)
            .doc(tag, listing)
            .filters()
            .answers::<Page<K::Out>>(200),
        post(all, create::<K>)
            .requires(K::WRITE)
            .doc(
                tag,
                "Create one; likely duplicates do not block an API create and come back as warnings.duplicates",
            )
            .body::<K::New>()
            .answers::<K::Out>(201)
            .headers(&["Location"]),
        get(one_path, get_one::<K>)
            .requires(Permission::ReadRecords)
            .doc(tag, one)
            .answers::<K::Out>(200)
            .headers(&["ETag"]),
        patch(one_path, update::<K>)
            .requires(K::WRITE)
            .doc(tag, "Change the given fields; the others keep their values")
            .body::<K::Patch>()
            .answers::<K::Out>(200)
            .headers(&["ETag"]),
        delete(one_path, remove::<K>)
            .requires(Permission::DeleteRecords)
            .doc(tag, "Delete it with its history"),
        get(timeline_path, timeline::<K>)
            .requires(Permission::ReadRecords)
            .doc(tag, "Its timeline, newest first")
            .answers::<List<EntryOut>>(200),
        post(comments, comment::<K>)
            .requires(Permission::Comment)
            .doc(tag, "Comment on it")
            .body::<CommentIn>()
            .answers::<Created>(201),
    ]
}

pub fn ops() -> Vec<Op> {
    let mut ops = kind_ops::<Accounts>(
        "accounts",
        ["/accounts", "/accounts/{id}", "/accounts/{id}/timeline", "/accounts/{id}/comments"],
        "List accounts with filters and cursor pagination",
        "An account with its contacts",
    );
    ops.extend(kind_ops::<Contacts>(
        "contacts",
        ["/contacts", "/contacts/{id}", "/contacts/{id}/timeline", "/contacts/{id}/comments"],
        "List contacts with filters and cursor pagination",
        "A contact with its accounts",
    ));
    ops.extend(kind_ops::<Opportunities>(
        "opportunities",
        [
            "/opportunities",
            "/opportunities/{id}",
            "/opportunities/{id}/timeline",
            "/opportunities/{id}/comments",
        ],
        "List opportunities with filters and cursor pagination",
        "An opportunity with its contacts",
    ));
    ops.extend([
        post("/accounts/{id}/contacts", link_contact)
            .requires(Permission::WriteContacts)
            .doc("accounts", "Link a contact to the account, with a role")
            .body::<LinkIn>(),
        delete("/accounts/{id}/contacts/{contact_id}", unlink_contact)
            .requires(Permission::WriteContacts)
            .doc("accounts", "Remove a contact from the account"),
        get("/search", search)
            .requires(Permission::ReadRecords)
            .doc("records", "Accounts, contacts and opportunities whose words start with the query's")
            .query::<SearchParams>()
            .answers::<List<carnet_app::records::search::Hit>>(200),
        get("/saved-views", list_views)
            .doc("records", "Saved list views: the caller's and the shared ones")
            .query::<ViewParams>()
            .answers::<List<views::SavedView>>(200),
        post("/saved-views", create_view)
            .doc("records", "Save a list view")
            .body::<ViewIn>()
            .answers::<Created>(201),
        delete("/saved-views/{id}", delete_view).doc("records", "Delete a saved view (its owner, or an administrator)"),
    ]);
    ops
}

/// An entry of a record's timeline.
#[derive(Serialize, JsonSchema)]
pub struct EntryOut {
    id: i64,
    /// created, updated, comment, status_changed, stage_moved, action_done, …
    kind: String,
    record: RecordRef,
    actor: Option<Named>,
    body: Option<String>,
    /// Details by kind: changed fields, old and new status, file name…
    data: Value,
    created_at: String,
}

#[derive(Serialize, JsonSchema)]
pub struct RecordRef {
    /// account, contact or opportunity.
    #[serde(rename = "type")]
    kind: String,
    id: i64,
    name: String,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CommentIn {
    #[schemars(length(min = 1, max = 20000))]
    body: String,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LinkIn {
    contact_id: i64,
    /// Role id or name.
    role: Option<Ref>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ViewIn {
    /// account or contact.
    entity: Entity,
    #[schemars(length(min = 1, max = 200))]
    name: String,
    /// The list's query string, e.g. tag=Gold&sort=-created.
    query: String,
    /// Whether every user sees it.
    shared: Option<bool>,
}

pub async fn list<K: Kind>(State(s): State<AppState>, ApiUser(v): ApiUser, Query(pairs): Query<Vec<(String, String)>>) -> ApiResult {
    let cat = K::catalog(&s.carnet.db).await?;
    let lq = lists::ListQuery::parse(K::ENTITY, &RawInput::from_pairs(pairs), &cat, v.user.tz).map_err(AppError::Invalid)?;
    let page: lists::Page<K::Row> = lists::run(&s.carnet.db, &lq, K::COLS).await?;
    let ids: Vec<i64> = page.rows.iter().map(|r| r.id()).collect();
    let extras = load_extras(&mut s.carnet.db.conn().await?, &cat, K::ENTITY, &ids).await?;
    let now = s.carnet.db.now();
    let data: Vec<Value> = page.rows.iter().map(|r| K::row_json(r, &extras[&r.id()], &cat, now)).collect();
    Ok(Json(Page {
        data,
        next_cursor: page.next,
    })
    .into_response())
}

pub async fn get_one<K: Kind>(State(s): State<AppState>, ApiUser(_): ApiUser, Path(id): Path<i64>) -> ApiResult {
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
pub async fn create<K: Kind>(State(s): State<AppState>, ApiUser(v): ApiUser, Body(body): Body<Map<String, Value>>) -> ApiResult {
    let cat = K::catalog(&s.carnet.db).await?;
    let raw = RawInput::from_json_shaped(&Value::Object(body), |k| K::shape(k, &cat)).map_err(AppError::Invalid)?;
    let draft = K::parse(&raw, &cat).map_err(AppError::Invalid)?;
    let dups = K::duplicates(&s.carnet.db, &draft).await?;
    let id = K::create(&s.carnet, &cat, &v.user, &draft, &raw).await?;
    let card = K::card(&s.carnet.db, &cat, id).await?;
    let mut out = K::card_json(&card, &cat, s.carnet.db.now());
    out["warnings"] = serde_json::to_value(crate::kinds::Warnings { duplicates: dups }).unwrap_or_default();
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
    Body(mut body): Body<Map<String, Value>>,
) -> ApiResult {
    let if_match = headers.get(axum::http::header::IF_MATCH).map(|h| h.to_str().unwrap_or("?"));
    let field = match body.remove("version") {
        None | Some(Value::Null) => None,
        Some(Value::Number(n)) => Some(n.to_string()),
        Some(_) => return Err(AppError::field("version", "must be a whole number").into()),
    };
    let expected = crate::kinds::expected_version(if_match, field.as_deref())?;
    let cat = K::catalog(&s.carnet.db).await?;
    let card = K::card(&s.carnet.db, &cat, id).await?;
    let mut raw = K::to_raw(&card, &cat);
    raw.overlay(RawInput::from_json_shaped(&Value::Object(body), |k| K::shape(k, &cat)).map_err(AppError::Invalid)?);
    let draft = K::parse(&raw, &cat).map_err(AppError::Invalid)?;
    K::update(&s.carnet, &cat, &v.user, id, &draft, expected).await?;
    let card = K::card(&s.carnet.db, &cat, id).await?;
    Ok(card_response::<K>(&s, &card, &cat))
}

pub async fn remove<K: Kind>(State(s): State<AppState>, ApiUser(v): ApiUser, Path(id): Path<i64>) -> ApiResult {
    K::delete(&s.carnet, &v.user, id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

fn entry_json(e: &timeline::Entry) -> EntryOut {
    EntryOut {
        id: e.id,
        kind: e.kind.clone(),
        record: RecordRef {
            kind: e.entity.clone(),
            id: e.record_id,
            name: e.title.clone(),
        },
        actor: e.actor_id.map(|id| Named {
            id,
            name: e.actor_name.clone().unwrap_or_default(),
        }),
        body: e.body.clone(),
        data: e.data_json(),
        created_at: iso(e.created_at),
    }
}

pub async fn timeline<K: Kind>(State(s): State<AppState>, ApiUser(_): ApiUser, Path(id): Path<i64>) -> ApiResult {
    let cat = K::catalog(&s.carnet.db).await?;
    K::card(&s.carnet.db, &cat, id).await?;
    let entries = timeline::for_record(&s.carnet.db, K::ENTITY, id, 200).await?;
    Ok(Json(List::from(entries.iter().map(entry_json).collect::<Vec<_>>())).into_response())
}

pub async fn comment<K: Kind>(
    State(s): State<AppState>,
    ApiUser(v): ApiUser,
    Path(id): Path<i64>,
    Body(body): Body<CommentIn>,
) -> ApiResult {
    let cat = K::catalog(&s.carnet.db).await?;
    let card = K::card(&s.carnet.db, &cat, id).await?;
    let eid = timeline::comment(&s.carnet.db, K::ENTITY, id, v.user.id, &K::card_name(&card), &body.body).await?;
    Ok((StatusCode::CREATED, Json(Created { id: eid })).into_response())
}

pub async fn link_contact(
    State(s): State<AppState>,
    ApiUser(v): ApiUser,
    Path(account_id): Path<i64>,
    Body(body): Body<LinkIn>,
) -> ApiResult {
    let cat = carnet_app::settings::catalog(&s.carnet.db).await?;
    let contact_id = body.contact_id;
    let role = match &body.role {
        Some(r) if !r.as_str().trim().is_empty() => Some(cat.resolve_role(r.as_str()).map_err(|e| AppError::field("role", e))?),
        _ => None,
    };
    if !carnet_app::records::accounts::exists(&s.carnet.db, account_id).await? {
        return Err(AppError::NotFound.into());
    }
    contacts::link(&s.carnet, &cat, &v.user, account_id, contact_id, role).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

pub async fn unlink_contact(State(s): State<AppState>, ApiUser(_): ApiUser, Path((account_id, contact_id)): Path<(i64, i64)>) -> ApiResult {
    contacts::unlink(&s.carnet, account_id, contact_id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SearchParams {
    /// Words; each must start a word of the record (accents and case ignored).
    #[schemars(length(max = 200))]
    q: Option<String>,
    /// 1–100, default 20.
    #[schemars(range(min = 1, max = 100))]
    limit: Option<usize>,
}

pub async fn search(State(s): State<AppState>, ApiUser(_): ApiUser, Query(p): Query<SearchParams>) -> ApiResult {
    let q = p.q.unwrap_or_default();
    if q.len() > 200 {
        return Err(AppError::field("q", "must be at most 200 characters").into());
    }
    let limit = p.limit.unwrap_or(20);
    if !(1..=100).contains(&limit) {
        return Err(AppError::field("limit", "must be between 1 and 100").into());
    }
    let hits = search_svc::search(&s.carnet.db, &q, limit).await?;
    Ok(Json(List::from(hits)).into_response())
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ViewParams {
    /// account or contact; both when absent.
    entity: Option<Entity>,
}

pub async fn list_views(State(s): State<AppState>, ApiUser(v): ApiUser, Query(p): Query<ViewParams>) -> ApiResult {
    let mut out = Vec::new();
    let entities = match p.entity {
        None => vec![Entity::Account, Entity::Contact],
        Some(e) => vec![e],
    };
    for e in entities {
        out.extend(views::visible(&s.carnet.db, v.user.id, e).await?);
    }
    Ok(Json(List::from(out)).into_response())
}

pub async fn create_view(State(s): State<AppState>, ApiUser(v): ApiUser, Body(body): Body<ViewIn>) -> ApiResult {
    let (entity, query) = (body.entity, body.query);
    let cat = carnet_app::settings::catalog(&s.carnet.db).await?;
    // A view must be a list the server can run.
    lists::parse_query_string(entity, &query, &cat, v.user.tz.name()).map_err(|e| match e {
        AppError::Invalid(f) => AppError::field("query", f.summary()),
        other => other,
    })?;
    let id = views::create(&s.carnet.db, v.user.id, entity, &body.name, &query, body.shared.unwrap_or(false)).await?;
    Ok((StatusCode::CREATED, Json(Created { id })).into_response())
}

pub async fn delete_view(State(s): State<AppState>, ApiUser(v): ApiUser, Path(id): Path<i64>) -> ApiResult {
    views::delete(&s.carnet.db, id, v.user.id, v.can(Permission::ManageSettings)).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
