//! The operator's read-only view of an identity's messages (admin-and-services §1.3/1.4,
//! upstream's Admin API `MessagesController`): those it received (`Incoming`) or sent
//! (`Outgoing`), oldest first, with their recipients and the number of attachments but never
//! their content. The Admin API's handler is at the end.

use std::collections::BTreeMap;

use axum::extract::State;
use axum::routing::get;
use backbone_core::encoding::{date_format, from_millis};
use backbone_core::paging::{Page, PageRequest};
use backbone_db::sqlx::{self, Row};
use backbone_db::{fetch_page, PagedSql, Param};
use backbone_web::{ApiError, ApiResult};
use backbone_web::{PagedEnvelope, QueryParams, Routes};
use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::http::MessagesState;
use crate::store::MessagesStore;
use crate::MessagesService;

#[derive(Debug, thiserror::Error)]
pub enum MessagesAdminError {
    #[error("The value of 'type' must be 'Incoming' or 'Outgoing'.")]
    InvalidType,
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

impl From<MessagesAdminError> for ApiError {
    fn from(error: MessagesAdminError) -> Self {
        match error {
            MessagesAdminError::InvalidType => ApiError::invalid_property_value(error.to_string()),
            MessagesAdminError::Database(error) => ApiError::internal(error),
        }
    }
}

/// Which side of the messages the participant is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Incoming,
    Outgoing,
}

impl Direction {
    /// Upstream matches the names exactly (a C# `switch` on the string).
    pub fn parse(text: &str) -> Result<Self, MessagesAdminError> {
        match text {
            "Incoming" => Ok(Self::Incoming),
            "Outgoing" => Ok(Self::Outgoing),
            _ => Err(MessagesAdminError::InvalidType),
        }
    }

    fn condition(self) -> &'static str {
        match self {
            Self::Incoming => {
                "EXISTS (SELECT 1 FROM message_recipients r WHERE r.message_id = m.id AND r.address = $1)"
            }
            Self::Outgoing => "m.created_by = $1",
        }
    }
}

/// upstream's `MessageOverviewDTO`.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MessageOverviewDto {
    pub message_id: String,
    pub sender_address: String,
    pub sender_device: String,
    #[serde(with = "date_format")]
    pub send_date: DateTime<Utc>,
    pub number_of_attachments: i64,
    pub recipients: Vec<MessageRecipientDto>,
}

/// A recipient entry; its `id` is the entry's position in the message (1-based), the key our
/// table gives it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MessageRecipientDto {
    pub id: String,
    pub message_id: String,
    pub relationship_id: String,
    pub address: String,
    #[serde(with = "date_format::option")]
    pub received_at: Option<DateTime<Utc>>,
}

fn overview_from_row(row: &sqlx::any::AnyRow) -> sqlx::Result<MessageOverviewDto> {
    Ok(MessageOverviewDto {
        message_id: row.try_get("id")?,
        sender_address: row.try_get("created_by")?,
        sender_device: row.try_get("created_by_device")?,
        send_date: from_millis(row.try_get("created_at")?),
        number_of_attachments: row.try_get("attachments")?,
        recipients: Vec::new(),
    })
}

impl MessagesStore {
    async fn overviews(
        &self,
        participant: &str,
        direction: Direction,
        page: PageRequest,
    ) -> sqlx::Result<Page<MessageOverviewDto>> {
        let condition = direction.condition();
        let list = format!(
            "SELECT m.id, m.created_by, m.created_by_device, m.created_at, \
             (SELECT COUNT(*) FROM message_attachments a WHERE a.message_id = m.id) AS attachments \
             FROM messages m WHERE {condition} ORDER BY m.created_at, m.id LIMIT $2 OFFSET $3"
        );
        let count = format!("SELECT COUNT(*) FROM messages m WHERE {condition}");
        let mut conn = self.db().pool().acquire().await?;
        let sql = PagedSql {
            list: &list,
            count: &count,
        };
        let mut page = fetch_page(&mut conn, sql, &[Param::Text(participant)], page)
            .await?
            .try_map(overview_from_row)?;
        drop(conn);
        self.attach_recipients(&mut page.items).await?;
        Ok(page)
    }

    /// The recipients of the page's messages, in one query.
    async fn attach_recipients(&self, items: &mut [MessageOverviewDto]) -> sqlx::Result<()> {
        if items.is_empty() {
            return Ok(());
        }
        let sql = format!(
            "SELECT message_id, position, address, relationship_id, received_at FROM message_recipients \
             WHERE message_id IN ({}) ORDER BY message_id, position",
            backbone_db::placeholders(1, items.len())
        );
        let mut query = sqlx::query(&sql);
        for item in items.iter() {
            query = query.bind(item.message_id.as_str());
        }
        let mut by_message: BTreeMap<String, Vec<MessageRecipientDto>> = BTreeMap::new();
        for row in query.fetch_all(self.db().pool()).await? {
            let message_id: String = row.try_get("message_id")?;
            let position: i64 = row.try_get("position")?;
            let received_at: Option<i64> = row.try_get("received_at")?;
            by_message
                .entry(message_id.clone())
                .or_default()
                .push(MessageRecipientDto {
                    id: (position + 1).to_string(),
                    message_id,
                    relationship_id: row.try_get("relationship_id")?,
                    address: row.try_get("address")?,
                    received_at: received_at.map(from_millis),
                });
        }
        for item in items {
            item.recipients = by_message.remove(&item.message_id).unwrap_or_default();
        }
        Ok(())
    }
}

impl MessagesService {
    /// `GET /api/v1/Messages?participant=&type=`
    pub async fn messages_of_participant(
        &self,
        participant: &str,
        direction: Direction,
        page: PageRequest,
    ) -> Result<Page<MessageOverviewDto>, MessagesAdminError> {
        Ok(self.store.overviews(participant, direction, page).await?)
    }
}

pub fn admin_routes(state: MessagesState) -> Routes {
    Routes::new()
        .route("/api/v1/Messages", get(get_messages))
        .with_state(state)
}

async fn get_messages(
    State(state): State<MessagesState>,
    query: QueryParams,
) -> ApiResult<PagedEnvelope<MessageOverviewDto>> {
    let participant = query.required("participant")?;
    let direction = Direction::parse(query.required("type")?)?;
    let page = query.page(state.service.settings.paging)?;
    let messages = state
        .service
        .messages_of_participant(participant, direction, page)
        .await?;
    Ok(PagedEnvelope(messages))
}
