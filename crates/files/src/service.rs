//! Use cases of the Files module, in upstream's check order (which decides the error a client
//! sees): input validation, then lookup (expired files do not exist), then the domain rules.
//!
//! # Metadata and blob never disagree
//!
//! An upload writes the blob first, under the new file ID, streaming and counting bytes as they
//! arrive ([`Upload::store_content`]); then every field is validated and only then is the row
//! inserted, with its `FileUploaded` event, in one transaction. Any failure after the blob was
//! written deletes the blob before the error is answered, and an upload that is abandoned
//! half-way (the client went away, the request future was dropped) deletes it in the
//! background. Should even that not happen (the process died), the blob has no row and
//! [`FilesService::sweep_orphaned_blobs`] removes it later.
//!
//! A delete removes the row first and then the blob; a blob whose removal failed is again an
//! orphan for the sweep. A row without a blob therefore never exists, except for the moment
//! between a delete's commit and its blob removal, where a concurrent download answers 404.

use std::collections::HashSet;
use std::sync::Arc;

use backbone_blob::{sweep_orphans, Blob, BlobError, BlobStore, ByteStream, SweepReport};
use backbone_core::encoding::{decode_bytes, parse_date};
use backbone_core::events::files::{FileOwnershipClaimed, FileOwnershipLocked, FileUploaded};
use backbone_core::events::DomainEvent;
use backbone_core::ids::FileId;
use backbone_core::paging::{Page, PageRequest, PagingLimits};
use backbone_core::quotas::MetricKey;
use backbone_core::{Actor, IdentityAddress, SharedClock, ValidationError};
use backbone_db::sqlx;
use chrono::{DateTime, Utc};
use futures::StreamExt;

use crate::domain::{
    generate_ownership_token, is_valid_ownership_token, Claim, NewFile, Validation, MAX_CIPHER_HASH_LENGTH,
    MAX_ENCRYPTED_PROPERTIES_LENGTH, MAX_OWNER_SIGNATURE_LENGTH,
};
use crate::store::FilesStore;
use crate::{File, FilesError};

pub use backbone_core::ports::QuotaGate;

#[derive(Clone)]
pub struct FilesService {
    pub store: FilesStore,
    pub blobs: Arc<dyn BlobStore>,
    pub quotas: Arc<dyn QuotaGate>,
    pub clock: SharedClock,
    pub paging: PagingLimits,
    /// The largest content accepted, in bytes (upstream: 10 MiB).
    pub max_file_size: u64,
}

/// The text fields of an upload form as they arrived (`None`: missing or empty).
#[derive(Debug, Clone, Default)]
pub struct UploadFields {
    pub cipher_hash: Option<String>,
    pub owner_signature: Option<String>,
    pub expires_at: Option<String>,
    pub encrypted_properties: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Content {
    Missing,
    Stored(u64),
    /// Not stored; the number of bytes the client sent.
    TooLarge(u64),
}

/// An upload in progress: a new file ID and, once [`Upload::store_content`] ran, its blob.
/// Dropped without [`FilesService::create`] succeeding, it deletes the blob in the background.
pub struct Upload {
    id: FileId,
    blobs: Arc<dyn BlobStore>,
    max_file_size: u64,
    content: Content,
    /// A blob may exist under `id` that no row refers to (yet).
    blob_pending: bool,
}

impl Upload {
    pub fn id(&self) -> &FileId {
        &self.id
    }

    /// Whether the content arrived already (a second content part is ignored, as upstream).
    pub fn has_content(&self) -> bool {
        self.content != Content::Missing
    }

    /// Streams the content into blob storage. Beyond the size limit nothing is stored and the
    /// rest of the part is only counted (read, not kept) for the error message.
    pub async fn store_content(&mut self, body: &mut ByteStream<'_>) -> Result<(), FilesError> {
        self.blob_pending = true;
        match self.blobs.put(self.id.as_str(), body, self.max_file_size).await {
            Ok(size) => self.content = Content::Stored(size),
            Err(BlobError::TooLarge { mut received, .. }) => {
                while let Some(chunk) = body.next().await {
                    received += chunk.map_err(body_error)?.len() as u64;
                }
                self.content = Content::TooLarge(received);
            }
            Err(BlobError::Body(error)) => return Err(body_error(error).into()),
            Err(error) => return Err(FilesError::Blob(error)),
        }
        Ok(())
    }

    /// Deletes the blob, if any, before the request fails.
    pub async fn discard(mut self) {
        if self.blob_pending {
            self.blob_pending = false;
            if let Err(error) = self.blobs.delete(self.id.as_str()).await {
                tracing::warn!(file = %self.id, %error, "could not delete the blob of a failed upload; the sweep will");
            }
        }
    }
}

impl Drop for Upload {
    fn drop(&mut self) {
        if !self.blob_pending {
            return;
        }
        let (blobs, id) = (self.blobs.clone(), self.id.clone());
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                if let Err(error) = blobs.delete(id.as_str()).await {
                    tracing::warn!(file = %id, %error, "could not delete the blob of an abandoned upload; the sweep will");
                }
            });
        }
    }
}

/// A broken request body: over the route's body limit, or malformed multipart.
#[expect(
    clippy::needless_pass_by_value,
    reason = "used as map_err(body_error), which hands the error over by value"
)]
fn body_error(error: std::io::Error) -> ValidationError {
    if error.kind() == std::io::ErrorKind::FileTooLarge {
        ValidationError::body_too_large()
    } else {
        ValidationError::cannot_parse(format!("The request body could not be read: {error}"))
    }
}

fn not_found() -> FilesError {
    FilesError::NotFound("File")
}

impl FilesService {
    /// §7.3, first half: a new file ID to stream the content to.
    pub fn begin_upload(&self) -> Upload {
        Upload {
            id: FileId::generate(),
            blobs: self.blobs.clone(),
            max_file_size: self.max_file_size,
            content: Content::Missing,
            blob_pending: false,
        }
    }

    /// §7.3, second half: validates the form and records the file. On any failure the blob
    /// is gone before the error is returned.
    pub async fn create(
        &self,
        actor: &Actor,
        mut upload: Upload,
        fields: UploadFields,
    ) -> Result<File, FilesError> {
        let new_file = match self.validate_upload(actor, &upload, fields) {
            Ok(new_file) => new_file,
            Err(error) => {
                upload.discard().await;
                return Err(error);
            }
        };
        match self.insert(new_file).await {
            Ok(file) => {
                upload.blob_pending = false;
                Ok(file)
            }
            Err(error) => {
                // Never delete the blob of a row that exists (a commit that failed only on
                // the way back); if that cannot be told, leave the blob to the sweep.
                match self.store.existing_ids(&[upload.id.as_str().to_owned()]).await {
                    Ok(existing) if existing.is_empty() => upload.discard().await,
                    _ => upload.blob_pending = false,
                }
                Err(error)
            }
        }
    }

    /// Upstream's order: model binding (missing fields, unreadable date), the controller's
    /// content-length rule, base64 decoding, then the command validator.
    fn validate_upload(
        &self,
        actor: &Actor,
        upload: &Upload,
        fields: UploadFields,
    ) -> Result<NewFile, FilesError> {
        if upload.content == Content::Missing {
            return Err(required("content").into());
        }
        let owner_signature = fields.owner_signature.ok_or_else(|| required("ownerSignature"))?;
        let cipher_hash = fields.cipher_hash.ok_or_else(|| required("cipherHash"))?;
        let expires_at = fields.expires_at.ok_or_else(|| required("expiresAt"))?;
        let expires_at = parse_date(&expires_at).ok_or_else(|| {
            ValidationError::cannot_parse(format!(
                "'expiresAt': The value '{expires_at}' is not a valid date."
            ))
        })?;
        let encrypted_properties = fields
            .encrypted_properties
            .ok_or_else(|| required("encryptedProperties"))?;

        let cipher_size = match upload.content {
            Content::Stored(size) if (1..=self.max_file_size).contains(&size) => size,
            Content::Stored(entered) | Content::TooLarge(entered) => {
                return Err(FilesError::ContentLength {
                    max: self.max_file_size,
                    entered,
                })
            }
            Content::Missing => unreachable!("checked above"),
        };

        let cipher_hash = decode("cipherHash", &cipher_hash)?;
        let owner_signature = decode("ownerSignature", &owner_signature)?;
        let encrypted_properties = decode("encryptedProperties", &encrypted_properties)?;

        check_length("cipherHash", &cipher_hash, 1, MAX_CIPHER_HASH_LENGTH)?;
        if expires_at <= self.clock.now() {
            return Err(ValidationError::invalid_property_value("'expiresAt' must be in the future.").into());
        }
        check_length("ownerSignature", &owner_signature, 1, MAX_OWNER_SIGNATURE_LENGTH)?;
        check_length(
            "encryptedProperties",
            &encrypted_properties,
            0,
            MAX_ENCRYPTED_PROPERTIES_LENGTH,
        )?;

        Ok(NewFile {
            id: upload.id.clone(),
            creator: actor.address.clone(),
            creator_device: actor.device.clone(),
            owner_signature,
            cipher_hash,
            cipher_size,
            expires_at,
            encrypted_properties,
        })
    }

    /// After validation, as upstream checks quotas after its validators: a blob that may not
    /// be kept is deleted by the caller like any other refused upload.
    async fn insert(&self, new_file: NewFile) -> Result<File, FilesError> {
        let file = File::new(new_file, self.clock.now());
        let event = DomainEvent::from_event(&FileUploaded {
            file_id: file.id.clone(),
            owner: file.owner.clone(),
        });
        let mut tx = self.store.db().begin_write().await?;
        let metrics = [MetricKey::NumberOfFiles, MetricKey::UsedFileStorageSpace];
        self.quotas
            .check(&mut tx, &file.created_by, &metrics, file.created_at)
            .await?
            .map_err(FilesError::QuotaExhausted)?;
        self.store.insert(&mut tx, &file, &event).await?;
        tx.commit().await?;
        Ok(file)
    }

    /// §7.5: any authenticated identity may read any live file's metadata.
    pub async fn metadata(&self, id: &FileId) -> Result<File, FilesError> {
        let mut conn = self.store.db().pool().acquire().await?;
        self.store
            .find_live(&mut conn, id, self.clock.now(), false)
            .await?
            .ok_or_else(not_found)
    }

    /// §7.4: the metadata and the content as a stream.
    pub async fn download(&self, id: &FileId) -> Result<(File, Blob), FilesError> {
        let file = self.metadata(id).await?;
        match self.blobs.get(id.as_str()).await {
            Ok(blob) => Ok((file, blob)),
            // Deleted between reading the row and opening the blob.
            Err(BlobError::NotFound) => {
                tracing::warn!(file = %id, "a file without its blob was requested");
                Err(not_found())
            }
            Err(error) => Err(FilesError::Blob(error)),
        }
    }

    /// §7.6: live files the caller created (not: owns), all or those among `ids`.
    pub async fn list(
        &self,
        actor: &Actor,
        ids: &[FileId],
        page: PageRequest,
    ) -> Result<Page<File>, FilesError> {
        self.store
            .list_created_by(&actor.address, ids, self.clock.now(), page)
            .await
            .map_err(FilesError::from)
    }

    /// The deletion job's step for this module: files the identity owns are deleted (rows,
    /// then blobs); files it created but no longer owns name the anonymous address.
    pub async fn delete_identity(
        &self,
        identity: &IdentityAddress,
        anonymous: &IdentityAddress,
    ) -> anyhow::Result<()> {
        let owned = self.store.delete_owned_by(identity).await?;
        for id in owned {
            self.blobs.delete(id.as_str()).await?;
        }
        self.store.anonymise_creator(identity, anonymous).await?;
        Ok(())
    }

    /// §7.7: only the creator deletes; the row goes first, then the blob.
    pub async fn delete(&self, actor: &Actor, id: &FileId) -> Result<(), FilesError> {
        let mut tx = self.store.db().begin_write().await?;
        let file = self
            .store
            .find_live(&mut tx, id, self.clock.now(), true)
            .await?
            .ok_or_else(not_found)?;
        if !file.may_be_deleted_by(&actor.address) {
            return Err(FilesError::Forbidden);
        }
        self.store.delete(&mut tx, id).await?;
        tx.commit().await?;
        if let Err(error) = self.blobs.delete(id.as_str()).await {
            tracing::warn!(file = %id, %error, "could not delete the blob of a deleted file; the sweep will");
        }
        Ok(())
    }

    /// §7.8: the owner replaces the token, which also lifts a lock.
    pub async fn regenerate_ownership_token(&self, actor: &Actor, id: &FileId) -> Result<String, FilesError> {
        let mut tx = self.store.db().begin_write().await?;
        let file = self
            .store
            .find_live(&mut tx, id, self.clock.now(), true)
            .await?
            .ok_or_else(not_found)?;
        if !file.may_regenerate_token(&actor.address) {
            return Err(FilesError::Forbidden);
        }
        let token = generate_ownership_token();
        self.store.set_ownership_token(&mut tx, id, &token).await?;
        tx.commit().await?;
        Ok(token)
    }

    /// §7.8: whoever presents the right token becomes the owner; a wrong one locks the file.
    pub async fn claim_ownership(
        &self,
        actor: &Actor,
        id: &FileId,
        token: &str,
    ) -> Result<String, FilesError> {
        check_token_format(token)?;
        let now = self.clock.now();
        let mut tx = self.store.db().begin_write().await?;
        let file = self
            .store
            .find_live(&mut tx, id, now, true)
            .await?
            .ok_or_else(not_found)?;
        match file.check_claim(&actor.address, token) {
            Claim::CannotClaimOwnFile => Err(FilesError::CannotClaimOwnershipOfOwnFile),
            Claim::Locked => Err(FilesError::Forbidden),
            Claim::IncorrectToken => {
                // The request fails, but the lock and its event are kept.
                self.lock(&mut tx, &file, now).await?;
                tx.commit().await?;
                Err(FilesError::Forbidden)
            }
            Claim::Granted => {
                let new_token = generate_ownership_token();
                self.store
                    .transfer_ownership(&mut tx, id, &actor.address, &new_token, now)
                    .await?;
                let event = DomainEvent::from_event(&FileOwnershipClaimed {
                    file_id: id.clone(),
                    old_owner_address: file.owner.clone(),
                    new_owner_address: actor.address.clone(),
                });
                backbone_db::outbox::enqueue(&mut tx, &event, now).await?;
                tx.commit().await?;
                Ok(new_token)
            }
        }
    }

    /// §7.8: whether `token` is the file's token; a stranger's wrong guess locks the file.
    pub async fn validate_ownership_token(
        &self,
        actor: &Actor,
        id: &FileId,
        token: &str,
    ) -> Result<bool, FilesError> {
        check_token_format(token)?;
        let now = self.clock.now();
        let mut tx = self.store.db().begin_write().await?;
        let file = self
            .store
            .find_live(&mut tx, id, now, true)
            .await?
            .ok_or_else(not_found)?;
        match file.check_token(&actor.address, token) {
            Validation::Valid => Ok(true),
            Validation::Invalid => Ok(false),
            Validation::InvalidAndLock => {
                self.lock(&mut tx, &file, now).await?;
                tx.commit().await?;
                Ok(false)
            }
        }
    }

    /// Locks the file and tells its owner, in the caller's transaction.
    async fn lock(
        &self,
        tx: &mut sqlx::Transaction<'static, sqlx::Any>,
        file: &File,
        now: DateTime<Utc>,
    ) -> Result<(), FilesError> {
        self.store.lock_ownership(tx, &file.id).await?;
        let event = DomainEvent::from_event(&FileOwnershipLocked {
            file_id: file.id.clone(),
            owner_address: file.owner.clone(),
        });
        backbone_db::outbox::enqueue(tx, &event, now)
            .await
            .map_err(FilesError::from)
    }

    /// Removes blobs older than `older_than` that no file row refers to: what failed or
    /// interrupted uploads and failed blob deletions left behind (housekeeping).
    pub async fn sweep_orphaned_blobs(&self, older_than: DateTime<Utc>) -> anyhow::Result<SweepReport> {
        sweep_orphans(self.blobs.as_ref(), older_than, |names| async move {
            let existing: HashSet<String> = self.store.existing_ids(&names).await?;
            Ok(existing)
        })
        .await
    }
}

fn required(property: &str) -> ValidationError {
    ValidationError::cannot_parse(format!("'{property}': A non-empty value is required."))
}

/// Base64url or standard base64 (what the client sends) into bytes.
fn decode(property: &str, text: &str) -> Result<Vec<u8>, ValidationError> {
    decode_bytes(text)
        .ok_or_else(|| ValidationError::cannot_parse(format!("'{property}': The value is not valid base64.")))
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

fn check_token_format(token: &str) -> Result<(), ValidationError> {
    if is_valid_ownership_token(token) {
        Ok(())
    } else {
        Err(ValidationError::invalid_property_value(
            "Invalid ownership token.",
        ))
    }
}
