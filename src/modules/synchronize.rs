//! `synchronize` (ansible.posix): the controller's `rsync` between a local path and the
//! host, in either direction (`mode: push` sends `src` to the host's `dest`, `pull` brings
//! the host's `src` to the local `dest`). rsync rides on zdd's own SSH master
//! (`Host::rsync_shell`: `--rsh='ssh -S CTL -o ControlMaster=no'`), so nothing
//! authenticates again and the user and port are the connection's. With `become`, the
//! host's side of a push runs as `sudo -u USER rsync` (unless `rsync_path` is given), as
//! Ansible's action does (a pull with `become` does not escalate: Ansible would run the
//! controller's rsync under sudo).
//! `changed` comes from rsync's itemized output (`--out-format='<<CHANGED>>%i %n%L'`), as
//! in Ansible; check mode is `--dry-run`.
//!
//! Deliberate differences: `private_key`, `set_remote_user`, `use_ssh_args`,
//! `ssh_connection_multiplexing`, `verify_host` and `dest_port` are accepted but the
//! connection zdd already has decides them (its key, user, port and host key checking).

use super::args;
use super::{ArgError, Failure, ModuleCtx, ModuleResult, TypedModule};
use crate::host::sh_quote;
use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

pub struct Synchronize;

const MARK: &str = "<<CHANGED>>";

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Args {
    src: String,
    dest: String,
    #[serde(default)]
    mode: Option<String>,
    #[serde(default, deserialize_with = "args::opt_u16")]
    #[allow(dead_code)] // the connection zdd already has decides it
    dest_port: Option<u16>,
    #[serde(default, deserialize_with = "args::opt_bool")]
    delete: Option<bool>,
    #[serde(default)]
    #[allow(dead_code)] // the connection zdd already has decides it
    private_key: Option<String>,
    #[serde(default)]
    rsync_path: Option<String>,
    #[serde(default, deserialize_with = "args::opt_bool")]
    archive: Option<bool>,
    #[serde(default, deserialize_with = "args::opt_bool")]
    checksum: Option<bool>,
    #[serde(default, deserialize_with = "args::opt_bool")]
    compress: Option<bool>,
    #[serde(default, deserialize_with = "args::opt_bool")]
    existing_only: Option<bool>,
    #[serde(default, deserialize_with = "args::opt_bool")]
    dirs: Option<bool>,
    #[serde(default, deserialize_with = "args::opt_bool")]
    recursive: Option<bool>,
    #[serde(default, deserialize_with = "args::opt_bool")]
    links: Option<bool>,
    #[serde(default, deserialize_with = "args::opt_bool")]
    copy_links: Option<bool>,
    #[serde(default, deserialize_with = "args::opt_bool")]
    perms: Option<bool>,
    #[serde(default, deserialize_with = "args::opt_bool")]
    times: Option<bool>,
    #[serde(default, deserialize_with = "args::opt_bool")]
    owner: Option<bool>,
    #[serde(default, deserialize_with = "args::opt_bool")]
    group: Option<bool>,
    #[serde(default, deserialize_with = "args::opt_bool")]
    #[allow(dead_code)] // the connection zdd already has decides it
    set_remote_user: Option<bool>,
    #[serde(default, deserialize_with = "args::opt_i64")]
    rsync_timeout: Option<i64>,
    #[serde(default, deserialize_with = "args::opt_list")]
    rsync_opts: Option<Vec<String>>,
    #[serde(default, deserialize_with = "args::opt_bool")]
    #[allow(dead_code)] // the connection zdd already has decides it
    use_ssh_args: Option<bool>,
    #[serde(default, deserialize_with = "args::opt_bool")]
    #[allow(dead_code)] // the connection zdd already has decides it
    ssh_connection_multiplexing: Option<bool>,
    #[serde(default, deserialize_with = "args::opt_bool")]
    partial: Option<bool>,
    #[serde(default, deserialize_with = "args::opt_bool")]
    #[allow(dead_code)] // the connection zdd already has decides it
    verify_host: Option<bool>,
    #[serde(default, deserialize_with = "args::opt_bool")]
    delay_updates: Option<bool>,
    #[serde(default, deserialize_with = "args::opt_list")]
    link_dest: Option<Vec<String>>,
}

impl Args {
    fn pull(&self) -> bool {
        self.mode.as_deref() == Some("pull")
    }
}

/// rsync's options, in Ansible's order, before `--rsh`, and after it (`--rsync-path`, the
/// user's options, ...), each one argument.
fn options(a: &Args, check: bool, rsync_path: Option<&str>) -> (Vec<String>, Vec<String>) {
    let mut pre: Vec<String> = Vec::new();
    let mut add = |on: bool, flag: &str| {
        if on {
            pre.push(flag.to_owned());
        }
    };
    if a.delay_updates.unwrap_or(true) {
        add(true, "--delay-updates");
        add(true, "-F");
    }
    add(a.compress.unwrap_or(true), "--compress");
    if let Some(t) = a.rsync_timeout.filter(|t| *t != 0) {
        add(true, &format!("--timeout={t}"));
    }
    add(check, "--dry-run");
    add(a.delete == Some(true), "--delete-after");
    add(a.existing_only == Some(true), "--existing");
    add(a.checksum == Some(true), "--checksum");
    add(a.copy_links == Some(true), "--copy-links");
    let archive = a.archive.unwrap_or(true);
    add(archive, "--archive");
    let parts = [
        (a.recursive, "recursive"),
        (a.links, "links"),
        (a.perms, "perms"),
        (a.times, "times"),
        (a.owner, "owner"),
        (a.group, "group"),
    ];
    for (value, name) in parts {
        match (archive, value) {
            (true, Some(false)) => add(true, &format!("--no-{name}")),
            (false, Some(true)) => add(true, &format!("--{name}")),
            _ => {}
        }
    }
    add(a.dirs == Some(true), "--dirs");
    let mut post = Vec::new();
    if let Some(path) = rsync_path {
        post.push(format!("--rsync-path={path}"));
    }
    post.extend(a.rsync_opts.iter().flatten().cloned());
    if a.partial == Some(true) {
        post.push("--partial".into());
    }
    if let Some(links) = a.link_dest.as_ref().filter(|l| !l.is_empty()) {
        post.push("-H".into());
        post.push("-vv".into());
        for l in links {
            post.push(format!("--link-dest={l}"));
        }
    }
    post.push(format!("--out-format={MARK}%i %n%L"));
    (pre, post)
}

/// A local path as Ansible's action resolves it: absolute as is, else the role's `files/`,
/// the playbook's `files/`, or the playbook's directory; a trailing `/` is kept (it tells
/// rsync to copy a directory's contents).
fn local_path(ctx: &ModuleCtx<'_>, path: &str) -> String {
    if path.starts_with('/') {
        return path.to_owned();
    }
    let trimmed = path.trim_end_matches('/');
    let mut candidates: Vec<PathBuf> = Vec::new();
    if let Some(role) = ctx.role_path {
        candidates.push(role.join("files").join(trimmed));
        candidates.push(role.join(trimmed));
    }
    candidates.push(ctx.playbook_dir.join("files").join(trimmed));
    let found = candidates
        .into_iter()
        .find(|c| c.exists())
        .unwrap_or_else(|| ctx.playbook_dir.join(trimmed));
    let mut s = absolute(&found).display().to_string();
    if path.ends_with('/') && !s.ends_with('/') {
        s.push('/');
    }
    s
}

fn absolute(p: &Path) -> PathBuf {
    if p.is_absolute() {
        p.to_owned()
    } else {
        std::env::current_dir()
            .map(|d| d.join(p))
            .unwrap_or_else(|_| p.to_owned())
    }
}

/// rsync's `HOST:PATH` (an IPv6 address in brackets).
fn remote(host: &str, path: &str) -> String {
    if host.contains(':') {
        format!("[{host}]:{path}")
    } else {
        format!("{host}:{path}")
    }
}

/// Itemized output as Ansible reports it: `changed`, `msg` (the marker removed) and the
/// non-empty lines.
fn outcome(stdout: &str, link_dest: bool) -> (bool, String, Vec<String>) {
    let changed = if link_dest {
        !stdout.contains(&format!("{MARK}."))
    } else {
        stdout.contains(MARK)
    };
    let clean = stdout.replace(MARK, "");
    let lines = clean
        .split('\n')
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect();
    (changed, clean, lines)
}

#[async_trait]
impl TypedModule for Synchronize {
    type Args = Args;

    fn name(&self) -> &'static str {
        "synchronize"
    }

    fn check(&self, a: &Args, _raw: &Value) -> Result<(), ArgError> {
        args::check_choice("mode", a.mode.as_deref(), &["push", "pull"])?;
        for (key, v) in [("src", &a.src), ("dest", &a.dest)] {
            if v.is_empty() {
                return Err(ArgError::new(format!("`synchronize` needs a non-empty `{key}`")).key(key));
            }
        }
        Ok(())
    }

    async fn run(&self, ctx: &ModuleCtx<'_>, a: Args) -> Result<ModuleResult, Failure> {
        let shell = ctx.host.rsync_shell().ok_or_else(|| {
            Failure::Task(format!("{}: this connection cannot carry rsync", ctx.host.name()))
        })?;
        // Ansible's action: with become (sudo), a push runs the host's side under sudo.
        let become_path = ctx
            .run_as
            .filter(|b| b.method == "sudo" && !a.pull() && shell.host.is_some())
            .map(|b| format!("sudo -u {} rsync", b.user));
        let rsync_path = a.rsync_path.clone().or(become_path);
        let (pre, post) = options(&a, ctx.check_mode, rsync_path.as_deref());
        let (src, dest) = match (&shell.host, a.pull()) {
            (Some(h), false) => (local_path(ctx, &a.src), remote(h, &a.dest)),
            (Some(h), true) => (remote(h, &a.src), local_path(ctx, &a.dest)),
            (None, false) => (local_path(ctx, &a.src), a.dest.clone()),
            (None, true) => (a.src.clone(), local_path(ctx, &a.dest)),
        };
        let mut argv = pre;
        // An `--rsh` of the user's own (in `rsync_opts`) replaces zdd's, as in Ansible.
        let own_rsh = a.rsync_opts.iter().flatten().any(|o| o.contains("--rsh"));
        if let Some(rsh) = shell.rsh.as_ref().filter(|_| !own_rsh) {
            argv.push(format!(
                "--rsh={}",
                rsh.iter().map(|w| sh_quote(w)).collect::<Vec<_>>().join(" ")
            ));
        }
        argv.extend(post);
        argv.push(src);
        argv.push(dest);
        let cmd = std::iter::once("rsync".to_owned())
            .chain(argv.iter().map(|w| sh_quote(w)))
            .collect::<Vec<_>>()
            .join(" ");
        let out = tokio::process::Command::new("rsync")
            .args(&argv)
            .stdin(std::process::Stdio::null())
            .kill_on_drop(true)
            .output()
            .await
            .map_err(|e| Failure::Task(format!("cannot run rsync on the controller: {e}")))?;
        let rc = out.status.code().unwrap_or(-1);
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        if rc != 0 {
            let mut r = ModuleResult::failed(stderr);
            r.rc = Some(rc);
            r.extra.insert("cmd".into(), json!(cmd));
            return Ok(r);
        }
        let link_dest = a.link_dest.as_ref().is_some_and(|l| !l.is_empty());
        let (changed, msg, lines) = outcome(&stdout, link_dest);
        let mut r = ModuleResult::changed(changed);
        r.rc = Some(rc);
        r.msg = Some(msg.clone());
        r.extra.insert("cmd".into(), json!(cmd));
        r.extra.insert("stdout_lines".into(), json!(lines));
        if ctx.diff {
            r.extra.insert("diff".into(), json!({ "prepared": msg }));
        }
        Ok(r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(v: Value) -> Args {
        args::parse("synchronize", &v).unwrap()
    }

    #[test]
    fn options_follow_ansible_defaults_and_overrides() {
        let a = parse(json!({"src": "a/", "dest": "/b", "delete": true, "times": false,
            "rsync_opts": ["--exclude=.git"], "partial": "yes"}));
        let (pre, post) = options(&a, true, Some("sudo rsync"));
        assert_eq!(
            pre,
            [
                "--delay-updates",
                "-F",
                "--compress",
                "--dry-run",
                "--delete-after",
                "--archive",
                "--no-times"
            ]
        );
        assert_eq!(
            post,
            [
                "--rsync-path=sudo rsync",
                "--exclude=.git",
                "--partial",
                "--out-format=<<CHANGED>>%i %n%L"
            ]
        );
        let a = parse(
            json!({"src": "a", "dest": "b", "archive": false, "recursive": true,
            "compress": false, "delay_updates": false}),
        );
        let (pre, _) = options(&a, false, None);
        assert_eq!(pre, ["--recursive"]);
    }

    #[test]
    fn itemized_output_gives_changed_and_lines() {
        let (changed, msg, lines) = outcome("<<CHANGED>>cd+++++++++ d/\n<<CHANGED>>>f+++++++++ d/f\n", false);
        assert!(changed);
        assert_eq!(msg, "cd+++++++++ d/\n>f+++++++++ d/f\n");
        assert_eq!(lines, ["cd+++++++++ d/", ">f+++++++++ d/f"]);
        assert_eq!(outcome("", false), (false, String::new(), vec![]));
        assert!(!outcome("<<CHANGED>>.d          x/\n", true).0);
    }

    #[test]
    fn bad_mode_and_unknown_key_are_refused() {
        let a = parse(json!({"src": "a", "dest": "b", "mode": "both"}));
        assert!(Synchronize.check(&a, &Value::Null).is_err());
        assert!(
            args::parse::<Args>("synchronize", &json!({"src": "a", "dest": "b", "delet": true})).is_err()
        );
        assert_eq!(remote("::1", "/x"), "[::1]:/x");
    }
}
