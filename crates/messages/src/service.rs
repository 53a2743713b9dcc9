//! Use cases of the Messages module.

use std::sync::Arc;

use backbone_core::events::messages::{MessageCreated, MessageRecipient};
use backbone_core::events::DomainEvent;
use backbone_core::ids::{DeviceId, MessageId, RelationshipId};
use backbone_core::paging::{Page, PageRequest, PagingLimits};
use backbone_core::ports::{RelationshipBetween, RelationshipDirectory};
use backbone_core::quotas::MetricKey;
use backbone_core::{IdentityAddress, SharedClock, ValidationError};
use backbone_db::sqlx;

use crate::domain::{allows_sending, blocks_delivery, Message, Recipient, MAX_ATTACHMENTS, MAX_BODY_BYTES};
use crate::store::MessagesStore;
use crate::MessagesError;

pub use backbone_core::ports::QuotaGate;

#[derive(Debug, Clone)]
pub struct MessagesSettings {
    pub max_number_of_recipients: usize,
    pub max_number_of_unreceived_messages_from_one_sender: i64,
    /// Replaces identities in messages once relationships are decomposed.
    pub anonymous_address: IdentityAddress,
    pub paging: PagingLimits,
}

#[derive(Clone)]
pub struct MessagesService {
    pub store: MessagesStore,
    pub clock: SharedClock,
    pub relationships: Arc<dyn RelationshipDirectory>,
    pub quotas: Arc<dyn QuotaGate>,
    pub settings: Arc<MessagesSettings>,
}

/// A recipient as the sender names it.
#[derive(Debug, Clone)]
pub struct NewRecipient {
    pub address: IdentityAddress,
    pub encrypted_key: Vec<u8>,
}

/// `MessageCreated`, with whether each recipient's delivery waits for its relationship.
fn created_event(message: &Message, blocked: &[bool]) -> DomainEvent {
    DomainEvent::from_event(&MessageCreated {
        id: message.id.clone(),
        recipients: message
            .recipients
            .iter()
            .zip(blocked)
            .map(|(r, blocked)| MessageRecipient {
                address: r.address.clone(),
                relationship_id: RelationshipId::from_trusted(r.relationship_id.clone()),
                is_delivery_blocked: *blocked,
            })
            .collect(),
        created_by: message.created_by.clone(),
    })
}

impl MessagesService {
    /// §5.2
    pub async fn send(
        &self,
        sender: &IdentityAddress,
        device: &DeviceId,
        recipients: Vec<NewRecipient>,
        body: Vec<u8>,
        attachments: Vec<String>,
    ) -> Result<Message, MessagesError> {
        self.validate(&recipients, &body, &attachments)?;
        let now = self.clock.now();
        let mut tx = self.store.db().begin_write().await?;
        self.quotas
            .check(&mut tx, sender, &[MetricKey::NumberOfSentMessages], now)
            .await?
            .map_err(MessagesError::QuotaExhausted)?;
        let mut stored = Vec::with_capacity(recipients.len());
        let mut blocked = Vec::with_capacity(recipients.len());
        for recipient in recipients {
            let relationship = self.relationship_to(&mut tx, sender, &recipient.address).await?;
            blocked.push(blocks_delivery(relationship.status));
            stored.push(Recipient {
                address: recipient.address,
                relationship_id: relationship.id.into_string(),
                encrypted_key: recipient.encrypted_key,
                received_at: None,
                received_by_device: None,
                decomposed_by_sender: false,
                decomposed_by_recipient: false,
            });
        }
        let message = Message {
            id: MessageId::generate(),
            created_at: now,
            created_by: sender.clone(),
            created_by_device: device.clone(),
            body,
            attachments,
            recipients: stored,
        };
        let event = created_event(&message, &blocked);
        self.store.insert_message(&mut tx, &message).await?;
        backbone_db::outbox::enqueue(&mut tx, &event, now).await?;
        tx.commit().await?;
        Ok(message)
    }

    /// The relationship a message to `recipient` travels on, checked in upstream's order: it
    /// exists, allows sending, and the recipient has not too many unreceived messages from
    /// `sender`. Asked on the send's transaction.
    async fn relationship_to(
        &self,
        tx: &mut sqlx::AnyConnection,
        sender: &IdentityAddress,
        recipient: &IdentityAddress,
    ) -> Result<RelationshipBetween, MessagesError> {
        let relationship = self
            .relationships
            .youngest_between(tx, sender, recipient)
            .await?
            .ok_or_else(|| MessagesError::NoRelationshipToRecipientExists(recipient.to_string()))?;
        if !allows_sending(relationship.status) {
            return Err(MessagesError::RelationshipToRecipientNotActive(
                recipient.to_string(),
            ));
        }
        let max = self.settings.max_number_of_unreceived_messages_from_one_sender;
        if self.store.unreceived_count(tx, sender, recipient).await? >= max {
            return Err(MessagesError::MaxNumberOfUnreceivedMessagesReached(
                recipient.to_string(),
                max,
            ));
        }
        Ok(relationship)
    }

    fn validate(
        &self,
        recipients: &[NewRecipient],
        body: &[u8],
        attachments: &[String],
    ) -> Result<(), ValidationError> {
        let max = self.settings.max_number_of_recipients;
        if recipients.is_empty() || recipients.len() > max {
            return Err(ValidationError::invalid_property_value(format!(
                "'recipients' must contain between 1 and {max} items. You entered {}.",
                recipients.len()
            )));
        }
        for (index, recipient) in recipients.iter().enumerate() {
            if recipients[..index].iter().any(|r| r.address == recipient.address) {
                return Err(ValidationError::invalid_property_value(
                    "'recipients' must not contain an address twice.",
                ));
            }
            let length = recipient.encrypted_key.len();
            if !(30..=300).contains(&length) {
                return Err(ValidationError::invalid_property_value(format!(
                    "'encryptedKey' must be between 30 and 300 bytes long. You entered {length} bytes."
                )));
            }
        }
        if body.is_empty() || body.len() > MAX_BODY_BYTES {
            return Err(ValidationError::invalid_property_value(format!(
                "'body' must be between 1 and {MAX_BODY_BYTES} bytes long. You entered {} bytes.",
                body.len()
            )));
        }
        if attachments.len() > MAX_ATTACHMENTS {
            return Err(ValidationError::invalid_property_value(format!(
                "'attachments' must contain at most {MAX_ATTACHMENTS} items."
            )));
        }
        if let Some(invalid) = attachments
            .iter()
            .find(|id| !backbone_core::ids::is_valid_id("FIL", id))
        {
            // Upstream leaks FluentValidation's default code for this rule.
            return Err(ValidationError::new(
                "PredicateValidator",
                format!("'{invalid}' is not a valid file ID."),
            ));
        }
        Ok(())
    }

    /// §5.3: fetching as a recipient marks the message received.
    pub async fn get(
        &self,
        caller: &IdentityAddress,
        device: &DeviceId,
        id: &MessageId,
    ) -> Result<Message, MessagesError> {
        let mut conn = self.store.db().pool().acquire().await?;
        let message = self.store.find_visible(&mut conn, caller, id).await?;
        drop(conn);
        let mut message = message.ok_or(MessagesError::NotFound("Message"))?;
        self.mark_received(std::slice::from_mut(&mut message), caller, device)
            .await?;
        Ok(message.shaped_for(caller, &self.settings.anonymous_address))
    }

    /// §5.4
    pub async fn list(
        &self,
        caller: &IdentityAddress,
        device: &DeviceId,
        ids: &[MessageId],
        page: PageRequest,
    ) -> Result<Page<Message>, MessagesError> {
        let mut conn = self.store.db().pool().acquire().await?;
        let mut page = self.store.list_visible(&mut conn, caller, ids, page).await?;
        drop(conn);
        self.mark_received(&mut page.items, caller, device).await?;
        let anonymous = self.settings.anonymous_address.clone();
        Ok(page.map(|m| m.shaped_for(caller, &anonymous)))
    }

    /// Marks the caller's not yet received entries of these messages received. Reads need no
    /// write transaction (on SQLite that would take the database's write lock for every
    /// read): one is opened only when there is something to mark, and the update itself
    /// only touches entries still unreceived, so concurrent readers cannot overwrite it.
    async fn mark_received(
        &self,
        messages: &mut [Message],
        caller: &IdentityAddress,
        device: &DeviceId,
    ) -> Result<(), MessagesError> {
        let unreceived = |m: &Message| {
            m.recipients
                .iter()
                .any(|r| &r.address == caller && r.received_at.is_none())
        };
        if !messages.iter().any(unreceived) {
            return Ok(());
        }
        let now = self.clock.now();
        let mut tx = self.store.db().begin_write().await?;
        for message in messages.iter_mut() {
            let Some(entry) = message
                .recipients
                .iter_mut()
                .find(|r| &r.address == caller && r.received_at.is_none())
            else {
                continue;
            };
            self.store
                .mark_received(&mut tx, &message.id, caller, device, now)
                .await?;
            entry.received_at = Some(now);
            entry.received_by_device = Some(device.clone());
        }
        Ok(tx.commit().await?)
    }
}
