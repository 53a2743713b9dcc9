//! Push notifications without HTTP or SQL: registrations and their validation, the notification
//! types with their event names, payloads and collapse ids, and the wire bodies FCM and APNs get
//! (spec consumer-api-identity §8, admin-and-services §5).

use backbone_core::encoding::format_date;
use backbone_core::ids::{DeviceId, DevicePushIdentifierId};
use backbone_core::IdentityAddress;
use chrono::{DateTime, Utc};
use serde_json::{json, Map, Value};

/// Handles are 10..=500 characters, also for `dummy` and `sse` (where they mean nothing).
pub const MIN_HANDLE_LENGTH: usize = 10;
pub const MAX_HANDLE_LENGTH: usize = 500;

/// What a device's SSE connection registers (spec §9.1).
pub const SSE_HANDLE: &str = "sse-handle";
pub const SSE_APP_ID: &str = "sse-client";

/// The Android notification channel the app creates.
pub const ANDROID_CHANNEL_ID: &str = "ENMESHED";

/// The push service a registration goes through, chosen purely by the registration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Platform {
    Fcm,
    Apns,
    Dummy,
    Sse,
}

impl Platform {
    pub const ALL: [Platform; 4] = [Self::Fcm, Self::Apns, Self::Dummy, Self::Sse];

    /// Case-sensitive, as upstream.
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.as_str() == text)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Fcm => "fcm",
            Self::Apns => "apns",
            Self::Dummy => "dummy",
            Self::Sse => "sse",
        }
    }
}

/// APNs sandbox (`Development`) or production; stored for every platform.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PushEnvironment {
    Development,
    Production,
}

impl PushEnvironment {
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "Development" => Some(Self::Development),
            "Production" => Some(Self::Production),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Development => "Development",
            Self::Production => "Production",
        }
    }
}

/// N1 as it arrives: every member optional so that missing ones get the upstream code.
#[derive(Debug, Clone, Default)]
pub struct RegistrationRequest {
    pub platform: Option<String>,
    pub handle: Option<String>,
    pub app_id: Option<String>,
    pub environment: Option<String>,
}

/// A registration that passed the input rules (the app id is checked against the
/// configuration separately).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewRegistration {
    pub platform: Platform,
    pub handle: String,
    pub app_id: String,
    pub environment: PushEnvironment,
}

impl NewRegistration {
    /// What an SSE connection registers for its device.
    pub fn sse() -> Self {
        Self {
            platform: Platform::Sse,
            handle: SSE_HANDLE.to_owned(),
            app_id: SSE_APP_ID.to_owned(),
            environment: PushEnvironment::Production,
        }
    }
}

impl RegistrationRequest {
    /// Upstream's validator; the error is the message of a 400 `invalidPropertyValue`.
    pub fn validate(self) -> Result<NewRegistration, String> {
        let platform = self.platform.unwrap_or_default();
        let platform = Platform::parse(&platform).ok_or_else(|| {
            format!("'platform' must be one of: fcm, apns, dummy, sse. You entered '{platform}'.")
        })?;
        let handle = self.handle.unwrap_or_default();
        let length = handle.chars().count();
        if handle.trim().is_empty() {
            return Err("'handle' must not be empty.".into());
        }
        if !(MIN_HANDLE_LENGTH..=MAX_HANDLE_LENGTH).contains(&length) {
            return Err(format!(
                "'handle' must be between {MIN_HANDLE_LENGTH} and {MAX_HANDLE_LENGTH} characters. You entered {length} characters."
            ));
        }
        let app_id = self.app_id.unwrap_or_default();
        if app_id.trim().is_empty() {
            return Err("'appId' must not be empty.".into());
        }
        let environment = match self.environment.as_deref() {
            None => PushEnvironment::Production,
            Some(text) => PushEnvironment::parse(text).ok_or_else(|| {
                format!("'environment' must be one of: Development, Production. You entered '{text}'.")
            })?,
        };
        Ok(NewRegistration {
            platform,
            handle,
            app_id,
            environment,
        })
    }
}

/// One device's registration (at most one per device).
#[derive(Debug, Clone, PartialEq)]
pub struct Registration {
    pub device_id: DeviceId,
    pub identity_address: IdentityAddress,
    /// Generated once and kept across updates; the app maps incoming pushes with it.
    pub device_push_identifier: DevicePushIdentifierId,
    pub platform: Platform,
    pub handle: String,
    pub app_id: String,
    pub environment: PushEnvironment,
    pub updated_at: DateTime<Utc>,
}

impl Registration {
    /// Registrations with the same handle reach the same app installation: it gets one push.
    /// `dummy` and `sse` handles are placeholders, so there every device counts on its own.
    fn target_key(&self) -> (Platform, &str) {
        match self.platform {
            Platform::Fcm | Platform::Apns => (self.platform, &self.handle),
            Platform::Dummy | Platform::Sse => (self.platform, self.device_id.as_str()),
        }
    }
}

/// The registrations to send to, one per target (the first registration of a handle wins).
pub fn distinct_targets(registrations: Vec<Registration>) -> Vec<Registration> {
    let mut seen = std::collections::HashSet::new();
    registrations
        .into_iter()
        .filter(|r| {
            let (platform, key) = r.target_key();
            seen.insert((platform, key.to_owned()))
        })
        .collect()
}

/// The pushes the Backbone sends (event name = upstream's type name minus `PushNotification`).
#[derive(Debug, Clone, PartialEq)]
pub enum PushNotification {
    /// An external event for the identity (not delivery-blocked, owner active).
    ExternalEventCreated,
    /// Another device of the identity changed the datawallet.
    DatawalletModificationsCreated {
        created_by_device: DeviceId,
    },
    DeletionProcessStarted,
    DeletionProcessCancelledByOwner,
    /// Sent by the reminder job.
    DeletionProcessGracePeriodReminder {
        days_until_deletion: i64,
    },
    /// The grace period is over and the identity is being deleted.
    DeletionStarts,
    /// First login of the backup device.
    BackupDeviceUsed,
    /// A token of the identity was locked after too many wrong passwords.
    TokenLocked,
    /// A non-silent announcement; its texts come with it.
    NewAnnouncement {
        announcement_id: String,
    },
    /// N3: anything the caller sent.
    Test {
        data: Value,
    },
}

impl PushNotification {
    pub fn event_name(&self) -> &'static str {
        match self {
            Self::ExternalEventCreated => "ExternalEventCreated",
            Self::DatawalletModificationsCreated { .. } => "DatawalletModificationsCreated",
            Self::DeletionProcessStarted => "DeletionProcessStarted",
            Self::DeletionProcessCancelledByOwner => "DeletionProcessCancelledByOwner",
            Self::DeletionProcessGracePeriodReminder { .. } => "DeletionProcessGracePeriodReminder",
            Self::DeletionStarts => "DeletionStarts",
            Self::BackupDeviceUsed => "BackupDeviceUsed",
            Self::TokenLocked => "TokenLocked",
            Self::NewAnnouncement { .. } => "NewAnnouncement",
            Self::Test { .. } => "Test",
        }
    }

    /// The `payload` member of the content object (camelCase).
    pub fn payload(&self) -> Value {
        match self {
            Self::DatawalletModificationsCreated { created_by_device } => {
                json!({ "createdByDevice": created_by_device.as_str() })
            }
            Self::DeletionProcessGracePeriodReminder { days_until_deletion } => {
                json!({ "daysUntilDeletion": days_until_deletion })
            }
            Self::NewAnnouncement { announcement_id } => json!({ "announcementId": announcement_id }),
            Self::Test { data } => json!({ "data": data }),
            _ => Value::Object(Map::new()),
        }
    }

    /// Replaces an undelivered push of the same kind on the device (APNs `apns-collapse-id`,
    /// FCM tag and collapse key).
    pub fn collapse_id(&self) -> Option<&'static str> {
        match self {
            Self::ExternalEventCreated => Some("ExternalEventCreated"),
            Self::DatawalletModificationsCreated { .. } => Some("DatawalletModified"),
            _ => None,
        }
    }
}

/// The collapse id of a text-only notification (N4).
pub fn text_notification_collapse_id(code: &str) -> String {
    format!("notification_{code}")
}

/// Title and body shown on the device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotificationText {
    pub title: String,
    pub body: String,
}

/// One push to one registration, as queued and as handed to a connector.
#[derive(Debug, Clone, PartialEq)]
pub struct Delivery {
    pub id: String,
    pub device_id: DeviceId,
    pub identity_address: IdentityAddress,
    pub device_push_identifier: DevicePushIdentifierId,
    pub platform: Platform,
    pub handle: String,
    pub app_id: String,
    pub environment: PushEnvironment,
    /// `None` for text-only notifications, which carry no content.
    pub event_name: Option<String>,
    pub payload: Option<Value>,
    pub collapse_id: Option<String>,
    pub text: NotificationText,
    /// Failed attempts so far.
    pub attempts: i64,
}

impl Delivery {
    /// A new delivery of `message` to `registration` with the texts of the device's language.
    pub fn new(registration: &Registration, message: &Message, text: NotificationText) -> Self {
        Self {
            id: uuid::Uuid::new_v4().simple().to_string(),
            device_id: registration.device_id.clone(),
            identity_address: registration.identity_address.clone(),
            device_push_identifier: registration.device_push_identifier.clone(),
            platform: registration.platform,
            handle: registration.handle.clone(),
            app_id: registration.app_id.clone(),
            environment: registration.environment,
            event_name: message.event_name.clone(),
            payload: message.payload.clone(),
            collapse_id: message.collapse_id.clone(),
            text,
            attempts: 0,
        }
    }

    /// The content object (§8.3), or `None` for text-only notifications.
    pub fn content(&self, sent_at: DateTime<Utc>) -> Option<Value> {
        let event_name = self.event_name.as_ref()?;
        Some(json!({
            "accRef": self.identity_address.as_str(),
            "devicePushIdentifier": self.device_push_identifier.as_str(),
            "eventName": event_name,
            "sentAt": format_date(&sent_at),
            "payload": self.payload.clone().unwrap_or_else(|| json!({})),
        }))
    }
}

/// What goes to every targeted device, before texts are picked per language.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    pub event_name: Option<String>,
    pub payload: Option<Value>,
    pub collapse_id: Option<String>,
}

impl Message {
    pub fn of(notification: &PushNotification) -> Self {
        Self {
            event_name: Some(notification.event_name().to_owned()),
            payload: Some(notification.payload()),
            collapse_id: notification.collapse_id().map(str::to_owned),
        }
    }

    /// N4: title and body only.
    pub fn text_only(code: &str) -> Self {
        Self {
            event_name: None,
            payload: None,
            collapse_id: Some(text_notification_collapse_id(code)),
        }
    }

    pub fn is_text_only(&self) -> bool {
        self.event_name.is_none()
    }
}

fn non_blank(text: &str) -> Option<&str> {
    (!text.trim().is_empty()).then_some(text)
}

/// The FCM HTTP v1 request body (`{"message": …}`) for a delivery.
pub fn fcm_message(delivery: &Delivery, sent_at: DateTime<Utc>) -> Value {
    let mut notification = Map::new();
    if let Some(title) = non_blank(&delivery.text.title) {
        notification.insert("title".into(), title.into());
    }
    if let Some(body) = non_blank(&delivery.text.body) {
        notification.insert("body".into(), body.into());
    }
    let mut android_notification = Map::new();
    android_notification.insert("channel_id".into(), ANDROID_CHANNEL_ID.into());
    let mut android = Map::new();
    if let Some(id) = &delivery.collapse_id {
        android_notification.insert("tag".into(), id.as_str().into());
        android.insert("collapse_key".into(), id.as_str().into());
    }
    android.insert("notification".into(), Value::Object(android_notification));
    let mut data = Map::new();
    data.insert("android_channel_id".into(), ANDROID_CHANNEL_ID.into());
    if let Some(content) = delivery.content(sent_at) {
        data.insert("content".into(), content.to_string().into());
        data.insert("content-available".into(), "1".into());
    }
    json!({
        "message": {
            "token": delivery.handle,
            "notification": notification,
            "android": android,
            "data": data,
        }
    })
}

/// The APNs request body for a delivery. Like upstream, absent members are written as `null`.
pub fn apns_payload(delivery: &Delivery, sent_at: DateTime<Utc>) -> Value {
    let content = delivery.content(sent_at);
    let content_available = content.as_ref().map(|_| "1");
    json!({
        "content": content,
        "aps": {
            "content-available": content_available,
            "alert": {
                "title": non_blank(&delivery.text.title),
                "body": non_blank(&delivery.text.body),
            }
        }
    })
}

/// How long to wait before attempt `attempts + 1` after `attempts` failures: doubling from
/// `first`, at most `max`.
pub fn retry_delay(attempts: i64, first: chrono::Duration, max: chrono::Duration) -> chrono::Duration {
    let exponent = u32::try_from(attempts.saturating_sub(1).clamp(0, 30)).unwrap_or(30);
    first
        .checked_mul(2_i32.saturating_pow(exponent))
        .map_or(max, |delay| delay.min(max))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(platform: &str, handle: &str, app_id: &str, environment: Option<&str>) -> RegistrationRequest {
        RegistrationRequest {
            platform: Some(platform.into()),
            handle: Some(handle.into()),
            app_id: Some(app_id.into()),
            environment: environment.map(Into::into),
        }
    }

    #[test]
    fn registrations_follow_the_upstream_rules() {
        let ok = request("apns", "0123456789", "eu.enmeshed.app", None)
            .validate()
            .unwrap();
        assert_eq!(ok.platform, Platform::Apns);
        assert_eq!(ok.environment, PushEnvironment::Production);
        let dev = request("fcm", "0123456789", "app", Some("Development"))
            .validate()
            .unwrap();
        assert_eq!(dev.environment, PushEnvironment::Development);
        for platform in ["dummy", "sse"] {
            assert!(request(platform, "0123456789", "x", None).validate().is_ok());
        }
        let bad = [
            request("FCM", "0123456789", "app", None),
            request("gcm", "0123456789", "app", None),
            request("fcm", "012345678", "app", None),
            request("fcm", &"x".repeat(501), "app", None),
            request("fcm", "0123456789", "", None),
            request("fcm", "0123456789", "app", Some("production")),
            RegistrationRequest::default(),
        ];
        for request in bad {
            assert!(request.clone().validate().is_err(), "{request:?}");
        }
        assert!(
            request("fcm", &"ü".repeat(500), "app", None).validate().is_ok(),
            "characters count, not bytes"
        );
    }

    #[test]
    fn every_type_has_its_event_name_payload_and_collapse_id() {
        let device = DeviceId::from_trusted("DVCaaaaaaaaaaaaaaaaa".into());
        let cases = [
            (
                PushNotification::ExternalEventCreated,
                "ExternalEventCreated",
                json!({}),
                Some("ExternalEventCreated"),
            ),
            (
                PushNotification::DatawalletModificationsCreated {
                    created_by_device: device,
                },
                "DatawalletModificationsCreated",
                json!({ "createdByDevice": "DVCaaaaaaaaaaaaaaaaa" }),
                Some("DatawalletModified"),
            ),
            (
                PushNotification::DeletionProcessStarted,
                "DeletionProcessStarted",
                json!({}),
                None,
            ),
            (
                PushNotification::DeletionProcessCancelledByOwner,
                "DeletionProcessCancelledByOwner",
                json!({}),
                None,
            ),
            (
                PushNotification::DeletionProcessGracePeriodReminder {
                    days_until_deletion: 3,
                },
                "DeletionProcessGracePeriodReminder",
                json!({ "daysUntilDeletion": 3 }),
                None,
            ),
            (
                PushNotification::DeletionStarts,
                "DeletionStarts",
                json!({}),
                None,
            ),
            (
                PushNotification::BackupDeviceUsed,
                "BackupDeviceUsed",
                json!({}),
                None,
            ),
            (PushNotification::TokenLocked, "TokenLocked", json!({}), None),
            (
                PushNotification::NewAnnouncement {
                    announcement_id: "ANCaaaaaaaaaaaaaaaaa".into(),
                },
                "NewAnnouncement",
                json!({ "announcementId": "ANCaaaaaaaaaaaaaaaaa" }),
                None,
            ),
            (
                PushNotification::Test {
                    data: json!({ "A": [1] }),
                },
                "Test",
                json!({ "data": { "A": [1] } }),
                None,
            ),
        ];
        for (notification, name, payload, collapse_id) in cases {
            assert_eq!(notification.event_name(), name);
            assert_eq!(notification.payload(), payload, "{name}");
            assert_eq!(notification.collapse_id(), collapse_id, "{name}");
        }
    }

    fn registration(device: &str, platform: Platform, handle: &str) -> Registration {
        Registration {
            device_id: DeviceId::from_trusted(device.into()),
            identity_address: IdentityAddress::derive(&[1; 32], "localhost"),
            device_push_identifier: DevicePushIdentifierId::generate(),
            platform,
            handle: handle.into(),
            app_id: "app".into(),
            environment: PushEnvironment::Production,
            updated_at: Utc::now(),
        }
    }

    #[test]
    fn identical_handles_get_one_push_but_sse_devices_each_get_theirs() {
        let targets = distinct_targets(vec![
            registration("DVC1", Platform::Fcm, "same-handle"),
            registration("DVC2", Platform::Fcm, "same-handle"),
            registration("DVC3", Platform::Apns, "same-handle"),
            registration("DVC4", Platform::Sse, SSE_HANDLE),
            registration("DVC5", Platform::Sse, SSE_HANDLE),
        ]);
        let devices: Vec<&str> = targets.iter().map(|t| t.device_id.as_str()).collect();
        assert_eq!(devices, ["DVC1", "DVC3", "DVC4", "DVC5"]);
    }

    fn delivery(message: &Message) -> Delivery {
        let text = NotificationText {
            title: "Title".into(),
            body: " ".into(),
        };
        Delivery::new(
            &registration("DVC1", Platform::Fcm, "token-of-device"),
            message,
            text,
        )
    }

    #[test]
    fn fcm_messages_carry_content_and_collapse_ids() {
        let sent_at = backbone_core::encoding::from_millis(1_700_000_000_123);
        let delivery = delivery(&Message::of(&PushNotification::ExternalEventCreated));
        let message = fcm_message(&delivery, sent_at);
        let inner = &message["message"];
        assert_eq!(inner["token"], "token-of-device");
        assert_eq!(
            inner["notification"],
            json!({ "title": "Title" }),
            "blank bodies are left out"
        );
        assert_eq!(
            inner["android"],
            json!({ "collapse_key": "ExternalEventCreated", "notification": { "channel_id": "ENMESHED", "tag": "ExternalEventCreated" } })
        );
        assert_eq!(inner["data"]["android_channel_id"], "ENMESHED");
        assert_eq!(inner["data"]["content-available"], "1");
        let content: Value = serde_json::from_str(inner["data"]["content"].as_str().unwrap()).unwrap();
        assert_eq!(
            content,
            json!({
                "accRef": delivery.identity_address.as_str(),
                "devicePushIdentifier": delivery.device_push_identifier.as_str(),
                "eventName": "ExternalEventCreated",
                "sentAt": "2023-11-14T22:13:20.123Z",
                "payload": {},
            })
        );

        let text_only = fcm_message(&self::delivery(&Message::text_only("abc")), sent_at);
        assert_eq!(
            text_only["message"]["data"],
            json!({ "android_channel_id": "ENMESHED" })
        );
        assert_eq!(
            text_only["message"]["android"]["collapse_key"],
            "notification_abc"
        );
    }

    #[test]
    fn apns_payloads_write_absent_members_as_null() {
        let sent_at = Utc::now();
        let payload = apns_payload(&delivery(&Message::of(&PushNotification::TokenLocked)), sent_at);
        assert_eq!(payload["aps"]["content-available"], "1");
        assert_eq!(payload["aps"]["alert"], json!({ "title": "Title", "body": null }));
        assert_eq!(payload["content"]["eventName"], "TokenLocked");
        let text_only = apns_payload(&delivery(&Message::text_only("abc")), sent_at);
        assert_eq!(
            text_only,
            json!({ "content": null, "aps": { "content-available": null, "alert": { "title": "Title", "body": null } } })
        );
    }

    #[test]
    fn retries_back_off_exponentially_up_to_a_maximum() {
        let first = chrono::Duration::seconds(5);
        let max = chrono::Duration::seconds(60);
        let delays: Vec<i64> = (1..=6)
            .map(|n| retry_delay(n, first, max).num_seconds())
            .collect();
        assert_eq!(delays, [5, 10, 20, 40, 60, 60]);
        assert_eq!(retry_delay(1_000, first, max), max);
    }
}
