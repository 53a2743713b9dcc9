//! Identity deletion (spec consumer-api-identity §7, admin-and-services §4.8): an identity
//! starts a deletion process, has a grace period to cancel it, gets reminders, and is then
//! deleted by a job across all modules. What remains is an audit log that names nobody: it
//! keeps only hashes of the address, device IDs and usernames.

pub mod audit;
mod housekeeping;
mod identity_data;
mod service;
pub mod store;

pub use identity_data::{IdentityDataDeletion, DELETION_ORDER};
pub use service::{DeletionJobReport, ReminderDue};
pub use store::{AuditEntry, DeletionStore};

use backbone_core::ids::{DeviceId, IdentityDeletionProcessId};
use backbone_core::status::UnknownValue;
use backbone_core::IdentityAddress;
use chrono::{DateTime, Duration, Utc};

/// Default length of the grace period.
pub const DEFAULT_GRACE_PERIOD_DAYS: f64 = 14.0;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProcessStatus {
    Active,
    Cancelled,
    Deleting,
}

impl ProcessStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "Active",
            Self::Cancelled => "Cancelled",
            Self::Deleting => "Deleting",
        }
    }

    pub fn parse(value: &str) -> Result<Self, UnknownValue> {
        match value {
            "Active" => Ok(Self::Active),
            "Cancelled" => Ok(Self::Cancelled),
            "Deleting" => Ok(Self::Deleting),
            _ => Err(UnknownValue {
                kind: "deletion process status",
                value: value.to_owned(),
            }),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct DeletionProcess {
    pub id: IdentityDeletionProcessId,
    pub identity_address: IdentityAddress,
    pub status: ProcessStatus,
    pub created_at: DateTime<Utc>,
    pub created_by_device: DeviceId,
    pub grace_period_ends_at: Option<DateTime<Utc>>,
    pub reminders_sent_at: [Option<DateTime<Utc>>; 3],
    pub cancelled_at: Option<DateTime<Utc>>,
    pub deletion_started_at: Option<DateTime<Utc>>,
}

/// Days before the end of the grace period at which reminders 1, 2 and 3 are due.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ReminderSchedule {
    pub days_before_end: [f64; 3],
}

impl Default for ReminderSchedule {
    fn default() -> Self {
        Self {
            days_before_end: [12.0, 10.0, 5.0],
        }
    }
}

impl DeletionProcess {
    /// The reminder (1, 2 or 3) to send now, if any: at most one per run, the most urgent due
    /// one, never one that was sent (upstream's rules).
    #[expect(
        clippy::cast_possible_truncation,
        reason = "the days left of a grace period are a small whole number after ceil()"
    )]
    pub fn reminder_due(&self, now: DateTime<Utc>, schedule: ReminderSchedule) -> Option<(usize, i64)> {
        let ends = self.grace_period_ends_at?;
        if self.status != ProcessStatus::Active {
            return None;
        }
        let days = (ends - now).as_seconds_f64() / Duration::days(1).as_seconds_f64();
        let [first, second, third] = schedule.days_before_end;
        let [sent1, sent2, sent3] = self.reminders_sent_at.map(|sent| sent.is_some());
        let due = if sent3 {
            None
        } else if days <= third {
            Some(3)
        } else if sent2 {
            None
        } else if days <= second {
            Some(2)
        } else if sent1 {
            None
        } else if days <= first {
            Some(1)
        } else {
            None
        };
        due.map(|reminder| (reminder, days.ceil() as i64))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn process(days_left: i64, sent: [bool; 3]) -> (DeletionProcess, DateTime<Utc>) {
        let now = Utc::now();
        let at = |s: bool| s.then_some(now);
        let process = DeletionProcess {
            id: IdentityDeletionProcessId::generate(),
            identity_address: IdentityAddress::derive(&[1; 32], "localhost"),
            status: ProcessStatus::Active,
            created_at: now,
            created_by_device: DeviceId::generate(),
            grace_period_ends_at: Some(now + Duration::days(days_left)),
            reminders_sent_at: [at(sent[0]), at(sent[1]), at(sent[2])],
            cancelled_at: None,
            deletion_started_at: None,
        };
        (process, now)
    }

    #[test]
    fn the_most_urgent_unsent_reminder_is_due() {
        let schedule = ReminderSchedule::default();
        let due = |days, sent| {
            let (p, now) = process(days, sent);
            p.reminder_due(now, schedule)
        };
        assert_eq!(due(13, [false; 3]), None);
        assert_eq!(due(12, [false; 3]), Some((1, 12)));
        assert_eq!(due(12, [true, false, false]), None);
        assert_eq!(due(9, [true, false, false]), Some((2, 9)));
        assert_eq!(
            due(9, [false; 3]),
            Some((2, 9)),
            "a missed first reminder is skipped"
        );
        assert_eq!(due(4, [true, true, false]), Some((3, 4)));
        assert_eq!(due(1, [true, true, true]), None);
    }
}
