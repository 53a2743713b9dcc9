//! Consumer API handlers of the Devices module: thin wrappers that parse, call the service and
//! shape the upstream DTOs.

mod admin;
mod admin_clients;
mod admin_identities;
mod deletion;
mod devices;
mod dto;
mod identities;
mod identity_list;
mod odata;
mod token;

use std::sync::Arc;

use backbone_web::error::INVALID_PROPERTY_VALUE;
use backbone_web::{ApiError, JwtKeys, Routes};

pub use admin::{
    admin_routes, identity_details, ClientOverviewDto, CreatedClientDto, IdentityDetailsDto, TierOverviewDto,
};

use crate::administration::AdministrationError;
use crate::{DevicesError, DevicesService};

#[derive(Clone)]
pub struct DevicesState {
    pub service: DevicesService,
    pub jwt: Arc<JwtKeys>,
}

impl From<DevicesError> for ApiError {
    fn from(error: DevicesError) -> Self {
        match error {
            DevicesError::Invalid(error) => error.into(),
            DevicesError::NotFound(entity) => Self::not_found(entity),
            DevicesError::QuotaExhausted(metrics) => Self::QuotaExhausted(metrics),
            DevicesError::Unexpected(error) => Self::Internal(error),
            DevicesError::Database(error) => Self::internal(error),
            rule => Self::validation(rule.code().unwrap_or(INVALID_PROPERTY_VALUE), rule.to_string()),
        }
    }
}

impl From<AdministrationError> for ApiError {
    fn from(error: AdministrationError) -> Self {
        match error {
            AdministrationError::NotFound(entity) => Self::not_found(entity),
            AdministrationError::Devices(error) => error.into(),
            AdministrationError::Database(error) => Self::internal(error),
            rule => Self::validation(rule.code().unwrap_or(INVALID_PROPERTY_VALUE), rule.to_string()),
        }
    }
}

/// The schemas of this module's Admin API bodies.
pub fn admin_schemas() -> backbone_web::openapi::Schemas {
    let mut schemas = Vec::new();
    admin::schemas(&mut schemas);
    admin_clients::schemas(&mut schemas);
    admin_identities::schemas(&mut schemas);
    identity_list::schemas(&mut schemas);
    schemas
}

pub fn routes(state: DevicesState) -> Routes {
    identities::routes()
        .merge(deletion::routes())
        .merge(devices::routes())
        .merge(token::routes())
        .with_state(state)
}
