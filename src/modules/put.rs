//! Writing a file on the host, shared by `template` and `copy`: one round trip.
//!
//! The content travels on stdin into a private staging file (`~/.zdd/tmp`, 0700), which
//! must reach its full size: a transfer cut short (zdd killed) is thrown away there and
//! never reaches the destination's directory, where a web server could serve it. The same
//! script gives the staged file the wanted mode and owner, compares content (`cmp`) and
//! attributes (`stat`) with the destination, and only then puts it beside the destination
//! (a hard link, else a copy kept at 0600 until complete) and renames it into place (`mv`,
//! atomic on one filesystem). Readers never see a partial file, and an unchanged file is
//! left alone so a second run reports no change. Staging leftovers of runs killed with the
//! target (older than this run) are removed on the next write to the same directory.

use super::args::{fresh_mark, split_marks};
use super::{ModuleCtx, ModuleResult};
use crate::host::{sh_quote, sh_script, HostError, RemoteCommand};
use serde_json::json;
use sha1::{Digest, Sha1};

/// A file to put on the host.
pub struct PutFile<'a> {
    pub dest: &'a str,
    pub content: &'a [u8],
    pub mode: Option<&'a str>,
    pub owner: Option<&'a str>,
    pub group: Option<&'a str>,
    pub backup: bool,
    /// `force: no`: leave an existing destination alone.
    pub force: bool,
    /// A command checking the new file before it goes live; `%s` is its path.
    pub validate: Option<&'a str>,
    /// When `dest` is a directory, write `dest/<name>` (copy's `src` basename).
    pub name_in_dir: Option<&'a str>,
}

/// Diffs are shown only for text files up to this size.
const DIFF_LIMIT: usize = 256 * 1024;
/// Followed by the size in bytes and the old content, so the diff can show it.
const BEFORE: &str = "before_size=";

/// Whole seconds since this run's first write: the target sweeps staging files untouched
/// since before then (its own clock minus this, so the two clocks need not agree).
fn run_age() -> u64 {
    static FIRST_WRITE: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
    FIRST_WRITE
        .get_or_init(std::time::Instant::now)
        .elapsed()
        .as_secs()
}

pub fn sha1_hex(data: &[u8]) -> String {
    Sha1::digest(data).iter().map(|b| format!("{b:02x}")).collect()
}

/// `validate` as Ansible runs it, without a shell: the rendered command split as shlex
/// would, then each word formatted as Python's `%` formats it (`%s` is the staged file,
/// `%%` a `%`, exactly one `%s` in all) and quoted. The script evaluates this line, whose
/// only expansion is `"$tmp"`: no value in it (a `$(...)`, a `;`) can run as shell.
fn validate_command(cmd: &str) -> Result<String, String> {
    let words =
        shell_words::split(cmd).map_err(|e| format!("validate: cannot split `{cmd}` into words: {e}"))?;
    let mut files = 0;
    let mut quoted = Vec::new();
    for word in &words {
        let mut pieces = vec![String::new()];
        let mut chars = word.chars();
        while let Some(c) = chars.next() {
            match (c, c == '%') {
                (_, false) => pieces.last_mut().expect("one piece").push(c),
                (_, true) => match chars.next() {
                    Some('%') => pieces.last_mut().expect("one piece").push('%'),
                    Some('s') => {
                        files += 1;
                        pieces.push(String::new());
                    }
                    other => {
                        return Err(format!(
                            "validate: unsupported format character {:?} in `{cmd}` (write %% for a %)",
                            other.map(String::from).unwrap_or_default()
                        ))
                    }
                },
            }
        }
        let pieces: Vec<String> = pieces
            .iter()
            .map(|p| if p.is_empty() { String::new() } else { sh_quote(p) })
            .collect();
        let word = pieces.join("\"$tmp\"");
        quoted.push(if word.is_empty() { "''".to_owned() } else { word });
    }
    match files {
        0 => Err(format!("validate must contain %s: {cmd}")),
        1 => Ok(quoted.join(" ")),
        _ => Err(format!(
            "validate: not enough arguments for format string (one %s only): {cmd}"
        )),
    }
}

pub fn script(p: &PutFile<'_>, check_mode: bool, diff: bool, mark: &str) -> Result<String, String> {
    let flag = |b: bool| if b { "1" } else { "0" };
    let mut fmt = String::from("%a");
    if p.owner.is_some() {
        fmt.push_str(" %u");
    }
    if p.group.is_some() {
        fmt.push_str(" %g");
    }
    let validate = p.validate.map(validate_command).transpose()?;
    let validate_shown = p.validate.map(|cmd| cmd.replace(['"', '\\', '$', '`'], ""));
    Ok(sh_script(
        &[
            ("m", mark),
            ("dest", p.dest),
            ("name", p.name_in_dir.unwrap_or("")),
            ("mode", p.mode.unwrap_or("")),
            ("owner", p.owner.unwrap_or("")),
            ("group", p.group.unwrap_or("")),
            ("check", flag(check_mode)),
            ("diff", flag(diff)),
            ("force", flag(p.force)),
            ("backup", flag(p.backup)),
            ("fmt", &fmt),
            ("limit", &DIFF_LIMIT.to_string()),
            ("before", BEFORE),
            ("validate", validate.as_deref().unwrap_or("")),
            ("validate_shown", validate_shown.as_deref().unwrap_or("")),
            ("size", &p.content.len().to_string()),
            ("age", &run_age().to_string()),
        ],
        include_str!("put.sh"),
    ))
}

/// The marks, and the old content printed between them (`before_size=N`, then N bytes).
fn split_before(stdout: &str, mark: &str) -> (indexmap::IndexMap<String, String>, Option<String>) {
    let tag = format!("{mark}{BEFORE}");
    let Some(at) = stdout.find(&tag) else {
        return (split_marks(stdout, mark).0, None);
    };
    let after_tag = &stdout[at + tag.len()..];
    let (size, rest) = after_tag.split_once('\n').unwrap_or((after_tag, ""));
    let size: usize = size.parse().unwrap_or(0);
    let cut = (0..=size.min(rest.len()))
        .rev()
        .find(|i| rest.is_char_boundary(*i))
        .unwrap_or(0);
    let mut text = stdout[..at].to_owned();
    text.push_str(&rest[cut..]);
    (split_marks(&text, mark).0, Some(rest[..cut].to_owned()))
}

pub async fn put(ctx: &ModuleCtx<'_>, p: &PutFile<'_>) -> Result<ModuleResult, HostError> {
    let mark = fresh_mark();
    let script = match script(p, ctx.check_mode, ctx.diff, &mark) {
        Ok(script) => script,
        Err(msg) => return Ok(ModuleResult::failed(msg)),
    };
    let cmd = RemoteCommand::new(script)
        .stdin(p.content.to_vec())
        .run_as(ctx.run_as.cloned());
    let out = ctx.host.run(&cmd).await?;
    let (marks, before) = split_before(&out.stdout, &mark);
    if out.rc != 0 {
        let mut r = ModuleResult::failed(match out.stderr.trim() {
            "" => format!("writing {} failed (exit code {})", p.dest, out.rc),
            msg => msg.to_owned(),
        });
        r.rc = Some(out.rc);
        r.extra.insert("dest".into(), json!(p.dest));
        return Ok(r);
    }
    let dest = marks.get("dest").cloned().unwrap_or_else(|| p.dest.to_owned());
    let mut r = ModuleResult::changed(marks.get("changed").map(String::as_str) == Some("1"));
    r.extra.insert("dest".into(), json!(dest));
    r.extra.insert("checksum".into(), json!(sha1_hex(p.content)));
    r.extra.insert("size".into(), json!(p.content.len()));
    if let Some(stat) = marks.get("stat") {
        let mut parts = stat.split(' ');
        if let Some(mode) = parts.next() {
            r.extra.insert("mode".into(), json!(format!("{mode:0>4}")));
        }
        if let (Some(owner), Some(group)) = (parts.next(), parts.next()) {
            r.extra.insert("owner".into(), json!(owner));
            r.extra.insert("group".into(), json!(group));
        }
    }
    r.extra.insert("state".into(), json!("file"));
    if let Some(backup) = marks.get("backup_file") {
        r.extra.insert("backup_file".into(), json!(backup));
    }
    if ctx.diff && r.changed {
        let after = String::from_utf8_lossy(p.content);
        let before = before.as_deref().unwrap_or("");
        if p.content.len() <= DIFF_LIMIT {
            r.extra.insert(
                "diff".into(),
                json!({
                    "before": before,
                    "after": after,
                    "before_header": dest,
                    "after_header": dest,
                }),
            );
        }
    }
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha1_matches_ansible_checksum() {
        // `printf hello | sha1sum`
        assert_eq!(sha1_hex(b"hello"), "aaf4c61ddcc5e8a2dabede0f3b482cd9aea9434d");
    }

    #[test]
    fn validate_is_split_like_shlex_and_every_word_quoted() {
        assert_eq!(
            validate_command("test -n $(touch /tmp/x) -a -f %s").unwrap(),
            r#"test -n '$(touch' '/tmp/x)' -a -f "$tmp""#
        );
        assert_eq!(
            validate_command(r#"sh -c 'test -s "$0"' --file=%s.new '' x;y 100%%"#).unwrap(),
            r#"sh -c 'test -s "$0"' --file="$tmp".new '' 'x;y' 100%"#
        );
        assert!(validate_command("visudo -cf '%s").is_err());
        assert!(validate_command("visudo -c")
            .unwrap_err()
            .contains("must contain %s"));
        assert!(validate_command("cmp %s %s").is_err());
        assert!(validate_command("test 100% -f %s").is_err());
    }

    #[test]
    fn script_quotes_paths_and_renames_from_the_destination_dir() {
        let p = PutFile {
            dest: "/etc/it's.conf",
            content: b"",
            mode: Some("0640"),
            owner: None,
            group: None,
            backup: false,
            force: true,
            validate: Some("nginx -t -c %s"),
            name_in_dir: None,
        };
        let s = script(&p, false, false, "__zdd__ ").unwrap();
        assert!(s.contains(r"dest='/etc/it'\''s.conf'"));
        assert!(s.contains(r#"mktemp "$dir/.zdd.XXXXXX""#));
        assert!(s.contains("\nsize=0\n"), "{s}");
        assert!(s.contains(r#"validate='nginx -t -c "$tmp"'"#), "{s}");
        assert!(s.contains("\nfmt=%a\n"), "{s}");
    }
}
