//! `async_status`: how a job started with `async` and `poll: 0` stands (`mode: status`),
//! with the command's result once it is done; `mode: cleanup` removes what it left.

use super::args::{lines, trim_end_newlines};
use super::{ArgError, Failure, ModuleCtx, ModuleResult, TypedModule};
use crate::host::background::{clean_job, job_state, JobState};
use async_trait::async_trait;
use serde::Deserialize;
use serde_json::json;

pub struct AsyncStatus;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Args {
    jid: String,
    #[serde(default)]
    mode: Option<String>,
}

#[async_trait]
impl TypedModule for AsyncStatus {
    type Args = Args;

    fn name(&self) -> &'static str {
        "async_status"
    }

    fn check_rendered(&self, a: &Args) -> Result<(), ArgError> {
        match a.mode.as_deref() {
            None | Some("status") | Some("cleanup") => Ok(()),
            Some(other) => Err(ArgError::new(format!(
                "value of mode must be one of: status, cleanup, got: {other}"
            ))
            .key("mode")),
        }
    }

    async fn run(&self, ctx: &ModuleCtx<'_>, a: Args) -> Result<ModuleResult, Failure> {
        let jid = a.jid.trim();
        let mut r = ModuleResult::ok();
        r.extra.insert("ansible_job_id".into(), json!(jid));
        if a.mode.as_deref() == Some("cleanup") {
            clean_job(ctx.host, jid, ctx.run_as).await?;
            r.extra
                .insert("erased".into(), json!(format!("~/.zdd_async/{jid}")));
            return Ok(r);
        }
        r.extra.insert("started".into(), json!(true));
        match job_state(ctx.host, jid, ctx.run_as).await? {
            JobState::Missing => {
                r.failed = true;
                r.msg = Some("could not find job".into());
                r.extra.insert("finished".into(), json!(true));
            }
            JobState::Running => {
                r.extra.insert("finished".into(), json!(false));
            }
            JobState::TimedOut => {
                r.failed = true;
                r.msg = Some("Timeout exceeded".into());
                r.extra.insert("finished".into(), json!(true));
            }
            JobState::Done(out) => {
                // The result of the `shell`/`command` task that started the job.
                let (stdout, stderr) = (trim_end_newlines(&out.stdout), trim_end_newlines(&out.stderr));
                r.changed = true;
                r.rc = Some(out.rc);
                r.extra.insert("finished".into(), json!(true));
                r.extra.insert("stdout_lines".into(), lines(&stdout));
                r.extra.insert("stderr_lines".into(), lines(&stderr));
                r.stdout = Some(stdout);
                r.stderr = Some(stderr);
                if out.rc != 0 {
                    r.failed = true;
                    r.msg = Some("non-zero return code".into());
                } else {
                    r.msg = Some(String::new());
                }
            }
        }
        Ok(r)
    }
}
