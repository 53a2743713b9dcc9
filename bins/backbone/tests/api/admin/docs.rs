//! admin-and-services §1.1: `/docs/index.html` and `/docs/v1/openapi.json` on the Admin API
//! listener, without the key; every route the Admin router serves is in the document (and
//! nothing else), and every schema an operation names is defined.

use std::collections::BTreeSet;
use std::sync::Arc;

use serde_json::Value;

use crate::docs::defined_schema_references;
use crate::helpers::{Backend, TestApp, ADMIN_API_KEY};

async fn document(app: &TestApp) -> Value {
    let response = app
        .raw(app.http.get(format!("{}/docs/v1/openapi.json", app.admin_base)))
        .await;
    response.expect_status(200).body.clone()
}

#[tokio::test]
async fn the_docs_are_served_without_the_key() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let doc = document(&app).await;
    assert_eq!(doc["info"]["title"], "enmeshed Backbone Admin API");
    let post = &doc["paths"]["/api/v1/Announcements"]["post"];
    assert_eq!(
        post["requestBody"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/CreateAnnouncementRequest"
    );
    assert!(post["responses"]["201"].is_object() && post["responses"]["401"].is_object());
    assert!(doc["paths"]["/api/v1/Clients/{id}"]["put"].is_object());
    assert!(doc["paths"]["/api/v1/Clients/{id}"]["delete"].is_object());
    let ui = app
        .http
        .get(format!("{}/docs/index.html", app.admin_base))
        .send()
        .await
        .unwrap();
    assert_eq!(ui.status(), 200);
    assert!(ui.text().await.unwrap().to_lowercase().contains("swagger"));
}

#[tokio::test]
async fn every_admin_route_is_documented() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let auth = Arc::new(backbone::admin_api::AdminAuth::new(ADMIN_API_KEY.into()));
    let routes = backbone::admin_api::routes(&app.app, auth);
    let registered: BTreeSet<&str> = routes.paths().iter().map(String::as_str).collect();
    assert_eq!(registered, backbone::admin_docs::documented_paths());
    // The document lists exactly these paths.
    let doc = document(&app).await;
    let listed: BTreeSet<&str> = doc["paths"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(listed, registered);
}

#[tokio::test]
async fn every_named_schema_is_defined() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let doc = document(&app).await;
    let found = defined_schema_references(&doc);
    assert!(found.len() > 20, "{found:?}");
}
