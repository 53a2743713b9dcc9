//! `/api/v2/Messages` (spec exchange §5).

use axum::extract::{Path, State};
use backbone_core::encoding::{date_format, decode_bytes, encode_bytes};
use backbone_core::ids::MessageId;
use backbone_core::IdentityAddress;
use backbone_web::error::INVALID_PROPERTY_VALUE;
use backbone_web::openapi::{
    routes, BadRequest, NotFound, PagedResultBody, Paging, ResultBody, TooManyRequests, Unauthorized,
};
use backbone_web::{ApiError, ApiResult};
use backbone_web::{Caller, CiJson, Created, Envelope, PagedEnvelope, QueryParams, Routes};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::Message;
use crate::service::NewRecipient;
use crate::{MessagesError, MessagesService};

#[derive(Clone)]
pub struct MessagesState {
    pub service: MessagesService,
}

impl From<MessagesError> for ApiError {
    fn from(error: MessagesError) -> Self {
        match error {
            MessagesError::Invalid(error) => error.into(),
            MessagesError::NotFound(entity) => Self::not_found(entity),
            MessagesError::QuotaExhausted(metrics) => Self::QuotaExhausted(metrics),
            MessagesError::Unexpected(error) => Self::Internal(error),
            MessagesError::Database(error) => Self::internal(error),
            rule => Self::validation(rule.code().unwrap_or(INVALID_PROPERTY_VALUE), rule.to_string()),
        }
    }
}

pub fn routes(state: MessagesState) -> Routes {
    Routes::new()
        .routes(routes!(get_messages, post_message))
        .routes(routes!(get_message))
        .with_state(state)
}

fn bytes(property: &str, text: &str) -> ApiResult<Vec<u8>> {
    decode_bytes(text)
        .ok_or_else(|| ApiError::cannot_parse(format!("'{property}': The value is not valid base64.")))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
struct MessageRecipientRequest {
    /// The recipient's identity address.
    address: String,
    /// The message key encrypted for the recipient (base64 or base64url).
    #[schema(pattern = r"^[A-Za-z0-9+/_-]*=*$")]
    encrypted_key: String,
}

#[derive(Deserialize, utoipa::ToSchema)]
struct MessageAttachmentRequest {
    /// The ID of a file; required (a missing or null `id` is refused with 400).
    #[schema(required = true, value_type = String)]
    id: Option<String>,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
struct SendMessageRequest {
    recipients: Vec<MessageRecipientRequest>,
    /// The encrypted body (base64 or base64url).
    #[schema(pattern = r"^[A-Za-z0-9+/_-]*=*$")]
    body: String,
    #[serde(default)]
    attachments: Vec<MessageAttachmentRequest>,
}

#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
struct SentMessageDto {
    id: String,
    #[serde(with = "date_format")]
    created_at: DateTime<Utc>,
}

/// Send a message
///
/// To identities the caller has a relationship with (spec exchange §5.2).
#[utoipa::path(
    post, path = "/api/v2/Messages", tag = "Messages",
    security(("bearer" = [])),
    request_body = SendMessageRequest,
    responses(
        (status = 201, description = "The message was sent", body = ResultBody<SentMessageDto>,
            headers(("Location" = String, description = "The message's URL"))),
        BadRequest, Unauthorized, TooManyRequests,
    ),
)]
async fn post_message(
    State(state): State<MessagesState>,
    caller: Caller,
    CiJson(request): CiJson<SendMessageRequest>,
) -> ApiResult<Created<SentMessageDto>> {
    let recipients = request
        .recipients
        .into_iter()
        .map(|r| {
            Ok(NewRecipient {
                address: IdentityAddress::parse(&r.address).ok_or_else(|| ApiError::invalid_id("address"))?,
                encrypted_key: bytes("encryptedKey", &r.encrypted_key)?,
            })
        })
        .collect::<ApiResult<Vec<_>>>()?;
    let body = bytes("body", &request.body)?;
    let attachments = request
        .attachments
        .into_iter()
        .map(|a| {
            a.id.ok_or_else(|| ApiError::validation("NotNullValidator", "'id' must not be empty."))
        })
        .collect::<ApiResult<Vec<_>>>()?;
    let message = state
        .service
        .send(&caller.address, &caller.device_id, recipients, body, attachments)
        .await?;
    let location = format!("/api/v2/Messages/{}", message.id);
    Ok(Created::at(
        location,
        SentMessageDto {
            id: message.id.into_string(),
            created_at: message.created_at,
        },
    ))
}

#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
struct MessageDto {
    id: String,
    #[serde(with = "date_format")]
    created_at: DateTime<Utc>,
    created_by: String,
    created_by_device: String,
    /// base64url without padding.
    #[schema(pattern = "^[A-Za-z0-9_-]*$")]
    body: String,
    attachments: Vec<MessageAttachmentDto>,
    recipients: Vec<RecipientOfMessageDto>,
}

#[derive(Serialize, utoipa::ToSchema)]
struct MessageAttachmentDto {
    id: String,
}

#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
struct RecipientOfMessageDto {
    address: String,
    /// base64url without padding.
    #[schema(pattern = "^[A-Za-z0-9_-]*$")]
    encrypted_key: String,
    #[serde(with = "date_format::option")]
    received_at: Option<DateTime<Utc>>,
    received_by_device: Option<String>,
}

impl From<Message> for MessageDto {
    fn from(m: Message) -> Self {
        Self {
            id: m.id.into_string(),
            created_at: m.created_at,
            created_by: m.created_by.to_string(),
            created_by_device: m.created_by_device.into_string(),
            body: encode_bytes(&m.body),
            attachments: m
                .attachments
                .into_iter()
                .map(|id| MessageAttachmentDto { id })
                .collect(),
            recipients: m
                .recipients
                .into_iter()
                .map(|r| RecipientOfMessageDto {
                    address: r.address.to_string(),
                    encrypted_key: encode_bytes(&r.encrypted_key),
                    received_at: r.received_at,
                    received_by_device: r
                        .received_by_device
                        .map(backbone_core::ids::DeviceId::into_string),
                })
                .collect(),
        }
    }
}

fn parse_id(property: &str, id: &str) -> ApiResult<MessageId> {
    MessageId::parse(id).ok_or_else(|| ApiError::invalid_id(property))
}

/// Get a message
///
/// Marks it received by the calling device if the caller is a recipient (spec exchange §5.3).
/// `noBody` is accepted and ignored, as upstream.
#[utoipa::path(
    get, path = "/api/v2/Messages/{id}", tag = "Messages",
    params(("id" = String, Path, pattern = r"^MSG[A-Za-z0-9]{1,17}$")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The message", body = ResultBody<MessageDto>),
        BadRequest, Unauthorized, NotFound,
    ),
)]
async fn get_message(
    State(state): State<MessagesState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Envelope<MessageDto>> {
    let message = state
        .service
        .get(&caller.address, &caller.device_id, &parse_id("id", &id)?)
        .await?;
    Ok(Envelope(message.into()))
}

/// List the caller's messages
///
/// Sent and received, all or those among `ids`; the ones the caller receives are marked
/// received by the calling device (spec exchange §5.4).
#[utoipa::path(
    get, path = "/api/v2/Messages", tag = "Messages",
    params(
        ("ids" = Option<Vec<String>>, Query, style = Form, explode,
            description = "Message IDs (`MSG` and up to 17 letters or digits); all messages when absent"),
        Paging,
    ),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "A page of messages", body = PagedResultBody<MessageDto>),
        BadRequest, Unauthorized,
    ),
)]
async fn get_messages(
    State(state): State<MessagesState>,
    caller: Caller,
    query: QueryParams,
) -> ApiResult<PagedEnvelope<MessageDto>> {
    let page = query.page(state.service.settings.paging)?;
    let ids = query
        .all("ids")
        .into_iter()
        .map(|id| parse_id("ids", id))
        .collect::<ApiResult<Vec<_>>>()?;
    let messages = state
        .service
        .list(&caller.address, &caller.device_id, &ids, page)
        .await?;
    Ok(PagedEnvelope(messages.map(MessageDto::from)))
}
