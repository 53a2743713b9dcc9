//! Bar charts as SVG geometry, drawn by the dashboard template. The numbers behind each chart
//! are in a table beside it too, for screen readers and for copying.

use chrono::{Duration, NaiveDate};

use crate::statistics::DayCount;

pub const WIDTH: i64 = 600;
pub const HEIGHT: i64 = 180;
/// Room below the bars for the day labels.
const AXIS: i64 = 20;

pub struct Column {
    pub x: i64,
    pub y: i64,
    pub width: i64,
    pub height: i64,
    /// The tooltip: day and count.
    pub title: String,
}

pub struct Tick {
    pub x: i64,
    pub label: String,
    /// SVG `text-anchor`: the last day's label ends at the right edge.
    pub anchor: &'static str,
}

/// One column per day from `first` for `days` days; days without data count 0.
pub struct DayChart {
    pub columns: Vec<Column>,
    pub ticks: Vec<Tick>,
    pub max: i64,
    pub total: i64,
    pub rows: Vec<(String, i64)>,
}

impl DayChart {
    pub fn new(first: NaiveDate, days: i64, data: &[DayCount]) -> Self {
        let counts: Vec<(NaiveDate, i64)> = (0..days)
            .map(|offset| {
                let day = first + Duration::days(offset);
                let count = data.iter().filter(|d| d.day == day).map(|d| d.count).sum();
                (day, count)
            })
            .collect();
        let max = counts.iter().map(|(_, c)| *c).max().unwrap_or(0);
        // An empty chart still needs a scale.
        let scale = max.max(1);
        let slot = WIDTH / days.max(1);
        let plot = HEIGHT - AXIS;
        let columns = (0_i64..)
            .zip(&counts)
            .map(|(i, (day, count))| {
                let height = count * plot / scale;
                Column {
                    x: i * slot + 1,
                    y: plot - height,
                    width: (slot - 2).max(1),
                    height,
                    title: format!("{day}: {count}"),
                }
            })
            .collect();
        // A label every week and one for the last day, so that they never overlap.
        let last = days - 1;
        let ticks = (0_i64..)
            .zip(&counts)
            .filter(|(i, _)| (i % 7 == 0 && i + 4 <= last) || *i == last)
            .map(|(i, (day, _))| Tick {
                x: if i == last { WIDTH } else { i * slot + 1 },
                label: day.format("%d %b").to_string(),
                anchor: if i == last { "end" } else { "start" },
            })
            .collect();
        Self {
            columns,
            ticks,
            max,
            total: counts.iter().map(|(_, c)| c).sum(),
            rows: counts
                .iter()
                .map(|(day, count)| (day.to_string(), *count))
                .collect(),
        }
    }
}

/// A horizontal bar per category, as a share of the largest one.
pub struct Bar {
    pub label: String,
    pub value: i64,
    pub y: i64,
    pub width: i64,
}

pub const BAR_HEIGHT: i64 = 22;
/// The part of [`WIDTH`] left of the bars, for their labels.
pub const LABEL_WIDTH: i64 = 220;

pub fn bars(data: &[(String, i64)]) -> Vec<Bar> {
    let max = data.iter().map(|(_, v)| *v).max().unwrap_or(0).max(1);
    let room = WIDTH - LABEL_WIDTH - 60;
    (0_i64..)
        .zip(data)
        .map(|(i, (label, value))| Bar {
            label: label.clone(),
            value: *value,
            y: i * (BAR_HEIGHT + 6),
            width: (value * room / max).max(i64::from(*value > 0)),
        })
        .collect()
}

/// The height of the SVG for `count` bars.
pub fn bars_height(count: usize) -> i64 {
    i64::try_from(count.max(1)).map_or(i64::MAX, |count| count.saturating_mul(BAR_HEIGHT + 6))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_without_data_count_zero_and_the_highest_fills_the_plot() {
        let first = NaiveDate::from_ymd_opt(2026, 11, 1).unwrap();
        let data = [DayCount {
            day: first + Duration::days(2),
            count: 4,
        }];
        let chart = DayChart::new(first, 30, &data);
        assert_eq!(chart.columns.len(), 30);
        assert_eq!(chart.total, 4);
        assert_eq!(chart.columns[2].height, HEIGHT - AXIS);
        assert_eq!(chart.columns[0].height, 0);
        // Days 0, 7, 14, 21 and the last one (28 is too close to it).
        assert_eq!(chart.ticks.len(), 5);
        assert_eq!(chart.ticks[4].anchor, "end");
        assert_eq!(DayChart::new(first, 30, &[]).max, 0);
    }

    #[test]
    fn bars_are_shares_of_the_largest() {
        let bars = bars(&[("a".into(), 10), ("b".into(), 5), ("c".into(), 0)]);
        assert_eq!(bars[1].width * 2, bars[0].width);
        assert_eq!(bars[2].width, 0);
        assert_eq!(bars[2].y, 2 * (BAR_HEIGHT + 6));
    }
}
