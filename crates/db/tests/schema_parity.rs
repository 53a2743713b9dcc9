//! The two migration trees describe one schema: a fresh PostgreSQL and a fresh SQLite database,
//! each migrated, define the same tables, columns (type, nullability) and indexes (columns,
//! uniqueness, partial or not). Types are compared after normalising the dialects' spellings
//! (`BYTEA` ~ `BLOB`, `BIGINT`/`BIGSERIAL` ~ `INTEGER`, `VARCHAR` ~ `TEXT`). Needs the
//! PostgreSQL server of the test setup; without it the test fails.

use std::collections::BTreeSet;

use backbone_db::sqlx::{self, Connection, Executor, Row};
use backbone_db::{Database, PoolOptions};

const POSTGRES_SERVER: &str = "postgres://postgres@127.0.0.1:5432";

/// One fact about the schema, comparable across the dialects.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Fact {
    Column {
        table: String,
        column: String,
        kind: &'static str,
        nullable: bool,
    },
    PrimaryKey {
        table: String,
        columns: Vec<String>,
    },
    /// `name` is empty for the index behind a `UNIQUE` constraint (its name is the dialect's).
    Index {
        table: String,
        name: String,
        columns: Vec<String>,
        unique: bool,
        partial: bool,
    },
}

fn normalise_type(declared: &str) -> &'static str {
    let declared = declared.to_ascii_lowercase();
    match declared.split('(').next().unwrap_or_default().trim() {
        "bigint" | "integer" | "int" | "int4" | "int8" | "smallint" | "bigserial" | "serial" => "integer",
        "text" | "character varying" | "varchar" | "character" | "char" => "text",
        "bytea" | "blob" => "blob",
        "boolean" | "bool" => "boolean",
        "double precision" | "real" | "float8" => "real",
        _ => "other",
    }
}

fn is_internal(table: &str) -> bool {
    table.starts_with("_sqlx") || table.starts_with("sqlite_")
}

async fn postgres_facts(url: &str) -> BTreeSet<Fact> {
    let db = Database::connect(url, PoolOptions::default())
        .await
        .expect("PostgreSQL at 127.0.0.1:5432 is reachable");
    db.migrate().await.expect("the PostgreSQL migrations run");
    let mut facts = BTreeSet::new();
    let columns = sqlx::query(
        "SELECT table_name::text AS t, column_name::text AS c, data_type::text AS d, is_nullable::text AS n \
         FROM information_schema.columns WHERE table_schema = 'public'",
    )
    .fetch_all(db.pool())
    .await
    .expect("the columns are listed");
    for row in columns {
        let table: String = row.get("t");
        if is_internal(&table) {
            continue;
        }
        facts.insert(Fact::Column {
            table,
            column: row.get("c"),
            kind: normalise_type(&row.get::<String, _>("d")),
            nullable: row.get::<String, _>("n") == "YES",
        });
    }
    let indexes = sqlx::query(
        "SELECT t.relname::text AS t, i.relname::text AS i, \
         (SELECT string_agg(a.attname::text, ',' ORDER BY k.ord) FROM unnest(ix.indkey) WITH ORDINALITY k(attnum, ord) \
          JOIN pg_attribute a ON a.attrelid = ix.indrelid AND a.attnum = k.attnum) AS cols, \
         CASE WHEN ix.indisprimary THEN 1 ELSE 0 END AS pk, CASE WHEN ix.indisunique THEN 1 ELSE 0 END AS u, \
         CASE WHEN ix.indpred IS NULL THEN 0 ELSE 1 END AS p, \
         (SELECT COUNT(*) FROM pg_constraint c WHERE c.conindid = ix.indexrelid AND c.contype = 'u') AS con \
         FROM pg_index ix JOIN pg_class i ON i.oid = ix.indexrelid JOIN pg_class t ON t.oid = ix.indrelid \
         JOIN pg_namespace n ON n.oid = t.relnamespace WHERE n.nspname = 'public'",
    )
    .fetch_all(db.pool())
    .await
    .expect("the indexes are listed");
    for row in indexes {
        let table: String = row.get("t");
        if is_internal(&table) {
            continue;
        }
        let columns = row
            .get::<Option<String>, _>("cols")
            .unwrap_or_default()
            .split(',')
            .map(str::to_owned)
            .collect();
        if row.get::<i32, _>("pk") == 1 {
            facts.insert(Fact::PrimaryKey { table, columns });
            continue;
        }
        let constraint = row.get::<i64, _>("con") > 0;
        facts.insert(Fact::Index {
            table,
            name: if constraint { String::new() } else { row.get("i") },
            columns,
            unique: row.get::<i32, _>("u") == 1,
            partial: row.get::<i32, _>("p") == 1,
        });
    }
    db.close().await;
    facts
}

async fn sqlite_facts(url: &str) -> BTreeSet<Fact> {
    let db = Database::connect(url, PoolOptions::default())
        .await
        .expect("the SQLite file is created");
    db.migrate().await.expect("the SQLite migrations run");
    let mut facts = BTreeSet::new();
    let tables: Vec<String> =
        sqlx::query_scalar("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
            .fetch_all(db.pool())
            .await
            .expect("the tables are listed");
    for table in tables.into_iter().filter(|t| !is_internal(t)) {
        sqlite_table_facts(&db, &table, &mut facts).await;
    }
    db.close().await;
    facts
}

async fn sqlite_table_facts(db: &Database, table: &str, facts: &mut BTreeSet<Fact>) {
    let columns = sqlx::query(&format!(
        "SELECT name, type, \"notnull\" AS nn, pk FROM pragma_table_info('{table}')"
    ))
    .fetch_all(db.pool())
    .await
    .expect("the columns are listed");
    let mut primary_key: Vec<(i64, String)> = Vec::new();
    for row in columns {
        let column: String = row.get("name");
        let pk: i64 = row.get("pk");
        if pk > 0 {
            primary_key.push((pk, column.clone()));
        }
        facts.insert(Fact::Column {
            table: table.to_owned(),
            column,
            kind: normalise_type(&row.get::<String, _>("type")),
            // SQLite lets primary key columns be NULL unless declared otherwise; ours never are.
            nullable: row.get::<i64, _>("nn") == 0 && pk == 0,
        });
    }
    if !primary_key.is_empty() {
        primary_key.sort();
        facts.insert(Fact::PrimaryKey {
            table: table.to_owned(),
            columns: primary_key.into_iter().map(|(_, c)| c).collect(),
        });
    }
    let indexes = sqlx::query(&format!(
        "SELECT name, \"unique\" AS u, origin, partial FROM pragma_index_list('{table}')"
    ))
    .fetch_all(db.pool())
    .await
    .expect("the indexes are listed");
    for row in indexes {
        let origin: String = row.get("origin");
        if origin == "pk" {
            continue;
        }
        let name: String = row.get("name");
        let columns: Vec<String> = sqlx::query_scalar(&format!(
            "SELECT name FROM pragma_index_info('{name}') ORDER BY seqno"
        ))
        .fetch_all(db.pool())
        .await
        .expect("the index columns are listed");
        facts.insert(Fact::Index {
            table: table.to_owned(),
            name: if origin == "u" { String::new() } else { name },
            columns,
            unique: row.get::<i64, _>("u") == 1,
            partial: row.get::<i64, _>("partial") == 1,
        });
    }
}

async fn drop_postgres_database(name: &str) {
    let mut admin = sqlx::PgConnection::connect(&format!("{POSTGRES_SERVER}/postgres"))
        .await
        .expect("PostgreSQL at 127.0.0.1:5432 is reachable");
    admin
        .execute(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)").as_str())
        .await
        .expect("the test database is dropped");
}

#[tokio::test]
async fn postgres_and_sqlite_migrations_define_the_same_schema() {
    let suffix = backbone_core::ids::random_string(b"abcdefghijklmnopqrstuvwxyz0123456789", 16);
    let name = format!("backbone_test_parity_{suffix}");
    let postgres = postgres_facts(&format!("{POSTGRES_SERVER}/{name}")).await;
    drop_postgres_database(&name).await;

    let dir = std::env::temp_dir().join(format!("backbone-schema-parity-{suffix}"));
    std::fs::create_dir_all(&dir).expect("a temporary directory");
    let sqlite = sqlite_facts(&format!("sqlite://{}", dir.join("parity.db").display())).await;
    let _ = std::fs::remove_dir_all(&dir);

    let indexes = postgres
        .iter()
        .filter(|f| matches!(f, Fact::Index { .. }))
        .count();
    let keys = postgres
        .iter()
        .filter(|f| matches!(f, Fact::PrimaryKey { .. }))
        .count();
    assert!(
        postgres.len() > 100 && indexes > 10 && keys > 10,
        "PostgreSQL described too little ({indexes} indexes, {keys} primary keys): {postgres:#?}"
    );
    let only_postgres: Vec<_> = postgres.difference(&sqlite).collect();
    let only_sqlite: Vec<_> = sqlite.difference(&postgres).collect();
    assert!(
        only_postgres.is_empty() && only_sqlite.is_empty(),
        "the migration trees differ.\nonly in PostgreSQL: {only_postgres:#?}\nonly in SQLite: {only_sqlite:#?}"
    );
}
