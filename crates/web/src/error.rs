//! The upstream error envelope and status mapping (spec §1.3 / exchange §1.5).
//!
//! Every failure a client can cause ends here as
//! `{"error": {"id", "code", "message", "docs": "", "time", "data"}}` with the upstream status:
//! 404 for not found, 403 for forbidden, 429 for quotas, 400 for every other client mistake,
//! 401 without a body, 500 (logged, with a generic message) for everything unexpected. Each
//! module's HTTP layer maps its own error enum into [`ApiError`], once.

use std::borrow::Cow;

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use backbone_core::encoding::format_precise_date;
pub use backbone_core::error::{
    ExhaustedMetric, ValidationError, FORBIDDEN, INPUT_CANNOT_BE_PARSED, INVALID_PROPERTY_VALUE,
    QUOTA_EXHAUSTED, RECORD_NOT_FOUND, REQUEST_BODY_TOO_LARGE, UNEXPECTED,
};
use backbone_core::ids::random_string;
use chrono::Utc;
use serde::Serialize;

pub type ApiResult<T> = Result<T, ApiError>;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// A rule about the request or the domain failed: 400 with a specific code.
    #[error("{code}: {message}")]
    BadRequest {
        code: Cow<'static, str>,
        message: String,
    },
    /// 404 `error.platform.recordNotFound` for the named entity.
    #[error("{entity} not found")]
    NotFound { entity: &'static str },
    /// 403 `error.platform.forbidden`.
    #[error("forbidden")]
    Forbidden,
    /// 429 `error.platform.quotaExhausted` listing the exhausted metrics.
    #[error("quota exhausted")]
    QuotaExhausted(Vec<ExhaustedMetric>),
    /// Missing, invalid or expired bearer token: 401 without an envelope.
    #[error("unauthorized")]
    Unauthorized,
    /// Anything unexpected: logged in full, answered with a generic 500.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl ApiError {
    pub fn validation(code: impl Into<Cow<'static, str>>, message: impl Into<String>) -> Self {
        Self::BadRequest {
            code: code.into(),
            message: message.into(),
        }
    }

    pub fn invalid_property_value(message: impl Into<String>) -> Self {
        ValidationError::invalid_property_value(message).into()
    }

    /// The upstream message for an ID or address that fails validation.
    pub fn invalid_id(property: &str) -> Self {
        ValidationError::invalid_id(property).into()
    }

    pub fn cannot_parse(message: impl Into<String>) -> Self {
        ValidationError::cannot_parse(message).into()
    }

    pub fn body_too_large() -> Self {
        ValidationError::body_too_large().into()
    }

    pub fn not_found(entity: &'static str) -> Self {
        Self::NotFound { entity }
    }

    pub fn internal(error: impl Into<anyhow::Error>) -> Self {
        Self::Internal(error.into())
    }

    pub fn status(&self) -> StatusCode {
        match self {
            Self::BadRequest { .. } => StatusCode::BAD_REQUEST,
            Self::NotFound { .. } => StatusCode::NOT_FOUND,
            Self::Forbidden => StatusCode::FORBIDDEN,
            Self::QuotaExhausted(_) => StatusCode::TOO_MANY_REQUESTS,
            Self::Unauthorized => StatusCode::UNAUTHORIZED,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn code(&self) -> &str {
        match self {
            Self::BadRequest { code, .. } => code,
            Self::NotFound { .. } => RECORD_NOT_FOUND,
            Self::Forbidden => FORBIDDEN,
            Self::QuotaExhausted(_) => QUOTA_EXHAUSTED,
            Self::Unauthorized => "error.platform.unauthorized",
            Self::Internal(_) => UNEXPECTED,
        }
    }

    fn message(&self) -> String {
        match self {
            Self::BadRequest { message, .. } => message.clone(),
            Self::NotFound { entity } => format!(
                "{entity} not found. Make sure the ID exists and the record is not expired. If a password is \
                 required to fetch the record, make sure you passed the correct one."
            ),
            Self::Forbidden => {
                "You are not allowed to perform this action due to insufficient privileges.".into()
            }
            Self::QuotaExhausted(_) => {
                "You cannot to perform this action because one or more quotas are exhausted.".into()
            }
            Self::Unauthorized => "You have to authenticate in order to execute this action.".into(),
            Self::Internal(_) => "An unexpected error occurred.".into(),
        }
    }
}

impl From<ValidationError> for ApiError {
    fn from(error: ValidationError) -> Self {
        Self::BadRequest {
            code: error.code,
            message: error.message,
        }
    }
}

/// The body of an error response.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorEnvelope {
    pub error: ErrorBody,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// `ERR` and 17 characters.
    #[schema(pattern = "^ERR[A-Z1-9]{17}$")]
    pub id: String,
    /// e.g. `error.platform.recordNotFound`.
    pub code: String,
    pub message: String,
    /// Always empty.
    pub docs: &'static str,
    #[schema(format = DateTime)]
    pub time: String,
    /// The exhausted quotas of a 429 `error.platform.quotaExhausted`; `null` otherwise.
    #[schema(required)]
    pub data: Option<Vec<ExhaustedMetric>>,
}

const ERROR_ID_ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ123456789";

impl ErrorBody {
    pub fn new(code: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            id: format!("ERR{}", random_string(ERROR_ID_ALPHABET, 17)),
            code: code.into(),
            message: message.into(),
            docs: "",
            time: format_precise_date(&Utc::now()),
            data: None,
        }
    }
}

/// The cause of a 500, kept on the response so that an outer layer can tell an unavailable
/// dependency (answered 503) from a bug without this crate knowing the dependency's types.
#[derive(Debug, Clone)]
pub struct InternalErrorCause(pub std::sync::Arc<anyhow::Error>);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match &self {
            Self::Unauthorized => {
                let mut response = StatusCode::UNAUTHORIZED.into_response();
                response
                    .headers_mut()
                    .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
                return response;
            }
            Self::Internal(error) => tracing::error!(error = ?error, "unexpected error"),
            _ => {}
        }
        let status = self.status();
        let mut body = ErrorBody::new(self.code(), self.message());
        match self {
            Self::QuotaExhausted(metrics) => body.data = Some(metrics),
            Self::Internal(error) => {
                let mut response = (status, axum::Json(ErrorEnvelope { error: body })).into_response();
                response
                    .extensions_mut()
                    .insert(InternalErrorCause(std::sync::Arc::new(error)));
                return response;
            }
            _ => {}
        }
        (status, axum::Json(ErrorEnvelope { error: body })).into_response()
    }
}

/// The upstream envelope for an unexpected failure, for layers that have no [`ApiError`]
/// (a caught panic, an unavailable dependency).
pub fn error_response(status: StatusCode, code: &str, message: &str) -> Response {
    (
        status,
        axum::Json(ErrorEnvelope {
            error: ErrorBody::new(code, message),
        }),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_ids_use_the_upstream_alphabet() {
        let body = ErrorBody::new("x", "y");
        assert_eq!(body.id.len(), 20);
        assert!(body.id.starts_with("ERR"));
        assert!(body.id[3..].bytes().all(|b| ERROR_ID_ALPHABET.contains(&b)));
    }

    #[test]
    fn statuses_follow_the_upstream_mapping() {
        assert_eq!(ApiError::not_found("Device").status(), StatusCode::NOT_FOUND);
        assert_eq!(ApiError::Forbidden.status(), StatusCode::FORBIDDEN);
        assert_eq!(ApiError::invalid_id("id").status(), StatusCode::BAD_REQUEST);
        assert_eq!(ApiError::internal(anyhow::anyhow!("boom")).code(), UNEXPECTED);
    }
}
