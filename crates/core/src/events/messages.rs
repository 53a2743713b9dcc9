//! Events the Messages module publishes.

use serde::{Deserialize, Serialize};

use super::IntegrationEvent;
use crate::ids::{MessageId, RelationshipId};
use crate::IdentityAddress;

/// A message was sent; Synchronization gives each recipient a `MessageReceived` external event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct MessageCreated {
    pub id: MessageId,
    pub recipients: Vec<MessageRecipient>,
    pub created_by: IdentityAddress,
}

impl IntegrationEvent for MessageCreated {
    const EVENT_TYPE: &'static str = "MessageCreated";
}

/// Beside upstream's fields, each recipient carries whether its delivery waits for the
/// relationship to become active, as decided at send time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct MessageRecipient {
    pub address: IdentityAddress,
    pub relationship_id: RelationshipId,
    /// Missing in upstream's payload, which never blocks.
    #[serde(default)]
    pub is_delivery_blocked: bool,
}
