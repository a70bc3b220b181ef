//! Users, passwords and the one-time first-run setup.

use super::{random_token, token_hash};
use crate::db::{q, Db, Handle};
use crate::error::{AppError, Result};
use crate::platform::events;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use carnet_domain::access::Role;
use carnet_domain::i18n::{parse_time_zone, Fmt, Locale};
use carnet_domain::values::{required_name, EmailAddress};
use carnet_domain::FieldErrors;
use chrono_tz::Tz;
use serde::Serialize;

#[derive(Debug, Clone, Serialize)]
pub struct User {
    pub id: i64,
    pub email: String,
    pub name: String,
    pub role: Role,
    pub locale: Locale,
    #[serde(serialize_with = "ser_tz")]
    pub tz: Tz,
    pub active: bool,
    pub created_at: i64,
}

fn ser_tz<S: serde::Serializer>(tz: &Tz, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(tz.name())
}

impl User {
    pub fn fmt(&self) -> Fmt {
        Fmt::new(self.locale, self.tz)
    }
}

#[derive(sqlx::FromRow)]
struct UserRow {
    id: i64,
    email: String,
    name: String,
    role: String,
    locale: String,
    time_zone: String,
    active: bool,
    created_at: i64,
}

impl From<UserRow> for User {
    fn from(r: UserRow) -> Self {
        User {
            id: r.id,
            email: r.email,
            name: r.name,
            role: Role::parse(&r.role).unwrap_or(Role::Sales),
            locale: Locale::parse(&r.locale).unwrap_or_default(),
            tz: parse_time_zone(&r.time_zone).unwrap_or(chrono_tz::Europe::Paris),
            active: r.active,
            created_at: r.created_at,
        }
    }
}

const COLS: &str = "id, email, name, role, locale, time_zone, active, created_at";

pub const MIN_PASSWORD: usize = 10;

/// A new user as submitted, parsed.
pub struct NewUser {
    pub email: EmailAddress,
    pub name: String,
    pub role: Role,
    pub password: String,
    pub locale: Locale,
    pub tz: Tz,
}

impl NewUser {
    pub fn parse(email: &str, name: &str, role: &str, password: &str, locale: &str, tz: &str) -> Result<Self, FieldErrors> {
        let mut e = FieldErrors::new();
        let email = e.check("email", EmailAddress::parse(email));
        let name = e.check("name", required_name(name));
        let role = e.check("role", Role::parse(role));
        let password = e.check("password", check_password(password));
        let locale = if locale.trim().is_empty() {
            Some(Locale::En)
        } else {
            e.check("locale", Locale::parse(locale))
        };
        let tz = if tz.trim().is_empty() {
            Some(chrono_tz::Europe::Paris)
        } else {
            e.check("time_zone", parse_time_zone(tz))
        };
        e.into_result()?;
        Ok(NewUser {
            email: email.unwrap(),
            name: name.unwrap(),
            role: role.unwrap(),
            password: password.unwrap(),
            locale: locale.unwrap(),
            tz: tz.unwrap(),
        })
    }
}

pub fn check_password(p: &str) -> Result<String, String> {
    let n = p.chars().count();
    if n < MIN_PASSWORD {
        return Err(format!("must be at least {MIN_PASSWORD} characters"));
    }
    if n > 256 {
        return Err("must be at most 256 characters".into());
    }
    Ok(p.to_string())
}

/// Hashes with Argon2id on a blocking thread: hashing takes tens of milliseconds
/// of CPU and must not stall the async workers.
pub async fn hash_password(password: String) -> Result<String> {
    tokio::task::spawn_blocking(move || {
        let mut salt = [0u8; 16];
        getrandom::getrandom(&mut salt).map_err(AppError::internal)?;
        let salt = SaltString::encode_b64(&salt).map_err(AppError::internal)?;
        Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(AppError::internal)
    })
    .await
    .map_err(AppError::internal)?
}

async fn verify_password(password: String, hash: String) -> bool {
    tokio::task::spawn_blocking(move || {
        PasswordHash::new(&hash)
            .map(|h| Argon2::default().verify_password(password.as_bytes(), &h).is_ok())
            .unwrap_or(false)
    })
    .await
    .unwrap_or(false)
}

pub async fn count(db: &Db) -> Result<i64> {
    Ok(q("SELECT COUNT(*) FROM users").scalar::<i64>(&mut db.conn().await?).await?)
}

pub async fn create(db: &Db, u: NewUser) -> Result<User> {
    let hash = hash_password(u.password).await?;
    let mut tx = db.begin().await?;
    let id = insert(&mut tx, &u.email, &u.name, u.role, &hash, u.locale, u.tz).await?;
    events::settings_changed(&mut tx, "users", false).await?;
    tx.commit().await?;
    get(db, id).await
}

async fn insert(h: &mut impl Handle, email: &EmailAddress, name: &str, role: Role, hash: &str, locale: Locale, tz: Tz) -> Result<i64> {
    let r = q(
        "INSERT INTO users (email, name, role, password_hash, locale, time_zone, active, created_at) \
               VALUES ($1, $2, $3, $4, $5, $6, TRUE, $7) RETURNING id",
    )
    .bind(email.normalized())
    .bind(name)
    .bind(role.as_str())
    .bind(hash)
    .bind(locale.as_str())
    .bind(tz.name())
    .bind(h.now())
    .insert_id(h)
    .await;
    match r {
        Err(e) if crate::db::is_unique_violation(&e) => Err(AppError::field("email", "is already used by another user")),
        other => Ok(other?),
    }
}

pub async fn get(db: &Db, id: i64) -> Result<User> {
    let row: UserRow = q(format!("SELECT {COLS} FROM users WHERE id = $1"))
        .bind(id)
        .fetch_optional(&mut db.conn().await?)
        .await?
        .ok_or(AppError::NotFound)?;
    Ok(row.into())
}

pub async fn find_by_email(db: &Db, email: &str) -> Result<Option<User>> {
    let row: Option<UserRow> = q(format!("SELECT {COLS} FROM users WHERE email = $1"))
        .bind(email.trim().to_lowercase())
        .fetch_optional(&mut db.conn().await?)
        .await?;
    Ok(row.map(Into::into))
}

pub async fn list(db: &Db) -> Result<Vec<User>> {
    let rows: Vec<UserRow> = q(format!("SELECT {COLS} FROM users ORDER BY name, id"))
        .fetch_all(&mut db.conn().await?)
        .await?;
    Ok(rows.into_iter().map(Into::into).collect())
}

/// Checks an email and password. Unknown emails cost the same time as wrong
/// passwords, so that timing does not reveal which emails exist.
pub async fn verify_login(db: &Db, email: &str, password: &str) -> Result<Option<User>> {
    let row: Option<(i64, String, bool)> = q("SELECT id, password_hash, active FROM users WHERE email = $1")
        .bind(email.trim().to_lowercase())
        .fetch_optional(&mut db.conn().await?)
        .await?;
    const DUMMY: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$2l8o0ooSPrKNwZgCm7BvjRpeOG1J2K4hTUN4GJm0Lxo";
    let (id, hash, active) = row.unwrap_or((0, DUMMY.to_string(), false));
    let ok = verify_password(password.to_string(), hash).await;
    if ok && active && id != 0 {
        Ok(Some(get(db, id).await?))
    } else {
        Ok(None)
    }
}

/// What an hour of each user costs, in cents (opportunity cost, K4).
pub async fn hourly_costs(db: &Db) -> Result<std::collections::HashMap<i64, i64>> {
    let rows: Vec<(i64, i64)> = q("SELECT id, hourly_cost FROM users").fetch_all(&mut db.conn().await?).await?;
    Ok(rows.into_iter().collect())
}

/// An hourly cost as typed ("45.00"), in cents.
pub fn parse_hourly_cost(raw: &str) -> std::result::Result<i64, String> {
    let cents = match raw.trim() {
        "" => 0,
        r => carnet_domain::values::Money::parse(r)?.0,
    };
    if !(0..=10_000_000).contains(&cents) {
        return Err("must be between 0 and 100,000 per hour".into());
    }
    Ok(cents)
}

/// Sets what an hour of a user costs (a money amount, e.g. "45.00").
pub async fn set_hourly_cost(db: &Db, id: i64, raw: &str) -> Result<i64> {
    let cents = parse_hourly_cost(raw).map_err(|e| AppError::field("hourly_cost", e))?;
    let mut tx = db.begin().await?;
    if q("UPDATE users SET hourly_cost = $1 WHERE id = $2")
        .bind(cents)
        .bind(id)
        .execute(&mut tx)
        .await?
        == 0
    {
        return Err(AppError::NotFound);
    }
    events::settings_changed(&mut tx, "users", false).await?;
    tx.commit().await?;
    Ok(cents)
}

/// What an administrator may change on a user, or a user on their own profile.
pub struct UserUpdate {
    pub name: String,
    pub role: Option<Role>,
    pub locale: Locale,
    pub tz: Tz,
    pub active: Option<bool>,
}

pub async fn update(db: &Db, id: i64, u: UserUpdate) -> Result<User> {
    let mut tx = db.begin().await?;
    let current: Option<(String, bool)> = q("SELECT role, active FROM users WHERE id = $1")
        .bind(id)
        .fetch_optional(&mut tx)
        .await?;
    let (role, active) = current.ok_or(AppError::NotFound)?;
    let new_role = u.role.map(|r| r.as_str().to_string()).unwrap_or(role.clone());
    let new_active = u.active.unwrap_or(active);
    if role == "admin" && (new_role != "admin" || !new_active) {
        let admins: i64 = q("SELECT COUNT(*) FROM users WHERE role = 'admin' AND active = TRUE AND id <> $1")
            .bind(id)
            .scalar(&mut tx)
            .await?;
        if admins == 0 {
            return Err(AppError::field(
                "role",
                "the last active administrator must stay an active administrator",
            ));
        }
    }
    q("UPDATE users SET name = $1, role = $2, locale = $3, time_zone = $4, active = $5 WHERE id = $6")
        .bind(u.name)
        .bind(new_role)
        .bind(u.locale.as_str())
        .bind(u.tz.name())
        .bind(new_active)
        .bind(id)
        .execute(&mut tx)
        .await?;
    if !new_active {
        q("DELETE FROM sessions WHERE user_id = $1").bind(id).execute(&mut tx).await?;
    }
    events::settings_changed(&mut tx, "users", false).await?;
    tx.commit().await?;
    get(db, id).await
}

pub async fn set_password(db: &Db, id: i64, password: &str) -> Result<()> {
    let p = check_password(password).map_err(|e| AppError::field("password", e))?;
    let hash = hash_password(p).await?;
    let mut tx = db.begin().await?;
    let n = q("UPDATE users SET password_hash = $1 WHERE id = $2")
        .bind(hash)
        .bind(id)
        .execute(&mut tx)
        .await?;
    if n == 0 {
        return Err(AppError::NotFound);
    }
    q("DELETE FROM sessions WHERE user_id = $1").bind(id).execute(&mut tx).await?;
    tx.commit().await?;
    Ok(())
}

const SETUP_KEY: &str = "setup_token_hash";

/// With no user yet, makes a fresh one-time setup token (printed by `serve`).
pub async fn ensure_setup_token(db: &Db) -> Result<Option<String>> {
    if count(db).await? > 0 {
        return Ok(None);
    }
    let token = random_token();
    let mut tx = db.begin().await?;
    q("INSERT INTO app_settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value")
        .bind(SETUP_KEY)
        .bind(token_hash(&token))
        .execute(&mut tx)
        .await?;
    tx.commit().await?;
    Ok(Some(token))
}

pub async fn setup_token_valid(db: &Db, token: &str) -> Result<bool> {
    let stored: Option<String> = q("SELECT value FROM app_settings WHERE key = $1")
        .bind(SETUP_KEY)
        .scalar_opt(&mut db.conn().await?)
        .await?;
    Ok(stored.is_some_and(|s| s == token_hash(token)) && count(db).await? == 0)
}

/// Creates the first administrator with the setup token, once.
pub async fn complete_setup(db: &Db, token: &str, u: NewUser) -> Result<User> {
    let hash = hash_password(u.password).await?;
    let mut tx = db.begin().await?;
    let consumed = q("DELETE FROM app_settings WHERE key = $1 AND value = $2")
        .bind(SETUP_KEY)
        .bind(token_hash(token))
        .execute(&mut tx)
        .await?;
    let users: i64 = q("SELECT COUNT(*) FROM users").scalar(&mut tx).await?;
    if consumed == 0 || users > 0 {
        return Err(AppError::Forbidden);
    }
    let id = insert(&mut tx, &u.email, &u.name, Role::Admin, &hash, u.locale, u.tz).await?;
    events::settings_changed(&mut tx, "users", false).await?;
    tx.commit().await?;
    get(db, id).await
}
