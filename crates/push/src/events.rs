//! Pushes caused by other modules' domain events (spec §8.2). The handler only queues
//! deliveries (idempotently, keyed by the event id); the sender delivers them.

use async_trait::async_trait;
use backbone_core::event_set;
use backbone_core::events::devices::{
    BackupDeviceUsed, DeletionProcessGracePeriodReminder, IdentityDeleted, IdentityDeletionCancelled,
    IdentityToBeDeleted,
};
use backbone_core::events::synchronization::{DatawalletModified, ExternalEventCreated};
use backbone_core::events::tokens::TokenLocked;
use backbone_core::status::IdentityStatus;
use backbone_eventbus::{Event, Subscriber};

use crate::domain::PushNotification;
use crate::service::{Audience, PushService};

pub struct PushEventsHandler {
    pub service: PushService,
}

event_set! {
    /// The events that lead to pushes.
    pub enum Incoming {
        ExternalEventCreated(ExternalEventCreated),
        DatawalletModified(DatawalletModified),
        BackupDeviceUsed(BackupDeviceUsed),
        TokenLocked(TokenLocked),
        IdentityToBeDeleted(IdentityToBeDeleted),
        IdentityDeletionCancelled(IdentityDeletionCancelled),
        IdentityDeleted(IdentityDeleted),
        DeletionProcessGracePeriodReminder(DeletionProcessGracePeriodReminder),
    }
}

/// Who gets which push for an event, and whether the recipient must be active; `None` when the
/// event causes no push.
fn decide(incoming: Incoming) -> Option<(Audience, PushNotification, bool)> {
    Some(match incoming {
        Incoming::ExternalEventCreated(created) => {
            if created.is_delivery_blocked {
                return None;
            }
            (
                Audience::identity(created.owner),
                PushNotification::ExternalEventCreated,
                true,
            )
        }
        Incoming::DatawalletModified(modified) => {
            let device = modified.modified_by_device;
            (
                Audience::identity(modified.identity).except(device.clone()),
                PushNotification::DatawalletModificationsCreated {
                    created_by_device: device,
                },
                false,
            )
        }
        Incoming::TokenLocked(locked) => (
            Audience::identity(locked.created_by?),
            PushNotification::TokenLocked,
            true,
        ),
        Incoming::DeletionProcessGracePeriodReminder(reminder) => (
            Audience::identity(reminder.identity_address),
            PushNotification::DeletionProcessGracePeriodReminder {
                days_until_deletion: reminder.days_until_deletion,
            },
            false,
        ),
        Incoming::BackupDeviceUsed(e) => (
            Audience::identity(e.identity_address),
            PushNotification::BackupDeviceUsed,
            false,
        ),
        Incoming::IdentityToBeDeleted(e) => (
            Audience::identity(e.identity_address),
            PushNotification::DeletionProcessStarted,
            false,
        ),
        Incoming::IdentityDeletionCancelled(e) => (
            Audience::identity(e.identity_address),
            PushNotification::DeletionProcessCancelledByOwner,
            false,
        ),
        Incoming::IdentityDeleted(e) => (
            Audience::identity(e.identity_address),
            PushNotification::DeletionStarts,
            false,
        ),
    })
}

#[async_trait]
impl Subscriber for PushEventsHandler {
    const NAME: &'static str = "Devices.PushNotifications";
    type Events = Incoming;

    async fn on_event(&self, event: &Event, incoming: Incoming) -> anyhow::Result<()> {
        let Some((audience, notification, only_if_active)) = decide(incoming) else {
            return Ok(());
        };
        if only_if_active {
            for identity in &audience.identities {
                let status = self.service.identities.status_of(identity).await?;
                if status != Some(IdentityStatus::Active) {
                    return Ok(());
                }
            }
        }
        self.service
            .send_once(Self::NAME, &event.id, audience, &notification)
            .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use backbone_core::ids::DeviceId;
    use backbone_core::IdentityAddress;
    use serde_json::json;

    /// Decodes like the bus, then decides.
    fn decide_event(event: &Event) -> anyhow::Result<Option<(Audience, PushNotification, bool)>> {
        Ok(event.decode::<Incoming>()?.and_then(decide))
    }

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
        let decided = |event_type: &str, payload| decide_event(&event(event_type, payload)).unwrap();

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
        assert!(decide_event(&event("ExternalEventCreated", json!({}))).is_err());
    }
}
