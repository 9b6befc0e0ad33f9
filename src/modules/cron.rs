//! `cron`: a job (`#Ansible: NAME` above its line) or an environment variable (`env`) in
//! a user's crontab (`crontab -l`, written back with `crontab -`; `-u USER` when `user`
//! is not the user the task runs as) or in a cron file (`cron_file`: a name under
//! /etc/cron.d, or an absolute path). One round trip reads it; the edit is pure (`edit`,
//! unit-tested) and follows Ansible's rules to the letter, so a crontab touched by both
//! reads the same: a job is found by its `#Ansible:` comment, else by its exact line
//! (which then gets the comment); a job whose line differs is replaced in place; a removed
//! job takes its comment along; a cron file left empty is deleted; a variable is written
//! `NAME="value"`, first in the file unless `insertafter`/`insertbefore` names another;
//! a crontab without a final newline gets one (and that is a change). A second round trip
//! writes it, only when it changed and not in check mode. Returned as Ansible does: `jobs`,
//! `envs`, `warnings`, `cron_file`, `backup_file` (`backup`), `diff` under `--diff`.

use super::args::{self, check_choice, fresh_mark, split_marks};
use super::group::{command_failed, flag};
use super::{ArgError, Failure, ModuleCtx, ModuleResult, TypedModule};
use crate::host::{sh_script, RemoteCommand};
use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{json, Value};

pub struct Cron;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Args {
    name: String,
    #[serde(default)]
    user: Option<String>,
    #[serde(default, alias = "value", deserialize_with = "args::opt_text")]
    job: Option<String>,
    #[serde(default)]
    cron_file: Option<String>,
    #[serde(default)]
    state: Option<String>,
    #[serde(default, deserialize_with = "args::opt_bool")]
    backup: Option<bool>,
    #[serde(default, deserialize_with = "args::opt_text")]
    minute: Option<String>,
    #[serde(default, deserialize_with = "args::opt_text")]
    hour: Option<String>,
    #[serde(default, alias = "dom", deserialize_with = "args::opt_text")]
    day: Option<String>,
    #[serde(default, deserialize_with = "args::opt_text")]
    month: Option<String>,
    #[serde(default, alias = "dow", deserialize_with = "args::opt_text")]
    weekday: Option<String>,
    #[serde(default)]
    special_time: Option<String>,
    #[serde(default, deserialize_with = "args::opt_bool")]
    disabled: Option<bool>,
    #[serde(default, deserialize_with = "args::opt_bool")]
    env: Option<bool>,
    #[serde(default)]
    insertafter: Option<String>,
    #[serde(default)]
    insertbefore: Option<String>,
}

const SPECIAL: &[&str] = &[
    "reboot", "yearly", "annually", "monthly", "weekly", "daily", "hourly",
];
const MARK: &str = "#Ansible: ";

fn comment(name: &str) -> String {
    format!("{MARK}{name}")
}

/// A crontab as Ansible holds it: its lines (the headers `crontab -l` may print dropped)
/// and its text as read, less those headers.
#[derive(Debug, Clone, PartialEq)]
struct Tab {
    lines: Vec<String>,
    existing: String,
}

impl Tab {
    /// A cron file is taken as it is; a user's crontab loses, among its first three lines,
    /// the headers some crontab programs print.
    fn read(text: &str, from_crontab: bool) -> Tab {
        let mut existing = text.to_owned();
        let mut lines = Vec::new();
        for (i, l) in py_splitlines(text).into_iter().enumerate() {
            if !from_crontab || i > 2 || !is_header(&l) {
                lines.push(l);
                continue;
            }
            if let Some(at) = existing.find(l.as_str()) {
                let mut end = at + l.len();
                if existing[end..].starts_with(['\r', '\n']) {
                    end += 1;
                }
                existing.replace_range(at..end, "");
            }
        }
        Tab { lines, existing }
    }

    fn render(&self) -> String {
        let text = self.lines.join("\n");
        if text.is_empty() {
            return text;
        }
        format!("{}\n", text.trim_end_matches(['\r', '\n']))
    }

    fn is_empty(&self) -> bool {
        self.lines.iter().all(|l| l.trim().is_empty())
    }

    /// Ansible's `find_job`: by the comment above it, else (given its line) by the line,
    /// adding or naming its comment, which counts as a change (`true`).
    fn find_job(&mut self, name: &str, job: Option<&str>) -> Option<(String, bool)> {
        let mut seen: Option<String> = None;
        for l in &self.lines {
            if let Some(c) = seen.take() {
                if c == name {
                    return Some((l.clone(), false));
                }
            } else if l.starts_with(MARK) {
                seen = Some(l.replace(MARK, ""));
            }
        }
        let job = job.filter(|j| !j.is_empty())?;
        let n = self.lines.len();
        for i in 0..n {
            if self.lines[i] != job {
                continue;
            }
            // Python's lines[i - 1]: the last line when i is 0.
            let prev = (i + n - 1) % n;
            if !self.lines[prev].starts_with(MARK) {
                self.lines.insert(i, comment(name));
                return Some((job.to_owned(), true));
            }
            if self.lines[prev] == comment("None") {
                self.lines[prev] = comment(name);
                return Some((job.to_owned(), true));
            }
        }
        None
    }

    /// Ansible's `_update_job`: the line after NAME's comment becomes `job` (or goes with
    /// the comment, for `None`).
    fn update_job(&mut self, name: &str, job: Option<&str>) {
        let mark = comment(name);
        let mut out = Vec::new();
        let mut held: Option<String> = None;
        for l in std::mem::take(&mut self.lines) {
            if let Some(c) = held.take() {
                if let Some(job) = job {
                    out.push(c);
                    out.push(job.to_owned());
                }
            } else if l == mark {
                held = Some(l);
            } else {
                out.push(l);
            }
        }
        self.lines = out;
    }

    fn env_at(&self, name: &str) -> Option<usize> {
        let re = env_pattern(name);
        self.lines.iter().position(|l| re.is_match(l))
    }

    fn update_env(&mut self, name: &str, decl: Option<&str>) {
        let re = env_pattern(name);
        let lines = std::mem::take(&mut self.lines);
        self.lines = lines
            .into_iter()
            .filter_map(|l| {
                if re.is_match(&l) {
                    decl.map(str::to_owned)
                } else {
                    Some(l)
                }
            })
            .collect();
    }

    fn job_names(&self) -> Vec<String> {
        self.lines
            .iter()
            .filter(|l| l.starts_with(MARK))
            .map(|l| l.replace(MARK, ""))
            .collect()
    }

    fn env_names(&self) -> Vec<String> {
        static DECL: std::sync::OnceLock<regex::Regex> = std::sync::OnceLock::new();
        let decl = DECL.get_or_init(|| regex::Regex::new(r"^\S+=").expect("regex"));
        self.lines
            .iter()
            .filter(|l| decl.is_match(l))
            .map(|l| l.split('=').next().unwrap_or_default().to_owned())
            .collect()
    }
}

/// `^NAME=` with NAME read as a regular expression, as Ansible reads it; a name that is
/// not one is matched as text.
fn env_pattern(name: &str) -> regex::Regex {
    regex::Regex::new(&format!("^{name}="))
        .unwrap_or_else(|_| regex::Regex::new(&format!("^{}=", regex::escape(name))).expect("escaped"))
}

fn is_header(line: &str) -> bool {
    static HEADERS: std::sync::OnceLock<[regex::Regex; 3]> = std::sync::OnceLock::new();
    HEADERS
        .get_or_init(|| {
            [
                regex::Regex::new(r"^# DO NOT EDIT THIS FILE - edit the master and reinstall.")
                    .expect("regex"),
                regex::Regex::new(r"^# \(/tmp/.*installed on.*\)").expect("regex"),
                regex::Regex::new(r"^# \(.*version.*\)").expect("regex"),
            ]
        })
        .iter()
        .any(|re| re.is_match(line))
}

/// Python's `str.splitlines()` for the line ends a crontab has.
fn py_splitlines(text: &str) -> Vec<String> {
    let mut lines = Vec::new();
    let mut cur = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\r' => {
                if chars.peek() == Some(&'\n') {
                    chars.next();
                }
                lines.push(std::mem::take(&mut cur));
            }
            '\n' => lines.push(std::mem::take(&mut cur)),
            c => cur.push(c),
        }
    }
    if !cur.is_empty() {
        lines.push(cur);
    }
    lines
}

/// What the task asks, its values rendered and defaults applied.
#[derive(Debug)]
struct Want<'a> {
    name: &'a str,
    job: Option<&'a str>,
    present: bool,
    env: bool,
    user: Option<&'a str>,
    in_file: bool,
    /// minute, hour, day, month, weekday.
    when: [&'a str; 5],
    special: Option<&'a str>,
    disabled: bool,
    insertafter: Option<&'a str>,
    insertbefore: Option<&'a str>,
}

impl Want<'_> {
    /// Ansible's `get_cron_job`.
    fn job_line(&self) -> String {
        let job = self.job.unwrap_or("").trim_matches(['\r', '\n']);
        let off = if self.disabled { "#" } else { "" };
        let user = if self.in_file {
            format!("{} ", self.user.unwrap_or("None"))
        } else {
            String::new()
        };
        match self.special {
            Some(s) => format!("{off}@{s} {user}{job}"),
            None => format!("{off}{} {user}{job}", self.when.join(" ")),
        }
    }
}

/// The outcome of an edit.
#[derive(Debug, PartialEq)]
enum Edit {
    /// The crontab (or file) with the change made, and whether that is a change.
    Tab {
        changed: bool,
        after: Tab,
        warnings: Vec<String>,
    },
    /// The last job of a cron file went: the file goes.
    RemoveFile,
}

/// Ansible's `cron` main, without the reading and writing.
fn edit(before: &Tab, w: &Want) -> Result<Edit, String> {
    if w.special.is_some() && w.when.iter().any(|f| *f != "*") {
        return Err("You cannot combine special_time with any of the time or day/date parameters.".into());
    }
    if w.present {
        if w.in_file && w.user.is_none() {
            return Err("To use cron_file=... parameter you must specify user=... as well".into());
        }
        if w.job.is_none() {
            return Err("You must specify 'job' to install a new cron job or variable".into());
        }
        if (w.insertafter.is_some() || w.insertbefore.is_some()) && !w.env {
            return Err("Insertafter and insertbefore parameters are valid only with env=yes".into());
        }
    }
    let mut tab = before.clone();
    let mut changed = false;
    let mut warnings = Vec::new();
    if w.env {
        if w.name.contains(' ') {
            return Err("Invalid name for environment variable".into());
        }
        let decl = format!("{}=\"{}\"", w.name, w.job.unwrap_or("None"));
        let old = tab.env_at(w.name).map(|i| tab.lines[i].clone());
        match (w.present, old) {
            (true, None) => {
                let other = w.insertafter.or(w.insertbefore);
                let at = match other {
                    None => 0,
                    Some(o) => match tab.env_at(o) {
                        Some(i) if w.insertafter.is_some() => i + 1,
                        Some(i) => i,
                        None => return Err(format!("Variable named '{o}' not found.")),
                    },
                };
                tab.lines.insert(at, decl);
                changed = true;
            }
            (true, Some(old)) if old != decl => {
                tab.update_env(w.name, Some(&decl));
                changed = true;
            }
            (false, Some(_)) => {
                tab.update_env(w.name, None);
                changed = true;
            }
            _ => {}
        }
    } else if w.present {
        if w.job
            .unwrap_or("")
            .trim_matches(['\r', '\n'])
            .contains(['\r', '\n'])
        {
            warnings.push("Job should not contain line breaks".to_owned());
        }
        let line = w.job_line();
        match tab.find_job(w.name, Some(&line)) {
            None => {
                tab.lines.push(comment(w.name));
                tab.lines.push(line);
                changed = true;
            }
            Some((old, named)) => {
                if old != line || named {
                    tab.update_job(w.name, Some(&line));
                    changed = true;
                }
            }
        }
    } else if tab.find_job(w.name, None).is_some() {
        tab.update_job(w.name, None);
        changed = true;
        if w.in_file && tab.is_empty() {
            return Ok(Edit::RemoveFile);
        }
    }
    if !changed && !before.existing.is_empty() && !before.existing.ends_with(['\r', '\n']) {
        changed = true;
    }
    Ok(Edit::Tab {
        changed,
        after: tab,
        warnings,
    })
}

/// Where a `cron_file` is: a bare name is under /etc/cron.d.
fn cron_path(file: &str) -> String {
    if file.starts_with('/') {
        file.to_owned()
    } else {
        format!("/etc/cron.d/{file}")
    }
}

#[async_trait]
impl TypedModule for Cron {
    type Args = Args;

    fn name(&self) -> &'static str {
        "cron"
    }

    fn check(&self, a: &Args, _raw: &Value) -> Result<(), ArgError> {
        check_choice("state", a.state.as_deref(), &["present", "absent"])?;
        check_choice("special_time", a.special_time.as_deref(), SPECIAL)?;
        if a.insertafter.is_some() && a.insertbefore.is_some() {
            return Err(
                ArgError::new("parameters are mutually exclusive: insertafter|insertbefore")
                    .key("insertbefore"),
            );
        }
        Ok(())
    }

    async fn run(&self, ctx: &ModuleCtx<'_>, a: Args) -> Result<ModuleResult, Failure> {
        let state = a.state.clone().unwrap_or_else(|| "present".into());
        let mut warnings = Vec::new();
        if let Some(f) = &a.cron_file {
            if f == "/etc/crontab" {
                return Ok(ModuleResult::failed(
                    "Will not manage /etc/crontab via cron_file, see documentation.",
                ));
            }
            let base = f.rsplit('/').next().unwrap_or(f);
            let tidy = !base.is_empty()
                && base
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
            if !tidy {
                warnings.push(format!(
                    "Filename portion of cron_file (\"{base}\") should consist solely of upper- and lower-case letters, digits, underscores, and hyphens"
                ));
            }
        }
        let file = a.cron_file.as_deref().map(cron_path).unwrap_or_default();
        let user = a.user.clone().unwrap_or_default();
        let mark = fresh_mark();
        let script = |phase: &str, remove: bool, backup: Option<&str>| {
            sh_script(
                &[
                    ("m", mark.as_str()),
                    ("phase", phase),
                    ("user", &user),
                    ("file", &file),
                    ("remove", flag(Some(remove))),
                    ("backup", flag(Some(backup.is_some()))),
                    ("backup_text", backup.unwrap_or("")),
                ],
                include_str!("cron.sh"),
            )
        };
        let read = RemoteCommand::new(script("read", false, None)).run_as(ctx.run_as.cloned());
        let out = ctx.host.run(&read).await?;
        if out.rc != 0 {
            return Ok(command_failed(out.rc, &out.stderr, "cron"));
        }
        let content_tag = format!("{mark}content=\n");
        let rc_tag = format!("\n{mark}read_rc=");
        let body = out.stdout.split_once(&content_tag).map_or("", |(_, b)| b);
        let (text, rc) = body.rsplit_once(&rc_tag).unwrap_or((body, "0"));
        if !matches!(rc.trim(), "0" | "1") {
            return Ok(ModuleResult::failed("Unable to read crontab"));
        }
        let before = Tab::read(text, a.cron_file.is_none());
        let when = [&a.minute, &a.hour, &a.day, &a.month, &a.weekday].map(|f| f.as_deref().unwrap_or("*"));
        let want = Want {
            name: &a.name,
            job: a.job.as_deref(),
            present: state == "present",
            env: a.env == Some(true),
            user: a.user.as_deref(),
            in_file: a.cron_file.is_some(),
            when,
            special: a.special_time.as_deref(),
            disabled: a.disabled == Some(true),
            insertafter: a.insertafter.as_deref(),
            insertbefore: a.insertbefore.as_deref(),
        };
        let header = if a.cron_file.is_some() {
            file.clone()
        } else if let Some(u) = &a.user {
            format!("crontab for user \"{u}\"")
        } else {
            "crontab".into()
        };
        let backup = (a.backup == Some(true) && !ctx.check_mode).then(|| before.render());
        let edit = match edit(&before, &want) {
            Ok(e) => e,
            Err(msg) => return Ok(ModuleResult::failed(msg)),
        };
        let (changed, after, write) = match &edit {
            Edit::RemoveFile => (true, String::new(), !ctx.check_mode),
            Edit::Tab { changed, after, .. } => (*changed, after.render(), *changed && !ctx.check_mode),
        };
        let mut backup_file = None;
        if write {
            let remove = edit == Edit::RemoveFile;
            let cmd = RemoteCommand::new(script("write", remove, backup.as_deref()))
                .stdin(after.clone().into_bytes())
                .run_as(ctx.run_as.cloned());
            let out = ctx.host.run(&cmd).await?;
            if out.rc != 0 {
                let mut r = command_failed(out.rc, &out.stderr, "crontab");
                if a.cron_file.is_none() {
                    r.msg = Some("Failed to install new cronfile: (standard input of crontab -)".into());
                    r.stderr = Some(out.stderr.clone());
                }
                return Ok(r);
            }
            backup_file = split_marks(&out.stdout, &mark).0.get("backup_file").cloned();
        }
        let mut r = ModuleResult::changed(changed);
        let e = &mut r.extra;
        let diff = json!({"before": before.existing, "before_header": header});
        match edit {
            Edit::RemoveFile => {
                let mut d = if ctx.diff { diff } else { json!({}) };
                if ctx.diff {
                    d["after"] = json!("");
                    d["after_header"] = json!("/dev/null");
                }
                e.insert("cron_file".into(), json!(a.cron_file));
                e.insert("state".into(), json!(state));
                e.insert("diff".into(), d);
                return Ok(r);
            }
            Edit::Tab {
                after: tab,
                warnings: more,
                ..
            } => {
                warnings.extend(more);
                e.insert("jobs".into(), json!(tab.job_names()));
                e.insert("envs".into(), json!(tab.env_names()));
                if changed && ctx.diff {
                    let mut d = diff;
                    d["after"] = json!(after);
                    d["after_header"] = json!(header);
                    e.insert("diff".into(), d);
                }
            }
        }
        if !warnings.is_empty() {
            e.insert("warnings".into(), json!(warnings));
        }
        if let Some(b) = backup_file {
            e.insert("backup_file".into(), json!(b));
        }
        if let Some(f) = &a.cron_file {
            e.insert("cron_file".into(), json!(f));
        }
        Ok(r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn want<'a>(name: &'a str, job: Option<&'a str>) -> Want<'a> {
        Want {
            name,
            job,
            present: true,
            env: false,
            user: None,
            in_file: false,
            when: ["*"; 5],
            special: None,
            disabled: false,
            insertafter: None,
            insertbefore: None,
        }
    }

    fn after(before: &str, w: &Want) -> (bool, String) {
        match edit(&Tab::read(before, true), w).unwrap() {
            Edit::Tab { changed, after, .. } => (changed, after.render()),
            Edit::RemoveFile => panic!("file removed"),
        }
    }

    #[test]
    fn a_job_is_added_with_its_comment_and_a_second_run_changes_nothing() {
        let mut w = want("backup", Some("/usr/local/bin/backup"));
        w.when = ["0", "5,2", "*", "*", "*"];
        let (changed, text) = after("MAILTO=\"\"\n", &w);
        assert!(changed);
        assert_eq!(
            text,
            "MAILTO=\"\"\n#Ansible: backup\n0 5,2 * * * /usr/local/bin/backup\n"
        );
        assert_eq!(after(&text, &w), (false, text.clone()));
        w.when[0] = "30";
        let (changed, moved) = after(&text, &w);
        assert!(changed);
        assert_eq!(
            moved,
            "MAILTO=\"\"\n#Ansible: backup\n30 5,2 * * * /usr/local/bin/backup\n"
        );
    }

    #[test]
    fn a_job_found_by_its_line_gets_a_comment_and_that_is_a_change() {
        let mut w = want("clean", Some("rm -f /tmp/x"));
        w.special = Some("daily");
        let (changed, text) = after("@daily rm -f /tmp/x\n", &w);
        assert!(changed);
        assert_eq!(text, "#Ansible: clean\n@daily rm -f /tmp/x\n");
        let (changed, text) = after("#Ansible: None\n@daily rm -f /tmp/x\n", &w);
        assert!(changed);
        assert_eq!(text, "#Ansible: clean\n@daily rm -f /tmp/x\n");
    }

    #[test]
    fn absent_removes_the_job_and_an_emptied_cron_file_goes() {
        let text = "#Ansible: a\n* * * * * true\n#Ansible: b\n@hourly false\n";
        let mut w = want("a", None);
        w.present = false;
        assert_eq!(after(text, &w), (true, "#Ansible: b\n@hourly false\n".into()));
        let mut w2 = want("zzz", None);
        w2.present = false;
        assert_eq!(after(text, &w2), (false, text.into()));
        let mut f = want("b", None);
        f.present = false;
        f.in_file = true;
        assert_eq!(
            edit(&Tab::read("#Ansible: b\n@hourly false\n\n", false), &f),
            Ok(Edit::RemoveFile)
        );
    }

    #[test]
    fn a_cron_file_line_names_the_user_and_disabled_comments_it_out() {
        let mut w = want("sync", Some("rsync -a /a /b\n"));
        w.in_file = true;
        w.user = Some("deploy");
        w.disabled = true;
        w.when = ["*/5", "*", "*", "*", "1-5"];
        assert_eq!(
            after("", &w).1,
            "#Ansible: sync\n#*/5 * * * 1-5 deploy rsync -a /a /b\n"
        );
        w.user = None;
        assert!(edit(&Tab::read("", false), &w)
            .unwrap_err()
            .contains("specify user"));
    }

    #[test]
    fn variables_go_first_or_beside_another_and_are_quoted() {
        let mut w = want("PATH", Some("/usr/bin:/bin"));
        w.env = true;
        let (changed, text) = after("#Ansible: a\n* * * * * true\n", &w);
        assert!(changed);
        assert_eq!(text, "PATH=\"/usr/bin:/bin\"\n#Ansible: a\n* * * * * true\n");
        let mut m = want("MAILTO", Some("ops@example.com"));
        m.env = true;
        m.insertafter = Some("PATH");
        assert_eq!(
            after(&text, &m).1,
            "PATH=\"/usr/bin:/bin\"\nMAILTO=\"ops@example.com\"\n#Ansible: a\n* * * * * true\n"
        );
        m.insertafter = Some("NOPE");
        assert_eq!(
            edit(&Tab::read(&text, true), &m).unwrap_err(),
            "Variable named 'NOPE' not found."
        );
        let tab = Tab::read("PATH=\"/bin\"\nA=1\n#Ansible: x\n* * * * * y\n", true);
        assert_eq!(tab.env_names(), vec!["PATH", "A"]);
        assert_eq!(tab.job_names(), vec!["x"]);
    }

    #[test]
    fn headers_are_dropped_a_missing_newline_is_a_change_and_special_time_excludes_fields() {
        let tab = Tab::read(
            "# DO NOT EDIT THIS FILE - edit the master and reinstall.\n# (/tmp/crontab.X installed on Mon)\n# (Cron version 4.1)\n#Ansible: a\n* * * * * true\n",
            true,
        );
        assert_eq!(tab.lines, vec!["#Ansible: a", "* * * * * true"]);
        assert_eq!(tab.existing, "#Ansible: a\n* * * * * true\n");
        let mut w = want("a", Some("true"));
        assert_eq!(
            after("#Ansible: a\n* * * * * true", &w),
            (true, "#Ansible: a\n* * * * * true\n".into())
        );
        w.special = Some("reboot");
        w.when[1] = "3";
        assert!(edit(&tab, &w)
            .unwrap_err()
            .contains("cannot combine special_time"));
    }
}
