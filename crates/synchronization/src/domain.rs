//! Entities and rules of the Synchronization module.

use backbone_core::ids::{DatawalletModificationId, DeviceId, ExternalEventId, SyncRunId};
use backbone_core::{IdentityAddress, ValidationError};
use chrono::{DateTime, Duration, Utc};

/// An event is not handed out again after this many failed attempts.
pub const MAX_SYNC_ERRORS: i64 = 3;
/// Default lifetime of a new run and the fixed extension of a refresh.
pub const DEFAULT_RUN_DURATION: Duration = Duration::seconds(10);

pub const ERROR_NOT_PROCESSED: &str = "notProcessed";
pub const ERROR_SYNC_RUN_CANCELED: &str = "syncRunCanceled";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncRunType {
    ExternalEventSync,
    DatawalletVersionUpgrade,
}

impl SyncRunType {
    pub const ALL: [Self; 2] = [Self::ExternalEventSync, Self::DatawalletVersionUpgrade];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::ExternalEventSync => "ExternalEventSync",
            Self::DatawalletVersionUpgrade => "DatawalletVersionUpgrade",
        }
    }

    /// By name (any case) or by upstream's enum number.
    pub fn parse(value: &str) -> Option<Self> {
        match value.to_ascii_lowercase().as_str() {
            "externaleventsync" | "0" => Some(Self::ExternalEventSync),
            "datawalletversionupgrade" | "1" => Some(Self::DatawalletVersionUpgrade),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct SyncRun {
    pub id: SyncRunId,
    pub owner: IdentityAddress,
    pub index: i64,
    pub run_type: SyncRunType,
    pub created_at: DateTime<Utc>,
    pub created_by_device: DeviceId,
    pub expires_at: DateTime<Utc>,
    pub finalized_at: Option<DateTime<Utc>>,
    pub event_count: i64,
}

impl SyncRun {
    pub fn is_finalized(&self) -> bool {
        self.finalized_at.is_some()
    }

    pub fn is_expired_at(&self, now: DateTime<Utc>) -> bool {
        self.expires_at < now
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct ExternalEvent {
    pub id: ExternalEventId,
    pub owner: IdentityAddress,
    pub index: i64,
    pub event_type: String,
    pub payload: serde_json::Value,
    pub created_at: DateTime<Utc>,
    pub sync_error_count: i64,
}

/// One change a device pushes to the datawallet (spec §10.5).
#[derive(Debug, Clone, PartialEq)]
pub struct NewModification {
    pub modification_type: ModificationType,
    pub object_identifier: String,
    pub collection: String,
    pub payload_category: Option<String>,
    pub encrypted_payload: Option<Vec<u8>>,
    pub datawallet_version: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModificationType {
    Create,
    Update,
    Delete,
    CacheChanged,
}

impl ModificationType {
    pub const ALL: [Self; 4] = [Self::Create, Self::Update, Self::Delete, Self::CacheChanged];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Create => "Create",
            Self::Update => "Update",
            Self::Delete => "Delete",
            Self::CacheChanged => "CacheChanged",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        match value.to_ascii_lowercase().as_str() {
            "create" | "0" => Some(Self::Create),
            "update" | "1" => Some(Self::Update),
            "delete" | "2" => Some(Self::Delete),
            "cachechanged" | "3" => Some(Self::CacheChanged),
            _ => None,
        }
    }
}

impl NewModification {
    /// The per-item rules of spec §10.5 (the version check needs the datawallet).
    pub fn validate(&self) -> Result<(), ValidationError> {
        let check = |ok: bool, message: &str| {
            if ok {
                Ok(())
            } else {
                Err(ValidationError::invalid_property_value(message))
            }
        };
        check(
            !self.object_identifier.is_empty(),
            "'objectIdentifier' must not be empty.",
        )?;
        check(
            self.object_identifier.chars().count() <= 100,
            "'objectIdentifier' must be 100 characters or fewer.",
        )?;
        check(!self.collection.is_empty(), "'collection' must not be empty.")?;
        check(
            self.collection.chars().count() <= 50,
            "'collection' must be 50 characters or fewer.",
        )?;
        check(
            self.payload_category
                .as_ref()
                .is_none_or(|c| c.chars().count() <= 50),
            "'payloadCategory' must be 50 characters or fewer.",
        )?;
        check(
            (0..=i64::from(u16::MAX)).contains(&self.datawallet_version),
            "'datawalletVersion' is not a valid version.",
        )
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Modification {
    pub id: DatawalletModificationId,
    pub index: i64,
    pub datawallet_version: i64,
    pub object_identifier: String,
    pub payload_category: Option<String>,
    pub collection: String,
    pub modification_type: String,
    pub encrypted_payload: Option<Vec<u8>>,
    pub created_at: DateTime<Utc>,
    pub created_by_device: DeviceId,
}

/// What a device reports for one event of its run.
#[derive(Debug, Clone, PartialEq)]
pub struct EventResult {
    pub external_event_id: ExternalEventId,
    pub error_code: Option<String>,
}
