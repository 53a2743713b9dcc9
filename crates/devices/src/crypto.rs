//! Cryptography of the Devices module.
//!
//! - Signed challenges (spec §3.1): an `@nmshd/crypto` `CryptoSignature` JSON, base64-encoded,
//!   whose `sig` is a raw Ed25519 signature over the UTF-8 bytes of the challenge text as sent.
//! - Public keys (spec §3.2): a `CryptoSignaturePublicKey` JSON whose `pub` is the raw 32-byte key.
//! - Device passwords and client secrets are stored as Argon2id hashes. Client secrets hashed
//!   by upstream's OpenIddict (PBKDF2 format) are verified too, so migrated clients keep working.

use argon2::password_hash::{PasswordHash, SaltString};
use argon2::Argon2;
use backbone_core::encoding::decode_bytes;
use base64::Engine;
use ed25519_dalek::{Signature, Verifier, VerifyingKey};
use serde::Deserialize;

#[derive(Deserialize)]
struct CryptoSignature {
    sig: String,
}

#[derive(Deserialize)]
struct CryptoSignaturePublicKey {
    #[serde(rename = "pub")]
    public: String,
}

/// The raw Ed25519 key inside the JSON-wrapped public key bytes.
pub fn raw_public_key(wrapped: &[u8]) -> Option<[u8; 32]> {
    let key: CryptoSignaturePublicKey = serde_json::from_slice(wrapped).ok()?;
    decode_bytes(&key.public)?.try_into().ok()
}

/// Verifies the base64 `CryptoSignature` over the exact challenge text.
pub fn verify_challenge_signature(raw_public_key: &[u8; 32], challenge: &str, signature: &str) -> bool {
    let Some(signature) = decode_bytes(signature)
        .and_then(|json| serde_json::from_slice::<CryptoSignature>(&json).ok())
        .and_then(|s| decode_bytes(&s.sig))
        .and_then(|raw| <[u8; 64]>::try_from(raw).ok())
    else {
        return false;
    };
    let Ok(key) = VerifyingKey::from_bytes(raw_public_key) else {
        return false;
    };
    key.verify(challenge.as_bytes(), &Signature::from_bytes(&signature))
        .is_ok()
}

/// The fields of the signed challenge text the server reads.
#[derive(Debug, Deserialize)]
pub struct ChallengeText {
    pub id: String,
    #[serde(rename = "expiresAt")]
    pub expires_at: String,
}

/// Parses the challenge text leniently (property names in any case).
pub fn parse_challenge_text(challenge: &str) -> Option<ChallengeText> {
    let value: serde_json::Value = serde_json::from_str(challenge).ok()?;
    let object = value.as_object()?;
    let field = |name: &str| {
        object
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .and_then(|(_, v)| v.as_str().map(str::to_owned))
    };
    Some(ChallengeText {
        id: field("id")?,
        expires_at: field("expiresAt")?,
    })
}

thread_local! {
    /// Argon2's working memory (~19 MiB), kept per thread and reused: allocating and freeing
    /// it per call made glibc keep ever more of it resident.
    static ARGON2_MEMORY: std::cell::RefCell<Vec<argon2::Block>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Computes the raw Argon2 output with the given parameters in this thread's memory block.
fn argon2_raw(
    algorithm: argon2::Algorithm,
    params: argon2::Params,
    secret: &[u8],
    salt: &[u8],
    output: &mut [u8],
) -> Result<(), argon2::Error> {
    let blocks = params.block_count();
    let hasher = Argon2::new(algorithm, argon2::Version::V0x13, params);
    ARGON2_MEMORY.with(|memory| {
        let mut memory = memory.borrow_mut();
        if memory.len() < blocks {
            memory.resize(blocks, argon2::Block::default());
        }
        hasher.hash_password_into_with_memory(secret, salt, output, &mut memory[..blocks])
    })
}

/// Hashes a password or secret with Argon2id (default parameters) into a PHC string.
/// CPU-heavy: call from a blocking task.
pub fn hash_secret(secret: &str) -> anyhow::Result<String> {
    let salt = SaltString::generate(&mut rand::rngs::OsRng);
    let mut salt_bytes = [0u8; 64];
    let salt_bytes = salt
        .decode_b64(&mut salt_bytes)
        .map_err(|e| anyhow::anyhow!("salt: {e}"))?;
    let params = argon2::Params::default();
    let mut output = [0u8; argon2::Params::DEFAULT_OUTPUT_LEN];
    argon2_raw(
        argon2::Algorithm::Argon2id,
        params.clone(),
        secret.as_bytes(),
        salt_bytes,
        &mut output,
    )
    .map_err(|e| anyhow::anyhow!("hashing failed: {e}"))?;
    let output = argon2::password_hash::Output::new(&output).map_err(|e| anyhow::anyhow!("output: {e}"))?;
    let hash = PasswordHash {
        algorithm: argon2::Algorithm::Argon2id.ident(),
        version: Some(argon2::Version::V0x13.into()),
        params: params.try_into().map_err(|e| anyhow::anyhow!("params: {e}"))?,
        salt: Some(salt.as_salt()),
        hash: Some(output),
    };
    Ok(hash.to_string())
}

/// Checks a password or secret against a stored hash (Argon2 or OpenIddict PBKDF2).
pub fn verify_secret(secret: &str, stored: &str) -> bool {
    if stored.starts_with('$') {
        return PasswordHash::new(stored).is_ok_and(|hash| verify_argon2(secret, &hash));
    }
    verify_openiddict_hash(secret, stored)
}

fn verify_argon2(secret: &str, hash: &PasswordHash<'_>) -> bool {
    let (Ok(algorithm), Ok(params), Some(salt), Some(expected)) = (
        argon2::Algorithm::try_from(hash.algorithm),
        argon2::Params::try_from(hash),
        hash.salt,
        hash.hash,
    ) else {
        return false;
    };
    let mut salt_bytes = [0u8; 64];
    let Ok(salt_bytes) = salt.decode_b64(&mut salt_bytes) else {
        return false;
    };
    let mut actual = vec![0u8; expected.len()];
    argon2_raw(algorithm, params, secret.as_bytes(), salt_bytes, &mut actual).is_ok()
        && constant_time_eq(&actual, expected.as_bytes())
}

/// OpenIddict's format: base64 of `0x01 | prf (u32 BE) | iterations (u32 BE) | salt length
/// (u32 BE) | salt | subkey`, with prf 1 = HMAC-SHA256, 2 = HMAC-SHA512.
fn verify_openiddict_hash(secret: &str, stored: &str) -> bool {
    let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(stored) else {
        return false;
    };
    let read_u32 = |at: usize| {
        bytes
            .get(at..at + 4)
            .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    };
    let (Some(&1), Some(prf), Some(iterations), Some(salt_length)) =
        (bytes.first(), read_u32(1), read_u32(5), read_u32(9))
    else {
        return false;
    };
    let salt_end = 13 + salt_length as usize;
    let (Some(salt), Some(expected)) = (bytes.get(13..salt_end), bytes.get(salt_end..)) else {
        return false;
    };
    if expected.is_empty() || iterations == 0 {
        return false;
    }
    let mut actual = vec![0u8; expected.len()];
    match prf {
        1 => pbkdf2::pbkdf2_hmac::<sha2::Sha256>(secret.as_bytes(), salt, iterations, &mut actual),
        2 => pbkdf2::pbkdf2_hmac::<sha2::Sha512>(secret.as_bytes(), salt, iterations, &mut actual),
        // 0 (HMAC-SHA1) is a legacy ASP.NET format OpenIddict never wrote; refuse it.
        _ => return false,
    }
    constant_time_eq(&actual, expected)
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use backbone_core::encoding::encode_bytes;
    use ed25519_dalek::{Signer, SigningKey};

    fn wrap_signature(signature: &[u8]) -> String {
        let json = format!(
            r#"{{"sig":"{}","alg":2,"@type":"CryptoSignature"}}"#,
            encode_bytes(signature)
        );
        encode_bytes(json.as_bytes())
    }

    #[test]
    fn signatures_over_the_exact_text_verify() {
        let key = SigningKey::from_bytes(&[9; 32]);
        let text =
            r#"{"id":"CHLaaaaaaaaaaaaaaaaa","expiresAt":"2030-01-01T00:00:00.000Z","type":"Identity"}"#;
        let signature = wrap_signature(&key.sign(text.as_bytes()).to_bytes());
        let public = key.verifying_key().to_bytes();
        assert!(verify_challenge_signature(&public, text, &signature));
        assert!(!verify_challenge_signature(
            &public,
            &text.replace("Identity", "Device"),
            &signature
        ));
        assert!(!verify_challenge_signature(&public, text, "bm90IGpzb24"));
    }

    #[test]
    fn public_keys_are_unwrapped() {
        let json = format!(r#"{{"pub":"{}","alg":3}}"#, encode_bytes(&[5; 32]));
        assert_eq!(raw_public_key(json.as_bytes()), Some([5; 32]));
        assert_eq!(raw_public_key(b"{}"), None);
        let short = format!(r#"{{"pub":"{}"}}"#, encode_bytes(&[5; 31]));
        assert_eq!(raw_public_key(short.as_bytes()), None);
    }

    #[test]
    fn argon2_hashes_verify() {
        let hash = hash_secret("secret").unwrap();
        assert!(hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{hash}");
        assert!(verify_secret("secret", &hash));
        assert!(!verify_secret("Secret", &hash));
    }

    #[test]
    fn hashes_of_the_argon2_crate_itself_verify() {
        use argon2::password_hash::PasswordHasher;
        let salt = SaltString::generate(&mut rand::rngs::OsRng);
        let reference = Argon2::default()
            .hash_password(b"secret", &salt)
            .unwrap()
            .to_string();
        assert!(verify_secret("secret", &reference));
        assert!(!verify_secret("other", &reference));
    }

    #[test]
    fn openiddict_pbkdf2_hashes_verify() {
        let salt = [3u8; 16];
        let mut subkey = [0u8; 32];
        pbkdf2::pbkdf2_hmac::<sha2::Sha256>(b"test", &salt, 10_000, &mut subkey);
        let mut bytes = vec![1u8];
        bytes.extend(1u32.to_be_bytes());
        bytes.extend(10_000u32.to_be_bytes());
        bytes.extend(16u32.to_be_bytes());
        bytes.extend(salt);
        bytes.extend(subkey);
        let stored = base64::engine::general_purpose::STANDARD.encode(bytes);
        assert!(verify_secret("test", &stored));
        assert!(!verify_secret("tesT", &stored));
        assert!(!verify_secret("test", "AQ=="));
    }

    #[test]
    fn challenge_text_fields_match_case_insensitively() {
        let text = parse_challenge_text(r#"{"Id":"CHLx","ExpiresAt":"2030-01-01T00:00:00Z"}"#).unwrap();
        assert_eq!(text.id, "CHLx");
        assert!(parse_challenge_text(r#"{"id":"CHLx"}"#).is_none());
    }
}
