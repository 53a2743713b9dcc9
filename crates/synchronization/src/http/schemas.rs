//! Schemas of the string enums the DTOs carry as text, built from the domain's own lists of
//! variants so that the document names exactly the values the server sends and accepts.

use serde_json::Value;
use utoipa::openapi::schema::{Object, ObjectBuilder, SchemaType, Type};

use crate::domain::{ModificationType, SyncRunType};

fn names<T: Copy>(all: &[T], name: fn(T) -> &'static str) -> Vec<Value> {
    all.iter().map(|t| Value::from(name(*t))).collect()
}

/// What the server sends: one of the names.
fn sent(values: Vec<Value>) -> Object {
    ObjectBuilder::new()
        .schema_type(SchemaType::Type(Type::String))
        .enum_values(Some(values))
        .build()
}

/// What the server accepts: a name or the variant's number (`parse` reads both).
fn accepted(mut values: Vec<Value>, nullable: bool) -> Object {
    let numbers = (0..values.len()).map(Value::from).collect::<Vec<_>>();
    values.extend(numbers);
    let mut types = vec![Type::String, Type::Integer];
    if nullable {
        values.push(Value::Null);
        types.push(Type::Null);
    }
    ObjectBuilder::new()
        .schema_type(SchemaType::from_iter(types))
        .enum_values(Some(values))
        .build()
}

pub(super) fn sync_run_type() -> Object {
    sent(names(&SyncRunType::ALL, SyncRunType::as_str))
}

pub(super) fn sync_run_type_input() -> Object {
    accepted(names(&SyncRunType::ALL, SyncRunType::as_str), true)
}

pub(super) fn modification_type() -> Object {
    sent(names(&ModificationType::ALL, ModificationType::as_str))
}

pub(super) fn modification_type_input() -> Object {
    accepted(names(&ModificationType::ALL, ModificationType::as_str), false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_documented_input_value_parses() {
        for (number, run_type) in SyncRunType::ALL.iter().enumerate() {
            assert_eq!(SyncRunType::parse(run_type.as_str()), Some(*run_type));
            assert_eq!(SyncRunType::parse(&number.to_string()), Some(*run_type));
        }
        for (number, modification) in ModificationType::ALL.iter().enumerate() {
            assert_eq!(
                ModificationType::parse(modification.as_str()),
                Some(*modification)
            );
            assert_eq!(ModificationType::parse(&number.to_string()), Some(*modification));
        }
    }
}
