//! Use cases of the Relationships module, in upstream's check order (which decides the error a
//! client sees). Each write runs in one transaction together with its domain events.

use std::sync::Arc;

use backbone_core::events::relationships::{
    RelationshipTemplateAllocationsExhausted, RelationshipTemplateCreated,
};
use backbone_core::events::DomainEvent;
use backbone_core::ids::{RelationshipId, RelationshipTemplateId};
use backbone_core::paging::{Page, PageRequest, PagingLimits};
use backbone_core::ports::IdentityDirectory;
use backbone_core::quotas::MetricKey;
use backbone_core::status::IdentityStatus;
use backbone_core::{Actor, IdentityAddress, SharedClock, ValidationError};
use backbone_db::sqlx::AnyConnection;
use chrono::{DateTime, Utc};

use crate::domain::{Relationship, Template, MAX_CONTENT_BYTES};
use crate::store::RelationshipsStore;
use crate::RelationshipsError;

#[derive(Clone)]
pub struct RelationshipsService {
    pub store: RelationshipsStore,
    pub clock: SharedClock,
    pub identities: Arc<dyn IdentityDirectory>,
    pub quotas: Arc<dyn crate::QuotaGate>,
    pub paging: PagingLimits,
}

#[derive(Debug, Clone)]
pub struct NewTemplate {
    pub content: Vec<u8>,
    pub expires_at: Option<DateTime<Utc>>,
    pub max_number_of_allocations: Option<i64>,
    pub for_identity: Option<IdentityAddress>,
    pub password: Option<Vec<u8>>,
}

/// One requested template of a list, with the password given for it.
#[derive(Debug, Clone)]
pub struct TemplateQuery {
    pub id: RelationshipTemplateId,
    pub password: Option<Vec<u8>>,
}

/// The answer of `CanCreate`.
#[derive(Debug, Clone, PartialEq)]
pub struct CanCreate {
    pub can_create: bool,
    pub code: Option<&'static str>,
}

pub(crate) fn validate_password(password: Option<&[u8]>) -> Result<(), ValidationError> {
    match password {
        Some(p) if p.is_empty() || p.len() > 200 => Err(ValidationError::invalid_property_value(format!(
            "'password' must be between 1 and 200 bytes long. You entered {} bytes.",
            p.len()
        ))),
        _ => Ok(()),
    }
}

fn validate_content(property: &str, content: &[u8]) -> Result<(), ValidationError> {
    if content.len() > MAX_CONTENT_BYTES {
        return Err(ValidationError::invalid_property_value(format!(
            "'{property}' must be between 0 and {MAX_CONTENT_BYTES} bytes long. You entered {} bytes.",
            content.len()
        )));
    }
    Ok(())
}

impl RelationshipsService {
    // Templates -------------------------------------------------------------------------------

    /// §2.2
    pub async fn create_template(
        &self,
        actor: &Actor,
        new: NewTemplate,
    ) -> Result<Template, RelationshipsError> {
        validate_content("content", &new.content)?;
        let now = self.clock.now();
        if new.expires_at.is_some_and(|e| e <= now) {
            return Err(ValidationError::invalid_property_value("'expiresAt' must be in the future.").into());
        }
        if new.max_number_of_allocations.is_some_and(|m| m <= 0) {
            return Err(ValidationError::invalid_property_value(
                "'maxNumberOfAllocations' must be greater than 0.",
            )
            .into());
        }
        validate_password(new.password.as_deref())?;
        let template = Template {
            id: RelationshipTemplateId::generate(),
            created_by: actor.address.clone(),
            created_by_device: actor.device.clone(),
            created_at: now,
            expires_at: new.expires_at,
            max_number_of_allocations: new.max_number_of_allocations,
            for_identity: new.for_identity,
            password: new.password,
            content: new.content,
        };
        let event = DomainEvent::from_event(&RelationshipTemplateCreated {
            template_id: template.id.clone(),
            created_by: actor.address.clone(),
        });
        let mut tx = self.store.db().begin_write().await?;
        self.check_quota(&mut tx, actor, MetricKey::NumberOfRelationshipTemplates, now)
            .await?;
        self.store.insert_template(&mut tx, &template).await?;
        self.store.enqueue_all(&mut tx, &[event], now).await?;
        tx.commit().await?;
        Ok(template)
    }

    /// §2.3: reading a template as a non-owner allocates it.
    pub async fn get_template(
        &self,
        actor: &Actor,
        id: &RelationshipTemplateId,
        password: Option<&[u8]>,
    ) -> Result<Template, RelationshipsError> {
        let now = self.clock.now();
        let mut tx = self.store.db().begin_write().await?;
        let template = self
            .visible_template(&mut tx, &actor.address, id, password, true)
            .await?;
        if !template.is_owned_by(&actor.address)
            && !self.store.has_allocation(&mut tx, id, &actor.address).await?
        {
            let allocations = self.store.allocation_count(&mut tx, id).await?;
            if template
                .max_number_of_allocations
                .is_some_and(|max| allocations >= max)
            {
                return Err(RelationshipsError::MaxNumberOfAllocationsExhausted);
            }
            self.store
                .insert_allocation(&mut tx, id, &actor.address, &actor.device, now)
                .await?;
            if template.max_number_of_allocations == Some(allocations + 1) {
                let event = DomainEvent::from_event(&RelationshipTemplateAllocationsExhausted {
                    relationship_template_id: template.id.clone(),
                    created_by: template.created_by.clone(),
                });
                self.store.enqueue_all(&mut tx, &[event], now).await?;
            }
        }
        tx.commit().await?;
        Ok(template)
    }

    /// The template if the caller may see it: collectable, not expired for them, password ok.
    async fn visible_template(
        &self,
        conn: &mut AnyConnection,
        caller: &IdentityAddress,
        id: &RelationshipTemplateId,
        password: Option<&[u8]>,
        lock: bool,
    ) -> Result<Template, RelationshipsError> {
        let template = self
            .unexpired_collectable_template(conn, caller, id, lock)
            .await?;
        let allocated = self.store.has_allocation(conn, id, caller).await?;
        if !template.password_ok(caller, password, allocated) {
            return Err(RelationshipsError::NotFound("RelationshipTemplate"));
        }
        Ok(template)
    }

    async fn unexpired_collectable_template(
        &self,
        conn: &mut AnyConnection,
        caller: &IdentityAddress,
        id: &RelationshipTemplateId,
        lock: bool,
    ) -> Result<Template, RelationshipsError> {
        let not_found = || RelationshipsError::NotFound("RelationshipTemplate");
        let template = self
            .store
            .find_template(conn, id, lock)
            .await?
            .ok_or_else(not_found)?;
        if !template.is_collectable_by(caller) {
            return Err(not_found());
        }
        let now = self.clock.now();
        if template.expires_at.is_some_and(|e| e <= now) {
            let has_relationship = self
                .store
                .has_relationship_from_template(conn, id, caller)
                .await?;
            if template.is_expired_for(now, has_relationship) {
                return Err(not_found());
            }
        }
        Ok(template)
    }

    /// §2.4: only the visible ones, silently skipping the rest; never allocates.
    pub async fn list_templates(
        &self,
        caller: &IdentityAddress,
        queries: &[TemplateQuery],
        page: PageRequest,
    ) -> Result<Page<Template>, RelationshipsError> {
        let mut conn = self.store.db().pool().acquire().await?;
        let mut visible = Vec::new();
        for query in queries {
            match self
                .visible_template(&mut conn, caller, &query.id, query.password.as_deref(), false)
                .await
            {
                Ok(template) if !visible.iter().any(|t: &Template| t.id == template.id) => {
                    visible.push(template);
                }
                Ok(_) | Err(RelationshipsError::NotFound(_)) => {}
                Err(other) => return Err(other),
            }
        }
        visible.sort_by_key(|t| t.created_at);
        let total = visible.len() as u64;
        let items = visible
            .into_iter()
            .skip(usize::try_from(page.offset()).unwrap_or(usize::MAX))
            .take(page.size as usize)
            .collect();
        Ok(Page {
            items,
            request: page,
            total_records: total,
        })
    }

    /// §2.5: the same visibility as reading, minus the password; only the owner may delete.
    pub async fn delete_template(
        &self,
        caller: &IdentityAddress,
        id: &RelationshipTemplateId,
    ) -> Result<(), RelationshipsError> {
        let mut tx = self.store.db().begin_write().await?;
        let template = self
            .unexpired_collectable_template(&mut tx, caller, id, true)
            .await?;
        if !template.is_owned_by(caller) {
            return Err(RelationshipsError::Forbidden);
        }
        self.store.delete_template(&mut tx, id).await?;
        Ok(tx.commit().await?)
    }

    // Relationships ---------------------------------------------------------------------------

    /// §4.3
    pub async fn create_relationship(
        &self,
        actor: &Actor,
        template_id: &RelationshipTemplateId,
        creation_content: Option<Vec<u8>>,
    ) -> Result<Relationship, RelationshipsError> {
        // Upstream refuses before reading (and so allocating) the template; the check that
        // counts is the one in the write transaction below.
        let mut conn = self.store.db().pool().acquire().await?;
        self.check_quota(
            &mut conn,
            actor,
            MetricKey::NumberOfRelationships,
            self.clock.now(),
        )
        .await?;
        drop(conn);
        let template = self.get_template(actor, template_id, None).await?;
        match self.identities.status_of(&template.created_by).await? {
            None => return Err(RelationshipsError::NotFound("Identity")),
            Some(IdentityStatus::ToBeDeleted | IdentityStatus::Deleting) => {
                return Err(RelationshipsError::PeerIsToBeDeleted)
            }
            Some(IdentityStatus::Active) => {}
        }
        if let Some(content) = &creation_content {
            validate_content("creationContent", content)?;
        }
        let now = self.clock.now();
        let mut tx = self.store.db().begin_write().await?;
        self.check_quota(&mut tx, actor, MetricKey::NumberOfRelationships, now)
            .await?;
        self.visible_template(&mut tx, &actor.address, template_id, None, false)
            .await?;
        if self
            .store
            .blocking_relationship_exists(&mut tx, &actor.address, &template.created_by)
            .await?
        {
            return Err(RelationshipsError::RelationshipToTargetAlreadyExists);
        }
        if template.is_owned_by(&actor.address) {
            return Err(RelationshipsError::CannotCreateRelationshipWithYourself);
        }
        let (relationship, events) = Relationship::request(
            template.id.clone(),
            template.created_by.clone(),
            actor,
            creation_content,
            now,
        );
        if !self.store.insert_relationship(&mut tx, &relationship).await? {
            return Err(RelationshipsError::RelationshipToTargetAlreadyExists);
        }
        self.store.enqueue_all(&mut tx, &events, now).await?;
        tx.commit().await.map_err(|e| {
            if backbone_db::is_unique_violation(&e) {
                RelationshipsError::RelationshipToTargetAlreadyExists
            } else {
                RelationshipsError::Database(e)
            }
        })?;
        Ok(relationship)
    }

    /// §4.4
    pub async fn can_create(
        &self,
        caller: &IdentityAddress,
        peer: &IdentityAddress,
    ) -> Result<CanCreate, RelationshipsError> {
        match self.identities.status_of(peer).await? {
            None => return Err(RelationshipsError::NotFound("Identity")),
            Some(IdentityStatus::ToBeDeleted | IdentityStatus::Deleting) => {
                return Ok(CanCreate {
                    can_create: false,
                    code: RelationshipsError::PeerIsToBeDeleted.code(),
                })
            }
            Some(IdentityStatus::Active) => {}
        }
        let mut conn = self.store.db().pool().acquire().await?;
        if self
            .store
            .blocking_relationship_exists(&mut conn, caller, peer)
            .await?
        {
            return Ok(CanCreate {
                can_create: false,
                code: RelationshipsError::RelationshipToTargetAlreadyExists.code(),
            });
        }
        Ok(CanCreate {
            can_create: true,
            code: None,
        })
    }

    /// §4.5: hidden once the caller decomposed it.
    pub async fn relationship(
        &self,
        caller: &IdentityAddress,
        id: &RelationshipId,
    ) -> Result<Relationship, RelationshipsError> {
        let mut conn = self.store.db().pool().acquire().await?;
        let relationship = self.store.find_relationship(&mut conn, id, caller, false).await?;
        let relationship = relationship.ok_or(RelationshipsError::NotFound("Relationship"))?;
        if relationship.has_decomposed(caller) {
            return Err(RelationshipsError::RelationshipAlreadyDecomposed);
        }
        Ok(relationship)
    }

    /// §4.6
    pub async fn list_relationships(
        &self,
        caller: &IdentityAddress,
        ids: &[RelationshipId],
        page: PageRequest,
    ) -> Result<Page<Relationship>, RelationshipsError> {
        self.store
            .list_relationships(caller, ids, page)
            .await
            .map_err(RelationshipsError::from)
    }

    /// Loads the caller's relationship under a row lock, applies a transition and saves the
    /// result with its events, so two concurrent answers cannot both succeed. A transition
    /// that counts for a quota (accepting) names its metric: checked before the row is locked.
    pub async fn transition(
        &self,
        actor: &Actor,
        id: &RelationshipId,
        quota: Option<MetricKey>,
        change: impl FnOnce(
            &mut Relationship,
            &Actor,
            DateTime<Utc>,
        ) -> Result<Vec<DomainEvent>, RelationshipsError>,
    ) -> Result<Relationship, RelationshipsError> {
        let now = self.clock.now();
        let mut tx = self.store.db().begin_write().await?;
        if let Some(metric) = quota {
            self.check_quota(&mut tx, actor, metric, now).await?;
        }
        let relationship = self
            .store
            .find_relationship(&mut tx, id, &actor.address, true)
            .await?;
        let mut relationship = relationship.ok_or(RelationshipsError::NotFound("Relationship"))?;
        let persisted = relationship.audit_log.len();
        let events = change(&mut relationship, actor, now)?;
        self.store
            .save_relationship(&mut tx, &relationship, persisted)
            .await?;
        self.store.enqueue_all(&mut tx, &events, now).await?;
        tx.commit().await?;
        Ok(relationship)
    }

    /// The deletion job's step for this module: decompose every relationship of the identity
    /// (raising the events that tell peers and the Messages module), then anonymise it.
    pub async fn delete_identity(
        &self,
        identity: &IdentityAddress,
        anonymous: &IdentityAddress,
    ) -> anyhow::Result<()> {
        for id in self.store.relationship_ids_of(identity).await? {
            let now = self.clock.now();
            let mut tx = self.store.db().begin_write().await?;
            let Some(mut relationship) = self.store.find_relationship(&mut tx, &id, identity, true).await?
            else {
                continue;
            };
            let persisted = relationship.audit_log.len();
            let events = relationship.decompose_due_to_identity_deletion(identity, now)?;
            self.store
                .save_relationship(&mut tx, &relationship, persisted)
                .await?;
            self.store.enqueue_all(&mut tx, &events, now).await?;
            tx.commit().await?;
        }
        let mut tx = self.store.db().begin_write().await?;
        self.store
            .anonymise_identity(&mut tx, identity, anonymous)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Whether `caller` may read `target`'s feature flags (Devices module, spec I5).
    pub async fn are_acquainted(
        &self,
        caller: &IdentityAddress,
        target: &IdentityAddress,
    ) -> anyhow::Result<bool> {
        Ok(self.store.are_acquainted(caller, target).await?)
    }
}
