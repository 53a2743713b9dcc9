//! What can go wrong in this module's use cases, with upstream's codes for the rules a client
//! can break; `http` maps it to the error envelope.

use backbone_core::ValidationError;
use backbone_db::sqlx;

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
    /// A rule about the input failed (400 with the rule's code).
    #[error(transparent)]
    Invalid(#[from] ValidationError),
    /// Another module could not answer (a port failed), or another unexpected failure.
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

fn quoted(items: &[String]) -> String {
    items
        .iter()
        .map(|item| format!("'{item}'"))
        .collect::<Vec<_>>()
        .join(", ")
}

impl PushError {
    /// The code of a broken rule of this module; `None` for the other failures.
    pub fn code(&self) -> Option<&'static str> {
        Some(match self {
            Self::UnsupportedAppId(_) => "error.platform.unsupportedAppId",
            Self::PlatformNotEnabled(_) => backbone_core::error::INVALID_PROPERTY_VALUE,
            Self::CodeDoesNotExist(_) => "error.platform.validation.notification.codeDoesNotExist",
            Self::NoRelationshipToOneOrMoreRecipientsExists(_) => {
                "error.platform.validation.notification.noRelationshipToOneOrMoreRecipientsExists"
            }
            Self::RelationshipToRecipientIsNotInCorrectStatus => {
                "error.platform.validation.notification.relationshipToRecipientIsNotInCorrectStatus"
            }
            _ => return None,
        })
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
        assert_eq!(error.code(), Some("error.platform.unsupportedAppId"));
    }
}
