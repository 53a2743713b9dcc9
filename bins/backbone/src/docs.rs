//! `/docs/v2/openapi.json` and a browsable `/docs/index.html` (Swagger UI, assets inside the
//! binary). The document is built from the Consumer API's routes: each module documents its
//! operations where it routes them (`#[utoipa::path]`, see `backbone_web::openapi`), so route
//! and documentation cannot drift; `tests/api/docs.rs` checks that the served routes and the
//! documented operations are the same.

use axum::Router;
use backbone_web::openapi::{BearerSecurity, ErrorSchemas};
use backbone_web::Routes;
use utoipa::openapi::{InfoBuilder, OpenApi, OpenApiBuilder};
use utoipa::Modify;
use utoipa_swagger_ui::SwaggerUi;

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
    document.merge(operations);
    BearerSecurity.modify(&mut document);
    ErrorSchemas.modify(&mut document);
    document
}

/// The Swagger UI and the document; these routes are not themselves part of it.
pub fn routes(document: OpenApi) -> Routes {
    let router: Router = SwaggerUi::new("/docs")
        .url("/docs/v2/openapi.json", document)
        .into();
    Routes::new().map_router(|r| r.merge(router))
}
