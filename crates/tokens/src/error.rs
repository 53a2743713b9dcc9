//! Failures of this module that a client can cause, with their upstream codes (all 400).

use backbone_core::ApiError;

#[derive(Debug, thiserror::Error)]
pub enum TokensError {
    #[error("Too many wrong password attempts, the token is locked.")]
    TooManyFailedPasswordAttempts,
    #[error(
        "The token already has content. You can only update the content of a token if it has no content yet."
    )]
    ContentUpdateNotPossibleBecauseContentAlreadyExists,
}

impl TokensError {
    pub fn code(&self) -> &'static str {
        match self {
            Self::TooManyFailedPasswordAttempts => "error.platform.token.tooManyFailedPasswordAttempts",
            Self::ContentUpdateNotPossibleBecauseContentAlreadyExists => {
                "error.platform.token.contentUpdateNotPossibleBecauseContentAlreadyExists"
            }
        }
    }
}

impl From<TokensError> for ApiError {
    fn from(error: TokensError) -> Self {
        ApiError::validation(error.code(), error.to_string())
    }
}
