//! The per-number daily SMS cap counts per UTC day: which day a send falls on, and how long a refused
//! sender waits for the next one.

use chrono::{DateTime, Days, NaiveTime, Utc};

/// The UTC day a send is counted on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmsDay {
    start: DateTime<Utc>,
}

impl SmsDay {
    pub fn of(now: DateTime<Utc>) -> Self {
        Self {
            start: now.date_naive().and_time(NaiveTime::MIN).and_utc(),
        }
    }

    /// `YYYY-MM-DD`: the key the store counts under.
    pub fn key(&self) -> String {
        self.start.format("%Y-%m-%d").to_string()
    }

    /// Whole seconds from `now` until the next day starts (at least 1), for `Retry-After`.
    pub fn seconds_left(&self, now: DateTime<Utc>) -> u64 {
        let next = self
            .start
            .checked_add_days(Days::new(1))
            .unwrap_or(DateTime::<Utc>::MAX_UTC);
        u64::try_from((next - now).num_seconds())
            .unwrap_or(1)
            .max(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn a_day_is_keyed_by_its_utc_date_and_ends_at_midnight() {
        let now = Utc.with_ymd_and_hms(2026, 5, 1, 23, 59, 0).unwrap();
        let day = SmsDay::of(now);
        assert_eq!(day.key(), "2026-05-01");
        assert_eq!(day.seconds_left(now), 60);
    }

    #[test]
    fn the_last_second_still_waits_one() {
        let now = Utc.with_ymd_and_hms(2026, 5, 1, 23, 59, 59).unwrap()
            + chrono::Duration::milliseconds(999);
        assert_eq!(SmsDay::of(now).seconds_left(now), 1);
    }
}
