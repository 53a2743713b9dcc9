//! App onboarding (spec consumer-api-identity §11.5–11.6): `GET /r/{referenceId}?app=` renders
//! the configured app's page with the store buttons for the visitor's platform, or the app
//! selection; `/.well-known/` serves the app-link files; all of it 404 when not configured.

use backbone_onboarding::{
    AndroidAssetLink, AppConfig, AppOnboardingConfig, ColorScheme, StoreConfig, WellKnownEndpointsConfig,
};
use serde_json::json;

use crate::helpers::{Backend, Response, TestApp};
use crate::on_both_backends;

on_both_backends!(
    nothing_is_served_when_not_configured,
    the_user_agent_picks_the_store_buttons,
    a_store_without_a_link_shows_its_text,
    links_without_a_known_app_offer_the_selection,
    the_default_app_is_shown_when_none_is_named,
    configured_text_is_escaped,
    well_known_files_come_from_configuration,
);

const IPHONE: &str =
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148";
const ANDROID: &str =
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 Chrome/126.0 Mobile Safari/537.36";
const MAC: &str = "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 Safari/605.1.15";
const WINDOWS: &str =
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/126.0 Safari/537.36";

fn app(id: &str, name: &str) -> AppConfig {
    AppConfig {
        id: id.into(),
        display_name: name.into(),
        description: format!("{name} keeps your data with you."),
        icon_url: Some(format!("https://example.com/{id}/icon.png")),
        banner_url: Some(format!("https://example.com/{id}/banner.png")),
        color_scheme: ColorScheme {
            background: "#F5F7FB".into(),
            primary: "#17428D".into(),
            secondary: "#DCE4F5".into(),
            on_primary: "#FFFFFF".into(),
            on_secondary: "#1A1B20".into(),
        },
        apple_app_store: StoreConfig {
            app_link: Some(format!("https://apps.apple.com/app/{id}")),
            no_link_text: "Bald im App Store".into(),
        },
        google_play_store: StoreConfig {
            app_link: Some(format!("https://play.google.com/store/apps/details?id=eu.{id}")),
            no_link_text: "Bald bei Google Play".into(),
        },
    }
}

fn apps(default_app_id: Option<&str>, apps: Vec<AppConfig>) -> AppOnboardingConfig {
    AppOnboardingConfig {
        default_app_id: default_app_id.map(str::to_owned),
        apps,
    }
}

async fn spawn(
    backend: Backend,
    onboarding: Option<AppOnboardingConfig>,
    well_known: Option<WellKnownEndpointsConfig>,
) -> TestApp {
    TestApp::spawn_with(backend, move |settings| {
        settings.app_onboarding = onboarding;
        settings.well_known_endpoints = well_known;
    })
    .await
}

async fn page(app: &TestApp, path_and_query: &str, user_agent: &str) -> Response {
    let response = app
        .raw(
            app.http
                .get(format!("{}{path_and_query}", app.base))
                .header("user-agent", user_agent),
        )
        .await;
    if response.status == 200 {
        let content_type = response.headers["content-type"].to_str().unwrap();
        assert_eq!(content_type, "text/html; charset=utf-8");
    }
    response
}

/// The targets of every `<a href="…">` in the page.
fn links(html: &str) -> Vec<String> {
    html.split("<a ")
        .skip(1)
        .filter_map(|tag| {
            let tag = &tag[..tag.find('>')?];
            let start = tag.find("href=\"")? + "href=\"".len();
            // askama writes `&` in attributes as `&#38;`.
            Some(tag[start..][..tag[start..].find('"')?].replace("&#38;", "&"))
        })
        .collect()
}

fn links_to(html: &str, host: &str) -> bool {
    links(html)
        .iter()
        .any(|link| link.starts_with(&format!("https://{host}/")))
}

async fn nothing_is_served_when_not_configured(backend: Backend) {
    let app = spawn(backend, None, None).await;
    for path in [
        "/r/RLTabcdefghijklmnopq?app=enmeshed",
        "/.well-known/apple-app-site-association",
        "/.well-known/assetlinks.json",
    ] {
        let response = page(&app, path, IPHONE).await;
        assert_eq!(response.status, 404, "{path}");
        assert!(response.text.is_empty(), "{path}: no envelope");
    }
}

async fn the_user_agent_picks_the_store_buttons(backend: Backend) {
    let app = spawn(backend, Some(apps(None, vec![app("enmeshed", "enmeshed")])), None).await;
    let path = "/r/TOKabcdefghijklmnopq?app=enmeshed";
    for (agent, apple, google) in [
        (IPHONE, true, false),
        ("iPhone", true, false),
        (MAC, true, false),
        (ANDROID, false, true),
        ("Android", false, true),
        (WINDOWS, true, true),
        ("unknown", true, true),
    ] {
        let response = page(&app, path, agent).await;
        response.expect_status(200);
        let html = &response.text;
        assert_eq!(links_to(html, "apps.apple.com"), apple, "{agent}");
        assert_eq!(links_to(html, "play.google.com"), google, "{agent}");
        for part in [
            "<title>enmeshed</title>",
            "enmeshed keeps your data with you.",
            "src=\"https://example.com/enmeshed/banner.png\"",
            "src=\"https://example.com/enmeshed/icon.png\"",
            "--primary: #17428D;",
            "--on-secondary: #1A1B20;",
        ] {
            assert!(html.contains(part), "{agent}: {part} missing");
        }
    }
    // The link into the app: the page's own URL with the app's scheme (the fragment is added
    // by the browser's script).
    let response = page(&app, path, IPHONE).await;
    let host = app.base.trim_start_matches("http://");
    assert!(
        links(&response.text).contains(&format!("enmeshed://{host}{path}")),
        "{:?}",
        links(&response.text)
    );
    // The app parameter is bound case-insensitively, as ASP.NET does.
    let response = page(&app, "/r/x?App=enmeshed", "unknown").await;
    assert!(links_to(&response.text, "apps.apple.com"));
}

async fn a_store_without_a_link_shows_its_text(backend: Backend) {
    let mut without_play = app("enmeshed", "enmeshed");
    without_play.google_play_store.app_link = None;
    let app = spawn(backend, Some(apps(None, vec![without_play])), None).await;
    let html = page(&app, "/r/x?app=enmeshed", ANDROID).await.text;
    assert!(!links_to(&html, "play.google.com"));
    assert!(
        !links_to(&html, "apps.apple.com"),
        "Android sees only Google Play"
    );
    assert!(html.contains("Bald bei Google Play"), "{html}");
    let html = page(&app, "/r/x?app=enmeshed", IPHONE).await.text;
    assert!(links_to(&html, "apps.apple.com"));
    assert!(!html.contains("Bald bei Google Play"));
}

async fn links_without_a_known_app_offer_the_selection(backend: Backend) {
    let config = apps(
        None,
        vec![app("enmeshed", "enmeshed"), app("wallet", "Mein Wallet")],
    );
    let app = spawn(backend, Some(config), None).await;
    for path in ["/r/TOKabc", "/r/TOKabc?app=unknown", "/r/TOKabc?app="] {
        let response = page(&app, path, IPHONE).await;
        response.expect_status(200);
        let html = &response.text;
        assert_eq!(
            links(html),
            ["/r/TOKabc?app=enmeshed", "/r/TOKabc?app=wallet"],
            "{path}"
        );
        assert!(html.contains("enmeshed installieren"), "{path}");
        assert!(html.contains("Mein Wallet installieren"), "{path}");
        assert!(html.contains("src=\"https://example.com/wallet/icon.png\""));
        assert!(!links_to(html, "apps.apple.com"), "{path}: no store buttons yet");
    }
    // Other query parameters are kept.
    let response = page(&app, "/r/TOKabc?lang=de&app=unknown", IPHONE).await;
    assert_eq!(
        links(&response.text),
        ["/r/TOKabc?lang=de&app=enmeshed", "/r/TOKabc?lang=de&app=wallet"]
    );
}

async fn the_default_app_is_shown_when_none_is_named(backend: Backend) {
    let config = apps(
        Some("wallet"),
        vec![app("enmeshed", "enmeshed"), app("wallet", "Mein Wallet")],
    );
    let app = spawn(backend, Some(config), None).await;
    let html = page(&app, "/r/TOKabc", ANDROID).await.text;
    assert!(html.contains("<title>Mein Wallet</title>"), "{html}");
    assert!(links(&html).contains(&"https://play.google.com/store/apps/details?id=eu.wallet".to_owned()));
    let html = page(&app, "/r/TOKabc?app=enmeshed", ANDROID).await.text;
    assert!(html.contains("<title>enmeshed</title>"));
    let html = page(&app, "/r/TOKabc?app=unknown", ANDROID).await.text;
    assert!(
        html.contains("Mein Wallet installieren"),
        "an unknown app gets the selection"
    );
}

async fn configured_text_is_escaped(backend: Backend) {
    let mut hostile = app("enmeshed", "<b>enmeshed</b>");
    hostile.description = "<script>alert(1)</script> & more".into();
    let app = spawn(backend, Some(apps(None, vec![hostile])), None).await;
    let html = page(&app, "/r/x?app=enmeshed", IPHONE).await.text;
    assert!(!html.contains("<script>alert(1)</script>"));
    assert!(
        html.contains("&#60;script&#62;alert(1)&#60;/script&#62; &#38; more"),
        "{html}"
    );
    assert!(!html.contains("<b>enmeshed</b>"));
}

async fn well_known_files_come_from_configuration(backend: Backend) {
    let fingerprint = ["0A"; 32].join(":");
    let well_known = WellKnownEndpointsConfig {
        apple_app_site_associations: vec!["ABCDE12345.eu.enmeshed.app".into(), "FGHIJ67890.eu.wallet".into()],
        android_asset_links: vec![
            AndroidAssetLink {
                package_name: "eu.enmeshed.app".into(),
                sha256_cert_fingerprints: vec![fingerprint.clone()],
            },
            AndroidAssetLink {
                package_name: "eu.wallet".into(),
                sha256_cert_fingerprints: vec![fingerprint.clone(), ["FF"; 32].join(":")],
            },
        ],
    };
    let app = spawn(backend, None, Some(well_known)).await;
    let apple = app.get("/.well-known/apple-app-site-association", None).await;
    apple.expect_status(200);
    assert!(apple.headers["content-type"]
        .to_str()
        .unwrap()
        .starts_with("application/json"));
    assert_eq!(
        apple.body,
        json!({ "applinks": { "details": [{
            "appIDs": ["ABCDE12345.eu.enmeshed.app", "FGHIJ67890.eu.wallet"],
            "components": [{ "/": "/r/*", "comment": "Matches any URL whose path starts with /r/" }]
        }] } })
    );
    let android = app.get("/.well-known/assetlinks.json", None).await;
    android.expect_status(200);
    let link = |package: &str, fingerprints: Vec<String>| {
        json!({
            "relation": ["delegate_permission/common.handle_all_urls"],
            "target": { "namespace": "android_app", "package_name": package, "sha256_cert_fingerprints": fingerprints }
        })
    };
    assert_eq!(
        android.body,
        json!([
            link("eu.enmeshed.app", vec![fingerprint.clone()]),
            link("eu.wallet", vec![fingerprint, ["FF"; 32].join(":")]),
        ])
    );
    // The onboarding page is a section of its own.
    assert_eq!(page(&app, "/r/x", IPHONE).await.status, 404);
}
