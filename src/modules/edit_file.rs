//! Editing a file in place for `lineinfile`, `blockinfile` and `replace`, in two round
//! trips at most: the file is read whole (`edit_read.sh`, base64 so every byte arrives),
//! the new text is computed on the controller (`textedit.rs`, with Python's regex
//! semantics from `pyre.rs`: exact, unit-tested, and the diff comes for free), and only
//! a changed text (or a `mode`/`owner`/`group` to set) is written back through `put`'s
//! atomic write: staged, validated, backed up, renamed over the file's real path (a
//! symlink stays a symlink), keeping the file's mode and owner. Check mode reads and
//! compares, and writes nothing.

use super::args::{fresh_mark, split_marks};
use super::put::{self, PutFile};
use super::{Failure, ModuleCtx, ModuleResult};
use crate::host::{sh_script, RemoteCommand};
use base64::Engine;
use serde_json::json;

/// The file as read on the host.
pub enum Read {
    IsDir,
    File(Target),
}

pub struct Target {
    /// Where the file is written: the path with its symlinks resolved.
    pub real: String,
    /// `None`: the file does not exist.
    pub content: Option<Vec<u8>>,
    /// `mode owner group` now, or those a new file gets.
    stat: String,
}

impl Target {
    pub fn exists(&self) -> bool {
        self.content.is_some()
    }

    /// The content as text: the editing modules work on UTF-8 (Latin-1 for `replace`'s
    /// `encoding`).
    pub fn text(&self, latin1: bool) -> Result<Option<String>, String> {
        let Some(bytes) = &self.content else {
            return Ok(None);
        };
        if latin1 {
            return Ok(Some(bytes.iter().map(|b| char::from(*b)).collect()));
        }
        String::from_utf8(bytes.clone())
            .map(Some)
            .map_err(|_| format!("{} is not UTF-8 text: zdd edits UTF-8 files only", self.real))
    }
}

pub async fn read(ctx: &ModuleCtx<'_>, path: &str, create: bool) -> Result<Read, Failure> {
    let mark = fresh_mark();
    let flag = |b: bool| if b { "1" } else { "0" };
    let script = sh_script(
        &[
            ("m", &mark),
            ("path", path),
            ("create", flag(create)),
            ("check", flag(ctx.check_mode)),
        ],
        include_str!("edit_read.sh"),
    );
    let out = ctx
        .host
        .run(&RemoteCommand::new(script).run_as(ctx.run_as.cloned()))
        .await?;
    if out.rc != 0 {
        return Err(Failure::Task(match out.stderr.trim() {
            "" => format!("reading {path} failed (exit code {})", out.rc),
            msg => msg.to_owned(),
        }));
    }
    let (marks, _) = split_marks(&out.stdout, &mark);
    if marks.contains_key("isdir") {
        return Ok(Read::IsDir);
    }
    let content = marks
        .get("content")
        .map(|b64| base64::engine::general_purpose::STANDARD.decode(b64.trim()))
        .transpose()
        .map_err(|e| format!("reading {path}: bad base64 from the host: {e}"))?;
    Ok(Read::File(Target {
        real: marks.get("real").cloned().unwrap_or_else(|| path.to_owned()),
        content,
        stat: marks.get("stat").cloned().unwrap_or_default(),
    }))
}

/// The file arguments every editing module takes.
#[derive(Debug, Default)]
pub struct Attrs<'a> {
    pub mode: Option<&'a str>,
    pub owner: Option<&'a str>,
    pub group: Option<&'a str>,
    pub backup: bool,
    pub validate: Option<&'a str>,
}

impl Attrs<'_> {
    fn any(&self) -> bool {
        self.mode.is_some() || self.owner.is_some() || self.group.is_some()
    }
}

/// What writing did.
#[derive(Debug, Default)]
pub struct Written {
    /// `mode`/`owner`/`group` changed the file (or would, in check mode).
    pub attrs_changed: bool,
    pub backup_file: Option<String>,
}

/// Writes `new` when `content_changed`, and sets the file's attributes; in check mode only
/// tells. A file that does not exist is left alone in check mode (as Ansible, which then
/// reports no attribute change).
pub async fn write(
    ctx: &ModuleCtx<'_>,
    target: &Target,
    new: &[u8],
    content_changed: bool,
    attrs: &Attrs<'_>,
) -> Result<Written, Failure> {
    if !(content_changed || attrs.any()) || (ctx.check_mode && !target.exists()) {
        return Ok(Written::default());
    }
    let mark = fresh_mark();
    let file = PutFile {
        dest: &target.real,
        content: new,
        mode: attrs.mode,
        owner: attrs.owner,
        group: attrs.group,
        backup: attrs.backup,
        force: true,
        validate: attrs.validate,
        name_in_dir: None,
    };
    let script = put::script(&file, ctx.check_mode, false, &mark)?;
    let cmd = RemoteCommand::new(script)
        .stdin(new.to_vec())
        .run_as(ctx.run_as.cloned());
    let out = ctx.host.run(&cmd).await?;
    if out.rc != 0 {
        return Err(Failure::Task(match out.stderr.trim() {
            "" => format!("writing {} failed (exit code {})", target.real, out.rc),
            msg => msg.to_owned(),
        }));
    }
    let (marks, _) = split_marks(&out.stdout, &mark);
    let stat_now = marks.get("stat").map(String::as_str).unwrap_or_default();
    Ok(Written {
        attrs_changed: attrs.any() && !same_stat(stat_now, &target.stat),
        backup_file: marks.get("backup_file").cloned(),
    })
}

/// `mode owner group` as `stat -c '%a %U %G'` prints them (`%a` without leading zeros).
fn same_stat(a: &str, b: &str) -> bool {
    let norm = |s: &str| -> Vec<String> {
        s.split(' ')
            .enumerate()
            .map(|(i, w)| {
                if i == 0 {
                    w.trim_start_matches('0').to_owned()
                } else {
                    w.to_owned()
                }
            })
            .collect()
    };
    norm(a) == norm(b)
}

/// Ansible's message once attributes are set: the edit's, then "ownership, perms or SE
/// linux context changed" (joined with " and ").
pub fn with_attrs_message(msg: &str, changed: bool, attrs_changed: bool) -> (String, bool) {
    if !attrs_changed {
        return (msg.to_owned(), changed);
    }
    let and = if changed { " and " } else { "" };
    (
        format!("{msg}{and}ownership, perms or SE linux context changed"),
        true,
    )
}

/// The `diff` Ansible shows for an edited file.
pub fn diff(
    ctx: &ModuleCtx<'_>,
    r: &mut ModuleResult,
    path: &str,
    before: &str,
    after: &str,
    header_suffix: &str,
) {
    if ctx.diff {
        let header = format!("{path}{header_suffix}");
        r.extra.insert(
            "diff".into(),
            json!({"before": before, "after": after, "before_header": header, "after_header": header}),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attribute_messages_join_as_ansibles() {
        assert_eq!(
            with_attrs_message("line added", true, false),
            ("line added".into(), true)
        );
        assert_eq!(
            with_attrs_message("line added", true, true).0,
            "line added and ownership, perms or SE linux context changed"
        );
        assert_eq!(
            with_attrs_message("", false, true),
            ("ownership, perms or SE linux context changed".into(), true)
        );
        assert!(same_stat("644 deploy deploy", "0644 deploy deploy"));
        assert!(!same_stat("600 deploy deploy", "644 deploy deploy"));
    }
}
