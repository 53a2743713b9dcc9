//! What can go wrong in this module, with upstream's codes; `http` maps it to the envelope.

#[derive(Debug, thiserror::Error)]
pub enum AnnouncementsError {
    /// 400 `invalidPropertyValue`: a rule of upstream's validator, with its message.
    #[error("{0}")]
    InvalidProperty(String),
    #[error("An announcement with an IQL query must be silent.")]
    NonSilentAnnouncementCannotHaveIqlQuery,
    #[error("The IQL query for an announcement must be between 1 and 1000 characters long.")]
    InvalidIqlQueryLength,
    /// 400 `inputCannotBeParsed`: a value of the wrong kind (an unknown severity).
    #[error("{0}")]
    CannotParse(String),
    #[error("Announcement not found")]
    NotFound,
    #[error(transparent)]
    Database(#[from] backbone_db::sqlx::Error),
}

impl AnnouncementsError {
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::InvalidProperty(message.into())
    }

    /// The code of a 400; `None` for the other statuses.
    pub fn code(&self) -> Option<&'static str> {
        Some(match self {
            Self::InvalidProperty(_) => backbone_core::error::INVALID_PROPERTY_VALUE,
            Self::NonSilentAnnouncementCannotHaveIqlQuery => {
                "error.platform.validation.nonSilentAnnouncementCannotHaveIqlQuery"
            }
            Self::InvalidIqlQueryLength => "error.platform.validation.invalidIqlQueryLengthForAnnouncement",
            Self::CannotParse(_) => backbone_core::error::INPUT_CANNOT_BE_PARSED,
            Self::NotFound | Self::Database(_) => return None,
        })
    }
}
