use std::str::FromStr;
use std::time::Duration;

use anyhow::{bail, Context};
use sqlx::any::{install_default_drivers, AnyPoolOptions};
use sqlx::migrate::{MigrateDatabase, Migrator};
use sqlx::{AnyPool, Executor};

static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("../../migrations/postgres");
static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("../../migrations/sqlite");

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

impl Dialect {
    pub fn from_url(url: &str) -> anyhow::Result<Self> {
        if url.starts_with("sqlite:") {
            Ok(Self::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Self::Postgres)
        } else {
            bail!("unsupported database URL scheme (expected sqlite:// or postgres://)")
        }
    }

    /// Row lock suffix for `SELECT`s inside a transaction. SQLite has no row locks: its writes
    /// are serialised by the single writer connection instead.
    pub fn for_update(self) -> &'static str {
        match self {
            Self::Postgres => " FOR UPDATE",
            Self::Sqlite => "",
        }
    }

    /// Row lock suffix for a queue's claim: on PostgreSQL concurrent claimers skip the rows
    /// another one holds and take the next ones. SQLite has a single writer anyway.
    pub fn for_update_skip_locked(self) -> &'static str {
        match self {
            Self::Postgres => " FOR UPDATE SKIP LOCKED",
            Self::Sqlite => "",
        }
    }
}

/// How many connections, and how long a request may wait for one.
#[derive(Debug, Clone, Copy)]
pub struct PoolOptions {
    pub max_connections: u32,
    /// A request that gets no connection in this time fails (503) instead of hanging.
    pub acquire_timeout: Duration,
}

impl Default for PoolOptions {
    fn default() -> Self {
        Self {
            max_connections: 10,
            acquire_timeout: Duration::from_secs(5),
        }
    }
}

/// The connection pools plus the dialect they speak. Cheap to clone.
///
/// On PostgreSQL reads and writes share one pool. On SQLite, which allows one writer at a
/// time, writes go through a pool of exactly one connection, so writers queue fairly in the
/// process (first come, first served, no connection held while waiting) instead of polling
/// SQLite's busy handler; the read pool is `query_only`, so a write that bypasses the writer
/// fails loudly in tests rather than contending for the lock. WAL lets readers run beside
/// the writer.
#[derive(Debug, Clone)]
pub struct Database {
    pool: AnyPool,
    writer: AnyPool,
    dialect: Dialect,
}

impl Database {
    /// Connects, creating the SQLite file or the PostgreSQL database if it does not exist yet.
    pub async fn connect(url: &str, options: PoolOptions) -> anyhow::Result<Self> {
        install_default_drivers();
        let dialect = Dialect::from_url(url)?;
        match dialect {
            Dialect::Sqlite => connect_sqlite(url, options).await,
            Dialect::Postgres => connect_postgres(url, options).await,
        }
        .context("connecting to the database")
    }

    pub async fn migrate(&self) -> anyhow::Result<()> {
        let migrator = match self.dialect {
            Dialect::Postgres => &POSTGRES_MIGRATIONS,
            Dialect::Sqlite => &SQLITE_MIGRATIONS,
        };
        migrator
            .run(&self.writer)
            .await
            .context("running database migrations")
    }

    /// The pool for reads. On SQLite its connections refuse writes.
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// The pool for writes outside [`Database::begin_write`] (single statements). Never acquire
    /// it while holding a connection of a write transaction: on SQLite that is the same, only
    /// connection.
    pub fn writer(&self) -> &AnyPool {
        &self.writer
    }

    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    /// Starts a transaction that will write. On SQLite it waits its turn for the writer
    /// connection and takes the write lock up front (`BEGIN IMMEDIATE`), so it never fails on a
    /// lock upgrade.
    pub async fn begin_write(&self) -> sqlx::Result<sqlx::Transaction<'static, sqlx::Any>> {
        match self.dialect {
            Dialect::Sqlite => self.writer.begin_with("BEGIN IMMEDIATE").await,
            Dialect::Postgres => self.writer.begin().await,
        }
    }

    /// Whether the database answers (health checks).
    pub async fn ping(&self) -> sqlx::Result<()> {
        self.pool.execute("SELECT 1").await.map(drop)
    }

    pub async fn close(&self) {
        self.pool.close().await;
        self.writer.close().await;
    }
}

/// Connection settings every pool shares. Idle connections are not pinged before each
/// checkout: that was a database round trip per checkout; a broken connection fails its
/// query instead, and the pool replaces it.
fn pool_options(options: PoolOptions, max_connections: u32) -> AnyPoolOptions {
    AnyPoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(options.acquire_timeout)
        .test_before_acquire(false)
}

async fn connect_postgres(url: &str, options: PoolOptions) -> anyhow::Result<Database> {
    if !sqlx::Postgres::database_exists(url)
        .await
        .context("checking the database")?
    {
        sqlx::Postgres::create_database(url)
            .await
            .context("creating the database")?;
    }
    let pool = pool_options(options, options.max_connections)
        .connect(url)
        .await?;
    Ok(Database {
        writer: pool.clone(),
        pool,
        dialect: Dialect::Postgres,
    })
}

async fn connect_sqlite(url: &str, options: PoolOptions) -> anyhow::Result<Database> {
    ensure_sqlite_directory(url)?;
    let url = if url.contains("mode=") {
        url.to_owned()
    } else {
        format!("{url}{}mode=rwc", if url.contains('?') { '&' } else { '?' })
    };
    // The writer first: it creates the file and switches it to WAL once; WAL is a property of
    // the file, so the readers find it set.
    let writer = pool_options(options, 1)
        .after_connect(|connection, _| Box::pin(async move { sqlite_pragmas(connection, false).await }))
        .connect(&url)
        .await?;
    if url.contains(":memory:") {
        // Every connection to :memory: is a database of its own: one connection serves all.
        return Ok(Database {
            pool: writer.clone(),
            writer,
            dialect: Dialect::Sqlite,
        });
    }
    let pool = pool_options(options, options.max_connections)
        .after_connect(|connection, _| Box::pin(async move { sqlite_pragmas(connection, true).await }))
        .connect(&url)
        .await?;
    Ok(Database {
        pool,
        writer,
        dialect: Dialect::Sqlite,
    })
}

/// The busy timeout comes first: the other pragmas may need a lock, and without it they
/// would fail at once with "database is locked" while the writer commits.
async fn sqlite_pragmas(connection: &mut sqlx::AnyConnection, read_only: bool) -> sqlx::Result<()> {
    connection
        .execute(
            "PRAGMA busy_timeout = 10000; PRAGMA journal_mode = WAL; PRAGMA foreign_keys = ON; \
             PRAGMA synchronous = NORMAL;",
        )
        .await?;
    if read_only {
        connection.execute("PRAGMA query_only = ON;").await?;
    }
    Ok(())
}

fn ensure_sqlite_directory(url: &str) -> anyhow::Result<()> {
    let path = url.trim_start_matches("sqlite://").trim_start_matches("sqlite:");
    let path = path.split('?').next().unwrap_or_default();
    if path.is_empty() || path.starts_with(":memory:") {
        return Ok(());
    }
    if let Some(parent) = std::path::Path::new(path).parent() {
        if !parent.as_os_str().is_empty() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("creating the database directory {}", parent.display()))?;
        }
    }
    Ok(())
}

impl FromStr for Dialect {
    type Err = anyhow::Error;
    fn from_str(url: &str) -> anyhow::Result<Self> {
        Self::from_url(url)
    }
}
