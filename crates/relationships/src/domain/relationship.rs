//! Relationships and their state machine (spec consumer-api-exchange §4.2).
//!
//! Every transition checks its preconditions in upstream's order, appends an audit entry and
//! returns the domain events to raise; the store persists all of it in one transaction.

use backbone_core::events::relationships::{
    RelationshipReactivationCompleted, RelationshipReactivationRequested, RelationshipStatusChanged,
};
use backbone_core::events::DomainEvent;
use backbone_core::ids::{DeviceId, RelationshipAuditLogEntryId, RelationshipId, RelationshipTemplateId};
use backbone_core::{Actor, IdentityAddress};
use chrono::{DateTime, Utc};

use crate::error::RelationshipsError;

pub use backbone_core::status::RelationshipStatus;

/// Statuses in which a relationship blocks a new one between the same identities.
pub const BLOCKING_STATUSES: [RelationshipStatus; 4] = [
    RelationshipStatus::Pending,
    RelationshipStatus::Active,
    RelationshipStatus::Terminated,
    RelationshipStatus::DeletionProposed,
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuditReason {
    Creation,
    AcceptanceOfCreation,
    RejectionOfCreation,
    RevocationOfCreation,
    Termination,
    ReactivationRequested,
    AcceptanceOfReactivation,
    RejectionOfReactivation,
    RevocationOfReactivation,
    Decomposition,
    DecompositionDueToIdentityDeletion,
}

impl AuditReason {
    pub const ALL: [Self; 11] = [
        Self::Creation,
        Self::AcceptanceOfCreation,
        Self::RejectionOfCreation,
        Self::RevocationOfCreation,
        Self::Termination,
        Self::ReactivationRequested,
        Self::AcceptanceOfReactivation,
        Self::RejectionOfReactivation,
        Self::RevocationOfReactivation,
        Self::Decomposition,
        Self::DecompositionDueToIdentityDeletion,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Creation => "Creation",
            Self::AcceptanceOfCreation => "AcceptanceOfCreation",
            Self::RejectionOfCreation => "RejectionOfCreation",
            Self::RevocationOfCreation => "RevocationOfCreation",
            Self::Termination => "Termination",
            Self::ReactivationRequested => "ReactivationRequested",
            Self::AcceptanceOfReactivation => "AcceptanceOfReactivation",
            Self::RejectionOfReactivation => "RejectionOfReactivation",
            Self::RevocationOfReactivation => "RevocationOfReactivation",
            Self::Decomposition => "Decomposition",
            Self::DecompositionDueToIdentityDeletion => "DecompositionDueToIdentityDeletion",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == value)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct AuditEntry {
    pub id: RelationshipAuditLogEntryId,
    pub created_at: DateTime<Utc>,
    pub created_by: IdentityAddress,
    pub created_by_device: Option<DeviceId>,
    pub reason: AuditReason,
    pub old_status: Option<RelationshipStatus>,
    pub new_status: RelationshipStatus,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Relationship {
    pub id: RelationshipId,
    pub template_id: Option<RelationshipTemplateId>,
    /// The requester (who created the relationship from the template).
    pub from: IdentityAddress,
    /// The template owner.
    pub to: IdentityAddress,
    pub created_at: DateTime<Utc>,
    pub status: RelationshipStatus,
    pub creation_content: Option<Vec<u8>>,
    pub creation_response_content: Option<Vec<u8>>,
    pub from_has_decomposed: bool,
    pub to_has_decomposed: bool,
    /// Oldest first.
    pub audit_log: Vec<AuditEntry>,
}

/// The outcome of a state transition: the events to raise, or why it is not allowed.
pub type Transition = Result<Vec<DomainEvent>, RelationshipsError>;

impl Relationship {
    /// A new pending relationship requested by `actor` from the template of `to`.
    pub fn request(
        template_id: RelationshipTemplateId,
        to: IdentityAddress,
        actor: &Actor,
        creation_content: Option<Vec<u8>>,
        now: DateTime<Utc>,
    ) -> (Self, Vec<DomainEvent>) {
        let mut relationship = Self {
            id: RelationshipId::generate(),
            template_id: Some(template_id),
            from: actor.address.clone(),
            to,
            created_at: now,
            status: RelationshipStatus::Pending,
            creation_content,
            creation_response_content: None,
            from_has_decomposed: false,
            to_has_decomposed: false,
            audit_log: Vec::new(),
        };
        relationship.log(
            actor,
            AuditReason::Creation,
            None,
            RelationshipStatus::Pending,
            now,
        );
        let events = vec![relationship.status_changed(&actor.address, false)];
        (relationship, events)
    }

    pub fn is_participant(&self, identity: &IdentityAddress) -> bool {
        &self.from == identity || &self.to == identity
    }

    /// The other participant.
    pub fn peer_of(&self, identity: &IdentityAddress) -> &IdentityAddress {
        if &self.from == identity {
            &self.to
        } else {
            &self.from
        }
    }

    pub fn has_decomposed(&self, identity: &IdentityAddress) -> bool {
        if &self.from == identity {
            self.from_has_decomposed
        } else {
            self.to_has_decomposed
        }
    }

    pub fn accept(&mut self, actor: &Actor, response: Vec<u8>, now: DateTime<Utc>) -> Transition {
        self.answer(
            actor,
            response,
            now,
            AuditReason::AcceptanceOfCreation,
            RelationshipStatus::Active,
        )
    }

    pub fn reject(&mut self, actor: &Actor, response: Vec<u8>, now: DateTime<Utc>) -> Transition {
        self.answer(
            actor,
            response,
            now,
            AuditReason::RejectionOfCreation,
            RelationshipStatus::Rejected,
        )
    }

    /// Accept or reject: only the addressee (`to`) answers a pending request.
    fn answer(
        &mut self,
        actor: &Actor,
        response: Vec<u8>,
        now: DateTime<Utc>,
        reason: AuditReason,
        new_status: RelationshipStatus,
    ) -> Transition {
        self.require_status(&[RelationshipStatus::Pending])?;
        if actor.address != self.to {
            return Err(RelationshipsError::CannotAcceptOrRejectRelationshipAddressedToSomeoneElse);
        }
        self.creation_response_content = Some(response);
        self.change_status(actor, reason, new_status, now)
    }

    /// Only the requester (`from`) takes back a pending request.
    pub fn revoke(&mut self, actor: &Actor, response: Vec<u8>, now: DateTime<Utc>) -> Transition {
        self.require_status(&[RelationshipStatus::Pending])?;
        if actor.address != self.from {
            return Err(RelationshipsError::CannotRevokeRelationshipNotCreatedByYourself);
        }
        self.creation_response_content = Some(response);
        self.change_status(
            actor,
            AuditReason::RevocationOfCreation,
            RelationshipStatus::Revoked,
            now,
        )
    }

    pub fn terminate(&mut self, actor: &Actor, now: DateTime<Utc>) -> Transition {
        self.require_status(&[RelationshipStatus::Active])?;
        self.change_status(
            actor,
            AuditReason::Termination,
            RelationshipStatus::Terminated,
            now,
        )
    }

    pub fn request_reactivation(&mut self, actor: &Actor, now: DateTime<Utc>) -> Transition {
        if self.open_reactivation_request().is_some() {
            return Err(RelationshipsError::CannotRequestReactivationWhenThereIsAnOpenReactivationRequest);
        }
        self.require_status(&[RelationshipStatus::Terminated])?;
        self.log(
            actor,
            AuditReason::ReactivationRequested,
            Some(self.status),
            self.status,
            now,
        );
        Ok(vec![DomainEvent::from_event(
            &RelationshipReactivationRequested {
                relationship_id: self.id.clone(),
                requesting_identity: actor.address.clone(),
                peer: self.peer_of(&actor.address).clone(),
            },
        )])
    }

    pub fn accept_reactivation(&mut self, actor: &Actor, now: DateTime<Utc>) -> Transition {
        if !self.peer_requested_reactivation(actor) {
            return Err(RelationshipsError::NoAcceptableRelationshipReactivationRequestExists);
        }
        self.complete_reactivation(
            actor,
            AuditReason::AcceptanceOfReactivation,
            RelationshipStatus::Active,
            now,
        )
    }

    pub fn reject_reactivation(&mut self, actor: &Actor, now: DateTime<Utc>) -> Transition {
        if !self.peer_requested_reactivation(actor) {
            return Err(RelationshipsError::NoRejectableReactivationRequestExists);
        }
        self.complete_reactivation(
            actor,
            AuditReason::RejectionOfReactivation,
            RelationshipStatus::Terminated,
            now,
        )
    }

    pub fn revoke_reactivation(&mut self, actor: &Actor, now: DateTime<Utc>) -> Transition {
        if self.open_reactivation_request() != Some(&actor.address) {
            return Err(RelationshipsError::NoRevocableReactivationRequestExists);
        }
        self.complete_reactivation(
            actor,
            AuditReason::RevocationOfReactivation,
            RelationshipStatus::Terminated,
            now,
        )
    }

    /// The first side to decompose proposes deletion; the second makes it ready for deletion.
    pub fn decompose(&mut self, actor: &Actor, now: DateTime<Utc>) -> Transition {
        if self.has_decomposed(&actor.address) {
            return Err(RelationshipsError::RelationshipAlreadyDecomposed);
        }
        self.require_status(&[
            RelationshipStatus::Rejected,
            RelationshipStatus::Revoked,
            RelationshipStatus::Terminated,
            RelationshipStatus::DeletionProposed,
        ])?;
        let new_status = if self.status == RelationshipStatus::DeletionProposed {
            RelationshipStatus::ReadyForDeletion
        } else {
            RelationshipStatus::DeletionProposed
        };
        if actor.address == self.from {
            self.from_has_decomposed = true;
        } else {
            self.to_has_decomposed = true;
        }
        self.change_status(actor, AuditReason::Decomposition, new_status, now)
    }

    /// The deletion job decomposes every relationship of a deleted identity it had not
    /// decomposed itself; no device acts, and the peer is told unless it already decomposed.
    pub fn decompose_due_to_identity_deletion(
        &mut self,
        identity: &IdentityAddress,
        now: DateTime<Utc>,
    ) -> Transition {
        if self.has_decomposed(identity) {
            return Ok(Vec::new());
        }
        let new_status = if self.status == RelationshipStatus::DeletionProposed {
            RelationshipStatus::ReadyForDeletion
        } else {
            RelationshipStatus::DeletionProposed
        };
        if identity == &self.from {
            self.from_has_decomposed = true;
        } else {
            self.to_has_decomposed = true;
        }
        let old_status = self.status;
        self.status = new_status;
        self.audit_log.push(AuditEntry {
            id: RelationshipAuditLogEntryId::generate(),
            created_at: now,
            created_by: identity.clone(),
            created_by_device: None,
            reason: AuditReason::DecompositionDueToIdentityDeletion,
            old_status: Some(old_status),
            new_status,
        });
        Ok(vec![self.status_changed(identity, true)])
    }

    #[expect(
        clippy::unnecessary_wraps,
        reason = "a transition like the others, which can fail"
    )]
    fn complete_reactivation(
        &mut self,
        actor: &Actor,
        reason: AuditReason,
        new_status: RelationshipStatus,
        now: DateTime<Utc>,
    ) -> Transition {
        let old_status = self.status;
        self.status = new_status;
        self.log(actor, reason, Some(old_status), new_status, now);
        Ok(vec![DomainEvent::from_event(
            &RelationshipReactivationCompleted {
                relationship_id: self.id.clone(),
                new_relationship_status: new_status,
                peer: self.peer_of(&actor.address).clone(),
            },
        )])
    }

    /// Who asked for reactivation, if the latest audit entry is an open request.
    fn open_reactivation_request(&self) -> Option<&IdentityAddress> {
        self.audit_log
            .last()
            .filter(|entry| entry.reason == AuditReason::ReactivationRequested)
            .map(|entry| &entry.created_by)
    }

    fn peer_requested_reactivation(&self, actor: &Actor) -> bool {
        self.open_reactivation_request()
            .is_some_and(|requester| requester != &actor.address)
    }

    fn require_status(&self, allowed: &[RelationshipStatus]) -> Result<(), RelationshipsError> {
        if allowed.contains(&self.status) {
            return Ok(());
        }
        let expected: Vec<String> = allowed.iter().map(|s| format!("'{}'", s.as_str())).collect();
        Err(RelationshipsError::RelationshipIsNotInCorrectStatus(
            expected.join(" or "),
        ))
    }

    #[expect(
        clippy::unnecessary_wraps,
        reason = "a transition like the others, which can fail"
    )]
    fn change_status(
        &mut self,
        actor: &Actor,
        reason: AuditReason,
        new_status: RelationshipStatus,
        now: DateTime<Utc>,
    ) -> Transition {
        let old_status = self.status;
        self.status = new_status;
        self.log(actor, reason, Some(old_status), new_status, now);
        Ok(vec![self.status_changed(&actor.address, false)])
    }

    fn log(
        &mut self,
        actor: &Actor,
        reason: AuditReason,
        old_status: Option<RelationshipStatus>,
        new_status: RelationshipStatus,
        now: DateTime<Utc>,
    ) {
        self.audit_log.push(AuditEntry {
            id: RelationshipAuditLogEntryId::generate(),
            created_at: now,
            created_by: actor.address.clone(),
            created_by_device: Some(actor.device.clone()),
            reason,
            old_status,
            new_status,
        });
    }

    fn status_changed(&self, initiator: &IdentityAddress, due_to_identity_deletion: bool) -> DomainEvent {
        DomainEvent::from_event(&RelationshipStatusChanged {
            relationship_id: self.id.clone(),
            new_status: self.status,
            initiator: initiator.clone(),
            peer: self.peer_of(initiator).clone(),
            was_due_to_identity_deletion: due_to_identity_deletion,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn actor(seed: u8) -> Actor {
        Actor {
            address: IdentityAddress::derive(&[seed; 32], "localhost"),
            device: DeviceId::generate(),
        }
    }

    fn pending() -> (Relationship, Actor, Actor) {
        let (requester, owner) = (actor(1), actor(2));
        let (relationship, events) = Relationship::request(
            RelationshipTemplateId::generate(),
            owner.address.clone(),
            &requester,
            None,
            Utc::now(),
        );
        assert_eq!(events[0].payload["Peer"], owner.address.as_str());
        (relationship, requester, owner)
    }

    fn code(result: Transition) -> &'static str {
        result.unwrap_err().code().expect("a broken relationship rule")
    }

    #[test]
    fn only_the_addressee_answers_and_only_once() {
        let (mut r, requester, owner) = pending();
        assert_eq!(
            code(r.accept(&requester, vec![], Utc::now())),
            "error.platform.validation.relationship.cannotAcceptOrRejectRelationshipAddressedToSomeoneElse"
        );
        assert_eq!(
            code(r.revoke(&owner, vec![], Utc::now())),
            "error.platform.validation.relationship.cannotRevokeRelationshipNotCreatedByYourself"
        );
        let events = r.accept(&owner, vec![7], Utc::now()).unwrap();
        assert_eq!(events[0].payload["NewStatus"], "Active");
        assert_eq!(events[0].payload["Peer"], requester.address.as_str());
        assert_eq!(r.creation_response_content, Some(vec![7]));
        assert_eq!(
            code(r.accept(&owner, vec![], Utc::now())),
            "error.platform.validation.relationship.relationshipIsNotInCorrectStatus"
        );
        assert_eq!(r.audit_log.len(), 2);
    }

    #[test]
    fn reactivation_needs_an_open_request_of_the_peer() {
        let (mut r, requester, owner) = pending();
        r.accept(&owner, vec![], Utc::now()).unwrap();
        assert_eq!(
            code(r.request_reactivation(&owner, Utc::now())),
            "error.platform.validation.relationship.relationshipIsNotInCorrectStatus"
        );
        r.terminate(&requester, Utc::now()).unwrap();
        assert_eq!(
            code(r.accept_reactivation(&owner, Utc::now())),
            "error.platform.validation.relationship.noAcceptableRelationshipReactivationRequestExists"
        );
        r.request_reactivation(&owner, Utc::now()).unwrap();
        assert_eq!(code(r.request_reactivation(&requester, Utc::now())), "error.platform.validation.relationship.cannotRequestReactivationWhenThereIsAnOpenReactivationRequest");
        assert_eq!(
            code(r.accept_reactivation(&owner, Utc::now())),
            "error.platform.validation.relationship.noAcceptableRelationshipReactivationRequestExists"
        );
        assert_eq!(
            code(r.revoke_reactivation(&requester, Utc::now())),
            "error.platform.validation.relationship.noRevocableReactivationRequestExists"
        );
        let events = r.accept_reactivation(&requester, Utc::now()).unwrap();
        assert_eq!(events[0].event_type, "RelationshipReactivationCompleted");
        assert_eq!(events[0].payload["Peer"], owner.address.as_str());
        assert_eq!(r.status, RelationshipStatus::Active);
    }

    #[test]
    fn decomposition_takes_both_sides() {
        let (mut r, requester, owner) = pending();
        assert_eq!(
            code(r.decompose(&owner, Utc::now())),
            "error.platform.validation.relationship.relationshipIsNotInCorrectStatus"
        );
        r.reject(&owner, vec![], Utc::now()).unwrap();
        r.decompose(&owner, Utc::now()).unwrap();
        assert_eq!(r.status, RelationshipStatus::DeletionProposed);
        assert_eq!(
            code(r.decompose(&owner, Utc::now())),
            "error.platform.validation.relationship.relationshipAlreadyDecomposed"
        );
        let events = r.decompose(&requester, Utc::now()).unwrap();
        assert_eq!(r.status, RelationshipStatus::ReadyForDeletion);
        assert_eq!(events[0].payload["NewStatus"], "ReadyForDeletion");
        assert!(r.from_has_decomposed && r.to_has_decomposed);
    }
}
