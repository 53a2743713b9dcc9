//! Failures of this module that a client can cause, with their upstream codes (all 400).

use backbone_core::ApiError;

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
}

impl RelationshipsError {
    pub fn code(&self) -> &'static str {
        match self {
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
        }
    }
}

impl From<RelationshipsError> for ApiError {
    fn from(error: RelationshipsError) -> Self {
        ApiError::validation(error.code(), error.to_string())
    }
}
