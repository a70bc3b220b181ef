//! The public side of email: the open pixel, click redirects and the
//! unsubscribe page and its one-click POST (RFC 8058). No session: the signed
//! token in the link is the only key, and a forged or unknown one is a 404.

use super::{browser_fmt, render, render_status, Layout};
use crate::AppState;
use askama::Template;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, DefaultBodyLimit, Path, State};
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use carnet_app::mail::{compose, suppression, tracking};
use carnet_app::AppError;
use std::net::SocketAddr;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/t/o/{token}", get(open))
        .route("/t/c/{token}", get(click))
        .route(
            "/u/{token}",
            get(unsubscribe_page).post(unsubscribe_post).layer(DefaultBodyLimit::max(4 * 1024)),
        )
}

/// A transparent 1×1 GIF.
const PIXEL: &[u8] = &[
    0x47, 0x49, 0x46, 0x38, 0x39, 0x61, 0x01, 0x00, 0x01, 0x00, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0x21, 0xf9, 0x04,
    0x01, 0x00, 0x00, 0x00, 0x00, 0x2c, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x02, 0x02, 0x44, 0x01, 0x00, 0x3b,
];

fn hit<'a>(method: &Method, headers: &'a HeaderMap, addr: &'a str) -> tracking::Hit<'a> {
    tracking::Hit {
        user_agent: headers.get(header::USER_AGENT).and_then(|v| v.to_str().ok()),
        address: Some(addr),
        head: method == Method::HEAD,
    }
}

fn not_found(headers: &HeaderMap) -> Response {
    super::error_page(StatusCode::NOT_FOUND, Some(browser_fmt(headers)), "error.not_found")
}

async fn open(
    State(s): State<AppState>,
    method: Method,
    headers: HeaderMap,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    Path(token): Path<String>,
) -> Response {
    let ip = addr.ip().to_string();
    match tracking::open(&s.carnet, &token, &hit(&method, &headers, &ip)).await {
        Ok(()) => (
            [(header::CONTENT_TYPE, "image/gif"), (header::CACHE_CONTROL, "no-store, private")],
            PIXEL,
        )
            .into_response(),
        Err(AppError::NotFound) => not_found(&headers),
        Err(e) => super::app_error_page(e, None),
    }
}

async fn click(
    State(s): State<AppState>,
    method: Method,
    headers: HeaderMap,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    Path(token): Path<String>,
) -> Response {
    let ip = addr.ip().to_string();
    match tracking::click(&s.carnet, &token, &hit(&method, &headers, &ip)).await {
        Ok(url) => (
            StatusCode::FOUND,
            [(header::LOCATION, url), (header::CACHE_CONTROL, "no-store, private".into())],
        )
            .into_response(),
        Err(AppError::NotFound) => not_found(&headers),
        Err(e) => super::app_error_page(e, None),
    }
}

#[derive(Template)]
#[template(path = "unsubscribe.html")]
struct UnsubscribePage {
    l: Layout,
    address: String,
    done: bool,
    kept: bool,
}

async fn address_of(s: &AppState, token: &str) -> Option<(i64, String)> {
    let site = s.carnet.site().ok()?;
    let id = compose::read_unsubscribe(&site, token)?;
    let e = carnet_app::mail::outbox::get(&s.carnet.db, id).await.ok()?;
    Some((id, e.to_address))
}

/// The link in the body: a page that says what unsubscribing does and asks.
async fn unsubscribe_page(State(s): State<AppState>, headers: HeaderMap, Path(token): Path<String>) -> Response {
    let Some((_, address)) = address_of(&s, &token).await else {
        return not_found(&headers);
    };
    let fmt = browser_fmt(&headers);
    render(&UnsubscribePage {
        l: Layout::anonymous(fmt, fmt.t("unsub.title")),
        address,
        done: false,
        kept: false,
    })
}

/// The one-click POST of a mail client (`List-Unsubscribe=One-Click`): done at
/// once, no further step; or the page's form (`choice=unsubscribe|keep`).
async fn unsubscribe_post(State(s): State<AppState>, headers: HeaderMap, Path(token): Path<String>, body: Bytes) -> Response {
    let Some((id, address)) = address_of(&s, &token).await else {
        return not_found(&headers);
    };
    let pairs: Vec<(String, String)> = form_urlencoded::parse(&body).into_owned().collect();
    let value = |k: &str| pairs.iter().find(|(key, _)| key == k).map(|(_, v)| v.as_str());
    // RFC 8058: `List-Unsubscribe=One-Click`, form-encoded or as a multipart field.
    let one_click = value("List-Unsubscribe") == Some("One-Click") || {
        let text = String::from_utf8_lossy(&body);
        text.contains("List-Unsubscribe") && text.contains("One-Click")
    };
    let keep = value("choice") == Some("keep");
    if !keep {
        let source = if one_click { "one_click" } else { "page" };
        if let Err(e) = suppression::unsubscribe(&s.carnet.db, id, source).await {
            return super::app_error_page(e, None);
        }
    }
    if one_click {
        return (StatusCode::OK, "unsubscribed").into_response();
    }
    let fmt = browser_fmt(&headers);
    render_status(
        StatusCode::OK,
        &UnsubscribePage {
            l: Layout::anonymous(fmt, fmt.t("unsub.title")),
            address,
            done: !keep,
            kept: keep,
        },
    )
}
