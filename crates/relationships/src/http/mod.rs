//! Consumer API handlers of the Relationships module.

mod dto;
mod relationships;
mod templates;

use std::collections::BTreeMap;
use std::sync::Arc;

use backbone_web::Routes;
use serde::{Deserialize, Serialize};

use crate::RelationshipsService;

/// A template reference an operator publishes for a platform client (spec exchange §3).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
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

pub fn routes(state: RelationshipsState) -> Routes {
    templates::routes()
        .merge(relationships::routes())
        .with_state(state)
}
