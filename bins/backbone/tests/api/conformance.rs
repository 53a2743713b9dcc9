//! Every response an API test receives is checked against the Consumer API's `OpenAPI` document
//! (issue 15 item 4), so the suite's requests, with real relationships, messages, files and
//! sync runs behind them, check the document far beyond what a fuzzer reaches with generated
//! data. For an operation documented from the code (it has an `operationId`; the hand-listed
//! rest is not checked) the status must be documented, and a JSON body must match the schema
//! documented for that status. 5xx answers (an outage a test provokes) are left to the fuzzer's
//! "no server error" check.

use reqwest::Method;
use serde_json::Value;

use crate::helpers::Response;

/// The operation a request path falls under: the documented path whose literal segments match
/// (case-insensitively, as the server routes) with the most literals, so that
/// `/Relationships/CanCreate` wins over `/Relationships/{id}`.
fn template_of<'d>(document: &'d Value, path: &str) -> Option<&'d str> {
    let segments: Vec<&str> = path.split('/').collect();
    document["paths"]
        .as_object()?
        .keys()
        .filter_map(|template| {
            let parts: Vec<&str> = template.split('/').collect();
            if parts.len() != segments.len() {
                return None;
            }
            let mut literals = 0;
            for (part, segment) in parts.iter().zip(&segments) {
                if part.starts_with('{') {
                    continue;
                }
                if !part.eq_ignore_ascii_case(segment) {
                    return None;
                }
                literals += 1;
            }
            Some((literals, template.as_str()))
        })
        .max_by_key(|(literals, _)| *literals)
        .map(|(_, template)| template)
}

/// Panics unless `response` to `method path` is what the document says the operation answers.
pub fn check(document: &Value, method: &Method, path: &str, response: &Response) {
    let Some(template) = template_of(document, path) else {
        return;
    };
    let operation = &document["paths"][template][method.as_str().to_ascii_lowercase()];
    if operation.get("operationId").is_none() || response.status.is_server_error() {
        return;
    }
    let status = response.status.as_str();
    let what = format!("{method} {path} ({template}) answered {status}");
    let documented = &operation["responses"][status];
    assert!(
        documented.is_object(),
        "{what}, which the document does not list; body: {}",
        response.text
    );
    if response.text.is_empty() {
        return;
    }
    let content_type = response
        .headers
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let media_type = content_type.split(';').next().unwrap_or_default().trim();
    let content = &documented["content"][media_type];
    assert!(
        content.is_object(),
        "{what} with {content_type}, which the document does not list for it"
    );
    if media_type == "application/json" {
        validate(document, &content["schema"], &response.body, &what);
    }
}

/// Validates `body` against `schema`, whose `$ref`s point into the document's components.
fn validate(document: &Value, schema: &Value, body: &Value, what: &str) {
    let mut root = schema.clone();
    root.as_object_mut()
        .expect("a schema object")
        .insert("components".into(), document["components"].clone());
    let validator = jsonschema::options()
        .should_validate_formats(true)
        .build(&root)
        .unwrap_or_else(|error| panic!("{what}: the documented schema does not compile: {error}"));
    let errors: Vec<String> = validator
        .iter_errors(body)
        .map(|error| format!("{} at {}", error, error.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "{what} with a body the document does not describe: {errors:#?}\nbody: {body}"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literal_segments_win_over_parameters() {
        let document = serde_json::json!({ "paths": {
            "/api/v2/Relationships/{id}": {},
            "/api/v2/Relationships/CanCreate": {},
            "/api/v2/Relationships": {},
        }});
        assert_eq!(
            template_of(&document, "/api/v2/relationships/cancreate"),
            Some("/api/v2/Relationships/CanCreate")
        );
        assert_eq!(
            template_of(&document, "/api/v2/Relationships/REL1"),
            Some("/api/v2/Relationships/{id}")
        );
        assert_eq!(template_of(&document, "/api/v2/Other"), None);
    }

    fn document() -> Value {
        serde_json::json!({
            "paths": { "/api/v2/Things": { "get": { "operationId": "get_things", "responses": {
                "200": { "content": { "application/json": {
                    "schema": { "$ref": "#/components/schemas/Thing" } } } },
            }}}},
            "components": { "schemas": { "Thing": {
                "type": "object",
                "properties": { "createdAt": { "type": "string", "format": "date-time" } },
                "required": ["createdAt"],
            }}},
        })
    }

    fn response(status: u16, body: &Value) -> Response {
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert(
            reqwest::header::CONTENT_TYPE,
            "application/json; charset=utf-8".parse().unwrap(),
        );
        Response {
            status: reqwest::StatusCode::from_u16(status).unwrap(),
            headers,
            body: body.clone(),
            text: body.to_string(),
        }
    }

    #[test]
    fn a_body_that_matches_the_schema_passes() {
        let body = serde_json::json!({ "createdAt": "2026-01-02T03:04:05.678Z" });
        check(&document(), &Method::GET, "/api/v2/things", &response(200, &body));
    }

    #[test]
    #[should_panic(expected = "a body the document does not describe")]
    fn a_date_that_is_no_date_fails() {
        let body = serde_json::json!({ "createdAt": "yesterday" });
        check(&document(), &Method::GET, "/api/v2/Things", &response(200, &body));
    }

    #[test]
    #[should_panic(expected = "which the document does not list")]
    fn an_undocumented_status_fails() {
        check(
            &document(),
            &Method::GET,
            "/api/v2/Things",
            &response(404, &Value::Null),
        );
    }
}
