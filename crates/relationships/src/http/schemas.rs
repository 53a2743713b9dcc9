//! Schemas of the string enums the DTOs carry as `&'static str`, built from the domain's own
//! lists of variants so that the document names exactly the values the server sends.

use serde_json::Value;
use utoipa::openapi::schema::{Object, ObjectBuilder, SchemaType, Type};

use crate::domain::{AuditReason, RelationshipStatus};

fn string_enum(values: impl IntoIterator<Item = &'static str>, nullable: bool) -> Object {
    let mut values: Vec<Value> = values.into_iter().map(Value::from).collect();
    let schema_type = if nullable {
        values.push(Value::Null);
        SchemaType::from_iter([Type::String, Type::Null])
    } else {
        SchemaType::Type(Type::String)
    };
    ObjectBuilder::new()
        .schema_type(schema_type)
        .enum_values(Some(values))
        .build()
}

fn statuses() -> impl Iterator<Item = &'static str> {
    RelationshipStatus::ALL.iter().map(|s| s.as_str())
}

pub(super) fn relationship_status() -> Object {
    string_enum(statuses(), false)
}

pub(super) fn optional_relationship_status() -> Object {
    string_enum(statuses(), true)
}

pub(super) fn audit_reason() -> Object {
    string_enum(AuditReason::ALL.iter().map(|r| r.as_str()), false)
}
