//! Booking pages (A4): a public page per user showing only free slots, computed
//! from working hours, buffers, notice, horizon and the agenda — never its
//! content. A booking re-checks its slot inside the write transaction after
//! taking the rep's booking row lock, so two prospects racing for one slot
//! cannot both get it.
//!
//! This file: personal pages (settings, working hours, free slots); `book`: a
//! booking, its manage link (cancel, reschedule); `teams`: team pages (the
//! union of the members' free slots, round robin or least busy).

mod book;
mod teams;

pub use book::*;
pub use teams::*;

use crate::access::{random_token, token_hash};
use crate::db::{q, Db, Handle, Tx};
use crate::error::{AppError, Result};
use crate::platform::events::{self, EventKind, NewEvent};
use crate::records::timeline::{self, NewEntry};
use carnet_domain::fields::Entity;
use carnet_domain::i18n::parse_time_zone;
use carnet_domain::records::{Catalog, ContactDraft};
use carnet_domain::slots::{default_hours, free_slots, SlotRules, WorkInterval};
use carnet_domain::values::{optional_text, required_name, EmailAddress, Phone, MAX_SHORT_TEXT};
use carnet_domain::FieldErrors;
use serde::Serialize;

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct BookingPage {
    pub user_id: i64,
    pub slug: String,
    pub type_id: i64,
    pub duration_min: i64,
    pub buffer_before_min: i64,
    pub buffer_after_min: i64,
    pub min_notice_min: i64,
    pub horizon_days: i64,
    pub active: bool,
}

/// The slot rules of a page (personal or team), on a 15-minute step.
pub(super) fn slot_rules(
    duration_min: i64,
    buffer_before_min: i64,
    buffer_after_min: i64,
    min_notice_min: i64,
    horizon_days: i64,
) -> SlotRules {
    SlotRules {
        duration_min,
        buffer_before_min,
        buffer_after_min,
        min_notice_min,
        horizon_days,
        step_min: 15,
    }
}

/// What a personal and a team page both check: the address (unused by the other
/// kind of page), the rules and the appointment type. Returns the address as stored.
pub(super) async fn check_page(db: &Db, e: &mut FieldErrors, slug: &str, type_id: i64, r: &SlotRules, other_table: &str) -> Result<String> {
    let slug = slug.trim().to_lowercase();
    if slug.len() < 3 || slug.len() > 60 || !slug.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
        e.add("slug", "must be 3 to 60 letters, digits or dashes");
    } else {
        let taken: Option<String> = q(format!("SELECT slug FROM {other_table} WHERE slug = $1"))
            .bind(slug.clone())
            .scalar_opt(&mut db.conn().await?)
            .await?;
        if taken.is_some() {
            e.add("slug", "is already used by another booking page");
        }
    }
    for (f, v, min, max) in [
        ("duration", r.duration_min, 1, 480),
        ("buffer_before", r.buffer_before_min, 0, 240),
        ("buffer_after", r.buffer_after_min, 0, 240),
        ("min_notice", r.min_notice_min, 0, 60 * 24 * 30),
        ("horizon_days", r.horizon_days, 1, 365),
    ] {
        if !(min..=max).contains(&v) {
            e.add(f, format!("must be between {min} and {max}"));
        }
    }
    if !super::types(db).await?.iter().any(|t| t.id == type_id && t.kind == "appointment") {
        e.add("type", "must be an appointment type");
    }
    Ok(slug)
}

pub(super) const COLS: &str =
    "user_id, slug, type_id, duration_min, buffer_before_min, buffer_after_min, min_notice_min, horizon_days, active";

impl BookingPage {
    pub fn rules(&self) -> SlotRules {
        slot_rules(
            self.duration_min,
            self.buffer_before_min,
            self.buffer_after_min,
            self.min_notice_min,
            self.horizon_days,
        )
    }
}

pub async fn by_slug(db: &Db, slug: &str) -> Result<Option<BookingPage>> {
    Ok(q(format!("SELECT {COLS} FROM booking_pages WHERE slug = $1 AND active = TRUE"))
        .bind(slug)
        .fetch_optional(&mut db.conn().await?)
        .await?)
}

pub async fn for_user(db: &Db, user_id: i64) -> Result<Option<BookingPage>> {
    Ok(q(format!("SELECT {COLS} FROM booking_pages WHERE user_id = $1"))
        .bind(user_id)
        .fetch_optional(&mut db.conn().await?)
        .await?)
}

pub struct PageInput<'a> {
    pub slug: &'a str,
    pub type_id: i64,
    pub duration_min: i64,
    pub buffer_before_min: i64,
    pub buffer_after_min: i64,
    pub min_notice_min: i64,
    pub horizon_days: i64,
    pub active: bool,
}

pub async fn save_page(db: &Db, user_id: i64, p: PageInput<'_>) -> Result<()> {
    let mut e = FieldErrors::new();
    let rules = slot_rules(
        p.duration_min,
        p.buffer_before_min,
        p.buffer_after_min,
        p.min_notice_min,
        p.horizon_days,
    );
    let slug = check_page(db, &mut e, p.slug, p.type_id, &rules, "booking_teams").await?;
    e.into_result()?;
    let mut tx = db.begin().await?;
    q(format!(
        "INSERT INTO booking_pages ({COLS}, version) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 0) \
         ON CONFLICT (user_id) DO UPDATE SET slug = excluded.slug, type_id = excluded.type_id, duration_min = excluded.duration_min, \
         buffer_before_min = excluded.buffer_before_min, buffer_after_min = excluded.buffer_after_min, min_notice_min = excluded.min_notice_min, \
         horizon_days = excluded.horizon_days, active = excluded.active"
    ))
    .bind(user_id)
    .bind(slug)
    .bind(p.type_id)
    .bind(p.duration_min)
    .bind(p.buffer_before_min)
    .bind(p.buffer_after_min)
    .bind(p.min_notice_min)
    .bind(p.horizon_days)
    .bind(p.active)
    .execute(&mut tx)
    .await
    .map_err(|e| if crate::db::is_unique_violation(&e) { AppError::field("slug", "is already used by another booking page") } else { e.into() })?;
    tx.commit().await?;
    Ok(())
}

pub async fn hours(h: &mut impl Handle, user_id: i64) -> Result<Vec<WorkInterval>> {
    let rows: Vec<(i64, i64, i64)> =
        q("SELECT weekday, start_min, end_min FROM working_hours WHERE user_id = $1 ORDER BY weekday, start_min")
            .bind(user_id)
            .fetch_all(h)
            .await?;
    if rows.is_empty() {
        return Ok(default_hours());
    }
    Ok(rows
        .into_iter()
        .map(|(w, s, e)| WorkInterval {
            weekday: w as u32,
            start_min: s as u32,
            end_min: e as u32,
        })
        .collect())
}

/// Replaces a user's working hours: intervals per weekday (0 = Monday).
pub async fn set_hours(db: &Db, user_id: i64, week: &[(u32, Vec<(u32, u32)>)]) -> Result<()> {
    let mut tx = db.begin().await?;
    q("DELETE FROM working_hours WHERE user_id = $1")
        .bind(user_id)
        .execute(&mut tx)
        .await?;
    for (day, intervals) in week {
        for (s, e) in intervals {
            q("INSERT INTO working_hours (user_id, weekday, start_min, end_min) VALUES ($1, $2, $3, $4)")
                .bind(user_id)
                .bind(*day as i64)
                .bind(*s as i64)
                .bind(*e as i64)
                .execute(&mut tx)
                .await
                .map_err(|e| {
                    if crate::db::is_unique_violation(&e) {
                        AppError::field("hours", "two intervals start at the same time")
                    } else {
                        e.into()
                    }
                })?;
        }
    }
    tx.commit().await?;
    Ok(())
}

/// The user's occupied intervals overlapping [from, to): appointments not
/// cancelled or rescheduled.
pub(super) async fn busy(h: &mut impl Handle, user_id: i64, from: i64, to: i64) -> Result<Vec<(i64, i64)>> {
    busy_except(h, user_id, from, to, 0).await
}

/// The same, leaving out one appointment (the one being rescheduled).
pub(super) async fn busy_except(h: &mut impl Handle, user_id: i64, from: i64, to: i64, except: i64) -> Result<Vec<(i64, i64)>> {
    Ok(appointments(h, user_id, from, to)
        .await?
        .into_iter()
        .filter(|(id, ..)| *id != except)
        .map(|(_, s, e)| (s, e))
        .collect())
}

/// The appointments that occupy a user's diary in [from, to): (id, start, end),
/// all but the cancelled and rescheduled ones.
pub(crate) async fn appointments(h: &mut impl Handle, user_id: i64, from: i64, to: i64) -> Result<Vec<(i64, i64, i64)>> {
    Ok(q(
        "SELECT id, starts_at, starts_at + duration_min * 60 FROM actions WHERE assignee_id = $1 AND starts_at IS NOT NULL \
          AND (outcome IS NULL OR outcome NOT IN ('cancelled', 'rescheduled')) AND planned_at < $2 AND planned_at > $3",
    )
    .bind(user_id)
    .bind(to)
    .bind(from - carnet_domain::agenda::MAX_DURATION_MIN * 60)
    .fetch_all::<(i64, i64, i64)>(h)
    .await?
    .into_iter()
    .filter(|(_, s, e)| *s < to && *e > from)
    .collect())
}

pub(super) async fn zone(h: &mut impl Handle, user_id: i64) -> Result<chrono_tz::Tz> {
    let tz: String = q("SELECT time_zone FROM users WHERE id = $1").bind(user_id).scalar(h).await?;
    Ok(parse_time_zone(&tz).unwrap_or(chrono_tz::Europe::Paris))
}

/// Free slots of a user in [from, to), with the booking page's rules (or a
/// default 30-minute meeting when the user has no page).
pub async fn free(db: &Db, user_id: i64, from: i64, to: i64, duration: Option<i64>) -> Result<Vec<i64>> {
    let mut c = db.conn().await?;
    let page = for_user(db, user_id).await?;
    let mut rules = page.as_ref().map(BookingPage::rules).unwrap_or(SlotRules {
        duration_min: 30,
        buffer_before_min: 0,
        buffer_after_min: 0,
        min_notice_min: 0,
        horizon_days: 365,
        step_min: 15,
    });
    if let Some(d) = duration {
        rules.duration_min = d;
    }
    let tz = zone(&mut c, user_id).await?;
    let hours = hours(&mut c, user_id).await?;
    let busy = busy(&mut c, user_id, from - 86_400, to + 86_400).await?;
    Ok(free_slots(tz, &hours, &busy, from, to, &rules, db.now()))
}

/// The next `n` free slots of a user from now (proposed after a no-show).
pub async fn propose(db: &Db, user_id: i64, n: usize) -> Result<Vec<i64>> {
    let t = db.now();
    let mut slots = free(db, user_id, t, t + 30 * 86_400, None).await?;
    slots.truncate(n);
    Ok(slots)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn team(strategy: &str, last: Option<i64>) -> Team {
        Team {
            id: 1,
            slug: "sales".into(),
            name: "Sales".into(),
            type_id: 1,
            duration_min: 30,
            buffer_before_min: 0,
            buffer_after_min: 0,
            min_notice_min: 0,
            horizon_days: 30,
            strategy: strategy.into(),
            time_zone: "Europe/Paris".into(),
            active: true,
            last_user_id: last,
        }
    }

    #[test]
    fn round_robin_starts_after_the_last_member_served() {
        assert_eq!(member_order(&team("round_robin", None), &[3, 5, 9], &[]), vec![3, 5, 9]);
        assert_eq!(member_order(&team("round_robin", Some(5)), &[3, 5, 9], &[]), vec![9, 3, 5]);
        assert_eq!(member_order(&team("round_robin", Some(9)), &[3, 5, 9], &[]), vec![3, 5, 9]);
    }

    #[test]
    fn least_busy_prefers_the_emptiest_diary() {
        let load = [(3, 4), (5, 1), (9, 1)];
        assert_eq!(member_order(&team("least_busy", Some(5)), &[3, 5, 9], &load), vec![9, 5, 3]);
    }
}
