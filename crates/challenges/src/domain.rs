use backbone_core::ids::{ChallengeId, DeviceId};
use backbone_core::IdentityAddress;
use chrono::{DateTime, Duration, Utc};

/// How long a new challenge can be signed and used.
pub const LIFETIME: Duration = Duration::minutes(10);
/// How long after expiry a challenge can still be read (peers verify relationship challenges).
pub const READABLE_AFTER_EXPIRY: Duration = Duration::hours(1);

#[derive(Debug, Clone, PartialEq)]
pub struct Challenge {
    pub id: ChallengeId,
    pub expires_at: DateTime<Utc>,
    pub created_by: Option<IdentityAddress>,
    pub created_by_device: Option<DeviceId>,
}

impl Challenge {
    pub fn new(creator: Option<(IdentityAddress, DeviceId)>, now: DateTime<Utc>) -> Self {
        let (created_by, created_by_device) = creator.unzip();
        Self {
            id: ChallengeId::generate(),
            expires_at: now + LIFETIME,
            created_by,
            created_by_device,
        }
    }

    pub fn is_readable_at(&self, now: DateTime<Utc>) -> bool {
        self.expires_at > now - READABLE_AFTER_EXPIRY
    }

    pub fn is_expired_at(&self, now: DateTime<Utc>) -> bool {
        self.expires_at < now
    }
}
