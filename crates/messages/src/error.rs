//! Failures of this module that a client can cause, with their upstream codes (all 400).

use backbone_core::ApiError;

#[derive(Debug, thiserror::Error)]
pub enum MessagesError {
    #[error("You cannot send a message to '{0}' because there is no relationship to it.")]
    NoRelationshipToRecipientExists(String),
    #[error("You cannot send a message to '{0}' because the relationship to it is not active.")]
    RelationshipToRecipientNotActive(String),
    #[error("The recipient '{0}' already has {1} messages from you that it has not received yet.")]
    MaxNumberOfUnreceivedMessagesReached(String, i64),
}

impl MessagesError {
    pub fn code(&self) -> &'static str {
        match self {
            Self::NoRelationshipToRecipientExists(_) => {
                "error.platform.validation.message.noRelationshipToRecipientExists"
            }
            Self::RelationshipToRecipientNotActive(_) => {
                "error.platform.validation.message.relationshipToRecipientNotActive"
            }
            Self::MaxNumberOfUnreceivedMessagesReached(..) => {
                "error.platform.validation.message.maxNumberOfUnreceivedMessagesReached"
            }
        }
    }
}

impl From<MessagesError> for ApiError {
    fn from(error: MessagesError) -> Self {
        ApiError::validation(error.code(), error.to_string())
    }
}
