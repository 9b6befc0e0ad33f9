//! `file`: make a path a file, directory, link, or nothing, with a mode and owner.
//! One script inspects the path, acts only where it differs, and says whether it did.

use super::args::{self, check_choice, split_marks, MARK};
use super::{ArgError, Failure, ModuleCtx, ModuleResult, TypedModule};
use crate::host::{sh_quote, RemoteCommand};
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

fn script(a: &Args, check_mode: bool) -> String {
    let q = |o: &Option<String>| sh_quote(o.as_deref().unwrap_or(""));
    let flag = |b: bool| if b { "1" } else { "0" };
    format!(
        r#"p={path}; state={state}; mode={mode}; owner={owner}; group={group}; src={src}
recurse={recurse}; force={force}; check={check}; changed=0
cur=absent
if [ -L "$p" ]; then cur=link; elif [ -d "$p" ]; then cur=directory; elif [ -e "$p" ]; then cur=file; fi
if [ -z "$state" ]; then if [ $cur = absent ]; then state=file; else state=$cur; fi; fi
act() {{ changed=1; [ $check = 1 ] || "$@" || exit 1; }}
case $state in
absent) [ $cur = absent ] || act rm -rf -- "$p" ;;
directory)
  case $cur in
  absent) act mkdir -p -- "$p" ;;
  directory) ;;
  *) echo "there is a $cur in the way: $p is not a directory" >&2; exit 1 ;;
  esac ;;
file)
  [ $cur = absent ] && {{ echo "file ($p) is absent, cannot continue" >&2; exit 1; }}
  [ $cur = directory ] && {{ echo "file ($p) is a directory, cannot continue" >&2; exit 1; }} ;;
touch)
  if [ $cur = absent ]; then act touch -- "$p"; elif [ $check = 0 ]; then touch -c -- "$p"; fi ;;
link)
  if [ $cur = link ] && [ "$(readlink -- "$p")" = "$src" ]; then :
  elif [ $cur = directory ]; then echo "refusing to replace the directory $p with a link" >&2; exit 1
  elif [ $cur = file ] && [ $force = 0 ]; then echo "refusing to convert from file to symlink for $p (use force: yes)" >&2; exit 1
  else
    if [ $force = 0 ] && ! (cd "$(dirname -- "$p")" && [ -e "$src" ]); then
      echo "src file $src does not exist, use force=yes if you really want to create the link: $p" >&2; exit 1
    fi
    act ln -sfn -- "$src" "$p"
  fi ;;
hard)
  if [ -e "$p" ] && [ "$p" -ef "$src" ]; then :
  elif [ $cur = directory ]; then echo "refusing to replace the directory $p with a hard link" >&2; exit 1
  else act ln -f -- "$src" "$p"; fi ;;
esac
case $state in absent|link|hard) ;; *)
  if [ -e "$p" ] && [ -n "$mode$owner$group" ]; then
    if [ $check = 1 ]; then
      [ -z "$mode" ] || case $mode in *[!0-7]*) changed=1 ;; *)
        [ "$(printf %o 0$mode)" = "$(stat -c %a -- "$p")" ] || changed=1 ;; esac
      [ -z "$owner" ] || [ "$owner" = "$(stat -c %U -- "$p")" ] || [ "$owner" = "$(stat -c %u -- "$p")" ] || changed=1
      [ -z "$group" ] || [ "$group" = "$(stat -c %G -- "$p")" ] || [ "$group" = "$(stat -c %g -- "$p")" ] || changed=1
    else
      R=; [ $recurse = 1 ] && [ -d "$p" ] && R=-R
      snap() {{ if [ -n "$R" ]; then find "$p" -exec stat -c '%a %u %g' {{}} + | cksum; else stat -c '%a %u %g' -- "$p"; fi; }}
      before=$(snap)
      [ -z "$owner" ] || chown $R -- "$owner" "$p" || exit 1
      [ -z "$group" ] || chgrp $R -- "$group" "$p" || exit 1
      [ -z "$mode" ] || chmod $R -- "$mode" "$p" || exit 1
      [ "$before" = "$(snap)" ] || changed=1
    fi
  fi ;;
esac
echo "{m}changed=$changed"
echo "{m}state=$state"
echo "{m}before=$cur"
if [ -e "$p" ] || [ -L "$p" ]; then echo "{m}stat=$(stat -c '%a %U %G' -- "$p")"; fi
"#,
        path = sh_quote(&a.path),
        state = q(&a.state),
        mode = q(&a.mode),
        owner = q(&a.owner),
        group = q(&a.group),
        src = q(&a.src),
        recurse = flag(a.recurse.unwrap_or(false)),
        force = flag(a.force.unwrap_or(false)),
        check = flag(check_mode),
        m = MARK,
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
        let cmd = RemoteCommand::new(script(&a, ctx.check_mode)).run_as(ctx.run_as.cloned());
        let out = ctx.host.run(&cmd).await?;
        let (marks, _) = split_marks(&out.stdout);
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
