//! The one way a list endpoint reads a page: the page's rows and the total, from two queries
//! that take the same parameters (the list query also takes `LIMIT` and `OFFSET` as its last
//! two), on one connection.

use backbone_core::paging::{Page, PageRequest};
use sqlx::any::AnyRow;
use sqlx::AnyConnection;

/// A value bound to both queries of a page, in order.
#[derive(Debug, Clone, Copy)]
pub enum Param<'a> {
    Text(&'a str),
    Integer(i64),
}

/// `leading` parameters, then one per ID (the `IN (…)` list of "these, if the caller's").
pub fn with_ids<'a, I: AsRef<str>>(leading: &[Param<'a>], ids: &'a [I]) -> Vec<Param<'a>> {
    leading
        .iter()
        .copied()
        .chain(ids.iter().map(|id| Param::Text(id.as_ref())))
        .collect()
}

/// The list query (parameters, then `LIMIT`, `OFFSET`) and its count query (the parameters).
#[derive(Debug, Clone, Copy)]
pub struct PagedSql<'a> {
    pub list: &'a str,
    pub count: &'a str,
}

/// The page's rows with the total. The count query runs only when the page does not tell the
/// total itself (a short page, or an empty first page), which spares it for every list that
/// fits on a page.
pub async fn fetch_page(
    conn: &mut AnyConnection,
    sql: PagedSql<'_>,
    params: &[Param<'_>],
    page: PageRequest,
) -> sqlx::Result<Page<AnyRow>> {
    let mut list = sqlx::query(sql.list);
    for param in params {
        list = match *param {
            Param::Text(text) => list.bind(text),
            Param::Integer(number) => list.bind(number),
        };
    }
    let rows = list
        .bind(page.limit())
        .bind(page.offset())
        .fetch_all(&mut *conn)
        .await?;
    let total = if let Some(total) = known_total(page, rows.len()) {
        total
    } else {
        let mut count = sqlx::query_scalar::<_, i64>(sql.count);
        for param in params {
            count = match *param {
                Param::Text(text) => count.bind(text),
                Param::Integer(number) => count.bind(number),
            };
        }
        count.fetch_one(&mut *conn).await?
    };
    Ok(Page {
        items: rows,
        request: page,
        // A count is never negative.
        total_records: u64::try_from(total).unwrap_or_default(),
    })
}

/// The total of a list when the page itself tells it: a short page that is not past the end.
fn known_total(page: PageRequest, rows: usize) -> Option<i64> {
    let rows = i64::try_from(rows).ok()?;
    let short = rows < page.limit() && (rows > 0 || page.offset() == 0);
    short.then(|| page.offset() + rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_short_page_tells_its_total() {
        let second = PageRequest { number: 2, size: 10 };
        assert_eq!(known_total(second, 3), Some(13));
        assert_eq!(known_total(second, 10), None);
        assert_eq!(known_total(second, 0), None);
        assert_eq!(known_total(PageRequest { number: 1, size: 10 }, 0), Some(0));
    }
}
