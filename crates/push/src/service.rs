//! Use cases: registering and unregistering devices (N1, N2), the test push (N3), text-only
//! notifications to peers (N4), and [`PushService::send_to_identity`] / [`PushService::send`]
//! for everything else that wants to notify devices.
//!
//! Sending here only *queues* deliveries (one per registration, texts in the device's language)
//! and wakes the sender; no request ever waits for FCM, APNs or an SSE client, and no provider
//! failure can fail the request that caused the push. [`crate::PushSender`] does the sending.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use backbone_core::ids::{DeviceId, DevicePushIdentifierId};
use backbone_core::ports::{DeviceDirectory, IdentityDirectory, RelationshipDirectory};
use backbone_core::status::RelationshipStatus;
use backbone_core::{IdentityAddress, SharedClock, ValidationError};
use tokio::sync::Notify;

use crate::connectors::Connectors;
use crate::domain::{
    distinct_targets, Delivery, Message, NewRegistration, Platform, PushNotification, RegistrationRequest,
};
use crate::error::PushError;
use crate::store::PushStore;
use crate::texts::{TextCatalog, Translations, DEFAULT_LANGUAGE};

/// Which devices a push goes to: all devices of some identities, optionally except one.
#[derive(Debug, Clone, PartialEq)]
pub struct Audience {
    pub identities: Vec<IdentityAddress>,
    pub except_device: Option<DeviceId>,
}

impl Audience {
    pub fn identity(identity: IdentityAddress) -> Self {
        Self::identities(vec![identity])
    }

    pub fn identities(identities: Vec<IdentityAddress>) -> Self {
        Self {
            identities,
            except_device: None,
        }
    }

    #[must_use]
    pub fn except(mut self, device: DeviceId) -> Self {
        self.except_device = Some(device);
        self
    }
}

#[derive(Clone)]
pub struct PushService {
    pub store: PushStore,
    pub connectors: Arc<Connectors>,
    /// Asked whether an identity is active (some pushes go to active identities only).
    pub identities: Arc<dyn IdentityDirectory>,
    /// Asked for the devices of the audience and their languages.
    pub devices: Arc<dyn DeviceDirectory>,
    /// Asked whether sender and recipients of a text-only notification are connected (N4).
    pub relationships: Arc<dyn RelationshipDirectory>,
    pub texts: Arc<TextCatalog>,
    pub clock: SharedClock,
    /// Woken whenever deliveries were queued, so the sender of this process starts at once.
    pub wake: Arc<Notify>,
}

/// N4 recipients per request.
pub const MAX_NOTIFICATION_RECIPIENTS: usize = 100;

impl PushService {
    /// N1: validates, checks the app id against the configuration, then creates or overwrites
    /// the device's registration. Nothing is written if anything is wrong.
    pub async fn register(
        &self,
        identity: &IdentityAddress,
        device: &DeviceId,
        request: RegistrationRequest,
    ) -> Result<DevicePushIdentifierId, PushError> {
        let registration = request
            .validate()
            .map_err(ValidationError::invalid_property_value)?;
        self.connectors.check_registration(&registration)?;
        self.store
            .upsert_registration(identity, device, &registration, self.clock.now())
            .await
            .map_err(PushError::from)
    }

    /// What an SSE connection does for its device (replaces an FCM or APNs registration).
    pub async fn register_sse(
        &self,
        identity: &IdentityAddress,
        device: &DeviceId,
    ) -> Result<DevicePushIdentifierId, PushError> {
        let registration = NewRegistration::sse();
        self.connectors.check_registration(&registration)?;
        self.store
            .upsert_registration(identity, device, &registration, self.clock.now())
            .await
            .map_err(PushError::from)
    }

    /// N2: no error if the device has no registration.
    pub async fn unregister(&self, device: &DeviceId) -> Result<(), PushError> {
        if self.store.delete_registration(device).await? {
            tracing::info!(%device, "unregistered the device from push notifications");
        }
        Ok(())
    }

    /// N3: a `Test` push with the caller's data to all devices of the caller's identity.
    pub async fn send_test(
        &self,
        identity: &IdentityAddress,
        data: serde_json::Value,
    ) -> Result<(), PushError> {
        self.send(
            Audience::identity(identity.clone()),
            &PushNotification::Test { data },
        )
        .await?;
        Ok(())
    }

    /// N4: a configured text-only notification to peers. Every recipient's youngest
    /// relationship with the caller must exist and be pending, active or terminated.
    pub async fn send_text_notification(
        &self,
        sender: &IdentityAddress,
        recipients: &[String],
        code: &str,
    ) -> Result<(), PushError> {
        if recipients.is_empty() || recipients.len() > MAX_NOTIFICATION_RECIPIENTS {
            return Err(ValidationError::invalid_property_value(format!(
                "'recipients' must contain between 1 and {MAX_NOTIFICATION_RECIPIENTS} addresses."
            ))
            .into());
        }
        let recipients = recipients
            .iter()
            .map(|r| IdentityAddress::parse(r).ok_or_else(|| ValidationError::invalid_id("recipients")))
            .collect::<Result<Vec<_>, _>>()?;
        if code.trim().is_empty() {
            return Err(ValidationError::invalid_property_value("'code' must not be empty.").into());
        }
        // Upstream's order: relationships first, then the code.
        let statuses = self.relationship_statuses(sender, &recipients).await?;
        if statuses.iter().any(|status| {
            !matches!(
                status,
                RelationshipStatus::Pending | RelationshipStatus::Active | RelationshipStatus::Terminated
            )
        }) {
            return Err(PushError::RelationshipToRecipientIsNotInCorrectStatus);
        }
        let Some(texts) = self.texts.for_code(code) else {
            return Err(PushError::CodeDoesNotExist(
                self.texts.codes().map(str::to_owned).collect(),
            ));
        };
        let deliveries = self
            .plan(
                &Audience::identities(recipients),
                &Message::text_only(code),
                texts,
            )
            .await?;
        self.queue(deliveries).await?;
        Ok(())
    }

    /// The status of the youngest relationship between `sender` and each recipient; an error
    /// naming the recipients without one.
    async fn relationship_statuses(
        &self,
        sender: &IdentityAddress,
        recipients: &[IdentityAddress],
    ) -> Result<Vec<RelationshipStatus>, PushError> {
        // One connection for all questions, given back before anything else is read.
        let mut conn = self.store.db().pool().acquire().await?;
        let mut statuses = Vec::with_capacity(recipients.len());
        let mut missing = Vec::new();
        for recipient in recipients {
            match self
                .relationships
                .youngest_between(&mut conn, sender, recipient)
                .await?
            {
                Some(relationship) => statuses.push(relationship.status),
                None => missing.push(recipient.to_string()),
            }
        }
        if !missing.is_empty() {
            return Err(PushError::NoRelationshipToOneOrMoreRecipientsExists(missing));
        }
        Ok(statuses)
    }

    /// Pushes `notification` to every registered device of `identity`, with the built-in (or
    /// configured) texts in each device's language. Returns how many deliveries were queued.
    ///
    /// For jobs such as the deletion-process reminders. Only queues: returns without waiting
    /// for any push service, and provider failures are retried by the sender.
    pub async fn send_to_identity(
        &self,
        identity: &IdentityAddress,
        notification: &PushNotification,
    ) -> anyhow::Result<usize> {
        self.send(Audience::identity(identity.clone()), notification)
            .await
    }

    /// Pushes `notification` to the audience's registered devices (queued; see above).
    pub async fn send(&self, audience: Audience, notification: &PushNotification) -> anyhow::Result<usize> {
        let texts = self.texts.for_event(notification.event_name());
        self.send_with_texts(audience, notification, &texts).await
    }

    /// Like [`Self::send`] with texts given per language (announcements bring their own).
    pub async fn send_with_texts(
        &self,
        audience: Audience,
        notification: &PushNotification,
        texts: &Translations,
    ) -> anyhow::Result<usize> {
        let deliveries = self.plan(&audience, &Message::of(notification), texts).await?;
        self.queue(deliveries).await
    }

    /// Queues the deliveries of an event unless `consumer` handled `event_id` before; for
    /// idempotent event handlers.
    pub async fn send_once(
        &self,
        consumer: &str,
        event_id: &str,
        audience: Audience,
        notification: &PushNotification,
    ) -> anyhow::Result<usize> {
        let texts = self.texts.for_event(notification.event_name());
        self.send_once_with_texts(consumer, event_id, audience, notification, &texts)
            .await
    }

    /// Like [`Self::send_once`] with texts given per language (announcements bring their own).
    pub async fn send_once_with_texts(
        &self,
        consumer: &str,
        event_id: &str,
        audience: Audience,
        notification: &PushNotification,
        texts: &Translations,
    ) -> anyhow::Result<usize> {
        let deliveries = self.plan(&audience, &Message::of(notification), texts).await?;
        if deliveries.is_empty() {
            // Nothing to do, so nothing to remember either.
            return Ok(0);
        }
        let mut tx = self.store.db().begin_write().await?;
        if !backbone_db::processed::mark_processed(&mut tx, consumer, event_id).await? {
            return Ok(0);
        }
        self.store
            .insert_deliveries(&mut tx, &deliveries, self.clock.now())
            .await?;
        tx.commit().await?;
        self.wake.notify_one();
        Ok(deliveries.len())
    }

    async fn queue(&self, deliveries: Vec<Delivery>) -> anyhow::Result<usize> {
        if deliveries.is_empty() {
            return Ok(0);
        }
        let mut tx = self.store.db().begin_write().await?;
        self.store
            .insert_deliveries(&mut tx, &deliveries, self.clock.now())
            .await?;
        tx.commit().await?;
        self.wake.notify_one();
        Ok(deliveries.len())
    }

    /// One delivery per distinct target among the audience's registrations, with the text of
    /// the device's language (falling back to English).
    async fn plan(
        &self,
        audience: &Audience,
        message: &Message,
        texts: &Translations,
    ) -> anyhow::Result<Vec<Delivery>> {
        let registrations: Vec<_> = self
            .store
            .registrations_of(&audience.identities)
            .await?
            .into_iter()
            .filter(|r| audience.except_device.as_ref() != Some(&r.device_id))
            // Text-only notifications are not forwarded via SSE.
            .filter(|r| !(message.is_text_only() && r.platform == Platform::Sse))
            .collect();
        if registrations.is_empty() {
            return Ok(Vec::new());
        }
        let languages: HashMap<DeviceId, String> = self
            .devices
            .devices_of(&audience.identities)
            .await?
            .into_iter()
            .map(|d| (d.device_id, d.communication_language))
            .collect();
        let mut by_language: BTreeMap<&str, _> = BTreeMap::new();
        Ok(distinct_targets(registrations)
            .iter()
            .map(|registration| {
                let language = languages
                    .get(&registration.device_id)
                    .map_or(DEFAULT_LANGUAGE, String::as_str);
                let text = by_language
                    .entry(language)
                    .or_insert_with(|| texts.for_language(language))
                    .clone();
                Delivery::new(registration, message, text)
            })
            .collect())
    }
}
