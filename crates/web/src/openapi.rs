//! The `OpenAPI` documents: what every module needs to document its operations.
//!
//! # The Consumer API: one annotation per handler
//! Each handler carries `#[utoipa::path]`, and the module routes it with
//! [`Routes::routes`](crate::Routes::routes) and `utoipa_axum::routes!`, so the path and
//! methods axum serves and the operation in `/docs/v2/openapi.json` come from the same
//! annotation. The binary collects the modules' documents; a test checks that every route the
//! Consumer API serves is documented and nothing else.
//!
//! ```text
//! use backbone_web::openapi::{BadRequest, Forbidden, NotFound, ResultBody, TooManyRequests, Unauthorized};
//! use backbone_web::openapi::routes;
//!
//! /// Get a token, allocating it.          <- first doc line: the summary; the rest: description
//! #[utoipa::path(
//!     get, path = "/api/v2/Tokens/{id}", tag = "Tokens",
//!     params(
//!         ("id" = String, Path, pattern = r"^TOK[A-Za-z0-9]{1,17}$"),
//!         ("password" = Option<String>, Query, description = "base64"),
//!     ),
//!     security((), ("bearer" = [])),        // anonymous or bearer; `security(("bearer" = []))`: bearer only
//!     responses(
//!         (status = 200, description = "The token", body = ResultBody<TokenDto>),
//!         BadRequest, Forbidden, NotFound,  // the error envelope, each where the handler can give it
//!     ),
//! )]
//! async fn get_token(/* ... */) -> ApiResult<Envelope<TokenDto>> { /* ... */ }
//!
//! pub fn routes(state: TokensState) -> Routes {
//!     Routes::new()
//!         .routes(routes!(get_token, delete_token)) // one routes! per path
//!         .with_state(state)
//! }
//! ```
//!
//! Conventions:
//! - **Bodies**: derive `utoipa::ToSchema` on the request and response DTOs next to their
//!   `Serialize`/`Deserialize`, with the same `serde` renames; `Option<T>` is nullable, and a
//!   field with `skip_serializing_if` gets `#[schema(nullable = false)]` (absent, never
//!   `null`). Dates are `DateTime<Utc>` (a `date-time` string). Request bodies:
//!   `request_body = CreateTokenRequest`; successes: [`ResultBody<T>`] for [`crate::Envelope`]
//!   and [`crate::Created`] (201, with `headers(("Location" = String))`), [`PagedResultBody<T>`]
//!   for [`crate::PagedEnvelope`]; 204 without `body`.
//! - **Errors**: [`BadRequest`] (every operation: the gateway refuses bad query strings and
//!   bodies before any handler), [`Unauthorized`] (bearer-only operations), [`Forbidden`],
//!   [`NotFound`], [`TooManyRequests`] (every write: the rate limits, and quotas).
//! - **Paging**: `params(Paging)` documents `PageNumber` and `PageSize` (read
//!   case-insensitively, as every query name).
//! - **Repeated IDs**: `("ids" = Vec<String>, Query, style = Form, explode, description = "…")`,
//!   i.e. `?ids=A&ids=B`; a single ID pattern cannot be given for the items, so say it in the
//!   description.
//! - **Other media types**: `content_type = "text/html"` (or `text/event-stream`,
//!   `application/octet-stream`) with `body = String` (or `Vec<u8>`).
//!
//! # The Admin API
//! Its document is a list in the binary (`admin_docs.rs`) that names the schemas each module
//! contributes; [`add`] collects them by name.

use std::collections::BTreeMap;

use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::schema::Schema;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, Ref, RefOr, Response, ResponseBuilder};
use utoipa::{IntoParams, IntoResponses, Modify, ToSchema};

pub use crate::envelope::{PagedResultBody, Pagination, ResultBody};
pub use crate::error::{ErrorBody, ErrorEnvelope};
/// `routes!(handler, ...)` for [`Routes::routes`](crate::Routes::routes), re-exported so that
/// modules need no dependency of their own.
pub use utoipa_axum::routes;

/// Named schemas; the document's `components.schemas`.
pub type Schemas = Vec<(String, RefOr<Schema>)>;

/// Adds `T` and every schema it refers to.
pub fn add<T: utoipa::ToSchema>(schemas: &mut Schemas) {
    schemas.push((T::name().into_owned(), T::schema()));
    T::schemas(schemas);
}

/// The security scheme `bearer` (the access token of `/connect/token`), which operations name
/// with `security(("bearer" = []))`.
pub struct BearerSecurity;

impl Modify for BearerSecurity {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let bearer = HttpBuilder::new()
            .scheme(HttpAuthScheme::Bearer)
            .bearer_format("JWT")
            .build();
        openapi
            .components
            .get_or_insert_with(Default::default)
            .add_security_scheme("bearer", SecurityScheme::Http(bearer));
    }
}

/// The error envelope's schemas, which the error responses below refer to by name.
pub struct ErrorSchemas;

impl Modify for ErrorSchemas {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let mut schemas = Schemas::new();
        add::<ErrorEnvelope>(&mut schemas);
        openapi
            .components
            .get_or_insert_with(Default::default)
            .schemas
            .extend(schemas);
    }
}

/// `?PageNumber=&PageSize=` of every paged list.
#[derive(IntoParams)]
#[into_params(parameter_in = Query, rename_all = "PascalCase")]
pub struct Paging {
    /// 1 and up; default 1.
    #[param(minimum = 1)]
    pub page_number: Option<u32>,
    /// 1 up to the configured maximum (`pagination.max_page_size`, 200 by default); a larger
    /// size is 400 `error.platform.validation.pagination.invalidPageSize`.
    #[param(minimum = 1)]
    pub page_size: Option<u32>,
}

fn error(status: &str, description: &str) -> BTreeMap<String, RefOr<Response>> {
    let content = ContentBuilder::new()
        .schema(Some(Ref::from_schema_name(ErrorEnvelope::name())))
        .build();
    let response = ResponseBuilder::new()
        .description(description)
        .content("application/json", content);
    BTreeMap::from([(status.to_owned(), response.build().into())])
}

/// 400 with the error envelope: a broken rule, or input that cannot be parsed.
pub struct BadRequest;

impl IntoResponses for BadRequest {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        error("400", "Invalid input or a broken rule")
    }
}

/// 401 without a body: a missing, invalid or expired bearer token.
pub struct Unauthorized;

impl IntoResponses for Unauthorized {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        let response = ResponseBuilder::new()
            .description("Missing, invalid or expired access token (no body)")
            .header("WWW-Authenticate", HeaderBuilder::new().build());
        BTreeMap::from([("401".to_owned(), response.build().into())])
    }
}

/// 403 `error.platform.forbidden`.
pub struct Forbidden;

impl IntoResponses for Forbidden {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        error("403", "The caller may not do this")
    }
}

/// 404 `error.platform.recordNotFound`.
pub struct NotFound;

impl IntoResponses for NotFound {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        error("404", "Not found")
    }
}

/// 429: `error.platform.tooManyRequests` from a rate limit (with `Retry-After`), or
/// `error.platform.quotaExhausted` with the exhausted metrics in `data`.
pub struct TooManyRequests;

impl IntoResponses for TooManyRequests {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        let mut responses = error("429", "A rate limit or a quota is exhausted");
        if let Some(RefOr::T(response)) = responses.get_mut("429") {
            let seconds = HeaderBuilder::new()
                .schema(<u64 as utoipa::PartialSchema>::schema())
                .description(Some("Seconds to wait (rate limits only)"))
                .build();
            response.headers.insert("Retry-After".into(), seconds);
        }
        responses
    }
}
