//! Domain events this module raises. Payload names follow upstream's bus contract (PascalCase).

use backbone_core::events::DomainEvent;
use serde::Serialize;

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct IdentityCreated<'a> {
    address: &'a str,
    tier: &'a str,
}

pub fn identity_created(address: &str, tier: &str) -> DomainEvent {
    DomainEvent::new("IdentityCreated", &IdentityCreated { address, tier })
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct BackupDeviceUsed<'a> {
    identity_address: &'a str,
}

pub fn backup_device_used(identity_address: &str) -> DomainEvent {
    DomainEvent::new("BackupDeviceUsed", &BackupDeviceUsed { identity_address })
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct FeatureFlagsOfIdentityChanged<'a> {
    identity_address: &'a str,
}

pub fn feature_flags_changed(identity_address: &str) -> DomainEvent {
    DomainEvent::new(
        "FeatureFlagsOfIdentityChanged",
        &FeatureFlagsOfIdentityChanged { identity_address },
    )
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct TierCreated<'a> {
    id: &'a str,
    name: &'a str,
}

pub fn tier_created(id: &str, name: &str) -> DomainEvent {
    DomainEvent::new("TierCreated", &TierCreated { id, name })
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct TierDeleted<'a> {
    id: &'a str,
}

pub fn tier_deleted(id: &str) -> DomainEvent {
    DomainEvent::new("TierDeleted", &TierDeleted { id })
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct TierOfIdentityChanged<'a> {
    old_tier_id: &'a str,
    new_tier_id: &'a str,
    identity_address: &'a str,
}

pub fn tier_of_identity_changed(old_tier_id: &str, new_tier_id: &str, identity_address: &str) -> DomainEvent {
    DomainEvent::new(
        "TierOfIdentityChanged",
        &TierOfIdentityChanged {
            old_tier_id,
            new_tier_id,
            identity_address,
        },
    )
}
