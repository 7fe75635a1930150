//! A hand-written SVG line chart per week, one line per provider: sign-ups, or paid (whole
//! currency units, from the change history).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use chrono::{Days, NaiveDate};

use crate::stats::Stats;

const WIDTH: f64 = 960.0;
const HEIGHT: f64 = 440.0;
const LEFT: f64 = 64.0;
const RIGHT: f64 = 170.0;
const TOP: f64 = 48.0;
const BOTTOM: f64 = 56.0;
/// Line colours, in provider order (colour-blind friendly).
const COLOURS: [&str; 8] = [
    "#0072b2", "#e69f00", "#009e73", "#cc79a7", "#56b4e9", "#d55e00", "#f0e442", "#000000",
];

/// Sign-ups per week as a standalone SVG document. Weeks without sign-ups count as zero
/// between the first and the last week that has any.
pub(crate) fn signups_svg(stats: &Stats) -> String {
    let series: Vec<(&str, BTreeMap<NaiveDate, u64>)> = stats
        .providers()
        .filter(|p| !p.signups_per_week.is_empty())
        .map(|p| (p.provider.as_str(), p.signups_per_week.clone()))
        .collect();
    weekly_svg("Sign-ups per week", "no sign-ups with a join time", &series)
}

/// Paid per week (the money deltas observed that week, in whole units; refunds count as
/// zero on the chart) as a standalone SVG document.
pub(crate) fn paid_svg(stats: &Stats) -> String {
    let series: Vec<(&str, BTreeMap<NaiveDate, u64>)> = stats
        .providers()
        .filter(|p| !p.paid_per_week.is_empty())
        .map(|p| {
            let units = p
                .paid_per_week
                .iter()
                .map(|(week, micro)| (*week, u64::try_from(micro / 1_000_000).unwrap_or(0)))
                .collect();
            (p.provider.as_str(), units)
        })
        .collect();
    weekly_svg(
        "Paid per week",
        "no payments in the change history",
        &series,
    )
}

/// The chart of `series` (a count per week per provider).
fn weekly_svg(title: &str, empty: &str, series: &[(&str, BTreeMap<NaiveDate, u64>)]) -> String {
    let first = series
        .iter()
        .filter_map(|(_, w)| w.keys().next())
        .min()
        .copied();
    let last = series
        .iter()
        .filter_map(|(_, w)| w.keys().last())
        .max()
        .copied();
    let weeks: Vec<NaiveDate> = match (first, last) {
        (Some(first), Some(last)) => {
            let mut weeks = Vec::new();
            let mut week = first;
            while week <= last && weeks.len() < 10_000 {
                weeks.push(week);
                match week.checked_add_days(Days::new(7)) {
                    Some(next) => week = next,
                    None => break,
                }
            }
            weeks
        }
        _ => Vec::new(),
    };
    let peak = series
        .iter()
        .flat_map(|(_, w)| w.values())
        .copied()
        .max()
        .unwrap_or(0);
    let (step, top) = axis(peak);

    let plot_w = WIDTH - LEFT - RIGHT;
    let plot_h = HEIGHT - TOP - BOTTOM;
    let x = |i: usize| {
        if weeks.len() <= 1 {
            LEFT + plot_w / 2.0
        } else {
            LEFT + plot_w * i as f64 / (weeks.len() - 1) as f64
        }
    };
    let y = |v: u64| TOP + plot_h - plot_h * v as f64 / top as f64;

    let mut svg = String::new();
    // Writing to a String cannot fail; the results are ignored throughout.
    let _ = writeln!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(svg, r#"<rect width="100%" height="100%" fill="white"/>"#);
    let _ = writeln!(
        svg,
        r#"<text x="{LEFT}" y="28" font-size="16" font-weight="bold">{title}</text>"#
    );
    let _ = writeln!(
        svg,
        r##"<text x="{}" y="28" fill="#555" text-anchor="end">weeks start on Monday (UTC)</text>"##,
        WIDTH - RIGHT
    );
    // Horizontal grid and y labels.
    let mut v = 0;
    while v <= top {
        let _ = writeln!(
            svg,
            r##"<line x1="{LEFT}" y1="{y:.1}" x2="{:.1}" y2="{y:.1}" stroke="#ddd"/><text x="{:.1}" y="{:.1}" text-anchor="end" fill="#333">{v}</text>"##,
            LEFT + plot_w,
            LEFT - 8.0,
            y(v) + 4.0,
            y = y(v),
        );
        v += step;
    }
    // X labels: at most about 12.
    let every = weeks.len().div_ceil(12).max(1);
    for (i, week) in weeks.iter().enumerate().step_by(every) {
        let _ = writeln!(
            svg,
            r##"<line x1="{x:.1}" y1="{:.1}" x2="{x:.1}" y2="{:.1}" stroke="#999"/><text x="{x:.1}" y="{:.1}" text-anchor="middle" fill="#333">{}</text>"##,
            TOP + plot_h,
            TOP + plot_h + 5.0,
            TOP + plot_h + 20.0,
            week.format("%Y-%m-%d"),
            x = x(i),
        );
    }
    let _ = writeln!(
        svg,
        r##"<line x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{:.1}" stroke="#333"/><line x1="{LEFT}" y1="{:.1}" x2="{:.1}" y2="{:.1}" stroke="#333"/>"##,
        TOP + plot_h,
        TOP + plot_h,
        LEFT + plot_w,
        TOP + plot_h
    );
    if weeks.is_empty() {
        let _ = writeln!(
            svg,
            r##"<text x="{:.1}" y="{:.1}" text-anchor="middle" fill="#555">{empty}</text>"##,
            LEFT + plot_w / 2.0,
            TOP + plot_h / 2.0
        );
    }
    for (n, (provider, counts)) in series.iter().enumerate() {
        let colour = COLOURS[n % COLOURS.len()];
        let points: Vec<String> = weeks
            .iter()
            .enumerate()
            .map(|(i, w)| format!("{:.1},{:.1}", x(i), y(counts.get(w).copied().unwrap_or(0))))
            .collect();
        let _ = writeln!(
            svg,
            r#"<polyline fill="none" stroke="{colour}" stroke-width="2" points="{}"><title>{}</title></polyline>"#,
            points.join(" "),
            escape(provider)
        );
        if weeks.len() <= 60 {
            for (i, w) in weeks.iter().enumerate() {
                let count = counts.get(w).copied().unwrap_or(0);
                let _ = writeln!(
                    svg,
                    r#"<circle cx="{:.1}" cy="{:.1}" r="2.5" fill="{colour}"><title>{} week of {}: {count}</title></circle>"#,
                    x(i),
                    y(count),
                    escape(provider),
                    w.format("%Y-%m-%d")
                );
            }
        }
        let ly = TOP + 10.0 + 22.0 * n as f64;
        let lx = WIDTH - RIGHT + 20.0;
        let total: u64 = counts.values().sum();
        let _ = writeln!(
            svg,
            r#"<line x1="{lx}" y1="{ly}" x2="{:.1}" y2="{ly}" stroke="{colour}" stroke-width="3"/><text x="{:.1}" y="{:.1}">{} ({total})</text>"#,
            lx + 22.0,
            lx + 28.0,
            ly + 4.0,
            escape(provider)
        );
    }
    svg.push_str("</svg>\n");
    svg
}

/// A tick step of 1, 2 or 5 × 10^k giving about five ticks, and the axis top (a multiple of
/// the step at or above `peak`, at least one step).
fn axis(peak: u64) -> (u64, u64) {
    let rough = (peak as f64 / 5.0).max(1.0);
    let magnitude = 10f64.powi(rough.log10().floor() as i32);
    let step = [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * magnitude)
        .find(|s| *s >= rough)
        .unwrap_or(10.0 * magnitude)
        .max(1.0) as u64;
    let top = peak.div_ceil(step).max(1) * step;
    (step, top)
}

/// Escapes text for SVG.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, Utc};

    use super::*;
    use crate::stats::RowFacts;

    #[test]
    fn axes_are_round() {
        assert_eq!(axis(0), (1, 1));
        assert_eq!(axis(7), (2, 8));
        assert_eq!(axis(120), (50, 150));
        assert_eq!(axis(1000), (200, 1000));
    }

    #[test]
    fn one_line_per_provider_and_escaped_names() {
        let now = DateTime::parse_from_rfc3339("2024-03-31T00:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let mut stats = Stats::new(now, None);
        for (provider, day) in [("triport", 1), ("triport", 9), ("a<b", 20)] {
            stats.add(&RowFacts {
                provider: provider.into(),
                status: "joined".into(),
                joined_at: Some(now - chrono::TimeDelta::days(day)),
                ..RowFacts::default()
            });
        }
        let svg = signups_svg(&stats);
        assert!(svg.starts_with("<svg"));
        assert!(svg.trim_end().ends_with("</svg>"));
        assert_eq!(svg.matches("<polyline").count(), 2);
        assert!(svg.contains("a&lt;b"));
        assert!(!svg.contains("a<b"));
    }
}
