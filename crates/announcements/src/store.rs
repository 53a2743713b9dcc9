//! The tables of this module: `announcements` with its `announcement_texts`,
//! `announcement_actions` (display names as a JSON object) and `announcement_recipients`.

use std::collections::{BTreeMap, HashMap};

use backbone_core::encoding::{from_millis, to_millis};
use backbone_core::ids::AnnouncementId;
use backbone_core::IdentityAddress;
use backbone_db::sqlx::any::AnyRow;
use backbone_db::sqlx::{self, AnyConnection, Row};
use backbone_db::Database;

use crate::domain::{Announcement, AnnouncementAction, AnnouncementText, Severity};

/// Which announcements a read loads; one SQL condition on `announcements` (alias `a`) with
/// at most one bound value.
enum Selection<'a> {
    All,
    Id(&'a AnnouncementId),
    /// Addressed to everybody or to this identity.
    VisibleTo(&'a IdentityAddress),
}

impl Selection<'_> {
    fn condition(&self) -> &'static str {
        match self {
            Self::All => "1 = 1",
            Self::Id(_) => "a.id = $1",
            Self::VisibleTo(_) => {
                "(a.has_recipient_list = 0 OR EXISTS (SELECT 1 FROM announcement_recipients r \
                 WHERE r.announcement_id = a.id AND r.address = $1))"
            }
        }
    }

    fn value(&self) -> Option<&str> {
        match self {
            Self::All => None,
            Self::Id(id) => Some(id.as_str()),
            Self::VisibleTo(address) => Some(address.as_str()),
        }
    }
}

#[derive(Debug, Clone)]
pub struct AnnouncementsStore {
    db: Database,
}

impl AnnouncementsStore {
    pub fn new(db: Database) -> Self {
        Self { db }
    }

    pub fn db(&self) -> &Database {
        &self.db
    }

    /// Inserts the announcement with its texts, actions and recipients on the caller's
    /// transaction.
    pub async fn insert(&self, conn: &mut AnyConnection, a: &Announcement) -> sqlx::Result<()> {
        sqlx::query(
            "INSERT INTO announcements (id, created_at, expires_at, severity, is_silent, iql_query, has_recipient_list) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(a.id.as_str())
        .bind(to_millis(&a.created_at))
        .bind(a.expires_at.as_ref().map(to_millis))
        .bind(a.severity.as_str())
        .bind(i64::from(a.is_silent))
        .bind(a.iql_query.as_deref())
        .bind(i64::from(a.has_recipient_list))
        .execute(&mut *conn)
        .await?;
        for text in &a.texts {
            sqlx::query(
                "INSERT INTO announcement_texts (announcement_id, language, title, body) VALUES ($1, $2, $3, $4)",
            )
            .bind(a.id.as_str())
            .bind(&text.language)
            .bind(&text.title)
            .bind(&text.body)
            .execute(&mut *conn)
            .await?;
        }
        for (position, action) in (0_i64..).zip(&a.actions) {
            let names =
                serde_json::to_string(&action.display_name).map_err(|e| sqlx::Error::Encode(e.into()))?;
            sqlx::query(
                "INSERT INTO announcement_actions (announcement_id, position, display_name, link) VALUES ($1, $2, $3, $4)",
            )
            .bind(a.id.as_str())
            .bind(position)
            .bind(names)
            .bind(&action.link)
            .execute(&mut *conn)
            .await?;
        }
        for recipient in &a.recipients {
            sqlx::query("INSERT INTO announcement_recipients (announcement_id, address) VALUES ($1, $2)")
                .bind(a.id.as_str())
                .bind(recipient.as_str())
                .execute(&mut *conn)
                .await?;
        }
        Ok(())
    }

    /// Every announcement, oldest first.
    pub async fn all(&self) -> sqlx::Result<Vec<Announcement>> {
        self.load(Selection::All).await
    }

    pub async fn find(&self, id: &AnnouncementId) -> sqlx::Result<Option<Announcement>> {
        Ok(self.load(Selection::Id(id)).await?.into_iter().next())
    }

    /// Announcements for everybody and those addressed to `identity`, oldest first.
    pub async fn visible_to(&self, identity: &IdentityAddress) -> sqlx::Result<Vec<Announcement>> {
        self.load(Selection::VisibleTo(identity)).await
    }

    /// Deletes one announcement with everything it has; `false` if it did not exist.
    pub async fn delete(&self, id: &AnnouncementId) -> sqlx::Result<bool> {
        let mut tx = self.db.begin_write().await?;
        let deleted = delete_with_children(&mut tx, id.as_str()).await?;
        tx.commit().await?;
        Ok(deleted > 0)
    }

    /// Identity deletion: the identity leaves every recipient list.
    pub async fn remove_recipient(&self, identity: &IdentityAddress) -> sqlx::Result<u64> {
        let result = sqlx::query("DELETE FROM announcement_recipients WHERE address = $1")
            .bind(identity.as_str())
            .execute(self.db.writer())
            .await?;
        Ok(result.rows_affected())
    }

    async fn load(&self, selection: Selection<'_>) -> sqlx::Result<Vec<Announcement>> {
        let condition = selection.condition();
        let value = selection.value();
        let mut conn = self.db.pool().acquire().await?;
        let rows = fetch(
            &mut conn,
            &format!(
                "SELECT a.id, a.created_at, a.expires_at, a.severity, a.is_silent, a.iql_query, a.has_recipient_list \
                 FROM announcements a WHERE {condition} ORDER BY a.created_at, a.id"
            ),
            value,
        )
        .await?;
        let of_selected = format!("announcement_id IN (SELECT a.id FROM announcements a WHERE {condition})");
        let texts = fetch(
            &mut conn,
            &format!(
                "SELECT announcement_id, language, title, body FROM announcement_texts WHERE {of_selected} \
                 ORDER BY language"
            ),
            value,
        )
        .await?;
        let actions = fetch(
            &mut conn,
            &format!(
                "SELECT announcement_id, display_name, link FROM announcement_actions WHERE {of_selected} \
                 ORDER BY position"
            ),
            value,
        )
        .await?;
        let recipients = fetch(
            &mut conn,
            &format!("SELECT announcement_id, address FROM announcement_recipients WHERE {of_selected} ORDER BY address"),
            value,
        )
        .await?;
        let mut children = Children::default();
        children.collect(&texts, &actions, &recipients)?;
        rows.iter()
            .map(|row| announcement_from_row(row, &mut children))
            .collect()
    }
}

async fn fetch(conn: &mut AnyConnection, sql: &str, value: Option<&str>) -> sqlx::Result<Vec<AnyRow>> {
    let mut query = sqlx::query(sql);
    if let Some(value) = value {
        query = query.bind(value);
    }
    query.fetch_all(conn).await
}

/// Deletes one announcement with its texts, actions and recipients.
async fn delete_with_children(conn: &mut AnyConnection, id: &str) -> sqlx::Result<u64> {
    for table in [
        "announcement_texts",
        "announcement_actions",
        "announcement_recipients",
    ] {
        sqlx::query(&format!("DELETE FROM {table} WHERE announcement_id = $1"))
            .bind(id)
            .execute(&mut *conn)
            .await?;
    }
    let result = sqlx::query("DELETE FROM announcements WHERE id = $1")
        .bind(id)
        .execute(conn)
        .await?;
    Ok(result.rows_affected())
}

/// Texts, actions and recipients by announcement ID.
#[derive(Default)]
struct Children {
    texts: HashMap<String, Vec<AnnouncementText>>,
    actions: HashMap<String, Vec<AnnouncementAction>>,
    recipients: HashMap<String, Vec<IdentityAddress>>,
}

impl Children {
    fn collect(&mut self, texts: &[AnyRow], actions: &[AnyRow], recipients: &[AnyRow]) -> sqlx::Result<()> {
        for row in texts {
            self.texts
                .entry(row.try_get("announcement_id")?)
                .or_default()
                .push(AnnouncementText {
                    language: row.try_get("language")?,
                    title: row.try_get("title")?,
                    body: row.try_get("body")?,
                });
        }
        for row in actions {
            let names: String = row.try_get("display_name")?;
            let display_name: BTreeMap<String, String> =
                serde_json::from_str(&names).map_err(|e| sqlx::Error::Decode(e.into()))?;
            self.actions
                .entry(row.try_get("announcement_id")?)
                .or_default()
                .push(AnnouncementAction {
                    display_name,
                    link: row.try_get("link")?,
                });
        }
        for row in recipients {
            self.recipients
                .entry(row.try_get("announcement_id")?)
                .or_default()
                .push(IdentityAddress::from_trusted(row.try_get("address")?));
        }
        Ok(())
    }
}

fn announcement_from_row(row: &AnyRow, children: &mut Children) -> sqlx::Result<Announcement> {
    let id: String = row.try_get("id")?;
    let severity: String = row.try_get("severity")?;
    let severity = Severity::parse(&severity)
        .ok_or_else(|| sqlx::Error::Decode(format!("unknown announcement severity {severity:?}").into()))?;
    Ok(Announcement {
        texts: children.texts.remove(&id).unwrap_or_default(),
        actions: children.actions.remove(&id).unwrap_or_default(),
        recipients: children.recipients.remove(&id).unwrap_or_default(),
        created_at: from_millis(row.try_get("created_at")?),
        expires_at: row.try_get::<Option<i64>, _>("expires_at")?.map(from_millis),
        severity,
        is_silent: row.try_get::<i64, _>("is_silent")? != 0,
        iql_query: row.try_get("iql_query")?,
        has_recipient_list: row.try_get::<i64, _>("has_recipient_list")? != 0,
        id: AnnouncementId::from_trusted(id),
    })
}
