//! Use cases of the Synchronization module, in upstream's check order (which decides the
//! error a client sees). Each runs in one write transaction.

use std::sync::Arc;

use backbone_core::events::synchronization::DatawalletModified;
use backbone_core::events::DomainEvent;
use backbone_core::ids::{DatawalletModificationId, SyncRunId};
use backbone_core::paging::{Page, PageRequest, PagingLimits};
use backbone_core::ports::IdentityDirectory;
use backbone_core::status::IdentityStatus;
use backbone_core::{Actor, IdentityAddress, SharedClock, ValidationError};
use backbone_db::sqlx::{self, AnyConnection};
use chrono::{DateTime, Duration, Utc};

use crate::domain::{
    EventResult, ExternalEvent, Modification, NewModification, SyncRun, SyncRunType, DEFAULT_RUN_DURATION,
    ERROR_NOT_PROCESSED, ERROR_SYNC_RUN_CANCELED,
};
use crate::error::{
    CANNOT_FINALIZE_OTHER_DEVICE, CANNOT_READ_EVENTS_OF_OTHER_DEVICE, CANNOT_REFRESH_OTHER_DEVICE,
};
use crate::store::{Datawallet, SynchronizationStore};
use crate::SyncError;

#[derive(Clone)]
pub struct SynchronizationService {
    pub store: SynchronizationStore,
    pub clock: SharedClock,
    pub identities: Arc<dyn IdentityDirectory>,
    pub quotas: Arc<dyn crate::QuotaGate>,
    pub paging: PagingLimits,
}

#[derive(Debug)]
pub enum StartOutcome {
    NoNewEvents,
    Created(SyncRun),
}

/// Modifications created by a request: `(id, index)` plus their common creation time.
#[derive(Debug, Default)]
pub struct CreatedModifications {
    pub items: Vec<(DatawalletModificationId, i64)>,
    pub created_at: DateTime<Utc>,
    /// The index of the newest modification of the datawallet after the request.
    pub newest_index: Option<i64>,
}

impl SynchronizationService {
    /// S1
    pub async fn start_sync_run(
        &self,
        actor: &Actor,
        run_type: SyncRunType,
        duration_seconds: Option<i64>,
        supported_version: i64,
    ) -> Result<StartOutcome, SyncError> {
        self.require_active(&actor.address).await?;
        require_supported_version(supported_version)?;
        let duration = match duration_seconds {
            None => DEFAULT_RUN_DURATION,
            Some(seconds) if (0..=i64::from(u16::MAX)).contains(&seconds) => Duration::seconds(seconds),
            Some(_) => {
                return Err(ValidationError::invalid_property_value(
                    "'duration' must be between 0 and 65535 seconds.",
                )
                .into())
            }
        };
        let now = self.clock.now();
        let mut tx = self.store.db().begin_write().await?;
        let datawallet = self.store.datawallet(&mut tx, &actor.address).await?;
        if run_type == SyncRunType::ExternalEventSync && datawallet.is_none() {
            return Err(SyncError::NotFound("Datawallet"));
        }
        check_datawallet_version(datawallet.as_ref(), supported_version)?;

        let latest = self.store.latest_run(&mut tx, &actor.address).await?;
        if let Some(latest) = &latest {
            if !latest.is_finalized() {
                if !latest.is_expired_at(now) {
                    return Err(SyncError::AnotherSyncRunIsRunning(latest.id.to_string()));
                }
                self.cancel(&mut tx, latest, now).await?;
            }
        }
        if run_type == SyncRunType::ExternalEventSync
            && !self
                .store
                .deliverable_event_exists(&mut tx, &actor.address, crate::domain::MAX_SYNC_ERRORS)
                .await?
        {
            tx.commit().await?;
            return Ok(StartOutcome::NoNewEvents);
        }
        let mut run = SyncRun {
            id: SyncRunId::generate(),
            owner: actor.address.clone(),
            index: latest.map_or(0, |l| l.index + 1),
            run_type,
            created_at: now,
            created_by_device: actor.device.clone(),
            expires_at: now + duration,
            finalized_at: None,
            event_count: 0,
        };
        if !self.store.insert_run(&mut tx, &run).await? {
            return Err(SyncError::AnotherSyncRunIsRunning(
                "a concurrently started run".into(),
            ));
        }
        if run_type == SyncRunType::ExternalEventSync {
            run.event_count = self.store.assign_events(&mut tx, &actor.address, &run.id).await?;
        }
        tx.commit().await?;
        Ok(StartOutcome::Created(run))
    }

    /// Only an active identity syncs: not during its grace period (nor once it is gone).
    async fn require_active(&self, identity: &IdentityAddress) -> Result<(), SyncError> {
        let status = self.identities.status_of(identity).await?;
        if status != Some(IdentityStatus::Active) {
            return Err(SyncError::IdentityIsToBeDeleted);
        }
        Ok(())
    }

    /// An expired, unfinished run is closed and its events released with an error each.
    async fn cancel(&self, conn: &mut AnyConnection, run: &SyncRun, now: DateTime<Utc>) -> sqlx::Result<()> {
        for event in self.store.assigned_event_ids(conn, &run.id).await? {
            self.store
                .record_sync_error(conn, &run.id, &event, ERROR_SYNC_RUN_CANCELED)
                .await?;
        }
        self.store.finalize_run(conn, &run.id, now).await
    }

    /// S2: any device of the identity may read its runs.
    pub async fn sync_run(&self, owner: &IdentityAddress, id: &SyncRunId) -> Result<SyncRun, SyncError> {
        let mut conn = self.store.db().pool().acquire().await?;
        let run = self.store.find_run(&mut conn, id, owner).await?;
        run.ok_or(SyncError::NotFound("SyncRun"))
    }

    /// S3
    pub async fn events_of_run(
        &self,
        actor: &Actor,
        id: &SyncRunId,
        page: PageRequest,
    ) -> Result<Page<ExternalEvent>, SyncError> {
        let run = self.sync_run(&actor.address, id).await?;
        if run.is_finalized() {
            return Err(SyncError::AlreadyFinalized);
        }
        if run.created_by_device != actor.device {
            return Err(SyncError::StartedByAnotherDevice(
                CANNOT_READ_EVENTS_OF_OTHER_DEVICE,
            ));
        }
        Ok(self.store.events_of_run(id, page).await?)
    }

    /// S4: extends the run by the fixed default duration from now.
    pub async fn refresh_expiration(
        &self,
        actor: &Actor,
        id: &SyncRunId,
    ) -> Result<DateTime<Utc>, SyncError> {
        let mut tx = self.store.db().begin_write().await?;
        let run = self.store.find_run(&mut tx, id, &actor.address).await?;
        let run = run.ok_or(SyncError::NotFound("SyncRun"))?;
        if run.created_by_device != actor.device {
            return Err(SyncError::StartedByAnotherDevice(CANNOT_REFRESH_OTHER_DEVICE));
        }
        if run.is_finalized() {
            return Err(SyncError::AlreadyFinalized);
        }
        let expires_at = self.clock.now() + DEFAULT_RUN_DURATION;
        self.store.set_run_expiry(&mut tx, id, expires_at).await?;
        tx.commit().await?;
        Ok(expires_at)
    }

    /// Loads a run for finalizing: it must exist, have the type, come from this device and be open.
    async fn open_run_for_finalize(
        &self,
        conn: &mut AnyConnection,
        actor: &Actor,
        id: &SyncRunId,
        expected: SyncRunType,
    ) -> Result<SyncRun, SyncError> {
        let run = self.store.find_run(conn, id, &actor.address).await?;
        let run = run.ok_or(SyncError::NotFound("SyncRun"))?;
        if run.run_type != expected {
            return Err(SyncError::UnexpectedSyncRunType);
        }
        if run.created_by_device != actor.device {
            return Err(SyncError::StartedByAnotherDevice(CANNOT_FINALIZE_OTHER_DEVICE));
        }
        if run.is_finalized() {
            return Err(SyncError::AlreadyFinalized);
        }
        Ok(run)
    }

    /// S5: closes the run, records per-event results and appends datawallet modifications.
    /// Returns the created modifications and whether more events are waiting.
    pub async fn finalize_external_event_sync(
        &self,
        actor: &Actor,
        id: &SyncRunId,
        results: Vec<EventResult>,
        modifications: Vec<NewModification>,
    ) -> Result<(CreatedModifications, bool), SyncError> {
        modifications.iter().try_for_each(NewModification::validate)?;
        let now = self.clock.now();
        let mut tx = self.store.db().begin_write().await?;
        let run = self
            .open_run_for_finalize(&mut tx, actor, id, SyncRunType::ExternalEventSync)
            .await?;
        let datawallet = self.store.datawallet(&mut tx, &actor.address).await?;
        let datawallet = datawallet.ok_or(SyncError::NotFound("Datawallet"))?;
        self.store.finalize_run(&mut tx, &run.id, now).await?;
        for event in self.store.assigned_event_ids(&mut tx, &run.id).await? {
            let error = match results.iter().find(|r| r.external_event_id.as_str() == event) {
                None => Some(ERROR_NOT_PROCESSED),
                Some(result) => result.error_code.as_deref().filter(|code| !code.is_empty()),
            };
            if let Some(code) = error {
                self.store
                    .record_sync_error(&mut tx, &run.id, &event, code)
                    .await?;
            }
        }
        let created = self
            .append(&mut tx, actor, &datawallet, &modifications, now)
            .await?;
        // Events that already failed once do not count: the client would loop on them.
        let more = self
            .store
            .deliverable_event_exists(&mut tx, &actor.address, 1)
            .await?;
        tx.commit().await?;
        Ok((created, more))
    }

    /// S6: closes the run and creates or upgrades the datawallet.
    pub async fn finalize_datawallet_version_upgrade(
        &self,
        actor: &Actor,
        id: &SyncRunId,
        new_version: i64,
        modifications: Vec<NewModification>,
    ) -> Result<CreatedModifications, SyncError> {
        if !(1..=i64::from(u16::MAX)).contains(&new_version) {
            return Err(ValidationError::invalid_property_value(
                "'newDatawalletVersion' must be between 1 and 65535.",
            )
            .into());
        }
        modifications.iter().try_for_each(NewModification::validate)?;
        let now = self.clock.now();
        let mut tx = self.store.db().begin_write().await?;
        if !modifications.is_empty() {
            self.check_modifications_quota(&mut tx, &actor.address, now)
                .await?;
        }
        let run = self
            .open_run_for_finalize(&mut tx, actor, id, SyncRunType::DatawalletVersionUpgrade)
            .await?;
        self.store.finalize_run(&mut tx, &run.id, now).await?;
        let datawallet = match self.store.datawallet(&mut tx, &actor.address).await? {
            None => {
                self.store
                    .create_datawallet(&mut tx, &actor.address, new_version)
                    .await?
            }
            Some(existing) if new_version < existing.version => {
                return Err(SyncError::CannotDowngrade(existing.version))
            }
            Some(existing) => {
                self.store
                    .set_datawallet_version(&mut tx, &existing.id, new_version)
                    .await?;
                Datawallet {
                    version: new_version,
                    ..existing
                }
            }
        };
        let created = self
            .append(&mut tx, actor, &datawallet, &modifications, now)
            .await?;
        tx.commit().await?;
        Ok(created)
    }

    /// W1
    pub async fn datawallet_version(&self, owner: &IdentityAddress) -> Result<i64, SyncError> {
        let mut conn = self.store.db().pool().acquire().await?;
        let datawallet = self.store.datawallet(&mut conn, owner).await?;
        datawallet
            .map(|d| d.version)
            .ok_or(SyncError::NotFound("Datawallet"))
    }

    /// W2
    pub async fn modifications(
        &self,
        owner: &IdentityAddress,
        local_index: Option<i64>,
        supported_version: i64,
        page: PageRequest,
    ) -> Result<Page<Modification>, SyncError> {
        let mut conn = self.store.db().pool().acquire().await?;
        let datawallet = self.store.datawallet(&mut conn, owner).await?;
        drop(conn);
        let Some(datawallet) = datawallet else {
            return Ok(Page {
                items: Vec::new(),
                request: page,
                total_records: 0,
            });
        };
        check_datawallet_version(Some(&datawallet), supported_version)?;
        self.store
            .modifications(&datawallet.id, local_index.unwrap_or(-1), page)
            .await
            .map_err(SyncError::from)
    }

    /// W3: only on top of the newest modification the device knows, and never during a sync run.
    pub async fn push_modifications(
        &self,
        actor: &Actor,
        local_index: Option<i64>,
        modifications: Vec<NewModification>,
        supported_version: i64,
    ) -> Result<CreatedModifications, SyncError> {
        if modifications.is_empty() {
            return Err(ValidationError::invalid_property_value("'modifications' must not be empty.").into());
        }
        modifications.iter().try_for_each(NewModification::validate)?;
        require_supported_version(supported_version)?;
        let now = self.clock.now();
        let mut tx = self.store.db().begin_write().await?;
        self.check_modifications_quota(&mut tx, &actor.address, now)
            .await?;
        if self.store.has_unfinalized_run(&mut tx, &actor.address).await? {
            return Err(SyncError::CannotPushDuringActiveSyncRun);
        }
        let datawallet = self.store.datawallet(&mut tx, &actor.address).await?;
        let datawallet = datawallet.ok_or(SyncError::NotFound("Datawallet"))?;
        check_datawallet_version(Some(&datawallet), supported_version)?;
        let newest = self
            .store
            .newest_modification_index(&mut tx, &datawallet.id)
            .await?;
        if let Some(newest) = newest {
            if local_index != Some(newest) {
                let given = local_index.unwrap_or(-1);
                return Err(SyncError::DatawalletNotUpToDate {
                    given,
                    newest: newest.to_string(),
                });
            }
        }
        let created = self
            .append(&mut tx, actor, &datawallet, &modifications, now)
            .await?;
        tx.commit().await.map_err(|e| {
            if backbone_db::is_unique_violation(&e) {
                SyncError::DatawalletNotUpToDate {
                    given: local_index.unwrap_or(-1),
                    newest: "newer".into(),
                }
            } else {
                SyncError::Database(e)
            }
        })?;
        Ok(created)
    }

    /// Appends modifications and, if there were any, raises `DatawalletModified`.
    async fn append(
        &self,
        conn: &mut AnyConnection,
        actor: &Actor,
        datawallet: &Datawallet,
        modifications: &[NewModification],
        now: DateTime<Utc>,
    ) -> Result<CreatedModifications, SyncError> {
        if let Some(too_high) = modifications
            .iter()
            .find(|m| m.datawallet_version > datawallet.version)
        {
            return Err(SyncError::ModificationVersionTooHigh(too_high.datawallet_version));
        }
        let items = self
            .store
            .append_modifications(
                conn,
                &datawallet.id,
                &actor.address,
                &actor.device,
                modifications,
                now,
            )
            .await?
            .ok_or(SyncError::DatawalletNotUpToDate {
                given: -1,
                newest: "newer".into(),
            })?;
        if !items.is_empty() {
            let event = DomainEvent::from_event(&DatawalletModified {
                identity: actor.address.clone(),
                modified_by_device: actor.device.clone(),
            });
            backbone_db::outbox::enqueue(conn, &event, now).await?;
        }
        let newest_index = self.store.newest_modification_index(conn, &datawallet.id).await?;
        Ok(CreatedModifications {
            items,
            created_at: now,
            newest_index,
        })
    }
}

fn require_supported_version(supported_version: i64) -> Result<(), SyncError> {
    if supported_version <= 0 {
        return Err(ValidationError::invalid_property_value(
            "'SupportedDatawalletVersion' must be greater than 0.",
        )
        .into());
    }
    Ok(())
}

fn check_datawallet_version(
    datawallet: Option<&Datawallet>,
    supported_version: i64,
) -> Result<(), SyncError> {
    match datawallet {
        Some(datawallet) if supported_version < datawallet.version => Err(
            SyncError::InsufficientSupportedDatawalletVersion(datawallet.version),
        ),
        _ => Ok(()),
    }
}
