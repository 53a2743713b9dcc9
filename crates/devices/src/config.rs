//! The `[devices]` section of the configuration, and the settings the service runs with.

use anyhow::bail;
use backbone_core::paging::PagingLimits;
use chrono::Duration;
use serde::{Deserialize, Serialize};

use crate::deletion::ReminderSchedule;
use crate::domain::PasswordPolicy;
use crate::service::DevicesSettings;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DevicesConfig {
    pub max_number_of_feature_flags_per_identity: usize,
    /// `relaxed` (any non-empty password) or `strict` (upstream's production policy).
    /// Default: relaxed in dev, strict otherwise.
    pub password_policy: Option<String>,
    /// Length of an identity's deletion grace period, in days (the client may override it).
    pub deletion_grace_period_days: f64,
    /// Days before the end of the grace period at which reminders 1, 2 and 3 are due.
    pub grace_period_reminder_days: [f64; 3],
    /// How long housekeeping keeps the deletion audit log of a deleted identity, in days.
    pub audit_log_retention_days: u32,
}

impl Default for DevicesConfig {
    fn default() -> Self {
        Self {
            max_number_of_feature_flags_per_identity: 200,
            password_policy: None,
            deletion_grace_period_days: 14.0,
            grace_period_reminder_days: [12.0, 10.0, 5.0],
            audit_log_retention_days: 731,
        }
    }
}

impl DevicesConfig {
    pub fn validate(&self) -> anyhow::Result<()> {
        if self.max_number_of_feature_flags_per_identity < 1 {
            bail!("devices.max_number_of_feature_flags_per_identity must be at least 1");
        }
        if let Some(policy) = &self.password_policy {
            if policy != "relaxed" && policy != "strict" {
                bail!("devices.password_policy must be \"relaxed\" or \"strict\"");
            }
        }
        Ok(())
    }

    /// The configured policy, or the landscape's default.
    pub fn password_policy(&self, strict_by_default: bool) -> PasswordPolicy {
        let strict = match self.password_policy.as_deref() {
            Some(policy) => policy == "strict",
            None => strict_by_default,
        };
        if strict {
            PasswordPolicy::Strict
        } else {
            PasswordPolicy::Relaxed
        }
    }

    /// How long housekeeping keeps a deleted identity's deletion audit log.
    pub fn audit_log_retention(&self) -> Duration {
        Duration::days(self.audit_log_retention_days.into())
    }
}

/// What the service's settings take from outside the `[devices]` section.
#[derive(Debug, Clone)]
pub struct DevicesContext {
    pub did_domain_name: String,
    /// The landscape's default when `password_policy` is not set.
    pub strict_passwords_by_default: bool,
    /// `[authentication]`: how long a device stays locked, after how many failed logins.
    pub lockout_duration: Duration,
    pub max_failed_logins: i64,
    pub paging: PagingLimits,
}

impl DevicesSettings {
    pub fn new(config: &DevicesConfig, context: DevicesContext) -> Self {
        Self {
            password_policy: config.password_policy(context.strict_passwords_by_default),
            did_domain_name: context.did_domain_name,
            lockout_duration: context.lockout_duration,
            max_failed_logins: context.max_failed_logins,
            max_feature_flags_per_identity: config.max_number_of_feature_flags_per_identity,
            paging: context.paging,
            grace_period_days: config.deletion_grace_period_days,
            reminder_schedule: ReminderSchedule {
                days_before_end: config.grace_period_reminder_days,
            },
        }
    }
}
