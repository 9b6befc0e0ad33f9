//! The probe's traffic on the timeline's time axis: requests per second (a line and a
//! point per sample), failed requests (red bars), p50 and p99 latency (on a scale of their
//! own, on the right), and the moments servers left and rejoined the load balancer.

use super::{duration, r1, Shape, Tick, XAxis, LEFT, PLOT, TRAFFIC_HEIGHT, TRAFFIC_TOP};
use crate::report::html::model::{Report, Sample};
use serde::Serialize;

#[derive(Serialize)]
struct ScaleTick {
    y: f64,
    label: String,
}

#[derive(Serialize)]
pub(super) struct Traffic {
    height: f64,
    top: f64,
    bottom: f64,
    requests_path: String,
    p50_path: String,
    p99_path: String,
    points: Vec<Shape>,
    failed: Vec<Shape>,
    moments: Vec<Shape>,
    left_ticks: Vec<ScaleTick>,
    right_ticks: Vec<ScaleTick>,
    ticks: Vec<Tick>,
    per: String,
}

/// The smallest of 1, 2, 5 x 10^n at or above `v` (a scale's top).
fn nice_ceiling(v: f64) -> f64 {
    if v <= 0.0 {
        return 1.0;
    }
    let magnitude = 10f64.powf(v.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * magnitude)
        .find(|c| *c >= v)
        .unwrap_or(10.0 * magnitude)
}

/// A number on a scale: no trailing `.0`.
fn scale_label(v: f64) -> String {
    if v.fract() == 0.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.1}")
    }
}

/// A vertical line at each moment a server left or rejoined, labelled at the top with the
/// servers that moved at that moment. A label that would overlap the one before goes on a
/// second line, else is left out (the line's tooltip still names the server).
fn moments(r: &Report, x: &XAxis, bottom: f64) -> Vec<Shape> {
    // The width of a character of the 11px label, a little generous.
    const CHAR: f64 = 6.8;
    // `web/web1` -> `web1`, `web01.prod.example.com` -> `web01` (an address stays whole).
    let short = |server: &str| {
        let name = server.rsplit('/').next().unwrap_or(server);
        match name.split_once('.') {
            Some((first, _)) if !name.chars().all(|c| c.is_ascii_digit() || c == '.') => first.to_owned(),
            _ => name.to_owned(),
        }
    };
    let mut line_ends = [f64::MIN; 2];
    let mut shapes: Vec<Shape> = Vec::new();
    let moments = &r.lb_moments;
    let mut i = 0;
    while i < moments.len() {
        let m = &moments[i];
        let mx = x.at(m.at);
        // The moments drawn on the same pixel, the same way: one label for them all.
        let group = moments[i..]
            .iter()
            .take_while(|n| n.leave == m.leave && (x.at(n.at) - mx).abs() < 1.0)
            .count();
        let servers: Vec<String> = moments[i..i + group].iter().map(|n| short(&n.server)).collect();
        let mut text = format!("{} {}", if m.leave { "out" } else { "back" }, servers.join(", "));
        if text.chars().count() > 28 {
            text = format!(
                "{} {} +{}",
                if m.leave { "out" } else { "back" },
                servers[0],
                group - 1
            );
        }
        let width = text.chars().count() as f64 * CHAR;
        let anchor_end = mx + 3.0 + width > LEFT + PLOT;
        let (from, to) = if anchor_end {
            (mx - 3.0 - width, mx - 3.0)
        } else {
            (mx + 3.0, mx + 3.0 + width)
        };
        let level = line_ends.iter().position(|end| from > end + 4.0);
        if let Some(level) = level {
            line_ends[level] = to;
        }
        for (k, n) in moments[i..i + group].iter().enumerate() {
            let word = if n.leave { "left" } else { "rejoined" };
            shapes.push(Shape {
                x: mx,
                y: TRAFFIC_TOP,
                h: bottom,
                class: format!("lb-moment {}", if n.leave { "lb-leave" } else { "lb-rejoin" }),
                title: format!("{} {word} the load balancer at +{}", n.server, duration(n.at)),
                label: level.filter(|_| k == 0).map(|_| text.clone()),
                data: n.server.clone(),
                lx: r1(if anchor_end { mx - 3.0 } else { mx + 3.0 }),
                ly: TRAFFIC_TOP - 5.0 - 12.0 * level.unwrap_or(0) as f64,
                anchor: if anchor_end { "end" } else { "start" },
                ..Shape::default()
            });
        }
        i += group;
    }
    shapes
}

pub(super) fn traffic(r: &Report, x: &XAxis) -> Option<Traffic> {
    if r.samples.is_empty() {
        return None;
    }
    let bottom = TRAFFIC_TOP + TRAFFIC_HEIGHT;
    let top_rate = nice_ceiling(r.samples.iter().map(|s| s.requests_per_s).fold(0.0, f64::max));
    let top_ms = nice_ceiling(r.samples.iter().map(|s| s.p99_ms).fold(0.0, f64::max));
    let rate_y = |v: f64| r1(bottom - v / top_rate * TRAFFIC_HEIGHT);
    let ms_y = |v: f64| r1(bottom - v / top_ms * TRAFFIC_HEIGHT);
    let mid_x = |s: &Sample| r1((x.at(s.start) + x.at(s.end)) / 2.0);
    let path = |y: &dyn Fn(&Sample) -> f64| {
        let mut d = String::new();
        for (i, s) in r.samples.iter().enumerate() {
            d.push_str(&format!(
                "{}{},{}",
                if i == 0 { "M" } else { " L" },
                mid_x(s),
                y(s)
            ));
        }
        d
    };
    let per = if r.sample_seconds == 1 {
        "second".to_owned()
    } else {
        format!("{} seconds (averaged)", r.sample_seconds)
    };
    let points = r
        .samples
        .iter()
        .map(|s| Shape {
            x: mid_x(s),
            y: rate_y(s.requests_per_s),
            class: "probe-point".to_owned(),
            title: format!(
                "+{}: {:.1} requests/s, {} failed, p50 {:.1} ms, p99 {:.1} ms",
                duration(s.start),
                s.requests_per_s,
                s.failed,
                s.p50_ms,
                s.p99_ms
            ),
            data: s.second.to_string(),
            ..Shape::default()
        })
        .collect();
    let failed = r
        .samples
        .iter()
        .filter(|s| s.failed > 0)
        .map(|s| {
            let (fx, w) = x.span(s.start, s.end, 1.5);
            // One failed request stays visible however many succeeded.
            let h = (bottom - rate_y(s.failed_per_s)).max(4.0);
            Shape {
                x: fx,
                y: r1(bottom - h),
                w,
                h: r1(h),
                class: "failed".to_owned(),
                title: format!("+{}: {} failed", duration(s.start), s.failed),
                ..Shape::default()
            }
        })
        .collect();
    let moments = moments(r, x, bottom);
    let scale = |top: f64, y: &dyn Fn(f64) -> f64| {
        [0.0, top / 2.0, top]
            .iter()
            .map(|v| ScaleTick {
                y: y(*v),
                label: scale_label(*v),
            })
            .collect()
    };
    Some(Traffic {
        height: bottom + 24.0,
        top: TRAFFIC_TOP,
        bottom,
        requests_path: path(&|s| rate_y(s.requests_per_s)),
        p50_path: path(&|s| ms_y(s.p50_ms)),
        p99_path: path(&|s| ms_y(s.p99_ms)),
        points,
        failed,
        moments,
        left_ticks: scale(top_rate, &rate_y),
        right_ticks: scale(top_ms, &ms_y),
        ticks: x.ticks(),
        per,
    })
}
