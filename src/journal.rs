//! The journal of a rollout: which batches finished and how, so that `zdd apply --resume`
//! can start from the first unfinished batch and `zdd status` can say where things stand.
//!
//! It is a JSON file (`.zdd/journal/<playbook>-<inventory>.json` by default), rewritten
//! atomically (a temporary file renamed over it) when a batch starts and ends: a crash or a
//! full disk leaves the previous version, never half of one. `JournalReporter` writes it
//! from the runner's events; `plan_resume` decides, purely, what a resumed run skips.
//! Each run also records its inputs and color switches, and carries the runs before it
//! (`inputs`), from which `rollback::plan_rollback` decides what `zdd rollback` re-runs.

use crate::error::{Diagnostic, Error};
use crate::vars::VarMap;
use indexmap::IndexMap;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::{HashMap, HashSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// The journal format's version; a journal of another version is not resumed from.
pub const FORMAT: u32 = 1;

/// Where `zdd apply` keeps the journal when `--journal` is not given (relative to the
/// current directory).
pub const DEFAULT_DIR: &str = ".zdd/journal";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Journal {
    pub format: u32,
    #[serde(flatten)]
    pub identity: Identity,
    /// The zdd process that wrote it.
    pub pid: u32,
    pub started: String,
    pub updated: String,
    pub finished: Option<String>,
    pub state: RunState,
    pub exit_code: Option<i32>,
    /// Why the run stopped when no host's failure says it: an unreachable host in
    /// preflight, the probe's failure budget, ...
    pub error: Option<String>,
    /// When the run this one resumed had started.
    pub resumed_from: Option<String>,
    /// The rollout plan the run follows (hosts and batches of each play).
    pub plan: Vec<PlannedPlay>,
    /// The seed of `order: shuffle`, so that a resumed run draws the same order.
    #[serde(default)]
    pub shuffle_seed: Option<u64>,
    /// The batch running when the journal was last written, if any.
    pub in_flight: Option<InFlight>,
    /// Finished batches, in the order they finished; those a resumed run skipped first.
    pub batches: Vec<BatchRecord>,
    /// Servers the run took out of a load balancer and had not seen back, each as last
    /// known: recorded before the command that takes it out is sent, so that a run killed
    /// at any point leaves word of what may be out.
    #[serde(default)]
    pub out_of_rotation: Vec<RotationRecord>,
    /// What the run was given (`zdd rollback` replays it); `None` in journals of an older zdd.
    #[serde(default)]
    pub inputs: Option<RunInputs>,
    /// The upstreams `nginx_upstream` tasks of the run switched to another color.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub switches: Vec<SwitchRecord>,
    /// The earlier runs of this journal, oldest first (at most `inputs::HISTORY`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub history: Vec<RunRecord>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RotationRecord {
    #[serde(flatten)]
    pub server: crate::events::OutOfRotation,
    pub state: crate::events::RotationState,
}

/// What makes two runs the same rollout.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    pub playbook: PathBuf,
    /// The inventory sources, as `inventory::identify` records them.
    #[serde(with = "inventory", default)]
    pub inventory: Vec<String>,
    /// SHA-256 of the playbook file's bytes.
    pub playbook_sha256: String,
    /// SHA-256 of the `-e` variables, as merged.
    pub extra_vars_sha256: String,
    pub limit: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunState {
    /// Still running, or killed without a chance to say so.
    Running,
    Completed,
    Failed,
    Interrupted,
}

/// A play of the rollout plan, as the journal records it.
pub use crate::plan::PlayRollout as PlannedPlay;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InFlight {
    pub play_index: usize,
    pub play: String,
    pub batch: usize,
    pub batches: usize,
    pub hosts: Vec<String>,
    pub started: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BatchRecord {
    /// 1-based position of the play in the playbook.
    pub play_index: usize,
    pub play: String,
    /// 1-based, of `batches`.
    pub batch: usize,
    pub batches: usize,
    /// Every host of the batch, in batch order, with how it ended.
    pub hosts: IndexMap<String, HostRecord>,
    pub started: String,
    pub finished: String,
    pub duration_ms: u64,
    /// A second signal stopped it before it finished.
    pub interrupted: bool,
    /// Why the run stopped after this batch (`every host of the batch failed`, ...).
    pub note: Option<String>,
    /// Set when a resumed run skipped this batch: when the run that completed it started.
    pub earlier_run: Option<String>,
    /// Handlers, by name, each host was notified of but did not run: `--resume` runs them.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub pending_handlers: IndexMap<String, Vec<String>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostRecord {
    pub outcome: HostOutcome,
    /// The task that failed, and its message (for failed and unreachable hosts).
    pub task: Option<String>,
    pub msg: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HostOutcome {
    Completed,
    Failed,
    Unreachable,
    /// Stopped by a second signal before it finished the batch.
    Interrupted,
}

impl BatchRecord {
    /// Every host finished the batch: a resumed run may skip it.
    pub fn completed(&self) -> bool {
        !self.interrupted
            && !self.hosts.is_empty()
            && self.hosts.values().all(|h| h.outcome == HostOutcome::Completed)
    }

    /// How the runner recognises it (`RunOptions::skip_batches`).
    pub fn key(&self) -> (usize, Vec<String>) {
        (self.play_index, self.hosts.keys().cloned().collect())
    }
}

impl Identity {
    /// The identity of a run of `playbook` (read here, to hash it) over `inventory`.
    pub fn of(
        playbook: &Path,
        inventory: &[String],
        extra_vars: &VarMap,
        limit: Option<&str>,
    ) -> Result<Identity, Error> {
        let bytes = std::fs::read(playbook).map_err(|e| {
            Error::invalid(Diagnostic::new(format!(
                "cannot read {}: {e}",
                playbook.display()
            )))
        })?;
        let vars = serde_json::to_vec(extra_vars).unwrap_or_default();
        Ok(Identity {
            playbook: absolute(playbook),
            inventory: inventory::identify(inventory),
            playbook_sha256: sha256_hex(&bytes),
            extra_vars_sha256: sha256_hex(&vars),
            limit: limit.map(str::to_owned),
        })
    }

    /// What differs between this run and `earlier`, in words; empty when they are the same
    /// rollout.
    pub fn differences(&self, earlier: &Identity) -> Vec<String> {
        let mut out = Vec::new();
        if self.playbook != earlier.playbook {
            out.push(format!(
                "the playbook is {}, the journal's run was of {}",
                self.playbook.display(),
                earlier.playbook.display()
            ));
        } else if self.playbook_sha256 != earlier.playbook_sha256 {
            out.push(format!("{} changed since that run", self.playbook.display()));
        }
        if self.inventory != earlier.inventory {
            let show = |sources: &[String]| {
                if sources.is_empty() {
                    "none".to_owned()
                } else {
                    sources.join(", ")
                }
            };
            out.push(format!(
                "the inventory is {}, the journal's run used {}",
                show(&self.inventory),
                show(&earlier.inventory)
            ));
        }
        if self.extra_vars_sha256 != earlier.extra_vars_sha256 {
            out.push("the extra variables (-e) differ from that run's".into());
        }
        if self.limit != earlier.limit {
            out.push(format!(
                "--limit is {}, that run's was {}",
                self.limit.as_deref().unwrap_or("not set"),
                earlier.limit.as_deref().unwrap_or("not set")
            ));
        }
        out
    }
}

/// `.zdd/journal/<playbook stem>-<inventory stem>.json`; several inventory sources give
/// their stems joined with `+` (`site-hosts+extra.json`).
pub fn default_path(playbook: &Path, inventory: &[String]) -> PathBuf {
    let playbook = playbook
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "playbook".into());
    let inventory = inventory::stem(inventory);
    Path::new(DEFAULT_DIR).join(format!("{playbook}-{inventory}.json"))
}

/// The events file beside the journal at `path` (`X.json` -> `X.events.ndjson`): every
/// event of the journal's last run, one `--output json` line each, for `zdd report`.
pub fn events_path(path: &Path) -> PathBuf {
    path.with_extension("events.ndjson")
}

impl Journal {
    /// The journal at `path`; `None` when there is none.
    pub fn load(path: &Path) -> Result<Option<Journal>, Error> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => {
                return Err(Error::invalid(Diagnostic::new(format!(
                    "cannot read the journal {}: {e}",
                    path.display()
                ))))
            }
        };
        let journal: Journal = serde_json::from_str(&text).map_err(|e| {
            Error::invalid(
                Diagnostic::new(format!("{} is not a zdd journal: {e}", path.display()))
                    .hint("remove it, or run without --resume to start over"),
            )
        })?;
        if journal.format != FORMAT {
            return Err(Error::invalid(Diagnostic::new(format!(
                "{} is a journal of format {}, this zdd writes format {FORMAT}",
                path.display(),
                journal.format
            ))));
        }
        Ok(Some(journal))
    }

    /// Write to `path` atomically: a temporary file in the same directory, synced, then
    /// renamed over the old one.
    pub fn save(&self, path: &Path) -> std::io::Result<()> {
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        };
        std::fs::create_dir_all(dir)?;
        let mut tmp = tempfile::Builder::new()
            .prefix(".zdd-journal-")
            .suffix(".tmp")
            .tempfile_in(dir)?;
        let text = serde_json::to_string_pretty(self).map_err(std::io::Error::other)?;
        tmp.write_all(text.as_bytes())?;
        tmp.write_all(b"\n")?;
        tmp.as_file().sync_all()?;
        tmp.persist(path).map_err(|e| e.error)?;
        Ok(())
    }

    /// This run, as the next run's history keeps it.
    pub fn record(&self) -> RunRecord {
        RunRecord {
            started: self.started.clone(),
            finished: self.finished.clone(),
            state: self.state,
            exit_code: self.exit_code,
            playbook_sha256: self.identity.playbook_sha256.clone(),
            inputs: self.inputs.clone(),
            switches: self.switches.clone(),
            pid: self.pid,
        }
    }

    /// Every run the journal knows, oldest first, this one last.
    pub fn runs(&self) -> Vec<RunRecord> {
        let mut runs = self.history.clone();
        runs.push(self.record());
        runs
    }

    /// The history the next run of this journal carries: these runs, the oldest dropped
    /// beyond `inputs::HISTORY`.
    pub fn history_for_next(&self) -> Vec<RunRecord> {
        let runs = self.runs();
        let skip = runs.len().saturating_sub(inputs::HISTORY);
        runs.into_iter().skip(skip).collect()
    }

    /// The batches a resumed run skips: those that completed.
    pub fn completed_batches(&self) -> impl Iterator<Item = &BatchRecord> {
        self.batches.iter().filter(|b| b.completed())
    }

    /// Can `--resume` continue this run? Only a run that did not complete.
    pub fn resumable(&self) -> bool {
        self.state != RunState::Completed
    }

    /// The first planned batch that did not complete: (play index, play name, batch, of,
    /// hosts).
    pub fn next_batch(&self) -> Option<(usize, &str, usize, usize, &[String])> {
        let done: HashSet<(usize, Vec<String>)> = self.completed_batches().map(BatchRecord::key).collect();
        self.plan.iter().enumerate().find_map(|(p, play)| {
            let total = play.batches.len();
            play.batches.iter().enumerate().find_map(|(b, hosts)| {
                (!done.contains(&(p + 1, hosts.clone()))).then_some((
                    p + 1,
                    play.name.as_str(),
                    b + 1,
                    total,
                    hosts.as_slice(),
                ))
            })
        })
    }
}

/// What a resumed run does.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Resume {
    /// For `RunOptions::skip_batches`.
    pub skip: HashSet<(usize, Vec<String>)>,
    /// The completed batches, carried into the new journal.
    pub carried: Vec<BatchRecord>,
    /// When the resumed run started.
    pub resumed_from: Option<String>,
    /// What to tell the user before the run.
    pub notes: Vec<String>,
    /// For `RunOptions::pending_handlers`.
    pub pending_handlers: HashMap<(usize, String), Vec<String>>,
}

/// Decide what `--resume` skips, given the last run's journal (if any). A run that
/// completed, or no journal at all, means a fresh run. A different playbook, inventory,
/// `-e` or `--limit` is refused unless `force`.
pub fn plan_resume(
    previous: Option<&Journal>,
    journal_path: &Path,
    identity: &Identity,
    force: bool,
    alive: fn(u32) -> bool,
) -> Result<Resume, Diagnostic> {
    let Some(previous) = previous else {
        return Ok(Resume {
            notes: vec![format!(
                "--resume: no journal at {}: starting from the first batch",
                journal_path.display()
            )],
            ..Resume::default()
        });
    };
    if previous.state == RunState::Running && alive(previous.pid) {
        // Never `--force`d: two runs over one fleet re-enable each other's servers.
        return Err(Diagnostic::new(format!(
            "cannot resume: the run that writes {} (zdd pid {}, started {}) is still running",
            journal_path.display(),
            previous.pid,
            previous.started
        ))
        .hint("wait for it to finish, or stop it (Ctrl-C or kill) and then resume"));
    }
    if !previous.resumable() {
        return Ok(Resume {
            notes: vec![format!(
                "--resume: the last run (started {}) completed: starting a fresh run",
                previous.started
            )],
            ..Resume::default()
        });
    }
    let mut notes = Vec::new();
    let differences = identity.differences(&previous.identity);
    if !differences.is_empty() {
        if !force {
            return Err(Diagnostic::new(format!(
                "cannot resume the run started {} (journal {}): {}",
                previous.started,
                journal_path.display(),
                differences.join("; ")
            ))
            .hint(
                "use `--resume --force` to skip the batches that run completed anyway, \
                 or run without --resume to start over",
            ));
        }
        notes.push(format!(
            "--resume --force: resuming although {}",
            differences.join("; ")
        ));
    }
    let carried: Vec<BatchRecord> = previous
        .completed_batches()
        .map(|b| BatchRecord {
            earlier_run: b.earlier_run.clone().or_else(|| Some(previous.started.clone())),
            ..b.clone()
        })
        .collect();
    let skip = carried.iter().map(BatchRecord::key).collect();
    // Batches that did not complete, in the order they ran: the last word on a host wins.
    let mut pending_handlers = HashMap::new();
    for b in previous.batches.iter().filter(|b| !b.completed()) {
        for (host, handlers) in &b.pending_handlers {
            pending_handlers.insert((b.play_index, host.clone()), handlers.clone());
        }
    }
    for ((_, host), handlers) in &pending_handlers {
        notes.push(format!(
            "--resume: {host} was notified of {} and never ran it: it runs with {host}'s batch",
            handlers.join(", ")
        ));
    }
    notes.push(match previous.next_batch() {
        Some((_, play, batch, total, hosts)) => format!(
            "--resume: continuing the run started {}: {} completed batch(es) skipped, \
             starting at play `{play}` batch {batch}/{total} ({})",
            previous.started,
            carried.len(),
            hosts.join(", ")
        ),
        None => format!(
            "--resume: continuing the run started {}: {} completed batch(es) skipped",
            previous.started,
            carried.len()
        ),
    });
    Ok(Resume {
        skip,
        carried,
        resumed_from: Some(previous.started.clone()),
        notes,
        pending_handlers,
    })
}

/// Whether a process runs (signal 0 checks it exists without touching it).
pub fn pid_alive(pid: u32) -> bool {
    i32::try_from(pid).is_ok_and(|pid| unsafe { libc::kill(pid, 0) } == 0)
}

/// SHA-256 of a file's bytes, as `Identity::playbook_sha256` holds it; `None` when it
/// cannot be read.
pub fn file_sha256(path: &Path) -> Option<String> {
    std::fs::read(path).ok().map(|bytes| sha256_hex(&bytes))
}

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// The absolute form of a path (symlinks resolved where it exists).
fn absolute(path: &Path) -> PathBuf {
    std::fs::canonicalize(path)
        .or_else(|_| std::path::absolute(path))
        .unwrap_or_else(|_| path.to_owned())
}

/// `2024-05-01T12:34:56.789Z`: RFC 3339, UTC, milliseconds.
pub fn utc_timestamp(t: SystemTime) -> String {
    let since = t.duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default();
    let secs = since.as_secs();
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (year, month, day) = civil_from_days(days as i64);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        since.subsec_millis()
    )
}

/// Milliseconds since the Unix epoch of a `utc_timestamp` (`2024-05-01T12:34:56.789Z`,
/// the fraction optional); `None` for anything else.
pub fn parse_utc_timestamp(text: &str) -> Option<u64> {
    let text = text.strip_suffix('Z')?;
    let (date, time) = text.split_once('T')?;
    let mut date = date.splitn(3, '-').map(str::parse::<i64>);
    let (year, month, day) = (date.next()?.ok()?, date.next()?.ok()?, date.next()?.ok()?);
    let (hms, fraction) = time.split_once('.').unwrap_or((time, "0"));
    let mut hms = hms.splitn(3, ':').map(str::parse::<u64>);
    let (h, m, s) = (hms.next()?.ok()?, hms.next()?.ok()?, hms.next()?.ok()?);
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || h > 23 || m > 59 || s > 60 {
        return None;
    }
    let millis: u64 = format!("{fraction:0<3}").get(..3)?.parse().ok()?;
    let days = u64::try_from(days_from_civil(year, month as u32, day as u32)).ok()?;
    Some(((days * 86_400 + h * 3600 + m * 60 + s) * 1000) + millis)
}

/// The day count since 1970-01-01 of a proleptic Gregorian date (the inverse of
/// `civil_from_days`).
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let year = year - i64::from(month <= 2);
    let era = year.div_euclid(400);
    let yoe = year.rem_euclid(400);
    let mp = i64::from((month + 9) % 12);
    let doy = (153 * mp + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The proleptic Gregorian date of a day count since 1970-01-01 (Howard Hinnant's
/// `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

pub mod inputs;
mod inventory;
pub mod rollback;
mod writer;
pub use inputs::{ExtraVarsInput, RollbackMark, RunInputs, RunRecord, SwitchRecord};
pub use writer::{JournalReporter, JournalWriter};

#[cfg(test)]
mod tests;
