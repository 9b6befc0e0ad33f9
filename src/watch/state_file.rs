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

impl WatchState {
    /// The WATCH section of `zdd status`: the running watch and its targets' last checks,
    /// or how the last one ended; either way, the servers it left out of rotation with the
    /// commands that put them back.
    pub fn render_status(&self, alive: bool) -> String {
        use std::fmt::Write;
        let mut out = String::from("WATCH\n");
        let hosts = self.targets.iter().filter(|t| t.target != "service").count();
        let service = if self.targets.iter().any(|t| t.target == "service") {
            " and the service"
        } else {
            ""
        };
        let every = super::check::human_duration(std::time::Duration::from_millis(self.interval_ms));
        match (&self.ended, alive) {
            (None, true) => {
                let _ = writeln!(
                    out,
                    "watching {hosts} host{}{service} every {every} since {} (pid {}), critical after {} failed checks",
                    if hosts == 1 { "" } else { "s" },
                    self.started,
                    self.pid,
                    self.failures
                );
            }
            (Some(ended), _) => {
                let _ = writeln!(
                    out,
                    "the last watch (pid {}, since {}) ended at {} with exit code {}",
                    self.pid, self.started, ended.at, ended.exit_code
                );
            }
            (None, false) => {
                let last = self
                    .targets
                    .iter()
                    .filter_map(|t| t.last_check.as_ref().map(|c| c.at.as_str()))
                    .max()
                    .unwrap_or(self.started.as_str());
                let _ = writeln!(
                    out,
                    "the last watch (pid {}, since {}) was killed: it is gone without ending; its last check was at {last}",
                    self.pid, self.started
                );
            }
        }
        for t in &self.targets {
            let _ = match &t.last_check {
                Some(c) => writeln!(
                    out,
                    "  {}: {}, last check {} {}: {}",
                    t.target,
                    t.state,
                    c.at,
                    if c.ok { "ok" } else { "failed" },
                    c.detail
                ),
                None => writeln!(out, "  {}: {}", t.target, t.state),
            };
        }
        for r in &self.redeploys {
            let code = r.exit_code.map_or("running".to_owned(), |c| format!("exit {c}"));
            let hosts = if r.hosts.is_empty() {
                "every host".to_owned()
            } else {
                r.hosts.join(", ")
            };
            let _ = writeln!(out, "  redeploy {}: {hosts}, {code} ({})", r.at, r.outcome);
        }
        if !self.out_of_rotation.is_empty() {
            let _ = writeln!(
                out,
                "left out of rotation by the watch{}:",
                if alive && self.ended.is_none() {
                    ""
                } else {
                    " (nobody will put it back)"
                }
            );
            for s in &self.out_of_rotation {
                let _ = writeln!(
                    out,
                    "  {}: {} is disabled on {}; to put it back, run there:\n    {}",
                    s.host, s.server, s.load_balancer, s.command
                );
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> WatchState {
        let mut state = WatchState {
            pid: 42,
            started: "2026-11-30T22:00:00Z".into(),
            interval_ms: 1000,
            failures: 2,
            ..Default::default()
        };
        state.target("web1").last_check = Some(LastCheck {
            at: "2026-11-30T22:00:05Z".into(),
            ok: false,
            detail: "connection refused".into(),
        });
        state.target("web1").state = super::super::tracker::HealthState::Healing;
        state.target("service").last_check = Some(LastCheck {
            at: "2026-11-30T22:00:05Z".into(),
            ok: true,
            detail: "HTTP 200 in 2 ms".into(),
        });
        state.redeploys.push(Redeploy {
            at: "2026-11-30T22:00:06Z".into(),
            hosts: vec!["web1".into()],
            exit_code: None,
            outcome: "running".into(),
        });
        state.out_of_rotation.push(OutOfRotation {
            server: "loadbalancer/web1".into(),
            host: "web1".into(),
            load_balancer: "lb".into(),
            command: "echo \"enable server loadbalancer/web1\" | socat stdio /x.sock".into(),
        });
        state
    }

    #[test]
    fn status_shows_a_running_watch_and_what_a_killed_one_left_out() {
        let state = sample();
        assert_eq!(
            state.render_status(true),
            "WATCH
watching 1 host and the service every 1s since 2026-11-30T22:00:00Z (pid 42), critical after 2 failed checks
  web1: healing, last check 2026-11-30T22:00:05Z failed: connection refused
  service: healthy, last check 2026-11-30T22:00:05Z ok: HTTP 200 in 2 ms
  redeploy 2026-11-30T22:00:06Z: web1, running (running)
left out of rotation by the watch:
  web1: loadbalancer/web1 is disabled on lb; to put it back, run there:
    echo \"enable server loadbalancer/web1\" | socat stdio /x.sock
"
        );
        let dead = state.render_status(false);
        assert!(
            dead.contains("the last watch (pid 42, since 2026-11-30T22:00:00Z) was killed: it is gone without ending; its last check was at 2026-11-30T22:00:05Z"),
            "{dead}"
        );
        assert!(
            dead.contains("left out of rotation by the watch (nobody will put it back):"),
            "{dead}"
        );
    }

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
        // Every part of the file: targets, redeploys, what is out of rotation.
        let state = sample();
        state.save(&path).unwrap();
        assert_eq!(WatchState::load(&path), Some(state));
        assert_eq!(
            std::fs::read_dir(path.parent().unwrap()).unwrap().count(),
            1,
            "no temporary file left"
        );
    }
}
