//! Paging of list endpoints (spec §1.4): `pageNumber` from 1, `pageSize` with a default and a maximum.

use crate::error::ValidationError;

/// The `[pagination]` section of the configuration, shared by every list endpoint.
#[derive(Debug, Clone, Copy, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PagingLimits {
    pub default_page_size: u32,
    pub max_page_size: u32,
}

impl PagingLimits {
    pub fn validate(&self) -> anyhow::Result<()> {
        if !(1..=1000).contains(&self.max_page_size)
            || !(1..=self.max_page_size).contains(&self.default_page_size)
        {
            anyhow::bail!(
                "pagination.default_page_size and pagination.max_page_size must be 1..=1000, default <= max"
            );
        }
        Ok(())
    }
}

impl Default for PagingLimits {
    fn default() -> Self {
        Self {
            default_page_size: 50,
            max_page_size: 200,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageRequest {
    pub number: u32,
    pub size: u32,
}

impl PageRequest {
    /// Applies defaults and limits to the raw query values.
    pub fn new(
        number: Option<i64>,
        size: Option<i64>,
        limits: PagingLimits,
    ) -> Result<Self, ValidationError> {
        let number = match number.map(u32::try_from) {
            None => 1,
            Some(Ok(n)) if n >= 1 => n,
            Some(_) => {
                return Err(ValidationError::invalid_property_value(
                    "'pageNumber' must be greater than or equal to 1.",
                ))
            }
        };
        let size = match size {
            None => limits.default_page_size,
            Some(s) if s > i64::from(limits.max_page_size) => {
                return Err(ValidationError::new(
                    "error.platform.validation.pagination.invalidPageSize",
                    format!(
                        "The given page size is too high. The maximum page size is {}.",
                        limits.max_page_size
                    ),
                ))
            }
            Some(s) => u32::try_from(s).ok().filter(|s| *s >= 1).ok_or_else(|| {
                ValidationError::invalid_property_value("'pageSize' must be greater than or equal to 1.")
            })?,
        };
        Ok(Self { number, size })
    }

    pub fn offset(&self) -> i64 {
        (i64::from(self.number) - 1) * i64::from(self.size)
    }

    pub fn limit(&self) -> i64 {
        i64::from(self.size)
    }

    /// Upstream's cheap total (admin-and-services §0.3): a page shorter than its size ends the
    /// list, so the total follows without a `COUNT(*)`; `None` means count.
    pub fn total_if_short(&self, items_on_page: usize) -> Option<u64> {
        let items = u64::try_from(items_on_page).unwrap_or(u64::MAX);
        (items < u64::from(self.size)).then(|| u64::try_from(self.offset()).unwrap_or_default() + items)
    }

    /// Everything on one page: for upstream's lists that have no default page size.
    pub fn everything() -> Self {
        Self {
            number: 1,
            size: u32::MAX,
        }
    }
}

/// One page of items plus what the `pagination` object needs.
#[derive(Debug, Clone)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub request: PageRequest,
    pub total_records: u64,
}

impl<T> Page<T> {
    pub fn total_pages(&self) -> u64 {
        self.total_records.div_ceil(u64::from(self.request.size))
    }

    /// Maps every item with a conversion that may fail (a stored row into a domain value).
    pub fn try_map<U, E>(self, f: impl FnMut(&T) -> Result<U, E>) -> Result<Page<U>, E> {
        Ok(Page {
            items: self.items.iter().map(f).collect::<Result<_, _>>()?,
            request: self.request,
            total_records: self.total_records,
        })
    }

    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        Page {
            items: self.items.into_iter().map(f).collect(),
            request: self.request,
            total_records: self.total_records,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_limits() {
        let limits = PagingLimits::default();
        assert_eq!(
            PageRequest::new(None, None, limits).unwrap(),
            PageRequest { number: 1, size: 50 }
        );
        assert_eq!(
            PageRequest::new(Some(3), Some(200), limits).unwrap().offset(),
            400
        );
        let error = PageRequest::new(None, Some(201), limits).unwrap_err();
        assert_eq!(error.code, "error.platform.validation.pagination.invalidPageSize");
        assert!(PageRequest::new(Some(0), None, limits).is_err());
    }

    #[test]
    fn total_pages_rounds_up() {
        let page = Page {
            items: vec![1],
            request: PageRequest { number: 1, size: 50 },
            total_records: 101,
        };
        assert_eq!(page.total_pages(), 3);
    }
}
