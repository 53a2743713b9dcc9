//! The identities table: paged, sorted and filtered by the server through the OData list
//! (`GET /odata/Identities`, admin-and-services §1.5), with the filters upstream's UI builds.

use askama::Template;
use axum::extract::RawQuery;
use serde_json::Value;

use super::tiers::TierOverview;
use super::{encode, render, show_date, text, Choice, Ctx, Layout, PageResult};
use crate::form::FormData;

pub use super::identity::{add_quota, audit_logs, change_tier, deletion_process, remove_quotas, show};

const PAGE_SIZES: [&str; 4] = ["10", "20", "50", "100"];
const DEFAULT_PAGE_SIZE: i64 = 20;
/// The sortable columns: query value, OData property, header.
const COLUMNS: [(&str, &str, &str); 8] = [
    ("address", "address", "Address"),
    ("tier", "tier/name", "Tier"),
    ("client", "createdWithClient", "Created with client"),
    ("devices", "numberOfDevices", "Number of devices"),
    ("created", "createdAt", "Created at"),
    ("login", "lastLoginAt", "Last login at"),
    ("datawallet", "datawalletVersion", "Datawallet version"),
    ("version", "identityVersion", "Identity version"),
];
const OPERATORS: [(&str, &str); 6] = [
    ("eq", "="),
    ("ne", "≠"),
    ("gt", ">"),
    ("ge", "≥"),
    ("lt", "<"),
    ("le", "≤"),
];

/// The filters of the form, as the query string carries them.
pub struct Filters {
    pub form: FormData,
}

impl Filters {
    /// `$filter`: every clause parenthesised and joined with ` and `, as upstream's UI does.
    pub fn odata_filter(&self) -> Option<String> {
        let form = &self.form;
        let mut clauses = Vec::new();
        if let Some(address) = form.optional("address") {
            clauses.push(format!("contains(address,{})", quoted(&address)));
        }
        let any_of = |field: &str, values: Vec<String>| {
            let alternatives: Vec<String> = values
                .iter()
                .map(|v| format!("{field} eq {}", quoted(v)))
                .collect();
            alternatives.join(" or ")
        };
        let tiers = form.all("tier");
        if !tiers.is_empty() {
            clauses.push(any_of("tier/id", tiers));
        }
        let clients = form.all("client");
        if !clients.is_empty() {
            clauses.push(any_of("createdWithClient", clients));
        }
        for (name, field) in [("created", "createdAt"), ("login", "lastLoginAt")] {
            if let (Some(op), Some(date)) = (operator(form, name), form.optional(&format!("{name}_date"))) {
                if chrono::NaiveDate::parse_from_str(&date, "%Y-%m-%d").is_ok() {
                    clauses.push(format!("{field} {op} {date}"));
                }
            }
        }
        for (name, field) in [
            ("devices", "numberOfDevices"),
            ("datawallet", "datawalletVersion"),
            ("version", "identityVersion"),
        ] {
            if let (Some(op), Some(number)) = (operator(form, name), form.optional(&format!("{name}_value")))
            {
                if let Ok(number) = number.parse::<i64>() {
                    clauses.push(format!("{field} {op} {number}"));
                }
            }
        }
        match clauses.len() {
            0 => None,
            _ => Some(
                clauses
                    .iter()
                    .map(|c| format!("({c})"))
                    .collect::<Vec<_>>()
                    .join(" and "),
            ),
        }
    }

    fn sort(&self) -> (&'static str, &'static str, bool) {
        let key = self.form.text("sort");
        let (key, property, _) = COLUMNS
            .iter()
            .find(|(k, _, _)| *k == key)
            .copied()
            .unwrap_or(COLUMNS[0]);
        (key, property, self.form.text("dir") == "desc")
    }

    fn page(&self) -> i64 {
        self.form.text("page").parse::<i64>().unwrap_or(1).max(1)
    }

    fn page_size(&self) -> i64 {
        self.form
            .text("size")
            .parse::<i64>()
            .ok()
            .filter(|size| (1..=100).contains(size))
            .unwrap_or(DEFAULT_PAGE_SIZE)
    }

    /// The request of one page.
    pub fn odata_path(&self) -> String {
        let (_, property, descending) = self.sort();
        let size = self.page_size();
        let mut query = form_urlencoded::Serializer::new(String::new());
        query
            .append_pair("$count", "true")
            .append_pair("$expand", "tier")
            .append_pair("$top", &size.to_string())
            .append_pair("$skip", &((self.page() - 1) * size).to_string())
            .append_pair(
                "$orderby",
                &format!("{property} {}", if descending { "desc" } else { "asc" }),
            );
        if let Some(filter) = self.odata_filter() {
            query.append_pair("$filter", &filter);
        }
        format!("/odata/Identities?{}", query.finish())
    }

    /// The link to this list with some parameters replaced (sorting, paging).
    fn link(&self, replace: &[(&str, String)]) -> String {
        let mut query = form_urlencoded::Serializer::new(String::new());
        for (name, value) in self.form.pairs() {
            if !replace.iter().any(|(r, _)| *r == name) && !value.is_empty() {
                query.append_pair(name, value);
            }
        }
        for (name, value) in replace {
            query.append_pair(name, value);
        }
        format!("/ui/identities?{}", query.finish())
    }
}

fn operator(form: &FormData, name: &str) -> Option<&'static str> {
    let given = form.text(&format!("{name}_op"));
    OPERATORS.iter().map(|(op, _)| *op).find(|op| *op == given)
}

/// An OData string literal: quotes doubled.
fn quoted(value: &str) -> String {
    format!("'{}'", value.replace('\'', "''"))
}

pub struct IdentityRow {
    pub address: String,
    pub href: String,
    pub tier: String,
    pub client: String,
    pub devices: String,
    pub created_at: String,
    pub last_login_at: String,
    pub datawallet_version: String,
    pub identity_version: String,
}

impl IdentityRow {
    fn from_json(value: &Value) -> Self {
        let address = text(value, "address");
        Self {
            href: format!("/ui/identities/{}", encode(&address)),
            address,
            tier: text(&value["tier"], "name"),
            client: text(value, "createdWithClient"),
            devices: text(value, "numberOfDevices"),
            created_at: show_date(value["createdAt"].as_str()),
            last_login_at: show_date(value["lastLoginAt"].as_str()),
            datawallet_version: text(value, "datawalletVersion"),
            identity_version: text(value, "identityVersion"),
        }
    }
}

pub struct Header {
    pub label: &'static str,
    pub href: String,
    /// `ascending`/`descending` for the sorted column (aria-sort), else `none`.
    pub sort: &'static str,
}

pub struct NumberFilter {
    pub name: &'static str,
    pub label: &'static str,
    pub operators: Vec<Choice>,
    pub value: String,
    pub input: &'static str,
}

#[derive(Template)]
#[template(path = "identities.html")]
struct IdentitiesPage {
    layout: Layout,
    rows: Vec<IdentityRow>,
    headers: Vec<Header>,
    address: String,
    tiers: Vec<Choice>,
    clients: Vec<Choice>,
    value_filters: Vec<NumberFilter>,
    sizes: Vec<Choice>,
    total: i64,
    first: i64,
    last: i64,
    previous: Option<String>,
    next: Option<String>,
    sort: String,
    dir: String,
}

pub async fn list(ctx: Ctx, RawQuery(query): RawQuery) -> PageResult {
    let filters = Filters {
        form: FormData::parse(query.unwrap_or_default().as_bytes()),
    };
    let tiers: Vec<TierOverview> = ctx.get("/api/v1/Tiers").await?;
    let clients: Vec<Value> = ctx.get("/api/v1/Clients").await?;
    let answer = ctx.get_value(&filters.odata_path()).await?;
    let rows: Vec<IdentityRow> = answer["value"]
        .as_array()
        .map(|rows| rows.iter().map(IdentityRow::from_json).collect())
        .unwrap_or_default();
    let shown = i64::try_from(rows.len()).unwrap_or(i64::MAX);
    let total = answer["@odata.count"].as_i64().unwrap_or(shown);
    let (page, size) = (filters.page(), filters.page_size());
    let first = (page - 1) * size + 1;
    let last = first + shown - 1;
    let chosen_tiers = filters.form.all("tier");
    let chosen_clients = filters.form.all("client");
    let page_link = |page: i64| filters.link(&[("page", page.to_string())]);
    Ok(render(&IdentitiesPage {
        layout: ctx.layout("Identities", "Identities"),
        headers: headers(&filters),
        address: filters.form.text("address"),
        tiers: tiers
            .iter()
            .map(|t| Choice {
                value: t.id.clone(),
                label: t.name.clone(),
                selected: chosen_tiers.contains(&t.id),
            })
            .collect(),
        clients: clients
            .iter()
            .map(|c| {
                let id = text(c, "clientId");
                Choice {
                    selected: chosen_clients.contains(&id),
                    label: text(c, "displayName"),
                    value: id,
                }
            })
            .collect(),
        value_filters: value_filters(&filters.form),
        sizes: Choice::list(&PAGE_SIZES, &size.to_string()),
        previous: (page > 1).then(|| page_link(page - 1)),
        next: (last < total).then(|| page_link(page + 1)),
        sort: filters.sort().0.to_owned(),
        dir: filters.form.text("dir"),
        rows,
        total,
        first,
        last,
    }))
}

fn headers(filters: &Filters) -> Vec<Header> {
    let (current, _, descending) = filters.sort();
    COLUMNS
        .iter()
        .map(|(key, _, label)| {
            let is_current = *key == current;
            let dir = if is_current && !descending { "desc" } else { "asc" };
            Header {
                label,
                href: filters.link(&[
                    ("sort", (*key).to_owned()),
                    ("dir", dir.to_owned()),
                    ("page", "1".into()),
                ]),
                sort: match (is_current, descending) {
                    (false, _) => "none",
                    (true, false) => "ascending",
                    (true, true) => "descending",
                },
            }
        })
        .collect()
}

fn value_filters(form: &FormData) -> Vec<NumberFilter> {
    let filter = |name: &'static str, label: &'static str, input: &'static str| {
        let suffix = if input == "date" { "date" } else { "value" };
        let chosen = form.text(&format!("{name}_op"));
        NumberFilter {
            name,
            label,
            operators: OPERATORS
                .iter()
                .map(|(op, sign)| Choice {
                    value: (*op).into(),
                    label: (*sign).into(),
                    selected: *op == chosen || (chosen.is_empty() && *op == "ge"),
                })
                .collect(),
            value: form.text(&format!("{name}_{suffix}")),
            input,
        }
    };
    vec![
        filter("created", "Created at", "date"),
        filter("login", "Last login at", "date"),
        filter("devices", "Number of devices", "number"),
        filter("datawallet", "Datawallet version", "number"),
        filter("version", "Identity version", "number"),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filters(query: &str) -> Filters {
        Filters {
            form: FormData::parse(query.as_bytes()),
        }
    }

    #[test]
    fn the_filter_joins_parenthesised_clauses() {
        let f = filters("address=ab'c&tier=TIR1&tier=TIR2&created_op=ge&created_date=2024-01-01&devices_op=gt&devices_value=1&version_op=eq&version_value=x");
        assert_eq!(
            f.odata_filter().unwrap(),
            "(contains(address,'ab''c')) and (tier/id eq 'TIR1' or tier/id eq 'TIR2') \
             and (createdAt ge 2024-01-01) and (numberOfDevices gt 1)"
        );
        assert_eq!(filters("").odata_filter(), None);
    }

    #[test]
    fn paging_and_sorting_come_from_the_query() {
        let path = filters("page=3&size=10&sort=devices&dir=desc").odata_path();
        assert!(path.contains("%24top=10&%24skip=20"), "{path}");
        assert!(path.contains("%24orderby=numberOfDevices+desc"), "{path}");
        let path = filters("sort=nonsense&size=5000").odata_path();
        assert!(
            path.contains("%24top=20&%24skip=0&%24orderby=address+asc"),
            "{path}"
        );
    }
}
