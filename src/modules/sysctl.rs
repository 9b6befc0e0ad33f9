//! `sysctl` (ansible.posix): a kernel parameter in a sysctl file (`sysctl_file`, default
//! /etc/sysctl.conf), optionally set now (`sysctl_set`) and the file reloaded (`reload`,
//! `sysctl -p FILE`), with Ansible's rules for `changed` (`plan`, pure and unit-tested):
//! the file is rewritten as Ansible rewrites it (`key=value` lines normalised, a repeated
//! key kept once, comments and blank lines kept). Returns `changed` only, as Ansible does.

use super::args::{self, check_choice, fresh_mark, split_marks};
use super::group::{command_failed, flag};
use super::{ArgError, Failure, ModuleCtx, ModuleResult, TypedModule};
use crate::host::{sh_script, RemoteCommand};
use async_trait::async_trait;
use serde::Deserialize;
use serde_json::Value;

pub struct Sysctl;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Args {
    #[serde(alias = "key")]
    name: String,
    #[serde(default, alias = "val", deserialize_with = "args::opt_text")]
    value: Option<String>,
    #[serde(default)]
    state: Option<String>,
    #[serde(default, deserialize_with = "args::opt_bool")]
    reload: Option<bool>,
    #[serde(default, deserialize_with = "args::opt_bool")]
    sysctl_set: Option<bool>,
    #[serde(default, deserialize_with = "args::opt_bool")]
    ignoreerrors: Option<bool>,
    #[serde(default)]
    sysctl_file: Option<String>,
}

/// What to do, from the kernel's value and the file's text.
#[derive(Debug, PartialEq)]
struct Plan {
    changed: bool,
    /// The file's new text, when it is to be written.
    write: Option<String>,
    set_proc: bool,
}

fn same_words(a: Option<&str>, b: &str) -> bool {
    a.is_some_and(|a| a.split_whitespace().eq(b.split_whitespace()))
}

/// Ansible's `value`: booleans become 1/0, anything else is trimmed.
fn normal_value(v: &str) -> String {
    match args::parse_bool(v) {
        Some(true) if !v.trim().is_empty() => "1".into(),
        Some(false) if !v.trim().is_empty() => "0".into(),
        _ => v.trim().to_owned(),
    }
}

fn plan(
    name: &str,
    value: &str,
    present: bool,
    reload: bool,
    set: bool,
    proc: Option<&str>,
    file: &str,
) -> Plan {
    let is_setting = |l: &str| !(l.is_empty() || l.starts_with(['#', ';']) || !l.contains('='));
    let mut in_file: Option<String> = None;
    let mut seen: Vec<String> = Vec::new();
    let mut lines = Vec::new();
    for line in file.lines().map(str::trim) {
        if !is_setting(line) {
            lines.push(line.to_owned());
            continue;
        }
        let (k, v) = line.split_once('=').expect("has =");
        let (k, v) = (k.trim(), v.trim());
        if k == name {
            in_file = Some(v.to_owned());
        }
        if seen.iter().any(|s| s == k) {
            continue;
        }
        seen.push(k.to_owned());
        if k != name {
            lines.push(format!("{k}={v}"));
        } else if present {
            lines.push(format!("{k}={value}"));
        }
    }
    if present && !seen.iter().any(|s| s == name) {
        lines.push(format!("{name}={value}"));
    }
    let (mut changed, write) = match (&in_file, present) {
        (None, true) => (true, true),
        (None, false) => (false, false),
        (Some(v), false) if !v.is_empty() => (true, true),
        (Some(v), _) if v != value => (true, true),
        _ => (reload && !same_words(proc, value), false),
    };
    let mut set_proc = false;
    if set && present && !same_words(proc, value) {
        changed = true;
        set_proc = proc.is_some();
    }
    let text: String = lines.iter().map(|l| format!("{}\n", l.trim())).collect();
    Plan {
        changed,
        write: write.then_some(text),
        set_proc,
    }
}

#[async_trait]
impl TypedModule for Sysctl {
    type Args = Args;

    fn name(&self) -> &'static str {
        "sysctl"
    }

    fn check(&self, a: &Args, raw: &Value) -> Result<(), ArgError> {
        check_choice("state", a.state.as_deref(), &["present", "absent"])?;
        let given = ["value", "val"]
            .iter()
            .any(|k| raw.get(*k).is_some_and(|v| !v.is_null()));
        if a.state.as_deref().unwrap_or("present") == "present" && !given {
            return Err(
                ArgError::new("state is present but all of the following are missing: value").key("value"),
            );
        }
        Ok(())
    }

    async fn run(&self, ctx: &ModuleCtx<'_>, a: Args) -> Result<ModuleResult, Failure> {
        let name = a.name.trim().to_owned();
        let value = normal_value(a.value.as_deref().unwrap_or(""));
        let present = a.state.as_deref() != Some("absent");
        if name.is_empty() {
            return Err("name cannot be blank".into());
        }
        if present && value.is_empty() {
            return Err("value cannot be blank".into());
        }
        let file = a.sysctl_file.clone().unwrap_or_else(|| "/etc/sysctl.conf".into());
        let reload = a.reload != Some(false);
        let mark = fresh_mark();
        let script = |phase: &str, write: bool, set_proc: bool, reload: bool| {
            sh_script(
                &[
                    ("m", mark.as_str()),
                    ("phase", phase),
                    ("name", &name),
                    ("value", &value),
                    ("file", &file),
                    ("write", flag(Some(write))),
                    ("set_proc", flag(Some(set_proc))),
                    ("reload", flag(Some(reload))),
                    ("ignore", flag(a.ignoreerrors)),
                ],
                include_str!("sysctl.sh"),
            )
        };
        let read = RemoteCommand::new(script("read", false, false, false)).run_as(ctx.run_as.cloned());
        let out = ctx.host.run(&read).await?;
        if out.rc != 0 {
            return Ok(command_failed(out.rc, &out.stderr, "sysctl"));
        }
        let tag = format!("{mark}content=\n");
        let (head, content) = out.stdout.split_once(&tag).unwrap_or((&out.stdout, ""));
        let marks = split_marks(head, &mark).0;
        let p = plan(
            &name,
            &value,
            present,
            reload,
            a.sysctl_set == Some(true),
            marks.get("proc").map(String::as_str),
            content,
        );
        let do_reload = p.changed && reload;
        if !ctx.check_mode && (p.write.is_some() || p.set_proc || do_reload) {
            let cmd = RemoteCommand::new(script("write", p.write.is_some(), p.set_proc, do_reload))
                .stdin(p.write.clone().unwrap_or_default().into_bytes())
                .run_as(ctx.run_as.cloned());
            let out = ctx.host.run(&cmd).await?;
            if out.rc != 0 {
                return Ok(command_failed(out.rc, &out.stderr, "sysctl"));
            }
        }
        Ok(ModuleResult::changed(p.changed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = "# tuned\nvm.swappiness = 60\n\nnet.core.somaxconn=128\nvm.swappiness=70\n";

    #[test]
    fn a_new_key_is_appended_and_the_file_normalised() {
        let p = plan("fs.file-max", "1000", true, false, false, Some("500"), FILE);
        assert!(p.changed && !p.set_proc);
        assert_eq!(
            p.write.as_deref(),
            Some("# tuned\nvm.swappiness=60\n\nnet.core.somaxconn=128\nfs.file-max=1000\n")
        );
    }

    #[test]
    fn the_same_value_is_unchanged_unless_the_kernel_differs() {
        let file = "net.core.somaxconn=128\n";
        assert_eq!(
            plan(
                "net.core.somaxconn",
                "128",
                true,
                false,
                false,
                Some("4096"),
                file
            ),
            Plan {
                changed: false,
                write: None,
                set_proc: false
            }
        );
        assert!(plan("net.core.somaxconn", "128", true, true, false, Some("4096"), file).changed);
        let p = plan("net.core.somaxconn", "128", true, false, true, Some("4096"), file);
        assert!(p.changed && p.set_proc && p.write.is_none());
        assert!(!plan("net.core.somaxconn", "128", true, true, true, Some("128"), file).changed);
    }

    #[test]
    fn absent_removes_the_key() {
        let p = plan("vm.swappiness", "", false, false, false, None, FILE);
        assert_eq!(p.write.as_deref(), Some("# tuned\n\nnet.core.somaxconn=128\n"));
        assert!(!plan("fs.nope", "", false, false, false, None, FILE).changed);
        assert_eq!(normal_value("yes"), "1");
        assert!(same_words(Some("4096\t87380 6291456"), "4096 87380  6291456"));
    }
}
