//! Accounts, contacts and what hangs off any record (SPEC R1–R11): tags, custom
//! field values, the timeline, attachments, search tokens, list views.

pub mod accounts;
pub mod attachments;
pub mod contacts;
pub mod duplicates;
pub mod lists;
pub mod search;
pub mod timeline;
pub mod views;
pub mod write;

use crate::db::{dialect::bulk_insert, push_in_list, q, Handle, Tx, Value};
use crate::error::Result;
use crate::platform::events::{self, EventKind, NewEvent};
use carnet_domain::fields::{Entity, FieldValue, StoredValue};
use carnet_domain::records::Catalog;
use std::collections::HashMap;

/// Tags and custom values of one record.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Extras {
    pub tag_ids: Vec<i64>,
    pub custom: Vec<(i64, FieldValue)>,
}

/// Loads tags and custom values for many records in two queries.
pub async fn load_extras(h: &mut impl Handle, cat: &Catalog, entity: Entity, ids: &[i64]) -> Result<HashMap<i64, Extras>> {
    let mut out: HashMap<i64, Extras> = ids.iter().map(|id| (*id, Extras::default())).collect();
    if ids.is_empty() {
        return Ok(out);
    }
    let mut tq = q("SELECT record_id, tag_id FROM record_tags WHERE entity = ");
    tq.push_bind(entity.as_str()).push(" AND record_id IN ");
    push_in_list(&mut tq, ids);
    for (rid, tid) in tq.fetch_all::<(i64, i64)>(h).await? {
        if let Some(e) = out.get_mut(&rid) {
            e.tag_ids.push(tid);
        }
    }
    let field_ids: Vec<i64> = cat.fields_for(entity).map(|f| f.id).collect();
    if !field_ids.is_empty() {
        let mut fq = q("SELECT record_id, field_id, value_text, value_num FROM field_values WHERE record_id IN ");
        push_in_list(&mut fq, ids);
        fq.push(" AND field_id IN ");
        push_in_list(&mut fq, &field_ids);
        fq.push(" ORDER BY record_id, field_id, id");
        let rows: Vec<(i64, i64, Option<String>, Option<f64>)> = fq.fetch_all(h).await?;
        let mut grouped: HashMap<(i64, i64), Vec<StoredValue>> = HashMap::new();
        for (rid, fid, t, n) in rows {
            grouped.entry((rid, fid)).or_default().push((t, n));
        }
        for f in cat.fields_for(entity) {
            for id in ids {
                if let Some(rows) = grouped.get(&(*id, f.id)) {
                    if let Some(v) = FieldValue::from_rows(f.kind, rows) {
                        out.get_mut(id).unwrap().custom.push((f.id, v));
                    }
                }
            }
        }
    }
    Ok(out)
}

/// Replaces a record's tags and custom values.
pub async fn save_extras(tx: &mut Tx, cat: &Catalog, entity: Entity, id: i64, tag_ids: &[i64], custom: &[(i64, FieldValue)]) -> Result<()> {
    delete_extras(tx, entity, id).await?;
    let tag_rows: Vec<Vec<Value>> = tag_ids
        .iter()
        .map(|t| vec![entity.as_str().into(), id.into(), (*t).into()])
        .collect();
    bulk_insert(tx, "record_tags", &["entity", "record_id", "tag_id"], &tag_rows).await?;
    let mut rows = Vec::new();
    for (fid, v) in custom {
        if cat.fields_for(entity).any(|f| f.id == *fid) {
            for (t, n) in v.storage_rows() {
                rows.push(vec![(*fid).into(), id.into(), t.into(), n.into()]);
            }
        }
    }
    bulk_insert(tx, "field_values", &["field_id", "record_id", "value_text", "value_num"], &rows).await?;
    Ok(())
}

pub async fn delete_extras(tx: &mut Tx, entity: Entity, id: i64) -> Result<()> {
    q("DELETE FROM record_tags WHERE entity = $1 AND record_id = $2")
        .bind(entity.as_str())
        .bind(id)
        .execute(tx)
        .await?;
    q("DELETE FROM field_values WHERE record_id = $1 AND field_id IN (SELECT id FROM custom_fields WHERE entity = $2)")
        .bind(id)
        .bind(entity.as_str())
        .execute(tx)
        .await?;
    Ok(())
}

/// Removes everything attached to a record that its table's foreign keys do not.
pub async fn delete_attached(tx: &mut Tx, entity: Entity, id: i64) -> Result<Vec<String>> {
    delete_extras(tx, entity, id).await?;
    search::unindex(tx, entity, id).await?;
    q("DELETE FROM timeline WHERE entity = $1 AND record_id = $2")
        .bind(entity.as_str())
        .bind(id)
        .execute(tx)
        .await?;
    let keys: Vec<(String,)> = q("SELECT storage_key FROM attachments WHERE entity = $1 AND record_id = $2")
        .bind(entity.as_str())
        .bind(id)
        .fetch_all(tx)
        .await?;
    q("DELETE FROM attachments WHERE entity = $1 AND record_id = $2")
        .bind(entity.as_str())
        .bind(id)
        .execute(tx)
        .await?;
    Ok(keys.into_iter().map(|k| k.0).collect())
}

/// The `name` of rows of a table (accounts, opportunities) by id, in one query.
pub async fn names(db: &crate::Db, table: &'static str, ids: &[i64]) -> Result<HashMap<i64, String>> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let mut query = q(format!("SELECT id, name FROM {table} WHERE id IN "));
    push_in_list(&mut query, ids);
    Ok(query.fetch_all::<(i64, String)>(&mut db.conn().await?).await?.into_iter().collect())
}

/// Tag names of a record, for its search tokens.
pub fn tag_names<'a>(cat: &'a Catalog, tag_ids: &'a [i64]) -> impl Iterator<Item = &'a str> + 'a {
    tag_ids.iter().filter_map(|id| cat.tag(*id).map(|(_, t)| t.name.as_str()))
}

/// Custom fields whose values differ between two versions: (key, label).
fn changed_custom(cat: &Catalog, entity: Entity, old: &[(i64, FieldValue)], new: &[(i64, FieldValue)]) -> Vec<(String, String)> {
    cat.fields_for(entity)
        .filter(|f| old.iter().find(|(i, _)| *i == f.id).map(|x| &x.1) != new.iter().find(|(i, _)| *i == f.id).map(|x| &x.1))
        .map(|f| (format!("cf.{}", f.key), f.label.clone()))
        .collect()
}

/// What an update changed: one `updated` timeline entry with the fields'
/// labels, and the events (`record_updated` with the fields' keys, each tag
/// added or removed, a new status, a new owner).
#[derive(Default)]
pub struct Changes {
    labels: Vec<String>,
    keys: Vec<String>,
    tags: (Vec<i64>, Vec<i64>),
    status: Option<(i64, i64)>,
    owner: Option<(Option<i64>, Option<i64>)>,
}

impl Changes {
    pub fn field(&mut self, name: &str, before: Option<&str>, after: Option<&str>) {
        if before.unwrap_or("") != after.unwrap_or("") {
            self.labels.push(name.to_string());
            self.keys.push(name.to_string());
        }
    }

    /// The owner (also a field of the update).
    pub fn owner(&mut self, before: Option<i64>, after: Option<i64>) {
        if before != after {
            self.owner = Some((before, after));
        }
        self.field(
            "owner",
            before.map(|v| v.to_string()).as_deref(),
            after.map(|v| v.to_string()).as_deref(),
        );
    }

    /// The status (its own timeline entry, written by the caller).
    pub fn status(&mut self, before: i64, after: i64) {
        if before != after {
            self.status = Some((before, after));
            self.keys.push("status".into());
        }
    }

    /// Tags and custom values, compared as sets and per field.
    pub fn extras(&mut self, cat: &Catalog, entity: Entity, old: &Extras, tag_ids: &[i64], custom: &[(i64, FieldValue)]) {
        let before: std::collections::BTreeSet<_> = old.tag_ids.iter().collect();
        if before != tag_ids.iter().collect() {
            self.labels.push("tags".into());
            self.keys.push("tags".into());
            self.tags = (old.tag_ids.clone(), tag_ids.to_vec());
        }
        for (key, label) in changed_custom(cat, entity, &old.custom, custom) {
            self.keys.push(key);
            self.labels.push(label);
        }
    }

    pub async fn record(self, tx: &mut Tx, entity: Entity, id: i64, actor: Option<i64>, title: &str) -> Result<()> {
        if self.keys.is_empty() {
            return Ok(());
        }
        if !self.labels.is_empty() {
            timeline::add(
                tx,
                timeline::NewEntry {
                    entity,
                    record_id: id,
                    kind: "updated",
                    actor_id: actor,
                    title,
                    body: None,
                    data: Some(serde_json::json!({ "fields": self.labels })),
                },
            )
            .await?;
        }
        let ev = |kind, data| NewEvent::new(kind, entity.as_str(), id, actor, data);
        let mut events = vec![ev(
            EventKind::RecordUpdated,
            serde_json::json!({ "name": title, "fields": self.keys }),
        )];
        events.extend(tag_events(entity, id, actor, &self.tags.0, &self.tags.1));
        if let Some((from, to)) = self.status {
            events.push(ev(EventKind::StatusChanged, serde_json::json!({ "from": from, "to": to })));
        }
        if let Some((from, to)) = self.owner {
            events.push(ev(EventKind::OwnerChanged, serde_json::json!({ "from": from, "to": to })));
        }
        events::record_all(tx, events).await
    }
}

/// `tag_added` / `tag_removed` for each tag that differs.
pub(crate) fn tag_events(entity: Entity, id: i64, actor: Option<i64>, before: &[i64], after: &[i64]) -> Vec<NewEvent> {
    let ev = |kind, tag: &i64| NewEvent::new(kind, entity.as_str(), id, actor, serde_json::json!({ "tag_id": tag }));
    let added = after.iter().filter(|t| !before.contains(t)).map(|t| ev(EventKind::TagAdded, t));
    let removed = before.iter().filter(|t| !after.contains(t)).map(|t| ev(EventKind::TagRemoved, t));
    added.chain(removed).collect()
}

/// The events of a record created: `record_created`, and each of its tags added.
pub async fn record_created(tx: &mut Tx, entity: Entity, id: i64, actor: Option<i64>, name: &str, tag_ids: &[i64]) -> Result<()> {
    events::record_all(tx, write::created_events(entity, id, actor, name, tag_ids)).await
}

/// The event of a record about to be deleted (recorded while its rows exist).
pub async fn record_deleted(tx: &mut Tx, entity: Entity, id: i64, actor: Option<i64>, name: &str) -> Result<()> {
    events::record(
        tx,
        NewEvent::new(
            EventKind::RecordDeleted,
            entity.as_str(),
            id,
            actor,
            serde_json::json!({ "name": name }),
        ),
    )
    .await
    .map(|_| ())
}

/// Tags and custom values as raw input: what an edit form shows.
pub fn extras_to_raw(r: &mut carnet_domain::records::RawInput, cat: &Catalog, entity: Entity, ex: &Extras) {
    r.set_all("tags", ex.tag_ids.iter().map(|t| t.to_string()).collect());
    for f in cat.fields_for(entity) {
        let v = ex
            .custom
            .iter()
            .find(|(id, _)| *id == f.id)
            .map(|(_, v)| v.to_plain())
            .unwrap_or_default();
        r.set_all(&format!("cf.{}", f.key), v);
    }
}
