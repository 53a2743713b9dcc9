//! What this module does with other modules' domain events: it turns them into external
//! events for the identities concerned, and applies the relationship rules to events already
//! waiting (spec admin-and-services §4.2/§4.3, consumer-api-exchange §1.11).

use async_trait::async_trait;
use backbone_core::{IdentityAddress, SharedClock};
use backbone_eventbus::{Event, EventHandler};
use serde::Deserialize;
use serde_json::json;

use crate::store::{ContextEffect, NewExternalEvent, SynchronizationStore};

pub struct ExternalEventsHandler {
    pub store: SynchronizationStore,
    pub clock: SharedClock,
}

const CONSUMER: &str = "Synchronization.ExternalEvents";

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RelationshipStatusChanged {
    relationship_id: String,
    new_status: String,
    initiator: String,
    peer: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RelationshipReactivationRequested {
    relationship_id: String,
    peer: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RelationshipReactivationCompleted {
    relationship_id: String,
    new_relationship_status: String,
    peer: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RelationshipTemplateAllocationsExhausted {
    relationship_template_id: String,
    created_by: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct PeerFeatureFlagsChanged {
    peer_address: String,
    notified_identity_address: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct TokenLocked {
    token_id: String,
    created_by: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct MessageCreated {
    id: String,
    recipients: Vec<MessageRecipient>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct MessageRecipient {
    address: String,
    relationship_id: String,
    #[serde(default)]
    is_delivery_blocked: bool,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct FileOwnershipLocked {
    file_id: String,
    owner_address: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct FileOwnershipClaimed {
    file_id: String,
    old_owner_address: String,
    new_owner_address: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct PeerToBeDeleted {
    peer_of_identity_to_be_deleted: String,
    relationship_id: String,
    grace_period_ends_at: serde_json::Value,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct PeerDeletionCancelled {
    peer_of_identity_with_deletion_cancelled: String,
    relationship_id: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct PeerDeleted {
    peer_of_deleted_identity: String,
    relationship_id: String,
}

fn address(value: &str) -> anyhow::Result<IdentityAddress> {
    IdentityAddress::parse(value).ok_or_else(|| anyhow::anyhow!("invalid identity address in event: {value}"))
}

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

impl ExternalEventsHandler {
    /// The external events and context effects a domain event leads to.
    fn plan(event: &Event) -> anyhow::Result<(Vec<NewExternalEvent>, Vec<ContextEffect>)> {
        Ok(match event.event_type.as_str() {
            "RelationshipStatusChanged" => {
                let e: RelationshipStatusChanged = event.payload_as()?;
                let id = e.relationship_id.as_str();
                let mut events = Vec::new();
                if e.new_status != "ReadyForDeletion" {
                    let payload = json!({ "relationshipId": id });
                    events.push(external(
                        address(&e.peer)?,
                        "RelationshipStatusChanged",
                        payload,
                        Some(id),
                    ));
                }
                let context = id.to_owned();
                let effects = match e.new_status.as_str() {
                    "Active" => vec![ContextEffect::UnblockMessages { context }],
                    "Rejected" | "Revoked" => vec![ContextEffect::DeleteBlockedMessages { context }],
                    "DeletionProposed" | "ReadyForDeletion" => {
                        vec![ContextEffect::DeleteUnsyncedEventsOf {
                            owner: address(&e.initiator)?,
                            context,
                        }]
                    }
                    _ => Vec::new(),
                };
                (events, effects)
            }
            "RelationshipReactivationRequested" => {
                let e: RelationshipReactivationRequested = event.payload_as()?;
                let payload = json!({ "relationshipId": e.relationship_id });
                let id = e.relationship_id.as_str();
                (
                    vec![external(
                        address(&e.peer)?,
                        "RelationshipReactivationRequested",
                        payload,
                        Some(id),
                    )],
                    Vec::new(),
                )
            }
            "RelationshipReactivationCompleted" => {
                let e: RelationshipReactivationCompleted = event.payload_as()?;
                let payload = json!({ "relationshipId": e.relationship_id });
                let id = e.relationship_id.as_str();
                let effects = if e.new_relationship_status == "Active" {
                    vec![ContextEffect::UnblockMessages {
                        context: id.to_owned(),
                    }]
                } else {
                    Vec::new()
                };
                (
                    vec![external(
                        address(&e.peer)?,
                        "RelationshipReactivationCompleted",
                        payload,
                        Some(id),
                    )],
                    effects,
                )
            }
            "RelationshipTemplateAllocationsExhausted" => {
                let e: RelationshipTemplateAllocationsExhausted = event.payload_as()?;
                let payload = json!({ "relationshipTemplateId": e.relationship_template_id });
                (
                    vec![external(
                        address(&e.created_by)?,
                        "RelationshipTemplateAllocationsExhausted",
                        payload,
                        None,
                    )],
                    Vec::new(),
                )
            }
            "PeerFeatureFlagsChanged" => {
                let e: PeerFeatureFlagsChanged = event.payload_as()?;
                let payload = json!({ "peerAddress": e.peer_address });
                (
                    vec![external(
                        address(&e.notified_identity_address)?,
                        "PeerFeatureFlagsChanged",
                        payload,
                        None,
                    )],
                    Vec::new(),
                )
            }
            "PeerToBeDeleted" => {
                let e: PeerToBeDeleted = event.payload_as()?;
                let payload =
                    json!({ "relationshipId": e.relationship_id, "deletionDate": e.grace_period_ends_at });
                let id = e.relationship_id.as_str();
                (
                    vec![external(
                        address(&e.peer_of_identity_to_be_deleted)?,
                        "PeerToBeDeleted",
                        payload,
                        Some(id),
                    )],
                    Vec::new(),
                )
            }
            "PeerDeletionCancelled" => {
                let e: PeerDeletionCancelled = event.payload_as()?;
                let payload = json!({ "relationshipId": e.relationship_id });
                let id = e.relationship_id.as_str();
                let owner = address(&e.peer_of_identity_with_deletion_cancelled)?;
                (
                    vec![external(owner, "PeerDeletionCancelled", payload, Some(id))],
                    Vec::new(),
                )
            }
            "PeerDeleted" => {
                let e: PeerDeleted = event.payload_as()?;
                // The deletion date is when the deletion was handled (upstream: "now").
                let deleted_at = backbone_core::encoding::format_precise_date(&event.created_at);
                let payload = json!({ "relationshipId": e.relationship_id, "deletionDate": deleted_at });
                let id = e.relationship_id.as_str();
                (
                    vec![external(
                        address(&e.peer_of_deleted_identity)?,
                        "PeerDeleted",
                        payload,
                        Some(id),
                    )],
                    Vec::new(),
                )
            }
            "MessageCreated" => {
                let e: MessageCreated = event.payload_as()?;
                let events = e
                    .recipients
                    .iter()
                    .map(|r| {
                        Ok(NewExternalEvent {
                            owner: address(&r.address)?,
                            event_type: "MessageReceived",
                            payload: json!({ "id": e.id }),
                            context: Some(r.relationship_id.clone()),
                            delivery_blocked: r.is_delivery_blocked,
                        })
                    })
                    .collect::<anyhow::Result<Vec<_>>>()?;
                (events, Vec::new())
            }
            "FileOwnershipLocked" => {
                let e: FileOwnershipLocked = event.payload_as()?;
                let payload = json!({ "fileId": e.file_id });
                (
                    vec![external(
                        address(&e.owner_address)?,
                        "FileOwnershipLocked",
                        payload,
                        None,
                    )],
                    Vec::new(),
                )
            }
            "FileOwnershipClaimed" => {
                let e: FileOwnershipClaimed = event.payload_as()?;
                let payload = json!({ "fileId": e.file_id, "newOwnerAddress": e.new_owner_address });
                (
                    vec![external(
                        address(&e.old_owner_address)?,
                        "FileOwnershipClaimed",
                        payload,
                        None,
                    )],
                    Vec::new(),
                )
            }
            "TokenLocked" => {
                let e: TokenLocked = event.payload_as()?;
                match e.created_by {
                    Some(creator) => {
                        let payload = json!({ "tokenId": e.token_id });
                        (
                            vec![external(address(&creator)?, "TokenLocked", payload, None)],
                            Vec::new(),
                        )
                    }
                    None => (Vec::new(), Vec::new()),
                }
            }
            _ => (Vec::new(), Vec::new()),
        })
    }
}

#[async_trait]
impl EventHandler for ExternalEventsHandler {
    fn name(&self) -> &'static str {
        CONSUMER
    }

    fn event_types(&self) -> &'static [&'static str] {
        &[
            "RelationshipStatusChanged",
            "RelationshipReactivationRequested",
            "RelationshipReactivationCompleted",
            "RelationshipTemplateAllocationsExhausted",
            "PeerFeatureFlagsChanged",
            "TokenLocked",
            "MessageCreated",
            "PeerToBeDeleted",
            "PeerDeletionCancelled",
            "PeerDeleted",
            "FileOwnershipLocked",
            "FileOwnershipClaimed",
        ]
    }

    async fn handle(&self, event: &Event) -> anyhow::Result<()> {
        let (events, effects) = Self::plan(event)?;
        self.store
            .add_external_events_once(CONSUMER, &event.id, &events, &effects, self.clock.now())
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

    fn addr(seed: u8) -> String {
        IdentityAddress::derive(&[seed; 32], "localhost").to_string()
    }

    #[test]
    fn status_changes_notify_the_peer_except_when_ready_for_deletion() {
        let payload = |status: &str| json!({ "RelationshipId": "RELx", "NewStatus": status, "Initiator": addr(1), "Peer": addr(2), "WasDueToIdentityDeletion": false });
        let (events, effects) =
            ExternalEventsHandler::plan(&event("RelationshipStatusChanged", payload("Active"))).unwrap();
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
            ExternalEventsHandler::plan(&event("RelationshipStatusChanged", payload("ReadyForDeletion")))
                .unwrap();
        assert!(events.is_empty());
        assert!(
            matches!(&effects[0], ContextEffect::DeleteUnsyncedEventsOf { owner, .. } if owner.to_string() == addr(1))
        );

        let (_, effects) =
            ExternalEventsHandler::plan(&event("RelationshipStatusChanged", payload("Rejected"))).unwrap();
        assert_eq!(
            effects,
            [ContextEffect::DeleteBlockedMessages {
                context: "RELx".into()
            }]
        );
    }

    #[test]
    fn anonymous_token_locks_notify_nobody_and_malformed_payloads_fail() {
        let (events, _) = ExternalEventsHandler::plan(&event(
            "TokenLocked",
            json!({ "TokenId": "TOKx", "CreatedBy": null }),
        ))
        .unwrap();
        assert!(events.is_empty());
        assert!(ExternalEventsHandler::plan(&event("PeerFeatureFlagsChanged", json!({}))).is_err());
    }
}
