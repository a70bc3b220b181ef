//! What stands before every API handler: the rate limit per caller (API key
//! or session) and per address, and the replay of writes sent again with the
//! same `Idempotency-Key`.

use crate::auth::{cookie_value, ApiUser, SESSION_COOKIE};
use crate::error::ApiError;
use crate::ratelimit::Quota;
use crate::AppState;
use axum::body::{to_bytes, Body};
use axum::extract::{ConnectInfo, FromRequestParts, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use carnet_app::access::token_hash;
use carnet_app::platform::idempotency::{self, Answer, Claim};
use carnet_app::AppError;
use carnet_domain::access::Permission;
use std::net::SocketAddr;

pub const IDEMPOTENCY_KEY: &str = "idempotency-key";
/// Set on an answer given again for a replayed `Idempotency-Key`.
pub const REPLAYED: &str = "idempotent-replayed";

/// How many API requests a caller may send.
#[derive(Debug, Clone, Copy)]
pub struct ApiLimits {
    /// Per API key or session.
    pub per_caller: Quota,
    /// Per client address, whoever calls from it (signed in or not).
    pub per_address: Quota,
    /// Website tracker hits per client address: a browsing person sends a few
    /// a minute; an office behind one address, a few hundred.
    pub tracker_per_address: Quota,
}

impl Default for ApiLimits {
    /// 600 a minute per caller, 1,200 per address.
    fn default() -> Self {
        ApiLimits::per_minute(600)
    }
}

impl ApiLimits {
    /// No limit (benchmarks measure the server, not the limiter).
    pub const OFF: ApiLimits = ApiLimits {
        per_caller: Quota { per_minute: 0, burst: 0 },
        per_address: Quota { per_minute: 0, burst: 0 },
        tracker_per_address: Quota { per_minute: 0, burst: 0 },
    };

    /// The same pace per caller, twice as much per address.
    pub fn per_minute(n: u32) -> ApiLimits {
        ApiLimits {
            per_caller: Quota::per_minute(n),
            per_address: Quota::per_minute(n.saturating_mul(2)),
            tracker_per_address: Quota {
                per_minute: 600,
                burst: 120,
            },
        }
    }
}

pub async fn guard(State(s): State<AppState>, req: Request, next: Next) -> Response {
    if let Err(wait) = throttle(&s, &req) {
        let mut res = ApiError(AppError::TooManyRequests).into_response();
        let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
        res.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(secs.max(1)));
        return res;
    }
    let write = matches!(*req.method(), Method::POST | Method::PUT | Method::PATCH | Method::DELETE);
    match req.headers().get(IDEMPOTENCY_KEY) {
        Some(key) if write => {
            let key = key.to_str().ok().filter(|k| valid_key(k)).map(str::to_string);
            match key {
                Some(key) => idempotent(s, req, next, key).await,
                None => ApiError(AppError::field(
                    "Idempotency-Key",
                    "must be 1 to 255 visible ASCII characters (a UUID, say)",
                ))
                .into_response(),
            }
        }
        _ => next.run(req).await,
    }
}

/// Checks an operation's permission before its body is read: a caller without
/// it gets 403 whatever they sent. The viewer is handed on to the handler.
pub async fn require(State((s, p)): State<(AppState, Permission)>, req: Request, next: Next) -> Response {
    let (mut parts, body) = req.into_parts();
    match ApiUser::from_request_parts(&mut parts, &s).await {
        Err(e) => e.into_response(),
        Ok(ApiUser(v)) => match v.require(p) {
            Err(e) => ApiError(e).into_response(),
            Ok(()) => {
                parts.extensions.insert(v);
                next.run(Request::from_parts(parts, body)).await
            }
        },
    }
}

fn valid_key(k: &str) -> bool {
    (1..=255).contains(&k.len()) && k.bytes().all(|b| b.is_ascii_graphic())
}

/// Takes one request from the address's and the caller's allowances.
fn throttle(s: &AppState, req: &Request) -> Result<(), std::time::Duration> {
    if let Some(ConnectInfo(addr)) = req.extensions().get::<ConnectInfo<SocketAddr>>() {
        s.api_throttle.take(&format!("addr:{}", addr.ip()), s.api_limits.per_address)?;
    }
    if let Some(caller) = caller(req.headers()) {
        s.api_throttle.take(&caller, s.api_limits.per_caller)?;
    }
    Ok(())
}

/// Who calls, without a database read: the API key or the session cookie,
/// hashed (a wrong key is limited like a right one).
fn caller(h: &HeaderMap) -> Option<String> {
    if let Some(auth) = h.get(header::AUTHORIZATION) {
        return Some(format!("key:{}", token_hash(auth.to_str().unwrap_or("?"))));
    }
    cookie_value(h, SESSION_COOKIE).map(|c| format!("session:{}", token_hash(&c)))
}

async fn idempotent(s: AppState, req: Request, next: Next, key: String) -> Response {
    let (mut parts, body) = req.into_parts();
    let user = match ApiUser::from_request_parts(&mut parts, &s).await {
        Ok(ApiUser(v)) => {
            let id = v.user.id;
            // Handed on: the handler does not authenticate the caller again.
            parts.extensions.insert(v);
            id
        }
        Err(e) => return e.into_response(),
    };
    let Ok(bytes) = to_bytes(body, crate::API_BODY_LIMIT).await else {
        return ApiError(AppError::PayloadTooLarge).into_response();
    };
    let target = parts.uri.path_and_query().map(|p| p.as_str()).unwrap_or("");
    let fingerprint = idempotency::fingerprint(parts.method.as_str(), target, &bytes);
    let db = &s.carnet.db;
    match idempotency::claim(db, user, &key, &fingerprint).await {
        Err(e) => ApiError(e).into_response(),
        Ok(Claim::Replay(a)) => replay(a),
        Ok(Claim::Reused) => ApiError(AppError::field(
            "Idempotency-Key",
            "was already used for another request (another method, path or body)",
        ))
        .into_response(),
        Ok(Claim::InProgress) => {
            let mut res = ApiError(AppError::Conflict(
                "A request with this Idempotency-Key is still running; retry in a moment.".into(),
            ))
            .into_response();
            res.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(1));
            res
        }
        Ok(Claim::Fresh) => {
            let res = next.run(Request::from_parts(parts, Body::from(bytes))).await;
            finish(db, user, &key, res).await
        }
    }
}

/// Keeps the first answer, unless a retry should run again: a server error,
/// a refused caller, a rate limit.
async fn finish(db: &carnet_app::Db, user: i64, key: &str, res: Response) -> Response {
    let status = res.status();
    let replayable = !(status.is_server_error()
        || matches!(
            status,
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN | StatusCode::TOO_MANY_REQUESTS
        ));
    let (parts, body) = res.into_parts();
    let bytes = match to_bytes(body, usize::MAX).await {
        Ok(b) => b,
        Err(e) => {
            let _ = idempotency::release(db, user, key).await;
            return ApiError(AppError::internal(e)).into_response();
        }
    };
    let text = replayable.then(|| String::from_utf8(bytes.to_vec()).ok()).flatten();
    let kept = match text {
        Some(body) => {
            let header = |h: header::HeaderName| parts.headers.get(h).and_then(|v| v.to_str().ok()).map(str::to_string);
            let answer = Answer {
                status: status.as_u16(),
                content_type: header(header::CONTENT_TYPE),
                location: header(header::LOCATION),
                etag: header(header::ETAG),
                body,
            };
            idempotency::keep(db, user, key, &answer).await
        }
        None => idempotency::release(db, user, key).await,
    };
    if let Err(e) = kept {
        tracing::error!(error = %e, "could not keep an idempotent answer");
    }
    Response::from_parts(parts, Body::from(bytes))
}

fn replay(a: Answer) -> Response {
    let mut res = Response::new(Body::from(a.body));
    *res.status_mut() = StatusCode::from_u16(a.status).unwrap_or(StatusCode::OK);
    let h = res.headers_mut();
    for (name, value) in [
        (header::CONTENT_TYPE, a.content_type),
        (header::LOCATION, a.location),
        (header::ETAG, a.etag),
    ] {
        if let Some(v) = value.and_then(|v| HeaderValue::from_str(&v).ok()) {
            h.insert(name, v);
        }
    }
    h.insert(REPLAYED, HeaderValue::from_static("true"));
    res
}
