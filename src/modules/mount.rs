//! `mount` (ansible.posix): a line in an fstab file (`fstab`, default /etc/fstab) and the
//! mount point's state. The fstab is read once, its new text computed here as Ansible
//! computes it (`set_line`, `unset_line`: pure and unit-tested, fields escaped with
//! `\040`-style octal codes, a matching line rewritten only when a field differs), and
//! written back through the editing modules' atomic write only when it changed; `mount`,
//! `umount` and `mount -o remount` run only for mounted, unmounted, remounted, ephemeral
//! and absent (`mount.sh`). A mount point is what `mountpoint -q` says it is (Ansible
//! also counts a bind mount of a file as mounted).

use super::args::{self, check_choice, fresh_mark, split_marks};
use super::edit_file::{self, Attrs, Read};
use super::{ArgError, Failure, ModuleCtx, ModuleResult, TypedModule};
use crate::host::{sh_script, RemoteCommand};
use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{json, Value};

pub struct Mount;

const STATES: &[&str] = &[
    "absent",
    "absent_from_fstab",
    "mounted",
    "present",
    "unmounted",
    "remounted",
    "ephemeral",
];

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Args {
    #[serde(alias = "name")]
    path: String,
    #[serde(default)]
    src: Option<String>,
    #[serde(default)]
    fstype: Option<String>,
    #[serde(default, deserialize_with = "args::opt_text")]
    opts: Option<String>,
    #[serde(default, deserialize_with = "args::opt_bool")]
    opts_no_log: Option<bool>,
    #[serde(default, deserialize_with = "args::opt_text")]
    dump: Option<String>,
    #[serde(default, deserialize_with = "args::opt_text")]
    passno: Option<String>,
    state: String,
    #[serde(default)]
    fstab: Option<String>,
    #[serde(default, deserialize_with = "args::opt_bool")]
    boot: Option<bool>,
    #[serde(default, deserialize_with = "args::opt_bool")]
    backup: Option<bool>,
}

/// The fields of the fstab line Ansible writes (unescaped).
#[derive(Debug, Clone, PartialEq)]
struct Entry {
    src: String,
    name: String,
    fstype: String,
    opts: String,
    dump: String,
    passno: String,
}

/// Spaces, ampersands and backslashes as the octal escapes fstab(5) reads.
fn escape(v: &str) -> String {
    v.replace('\\', "\\134")
        .replace(' ', "\\040")
        .replace('&', "\\046")
}

/// Python's `readlines`: each line with its newline.
fn lines(text: &str) -> impl Iterator<Item = &str> {
    text.split_inclusive('\n')
}

/// Whether a line's fields are the entry's (a swap line matches on its source).
fn matches(fields: &[&str], name: &str, src: Option<&str>) -> bool {
    fields[1] == name && !(src.is_some_and(|s| fields[1] == "none" && fields[2] == "swap" && fields[0] != s))
}

/// State present: the entry added, or its line's differing fields rewritten. Returns the
/// new text and whether it changed.
fn set_line(text: &str, e: &Entry) -> (String, bool) {
    let want = [
        escape(&e.src),
        escape(&e.name),
        escape(&e.fstype),
        escape(&e.opts),
        escape(&e.dump),
        escape(&e.passno),
    ];
    let (mut out, mut exists, mut changed) = (String::new(), false, false);
    for line in lines(text) {
        let line = if line.ends_with('\n') {
            line.to_owned()
        } else {
            format!("{line}\n")
        };
        let fields: Vec<&str> = line.split('#').next().unwrap_or("").split_whitespace().collect();
        if line.trim().is_empty() || line.trim().starts_with('#') || !(4..=6).contains(&fields.len()) {
            out.push_str(&line);
            continue;
        }
        if !matches(&fields, &want[1], Some(&e.src)) {
            out.push_str(&line);
            continue;
        }
        exists = true;
        // A missing dump or passno never equals the wanted one (Ansible compares 0 with "0").
        let mut now: Vec<String> = (0..6)
            .map(|i| fields.get(i).map(|f| f.to_string()).unwrap_or_default())
            .collect();
        for i in [0, 2, 3, 4, 5] {
            if fields.get(i).is_none_or(|f| *f != want[i]) {
                now[i] = want[i].clone();
                changed = true;
            }
        }
        if changed {
            out.push_str(&format!("{}\n", now.join(" ")));
        } else {
            out.push_str(&line);
        }
    }
    if !exists {
        out.push_str(&format!("{}\n", want.join(" ")));
        changed = true;
    }
    (out, changed)
}

/// State absent: every six-field line for the mount point removed.
fn unset_line(text: &str, name: &str, src: Option<&str>) -> (String, bool) {
    let name = escape(name);
    let (mut out, mut changed) = (String::new(), false);
    for line in lines(text) {
        let fields: Vec<&str> = line.split_whitespace().collect();
        if line.trim().starts_with('#') || fields.len() != 6 || !matches(&fields, &name, src) {
            out.push_str(line);
        } else {
            changed = true;
        }
    }
    (out, changed)
}

struct Probe {
    mounted: bool,
    source: String,
}

async fn act(ctx: &ModuleCtx<'_>, action: &str, vars: &[(&str, &str)]) -> Result<Option<Probe>, String> {
    let mark = fresh_mark();
    let mut all = vec![("m", mark.as_str()), ("action", action)];
    all.extend_from_slice(vars);
    for key in ["path", "fstab", "eph", "opts_remount", "strict"] {
        if !all.iter().any(|(k, _)| *k == key) {
            all.push((key, ""));
        }
    }
    let cmd = RemoteCommand::new(sh_script(&all, include_str!("mount.sh"))).run_as(ctx.run_as.cloned());
    let out = ctx.host.run(&cmd).await.map_err(|e| e.to_string())?;
    if out.rc != 0 {
        return Err(out.stderr.trim().to_owned());
    }
    let marks = split_marks(&out.stdout, &mark).0;
    Ok(Some(Probe {
        mounted: marks.contains_key("mounted"),
        source: marks.get("source").cloned().unwrap_or_default(),
    }))
}

#[async_trait]
impl TypedModule for Mount {
    type Args = Args;

    fn name(&self) -> &'static str {
        "mount"
    }

    fn check(&self, a: &Args, _raw: &Value) -> Result<(), ArgError> {
        check_choice("state", Some(&a.state), STATES)?;
        if ["mounted", "present", "ephemeral"].contains(&a.state.as_str()) {
            let missing: Vec<&str> = [("src", &a.src), ("fstype", &a.fstype)]
                .iter()
                .filter(|(_, v)| v.is_none())
                .map(|(k, _)| *k)
                .collect();
            if !missing.is_empty() {
                return Err(ArgError::new(format!(
                    "state is {} but all of the following are missing: {}",
                    a.state,
                    missing.join(", ")
                ))
                .key(missing[0]));
            }
        }
        Ok(())
    }

    async fn run(&self, ctx: &ModuleCtx<'_>, a: Args) -> Result<ModuleResult, Failure> {
        let mut opts = a.opts.clone().unwrap_or_else(|| "defaults".into());
        let boot = a.boot != Some(false);
        let mut warnings = Vec::new();
        if boot && opts.split(',').any(|o| o == "noauto") {
            warnings.push("Ignore the 'boot' due to 'opts' contains 'noauto'.".to_owned());
        } else if !boot {
            opts.push_str(",noauto");
        }
        let fstab = a.fstab.clone().unwrap_or_else(|| "/etc/fstab".into());
        let entry = Entry {
            src: a.src.clone().unwrap_or_default(),
            name: a.path.clone(),
            fstype: a.fstype.clone().unwrap_or_default(),
            opts: opts.clone(),
            dump: a.dump.clone().unwrap_or_else(|| "0".into()),
            passno: a.passno.clone().unwrap_or_else(|| "0".into()),
        };
        let state = a.state.as_str();
        let name = a.path.as_str();
        let mut backup_file = String::new();
        // The fstab's edit (all states but unmounted, remounted and ephemeral).
        let edit = |text: &str| match state {
            "absent" | "absent_from_fstab" => unset_line(text, name, a.src.as_deref()),
            _ => set_line(text, &entry),
        };
        let mut fstab_changed = false;
        let mut old_text = None;
        if state != "ephemeral" {
            let Read::File(target) = edit_file::read(ctx, &fstab, true).await? else {
                return Err(Failure::Task(format!(
                    "Failed to open {fstab} due to [Errno 21] Is a directory: '{fstab}'"
                )));
            };
            let text = target.text(false)?.unwrap_or_default();
            if ["absent", "absent_from_fstab", "mounted", "present"].contains(&state) {
                let (new, changed) = edit(&text);
                fstab_changed = changed;
                if changed || !target.exists() {
                    let attrs = Attrs {
                        backup: a.backup == Some(true) && changed,
                        ..Default::default()
                    };
                    let w = edit_file::write(ctx, &target, new.as_bytes(), true, &attrs).await?;
                    backup_file = w.backup_file.unwrap_or_default();
                }
                old_text = Some((target, text));
            }
        }
        let probe = |ctx| async move {
            act(ctx, "probe", &[("path", name)])
                .await
                .map(|p| p.expect("probe"))
        };
        let fail = |what: &str, msg: String| Failure::Task(format!("Error {what} {name}: {msg}"));
        let eph = format!(
            "-t {} {}{}",
            entry.fstype,
            if opts != "defaults" {
                format!("-o {opts} ")
            } else {
                String::new()
            },
            entry.src
        );
        let vars = |action_eph: bool| -> Vec<(&str, String)> {
            vec![
                ("path", name.to_owned()),
                (
                    "fstab",
                    if state == "ephemeral" {
                        String::new()
                    } else {
                        fstab.clone()
                    },
                ),
                ("eph", if action_eph { eph.clone() } else { String::new() }),
                (
                    "opts_remount",
                    if state == "remounted" && opts != "defaults" {
                        format!("remount,{opts}")
                    } else {
                        "remount".into()
                    },
                ),
                (
                    "strict",
                    if state == "remounted" && opts != "defaults" {
                        "1".into()
                    } else {
                        "0".into()
                    },
                ),
            ]
        };
        let run_action = |action: &'static str| {
            let v = vars(state == "ephemeral");
            async move {
                let refs: Vec<(&str, &str)> = v.iter().map(|(k, v)| (*k, v.as_str())).collect();
                act(ctx, action, &refs).await.map(|_| ())
            }
        };
        let changed = match state {
            "absent_from_fstab" | "present" => fstab_changed,
            "absent" => {
                if fstab_changed && !ctx.check_mode {
                    if probe(ctx).await.map_err(Failure::Task)?.mounted {
                        run_action("umount").await.map_err(|m| fail("unmounting", m))?;
                    }
                    act(ctx, "rmdir", &[("path", name)])
                        .await
                        .map_err(|m| Failure::Task(format!("Error rmdir {name}: {m}")))?;
                }
                fstab_changed
            }
            "unmounted" => {
                let mounted = probe(ctx).await.map_err(Failure::Task)?.mounted;
                if mounted && !ctx.check_mode {
                    run_action("umount").await.map_err(|m| fail("unmounting", m))?;
                }
                mounted
            }
            "remounted" => {
                if !ctx.check_mode {
                    run_action("remount").await.map_err(|m| fail("remounting", m))?;
                }
                true
            }
            _ => {
                // mounted, ephemeral
                if !ctx.check_mode {
                    act(ctx, "mkdir", &[("path", name)])
                        .await
                        .map_err(|m| Failure::Task(format!("Error making dir {name}: {m}")))?;
                }
                let p = probe(ctx).await.map_err(Failure::Task)?;
                let result = if p.mounted {
                    if state == "ephemeral" {
                        if p.source != entry.src {
                            return Err(Failure::Task("Ephemeral mount point is already mounted with a different source than the specified one. Failing in order to prevent an unwanted unmount or override operation. Try replacing this command with a \"state: unmounted\" followed by a \"state: ephemeral\", or use a different destination path.".into()));
                        }
                        if !ctx.check_mode {
                            run_action("remount").await
                        } else {
                            Ok(())
                        }
                        .map(|_| true)
                    } else if fstab_changed && !ctx.check_mode {
                        run_action("remount").await.map(|_| true)
                    } else {
                        Ok(fstab_changed)
                    }
                } else if !ctx.check_mode {
                    run_action("mount").await.map(|_| true)
                } else {
                    Ok(true)
                };
                match result {
                    Ok(c) => c,
                    Err(msg) => {
                        // A broken fstab line could stop the next boot: put the old text back.
                        if let Some((target, text)) = &old_text {
                            if fstab_changed {
                                let _ =
                                    edit_file::write(ctx, target, text.as_bytes(), true, &Attrs::default())
                                        .await;
                            }
                        }
                        return Err(fail("mounting", msg));
                    }
                }
            }
        };
        let mut r = ModuleResult::changed(changed);
        let shown_opts = if a.opts_no_log == Some(true) {
            "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER".to_owned()
        } else {
            opts
        };
        let mut extra = json!({
            "name": name,
            "opts": shown_opts,
            "dump": entry.dump,
            "passno": entry.passno,
            "fstab": fstab,
            "boot": if boot { "yes" } else { "no" },
            "backup_file": backup_file,
        });
        if let Some(src) = &a.src {
            extra["src"] = json!(src);
        }
        if let Some(t) = &a.fstype {
            extra["fstype"] = json!(t);
        }
        if !warnings.is_empty() {
            extra["warnings"] = json!(warnings);
        }
        if let Value::Object(m) = extra {
            r.extra = m;
        }
        Ok(r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(opts: &str) -> Entry {
        Entry {
            src: "/dev/sdb1".into(),
            name: "/mnt/my data".into(),
            fstype: "ext4".into(),
            opts: opts.into(),
            dump: "0".into(),
            passno: "0".into(),
        }
    }

    const FSTAB: &str = "# /etc/fstab\nUUID=1 / ext4 errors=remount-ro 0 1\n\n/dev/sdb1  /mnt/my\\040data ext4 defaults 0 0 # data\n";

    #[test]
    fn a_new_entry_is_appended_with_escaped_fields() {
        let (text, changed) = set_line("# empty", &entry("defaults"));
        assert!(changed);
        assert_eq!(text, "# empty\n/dev/sdb1 /mnt/my\\040data ext4 defaults 0 0\n");
        assert_eq!(escape("a&b\\c"), "a\\046b\\134c");
    }

    #[test]
    fn a_matching_line_is_kept_as_it_is_or_rewritten_when_a_field_differs() {
        assert_eq!(set_line(FSTAB, &entry("defaults")), (FSTAB.to_owned(), false));
        let (text, changed) = set_line(FSTAB, &entry("ro,noatime"));
        assert!(changed);
        assert!(
            text.ends_with("\n\n/dev/sdb1 /mnt/my\\040data ext4 ro,noatime 0 0\n"),
            "{text}"
        );
        // Ansible counts a line without dump and passno as different.
        assert!(set_line("/dev/sdb1 /mnt/my\\040data ext4 defaults\n", &entry("defaults")).1);
    }

    #[test]
    fn absent_removes_six_field_lines_only() {
        let (text, changed) = unset_line(FSTAB, "/mnt/my data", None);
        assert!(
            !changed,
            "the comment makes the line eight fields, as Ansible counts: {text}"
        );
        let (text, changed) = unset_line(
            "a /mnt/x ext4 defaults 0 0\nb / ext4 defaults 0 1\n",
            "/mnt/x",
            None,
        );
        assert!(changed);
        assert_eq!(text, "b / ext4 defaults 0 1\n");
        assert!(!unset_line("/dev/a none swap sw 0 0\n", "none", Some("/dev/b")).1);
    }
}
