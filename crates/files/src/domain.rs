//! A file's metadata and the rules of its ownership token (spec §7.1, §7.7, §7.8). The content
//! itself lives in blob storage under the file ID.

use backbone_core::ids::{random_string, DeviceId, FileId};
use backbone_core::IdentityAddress;
use chrono::{DateTime, Utc};

/// Upstream's default for the largest content (configurable: `files.max_file_size_bytes`).
pub const DEFAULT_MAX_FILE_SIZE: u64 = 10 * 1024 * 1024;
/// `cipherHash` is 1..=128 bytes (room for SHA-1024).
pub const MAX_CIPHER_HASH_LENGTH: usize = 128;
/// `ownerSignature` is 1..=512 bytes.
pub const MAX_OWNER_SIGNATURE_LENGTH: usize = 512;
/// `encryptedProperties` is 0..=1 MiB.
pub const MAX_ENCRYPTED_PROPERTIES_LENGTH: usize = 1024 * 1024;

/// Generated ownership tokens are this long; presented ones may be shorter.
pub const OWNERSHIP_TOKEN_LENGTH: usize = 20;
const OWNERSHIP_TOKEN_ALPHABET: &[u8] =
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789!@#$%^&*()_-+=<>?/{}[]|~";

/// A new random ownership token.
pub fn generate_ownership_token() -> String {
    random_string(OWNERSHIP_TOKEN_ALPHABET, OWNERSHIP_TOKEN_LENGTH)
}

/// Upstream's `FileOwnershipToken.IsValid`: 1..=20 characters from the token alphabet.
pub fn is_valid_ownership_token(token: &str) -> bool {
    !token.is_empty()
        && token.len() <= OWNERSHIP_TOKEN_LENGTH
        && token.bytes().all(|b| OWNERSHIP_TOKEN_ALPHABET.contains(&b))
}

#[derive(Debug, Clone, PartialEq)]
pub struct File {
    pub id: FileId,
    pub created_at: DateTime<Utc>,
    pub created_by: IdentityAddress,
    pub created_by_device: DeviceId,
    /// The creator until someone claims the file with its ownership token.
    pub owner: IdentityAddress,
    pub owner_signature: Vec<u8>,
    pub ownership_token: String,
    /// Set by a wrong ownership token presented by someone other than the owner; only the
    /// owner regenerating the token lifts it.
    pub ownership_is_locked: bool,
    pub last_ownership_claim_at: Option<DateTime<Utc>>,
    /// Length of the content in bytes.
    pub cipher_size: u64,
    pub cipher_hash: Vec<u8>,
    pub expires_at: DateTime<Utc>,
    pub encrypted_properties: Vec<u8>,
}

/// The outcome of a claim (upstream's `ClaimFileOwnershipResult`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim {
    /// The caller becomes the owner and the token is replaced.
    Granted,
    /// 400: the caller already owns the file.
    CannotClaimOwnFile,
    /// 403: claims are locked until the owner regenerates the token.
    Locked,
    /// 403, and the file becomes locked (the owner learns of it).
    IncorrectToken,
}

/// The outcome of `ValidateOwnershipToken`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Validation {
    Valid,
    Invalid,
    /// A stranger guessed wrong: invalid, and the file becomes locked.
    InvalidAndLock,
}

/// Metadata of a new file; its content is already in blob storage under `id`.
#[derive(Debug, Clone)]
pub struct NewFile {
    pub id: FileId,
    pub creator: IdentityAddress,
    pub creator_device: DeviceId,
    pub owner_signature: Vec<u8>,
    pub cipher_hash: Vec<u8>,
    pub cipher_size: u64,
    pub expires_at: DateTime<Utc>,
    pub encrypted_properties: Vec<u8>,
}

impl File {
    pub fn new(new: NewFile, now: DateTime<Utc>) -> Self {
        Self {
            id: new.id,
            created_at: now,
            owner: new.creator.clone(),
            created_by: new.creator,
            created_by_device: new.creator_device,
            owner_signature: new.owner_signature,
            ownership_token: generate_ownership_token(),
            ownership_is_locked: false,
            last_ownership_claim_at: None,
            cipher_size: new.cipher_size,
            cipher_hash: new.cipher_hash,
            expires_at: new.expires_at,
            encrypted_properties: new.encrypted_properties,
        }
    }

    /// Expired files are invisible to everyone (`expiresAt <= now`).
    pub fn is_expired_at(&self, now: DateTime<Utc>) -> bool {
        self.expires_at <= now
    }

    /// Only the creator deletes, even after the ownership moved on.
    pub fn may_be_deleted_by(&self, caller: &IdentityAddress) -> bool {
        &self.created_by == caller
    }

    /// Only the current owner regenerates the token.
    pub fn may_regenerate_token(&self, caller: &IdentityAddress) -> bool {
        &self.owner == caller
    }

    pub fn check_claim(&self, caller: &IdentityAddress, token: &str) -> Claim {
        if &self.owner == caller {
            Claim::CannotClaimOwnFile
        } else if self.ownership_is_locked {
            Claim::Locked
        } else if self.ownership_token != token {
            Claim::IncorrectToken
        } else {
            Claim::Granted
        }
    }

    pub fn check_token(&self, caller: &IdentityAddress, token: &str) -> Validation {
        if self.ownership_is_locked {
            Validation::Invalid
        } else if self.ownership_token == token {
            Validation::Valid
        } else if &self.owner == caller {
            Validation::Invalid
        } else {
            Validation::InvalidAndLock
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    fn address(seed: u8) -> IdentityAddress {
        IdentityAddress::derive(&[seed; 32], "localhost")
    }

    fn now() -> DateTime<Utc> {
        backbone_core::encoding::from_millis(1_700_000_000_000)
    }

    fn file(creator: u8) -> File {
        File::new(
            NewFile {
                id: FileId::generate(),
                creator: address(creator),
                creator_device: DeviceId::generate(),
                owner_signature: vec![1],
                cipher_hash: vec![2],
                cipher_size: 3,
                expires_at: now() + Duration::hours(1),
                encrypted_properties: vec![],
            },
            now(),
        )
    }

    #[test]
    fn generated_tokens_are_valid_and_differ() {
        let token = generate_ownership_token();
        assert_eq!(token.len(), OWNERSHIP_TOKEN_LENGTH);
        assert!(is_valid_ownership_token(&token));
        assert_ne!(token, generate_ownership_token());
    }

    #[test]
    fn presented_tokens_are_checked_for_length_and_alphabet() {
        assert!(is_valid_ownership_token("a"));
        assert!(is_valid_ownership_token("!@#$%^&*()_-+=<>?/{}"));
        assert!(is_valid_ownership_token("[]|~"));
        assert!(!is_valid_ownership_token(""));
        assert!(!is_valid_ownership_token(&"a".repeat(21)));
        for bad in ["a b", "a.b", "a,b", "ä", "a\"", "a\\", "a:b", "a;b", "a'b", "a`b"] {
            assert!(!is_valid_ownership_token(bad), "{bad}");
        }
    }

    #[test]
    fn a_new_file_is_owned_by_its_creator_and_unlocked() {
        let f = file(1);
        assert_eq!(f.owner, f.created_by);
        assert!(!f.ownership_is_locked);
        assert_eq!(f.last_ownership_claim_at, None);
        assert!(!f.is_expired_at(now()));
        assert!(f.is_expired_at(f.expires_at), "expiry is inclusive");
    }

    #[test]
    fn claims_follow_upstream_order() {
        let mut f = file(1);
        let token = f.ownership_token.clone();
        assert_eq!(f.check_claim(&address(1), &token), Claim::CannotClaimOwnFile);
        assert_eq!(f.check_claim(&address(2), "wrong"), Claim::IncorrectToken);
        assert_eq!(f.check_claim(&address(2), &token), Claim::Granted);
        f.ownership_is_locked = true;
        assert_eq!(f.check_claim(&address(2), &token), Claim::Locked);
        assert_eq!(
            f.check_claim(&address(1), &token),
            Claim::CannotClaimOwnFile,
            "the owner is told first"
        );
    }

    #[test]
    fn validation_locks_only_for_strangers() {
        let mut f = file(1);
        let token = f.ownership_token.clone();
        assert_eq!(f.check_token(&address(1), &token), Validation::Valid);
        assert_eq!(f.check_token(&address(2), &token), Validation::Valid);
        assert_eq!(f.check_token(&address(1), "wrong"), Validation::Invalid);
        assert_eq!(f.check_token(&address(2), "wrong"), Validation::InvalidAndLock);
        f.ownership_is_locked = true;
        assert_eq!(f.check_token(&address(1), &token), Validation::Invalid);
        assert_eq!(f.check_token(&address(2), "wrong"), Validation::Invalid);
    }

    #[test]
    fn deletion_and_regeneration_rights_differ_after_a_claim() {
        let mut f = file(1);
        f.owner = address(2);
        assert!(f.may_be_deleted_by(&address(1)));
        assert!(!f.may_be_deleted_by(&address(2)));
        assert!(f.may_regenerate_token(&address(2)));
        assert!(!f.may_regenerate_token(&address(1)));
    }
}
