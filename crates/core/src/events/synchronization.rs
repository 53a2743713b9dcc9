//! Events the Synchronization module publishes.

use serde::{Deserialize, Serialize};

use super::IntegrationEvent;
use crate::ids::{DeviceId, ExternalEventId};
use crate::IdentityAddress;

/// An external event was stored for `owner`; Push wakes the owner's devices unless its
/// delivery waits for a relationship.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ExternalEventCreated {
    pub event_id: ExternalEventId,
    pub owner: IdentityAddress,
    #[serde(default)]
    pub is_delivery_blocked: bool,
}

impl IntegrationEvent for ExternalEventCreated {
    const EVENT_TYPE: &'static str = "ExternalEventCreated";
}

/// A device added datawallet modifications; the identity's other devices are pushed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DatawalletModified {
    pub identity: IdentityAddress,
    pub modified_by_device: DeviceId,
}

impl IntegrationEvent for DatawalletModified {
    const EVENT_TYPE: &'static str = "DatawalletModified";
}
