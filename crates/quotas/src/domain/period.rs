//! Quota periods and their windows (admin-and-services §1.6): calendar periods in UTC, weeks
//! starting on Monday, windows inclusive at both ends and ending on the last millisecond of
//! the period, which is also when an exhausted quota frees up again.

use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone, Timelike, Utc};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum QuotaPeriod {
    Hour,
    Day,
    Week,
    Month,
    Year,
    /// All time.
    Total,
}

/// The creation times a quota counts: `from <= created_at <= to`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
}

impl QuotaPeriod {
    /// In upstream's enum order, so that numeric input maps as it does upstream.
    pub const ALL: [Self; 6] = [
        Self::Hour,
        Self::Day,
        Self::Week,
        Self::Month,
        Self::Year,
        Self::Total,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Hour => "Hour",
            Self::Day => "Day",
            Self::Week => "Week",
            Self::Month => "Month",
            Self::Year => "Year",
            Self::Total => "Total",
        }
    }

    /// A name, compared case-insensitively as upstream's enum binding does.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|period| period.as_str().eq_ignore_ascii_case(name))
    }

    /// The enum's number, which upstream also accepts on input.
    pub fn from_index(index: i64) -> Option<Self> {
        usize::try_from(index)
            .ok()
            .and_then(|i| Self::ALL.get(i).copied())
    }

    /// The window of the period `now` lies in.
    pub fn window(self, now: DateTime<Utc>) -> Window {
        let (from, next) = match self {
            Self::Total => {
                return Window {
                    from: first_instant(),
                    to: last_instant(),
                }
            }
            Self::Hour => {
                let from = start_of_day(now) + Duration::hours(i64::from(now.hour()));
                (from, from + Duration::hours(1))
            }
            Self::Day => {
                let from = start_of_day(now);
                (from, from + Duration::days(1))
            }
            Self::Week => {
                let monday =
                    start_of_day(now) - Duration::days(i64::from(now.weekday().num_days_from_monday()));
                (monday, monday + Duration::weeks(1))
            }
            Self::Month => {
                let (year, month) = (now.year(), now.month());
                let next = if month == 12 {
                    (year + 1, 1)
                } else {
                    (year, month + 1)
                };
                (midnight(year, month), midnight(next.0, next.1))
            }
            Self::Year => (midnight(now.year(), 1), midnight(now.year() + 1, 1)),
        };
        // The last period before year 10000 ends at the last representable instant.
        let to = if next > last_instant() {
            last_instant()
        } else {
            next - Duration::milliseconds(1)
        };
        Window { from, to }
    }
}

fn start_of_day(now: DateTime<Utc>) -> DateTime<Utc> {
    now.date_naive()
        .and_hms_opt(0, 0, 0)
        .expect("midnight exists")
        .and_utc()
}

fn midnight(year: i32, month: u32) -> DateTime<Utc> {
    NaiveDate::from_ymd_opt(year, month, 1)
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map_or_else(last_instant, |d| d.and_utc())
}

/// Upstream's `DateTime.MinValue`: the start of a `Total` window.
fn first_instant() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(1, 1, 1, 0, 0, 0)
        .single()
        .expect("year 1 exists")
}

/// Upstream's `DateTime.MaxValue` to the millisecond: the end of a `Total` window.
fn last_instant() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(9999, 12, 31, 23, 59, 59)
        .single()
        .expect("year 9999 exists")
        + Duration::milliseconds(999)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text).unwrap().with_timezone(&Utc)
    }

    fn window(period: QuotaPeriod, now: &str) -> (String, String) {
        let w = period.window(at(now));
        let format = |d: DateTime<Utc>| d.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string();
        (format(w.from), format(w.to))
    }

    #[test]
    fn calendar_windows_are_inclusive_and_end_on_the_last_millisecond() {
        let now = "2026-12-31T23:30:15.123Z"; // a Thursday
        assert_eq!(
            window(QuotaPeriod::Hour, now),
            (
                "2026-12-31T23:00:00.000Z".into(),
                "2026-12-31T23:59:59.999Z".into()
            )
        );
        assert_eq!(
            window(QuotaPeriod::Day, now),
            (
                "2026-12-31T00:00:00.000Z".into(),
                "2026-12-31T23:59:59.999Z".into()
            )
        );
        assert_eq!(
            window(QuotaPeriod::Week, now),
            (
                "2026-12-28T00:00:00.000Z".into(),
                "2027-01-03T23:59:59.999Z".into()
            )
        );
        assert_eq!(
            window(QuotaPeriod::Month, now),
            (
                "2026-12-01T00:00:00.000Z".into(),
                "2026-12-31T23:59:59.999Z".into()
            )
        );
        assert_eq!(
            window(QuotaPeriod::Year, now),
            (
                "2026-01-01T00:00:00.000Z".into(),
                "2026-12-31T23:59:59.999Z".into()
            )
        );
        assert_eq!(
            window(QuotaPeriod::Total, now),
            (
                "0001-01-01T00:00:00.000Z".into(),
                "9999-12-31T23:59:59.999Z".into()
            )
        );
    }

    #[test]
    fn weeks_start_on_monday() {
        assert_eq!(
            window(QuotaPeriod::Week, "2026-03-02T00:00:00Z").0,
            "2026-03-02T00:00:00.000Z"
        );
        assert_eq!(
            window(QuotaPeriod::Week, "2026-03-08T23:59:59Z").0,
            "2026-03-02T00:00:00.000Z"
        );
        assert_eq!(
            window(QuotaPeriod::Month, "2028-02-10T00:00:00Z").1,
            "2028-02-29T23:59:59.999Z"
        );
    }

    #[test]
    fn the_last_periods_end_at_the_last_instant() {
        assert_eq!(
            window(QuotaPeriod::Year, "9999-06-01T00:00:00Z").1,
            "9999-12-31T23:59:59.999Z"
        );
        assert_eq!(
            window(QuotaPeriod::Month, "9999-12-01T00:00:00Z").1,
            "9999-12-31T23:59:59.999Z"
        );
    }

    #[test]
    fn names_and_numbers_parse_as_upstream() {
        assert_eq!(QuotaPeriod::parse("hour"), Some(QuotaPeriod::Hour));
        assert_eq!(QuotaPeriod::parse("Total"), Some(QuotaPeriod::Total));
        assert_eq!(QuotaPeriod::parse("Fortnight"), None);
        assert_eq!(QuotaPeriod::from_index(2), Some(QuotaPeriod::Week));
        assert_eq!(QuotaPeriod::from_index(6), None);
        assert_eq!(QuotaPeriod::from_index(-1), None);
    }
}
