//! Settings and users over JSON. Reading settings is open to every signed-in
//! user (forms need them); changing them is for administrators.

use super::JsonBody;
use super::Path;
use crate::auth::ApiUser;
use crate::error::ApiError;
use crate::kinds::iso;
use crate::AppState;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use carnet_app::access::users::{self, NewUser, UserUpdate};
use carnet_app::access::User;
use carnet_app::{settings, AppError};
use carnet_domain::access::{Permission, Role};
use carnet_domain::i18n::{parse_time_zone, Locale};
use serde_json::{json, Value};

type ApiResult = Result<Response, ApiError>;

fn created(id: i64) -> ApiResult {
    Ok((StatusCode::CREATED, Json(json!({"id": id}))).into_response())
}

fn done() -> ApiResult {
    Ok(StatusCode::NO_CONTENT.into_response())
}

fn user_json(u: &User) -> Value {
    json!({"id": u.id, "email": u.email, "name": u.name, "role": u.role, "locale": u.locale, "time_zone": u.tz.name(), "active": u.active, "created_at": iso(u.created_at)})
}

pub async fn me(ApiUser(v): ApiUser) -> ApiResult {
    Ok(Json(user_json(&v.user)).into_response())
}

pub async fn list_statuses(State(s): State<AppState>, ApiUser(_): ApiUser) -> ApiResult {
    Ok(Json(json!({"data": settings::catalog(&s.carnet.db).await?.statuses})).into_response())
}

pub async fn create_status(State(s): State<AppState>, ApiUser(v): ApiUser, b: JsonBody) -> ApiResult {
    v.require(Permission::ManageSettings)?;
    b.only(&["name", "color"])?;
    created(
        settings::create_status(
            &s.carnet.db,
            &b.str("name")?.unwrap_or_default(),
            &b.str("color")?.unwrap_or_default(),
        )
        .await?,
    )
}

pub async fn update_status(State(s): State<AppState>, ApiUser(v): ApiUser, Path(id): Path<i64>, b: JsonBody) -> ApiResult {
    v.require(Permission::ManageSettings)?;
    b.only(&["name", "color", "is_default", "position"])?;
    let cat = settings::catalog(&s.carnet.db).await?;
    let cur = cat.status(id).ok_or(AppError::NotFound)?;
    settings::update_status(
        &s.carnet.db,
        id,
        &b.str("name")?.unwrap_or(cur.name.clone()),
        &b.str("color")?.unwrap_or(cur.color.clone()),
        b.bool("is_default")?.unwrap_or(false),
    )
    .await?;
    if let Some(target) = b.i64("position")? {
        let here = cat.statuses.iter().position(|x| x.id == id).unwrap_or(0) as i64 + 1;
        let steps = (target - here).clamp(-(cat.statuses.len() as i64), cat.statuses.len() as i64);
        for _ in 0..steps.abs() {
            settings::move_status(&s.carnet.db, id, steps.signum()).await?;
        }
    }
    done()
}

#[derive(serde::Deserialize)]
pub struct Replacement {
    replacement: Option<i64>,
}

pub async fn delete_status(State(s): State<AppState>, ApiUser(v): ApiUser, Path(id): Path<i64>, Query(r): Query<Replacement>) -> ApiResult {
    v.require(Permission::ManageSettings)?;
    settings::delete_status(&s.carnet.db, id, r.replacement).await?;
    done()
}

pub async fn list_categories(State(s): State<AppState>, ApiUser(_): ApiUser) -> ApiResult {
    Ok(Json(json!({"data": settings::catalog(&s.carnet.db).await?.categories})).into_response())
}

pub async fn create_category(State(s): State<AppState>, ApiUser(v): ApiUser, b: JsonBody) -> ApiResult {
    v.require(Permission::ManageSettings)?;
    b.only(&["name", "multi", "is_segment"])?;
    created(
        settings::create_category(
            &s.carnet.db,
            &b.str("name")?.unwrap_or_default(),
            b.bool("multi")?.unwrap_or(false),
            b.bool("is_segment")?.unwrap_or(false),
        )
        .await?,
    )
}

pub async fn update_category(State(s): State<AppState>, ApiUser(v): ApiUser, Path(id): Path<i64>, b: JsonBody) -> ApiResult {
    v.require(Permission::ManageSettings)?;
    b.only(&["name", "multi", "is_segment"])?;
    let cat = settings::catalog(&s.carnet.db).await?;
    let cur = cat.categories.iter().find(|c| c.id == id).ok_or(AppError::NotFound)?;
    settings::update_category(
        &s.carnet.db,
        id,
        &b.str("name")?.unwrap_or(cur.name.clone()),
        b.bool("multi")?.unwrap_or(cur.multi),
        b.bool("is_segment")?.unwrap_or(cur.is_segment),
    )
    .await?;
    done()
}

pub async fn delete_category(State(s): State<AppState>, ApiUser(v): ApiUser, Path(id): Path<i64>) -> ApiResult {
    v.require(Permission::ManageSettings)?;
    settings::delete_category(&s.carnet.db, id).await?;
    done()
}

pub async fn create_tag(State(s): State<AppState>, ApiUser(v): ApiUser, Path(category): Path<i64>, b: JsonBody) -> ApiResult {
    v.require(Permission::ManageSettings)?;
    b.only(&["name", "color"])?;
    created(
        settings::create_tag(
            &s.carnet.db,
            category,
            &b.str("name")?.unwrap_or_default(),
            &b.str("color")?.unwrap_or_default(),
        )
        .await?,
    )
}

pub async fn update_tag(State(s): State<AppState>, ApiUser(v): ApiUser, Path(id): Path<i64>, b: JsonBody) -> ApiResult {
    v.require(Permission::ManageSettings)?;
    b.only(&["name", "color"])?;
    let cat = settings::catalog(&s.carnet.db).await?;
    let (_, cur) = cat.tag(id).ok_or(AppError::NotFound)?;
    settings::update_tag(
        &s.carnet.db,
        id,
        &b.str("name")?.unwrap_or(cur.name.clone()),
        &b.str("color")?.unwrap_or(cur.color.clone()),
    )
    .await?;
    done()
}

pub async fn delete_tag(State(s): State<AppState>, ApiUser(v): ApiUser, Path(id): Path<i64>) -> ApiResult {
    v.require(Permission::ManageSettings)?;
    settings::delete_tag(&s.carnet.db, id).await?;
    done()
}

pub async fn list_fields(State(s): State<AppState>, ApiUser(_): ApiUser) -> ApiResult {
    Ok(Json(json!({"data": settings::catalog(&s.carnet.db).await?.fields})).into_response())
}

pub async fn create_field(State(s): State<AppState>, ApiUser(v): ApiUser, b: JsonBody) -> ApiResult {
    v.require(Permission::ManageSettings)?;
    b.only(&["entity", "key", "label", "kind", "choices"])?;
    let choices = b.strs("choices")?.unwrap_or_default().join("\n");
    let (entity, key, label, kind) = (
        b.str("entity")?.unwrap_or_default(),
        b.str("key")?.unwrap_or_default(),
        b.str("label")?.unwrap_or_default(),
        b.str("kind")?.unwrap_or_default(),
    );
    created(
        settings::create_field(
            &s.carnet.db,
            settings::NewField {
                entity: &entity,
                key: &key,
                label: &label,
                kind: &kind,
                choices: &choices,
            },
        )
        .await?,
    )
}

pub async fn update_field(State(s): State<AppState>, ApiUser(v): ApiUser, Path(id): Path<i64>, b: JsonBody) -> ApiResult {
    v.require(Permission::ManageSettings)?;
    b.only(&["label", "choices"])?;
    let cat = settings::catalog(&s.carnet.db).await?;
    let cur = cat.fields.iter().find(|f| f.id == id).ok_or(AppError::NotFound)?;
    let choices = b.strs("choices")?.unwrap_or(cur.choices.clone()).join("\n");
    settings::update_field(&s.carnet.db, id, &b.str("label")?.unwrap_or(cur.label.clone()), &choices).await?;
    done()
}

pub async fn delete_field(State(s): State<AppState>, ApiUser(v): ApiUser, Path(id): Path<i64>) -> ApiResult {
    v.require(Permission::ManageSettings)?;
    settings::delete_field(&s.carnet.db, id).await?;
    done()
}

pub async fn list_rules(State(s): State<AppState>, ApiUser(_): ApiUser) -> ApiResult {
    Ok(Json(json!({"data": settings::catalog(&s.carnet.db).await?.rules})).into_response())
}

pub async fn create_rule(State(s): State<AppState>, ApiUser(v): ApiUser, b: JsonBody) -> ApiResult {
    v.require(Permission::ManageSettings)?;
    b.only(&["entity", "field", "from_status", "from_stage"])?;
    let cat = settings::catalog(&s.carnet.db).await?;
    let from = match b.0.get("from_status") {
        None | Some(Value::Null) => None,
        Some(Value::Number(n)) => n.as_i64(),
        Some(Value::String(name)) => Some(cat.resolve_status(name).map_err(|e| AppError::field("from_status", e))?),
        Some(_) => return Err(AppError::field("from_status", "must be a status id or name").into()),
    };
    created(
        settings::create_rule(
            &s.carnet.db,
            &b.str("entity")?.unwrap_or_default(),
            &b.str("field")?.unwrap_or_default(),
            from,
            b.i64("from_stage")?,
        )
        .await?,
    )
}

pub async fn delete_rule(State(s): State<AppState>, ApiUser(v): ApiUser, Path(id): Path<i64>) -> ApiResult {
    v.require(Permission::ManageSettings)?;
    settings::delete_rule(&s.carnet.db, id).await?;
    done()
}

pub async fn list_roles(State(s): State<AppState>, ApiUser(_): ApiUser) -> ApiResult {
    Ok(Json(json!({"data": settings::catalog(&s.carnet.db).await?.roles})).into_response())
}

pub async fn create_role(State(s): State<AppState>, ApiUser(v): ApiUser, b: JsonBody) -> ApiResult {
    v.require(Permission::ManageSettings)?;
    b.only(&["name"])?;
    created(settings::create_role(&s.carnet.db, &b.str("name")?.unwrap_or_default()).await?)
}

pub async fn update_role(State(s): State<AppState>, ApiUser(v): ApiUser, Path(id): Path<i64>, b: JsonBody) -> ApiResult {
    v.require(Permission::ManageSettings)?;
    b.only(&["name"])?;
    settings::rename_role(&s.carnet.db, id, &b.str("name")?.unwrap_or_default()).await?;
    done()
}

pub async fn delete_role(State(s): State<AppState>, ApiUser(v): ApiUser, Path(id): Path<i64>) -> ApiResult {
    v.require(Permission::ManageSettings)?;
    settings::delete_role(&s.carnet.db, id).await?;
    done()
}

pub async fn list_users(State(s): State<AppState>, ApiUser(_): ApiUser) -> ApiResult {
    let all = users::list(&s.carnet.db).await?;
    Ok(Json(json!({"data": all.iter().map(user_json).collect::<Vec<_>>()})).into_response())
}

pub async fn get_user(State(s): State<AppState>, ApiUser(_): ApiUser, Path(id): Path<i64>) -> ApiResult {
    Ok(Json(user_json(&users::get(&s.carnet.db, id).await?)).into_response())
}

pub async fn create_user(State(s): State<AppState>, ApiUser(v): ApiUser, b: JsonBody) -> ApiResult {
    v.require(Permission::ManageUsers)?;
    b.only(&["email", "name", "role", "password", "locale", "time_zone"])?;
    let g = |k: &str| b.str(k).map(Option::unwrap_or_default);
    let nu = NewUser::parse(
        &g("email")?,
        &g("name")?,
        &g("role")?,
        &g("password")?,
        &g("locale")?,
        &g("time_zone")?,
    )
    .map_err(AppError::Invalid)?;
    let u = users::create(&s.carnet.db, nu).await?;
    Ok((StatusCode::CREATED, Json(user_json(&u))).into_response())
}

/// Administrators change anyone; a user changes their own name, language and zone.
pub async fn update_user(State(s): State<AppState>, ApiUser(v): ApiUser, Path(id): Path<i64>, b: JsonBody) -> ApiResult {
    let admin = v.can(Permission::ManageUsers);
    if !admin && id != v.user.id {
        return Err(AppError::Forbidden.into());
    }
    b.only(if admin {
        &["name", "role", "locale", "time_zone", "active", "password", "hourly_cost"]
    } else {
        &["name", "locale", "time_zone", "password"]
    })?;
    let cur = users::get(&s.carnet.db, id).await?;
    let mut e = carnet_domain::FieldErrors::new();
    let name = match b.str("name")? {
        Some(n) => e.check("name", carnet_domain::values::required_name(&n)),
        None => Some(cur.name.clone()),
    };
    let role = match b.str("role")? {
        Some(r) => e.check("role", Role::parse(&r)),
        None => None,
    };
    let locale = match b.str("locale")? {
        Some(l) => e.check("locale", Locale::parse(&l)),
        None => Some(cur.locale),
    };
    let tz = match b.str("time_zone")? {
        Some(t) => e.check("time_zone", parse_time_zone(&t)),
        None => Some(cur.tz),
    };
    let cost = b.str("hourly_cost")?;
    if let Some(c) = &cost {
        e.check("hourly_cost", users::parse_hourly_cost(c));
    }
    e.into_result().map_err(AppError::Invalid)?;
    let u = users::update(
        &s.carnet.db,
        id,
        UserUpdate {
            name: name.unwrap(),
            role,
            locale: locale.unwrap(),
            tz: tz.unwrap(),
            active: b.bool("active")?,
        },
    )
    .await?;
    if let Some(p) = b.str("password")? {
        users::set_password(&s.carnet.db, id, &p).await?;
    }
    if let Some(cost) = cost {
        users::set_hourly_cost(&s.carnet.db, id, &cost).await?;
    }
    Ok(Json(user_json(&u)).into_response())
}
