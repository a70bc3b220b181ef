//! Events: every change a rule, a scenario, a webhook, a score or an audit
//! entry may react to, recorded by its writer in the writing transaction
//! ([`record`]). If the process dies after the commit the event is there; if it
//! dies before, neither the change nor the event happened.
//!
//! Subscribers registered at start ([`super::registry`]) see each event either
//! in the writer's transaction ([`Delivery::InWriterTx`]: derived data that
//! must stay exact) or later from the job queue ([`Delivery::Queued`]: one
//! `event` job per event, queued only when a subscriber wants it).
//!
//! Derived sums that need a record's state *before* a write (open-pipeline
//! totals, analysis facts) are kept by **watchers**: the writer calls [`watch`]
//! before changing records of an entity and [`Watch::settle`] after; each
//! watcher reads what it needs before and applies the difference after, in
//! registration order. Writers never call another capability to keep its data
//! in step.

use super::jobs;
use super::registry::{BoxFut, Delivery, JobKind, Mode};
use crate::db::{q, Handle, Tx};
use crate::error::{AppError, Result};
use serde::{Deserialize, Serialize};
use std::any::Any;

/// What happened. Stored as its snake-case name; never rename one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    RecordCreated,
    RecordUpdated,
    /// Recorded before the rows go, so in-transaction subscribers can still read them.
    RecordDeleted,
    TagAdded,
    TagRemoved,
    StatusChanged,
    OwnerChanged,
    StageMoved,
    Won,
    Lost,
    ActionPlanned,
    ActionDone,
    NoShow,
    BookingMade,
    BookingCancelled,
    /// A settings section changed (statuses, tags, custom fields, pipelines…).
    SettingsChanged,
    /// The relay accepted an email of the outbox.
    EmailSent,
    /// A person (not a proxy or scanner) opened an email.
    EmailOpened,
    /// A person clicked a link of an email.
    EmailClicked,
    /// An address bounced for good (at send time or by a delivery report).
    EmailBounced,
    /// A recipient unsubscribed from marketing emails.
    Unsubscribed,
    /// A visitor sent a form (a questionnaire's score and band in its data).
    FormSubmitted,
    /// A contact followed a form's double opt-in link: the consent counts.
    OptInConfirmed,
    /// A contact downloaded a form's file (a lead magnet).
    FileDownloaded,
    /// A lead showed an interest and its email and phone are known: a rep calls it.
    LeadQualified,
    /// A known visitor of the company's website saw a page (the first time in a visit).
    PageVisited,
    /// A known visitor came back to the website 30 days or more after their last visit.
    ReturnVisit,
    /// An anonymous visitor became known (a form sent, a tracked email link
    /// followed): their earlier visits joined the contact.
    VisitorIdentified,
}

impl EventKind {
    pub const ALL: [EventKind; 28] = [
        EventKind::RecordCreated,
        EventKind::RecordUpdated,
        EventKind::RecordDeleted,
        EventKind::TagAdded,
        EventKind::TagRemoved,
        EventKind::StatusChanged,
        EventKind::OwnerChanged,
        EventKind::StageMoved,
        EventKind::Won,
        EventKind::Lost,
        EventKind::ActionPlanned,
        EventKind::ActionDone,
        EventKind::NoShow,
        EventKind::BookingMade,
        EventKind::BookingCancelled,
        EventKind::SettingsChanged,
        EventKind::EmailSent,
        EventKind::EmailOpened,
        EventKind::EmailClicked,
        EventKind::EmailBounced,
        EventKind::Unsubscribed,
        EventKind::FormSubmitted,
        EventKind::OptInConfirmed,
        EventKind::FileDownloaded,
        EventKind::LeadQualified,
        EventKind::PageVisited,
        EventKind::ReturnVisit,
        EventKind::VisitorIdentified,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::RecordCreated => "record_created",
            EventKind::RecordUpdated => "record_updated",
            EventKind::RecordDeleted => "record_deleted",
            EventKind::TagAdded => "tag_added",
            EventKind::TagRemoved => "tag_removed",
            EventKind::StatusChanged => "status_changed",
            EventKind::OwnerChanged => "owner_changed",
            EventKind::StageMoved => "stage_moved",
            EventKind::Won => "won",
            EventKind::Lost => "lost",
            EventKind::ActionPlanned => "action_planned",
            EventKind::ActionDone => "action_done",
            EventKind::NoShow => "no_show",
            EventKind::BookingMade => "booking_made",
            EventKind::BookingCancelled => "booking_cancelled",
            EventKind::SettingsChanged => "settings_changed",
            EventKind::EmailSent => "email_sent",
            EventKind::EmailOpened => "email_opened",
            EventKind::EmailClicked => "email_clicked",
            EventKind::EmailBounced => "email_bounced",
            EventKind::Unsubscribed => "unsubscribed",
            EventKind::FormSubmitted => "form_submitted",
            EventKind::OptInConfirmed => "opt_in_confirmed",
            EventKind::FileDownloaded => "file_downloaded",
            EventKind::LeadQualified => "lead_qualified",
            EventKind::PageVisited => "page_visited",
            EventKind::ReturnVisit => "return_visit",
            EventKind::VisitorIdentified => "visitor_identified",
        }
    }

    pub fn parse(s: &str) -> Option<EventKind> {
        EventKind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// An event to record: what happened to which record, who did it, and the
/// details (changed fields, tag, from/to…) as a JSON object.
#[derive(Debug, Clone)]
pub struct NewEvent {
    pub kind: EventKind,
    /// `account`, `contact`, `opportunity`, `action`, `booking`, `settings`.
    pub entity: &'static str,
    pub record_id: i64,
    pub actor_id: Option<i64>,
    pub data: serde_json::Value,
}

impl NewEvent {
    pub fn new(kind: EventKind, entity: &'static str, record_id: i64, actor_id: Option<i64>, data: serde_json::Value) -> Self {
        NewEvent {
            kind,
            entity,
            record_id,
            actor_id,
            data,
        }
    }
}

impl NewEvent {
    fn recorded(&self, id: i64, created_at: i64) -> Event {
        Event {
            id,
            kind: self.kind,
            entity: self.entity.to_string(),
            record_id: self.record_id,
            actor_id: self.actor_id,
            data: self.data.clone(),
            created_at,
        }
    }
}

/// A recorded event, as subscribers see it.
#[derive(Debug, Clone)]
pub struct Event {
    pub id: i64,
    pub kind: EventKind,
    pub entity: String,
    pub record_id: i64,
    pub actor_id: Option<i64>,
    pub data: serde_json::Value,
    pub created_at: i64,
}

impl Event {
    /// Whether an update event lists `field` among the changed ones.
    pub fn changed(&self, field: &str) -> bool {
        self.data["fields"]
            .as_array()
            .is_some_and(|f| f.iter().any(|x| x.as_str() == Some(field)))
    }
}

/// Records an event in the writer's transaction: the row, its in-transaction
/// subscribers, and the job that hands it to the queued ones (if any).
pub async fn record(tx: &mut Tx, e: NewEvent) -> Result<i64> {
    let created_at = tx.now();
    let id = q("INSERT INTO events (kind, entity, record_id, actor_id, data, created_at) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id")
        .bind(e.kind.as_str())
        .bind(e.entity)
        .bind(e.record_id)
        .bind(e.actor_id)
        .bind(e.data.to_string())
        .bind(created_at)
        .insert_id(&mut *tx)
        .await?;
    let event = e.recorded(id, created_at);
    let registry = tx.shared().registry();
    for s in registry.subscribers(e.kind, Delivery::InWriterTx) {
        (s.run)(tx, &event).await?;
    }
    if registry.subscribers(e.kind, Delivery::Queued).next().is_some() {
        jobs::enqueue::<Deliver>(tx, &DeliverPayload { event_id: id }, jobs::When::Now, Some(format!("event:{id}"))).await?;
    }
    Ok(id)
}

/// Records many events at once (a batch of records written set-based): one
/// statement for the rows and one for the jobs of the queued subscribers; the
/// in-transaction subscribers see each event in order, as with [`record`].
pub async fn record_many(tx: &mut Tx, evs: Vec<NewEvent>) -> Result<()> {
    let ids = crate::db::dialect::reserve_ids(tx, "events", evs.len()).await?;
    let t = tx.now();
    let rows: Vec<Vec<crate::db::Value>> = ids
        .iter()
        .zip(&evs)
        .map(|(id, e)| {
            vec![
                (*id).into(),
                e.kind.as_str().into(),
                e.entity.into(),
                e.record_id.into(),
                e.actor_id.into(),
                e.data.to_string().into(),
                t.into(),
            ]
        })
        .collect();
    crate::db::dialect::bulk_insert(
        tx,
        "events",
        &["id", "kind", "entity", "record_id", "actor_id", "data", "created_at"],
        &rows,
    )
    .await?;
    let registry = tx.shared().registry();
    let mut deliveries = Vec::new();
    for (id, e) in ids.into_iter().zip(evs) {
        let event = e.recorded(id, t);
        for s in registry.subscribers(e.kind, Delivery::InWriterTx) {
            (s.run)(tx, &event).await?;
        }
        if registry.subscribers(e.kind, Delivery::Queued).next().is_some() {
            deliveries.push(vec![
                Deliver::NAME.into(),
                super::registry::encode::<Deliver>(&DeliverPayload { event_id: id })?.into(),
                "queued".into(),
                t.into(),
                0i64.into(),
                Deliver::RETRY.max_attempts.into(),
                format!("event:{id}").into(),
                t.into(),
            ]);
        }
    }
    crate::db::dialect::bulk_insert(
        tx,
        "jobs",
        &[
            "kind",
            "payload",
            "status",
            "run_at",
            "attempts",
            "max_attempts",
            "idempotency_key",
            "created_at",
        ],
        &deliveries,
    )
    .await?;
    Ok(())
}

/// Records that a settings section changed (its table's name); `segments` when
/// what makes an account's segment changed (segment categories, their tags).
pub async fn settings_changed(tx: &mut Tx, section: &'static str, segments: bool) -> Result<()> {
    let data = serde_json::json!({ "section": section, "segments": segments });
    record(tx, NewEvent::new(EventKind::SettingsChanged, "settings", 0, None, data))
        .await
        .map(|_| ())
}

/// Records several events in order.
pub async fn record_all(tx: &mut Tx, events: Vec<NewEvent>) -> Result<()> {
    for e in events {
        record(tx, e).await?;
    }
    Ok(())
}

#[derive(sqlx::FromRow)]
struct Row {
    id: i64,
    kind: String,
    entity: String,
    record_id: i64,
    actor_id: Option<i64>,
    data: String,
    created_at: i64,
}

impl Row {
    fn event(self) -> Result<Event> {
        Ok(Event {
            id: self.id,
            kind: EventKind::parse(&self.kind).ok_or_else(|| AppError::internal(format!("unknown event kind {}", self.kind)))?,
            entity: self.entity,
            record_id: self.record_id,
            actor_id: self.actor_id,
            data: serde_json::from_str(&self.data).map_err(AppError::internal)?,
            created_at: self.created_at,
        })
    }
}

const COLS: &str = "id, kind, entity, record_id, actor_id, data, created_at";

pub async fn get(h: &mut impl Handle, id: i64) -> Result<Option<Event>> {
    q(format!("SELECT {COLS} FROM events WHERE id = $1"))
        .bind(id)
        .fetch_optional::<Row>(h)
        .await?
        .map(Row::event)
        .transpose()
}

/// A record's events, oldest first.
pub async fn for_record(h: &mut impl Handle, entity: &str, record_id: i64) -> Result<Vec<Event>> {
    q(format!(
        "SELECT {COLS} FROM events WHERE entity = $1 AND record_id = $2 ORDER BY id"
    ))
    .bind(entity)
    .bind(record_id)
    .fetch_all::<Row>(h)
    .await?
    .into_iter()
    .map(Row::event)
    .collect()
}

/// Events after `after_id`, oldest first (a consumer reading the log in order).
pub async fn since(h: &mut impl Handle, after_id: i64, limit: i64) -> Result<Vec<Event>> {
    q(format!("SELECT {COLS} FROM events WHERE id > $1 ORDER BY id LIMIT $2"))
        .bind(after_id)
        .bind(limit)
        .fetch_all::<Row>(h)
        .await?
        .into_iter()
        .map(Row::event)
        .collect()
}

/// Events of some kinds after `after_id`, oldest first (a re-count's batches).
pub async fn of_kinds(h: &mut impl Handle, after_id: i64, kinds: &[&str], limit: i64) -> Result<Vec<Event>> {
    let mut query = q(format!("SELECT {COLS} FROM events WHERE id > "));
    query.push_bind(after_id).push(" AND kind IN ");
    crate::db::push_in_list(&mut query, kinds);
    query.push(" ORDER BY id LIMIT ").push_bind(limit);
    query.fetch_all::<Row>(h).await?.into_iter().map(Row::event).collect()
}

/// The job that delivers an event to its queued subscribers, in the queue's
/// transaction (their effects and the job's completion commit together).
pub struct Deliver;

#[derive(Debug, Serialize, Deserialize)]
pub struct DeliverPayload {
    pub event_id: i64,
}

impl JobKind for Deliver {
    const NAME: &'static str = "event";
    const MODE: Mode = Mode::InQueueTx;
    type Payload = DeliverPayload;

    fn run_in(tx: &mut Tx, p: DeliverPayload) -> BoxFut<'_, Result<()>> {
        Box::pin(async move {
            let Some(event) = get(tx, p.event_id).await? else {
                return Ok(());
            };
            let registry = tx.shared().registry();
            for s in registry.subscribers(event.kind, Delivery::Queued) {
                (s.run)(tx, &event).await?;
            }
            Ok(())
        })
    }
}

/// Which records of an entity a writer is about to change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scope {
    pub entity: &'static str,
    pub ids: Vec<i64>,
}

impl Scope {
    pub fn one(entity: &'static str, id: i64) -> Scope {
        Scope { entity, ids: vec![id] }
    }
}

/// What a watcher read before a write.
pub type Snapshot = Box<dyn Any + Send>;

/// Keeps derived sums of an entity's records exact across a write: `before`
/// reads what the records contribute, `after` reads it again and applies the
/// difference. `after` gets `None` for records created in the transaction, and
/// `gone` when they are about to be deleted (it runs while they still exist, and
/// counts them as absent).
#[derive(Clone)]
pub struct Watcher {
    pub name: &'static str,
    pub entity: &'static str,
    pub before: Before,
    pub after: After,
}

/// A watcher's read before a write.
pub type Before = for<'a> fn(&'a mut Tx, &'a Scope) -> BoxFut<'a, Result<Snapshot>>;
/// A watcher's difference after a write: its snapshot (`None` for new records), and whether the records are going.
pub type After = for<'a> fn(&'a mut Tx, &'a Scope, Option<Snapshot>, bool) -> BoxFut<'a, Result<()>>;

/// A write in progress: what each watcher of the entity read before it.
#[must_use = "settle the watch after the write, in the same transaction"]
pub struct Watch {
    scope: Scope,
    snapshots: Vec<(Watcher, Option<Snapshot>)>,
}

/// Lets the entity's watchers read the records in `scope` before a write.
pub async fn watch(tx: &mut Tx, scope: Scope) -> Result<Watch> {
    let registry = tx.shared().registry();
    let mut snapshots = Vec::new();
    for w in registry.watchers(scope.entity) {
        let s = (w.before)(tx, &scope).await?;
        snapshots.push((w.clone(), Some(s)));
    }
    Ok(Watch { scope, snapshots })
}

/// A watch over records created in this transaction: nothing before.
pub fn watch_new(tx: &Tx, scope: Scope) -> Watch {
    let registry = tx.shared().registry();
    let snapshots = registry.watchers(scope.entity).map(|w| (w.clone(), None)).collect();
    Watch { scope, snapshots }
}

impl Watch {
    /// After the write: each watcher applies the difference, in registration order.
    pub async fn settle(self, tx: &mut Tx) -> Result<()> {
        self.finish(tx, false).await
    }

    /// Before the records are deleted: each watcher takes them out.
    pub async fn settle_gone(self, tx: &mut Tx) -> Result<()> {
        self.finish(tx, true).await
    }

    async fn finish(self, tx: &mut Tx, gone: bool) -> Result<()> {
        for (w, s) in self.snapshots {
            (w.after)(tx, &self.scope, s, gone).await?;
        }
        Ok(())
    }
}

/// Takes a watcher's snapshot back as the type it stored (`None`: nothing before).
pub fn snapshot<T: Default + 'static>(s: Option<Snapshot>) -> Result<T> {
    match s {
        None => Ok(T::default()),
        Some(s) => s
            .downcast::<T>()
            .map(|b| *b)
            .map_err(|_| AppError::internal("a watcher got another watcher's snapshot")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_has_a_stable_name_that_parses_back() {
        let mut seen = std::collections::HashSet::new();
        for k in EventKind::ALL {
            assert_eq!(EventKind::parse(k.as_str()), Some(k));
            assert_eq!(serde_json::to_value(k).unwrap(), k.as_str());
            assert!(seen.insert(k.as_str()));
        }
        assert_eq!(EventKind::parse("nope"), None);
    }
}
