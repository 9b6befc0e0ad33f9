//! `file`: make a path a file, directory, link, or nothing, with a mode and owner.
//! One script inspects the path, acts only where it differs, and says whether it did.

use super::args::{self, check_choice, fresh_mark, split_marks};
use super::{ArgError, Failure, ModuleCtx, ModuleResult, TypedModule};
use crate::host::{sh_script, RemoteCommand};
use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{json, Value};

pub struct File;

const STATES: &[&str] = &["file", "directory", "absent", "touch", "link", "hard"];

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Args {
    #[serde(alias = "dest", alias = "name")]
    path: String,
    #[serde(default)]
    state: Option<String>,
    #[serde(default, deserialize_with = "args::opt_mode")]
    mode: Option<String>,
    #[serde(default, deserialize_with = "args::opt_text")]
    owner: Option<String>,
    #[serde(default, deserialize_with = "args::opt_text")]
    group: Option<String>,
    #[serde(default)]
    src: Option<String>,
    #[serde(default, deserialize_with = "args::opt_bool")]
    recurse: Option<bool>,
    #[serde(default, deserialize_with = "args::opt_bool")]
    force: Option<bool>,
    /// Accepted for compatibility; links are always followed for attributes.
    #[serde(default, deserialize_with = "args::opt_bool")]
    #[allow(dead_code)]
    follow: Option<bool>,
}

impl Args {
    fn check(&self) -> Result<(), ArgError> {
        check_choice("state", self.state.as_deref(), STATES)?;
        if matches!(self.state.as_deref(), Some("link" | "hard")) && self.src.is_none() {
            return Err(ArgError::new("`state: link` needs `src` (what the link points to)").key("state"));
        }
        if self.recurse == Some(true) && !matches!(self.state.as_deref(), Some("directory") | None) {
            return Err(ArgError::new("`recurse` needs `state: directory`").key("recurse"));
        }
        Ok(())
    }
}

fn script(a: &Args, check_mode: bool, mark: &str) -> String {
    let text = |o: &Option<String>| o.clone().unwrap_or_default();
    let flag = |b: bool| if b { "1" } else { "0" };
    sh_script(
        &[
            ("m", mark),
            ("p", &a.path),
            ("state", &text(&a.state)),
            // `file` has no source whose mode to keep: `preserve` leaves the mode alone.
            ("mode", &text(&a.mode.clone().filter(|m| m != args::PRESERVE))),
            ("owner", &text(&a.owner)),
            ("group", &text(&a.group)),
            ("src", &text(&a.src)),
            ("recurse", flag(a.recurse.unwrap_or(false))),
            ("force", flag(a.force.unwrap_or(false))),
            ("check", flag(check_mode)),
        ],
        include_str!("file.sh"),
    )
}

#[async_trait]
impl TypedModule for File {
    type Args = Args;

    fn name(&self) -> &'static str {
        "file"
    }

    fn check(&self, a: &Args, _raw: &Value) -> Result<(), ArgError> {
        a.check()
    }

    async fn run(&self, ctx: &ModuleCtx<'_>, a: Args) -> Result<ModuleResult, Failure> {
        let mark = fresh_mark();
        let cmd = RemoteCommand::new(script(&a, ctx.check_mode, &mark)).run_as(ctx.run_as.cloned());
        let out = ctx.host.run(&cmd).await?;
        let (marks, _) = split_marks(&out.stdout, &mark);
        let mut r = if out.rc != 0 {
            let mut r = ModuleResult::failed(match out.stderr.trim() {
                "" => format!("file: exit code {}", out.rc),
                msg => msg.to_owned(),
            });
            r.rc = Some(out.rc);
            r
        } else {
            ModuleResult::changed(marks.get("changed").map(String::as_str) == Some("1"))
        };
        r.extra.insert("path".into(), json!(a.path));
        if let Some(state) = marks.get("state") {
            r.extra.insert("state".into(), json!(state));
        }
        if let Some(stat) = marks.get("stat") {
            let parts: Vec<&str> = stat.split(' ').collect();
            if let [mode, owner, group] = parts[..] {
                r.extra.insert("mode".into(), json!(format!("{mode:0>4}")));
                r.extra.insert("owner".into(), json!(owner));
                r.extra.insert("group".into(), json!(group));
            }
        }
        // `--diff`: the path's state before and after, as Ansible's file module shows it.
        if let (true, true, Some(before), Some(after)) =
            (ctx.diff, r.changed, marks.get("before"), marks.get("state"))
        {
            r.extra.insert(
                "diff".into(),
                json!({"before": {"path": a.path, "state": before}, "after": {"path": a.path, "state": after}}),
            );
        }
        Ok(r)
    }
}
