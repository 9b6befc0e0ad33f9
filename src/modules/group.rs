//! `group`: a local group present (with a `gid`) or absent, through groupadd, groupmod
//! and groupdel (`local: true`: lgroupadd and friends, as Ansible uses them).
//!
//! Returned as Ansible returns them: `name`, `state`, and for a group that exists at the
//! end `gid` and `system`; `stdout`/`stderr` of the command when it printed any. In check
//! mode a group to add or delete reports only `changed`, as Ansible's early exit does.

use super::args::{self, check_choice, fresh_mark, split_marks};
use super::{ArgError, Failure, ModuleCtx, ModuleResult, TypedModule};
use crate::host::{sh_script, RemoteCommand};
use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{json, Value};

pub struct Group;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Args {
    name: String,
    #[serde(default)]
    state: Option<String>,
    #[serde(default, deserialize_with = "args::opt_i64")]
    gid: Option<i64>,
    #[serde(default, deserialize_with = "args::opt_bool")]
    system: Option<bool>,
    #[serde(default, deserialize_with = "args::opt_bool")]
    non_unique: Option<bool>,
    #[serde(default, deserialize_with = "args::opt_bool")]
    force: Option<bool>,
    #[serde(default, deserialize_with = "args::opt_bool")]
    local: Option<bool>,
    #[serde(default, deserialize_with = "args::opt_i64")]
    gid_min: Option<i64>,
    #[serde(default, deserialize_with = "args::opt_i64")]
    gid_max: Option<i64>,
}

/// `yes` -> "1", anything else "0": how the scripts read a flag.
pub(super) fn flag(b: Option<bool>) -> &'static str {
    if b == Some(true) {
        "1"
    } else {
        "0"
    }
}

pub(super) fn num(n: Option<i64>) -> String {
    n.map(|n| n.to_string()).unwrap_or_default()
}

/// A failed result with the command's error output as its message, as Ansible's
/// `fail_json(msg=err)`.
pub(super) fn command_failed(rc: i32, stderr: &str, what: &str) -> ModuleResult {
    let mut r = ModuleResult::failed(match stderr.trim() {
        "" => format!("{what} failed (exit code {rc})"),
        msg => msg.to_owned(),
    });
    r.rc = Some(rc);
    r
}

#[async_trait]
impl TypedModule for Group {
    type Args = Args;

    fn name(&self) -> &'static str {
        "group"
    }

    fn check(&self, a: &Args, raw: &Value) -> Result<(), ArgError> {
        check_choice("state", a.state.as_deref(), &["absent", "present"])?;
        if a.non_unique == Some(true) && raw.get("gid").is_none_or(Value::is_null) {
            return Err(
                ArgError::new("non_unique is True but all of the following are missing: gid")
                    .key("non_unique"),
            );
        }
        if a.force == Some(true) && a.local == Some(true) {
            return Err(ArgError::new(
                "force is not a valid option for local, force=True and local=True are mutually exclusive",
            )
            .key("force"));
        }
        if a.local == Some(true) && (a.gid_min.is_some() || a.gid_max.is_some()) {
            return Err(ArgError::new("'gid_min' and 'gid_max' can not be used with 'local'").key("local"));
        }
        Ok(())
    }

    async fn run(&self, ctx: &ModuleCtx<'_>, a: Args) -> Result<ModuleResult, Failure> {
        let mark = fresh_mark();
        let state = a.state.clone().unwrap_or_else(|| "present".into());
        let script = sh_script(
            &[
                ("m", &mark),
                ("name", &a.name),
                ("state", &state),
                ("gid", &num(a.gid)),
                ("system", flag(a.system)),
                ("non_unique", flag(a.non_unique)),
                ("force", flag(a.force)),
                ("local", flag(a.local)),
                ("gid_min", &num(a.gid_min)),
                ("gid_max", &num(a.gid_max)),
                ("check", flag(Some(ctx.check_mode))),
            ],
            include_str!("group.sh"),
        );
        let out = ctx
            .host
            .run(&RemoteCommand::new(script).run_as(ctx.run_as.cloned()))
            .await?;
        let (marks, stdout) = split_marks(&out.stdout, &mark);
        if out.rc != 0 {
            let mut r = command_failed(out.rc, &out.stderr, "group");
            r.extra.insert("name".into(), json!(a.name));
            return Ok(r);
        }
        let mut r = ModuleResult::changed(marks.contains_key("ran"));
        if marks.contains_key("early") {
            return Ok(r);
        }
        r.extra.insert("name".into(), json!(a.name));
        r.extra.insert("state".into(), json!(state));
        if !stdout.is_empty() {
            r.stdout = Some(stdout);
        }
        if !out.stderr.is_empty() {
            r.stderr = Some(out.stderr);
        }
        if let Some(gid) = marks.get("gid").and_then(|g| g.parse::<i64>().ok()) {
            r.extra.insert("system".into(), json!(a.system == Some(true)));
            r.extra.insert("gid".into(), json!(gid));
        }
        Ok(r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::{registry, StaticCtx};

    fn check(args: Value) -> Result<(), ArgError> {
        registry()
            .get("ansible.builtin.group")
            .expect("registered")
            .check_args(
                &args,
                &StaticCtx {
                    playbook_dir: std::path::Path::new("."),
                    role_path: None,
                },
            )
    }

    #[test]
    fn arguments() {
        assert!(check(json!({"name": "web", "gid": "2001", "system": "yes"})).is_ok());
        assert!(check(json!({"name": "web", "gid": "{{ g }}", "non_unique": true})).is_ok());
        let err = check(json!({"name": "web", "non_unique": true})).unwrap_err();
        assert!(err.message.contains("missing: gid"), "{err:?}");
        let err = check(json!({"name": "web", "state": "gone"})).unwrap_err();
        assert_eq!(err.key.as_deref(), Some("state"));
        assert!(check(json!({"name": "web", "gid": "many"})).is_err());
        let err = check(json!({"name": "web", "sytem": true})).unwrap_err();
        assert_eq!(err.hint.as_deref(), Some("did you mean `system`?"));
    }
}
