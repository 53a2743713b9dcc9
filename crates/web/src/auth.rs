//! Bearer tokens: issuing (for the token endpoint) and checking (for every other endpoint).
//!
//! Tokens are EdDSA-signed JWTs. Checking is purely cryptographic, as upstream: a token stays
//! valid until it expires even if its device is deleted. Expiry is checked against the injected
//! clock rather than the system time, so tests and the interop suite can move time.

use std::sync::Arc;

use crate::ApiError;
use axum::extract::{FromRequestParts, Request, State};
use axum::http::header;
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use backbone_core::ids::{DeviceId, Username};
use backbone_core::ports::IdentityDirectory;
use backbone_core::status::IdentityStatus;
use backbone_core::{Actor, IdentityAddress, SharedClock};
use ed25519_dalek::pkcs8::{DecodePrivateKey, EncodePrivateKey};
use ed25519_dalek::SigningKey;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

const ISSUER: &str = "enmeshed-backbone";

/// The claims we put into access tokens; names follow upstream, which the Backbone itself reads.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    pub sub: String,
    pub name: String,
    pub nmshd_address: String,
    pub device_id: String,
    pub client_id: String,
    pub iss: String,
    pub iat: i64,
    pub exp: i64,
}

/// The identity and device a request acts for.
#[derive(Debug, Clone, PartialEq)]
pub struct Caller {
    pub address: IdentityAddress,
    pub device_id: DeviceId,
    pub username: Username,
    pub client_id: String,
}

/// What the use cases need to know of the caller: who acts, from which device.
impl From<Caller> for Actor {
    fn from(caller: Caller) -> Self {
        Actor::new(caller.address, caller.device_id)
    }
}

pub struct JwtKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    lifetime_seconds: i64,
    clock: SharedClock,
}

impl std::fmt::Debug for JwtKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwtKeys")
            .field("lifetime_seconds", &self.lifetime_seconds)
            .finish_non_exhaustive()
    }
}

impl JwtKeys {
    /// Loads an Ed25519 private key in PKCS#8 PEM form.
    pub fn from_pem(pem: &str, lifetime_seconds: i64, clock: SharedClock) -> anyhow::Result<Self> {
        let signing_key = SigningKey::from_pkcs8_pem(pem)
            .map_err(|e| anyhow::anyhow!("the JWT signing key is not an Ed25519 PKCS#8 PEM key: {e}"))?;
        let encoding = EncodingKey::from_ed_pem(pem.as_bytes())?;
        let decoding = DecodingKey::from_ed_der(signing_key.verifying_key().as_bytes());
        let mut validation = Validation::new(Algorithm::EdDSA);
        validation.set_issuer(&[ISSUER]);
        validation.validate_exp = false; // checked against our clock below
        validation.required_spec_claims.clear();
        Ok(Self {
            encoding,
            decoding,
            validation,
            lifetime_seconds,
            clock,
        })
    }

    /// A new random signing key in PKCS#8 PEM form.
    ///
    /// # Panics
    ///
    /// Never: every Ed25519 key has a PKCS#8 encoding.
    #[expect(
        clippy::default_trait_access,
        reason = "the line-ending type is pkcs8's, which ed25519-dalek does not re-export"
    )]
    pub fn generate_pem() -> String {
        let key = SigningKey::generate(&mut rand::rngs::OsRng);
        key.to_pkcs8_pem(Default::default())
            .expect("an Ed25519 key encodes as PKCS#8")
            .to_string()
    }

    pub fn lifetime_seconds(&self) -> i64 {
        self.lifetime_seconds
    }

    pub fn issue(&self, caller: &Caller) -> anyhow::Result<String> {
        let now = self.clock.now().timestamp();
        let claims = Claims {
            sub: caller.device_id.to_string(),
            name: caller.username.to_string(),
            nmshd_address: caller.address.to_string(),
            device_id: caller.device_id.to_string(),
            client_id: caller.client_id.clone(),
            iss: ISSUER.to_owned(),
            iat: now,
            exp: now + self.lifetime_seconds,
        };
        Ok(jsonwebtoken::encode(
            &Header::new(Algorithm::EdDSA),
            &claims,
            &self.encoding,
        )?)
    }

    /// The caller a token stands for, or `None` if it is forged, malformed or expired.
    pub fn verify(&self, token: &str) -> Option<Caller> {
        let claims = jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .ok()?
            .claims;
        if claims.exp <= self.clock.now().timestamp() {
            return None;
        }
        Some(Caller {
            address: IdentityAddress::parse(&claims.nmshd_address)?,
            device_id: DeviceId::parse(&claims.device_id)?,
            username: Username::parse(&claims.name)?,
            client_id: claims.client_id,
        })
    }
}

/// What the authentication layer found on a request.
#[derive(Debug, Clone)]
enum Authentication {
    Valid(Caller),
    Invalid,
}

/// What the authentication layer needs: the keys, and the identities' owner (the Devices
/// module), which says who may still act.
#[derive(Clone)]
pub struct Authenticator {
    pub keys: Arc<JwtKeys>,
    pub identities: Arc<dyn IdentityDirectory>,
}

impl Authenticator {
    /// `false` once the identity is gone or its data is being deleted (during the grace
    /// period it may still act, to cancel the deletion).
    async fn may_act(&self, address: &IdentityAddress) -> anyhow::Result<bool> {
        let status = self.identities.status_of(address).await?;
        Ok(status.is_some_and(|status| status != IdentityStatus::Deleting))
    }
}

/// Checks the bearer token, if any, and records the result for the extractors below. Anonymous
/// endpoints ignore an invalid token, as upstream does; authenticated ones answer 401. A
/// token whose identity was deleted (or is being deleted) counts as invalid although its
/// signature is good: such an identity must not write anything any more.
pub async fn authenticate(
    State(authenticator): State<Authenticator>,
    mut request: Request,
    next: Next,
) -> Response {
    let token = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
        .map(str::trim);
    if let Some(token) = token {
        let result = match authenticator.keys.verify(token) {
            Some(caller) => match authenticator.may_act(&caller.address).await {
                Ok(true) => Authentication::Valid(caller),
                Ok(false) => Authentication::Invalid,
                Err(error) => return ApiError::internal(error).into_response(),
            },
            None => Authentication::Invalid,
        };
        request.extensions_mut().insert(result);
    }
    next.run(request).await
}

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        match parts.extensions.get::<Authentication>() {
            Some(Authentication::Valid(caller)) => Ok(caller.clone()),
            _ => Err(ApiError::Unauthorized),
        }
    }
}

/// The caller if the request carries a valid token; for endpoints that also allow anonymous use.
#[derive(Debug, Clone)]
pub struct MaybeCaller(pub Option<Caller>);

impl<S: Send + Sync> FromRequestParts<S> for MaybeCaller {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Self(match parts.extensions.get::<Authentication>() {
            Some(Authentication::Valid(caller)) => Some(caller.clone()),
            _ => None,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use backbone_core::clock::ManualClock;

    fn caller() -> Caller {
        Caller {
            address: IdentityAddress::derive(&[1; 32], "localhost"),
            device_id: DeviceId::generate(),
            username: Username::generate(),
            client_id: "test".into(),
        }
    }

    #[test]
    fn tokens_verify_until_they_expire() {
        let clock = Arc::new(ManualClock::new(chrono::Utc::now()));
        let keys = JwtKeys::from_pem(&JwtKeys::generate_pem(), 60, clock.clone()).unwrap();
        let caller = caller();
        let token = keys.issue(&caller).unwrap();
        assert_eq!(keys.verify(&token), Some(caller));
        clock.advance(chrono::Duration::seconds(61));
        assert_eq!(keys.verify(&token), None);
    }

    #[test]
    fn tokens_of_another_key_are_rejected() {
        let clock: SharedClock = Arc::new(ManualClock::new(chrono::Utc::now()));
        let keys = JwtKeys::from_pem(&JwtKeys::generate_pem(), 60, clock.clone()).unwrap();
        let other = JwtKeys::from_pem(&JwtKeys::generate_pem(), 60, clock).unwrap();
        assert_eq!(keys.verify(&other.issue(&caller()).unwrap()), None);
        assert_eq!(keys.verify("garbage"), None);
    }
}
