//! The tables this module owns: `messages`, `message_recipients`, `message_attachments`.

use backbone_core::encoding::{from_millis, to_millis};
use backbone_core::ids::{DeviceId, MessageId};
use backbone_core::paging::{Page, PageRequest};
use backbone_core::IdentityAddress;
use backbone_db::anonymise::replace_address;
use backbone_db::sqlx::any::AnyRow;
use backbone_db::sqlx::{self, AnyConnection, Row};
use backbone_db::{fetch_page, get_flag, with_ids, Database, PagedSql, Param};
use chrono::{DateTime, Utc};
use std::collections::HashMap;

use crate::domain::{Message, Recipient};

/// The SQL behind the request paths, public for the query-plan test
/// (`bins/backbone/tests/query_plans.rs`), which EXPLAINs exactly these texts.
pub mod sql {
    /// Messages $1 sent with `$2 <= created_at <= $3` (the `NumberOfSentMessages` quota).
    pub const COUNT_SENT: &str =
        "SELECT COUNT(*) FROM messages WHERE created_by = $1 AND created_at BETWEEN $2 AND $3";

    /// Messages the caller ($1) may see: as sender while a recipient entry is not decomposed by
    /// it, as recipient while its own entry is not decomposed by it.
    pub const VISIBLE_TO_CALLER: &str = "((m.created_by = $1 AND EXISTS (SELECT 1 FROM message_recipients r \
        WHERE r.message_id = m.id AND r.decomposed_by_sender = 0)) OR EXISTS (SELECT 1 FROM message_recipients r \
        WHERE r.message_id = m.id AND r.address = $1 AND r.decomposed_by_recipient = 0))";

    /// A page ($2 rows after $3) of the caller's ($1) visible messages, oldest first: the same
    /// set as [`VISIBLE_TO_CALLER`], read from the recipient entries (each carries its message's
    /// sender and time), so each side is an index range in list order. A page of the union lies
    /// within the first `$2 + $3` entries of each side, so that is all that is read.
    pub const LIST_PAGE: &str = "SELECT m.id, m.created_at, m.created_by, m.created_by_device, m.body \
        FROM messages m JOIN (\
        SELECT created_at, message_id FROM (SELECT created_at, message_id FROM message_recipients \
        WHERE sender = $1 AND decomposed_by_sender = 0 ORDER BY created_at, message_id LIMIT $2 + $3) sent \
        UNION SELECT created_at, message_id FROM (SELECT created_at, message_id FROM message_recipients \
        WHERE address = $1 AND decomposed_by_recipient = 0 ORDER BY created_at, message_id LIMIT $2 + $3) received \
        ORDER BY created_at, message_id LIMIT $2 OFFSET $3) page ON page.message_id = m.id \
        ORDER BY m.created_at, m.id";

    /// How many messages the caller ($1) may see: two index-only ranges of the caller's entries.
    pub const COUNT: &str = "SELECT COUNT(*) FROM (\
        SELECT message_id FROM message_recipients WHERE sender = $1 AND decomposed_by_sender = 0 \
        UNION SELECT message_id FROM message_recipients WHERE address = $1 AND decomposed_by_recipient = 0) visible";

    /// Messages from $1 that $2 has not fetched yet: at most the configured limit of index entries.
    pub const UNRECEIVED_COUNT: &str =
        "SELECT COUNT(*) FROM message_recipients WHERE address = $2 AND sender = $1 AND received_at IS NULL";

    /// Decomposition, as the sender $2 of messages to $1 (an entry carries its message's sender).
    pub const DECOMPOSED_BY_SENDER: &str =
        "UPDATE message_recipients SET decomposed_by_sender = 1 WHERE address = $1 AND sender = $2";
    /// Decomposition, as the recipient $1 of messages from $2.
    pub const DECOMPOSED_BY_RECIPIENT: &str =
        "UPDATE message_recipients SET decomposed_by_recipient = 1 WHERE address = $1 AND sender = $2";
    pub const ANONYMISE_DECOMPOSED_ENTRIES: &str = "UPDATE message_recipients SET address = $1 \
        WHERE decomposed_by_sender = 1 AND decomposed_by_recipient = 1 AND address IN ($2, $3)";
    /// Messages of $2 or $3 whose every entry is decomposed by both sides get the anonymous
    /// sender $1. Every message has entries, and they carry its sender: grouping the two
    /// identities' entries (index-only) finds these messages without reading each message row.
    pub const ANONYMISE_DECOMPOSED_SENDERS: &str = "UPDATE messages SET created_by = $1 \
        WHERE created_by IN ($2, $3) AND id IN (SELECT message_id FROM message_recipients \
        WHERE sender IN ($2, $3) GROUP BY message_id \
        HAVING MIN(decomposed_by_sender) = 1 AND MIN(decomposed_by_recipient) = 1)";
    /// Anonymous ($1) messages whose every entry is anonymous too.
    pub const DELETE_ORPHANED: &str = "DELETE FROM messages WHERE created_by = $1 AND NOT EXISTS \
        (SELECT 1 FROM message_recipients r WHERE r.message_id = messages.id AND r.address <> $1)";

    /// The message $2 if the caller ($1) may see it.
    pub fn find_visible() -> String {
        format!(
            "SELECT m.id, m.created_at, m.created_by, m.created_by_device, m.body FROM messages m \
             WHERE m.id = $2 AND {VISIBLE_TO_CALLER}"
        )
    }

    /// The caller's ($1) visible messages among the given IDs ($2, …), then limit and offset.
    pub fn list_by_ids(ids: usize) -> String {
        let next = ids + 2;
        format!(
            "SELECT m.id, m.created_at, m.created_by, m.created_by_device, m.body FROM messages m \
             WHERE {VISIBLE_TO_CALLER} AND m.id IN ({}) ORDER BY m.created_at, m.id LIMIT ${next} OFFSET ${}",
            backbone_db::placeholders(2, ids),
            next + 1
        )
    }

    pub fn count_by_ids(ids: usize) -> String {
        format!(
            "SELECT COUNT(*) FROM messages m WHERE {VISIBLE_TO_CALLER} AND m.id IN ({})",
            backbone_db::placeholders(2, ids)
        )
    }

    /// The recipients of several messages ($1, …) at once, in message and position order.
    pub fn recipients_of(messages: usize) -> String {
        format!(
            "SELECT message_id, address, relationship_id, encrypted_key, received_at, received_by_device, \
             decomposed_by_sender, decomposed_by_recipient FROM message_recipients WHERE message_id IN ({}) \
             ORDER BY message_id, position",
            backbone_db::placeholders(1, messages)
        )
    }

    pub fn attachments_of(messages: usize) -> String {
        format!(
            "SELECT message_id, file_id FROM message_attachments WHERE message_id IN ({}) ORDER BY message_id, position",
            backbone_db::placeholders(1, messages)
        )
    }
}

#[derive(Debug, Clone)]
pub struct MessagesStore {
    db: Database,
}

impl MessagesStore {
    pub fn new(db: Database) -> Self {
        Self { db }
    }

    pub fn db(&self) -> &Database {
        &self.db
    }

    pub async fn insert_message(&self, conn: &mut AnyConnection, message: &Message) -> sqlx::Result<()> {
        sqlx::query("INSERT INTO messages (id, created_at, created_by, created_by_device, body) VALUES ($1, $2, $3, $4, $5)")
            .bind(message.id.as_str())
            .bind(to_millis(&message.created_at))
            .bind(message.created_by.as_str())
            .bind(message.created_by_device.as_str())
            .bind(message.body.as_slice())
            .execute(&mut *conn)
            .await?;
        for (position, recipient) in (0_i64..).zip(&message.recipients) {
            sqlx::query(
                "INSERT INTO message_recipients (message_id, position, address, relationship_id, encrypted_key, \
                 sender, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(message.id.as_str())
            .bind(position)
            .bind(recipient.address.as_str())
            .bind(&recipient.relationship_id)
            .bind(recipient.encrypted_key.as_slice())
            .bind(message.created_by.as_str())
            .bind(to_millis(&message.created_at))
            .execute(&mut *conn)
            .await?;
        }
        for (position, file) in (0_i64..).zip(&message.attachments) {
            sqlx::query(
                "INSERT INTO message_attachments (message_id, position, file_id) VALUES ($1, $2, $3)",
            )
            .bind(message.id.as_str())
            .bind(position)
            .bind(file)
            .execute(&mut *conn)
            .await?;
        }
        Ok(())
    }

    /// Messages `sender` sent with `from <= created_at <= to` (the `NumberOfSentMessages` quota).
    pub async fn count_sent(
        &self,
        conn: &mut AnyConnection,
        sender: &IdentityAddress,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> sqlx::Result<i64> {
        backbone_db::count_in_window(conn, sql::COUNT_SENT, sender, from, to).await
    }

    /// Messages from `sender` that `recipient` has not fetched yet.
    pub async fn unreceived_count(
        &self,
        conn: &mut AnyConnection,
        sender: &IdentityAddress,
        recipient: &IdentityAddress,
    ) -> sqlx::Result<i64> {
        sqlx::query_scalar(sql::UNRECEIVED_COUNT)
            .bind(sender.as_str())
            .bind(recipient.as_str())
            .fetch_one(conn)
            .await
    }

    pub async fn find_visible(
        &self,
        conn: &mut AnyConnection,
        caller: &IdentityAddress,
        id: &MessageId,
    ) -> sqlx::Result<Option<Message>> {
        let row = sqlx::query(&sql::find_visible())
            .bind(caller.as_str())
            .bind(id.as_str())
            .fetch_optional(&mut *conn)
            .await?;
        match row {
            Some(row) => Ok(self.complete(conn, &[row]).await?.pop()),
            None => Ok(None),
        }
    }

    /// The caller's visible messages, optionally only the given IDs, oldest first.
    pub async fn list_visible(
        &self,
        conn: &mut AnyConnection,
        caller: &IdentityAddress,
        ids: &[MessageId],
        page: PageRequest,
    ) -> sqlx::Result<Page<Message>> {
        let (list, count) = if ids.is_empty() {
            (sql::LIST_PAGE.to_owned(), sql::COUNT.to_owned())
        } else {
            (sql::list_by_ids(ids.len()), sql::count_by_ids(ids.len()))
        };
        let params = with_ids(&[Param::Text(caller.as_str())], ids);
        let rows = fetch_page(
            conn,
            PagedSql {
                list: &list,
                count: &count,
            },
            &params,
            page,
        )
        .await?;
        let items = self.complete(conn, &rows.items).await?;
        Ok(Page {
            items,
            request: rows.request,
            total_records: rows.total_records,
        })
    }

    /// Marks the caller's entry of a message received, the first time only.
    pub async fn mark_received(
        &self,
        conn: &mut AnyConnection,
        id: &MessageId,
        recipient: &IdentityAddress,
        device: &DeviceId,
        now: DateTime<Utc>,
    ) -> sqlx::Result<()> {
        sqlx::query(
            "UPDATE message_recipients SET received_at = $1, received_by_device = $2 \
             WHERE message_id = $3 AND address = $4 AND received_at IS NULL",
        )
        .bind(to_millis(&now))
        .bind(device.as_str())
        .bind(id.as_str())
        .bind(recipient.as_str())
        .execute(conn)
        .await?;
        Ok(())
    }

    /// Records that `initiator` decomposed its relationship with `peer`: flags the entries of
    /// messages between the two, anonymises fully decomposed entries and senders, and deletes
    /// messages nobody can see any more.
    pub async fn decompose(
        &self,
        conn: &mut AnyConnection,
        initiator: &IdentityAddress,
        peer: &IdentityAddress,
        anonymous: &IdentityAddress,
    ) -> sqlx::Result<()> {
        // As sender: the initiator's messages to the peer.
        sqlx::query(sql::DECOMPOSED_BY_SENDER)
            .bind(peer.as_str())
            .bind(initiator.as_str())
            .execute(&mut *conn)
            .await?;
        // As recipient: the peer's messages to the initiator.
        sqlx::query(sql::DECOMPOSED_BY_RECIPIENT)
            .bind(initiator.as_str())
            .bind(peer.as_str())
            .execute(&mut *conn)
            .await?;
        // Entries decomposed by both sides no longer name the recipient.
        sqlx::query(sql::ANONYMISE_DECOMPOSED_ENTRIES)
            .bind(anonymous.as_str())
            .bind(initiator.as_str())
            .bind(peer.as_str())
            .execute(&mut *conn)
            .await?;
        // Once every entry is decomposed by both sides, the sender is anonymised too …
        sqlx::query(sql::ANONYMISE_DECOMPOSED_SENDERS)
            .bind(anonymous.as_str())
            .bind(initiator.as_str())
            .bind(peer.as_str())
            .execute(&mut *conn)
            .await?;
        // … and a message with nobody left is deleted.
        sqlx::query(sql::DELETE_ORPHANED)
            .bind(anonymous.as_str())
            .execute(conn)
            .await?;
        Ok(())
    }

    /// Replaces a deleted identity by the anonymous address as sender and recipient, then
    /// deletes messages that name nobody any more.
    pub async fn anonymise_identity(
        &self,
        conn: &mut AnyConnection,
        identity: &IdentityAddress,
        anonymous: &IdentityAddress,
    ) -> sqlx::Result<()> {
        replace_address(conn, "messages", "created_by", identity, anonymous).await?;
        replace_address(conn, "message_recipients", "address", identity, anonymous).await?;
        // The entries' copy of the sender follows, or an identity later created with the same
        // address would see these messages as its own.
        replace_address(conn, "message_recipients", "sender", identity, anonymous).await?;
        sqlx::query(sql::DELETE_ORPHANED)
            .bind(anonymous.as_str())
            .execute(&mut *conn)
            .await?;
        Ok(())
    }

    /// The messages of these rows with their recipients and attachments, in row order: two
    /// queries for the whole page rather than two per message.
    async fn complete(&self, conn: &mut AnyConnection, rows: &[AnyRow]) -> sqlx::Result<Vec<Message>> {
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        let ids = rows
            .iter()
            .map(|row| row.try_get::<String, _>("id"))
            .collect::<sqlx::Result<Vec<_>>>()?;
        let mut recipients: HashMap<String, Vec<Recipient>> = HashMap::new();
        let recipients_sql = sql::recipients_of(ids.len());
        let mut query = sqlx::query(&recipients_sql);
        for id in &ids {
            query = query.bind(id.as_str());
        }
        for row in query.fetch_all(&mut *conn).await? {
            let message: String = row.try_get("message_id")?;
            recipients
                .entry(message)
                .or_default()
                .push(recipient_from_row(&row)?);
        }
        let mut attachments: HashMap<String, Vec<String>> = HashMap::new();
        let attachments_sql = sql::attachments_of(ids.len());
        let mut query = sqlx::query(&attachments_sql);
        for id in &ids {
            query = query.bind(id.as_str());
        }
        for row in query.fetch_all(&mut *conn).await? {
            let message: String = row.try_get("message_id")?;
            attachments
                .entry(message)
                .or_default()
                .push(row.try_get("file_id")?);
        }
        rows.iter()
            .zip(ids)
            .map(|(row, id)| {
                Ok(Message {
                    recipients: recipients.remove(&id).unwrap_or_default(),
                    attachments: attachments.remove(&id).unwrap_or_default(),
                    id: MessageId::from_trusted(id),
                    created_at: from_millis(row.try_get("created_at")?),
                    created_by: IdentityAddress::from_trusted(row.try_get("created_by")?),
                    created_by_device: DeviceId::from_trusted(row.try_get("created_by_device")?),
                    body: row.try_get("body")?,
                })
            })
            .collect()
    }
}

fn recipient_from_row(row: &AnyRow) -> sqlx::Result<Recipient> {
    Ok(Recipient {
        address: IdentityAddress::from_trusted(row.try_get("address")?),
        relationship_id: row.try_get("relationship_id")?,
        encrypted_key: row.try_get("encrypted_key")?,
        received_at: row.try_get::<Option<i64>, _>("received_at")?.map(from_millis),
        received_by_device: row
            .try_get::<Option<String>, _>("received_by_device")?
            .map(DeviceId::from_trusted),
        decomposed_by_sender: get_flag(row, "decomposed_by_sender")?,
        decomposed_by_recipient: get_flag(row, "decomposed_by_recipient")?,
    })
}
