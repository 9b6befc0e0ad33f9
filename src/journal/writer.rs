//! Writing the journal of the run in progress, from the runner's events.

use super::{
    utc_timestamp, BatchRecord, HostOutcome, HostRecord, Identity, InFlight, Journal, Resume, RotationRecord,
    RunInputs, RunRecord, RunState, SwitchRecord, FORMAT,
};
use crate::error::{exit, Diagnostic, Error};
use crate::events::{Event, Reporter, RotationState, RunInfo, Status};
use crate::plan::RolloutPlan;
use crate::report::json::JsonReporter;
use crate::runner::RunSummary;
use indexmap::IndexMap;
use std::collections::HashMap;
use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

/// The journal of the run in progress, written on every change, and its events file.
#[derive(Debug)]
pub struct JournalWriter {
    path: PathBuf,
    journal: Journal,
    /// `<journal stem>.events.ndjson`: this run's events as `--output json` writes them;
    /// `None` when it could not be created (a warning: the journal itself is what
    /// `--resume` needs).
    events: Option<JsonReporter<BufWriter<File>>>,
}

impl JournalWriter {
    /// Start a run's journal (with the batches a resumed run carries over, what the run
    /// was given and the earlier runs) and write it, so that an unwritable journal stops
    /// the run before any host is touched.
    pub fn begin(
        path: &Path,
        identity: Identity,
        plan: &RolloutPlan,
        resume: &Resume,
        inputs: RunInputs,
        history: Vec<RunRecord>,
    ) -> Result<JournalWriter, Error> {
        let now = utc_timestamp(SystemTime::now());
        let journal = Journal {
            format: FORMAT,
            identity,
            pid: std::process::id(),
            started: now.clone(),
            updated: now,
            finished: None,
            state: RunState::Running,
            exit_code: None,
            error: None,
            resumed_from: resume.resumed_from.clone(),
            plan: plan.plays.clone(),
            shuffle_seed: Some(plan.seed),
            in_flight: None,
            batches: resume.carried.clone(),
            out_of_rotation: Vec::new(),
            inputs: Some(inputs),
            switches: Vec::new(),
            history,
        };
        journal.save(path).map_err(|e| {
            Error::invalid(
                Diagnostic::new(format!("cannot write the journal {}: {e}", path.display()))
                    .hint("pass a writable path to --journal"),
            )
        })?;
        let mut writer = JournalWriter {
            path: path.to_owned(),
            journal,
            events: open_events_file(path),
        };
        if let Some(info) = RunInfo::this_run() {
            // Not through a sink: vault values are masked here.
            let mut event = Event::RunInfo(info);
            crate::events::hide_vault_secrets(&mut event);
            writer.record_event(&event);
        }
        Ok(writer)
    }

    /// Append one event to the events file (the sink has censored it already).
    pub fn record_event(&mut self, event: &Event) {
        if let Some(events) = &mut self.events {
            events.event(event);
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn journal(&self) -> &Journal {
        &self.journal
    }

    /// Record how the run ended: its summary, or the error that ended it, and the exit
    /// code zdd ends with (a check after the run, such as the probe's budget, may fail a
    /// run whose batches all completed).
    pub fn finish(&mut self, outcome: Result<&RunSummary, &Error>, code: i32) {
        let (state, error) = match outcome {
            Ok(summary) if summary.interrupted => (RunState::Interrupted, None),
            Ok(summary) if summary.stopped_by.is_some() => (RunState::Failed, summary.stopped_by.clone()),
            Ok(summary) if summary.exit_code() == exit::OK && code == exit::OK => (RunState::Completed, None),
            Ok(summary) if summary.exit_code() == exit::OK => (
                RunState::Failed,
                Some(format!(
                    "every batch completed, but the run ended with exit {code}"
                )),
            ),
            Ok(_) => (RunState::Failed, None),
            Err(Error::Interrupted) => (RunState::Interrupted, None),
            Err(e) => (RunState::Failed, Some(e.to_string())),
        };
        self.journal.state = state;
        self.journal.exit_code = Some(code);
        self.journal.error = error;
        self.journal.in_flight = None;
        self.journal.finished = Some(utc_timestamp(SystemTime::now()));
        self.save();
        // The caller's `RunEnd` goes to its own sink, after this run's: the events file
        // ends with the same code.
        self.record_event(&Event::RunEnd { exit_code: code });
    }

    fn save(&mut self) {
        self.journal.updated = utc_timestamp(SystemTime::now());
        if let Err(e) = self.journal.save(&self.path) {
            tracing::warn!("cannot write the journal {}: {e}", self.path.display());
        }
    }
}

/// The events file beside the journal at `path`, emptied for the run that starts.
fn open_events_file(path: &Path) -> Option<JsonReporter<BufWriter<File>>> {
    use std::os::unix::fs::OpenOptionsExt;
    let events = super::events_path(path);
    // Private, as the journal is: results are in it.
    let file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&events)
        .and_then(|file| {
            // `mode` is for a new file; one an older run left is made private too.
            use std::os::unix::fs::PermissionsExt;
            file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
            Ok(file)
        });
    match file {
        Ok(file) => Some(JsonReporter::new(BufWriter::new(file))),
        Err(e) => {
            tracing::warn!("cannot write the events file {}: {e}", events.display());
            None
        }
    }
}

/// Writes the journal from the runner's events.
pub struct JournalReporter {
    writer: Arc<Mutex<JournalWriter>>,
    /// The first failure of each host in the batch in flight: (task, message).
    failures: HashMap<String, (String, String)>,
    note: Option<String>,
    /// The run reported what it left out of rotation.
    final_rotation: bool,
}

impl JournalReporter {
    pub fn new(writer: Arc<Mutex<JournalWriter>>) -> Self {
        JournalReporter {
            writer,
            failures: HashMap::new(),
            note: None,
            final_rotation: false,
        }
    }
}

impl Reporter for JournalReporter {
    fn event(&mut self, event: &Event) {
        self.writer
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .record_event(event);
        match event {
            Event::BatchStart {
                play,
                play_index,
                index,
                total,
                hosts,
            } => {
                self.failures.clear();
                self.note = None;
                let mut writer = self.writer.lock().unwrap_or_else(|e| e.into_inner());
                writer.journal.in_flight = Some(InFlight {
                    play_index: *play_index,
                    play: play.clone(),
                    batch: *index,
                    batches: *total,
                    hosts: hosts.clone(),
                    started: utc_timestamp(SystemTime::now()),
                });
                writer.save();
            }
            Event::HostResult(r)
                if (r.status == Status::Failed && !r.ignored) || r.status == Status::Unreachable =>
            {
                self.failures
                    .entry(r.host.clone())
                    .or_insert_with(|| (r.task.clone(), failure_message(&r.result)));
            }
            Event::HostResult(r) if matches!(r.status, Status::Ok | Status::Changed) => {
                let host = r.delegate.as_deref().unwrap_or(&r.host);
                let now = utc_timestamp(SystemTime::now());
                if let Some(switch) = SwitchRecord::from_result(host, &r.result, &now) {
                    let mut writer = self.writer.lock().unwrap_or_else(|e| e.into_inner());
                    // A `--check` run reports the switch it would make, and makes none.
                    if writer.journal.inputs.as_ref().is_some_and(|i| i.check) {
                        return;
                    }
                    writer.journal.switches.push(switch);
                    writer.save();
                }
            }
            Event::NoMoreHosts { reason } => self.note = Some(reason.clone()),
            Event::Rotation { server, state } => {
                let mut writer = self.writer.lock().unwrap_or_else(|e| e.into_inner());
                let list = &mut writer.journal.out_of_rotation;
                let same = |r: &RotationRecord| {
                    r.server.server == server.server && r.server.load_balancer == server.load_balancer
                };
                list.retain(|r| !same(r));
                if *state != RotationState::Back {
                    list.push(RotationRecord {
                        server: server.clone(),
                        state: *state,
                    });
                }
                writer.save();
            }
            // The run's last word: what is out by its doing (not servers found out before it).
            Event::OutOfRotation { servers } => {
                let mut writer = self.writer.lock().unwrap_or_else(|e| e.into_inner());
                let list = &mut writer.journal.out_of_rotation;
                list.retain(|r| {
                    servers
                        .iter()
                        .any(|s| s.server == r.server.server && s.load_balancer == r.server.load_balancer)
                });
                self.final_rotation = true;
                writer.save();
            }
            Event::Recap { .. } if !self.final_rotation => {
                let mut writer = self.writer.lock().unwrap_or_else(|e| e.into_inner());
                writer.journal.out_of_rotation.clear();
                writer.save();
            }
            Event::BatchEnd {
                play,
                play_index,
                index,
                total,
                completed,
                failed,
                unreachable,
                interrupted,
                duration_ms,
                pending_handlers,
            } => {
                let mut writer = self.writer.lock().unwrap_or_else(|e| e.into_inner());
                let in_flight = writer.journal.in_flight.take();
                let order = in_flight.as_ref().map(|f| f.hosts.clone()).unwrap_or_default();
                let record = BatchRecord {
                    play_index: *play_index,
                    play: play.clone(),
                    batch: *index,
                    batches: *total,
                    hosts: self.host_records(&order, completed, failed, unreachable, *interrupted),
                    started: in_flight.map(|f| f.started).unwrap_or_default(),
                    finished: utc_timestamp(SystemTime::now()),
                    duration_ms: *duration_ms,
                    interrupted: *interrupted,
                    note: self.note.take(),
                    earlier_run: None,
                    pending_handlers: pending_handlers.clone(),
                };
                writer.journal.batches.push(record);
                writer.save();
            }
            _ => {}
        }
    }
}

impl JournalReporter {
    fn host_records(
        &self,
        order: &[String],
        completed: &[String],
        failed: &[String],
        unreachable: &[String],
        interrupted: bool,
    ) -> IndexMap<String, HostRecord> {
        let mut hosts: Vec<&String> = order.iter().collect();
        for h in completed.iter().chain(failed).chain(unreachable) {
            if !hosts.contains(&h) {
                hosts.push(h);
            }
        }
        hosts
            .into_iter()
            .map(|h| {
                let outcome = if unreachable.contains(h) {
                    HostOutcome::Unreachable
                } else if failed.contains(h) {
                    HostOutcome::Failed
                } else if interrupted {
                    HostOutcome::Interrupted
                } else if completed.contains(h) {
                    HostOutcome::Completed
                } else {
                    // Left the batch without a failure of its own: stopped by a failure rule.
                    HostOutcome::Failed
                };
                let (task, msg) = match self.failures.get(h) {
                    Some((t, m)) if outcome != HostOutcome::Completed => (Some(t.clone()), Some(m.clone())),
                    _ => (None, None),
                };
                (h.clone(), HostRecord { outcome, task, msg })
            })
            .collect()
    }
}

/// The line that says why a task failed: its `msg`, else its stderr, else its rc.
fn failure_message(result: &serde_json::Value) -> String {
    let text = |key: &str| {
        result
            .get(key)
            .and_then(|v| v.as_str())
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    };
    if result.get("censored").is_some() {
        return "the output has been hidden (no_log: true)".into();
    }
    let msg = text("msg");
    let stderr = text("stderr");
    match (msg, stderr) {
        (Some(m), Some(e)) if m == "non-zero return code" => format!("{m}: {e}"),
        (Some(m), _) => m,
        (None, Some(e)) => e,
        (None, None) => match result.get("rc") {
            Some(rc) => format!("rc={rc}"),
            None => "failed".into(),
        },
    }
}
