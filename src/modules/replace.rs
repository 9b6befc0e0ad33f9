//! `replace`: every match of `regexp` (Python's `re`, MULTILINE) replaced in a text file on
//! the host, or only in the section between `after` and `before`.
//!
//! Where the edit runs: on the controller, as `lineinfile`'s (read once, computed by
//! `textedit::replace` with Python's `re.subn` semantics from `pyre.rs`, `\1`/`\g<name>`
//! in `replace`, written back atomically with mode and owner kept, only when changed).
//! Returns `changed`, `msg` ("N replacements made"), `rc` 0, `backup_file` when a backup
//! was made, and with `--diff` the file's before/after.
//!
//! Differences: `encoding` is `utf-8` (the default) or Latin-1 (`latin-1`, `latin1`,
//! `iso-8859-1`); the SELinux and `attributes` file arguments are not taken; a pattern
//! with look-around or backreferences is refused (Rust's regex engine).

use super::args;
use super::edit_file::{self, Attrs, Read};
use super::textedit::{self, Replaced};
use super::{ArgError, Failure, ModuleCtx, ModuleResult, TypedModule};
use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{json, Value};

pub struct Replace;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Args {
    #[serde(alias = "dest", alias = "destfile", alias = "name")]
    path: String,
    #[serde(deserialize_with = "args::opt_text")]
    regexp: Option<String>,
    #[serde(default, deserialize_with = "args::opt_text")]
    replace: Option<String>,
    #[serde(default, deserialize_with = "args::opt_text")]
    after: Option<String>,
    #[serde(default, deserialize_with = "args::opt_text")]
    before: Option<String>,
    #[serde(default, deserialize_with = "args::opt_bool")]
    backup: Option<bool>,
    #[serde(default)]
    validate: Option<String>,
    #[serde(default)]
    encoding: Option<String>,
    #[serde(default, deserialize_with = "args::opt_mode")]
    mode: Option<String>,
    #[serde(default, deserialize_with = "args::opt_text")]
    owner: Option<String>,
    #[serde(default, deserialize_with = "args::opt_text")]
    group: Option<String>,
    /// Accepted as Ansible does; every write is atomic anyway.
    #[serde(default, deserialize_with = "args::opt_bool")]
    #[allow(dead_code)]
    unsafe_writes: Option<bool>,
}

/// Whether `encoding` is Latin-1 (else UTF-8).
fn latin1(encoding: Option<&str>) -> Result<bool, ArgError> {
    let name = encoding.unwrap_or("utf-8").to_ascii_lowercase().replace('_', "-");
    match name.as_str() {
        "utf-8" | "utf8" => Ok(false),
        "latin-1" | "latin1" | "iso-8859-1" | "iso8859-1" => Ok(true),
        _ if args::is_template(&name) => Ok(false),
        other => Err(ArgError::new(format!(
            "encoding `{other}` is not supported by zdd (utf-8 or latin-1)"
        ))
        .key("encoding")),
    }
}

fn check_args(a: &Args) -> Result<(), ArgError> {
    if a.regexp.is_none() {
        return Err(ArgError::new("missing required arguments: regexp").key("regexp"));
    }
    latin1(a.encoding.as_deref()).map(|_| ())
}

#[async_trait]
impl TypedModule for Replace {
    type Args = Args;

    fn name(&self) -> &'static str {
        "replace"
    }

    fn check(&self, a: &Args, _raw: &Value) -> Result<(), ArgError> {
        check_args(a)
    }

    async fn run(&self, ctx: &ModuleCtx<'_>, a: Args) -> Result<ModuleResult, Failure> {
        let latin1 = latin1(a.encoding.as_deref())?;
        let target = match edit_file::read(ctx, &a.path, false).await? {
            Read::IsDir => {
                let mut r = ModuleResult::failed(format!("Path {} is a directory !", a.path));
                r.rc = Some(256);
                return Ok(r);
            }
            Read::File(target) => target,
        };
        if !target.exists() {
            let mut r = ModuleResult::failed(format!("Path {} does not exist !", a.path));
            r.rc = Some(257);
            return Ok(r);
        }
        let before = target.text(latin1)?.unwrap_or_default();
        let replaced = textedit::replace(
            &before,
            a.regexp.as_deref().unwrap_or_default(),
            a.replace.as_deref().unwrap_or_default(),
            a.after.as_deref(),
            a.before.as_deref(),
        )?;
        let edited = match replaced {
            Replaced::NoSection(pattern) => {
                let mut r = ModuleResult::ok();
                r.rc = Some(0);
                r.msg = Some(format!(
                    "Pattern for before/after params did not match the given file: {pattern}"
                ));
                return Ok(r);
            }
            Replaced::Done(edited) => edited,
        };
        let bytes = if latin1 {
            edited
                .text
                .chars()
                .map(|c| u8::try_from(u32::from(c)).unwrap_or(b'?'))
                .collect()
        } else {
            edited.text.as_bytes().to_vec()
        };
        let attrs = Attrs {
            mode: a.mode.as_deref(),
            owner: a.owner.as_deref(),
            group: a.group.as_deref(),
            backup: a.backup == Some(true),
            validate: a.validate.as_deref(),
        };
        let written = edit_file::write(ctx, &target, &bytes, edited.changed, &attrs).await?;
        let (msg, changed) =
            edit_file::with_attrs_message(&edited.msg, edited.changed, written.attrs_changed);
        let mut r = ModuleResult::changed(changed);
        r.msg = Some(msg);
        r.rc = Some(0);
        if let Some(backup) = written.backup_file {
            r.extra.insert("backup_file".into(), json!(backup));
        }
        if edited.changed {
            edit_file::diff(ctx, &mut r, &a.path, &before, &edited.text, "");
        }
        Ok(r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(args: Value) -> Result<(), ArgError> {
        let a: Args = args::parse("replace", &args)?;
        check_args(&a)
    }

    #[test]
    fn arguments_and_encodings() {
        assert!(check(json!({"dest": "/f", "regexp": "a", "replace": "b", "encoding": "latin-1"})).is_ok());
        assert!(
            check(json!({"name": "/f", "regexp": "a", "after": "x", "before": "y", "backup": "yes"})).is_ok()
        );
        assert!(check(json!({"path": "/f", "replace": "b"})).is_err());
        assert!(check(json!({"path": "/f", "regexp": "a", "encoding": "utf-16"})).is_err());
        assert!(check(json!({"path": "/f", "regexp": "a", "replac": "b"})).is_err());
    }
}
