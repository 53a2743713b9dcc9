//! JSON request bodies, read the way upstream's ASP.NET binder reads them.
//!
//! Property names match case-insensitively: we normalise incoming object keys to camelCase
//! (first letter lower-cased) before handing the value to serde, so `ClientId` and `clientId`
//! both bind. Any failure to read or bind the body is `400 error.platform.inputCannotBeParsed`
//! with the path of the offending property; an oversized body is `requestBodyTooLarge`.

use crate::ApiError;
use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use serde::de::DeserializeOwned;
use serde_json::Value;

pub struct CiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for CiJson<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        let bytes = read_body(request, state).await?;
        parse_json(&bytes).map(CiJson)
    }
}

/// Reads the whole body, mapping the size limit to the upstream error.
pub async fn read_body<S: Send + Sync>(request: Request, state: &S) -> Result<Bytes, ApiError> {
    Bytes::from_request(request, state).await.map_err(|rejection| {
        if rejection.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::body_too_large()
        } else {
            ApiError::cannot_parse(format!("The request body could not be read: {rejection}"))
        }
    })
}

/// Parses a JSON body with camelCase-normalised keys into `T`.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::cannot_parse("A non-empty request body is required."));
    }
    let mut value: Value = serde_json::from_slice(bytes)
        .map_err(|error| ApiError::cannot_parse(format!("The request body is not valid JSON: {error}")))?;
    normalise_keys(&mut value);
    crate::text::check_json(&value)?;
    serde_path_to_error::deserialize(value).map_err(|error| {
        let path = error.path().to_string();
        let reason = error.into_inner().to_string();
        if path == "." {
            ApiError::cannot_parse(reason)
        } else {
            ApiError::cannot_parse(format!("'{path}': {reason}"))
        }
    })
}

/// Parses an optional JSON body: none at all, or a literal `null` (what upstream's own C# SDK
/// sends for "no body"; ASP.NET binds it as no body), gives `T::default()`.
pub fn parse_optional_json<T: DeserializeOwned + Default>(bytes: &[u8]) -> Result<T, ApiError> {
    let text = bytes.trim_ascii();
    if text.is_empty() || text == b"null" {
        Ok(T::default())
    } else {
        parse_json(text)
    }
}

fn normalise_keys(value: &mut Value) {
    match value {
        Value::Object(map) => {
            let entries = std::mem::take(map);
            for (key, mut inner) in entries {
                normalise_keys(&mut inner);
                map.insert(lower_first(&key), inner);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(normalise_keys),
        _ => {}
    }
}

fn lower_first(key: &str) -> String {
    let mut chars = key.chars();
    match chars.next() {
        Some(first) if first.is_ascii_uppercase() => first.to_ascii_lowercase().to_string() + chars.as_str(),
        _ => key.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize, Debug)]
    #[serde(rename_all = "camelCase")]
    struct Sample {
        client_id: String,
        nested: Option<Inner>,
    }

    #[derive(serde::Deserialize, Debug)]
    #[serde(rename_all = "camelCase")]
    struct Inner {
        some_value: u8,
    }

    #[test]
    fn pascal_case_keys_bind() {
        let sample: Sample = parse_json(br#"{"ClientId":"a","Nested":{"SomeValue":3},"Unknown":1}"#).unwrap();
        assert_eq!(sample.client_id, "a");
        assert_eq!(sample.nested.unwrap().some_value, 3);
    }

    #[derive(serde::Deserialize, Debug, Default)]
    #[serde(rename_all = "camelCase")]
    struct Optional {
        some_value: Option<u8>,
    }

    #[test]
    fn an_optional_body_may_be_absent_or_null() {
        for absent in [&b""[..], b"  ", b"null", b" null\n"] {
            assert!(parse_optional_json::<Optional>(absent)
                .unwrap()
                .some_value
                .is_none());
        }
        assert_eq!(
            parse_optional_json::<Optional>(br#"{"SomeValue":3}"#)
                .unwrap()
                .some_value,
            Some(3)
        );
        assert!(parse_optional_json::<Optional>(b"nul").is_err());
        assert!(parse_optional_json::<Optional>(b"[]").is_err());
    }

    #[test]
    fn errors_name_the_property() {
        let error = parse_json::<Sample>(br#"{"clientId":"a","nested":{"someValue":"x"}}"#).unwrap_err();
        assert_eq!(error.code(), "error.platform.inputCannotBeParsed");
        assert!(error.to_string().contains("'nested.someValue'"), "{error}");
        assert!(parse_json::<Sample>(b"{").is_err());
        assert!(parse_json::<Sample>(b"").is_err());
        assert!(parse_json::<Sample>(b"{}")
            .unwrap_err()
            .to_string()
            .contains("clientId"));
    }
}
