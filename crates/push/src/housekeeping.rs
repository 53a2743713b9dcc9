//! Housekeeping: pushes still queued for identities that have been deleted are dropped; the
//! devices they were meant for no longer exist (their registrations went with them).

use backbone_db::sqlx;
use backbone_db::Sweep;

use crate::PushService;

const OF_DELETED_IDENTITIES: Sweep = Sweep {
    select: "SELECT d.id FROM push_deliveries d WHERE NOT EXISTS \
        (SELECT 1 FROM identities i WHERE i.address = d.identity_address) LIMIT $1",
    statements: &["DELETE FROM push_deliveries WHERE id IN ({keys})"],
};

impl PushService {
    /// Deletes the queued deliveries of identities that no longer exist; returns how many.
    pub async fn drop_deliveries_of_deleted_identities(&self) -> sqlx::Result<u64> {
        OF_DELETED_IDENTITIES.run(self.store.db(), None).await
    }
}
