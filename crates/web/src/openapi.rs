//! What each module contributes to the Admin API's `OpenAPI` document: the schemas of its
//! request and response bodies (derived with `utoipa::ToSchema`), collected by name.

use utoipa::openapi::schema::Schema;
use utoipa::openapi::RefOr;

/// Named schemas; the document's `components.schemas`.
pub type Schemas = Vec<(String, RefOr<Schema>)>;

/// Adds `T` and every schema it refers to.
pub fn add<T: utoipa::ToSchema>(schemas: &mut Schemas) {
    schemas.push((T::name().into_owned(), T::schema()));
    T::schemas(schemas);
}
