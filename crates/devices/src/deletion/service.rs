//! Use cases of identity deletion, as methods of the Devices service.

use backbone_core::events::devices::{
    DeletionProcessGracePeriodReminder, IdentityDeleted, IdentityDeletionCancelled,
    IdentityDeletionProcessStatusChanged, IdentityToBeDeleted, TierOfIdentityChanged,
};
use backbone_core::events::DomainEvent;
use backbone_core::ids::{DeviceId, IdentityDeletionProcessId, TierId};
use backbone_core::quotas::MetricKey;
use backbone_core::{IdentityAddress, ValidationError};
use chrono::{DateTime, Duration, Utc};
use serde_json::json;

use super::audit::keys;
use super::store::AuditEntry;
use super::{DeletionProcess, ProcessStatus};
use crate::domain::IdentityStatus;
use crate::{DevicesError, DevicesService};

/// A grace-period reminder that is due: who, which one, how many days are left.
#[derive(Debug, Clone, PartialEq)]
pub struct ReminderDue {
    pub identity: IdentityAddress,
    pub reminder: usize,
    pub days_until_deletion: i64,
}

/// What a run of the deletion job did.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct DeletionJobReport {
    pub started: Vec<IdentityAddress>,
    pub deleted: Vec<IdentityAddress>,
    pub failed: Vec<(IdentityAddress, String)>,
}

/// The owner changed the process's status (or the job did, in the owner's name).
fn status_changed(process: &DeletionProcess, address: &IdentityAddress) -> DomainEvent {
    DomainEvent::from_event(&IdentityDeletionProcessStatusChanged {
        deletion_process_owner: address.clone(),
        deletion_process_id: process.id.clone(),
        initiator: address.clone(),
    })
}

fn tier_changed(old_tier_id: TierId, new_tier_id: TierId, address: &IdentityAddress) -> DomainEvent {
    DomainEvent::from_event(&TierOfIdentityChanged {
        old_tier_id,
        new_tier_id,
        identity_address: address.clone(),
    })
}

impl DevicesService {
    /// P1: starts the grace period; the identity becomes `ToBeDeleted` and moves to the
    /// "Queued for Deletion" tier.
    pub async fn start_deletion_process(
        &self,
        address: &IdentityAddress,
        device: &DeviceId,
        grace_period_days: Option<f64>,
    ) -> Result<DeletionProcess, DevicesError> {
        let now = self.clock.now();
        let days = grace_period_days.unwrap_or(self.settings.grace_period_days);
        let grace_period_ends_at = backbone_core::encoding::add_days(now, days).ok_or_else(|| {
            ValidationError::invalid_property_value(
                "'lengthOfGracePeriodInDays' must give a grace period that ends before the year 10000.",
            )
        })?;
        let identity = self.identity(address).await?;
        let process = DeletionProcess {
            id: IdentityDeletionProcessId::generate(),
            identity_address: address.clone(),
            status: ProcessStatus::Active,
            created_at: now,
            created_by_device: device.clone(),
            grace_period_ends_at: Some(grace_period_ends_at),
            reminders_sent_at: [None; 3],
            cancelled_at: None,
            deletion_started_at: None,
        };
        // Hashing is slow: before the transaction, not inside it.
        let audit = AuditEntry::new(
            Some(&process.id),
            address,
            Some(device),
            keys::STARTED_BY_OWNER,
            (None, Some(ProcessStatus::Active)),
            None,
        )
        .await;
        let store = &self.deletion;
        let mut tx = store.db().begin_write().await?;
        self.check_quota(&mut tx, address, MetricKey::NumberOfStartedDeletionProcesses, now)
            .await?;
        if store.has_open_process(&mut tx, address).await? || !store.insert_process(&mut tx, &process).await?
        {
            return Err(DevicesError::OnlyOneActiveDeletionProcessAllowed);
        }
        let queued = TierId::queued_for_deletion();
        let previous_tier = identity.tier_id.clone();
        store
            .update_identity(
                &mut tx,
                address,
                IdentityStatus::ToBeDeleted.as_str(),
                Some(grace_period_ends_at),
                &queued,
                Some(&previous_tier),
            )
            .await?;
        store.audit(&mut tx, audit, now).await?;
        let events = [
            DomainEvent::from_event(&IdentityToBeDeleted {
                identity_address: address.clone(),
                grace_period_ends_at,
            }),
            tier_changed(previous_tier, queued, address),
            status_changed(&process, address),
        ];
        for e in &events {
            backbone_db::outbox::enqueue(&mut tx, e, now).await?;
        }
        tx.commit().await?;
        Ok(process)
    }

    /// P2
    pub async fn deletion_processes(
        &self,
        address: &IdentityAddress,
    ) -> Result<Vec<DeletionProcess>, DevicesError> {
        Ok(self.deletion.processes(address).await?)
    }

    /// P3
    pub async fn deletion_process(
        &self,
        address: &IdentityAddress,
        id: &IdentityDeletionProcessId,
    ) -> Result<DeletionProcess, DevicesError> {
        let mut conn = self.deletion.db().pool().acquire().await?;
        let process = self.deletion.find_process(&mut conn, address, id).await?;
        process.ok_or(DevicesError::NotFound("IdentityDeletionProcess"))
    }

    /// P4: only an active process whose grace period is not over; restores status and tier.
    pub async fn cancel_deletion_process(
        &self,
        address: &IdentityAddress,
        device: &DeviceId,
        id: &IdentityDeletionProcessId,
    ) -> Result<DeletionProcess, DevicesError> {
        let now = self.clock.now();
        let store = &self.deletion;
        // Hashing is slow: before the transaction, not inside it.
        let audit = AuditEntry::new(
            Some(id),
            address,
            Some(device),
            keys::CANCELLED_BY_OWNER,
            (Some(ProcessStatus::Active), Some(ProcessStatus::Cancelled)),
            None,
        )
        .await;
        let mut tx = store.db().begin_write().await?;
        let process = store.find_process(&mut tx, address, id).await?;
        let mut process = process.ok_or(DevicesError::NotFound("IdentityDeletionProcess"))?;
        if process.status != ProcessStatus::Active {
            return Err(DevicesError::DeletionProcessIsNotInRequiredStatus);
        }
        if process.grace_period_ends_at.is_some_and(|ends| ends < now) {
            return Err(DevicesError::GracePeriodHasAlreadyExpired);
        }
        store.cancel_process(&mut tx, id, now).await?;
        let previous = store.tier_before_deletion(&mut tx, address).await?;
        let restored = previous.unwrap_or_else(|| TierId::from_trusted("TIRBasic000000000000".into()));
        store
            .update_identity(
                &mut tx,
                address,
                IdentityStatus::Active.as_str(),
                None,
                &restored,
                None,
            )
            .await?;
        store.audit(&mut tx, audit, now).await?;
        process.status = ProcessStatus::Cancelled;
        process.cancelled_at = Some(now);
        process.grace_period_ends_at = None;
        let events = [
            DomainEvent::from_event(&IdentityDeletionCancelled {
                identity_address: address.clone(),
            }),
            tier_changed(TierId::queued_for_deletion(), restored, address),
            status_changed(&process, address),
        ];
        for e in &events {
            backbone_db::outbox::enqueue(&mut tx, e, now).await?;
        }
        tx.commit().await?;
        Ok(process)
    }

    /// The reminder job: marks due reminders sent and returns them for the push notifications.
    pub async fn send_grace_period_reminders(&self) -> anyhow::Result<Vec<ReminderDue>> {
        let now = self.clock.now();
        let mut due = Vec::new();
        for process in self.deletion.processes_in(ProcessStatus::Active).await? {
            let Some((reminder, days)) = process.reminder_due(now, self.settings.reminder_schedule) else {
                continue;
            };
            let audit = AuditEntry::new(
                Some(&process.id),
                &process.identity_address,
                None,
                super::audit::keys::REMINDER_SENT[reminder - 1],
                (Some(ProcessStatus::Active), Some(ProcessStatus::Active)),
                None,
            )
            .await;
            let mut tx = self.deletion.db().begin_write().await?;
            self.deletion
                .mark_reminder_sent(&mut tx, &process.id, reminder, now)
                .await?;
            self.deletion.audit(&mut tx, audit, now).await?;
            let push = DomainEvent::from_event(&DeletionProcessGracePeriodReminder {
                identity_address: process.identity_address.clone(),
                days_until_deletion: days,
            });
            backbone_db::outbox::enqueue(&mut tx, &push, now).await?;
            tx.commit().await?;
            due.push(ReminderDue {
                identity: process.identity_address,
                reminder,
                days_until_deletion: days,
            });
        }
        Ok(due)
    }

    /// First half of the deletion job: identities whose grace period is over start `Deleting`.
    /// Returns every identity whose data is to be deleted now (including earlier failures).
    pub async fn start_due_deletions(&self) -> anyhow::Result<(Vec<IdentityAddress>, Vec<IdentityAddress>)> {
        let now = self.clock.now();
        let mut started = Vec::new();
        for process in self.deletion.processes_in(ProcessStatus::Active).await? {
            if process.grace_period_ends_at.is_none_or(|ends| ends >= now) {
                continue;
            }
            let address = process.identity_address.clone();
            let audit = AuditEntry::new(
                Some(&process.id),
                &address,
                None,
                keys::DELETION_STARTED,
                (Some(ProcessStatus::Active), Some(ProcessStatus::Deleting)),
                None,
            )
            .await;
            let mut tx = self.deletion.db().begin_write().await?;
            if !self.deletion.start_deleting(&mut tx, &process.id, now).await? {
                continue;
            }
            let tier = TierId::queued_for_deletion();
            self.deletion
                .update_identity(
                    &mut tx,
                    &address,
                    IdentityStatus::Deleting.as_str(),
                    process.grace_period_ends_at,
                    &tier,
                    None,
                )
                .await?;
            self.deletion.audit(&mut tx, audit, now).await?;
            let events = [
                DomainEvent::from_event(&IdentityDeleted {
                    identity_address: address.clone(),
                }),
                status_changed(&process, &address),
            ];
            for e in &events {
                backbone_db::outbox::enqueue(&mut tx, e, now).await?;
            }
            tx.commit().await?;
            started.push(address);
        }
        let deleting = self.deletion.processes_in(ProcessStatus::Deleting).await?;
        Ok((
            started,
            deleting.into_iter().map(|p| p.identity_address).collect(),
        ))
    }

    /// Claims the identity for this worker for `lease`; `false` if another worker has it.
    pub async fn claim_for_deletion(
        &self,
        address: &IdentityAddress,
        lease: Duration,
    ) -> anyhow::Result<bool> {
        let now = self.clock.now();
        Ok(self.deletion.take_lease(address, now, now + lease).await?)
    }

    pub async fn release_deletion_claim(&self, address: &IdentityAddress) -> anyhow::Result<()> {
        Ok(self.deletion.release_lease(address).await?)
    }

    /// Records that a module deleted its data of the identity.
    pub async fn audit_data_deleted(&self, address: &IdentityAddress, aggregate: &str) -> anyhow::Result<()> {
        self.audit_standalone(address, keys::DATA_DELETED, json!({ "aggregateType": aggregate }))
            .await
    }

    pub async fn audit_deletion_error(&self, address: &IdentityAddress, message: &str) -> anyhow::Result<()> {
        self.audit_standalone(
            address,
            keys::ERROR_DURING_DELETION,
            json!({ "errorMessage": message }),
        )
        .await
    }

    async fn audit_standalone(
        &self,
        address: &IdentityAddress,
        key: &str,
        data: serde_json::Value,
    ) -> anyhow::Result<()> {
        let entry = AuditEntry::new(None, address, None, key, (None, None), Some(data)).await;
        let mut conn = self.deletion.db().writer().acquire().await?;
        self.deletion.audit(&mut conn, entry, self.clock.now()).await?;
        Ok(())
    }

    /// Last step of the deletion job: deletes the identity with its devices, feature flags and
    /// processes, completes the audit log and attaches the hashed usernames to it.
    pub async fn delete_identity(&self, address: &IdentityAddress) -> anyhow::Result<()> {
        let usernames = self.deletion.usernames(address).await?;
        self.deletion.delete_identity(address).await?;
        self.audit_data_deleted(address, "Identities").await?;
        let entry = AuditEntry::new(
            None,
            address,
            None,
            keys::DELETION_COMPLETED,
            (Some(ProcessStatus::Deleting), None),
            None,
        )
        .await;
        let mut conn = self.deletion.db().writer().acquire().await?;
        self.deletion.audit(&mut conn, entry, self.clock.now()).await?;
        // Give the writer back before the next write asks for it (on SQLite it is the only one).
        drop(conn);
        let hashes = super::audit::hash_all(usernames).await;
        self.deletion.attach_username_hashes(address, &hashes).await?;
        Ok(())
    }

    /// When a deleted identity's deletion completed, found by one of its former usernames.
    pub async fn deletion_date_of_username(
        &self,
        username: &str,
    ) -> Result<Option<DateTime<Utc>>, DevicesError> {
        self.deletion
            .deletion_completed_for_username(username)
            .await
            .map_err(DevicesError::from)
    }
}
