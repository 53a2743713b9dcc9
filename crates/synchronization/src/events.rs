//! What this module does with other modules' domain events: it turns them into external
//! events for the identities concerned, and applies the relationship rules to events already
//! waiting (spec admin-and-services §4.2/§4.3, consumer-api-exchange §1.11). The external
//! event types written here (`MessageReceived`, …) are the clients' contract, not bus names,
//! though many are spelt alike.

use async_trait::async_trait;
use backbone_core::event_set;
use backbone_core::events::files::{FileOwnershipClaimed, FileOwnershipLocked};
use backbone_core::events::messages::MessageCreated;
use backbone_core::events::relationships::{
    PeerDeleted, PeerDeletionCancelled, PeerFeatureFlagsChanged, PeerToBeDeleted,
    RelationshipReactivationCompleted, RelationshipReactivationRequested, RelationshipStatusChanged,
    RelationshipTemplateAllocationsExhausted,
};
use backbone_core::events::tokens::TokenLocked;
use backbone_core::status::RelationshipStatus;
use backbone_core::{IdentityAddress, SharedClock};
use backbone_eventbus::{Event, Subscriber};
use chrono::{DateTime, Utc};
use serde_json::json;

use crate::store::{ContextEffect, NewExternalEvent, SynchronizationStore};

pub struct ExternalEventsHandler {
    pub store: SynchronizationStore,
    pub clock: SharedClock,
}

event_set! {
    /// Everything that leads to external events.
    pub enum Incoming {
        RelationshipStatusChanged(RelationshipStatusChanged),
        RelationshipReactivationRequested(RelationshipReactivationRequested),
        RelationshipReactivationCompleted(RelationshipReactivationCompleted),
        RelationshipTemplateAllocationsExhausted(RelationshipTemplateAllocationsExhausted),
        PeerFeatureFlagsChanged(PeerFeatureFlagsChanged),
        TokenLocked(TokenLocked),
        MessageCreated(MessageCreated),
        PeerToBeDeleted(PeerToBeDeleted),
        PeerDeletionCancelled(PeerDeletionCancelled),
        PeerDeleted(PeerDeleted),
        FileOwnershipLocked(FileOwnershipLocked),
        FileOwnershipClaimed(FileOwnershipClaimed),
    }
}

/// The external events to add and what happens to those already there.
type Plan = (Vec<NewExternalEvent>, Vec<ContextEffect>);

fn external(
    owner: IdentityAddress,
    event_type: &'static str,
    payload: serde_json::Value,
    context: Option<&str>,
) -> NewExternalEvent {
    NewExternalEvent {
        owner,
        event_type,
        payload,
        context: context.map(str::to_owned),
        delivery_blocked: false,
    }
}

/// Just one external event, leaving the others alone.
fn only(event: NewExternalEvent) -> Plan {
    (vec![event], Vec::new())
}

impl ExternalEventsHandler {
    /// The external events and context effects a domain event leads to; `created_at` is its
    /// envelope's time.
    fn plan(incoming: Incoming, created_at: &DateTime<Utc>) -> Plan {
        match incoming {
            Incoming::RelationshipStatusChanged(e) => status_changed(e),
            Incoming::RelationshipReactivationRequested(e) => reactivation_requested(e),
            Incoming::RelationshipReactivationCompleted(e) => reactivation_completed(e),
            Incoming::RelationshipTemplateAllocationsExhausted(e) => allocations_exhausted(e),
            Incoming::PeerFeatureFlagsChanged(e) => peer_feature_flags_changed(e),
            Incoming::PeerToBeDeleted(e) => peer_to_be_deleted(e),
            Incoming::PeerDeletionCancelled(e) => peer_deletion_cancelled(e),
            Incoming::PeerDeleted(e) => peer_deleted(e, created_at),
            Incoming::MessageCreated(e) => message_created(e),
            Incoming::FileOwnershipLocked(e) => file_ownership_locked(e),
            Incoming::FileOwnershipClaimed(e) => file_ownership_claimed(e),
            Incoming::TokenLocked(e) => token_locked(e),
        }
    }
}

/// The peer is told (except when the relationship is ready for deletion: it decomposed it
/// already); waiting messages are released or dropped; a decomposing initiator's unsynced
/// events of the relationship go.
fn status_changed(e: RelationshipStatusChanged) -> Plan {
    let id = e.relationship_id.as_str();
    let mut events = Vec::new();
    if e.new_status != RelationshipStatus::ReadyForDeletion {
        let payload = json!({ "relationshipId": id });
        events.push(external(e.peer, "RelationshipStatusChanged", payload, Some(id)));
    }
    let context = id.to_owned();
    let effects = match e.new_status {
        RelationshipStatus::Active => vec![ContextEffect::UnblockMessages { context }],
        RelationshipStatus::Rejected | RelationshipStatus::Revoked => {
            vec![ContextEffect::DeleteBlockedMessages { context }]
        }
        RelationshipStatus::DeletionProposed | RelationshipStatus::ReadyForDeletion => {
            vec![ContextEffect::DeleteUnsyncedEventsOf {
                owner: e.initiator,
                context,
            }]
        }
        RelationshipStatus::Pending | RelationshipStatus::Terminated => Vec::new(),
    };
    (events, effects)
}

fn reactivation_requested(e: RelationshipReactivationRequested) -> Plan {
    let id = e.relationship_id.as_str();
    let payload = json!({ "relationshipId": id });
    only(external(
        e.peer,
        "RelationshipReactivationRequested",
        payload,
        Some(id),
    ))
}

/// A reactivated relationship releases the messages that waited for it.
fn reactivation_completed(e: RelationshipReactivationCompleted) -> Plan {
    let id = e.relationship_id.as_str();
    let payload = json!({ "relationshipId": id });
    let effects = if e.new_relationship_status == RelationshipStatus::Active {
        vec![ContextEffect::UnblockMessages {
            context: id.to_owned(),
        }]
    } else {
        Vec::new()
    };
    (
        vec![external(
            e.peer,
            "RelationshipReactivationCompleted",
            payload,
            Some(id),
        )],
        effects,
    )
}

fn allocations_exhausted(e: RelationshipTemplateAllocationsExhausted) -> Plan {
    let payload = json!({ "relationshipTemplateId": e.relationship_template_id });
    only(external(
        e.created_by,
        "RelationshipTemplateAllocationsExhausted",
        payload,
        None,
    ))
}

fn peer_feature_flags_changed(e: PeerFeatureFlagsChanged) -> Plan {
    let payload = json!({ "peerAddress": e.peer_address });
    only(external(
        e.notified_identity_address,
        "PeerFeatureFlagsChanged",
        payload,
        None,
    ))
}

fn peer_to_be_deleted(e: PeerToBeDeleted) -> Plan {
    let id = e.relationship_id.as_str();
    let payload = json!({ "relationshipId": id, "deletionDate": e.grace_period_ends_at });
    only(external(
        e.peer_of_identity_to_be_deleted,
        "PeerToBeDeleted",
        payload,
        Some(id),
    ))
}

fn peer_deletion_cancelled(e: PeerDeletionCancelled) -> Plan {
    let id = e.relationship_id.as_str();
    let payload = json!({ "relationshipId": id });
    only(external(
        e.peer_of_identity_with_deletion_cancelled,
        "PeerDeletionCancelled",
        payload,
        Some(id),
    ))
}

/// The deletion date is when the deletion was handled (upstream: "now").
fn peer_deleted(e: PeerDeleted, created_at: &DateTime<Utc>) -> Plan {
    let id = e.relationship_id.as_str();
    let deleted_at = backbone_core::encoding::format_precise_date(created_at);
    let payload = json!({ "relationshipId": id, "deletionDate": deleted_at });
    only(external(
        e.peer_of_deleted_identity,
        "PeerDeleted",
        payload,
        Some(id),
    ))
}

/// Each recipient receives it, blocked while its relationship is not active yet.
fn message_created(e: MessageCreated) -> Plan {
    let events = e
        .recipients
        .into_iter()
        .map(|r| NewExternalEvent {
            owner: r.address,
            event_type: "MessageReceived",
            payload: json!({ "id": e.id }),
            context: Some(r.relationship_id.into_string()),
            delivery_blocked: r.is_delivery_blocked,
        })
        .collect();
    (events, Vec::new())
}

fn file_ownership_locked(e: FileOwnershipLocked) -> Plan {
    let payload = json!({ "fileId": e.file_id });
    only(external(e.owner_address, "FileOwnershipLocked", payload, None))
}

fn file_ownership_claimed(e: FileOwnershipClaimed) -> Plan {
    let payload = json!({ "fileId": e.file_id, "newOwnerAddress": e.new_owner_address });
    only(external(
        e.old_owner_address,
        "FileOwnershipClaimed",
        payload,
        None,
    ))
}

/// Anonymous tokens have nobody to tell.
fn token_locked(e: TokenLocked) -> Plan {
    match e.created_by {
        Some(creator) => {
            let payload = json!({ "tokenId": e.token_id });
            only(external(creator, "TokenLocked", payload, None))
        }
        None => (Vec::new(), Vec::new()),
    }
}

#[async_trait]
impl Subscriber for ExternalEventsHandler {
    const NAME: &'static str = "Synchronization.ExternalEvents";
    type Events = Incoming;

    async fn on_event(&self, event: &Event, incoming: Incoming) -> anyhow::Result<()> {
        let (events, effects) = Self::plan(incoming, &event.created_at);
        self.store
            .add_external_events_once(Self::NAME, &event.id, &events, &effects, self.clock.now())
            .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(event_type: &str, payload: serde_json::Value) -> Event {
        Event {
            id: "e1".into(),
            event_type: event_type.into(),
            payload,
            created_at: chrono::Utc::now(),
        }
    }

    /// Decodes like the bus, then plans.
    fn plan(event: &Event) -> anyhow::Result<Plan> {
        let incoming = event.decode::<Incoming>()?.expect("a subscribed type");
        Ok(ExternalEventsHandler::plan(incoming, &event.created_at))
    }

    fn addr(seed: u8) -> String {
        IdentityAddress::derive(&[seed; 32], "localhost").to_string()
    }

    #[test]
    fn status_changes_notify_the_peer_except_when_ready_for_deletion() {
        let payload = |status: &str| json!({ "RelationshipId": "RELx", "NewStatus": status, "Initiator": addr(1), "Peer": addr(2), "WasDueToIdentityDeletion": false });
        let (events, effects) = plan(&event("RelationshipStatusChanged", payload("Active"))).unwrap();
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].owner.to_string(), addr(2));
        assert_eq!(events[0].payload, json!({ "relationshipId": "RELx" }));
        assert_eq!(
            effects,
            [ContextEffect::UnblockMessages {
                context: "RELx".into()
            }]
        );

        let (events, effects) =
            plan(&event("RelationshipStatusChanged", payload("ReadyForDeletion"))).unwrap();
        assert!(events.is_empty());
        assert!(
            matches!(&effects[0], ContextEffect::DeleteUnsyncedEventsOf { owner, .. } if owner.to_string() == addr(1))
        );

        let (_, effects) = plan(&event("RelationshipStatusChanged", payload("Rejected"))).unwrap();
        assert_eq!(
            effects,
            [ContextEffect::DeleteBlockedMessages {
                context: "RELx".into()
            }]
        );
    }

    #[test]
    fn anonymous_token_locks_notify_nobody_and_malformed_payloads_fail() {
        let (events, _) = plan(&event(
            "TokenLocked",
            json!({ "TokenId": "TOKx", "CreatedBy": null }),
        ))
        .unwrap();
        assert!(events.is_empty());
        assert!(plan(&event("PeerFeatureFlagsChanged", json!({}))).is_err());
    }
}
