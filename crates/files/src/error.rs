//! What can go wrong in this module's use cases, with upstream's codes for the rules a client
//! can break; `http` maps it to the error envelope.

use backbone_blob::BlobError;
use backbone_core::error::ExhaustedMetric;
use backbone_core::ValidationError;
use backbone_db::sqlx;

#[derive(Debug, thiserror::Error)]
pub enum FilesError {
    #[error("You cannot claim the ownership of a file you already own.")]
    CannotClaimOwnershipOfOwnFile,
    /// The content is empty or above the size limit. Upstream checks this with a FluentValidation
    /// rule that has no explicit code, so the validator's default code leaks onto the wire.
    #[error("'Content Length' must be between 1 and {max}. You entered {entered}.")]
    ContentLength { max: u64, entered: u64 },
    /// A rule about the input failed (400 with the rule's code).
    #[error(transparent)]
    Invalid(#[from] ValidationError),
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("forbidden")]
    Forbidden,
    #[error("quota exhausted")]
    QuotaExhausted(Vec<ExhaustedMetric>),
    /// Another module could not answer (a port failed), or another unexpected failure.
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
    #[error(transparent)]
    Blob(#[from] BlobError),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

impl FilesError {
    /// The code of a broken rule of this module; `None` for the other failures.
    pub fn code(&self) -> Option<&'static str> {
        Some(match self {
            Self::CannotClaimOwnershipOfOwnFile => {
                "error.platform.validation.file.cannotClaimOwnershipOfOwnFile"
            }
            Self::ContentLength { .. } => "InclusiveBetweenValidator",
            _ => return None,
        })
    }
}
