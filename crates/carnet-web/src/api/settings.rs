//! Settings and users over JSON. Reading settings is open to every signed-in
//! user (forms need them); changing them is for administrators.

use super::openapi::{delete, get, patch, post, Op};
use super::types::{Body, Created, List, Ref};
use super::{Path, Query};
use crate::auth::ApiUser;
use crate::error::ApiError;
use crate::kinds::iso;
use crate::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use carnet_app::access::users::{self, NewUser, UserUpdate};
use carnet_app::access::User;
use carnet_app::{settings, AppError};
use carnet_domain::access::{Permission, Role};
use carnet_domain::catalog::{CategoryDef, RoleDef, RuleDef, StatusDef};
use carnet_domain::fields::{Entity, FieldDef, FieldKind};
use carnet_domain::i18n::{parse_time_zone, Locale};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

type ApiResult = Result<Response, ApiError>;

pub fn ops() -> Vec<Op> {
    vec![
        get("/me", me).doc("users", "The calling user").answers::<UserOut>(200),
        get("/statuses", list_statuses)
            .doc("settings", "Account statuses, in order")
            .answers::<List<StatusDef>>(200),
        post("/statuses", create_status)
            .requires(Permission::ManageSettings)
            .doc("settings", "Add an account status")
            .body::<NewStatus>()
            .answers::<Created>(201),
        patch("/statuses/{id}", update_status)
            .requires(Permission::ManageSettings)
            .doc("settings", "Rename, recolour, make default or move a status")
            .body::<StatusPatch>(),
        delete("/statuses/{id}", delete_status)
            .requires(Permission::ManageSettings)
            .doc(
                "settings",
                "Delete a status; its accounts move to the replacement (required when it has accounts)",
            )
            .query::<Replacement>(),
        get("/tag-categories", list_categories)
            .doc("settings", "Tag categories with their tags")
            .answers::<List<CategoryDef>>(200),
        post("/tag-categories", create_category)
            .requires(Permission::ManageSettings)
            .doc("settings", "Add a tag category")
            .body::<NewCategory>()
            .answers::<Created>(201),
        patch("/tag-categories/{id}", update_category)
            .requires(Permission::ManageSettings)
            .doc("settings", "Change a tag category")
            .body::<CategoryPatch>(),
        delete("/tag-categories/{id}", delete_category)
            .requires(Permission::ManageSettings)
            .doc("settings", "Delete a tag category and its tags"),
        post("/tag-categories/{id}/tags", create_tag)
            .requires(Permission::ManageSettings)
            .doc("settings", "Add a tag to a category")
            .body::<NewTag>()
            .answers::<Created>(201),
        patch("/tags/{id}", update_tag)
            .requires(Permission::ManageSettings)
            .doc("settings", "Rename or recolour a tag")
            .body::<TagPatch>(),
        delete("/tags/{id}", delete_tag)
            .requires(Permission::ManageSettings)
            .doc("settings", "Delete a tag (removed from every record)"),
        get("/custom-fields", list_fields)
            .doc("settings", "Custom fields of every record type")
            .answers::<List<FieldDef>>(200),
        post("/custom-fields", create_field)
            .requires(Permission::ManageSettings)
            .doc("settings", "Add a custom field")
            .body::<NewField>()
            .answers::<Created>(201),
        patch("/custom-fields/{id}", update_field)
            .requires(Permission::ManageSettings)
            .doc("settings", "Change a custom field's label or choices")
            .body::<FieldPatch>(),
        delete("/custom-fields/{id}", delete_field)
            .requires(Permission::ManageSettings)
            .doc("settings", "Delete a custom field and its values"),
        get("/mandatory-rules", list_rules)
            .doc("settings", "Mandatory field rules")
            .answers::<List<RuleDef>>(200),
        post("/mandatory-rules", create_rule)
            .requires(Permission::ManageSettings)
            .doc("settings", "Make a field mandatory, always or from a status or stage on")
            .body::<NewRule>()
            .answers::<Created>(201),
        delete("/mandatory-rules/{id}", delete_rule)
            .requires(Permission::ManageSettings)
            .doc("settings", "Drop a mandatory field rule"),
        get("/contact-roles", list_roles)
            .doc("settings", "Roles a contact can have on an account")
            .answers::<List<RoleDef>>(200),
        post("/contact-roles", create_role)
            .requires(Permission::ManageSettings)
            .doc("settings", "Add a contact role")
            .body::<NameOnly>()
            .answers::<Created>(201),
        patch("/contact-roles/{id}", update_role)
            .requires(Permission::ManageSettings)
            .doc("settings", "Rename a contact role")
            .body::<NameOnly>(),
        delete("/contact-roles/{id}", delete_role)
            .requires(Permission::ManageSettings)
            .doc("settings", "Delete a contact role"),
        get("/users", list_users).doc("users", "Every user").answers::<List<UserOut>>(200),
        post("/users", create_user)
            .requires(Permission::ManageUsers)
            .doc("users", "Create a user (administrators)")
            .body::<NewUserIn>()
            .answers::<UserOut>(201),
        get("/users/{id}", get_user).doc("users", "One user").answers::<UserOut>(200),
        patch("/users/{id}", update_user)
            .doc(
                "users",
                "Change a user: administrators anything, users their own name, language, zone and password",
            )
            .body::<UserPatch>()
            .answers::<UserOut>(200),
    ]
}

fn created(id: i64) -> ApiResult {
    Ok((StatusCode::CREATED, Json(Created { id })).into_response())
}

fn done() -> ApiResult {
    Ok(StatusCode::NO_CONTENT.into_response())
}

fn list<T: Serialize>(data: Vec<T>) -> ApiResult {
    Ok(Json(List { data }).into_response())
}

/// A user as the API shows it.
#[derive(Serialize, JsonSchema)]
#[schemars(rename = "User")]
pub struct UserOut {
    id: i64,
    email: String,
    name: String,
    role: Role,
    locale: Locale,
    /// IANA zone, e.g. Europe/Paris.
    time_zone: String,
    active: bool,
    created_at: String,
}

/// A name: one line, 1–200 characters.
#[derive(Deserialize, JsonSchema)]
#[serde(transparent)]
pub struct Name(#[schemars(length(min = 1, max = 200))] pub String);

/// A colour, `#rrggbb`; empty for the default.
#[derive(Deserialize, JsonSchema)]
#[serde(transparent)]
pub struct Color(#[schemars(regex(pattern = r"^(#[0-9a-fA-F]{6})?$"))] pub String);

fn text(c: Option<Color>) -> String {
    c.map(|c| c.0).unwrap_or_default()
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NewStatus {
    name: Name,
    color: Option<Color>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StatusPatch {
    name: Option<Name>,
    color: Option<Color>,
    /// True makes it the status of new accounts.
    is_default: Option<bool>,
    /// Its place in the list, from 1.
    #[schemars(range(min = 1))]
    position: Option<i64>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Replacement {
    /// The status that takes the deleted one's accounts.
    replacement: Option<i64>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NewCategory {
    name: Name,
    /// Whether a record may carry several of its tags.
    multi: Option<bool>,
    /// Whether its tags are customer segments.
    is_segment: Option<bool>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CategoryPatch {
    name: Option<Name>,
    multi: Option<bool>,
    is_segment: Option<bool>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NewTag {
    name: Name,
    color: Option<Color>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TagPatch {
    name: Option<Name>,
    color: Option<Color>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NewField {
    entity: Entity,
    /// Lower-case letters, digits and underscores, starting with a letter; fixed once made.
    #[schemars(regex(pattern = r"^[a-z][a-z0-9_]{0,39}$"))]
    key: String,
    label: Name,
    kind: FieldKind,
    /// The choices of a single or multiple choice field.
    choices: Option<Vec<String>>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FieldPatch {
    label: Option<Name>,
    choices: Option<Vec<String>>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NewRule {
    entity: Entity,
    /// A standard field name, or `cf.KEY` for a custom field.
    field: String,
    /// From this account status on (id or name); absent: always.
    from_status: Option<Ref>,
    /// Opportunities: from this stage on (id).
    from_stage: Option<i64>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NameOnly {
    name: Name,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NewUserIn {
    email: String,
    name: Name,
    #[schemars(with = "Role")]
    role: String,
    /// At least 10 characters.
    password: String,
    #[schemars(with = "Option<Locale>")]
    locale: Option<String>,
    /// IANA zone; Europe/Paris when absent.
    time_zone: Option<String>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UserPatch {
    name: Option<Name>,
    /// Administrators only.
    role: Option<Role>,
    locale: Option<Locale>,
    time_zone: Option<String>,
    /// Administrators only.
    active: Option<bool>,
    password: Option<String>,
    /// Administrators only: what an hour of this user costs, e.g. "45.00".
    hourly_cost: Option<String>,
}

fn user_json(u: &User) -> UserOut {
    UserOut {
        id: u.id,
        email: u.email.clone(),
        name: u.name.clone(),
        role: u.role,
        locale: u.locale,
        time_zone: u.tz.name().to_string(),
        active: u.active,
        created_at: iso(u.created_at),
    }
}

pub async fn me(ApiUser(v): ApiUser) -> ApiResult {
    Ok(Json(user_json(&v.user)).into_response())
}

pub async fn list_statuses(State(s): State<AppState>, ApiUser(_): ApiUser) -> ApiResult {
    list(settings::catalog(&s.carnet.db).await?.statuses)
}

pub async fn create_status(State(s): State<AppState>, ApiUser(_): ApiUser, Body(b): Body<NewStatus>) -> ApiResult {
    created(settings::create_status(&s.carnet.db, &b.name.0, &text(b.color)).await?)
}

pub async fn update_status(State(s): State<AppState>, ApiUser(_): ApiUser, Path(id): Path<i64>, Body(b): Body<StatusPatch>) -> ApiResult {
    let cat = settings::catalog(&s.carnet.db).await?;
    let cur = cat.status(id).ok_or(AppError::NotFound)?;
    settings::update_status(
        &s.carnet.db,
        id,
        &b.name.map_or(cur.name.clone(), |n| n.0),
        &b.color.map_or(cur.color.clone(), |c| c.0),
        b.is_default.unwrap_or(false),
    )
    .await?;
    if let Some(target) = b.position {
        let here = cat.statuses.iter().position(|x| x.id == id).unwrap_or(0) as i64 + 1;
        let steps = (target - here).clamp(-(cat.statuses.len() as i64), cat.statuses.len() as i64);
        for _ in 0..steps.abs() {
            settings::move_status(&s.carnet.db, id, steps.signum()).await?;
        }
    }
    done()
}

pub async fn delete_status(State(s): State<AppState>, ApiUser(_): ApiUser, Path(id): Path<i64>, Query(r): Query<Replacement>) -> ApiResult {
    settings::delete_status(&s.carnet.db, id, r.replacement).await?;
    done()
}

pub async fn list_categories(State(s): State<AppState>, ApiUser(_): ApiUser) -> ApiResult {
    list(settings::catalog(&s.carnet.db).await?.categories)
}

pub async fn create_category(State(s): State<AppState>, ApiUser(_): ApiUser, Body(b): Body<NewCategory>) -> ApiResult {
    let id = settings::create_category(&s.carnet.db, &b.name.0, b.multi.unwrap_or(false), b.is_segment.unwrap_or(false)).await?;
    created(id)
}

pub async fn update_category(
    State(s): State<AppState>,
    ApiUser(_): ApiUser,
    Path(id): Path<i64>,
    Body(b): Body<CategoryPatch>,
) -> ApiResult {
    let cat = settings::catalog(&s.carnet.db).await?;
    let cur = cat.categories.iter().find(|c| c.id == id).ok_or(AppError::NotFound)?;
    settings::update_category(
        &s.carnet.db,
        id,
        &b.name.map_or(cur.name.clone(), |n| n.0),
        b.multi.unwrap_or(cur.multi),
        b.is_segment.unwrap_or(cur.is_segment),
    )
    .await?;
    done()
}

pub async fn delete_category(State(s): State<AppState>, ApiUser(_): ApiUser, Path(id): Path<i64>) -> ApiResult {
    settings::delete_category(&s.carnet.db, id).await?;
    done()
}

pub async fn create_tag(State(s): State<AppState>, ApiUser(_): ApiUser, Path(category): Path<i64>, Body(b): Body<NewTag>) -> ApiResult {
    created(settings::create_tag(&s.carnet.db, category, &b.name.0, &text(b.color)).await?)
}

pub async fn update_tag(State(s): State<AppState>, ApiUser(_): ApiUser, Path(id): Path<i64>, Body(b): Body<TagPatch>) -> ApiResult {
    let cat = settings::catalog(&s.carnet.db).await?;
    let (_, cur) = cat.tag(id).ok_or(AppError::NotFound)?;
    settings::update_tag(
        &s.carnet.db,
        id,
        &b.name.map_or(cur.name.clone(), |n| n.0),
        &b.color.map_or(cur.color.clone(), |c| c.0),
    )
    .await?;
    done()
}

pub async fn delete_tag(State(s): State<AppState>, ApiUser(_): ApiUser, Path(id): Path<i64>) -> ApiResult {
    settings::delete_tag(&s.carnet.db, id).await?;
    done()
}

pub async fn list_fields(State(s): State<AppState>, ApiUser(_): ApiUser) -> ApiResult {
    list(settings::catalog(&s.carnet.db).await?.fields)
}

pub async fn create_field(State(s): State<AppState>, ApiUser(_): ApiUser, Body(b): Body<NewField>) -> ApiResult {
    let choices = b.choices.unwrap_or_default().join("\n");
    let id = settings::create_field(
        &s.carnet.db,
        settings::NewField {
            entity: b.entity.as_str(),
            key: &b.key,
            label: &b.label.0,
            kind: b.kind.as_str(),
            choices: &choices,
        },
    )
    .await?;
    created(id)
}

pub async fn update_field(State(s): State<AppState>, ApiUser(_): ApiUser, Path(id): Path<i64>, Body(b): Body<FieldPatch>) -> ApiResult {
    let cat = settings::catalog(&s.carnet.db).await?;
    let cur = cat.fields.iter().find(|f| f.id == id).ok_or(AppError::NotFound)?;
    let choices = b.choices.unwrap_or(cur.choices.clone()).join("\n");
    settings::update_field(&s.carnet.db, id, &b.label.map_or(cur.label.clone(), |l| l.0), &choices).await?;
    done()
}

pub async fn delete_field(State(s): State<AppState>, ApiUser(_): ApiUser, Path(id): Path<i64>) -> ApiResult {
    settings::delete_field(&s.carnet.db, id).await?;
    done()
}

pub async fn list_rules(State(s): State<AppState>, ApiUser(_): ApiUser) -> ApiResult {
    list(settings::catalog(&s.carnet.db).await?.rules)
}

pub async fn create_rule(State(s): State<AppState>, ApiUser(_): ApiUser, Body(b): Body<NewRule>) -> ApiResult {
    let cat = settings::catalog(&s.carnet.db).await?;
    let from = match &b.from_status {
        None => None,
        Some(r) => Some(cat.resolve_status(r.as_str()).map_err(|e| AppError::field("from_status", e))?),
    };
    created(settings::create_rule(&s.carnet.db, b.entity.as_str(), &b.field, from, b.from_stage).await?)
}

pub async fn delete_rule(State(s): State<AppState>, ApiUser(_): ApiUser, Path(id): Path<i64>) -> ApiResult {
    settings::delete_rule(&s.carnet.db, id).await?;
    done()
}

pub async fn list_roles(State(s): State<AppState>, ApiUser(_): ApiUser) -> ApiResult {
    list(settings::catalog(&s.carnet.db).await?.roles)
}

pub async fn create_role(State(s): State<AppState>, ApiUser(_): ApiUser, Body(b): Body<NameOnly>) -> ApiResult {
    created(settings::create_role(&s.carnet.db, &b.name.0).await?)
}

pub async fn update_role(State(s): State<AppState>, ApiUser(_): ApiUser, Path(id): Path<i64>, Body(b): Body<NameOnly>) -> ApiResult {
    settings::rename_role(&s.carnet.db, id, &b.name.0).await?;
    done()
}

pub async fn delete_role(State(s): State<AppState>, ApiUser(_): ApiUser, Path(id): Path<i64>) -> ApiResult {
    settings::delete_role(&s.carnet.db, id).await?;
    done()
}

pub async fn list_users(State(s): State<AppState>, ApiUser(_): ApiUser) -> ApiResult {
    list(users::list(&s.carnet.db).await?.iter().map(user_json).collect())
}

pub async fn get_user(State(s): State<AppState>, ApiUser(_): ApiUser, Path(id): Path<i64>) -> ApiResult {
    Ok(Json(user_json(&users::get(&s.carnet.db, id).await?)).into_response())
}

pub async fn create_user(State(s): State<AppState>, ApiUser(_): ApiUser, Body(b): Body<NewUserIn>) -> ApiResult {
    let nu = NewUser::parse(
        &b.email,
        &b.name.0,
        &b.role,
        &b.password,
        b.locale.as_deref().unwrap_or(""),
        &b.time_zone.unwrap_or_default(),
    )
    .map_err(AppError::Invalid)?;
    let u = users::create(&s.carnet.db, nu).await?;
    Ok((StatusCode::CREATED, Json(user_json(&u))).into_response())
}

/// Administrators change anyone; a user changes their own name, language and zone.
pub async fn update_user(State(s): State<AppState>, ApiUser(v): ApiUser, Path(id): Path<i64>, Body(b): Body<UserPatch>) -> ApiResult {
    let admin = v.can(Permission::ManageUsers);
    if !admin && id != v.user.id {
        return Err(AppError::Forbidden.into());
    }
    let mut e = carnet_domain::FieldErrors::new();
    if !admin {
        for (k, given) in [
            ("role", b.role.is_some()),
            ("active", b.active.is_some()),
            ("hourly_cost", b.hourly_cost.is_some()),
        ] {
            if given {
                e.add(k, "only an administrator may change it");
            }
        }
    }
    let cur = users::get(&s.carnet.db, id).await?;
    let name = match b.name {
        Some(n) => e.check("name", carnet_domain::values::required_name(&n.0)),
        None => Some(cur.name.clone()),
    };
    let tz = match &b.time_zone {
        Some(t) => e.check("time_zone", parse_time_zone(t)),
        None => Some(cur.tz),
    };
    if let Some(c) = &b.hourly_cost {
        e.check("hourly_cost", users::parse_hourly_cost(c));
    }
    e.into_result().map_err(AppError::Invalid)?;
    let u = users::update(
        &s.carnet.db,
        id,
        UserUpdate {
            name: name.unwrap(),
            role: b.role,
            locale: b.locale.unwrap_or(cur.locale),
            tz: tz.unwrap(),
            active: b.active,
        },
    )
    .await?;
    if let Some(p) = &b.password {
        users::set_password(&s.carnet.db, id, p).await?;
    }
    if let Some(cost) = &b.hourly_cost {
        users::set_hourly_cost(&s.carnet.db, id, cost).await?;
    }
    Ok(Json(user_json(&u)).into_response())
}
