//! What can go wrong in this module, with upstream's codes; the HTTP mapping is in `http`.

use backbone_core::error::ExhaustedMetric;
use backbone_core::quotas::MetricKey;

#[derive(Debug, thiserror::Error)]
pub enum QuotasError {
    /// 429: the identity may not do what it asked now.
    #[error("quota exhausted")]
    Exhausted(Vec<ExhaustedMetric>),
    #[error("{}", unsupported_metric_key_message())]
    UnsupportedMetricKey,
    #[error("'max' must be greater than '0'.")]
    MaxNotPositive,
    #[error("A quota targeting the same metric and period already exists.")]
    DuplicateQuota,
    #[error("Quotas cannot be manually managed for the 'Queued for Deletion' tier.")]
    QueuedForDeletionTier,
    /// 400 `invalidPropertyValue` with the message.
    #[error("{0}")]
    InvalidProperty(String),
    /// 404 for the named entity.
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error(transparent)]
    Database(#[from] backbone_db::sqlx::Error),
    /// Another module did not answer (a port failed).
    #[error(transparent)]
    Port(#[from] anyhow::Error),
}

impl QuotasError {
    /// The code of a 400; `None` for the other statuses.
    pub fn code(&self) -> Option<&'static str> {
        Some(match self {
            Self::UnsupportedMetricKey => "error.platform.quotas.unsupportedMetricKey",
            Self::DuplicateQuota => "error.platform.quotas.duplicateQuota",
            Self::QueuedForDeletionTier => {
                "error.platform.quotas.cannotCreateOrDeleteQuotaOnQueuedForDeletionTier"
            }
            Self::MaxNotPositive | Self::InvalidProperty(_) => backbone_core::error::INVALID_PROPERTY_VALUE,
            _ => return None,
        })
    }
}

/// Upstream lists the keys in the order of its `SUPPORTED_METRIC_KEYS`.
fn unsupported_metric_key_message() -> String {
    use MetricKey::{
        NumberOfCreatedChallenges, NumberOfCreatedDatawalletModifications, NumberOfCreatedDevices,
        NumberOfFiles, NumberOfRelationshipTemplates, NumberOfRelationships, NumberOfSentMessages,
        NumberOfStartedDeletionProcesses, NumberOfTokens, UsedFileStorageSpace,
    };
    let keys = [
        NumberOfSentMessages,
        NumberOfRelationships,
        NumberOfFiles,
        NumberOfTokens,
        UsedFileStorageSpace,
        NumberOfRelationshipTemplates,
        NumberOfStartedDeletionProcesses,
        NumberOfCreatedDatawalletModifications,
        NumberOfCreatedDevices,
        NumberOfCreatedChallenges,
    ];
    let list: Vec<&str> = keys.iter().map(|k| k.as_str()).collect();
    format!(
        "The given metric key is not supported. The supported metric keys are: [{}].",
        list.join(", ")
    )
}
