//! The `[tags]` section: the supported languages and the tag catalogue, checked as upstream
//! checks them (`ContainsValidTagsAttribute` in its Tags module): every tag has a display name
//! in each supported language and in no other, and no first-level tag is named `x`.
//!
//! Upstream serves only what the operator configured. We also ship a small built-in catalogue
//! (private/business for e-mail addresses, phone numbers and street addresses) so that a fresh
//! server has one; it is served when no catalogue is configured, in the supported languages
//! only. A configured catalogue replaces it.

use std::collections::BTreeMap;

use anyhow::{bail, ensure};
use backbone_core::language::is_supported_language;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Tag {
    /// language → name
    pub display_names: BTreeMap<String, String>,
    #[serde(default)]
    #[schema(no_recursion)]
    pub children: BTreeMap<String, Tag>,
}

/// attribute value type → tag name → tag
pub type Catalogue = BTreeMap<String, BTreeMap<String, Tag>>;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TagsConfig {
    pub supported_languages: Vec<String>,
    /// Empty: the built-in catalogue (see the module comment).
    #[serde(default)]
    pub tags_for_attribute_value_types: Catalogue,
}

impl Default for TagsConfig {
    fn default() -> Self {
        Self {
            supported_languages: vec!["de".into(), "en".into()],
            tags_for_attribute_value_types: Catalogue::new(),
        }
    }
}

/// The catalogue served when none is configured, in German and English.
pub fn built_in_catalogue() -> Catalogue {
    let tag = |en: &str, de: &str| Tag {
        display_names: [("en".to_owned(), en.to_owned()), ("de".to_owned(), de.to_owned())].into(),
        children: BTreeMap::new(),
    };
    let contact = BTreeMap::from([
        ("private".to_owned(), tag("private", "privat")),
        ("business".to_owned(), tag("business", "geschäftlich")),
    ]);
    BTreeMap::from([
        ("EMailAddress".to_owned(), contact.clone()),
        ("PhoneNumber".to_owned(), contact.clone()),
        ("StreetAddress".to_owned(), contact),
    ])
}

const KEY: &str = "tags.tags_for_attribute_value_types";

impl TagsConfig {
    pub fn validate(&self) -> anyhow::Result<()> {
        self.catalogue().map(drop)
    }

    /// The catalogue to serve: the configured one, checked; otherwise the built-in one with
    /// its display names narrowed to the supported languages.
    pub fn catalogue(&self) -> anyhow::Result<Catalogue> {
        ensure!(
            self.supported_languages.iter().any(|l| l == "en"),
            "tags.supported_languages must contain \"en\""
        );
        for language in &self.supported_languages {
            ensure!(
                is_supported_language(language),
                "tags.supported_languages: unknown language {language:?}"
            );
        }
        if self.tags_for_attribute_value_types.is_empty() {
            return self.narrowed_built_in_catalogue();
        }
        for (value_type, tags) in &self.tags_for_attribute_value_types {
            for (name, tag) in tags {
                if name.eq_ignore_ascii_case("x") {
                    bail!("{KEY}.{value_type}.{name}: a first-level tag may not be named \"x\" or \"X\"");
                }
                self.check_tag(&format!("{KEY}.{value_type}.{name}"), tag)?;
            }
        }
        Ok(self.tags_for_attribute_value_types.clone())
    }

    /// A tag's display names are exactly the supported languages, and so are its children's.
    fn check_tag(&self, path: &str, tag: &Tag) -> anyhow::Result<()> {
        let unsupported: Vec<&str> = tag
            .display_names
            .keys()
            .map(String::as_str)
            .filter(|language| !self.supported_languages.iter().any(|l| l == language))
            .collect();
        if !unsupported.is_empty() {
            bail!(
                "{path}.displayNames: {} not in tags.supported_languages",
                quoted(&unsupported)
            );
        }
        let missing = self.missing_languages(tag);
        if !missing.is_empty() {
            bail!(
                "{path}.displayNames: a display name in {} is required",
                quoted(&missing)
            );
        }
        for (name, child) in &tag.children {
            self.check_tag(&format!("{path}.children.{name}"), child)?;
        }
        Ok(())
    }

    fn missing_languages(&self, tag: &Tag) -> Vec<&str> {
        self.supported_languages
            .iter()
            .map(String::as_str)
            .filter(|language| !tag.display_names.contains_key(*language))
            .collect()
    }

    fn narrowed_built_in_catalogue(&self) -> anyhow::Result<Catalogue> {
        let mut catalogue = built_in_catalogue();
        for (value_type, tags) in &mut catalogue {
            for (name, tag) in tags {
                let missing = self.missing_languages(tag);
                if !missing.is_empty() {
                    bail!(
                        "tags.supported_languages: the built-in tag catalogue has no display names in {}; \
                         configure {KEY} (e.g. {KEY}.{value_type}.{name})",
                        quoted(&missing)
                    );
                }
                tag.display_names
                    .retain(|language, _| self.supported_languages.contains(language));
            }
        }
        Ok(catalogue)
    }
}

fn quoted(languages: &[&str]) -> String {
    languages
        .iter()
        .map(|l| format!("\"{l}\""))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tag(names: &[(&str, &str)]) -> Tag {
        Tag {
            display_names: names
                .iter()
                .map(|(l, n)| ((*l).to_owned(), (*n).to_owned()))
                .collect(),
            children: BTreeMap::new(),
        }
    }

    /// `tags` as the phone number tags; none: no catalogue configured.
    fn configured(languages: &[&str], tags: Vec<(&str, Tag)>) -> TagsConfig {
        let mut catalogue = Catalogue::new();
        if !tags.is_empty() {
            let tags = tags.into_iter().map(|(n, t)| (n.to_owned(), t)).collect();
            catalogue.insert("PhoneNumber".to_owned(), tags);
        }
        TagsConfig {
            supported_languages: languages.iter().map(|l| (*l).to_owned()).collect(),
            tags_for_attribute_value_types: catalogue,
        }
    }

    fn error(config: &TagsConfig) -> String {
        config.validate().unwrap_err().to_string()
    }

    #[test]
    fn english_is_required_and_languages_must_be_known() {
        assert!(error(&configured(&["de"], vec![])).contains("must contain \"en\""));
        assert!(error(&configured(&["en", "xx"], vec![])).contains("\"xx\""));
    }

    #[test]
    fn the_built_in_catalogue_is_narrowed_to_the_supported_languages() {
        let english = configured(&["en"], vec![]);
        let catalogue = english.catalogue().unwrap();
        let private = &catalogue["EMailAddress"]["private"];
        assert_eq!(
            private.display_names,
            BTreeMap::from([("en".into(), "private".into())])
        );

        let message = error(&configured(&["en", "fr"], vec![]));
        assert!(message.contains("\"fr\""), "{message}");
        assert!(message.contains(KEY), "{message}");
    }

    #[test]
    fn a_configured_catalogue_replaces_the_built_in_one() {
        let config = configured(&["en"], vec![("emergency", tag(&[("en", "emergency")]))]);
        let catalogue = config.catalogue().unwrap();
        assert_eq!(catalogue.keys().collect::<Vec<_>>(), ["PhoneNumber"]);
        assert_eq!(catalogue["PhoneNumber"].keys().collect::<Vec<_>>(), ["emergency"]);
    }

    #[test]
    fn display_names_must_be_exactly_the_supported_languages() {
        let extra = configured(&["en"], vec![("work", tag(&[("en", "work"), ("fr", "travail")]))]);
        let message = error(&extra);
        assert!(
            message.contains("tags.tags_for_attribute_value_types.PhoneNumber.work.displayNames"),
            "{message}"
        );
        assert!(
            message.contains("\"fr\" not in tags.supported_languages"),
            "{message}"
        );

        let missing = configured(&["de", "en"], vec![("work", tag(&[("en", "work")]))]);
        assert!(error(&missing).contains("a display name in \"de\" is required"));

        let mut parent = tag(&[("en", "work")]);
        parent
            .children
            .insert("desk".into(), tag(&[("en", "desk"), ("it", "scrivania")]));
        let message = error(&configured(&["en"], vec![("work", parent)]));
        assert!(
            message.contains("PhoneNumber.work.children.desk.displayNames"),
            "{message}"
        );
    }

    #[test]
    fn a_first_level_tag_may_not_be_x() {
        for name in ["x", "X"] {
            let message = error(&configured(&["en"], vec![(name, tag(&[("en", "x")]))]));
            assert!(message.contains("may not be named"), "{message}");
        }
        let mut parent = tag(&[("en", "work")]);
        parent.children.insert("x".into(), tag(&[("en", "x")]));
        configured(&["en"], vec![("work", parent)]).validate().unwrap();
    }
}
