//! Query plans on PostgreSQL: on a freshly migrated database seeded with tools/seed/seed.sql
//! (a tenth of its full scale, skewed like a real installation), `EXPLAIN` of the SQL the stores
//! run on request paths and in the worker shows no sequential scan of a large table. Each query is
//! checked under its custom plan and under its generic plan: sqlx prepares every statement, and
//! PostgreSQL may switch a prepared statement to the generic plan after five executions.
//!
//! Needs PostgreSQL on 127.0.0.1:5432 (as the API tests); without it the test is skipped, unless
//! `CI=true`, where it fails.

use backbone_db::sqlx::{self, Connection, Executor, PgConnection, Row};
use serde_json::Value;

const SERVER: &str = "postgres://postgres@127.0.0.1:5432";
const SEED: &str = include_str!("../../../tools/seed/seed.sql");
/// Tables with at least this many rows after seeding must not be read sequentially.
const LARGE_TABLE_ROWS: f32 = 1000.0;
const ANONYMOUS: &str = "did:e:localhost:dids:anonymous";

#[tokio::test]
async fn request_path_queries_use_indexes_on_a_seeded_database() {
    let Some(mut admin) = connect_admin().await else {
        return;
    };
    let name = format!("query_plans_{}", uuid::Uuid::new_v4().simple());
    admin
        .execute(format!("CREATE DATABASE {name}").as_str())
        .await
        .unwrap();
    let _drop = DropDatabase(Some(name.clone()));
    let url = format!("{SERVER}/{name}");
    let db = backbone_db::Database::connect(
        &url,
        backbone_db::PoolOptions {
            max_connections: 1,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    db.migrate().await.expect("the migrations run");
    db.close().await;

    let mut conn = PgConnection::connect(&url).await.unwrap();
    conn.execute("SET seed.scale = '0.1'").await.unwrap();
    sqlx::raw_sql(SEED)
        .execute(&mut conn)
        .await
        .expect("the seed script runs");
    // Index-only scans are planned from the visibility map, which a live table has.
    conn.execute("VACUUM ANALYZE").await.unwrap();

    let ids = Ids::load(&mut conn).await;
    let large = large_tables(&mut conn).await;
    let mut failures = Vec::new();
    for case in cases(&ids) {
        for mode in ["force_custom_plan", "force_generic_plan"] {
            let plan = explain(&mut conn, &case, mode).await;
            let scans = seq_scans(&plan, &large);
            if !scans.is_empty() {
                failures.push(format!(
                    "{} ({mode}) reads {scans:?} sequentially:\n{}\n{}",
                    case.name,
                    case.sql,
                    serde_json::to_string_pretty(&plan).unwrap()
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} plan(s) scan large tables:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

/// The server's maintenance database, or `None` (skip) when it is unreachable outside CI.
async fn connect_admin() -> Option<PgConnection> {
    match PgConnection::connect(&format!("{SERVER}/postgres")).await {
        Ok(conn) => Some(conn),
        Err(error) if std::env::var("CI").as_deref() == Ok("true") => {
            panic!("PostgreSQL is required in CI: {error}")
        }
        Err(error) => {
            eprintln!("skipped: PostgreSQL at {SERVER} is unreachable ({error})");
            None
        }
    }
}

struct DropDatabase(Option<String>);

impl Drop for DropDatabase {
    fn drop(&mut self) {
        let Some(name) = self.0.take() else { return };
        // Drop cannot await: a helper thread with its own runtime does it.
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                if let Ok(mut conn) = PgConnection::connect(&format!("{SERVER}/postgres")).await {
                    let _ = conn
                        .execute(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)").as_str())
                        .await;
                }
            });
        })
        .join();
    }
}

async fn large_tables(conn: &mut PgConnection) -> Vec<String> {
    sqlx::query_scalar(
        "SELECT relname::text FROM pg_class WHERE relkind = 'r' \
         AND relnamespace = 'public'::regnamespace AND reltuples >= $1",
    )
    .bind(LARGE_TABLE_ROWS)
    .fetch_all(conn)
    .await
    .unwrap()
}

/// A bind parameter, typed as sqlx's `Any` driver binds it on PostgreSQL.
enum Param {
    Text(String),
    Int(i64),
}

impl Param {
    fn type_name(&self) -> &'static str {
        match self {
            Self::Text(_) => "text",
            Self::Int(_) => "bigint",
        }
    }

    fn literal(&self) -> String {
        match self {
            Self::Text(text) => format!("'{}'", text.replace('\'', "''")),
            Self::Int(int) => int.to_string(),
        }
    }
}

fn t(value: &str) -> Param {
    Param::Text(value.to_owned())
}

fn texts(values: &[String]) -> Vec<Param> {
    values.iter().map(|v| t(v)).collect()
}

struct Case {
    name: &'static str,
    sql: String,
    params: Vec<Param>,
}

fn case(name: &'static str, sql: impl Into<String>, params: Vec<Param>) -> Case {
    Case {
        name,
        sql: sql.into(),
        params,
    }
}

/// `EXPLAIN (FORMAT JSON)` of the case as a prepared statement under the given plan cache mode.
async fn explain(conn: &mut PgConnection, case: &Case, mode: &str) -> Value {
    let types: Vec<_> = case.params.iter().map(Param::type_name).collect();
    let values: Vec<_> = case.params.iter().map(Param::literal).collect();
    let (types, values) = if case.params.is_empty() {
        (String::new(), String::new())
    } else {
        (
            format!("({})", types.join(", ")),
            format!("({})", values.join(", ")),
        )
    };
    conn.execute(format!("SET plan_cache_mode = {mode}").as_str())
        .await
        .unwrap();
    conn.execute(format!("PREPARE checked{types} AS {}", case.sql).as_str())
        .await
        .unwrap_or_else(|e| panic!("{} does not prepare: {e}\n{}", case.name, case.sql));
    let row = conn
        .fetch_one(format!("EXPLAIN (FORMAT JSON) EXECUTE checked{values}").as_str())
        .await
        .unwrap();
    conn.execute("DEALLOCATE checked").await.unwrap();
    let text: String = row.try_get_unchecked(0).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// The large tables a plan reads with a sequential scan.
fn seq_scans(plan: &Value, large: &[String]) -> Vec<String> {
    let mut found = Vec::new();
    let mut stack = vec![&plan[0]["Plan"]];
    while let Some(node) = stack.pop() {
        if node["Node Type"] == "Seq Scan" {
            let relation = node["Relation Name"].as_str().unwrap_or_default();
            if large.iter().any(|l| l == relation) {
                found.push(relation.to_owned());
            }
        }
        if let Some(children) = node["Plans"].as_array() {
            stack.extend(children);
        }
    }
    found
}

/// Values from the seeded database to bind: its skewed identities and their rows.
struct Ids {
    /// Identity 1 of the seed: tens of thousands of messages, a large datawallet.
    hub: String,
    /// Identity 2: an offline recipient with a large backlog of unreceived messages.
    backlog: String,
    /// Identity 500: an ordinary identity.
    normal: String,
    /// Someone with unreceived messages to the backlog identity.
    backlog_sender: String,
    pair_key: String,
    message: String,
    relationship: String,
    template: String,
    tokens: Vec<String>,
    files: Vec<String>,
    run: String,
    datawallet: String,
    context: String,
    device: String,
}

impl Ids {
    async fn load(conn: &mut PgConnection) -> Self {
        // The seed's addresses: identity i is 'did:e:localhost:dids:' || substr(md5('identity' || i), 1, 22).
        let address = "SELECT address FROM identities \
            WHERE address = 'did:e:localhost:dids:' || substr(md5('identity' || $1), 1, 22)";
        let hub = scalar(conn, address, "1").await;
        let backlog = scalar(conn, address, "2").await;
        let normal = scalar(conn, address, "500").await;
        let some = |table: &str| format!("SELECT id FROM {table} WHERE created_by = $1 ORDER BY id LIMIT 5");
        let (tokens, files) = (some("tokens"), some("files"));
        Self {
            backlog_sender: scalar(
                conn,
                "SELECT sender FROM message_recipients WHERE address = $1 AND received_at IS NULL \
                 GROUP BY sender ORDER BY COUNT(*) DESC, 1 LIMIT 1",
                &backlog,
            )
            .await,
            pair_key: scalar(
                conn,
                "SELECT pair_key FROM relationships WHERE to_address = $1 AND status = 'Active' ORDER BY id LIMIT 1",
                &hub,
            )
            .await,
            message: scalar(conn, "SELECT id FROM messages WHERE created_by = $1 ORDER BY id LIMIT 1", &hub).await,
            relationship: scalar(
                conn,
                "SELECT id FROM relationships WHERE to_address = $1 AND template_id IS NOT NULL ORDER BY id LIMIT 1",
                &hub,
            )
            .await,
            template: scalar(
                conn,
                "SELECT template_id FROM relationships WHERE to_address = $1 AND template_id IS NOT NULL \
                 ORDER BY id LIMIT 1",
                &hub,
            )
            .await,
            run: scalar(
                conn,
                "SELECT id FROM sync_runs WHERE owner = $1 ORDER BY event_count DESC, id LIMIT 1",
                &backlog,
            )
            .await,
            datawallet: scalar(conn, "SELECT id FROM datawallets WHERE owner = $1", &hub).await,
            context: scalar(
                conn,
                "SELECT context FROM external_events WHERE owner = $1 AND context IS NOT NULL \
                 GROUP BY context ORDER BY COUNT(*) DESC, 1 LIMIT 1",
                &backlog,
            )
            .await,
            device: scalar(
                conn,
                "SELECT id FROM devices WHERE identity_address = $1 ORDER BY id LIMIT 1",
                &hub,
            )
            .await,
            tokens: column(conn, &tokens, &hub).await,
            files: column(conn, &files, &hub).await,
            hub,
            backlog,
            normal,
        }
    }
}

async fn scalar(conn: &mut PgConnection, sql: &str, param: &str) -> String {
    sqlx::query_scalar(sql)
        .bind(param)
        .fetch_one(conn)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

async fn column(conn: &mut PgConnection, sql: &str, param: &str) -> Vec<String> {
    sqlx::query_scalar(sql)
        .bind(param)
        .fetch_all(conn)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

fn cases(ids: &Ids) -> Vec<Case> {
    let mut cases = messages(ids);
    cases.extend(decomposition(ids));
    cases.extend(relationships(ids));
    cases.extend(tokens_and_files(ids));
    cases.extend(devices(ids));
    cases.extend(synchronization(ids));
    cases.extend(worker(ids));
    cases.extend(quota_usage(ids));
    cases
}

fn messages(ids: &Ids) -> Vec<Case> {
    use backbone_messages::store::sql;
    use Param::Int;
    let (hub, normal) = (|| t(&ids.hub), || t(&ids.normal));
    vec![
        case(
            "messages: list, first page",
            sql::LIST_PAGE,
            vec![hub(), Int(50), Int(0)],
        ),
        case(
            "messages: list, deep page",
            sql::LIST_PAGE,
            vec![hub(), Int(50), Int(1000)],
        ),
        case(
            "messages: list, ordinary identity",
            sql::LIST_PAGE,
            vec![normal(), Int(50), Int(0)],
        ),
        case("messages: count", sql::COUNT, vec![hub()]),
        case(
            "messages: list by IDs",
            sql::list_by_ids(1),
            vec![hub(), t(&ids.message), Int(50), Int(0)],
        ),
        case(
            "messages: count by IDs",
            sql::count_by_ids(1),
            vec![hub(), t(&ids.message)],
        ),
        case("messages: get", sql::find_visible(), vec![hub(), t(&ids.message)]),
        case(
            "messages: recipients of a page",
            sql::recipients_of(1),
            vec![t(&ids.message)],
        ),
        case(
            "messages: attachments of a page",
            sql::attachments_of(1),
            vec![t(&ids.message)],
        ),
        case(
            "messages: unreceived count, backlog",
            sql::UNRECEIVED_COUNT,
            vec![t(&ids.backlog_sender), t(&ids.backlog)],
        ),
        case(
            "messages: unreceived count, hub to backlog",
            sql::UNRECEIVED_COUNT,
            vec![hub(), t(&ids.backlog)],
        ),
    ]
}

fn decomposition(ids: &Ids) -> Vec<Case> {
    use backbone_messages::store::sql;
    let (hub, normal) = (|| t(&ids.hub), || t(&ids.normal));
    vec![
        case(
            "worker: decomposed by sender",
            sql::DECOMPOSED_BY_SENDER,
            vec![normal(), hub()],
        ),
        case(
            "worker: decomposed by recipient",
            sql::DECOMPOSED_BY_RECIPIENT,
            vec![hub(), normal()],
        ),
        case(
            "worker: decomposed entries anonymised",
            sql::ANONYMISE_DECOMPOSED_ENTRIES,
            vec![t(ANONYMOUS), hub(), normal()],
        ),
        case(
            "worker: decomposed senders anonymised",
            sql::ANONYMISE_DECOMPOSED_SENDERS,
            vec![t(ANONYMOUS), hub(), normal()],
        ),
        case(
            "worker: orphaned messages deleted",
            sql::DELETE_ORPHANED,
            vec![t(ANONYMOUS)],
        ),
    ]
}

fn relationships(ids: &Ids) -> Vec<Case> {
    use backbone_relationships::store::sql;
    use Param::Int;
    let hub = || t(&ids.hub);
    vec![
        case(
            "relationships: youngest between",
            sql::YOUNGEST_BETWEEN,
            vec![t(&ids.pair_key)],
        ),
        case(
            "relationships: blocking exists",
            sql::blocking_relationship_exists(),
            vec![t(&ids.pair_key)],
        ),
        case(
            "relationships: acquainted",
            sql::ARE_ACQUAINTED,
            vec![t(&ids.pair_key), t(&ids.normal), hub()],
        ),
        case(
            "relationships: acquainted, other way",
            sql::ARE_ACQUAINTED,
            vec![t(&ids.pair_key), hub(), t(&ids.normal)],
        ),
        case(
            "relationships: get",
            sql::find_relationship(),
            vec![t(&ids.relationship), hub()],
        ),
        case(
            "relationships: list",
            sql::list_relationships(1),
            vec![hub(), t(&ids.relationship), Int(50), Int(0)],
        ),
        case(
            "relationships: count",
            sql::count_relationships(1),
            vec![hub(), t(&ids.relationship)],
        ),
        case(
            "relationships: audit logs of a page",
            sql::audit_logs_of(1),
            vec![t(&ids.relationship)],
        ),
        case("templates: get", sql::find_template(), vec![t(&ids.template)]),
        case(
            "templates: allocated",
            sql::ALLOCATIONS.has_sql(),
            vec![t(&ids.template), hub()],
        ),
        case(
            "templates: allocations",
            sql::ALLOCATION_COUNT,
            vec![t(&ids.template)],
        ),
        case(
            "templates: relationship from template",
            sql::HAS_RELATIONSHIP_FROM_TEMPLATE,
            vec![t(&ids.template), hub()],
        ),
        case(
            "templates: delete unlinks",
            sql::UNLINK_TEMPLATE,
            vec![t(&ids.template)],
        ),
    ]
}

fn tokens_and_files(ids: &Ids) -> Vec<Case> {
    use Param::Int;
    let hub = || t(&ids.hub);
    let now = chrono::Utc::now().timestamp_millis();
    let with = |first: Vec<Param>, rest: Vec<Param>| first.into_iter().chain(rest).collect::<Vec<_>>();
    let n = ids.tokens.len();
    let f = ids.files.len();
    vec![
        case(
            "tokens: get",
            backbone_tokens::store::sql::find(),
            vec![t(&ids.tokens[0])],
        ),
        case(
            "tokens: allocated",
            backbone_tokens::store::sql::ALLOCATIONS.has_sql(),
            vec![t(&ids.tokens[0]), hub()],
        ),
        case(
            "tokens: list",
            backbone_tokens::store::sql::list(n),
            with(with(vec![hub()], texts(&ids.tokens)), vec![Int(50), Int(0)]),
        ),
        case(
            "tokens: count",
            backbone_tokens::store::sql::count(n),
            with(vec![hub()], texts(&ids.tokens)),
        ),
        case(
            "files: get",
            backbone_files::store::sql::find_live(),
            vec![t(&ids.files[0]), Int(now)],
        ),
        case(
            "files: list",
            backbone_files::store::sql::list_created_by(0),
            vec![hub(), Int(now), Int(50), Int(0)],
        ),
        case(
            "files: count",
            backbone_files::store::sql::count_created_by(0),
            vec![hub(), Int(now)],
        ),
        case(
            "files: list by IDs",
            backbone_files::store::sql::list_created_by(f),
            with(
                with(vec![hub(), Int(now)], texts(&ids.files)),
                vec![Int(50), Int(0)],
            ),
        ),
    ]
}

fn devices(ids: &Ids) -> Vec<Case> {
    use backbone_devices::store::sql;
    use Param::Int;
    let hub = || t(&ids.hub);
    vec![
        case("identities: get", sql::FIND_IDENTITY, vec![hub()]),
        case("devices: get", sql::find_device(), vec![t(&ids.device)]),
        case(
            "devices: list",
            sql::list_devices(0),
            vec![hub(), Int(50), Int(0)],
        ),
        case("devices: count", sql::count_devices(0), vec![hub()]),
        case("feature flags: of an identity", sql::FEATURE_FLAGS, vec![hub()]),
        case(
            "deletion: processes",
            backbone_devices::deletion::store::sql::processes(),
            vec![hub()],
        ),
        case(
            "deletion: open process",
            backbone_devices::deletion::store::sql::HAS_OPEN_PROCESS,
            vec![hub()],
        ),
    ]
}

fn synchronization(ids: &Ids) -> Vec<Case> {
    use backbone_synchronization::store::sql;
    use Param::Int;
    let backlog = || t(&ids.backlog);
    let datawallet = || t(&ids.datawallet);
    vec![
        case("sync: latest run", sql::latest_run(), vec![backlog()]),
        case("sync: get run", sql::find_run(), vec![t(&ids.run), backlog()]),
        case("sync: open run", sql::HAS_UNFINALIZED_RUN, vec![backlog()]),
        case(
            "sync: deliverable event",
            sql::DELIVERABLE_EVENT_EXISTS,
            vec![backlog(), Int(3)],
        ),
        case(
            "sync: assign events",
            sql::ASSIGN_EVENTS,
            vec![t(&ids.run), backlog(), Int(3)],
        ),
        case(
            "sync: assigned events",
            sql::ASSIGNED_EVENT_IDS,
            vec![t(&ids.run)],
        ),
        case(
            "sync: events of run",
            sql::EVENTS_OF_RUN,
            vec![t(&ids.run), Int(50), Int(0)],
        ),
        case(
            "sync: count events of run",
            sql::COUNT_EVENTS_OF_RUN,
            vec![t(&ids.run)],
        ),
        case("sync: next event index", sql::NEXT_EVENT_INDEX, vec![backlog()]),
        case("datawallet: of an identity", sql::DATAWALLET, vec![t(&ids.hub)]),
        case(
            "datawallet: newest index",
            sql::NEWEST_MODIFICATION_INDEX,
            vec![datawallet()],
        ),
        case(
            "datawallet: modifications, all",
            sql::modifications(),
            vec![datawallet(), Int(-1), Int(50), Int(0)],
        ),
        case(
            "datawallet: count, all",
            sql::COUNT_MODIFICATIONS,
            vec![datawallet(), Int(-1)],
        ),
        case(
            "datawallet: modifications, recent",
            sql::modifications(),
            vec![datawallet(), Int(1900), Int(50), Int(0)],
        ),
        case(
            "datawallet: count, recent",
            sql::COUNT_MODIFICATIONS,
            vec![datawallet(), Int(1900)],
        ),
    ]
}

fn worker(ids: &Ids) -> Vec<Case> {
    use backbone_synchronization::store::sql;
    use Param::Int;
    let now = chrono::Utc::now().timestamp_millis();
    vec![
        case(
            "worker: unblock messages",
            sql::UNBLOCK_MESSAGES,
            vec![t(&ids.context)],
        ),
        case(
            "worker: delete blocked messages",
            sql::DELETE_BLOCKED_MESSAGES,
            vec![t(&ids.context)],
        ),
        case(
            "worker: delete unsynced events",
            sql::DELETE_UNSYNCED_EVENTS_OF,
            vec![t(&ids.backlog), t(&ids.context)],
        ),
        case(
            "worker: processed event",
            backbone_db::processed::MARK_PROCESSED,
            vec![t("Synchronization.ExternalEvents"), t("an event")],
        ),
        case(
            "worker: push registrations",
            backbone_push::store::sql::registrations_of(2),
            vec![t(&ids.hub), t(&ids.normal)],
        ),
        case(
            "worker: outbox claim",
            backbone_eventbus::claim_sql(backbone_db::Dialect::Postgres),
            vec![Int(now), Int(now), Int(100)],
        ),
    ]
}

/// The quota check counts the usage of the writing identity on the write's transaction: an
/// hour's window and the `Total` window (year 1 to 9999) of the busiest identity.
fn quota_usage(ids: &Ids) -> Vec<Case> {
    use Param::Int;
    let now = chrono::Utc::now().timestamp_millis();
    let windows = [
        ("hour", now - 3_600_000, now),
        ("total", -62_135_596_800_000, 253_402_300_799_999),
    ];
    let queries: [(&'static str, &str); 9] = [
        ("quotas: sent messages", backbone_messages::store::sql::COUNT_SENT),
        (
            "quotas: relationships",
            backbone_relationships::quota::sql::COUNTED_RELATIONSHIPS,
        ),
        (
            "quotas: templates",
            backbone_relationships::quota::sql::COUNT_TEMPLATES,
        ),
        ("quotas: tokens", backbone_tokens::store::sql::COUNT_CREATED),
        ("quotas: files", backbone_files::store::sql::COUNT_CREATED),
        ("quotas: challenges", backbone_challenges::store::COUNT_CREATED),
        (
            "quotas: datawallet modifications",
            backbone_synchronization::quota::COUNT_MODIFICATIONS_CREATED,
        ),
        (
            "quotas: devices",
            backbone_devices::quota::sql::COUNT_DEVICES_CREATED,
        ),
        (
            "quotas: deletion processes",
            backbone_devices::quota::sql::COUNT_PROCESSES_STARTED,
        ),
    ];
    let mut cases = vec![case(
        "quotas: tier of an identity",
        backbone_devices::quota::sql::TIER_OF,
        vec![t(&ids.hub)],
    )];
    for (name, sql) in queries {
        for (_, from, to) in windows {
            cases.push(case(name, sql, vec![t(&ids.hub), Int(from), Int(to)]));
        }
    }
    cases
}
