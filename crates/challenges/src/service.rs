//! The one write of this module: creating a challenge.

use backbone_core::ids::DeviceId;
use backbone_core::quotas::MetricKey;
use backbone_core::IdentityAddress;

use crate::{Challenge, ChallengesError, ChallengesState};

pub use backbone_core::ports::QuotaGate;

/// C1: anonymous challenges are never limited; an identity's count for its
/// `NumberOfCreatedChallenges` quota (upstream does not enforce that one, see crates/quotas).
pub async fn create_challenge(
    state: &ChallengesState,
    creator: Option<(IdentityAddress, DeviceId)>,
) -> Result<Challenge, ChallengesError> {
    let now = state.clock.now();
    let challenge = Challenge::new(creator, now);
    let mut tx = state.store.db().begin_write().await?;
    if let Some(identity) = &challenge.created_by {
        state
            .quotas
            .check(&mut tx, identity, &[MetricKey::NumberOfCreatedChallenges], now)
            .await?
            .map_err(ChallengesError::QuotaExhausted)?;
    }
    state.store.insert(&mut tx, &challenge).await?;
    tx.commit().await?;
    Ok(challenge)
}
