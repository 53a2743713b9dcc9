//! Who acts: the authenticated identity and the device it acts from.

use crate::ids::DeviceId;
use crate::IdentityAddress;

/// The identity and device a request comes from, as the authentication layer established them
/// (`backbone_web::Caller` converts into it). Use cases take this instead of loose pairs so an
/// address and a device of different identities cannot be mixed up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    pub address: IdentityAddress,
    pub device: DeviceId,
}

impl Actor {
    pub fn new(address: IdentityAddress, device: DeviceId) -> Self {
        Self { address, device }
    }
}
