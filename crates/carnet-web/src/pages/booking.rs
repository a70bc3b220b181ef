//! Public booking pages (A4): no account needed. Only free slots are shown,
//! never the content of the diary. Submissions are size- and rate-limited and
//! carry a honeypot field for bots.

use super::{browser_fmt, render_status, Layout};
use crate::AppState;
use askama::Template;
use axum::extract::{ConnectInfo, DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Form, Router};
use carnet_app::agenda::booking::{self, Booker};
use carnet_app::AppError;
use carnet_domain::i18n::{parse_time_zone, Fmt};
use carnet_domain::FieldErrors;
use chrono::TimeZone;
use std::net::SocketAddr;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/book/{slug}", get(page).post(submit).layer(DefaultBodyLimit::max(16 * 1024)))
        .route("/book/manage/{token}", get(manage))
        .route("/book/manage/{token}/cancel", post(cancel).layer(DefaultBodyLimit::max(4 * 1024)))
        .route(
            "/book/manage/{token}/reschedule",
            post(reschedule).layer(DefaultBodyLimit::max(4 * 1024)),
        )
}

#[derive(Template)]
#[template(path = "booking.html")]
struct BookingView {
    l: Layout,
    slug: String,
    host: String,
    minutes: i64,
    zone: String,
    days: Vec<(String, Vec<(i64, String)>)>,
    chosen: i64,
    name: String,
    email: String,
    phone: String,
    company: String,
    errors: FieldErrors,
    error: Option<String>,
}

#[derive(Template)]
#[template(path = "booked.html")]
struct BookedView {
    l: Layout,
    when: String,
    host: String,
    manage: String,
    cancelled: bool,
    open: bool,
    slots: Days,
    error: Option<String>,
}

/// Whose page it is: one rep's, or a team's (its active members).
enum HostKind {
    User(i64),
    Team(booking::Team, Vec<i64>),
}

struct Host {
    name: String,
    tz: chrono_tz::Tz,
    slug: String,
    duration_min: i64,
    horizon_days: i64,
    kind: HostKind,
}

async fn host(s: &AppState, slug: &str) -> Result<Option<Host>, AppError> {
    let db = &s.carnet.db;
    if let Some((team, members)) = booking::team_by_slug(db, slug).await? {
        if members.is_empty() {
            return Ok(None);
        }
        return Ok(Some(Host {
            name: team.name.clone(),
            tz: parse_time_zone(&team.time_zone).unwrap_or(chrono_tz::Europe::Paris),
            slug: team.slug.clone(),
            duration_min: team.duration_min,
            horizon_days: team.horizon_days,
            kind: HostKind::Team(team, members),
        }));
    }
    let Some(page) = booking::by_slug(db, slug).await? else {
        return Ok(None);
    };
    let u = carnet_app::access::users::get(db, page.user_id).await?;
    if !u.active {
        return Ok(None);
    }
    Ok(Some(Host {
        name: u.name,
        tz: u.tz,
        slug: page.slug,
        duration_min: page.duration_min,
        horizon_days: page.horizon_days,
        kind: HostKind::User(page.user_id),
    }))
}

/// Slots grouped by local day, for the pickers.
type Days = Vec<(String, Vec<(i64, String)>)>;

fn by_day(fmt: &Fmt, tz: chrono_tz::Tz, slots: Vec<i64>) -> Days {
    let local = Fmt::new(fmt.locale, tz);
    let mut days: Days = Vec::new();
    for t in slots {
        let dt = tz.timestamp_opt(t, 0).unwrap();
        let day = local.date(dt.date_naive());
        let label = dt.format("%H:%M").to_string();
        match days.last_mut() {
            Some((d, v)) if *d == day => v.push((t, label)),
            _ => days.push((day, vec![(t, label)])),
        }
    }
    days
}

fn when(fmt: &Fmt, tz: chrono_tz::Tz, t: i64) -> String {
    Fmt::new(fmt.locale, tz).datetime(t)
}

async fn view(
    s: &AppState,
    fmt: Fmt,
    h: &Host,
    form: (i64, &str, &str, &str, &str),
    errors: FieldErrors,
    error: Option<String>,
    status: StatusCode,
) -> Response {
    let now = s.carnet.db.now();
    let to = now + h.horizon_days * 86_400;
    let slots = match &h.kind {
        HostKind::User(uid) => booking::free(&s.carnet.db, *uid, now, to, None).await,
        HostKind::Team(team, members) => booking::free_team(&s.carnet.db, team, members, now, to).await,
    }
    .unwrap_or_default();
    let days = by_day(&fmt, h.tz, slots);
    let l = Layout::anonymous(fmt, format!("{} — {}", fmt.t("book.title"), h.name));
    render_status(
        status,
        &BookingView {
            l,
            slug: h.slug.clone(),
            host: h.name.clone(),
            minutes: h.duration_min,
            zone: h.tz.name().to_string(),
            days,
            chosen: form.0,
            name: form.1.into(),
            email: form.2.into(),
            phone: form.3.into(),
            company: form.4.into(),
            errors,
            error,
        },
    )
}

async fn page(State(s): State<AppState>, headers: HeaderMap, Path(slug): Path<String>) -> Response {
    let fmt = browser_fmt(&headers);
    match host(&s, &slug).await {
        Ok(Some(h)) => view(&s, fmt, &h, (0, "", "", "", ""), FieldErrors::new(), None, StatusCode::OK).await,
        Ok(None) => super::error_page(StatusCode::NOT_FOUND, Some(fmt), "error.not_found"),
        Err(e) => public_error(fmt, e),
    }
}

#[derive(serde::Deserialize)]
pub struct BookForm {
    slot: Option<String>,
    name: String,
    email: String,
    #[serde(default)]
    phone: String,
    #[serde(default)]
    company: String,
    /// Hidden from people; bots fill it in.
    #[serde(default)]
    website: String,
}

async fn submit(
    State(s): State<AppState>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path(slug): Path<String>,
    Form(f): Form<BookForm>,
) -> Response {
    let fmt = browser_fmt(&headers);
    let key = format!("book:{}", addr.ip());
    if !s.public_limiter.allowed(&key) {
        return super::error_page(StatusCode::TOO_MANY_REQUESTS, Some(fmt), "book.too_many");
    }
    s.public_limiter.fail(&key);
    let h = match host(&s, &slug).await {
        Ok(Some(h)) => h,
        Ok(None) => return super::error_page(StatusCode::NOT_FOUND, Some(fmt), "error.not_found"),
        Err(e) => return public_error(fmt, e),
    };
    let slot = f.slot.as_deref().and_then(|v| v.parse::<i64>().ok()).unwrap_or(0);
    let form = (slot, f.name.as_str(), f.email.as_str(), f.phone.as_str(), f.company.as_str());
    if !f.website.is_empty() {
        // A bot: answer like a refusal, keep nothing.
        return view(
            &s,
            fmt,
            &h,
            form,
            FieldErrors::new(),
            Some(fmt.t("book.refused").into()),
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    }
    let mut errors = match Booker::parse(&f.name, &f.email, &f.phone, &f.company) {
        Ok(_) => FieldErrors::new(),
        Err(e) => e,
    };
    if slot == 0 {
        errors.add("slot", fmt.t("book.pick_slot"));
    }
    if !errors.is_empty() {
        return view(&s, fmt, &h, form, errors, None, StatusCode::UNPROCESSABLE_ENTITY).await;
    }
    let booker = Booker::parse(&f.name, &f.email, &f.phone, &f.company).expect("checked above");
    let booked = match &h.kind {
        HostKind::User(_) => booking::book(&s.carnet.db, &slug, slot, &booker)
            .await
            .map(|(_, token)| (token, h.name.clone())),
        HostKind::Team(..) => match booking::book_team(&s.carnet.db, &slug, slot, &booker).await {
            Ok((_, token, member)) => {
                let rep = carnet_app::access::users::get(&s.carnet.db, member)
                    .await
                    .map(|u| u.name)
                    .unwrap_or_default();
                Ok((token, format!("{rep} ({})", h.name)))
            }
            Err(e) => Err(e),
        },
    };
    match booked {
        Ok((token, with)) => {
            let l = Layout::anonymous(fmt, fmt.t("book.confirmed"));
            render_status(
                StatusCode::OK,
                &BookedView {
                    l,
                    when: when(&fmt, h.tz, slot),
                    host: with,
                    manage: format!("/book/manage/{token}"),
                    cancelled: false,
                    open: true,
                    slots: vec![],
                    error: None,
                },
            )
        }
        Err(AppError::Conflict(_)) => {
            view(
                &s,
                fmt,
                &h,
                (0, form.1, form.2, form.3, form.4),
                FieldErrors::new(),
                Some(fmt.t("book.taken").into()),
                StatusCode::CONFLICT,
            )
            .await
        }
        Err(e) => public_error(fmt, e),
    }
}

/// The manage page of a booking: when and with whom, cancel, or move it to
/// another free slot of the same rep.
async fn manage_page(s: &AppState, fmt: Fmt, token: &str, error: Option<String>, status: StatusCode) -> Response {
    match booking::by_token(&s.carnet.db, token).await {
        Ok(a) => {
            let u = carnet_app::access::users::get(&s.carnet.db, a.assignee_id.unwrap_or(0)).await;
            let (name, tz) = u
                .map(|u| (u.name, u.tz))
                .unwrap_or((String::new(), parse_time_zone("UTC").unwrap()));
            let slots = if a.outcome.is_none() {
                booking::reschedule_slots(&s.carnet.db, token).await.unwrap_or_default()
            } else {
                vec![]
            };
            let l = Layout::anonymous(fmt, fmt.t("book.manage"));
            render_status(
                status,
                &BookedView {
                    l,
                    when: when(&fmt, tz, a.starts_at.unwrap_or(0)),
                    host: name,
                    manage: format!("/book/manage/{token}"),
                    cancelled: a.outcome.is_some(),
                    open: a.outcome.is_none(),
                    slots: by_day(&fmt, tz, slots),
                    error,
                },
            )
        }
        Err(e) => public_error(fmt, e),
    }
}

async fn manage(State(s): State<AppState>, headers: HeaderMap, Path(token): Path<String>) -> Response {
    manage_page(&s, browser_fmt(&headers), &token, None, StatusCode::OK).await
}

#[derive(serde::Deserialize)]
pub struct RescheduleForm {
    slot: Option<String>,
}

async fn reschedule(
    State(s): State<AppState>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path(token): Path<String>,
    Form(f): Form<RescheduleForm>,
) -> Response {
    let fmt = browser_fmt(&headers);
    let key = format!("book:{}", addr.ip());
    if !s.public_limiter.allowed(&key) {
        return super::error_page(StatusCode::TOO_MANY_REQUESTS, Some(fmt), "book.too_many");
    }
    s.public_limiter.fail(&key);
    let Some(slot) = f.slot.as_deref().and_then(|v| v.parse::<i64>().ok()) else {
        return manage_page(
            &s,
            fmt,
            &token,
            Some(fmt.t("book.pick_slot").into()),
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    };
    match booking::reschedule(&s.carnet.db, &token, slot).await {
        Ok(()) => super::see_other(&format!("/book/manage/{token}")),
        Err(AppError::Conflict(_)) => manage_page(&s, fmt, &token, Some(fmt.t("book.taken").into()), StatusCode::CONFLICT).await,
        Err(e) => public_error(fmt, e),
    }
}

async fn cancel(State(s): State<AppState>, headers: HeaderMap, Path(token): Path<String>) -> Response {
    let fmt = browser_fmt(&headers);
    match booking::cancel(&s.carnet.db, &token).await {
        Ok(()) | Err(AppError::Conflict(_)) => super::see_other(&format!("/book/manage/{token}")),
        Err(e) => public_error(fmt, e),
    }
}

/// A public page's error through the one mapping (its status from the error,
/// internal causes logged, never shown), in the visitor's language.
fn public_error(fmt: Fmt, e: AppError) -> Response {
    if let AppError::Internal(detail) = &e {
        tracing::error!(error = %detail, "public booking page");
    }
    let key = match e {
        AppError::NotFound => "error.not_found",
        AppError::Forbidden => "error.forbidden",
        AppError::TooManyRequests => "book.too_many",
        _ => "error.title",
    };
    super::error_page(crate::error::status_of(&e), Some(fmt), key)
}
