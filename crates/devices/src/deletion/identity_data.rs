//! The last part of the deletion job for one identity: every module deletes what the identity
//! left, in upstream's order, each step recorded in the audit log; then its published events
//! and, last, the identity itself, so that a failed run resumes from its process.

use std::sync::Arc;

use backbone_core::ports::IdentityDataDeleter;
use backbone_core::IdentityAddress;

use crate::DevicesService;

/// Upstream's order of the modules' steps, by the names the audit log gives their data.
pub const DELETION_ORDER: [&str; 8] = [
    "AnnouncementRecipients",
    "Challenges",
    "Files",
    "Messages",
    "QuotaIdentities",
    "Relationships",
    "ExternalEvents",
    "Tokens",
];

/// Deletes an identity's data across the modules.
#[derive(Clone)]
pub struct IdentityDataDeletion {
    devices: DevicesService,
    /// In [`DELETION_ORDER`].
    deleters: Vec<Arc<dyn IdentityDataDeleter>>,
    anonymous: IdentityAddress,
}

impl IdentityDataDeletion {
    /// Fails unless there is exactly one deleter for every step of [`DELETION_ORDER`].
    pub fn new(
        devices: DevicesService,
        deleters: &[Arc<dyn IdentityDataDeleter>],
        anonymous: IdentityAddress,
    ) -> anyhow::Result<Self> {
        let ordered = DELETION_ORDER
            .iter()
            .map(|name| {
                let mut matching = deleters.iter().filter(|d| d.data_name() == *name);
                match (matching.next(), matching.next()) {
                    (Some(deleter), None) => Ok(deleter.clone()),
                    _ => Err(anyhow::anyhow!(
                        "identity deletion needs exactly one deleter of {name}"
                    )),
                }
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        anyhow::ensure!(
            deleters.len() == ordered.len(),
            "identity deletion has a deleter outside its order"
        );
        Ok(Self {
            devices,
            deleters: ordered,
            anonymous,
        })
    }

    pub async fn delete(&self, address: &IdentityAddress) -> anyhow::Result<()> {
        for deleter in &self.deleters {
            deleter.delete_identity_data(address, &self.anonymous).await?;
            self.devices
                .audit_data_deleted(address, deleter.data_name())
                .await?;
        }
        backbone_db::outbox::forget_published_naming(self.devices.store.db(), address).await?;
        self.devices.delete_identity(address).await
    }
}
