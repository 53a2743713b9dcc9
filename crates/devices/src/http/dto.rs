//! Request and response shapes shared by the handlers.

use backbone_core::encoding::date_format;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize};

use crate::domain::Device;
use crate::service::SignedChallenge;

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct SignedChallengeDto {
    pub challenge: String,
    pub signature: String,
}

impl From<SignedChallengeDto> for SignedChallenge {
    fn from(dto: SignedChallengeDto) -> Self {
        Self {
            challenge: dto.challenge,
            signature: dto.signature,
        }
    }
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct LastLoginDto {
    #[serde(with = "date_format")]
    pub time: DateTime<Utc>,
}

/// Spec §6.2.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeviceDto {
    pub id: String,
    pub username: String,
    #[serde(with = "date_format")]
    pub created_at: DateTime<Utc>,
    pub created_by_device: String,
    pub last_login: Option<LastLoginDto>,
    pub communication_language: String,
    pub is_backup_device: bool,
}

impl From<Device> for DeviceDto {
    fn from(device: Device) -> Self {
        Self {
            id: device.id.into_string(),
            username: device.username.into_string(),
            created_at: device.created_at,
            created_by_device: device.created_by_device.into_string(),
            last_login: device.last_login_at.map(|time| LastLoginDto { time }),
            communication_language: device.communication_language,
            is_backup_device: device.is_backup_device,
        }
    }
}

/// Integers that may also arrive as strings, as ASP.NET's web defaults allow.
pub fn lenient_integer<'de, D: Deserializer<'de>>(deserializer: D) -> Result<i64, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Lenient {
        Number(i64),
        Text(String),
    }
    match Lenient::deserialize(deserializer)? {
        Lenient::Number(n) => Ok(n),
        Lenient::Text(text) => text.trim().parse().map_err(serde::de::Error::custom),
    }
}

/// Booleans that may also arrive as strings.
pub fn lenient_bool<'de, D: Deserializer<'de>>(deserializer: D) -> Result<bool, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Lenient {
        Bool(bool),
        Text(String),
    }
    match Lenient::deserialize(deserializer)? {
        Lenient::Bool(b) => Ok(b),
        Lenient::Text(text) => text
            .trim()
            .to_ascii_lowercase()
            .parse()
            .map_err(serde::de::Error::custom),
    }
}
