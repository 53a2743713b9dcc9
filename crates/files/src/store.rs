//! The `files` table. Functions that take a connection run inside the caller's transaction, so
//! a use case commits its change and its outbox events together, or neither.

use std::collections::HashSet;

use backbone_core::encoding::{from_millis, to_millis};
use backbone_core::events::DomainEvent;
use backbone_core::ids::{DeviceId, FileId};
use backbone_core::paging::{Page, PageRequest};
use backbone_core::IdentityAddress;
use backbone_db::anonymise::replace_address;
use backbone_db::sqlx::any::AnyRow;
use backbone_db::sqlx::{self, AnyConnection, Row};
use backbone_db::{fetch_page, get_flag, outbox, with_ids, Database, PagedSql, Param};
use chrono::{DateTime, Utc};

use crate::File;

const FILE_COLUMNS: &str = "id, created_at, created_by, created_by_device, owner, owner_signature, \
     ownership_token, ownership_is_locked, last_ownership_claim_at, cipher_size, cipher_hash, expires_at, \
     encrypted_properties";

/// The SQL behind the request paths, public for the query-plan test
/// (`bins/backbone/tests/query_plans.rs`), which EXPLAINs exactly these texts.
pub mod sql {
    use super::FILE_COLUMNS;

    /// Files $1 created with `$2 <= created_at <= $3`, and their summed size in bytes (the
    /// `NumberOfFiles` and `UsedFileStorageSpace` quotas). PostgreSQL sums BIGINTs as NUMERIC,
    /// which the Any driver cannot read.
    pub const COUNT_CREATED: &str =
        "SELECT COUNT(*) AS files, CAST(COALESCE(SUM(cipher_size), 0) AS BIGINT) AS bytes \
        FROM files WHERE created_by = $1 AND created_at BETWEEN $2 AND $3";

    /// Live files created by $1 (now is $2), only those among `ids` ($3, …) if any are given.
    fn created_by_filter(ids: usize) -> String {
        let filter = "FROM files WHERE created_by = $1 AND expires_at > $2";
        if ids == 0 {
            return filter.to_owned();
        }
        format!("{filter} AND id IN ({})", backbone_db::placeholders(3, ids))
    }

    /// A page of [`created_by_filter`], oldest first; limit and offset follow the IDs.
    pub fn list_created_by(ids: usize) -> String {
        let next = ids + 3;
        format!(
            "SELECT {FILE_COLUMNS} {} ORDER BY created_at, id LIMIT ${next} OFFSET ${}",
            created_by_filter(ids),
            next + 1
        )
    }

    pub fn count_created_by(ids: usize) -> String {
        format!("SELECT COUNT(*) {}", created_by_filter(ids))
    }

    pub fn find_live() -> String {
        format!("SELECT {FILE_COLUMNS} FROM files WHERE id = $1 AND expires_at > $2")
    }
}

#[derive(Debug, Clone)]
pub struct FilesStore {
    db: Database,
}

impl FilesStore {
    pub fn new(db: Database) -> Self {
        Self { db }
    }

    /// Deletes the rows of files the identity owns; returns their IDs (for their blobs).
    pub async fn delete_owned_by(&self, owner: &IdentityAddress) -> sqlx::Result<Vec<FileId>> {
        let ids: Vec<String> = sqlx::query_scalar("DELETE FROM files WHERE owner = $1 RETURNING id")
            .bind(owner.as_str())
            .fetch_all(self.db.writer())
            .await?;
        Ok(ids.into_iter().map(FileId::from_trusted).collect())
    }

    pub async fn anonymise_creator(
        &self,
        creator: &IdentityAddress,
        anonymous: &IdentityAddress,
    ) -> sqlx::Result<()> {
        let mut conn = self.db.writer().acquire().await?;
        replace_address(&mut conn, "files", "created_by", creator, anonymous).await?;
        Ok(())
    }

    pub fn db(&self) -> &Database {
        &self.db
    }

    /// Inserts a new file and its `FileUploaded` event.
    /// Inserts the row with its event, on the caller's write transaction.
    pub async fn insert(
        &self,
        conn: &mut AnyConnection,
        file: &File,
        event: &DomainEvent,
    ) -> sqlx::Result<()> {
        sqlx::query(&format!(
            "INSERT INTO files ({FILE_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)"
        ))
        .bind(file.id.as_str())
        .bind(to_millis(&file.created_at))
        .bind(file.created_by.as_str())
        .bind(file.created_by_device.as_str())
        .bind(file.owner.as_str())
        .bind(file.owner_signature.as_slice())
        .bind(file.ownership_token.as_str())
        .bind(i64::from(file.ownership_is_locked))
        .bind(file.last_ownership_claim_at.as_ref().map(to_millis))
        .bind(i64::try_from(file.cipher_size).unwrap_or(i64::MAX))
        .bind(file.cipher_hash.as_slice())
        .bind(to_millis(&file.expires_at))
        .bind(file.encrypted_properties.as_slice())
        .execute(&mut *conn)
        .await?;
        outbox::enqueue(conn, event, file.created_at).await
    }

    /// `NumberOfFiles` and `UsedFileStorageSpace`: how many files `identity` created with
    /// `from <= created_at <= to`, and their summed size in bytes.
    pub async fn count_created(
        &self,
        conn: &mut AnyConnection,
        identity: &IdentityAddress,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> sqlx::Result<(i64, i64)> {
        let row = sqlx::query(sql::COUNT_CREATED)
            .bind(identity.as_str())
            .bind(to_millis(&from))
            .bind(to_millis(&to))
            .fetch_one(conn)
            .await?;
        Ok((row.try_get("files")?, row.try_get("bytes")?))
    }

    /// The file unless it expired (`expires_at <= now`); with `lock`, its row stays locked for
    /// the rest of the transaction.
    pub async fn find_live(
        &self,
        conn: &mut AnyConnection,
        id: &FileId,
        now: DateTime<Utc>,
        lock: bool,
    ) -> sqlx::Result<Option<File>> {
        let sql = format!(
            "{}{}",
            sql::find_live(),
            if lock { self.db.dialect().for_update() } else { "" }
        );
        let row = sqlx::query(&sql)
            .bind(id.as_str())
            .bind(to_millis(&now))
            .fetch_optional(conn)
            .await?;
        row.as_ref().map(file_from_row).transpose()
    }

    /// A new ownership token, which also lifts the lock.
    pub async fn set_ownership_token(
        &self,
        conn: &mut AnyConnection,
        id: &FileId,
        token: &str,
    ) -> sqlx::Result<()> {
        sqlx::query("UPDATE files SET ownership_token = $1, ownership_is_locked = 0 WHERE id = $2")
            .bind(token)
            .bind(id.as_str())
            .execute(conn)
            .await?;
        Ok(())
    }

    pub async fn lock_ownership(&self, conn: &mut AnyConnection, id: &FileId) -> sqlx::Result<()> {
        sqlx::query("UPDATE files SET ownership_is_locked = 1 WHERE id = $1")
            .bind(id.as_str())
            .execute(conn)
            .await?;
        Ok(())
    }

    /// Moves the file to its new owner with a fresh token.
    pub async fn transfer_ownership(
        &self,
        conn: &mut AnyConnection,
        id: &FileId,
        new_owner: &IdentityAddress,
        token: &str,
        now: DateTime<Utc>,
    ) -> sqlx::Result<()> {
        sqlx::query(
            "UPDATE files SET owner = $1, ownership_token = $2, last_ownership_claim_at = $3 WHERE id = $4",
        )
        .bind(new_owner.as_str())
        .bind(token)
        .bind(to_millis(&now))
        .bind(id.as_str())
        .execute(conn)
        .await?;
        Ok(())
    }

    pub async fn delete(&self, conn: &mut AnyConnection, id: &FileId) -> sqlx::Result<()> {
        sqlx::query("DELETE FROM files WHERE id = $1")
            .bind(id.as_str())
            .execute(conn)
            .await?;
        Ok(())
    }

    /// Which of `ids` have a row (expired or not): blobs of the others are orphans.
    pub async fn existing_ids(&self, ids: &[String]) -> sqlx::Result<HashSet<String>> {
        if ids.is_empty() {
            return Ok(HashSet::new());
        }
        let sql = format!(
            "SELECT id FROM files WHERE id IN ({})",
            backbone_db::placeholders(1, ids.len())
        );
        let mut query = sqlx::query_scalar::<_, String>(&sql);
        for id in ids {
            query = query.bind(id.as_str());
        }
        Ok(query.fetch_all(self.db.pool()).await?.into_iter().collect())
    }

    /// Files `creator` created that have not expired, oldest first; only those among `ids` if
    /// any are given.
    pub async fn list_created_by(
        &self,
        creator: &IdentityAddress,
        ids: &[FileId],
        now: DateTime<Utc>,
        page: PageRequest,
    ) -> sqlx::Result<Page<File>> {
        let (list, count) = (sql::list_created_by(ids.len()), sql::count_created_by(ids.len()));
        let params = with_ids(
            &[Param::Text(creator.as_str()), Param::Integer(to_millis(&now))],
            ids,
        );
        let mut conn = self.db.pool().acquire().await?;
        fetch_page(
            &mut conn,
            PagedSql {
                list: &list,
                count: &count,
            },
            &params,
            page,
        )
        .await?
        .try_map(file_from_row)
    }
}

fn file_from_row(row: &AnyRow) -> sqlx::Result<File> {
    Ok(File {
        id: FileId::from_trusted(row.try_get("id")?),
        created_at: from_millis(row.try_get("created_at")?),
        created_by: IdentityAddress::from_trusted(row.try_get("created_by")?),
        created_by_device: DeviceId::from_trusted(row.try_get("created_by_device")?),
        owner: IdentityAddress::from_trusted(row.try_get("owner")?),
        owner_signature: row.try_get("owner_signature")?,
        ownership_token: row.try_get("ownership_token")?,
        ownership_is_locked: get_flag(row, "ownership_is_locked")?,
        last_ownership_claim_at: row
            .try_get::<Option<i64>, _>("last_ownership_claim_at")?
            .map(from_millis),
        cipher_size: u64::try_from(row.try_get::<i64, _>("cipher_size")?).unwrap_or_default(),
        cipher_hash: row.try_get("cipher_hash")?,
        expires_at: from_millis(row.try_get("expires_at")?),
        encrypted_properties: row.try_get("encrypted_properties")?,
    })
}
