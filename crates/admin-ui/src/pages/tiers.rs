//! Tiers: the list with the create form, and a tier's quota definitions.

use askama::Template;
use axum::extract::Path;
use axum::http::Method;
use axum::response::Response;
use axum::Extension;
use serde::Deserialize;
use serde_json::json;

use super::{encode, render, text, Ctx, Layout, Metric, PageResult, QuotaRow, PERIODS};
use crate::form::{number_or_text, FormData};
use crate::session::Flash;

/// "Queued for Deletion": its quotas are fixed.
pub const QUEUED_FOR_DELETION: &str = "TIR00000000000000001";

#[derive(Deserialize, Clone)]
#[serde(rename_all = "camelCase")]
pub struct TierOverview {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub can_be_used_as_default_for_client: bool,
    #[serde(default)]
    pub can_be_manually_assigned: bool,
    #[serde(default)]
    pub number_of_identities: i64,
}

impl TierOverview {
    pub fn href(&self) -> String {
        format!("/ui/tiers/{}", encode(&self.id))
    }
}

#[derive(Template)]
#[template(path = "tiers.html")]
struct TiersPage {
    layout: Layout,
    tiers: Vec<TierOverview>,
}

pub async fn list(ctx: Ctx) -> PageResult {
    let tiers = ctx.get("/api/v1/Tiers").await?;
    Ok(render(&TiersPage {
        layout: ctx.layout("Tiers", "Tiers"),
        tiers,
    }))
}

pub async fn create(ctx: Ctx, Extension(form): Extension<FormData>) -> Response {
    let result = ctx
        .send(
            Method::POST,
            "/api/v1/Tiers",
            Some(json!({ "name": form.text("name") })),
        )
        .await;
    let target = result
        .as_ref()
        .map(|tier| format!("/ui/tiers/{}", encode(&text(tier, "id"))))
        .unwrap_or_default();
    ctx.after_change(
        result,
        |tier| Flash::notice(format!("Tier \"{}\" created.", text(tier, "name"))),
        &target,
        "/ui/tiers",
    )
}

#[derive(Template)]
#[template(path = "tier.html")]
struct TierPage {
    layout: Layout,
    id: String,
    name: String,
    read_only: bool,
    quotas: Vec<QuotaRow>,
    metrics: Vec<Metric>,
    periods: [&'static str; 6],
    identities_href: String,
    quotas_action: String,
}

pub async fn show(ctx: Ctx, Path(id): Path<String>) -> PageResult {
    let tier: serde_json::Value = ctx.get(&format!("/api/v1/Tiers/{}", encode(&id))).await?;
    let metrics = ctx.get("/api/v1/Metrics").await?;
    let quotas = tier["quotas"]
        .as_array()
        .map(|quotas| quotas.iter().map(QuotaRow::from_json).collect())
        .unwrap_or_default();
    let name = text(&tier, "name");
    Ok(render(&TierPage {
        layout: ctx.layout(format!("Tier {name}"), "Tiers"),
        read_only: id == QUEUED_FOR_DELETION,
        identities_href: format!("/ui/identities?tier={}", encode(&id)),
        quotas_action: format!("/ui/tiers/{}/quotas", encode(&id)),
        id,
        name,
        quotas,
        metrics,
        periods: PERIODS,
    }))
}

pub async fn add_quota(ctx: Ctx, Path(id): Path<String>, Extension(form): Extension<FormData>) -> Response {
    let back = format!("/ui/tiers/{}", encode(&id));
    let result = ctx
        .send(
            Method::POST,
            &format!("/api/v1/Tiers/{}/Quotas", encode(&id)),
            Some(quota_request(&form)),
        )
        .await;
    ctx.after_change(result, |_| Flash::notice("Quota added."), &back, &back)
}

pub async fn remove_quotas(
    ctx: Ctx,
    Path(id): Path<String>,
    Extension(form): Extension<FormData>,
) -> Response {
    let back = format!("/ui/tiers/{}", encode(&id));
    let selected = form.all("quota");
    let result = remove_each(&ctx, &selected, |quota| {
        format!("/api/v1/Tiers/{}/Quotas/{}", encode(&id), encode(quota))
    })
    .await;
    ctx.after_change(result, |_| removed_notice(selected.len()), &back, &back)
}

/// The body of `POST …/Quotas` from the "Add quota" form.
pub fn quota_request(form: &FormData) -> serde_json::Value {
    json!({
        "metricKey": form.text("metric"),
        "max": number_or_text(form.optional("max")),
        "period": form.text("period"),
    })
}

/// Deletes the selected items one by one, stopping at the first refusal.
pub async fn remove_each(
    ctx: &Ctx,
    selected: &[String],
    path: impl Fn(&str) -> String,
) -> Result<serde_json::Value, crate::api::ApiError> {
    if selected.is_empty() {
        return Err(crate::api::ApiError::Refused {
            status: axum::http::StatusCode::BAD_REQUEST,
            code: String::new(),
            message: "Select the quotas to remove first.".into(),
        });
    }
    for item in selected {
        ctx.send(Method::DELETE, &path(item), None).await?;
    }
    Ok(serde_json::Value::Null)
}

pub fn removed_notice(count: usize) -> Flash {
    Flash::notice(if count == 1 {
        "Quota removed.".to_owned()
    } else {
        format!("{count} quotas removed.")
    })
}
