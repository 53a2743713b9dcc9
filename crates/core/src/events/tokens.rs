//! Events the Tokens module publishes.

use serde::{Deserialize, Serialize};

use super::IntegrationEvent;
use crate::ids::TokenId;
use crate::IdentityAddress;

/// Lets the quota module recount the creator's tokens (skipped when `created_by` is null).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TokenCreated {
    pub token_id: TokenId,
    /// `null` for anonymously created tokens.
    pub created_by: Option<IdentityAddress>,
}

impl IntegrationEvent for TokenCreated {
    const EVENT_TYPE: &'static str = "TokenCreated";
}

/// The token reached the failed-attempt limit: its creator gets an external event and a push.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TokenLocked {
    pub token_id: TokenId,
    /// `null` for anonymously created tokens, whose lock nobody is told about.
    pub created_by: Option<IdentityAddress>,
}

impl IntegrationEvent for TokenLocked {
    const EVENT_TYPE: &'static str = "TokenLocked";
}
