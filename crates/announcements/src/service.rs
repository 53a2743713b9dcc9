//! Use cases: an operator creates, lists, reads and deletes announcements; identities read
//! those addressed to them; housekeeping and identity deletion clean up. Each owns its
//! transaction and returns [`AnnouncementsError`].

use backbone_core::events::announcements::{AnnouncementCreated, AnnouncementTextPayload};
use backbone_core::events::DomainEvent;
use backbone_core::ids::AnnouncementId;
use backbone_core::language::is_supported_language;
use backbone_core::{IdentityAddress, SharedClock};
use backbone_db::outbox;

use crate::domain::{Announcement, NewAnnouncement};
use crate::error::AnnouncementsError;
use crate::store::AnnouncementsStore;

#[derive(Clone)]
pub struct AnnouncementsService {
    pub store: AnnouncementsStore,
    pub clock: SharedClock,
}

impl AnnouncementsService {
    /// Validates, stores the announcement and, in the same transaction, `AnnouncementCreated`
    /// for the Push module (which pushes unless it is silent).
    pub async fn create(&self, new: NewAnnouncement) -> Result<Announcement, AnnouncementsError> {
        let now = self.clock.now();
        let announcement = new.validate(now)?;
        let event = DomainEvent::from_event(&AnnouncementCreated {
            id: announcement.id.clone(),
            is_silent: announcement.is_silent,
            texts: announcement
                .texts
                .iter()
                .map(|t| AnnouncementTextPayload {
                    language: t.language.clone(),
                    title: t.title.clone(),
                    body: t.body.clone(),
                })
                .collect(),
            recipients: announcement.recipients.clone(),
        });
        let mut tx = self.store.db().begin_write().await?;
        self.store.insert(&mut tx, &announcement).await?;
        outbox::enqueue(&mut tx, &event, now).await?;
        tx.commit().await?;
        Ok(announcement)
    }

    pub async fn list(&self) -> Result<Vec<Announcement>, AnnouncementsError> {
        Ok(self.store.all().await?)
    }

    pub async fn get(&self, id: &str) -> Result<Announcement, AnnouncementsError> {
        let id = AnnouncementId::parse(id).ok_or(AnnouncementsError::NotFound)?;
        self.store.find(&id).await?.ok_or(AnnouncementsError::NotFound)
    }

    pub async fn delete(&self, id: &str) -> Result<(), AnnouncementsError> {
        let id = AnnouncementId::parse(id).ok_or(AnnouncementsError::NotFound)?;
        if self.store.delete(&id).await? {
            Ok(())
        } else {
            Err(AnnouncementsError::NotFound)
        }
    }

    /// `GET /api/v2/Announcements?language=`: for everybody or for the caller. Expired ones
    /// stay until housekeeping removes them, as upstream's.
    pub async fn for_identity(
        &self,
        identity: &IdentityAddress,
        language: Option<&str>,
    ) -> Result<(String, Vec<Announcement>), AnnouncementsError> {
        let language = language
            .ok_or_else(|| AnnouncementsError::CannotParse("'language': The value is required.".into()))?;
        if !is_supported_language(language) {
            return Err(AnnouncementsError::invalid(
                "'language' must be a valid two letter ISO 639-1 language code.",
            ));
        }
        Ok((language.to_owned(), self.store.visible_to(identity).await?))
    }

    /// Identity deletion step `AnnouncementRecipients`.
    pub async fn delete_identity(&self, identity: &IdentityAddress) -> Result<u64, AnnouncementsError> {
        Ok(self.store.remove_recipient(identity).await?)
    }
}
