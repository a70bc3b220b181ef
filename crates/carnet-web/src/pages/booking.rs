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
}

struct Host {
    name: String,
    tz: chrono_tz::Tz,
    page: booking::BookingPage,
}

async fn host(s: &AppState, slug: &str) -> Result<Option<Host>, AppError> {
    let Some(page) = booking::by_slug(&s.carnet.db, slug).await? else {
        return Ok(None);
    };
    let u = carnet_app::access::users::get(&s.carnet.db, page.user_id).await?;
    if !u.active {
        return Ok(None);
    }
    Ok(Some(Host {
        name: u.name,
        tz: u.tz,
        page,
    }))
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
    let now = carnet_app::db::now();
    let slots = booking::free(&s.carnet.db, h.page.user_id, now, now + h.page.horizon_days * 86_400, None)
        .await
        .unwrap_or_default();
    let local = Fmt::new(fmt.locale, h.tz);
    let mut days: Vec<(String, Vec<(i64, String)>)> = Vec::new();
    for t in slots {
        let dt = h.tz.timestamp_opt(t, 0).unwrap();
        let day = local.date(dt.date_naive());
        let label = dt.format("%H:%M").to_string();
        match days.last_mut() {
            Some((d, v)) if *d == day => v.push((t, label)),
            _ => days.push((day, vec![(t, label)])),
        }
    }
    let l = Layout::anonymous(fmt, format!("{} — {}", fmt.t("book.title"), h.name));
    render_status(
        status,
        &BookingView {
            l,
            slug: h.page.slug.clone(),
            host: h.name.clone(),
            minutes: h.page.duration_min,
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
        Err(e) => super::app_error_page(e, None),
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
    if !s.booking_limiter.allowed(&key) {
        return super::error_page(StatusCode::TOO_MANY_REQUESTS, Some(fmt), "book.too_many");
    }
    s.booking_limiter.fail(&key);
    let h = match host(&s, &slug).await {
        Ok(Some(h)) => h,
        Ok(None) => return super::error_page(StatusCode::NOT_FOUND, Some(fmt), "error.not_found"),
        Err(e) => return super::app_error_page(e, None),
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
    match booking::book(&s.carnet.db, &slug, slot, &booker).await {
        Ok((_, token)) => {
            let l = Layout::anonymous(fmt, fmt.t("book.confirmed"));
            render_status(
                StatusCode::OK,
                &BookedView {
                    l,
                    when: when(&fmt, h.tz, slot),
                    host: h.name.clone(),
                    manage: format!("/book/manage/{token}"),
                    cancelled: false,
                    open: true,
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
        Err(e) => super::app_error_page(e, None),
    }
}

async fn manage(State(s): State<AppState>, headers: HeaderMap, Path(token): Path<String>) -> Response {
    let fmt = browser_fmt(&headers);
    match booking::by_token(&s.carnet.db, &token).await {
        Ok(a) => {
            let u = carnet_app::access::users::get(&s.carnet.db, a.assignee_id.unwrap_or(0)).await;
            let (name, tz) = u
                .map(|u| (u.name, u.tz))
                .unwrap_or((String::new(), parse_time_zone("UTC").unwrap()));
            let l = Layout::anonymous(fmt, fmt.t("book.manage"));
            render_status(
                StatusCode::OK,
                &BookedView {
                    l,
                    when: when(&fmt, tz, a.starts_at.unwrap_or(0)),
                    host: name,
                    manage: format!("/book/manage/{token}"),
                    cancelled: a.outcome.is_some(),
                    open: a.outcome.is_none(),
                },
            )
        }
        Err(_) => super::error_page(StatusCode::NOT_FOUND, Some(fmt), "error.not_found"),
    }
}

async fn cancel(State(s): State<AppState>, headers: HeaderMap, Path(token): Path<String>) -> Response {
    let fmt = browser_fmt(&headers);
    match booking::cancel(&s.carnet.db, &token).await {
        Ok(()) | Err(AppError::Conflict(_)) => super::see_other(&format!("/book/manage/{token}")),
        Err(_) => super::error_page(StatusCode::NOT_FOUND, Some(fmt), "error.not_found"),
    }
}
