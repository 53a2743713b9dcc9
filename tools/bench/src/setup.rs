//! Set-up of the load scenarios: identities in related pairs, created through the API.

use std::time::{Duration, Instant};

use crate::scenarios::{relate, session, Session};
use crate::{run_concurrently, Args};

/// Two identities with an active relationship: `requester` asked, `owner` accepted.
pub(crate) struct Pair {
    pub(crate) owner: Session,
    pub(crate) requester: Session,
    pub(crate) relationship_id: String,
}

/// `count / 2` pairs, `concurrency` at a time. A unit that fails is retried a few times: the
/// server under test may answer `database is locked` or time out during the set-up too, and
/// that must not end the benchmark before it measured anything.
pub(crate) async fn related_pairs(
    http: &reqwest::Client,
    args: &Args,
    concurrency: usize,
) -> anyhow::Result<Vec<Pair>> {
    let started = Instant::now();
    let pairs = run_concurrently(args.count / 2, concurrency.max(1), |_| {
        retried(|| async {
            let owner = session(http, args).await?;
            let requester = session(http, args).await?;
            let relationship_id = relate(http, args, &owner, &requester).await?;
            Ok(Pair {
                owner,
                requester,
                relationship_id,
            })
        })
    })
    .await?;
    println!(
        "set-up: {} identities in {} related pairs in {:.1} s",
        pairs.len() * 2,
        pairs.len(),
        started.elapsed().as_secs_f64()
    );
    Ok(pairs)
}

/// Runs `operation` up to four times, pausing a little longer after each failure.
pub(crate) async fn retried<T, F, Fut>(operation: F) -> anyhow::Result<T>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<T>>,
{
    let mut attempt = 0;
    loop {
        match operation().await {
            Ok(value) => return Ok(value),
            Err(error) if attempt < 3 => {
                attempt += 1;
                eprintln!("set-up step failed (attempt {attempt}, retrying): {error:#}");
                tokio::time::sleep(Duration::from_millis(500 * attempt)).await;
            }
            Err(error) => return Err(error.context("set-up failed four times")),
        }
    }
}
