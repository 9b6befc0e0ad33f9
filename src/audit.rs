//! `--audit-log FILE`: one JSON line per command a module runs on a host, for whoever has
//! to answer "what did the deploy do to web2, and when?".
//!
//! The runner hands each module an `AuditedHost`: the connection it would have used,
//! wrapped with what the line needs to say (the inventory host, the delegate, the task).
//! The `Host` trait stays as it is. Output is never logged, and a `no_log` task's command
//! is written as `<censored>`.

use crate::error::{Diagnostic, Error};
use crate::host::{CommandOutput, Host, HostError, RemoteCommand};
use crate::journal::utc_timestamp;
use async_trait::async_trait;
use serde::Serialize;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime};

/// What a `no_log` task's command reads as in the log.
pub const CENSORED: &str = "<censored>";

/// The audit file, appended to one whole line at a time.
#[derive(Debug)]
pub struct AuditLog {
    path: PathBuf,
    file: Mutex<File>,
}

/// One line of the audit log.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct AuditLine {
    /// When the command finished, UTC.
    pub time: String,
    /// The inventory host the task ran for.
    pub host: String,
    /// Where the command ran, when the task was delegated (`delegate_to`).
    pub delegate: Option<String>,
    pub task: String,
    /// The shell source run on the target, or `<censored>` for `no_log` tasks.
    pub command: String,
    /// The user the command ran as, through sudo (`become`).
    #[serde(rename = "become")]
    pub run_as: Option<String>,
    /// Bytes sent on the command's stdin (file contents travel that way; never logged).
    pub stdin_bytes: usize,
    /// The exit status; `None` when the command did not finish (see `error`).
    pub rc: Option<i32>,
    pub error: Option<String>,
    pub duration_ms: u64,
}

impl AuditLog {
    /// Open `path` for appending (created if missing, with its directory).
    pub fn open(path: &Path) -> Result<AuditLog, Error> {
        let cannot = |e: std::io::Error| {
            Error::invalid(
                Diagnostic::new(format!("cannot open the audit log {}: {e}", path.display()))
                    .hint("pass a writable file to --audit-log"),
            )
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(cannot)?;
        }
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(cannot)?;
        Ok(AuditLog {
            path: path.to_owned(),
            file: Mutex::new(file),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Append one line. A full disk must not stop a rollout halfway: the failure is
    /// reported through tracing and the run goes on.
    pub fn write(&self, line: &AuditLine) {
        let Ok(mut text) = serde_json::to_string(line) else {
            return;
        };
        text.push('\n');
        let mut file = self.file.lock().unwrap_or_else(|e| e.into_inner());
        // One write per line: with O_APPEND, lines of concurrent commands never interleave.
        if let Err(e) = file.write_all(text.as_bytes()) {
            tracing::warn!("cannot write to the audit log {}: {e}", self.path.display());
        }
    }
}

/// What the runner knows about a command that the host does not: whom it is for and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandContext {
    pub host: String,
    pub delegate: Option<String>,
    pub task: String,
    pub no_log: bool,
}

impl CommandContext {
    pub fn new(host: &str, delegate: Option<&str>, task: &str, no_log: bool) -> Self {
        CommandContext {
            host: host.to_owned(),
            delegate: delegate.map(str::to_owned),
            task: task.to_owned(),
            no_log,
        }
    }
}

/// `host`, audited when there is an audit log, and its commands marked `no_log` for a
/// `no_log` task (so that no trace shows them).
pub fn audited(log: Option<&Arc<AuditLog>>, host: Arc<dyn Host>, about: CommandContext) -> Arc<dyn Host> {
    if log.is_none() && !about.no_log {
        return host;
    }
    Arc::new(AuditedHost {
        inner: host,
        log: log.cloned(),
        about,
    })
}

/// A host whose every command is written to the audit log (if there is one) and marked
/// with what the runner knows of it.
#[derive(Debug)]
pub struct AuditedHost {
    inner: Arc<dyn Host>,
    log: Option<Arc<AuditLog>>,
    about: CommandContext,
}

impl AuditedHost {
    pub fn new(inner: Arc<dyn Host>, log: Arc<AuditLog>, about: CommandContext) -> Self {
        AuditedHost {
            inner,
            log: Some(log),
            about,
        }
    }

    fn line(&self, cmd: &RemoteCommand, outcome: &Result<CommandOutput, HostError>, ms: u64) -> AuditLine {
        let about = &self.about;
        let (rc, error) = match outcome {
            Ok(out) => (Some(out.rc), None),
            Err(_) if about.no_log => (None, Some(CENSORED.to_owned())),
            Err(e) => (None, Some(crate::vault::mask(&e.to_string()).into_owned())),
        };
        AuditLine {
            time: utc_timestamp(SystemTime::now()),
            host: about.host.clone(),
            delegate: about.delegate.clone(),
            task: about.task.clone(),
            command: if about.no_log || cmd.no_log || crate::vault::reveals_str(&cmd.script) {
                CENSORED.to_owned()
            } else {
                cmd.script.clone()
            },
            run_as: cmd.run_as.as_ref().map(|b| b.user.clone()),
            stdin_bytes: cmd.stdin.as_ref().map_or(0, Vec::len),
            rc,
            error,
            duration_ms: ms,
        }
    }
}

#[async_trait]
impl Host for AuditedHost {
    fn name(&self) -> &str {
        self.inner.name()
    }

    async fn run(&self, cmd: &RemoteCommand) -> Result<CommandOutput, HostError> {
        let started = Instant::now();
        let outcome = if self.about.no_log && !cmd.no_log {
            let censored = RemoteCommand {
                no_log: true,
                ..cmd.clone()
            };
            self.inner.run(&censored).await
        } else {
            self.inner.run(cmd).await
        };
        if let Some(log) = &self.log {
            log.write(&self.line(cmd, &outcome, started.elapsed().as_millis() as u64));
        }
        outcome
    }

    async fn close(&self) {
        self.inner.close().await;
    }

    async fn hold(&self, cmd: &RemoteCommand) -> Result<(String, crate::host::Held), HostError> {
        self.inner.hold(cmd).await
    }

    /// Not a command: no line. The commands before and after it (a reboot's, the checks
    /// that find the host back) are logged as any other.
    async fn reconnect(&self, connect_timeout: Option<u32>) -> Result<(), HostError> {
        self.inner.reconnect(connect_timeout).await
    }

    fn rsync_shell(&self) -> Option<crate::host::RsyncShell> {
        self.inner.rsync_shell()
    }

    fn is_local(&self) -> bool {
        self.inner.is_local()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::local::LocalHost;
    use crate::host::Become;

    fn lines(path: &Path) -> Vec<AuditLine> {
        std::fs::read_to_string(path)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    #[tokio::test]
    async fn one_line_per_command_with_host_delegate_task_and_rc() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("logs/audit.jsonl");
        let log = Arc::new(AuditLog::open(&path).unwrap());
        let about = CommandContext::new("web1", Some("lb"), "Disable server", false);
        let host = AuditedHost::new(Arc::new(LocalHost::new("lb")), log.clone(), about);
        host.run(&RemoteCommand::new("echo hi")).await.unwrap();
        let out = host
            .run(&RemoteCommand::new("exit 3").stdin(b"secret".to_vec()))
            .await
            .unwrap();
        assert_eq!(out.rc, 3);
        let got = lines(&path);
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].host, "web1");
        assert_eq!(got[0].delegate.as_deref(), Some("lb"));
        assert_eq!(got[0].task, "Disable server");
        assert_eq!(got[0].command, "echo hi");
        assert_eq!(got[0].rc, Some(0));
        assert_eq!(got[1].rc, Some(3));
        assert_eq!(got[1].stdin_bytes, 6);
        assert!(got[1].time.ends_with('Z'), "{}", got[1].time);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(!text.contains("secret") && !text.contains("hi\\n"), "{text}");
    }

    #[tokio::test]
    async fn no_log_censors_the_command() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.jsonl");
        let log = Arc::new(AuditLog::open(&path).unwrap());
        let about = CommandContext::new("web1", None, "Set password", true);
        let host = AuditedHost::new(Arc::new(LocalHost::new("web1")), log, about);
        let cmd = RemoteCommand::new("echo hunter2").run_as(Some(Become::sudo("root")));
        // sudo may or may not work here; the line is written either way.
        let _ = host.run(&cmd).await;
        let got = lines(&path);
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].command, CENSORED);
        assert_eq!(got[0].run_as.as_deref(), Some("root"));
        assert!(!std::fs::read_to_string(&path).unwrap().contains("hunter2"));
    }

    #[test]
    fn an_unwritable_path_is_invalid_input() {
        let err = AuditLog::open(Path::new("/proc/zdd-audit/x.jsonl")).unwrap_err();
        assert_eq!(err.exit_code(), crate::error::exit::INVALID);
    }
}
