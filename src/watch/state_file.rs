//! The watch's state on disk, beside the journal (`<journal>.watch.json`), rewritten
//! atomically each round and at each healing step: `zdd status` reads it to show a running
//! watch, and after a `kill -9` the hosts it left out of rotation with their restore
//! commands.

use crate::events::OutOfRotation;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct WatchState {
    pub pid: u32,
    /// UTC, as the journal writes times.
    pub started: String,
    pub interval_ms: u64,
    pub failures: u32,
    pub targets: Vec<TargetState>,
    pub redeploys: Vec<Redeploy>,
    /// Servers the watch took out (or a redeploy left out) and did not put back.
    pub out_of_rotation: Vec<OutOfRotation>,
    /// Set when the watch ended on its own (`--for`, a signal, given up): when, and its
    /// exit code. A state without it whose pid is gone was killed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended: Option<Ended>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ended {
    pub at: String,
    pub exit_code: i32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TargetState {
    /// A host, or `service`.
    pub target: String,
    pub state: super::tracker::HealthState,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_check: Option<LastCheck>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LastCheck {
    pub at: String,
    pub ok: bool,
    pub detail: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Redeploy {
    pub at: String,
    pub hosts: Vec<String>,
    /// `None` while it runs.
    #[serde(default)]
    pub exit_code: Option<i32>,
    /// healed, not_healed, given_up, busy, interrupted; `running` while it runs.
    pub outcome: String,
}

/// `x.json` -> `x.watch.json`; any other name gets `.watch.json` added.
pub fn path_for(journal: &Path) -> PathBuf {
    let name = journal
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let name = match name.strip_suffix(".json") {
        Some(stem) => format!("{stem}.watch.json"),
        None => format!("{name}.watch.json"),
    };
    journal.with_file_name(name)
}

impl WatchState {
    /// Write to a temporary file beside `path`, then rename: a reader never sees half.
    pub fn save(&self, path: &Path) -> std::io::Result<()> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        let text = serde_json::to_string_pretty(self).map_err(std::io::Error::other)?;
        let tmp = path.with_extension(format!("tmp{}", std::process::id()));
        std::fs::write(&tmp, text)?;
        std::fs::rename(&tmp, path)
    }

    /// The state at `path`; `None` when there is none or it cannot be read.
    pub fn load(path: &Path) -> Option<WatchState> {
        let text = std::fs::read_to_string(path).ok()?;
        serde_json::from_str(&text).ok()
    }

    pub fn target(&mut self, name: &str) -> &mut TargetState {
        if let Some(i) = self.targets.iter().position(|t| t.target == name) {
            return &mut self.targets[i];
        }
        self.targets.push(TargetState {
            target: name.to_owned(),
            state: super::tracker::HealthState::Healthy,
            last_check: None,
        });
        self.targets.last_mut().expect("just pushed")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_state_file_sits_beside_the_journal() {
        assert_eq!(
            path_for(Path::new(".zdd/journal/site-hosts.json")),
            Path::new(".zdd/journal/site-hosts.watch.json")
        );
        assert_eq!(path_for(Path::new("/var/j")), Path::new("/var/j.watch.json"));
    }

    #[test]
    fn it_round_trips_through_an_atomic_write() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/x.watch.json");
        let mut state = WatchState {
            pid: 7,
            started: "2026-11-30T22:00:00Z".into(),
            interval_ms: 1000,
            failures: 2,
            ..Default::default()
        };
        state.target("web1").last_check = Some(LastCheck {
            at: "t".into(),
            ok: false,
            detail: "connection refused".into(),
        });
        state.target("web1").state = super::super::tracker::HealthState::Critical;
        state.save(&path).unwrap();
        assert_eq!(WatchState::load(&path), Some(state));
        assert_eq!(
            std::fs::read_dir(path.parent().unwrap()).unwrap().count(),
            1,
            "no temporary file left"
        );
    }
}
