//! Relationship templates (spec consumer-api-exchange §2).

use backbone_core::ids::{DeviceId, RelationshipTemplateId};
use backbone_core::IdentityAddress;
use chrono::{DateTime, Utc};

#[derive(Debug, Clone, PartialEq)]
pub struct Template {
    pub id: RelationshipTemplateId,
    pub created_by: IdentityAddress,
    pub created_by_device: DeviceId,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub max_number_of_allocations: Option<i64>,
    pub for_identity: Option<IdentityAddress>,
    pub password: Option<Vec<u8>>,
    pub content: Vec<u8>,
}

impl Template {
    pub fn is_owned_by(&self, caller: &IdentityAddress) -> bool {
        &self.created_by == caller
    }

    /// Personalised templates are visible only to their target and their creator.
    pub fn is_collectable_by(&self, caller: &IdentityAddress) -> bool {
        match &self.for_identity {
            None => true,
            Some(target) => target == caller || self.is_owned_by(caller),
        }
    }

    /// Expired templates stay visible to identities that built a relationship on them.
    pub fn is_expired_for(&self, now: DateTime<Utc>, caller_has_relationship_from_it: bool) -> bool {
        self.expires_at.is_some_and(|expires| expires <= now) && !caller_has_relationship_from_it
    }

    /// The password must match byte for byte, unless the caller is the creator or allocated it.
    pub fn password_ok(
        &self,
        caller: &IdentityAddress,
        given: Option<&[u8]>,
        caller_has_allocation: bool,
    ) -> bool {
        match &self.password {
            None => true,
            Some(password) => {
                self.is_owned_by(caller)
                    || caller_has_allocation
                    || given.is_some_and(|g| g == password.as_slice())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn address(seed: u8) -> IdentityAddress {
        IdentityAddress::derive(&[seed; 32], "localhost")
    }

    fn template() -> Template {
        Template {
            id: RelationshipTemplateId::generate(),
            created_by: address(1),
            created_by_device: DeviceId::generate(),
            created_at: Utc::now(),
            expires_at: None,
            max_number_of_allocations: None,
            for_identity: None,
            password: None,
            content: vec![1],
        }
    }

    #[test]
    fn personalised_templates_are_visible_to_target_and_owner_only() {
        let t = Template {
            for_identity: Some(address(2)),
            ..template()
        };
        assert!(t.is_collectable_by(&address(1)));
        assert!(t.is_collectable_by(&address(2)));
        assert!(!t.is_collectable_by(&address(3)));
        assert!(template().is_collectable_by(&address(3)));
    }

    #[test]
    fn passwords_are_waived_for_owner_and_allocators() {
        let t = Template {
            password: Some(b"pw".to_vec()),
            ..template()
        };
        assert!(t.password_ok(&address(1), None, false));
        assert!(t.password_ok(&address(2), None, true));
        assert!(t.password_ok(&address(2), Some(b"pw"), false));
        assert!(!t.password_ok(&address(2), Some(b"PW"), false));
        assert!(!t.password_ok(&address(2), None, false));
    }

    #[test]
    fn expiry_is_waived_for_participants_of_relationships_from_it() {
        let now = Utc::now();
        let t = Template {
            expires_at: Some(now - chrono::Duration::seconds(1)),
            ..template()
        };
        assert!(t.is_expired_for(now, false));
        assert!(!t.is_expired_for(now, true));
        assert!(!template().is_expired_for(now, false));
    }
}
