//! `apt_repository`: add or remove a one-line APT source, as Ansible does.
//!
//! One script reads `sources.list` and `sources.list.d/*.list` (their places from
//! `apt-config`); the change is worked out here, as Ansible works it out: every file
//! normalised line by line, a source already there (even commented out) is enabled
//! rather than added again, a new one goes in `filename.list` (or a name made from the
//! URL), a removed one leaves its file, and a file left empty is deleted. A second
//! script writes the files that differ and runs `apt-get update` (`update_cache`,
//! retried), putting the files back if that fails. PPAs (`ppa:`) need Launchpad and are
//! refused. Ansible rewrites every source file it read when anything changed; zdd writes
//! only those whose content changes.

use super::args::{self, check_choice, fresh_mark, mark_lines};
use super::{ArgError, Failure, ModuleCtx, ModuleResult, TypedModule};
use crate::host::{sh_script, RemoteCommand};
use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{json, Value};

pub struct AptRepository;

const SOURCE_TYPES: &[&str] = &["deb", "deb-src"];

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Args {
    repo: String,
    #[serde(default)]
    state: Option<String>,
    #[serde(default, deserialize_with = "args::opt_mode")]
    mode: Option<String>,
    #[serde(default, alias = "update-cache", deserialize_with = "args::opt_bool")]
    update_cache: Option<bool>,
    #[serde(default, deserialize_with = "args::opt_f64")]
    update_cache_retries: Option<f64>,
    #[serde(default, deserialize_with = "args::opt_f64")]
    update_cache_retry_max_delay: Option<f64>,
    #[serde(default)]
    filename: Option<String>,
    #[serde(default, deserialize_with = "args::opt_bool")]
    install_python_apt: Option<bool>,
    #[serde(default, deserialize_with = "args::opt_bool")]
    validate_certs: Option<bool>,
    #[serde(default)]
    codename: Option<String>,
}

/// One line of a sources file, as Ansible reads it.
#[derive(Debug, Clone, PartialEq)]
struct Line {
    valid: bool,
    enabled: bool,
    source: String,
    comment: String,
}

fn parse_line(line: &str) -> Line {
    let mut line = line.trim();
    let mut enabled = true;
    if let Some(rest) = line.strip_prefix('#') {
        enabled = false;
        line = rest;
    }
    let mut comment = String::new();
    if let Some(i) = line.find('#').filter(|i| *i > 0) {
        comment = line[i + 1..].trim().to_owned();
        line = &line[..i];
    }
    let mut source = line.trim().to_owned();
    let mut valid = false;
    let words: Vec<&str> = source.split_whitespace().collect();
    if words.first().is_some_and(|w| SOURCE_TYPES.contains(w)) {
        valid = true;
        source = words.join(" ");
    }
    Line {
        valid,
        enabled,
        source,
        comment,
    }
}

fn render(lines: &[Line]) -> String {
    let mut out = String::new();
    for l in lines {
        if !l.enabled {
            out.push_str("# ");
        }
        out.push_str(&l.source);
        if !l.comment.is_empty() {
            out.push_str(" # ");
            out.push_str(&l.comment);
        }
        out.push('\n');
    }
    out
}

/// The file a new source goes in: `filename.list`, or its host and path made a name.
fn suggest_filename(source: &str, filename: Option<&str>) -> String {
    if let Some(f) = filename {
        return format!("{f}.list");
    }
    let mut line = String::new();
    let mut depth = 0;
    for c in source.chars() {
        match c {
            '[' => depth += 1,
            ']' if depth > 0 => depth -= 1,
            _ if depth == 0 => line.push(c),
            _ => {}
        }
    }
    let first = line
        .split_whitespace()
        .filter(|w| !SOURCE_TYPES.contains(w))
        .map(|w| w.split_once("://").map_or(w, |(_, rest)| rest))
        .next()
        .unwrap_or("");
    let first = first.split_once('@').map_or(first, |(_, host)| host);
    let name: Vec<&str> = first
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|s| !s.is_empty())
        .collect();
    format!("{}.list", name.join("_"))
}

/// The sources as read, and what they become.
struct Sources {
    dir: String,
    files: Vec<(String, Vec<Line>)>,
}

impl Sources {
    fn from_marks(marks: &[(&str, &str)]) -> Sources {
        let mut s = Sources {
            dir: "/etc/apt/sources.list.d".into(),
            files: Vec::new(),
        };
        for (key, value) in marks {
            match *key {
                "dir" => s.dir = value.trim_end_matches('/').to_owned(),
                "file" => s.files.push((value.to_string(), Vec::new())),
                "line" => {
                    if let Some((_, lines)) = s.files.last_mut() {
                        lines.push(parse_line(value));
                    }
                }
                _ => {}
            }
        }
        s
    }

    /// Each file with lines, rendered (a file without lines is no file).
    fn dump(&self) -> Vec<(String, String)> {
        self.files
            .iter()
            .filter(|(_, lines)| !lines.is_empty())
            .map(|(f, lines)| (f.clone(), render(lines)))
            .collect()
    }

    /// Adds `source`; the file that got a new line, if one did.
    fn add(&mut self, source: &str, file: &str) -> Option<String> {
        let mut found = false;
        for (_, lines) in &mut self.files {
            for l in lines.iter_mut().filter(|l| l.valid && l.source == source) {
                l.enabled = true;
                found = true;
            }
        }
        if found {
            return None;
        }
        let path = if file.contains('/') {
            file.to_owned()
        } else {
            format!("{}/{file}", self.dir)
        };
        let new = Line {
            valid: true,
            enabled: true,
            source: source.to_owned(),
            comment: String::new(),
        };
        match self.files.iter_mut().find(|(f, _)| *f == path) {
            Some((_, lines)) => lines.push(new),
            None => self.files.push((path.clone(), vec![new])),
        }
        Some(path)
    }

    fn remove(&mut self, source: &str) {
        for (_, lines) in &mut self.files {
            lines.retain(|l| !(l.valid && l.enabled && l.source == source));
        }
    }
}

fn content_of<'a>(dump: &'a [(String, String)], file: &str) -> Option<&'a str> {
    dump.iter().find(|(f, _)| f == file).map(|(_, c)| c.as_str())
}

/// The script that writes `changes` (path, before, after; an empty `after` deletes the
/// file), gives `new_file` its mode, and updates the cache.
fn write_script(
    a: &Args,
    mark: &str,
    changes: &[(String, String, String)],
    new_file: Option<&str>,
) -> String {
    let mut vars: Vec<(String, String)> = vec![
        ("m".into(), mark.into()),
        (
            "update".into(),
            if a.update_cache != Some(false) { "1" } else { "0" }.into(),
        ),
        (
            "retries".into(),
            format!("{}", a.update_cache_retries.unwrap_or(5.0).max(1.0) as u64),
        ),
        (
            "max_delay".into(),
            format!("{}", a.update_cache_retry_max_delay.unwrap_or(12.0) as u64),
        ),
    ];
    let mut apply = String::from("apply() {\n");
    let mut revert = String::from("revert() {\n  :\n");
    for (i, (path, before, after)) in changes.iter().enumerate() {
        let mode = match new_file {
            Some(f) if f == path => a.mode.clone().unwrap_or_else(|| "0644".into()),
            _ => String::new(),
        };
        vars.push((format!("f{i}"), path.clone()));
        vars.push((format!("b{i}"), before.clone()));
        vars.push((format!("a{i}"), after.clone()));
        vars.push((format!("md{i}"), mode));
        apply.push_str(&format!("  put_file \"$f{i}\" \"$a{i}\" \"$md{i}\"\n"));
        revert.push_str(&format!("  put_file \"$f{i}\" \"$b{i}\" \"\"\n"));
    }
    apply.push_str("}\n");
    revert.push_str("}\n");
    let refs: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let body = format!("{apply}{revert}{}", include_str!("apt_repository.sh"));
    sh_script(&refs, &body)
}

const READ: &str = r#"list=/etc/apt/sources.list dir=/etc/apt/sources.list.d
if command -v apt-config >/dev/null 2>&1; then
  eval "$(apt-config shell list Dir::Etc::sourcelist/f dir Dir::Etc::sourceparts/d)"
fi
dir=${dir%/}
echo "${m}dir=$dir"
for f in "$list" "$dir"/*.list; do
  [ -f "$f" ] || continue
  echo "${m}file=$f"
  awk -v m="$m" '{ print m "line=" $0 }' "$f" || exit 1
done
"#;

#[async_trait]
impl TypedModule for AptRepository {
    type Args = Args;

    fn name(&self) -> &'static str {
        "apt_repository"
    }

    fn check(&self, a: &Args, _raw: &Value) -> Result<(), ArgError> {
        check_choice("state", a.state.as_deref(), &["absent", "present"])
    }

    async fn run(&self, ctx: &ModuleCtx<'_>, a: Args) -> Result<ModuleResult, Failure> {
        let _ = (&a.install_python_apt, &a.validate_certs, &a.codename);
        let state = a.state.clone().unwrap_or_else(|| "present".into());
        if a.repo.is_empty() {
            return Err("Please set argument 'repo' to a non-empty value".into());
        }
        if a.repo.starts_with("ppa:") {
            return Err(format!(
                "zdd does not add PPAs natively (they need Launchpad): write the `deb` line of {}",
                a.repo
            )
            .into());
        }
        let parsed = parse_line(&a.repo);
        if !parsed.valid || !parsed.enabled {
            let shown = a.repo.trim().trim_start_matches('#');
            let shown = shown.split_once('#').map_or(shown, |(s, _)| s);
            return Err(format!("Invalid repository string: {shown}").into());
        }
        let mark = fresh_mark();
        let read = RemoteCommand::new(sh_script(&[("m", &mark)], READ)).run_as(ctx.run_as.cloned());
        let out = ctx.host.run(&read).await?;
        if out.rc != 0 {
            return Err(format!("cannot read the APT sources: {}", out.stderr.trim()).into());
        }
        let mut rest = String::new();
        let marks = mark_lines(&out.stdout, &mark, &mut rest);
        let mut sources = Sources::from_marks(&marks);
        let before = sources.dump();
        let new_file = if state == "present" {
            sources.add(
                &parsed.source,
                &suggest_filename(&parsed.source, a.filename.as_deref()),
            )
        } else {
            sources.remove(&parsed.source);
            None
        };
        let after = sources.dump();
        let changed = before != after;
        let mut added = Vec::new();
        let mut removed = Vec::new();
        let mut changes = Vec::new();
        let mut diffs = Vec::new();
        if changed {
            for (f, c) in &after {
                let was = content_of(&before, f);
                if was.is_none() {
                    added.push(f.clone());
                }
                if was != Some(c.as_str()) {
                    changes.push((f.clone(), was.unwrap_or("").to_owned(), c.clone()));
                }
            }
            for (f, c) in &before {
                if content_of(&after, f).is_none() {
                    removed.push(f.clone());
                    changes.push((f.clone(), c.clone(), String::new()));
                }
            }
            for f in added.iter().chain(&removed) {
                diffs.push(json!({
                    "before": content_of(&before, f).unwrap_or(""),
                    "after": content_of(&after, f).unwrap_or(""),
                    "before_header": if content_of(&before, f).is_some() { f.as_str() } else { "/dev/null" },
                    "after_header": if content_of(&after, f).is_some() { f.as_str() } else { "/dev/null" },
                }));
            }
        }
        let mut r = ModuleResult::changed(changed);
        if changed && !ctx.check_mode {
            let script = write_script(&a, &mark, &changes, new_file.as_deref());
            let out = ctx
                .host
                .run(&RemoteCommand::new(script).run_as(ctx.run_as.cloned()))
                .await?;
            if out.rc != 0 {
                let msg = out
                    .stderr
                    .trim()
                    .lines()
                    .last()
                    .unwrap_or("apt_repository failed");
                return Err(msg.to_owned().into());
            }
        }
        r.extra.insert("repo".into(), json!(a.repo));
        r.extra.insert("sources_added".into(), json!(added));
        r.extra.insert("sources_removed".into(), json!(removed));
        r.extra.insert("state".into(), json!(state));
        if ctx.diff {
            r.extra.insert("diff".into(), Value::Array(diffs));
        }
        Ok(r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_read_as_ansible_reads_them() {
        let l = parse_line("  deb   http://x/y  stable main # mine");
        assert!(l.valid && l.enabled);
        assert_eq!(l.source, "deb http://x/y stable main");
        assert_eq!(l.comment, "mine");
        let l = parse_line("#deb http://x/y stable main");
        assert!(l.valid && !l.enabled);
        assert_eq!(render(&[l]), "# deb http://x/y stable main\n");
        assert!(!parse_line("# just a comment").valid);
    }

    #[test]
    fn filenames_come_from_the_url_or_filename() {
        let s = "deb [arch=amd64 signed-by=/k.gpg] https://user:pw@download.docker.com/linux/debian bookworm stable";
        assert_eq!(suggest_filename(s, None), "download_docker_com_linux_debian.list");
        assert_eq!(
            suggest_filename("deb http://127.0.0.1:9/zdd stable main", Some("zdd")),
            "zdd.list"
        );
    }

    #[test]
    fn a_disabled_source_is_enabled_not_added() {
        let marks = [
            ("dir", "/etc/apt/sources.list.d"),
            ("file", "/etc/apt/sources.list"),
            ("line", "# deb http://a/ x main"),
        ];
        let mut s = Sources::from_marks(&marks);
        assert_eq!(s.add("deb http://a/ x main", "a.list"), None);
        assert_eq!(s.dump()[0].1, "deb http://a/ x main\n");
        assert_eq!(
            s.add("deb http://b/ x main", "b.list").as_deref(),
            Some("/etc/apt/sources.list.d/b.list")
        );
        s.remove("deb http://b/ x main");
        assert_eq!(s.dump().len(), 1);
    }
}
