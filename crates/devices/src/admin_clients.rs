//! Operator use cases on OAuth clients (admin-and-services §1.3/1.4): read one, change its
//! default tier and identity limit, replace its secret. Each returns [`AdministrationError`];
//! the Admin API maps it to the error envelope.

use backbone_core::ids::{random_string, TierId};
use backbone_db::sqlx::{self, AnyConnection, Row};

use crate::administration::AdministrationError;
use crate::domain::OAuthClient;
use crate::store::client_from_row;
use crate::{DevicesService, DevicesStore};

/// Upstream's generated secrets: 30 characters from a cryptographic RNG.
const SECRET_ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
const SECRET_LENGTH: usize = 30;

pub fn generate_client_secret() -> String {
    random_string(SECRET_ALPHABET, SECRET_LENGTH)
}

/// A client with the number of identities created with it.
#[derive(Debug, Clone)]
pub struct ClientDetails {
    pub client: OAuthClient,
    pub number_of_identities: i64,
}

impl DevicesService {
    /// `GET /api/v1/Clients/{id}`
    pub async fn client_details(&self, client_id: &str) -> Result<ClientDetails, AdministrationError> {
        let mut conn = self.store.db().pool().acquire().await?;
        let client = self.store.client_row(&mut conn, client_id, false).await?;
        let client = client.ok_or(AdministrationError::NotFound("OAuthClient"))?;
        let number_of_identities = self.store.identities_of_client(&mut conn, client_id).await?;
        Ok(ClientDetails {
            client,
            number_of_identities,
        })
    }

    /// `PUT /api/v1/Clients/{id}`: the default tier must be an existing tier's ID, and the
    /// limit may not be below the identities the client has (equal is fine). The client row
    /// is locked, so an identity created meanwhile is counted (its creation locks it too).
    pub async fn update_client(
        &self,
        client_id: &str,
        default_tier: &str,
        max_identities: Option<i64>,
    ) -> Result<ClientDetails, AdministrationError> {
        if max_identities.is_some_and(|m| m < 0) {
            return Err(AdministrationError::InvalidProperty(
                "'maxIdentities' must not be negative.".into(),
            ));
        }
        let mut tx = self.store.db().begin_write().await?;
        let client = self.store.client_row(&mut tx, client_id, true).await?;
        let mut client = client.ok_or(AdministrationError::NotFound("OAuthClient"))?;
        let tier = match TierId::parse(default_tier) {
            Some(tier) if self.store.tier_exists(&mut tx, &tier).await? => tier,
            _ => return Err(AdministrationError::TierIdInvalidOrDoesNotExist),
        };
        let number_of_identities = self.store.identities_of_client(&mut tx, client_id).await?;
        if let Some(max) = max_identities.filter(|max| *max < number_of_identities) {
            return Err(AdministrationError::MaxIdentitiesLessThanCurrentIdentities {
                requested: max,
                current: number_of_identities,
            });
        }
        client.default_tier = tier;
        client.max_identities = max_identities;
        self.store.update_client(&mut tx, &client).await?;
        tx.commit().await?;
        Ok(ClientDetails {
            client,
            number_of_identities,
        })
    }

    /// `PATCH /api/v1/Clients/{id}/ChangeSecret`: an empty or missing secret is generated.
    /// Returns the client and the new secret in plain text (shown once).
    pub async fn change_client_secret(
        &self,
        client_id: &str,
        new_secret: Option<String>,
    ) -> Result<(OAuthClient, String), AdministrationError> {
        let secret = new_secret
            .filter(|s| !s.is_empty())
            .unwrap_or_else(generate_client_secret);
        // Hashing is slow: do it before the write transaction, not inside it.
        let secret_hash = crate::service::hash(secret.clone()).await?;
        let mut tx = self.store.db().begin_write().await?;
        let client = self.store.client_row(&mut tx, client_id, true).await?;
        let mut client = client.ok_or(AdministrationError::NotFound("OAuthClient"))?;
        client.secret_hash = secret_hash;
        self.store.update_client(&mut tx, &client).await?;
        tx.commit().await?;
        Ok((client, secret))
    }
}

impl DevicesStore {
    async fn client_row(
        &self,
        conn: &mut AnyConnection,
        client_id: &str,
        lock: bool,
    ) -> sqlx::Result<Option<OAuthClient>> {
        let lock = if lock {
            self.db().dialect().for_update()
        } else {
            ""
        };
        let row = sqlx::query(&format!(
            "SELECT client_id, display_name, secret_hash, default_tier, created_at, max_identities \
             FROM oauth_clients WHERE client_id = $1{lock}"
        ))
        .bind(client_id)
        .fetch_optional(conn)
        .await?;
        row.as_ref().map(client_from_row).transpose()
    }

    async fn identities_of_client(&self, conn: &mut AnyConnection, client_id: &str) -> sqlx::Result<i64> {
        sqlx::query("SELECT COUNT(*) AS n FROM identities WHERE client_id = $1")
            .bind(client_id)
            .fetch_one(conn)
            .await?
            .try_get("n")
    }

    async fn tier_exists(&self, conn: &mut AnyConnection, tier: &TierId) -> sqlx::Result<bool> {
        let row = sqlx::query("SELECT id FROM tiers WHERE id = $1 AND can_be_used_as_default_for_client = 1")
            .bind(tier.as_str())
            .fetch_optional(conn)
            .await?;
        Ok(row.is_some())
    }

    async fn update_client(&self, conn: &mut AnyConnection, client: &OAuthClient) -> sqlx::Result<()> {
        sqlx::query(
            "UPDATE oauth_clients SET default_tier = $1, max_identities = $2, secret_hash = $3 WHERE client_id = $4",
        )
        .bind(client.default_tier.as_str())
        .bind(client.max_identities)
        .bind(&client.secret_hash)
        .bind(&client.client_id)
        .execute(conn)
        .await?;
        Ok(())
    }
}
