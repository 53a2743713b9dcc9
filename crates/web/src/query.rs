//! Query strings with case-insensitive names and repeated keys (`ids=a&ids=b`), as upstream binds them.

use std::convert::Infallible;

use crate::{ApiError, ApiResult};
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use backbone_core::paging::{PageRequest, PagingLimits};

#[derive(Debug, Default, Clone)]
pub struct QueryParams {
    /// (lower-cased name, value) in order of appearance.
    pairs: Vec<(String, String)>,
}

impl QueryParams {
    pub fn parse(query: &str) -> Self {
        let pairs = form_urlencoded::parse(query.as_bytes())
            .map(|(k, v)| (k.to_ascii_lowercase(), v.into_owned()))
            .collect();
        Self { pairs }
    }

    /// The first value of `name` (case-insensitive).
    pub fn get(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.pairs
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The first value of `name`, which must be present and not empty, as ASP.NET binds a
    /// non-nullable parameter.
    pub fn required(&self, name: &str) -> ApiResult<&str> {
        self.get(name)
            .filter(|value| !value.is_empty())
            .ok_or_else(|| ApiError::cannot_parse(format!("'{name}': The {name} field is required.")))
    }

    /// All values of `name`, e.g. repeated `ids`.
    pub fn all(&self, name: &str) -> Vec<&str> {
        let name = name.to_ascii_lowercase();
        self.pairs
            .iter()
            .filter(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    pub fn integer(&self, name: &str) -> ApiResult<Option<i64>> {
        self.get(name)
            .map(|value| {
                value.trim().parse::<i64>().map_err(|_| {
                    ApiError::cannot_parse(format!("'{name}': The value '{value}' is not valid."))
                })
            })
            .transpose()
    }

    /// `pageNumber` and `pageSize` with defaults and limits.
    pub fn page(&self, limits: PagingLimits) -> ApiResult<PageRequest> {
        Ok(PageRequest::new(
            self.integer("pageNumber")?,
            self.integer("pageSize")?,
            limits,
        )?)
    }
}

impl<S: Send + Sync> FromRequestParts<S> for QueryParams {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Infallible> {
        Ok(Self::parse(parts.uri.query().unwrap_or_default()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_case_insensitive_and_repeatable() {
        let query = QueryParams::parse("Ids=a&ids=b&PAGENUMBER=2&x=%2B");
        assert_eq!(query.all("ids"), ["a", "b"]);
        assert_eq!(query.integer("pageNumber").unwrap(), Some(2));
        assert_eq!(query.get("X"), Some("+"));
        assert!(QueryParams::parse("pageSize=abc").integer("pageSize").is_err());
    }
}
