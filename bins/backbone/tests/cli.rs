//! The real binary, black-box: the admin CLI, configuration errors and a boot smoke test.

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

#[path = "cli/admin_commands.rs"]
mod admin_commands;

const BINARY: &str = env!("CARGO_BIN_EXE_backbone");

struct Env {
    data_dir: PathBuf,
    database_url: String,
    postgres_database: Option<String>,
}

impl Env {
    fn sqlite() -> Self {
        let data_dir = std::env::temp_dir().join(format!("backbone-cli-{}", uuid::Uuid::new_v4().simple()));
        let database_url = format!("sqlite://{}", data_dir.join("cli.db").display());
        Self {
            data_dir,
            database_url,
            postgres_database: None,
        }
    }

    fn postgres() -> Self {
        let name = format!("backbone_test_{}", uuid::Uuid::new_v4().simple());
        let mut env = Self::sqlite();
        env.database_url = format!("postgres://postgres@127.0.0.1:5432/{name}");
        env.postgres_database = Some(name);
        env
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(BINARY);
        command.args(args);
        self.with_environment(command)
    }

    /// Only the test's environment: its data directory and database, quiet logs.
    fn with_environment(&self, mut command: Command) -> Command {
        command
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("BACKBONE_DATA_DIR", &self.data_dir)
            .env("BACKBONE_DATABASE__URL", &self.database_url)
            .env("BACKBONE_LOG__LEVEL", "warn");
        command
    }

    fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().expect("the binary runs")
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.data_dir);
        if let Some(name) = &self.postgres_database {
            let _ = Command::new("psql")
                .args([
                    "-h",
                    "127.0.0.1",
                    "-U",
                    "postgres",
                    "-c",
                    &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
                ])
                .output();
        }
    }
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn json_prefix(text: &str) -> serde_json::Value {
    let mut stream = serde_json::Deserializer::from_str(text).into_iter::<serde_json::Value>();
    stream
        .next()
        .expect("output starts with JSON")
        .expect("valid JSON")
}

fn client_and_tier_commands(env: &Env) {
    let migrated = env.run(&["migrate"]);
    assert!(migrated.status.success(), "{}", stderr(&migrated));

    let tiers = env.run(&["tier", "list"]);
    let names: Vec<String> = json_prefix(&stdout(&tiers))
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap().to_owned())
        .collect();
    assert!(
        names.contains(&"Basic".to_owned()) && names.contains(&"Queued for Deletion".to_owned()),
        "{names:?}"
    );

    let created = env.run(&["tier", "create", "--name", "Premium"]);
    assert!(created.status.success(), "{}", stderr(&created));
    let duplicate = env.run(&["tier", "create", "--name", "Premium"]);
    assert!(!duplicate.status.success());
    assert!(
        stderr(&duplicate).contains("already exists"),
        "{}",
        stderr(&duplicate)
    );

    let client = env.run(&[
        "client",
        "create",
        "--clientId",
        "app",
        "--clientSecret",
        "s3cret",
        "--defaultTier",
        "Premium",
        "--maxIdentities",
        "5",
        "--displayName",
        "The App",
    ]);
    assert!(client.status.success(), "{}", stderr(&client));
    let client_json = json_prefix(&stdout(&client));
    assert_eq!(client_json["clientId"], "app");
    assert_eq!(client_json["clientSecret"], "s3cret");
    assert_eq!(client_json["displayName"], "The App");
    assert_eq!(client_json["maxIdentities"], 5);
    assert!(stdout(&client).contains("Please note the secret"));

    let generated = env.run(&["client", "create", "--defaultTier", "Basic"]);
    let generated = json_prefix(&stdout(&generated));
    assert!(generated["clientId"].as_str().unwrap().starts_with("CLT"));
    assert_eq!(generated["clientSecret"].as_str().unwrap().len(), 30);

    let unknown_tier = env.run(&["client", "create", "--defaultTier", "Nope"]);
    assert!(!unknown_tier.status.success());
    let queued = env.run(&["client", "create", "--defaultTier", "Queued for Deletion"]);
    assert!(!queued.status.success(), "a non-default tier is refused");

    let list = json_prefix(&stdout(&env.run(&["client", "list"])));
    assert_eq!(list.as_array().unwrap().len(), 2);
    assert_eq!(list[0]["defaultTier"]["name"], "Premium");
    assert_eq!(list[0]["numberOfIdentities"], 0);

    let deleted = env.run(&["client", "delete", "app", "missing"]);
    assert!(!deleted.status.success(), "one of the two did not exist");
    assert!(stdout(&deleted).contains("Successfully deleted client 'app'"));
    assert!(stderr(&deleted).contains("'missing'"));
    let list = json_prefix(&stdout(&env.run(&["client", "list"])));
    assert_eq!(list.as_array().unwrap().len(), 1);
}

#[test]
fn client_and_tier_commands_on_sqlite() {
    client_and_tier_commands(&Env::sqlite());
}

#[test]
fn client_and_tier_commands_on_postgres() {
    client_and_tier_commands(&Env::postgres());
}

/// An identity row as the Devices module writes it (the CLI cannot create identities).
fn insert_identity(env: &Env, address: &str) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let db = backbone_db::Database::connect(&env.database_url, backbone_db::PoolOptions::default())
            .await
            .unwrap();
        backbone_db::sqlx::query(
            "INSERT INTO identities (address, client_id, public_key, tier_id, created_at, identity_version, status) \
             VALUES ($1, NULL, $2, 'TIRBasic000000000000', 0, 1, 'Active')",
        )
        .bind(address)
        .bind(vec![1_u8, 2, 3])
        .execute(db.writer())
        .await
        .unwrap();
        db.close().await;
    });
}

fn failure(output: &Output, needle: &str) {
    assert!(!output.status.success(), "{}", stdout(output));
    assert!(stderr(output).contains(needle), "{}", stderr(output));
}

#[expect(
    clippy::too_many_lines,
    reason = "every quota command and its refusals on one database, in the order an operator runs them"
)]
fn quota_commands(env: &Env) {
    let migrated = env.run(&["migrate"]);
    assert!(migrated.status.success(), "{}", stderr(&migrated));
    assert!(env.run(&["tier", "create", "--name", "Gold"]).status.success());
    let quota = [
        "--metricKey",
        "NumberOfSentMessages",
        "--max",
        "5",
        "--period",
        "Hour",
    ];
    let add =
        |tier: &str, quota: &[&str]| env.run(&[&["tier", "quota", "add", "--tier", tier], quota].concat());
    let added = add("Gold", &quota);
    assert!(added.status.success(), "{}", stderr(&added));
    let definition = json_prefix(&stdout(&added));
    assert!(definition["id"].as_str().unwrap().starts_with("TQD"));
    assert_eq!(definition["metric"]["key"], "NumberOfSentMessages");
    assert_eq!(
        (definition["max"].as_i64(), definition["period"].as_str()),
        (Some(5), Some("Hour"))
    );
    failure(&add("Gold", &quota), "already exists");
    failure(
        &add(
            "Gold",
            &[
                "--metricKey",
                "NumberOfSentMessages",
                "--max",
                "5",
                "--period",
                "Fortnight",
            ],
        ),
        "Fortnight",
    );
    failure(
        &add(
            "Gold",
            &[
                "--metricKey",
                "NumberOfSentMessages",
                "--max",
                "0",
                "--period",
                "Day",
            ],
        ),
        "'max'",
    );
    failure(
        &add(
            "Gold",
            &["--metricKey", "Messages", "--max", "1", "--period", "Day"],
        ),
        "not supported",
    );
    failure(&add("Queued for Deletion", &quota), "'Queued for Deletion'");
    failure(&add("Nope", &quota), "'Nope'");
    let id = definition["id"].as_str().unwrap();
    let removed = env.run(&["tier", "quota", "remove", "--tier", "Gold", "--quotaId", id]);
    assert!(removed.status.success(), "{}", stderr(&removed));
    assert_eq!(json_prefix(&stdout(&removed))["removed"], true);
    failure(
        &env.run(&["tier", "quota", "remove", "--tier", "Gold", "--quotaId", id]),
        "not found",
    );

    let address = backbone_core::IdentityAddress::derive(&[5; 32], "localhost").to_string();
    insert_identity(env, &address);
    let quota = ["--metricKey", "NumberOfTokens", "--max", "3", "--period", "Day"];
    let added = env.run(
        &[
            &["identity", "quota", "add", "--address", address.as_str()],
            &quota[..],
        ]
        .concat(),
    );
    assert!(added.status.success(), "{}", stderr(&added));
    let individual = json_prefix(&stdout(&added));
    let id = individual["id"].as_str().unwrap();
    assert!(id.starts_with("QUO"), "{individual}");
    let stranger = backbone_core::IdentityAddress::derive(&[6; 32], "localhost").to_string();
    let unknown = env.run(
        &[
            &["identity", "quota", "add", "--address", stranger.as_str()],
            &quota[..],
        ]
        .concat(),
    );
    failure(&unknown, "not found");
    let removed = env.run(&[
        "identity",
        "quota",
        "remove",
        "--address",
        &address,
        "--quotaId",
        id,
    ]);
    assert!(removed.status.success(), "{}", stderr(&removed));
}

#[test]
fn quota_commands_on_sqlite() {
    quota_commands(&Env::sqlite());
}

#[test]
fn quota_commands_on_postgres() {
    quota_commands(&Env::postgres());
}

#[test]
fn invalid_configuration_exits_non_zero_naming_the_key() {
    let env = Env::sqlite();
    let cases: [(&str, &str, &str); 5] = [
        (
            "BACKBONE_AUTHENTICATION__JWT_LIFETIME_SECONDS",
            "30",
            "jwt_lifetime_seconds",
        ),
        ("BACKBONE_DATABASE__URL", "mysql://x", "database.url"),
        ("BACKBONE_CONSUMER_API__LISTEN", "not an address", "listen"),
        ("BACKBONE_LANDSCAPE", "moon", "landscape"),
        ("BACKBONE_DID_DOMAIN_NAME", "UPPER.case", "did_domain_name"),
    ];
    for (key, value, named) in cases {
        let output = env.command(&["migrate"]).env(key, value).output().unwrap();
        assert!(!output.status.success(), "{key}={value} was accepted");
        assert!(
            stderr(&output).to_lowercase().contains(named),
            "{key}: {}",
            stderr(&output)
        );
    }
    let typo = env
        .command(&["migrate"])
        .env("BACKBONE_DATABASE__ULR", "sqlite://x.db")
        .output()
        .unwrap();
    assert!(
        !typo.status.success(),
        "a misspelt key in a known section is refused"
    );
    assert!(stderr(&typo).to_lowercase().contains("ulr"), "{}", stderr(&typo));
    let stray = env
        .command(&["migrate"])
        .env("BACKBONE_DATABSE__URL", "sqlite://x.db")
        .output()
        .unwrap();
    assert!(stray.status.success(), "{}", stderr(&stray));
    assert!(
        stderr(&stray).contains("ignoring BACKBONE_DATABSE__URL"),
        "{}",
        stderr(&stray)
    );
    let numeric_key = env
        .command(&["migrate"])
        .env("BACKBONE_ADMIN_API__API_KEY", "1234567890123456")
        .output()
        .unwrap();
    assert!(
        numeric_key.status.success(),
        "a numeric-looking secret is text: {}",
        stderr(&numeric_key)
    );
    let prod = env
        .command(&["migrate"])
        .env("BACKBONE_LANDSCAPE", "prod")
        .output()
        .unwrap();
    assert!(!prod.status.success());
    assert!(stderr(&prod).contains("admin_api.api_key"), "{}", stderr(&prod));
    let missing_file = env.run(&["--config", "/nonexistent/backbone.toml", "migrate"]);
    assert!(!missing_file.status.success());
    assert!(stderr(&missing_file).contains("/nonexistent/backbone.toml"));
}

#[test]
fn config_file_is_read_and_environment_wins() {
    let env = Env::sqlite();
    std::fs::create_dir_all(&env.data_dir).unwrap();
    let file = env.data_dir.join("backbone.toml");
    std::fs::write(&file, "[authentication]\njwt_lifetime_seconds = 10\n").unwrap();
    let from_file = env.run(&["--config", file.to_str().unwrap(), "migrate"]);
    assert!(
        !from_file.status.success(),
        "the file's invalid lifetime must be seen"
    );
    let overridden = env
        .command(&["--config", file.to_str().unwrap(), "migrate"])
        .env("BACKBONE_AUTHENTICATION__JWT_LIFETIME_SECONDS", "120")
        .output()
        .unwrap();
    assert!(overridden.status.success(), "{}", stderr(&overridden));
}

/// The default command serves on the embedded default and answers `/health` once ready.
#[test]
fn serve_boots_on_the_embedded_default() {
    let env = Env::sqlite();
    let port = free_port();
    let admin_port = free_port();
    let mut child = env
        .command(&[])
        .env_remove("BACKBONE_DATABASE__URL")
        .env("BACKBONE_CONSUMER_API__LISTEN", format!("127.0.0.1:{port}"))
        .env("BACKBONE_ADMIN_API__LISTEN", format!("127.0.0.1:{admin_port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let healthy = loop {
        if let Ok(Some(status)) = child.try_wait() {
            panic!("the server exited: {status}");
        }
        if health_ok(port) {
            break true;
        }
        if Instant::now() > deadline {
            break false;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    if !healthy {
        child.kill().ok();
        child.wait().ok();
        panic!("no healthy answer within 30 s");
    }
    // SIGTERM stops it cleanly, without waiting for an idle keep-alive connection.
    let _idle = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    let terminated = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(terminated.success());
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if Instant::now() > deadline {
            child.kill().ok();
            child.wait().ok();
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let status = status.expect("the server stops within 10 s of SIGTERM");
    assert!(status.success(), "exit status after SIGTERM: {status}");
    assert!(
        env.data_dir.join("backbone.db").exists(),
        "SQLite file under the data dir"
    );
    assert!(
        env.data_dir.join("jwt-signing-key.pem").exists(),
        "dev signing key persisted"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = |name: &str| {
            let path = env.data_dir.join(name);
            std::fs::metadata(path).unwrap().permissions().mode() & 0o777
        };
        assert_eq!(mode(""), 0o700, "data dir");
        for file in ["backbone.db", "jwt-signing-key.pem", "admin-api-key"] {
            assert_eq!(mode(file), 0o600, "{file}");
        }
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn health_ok(port: u16) -> bool {
    use std::io::{Read, Write};
    let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    if stream
        .write_all(b"GET /health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .is_err()
    {
        return false;
    }
    let mut response = String::new();
    let _ = stream.read_to_string(&mut response);
    response.starts_with("HTTP/1.1 200")
}

/// A poisoned event in the outbox, set aside by the relay at the end of `job run`.
fn poison_the_outbox(env: &Env) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let db = backbone_db::Database::connect(&env.database_url, backbone_db::PoolOptions::default())
            .await
            .unwrap();
        backbone_db::sqlx::query(
            "INSERT INTO outbox_events (event_id, event_type, payload, created_at) \
             VALUES ('poisoned-1', 'RelationshipStatusChanged', '{\"Peer\": \"nobody\"}', 0)",
        )
        .execute(db.writer())
        .await
        .unwrap();
        db.close().await;
    });
}

fn dead_letter_commands(env: &Env) {
    assert!(env.run(&["migrate"]).status.success());
    poison_the_outbox(env);
    let relayed = env
        .command(&["job", "run", "housekeeping"])
        .env("BACKBONE_EVENT_BUS__MAX_ATTEMPTS", "1")
        .output()
        .unwrap();
    assert!(relayed.status.success(), "{}", stderr(&relayed));

    let listed = env.run(&["events", "dead-letters", "list"]);
    assert!(listed.status.success(), "{}", stderr(&listed));
    let letters = json_prefix(&stdout(&listed));
    let letters = letters.as_array().unwrap();
    let mut consumers: Vec<&str> = letters.iter().map(|l| l["consumer"].as_str().unwrap()).collect();
    consumers.sort_unstable();
    assert_eq!(
        consumers,
        [
            "Messages.RelationshipStatusChanged",
            "Synchronization.ExternalEvents"
        ]
    );
    assert!(letters
        .iter()
        .all(|l| l["eventId"] == "poisoned-1" && l["attempts"] == 1));
    assert!(letters[0]["error"].as_str().unwrap().contains("malformed"));
    let first = letters[0]["id"].as_str().unwrap();
    let second = letters[1]["id"].as_str().unwrap();

    failure(
        &env.run(&["events", "dead-letters", "retry", first]),
        "failed again, kept",
    );
    let listed = json_prefix(&stdout(&env.run(&["events", "dead-letters", "list"])));
    let kept = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["id"] == first)
        .unwrap();
    assert_eq!(kept["attempts"], 2);

    let discarded = env.run(&["events", "dead-letters", "discard", first]);
    assert!(discarded.status.success(), "{}", stderr(&discarded));
    failure(
        &env.run(&["events", "dead-letters", "discard", first]),
        "no such dead letter",
    );
    failure(
        &env.run(&["events", "dead-letters", "retry", "--all"]),
        "1 of 1 dead letters were not handled",
    );
    let listed = json_prefix(&stdout(&env.run(&["events", "dead-letters", "list"])));
    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert_eq!(listed[0]["id"], second);
    failure(&env.run(&["events", "delete-topology"]), "nothing to delete");
}

#[test]
fn dead_letter_commands_on_sqlite() {
    dead_letter_commands(&Env::sqlite());
}

#[test]
fn dead_letter_commands_on_postgres() {
    dead_letter_commands(&Env::postgres());
}

/// With the RabbitMQ bus, a command closes its broker connection before it exits; left to the
/// runtime's shutdown, lapin's I/O thread logged "Connection error" on about half the runs.
#[test]
fn commands_close_the_broker_connection_before_they_exit() {
    let env = Env::sqlite();
    let name = format!("backbone-cli-{}", uuid::Uuid::new_v4().simple());
    let with_rabbitmq = |args: &[&str]| {
        env.command(args)
            .env("BACKBONE_EVENT_BUS__PROVIDER", "rabbitmq")
            .env(
                "BACKBONE_EVENT_BUS__RABBITMQ__URL",
                "amqp://guest:guest@127.0.0.1:5672/%2f",
            )
            .env("BACKBONE_EVENT_BUS__RABBITMQ__EXCHANGE", &name)
            .env("BACKBONE_EVENT_BUS__RABBITMQ__QUEUE_PREFIX", format!("{name}."))
            .output()
            .expect("the binary runs")
    };
    for _ in 0..6 {
        let output = with_rabbitmq(&["tier", "list"]);
        assert!(output.status.success(), "tier list failed: {}", stderr(&output));
        assert!(
            !stderr(&output).contains("ERROR"),
            "errors at exit: {}",
            stderr(&output)
        );
    }
    let output = with_rabbitmq(&["events", "delete-topology"]);
    assert!(
        output.status.success(),
        "delete-topology failed: {}",
        stderr(&output)
    );
    assert!(
        !stderr(&output).contains("ERROR"),
        "errors at exit: {}",
        stderr(&output)
    );
}
