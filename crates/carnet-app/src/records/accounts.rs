//! Accounts (R1): companies, or persons in B2C. Creating, changing and deleting
//! one keeps its tags, custom values, search tokens and timeline in step, in one
//! transaction.

use super::timeline::{self, NewEntry};
use super::{load_extras, save_extras, Extras};
use crate::access::User;
use crate::db::{q, Db, Handle, Tx};
use crate::error::{AppError, Result};
use crate::platform::events::{self, Scope};
use crate::Carnet;
use carnet_domain::fields::Entity;
use carnet_domain::records::{AccountDraft, Catalog, RawInput};
use serde::Serialize;

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Account {
    pub id: i64,
    pub name: String,
    pub name_key: String,
    pub status_id: i64,
    pub owner_id: Option<i64>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub website: Option<String>,
    pub domain: Option<String>,
    pub address: Option<String>,
    pub postal_code: Option<String>,
    pub city: Option<String>,
    pub country: Option<String>,
    pub company_id: Option<String>,
    pub vat_number: Option<String>,
    pub source: Option<String>,
    pub description: Option<String>,
    pub created_by: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
}

pub const COLS: &str = "r.id, r.name, r.name_key, r.status_id, r.owner_id, r.email, r.phone, r.website, r.domain, r.address, \
    r.postal_code, r.city, r.country, r.company_id, r.vat_number, r.source, r.description, r.created_by, r.created_at, r.updated_at";

/// A contact linked to the account, with its role there (R6).
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct LinkedContact {
    pub contact_id: i64,
    pub first_name: Option<String>,
    pub last_name: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub job_title: Option<String>,
    pub role_id: Option<i64>,
    pub role_name: Option<String>,
}

impl LinkedContact {
    pub fn name(&self) -> String {
        super::contacts::display_name(self.first_name.as_deref(), &self.last_name)
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct AccountCard {
    pub account: Account,
    pub extras: Extras,
    pub contacts: Vec<LinkedContact>,
}

/// Creates an account: the row, its tags and custom values, search tokens, a
/// `created` timeline entry and its events, through the one record writer.
pub async fn create(c: &Carnet, cat: &Catalog, actor: &User, d: &AccountDraft) -> Result<i64> {
    let mut tx = c.db.begin().await?;
    let id = super::write::insert(&mut tx, cat, Some(actor.id), std::slice::from_ref(d)).await?[0];
    tx.commit().await?;
    Ok(id)
}

pub async fn update(c: &Carnet, cat: &Catalog, actor: &User, id: i64, d: &AccountDraft) -> Result<()> {
    let old = get(&c.db, cat, id).await?;
    let mut tx = c.db.begin().await?;
    update_in(&mut tx, cat, &old, Some(actor.id), d).await?;
    tx.commit().await?;
    Ok(())
}

/// Writes an account read before as `old` in the caller's transaction, with
/// its timeline entries and events for what changed (`actor` is `None` for
/// Carnet's own rules, such as a lead's hand-off).
pub async fn update_in(tx: &mut Tx, cat: &Catalog, old: &AccountCard, actor: Option<i64>, d: &AccountDraft) -> Result<()> {
    let id = old.account.id;
    // Its tags decide its deals' and actions' segment: the watchers read them before.
    let watch = events::watch(tx, Scope::one("account", id)).await?;
    if !super::write::update(tx, cat, id, d).await? {
        return Err(AppError::NotFound);
    }
    save_extras(tx, cat, Entity::Account, id, &d.tag_ids, &d.custom).await?;
    watch.settle(tx).await?;
    let a = &old.account;
    if a.status_id != d.status_id {
        let name = |sid| cat.status(sid).map(|s| s.name.clone()).unwrap_or_default();
        timeline::add(
            tx,
            NewEntry {
                entity: Entity::Account,
                record_id: id,
                kind: "status_changed",
                actor_id: actor,
                title: &d.name,
                body: None,
                data: Some(serde_json::json!({"from": name(a.status_id), "to": name(d.status_id)})),
            },
        )
        .await?;
    }
    let mut changed = super::Changes::default();
    changed.field("name", Some(&a.name), Some(&d.name));
    changed.status(a.status_id, d.status_id);
    changed.owner(a.owner_id, d.owner_id);
    changed.field("email", a.email.as_deref(), d.email.as_ref().map(|e| e.normalized()).as_deref());
    changed.field("phone", a.phone.as_deref(), d.phone.as_ref().map(|p| p.display.as_str()));
    changed.field("website", a.website.as_deref(), d.website.as_ref().map(|w| w.url.as_str()));
    changed.field("address", a.address.as_deref(), d.address.as_deref());
    changed.field("postal_code", a.postal_code.as_deref(), d.postal_code.as_deref());
    changed.field("city", a.city.as_deref(), d.city.as_deref());
    changed.field("country", a.country.as_deref(), d.country.as_deref());
    changed.field("company_id", a.company_id.as_deref(), d.company_id.as_deref());
    changed.field("vat_number", a.vat_number.as_deref(), d.vat_number.as_deref());
    changed.field("source", a.source.as_deref(), d.source.as_deref());
    changed.field("description", a.description.as_deref(), d.description.as_deref());
    changed.extras(cat, Entity::Account, &old.extras, &d.tag_ids, &d.custom);
    changed.record(tx, Entity::Account, id, actor, &d.name).await
}

pub async fn get(db: &Db, cat: &Catalog, id: i64) -> Result<AccountCard> {
    get_in(&mut db.conn().await?, cat, id).await
}

/// An account's card, read through any handle (a transaction included).
pub async fn get_in(c: &mut impl Handle, cat: &Catalog, id: i64) -> Result<AccountCard> {
    let account: Account = q(format!("SELECT {COLS} FROM accounts r WHERE r.id = $1"))
        .bind(id)
        .fetch_optional(&mut *c)
        .await?
        .ok_or(AppError::NotFound)?;
    let extras = load_extras(&mut *c, cat, Entity::Account, &[id])
        .await?
        .remove(&id)
        .unwrap_or_default();
    let contacts = q(
        "SELECT c.id AS contact_id, c.first_name, c.last_name, c.email, c.phone, c.job_title, ac.role_id, cr.name AS role_name \
                      FROM account_contacts ac JOIN contacts c ON c.id = ac.contact_id LEFT JOIN contact_roles cr ON cr.id = ac.role_id \
                      WHERE ac.account_id = $1 ORDER BY c.name_key, c.id",
    )
    .bind(id)
    .fetch_all(&mut *c)
    .await?;
    Ok(AccountCard { account, extras, contacts })
}

pub async fn exists(db: &Db, id: i64) -> Result<bool> {
    Ok(q("SELECT id FROM accounts WHERE id = $1")
        .bind(id)
        .scalar_opt::<i64>(&mut db.conn().await?)
        .await?
        .is_some())
}

pub async fn delete(c: &Carnet, actor: &User, id: i64) -> Result<()> {
    let mut tx = c.db.begin().await?;
    let name: String = q("SELECT name FROM accounts WHERE id = $1")
        .bind(id)
        .scalar_opt(&mut tx)
        .await?
        .ok_or(AppError::NotFound)?;
    let opportunities: Vec<(i64,)> = q("SELECT id FROM opportunities WHERE account_id = $1")
        .bind(id)
        .fetch_all(&mut tx)
        .await?;
    // While its rows exist: the event, and what its deals and actions brought to the sums.
    super::record_deleted(&mut tx, Entity::Account, id, Some(actor.id), &name).await?;
    events::watch(&mut tx, Scope::one("account", id))
        .await?
        .settle_gone(&mut tx)
        .await?;
    q("DELETE FROM accounts WHERE id = $1").bind(id).execute(&mut tx).await?;
    let mut files = super::delete_attached(&mut tx, Entity::Account, id).await?;
    for (o,) in opportunities {
        files.extend(super::delete_attached(&mut tx, Entity::Opportunity, o).await?);
    }
    tx.commit().await?;
    super::attachments::remove_files(c, &files).await;
    Ok(())
}

/// The account as raw input: what an edit form shows, and what a PATCH overlays.
pub fn to_raw(card: &AccountCard, cat: &Catalog) -> RawInput {
    let a = &card.account;
    let mut r = RawInput::default();
    r.set("name", a.name.clone());
    r.set("status", a.status_id.to_string());
    let opt = |v: &Option<String>| v.clone().unwrap_or_default();
    r.set("owner", a.owner_id.map(|o| o.to_string()).unwrap_or_default());
    r.set("email", opt(&a.email));
    r.set("phone", opt(&a.phone));
    r.set("website", opt(&a.website));
    r.set("address", opt(&a.address));
    r.set("postal_code", opt(&a.postal_code));
    r.set("city", opt(&a.city));
    r.set("country", opt(&a.country));
    r.set("company_id", opt(&a.company_id));
    r.set("vat_number", opt(&a.vat_number));
    r.set("source", opt(&a.source));
    r.set("description", opt(&a.description));
    super::extras_to_raw(&mut r, cat, Entity::Account, &card.extras);
    r
}
