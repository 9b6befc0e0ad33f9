//! `script`: a local script pushed to the host and run there with its arguments
//! (`script: files/setup.sh --fast`, or `cmd:`), as Ansible's `script` action does: the
//! script travels on stdin into a private staging directory, runs from there (through
//! `executable` if given) after `chdir`, and is removed when it ends. `creates`/`removes`
//! are plain paths tested on the host (Ansible's action does not glob them).
//!
//! Deliberate difference: Ansible runs the script on a pseudo-terminal, which merges its
//! stderr into stdout with `\r\n` line ends; zdd keeps the two streams apart, as `shell`
//! does.

use super::args::{self, fresh_mark, split_marks, trim_end_newlines};
use super::{find_local_file, ArgError, Failure, ModuleCtx, ModuleResult, StaticCtx, TypedModule};
use crate::host::{sh_quote, sh_script, RemoteCommand};
use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{json, Value};

pub struct Script;

const FREE_FORM_OPTIONS: &[&str] = &["chdir", "creates", "removes", "executable", "decrypt"];

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Args {
    #[serde(default, rename = "_raw_params")]
    raw_params: Option<String>,
    #[serde(default)]
    cmd: Option<String>,
    #[serde(default)]
    chdir: Option<String>,
    #[serde(default)]
    creates: Option<String>,
    #[serde(default)]
    removes: Option<String>,
    #[serde(default)]
    executable: Option<String>,
    #[serde(default, deserialize_with = "args::opt_bool")]
    decrypt: Option<bool>,
}

impl Args {
    fn command(&self) -> Result<&str, ArgError> {
        match (&self.raw_params, &self.cmd) {
            (Some(_), Some(_)) => Err(ArgError::new(
                "parameters are mutually exclusive: _raw_params|cmd (give the script free-form or as `cmd`)",
            )
            .key("cmd")),
            (Some(c), None) | (None, Some(c)) if !c.trim().is_empty() => Ok(c.trim()),
            _ => Err(ArgError::new(
                "`script` needs a script to run (free-form or `cmd`)",
            )),
        }
    }
}

/// The script's local name (the command's first word, as shlex splits it) and the command
/// line the host runs: that word replaced by `"$zdd_script"`, the rest left as written
/// (the host's shell reads it, as Ansible's does).
fn split_command(command: &str) -> Result<(String, String), String> {
    let words =
        shell_words::split(command).map_err(|e| format!("cannot split `{command}` into words: {e}"))?;
    let first = words
        .first()
        .cloned()
        .ok_or_else(|| "`script` needs a script to run".to_owned())?;
    let line = match command.find(first.as_str()) {
        Some(at) => format!(
            "{}\"$zdd_script\"{}",
            &command[..at],
            &command[at + first.len()..]
        ),
        None => {
            let rest = command.trim_start();
            let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
            format!("\"$zdd_script\"{}", &rest[end..])
        }
    };
    Ok((first, line))
}

fn script(a: &Args, name: &str, line: &str, size: usize, check: bool, mark: &str) -> String {
    let line = match &a.executable {
        Some(exe) => format!("{} {line}", sh_quote(exe)),
        None => line.to_owned(),
    };
    sh_script(
        &[
            ("zdd_m", mark),
            ("zdd_creates", a.creates.as_deref().unwrap_or("")),
            ("zdd_removes", a.removes.as_deref().unwrap_or("")),
            ("zdd_check", if check { "1" } else { "0" }),
            ("zdd_chdir", a.chdir.as_deref().unwrap_or("")),
            ("zdd_name", name),
            ("zdd_size", &size.to_string()),
            ("zdd_cmdline", &line),
        ],
        include_str!("script.sh"),
    )
}

#[async_trait]
impl TypedModule for Script {
    type Args = Args;

    fn name(&self) -> &'static str {
        "script"
    }

    fn free_form(&self) -> bool {
        true
    }

    fn parse(&self, raw: &Value) -> Result<Args, ArgError> {
        args::parse(self.name(), &args::lift_free_form_options(raw, FREE_FORM_OPTIONS))
    }

    fn check(&self, a: &Args, _raw: &Value) -> Result<(), ArgError> {
        a.command()?;
        if let Some(dir) = a.chdir.as_deref().filter(|d| !args::is_template(d)) {
            if !dir.starts_with('/') {
                return Err(ArgError::new(format!(
                    "chdir {dir} must be an absolute path for a Unix-aware remote node"
                ))
                .key("chdir"));
            }
        }
        Ok(())
    }

    fn check_static(&self, a: &Args, _raw: &Value, ctx: &StaticCtx<'_>) -> Result<(), ArgError> {
        let command = a.command()?;
        if args::is_template(command) {
            return Ok(());
        }
        let (src, _) = split_command(command).map_err(ArgError::new)?;
        if find_local_file(ctx.playbook_dir, ctx.role_path, "files", &src).is_none() {
            return Err(ArgError::new(format!("script `{src}` not found"))
                .key(if a.cmd.is_some() { "cmd" } else { "script" })
                .hint(format!(
                    "looked in {}/files/ and {} (and one level up)",
                    crate::error::display_path(ctx.playbook_dir),
                    crate::error::display_path(ctx.playbook_dir)
                )));
        }
        Ok(())
    }

    async fn run(&self, ctx: &ModuleCtx<'_>, a: Args) -> Result<ModuleResult, Failure> {
        let (src, line) = split_command(a.command()?)?;
        let path = find_local_file(ctx.playbook_dir, ctx.role_path, "files", &src)
            .ok_or_else(|| format!("Could not find or access '{src}'"))?;
        let content = if a.decrypt == Some(false) {
            std::fs::read(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))?
        } else {
            crate::vault::read_local_file(&path)?
        };
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "script".into());
        let mark = fresh_mark();
        let cmd = RemoteCommand::new(script(&a, &name, &line, content.len(), ctx.check_mode, &mark))
            .run_as(ctx.run_as.cloned())
            .stdin(content);
        let out = ctx.host.run(&cmd).await?;
        let mut r = ModuleResult::default();
        if out.rc == 0 && out.stdout.starts_with(&mark) {
            let (marks, _) = split_marks(&out.stdout, &mark);
            match marks.get("skipped").map(String::as_str) {
                Some("creates") => {
                    r.extra.insert("skipped".into(), json!(true));
                    r.msg = Some(format!(
                        "{} exists, matching creates option",
                        a.creates.as_deref().unwrap_or_default()
                    ));
                }
                Some("removes") => {
                    r.extra.insert("skipped".into(), json!(true));
                    r.msg = Some(format!(
                        "{} does not exist, matching removes option",
                        a.removes.as_deref().unwrap_or_default()
                    ));
                }
                // Check mode: Ansible only says the script would run when a guard could
                // have stopped it; otherwise it skips the task.
                _ if a.creates.is_some() || a.removes.is_some() => r.changed = true,
                _ => {
                    r.extra.insert("skipped".into(), json!(true));
                    r.msg = Some("Check mode is not supported for this task.".into());
                }
            }
            return Ok(r);
        }
        let (stdout, stderr) = (out.stdout, out.stderr);
        r.changed = true;
        r.rc = Some(out.rc);
        r.extra
            .insert("stdout_lines".into(), args::lines(&trim_end_newlines(&stdout)));
        r.extra
            .insert("stderr_lines".into(), args::lines(&trim_end_newlines(&stderr)));
        r.stdout = Some(stdout);
        r.stderr = Some(stderr);
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
    use crate::modules::args::MARK;

    #[test]
    fn the_first_word_becomes_the_staged_script() {
        assert_eq!(
            split_command("files/x.sh a 'b c' $HOME").unwrap(),
            ("files/x.sh".into(), "\"$zdd_script\" a 'b c' $HOME".into())
        );
        assert_eq!(
            split_command("'my script.sh' --fast").unwrap(),
            ("my script.sh".into(), "'\"$zdd_script\"' --fast".into())
        );
        assert!(split_command("x.sh 'open").is_err());
    }

    #[test]
    fn arguments_and_free_form_options() {
        let a = Script
            .parse(&json!({"_raw_params": "x.sh one creates=/tmp/done chdir=/srv"}))
            .unwrap();
        assert_eq!(a.command().unwrap(), "x.sh one");
        assert_eq!(
            (a.creates.as_deref(), a.chdir.as_deref()),
            (Some("/tmp/done"), Some("/srv"))
        );
        let a = Script
            .parse(&json!({"cmd": "x.sh", "_raw_params": "y.sh"}))
            .unwrap();
        assert!(a.command().is_err());
        let a = Script.parse(&json!({"cmd": "x.sh", "chdir": "srv"})).unwrap();
        assert_eq!(
            Script.check(&a, &json!({})).unwrap_err().key.as_deref(),
            Some("chdir")
        );
        let err = Script.parse(&json!({"cmd": "x.sh", "creats": "/x"})).unwrap_err();
        assert_eq!(err.hint.as_deref(), Some("did you mean `creates`?"));
    }

    #[test]
    fn the_host_script_has_its_values_quoted() {
        let a = Script
            .parse(&json!({"cmd": "x.sh", "executable": "/bin/ba'sh", "creates": "/tmp/$(x)"}))
            .unwrap();
        let s = script(&a, "x.sh", "\"$zdd_script\" 1", 42, false, MARK);
        assert!(s.contains("zdd_creates='/tmp/$(x)'\n"), "{s}");
        let line = format!(
            "zdd_cmdline={}\n",
            sh_quote(&format!("{} \"$zdd_script\" 1", sh_quote("/bin/ba'sh")))
        );
        assert!(s.contains(&line), "{s}");
        assert!(s.contains("zdd_size=42\n"), "{s}");
    }
}
