//! The Admin UI's dashboard figures ([`backbone_admin_ui::UsageStatistics`]), from the
//! queries the owning modules expose; the UI itself only talks to the Admin API.

use backbone_admin_ui::{DayCount, StatisticsError, UsageSnapshot, UsageStatistics};
use backbone_devices::DevicesStore;
use backbone_eventbus::OutboxRelay;
use backbone_messages::store::MessagesStore;
use backbone_push::PushStore;
use chrono::{DateTime, NaiveDate, Utc};

use crate::app::Application;

pub struct UsageFromModules {
    devices: DevicesStore,
    messages: MessagesStore,
    push: PushStore,
    relay: OutboxRelay,
}

impl UsageFromModules {
    pub fn new(app: &Application) -> Self {
        Self {
            devices: app.devices.store.clone(),
            messages: app.messages.store.clone(),
            push: app.push.store.clone(),
            relay: app.relay.clone(),
        }
    }
}

fn days(rows: Vec<(NaiveDate, i64)>) -> Vec<DayCount> {
    rows.into_iter()
        .map(|(day, count)| DayCount { day, count })
        .collect()
}

#[async_trait::async_trait]
impl UsageStatistics for UsageFromModules {
    async fn snapshot(&self, since: DateTime<Utc>) -> Result<UsageSnapshot, StatisticsError> {
        let (created, sent, active, backlog, queued) = futures::try_join!(
            async { Ok::<_, anyhow::Error>(self.devices.identities_created_per_day(since).await?) },
            async { Ok::<_, anyhow::Error>(self.messages.sent_per_day(since).await?) },
            async { Ok::<_, anyhow::Error>(self.devices.devices_logged_in_since(since).await?) },
            self.relay.backlog(),
            async { Ok::<_, anyhow::Error>(self.push.queued_count().await?) },
        )?;
        Ok(UsageSnapshot {
            identities_created_per_day: days(created),
            messages_sent_per_day: days(sent),
            active_devices: active,
            outbox_backlog: backlog.pending,
            push_queue: queued,
            quota_exhaustions: backbone_quotas::rejections_since_start(),
        })
    }
}
