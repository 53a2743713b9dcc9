//! Consumer API handlers of the Relationships module.

mod dto;
mod relationships;
mod schemas;
mod templates;

use std::collections::BTreeMap;
use std::sync::Arc;

use backbone_web::error::INVALID_PROPERTY_VALUE;
use backbone_web::{ApiError, Routes};
use serde::{Deserialize, Serialize};

use crate::{RelationshipsError, RelationshipsService};

/// A template reference an operator publishes for a platform client (spec exchange §3).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PublicTemplateReference {
    pub title: String,
    pub description: String,
    #[serde(rename = "truncatedReference", alias = "truncated_reference")]
    pub truncated_reference: String,
}

#[derive(Clone)]
pub struct RelationshipsState {
    pub service: RelationshipsService,
    /// OAuth client ID → the references its users see.
    pub public_references: Arc<BTreeMap<String, Vec<PublicTemplateReference>>>,
}

impl From<RelationshipsError> for ApiError {
    fn from(error: RelationshipsError) -> Self {
        match error {
            RelationshipsError::Invalid(error) => error.into(),
            RelationshipsError::NotFound(entity) => Self::not_found(entity),
            RelationshipsError::Forbidden => Self::Forbidden,
            RelationshipsError::QuotaExhausted(metrics) => Self::QuotaExhausted(metrics),
            RelationshipsError::Unexpected(error) => Self::Internal(error),
            RelationshipsError::Database(error) => Self::internal(error),
            rule => Self::validation(rule.code().unwrap_or(INVALID_PROPERTY_VALUE), rule.to_string()),
        }
    }
}

pub fn routes(state: RelationshipsState) -> Routes {
    templates::routes()
        .merge(relationships::routes())
        .with_state(state)
}
