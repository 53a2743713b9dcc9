//! admin-and-services §3: `announcement send|delete`, `token reset-access-failed-count` and
//! `database export`, run as the real binary without a terminal (so no prompts and no
//! progress bar).

use std::io::Read;
use std::path::{Path, PathBuf};

use serde_json::json;

use super::{failure, json_prefix, stderr, stdout, Env};

/// Rows of every exported table, as the modules write them: a client `app`, two identities
/// created with it, a device, a relationship, a message, a token and a datawallet change.
const SEED: &[&str] = &[
    "INSERT INTO identities (address, client_id, public_key, tier_id, created_at, identity_version, status) \
     VALUES ('did:e:localhost:dids:aaaaaaaaaaaaaaaaaaaaaa', 'app', 'a', 'TIRBasic000000000000', 1000, 1, 'Active')",
    "INSERT INTO identities (address, client_id, public_key, tier_id, created_at, identity_version, status) \
     VALUES ('did:e:localhost:dids:bbbbbbbbbbbbbbbbbbbbbb', 'app', 'b', 'TIRBasic000000000000', 1000, 1, 'Active')",
    "INSERT INTO devices (id, identity_address, username, normalized_username, password_hash, created_at, \
     created_by_device, last_login_at, communication_language, is_backup_device) VALUES ('DVCaaaaaaaaaaaaaaaaa', \
     'did:e:localhost:dids:aaaaaaaaaaaaaaaaaaaaaa', 'USRaaaaaaaaaaaaaaaaa', 'USRAAAAAAAAAAAAAAAAA', 'x', 1000, \
     'DVCaaaaaaaaaaaaaaaaa', 2000, 'en', 0)",
    "INSERT INTO relationships (id, template_id, from_address, to_address, pair_key, created_at, status) VALUES \
     ('RELaaaaaaaaaaaaaaaaa', NULL, 'did:e:localhost:dids:aaaaaaaaaaaaaaaaaaaaaa', \
     'did:e:localhost:dids:bbbbbbbbbbbbbbbbbbbbbb', 'pair', 3000, 'Active')",
    "INSERT INTO messages (id, created_at, created_by, created_by_device, body) VALUES ('MSGaaaaaaaaaaaaaaaaa', \
     4000, 'did:e:localhost:dids:aaaaaaaaaaaaaaaaaaaaaa', 'DVCaaaaaaaaaaaaaaaaa', 'ciphertext')",
    "INSERT INTO message_recipients (message_id, position, address, relationship_id, encrypted_key) VALUES \
     ('MSGaaaaaaaaaaaaaaaaa', 0, 'did:e:localhost:dids:bbbbbbbbbbbbbbbbbbbbbb', 'RELaaaaaaaaaaaaaaaaa', 'key')",
    "INSERT INTO tokens (id, created_by, created_by_device, created_at, expires_at, content, access_failed_count) \
     VALUES ('TOKaaaaaaaaaaaaaaaaa', 'did:e:localhost:dids:aaaaaaaaaaaaaaaaaaaaaa', 'DVCaaaaaaaaaaaaaaaaa', 5000, \
     9000000000000, 'twelve bytes', 100)",
];

fn seed(env: &Env) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let db = backbone_db::Database::connect(&env.database_url, backbone_db::PoolOptions::default())
            .await
            .unwrap();
        for statement in SEED {
            // Text literals stand in for bytes on both databases.
            backbone_db::sqlx::query(statement)
                .execute(db.writer())
                .await
                .unwrap_or_else(|e| panic!("{statement}: {e}"));
        }
        db.close().await;
    });
}

fn scalar(env: &Env, sql: &str) -> i64 {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let db = backbone_db::Database::connect(&env.database_url, backbone_db::PoolOptions::default())
            .await
            .unwrap();
        let value: i64 = backbone_db::sqlx::query_scalar(sql)
            .fetch_one(db.pool())
            .await
            .unwrap();
        db.close().await;
        value
    })
}

fn prepared(env: &Env) {
    let migrated = env.run(&["migrate"]);
    assert!(migrated.status.success(), "{}", stderr(&migrated));
    let client = env.run(&[
        "client",
        "create",
        "--clientId",
        "app",
        "--displayName",
        "The App",
        "--defaultTier",
        "Basic",
    ]);
    assert!(client.status.success(), "{}", stderr(&client));
    seed(env);
}

fn announcement_and_token_commands(env: &Env) {
    prepared(env);
    let sent = env.run(&[
        "announcement",
        "send",
        "--severity",
        "high",
        "--silent",
        "--title",
        "Maintenance",
        "--body",
        "Tonight",
        "--text",
        "de",
        "Wartung",
        "Heute Nacht",
        "--expiration",
        "2099-01-01T00:00:00Z",
    ]);
    assert!(sent.status.success(), "{}", stderr(&sent));
    let announcement = json_prefix(&stdout(&sent));
    assert_eq!(
        (&announcement["severity"], &announcement["isSilent"]),
        (&json!("High"), &json!(true))
    );
    assert_eq!(announcement["texts"].as_array().unwrap().len(), 2);
    let texts = announcement["texts"].as_array().unwrap();
    let german = texts.iter().find(|t| t["language"] == "de").unwrap();
    assert_eq!(
        (&german["title"], &german["body"]),
        (&json!("Wartung"), &json!("Heute Nacht"))
    );
    assert_eq!(announcement["expiresAt"], "2099-01-01T00:00:00.000Z");
    let id = announcement["id"].as_str().unwrap().to_owned();

    // Without a terminal the English text comes from flags; the rules are the Admin API's.
    failure(
        &env.run(&["announcement", "send", "--severity", "Low"]),
        "--title and --body",
    );
    failure(
        &env.run(&[
            "announcement",
            "send",
            "--severity",
            "urgent",
            "--title",
            "t",
            "--body",
            "b",
        ]),
        "unknown severity",
    );
    failure(
        &env.run(&[
            "announcement",
            "send",
            "--severity",
            "Low",
            "--title",
            "t",
            "--body",
            "b",
            "--iql-query",
            "x",
        ]),
        "must be silent",
    );
    assert_eq!(scalar(env, "SELECT COUNT(*) FROM announcements"), 1);
    let deleted = env.run(&["announcement", "delete", "--id", &id]);
    assert!(deleted.status.success(), "{}", stderr(&deleted));
    failure(&env.run(&["announcement", "delete", "--id", &id]), "not found");

    let reset = env.run(&[
        "token",
        "reset-access-failed-count",
        "--id",
        "TOKaaaaaaaaaaaaaaaaa",
    ]);
    assert!(reset.status.success(), "{}", stderr(&reset));
    assert_eq!(scalar(env, "SELECT access_failed_count FROM tokens"), 0);
    failure(
        &env.run(&[
            "token",
            "reset-access-failed-count",
            "--id",
            "TOKbbbbbbbbbbbbbbbbb",
        ]),
        "not found",
    );
    failure(
        &env.run(&["token", "reset-access-failed-count", "--id", "nonsense"]),
        "not valid",
    );
}

/// Runs every command line at once, each as its own process; the outputs in order.
fn run_at_once(env: &Env, commands: &[Vec<String>]) -> Vec<std::process::Output> {
    let children: Vec<_> = commands
        .iter()
        .map(|args| {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            env.command(&args)
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .expect("the binary starts")
        })
        .collect();
    children
        .into_iter()
        .map(|child| child.wait_with_output().expect("the binary runs"))
        .collect()
}

fn words(line: &str) -> Vec<String> {
    line.split(' ').map(str::to_owned).collect()
}

/// Operators send and delete announcements at the same time: six concurrent sends create six
/// announcements; deleting each twice at once deletes each exactly once, the other command
/// fails with "not found".
fn concurrent_announcement_commands(env: &Env) {
    prepared(env);
    let sends: Vec<Vec<String>> = (0..6)
        .map(|i| {
            words(&format!(
                "announcement send --severity low --silent --title t{i} --body b"
            ))
        })
        .collect();
    let mut ids = Vec::new();
    for sent in run_at_once(env, &sends) {
        assert!(sent.status.success(), "{}", stderr(&sent));
        ids.push(json_prefix(&stdout(&sent))["id"].as_str().unwrap().to_owned());
    }
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 6);
    assert_eq!(scalar(env, "SELECT COUNT(*) FROM announcements"), 6);

    let deletes: Vec<Vec<String>> = ids
        .iter()
        .chain(&ids)
        .map(|id| words(&format!("announcement delete --id {id}")))
        .collect();
    let outputs = run_at_once(env, &deletes);
    for (index, id) in ids.iter().enumerate() {
        let pair = [&outputs[index], &outputs[index + ids.len()]];
        let succeeded = pair.iter().filter(|output| output.status.success()).count();
        assert_eq!(succeeded, 1, "{id}: {} | {}", stderr(pair[0]), stderr(pair[1]));
        let refused = pair.iter().find(|output| !output.status.success()).unwrap();
        assert!(stderr(refused).contains("not found"), "{}", stderr(refused));
    }
    assert_eq!(scalar(env, "SELECT COUNT(*) FROM announcements"), 0);
}

#[test]
fn concurrent_announcement_commands_on_sqlite() {
    concurrent_announcement_commands(&Env::sqlite());
}

#[test]
fn concurrent_announcement_commands_on_postgres() {
    concurrent_announcement_commands(&Env::postgres());
}

/// `announcement send` on a terminal: util-linux `script` gives the binary a pseudo-terminal
/// and forwards `input` to it.
fn on_terminal(env: &Env, command: &str, input: &str) -> std::process::Output {
    use std::io::Write;
    let mut script = std::process::Command::new("script");
    script.args(["-qec", &format!("{} {command}", super::BINARY), "/dev/null"]);
    let mut running = env
        .with_environment(script)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("util-linux script runs");
    running.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
    running.wait_with_output().unwrap()
}

fn announcement_prompts_on_a_terminal(env: &Env) {
    prepared(env);
    let sent = on_terminal(
        env,
        "announcement send --severity low",
        "Maintenance\nTonight\nde\nWartung\nHeute Nacht\n\ny\n",
    );
    assert!(sent.status.success(), "{}", stdout(&sent));
    let shown = stdout(&sent);
    assert!(
        shown.contains("Title (English): ") && shown.contains("[de] Wartung: Heute Nacht"),
        "{shown}"
    );
    let json = &shown[shown
        .find("{\r\n")
        .or_else(|| shown.find("{\n"))
        .expect("the announcement")..];
    let announcement: serde_json::Value = serde_json::from_str(&json.replace("\r\n", "\n")).unwrap();
    assert_eq!(
        (&announcement["severity"], &announcement["isSilent"]),
        (&json!("Low"), &json!(false))
    );
    assert_eq!(announcement["texts"].as_array().unwrap().len(), 2);
    // No confirmation, or `x` for a language: nothing is written.
    let declined = on_terminal(env, "announcement send --severity low", "T\nB\n\nn\n");
    assert!(
        declined.status.success() && stdout(&declined).contains("Aborted."),
        "{}",
        stdout(&declined)
    );
    let aborted = on_terminal(env, "announcement send --severity low", "T\nB\nx\n");
    assert!(!aborted.status.success(), "{}", stdout(&aborted));
    assert_eq!(scalar(env, "SELECT COUNT(*) FROM announcements"), 1);
}

#[test]
fn announcement_prompts_on_a_terminal_on_sqlite() {
    announcement_prompts_on_a_terminal(&Env::sqlite());
}

#[test]
fn announcement_prompts_on_a_terminal_on_postgres() {
    announcement_prompts_on_a_terminal(&Env::postgres());
}

#[test]
fn announcement_and_token_commands_on_sqlite() {
    announcement_and_token_commands(&Env::sqlite());
}

#[test]
fn announcement_and_token_commands_on_postgres() {
    announcement_and_token_commands(&Env::postgres());
}

/// Runs the export with the temporary directory inside the test's own; returns the zip.
fn export(env: &Env, sensitive: bool) -> (PathBuf, String) {
    let mut args = vec!["database", "export"];
    if sensitive {
        args.push("--sensitive");
    }
    let output = env.command(&args).env("TMPDIR", &env.data_dir).output().unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    // Piped: the progress bars stay away.
    assert!(!stderr(&output).contains("Devices"), "{}", stderr(&output));
    let directory = env.data_dir.join("enmeshed").join("backbone");
    let zips: Vec<PathBuf> = std::fs::read_dir(&directory)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "zip"))
        .collect();
    assert_eq!(zips.len(), 1, "older exports are deleted: {zips:?}");
    assert!(stdout(&output).contains(&zips[0].display().to_string()));
    (zips[0].clone(), stdout(&output))
}

/// The CSV's header and rows.
fn csv_of(zip: &Path, name: &str) -> (Vec<String>, Vec<Vec<String>>) {
    let mut archive = zip::ZipArchive::new(std::fs::File::open(zip).unwrap()).unwrap();
    let mut text = String::new();
    archive.by_name(name).unwrap().read_to_string(&mut text).unwrap();
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let header = reader.headers().unwrap().iter().map(str::to_owned).collect();
    let rows = reader
        .records()
        .map(|r| r.unwrap().iter().map(str::to_owned).collect())
        .collect();
    (header, rows)
}

fn database_export(env: &Env) {
    prepared(env);
    let (zip, _) = export(env, false);
    let (header, rows) = csv_of(&zip, "messages.csv");
    assert_eq!(
        header,
        [
            "MessageId",
            "CreatedBy",
            "CreatedByClientName",
            "RelationshipId",
            "Recipient",
            "RecipientClientName",
            "CreatedAt",
            "ReceivedAt",
            "CipherSize"
        ]
    );
    // Identifiers blank, clients named, sizes in bytes.
    assert_eq!(
        rows,
        [[
            "",
            "",
            "The App",
            "",
            "",
            "The App",
            "1970-01-01T00:00:04.000Z",
            "",
            "10"
        ]]
    );
    let (header, rows) = csv_of(&zip, "devices.csv");
    assert_eq!(header[0], "DeviceId");
    assert_eq!(
        rows,
        [[
            "",
            "1970-01-01T00:00:02.000Z",
            "",
            "1970-01-01T00:00:01.000Z",
            "Basic",
            "Active",
            "",
            "app",
            "The App",
            ""
        ]]
    );
    let (_, rows) = csv_of(&zip, "tokens.csv");
    assert_eq!(rows[0][3..6], ["app", "The App", "12"]);
    let (header, rows) = csv_of(&zip, "relationships.csv");
    assert_eq!(header.len(), 13);
    assert_eq!(rows[0][9..12], ["Active", "false", "false"]);
    for name in [
        "deletionAuditLogItems.csv",
        "relationshipTemplates.csv",
        "files.csv",
        "datawalletModifications.csv",
        "syncErrors.csv",
    ] {
        let (header, rows) = csv_of(&zip, name);
        assert!(!header.is_empty() && rows.is_empty(), "{name}");
    }

    let (zip, _) = export(env, true);
    let (_, rows) = csv_of(&zip, "messages.csv");
    assert_eq!(
        rows[0][..5],
        [
            "MSGaaaaaaaaaaaaaaaaa",
            "did:e:localhost:dids:aaaaaaaaaaaaaaaaaaaaaa",
            "The App",
            "RELaaaaaaaaaaaaaaaaa",
            "did:e:localhost:dids:bbbbbbbbbbbbbbbbbbbbbb"
        ]
    );
}

#[test]
fn database_export_on_sqlite() {
    database_export(&Env::sqlite());
}

#[test]
fn database_export_on_postgres() {
    database_export(&Env::postgres());
}
