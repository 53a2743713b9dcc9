//! What each module takes from the configuration: its own settings type, filled from the
//! sections (and landscape) that concern it.

use backbone_core::paging::PagingLimits;
use backbone_core::IdentityAddress;
use backbone_devices::domain::PasswordPolicy;
use backbone_devices::DevicesSettings;
use backbone_messages::MessagesSettings;
use chrono::Duration;

use super::Settings;

impl Settings {
    pub fn paging(&self) -> PagingLimits {
        PagingLimits {
            default_page_size: self.pagination.default_page_size,
            max_page_size: self.pagination.max_page_size,
        }
    }

    /// The address that replaces deleted identities.
    pub fn anonymous_address(&self) -> IdentityAddress {
        IdentityAddress::anonymous(&self.did_domain_name)
    }

    pub fn devices_settings(&self) -> DevicesSettings {
        DevicesSettings {
            did_domain_name: self.did_domain_name.clone(),
            password_policy: if self.strict_passwords() {
                PasswordPolicy::Strict
            } else {
                PasswordPolicy::Relaxed
            },
            lockout_duration: Duration::seconds(self.lockout_seconds()),
            max_failed_logins: self.authentication.max_failed_logins,
            max_feature_flags_per_identity: self.devices.max_number_of_feature_flags_per_identity,
            paging: self.paging(),
            grace_period_days: self.devices.deletion_grace_period_days,
            reminder_schedule: backbone_devices::deletion::ReminderSchedule {
                days_before_end: self.devices.grace_period_reminder_days,
            },
        }
    }

    pub fn messages_settings(&self) -> MessagesSettings {
        MessagesSettings {
            max_number_of_recipients: self.messages.max_number_of_recipients,
            max_number_of_unreceived_messages_from_one_sender: self
                .messages
                .max_number_of_unreceived_messages_from_one_sender,
            anonymous_address: self.anonymous_address(),
            paging: self.paging(),
        }
    }
}
