//! Contacts (R1) and their links to accounts with a role on each (R6).

use super::timeline::{self, NewEntry};
use super::{load_extras, save_extras, Extras};
use crate::access::User;
use crate::db::{q, Db, Handle, Tx};
use crate::error::{AppError, Result};
use crate::Carnet;
use carnet_domain::fields::Entity;
use carnet_domain::records::{Catalog, ContactDraft, RawInput};
use carnet_domain::values::fold;
use serde::Serialize;

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Contact {
    pub id: i64,
    pub first_name: Option<String>,
    pub last_name: String,
    pub name_key: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub mobile: Option<String>,
    pub job_title: Option<String>,
    pub owner_id: Option<i64>,
    pub source: Option<String>,
    pub address: Option<String>,
    pub postal_code: Option<String>,
    pub city: Option<String>,
    pub country: Option<String>,
    pub description: Option<String>,
    pub created_by: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
}

impl Contact {
    pub fn name(&self) -> String {
        display_name(self.first_name.as_deref(), &self.last_name)
    }
}

pub fn display_name(first: Option<&str>, last: &str) -> String {
    match first {
        Some(f) if !f.is_empty() => format!("{f} {last}"),
        _ => last.to_string(),
    }
}

pub const COLS: &str = "r.id, r.first_name, r.last_name, r.name_key, r.email, r.phone, r.mobile, r.job_title, r.owner_id, r.source, \
    r.address, r.postal_code, r.city, r.country, r.description, r.created_by, r.created_at, r.updated_at";

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct LinkedAccount {
    pub account_id: i64,
    pub account_name: String,
    pub role_id: Option<i64>,
    pub role_name: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ContactCard {
    pub contact: Contact,
    pub extras: Extras,
    pub accounts: Vec<LinkedAccount>,
}

/// Contacts sort by last name, then first name.
pub fn name_key(first: Option<&str>, last: &str) -> String {
    fold(&format!("{last} {}", first.unwrap_or("")))
}

/// Creates a contact, optionally linked to an account with a role, through the
/// one record writer.
pub async fn create(c: &Carnet, cat: &Catalog, actor: &User, d: &ContactDraft, link: Option<(i64, Option<i64>)>) -> Result<i64> {
    let mut tx = c.db.begin().await?;
    let id = super::write::insert(&mut tx, cat, Some(actor.id), std::slice::from_ref(d)).await?[0];
    if let Some((account_id, role_id)) = link {
        link_in(&mut tx, cat, Some(actor.id), account_id, id, &d.full_name(), role_id).await?;
    }
    tx.commit().await?;
    Ok(id)
}

pub async fn update(c: &Carnet, cat: &Catalog, actor: &User, id: i64, d: &ContactDraft) -> Result<()> {
    let old = get(&c.db, cat, id).await?;
    let mut tx = c.db.begin().await?;
    update_in(&mut tx, cat, &old, Some(actor.id), d).await?;
    tx.commit().await?;
    Ok(())
}

/// Writes a contact read before as `old` in the caller's transaction, with
/// its timeline entry and events for what changed (`actor` is `None` for a
/// visitor's own form).
pub async fn update_in(tx: &mut Tx, cat: &Catalog, old: &ContactCard, actor: Option<i64>, d: &ContactDraft) -> Result<()> {
    let id = old.contact.id;
    if !super::write::update(tx, cat, id, d).await? {
        return Err(AppError::NotFound);
    }
    save_extras(tx, cat, Entity::Contact, id, &d.tag_ids, &d.custom).await?;
    let o = &old.contact;
    let mut changed = super::Changes::default();
    changed.field("first_name", o.first_name.as_deref(), d.first_name.as_deref());
    changed.field("last_name", Some(&o.last_name), Some(&d.last_name));
    changed.field("email", o.email.as_deref(), d.email.as_ref().map(|e| e.as_str()));
    changed.field("phone", o.phone.as_deref(), d.phone.as_ref().map(|p| p.display.as_str()));
    changed.field("mobile", o.mobile.as_deref(), d.mobile.as_ref().map(|p| p.display.as_str()));
    changed.field("job_title", o.job_title.as_deref(), d.job_title.as_deref());
    changed.owner(o.owner_id, d.owner_id);
    changed.field("source", o.source.as_deref(), d.source.as_deref());
    changed.field("address", o.address.as_deref(), d.address.as_deref());
    changed.field("postal_code", o.postal_code.as_deref(), d.postal_code.as_deref());
    changed.field("city", o.city.as_deref(), d.city.as_deref());
    changed.field("country", o.country.as_deref(), d.country.as_deref());
    changed.field("description", o.description.as_deref(), d.description.as_deref());
    changed.extras(cat, Entity::Contact, &old.extras, &d.tag_ids, &d.custom);
    changed.record(tx, Entity::Contact, id, actor, &d.full_name()).await
}

pub async fn get(db: &Db, cat: &Catalog, id: i64) -> Result<ContactCard> {
    get_in(&mut db.conn().await?, cat, id).await
}

/// A contact's card, read through any handle (a transaction included).
pub async fn get_in(c: &mut impl Handle, cat: &Catalog, id: i64) -> Result<ContactCard> {
    let contact: Contact = q(format!("SELECT {COLS} FROM contacts r WHERE r.id = $1"))
        .bind(id)
        .fetch_optional(&mut *c)
        .await?
        .ok_or(AppError::NotFound)?;
    let extras = load_extras(&mut *c, cat, Entity::Contact, &[id])
        .await?
        .remove(&id)
        .unwrap_or_default();
    let accounts = q(
        "SELECT a.id AS account_id, a.name AS account_name, ac.role_id, cr.name AS role_name \
                      FROM account_contacts ac JOIN accounts a ON a.id = ac.account_id LEFT JOIN contact_roles cr ON cr.id = ac.role_id \
                      WHERE ac.contact_id = $1 ORDER BY a.name_key, a.id",
    )
    .bind(id)
    .fetch_all(&mut *c)
    .await?;
    Ok(ContactCard { contact, extras, accounts })
}

pub async fn delete(c: &Carnet, actor: &User, id: i64) -> Result<()> {
    let mut tx = c.db.begin().await?;
    let name: (Option<String>, String) = q("SELECT first_name, last_name FROM contacts WHERE id = $1")
        .bind(id)
        .fetch_optional(&mut tx)
        .await?
        .ok_or(AppError::NotFound)?;
    super::record_deleted(
        &mut tx,
        Entity::Contact,
        id,
        Some(actor.id),
        &display_name(name.0.as_deref(), &name.1),
    )
    .await?;
    q("DELETE FROM contacts WHERE id = $1").bind(id).execute(&mut tx).await?;
    let files = super::delete_attached(&mut tx, Entity::Contact, id).await?;
    tx.commit().await?;
    super::attachments::remove_files(c, &files).await;
    Ok(())
}

/// Links a contact to an account in the caller's transaction (`actor` is
/// `None` for a visitor's own form).
pub async fn link_in(
    h: &mut impl Handle,
    cat: &Catalog,
    actor: Option<i64>,
    account_id: i64,
    contact_id: i64,
    contact_name: &str,
    role_id: Option<i64>,
) -> Result<()> {
    if let Some(r) = role_id {
        if cat.role(r).is_none() {
            return Err(AppError::field("role", "is not a known contact role"));
        }
    }
    let account: Option<String> = q("SELECT name FROM accounts WHERE id = $1").bind(account_id).scalar_opt(h).await?;
    let account = account.ok_or_else(|| AppError::field("account", "is not a known account"))?;
    q(
        "INSERT INTO account_contacts (account_id, contact_id, role_id, created_at) VALUES ($1, $2, $3, $4) \
       ON CONFLICT (account_id, contact_id) DO UPDATE SET role_id = excluded.role_id",
    )
    .bind(account_id)
    .bind(contact_id)
    .bind(role_id)
    .bind(h.now())
    .execute(h)
    .await?;
    let role = role_id.and_then(|r| cat.role(r)).map(|r| r.name.clone());
    timeline::add(
        h,
        NewEntry {
            entity: Entity::Account,
            record_id: account_id,
            kind: "linked",
            actor_id: actor,
            title: &account,
            body: None,
            data: Some(serde_json::json!({"contact": contact_name, "contact_id": contact_id, "role": role})),
        },
    )
    .await?;
    Ok(())
}

/// Links a contact to an account with a role, or changes the role of a link.
pub async fn link(c: &Carnet, cat: &Catalog, actor: &User, account_id: i64, contact_id: i64, role_id: Option<i64>) -> Result<()> {
    let mut tx = c.db.begin().await?;
    let name: Option<(Option<String>, String)> = q("SELECT first_name, last_name FROM contacts WHERE id = $1")
        .bind(contact_id)
        .fetch_optional(&mut tx)
        .await?;
    let (first, last) = name.ok_or_else(|| AppError::field("contact", "is not a known contact"))?;
    link_in(
        &mut tx,
        cat,
        Some(actor.id),
        account_id,
        contact_id,
        &display_name(first.as_deref(), &last),
        role_id,
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

pub async fn unlink(c: &Carnet, account_id: i64, contact_id: i64) -> Result<()> {
    let mut tx = c.db.begin().await?;
    let n = q("DELETE FROM account_contacts WHERE account_id = $1 AND contact_id = $2")
        .bind(account_id)
        .bind(contact_id)
        .execute(&mut tx)
        .await?;
    if n == 0 {
        return Err(AppError::NotFound);
    }
    tx.commit().await?;
    Ok(())
}

pub fn to_raw(card: &ContactCard, cat: &Catalog) -> RawInput {
    let c = &card.contact;
    let mut r = RawInput::default();
    let opt = |v: &Option<String>| v.clone().unwrap_or_default();
    r.set("first_name", opt(&c.first_name));
    r.set("last_name", c.last_name.clone());
    r.set("email", opt(&c.email));
    r.set("phone", opt(&c.phone));
    r.set("mobile", opt(&c.mobile));
    r.set("job_title", opt(&c.job_title));
    r.set("owner", c.owner_id.map(|o| o.to_string()).unwrap_or_default());
    r.set("source", opt(&c.source));
    r.set("address", opt(&c.address));
    r.set("postal_code", opt(&c.postal_code));
    r.set("city", opt(&c.city));
    r.set("country", opt(&c.country));
    r.set("description", opt(&c.description));
    super::extras_to_raw(&mut r, cat, Entity::Contact, &card.extras);
    r
}
