//! `tempfile`: a new temporary file (0600) or directory (0700) on the host, named
//! `PREFIX` + 8 random characters + `SUFFIX` (GNU `mktemp`), in `path` or `$TMPDIR`
//! (else `/tmp`); returns its `path`, always changed. Like Ansible's, it does not run in
//! check mode (skipped).

use super::args::{self, check_choice, fresh_mark, split_marks};
use super::{ArgError, Failure, ModuleCtx, ModuleResult, TypedModule};
use crate::host::{sh_script, RemoteCommand};
use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{json, Value};

pub struct TempFile;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Args {
    #[serde(default)]
    state: Option<String>,
    #[serde(default)]
    path: Option<String>,
    #[serde(default, deserialize_with = "args::opt_text")]
    prefix: Option<String>,
    #[serde(default, deserialize_with = "args::opt_text")]
    suffix: Option<String>,
}

/// Prefix and suffix are one file name component each.
fn check_rendered_args(a: &Args) -> Result<(), ArgError> {
    for (key, value) in [("prefix", &a.prefix), ("suffix", &a.suffix)] {
        if let Some(v) = value.as_deref().filter(|v| v.contains('/')) {
            return Err(
                ArgError::new(format!("{key} must be a valid file name component, got '{v}'")).key(key),
            );
        }
    }
    Ok(())
}

#[async_trait]
impl TypedModule for TempFile {
    type Args = Args;

    fn name(&self) -> &'static str {
        "tempfile"
    }

    fn check(&self, a: &Args, _raw: &Value) -> Result<(), ArgError> {
        check_choice("state", a.state.as_deref(), &["file", "directory"])
    }

    fn check_rendered(&self, a: &Args) -> Result<(), ArgError> {
        check_rendered_args(a)
    }

    async fn run(&self, ctx: &ModuleCtx<'_>, a: Args) -> Result<ModuleResult, Failure> {
        if ctx.check_mode {
            let mut r = ModuleResult::ok();
            r.msg = Some("remote module (tempfile) does not support check mode".into());
            r.extra.insert("skipped".into(), json!(true));
            return Ok(r);
        }
        let mark = fresh_mark();
        let script = sh_script(
            &[
                ("m", &mark),
                ("path", a.path.as_deref().unwrap_or("")),
                ("state", a.state.as_deref().unwrap_or("file")),
                ("prefix", a.prefix.as_deref().unwrap_or("ansible.")),
                ("suffix", a.suffix.as_deref().unwrap_or("")),
            ],
            include_str!("tempfile.sh"),
        );
        let out = ctx
            .host
            .run(&RemoteCommand::new(script).run_as(ctx.run_as.cloned()))
            .await?;
        let (marks, _) = split_marks(&out.stdout, &mark);
        match marks.get("path") {
            Some(path) if out.rc == 0 => {
                let mut r = ModuleResult::changed(true);
                r.extra.insert("path".into(), json!(path));
                Ok(r)
            }
            _ => Err(Failure::Task(match out.stderr.trim() {
                "" => format!("tempfile failed (exit code {})", out.rc),
                msg => msg.to_owned(),
            })),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(args: Value) -> Result<(), ArgError> {
        let a: Args = args::parse("tempfile", &args)?;
        check_choice("state", a.state.as_deref(), &["file", "directory"])?;
        check_rendered_args(&a)
    }

    #[test]
    fn arguments_and_file_name_components() {
        assert!(check(json!({"state": "directory", "prefix": "x.", "suffix": ".d", "path": "/tmp"})).is_ok());
        assert!(check(json!({"state": "dir"})).is_err());
        assert_eq!(
            check(json!({"prefix": "a/b"})).unwrap_err().message,
            "prefix must be a valid file name component, got 'a/b'"
        );
        assert!(check(json!({"name": "x"})).is_err());
    }
}
