//! `git`: clone a repository on the host, or bring an existing clone to `version` (a
//! branch, a tag or a commit), as Ansible's `git` module does, with the host's own git:
//! `before`/`after` commits, `remote_url_changed`, `depth`, `force` (local modifications
//! without it fail, as in Ansible), `update: no`, `clone: no`, `bare`, `single_branch`,
//! `refspec`, submodules (`recursive`, `track_submodules`), and SSH options for the
//! clone (`accept_hostkey`, `accept_newhostkey`, `key_file`, `ssh_opts`) through
//! `GIT_SSH_COMMAND`. Check mode asks the remote (`git ls-remote`) and changes nothing.
//!
//! Not done (rejected as unknown arguments): `archive`, `verify_commit`,
//! `gpg_allowlist`, `separate_git_dir`.

use super::args::{self, fresh_mark, split_marks};
use super::{ArgError, Failure, ModuleCtx, ModuleResult, TypedModule};
use crate::host::{sh_quote, sh_script, RemoteCommand};
use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{json, Value};

pub struct Git;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Args {
    #[serde(alias = "name")]
    repo: String,
    #[serde(default)]
    dest: Option<String>,
    #[serde(default, deserialize_with = "args::opt_text")]
    version: Option<String>,
    #[serde(default)]
    remote: Option<String>,
    #[serde(default)]
    refspec: Option<String>,
    #[serde(default, deserialize_with = "args::opt_f64")]
    depth: Option<f64>,
    #[serde(default, deserialize_with = "args::opt_bool")]
    force: Option<bool>,
    #[serde(default, deserialize_with = "args::opt_bool")]
    update: Option<bool>,
    #[serde(default, deserialize_with = "args::opt_bool")]
    clone: Option<bool>,
    #[serde(default, deserialize_with = "args::opt_bool")]
    bare: Option<bool>,
    #[serde(default, deserialize_with = "args::opt_bool")]
    single_branch: Option<bool>,
    #[serde(default, deserialize_with = "args::opt_bool")]
    accept_hostkey: Option<bool>,
    #[serde(default, deserialize_with = "args::opt_bool")]
    accept_newhostkey: Option<bool>,
    #[serde(default)]
    key_file: Option<String>,
    #[serde(default, alias = "ssh_args")]
    ssh_opts: Option<String>,
    #[serde(default, deserialize_with = "args::opt_bool")]
    recursive: Option<bool>,
    #[serde(default, deserialize_with = "args::opt_bool")]
    track_submodules: Option<bool>,
    #[serde(default, deserialize_with = "args::opt_text")]
    umask: Option<String>,
    #[serde(default)]
    executable: Option<String>,
    #[serde(default)]
    reference: Option<String>,
}

/// Ansible's `GIT_SSH_COMMAND`: ssh with the task's options and key.
fn ssh_command(a: &Args) -> Option<String> {
    let mut opts = a.ssh_opts.clone();
    let has_policy = |o: &Option<String>| {
        o.as_deref().is_some_and(|o| {
            o.contains("-o StrictHostKeyChecking=no") || o.contains("-o StrictHostKeyChecking=accept-new")
        })
    };
    for (on, policy) in [
        (a.accept_hostkey, "-o StrictHostKeyChecking=no"),
        (a.accept_newhostkey, "-o StrictHostKeyChecking=accept-new"),
    ] {
        if on == Some(true) && !has_policy(&opts) {
            opts = Some(match opts {
                Some(o) => format!("{o} {policy}"),
                None => policy.to_owned(),
            });
        }
    }
    if opts.is_none() && a.key_file.is_none() {
        return None;
    }
    let mut cmd = String::from("ssh");
    if let Some(key) = &a.key_file {
        cmd.push_str(&format!(" -i {} -o IdentitiesOnly=yes", sh_quote(key)));
    }
    if let Some(o) = opts {
        cmd.push(' ');
        cmd.push_str(&o);
    }
    Some(cmd)
}

/// An absolute local path is a `file://` URL, as Ansible turns it (shallow clones need it).
fn repo_url(repo: &str) -> String {
    if repo.starts_with('/') {
        format!("file://{repo}")
    } else {
        repo.to_owned()
    }
}

fn script(a: &Args, dest: &str, check: bool, mark: &str) -> String {
    let flag = |b: bool| if b { "1" } else { "0" };
    let depth = a.depth.filter(|d| *d >= 1.0).map(|d| (d as u64).to_string());
    let git = match &a.executable {
        Some(exe) => format!("git() {{ {} \"$@\"; }}\n", sh_quote(exe)),
        None => String::new(),
    };
    let body = sh_script(
        &[
            ("m", mark),
            ("repo", &repo_url(&a.repo)),
            ("dest", dest),
            ("version", a.version.as_deref().unwrap_or("HEAD")),
            ("remote", a.remote.as_deref().unwrap_or("origin")),
            ("depth", depth.as_deref().unwrap_or("")),
            ("force", flag(a.force == Some(true))),
            ("update", flag(a.update != Some(false))),
            ("clone", flag(a.clone != Some(false))),
            ("bare", flag(a.bare == Some(true))),
            ("single_branch", flag(a.single_branch == Some(true))),
            ("refspec", a.refspec.as_deref().unwrap_or("")),
            ("recursive", flag(a.recursive != Some(false))),
            ("track", flag(a.track_submodules == Some(true))),
            ("check", flag(check)),
            ("ssh_cmd", ssh_command(a).as_deref().unwrap_or("")),
            ("umask_set", a.umask.as_deref().unwrap_or("")),
            ("reference", a.reference.as_deref().unwrap_or("")),
        ],
        include_str!("git.sh"),
    );
    // The executable's function replaces the `command -v git` probe's answer too.
    git + &body
}

#[async_trait]
impl TypedModule for Git {
    type Args = Args;

    fn name(&self) -> &'static str {
        "git"
    }

    fn check(&self, a: &Args, _raw: &Value) -> Result<(), ArgError> {
        if a.dest.is_none() && a.clone != Some(false) {
            return Err(
                ArgError::new("the destination directory must be specified unless clone=no").key("dest"),
            );
        }
        if let Some(u) = a.umask.as_deref().filter(|u| !args::is_template(u)) {
            if u.is_empty() || !u.bytes().all(|b| (b'0'..=b'7').contains(&b)) {
                return Err(ArgError::new("umask must be an octal integer").key("umask"));
            }
        }
        Ok(())
    }

    async fn run(&self, ctx: &ModuleCtx<'_>, a: Args) -> Result<ModuleResult, Failure> {
        let dest = a.dest.clone().unwrap_or_default();
        let mark = fresh_mark();
        let body = script(&a, &dest, ctx.check_mode, &mark);
        let cmd = RemoteCommand::new(body).run_as(ctx.run_as.cloned());
        let out = ctx.host.run(&cmd).await?;
        let (marks, _) = split_marks(&out.stdout, &mark);
        let mut r = ModuleResult::default();
        let sha = |k: &str| {
            marks
                .get(k)
                .filter(|v| !v.is_empty())
                .map_or(Value::Null, |v| json!(v))
        };
        r.extra.insert("before".into(), sha("before"));
        if marks.contains_key("after") {
            r.extra.insert("after".into(), sha("after"));
        }
        if let Some(c) = marks.get("remote_url_changed") {
            r.extra.insert("remote_url_changed".into(), json!(c == "1"));
        }
        if let Some(w) = marks.get("warning") {
            r.extra.insert("warnings".into(), json!([w]));
        }
        r.msg = marks.get("msg").cloned();
        if out.rc != 0 {
            r.failed = true;
            if r.msg.is_none() {
                r.msg = Some(match out.stderr.trim() {
                    "" => format!("git failed (exit code {})", out.rc),
                    e => e.to_owned(),
                });
            }
            return Ok(r);
        }
        r.changed = marks.get("changed").is_some_and(|c| c == "1");
        Ok(r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::args::MARK;

    fn parse(v: Value) -> Result<Args, ArgError> {
        Git.parse(&v).and_then(|a| Git.check(&a, &v).map(|_| a))
    }

    #[test]
    fn arguments_and_aliases() {
        let a = parse(json!({"name": "/srv/repo", "dest": "/x", "version": 2, "depth": "1"})).unwrap();
        assert_eq!((a.repo.as_str(), a.version.as_deref()), ("/srv/repo", Some("2")));
        assert_eq!(repo_url(&a.repo), "file:///srv/repo");
        assert!(parse(json!({"repo": "r"}))
            .unwrap_err()
            .message
            .contains("unless clone=no"));
        assert!(parse(json!({"repo": "r", "clone": false})).is_ok());
        let err = parse(json!({"repo": "r", "dest": "d", "verison": "v1"})).unwrap_err();
        assert_eq!(err.hint.as_deref(), Some("did you mean `version`?"));
        assert!(parse(json!({"repo": "r", "dest": "d", "umask": "9"})).is_err());
    }

    #[test]
    fn ssh_options_as_ansible_builds_them() {
        let a = parse(json!({"repo": "git@h:r", "dest": "d", "accept_hostkey": true, "key_file": "/k y"}))
            .unwrap();
        assert_eq!(
            ssh_command(&a).as_deref(),
            Some("ssh -i '/k y' -o IdentitiesOnly=yes -o StrictHostKeyChecking=no")
        );
        let a = parse(json!({"repo": "r", "dest": "d", "accept_newhostkey": true,
            "ssh_opts": "-o StrictHostKeyChecking=no"}))
        .unwrap();
        assert_eq!(
            ssh_command(&a).as_deref(),
            Some("ssh -o StrictHostKeyChecking=no")
        );
        assert_eq!(
            ssh_command(&parse(json!({"repo": "r", "dest": "d"})).unwrap()),
            None
        );
    }

    #[test]
    fn the_script_gets_the_defaults() {
        let a = parse(json!({"repo": "https://h/r.git", "dest": "/srv/app"})).unwrap();
        let s = script(&a, "/srv/app", false, MARK);
        for line in [
            "version=HEAD\n",
            "remote=origin\n",
            "update=1\n",
            "recursive=1\n",
            "depth=''\n",
        ] {
            assert!(s.contains(line), "{line} in {s}");
        }
    }
}
