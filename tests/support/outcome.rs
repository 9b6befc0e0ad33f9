//! What a zdd run gave back: exit code, stdout, stderr, read exactly (the `PLAY RECAP`
//! counters, the screen under a banner, JSON events) or redacted for a snapshot.

use super::redact::Redactions;
use serde::Deserialize;
use serde_json::Value;
use std::collections::BTreeMap;
use std::fmt;

/// What a zdd run gave back.
pub struct Outcome {
    /// The exit code; `None` when a signal ended zdd.
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    pub(super) json: bool,
    pub(super) redactions: Redactions,
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "exit: {:?}\n--- stdout\n{}--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

impl fmt::Debug for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl Outcome {
    /// Panics, showing stdout and stderr, unless zdd exited with `want`.
    #[track_caller]
    pub fn assert_code(&self, want: i32) -> &Outcome {
        assert_eq!(
            self.code,
            Some(want),
            "zdd exited {:?}, not {want}:\n{self}",
            self.code
        );
        self
    }

    /// The Ansible-style output: stdout, or stderr with `--output json`.
    pub fn human(&self) -> &str {
        if self.json {
            &self.stderr
        } else {
            &self.stdout
        }
    }

    /// stdout then stderr.
    pub fn all_output(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }

    /// The `PLAY RECAP` of the human output, every line parsed (see `parse_recap`).
    #[track_caller]
    pub fn recap(&self) -> BTreeMap<String, HostStats> {
        parse_recap(self.human()).unwrap_or_else(|e| panic!("{e}:\n{self}"))
    }

    /// One host's `PLAY RECAP` counters; panics if the host has no line.
    #[track_caller]
    pub fn recap_of(&self, host: &str) -> HostStats {
        *self
            .recap()
            .get(host)
            .unwrap_or_else(|| panic!("no PLAY RECAP line for {host}:\n{self}"))
    }

    /// The result lines (`ok: [...]`, `changed: [...]`) under each `TASK [task]` banner.
    pub fn task_results(&self, task: &str) -> Vec<&str> {
        let banner = format!("TASK [{task}] ");
        self.human()
            .split(&banner)
            .skip(1)
            .flat_map(|section| section.lines().skip(1).take_while(|l| !l.is_empty()))
            .collect()
    }

    /// The body of the screen under `TITLE ****` (`OUT OF ROTATION`, `INTERRUPTED`, ...)
    /// up to the next banner; `None` when there is no such banner.
    pub fn screen(&self, title: &str) -> Option<String> {
        let lines: Vec<&str> = self.human().lines().collect();
        let start = lines.iter().position(|l| is_banner(l, title))?;
        let body: Vec<&str> = lines[start + 1..]
            .iter()
            .take_while(|l| !is_any_banner(l))
            .copied()
            .collect();
        let mut text = body.join("\n");
        while text.ends_with('\n') {
            text.pop();
        }
        Some(text)
    }

    /// Every line of stdout as a JSON event (`--output json`); panics on a line that is not.
    #[track_caller]
    pub fn events(&self) -> Vec<Value> {
        assert!(!self.stdout.is_empty(), "no events:\n{self}");
        self.stdout
            .lines()
            .map(|line| {
                let event: Value = serde_json::from_str(line)
                    .unwrap_or_else(|e| panic!("not a JSON line ({e}): {line:?}\n{self}"));
                assert!(event["event"].is_string(), "untagged event: {line}");
                event
            })
            .collect()
    }

    /// `exit: CODE`, stdout and stderr, with times, durations, temporary paths, lab nets
    /// and pids replaced by placeholders: the text to snapshot.
    pub fn redacted(&self) -> String {
        let code = self.code.map_or("signal".to_owned(), |c| c.to_string());
        self.redact(&format!("exit: {code}\n{}{}", self.stdout, self.stderr))
    }

    /// `redacted`, with the result lines under each task banner in host order (stable:
    /// one host's loop items keep their order). Hosts of one batch finish a task in any
    /// order; use this for batches of more than one host.
    pub fn redacted_in_host_order(&self) -> String {
        in_host_order(&self.redacted())
    }

    /// `text` with this run's placeholders.
    pub fn redact(&self, text: &str) -> String {
        self.redactions.apply(text)
    }
}

/// `\nTITLE ****` as zdd and Ansible draw a banner.
fn is_banner(line: &str, title: &str) -> bool {
    line.strip_prefix(title)
        .and_then(|rest| rest.strip_prefix(' '))
        .is_some_and(|stars| stars.len() >= 3 && stars.chars().all(|c| c == '*'))
}

fn is_any_banner(line: &str) -> bool {
    line.rsplit_once(' ')
        .is_some_and(|(title, _)| !title.is_empty() && is_banner(line, title))
}

/// The host a result line is about: `web1` in `changed: [web1 -> lb(127.0.0.10)] => ...`.
fn result_host(line: &str) -> Option<&str> {
    const PREFIXES: [&str; 6] = [
        "ok: [",
        "changed: [",
        "fatal: [",
        "failed: [",
        "skipping: [",
        "FAILED - RETRYING: [",
    ];
    let rest = PREFIXES.iter().find_map(|p| line.strip_prefix(p))?;
    let label = &rest[..rest.find(']')?];
    Some(label.split(" -> ").next().unwrap_or(label))
}

/// `text` with the result lines under each banner stably sorted by host.
pub fn in_host_order(text: &str) -> String {
    let mut out: Vec<String> = Vec::new();
    // Results of the current task: (host, lines of that result, `...ignoring` included).
    let mut block: Vec<(String, Vec<&str>)> = Vec::new();
    let flush = |block: &mut Vec<(String, Vec<&str>)>, out: &mut Vec<String>| {
        block.sort_by(|a, b| a.0.cmp(&b.0));
        for (_, lines) in block.drain(..) {
            out.extend(lines.into_iter().map(str::to_owned));
        }
    };
    for line in text.lines() {
        if let Some(host) = result_host(line) {
            block.push((host.to_owned(), vec![line]));
        } else if line == "...ignoring" && !block.is_empty() {
            block.last_mut().unwrap().1.push(line);
        } else {
            flush(&mut block, &mut out);
            out.push(line.to_owned());
        }
    }
    flush(&mut block, &mut out);
    let mut text = out.join("\n");
    text.push('\n');
    text
}

/// Ansible's per-host counters of one `PLAY RECAP` line.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HostStats {
    pub ok: u64,
    pub changed: u64,
    pub unreachable: u64,
    pub failed: u64,
    pub skipped: u64,
    pub rescued: u64,
    pub ignored: u64,
}

impl HostStats {
    /// `host : ok=N changed=N unreachable=N failed=N skipped=N rescued=N ignored=N`: all
    /// seven counters, in Ansible's order, and nothing else.
    pub fn parse_line(line: &str) -> Result<(String, HostStats), String> {
        let (host, counts) = line
            .split_once(" : ")
            .ok_or_else(|| format!("not a recap line: {line:?}"))?;
        let host = host.trim_end();
        if host.is_empty() || host.contains(char::is_whitespace) {
            return Err(format!("no host name in recap line {line:?}"));
        }
        let fields: Vec<&str> = counts.split_whitespace().collect();
        const KEYS: [&str; 7] = [
            "ok",
            "changed",
            "unreachable",
            "failed",
            "skipped",
            "rescued",
            "ignored",
        ];
        if fields.len() != KEYS.len() {
            return Err(format!("want {} counters in {line:?}", KEYS.len()));
        }
        let mut values = [0u64; 7];
        for ((field, key), value) in fields.iter().zip(KEYS).zip(values.iter_mut()) {
            *value = field
                .strip_prefix(key)
                .and_then(|v| v.strip_prefix('='))
                .and_then(|v| v.parse().ok())
                .ok_or_else(|| format!("want `{key}=N`, found `{field}` in {line:?}"))?;
        }
        let [ok, changed, unreachable, failed, skipped, rescued, ignored] = values;
        Ok((
            host.to_owned(),
            HostStats {
                ok,
                changed,
                unreachable,
                failed,
                skipped,
                rescued,
                ignored,
            },
        ))
    }
}

/// The one `PLAY RECAP` of a human output: every line after the banner up to the blank
/// line that ends it must be a recap line, and no host may have two.
pub fn parse_recap(human: &str) -> Result<BTreeMap<String, HostStats>, String> {
    let mut sections = human.lines().filter(|l| is_banner(l, "PLAY RECAP"));
    if sections.next().is_none() {
        return Err("no PLAY RECAP".into());
    }
    if sections.next().is_some() {
        return Err("more than one PLAY RECAP".into());
    }
    let mut recap = BTreeMap::new();
    let lines = human
        .lines()
        .skip_while(|l| !is_banner(l, "PLAY RECAP"))
        .skip(1)
        .take_while(|l| !l.is_empty());
    for line in lines {
        let (host, stats) = HostStats::parse_line(line)?;
        if recap.insert(host.clone(), stats).is_some() {
            return Err(format!("two recap lines for {host}"));
        }
    }
    Ok(recap)
}
