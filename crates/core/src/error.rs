//! The transport-neutral part of failures (spec §1.3 / exchange §1.5): upstream's error codes,
//! the exhausted-quota detail, and [`ValidationError`], what domain parsing returns when a rule
//! about the input fails. The HTTP envelope (`ApiError`) lives in `backbone-web`, which maps
//! these there; this crate knows no transport.

use std::borrow::Cow;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::encoding::format_precise_date;

pub const INPUT_CANNOT_BE_PARSED: &str = "error.platform.inputCannotBeParsed";
pub const INVALID_PROPERTY_VALUE: &str = "error.platform.validation.invalidPropertyValue";
pub const RECORD_NOT_FOUND: &str = "error.platform.recordNotFound";
pub const FORBIDDEN: &str = "error.platform.forbidden";
pub const REQUEST_BODY_TOO_LARGE: &str = "error.platform.requestBodyTooLarge";
pub const UNEXPECTED: &str = "error.platform.unexpected";
pub const QUOTA_EXHAUSTED: &str = "error.platform.quotaExhausted";

#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExhaustedMetric {
    pub metric_key: String,
    #[serde(serialize_with = "serialize_precise")]
    pub is_exhausted_until: DateTime<Utc>,
}

fn serialize_precise<S: serde::Serializer>(date: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format_precise_date(date))
}

/// A rule about the input failed: upstream's code and message (answered 400 at the edge).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct ValidationError {
    pub code: Cow<'static, str>,
    pub message: String,
}

impl ValidationError {
    pub fn new(code: impl Into<Cow<'static, str>>, message: impl Into<String>) -> Self {
        Self {
            code: code.into(),
            message: message.into(),
        }
    }

    pub fn invalid_property_value(message: impl Into<String>) -> Self {
        Self::new(INVALID_PROPERTY_VALUE, message)
    }

    /// The upstream message for an ID or address that fails validation.
    pub fn invalid_id(property: &str) -> Self {
        Self::invalid_property_value(format!(
            "'{property}': The ID or Address is not valid. Check length, prefix and the used characters."
        ))
    }

    pub fn cannot_parse(message: impl Into<String>) -> Self {
        Self::new(INPUT_CANNOT_BE_PARSED, message)
    }

    pub fn body_too_large() -> Self {
        Self::new(REQUEST_BODY_TOO_LARGE, "The request body is too large.")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_ids_get_the_upstream_message() {
        let error = ValidationError::invalid_id("id");
        assert_eq!(error.code, INVALID_PROPERTY_VALUE);
        assert!(error.message.starts_with("'id': The ID or Address is not valid."));
    }
}
