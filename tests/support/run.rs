//! One builder for running the zdd binary in a test, with a lab or without one, and the
//! typed outcome of a run.
//!
//! ```ignore
//! let out = lab.zdd().apply("examples/lab/zero-downtime.yml").extra("version=2").run();
//! out.assert_code(0);
//! assert_eq!(out.recap_of("web1").failed, 0);
//! insta::assert_snapshot!(out.redacted());
//!
//! let out = Zdd::new().plan("playbooks/task-demo.yml").inventory(FIXTURE).run();
//! ```
//!
//! `lab.zdd()` passes `-i` with the lab's inventory and redacts the lab's directory and
//! net; `Zdd::new()` runs from the repository root with no inventory unless given one.

use regex::Regex;
use serde::Deserialize;
use serde_json::Value;
use std::collections::BTreeMap;
use std::ffi::{OsStr, OsString};
use std::fmt;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{mpsc, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// `zdd ARGS... [-i INVENTORY]`, run from `current_dir` (the repository root by default).
#[derive(Debug, Clone)]
pub struct Zdd {
    args: Vec<OsString>,
    inventory: Option<PathBuf>,
    cwd: PathBuf,
    env: Vec<(OsString, Option<OsString>)>,
    redactions: Redactions,
}

impl Default for Zdd {
    fn default() -> Self {
        Zdd::new()
    }
}

impl Zdd {
    /// zdd without a lab: no inventory unless `inventory` names one. The checkout's path
    /// is `[REPO]` in redacted output (CI clones it elsewhere).
    pub fn new() -> Zdd {
        let root = super::repo_root();
        let mut redactions = Redactions::default();
        redactions.add(root.display().to_string(), "[REPO]");
        Zdd {
            args: Vec::new(),
            inventory: None,
            cwd: root.to_owned(),
            env: Vec::new(),
            redactions,
        }
    }

    /// `zdd apply PLAYBOOK`.
    pub fn apply(self, playbook: impl AsRef<OsStr>) -> Zdd {
        self.arg("apply").arg(playbook)
    }

    /// `zdd check PLAYBOOK`.
    pub fn check(self, playbook: impl AsRef<OsStr>) -> Zdd {
        self.arg("check").arg(playbook)
    }

    /// `zdd plan PLAYBOOK`.
    pub fn plan(self, playbook: impl AsRef<OsStr>) -> Zdd {
        self.arg("plan").arg(playbook)
    }

    /// `zdd status PLAYBOOK`.
    pub fn status(self, playbook: impl AsRef<OsStr>) -> Zdd {
        self.arg("status").arg(playbook)
    }

    /// `zdd status --journal JOURNAL` (no inventory: the journal names everything).
    pub fn status_of_journal(self, journal: impl AsRef<OsStr>) -> Zdd {
        self.no_inventory().arg("status").arg("--journal").arg(journal)
    }

    /// `-i INVENTORY` (instead of the lab's).
    pub fn inventory(mut self, path: impl AsRef<Path>) -> Zdd {
        self.inventory = Some(path.as_ref().to_owned());
        self
    }

    /// No `-i` at all.
    pub fn no_inventory(mut self) -> Zdd {
        self.inventory = None;
        self
    }

    /// `-e VARS`.
    pub fn extra(self, vars: impl AsRef<OsStr>) -> Zdd {
        self.arg("-e").arg(vars)
    }

    /// `-l PATTERN`.
    pub fn limit(self, pattern: &str) -> Zdd {
        self.arg("-l").arg(pattern)
    }

    /// `--output json`: events on stdout, the human output on stderr.
    pub fn json(self) -> Zdd {
        self.args(["--output", "json"])
    }

    pub fn arg(mut self, arg: impl AsRef<OsStr>) -> Zdd {
        self.args.push(arg.as_ref().to_owned());
        self
    }

    pub fn args<I, S>(mut self, args: I) -> Zdd
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.args.extend(args.into_iter().map(|a| a.as_ref().to_owned()));
        self
    }

    pub fn env(mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> Zdd {
        self.env
            .push((key.as_ref().to_owned(), Some(value.as_ref().to_owned())));
        self
    }

    pub fn env_remove(mut self, key: impl AsRef<OsStr>) -> Zdd {
        self.env.push((key.as_ref().to_owned(), None));
        self
    }

    pub fn current_dir(mut self, dir: impl AsRef<Path>) -> Zdd {
        self.cwd = dir.as_ref().to_owned();
        self
    }

    /// Show `text` (a path, an address...) as `placeholder` in `Outcome::redacted`.
    pub fn redact(mut self, text: impl fmt::Display, placeholder: &str) -> Zdd {
        self.redactions.add(text.to_string(), placeholder);
        self
    }

    fn full_args(&self) -> Vec<OsString> {
        let mut args = self.args.clone();
        if let Some(inventory) = &self.inventory {
            args.push("-i".into());
            args.push(inventory.clone().into_os_string());
        }
        args
    }

    /// Whether stdout carries NDJSON events (and stderr the human output).
    fn json_output(&self) -> bool {
        self.args
            .windows(2)
            .any(|w| (w[0] == "--output" || w[0] == "-o") && w[1] == "json")
            || self.args.iter().any(|a| a == "--output=json")
    }

    fn command(&self) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_zdd"));
        cmd.args(self.full_args())
            .current_dir(&self.cwd)
            .stdin(Stdio::null());
        for (key, value) in &self.env {
            match value {
                Some(value) => cmd.env(key, value),
                None => cmd.env_remove(key),
            };
        }
        cmd
    }

    /// Run to the end.
    pub fn run(self) -> Outcome {
        let out = self
            .command()
            .output()
            .unwrap_or_else(|e| panic!("run zdd {:?}: {e}", self.full_args()));
        Outcome {
            code: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            json: self.json_output(),
            redactions: self.redactions,
        }
    }

    /// Run with stdout on a pseudo-terminal (util-linux `script`), as a user at a terminal
    /// sees it: stdout and stderr together in `stdout`, `code` is zdd's.
    pub fn run_on_terminal(self) -> Outcome {
        let mut words = vec![env!("CARGO_BIN_EXE_zdd").to_owned()];
        words.extend(
            self.full_args()
                .iter()
                .map(|a| a.to_str().expect("a UTF-8 argument").to_owned()),
        );
        let mut cmd = Command::new("script");
        cmd.args(["-q", "-e", "-c", &shell_words::join(&words), "/dev/null"])
            .current_dir(&self.cwd)
            .env("TERM", "xterm")
            .stdin(Stdio::null());
        for (key, value) in &self.env {
            match value {
                Some(value) => cmd.env(key, value),
                None => cmd.env_remove(key),
            };
        }
        let out = cmd.output().expect("run script(1)");
        Outcome {
            code: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            json: false,
            redactions: self.redactions,
        }
    }

    /// Start in the background; stdout is read line by line as zdd prints it.
    pub fn spawn(self) -> Running {
        let mut child = self
            .command()
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("start zdd {:?}: {e}", self.full_args()));
        let (tx, lines) = mpsc::channel();
        let stdout = BufReader::new(child.stdout.take().unwrap());
        let stdout_reader = std::thread::spawn(move || {
            for line in stdout.lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut stderr = child.stderr.take().unwrap();
        let stderr_reader = std::thread::spawn(move || {
            let mut text = Vec::new();
            let _ = stderr.read_to_end(&mut text);
            String::from_utf8_lossy(&text).into_owned()
        });
        Running {
            child,
            lines,
            stdout: String::new(),
            readers: Some((stdout_reader, stderr_reader)),
            json: self.json_output(),
            redactions: self.redactions,
        }
    }
}

/// A zdd started with `Zdd::spawn`.
pub struct Running {
    child: Child,
    lines: mpsc::Receiver<String>,
    stdout: String,
    readers: Option<(JoinHandle<()>, JoinHandle<String>)>,
    json: bool,
    redactions: Redactions,
}

impl Running {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Read stdout until a line starting with `prefix`; that line. Panics, with what was
    /// printed so far, after `timeout` or when zdd ends first.
    pub fn wait_for_line(&mut self, prefix: &str, timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.stdout.push_str(&line);
                    self.stdout.push('\n');
                    if line.starts_with(prefix) {
                        return line;
                    }
                }
                Err(e) => panic!(
                    "zdd printed no line starting with `{prefix}` ({e}):\n{}",
                    self.stdout
                ),
            }
        }
    }

    /// Send SIGINT, as Ctrl-C at a terminal does.
    pub fn interrupt(&self) {
        let pid = i32::try_from(self.pid()).expect("a pid");
        assert_eq!(unsafe { libc::kill(pid, libc::SIGINT) }, 0, "kill -INT {pid}");
    }

    pub fn is_running(&mut self) -> bool {
        self.child.try_wait().expect("wait for zdd").is_none()
    }

    /// Wait for zdd to end; everything it printed.
    pub fn wait(mut self) -> Outcome {
        let status = self.child.wait().expect("wait for zdd");
        let (stdout_reader, stderr_reader) = self.readers.take().unwrap();
        stdout_reader.join().expect("the stdout reader");
        for line in self.lines.try_iter() {
            self.stdout.push_str(&line);
            self.stdout.push('\n');
        }
        Outcome {
            code: status.code(),
            stdout: std::mem::take(&mut self.stdout),
            stderr: stderr_reader.join().expect("the stderr reader"),
            json: self.json,
            redactions: std::mem::take(&mut self.redactions),
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if self.readers.is_some() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// What a zdd run gave back.
pub struct Outcome {
    /// The exit code; `None` when a signal ended zdd.
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    json: bool,
    redactions: Redactions,
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

/// Literal texts (a lab's directory, a temporary directory) and the generic patterns of
/// what changes from run to run, each replaced by a placeholder.
#[derive(Debug, Clone, Default)]
pub struct Redactions(Vec<(String, String)>);

impl Redactions {
    pub fn add(&mut self, text: String, placeholder: &str) {
        if !text.is_empty() {
            self.0.push((text, placeholder.to_owned()));
            // Longest first, so that a directory wins over the net inside its name.
            self.0.sort_by_key(|(text, _)| std::cmp::Reverse(text.len()));
        }
    }

    pub fn apply(&self, text: &str) -> String {
        let mut text = text.to_owned();
        for (literal, placeholder) in &self.0 {
            text = text.replace(literal.as_str(), placeholder);
        }
        for (pattern, placeholder) in patterns() {
            text = pattern.replace_all(&text, placeholder.as_str()).into_owned();
        }
        text
    }
}

/// What differs between two runs of the same thing, whatever the test.
fn patterns() -> &'static [(Regex, String)] {
    static PATTERNS: OnceLock<Vec<(Regex, String)>> = OnceLock::new();
    PATTERNS.get_or_init(|| {
        let tmp = regex::escape(&std::env::temp_dir().display().to_string());
        [
            // tempfile's directories: `.tmpXXXXXX`, the lab's `zdd-lab-XXXXXX`, ...
            (
                format!(r"{tmp}/(\.tmp|zdd-lab-|zdd-probe-|zp-)[A-Za-z0-9]{{6}}"),
                "[TMP]",
            ),
            // Lab nets: 127.0.100-199 (Lab::start); fixtures use other nets.
            (r"\b127\.0\.1[0-9]{2}\.".into(), "127.0.[NET]."),
            (r"\bzdd-lab-1[0-9]{2}-".into(), "zdd-lab-[NET]-"),
            // ISO 8601 times, epoch milliseconds in JSON events.
            (
                r"\b\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:?\d{2})?".into(),
                "[TIME]",
            ),
            (r#""time": ?\d+"#.into(), r#""time": [TIME]"#),
            // Durations: `(0.76s)`, `12.5ms`, `"duration_ms": 40`, `"elapsed": 1.2`.
            (r"\b\d+\.\d+m?s\b".into(), "[DURATION]"),
            (r"\b\d+ ?ms\b".into(), "[DURATION]"),
            // A command result's `delta`: `0:00:00.052992`.
            (r"\b\d+:\d{2}:\d{2}\.\d{6}\b".into(), "[DURATION]"),
            (
                r#""(duration_ms|elapsed)": ?[0-9.]+"#.into(),
                r#""$1": [DURATION]"#,
            ),
            (r"\bpid \d+".into(), "pid [PID]"),
        ]
        .into_iter()
        .map(|(p, r)| (Regex::new(&p).unwrap(), r.to_owned()))
        .collect()
    })
}
