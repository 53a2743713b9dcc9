//! Identity deletion keeps what other identities still need (messages they received,
//! relationships they had, tokens for them) and replaces the deleted identity's address in it
//! by the anonymous address.

use backbone_core::IdentityAddress;
use sqlx::AnyConnection;

/// Replaces `identity` by `anonymous` in `table.column` (`table` and `column` are the
/// callers' constants, never input); returns how many rows changed.
pub async fn replace_address(
    conn: &mut AnyConnection,
    table: &str,
    column: &str,
    identity: &IdentityAddress,
    anonymous: &IdentityAddress,
) -> sqlx::Result<u64> {
    let result = sqlx::query(&format!("UPDATE {table} SET {column} = $1 WHERE {column} = $2"))
        .bind(anonymous.as_str())
        .bind(identity.as_str())
        .execute(conn)
        .await?;
    Ok(result.rows_affected())
}
