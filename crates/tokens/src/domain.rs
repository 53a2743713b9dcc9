//! A token and the rules deciding who may read or fill it (spec §6.1, §6.3, §6.6).

use backbone_core::ids::{DeviceId, TokenId};
use backbone_core::IdentityAddress;
use chrono::{DateTime, Duration, Utc};

/// Wrong passwords after which a token is locked for good.
pub const MAX_FAILED_ACCESS_ATTEMPTS: i64 = 100;
/// Passwords are 1..=200 bytes.
pub const MAX_PASSWORD_LENGTH: usize = 200;
/// Contents are at most 10 MiB.
pub const MAX_CONTENT_LENGTH: usize = 10 * 1024 * 1024;
/// Anonymously created tokens must expire within this time (device onboarding).
pub const MAX_ANONYMOUS_LIFETIME: Duration = Duration::minutes(5);

#[derive(Debug, Clone, PartialEq)]
pub struct Token {
    pub id: TokenId,
    /// `None` for tokens created anonymously (until someone fills them).
    pub created_by: Option<IdentityAddress>,
    pub created_by_device: Option<DeviceId>,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    /// Only this identity (and the creator) may read the token.
    pub for_identity: Option<IdentityAddress>,
    pub password: Option<Vec<u8>>,
    /// `None` for an empty token, which can be filled once via `UpdateContent`.
    pub content: Option<Vec<u8>>,
    pub access_failed_count: i64,
}

/// Why a request may not read or fill a token. The service maps these to responses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    Expired,
    Locked,
    ForIdentityDoesNotMatch,
    /// Counts as a failed attempt (which may lock the token).
    WrongPassword,
    ContentAlreadyExists,
}

/// A successful read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Read {
    /// Nothing to record.
    Granted,
    /// The caller reads the token for the first time: record an allocation.
    GrantedWithAllocation,
}

impl Token {
    pub fn new(
        creator: Option<(IdentityAddress, DeviceId)>,
        content: Option<Vec<u8>>,
        expires_at: DateTime<Utc>,
        for_identity: Option<IdentityAddress>,
        password: Option<Vec<u8>>,
        now: DateTime<Utc>,
    ) -> Self {
        let (created_by, created_by_device) = creator.unzip();
        Self {
            id: TokenId::generate(),
            created_by,
            created_by_device,
            created_at: now,
            expires_at,
            for_identity,
            password,
            content,
            access_failed_count: 0,
        }
    }

    pub fn is_locked(&self) -> bool {
        is_locking_count(self.access_failed_count)
    }

    pub fn is_expired_at(&self, now: DateTime<Utc>) -> bool {
        self.expires_at < now
    }

    pub fn is_password_protected(&self) -> bool {
        self.password.as_ref().is_some_and(|p| !p.is_empty())
    }

    /// The creator (both `None` for an anonymous caller and an anonymous token).
    fn is_created_by(&self, caller: Option<&IdentityAddress>) -> bool {
        self.created_by.as_ref() == caller
    }

    fn for_identity_allows(&self, caller: Option<&IdentityAddress>) -> bool {
        self.is_created_by(caller)
            || self.for_identity.is_none()
            || (caller.is_some() && self.for_identity.as_ref() == caller)
    }

    fn password_matches(&self, given: Option<&[u8]>) -> bool {
        match &self.password {
            None => true,
            Some(expected) => given == Some(expected.as_slice()),
        }
    }

    /// §6.3: may `caller` (`None` = anonymous) read the token? The first matching rule wins:
    ///
    /// 1. the creator (an anonymous caller "created" an anonymous token) → granted;
    /// 2. an identity with an allocation → granted;
    /// 3. expired → refused;
    /// 4. locked → refused;
    /// 5. `forIdentity` set to someone else → refused;
    /// 6. wrong or missing password → refused (and counted);
    /// 7. anonymous → granted;
    /// 8. authenticated → granted, recording an allocation.
    pub fn check_read(
        &self,
        caller: Option<&IdentityAddress>,
        has_allocation: bool,
        password: Option<&[u8]>,
        now: DateTime<Utc>,
    ) -> Result<Read, Refusal> {
        if self.is_created_by(caller) {
            return Ok(Read::Granted);
        }
        if caller.is_some() && has_allocation {
            return Ok(Read::Granted);
        }
        self.check_common(caller, password, now)?;
        match caller {
            None => Ok(Read::Granted),
            Some(_) => Ok(Read::GrantedWithAllocation),
        }
    }

    /// §6.6: may `caller` fill the token? Expiry, lock, `forIdentity` and password as for
    /// reading (the creator is not exempt from the password), then it must still be empty.
    pub fn check_content_update(
        &self,
        caller: &IdentityAddress,
        password: Option<&[u8]>,
        now: DateTime<Utc>,
    ) -> Result<(), Refusal> {
        self.check_common(Some(caller), password, now)?;
        if self.content.is_some() {
            return Err(Refusal::ContentAlreadyExists);
        }
        Ok(())
    }

    fn check_common(
        &self,
        caller: Option<&IdentityAddress>,
        password: Option<&[u8]>,
        now: DateTime<Utc>,
    ) -> Result<(), Refusal> {
        if self.is_expired_at(now) {
            return Err(Refusal::Expired);
        }
        if self.is_locked() {
            return Err(Refusal::Locked);
        }
        if !self.for_identity_allows(caller) {
            return Err(Refusal::ForIdentityDoesNotMatch);
        }
        if !self.password_matches(password) {
            return Err(Refusal::WrongPassword);
        }
        Ok(())
    }
}

/// Whether a token with this many failed attempts is locked.
pub fn is_locking_count(access_failed_count: i64) -> bool {
    access_failed_count >= MAX_FAILED_ACCESS_ATTEMPTS
}

#[cfg(test)]
mod tests {
    use super::*;

    fn address(seed: u8) -> IdentityAddress {
        IdentityAddress::derive(&[seed; 32], "localhost")
    }

    fn now() -> DateTime<Utc> {
        backbone_core::encoding::from_millis(1_700_000_000_000)
    }

    fn token(creator: Option<u8>) -> Token {
        Token::new(
            creator.map(|seed| (address(seed), DeviceId::generate())),
            Some(vec![1, 2, 3]),
            now() + Duration::hours(1),
            None,
            None,
            now(),
        )
    }

    fn read(
        token: &Token,
        caller: Option<u8>,
        allocated: bool,
        password: Option<&[u8]>,
    ) -> Result<Read, Refusal> {
        token.check_read(caller.map(address).as_ref(), allocated, password, now())
    }

    #[test]
    fn rule_1_the_creator_always_reads_even_anonymous_tokens_anonymously() {
        let mut own = token(Some(1));
        own.expires_at = now() - Duration::hours(1);
        own.access_failed_count = MAX_FAILED_ACCESS_ATTEMPTS;
        own.for_identity = Some(address(2));
        own.password = Some(b"secret".to_vec());
        assert_eq!(read(&own, Some(1), false, None), Ok(Read::Granted));

        let mut anonymous = token(None);
        anonymous.password = Some(b"secret".to_vec());
        assert_eq!(read(&anonymous, None, false, None), Ok(Read::Granted));
    }

    #[test]
    fn rule_2_an_allocation_grants_access_without_further_checks() {
        let mut t = token(Some(1));
        t.expires_at = now() - Duration::seconds(1);
        t.password = Some(b"secret".to_vec());
        assert_eq!(read(&t, Some(2), true, None), Ok(Read::Granted));
        assert_eq!(
            read(&t, None, true, None),
            Err(Refusal::Expired),
            "anonymous callers have no allocations"
        );
    }

    #[test]
    fn rule_3_expired_tokens_are_refused() {
        let mut t = token(Some(1));
        t.expires_at = now() - Duration::milliseconds(1);
        t.access_failed_count = MAX_FAILED_ACCESS_ATTEMPTS;
        assert_eq!(read(&t, Some(2), false, None), Err(Refusal::Expired));
        assert_eq!(read(&t, None, false, None), Err(Refusal::Expired));
        t.expires_at = now();
        assert_ne!(
            read(&t, Some(2), false, None),
            Err(Refusal::Expired),
            "expiry is strict"
        );
    }

    #[test]
    fn rule_4_locked_tokens_are_refused() {
        let mut t = token(Some(1));
        t.for_identity = Some(address(3));
        t.access_failed_count = MAX_FAILED_ACCESS_ATTEMPTS - 1;
        assert!(!t.is_locked());
        t.access_failed_count = MAX_FAILED_ACCESS_ATTEMPTS;
        assert!(t.is_locked());
        assert_eq!(read(&t, Some(2), false, None), Err(Refusal::Locked));
        assert_eq!(read(&t, None, false, None), Err(Refusal::Locked));
    }

    #[test]
    fn rule_5_personalised_tokens_are_refused_to_others() {
        let mut t = token(Some(1));
        t.for_identity = Some(address(2));
        t.password = Some(b"secret".to_vec());
        assert_eq!(
            read(&t, Some(3), false, Some(b"secret")),
            Err(Refusal::ForIdentityDoesNotMatch)
        );
        assert_eq!(
            read(&t, None, false, Some(b"secret")),
            Err(Refusal::ForIdentityDoesNotMatch)
        );
        assert_eq!(
            read(&t, Some(2), false, Some(b"secret")),
            Ok(Read::GrantedWithAllocation)
        );
    }

    #[test]
    fn rule_6_a_missing_or_wrong_password_is_refused() {
        let mut t = token(Some(1));
        t.password = Some(b"secret".to_vec());
        assert_eq!(read(&t, Some(2), false, None), Err(Refusal::WrongPassword));
        assert_eq!(
            read(&t, Some(2), false, Some(b"wrong")),
            Err(Refusal::WrongPassword)
        );
        assert_eq!(read(&t, None, false, Some(b"secre")), Err(Refusal::WrongPassword));
        assert!(!is_locking_count(MAX_FAILED_ACCESS_ATTEMPTS - 1));
        assert!(is_locking_count(MAX_FAILED_ACCESS_ATTEMPTS));
    }

    #[test]
    fn rule_7_anonymous_callers_read_without_allocation() {
        let mut t = token(Some(1));
        assert_eq!(read(&t, None, false, None), Ok(Read::Granted));
        t.password = Some(b"secret".to_vec());
        assert_eq!(read(&t, None, false, Some(b"secret")), Ok(Read::Granted));
        // A password on a token without one is ignored.
        t.password = None;
        assert_eq!(read(&t, None, false, Some(b"extra")), Ok(Read::Granted));
    }

    #[test]
    fn rule_8_authenticated_callers_are_allocated() {
        let mut t = token(Some(1));
        assert_eq!(read(&t, Some(2), false, None), Ok(Read::GrantedWithAllocation));
        t.password = Some(b"secret".to_vec());
        assert_eq!(
            read(&t, Some(2), false, Some(b"secret")),
            Ok(Read::GrantedWithAllocation)
        );
        // An anonymous token read by an identity (not its creator).
        let anonymous = token(None);
        assert_eq!(
            read(&anonymous, Some(2), false, None),
            Ok(Read::GrantedWithAllocation)
        );
    }

    #[test]
    fn content_update_checks_in_upstream_order() {
        let filler = address(2);
        let mut t = token(None);
        t.content = None;
        t.password = Some(b"secret".to_vec());
        t.for_identity = Some(filler.clone());
        let update = |t: &Token, caller: &IdentityAddress, password: Option<&[u8]>| {
            t.check_content_update(caller, password, now())
        };
        assert_eq!(update(&t, &filler, Some(b"secret")), Ok(()));
        assert_eq!(update(&t, &filler, None), Err(Refusal::WrongPassword));
        assert_eq!(
            update(&t, &address(3), Some(b"secret")),
            Err(Refusal::ForIdentityDoesNotMatch)
        );
        t.access_failed_count = MAX_FAILED_ACCESS_ATTEMPTS;
        assert_eq!(update(&t, &address(3), None), Err(Refusal::Locked));
        t.expires_at = now() - Duration::seconds(1);
        assert_eq!(update(&t, &address(3), None), Err(Refusal::Expired));

        let mut protected = token(Some(1));
        protected.password = Some(b"secret".to_vec());
        assert_eq!(
            update(&protected, &address(1), None),
            Err(Refusal::WrongPassword),
            "the creator is not exempt from the password"
        );
        assert_eq!(
            update(&protected, &address(1), Some(b"secret")),
            Err(Refusal::ContentAlreadyExists)
        );
    }

    #[test]
    fn password_protection_means_a_non_empty_password() {
        let mut t = token(None);
        assert!(!t.is_password_protected());
        t.password = Some(Vec::new());
        assert!(!t.is_password_protected());
        t.password = Some(vec![0]);
        assert!(t.is_password_protected());
    }
}
