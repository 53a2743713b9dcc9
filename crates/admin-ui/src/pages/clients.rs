//! OAuth clients: list (filtered), create (the secret shown once), details with secret change,
//! default tier and identity limit, and deletion after a confirmation.

use askama::Template;
use axum::extract::{Path, Query};
use axum::http::Method;
use axum::response::Response;
use axum::Extension;
use serde::Deserialize;
use serde_json::{json, Value};

use super::tiers::TierOverview;
use super::{encode, render, see_other, show_date, text, Ctx, Layout, PageResult};
use crate::form::{number_or_text, FormData};
use crate::session::Flash;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ClientOverview {
    client_id: String,
    display_name: String,
    default_tier: TierRef,
    created_at: Option<String>,
    max_identities: Option<i64>,
    #[serde(default)]
    number_of_identities: i64,
}

#[derive(Deserialize)]
struct TierRef {
    name: String,
}

pub struct ClientRow {
    pub client_id: String,
    pub display_name: String,
    pub default_tier: String,
    pub number_of_identities: i64,
    pub max_identities: String,
    pub created_at: String,
    pub href: String,
}

#[derive(Template)]
#[template(path = "clients.html")]
struct ClientsPage {
    layout: Layout,
    clients: Vec<ClientRow>,
    filter: String,
    total: usize,
    default_tiers: Vec<TierOverview>,
}

#[derive(Deserialize)]
pub struct ListQuery {
    #[serde(default)]
    filter: String,
}

pub async fn list(ctx: Ctx, Query(query): Query<ListQuery>) -> PageResult {
    let clients: Vec<ClientOverview> = ctx.get("/api/v1/Clients").await?;
    let tiers: Vec<TierOverview> = ctx.get("/api/v1/Tiers").await?;
    let total = clients.len();
    let needle = query.filter.trim().to_lowercase();
    let clients = clients
        .into_iter()
        .filter(|c| {
            needle.is_empty()
                || c.client_id.to_lowercase().contains(&needle)
                || c.display_name.to_lowercase().contains(&needle)
                || c.default_tier.name.to_lowercase().contains(&needle)
        })
        .map(|c| ClientRow {
            href: format!("/ui/clients/{}", encode(&c.client_id)),
            max_identities: c.max_identities.map_or("No limit".into(), |m| m.to_string()),
            created_at: show_date(c.created_at.as_deref()),
            client_id: c.client_id,
            display_name: c.display_name,
            default_tier: c.default_tier.name,
            number_of_identities: c.number_of_identities,
        })
        .collect();
    Ok(render(&ClientsPage {
        layout: ctx.layout("Clients", "Clients"),
        clients,
        filter: query.filter,
        total,
        default_tiers: tiers
            .into_iter()
            .filter(|t| t.can_be_used_as_default_for_client)
            .collect(),
    }))
}

pub async fn create(ctx: Ctx, Extension(form): Extension<FormData>) -> Response {
    let body = json!({
        "clientId": form.optional("client_id"),
        "displayName": form.optional("display_name"),
        "clientSecret": form.optional("client_secret"),
        "defaultTier": form.text("default_tier"),
        "maxIdentities": number_or_text(form.optional("max_identities")),
    });
    let result = ctx.send(Method::POST, "/api/v1/Clients", Some(body)).await;
    let target = result.as_ref().map(client_href).unwrap_or_default();
    ctx.after_change(
        result,
        |client| secret_notice(client, "created"),
        &target,
        "/ui/clients",
    )
}

fn client_href(client: &Value) -> String {
    format!("/ui/clients/{}", encode(&text(client, "clientId")))
}

fn secret_notice(client: &Value, what: &str) -> Flash {
    Flash {
        is_error: false,
        text: format!("Client \"{}\" {what}.", text(client, "clientId")),
        secret: Some(text(client, "clientSecret")),
    }
}

#[derive(Template)]
#[template(path = "client.html")]
struct ClientPage {
    layout: Layout,
    client_id: String,
    display_name: String,
    default_tier: String,
    created_at: String,
    number_of_identities: String,
    max_identities: String,
    tiers: Vec<TierOverview>,
    action: String,
    identities_href: String,
}

pub async fn show(ctx: Ctx, Path(id): Path<String>) -> PageResult {
    let client: Value = ctx.get(&format!("/api/v1/Clients/{}", encode(&id))).await?;
    let tiers: Vec<TierOverview> = ctx.get("/api/v1/Tiers").await?;
    Ok(render(&ClientPage {
        layout: ctx.layout(format!("Client {id}"), "Clients"),
        client_id: text(&client, "clientId"),
        display_name: text(&client, "displayName"),
        default_tier: text(&client, "defaultTier"),
        created_at: show_date(client["createdAt"].as_str()),
        number_of_identities: text(&client, "numberOfIdentities"),
        max_identities: text(&client, "maxIdentities"),
        tiers: tiers
            .into_iter()
            .filter(|t| t.can_be_used_as_default_for_client)
            .collect(),
        action: format!("/ui/clients/{}", encode(&id)),
        identities_href: format!("/ui/identities?client={}", encode(&id)),
    }))
}

/// "Save changes": the default tier and the identity limit (blank = no limit).
pub async fn update(ctx: Ctx, Path(id): Path<String>, Extension(form): Extension<FormData>) -> Response {
    let back = format!("/ui/clients/{}", encode(&id));
    let body = json!({
        "defaultTier": form.text("default_tier"),
        "maxIdentities": number_or_text(form.optional("max_identities")),
    });
    let result = ctx
        .send(
            Method::PUT,
            &format!("/api/v1/Clients/{}", encode(&id)),
            Some(body),
        )
        .await;
    ctx.after_change(result, |_| Flash::notice("Client saved."), &back, &back)
}

/// "Change secret": the given one, or a generated one when left blank.
pub async fn change_secret(
    ctx: Ctx,
    Path(id): Path<String>,
    Extension(form): Extension<FormData>,
) -> Response {
    let back = format!("/ui/clients/{}", encode(&id));
    let result = ctx
        .send(
            Method::PATCH,
            &format!("/api/v1/Clients/{}/ChangeSecret", encode(&id)),
            Some(json!({ "newSecret": form.optional("new_secret") })),
        )
        .await;
    ctx.after_change(
        result,
        |client| secret_notice(client, "has a new secret"),
        &back,
        &back,
    )
}

#[derive(Template)]
#[template(path = "confirm.html")]
pub struct ConfirmPage {
    pub layout: Layout,
    pub heading: String,
    pub question: String,
    pub items: Vec<String>,
    pub field: &'static str,
    pub action: String,
    pub button: String,
    pub cancel: String,
}

/// "Delete selected clients": first a confirmation listing them, then the deletion.
pub async fn delete(ctx: Ctx, Extension(form): Extension<FormData>) -> Response {
    let selected = form.all("client");
    if selected.is_empty() {
        ctx.flash(Flash::error("Select the clients to delete first."));
        return see_other("/ui/clients");
    }
    if !form.is_checked("confirmed") {
        let count = selected.len();
        return render(&ConfirmPage {
            layout: ctx.layout("Delete clients", "Clients"),
            heading: "Delete clients".into(),
            question: format!(
                "Delete {count} client{}? Identities created with them are kept.",
                if count == 1 { "" } else { "s" }
            ),
            items: selected,
            field: "client",
            action: "/ui/clients/delete".into(),
            button: if count == 1 {
                "Delete client".into()
            } else {
                format!("Delete {count} clients")
            },
            cancel: "/ui/clients".into(),
        });
    }
    let mut result = Ok(Value::Null);
    for client in &selected {
        result = ctx
            .send(
                Method::DELETE,
                &format!("/api/v1/Clients/{}", encode(client)),
                None,
            )
            .await;
        if result.is_err() {
            break;
        }
    }
    let count = selected.len();
    ctx.after_change(
        result,
        |_| Flash::notice(format!("{count} client(s) deleted.")),
        "/ui/clients",
        "/ui/clients",
    )
}
