//! The page: `page.html` rendered with minijinja, HTML auto-escaping on (the template's
//! name ends in `.html`). Every text that came from a playbook, an inventory or a host
//! (host and task names, messages, the command line) reaches the page through the
//! template, so none of it can be markup: escaping is not something each `format!` has
//! to remember. Rust lays the page out (every coordinate, rounded to 0.1 px, so that a
//! 40-host page stays small); the template only writes the markup.

mod timeline;
mod traffic;

use super::model::Report;
use serde::Serialize;
use timeline::{timeline, Timeline};
use traffic::{traffic, Traffic};

const TEMPLATE: &str = include_str!("page.html");

/// The width of both charts (SVG user units; the page scales them to fit).
const WIDTH: f64 = 1200.0;
/// The host names' column on the left.
const LEFT: f64 = 190.0;
/// The latency scale's column on the right.
const RIGHT: f64 = 60.0;
const PLOT: f64 = WIDTH - LEFT - RIGHT;
const ROW: f64 = 22.0;
const BAR: f64 = 10.0;
const BAND: f64 = 22.0;
/// The timeline's first row starts below the batch band.
const ROWS_TOP: f64 = BAND + 8.0;
/// The traffic chart's plot area.
const TRAFFIC_TOP: f64 = 36.0;
const TRAFFIC_HEIGHT: f64 = 170.0;
/// A host name longer than this is cut in its row (its `<title>` has it whole).
const MAX_LABEL: usize = 26;

pub fn page(report: &Report) -> String {
    let mut env = minijinja::Environment::new();
    env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
    let view = View::of(report);
    env.add_template("page.html", TEMPLATE)
        .and_then(|()| {
            env.get_template("page.html")?
                .render(minijinja::value::Serde(&view))
        })
        .unwrap_or_else(|e| {
            // Only a broken template gets here (the unit tests render every part of it).
            let text = format!("{e:#}").replace('&', "&amp;").replace('<', "&lt;");
            format!("<!DOCTYPE html><meta charset=\"utf-8\"><pre>zdd report: {text}</pre>\n")
        })
}

/// Rounded to 0.1, as every coordinate on the page.
fn r1(v: f64) -> f64 {
    (v * 10.0).round() / 10.0
}

/// `850 ms`, `12.3 s`, `2 m 05 s`, `1 h 02 m`.
pub fn duration(ms: u64) -> String {
    match ms {
        0..=999 => format!("{ms} ms"),
        1000..=59_999 => format!("{:.1} s", ms as f64 / 1000.0),
        60_000..=3_599_999 => format!("{} m {:02} s", ms / 60_000, ms / 1000 % 60),
        _ => format!("{} h {:02} m", ms / 3_600_000, ms / 60_000 % 60),
    }
}

/// A tick's label: `0s`, `0.5s`, `30s`, `2m`, `2m30s`, `1h`, `1h30m`.
fn tick_label(ms: u64) -> String {
    match ms {
        _ if ms < 60_000 && ms % 1000 != 0 => format!("{:.1}s", ms as f64 / 1000.0),
        _ if ms < 60_000 => format!("{}s", ms / 1000),
        _ if ms < 3_600_000 && ms % 60_000 == 0 => format!("{}m", ms / 60_000),
        _ if ms < 3_600_000 => format!("{}m{:02}s", ms / 60_000, ms / 1000 % 60),
        _ if ms % 3_600_000 == 0 => format!("{}h", ms / 3_600_000),
        _ => format!("{}h{:02}m", ms / 3_600_000, ms / 60_000 % 60),
    }
}

/// A step for the time axis that gives at most 12 ticks.
fn tick_step(duration_ms: u64) -> u64 {
    const STEPS: [u64; 17] = [
        100, 200, 500, 1000, 2000, 5000, 10_000, 15_000, 30_000, 60_000, 120_000, 300_000, 600_000, 900_000,
        1_800_000, 3_600_000, 7_200_000,
    ];
    STEPS
        .iter()
        .copied()
        .find(|s| duration_ms / s <= 12)
        .unwrap_or_else(|| (duration_ms / 12).div_ceil(3_600_000) * 3_600_000)
}

/// The command line as one could type it again.
fn shell_line(argv: &[String]) -> String {
    let plain = |a: &str| {
        !a.is_empty()
            && a.chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_./=:,@%+*".contains(c))
    };
    argv.iter()
        .map(|a| {
            if plain(a) {
                a.clone()
            } else {
                format!("'{}'", a.replace('\'', r"'\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// `2026-12-01T01:00:00.000Z` as `2026-12-01 01:00:00 UTC`; anything else as it is.
fn readable_utc(rfc3339: &str) -> String {
    match rfc3339.split_once('T') {
        Some((date, time)) if time.ends_with('Z') && time.len() >= 8 => {
            format!("{date} {} UTC", &time[..8])
        }
        _ => rfc3339.to_owned(),
    }
}

fn cut(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_owned(),
    }
}

#[derive(Serialize)]
struct View<'a> {
    r: &'a Report,
    title: String,
    exit_code: String,
    exit_meaning: &'static str,
    exit_class: &'static str,
    facts: Vec<(&'static str, String)>,
    width: f64,
    left: f64,
    plot_right: f64,
    timeline: Timeline,
    traffic: Option<Traffic>,
    failures: Vec<FailureRow>,
    switches: Vec<SwitchRow>,
    redeploys: Vec<RedeployRow>,
}

#[derive(Serialize)]
struct RedeployRow {
    target: String,
    hosts: String,
    outcome: String,
    at: String,
    took: String,
    detail: String,
}

/// Anything drawn: a rectangle (`x`, `y`, `w`, `h`) or a mark at (`x`, `y`), with its
/// class, the `<title>` tooltip and an optional label drawn inside it.
#[derive(Serialize, Default)]
struct Shape {
    x: f64,
    y: f64,
    w: f64,
    h: f64,
    class: String,
    title: String,
    label: Option<String>,
    /// `data-server` or `data-second`, where the hook needs it.
    data: String,
    /// Where the label goes, when not inside the shape, and its `text-anchor`.
    lx: f64,
    ly: f64,
    anchor: &'static str,
}

#[derive(Serialize)]
struct Tick {
    x: f64,
    label: String,
}

#[derive(Serialize)]
struct FailureRow {
    host: String,
    task: String,
    at: String,
    kind: &'static str,
    message: String,
}

#[derive(Serialize)]
struct SwitchRow {
    upstream: String,
    path: String,
    host: String,
    from: String,
    to: String,
    at: String,
    offset: String,
}

impl<'a> View<'a> {
    fn of(r: &'a Report) -> View<'a> {
        let x = XAxis::of(r);
        let mut facts = Vec::new();
        if let Some(path) = r.playbook.as_ref().filter(|p| p.contains('/')) {
            facts.push(("Playbook", path.clone()));
        }
        if let Some(info) = &r.info {
            facts.push(("Started", readable_utc(&info.started)));
        }
        facts.push(("Duration", duration(r.duration_ms)));
        if let Some(info) = &r.info {
            facts.push(("Command", shell_line(&info.argv)));
            facts.push(("zdd", info.zdd_version.clone()));
            facts.push((
                "Machine",
                format!("{} ({}), user {}", info.machine, info.platform, info.user),
            ));
        }
        if let Some(watch) = &r.watch {
            facts.push(("Watched", watch.clone()));
        }
        if let Some(color) = &r.live_color {
            facts.push(("Live color", color.clone()));
        }
        if let Some(p) = &r.probe {
            let mut line = format!(
                "{} requests, {} failed, p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms ({})",
                p.requests, p.failed, p.p50_ms, p.p99_ms, p.max_ms, p.url
            );
            if let Some(first) = &p.first_failure {
                line.push_str(&format!("; first failure: {first}"));
            }
            facts.push(("Probe", line));
        }
        View {
            r,
            // The playbook's file name; its whole path is in the facts.
            title: match (&r.playbook, &r.info) {
                (Some(path), _) => path.rsplit('/').next().unwrap_or(path).to_owned(),
                (None, Some(info)) => format!("zdd {}", info.command),
                (None, None) => "zdd run".to_owned(),
            },
            exit_code: r.exit_code.map(|c| c.to_string()).unwrap_or_default(),
            exit_meaning: r.exit_meaning(),
            exit_class: match r.exit_code {
                Some(0) => "ok",
                Some(_) => "bad",
                None => "open",
            },
            facts,
            width: WIDTH,
            left: LEFT,
            plot_right: LEFT + PLOT,
            timeline: timeline(r, &x),
            traffic: traffic(r, &x),
            failures: r
                .failures
                .iter()
                .map(|f| FailureRow {
                    host: f.host.clone(),
                    task: f.task.clone(),
                    at: format!("+{}", duration(f.at)),
                    kind: if f.unreachable { "unreachable" } else { "failed" },
                    message: f.message.clone(),
                })
                .collect(),
            redeploys: r
                .redeploys
                .iter()
                .map(|d| RedeployRow {
                    target: d.target.clone(),
                    hosts: d.hosts.join(", "),
                    outcome: d.outcome.clone(),
                    at: format!("+{}", duration(d.start)),
                    took: duration(d.end.saturating_sub(d.start)),
                    detail: d.detail.clone(),
                })
                .collect(),
            switches: r
                .switches
                .iter()
                .map(|s| SwitchRow {
                    upstream: s.record.upstream.clone(),
                    path: s.record.path.clone(),
                    host: s.record.host.clone(),
                    from: s.record.from.clone().unwrap_or_else(|| "(none)".to_owned()),
                    to: s.record.to.clone(),
                    at: s.record.at.clone(),
                    offset: format!("+{}", duration(s.at_ms)),
                })
                .collect(),
        }
    }
}

/// Time (ms since t0) to x, the same for both charts.
struct XAxis {
    duration: f64,
    ticks: Vec<Tick>,
}

impl XAxis {
    fn of(r: &Report) -> XAxis {
        let duration = r.duration_ms.max(1) as f64;
        let step = tick_step(r.duration_ms);
        let ticks = (0..=r.duration_ms / step)
            .map(|i| i * step)
            .map(|t| Tick {
                x: r1(LEFT + t as f64 / duration * PLOT),
                label: tick_label(t),
            })
            .collect();
        XAxis { duration, ticks }
    }

    fn at(&self, ms: u64) -> f64 {
        r1(LEFT + (ms as f64 / self.duration).min(1.0) * PLOT)
    }

    /// Width of [start, end], at least `min` so that an instant stays visible.
    fn span(&self, start: u64, end: u64, min: f64) -> (f64, f64) {
        let (a, b) = (self.at(start), self.at(end.max(start)));
        let w = (b - a).max(min);
        (a.min(LEFT + PLOT - w), r1(w))
    }

    fn ticks(&self) -> Vec<Tick> {
        self.ticks
            .iter()
            .map(|t| Tick {
                x: t.x,
                label: t.label.clone(),
            })
            .collect()
    }
}
