//! Pushes caused by other modules' domain events (spec §8.2). The handler only queues
//! deliveries (idempotently, keyed by the event id); the sender delivers them.

use async_trait::async_trait;
use backbone_core::ids::DeviceId;
use backbone_core::IdentityAddress;
use backbone_eventbus::{Event, EventHandler};
use serde::Deserialize;

use crate::domain::PushNotification;
use crate::service::{Audience, PushService};

const CONSUMER: &str = "Devices.PushNotifications";

/// The event types that lead to pushes.
pub const EVENT_TYPES: &[&str] = &[
    "ExternalEventCreated",
    "DatawalletModified",
    "BackupDeviceUsed",
    "TokenLocked",
    "IdentityToBeDeleted",
    "IdentityDeletionCancelled",
    "IdentityDeleted",
    "DeletionProcessGracePeriodReminder",
];

pub struct PushEventsHandler {
    pub service: PushService,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ExternalEventCreated {
    owner: String,
    #[serde(default)]
    is_delivery_blocked: bool,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DatawalletModified {
    identity: String,
    modified_by_device: String,
}

/// `BackupDeviceUsed`, `IdentityToBeDeleted`, `IdentityDeletionCancelled`, `IdentityDeleted`.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct OfIdentity {
    identity_address: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct GracePeriodReminder {
    identity_address: String,
    days_until_deletion: i64,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct TokenLocked {
    created_by: Option<String>,
}

fn address(text: &str) -> anyhow::Result<IdentityAddress> {
    IdentityAddress::parse(text).ok_or_else(|| anyhow::anyhow!("invalid address {text}"))
}

/// Who gets which push for an event, and whether the recipient must be active; `None` when the
/// event causes no push.
fn decide(event: &Event) -> anyhow::Result<Option<(Audience, PushNotification, bool)>> {
    Ok(Some(match event.event_type.as_str() {
        "ExternalEventCreated" => {
            let created: ExternalEventCreated = event.payload_as()?;
            if created.is_delivery_blocked {
                return Ok(None);
            }
            (
                Audience::identity(address(&created.owner)?),
                PushNotification::ExternalEventCreated,
                true,
            )
        }
        "DatawalletModified" => {
            let modified: DatawalletModified = event.payload_as()?;
            let device = DeviceId::parse(&modified.modified_by_device)
                .ok_or_else(|| anyhow::anyhow!("invalid device {}", modified.modified_by_device))?;
            (
                Audience::identity(address(&modified.identity)?).except(device.clone()),
                PushNotification::DatawalletModificationsCreated {
                    created_by_device: device,
                },
                false,
            )
        }
        "TokenLocked" => {
            let locked: TokenLocked = event.payload_as()?;
            let Some(creator) = locked.created_by else {
                return Ok(None);
            };
            (
                Audience::identity(address(&creator)?),
                PushNotification::TokenLocked,
                true,
            )
        }
        "DeletionProcessGracePeriodReminder" => {
            let reminder: GracePeriodReminder = event.payload_as()?;
            (
                Audience::identity(address(&reminder.identity_address)?),
                PushNotification::DeletionProcessGracePeriodReminder {
                    days_until_deletion: reminder.days_until_deletion,
                },
                false,
            )
        }
        other => {
            let notification = match other {
                "BackupDeviceUsed" => PushNotification::BackupDeviceUsed,
                "IdentityToBeDeleted" => PushNotification::DeletionProcessStarted,
                "IdentityDeletionCancelled" => PushNotification::DeletionProcessCancelledByOwner,
                "IdentityDeleted" => PushNotification::DeletionStarts,
                _ => return Ok(None),
            };
            let of: OfIdentity = event.payload_as()?;
            (
                Audience::identity(address(&of.identity_address)?),
                notification,
                false,
            )
        }
    }))
}

#[async_trait]
impl EventHandler for PushEventsHandler {
    fn name(&self) -> &'static str {
        CONSUMER
    }

    fn event_types(&self) -> &'static [&'static str] {
        EVENT_TYPES
    }

    async fn handle(&self, event: &Event) -> anyhow::Result<()> {
        let Some((audience, notification, only_if_active)) = decide(event)? else {
            return Ok(());
        };
        if only_if_active {
            for identity in &audience.identities {
                if !self.service.devices.is_active(identity).await? {
                    return Ok(());
                }
            }
        }
        self.service
            .send_once(CONSUMER, &event.id, audience, &notification)
            .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn event(event_type: &str, payload: serde_json::Value) -> Event {
        Event {
            id: "1".into(),
            event_type: event_type.into(),
            payload,
            created_at: chrono::Utc::now(),
        }
    }

    #[test]
    fn events_map_to_notifications() {
        let owner = IdentityAddress::derive(&[1; 32], "localhost");
        let a = owner.as_str();
        let decided = |event_type: &str, payload| decide(&event(event_type, payload)).unwrap();

        let (audience, notification, active) = decided(
            "ExternalEventCreated",
            json!({ "EventId": "SYI1", "Owner": a, "IsDeliveryBlocked": false }),
        )
        .unwrap();
        assert_eq!(audience, Audience::identity(owner.clone()));
        assert_eq!(notification, PushNotification::ExternalEventCreated);
        assert!(active);
        assert!(decided(
            "ExternalEventCreated",
            json!({ "EventId": "SYI1", "Owner": a, "IsDeliveryBlocked": true })
        )
        .is_none());

        let (audience, notification, _) = decided(
            "DatawalletModified",
            json!({ "Identity": a, "ModifiedByDevice": "DVCaaaaaaaaaaaaaaaaa" }),
        )
        .unwrap();
        let device = DeviceId::from_trusted("DVCaaaaaaaaaaaaaaaaa".into());
        assert_eq!(audience.except_device, Some(device.clone()));
        assert_eq!(
            notification,
            PushNotification::DatawalletModificationsCreated {
                created_by_device: device
            }
        );

        let (_, notification, active) =
            decided("TokenLocked", json!({ "TokenId": "TOK1", "CreatedBy": a })).unwrap();
        assert_eq!(notification, PushNotification::TokenLocked);
        assert!(active);
        assert!(decided("TokenLocked", json!({ "TokenId": "TOK1", "CreatedBy": null })).is_none());

        for (event_type, expected) in [
            ("BackupDeviceUsed", PushNotification::BackupDeviceUsed),
            ("IdentityToBeDeleted", PushNotification::DeletionProcessStarted),
            (
                "IdentityDeletionCancelled",
                PushNotification::DeletionProcessCancelledByOwner,
            ),
            ("IdentityDeleted", PushNotification::DeletionStarts),
        ] {
            let payload = json!({ "IdentityAddress": a, "GracePeriodEndsAt": "2030-01-01T00:00:00Z" });
            let (audience, notification, active) = decided(event_type, payload).unwrap();
            assert_eq!(audience, Audience::identity(owner.clone()), "{event_type}");
            assert_eq!(notification, expected);
            assert!(!active);
        }
        let (_, notification, _) = decided(
            "DeletionProcessGracePeriodReminder",
            json!({ "IdentityAddress": a, "DaysUntilDeletion": 5 }),
        )
        .unwrap();
        assert_eq!(
            notification,
            PushNotification::DeletionProcessGracePeriodReminder {
                days_until_deletion: 5
            }
        );
        assert!(decide(&event("ExternalEventCreated", json!({}))).is_err());
    }
}
