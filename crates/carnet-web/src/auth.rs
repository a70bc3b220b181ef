//! Who is asking: a browser session (cookie + CSRF token on every form) or an
//! API key (`Authorization: Bearer`). Permissions are checked per route.

use crate::error::ApiError;
use crate::AppState;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, Method};
use axum::response::{IntoResponse, Redirect, Response};
use carnet_app::access::{keys, sessions, User};
use carnet_app::AppError;
use carnet_domain::access::Permission;

pub const SESSION_COOKIE: &str = "carnet_session";
pub const CSRF_FIELD: &str = "csrf";
pub const CSRF_HEADER: &str = "x-csrf-token";

/// The signed-in user and, for sessions, the CSRF token forms must carry.
#[derive(Debug, Clone)]
pub struct Viewer {
    pub user: User,
    pub csrf: String,
    pub via_api_key: bool,
}

impl Viewer {
    pub fn require(&self, p: Permission) -> Result<(), AppError> {
        if self.user.role.can(p) {
            Ok(())
        } else {
            Err(AppError::Forbidden)
        }
    }
    pub fn can(&self, p: Permission) -> bool {
        self.user.role.can(p)
    }
}

pub fn cookie_value(headers: &axum::http::HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}

pub fn session_cookie(token: &str, secure: bool) -> String {
    format!(
        "{SESSION_COOKIE}={token}; Path=/; HttpOnly; SameSite=Lax; Max-Age={}{}",
        sessions::SESSION_DAYS * 86_400,
        if secure { "; Secure" } else { "" }
    )
}

pub fn clear_cookie(secure: bool) -> String {
    format!(
        "{SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0{}",
        if secure { "; Secure" } else { "" }
    )
}

async fn from_session(parts: &Parts, state: &AppState) -> Result<Option<Viewer>, AppError> {
    let Some(token) = cookie_value(&parts.headers, SESSION_COOKIE) else {
        return Ok(None);
    };
    Ok(sessions::lookup(&state.carnet.db, &token).await?.map(|(user, csrf)| Viewer {
        user,
        csrf,
        via_api_key: false,
    }))
}

/// A signed-in browser user; anyone else is sent to the login page.
pub struct PageUser(pub Viewer);

impl FromRequestParts<AppState> for PageUser {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        match from_session(parts, state).await {
            Ok(Some(v)) => Ok(PageUser(v)),
            Ok(None) => {
                let next = parts.uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
                let target = if parts.method == Method::GET { next } else { "/" };
                Err(Redirect::to(&format!("/login?next={}", carnet_domain::values::url_encode(target))).into_response())
            }
            Err(e) => Err(crate::pages::app_error_page(e, None)),
        }
    }
}

/// An API caller: an API key, or a browser session whose unsafe requests carry
/// the CSRF token in `X-CSRF-Token`.
pub struct ApiUser(pub Viewer);

impl FromRequestParts<AppState> for ApiUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        // Already authenticated by a permission check before the handler.
        if let Some(v) = parts.extensions.get::<Viewer>() {
            return Ok(ApiUser(v.clone()));
        }
        if let Some(auth) = parts.headers.get(header::AUTHORIZATION) {
            let key = auth
                .to_str()
                .ok()
                .and_then(|v| v.strip_prefix("Bearer "))
                .ok_or(ApiError(AppError::Unauthorized))?;
            return match keys::authenticate(&state.carnet.db, key).await? {
                Some(user) => Ok(ApiUser(Viewer {
                    user,
                    csrf: String::new(),
                    via_api_key: true,
                })),
                None => Err(ApiError(AppError::Unauthorized)),
            };
        }
        let v = from_session(parts, state).await?.ok_or(ApiError(AppError::Unauthorized))?;
        let safe = matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS);
        if !safe {
            let sent = parts.headers.get(CSRF_HEADER).and_then(|h| h.to_str().ok()).unwrap_or("");
            if !constant_time_eq(sent.as_bytes(), v.csrf.as_bytes()) {
                return Err(ApiError(AppError::Forbidden));
            }
        }
        Ok(ApiUser(v))
    }
}

pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
