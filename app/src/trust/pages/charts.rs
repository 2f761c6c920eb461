//! Charts drawn as inline SVG on the server: no script needed to see them,
//! and each carries its figures as text for screen readers.

use crate::trust::model::{Figures, WeekBar};
use leptos::prelude::*;

/// (label, CSS class) for the stacked series, bottom up.
const SERIES: [(&str, &str); 5] = [
    ("allowed outright", "s-allowed"),
    ("approved", "s-approved"),
    ("approved with edits", "s-corrected"),
    ("rejected", "s-rejected"),
    ("expired", "s-expired"),
];

fn values(w: &WeekBar) -> [i64; 5] {
    [w.allowed, w.approved, w.corrected, w.rejected, w.expired]
}

/// Weekly trend: one stacked bar per week, 13 weeks.
#[component]
pub fn WeeklyTrend(weeks: Vec<WeekBar>) -> impl IntoView {
    let (w, h, gap) = (40.0_f64, 140.0_f64, 8.0_f64);
    let max = weeks
        .iter()
        .map(|b| values(b).iter().sum::<i64>())
        .max()
        .unwrap_or(0)
        .max(1) as f64;
    let width = weeks.len() as f64 * (w + gap);
    let summary = weeks
        .iter()
        .map(|b| {
            format!(
                "week of {}: {} allowed, {} approved, {} with edits, {} rejected, {} expired",
                b.starts, b.allowed, b.approved, b.corrected, b.rejected, b.expired
            )
        })
        .collect::<Vec<_>>()
        .join("; ");
    let bars = weeks
        .iter()
        .enumerate()
        .map(|(i, b)| {
            let x = i as f64 * (w + gap);
            let mut y = h;
            let rects = values(b)
                .iter()
                .zip(SERIES)
                .filter(|(v, _)| **v > 0)
                .map(|(v, (label, class))| {
                    let bh = *v as f64 / max * (h - 10.0);
                    y -= bh;
                    view! {
                        <rect x=x y=y width=w height=bh class=class>
                            <title>{format!("week of {}: {v} {label}", b.starts)}</title>
                        </rect>
                    }
                })
                .collect_view();
            let label = b.starts[5..].to_string();
            view! {
                <g>
                    {rects}
                    <text x=x + w / 2.0 y=h + 14.0 text-anchor="middle" class="axis">{label}</text>
                </g>
            }
        })
        .collect_view();
    view! {
        <figure class="chart">
            <svg viewBox=format!("0 0 {width} {}", h + 20.0) role="img" aria-label=summary
                 preserveAspectRatio="xMinYMin meet" data-testid="weekly-trend">
                {bars}
            </svg>
            <figcaption><Legend/></figcaption>
        </figure>
    }
}

#[component]
fn Legend() -> impl IntoView {
    view! {
        <ul class="legend">
            {SERIES.iter().map(|(label, class)| view! {
                <li><span class=format!("swatch {class}")></span>{*label}</li>
            }).collect_view()}
        </ul>
    }
}

/// Outcome mix of one window: what happened to what people decided, and
/// how execution went.
#[component]
pub fn OutcomeMix(f: Figures) -> impl IntoView {
    let parts = [
        (f.allowed, "allowed outright", "s-allowed"),
        (f.approved - f.corrected, "approved", "s-approved"),
        (f.corrected, "approved with edits", "s-corrected"),
        (f.rejected, "rejected", "s-rejected"),
        (f.expired, "expired", "s-expired"),
    ];
    let total: i64 = parts.iter().map(|p| p.0).sum();
    let summary = parts
        .iter()
        .map(|(n, label, _)| format!("{n} {label}"))
        .collect::<Vec<_>>()
        .join(", ");
    let mut x = 0.0;
    let rects = parts
        .iter()
        .filter(|p| p.0 > 0)
        .map(|(n, label, class)| {
            let w = *n as f64 / total.max(1) as f64 * 600.0;
            let at = x;
            x += w;
            view! { <rect x=at y=0 width=w height=24 class=*class><title>{format!("{n} {label}")}</title></rect> }
        })
        .collect_view();
    view! {
        <figure class="chart">
            <svg viewBox="0 0 600 24" role="img" aria-label=format!("last {} days: {summary}", f.days)
                 preserveAspectRatio="none" class="mix" data-testid="outcome-mix">
                {rects}
            </svg>
            <figcaption class="small muted">
                {format!("Last {} days: {summary}. Executions: {} succeeded, {} failed.", f.days, f.succeeded, f.failed)}
            </figcaption>
        </figure>
    }
}
