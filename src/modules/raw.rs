//! `raw`: the command line as it is, handed to the login shell of the connecting user
//! with no bootstrap around it and nothing on its standard input (how Ansible runs it,
//! for a host that has nothing yet). `executable` runs it as `EXECUTABLE -c 'COMMAND'`.
//! With `become` it goes through sudo like every other command (sudo's `/bin/sh -c`, as
//! in Ansible). Always `changed`; a non-zero rc fails the task. Check mode skips it and
//! `environment` does not reach it, as in Ansible.
//!
//! Unlike Ansible, zdd asks for no terminal: stdout and stderr come back apart and lines
//! end in `\n`, not `\r\n` (Ansible's `-tt` merges stderr into stdout).

use super::{ArgError, Failure, ModuleCtx, ModuleResult, TypedModule};
use crate::host::{sh_quote, RemoteCommand};
use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{json, Value};

pub struct Raw;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Args {
    #[serde(default, rename = "_raw_params")]
    command: Option<String>,
    #[serde(default, deserialize_with = "super::args::opt_text")]
    executable: Option<String>,
}

impl Args {
    /// What the login shell gets.
    fn command_line(&self) -> String {
        let command = self.command.clone().unwrap_or_default();
        match self.executable.as_deref().filter(|e| !e.is_empty()) {
            Some(shell) => format!("{shell} -c {}", sh_quote(&command)),
            None => command,
        }
    }
}

#[async_trait]
impl TypedModule for Raw {
    type Args = Args;

    fn name(&self) -> &'static str {
        "raw"
    }

    fn free_form(&self) -> bool {
        true
    }

    fn check(&self, a: &Args, _raw: &Value) -> Result<(), ArgError> {
        if a.command.as_deref().is_none_or(|c| c.trim().is_empty()) {
            return Err(ArgError::new("`raw` needs a command: `raw: COMMAND`"));
        }
        Ok(())
    }

    async fn run(&self, ctx: &ModuleCtx<'_>, a: Args) -> Result<ModuleResult, Failure> {
        if ctx.check_mode {
            let mut r = ModuleResult::ok();
            r.extra.insert("skipped".into(), json!(true));
            return Ok(r);
        }
        let cmd = match ctx.run_as {
            // Under sudo, the shell Ansible's become uses: /bin/sh, or the executable.
            Some(_) => RemoteCommand::new(a.command_line()),
            None => RemoteCommand {
                raw: true,
                ..RemoteCommand::new(a.command_line())
            },
        }
        .run_as(ctx.run_as.cloned());
        let out = ctx.host.run(&cmd).await?;
        let mut r = ModuleResult::changed(true);
        r.rc = Some(out.rc);
        r.stdout = Some(out.stdout);
        r.stderr = Some(out.stderr);
        if out.rc != 0 {
            r.failed = true;
            r.msg = Some("non-zero return code".into());
        }
        Ok(r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::command_line;

    #[test]
    fn the_command_is_the_command_line_itself_without_become() {
        let a: Args = super::super::args::parse("raw", &json!({"_raw_params": "echo $0 'x'"})).unwrap();
        let cmd = RemoteCommand {
            raw: true,
            ..RemoteCommand::new(a.command_line())
        };
        assert_eq!(command_line(&cmd), "echo $0 'x'");
        assert!(crate::host::stdin_payload(&cmd).is_empty());
        let with_shell: Args = super::super::args::parse(
            "raw",
            &json!({"_raw_params": "echo it's", "executable": "/bin/bash"}),
        )
        .unwrap();
        assert_eq!(with_shell.command_line(), r"/bin/bash -c 'echo it'\''s'");
        // Under become, the usual bootstrap: sudo needs it.
        let sudo = cmd.run_as(Some(crate::host::Become::sudo("root")));
        assert!(command_line(&sudo).starts_with("sudo -n -H -u root -- sh -c"));
    }
}
