//! The website tracker's public side (SPEC M5): the script a company puts on
//! its site and the endpoint its hits go to. A hit is checked, queued for the
//! group writer and answered at once; a browser that asks not to be tracked
//! (`DNT: 1`, `Sec-GPC: 1`) is answered the same and nothing is kept.

use crate::error::ApiError;
use crate::AppState;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, DefaultBodyLimit, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use carnet_app::marketing::tracking::{self, Outcome, RawHit};
use carnet_app::AppError;
use std::net::SocketAddr;

/// The largest hit read (an address of 2,048 characters and a title fit).
pub const HIT_LIMIT: usize = 8 * 1024;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/t/carnet.js", get(script))
        .route("/t/hit", post(hit).options(preflight).layer(DefaultBodyLimit::max(HIT_LIMIT)))
}

/// The tracker script (about 1.4 KB gzipped, no dependency).
pub const SCRIPT: &str = include_str!("../../assets/tracker.js");

async fn script() -> Response {
    (
        [
            (header::CONTENT_TYPE, "application/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        SCRIPT,
    )
        .into_response()
}

fn origin_of(headers: &HeaderMap) -> Option<String> {
    headers
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok())
        .filter(|o| *o != "null")
        .map(|o| o.trim_end_matches('/').to_ascii_lowercase())
}

/// The hit endpoint answers any page (it returns nothing a page could read
/// about anyone); which origins may send is checked per site.
fn cors(headers: &HeaderMap, mut r: Response) -> Response {
    if let Some(v) = origin_of(headers).and_then(|o| HeaderValue::from_str(&o).ok()) {
        let h = r.headers_mut();
        h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, v);
        h.insert(header::VARY, HeaderValue::from_static("Origin"));
        h.insert(header::ACCESS_CONTROL_ALLOW_METHODS, HeaderValue::from_static("POST"));
        h.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, HeaderValue::from_static("Content-Type"));
        h.insert(header::ACCESS_CONTROL_MAX_AGE, HeaderValue::from_static("86400"));
    }
    r
}

async fn preflight(headers: HeaderMap) -> Response {
    cors(&headers, StatusCode::NO_CONTENT.into_response())
}

fn private(headers: &HeaderMap) -> bool {
    let set = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).is_some_and(|v| v.trim() == "1");
    set("dnt") || set("sec-gpc")
}

async fn hit(State(s): State<AppState>, ConnectInfo(addr): ConnectInfo<SocketAddr>, headers: HeaderMap, body: Bytes) -> Response {
    let answer = match s
        .api_throttle
        .take(&format!("track:{}", addr.ip()), s.api_limits.tracker_per_address)
    {
        Err(_) => ApiError(AppError::TooManyRequests).into_response(),
        Ok(()) => match serde_json::from_slice::<RawHit>(&body) {
            Err(e) => ApiError(AppError::field("body", format!("is not a hit: {e}"))).into_response(),
            Ok(raw) => match tracking::collect(&s.carnet, &raw, origin_of(&headers).as_deref(), private(&headers)).await {
                Ok(Outcome::Queued | Outcome::Dropped(_)) => StatusCode::NO_CONTENT.into_response(),
                Ok(Outcome::Busy) => ApiError(AppError::Unavailable("busy: the hit was not kept".into())).into_response(),
                Err(e) => ApiError(e).into_response(),
            },
        },
    };
    cors(&headers, answer)
}
