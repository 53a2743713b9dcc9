//! Statuses that cross module boundaries. The module that owns the entity decides the status;
//! others ask for it through a port or read it from an event, and get these enums, never the
//! stored text.

use serde::{Deserialize, Serialize};

/// A stored or received name that is none of an enum's variants. Stores turn it into a decode
/// error: an unknown value means the data or the code is wrong, so guessing a default would
/// only hide it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {kind} {value:?}")]
pub struct UnknownValue {
    pub kind: &'static str,
    pub value: String,
}

/// Declares a status enum whose wire and storage form is the variant name (upstream's).
macro_rules! status_enum {
    ($(#[$meta:meta])* $name:ident, $kind:literal { $($(#[$variant_meta:meta])* $variant:ident),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        pub enum $name {
            $($(#[$variant_meta])* $variant),+
        }

        impl $name {
            pub const ALL: &'static [Self] = &[$(Self::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => stringify!($variant)),+
                }
            }

            pub fn parse(value: &str) -> Result<Self, UnknownValue> {
                Self::ALL
                    .iter()
                    .copied()
                    .find(|status| status.as_str() == value)
                    .ok_or_else(|| UnknownValue {
                        kind: $kind,
                        value: value.to_owned(),
                    })
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

status_enum!(
    /// Where a relationship stands (spec consumer-api-exchange §4.2). Owned by the
    /// Relationships module; Messages and Push decide by it what may be sent.
    RelationshipStatus, "relationship status" {
        Pending,
        Active,
        Rejected,
        Revoked,
        Terminated,
        DeletionProposed,
        ReadyForDeletion,
    }
);

status_enum!(
    /// Where an identity stands in its life (spec consumer-api-identity §6). Owned by the
    /// Devices module; the other modules ask whether it may still act.
    IdentityStatus, "identity status" {
        Active,
        /// Its deletion process started; the grace period runs.
        ToBeDeleted,
        /// The grace period is over and its data is being deleted.
        Deleting,
    }
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_unknown_names_are_errors() {
        for status in RelationshipStatus::ALL {
            assert_eq!(RelationshipStatus::parse(status.as_str()), Ok(*status));
            assert_eq!(
                serde_json::to_value(status).unwrap(),
                serde_json::json!(status.as_str())
            );
        }
        for status in IdentityStatus::ALL {
            assert_eq!(IdentityStatus::parse(status.as_str()), Ok(*status));
        }
        assert_eq!(
            IdentityStatus::parse("Frozen").unwrap_err().to_string(),
            "unknown identity status \"Frozen\""
        );
        assert!(RelationshipStatus::parse("active").is_err());
        assert!(serde_json::from_value::<RelationshipStatus>(serde_json::json!("Gone")).is_err());
    }
}
