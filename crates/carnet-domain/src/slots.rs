//! Free slots (A4): from working hours in the user's zone, the busy intervals of
//! the agenda, buffers, minimum notice and horizon. Pure, so that property tests
//! can cover every zone and daylight-saving day.

use chrono::{Datelike, Duration, NaiveDate, TimeZone};
use chrono_tz::Tz;

/// A working interval on a weekday (0 = Monday), in local minutes of the day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WorkInterval {
    pub weekday: u32,
    pub start_min: u32,
    pub end_min: u32,
}

/// Monday to Friday, 9:00–12:00 and 14:00–18:00: used until a user sets theirs.
pub fn default_hours() -> Vec<WorkInterval> {
    (0..5)
        .flat_map(|d| {
            [
                WorkInterval {
                    weekday: d,
                    start_min: 540,
                    end_min: 720,
                },
                WorkInterval {
                    weekday: d,
                    start_min: 840,
                    end_min: 1080,
                },
            ]
        })
        .collect()
}

#[derive(Debug, Clone, Copy)]
pub struct SlotRules {
    pub duration_min: i64,
    pub buffer_before_min: i64,
    pub buffer_after_min: i64,
    pub min_notice_min: i64,
    pub horizon_days: i64,
    /// Candidate starts every `step_min` minutes from the start of a working interval.
    pub step_min: i64,
}

/// A local time on a day as an instant; a time inside a spring-forward gap moves
/// to the end of the gap, and an autumn repeat takes the first occurrence.
fn local(tz: Tz, day: NaiveDate, minute: u32) -> i64 {
    crate::time::local_instant_or_later(tz, day.and_hms_opt(0, 0, 0).unwrap() + Duration::minutes(minute as i64))
}

/// Free starts (UTC seconds) in [from, to): inside working hours, at least
/// `min_notice` after `now`, within the horizon, and such that the slot plus its
/// buffers overlaps no busy interval (start, end).
pub fn free_slots(tz: Tz, hours: &[WorkInterval], busy: &[(i64, i64)], from: i64, to: i64, rules: &SlotRules, now: i64) -> Vec<i64> {
    let earliest = from.max(now + rules.min_notice_min * 60);
    let latest = to.min(now + rules.horizon_days * 86_400);
    if rules.duration_min <= 0 || rules.step_min <= 0 || latest <= earliest {
        return vec![];
    }
    let dur = rules.duration_min * 60;
    let mut busy: Vec<(i64, i64)> = busy.to_vec();
    busy.sort();
    let first_day = tz.timestamp_opt(earliest, 0).unwrap().date_naive() - Duration::days(1);
    let last_day = tz.timestamp_opt(latest, 0).unwrap().date_naive();
    let mut out = Vec::new();
    let mut day = first_day;
    while day <= last_day {
        let wd = day.weekday().num_days_from_monday();
        for w in hours.iter().filter(|w| w.weekday == wd && w.end_min > w.start_min) {
            let (ws, we) = (local(tz, day, w.start_min), local(tz, day, w.end_min));
            let mut s = ws;
            while s + dur <= we {
                if s >= earliest && s < latest {
                    let (bs, be) = (s - rules.buffer_before_min * 60, s + dur + rules.buffer_after_min * 60);
                    if !busy.iter().any(|(a, b)| *a < be && *b > bs) {
                        out.push(s);
                    }
                }
                s += rules.step_min * 60;
            }
        }
        day += Duration::days(1);
    }
    out.sort();
    out.dedup();
    out
}

/// Where to put an appointment of `duration_min` on `day` (a recurring
/// occurrence): at `preferred_min` (local minutes) when that is inside working
/// hours and free; else where it is now (`current`), if on that day and still
/// free; else the first free quarter-hour after the preferred time, else before
/// it. `None` when the day has no room.
pub fn place_on_day(
    tz: Tz,
    hours: &[WorkInterval],
    busy: &[(i64, i64)],
    day: NaiveDate,
    preferred_min: u32,
    duration_min: i64,
    current: Option<i64>,
) -> Option<i64> {
    let dur = duration_min * 60;
    let wd = day.weekday().num_days_from_monday();
    let fits = |s: i64| {
        hours
            .iter()
            .filter(|w| w.weekday == wd && w.end_min > w.start_min)
            .any(|w| s >= local(tz, day, w.start_min) && s + dur <= local(tz, day, w.end_min))
            && !busy.iter().any(|(a, b)| *a < s + dur && *b > s)
    };
    let preferred = local(tz, day, preferred_min.min(1439));
    if fits(preferred) {
        return Some(preferred);
    }
    if let Some(c) = current.filter(|c| tz.timestamp_opt(*c, 0).unwrap().date_naive() == day && fits(*c)) {
        return Some(c);
    }
    let (from, to) = (local(tz, day, 0), local(tz, day + Duration::days(1), 0));
    let rules = SlotRules {
        duration_min,
        buffer_before_min: 0,
        buffer_after_min: 0,
        min_notice_min: 0,
        horizon_days: 2,
        step_min: 15,
    };
    let slots = free_slots(tz, hours, busy, from, to, &rules, from);
    slots
        .iter()
        .find(|s| **s >= preferred)
        .or(slots.first())
        .copied()
        .filter(|s| tz.timestamp_opt(*s, 0).unwrap().date_naive() == day)
}

/// Parses "09:00-12:00, 14:00-18:00" into minutes.
pub fn parse_intervals(raw: &str) -> Result<Vec<(u32, u32)>, String> {
    let mut out = Vec::new();
    for part in raw.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (a, b) = part.split_once('-').ok_or_else(|| format!("“{part}” is not like 09:00-12:00"))?;
        let m = |t: &str| -> Result<u32, String> {
            let (h, mi) = t.trim().split_once(':').ok_or_else(|| format!("“{t}” is not a time like 09:00"))?;
            let (h, mi): (u32, u32) = (h.parse().map_err(|_| "bad hour")?, mi.parse().map_err(|_| "bad minute")?);
            if h > 24 || mi > 59 || h * 60 + mi > 1440 {
                return Err(format!("“{t}” is not a time of day"));
            }
            Ok(h * 60 + mi)
        };
        let (s, e) = (m(a)?, m(b)?);
        if e <= s {
            return Err(format!("“{part}” ends before it starts"));
        }
        out.push((s, e));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn rules() -> SlotRules {
        SlotRules {
            duration_min: 30,
            buffer_before_min: 10,
            buffer_after_min: 10,
            min_notice_min: 60,
            horizon_days: 30,
            step_min: 15,
        }
    }

    #[test]
    fn around_an_appointment() {
        let tz = chrono_tz::Europe::Paris;
        // Monday 2026-06-01, 10:00–11:00 Paris is busy.
        let busy = [(
            tz.with_ymd_and_hms(2026, 6, 1, 10, 0, 0).unwrap().timestamp(),
            tz.with_ymd_and_hms(2026, 6, 1, 11, 0, 0).unwrap().timestamp(),
        )];
        let day = (
            tz.with_ymd_and_hms(2026, 6, 1, 0, 0, 0).unwrap().timestamp(),
            tz.with_ymd_and_hms(2026, 6, 2, 0, 0, 0).unwrap().timestamp(),
        );
        let now = day.0 - 86_400;
        let slots = free_slots(tz, &default_hours(), &busy, day.0, day.1, &rules(), now);
        let hm = |t: i64| tz.timestamp_opt(t, 0).unwrap().format("%H:%M").to_string();
        let got: Vec<String> = slots.iter().map(|t| hm(*t)).collect();
        // 9:00, 9:15 fit before 10:00 with a 10-minute buffer; 9:30 does not; after 11:00 + 10 min.
        assert_eq!(&got[..3], &["09:00", "09:15", "11:15"]);
        assert!(got.contains(&"14:00".to_string()) && got.contains(&"17:30".to_string()) && !got.contains(&"17:45".to_string()));
    }

    #[test]
    fn an_occurrence_goes_to_its_time_or_the_next_free_one() {
        let tz = chrono_tz::Europe::Paris;
        let day = NaiveDate::from_ymd_opt(2026, 6, 1).unwrap(); // a Monday
        let at = |h: u32, m: u32| tz.with_ymd_and_hms(2026, 6, 1, h, m, 0).unwrap().timestamp();
        let hours = default_hours();
        assert_eq!(place_on_day(tz, &hours, &[], day, 600, 60, None), Some(at(10, 0)));
        // 10:00–11:30 busy: the first free hour after 10:00 is 11:30.
        let busy = [(at(10, 0), at(11, 30))];
        assert_eq!(
            place_on_day(tz, &hours, &busy, day, 600, 60, None),
            Some(at(14, 0)),
            "11:30 + 1 h passes noon"
        );
        assert_eq!(place_on_day(tz, &hours, &busy, day, 600, 30, None), Some(at(11, 30)));
        // Where it already is, while the preferred time stays busy.
        assert_eq!(place_on_day(tz, &hours, &busy, day, 600, 60, Some(at(16, 0))), Some(at(16, 0)));
        // Outside working hours, or a full afternoon: earlier in the day.
        let afternoon = [(at(14, 0), at(18, 0))];
        assert_eq!(place_on_day(tz, &hours, &afternoon, day, 900, 60, None), Some(at(9, 0)));
        assert_eq!(place_on_day(tz, &hours, &[], day, 1200, 60, None), Some(at(9, 0)));
        let full = [(at(9, 0), at(18, 0))];
        assert_eq!(place_on_day(tz, &hours, &full, day, 600, 60, None), None);
        let sunday = NaiveDate::from_ymd_opt(2026, 6, 7).unwrap();
        assert_eq!(place_on_day(tz, &hours, &[], sunday, 600, 60, None), None);
    }

    #[test]
    fn intervals_parse() {
        assert_eq!(parse_intervals("09:00-12:00, 14:00-18:30").unwrap(), vec![(540, 720), (840, 1110)]);
        assert!(parse_intervals("12:00-09:00").is_err());
        assert!(parse_intervals("9-12").is_err());
    }

    proptest! {
        /// In any zone, on any day (DST days included): every slot lies inside
        /// local working hours, respects notice and horizon, and keeps its
        /// buffers clear of every busy interval.
        #[test]
        fn slots_respect_every_rule(zone in 0usize..chrono_tz::TZ_VARIANTS.len(), day in 0i64..400, busy_starts in proptest::collection::vec((0i64..14 * 24 * 60, 15i64..180), 0..12)) {
            let tz = chrono_tz::TZ_VARIANTS[zone];
            let from = chrono::Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap().timestamp() + day * 86_400;
            let to = from + 14 * 86_400;
            let busy: Vec<(i64, i64)> = busy_starts.iter().map(|(m, d)| (from + m * 60, from + (m + d) * 60)).collect();
            let r = rules();
            let now = from - 3600;
            let slots = free_slots(tz, &default_hours(), &busy, from, to, &r, now);
            for s in &slots {
                prop_assert!(*s >= now + r.min_notice_min * 60 && *s < to);
                let (bs, be) = (s - r.buffer_before_min * 60, s + (r.duration_min + r.buffer_after_min) * 60);
                prop_assert!(!busy.iter().any(|(a, b)| *a < be && *b > bs), "slot {} overlaps", s);
                let start = tz.timestamp_opt(*s, 0).unwrap();
                let end = tz.timestamp_opt(s + r.duration_min * 60, 0).unwrap();
                prop_assert!(start.weekday().num_days_from_monday() < 5);
                let mins = |t: chrono::DateTime<Tz>| chrono::Timelike::hour(&t) * 60 + chrono::Timelike::minute(&t);
                let (a, b) = (mins(start), if end.date_naive() == start.date_naive() { mins(end) } else { 1440 });
                prop_assert!((540..=720).contains(&a) && b <= 720 || (840..=1080).contains(&a) && b <= 1080, "{} – {} outside hours", a, b);
            }
        }

        /// A placed occurrence is inside working hours, on its day, and clear of the diary.
        #[test]
        fn placed_occurrences_are_free(zone in 0usize..chrono_tz::TZ_VARIANTS.len(), day in 0i64..400, preferred in 0u32..1440, duration in 15i64..240, busy_starts in proptest::collection::vec((0i64..24 * 60, 15i64..180), 0..8)) {
            let tz = chrono_tz::TZ_VARIANTS[zone];
            let day = NaiveDate::from_ymd_opt(2026, 1, 1).unwrap() + Duration::days(day);
            let midnight = local(tz, day, 0);
            let busy: Vec<(i64, i64)> = busy_starts.iter().map(|(m, d)| (midnight + m * 60, midnight + (m + d) * 60)).collect();
            if let Some(s) = place_on_day(tz, &default_hours(), &busy, day, preferred, duration, None) {
                prop_assert!(!busy.iter().any(|(a, b)| *a < s + duration * 60 && *b > s));
                prop_assert_eq!(tz.timestamp_opt(s, 0).unwrap().date_naive(), day);
                let free = free_slots(tz, &default_hours(), &busy, s, s + 1, &SlotRules { duration_min: duration, buffer_before_min: 0, buffer_after_min: 0, min_notice_min: 0, horizon_days: 2, step_min: 1 }, s);
                prop_assert_eq!(free, vec![s], "inside working hours");
            }
        }
    }
}
