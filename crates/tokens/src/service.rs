//! Use cases of the Tokens module, in upstream's check order (which decides the error a
//! client sees): validation first, then lookup, then the access rules of the domain.
//!
//! Decisions that lead to a write (an allocation, a failed attempt, filling a token) are made
//! again inside the write transaction with the token row locked, so concurrent requests never
//! lose a failed attempt and the `TokenLocked` event is raised exactly once.

use backbone_core::events::tokens::{TokenCreated, TokenLocked};
use backbone_core::events::DomainEvent;
use backbone_core::ids::TokenId;
use backbone_core::paging::{Page, PageRequest, PagingLimits};
use backbone_core::quotas::MetricKey;
use backbone_core::{Actor, IdentityAddress, SharedClock, ValidationError};
use backbone_db::sqlx::{self, AnyConnection};
use chrono::{DateTime, Utc};

use crate::domain::{
    is_locking_count, Read, Refusal, MAX_ANONYMOUS_LIFETIME, MAX_CONTENT_LENGTH, MAX_PASSWORD_LENGTH,
};
use crate::store::TokensStore;
use crate::{Token, TokensError};

/// `POST /Tokens` after its bytes and dates were decoded.
#[derive(Debug, Clone)]
pub struct CreateToken {
    pub content: Option<Vec<u8>>,
    pub expires_at: DateTime<Utc>,
    pub for_identity: Option<String>,
    pub password: Option<Vec<u8>>,
}

pub use backbone_core::ports::QuotaGate;

#[derive(Clone)]
pub struct TokensService {
    pub store: TokensStore,
    pub clock: SharedClock,
    pub quotas: std::sync::Arc<dyn QuotaGate>,
    pub paging: PagingLimits,
}

fn not_found() -> TokensError {
    TokensError::NotFound("Token")
}

impl TokensService {
    /// §6.2: anonymous (`actor` = `None`) or authenticated.
    pub async fn create(&self, actor: Option<&Actor>, request: CreateToken) -> Result<Token, TokensError> {
        let now = self.clock.now();
        let for_identity = request
            .for_identity
            .as_deref()
            .map(|a| IdentityAddress::parse(a).ok_or_else(|| ValidationError::invalid_id("forIdentity")))
            .transpose()?;
        if let Some(password) = &request.password {
            check_length("password", password, 1, MAX_PASSWORD_LENGTH)?;
        }
        if request.expires_at <= now {
            return Err(ValidationError::invalid_property_value("'expiresAt' must be in the future.").into());
        }
        match actor {
            None => {
                if request.content.is_some() {
                    return Err(ValidationError::invalid_property_value("'content' must be empty.").into());
                }
                let latest = now + MAX_ANONYMOUS_LIFETIME;
                if request.expires_at >= latest {
                    return Err(ValidationError::invalid_property_value(format!(
                        "'expiresAt' must be less than '{}'.",
                        backbone_core::encoding::format_date(&latest)
                    ))
                    .into());
                }
            }
            Some(_) => {
                if let Some(content) = &request.content {
                    check_length("content", content, 0, MAX_CONTENT_LENGTH)?;
                }
            }
        }

        let token = Token::new(
            actor.map(|a| (a.address.clone(), a.device.clone())),
            request.content,
            request.expires_at,
            for_identity,
            request.password,
            now,
        );
        let event = DomainEvent::from_event(&TokenCreated {
            token_id: token.id.clone(),
            created_by: token.created_by.clone(),
        });
        let mut tx = self.store.db().begin_write().await?;
        // Anonymous tokens are never limited (upstream).
        if let Some(actor) = actor {
            self.quotas
                .check(&mut tx, &actor.address, &[MetricKey::NumberOfTokens], now)
                .await?
                .map_err(TokensError::QuotaExhausted)?;
        }
        self.store.insert(&mut tx, &token, &event).await?;
        tx.commit().await?;
        Ok(token)
    }

    /// §6.3: reads a token, allocating it to an authenticated first-time reader.
    pub async fn get(
        &self,
        actor: Option<&Actor>,
        id: &TokenId,
        password: Option<&[u8]>,
    ) -> Result<Token, TokensError> {
        if let Some(password) = password {
            check_length("password", password, 1, MAX_PASSWORD_LENGTH)?;
        }
        let now = self.clock.now();
        // Most reads change nothing: decide without a transaction first.
        let mut conn = self.store.db().pool().acquire().await?;
        let (token, decision) = self
            .decide_read(&mut conn, actor, id, password, false, now)
            .await?;
        drop(conn);
        match decision {
            Ok(Read::Granted) => return Ok(token),
            Ok(Read::GrantedWithAllocation) | Err(Refusal::WrongPassword) => {}
            Err(refusal) => return Err(refusal_error(refusal)),
        }

        let mut tx = self.store.db().begin_write().await?;
        let (token, decision) = self.decide_read(&mut tx, actor, id, password, true, now).await?;
        match decision {
            Ok(Read::Granted) => Ok(token),
            Ok(Read::GrantedWithAllocation) => {
                // The rules grant with an allocation only to an authenticated reader.
                if let Some(actor) = actor {
                    self.store
                        .allocate(&mut tx, id, &actor.address, &actor.device, now)
                        .await?;
                    tx.commit().await?;
                }
                Ok(token)
            }
            Err(Refusal::WrongPassword) => Err(self.count_failed_attempt(tx, &token, now).await?),
            Err(refusal) => Err(refusal_error(refusal)),
        }
    }

    async fn decide_read(
        &self,
        conn: &mut AnyConnection,
        actor: Option<&Actor>,
        id: &TokenId,
        password: Option<&[u8]>,
        lock: bool,
        now: DateTime<Utc>,
    ) -> Result<(Token, Result<Read, Refusal>), TokensError> {
        let token = self.store.find(conn, id, lock).await?.ok_or_else(not_found)?;
        let caller = actor.map(|a| &a.address);
        let has_allocation = match caller {
            Some(address) => self.store.has_allocation(conn, id, address).await?,
            None => false,
        };
        let decision = token.check_read(caller, has_allocation, password, now);
        Ok((token, decision))
    }

    /// Persists a failed password attempt (the request fails anyway) and, when it locks the
    /// token, the `TokenLocked` event in the same transaction. Returns the error to answer with.
    async fn count_failed_attempt(
        &self,
        mut tx: sqlx::Transaction<'static, sqlx::Any>,
        token: &Token,
        now: DateTime<Utc>,
    ) -> Result<TokensError, TokensError> {
        let count = self
            .store
            .increment_access_failed_count(&mut tx, &token.id)
            .await?;
        // The row is locked and was not locked before, so the limit is reached exactly once.
        if count == crate::domain::MAX_FAILED_ACCESS_ATTEMPTS {
            let event = DomainEvent::from_event(&TokenLocked {
                token_id: token.id.clone(),
                created_by: token.created_by.clone(),
            });
            backbone_db::outbox::enqueue(&mut tx, &event, now).await?;
        }
        tx.commit().await?;
        Ok(if is_locking_count(count) {
            TokensError::TooManyFailedPasswordAttempts
        } else {
            not_found()
        })
    }

    /// §6.4: the tokens among `ids` the caller created or has allocated.
    pub async fn list(
        &self,
        actor: &Actor,
        ids: &[TokenId],
        page: PageRequest,
    ) -> Result<Page<Token>, TokensError> {
        if ids.is_empty() {
            return Err(ValidationError::invalid_property_value("'ids' must not be empty.").into());
        }
        Ok(self.store.list(&actor.address, ids, page).await?)
    }

    /// §6.5: only the creator may delete a token; its allocations go with it.
    pub async fn delete(&self, actor: &Actor, id: &TokenId) -> Result<(), TokensError> {
        let mut tx = self.store.db().begin_write().await?;
        let token = self.store.find(&mut tx, id, true).await?.ok_or_else(not_found)?;
        if token.created_by.as_ref() != Some(&actor.address) {
            return Err(TokensError::Forbidden);
        }
        self.store.delete(&mut tx, id).await?;
        Ok(tx.commit().await?)
    }

    /// §6.6: fills an empty token; the filler becomes its creator.
    pub async fn update_content(
        &self,
        actor: &Actor,
        id: &TokenId,
        new_content: Vec<u8>,
        password: Option<&[u8]>,
    ) -> Result<Token, TokensError> {
        check_length("newContent", &new_content, 1, MAX_CONTENT_LENGTH)?;
        if let Some(password) = password {
            check_length("password", password, 1, MAX_PASSWORD_LENGTH)?;
        }
        let now = self.clock.now();
        let mut tx = self.store.db().begin_write().await?;
        let mut token = self.store.find(&mut tx, id, true).await?.ok_or_else(not_found)?;
        match token.check_content_update(&actor.address, password, now) {
            Ok(()) => {}
            Err(Refusal::WrongPassword) => return Err(self.count_failed_attempt(tx, &token, now).await?),
            Err(refusal) => return Err(refusal_error(refusal)),
        }
        let filled = self
            .store
            .fill(&mut tx, id, &new_content, &actor.address, &actor.device)
            .await?;
        if !filled {
            return Err(TokensError::ContentUpdateNotPossibleBecauseContentAlreadyExists);
        }
        tx.commit().await?;
        token.content = Some(new_content);
        token.created_by = Some(actor.address.clone());
        token.created_by_device = Some(actor.device.clone());
        Ok(token)
    }
}

/// How a refusal looks on the wire: everything that could reveal the token is a 404.
fn refusal_error(refusal: Refusal) -> TokensError {
    match refusal {
        Refusal::Expired | Refusal::ForIdentityDoesNotMatch | Refusal::WrongPassword => not_found(),
        Refusal::Locked => TokensError::TooManyFailedPasswordAttempts,
        Refusal::ContentAlreadyExists => TokensError::ContentUpdateNotPossibleBecauseContentAlreadyExists,
    }
}

/// Upstream's `NumberOfBytes` rule.
fn check_length(property: &str, bytes: &[u8], min: usize, max: usize) -> Result<(), ValidationError> {
    if (min..=max).contains(&bytes.len()) {
        Ok(())
    } else {
        Err(ValidationError::invalid_property_value(format!(
            "'{property}' must be between {min} and {max} bytes long. You entered {} bytes.",
            bytes.len()
        )))
    }
}
