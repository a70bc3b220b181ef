//! Calendar feeds (A3): a private, revocable iCalendar (RFC 5545) subscription
//! per user, and one event as a download. Times are written in UTC (`Z`), which
//! every client converts to its own zone, so no VTIMEZONE is needed and a
//! daylight-saving change cannot shift an appointment. UIDs are stable per
//! action; SEQUENCE follows each change; cancelled actions stay, marked
//! CANCELLED, so that subscribed calendars remove them.

use super::actions::{self, Action};
use crate::access::{random_token, token_hash};
use crate::db::{q, Db};
use crate::error::{AppError, Result};
use carnet_domain::agenda::ActionTypeDef;
use chrono::{NaiveDate, TimeZone, Utc};

/// This installation's id: the host part of event UIDs, stable across renames.
pub async fn instance_id(db: &Db) -> Result<String> {
    if let Some(v) = q("SELECT value FROM app_settings WHERE key = 'instance_id'")
        .scalar_opt::<String>(&mut db.conn().await?)
        .await?
    {
        return Ok(v);
    }
    let id: String = random_token()
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .take(12)
        .collect::<String>()
        .to_lowercase();
    let mut tx = db.begin().await?;
    q("INSERT INTO app_settings (key, value) VALUES ('instance_id', $1) ON CONFLICT (key) DO NOTHING")
        .bind(format!("{id}.carnet"))
        .execute(&mut tx)
        .await?;
    tx.commit().await?;
    Ok(q("SELECT value FROM app_settings WHERE key = 'instance_id'")
        .scalar::<String>(&mut db.conn().await?)
        .await?)
}

/// The installation's id read in a transaction (created at start by [`instance_id`]).
pub async fn instance_id_in(h: &mut impl crate::db::Handle) -> Result<String> {
    q("SELECT value FROM app_settings WHERE key = 'instance_id'")
        .scalar_opt::<String>(h)
        .await?
        .ok_or_else(|| AppError::internal("the instance id is created at start"))
}

/// Makes a new subscription token for a user, revoking the previous ones.
pub async fn new_token(db: &Db, user_id: i64) -> Result<String> {
    let token = random_token();
    let mut tx = db.begin().await?;
    q("UPDATE calendar_feeds SET revoked_at = $1 WHERE user_id = $2 AND revoked_at IS NULL")
        .bind(tx.now())
        .bind(user_id)
        .execute(&mut tx)
        .await?;
    q("INSERT INTO calendar_feeds (token_hash, user_id, created_at) VALUES ($1, $2, $3)")
        .bind(token_hash(&token))
        .bind(user_id)
        .bind(tx.now())
        .execute(&mut tx)
        .await?;
    tx.commit().await?;
    Ok(token)
}

pub async fn revoke(db: &Db, user_id: i64) -> Result<()> {
    let mut tx = db.begin().await?;
    q("UPDATE calendar_feeds SET revoked_at = $1 WHERE user_id = $2 AND revoked_at IS NULL")
        .bind(tx.now())
        .bind(user_id)
        .execute(&mut tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

pub async fn user_for(db: &Db, token: &str) -> Result<Option<i64>> {
    Ok(q("SELECT f.user_id FROM calendar_feeds f JOIN users u ON u.id = f.user_id WHERE f.token_hash = $1 AND f.revoked_at IS NULL AND u.active = TRUE")
        .bind(token_hash(token))
        .scalar_opt(&mut db.conn().await?)
        .await?)
}

/// Escapes a TEXT value (RFC 5545 §3.3.11).
fn text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            ';' => out.push_str("\\;"),
            ',' => out.push_str("\\,"),
            '\n' => out.push_str("\\n"),
            '\r' => {}
            // RFC 5545 text allows HTAB (WSP); other control characters go.
            '\t' => out.push('\t'),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// Folds a content line at 75 octets, never inside a character (§3.1).
fn fold(line: &str, out: &mut String) {
    let mut used = 0;
    for c in line.chars() {
        let n = c.len_utf8();
        if used + n > 75 {
            out.push_str("\r\n ");
            used = 1;
        }
        out.push(c);
        used += n;
    }
    out.push_str("\r\n");
}

fn utc(ts: i64) -> String {
    Utc.timestamp_opt(ts, 0)
        .single()
        .map(|t| t.format("%Y%m%dT%H%M%SZ").to_string())
        .unwrap_or_default()
}

fn event(a: &Action, types: &[ActionTypeDef], host: &str, people: &[String], lines: &mut Vec<String>) {
    let kind = types.iter().find(|t| t.id == a.type_id).map(|t| t.name.as_str()).unwrap_or("");
    lines.push("BEGIN:VEVENT".into());
    lines.push(format!("UID:action-{}@{host}", a.id));
    lines.push(format!("DTSTAMP:{}", utc(a.updated_at)));
    lines.push(format!("SEQUENCE:{}", a.sequence));
    match (a.starts_at, a.duration_min, &a.due_date) {
        (Some(s), Some(d), _) => {
            lines.push(format!("DTSTART:{}", utc(s)));
            lines.push(format!("DTEND:{}", utc(s + d * 60)));
        }
        (_, _, Some(day)) => {
            if let Ok(d) = NaiveDate::parse_from_str(day, "%Y-%m-%d") {
                lines.push(format!("DTSTART;VALUE=DATE:{}", d.format("%Y%m%d")));
                lines.push(format!("DTEND;VALUE=DATE:{}", d.succ_opt().unwrap_or(d).format("%Y%m%d")));
            }
        }
        _ => {}
    }
    lines.push(format!("SUMMARY:{}", text(&a.subject)));
    if let Some(n) = &a.notes {
        lines.push(format!("DESCRIPTION:{}", text(n)));
    }
    if !kind.is_empty() {
        lines.push(format!("CATEGORIES:{}", text(kind)));
    }
    let status = match a.outcome.as_deref() {
        Some("cancelled") | Some("rescheduled") => "CANCELLED",
        _ => "CONFIRMED",
    };
    lines.extend(people.iter().cloned());
    lines.push(format!("STATUS:{status}"));
    lines.push("TRANSP:OPAQUE".into());
    lines.push("END:VEVENT".into());
}

/// A calendar of these actions.
pub fn render(name: &str, list: &[Action], types: &[ActionTypeDef], host: &str) -> String {
    let mut lines = header("PUBLISH");
    lines.push(format!("X-WR-CALNAME:{}", text(name)));
    for a in list {
        event(a, types, host, &[], &mut lines);
    }
    finish(lines)
}

fn header(method: &str) -> Vec<String> {
    vec![
        "BEGIN:VCALENDAR".to_string(),
        "VERSION:2.0".into(),
        "PRODID:-//Carnet//Carnet CRM//EN".into(),
        "CALSCALE:GREGORIAN".into(),
        format!("METHOD:{method}"),
    ]
}

/// An invitation (iTIP, RFC 5546) to one attendee: `REQUEST` for a new or moved
/// appointment, `CANCEL` for a cancelled one; the same UID every time and the
/// action's SEQUENCE, so the attendee's calendar updates its copy.
pub fn invitation(
    a: &Action,
    types: &[ActionTypeDef],
    host: &str,
    method: &str,
    organizer: &(String, String),
    attendee: &(String, String),
) -> String {
    let mut lines = header(method);
    let people = [
        format!("ORGANIZER;CN={}:mailto:{}", param(&organizer.0), organizer.1),
        format!(
            "ATTENDEE;CN={};ROLE=REQ-PARTICIPANT;PARTSTAT=NEEDS-ACTION;RSVP=TRUE:mailto:{}",
            param(&attendee.0),
            attendee.1
        ),
    ];
    event(a, types, host, &people, &mut lines);
    finish(lines)
}

/// A parameter value (CN): quoted, without the characters a quoted value may not hold.
fn param(s: &str) -> String {
    format!("\"{}\"", s.chars().filter(|c| !matches!(c, '"' | '\r' | '\n')).collect::<String>())
}

fn finish(mut lines: Vec<String>) -> String {
    lines.push("END:VCALENDAR".into());
    let mut out = String::new();
    for l in lines {
        fold(&l, &mut out);
    }
    out
}

/// The user's actions from 90 days back to a year ahead: all of them, read in
/// pages of 1,000 (a busy diary's furthest future is not dropped).
pub async fn feed(db: &Db, user_id: i64, name: &str, host: &str) -> Result<String> {
    let t = db.now();
    let mut f = actions::ActionFilter {
        assignee: Some(user_id),
        from: Some(t - 90 * 86_400),
        to: Some(t + 366 * 86_400),
        record: None,
        open_only: false,
        after: None,
        limit: 1000,
    };
    let mut list = Vec::new();
    loop {
        let page = actions::list(db, &f).await?;
        let full = page.len() as i64 == f.limit;
        f.after = page.last().map(|a| (a.planned_at, a.id));
        list.extend(page);
        if !full {
            break;
        }
    }
    Ok(render(name, &list, &super::types(db).await?, host))
}

pub async fn one(db: &Db, id: i64, host: &str) -> Result<String> {
    let a = actions::get(db, id).await?;
    if a.starts_at.is_none() && a.due_date.is_none() {
        return Err(AppError::NotFound);
    }
    let name = a.subject.clone();
    Ok(render(&name, &[a], &super::types(db).await?, host))
}

#[cfg(test)]
mod tests {
    #[test]
    fn folds_at_75_octets_on_character_boundaries() {
        let mut out = String::new();
        super::fold(&format!("SUMMARY:{}", "é".repeat(60)), &mut out);
        for line in out.split("\r\n").filter(|l| !l.is_empty()) {
            assert!(line.len() <= 75, "{} octets", line.len());
        }
        assert_eq!(out.replace("\r\n ", "").trim_end(), format!("SUMMARY:{}", "é".repeat(60)));
        assert_eq!(super::text("a,b;c\\d\ne"), "a\\,b\\;c\\\\d\\ne");
        assert_eq!(super::text("tab\there\u{0}\u{7}"), "tab\there", "tabs stay, other controls go");
    }
}
