//! `async`/`poll`: a command started in the background on the target, its output kept in
//! `~/.zdd_async/JOB/` (mode 0700, as the user it runs as), so that zdd can poll it
//! (`poll` > 0), or leave it and look later with `async_status` (`poll: 0`). The job is
//! ended after `async` seconds by `timeout(1)` where the target has it, as Ansible's
//! async wrapper ends it.

use super::{sh_script, CommandOutput, Held, Host, HostError, RemoteCommand};
use async_trait::async_trait;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Start the job: the script and its input follow this launcher on standard input.
const LAUNCH: &str = r#"d="$HOME/.zdd_async/$zdd_jid"
umask 077
mkdir -p "$d" || exit 1
head -c "$zdd_len" > "$d/script" && cat > "$d/stdin" || exit 1
(
  trap '' HUP
  if command -v timeout >/dev/null 2>&1; then
    timeout "$zdd_limit" sh "$d/script" < "$d/stdin" > "$d/stdout" 2> "$d/stderr"
  else
    sh "$d/script" < "$d/stdin" > "$d/stdout" 2> "$d/stderr"
  fi
  rc=$?
  [ "$rc" -eq 124 ] && : > "$d/timedout"
  echo "$rc" > "$d/rc.tmp" && mv "$d/rc.tmp" "$d/rc"
) < /dev/null > /dev/null 2>&1 &
echo "$d"
"#;

/// Where the job stands: `missing`, `running`, `timedout`, or `done RC`.
const STATUS: &str = r#"d="$HOME/.zdd_async/$zdd_jid"
if [ ! -d "$d" ]; then echo missing
elif [ -f "$d/timedout" ]; then echo timedout
elif [ -f "$d/rc" ]; then echo "done $(cat "$d/rc")"
else echo running
fi
"#;

/// A job as `async_status` and the poller see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobState {
    Missing,
    Running,
    TimedOut,
    Done(CommandOutput),
}

fn script(body: &str, jid: &str) -> RemoteCommand {
    RemoteCommand::new(sh_script(&[("zdd_jid", jid)], body))
}

/// A job id as Ansible shapes them (`j` and digits, a dot, more digits).
pub fn new_job_id() -> String {
    let n = crate::modules::args::nonce();
    format!("j{}.{}", n % 1_000_000_000_000, std::process::id())
}

/// The state of job `jid` on `host` (as `run_as`): its output once it is done.
pub async fn job_state(
    host: &dyn Host,
    jid: &str,
    run_as: Option<&super::Become>,
) -> Result<JobState, HostError> {
    let out = host.run(&script(STATUS, jid).run_as(run_as.cloned())).await?;
    let line = out.stdout.trim();
    Ok(match line.split_once(' ') {
        _ if line == "missing" => JobState::Missing,
        _ if line == "running" => JobState::Running,
        _ if line == "timedout" => JobState::TimedOut,
        Some(("done", rc)) => {
            let read = |file: &str| {
                script(&format!("cat \"$HOME/.zdd_async/$zdd_jid/{file}\"\n"), jid).run_as(run_as.cloned())
            };
            let stdout = host.run(&read("stdout")).await?.stdout;
            let stderr = host.run(&read("stderr")).await?.stdout;
            JobState::Done(CommandOutput {
                rc: rc.trim().parse().unwrap_or(-1),
                stdout,
                stderr,
            })
        }
        _ => {
            return Err(HostError::Unreachable(format!(
                "cannot read async job {jid}: {}",
                out.stderr.trim()
            )))
        }
    })
}

/// Remove job `jid`'s directory (`async_status` `mode: cleanup`, and after a poll).
pub async fn clean_job(host: &dyn Host, jid: &str, run_as: Option<&super::Become>) -> Result<(), HostError> {
    let rm = script("rm -rf \"$HOME/.zdd_async/$zdd_jid\"\n", jid).run_as(run_as.cloned());
    host.run(&rm).await.map(|_| ())
}

/// How a task runs in the background.
#[derive(Debug, Clone, Copy)]
pub struct Async {
    /// `async`: the job's time limit.
    pub limit: u64,
    /// `poll`: seconds between looks; 0 starts the job and returns at once.
    pub poll: u64,
}

/// The job a background host started last, for the task's result.
#[derive(Debug, Clone, Default)]
pub struct Started {
    pub jid: String,
    pub results_file: String,
}

/// `host`, each command run as a background job and polled to its end (or started and
/// left, with `poll: 0`). `started` tells the runner the job's id.
pub fn in_background(host: Arc<dyn Host>, how: Async, started: Arc<Mutex<Option<Started>>>) -> Arc<dyn Host> {
    Arc::new(BackgroundHost {
        inner: host,
        how,
        started,
    })
}

#[derive(Debug)]
struct BackgroundHost {
    inner: Arc<dyn Host>,
    how: Async,
    started: Arc<Mutex<Option<Started>>>,
}

#[async_trait]
impl Host for BackgroundHost {
    fn name(&self) -> &str {
        self.inner.name()
    }

    async fn run(&self, cmd: &RemoteCommand) -> Result<CommandOutput, HostError> {
        let jid = new_job_id();
        let limit = self.how.limit.to_string();
        let len = cmd.script.len().to_string();
        let launcher = sh_script(
            &[("zdd_jid", &jid), ("zdd_limit", &limit), ("zdd_len", &len)],
            LAUNCH,
        );
        let mut input = cmd.script.clone().into_bytes();
        input.extend_from_slice(cmd.stdin.as_deref().unwrap_or_default());
        let launch = RemoteCommand {
            script: launcher,
            stdin: Some(input),
            // The launcher reads the job's script on standard input.
            raw: false,
            ..cmd.clone()
        };
        let out = self.inner.run(&launch).await?;
        if out.rc != 0 {
            return Ok(out);
        }
        *self.started.lock().unwrap_or_else(|e| e.into_inner()) = Some(Started {
            jid: jid.clone(),
            results_file: out.stdout.trim().to_owned(),
        });
        if self.how.poll == 0 {
            return Ok(CommandOutput::default());
        }
        let begun = Instant::now();
        let run_as = cmd.run_as.as_ref();
        loop {
            tokio::time::sleep(Duration::from_secs(self.how.poll)).await;
            match job_state(self.inner.as_ref(), &jid, run_as).await? {
                JobState::Done(output) => {
                    clean_job(self.inner.as_ref(), &jid, run_as).await?;
                    return Ok(output);
                }
                JobState::TimedOut => return Err(HostError::Timeout(Duration::from_secs(self.how.limit))),
                JobState::Missing => {
                    return Err(HostError::Unreachable(format!(
                        "async job {jid} vanished from the host"
                    )))
                }
                // A target without timeout(1): zdd gives up after the limit.
                JobState::Running
                    if begun.elapsed() > Duration::from_secs(self.how.limit + self.how.poll) =>
                {
                    return Err(HostError::Timeout(Duration::from_secs(self.how.limit)))
                }
                JobState::Running => {}
            }
        }
    }

    async fn close(&self) {
        self.inner.close().await;
    }

    async fn hold(&self, cmd: &RemoteCommand) -> Result<(String, Held), HostError> {
        self.inner.hold(cmd).await
    }

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

    #[tokio::test]
    async fn polls_a_job_to_its_end_and_keeps_a_left_one_for_async_status() {
        let home = tempfile::tempdir().unwrap();
        // The launcher and the poller read $HOME: give them the test's.
        let home_var = [("HOME".to_owned(), home.path().display().to_string())];
        let local: Arc<dyn Host> = Arc::new(LocalHost::new("localhost"));
        let local = crate::host::env::with_environment(local, &home_var);
        let started = Arc::new(Mutex::new(None));
        let polled = in_background(local.clone(), Async { limit: 10, poll: 1 }, started.clone());
        let out = polled
            .run(&RemoteCommand::new("cat; echo err >&2; exit 3").stdin(b"in".to_vec()))
            .await
            .unwrap();
        assert_eq!(
            (out.rc, out.stdout.as_str(), out.stderr.as_str()),
            (3, "in", "err\n")
        );
        assert!(
            !home.path().join(".zdd_async").read_dir().unwrap().any(|_| true),
            "polled job cleaned"
        );
        let left = in_background(local.clone(), Async { limit: 10, poll: 0 }, started.clone());
        left.run(&RemoteCommand::new("sleep 1; echo later"))
            .await
            .unwrap();
        let jid = started.lock().unwrap().clone().unwrap().jid;
        assert_eq!(
            job_state(local.as_ref(), &jid, None).await.unwrap(),
            JobState::Running
        );
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let done = job_state(local.as_ref(), &jid, None).await.unwrap();
        assert_eq!(
            done,
            JobState::Done(CommandOutput {
                rc: 0,
                stdout: "later\n".into(),
                stderr: String::new()
            })
        );
    }
}
