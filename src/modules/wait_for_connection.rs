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
