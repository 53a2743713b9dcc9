//! The tables this module owns: `messages`, `message_recipients`, `message_attachments`.

use backbone_core::encoding::{from_millis, to_millis};
use backbone_core::ids::{DeviceId, MessageId};
use backbone_core::paging::{Page, PageRequest};
use backbone_core::IdentityAddress;
use backbone_db::sqlx::any::AnyRow;
use backbone_db::sqlx::{self, AnyConnection, Row};
use backbone_db::{get_flag, Database};
use chrono::{DateTime, Utc};

use crate::domain::{Message, Recipient};

/// Messages the caller ($1) may see: as sender while a recipient entry is not decomposed by
/// it, as recipient while its own entry is not decomposed by it.
const VISIBLE_TO_CALLER: &str = "((m.created_by = $1 AND EXISTS (SELECT 1 FROM message_recipients r \
    WHERE r.message_id = m.id AND r.decomposed_by_sender = 0)) OR EXISTS (SELECT 1 FROM message_recipients r \
    WHERE r.message_id = m.id AND r.address = $1 AND r.decomposed_by_recipient = 0))";

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
        for (position, recipient) in message.recipients.iter().enumerate() {
            sqlx::query(
                "INSERT INTO message_recipients (message_id, position, address, relationship_id, encrypted_key) \
                 VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(message.id.as_str())
            .bind(position as i64)
            .bind(recipient.address.as_str())
            .bind(&recipient.relationship_id)
            .bind(recipient.encrypted_key.as_slice())
            .execute(&mut *conn)
            .await?;
        }
        for (position, file) in message.attachments.iter().enumerate() {
            sqlx::query(
                "INSERT INTO message_attachments (message_id, position, file_id) VALUES ($1, $2, $3)",
            )
            .bind(message.id.as_str())
            .bind(position as i64)
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
        sqlx::query_scalar(
            "SELECT COUNT(*) FROM messages WHERE created_by = $1 AND created_at BETWEEN $2 AND $3",
        )
        .bind(sender.as_str())
        .bind(to_millis(&from))
        .bind(to_millis(&to))
        .fetch_one(conn)
        .await
    }

    /// Messages from `sender` that `recipient` has not fetched yet.
    pub async fn unreceived_count(
        &self,
        conn: &mut AnyConnection,
        sender: &IdentityAddress,
        recipient: &IdentityAddress,
    ) -> sqlx::Result<i64> {
        sqlx::query_scalar(
            "SELECT COUNT(*) FROM message_recipients r JOIN messages m ON m.id = r.message_id \
             WHERE m.created_by = $1 AND r.address = $2 AND r.received_at IS NULL",
        )
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
        let row = sqlx::query(&format!(
            "SELECT m.id, m.created_at, m.created_by, m.created_by_device, m.body FROM messages m \
             WHERE m.id = $2 AND {VISIBLE_TO_CALLER}"
        ))
        .bind(caller.as_str())
        .bind(id.as_str())
        .fetch_optional(&mut *conn)
        .await?;
        match row {
            Some(row) => Ok(Some(self.complete(conn, &row).await?)),
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
        let id_filter = if ids.is_empty() {
            String::new()
        } else {
            let placeholders = backbone_db::placeholders(2, ids.len());
            format!(" AND m.id IN ({})", placeholders)
        };
        let next = ids.len() + 2;
        let list_sql = format!(
            "SELECT m.id, m.created_at, m.created_by, m.created_by_device, m.body FROM messages m \
             WHERE {VISIBLE_TO_CALLER}{id_filter} ORDER BY m.created_at, m.id LIMIT ${next} OFFSET ${}",
            next + 1
        );
        let count_sql = format!("SELECT COUNT(*) FROM messages m WHERE {VISIBLE_TO_CALLER}{id_filter}");
        let mut list = sqlx::query(&list_sql).bind(caller.as_str());
        let mut count = sqlx::query_scalar::<_, i64>(&count_sql).bind(caller.as_str());
        for id in ids {
            list = list.bind(id.as_str());
            count = count.bind(id.as_str());
        }
        let rows = list
            .bind(page.limit())
            .bind(page.offset())
            .fetch_all(&mut *conn)
            .await?;
        let total = count.fetch_one(&mut *conn).await?;
        let mut items = Vec::with_capacity(rows.len());
        for row in &rows {
            items.push(self.complete(conn, row).await?);
        }
        Ok(Page {
            items,
            request: page,
            total_records: total as u64,
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
        sqlx::query(
            "UPDATE message_recipients SET decomposed_by_sender = 1 WHERE address = $1 \
             AND message_id IN (SELECT id FROM messages WHERE created_by = $2)",
        )
        .bind(peer.as_str())
        .bind(initiator.as_str())
        .execute(&mut *conn)
        .await?;
        // As recipient: the peer's messages to the initiator.
        sqlx::query(
            "UPDATE message_recipients SET decomposed_by_recipient = 1 WHERE address = $1 \
             AND message_id IN (SELECT id FROM messages WHERE created_by = $2)",
        )
        .bind(initiator.as_str())
        .bind(peer.as_str())
        .execute(&mut *conn)
        .await?;
        // Entries decomposed by both sides no longer name the recipient.
        sqlx::query(
            "UPDATE message_recipients SET address = $1 WHERE decomposed_by_sender = 1 AND decomposed_by_recipient = 1 \
             AND address IN ($2, $3)",
        )
        .bind(anonymous.as_str())
        .bind(initiator.as_str())
        .bind(peer.as_str())
        .execute(&mut *conn)
        .await?;
        // Once every entry is decomposed by both sides, the sender is anonymised too …
        sqlx::query(
            "UPDATE messages SET created_by = $1 WHERE created_by IN ($2, $3) AND NOT EXISTS (SELECT 1 \
             FROM message_recipients r WHERE r.message_id = messages.id AND \
             (r.decomposed_by_sender = 0 OR r.decomposed_by_recipient = 0))",
        )
        .bind(anonymous.as_str())
        .bind(initiator.as_str())
        .bind(peer.as_str())
        .execute(&mut *conn)
        .await?;
        // … and a message with nobody left is deleted.
        sqlx::query(
            "DELETE FROM messages WHERE created_by = $1 AND NOT EXISTS (SELECT 1 FROM message_recipients r \
             WHERE r.message_id = messages.id AND r.address <> $1)",
        )
        .bind(anonymous.as_str())
        .execute(conn)
        .await?;
        Ok(())
    }

    /// Replaces a deleted identity by the anonymous address as sender and recipient, then
    /// deletes messages that name nobody any more.
    pub async fn anonymise_identity(
        &self,
        identity: &IdentityAddress,
        anonymous: &IdentityAddress,
    ) -> sqlx::Result<()> {
        let mut tx = self.db.begin_write().await?;
        sqlx::query("UPDATE messages SET created_by = $1 WHERE created_by = $2")
            .bind(anonymous.as_str())
            .bind(identity.as_str())
            .execute(&mut *tx)
            .await?;
        sqlx::query("UPDATE message_recipients SET address = $1 WHERE address = $2")
            .bind(anonymous.as_str())
            .bind(identity.as_str())
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "DELETE FROM messages WHERE created_by = $1 AND NOT EXISTS (SELECT 1 FROM message_recipients r \
             WHERE r.message_id = messages.id AND r.address <> $1)",
        )
        .bind(anonymous.as_str())
        .execute(&mut *tx)
        .await?;
        tx.commit().await
    }

    async fn complete(&self, conn: &mut AnyConnection, row: &AnyRow) -> sqlx::Result<Message> {
        let id = MessageId::from_trusted(row.try_get("id")?);
        let recipients = sqlx::query(
            "SELECT address, relationship_id, encrypted_key, received_at, received_by_device, decomposed_by_sender, \
             decomposed_by_recipient FROM message_recipients WHERE message_id = $1 ORDER BY position",
        )
        .bind(id.as_str())
        .fetch_all(&mut *conn)
        .await?
        .iter()
        .map(recipient_from_row)
        .collect::<sqlx::Result<Vec<_>>>()?;
        let attachments: Vec<String> = sqlx::query_scalar(
            "SELECT file_id FROM message_attachments WHERE message_id = $1 ORDER BY position",
        )
        .bind(id.as_str())
        .fetch_all(&mut *conn)
        .await?;
        Ok(Message {
            id,
            created_at: from_millis(row.try_get("created_at")?),
            created_by: IdentityAddress::from_trusted(row.try_get("created_by")?),
            created_by_device: DeviceId::from_trusted(row.try_get("created_by_device")?),
            body: row.try_get("body")?,
            attachments,
            recipients,
        })
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
