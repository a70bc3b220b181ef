//! Server-rendered pages (askama templates). They work without JavaScript;
//! `assets/app.js` adds confirmations, search suggestions and the mobile menu.

mod agenda;
mod analysis;
mod booking;
pub mod calendar;
mod forms;
mod home;
mod mail;
mod marketing;
mod records;
mod sales;
mod session;
mod settings;
mod tracker;
pub mod view;

use crate::auth::{Viewer, CSRF_FIELD};
use crate::kinds::{Accounts, Contacts, Opportunities};
use crate::AppState;
use askama::Template;
use axum::extract::DefaultBodyLimit;
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use carnet_app::AppError;
use carnet_domain::i18n::{Fmt, Locale};
use carnet_domain::records::RawInput;

pub fn router(upload_limit: usize) -> Router<AppState> {
    Router::new()
        .route("/", get(home::home))
        .route("/search", get(home::search))
        .route("/login", get(session::login_form).post(session::login))
        .route("/logout", post(session::logout))
        .route("/setup", get(session::setup_form).post(session::setup))
        .route("/password/forgot", get(session::forgot_form).post(session::forgot))
        .route("/password/{token}", get(session::choose_form).post(session::choose))
        .route("/assets/style.css", get(style))
        .route("/assets/app.js", get(script))
        .merge(records::routes::<Accounts>())
        .merge(records::routes::<Contacts>())
        .merge(records::routes::<Opportunities>())
        .merge(sales::routes())
        .merge(agenda::routes())
        .merge(analysis::routes())
        .merge(calendar::routes())
        .merge(booking::routes())
        .merge(mail::routes())
        .merge(forms::routes())
        .merge(tracker::routes())
        .merge(marketing::routes(upload_limit))
        .route("/accounts/{id}/contacts", post(records::link_contact_to_account))
        .route("/accounts/{id}/contacts/{other}/delete", post(records::unlink_from_account))
        .route("/contacts/{id}/accounts", post(records::link_account_to_contact))
        .route("/contacts/{id}/accounts/{other}/delete", post(records::unlink_from_contact))
        .route(
            "/accounts/{id}/attachments",
            post(records::upload::<Accounts>).layer(DefaultBodyLimit::max(upload_limit)),
        )
        .route(
            "/contacts/{id}/attachments",
            post(records::upload::<Contacts>).layer(DefaultBodyLimit::max(upload_limit)),
        )
        .route("/attachments/{id}", get(records::download))
        .route("/attachments/{id}/delete", post(records::delete_attachment))
        .merge(settings::routes())
}

/// What every signed-in page shows around its content.
pub struct Layout {
    pub fmt: Fmt,
    pub title: String,
    pub user_name: String,
    pub role_key: String,
    pub csrf: String,
    pub nav: &'static str,
    pub can_settings: bool,
    pub can_marketing: bool,
    pub signed_in: bool,
    pub flash: Option<String>,
}

impl Layout {
    pub fn new(v: &Viewer, title: impl Into<String>, nav: &'static str) -> Self {
        Layout {
            fmt: v.user.fmt(),
            title: title.into(),
            user_name: v.user.name.clone(),
            role_key: format!("role.{}", v.user.role.as_str()),
            csrf: v.csrf.clone(),
            nav,
            can_settings: v.can(carnet_domain::access::Permission::ManageSettings),
            can_marketing: v.can(carnet_domain::access::Permission::ManageMarketing),
            signed_in: true,
            flash: None,
        }
    }
    /// A page for someone not signed in (login, setup, errors).
    pub fn anonymous(fmt: Fmt, title: impl Into<String>) -> Self {
        Layout {
            fmt,
            title: title.into(),
            user_name: String::new(),
            role_key: String::new(),
            csrf: String::new(),
            nav: "",
            can_settings: false,
            can_marketing: false,
            signed_in: false,
            flash: None,
        }
    }
    pub fn t(&self, key: &str) -> &'static str {
        self.fmt.t(key)
    }
    pub fn lang(&self) -> &'static str {
        self.fmt.locale.as_str()
    }
}

pub fn default_fmt() -> Fmt {
    Fmt::new(Locale::En, chrono_tz::Europe::Paris)
}

/// For someone not signed in: French when the browser prefers it, else English.
pub fn browser_fmt(headers: &axum::http::HeaderMap) -> Fmt {
    let accept = headers.get(header::ACCEPT_LANGUAGE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let first = accept.split(',').next().unwrap_or("").trim().to_ascii_lowercase();
    let locale = if first.starts_with("fr") { Locale::Fr } else { Locale::En };
    Fmt::new(locale, chrono_tz::Europe::Paris)
}

pub fn render(t: &impl Template) -> Response {
    match t.render() {
        Ok(html) => Html(html).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "template failed");
            (StatusCode::INTERNAL_SERVER_ERROR, "template error").into_response()
        }
    }
}

pub fn render_status(status: StatusCode, t: &impl Template) -> Response {
    let mut r = render(t);
    *r.status_mut() = status;
    r
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage {
    l: Layout,
    message: String,
}

pub fn error_page(status: StatusCode, fmt: Option<Fmt>, key: &str) -> Response {
    let fmt = fmt.unwrap_or_else(default_fmt);
    let l = Layout::anonymous(fmt, fmt.t("error.title"));
    render_status(
        status,
        &ErrorPage {
            message: fmt.t(key).to_string(),
            l,
        },
    )
}

/// An application error as a page, in the viewer's language when known.
pub fn app_error_page(e: AppError, v: Option<&Viewer>) -> Response {
    let fmt = v.map(|v| v.user.fmt());
    let status = crate::error::status_of(&e);
    match &e {
        AppError::NotFound => error_page(status, fmt, "error.not_found"),
        AppError::Forbidden => error_page(status, fmt, "error.forbidden"),
        AppError::Unauthorized => Redirect::to("/login").into_response(),
        AppError::Invalid(f) => {
            let fmt = fmt.unwrap_or_else(default_fmt);
            let l = Layout::anonymous(fmt, fmt.t("error.title"));
            render_status(status, &ErrorPage { message: f.summary(), l })
        }
        AppError::Internal(detail) => {
            tracing::error!(error = %detail, "internal error");
            error_page(status, fmt, "error.title")
        }
        other => {
            let fmt = fmt.unwrap_or_else(default_fmt);
            let l = Layout::anonymous(fmt, fmt.t("error.title"));
            render_status(
                status,
                &ErrorPage {
                    message: other.to_string(),
                    l,
                },
            )
        }
    }
}

/// A page handler's error: already a response (an error page or a redirect).
pub struct PageError(Box<Response>);

impl PageError {
    pub fn new(r: Response) -> Self {
        PageError(Box::new(r))
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        *self.0
    }
}

pub type PageResult = Result<Response, PageError>;

/// Turns service errors into pages for the viewer.
pub trait OrPage<T> {
    fn or_page(self, v: &Viewer) -> Result<T, PageError>;
}

impl<T> OrPage<T> for Result<T, AppError> {
    fn or_page(self, v: &Viewer) -> Result<T, PageError> {
        self.map_err(|e| PageError::new(app_error_page(e, Some(v))))
    }
}

/// The submitted form as raw input, after checking its CSRF token.
pub fn checked_form(v: &Viewer, pairs: Vec<(String, String)>) -> Result<RawInput, PageError> {
    let mut input = RawInput::from_pairs(pairs);
    let sent = input.one(CSRF_FIELD).to_string();
    if v.via_api_key || !crate::auth::constant_time_eq(sent.as_bytes(), v.csrf.as_bytes()) {
        return Err(PageError::new(error_page(StatusCode::FORBIDDEN, Some(v.user.fmt()), "error.csrf")));
    }
    input.0.remove(CSRF_FIELD);
    Ok(input)
}

/// A 303 to a path of this site. A target that is not a local path (another
/// site, `//host`, a backslash, whitespace or control characters that browsers
/// strip or read as separators) goes to the home page instead: every redirect
/// of the application goes through here.
pub fn see_other(to: &str) -> Response {
    Redirect::to(local_path(to).unwrap_or("/")).into_response()
}

/// `raw` if it is a path of this site that a browser reads as such.
pub fn local_path(raw: &str) -> Option<&str> {
    let ok = raw.starts_with('/')
        && !raw.starts_with("//")
        && !raw.contains('\\')
        && !raw.chars().any(|c| c.is_control() || c.is_whitespace())
        && axum::http::HeaderValue::from_str(raw).is_ok();
    ok.then_some(raw)
}

async fn style() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        include_str!("../../assets/style.css"),
    )
        .into_response()
}

async fn script() -> Response {
    (
        [
            (header::CONTENT_TYPE, "application/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        include_str!("../../assets/app.js"),
    )
        .into_response()
}

/// A multipart upload's CSRF field and file (name, type, bytes); a file over
/// the upload limit or unreadable is a `file` field error.
pub async fn read_upload(s: &AppState, mut mp: axum::extract::Multipart) -> Result<(String, Option<(String, String, Vec<u8>)>), AppError> {
    let too_big = || AppError::field("file", format!("is larger than {} MB", s.carnet.max_upload_bytes / (1024 * 1024)));
    let mut csrf = String::new();
    let mut file = None;
    loop {
        let field = match mp.next_field().await {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => return Err(too_big()),
            Err(_) => return Err(AppError::field("file", "could not be read")),
        };
        match field.name() {
            Some("csrf") => csrf = field.text().await.unwrap_or_default(),
            Some("file") => {
                let name = field.file_name().unwrap_or("").to_string();
                let ctype = field.content_type().unwrap_or("application/octet-stream").to_string();
                let bytes = field.bytes().await.map_err(|_| too_big())?;
                file = Some((name, ctype, bytes.to_vec()));
            }
            _ => {}
        }
    }
    Ok((csrf, file))
}

/// Types a browser may show inline without risk; everything else downloads.
fn safe_type(t: &str) -> &str {
    match t {
        "image/png" | "image/jpeg" | "image/gif" | "image/webp" | "application/pdf" | "text/plain" => t,
        _ => "application/octet-stream",
    }
}

/// A file to download: its name in both header forms, a type that cannot run
/// as a page, no caching.
pub fn file_response(name: &str, content_type: &str, bytes: Vec<u8>) -> Response {
    let ascii: String = name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || ".-_ ".contains(c) { c } else { '_' })
        .collect();
    let disposition = format!(
        "attachment; filename=\"{ascii}\"; filename*=UTF-8''{}",
        carnet_domain::values::url_encode(name).replace('+', "%20")
    );
    (
        [
            (header::CONTENT_TYPE, safe_type(content_type).to_string()),
            (header::CONTENT_DISPOSITION, disposition),
            (header::CONTENT_SECURITY_POLICY, "sandbox; default-src 'none'".to_string()),
            (header::CACHE_CONTROL, "private, no-store".to_string()),
        ],
        bytes,
    )
        .into_response()
}
