//! What can go wrong in this module's use cases, with upstream's codes for the rules a client
//! can break; `http` maps it to the error envelope.

use backbone_core::error::ExhaustedMetric;
use backbone_core::ValidationError;
use backbone_db::sqlx;

#[derive(Debug, thiserror::Error)]
pub enum DevicesError {
    #[error("The given signature is not valid.")]
    InvalidSignature,
    #[error("The challenge has expired.")]
    ChallengeHasExpired,
    #[error("An identity with the given address already exists.")]
    AddressAlreadyExists,
    #[error("The client has reached the maximum number of identities it may create.")]
    ClientReachedIdentitiesLimit,
    #[error("{0}")]
    RegistrationFailed(String),
    #[error("{0}")]
    ChangePasswordFailed(String),
    #[error("Only one backup device can exist per identity.")]
    OnlyOneBackupDeviceCanExist,
    #[error("The device cannot be deleted because {0}.")]
    DeviceCannotBeDeleted(&'static str),
    #[error("The given communication language is not valid. Use an ISO 639-1 code.")]
    InvalidCommunicationLanguage,
    #[error("The client is unknown or the secret is wrong.")]
    InvalidClientCredentials,
    #[error("The maximum number of feature flags per identity ({0}) has been exceeded.")]
    MaxNumberOfFeatureFlagsExceeded(usize),
    #[error("Only one active deletion process is allowed.")]
    OnlyOneActiveDeletionProcessAllowed,
    #[error("The deletion process is not in the required status 'Active'.")]
    DeletionProcessIsNotInRequiredStatus,
    #[error("The grace period of the deletion process has already expired.")]
    GracePeriodHasAlreadyExpired,
    #[error("A client with this id already exists.")]
    ClientAlreadyExists,
    #[error("The tier '{0}' does not exist or cannot be used as the default tier of a client.")]
    UnknownDefaultTier(String),
    #[error("A tier with this name already exists.")]
    TierAlreadyExists,
    #[error("{0}")]
    InvalidTierName(&'static str),
    #[error("{0}")]
    UsedTierCannotBeDeleted(String),
    #[error("The 'Basic' Tier cannot be deleted.")]
    BasicTierCannotBeDeleted,
    #[error("The 'Queued for Deletion' Tier cannot be deleted.")]
    QueuedForDeletionTierCannotBeDeleted,
    #[error("The Identity's Tier cannot be be changed from or to the 'Queued for Deletion' Tier.")]
    QueuedForDeletionTierCannotBeManuallyAssignedOrUnassigned,
    #[error("The new TierId and the old TierId cannot be the same.")]
    NewAndOldTierMatch,
    #[error("The ID is not a valid tier ID.")]
    InvalidTierId,
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

impl DevicesError {
    /// The code of a broken rule of this module; `None` for the other failures.
    pub fn code(&self) -> Option<&'static str> {
        Some(match self {
            Self::InvalidSignature => "error.platform.validation.device.invalidSignature",
            Self::ChallengeHasExpired => "error.platform.validation.device.challengeHasExpired",
            Self::AddressAlreadyExists => "error.platform.validation.device.addressAlreadyExists",
            Self::ClientReachedIdentitiesLimit => {
                "error.platform.validation.device.clientReachedIdentitiesLimit"
            }
            Self::RegistrationFailed(_) => "error.platform.validation.device.registrationFailed",
            Self::ChangePasswordFailed(_) => "error.platform.validation.device.changePasswordFailed",
            Self::OnlyOneBackupDeviceCanExist => {
                "error.platform.validation.device.onlyOneBackupDeviceCanExist"
            }
            Self::DeviceCannotBeDeleted(_) => "error.platform.validation.device.deviceCannotBeDeleted",
            Self::InvalidCommunicationLanguage => {
                "error.platform.validation.invalidDeviceCommunicationLanguage"
            }
            // The client maps exactly this code (with status 400) to "platform client invalid".
            Self::InvalidClientCredentials => "error.platform.unauthorized",
            Self::MaxNumberOfFeatureFlagsExceeded(_) => {
                "error.platform.validation.featureFlag.maxNumberOfFeatureFlagsExceeded"
            }
            Self::OnlyOneActiveDeletionProcessAllowed => {
                "error.platform.validation.device.onlyOneActiveDeletionProcessAllowed"
            }
            Self::DeletionProcessIsNotInRequiredStatus => {
                "error.platform.validation.device.deletionProcessIsNotInRequiredStatus"
            }
            Self::GracePeriodHasAlreadyExpired => {
                "error.platform.validation.device.gracePeriodHasAlreadyExpired"
            }
            Self::ClientAlreadyExists => "error.platform.validation.client.clientIdAlreadyExists",
            Self::UnknownDefaultTier(_) => "error.platform.validation.client.tierDoesNotExist",
            Self::TierAlreadyExists => "error.platform.validation.tier.tierNameAlreadyExists",
            Self::InvalidTierName(_) => "error.platform.validation.tier.invalidTierName",
            Self::UsedTierCannotBeDeleted(_) => "error.platform.validation.device.usedTierCannotBeDeleted",
            Self::BasicTierCannotBeDeleted => "error.platform.validation.device.basicTierCannotBeDeleted",
            Self::QueuedForDeletionTierCannotBeDeleted => {
                "error.platform.validation.device.queuedForDeletionTierCannotBeDeleted"
            }
            Self::QueuedForDeletionTierCannotBeManuallyAssignedOrUnassigned => {
                "error.platform.validation.device.queuedForDeletionTierCannotBeManuallyAssignedOrUnassigned"
            }
            Self::NewAndOldTierMatch => "error.platform.validation.newAndOldMatch",
            Self::InvalidTierId => "error.platform.validation.invalidId",
            _ => return None,
        })
    }
}
