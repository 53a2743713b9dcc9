//! Domain events this module raises. Payload names follow upstream's bus contract (PascalCase).

use backbone_core::events::DomainEvent;
use serde::Serialize;

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct Uploaded<'a> {
    file_id: &'a str,
    owner: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct OwnershipLocked<'a> {
    file_id: &'a str,
    owner_address: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct OwnershipClaimed<'a> {
    file_id: &'a str,
    old_owner_address: &'a str,
    new_owner_address: &'a str,
}

/// Lets the quota module recount the owner's files and storage.
pub fn file_uploaded(file_id: &str, owner: &str) -> DomainEvent {
    DomainEvent::new("FileUploaded", &Uploaded { file_id, owner })
}

/// A wrong ownership token locked the file: its owner gets an external event.
pub fn file_ownership_locked(file_id: &str, owner_address: &str) -> DomainEvent {
    DomainEvent::new(
        "FileOwnershipLocked",
        &OwnershipLocked {
            file_id,
            owner_address,
        },
    )
}

/// Someone claimed the file: the previous owner gets an external event.
pub fn file_ownership_claimed(
    file_id: &str,
    old_owner_address: &str,
    new_owner_address: &str,
) -> DomainEvent {
    DomainEvent::new(
        "FileOwnershipClaimed",
        &OwnershipClaimed {
            file_id,
            old_owner_address,
            new_owner_address,
        },
    )
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    #[test]
    fn payloads_are_pascal_case() {
        let event = super::file_uploaded("FILa", "did:e:x:dids:1");
        assert_eq!(event.event_type, "FileUploaded");
        assert_eq!(
            event.payload,
            json!({ "FileId": "FILa", "Owner": "did:e:x:dids:1" })
        );

        let event = super::file_ownership_locked("FILa", "did:e:x:dids:1");
        assert_eq!(event.event_type, "FileOwnershipLocked");
        assert_eq!(
            event.payload,
            json!({ "FileId": "FILa", "OwnerAddress": "did:e:x:dids:1" })
        );

        let event = super::file_ownership_claimed("FILa", "did:e:x:dids:1", "did:e:x:dids:2");
        assert_eq!(event.event_type, "FileOwnershipClaimed");
        assert_eq!(
            event.payload,
            json!({ "FileId": "FILa", "OldOwnerAddress": "did:e:x:dids:1", "NewOwnerAddress": "did:e:x:dids:2" })
        );
    }
}
