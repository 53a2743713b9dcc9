//! Events the Announcements module publishes.

use serde::{Deserialize, Serialize};

use super::IntegrationEvent;
use crate::ids::AnnouncementId;
use crate::IdentityAddress;

/// A title and body in one language.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AnnouncementTextPayload {
    pub language: String,
    pub title: String,
    pub body: String,
}

/// An operator created an announcement: unless it is silent, the Push module notifies its
/// recipients (everybody when `recipients` is empty) with the announcement's own texts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AnnouncementCreated {
    pub id: AnnouncementId,
    pub is_silent: bool,
    pub texts: Vec<AnnouncementTextPayload>,
    /// Empty: every identity.
    pub recipients: Vec<IdentityAddress>,
}

impl IntegrationEvent for AnnouncementCreated {
    const EVENT_TYPE: &'static str = "AnnouncementCreated";
}
