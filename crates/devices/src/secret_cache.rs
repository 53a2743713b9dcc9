//! Remembers client secrets that were already verified, so that the token endpoint and identity
//! creation pay for one Argon2 verification (the device password) instead of two.
//!
//! Only a SHA-256 digest of the secret is kept, together with the stored hash it was checked
//! against: changing or deleting the client changes the stored hash and invalidates the entry.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use sha2::{Digest, Sha256};

/// At most this many clients are remembered; platforms have a handful.
const CAPACITY: usize = 1024;

#[derive(Debug, Default)]
pub struct VerifiedSecrets {
    entries: Mutex<HashMap<String, (String, [u8; 32])>>,
}

impl VerifiedSecrets {
    pub fn is_known(&self, client_id: &str, stored_hash: &str, secret: &str) -> bool {
        let entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        entries
            .get(client_id)
            .is_some_and(|(hash, digest)| hash == stored_hash && *digest == digest_of(secret))
    }

    pub fn remember(&self, client_id: &str, stored_hash: &str, secret: &str) {
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        if entries.len() >= CAPACITY {
            entries.clear();
        }
        entries.insert(client_id.to_owned(), (stored_hash.to_owned(), digest_of(secret)));
    }
}

fn digest_of(secret: &str) -> [u8; 32] {
    Sha256::digest(secret.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_match_only_the_same_secret_and_stored_hash() {
        let cache = VerifiedSecrets::default();
        cache.remember("app", "$argon2id$one", "secret");
        assert!(cache.is_known("app", "$argon2id$one", "secret"));
        assert!(!cache.is_known("app", "$argon2id$one", "other"));
        assert!(
            !cache.is_known("app", "$argon2id$two", "secret"),
            "a changed secret hash invalidates"
        );
        assert!(!cache.is_known("other", "$argon2id$one", "secret"));
    }
}
