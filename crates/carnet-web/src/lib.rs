//! Carnet's HTTP layer. Thin handlers: extract, call one service of
//! `carnet-app`, map the result to a page (askama templates) or to JSON. Pages
//! and the API share the services, the error type and the permission checks.

#![recursion_limit = "512"]

pub mod api;
pub mod auth;
pub mod charts;
pub mod error;
pub mod kinds;
pub mod pages;
pub mod ratelimit;

use axum::extract::{DefaultBodyLimit, Request};
use axum::http::{header, HeaderValue};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use carnet_app::Carnet;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

#[derive(Clone)]
pub struct AppState {
    pub carnet: Carnet,
    pub login_limiter: Arc<ratelimit::Limiter>,
    /// Public submissions (bookings, forms) per address.
    pub public_limiter: Arc<ratelimit::Limiter>,
    /// Set when Carnet is served over TLS (directly or behind a proxy): cookies get `Secure`.
    pub secure_cookies: bool,
    /// The API's pace per caller and per address, and where it is counted.
    pub api_limits: api::guard::ApiLimits,
    pub api_throttle: Arc<ratelimit::Throttle>,
    /// When set (the test suite), every API answer is checked against the OpenAPI document.
    pub contract: Option<Arc<api::contract::Contract>>,
}

/// The largest JSON body the API reads.
pub const API_BODY_LIMIT: usize = 2 * 1024 * 1024;

impl AppState {
    pub fn new(carnet: Carnet, secure_cookies: bool) -> Self {
        AppState {
            carnet,
            login_limiter: Arc::new(ratelimit::Limiter::new(10, 15 * 60)),
            public_limiter: Arc::new(ratelimit::Limiter::new(30, 10 * 60)),
            secure_cookies,
            api_limits: api::guard::ApiLimits::default(),
            api_throttle: Arc::new(ratelimit::Throttle::default()),
            contract: None,
        }
    }

    /// Checks every API answer against the document (see [`api::contract`]).
    pub fn with_contract(mut self, contract: Arc<api::contract::Contract>) -> Self {
        self.contract = Some(contract);
        self
    }

    /// With another API rate limit (see [`api::guard::ApiLimits`]).
    pub fn with_api_limits(mut self, limits: api::guard::ApiLimits) -> Self {
        self.api_limits = limits;
        self
    }

    /// With a public base URL: every link Carnet hands out is built from it
    /// (it is the Carnet's, shared by every server of the process).
    pub fn with_public_url(self, url: Option<String>) -> Self {
        if let Some(u) = url {
            self.carnet.set_public_url(&u);
        }
        self
    }
}

/// The whole application: pages, API, assets, health.
pub fn router(state: AppState) -> Router {
    let upload_limit = state.carnet.max_upload_bytes + 1024 * 1024;
    Router::new()
        .route("/healthz", get(healthz))
        .merge(pages::router(upload_limit))
        .nest(
            "/api/v1",
            api::router(&state).layer(middleware::from_fn_with_state(state.clone(), api::guard::guard)),
        )
        .route("/api/openapi.json", get(api::openapi::document))
        .fallback(error::fallback)
        .layer(middleware::from_fn_with_state(state.clone(), api::contract::check_answers))
        .layer(DefaultBodyLimit::max(API_BODY_LIMIT))
        .layer(middleware::from_fn(catch_panics))
        .layer(middleware::from_fn(security_headers))
        .with_state(state)
}

async fn healthz(axum::extract::State(s): axum::extract::State<AppState>) -> Response {
    use axum::response::IntoResponse;
    let ok = match s.carnet.db.conn().await {
        Ok(mut c) => carnet_app::db::q("SELECT 1").scalar::<i32>(&mut c).await.is_ok(),
        Err(_) => false,
    };
    if ok {
        (axum::http::StatusCode::OK, "ok").into_response()
    } else {
        (axum::http::StatusCode::SERVICE_UNAVAILABLE, "database unreachable").into_response()
    }
}

/// One span per request, and headers that keep pages from being framed,
/// sniffed or made to run foreign scripts.
async fn security_headers(req: Request, next: Next) -> Response {
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let started = Instant::now();
    let span = tracing::info_span!("request", %method, path = %path);
    let mut res = tracing::Instrument::instrument(next.run(req), span.clone()).await;
    let h = res.headers_mut();
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    h.entry(header::CONTENT_SECURITY_POLICY).or_insert(HeaderValue::from_static(
        "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; script-src 'self'; object-src 'none'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'",
    ));
    tracing::info!(parent: &span, status = res.status().as_u16(), ms = started.elapsed().as_millis() as u64, "handled");
    res
}

/// The last guard: a handler that panics answers 500 (the API's JSON error, or
/// the error page), and the panic is logged; the server keeps serving.
async fn catch_panics(req: Request, next: Next) -> Response {
    use futures_util::FutureExt;
    let api = req.uri().path().starts_with("/api/");
    match std::panic::AssertUnwindSafe(next.run(req)).catch_unwind().await {
        Ok(res) => res,
        Err(panic) => {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_default();
            tracing::error!(panic = %what, "a request handler panicked");
            if api {
                use axum::response::IntoResponse;
                error::ApiError(carnet_app::AppError::internal(what)).into_response()
            } else {
                pages::error_page(axum::http::StatusCode::INTERNAL_SERVER_ERROR, None, "error.title")
            }
        }
    }
}

/// Serves until the future `shutdown` completes.
pub async fn serve(
    state: AppState,
    listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(state).into_make_service_with_connect_info::<SocketAddr>())
        .with_graceful_shutdown(shutdown)
        .await
}
