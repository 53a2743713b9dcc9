//! The `[relationships]` section of the configuration, and the HTTP state built from it.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::{PublicTemplateReference, RelationshipsService, RelationshipsState};

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RelationshipsConfig {
    /// OAuth client ID → template references shown to its users
    /// (`/api/poc/PublicRelationshipTemplateReferences`).
    pub public_template_references: BTreeMap<String, Vec<PublicTemplateReference>>,
}

impl RelationshipsState {
    pub fn new(service: RelationshipsService, config: &RelationshipsConfig) -> Self {
        Self {
            service,
            public_references: Arc::new(config.public_template_references.clone()),
        }
    }
}
