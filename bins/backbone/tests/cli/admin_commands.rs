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
