//! Actions, action types, follow-up rules and the failed-jobs view over JSON.

use super::JsonBody;
use super::Path;
use crate::auth::ApiUser;
use crate::error::ApiError;
use crate::kinds::iso;
use crate::AppState;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use carnet_app::agenda::{self, actions, booking, recurring, rules};
use carnet_app::platform::jobs;
use carnet_app::{settings, AppError};
use carnet_domain::access::Permission;
use carnet_domain::agenda::{ActionDraft, ActionTypeDef, Outcome};
use carnet_domain::fields::Entity;
use carnet_domain::records::RawInput;
use serde_json::{json, Value};

type ApiResult = Result<Response, ApiError>;

pub fn action_json(a: &actions::Action, types: &[ActionTypeDef]) -> Value {
    let t = types.iter().find(|t| t.id == a.type_id);
    json!({
        "id": a.id, "type": t.map(|t| json!({"id": t.id, "name": t.name, "color": t.color, "icon": t.icon, "kind": t.kind})),
        "subject": a.subject, "notes": a.notes,
        "account_id": a.account_id, "contact_id": a.contact_id, "opportunity_id": a.opportunity_id, "assignee_id": a.assignee_id,
        "starts_at": a.starts_at.map(iso), "duration_min": a.duration_min, "due_date": a.due_date, "planned_at": iso(a.planned_at),
        "done_at": a.done_at.map(iso), "spent_min": a.spent_min, "outcome": a.outcome, "sequence": a.sequence,
        "recurring_rule_id": a.recurring_rule_id, "remind_min": a.remind_min,
        "created_at": iso(a.created_at), "updated_at": iso(a.updated_at),
    })
}

pub async fn list_types(State(s): State<AppState>, ApiUser(_): ApiUser) -> ApiResult {
    Ok(Json(json!({"data": agenda::types(&s.carnet.db).await?})).into_response())
}

pub async fn create_type(State(s): State<AppState>, ApiUser(v): ApiUser, b: JsonBody) -> ApiResult {
    v.require(Permission::ManageSettings)?;
    b.only(&["name", "color", "icon", "kind"])?;
    let g = |k: &str| b.str(k).map(Option::unwrap_or_default);
    let id = agenda::create_type(&s.carnet.db, &g("name")?, &g("color")?, &g("icon")?, &g("kind")?).await?;
    Ok((StatusCode::CREATED, Json(json!({"id": id}))).into_response())
}

#[derive(serde::Deserialize)]
pub struct ListParams {
    assignee: Option<i64>,
    from: Option<String>,
    to: Option<String>,
    account: Option<i64>,
    contact: Option<i64>,
    opportunity: Option<i64>,
    open: Option<bool>,
    limit: Option<i64>,
}

fn instant(field: &str, raw: &Option<String>, tz: chrono_tz::Tz, e: &mut carnet_domain::FieldErrors) -> Option<i64> {
    let r = raw.as_deref()?.trim();
    if r.is_empty() {
        return None;
    }
    if let Ok(d) = chrono::NaiveDate::parse_from_str(r, "%Y-%m-%d") {
        return e.check(field, carnet_domain::agenda::parse_local(&format!("{d}T00:00"), tz));
    }
    e.check(field, carnet_domain::agenda::parse_local(r, tz))
}

pub async fn list_actions(State(s): State<AppState>, ApiUser(v): ApiUser, Query(p): Query<ListParams>) -> ApiResult {
    v.require(Permission::ReadRecords)?;
    let mut e = carnet_domain::FieldErrors::new();
    let from = instant("from", &p.from, v.user.tz, &mut e);
    let to = instant("to", &p.to, v.user.tz, &mut e);
    if let (Some(f), Some(t)) = (from, to) {
        if t <= f {
            e.add("to", "must be after from");
        }
    }
    e.into_result().map_err(AppError::Invalid)?;
    let record = p
        .account
        .map(|id| (Entity::Account, id))
        .or(p.contact.map(|id| (Entity::Contact, id)))
        .or(p.opportunity.map(|id| (Entity::Opportunity, id)));
    let f = actions::ActionFilter {
        assignee: p.assignee,
        from,
        to,
        record,
        open_only: p.open.unwrap_or(false),
        after: None,
        limit: p.limit.unwrap_or(200),
    };
    let list = actions::list(&s.carnet.db, &f).await?;
    let types = agenda::types(&s.carnet.db).await?;
    Ok(Json(json!({"data": list.iter().map(|a| action_json(a, &types)).collect::<Vec<_>>()})).into_response())
}

pub async fn get_action(State(s): State<AppState>, ApiUser(v): ApiUser, Path(id): Path<i64>) -> ApiResult {
    v.require(Permission::ReadRecords)?;
    let a = actions::get(&s.carnet.db, id).await?;
    Ok(Json(action_json(&a, &agenda::types(&s.carnet.db).await?)).into_response())
}

pub async fn create_action(State(s): State<AppState>, ApiUser(v): ApiUser, b: JsonBody) -> ApiResult {
    v.require(Permission::Comment)?;
    let cat = settings::catalog(&s.carnet.db).await?;
    let types = agenda::types(&s.carnet.db).await?;
    let d = ActionDraft::parse(
        &RawInput::from_json(&b.value()).map_err(AppError::Invalid)?,
        &cat,
        &types,
        v.user.tz,
        s.carnet.db.now(),
        &[],
    )
    .map_err(AppError::Invalid)?;
    let id = actions::create(&s.carnet.db, &v.user, &d).await?;
    Ok((
        StatusCode::CREATED,
        Json(action_json(&actions::get(&s.carnet.db, id).await?, &types)),
    )
        .into_response())
}

pub async fn update_action(State(s): State<AppState>, ApiUser(v): ApiUser, Path(id): Path<i64>, b: JsonBody) -> ApiResult {
    v.require(Permission::Comment)?;
    let cur = actions::get(&s.carnet.db, id).await?;
    if cur.outcome.is_some() {
        return Err(AppError::field("outcome", "a closed action cannot be changed").into());
    }
    let cat = settings::catalog(&s.carnet.db).await?;
    let types = agenda::types(&s.carnet.db).await?;
    let mut raw = actions::to_raw(&cur, v.user.tz);
    let body = RawInput::from_json(&b.value()).map_err(AppError::Invalid)?;
    // A new start replaces the due date, and the other way round.
    if body.has("starts_at") {
        raw.0.remove("due_date");
    }
    if body.has("due_date") {
        raw.0.remove("starts_at");
        raw.0.remove("duration");
    }
    if body.has("ends_at") {
        raw.0.remove("duration");
    }
    raw.overlay(body);
    let d = ActionDraft::parse(&raw, &cat, &types, v.user.tz, s.carnet.db.now(), &[]).map_err(AppError::Invalid)?;
    actions::update(&s.carnet.db, &v.user, id, &d).await?;
    Ok(Json(action_json(&actions::get(&s.carnet.db, id).await?, &types)).into_response())
}

pub async fn finish_action(State(s): State<AppState>, ApiUser(v): ApiUser, Path(id): Path<i64>, b: JsonBody) -> ApiResult {
    v.require(Permission::Comment)?;
    b.only(&["outcome", "spent_min"])?;
    let outcome = Outcome::parse(&b.str("outcome")?.unwrap_or_default()).map_err(|e| AppError::field("outcome", e))?;
    actions::finish(&s.carnet.db, &v.user, id, outcome, b.i64("spent_min")?).await?;
    Ok(Json(action_json(
        &actions::get(&s.carnet.db, id).await?,
        &agenda::types(&s.carnet.db).await?,
    ))
    .into_response())
}

pub async fn delete_action(State(s): State<AppState>, ApiUser(v): ApiUser, Path(id): Path<i64>) -> ApiResult {
    v.require(Permission::Comment)?;
    let a = actions::get(&s.carnet.db, id).await?;
    if a.created_by != Some(v.user.id) && a.assignee_id != Some(v.user.id) && !v.can(Permission::DeleteRecords) {
        return Err(AppError::Forbidden.into());
    }
    actions::delete(&s.carnet.db, &v.user, id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

pub async fn reminders(State(s): State<AppState>, ApiUser(v): ApiUser) -> ApiResult {
    let types = agenda::types(&s.carnet.db).await?;
    let due = actions::due_reminders(&s.carnet.db, v.user.id, s.carnet.db.now()).await?;
    Ok(Json(json!({"data": due.iter().map(|a| action_json(a, &types)).collect::<Vec<_>>()})).into_response())
}

pub async fn dismiss_reminder(State(s): State<AppState>, ApiUser(v): ApiUser, Path(id): Path<i64>) -> ApiResult {
    actions::dismiss_reminder(&s.carnet.db, v.user.id, id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

pub async fn list_rules(State(s): State<AppState>, ApiUser(_): ApiUser) -> ApiResult {
    Ok(Json(json!({"data": rules::list(&s.carnet.db).await?})).into_response())
}

pub async fn create_rule(State(s): State<AppState>, ApiUser(v): ApiUser, b: JsonBody) -> ApiResult {
    v.require(Permission::ManageSettings)?;
    let raw = RawInput::from_json(&b.value()).map_err(AppError::Invalid)?;
    let cat = settings::catalog(&s.carnet.db).await?;
    let d = rules::FollowupDraft::parse(&raw, &cat, &agenda::types(&s.carnet.db).await?).map_err(AppError::Invalid)?;
    let id = rules::create(&s.carnet.db, &d).await?;
    Ok((StatusCode::CREATED, Json(json!({"id": id}))).into_response())
}

pub async fn list_recurring(State(s): State<AppState>, ApiUser(_): ApiUser) -> ApiResult {
    Ok(Json(json!({"data": recurring::list(&s.carnet.db).await?})).into_response())
}

async fn recurring_draft(s: &AppState, b: &JsonBody, base: Option<RawInput>) -> Result<recurring::RecurringDraft, ApiError> {
    let mut raw = base.unwrap_or_default();
    raw.overlay(RawInput::from_json(&b.value()).map_err(AppError::Invalid)?);
    let cat = settings::catalog(&s.carnet.db).await?;
    Ok(recurring::RecurringDraft::parse(&raw, &cat, &agenda::types(&s.carnet.db).await?).map_err(AppError::Invalid)?)
}

pub async fn create_recurring(State(s): State<AppState>, ApiUser(v): ApiUser, b: JsonBody) -> ApiResult {
    v.require(Permission::ManageSettings)?;
    let d = recurring_draft(&s, &b, None).await?;
    let id = recurring::create(&s.carnet.db, &d).await?;
    Ok((StatusCode::CREATED, Json(json!({"data": recurring::get(&s.carnet.db, id).await?}))).into_response())
}

pub async fn get_recurring(State(s): State<AppState>, ApiUser(_): ApiUser, Path(id): Path<i64>) -> ApiResult {
    Ok(Json(json!({"data": recurring::get(&s.carnet.db, id).await?})).into_response())
}

pub async fn update_recurring(State(s): State<AppState>, ApiUser(v): ApiUser, Path(id): Path<i64>, b: JsonBody) -> ApiResult {
    v.require(Permission::ManageSettings)?;
    let cur = recurring::get(&s.carnet.db, id).await?;
    let d = recurring_draft(&s, &b, Some(recurring::to_raw(&cur))).await?;
    recurring::update(&s.carnet.db, id, &d).await?;
    Ok(Json(json!({"data": recurring::get(&s.carnet.db, id).await?})).into_response())
}

pub async fn delete_recurring(State(s): State<AppState>, ApiUser(v): ApiUser, Path(id): Path<i64>) -> ApiResult {
    v.require(Permission::ManageSettings)?;
    recurring::delete(&s.carnet.db, id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

pub async fn delete_rule(State(s): State<AppState>, ApiUser(v): ApiUser, Path(id): Path<i64>) -> ApiResult {
    v.require(Permission::ManageSettings)?;
    rules::delete(&s.carnet.db, id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

pub async fn create_feed(State(s): State<AppState>, ApiUser(v): ApiUser, headers: axum::http::HeaderMap) -> ApiResult {
    let token = carnet_app::agenda::calendar::new_token(&s.carnet.db, v.user.id).await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({"url": crate::pages::calendar::feed_url(&s, &headers, &token)})),
    )
        .into_response())
}

pub async fn revoke_feed(State(s): State<AppState>, ApiUser(v): ApiUser) -> ApiResult {
    carnet_app::agenda::calendar::revoke(&s.carnet.db, v.user.id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

pub async fn failed_jobs(State(s): State<AppState>, ApiUser(v): ApiUser) -> ApiResult {
    v.require(Permission::ManageSettings)?;
    let list = jobs::failed(&s.carnet.db, 200).await?;
    let data: Vec<Value> = list
        .iter()
        .map(|j| json!({"id": j.id, "kind": j.kind, "payload": serde_json::from_str::<Value>(&j.payload).unwrap_or(Value::Null), "attempts": j.attempts,
                        "error": j.last_error, "created_at": iso(j.created_at), "failed_at": j.finished_at.map(iso)}))
        .collect();
    Ok(Json(json!({"data": data})).into_response())
}

pub async fn retry_job(State(s): State<AppState>, ApiUser(v): ApiUser, Path(id): Path<i64>) -> ApiResult {
    v.require(Permission::ManageSettings)?;
    jobs::retry(&s.carnet.db, id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[derive(serde::Deserialize)]
pub struct SlotParams {
    from: Option<String>,
    to: Option<String>,
    duration: Option<i64>,
}

/// Free slots of a user (the booking page's rules; `duration` in minutes overrides).
pub async fn free_slots(State(s): State<AppState>, ApiUser(v): ApiUser, Path(id): Path<i64>, Query(p): Query<SlotParams>) -> ApiResult {
    v.require(Permission::ReadRecords)?;
    let mut e = carnet_domain::FieldErrors::new();
    let now = s.carnet.db.now();
    let from = instant("from", &p.from, v.user.tz, &mut e).unwrap_or(now);
    let to = instant("to", &p.to, v.user.tz, &mut e).unwrap_or(from + 7 * 86_400);
    if to <= from {
        e.add("to", "must be after from");
    }
    if to - from > 62 * 86_400 {
        e.add("to", "at most 62 days after from");
    }
    if let Some(d) = p.duration {
        if let Err(r) = carnet_domain::agenda::parse_duration(&d.to_string()) {
            e.add("duration", r);
        }
    }
    e.into_result().map_err(AppError::Invalid)?;
    carnet_app::access::users::get(&s.carnet.db, id).await?;
    let slots = carnet_app::agenda::booking::free(&s.carnet.db, id, from, to, p.duration).await?;
    Ok(Json(json!({"data": slots.into_iter().map(iso).collect::<Vec<_>>()})).into_response())
}

/// Sets the caller's booking page and working hours.
pub async fn save_booking(State(s): State<AppState>, ApiUser(v): ApiUser, b: JsonBody) -> ApiResult {
    b.only(&[
        "slug",
        "type",
        "duration",
        "buffer_before",
        "buffer_after",
        "min_notice",
        "horizon_days",
        "active",
        "hours",
    ])?;
    let type_id = appointment_type(&s, &b).await?;
    let mut week = Vec::new();
    match b.0.get("hours") {
        None | Some(Value::Null) => {}
        Some(Value::Object(days)) => {
            const DAYS: [&str; 7] = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"];
            for (k, val) in days {
                let d = DAYS
                    .iter()
                    .position(|x| x == k)
                    .ok_or_else(|| AppError::field("hours", format!("“{k}” is not a day of the week")))?;
                let iv = carnet_domain::slots::parse_intervals(val.as_str().unwrap_or("")).map_err(|e| AppError::field("hours", e))?;
                week.push((d as u32, iv));
            }
        }
        Some(_) => return Err(AppError::field("hours", "must map days to intervals like \"09:00-12:00, 14:00-18:00\"").into()),
    }
    carnet_app::agenda::booking::save_page(
        &s.carnet.db,
        v.user.id,
        carnet_app::agenda::booking::PageInput {
            slug: &b.str("slug")?.unwrap_or_default(),
            type_id,
            duration_min: b.i64("duration")?.unwrap_or(30),
            buffer_before_min: b.i64("buffer_before")?.unwrap_or(0),
            buffer_after_min: b.i64("buffer_after")?.unwrap_or(0),
            min_notice_min: b.i64("min_notice")?.unwrap_or(120),
            horizon_days: b.i64("horizon_days")?.unwrap_or(30),
            active: b.bool("active")?.unwrap_or(true),
        },
    )
    .await?;
    if b.0.contains_key("hours") {
        carnet_app::agenda::booking::set_hours(&s.carnet.db, v.user.id, &week).await?;
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// The `type` of a booking page body (id or name; a videoconference by default).
async fn appointment_type(s: &AppState, b: &JsonBody) -> Result<i64, ApiError> {
    let types = agenda::types(&s.carnet.db).await?;
    let type_raw = b.str("type")?.unwrap_or("Videoconference".into());
    Ok(types
        .iter()
        .find(|t| t.name.eq_ignore_ascii_case(&type_raw) || t.id.to_string() == type_raw)
        .map(|t| t.id)
        .ok_or_else(|| AppError::field("type", "is not a known action type"))?)
}

fn team_json(t: &booking::Team, members: &[i64]) -> Value {
    json!({"id": t.id, "slug": t.slug, "name": t.name, "type_id": t.type_id, "duration": t.duration_min, "buffer_before": t.buffer_before_min,
        "buffer_after": t.buffer_after_min, "min_notice": t.min_notice_min, "horizon_days": t.horizon_days, "strategy": t.strategy,
        "time_zone": t.time_zone, "active": t.active, "members": members})
}

pub async fn list_teams(State(s): State<AppState>, ApiUser(_): ApiUser) -> ApiResult {
    let teams = booking::teams(&s.carnet.db).await?;
    Ok(Json(json!({"data": teams.iter().map(|(t, m)| team_json(t, m)).collect::<Vec<_>>()})).into_response())
}

/// Creates or changes a team page; a change starts from the team as it is.
async fn save_team(s: &AppState, id: Option<i64>, b: JsonBody) -> Result<i64, ApiError> {
    b.only(&[
        "slug",
        "name",
        "type",
        "duration",
        "buffer_before",
        "buffer_after",
        "min_notice",
        "horizon_days",
        "strategy",
        "time_zone",
        "members",
        "active",
    ])?;
    let cur = match id {
        Some(id) => Some(
            booking::teams(&s.carnet.db)
                .await?
                .into_iter()
                .find(|(t, _)| t.id == id)
                .ok_or(AppError::NotFound)?,
        ),
        None => None,
    };
    let mut base = cur.as_ref().map(|(t, m)| team_json(t, m)).unwrap_or(json!({}));
    for (k, v) in &b.0 {
        base[k] = v.clone();
    }
    let merged = JsonBody(base.as_object().cloned().unwrap_or_default());
    let type_id = match (merged.0.get("type"), merged.0.get("type_id")) {
        (None, Some(Value::Number(n))) => n.as_i64().unwrap_or_default(),
        _ => appointment_type(s, &merged).await?,
    };
    let cat = settings::catalog(&s.carnet.db).await?;
    let mut members = Vec::new();
    match merged.0.get("members") {
        Some(Value::Array(list)) => {
            for m in list {
                let raw = match m {
                    Value::Number(n) => n.to_string(),
                    Value::String(x) => x.clone(),
                    _ => return Err(AppError::field("members", "must list user ids or emails").into()),
                };
                members.push(cat.resolve_user(&raw).map_err(|e| AppError::field("members", e))?);
            }
        }
        None | Some(Value::Null) => {}
        Some(_) => return Err(AppError::field("members", "must list user ids or emails").into()),
    }
    let text = |k: &str| merged.str(k).map(|v| v.unwrap_or_default());
    let (slug, name, strategy, tz) = (text("slug")?, text("name")?, text("strategy")?, text("time_zone")?);
    Ok(booking::save_team(
        &s.carnet.db,
        id,
        booking::TeamInput {
            slug: &slug,
            name: &name,
            type_id,
            duration_min: merged.i64("duration")?.unwrap_or(30),
            buffer_before_min: merged.i64("buffer_before")?.unwrap_or(0),
            buffer_after_min: merged.i64("buffer_after")?.unwrap_or(0),
            min_notice_min: merged.i64("min_notice")?.unwrap_or(120),
            horizon_days: merged.i64("horizon_days")?.unwrap_or(30),
            strategy: if strategy.is_empty() { "round_robin" } else { &strategy },
            time_zone: if tz.is_empty() { "Europe/Paris" } else { &tz },
            members,
            active: merged.bool("active")?.unwrap_or(true),
        },
    )
    .await?)
}

async fn team_response(s: &AppState, id: i64, status: StatusCode) -> ApiResult {
    let (t, m) = booking::teams(&s.carnet.db)
        .await?
        .into_iter()
        .find(|(t, _)| t.id == id)
        .ok_or(AppError::NotFound)?;
    Ok((status, Json(json!({"data": team_json(&t, &m)}))).into_response())
}

pub async fn create_team(State(s): State<AppState>, ApiUser(v): ApiUser, b: JsonBody) -> ApiResult {
    v.require(Permission::ManageSettings)?;
    let id = save_team(&s, None, b).await?;
    team_response(&s, id, StatusCode::CREATED).await
}

pub async fn update_team(State(s): State<AppState>, ApiUser(v): ApiUser, Path(id): Path<i64>, b: JsonBody) -> ApiResult {
    v.require(Permission::ManageSettings)?;
    save_team(&s, Some(id), b).await?;
    team_response(&s, id, StatusCode::OK).await
}

pub async fn delete_team(State(s): State<AppState>, ApiUser(v): ApiUser, Path(id): Path<i64>) -> ApiResult {
    v.require(Permission::ManageSettings)?;
    booking::delete_team(&s.carnet.db, id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
