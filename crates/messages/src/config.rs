//! The `[messages]` section of the configuration, and the settings the service runs with.

use anyhow::bail;
use backbone_core::paging::PagingLimits;
use backbone_core::IdentityAddress;
use serde::{Deserialize, Serialize};

use crate::MessagesSettings;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MessagesConfig {
    /// Recipients per message (upstream's production default is 1, its dev default 20).
    pub max_number_of_recipients: usize,
    /// Messages a recipient may have from one sender that it has not fetched yet (1..=100).
    pub max_number_of_unreceived_messages_from_one_sender: i64,
}

impl Default for MessagesConfig {
    fn default() -> Self {
        Self {
            max_number_of_recipients: 20,
            max_number_of_unreceived_messages_from_one_sender: 20,
        }
    }
}

impl MessagesConfig {
    pub fn validate(&self) -> anyhow::Result<()> {
        if !(1..=1000).contains(&self.max_number_of_recipients) {
            bail!("messages.max_number_of_recipients must be between 1 and 1000");
        }
        if !(1..=100).contains(&self.max_number_of_unreceived_messages_from_one_sender) {
            bail!("messages.max_number_of_unreceived_messages_from_one_sender must be between 1 and 100");
        }
        Ok(())
    }
}

impl MessagesSettings {
    /// The service's settings: the section, with the address that replaces deleted identities
    /// and the paging limits every module shares.
    pub fn new(config: &MessagesConfig, anonymous_address: IdentityAddress, paging: PagingLimits) -> Self {
        Self {
            max_number_of_recipients: config.max_number_of_recipients,
            max_number_of_unreceived_messages_from_one_sender: config
                .max_number_of_unreceived_messages_from_one_sender,
            anonymous_address,
            paging,
        }
    }
}
