//! Strongly typed entity IDs: a three-letter prefix plus 17 random characters from `[A-Za-z0-9]`.
//!
//! Input validation follows upstream's `ValidId` rule: the prefix must match, the value may be at
//! most 20 characters long and must consist of `[A-Za-z0-9]` only. Generated IDs are always 20.

use rand::distributions::{Distribution, Uniform};

/// Total length of a generated ID.
pub const ID_LENGTH: usize = 20;
const ALPHANUMERIC: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/// `count` random characters drawn uniformly from `alphabet` with a cryptographic RNG.
pub fn random_string(alphabet: &[u8], count: usize) -> String {
    let mut rng = rand::thread_rng();
    let pick = Uniform::from(0..alphabet.len());
    (0..count)
        .map(|_| alphabet[pick.sample(&mut rng)] as char)
        .collect()
}

/// Whether `value` is a syntactically valid ID with the given prefix.
pub fn is_valid_id(prefix: &str, value: &str) -> bool {
    value.len() <= ID_LENGTH
        && value.len() > prefix.len()
        && value.starts_with(prefix)
        && value.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// A new random ID with the given prefix.
pub fn generate_id(prefix: &str) -> String {
    format!(
        "{prefix}{}",
        random_string(ALPHANUMERIC, ID_LENGTH - prefix.len())
    )
}

/// Declares a newtype ID with its prefix, generator, parser and serde support.
#[macro_export]
macro_rules! typed_id {
    ($(#[$meta:meta])* $name:ident, $prefix:literal) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            pub const PREFIX: &'static str = $prefix;

            pub fn generate() -> Self {
                Self($crate::ids::generate_id($prefix))
            }

            /// Validates the input against the upstream ID rule.
            pub fn parse(value: &str) -> Option<Self> {
                $crate::ids::is_valid_id($prefix, value).then(|| Self(value.to_owned()))
            }

            /// Wraps a value read back from our own storage, where it was validated on the way in.
            pub fn from_trusted(value: String) -> Self {
                Self(value)
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }

            pub fn into_string(self) -> String {
                self.0
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

typed_id!(
    /// A device of an identity.
    DeviceId,
    "DVC"
);
typed_id!(
    /// The login name of a device.
    Username,
    "USR"
);
typed_id!(
    /// A challenge to be signed by an identity key.
    ChallengeId,
    "CHL"
);
typed_id!(
    /// A tier, which decides an identity's quotas.
    TierId,
    "TIR"
);

typed_id!(
    /// A sync run: one pass of a device fetching its identity's external events.
    SyncRunId,
    "SYR"
);
typed_id!(
    /// An external event: something that happened to an identity while it was away.
    ExternalEventId,
    "SYI"
);
typed_id!(
    /// A recorded failure to process an external event.
    SyncErrorId,
    "SYE"
);
typed_id!(
    /// The encrypted, device-shared state of an identity.
    DatawalletId,
    "DWL"
);
typed_id!(
    /// One change to a datawallet.
    DatawalletModificationId,
    "DWM"
);
typed_id!(
    /// A token: a small encrypted blob shared by ID (and optionally a password).
    TokenId,
    "TOK"
);

typed_id!(
    /// A relationship template: an offer to enter a relationship.
    RelationshipTemplateId,
    "RLT"
);
typed_id!(
    /// A relationship between two identities.
    RelationshipId,
    "REL"
);
typed_id!(
    /// One entry of a relationship's audit log.
    RelationshipAuditLogEntryId,
    "RAL"
);

typed_id!(
    /// A file: encrypted content in blob storage plus its metadata.
    FileId,
    "FIL"
);

typed_id!(
    /// A message from one identity to others.
    MessageId,
    "MSG"
);

typed_id!(
    /// An identity's deletion process.
    IdentityDeletionProcessId,
    "IDP"
);
typed_id!(
    /// An entry of the identity deletion audit log.
    IdentityDeletionAuditLogEntryId,
    "IDA"
);

typed_id!(
    /// An operator's announcement to identities.
    AnnouncementId,
    "ANC"
);

typed_id!(
    /// Identifies a device's push registration to the app (stable across updates).
    DevicePushIdentifierId,
    "DPI"
);

typed_id!(
    /// A quota a tier gives every identity assigned to it.
    TierQuotaDefinitionId,
    "TQD"
);
typed_id!(
    /// A quota given to one identity, hiding its tier's quotas of the same metric.
    QuotaId,
    "QUO"
);

impl TierId {
    /// The fixed tier identities are moved to while their deletion is pending.
    pub fn queued_for_deletion() -> Self {
        Self("TIR00000000000000001".to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_ids_have_prefix_and_length() {
        let id = DeviceId::generate();
        assert_eq!(id.as_str().len(), ID_LENGTH);
        assert!(id.as_str().starts_with("DVC"));
        assert!(DeviceId::parse(id.as_str()).is_some());
    }

    #[test]
    fn parse_applies_the_upstream_rule() {
        assert!(
            DeviceId::parse("DVCshort").is_some(),
            "shorter than 20 is accepted upstream"
        );
        assert!(DeviceId::parse("DVC").is_none());
        assert!(DeviceId::parse("USRaaaaaaaaaaaaaaaaa").is_none());
        assert!(
            DeviceId::parse("DVCaaaaaaaaaaaaaaaaaa").is_none(),
            "21 characters"
        );
        assert!(DeviceId::parse("DVCaaaaaaaa-aaaaaaaa").is_none());
    }
}
