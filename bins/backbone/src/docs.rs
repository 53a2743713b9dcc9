//! `/docs/v2/openapi.json` and a browsable `/docs/index.html` (Swagger UI, assets inside the
//! binary). The document is built from the Consumer API's routes: each module documents its
//! operations where it routes them (`#[utoipa::path]`, see `backbone_web::openapi`), so route
//! and documentation cannot drift; `tests/api/docs.rs` checks that the served routes and the
//! documented operations are the same.

use axum::Router;
use backbone_web::openapi::{BearerSecurity, ErrorSchemas};
use backbone_web::Routes;
use utoipa::openapi::path::{HttpMethod, OperationBuilder, PathItem};
use utoipa::openapi::response::ResponseBuilder;
use utoipa::openapi::security::SecurityRequirement;
use utoipa::openapi::{InfoBuilder, OpenApi, OpenApiBuilder, PathsBuilder};
use utoipa::Modify;
use utoipa_swagger_ui::SwaggerUi;

/// Operations of modules not yet documented where they are routed (issue 15): listed by hand
/// until their handlers carry `#[utoipa::path]`; an operation a module documents itself is
/// skipped here. (method, path, summary, authenticated, success status)
#[rustfmt::skip]
const NOT_YET_ANNOTATED: &[(HttpMethod, &str, &str, bool, &str)] = &[
    (HttpMethod::Post, "/connect/token", "Password grant: exchange device credentials for an access token", false, "200"),
    (HttpMethod::Post, "/api/v2/Challenges", "Create a challenge (anonymous or authenticated)", false, "201"),
    (HttpMethod::Get, "/api/v2/Challenges/{id}", "Get a challenge", true, "200"),
    (HttpMethod::Post, "/api/v2/Identities", "Create an identity with its first device", false, "201"),
    (HttpMethod::Get, "/api/v2/Identities/Self", "Get the caller's identity", true, "200"),
    (HttpMethod::Get, "/api/v2/Identities/IsDeleted", "Whether the identity of a username is deleted", false, "200"),
    (HttpMethod::Patch, "/api/v2/Identities/Self/FeatureFlags", "Create or change feature flags", true, "204"),
    (HttpMethod::Get, "/api/v2/Identities/{identityAddress}/FeatureFlags", "Get an identity's feature flags", true, "200"),
    (HttpMethod::Post, "/api/v2/Identities/Self/DeletionProcesses", "Start the deletion of the own identity", true, "201"),
    (HttpMethod::Get, "/api/v2/Identities/Self/DeletionProcesses", "The own identity's deletion processes", true, "200"),
    (HttpMethod::Get, "/api/v2/Identities/Self/DeletionProcesses/{id}", "One deletion process", true, "200"),
    (HttpMethod::Put, "/api/v2/Identities/Self/DeletionProcesses/{id}/Cancel", "Cancel a deletion during its grace period", true, "200"),
    (HttpMethod::Post, "/api/v2/Devices", "Register another device", true, "201"),
    (HttpMethod::Get, "/api/v2/Devices", "List the identity's devices (paged)", true, "200"),
    (HttpMethod::Get, "/api/v2/Devices/Self", "Get the calling device", true, "200"),
    (HttpMethod::Put, "/api/v2/Devices/Self", "Change the communication language", true, "204"),
    (HttpMethod::Put, "/api/v2/Devices/Self/Password", "Change the device password", true, "204"),
    (HttpMethod::Delete, "/api/v2/Devices/{id}", "Delete a device that never logged in", true, "204"),
    (HttpMethod::Put, "/api/v2/Devices/Self/PushNotifications", "Register the calling device for push notifications (fcm, apns, dummy, sse)", true, "200"),
    (HttpMethod::Delete, "/api/v2/Devices/Self/PushNotifications", "Unregister the calling device from push notifications", true, "204"),
    (HttpMethod::Post, "/api/v2/Devices/Self/PushNotifications/SendTestNotification", "Send a Test push with the body as data to all devices of the caller", true, "204"),
    (HttpMethod::Post, "/api/v2/Notifications", "Send a configured text-only notification to peers", true, "204"),
    (HttpMethod::Get, "/api/v2/sse", "Server-sent events: the calling device's pushes (text/event-stream)", true, "200"),
    (HttpMethod::Get, "/api/v1/sse", "Server-sent events (same as /api/v2/sse)", true, "200"),
    (HttpMethod::Get, "/api/v2/Announcements", "Announcements for everybody or the caller, in a language (?language=, English fallback)", true, "200"),
    (HttpMethod::Get, "/api/v2/Tags", "The tag catalogue (ETag / 304)", false, "200"),
    (HttpMethod::Get, "/api/v2/Quotas", "The caller's quotas with their usage, grouped by metric", true, "200"),
    (HttpMethod::Get, "/api/v2/Version", "The API major version", false, "200"),
    (HttpMethod::Get, "/health", "Readiness", false, "200"),
    (HttpMethod::Get, "/health/live", "Liveness: the process serves HTTP", false, "200"),
    (HttpMethod::Get, "/health/ready", "Readiness: database and blob storage answer, not shutting down (else 503)", false, "200"),
    (HttpMethod::Get, "/r/{referenceId}", "App onboarding page (text/html) for a shared link; ?app= picks the app (404 when not configured)", false, "200"),
    (HttpMethod::Get, "/.well-known/apple-app-site-association", "iOS app links for /r/* (404 when not configured)", false, "200"),
    (HttpMethod::Get, "/.well-known/assetlinks.json", "Android app links for /r/* (404 when not configured)", false, "200"),
];

/// The document: the operations the routes carry, plus the shared components.
pub fn openapi(operations: OpenApi) -> OpenApi {
    let mut document = OpenApiBuilder::new()
        .info(
            InfoBuilder::new()
                .title("enmeshed Backbone Consumer API")
                .version("v2")
                .build(),
        )
        .build();
    let legacy = not_yet_annotated(&operations);
    document.merge(operations);
    document.paths.merge(legacy);
    BearerSecurity.modify(&mut document);
    ErrorSchemas.modify(&mut document);
    document
}

fn not_yet_annotated(annotated: &OpenApi) -> utoipa::openapi::Paths {
    let mut paths = PathsBuilder::new();
    for (method, path, summary, authenticated, status) in NOT_YET_ANNOTATED {
        if annotated.paths.paths.contains_key(*path) {
            continue;
        }
        let mut operation = OperationBuilder::new()
            .summary(Some(*summary))
            .response(*status, ResponseBuilder::new().description("Success"))
            .response(
                "400",
                ResponseBuilder::new().description("Invalid input or a broken rule (error envelope)"),
            );
        if *authenticated {
            operation = operation
                .security(SecurityRequirement::new("bearer", Vec::<String>::new()))
                .response(
                    "401",
                    ResponseBuilder::new().description("Missing, invalid or expired token"),
                );
        }
        paths = paths.path(*path, PathItem::new(method.clone(), operation.build()));
    }
    paths.build()
}

/// The Swagger UI and the document; these routes are not themselves part of it.
pub fn routes(document: OpenApi) -> Routes {
    let router: Router = SwaggerUi::new("/docs")
        .url("/docs/v2/openapi.json", document)
        .into();
    Routes::new().map_router(|r| r.merge(router))
}
