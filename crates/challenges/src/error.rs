//! What can go wrong when creating a challenge; `http` maps it to the error envelope.

use backbone_core::error::ExhaustedMetric;
use backbone_db::sqlx;

#[derive(Debug, thiserror::Error)]
pub enum ChallengesError {
    #[error("quota exhausted")]
    QuotaExhausted(Vec<ExhaustedMetric>),
    /// The Quotas module could not answer.
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}
