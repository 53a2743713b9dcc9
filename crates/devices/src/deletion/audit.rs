//! The deletion audit log's hashes: PBKDF2-HMAC-SHA256, 100 000 iterations, 32 bytes, salt =
//! SHA-256 of `enmeshed_identity_deletion_log`, base64 — bit-exact with upstream, so existing
//! audit logs stay readable.

use base64::Engine;
use sha2::{Digest, Sha256};

pub fn hash(value: &str) -> String {
    let salt = Sha256::digest(b"enmeshed_identity_deletion_log");
    let mut output = [0u8; 32];
    pbkdf2::pbkdf2_hmac::<Sha256>(value.trim().as_bytes(), &salt, 100_000, &mut output);
    base64::engine::general_purpose::STANDARD.encode(output)
}

/// [`hash`] of each value, computed off the async worker threads: 100,000 PBKDF2 rounds are
/// tens of milliseconds of CPU each (seconds in a debug build), which would stall every other
/// request scheduled on the same worker.
pub async fn hash_all(values: Vec<String>) -> Vec<String> {
    let hashing = tokio::task::spawn_blocking(move || values.iter().map(|v| hash(v)).collect());
    match hashing.await {
        Ok(hashes) => hashes,
        // Hashing does not panic; if it ever did, the caller sees the same panic.
        Err(error) => std::panic::resume_unwind(error.into_panic()),
    }
}

/// Message keys of audit entries.
pub mod keys {
    pub const STARTED_BY_OWNER: &str = "StartedByOwner";
    pub const CANCELLED_BY_OWNER: &str = "CancelledByOwner";
    pub const REMINDER_SENT: [&str; 3] = [
        "GracePeriodReminder1Sent",
        "GracePeriodReminder2Sent",
        "GracePeriodReminder3Sent",
    ];
    pub const DELETION_STARTED: &str = "DeletionStarted";
    pub const DATA_DELETED: &str = "DataDeleted";
    pub const DELETION_COMPLETED: &str = "DeletionCompleted";
    pub const ERROR_DURING_DELETION: &str = "ErrorDuringDeletion";
}

#[cfg(test)]
mod tests {
    #[test]
    fn hashes_are_stable_and_trim_their_input() {
        let hash = super::hash("USRaaaaaaaaaaaaaaaaa");
        assert_eq!(hash.len(), 44);
        assert_eq!(hash, super::hash(" USRaaaaaaaaaaaaaaaaa "));
        assert_ne!(hash, super::hash("USRbbbbbbbbbbbbbbbbb"));
    }
}
