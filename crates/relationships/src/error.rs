//! What can go wrong in this module's use cases, with upstream's codes for the rules a client
//! can break; `http` maps it to the error envelope.

use backbone_core::error::ExhaustedMetric;
use backbone_core::ValidationError;
use backbone_db::sqlx;

#[derive(Debug, thiserror::Error)]
pub enum RelationshipsError {
    #[error("The peer of this relationship is to be deleted; no new relationship can be created with it.")]
    PeerIsToBeDeleted,
    #[error("The maximum number of allocations of this relationship template has been reached.")]
    MaxNumberOfAllocationsExhausted,
    #[error("You cannot create a relationship with yourself.")]
    CannotCreateRelationshipWithYourself,
    #[error("You cannot accept or reject a relationship that is not addressed to you.")]
    CannotAcceptOrRejectRelationshipAddressedToSomeoneElse,
    #[error("You can only revoke relationships you created yourself.")]
    CannotRevokeRelationshipNotCreatedByYourself,
    #[error("The relationship has to be in status {0} to perform this action.")]
    RelationshipIsNotInCorrectStatus(String),
    #[error(
        "A relationship to this identity already exists. Terminate and decompose it (both sides) first."
    )]
    RelationshipToTargetAlreadyExists,
    #[error("There is no reactivation request you could revoke.")]
    NoRevocableReactivationRequestExists,
    #[error("There is already an open reactivation request for this relationship.")]
    CannotRequestReactivationWhenThereIsAnOpenReactivationRequest,
    #[error("There is no reactivation request of your peer you could accept.")]
    NoAcceptableRelationshipReactivationRequestExists,
    #[error("There is no reactivation request of your peer you could reject.")]
    NoRejectableReactivationRequestExists,
    #[error("You have already decomposed this relationship.")]
    RelationshipAlreadyDecomposed,
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

impl RelationshipsError {
    /// The code of a broken rule of this module; `None` for the other failures.
    pub fn code(&self) -> Option<&'static str> {
        Some(match self {
            Self::PeerIsToBeDeleted => "error.platform.validation.relationship.peerIsToBeDeleted",
            Self::MaxNumberOfAllocationsExhausted => {
                "error.platform.validation.relationshipTemplate.maxNumberOfAllocationsExhausted"
            }
            Self::CannotCreateRelationshipWithYourself => {
                "error.platform.validation.relationship.cannotCreateRelationshipWithYourself"
            }
            Self::CannotAcceptOrRejectRelationshipAddressedToSomeoneElse => {
                "error.platform.validation.relationship.cannotAcceptOrRejectRelationshipAddressedToSomeoneElse"
            }
            Self::CannotRevokeRelationshipNotCreatedByYourself => {
                "error.platform.validation.relationship.cannotRevokeRelationshipNotCreatedByYourself"
            }
            Self::RelationshipIsNotInCorrectStatus(_) => {
                "error.platform.validation.relationship.relationshipIsNotInCorrectStatus"
            }
            Self::RelationshipToTargetAlreadyExists => {
                "error.platform.validation.relationship.relationshipToTargetAlreadyExists"
            }
            Self::NoRevocableReactivationRequestExists => {
                "error.platform.validation.relationship.noRevocableReactivationRequestExists"
            }
            Self::CannotRequestReactivationWhenThereIsAnOpenReactivationRequest => {
                "error.platform.validation.relationship.cannotRequestReactivationWhenThereIsAnOpenReactivationRequest"
            }
            Self::NoAcceptableRelationshipReactivationRequestExists => {
                "error.platform.validation.relationship.noAcceptableRelationshipReactivationRequestExists"
            }
            Self::NoRejectableReactivationRequestExists => {
                "error.platform.validation.relationship.noRejectableReactivationRequestExists"
            }
            Self::RelationshipAlreadyDecomposed => "error.platform.validation.relationship.relationshipAlreadyDecomposed",
            _ => return None,
        })
    }
}
