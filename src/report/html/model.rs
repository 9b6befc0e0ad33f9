//! What the report shows, computed from timed events (pure: no clock, no I/O).
//!
//! Every time here is milliseconds since the first event (`t0`); the page maps them to x.

mod samples;

use super::Timed;
use crate::events::{Event, HostStats, OutOfRotation, RotationState, RunInfo, Status};
use crate::journal::SwitchRecord;
use crate::playbook::Section;
use crate::probe::{ProbeReport, ProbeSample};
use crate::watch::tracker::HealthState;
use serde::Serialize;
use serde_json::Value;
use std::collections::{HashMap, HashSet};

/// At most this many points in the traffic chart: a long watch is bucketed down.
pub const MAX_POINTS: usize = 600;
/// A failure's message is cut to this many characters.
const MAX_MESSAGE: usize = 300;

/// Everything the page draws.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Report {
    /// Epoch milliseconds of the first event; every other time is relative to it.
    pub t0: u64,
    /// Milliseconds from the first event to the last.
    pub duration_ms: u64,
    /// One row per host, in the order the rollout plan touches them (batches, then the
    /// watch's targets); delegates are not rows.
    pub hosts: Vec<String>,
    pub info: Option<RunInfo>,
    pub playbook: Option<String>,
    /// `None`: the run had not ended when the page was written (a watch between redeploys).
    pub exit_code: Option<i32>,
    pub probe: Option<ProbeReport>,
    /// Preflight: every host connected and checked before any was changed.
    pub preflight: Option<PreflightSpan>,
    pub batches: Vec<BatchSpan>,
    pub bars: Vec<Bar>,
    pub out_spans: Vec<OutSpan>,
    pub failures: Vec<Failure>,
    pub health_marks: Vec<HealthMark>,
    pub redeploys: Vec<Redeploy>,
    /// The probe's traffic, at most `MAX_POINTS` of them.
    pub samples: Vec<Sample>,
    /// How many seconds each drawn sample stands for (1 unless downsampled).
    pub sample_seconds: u64,
    pub lb_moments: Vec<LbMoment>,
    /// PLAY RECAP, in the recap's order.
    pub recap: Vec<(String, HostStats)>,
    /// What the run left out of rotation (the `OutOfRotation` event).
    pub out_of_rotation: Vec<OutOfRotation>,
    pub warnings: Vec<String>,
    pub switches: Vec<Switch>,
    /// The color the last switch went to.
    pub live_color: Option<String>,
    /// `zdd watch`: what it watched, as the header says it.
    pub watch: Option<String>,
    /// `zdd report` of a journal without its events file: no tasks, probe or recap known.
    pub journal_alone: bool,
}

/// Preflight, ending when its event was reported and lasting what it says.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PreflightSpan {
    pub start: u64,
    pub end: u64,
    pub hosts: usize,
    pub sudo_checked: usize,
    /// Load balancer endpoints checked (HAProxy sockets and the others).
    pub load_balancers: usize,
}

/// A batch, from its `BatchStart` to its `BatchEnd` (or the end of the events).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BatchSpan {
    pub play: String,
    pub play_index: usize,
    pub index: usize,
    pub total: usize,
    pub hosts: Vec<String>,
    pub start: u64,
    pub end: u64,
}

/// Which part of a play a bar stands for; handlers are their own part whatever section
/// notified them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Part {
    PreTasks,
    Tasks,
    Handlers,
    PostTasks,
}

impl Part {
    pub fn as_str(self) -> &'static str {
        match self {
            Part::PreTasks => "pre_tasks",
            Part::Tasks => "tasks",
            Part::Handlers => "handlers",
            Part::PostTasks => "post_tasks",
        }
    }

    /// The legend swatch's class.
    pub fn swatch(self) -> &'static str {
        match self {
            Part::PreTasks => "pre",
            Part::Tasks => "tasks",
            Part::Handlers => "handlers",
            Part::PostTasks => "post",
        }
    }

    fn of(section: Section, handler: bool) -> Part {
        match section {
            _ if handler => Part::Handlers,
            Section::PreTasks => Part::PreTasks,
            Section::Tasks => Part::Tasks,
            Section::Handlers => Part::Handlers,
            Section::PostTasks => Part::PostTasks,
        }
    }
}

/// One host's pre_tasks, tasks, handlers or post_tasks in one batch: from its first task
/// start to its last result.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Bar {
    pub host: String,
    /// Index into `Report::batches`; `None` for results outside any batch.
    pub batch: Option<usize>,
    pub part: Part,
    pub start: u64,
    pub end: u64,
    pub tasks: Vec<TaskTime>,
}

/// A task's whole result on a host (loop items are not listed one by one).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TaskTime {
    pub name: String,
    pub ms: u64,
    pub status: Status,
}

/// A span a server of a host was out of its load balancer.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OutSpan {
    pub host: String,
    /// `backend/server`, or for a watch the place it describes.
    pub server: String,
    pub start: u64,
    pub end: u64,
    /// Still out when the events end.
    pub still_out: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Failure {
    pub host: String,
    pub task: String,
    pub at: u64,
    pub unreachable: bool,
    /// `msg`, else `stderr`, cut to 300 characters; a `no_log` result's censored text.
    pub message: String,
}

/// A watched target turned critical or was given up on.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HealthMark {
    pub target: String,
    pub at: u64,
    pub state: String,
    pub reason: String,
}

/// A redeploy by the healer, from its start to its `HealEnd`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Redeploy {
    pub target: String,
    /// The rows it is drawn on.
    pub hosts: Vec<String>,
    pub start: u64,
    pub end: u64,
    pub outcome: String,
    pub detail: String,
}

/// One second of probe traffic (or, downsampled, the mean of `Report::sample_seconds`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Sample {
    /// The probe's second the sample starts at.
    pub second: u64,
    /// Where its span starts and ends on the report's time axis.
    pub start: u64,
    pub end: u64,
    pub requests: u64,
    pub requests_per_s: f64,
    pub failed_per_s: f64,
    pub failed: u64,
    pub p50_ms: f64,
    pub p99_ms: f64,
}

/// A server left (`leave`) or rejoined its load balancer.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LbMoment {
    pub at: u64,
    pub server: String,
    pub host: String,
    pub leave: bool,
}

/// An `nginx_upstream` color switch.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Switch {
    pub record: SwitchRecord,
    /// On the report's time axis.
    pub at_ms: u64,
}

impl Report {
    pub fn from_events(events: &[Timed]) -> Report {
        let mut fold = Fold::default();
        let t0 = events.first().map_or(0, |e| e.time);
        let t1 = events.iter().map(|e| e.time).max().unwrap_or(t0);
        fold.report.t0 = t0;
        fold.report.duration_ms = t1.saturating_sub(t0);
        for e in events {
            fold.event(e.time.saturating_sub(t0), e.time, &e.event);
        }
        fold.finish()
    }

    /// What the exit code means.
    pub fn exit_meaning(&self) -> &'static str {
        match self.exit_code {
            None => "the run had not ended when this page was written",
            Some(0) => "ok",
            Some(2) => "a host failed",
            Some(4) => "a host was unreachable",
            Some(5) => "invalid input",
            Some(130) => "interrupted",
            Some(1) => "internal error",
            Some(_) => "failed",
        }
    }
}

/// The events folded into the report, one at a time.
#[derive(Default)]
struct Fold {
    report: Report,
    /// The part the last `TaskStart` began.
    part: Option<Part>,
    /// Index of the batch running.
    batch: Option<usize>,
    /// (host, batch, part) -> index into `report.bars`.
    bar_of: HashMap<(String, Option<usize>, Part), usize>,
    /// (host, server) -> index into `report.out_spans` of a span still open.
    open_out: HashMap<(String, String), usize>,
    /// (host, server) the load balancer said are out (a leave line drawn), not back yet.
    confirmed_out: HashSet<(String, String)>,
    /// The probe's samples with when each was reported.
    raw_samples: Vec<(u64, ProbeSample)>,
}

impl Fold {
    fn event(&mut self, at: u64, epoch_ms: u64, event: &Event) {
        let r = &mut self.report;
        match event {
            Event::RunInfo(info) => r.info = Some(info.clone()),
            Event::PlaybookStart { playbook, .. } => r.playbook = Some(playbook.clone()),
            // A watch's redeploys have their own preflights: the page shows the first.
            Event::Preflight {
                hosts,
                sudo_checked,
                sockets,
                other_load_balancers,
                duration_ms,
            } if r.preflight.is_none() => {
                r.preflight = Some(PreflightSpan {
                    start: at.saturating_sub(*duration_ms),
                    end: at,
                    hosts: *hosts,
                    sudo_checked: *sudo_checked,
                    load_balancers: sockets.len() + other_load_balancers.len(),
                })
            }
            Event::BatchStart {
                play,
                play_index,
                index,
                total,
                hosts,
            } => {
                hosts.iter().for_each(|h| self.row(h));
                self.report.batches.push(BatchSpan {
                    play: play.clone(),
                    play_index: *play_index,
                    index: *index,
                    total: *total,
                    hosts: hosts.clone(),
                    start: at,
                    end: self.report.duration_ms,
                });
                self.batch = Some(self.report.batches.len() - 1);
                self.part = None;
            }
            Event::BatchEnd { .. } => {
                if let Some(b) = self.batch.take() {
                    self.report.batches[b].end = at;
                }
            }
            Event::WatchStart {
                targets,
                service,
                interval_ms,
                failures,
                max_redeploys,
            } => {
                let mut what = format!(
                    "{} every {:.1} s",
                    targets.join(", "),
                    *interval_ms as f64 / 1000.0
                );
                if let Some(url) = service {
                    what.push_str(&format!(" and the service at {url}"));
                }
                what.push_str(&format!(
                    "; critical after {failures} failed checks, at most {max_redeploys} redeploys per host"
                ));
                self.report.watch = Some(what);
                targets.iter().for_each(|h| self.row(h));
            }
            Event::TaskStart { section, handler, .. } => self.part = Some(Part::of(*section, *handler)),
            Event::HostStart { host, .. } => {
                let bar = self.bar(host, at);
                bar.start = bar.start.min(at);
            }
            Event::HostResult(result) => self.host_result(at, epoch_ms, result),
            // The runner reports a server's state again and again (`back` after every
            // rotation task, `out` confirmed after `may_be_out`): a span opens at the first
            // sign it may be out, and a line marks each confirmed move, once.
            Event::Rotation { server, state } => {
                let key = (server.host.clone(), server.server.clone());
                match state {
                    RotationState::MayBeOut => self.take_out(&server.host, &server.server, at),
                    RotationState::Out => {
                        self.take_out(&server.host, &server.server, at);
                        if self.confirmed_out.insert(key) {
                            self.moment(at, &server.server, &server.host, true);
                        }
                    }
                    RotationState::Back => {
                        self.put_back(&server.host, &server.server, at);
                        if self.confirmed_out.remove(&key) {
                            self.moment(at, &server.server, &server.host, false);
                        }
                    }
                }
            }
            // The watch's own rotation also reports `Rotation` events for the same server
            // (with its backend name): a `WatchRotation` only draws what they did not.
            Event::WatchRotation { host, action, .. } => {
                let confirmed = self.confirmed_out.iter().any(|(h, _)| h == host);
                match action.as_str() {
                    "out" | "already_out" => {
                        if !self.open_out.keys().any(|(h, _)| h == host) {
                            self.take_out(host, host, at);
                        }
                        if action == "out" && !confirmed {
                            self.confirmed_out.insert((host.clone(), host.clone()));
                            self.moment(at, host, host, true);
                        }
                    }
                    "back" => {
                        let open: Vec<String> = (self.open_out.keys())
                            .filter(|(h, _)| h == host)
                            .map(|(_, server)| server.clone())
                            .collect();
                        open.iter().for_each(|server| self.put_back(host, server, at));
                        if confirmed {
                            self.confirmed_out.retain(|(h, _)| h != host);
                            self.moment(at, host, host, false);
                        }
                    }
                    _ => {}
                }
            }
            Event::HealthState {
                target, to, reason, ..
            } if matches!(to, HealthState::Critical | HealthState::GivenUp) => {
                r.health_marks.push(HealthMark {
                    target: target.clone(),
                    at,
                    state: to.as_str().to_owned(),
                    reason: reason.clone(),
                })
            }
            Event::HealEnd {
                target,
                hosts,
                outcome,
                took_ms,
                detail,
                ..
            } => {
                let hosts = if !hosts.is_empty() {
                    hosts.clone()
                } else if r.hosts.contains(target) {
                    vec![target.clone()]
                } else {
                    r.hosts.clone()
                };
                hosts.iter().for_each(|h| self.row(h));
                self.report.redeploys.push(Redeploy {
                    target: target.clone(),
                    hosts,
                    start: at.saturating_sub(*took_ms),
                    end: at,
                    outcome: outcome.clone(),
                    detail: detail.clone(),
                });
            }
            Event::ProbeSample(s) => self.raw_samples.push((at, s.clone())),
            Event::Probe(p) => r.probe = Some(p.clone()),
            Event::Recap { hosts, .. } => {
                r.recap = hosts.iter().map(|(h, s)| (h.clone(), *s)).collect();
            }
            Event::OutOfRotation { servers } => r.out_of_rotation = servers.clone(),
            Event::Warning { message } => {
                r.journal_alone |= message == crate::commands::report::JOURNAL_ALONE;
                r.warnings.push(message.clone());
            }
            Event::NoMoreHosts { reason } => r.warnings.push(reason.clone()),
            Event::Interrupted {
                stopped, not_started, ..
            } => r.warnings.push(format!(
                "interrupted: stopped half way: {}; never started: {}",
                list_or_none(stopped),
                list_or_none(not_started)
            )),
            // Preflight found hosts it cannot use: the run stopped before any batch.
            Event::PreflightFailed {
                unreachable,
                problems,
            } => {
                let unreachable = unreachable.iter().map(|(h, why)| (h, why, true));
                let problems = problems.iter().map(|p| (&p.host, &p.message, false));
                for (host, why, unreachable) in unreachable.chain(problems) {
                    r.failures.push(Failure {
                        host: host.clone(),
                        task: "preflight".to_owned(),
                        at,
                        unreachable,
                        message: why.clone(),
                    });
                }
            }
            Event::RunEnd { exit_code } => r.exit_code = Some(*exit_code),
            _ => {}
        }
    }

    fn row(&mut self, host: &str) {
        if !self.report.hosts.iter().any(|h| h == host) {
            self.report.hosts.push(host.to_owned());
        }
    }

    /// The bar of `host` in the running batch and part, opened at `at` if new.
    fn bar(&mut self, host: &str, at: u64) -> &mut Bar {
        let part = self.part.unwrap_or(Part::Tasks);
        let key = (host.to_owned(), self.batch, part);
        let bars = &mut self.report.bars;
        let i = *self.bar_of.entry(key).or_insert_with(|| {
            bars.push(Bar {
                host: host.to_owned(),
                batch: self.batch,
                part,
                start: at,
                end: at,
                tasks: Vec::new(),
            });
            bars.len() - 1
        });
        &mut bars[i]
    }

    fn host_result(&mut self, at: u64, epoch_ms: u64, r: &crate::events::HostResult) {
        // Per-item results are summed up by the whole-task result that follows them.
        if r.item.is_some() {
            return;
        }
        if matches!(r.status, Status::Ok | Status::Changed) {
            let host = r.delegate.as_deref().unwrap_or(&r.host);
            let when = epoch_utc(epoch_ms);
            if let Some(record) = SwitchRecord::from_result(host, &r.result, &when) {
                self.report.live_color = Some(record.to.clone());
                self.report.switches.push(Switch { record, at_ms: at });
            }
        }
        if (r.status == Status::Failed && !r.ignored) || r.status == Status::Unreachable {
            self.report.failures.push(Failure {
                host: r.host.clone(),
                task: r.task.clone(),
                at,
                unreachable: r.status == Status::Unreachable,
                message: failure_message(&r.result),
            });
        }
        // A result that came with no HostStart (run_once, a task run through Ansible)
        // counts from when its task began.
        self.row(&r.host);
        let bar = self.bar(&r.host, at.saturating_sub(r.duration_ms));
        bar.start = bar.start.min(at.saturating_sub(r.duration_ms));
        bar.end = bar.end.max(at);
        bar.tasks.push(TaskTime {
            name: r.task.clone(),
            ms: r.duration_ms,
            status: r.status,
        });
    }

    fn take_out(&mut self, host: &str, server: &str, at: u64) {
        self.row(host);
        let key = (host.to_owned(), server.to_owned());
        if self.open_out.contains_key(&key) {
            return;
        }
        self.report.out_spans.push(OutSpan {
            host: host.to_owned(),
            server: server.to_owned(),
            start: at,
            end: self.report.duration_ms,
            still_out: true,
        });
        self.open_out.insert(key, self.report.out_spans.len() - 1);
    }

    fn put_back(&mut self, host: &str, server: &str, at: u64) {
        if let Some(i) = self.open_out.remove(&(host.to_owned(), server.to_owned())) {
            let span = &mut self.report.out_spans[i];
            span.end = at.max(span.start);
            span.still_out = false;
        }
    }

    fn moment(&mut self, at: u64, server: &str, host: &str, leave: bool) {
        self.report.lb_moments.push(LbMoment {
            at,
            server: server.to_owned(),
            host: host.to_owned(),
            leave,
        });
    }

    fn finish(mut self) -> Report {
        let (samples, seconds) = samples::place_samples(&self.raw_samples, self.report.duration_ms);
        self.report.samples = samples;
        self.report.sample_seconds = seconds;
        self.report
    }
}

/// The failure's message: `msg`, else `stderr`, cut to 300 characters; a censored result
/// says only that it was censored.
pub fn failure_message(result: &Value) -> String {
    let text = |key: &str| match result.get(key) {
        Some(Value::String(s)) if !s.trim().is_empty() => Some(s.trim().to_owned()),
        Some(Value::Null) | None => None,
        Some(Value::String(_)) => None,
        Some(other) => Some(other.to_string()),
    };
    let message = text("censored")
        .or_else(|| text("msg"))
        .or_else(|| text("stderr"))
        .unwrap_or_else(|| "(no message)".to_owned());
    match message.char_indices().nth(MAX_MESSAGE) {
        Some((cut, _)) => format!("{}…", &message[..cut]),
        None => message,
    }
}

fn list_or_none(hosts: &[String]) -> String {
    if hosts.is_empty() {
        "none".to_owned()
    } else {
        hosts.join(", ")
    }
}

/// RFC 3339 UTC of epoch milliseconds.
pub fn epoch_utc(epoch_ms: u64) -> String {
    crate::journal::utc_timestamp(std::time::UNIX_EPOCH + std::time::Duration::from_millis(epoch_ms))
}
