//! Domain events this module raises. Payload names follow upstream's bus contract (PascalCase).

use backbone_core::events::DomainEvent;
use serde::Serialize;

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct TokenEvent<'a> {
    token_id: &'a str,
    /// `null` for anonymously created tokens.
    created_by: Option<&'a str>,
}

/// Lets the quota module recount the creator's tokens (skipped when `created_by` is null).
pub fn token_created(token_id: &str, created_by: Option<&str>) -> DomainEvent {
    DomainEvent::new("TokenCreated", &TokenEvent { token_id, created_by })
}

/// The token reached the failed-attempt limit: its creator gets an external event and a push.
pub fn token_locked(token_id: &str, created_by: Option<&str>) -> DomainEvent {
    DomainEvent::new("TokenLocked", &TokenEvent { token_id, created_by })
}

#[cfg(test)]
mod tests {
    #[test]
    fn payloads_are_pascal_case_and_keep_null_creators() {
        let event = super::token_locked("TOKaaaaaaaaaaaaaaaaa", None);
        assert_eq!(event.event_type, "TokenLocked");
        assert_eq!(
            event.payload,
            serde_json::json!({ "TokenId": "TOKaaaaaaaaaaaaaaaaa", "CreatedBy": null })
        );
        let event = super::token_created("TOKaaaaaaaaaaaaaaaaa", Some("did:e:x:dids:1"));
        assert_eq!(event.event_type, "TokenCreated");
        assert_eq!(event.payload["CreatedBy"], "did:e:x:dids:1");
    }
}
