//! `shell`: run a command through the target's shell. `command` (in `command.rs`) shares
//! the running and the result shape, only building the command line differently.

use super::args::{self, fresh_mark, split_marks, trim_end_newlines};
use super::{ArgError, Failure, ModuleCtx, ModuleResult, TypedModule};
use crate::host::{sh_quote, sh_script, HostError, RemoteCommand};
use crate::lb::{self, Endpoint, LbChange};
use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{json, Value};
use std::time::SystemTime;

pub struct Shell;

/// Options that may be written inside the free-form command as `key=value`.
const FREE_FORM_OPTIONS: &[&str] = &["chdir", "creates", "removes", "executable", "stdin", "warn"];

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
    #[serde(default, deserialize_with = "args::opt_text")]
    stdin: Option<String>,
    #[serde(default, deserialize_with = "args::opt_bool")]
    stdin_add_newline: Option<bool>,
    #[serde(default, deserialize_with = "args::opt_bool")]
    strip_empty_ends: Option<bool>,
    /// Gone from Ansible, still in old playbooks: accepted and ignored.
    #[serde(default, deserialize_with = "args::opt_bool")]
    #[allow(dead_code)]
    warn: Option<bool>,
}

/// What `shell` and `command` run, once the command line is built.
pub(super) struct Spec {
    pub cmdline: String,
    pub chdir: Option<String>,
    pub creates: Option<String>,
    pub removes: Option<String>,
    pub stdin: Option<String>,
    pub stdin_add_newline: bool,
    pub strip_empty_ends: bool,
}

impl Args {
    /// The command as written, for what it does to a load balancer.
    fn text(&self) -> Option<&str> {
        self.raw_params.as_deref().or(self.cmd.as_deref())
    }

    fn command(&self) -> Result<&str, ArgError> {
        match (&self.raw_params, &self.cmd) {
            (Some(_), Some(_)) => {
                Err(ArgError::new("give the command either free-form or as `cmd`, not both").key("cmd"))
            }
            (Some(c), None) | (None, Some(c)) if !c.trim().is_empty() => Ok(c),
            _ => Err(ArgError::new("`shell` needs a command (free-form or `cmd`)")),
        }
    }
}

#[async_trait]
impl TypedModule for Shell {
    type Args = Args;

    fn name(&self) -> &'static str {
        "shell"
    }

    fn free_form(&self) -> bool {
        true
    }

    fn parse(&self, raw: &Value) -> Result<Args, ArgError> {
        args::parse(self.name(), &args::lift_free_form_options(raw, FREE_FORM_OPTIONS))
    }

    fn check(&self, a: &Args, _raw: &Value) -> Result<(), ArgError> {
        a.command().map(|_| ())
    }

    /// The workshop's `echo "disable server ..." | socat ...`.
    fn lb_changes(&self, a: &Args) -> Vec<LbChange> {
        a.text().map(lb::changes_in_command).unwrap_or_default()
    }

    fn lb_endpoints(&self, a: &Args) -> Vec<Endpoint> {
        a.text().map(lb::endpoints_in_command).unwrap_or_default()
    }

    async fn run(&self, ctx: &ModuleCtx<'_>, a: Args) -> Result<ModuleResult, Failure> {
        let cmd = a.command()?.to_owned();
        let cmdline = match &a.executable {
            Some(exe) => format!("exec {} -c {}", sh_quote(exe), sh_quote(&cmd)),
            None => cmd,
        };
        let spec = Spec {
            cmdline,
            chdir: a.chdir,
            creates: a.creates,
            removes: a.removes,
            stdin: a.stdin,
            stdin_add_newline: a.stdin_add_newline.unwrap_or(true),
            strip_empty_ends: a.strip_empty_ends.unwrap_or(true),
        };
        Ok(run_spec(ctx, spec).await?)
    }
}

/// The whole task as one script: `cd`, the `creates`/`removes` guard (`shell.sh`, which
/// prints `{mark}skipped=creates` or `=removes` and exits), then the command itself as the
/// script's tail, so its exit code is the script's.
pub(super) fn script(spec: &Spec, mark: &str) -> String {
    let mut s = String::new();
    if let Some(dir) = &spec.chdir {
        s.push_str(&format!("cd {} || exit 1\n", sh_quote(dir)));
    }
    if spec.creates.is_some() || spec.removes.is_some() {
        s.push_str(&sh_script(
            &[
                ("zdd_m", mark),
                ("zdd_creates", spec.creates.as_deref().unwrap_or("")),
                ("zdd_removes", spec.removes.as_deref().unwrap_or("")),
            ],
            include_str!("shell.sh"),
        ));
    }
    s.push_str(&spec.cmdline);
    s.push('\n');
    s
}

/// Why the guard skipped the command, as Ansible says it.
fn skip_reason(spec: &Spec, guard: &str) -> Option<String> {
    match guard {
        "creates" => Some(format!("since {} exists", spec.creates.as_deref()?)),
        "removes" => Some(format!("since {} does not exist", spec.removes.as_deref()?)),
        _ => None,
    }
}

pub(super) async fn run_spec(ctx: &ModuleCtx<'_>, spec: Spec) -> Result<ModuleResult, HostError> {
    let mut r = ModuleResult::default();
    r.extra.insert("cmd".into(), json!(spec.cmdline));
    if ctx.check_mode && spec.creates.is_none() && spec.removes.is_none() {
        r.msg = Some("Command would have run if not in check mode".into());
        r.extra.insert("skipped".into(), json!(true));
        return Ok(r);
    }
    let mark = fresh_mark();
    let mut cmd = RemoteCommand::new(script(&spec, &mark)).run_as(ctx.run_as.cloned());
    if let Some(input) = &spec.stdin {
        let mut data = input.clone().into_bytes();
        if spec.stdin_add_newline {
            data.push(b'\n');
        }
        cmd = cmd.stdin(data);
    }
    let start = SystemTime::now();
    let out = ctx.host.run(&cmd).await?;
    let end = SystemTime::now();
    // The guard prints its mark first and exits 0, so only a skipped run starts with one;
    // the mark is this run's own, so no output of the command can pass for it.
    let skipped = (out.rc == 0 && out.stdout.starts_with(&mark))
        .then(|| skip_reason(&spec, split_marks(&out.stdout, &mark).0.get("skipped")?))
        .flatten();
    if let Some(reason) = skipped {
        let msg = format!("Did not run command {reason}");
        r.rc = Some(0);
        r.stdout = Some(format!("skipped, {reason}"));
        r.stderr = Some(String::new());
        r.extra
            .insert("stdout_lines".into(), args::lines(&format!("skipped, {reason}")));
        r.extra.insert("stderr_lines".into(), json!([]));
        r.msg = Some(msg);
        return Ok(r);
    }
    if ctx.check_mode {
        r.changed = true;
        r.msg = Some("Command would have run if not in check mode".into());
        return Ok(r);
    }
    let (stdout, stderr) = if spec.strip_empty_ends {
        (trim_end_newlines(&out.stdout), trim_end_newlines(&out.stderr))
    } else {
        (out.stdout, out.stderr)
    };
    r.changed = true;
    r.rc = Some(out.rc);
    r.extra.insert("stdout_lines".into(), args::lines(&stdout));
    r.extra.insert("stderr_lines".into(), args::lines(&stderr));
    r.extra.insert("start".into(), json!(format_time(start)));
    r.extra.insert("end".into(), json!(format_time(end)));
    r.extra.insert(
        "delta".into(),
        json!(format_delta(end.duration_since(start).unwrap_or_default())),
    );
    r.stdout = Some(stdout);
    r.stderr = Some(stderr);
    if out.rc != 0 {
        r.failed = true;
        r.msg = Some("non-zero return code".into());
    } else {
        r.msg = Some(String::new());
    }
    Ok(r)
}

/// Ansible's `start`/`end`: local time, `2024-05-01 12:00:00.123456`.
pub(super) fn format_time(t: SystemTime) -> String {
    crate::template::local_strftime(t, "%Y-%m-%d %H:%M:%S.%f")
}

/// Ansible's `delta`: `0:00:01.234567`.
pub(super) fn format_delta(d: std::time::Duration) -> String {
    let s = d.as_secs();
    format!(
        "{}:{:02}:{:02}.{:06}",
        s / 3600,
        s / 60 % 60,
        s % 60,
        d.subsec_micros()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn start_and_end_are_local_times_with_microseconds() {
        let t = SystemTime::UNIX_EPOCH + std::time::Duration::from_micros(86_400_000_000 + 1_234_567);
        let text = format_time(t);
        let shape = regex::Regex::new(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.234567$").unwrap();
        assert!(shape.is_match(&text), "{text}");
    }

    fn spec(creates: Option<&str>) -> Spec {
        Spec {
            cmdline: "make install".into(),
            chdir: Some("/opt/app dir".into()),
            creates: creates.map(str::to_owned),
            removes: None,
            stdin: None,
            stdin_add_newline: true,
            strip_empty_ends: true,
        }
    }

    #[test]
    fn guard_and_chdir_come_before_the_command() {
        let s = script(&spec(Some("/usr/local/bin/app")), "__zdd_1__ ");
        assert!(
            s.starts_with("cd '/opt/app dir' || exit 1\nzdd_m='__zdd_1__ '\nzdd_creates=/usr/local/bin/app\nzdd_removes=''\n"),
            "{s}"
        );
        assert!(s.ends_with("unset -f zdd_found\nmake install\n"), "{s}");
        let plain = script(&spec(None), "__zdd_1__ ");
        assert_eq!(plain, "cd '/opt/app dir' || exit 1\nmake install\n");
    }

    #[test]
    fn a_glob_is_data_to_the_guard() {
        let s = script(
            &spec(Some("/tmp/x*\ndo :\ndone\ntouch /tmp/pwned\nfor f in /tmp/y*")),
            "m ",
        );
        assert!(
            s.contains("zdd_creates='/tmp/x*\ndo :\ndone\ntouch /tmp/pwned\nfor f in /tmp/y*'\n"),
            "{s}"
        );
    }

    #[test]
    fn delta_is_formatted_like_ansible() {
        assert_eq!(
            format_delta(std::time::Duration::from_micros(3_723_000_042)),
            "1:02:03.000042"
        );
    }
}
