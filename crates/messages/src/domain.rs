//! Messages and the rules of who sees what.

use backbone_core::ids::{DeviceId, MessageId};
use backbone_core::status::RelationshipStatus;
use backbone_core::IdentityAddress;
use chrono::{DateTime, Utc};

/// At most this many attachments per message.
pub const MAX_ATTACHMENTS: usize = 20;
/// The body is 1 byte to 10 MiB of ciphertext.
pub const MAX_BODY_BYTES: usize = 10 * 1024 * 1024;

#[derive(Debug, Clone, PartialEq)]
pub struct Recipient {
    pub address: IdentityAddress,
    pub relationship_id: String,
    pub encrypted_key: Vec<u8>,
    pub received_at: Option<DateTime<Utc>>,
    pub received_by_device: Option<DeviceId>,
    pub decomposed_by_sender: bool,
    pub decomposed_by_recipient: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    pub id: MessageId,
    pub created_at: DateTime<Utc>,
    pub created_by: IdentityAddress,
    pub created_by_device: DeviceId,
    pub body: Vec<u8>,
    pub attachments: Vec<String>,
    pub recipients: Vec<Recipient>,
}

/// Whether a message may travel on a relationship in this status: not once it was rejected,
/// revoked or is being decomposed.
pub fn allows_sending(status: RelationshipStatus) -> bool {
    matches!(
        status,
        RelationshipStatus::Active | RelationshipStatus::Pending | RelationshipStatus::Terminated
    )
}

/// Messages on pending or terminated relationships wait for the relationship to be active.
pub fn blocks_delivery(status: RelationshipStatus) -> bool {
    matches!(
        status,
        RelationshipStatus::Pending | RelationshipStatus::Terminated
    )
}

impl Message {
    /// The sender sees the message until it decomposed the relationship with every recipient;
    /// a recipient until it decomposed its own.
    pub fn is_visible_to(&self, caller: &IdentityAddress) -> bool {
        (&self.created_by == caller && self.recipients.iter().any(|r| !r.decomposed_by_sender))
            || self
                .recipients
                .iter()
                .any(|r| &r.address == caller && !r.decomposed_by_recipient)
    }

    /// What the caller gets to see: the sender all recipients (anonymised where it decomposed),
    /// a recipient only its own entry.
    #[must_use]
    pub fn shaped_for(mut self, caller: &IdentityAddress, anonymous: &IdentityAddress) -> Self {
        if &self.created_by == caller {
            for recipient in &mut self.recipients {
                if recipient.decomposed_by_sender {
                    recipient.address = anonymous.clone();
                }
            }
        } else {
            self.recipients.retain(|r| &r.address == caller);
        }
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn address(seed: u8) -> IdentityAddress {
        IdentityAddress::derive(&[seed; 32], "localhost")
    }

    fn message() -> Message {
        let recipient = |seed| Recipient {
            address: address(seed),
            relationship_id: format!("REL{seed}"),
            encrypted_key: vec![0; 30],
            received_at: None,
            received_by_device: None,
            decomposed_by_sender: false,
            decomposed_by_recipient: false,
        };
        Message {
            id: MessageId::generate(),
            created_at: Utc::now(),
            created_by: address(1),
            created_by_device: DeviceId::generate(),
            body: vec![1],
            attachments: vec![],
            recipients: vec![recipient(2), recipient(3)],
        }
    }

    #[test]
    fn recipients_see_only_themselves_and_the_sender_sees_all() {
        let anonymous = IdentityAddress::anonymous("localhost");
        let shaped = message().shaped_for(&address(2), &anonymous);
        assert_eq!(shaped.recipients.len(), 1);
        assert_eq!(shaped.recipients[0].address, address(2));
        let mut decomposed = message();
        decomposed.recipients[0].decomposed_by_sender = true;
        let shaped = decomposed.shaped_for(&address(1), &anonymous);
        assert_eq!(shaped.recipients[0].address, anonymous);
        assert_eq!(shaped.recipients[1].address, address(3));
    }

    #[test]
    fn decomposition_hides_messages() {
        let mut m = message();
        m.recipients[0].decomposed_by_recipient = true;
        assert!(!m.is_visible_to(&address(2)));
        assert!(m.is_visible_to(&address(3)));
        m.recipients
            .iter_mut()
            .for_each(|r| r.decomposed_by_sender = true);
        assert!(!m.is_visible_to(&address(1)));
        assert!(!m.is_visible_to(&address(4)));
    }
}
