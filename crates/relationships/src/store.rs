//! The tables this module owns: `relationship_templates`, `relationship_template_allocations`,
//! `relationships`, `relationship_audit_log`. Functions taking a connection run inside the
//! caller's transaction.

use backbone_core::encoding::{from_millis, to_millis};
use backbone_core::events::DomainEvent;
use backbone_core::ids::{DeviceId, RelationshipAuditLogEntryId, RelationshipId, RelationshipTemplateId};
use backbone_core::paging::{Page, PageRequest};
use backbone_core::status::UnknownValue;
use backbone_core::IdentityAddress;
use backbone_db::anonymise::replace_address;
use backbone_db::sqlx::any::AnyRow;
use backbone_db::sqlx::{self, AnyConnection, Row};
use backbone_db::{fetch_page, get_flag, outbox, with_ids, Database, PagedSql, Param};
use chrono::{DateTime, Utc};
use std::collections::HashMap;

use crate::domain::{AuditEntry, AuditReason, Relationship, RelationshipStatus, Template, BLOCKING_STATUSES};

const TEMPLATE_COLUMNS: &str = "id, created_by, created_by_device, created_at, expires_at, \
    max_number_of_allocations, for_identity, password, content";
const RELATIONSHIP_COLUMNS: &str = "id, template_id, from_address, to_address, created_at, status, \
    creation_content, creation_response_content, from_has_decomposed, to_has_decomposed";

/// The SQL behind the request paths, public for the query-plan test
/// (`bins/backbone/tests/query_plans.rs`), which EXPLAINs exactly these texts.
pub mod sql {
    pub const YOUNGEST_BETWEEN: &str =
        "SELECT id, status FROM relationships WHERE pair_key = $1 ORDER BY created_at DESC, id DESC LIMIT 1";
    pub const ARE_ACQUAINTED: &str = "SELECT (SELECT COUNT(*) FROM relationships WHERE pair_key = $1) + \
        (SELECT COUNT(*) FROM relationship_template_allocations a JOIN relationship_templates t \
        ON t.id = a.template_id WHERE a.allocated_by = $2 AND t.created_by = $3)";
    pub const HAS_RELATIONSHIP_FROM_TEMPLATE: &str =
        "SELECT COUNT(*) FROM relationships WHERE template_id = $1 AND (from_address = $2 OR to_address = $2)";
    pub const UNLINK_TEMPLATE: &str = "UPDATE relationships SET template_id = NULL WHERE template_id = $1";
    /// Who read which template first.
    pub const ALLOCATIONS: backbone_db::Allocations =
        backbone_db::Allocations::new("relationship_template_allocations", "template_id");
    pub const ALLOCATION_COUNT: &str =
        "SELECT COUNT(*) FROM relationship_template_allocations WHERE template_id = $1";

    pub fn find_template() -> String {
        format!(
            "SELECT {} FROM relationship_templates WHERE id = $1",
            super::TEMPLATE_COLUMNS
        )
    }

    /// The relationship $1 if $2 takes part in it.
    pub fn find_relationship() -> String {
        format!(
            "SELECT {} FROM relationships WHERE id = $1 AND (from_address = $2 OR to_address = $2)",
            super::RELATIONSHIP_COLUMNS
        )
    }

    /// The relationships among `ids` ($2, …) that $1 takes part in.
    fn participant_filter(ids: usize) -> String {
        format!(
            "(from_address = $1 OR to_address = $1) AND id IN ({})",
            backbone_db::placeholders(2, ids)
        )
    }

    /// A page of [`participant_filter`], oldest first; limit and offset follow the IDs.
    pub fn list_relationships(ids: usize) -> String {
        let next = ids + 2;
        format!(
            "SELECT {} FROM relationships WHERE {} ORDER BY created_at, id LIMIT ${next} OFFSET ${}",
            super::RELATIONSHIP_COLUMNS,
            participant_filter(ids),
            next + 1
        )
    }

    pub fn count_relationships(ids: usize) -> String {
        format!(
            "SELECT COUNT(*) FROM relationships WHERE {}",
            participant_filter(ids)
        )
    }

    pub fn blocking_relationship_exists() -> String {
        format!(
            "SELECT COUNT(*) FROM relationships WHERE pair_key = $1 AND status IN ({})",
            super::blocking_statuses()
        )
    }

    /// The audit logs of several relationships ($1, …), in relationship and position order.
    pub fn audit_logs_of(relationships: usize) -> String {
        format!(
            "SELECT relationship_id, id, created_at, created_by, created_by_device, reason, old_status, new_status \
             FROM relationship_audit_log WHERE relationship_id IN ({}) ORDER BY relationship_id, position",
            backbone_db::placeholders(1, relationships)
        )
    }
}

#[derive(Debug, Clone)]
pub struct RelationshipsStore {
    db: Database,
}

/// The key shared by both directions of a pair of identities.
fn pair_key(a: &IdentityAddress, b: &IdentityAddress) -> String {
    if a.as_str() <= b.as_str() {
        format!("{a} {b}")
    } else {
        format!("{b} {a}")
    }
}

fn blocking_statuses() -> String {
    BLOCKING_STATUSES
        .iter()
        .map(|s| format!("'{}'", s.as_str()))
        .collect::<Vec<_>>()
        .join(", ")
}

impl RelationshipsStore {
    pub fn new(db: Database) -> Self {
        Self { db }
    }

    pub fn db(&self) -> &Database {
        &self.db
    }

    pub async fn enqueue_all(
        &self,
        conn: &mut AnyConnection,
        events: &[DomainEvent],
        now: DateTime<Utc>,
    ) -> sqlx::Result<()> {
        for event in events {
            outbox::enqueue(&mut *conn, event, now).await?;
        }
        Ok(())
    }

    // Templates -------------------------------------------------------------------------------

    pub async fn insert_template(&self, conn: &mut AnyConnection, t: &Template) -> sqlx::Result<()> {
        sqlx::query(&format!(
            "INSERT INTO relationship_templates ({TEMPLATE_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
        ))
        .bind(t.id.as_str())
        .bind(t.created_by.as_str())
        .bind(t.created_by_device.as_str())
        .bind(to_millis(&t.created_at))
        .bind(t.expires_at.as_ref().map(to_millis))
        .bind(t.max_number_of_allocations)
        .bind(t.for_identity.as_ref().map(|a| a.as_str().to_owned()))
        .bind(t.password.as_deref())
        .bind(t.content.as_slice())
        .execute(conn)
        .await?;
        Ok(())
    }

    /// The template, locked for the rest of the transaction when `lock` is set.
    pub async fn find_template(
        &self,
        conn: &mut AnyConnection,
        id: &RelationshipTemplateId,
        lock: bool,
    ) -> sqlx::Result<Option<Template>> {
        let suffix = if lock { self.db.dialect().for_update() } else { "" };
        let row = sqlx::query(&format!("{}{suffix}", sql::find_template()))
            .bind(id.as_str())
            .fetch_optional(conn)
            .await?;
        row.as_ref().map(template_from_row).transpose()
    }

    pub async fn has_allocation(
        &self,
        conn: &mut AnyConnection,
        id: &RelationshipTemplateId,
        identity: &IdentityAddress,
    ) -> sqlx::Result<bool> {
        sql::ALLOCATIONS.has(conn, id.as_str(), identity).await
    }

    pub async fn allocation_count(
        &self,
        conn: &mut AnyConnection,
        id: &RelationshipTemplateId,
    ) -> sqlx::Result<i64> {
        sqlx::query_scalar(sql::ALLOCATION_COUNT)
            .bind(id.as_str())
            .fetch_one(conn)
            .await
    }

    pub async fn insert_allocation(
        &self,
        conn: &mut AnyConnection,
        id: &RelationshipTemplateId,
        identity: &IdentityAddress,
        device: &DeviceId,
        now: DateTime<Utc>,
    ) -> sqlx::Result<()> {
        sql::ALLOCATIONS
            .insert(conn, id.as_str(), identity, device, now)
            .await
    }

    /// Whether `identity` takes part in a relationship created from the template.
    pub async fn has_relationship_from_template(
        &self,
        conn: &mut AnyConnection,
        id: &RelationshipTemplateId,
        identity: &IdentityAddress,
    ) -> sqlx::Result<bool> {
        let count: i64 = sqlx::query_scalar(sql::HAS_RELATIONSHIP_FROM_TEMPLATE)
            .bind(id.as_str())
            .bind(identity.as_str())
            .fetch_one(conn)
            .await?;
        Ok(count > 0)
    }

    pub async fn delete_template(
        &self,
        conn: &mut AnyConnection,
        id: &RelationshipTemplateId,
    ) -> sqlx::Result<()> {
        // Relationships keep existing; their template reference becomes null.
        sqlx::query(sql::UNLINK_TEMPLATE)
            .bind(id.as_str())
            .execute(&mut *conn)
            .await?;
        sqlx::query("DELETE FROM relationship_templates WHERE id = $1")
            .bind(id.as_str())
            .execute(conn)
            .await?;
        Ok(())
    }

    // Relationships ---------------------------------------------------------------------------

    /// Inserts a new relationship; `false` if another open one for the pair won a race.
    pub async fn insert_relationship(
        &self,
        conn: &mut AnyConnection,
        r: &Relationship,
    ) -> sqlx::Result<bool> {
        let inserted = sqlx::query(&format!(
            "INSERT INTO relationships ({RELATIONSHIP_COLUMNS}, pair_key) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
        ))
        .bind(r.id.as_str())
        .bind(r.template_id.as_ref().map(|t| t.as_str().to_owned()))
        .bind(r.from.as_str())
        .bind(r.to.as_str())
        .bind(to_millis(&r.created_at))
        .bind(r.status.as_str())
        .bind(r.creation_content.as_deref())
        .bind(r.creation_response_content.as_deref())
        .bind(i64::from(r.from_has_decomposed))
        .bind(i64::from(r.to_has_decomposed))
        .bind(pair_key(&r.from, &r.to))
        .execute(&mut *conn)
        .await;
        match inserted {
            Err(e) if backbone_db::is_unique_violation(&e) => return Ok(false),
            other => other?,
        };
        self.insert_audit_entries(conn, r, 0).await?;
        Ok(true)
    }

    /// Writes the changed row and the audit entries added since `persisted_entries`.
    pub async fn save_relationship(
        &self,
        conn: &mut AnyConnection,
        r: &Relationship,
        persisted_entries: usize,
    ) -> sqlx::Result<()> {
        sqlx::query(
            "UPDATE relationships SET status = $1, creation_response_content = $2, from_has_decomposed = $3, \
             to_has_decomposed = $4 WHERE id = $5",
        )
        .bind(r.status.as_str())
        .bind(r.creation_response_content.as_deref())
        .bind(i64::from(r.from_has_decomposed))
        .bind(i64::from(r.to_has_decomposed))
        .bind(r.id.as_str())
        .execute(&mut *conn)
        .await?;
        self.insert_audit_entries(conn, r, persisted_entries).await
    }

    async fn insert_audit_entries(
        &self,
        conn: &mut AnyConnection,
        r: &Relationship,
        from: usize,
    ) -> sqlx::Result<()> {
        for (position, entry) in (0_i64..).zip(&r.audit_log).skip(from) {
            sqlx::query(
                "INSERT INTO relationship_audit_log (id, relationship_id, position, created_at, created_by, \
                 created_by_device, reason, old_status, new_status) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            )
            .bind(entry.id.as_str())
            .bind(r.id.as_str())
            .bind(position)
            .bind(to_millis(&entry.created_at))
            .bind(entry.created_by.as_str())
            .bind(entry.created_by_device.as_ref().map(|d| d.as_str().to_owned()))
            .bind(entry.reason.as_str())
            .bind(entry.old_status.map(RelationshipStatus::as_str))
            .bind(entry.new_status.as_str())
            .execute(&mut *conn)
            .await?;
        }
        Ok(())
    }

    /// The relationship if `participant` takes part in it, locked when `lock` is set.
    pub async fn find_relationship(
        &self,
        conn: &mut AnyConnection,
        id: &RelationshipId,
        participant: &IdentityAddress,
        lock: bool,
    ) -> sqlx::Result<Option<Relationship>> {
        let suffix = if lock { self.db.dialect().for_update() } else { "" };
        let row = sqlx::query(&format!("{}{suffix}", sql::find_relationship()))
            .bind(id.as_str())
            .bind(participant.as_str())
            .fetch_optional(&mut *conn)
            .await?;
        let Some(row) = row else { return Ok(None) };
        let mut relationship = relationship_from_row(&row)?;
        relationship.audit_log = self.audit_log(conn, &relationship.id).await?;
        Ok(Some(relationship))
    }

    async fn audit_log(
        &self,
        conn: &mut AnyConnection,
        id: &RelationshipId,
    ) -> sqlx::Result<Vec<AuditEntry>> {
        let rows = sqlx::query(
            "SELECT id, created_at, created_by, created_by_device, reason, old_status, new_status \
             FROM relationship_audit_log WHERE relationship_id = $1 ORDER BY position",
        )
        .bind(id.as_str())
        .fetch_all(conn)
        .await?;
        rows.iter().map(audit_entry_from_row).collect()
    }

    /// Loads the audit logs of a page of relationships in one query rather than one each.
    async fn attach_audit_logs(
        &self,
        conn: &mut AnyConnection,
        relationships: &mut [Relationship],
    ) -> sqlx::Result<()> {
        if relationships.is_empty() {
            return Ok(());
        }
        let audit_sql = sql::audit_logs_of(relationships.len());
        let mut query = sqlx::query(&audit_sql);
        for relationship in relationships.iter() {
            query = query.bind(relationship.id.as_str());
        }
        let mut logs: HashMap<String, Vec<AuditEntry>> = HashMap::new();
        for row in query.fetch_all(conn).await? {
            let relationship: String = row.try_get("relationship_id")?;
            logs.entry(relationship)
                .or_default()
                .push(audit_entry_from_row(&row)?);
        }
        for relationship in relationships.iter_mut() {
            relationship.audit_log = logs.remove(relationship.id.as_str()).unwrap_or_default();
        }
        Ok(())
    }

    pub async fn list_relationships(
        &self,
        participant: &IdentityAddress,
        ids: &[RelationshipId],
        page: PageRequest,
    ) -> sqlx::Result<Page<Relationship>> {
        let list = sql::list_relationships(ids.len());
        let count = sql::count_relationships(ids.len());
        let params = with_ids(&[Param::Text(participant.as_str())], ids);
        let mut conn = self.db.pool().acquire().await?;
        let mut page = fetch_page(
            &mut conn,
            PagedSql {
                list: &list,
                count: &count,
            },
            &params,
            page,
        )
        .await?
        .try_map(relationship_from_row)?;
        self.attach_audit_logs(&mut conn, &mut page.items).await?;
        Ok(page)
    }

    /// Whether a relationship between the two blocks a new one.
    pub async fn blocking_relationship_exists(
        &self,
        conn: &mut AnyConnection,
        a: &IdentityAddress,
        b: &IdentityAddress,
    ) -> sqlx::Result<bool> {
        let count: i64 = sqlx::query_scalar(&sql::blocking_relationship_exists())
            .bind(pair_key(a, b))
            .fetch_one(conn)
            .await?;
        Ok(count > 0)
    }

    /// The youngest relationship between the two: its ID and status.
    /// Runs on the caller's connection: a writer asks this inside its own transaction, and
    /// must not wait for a second pooled connection while it holds one.
    pub async fn youngest_between(
        &self,
        conn: &mut AnyConnection,
        a: &IdentityAddress,
        b: &IdentityAddress,
    ) -> sqlx::Result<Option<(RelationshipId, RelationshipStatus)>> {
        let row = sqlx::query(sql::YOUNGEST_BETWEEN)
            .bind(pair_key(a, b))
            .fetch_optional(conn)
            .await?;
        row.map(|row| {
            let status: String = row.try_get("status")?;
            Ok((
                RelationshipId::from_trusted(row.try_get("id")?),
                status_of(&status)?,
            ))
        })
        .transpose()
    }

    /// Whether `a` may see `b`'s feature flags: any relationship between them, or `a`
    /// allocated one of `b`'s templates.
    pub async fn are_acquainted(&self, a: &IdentityAddress, b: &IdentityAddress) -> sqlx::Result<bool> {
        let count: i64 = sqlx::query_scalar(sql::ARE_ACQUAINTED)
            .bind(pair_key(a, b))
            .bind(a.as_str())
            .bind(b.as_str())
            .fetch_one(self.db.pool())
            .await?;
        Ok(count > 0)
    }

    /// The identity's relationships that are pending, active or terminated: (id, peer).
    pub async fn open_relationships_of(
        &self,
        identity: &IdentityAddress,
    ) -> sqlx::Result<Vec<(RelationshipId, IdentityAddress)>> {
        let rows = sqlx::query(
            "SELECT id, CASE WHEN from_address = $1 THEN to_address ELSE from_address END AS peer FROM relationships \
             WHERE (from_address = $1 OR to_address = $1) AND status IN ('Pending', 'Active', 'Terminated') ORDER BY created_at",
        )
        .bind(identity.as_str())
        .fetch_all(self.db.pool())
        .await?;
        rows.iter()
            .map(|row| {
                Ok((
                    RelationshipId::from_trusted(row.try_get("id")?),
                    IdentityAddress::from_trusted(row.try_get("peer")?),
                ))
            })
            .collect()
    }

    pub async fn relationship_ids_of(&self, identity: &IdentityAddress) -> sqlx::Result<Vec<RelationshipId>> {
        let ids: Vec<String> =
            sqlx::query_scalar("SELECT id FROM relationships WHERE from_address = $1 OR to_address = $1")
                .bind(identity.as_str())
                .fetch_all(self.db.pool())
                .await?;
        Ok(ids.into_iter().map(RelationshipId::from_trusted).collect())
    }

    /// Replaces a deleted identity everywhere in this module: in relationships (which then no
    /// longer belong to a pair that could block anything) and their audit logs, in templates
    /// addressed to it and in its allocations; its own templates are deleted.
    pub async fn anonymise_identity(
        &self,
        conn: &mut AnyConnection,
        identity: &IdentityAddress,
        anonymous: &IdentityAddress,
    ) -> sqlx::Result<()> {
        for (column, other) in [("from_address", "to_address"), ("to_address", "from_address")] {
            sqlx::query(&format!(
                "UPDATE relationships SET {column} = $1, pair_key = 'anonymised ' || id WHERE {column} = $2 AND {other} <> $2"
            ))
            .bind(anonymous.as_str())
            .bind(identity.as_str())
            .execute(&mut *conn)
            .await?;
        }
        replace_address(conn, "relationship_audit_log", "created_by", identity, anonymous).await?;
        sqlx::query("UPDATE relationships SET template_id = NULL WHERE template_id IN (SELECT id FROM relationship_templates WHERE created_by = $1)")
            .bind(identity.as_str())
            .execute(&mut *conn)
            .await?;
        sqlx::query("DELETE FROM relationship_templates WHERE created_by = $1")
            .bind(identity.as_str())
            .execute(&mut *conn)
            .await?;
        replace_address(
            conn,
            "relationship_templates",
            "for_identity",
            identity,
            anonymous,
        )
        .await?;
        sql::ALLOCATIONS.hand_over(conn, identity, anonymous).await?;
        Ok(())
    }

    /// Who hears about `identity`'s feature flags: peers of pending or active relationships and
    /// identities that allocated one of its templates.
    pub async fn feature_flag_audience(
        &self,
        identity: &IdentityAddress,
    ) -> sqlx::Result<Vec<IdentityAddress>> {
        let peers: Vec<String> = sqlx::query_scalar(
            "SELECT CASE WHEN from_address = $1 THEN to_address ELSE from_address END FROM relationships \
             WHERE (from_address = $1 OR to_address = $1) AND status IN ('Pending', 'Active') \
             UNION SELECT a.allocated_by FROM relationship_template_allocations a \
             JOIN relationship_templates t ON t.id = a.template_id WHERE t.created_by = $1",
        )
        .bind(identity.as_str())
        .fetch_all(self.db.pool())
        .await?;
        Ok(peers.into_iter().map(IdentityAddress::from_trusted).collect())
    }
}

fn template_from_row(row: &AnyRow) -> sqlx::Result<Template> {
    Ok(Template {
        id: RelationshipTemplateId::from_trusted(row.try_get("id")?),
        created_by: IdentityAddress::from_trusted(row.try_get("created_by")?),
        created_by_device: DeviceId::from_trusted(row.try_get("created_by_device")?),
        created_at: from_millis(row.try_get("created_at")?),
        expires_at: row.try_get::<Option<i64>, _>("expires_at")?.map(from_millis),
        max_number_of_allocations: row.try_get("max_number_of_allocations")?,
        for_identity: row
            .try_get::<Option<String>, _>("for_identity")?
            .map(IdentityAddress::from_trusted),
        password: row.try_get("password")?,
        content: row.try_get("content")?,
    })
}

/// A stored status that is none of ours is a decode error, not a guess.
fn status_of(stored: &str) -> sqlx::Result<RelationshipStatus> {
    RelationshipStatus::parse(stored).map_err(|e| sqlx::Error::Decode(e.into()))
}

fn unknown(kind: &'static str, value: &str) -> sqlx::Error {
    sqlx::Error::Decode(
        UnknownValue {
            kind,
            value: value.to_owned(),
        }
        .into(),
    )
}

fn relationship_from_row(row: &AnyRow) -> sqlx::Result<Relationship> {
    let status: String = row.try_get("status")?;
    Ok(Relationship {
        id: RelationshipId::from_trusted(row.try_get("id")?),
        template_id: row
            .try_get::<Option<String>, _>("template_id")?
            .map(RelationshipTemplateId::from_trusted),
        from: IdentityAddress::from_trusted(row.try_get("from_address")?),
        to: IdentityAddress::from_trusted(row.try_get("to_address")?),
        created_at: from_millis(row.try_get("created_at")?),
        status: status_of(&status)?,
        creation_content: row.try_get("creation_content")?,
        creation_response_content: row.try_get("creation_response_content")?,
        from_has_decomposed: get_flag(row, "from_has_decomposed")?,
        to_has_decomposed: get_flag(row, "to_has_decomposed")?,
        audit_log: Vec::new(),
    })
}

fn audit_entry_from_row(row: &AnyRow) -> sqlx::Result<AuditEntry> {
    let reason: String = row.try_get("reason")?;
    let new_status: String = row.try_get("new_status")?;
    Ok(AuditEntry {
        id: RelationshipAuditLogEntryId::from_trusted(row.try_get("id")?),
        created_at: from_millis(row.try_get("created_at")?),
        created_by: IdentityAddress::from_trusted(row.try_get("created_by")?),
        created_by_device: row
            .try_get::<Option<String>, _>("created_by_device")?
            .map(DeviceId::from_trusted),
        reason: AuditReason::parse(&reason).ok_or_else(|| unknown("audit reason", &reason))?,
        old_status: row
            .try_get::<Option<String>, _>("old_status")?
            .as_deref()
            .map(status_of)
            .transpose()?,
        new_status: status_of(&new_status)?,
    })
}
