//! The tables this module owns: `sync_runs`, `external_events`, `sync_errors`, `datawallets`,
//! `datawallet_modifications`. Functions that take a connection run inside the caller's
//! transaction, so a use case commits all of its changes or none.

use backbone_core::encoding::{from_millis, to_millis};
use backbone_core::events::synchronization::ExternalEventCreated;
use backbone_core::ids::{
    DatawalletId, DatawalletModificationId, DeviceId, ExternalEventId, SyncErrorId, SyncRunId,
};
use backbone_core::paging::{Page, PageRequest};
use backbone_core::IdentityAddress;
use backbone_db::sqlx::any::AnyRow;
use backbone_db::sqlx::{self, AnyConnection, Row};
use backbone_db::{fetch_page, Database, PagedSql, Param};
use chrono::{DateTime, Utc};

use crate::domain::{ExternalEvent, Modification, NewModification, SyncRun, SyncRunType, MAX_SYNC_ERRORS};

const RUN_COLUMNS: &str =
    "id, owner, run_index, run_type, created_at, created_by_device, expires_at, finalized_at, event_count";
const MODIFICATION_COLUMNS: &str = "id, modification_index, datawallet_version, object_identifier, \
    payload_category, collection, modification_type, encrypted_payload, created_at, created_by_device";

/// The SQL behind the request paths and the worker's event handling, public for the query-plan
/// test (`bins/backbone/tests/query_plans.rs`), which EXPLAINs exactly these texts.
pub mod sql {
    /// Whether $1 has an event to deliver: the first one found answers (`COUNT` of at most one).
    pub const DELIVERABLE_EVENT_EXISTS: &str = "SELECT COUNT(*) FROM (SELECT 1 FROM external_events \
        WHERE owner = $1 AND sync_run_id IS NULL AND is_delivery_blocked = 0 AND sync_error_count < $2 LIMIT 1) deliverable";
    pub const DATAWALLET: &str = "SELECT id, version FROM datawallets WHERE owner = $1";
    pub const NEWEST_MODIFICATION_INDEX: &str =
        "SELECT MAX(modification_index) FROM datawallet_modifications WHERE datawallet_id = $1";
    pub const ASSIGNED_EVENT_IDS: &str =
        "SELECT id FROM external_events WHERE sync_run_id = $1 ORDER BY event_index";

    pub fn latest_run() -> String {
        format!(
            "SELECT {} FROM sync_runs WHERE owner = $1 ORDER BY run_index DESC LIMIT 1",
            super::RUN_COLUMNS
        )
    }

    pub fn find_run() -> String {
        format!(
            "SELECT {} FROM sync_runs WHERE id = $1 AND owner = $2",
            super::RUN_COLUMNS
        )
    }

    pub const HAS_UNFINALIZED_RUN: &str =
        "SELECT COUNT(*) FROM sync_runs WHERE owner = $1 AND finalized_at IS NULL";
    pub const ASSIGN_EVENTS: &str =
        "UPDATE external_events SET sync_run_id = $1 WHERE owner = $2 AND sync_run_id IS NULL \
        AND is_delivery_blocked = 0 AND sync_error_count < $3";
    pub const EVENTS_OF_RUN: &str =
        "SELECT id, owner, event_index, event_type, payload, created_at, sync_error_count \
        FROM external_events WHERE sync_run_id = $1 ORDER BY event_index LIMIT $2 OFFSET $3";
    pub const COUNT_EVENTS_OF_RUN: &str = "SELECT COUNT(*) FROM external_events WHERE sync_run_id = $1";
    pub const NEXT_EVENT_INDEX: &str =
        "SELECT COALESCE(MAX(event_index), -1) + 1 FROM external_events WHERE owner = $1";
    pub const UNBLOCK_MESSAGES: &str = "UPDATE external_events SET is_delivery_blocked = 0 \
        WHERE context = $1 AND event_type = 'MessageReceived' AND is_delivery_blocked = 1";
    pub const DELETE_BLOCKED_MESSAGES: &str = "DELETE FROM external_events \
        WHERE context = $1 AND event_type = 'MessageReceived' AND is_delivery_blocked = 1";
    pub const DELETE_UNSYNCED_EVENTS_OF: &str =
        "DELETE FROM external_events WHERE owner = $1 AND context = $2 AND sync_run_id IS NULL";

    /// Modifications of datawallet $1 after index $2 that are the newest of their object, type and
    /// payload category (spec W2). The newest is found by one index probe per modification (a
    /// correlated subquery), which PostgreSQL keeps in its generic plan too; as an anti-join,
    /// a generic plan could read the whole datawallet once per modification.
    pub const NEWEST_OF_ITS_KIND: &str = "m.datawallet_id = $1 AND m.modification_index > $2 \
        AND m.modification_index = (SELECT n.modification_index FROM datawallet_modifications n \
        WHERE n.datawallet_id = m.datawallet_id AND n.object_identifier = m.object_identifier \
        AND n.modification_type = m.modification_type AND (n.payload_category = m.payload_category \
        OR (n.payload_category IS NULL AND m.payload_category IS NULL)) ORDER BY n.modification_index DESC LIMIT 1)";

    pub fn modifications() -> String {
        let columns = super::MODIFICATION_COLUMNS
            .split(", ")
            .map(|c| format!("m.{}", c.trim()))
            .collect::<Vec<_>>()
            .join(", ");
        format!(
            "SELECT {columns} FROM datawallet_modifications m WHERE {NEWEST_OF_ITS_KIND} \
             ORDER BY m.modification_index LIMIT $3 OFFSET $4"
        )
    }

    /// How many [`modifications`] there are: every object, type and category modified after $2
    /// has exactly one newest modification after $2, so this counts those kinds (DISTINCT
    /// takes NULL categories as one, as the newest-of-its-kind check does), from the index alone.
    pub const COUNT_MODIFICATIONS: &str = "SELECT COUNT(*) FROM (SELECT DISTINCT object_identifier, \
        modification_type, payload_category FROM datawallet_modifications \
        WHERE datawallet_id = $1 AND modification_index > $2) kinds";
}

#[derive(Debug, Clone)]
pub struct SynchronizationStore {
    db: Database,
}

/// A datawallet's identity and version.
#[derive(Debug, Clone, PartialEq)]
pub struct Datawallet {
    pub id: DatawalletId,
    pub version: i64,
}

impl SynchronizationStore {
    pub fn new(db: Database) -> Self {
        Self { db }
    }

    pub fn db(&self) -> &Database {
        &self.db
    }

    // Sync runs -------------------------------------------------------------------------------

    pub async fn latest_run(
        &self,
        conn: &mut AnyConnection,
        owner: &IdentityAddress,
    ) -> sqlx::Result<Option<SyncRun>> {
        let sql = format!("{}{}", sql::latest_run(), self.db.dialect().for_update());
        let row = sqlx::query(&sql)
            .bind(owner.as_str())
            .fetch_optional(conn)
            .await?;
        row.as_ref().map(run_from_row).transpose()
    }

    /// The run if it belongs to `owner`, locked for the rest of the transaction.
    pub async fn find_run(
        &self,
        conn: &mut AnyConnection,
        id: &SyncRunId,
        owner: &IdentityAddress,
    ) -> sqlx::Result<Option<SyncRun>> {
        let sql = format!("{}{}", sql::find_run(), self.db.dialect().for_update());
        let row = sqlx::query(&sql)
            .bind(id.as_str())
            .bind(owner.as_str())
            .fetch_optional(conn)
            .await?;
        row.as_ref().map(run_from_row).transpose()
    }

    /// Inserts a run; `false` if another run took the same index meanwhile.
    pub async fn insert_run(&self, conn: &mut AnyConnection, run: &SyncRun) -> sqlx::Result<bool> {
        backbone_db::inserted(
            sqlx::query(&format!(
                "INSERT INTO sync_runs ({RUN_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, NULL, $8)"
            ))
            .bind(run.id.as_str())
            .bind(run.owner.as_str())
            .bind(run.index)
            .bind(run.run_type.as_str())
            .bind(to_millis(&run.created_at))
            .bind(run.created_by_device.as_str())
            .bind(to_millis(&run.expires_at))
            .bind(run.event_count)
            .execute(conn)
            .await,
        )
    }

    /// Assigns every deliverable event of `owner` to the run; returns how many.
    pub async fn assign_events(
        &self,
        conn: &mut AnyConnection,
        owner: &IdentityAddress,
        run: &SyncRunId,
    ) -> sqlx::Result<i64> {
        let assigned = sqlx::query(sql::ASSIGN_EVENTS)
            .bind(run.as_str())
            .bind(owner.as_str())
            .bind(MAX_SYNC_ERRORS)
            .execute(&mut *conn)
            .await?
            .rows_affected();
        // A run's events are far fewer than i64::MAX.
        let assigned = i64::try_from(assigned).unwrap_or(i64::MAX);
        sqlx::query("UPDATE sync_runs SET event_count = $1 WHERE id = $2")
            .bind(assigned)
            .bind(run.as_str())
            .execute(conn)
            .await?;
        Ok(assigned)
    }

    pub async fn deliverable_event_exists(
        &self,
        conn: &mut AnyConnection,
        owner: &IdentityAddress,
        max_errors: i64,
    ) -> sqlx::Result<bool> {
        let count: i64 = sqlx::query_scalar(sql::DELIVERABLE_EVENT_EXISTS)
            .bind(owner.as_str())
            .bind(max_errors)
            .fetch_one(conn)
            .await?;
        Ok(count > 0)
    }

    pub async fn has_unfinalized_run(
        &self,
        conn: &mut AnyConnection,
        owner: &IdentityAddress,
    ) -> sqlx::Result<bool> {
        let count: i64 = sqlx::query_scalar(sql::HAS_UNFINALIZED_RUN)
            .bind(owner.as_str())
            .fetch_one(conn)
            .await?;
        Ok(count > 0)
    }

    pub async fn assigned_event_ids(
        &self,
        conn: &mut AnyConnection,
        run: &SyncRunId,
    ) -> sqlx::Result<Vec<String>> {
        sqlx::query_scalar(sql::ASSIGNED_EVENT_IDS)
            .bind(run.as_str())
            .fetch_all(conn)
            .await
    }

    /// Records a failed delivery: the event is released for a later run and counts one error.
    pub async fn record_sync_error(
        &self,
        conn: &mut AnyConnection,
        run: &SyncRunId,
        event_id: &str,
        code: &str,
    ) -> sqlx::Result<()> {
        sqlx::query("INSERT INTO sync_errors (id, sync_run_id, external_event_id, error_code) VALUES ($1, $2, $3, $4)")
            .bind(SyncErrorId::generate().as_str())
            .bind(run.as_str())
            .bind(event_id)
            .bind(code)
            .execute(&mut *conn)
            .await?;
        sqlx::query(
            "UPDATE external_events SET sync_run_id = NULL, sync_error_count = sync_error_count + 1 WHERE id = $1",
        )
        .bind(event_id)
        .execute(conn)
        .await?;
        Ok(())
    }

    pub async fn finalize_run(
        &self,
        conn: &mut AnyConnection,
        run: &SyncRunId,
        now: DateTime<Utc>,
    ) -> sqlx::Result<()> {
        sqlx::query("UPDATE sync_runs SET finalized_at = $1 WHERE id = $2")
            .bind(to_millis(&now))
            .bind(run.as_str())
            .execute(conn)
            .await?;
        Ok(())
    }

    pub async fn set_run_expiry(
        &self,
        conn: &mut AnyConnection,
        run: &SyncRunId,
        expires_at: DateTime<Utc>,
    ) -> sqlx::Result<()> {
        sqlx::query("UPDATE sync_runs SET expires_at = $1 WHERE id = $2")
            .bind(to_millis(&expires_at))
            .bind(run.as_str())
            .execute(conn)
            .await?;
        Ok(())
    }

    pub async fn events_of_run(
        &self,
        run: &SyncRunId,
        page: PageRequest,
    ) -> sqlx::Result<Page<ExternalEvent>> {
        let queries = PagedSql {
            list: sql::EVENTS_OF_RUN,
            count: sql::COUNT_EVENTS_OF_RUN,
        };
        let mut conn = self.db.pool().acquire().await?;
        fetch_page(&mut conn, queries, &[Param::Text(run.as_str())], page)
            .await?
            .try_map(event_from_row)
    }

    // External events -------------------------------------------------------------------------

    /// Creates external events for a handled domain event, all or none, once per
    /// `(consumer, source_event_id)`: a redelivered domain event creates nothing. Returns
    /// whether the events were created now.
    pub async fn add_external_events_once(
        &self,
        consumer: &str,
        source_event_id: &str,
        events: &[NewExternalEvent],
        effects: &[ContextEffect],
        now: DateTime<Utc>,
    ) -> sqlx::Result<bool> {
        // Concurrent handlers may pick the same per-owner index; the unique index catches it
        // and the whole transaction is tried again (PostgreSQL aborts it on the violation).
        let mut attempts = 0;
        loop {
            attempts += 1;
            match self
                .try_add_external_events(consumer, source_event_id, events, effects, now)
                .await
            {
                Err(e) if backbone_db::is_unique_violation(&e) && attempts < 20 => {}
                other => return other,
            }
        }
    }

    async fn try_add_external_events(
        &self,
        consumer: &str,
        source_event_id: &str,
        events: &[NewExternalEvent],
        effects: &[ContextEffect],
        now: DateTime<Utc>,
    ) -> sqlx::Result<bool> {
        let mut tx = self.db.begin_write().await?;
        if !backbone_db::processed::mark_processed(&mut tx, consumer, source_event_id).await? {
            return Ok(false);
        }
        for effect in effects {
            apply_context_effect(&mut tx, effect).await?;
        }
        for event in events {
            let next: i64 = sqlx::query_scalar(sql::NEXT_EVENT_INDEX)
                .bind(event.owner.as_str())
                .fetch_one(&mut *tx)
                .await?;
            let id = ExternalEventId::generate();
            sqlx::query(
                "INSERT INTO external_events (id, owner, event_index, event_type, payload, created_at, \
                 sync_error_count, is_delivery_blocked, context) VALUES ($1, $2, $3, $4, $5, $6, 0, $7, $8)",
            )
            .bind(id.as_str())
            .bind(event.owner.as_str())
            .bind(next)
            .bind(event.event_type)
            .bind(event.payload.to_string())
            .bind(to_millis(&now))
            .bind(i64::from(event.delivery_blocked))
            .bind(event.context.as_deref())
            .execute(&mut *tx)
            .await?;
            let created = backbone_core::events::DomainEvent::from_event(&ExternalEventCreated {
                event_id: id,
                owner: event.owner.clone(),
                is_delivery_blocked: event.delivery_blocked,
            });
            backbone_db::outbox::enqueue(&mut tx, &created, now).await?;
        }
        tx.commit().await?;
        Ok(true)
    }

    /// Deletes an identity's external events, sync runs (with their errors) and datawallet
    /// (with its modifications): the deletion job's step for this module.
    pub async fn delete_identity(
        &self,
        conn: &mut AnyConnection,
        owner: &IdentityAddress,
    ) -> sqlx::Result<()> {
        sqlx::query("DELETE FROM external_events WHERE owner = $1")
            .bind(owner.as_str())
            .execute(&mut *conn)
            .await?;
        sqlx::query("DELETE FROM sync_runs WHERE owner = $1")
            .bind(owner.as_str())
            .execute(&mut *conn)
            .await?;
        sqlx::query("DELETE FROM datawallets WHERE owner = $1")
            .bind(owner.as_str())
            .execute(&mut *conn)
            .await?;
        Ok(())
    }

    // Datawallet ------------------------------------------------------------------------------

    pub async fn datawallet(
        &self,
        conn: &mut AnyConnection,
        owner: &IdentityAddress,
    ) -> sqlx::Result<Option<Datawallet>> {
        let row = sqlx::query(&format!("{}{}", sql::DATAWALLET, self.db.dialect().for_update()))
            .bind(owner.as_str())
            .fetch_optional(conn)
            .await?;
        row.map(|row| {
            Ok(Datawallet {
                id: DatawalletId::from_trusted(row.try_get("id")?),
                version: row.try_get("version")?,
            })
        })
        .transpose()
    }

    pub async fn create_datawallet(
        &self,
        conn: &mut AnyConnection,
        owner: &IdentityAddress,
        version: i64,
    ) -> sqlx::Result<Datawallet> {
        let datawallet = Datawallet {
            id: DatawalletId::generate(),
            version,
        };
        sqlx::query("INSERT INTO datawallets (id, owner, version) VALUES ($1, $2, $3)")
            .bind(datawallet.id.as_str())
            .bind(owner.as_str())
            .bind(version)
            .execute(conn)
            .await?;
        Ok(datawallet)
    }

    pub async fn set_datawallet_version(
        &self,
        conn: &mut AnyConnection,
        id: &DatawalletId,
        version: i64,
    ) -> sqlx::Result<()> {
        sqlx::query("UPDATE datawallets SET version = $1 WHERE id = $2")
            .bind(version)
            .bind(id.as_str())
            .execute(conn)
            .await?;
        Ok(())
    }

    pub async fn newest_modification_index(
        &self,
        conn: &mut AnyConnection,
        datawallet: &DatawalletId,
    ) -> sqlx::Result<Option<i64>> {
        sqlx::query_scalar(sql::NEWEST_MODIFICATION_INDEX)
            .bind(datawallet.as_str())
            .fetch_one(conn)
            .await
    }

    /// Appends modifications after the newest index; `None` if another writer took an index.
    #[allow(clippy::too_many_arguments)]
    pub async fn append_modifications(
        &self,
        conn: &mut AnyConnection,
        datawallet: &DatawalletId,
        owner: &IdentityAddress,
        device: &DeviceId,
        modifications: &[NewModification],
        now: DateTime<Utc>,
    ) -> sqlx::Result<Option<Vec<(DatawalletModificationId, i64)>>> {
        let newest = self.newest_modification_index(&mut *conn, datawallet).await?;
        let mut created = Vec::with_capacity(modifications.len());
        for (index, modification) in (newest.map_or(0, |n| n + 1)..).zip(modifications) {
            let id = DatawalletModificationId::generate();
            let result = sqlx::query(&format!(
                "INSERT INTO datawallet_modifications (datawallet_id, created_by, {MODIFICATION_COLUMNS}) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
            ))
            .bind(datawallet.as_str())
            .bind(owner.as_str())
            .bind(id.as_str())
            .bind(index)
            .bind(modification.datawallet_version)
            .bind(&modification.object_identifier)
            .bind(modification.payload_category.as_deref())
            .bind(&modification.collection)
            .bind(modification.modification_type.as_str())
            .bind(modification.encrypted_payload.as_deref())
            .bind(to_millis(&now))
            .bind(device.as_str())
            .execute(&mut *conn)
            .await;
            match result {
                Ok(_) => created.push((id, index)),
                Err(e) if backbone_db::is_unique_violation(&e) => return Ok(None),
                Err(e) => return Err(e),
            }
        }
        Ok(Some(created))
    }

    /// Modifications after `local_index`, keeping only the newest per object, type and
    /// payload category (spec W2).
    pub async fn modifications(
        &self,
        datawallet: &DatawalletId,
        local_index: i64,
        page: PageRequest,
    ) -> sqlx::Result<Page<Modification>> {
        let list = sql::modifications();
        let queries = PagedSql {
            list: &list,
            count: sql::COUNT_MODIFICATIONS,
        };
        let params = [Param::Text(datawallet.as_str()), Param::Integer(local_index)];
        let mut conn = self.db.pool().acquire().await?;
        fetch_page(&mut conn, queries, &params, page)
            .await?
            .try_map(modification_from_row)
    }
}

/// An external event a handler wants to create.
#[derive(Debug, Clone, PartialEq)]
pub struct NewExternalEvent {
    pub owner: IdentityAddress,
    pub event_type: &'static str,
    pub payload: serde_json::Value,
    /// The relationship the event belongs to.
    pub context: Option<String>,
    pub delivery_blocked: bool,
}

/// What a relationship change does to existing events of that relationship (context).
#[derive(Debug, Clone, PartialEq)]
pub enum ContextEffect {
    /// Blocked `MessageReceived` events become deliverable (the relationship is active again).
    UnblockMessages { context: String },
    /// Blocked `MessageReceived` events are dropped (the relationship never became active).
    DeleteBlockedMessages { context: String },
    /// The owner's not yet synced events of the relationship are dropped (it decomposed it).
    DeleteUnsyncedEventsOf { owner: IdentityAddress, context: String },
}

async fn apply_context_effect(conn: &mut AnyConnection, effect: &ContextEffect) -> sqlx::Result<()> {
    match effect {
        ContextEffect::UnblockMessages { context } => {
            sqlx::query(sql::UNBLOCK_MESSAGES)
                .bind(context)
                .execute(conn)
                .await?;
        }
        ContextEffect::DeleteBlockedMessages { context } => {
            sqlx::query(sql::DELETE_BLOCKED_MESSAGES)
                .bind(context)
                .execute(conn)
                .await?;
        }
        ContextEffect::DeleteUnsyncedEventsOf { owner, context } => {
            sqlx::query(sql::DELETE_UNSYNCED_EVENTS_OF)
                .bind(owner.as_str())
                .bind(context)
                .execute(conn)
                .await?;
        }
    }
    Ok(())
}

fn run_from_row(row: &AnyRow) -> sqlx::Result<SyncRun> {
    let run_type: String = row.try_get("run_type")?;
    Ok(SyncRun {
        id: SyncRunId::from_trusted(row.try_get("id")?),
        owner: IdentityAddress::from_trusted(row.try_get("owner")?),
        index: row.try_get("run_index")?,
        // Unknown means the data or the code is wrong: a decode error, not a guess.
        run_type: SyncRunType::parse(&run_type).ok_or_else(|| {
            sqlx::Error::Decode(
                backbone_core::status::UnknownValue {
                    kind: "sync run type",
                    value: run_type.clone(),
                }
                .into(),
            )
        })?,
        created_at: from_millis(row.try_get("created_at")?),
        created_by_device: DeviceId::from_trusted(row.try_get("created_by_device")?),
        expires_at: from_millis(row.try_get("expires_at")?),
        finalized_at: row.try_get::<Option<i64>, _>("finalized_at")?.map(from_millis),
        event_count: row.try_get("event_count")?,
    })
}

fn event_from_row(row: &AnyRow) -> sqlx::Result<ExternalEvent> {
    let payload: String = row.try_get("payload")?;
    Ok(ExternalEvent {
        id: ExternalEventId::from_trusted(row.try_get("id")?),
        owner: IdentityAddress::from_trusted(row.try_get("owner")?),
        index: row.try_get("event_index")?,
        event_type: row.try_get("event_type")?,
        payload: serde_json::from_str(&payload).unwrap_or(serde_json::Value::Null),
        created_at: from_millis(row.try_get("created_at")?),
        sync_error_count: row.try_get("sync_error_count")?,
    })
}

fn modification_from_row(row: &AnyRow) -> sqlx::Result<Modification> {
    Ok(Modification {
        id: DatawalletModificationId::from_trusted(row.try_get("id")?),
        index: row.try_get("modification_index")?,
        datawallet_version: row.try_get("datawallet_version")?,
        object_identifier: row.try_get("object_identifier")?,
        payload_category: row.try_get("payload_category")?,
        collection: row.try_get("collection")?,
        modification_type: row.try_get("modification_type")?,
        encrypted_payload: row.try_get("encrypted_payload")?,
        created_at: from_millis(row.try_get("created_at")?),
        created_by_device: DeviceId::from_trusted(row.try_get("created_by_device")?),
    })
}
