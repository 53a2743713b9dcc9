//! What can go wrong in this module's use cases, with upstream's codes for the rules a client
//! can break; `http` maps it to the error envelope.

use backbone_core::error::ExhaustedMetric;
use backbone_core::ValidationError;
use backbone_db::sqlx;

#[derive(Debug, thiserror::Error)]
pub enum MessagesError {
    #[error("You cannot send a message to '{0}' because there is no relationship to it.")]
    NoRelationshipToRecipientExists(String),
    #[error("You cannot send a message to '{0}' because the relationship to it is not active.")]
    RelationshipToRecipientNotActive(String),
    #[error("The recipient '{0}' already has {1} messages from you that it has not received yet.")]
    MaxNumberOfUnreceivedMessagesReached(String, i64),
    /// A rule about the input failed (400 with the rule's code).
    #[error(transparent)]
    Invalid(#[from] ValidationError),
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("quota exhausted")]
    QuotaExhausted(Vec<ExhaustedMetric>),
    /// Another module could not answer (a port failed).
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

impl MessagesError {
    /// The code of a broken messaging rule; `None` for the other failures.
    pub fn code(&self) -> Option<&'static str> {
        Some(match self {
            Self::NoRelationshipToRecipientExists(_) => {
                "error.platform.validation.message.noRelationshipToRecipientExists"
            }
            Self::RelationshipToRecipientNotActive(_) => {
                "error.platform.validation.message.relationshipToRecipientNotActive"
            }
            Self::MaxNumberOfUnreceivedMessagesReached(..) => {
                "error.platform.validation.message.maxNumberOfUnreceivedMessagesReached"
            }
            _ => return None,
        })
    }
}
