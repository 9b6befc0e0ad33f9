//! `lineinfile`: one line present (added, or put in place of the line `regexp` or
//! `search_string` finds) or absent in a text file on the host.
//!
//! Where the edit runs: on the controller. The file is read in one round trip, the new
//! text computed by `textedit::line_present`/`line_absent` with Python's `re` semantics
//! (`pyre.rs`: the same matches and `\1`/`\g<name>` backrefs as Ansible), and written
//! back atomically, mode and owner kept, by `edit_file` (`put`'s staged write) only when
//! it changed. Returns Ansible's `changed`, `msg` ("line added", "line replaced", "N
//! line(s) removed"), `backup` (the backup's path, or ""), `found` for `state=absent`,
//! and with `--diff` the file's before/after.
//!
//! Differences: the `selevel`/`serole`/`setype`/`seuser`/`attributes` file arguments are
//! not taken (an error), and a pattern with look-around or backreferences is refused
//! (Rust's regex engine), with an error naming it.

use super::args::{self, check_choice};
use super::edit_file::{self, Attrs, Read};
use super::pyre::{self, Flags};
use super::textedit::{self, LineSpec};
use super::{ArgError, Failure, ModuleCtx, ModuleResult, TypedModule};
use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{json, Value};

pub struct LineInFile;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Args {
    #[serde(alias = "dest", alias = "destfile", alias = "name")]
    path: String,
    #[serde(default)]
    state: Option<String>,
    #[serde(default, alias = "regex", deserialize_with = "args::opt_text")]
    regexp: Option<String>,
    #[serde(default, deserialize_with = "args::opt_text")]
    search_string: Option<String>,
    #[serde(default, alias = "value", deserialize_with = "args::opt_text")]
    line: Option<String>,
    #[serde(default, deserialize_with = "args::opt_text")]
    insertafter: Option<String>,
    #[serde(default, deserialize_with = "args::opt_text")]
    insertbefore: Option<String>,
    #[serde(default, deserialize_with = "args::opt_bool")]
    backrefs: Option<bool>,
    #[serde(default, deserialize_with = "args::opt_bool")]
    create: Option<bool>,
    #[serde(default, deserialize_with = "args::opt_bool")]
    backup: Option<bool>,
    #[serde(default, deserialize_with = "args::opt_bool")]
    firstmatch: Option<bool>,
    #[serde(default)]
    validate: Option<String>,
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

/// Ansible's mutually exclusive pairs, and what each state needs.
fn check_args(a: &Args, raw: &Value) -> Result<(), ArgError> {
    check_choice("state", a.state.as_deref(), &["present", "absent"])?;
    let given = |key: &str| raw.get(key).is_some_and(|v| !v.is_null());
    for (x, y) in [
        ("insertbefore", "insertafter"),
        ("regexp", "search_string"),
        ("backrefs", "search_string"),
    ] {
        if given(x) && given(y) || (x == "regexp" && given("regex") && given(y)) {
            return Err(ArgError::new(format!("parameters are mutually exclusive: {x}|{y}")).key(y));
        }
    }
    if a.state.as_deref() == Some("absent") {
        if a.regexp.is_none() && a.search_string.is_none() && a.line.is_none() {
            return Err(ArgError::new(
                "one of line, search_string, or regexp is required with state=absent",
            ));
        }
    } else {
        if a.backrefs == Some(true) && a.regexp.is_none() {
            return Err(ArgError::new("regexp is required with backrefs=true").key("backrefs"));
        }
        if a.line.is_none() {
            return Err(ArgError::new("line is required with state=present"));
        }
    }
    Ok(())
}

#[async_trait]
impl TypedModule for LineInFile {
    type Args = Args;

    fn name(&self) -> &'static str {
        "lineinfile"
    }

    fn check(&self, a: &Args, raw: &Value) -> Result<(), ArgError> {
        check_args(a, raw)
    }

    async fn run(&self, ctx: &ModuleCtx<'_>, a: Args) -> Result<ModuleResult, Failure> {
        let regexp = a
            .regexp
            .as_deref()
            .map(|p| pyre::compile(p, Flags::default()))
            .transpose()?;
        let present = a.state.as_deref() != Some("absent");
        let create = present && a.create == Some(true);
        let target = match edit_file::read(ctx, &a.path, create).await? {
            Read::IsDir => {
                let mut r = ModuleResult::failed(format!("Path {} is a directory !", a.path));
                r.rc = Some(256);
                return Ok(r);
            }
            Read::File(target) => target,
        };
        if !target.exists() && !present {
            let mut r = ModuleResult::ok();
            r.msg = Some("file not present".into());
            return Ok(r);
        }
        if !target.exists() && !create {
            let mut r = ModuleResult::failed(format!("Destination {} does not exist !", a.path));
            r.rc = Some(257);
            return Ok(r);
        }
        let before = target.text(false)?.unwrap_or_default();
        let (edited, found) = if present {
            let spec = LineSpec {
                regexp: regexp.as_ref(),
                search_string: a.search_string.as_deref(),
                line: a.line.as_deref().unwrap_or_default(),
                insertafter: a.insertafter.as_deref(),
                insertbefore: a.insertbefore.as_deref(),
                backrefs: a.backrefs == Some(true),
                firstmatch: a.firstmatch == Some(true),
            };
            (textedit::line_present(&before, &spec)?, None)
        } else {
            let (edited, found) = textedit::line_absent(
                &before,
                regexp.as_ref(),
                a.search_string.as_deref(),
                a.line.as_deref(),
            );
            (edited, Some(found))
        };
        let attrs = Attrs {
            mode: a.mode.as_deref(),
            owner: a.owner.as_deref(),
            group: a.group.as_deref(),
            backup: a.backup == Some(true),
            validate: a.validate.as_deref(),
        };
        let written = edit_file::write(ctx, &target, edited.text.as_bytes(), edited.changed, &attrs).await?;
        let (msg, changed) =
            edit_file::with_attrs_message(&edited.msg, edited.changed, written.attrs_changed);
        let mut r = ModuleResult::changed(changed);
        r.msg = Some(msg);
        r.extra
            .insert("backup".into(), json!(written.backup_file.unwrap_or_default()));
        if let Some(found) = found {
            r.extra.insert("found".into(), json!(found));
        }
        edit_file::diff(ctx, &mut r, &a.path, &before, &edited.text, " (content)");
        Ok(r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(args: Value) -> Result<(), ArgError> {
        let a: Args = args::parse("lineinfile", &args)?;
        check_args(&a, &args)
    }

    #[test]
    fn arguments_aliases_and_their_rules() {
        assert!(check(json!({"dest": "/f", "regex": "^a", "value": "a=1"})).is_ok());
        assert!(check(json!({"destfile": "/f", "line": 8080, "unsafe_writes": true})).is_ok());
        assert!(check(json!({"name": "/f", "state": "absent", "search_string": "x"})).is_ok());
        assert_eq!(
            check(json!({"path": "/f"})).unwrap_err().message,
            "line is required with state=present"
        );
        assert!(
            check(json!({"path": "/f", "line": "x", "insertafter": "a", "insertbefore": "b"}))
                .unwrap_err()
                .message
                .contains("mutually exclusive")
        );
        assert!(check(json!({"path": "/f", "line": "x", "backrefs": true}))
            .unwrap_err()
            .message
            .contains("regexp is required"));
        assert!(check(json!({"path": "/f", "state": "gone", "line": "x"})).is_err());
        assert!(check(json!({"path": "/f", "lines": "x"})).is_err());
    }
}
