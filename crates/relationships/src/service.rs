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
use backbone_core::{Actor, ApiError, ApiResult, IdentityAddress, SharedClock};
use backbone_db::sqlx::{self, AnyConnection};
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

fn internal(error: sqlx::Error) -> ApiError {
    ApiError::internal(error)
}

pub(crate) fn validate_password(password: &Option<Vec<u8>>) -> ApiResult<()> {
    match password {
        Some(p) if p.is_empty() || p.len() > 200 => Err(ApiError::invalid_property_value(format!(
            "'password' must be between 1 and 200 bytes long. You entered {} bytes.",
            p.len()
        ))),
        _ => Ok(()),
    }
}

fn validate_content(property: &str, content: &[u8]) -> ApiResult<()> {
    if content.len() > MAX_CONTENT_BYTES {
        return Err(ApiError::invalid_property_value(format!(
            "'{property}' must be between 0 and {MAX_CONTENT_BYTES} bytes long. You entered {} bytes.",
            content.len()
        )));
    }
    Ok(())
}

impl RelationshipsService {
    // Templates -------------------------------------------------------------------------------

    /// §2.2
    pub async fn create_template(&self, actor: &Actor, new: NewTemplate) -> ApiResult<Template> {
        validate_content("content", &new.content)?;
        let now = self.clock.now();
        if new.expires_at.is_some_and(|e| e <= now) {
            return Err(ApiError::invalid_property_value(
                "'expiresAt' must be in the future.",
            ));
        }
        if new.max_number_of_allocations.is_some_and(|m| m <= 0) {
            return Err(ApiError::invalid_property_value(
                "'maxNumberOfAllocations' must be greater than 0.",
            ));
        }
        validate_password(&new.password)?;
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
        let mut tx = self.store.db().begin_write().await.map_err(internal)?;
        self.check_quota(&mut tx, actor, MetricKey::NumberOfRelationshipTemplates, now)
            .await?;
        self.store
            .insert_template(&mut tx, &template)
            .await
            .map_err(internal)?;
        self.store
            .enqueue_all(&mut tx, &[event], now)
            .await
            .map_err(internal)?;
        tx.commit().await.map_err(internal)?;
        Ok(template)
    }

    /// §2.3: reading a template as a non-owner allocates it.
    pub async fn get_template(
        &self,
        actor: &Actor,
        id: &RelationshipTemplateId,
        password: Option<&[u8]>,
    ) -> ApiResult<Template> {
        let now = self.clock.now();
        let mut tx = self.store.db().begin_write().await.map_err(internal)?;
        let template = self
            .visible_template(&mut tx, &actor.address, id, password, true)
            .await?;
        if !template.is_owned_by(&actor.address)
            && !self
                .store
                .has_allocation(&mut tx, id, &actor.address)
                .await
                .map_err(internal)?
        {
            let allocations = self.store.allocation_count(&mut tx, id).await.map_err(internal)?;
            if template
                .max_number_of_allocations
                .is_some_and(|max| allocations >= max)
            {
                return Err(RelationshipsError::MaxNumberOfAllocationsExhausted.into());
            }
            self.store
                .insert_allocation(&mut tx, id, &actor.address, &actor.device, now)
                .await
                .map_err(internal)?;
            if template.max_number_of_allocations == Some(allocations + 1) {
                let event = DomainEvent::from_event(&RelationshipTemplateAllocationsExhausted {
                    relationship_template_id: template.id.clone(),
                    created_by: template.created_by.clone(),
                });
                self.store
                    .enqueue_all(&mut tx, &[event], now)
                    .await
                    .map_err(internal)?;
            }
        }
        tx.commit().await.map_err(internal)?;
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
    ) -> ApiResult<Template> {
        let template = self
            .unexpired_collectable_template(conn, caller, id, lock)
            .await?;
        let allocated = self
            .store
            .has_allocation(conn, id, caller)
            .await
            .map_err(internal)?;
        if !template.password_ok(caller, password, allocated) {
            return Err(ApiError::not_found("RelationshipTemplate"));
        }
        Ok(template)
    }

    async fn unexpired_collectable_template(
        &self,
        conn: &mut AnyConnection,
        caller: &IdentityAddress,
        id: &RelationshipTemplateId,
        lock: bool,
    ) -> ApiResult<Template> {
        let not_found = || ApiError::not_found("RelationshipTemplate");
        let template = self
            .store
            .find_template(conn, id, lock)
            .await
            .map_err(internal)?
            .ok_or_else(not_found)?;
        if !template.is_collectable_by(caller) {
            return Err(not_found());
        }
        let now = self.clock.now();
        if template.expires_at.is_some_and(|e| e <= now) {
            let has_relationship = self
                .store
                .has_relationship_from_template(conn, id, caller)
                .await
                .map_err(internal)?;
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
    ) -> ApiResult<Page<Template>> {
        let mut conn = self.store.db().pool().acquire().await.map_err(internal)?;
        let mut visible = Vec::new();
        for query in queries {
            match self
                .visible_template(&mut conn, caller, &query.id, query.password.as_deref(), false)
                .await
            {
                Ok(template) if !visible.iter().any(|t: &Template| t.id == template.id) => {
                    visible.push(template)
                }
                Ok(_) | Err(ApiError::NotFound { .. }) => {}
                Err(other) => return Err(other),
            }
        }
        visible.sort_by_key(|t| t.created_at);
        let total = visible.len() as u64;
        let items = visible
            .into_iter()
            .skip(page.offset() as usize)
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
    ) -> ApiResult<()> {
        let mut tx = self.store.db().begin_write().await.map_err(internal)?;
        let template = self
            .unexpired_collectable_template(&mut tx, caller, id, true)
            .await?;
        if !template.is_owned_by(caller) {
            return Err(ApiError::Forbidden);
        }
        self.store.delete_template(&mut tx, id).await.map_err(internal)?;
        tx.commit().await.map_err(internal)
    }

    // Relationships ---------------------------------------------------------------------------

    /// §4.3
    pub async fn create_relationship(
        &self,
        actor: &Actor,
        template_id: &RelationshipTemplateId,
        creation_content: Option<Vec<u8>>,
    ) -> ApiResult<Relationship> {
        // Upstream refuses before reading (and so allocating) the template; the check that
        // counts is the one in the write transaction below.
        let mut conn = self.store.db().pool().acquire().await.map_err(internal)?;
        self.check_quota(
            &mut conn,
            actor,
            MetricKey::NumberOfRelationships,
            self.clock.now(),
        )
        .await?;
        drop(conn);
        let template = self.get_template(actor, template_id, None).await?;
        match self
            .identities
            .status_of(&template.created_by)
            .await
            .map_err(ApiError::internal)?
        {
            None => return Err(ApiError::not_found("Identity")),
            Some(IdentityStatus::ToBeDeleted | IdentityStatus::Deleting) => {
                return Err(RelationshipsError::PeerIsToBeDeleted.into())
            }
            Some(IdentityStatus::Active) => {}
        }
        if let Some(content) = &creation_content {
            validate_content("creationContent", content)?;
        }
        let now = self.clock.now();
        let mut tx = self.store.db().begin_write().await.map_err(internal)?;
        self.check_quota(&mut tx, actor, MetricKey::NumberOfRelationships, now)
            .await?;
        self.visible_template(&mut tx, &actor.address, template_id, None, false)
            .await?;
        if self
            .store
            .blocking_relationship_exists(&mut tx, &actor.address, &template.created_by)
            .await
            .map_err(internal)?
        {
            return Err(RelationshipsError::RelationshipToTargetAlreadyExists.into());
        }
        if template.is_owned_by(&actor.address) {
            return Err(RelationshipsError::CannotCreateRelationshipWithYourself.into());
        }
        let (relationship, events) = Relationship::request(
            template.id.clone(),
            template.created_by.clone(),
            actor,
            creation_content,
            now,
        );
        if !self
            .store
            .insert_relationship(&mut tx, &relationship)
            .await
            .map_err(internal)?
        {
            return Err(RelationshipsError::RelationshipToTargetAlreadyExists.into());
        }
        self.store
            .enqueue_all(&mut tx, &events, now)
            .await
            .map_err(internal)?;
        tx.commit().await.map_err(|e| {
            if backbone_db::is_unique_violation(&e) {
                RelationshipsError::RelationshipToTargetAlreadyExists.into()
            } else {
                internal(e)
            }
        })?;
        Ok(relationship)
    }

    /// §4.4
    pub async fn can_create(&self, caller: &IdentityAddress, peer: &IdentityAddress) -> ApiResult<CanCreate> {
        match self
            .identities
            .status_of(peer)
            .await
            .map_err(ApiError::internal)?
        {
            None => return Err(ApiError::not_found("Identity")),
            Some(IdentityStatus::ToBeDeleted | IdentityStatus::Deleting) => {
                return Ok(CanCreate {
                    can_create: false,
                    code: Some(RelationshipsError::PeerIsToBeDeleted.code()),
                })
            }
            Some(IdentityStatus::Active) => {}
        }
        let mut conn = self.store.db().pool().acquire().await.map_err(internal)?;
        if self
            .store
            .blocking_relationship_exists(&mut conn, caller, peer)
            .await
            .map_err(internal)?
        {
            return Ok(CanCreate {
                can_create: false,
                code: Some(RelationshipsError::RelationshipToTargetAlreadyExists.code()),
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
    ) -> ApiResult<Relationship> {
        let mut conn = self.store.db().pool().acquire().await.map_err(internal)?;
        let relationship = self
            .store
            .find_relationship(&mut conn, id, caller, false)
            .await
            .map_err(internal)?;
        let relationship = relationship.ok_or(ApiError::not_found("Relationship"))?;
        if relationship.has_decomposed(caller) {
            return Err(RelationshipsError::RelationshipAlreadyDecomposed.into());
        }
        Ok(relationship)
    }

    /// §4.6
    pub async fn list_relationships(
        &self,
        caller: &IdentityAddress,
        ids: &[RelationshipId],
        page: PageRequest,
    ) -> ApiResult<Page<Relationship>> {
        self.store
            .list_relationships(caller, ids, page)
            .await
            .map_err(internal)
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
    ) -> ApiResult<Relationship> {
        let now = self.clock.now();
        let mut tx = self.store.db().begin_write().await.map_err(internal)?;
        if let Some(metric) = quota {
            self.check_quota(&mut tx, actor, metric, now).await?;
        }
        let relationship = self
            .store
            .find_relationship(&mut tx, id, &actor.address, true)
            .await
            .map_err(internal)?;
        let mut relationship = relationship.ok_or(ApiError::not_found("Relationship"))?;
        let persisted = relationship.audit_log.len();
        let events = change(&mut relationship, actor, now)?;
        self.store
            .save_relationship(&mut tx, &relationship, persisted)
            .await
            .map_err(internal)?;
        self.store
            .enqueue_all(&mut tx, &events, now)
            .await
            .map_err(internal)?;
        tx.commit().await.map_err(internal)?;
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
        self.store.anonymise_identity(identity, anonymous).await?;
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
