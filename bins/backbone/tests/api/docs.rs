//! Issue 15 item 4: `/docs/v2/openapi.json` documents exactly the operations the Consumer API
//! serves, and every schema it names is defined. The methods a path serves are asked of the
//! running server itself: axum answers a method that a path does not route with 405 and an
//! `Allow` header naming those it does.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::helpers::{Backend, TestApp};

/// Served by the Consumer API but not part of its document, each with the reason.
const NOT_DOCUMENTED: &[&str] = &[
    // Swagger UI's page and the document itself.
    "/docs/index.html",
    "/docs/v2/openapi.json",
];

const METHODS: &[&str] = &["get", "post", "put", "patch", "delete"];

async fn document(app: &TestApp) -> Value {
    app.get("/docs/v2/openapi.json", None)
        .await
        .expect_status(200)
        .body
        .clone()
}

fn documented(document: &Value) -> BTreeSet<(String, String)> {
    let paths = document["paths"].as_object().expect("paths");
    paths
        .iter()
        .flat_map(|(path, item)| {
            let item = item.as_object().expect("a path item");
            METHODS
                .iter()
                .filter(|method| item.contains_key(**method))
                .map(move |method| ((*method).to_owned(), path.clone()))
        })
        .collect()
}

/// The methods the server routes for `path` (parameters filled with a placeholder), from the
/// `Allow` header of a 405 to a method no route has.
async fn served_methods(app: &TestApp, path: &str) -> BTreeSet<String> {
    let url: String = path
        .split('/')
        .map(|segment| if segment.starts_with('{') { "P1" } else { segment })
        .collect::<Vec<_>>()
        .join("/");
    let response = app
        .raw(
            app.http
                .request(reqwest::Method::TRACE, format!("{}{url}", app.base)),
        )
        .await;
    assert_eq!(response.status, 405, "{path}: {}", response.text);
    let allow = response.headers["allow"].to_str().unwrap().to_ascii_lowercase();
    allow
        .split(',')
        .map(str::trim)
        // axum answers HEAD wherever GET is routed; OpenAPI leaves it implicit.
        .filter(|method| *method != "head")
        .map(str::to_owned)
        .collect()
}

#[tokio::test]
async fn the_document_lists_exactly_the_served_operations() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let routes = backbone::consumer_api::routes(&app.app);
    let mut served = BTreeSet::new();
    for path in routes.paths() {
        for method in served_methods(&app, path).await {
            served.insert((method, path.clone()));
        }
    }
    let documented = documented(&document(&app).await);
    let missing: Vec<_> = served.difference(&documented).collect();
    let extra: Vec<_> = documented.difference(&served).collect();
    assert!(missing.is_empty(), "served but not documented: {missing:?}");
    assert!(extra.is_empty(), "documented but not served: {extra:?}");
}

#[tokio::test]
async fn the_undocumented_routes_are_only_the_listed_ones() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let document = document(&app).await;
    for path in NOT_DOCUMENTED {
        app.get(path, None).await.expect_status(200);
        assert!(document["paths"].get(*path).is_none(), "{path}");
    }
    assert!(app.get("/docs/index.html", None).await.text.contains("swagger"));
}

#[tokio::test]
async fn every_named_schema_is_defined() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let document = document(&app).await;
    let found = defined_schema_references(&document);
    assert!(found.contains("#/components/schemas/ErrorEnvelope"), "{found:?}");
    let bearer = &document["components"]["securitySchemes"]["bearer"];
    assert_eq!(bearer["scheme"], "bearer");
}

/// The worked example of `backbone_web::openapi`: parameters, body, success and error
/// responses of one operation, as a generated client sees them.
#[tokio::test]
async fn an_operation_carries_its_parameters_bodies_and_responses() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let document = document(&app).await;
    let update = &document["paths"]["/api/v2/Tokens/{id}/UpdateContent"]["post"];
    let id = &update["parameters"][0];
    assert_eq!(
        (id["name"].as_str(), id["in"].as_str()),
        (Some("id"), Some("path"))
    );
    assert_eq!(id["schema"]["pattern"], "^TOK[A-Za-z0-9]{1,17}$");
    assert_eq!(
        update["requestBody"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/UpdateContentRequest"
    );
    let statuses: BTreeSet<&str> = update["responses"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(statuses, BTreeSet::from(["200", "400", "401", "404", "429"]));
    assert_eq!(
        update["responses"]["404"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/ErrorEnvelope"
    );
    assert_eq!(update["security"], serde_json::json!([{ "bearer": [] }]));
    let list = &document["paths"]["/api/v2/Tokens"]["get"]["parameters"];
    let names: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p["name"].as_str())
        .collect();
    assert_eq!(names, ["ids", "PageNumber", "PageSize"]);
}

/// A real error answer matches the documented envelope, `data` included.
#[tokio::test]
async fn the_error_envelope_is_what_the_server_sends() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let document = document(&app).await;
    let body = &document["components"]["schemas"]["ErrorBody"];
    let documented: BTreeSet<&str> = body["properties"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    let answer = app.get("/api/v2/Tokens/TOKunknown", None).await;
    answer.expect_error(404, "error.platform.recordNotFound");
    let sent: BTreeSet<&str> = answer.body["error"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(sent, documented);
    let required: BTreeSet<&str> = body["required"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(required, documented, "every member is always sent");
}

/// Every `$ref` an `OpenAPI` document makes, each checked to name a schema the document
/// defines (both documents, the Consumer API's and the Admin API's, use it).
pub fn defined_schema_references(document: &Value) -> BTreeSet<&str> {
    let mut found = BTreeSet::new();
    references(document, &mut found);
    let schemas = document["components"]["schemas"].as_object().unwrap();
    for target in &found {
        let name = target.strip_prefix("#/components/schemas/").unwrap();
        assert!(schemas.contains_key(name), "{name} is referenced but not defined");
    }
    found
}

fn references<'v>(value: &'v Value, found: &mut BTreeSet<&'v str>) {
    match value {
        Value::Object(map) => {
            for (key, inner) in map {
                match (key.as_str(), inner) {
                    ("$ref", Value::String(target)) => {
                        found.insert(target.as_str());
                    }
                    _ => references(inner, found),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|item| references(item, found)),
        _ => {}
    }
}
