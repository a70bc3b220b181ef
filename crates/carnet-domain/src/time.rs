//! Time in one place: the application's clock, local days and instants in a
//! zone, and business days. Every "start of a local day" in Carnet is
//! [`day_start`], so a day that begins inside a daylight-saving gap (zones whose
//! change happens at midnight) begins when the clocks jump, everywhere.

use chrono::{DateTime, Datelike, Duration, LocalResult, NaiveDate, NaiveDateTime, Offset, TimeZone, Utc, Weekday};
use chrono_tz::Tz;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

/// The application's clock, in unix seconds. Held by the application and
/// shared by everything that reads the time; a test can pin it to write
/// records at chosen instants through the real code paths.
#[derive(Clone, Debug)]
pub struct Clock(Arc<AtomicI64>);

/// No pinned instant: the system clock.
const SYSTEM: i64 = i64::MIN;

impl Clock {
    pub fn system() -> Clock {
        Clock(Arc::new(AtomicI64::new(SYSTEM)))
    }

    /// Now, in seconds.
    pub fn now(&self) -> i64 {
        match self.0.load(Ordering::Relaxed) {
            SYSTEM => Utc::now().timestamp(),
            t => t,
        }
    }

    /// Today's date in UTC.
    pub fn today_utc(&self) -> NaiveDate {
        instant(self.now()).date_naive()
    }

    /// Today's date in a zone.
    pub fn today_in(&self, tz: Tz) -> NaiveDate {
        local_date(tz, self.now())
    }

    /// Pins the clock to an instant, or with `None` lets it follow the system
    /// clock again. Every clone of this clock sees it.
    pub fn pin(&self, t: Option<i64>) {
        self.0.store(t.unwrap_or(SYSTEM), Ordering::Relaxed);
    }
}

impl Default for Clock {
    fn default() -> Self {
        Clock::system()
    }
}

/// A unix second as a UTC date-time (clamped to chrono's range).
pub fn instant(t: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(t, 0).unwrap_or(if t < 0 {
        DateTime::<Utc>::MIN_UTC
    } else {
        DateTime::<Utc>::MAX_UTC
    })
}

/// The local date of an instant in a zone.
pub fn local_date(tz: Tz, t: i64) -> NaiveDate {
    instant(t).with_timezone(&tz).date_naive()
}

/// The first instant of a local day: local midnight, or, when the zone's clocks
/// jump over midnight that day, the instant of the jump (the day's first
/// existing local time). Never a fallback to 1970.
pub fn day_start(tz: Tz, d: NaiveDate) -> i64 {
    let midnight = d.and_hms_opt(0, 0, 0).expect("midnight exists");
    match tz.from_local_datetime(&midnight) {
        LocalResult::Single(t) => t.timestamp(),
        LocalResult::Ambiguous(first, _) => first.timestamp(),
        // Inside a gap: the clocks jumped from before midnight (with the
        // offset in force the day before) straight into the day.
        LocalResult::None => {
            let before = midnight.and_utc() - Duration::days(1);
            let offset = tz.offset_from_utc_datetime(&before.naive_utc()).fix().local_minus_utc() as i64;
            midnight.and_utc().timestamp() - offset
        }
    }
}

/// [start of `from`, start of the day after `to`): a span of local days.
pub fn days_span(tz: Tz, from: NaiveDate, to: NaiveDate) -> (i64, i64) {
    (day_start(tz, from), day_start(tz, to.succ_opt().unwrap_or(to)))
}

/// A local date-time in a zone as an instant: a time inside a spring-forward gap
/// is `None`, an autumn repeat takes the first occurrence.
pub fn local_instant(tz: Tz, local: NaiveDateTime) -> Option<i64> {
    tz.from_local_datetime(&local).earliest().map(|t| t.timestamp())
}

/// Like [`local_instant`], but a time inside a gap moves to the first existing
/// local time after it (a wall-clock rule such as "every day at 02:30").
pub fn local_instant_or_later(tz: Tz, local: NaiveDateTime) -> i64 {
    if let Some(t) = local_instant(tz, local) {
        return t;
    }
    // The gap ends at the jump: the same wall time read with the offset in force
    // before it lands past the jump; the jump itself is the first local time.
    let before = local.and_utc() - Duration::days(1);
    let offset = tz.offset_from_utc_datetime(&before.naive_utc()).fix().local_minus_utc() as i64;
    let guess = local.and_utc().timestamp() - offset;
    // The first instant whose local time is past `local`: walk back to the jump.
    let mut t = guess;
    while local_time_of(tz, t - 1) > local && guess - t < 6 * 3600 {
        t -= 1;
    }
    t
}

fn local_time_of(tz: Tz, t: i64) -> NaiveDateTime {
    instant(t).with_timezone(&tz).naive_local()
}

/// Monday to Friday.
pub fn is_business_day(d: NaiveDate) -> bool {
    !matches!(d.weekday(), Weekday::Sat | Weekday::Sun)
}

/// The date `n` business days after `d` (a weekend start counts from Monday).
pub fn add_business_days(d: NaiveDate, n: i64) -> NaiveDate {
    let mut day = d;
    let mut left = n.max(0);
    while left > 0 {
        day += Duration::days(1);
        if is_business_day(day) {
            left -= 1;
        }
    }
    day
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn check_day_start(tz: Tz, d: NaiveDate) {
        let s = day_start(tz, d);
        assert_eq!(local_date(tz, s), d, "{tz} {d}: the start {s} is on the day");
        assert!(local_date(tz, s - 1) < d, "{tz} {d}: the second before {s} is on an earlier day");
    }

    #[test]
    fn a_day_that_starts_inside_a_gap_starts_at_the_jump() {
        // Santiago springs forward at 00:00 → 01:00 (2022-09-11).
        let tz: Tz = "America/Santiago".parse().unwrap();
        let d = NaiveDate::from_ymd_opt(2022, 9, 11).unwrap();
        let s = day_start(tz, d);
        assert_eq!(local_time_of(tz, s).to_string(), "2022-09-11 01:00:00");
        check_day_start(tz, d);
        // Beirut and Havana too, and an ordinary day.
        for (zone, day) in [
            ("Asia/Beirut", (2023, 3, 26)),
            ("America/Havana", (2023, 3, 12)),
            ("Europe/Paris", (2026, 3, 29)),
        ] {
            check_day_start(zone.parse().unwrap(), NaiveDate::from_ymd_opt(day.0, day.1, day.2).unwrap());
        }
    }

    #[test]
    fn every_zone_every_transition_day_of_recent_years() {
        // Each day of 2019-2026 on which a zone's offset changes, and its neighbours.
        for tz in chrono_tz::TZ_VARIANTS {
            let mut d = NaiveDate::from_ymd_opt(2019, 1, 1).unwrap();
            let end = NaiveDate::from_ymd_opt(2027, 1, 1).unwrap();
            let offset = |d: NaiveDate| tz.offset_from_utc_date(&d).fix().local_minus_utc();
            while d < end {
                let next = d + Duration::days(1);
                if offset(d) != offset(next) {
                    for x in [d, next, next + Duration::days(1)] {
                        check_day_start(tz, x);
                    }
                }
                d = next;
            }
        }
    }

    proptest! {
        #[test]
        fn day_start_is_the_first_instant_of_the_day(zone in 0..chrono_tz::TZ_VARIANTS.len(), day in 0i64..(80 * 366)) {
            let tz = chrono_tz::TZ_VARIANTS[zone];
            let d = NaiveDate::from_ymd_opt(1970, 1, 1).unwrap() + Duration::days(day);
            check_day_start(tz, d);
        }

        #[test]
        fn a_local_time_lands_on_or_after_itself(zone in 0..chrono_tz::TZ_VARIANTS.len(), day in 0i64..(60 * 366), minute in 0i64..1440) {
            let tz = chrono_tz::TZ_VARIANTS[zone];
            let local = (NaiveDate::from_ymd_opt(1980, 1, 1).unwrap() + Duration::days(day)).and_hms_opt(0, 0, 0).unwrap()
                + Duration::minutes(minute);
            let t = local_instant_or_later(tz, local);
            let seen = local_time_of(tz, t);
            prop_assert!(seen >= local, "{} {}: {}", tz, local, seen);
            if local_instant(tz, local).is_none() {
                // Moved to the end of the gap: the second before is earlier than the wall time asked.
                prop_assert!(local_time_of(tz, t - 1) < local, "{} {}: not the first time after the gap", tz, local);
            } else {
                prop_assert_eq!(seen, local);
            }
        }
    }

    #[test]
    fn the_clock_is_shared_by_its_clones_and_can_be_pinned() {
        let c = Clock::system();
        let other = c.clone();
        c.pin(Some(1_000_000));
        assert_eq!(other.now(), 1_000_000);
        assert_eq!(other.today_utc().to_string(), "1970-01-12");
        c.pin(None);
        assert!(other.now() > 1_700_000_000);
    }
}
