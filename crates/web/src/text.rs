//! Control characters in client text. PostgreSQL cannot store NUL in a text column at all, and
//! no field of the API has a use for the other C0 control characters but tab, line feed and
//! carriage return, so every text that comes in — path, query, JSON strings and keys, form
//! values — is checked once at the edge, the same way on both databases.

use crate::{ApiError, ApiResult};

/// Whether `text` holds a character no field accepts: C0 controls except tab, LF and CR.
pub fn has_forbidden_control(text: &str) -> bool {
    text.chars()
        .any(|c| c.is_ascii_control() && !matches!(c, '\t' | '\n' | '\r' | '\x7f'))
}

/// 400 with the validation code if `value` holds a forbidden control character.
pub fn check(property: &str, value: &str) -> ApiResult<()> {
    if has_forbidden_control(value) {
        return Err(refused(property));
    }
    Ok(())
}

pub fn refused(property: &str) -> ApiError {
    ApiError::invalid_property_value(format!(
        "'{property}' must not contain control characters (such as NUL)."
    ))
}

/// Checks every name and value of a URL-encoded string (a query or a form body), decoded.
pub fn check_url_encoded(encoded: &str) -> ApiResult<()> {
    for (name, value) in form_urlencoded::parse(encoded.as_bytes()) {
        check(&name, &name)?;
        check(&name, &value)?;
    }
    Ok(())
}

/// Checks every string and key of a JSON document, naming the first offending property.
pub fn check_json(value: &serde_json::Value) -> ApiResult<()> {
    fn walk(value: &serde_json::Value, path: &mut String) -> ApiResult<()> {
        match value {
            serde_json::Value::String(text) => check(path, text),
            serde_json::Value::Array(items) => items.iter().try_for_each(|item| walk(item, path)),
            serde_json::Value::Object(map) => map.iter().try_for_each(|(key, inner)| {
                let before = path.len();
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(key);
                check(path, key)?;
                walk(inner, path)?;
                path.truncate(before);
                Ok(())
            }),
            _ => Ok(()),
        }
    }
    walk(value, &mut String::new())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn nul_and_other_c0_controls_are_refused_but_whitespace_is_not() {
        assert!(has_forbidden_control("a\0b"));
        assert!(has_forbidden_control("\u{1b}[31m"));
        assert!(!has_forbidden_control("line\nnext\ttab\r"));
        assert!(!has_forbidden_control("grüße ✓"));
    }

    #[test]
    fn json_errors_name_the_property() {
        let error = check_json(&json!({ "a": [ { "clientId": "x\u{0}" } ] })).unwrap_err();
        assert!(error.to_string().contains("'a.clientId'"), "{error}");
        assert!(check_json(&json!({ "k\u{0}": 1 })).is_err());
        assert!(check_json(&json!({ "ok": ["fine", 1, null] })).is_ok());
    }

    #[test]
    fn url_encoded_values_are_checked_decoded() {
        assert!(check_url_encoded("username=a%00b").is_err());
        assert!(check_url_encoded("ids=a&ids=b%0A").is_ok());
    }
}
