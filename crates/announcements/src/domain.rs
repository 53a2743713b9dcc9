//! Announcements and their rules (admin-and-services §1.4 CreateAnnouncement): no HTTP, no SQL.

use std::collections::BTreeMap;

use backbone_core::ids::AnnouncementId;
use backbone_core::language::is_supported_language;
use backbone_core::IdentityAddress;
use chrono::{DateTime, Utc};

use crate::error::AnnouncementsError;

/// Every announcement has an English text; other languages fall back to it.
pub const DEFAULT_LANGUAGE: &str = "en";
pub const MAX_RECIPIENTS: usize = 100;
pub const MAX_LINK_LENGTH: usize = 300;
pub const MAX_ACTION_NAME_LENGTH: usize = 30;
pub const MAX_IQL_QUERY_LENGTH: usize = 1000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    Low,
    Medium,
    High,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Low => "Low",
            Self::Medium => "Medium",
            Self::High => "High",
        }
    }

    /// By name in any case, as upstream's enum binding (and CLI) accepts it.
    pub fn parse(name: &str) -> Option<Self> {
        [Self::Low, Self::Medium, Self::High]
            .into_iter()
            .find(|s| s.as_str().eq_ignore_ascii_case(name.trim()))
    }

    /// By the enum's number (0 = Low).
    pub fn from_index(index: i64) -> Option<Self> {
        [Self::Low, Self::Medium, Self::High]
            .get(usize::try_from(index).ok()?)
            .copied()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnnouncementText {
    pub language: String,
    pub title: String,
    pub body: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnnouncementAction {
    /// Display name per language; always has English.
    pub display_name: BTreeMap<String, String>,
    pub link: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Announcement {
    pub id: AnnouncementId,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub severity: Severity,
    pub is_silent: bool,
    pub iql_query: Option<String>,
    pub texts: Vec<AnnouncementText>,
    /// In their configured order.
    pub actions: Vec<AnnouncementAction>,
    pub recipients: Vec<IdentityAddress>,
    /// Whether it was created for a recipient list. Kept apart from `recipients`, so that an
    /// announcement whose recipients were all deleted does not turn into one for everybody.
    pub has_recipient_list: bool,
}

/// What an operator asks for, before any rule was checked.
#[derive(Debug, Clone, Default)]
pub struct NewAnnouncement {
    pub severity: Option<Severity>,
    pub is_silent: bool,
    pub expires_at: Option<DateTime<Utc>>,
    pub iql_query: Option<String>,
    pub texts: Vec<AnnouncementText>,
    pub actions: Vec<AnnouncementAction>,
    pub recipients: Vec<String>,
}

impl NewAnnouncement {
    /// Checks upstream's validator rules in its order, then the domain's, and builds the
    /// announcement.
    pub fn validate(self, now: DateTime<Utc>) -> Result<Announcement, AnnouncementsError> {
        let severity = self
            .severity
            .ok_or_else(|| AnnouncementsError::invalid("'severity' must not be empty."))?;
        if !self.texts.iter().any(|t| t.language == DEFAULT_LANGUAGE) {
            return Err(AnnouncementsError::invalid("There must be a text for English."));
        }
        if self.recipients.len() > MAX_RECIPIENTS {
            return Err(AnnouncementsError::invalid(format!(
                "'recipients' must not contain more than {MAX_RECIPIENTS} addresses."
            )));
        }
        check_texts(&self.texts)?;
        let recipients = parse_recipients(&self.recipients)?;
        for action in &self.actions {
            check_action(action)?;
        }
        if let Some(expires_at) = self.expires_at.filter(|e| *e <= now) {
            return Err(AnnouncementsError::invalid(format!(
                "'expiresAt' must lie in the future, not at {}.",
                backbone_core::encoding::format_date(&expires_at)
            )));
        }
        if let Some(query) = &self.iql_query {
            if !self.is_silent {
                return Err(AnnouncementsError::NonSilentAnnouncementCannotHaveIqlQuery);
            }
            let length = query.chars().count();
            if length == 0 || length > MAX_IQL_QUERY_LENGTH {
                return Err(AnnouncementsError::InvalidIqlQueryLength);
            }
        }
        let mut texts = self.texts;
        // Stored and read back by language; answer the creation in the same order.
        texts.sort_by(|a, b| a.language.cmp(&b.language));
        Ok(Announcement {
            id: AnnouncementId::generate(),
            created_at: now,
            expires_at: self.expires_at,
            severity,
            is_silent: self.is_silent,
            iql_query: self.iql_query,
            texts,
            actions: self.actions,
            has_recipient_list: !recipients.is_empty(),
            recipients,
        })
    }
}

fn check_language(language: &str, property: &str) -> Result<(), AnnouncementsError> {
    if is_supported_language(language) {
        Ok(())
    } else {
        Err(AnnouncementsError::invalid(format!(
            "'{property}' must be a valid two letter ISO 639-1 language code, not '{language}'."
        )))
    }
}

fn check_texts(texts: &[AnnouncementText]) -> Result<(), AnnouncementsError> {
    let mut seen = std::collections::BTreeSet::new();
    for text in texts {
        check_language(&text.language, "texts.language")?;
        if !seen.insert(text.language.as_str()) {
            return Err(AnnouncementsError::invalid(format!(
                "There is more than one text in '{}'.",
                text.language
            )));
        }
        if text.title.trim().is_empty() {
            return Err(AnnouncementsError::invalid("'title' must not be empty."));
        }
        if text.body.trim().is_empty() {
            return Err(AnnouncementsError::invalid("'body' must not be empty."));
        }
    }
    Ok(())
}

fn parse_recipients(recipients: &[String]) -> Result<Vec<IdentityAddress>, AnnouncementsError> {
    let mut parsed: Vec<IdentityAddress> = Vec::with_capacity(recipients.len());
    for recipient in recipients {
        let address = IdentityAddress::parse(recipient).ok_or_else(|| {
            AnnouncementsError::invalid(
                "'recipients': The ID or Address is not valid. Check length, prefix and the used characters.",
            )
        })?;
        // The same address twice is one recipient.
        if !parsed.contains(&address) {
            parsed.push(address);
        }
    }
    Ok(parsed)
}

fn check_action(action: &AnnouncementAction) -> Result<(), AnnouncementsError> {
    if action.link.trim().is_empty() {
        return Err(AnnouncementsError::invalid("'link' must not be empty."));
    }
    if action.link.chars().count() > MAX_LINK_LENGTH {
        return Err(AnnouncementsError::invalid(format!(
            "'link' must be {MAX_LINK_LENGTH} characters or fewer."
        )));
    }
    if !action.display_name.contains_key(DEFAULT_LANGUAGE) {
        return Err(AnnouncementsError::invalid(
            "An action must have a display name for English.",
        ));
    }
    for (language, name) in &action.display_name {
        check_language(language, "displayName")?;
        let length = name.chars().count();
        if length == 0 || length > MAX_ACTION_NAME_LENGTH || name.contains(['\n', '\r']) {
            return Err(AnnouncementsError::invalid(format!(
                "The display name of an action must be between 1 and {MAX_ACTION_NAME_LENGTH} characters long \
                 and must not contain line breaks."
            )));
        }
    }
    Ok(())
}

impl Announcement {
    /// The text in `language`, else the English one.
    pub fn text_in(&self, language: &str) -> &AnnouncementText {
        self.texts
            .iter()
            .find(|t| t.language == language)
            .or_else(|| self.texts.iter().find(|t| t.language == DEFAULT_LANGUAGE))
            .unwrap_or(&self.texts[0])
    }
}

impl AnnouncementAction {
    /// The display name in `language`, else the English one.
    pub fn name_in(&self, language: &str) -> &str {
        self.display_name
            .get(language)
            .or_else(|| self.display_name.get(DEFAULT_LANGUAGE))
            .map(String::as_str)
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(language: &str) -> AnnouncementText {
        AnnouncementText {
            language: language.into(),
            title: "Title".into(),
            body: "Body".into(),
        }
    }

    fn valid() -> NewAnnouncement {
        NewAnnouncement {
            severity: Some(Severity::High),
            texts: vec![text("en"), text("de")],
            ..Default::default()
        }
    }

    fn message(new: NewAnnouncement) -> String {
        new.validate(Utc::now()).unwrap_err().to_string()
    }

    #[test]
    fn a_valid_announcement_is_built() {
        let announcement = valid().validate(Utc::now()).unwrap();
        assert!(announcement.id.as_str().starts_with("ANC"));
        assert_eq!(announcement.text_in("de").language, "de");
        assert_eq!(announcement.text_in("fr").language, "en");
        assert!(!announcement.has_recipient_list);
    }

    #[test]
    fn english_is_required_for_texts_and_action_names() {
        let mut new = valid();
        new.texts = vec![text("de")];
        assert_eq!(message(new), "There must be a text for English.");
        let mut new = valid();
        new.actions = vec![AnnouncementAction {
            display_name: [("de".to_owned(), "Los".to_owned())].into(),
            link: "https://x".into(),
        }];
        assert_eq!(message(new), "An action must have a display name for English.");
    }

    #[test]
    fn action_names_are_short_single_lines() {
        for name in ["", "a name that is far too long to show", "two\nlines"] {
            let mut new = valid();
            new.actions = vec![AnnouncementAction {
                display_name: [("en".to_owned(), name.to_owned())].into(),
                link: "https://x".into(),
            }];
            assert!(
                matches!(
                    new.validate(Utc::now()),
                    Err(AnnouncementsError::InvalidProperty(_))
                ),
                "{name:?}"
            );
        }
    }

    #[test]
    fn iql_queries_need_a_silent_announcement_of_the_right_length() {
        let mut new = valid();
        new.iql_query = Some("#x".into());
        assert!(matches!(
            new.validate(Utc::now()),
            Err(AnnouncementsError::NonSilentAnnouncementCannotHaveIqlQuery)
        ));
        let mut new = valid();
        new.is_silent = true;
        new.iql_query = Some("q".repeat(1001));
        assert!(matches!(
            new.validate(Utc::now()),
            Err(AnnouncementsError::InvalidIqlQueryLength)
        ));
    }

    #[test]
    fn severities_parse_by_name_in_any_case_or_by_number() {
        assert_eq!(Severity::parse("medium"), Some(Severity::Medium));
        assert_eq!(Severity::from_index(2), Some(Severity::High));
        assert_eq!(Severity::parse("Urgent"), None);
        assert_eq!(Severity::from_index(3), None);
    }
}
