//! The vocabulary of quotas that every module shares: the ten metric keys (admin-and-services
//! §1.6). Modules name the metrics an operation consumes when they ask the Quotas module, at
//! the start of their write transaction, whether the caller may perform it.

/// What a quota check found: `Err` lists the exhausted metrics (answered with 429).
pub type QuotaVerdict = Result<(), Vec<crate::error::ExhaustedMetric>>;

/// What a quota limits. The wire name is the variant name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum MetricKey {
    NumberOfSentMessages,
    NumberOfRelationships,
    NumberOfRelationshipTemplates,
    NumberOfFiles,
    NumberOfTokens,
    UsedFileStorageSpace,
    NumberOfStartedDeletionProcesses,
    NumberOfCreatedChallenges,
    NumberOfCreatedDatawalletModifications,
    NumberOfCreatedDevices,
}

impl MetricKey {
    /// In the order upstream lists them at `GET /api/v1/Metrics`.
    pub const ALL: [Self; 10] = [
        Self::NumberOfSentMessages,
        Self::NumberOfRelationships,
        Self::NumberOfRelationshipTemplates,
        Self::NumberOfFiles,
        Self::NumberOfTokens,
        Self::UsedFileStorageSpace,
        Self::NumberOfStartedDeletionProcesses,
        Self::NumberOfCreatedChallenges,
        Self::NumberOfCreatedDatawalletModifications,
        Self::NumberOfCreatedDevices,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::NumberOfSentMessages => "NumberOfSentMessages",
            Self::NumberOfRelationships => "NumberOfRelationships",
            Self::NumberOfRelationshipTemplates => "NumberOfRelationshipTemplates",
            Self::NumberOfFiles => "NumberOfFiles",
            Self::NumberOfTokens => "NumberOfTokens",
            Self::UsedFileStorageSpace => "UsedFileStorageSpace",
            Self::NumberOfStartedDeletionProcesses => "NumberOfStartedDeletionProcesses",
            Self::NumberOfCreatedChallenges => "NumberOfCreatedChallenges",
            Self::NumberOfCreatedDatawalletModifications => "NumberOfCreatedDatawalletModifications",
            Self::NumberOfCreatedDevices => "NumberOfCreatedDevices",
        }
    }

    pub fn display_name(self) -> &'static str {
        match self {
            Self::NumberOfSentMessages => "Number of Sent Messages",
            Self::NumberOfRelationships => "Number of Relationships",
            Self::NumberOfRelationshipTemplates => "Number of Relationship Templates",
            Self::NumberOfFiles => "Number of Files",
            Self::NumberOfTokens => "Number of Tokens",
            Self::UsedFileStorageSpace => "File Storage Capacity (in Megabytes)",
            Self::NumberOfStartedDeletionProcesses => "Number of Started Deletion Processes",
            Self::NumberOfCreatedChallenges => "Number of Created Challenges",
            Self::NumberOfCreatedDatawalletModifications => "Number of Created Datawallet Modifications",
            Self::NumberOfCreatedDevices => "Number of Created Devices",
        }
    }

    /// The exact wire name; upstream compares case-sensitively.
    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|key| key.as_str() == value)
    }
}

impl std::fmt::Display for MetricKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::MetricKey;

    #[test]
    fn keys_round_trip_and_are_case_sensitive() {
        for key in MetricKey::ALL {
            assert_eq!(MetricKey::parse(key.as_str()), Some(key));
        }
        assert_eq!(MetricKey::parse("numberOfSentMessages"), None);
        assert_eq!(MetricKey::parse("NumberOfMessages"), None);
    }
}
