//! Signing in and out, and the one-time creation of the first administrator.

use super::{browser_fmt, render, render_status, see_other, Layout, PageResult};
use crate::auth::{clear_cookie, cookie_value, session_cookie, SESSION_COOKIE};
use crate::AppState;
use askama::Template;
use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::Response;
use axum::Form;
use carnet_app::access::{random_token, sessions, users};
use carnet_app::AppError;
use carnet_domain::FieldErrors;
use std::net::SocketAddr;

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    l: Layout,
    email: String,
    next: String,
    error: Option<String>,
    /// The sign-in form's own CSRF token, also in the `carnet_login` cookie.
    csrf: String,
}

/// The cookie that carries the sign-in form's token (double submit): a foreign
/// page can post the form but can neither read nor set this cookie, so it cannot
/// sign a visitor into another account.
const LOGIN_COOKIE: &str = "carnet_login";

/// A sign-in page with a fresh form token, and the cookie that matches it.
fn login_page(s: &AppState, status: StatusCode, page: LoginPage) -> Response {
    let cookie = format!(
        "{LOGIN_COOKIE}={}; Path=/login; HttpOnly; SameSite=Strict; Max-Age=3600{}",
        page.csrf,
        if s.secure_cookies { "; Secure" } else { "" }
    );
    let mut r = render_status(status, &page);
    if let Ok(v) = cookie.parse() {
        r.headers_mut().append(header::SET_COOKIE, v);
    }
    r
}

#[derive(serde::Deserialize)]
pub struct NextParam {
    next: Option<String>,
}

/// Only local paths are followed after login, never another site.
fn safe_next(n: Option<&str>) -> String {
    n.and_then(super::local_path).unwrap_or("/").to_string()
}

pub async fn login_form(State(s): State<AppState>, headers: HeaderMap, Query(p): Query<NextParam>) -> Response {
    let fmt = browser_fmt(&headers);
    login_page(
        &s,
        StatusCode::OK,
        LoginPage {
            l: Layout::anonymous(fmt, fmt.t("login.title")),
            email: String::new(),
            next: safe_next(p.next.as_deref()),
            error: None,
            csrf: random_token(),
        },
    )
}

#[derive(serde::Deserialize)]
pub struct LoginForm {
    email: String,
    password: String,
    next: Option<String>,
    csrf: Option<String>,
}

pub async fn login(
    State(s): State<AppState>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Form(f): Form<LoginForm>,
) -> PageResult {
    let fmt = browser_fmt(&headers);
    let ip_key = format!("ip:{}", addr.ip());
    let email_key = format!("email:{}", f.email.trim().to_lowercase());
    let page = |error: &str, status| {
        login_page(
            &s,
            status,
            LoginPage {
                l: Layout::anonymous(fmt, fmt.t("login.title")),
                email: f.email.clone(),
                next: safe_next(f.next.as_deref()),
                error: Some(fmt.t(error).into()),
                csrf: random_token(),
            },
        )
    };
    // The form must come from this site's sign-in page (its cookie and token).
    let expected = cookie_value(&headers, LOGIN_COOKIE).unwrap_or_default();
    let sent = f.csrf.as_deref().unwrap_or_default();
    if expected.is_empty() || !crate::auth::constant_time_eq(expected.as_bytes(), sent.as_bytes()) {
        return Ok(page("error.csrf", StatusCode::FORBIDDEN));
    }
    if !s.login_limiter.allowed(&ip_key) || !s.login_limiter.allowed(&email_key) {
        return Ok(page("login.throttled", StatusCode::TOO_MANY_REQUESTS));
    }
    let user = users::verify_login(&s.carnet.db, &f.email, &f.password)
        .await
        .map_err(|e| super::PageError::new(super::app_error_page(e, None)))?;
    let Some(user) = user else {
        s.login_limiter.fail(&ip_key);
        s.login_limiter.fail(&email_key);
        return Ok(page("login.failed", StatusCode::UNAUTHORIZED));
    };
    s.login_limiter.clear(&email_key);
    let sess = sessions::create(&s.carnet.db, user.id)
        .await
        .map_err(|e| super::PageError::new(super::app_error_page(e, None)))?;
    let mut r = see_other(&safe_next(f.next.as_deref()));
    r.headers_mut()
        .insert(header::SET_COOKIE, session_cookie(&sess.token, s.secure_cookies).parse().unwrap());
    Ok(r)
}

pub async fn logout(State(s): State<AppState>, headers: HeaderMap) -> Response {
    // Logging out needs no CSRF token: the worst a forged request can do is sign
    // someone out. The session row is deleted, not just the cookie.
    if let Some(token) = cookie_value(&headers, SESSION_COOKIE) {
        let _ = sessions::delete(&s.carnet.db, &token).await;
    }
    let mut r = see_other("/login");
    r.headers_mut()
        .insert(header::SET_COOKIE, clear_cookie(s.secure_cookies).parse().unwrap());
    r
}

#[derive(Template)]
#[template(path = "setup.html")]
struct SetupPage {
    l: Layout,
    token: String,
    email: String,
    name: String,
    errors: FieldErrors,
}

#[derive(serde::Deserialize)]
pub struct TokenParam {
    token: Option<String>,
}

pub async fn setup_form(State(s): State<AppState>, headers: HeaderMap, Query(p): Query<TokenParam>) -> Response {
    let fmt = browser_fmt(&headers);
    let token = p.token.unwrap_or_default();
    match users::setup_token_valid(&s.carnet.db, &token).await {
        Ok(true) => render(&SetupPage {
            l: Layout::anonymous(fmt, fmt.t("setup.title")),
            token,
            email: String::new(),
            name: String::new(),
            errors: FieldErrors::new(),
        }),
        Ok(false) => super::error_page(StatusCode::FORBIDDEN, None, "setup.invalid"),
        Err(e) => super::app_error_page(e, None),
    }
}

#[derive(serde::Deserialize)]
pub struct SetupForm {
    token: String,
    email: String,
    name: String,
    password: String,
}

pub async fn setup(State(s): State<AppState>, headers: HeaderMap, Form(f): Form<SetupForm>) -> Response {
    let fmt = browser_fmt(&headers);
    let again = |errors: FieldErrors| {
        render_status(
            StatusCode::UNPROCESSABLE_ENTITY,
            &SetupPage {
                l: Layout::anonymous(fmt, fmt.t("setup.title")),
                token: f.token.clone(),
                email: f.email.clone(),
                name: f.name.clone(),
                errors,
            },
        )
    };
    let nu = match users::NewUser::parse(&f.email, &f.name, "admin", &f.password, "", "") {
        Ok(u) => u,
        Err(e) => return again(e),
    };
    match users::complete_setup(&s.carnet.db, &f.token, nu).await {
        Ok(user) => match sessions::create(&s.carnet.db, user.id).await {
            Ok(sess) => {
                let mut r = see_other("/");
                r.headers_mut()
                    .insert(header::SET_COOKIE, session_cookie(&sess.token, s.secure_cookies).parse().unwrap());
                r
            }
            Err(e) => super::app_error_page(e, None),
        },
        Err(AppError::Invalid(e)) => again(e),
        Err(AppError::Forbidden) => super::error_page(StatusCode::FORBIDDEN, None, "setup.invalid"),
        Err(e) => super::app_error_page(e, None),
    }
}

#[derive(Template)]
#[template(path = "password.html")]
struct PasswordPage {
    l: Layout,
    /// `forgot`, `choose` or `done`.
    mode: &'static str,
    email: String,
    error: Option<String>,
    message: Option<String>,
}

fn password_page(
    headers: &HeaderMap,
    status: StatusCode,
    mode: &'static str,
    email: String,
    error: Option<String>,
    message: Option<&str>,
) -> Response {
    let fmt = browser_fmt(headers);
    super::render_status(
        status,
        &PasswordPage {
            l: Layout::anonymous(fmt, fmt.t("password.forgot_title")),
            mode,
            email,
            error,
            message: message.map(|m| fmt.t(m).to_string()),
        },
    )
}

pub async fn forgot_form(headers: HeaderMap) -> Response {
    password_page(&headers, StatusCode::OK, "forgot", String::new(), None, None)
}

#[derive(serde::Deserialize)]
pub struct ForgotForm {
    email: String,
}

/// Sends a reset link when the address is an account's; answers the same either way.
pub async fn forgot(
    State(s): State<AppState>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Form(f): Form<ForgotForm>,
) -> Response {
    let ip_key = format!("reset:{}", addr.ip());
    if !s.login_limiter.allowed(&ip_key) {
        let fmt = browser_fmt(&headers);
        return password_page(
            &headers,
            StatusCode::TOO_MANY_REQUESTS,
            "forgot",
            f.email,
            Some(fmt.t("login.throttled").into()),
            None,
        );
    }
    // Each request counts against the address, so the form cannot be used to flood an inbox.
    s.login_limiter.fail(&ip_key);
    if let Err(e) = carnet_app::access::links::request_reset(&s.carnet.db, &f.email).await {
        return super::app_error_page(e, None);
    }
    password_page(&headers, StatusCode::OK, "done", String::new(), None, Some("password.sent"))
}

pub async fn choose_form(State(s): State<AppState>, headers: HeaderMap, Path(token): Path<String>) -> Response {
    match carnet_app::access::links::valid(&s.carnet.db, &token).await {
        Ok(Some(_)) => password_page(&headers, StatusCode::OK, "choose", String::new(), None, None),
        Ok(None) => {
            let fmt = browser_fmt(&headers);
            password_page(
                &headers,
                StatusCode::GONE,
                "forgot",
                String::new(),
                Some(fmt.t("password.invalid").into()),
                None,
            )
        }
        Err(e) => super::app_error_page(e, None),
    }
}

#[derive(serde::Deserialize)]
pub struct ChooseForm {
    password: String,
    confirm: String,
}

pub async fn choose(State(s): State<AppState>, headers: HeaderMap, Path(token): Path<String>, Form(f): Form<ChooseForm>) -> Response {
    let fmt = browser_fmt(&headers);
    match carnet_app::access::links::complete(&s.carnet.db, &token, &f.password, &f.confirm).await {
        Ok(_) => password_page(&headers, StatusCode::OK, "done", String::new(), None, Some("password.done")),
        Err(AppError::Invalid(e)) => password_page(
            &headers,
            StatusCode::UNPROCESSABLE_ENTITY,
            "choose",
            String::new(),
            Some(e.summary()),
            None,
        ),
        Err(AppError::Conflict(_)) => password_page(
            &headers,
            StatusCode::GONE,
            "forgot",
            String::new(),
            Some(fmt.t("password.invalid").into()),
            None,
        ),
        Err(e) => super::app_error_page(e, None),
    }
}
