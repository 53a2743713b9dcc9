//! The Announcements module (admin-and-services §1.3/1.4, §4.7, §4.8; consumer-api-identity
//! §11.1): operators announce something to every identity or to up to 100 of them, with a
//! title and body per language (English required) and optional links; identities read them in
//! their language through the Consumer API, and the Push module notifies the recipients'
//! devices unless the announcement is silent (`AnnouncementCreated`, written to the outbox
//! with the announcement).
//!
//! - [`domain`]: announcements and every rule of their creation;
//! - [`store`]: the four tables;
//! - [`service`]: the use cases, returning [`AnnouncementsError`];
//! - `http`: thin Admin and Consumer API handlers.

mod deleter;
pub mod domain;
pub mod error;
pub mod housekeeping;
mod http;
pub mod service;
pub mod store;

pub use error::AnnouncementsError;
pub use http::{admin_routes, routes, AnnouncementDto, AnnouncementsState, CreateAnnouncementRequest};
pub use service::AnnouncementsService;
pub use store::AnnouncementsStore;
