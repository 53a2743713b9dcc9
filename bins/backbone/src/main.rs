//! Entry point: parse the command line, load the configuration, run the command.

use std::process::ExitCode;

use std::io::Write;

use anyhow::Context;
use backbone::app::{connect_and_migrate, Application, Roles};
use backbone::cli::{
    Cli, ClientCommand, Command, EventsCommand, IdentityCommand, IdentityQuotaCommand, JobCommand, QuotaArgs,
    TierCommand, TierQuotaCommand,
};
use backbone::config::Settings;
use backbone_devices::{ClientOverviewDto, CreatedClientDto, TierOverviewDto};
use backbone_quotas::domain::QuotaPeriod;
use backbone_quotas::{NewQuota, QuotaDefinitionDto};
use clap::Parser;

fn main() -> ExitCode {
    // Before the runtime starts threads: it may re-execute the process.
    backbone::allocator::fix_mmap_threshold();
    start()
}

#[tokio::main]
async fn start() -> ExitCode {
    let cli = Cli::parse();
    let settings = match Settings::load(cli.config.as_deref()) {
        Ok(settings) => settings,
        Err(error) => {
            eprintln!("error: {error:#}");
            return ExitCode::from(2);
        }
    };
    init_logging(&settings);
    backbone::server::raise_open_file_limit();
    match run(cli.command.unwrap_or(Command::Serve), settings).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(command: Command, settings: Settings) -> anyhow::Result<()> {
    match command {
        Command::Serve => serve(settings, Roles::ALL).await,
        Command::ConsumerApi => {
            serve(
                settings,
                Roles {
                    consumer_api: true,
                    ..NONE
                },
            )
            .await
        }
        Command::AdminApi => {
            serve(
                settings,
                Roles {
                    admin_api: true,
                    ..NONE
                },
            )
            .await
        }
        Command::Worker => serve(settings, Roles { worker: true, ..NONE }).await,
        Command::Migrate => {
            connect_and_migrate(&settings).await?;
            println!("The database is up to date.");
            Ok(())
        }
        Command::Client(command) => client_command(command, settings).await,
        Command::Tier(command) => tier_command(command, settings).await,
        Command::Identity(IdentityCommand::Quota(command)) => identity_quota_command(command, settings).await,
        Command::Healthcheck { url } => healthcheck(&settings, url).await,
        Command::Events(command) => {
            let app = Application::build(settings, None).await?;
            match command {
                EventsCommand::DeadLetters(command) => {
                    backbone::events_cli::dead_letters(&app, command).await
                }
                EventsCommand::DeleteTopology => backbone::events_cli::delete_topology(&app).await,
            }
        }
        Command::Announcement(command) => {
            let app = Application::build(settings, None).await?;
            backbone::admin_cli::announcement(&app, command).await
        }
        Command::Token(command) => {
            let app = Application::build(settings, None).await?;
            backbone::admin_cli::token(&app, command).await
        }
        Command::Database(command) => {
            let app = Application::build(settings, None).await?;
            backbone::admin_cli::database(&app, command).await
        }
        Command::Job(JobCommand::Run { name }) => {
            let app = Application::build(settings, None).await?;
            let summary = backbone::jobs::run(&app, &name).await?;
            // Events the job raised reach their handlers before the command ends.
            app.relay.relay_all().await?;
            let _ = writeln!(std::io::stdout(), "{name}: {summary}");
            Ok(())
        }
    }
}

const NONE: Roles = Roles {
    consumer_api: false,
    admin_api: false,
    worker: false,
};

async fn serve(settings: Settings, roles: Roles) -> anyhow::Result<()> {
    let app = Application::build(settings, None).await?;
    let signal = shutdown_signal();
    let running = app.start(roles).await?;
    if let Some(address) = running.consumer_api {
        tracing::info!(%address, "Consumer API listening");
    }
    if let Some(address) = running.admin_api {
        tracing::info!(%address, "Admin API listening");
    }
    let result = running.run_until(signal).await;
    app.db.close().await;
    result
}

/// `backbone healthcheck`: the listener's liveness, from inside the container.
async fn healthcheck(settings: &Settings, url: Option<String>) -> anyhow::Result<()> {
    let url = url.unwrap_or_else(|| {
        let mut address = settings.metrics.listen.unwrap_or(settings.consumer_api.listen);
        if address.ip().is_unspecified() {
            address.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
        }
        let scheme = if settings.metrics.listen.is_none() && settings.consumer_api.tls.is_some() {
            "https"
        } else {
            "http"
        };
        format!("{scheme}://{address}/health/live")
    });
    let client = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(3))
        .build()
        .context("building the HTTP client")?;
    let response = client
        .get(&url)
        .send()
        .await
        .with_context(|| format!("GET {url}"))?;
    anyhow::ensure!(response.status().is_success(), "GET {url}: {}", response.status());
    println!("{url}: {}", response.status());
    Ok(())
}

/// Resolves at Ctrl-C or SIGTERM. The SIGTERM handler is installed when this is called, not
/// when it is first polled: called before the listeners start, a SIGTERM that arrives as soon
/// as the server answers is a graceful shutdown rather than the default (immediate) death.
fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    #[cfg(unix)]
    let terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    async move {
        let ctrl_c = async { tokio::signal::ctrl_c().await.ok() };
        #[cfg(unix)]
        let terminate = async move {
            match terminate {
                Some(mut signal) => {
                    signal.recv().await;
                }
                None => std::future::pending::<()>().await,
            }
        };
        #[cfg(not(unix))]
        let terminate = std::future::pending::<()>();
        tokio::select! { _ = ctrl_c => {}, () = terminate => {} }
    }
}

async fn client_command(command: ClientCommand, settings: Settings) -> anyhow::Result<()> {
    let app = Application::build(settings, None).await?;
    let service = &app.devices;
    match command {
        ClientCommand::Create(args) => {
            let (client, secret) = service
                .create_client(
                    args.client_id,
                    args.display_name,
                    args.client_secret,
                    &args.default_tier,
                    args.max_identities,
                )
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            print_json(&CreatedClientDto::new(client, secret))?;
            let _ = writeln!(
                std::io::stdout(),
                "Please note the secret since you cannot obtain it later."
            );
        }
        ClientCommand::List => {
            let clients = service.list_clients().await.map_err(|e| anyhow::anyhow!("{e}"))?;
            let dtos: Vec<ClientOverviewDto> = clients.into_iter().map(ClientOverviewDto::from).collect();
            print_json(&dtos)?;
        }
        ClientCommand::Delete { client_ids } => {
            let mut failed = false;
            for id in client_ids {
                match service.delete_client(&id).await {
                    Ok(()) => println!("Successfully deleted client '{id}'"),
                    Err(error) => {
                        failed = true;
                        eprintln!("Could not delete client '{id}': {error}");
                    }
                }
            }
            anyhow::ensure!(!failed, "some clients could not be deleted");
        }
    }
    Ok(())
}

async fn tier_command(command: TierCommand, settings: Settings) -> anyhow::Result<()> {
    let app = Application::build(settings, None).await?;
    match command {
        TierCommand::List => {
            let tiers = app
                .devices
                .list_tiers()
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            let dtos: Vec<TierOverviewDto> = tiers.into_iter().map(TierOverviewDto::from).collect();
            print_json(&dtos)?;
        }
        TierCommand::Create { name } => {
            let tier = app
                .devices
                .create_tier(&name)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            print_json(&serde_json::json!({ "id": tier.id.as_str(), "name": tier.name }))?;
        }
        TierCommand::Quota(command) => tier_quota_command(&app, command).await?,
    }
    Ok(())
}

/// `tier quota add|remove`, with the Admin API's rules; the tier by name or ID.
async fn tier_quota_command(app: &Application, command: TierQuotaCommand) -> anyhow::Result<()> {
    let tier_id = |tier: String| async move {
        let found = app.devices.store.find_tier_by_name_or_id(&tier).await?;
        found
            .map(|t| t.id.into_string())
            .ok_or_else(|| anyhow::anyhow!("the tier '{tier}' does not exist"))
    };
    match command {
        TierQuotaCommand::Add { tier, quota } => {
            let id = tier_id(tier).await?;
            let definition = app.quotas.create_tier_quota(&id, new_quota(quota)?).await?;
            print_json(&QuotaDefinitionDto::from(definition))?;
        }
        TierQuotaCommand::Remove { tier, quota_id } => {
            let id = tier_id(tier).await?;
            app.quotas.delete_tier_quota(&id, &quota_id).await?;
            print_json(&serde_json::json!({ "id": quota_id, "removed": true }))?;
        }
    }
    Ok(())
}

/// `identity quota add|remove`, with the Admin API's rules.
async fn identity_quota_command(command: IdentityQuotaCommand, settings: Settings) -> anyhow::Result<()> {
    let app = Application::build(settings, None).await?;
    match command {
        IdentityQuotaCommand::Add { address, quota } => {
            let quota = app
                .quotas
                .create_individual_quota(&address, new_quota(quota)?)
                .await?;
            print_json(&QuotaDefinitionDto::from(quota))?;
        }
        IdentityQuotaCommand::Remove { address, quota_id } => {
            app.quotas.delete_individual_quota(&address, &quota_id).await?;
            print_json(&serde_json::json!({ "id": quota_id, "removed": true }))?;
        }
    }
    Ok(())
}

fn new_quota(args: QuotaArgs) -> anyhow::Result<NewQuota> {
    let period = QuotaPeriod::parse(&args.period).ok_or_else(|| {
        anyhow::anyhow!(
            "unknown period '{}' (Hour, Day, Week, Month, Year, Total)",
            args.period
        )
    })?;
    Ok(NewQuota {
        metric_key: Some(args.metric_key),
        max: args.max,
        period,
    })
}

fn print_json(value: &impl serde::Serialize) -> anyhow::Result<()> {
    println!(
        "{}",
        serde_json::to_string_pretty(value).context("formatting output")?
    );
    Ok(())
}

fn init_logging(settings: &Settings) {
    let filter = tracing_subscriber::EnvFilter::try_new(&settings.log.level)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if settings.log.format == "json" {
        builder.json().init();
    } else {
        builder.init();
    }
}
