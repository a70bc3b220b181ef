//! Actions, action types, follow-up and recurring rules, reminders, booking
//! pages and teams, free slots, calendar feeds and failed jobs over JSON.

use super::openapi::{delete, get, patch, post, put, Op};
use super::types::{Body, Checked, Created, List, Ref};
use super::{Path, Query};
use crate::auth::ApiUser;
use crate::error::ApiError;
use crate::kinds::iso;
use crate::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use carnet_app::agenda::recurring::RecurringRule;
use carnet_app::agenda::rules::FollowupRule;
use carnet_app::agenda::{self, actions, booking, recurring, rules};
use carnet_app::platform::jobs;
use carnet_app::{settings, AppError};
use carnet_domain::access::Permission;
use carnet_domain::agenda::{ActionDraft, ActionTypeDef, Outcome};
use carnet_domain::fields::Entity;
use carnet_domain::records::RawInput;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

type ApiResult = Result<Response, ApiError>;

pub fn ops() -> Vec<Op> {
    vec![
        get("/action-types", list_types)
            .doc("agenda", "Action types")
            .answers::<List<ActionTypeDef>>(200),
        post("/action-types", create_type)
            .requires(Permission::ManageSettings)
            .doc("agenda", "Add an action type")
            .body::<NewActionType>()
            .answers::<Created>(201),
        get("/actions", list_actions)
            .requires(Permission::ReadRecords)
            .doc("agenda", "Actions, by assignee, period, record or openness")
            .query::<ListParams>()
            .answers::<List<ActionOut>>(200),
        post("/actions", create_action)
            .requires(Permission::Comment)
            .doc("agenda", "Plan an action")
            .body::<NewAction>()
            .answers::<ActionOut>(201),
        get("/actions/{id}", get_action)
            .requires(Permission::ReadRecords)
            .doc("agenda", "One action")
            .answers::<ActionOut>(200),
        patch("/actions/{id}", update_action)
            .requires(Permission::Comment)
            .doc("agenda", "Change an open action")
            .body::<ActionPatch>()
            .answers::<ActionOut>(200),
        delete("/actions/{id}", delete_action)
            .requires(Permission::Comment)
            .doc("agenda", "Delete an action (its creator, assignee, or a role that deletes records)"),
        post("/actions/{id}/finish", finish_action)
            .requires(Permission::Comment)
            .doc(
                "agenda",
                "Close an action: done, no_show, cancelled or rescheduled, with the time spent",
            )
            .body::<FinishIn>()
            .answers::<ActionOut>(200),
        get("/followup-rules", list_rules)
            .doc("agenda", "Follow-up rules")
            .answers::<List<FollowupRule>>(200),
        post("/followup-rules", create_rule)
            .requires(Permission::ManageSettings)
            .doc("agenda", "When an action of a type is done, plan the next one")
            .body::<NewFollowup>()
            .answers::<Created>(201),
        delete("/followup-rules/{id}", delete_rule)
            .requires(Permission::ManageSettings)
            .doc("agenda", "Delete a follow-up rule"),
        get("/recurring-rules", list_recurring)
            .doc("agenda", "Recurring action rules")
            .answers::<List<RecurringRule>>(200),
        post("/recurring-rules", create_recurring)
            .requires(Permission::ManageSettings)
            .doc(
                "agenda",
                "Plan an action every N months for each account of a segment or saved view",
            )
            .body::<NewRecurring>()
            .answers::<One<RecurringRule>>(201),
        get("/recurring-rules/{id}", get_recurring)
            .doc("agenda", "One recurring rule")
            .answers::<One<RecurringRule>>(200),
        patch("/recurring-rules/{id}", update_recurring)
            .requires(Permission::ManageSettings)
            .doc("agenda", "Change a recurring rule (its future occurrences follow)")
            .body::<RecurringPatch>()
            .answers::<One<RecurringRule>>(200),
        delete("/recurring-rules/{id}", delete_recurring)
            .requires(Permission::ManageSettings)
            .doc("agenda", "Delete a recurring rule and its future occurrences"),
        get("/jobs/failed", failed_jobs)
            .requires(Permission::ManageSettings)
            .doc("platform", "Background jobs that failed (administrators)")
            .answers::<List<FailedJob>>(200),
        post("/jobs/{id}/retry", retry_job)
            .requires(Permission::ManageSettings)
            .doc("platform", "Queue a failed job again (administrators)"),
        post("/me/calendar-feed", create_feed)
            .doc(
                "agenda",
                "A new private iCalendar feed URL of the caller's actions (the previous one stops working)",
            )
            .answers::<FeedOut>(201),
        delete("/me/calendar-feed", revoke_feed).doc("agenda", "Revoke the caller's calendar feed"),
        put("/me/booking-page", save_booking)
            .doc("agenda", "Set the caller's public booking page and working hours")
            .body::<BookingPageIn>(),
        get("/me/reminders", reminders)
            .doc("agenda", "The caller's reminders due now")
            .answers::<List<ActionOut>>(200),
        post("/me/reminders/{id}/dismiss", dismiss_reminder).doc("agenda", "Dismiss a reminder"),
        get("/users/{id}/free-slots", free_slots)
            .requires(Permission::ReadRecords)
            .doc("agenda", "A user's free slots by their booking page's rules")
            .query::<SlotParams>()
            .answers::<List<String>>(200),
        get("/booking-teams", list_teams)
            .doc("agenda", "Team booking pages")
            .answers::<List<TeamOut>>(200),
        post("/booking-teams", create_team)
            .requires(Permission::ManageSettings)
            .doc("agenda", "Add a team booking page")
            .body::<NewTeam>()
            .answers::<One<TeamOut>>(201),
        patch("/booking-teams/{id}", update_team)
            .requires(Permission::ManageSettings)
            .doc("agenda", "Change a team booking page")
            .body::<TeamPatch>()
            .answers::<One<TeamOut>>(200),
        delete("/booking-teams/{id}", delete_team)
            .requires(Permission::ManageSettings)
            .doc("agenda", "Delete a team booking page"),
    ]
}

/// `{"data": …}` around one object.
#[derive(Serialize, JsonSchema)]
#[schemars(rename = "{T}Data")]
pub struct One<T> {
    data: T,
}

#[derive(Serialize, JsonSchema)]
pub struct ActionTypeBrief {
    id: i64,
    name: String,
    color: String,
    icon: String,
    /// task or appointment.
    kind: String,
}

/// An action (a task or an appointment).
#[derive(Serialize, JsonSchema)]
#[schemars(rename = "Action")]
pub struct ActionOut {
    id: i64,
    #[serde(rename = "type")]
    kind: Option<ActionTypeBrief>,
    subject: String,
    notes: Option<String>,
    account_id: Option<i64>,
    contact_id: Option<i64>,
    opportunity_id: Option<i64>,
    assignee_id: Option<i64>,
    /// Appointments.
    starts_at: Option<String>,
    duration_min: Option<i64>,
    /// Tasks: YYYY-MM-DD.
    #[schemars(extend("format" = "date"))]
    due_date: Option<String>,
    planned_at: String,
    done_at: Option<String>,
    spent_min: Option<i64>,
    /// done, no_show, cancelled or rescheduled once closed.
    outcome: Option<String>,
    sequence: i64,
    recurring_rule_id: Option<i64>,
    remind_min: Option<i64>,
    /// The contact gets a calendar invitation and its updates by email.
    invite: bool,
    created_at: String,
    updated_at: String,
}

#[derive(Deserialize, JsonSchema, Clone, Copy)]
#[serde(rename_all = "lowercase")]
pub enum TypeKind {
    Task,
    Appointment,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NewActionType {
    #[schemars(length(min = 1, max = 200))]
    name: String,
    #[schemars(regex(pattern = r"^(#[0-9a-fA-F]{6})?$"))]
    color: Option<String>,
    icon: Option<String>,
    kind: Option<TypeKind>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListParams {
    /// User id.
    assignee: Option<i64>,
    /// YYYY-MM-DD or YYYY-MM-DDTHH:MM in the caller's zone.
    from: Option<String>,
    to: Option<String>,
    account: Option<i64>,
    contact: Option<i64>,
    opportunity: Option<i64>,
    /// Only actions not closed yet.
    open: Option<bool>,
    /// 1–1000, default 200.
    #[schemars(range(min = 1, max = 1000))]
    limit: Option<i64>,
}

/// An action to plan (the action parser reads the fields by name).
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct NewAction {
    /// Action type id or name.
    #[serde(rename = "type")]
    kind: Ref,
    #[schemars(length(min = 1, max = 200))]
    subject: String,
    #[schemars(length(max = 20000))]
    notes: Option<String>,
    /// Account id.
    account: Option<i64>,
    /// Contact id.
    contact: Option<i64>,
    /// Opportunity id.
    opportunity: Option<i64>,
    /// User id or email; the caller when absent.
    assignee: Option<Ref>,
    /// Appointments: YYYY-MM-DDTHH:MM in time_zone (the caller's by default), or RFC 3339.
    starts_at: Option<String>,
    /// Minutes.
    #[schemars(range(min = 1))]
    duration: Option<i64>,
    /// Instead of duration: the end, like starts_at.
    ends_at: Option<String>,
    /// Tasks: YYYY-MM-DD.
    #[schemars(extend("format" = "date"))]
    due_date: Option<String>,
    time_zone: Option<String>,
    /// Reminder, minutes before the start (tasks: before 09:00 on the due day).
    #[schemars(range(min = 0))]
    remind: Option<i64>,
    /// Appointments with a contact: email the contact a calendar invitation, then its changes and cancellation.
    invite: Option<bool>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct ActionPatch {
    #[serde(rename = "type")]
    kind: Option<Ref>,
    #[schemars(length(min = 1, max = 200))]
    subject: Option<String>,
    #[schemars(length(max = 20000))]
    notes: Option<String>,
    /// Account id.
    account: Option<i64>,
    /// Contact id.
    contact: Option<i64>,
    /// Opportunity id.
    opportunity: Option<i64>,
    /// User id or email; the caller when absent.
    assignee: Option<Ref>,
    /// Appointments: YYYY-MM-DDTHH:MM in time_zone (the caller's by default), or RFC 3339.
    starts_at: Option<String>,
    /// Minutes.
    #[schemars(range(min = 1))]
    duration: Option<i64>,
    /// Instead of duration: the end, like starts_at.
    ends_at: Option<String>,
    /// Tasks: YYYY-MM-DD.
    #[schemars(extend("format" = "date"))]
    due_date: Option<String>,
    time_zone: Option<String>,
    /// Reminder, minutes before the start (tasks: before 09:00 on the due day).
    #[schemars(range(min = 0))]
    remind: Option<i64>,
    /// Appointments with a contact: email the contact a calendar invitation, then its changes and cancellation.
    invite: Option<bool>,
}

#[derive(Deserialize, JsonSchema, Clone, Copy)]
#[serde(rename_all = "snake_case")]
pub enum OutcomeIn {
    Done,
    NoShow,
    Cancelled,
    Rescheduled,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FinishIn {
    outcome: OutcomeIn,
    /// Minutes spent; the planned duration when absent.
    #[schemars(range(min = 0))]
    spent_min: Option<i64>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct NewFollowup {
    /// The action type that triggers it (id or name).
    when_type: Ref,
    /// Only for accounts with this segment tag (id or name).
    segment: Option<Ref>,
    /// The type of the action planned (id or name).
    then_type: Ref,
    #[schemars(length(min = 1, max = 200))]
    subject: String,
    /// Days after the trigger.
    #[schemars(range(min = 0))]
    due_days: Option<i64>,
    /// Count business days only (default true).
    business_days: Option<bool>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct NewRecurring {
    #[schemars(length(min = 1, max = 200))]
    name: String,
    /// Action type id or name.
    #[serde(rename = "type")]
    kind: Ref,
    #[schemars(range(min = 1, max = 60))]
    every_months: i64,
    /// Segment tag id or name (or give view).
    segment: Option<Ref>,
    /// A saved view of accounts, by id.
    view: Option<i64>,
    /// How far ahead occurrences are planned (default: 3 to 12 months).
    #[schemars(range(min = 1, max = 24))]
    horizon_months: Option<i64>,
    /// HH:MM in the owner's zone (appointments).
    start_time: Option<String>,
    /// Minutes (appointments).
    #[schemars(range(min = 1))]
    duration: Option<i64>,
    active: Option<bool>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct RecurringPatch {
    #[schemars(length(min = 1, max = 200))]
    name: Option<String>,
    #[serde(rename = "type")]
    kind: Option<Ref>,
    #[schemars(range(min = 1, max = 60))]
    every_months: Option<i64>,
    /// Segment tag id or name (or give view).
    segment: Option<Ref>,
    /// A saved view of accounts, by id.
    view: Option<i64>,
    /// How far ahead occurrences are planned (default: 3 to 12 months).
    #[schemars(range(min = 1, max = 24))]
    horizon_months: Option<i64>,
    /// HH:MM in the owner's zone (appointments).
    start_time: Option<String>,
    /// Minutes (appointments).
    #[schemars(range(min = 1))]
    duration: Option<i64>,
    active: Option<bool>,
}

#[derive(Serialize, JsonSchema)]
pub struct FeedOut {
    /// Subscribe to it in a calendar application; keep it private.
    url: String,
}

#[derive(Serialize, JsonSchema)]
pub struct FailedJob {
    id: i64,
    kind: String,
    payload: Value,
    attempts: i64,
    error: Option<String>,
    created_at: String,
    failed_at: Option<String>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SlotParams {
    /// YYYY-MM-DD or YYYY-MM-DDTHH:MM in the caller's zone; now when absent.
    from: Option<String>,
    /// At most 62 days after from; a week after it when absent.
    to: Option<String>,
    /// Minutes; the booking page's duration when absent.
    #[schemars(range(min = 1))]
    duration: Option<i64>,
}

#[derive(Deserialize, JsonSchema, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum Weekday {
    Monday,
    Tuesday,
    Wednesday,
    Thursday,
    Friday,
    Saturday,
    Sunday,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BookingPageIn {
    /// The page's address: /book/SLUG.
    #[schemars(regex(pattern = r"^[a-z0-9][a-z0-9-]{1,62}$"))]
    slug: String,
    /// Appointment type id or name; a videoconference by default.
    #[serde(rename = "type")]
    kind: Option<Ref>,
    /// Minutes, default 30.
    #[schemars(range(min = 5, max = 480))]
    duration: Option<i64>,
    #[schemars(range(min = 0))]
    buffer_before: Option<i64>,
    #[schemars(range(min = 0))]
    buffer_after: Option<i64>,
    /// Minutes, default 120.
    #[schemars(range(min = 0))]
    min_notice: Option<i64>,
    /// Days ahead that can be booked, default 30.
    #[schemars(range(min = 1, max = 365))]
    horizon_days: Option<i64>,
    active: Option<bool>,
    /// Working hours per day, e.g. {"monday": "09:00-12:00, 14:00-18:00"}; replaces the week when given.
    hours: Option<BTreeMap<Weekday, String>>,
}

#[derive(Serialize, JsonSchema)]
#[schemars(rename = "Team")]
pub struct TeamOut {
    id: i64,
    slug: String,
    name: String,
    type_id: i64,
    duration: i64,
    buffer_before: i64,
    buffer_after: i64,
    min_notice: i64,
    horizon_days: i64,
    strategy: String,
    time_zone: String,
    active: bool,
    /// User ids.
    members: Vec<i64>,
}

#[derive(Deserialize, JsonSchema, Clone, Copy)]
#[serde(rename_all = "snake_case")]
pub enum Strategy {
    RoundRobin,
    LeastBusy,
}

impl Strategy {
    fn as_str(self) -> &'static str {
        match self {
            Strategy::RoundRobin => "round_robin",
            Strategy::LeastBusy => "least_busy",
        }
    }
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NewTeam {
    #[schemars(regex(pattern = r"^[a-z0-9][a-z0-9-]{1,62}$"))]
    slug: String,
    #[schemars(length(min = 1, max = 200))]
    name: String,
    /// User ids or emails.
    #[schemars(length(min = 1))]
    members: Vec<Ref>,
    /// Appointment type id or name; a videoconference by default.
    #[serde(rename = "type")]
    kind: Option<Ref>,
    #[schemars(range(min = 5, max = 480))]
    duration: Option<i64>,
    #[schemars(range(min = 0))]
    buffer_before: Option<i64>,
    #[schemars(range(min = 0))]
    buffer_after: Option<i64>,
    #[schemars(range(min = 0))]
    min_notice: Option<i64>,
    #[schemars(range(min = 1, max = 365))]
    horizon_days: Option<i64>,
    /// round_robin (default) or least_busy.
    strategy: Option<Strategy>,
    /// IANA zone, default Europe/Paris.
    time_zone: Option<String>,
    active: Option<bool>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TeamPatch {
    #[schemars(regex(pattern = r"^[a-z0-9][a-z0-9-]{1,62}$"))]
    slug: Option<String>,
    #[schemars(length(min = 1, max = 200))]
    name: Option<String>,
    members: Option<Vec<Ref>>,
    /// Appointment type id or name; a videoconference by default.
    #[serde(rename = "type")]
    kind: Option<Ref>,
    #[schemars(range(min = 5, max = 480))]
    duration: Option<i64>,
    #[schemars(range(min = 0))]
    buffer_before: Option<i64>,
    #[schemars(range(min = 0))]
    buffer_after: Option<i64>,
    #[schemars(range(min = 0))]
    min_notice: Option<i64>,
    #[schemars(range(min = 1, max = 365))]
    horizon_days: Option<i64>,
    /// round_robin (default) or least_busy.
    strategy: Option<Strategy>,
    /// IANA zone, default Europe/Paris.
    time_zone: Option<String>,
    active: Option<bool>,
}

pub fn action_json(a: &actions::Action, types: &[ActionTypeDef]) -> ActionOut {
    let t = types.iter().find(|t| t.id == a.type_id);
    ActionOut {
        id: a.id,
        kind: t.map(|t| ActionTypeBrief {
            id: t.id,
            name: t.name.clone(),
            color: t.color.clone(),
            icon: t.icon.clone(),
            kind: t.kind.clone(),
        }),
        subject: a.subject.clone(),
        notes: a.notes.clone(),
        account_id: a.account_id,
        contact_id: a.contact_id,
        opportunity_id: a.opportunity_id,
        assignee_id: a.assignee_id,
        starts_at: a.starts_at.map(iso),
        duration_min: a.duration_min,
        due_date: a.due_date.clone(),
        planned_at: iso(a.planned_at),
        done_at: a.done_at.map(iso),
        spent_min: a.spent_min,
        outcome: a.outcome.clone(),
        sequence: a.sequence,
        recurring_rule_id: a.recurring_rule_id,
        remind_min: a.remind_min,
        invite: a.invite,
        created_at: iso(a.created_at),
        updated_at: iso(a.updated_at),
    }
}

fn done() -> ApiResult {
    Ok(StatusCode::NO_CONTENT.into_response())
}

pub async fn list_types(State(s): State<AppState>, ApiUser(_): ApiUser) -> ApiResult {
    Ok(Json(List::from(agenda::types(&s.carnet.db).await?)).into_response())
}

pub async fn create_type(State(s): State<AppState>, ApiUser(_): ApiUser, Body(b): Body<NewActionType>) -> ApiResult {
    let kind = match b.kind {
        Some(TypeKind::Appointment) => "appointment",
        Some(TypeKind::Task) => "task",
        None => "",
    };
    let id = agenda::create_type(
        &s.carnet.db,
        &b.name,
        &b.color.unwrap_or_default(),
        &b.icon.unwrap_or_default(),
        kind,
    )
    .await?;
    Ok((StatusCode::CREATED, Json(Created { id })).into_response())
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
    if !(1..=1000).contains(&f.limit) {
        return Err(AppError::field("limit", "must be between 1 and 1000").into());
    }
    let list = actions::list(&s.carnet.db, &f).await?;
    let types = agenda::types(&s.carnet.db).await?;
    Ok(Json(List::from(list.iter().map(|a| action_json(a, &types)).collect::<Vec<_>>())).into_response())
}

pub async fn get_action(State(s): State<AppState>, ApiUser(_): ApiUser, Path(id): Path<i64>) -> ApiResult {
    let a = actions::get(&s.carnet.db, id).await?;
    Ok(Json(action_json(&a, &agenda::types(&s.carnet.db).await?)).into_response())
}

pub async fn create_action(State(s): State<AppState>, ApiUser(v): ApiUser, Checked(_, b): Checked<NewAction>) -> ApiResult {
    let cat = settings::catalog(&s.carnet.db).await?;
    let types = agenda::types(&s.carnet.db).await?;
    let d = ActionDraft::parse(
        &RawInput::from_json(&Value::Object(b)).map_err(AppError::Invalid)?,
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

pub async fn update_action(
    State(s): State<AppState>,
    ApiUser(v): ApiUser,
    Path(id): Path<i64>,
    Checked(_, b): Checked<ActionPatch>,
) -> ApiResult {
    let cur = actions::get(&s.carnet.db, id).await?;
    if cur.outcome.is_some() {
        return Err(AppError::field("outcome", "a closed action cannot be changed").into());
    }
    let cat = settings::catalog(&s.carnet.db).await?;
    let types = agenda::types(&s.carnet.db).await?;
    let mut raw = actions::to_raw(&cur, v.user.tz);
    let body = RawInput::from_json(&Value::Object(b)).map_err(AppError::Invalid)?;
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

pub async fn finish_action(State(s): State<AppState>, ApiUser(v): ApiUser, Path(id): Path<i64>, Body(b): Body<FinishIn>) -> ApiResult {
    let outcome = match b.outcome {
        OutcomeIn::Done => Outcome::Done,
        OutcomeIn::NoShow => Outcome::NoShow,
        OutcomeIn::Cancelled => Outcome::Cancelled,
        OutcomeIn::Rescheduled => Outcome::Rescheduled,
    };
    actions::finish(&s.carnet.db, &v.user, id, outcome, b.spent_min).await?;
    Ok(Json(action_json(
        &actions::get(&s.carnet.db, id).await?,
        &agenda::types(&s.carnet.db).await?,
    ))
    .into_response())
}

pub async fn delete_action(State(s): State<AppState>, ApiUser(v): ApiUser, Path(id): Path<i64>) -> ApiResult {
    let a = actions::get(&s.carnet.db, id).await?;
    if a.created_by != Some(v.user.id) && a.assignee_id != Some(v.user.id) && !v.can(Permission::DeleteRecords) {
        return Err(AppError::Forbidden.into());
    }
    actions::delete(&s.carnet.db, &v.user, id).await?;
    done()
}

pub async fn reminders(State(s): State<AppState>, ApiUser(v): ApiUser) -> ApiResult {
    let types = agenda::types(&s.carnet.db).await?;
    let due = actions::due_reminders(&s.carnet.db, v.user.id, s.carnet.db.now()).await?;
    Ok(Json(List::from(due.iter().map(|a| action_json(a, &types)).collect::<Vec<_>>())).into_response())
}

pub async fn dismiss_reminder(State(s): State<AppState>, ApiUser(v): ApiUser, Path(id): Path<i64>) -> ApiResult {
    actions::dismiss_reminder(&s.carnet.db, v.user.id, id).await?;
    done()
}

pub async fn list_rules(State(s): State<AppState>, ApiUser(_): ApiUser) -> ApiResult {
    Ok(Json(List::from(rules::list(&s.carnet.db).await?)).into_response())
}

pub async fn create_rule(State(s): State<AppState>, ApiUser(_): ApiUser, Checked(_, b): Checked<NewFollowup>) -> ApiResult {
    let raw = RawInput::from_json(&Value::Object(b)).map_err(AppError::Invalid)?;
    let cat = settings::catalog(&s.carnet.db).await?;
    let d = rules::FollowupDraft::parse(&raw, &cat, &agenda::types(&s.carnet.db).await?).map_err(AppError::Invalid)?;
    let id = rules::create(&s.carnet.db, &d).await?;
    Ok((StatusCode::CREATED, Json(Created { id })).into_response())
}

pub async fn list_recurring(State(s): State<AppState>, ApiUser(_): ApiUser) -> ApiResult {
    Ok(Json(List::from(recurring::list(&s.carnet.db).await?)).into_response())
}

async fn recurring_draft(s: &AppState, b: Map<String, Value>, base: Option<RawInput>) -> Result<recurring::RecurringDraft, ApiError> {
    let mut raw = base.unwrap_or_default();
    raw.overlay(RawInput::from_json(&Value::Object(b)).map_err(AppError::Invalid)?);
    let cat = settings::catalog(&s.carnet.db).await?;
    Ok(recurring::RecurringDraft::parse(&raw, &cat, &agenda::types(&s.carnet.db).await?).map_err(AppError::Invalid)?)
}

pub async fn create_recurring(State(s): State<AppState>, ApiUser(_): ApiUser, Checked(_, b): Checked<NewRecurring>) -> ApiResult {
    let d = recurring_draft(&s, b, None).await?;
    let id = recurring::create(&s.carnet.db, &d).await?;
    let data = recurring::get(&s.carnet.db, id).await?;
    Ok((StatusCode::CREATED, Json(One { data })).into_response())
}

pub async fn get_recurring(State(s): State<AppState>, ApiUser(_): ApiUser, Path(id): Path<i64>) -> ApiResult {
    Ok(Json(One {
        data: recurring::get(&s.carnet.db, id).await?,
    })
    .into_response())
}

pub async fn update_recurring(
    State(s): State<AppState>,
    ApiUser(_): ApiUser,
    Path(id): Path<i64>,
    Checked(_, b): Checked<RecurringPatch>,
) -> ApiResult {
    let cur = recurring::get(&s.carnet.db, id).await?;
    let d = recurring_draft(&s, b, Some(recurring::to_raw(&cur))).await?;
    recurring::update(&s.carnet.db, id, &d).await?;
    Ok(Json(One {
        data: recurring::get(&s.carnet.db, id).await?,
    })
    .into_response())
}

pub async fn delete_recurring(State(s): State<AppState>, ApiUser(_): ApiUser, Path(id): Path<i64>) -> ApiResult {
    recurring::delete(&s.carnet.db, id).await?;
    done()
}

pub async fn delete_rule(State(s): State<AppState>, ApiUser(_): ApiUser, Path(id): Path<i64>) -> ApiResult {
    rules::delete(&s.carnet.db, id).await?;
    done()
}

pub async fn create_feed(State(s): State<AppState>, ApiUser(v): ApiUser) -> ApiResult {
    let token = carnet_app::agenda::calendar::new_token(&s.carnet.db, v.user.id).await?;
    let url = crate::pages::calendar::feed_url(&s, &token)?;
    Ok((StatusCode::CREATED, Json(FeedOut { url })).into_response())
}

pub async fn revoke_feed(State(s): State<AppState>, ApiUser(v): ApiUser) -> ApiResult {
    carnet_app::agenda::calendar::revoke(&s.carnet.db, v.user.id).await?;
    done()
}

pub async fn failed_jobs(State(s): State<AppState>, ApiUser(_): ApiUser) -> ApiResult {
    let list = jobs::failed(&s.carnet.db, 200).await?;
    let data: Vec<FailedJob> = list
        .iter()
        .map(|j| FailedJob {
            id: j.id,
            kind: j.kind.clone(),
            payload: serde_json::from_str::<Value>(&j.payload).unwrap_or(Value::Null),
            attempts: j.attempts,
            error: j.last_error.clone(),
            created_at: iso(j.created_at),
            failed_at: j.finished_at.map(iso),
        })
        .collect();
    Ok(Json(List::from(data)).into_response())
}

pub async fn retry_job(State(s): State<AppState>, ApiUser(_): ApiUser, Path(id): Path<i64>) -> ApiResult {
    jobs::retry(&s.carnet.db, id).await?;
    done()
}

/// Free slots of a user (the booking page's rules; `duration` in minutes overrides).
pub async fn free_slots(State(s): State<AppState>, ApiUser(v): ApiUser, Path(id): Path<i64>, Query(p): Query<SlotParams>) -> ApiResult {
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
    Ok(Json(List::from(slots.into_iter().map(iso).collect::<Vec<_>>())).into_response())
}

/// Sets the caller's booking page and working hours.
pub async fn save_booking(State(s): State<AppState>, ApiUser(v): ApiUser, Body(b): Body<BookingPageIn>) -> ApiResult {
    let type_id = appointment_type(&s, b.kind.as_ref()).await?;
    let mut week = Vec::new();
    for (day, hours) in b.hours.iter().flatten() {
        let iv = carnet_domain::slots::parse_intervals(hours).map_err(|e| AppError::field("hours", e))?;
        week.push((*day as u32, iv));
    }
    carnet_app::agenda::booking::save_page(
        &s.carnet.db,
        v.user.id,
        carnet_app::agenda::booking::PageInput {
            slug: &b.slug,
            type_id,
            duration_min: b.duration.unwrap_or(30),
            buffer_before_min: b.buffer_before.unwrap_or(0),
            buffer_after_min: b.buffer_after.unwrap_or(0),
            min_notice_min: b.min_notice.unwrap_or(120),
            horizon_days: b.horizon_days.unwrap_or(30),
            active: b.active.unwrap_or(true),
        },
    )
    .await?;
    if b.hours.is_some() {
        carnet_app::agenda::booking::set_hours(&s.carnet.db, v.user.id, &week).await?;
    }
    done()
}

/// An appointment type by id or name (a videoconference by default).
async fn appointment_type(s: &AppState, given: Option<&Ref>) -> Result<i64, ApiError> {
    let types = agenda::types(&s.carnet.db).await?;
    let raw = given.map_or("Videoconference", Ref::as_str);
    Ok(types
        .iter()
        .find(|t| t.name.eq_ignore_ascii_case(raw) || t.id.to_string() == raw)
        .map(|t| t.id)
        .ok_or_else(|| AppError::field("type", "is not a known action type"))?)
}

fn team_json(t: &booking::Team, members: &[i64]) -> TeamOut {
    TeamOut {
        id: t.id,
        slug: t.slug.clone(),
        name: t.name.clone(),
        type_id: t.type_id,
        duration: t.duration_min,
        buffer_before: t.buffer_before_min,
        buffer_after: t.buffer_after_min,
        min_notice: t.min_notice_min,
        horizon_days: t.horizon_days,
        strategy: t.strategy.clone(),
        time_zone: t.time_zone.clone(),
        active: t.active,
        members: members.to_vec(),
    }
}

pub async fn list_teams(State(s): State<AppState>, ApiUser(_): ApiUser) -> ApiResult {
    let teams = booking::teams(&s.carnet.db).await?;
    Ok(Json(List::from(teams.iter().map(|(t, m)| team_json(t, m)).collect::<Vec<_>>())).into_response())
}

/// Creates or changes a team page; a change starts from the team as it is.
async fn save_team(s: &AppState, id: Option<i64>, patch: TeamPatch) -> Result<i64, ApiError> {
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
    let (t, f) = (cur.as_ref().map(|(t, _)| t), &patch);
    let type_id = match (&f.kind, t) {
        (None, Some(t)) => t.type_id,
        (given, _) => appointment_type(s, given.as_ref()).await?,
    };
    let cat = settings::catalog(&s.carnet.db).await?;
    let members = match &patch.members {
        Some(list) => list
            .iter()
            .map(|m| cat.resolve_user(m.as_str()).map_err(|e| AppError::field("members", e)))
            .collect::<Result<Vec<_>, _>>()?,
        None => cur.as_ref().map(|(_, m)| m.clone()).unwrap_or_default(),
    };
    let or = |given: Option<i64>, old: Option<i64>, default: i64| given.or(old).unwrap_or(default);
    let slug = patch.slug.clone().or(t.map(|t| t.slug.clone())).unwrap_or_default();
    let name = patch.name.clone().or(t.map(|t| t.name.clone())).unwrap_or_default();
    let strategy = f
        .strategy
        .map(|x| x.as_str().to_string())
        .or(t.map(|t| t.strategy.clone()))
        .unwrap_or("round_robin".into());
    let tz = f
        .time_zone
        .clone()
        .or(t.map(|t| t.time_zone.clone()))
        .unwrap_or("Europe/Paris".into());
    Ok(booking::save_team(
        &s.carnet.db,
        id,
        booking::TeamInput {
            slug: &slug,
            name: &name,
            type_id,
            duration_min: or(f.duration, t.map(|t| t.duration_min), 30),
            buffer_before_min: or(f.buffer_before, t.map(|t| t.buffer_before_min), 0),
            buffer_after_min: or(f.buffer_after, t.map(|t| t.buffer_after_min), 0),
            min_notice_min: or(f.min_notice, t.map(|t| t.min_notice_min), 120),
            horizon_days: or(f.horizon_days, t.map(|t| t.horizon_days), 30),
            strategy: &strategy,
            time_zone: &tz,
            members,
            active: f.active.or(t.map(|t| t.active)).unwrap_or(true),
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
    Ok((status, Json(One { data: team_json(&t, &m) })).into_response())
}

pub async fn create_team(State(s): State<AppState>, ApiUser(_): ApiUser, Body(b): Body<NewTeam>) -> ApiResult {
    let patch = TeamPatch {
        slug: Some(b.slug),
        name: Some(b.name),
        members: Some(b.members),
        kind: b.kind,
        duration: b.duration,
        buffer_before: b.buffer_before,
        buffer_after: b.buffer_after,
        min_notice: b.min_notice,
        horizon_days: b.horizon_days,
        strategy: b.strategy,
        time_zone: b.time_zone,
        active: b.active,
    };
    let id = save_team(&s, None, patch).await?;
    team_response(&s, id, StatusCode::CREATED).await
}

pub async fn update_team(State(s): State<AppState>, ApiUser(_): ApiUser, Path(id): Path<i64>, Body(b): Body<TeamPatch>) -> ApiResult {
    save_team(&s, Some(id), b).await?;
    team_response(&s, id, StatusCode::OK).await
}

pub async fn delete_team(State(s): State<AppState>, ApiUser(_): ApiUser, Path(id): Path<i64>) -> ApiResult {
    booking::delete_team(&s.carnet.db, id).await?;
    done()
}
