//! The emails the CRM owes by itself: a booking's confirmation (with its
//! invitation) to the prospect and a notice to the rep, the notices of a moved
//! or cancelled booking (same UID, raised SEQUENCE), action reminders by
//! email, and the test email of Settings → Email. Each renders a company
//! template ([`super::library`]) and goes through the outbox like any other.
//!
//! Booking emails are written by a subscriber in the booking's own transaction;
//! reminders by a job queued for the action's reminder time.

use super::library;
use super::merge::merge_for;
use super::outbox::{self, Category, NewEmail};
use super::templates::Merge;
use crate::db::{q, Handle, Tx};
use crate::error::{AppError, Result};
use crate::platform::events::{Event, EventKind};
use crate::platform::jobs::{self, When};
use crate::platform::registry::{BoxFut, Delivery, JobKind, Mode, Registry, Subscriber};
use crate::platform::signing;
use carnet_domain::i18n::{Fmt, Locale};
use carnet_domain::values::EmailAddress;
use serde::{Deserialize, Serialize};

pub fn register(r: Registry) -> Registry {
    r.subscribe(Subscriber {
        name: "calendar invitations",
        kinds: &[
            EventKind::BookingMade,
            EventKind::BookingCancelled,
            EventKind::ActionPlanned,
            EventKind::RecordUpdated,
            EventKind::RecordDeleted,
        ],
        delivery: Delivery::InWriterTx,
        run: on_booking,
    })
    .subscribe(Subscriber {
        name: "reminder emails",
        kinds: &[EventKind::ActionPlanned, EventKind::RecordUpdated, EventKind::RecordCreated],
        delivery: Delivery::InWriterTx,
        run: on_action,
    })
    .job::<Reminder>()
}

#[derive(sqlx::FromRow)]
struct Appointment {
    id: i64,
    subject: String,
    notes: Option<String>,
    starts_at: Option<i64>,
    duration_min: Option<i64>,
    due_date: Option<String>,
    outcome: Option<String>,
    sequence: i64,
    updated_at: i64,
    planned_at: i64,
    remind_at: Option<i64>,
    invite: bool,
    type_id: i64,
    contact_id: Option<i64>,
    account_id: Option<i64>,
    opportunity_id: Option<i64>,
    assignee_id: Option<i64>,
}

#[derive(sqlx::FromRow)]
struct Person {
    id: i64,
    name: String,
    email: String,
    locale: String,
    time_zone: String,
}

async fn appointment(tx: &mut Tx, id: i64) -> Result<Option<Appointment>> {
    Ok(q(
        "SELECT id, subject, notes, starts_at, duration_min, due_date, outcome, sequence, updated_at, planned_at, remind_at, invite, type_id, \
          contact_id, account_id, opportunity_id, assignee_id FROM actions WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(tx)
    .await?)
}

async fn person(h: &mut impl Handle, id: i64) -> Result<Option<Person>> {
    Ok(
        q("SELECT id, name, email, locale, time_zone FROM users WHERE id = $1 AND active = TRUE")
            .bind(id)
            .fetch_optional(h)
            .await?,
    )
}

fn fmt_of(p: &Person) -> Fmt {
    let locale = Locale::parse(&p.locale).unwrap_or(Locale::En);
    let tz = carnet_domain::i18n::parse_time_zone(&p.time_zone).unwrap_or(chrono_tz::Europe::Paris);
    Fmt::new(locale, tz)
}

fn duration(fmt: &Fmt, minutes: i64) -> String {
    match (fmt.locale, minutes) {
        (_, m) if m % 60 == 0 && m >= 60 => format!("{} h", m / 60),
        (_, m) if m > 60 => format!("{} h {:02}", m / 60, m % 60),
        (_, m) => format!("{m} min"),
    }
}

/// A booking's manage link, its rep's booking page, and the CRM's link to the contact.
async fn booking_links(tx: &mut Tx, a: &Appointment, m: &mut Merge) -> Result<()> {
    let site = signing::site(tx.shared())?;
    if let Some(token) = crate::agenda::booking::manage_token(tx, a.id).await? {
        m.set("links.manage", site.url(&format!("/book/manage/{token}")));
    }
    if let Some(user) = a.assignee_id {
        let slug: Option<String> = q("SELECT slug FROM booking_pages WHERE user_id = $1 AND active = TRUE")
            .bind(user)
            .scalar_opt(&mut *tx)
            .await?;
        if let Some(slug) = slug {
            m.set("links.booking", site.url(&format!("/book/{slug}")));
        }
    }
    if let Some(c) = a.contact_id {
        m.set("links.record", site.url(&format!("/contacts/{c}")));
    }
    Ok(())
}

/// Calendar invitations, written in the transaction of the change: a booking's
/// confirmation (and a notice to the rep), its move and cancellation; and a
/// rep's appointment marked `invite`, when planned, changed, cancelled or
/// deleted. One UID per appointment, its SEQUENCE raised by each change.
fn on_booking<'a>(tx: &'a mut Tx, e: &'a Event) -> BoxFut<'a, Result<()>> {
    Box::pin(async move {
        if e.entity != "action" {
            return Ok(());
        }
        let Some(a) = appointment(tx, e.record_id).await? else {
            return Ok(());
        };
        let closed = matches!(a.outcome.as_deref(), Some("cancelled" | "rescheduled"));
        let (key, method, notice) = match e.kind {
            EventKind::BookingMade => ("booking_confirmation", "REQUEST", true),
            EventKind::BookingCancelled => ("booking_cancelled", "CANCEL", false),
            EventKind::RecordUpdated if e.data["rescheduled"] == true => ("booking_rescheduled", "REQUEST", false),
            _ if !a.invite || a.starts_at.is_none() => return Ok(()),
            EventKind::ActionPlanned => ("appointment_invitation", "REQUEST", false),
            EventKind::RecordUpdated if closed => ("appointment_cancelled", "CANCEL", false),
            // Ticked after planning: the first message is the invitation.
            EventKind::RecordUpdated if a.outcome.is_none() && !invited(tx, a.id).await? => ("appointment_invitation", "REQUEST", false),
            EventKind::RecordUpdated if a.outcome.is_none() => ("appointment_updated", "REQUEST", false),
            EventKind::RecordDeleted if a.outcome.is_none() => ("appointment_cancelled", "CANCEL", false),
            _ => return Ok(()),
        };
        let (Some(user), Some(cid)) = (a.assignee_id, a.contact_id) else {
            return Ok(());
        };
        let Some(rep) = person(tx, user).await? else {
            return Ok(());
        };
        let mut m = merge_for(tx, rep.id, Some(cid), None).await?;
        let Ok(to) = EmailAddress::parse(m.get("contact.email")) else {
            // A rep asked for the invitation: say why it cannot go, and keep nothing half-done.
            if a.invite && e.kind != EventKind::RecordDeleted {
                return Err(AppError::field(
                    "invite",
                    "the contact has no email address to send the invitation to",
                ));
            }
            return Ok(());
        };
        let fmt = fmt_of(&rep);
        m.set("appointment.subject", a.subject.clone())
            .set("appointment.when", a.starts_at.map(|s| fmt.datetime(s)).unwrap_or_default())
            .set("appointment.duration", duration(&fmt, a.duration_min.unwrap_or(0)));
        booking_links(tx, &a, &mut m).await?;
        let types = crate::agenda::types_in(tx).await?;
        let host = crate::agenda::calendar::instance_id_in(tx).await?;
        let mut action = to_action(&a);
        if method == "CANCEL" {
            action.outcome = Some("cancelled".into());
            if e.kind == EventKind::RecordDeleted {
                // The row goes: its cancellation is one change more.
                action.sequence += 1;
            }
        }
        let organizer = (m.get("owner.name").to_string(), rep.email.clone());
        let attendee = (m.get("contact.name").to_string(), to.as_str().to_string());
        let ics = crate::agenda::calendar::invitation(&action, &types, &host, method, &organizer, &attendee);
        let t = library::find(tx, key, fmt.locale.as_str()).await?;
        let r = library::render(&t, &m)?;
        let mut email = NewEmail::new(Category::Transactional, to, r.subject, r.html);
        email.template_key = Some(key.into());
        email.to_name = Some(m.get("contact.name").to_string());
        email.from_name = Some(m.get("owner.name").to_string());
        email.reply_to = EmailAddress::parse(&rep.email).ok();
        email.ics = Some((method.into(), ics));
        // A confirmation is a service to the prospect, not a campaign: no tracking.
        email.tracking = false;
        email.user_id = Some(rep.id);
        email.contact_id = Some(cid);
        email.action_id = Some(a.id);
        outbox::queue(tx, email).await?;
        if notice {
            let Ok(rep_address) = EmailAddress::parse(&rep.email) else {
                return Ok(());
            };
            let t = library::find(tx, "booking_notice", fmt.locale.as_str()).await?;
            let r = library::render(&t, &m)?;
            let mut email = NewEmail::new(Category::Transactional, rep_address, r.subject, r.html);
            email.template_key = Some("booking_notice".into());
            email.to_name = Some(rep.name.clone());
            email.action_id = Some(a.id);
            email.tracking = false;
            outbox::queue(tx, email).await?;
        }
        Ok(())
    })
}

/// Whether the contact of an appointment was already sent its invitation.
async fn invited(tx: &mut Tx, action_id: i64) -> Result<bool> {
    Ok(
        q("SELECT 1 FROM emails WHERE action_id = $1 AND template_key = 'appointment_invitation'")
            .bind(action_id)
            .scalar_opt::<i32>(&mut *tx)
            .await?
            .is_some(),
    )
}

fn to_action(a: &Appointment) -> crate::agenda::actions::Action {
    crate::agenda::actions::Action {
        id: a.id,
        type_id: a.type_id,
        subject: a.subject.clone(),
        notes: a.notes.clone(),
        account_id: a.account_id,
        contact_id: a.contact_id,
        opportunity_id: a.opportunity_id,
        assignee_id: a.assignee_id,
        created_by: None,
        starts_at: a.starts_at,
        duration_min: a.duration_min,
        due_date: a.due_date.clone(),
        done_at: None,
        spent_min: None,
        outcome: a.outcome.clone(),
        planned_at: a.planned_at,
        recurring_rule_id: None,
        remind_min: None,
        remind_at: a.remind_at,
        invite: a.invite,
        sequence: a.sequence,
        created_at: a.updated_at,
        updated_at: a.updated_at,
    }
}

/// Queues the reminder email of an action whose reminder time is set: one job
/// per action and reminder time (a changed time queues a new one; the old one
/// finds the time changed and sends nothing).
fn on_action<'a>(tx: &'a mut Tx, e: &'a Event) -> BoxFut<'a, Result<()>> {
    Box::pin(async move {
        if e.entity != "action" {
            return Ok(());
        }
        let Some(a) = appointment(tx, e.record_id).await? else {
            return Ok(());
        };
        let (Some(at), None) = (a.remind_at, &a.outcome) else {
            return Ok(());
        };
        jobs::enqueue::<Reminder>(
            tx,
            &ReminderPayload {
                action_id: a.id,
                remind_at: at,
            },
            When::At(at),
            Some(format!("reminder:{}:{at}", a.id)),
        )
        .await
    })
}

/// Sends an action's reminder by email to its assignee, at the reminder time.
pub struct Reminder;

#[derive(Debug, Serialize, Deserialize)]
pub struct ReminderPayload {
    pub action_id: i64,
    pub remind_at: i64,
}

impl JobKind for Reminder {
    const NAME: &'static str = "mail.reminder";
    const MODE: Mode = Mode::InQueueTx;
    type Payload = ReminderPayload;

    fn run_in(tx: &mut Tx, p: ReminderPayload) -> BoxFut<'_, Result<()>> {
        Box::pin(async move {
            let Some(a) = appointment(tx, p.action_id).await? else {
                return Ok(());
            };
            // Changed, dismissed or done since: nothing to remind.
            if a.remind_at != Some(p.remind_at) || a.outcome.is_some() {
                return Ok(());
            }
            let Some(user) = a.assignee_id else { return Ok(()) };
            let Some(rep) = person(tx, user).await? else { return Ok(()) };
            let Ok(to) = EmailAddress::parse(&rep.email) else { return Ok(()) };
            let fmt = fmt_of(&rep);
            let mut m = merge_for(tx, rep.id, a.contact_id, None).await?;
            let when = match (a.starts_at, &a.due_date) {
                (Some(s), _) => fmt.datetime(s),
                (None, Some(d)) => chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d")
                    .map(|d| fmt.date(d))
                    .unwrap_or_default(),
                _ => String::new(),
            };
            let site = signing::site(tx.shared())?;
            m.set("action.subject", a.subject.clone())
                .set("action.when", when)
                .set("links.action", site.url(&format!("/agenda/actions/{}", a.id)));
            let t = library::find(tx, "action_reminder", fmt.locale.as_str()).await?;
            let r = library::render(&t, &m)?;
            let mut email = NewEmail::new(Category::Transactional, to, r.subject, r.html);
            email.template_key = Some("action_reminder".into());
            email.to_name = Some(rep.name.clone());
            email.action_id = Some(a.id);
            email.tracking = false;
            outbox::queue(tx, email).await.map(|_| ())
        })
    }
}

/// Queues the test email of Settings → Email to the user asking for it.
/// Tells a rep a lead was handed to them (a scoring threshold crossed).
pub async fn lead_notice(tx: &mut Tx, rep_id: i64, contact_id: i64, threshold: &str, score: i64) -> Result<()> {
    let Some(rep) = person(tx, rep_id).await? else {
        return Ok(());
    };
    let Ok(to) = EmailAddress::parse(&rep.email) else {
        return Ok(());
    };
    let mut m = merge_for(&mut *tx, rep.id, Some(contact_id), None).await?;
    let site = signing::site(tx.shared())?;
    m.set("links.record", site.url(&format!("/contacts/{contact_id}")))
        .set("results.score", score.to_string())
        .set("results.band", threshold);
    let t = library::find(&mut *tx, "lead_assigned", &rep.locale).await?;
    let r = library::render(&t, &m)?;
    let mut email = NewEmail::new(Category::Transactional, to, r.subject, r.html);
    email.template_key = Some("lead_assigned".into());
    email.to_name = Some(rep.name.clone());
    email.user_id = Some(rep.id);
    email.contact_id = Some(contact_id);
    email.tracking = false;
    email.locale = Locale::parse(&rep.locale).unwrap_or(Locale::En);
    outbox::queue(tx, email).await?;
    Ok(())
}

pub async fn test_email(db: &crate::Db, user_id: i64) -> Result<i64> {
    let mut tx = db.begin().await?;
    let rep = person(&mut tx, user_id).await?.ok_or(AppError::NotFound)?;
    let to = EmailAddress::parse(&rep.email).map_err(|e| AppError::field("email", e))?;
    let m = merge_for(&mut tx, rep.id, None, None).await?;
    let t = library::find(&mut tx, "test", &rep.locale).await?;
    let r = library::render(&t, &m)?;
    let mut email = NewEmail::new(Category::Transactional, to, r.subject, r.html);
    email.template_key = Some("test".into());
    email.to_name = Some(rep.name.clone());
    email.user_id = Some(rep.id);
    email.tracking = false;
    let id = outbox::queue(&mut tx, email).await?;
    tx.commit().await?;
    Ok(id)
}
