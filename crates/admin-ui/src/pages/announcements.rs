//! Announcements: list, create (texts per language, actions, push option), details, delete.

use askama::Template;
use axum::extract::Path;
use axum::http::Method;
use axum::response::Response;
use axum::Extension;
use serde_json::{json, Value};

use super::clients::ConfirmPage;
use super::{encode, render, show_date, text, Ctx, Layout, PageResult};
use crate::form::FormData;
use crate::session::Flash;

/// How many link actions the create form offers.
const ACTION_ROWS: [usize; 2] = [1, 2];
const SEVERITIES: [&str; 3] = ["Low", "Medium", "High"];

pub struct AnnouncementRow {
    pub id: String,
    pub title: String,
    pub severity: String,
    pub created_at: String,
    pub expires_at: String,
    pub push: &'static str,
    pub href: String,
}

impl AnnouncementRow {
    fn from_json(value: &Value) -> Self {
        let id = text(value, "id");
        Self {
            href: format!("/ui/announcements/{}", encode(&id)),
            id,
            title: english(value, "title"),
            severity: text(value, "severity"),
            created_at: show_date(value["createdAt"].as_str()),
            expires_at: value["expiresAt"]
                .as_str()
                .map_or("Never".into(), |d| show_date(Some(d))),
            push: if value["isSilent"] == Value::Bool(true) {
                "No"
            } else {
                "Yes"
            },
        }
    }
}

/// The English text (every announcement has one), else the first.
fn english(announcement: &Value, field: &str) -> String {
    let texts = announcement["texts"].as_array().cloned().unwrap_or_default();
    texts
        .iter()
        .find(|t| t["language"] == "en")
        .or_else(|| texts.first())
        .map(|t| text(t, field))
        .unwrap_or_default()
}

#[derive(Template)]
#[template(path = "announcements.html")]
struct AnnouncementsPage {
    layout: Layout,
    announcements: Vec<AnnouncementRow>,
}

pub async fn list(ctx: Ctx) -> PageResult {
    let announcements: Vec<Value> = ctx.get("/api/v1/Announcements").await?;
    Ok(render(&AnnouncementsPage {
        layout: ctx.layout("Announcements", "Announcements"),
        announcements: announcements.iter().map(AnnouncementRow::from_json).collect(),
    }))
}

#[derive(Template)]
#[template(path = "announcement_new.html")]
struct NewAnnouncementPage {
    layout: Layout,
    severities: Vec<super::Choice>,
    action_rows: [usize; 2],
}

pub async fn new(ctx: Ctx) -> Response {
    render(&NewAnnouncementPage {
        layout: ctx.layout("New announcement", "Announcements"),
        severities: super::Choice::list(&SEVERITIES, "Medium"),
        action_rows: ACTION_ROWS,
    })
}

/// The body of `POST /api/v1/Announcements`; recipients are always everyone, as upstream's UI.
fn create_request(form: &FormData) -> Value {
    let mut texts = vec![json!({
        "language": "en",
        "title": form.text("title_en"),
        "body": form.text("body_en"),
    })];
    if form.optional("title_de").is_some() || form.optional("body_de").is_some() {
        texts.push(json!({ "language": "de", "title": form.text("title_de"), "body": form.text("body_de") }));
    }
    let actions: Vec<Value> = ACTION_ROWS
        .iter()
        .filter_map(|row| {
            let link = form.optional(&format!("action_{row}_link"))?;
            let mut names = serde_json::Map::new();
            for language in ["en", "de"] {
                if let Some(name) = form.optional(&format!("action_{row}_{language}")) {
                    names.insert(language.into(), Value::String(name));
                }
            }
            Some(json!({ "displayName": names, "link": link }))
        })
        .collect();
    json!({
        "severity": form.text("severity"),
        "isSilent": !form.is_checked("push"),
        "expiresAt": form.optional("expires_at").map(|local| format!("{local}:00Z")),
        "texts": texts,
        "actions": actions,
        "recipients": [],
        "iqlQuery": form.optional("iql_query"),
    })
}

pub async fn create(ctx: Ctx, Extension(form): Extension<FormData>) -> Response {
    let result = ctx
        .send(Method::POST, "/api/v1/Announcements", Some(create_request(&form)))
        .await;
    let target = result
        .as_ref()
        .map(|a| format!("/ui/announcements/{}", encode(&text(a, "id"))))
        .unwrap_or_default();
    ctx.after_change(
        result,
        |_| Flash::notice("Announcement created."),
        &target,
        "/ui/announcements/new",
    )
}

pub struct TextRow {
    pub language: String,
    pub title: String,
    pub body: String,
}

pub struct ActionRow {
    pub names: String,
    pub link: String,
}

#[derive(Template)]
#[template(path = "announcement.html")]
struct AnnouncementPage {
    layout: Layout,
    row: AnnouncementRow,
    texts: Vec<TextRow>,
    actions: Vec<ActionRow>,
    iql_query: String,
    recipients: String,
}

pub async fn show(ctx: Ctx, Path(id): Path<String>) -> PageResult {
    let announcement: Value = ctx.get(&format!("/api/v1/Announcements/{}", encode(&id))).await?;
    let list = |field: &str| announcement[field].as_array().cloned().unwrap_or_default();
    let texts = list("texts")
        .iter()
        .map(|t| TextRow {
            language: text(t, "language"),
            title: text(t, "title"),
            body: text(t, "body"),
        })
        .collect();
    let actions = list("actions")
        .iter()
        .map(|a| ActionRow {
            names: a["displayName"]
                .as_object()
                .map(|names| {
                    let shown: Vec<String> = names
                        .iter()
                        .map(|(language, name)| format!("{language}: {}", name.as_str().unwrap_or_default()))
                        .collect();
                    shown.join(", ")
                })
                .unwrap_or_default(),
            link: text(a, "link"),
        })
        .collect();
    let recipients = list("recipients");
    Ok(render(&AnnouncementPage {
        layout: ctx.layout("Announcement", "Announcements"),
        row: AnnouncementRow::from_json(&announcement),
        texts,
        actions,
        iql_query: text(&announcement, "iqlQuery"),
        recipients: if recipients.is_empty() {
            "Everyone".into()
        } else {
            recipients
                .iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join(", ")
        },
    }))
}

pub async fn delete(ctx: Ctx, Path(id): Path<String>, Extension(form): Extension<FormData>) -> Response {
    let action = format!("/ui/announcements/{}/delete", encode(&id));
    if !form.is_checked("confirmed") {
        return render(&ConfirmPage {
            layout: ctx.layout("Delete announcement", "Announcements"),
            heading: "Delete announcement".into(),
            question: "Delete this announcement? Identities will no longer see it.".into(),
            items: vec![id.clone()],
            field: "announcement",
            action,
            button: "Delete announcement".into(),
            cancel: format!("/ui/announcements/{}", encode(&id)),
        });
    }
    let result = ctx
        .send(
            Method::DELETE,
            &format!("/api/v1/Announcements/{}", encode(&id)),
            None,
        )
        .await;
    ctx.after_change(
        result,
        |_| Flash::notice("Announcement deleted."),
        "/ui/announcements",
        &format!("/ui/announcements/{}", encode(&id)),
    )
}
