//! The live line on a terminal: one line for the running batch (batch i/N, hosts done,
//! running and failed, the current task, elapsed), drawn with indicatif below the human
//! output. Everything else that is printed while it is shown goes through
//! [`Progress::writer`] or [`StderrLog`], which lift the line, print, and draw it again, so
//! lines never tear.

use crate::events::{Event, Reporter, Status};
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressState, ProgressStyle};
use std::collections::HashSet;
use std::fmt;
use std::io::{self, IsTerminal, Write};
use std::sync::Mutex;
use std::time::Duration;

/// The live display in use, so that log lines (`-vv`) can be printed around it.
static ACTIVE: Mutex<Option<MultiProgress>> = Mutex::new(None);

/// Whether to draw a live line: only for a person watching stdout.
pub fn wanted(no_progress: bool) -> bool {
    !no_progress && io::stdout().is_terminal()
}

/// What a batch's line says, kept from the events; drawing is separate so this is testable.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BatchState {
    pub play: String,
    pub index: usize,
    pub total: usize,
    pub hosts: usize,
    pub task: Option<String>,
    /// Hosts that started the current task.
    started: HashSet<String>,
    /// Hosts with a result for the current task.
    finished: HashSet<String>,
    /// Hosts of the batch that failed or became unreachable so far.
    failed: HashSet<String>,
}

impl BatchState {
    pub fn new(play: &str, index: usize, total: usize, hosts: usize) -> Self {
        BatchState {
            play: play.to_owned(),
            index,
            total,
            hosts,
            ..Default::default()
        }
    }

    /// Take in one event of this batch.
    pub fn apply(&mut self, event: &Event) {
        match event {
            Event::TaskStart { name, .. } => {
                self.task = Some(name.clone());
                self.started.clear();
                self.finished.clear();
            }
            Event::HostStart { host, .. } => {
                self.started.insert(host.clone());
            }
            // Per-item results come before the task's own; only the latter ends it.
            Event::HostResult(r) if r.item.is_none() => {
                self.finished.insert(r.host.clone());
                let failed = r.status == Status::Failed && !r.ignored;
                if failed || r.status == Status::Unreachable {
                    self.failed.insert(r.host.clone());
                }
            }
            _ => {}
        }
    }

    pub fn done(&self) -> usize {
        self.finished.len()
    }

    pub fn running(&self) -> usize {
        self.started.difference(&self.finished).count()
    }

    pub fn failed(&self) -> usize {
        self.failed.len()
    }

    /// `batch 2/3 [web] 1/2 done, 1 running, 0 failed | Copy over webapp content`
    pub fn line(&self) -> String {
        let mut text = format!(
            "batch {}/{} [{}] {}/{} done, {} running, {} failed",
            self.index,
            self.total,
            self.play,
            self.done(),
            self.hosts,
            self.running(),
            self.failed()
        );
        if let Some(task) = &self.task {
            text.push_str(" | ");
            text.push_str(task);
        }
        text
    }
}

/// The live renderer: a spinner line while connections open, then one per running batch.
pub struct Progress {
    multi: MultiProgress,
    bar: Option<ProgressBar>,
    batch: Option<BatchState>,
}

impl Progress {
    /// A live display on stdout. While it lives, log lines on stderr go around it too.
    pub fn new() -> Self {
        let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stdout());
        *ACTIVE.lock().unwrap_or_else(|e| e.into_inner()) = Some(multi.clone());
        Progress {
            multi,
            bar: None,
            batch: None,
        }
    }

    /// Where the human output goes while the line is shown: stdout, printed around it.
    pub fn writer(&self) -> SuspendingWriter {
        SuspendingWriter {
            multi: self.multi.clone(),
            buf: Vec::new(),
        }
    }

    fn show(&mut self, message: String) {
        self.clear();
        let bar = self.multi.add(ProgressBar::new_spinner());
        let style = ProgressStyle::with_template("{spinner} {wide_msg} {seconds}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner())
            .with_key("seconds", |state: &ProgressState, w: &mut dyn fmt::Write| {
                let _ = write!(w, "{:.1}s", state.elapsed().as_secs_f64());
            });
        bar.set_style(style);
        bar.set_message(message);
        bar.enable_steady_tick(Duration::from_millis(120));
        self.bar = Some(bar);
    }

    fn clear(&mut self) {
        self.batch = None;
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
            self.multi.remove(&bar);
        }
    }
}

impl Default for Progress {
    fn default() -> Self {
        Self::new()
    }
}

impl Reporter for Progress {
    fn event(&mut self, event: &Event) {
        match event {
            Event::PlaybookStart { .. } => self.show("connecting to the hosts".into()),
            Event::BatchStart {
                play,
                index,
                total,
                hosts,
                ..
            } => {
                let state = BatchState::new(play, *index, *total, hosts.len());
                self.show(state.line());
                self.batch = Some(state);
            }
            Event::BatchEnd { .. } | Event::Recap { .. } | Event::PreflightFailed { .. } => self.clear(),
            other => {
                if let (Some(state), Some(bar)) = (&mut self.batch, &self.bar) {
                    state.apply(other);
                    bar.set_message(state.line());
                }
            }
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.clear();
        let _ = self.multi.clear();
        *ACTIVE.lock().unwrap_or_else(|e| e.into_inner()) = None;
    }
}

/// Stdout, a line at a time, printed above the live line.
pub struct SuspendingWriter {
    multi: MultiProgress,
    buf: Vec<u8>,
}

impl Write for SuspendingWriter {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.buf.extend_from_slice(data);
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let buf = std::mem::take(&mut self.buf);
        self.multi.suspend(|| {
            let mut out = io::stdout().lock();
            out.write_all(&buf)?;
            out.flush()
        })
    }
}

impl Drop for SuspendingWriter {
    fn drop(&mut self) {
        let _ = self.flush();
    }
}

/// `tracing`'s writer: stderr, printed around the live line when there is one.
#[derive(Debug, Clone, Copy, Default)]
pub struct StderrLog;

impl Write for StderrLog {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let active = ACTIVE.lock().unwrap_or_else(|e| e.into_inner()).clone();
        match active {
            Some(multi) => multi.suspend(|| io::stderr().write_all(data))?,
            None => io::stderr().write_all(data)?,
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        io::stderr().flush()
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for StderrLog {
    type Writer = StderrLog;

    fn make_writer(&'a self) -> Self::Writer {
        StderrLog
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::HostResult;
    use serde_json::json;

    fn result(host: &str, status: Status, item: Option<&str>) -> Event {
        Event::HostResult(HostResult {
            host: host.into(),
            delegate: None,
            delegate_address: None,
            task: "t".into(),
            status,
            changed: false,
            item: item.map(str::to_owned),
            looped: false,
            ignored: false,
            rc: None,
            duration_ms: 1,
            result: json!({}),
            show_result: false,
        })
    }

    fn start(host: &str) -> Event {
        Event::HostStart {
            host: host.into(),
            task: "t".into(),
        }
    }

    fn task(name: &str) -> Event {
        Event::TaskStart {
            name: name.into(),
            section: crate::playbook::Section::Tasks,
            handler: false,
            via_ansible: false,
        }
    }

    #[test]
    fn counts_hosts_of_the_current_task_and_failures_of_the_batch() {
        let mut s = BatchState::new("web", 2, 3, 3);
        assert_eq!(s.line(), "batch 2/3 [web] 0/3 done, 0 running, 0 failed");
        s.apply(&task("Copy"));
        s.apply(&start("a"));
        s.apply(&start("b"));
        assert_eq!(s.line(), "batch 2/3 [web] 0/3 done, 2 running, 0 failed | Copy");
        // An item's result does not finish the host's task.
        s.apply(&result("a", Status::Failed, Some("x")));
        assert_eq!((s.done(), s.running(), s.failed()), (0, 2, 0));
        s.apply(&result("a", Status::Failed, None));
        s.apply(&start("c"));
        s.apply(&result("b", Status::Ok, None));
        assert_eq!(s.line(), "batch 2/3 [web] 2/3 done, 1 running, 1 failed | Copy");
        s.apply(&task("Restart"));
        s.apply(&start("b"));
        assert_eq!(
            s.line(),
            "batch 2/3 [web] 0/3 done, 1 running, 1 failed | Restart"
        );
        s.apply(&result("b", Status::Unreachable, None));
        assert_eq!((s.done(), s.running(), s.failed()), (1, 0, 2));
    }

    #[test]
    fn an_ignored_failure_is_not_a_failed_host() {
        let mut s = BatchState::new("web", 1, 1, 1);
        let mut r = result("a", Status::Failed, None);
        if let Event::HostResult(r) = &mut r {
            r.ignored = true;
        }
        s.apply(&r);
        assert_eq!(s.failed(), 0);
    }
}
