//! Entities and rules of the Devices module.

use backbone_core::ids::{DeviceId, TierId, Username};
pub use backbone_core::status::IdentityStatus;
use backbone_core::IdentityAddress;
use chrono::{DateTime, Utc};

use crate::DevicesError;

#[derive(Debug, Clone)]
pub struct Identity {
    pub address: IdentityAddress,
    pub client_id: Option<String>,
    /// The JSON-wrapped public key exactly as the client sent it (decoded from base64).
    pub public_key: Vec<u8>,
    pub tier_id: TierId,
    pub created_at: DateTime<Utc>,
    pub identity_version: i64,
    pub status: IdentityStatus,
    pub deletion_grace_period_ends_at: Option<DateTime<Utc>>,
}

impl Identity {
    /// Once the grace period is over the identity can no longer log in and counts as deleted.
    pub fn grace_period_is_over(&self, now: DateTime<Utc>) -> bool {
        self.deletion_grace_period_ends_at.is_some_and(|ends| ends < now)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Device {
    pub id: DeviceId,
    pub identity_address: IdentityAddress,
    pub username: Username,
    pub created_at: DateTime<Utc>,
    pub created_by_device: DeviceId,
    pub last_login_at: Option<DateTime<Utc>>,
    pub communication_language: String,
    pub is_backup_device: bool,
}

impl Device {
    /// A device is onboarded once it has logged in; onboarded devices cannot be deleted.
    pub fn is_onboarded(&self) -> bool {
        self.last_login_at.is_some()
    }
}

/// A device together with what the login needs.
#[derive(Debug, Clone)]
pub struct DeviceLogin {
    pub device: Device,
    pub password_hash: String,
    pub failed_login_attempts: i64,
    pub locked_out_until: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Tier {
    pub id: TierId,
    pub name: String,
    pub can_be_used_as_default_for_client: bool,
    pub can_be_manually_assigned: bool,
}

impl Tier {
    pub const BASIC: &'static str = "Basic";

    /// Tier names are 3 to 30 characters long.
    pub fn validate_name(name: &str) -> Result<(), &'static str> {
        match name.chars().count() {
            3..=30 => Ok(()),
            _ => Err("A tier name must be between 3 and 30 characters long."),
        }
    }

    pub fn is_queued_for_deletion(&self) -> bool {
        self.id == TierId::queued_for_deletion()
    }

    /// Upstream's rules, in its order: no client uses it as default, no identity has it, it is
    /// not "Basic", it is not "Queued for Deletion".
    pub fn check_deletable(&self, clients: i64, identities: i64) -> Result<(), DevicesError> {
        if clients > 0 {
            return Err(DevicesError::UsedTierCannotBeDeleted(format!(
                "The Tier is used as the default Tier by one or more clients. A Tier cannot be deleted if it is \
                 the default Tier of a Client ({clients} found)."
            )));
        }
        if identities > 0 {
            return Err(DevicesError::UsedTierCannotBeDeleted(format!(
                "The Tier is assigned to one or more Identities. A Tier cannot be deleted if it is assigned to \
                 an Identity ({identities} found)."
            )));
        }
        if self.name == Self::BASIC {
            return Err(DevicesError::BasicTierCannotBeDeleted);
        }
        if self.is_queued_for_deletion() {
            return Err(DevicesError::QueuedForDeletionTierCannotBeDeleted);
        }
        Ok(())
    }
}

impl Identity {
    /// An operator's tier change. Only deletion processes move identities to and from the
    /// "Queued for Deletion" tier.
    pub fn change_tier(&mut self, new: &Tier) -> Result<TierId, DevicesError> {
        if new.is_queued_for_deletion() || self.tier_id == TierId::queued_for_deletion() {
            return Err(DevicesError::QueuedForDeletionTierCannotBeManuallyAssignedOrUnassigned);
        }
        if self.tier_id == new.id {
            return Err(DevicesError::NewAndOldTierMatch);
        }
        Ok(std::mem::replace(&mut self.tier_id, new.id.clone()))
    }
}

/// A platform client (an app or connector product) allowed to use the token endpoint.
#[derive(Debug, Clone)]
pub struct OAuthClient {
    pub client_id: String,
    pub display_name: String,
    pub secret_hash: String,
    pub default_tier: TierId,
    pub created_at: DateTime<Utc>,
    pub max_identities: Option<i64>,
}

/// Password rules: upstream's ASP.NET Identity policy (production) or its relaxed dev variant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PasswordPolicy {
    /// At least one character.
    Relaxed,
    /// At least 10 characters with an upper-case letter, a lower-case letter, a digit and a symbol.
    Strict,
}

impl PasswordPolicy {
    /// The first rule the password breaks, if any.
    pub fn check(self, password: &str) -> Result<(), String> {
        if password.is_empty() {
            return Err("Passwords must be at least 1 characters.".into());
        }
        if self == Self::Relaxed {
            return Ok(());
        }
        if password.chars().count() < 10 {
            return Err("Passwords must be at least 10 characters.".into());
        }
        if !password.chars().any(|c| !c.is_alphanumeric()) {
            return Err("Passwords must have at least one non alphanumeric character.".into());
        }
        if !password.chars().any(|c| c.is_ascii_digit()) {
            return Err("Passwords must have at least one digit ('0'-'9').".into());
        }
        if !password.chars().any(char::is_lowercase) {
            return Err("Passwords must have at least one lowercase ('a'-'z').".into());
        }
        if !password.chars().any(char::is_uppercase) {
            return Err("Passwords must have at least one uppercase ('A'-'Z').".into());
        }
        Ok(())
    }
}

/// Feature-flag names may be at most this long.
pub const MAX_FEATURE_FLAG_NAME_LENGTH: usize = 200;

#[cfg(test)]
mod tests {
    use super::*;

    fn tier(name: &str) -> Tier {
        Tier {
            id: TierId::generate(),
            name: name.into(),
            can_be_used_as_default_for_client: true,
            can_be_manually_assigned: true,
        }
    }

    #[test]
    fn tiers_are_deletable_in_upstream_order() {
        let code = |r: Result<(), DevicesError>| r.unwrap_err().code().expect("a broken rule");
        let used = "error.platform.validation.device.usedTierCannotBeDeleted";
        assert_eq!(code(tier("Basic").check_deletable(1, 1)), used);
        assert_eq!(code(tier("Basic").check_deletable(0, 1)), used);
        assert_eq!(
            code(tier("Basic").check_deletable(0, 0)),
            "error.platform.validation.device.basicTierCannotBeDeleted"
        );
        let queued = Tier {
            id: TierId::queued_for_deletion(),
            ..tier("Queued for Deletion")
        };
        assert_eq!(
            code(queued.check_deletable(0, 0)),
            "error.platform.validation.device.queuedForDeletionTierCannotBeDeleted"
        );
        assert!(tier("Gold").check_deletable(0, 0).is_ok());
    }

    #[test]
    fn strict_policy_names_the_first_missing_class() {
        assert!(PasswordPolicy::Strict.check("Aa1!aaaaaaaa").is_ok());
        assert!(PasswordPolicy::Strict
            .check("Aa1!")
            .unwrap_err()
            .contains("10 characters"));
        assert!(PasswordPolicy::Strict
            .check("Aa1aaaaaaaaa")
            .unwrap_err()
            .contains("non alphanumeric"));
        assert!(PasswordPolicy::Strict
            .check("aa1!aaaaaaaa")
            .unwrap_err()
            .contains("uppercase"));
        assert!(PasswordPolicy::Relaxed.check("a").is_ok());
        assert!(PasswordPolicy::Relaxed.check("").is_err());
    }
}
