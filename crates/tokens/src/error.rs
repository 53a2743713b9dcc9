//! What can go wrong in this module's use cases, with upstream's codes for the rules a client
//! can break; `http` maps it to the error envelope.

use backbone_core::error::ExhaustedMetric;
use backbone_core::ValidationError;
use backbone_db::sqlx;

#[derive(Debug, thiserror::Error)]
pub enum TokensError {
    #[error("Too many wrong password attempts, the token is locked.")]
    TooManyFailedPasswordAttempts,
    #[error(
        "The token already has content. You can only update the content of a token if it has no content yet."
    )]
    ContentUpdateNotPossibleBecauseContentAlreadyExists,
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
    Database(#[from] sqlx::Error),
}

impl TokensError {
    /// The code of a broken rule of this module; `None` for the other failures.
    pub fn code(&self) -> Option<&'static str> {
        Some(match self {
            Self::TooManyFailedPasswordAttempts => "error.platform.token.tooManyFailedPasswordAttempts",
            Self::ContentUpdateNotPossibleBecauseContentAlreadyExists => {
                "error.platform.token.contentUpdateNotPossibleBecauseContentAlreadyExists"
            }
            _ => return None,
        })
    }
}
