//! Company settings that shape the records (SPEC R2–R6): statuses, tag
//! categories and tags, custom fields, mandatory rules, contact roles. Edited by
//! administrators; loaded together as the [`Catalog`] the record parsers use.

use crate::db::{q, Db, Handle, Tx};
use crate::error::{AppError, Result};
use crate::platform::events::{self, Event, EventKind};
use crate::platform::registry::{BoxFut, Delivery, Registry, Subscriber};
use carnet_domain::fields::{Entity, FieldDef, FieldKind};
use carnet_domain::records::{Catalog, CategoryDef, RoleDef, RuleDef, StatusDef, TagDef, UserRef, ACCOUNT_FIELDS, CONTACT_FIELDS};
use carnet_domain::values::{fold, required_name};
use carnet_domain::FieldErrors;

/// The catalogue the record parsers use — statuses, tags, custom fields, rules,
/// users, contact roles, and the sales catalogue — read once and kept in
/// memory until a settings write raises `catalog_version` (every settings
/// writer records a `settings_changed` event; [`register`]'s subscriber raises
/// the version in that transaction). A request then costs one query, and every
/// node sees another node's change at its next request.
pub async fn catalog(db: &Db) -> Result<Catalog> {
    let version: i64 = q("SELECT version FROM catalog_version WHERE id = 1")
        .scalar(&mut db.conn().await?)
        .await?;
    if let Some((v, cat)) = db_cache(db).lock().map_err(AppError::internal)?.as_ref() {
        if *v == version {
            return Ok((**cat).clone());
        }
    }
    // Read after the version: a change committed meanwhile is newer than the
    // version kept, and the next request reads again.
    let mut cat = load(&mut db.conn().await?).await?;
    cat.sales = crate::sales::catalog(db).await?;
    *db_cache(db).lock().map_err(AppError::internal)? = Some((version, std::sync::Arc::new(cat.clone())));
    Ok(cat)
}

/// The catalogue read through any handle (a queue transaction): the cached
/// one when it is current, else read through the handle.
pub async fn catalog_in(h: &mut impl crate::db::Handle) -> Result<Catalog> {
    let version: i64 = q("SELECT version FROM catalog_version WHERE id = 1").scalar(&mut *h).await?;
    if let Some((v, cat)) = h.shared().catalog.lock().map_err(AppError::internal)?.as_ref() {
        if *v == version {
            return Ok((**cat).clone());
        }
    }
    let mut cat = load(&mut *h).await?;
    cat.sales = crate::sales::catalog_in(&mut *h).await?;
    Ok(cat)
}

fn db_cache(db: &Db) -> &std::sync::Mutex<Option<(i64, std::sync::Arc<Catalog>)>> {
    &db.shared().catalog
}

fn bump_version<'a>(tx: &'a mut Tx, _e: &'a Event) -> BoxFut<'a, Result<()>> {
    Box::pin(async move {
        q("UPDATE catalog_version SET version = version + 1 WHERE id = 1")
            .execute(tx)
            .await?;
        Ok(())
    })
}

/// The catalogue's cache invalidation (see `crate::registry`).
pub fn register(r: Registry) -> Registry {
    r.subscribe(Subscriber {
        name: "catalogue version",
        kinds: &[EventKind::SettingsChanged],
        delivery: Delivery::InWriterTx,
        run: bump_version,
    })
}

async fn load(c: &mut impl crate::db::Handle) -> Result<Catalog> {
    let statuses: Vec<(i64, String, i64, String, bool)> =
        q("SELECT id, name, position, color, is_default FROM statuses ORDER BY position, id")
            .fetch_all(&mut *c)
            .await?;
    let cats: Vec<(i64, String, bool, bool)> = q("SELECT id, name, multi, is_segment FROM tag_categories ORDER BY position, id")
        .fetch_all(&mut *c)
        .await?;
    let tags: Vec<(i64, i64, String, String)> = q("SELECT id, category_id, name, color FROM tags ORDER BY position, id")
        .fetch_all(&mut *c)
        .await?;
    let fields: Vec<(i64, String, String, String, String, String)> =
        q("SELECT id, entity, key, label, kind, choices FROM custom_fields ORDER BY position, id")
            .fetch_all(&mut *c)
            .await?;
    let rules: Vec<(i64, String, String, Option<i64>)> = q("SELECT id, entity, field, from_status_id FROM mandatory_rules ORDER BY id")
        .fetch_all(&mut *c)
        .await?;
    let users: Vec<(i64, String, String, bool)> = q("SELECT id, name, email, active FROM users ORDER BY name, id")
        .fetch_all(&mut *c)
        .await?;
    let roles: Vec<(i64, String)> = q("SELECT id, name FROM contact_roles ORDER BY position, id")
        .fetch_all(&mut *c)
        .await?;
    Ok(Catalog {
        statuses: statuses
            .into_iter()
            .map(|(id, name, position, color, is_default)| StatusDef {
                id,
                name,
                position,
                color,
                is_default,
            })
            .collect(),
        categories: cats
            .into_iter()
            .map(|(id, name, multi, is_segment)| CategoryDef {
                id,
                name,
                multi,
                is_segment,
                tags: tags
                    .iter()
                    .filter(|t| t.1 == id)
                    .map(|t| TagDef {
                        id: t.0,
                        category_id: t.1,
                        name: t.2.clone(),
                        color: t.3.clone(),
                    })
                    .collect(),
            })
            .collect(),
        fields: fields
            .into_iter()
            .filter_map(|(id, entity, key, label, kind, choices)| {
                Some(FieldDef {
                    id,
                    entity: Entity::parse(&entity).ok()?,
                    key,
                    label,
                    kind: FieldKind::parse(&kind).ok()?,
                    choices: serde_json::from_str(&choices).unwrap_or_default(),
                })
            })
            .collect(),
        rules: rules
            .into_iter()
            .filter_map(|(id, entity, field, from_status_id)| {
                Some(RuleDef {
                    id,
                    entity: Entity::parse(&entity).ok()?,
                    field,
                    from_status_id,
                })
            })
            .collect(),
        users: users
            .into_iter()
            .map(|(id, name, email, active)| UserRef { id, name, email, active })
            .collect(),
        roles: roles.into_iter().map(|(id, name)| RoleDef { id, name }).collect(),
        sales: Default::default(),
    })
}

/// Fills a new database with sensible defaults, once.
pub async fn seed_defaults(db: &Db) -> Result<()> {
    let mut tx = db.begin().await?;
    let seeded: Option<String> = q("SELECT value FROM app_settings WHERE key = 'seeded'").scalar_opt(&mut tx).await?;
    if seeded.is_some() {
        return Ok(());
    }
    for (i, (name, color)) in [
        ("Prospect", "#5b7db1"),
        ("Customer", "#2e8b57"),
        ("Partner", "#8a6bbf"),
        ("Competitor", "#c0504d"),
        ("Former customer", "#8c8c8c"),
    ]
    .iter()
    .enumerate()
    {
        q("INSERT INTO statuses (name, position, color, is_default) VALUES ($1, $2, $3, $4)")
            .bind(*name)
            .bind(i as i64 + 1)
            .bind(*color)
            .bind(i == 0)
            .execute(&mut tx)
            .await?;
    }
    for (i, name) in ["Decision maker", "Billing contact", "User", "Technical contact"]
        .iter()
        .enumerate()
    {
        q("INSERT INTO contact_roles (name, position) VALUES ($1, $2)")
            .bind(*name)
            .bind(i as i64 + 1)
            .execute(&mut tx)
            .await?;
    }
    let cat = q("INSERT INTO tag_categories (name, multi, is_segment, position) VALUES ('Potential', FALSE, TRUE, 1) RETURNING id")
        .insert_id(&mut tx)
        .await?;
    for (i, (name, color)) in [("Gold", "#c9a227"), ("Silver", "#8e9aa6"), ("Bronze", "#b0723a")]
        .iter()
        .enumerate()
    {
        q("INSERT INTO tags (category_id, name, color, position) VALUES ($1, $2, $3, $4)")
            .bind(cat)
            .bind(*name)
            .bind(*color)
            .bind(i as i64 + 1)
            .execute(&mut tx)
            .await?;
    }
    q("INSERT INTO app_settings (key, value) VALUES ('seeded', $1)")
        .bind(tx.now().to_string())
        .execute(&mut tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

fn color(raw: &str) -> Result<String, String> {
    let c = raw.trim();
    if c.len() == 7 && c.starts_with('#') && c[1..].chars().all(|ch| ch.is_ascii_hexdigit()) {
        Ok(c.to_lowercase())
    } else {
        Err("must be a colour like #1a2b3c".into())
    }
}

fn color_or_default(raw: &str) -> Result<String, String> {
    if raw.trim().is_empty() {
        Ok("#6b7785".into())
    } else {
        color(raw)
    }
}

async fn next_position(h: &mut impl Handle, table: &str, filter: Option<(&str, i64)>) -> Result<i64> {
    let mut query = q(format!("SELECT COALESCE(MAX(position), 0) + 1 FROM {table}"));
    if let Some((col, v)) = filter {
        query.push(&format!(" WHERE {col} = ")).push_bind(v);
    }
    Ok(query.scalar::<i64>(h).await?)
}

fn unique(e: sqlx::Error, field: &str, what: &str) -> AppError {
    if crate::db::is_unique_violation(&e) {
        AppError::field(field, format!("{what} already exists"))
    } else {
        e.into()
    }
}

async fn commit_one<T>(tx: Tx, v: T) -> Result<T> {
    tx.commit().await?;
    Ok(v)
}

// ---- statuses (R2) ----

pub async fn create_status(db: &Db, name: &str, color_raw: &str) -> Result<i64> {
    let mut e = FieldErrors::new();
    let name = e.check("name", required_name(name));
    let color = e.check("color", color_or_default(color_raw));
    e.into_result()?;
    let mut tx = db.begin().await?;
    let pos = next_position(&mut tx, "statuses", None).await?;
    let id = q("INSERT INTO statuses (name, position, color, is_default) VALUES ($1, $2, $3, FALSE) RETURNING id")
        .bind(name.unwrap())
        .bind(pos)
        .bind(color.unwrap())
        .insert_id(&mut tx)
        .await
        .map_err(|e| unique(e, "name", "a status with this name"))?;
    events::settings_changed(&mut tx, "statuses", false).await?;
    commit_one(tx, id).await
}

pub async fn update_status(db: &Db, id: i64, name: &str, color_raw: &str, make_default: bool) -> Result<()> {
    let mut e = FieldErrors::new();
    let name = e.check("name", required_name(name));
    let color = e.check("color", color(color_raw));
    e.into_result()?;
    let mut tx = db.begin().await?;
    let n = q("UPDATE statuses SET name = $1, color = $2 WHERE id = $3")
        .bind(name.unwrap())
        .bind(color.unwrap())
        .bind(id)
        .execute(&mut tx)
        .await
        .map_err(|e| unique(e, "name", "a status with this name"))?;
    if n == 0 {
        return Err(AppError::NotFound);
    }
    if make_default {
        q("UPDATE statuses SET is_default = (id = $1)").bind(id).execute(&mut tx).await?;
    }
    events::settings_changed(&mut tx, "statuses", false).await?;
    commit_one(tx, ()).await
}

/// Moves a status one place up (-1) or down (+1) in the order that
/// "mandatory from status X on" rules follow.
pub async fn move_status(db: &Db, id: i64, delta: i64) -> Result<()> {
    let mut tx = db.begin().await?;
    let ids: Vec<(i64,)> = q("SELECT id FROM statuses ORDER BY position, id").fetch_all(&mut tx).await?;
    let mut ids: Vec<i64> = ids.into_iter().map(|r| r.0).collect();
    let i = ids.iter().position(|x| *x == id).ok_or(AppError::NotFound)?;
    let j = i as i64 + delta;
    if j >= 0 && (j as usize) < ids.len() {
        ids.swap(i, j as usize);
    }
    for (pos, sid) in ids.iter().enumerate() {
        q("UPDATE statuses SET position = $1 WHERE id = $2")
            .bind(pos as i64 + 1)
            .bind(*sid)
            .execute(&mut tx)
            .await?;
    }
    events::settings_changed(&mut tx, "statuses", false).await?;
    commit_one(tx, ()).await
}

/// Deletes a status; accounts that have it move to `replacement` (required then).
pub async fn delete_status(db: &Db, id: i64, replacement: Option<i64>) -> Result<()> {
    let mut tx = db.begin().await?;
    let used: i64 = q("SELECT COUNT(*) FROM accounts WHERE status_id = $1")
        .bind(id)
        .scalar(&mut tx)
        .await?;
    let total: i64 = q("SELECT COUNT(*) FROM statuses").scalar(&mut tx).await?;
    if total <= 1 {
        return Err(AppError::field("status", "the last status cannot be deleted"));
    }
    if used > 0 {
        let to = replacement.filter(|r| *r != id).ok_or_else(|| {
            AppError::field(
                "replacement",
                format!("{used} accounts have this status: choose the status they move to"),
            )
        })?;
        let exists: Option<i64> = q("SELECT id FROM statuses WHERE id = $1").bind(to).scalar_opt(&mut tx).await?;
        if exists.is_none() {
            return Err(AppError::field("replacement", "is not a known status"));
        }
        q("UPDATE accounts SET status_id = $1 WHERE status_id = $2")
            .bind(to)
            .bind(id)
            .execute(&mut tx)
            .await?;
    }
    let was_default: Option<bool> = q("SELECT is_default FROM statuses WHERE id = $1")
        .bind(id)
        .scalar_opt(&mut tx)
        .await?;
    let Some(was_default) = was_default else {
        return Err(AppError::NotFound);
    };
    q("DELETE FROM statuses WHERE id = $1").bind(id).execute(&mut tx).await?;
    if was_default {
        q("UPDATE statuses SET is_default = (id = (SELECT MIN(id) FROM statuses))")
            .execute(&mut tx)
            .await?;
    }
    events::settings_changed(&mut tx, "statuses", false).await?;
    commit_one(tx, ()).await
}

// ---- tag categories and tags (R3) ----

pub async fn create_category(db: &Db, name: &str, multi: bool, is_segment: bool) -> Result<i64> {
    let name = required_name(name).map_err(|e| AppError::field("name", e))?;
    let mut tx = db.begin().await?;
    let pos = next_position(&mut tx, "tag_categories", None).await?;
    let id = q("INSERT INTO tag_categories (name, multi, is_segment, position) VALUES ($1, $2, $3, $4) RETURNING id")
        .bind(name)
        .bind(multi)
        .bind(is_segment)
        .bind(pos)
        .insert_id(&mut tx)
        .await
        .map_err(|e| unique(e, "name", "a category with this name"))?;
    events::settings_changed(&mut tx, "tag_categories", false).await?;
    commit_one(tx, id).await
}

pub async fn update_category(db: &Db, id: i64, name: &str, multi: bool, is_segment: bool) -> Result<()> {
    let name = required_name(name).map_err(|e| AppError::field("name", e))?;
    let mut tx = db.begin().await?;
    if !multi {
        // Turning a category single-valued must not leave records with two of its tags.
        let clash: Option<i64> = q(
            "SELECT rt.record_id FROM record_tags rt JOIN tags t ON t.id = rt.tag_id WHERE t.category_id = $1 \
                                    GROUP BY rt.entity, rt.record_id HAVING COUNT(*) > 1 LIMIT 1",
        )
        .bind(id)
        .scalar_opt(&mut tx)
        .await?;
        if clash.is_some() {
            return Err(AppError::field("multi", "some records have several tags of this category"));
        }
    }
    let n = q("UPDATE tag_categories SET name = $1, multi = $2, is_segment = $3 WHERE id = $4")
        .bind(name)
        .bind(multi)
        .bind(is_segment)
        .bind(id)
        .execute(&mut tx)
        .await
        .map_err(|e| unique(e, "name", "a category with this name"))?;
    if n == 0 {
        return Err(AppError::NotFound);
    }
    events::settings_changed(&mut tx, "tag_categories", true).await?;
    commit_one(tx, ()).await
}

pub async fn delete_category(db: &Db, id: i64) -> Result<()> {
    let mut tx = db.begin().await?;
    q("DELETE FROM record_tags WHERE tag_id IN (SELECT id FROM tags WHERE category_id = $1)")
        .bind(id)
        .execute(&mut tx)
        .await?;
    q("DELETE FROM tags WHERE category_id = $1").bind(id).execute(&mut tx).await?;
    if q("DELETE FROM tag_categories WHERE id = $1").bind(id).execute(&mut tx).await? == 0 {
        return Err(AppError::NotFound);
    }
    events::settings_changed(&mut tx, "tags", true).await?;
    commit_one(tx, ()).await
}

pub async fn create_tag(db: &Db, category_id: i64, name: &str, color_raw: &str) -> Result<i64> {
    let mut e = FieldErrors::new();
    let name = e.check("name", required_name(name));
    let color = e.check("color", color_or_default(color_raw));
    e.into_result()?;
    if name.as_deref().is_some_and(|n| n.contains('/')) {
        return Err(AppError::field("name", "must not contain “/”"));
    }
    let mut tx = db.begin().await?;
    let exists: Option<i64> = q("SELECT id FROM tag_categories WHERE id = $1")
        .bind(category_id)
        .scalar_opt(&mut tx)
        .await?;
    if exists.is_none() {
        return Err(AppError::field("category_id", "is not a known tag category"));
    }
    let pos = next_position(&mut tx, "tags", Some(("category_id", category_id))).await?;
    let id = q("INSERT INTO tags (category_id, name, color, position) VALUES ($1, $2, $3, $4) RETURNING id")
        .bind(category_id)
        .bind(name.unwrap())
        .bind(color.unwrap())
        .bind(pos)
        .insert_id(&mut tx)
        .await
        .map_err(|e| unique(e, "name", "a tag with this name in this category"))?;
    events::settings_changed(&mut tx, "tags", false).await?;
    commit_one(tx, id).await
}

pub async fn update_tag(db: &Db, id: i64, name: &str, color_raw: &str) -> Result<()> {
    let mut e = FieldErrors::new();
    let name = e.check("name", required_name(name));
    let color = e.check("color", color(color_raw));
    e.into_result()?;
    let mut tx = db.begin().await?;
    let n = q("UPDATE tags SET name = $1, color = $2 WHERE id = $3")
        .bind(name.unwrap())
        .bind(color.unwrap())
        .bind(id)
        .execute(&mut tx)
        .await
        .map_err(|e| unique(e, "name", "a tag with this name in this category"))?;
    if n == 0 {
        return Err(AppError::NotFound);
    }
    events::settings_changed(&mut tx, "tags", false).await?;
    commit_one(tx, ()).await
}

pub async fn delete_tag(db: &Db, id: i64) -> Result<()> {
    let mut tx = db.begin().await?;
    q("DELETE FROM record_tags WHERE tag_id = $1").bind(id).execute(&mut tx).await?;
    if q("DELETE FROM tags WHERE id = $1").bind(id).execute(&mut tx).await? == 0 {
        return Err(AppError::NotFound);
    }
    events::settings_changed(&mut tx, "tags", true).await?;
    commit_one(tx, ()).await
}

// ---- custom fields (R4) ----

pub struct NewField<'a> {
    pub entity: &'a str,
    pub key: &'a str,
    pub label: &'a str,
    pub kind: &'a str,
    pub choices: &'a str,
}

fn parse_choices(raw: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for c in raw.lines().flat_map(|l| l.split(';')).map(str::trim).filter(|c| !c.is_empty()) {
        if !out.iter().any(|o| o.eq_ignore_ascii_case(c)) {
            out.push(c.to_string());
        }
    }
    out
}

pub async fn create_field(db: &Db, f: NewField<'_>) -> Result<i64> {
    let mut e = FieldErrors::new();
    let entity = e.check("entity", Entity::parse(f.entity));
    let label = e.check("label", required_name(f.label));
    let kind = e.check("kind", FieldKind::parse(f.kind));
    let key_src = if f.key.trim().is_empty() {
        label.clone().unwrap_or_default()
    } else {
        f.key.to_string()
    };
    let key = fold(&key_src).replace(' ', "_");
    if key.is_empty() || key.len() > 60 || !key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        e.add("key", "must be made of letters, digits and _ (at most 60)");
    }
    let choices = parse_choices(f.choices);
    if kind.is_some_and(FieldKind::has_choices) && choices.is_empty() {
        e.add("choices", "a choice field needs at least one choice");
    }
    if choices.iter().any(|c| c.chars().count() > 100) {
        e.add("choices", "each choice must be at most 100 characters");
    }
    e.into_result()?;
    let mut tx = db.begin().await?;
    let pos = next_position(&mut tx, "custom_fields", None).await?;
    let id = q("INSERT INTO custom_fields (entity, key, label, kind, choices, position) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id")
        .bind(entity.unwrap().as_str())
        .bind(key)
        .bind(label.unwrap())
        .bind(kind.unwrap().as_str())
        .bind(serde_json::to_string(&choices).unwrap_or_default())
        .bind(pos)
        .insert_id(&mut tx)
        .await
        .map_err(|e| unique(e, "key", "a field with this key"))?;
    events::settings_changed(&mut tx, "custom_fields", false).await?;
    commit_one(tx, id).await
}

/// Changes a field's label and choices; its type and key stay (values depend on them).
pub async fn update_field(db: &Db, id: i64, label: &str, choices_raw: &str) -> Result<()> {
    let label = required_name(label).map_err(|e| AppError::field("label", e))?;
    let mut tx = db.begin().await?;
    let kind: Option<String> = q("SELECT kind FROM custom_fields WHERE id = $1")
        .bind(id)
        .scalar_opt(&mut tx)
        .await?;
    let kind = FieldKind::parse(&kind.ok_or(AppError::NotFound)?).map_err(AppError::internal)?;
    let choices = parse_choices(choices_raw);
    if kind.has_choices() {
        if choices.is_empty() {
            return Err(AppError::field("choices", "a choice field needs at least one choice"));
        }
        // A choice still in use cannot silently disappear.
        let used: Vec<(String,)> = q("SELECT DISTINCT value_text FROM field_values WHERE field_id = $1")
            .bind(id)
            .fetch_all(&mut tx)
            .await?;
        if let Some((gone,)) = used.iter().find(|(v,)| !choices.contains(v)) {
            return Err(AppError::field("choices", format!("“{gone}” is still used by some records")));
        }
    }
    q("UPDATE custom_fields SET label = $1, choices = $2 WHERE id = $3")
        .bind(label)
        .bind(serde_json::to_string(&choices).unwrap_or_default())
        .bind(id)
        .execute(&mut tx)
        .await?;
    events::settings_changed(&mut tx, "custom_fields", false).await?;
    commit_one(tx, ()).await
}

pub async fn delete_field(db: &Db, id: i64) -> Result<()> {
    let mut tx = db.begin().await?;
    let key: Option<(String, String)> = q("SELECT entity, key FROM custom_fields WHERE id = $1")
        .bind(id)
        .fetch_optional(&mut tx)
        .await?;
    let (entity, key) = key.ok_or(AppError::NotFound)?;
    q("DELETE FROM field_values WHERE field_id = $1").bind(id).execute(&mut tx).await?;
    q("DELETE FROM mandatory_rules WHERE entity = $1 AND field = $2")
        .bind(entity)
        .bind(format!("cf.{key}"))
        .execute(&mut tx)
        .await?;
    q("DELETE FROM custom_fields WHERE id = $1").bind(id).execute(&mut tx).await?;
    events::settings_changed(&mut tx, "mandatory_rules", false).await?;
    commit_one(tx, ()).await
}

// ---- mandatory rules (R5) ----

pub async fn create_rule(db: &Db, entity: &str, field: &str, from_status: Option<i64>, from_stage: Option<i64>) -> Result<i64> {
    let cat = catalog(db).await?;
    let entity = Entity::parse(entity).map_err(|e| AppError::field("entity", e))?;
    let standard = match entity {
        Entity::Account => ACCOUNT_FIELDS,
        Entity::Contact => CONTACT_FIELDS,
        Entity::Opportunity => carnet_domain::sales::OPPORTUNITY_FIELDS,
    };
    let known = standard.contains(&field)
        || field
            .strip_prefix("cf.")
            .is_some_and(|k| cat.fields_for(entity).any(|f| f.key == k));
    if !known {
        return Err(AppError::field("field", "is not a field of this record type"));
    }
    if let Some(s) = from_status {
        if entity != Entity::Account {
            return Err(AppError::field("from_status", "only accounts have a status"));
        }
        if cat.status(s).is_none() {
            return Err(AppError::field("from_status", "is not a known status"));
        }
    }
    if let Some(s) = from_stage {
        if entity != Entity::Opportunity {
            return Err(AppError::field("from_stage", "only opportunities have a stage"));
        }
        let mut c = db.conn().await?;
        if q("SELECT id FROM stages WHERE id = $1")
            .bind(s)
            .scalar_opt::<i64>(&mut c)
            .await?
            .is_none()
        {
            return Err(AppError::field("from_stage", "is not a known stage"));
        }
    }
    let mut tx = db.begin().await?;
    let id = q("INSERT INTO mandatory_rules (entity, field, from_status_id, from_stage_id) VALUES ($1, $2, $3, $4) RETURNING id")
        .bind(entity.as_str())
        .bind(field)
        .bind(from_status)
        .bind(from_stage)
        .insert_id(&mut tx)
        .await
        .map_err(|e| unique(e, "field", "a rule for this field"))?;
    events::settings_changed(&mut tx, "mandatory_rules", false).await?;
    commit_one(tx, id).await
}

pub async fn delete_rule(db: &Db, id: i64) -> Result<()> {
    let mut tx = db.begin().await?;
    if q("DELETE FROM mandatory_rules WHERE id = $1").bind(id).execute(&mut tx).await? == 0 {
        return Err(AppError::NotFound);
    }
    events::settings_changed(&mut tx, "mandatory_rules", false).await?;
    tx.commit().await?;
    Ok(())
}

// ---- contact roles (R6) ----

pub async fn create_role(db: &Db, name: &str) -> Result<i64> {
    let name = required_name(name).map_err(|e| AppError::field("name", e))?;
    let mut tx = db.begin().await?;
    let pos = next_position(&mut tx, "contact_roles", None).await?;
    let id = q("INSERT INTO contact_roles (name, position) VALUES ($1, $2) RETURNING id")
        .bind(name)
        .bind(pos)
        .insert_id(&mut tx)
        .await
        .map_err(|e| unique(e, "name", "a role with this name"))?;
    events::settings_changed(&mut tx, "contact_roles", false).await?;
    commit_one(tx, id).await
}

pub async fn rename_role(db: &Db, id: i64, name: &str) -> Result<()> {
    let name = required_name(name).map_err(|e| AppError::field("name", e))?;
    let mut tx = db.begin().await?;
    let n = q("UPDATE contact_roles SET name = $1 WHERE id = $2")
        .bind(name)
        .bind(id)
        .execute(&mut tx)
        .await
        .map_err(|e| unique(e, "name", "a role with this name"))?;
    if n == 0 {
        return Err(AppError::NotFound);
    }
    events::settings_changed(&mut tx, "contact_roles", false).await?;
    commit_one(tx, ()).await
}

pub async fn delete_role(db: &Db, id: i64) -> Result<()> {
    let mut tx = db.begin().await?;
    q("UPDATE account_contacts SET role_id = NULL WHERE role_id = $1")
        .bind(id)
        .execute(&mut tx)
        .await?;
    if q("DELETE FROM contact_roles WHERE id = $1").bind(id).execute(&mut tx).await? == 0 {
        return Err(AppError::NotFound);
    }
    events::settings_changed(&mut tx, "contact_roles", false).await?;
    commit_one(tx, ()).await
}
