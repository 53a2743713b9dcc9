//! Failures of this module that a client can cause, with their upstream codes (all 400).

use backbone_core::ApiError;

use crate::domain::Platform;

#[derive(Debug, thiserror::Error)]
pub enum PushError {
    #[error("The given app id is not supported. Supported app ids are: {}.", quoted(.0))]
    UnsupportedAppId(Vec<String>),
    #[error("'platform': push notifications via '{}' are not enabled on this server.", .0.as_str())]
    PlatformNotEnabled(Platform),
    #[error("The given code does not exist. Existing codes are: {}.", quoted(.0))]
    CodeDoesNotExist(Vec<String>),
    #[error("There is no relationship to the following recipients: {}.", .0.join(", "))]
    NoRelationshipToOneOrMoreRecipientsExists(Vec<String>),
    #[error(
        "The relationship to the recipient is not in the correct status for this operation. The valid statuses are: Active, Pending, Terminated."
    )]
    RelationshipToRecipientIsNotInCorrectStatus,
}

fn quoted(items: &[String]) -> String {
    items
        .iter()
        .map(|item| format!("'{item}'"))
        .collect::<Vec<_>>()
        .join(", ")
}

impl PushError {
    pub fn code(&self) -> &'static str {
        match self {
            Self::UnsupportedAppId(_) => "error.platform.unsupportedAppId",
            Self::PlatformNotEnabled(_) => backbone_core::error::INVALID_PROPERTY_VALUE,
            Self::CodeDoesNotExist(_) => "error.platform.validation.notification.codeDoesNotExist",
            Self::NoRelationshipToOneOrMoreRecipientsExists(_) => {
                "error.platform.validation.notification.noRelationshipToOneOrMoreRecipientsExists"
            }
            Self::RelationshipToRecipientIsNotInCorrectStatus => {
                "error.platform.validation.notification.relationshipToRecipientIsNotInCorrectStatus"
            }
        }
    }
}

impl From<PushError> for ApiError {
    fn from(error: PushError) -> Self {
        ApiError::validation(error.code(), error.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_list_what_is_supported() {
        let error = PushError::UnsupportedAppId(vec!["a".into(), "b".into()]);
        assert_eq!(
            error.to_string(),
            "The given app id is not supported. Supported app ids are: 'a', 'b'."
        );
        let api: ApiError = error.into();
        assert_eq!(api.code(), "error.platform.unsupportedAppId");
    }
}
