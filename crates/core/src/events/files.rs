//! Events the Files module publishes.

use serde::{Deserialize, Serialize};

use super::IntegrationEvent;
use crate::ids::FileId;
use crate::IdentityAddress;

/// Lets the quota module recount the owner's files and storage.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct FileUploaded {
    pub file_id: FileId,
    pub owner: IdentityAddress,
}

impl IntegrationEvent for FileUploaded {
    const EVENT_TYPE: &'static str = "FileUploaded";
}

/// A wrong ownership token locked the file: its owner gets an external event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct FileOwnershipLocked {
    pub file_id: FileId,
    pub owner_address: IdentityAddress,
}

impl IntegrationEvent for FileOwnershipLocked {
    const EVENT_TYPE: &'static str = "FileOwnershipLocked";
}

/// Someone claimed the file: the previous owner gets an external event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct FileOwnershipClaimed {
    pub file_id: FileId,
    pub old_owner_address: IdentityAddress,
    pub new_owner_address: IdentityAddress,
}

impl IntegrationEvent for FileOwnershipClaimed {
    const EVENT_TYPE: &'static str = "FileOwnershipClaimed";
}
