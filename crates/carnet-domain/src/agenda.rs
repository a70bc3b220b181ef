//! Actions (SPEC A1): typed, linked to records, planned at a time (appointments)
//! or for a day (tasks). Times are typed in the user's zone and stored in UTC; a
//! local time that does not exist (the spring daylight-saving gap) is refused.

use crate::catalog::Catalog;
use crate::error::FieldErrors;
use crate::input::RawInput;
use crate::values::{optional_text, required_name, MAX_LONG_TEXT};
use chrono::{DateTime, Duration, NaiveDate, NaiveDateTime, TimeZone, Timelike};
use chrono_tz::Tz;
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Done,
    NoShow,
    Cancelled,
    Rescheduled,
}

impl Outcome {
    pub fn parse(s: &str) -> Result<Self, String> {
        match s.trim() {
            "done" => Ok(Outcome::Done),
            "no_show" => Ok(Outcome::NoShow),
            "cancelled" => Ok(Outcome::Cancelled),
            "rescheduled" => Ok(Outcome::Rescheduled),
            _ => Err("must be done, no_show, cancelled or rescheduled".into()),
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Done => "done",
            Outcome::NoShow => "no_show",
            Outcome::Cancelled => "cancelled",
            Outcome::Rescheduled => "rescheduled",
        }
    }
}

#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct ActionTypeDef {
    pub id: i64,
    pub name: String,
    pub color: String,
    pub icon: String,
    /// `task` or `appointment`.
    pub kind: String,
}

/// When an action is planned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum When {
    /// An appointment: start (UTC seconds) and duration in minutes.
    At { starts_at: i64, duration_min: i64 },
    /// A task: due on a day.
    Due(NaiveDate),
}

impl When {
    /// The instant used to order actions: the start, or the due day at 00:00 UTC.
    pub fn planned_at(&self) -> i64 {
        match self {
            When::At { starts_at, .. } => *starts_at,
            When::Due(d) => d.and_hms_opt(0, 0, 0).unwrap().and_utc().timestamp(),
        }
    }
}

/// Parses a local date-time in a zone: `YYYY-MM-DDTHH:MM`, or an RFC 3339
/// instant with its own offset.
pub fn parse_local(raw: &str, tz: Tz) -> Result<i64, String> {
    let t = raw.trim();
    if let Ok(dt) = DateTime::parse_from_rfc3339(t) {
        return Ok(dt.timestamp());
    }
    let naive = NaiveDateTime::parse_from_str(t, "%Y-%m-%dT%H:%M")
        .or_else(|_| NaiveDateTime::parse_from_str(t, "%Y-%m-%d %H:%M"))
        .or_else(|_| NaiveDateTime::parse_from_str(t, "%Y-%m-%dT%H:%M:%S"))
        .map_err(|_| "must be a date and time (YYYY-MM-DDTHH:MM)".to_string())?;
    match tz.from_local_datetime(&naive) {
        chrono::LocalResult::Single(d) => Ok(d.timestamp()),
        // The autumn change repeats an hour: the first one is meant.
        chrono::LocalResult::Ambiguous(first, _) => Ok(first.timestamp()),
        chrono::LocalResult::None => Err(format!("does not exist in {} (daylight-saving change)", tz.name())),
    }
}

pub const MAX_DURATION_MIN: i64 = 7 * 24 * 60;

pub fn parse_duration(raw: &str) -> Result<i64, String> {
    let n: i64 = raw.trim().parse().map_err(|_| "must be a number of minutes".to_string())?;
    if n <= 0 {
        return Err("must be more than zero minutes".into());
    }
    if n > MAX_DURATION_MIN {
        return Err("must be at most a week".into());
    }
    Ok(n)
}

/// `n` days after `d`, counting only Monday to Friday when `business`.
pub fn add_days(d: NaiveDate, n: i64, business: bool) -> NaiveDate {
    if !business {
        return d + Duration::days(n);
    }
    crate::time::add_business_days(d, n)
}

#[derive(Debug, Clone, Serialize)]
pub struct ActionDraft {
    pub type_id: i64,
    pub subject: String,
    pub notes: Option<String>,
    pub account_id: Option<i64>,
    pub contact_id: Option<i64>,
    pub opportunity_id: Option<i64>,
    pub assignee_id: Option<i64>,
    pub when: When,
    /// A reminder this many minutes before (tasks: before 09:00 on the due day),
    /// and the instant it falls due.
    pub remind: Option<(i64, i64)>,
    /// Appointments: send the contact a calendar invitation (and its updates).
    pub invite: bool,
}

/// The longest reminder lead: a week.
pub const MAX_REMIND_MIN: i64 = 7 * 24 * 60;

impl When {
    /// The instant a reminder `lead` minutes ahead falls due, in `tz` for tasks.
    pub fn remind_at(&self, lead: i64, tz: Tz) -> i64 {
        let at = match self {
            When::At { starts_at, .. } => *starts_at,
            When::Due(d) => tz
                .from_local_datetime(&d.and_hms_opt(9, 0, 0).unwrap())
                .earliest()
                .map(|t| t.timestamp())
                .unwrap_or_else(|| self.planned_at()),
        };
        at - lead * 60
    }
}

fn record_ref(e: &mut FieldErrors, input: &RawInput, k: &str) -> Option<i64> {
    let raw = input.one(k).trim().trim_start_matches('#');
    if raw.is_empty() {
        return None;
    }
    e.check(
        k,
        raw.split_whitespace()
            .next()
            .unwrap_or("")
            .parse::<i64>()
            .map_err(|_| "must be a record id".to_string()),
    )
}

impl ActionDraft {
    /// `tz` is the zone local times are typed in (the user's, unless `time_zone` is given).
    /// `now` (unix seconds) gives a task without a due date today's date in `tz`.
    pub fn parse(
        input: &RawInput,
        cat: &Catalog,
        types: &[ActionTypeDef],
        tz: Tz,
        now: i64,
        ignored: &[&str],
    ) -> Result<Self, FieldErrors> {
        const KEYS: &[&str] = &[
            "type",
            "subject",
            "notes",
            "account",
            "contact",
            "opportunity",
            "assignee",
            "starts_at",
            "duration",
            "ends_at",
            "due_date",
            "time_zone",
            "remind",
            "invite",
        ];
        let mut e = FieldErrors::new();
        for k in input.0.keys() {
            if !KEYS.contains(&k.as_str()) && !ignored.contains(&k.as_str()) {
                e.add(k.clone(), "is not a known field");
            }
        }
        let t = input.one("type").trim();
        let kind = types.iter().find(|x| x.id.to_string() == t || x.name.eq_ignore_ascii_case(t));
        if kind.is_none() {
            e.add(
                "type",
                if t.is_empty() {
                    "is required".to_string()
                } else {
                    format!("“{t}” is not a known action type")
                },
            );
        }
        let subject = e.check("subject", required_name(input.one("subject")));
        let notes = e.check("notes", optional_text(input.one("notes"), MAX_LONG_TEXT)).flatten();
        let tz = match input.one("time_zone").trim() {
            "" => tz,
            z => e.check("time_zone", crate::i18n::parse_time_zone(z)).unwrap_or(tz),
        };
        let assignee_id = match input.one("assignee").trim() {
            "" => None,
            a => e.check("assignee", cat.resolve_user(a)),
        };
        let when = match kind.map(|k| k.kind.as_str()) {
            Some("appointment") => {
                let start = if input.one("starts_at").trim().is_empty() {
                    e.add("starts_at", "is required for an appointment");
                    None
                } else {
                    e.check("starts_at", parse_local(input.one("starts_at"), tz))
                };
                let duration = match (input.one("duration").trim(), input.one("ends_at").trim()) {
                    ("", "") => Some(30),
                    (d, "") => e.check("duration", parse_duration(d)),
                    ("", end) => match (start, e.check("ends_at", parse_local(end, tz))) {
                        (Some(s), Some(en)) if en <= s => {
                            e.add("ends_at", "must be after the start");
                            None
                        }
                        (Some(s), Some(en)) => e.check("ends_at", parse_duration(&((en - s) / 60).to_string())),
                        _ => None,
                    },
                    _ => {
                        e.add("duration", "give a duration or an end, not both");
                        None
                    }
                };
                start.zip(duration).map(|(s, d)| When::At {
                    starts_at: s,
                    duration_min: d,
                })
            }
            Some(_) => {
                let due = input.one("due_date").trim();
                if due.is_empty() {
                    Some(When::Due(crate::time::local_date(tz, now)))
                } else {
                    e.check(
                        "due_date",
                        NaiveDate::parse_from_str(due, "%Y-%m-%d").map_err(|_| "must be a date (YYYY-MM-DD)".to_string()),
                    )
                    .map(When::Due)
                }
            }
            None => None,
        };
        let remind = match input.one("remind").trim() {
            "" => None,
            r => e.check(
                "remind",
                r.parse::<i64>()
                    .ok()
                    .filter(|m| (0..=MAX_REMIND_MIN).contains(m))
                    .ok_or_else(|| "must be a number of minutes before, up to a week".to_string()),
            ),
        };
        let remind = remind.zip(when.as_ref()).map(|(m, w)| (m, w.remind_at(m, tz)));
        let invite = match input.one("invite").trim() {
            "" | "false" | "0" => false,
            "true" | "1" | "on" => true,
            _ => {
                e.add("invite", "must be true or false");
                false
            }
        };
        let contact_id = record_ref(&mut e, input, "contact");
        if invite && kind.is_some_and(|k| k.kind != "appointment") {
            e.add("invite", "only an appointment is sent as an invitation");
        } else if invite && contact_id.is_none() {
            e.add("invite", "needs the contact to invite");
        }
        let draft = ActionDraft {
            type_id: kind.map(|k| k.id).unwrap_or_default(),
            subject: subject.unwrap_or_default(),
            notes,
            account_id: record_ref(&mut e, input, "account"),
            contact_id,
            opportunity_id: record_ref(&mut e, input, "opportunity"),
            assignee_id,
            when: when.unwrap_or(When::Due(NaiveDate::MIN)),
            remind,
            invite,
        };
        e.into_result().map(|_| draft)
    }
}

/// An action type given by id or name.
fn action_type(e: &mut FieldErrors, input: &RawInput, k: &str, types: &[ActionTypeDef]) -> i64 {
    let raw = input.one(k).trim();
    match types.iter().find(|t| t.id.to_string() == raw || t.name.eq_ignore_ascii_case(raw)) {
        Some(t) => t.id,
        None if raw.is_empty() => {
            e.add(k, "is required");
            0
        }
        None => {
            e.add(k, format!("“{raw}” is not a known action type"));
            0
        }
    }
}

fn int_in(e: &mut FieldErrors, input: &RawInput, k: &str, default: i64, range: std::ops::RangeInclusive<i64>, unit: &str) -> i64 {
    match input.one(k).trim() {
        "" => default,
        raw => e
            .check(
                k,
                raw.parse::<i64>()
                    .ok()
                    .filter(|n| range.contains(n))
                    .ok_or_else(|| format!("must be a whole number of {unit} from {} to {}", range.start(), range.end())),
            )
            .unwrap_or(default),
    }
}

fn flag(e: &mut FieldErrors, input: &RawInput, k: &str, default: bool) -> bool {
    match input.one(k).trim().to_ascii_lowercase().as_str() {
        "" => default,
        "true" | "on" | "1" | "yes" => true,
        "false" | "off" | "0" | "no" => false,
        _ => {
            e.add(k, "must be true or false");
            default
        }
    }
}

fn reject_unknown(e: &mut FieldErrors, input: &RawInput, keys: &[&str]) {
    for k in input.0.keys() {
        if !keys.contains(&k.as_str()) {
            e.add(k.clone(), "is not a known field");
        }
    }
}

/// A follow-up rule (A5) as typed in a form or sent to the API.
#[derive(Debug, Clone)]
pub struct FollowupDraft {
    pub when_type_id: i64,
    pub segment_tag_id: Option<i64>,
    pub then_type_id: i64,
    pub subject: String,
    pub due_days: i64,
    pub business_days: bool,
}

impl FollowupDraft {
    pub fn parse(input: &RawInput, cat: &Catalog, types: &[ActionTypeDef]) -> Result<Self, FieldErrors> {
        let mut e = FieldErrors::new();
        reject_unknown(
            &mut e,
            input,
            &["when_type", "segment", "then_type", "subject", "due_days", "business_days"],
        );
        let d = FollowupDraft {
            when_type_id: action_type(&mut e, input, "when_type", types),
            segment_tag_id: match input.one("segment").trim() {
                "" => None,
                t => e.check("segment", cat.resolve_tag(t)),
            },
            then_type_id: action_type(&mut e, input, "then_type", types),
            subject: e.check("subject", required_name(input.one("subject"))).unwrap_or_default(),
            due_days: int_in(&mut e, input, "due_days", 1, 0..=365, "days"),
            business_days: flag(&mut e, input, "business_days", true),
        };
        e.into_result().map(|_| d)
    }
}

/// A recurring rule (A6) as typed in a form or sent to the API.
#[derive(Debug, Clone)]
pub struct RecurringDraft {
    pub name: String,
    pub type_id: i64,
    pub segment_tag_id: Option<i64>,
    pub view_id: Option<i64>,
    pub every_months: i64,
    pub horizon_months: i64,
    /// Appointments: minutes after local midnight in the owner's zone.
    pub start_min: i64,
    pub duration_min: i64,
    pub active: bool,
}

impl RecurringDraft {
    pub fn parse(input: &RawInput, cat: &Catalog, types: &[ActionTypeDef]) -> Result<Self, FieldErrors> {
        let mut e = FieldErrors::new();
        reject_unknown(
            &mut e,
            input,
            &[
                "name",
                "type",
                "segment",
                "view",
                "every_months",
                "horizon_months",
                "start_time",
                "duration",
                "active",
            ],
        );
        let segment_tag_id = match input.one("segment").trim() {
            "" => None,
            t => e.check("segment", cat.resolve_tag(t)),
        };
        let view_id = match input.one("view").trim() {
            "" => None,
            v => e.check("view", v.parse::<i64>().map_err(|_| "must be a saved view id".to_string())),
        };
        if segment_tag_id.is_none() && view_id.is_none() && e.get("segment").is_none() && e.get("view").is_none() {
            e.add("segment", "choose a segment tag or a saved view of accounts");
        }
        if segment_tag_id.is_some() && view_id.is_some() {
            e.add("segment", "choose a segment tag or a saved view, not both");
        }
        let every_months = match input.one("every_months").trim() {
            "" => {
                e.add("every_months", "is required");
                1
            }
            _ => int_in(&mut e, input, "every_months", 1, 1..=60, "months"),
        };
        let start_min = match input.one("start_time").trim() {
            "" => 10 * 60,
            t => e
                .check(
                    "start_time",
                    chrono::NaiveTime::parse_from_str(t, "%H:%M")
                        .map(|t| (t.hour() * 60 + t.minute()) as i64)
                        .map_err(|_| "must be a time of day (HH:MM)".to_string()),
                )
                .unwrap_or(600),
        };
        let d = RecurringDraft {
            name: e.check("name", required_name(input.one("name"))).unwrap_or_default(),
            type_id: action_type(&mut e, input, "type", types),
            segment_tag_id,
            view_id,
            every_months,
            horizon_months: int_in(&mut e, input, "horizon_months", every_months.clamp(3, 12), 1..=24, "months"),
            start_min,
            duration_min: int_in(&mut e, input, "duration", 60, 1..=720, "minutes"),
            active: flag(&mut e, input, "active", true),
        };
        e.into_result().map(|_| d)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Datelike, Utc, Weekday};
    use proptest::prelude::*;

    fn types() -> Vec<ActionTypeDef> {
        vec![
            ActionTypeDef {
                id: 1,
                name: "Task".into(),
                color: "#000000".into(),
                icon: "check".into(),
                kind: "task".into(),
            },
            ActionTypeDef {
                id: 2,
                name: "Demo".into(),
                color: "#000000".into(),
                icon: "screen".into(),
                kind: "appointment".into(),
            },
        ]
    }

    fn input(pairs: &[(&str, &str)]) -> RawInput {
        RawInput::from_pairs(pairs.iter().map(|(a, b)| (a.to_string(), b.to_string())))
    }

    #[test]
    fn appointments_in_the_users_zone() {
        let paris = chrono_tz::Europe::Paris;
        let d = ActionDraft::parse(
            &input(&[
                ("type", "Demo"),
                ("subject", "Show"),
                ("starts_at", "2026-07-01T10:00"),
                ("duration", "45"),
            ]),
            &Catalog::default(),
            &types(),
            paris,
            1_780_000_000,
            &[],
        )
        .unwrap();
        assert_eq!(
            d.when,
            When::At {
                starts_at: Utc.with_ymd_and_hms(2026, 7, 1, 8, 0, 0).unwrap().timestamp(),
                duration_min: 45
            }
        );
        for (pairs, field) in [
            (
                vec![("type", "Demo"), ("subject", "S"), ("starts_at", "2026-03-29T02:30")],
                "starts_at",
            ),
            (
                vec![
                    ("type", "Demo"),
                    ("subject", "S"),
                    ("starts_at", "2026-07-01T10:00"),
                    ("duration", "0"),
                ],
                "duration",
            ),
            (
                vec![
                    ("type", "Demo"),
                    ("subject", "S"),
                    ("starts_at", "2026-07-01T10:00"),
                    ("duration", "-5"),
                ],
                "duration",
            ),
            (
                vec![
                    ("type", "Demo"),
                    ("subject", "S"),
                    ("starts_at", "2026-07-01T10:00"),
                    ("ends_at", "2026-07-01T09:00"),
                ],
                "ends_at",
            ),
            (
                vec![
                    ("type", "Demo"),
                    ("subject", "S"),
                    ("starts_at", "2026-07-01T10:00"),
                    ("time_zone", "Mars/Olympus"),
                ],
                "time_zone",
            ),
            (vec![("type", "Golf"), ("subject", "S")], "type"),
            (vec![("type", "Task"), ("subject", "S"), ("due_date", "tomorrow")], "due_date"),
        ] {
            let e = ActionDraft::parse(&input(&pairs), &Catalog::default(), &types(), paris, 1_780_000_000, &[]).unwrap_err();
            assert!(e.get(field).is_some(), "{pairs:?} → {e:?}");
        }
    }

    #[test]
    fn business_days_skip_weekends() {
        let fri = NaiveDate::from_ymd_opt(2026, 11, 27).unwrap();
        assert_eq!(add_days(fri, 1, true), NaiveDate::from_ymd_opt(2026, 11, 30).unwrap());
        assert_eq!(add_days(fri, 5, true), NaiveDate::from_ymd_opt(2026, 12, 4).unwrap());
        assert_eq!(add_days(fri, 1, false), NaiveDate::from_ymd_opt(2026, 11, 28).unwrap());
    }

    proptest! {
        /// Local times round-trip through UTC in every zone, except inside a gap,
        /// which is refused rather than shifted.
        #[test]
        fn local_times_round_trip(zone in 0usize..chrono_tz::TZ_VARIANTS.len(), day in 0i64..730, minute in 0i64..1440) {
            let tz = chrono_tz::TZ_VARIANTS[zone];
            let date = NaiveDate::from_ymd_opt(2026, 1, 1).unwrap() + Duration::days(day);
            let naive = date.and_hms_opt(0, 0, 0).unwrap() + Duration::minutes(minute);
            let raw = naive.format("%Y-%m-%dT%H:%M").to_string();
            match parse_local(&raw, tz) {
                Ok(ts) => {
                    let back = Utc.timestamp_opt(ts, 0).unwrap().with_timezone(&tz).naive_local();
                    prop_assert_eq!(back, naive);
                }
                Err(e) => prop_assert!(e.contains("daylight-saving")),
            }
        }

        #[test]
        fn business_days_never_land_on_weekends(day in 0i64..400, n in 1i64..30) {
            let d = add_days(NaiveDate::from_ymd_opt(2026, 1, 1).unwrap() + Duration::days(day), n, true);
            prop_assert!(!matches!(d.weekday(), Weekday::Sat | Weekday::Sun));
        }
    }
}
