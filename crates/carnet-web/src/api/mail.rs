//! Email over JSON: the outbox (list, one message with its hits, a rep's
//! one-off email, the decision on a message whose delivery is unknown), the
//! templates (with a preview on a real record), the suppression list, delivery
//! reports from a mail provider, and the email settings.

use super::openapi::{delete, get, post, put, Op};
use super::types::{Body, Created, List, Page};
use super::{Path, Query};
use crate::auth::ApiUser;
use crate::error::ApiError;
use crate::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use carnet_app::mail::library::{self, Template, TemplateInput};
use carnet_app::mail::oneoff::{self, OneOff};
use carnet_app::mail::outbox::{self, Email, Hit};
use carnet_app::mail::suppression::{self, Reason, Suppression};
use carnet_app::mail::{self, bounces, templates, MailSettings, MailSettingsInput, MailStatus};
use carnet_app::AppError;
use carnet_domain::access::Permission;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

type ApiResult = Result<Response, ApiError>;

pub fn ops() -> Vec<Op> {
    vec![
        get("/emails", list_emails)
            .requires(Permission::ReadRecords)
            .doc("email", "The outbox, newest first: by state or contact")
            .query::<EmailQuery>()
            .answers::<Page<Email>>(200),
        post("/emails", send_email)
            .requires(Permission::Comment)
            .doc(
                "email",
                "Write an email to a contact (or about an opportunity): from the company's address under your name, Reply-To you, logged on the timelines",
            )
            .body::<OneOff>()
            .answers::<Email>(201),
        get("/emails/{id}", get_email)
            .requires(Permission::ReadRecords)
            .doc("email", "One message, with its opens and clicks (human or machine)")
            .answers::<EmailDetail>(200),
        post("/emails/{id}/decision", decide)
            .requires(Permission::ManageSettings)
            .doc(
                "email",
                "Decide on a message whose delivery is unknown: it was delivered, or send it again (also for a failed one)",
            )
            .body::<Decision>()
            .answers::<Email>(200),
        get("/email-templates", list_templates)
            .requires(Permission::ReadRecords)
            .doc("email", "Email templates, per key and language")
            .answers::<List<Template>>(200),
        post("/email-templates", create_template)
            .requires(Permission::ManageSettings)
            .doc("email", "Add a template (checked: it compiles and names only known merge fields)")
            .body::<TemplateInput>()
            .answers::<Template>(201),
        get("/email-templates/{id}", get_template)
            .requires(Permission::ReadRecords)
            .doc("email", "One template")
            .answers::<Template>(200),
        put("/email-templates/{id}", update_template)
            .requires(Permission::ManageSettings)
            .doc("email", "Change a template")
            .body::<TemplateInput>()
            .answers::<Template>(200),
        delete("/email-templates/{id}", delete_template)
            .requires(Permission::ManageSettings)
            .doc("email", "Delete a template of the company's (built-in ones are edited, not deleted)"),
        post("/email-templates/{id}/preview", preview_template)
            .requires(Permission::ReadRecords)
            .doc("email", "A template rendered with a real contact (and opportunity), or with sample values")
            .body::<PreviewIn>()
            .answers::<PreviewOut>(200),
        get("/suppressions", list_suppressions)
            .requires(Permission::ReadRecords)
            .doc("email", "Addresses not written to: unsubscribed, bounced, complained, added by hand")
            .answers::<List<Suppression>>(200),
        post("/suppressions", add_suppression)
            .requires(Permission::ManageSettings)
            .doc("email", "Add an address to the suppression list")
            .body::<NewSuppression>()
            .answers::<Suppression>(201),
        delete("/suppressions/{address}", remove_suppression)
            .requires(Permission::ManageSettings)
            .doc("email", "Take an address off the suppression list"),
        post("/mail/bounces", accept_bounce)
            .requires(Permission::ManageSettings)
            .doc(
                "email",
                "A delivery status notification (RFC 3464) forwarded by a mail provider: permanent failures are suppressed",
            )
            .body::<BounceIn>()
            .answers::<bounces::Report>(200),
        get("/mail/settings", get_settings)
            .requires(Permission::ReadRecords)
            .doc("email", "The company's sender, tracking and pace")
            .answers::<MailSettings>(200),
        put("/mail/settings", put_settings)
            .requires(Permission::ManageSettings)
            .doc("email", "Change the company's sender, tracking and pace")
            .body::<MailSettingsInput>()
            .answers::<MailSettings>(200),
        get("/mail/status", get_status)
            .requires(Permission::ReadRecords)
            .doc("email", "Whether sending works: the relay (never its password), messages per state, the last failure")
            .answers::<MailStatus>(200),
        post("/mail/test", send_test)
            .requires(Permission::ReadRecords)
            .doc("email", "Send yourself a test email")
            .answers::<Created>(201),
    ]
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EmailQuery {
    /// `queued`, `sending`, `sent`, `failed`, `suppressed` or `unknown`.
    pub status: Option<String>,
    pub contact_id: Option<i64>,
    /// The `next_cursor` of the previous page.
    pub after: Option<String>,
    /// 1 to 200 (default 50).
    pub limit: Option<i64>,
}

async fn list_emails(State(s): State<AppState>, ApiUser(_): ApiUser, Query(q): Query<EmailQuery>) -> ApiResult {
    if let Some(st) = &q.status {
        if !outbox::STATUSES.contains(&st.as_str()) {
            return Err(AppError::field("status", "must be queued, sending, sent, failed, suppressed or unknown").into());
        }
    }
    let before = match &q.after {
        Some(a) => Some(
            a.parse::<i64>()
                .map_err(|_| AppError::field("after", "is not a cursor of this list"))?,
        ),
        None => None,
    };
    let limit = q.limit.unwrap_or(50);
    if !(1..=200).contains(&limit) {
        return Err(AppError::field("limit", "must be from 1 to 200").into());
    }
    let data = outbox::list(&s.carnet.db, q.status.as_deref(), q.contact_id, before, limit).await?;
    let next_cursor = (data.len() as i64 == limit)
        .then(|| data.last().map(|e| e.id.to_string()))
        .flatten();
    Ok(Json(Page { data, next_cursor }).into_response())
}

async fn send_email(State(s): State<AppState>, ApiUser(v): ApiUser, Body(b): Body<OneOff>) -> ApiResult {
    let id = oneoff::send(&s.carnet.db, v.user.id, &b).await?;
    Ok((StatusCode::CREATED, Json(outbox::get(&s.carnet.db, id).await?)).into_response())
}

/// A message and what happened to it.
#[derive(Serialize, JsonSchema)]
pub struct EmailDetail {
    #[serde(flatten)]
    pub email: Email,
    /// The links of the message, in order (a click names its index).
    pub links: Vec<String>,
    pub hits: Vec<Hit>,
}

async fn get_email(State(s): State<AppState>, ApiUser(_): ApiUser, Path(id): Path<i64>) -> ApiResult {
    let email = outbox::get(&s.carnet.db, id).await?;
    let links = serde_json::from_str(&email.links).unwrap_or_default();
    let hits = mail::tracking::hits(&s.carnet.db, id).await?;
    Ok(Json(EmailDetail { email, links, hits }).into_response())
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Decision {
    /// True: the relay did deliver it (it becomes `sent`); false: send it again.
    pub delivered: bool,
}

async fn decide(State(s): State<AppState>, ApiUser(v): ApiUser, Path(id): Path<i64>, Body(b): Body<Decision>) -> ApiResult {
    outbox::decide(&s.carnet.db, v.user.id, id, b.delivered).await?;
    Ok(Json(outbox::get(&s.carnet.db, id).await?).into_response())
}

async fn list_templates(State(s): State<AppState>, ApiUser(_): ApiUser) -> ApiResult {
    Ok(Json(List::from(library::list(&s.carnet.db).await?)).into_response())
}

async fn get_template(State(s): State<AppState>, ApiUser(_): ApiUser, Path(id): Path<i64>) -> ApiResult {
    Ok(Json(library::get(&s.carnet.db, id).await?).into_response())
}

async fn create_template(State(s): State<AppState>, ApiUser(_): ApiUser, Body(b): Body<TemplateInput>) -> ApiResult {
    let id = library::create(&s.carnet.db, &b).await?;
    Ok((StatusCode::CREATED, Json(library::get(&s.carnet.db, id).await?)).into_response())
}

async fn update_template(State(s): State<AppState>, ApiUser(_): ApiUser, Path(id): Path<i64>, Body(b): Body<TemplateInput>) -> ApiResult {
    library::update(&s.carnet.db, id, &b).await?;
    Ok(Json(library::get(&s.carnet.db, id).await?).into_response())
}

async fn delete_template(State(s): State<AppState>, ApiUser(_): ApiUser, Path(id): Path<i64>) -> ApiResult {
    library::delete(&s.carnet.db, id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PreviewIn {
    /// Render with this contact's values (sample values without one).
    pub contact_id: Option<i64>,
    pub opportunity_id: Option<i64>,
}

#[derive(Serialize, JsonSchema)]
pub struct PreviewOut {
    pub subject: String,
    pub html: String,
    /// The plain-text part sent beside the HTML.
    pub text: String,
}

async fn preview_template(State(s): State<AppState>, ApiUser(v): ApiUser, Path(id): Path<i64>, Body(b): Body<PreviewIn>) -> ApiResult {
    Ok(Json(preview(&s, v.user.id, id, b.contact_id, b.opportunity_id).await?).into_response())
}

/// A template rendered for a record (or with sample values).
pub async fn preview(
    s: &AppState,
    user_id: i64,
    id: i64,
    contact_id: Option<i64>,
    opportunity_id: Option<i64>,
) -> Result<PreviewOut, AppError> {
    let t = library::get(&s.carnet.db, id).await?;
    let merge = if contact_id.is_none() && opportunity_id.is_none() {
        templates::Merge::sample(t.locale == "fr")
    } else {
        mail::merge::merge_for(&mut s.carnet.db.conn().await?, user_id, contact_id, opportunity_id).await?
    };
    let r = library::render(&t, &merge)?;
    let text = templates::text_of(&r.html);
    Ok(PreviewOut {
        subject: r.subject,
        html: r.html,
        text,
    })
}

async fn list_suppressions(State(s): State<AppState>, ApiUser(_): ApiUser) -> ApiResult {
    Ok(Json(List::from(suppression::list(&s.carnet.db, 1000).await?)).into_response())
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NewSuppression {
    pub address: String,
    /// `manual` by default.
    pub reason: Option<Reason>,
    pub detail: Option<String>,
}

async fn add_suppression(State(s): State<AppState>, ApiUser(v): ApiUser, Body(b): Body<NewSuppression>) -> ApiResult {
    let source = format!("user {}", v.user.id);
    suppression::add_manual(
        &s.carnet.db,
        &b.address,
        b.reason.unwrap_or(Reason::Manual),
        &source,
        b.detail.as_deref(),
    )
    .await?;
    let added = suppression::get(&s.carnet.db, &b.address).await?;
    Ok((StatusCode::CREATED, Json(added)).into_response())
}

async fn remove_suppression(State(s): State<AppState>, ApiUser(_): ApiUser, Path(address): Path<String>) -> ApiResult {
    suppression::remove(&s.carnet.db, &address).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BounceIn {
    /// The whole report as received (headers and body), at most 1 MB.
    pub message: String,
}

async fn accept_bounce(State(s): State<AppState>, ApiUser(_): ApiUser, Body(b): Body<BounceIn>) -> ApiResult {
    Ok(Json(bounces::accept(&s.carnet.db, b.message.as_bytes(), "dsn").await?).into_response())
}

async fn get_settings(State(s): State<AppState>, ApiUser(_): ApiUser) -> ApiResult {
    Ok(Json(MailSettings::load(&mut s.carnet.db.conn().await.map_err(AppError::from)?).await?).into_response())
}

async fn put_settings(State(s): State<AppState>, ApiUser(_): ApiUser, Body(b): Body<MailSettingsInput>) -> ApiResult {
    Ok(Json(MailSettings::save(&s.carnet.db, &b).await?).into_response())
}

async fn get_status(State(s): State<AppState>, ApiUser(_): ApiUser) -> ApiResult {
    Ok(Json(mail::status(&s.carnet).await?).into_response())
}

async fn send_test(State(s): State<AppState>, ApiUser(v): ApiUser) -> ApiResult {
    let id = mail::owed::test_email(&s.carnet.db, v.user.id).await?;
    Ok((StatusCode::CREATED, Json(Created { id })).into_response())
}
