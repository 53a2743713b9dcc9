//! The tables this module owns: `tokens` and `token_allocations`. Functions that take a
//! connection run inside the caller's transaction, so a use case commits all of its changes
//! (including outbox events) or none.

use backbone_core::encoding::{from_millis, to_millis};
use backbone_core::events::DomainEvent;
use backbone_core::ids::{DeviceId, TokenId};
use backbone_core::paging::{Page, PageRequest};
use backbone_core::IdentityAddress;
use backbone_db::anonymise::replace_address;
use backbone_db::sqlx::any::AnyRow;
use backbone_db::sqlx::{self, AnyConnection, Row};
use backbone_db::{fetch_page, outbox, with_ids, Database, PagedSql, Param};
use chrono::{DateTime, Utc};

use crate::Token;

const TOKEN_COLUMNS: &str =
    "id, created_by, created_by_device, created_at, expires_at, for_identity, password, \
                             content, access_failed_count";

/// The SQL behind the request paths, public for the query-plan test
/// (`bins/backbone/tests/query_plans.rs`), which EXPLAINs exactly these texts.
pub mod sql {
    /// Tokens $1 created with `$2 <= created_at <= $3` (the `NumberOfTokens` quota).
    pub const COUNT_CREATED: &str =
        "SELECT COUNT(*) FROM tokens WHERE created_by = $1 AND created_at BETWEEN $2 AND $3";

    /// Who read which token first.
    pub const ALLOCATIONS: backbone_db::Allocations =
        backbone_db::Allocations::new("token_allocations", "token_id");

    pub fn find() -> String {
        format!("SELECT {} FROM tokens WHERE id = $1", super::TOKEN_COLUMNS)
    }

    /// The tokens among `ids` ($2, …) that $1 created or has allocated.
    fn filter(ids: usize) -> String {
        format!(
            "FROM tokens t WHERE t.id IN ({}) AND (t.created_by = $1 OR EXISTS \
             (SELECT 1 FROM token_allocations a WHERE a.token_id = t.id AND a.allocated_by = $1))",
            backbone_db::placeholders(2, ids)
        )
    }

    /// A page of [`filter`], oldest first; limit and offset follow the IDs.
    pub fn list(ids: usize) -> String {
        let next = ids + 2;
        let columns = super::TOKEN_COLUMNS
            .split(", ")
            .map(|c| format!("t.{c}"))
            .collect::<Vec<_>>()
            .join(", ");
        format!(
            "SELECT {columns} {} ORDER BY t.created_at, t.id LIMIT ${next} OFFSET ${}",
            filter(ids),
            next + 1
        )
    }

    pub fn count(ids: usize) -> String {
        format!("SELECT COUNT(*) {}", filter(ids))
    }
}

#[derive(Debug, Clone)]
pub struct TokensStore {
    db: Database,
}

impl TokensStore {
    pub fn new(db: Database) -> Self {
        Self { db }
    }

    /// The deletion job's step for this module: the identity's tokens are deleted; tokens
    /// for it and its allocations name the anonymous address instead.
    pub async fn delete_identity(
        &self,
        conn: &mut AnyConnection,
        identity: &IdentityAddress,
        anonymous: &IdentityAddress,
    ) -> sqlx::Result<()> {
        sqlx::query("DELETE FROM tokens WHERE created_by = $1")
            .bind(identity.as_str())
            .execute(&mut *conn)
            .await?;
        replace_address(conn, "tokens", "for_identity", identity, anonymous).await?;
        sql::ALLOCATIONS.hand_over(conn, identity, anonymous).await?;
        Ok(())
    }

    pub fn db(&self) -> &Database {
        &self.db
    }

    /// Inserts a new token and its `TokenCreated` event.
    /// Inserts the token with its event, on the caller's write transaction.
    pub async fn insert(
        &self,
        conn: &mut AnyConnection,
        token: &Token,
        event: &DomainEvent,
    ) -> sqlx::Result<()> {
        sqlx::query(&format!(
            "INSERT INTO tokens ({TOKEN_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
        ))
        .bind(token.id.as_str())
        .bind(token.created_by.as_ref().map(|a| a.as_str().to_owned()))
        .bind(token.created_by_device.as_ref().map(|d| d.as_str().to_owned()))
        .bind(to_millis(&token.created_at))
        .bind(to_millis(&token.expires_at))
        .bind(token.for_identity.as_ref().map(|a| a.as_str().to_owned()))
        .bind(token.password.as_deref())
        .bind(token.content.as_deref())
        .bind(token.access_failed_count)
        .execute(&mut *conn)
        .await?;
        outbox::enqueue(conn, event, token.created_at).await
    }

    /// `NumberOfTokens`: tokens `identity` created with `from <= created_at <= to`.
    pub async fn count_created(
        &self,
        conn: &mut AnyConnection,
        identity: &IdentityAddress,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> sqlx::Result<i64> {
        backbone_db::count_in_window(conn, sql::COUNT_CREATED, identity, from, to).await
    }

    /// The token; with `lock`, its row stays locked for the rest of the transaction.
    pub async fn find(
        &self,
        conn: &mut AnyConnection,
        id: &TokenId,
        lock: bool,
    ) -> sqlx::Result<Option<Token>> {
        let sql = format!(
            "{}{}",
            sql::find(),
            if lock { self.db.dialect().for_update() } else { "" }
        );
        let row = sqlx::query(&sql).bind(id.as_str()).fetch_optional(conn).await?;
        row.as_ref().map(token_from_row).transpose()
    }

    pub async fn has_allocation(
        &self,
        conn: &mut AnyConnection,
        id: &TokenId,
        identity: &IdentityAddress,
    ) -> sqlx::Result<bool> {
        sql::ALLOCATIONS.has(conn, id.as_str(), identity).await
    }

    /// Records that `identity` read the token (once per identity).
    pub async fn allocate(
        &self,
        conn: &mut AnyConnection,
        id: &TokenId,
        identity: &IdentityAddress,
        device: &DeviceId,
        now: DateTime<Utc>,
    ) -> sqlx::Result<()> {
        sql::ALLOCATIONS
            .insert(conn, id.as_str(), identity, device, now)
            .await
    }

    /// Counts a failed password attempt in the database (not from a value read earlier, so
    /// concurrent failures all count); returns the new count.
    pub async fn increment_access_failed_count(
        &self,
        conn: &mut AnyConnection,
        id: &TokenId,
    ) -> sqlx::Result<i64> {
        sqlx::query_scalar(
            "UPDATE tokens SET access_failed_count = access_failed_count + 1 WHERE id = $1 \
             RETURNING access_failed_count",
        )
        .bind(id.as_str())
        .fetch_one(conn)
        .await
    }

    /// Fills an empty token and makes the filler its creator; `false` if it was not empty.
    pub async fn fill(
        &self,
        conn: &mut AnyConnection,
        id: &TokenId,
        content: &[u8],
        created_by: &IdentityAddress,
        created_by_device: &DeviceId,
    ) -> sqlx::Result<bool> {
        let result = sqlx::query(
            "UPDATE tokens SET content = $1, created_by = $2, created_by_device = $3 \
             WHERE id = $4 AND content IS NULL",
        )
        .bind(content)
        .bind(created_by.as_str())
        .bind(created_by_device.as_str())
        .bind(id.as_str())
        .execute(conn)
        .await?;
        Ok(result.rows_affected() == 1)
    }

    /// Deletes the token; its allocations go with it (`ON DELETE CASCADE`).
    pub async fn delete(&self, conn: &mut AnyConnection, id: &TokenId) -> sqlx::Result<()> {
        sqlx::query("DELETE FROM tokens WHERE id = $1")
            .bind(id.as_str())
            .execute(conn)
            .await?;
        Ok(())
    }

    /// The tokens among `ids` that `identity` created or has allocated, oldest first.
    pub async fn list(
        &self,
        identity: &IdentityAddress,
        ids: &[TokenId],
        page: PageRequest,
    ) -> sqlx::Result<Page<Token>> {
        // $1 is the identity, then one positional parameter per requested ID.
        let (list, count) = (sql::list(ids.len()), sql::count(ids.len()));
        let params = with_ids(&[Param::Text(identity.as_str())], ids);
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
        .try_map(token_from_row)
    }
}

pub(crate) fn token_from_row(row: &AnyRow) -> sqlx::Result<Token> {
    Ok(Token {
        id: TokenId::from_trusted(row.try_get("id")?),
        created_by: row
            .try_get::<Option<String>, _>("created_by")?
            .map(IdentityAddress::from_trusted),
        created_by_device: row
            .try_get::<Option<String>, _>("created_by_device")?
            .map(DeviceId::from_trusted),
        created_at: from_millis(row.try_get("created_at")?),
        expires_at: from_millis(row.try_get("expires_at")?),
        for_identity: row
            .try_get::<Option<String>, _>("for_identity")?
            .map(IdentityAddress::from_trusted),
        password: row.try_get("password")?,
        content: row.try_get("content")?,
        access_failed_count: row.try_get("access_failed_count")?,
    })
}
