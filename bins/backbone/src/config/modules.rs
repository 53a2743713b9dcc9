//! What each module takes from the configuration: its own section, with the few shared
//! settings (landscape, domain name, paging) it needs.

use backbone_core::paging::PagingLimits;
use backbone_core::IdentityAddress;
use backbone_devices::{DevicesContext, DevicesSettings};
use backbone_messages::MessagesSettings;
use chrono::Duration;

use super::Settings;

impl Settings {
    pub fn paging(&self) -> PagingLimits {
        self.pagination
    }

    /// The address that replaces deleted identities.
    pub fn anonymous_address(&self) -> IdentityAddress {
        IdentityAddress::anonymous(&self.did_domain_name)
    }

    pub fn devices_settings(&self) -> DevicesSettings {
        DevicesSettings::new(
            &self.devices,
            DevicesContext {
                did_domain_name: self.did_domain_name.clone(),
                strict_passwords_by_default: self.strict_passwords_by_default(),
                lockout_duration: Duration::seconds(self.lockout_seconds()),
                max_failed_logins: self.authentication.max_failed_logins,
                paging: self.paging(),
            },
        )
    }

    pub fn messages_settings(&self) -> MessagesSettings {
        MessagesSettings::new(&self.messages, self.anonymous_address(), self.paging())
    }
}
