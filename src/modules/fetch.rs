//! `fetch`: a file from the host to the controller, into `dest/HOSTNAME/SRC` (or `dest`
//! itself with `flat`), in one round trip (`slurp.rs`'s read: base64 content and the
//! target's sha1). Written only when its sha1 differs from the local copy's, atomically
//! (a temporary file beside it, renamed); `validate_checksum` compares the written bytes
//! with the target's sha1. Returns Ansible's keys: `dest`, `checksum`, `md5sum`,
//! `remote_checksum`, `remote_md5sum` (null), `file` (the source) when unchanged or
//! missing. A relative `dest` is taken from the playbook's directory. Like Ansible's, it
//! does not run in check mode (skipped).

use super::args;
use super::slurp::{decode, read_remote, Slurped};
use super::{ArgError, Failure, ModuleCtx, ModuleResult, TypedModule};
use crate::modules::put::sha1_hex;
use async_trait::async_trait;
use md5::{Digest, Md5};
use serde::Deserialize;
use serde_json::{json, Value};
use std::path::{Component, Path, PathBuf};

pub struct Fetch;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Args {
    src: String,
    dest: String,
    #[serde(default, deserialize_with = "args::opt_bool")]
    flat: Option<bool>,
    #[serde(default, deserialize_with = "args::opt_bool")]
    fail_on_missing: Option<bool>,
    #[serde(default, deserialize_with = "args::opt_bool")]
    validate_checksum: Option<bool>,
}

/// Python's `os.path.normpath`.
fn normpath(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir if out.file_name().is_some() => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

/// Where the file goes on the controller: `dest/HOST/SRC`, or with `flat` `dest` (a
/// directory when it ends in `/`).
fn local_dest(base: &Path, dest: &str, flat: bool, host: &str, source: &str) -> Result<PathBuf, String> {
    let rooted = |p: &str| {
        if p.starts_with('/') {
            PathBuf::from(p)
        } else {
            base.join(p)
        }
    };
    if !flat {
        return Ok(normpath(&rooted(&format!("{dest}/{host}/{source}"))));
    }
    let dest_path = rooted(dest);
    if dest_path.is_dir() && !dest.ends_with('/') {
        return Err(
            "dest is an existing directory, use a trailing slash if you want to fetch src into that directory".into(),
        );
    }
    if dest.ends_with('/') {
        let name = source.rsplit('/').next().unwrap_or(source);
        let path = dest_path.join(name);
        if path.is_dir() {
            return Err(format!(
                "calculated dest '{}' is an existing directory, use another path that does not point to an existing directory",
                path.display()
            ));
        }
        return Ok(normpath(&path));
    }
    Ok(normpath(&dest_path))
}

fn md5_hex(data: &[u8]) -> String {
    Md5::digest(data).iter().map(|b| format!("{b:02x}")).collect()
}

/// Writes beside the destination and renames it into place: no half-written file. The
/// file is created as any new file is (0666 less the umask), as Ansible's.
fn write_local(path: &Path, data: &[u8]) -> Result<(), String> {
    use std::io::Write;
    let failed = |e: std::io::Error| format!("Failed to fetch the file: {e}");
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let tmp = dir.join(format!(".zdd-fetch.{}.{}", std::process::id(), args::nonce()));
    let written = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&tmp)
        .and_then(|mut f| f.write_all(data))
        .and_then(|()| std::fs::rename(&tmp, path));
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(failed(e));
    }
    Ok(())
}

#[async_trait]
impl TypedModule for Fetch {
    type Args = Args;

    fn name(&self) -> &'static str {
        "fetch"
    }

    fn check(&self, a: &Args, _raw: &Value) -> Result<(), ArgError> {
        if a.src.trim().is_empty() || a.dest.trim().is_empty() {
            return Err(ArgError::new("src and dest are required"));
        }
        Ok(())
    }

    async fn run(&self, ctx: &ModuleCtx<'_>, a: Args) -> Result<ModuleResult, Failure> {
        if ctx.check_mode {
            let mut r = ModuleResult::ok();
            r.msg = Some("check mode not (yet) supported for this module".into());
            r.extra.insert("skipped".into(), json!(true));
            return Ok(r);
        }
        let fail_on_missing = a.fail_on_missing != Some(false);
        let (source, content, remote_checksum) = match read_remote(ctx, &a.src, true).await? {
            Slurped::File {
                source,
                content,
                checksum,
            } => (source, content, checksum),
            Slurped::Error(kind, source) => {
                let mut msg = match kind {
                    "isdir" => "remote file is a directory, fetch cannot work on directories".to_owned(),
                    "missing" => "the remote file does not exist, not transferring, ignored".to_owned(),
                    _ => format!("File is not readable: {source}"),
                };
                let mut r = ModuleResult::ok();
                if fail_on_missing {
                    r.failed = true;
                } else if kind == "isdir" {
                    msg.push_str(", not transferring, ignored");
                }
                if kind != "isdir" {
                    r.extra.insert("file".into(), json!(source));
                }
                r.msg = Some(msg);
                return Ok(r);
            }
        };
        let data = decode(&content)?;
        let host = ctx
            .vars
            .get("inventory_hostname")
            .and_then(Value::as_str)
            .unwrap_or("localhost")
            .to_owned();
        let dest = local_dest(ctx.playbook_dir, &a.dest, a.flat == Some(true), &host, &source)?;
        let new_checksum = sha1_hex(&data);
        let local = std::fs::read(&dest).ok();
        let mut r = ModuleResult::ok();
        let dest_text = dest.to_string_lossy().into_owned();
        if local.as_deref().map(sha1_hex).as_deref() == Some(new_checksum.as_str()) {
            r.extra.insert("md5sum".into(), json!(md5_hex(&data)));
            r.extra.insert("file".into(), json!(source));
            r.extra.insert("dest".into(), json!(dest_text));
            r.extra.insert("checksum".into(), json!(new_checksum));
            return Ok(r);
        }
        write_local(&dest, &data)?;
        let written = std::fs::read(&dest).map_err(|e| format!("cannot read {dest_text}: {e}"))?;
        let checksum = sha1_hex(&written);
        r.extra.insert("md5sum".into(), json!(md5_hex(&written)));
        if a.validate_checksum != Some(false) && Some(&checksum) != remote_checksum.as_ref() {
            r.failed = true;
            r.msg = Some("checksum mismatch".into());
            r.extra.insert("file".into(), json!(source));
        } else {
            r.changed = true;
        }
        r.extra.insert("dest".into(), json!(dest_text));
        r.extra.insert("remote_md5sum".into(), Value::Null);
        r.extra.insert("checksum".into(), json!(checksum));
        r.extra.insert("remote_checksum".into(), json!(remote_checksum));
        Ok(r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dest_is_per_host_unless_flat() {
        let base = Path::new("/play");
        assert_eq!(
            local_dest(base, "out", false, "web1", "/etc/../etc/hosts").unwrap(),
            PathBuf::from("/play/out/web1/etc/hosts")
        );
        assert_eq!(
            local_dest(base, "/tmp/f/", true, "web1", "/etc/hosts").unwrap(),
            PathBuf::from("/tmp/f/hosts")
        );
        assert_eq!(
            local_dest(base, "x.conf", true, "web1", "/etc/hosts").unwrap(),
            PathBuf::from("/play/x.conf")
        );
        assert!(local_dest(base, "/tmp", true, "web1", "/etc/hosts").is_err());
        assert_eq!(md5_hex(b"hello"), "5d41402abc4b2a76b9719d911017c592");
    }

    #[test]
    fn arguments() {
        assert!(args::parse::<Args>("fetch", &json!({"src": "/a", "dest": "b", "flat": "yes"})).is_ok());
        assert!(args::parse::<Args>("fetch", &json!({"src": "/a"})).is_err());
    }
}
