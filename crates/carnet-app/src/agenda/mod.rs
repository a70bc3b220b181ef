//! Actions and agenda (SPEC A1–A6): action types (this file), actions, and the
//! follow-up rules that react to actions being done, through the job queue.

pub mod actions;
pub mod booking;
pub mod calendar;
pub mod recurring;
pub mod rules;

/// The agenda's job kinds and subscribers (see `crate::registry`).
pub fn register(r: crate::platform::registry::Registry) -> crate::platform::registry::Registry {
    rules::register(recurring::register(r))
}

use crate::db::{q, Db};
use crate::error::{AppError, Result};
use carnet_domain::agenda::ActionTypeDef;
use carnet_domain::values::required_name;
use carnet_domain::FieldErrors;

pub async fn types(db: &Db) -> Result<Vec<ActionTypeDef>> {
    types_in(&mut db.conn().await?).await
}

/// The action types, read through any handle (a writer's transaction).
pub async fn types_in(h: &mut impl crate::db::Handle) -> Result<Vec<ActionTypeDef>> {
    let rows: Vec<(i64, String, String, String, String)> = q("SELECT id, name, color, icon, kind FROM action_types ORDER BY position, id")
        .fetch_all(h)
        .await?;
    Ok(rows
        .into_iter()
        .map(|(id, name, color, icon, kind)| ActionTypeDef {
            id,
            name,
            color,
            icon,
            kind,
        })
        .collect())
}

/// The default action types, once: (name, colour, icon, kind).
const DEFAULTS: &[(&str, &str, &str, &str)] = &[
    ("Task", "#6b7785", "check", "task"),
    ("Phone call", "#1971c2", "phone", "task"),
    ("Email", "#0b7285", "mail", "task"),
    ("Physical appointment", "#2b8a3e", "handshake", "appointment"),
    ("Phone appointment", "#5f3dc4", "phone-call", "appointment"),
    ("Videoconference", "#862e9c", "video", "appointment"),
    ("Demo", "#e67700", "screen", "appointment"),
    ("Customer visit", "#c92a2a", "building", "appointment"),
];

pub async fn seed_defaults(db: &Db) -> Result<()> {
    let mut tx = db.begin().await?;
    let seeded: Option<String> = q("SELECT value FROM app_settings WHERE key = 'seeded_agenda'")
        .scalar_opt(&mut tx)
        .await?;
    if seeded.is_some() {
        return Ok(());
    }
    for (i, (name, color, icon, kind)) in DEFAULTS.iter().enumerate() {
        q("INSERT INTO action_types (name, color, icon, kind, position) VALUES ($1, $2, $3, $4, $5)")
            .bind(*name)
            .bind(*color)
            .bind(*icon)
            .bind(*kind)
            .bind(i as i64 + 1)
            .execute(&mut tx)
            .await?;
    }
    q("INSERT INTO app_settings (key, value) VALUES ('seeded_agenda', $1)")
        .bind(tx.now().to_string())
        .execute(&mut tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

/// Checks a type's name, colour and icon: (name, colour, icon).
fn check_type(e: &mut FieldErrors, name: &str, color: &str, icon: &str) -> (String, String, String) {
    let name = e.check("name", required_name(name)).unwrap_or_default();
    let color = color.trim();
    if !(color.len() == 7 && color.starts_with('#') && color[1..].chars().all(|c| c.is_ascii_hexdigit())) {
        e.add("color", "must be a colour like #1a2b3c");
    }
    let icon = if icon.trim().is_empty() { "dot" } else { icon.trim() };
    if icon.len() > 40 || !icon.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
        e.add("icon", "must be a short icon name (letters, digits, -)");
    }
    (name, color.to_lowercase(), icon.to_string())
}

fn name_taken(e: sqlx::Error) -> AppError {
    if crate::db::is_unique_violation(&e) {
        AppError::field("name", "an action type with this name already exists")
    } else {
        e.into()
    }
}

pub async fn create_type(db: &Db, name: &str, color: &str, icon: &str, kind: &str) -> Result<i64> {
    let mut e = FieldErrors::new();
    let (name, color, icon) = check_type(&mut e, name, color, icon);
    if !["task", "appointment"].contains(&kind) {
        e.add("kind", "must be task or appointment");
    }
    e.into_result()?;
    let mut tx = db.begin().await?;
    let pos: i64 = q("SELECT COALESCE(MAX(position), 0) + 1 FROM action_types").scalar(&mut tx).await?;
    let id = q("INSERT INTO action_types (name, color, icon, kind, position) VALUES ($1, $2, $3, $4, $5) RETURNING id")
        .bind(name)
        .bind(color)
        .bind(icon)
        .bind(kind)
        .bind(pos)
        .insert_id(&mut tx)
        .await
        .map_err(name_taken)?;
    tx.commit().await?;
    Ok(id)
}

/// Renames or recolours a type (its kind stays: actions of it depend on it).
pub async fn update_type(db: &Db, id: i64, name: &str, color: &str, icon: &str) -> Result<()> {
    let mut e = FieldErrors::new();
    let (name, color, icon) = check_type(&mut e, name, color, icon);
    e.into_result()?;
    let mut tx = db.begin().await?;
    let n = q("UPDATE action_types SET name = $1, color = $2, icon = $3 WHERE id = $4")
        .bind(name)
        .bind(color)
        .bind(icon)
        .bind(id)
        .execute(&mut tx)
        .await
        .map_err(name_taken)?;
    if n == 0 {
        return Err(AppError::NotFound);
    }
    tx.commit().await?;
    Ok(())
}
