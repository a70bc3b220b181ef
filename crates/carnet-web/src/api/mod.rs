//! The JSON REST API (SPEC D3): `/api/v1/...`, authenticated by API key or
//! session, with one error body and cursor pagination. Its routes are listed in
//! [`openapi::ROUTES`], which the OpenAPI document is built from.

mod agenda;
pub mod guard;
pub mod metrics;
pub mod openapi;
mod records;
mod sales;
mod settings;

use crate::error::ApiError;
use crate::kinds::{Accounts, Contacts, Opportunities};
use crate::AppState;
use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, Request};
use axum::routing::{delete, get, patch, post};
use axum::Router;
use carnet_app::AppError;
use serde_json::Value;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/me", get(settings::me))
        .route("/accounts", get(records::list::<Accounts>).post(records::create::<Accounts>))
        .route(
            "/accounts/{id}",
            get(records::get_one::<Accounts>)
                .patch(records::update::<Accounts>)
                .delete(records::remove::<Accounts>),
        )
        .route("/accounts/{id}/timeline", get(records::timeline::<Accounts>))
        .route("/accounts/{id}/comments", post(records::comment::<Accounts>))
        .route("/accounts/{id}/contacts", post(records::link_contact))
        .route("/accounts/{id}/contacts/{contact_id}", delete(records::unlink_contact))
        .route("/contacts", get(records::list::<Contacts>).post(records::create::<Contacts>))
        .route(
            "/contacts/{id}",
            get(records::get_one::<Contacts>)
                .patch(records::update::<Contacts>)
                .delete(records::remove::<Contacts>),
        )
        .route("/contacts/{id}/timeline", get(records::timeline::<Contacts>))
        .route("/contacts/{id}/comments", post(records::comment::<Contacts>))
        .route("/search", get(records::search))
        .route("/saved-views", get(records::list_views).post(records::create_view))
        .route("/saved-views/{id}", delete(records::delete_view))
        .route("/statuses", get(settings::list_statuses).post(settings::create_status))
        .route(
            "/statuses/{id}",
            axum::routing::patch(settings::update_status).delete(settings::delete_status),
        )
        .route("/tag-categories", get(settings::list_categories).post(settings::create_category))
        .route(
            "/tag-categories/{id}",
            axum::routing::patch(settings::update_category).delete(settings::delete_category),
        )
        .route("/tag-categories/{id}/tags", post(settings::create_tag))
        .route(
            "/tags/{id}",
            axum::routing::patch(settings::update_tag).delete(settings::delete_tag),
        )
        .route("/custom-fields", get(settings::list_fields).post(settings::create_field))
        .route(
            "/custom-fields/{id}",
            axum::routing::patch(settings::update_field).delete(settings::delete_field),
        )
        .route("/mandatory-rules", get(settings::list_rules).post(settings::create_rule))
        .route("/mandatory-rules/{id}", delete(settings::delete_rule))
        .route("/contact-roles", get(settings::list_roles).post(settings::create_role))
        .route(
            "/contact-roles/{id}",
            axum::routing::patch(settings::update_role).delete(settings::delete_role),
        )
        .route("/users", get(settings::list_users).post(settings::create_user))
        .route("/users/{id}", get(settings::get_user).patch(settings::update_user))
        .route("/pipelines", get(sales::list_pipelines).post(sales::create_pipeline))
        .route("/pipelines/{id}", axum::routing::patch(sales::update_pipeline))
        .route("/pipelines/{id}/stages", post(sales::create_stage))
        .route("/pipelines/{id}/board", get(sales::get_board))
        .route(
            "/stages/{id}",
            axum::routing::patch(sales::update_stage).delete(sales::delete_stage),
        )
        .route(
            "/opportunities",
            get(records::list::<Opportunities>).post(records::create::<Opportunities>),
        )
        .route(
            "/opportunities/{id}",
            get(records::get_one::<Opportunities>)
                .patch(records::update::<Opportunities>)
                .delete(records::remove::<Opportunities>),
        )
        .route("/opportunities/{id}/move", post(sales::move_opportunity))
        .route("/opportunities/{id}/history", get(sales::opportunity_history))
        .route("/opportunities/{id}/timeline", get(records::timeline::<Opportunities>))
        .route("/opportunities/{id}/comments", post(records::comment::<Opportunities>))
        .route("/forecast", get(sales::get_forecast))
        .route("/offers", get(sales::list_offers).post(sales::create_offer))
        .route("/offers/{id}", axum::routing::patch(sales::update_offer))
        .route("/opportunity-sources", get(sales::list_sources).post(sales::create_source))
        .route("/lost-reasons", get(sales::list_lost_reasons).post(sales::create_lost_reason))
        .route("/orders", get(sales::list_orders).post(sales::create_order))
        .route(
            "/orders/{id}",
            get(sales::get_order).patch(sales::update_order).delete(sales::delete_order),
        )
        .route("/action-types", get(agenda::list_types).post(agenda::create_type))
        .route("/actions", get(agenda::list_actions).post(agenda::create_action))
        .route(
            "/actions/{id}",
            get(agenda::get_action).patch(agenda::update_action).delete(agenda::delete_action),
        )
        .route("/actions/{id}/finish", post(agenda::finish_action))
        .route("/followup-rules", get(agenda::list_rules).post(agenda::create_rule))
        .route("/followup-rules/{id}", delete(agenda::delete_rule))
        .route("/recurring-rules", get(agenda::list_recurring).post(agenda::create_recurring))
        .route(
            "/recurring-rules/{id}",
            get(agenda::get_recurring)
                .patch(agenda::update_recurring)
                .delete(agenda::delete_recurring),
        )
        .route("/jobs/failed", get(agenda::failed_jobs))
        .route("/me/calendar-feed", post(agenda::create_feed).delete(agenda::revoke_feed))
        .route("/me/booking-page", axum::routing::put(agenda::save_booking))
        .route("/me/reminders", get(agenda::reminders))
        .route("/metrics", get(metrics::catalogue))
        .route("/metrics/{id}/values", get(metrics::values))
        .route("/me/figures", get(metrics::get_figures).put(metrics::set_figures))
        .route("/dashboards", get(metrics::list_dashboards).post(metrics::create_dashboard))
        .route(
            "/dashboards/{id}",
            get(metrics::get_dashboard)
                .patch(metrics::update_dashboard)
                .delete(metrics::delete_dashboard),
        )
        .route("/dashboards/{id}/widgets", post(metrics::add_widget))
        .route(
            "/dashboards/{id}/widgets/{wid}",
            patch(metrics::update_widget).delete(metrics::delete_widget),
        )
        .route("/booking-teams", get(agenda::list_teams).post(agenda::create_team))
        .route("/booking-teams/{id}", patch(agenda::update_team).delete(agenda::delete_team))
        .route("/me/reminders/{id}/dismiss", post(agenda::dismiss_reminder))
        .route("/users/{id}/free-slots", get(agenda::free_slots))
        .route("/jobs/{id}/retry", post(agenda::retry_job))
}

/// A JSON object body; malformed JSON gets the standard error body.
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

pub struct JsonBody(pub serde_json::Map<String, Value>);

impl<S: Send + Sync> FromRequest<S> for JsonBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<Value>::from_request(req, state).await {
            Ok(axum::Json(Value::Object(m))) => Ok(JsonBody(m)),
            Ok(_) => Err(AppError::field("body", "must be a JSON object").into()),
            Err(JsonRejection::MissingJsonContentType(_)) => {
                Err(AppError::UnsupportedMediaType("Send JSON with Content-Type: application/json.".into()).into())
            }
            Err(e) if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE => Err(AppError::PayloadTooLarge.into()),
            Err(e) => Err(AppError::field("body", format!("is not valid JSON: {}", e.body_text())).into()),
        }
    }
}

impl JsonBody {
    pub fn value(&self) -> Value {
        Value::Object(self.0.clone())
    }
    /// A string field; `Ok(None)` when absent or null.
    pub fn str(&self, k: &str) -> Result<Option<String>, AppError> {
        match self.0.get(k) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(AppError::field(k, "must be a string")),
        }
    }
    pub fn bool(&self, k: &str) -> Result<Option<bool>, AppError> {
        match self.0.get(k) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(_) => Err(AppError::field(k, "must be true or false")),
        }
    }
    pub fn i64(&self, k: &str) -> Result<Option<i64>, AppError> {
        match self.0.get(k) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Number(n)) => n.as_i64().map(Some).ok_or_else(|| AppError::field(k, "must be a whole number")),
            Some(_) => Err(AppError::field(k, "must be a number")),
        }
    }
    /// A list of strings (or one string, split by lines).
    pub fn strs(&self, k: &str) -> Result<Option<Vec<String>>, AppError> {
        match self.0.get(k) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.lines().map(str::to_string).collect())),
            Some(Value::Array(a)) => a
                .iter()
                .map(|v| {
                    v.as_str()
                        .map(str::to_string)
                        .ok_or_else(|| AppError::field(k, "must be a list of strings"))
                })
                .collect::<Result<Vec<_>, _>>()
                .map(Some),
            Some(_) => Err(AppError::field(k, "must be a list of strings")),
        }
    }
    /// Refuses keys outside `allowed`, so that typos are not silently ignored.
    pub fn only(&self, allowed: &[&str]) -> Result<(), AppError> {
        let mut e = carnet_domain::FieldErrors::new();
        for k in self.0.keys() {
            if !allowed.contains(&k.as_str()) {
                e.add(k.clone(), "is not a known field");
            }
        }
        e.into_result().map_err(AppError::Invalid)
    }
}
