//! `POST /connect/token`: the OAuth 2.0 password grant (spec §2.2). Answers use OAuth's own
//! JSON shapes, not the `result`/`error` envelope.

use axum::extract::{Request, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use backbone_web::auth::Caller;
use backbone_web::json::read_body;
use backbone_web::openapi::{routes, ErrorEnvelope, TooManyRequests};
use backbone_web::{ApiError, ApiResult};
use backbone_web::{QueryParams, Routes};
use serde::Serialize;
use utoipa::openapi::schema::OneOfBuilder;
use utoipa::openapi::{ContentBuilder, Ref, RefOr, ResponseBuilder};
use utoipa::{IntoResponses, PartialSchema, ToSchema};

use super::DevicesState;
use crate::service::LoginFailure;

pub fn routes() -> Routes<DevicesState> {
    Routes::new().routes(routes!(post_token))
}

/// The password grant's form (`application/x-www-form-urlencoded`); names are matched
/// case-insensitively.
#[derive(ToSchema)]
#[expect(
    dead_code,
    reason = "documents the form, which the handler reads field by field"
)]
struct TokenRequest {
    /// `password`
    grant_type: String,
    client_id: String,
    client_secret: Option<String>,
    /// The device's username (`USR…`)
    username: String,
    password: String,
}

/// An access token, OAuth's shape (no envelope).
#[derive(Serialize, ToSchema)]
struct TokenResponse {
    access_token: String,
    /// Seconds
    expires_in: i64,
    /// `Bearer`
    token_type: &'static str,
}

/// OAuth's error shape (no envelope).
#[derive(Serialize, ToSchema)]
struct OAuthError<'a> {
    /// `invalid_request`, `unsupported_grant_type`, `invalid_client`, `invalid_grant` or
    /// `access_denied`
    error: &'a str,
    error_description: &'a str,
}

/// 400: OAuth's error, or the error envelope when the body cannot be read at all.
struct TokenBadRequest;

impl IntoResponses for TokenBadRequest {
    fn responses() -> std::collections::BTreeMap<String, RefOr<utoipa::openapi::Response>> {
        let either = OneOfBuilder::new()
            .item(OAuthError::schema())
            .item(Ref::from_schema_name(ErrorEnvelope::name()));
        let content = ContentBuilder::new().schema(Some(either)).build();
        let response = ResponseBuilder::new()
            .description("A missing or wrong field, bad credentials or a locked device")
            .content("application/json", content);
        [("400".to_owned(), response.build().into())].into()
    }
}

fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    let body = OAuthError {
        error,
        error_description: description,
    };
    (
        status,
        [(header::CACHE_CONTROL, "no-store"), (header::PRAGMA, "no-cache")],
        axum::Json(body),
    )
        .into_response()
}

/// Password grant: exchange device credentials for an access token
///
/// §2.2: OAuth's answers, not the `result`/`error` envelope.
#[utoipa::path(
    post, path = "/connect/token", tag = "Authentication",
    request_body(content = TokenRequest, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "The access token", body = TokenResponse),
        (status = 401, description = "Unknown client or wrong client secret", body = OAuthError),
        TokenBadRequest, TooManyRequests,
    ),
)]
async fn post_token(State(state): State<DevicesState>, request: Request) -> ApiResult<Response> {
    let body = read_body(request, &()).await?;
    let body = std::str::from_utf8(&body).unwrap_or_default();
    if backbone_web::text::check_url_encoded(body).is_err() {
        return Ok(oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "The request contains control characters (such as NUL), which no parameter accepts.",
        ));
    }
    let form = QueryParams::parse(body);
    let field = |name: &str| form.get(name).map(str::to_owned).unwrap_or_default();

    match form.get("grant_type") {
        Some("password") => {}
        None => {
            return Ok(oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "The mandatory 'grant_type' parameter is missing.",
            ))
        }
        Some(_) => {
            return Ok(oauth_error(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                "The specified 'grant_type' parameter is not supported.",
            ))
        }
    }
    let (client_id, client_secret, username, password) = (
        field("client_id"),
        field("client_secret"),
        field("username"),
        field("password"),
    );
    if client_id.is_empty() {
        return Ok(oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "The mandatory 'client_id' parameter is missing.",
        ));
    }
    if username.trim().is_empty() || password.is_empty() {
        return Ok(oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "The mandatory 'username' and/or 'password' parameters are missing.",
        ));
    }

    let logged_in = match state
        .service
        .login(&client_id, &client_secret, &username, &password)
        .await
    {
        Ok(logged_in) => logged_in,
        Err(failure) => return failure_answer(failure, &client_id, &username),
    };
    let device = logged_in.device;
    let caller = Caller {
        address: device.identity_address,
        device_id: device.id,
        username: device.username,
        client_id: logged_in.client_id,
    };
    let token = state.jwt.issue(&caller).map_err(ApiError::internal)?;
    let body = TokenResponse {
        access_token: token,
        expires_in: state.jwt.lifetime_seconds(),
        token_type: "Bearer",
    };
    Ok((
        [(header::CACHE_CONTROL, "no-store"), (header::PRAGMA, "no-cache")],
        axum::Json(body),
    )
        .into_response())
}

/// The OAuth answer to a failed login; an unexpected failure gets the error envelope.
fn failure_answer(failure: LoginFailure, client_id: &str, username: &str) -> ApiResult<Response> {
    let answer = match failure {
        LoginFailure::InvalidClient => {
            tracing::info!(target: "security", event = "login_failed", reason = "invalid_client", %client_id, "failed login");
            oauth_error(
                StatusCode::UNAUTHORIZED,
                "invalid_client",
                "The specified client credentials are invalid.",
            )
        }
        LoginFailure::InvalidGrant => {
            tracing::info!(target: "security", event = "login_failed", reason = "invalid_grant", %client_id, %username, "failed login");
            oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_grant",
                "The username/password couple is invalid.",
            )
        }
        LoginFailure::LockedOut => {
            tracing::info!(target: "security", event = "locked_out", %client_id, %username, "login refused: the device is locked out");
            oauth_error(
                StatusCode::BAD_REQUEST,
                "access_denied",
                "The user is temporarily locked out, please try again in a few minutes.",
            )
        }
        LoginFailure::Unexpected(error) => return Err(error.into()),
    };
    Ok(answer)
}
