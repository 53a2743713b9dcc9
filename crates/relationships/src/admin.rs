//! The operator's read-only view of an identity's relationships (admin-and-services §1.3/1.4,
//! upstream's Admin API `RelationshipsController`): oldest first, each seen from the
//! participant's side, with who created it and the first answer from the audit log. The Admin
//! API's handler is at the end.

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

use crate::http::RelationshipsState;
use crate::store::RelationshipsStore;
use crate::RelationshipsService;

#[derive(Debug, thiserror::Error)]
pub enum RelationshipsAdminError {
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

impl From<RelationshipsAdminError> for ApiError {
    fn from(error: RelationshipsAdminError) -> Self {
        match error {
            RelationshipsAdminError::Database(error) => ApiError::internal(error),
        }
    }
}

/// upstream's `RelationshipDTO`.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RelationshipOverviewDto {
    pub peer: String,
    /// `Peer` when the participant was asked, `Self` when it asked.
    pub requested_by: &'static str,
    pub template_id: Option<String>,
    pub status: String,
    #[serde(with = "date_format")]
    pub creation_date: DateTime<Utc>,
    #[serde(with = "date_format::option")]
    pub answered_at: Option<DateTime<Utc>>,
    pub created_by_device: Option<String>,
    pub answered_by_device: Option<String>,
}

/// The first audit-log entry is the request, the second the answer.
const OVERVIEW: &str = "SELECT r.from_address, r.to_address, r.template_id, r.status, r.created_at, \
     (SELECT a.created_by_device FROM relationship_audit_log a WHERE a.relationship_id = r.id \
      ORDER BY a.position LIMIT 1) AS created_by_device, \
     (SELECT a.created_at FROM relationship_audit_log a WHERE a.relationship_id = r.id \
      ORDER BY a.position LIMIT 1 OFFSET 1) AS answered_at, \
     (SELECT a.created_by_device FROM relationship_audit_log a WHERE a.relationship_id = r.id \
      ORDER BY a.position LIMIT 1 OFFSET 1) AS answered_by_device \
     FROM relationships r WHERE r.from_address = $1 OR r.to_address = $1 \
     ORDER BY r.created_at, r.id LIMIT $2 OFFSET $3";

fn overview_from_row(participant: &str, row: &sqlx::any::AnyRow) -> sqlx::Result<RelationshipOverviewDto> {
    let from: String = row.try_get("from_address")?;
    let to: String = row.try_get("to_address")?;
    let answered_at: Option<i64> = row.try_get("answered_at")?;
    let asked = to == participant;
    Ok(RelationshipOverviewDto {
        peer: if from == participant { to } else { from },
        requested_by: if asked { "Peer" } else { "Self" },
        template_id: row.try_get("template_id")?,
        status: row.try_get("status")?,
        creation_date: from_millis(row.try_get("created_at")?),
        answered_at: answered_at.map(from_millis),
        created_by_device: row.try_get("created_by_device")?,
        answered_by_device: row.try_get("answered_by_device")?,
    })
}

const OVERVIEW_COUNT: &str = "SELECT COUNT(*) FROM relationships WHERE from_address = $1 OR to_address = $1";

impl RelationshipsStore {
    async fn overviews(
        &self,
        participant: &str,
        page: PageRequest,
    ) -> sqlx::Result<Page<RelationshipOverviewDto>> {
        let mut conn = self.db().pool().acquire().await?;
        let sql = PagedSql {
            list: OVERVIEW,
            count: OVERVIEW_COUNT,
        };
        fetch_page(&mut conn, sql, &[Param::Text(participant)], page)
            .await?
            .try_map(|row| overview_from_row(participant, row))
    }
}

impl RelationshipsService {
    /// `GET /api/v1/Relationships?participant=`
    pub async fn relationships_of_participant(
        &self,
        participant: &str,
        page: PageRequest,
    ) -> Result<Page<RelationshipOverviewDto>, RelationshipsAdminError> {
        Ok(self.store.overviews(participant, page).await?)
    }
}

pub fn admin_routes(state: RelationshipsState) -> Routes {
    Routes::new()
        .route("/api/v1/Relationships", get(get_relationships))
        .with_state(state)
}

async fn get_relationships(
    State(state): State<RelationshipsState>,
    query: QueryParams,
) -> ApiResult<PagedEnvelope<RelationshipOverviewDto>> {
    let participant = query.required("participant")?;
    let page = query.page(state.service.paging)?;
    let relationships = state
        .service
        .relationships_of_participant(participant, page)
        .await?;
    Ok(PagedEnvelope(relationships))
}
