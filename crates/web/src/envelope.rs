//! The success envelope: `{"result": …}`, plus `pagination` only when there is more than one page.
//!
//! The bodies are [`ResultBody`] and [`PagedResultBody`], the types that are serialised, so the
//! `OpenAPI` document describes them with their own `ToSchema` (`body = ResultBody<TokenDto>`).

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use backbone_core::paging::Page;
use serde::Serialize;

/// 200 `{"result": T}`.
pub struct Envelope<T>(pub T);

impl<T: Serialize> IntoResponse for Envelope<T> {
    fn into_response(self) -> Response {
        axum::Json(ResultBody { result: self.0 }).into_response()
    }
}

/// 201 `{"result": T}` with a `Location` header (upstream leaves it empty for most endpoints).
pub struct Created<T> {
    pub location: String,
    pub value: T,
}

impl<T> Created<T> {
    pub fn new(value: T) -> Self {
        Self {
            location: String::new(),
            value,
        }
    }

    pub fn at(location: String, value: T) -> Self {
        Self { location, value }
    }
}

impl<T: Serialize> IntoResponse for Created<T> {
    fn into_response(self) -> Response {
        (
            StatusCode::CREATED,
            [(header::LOCATION, self.location)],
            axum::Json(ResultBody { result: self.value }),
        )
            .into_response()
    }
}

/// 204 without a body.
pub struct NoContent;

impl IntoResponse for NoContent {
    fn into_response(self) -> Response {
        StatusCode::NO_CONTENT.into_response()
    }
}

/// 200 with a page of items.
pub struct PagedEnvelope<T>(pub Page<T>);

impl<T: Serialize> IntoResponse for PagedEnvelope<T> {
    fn into_response(self) -> Response {
        let page = self.0;
        let total_pages = page.total_pages();
        let pagination = (total_pages > 1).then_some(Pagination {
            page_number: page.request.number,
            page_size: page.request.size,
            total_pages,
            total_records: page.total_records,
        });
        axum::Json(PagedResultBody {
            result: page.items,
            pagination,
        })
        .into_response()
    }
}

/// A success: `{"result": T}` (the body of `Envelope` and `Created`).
#[derive(Serialize, utoipa::ToSchema)]
pub struct ResultBody<T> {
    pub result: T,
}

/// A page of results: `pagination` only when there is more than one page (the body of
/// `PagedEnvelope`).
#[derive(Serialize, utoipa::ToSchema)]
pub struct PagedResultBody<T> {
    pub result: Vec<T>,
    /// Only when there is more than one page.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub pagination: Option<Pagination>,
}

#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Pagination {
    pub page_number: u32,
    pub page_size: u32,
    pub total_pages: u64,
    pub total_records: u64,
}
