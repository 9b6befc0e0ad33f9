//! `unarchive`: unpack a tar (gz, bz2, xz) or zip archive into an existing `dest`, from a
//! file on the controller (pushed on stdin), one already on the host (`remote_src: yes`)
//! or a URL (downloaded on the host). As in Ansible it changes nothing when `dest` already
//! holds the archive's files: zdd unpacks into a private staging directory first and
//! compares type, size, content, mode and modification time with `dest`. `creates`,
//! `include`/`exclude`, `extra_opts`, `list_files`, `keep_newer`, and `mode`/`owner`/
//! `group` on every unpacked file. Returns `dest`, `src`, `handler` (Ansible's class
//! name), `files` with `list_files`, and `dest`'s own attributes.
//!
//! Not done (rejected as unknown arguments): `validate_certs`, `io_buffer_size`,
//! `decrypt`, SELinux contexts and `attributes`.

use super::args::{self, fresh_mark, mark_lines};
use super::{find_local_file, ArgError, Failure, ModuleCtx, ModuleResult, StaticCtx, TypedModule};
use crate::host::{sh_quote, sh_script, RemoteCommand};
use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{json, Value};

pub struct Unarchive;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Args {
    src: String,
    dest: String,
    #[serde(default, deserialize_with = "args::opt_bool")]
    remote_src: Option<bool>,
    /// Deprecated: `copy: no` is `remote_src: yes`.
    #[serde(default, deserialize_with = "args::opt_bool")]
    copy: Option<bool>,
    #[serde(default)]
    creates: Option<String>,
    #[serde(default, deserialize_with = "args::opt_list")]
    extra_opts: Option<Vec<String>>,
    #[serde(default, deserialize_with = "args::opt_list")]
    include: Option<Vec<String>>,
    #[serde(default, deserialize_with = "args::opt_list")]
    exclude: Option<Vec<String>>,
    #[serde(default, deserialize_with = "args::opt_bool")]
    list_files: Option<bool>,
    #[serde(default, deserialize_with = "args::opt_bool")]
    keep_newer: Option<bool>,
    #[serde(default, deserialize_with = "args::opt_mode")]
    mode: Option<String>,
    #[serde(default, deserialize_with = "args::opt_text")]
    owner: Option<String>,
    #[serde(default, deserialize_with = "args::opt_text")]
    group: Option<String>,
}

impl Args {
    fn remote(&self) -> bool {
        self.remote_src == Some(true) || self.copy == Some(false)
    }
}

fn words(items: &[String]) -> String {
    items.iter().map(|w| sh_quote(w)).collect::<Vec<_>>().join(" ")
}

fn script(a: &Args, name: &str, size: Option<usize>, check: bool, mark: &str) -> String {
    let flag = |b: bool| if b { "1" } else { "0" };
    let excludes = a.exclude.clone().unwrap_or_default();
    let excl_zip = if excludes.is_empty() {
        String::new()
    } else {
        format!("-x {}", words(&excludes))
    };
    let excl_tar = excludes
        .iter()
        .map(|e| sh_quote(&format!("--exclude={e}")))
        .collect::<Vec<_>>()
        .join(" ");
    let creates = match &a.creates {
        Some(c) => format!(
            "if [ -e {} ]; then cat >/dev/null; echo \"${{m}}skipped=1\"; exit 0; fi\n",
            sh_quote(c)
        ),
        None => String::new(),
    };
    sh_script(
        &[
            ("m", mark),
            ("src", &a.src),
            ("dest", &a.dest),
            ("name", name),
            ("pushed", flag(size.is_some())),
            ("size", &size.unwrap_or(0).to_string()),
            ("check", flag(check)),
            ("list_files", flag(a.list_files == Some(true))),
            ("keep_newer", flag(a.keep_newer == Some(true))),
            ("mode", a.mode.as_deref().unwrap_or("")),
            ("owner", a.owner.as_deref().unwrap_or("")),
            ("group", a.group.as_deref().unwrap_or("")),
            ("extra", &words(a.extra_opts.as_deref().unwrap_or_default())),
            ("members", &words(a.include.as_deref().unwrap_or_default())),
            ("excl_zip", &excl_zip),
            ("excl_tar", &excl_tar),
        ],
        &(creates + include_str!("unarchive.sh")),
    )
}

#[async_trait]
impl TypedModule for Unarchive {
    type Args = Args;

    fn name(&self) -> &'static str {
        "unarchive"
    }

    fn check(&self, a: &Args, _raw: &Value) -> Result<(), ArgError> {
        if a.remote_src.is_some() && a.copy.is_some() {
            return Err(
                ArgError::new("parameters are mutually exclusive: ('copy', 'remote_src')").key("copy"),
            );
        }
        if !a.remote() && a.src.contains("://") && !args::is_template(&a.src) {
            return Err(ArgError::new(format!(
                "Unsupported option, an URI src ({}) is only supported when remote_src is True",
                a.src
            ))
            .key("src")
            .hint("add `remote_src: true`"));
        }
        if a.include.is_some() && a.exclude.is_some() {
            return Err(ArgError::new("parameters are mutually exclusive: exclude|include").key("include"));
        }
        Ok(())
    }

    fn check_static(&self, a: &Args, _raw: &Value, ctx: &StaticCtx<'_>) -> Result<(), ArgError> {
        if !a.remote()
            && a.copy.is_none()
            && !args::is_template(&a.src)
            && find_local_file(ctx.playbook_dir, ctx.role_path, "files", &a.src).is_none()
        {
            return Err(ArgError::new(format!("file `{}` not found", a.src))
                .key("src")
                .hint("a file on the host needs `remote_src: true`"));
        }
        Ok(())
    }

    async fn run(&self, ctx: &ModuleCtx<'_>, a: Args) -> Result<ModuleResult, Failure> {
        let (name, content) = if a.remote() {
            (String::new(), None)
        } else {
            let path = find_local_file(ctx.playbook_dir, ctx.role_path, "files", &a.src)
                .ok_or_else(|| format!("Could not find or access '{}' on the Ansible Controller.", a.src))?;
            let bytes = std::fs::read(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
            let name = path
                .file_name()
                .map_or_else(|| "source".into(), |n| n.to_string_lossy().into_owned());
            (name, Some(bytes))
        };
        let mark = fresh_mark();
        let size = content.as_ref().map(Vec::len);
        let mut cmd =
            RemoteCommand::new(script(&a, &name, size, ctx.check_mode, &mark)).run_as(ctx.run_as.cloned());
        if let Some(bytes) = content {
            cmd = cmd.stdin(bytes);
        }
        let out = ctx.host.run(&cmd).await?;
        let mut rest = String::new();
        let lines = mark_lines(&out.stdout, &mark, &mut rest);
        let get = |k: &str| lines.iter().rev().find(|(key, _)| *key == k).map(|(_, v)| *v);
        let mut r = ModuleResult::default();
        match get("skipped") {
            Some("gtar") => {
                r.extra.insert("skipped".into(), json!(true));
                r.msg = Some("remote module (unarchive) does not support check mode when using gtar".into());
                return Ok(r);
            }
            Some(_) => {
                r.extra.insert("skipped".into(), json!(true));
                r.msg = Some(format!(
                    "skipped, since {} exists",
                    a.creates.as_deref().unwrap_or_default()
                ));
                return Ok(r);
            }
            None => {}
        }
        r.extra.insert("dest".into(), json!(a.dest));
        if let Some(h) = get("handler") {
            r.extra.insert("handler".into(), json!(h));
        }
        r.extra.insert("src".into(), json!(get("src").unwrap_or(&a.src)));
        if out.rc != 0 || get("changed").is_none() {
            r.failed = true;
            r.msg = Some(match (get("msg"), out.stderr.trim()) {
                (Some(m), _) => m.to_owned(),
                (None, "") => format!("unarchive failed on the host (exit code {})", out.rc),
                (None, e) => e.to_owned(),
            });
            return Ok(r);
        }
        r.changed = get("changed") == Some("1");
        if let Some(rc) = get("extract_rc") {
            r.extra.insert(
                "extract_results".into(),
                json!({"rc": rc.parse::<i64>().unwrap_or(0), "out": "", "err": ""}),
            );
        }
        if a.list_files == Some(true) {
            let files: Vec<&str> = lines
                .iter()
                .filter(|(k, _)| *k == "file")
                .map(|(_, v)| *v)
                .collect();
            r.extra.insert("files".into(), json!(files));
        }
        if let Some(stat) = get("stat") {
            let f: Vec<&str> = stat.split(' ').collect();
            let num = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
            let mode = u32::from_str_radix(f.first().copied().unwrap_or("0"), 8).unwrap_or(0);
            r.extra.insert("mode".into(), json!(format!("{mode:04o}")));
            r.extra.insert("uid".into(), json!(num(1)));
            r.extra.insert("gid".into(), json!(num(2)));
            r.extra.insert("size".into(), json!(num(3)));
            r.extra
                .insert("owner".into(), json!(f.get(4).copied().unwrap_or("")));
            r.extra
                .insert("group".into(), json!(f.get(5).copied().unwrap_or("")));
            r.extra.insert("state".into(), json!("directory"));
        }
        Ok(r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::args::MARK;

    fn parse(v: Value) -> Result<Args, ArgError> {
        Unarchive
            .parse(&v)
            .and_then(|a| Unarchive.check(&a, &v).map(|_| a))
    }

    #[test]
    fn arguments_as_ansible_takes_them() {
        assert!(parse(json!({"src": "a.tgz", "dest": "/x", "remote_src": "yes"}))
            .unwrap()
            .remote());
        assert!(parse(json!({"src": "a.tgz", "dest": "/x", "copy": false}))
            .unwrap()
            .remote());
        let err = parse(json!({"src": "https://h/a.tgz", "dest": "/x"})).unwrap_err();
        assert!(
            err.message.contains("only supported when remote_src is True"),
            "{err:?}"
        );
        assert!(parse(json!({"src": "a", "dest": "/x", "copy": true, "remote_src": false})).is_err());
        let err = parse(json!({"src": "a", "dest": "/x", "list_file": true})).unwrap_err();
        assert_eq!(err.hint.as_deref(), Some("did you mean `list_files`?"));
    }

    #[test]
    fn members_and_options_are_quoted_words() {
        let a = parse(json!({"src": "a.tgz", "dest": "/x", "exclude": ["b c", "$(d)"],
            "extra_opts": ["--strip-components=1"], "creates": "/x/done"}))
        .unwrap();
        let s = script(&a, "a.tgz", Some(3), false, MARK);
        let excl = format!("{} {}", sh_quote("--exclude=b c"), sh_quote("--exclude=$(d)"));
        assert!(s.contains(&format!("excl_tar={}\n", sh_quote(&excl))), "{s}");
        let extra = sh_quote("--strip-components=1");
        assert!(s.contains(&format!("extra={}\n", sh_quote(&extra))), "{s}");
        assert!(s.starts_with("m='__zdd__ '\n"), "{s}");
        assert!(s.contains("if [ -e /x/done ]; then"), "{s}");
    }
}
