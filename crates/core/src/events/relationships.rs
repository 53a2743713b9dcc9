//! Events the Relationships module publishes.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::IntegrationEvent;
use crate::ids::{RelationshipId, RelationshipTemplateId};
use crate::status::RelationshipStatus;
use crate::IdentityAddress;

/// A relationship changed its status; the peer is told, and Messages decomposes on
/// `DeletionProposed` / `ReadyForDeletion`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RelationshipStatusChanged {
    pub relationship_id: RelationshipId,
    pub new_status: RelationshipStatus,
    pub initiator: IdentityAddress,
    pub peer: IdentityAddress,
    pub was_due_to_identity_deletion: bool,
}

impl IntegrationEvent for RelationshipStatusChanged {
    const EVENT_TYPE: &'static str = "RelationshipStatusChanged";
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RelationshipReactivationRequested {
    pub relationship_id: RelationshipId,
    pub requesting_identity: IdentityAddress,
    pub peer: IdentityAddress,
}

impl IntegrationEvent for RelationshipReactivationRequested {
    const EVENT_TYPE: &'static str = "RelationshipReactivationRequested";
}

/// The peer accepted, rejected or the requester revoked a reactivation request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RelationshipReactivationCompleted {
    pub relationship_id: RelationshipId,
    pub new_relationship_status: RelationshipStatus,
    pub peer: IdentityAddress,
}

impl IntegrationEvent for RelationshipReactivationCompleted {
    const EVENT_TYPE: &'static str = "RelationshipReactivationCompleted";
}

/// Lets the quota module recount the creator's templates.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RelationshipTemplateCreated {
    pub template_id: RelationshipTemplateId,
    pub created_by: IdentityAddress,
}

impl IntegrationEvent for RelationshipTemplateCreated {
    const EVENT_TYPE: &'static str = "RelationshipTemplateCreated";
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RelationshipTemplateAllocationsExhausted {
    pub relationship_template_id: RelationshipTemplateId,
    pub created_by: IdentityAddress,
}

impl IntegrationEvent for RelationshipTemplateAllocationsExhausted {
    const EVENT_TYPE: &'static str = "RelationshipTemplateAllocationsExhausted";
}

/// One per identity that knows the one whose feature flags changed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PeerFeatureFlagsChanged {
    pub peer_address: IdentityAddress,
    pub notified_identity_address: IdentityAddress,
}

impl IntegrationEvent for PeerFeatureFlagsChanged {
    const EVENT_TYPE: &'static str = "PeerFeatureFlagsChanged";
}

/// One per open relationship of an identity whose deletion process started.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PeerToBeDeleted {
    pub peer_of_identity_to_be_deleted: IdentityAddress,
    pub relationship_id: RelationshipId,
    pub identity_to_be_deleted: IdentityAddress,
    pub grace_period_ends_at: DateTime<Utc>,
}

impl IntegrationEvent for PeerToBeDeleted {
    const EVENT_TYPE: &'static str = "PeerToBeDeleted";
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PeerDeletionCancelled {
    pub peer_of_identity_with_deletion_cancelled: IdentityAddress,
    pub relationship_id: RelationshipId,
    pub identity_with_deletion_cancelled: IdentityAddress,
}

impl IntegrationEvent for PeerDeletionCancelled {
    const EVENT_TYPE: &'static str = "PeerDeletionCancelled";
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PeerDeleted {
    pub peer_of_deleted_identity: IdentityAddress,
    pub relationship_id: RelationshipId,
    pub deleted_identity: IdentityAddress,
}

impl IntegrationEvent for PeerDeleted {
    const EVENT_TYPE: &'static str = "PeerDeleted";
}
