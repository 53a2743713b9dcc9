//! Command line: `backbone [--config FILE] [COMMAND]`. Without a command it runs `serve`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(name = "backbone", version, about = "The enmeshed Backbone")]
pub struct Cli {
    /// A TOML configuration file (see config/backbone.example.toml).
    #[arg(long, global = true, env = "BACKBONE_CONFIG")]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run every role in one process (the default).
    Serve,
    /// Run only the Consumer API.
    ConsumerApi,
    /// Run only the Admin API.
    AdminApi,
    /// Run only the worker: relay domain events to their handlers.
    Worker,
    /// Create or update the database schema, then exit.
    Migrate,
    /// Manage OAuth clients (apps and connectors allowed to use the Backbone).
    #[command(subcommand)]
    Client(ClientCommand),
    /// Manage tiers.
    #[command(subcommand)]
    Tier(TierCommand),
    /// Run background jobs by hand.
    #[command(subcommand)]
    Job(JobCommand),
}

#[derive(Debug, Subcommand)]
pub enum JobCommand {
    /// Run one job once: identity-deletion, grace-period-reminders or housekeeping.
    Run { name: String },
}

#[derive(Debug, Subcommand)]
pub enum ClientCommand {
    /// Create a client and print it with its secret (shown only once).
    Create(CreateClientArgs),
    /// Print every client.
    List,
    /// Delete clients by ID.
    Delete {
        #[arg(required = true)]
        client_ids: Vec<String>,
    },
}

#[derive(Debug, Args)]
#[command(rename_all = "camelCase")]
pub struct CreateClientArgs {
    #[arg(long)]
    pub client_id: Option<String>,
    #[arg(long)]
    pub display_name: Option<String>,
    #[arg(long)]
    pub client_secret: Option<String>,
    /// Tier name or ID.
    #[arg(long)]
    pub default_tier: String,
    #[arg(long)]
    pub max_identities: Option<i64>,
}

#[derive(Debug, Subcommand)]
pub enum TierCommand {
    /// Print every tier.
    List,
    /// Create a tier.
    Create {
        #[arg(long)]
        name: String,
    },
}
