//! Calendar subscriptions and downloads (A3). The feed is public but private:
//! its URL carries a random token (stored hashed, revocable); anything else is a
//! plain 404.

use super::{OrPage, PageResult};
use crate::auth::PageUser;
use crate::AppState;
use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use carnet_app::agenda::calendar;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/calendar/{file}", get(feed))
        .route("/agenda/actions/{id}/event.ics", get(download))
}

fn ics(body: String, filename: Option<&str>) -> Response {
    let mut r = (
        [
            (header::CONTENT_TYPE, "text/calendar; charset=utf-8"),
            (header::CACHE_CONTROL, "private, max-age=300"),
        ],
        body,
    )
        .into_response();
    if let Some(f) = filename {
        r.headers_mut().insert(
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{f}\"").parse().unwrap(),
        );
    }
    r
}

async fn feed(State(s): State<AppState>, Path(file): Path<String>) -> Response {
    let Some(token) = file.strip_suffix(".ics") else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let db = &s.carnet.db;
    let result = async {
        let Some(user_id) = calendar::user_for(db, token).await? else {
            return Ok(None);
        };
        let user = carnet_app::access::users::get(db, user_id).await?;
        let host = calendar::instance_id(db).await?;
        Ok::<_, carnet_app::AppError>(Some(calendar::feed(db, user_id, &format!("Carnet — {}", user.name), &host).await?))
    }
    .await;
    match result {
        Ok(Some(body)) => ics(body, None),
        Ok(None) => StatusCode::NOT_FOUND.into_response(),
        Err(e) => crate::error::ApiError(e).into_response(),
    }
}

async fn download(State(s): State<AppState>, PageUser(v): PageUser, Path(id): Path<i64>) -> PageResult {
    let host = calendar::instance_id(&s.carnet.db).await.or_page(&v)?;
    let body = calendar::one(&s.carnet.db, id, &host).await.or_page(&v)?;
    Ok(ics(body, Some(&format!("action-{id}.ics"))))
}

/// The subscription URL for a token, built from the public address (never
/// from the request's `Host` header, which anyone can set).
pub fn feed_url(s: &AppState, token: &str) -> Result<String, carnet_app::AppError> {
    Ok(s.carnet.site()?.url(&format!("/calendar/{token}.ics")))
}
