//! `NewAnnouncement` pushes (admin-and-services §5.3): a non-silent announcement goes to the
//! devices of its recipients, or of every identity with a registration when it has none, with
//! the announcement's own texts in each device's language (falling back to English).

use async_trait::async_trait;
use backbone_core::event_set;
use backbone_core::events::announcements::AnnouncementCreated;
use backbone_core::IdentityAddress;
use backbone_db::sqlx::{self, Row};
use backbone_eventbus::{Event, Subscriber};

use crate::domain::{NotificationText, PushNotification};
use crate::service::{Audience, PushService};
use crate::store::PushStore;
use crate::texts::Translations;

pub struct AnnouncementPushHandler {
    pub service: PushService,
}

event_set! {
    pub enum Incoming {
        AnnouncementCreated(AnnouncementCreated),
    }
}

#[async_trait]
impl Subscriber for AnnouncementPushHandler {
    const NAME: &'static str = "Devices.AnnouncementPushNotifications";
    type Events = Incoming;

    async fn on_event(&self, event: &Event, incoming: Incoming) -> anyhow::Result<()> {
        let Incoming::AnnouncementCreated(created) = incoming;
        if created.is_silent {
            return Ok(());
        }
        let identities = if created.recipients.is_empty() {
            self.service.store.identities_with_registrations().await?
        } else {
            created.recipients
        };
        let texts = Translations::new(
            created
                .texts
                .into_iter()
                .map(|t| {
                    let text = NotificationText {
                        title: t.title,
                        body: t.body,
                    };
                    (t.language, text)
                })
                .collect(),
        );
        let notification = PushNotification::NewAnnouncement {
            announcement_id: created.id.into_string(),
        };
        self.service
            .send_once_with_texts(
                Self::NAME,
                &event.id,
                Audience::identities(identities),
                &notification,
                &texts,
            )
            .await?;
        Ok(())
    }
}

impl PushStore {
    /// Every identity that has at least one registered device: "everybody" for a push.
    pub async fn identities_with_registrations(&self) -> sqlx::Result<Vec<IdentityAddress>> {
        let rows =
            sqlx::query("SELECT DISTINCT identity_address FROM push_registrations ORDER BY identity_address")
                .fetch_all(self.db().pool())
                .await?;
        rows.iter()
            .map(|row| Ok(IdentityAddress::from_trusted(row.try_get("identity_address")?)))
            .collect()
    }
}
