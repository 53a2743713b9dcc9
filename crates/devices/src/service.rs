//! Use cases of the Devices module. HTTP handlers and the admin CLI call these; they hold the
//! rules and the order in which upstream checks them (which decides the error a client sees).

use std::sync::Arc;

use backbone_core::events::devices::{
    BackupDeviceUsed, FeatureFlagsOfIdentityChanged, IdentityCreated, TierCreated,
};
use backbone_core::events::DomainEvent;
use backbone_core::ids::{ChallengeId, DeviceId, TierId, Username};
use backbone_core::language::is_supported_language;
use backbone_core::paging::{Page, PageRequest, PagingLimits};
use backbone_core::ports::{ChallengeDirectory, RelationshipDirectory};
use backbone_core::quotas::MetricKey;
use backbone_core::{IdentityAddress, SharedClock, ValidationError};
use backbone_db::sqlx;
use chrono::{DateTime, Duration, Utc};

use crate::crypto;
use crate::domain::{
    Device, Identity, IdentityStatus, OAuthClient, PasswordPolicy, Tier, MAX_FEATURE_FLAG_NAME_LENGTH,
};
use crate::secret_cache::VerifiedSecrets;
use crate::store::{ClientOverview, CreateIdentityOutcome, DevicesStore};
use crate::DevicesError;

#[derive(Debug, Clone)]
pub struct DevicesSettings {
    pub did_domain_name: String,
    pub password_policy: PasswordPolicy,
    /// How long a device stays locked after too many failed logins.
    pub lockout_duration: Duration,
    /// Consecutive failed logins that lock a device.
    pub max_failed_logins: i64,
    pub max_feature_flags_per_identity: usize,
    pub paging: PagingLimits,
    /// Default length of a deletion grace period.
    pub grace_period_days: f64,
    pub reminder_schedule: crate::deletion::ReminderSchedule,
}

#[derive(Debug, Clone)]
pub struct SignedChallenge {
    pub challenge: String,
    pub signature: String,
}

#[derive(Debug, Clone)]
pub struct CreateIdentity {
    pub client_id: String,
    pub client_secret: String,
    pub identity_public_key: Vec<u8>,
    pub device_password: String,
    pub identity_version: i64,
    pub signed_challenge: SignedChallenge,
    pub communication_language: Option<String>,
}

#[derive(Debug, Clone)]
pub struct RegisterDevice {
    pub device_password: String,
    pub signed_challenge: SignedChallenge,
    pub communication_language: Option<String>,
    pub is_backup_device: bool,
}

/// The answer to a successful login.
#[derive(Debug, Clone)]
pub struct LoggedIn {
    pub device: Device,
    pub client_id: String,
}

/// Why a login failed: in OAuth terms, or unexpectedly. The token endpoint answers each.
#[derive(Debug, thiserror::Error)]
pub enum LoginFailure {
    #[error("the client credentials are invalid")]
    InvalidClient,
    #[error("the username/password couple is invalid")]
    InvalidGrant,
    #[error("the device is locked out")]
    LockedOut,
    #[error(transparent)]
    Unexpected(#[from] DevicesError),
}

impl From<sqlx::Error> for LoginFailure {
    fn from(error: sqlx::Error) -> Self {
        Self::Unexpected(error.into())
    }
}

#[derive(Clone)]
pub struct DevicesService {
    pub store: DevicesStore,
    pub challenges: Arc<dyn ChallengeDirectory>,
    /// Asked whether two identities know each other (feature flags).
    pub relationships: Arc<dyn RelationshipDirectory>,
    pub clock: SharedClock,
    pub settings: Arc<DevicesSettings>,
    pub verified_secrets: Arc<VerifiedSecrets>,
    pub deletion: crate::deletion::DeletionStore,
    pub quotas: Arc<dyn crate::quota::QuotaGate>,
}

/// What the Devices module asks the other modules.
#[derive(Clone)]
pub struct DevicesPorts {
    pub challenges: Arc<dyn ChallengeDirectory>,
    /// Whether two identities know each other (feature flags).
    pub relationships: Arc<dyn RelationshipDirectory>,
    pub quotas: Arc<dyn crate::quota::QuotaGate>,
}

impl DevicesService {
    pub fn new(
        store: DevicesStore,
        ports: DevicesPorts,
        clock: SharedClock,
        settings: DevicesSettings,
    ) -> Self {
        Self {
            deletion: crate::deletion::DeletionStore::new(store.db().clone()),
            store,
            challenges: ports.challenges,
            relationships: ports.relationships,
            quotas: ports.quotas,
            clock,
            settings: Arc::new(settings),
            verified_secrets: Arc::default(),
        }
    }

    // Identities ------------------------------------------------------------------------------

    /// I1: creates an identity with its first device.
    pub async fn create_identity(&self, request: CreateIdentity) -> Result<(Identity, Device), DevicesError> {
        let client = self
            .authenticate_client(&request.client_id, &request.client_secret)
            .await?;
        let client = client.ok_or(DevicesError::InvalidClientCredentials)?;
        self.create_identity_for(client, request).await
    }

    /// Identity creation once the client is known: through I1 after its secret was checked,
    /// or by an operator (Admin API), who names the client without its secret.
    pub(crate) async fn create_identity_for(
        &self,
        client: OAuthClient,
        request: CreateIdentity,
    ) -> Result<(Identity, Device), DevicesError> {
        require_non_empty(&request.identity_public_key, "identityPublicKey")?;
        require_non_empty(request.device_password.as_bytes(), "devicePassword")?;
        validate_signed_challenge_fields(&request.signed_challenge)?;
        let language = validate_language(request.communication_language)?;
        if !(0..=255).contains(&request.identity_version) {
            return Err(ValidationError::invalid_property_value(
                "'identityVersion' must be between 0 and 255.",
            )
            .into());
        }

        let raw_key = crypto::raw_public_key(&request.identity_public_key).ok_or_else(|| {
            ValidationError::invalid_property_value("'identityPublicKey' is not a valid public key.")
        })?;
        self.verify_signed_challenge(&raw_key, &request.signed_challenge)
            .await?;

        let address = IdentityAddress::derive(&raw_key, &self.settings.did_domain_name);
        if self.store.find_identity(&address).await?.is_some() {
            return Err(DevicesError::AddressAlreadyExists);
        }
        self.settings
            .password_policy
            .check(&request.device_password)
            .map_err(DevicesError::RegistrationFailed)?;

        let now = self.clock.now();
        let identity = Identity {
            address: address.clone(),
            client_id: Some(client.client_id.clone()),
            public_key: request.identity_public_key,
            tier_id: client.default_tier.clone(),
            created_at: now,
            identity_version: request.identity_version,
            status: IdentityStatus::Active,
            deletion_grace_period_ends_at: None,
        };
        let device_id = DeviceId::generate();
        let device = Device {
            id: device_id.clone(),
            identity_address: address.clone(),
            username: Username::generate(),
            created_at: now,
            created_by_device: device_id,
            last_login_at: None,
            communication_language: language,
            is_backup_device: false,
        };
        let password_hash = hash(request.device_password).await?;
        let event = DomainEvent::from_event(&IdentityCreated {
            address: address.clone(),
            tier: client.default_tier.clone(),
        });
        let mut tx = self.store.db().begin_write().await?;
        match self
            .store
            .create_identity(&mut tx, &identity, &device, &password_hash, &event)
            .await?
        {
            CreateIdentityOutcome::Created => {
                tx.commit().await?;
                Ok((identity, device))
            }
            CreateIdentityOutcome::AddressAlreadyExists => Err(DevicesError::AddressAlreadyExists),
            CreateIdentityOutcome::ClientReachedIdentitiesLimit => {
                Err(DevicesError::ClientReachedIdentitiesLimit)
            }
            CreateIdentityOutcome::ClientVanished => Err(DevicesError::NotFound("Client")),
        }
    }

    pub async fn identity(&self, address: &IdentityAddress) -> Result<Identity, DevicesError> {
        self.store
            .find_identity(address)
            .await?
            .ok_or(DevicesError::NotFound("Identity"))
    }

    /// I3: whether the identity a username belonged to is deleted, and since when.
    pub async fn is_deleted(
        &self,
        username: &Username,
    ) -> Result<(bool, Option<DateTime<Utc>>), DevicesError> {
        let device = self.store.find_device_by_username(username.as_str()).await?;
        let Some(device) = device else {
            // The identity is gone; the deletion audit log knows its former usernames' hashes.
            let deleted_at = self.deletion_date_of_username(username.as_str()).await?;
            return Ok((deleted_at.is_some(), deleted_at));
        };
        let identity = self.identity(&device.identity_address).await?;
        let now = self.clock.now();
        let deleted = identity.grace_period_is_over(now);
        Ok((
            deleted,
            identity.deletion_grace_period_ends_at.filter(|_| deleted),
        ))
    }

    // Devices ---------------------------------------------------------------------------------

    /// D1: registers another device of the caller's identity.
    pub async fn register_device(
        &self,
        identity_address: &IdentityAddress,
        created_by: &DeviceId,
        request: RegisterDevice,
    ) -> Result<Device, DevicesError> {
        require_non_empty(request.device_password.as_bytes(), "devicePassword")?;
        validate_signed_challenge_fields(&request.signed_challenge)?;
        let language = validate_language(request.communication_language)?;
        if request.is_backup_device && self.store.has_backup_device(identity_address).await? {
            return Err(DevicesError::OnlyOneBackupDeviceCanExist);
        }
        let identity = self.identity(identity_address).await?;
        let raw_key = crypto::raw_public_key(&identity.public_key).ok_or(DevicesError::InvalidSignature)?;
        self.verify_signed_challenge(&raw_key, &request.signed_challenge)
            .await?;
        self.settings
            .password_policy
            .check(&request.device_password)
            .map_err(DevicesError::RegistrationFailed)?;

        let device = Device {
            id: DeviceId::generate(),
            identity_address: identity_address.clone(),
            username: Username::generate(),
            created_at: self.clock.now(),
            created_by_device: created_by.clone(),
            last_login_at: None,
            communication_language: language,
            is_backup_device: request.is_backup_device,
        };
        let password_hash = hash(request.device_password).await?;
        let mut tx = self.store.db().begin_write().await?;
        self.check_quota(
            &mut tx,
            identity_address,
            MetricKey::NumberOfCreatedDevices,
            device.created_at,
        )
        .await?;
        self.store.add_device(&mut tx, &device, &password_hash).await?;
        tx.commit().await?;
        Ok(device)
    }

    pub async fn device(&self, id: &DeviceId) -> Result<Device, DevicesError> {
        self.store
            .find_device(id)
            .await?
            .ok_or(DevicesError::NotFound("Device"))
    }

    pub async fn list_devices(
        &self,
        identity: &IdentityAddress,
        ids: &[DeviceId],
        page: PageRequest,
    ) -> Result<Page<Device>, DevicesError> {
        self.store
            .list_devices(identity, ids, page)
            .await
            .map_err(DevicesError::from)
    }

    /// D4
    pub async fn update_communication_language(
        &self,
        device: &DeviceId,
        language: Option<String>,
    ) -> Result<(), DevicesError> {
        let language = language.ok_or(DevicesError::InvalidCommunicationLanguage)?;
        let language = validate_language(Some(language))?;
        self.store
            .update_communication_language(device, &language)
            .await
            .map_err(DevicesError::from)
    }

    /// D5: the old password must match; existing tokens stay valid.
    pub async fn change_password(
        &self,
        device: &DeviceId,
        old_password: String,
        new_password: String,
    ) -> Result<(), DevicesError> {
        require_non_empty(old_password.as_bytes(), "oldPassword")?;
        require_non_empty(new_password.as_bytes(), "newPassword")?;
        let stored = self.store.password_hash(device).await?;
        let stored = stored.ok_or(DevicesError::NotFound("Device"))?;
        if !verify(old_password, stored).await? {
            return Err(DevicesError::ChangePasswordFailed("Incorrect password.".into()));
        }
        self.settings
            .password_policy
            .check(&new_password)
            .map_err(DevicesError::ChangePasswordFailed)?;
        let new_hash = hash(new_password).await?;
        self.store
            .update_password_hash(device, &new_hash)
            .await
            .map_err(DevicesError::from)
    }

    /// D6: only devices that never logged in, and only of the caller's own identity.
    pub async fn delete_device(&self, caller: &IdentityAddress, id: &DeviceId) -> Result<(), DevicesError> {
        let device = self.device(id).await?;
        if device.is_onboarded() {
            return Err(DevicesError::DeviceCannotBeDeleted("it is already onboarded"));
        }
        if &device.identity_address != caller {
            return Err(DevicesError::DeviceCannotBeDeleted(
                "it belongs to another identity",
            ));
        }
        if !self.store.delete_unonboarded_device(id).await? {
            return Err(DevicesError::DeviceCannotBeDeleted("it is already onboarded"));
        }
        Ok(())
    }

    // Login -----------------------------------------------------------------------------------

    /// The client, if it exists and the secret matches.
    pub async fn authenticate_client(
        &self,
        client_id: &str,
        secret: &str,
    ) -> Result<Option<OAuthClient>, DevicesError> {
        let Some(client) = self.store.find_client(client_id).await? else {
            return Ok(None);
        };
        if self
            .verified_secrets
            .is_known(&client.client_id, &client.secret_hash, secret)
        {
            return Ok(Some(client));
        }
        let valid = verify(secret.to_owned(), client.secret_hash.clone()).await?;
        if valid {
            self.verified_secrets
                .remember(&client.client_id, &client.secret_hash, secret);
        }
        Ok(valid.then_some(client))
    }

    /// The password grant of the token endpoint (spec §2.2), with upstream's lockout.
    pub async fn login(
        &self,
        client_id: &str,
        client_secret: &str,
        username: &str,
        password: &str,
    ) -> Result<LoggedIn, LoginFailure> {
        if self
            .authenticate_client(client_id, client_secret)
            .await?
            .is_none()
        {
            return Err(LoginFailure::InvalidClient);
        }
        let Some(login) = self.store.find_login(username).await? else {
            // Costs what a wrong password costs, so timing does not tell which usernames exist.
            verify(password.to_owned(), dummy_password_hash().to_owned()).await?;
            return Err(LoginFailure::InvalidGrant);
        };
        let now = self.clock.now();
        let identity = self.identity(&login.device.identity_address).await?;
        if identity.grace_period_is_over(now) {
            return Err(LoginFailure::InvalidGrant);
        }
        // The attempt is counted before the password is checked, in one statement, so a
        // burst of parallel guesses gets at most `max_failed_logins` evaluations.
        let max = self.settings.max_failed_logins;
        let Some(attempt) = self.store.begin_login_attempt(&login.device.id, now, max).await? else {
            return Err(LoginFailure::LockedOut);
        };
        if !verify(password.to_owned(), login.password_hash).await? {
            if attempt < max {
                return Err(LoginFailure::InvalidGrant);
            }
            self.store
                .lock_out(&login.device.id, now + self.settings.lockout_duration)
                .await?;
            return Err(LoginFailure::LockedOut);
        }
        let backup_used = login.device.is_backup_device.then(|| {
            DomainEvent::from_event(&BackupDeviceUsed {
                identity_address: login.device.identity_address.clone(),
            })
        });
        let mut tx = self.store.db().begin_write().await?;
        self.store
            .record_successful_login(&mut tx, &login.device.id, now, backup_used.as_ref())
            .await?;
        tx.commit().await?;
        Ok(LoggedIn {
            device: login.device,
            client_id: client_id.to_owned(),
        })
    }

    // Feature flags ---------------------------------------------------------------------------

    /// I4: upserts flags, refusing to exceed the per-identity maximum.
    pub async fn change_feature_flags(
        &self,
        identity: &IdentityAddress,
        flags: Vec<(String, bool)>,
    ) -> Result<(), DevicesError> {
        if let Some((name, _)) = flags
            .iter()
            .find(|(name, _)| name.is_empty() || name.chars().count() > MAX_FEATURE_FLAG_NAME_LENGTH)
        {
            return Err(ValidationError::invalid_property_value(format!(
                "Invalid feature flag name. A name must be between 1 and {MAX_FEATURE_FLAG_NAME_LENGTH} characters long ('{}…').",
                name.chars().take(20).collect::<String>()
            )).into());
        }
        let max = self.settings.max_feature_flags_per_identity;
        if flags.len() > max {
            return Err(DevicesError::MaxNumberOfFeatureFlagsExceeded(max));
        }
        let event = DomainEvent::from_event(&FeatureFlagsOfIdentityChanged {
            identity_address: identity.clone(),
        });
        let mut tx = self.store.db().begin_write().await?;
        let stored = self
            .store
            .upsert_feature_flags(&mut tx, identity, &flags, max, &event, self.clock.now())
            .await?;
        if !stored {
            return Err(DevicesError::MaxNumberOfFeatureFlagsExceeded(max));
        }
        tx.commit().await?;
        Ok(())
    }

    /// I5: own flags, or those of an identity the caller has a relationship with or whose
    /// template it allocated.
    pub async fn feature_flags_of(
        &self,
        caller: &IdentityAddress,
        target: &IdentityAddress,
    ) -> Result<Vec<(String, bool)>, DevicesError> {
        if caller != target && !self.relationships.are_acquainted(caller, target).await? {
            return Err(DevicesError::NotFound("Identity"));
        }
        Ok(self.store.feature_flags(target).await?)
    }

    // Administration --------------------------------------------------------------------------

    /// Creates a platform client; the default tier may be given by name or ID.
    pub async fn create_client(
        &self,
        client_id: Option<String>,
        display_name: Option<String>,
        client_secret: Option<String>,
        default_tier: &str,
        max_identities: Option<i64>,
    ) -> Result<(OAuthClient, String), DevicesError> {
        let tier = self.store.find_tier_by_name_or_id(default_tier).await?;
        let tier = tier
            .filter(|t| t.can_be_used_as_default_for_client)
            .ok_or_else(|| DevicesError::UnknownDefaultTier(default_tier.to_owned()))?;
        if max_identities.is_some_and(|m| m < 0) {
            return Err(
                ValidationError::invalid_property_value("'maxIdentities' must not be negative.").into(),
            );
        }
        let client_id = client_id
            .filter(|c| !c.trim().is_empty())
            .unwrap_or_else(|| backbone_core::ids::generate_id("CLT"));
        let secret = client_secret.filter(|s| !s.is_empty()).unwrap_or_else(|| {
            backbone_core::ids::random_string(
                b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789",
                30,
            )
        });
        let client = OAuthClient {
            display_name: display_name
                .filter(|d| !d.trim().is_empty())
                .unwrap_or_else(|| client_id.clone()),
            client_id,
            secret_hash: hash(secret.clone()).await?,
            default_tier: tier.id,
            created_at: self.clock.now(),
            max_identities,
        };
        if !self.store.insert_client(&client).await? {
            return Err(DevicesError::ClientAlreadyExists);
        }
        Ok((client, secret))
    }

    pub async fn list_clients(&self) -> Result<Vec<ClientOverview>, DevicesError> {
        Ok(self.store.list_clients().await?)
    }

    pub async fn delete_client(&self, client_id: &str) -> Result<(), DevicesError> {
        if self.store.delete_client(client_id).await? {
            Ok(())
        } else {
            Err(DevicesError::NotFound("Client"))
        }
    }

    pub async fn list_tiers(&self) -> Result<Vec<(Tier, i64)>, DevicesError> {
        Ok(self.store.list_tiers().await?)
    }

    pub async fn create_tier(&self, name: &str) -> Result<Tier, DevicesError> {
        Tier::validate_name(name).map_err(DevicesError::InvalidTierName)?;
        let tier = Tier {
            id: TierId::generate(),
            name: name.to_owned(),
            can_be_used_as_default_for_client: true,
            can_be_manually_assigned: true,
        };
        let event = DomainEvent::from_event(&TierCreated {
            id: tier.id.clone(),
            name: tier.name.clone(),
        });
        let mut tx = self.store.db().begin_write().await?;
        if !self
            .store
            .insert_tier(&mut tx, &tier, &event, self.clock.now())
            .await?
        {
            return Err(DevicesError::TierAlreadyExists);
        }
        tx.commit().await?;
        Ok(tier)
    }

    // Shared checks ---------------------------------------------------------------------------

    /// Spec §3.1, in upstream's order: signature, then existence, then expiry.
    async fn verify_signed_challenge(
        &self,
        raw_key: &[u8; 32],
        signed: &SignedChallenge,
    ) -> Result<(), DevicesError> {
        if !crypto::verify_challenge_signature(raw_key, &signed.challenge, &signed.signature) {
            return Err(DevicesError::InvalidSignature);
        }
        let text = crypto::parse_challenge_text(&signed.challenge).ok_or_else(|| {
            ValidationError::invalid_property_value(
                "'signedChallenge.challenge' must be a JSON object with 'id' and 'expiresAt'.",
            )
        })?;
        let id = ChallengeId::parse(&text.id).ok_or(DevicesError::NotFound("Challenge"))?;
        let expires_at = self.challenges.expires_at(&id).await?;
        let expires_at = expires_at.ok_or(DevicesError::NotFound("Challenge"))?;
        if expires_at < self.clock.now() {
            return Err(DevicesError::ChallengeHasExpired);
        }
        Ok(())
    }
}

fn require_non_empty(value: &[u8], property: &str) -> Result<(), ValidationError> {
    if value.is_empty() {
        return Err(ValidationError::invalid_property_value(format!(
            "'{property}' must not be empty."
        )));
    }
    Ok(())
}

fn validate_signed_challenge_fields(signed: &SignedChallenge) -> Result<(), ValidationError> {
    require_non_empty(signed.challenge.as_bytes(), "signedChallenge.challenge")?;
    require_non_empty(signed.signature.as_bytes(), "signedChallenge.signature")
}

/// Absent means English; otherwise it must be one of the supported ISO-639-1 codes.
fn validate_language(language: Option<String>) -> Result<String, DevicesError> {
    match language {
        None => Ok("en".to_owned()),
        Some(code) if is_supported_language(&code) => Ok(code),
        Some(_) => Err(DevicesError::InvalidCommunicationLanguage),
    }
}

/// Argon2 takes ~19 MiB and most of a core per call. The calls run on a fixed pool of one
/// thread per core: more at once would only add queueing, and (with glibc's per-thread malloc
/// arenas keeping freed blocks) every extra thread that ever hashed keeps ~19 MiB resident.
static HASHING_POOL: std::sync::LazyLock<rayon::ThreadPool> = std::sync::LazyLock::new(|| {
    rayon::ThreadPoolBuilder::new()
        .thread_name(|i| format!("password-hashing-{i}"))
        .build()
        .expect("the password hashing pool starts")
});

async fn on_hashing_pool<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, DevicesError> {
    let (done, result) = tokio::sync::oneshot::channel();
    HASHING_POOL.spawn(move || {
        let _ = done.send(work());
    });
    result
        .await
        .map_err(|error| DevicesError::Unexpected(error.into()))
}

pub(crate) async fn hash(secret: String) -> Result<String, DevicesError> {
    on_hashing_pool(move || crypto::hash_secret(&secret))
        .await?
        .map_err(DevicesError::from)
}

/// A hash of a random secret with the parameters real passwords get, verified against when a
/// username is unknown. Computed once, on the first unknown username.
fn dummy_password_hash() -> &'static str {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY.get_or_init(|| {
        crypto::hash_secret(&backbone_core::ids::random_string(
            b"abcdefghijklmnopqrstuvwxyz",
            32,
        ))
        .expect("hashing a random secret cannot fail")
    })
}

async fn verify(secret: String, stored: String) -> Result<bool, DevicesError> {
    on_hashing_pool(move || crypto::verify_secret(&secret, &stored)).await
}
