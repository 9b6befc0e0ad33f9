//! `--report FILE.html` and `zdd report`: one self-contained HTML page (inline CSS and
//! SVG, nothing fetched) drawn from the run's events, each with the time it was reported:
//! a timeline (one row per host: its batches' pre_tasks, tasks, handlers and post_tasks,
//! the span it was out of rotation, its failures), the probe's traffic on the same time
//! axis with the moments servers left and rejoined the load balancer, the recap, OUT OF
//! ROTATION, the exit code, the command line, versions, the machine and the color switch.
//!
//! `model` turns timed events into what the page shows (pure), `render` draws it.

#[cfg(test)]
mod fixtures;
pub mod model;
#[cfg(test)]
mod page_tests;
pub mod render;

use crate::events::{Event, Reporter};
use serde::{Deserialize, Serialize};
use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

/// An event with when it was reported, in milliseconds since the Unix epoch: the `time`
/// of a line of `--output json` and of the journal's events file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Timed {
    pub time: u64,
    #[serde(flatten)]
    pub event: Event,
}

/// Milliseconds since the Unix epoch, now.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis() as u64
}

/// The whole page for these events.
pub fn render_html(events: &[Timed]) -> String {
    render::page(&model::Report::from_events(events))
}

/// Records every event with its time and writes the page when the run ends (and, for
/// `zdd watch`, after each redeploy, so that a long watch has a page to look at).
pub struct HtmlReporter {
    path: PathBuf,
    events: Vec<Timed>,
}

impl HtmlReporter {
    /// Create (truncate) the file now, so that a path that cannot be written is an error
    /// before any host is touched.
    pub fn create(path: &Path) -> io::Result<HtmlReporter> {
        File::create(path)?;
        Ok(HtmlReporter {
            path: path.to_owned(),
            events: Vec::new(),
        })
    }

    fn write(&self) {
        let html = render_html(&self.events);
        let written = File::create(&self.path).and_then(|mut f| f.write_all(html.as_bytes()));
        if let Err(e) = written {
            eprintln!("[WARNING]: cannot write the report {}: {e}", self.path.display());
        }
    }
}

impl Reporter for HtmlReporter {
    fn event(&mut self, event: &Event) {
        // A watch checks every target every interval for months: the page draws none of
        // those checks (only the state changes they lead to), so they are not kept.
        if matches!(event, Event::HealthCheck { .. }) {
            return;
        }
        self.events.push(Timed {
            time: now_ms(),
            event: event.clone(),
        });
        if matches!(event, Event::RunEnd { .. } | Event::HealEnd { .. }) {
            self.write();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::json::JsonReporter;

    #[test]
    fn a_line_of_output_json_reads_back_as_the_timed_event() {
        let event = Event::Rotation {
            server: crate::events::OutOfRotation {
                server: "web/web1".into(),
                host: "web1".into(),
                load_balancer: "lb".into(),
                command: "echo enable server web/web1 | socat stdio /run/haproxy.sock".into(),
            },
            state: crate::events::RotationState::Out,
        };
        let mut buf = Vec::new();
        JsonReporter::new(&mut buf).event(&event);
        let timed: Timed = serde_json::from_slice(&buf).unwrap();
        assert_eq!(timed.event, event);
        assert!(now_ms() - timed.time < 60_000);
    }
}
