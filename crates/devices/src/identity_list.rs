//! The operator's identity list (admin-and-services §1.5, upstream's `GET /odata/Identities`):
//! a typed filter, sort and page over every identity, run as one SQL query with bound
//! parameters only. The Admin API's OData parser (`http::odata`) produces these types.
//!
//! Like upstream's Admin API, which reads every module's schema through its own read-only
//! `DbContext`, the list reads the Synchronization module's `datawallets` table for the
//! datawallet version; it never writes there.

use backbone_core::encoding::{from_millis, to_millis};
use backbone_db::sqlx::any::AnyRow;
use backbone_db::sqlx::{self, Row};
use backbone_db::Dialect;
use chrono::{DateTime, NaiveDate, Utc};

use crate::administration::AdministrationError;
use crate::{DevicesService, DevicesStore};

/// A property of the identity overview that filters and sorts can name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    Address,
    CreatedAt,
    LastLoginAt,
    CreatedWithClient,
    DatawalletVersion,
    IdentityVersion,
    NumberOfDevices,
    TierId,
    TierName,
}

/// What kind of literal a field is compared with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldKind {
    Text,
    Integer,
    Date,
}

impl Field {
    pub fn kind(self) -> FieldKind {
        match self {
            Self::Address | Self::CreatedWithClient | Self::TierId | Self::TierName => FieldKind::Text,
            Self::CreatedAt | Self::LastLoginAt => FieldKind::Date,
            Self::DatawalletVersion | Self::IdentityVersion | Self::NumberOfDevices => FieldKind::Integer,
        }
    }

    /// Whether an identity may have no value (no login yet, no client, no datawallet).
    pub fn is_nullable(self) -> bool {
        matches!(
            self,
            Self::LastLoginAt | Self::CreatedWithClient | Self::DatawalletVersion
        )
    }

    /// The column of the overview query (see [`OVERVIEW`]).
    fn column(self) -> &'static str {
        match self {
            Self::Address => "address",
            Self::CreatedAt => "created_at",
            Self::LastLoginAt => "last_login_at",
            Self::CreatedWithClient => "client_id",
            Self::DatawalletVersion => "datawallet_version",
            Self::IdentityVersion => "identity_version",
            Self::NumberOfDevices => "number_of_devices",
            Self::TierId => "tier_id",
            Self::TierName => "tier_name",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Comparison {
    Eq,
    Ne,
    Gt,
    Ge,
    Lt,
    Le,
}

impl Comparison {
    fn sql(self) -> &'static str {
        match self {
            Self::Eq => "=",
            Self::Ne => "<>",
            Self::Gt => ">",
            Self::Ge => ">=",
            Self::Lt => "<",
            Self::Le => "<=",
        }
    }
}

/// A literal of the filter, already checked against the field's kind.
#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    Text(String),
    Integer(i64),
    /// A calendar day: compared with the UTC date of the field, as upstream's OData binder
    /// compares a date-time property with a `Date` literal.
    Day(NaiveDate),
    Instant(DateTime<Utc>),
    Null,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Condition {
    Compare(Field, Comparison, Literal),
    /// The text field contains the text (case-sensitive).
    Contains(Field, String),
    All(Vec<Condition>),
    Any(Vec<Condition>),
    Not(Box<Condition>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SortKey {
    pub field: Field,
    pub descending: bool,
}

/// Filter, sort and page of the identity list. The address always ends the sort, so pages
/// are stable (upstream's OData adds the key for the same reason).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct IdentityListQuery {
    pub filter: Option<Condition>,
    pub order: Vec<SortKey>,
    pub skip: u64,
    /// `None`: every matching identity.
    pub top: Option<u64>,
    pub count: bool,
}

/// One row of the list (upstream's `IdentityOverviewDTO`).
#[derive(Debug, Clone, PartialEq)]
pub struct IdentityOverview {
    pub address: String,
    pub created_at: DateTime<Utc>,
    pub last_login_at: Option<DateTime<Utc>>,
    pub created_with_client: Option<String>,
    pub datawallet_version: Option<i64>,
    pub identity_version: i64,
    pub number_of_devices: i64,
    pub tier_id: String,
    pub tier_name: String,
}

/// The rows and, when asked for, the number of identities matching the filter.
#[derive(Debug, Clone)]
pub struct IdentityList {
    pub identities: Vec<IdentityOverview>,
    pub count: Option<u64>,
}

/// Every identity with the values the list shows, as columns a filter can name.
const OVERVIEW: &str = "SELECT i.address, i.created_at, i.client_id, i.identity_version, \
     i.tier_id, COALESCE(t.name, '') AS tier_name, \
     (SELECT MAX(d.last_login_at) FROM devices d WHERE d.identity_address = i.address) AS last_login_at, \
     (SELECT COUNT(*) FROM devices d WHERE d.identity_address = i.address) AS number_of_devices, \
     (SELECT w.version FROM datawallets w WHERE w.owner = i.address) AS datawallet_version \
     FROM identities i LEFT JOIN tiers t ON t.id = i.tier_id";

/// A value bound to a placeholder.
#[derive(Debug, Clone, PartialEq)]
enum Bind {
    Text(String),
    Integer(i64),
}

/// Builds the `WHERE` text with `$n` placeholders and the values they stand for.
struct SqlBuilder {
    dialect: Dialect,
    binds: Vec<Bind>,
}

impl SqlBuilder {
    fn placeholder(&mut self, value: Bind) -> String {
        self.binds.push(value);
        format!("${}", self.binds.len())
    }

    fn condition(&mut self, condition: &Condition) -> String {
        match condition {
            Condition::Compare(field, op, literal) => self.compare(*field, *op, literal),
            Condition::Contains(field, text) => {
                let p = self.placeholder(Bind::Text(text.clone()));
                let column = field.column();
                // Both case-sensitive, unlike SQLite's LIKE.
                match self.dialect {
                    Dialect::Postgres => format!("strpos({column}, {p}) > 0"),
                    Dialect::Sqlite => format!("instr({column}, {p}) > 0"),
                }
            }
            Condition::All(parts) => self.join(parts, " AND "),
            Condition::Any(parts) => self.join(parts, " OR "),
            Condition::Not(inner) => format!("NOT COALESCE(({}), FALSE)", self.condition(inner)),
        }
    }

    fn join(&mut self, parts: &[Condition], separator: &str) -> String {
        let parts: Vec<String> = parts.iter().map(|c| format!("({})", self.condition(c))).collect();
        parts.join(separator)
    }

    fn compare(&mut self, field: Field, op: Comparison, literal: &Literal) -> String {
        let column = field.column();
        let value = match literal {
            Literal::Null => {
                return match op {
                    Comparison::Ne => format!("{column} IS NOT NULL"),
                    // Upstream: any ordering comparison with null is false, `eq null` is "no value".
                    Comparison::Eq => format!("{column} IS NULL"),
                    _ => "1 = 0".into(),
                };
            }
            Literal::Day(day) => return self.compare_day(column, op, *day),
            Literal::Text(text) => Bind::Text(text.clone()),
            Literal::Integer(n) => Bind::Integer(*n),
            Literal::Instant(instant) => Bind::Integer(to_millis(instant)),
        };
        let p = self.placeholder(value);
        let comparison = format!("{column} {} {p}", op.sql());
        // C# semantics, which upstream's query keeps: a missing value differs from every value.
        if op == Comparison::Ne && field.is_nullable() {
            format!("{comparison} OR {column} IS NULL")
        } else {
            comparison
        }
    }

    /// `createdAt <op> 2024-01-01` compares the UTC day: a range of the day's milliseconds.
    fn compare_day(&mut self, column: &str, op: Comparison, day: NaiveDate) -> String {
        let start = day
            .and_hms_opt(0, 0, 0)
            .map_or(i64::MIN, |d| to_millis(&d.and_utc()));
        let end = day
            .succ_opt()
            .and_then(|d| d.and_hms_opt(0, 0, 0))
            .map_or(i64::MAX, |d| to_millis(&d.and_utc()));
        let s = self.placeholder(Bind::Integer(start));
        let e = self.placeholder(Bind::Integer(end));
        match op {
            Comparison::Eq => format!("{column} >= {s} AND {column} < {e}"),
            Comparison::Ne => format!("{column} < {s} OR {column} >= {e} OR {column} IS NULL"),
            Comparison::Gt => format!("{column} >= {e}"),
            Comparison::Ge => format!("{column} >= {s}"),
            Comparison::Lt => format!("{column} < {s}"),
            Comparison::Le => format!("{column} < {e}"),
        }
    }
}

/// `ORDER BY`: a missing value sorts before every value (as in C#), on both databases.
fn order_by(order: &[SortKey]) -> String {
    let mut keys: Vec<String> = Vec::new();
    for key in order {
        let column = key.field.column();
        let direction = if key.descending { "DESC" } else { "ASC" };
        if key.field.is_nullable() {
            let nulls = if key.descending { "ASC" } else { "DESC" };
            keys.push(format!("({column} IS NULL) {nulls}"));
        }
        keys.push(format!("{column} {direction}"));
    }
    if !order.iter().any(|k| k.field == Field::Address) {
        keys.push("address ASC".into());
    }
    keys.join(", ")
}

fn bind_all<'q>(
    mut query: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>,
    binds: &'q [Bind],
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
    for bind in binds {
        query = match bind {
            Bind::Text(text) => query.bind(text.as_str()),
            Bind::Integer(n) => query.bind(*n),
        };
    }
    query
}

fn overview_from_row(row: &AnyRow) -> sqlx::Result<IdentityOverview> {
    let last_login: Option<i64> = row.try_get("last_login_at")?;
    Ok(IdentityOverview {
        address: row.try_get("address")?,
        created_at: from_millis(row.try_get("created_at")?),
        last_login_at: last_login.map(from_millis),
        created_with_client: row.try_get("client_id")?,
        datawallet_version: row.try_get("datawallet_version")?,
        identity_version: row.try_get("identity_version")?,
        number_of_devices: row.try_get("number_of_devices")?,
        tier_id: row.try_get("tier_id")?,
        tier_name: row.try_get("tier_name")?,
    })
}

impl DevicesStore {
    async fn list_identities(&self, query: &IdentityListQuery) -> sqlx::Result<IdentityList> {
        let mut builder = SqlBuilder {
            dialect: self.db().dialect(),
            binds: Vec::new(),
        };
        let filter = match &query.filter {
            Some(condition) => format!(" WHERE {}", builder.condition(condition)),
            None => String::new(),
        };
        let count = if query.count {
            let sql = format!("SELECT COUNT(*) FROM ({OVERVIEW}) o{filter}");
            let total: i64 = bind_all(sqlx::query(&sql), &builder.binds)
                .fetch_one(self.db().pool())
                .await?
                .try_get(0)?;
            Some(u64::try_from(total).unwrap_or_default())
        } else {
            None
        };
        // A missing $top is "all": LIMIT -1 is SQLite's, ALL PostgreSQL's spelling of it.
        let limit = match (query.top, self.db().dialect()) {
            (Some(top), _) => builder.placeholder(Bind::Integer(i64::try_from(top).unwrap_or(i64::MAX))),
            (None, Dialect::Postgres) => "ALL".into(),
            (None, Dialect::Sqlite) => "-1".into(),
        };
        let offset = builder.placeholder(Bind::Integer(i64::try_from(query.skip).unwrap_or(i64::MAX)));
        let sql = format!(
            "SELECT * FROM ({OVERVIEW}) o{filter} ORDER BY {} LIMIT {limit} OFFSET {offset}",
            order_by(&query.order)
        );
        let rows = bind_all(sqlx::query(&sql), &builder.binds)
            .fetch_all(self.db().pool())
            .await?;
        let identities = rows.iter().map(overview_from_row).collect::<sqlx::Result<_>>()?;
        Ok(IdentityList { identities, count })
    }
}

impl DevicesService {
    /// `GET /odata/Identities`: the identities matching the filter, sorted and paged.
    pub async fn list_identities(
        &self,
        query: &IdentityListQuery,
    ) -> Result<IdentityList, AdministrationError> {
        Ok(self.store.list_identities(query).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sql_of(condition: &Condition) -> (String, Vec<Bind>) {
        let mut builder = SqlBuilder {
            dialect: Dialect::Postgres,
            binds: Vec::new(),
        };
        let sql = builder.condition(condition);
        (sql, builder.binds)
    }

    #[test]
    fn values_are_bound_never_spliced() {
        let (sql, binds) = sql_of(&Condition::All(vec![
            Condition::Contains(Field::Address, "x'; DROP TABLE identities; --".into()),
            Condition::Compare(Field::NumberOfDevices, Comparison::Gt, Literal::Integer(1)),
        ]));
        assert_eq!(sql, "(strpos(address, $1) > 0) AND (number_of_devices > $2)");
        assert_eq!(binds.len(), 2);
    }

    #[test]
    fn a_day_is_a_range_and_ne_keeps_missing_values() {
        let day = NaiveDate::from_ymd_opt(2024, 1, 1).unwrap();
        let (sql, binds) = sql_of(&Condition::Compare(
            Field::LastLoginAt,
            Comparison::Eq,
            Literal::Day(day),
        ));
        assert_eq!(sql, "last_login_at >= $1 AND last_login_at < $2");
        assert_eq!(
            binds,
            [Bind::Integer(1_704_067_200_000), Bind::Integer(1_704_153_600_000)]
        );
        let (sql, _) = sql_of(&Condition::Compare(
            Field::CreatedWithClient,
            Comparison::Ne,
            Literal::Text("a".into()),
        ));
        assert_eq!(sql, "client_id <> $1 OR client_id IS NULL");
        let (sql, _) = sql_of(&Condition::Compare(
            Field::DatawalletVersion,
            Comparison::Eq,
            Literal::Null,
        ));
        assert_eq!(sql, "datawallet_version IS NULL");
    }

    #[test]
    fn the_address_ends_every_order_and_nulls_come_first() {
        assert_eq!(order_by(&[]), "address ASC");
        let order = [SortKey {
            field: Field::LastLoginAt,
            descending: true,
        }];
        assert_eq!(
            order_by(&order),
            "(last_login_at IS NULL) ASC, last_login_at DESC, address ASC"
        );
    }
}
