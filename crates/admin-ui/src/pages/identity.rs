//! One identity: its facts, tier change, quotas, devices, relationships, messages, deletion
//! processes with their audit logs; and the audit-log search by address.

use askama::Template;
use axum::extract::{Path, Query};
use axum::http::Method;
use axum::response::Response;
use axum::Extension;
use serde::Deserialize;
use serde_json::{json, Value};

use super::tiers::{quota_request, remove_each, removed_notice, TierOverview};
use super::{encode, render, show_date, text, Ctx, Layout, Metric, PageResult, QuotaRow, PERIODS};
use crate::form::FormData;
use crate::session::Flash;

/// Rows per page of the relationship and message sections.
const SECTION_PAGE_SIZE: i64 = 10;

/// A section that could not be loaded shows its error instead of failing the page.
pub type Section<T> = Result<T, String>;

pub struct DeviceRow {
    pub id: String,
    pub username: String,
    pub created_at: String,
    pub created_by_device: String,
    pub last_login: String,
    pub language: String,
    pub is_backup: bool,
}

/// A page of a paged list in a section, with the link to the next page.
pub struct Paged {
    pub rows: Vec<Vec<String>>,
    pub next: Option<String>,
    pub previous: Option<String>,
}

pub struct ProcessRow {
    pub id: String,
    pub href: String,
    pub status: String,
    pub created_at: String,
    pub created_by_device: String,
    pub reminders: String,
    pub grace_period_ends_at: String,
}

#[derive(Template)]
#[template(path = "identity.html")]
struct IdentityPage {
    layout: Layout,
    address: String,
    base: String,
    facts: Vec<(&'static str, String)>,
    tier_id: String,
    tier_name: String,
    can_change_tier: bool,
    tiers: Vec<TierOverview>,
    quotas: Vec<QuotaRow>,
    metrics: Vec<Metric>,
    periods: [&'static str; 6],
    quotas_action: String,
    read_only: bool,
    show_usage: bool,
    devices: Vec<DeviceRow>,
    relationships: Section<Paged>,
    received: Section<Paged>,
    sent: Section<Paged>,
    processes: Section<Vec<ProcessRow>>,
    audit_href: String,
}

/// The query names are the page's links (`?sent_page=2`), hence the shared postfix.
#[derive(Deserialize, Default)]
#[expect(
    clippy::struct_field_names,
    reason = "the fields are the query parameters' names"
)]
pub struct SectionPages {
    relationships_page: Option<i64>,
    received_page: Option<i64>,
    sent_page: Option<i64>,
}

pub async fn show(ctx: Ctx, Path(address): Path<String>, Query(pages): Query<SectionPages>) -> PageResult {
    let identity: Value = ctx
        .get(&format!("/api/v1/Identities/{}", encode(&address)))
        .await?;
    let tiers: Vec<TierOverview> = ctx.get("/api/v1/Tiers").await?;
    let metrics = ctx.get("/api/v1/Metrics").await?;
    let base = format!("/ui/identities/{}", encode(&address));
    let tier_id = text(&identity, "tierId");
    let current = tiers.iter().find(|t| t.id == tier_id);
    let list = |field: &str| identity[field].as_array().cloned().unwrap_or_default();
    let section = |kind: &'static str, page: Option<i64>| Pager {
        kind,
        page: page.unwrap_or(1).max(1),
        base: base.clone(),
    };
    let page = IdentityPage {
        layout: ctx.layout("Identity", "Identities"),
        facts: facts(&identity),
        tier_name: current.map_or_else(|| tier_id.clone(), |t| t.name.clone()),
        can_change_tier: current.is_some_and(|t| t.can_be_manually_assigned),
        tiers: tiers
            .iter()
            .filter(|t| t.can_be_manually_assigned)
            .cloned()
            .collect(),
        quotas: list("quotas").iter().map(QuotaRow::from_json).collect(),
        metrics,
        periods: PERIODS,
        quotas_action: format!("{base}/quotas"),
        read_only: false,
        show_usage: true,
        devices: list("devices").iter().map(device_row).collect(),
        relationships: relationships(&ctx, &address, section("relationships", pages.relationships_page))
            .await,
        received: messages(
            &ctx,
            &address,
            "Incoming",
            section("received", pages.received_page),
        )
        .await,
        sent: messages(&ctx, &address, "Outgoing", section("sent", pages.sent_page)).await,
        processes: processes(&ctx, &address, &base).await,
        audit_href: format!("/ui/audit-logs?address={}", encode(&address)),
        tier_id,
        base,
        address,
    };
    Ok(render(&page))
}

fn facts(identity: &Value) -> Vec<(&'static str, String)> {
    vec![
        ("Client ID", text(identity, "clientId")),
        ("Public key", text(identity, "publicKey")),
        ("Created at", show_date(identity["createdAt"].as_str())),
        ("Identity version", text(identity, "identityVersion")),
        ("Number of devices", text(identity, "numberOfDevices")),
    ]
}

fn device_row(device: &Value) -> DeviceRow {
    DeviceRow {
        id: text(device, "id"),
        username: text(device, "username"),
        created_at: show_date(device["createdAt"].as_str()),
        created_by_device: text(device, "createdByDevice"),
        last_login: device["lastLogin"]["time"]
            .as_str()
            .map_or("Never".into(), |t| show_date(Some(t))),
        language: text(device, "communicationLanguage"),
        is_backup: device["isBackupDevice"] == Value::Bool(true),
    }
}

/// Which page of which section, and how to link to its neighbours.
struct Pager {
    kind: &'static str,
    page: i64,
    base: String,
}

impl Pager {
    fn query(&self) -> String {
        format!("PageNumber={}&PageSize={SECTION_PAGE_SIZE}", self.page)
    }

    fn paged(&self, answer: &Value, row: impl Fn(&Value) -> Vec<String>) -> Paged {
        let rows: Vec<Vec<String>> = answer["result"]
            .as_array()
            .map(|r| r.iter().map(row).collect())
            .unwrap_or_default();
        let pages = answer["pagination"]["totalPages"].as_i64().unwrap_or(1);
        let link = |page: i64| format!("{}?{}_page={page}#{}", self.base, self.kind, self.kind);
        Paged {
            rows,
            next: (self.page < pages).then(|| link(self.page + 1)),
            previous: (self.page > 1).then(|| link(self.page - 1)),
        }
    }
}

async fn relationships(ctx: &Ctx, address: &str, pager: Pager) -> Section<Paged> {
    let path = format!(
        "/api/v1/Relationships?participant={}&{}",
        encode(address),
        pager.query()
    );
    let answer = ctx
        .state
        .api
        .get_value(&ctx.session.credentials, &path)
        .await
        .map_err(|e| e.to_string())?;
    Ok(pager.paged(&answer, |r| {
        vec![
            text(r, "peer"),
            text(r, "requestedBy"),
            text(r, "templateId"),
            text(r, "status"),
            show_date(r["creationDate"].as_str()),
            show_date(r["answeredAt"].as_str()),
            text(r, "createdByDevice"),
            text(r, "answeredByDevice"),
        ]
    }))
}

async fn messages(ctx: &Ctx, address: &str, kind: &str, pager: Pager) -> Section<Paged> {
    let path = format!(
        "/api/v1/Messages?participant={}&type={kind}&{}",
        encode(address),
        pager.query()
    );
    let answer = ctx
        .state
        .api
        .get_value(&ctx.session.credentials, &path)
        .await
        .map_err(|e| e.to_string())?;
    Ok(pager.paged(&answer, |m| {
        let recipients: Vec<String> = m["recipients"]
            .as_array()
            .map(|r| r.iter().map(|r| text(r, "address")).collect())
            .unwrap_or_default();
        vec![
            text(m, "messageId"),
            text(m, "senderAddress"),
            text(m, "senderDevice"),
            show_date(m["sendDate"].as_str()),
            text(m, "numberOfAttachments"),
            recipients.join(", "),
        ]
    }))
}

async fn processes(ctx: &Ctx, address: &str, base: &str) -> Section<Vec<ProcessRow>> {
    let path = format!("/api/v1/Identities/{}/DeletionProcesses", encode(address));
    let list: Vec<Value> = ctx
        .state
        .api
        .get(&ctx.session.credentials, &path)
        .await
        .map_err(|e| e.to_string())?;
    Ok(list
        .iter()
        .map(|p| {
            let id = text(p, "id");
            let reminders = (1..=3)
                .filter(|n| p[format!("gracePeriodReminder{n}SentAt")].is_string())
                .count();
            ProcessRow {
                href: format!("{base}/deletion-processes/{}", encode(&id)),
                id,
                status: text(p, "status"),
                created_at: show_date(p["createdAt"].as_str()),
                created_by_device: text(p, "createdByDevice"),
                reminders: format!("{reminders} of 3"),
                grace_period_ends_at: show_date(p["gracePeriodEndsAt"].as_str()),
            }
        })
        .collect())
}

pub async fn change_tier(
    ctx: Ctx,
    Path(address): Path<String>,
    Extension(form): Extension<FormData>,
) -> Response {
    let back = format!("/ui/identities/{}", encode(&address));
    let result = ctx
        .send(
            Method::PUT,
            &format!("/api/v1/Identities/{}", encode(&address)),
            Some(json!({ "tierId": form.text("tier") })),
        )
        .await;
    ctx.after_change(result, |_| Flash::notice("Tier changed."), &back, &back)
}

pub async fn add_quota(
    ctx: Ctx,
    Path(address): Path<String>,
    Extension(form): Extension<FormData>,
) -> Response {
    let back = format!("/ui/identities/{}", encode(&address));
    let result = ctx
        .send(
            Method::POST,
            &format!("/api/v1/Identities/{}/Quotas", encode(&address)),
            Some(quota_request(&form)),
        )
        .await;
    ctx.after_change(result, |_| Flash::notice("Quota added."), &back, &back)
}

pub async fn remove_quotas(
    ctx: Ctx,
    Path(address): Path<String>,
    Extension(form): Extension<FormData>,
) -> Response {
    let back = format!("/ui/identities/{}", encode(&address));
    let selected = form.all("quota");
    let result = remove_each(&ctx, &selected, |quota| {
        format!("/api/v1/Identities/{}/Quotas/{}", encode(&address), encode(quota))
    })
    .await;
    ctx.after_change(result, |_| removed_notice(selected.len()), &back, &back)
}

pub struct AuditRow {
    pub created_at: String,
    pub text: String,
    pub old_status: String,
    pub new_status: String,
}

/// §2: a human-readable text per message key.
fn audit_text(entry: &Value) -> String {
    let key = text(entry, "messageKey");
    let data = &entry["additionalData"];
    match key.as_str() {
        "StartedByOwner" => "The deletion process was started by the owner.".into(),
        "CancelledByOwner" => "The deletion process was cancelled by the owner.".into(),
        "GracePeriodReminder1Sent" => "The first grace period reminder was sent.".into(),
        "GracePeriodReminder2Sent" => "The second grace period reminder was sent.".into(),
        "GracePeriodReminder3Sent" => "The third grace period reminder was sent.".into(),
        "DeletionStarted" => "The deletion of the identity's data started.".into(),
        "DataDeleted" => format!("{} have been deleted.", text(data, "aggregateType")),
        "DeletionCompleted" => "The deletion was completed.".into(),
        "ErrorDuringDeletion" => format!(
            "An error occurred during the deletion: {}",
            text(data, "errorMessage")
        ),
        other => other.to_owned(),
    }
}

fn audit_rows(entries: &[Value]) -> Vec<AuditRow> {
    entries
        .iter()
        .map(|e| AuditRow {
            created_at: show_date(e["createdAt"].as_str()),
            text: audit_text(e),
            old_status: text(e, "oldStatus"),
            new_status: text(e, "newStatus"),
        })
        .collect()
}

#[derive(Template)]
#[template(path = "audit_log.html")]
struct AuditLogPage {
    layout: Layout,
    heading: String,
    address: String,
    back: String,
    facts: Vec<(&'static str, String)>,
    entries: Option<Vec<AuditRow>>,
}

pub async fn deletion_process(ctx: Ctx, Path((address, id)): Path<(String, String)>) -> PageResult {
    let path = format!(
        "/api/v1/Identities/{}/DeletionProcesses/{}",
        encode(&address),
        encode(&id)
    );
    let process: Value = ctx.get(&path).await?;
    let entries = process["auditLog"].as_array().cloned().unwrap_or_default();
    Ok(render(&AuditLogPage {
        layout: ctx.layout("Deletion process", "Identities"),
        heading: "Deletion process".into(),
        back: format!("/ui/identities/{}", encode(&address)),
        facts: vec![
            ("ID", id),
            ("Status", text(&process, "status")),
            ("Created at", show_date(process["createdAt"].as_str())),
            (
                "Grace period ends at",
                show_date(process["gracePeriodEndsAt"].as_str()),
            ),
        ],
        entries: Some(audit_rows(&entries)),
        address,
    }))
}

#[derive(Deserialize)]
pub struct AuditQuery {
    #[serde(default)]
    address: String,
}

/// The audit logs of an address: they outlive the identity, so this works after a deletion.
pub async fn audit_logs(ctx: Ctx, Query(query): Query<AuditQuery>) -> PageResult {
    let address = query.address.trim().to_owned();
    let entries = if address.is_empty() {
        None
    } else {
        let path = format!(
            "/api/v1/Identities/{}/DeletionProcesses/AuditLogs",
            encode(&address)
        );
        let entries: Vec<Value> = ctx.get(&path).await?;
        Some(audit_rows(&entries))
    };
    Ok(render(&AuditLogPage {
        layout: ctx.layout("Deletion audit logs", "Identities"),
        heading: "Deletion audit logs".into(),
        back: "/ui/identities".into(),
        facts: Vec::new(),
        entries,
        address,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn audit_entries_read_as_sentences() {
        let entry = json!({ "messageKey": "DataDeleted", "additionalData": { "aggregateType": "Tokens" } });
        assert_eq!(audit_text(&entry), "Tokens have been deleted.");
        assert_eq!(audit_text(&json!({ "messageKey": "Other" })), "Other");
    }
}
