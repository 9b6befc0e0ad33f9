//! `ping`: the host answers a command (as the `become` user, with `become`) and the task
//! returns `ping: DATA` (`pong` by default), never a change. `data: crash` fails, as
//! Ansible's module raises on it (for testing failure paths). No Python: a `true` run over
//! the connection is the whole test.

use super::args;
use super::{Failure, ModuleCtx, ModuleResult, TypedModule};
use crate::host::RemoteCommand;
use async_trait::async_trait;
use serde::Deserialize;
use serde_json::json;

pub struct Ping;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Args {
    #[serde(default, deserialize_with = "args::opt_text")]
    data: Option<String>,
}

#[async_trait]
impl TypedModule for Ping {
    type Args = Args;

    fn name(&self) -> &'static str {
        "ping"
    }

    async fn run(&self, ctx: &ModuleCtx<'_>, a: Args) -> Result<ModuleResult, Failure> {
        let out = ctx
            .host
            .run(&RemoteCommand::new("true").run_as(ctx.run_as.cloned()))
            .await?;
        if out.rc != 0 {
            return Err(Failure::Task(format!(
                "the host does not run commands: rc {}, {}",
                out.rc,
                out.stderr.trim()
            )));
        }
        let data = a.data.unwrap_or_else(|| "pong".into());
        if data == "crash" {
            // Ansible's module raises an exception "boom" on purpose.
            let mut r = ModuleResult::failed("Task failed: Module failed: boom");
            r.extra
                .insert("exception".into(), json!("(traceback unavailable)"));
            return Ok(r);
        }
        let mut r = ModuleResult::ok();
        r.extra.insert("ping".into(), json!(data));
        Ok(r)
    }
}
