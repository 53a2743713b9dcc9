//! What can go wrong in this module's use cases, with upstream's codes for the rules a client
//! can break; `http` maps it to the error envelope.

use backbone_core::error::ExhaustedMetric;
use backbone_core::ValidationError;
use backbone_db::sqlx;

#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error("A sync run cannot be started while the identity is to be deleted.")]
    IdentityIsToBeDeleted,
    #[error("There is already an active sync run ({0}). Finalize it or let it expire first.")]
    AnotherSyncRunIsRunning(String),
    #[error("The datawallet has version {0}, which is higher than the version your client supports.")]
    InsufficientSupportedDatawalletVersion(i64),
    #[error("The sync run has an unexpected type for this operation.")]
    UnexpectedSyncRunType,
    #[error("The sync run was started by another device.")]
    StartedByAnotherDevice(&'static str),
    #[error("The sync run is already finalized.")]
    AlreadyFinalized,
    #[error("The datawallet cannot be downgraded from version {0}.")]
    CannotDowngrade(i64),
    #[error("Datawallet modifications cannot be pushed while a sync run is active.")]
    CannotPushDuringActiveSyncRun,
    #[error("The datawallet is not up to date: your local index is {given}, the newest index is {newest}.")]
    DatawalletNotUpToDate { given: i64, newest: String },
    #[error("The datawallet version of a modification ({0}) is higher than the datawallet's version.")]
    ModificationVersionTooHigh(i64),
    /// A rule about the input failed (400 with the rule's code).
    #[error(transparent)]
    Invalid(#[from] ValidationError),
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("quota exhausted")]
    QuotaExhausted(Vec<ExhaustedMetric>),
    /// Another module could not answer (a port failed), or another unexpected failure.
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

impl SyncError {
    /// The code of a broken rule of this module; `None` for the other failures.
    pub fn code(&self) -> Option<&'static str> {
        Some(match self {
            Self::IdentityIsToBeDeleted => {
                "error.platform.validation.syncRun.cannotStartSyncRunWhileIdentityIsToBeDeleted"
            }
            Self::AnotherSyncRunIsRunning(_) => {
                "error.platform.validation.syncRun.cannotStartSyncRunWhenAnotherSyncRunIsRunning"
            }
            Self::InsufficientSupportedDatawalletVersion(_) => {
                "error.platform.validation.datawallet.insufficientSupportedDatawalletVersion"
            }
            Self::UnexpectedSyncRunType => "error.platform.validation.syncRun.unexpectedSyncRunType",
            Self::StartedByAnotherDevice(code) => *code,
            Self::AlreadyFinalized => "error.platform.validation.syncRun.syncRunAlreadyFinalized",
            Self::CannotDowngrade(_) => "error.platform.datawallet.cannotDowngrade",
            Self::CannotPushDuringActiveSyncRun => {
                "error.platform.validation.datawallet.cannotPushDatawalletModificationsDuringActiveSyncRun"
            }
            Self::DatawalletNotUpToDate { .. } => {
                "error.platform.validation.datawallet.datawalletNotUpToDate"
            }
            Self::ModificationVersionTooHigh(_) => {
                "error.platform.datawallet.datawalletVersionOfModificationTooHigh"
            }
            _ => return None,
        })
    }
}

pub const CANNOT_READ_EVENTS_OF_OTHER_DEVICE: &str =
    "error.platform.validation.syncRun.cannotReadExternalEventsOfASyncRunStartedByAnotherDevice";
pub const CANNOT_REFRESH_OTHER_DEVICE: &str =
    "error.platform.validation.syncRun.cannotRefreshExpirationTimeOfSyncRunStartedByAnotherDevice";
pub const CANNOT_FINALIZE_OTHER_DEVICE: &str =
    "error.platform.validation.syncRun.cannotFinalizeSyncRunStartedByAnotherDevice";
