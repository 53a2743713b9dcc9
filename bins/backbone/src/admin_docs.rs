//! The Admin API's `/docs/v1/openapi.json` and a browsable `/docs/index.html` (Swagger UI,
//! assets inside the binary), served on the Admin API listener without the API key, as
//! upstream's `SwaggerUi`. Every operation is listed with its request and response body; the
//! bodies' schemas are derived from the modules' DTOs (`utoipa::ToSchema`).

use axum::Router;
use backbone_web::openapi::{add, Schemas};
use backbone_web::Routes;
use utoipa::openapi::path::{HttpMethod, OperationBuilder, ParameterBuilder, ParameterIn, PathItem};
use utoipa::openapi::request_body::RequestBodyBuilder;
use utoipa::openapi::response::ResponseBuilder;
use utoipa::openapi::schema::{ArrayBuilder, KnownFormat, ObjectBuilder, SchemaFormat, Type};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{
    ComponentsBuilder, ContentBuilder, InfoBuilder, OpenApi, OpenApiBuilder, PathsBuilder, Ref, RefOr,
    Required, Schema,
};
use utoipa_swagger_ui::SwaggerUi;

/// What a successful answer carries.
#[derive(Clone, Copy)]
pub enum Body {
    Empty,
    /// The bare request token (`text/plain`).
    Text,
    /// `{"result": T}`
    One(&'static str),
    /// `{"result": [T]}`
    List(&'static str),
    /// `{"result": [T], "pagination": …}` (no `pagination` on a single page)
    Paged(&'static str),
    /// T itself, not enveloped.
    Raw(&'static str),
    /// An XML document.
    Xml,
}

use Body::{Empty, List, One, Paged, Raw, Text, Xml};
use HttpMethod::{Delete, Get, Patch, Post, Put};

/// (method, path, summary, request body schema, success status, success body, needs the key)
type Operation = (
    HttpMethod,
    &'static str,
    &'static str,
    Option<&'static str>,
    &'static str,
    Body,
    bool,
);

#[rustfmt::skip]
const OPERATIONS: &[Operation] = &[
    (Get, "/health", "Readiness", None, "200", Empty, false),
    (Get, "/health/live", "Liveness: the process serves HTTP", None, "200", Empty, false),
    (Get, "/health/ready", "Readiness: the database answers and the process is not shutting down (else 503)", None, "200", Empty, false),
    (Get, "/api/v1/xsrf", "The XSRF handshake: sets the cookie, answers the request token", None, "200", Text, false),
    (Post, "/api/v1/ValidateApiKey", "Whether an API key is valid (XSRF-checked, no key needed)", Some("ValidateApiKeyRequest"), "200", Raw("ValidateApiKeyResponse"), false),
    (Get, "/api/v1/Clients", "Every OAuth client with its default tier and number of identities", None, "200", List("ClientOverviewDto"), true),
    (Post, "/api/v1/Clients", "Create a client; the secret is shown only here", Some("CreateClientRequest"), "201", One("CreatedClientDto"), true),
    (Get, "/api/v1/Clients/{id}", "One client", None, "200", One("ClientDto"), true),
    (Put, "/api/v1/Clients/{id}", "Change a client's default tier and identity limit", Some("UpdateClientRequest"), "200", One("ClientDto"), true),
    (Delete, "/api/v1/Clients/{id}", "Delete a client (its identities stay)", None, "204", Empty, true),
    (Patch, "/api/v1/Clients/{id}/ChangeSecret", "Replace a client's secret (generated when empty)", Some("ChangeSecretRequest"), "200", One("CreatedClientDto"), true),
    (Get, "/api/v1/Tiers", "Every tier with its number of identities", None, "200", List("TierOverviewDto"), true),
    (Post, "/api/v1/Tiers", "Create a tier", Some("CreateTierRequest"), "201", One("TierRef"), true),
    (Get, "/api/v1/Tiers/{id}", "A tier with its quota definitions", None, "200", One("TierDetailsDto"), true),
    (Delete, "/api/v1/Tiers/{id}", "Delete an unused tier", None, "204", Empty, true),
    (Post, "/api/v1/Tiers/{id}/Quotas", "Give a tier a quota", Some("QuotaRequest"), "201", One("QuotaDefinitionDto"), true),
    (Delete, "/api/v1/Tiers/{id}/Quotas/{quotaId}", "Remove a tier's quota", None, "204", Empty, true),
    (Get, "/api/v1/Metrics", "The metrics quotas can limit", None, "200", List("MetricDto"), true),
    (Post, "/api/v1/Identities", "Create an identity for a client with a signed challenge", Some("CreateIdentityRequest"), "201", One("CreatedIdentityDto"), true),
    (Get, "/api/v1/Identities/{address}", "An identity with its devices and quotas", None, "200", One("IdentityDetails"), true),
    (Put, "/api/v1/Identities/{address}", "Move an identity to another tier", Some("UpdateIdentityRequest"), "204", Empty, true),
    (Post, "/api/v1/Identities/{address}/Quotas", "Give an identity an individual quota", Some("QuotaRequest"), "201", One("QuotaDefinitionDto"), true),
    (Delete, "/api/v1/Identities/{address}/Quotas/{quotaId}", "Remove an individual quota", None, "204", Empty, true),
    (Get, "/api/v1/Identities/{address}/DeletionProcesses", "An identity's deletion processes, newest first", None, "200", List("ProcessDto"), true),
    (Get, "/api/v1/Identities/{address}/DeletionProcesses/AuditLogs", "The deletion audit log of an address, also after the deletion", None, "200", List("AuditLogEntryDto"), true),
    (Get, "/api/v1/Identities/{address}/DeletionProcesses/{id}", "A deletion process with its audit log", None, "200", One("ProcessDetailsDto"), true),
    (Get, "/odata/Identities", "Identities for the Admin UI's table: $filter, $orderby, $top (at most 100), $skip, $count, $expand=Tier", None, "200", Raw("ODataPage"), true),
    (Get, "/odata/$metadata", "The OData EDM (CSDL XML) of the identity list", None, "200", Xml, true),
    (Get, "/api/v1/Relationships", "An identity's relationships (?participant=, paged)", None, "200", Paged("RelationshipOverviewDto"), true),
    (Get, "/api/v1/Messages", "An identity's messages (?participant=&type=Incoming|Outgoing, paged)", None, "200", Paged("MessageOverviewDto"), true),
    (Get, "/api/v1/Tokens", "The tokens an identity created, without content (?createdBy=; every token without PageSize)", None, "200", Paged("TokenDto"), true),
    (Patch, "/api/v1/Tokens/{id}/ResetAccessFailedCount", "Unlock a token that wrong passwords locked", None, "204", Empty, true),
    (Get, "/api/v1/Announcements", "Every announcement", None, "200", List("AnnouncementDto"), true),
    (Post, "/api/v1/Announcements", "Create an announcement (pushed to its recipients unless silent)", Some("CreateAnnouncementRequest"), "201", One("AnnouncementDto"), true),
    (Get, "/api/v1/Announcements/{id}", "One announcement", None, "200", One("AnnouncementDto"), true),
    (Delete, "/api/v1/Announcements/{id}", "Delete an announcement", None, "204", Empty, true),
    (Post, "/api/v1/Challenges", "An anonymous challenge for identity creation", None, "201", One("AdminChallengeDto"), true),
];

/// The paths the document describes.
pub fn documented_paths() -> std::collections::BTreeSet<&'static str> {
    OPERATIONS.iter().map(|op| op.1).collect()
}

/// Every body schema of every module, by name.
pub fn schemas() -> Schemas {
    let mut schemas = backbone_devices::admin_schemas();
    schemas.extend(backbone_quotas::admin_schemas());
    schemas.extend(backbone_tokens::admin_schemas());
    add::<backbone_challenges::AdminChallengeDto>(&mut schemas);
    add::<backbone_announcements::CreateAnnouncementRequest>(&mut schemas);
    add::<backbone_announcements::AnnouncementDto>(&mut schemas);
    add::<backbone_messages::admin::MessageOverviewDto>(&mut schemas);
    add::<backbone_relationships::admin::RelationshipOverviewDto>(&mut schemas);
    add::<crate::admin_api::IdentityDetails>(&mut schemas);
    add::<crate::admin_api::ValidateApiKeyRequest>(&mut schemas);
    add::<crate::admin_api::ValidateApiKeyResponse>(&mut schemas);
    schemas
}

fn json(schema: impl Into<RefOr<Schema>>) -> utoipa::openapi::Content {
    ContentBuilder::new().schema(Some(schema)).build()
}

fn reference(name: &str) -> Ref {
    Ref::from_schema_name(name)
}

fn enveloped(result: impl Into<RefOr<Schema>>, paged: bool) -> Schema {
    let mut object = ObjectBuilder::new().property("result", result).required("result");
    if paged {
        object = object.property("pagination", reference("Pagination"));
    }
    object.into()
}

fn success(body: Body) -> ResponseBuilder {
    let response = ResponseBuilder::new().description("Success");
    let list = |name| ArrayBuilder::new().items(reference(name)).build();
    match body {
        Empty => response,
        Text => response.content(
            "text/plain",
            json(ObjectBuilder::new().schema_type(Type::String).build()),
        ),
        One(name) => response.content("application/json", json(enveloped(reference(name), false))),
        List(name) => response.content("application/json", json(enveloped(list(name), false))),
        Paged(name) => response.content("application/json", json(enveloped(list(name), true))),
        Raw(name) => response.content("application/json", json(reference(name))),
        Xml => response.content(
            "application/xml",
            json(ObjectBuilder::new().schema_type(Type::String).build()),
        ),
    }
}

/// Path parameters from the `{name}` segments.
fn parameters(path: &str) -> Vec<utoipa::openapi::path::Parameter> {
    path.split('/')
        .filter_map(|s| s.strip_prefix('{')?.strip_suffix('}'))
        .map(|name| {
            ParameterBuilder::new()
                .name(name)
                .parameter_in(ParameterIn::Path)
                .required(Required::True)
                .schema(Some(ObjectBuilder::new().schema_type(Type::String).build()))
                .build()
        })
        .collect()
}

fn operation(op: &Operation) -> utoipa::openapi::path::Operation {
    let (_, path, summary, request, status, body, keyed) = *op;
    let error = || ResponseBuilder::new().content("application/json", json(reference("HttpError")));
    let mut builder = OperationBuilder::new()
        .summary(Some(summary))
        .parameters(Some(parameters(path)))
        .response(status, success(body))
        .response("400", error().description("Invalid input or a broken rule"))
        .response("404", error().description("Unknown ID"));
    if let Some(name) = request {
        let content = RequestBodyBuilder::new().content("application/json", json(reference(name)));
        builder = builder.request_body(Some(content.build()));
    }
    if keyed {
        builder = builder
            .security(SecurityRequirement::new("apiKey", Vec::<String>::new()))
            .response(
                "401",
                ResponseBuilder::new().description("Missing or wrong X-API-KEY (empty body)"),
            );
    }
    builder.build()
}

/// The error envelope and the paging object, shared by every operation.
fn shared_schemas() -> Schemas {
    let string = || ObjectBuilder::new().schema_type(Type::String);
    let integer = || ObjectBuilder::new().schema_type(Type::Integer);
    let error = ObjectBuilder::new()
        .property("id", string())
        .property("code", string())
        .property("message", string())
        .property("docs", string())
        .property(
            "time",
            string().format(Some(SchemaFormat::KnownFormat(KnownFormat::DateTime))),
        );
    let envelope = ObjectBuilder::new().property("error", error).required("error");
    let pagination = ObjectBuilder::new()
        .property("pageNumber", integer())
        .property("pageSize", integer())
        .property("totalPages", integer())
        .property("totalRecords", integer());
    vec![
        ("HttpError".into(), RefOr::T(envelope.into())),
        ("Pagination".into(), RefOr::T(pagination.into())),
    ]
}

pub fn openapi() -> OpenApi {
    let mut paths = PathsBuilder::new();
    for op in OPERATIONS {
        paths = paths.path(op.1, PathItem::new(op.0.clone(), operation(op)));
    }
    let key = SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::new("X-API-KEY")));
    let components = ComponentsBuilder::new()
        .security_scheme("apiKey", key)
        .schemas_from_iter(schemas().into_iter().chain(shared_schemas()));
    OpenApiBuilder::new()
        .info(
            InfoBuilder::new()
                .title("enmeshed Backbone Admin API")
                .version("v1")
                .build(),
        )
        .paths(paths.build())
        .components(Some(components.build()))
        .build()
}

pub fn routes() -> Routes {
    let router: Router = SwaggerUi::new("/docs")
        .url("/docs/v1/openapi.json", openapi())
        .into();
    // The Swagger UI router brings its own paths.
    Routes::new().map_router(|r| r.merge(router))
}
