//! Thin handlers: the Admin API's `/api/v1/Announcements` (admin-and-services §1.3/1.4) and
//! the Consumer API's `GET /api/v2/Announcements?language=` (consumer-api-identity §11.1).

use std::collections::BTreeMap;

use axum::extract::{Path, State};
use axum::routing::get;
use backbone_core::encoding::{date_format, parse_date};
use backbone_web::openapi::{routes, BadRequest, ResultBody, Unauthorized};
use backbone_web::{ApiError, ApiResult};
use backbone_web::{Caller, CiJson, Created, Envelope, NoContent, QueryParams, Routes};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

use crate::domain::{Announcement, AnnouncementAction, AnnouncementText, NewAnnouncement, Severity};
use crate::{AnnouncementsError, AnnouncementsService};

#[derive(Clone)]
pub struct AnnouncementsState {
    pub service: AnnouncementsService,
}

impl From<AnnouncementsError> for ApiError {
    fn from(error: AnnouncementsError) -> Self {
        match error {
            AnnouncementsError::NotFound => ApiError::not_found("Announcement"),
            AnnouncementsError::Database(error) => ApiError::internal(error),
            other => {
                let code = other
                    .code()
                    .unwrap_or(backbone_core::error::INVALID_PROPERTY_VALUE);
                ApiError::validation(code, other.to_string())
            }
        }
    }
}

pub fn admin_routes(state: AnnouncementsState) -> Routes {
    Routes::new()
        .route(
            "/api/v1/Announcements",
            get(get_announcements).post(post_announcement),
        )
        .route(
            "/api/v1/Announcements/{id}",
            get(get_announcement).delete(delete_announcement),
        )
        .with_state(state)
}

pub fn routes(state: AnnouncementsState) -> Routes {
    Routes::new()
        .routes(routes!(get_own_announcements))
        .with_state(state)
}

/// `CreateAnnouncement`: `severity`, `isSilent` and `texts` must be present.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreateAnnouncementRequest {
    #[serde(deserialize_with = "severity")]
    #[schema(value_type = String)]
    pub severity: Severity,
    pub is_silent: bool,
    pub texts: Vec<TextDto>,
    #[serde(default)]
    pub expires_at: Option<String>,
    #[serde(default)]
    pub actions: Vec<ActionDto>,
    #[serde(default)]
    pub recipients: Vec<String>,
    #[serde(default)]
    pub iql_query: Option<String>,
}

impl CreateAnnouncementRequest {
    pub fn into_new(self) -> Result<NewAnnouncement, AnnouncementsError> {
        let expires_at = match self.expires_at.as_deref() {
            None => None,
            Some(text) => Some(parse_date(text).ok_or_else(|| {
                AnnouncementsError::CannotParse(format!("'expiresAt': The value '{text}' is not a date."))
            })?),
        };
        Ok(NewAnnouncement {
            severity: Some(self.severity),
            is_silent: self.is_silent,
            expires_at,
            iql_query: self.iql_query,
            texts: self.texts.into_iter().map(Into::into).collect(),
            actions: self.actions.into_iter().map(Into::into).collect(),
            recipients: self.recipients,
        })
    }
}

/// A severity by name (any case) or by number, as upstream's enum binding accepts it.
fn severity<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Severity, D::Error> {
    let value = Value::deserialize(deserializer)?;
    let severity = match &value {
        Value::String(name) => Severity::parse(name),
        Value::Number(n) => n.as_i64().and_then(Severity::from_index),
        _ => None,
    };
    severity.ok_or_else(|| {
        serde::de::Error::custom(format!(
            "The JSON value {value} is not a severity (Low, Medium, High)."
        ))
    })
}

#[derive(Deserialize, Serialize, utoipa::ToSchema)]
pub struct TextDto {
    pub language: String,
    pub title: String,
    pub body: String,
}

impl From<TextDto> for AnnouncementText {
    fn from(t: TextDto) -> Self {
        Self {
            language: t.language,
            title: t.title,
            body: t.body,
        }
    }
}

#[derive(Deserialize, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ActionDto {
    pub display_name: BTreeMap<String, String>,
    pub link: String,
}

impl From<ActionDto> for AnnouncementAction {
    fn from(a: ActionDto) -> Self {
        Self {
            display_name: a.display_name,
            link: a.link,
        }
    }
}

/// `Announcement` of the Admin API: every language.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AnnouncementDto {
    pub id: String,
    #[serde(with = "date_format")]
    pub created_at: DateTime<Utc>,
    #[serde(with = "date_format::option")]
    pub expires_at: Option<DateTime<Utc>>,
    pub severity: &'static str,
    pub texts: Vec<TextDto>,
    pub recipients: Vec<String>,
    pub actions: Vec<ActionDto>,
    pub iql_query: Option<String>,
    pub is_silent: bool,
}

impl From<Announcement> for AnnouncementDto {
    fn from(a: Announcement) -> Self {
        Self {
            id: a.id.into_string(),
            created_at: a.created_at,
            expires_at: a.expires_at,
            severity: a.severity.as_str(),
            texts: a
                .texts
                .into_iter()
                .map(|t| TextDto {
                    language: t.language,
                    title: t.title,
                    body: t.body,
                })
                .collect(),
            recipients: a.recipients.into_iter().map(|r| r.to_string()).collect(),
            actions: a
                .actions
                .into_iter()
                .map(|x| ActionDto {
                    display_name: x.display_name,
                    link: x.link,
                })
                .collect(),
            iql_query: a.iql_query,
            is_silent: a.is_silent,
        }
    }
}

async fn get_announcements(
    State(state): State<AnnouncementsState>,
) -> ApiResult<Envelope<Vec<AnnouncementDto>>> {
    let all = state.service.list().await?;
    Ok(Envelope(all.into_iter().map(Into::into).collect()))
}

async fn get_announcement(
    State(state): State<AnnouncementsState>,
    Path(id): Path<String>,
) -> ApiResult<Envelope<AnnouncementDto>> {
    Ok(Envelope(state.service.get(&id).await?.into()))
}

async fn post_announcement(
    State(state): State<AnnouncementsState>,
    CiJson(request): CiJson<CreateAnnouncementRequest>,
) -> ApiResult<Created<AnnouncementDto>> {
    let created = state.service.create(request.into_new()?).await?;
    Ok(Created::new(created.into()))
}

async fn delete_announcement(
    State(state): State<AnnouncementsState>,
    Path(id): Path<String>,
) -> ApiResult<NoContent> {
    state.service.delete(&id).await?;
    Ok(NoContent)
}

/// One announcement in the caller's language.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
struct SingleLanguageAnnouncementDto {
    id: String,
    #[serde(with = "date_format")]
    created_at: DateTime<Utc>,
    #[serde(with = "date_format::option")]
    expires_at: Option<DateTime<Utc>>,
    /// `Low`, `Medium` or `High`
    severity: &'static str,
    title: String,
    body: String,
    actions: Vec<SingleLanguageActionDto>,
    iql_query: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
struct SingleLanguageActionDto {
    display_name: String,
    link: String,
    iql_query: Option<String>,
}

fn in_language(a: Announcement, language: &str) -> SingleLanguageAnnouncementDto {
    let text = a.text_in(language).clone();
    SingleLanguageAnnouncementDto {
        actions: a
            .actions
            .iter()
            .map(|action| SingleLanguageActionDto {
                display_name: action.name_in(language).to_owned(),
                link: action.link.clone(),
                iql_query: None,
            })
            .collect(),
        id: a.id.into_string(),
        created_at: a.created_at,
        expires_at: a.expires_at,
        severity: a.severity.as_str(),
        title: text.title,
        body: text.body,
        iql_query: a.iql_query,
    }
}

/// Announcements for everybody or the caller, in a language
///
/// consumer-api-identity §11.1: texts in `language`, English where an announcement has none.
#[utoipa::path(
    get, path = "/api/v2/Announcements", tag = "Announcements",
    params(("language" = String, Query, pattern = "^[a-z]{2}$",
        description = "A two-letter ISO 639-1 code")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The announcements",
            body = ResultBody<Vec<SingleLanguageAnnouncementDto>>),
        BadRequest, Unauthorized,
    ),
)]
async fn get_own_announcements(
    State(state): State<AnnouncementsState>,
    caller: Caller,
    query: QueryParams,
) -> ApiResult<Envelope<Vec<SingleLanguageAnnouncementDto>>> {
    let (language, announcements) = state
        .service
        .for_identity(&caller.address, query.get("language"))
        .await?;
    Ok(Envelope(
        announcements
            .into_iter()
            .map(|a| in_language(a, &language))
            .collect(),
    ))
}
