//! Whether the bus can carry events right now: part of the Consumer API's `/health`, and
//! whatever readiness or metrics endpoint wants to ask too.

use async_trait::async_trait;

#[async_trait]
pub trait BusHealth: Send + Sync {
    /// The name the health answer lists this check under, e.g. `rabbitmq`.
    fn name(&self) -> &'static str;

    /// `Err` with the reason when the bus cannot take events now.
    async fn check(&self) -> Result<(), String>;
}

/// The in-process bus is the relay itself: healthy whenever the process runs.
pub struct InProcessHealth;

#[async_trait]
impl BusHealth for InProcessHealth {
    fn name(&self) -> &'static str {
        "in-process"
    }

    async fn check(&self) -> Result<(), String> {
        Ok(())
    }
}
