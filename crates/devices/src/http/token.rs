//! `POST /connect/token`: the OAuth 2.0 password grant (spec §2.2). Answers use OAuth's own
//! JSON shapes, not the `result`/`error` envelope.

use axum::extract::{Request, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use backbone_web::auth::Caller;
use backbone_web::json::read_body;
use backbone_web::{ApiError, ApiResult};
use backbone_web::{QueryParams, Routes};
use serde_json::json;

use super::DevicesState;
use crate::service::LoginFailure;

pub fn routes() -> Routes<DevicesState> {
    Routes::new().route("/connect/token", post(post_token))
}

fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    let body = json!({ "error": error, "error_description": description });
    (
        status,
        [(header::CACHE_CONTROL, "no-store"), (header::PRAGMA, "no-cache")],
        axum::Json(body),
    )
        .into_response()
}

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
    let body = json!({
        "access_token": token,
        "token_type": "Bearer",
        "expires_in": state.jwt.lifetime_seconds(),
    });
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
