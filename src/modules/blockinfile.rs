//! `blockinfile`: a block of lines between two marker lines, inserted, updated or removed
//! in a text file on the host.
//!
//! Where the edit runs: on the controller, as `lineinfile`'s (read once, computed by
//! `textedit::block` step for step as Ansible places blocks, written back atomically with
//! mode and owner kept, only when changed). Returns `changed`, `msg` ("Block inserted",
//! "Block removed", "File created"), `backup_file` when a backup was made, and with
//! `--diff` the file's before/after.
//!
//! Differences: the SELinux and `attributes` file arguments are not taken (an error), and
//! `marker_begin`/`marker_end` are put into `marker` as written (Python's `re.sub` would
//! also expand backslash escapes in them).

use super::args::{self, check_choice};
use super::edit_file::{self, Attrs, Read};
use super::textedit::{self, BlockSpec};
use super::{ArgError, Failure, ModuleCtx, ModuleResult, TypedModule};
use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{json, Value};

pub struct BlockInFile;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Args {
    #[serde(alias = "dest", alias = "destfile", alias = "name")]
    path: String,
    #[serde(default)]
    state: Option<String>,
    #[serde(default, deserialize_with = "args::opt_text")]
    marker: Option<String>,
    #[serde(default, alias = "content", deserialize_with = "args::opt_text")]
    block: Option<String>,
    #[serde(default, deserialize_with = "args::opt_text")]
    insertafter: Option<String>,
    #[serde(default, deserialize_with = "args::opt_text")]
    insertbefore: Option<String>,
    #[serde(default, deserialize_with = "args::opt_bool")]
    create: Option<bool>,
    #[serde(default, deserialize_with = "args::opt_bool")]
    backup: Option<bool>,
    #[serde(default)]
    validate: Option<String>,
    #[serde(default, deserialize_with = "args::opt_text")]
    marker_begin: Option<String>,
    #[serde(default, deserialize_with = "args::opt_text")]
    marker_end: Option<String>,
    #[serde(default, deserialize_with = "args::opt_bool")]
    append_newline: Option<bool>,
    #[serde(default, deserialize_with = "args::opt_bool")]
    prepend_newline: Option<bool>,
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

fn check_args(a: &Args, raw: &Value) -> Result<(), ArgError> {
    check_choice("state", a.state.as_deref(), &["present", "absent"])?;
    let given = |key: &str| raw.get(key).is_some_and(|v| !v.is_null());
    if given("insertafter") && given("insertbefore") {
        return Err(
            ArgError::new("parameters are mutually exclusive: insertbefore|insertafter").key("insertbefore"),
        );
    }
    Ok(())
}

#[async_trait]
impl TypedModule for BlockInFile {
    type Args = Args;

    fn name(&self) -> &'static str {
        "blockinfile"
    }

    fn check(&self, a: &Args, raw: &Value) -> Result<(), ArgError> {
        check_args(a, raw)
    }

    async fn run(&self, ctx: &ModuleCtx<'_>, a: Args) -> Result<ModuleResult, Failure> {
        let present = a.state.as_deref() != Some("absent");
        let create = a.create == Some(true);
        let target = match edit_file::read(ctx, &a.path, create).await? {
            Read::IsDir => {
                let mut r = ModuleResult::failed(format!("Path {} is a directory !", a.path));
                r.rc = Some(256);
                return Ok(r);
            }
            Read::File(target) => target,
        };
        if !target.exists() && !create {
            let mut r = ModuleResult::failed(format!("Path {} does not exist !", a.path));
            r.rc = Some(257);
            return Ok(r);
        }
        if !target.exists() && !present {
            let mut r = ModuleResult::ok();
            r.msg = Some(format!("File {} not present", a.path));
            return Ok(r);
        }
        let original = target.text(false)?;
        let spec = BlockSpec {
            present,
            block: a.block.as_deref().unwrap_or_default(),
            marker: a.marker.as_deref().unwrap_or("# {mark} ANSIBLE MANAGED BLOCK"),
            marker_begin: a.marker_begin.as_deref().unwrap_or("BEGIN"),
            marker_end: a.marker_end.as_deref().unwrap_or("END"),
            insertafter: a.insertafter.as_deref(),
            insertbefore: a.insertbefore.as_deref(),
            append_newline: a.append_newline == Some(true),
            prepend_newline: a.prepend_newline == Some(true),
        };
        let edited = textedit::block(original.as_deref(), &spec)?;
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
        if let Some(backup) = written.backup_file {
            r.extra.insert("backup_file".into(), json!(backup));
        }
        let before = original.unwrap_or_default();
        edit_file::diff(ctx, &mut r, &a.path, &before, &edited.text, " (content)");
        Ok(r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(args: Value) -> Result<(), ArgError> {
        let a: Args = args::parse("blockinfile", &args)?;
        check_args(&a, &args)
    }

    #[test]
    fn arguments_and_their_aliases() {
        assert!(
            check(json!({"dest": "/f", "content": "x", "marker": "## {mark}", "append_newline": "yes"}))
                .is_ok()
        );
        assert!(check(json!({"name": "/f", "state": "absent", "unsafe_writes": false})).is_ok());
        assert!(check(json!({"path": "/f", "insertafter": "a", "insertbefore": "b"})).is_err());
        assert!(check(json!({"path": "/f", "state": "nope"})).is_err());
        assert!(check(json!({"path": "/f", "blocks": "x"})).is_err());
    }
}
