//! The JSON REST API (SPEC D3): `/api/v1/...`, authenticated by API key or
//! session, with one error body and cursor pagination. Each module lists its
//! operations ([`openapi::Op`]): the router and the OpenAPI document are both
//! built from that list.

mod agenda;
pub mod contract;
pub mod guard;
mod mail;
pub mod marketing;
pub mod metrics;
pub mod openapi;
mod records;
mod sales;
mod settings;
pub mod types;

use crate::error::ApiError;
use crate::AppState;
use axum::Router;
use carnet_app::AppError;

/// Every operation of the API, module by module.
pub fn ops() -> Vec<openapi::Op> {
    [
        records::ops(),
        settings::ops(),
        sales::ops(),
        agenda::ops(),
        metrics::ops(),
        mail::ops(),
        marketing::ops(),
    ]
    .into_iter()
    .flatten()
    .collect()
}

/// The API's router, built from [`ops`]: what is served is what is documented.
/// An operation that needs a permission checks it before reading the request.
pub fn router(state: &AppState) -> Router<AppState> {
    ops().into_iter().fold(Router::new(), |r, op| {
        let handler = match op.permission {
            Some(p) => op
                .handler
                .route_layer(axum::middleware::from_fn_with_state((state.clone(), p), guard::require)),
            None => op.handler,
        };
        r.route(op.path, handler)
    })
}

/// A path parameter of the API. A value that does not parse — an id that is not
/// a number, or out of range — names no resource: 404 in the JSON error shape
/// (the framework's own rejection is a plain-text 400).
pub struct Path<T>(pub T);

impl<S: Send + Sync, T: serde::de::DeserializeOwned + Send> axum::extract::FromRequestParts<S> for Path<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(v)) => Ok(Path(v)),
            Err(_) => Err(AppError::NotFound.into()),
        }
    }
}

/// Query parameters read into `T`; one that does not parse answers 422 naming it
/// (the framework's own rejection is a plain-text 400).
pub struct Query<T>(pub T);

impl<S: Send + Sync, T: serde::de::DeserializeOwned> axum::extract::FromRequestParts<S> for Query<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, _: &S) -> Result<Self, Self::Rejection> {
        let query = parts.uri.query().unwrap_or_default();
        match serde_path_to_error::deserialize(serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()))) {
            Ok(v) => Ok(Query(v)),
            Err(e) => {
                let field = e.path().to_string();
                let field = if field == "." { "query".to_string() } else { field };
                let reason = e.inner().to_string();
                let reason = match reason.as_str() {
                    r if r.starts_with("invalid digit") || r.starts_with("number too large") || r.starts_with("cannot parse integer") => {
                        "must be a whole number".to_string()
                    }
                    r if r.starts_with("unknown field") => "is not a known parameter".to_string(),
                    r => r.to_string(),
                };
                let field = match e.inner().to_string().strip_prefix("unknown field `") {
                    Some(rest) => rest.split('`').next().unwrap_or_default().to_string(),
                    None => field,
                };
                Err(AppError::field(&field, reason).into())
            }
        }
    }
}
