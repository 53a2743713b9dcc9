//! Failures of this module that a client can cause, with their upstream codes (all 400).

use backbone_core::ApiError;

#[derive(Debug, thiserror::Error)]
pub enum FilesError {
    #[error("You cannot claim the ownership of a file you already own.")]
    CannotClaimOwnershipOfOwnFile,
    /// The content is empty or above the size limit. Upstream checks this with a FluentValidation
    /// rule that has no explicit code, so the validator's default code leaks onto the wire.
    #[error("'Content Length' must be between 1 and {max}. You entered {entered}.")]
    ContentLength { max: u64, entered: u64 },
}

impl FilesError {
    pub fn code(&self) -> &'static str {
        match self {
            Self::CannotClaimOwnershipOfOwnFile => {
                "error.platform.validation.file.cannotClaimOwnershipOfOwnFile"
            }
            Self::ContentLength { .. } => "InclusiveBetweenValidator",
        }
    }
}

impl From<FilesError> for ApiError {
    fn from(error: FilesError) -> Self {
        ApiError::validation(error.code(), error.to_string())
    }
}
