//! Identity addresses: `did:e:<domain>:dids:<20 hex><2 hex checksum>`, derived bit-exactly as
//! the official client derives them (spec consumer-api-identity §5.2).

use sha2::{Digest, Sha256, Sha512};

const MAX_LENGTH: usize = 80;

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(transparent)]
pub struct IdentityAddress(String);

impl IdentityAddress {
    /// Derives the address of the raw 32-byte Ed25519 public key for the given DID domain.
    pub fn derive(raw_public_key: &[u8], did_domain_name: &str) -> Self {
        let hash = Sha256::digest(Sha512::digest(raw_public_key));
        let main = format!("did:e:{did_domain_name}:dids:{}", hex::encode(&hash[..10]));
        let checksum = hex::encode(&Sha256::digest(main.as_bytes())[..1]);
        Self(format!("{main}{checksum}").to_lowercase())
    }

    /// The address that replaces a deleted identity's address where its data must survive.
    pub fn anonymous(did_domain_name: &str) -> Self {
        let utf16le: Vec<u8> = "deleted identity"
            .encode_utf16()
            .flat_map(u16::to_le_bytes)
            .collect();
        Self::derive(&utf16le, did_domain_name)
    }

    /// Validates the format and the checksum.
    pub fn parse(value: &str) -> Option<Self> {
        if value.len() > MAX_LENGTH {
            return None;
        }
        let rest = value.strip_prefix("did:e:")?;
        let (domain, specific) = rest.rsplit_once(":dids:")?;
        if !is_valid_domain(domain)
            || specific.len() != 22
            || !specific
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            return None;
        }
        let (without_checksum, checksum) = value.split_at(value.len() - 2);
        let expected = hex::encode(&Sha256::digest(without_checksum.as_bytes())[..1]);
        (checksum == expected).then(|| Self(value.to_owned()))
    }

    pub fn from_trusted(value: String) -> Self {
        Self(value)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// `(?:[a-z0-9-]+\.)*[a-z]{2,}`
fn is_valid_domain(domain: &str) -> bool {
    let mut labels: Vec<&str> = domain.split('.').collect();
    let Some(top) = labels.pop() else { return false };
    top.len() >= 2
        && top.bytes().all(|b| b.is_ascii_lowercase())
        && labels.iter().all(|l| {
            !l.is_empty()
                && l.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        })
}

/// Validates like [`IdentityAddress::parse`]: an address read from an event or another
/// module's answer that is not one is an error where it is read, not somewhere later.
impl<'de> serde::Deserialize<'de> for IdentityAddress {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = String::deserialize(deserializer)?;
        Self::parse(&value)
            .ok_or_else(|| serde::de::Error::custom(format!("invalid identity address: {value}")))
    }
}

impl std::fmt::Display for IdentityAddress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derived_addresses_parse_and_have_the_documented_shape() {
        let address = IdentityAddress::derive(&[7u8; 32], "localhost");
        assert!(address.as_str().starts_with("did:e:localhost:dids:"));
        assert_eq!(address.as_str().len(), "did:e:localhost:dids:".len() + 22);
        assert_eq!(IdentityAddress::parse(address.as_str()), Some(address));
    }

    #[test]
    fn derivation_matches_a_hand_computed_value() {
        // sha256(sha512(32 zero bytes))[..10], then sha256 of the string for the checksum.
        let hash = Sha256::digest(Sha512::digest([0u8; 32]));
        let main = format!("did:e:example.org:dids:{}", hex::encode(&hash[..10]));
        let checksum = hex::encode(&Sha256::digest(main.as_bytes())[..1]);
        assert_eq!(
            IdentityAddress::derive(&[0u8; 32], "example.org").as_str(),
            format!("{main}{checksum}")
        );
    }

    #[test]
    fn wrong_checksum_domain_or_length_is_rejected() {
        let valid = IdentityAddress::derive(&[1u8; 32], "localhost")
            .as_str()
            .to_owned();
        let mut broken = valid.clone();
        let last = broken.pop().unwrap();
        broken.push(if last == '0' { '1' } else { '0' });
        assert!(IdentityAddress::parse(&broken).is_none());
        assert!(IdentityAddress::parse(&valid.replace("localhost", "LOCALHOST")).is_none());
        assert!(IdentityAddress::parse("did:e:localhost:dids:abc").is_none());
        assert!(IdentityAddress::parse(&format!("{valid}0")).is_none());
    }
}
