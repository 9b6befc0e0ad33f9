//! The local machine as a host (`ansible_connection=local`, `delegate_to: localhost`).

use super::{
    command_line, is_sudo_refusal, stdin_payload, trace_text, CommandOutput, Host, HostError, RemoteCommand,
};
use async_trait::async_trait;
use std::process::Stdio;
use tokio::io::AsyncWriteExt;
use tokio::process::Command;

#[derive(Debug)]
pub struct LocalHost {
    name: String,
}

impl LocalHost {
    pub fn new(name: impl Into<String>) -> Self {
        LocalHost { name: name.into() }
    }
}

#[async_trait]
impl Host for LocalHost {
    fn name(&self) -> &str {
        &self.name
    }

    async fn run(&self, cmd: &RemoteCommand) -> Result<CommandOutput, HostError> {
        let line = command_line(cmd);
        tracing::debug!(target: "zdd::cmd", "<{}> EXEC {}", self.name, trace_text(cmd));
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(line)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| HostError::Unreachable(format!("cannot start sh: {e}")))?;
        if let Some(mut stdin) = child.stdin.take() {
            let data = stdin_payload(cmd);
            // Feed stdin concurrently so a command that does not read it cannot block us.
            tokio::spawn(async move {
                let _ = stdin.write_all(&data).await;
            });
        }
        let wait = child.wait_with_output();
        let output = match cmd.timeout {
            Some(limit) => tokio::time::timeout(limit, wait)
                .await
                .map_err(|_| HostError::Timeout(limit))?,
            None => wait.await,
        }
        .map_err(|e| HostError::Unreachable(format!("local command failed: {e}")))?;
        let out = CommandOutput {
            rc: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        };
        if cmd.run_as.is_some() && out.rc != 0 && is_sudo_refusal(&out.stderr) {
            return Err(HostError::Become(out.stderr.trim().to_owned()));
        }
        Ok(out)
    }

    async fn close(&self) {}

    fn is_local(&self) -> bool {
        true
    }

    /// Plain local paths: rsync without `--rsh`.
    fn rsync_shell(&self) -> Option<super::RsyncShell> {
        Some(super::RsyncShell {
            rsh: None,
            host: None,
        })
    }

    async fn hold(&self, cmd: &RemoteCommand) -> Result<(String, super::Held), HostError> {
        let mut command = Command::new("sh");
        command.arg("-c").arg(command_line(cmd));
        super::hold_process(command, cmd).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn runs_shell_with_stdin_and_reports_rc() {
        let host = LocalHost::new("localhost");
        let out = host
            .run(&RemoteCommand::new("cat; echo err >&2; exit 3").stdin(b"hello".to_vec()))
            .await
            .unwrap();
        assert_eq!(
            out,
            CommandOutput {
                rc: 3,
                stdout: "hello".into(),
                stderr: "err\n".into()
            }
        );
    }

    #[tokio::test]
    async fn timeout_is_reported() {
        let host = LocalHost::new("localhost");
        let mut cmd = RemoteCommand::new("sleep 5");
        cmd.timeout = Some(Duration::from_millis(100));
        assert!(matches!(host.run(&cmd).await, Err(HostError::Timeout(_))));
    }
}
