//! The one record-write path. A draft becomes a row through one builder
//! ([`Record::values`]), and one set-based writer ([`insert`]) stores any
//! number of them in the caller's transaction: the rows, their tags and custom
//! values, their search tokens, a `created` timeline entry each and their
//! events — a statement per table whatever the number of records (`COPY` on
//! PostgreSQL). Creating one account from a form, a contact from a booking, the
//! demo company and an import of a million rows all go through it; an update
//! writes the same columns ([`update`]).

use super::search;
use crate::db::dialect::{bulk_insert, reserve_ids};
use crate::db::{q, Tx, Value};
use crate::error::Result;
use crate::platform::events::{self, EventKind, NewEvent};
use carnet_domain::fields::{Entity, FieldValue};
use carnet_domain::records::{AccountDraft, Catalog, ContactDraft};
use carnet_domain::search::TokenSet;
use carnet_domain::values::{company_id_key, company_key, fold};

/// A kind of record the writer stores.
pub trait Record {
    const ENTITY: Entity;
    const TABLE: &'static str;
    /// The columns [`Record::values`] fills, in order.
    const COLUMNS: &'static [&'static str];
    fn values(&self) -> Vec<Value>;
    /// Search tokens: name words, email, phone digits, codes, tag names.
    fn tokens(&self, cat: &Catalog) -> Vec<String>;
    fn name(&self) -> String;
    fn tag_ids(&self) -> &[i64];
    fn custom(&self) -> &[(i64, FieldValue)];
}

impl Record for AccountDraft {
    const ENTITY: Entity = Entity::Account;
    const TABLE: &'static str = "accounts";
    const COLUMNS: &'static [&'static str] = &[
        "name",
        "name_key",
        "company_key",
        "status_id",
        "owner_id",
        "email",
        "phone",
        "phone_key",
        "website",
        "domain",
        "address",
        "postal_code",
        "city",
        "country",
        "company_id",
        "company_id_key",
        "vat_number",
        "source",
        "description",
    ];

    fn values(&self) -> Vec<Value> {
        let d = self;
        vec![
            d.name.clone().into(),
            fold(&d.name).into(),
            company_key(&d.name).into(),
            d.status_id.into(),
            d.owner_id.into(),
            d.email.as_ref().map(|e| e.normalized()).into(),
            d.phone.as_ref().map(|p| p.display.clone()).into(),
            d.phone.as_ref().map(|p| p.digits.clone()).into(),
            d.website.as_ref().map(|w| w.url.clone()).into(),
            d.website
                .as_ref()
                .map(|w| w.domain.clone())
                .or_else(|| d.email.as_ref().map(|e| e.domain().to_string()))
                .into(),
            d.address.clone().into(),
            d.postal_code.clone().into(),
            d.city.clone().into(),
            d.country.clone().into(),
            d.company_id.clone().into(),
            d.company_id.as_deref().map(company_id_key).into(),
            d.vat_number.clone().into(),
            d.source.clone().into(),
            d.description.clone().into(),
        ]
    }

    fn tokens(&self, cat: &Catalog) -> Vec<String> {
        let d = self;
        let mut t = TokenSet::new();
        t.words(&d.name);
        if let Some(e) = &d.email {
            t.email(e.as_str());
        }
        if let Some(p) = &d.phone {
            t.digits(&p.digits);
        }
        if let Some(c) = &d.company_id {
            t.code(c);
        }
        if let Some(v) = &d.vat_number {
            t.code(v);
        }
        if let Some(w) = &d.website {
            t.words(&w.domain);
        }
        for name in super::tag_names(cat, &d.tag_ids) {
            t.words(name);
        }
        t.into_vec()
    }

    fn name(&self) -> String {
        self.name.clone()
    }
    fn tag_ids(&self) -> &[i64] {
        &self.tag_ids
    }
    fn custom(&self) -> &[(i64, FieldValue)] {
        &self.custom
    }
}

impl Record for ContactDraft {
    const ENTITY: Entity = Entity::Contact;
    const TABLE: &'static str = "contacts";
    const COLUMNS: &'static [&'static str] = &[
        "first_name",
        "last_name",
        "name_key",
        "email",
        "email_key",
        "phone",
        "phone_key",
        "mobile",
        "mobile_key",
        "job_title",
        "owner_id",
        "source",
        "address",
        "postal_code",
        "city",
        "country",
        "description",
    ];

    fn values(&self) -> Vec<Value> {
        let d = self;
        vec![
            d.first_name.clone().into(),
            d.last_name.clone().into(),
            super::contacts::name_key(d.first_name.as_deref(), &d.last_name).into(),
            d.email.as_ref().map(|e| e.as_str().to_string()).into(),
            d.email.as_ref().map(|e| e.normalized()).into(),
            d.phone.as_ref().map(|p| p.display.clone()).into(),
            d.phone.as_ref().map(|p| p.digits.clone()).into(),
            d.mobile.as_ref().map(|p| p.display.clone()).into(),
            d.mobile.as_ref().map(|p| p.digits.clone()).into(),
            d.job_title.clone().into(),
            d.owner_id.into(),
            d.source.clone().into(),
            d.address.clone().into(),
            d.postal_code.clone().into(),
            d.city.clone().into(),
            d.country.clone().into(),
            d.description.clone().into(),
        ]
    }

    fn tokens(&self, cat: &Catalog) -> Vec<String> {
        let d = self;
        let mut t = TokenSet::new();
        t.words(&d.last_name);
        if let Some(f) = &d.first_name {
            t.words(f);
        }
        if let Some(e) = &d.email {
            t.email(e.as_str());
        }
        for p in [&d.phone, &d.mobile].into_iter().flatten() {
            t.digits(&p.digits);
        }
        for name in super::tag_names(cat, &d.tag_ids) {
            t.words(name);
        }
        t.into_vec()
    }

    fn name(&self) -> String {
        self.full_name()
    }
    fn tag_ids(&self) -> &[i64] {
        &self.tag_ids
    }
    fn custom(&self) -> &[(i64, FieldValue)] {
        &self.custom
    }
}

/// Stores new records (in the order given) and returns their ids. `actor` is
/// who created them (`None`: nobody signed in, as on a public page).
pub async fn insert<R: Record>(tx: &mut Tx, cat: &Catalog, actor: Option<i64>, drafts: &[R]) -> Result<Vec<i64>> {
    let ids = reserve_ids(tx, R::TABLE, drafts.len()).await?;
    if ids.is_empty() {
        return Ok(ids);
    }
    let t = tx.now();
    let entity = R::ENTITY.as_str();
    let mut columns = vec!["id"];
    columns.extend_from_slice(R::COLUMNS);
    columns.extend_from_slice(&["created_by", "created_at", "updated_at"]);
    let (mut rows, mut tags, mut values, mut tokens, mut entries, mut evs) = (vec![], vec![], vec![], vec![], vec![], vec![]);
    for (id, d) in ids.iter().zip(drafts) {
        let mut row = vec![Value::from(*id)];
        row.extend(d.values());
        row.extend([actor.into(), t.into(), t.into()]);
        rows.push(row);
        for tag in d.tag_ids() {
            tags.push(vec![entity.into(), (*id).into(), (*tag).into()]);
        }
        for (field, v) in d.custom() {
            if cat.fields_for(R::ENTITY).any(|f| f.id == *field) {
                for (text, num) in v.storage_rows() {
                    values.push(vec![(*field).into(), (*id).into(), text.into(), num.into()]);
                }
            }
        }
        for token in d.tokens(cat) {
            tokens.push(vec![token.into(), entity.into(), (*id).into()]);
        }
        let name = d.name();
        entries.push(vec![
            entity.into(),
            (*id).into(),
            "created".into(),
            actor.into(),
            name.clone().into(),
            Value::Text(None),
            Value::Text(None),
            t.into(),
        ]);
        evs.extend(created_events(R::ENTITY, *id, actor, &name, d.tag_ids()));
    }
    bulk_insert(tx, R::TABLE, &columns, &rows).await?;
    bulk_insert(tx, "record_tags", &["entity", "record_id", "tag_id"], &tags).await?;
    bulk_insert(tx, "field_values", &["field_id", "record_id", "value_text", "value_num"], &values).await?;
    bulk_insert(tx, "search_tokens", &["token", "entity", "record_id"], &tokens).await?;
    bulk_insert(
        tx,
        "timeline",
        &["entity", "record_id", "kind", "actor_id", "title", "body", "data", "created_at"],
        &entries,
    )
    .await?;
    events::record_many(tx, evs).await?;
    Ok(ids)
}

/// Writes an existing record's columns (the same builder as [`insert`]), and
/// its search tokens; tags, custom values, timeline and events are the
/// caller's, which knows what changed.
pub async fn update<R: Record>(tx: &mut Tx, cat: &Catalog, id: i64, d: &R) -> Result<bool> {
    let mut query = q(format!("UPDATE {} SET ", R::TABLE));
    for (i, (col, v)) in R::COLUMNS.iter().zip(d.values()).enumerate() {
        if i > 0 {
            query.push(", ");
        }
        query.push(col).push(" = ").push_bind(v);
    }
    query.push(", updated_at = ").push_bind(tx.now()).push(" WHERE id = ").push_bind(id);
    let found = query.execute(&mut *tx).await? == 1;
    if found {
        search::index(tx, R::ENTITY, id, &d.tokens(cat)).await?;
    }
    Ok(found)
}

/// The events of records created: `record_created`, and each of their tags added.
pub fn created_events(entity: Entity, id: i64, actor: Option<i64>, name: &str, tag_ids: &[i64]) -> Vec<NewEvent> {
    let mut v = vec![NewEvent::new(
        EventKind::RecordCreated,
        entity.as_str(),
        id,
        actor,
        serde_json::json!({ "name": name }),
    )];
    v.extend(super::tag_events(entity, id, actor, &[], tag_ids));
    v
}
