//! `wait_for_connection`: drop zdd's connection to the host and open a new one until a
//! command runs there (a host coming back from a reboot, an sshd restarting). Each try
//! reconnects first, as Ansible resets its connection before each ping, so a master left
//! hanging by a host that went away is never waited on. Returns `elapsed` (whole seconds);
//! check mode skips it, as in Ansible.

use super::args;
use super::{Failure, ModuleCtx, ModuleResult, TypedModule};
use crate::host::{Host, HostError, RemoteCommand};
use async_trait::async_trait;
use serde::Deserialize;
use serde_json::json;
use std::time::{Duration, Instant};

pub struct WaitForConnection;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Args {
    #[serde(default, deserialize_with = "args::opt_f64")]
    connect_timeout: Option<f64>,
    #[serde(default, deserialize_with = "args::opt_f64")]
    delay: Option<f64>,
    #[serde(default, deserialize_with = "args::opt_f64")]
    sleep: Option<f64>,
    #[serde(default, deserialize_with = "args::opt_f64")]
    timeout: Option<f64>,
}

/// Whole seconds, as Ansible's `int()` of the argument (negative: none).
fn seconds(value: Option<f64>, default: u64) -> u64 {
    value.map_or(default, |v| v.max(0.0) as u64)
}

/// One try: a new connection (within `connect_timeout`), then `true` over it.
pub(super) async fn try_connection(
    host: &dyn Host,
    run_as: Option<&crate::host::Become>,
    connect_timeout: u64,
    left: Duration,
) -> Result<(), String> {
    let limit = left.max(Duration::from_secs(1));
    let attempt = async {
        host.reconnect(Some(connect_timeout.max(1) as u32)).await?;
        let mut cmd = RemoteCommand::new("true").run_as(run_as.cloned());
        cmd.timeout = Some(Duration::from_secs(connect_timeout.max(1)));
        host.run(&cmd).await
    };
    match tokio::time::timeout(limit, attempt).await {
        Ok(Ok(out)) if out.rc == 0 => Ok(()),
        Ok(Ok(out)) => Err(format!("rc {}: {}", out.rc, out.stderr.trim())),
        Ok(Err(HostError::Unreachable(why))) => Err(why),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err(format!("no connection within {}s", limit.as_secs())),
    }
}

#[async_trait]
impl TypedModule for WaitForConnection {
    type Args = Args;

    fn name(&self) -> &'static str {
        "wait_for_connection"
    }

    async fn run(&self, ctx: &ModuleCtx<'_>, a: Args) -> Result<ModuleResult, Failure> {
        if ctx.check_mode {
            let mut r = ModuleResult::ok();
            r.extra.insert("skipped".into(), json!(true));
            return Ok(r);
        }
        let connect_timeout = seconds(a.connect_timeout, 5);
        let sleep = Duration::from_secs(seconds(a.sleep, 1));
        let timeout = Duration::from_secs(seconds(a.timeout, 600));
        let start = Instant::now();
        tokio::time::sleep(Duration::from_secs(seconds(a.delay, 0))).await;
        let deadline = Instant::now() + timeout;
        let mut connected = false;
        let mut last_error = String::from("no time left to try");
        while Instant::now() < deadline {
            let left = deadline.saturating_duration_since(Instant::now());
            match try_connection(ctx.host, ctx.run_as, connect_timeout, left).await {
                Ok(()) => {
                    connected = true;
                    break;
                }
                Err(why) => {
                    tracing::debug!(target: "zdd::ssh", "<{}> wait_for_connection: {why}, retrying in {sleep:?}", ctx.host.name());
                    last_error = why;
                    tokio::time::sleep(sleep).await;
                }
            }
        }
        let mut r = ModuleResult::ok();
        if !connected {
            r.failed = true;
            r.msg = Some(format!("timed out waiting for ping module test: {last_error}"));
        }
        r.extra.insert("elapsed".into(), json!(start.elapsed().as_secs()));
        Ok(r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::{CommandOutput, HostError};
    use crate::template::Templater;
    use crate::vars::Context;
    use std::sync::atomic::{AtomicU32, Ordering};

    /// A host whose connection comes back after `down` failed reconnects.
    #[derive(Debug)]
    struct Returning {
        down: u32,
        reconnects: AtomicU32,
    }

    #[async_trait]
    impl Host for Returning {
        fn name(&self) -> &str {
            "web1"
        }

        async fn run(&self, _cmd: &RemoteCommand) -> Result<CommandOutput, HostError> {
            if self.reconnects.load(Ordering::SeqCst) > self.down {
                Ok(CommandOutput::default())
            } else {
                Err(HostError::Unreachable("connection lost".into()))
            }
        }

        async fn close(&self) {}

        async fn reconnect(&self, connect_timeout: Option<u32>) -> Result<(), HostError> {
            assert_eq!(connect_timeout, Some(2));
            let n = self.reconnects.fetch_add(1, Ordering::SeqCst) + 1;
            if n > self.down {
                Ok(())
            } else {
                Err(HostError::Unreachable("Connection refused".into()))
            }
        }
    }

    async fn wait(host: &Returning, args: serde_json::Value, check_mode: bool) -> ModuleResult {
        let templater = Templater::new();
        let vars = Context::new();
        let ctx = ModuleCtx {
            host,
            run_as: None,
            templater: &templater,
            vars: &vars,
            playbook_dir: std::path::Path::new("."),
            role_path: None,
            task_dir: None,
            check_mode,
            diff: false,
        };
        super::super::Module::run(&WaitForConnection, &ctx, &args)
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn reconnects_until_a_command_runs() {
        let host = Returning {
            down: 3,
            reconnects: AtomicU32::new(0),
        };
        let r = wait(
            &host,
            json!({"sleep": 0, "connect_timeout": 2, "timeout": 10}),
            false,
        )
        .await;
        assert!(!r.failed && !r.changed, "{r:?}");
        assert_eq!(host.reconnects.load(Ordering::SeqCst), 4);
        assert_eq!(r.extra["elapsed"], json!(0));
    }

    #[tokio::test]
    async fn times_out_with_the_last_error_and_skips_in_check_mode() {
        let host = Returning {
            down: u32::MAX,
            reconnects: AtomicU32::new(0),
        };
        let r = wait(
            &host,
            json!({"sleep": 0, "connect_timeout": 2, "timeout": 1}),
            false,
        )
        .await;
        assert!(r.failed, "{r:?}");
        assert_eq!(
            r.msg.as_deref(),
            Some("timed out waiting for ping module test: Connection refused")
        );
        assert_eq!(r.extra["elapsed"], json!(1));
        let checked = wait(&host, json!({}), true).await;
        assert_eq!(checked.extra["skipped"], json!(true));
    }
}
