//! The subset of OData that upstream's Admin UI sends to `GET /odata/Identities`
//! (admin-and-services §1.5), parsed into the typed [`IdentityListQuery`]: `$filter` with
//! comparisons (`eq ne gt ge lt le`), `contains(…)`, `and`, `or`, `not` and parentheses;
//! `$orderby`, `$top` (at most 100), `$skip`, `$count` and `$expand=Tier`. Option and property
//! names are case-insensitive, as upstream's (the UI sends `$orderBy` and `tier/Id`).
//! Anything else is refused with a message saying what is wrong, never guessed at.

mod filter;

use filter::parse_filter;

use crate::identity_list::{Field, IdentityListQuery, SortKey};

/// upstream's `SetMaxTop(100)`.
pub const MAX_TOP: u64 = 100;

/// What the client asked for: the list query and whether the tier is expanded.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ODataQuery {
    pub list: IdentityListQuery,
    pub expand_tier: bool,
}

/// Why a query was refused, worded for the client.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("The query specified in the URI is not valid. {0}")]
pub struct ODataError(pub String);

fn fail<T>(message: impl Into<String>) -> Result<T, ODataError> {
    Err(ODataError(message.into()))
}

/// Parses the query-string pairs (already URL-decoded). Parameters without `$` are custom
/// options, which OData ignores.
pub fn parse_query<'a>(
    pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> Result<ODataQuery, ODataError> {
    let mut query = ODataQuery::default();
    let mut seen: Vec<String> = Vec::new();
    for (name, value) in pairs {
        let Some(option) = name.strip_prefix('$') else {
            continue;
        };
        let option = option.to_ascii_lowercase();
        if seen.contains(&option) {
            return fail(format!(
                "Query option '${option}' was specified more than once, but it must be specified at most once."
            ));
        }
        seen.push(option.clone());
        match option.as_str() {
            "filter" => query.list.filter = Some(parse_filter(value)?),
            "orderby" => query.list.order = parse_order_by(value)?,
            "top" => query.list.top = Some(parse_top(value)?),
            "skip" => query.list.skip = non_negative("$skip", value)?,
            "count" => query.list.count = parse_bool("$count", value)?,
            "expand" => query.expand_tier = parse_expand(value)?,
            other => return fail(format!("The query option '${other}' is not supported.")),
        }
    }
    Ok(query)
}

fn non_negative(option: &str, value: &str) -> Result<u64, ODataError> {
    value.trim().parse::<u64>().or_else(|_| {
        fail(format!(
            "Invalid value '{value}' for {option} query option found. The {option} query option requires a \
             non-negative integer value."
        ))
    })
}

fn parse_top(value: &str) -> Result<u64, ODataError> {
    let top = non_negative("$top", value)?;
    if top > MAX_TOP {
        return fail(format!(
            "The limit of '{MAX_TOP}' for Top query has been exceeded. The value from the incoming request is \
             '{top}'."
        ));
    }
    Ok(top)
}

fn parse_bool(option: &str, value: &str) -> Result<bool, ODataError> {
    match value.trim().to_ascii_lowercase().as_str() {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => fail(format!(
            "'{value}' is not a valid count option: {option} takes true or false."
        )),
    }
}

fn parse_expand(value: &str) -> Result<bool, ODataError> {
    for item in value.split(',') {
        if !item.trim().eq_ignore_ascii_case("tier") {
            return Err(unknown_property(item.trim()));
        }
    }
    Ok(true)
}

fn unknown_property(name: &str) -> ODataError {
    ODataError(format!(
        "Could not find a property named '{name}' on type 'Backbone.AdminApi.DTOs.IdentityOverviewDTO'."
    ))
}

fn field(name: &str) -> Result<Field, ODataError> {
    Ok(match name.to_ascii_lowercase().as_str() {
        "address" => Field::Address,
        "createdat" => Field::CreatedAt,
        "lastloginat" => Field::LastLoginAt,
        "createdwithclient" => Field::CreatedWithClient,
        "datawalletversion" => Field::DatawalletVersion,
        "identityversion" => Field::IdentityVersion,
        "numberofdevices" => Field::NumberOfDevices,
        "tier/id" => Field::TierId,
        "tier/name" => Field::TierName,
        _ => return Err(unknown_property(name)),
    })
}

fn parse_order_by(value: &str) -> Result<Vec<SortKey>, ODataError> {
    value
        .split(',')
        .map(|clause| {
            let mut words = clause.split_whitespace();
            let Some(name) = words.next() else {
                return fail(format!("'{value}' is not a valid $orderby: an item is empty."));
            };
            let descending = match words.next().map(str::to_ascii_lowercase).as_deref() {
                None | Some("asc") => false,
                Some("desc") => true,
                Some(other) => return fail(format!("'{other}' is not a sort direction (asc or desc).")),
            };
            if let Some(extra) = words.next() {
                return fail(format!("Syntax error at '{extra}' in $orderby '{value}'."));
            }
            Ok(SortKey {
                field: field(name)?,
                descending,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_are_checked() {
        let query = parse_query([
            ("$top", "10"),
            ("$skip", "20"),
            ("$count", "true"),
            ("$orderBy", "numberOfDevices desc, address"),
            ("$expand", "Tier"),
            ("unrelated", "x"),
        ])
        .unwrap();
        assert_eq!(
            (query.list.top, query.list.skip, query.list.count),
            (Some(10), 20, true)
        );
        assert!(query.expand_tier);
        assert_eq!(
            query.list.order,
            [
                SortKey {
                    field: Field::NumberOfDevices,
                    descending: true
                },
                SortKey {
                    field: Field::Address,
                    descending: false
                },
            ]
        );
        for bad in [
            [("$top", "101")],
            [("$top", "-1")],
            [("$skip", "x")],
            [("$count", "yes")],
            [("$expand", "Devices")],
            [("$select", "address")],
            [("$orderby", "address sideways")],
            [("$orderby", "nothing")],
        ] {
            assert!(parse_query(bad).is_err(), "{bad:?} was accepted");
        }
        assert!(parse_query([("$top", "1"), ("$TOP", "2")]).is_err());
        assert_eq!(parse_query([("$top", "100")]).unwrap().list.top, Some(100));
    }
}
