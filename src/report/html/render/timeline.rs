//! The timeline: a batch band, then one row per host with its bars (pre_tasks, tasks,
//! handlers, post_tasks per batch), the spans it was out of rotation, its failures, and for
//! a watch its critical marks and redeploys.

use super::{cut, duration, r1, Shape, Tick, XAxis, BAND, BAR, MAX_LABEL, ROW, ROWS_TOP};
use crate::report::html::model::{HealthMark, Report};
use serde::Serialize;

#[derive(Serialize)]
pub(super) struct Timeline {
    height: f64,
    /// What the band above the rows holds, said on its left.
    band_label: &'static str,
    /// What the legend lists: only what is drawn.
    legend: Vec<(&'static str, &'static str)>,
    rows_bottom: f64,
    band: Vec<Shape>,
    rows: Vec<Row>,
    /// Marks for watch targets that are not hosts (`service`), drawn in the band.
    band_marks: Vec<Shape>,
    ticks: Vec<Tick>,
}

#[derive(Serialize)]
struct Row {
    host: String,
    label: String,
    y: f64,
    mid: f64,
    stripe: bool,
    outs: Vec<Shape>,
    bars: Vec<Shape>,
    redeploys: Vec<Shape>,
    failures: Vec<Shape>,
    health: Vec<Shape>,
}

pub(super) fn timeline(r: &Report, x: &XAxis) -> Timeline {
    let preflight = r.preflight.as_ref().map(|p| {
        let (px, w) = x.span(p.start, p.end, 2.0);
        Shape {
            x: px,
            y: 0.0,
            w,
            h: BAND,
            class: "batch preflight".into(),
            title: format!(
                "preflight: {} host{} reachable, sudo works on {}, {} load balancer{} answer{}, \
                 before any host was changed ({})",
                p.hosts,
                if p.hosts == 1 { "" } else { "s" },
                p.sudo_checked,
                p.load_balancers,
                if p.load_balancers == 1 { "" } else { "s" },
                if p.load_balancers == 1 { "s" } else { "" },
                duration(p.end.saturating_sub(p.start))
            ),
            label: (w >= "preflight".len() as f64 * 6.8 + 10.0).then(|| "preflight".to_owned()),
            ..Shape::default()
        }
    });
    let batches = r.batches.iter().enumerate().map(|(i, b)| {
        let (bx, w) = x.span(b.start, b.end, 2.0);
        let long = format!("play {} · batch {}/{}", b.play_index, b.index, b.total);
        let fits = |text: &str| w >= text.chars().count() as f64 * 6.8 + 10.0;
        let label = [
            long.clone(),
            format!("{}/{}", b.index, b.total),
            b.index.to_string(),
        ]
        .into_iter()
        .find(|text| fits(text));
        Shape {
            x: bx,
            y: 0.0,
            w,
            h: BAND,
            class: format!("batch batch-{}", i % 2),
            title: format!(
                "{long}: {} ({}), {}",
                b.play,
                b.hosts.join(", "),
                duration(b.end.saturating_sub(b.start))
            ),
            label,
            ..Shape::default()
        }
    });
    let band = preflight.into_iter().chain(batches).collect();
    let rows: Vec<Row> = r
        .hosts
        .iter()
        .enumerate()
        .map(|(i, host)| row(r, x, i, host))
        .collect();
    let rows_bottom = ROWS_TOP + ROW * rows.len() as f64;
    let band_marks = r
        .health_marks
        .iter()
        .filter(|m| !r.hosts.contains(&m.target))
        .map(|m| health_shape(x, m, BAND / 2.0))
        .collect();
    let band_label = match (
        r.batches.is_empty(),
        r.health_marks.iter().any(|m| !r.hosts.contains(&m.target)),
    ) {
        (false, false) => "batches",
        (false, true) => "batches, service",
        (true, true) => "service",
        (true, false) => "",
    };
    Timeline {
        height: rows_bottom + 24.0,
        band_label,
        legend: legend(r),
        rows_bottom,
        band,
        rows,
        band_marks,
        ticks: x.ticks(),
    }
}

/// The legend's entries, (CSS class of the swatch, text), for what the timeline draws.
fn legend(r: &Report) -> Vec<(&'static str, &'static str)> {
    use crate::report::html::model::Part;
    let mut entries = Vec::new();
    for part in [Part::PreTasks, Part::Tasks, Part::Handlers, Part::PostTasks] {
        if r.bars.iter().any(|b| b.part == part) {
            entries.push((part.swatch(), part.as_str()));
        }
    }
    if r.out_spans.iter().any(|s| !s.still_out) {
        entries.push(("out", "out of rotation"));
    }
    if r.out_spans.iter().any(|s| s.still_out) {
        entries.push(("still", "still out at the end"));
    }
    if !r.failures.is_empty() {
        entries.push(("fail dot", "failure"));
    }
    if r.health_marks.iter().any(|m| m.state == "critical") {
        entries.push(("critical diamond", "critical"));
    }
    if r.health_marks.iter().any(|m| m.state == "given_up") {
        entries.push(("given_up diamond", "given up"));
    }
    if !r.redeploys.is_empty() {
        entries.push(("redeploy", "redeploy"));
    }
    entries
}

fn health_shape(x: &XAxis, m: &HealthMark, y: f64) -> Shape {
    Shape {
        x: x.at(m.at),
        y,
        class: format!("health health-{}", m.state),
        title: format!("{} {} at +{}: {}", m.target, m.state, duration(m.at), m.reason),
        ..Shape::default()
    }
}

fn row(r: &Report, x: &XAxis, i: usize, host: &str) -> Row {
    let y = ROWS_TOP + ROW * i as f64;
    let mid = r1(y + ROW / 2.0);
    let outs = r
        .out_spans
        .iter()
        .filter(|s| s.host == host)
        .map(|s| {
            let (sx, w) = x.span(s.start, s.end, 2.0);
            let still = if s.still_out { ", still out at the end" } else { "" };
            Shape {
                x: sx,
                y: r1(y + 1.0),
                w,
                h: ROW - 2.0,
                class: if s.still_out {
                    "out-of-rotation still-out".to_owned()
                } else {
                    "out-of-rotation".to_owned()
                },
                title: format!(
                    "{} out of rotation from +{} for {}{still}",
                    s.server,
                    duration(s.start),
                    duration(s.end.saturating_sub(s.start))
                ),
                label: (s.still_out && w > 60.0).then(|| "still out".to_owned()),
                data: s.server.clone(),
                ..Shape::default()
            }
        })
        .collect();
    let bars = r
        .bars
        .iter()
        .filter(|b| b.host == host)
        .map(|b| {
            let (bx, w) = x.span(b.start, b.end, 1.5);
            let mut title = format!(
                "{host} {}{}: {}",
                b.part.as_str(),
                b.batch
                    .map(|i| format!(", batch {}/{}", r.batches[i].index, r.batches[i].total))
                    .unwrap_or_default(),
                duration(b.end.saturating_sub(b.start))
            );
            for t in &b.tasks {
                title.push_str(&format!(
                    "\n{} ({}, {})",
                    t.name,
                    duration(t.ms),
                    status(t.status)
                ));
            }
            Shape {
                x: bx,
                y: r1(y + (ROW - BAR) / 2.0),
                w,
                h: BAR,
                class: format!("bar section-{}", b.part.as_str()),
                title,
                label: None,
                ..Shape::default()
            }
        })
        .collect();
    let redeploys = r
        .redeploys
        .iter()
        .filter(|d| d.hosts.iter().any(|h| h == host))
        .map(|d| {
            let (dx, w) = x.span(d.start, d.end, 2.0);
            Shape {
                x: dx,
                y: r1(y + 3.0),
                w,
                h: ROW - 6.0,
                class: format!("redeploy redeploy-{}", d.outcome),
                title: format!(
                    "redeploy of {} ({}): {} in {}{}",
                    d.target,
                    d.hosts.join(", "),
                    d.outcome,
                    duration(d.end.saturating_sub(d.start)),
                    if d.detail.is_empty() {
                        String::new()
                    } else {
                        format!(": {}", d.detail)
                    }
                ),
                label: (w > 70.0).then(|| "redeploy".to_owned()),
                ..Shape::default()
            }
        })
        .collect();
    let failures = r
        .failures
        .iter()
        .filter(|f| f.host == host)
        .map(|f| Shape {
            x: x.at(f.at),
            y: mid,
            class: "failure".to_owned(),
            title: format!(
                "{host} {} at +{}: {}\n{}",
                if f.unreachable { "unreachable" } else { "failed" },
                duration(f.at),
                f.task,
                f.message
            ),
            ..Shape::default()
        })
        .collect();
    let health = r
        .health_marks
        .iter()
        .filter(|m| m.target == host)
        .map(|m| health_shape(x, m, mid))
        .collect();
    Row {
        host: host.to_owned(),
        label: cut(host, MAX_LABEL),
        y,
        mid,
        stripe: i % 2 == 1,
        outs,
        bars,
        redeploys,
        failures,
        health,
    }
}

fn status(s: crate::events::Status) -> &'static str {
    use crate::events::Status;
    match s {
        Status::Ok => "ok",
        Status::Changed => "changed",
        Status::Failed => "failed",
        Status::Skipped => "skipped",
        Status::Unreachable => "unreachable",
    }
}
