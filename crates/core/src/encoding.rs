//! Wire formats of dates and bytes (spec §1.1 of both Consumer API documents).

use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use base64::Engine;
use chrono::{DateTime, TimeZone, Utc};

/// Bytes go out as base64url without padding.
pub fn encode_bytes(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Bytes come in as base64url or standard base64, with or without padding.
pub fn decode_bytes(text: &str) -> Option<Vec<u8>> {
    let trimmed = text.trim_end_matches('=');
    URL_SAFE_NO_PAD
        .decode(trimmed)
        .or_else(|_| STANDARD_NO_PAD.decode(trimmed))
        .or_else(|_| URL_SAFE.decode(text))
        .or_else(|_| STANDARD.decode(text))
        .ok()
}

/// DTO dates: UTC with exactly three fractional digits.
pub fn format_date(date: &DateTime<Utc>) -> String {
    date.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

/// Error and event-payload dates: full ISO-8601 round-trip form.
pub fn format_precise_date(date: &DateTime<Utc>) -> String {
    date.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
}

/// Parses an input date leniently, as upstream's `DateTime.Parse`: RFC 3339 with or without an
/// offset (no offset means UTC), or a plain `YYYY-MM-DD` (midnight UTC).
pub fn parse_date(text: &str) -> Option<DateTime<Utc>> {
    parse_any_date(text.trim()).filter(is_representable)
}

/// Whether a date lies in years 1 to 9999, the range upstream's `DateTime` (and the DTO date
/// format) can hold. Dates computed from client input are checked against it.
pub fn is_representable(date: &DateTime<Utc>) -> bool {
    (1..=9999).contains(&chrono::Datelike::year(date))
}

/// `start` plus a client-given number of days, if the result is a representable date.
pub fn add_days(start: DateTime<Utc>, days: f64) -> Option<DateTime<Utc>> {
    let millis = days * 86_400_000.0;
    if !millis.is_finite() || millis.abs() > 400_000.0 * 365.0 * 86_400_000.0 {
        return None;
    }
    #[expect(clippy::cast_possible_truncation, reason = "bounded just above")]
    let millis = millis as i64;
    start
        .checked_add_signed(chrono::Duration::milliseconds(millis))
        .filter(is_representable)
}

fn parse_any_date(text: &str) -> Option<DateTime<Utc>> {
    if let Ok(date) = DateTime::parse_from_rfc3339(text) {
        return Some(date.with_timezone(&Utc));
    }
    if let Ok(naive) = chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f") {
        return Some(naive.and_utc());
    }
    chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|d| d.and_utc())
}

/// Dates are stored as milliseconds since the epoch, which both databases index and compare well.
pub fn to_millis(date: &DateTime<Utc>) -> i64 {
    date.timestamp_millis()
}

pub fn from_millis(millis: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(millis).single().unwrap_or_default()
}

/// Serde helpers that write dates in the DTO format.
pub mod date_format {
    use chrono::{DateTime, Utc};
    use serde::Serializer;

    pub fn serialize<S: Serializer>(date: &DateTime<Utc>, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&super::format_date(date))
    }

    pub mod option {
        use chrono::{DateTime, Utc};
        use serde::Serializer;

        pub fn serialize<S: Serializer>(
            date: &Option<DateTime<Utc>>,
            serializer: S,
        ) -> Result<S::Ok, S::Error> {
            match date {
                Some(date) => serializer.serialize_str(&super::super::format_date(date)),
                None => serializer.serialize_none(),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_round_trip_through_both_alphabets() {
        let bytes: Vec<u8> = (0u8..=255).collect();
        assert_eq!(decode_bytes(&encode_bytes(&bytes)).unwrap(), bytes);
        assert_eq!(decode_bytes(&STANDARD.encode(&bytes)).unwrap(), bytes);
        assert_eq!(decode_bytes(&URL_SAFE.encode(&bytes)).unwrap(), bytes);
        assert!(!encode_bytes(&bytes).contains(['+', '/', '=']));
        assert!(decode_bytes("not base64!").is_none());
    }

    #[test]
    fn input_dates_are_parsed_leniently() {
        let expected = from_millis(1_700_000_000_123);
        assert_eq!(parse_date("2023-11-14T22:13:20.123Z"), Some(expected));
        assert_eq!(parse_date("2023-11-14T23:13:20.123+01:00"), Some(expected));
        assert_eq!(parse_date("2023-11-14T22:13:20.123"), Some(expected));
        assert_eq!(parse_date("2023-11-14"), parse_date("2023-11-14T00:00:00Z"));
        assert_eq!(parse_date("yesterday"), None);
    }

    #[test]
    fn dates_have_millisecond_precision() {
        let date = from_millis(1_700_000_000_123);
        assert_eq!(format_date(&date), "2023-11-14T22:13:20.123Z");
        assert_eq!(
            format_date(&from_millis(1_700_000_000_000)),
            "2023-11-14T22:13:20.000Z"
        );
    }
}
