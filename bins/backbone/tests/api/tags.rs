//! `GET /api/v2/Tags` honours `[tags] supported_languages` (spec consumer-api-identity §11.2):
//! only those languages are served, a configured catalogue replaces the built-in one, and a
//! catalogue that names another language, or lacks a supported one, stops the start as upstream.

use std::collections::BTreeMap;

use backbone_tags::{Catalogue, Tag};
use serde_json::{json, Value};

use crate::helpers::{Backend, TestApp};
use crate::on_both_backends;

on_both_backends!(
    only_the_supported_languages_are_served,
    a_configured_catalogue_replaces_the_built_in_one,
);

async fn spawn(backend: Backend, languages: &[&str], catalogue: Catalogue) -> TestApp {
    let languages: Vec<String> = languages.iter().map(|l| (*l).to_owned()).collect();
    TestApp::spawn_with(backend, move |settings| {
        settings.tags.supported_languages = languages;
        settings.tags.tags_for_attribute_value_types = catalogue;
    })
    .await
}

fn tag(names: &[(&str, &str)], children: Vec<(&str, Tag)>) -> Tag {
    Tag {
        display_names: names
            .iter()
            .map(|(l, n)| ((*l).to_owned(), (*n).to_owned()))
            .collect(),
        children: children.into_iter().map(|(n, t)| (n.to_owned(), t)).collect(),
    }
}

/// The languages of every display name in the response, children included.
fn languages_served(tags_for_types: &Value) -> Vec<String> {
    fn walk(tag: &Value, into: &mut Vec<String>) {
        into.extend(tag["displayNames"].as_object().unwrap().keys().cloned());
        for child in tag["children"].as_object().unwrap().values() {
            walk(child, into);
        }
    }
    let mut languages = Vec::new();
    for tags in tags_for_types.as_object().unwrap().values() {
        for tag in tags.as_object().unwrap().values() {
            walk(tag, &mut languages);
        }
    }
    languages.sort();
    languages.dedup();
    languages
}

async fn only_the_supported_languages_are_served(backend: Backend) {
    // The built-in catalogue has German and English names; only English is supported here.
    let app = spawn(backend, &["en"], Catalogue::new()).await;
    let response = app.get("/api/v2/Tags", None).await;
    response.expect_status(200);
    let result = response.result();
    assert_eq!(result["supportedLanguages"], json!(["en"]));
    let tags = &result["tagsForAttributeValueTypes"];
    assert_eq!(languages_served(tags), ["en"]);
    assert_eq!(
        tags["EMailAddress"]["business"],
        json!({ "displayNames": { "en": "business" }, "children": {} })
    );

    // With both languages, both are served.
    let app = spawn(backend, &["de", "en"], Catalogue::new()).await;
    let response = app.get("/api/v2/Tags", None).await;
    assert_eq!(
        languages_served(&response.result()["tagsForAttributeValueTypes"]),
        ["de", "en"]
    );
}

async fn a_configured_catalogue_replaces_the_built_in_one(backend: Backend) {
    let emergency = tag(
        &[("en", "emergency"), ("it", "emergenza")],
        vec![("Night", tag(&[("en", "night"), ("it", "notte")], vec![]))],
    );
    let catalogue = BTreeMap::from([(
        "PhoneNumber".to_owned(),
        BTreeMap::from([("Emergency".to_owned(), emergency)]),
    )]);
    let app = spawn(backend, &["en", "it"], catalogue).await;
    let response = app.get("/api/v2/Tags", None).await;
    response.expect_status(200);
    assert_eq!(
        response.result(),
        &json!({
            "supportedLanguages": ["en", "it"],
            "tagsForAttributeValueTypes": {
                "PhoneNumber": {
                    "emergency": {
                        "displayNames": { "en": "emergency", "it": "emergenza" },
                        "children": {
                            "Night": { "displayNames": { "en": "night", "it": "notte" }, "children": {} }
                        }
                    }
                }
            }
        })
    );
}

/// A catalogue that does not fit the supported languages is refused when the app is built,
/// naming the tag (SQLite only: the check runs before any database work).
#[tokio::test]
async fn a_catalogue_in_other_languages_is_refused_at_start() {
    let cases = [
        (
            vec!["en"],
            tag(&[("en", "work"), ("fr", "travail")], vec![]),
            "\"fr\" not in tags.supported_languages",
        ),
        (
            vec!["de", "en"],
            tag(&[("en", "work")], vec![]),
            "a display name in \"de\" is required",
        ),
        (
            vec!["en"],
            tag(&[("en", "work")], vec![("desk", tag(&[("pt", "mesa")], vec![]))]),
            "Work.children.desk.displayNames",
        ),
    ];
    for (languages, work, expected) in cases {
        let dir = crate::helpers::TempDir::new();
        let mut settings = backbone::Settings {
            data_dir: dir.0.clone(),
            ..backbone::Settings::default()
        };
        settings.tags.supported_languages = languages.iter().map(|l| (*l).to_owned()).collect();
        settings.tags.tags_for_attribute_value_types = BTreeMap::from([(
            "PhoneNumber".to_owned(),
            BTreeMap::from([("Work".to_owned(), work)]),
        )]);
        let message = settings.validate().unwrap_err().to_string();
        assert!(message.contains(expected), "{message}");
        assert!(
            message.contains("tags.tags_for_attribute_value_types.PhoneNumber.Work"),
            "{message}"
        );
        let built = backbone::Application::build(settings, None).await;
        let message = format!("{:#}", built.err().expect("the app refuses to build"));
        assert!(message.contains(expected), "{message}");
    }
}
