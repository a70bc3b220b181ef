//! Opportunities (S2): created, changed and moved through stages. Every write
//! first locks the row and bumps its `version` once ([`lock`]), so concurrent
//! writes serialise and each sees what the previous one left; a write that
//! names the version it read (`If-Match`) is refused with a conflict when
//! someone else wrote in between. Every stage change is a `stage_history` row
//! (from, to, who, when) written in the same transaction by [`apply_move`], the
//! one path of a move: the board, the form, the API and a deleted stage's deals.
//! Open-pipeline totals and facts follow through the watchers (`events::watch`).

use super::exists;
use crate::access::User;
use crate::db::{q, Db, Handle, Tx};
use crate::error::{AppError, Result};
use crate::platform::events::{self, EventKind, NewEvent, Scope};
use crate::records::timeline::{self, NewEntry};
use crate::records::{load_extras, save_extras, search, Changes, Extras};
use crate::Carnet;
use carnet_domain::fields::Entity;
use carnet_domain::records::{Catalog, RawInput};
use carnet_domain::sales::{OpportunityDraft, Outcome, SalesCatalog};
use carnet_domain::search::TokenSet;
use carnet_domain::values::fold;
use serde::Serialize;

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Opportunity {
    pub id: i64,
    pub name: String,
    pub name_key: String,
    pub account_id: i64,
    pub account_name: String,
    pub owner_id: Option<i64>,
    pub pipeline_id: i64,
    pub stage_id: i64,
    pub status: String,
    pub amount: i64,
    pub currency: String,
    pub margin: Option<i64>,
    pub offer_id: Option<i64>,
    pub source_id: Option<i64>,
    pub expected_close: Option<String>,
    pub lost_reason_id: Option<i64>,
    pub description: Option<String>,
    pub closed_at: Option<i64>,
    pub stage_entered_at: i64,
    pub created_at: i64,
    pub updated_at: i64,
    /// Raised by every write: what `If-Match` compares.
    pub version: i64,
}

pub const COLS: &str =
    "r.id, r.name, r.name_key, r.account_id, (SELECT a.name FROM accounts a WHERE a.id = r.account_id) AS account_name, \
    r.owner_id, r.pipeline_id, r.stage_id, r.status, r.amount, r.currency, r.margin, r.offer_id, r.source_id, r.expected_close, \
    r.lost_reason_id, r.description, r.closed_at, r.stage_entered_at, r.created_at, r.updated_at, r.version";

impl Opportunity {
    /// Whole days since the opportunity entered its stage.
    pub fn days_in_stage(&self, at: i64) -> i64 {
        (at - self.stage_entered_at).max(0) / 86_400
    }
    /// Stalled once it has spent more than the stage's limit in it.
    pub fn is_stalled(&self, sales: &SalesCatalog, at: i64) -> bool {
        self.status == "open"
            && sales
                .stage(self.stage_id)
                .and_then(|(_, s)| s.stall_days)
                .is_some_and(|limit| self.days_in_stage(at) > limit)
    }
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Move {
    pub id: i64,
    pub from_stage_id: Option<i64>,
    pub to_stage_id: i64,
    pub moved_by: Option<i64>,
    pub moved_by_name: Option<String>,
    pub moved_at: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct OpportunityCard {
    pub opportunity: Opportunity,
    pub contacts: Vec<(i64, String)>,
    pub history: Vec<Move>,
    pub extras: Extras,
}

fn tokens(d: &OpportunityDraft) -> Vec<String> {
    let mut t = TokenSet::new();
    t.words(&d.name);
    t.into_vec()
}

async fn check_refs(h: &mut impl Handle, d: &OpportunityDraft) -> Result<String> {
    let account: Option<String> = q("SELECT name FROM accounts WHERE id = $1")
        .bind(d.account_id)
        .scalar_opt(h)
        .await?;
    let account = account.ok_or_else(|| AppError::field("account", "is not a known account"))?;
    for c in &d.contact_ids {
        if !exists(h, "contacts", *c).await? {
            return Err(AppError::field("contacts", format!("{c} is not a known contact")));
        }
    }
    Ok(account)
}

async fn entry(tx: &mut Tx, entity: Entity, id: i64, kind: &str, actor: Option<i64>, title: &str, data: serde_json::Value) -> Result<()> {
    timeline::add(
        tx,
        NewEntry {
            entity,
            record_id: id,
            kind,
            actor_id: actor,
            title,
            body: None,
            data: Some(data),
        },
    )
    .await?;
    Ok(())
}

/// What the account's and contacts' timelines show of an opportunity's event.
struct Echo<'a> {
    id: i64,
    name: &'a str,
    account_id: i64,
    account_name: &'a str,
    contact_ids: &'a [i64],
    amount: i64,
    currency: &'a str,
}

impl<'a> Echo<'a> {
    fn of(id: i64, d: &'a OpportunityDraft, account_name: &'a str) -> Self {
        Echo {
            id,
            name: &d.name,
            account_id: d.account_id,
            account_name,
            contact_ids: &d.contact_ids,
            amount: d.amount,
            currency: &d.currency,
        }
    }
}

/// The opportunity's events also appear on its account's and contacts' timelines.
async fn echo(tx: &mut Tx, o: &Echo<'_>, actor: Option<i64>, what: &str, stage: &str) -> Result<()> {
    let data = serde_json::json!({"opportunity_id": o.id, "opportunity": o.name, "event": what, "stage": stage, "amount": o.amount, "currency": o.currency});
    entry(
        tx,
        Entity::Account,
        o.account_id,
        "opportunity",
        actor,
        o.account_name,
        data.clone(),
    )
    .await?;
    for c in o.contact_ids {
        let name: Option<(Option<String>, String)> = q("SELECT first_name, last_name FROM contacts WHERE id = $1")
            .bind(*c)
            .fetch_optional(&mut *tx)
            .await?;
        if let Some((f, l)) = name {
            let title = crate::records::contacts::display_name(f.as_deref(), &l);
            entry(tx, Entity::Contact, *c, "opportunity", actor, &title, data.clone()).await?;
        }
    }
    Ok(())
}

pub async fn create(c: &Carnet, cat: &Catalog, sales: &SalesCatalog, actor: &User, d: &OpportunityDraft) -> Result<i64> {
    let mut tx = c.db.begin().await?;
    let account_name = check_refs(&mut tx, d).await?;
    let t = tx.now();
    let closed = (d.outcome != Outcome::Open).then_some(t);
    let id = q("INSERT INTO opportunities (name, name_key, account_id, owner_id, pipeline_id, stage_id, status, amount, currency, margin, offer_id, \
                source_id, expected_close, lost_reason_id, description, closed_at, stage_entered_at, created_by, created_at, updated_at, version) \
                VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $17, $17, 0) RETURNING id")
        .bind(d.name.clone())
        .bind(fold(&d.name))
        .bind(d.account_id)
        .bind(d.owner_id)
        .bind(d.pipeline_id)
        .bind(d.stage_id)
        .bind(d.outcome.as_str())
        .bind(d.amount)
        .bind(d.currency.clone())
        .bind(d.margin)
        .bind(d.offer_id)
        .bind(d.source_id)
        .bind(d.expected_close.map(|x| x.to_string()))
        .bind(d.lost_reason_id)
        .bind(d.description.clone())
        .bind(closed)
        .bind(t)
        .bind(Some(actor.id))
        .insert_id(&mut tx)
        .await?;
    set_contacts(&mut tx, id, &d.contact_ids).await?;
    q("INSERT INTO stage_history (opportunity_id, from_stage_id, to_stage_id, moved_by, moved_at) VALUES ($1, NULL, $2, $3, $4)")
        .bind(id)
        .bind(d.stage_id)
        .bind(actor.id)
        .bind(t)
        .execute(&mut tx)
        .await?;
    save_extras(&mut tx, cat, Entity::Opportunity, id, &[], &d.custom).await?;
    search::index(&mut tx, Entity::Opportunity, id, &tokens(d)).await?;
    events::watch_new(&tx, Scope::one("opportunity", id)).settle(&mut tx).await?;
    crate::records::record_created(&mut tx, Entity::Opportunity, id, Some(actor.id), &d.name, &[]).await?;
    if d.outcome != Outcome::Open {
        let kind = if d.outcome == Outcome::Won {
            EventKind::Won
        } else {
            EventKind::Lost
        };
        events::record(
            &mut tx,
            NewEvent::new(kind, "opportunity", id, Some(actor.id), serde_json::json!({"stage": d.stage_id})),
        )
        .await?;
    }
    let stage = sales.stage(d.stage_id).map(|s| s.1.name.clone()).unwrap_or_default();
    entry(
        &mut tx,
        Entity::Opportunity,
        id,
        "created",
        Some(actor.id),
        &d.name,
        serde_json::json!({"stage": stage}),
    )
    .await?;
    echo(&mut tx, &Echo::of(id, d, &account_name), Some(actor.id), "created", &stage).await?;
    tx.commit().await?;
    Ok(id)
}

async fn set_contacts(tx: &mut Tx, id: i64, contact_ids: &[i64]) -> Result<()> {
    q("DELETE FROM opportunity_contacts WHERE opportunity_id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    for cid in contact_ids {
        q("INSERT INTO opportunity_contacts (opportunity_id, contact_id) VALUES ($1, $2)")
            .bind(id)
            .bind(*cid)
            .execute(&mut *tx)
            .await?;
    }
    Ok(())
}

/// Locks an opportunity's row for this transaction and bumps its version once,
/// then reads it. Concurrent writes of one opportunity wait here and then read
/// what the previous one left. With `expected`, the row must still be at that
/// version (the one its writer read): otherwise a conflict, and nothing written.
pub async fn lock(tx: &mut Tx, id: i64, expected: Option<i64>) -> Result<Opportunity> {
    let mut query = q("UPDATE opportunities SET version = version + 1 WHERE id = ");
    query.push_bind(id);
    if let Some(v) = expected {
        query.push(" AND version = ").push_bind(v);
    }
    query.push(" RETURNING id");
    if query.scalar_opt::<i64>(&mut *tx).await?.is_none() {
        return Err(match expected {
            Some(v) if exists(tx, "opportunities", id).await? => AppError::Conflict(format!(
                "the opportunity was changed by someone else since version {v}: reload it and try again"
            )),
            _ => AppError::NotFound,
        });
    }
    Ok(q(format!("SELECT {COLS} FROM opportunities r WHERE r.id = $1"))
        .bind(id)
        .fetch_one(tx)
        .await?)
}

/// Where a move goes: a stage of the opportunity's pipeline, its outcome, and
/// the lost reason when it is lost.
#[derive(Debug, Clone, Copy)]
pub struct Target {
    pub stage_id: i64,
    pub outcome: Outcome,
    pub lost_reason_id: Option<i64>,
}

impl Target {
    pub fn of(d: &OpportunityDraft) -> Target {
        Target {
            stage_id: d.stage_id,
            outcome: d.outcome,
            lost_reason_id: d.lost_reason_id,
        }
    }
}

/// Writes a stage change of a row locked by [`lock`]: history, the status and
/// closing date the new stage implies, timelines and events. Returns whether
/// the stage changed.
async fn apply_move(
    tx: &mut Tx,
    sales: &SalesCatalog,
    row: &Opportunity,
    to: Target,
    actor: Option<i64>,
    echo_of: &Echo<'_>,
) -> Result<bool> {
    let (id, from) = (row.id, row.stage_id);
    if from == to.stage_id {
        return Ok(false);
    }
    let t = tx.now();
    let closed = (to.outcome != Outcome::Open).then_some(t);
    q("UPDATE opportunities SET stage_id = $1, status = $2, closed_at = $3, lost_reason_id = $4, stage_entered_at = $5, updated_at = $5 WHERE id = $6")
        .bind(to.stage_id)
        .bind(to.outcome.as_str())
        .bind(closed)
        .bind(to.lost_reason_id)
        .bind(t)
        .bind(id)
        .execute(&mut *tx)
        .await?;
    q("INSERT INTO stage_history (opportunity_id, from_stage_id, to_stage_id, moved_by, moved_at) VALUES ($1, $2, $3, $4, $5)")
        .bind(id)
        .bind(from)
        .bind(to.stage_id)
        .bind(actor)
        .bind(t)
        .execute(&mut *tx)
        .await?;
    let name = |s: i64| sales.stage(s).map(|x| x.1.name.clone()).unwrap_or_default();
    let (from_name, to_name) = (name(from), name(to.stage_id));
    let reason = to
        .lost_reason_id
        .and_then(|r| sales.lost_reasons.iter().find(|x| x.id == r))
        .map(|r| r.name.clone());
    entry(
        tx,
        Entity::Opportunity,
        id,
        "stage_changed",
        actor,
        echo_of.name,
        serde_json::json!({"from": from_name, "to": to_name, "lost_reason": reason}),
    )
    .await?;
    let what = match to.outcome {
        Outcome::Won => "won",
        Outcome::Lost => "lost",
        Outcome::Open => "moved",
    };
    echo(tx, echo_of, actor, what, &to_name).await?;
    let data = serde_json::json!({"from": from, "to": to.stage_id, "pipeline": row.pipeline_id, "lost_reason": to.lost_reason_id});
    let mut evs = vec![NewEvent::new(EventKind::StageMoved, "opportunity", id, actor, data.clone())];
    match to.outcome {
        Outcome::Won => evs.push(NewEvent::new(EventKind::Won, "opportunity", id, actor, data)),
        Outcome::Lost => evs.push(NewEvent::new(EventKind::Lost, "opportunity", id, actor, data)),
        Outcome::Open => {}
    }
    events::record_all(tx, evs).await?;
    Ok(true)
}

/// Changes an opportunity (a new stage is a move). `expected` is the version
/// its writer read, if it named one.
#[allow(clippy::too_many_arguments)]
pub async fn update(
    c: &Carnet,
    cat: &Catalog,
    sales: &SalesCatalog,
    actor: &User,
    id: i64,
    d: &OpportunityDraft,
    expected: Option<i64>,
) -> Result<()> {
    let mut tx = c.db.begin().await?;
    let o = lock(&mut tx, id, expected).await?;
    let old_extras = load_extras(&mut tx, cat, Entity::Opportunity, &[id])
        .await?
        .remove(&id)
        .unwrap_or_default();
    let old_contacts: Vec<i64> = q("SELECT contact_id FROM opportunity_contacts WHERE opportunity_id = $1 ORDER BY contact_id")
        .bind(id)
        .fetch_all::<(i64,)>(&mut tx)
        .await?
        .into_iter()
        .map(|(c,)| c)
        .collect();
    let account_name = check_refs(&mut tx, d).await?;
    if o.pipeline_id != d.pipeline_id {
        return Err(AppError::field(
            "pipeline",
            "cannot change: move the opportunity through the stages of its pipeline",
        ));
    }
    let watch = events::watch(&mut tx, Scope::one("opportunity", id)).await?;
    apply_move(&mut tx, sales, &o, Target::of(d), Some(actor.id), &Echo::of(id, d, &account_name)).await?;
    q("UPDATE opportunities SET name = $1, name_key = $2, account_id = $3, owner_id = $4, amount = $5, currency = $6, margin = $7, offer_id = $8, \
       source_id = $9, expected_close = $10, description = $11, updated_at = $12 WHERE id = $13")
        .bind(d.name.clone())
        .bind(fold(&d.name))
        .bind(d.account_id)
        .bind(d.owner_id)
        .bind(d.amount)
        .bind(d.currency.clone())
        .bind(d.margin)
        .bind(d.offer_id)
        .bind(d.source_id)
        .bind(d.expected_close.map(|x| x.to_string()))
        .bind(d.description.clone())
        .bind(tx.now())
        .bind(id)
        .execute(&mut tx)
        .await?;
    set_contacts(&mut tx, id, &d.contact_ids).await?;
    save_extras(&mut tx, cat, Entity::Opportunity, id, &[], &d.custom).await?;
    search::index(&mut tx, Entity::Opportunity, id, &tokens(d)).await?;
    watch.settle(&mut tx).await?;
    let mut changed = Changes::default();
    changed.field("name", Some(&o.name), Some(&d.name));
    changed.field("account", Some(&o.account_id.to_string()), Some(&d.account_id.to_string()));
    changed.owner(o.owner_id, d.owner_id);
    changed.field("amount", Some(&o.amount.to_string()), Some(&d.amount.to_string()));
    changed.field(
        "margin",
        o.margin.map(|v| v.to_string()).as_deref(),
        d.margin.map(|v| v.to_string()).as_deref(),
    );
    changed.field(
        "offer",
        o.offer_id.map(|v| v.to_string()).as_deref(),
        d.offer_id.map(|v| v.to_string()).as_deref(),
    );
    changed.field(
        "source",
        o.source_id.map(|v| v.to_string()).as_deref(),
        d.source_id.map(|v| v.to_string()).as_deref(),
    );
    changed.field(
        "expected_close",
        o.expected_close.as_deref(),
        d.expected_close.map(|x| x.to_string()).as_deref(),
    );
    changed.field("description", o.description.as_deref(), d.description.as_deref());
    let mut new_contacts = d.contact_ids.clone();
    new_contacts.sort_unstable();
    changed.field("contacts", Some(&format!("{old_contacts:?}")), Some(&format!("{new_contacts:?}")));
    changed.extras(cat, Entity::Opportunity, &old_extras, &[], &d.custom);
    changed.record(&mut tx, Entity::Opportunity, id, Some(actor.id), &d.name).await?;
    tx.commit().await?;
    Ok(())
}

/// The opportunity as a draft, from its typed row (no round trip through text).
async fn draft_of(tx: &mut Tx, cat: &Catalog, o: &Opportunity) -> Result<OpportunityDraft> {
    let contact_ids: Vec<i64> = q("SELECT contact_id FROM opportunity_contacts WHERE opportunity_id = $1 ORDER BY contact_id")
        .bind(o.id)
        .fetch_all::<(i64,)>(&mut *tx)
        .await?
        .into_iter()
        .map(|(c,)| c)
        .collect();
    let extras = load_extras(tx, cat, Entity::Opportunity, &[o.id])
        .await?
        .remove(&o.id)
        .unwrap_or_default();
    Ok(OpportunityDraft {
        name: o.name.clone(),
        account_id: o.account_id,
        contact_ids,
        owner_id: o.owner_id,
        pipeline_id: o.pipeline_id,
        stage_id: o.stage_id,
        outcome: Outcome::parse(&o.status).unwrap_or(Outcome::Open),
        amount: o.amount,
        currency: o.currency.clone(),
        margin: o.margin,
        offer_id: o.offer_id,
        source_id: o.source_id,
        expected_close: o
            .expected_close
            .as_deref()
            .and_then(|d| chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").ok()),
        lost_reason_id: o.lost_reason_id,
        description: o.description.clone(),
        custom: extras.custom,
    })
}

/// Moves an opportunity to a stage (of its pipeline, by id or name), checking
/// the mandatory rules of the target stage and asking a lost reason for a lost
/// stage: the errors name the fields to fill in. `expected` as for [`update`].
#[allow(clippy::too_many_arguments)]
pub async fn move_to(
    c: &Carnet,
    cat: &Catalog,
    sales: &SalesCatalog,
    actor: &User,
    id: i64,
    stage: &str,
    lost_reason: &str,
    expected: Option<i64>,
) -> Result<()> {
    let mut tx = c.db.begin().await?;
    let o = lock(&mut tx, id, expected).await?;
    let d = draft_of(&mut tx, cat, &o)
        .await?
        .moved(cat, sales, stage, lost_reason)
        .map_err(AppError::Invalid)?;
    move_locked(&mut tx, sales, &o, &d, Some(actor.id)).await?;
    tx.commit().await?;
    Ok(())
}

/// A move of a locked row, with its sums kept by the watchers.
async fn move_locked(tx: &mut Tx, sales: &SalesCatalog, o: &Opportunity, d: &OpportunityDraft, actor: Option<i64>) -> Result<()> {
    let watch = events::watch(tx, Scope::one("opportunity", o.id)).await?;
    apply_move(tx, sales, o, Target::of(d), actor, &Echo::of(o.id, d, &o.account_name)).await?;
    watch.settle(tx).await
}

/// Moves every opportunity of a stage about to be deleted to another stage of
/// its pipeline, each through the ordinary move (history, timelines, events,
/// sums); no person moved them.
pub async fn move_all(tx: &mut Tx, cat: &Catalog, sales: &SalesCatalog, from_stage: i64, to: Target) -> Result<usize> {
    let ids: Vec<(i64,)> = q("SELECT id FROM opportunities WHERE stage_id = $1 ORDER BY id")
        .bind(from_stage)
        .fetch_all(&mut *tx)
        .await?;
    for (id,) in &ids {
        let o = lock(tx, *id, None).await?;
        let mut d = draft_of(tx, cat, &o).await?;
        d.stage_id = to.stage_id;
        d.outcome = to.outcome;
        // A lost reason belongs to a lost deal: moved anywhere else, it goes.
        d.lost_reason_id = match to.outcome {
            Outcome::Lost => to.lost_reason_id.or(d.lost_reason_id),
            Outcome::Open | Outcome::Won => None,
        };
        move_locked(tx, sales, &o, &d, None).await?;
    }
    Ok(ids.len())
}

pub async fn get(db: &Db, cat: &Catalog, id: i64) -> Result<OpportunityCard> {
    let mut c = db.conn().await?;
    let opportunity: Opportunity = q(format!("SELECT {COLS} FROM opportunities r WHERE r.id = $1"))
        .bind(id)
        .fetch_optional(&mut c)
        .await?
        .ok_or(AppError::NotFound)?;
    let contacts: Vec<(i64, Option<String>, String)> = q(
        "SELECT c.id, c.first_name, c.last_name FROM opportunity_contacts oc JOIN contacts c ON c.id = oc.contact_id \
                                                          WHERE oc.opportunity_id = $1 ORDER BY c.name_key, c.id",
    )
    .bind(id)
    .fetch_all(&mut c)
    .await?;
    let history = q(
        "SELECT h.id, h.from_stage_id, h.to_stage_id, h.moved_by, u.name AS moved_by_name, h.moved_at FROM stage_history h \
                     LEFT JOIN users u ON u.id = h.moved_by WHERE h.opportunity_id = $1 ORDER BY h.id",
    )
    .bind(id)
    .fetch_all(&mut c)
    .await?;
    let extras = load_extras(&mut c, cat, Entity::Opportunity, &[id])
        .await?
        .remove(&id)
        .unwrap_or_default();
    Ok(OpportunityCard {
        opportunity,
        contacts: contacts
            .into_iter()
            .map(|(id, f, l)| (id, crate::records::contacts::display_name(f.as_deref(), &l)))
            .collect(),
        history,
        extras,
    })
}

/// An account's opportunities, open ones first, then the most recently changed.
pub async fn for_account(db: &Db, account_id: i64) -> Result<Vec<Opportunity>> {
    Ok(q(format!("SELECT {COLS} FROM opportunities r WHERE r.account_id = $1 ORDER BY CASE WHEN r.status = 'open' THEN 0 ELSE 1 END, r.updated_at DESC, r.id LIMIT 50"))
        .bind(account_id)
        .fetch_all(&mut db.conn().await?)
        .await?)
}

/// The opportunities a contact takes part in.
pub async fn for_contact(db: &Db, contact_id: i64) -> Result<Vec<Opportunity>> {
    Ok(q(format!(
        "SELECT {COLS} FROM opportunities r WHERE r.id IN (SELECT opportunity_id FROM opportunity_contacts WHERE contact_id = $1) \
         ORDER BY CASE WHEN r.status = 'open' THEN 0 ELSE 1 END, r.updated_at DESC, r.id LIMIT 50"
    ))
    .bind(contact_id)
    .fetch_all(&mut db.conn().await?)
    .await?)
}

pub async fn delete(c: &Carnet, actor: &User, id: i64) -> Result<()> {
    let mut tx = c.db.begin().await?;
    let o = lock(&mut tx, id, None).await?;
    // While its rows exist: the event, and what it brought to the sums (its actions go with it).
    crate::records::record_deleted(&mut tx, Entity::Opportunity, id, Some(actor.id), &o.name).await?;
    events::watch(&mut tx, Scope::one("opportunity", id))
        .await?
        .settle_gone(&mut tx)
        .await?;
    q("DELETE FROM opportunities WHERE id = $1").bind(id).execute(&mut tx).await?;
    let files = crate::records::delete_attached(&mut tx, Entity::Opportunity, id).await?;
    tx.commit().await?;
    crate::records::attachments::remove_files(c, &files).await;
    Ok(())
}

pub fn to_raw(card: &OpportunityCard, cat: &Catalog) -> RawInput {
    let o = &card.opportunity;
    let mut r = RawInput::default();
    let money = |c: i64| carnet_domain::values::Money(c).to_plain();
    r.set("name", o.name.clone());
    r.set("account", format!("#{} {}", o.account_id, o.account_name));
    r.set_all("contacts", card.contacts.iter().map(|(id, name)| format!("#{id} {name}")).collect());
    r.set("owner", o.owner_id.map(|v| v.to_string()).unwrap_or_default());
    r.set("pipeline", o.pipeline_id.to_string());
    r.set("stage", o.stage_id.to_string());
    r.set("amount", money(o.amount));
    r.set("currency", o.currency.clone());
    r.set("margin", o.margin.map(money).unwrap_or_default());
    r.set("offer", o.offer_id.map(|v| v.to_string()).unwrap_or_default());
    r.set("source", o.source_id.map(|v| v.to_string()).unwrap_or_default());
    r.set("expected_close", o.expected_close.clone().unwrap_or_default());
    r.set("lost_reason", o.lost_reason_id.map(|v| v.to_string()).unwrap_or_default());
    r.set("description", o.description.clone().unwrap_or_default());
    crate::records::extras_to_raw(&mut r, cat, Entity::Opportunity, &card.extras);
    r.0.remove("tags");
    r
}
