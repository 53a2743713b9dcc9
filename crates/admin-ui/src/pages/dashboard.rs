//! The dashboard (beyond upstream): how the Backbone is used, as charts with their numbers.

use askama::Template;
use chrono::{Duration, Utc};

use super::tiers::TierOverview;
use super::{render, Ctx, Layout, PageResult};
use crate::chart::{self, Bar, DayChart};
use crate::UsageSnapshot;

/// The days the per-day charts cover, today included.
pub const DAYS: i64 = 30;

#[derive(Template)]
#[template(path = "dashboard.html")]
struct DashboardPage {
    layout: Layout,
    tier_bars: Vec<Bar>,
    tier_height: i64,
    identities_total: i64,
    created: DayChart,
    messages: DayChart,
    usage: UsageSnapshot,
    exhaustion_bars: Vec<Bar>,
    exhaustion_height: i64,
    exhaustions_total: u64,
    statistics_error: Option<String>,
    width: i64,
    height: i64,
    label_width: i64,
    bar_height: i64,
}

pub async fn show(ctx: Ctx) -> PageResult {
    let tiers: Vec<TierOverview> = ctx.get("/api/v1/Tiers").await?;
    let first_day = (Utc::now() - Duration::days(DAYS - 1)).date_naive();
    let since = first_day.and_hms_opt(0, 0, 0).expect("midnight exists").and_utc();
    let (usage, statistics_error) = match ctx.state.statistics.snapshot(since).await {
        Ok(usage) => (usage, None),
        Err(error) => {
            tracing::error!(%error, "the dashboard's usage figures failed");
            (UsageSnapshot::default(), Some(error.to_string()))
        }
    };
    let by_tier: Vec<(String, i64)> = tiers
        .iter()
        .map(|t| (t.name.clone(), t.number_of_identities))
        .collect();
    let exhaustions: Vec<(String, i64)> = usage
        .quota_exhaustions
        .iter()
        .map(|(metric, count)| (metric.clone(), i64::try_from(*count).unwrap_or(i64::MAX)))
        .collect();
    Ok(render(&DashboardPage {
        layout: ctx.layout("Dashboard", "Dashboard"),
        tier_height: chart::bars_height(by_tier.len()),
        identities_total: by_tier.iter().map(|(_, n)| n).sum(),
        tier_bars: chart::bars(&by_tier),
        created: DayChart::new(first_day, DAYS, &usage.identities_created_per_day),
        messages: DayChart::new(first_day, DAYS, &usage.messages_sent_per_day),
        exhaustion_height: chart::bars_height(exhaustions.len()),
        exhaustions_total: usage.quota_exhaustions.iter().map(|(_, n)| n).sum(),
        exhaustion_bars: chart::bars(&exhaustions),
        usage,
        statistics_error,
        width: chart::WIDTH,
        height: chart::HEIGHT,
        label_width: chart::LABEL_WIDTH,
        bar_height: chart::BAR_HEIGHT,
    }))
}
