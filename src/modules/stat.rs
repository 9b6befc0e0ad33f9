//! `stat`: what Ansible's `stat` says of a path, from one POSIX sh script (`stat.sh`:
//! GNU `stat`, `test`, `readlink`, `sha1sum` and friends, `file`, `lsattr`). Read-only:
//! it runs in check mode and never reports a change.
//!
//! Returned under `stat`, with Ansible's keys and types: `exists`, and for a path that
//! exists `path mode isdir ischr isblk isreg isfifo islnk issock uid gid size inode dev
//! nlink atime mtime ctime` (times as floats), the permission bits (`rusr`...`xoth`,
//! `isuid`, `isgid`), `blocks block_size device_type`, `readable writeable executable`,
//! `lnk_source lnk_target` for a link, `pw_name gr_name`, `checksum` for a readable regular
//! file, `mimetype charset` (`get_mime`), `version attributes attr_flags`
//! (`get_attributes`). Not done: `$VAR`s in `path` are not expanded (`~` is), and the
//! BSD/macOS-only keys (`flags`, `birthtime`, ...) are never returned, as on Linux.

use super::args::{self, check_choice, fresh_mark, split_marks};
use super::{ArgError, Failure, ModuleCtx, ModuleResult, TypedModule};
use crate::host::{sh_script, RemoteCommand};
use async_trait::async_trait;
use indexmap::IndexMap;
use serde::Deserialize;
use serde_json::{json, Map, Value};

pub struct Stat;

const ALGORITHMS: &[&str] = &["md5", "sha1", "sha224", "sha256", "sha384", "sha512"];

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Args {
    #[serde(alias = "dest", alias = "name")]
    path: String,
    #[serde(default, deserialize_with = "args::opt_bool")]
    follow: Option<bool>,
    #[serde(default, deserialize_with = "args::opt_bool")]
    get_checksum: Option<bool>,
    #[serde(
        default,
        alias = "mime",
        alias = "mime_type",
        alias = "mime-type",
        deserialize_with = "args::opt_bool"
    )]
    get_mime: Option<bool>,
    #[serde(
        default,
        alias = "attr",
        alias = "attributes",
        deserialize_with = "args::opt_bool"
    )]
    get_attributes: Option<bool>,
    #[serde(default, alias = "checksum", alias = "checksum_algo")]
    checksum_algorithm: Option<String>,
}

/// `lsattr` letters, named as Ansible names them.
const ATTRIBUTES: &[(char, &str)] = &[
    ('A', "noatime"),
    ('a', "append"),
    ('c', "compressed"),
    ('C', "nocow"),
    ('d', "nodump"),
    ('D', "dirsync"),
    ('e', "extents"),
    ('E', "encrypted"),
    ('h', "blocksize"),
    ('i', "immutable"),
    ('I', "indexed"),
    ('j', "journalled"),
    ('N', "inline"),
    ('s', "zero"),
    ('S', "synchronous"),
    ('t', "notail"),
    ('T', "blockroot"),
    ('u', "undelete"),
    ('X', "compressedraw"),
    ('Z', "compresseddirty"),
];

fn flag(b: bool) -> &'static str {
    if b {
        "1"
    } else {
        "0"
    }
}

fn script(a: &Args, mark: &str) -> String {
    let algo = match a.get_checksum {
        Some(false) => "",
        _ => a.checksum_algorithm.as_deref().unwrap_or("sha1"),
    };
    sh_script(
        &[
            ("m", mark),
            ("path", &a.path),
            ("follow", flag(a.follow == Some(true))),
            ("algo", algo),
            ("mime", flag(a.get_mime != Some(false))),
            ("attrs", flag(a.get_attributes != Some(false))),
        ],
        include_str!("stat.sh"),
    )
}

/// Linux's `makedev`, from `stat`'s hexadecimal major and minor.
fn device_number(major: &str, minor: &str) -> u64 {
    let major = u64::from_str_radix(major, 16).unwrap_or(0);
    let minor = u64::from_str_radix(minor, 16).unwrap_or(0);
    ((major & 0xffff_f000) << 32) | ((major & 0xfff) << 8) | ((minor & 0xffff_ff00) << 12) | (minor & 0xff)
}

/// The `stat` dictionary from the script's marks, in Ansible's key order. `mime` and
/// `attrs`: whether they were asked for (Ansible then returns its defaults when `file` or
/// `lsattr` cannot tell).
fn stat_value(marks: &IndexMap<String, String>, mime: bool, attrs: bool) -> Value {
    let mut st = Map::new();
    let Some(fields) = marks.get("stat") else {
        st.insert("exists".into(), json!(false));
        return Value::Object(st);
    };
    let f: Vec<&str> = fields.split(' ').collect();
    let int = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    let float = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    let raw = u32::from_str_radix(f.first().copied().unwrap_or("0"), 16).unwrap_or(0);
    let kind = raw & 0o170_000;
    let bit = |b: u32| raw & b != 0;
    st.insert("exists".into(), json!(true));
    st.insert(
        "path".into(),
        json!(marks.get("path").cloned().unwrap_or_default()),
    );
    st.insert("mode".into(), json!(format!("{:04o}", raw & 0o7777)));
    for (key, k) in [
        ("isdir", 0o040_000),
        ("ischr", 0o020_000),
        ("isblk", 0o060_000),
        ("isreg", 0o100_000),
        ("isfifo", 0o010_000),
        ("islnk", 0o120_000),
        ("issock", 0o140_000),
    ] {
        st.insert(key.into(), json!(kind == k));
    }
    for (key, i) in [
        ("uid", 1),
        ("gid", 2),
        ("size", 3),
        ("inode", 4),
        ("dev", 5),
        ("nlink", 6),
    ] {
        st.insert(key.into(), json!(int(i)));
    }
    for (key, i) in [("atime", 7), ("mtime", 8), ("ctime", 9)] {
        st.insert(key.into(), json!(float(i)));
    }
    for (key, b) in [
        ("wusr", 0o200),
        ("rusr", 0o400),
        ("xusr", 0o100),
        ("wgrp", 0o020),
        ("rgrp", 0o040),
        ("xgrp", 0o010),
        ("woth", 0o002),
        ("roth", 0o004),
        ("xoth", 0o001),
        ("isuid", 0o4000),
        ("isgid", 0o2000),
    ] {
        st.insert(key.into(), json!(bit(b)));
    }
    st.insert("blocks".into(), json!(int(10)));
    st.insert("block_size".into(), json!(int(11)));
    let (major, minor) = (
        f.get(12).copied().unwrap_or("0"),
        f.get(13).copied().unwrap_or("0"),
    );
    st.insert("device_type".into(), json!(device_number(major, minor)));
    for key in ["readable", "writeable", "executable"] {
        st.insert(key.into(), json!(marks.contains_key(key)));
    }
    for key in ["lnk_source", "lnk_target"] {
        if let Some(v) = marks.get(key) {
            st.insert(key.into(), json!(v));
        }
    }
    // GNU stat prints UNKNOWN for an id without a name; Ansible leaves the key out.
    for key in ["pw_name", "gr_name"] {
        if let Some(name) = marks.get(key).filter(|n| n.as_str() != "UNKNOWN") {
            st.insert(key.into(), json!(name));
        }
    }
    if let Some(sum) = marks.get("checksum") {
        st.insert("checksum".into(), json!(sum));
    }
    if let Some(mime) = marks.get("mime") {
        let (mimetype, charset) = mime.split_once(';').unwrap_or((mime, ""));
        let charset = charset.split_once('=').map_or("unknown", |(_, c)| c.trim());
        st.insert("mimetype".into(), json!(mimetype.trim()));
        st.insert("charset".into(), json!(charset));
    } else if mime {
        st.insert("mimetype".into(), json!("unknown"));
        st.insert("charset".into(), json!("unknown"));
    }
    if attrs {
        let words: Vec<&str> = marks
            .get("lsattr")
            .map(|l| l.split_whitespace().collect())
            .unwrap_or_default();
        let flags = words.get(1).map(|f| f.replace('-', "")).unwrap_or_default();
        let names: Vec<&str> = flags
            .chars()
            .filter_map(|c| ATTRIBUTES.iter().find(|(l, _)| *l == c).map(|(_, n)| *n))
            .collect();
        st.insert("version".into(), words.first().map_or(Value::Null, |v| json!(v)));
        st.insert("attributes".into(), json!(names));
        st.insert("attr_flags".into(), json!(flags));
    }
    Value::Object(st)
}

#[async_trait]
impl TypedModule for Stat {
    type Args = Args;

    fn name(&self) -> &'static str {
        "stat"
    }

    fn check(&self, a: &Args, _raw: &Value) -> Result<(), ArgError> {
        check_choice("checksum_algorithm", a.checksum_algorithm.as_deref(), ALGORITHMS)?;
        if a.path.trim().is_empty() {
            return Err(ArgError::new("`stat` needs a `path`").key("path"));
        }
        Ok(())
    }

    async fn run(&self, ctx: &ModuleCtx<'_>, a: Args) -> Result<ModuleResult, Failure> {
        // Read-only: the same in check mode.
        let mark = fresh_mark();
        let cmd = RemoteCommand::new(script(&a, &mark)).run_as(ctx.run_as.cloned());
        let out = ctx.host.run(&cmd).await?;
        if out.rc != 0 {
            let mut r = ModuleResult::failed(match out.stderr.trim() {
                "" => format!("stat failed (exit code {})", out.rc),
                msg => msg.to_owned(),
            });
            r.rc = Some(out.rc);
            return Ok(r);
        }
        let (marks, _) = split_marks(&out.stdout, &mark);
        let mut r = ModuleResult::ok();
        let st = stat_value(&marks, a.get_mime != Some(false), a.get_attributes != Some(false));
        r.extra.insert("stat".into(), st);
        Ok(r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::args::MARK;
    use crate::modules::{registry, StaticCtx};

    fn check(args: Value) -> Result<(), ArgError> {
        registry()
            .get("ansible.builtin.stat")
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
    fn arguments_and_their_aliases() {
        assert!(check(json!({"path": "/etc/passwd"})).is_ok());
        assert!(check(json!({"dest": "/x", "follow": "yes", "checksum": "sha256", "mime": false})).is_ok());
        assert!(check(json!({"name": "/x", "checksum_algo": "md5", "attributes": "no"})).is_ok());
        assert!(check(
            json!({"path": "{{ p }}", "get_checksum": "{{ c }}", "checksum_algorithm": "{{ a }}"})
        )
        .is_ok());
        let err = check(json!({"path": "/x", "checksum_algorithm": "sha2"})).unwrap_err();
        assert_eq!(err.key.as_deref(), Some("checksum_algorithm"));
        assert_eq!(err.hint.as_deref(), Some("did you mean `sha1`?"));
        let err = check(json!({"path": "/x", "get_checksun": true})).unwrap_err();
        assert_eq!(
            (err.key.as_deref(), err.hint.as_deref()),
            (Some("get_checksun"), Some("did you mean `get_checksum`?"))
        );
        let err = check(json!({"follow": true})).unwrap_err();
        assert!(err.message.contains("requires the argument `path`"), "{err:?}");
        assert!(check(json!({"path": "/x", "follow": "maybe"})).is_err());
    }

    #[test]
    fn the_script_gets_its_arguments_quoted() {
        let a: Args = args::parse("stat", &json!({"path": "/tmp/it's $(x)", "get_checksum": false})).unwrap();
        let s = script(&a, MARK);
        assert!(
            s.starts_with("m='__zdd__ '\npath='/tmp/it'\\''s $(x)'\nfollow=0\nalgo=''\n"),
            "{s}"
        );
    }

    #[test]
    fn a_file_is_read_with_ansibles_keys_and_types() {
        let out = format!(
            "{MARK}path=/etc/app.conf\n{MARK}stat=81a4 0 0 1364 1196098 65024 1 1796021857.5 1796021857.25 1796021857 8 4096 0 0\n\
             {MARK}pw_name=root\n{MARK}gr_name=UNKNOWN\n{MARK}readable=1\n{MARK}checksum=abc\n\
             {MARK}mime=text/plain; charset=us-ascii\n{MARK}lsattr=2925909831 --------------e------- /etc/app.conf\n"
        );
        let st = stat_value(&split_marks(&out, MARK).0, true, true);
        assert_eq!(st["mode"], json!("0644"));
        assert_eq!(
            (st["isreg"].clone(), st["isdir"].clone()),
            (json!(true), json!(false))
        );
        assert_eq!(
            (st["size"].clone(), st["mtime"].clone()),
            (json!(1364), json!(1796021857.25))
        );
        assert_eq!(
            (st["rusr"].clone(), st["xoth"].clone()),
            (json!(true), json!(false))
        );
        assert_eq!(
            (st["readable"].clone(), st["writeable"].clone()),
            (json!(true), json!(false))
        );
        assert_eq!(st["pw_name"], json!("root"));
        assert!(st.get("gr_name").is_none());
        assert_eq!(
            (st["mimetype"].clone(), st["charset"].clone()),
            (json!("text/plain"), json!("us-ascii"))
        );
        assert_eq!(
            (st["attr_flags"].clone(), st["attributes"].clone()),
            (json!("e"), json!(["extents"]))
        );
        assert_eq!(st["version"], json!("2925909831"));
        assert_eq!(
            stat_value(&split_marks(&format!("{MARK}exists=0\n"), MARK).0, true, true),
            json!({"exists": false})
        );
        assert_eq!(device_number("8", "1"), 2049);
    }
}
