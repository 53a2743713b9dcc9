//! The questions modules ask each other, with typed answers.
//!
//! A module that needs a fact another module owns asks through one of these traits; the binary
//! implements each once, over the owning module's store, so no module reads another module's
//! tables and no module crate depends on another. Answers are the shared types of this crate
//! (statuses, IDs), never stored text.
//!
//! None of them may take a second pooled connection while the asker holds one: a question
//! asked inside a write transaction takes the asker's connection (`&mut AnyConnection`), since
//! waiting for a second connection while holding one deadlocks a saturated pool. The others
//! are asked outside any transaction and use a pooled connection of their own.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::AnyConnection;

use crate::ids::{ChallengeId, DeviceId, RelationshipId};
use crate::status::{IdentityStatus, RelationshipStatus};
use crate::IdentityAddress;

/// Asked of the Devices module: where an identity stands.
#[async_trait]
pub trait IdentityDirectory: Send + Sync {
    /// The identity's status, `None` if there is no such identity.
    async fn status_of(&self, identity: &IdentityAddress) -> anyhow::Result<Option<IdentityStatus>>;
}

/// A device and the language its user reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceLanguage {
    pub device_id: DeviceId,
    pub communication_language: String,
}

/// Asked of the Devices module: which devices identities have.
#[async_trait]
pub trait DeviceDirectory: Send + Sync {
    /// Every device of these identities with its communication language.
    async fn devices_of(&self, identities: &[IdentityAddress]) -> anyhow::Result<Vec<DeviceLanguage>>;
}

/// The relationship that connects two identities, as far as other modules care.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelationshipBetween {
    pub id: RelationshipId,
    pub status: RelationshipStatus,
}

/// Asked of the Relationships module: how two identities are connected.
#[async_trait]
pub trait RelationshipDirectory: Send + Sync {
    /// The youngest relationship between the two, on the asker's connection (a message send
    /// asks inside its transaction).
    async fn youngest_between(
        &self,
        conn: &mut AnyConnection,
        a: &IdentityAddress,
        b: &IdentityAddress,
    ) -> anyhow::Result<Option<RelationshipBetween>>;

    /// Whether `a` knows `b`: any relationship between them, or `a` allocated one of `b`'s
    /// templates.
    async fn are_acquainted(&self, a: &IdentityAddress, b: &IdentityAddress) -> anyhow::Result<bool>;
}

/// Asked of the Challenges module: when a challenge expires.
#[async_trait]
pub trait ChallengeDirectory: Send + Sync {
    /// `None` if the challenge does not exist.
    async fn expires_at(&self, id: &ChallengeId) -> anyhow::Result<Option<DateTime<Utc>>>;
}

/// Asked by every module whose writes quotas limit (answered by the Quotas module): may
/// `identity` do what counts towards `metrics` now? Runs on the write's own transaction,
/// before anything is written, so that the check and the write are atomic.
#[async_trait]
pub trait QuotaGate: Send + Sync {
    async fn check(
        &self,
        conn: &mut AnyConnection,
        identity: &IdentityAddress,
        metrics: &[crate::quotas::MetricKey],
        now: DateTime<Utc>,
    ) -> anyhow::Result<crate::quotas::QuotaVerdict>;
}

/// One module's part of deleting an identity: deletes or anonymises (as `anonymous`) what the
/// identity left in the module's tables. Run again after a failure, it finishes the work.
/// The deletion use case (Devices module) decides the order in which the modules run.
#[async_trait]
pub trait IdentityDataDeleter: Send + Sync {
    /// The name the deletion audit log gives this module's data ("Files", "Tokens", …).
    fn data_name(&self) -> &'static str;

    async fn delete_identity_data(
        &self,
        identity: &IdentityAddress,
        anonymous: &IdentityAddress,
    ) -> anyhow::Result<()>;
}
