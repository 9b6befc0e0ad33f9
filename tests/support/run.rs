//! One builder for running the zdd binary in a test, with a lab or without one.
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
//! What a run gave back is an `Outcome` (outcome.rs).

use super::outcome::Outcome;
use super::redact::Redactions;
use std::ffi::{OsStr, OsString};
use std::fmt;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
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
    bin: PathBuf,
}

impl Default for Zdd {
    fn default() -> Self {
        Zdd::new()
    }
}

/// The login name zdd records as who ran it (`$USER`, else `id -un`).
fn login_name() -> Option<String> {
    std::env::var("USER").ok().filter(|u| !u.is_empty()).or_else(|| {
        let out = Command::new("id").arg("-un").output().ok()?;
        Some(String::from_utf8_lossy(&out.stdout).trim().to_owned()).filter(|u| !u.is_empty())
    })
}

impl Zdd {
    /// zdd without a lab: no inventory unless `inventory` names one. The checkout's path
    /// is `[REPO]` in redacted output (CI clones it elsewhere).
    pub fn new() -> Zdd {
        let root = super::repo_root();
        let mut redactions = Redactions::default();
        redactions.add(root.display().to_string(), "[REPO]");
        // Who ran it, as the journal and `zdd status` say it (CI runs as another user).
        if let Some(user) = login_name() {
            redactions.add(format!(" by {user}"), " by [USER]");
        }
        Zdd {
            args: Vec::new(),
            inventory: None,
            cwd: root.to_owned(),
            env: Vec::new(),
            redactions,
            bin: PathBuf::from(env!("CARGO_BIN_EXE_zdd")),
        }
    }

    /// Run this zdd binary instead of the one cargo built for the tests (the static one
    /// from scripts/build-static).
    pub fn binary(mut self, path: impl AsRef<Path>) -> Zdd {
        self.bin = path.as_ref().to_owned();
        self
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
        let mut cmd = Command::new(&self.bin);
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

    /// Run to the end with `input` on standard input (not a terminal): how a CI job
    /// answers `-K`/`-k` (`echo "$PW" | zdd apply -K ...`), with no argument showing it.
    pub fn run_with_stdin(self, input: &str) -> Outcome {
        use std::io::Write;
        let mut child = self
            .command()
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("run zdd {:?}: {e}", self.full_args()));
        let mut stdin = child.stdin.take().expect("piped stdin");
        stdin.write_all(input.as_bytes()).expect("write zdd's stdin");
        drop(stdin);
        let out = child.wait_with_output().expect("wait for zdd");
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
        let mut words = vec![self.bin.to_str().expect("a UTF-8 path").to_owned()];
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

    /// Run on a pseudo-terminal (as `run_on_terminal`) while a person types `lines`, each
    /// after a pause of `pause` seconds (so zdd has asked before the line arrives).
    pub fn run_on_terminal_typing(self, pause: f64, lines: &[&str]) -> Outcome {
        let mut words = vec![self.bin.to_str().expect("a UTF-8 path").to_owned()];
        words.extend(
            self.full_args()
                .iter()
                .map(|a| a.to_str().expect("a UTF-8 argument").to_owned()),
        );
        let typing: String = lines
            .iter()
            .map(|l| format!("sleep {pause}; printf '%s\\n' {}; ", shell_words::quote(l)))
            .collect();
        let pipeline = format!(
            "({typing}sleep {pause}) | script -q -e -c {} /dev/null",
            shell_words::quote(&shell_words::join(&words))
        );
        let mut cmd = Command::new("sh");
        cmd.args(["-c", &pipeline])
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
