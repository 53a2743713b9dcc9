//! The nine tables of `backbone database export` (admin-and-services §3): each a CSV with the
//! columns of upstream's export model, in their order. Like upstream's Admin CLI, which reads
//! every module's schema through one read-only `DbContext`, these queries read across modules;
//! they never write. Identifiers and addresses stay blank unless `--sensitive`; every row
//! names the client of the identity it belongs to.

use backbone_core::encoding::{format_date, from_millis};
use backbone_db::sqlx::any::AnyRow;
use backbone_db::sqlx::{self, Row};

/// One exported table.
pub struct Table {
    pub file: &'static str,
    pub label: &'static str,
    pub header: &'static [&'static str],
    /// Rows of the table, in a stable order (the primary key).
    pub sql: &'static str,
    pub count_sql: &'static str,
    pub record: fn(&Values<'_>) -> sqlx::Result<Vec<String>>,
}

/// One row, read as the text of its CSV cells.
pub struct Values<'r> {
    pub row: &'r AnyRow,
    pub sensitive: bool,
}

impl Values<'_> {
    fn text(&self, column: &str) -> sqlx::Result<String> {
        Ok(self.row.try_get::<Option<String>, _>(column)?.unwrap_or_default())
    }

    /// An identifier or address: blank unless sensitive data is wanted.
    fn id(&self, column: &str) -> sqlx::Result<String> {
        if self.sensitive {
            self.text(column)
        } else {
            Ok(String::new())
        }
    }

    fn number(&self, column: &str) -> sqlx::Result<String> {
        Ok(self
            .row
            .try_get::<Option<i64>, _>(column)?
            .map(|n| n.to_string())
            .unwrap_or_default())
    }

    fn date(&self, column: &str) -> sqlx::Result<String> {
        Ok(self
            .row
            .try_get::<Option<i64>, _>(column)?
            .map(|millis| format_date(&from_millis(millis)))
            .unwrap_or_default())
    }

    fn flag(&self, column: &str) -> sqlx::Result<String> {
        Ok((self.row.try_get::<i64, _>(column)? != 0).to_string())
    }
}

/// The client (id, display name) of the identity whose address is in `address`, as a join.
macro_rules! client_of {
    ($address:literal, $alias:literal) => {
        concat!(
            " LEFT JOIN identities ",
            $alias,
            "i ON ",
            $alias,
            "i.address = ",
            $address,
            " LEFT JOIN oauth_clients ",
            $alias,
            "c ON ",
            $alias,
            "c.client_id = ",
            $alias,
            "i.client_id"
        )
    };
}

pub const TABLES: &[Table] = &[
    Table {
        file: "devices.csv",
        label: "Devices",
        header: &[
            "DeviceId",
            "LastLoginAt",
            "IdentityAddress",
            "CreatedAt",
            "Tier",
            "IdentityStatus",
            "IdentityDeletionGracePeriodEndsAt",
            "ClientId",
            "ClientName",
            "Platform",
        ],
        sql: concat!(
            "SELECT d.id, d.last_login_at, d.identity_address, d.created_at, t.name AS tier, i.status, ",
            "i.deletion_grace_period_ends_at, i.client_id, c.display_name, p.platform ",
            "FROM devices d JOIN identities i ON i.address = d.identity_address ",
            "LEFT JOIN tiers t ON t.id = i.tier_id LEFT JOIN oauth_clients c ON c.client_id = i.client_id ",
            "LEFT JOIN push_registrations p ON p.device_id = d.id ORDER BY d.id"
        ),
        count_sql: "SELECT COUNT(*) FROM devices",
        record: |v| {
            Ok(vec![
                v.id("id")?,
                v.date("last_login_at")?,
                v.id("identity_address")?,
                v.date("created_at")?,
                v.text("tier")?,
                v.text("status")?,
                v.date("deletion_grace_period_ends_at")?,
                v.text("client_id")?,
                v.text("display_name")?,
                v.text("platform")?,
            ])
        },
    },
    Table {
        file: "deletionAuditLogItems.csv",
        label: "Deletion audit log items",
        header: &["OldStatus", "NewStatus", "IdentityAddressHash", "MessageKey", "CreatedAt"],
        sql: "SELECT old_status, new_status, identity_address_hash, message_key, created_at \
              FROM identity_deletion_audit_log ORDER BY id",
        count_sql: "SELECT COUNT(*) FROM identity_deletion_audit_log",
        // The hash is already base64 and identifies nobody: exported as upstream does.
        record: |v| {
            Ok(vec![
                v.text("old_status")?,
                v.text("new_status")?,
                v.text("identity_address_hash")?,
                v.text("message_key")?,
                v.date("created_at")?,
            ])
        },
    },
    Table {
        file: "relationshipTemplates.csv",
        label: "Relationship templates",
        header: &["TemplateId", "CreatedBy", "CreatedByClientName", "CreatedAt", "AllocatedAt"],
        sql: concat!(
            "SELECT t.id, t.created_by, xc.display_name, t.created_at, ",
            "(SELECT MIN(a.allocated_at) FROM relationship_template_allocations a WHERE a.template_id = t.id) ",
            "AS allocated_at FROM relationship_templates t",
            client_of!("t.created_by", "x"),
            " ORDER BY t.id"
        ),
        count_sql: "SELECT COUNT(*) FROM relationship_templates",
        record: |v| {
            Ok(vec![
                v.id("id")?,
                v.id("created_by")?,
                v.text("display_name")?,
                v.date("created_at")?,
                v.date("allocated_at")?,
            ])
        },
    },
    Table {
        file: "relationships.csv",
        label: "Relationships",
        header: &[
            "RelationshipId",
            "TemplateId",
            "From",
            "FromClientId",
            "FromClientName",
            "To",
            "ToClientId",
            "ToClientName",
            "CreatedAt",
            "Status",
            "FromHasDecomposed",
            "ToHasDecomposed",
            "TemplateCreatedAt",
        ],
        sql: concat!(
            "SELECT r.id, r.template_id, r.from_address, fi.client_id AS from_client_id, ",
            "fc.display_name AS from_client_name, r.to_address, ti.client_id AS to_client_id, ",
            "tc.display_name AS to_client_name, r.created_at, r.status, r.from_has_decomposed, ",
            "r.to_has_decomposed, tpl.created_at AS template_created_at FROM relationships r",
            client_of!("r.from_address", "f"),
            client_of!("r.to_address", "t"),
            " LEFT JOIN relationship_templates tpl ON tpl.id = r.template_id ORDER BY r.id"
        ),
        count_sql: "SELECT COUNT(*) FROM relationships",
        record: |v| {
            Ok(vec![
                v.id("id")?,
                v.id("template_id")?,
                v.id("from_address")?,
                v.text("from_client_id")?,
                v.text("from_client_name")?,
                v.id("to_address")?,
                v.text("to_client_id")?,
                v.text("to_client_name")?,
                v.date("created_at")?,
                v.text("status")?,
                v.flag("from_has_decomposed")?,
                v.flag("to_has_decomposed")?,
                v.date("template_created_at")?,
            ])
        },
    },
    Table {
        file: "files.csv",
        label: "Files",
        header: &[
            "FileId",
            "CreatedBy",
            "CreatedByClientName",
            "CreatedAt",
            "Owner",
            "OwnerClientName",
            "CipherSize",
            "ExpiresAt",
        ],
        sql: concat!(
            "SELECT f.id, f.created_by, cc.display_name AS creator_client_name, f.created_at, f.owner, ",
            "oc.display_name AS owner_client_name, f.cipher_size, f.expires_at FROM files f",
            client_of!("f.created_by", "c"),
            client_of!("f.owner", "o"),
            " ORDER BY f.id"
        ),
        count_sql: "SELECT COUNT(*) FROM files",
        record: |v| {
            Ok(vec![
                v.id("id")?,
                v.id("created_by")?,
                v.text("creator_client_name")?,
                v.date("created_at")?,
                v.id("owner")?,
                v.text("owner_client_name")?,
                v.number("cipher_size")?,
                v.date("expires_at")?,
            ])
        },
    },
    Table {
        file: "messages.csv",
        label: "Messages",
        header: &[
            "MessageId",
            "CreatedBy",
            "CreatedByClientName",
            "RelationshipId",
            "Recipient",
            "RecipientClientName",
            "CreatedAt",
            "ReceivedAt",
            "CipherSize",
        ],
        // Upstream exports the first recipient of each message.
        sql: concat!(
            "SELECT m.id, m.created_by, sc.display_name AS sender_client_name, r.relationship_id, ",
            "r.address AS recipient, rc.display_name AS recipient_client_name, m.created_at, r.received_at, ",
            "CAST(LENGTH(m.body) AS BIGINT) AS cipher_size FROM messages m LEFT JOIN message_recipients r ",
            "ON r.message_id = m.id AND r.position = ",
            "(SELECT MIN(p.position) FROM message_recipients p WHERE p.message_id = m.id)",
            client_of!("m.created_by", "s"),
            client_of!("r.address", "r"),
            " ORDER BY m.id"
        ),
        count_sql: "SELECT COUNT(*) FROM messages",
        record: |v| {
            Ok(vec![
                v.id("id")?,
                v.id("created_by")?,
                v.text("sender_client_name")?,
                v.id("relationship_id")?,
                v.id("recipient")?,
                v.text("recipient_client_name")?,
                v.date("created_at")?,
                v.date("received_at")?,
                v.number("cipher_size")?,
            ])
        },
    },
    Table {
        file: "datawalletModifications.csv",
        label: "Datawallet modifications",
        header: &[
            "DatawalletModificationId",
            "CreatedAt",
            "CreatedBy",
            "CreatedByClientId",
            "CreatedByClientName",
            "ObjectIdentifier",
            "Collection",
            "Type",
            "PayloadCategory",
            "PayloadSize",
        ],
        sql: concat!(
            "SELECT d.id, d.created_at, d.created_by, xi.client_id, xc.display_name, d.object_identifier, ",
            "d.collection, d.modification_type, d.payload_category, CAST(LENGTH(d.encrypted_payload) AS BIGINT) AS payload_size ",
            "FROM datawallet_modifications d",
            client_of!("d.created_by", "x"),
            " ORDER BY d.id"
        ),
        count_sql: "SELECT COUNT(*) FROM datawallet_modifications",
        record: |v| {
            Ok(vec![
                v.id("id")?,
                v.date("created_at")?,
                v.id("created_by")?,
                v.text("client_id")?,
                v.text("display_name")?,
                v.text("object_identifier")?,
                v.text("collection")?,
                v.text("modification_type")?,
                v.text("payload_category")?,
                v.number("payload_size")?,
            ])
        },
    },
    Table {
        file: "tokens.csv",
        label: "Tokens",
        header: &[
            "TokenId",
            "CreatedAt",
            "CreatedBy",
            "CreatedByClientId",
            "CreatedByClientName",
            "CipherSize",
            "ExpiresAt",
        ],
        sql: concat!(
            "SELECT t.id, t.created_at, t.created_by, xi.client_id, xc.display_name, ",
            "CAST(LENGTH(t.content) AS BIGINT) AS cipher_size, t.expires_at FROM tokens t",
            client_of!("t.created_by", "x"),
            " ORDER BY t.id"
        ),
        count_sql: "SELECT COUNT(*) FROM tokens",
        record: |v| {
            Ok(vec![
                v.id("id")?,
                v.date("created_at")?,
                v.id("created_by")?,
                v.text("client_id")?,
                v.text("display_name")?,
                v.number("cipher_size")?,
                v.date("expires_at")?,
            ])
        },
    },
    Table {
        file: "syncErrors.csv",
        label: "Sync errors",
        header: &[
            "ErrorId",
            "SyncItemOwner",
            "SyncItemOwnerClientId",
            "SyncItemOwnerClientName",
            "CreatedAt",
            "ErrorCode",
        ],
        // A sync error is recorded when its run is finalized; our table keeps no time of its
        // own, so the run's start stands in for it.
        sql: concat!(
            "SELECT s.id, e.owner, xi.client_id, xc.display_name, r.created_at, s.error_code ",
            "FROM sync_errors s JOIN external_events e ON e.id = s.external_event_id ",
            "LEFT JOIN sync_runs r ON r.id = s.sync_run_id",
            client_of!("e.owner", "x"),
            " ORDER BY s.id"
        ),
        count_sql: "SELECT COUNT(*) FROM sync_errors",
        // upstream exports the error's ID even without `--sensitive`.
        record: |v| {
            Ok(vec![
                v.text("id")?,
                v.id("owner")?,
                v.text("client_id")?,
                v.text("display_name")?,
                v.date("created_at")?,
                v.text("error_code")?,
            ])
        },
    },
];
