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

use backbone_web::{JwtKeys, Routes};

pub use admin::{
    admin_routes, identity_details, ClientOverviewDto, CreatedClientDto, IdentityDetailsDto, TierOverviewDto,
};

use crate::DevicesService;

#[derive(Clone)]
pub struct DevicesState {
    pub service: DevicesService,
    pub jwt: Arc<JwtKeys>,
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
