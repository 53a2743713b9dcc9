//! Events the Devices module publishes: identities, tiers and the identity deletion process.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::IntegrationEvent;
use crate::ids::{IdentityDeletionProcessId, TierId};
use crate::IdentityAddress;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct IdentityCreated {
    pub address: IdentityAddress,
    pub tier: TierId,
}

impl IntegrationEvent for IdentityCreated {
    const EVENT_TYPE: &'static str = "IdentityCreated";
}

/// The identity's backup device logged in for the first time: its other devices are told.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct BackupDeviceUsed {
    pub identity_address: IdentityAddress,
}

impl IntegrationEvent for BackupDeviceUsed {
    const EVENT_TYPE: &'static str = "BackupDeviceUsed";
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct FeatureFlagsOfIdentityChanged {
    pub identity_address: IdentityAddress,
}

impl IntegrationEvent for FeatureFlagsOfIdentityChanged {
    const EVENT_TYPE: &'static str = "FeatureFlagsOfIdentityChanged";
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TierCreated {
    pub id: TierId,
    pub name: String,
}

impl IntegrationEvent for TierCreated {
    const EVENT_TYPE: &'static str = "TierCreated";
}

/// An operator deleted a tier (only unused ones can be).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TierDeleted {
    pub id: TierId,
}

impl IntegrationEvent for TierDeleted {
    const EVENT_TYPE: &'static str = "TierDeleted";
}

/// An identity moved to another tier (into and out of "Queued for Deletion").
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TierOfIdentityChanged {
    pub old_tier_id: TierId,
    pub new_tier_id: TierId,
    pub identity_address: IdentityAddress,
}

impl IntegrationEvent for TierOfIdentityChanged {
    const EVENT_TYPE: &'static str = "TierOfIdentityChanged";
}

/// The deletion process started: the grace period runs until `grace_period_ends_at`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct IdentityToBeDeleted {
    pub identity_address: IdentityAddress,
    pub grace_period_ends_at: DateTime<Utc>,
}

impl IntegrationEvent for IdentityToBeDeleted {
    const EVENT_TYPE: &'static str = "IdentityToBeDeleted";
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct IdentityDeletionCancelled {
    pub identity_address: IdentityAddress,
}

impl IntegrationEvent for IdentityDeletionCancelled {
    const EVENT_TYPE: &'static str = "IdentityDeletionCancelled";
}

/// The grace period is over and the identity's data is being deleted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct IdentityDeleted {
    pub identity_address: IdentityAddress,
}

impl IntegrationEvent for IdentityDeleted {
    const EVENT_TYPE: &'static str = "IdentityDeleted";
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct IdentityDeletionProcessStatusChanged {
    pub deletion_process_owner: IdentityAddress,
    pub deletion_process_id: IdentityDeletionProcessId,
    pub initiator: IdentityAddress,
}

impl IntegrationEvent for IdentityDeletionProcessStatusChanged {
    const EVENT_TYPE: &'static str = "IdentityDeletionProcessStatusChanged";
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeletionProcessGracePeriodReminder {
    pub identity_address: IdentityAddress,
    pub days_until_deletion: i64,
}

impl IntegrationEvent for DeletionProcessGracePeriodReminder {
    const EVENT_TYPE: &'static str = "DeletionProcessGracePeriodReminder";
}
