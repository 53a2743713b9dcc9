//! The payloads as the outbox holds them (written by the code before these types existed):
//! each must decode into its type and encode back to the same bytes, and the names must stay
//! upstream's.

use std::fmt::Debug;

use serde_json::{json, Value};

use super::devices::*;
use super::files::*;
use super::messages::*;
use super::relationships::*;
use super::synchronization::*;
use super::tokens::*;
use super::{DomainEvent, EventSet, IntegrationEvent};
use crate::IdentityAddress;

fn addr(seed: u8) -> String {
    IdentityAddress::derive(&[seed; 32], "localhost").to_string()
}

/// Decodes `stored`, checks the name, and that publishing the value writes `stored` again.
fn stored<E: IntegrationEvent + PartialEq + Debug>(name: &str, stored: &Value) -> E {
    assert_eq!(E::EVENT_TYPE, name);
    let event: E = super::decode_payload(stored).unwrap_or_else(|e| panic!("{name}: {e}"));
    let published = DomainEvent::from_event(&event);
    assert_eq!(published.event_type, name);
    assert_eq!(&published.payload, stored, "{name}");
    assert_eq!(
        published.payload.to_string(),
        stored.to_string(),
        "{name}: same bytes"
    );
    event
}

#[test]
fn relationship_events_keep_their_stored_form() {
    let changed: RelationshipStatusChanged = stored(
        "RelationshipStatusChanged",
        &json!({ "RelationshipId": "RELaaaaaaaaaaaaaaaaa", "NewStatus": "DeletionProposed", "Initiator": addr(1), "Peer": addr(2), "WasDueToIdentityDeletion": false }),
    );
    assert_eq!(
        changed.new_status,
        crate::status::RelationshipStatus::DeletionProposed
    );
    stored::<RelationshipReactivationRequested>(
        "RelationshipReactivationRequested",
        &json!({ "RelationshipId": "RELaaaaaaaaaaaaaaaaa", "RequestingIdentity": addr(1), "Peer": addr(2) }),
    );
    stored::<RelationshipReactivationCompleted>(
        "RelationshipReactivationCompleted",
        &json!({ "RelationshipId": "RELaaaaaaaaaaaaaaaaa", "NewRelationshipStatus": "Active", "Peer": addr(2) }),
    );
    stored::<RelationshipTemplateCreated>(
        "RelationshipTemplateCreated",
        &json!({ "TemplateId": "RLTaaaaaaaaaaaaaaaaa", "CreatedBy": addr(1) }),
    );
    stored::<RelationshipTemplateAllocationsExhausted>(
        "RelationshipTemplateAllocationsExhausted",
        &json!({ "RelationshipTemplateId": "RLTaaaaaaaaaaaaaaaaa", "CreatedBy": addr(1) }),
    );
    stored::<PeerFeatureFlagsChanged>(
        "PeerFeatureFlagsChanged",
        &json!({ "PeerAddress": addr(1), "NotifiedIdentityAddress": addr(2) }),
    );
    stored::<PeerToBeDeleted>(
        "PeerToBeDeleted",
        &json!({ "PeerOfIdentityToBeDeleted": addr(2), "RelationshipId": "RELaaaaaaaaaaaaaaaaa", "IdentityToBeDeleted": addr(1), "GracePeriodEndsAt": "2030-01-02T03:04:05.678Z" }),
    );
    stored::<PeerDeletionCancelled>(
        "PeerDeletionCancelled",
        &json!({ "PeerOfIdentityWithDeletionCancelled": addr(2), "RelationshipId": "RELaaaaaaaaaaaaaaaaa", "IdentityWithDeletionCancelled": addr(1) }),
    );
    stored::<PeerDeleted>(
        "PeerDeleted",
        &json!({ "PeerOfDeletedIdentity": addr(2), "RelationshipId": "RELaaaaaaaaaaaaaaaaa", "DeletedIdentity": addr(1) }),
    );
}

#[test]
fn device_events_keep_their_stored_form() {
    stored::<IdentityCreated>(
        "IdentityCreated",
        &json!({ "Address": addr(1), "Tier": "TIRaaaaaaaaaaaaaaaaa" }),
    );
    stored::<BackupDeviceUsed>("BackupDeviceUsed", &json!({ "IdentityAddress": addr(1) }));
    stored::<FeatureFlagsOfIdentityChanged>(
        "FeatureFlagsOfIdentityChanged",
        &json!({ "IdentityAddress": addr(1) }),
    );
    stored::<TierCreated>(
        "TierCreated",
        &json!({ "Id": "TIRaaaaaaaaaaaaaaaaa", "Name": "Basic" }),
    );
    stored::<TierOfIdentityChanged>(
        "TierOfIdentityChanged",
        &json!({ "OldTierId": "TIRaaaaaaaaaaaaaaaaa", "NewTierId": "TIRbbbbbbbbbbbbbbbbb", "IdentityAddress": addr(1) }),
    );
    // Dates keep chrono's form, whatever precision they were written with.
    for date in [
        "2030-01-02T03:04:05Z",
        "2030-01-02T03:04:05.678Z",
        "2030-01-02T03:04:05.678912345Z",
    ] {
        stored::<IdentityToBeDeleted>(
            "IdentityToBeDeleted",
            &json!({ "IdentityAddress": addr(1), "GracePeriodEndsAt": date }),
        );
    }
    stored::<IdentityDeletionCancelled>(
        "IdentityDeletionCancelled",
        &json!({ "IdentityAddress": addr(1) }),
    );
    stored::<IdentityDeleted>("IdentityDeleted", &json!({ "IdentityAddress": addr(1) }));
    stored::<IdentityDeletionProcessStatusChanged>(
        "IdentityDeletionProcessStatusChanged",
        &json!({ "DeletionProcessOwner": addr(1), "DeletionProcessId": "IDPaaaaaaaaaaaaaaaaa", "Initiator": addr(1) }),
    );
    stored::<DeletionProcessGracePeriodReminder>(
        "DeletionProcessGracePeriodReminder",
        &json!({ "IdentityAddress": addr(1), "DaysUntilDeletion": 5 }),
    );
}

#[test]
fn message_token_file_and_sync_events_keep_their_stored_form() {
    let created: MessageCreated = stored(
        "MessageCreated",
        &json!({ "Id": "MSGaaaaaaaaaaaaaaaaa", "CreatedBy": addr(1), "Recipients": [
            { "Address": addr(2), "RelationshipId": "RELaaaaaaaaaaaaaaaaa", "IsDeliveryBlocked": true },
        ] }),
    );
    assert!(created.recipients[0].is_delivery_blocked);
    // Upstream's recipients do not say whether delivery is blocked: it is not.
    let upstream: MessageCreated = super::decode_payload(
        &json!({ "Id": "MSGaaaaaaaaaaaaaaaaa", "CreatedBy": addr(1), "Recipients": [
        { "Address": addr(2), "RelationshipId": "RELaaaaaaaaaaaaaaaaa" },
    ] }),
    )
    .unwrap();
    assert!(!upstream.recipients[0].is_delivery_blocked);

    // Anonymous tokens keep their null creator.
    stored::<TokenLocked>(
        "TokenLocked",
        &json!({ "TokenId": "TOKaaaaaaaaaaaaaaaaa", "CreatedBy": null }),
    );
    stored::<TokenCreated>(
        "TokenCreated",
        &json!({ "TokenId": "TOKaaaaaaaaaaaaaaaaa", "CreatedBy": addr(1) }),
    );
    stored::<FileUploaded>(
        "FileUploaded",
        &json!({ "FileId": "FILaaaaaaaaaaaaaaaaa", "Owner": addr(1) }),
    );
    stored::<FileOwnershipLocked>(
        "FileOwnershipLocked",
        &json!({ "FileId": "FILaaaaaaaaaaaaaaaaa", "OwnerAddress": addr(1) }),
    );
    stored::<FileOwnershipClaimed>(
        "FileOwnershipClaimed",
        &json!({ "FileId": "FILaaaaaaaaaaaaaaaaa", "OldOwnerAddress": addr(1), "NewOwnerAddress": addr(2) }),
    );
    stored::<ExternalEventCreated>(
        "ExternalEventCreated",
        &json!({ "EventId": "SYIaaaaaaaaaaaaaaaaa", "Owner": addr(1), "IsDeliveryBlocked": false }),
    );
    stored::<DatawalletModified>(
        "DatawalletModified",
        &json!({ "Identity": addr(1), "ModifiedByDevice": "DVCaaaaaaaaaaaaaaaaa" }),
    );
}

#[test]
fn payloads_with_invalid_addresses_or_statuses_do_not_decode() {
    let status_changed = |status: &str, peer: String| json!({ "RelationshipId": "RELaaaaaaaaaaaaaaaaa", "NewStatus": status, "Initiator": addr(1), "Peer": peer, "WasDueToIdentityDeletion": false });
    assert!(super::decode_payload::<RelationshipStatusChanged>(&status_changed("Active", addr(2))).is_ok());
    assert!(super::decode_payload::<RelationshipStatusChanged>(&status_changed("Gone", addr(2))).is_err());
    assert!(
        super::decode_payload::<RelationshipStatusChanged>(&status_changed(
            "Active",
            "did:e:x:dids:1".into()
        ))
        .is_err()
    );
}

crate::event_set! {
    enum Incoming {
        Locked(TokenLocked),
        Deleted(IdentityDeleted),
    }
}

#[test]
fn an_event_set_subscribes_to_its_variants_and_decodes_only_those() {
    assert_eq!(Incoming::TYPES, ["TokenLocked", "IdentityDeleted"]);
    let deleted = json!({ "IdentityAddress": addr(1) });
    assert_eq!(
        Incoming::decode("IdentityDeleted", &deleted).unwrap(),
        Some(Incoming::Deleted(IdentityDeleted {
            identity_address: IdentityAddress::parse(&addr(1)).unwrap()
        }))
    );
    assert_eq!(Incoming::decode("IdentityCreated", &deleted).unwrap(), None);
    assert!(Incoming::decode("TokenLocked", &deleted).is_err());
}

/// The form the Files module wrote before these types existed (moved from its `events.rs`).
#[test]
fn file_payloads_are_pascal_case() {
    use crate::ids::FileId;
    let file = || FileId::from_trusted("FILa".into());
    let owner = |value: &str| IdentityAddress::from_trusted(value.into());

    let event = DomainEvent::from_event(&FileUploaded {
        file_id: file(),
        owner: owner("did:e:x:dids:1"),
    });
    assert_eq!(event.event_type, "FileUploaded");
    assert_eq!(
        event.payload,
        json!({ "FileId": "FILa", "Owner": "did:e:x:dids:1" })
    );

    let event = DomainEvent::from_event(&FileOwnershipLocked {
        file_id: file(),
        owner_address: owner("did:e:x:dids:1"),
    });
    assert_eq!(event.event_type, "FileOwnershipLocked");
    assert_eq!(
        event.payload,
        json!({ "FileId": "FILa", "OwnerAddress": "did:e:x:dids:1" })
    );

    let event = DomainEvent::from_event(&FileOwnershipClaimed {
        file_id: file(),
        old_owner_address: owner("did:e:x:dids:1"),
        new_owner_address: owner("did:e:x:dids:2"),
    });
    assert_eq!(event.event_type, "FileOwnershipClaimed");
    assert_eq!(
        event.payload,
        json!({ "FileId": "FILa", "OldOwnerAddress": "did:e:x:dids:1", "NewOwnerAddress": "did:e:x:dids:2" })
    );
}

/// The form the Tokens module wrote before these types existed (moved from its `events.rs`).
#[test]
fn token_payloads_are_pascal_case_and_keep_null_creators() {
    use crate::ids::TokenId;
    let token_id = || TokenId::from_trusted("TOKaaaaaaaaaaaaaaaaa".into());
    let event = DomainEvent::from_event(&TokenLocked {
        token_id: token_id(),
        created_by: None,
    });
    assert_eq!(event.event_type, "TokenLocked");
    assert_eq!(
        event.payload,
        serde_json::json!({ "TokenId": "TOKaaaaaaaaaaaaaaaaa", "CreatedBy": null })
    );
    let event = DomainEvent::from_event(&TokenCreated {
        token_id: token_id(),
        created_by: Some(IdentityAddress::from_trusted("did:e:x:dids:1".into())),
    });
    assert_eq!(event.event_type, "TokenCreated");
    assert_eq!(event.payload["CreatedBy"], "did:e:x:dids:1");
}
