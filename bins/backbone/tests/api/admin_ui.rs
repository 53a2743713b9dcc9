//! The Admin UI on the Admin API listener (issue 13): a wrong key never reaches a page with
//! data, pages need a session, forged cross-site form posts are refused, and every response
//! carries the security headers. The screens themselves are driven in a real browser by
//! tests/admin-ui-browser.

use futures::future::join_all;
use reqwest::header::{HeaderMap, CONTENT_TYPE, COOKIE, LOCATION, SET_COOKIE};
use reqwest::StatusCode;

use crate::helpers::{TestApp, ADMIN_API_KEY};
use crate::on_both_databases;

on_both_databases!(
    a_wrong_key_is_refused_and_the_right_one_opens_a_session,
    no_page_with_data_without_a_session,
    forged_form_posts_are_refused,
    every_response_carries_the_security_headers,
    log_out_ends_the_session,
    the_dashboard_shows_what_the_modules_count,
    parallel_form_posts_each_take_effect_once,
);

/// A browser of the tests: cookies by hand, redirects not followed.
struct Browser {
    http: reqwest::Client,
    base: String,
}

/// The login form's cookie and token.
struct LoginForm {
    cookie: String,
    csrf: String,
}

impl Browser {
    fn new(app: &TestApp) -> Self {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        Self {
            http,
            base: app.admin_base.clone(),
        }
    }

    async fn get(&self, path: &str, cookie: Option<&str>) -> reqwest::Response {
        let mut request = self.http.get(format!("{}{path}", self.base));
        if let Some(cookie) = cookie {
            request = request.header(COOKIE, cookie);
        }
        request.send().await.unwrap()
    }

    async fn post_form(
        &self,
        path: &str,
        cookie: &str,
        form: &[(&str, &str)],
        headers: HeaderMap,
    ) -> reqwest::Response {
        self.http
            .post(format!("{}{path}", self.base))
            .header(COOKIE, cookie)
            .headers(headers)
            .form(form)
            .send()
            .await
            .unwrap()
    }

    async fn login_form(&self) -> LoginForm {
        let response = self.get("/ui/login", None).await;
        assert_eq!(response.status(), 200);
        let cookie = cookie_pair(response.headers(), "bbui_login");
        let html = response.text().await.unwrap();
        LoginForm {
            cookie,
            csrf: hidden_csrf(&html),
        }
    }

    /// Logs in with the right key: the session cookie and the CSRF token of its forms.
    async fn log_in(&self) -> (String, String) {
        let form = self.login_form().await;
        let response = self
            .post_form(
                "/ui/login",
                &form.cookie,
                &[("_csrf", &form.csrf), ("api_key", ADMIN_API_KEY)],
                HeaderMap::new(),
            )
            .await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        let session = cookie_pair(response.headers(), "bbui_session");
        let page = self.get("/ui/tiers", Some(&session)).await;
        assert_eq!(page.status(), 200);
        let csrf = hidden_csrf(&page.text().await.unwrap());
        (session, csrf)
    }
}

/// `name=value` of the `Set-Cookie` header that sets `name`.
fn cookie_pair(headers: &HeaderMap, name: &str) -> String {
    set_cookie(headers, name)
        .unwrap_or_else(|| panic!("no {name} cookie in {headers:?}"))
        .split(';')
        .next()
        .unwrap()
        .to_owned()
}

fn set_cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .find(|v| v.starts_with(&format!("{name}=")))
}

/// The value of the first `_csrf` hidden field of a page.
fn hidden_csrf(html: &str) -> String {
    let marker = "name=\"_csrf\" value=\"";
    let start = html.find(marker).expect("the page has a form with a CSRF token") + marker.len();
    html[start..].split('"').next().unwrap().to_owned()
}

async fn tier_names(app: &TestApp) -> Vec<String> {
    let response = crate::admin::admin_get(app, "/api/v1/Tiers").await;
    response
        .result()
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap().to_owned())
        .collect()
}

async fn a_wrong_key_is_refused_and_the_right_one_opens_a_session(app: TestApp) {
    let browser = Browser::new(&app);
    // `/` leads to the UI, and the UI without a session to the login.
    let root = browser.get("/", None).await;
    assert_eq!(root.status(), StatusCode::SEE_OTHER);
    assert_eq!(root.headers()[LOCATION], "/ui/");
    let form = browser.login_form().await;
    let wrong = browser
        .post_form(
            "/ui/login",
            &form.cookie,
            &[("_csrf", &form.csrf), ("api_key", "not-the-key")],
            HeaderMap::new(),
        )
        .await;
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    assert!(
        set_cookie(wrong.headers(), "bbui_session").is_none(),
        "no session for a wrong key"
    );
    let html = wrong.text().await.unwrap();
    assert!(html.contains("This API key is not valid."), "{html}");
    assert!(html.contains("<label for=\"api_key\">API key</label>"), "{html}");

    let right = browser
        .post_form(
            "/ui/login",
            &form.cookie,
            &[("_csrf", &form.csrf), ("api_key", ADMIN_API_KEY)],
            HeaderMap::new(),
        )
        .await;
    assert_eq!(right.status(), StatusCode::SEE_OTHER);
    assert_eq!(right.headers()[LOCATION], "/ui/");
    let cookie = set_cookie(right.headers(), "bbui_session").unwrap();
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/ui", "Max-Age="] {
        assert!(cookie.contains(attribute), "{cookie} lacks {attribute}");
    }
    let session = cookie.split(';').next().unwrap();
    let dashboard = browser.get("/ui/", Some(session)).await;
    assert_eq!(dashboard.status(), 200);
    let html = dashboard.text().await.unwrap();
    for link in ["Dashboard", "Identities", "Tiers", "Clients", "Announcements"] {
        assert!(
            html.contains(&format!(">{link}</a>")),
            "no navigation link {link}"
        );
    }
    assert!(
        html.contains("Identities by tier") && html.contains("<svg"),
        "{html}"
    );
}

async fn no_page_with_data_without_a_session(app: TestApp) {
    let browser = Browser::new(&app);
    for path in [
        "/ui/",
        "/ui/identities",
        "/ui/tiers",
        "/ui/tiers/TIRBasic000000000000",
        "/ui/clients",
        "/ui/announcements",
    ] {
        for cookie in [
            None,
            Some("bbui_session=guessed0000000000000000000000000000000000000"),
        ] {
            let response = browser.get(path, cookie).await;
            assert_eq!(response.status(), StatusCode::SEE_OTHER, "{path}");
            assert_eq!(response.headers()[LOCATION], "/ui/login", "{path}");
            assert!(
                !response.text().await.unwrap().contains("Basic"),
                "{path} shows data"
            );
        }
    }
    // A form post without a session changes nothing.
    let response = browser
        .post_form(
            "/ui/tiers",
            "bbui_session=guessed",
            &[("name", "Sneaky")],
            HeaderMap::new(),
        )
        .await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert!(!tier_names(&app).await.contains(&"Sneaky".to_owned()));
}

async fn forged_form_posts_are_refused(app: TestApp) {
    let browser = Browser::new(&app);
    let (session, csrf) = browser.log_in().await;
    let mut cross_site = HeaderMap::new();
    cross_site.insert("sec-fetch-site", "cross-site".parse().unwrap());
    let forgeries: [(&[(&str, &str)], HeaderMap); 3] = [
        (&[("name", "Forged")], HeaderMap::new()),
        (&[("name", "Forged"), ("_csrf", "wrong-token")], HeaderMap::new()),
        (&[("name", "Forged"), ("_csrf", &csrf)], cross_site),
    ];
    for (form, headers) in forgeries {
        let response = browser.post_form("/ui/tiers", &session, form, headers).await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN);
        let html = response.text().await.unwrap();
        assert!(html.contains("role=\"alert\""), "{html}");
    }
    // The login form is protected as well: a token without its cookie is refused.
    let login = browser.login_form().await;
    let response = browser
        .post_form(
            "/ui/login",
            "",
            &[("_csrf", &login.csrf), ("api_key", ADMIN_API_KEY)],
            HeaderMap::new(),
        )
        .await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert!(set_cookie(response.headers(), "bbui_session").is_none());
    assert!(!tier_names(&app).await.contains(&"Forged".to_owned()));

    // The genuine form goes through the Admin API, with its answer in the page.
    let response = browser
        .post_form(
            "/ui/tiers",
            &session,
            &[("name", "Genuine"), ("_csrf", &csrf)],
            HeaderMap::new(),
        )
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert!(tier_names(&app).await.contains(&"Genuine".to_owned()));
    let duplicate = browser
        .post_form(
            "/ui/tiers",
            &session,
            &[("name", "Genuine"), ("_csrf", &csrf)],
            HeaderMap::new(),
        )
        .await;
    assert_eq!(duplicate.headers()[LOCATION], "/ui/tiers");
    let page = browser
        .get("/ui/tiers", Some(&session))
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("class=\"flash error\" role=\"alert\""), "{page}");
    assert!(!page.contains("\"code\""), "the API's JSON leaked into the page");
}

async fn every_response_carries_the_security_headers(app: TestApp) {
    let browser = Browser::new(&app);
    let (session, _) = browser.log_in().await;
    let responses = [
        browser.get("/ui/login", None).await,
        browser.get("/ui/", Some(&session)).await,
        browser
            .get("/ui/tiers/TIRnotthere000000000", Some(&session))
            .await,
        browser.get("/ui/assets/app.css", None).await,
    ];
    for response in responses {
        let headers = response.headers();
        let csp = headers["content-security-policy"].to_str().unwrap();
        assert!(csp.contains("default-src 'none'"), "{csp}");
        assert!(
            csp.contains("script-src 'self'") && csp.contains("style-src 'self'"),
            "{csp}"
        );
        assert!(
            csp.contains("frame-ancestors 'none'") && !csp.contains("unsafe-inline"),
            "{csp}"
        );
        assert_eq!(headers["x-content-type-options"], "nosniff");
        assert_eq!(headers["x-frame-options"], "DENY");
        assert_eq!(headers["referrer-policy"], "no-referrer");
    }
    // A page with data is not cached; a tier that does not exist is a page, not JSON.
    let missing = browser
        .get("/ui/tiers/TIRnotthere000000000", Some(&session))
        .await;
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    assert_eq!(missing.headers()["cache-control"], "no-store");
    assert!(missing.headers()[CONTENT_TYPE]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    let css = browser.get("/ui/assets/app.css", None).await;
    assert_eq!(css.headers()[CONTENT_TYPE], "text/css; charset=utf-8");
    assert_eq!(
        browser.get("/ui/assets/nothing.js", None).await.status(),
        StatusCode::NOT_FOUND
    );
}

async fn log_out_ends_the_session(app: TestApp) {
    let browser = Browser::new(&app);
    let (session, csrf) = browser.log_in().await;
    let response = browser
        .post_form("/ui/logout", &session, &[("_csrf", &csrf)], HeaderMap::new())
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert!(set_cookie(response.headers(), "bbui_session")
        .unwrap()
        .contains("Max-Age=0"));
    let after = browser.get("/ui/", Some(&session)).await;
    assert_eq!(after.headers()[LOCATION], "/ui/login");
}

async fn the_dashboard_shows_what_the_modules_count(app: TestApp) {
    // An identity whose device logged in (the helper fetches a token).
    app.create_identity().await;
    let browser = Browser::new(&app);
    let (session, _) = browser.log_in().await;
    let html = browser.get("/ui/", Some(&session)).await.text().await.unwrap();
    assert!(!html.contains("Some figures are missing"), "{html}");
    assert!(
        html.contains("<span class=\"figure\">1</span> identities"),
        "{html}"
    );
    assert!(
        html.contains("<span class=\"figure\">1</span> active devices"),
        "{html}"
    );
    // Identities created per day: today's column; no message was sent.
    assert!(html.contains("1 in the last 30 days"), "{html}");
    assert!(html.contains("0 in the last 30 days (highest day: 0)"), "{html}");
}

/// Operators submit forms at once, in two sessions logged in at the same time: every post is
/// answered with a redirect, each distinct tier is created once, and of four posts of the
/// same name exactly one creates it (the other three lead back to the list).
async fn parallel_form_posts_each_take_effect_once(app: TestApp) {
    let browser = Browser::new(&app);
    let sessions = join_all((0..2).map(|_| browser.log_in())).await;
    assert_ne!(sessions[0].0, sessions[1].0, "each login starts its own session");
    let names: Vec<String> = (0..6)
        .map(|i| format!("Parallel {i}"))
        .chain((0..4).map(|_| "Twin".to_owned()))
        .collect();
    let posts = names.iter().enumerate().map(|(i, name)| {
        let (session, csrf) = &sessions[i % 2];
        let form = [("name", name.as_str()), ("_csrf", csrf.as_str())];
        let browser = &browser;
        async move {
            browser
                .post_form("/ui/tiers", session, &form, HeaderMap::new())
                .await
        }
    });
    // A created tier leads to its page, a refused one back to the list with the message.
    let mut created = 0;
    for response in join_all(posts).await {
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        let location = response.headers()[LOCATION].to_str().unwrap().to_owned();
        if location.starts_with("/ui/tiers/TIR") {
            created += 1;
        } else {
            assert_eq!(location, "/ui/tiers");
        }
    }
    assert_eq!(created, 7);
    let tiers = tier_names(&app).await;
    for name in names.iter().take(6) {
        assert_eq!(tiers.iter().filter(|tier| *tier == name).count(), 1, "{tiers:?}");
    }
    assert_eq!(
        tiers.iter().filter(|tier| *tier == "Twin").count(),
        1,
        "{tiers:?}"
    );
    // Both sessions still open pages.
    for (session, _) in &sessions {
        assert_eq!(browser.get("/ui/tiers", Some(session)).await.status(), 200);
    }
}
