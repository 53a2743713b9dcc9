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
    /// Manage identities.
    #[command(subcommand)]
    Identity(IdentityCommand),
    /// Run background jobs by hand.
    #[command(subcommand)]
    Job(JobCommand),
    /// Ask a running process whether it is alive (the container's HEALTHCHECK): exits 0 if
    /// `GET /health/live` answers 200 on the `[metrics]` listener (or, without one, the
    /// Consumer API's).
    Healthcheck {
        /// Another URL to ask instead.
        #[arg(long)]
        url: Option<String>,
    },
    /// Inspect and replay event handling.
    #[command(subcommand)]
    Events(EventsCommand),
    /// Send and delete announcements.
    #[command(subcommand)]
    Announcement(AnnouncementCommand),
    /// Manage tokens.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Work with the database as a whole.
    #[command(subcommand)]
    Database(DatabaseCommand),
}

#[derive(Debug, Subcommand)]
pub enum AnnouncementCommand {
    /// Create an announcement (no actions). On a terminal it asks for the English title and
    /// body, then for further languages, and for confirmation; otherwise `--title` and
    /// `--body` give the English text and `--text` each further language.
    Send(SendAnnouncementArgs),
    /// Delete an announcement.
    Delete {
        /// The announcement's ID (`ANC…`).
        #[arg(long)]
        id: String,
    },
}

#[derive(Debug, Args)]
pub struct SendAnnouncementArgs {
    /// Low, Medium or High (any case).
    #[arg(long)]
    pub severity: String,
    /// When the announcement expires (ISO 8601); none: never.
    #[arg(long)]
    pub expiration: Option<String>,
    /// Send no push notification.
    #[arg(long)]
    pub silent: bool,
    /// An IQL query (only for silent announcements).
    #[arg(long = "iql-query")]
    pub iql_query: Option<String>,
    /// The addressees; none: every identity.
    #[arg(long, num_args = 1..)]
    pub recipients: Vec<String>,
    /// The English title (instead of the prompt).
    #[arg(long)]
    pub title: Option<String>,
    /// The English body (instead of the prompt).
    #[arg(long)]
    pub body: Option<String>,
    /// A further language: its ISO 639-1 code, title and body; repeatable.
    #[arg(long = "text", num_args = 3, value_names = ["LANGUAGE", "TITLE", "BODY"], action = clap::ArgAction::Append)]
    pub texts: Vec<String>,
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Unlock a token that wrong passwords locked.
    ResetAccessFailedCount {
        /// The token's ID (`TOK…`).
        #[arg(long)]
        id: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum DatabaseCommand {
    /// Write the most important tables as CSVs into a zip in the temporary directory.
    Export {
        /// Also export IDs and identity addresses (blank otherwise).
        #[arg(long)]
        sensitive: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum EventsCommand {
    /// Events whose handler kept failing, set aside so that later events went on.
    #[command(subcommand)]
    DeadLetters(DeadLettersCommand),
    /// Delete the RabbitMQ exchange and queues, or the Pub/Sub topic and subscriptions, of
    /// this configuration (decommissioning; events still queued are lost).
    DeleteTopology,
}

#[derive(Debug, Subcommand)]
pub enum DeadLettersCommand {
    /// Print every dead letter (oldest failure first) with its last error.
    List,
    /// Hand dead letters to their handler once more; each one that succeeds is removed.
    Retry {
        /// Dead letter IDs (`DLE…`).
        #[arg(required_unless_present = "all")]
        ids: Vec<String>,
        /// Retry every dead letter.
        #[arg(long, conflicts_with = "ids")]
        all: bool,
    },
    /// Remove dead letters without handling them.
    Discard {
        #[arg(required = true)]
        ids: Vec<String>,
    },
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
    /// Manage the quotas of a tier.
    #[command(subcommand)]
    Quota(TierQuotaCommand),
}

#[derive(Debug, Subcommand)]
pub enum TierQuotaCommand {
    /// Give a tier a quota; prints it.
    Add {
        /// Tier name or ID.
        #[arg(long)]
        tier: String,
        #[command(flatten)]
        quota: QuotaArgs,
    },
    /// Remove a quota from a tier.
    Remove {
        /// Tier name or ID.
        #[arg(long)]
        tier: String,
        /// The quota's ID (`TQD…`).
        #[arg(long = "quotaId")]
        quota_id: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum IdentityCommand {
    /// Manage the individual quotas of an identity.
    #[command(subcommand)]
    Quota(IdentityQuotaCommand),
}

#[derive(Debug, Subcommand)]
pub enum IdentityQuotaCommand {
    /// Give an identity an individual quota (it hides the tier's quotas of that metric); prints it.
    Add {
        /// The identity's address.
        #[arg(long)]
        address: String,
        #[command(flatten)]
        quota: QuotaArgs,
    },
    /// Remove an individual quota.
    Remove {
        #[arg(long)]
        address: String,
        /// The quota's ID (`QUO…`).
        #[arg(long = "quotaId")]
        quota_id: String,
    },
}

#[derive(Debug, Args)]
#[command(rename_all = "camelCase")]
pub struct QuotaArgs {
    /// A metric key, e.g. `NumberOfSentMessages` (`GET /api/v1/Metrics` lists them).
    #[arg(long)]
    pub metric_key: String,
    /// The maximum, at least 1.
    #[arg(long, allow_negative_numbers = true)]
    pub max: i64,
    /// Hour, Day, Week, Month, Year or Total.
    #[arg(long)]
    pub period: String,
}
