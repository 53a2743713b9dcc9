//! Operator use cases on tokens (admin-and-services §1.3/1.4): the tokens an identity created,
//! without their content, and unlocking a token that wrong passwords locked. The Admin API's
//! handlers are at the end.

use axum::extract::{Path, State};
use axum::routing::{get, patch};
use backbone_core::ids::TokenId;
use backbone_core::paging::{Page, PageRequest};
use backbone_db::{fetch_page, sqlx, Dialect, PagedSql, Param};
use backbone_web::{ApiError, ApiResult};
use backbone_web::{NoContent, PagedEnvelope, QueryParams, Routes};

use crate::http::{TokenDto, TokensState};
use crate::store::token_from_row;
use crate::{TokensService, TokensStore};

#[derive(Debug, thiserror::Error)]
pub enum TokensAdminError {
    /// 400 `invalidPropertyValue` with upstream's validator message.
    #[error("{0}")]
    InvalidProperty(String),
    #[error("Token not found")]
    NotFound,
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

impl From<TokensAdminError> for ApiError {
    fn from(error: TokensAdminError) -> Self {
        match error {
            TokensAdminError::InvalidProperty(message) => ApiError::invalid_property_value(message),
            TokensAdminError::NotFound => ApiError::not_found("Token"),
            TokensAdminError::Database(error) => ApiError::internal(error),
        }
    }
}

/// The tokens of $1 without reading their content (a typed NULL for PostgreSQL).
fn list_created_by(dialect: Dialect) -> String {
    let no_content = match dialect {
        Dialect::Postgres => "CAST(NULL AS BYTEA)",
        Dialect::Sqlite => "NULL",
    };
    format!(
        "SELECT id, created_by, created_by_device, created_at, expires_at, for_identity, password, \
         {no_content} AS content, access_failed_count FROM tokens WHERE created_by = $1 \
         ORDER BY created_at, id LIMIT $2 OFFSET $3"
    )
}

impl TokensStore {
    async fn created_by(&self, identity: &str, page: PageRequest) -> sqlx::Result<Page<crate::Token>> {
        let list = list_created_by(self.db().dialect());
        let sql = PagedSql {
            list: &list,
            count: "SELECT COUNT(*) FROM tokens WHERE created_by = $1",
        };
        let mut conn = self.db().pool().acquire().await?;
        fetch_page(&mut conn, sql, &[Param::Text(identity)], page)
            .await?
            .try_map(token_from_row)
    }

    async fn reset_access_failed_count(&self, id: &TokenId) -> sqlx::Result<bool> {
        let result = sqlx::query("UPDATE tokens SET access_failed_count = 0 WHERE id = $1")
            .bind(id.as_str())
            .execute(self.db().writer())
            .await?;
        Ok(result.rows_affected() == 1)
    }
}

impl TokensService {
    /// `GET /api/v1/Tokens?createdBy=`: the identity's tokens, oldest first, content omitted.
    pub async fn tokens_created_by(
        &self,
        identity: &str,
        page: PageRequest,
    ) -> Result<Page<crate::Token>, TokensAdminError> {
        if identity.trim().is_empty() {
            return Err(TokensAdminError::InvalidProperty(
                "'createdBy' must not be empty.".into(),
            ));
        }
        Ok(self.store.created_by(identity, page).await?)
    }

    /// `PATCH /api/v1/Tokens/{id}/ResetAccessFailedCount`: a locked token opens again.
    pub async fn reset_access_failed_count(&self, id: &str) -> Result<(), TokensAdminError> {
        let id = TokenId::parse(id).ok_or_else(|| {
            TokensAdminError::InvalidProperty(
                "'tokenId': The ID or Address is not valid. Check length, prefix and the used characters."
                    .into(),
            )
        })?;
        if self.store.reset_access_failed_count(&id).await? {
            Ok(())
        } else {
            Err(TokensAdminError::NotFound)
        }
    }
}

/// The schemas of this module's Admin API bodies.
pub fn admin_schemas() -> backbone_web::openapi::Schemas {
    let mut schemas = Vec::new();
    backbone_web::openapi::add::<TokenDto>(&mut schemas);
    schemas
}

pub fn admin_routes(state: TokensState) -> Routes {
    Routes::new()
        .route("/api/v1/Tokens", get(get_tokens))
        .route(
            "/api/v1/Tokens/{id}/ResetAccessFailedCount",
            patch(patch_reset_access_failed_count),
        )
        .with_state(state)
}

/// Upstream's quirk: without `PageSize` every token is returned (no default page size).
async fn get_tokens(
    State(state): State<TokensState>,
    query: QueryParams,
) -> ApiResult<PagedEnvelope<TokenDto>> {
    let created_by = query.required("createdBy")?;
    let page = match query.get("pageSize") {
        None => PageRequest::everything(),
        Some(_) => query.page(state.service.paging)?,
    };
    let tokens = state.service.tokens_created_by(created_by, page).await?;
    Ok(PagedEnvelope(tokens.map(TokenDto::from)))
}

async fn patch_reset_access_failed_count(
    State(state): State<TokensState>,
    Path(id): Path<String>,
) -> ApiResult<NoContent> {
    state.service.reset_access_failed_count(&id).await?;
    Ok(NoContent)
}
