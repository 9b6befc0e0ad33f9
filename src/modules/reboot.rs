//! `reboot`: reboot the host and wait until it is back, as Ansible's action does. It reads
//! the boot id (`boot_time_command`), runs the reboot command (the first word found in
//! `search_paths` unless it is absolute; a connection cut by the reboot counts as
//! success), waits `post_reboot_delay`, then reconnects until the boot id has CHANGED,
//! then runs `test_command` until it succeeds, each within `reboot_timeout`, backing off as
//! Ansible does (1, 2, 4, 8, then 12 s, plus up to 1 s). Every try drops zdd's SSH master
//! and opens a new one (the old one died with the host, or hangs on a dead connection);
//! every command goes over the task's host as any other, so the audit log shows them.
//! Returns `rebooted` and `elapsed` (seconds since the reboot command); check mode reports
//! a change without rebooting, as in Ansible.
//!
//! Without `reboot_command`, zdd runs `shutdown -r DELAY_MIN "MSG"` (Ansible's Linux
//! command); Ansible picks another one on Alpine, the BSDs, Solaris and others from facts.

use super::args;
use super::{ArgError, Failure, ModuleCtx, ModuleResult, TypedModule};
use crate::host::{sh_quote, Host, HostError, RemoteCommand};
use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

pub struct Reboot;

const DEFAULT_SEARCH_PATHS: &[&str] = &["/sbin", "/bin", "/usr/sbin", "/usr/bin", "/usr/local/sbin"];

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Args {
    #[serde(default, deserialize_with = "args::opt_f64")]
    reboot_timeout: Option<f64>,
    #[serde(default, deserialize_with = "args::opt_f64")]
    connect_timeout: Option<f64>,
    #[serde(default, deserialize_with = "args::opt_text")]
    test_command: Option<String>,
    #[serde(default, deserialize_with = "args::opt_f64")]
    pre_reboot_delay: Option<f64>,
    #[serde(default, deserialize_with = "args::opt_f64")]
    post_reboot_delay: Option<f64>,
    #[serde(default, deserialize_with = "args::opt_text")]
    msg: Option<String>,
    #[serde(default, deserialize_with = "args::opt_text")]
    reboot_command: Option<String>,
    #[serde(default, deserialize_with = "args::opt_text")]
    boot_time_command: Option<String>,
    #[serde(default, deserialize_with = "args::opt_list")]
    search_paths: Option<Vec<String>>,
}

fn whole_seconds(value: Option<f64>, default: u64) -> u64 {
    value.map_or(default, |v| v.max(0.0) as u64)
}

impl Args {
    /// The command's first word and the rest (Ansible splits at the first space).
    fn reboot_words(&self) -> (String, String) {
        match self.reboot_command.as_deref() {
            Some(command) => match command.split_once(' ') {
                Some((bin, rest)) => (bin.to_owned(), rest.to_owned()),
                None => (command.to_owned(), String::new()),
            },
            None => {
                let delay_min = whole_seconds(self.pre_reboot_delay, 0) / 60;
                let msg = self.msg.as_deref().unwrap_or("Reboot initiated by Ansible");
                ("shutdown".into(), format!("-r {delay_min} \"{msg}\""))
            }
        }
    }

    fn search_paths(&self) -> Vec<String> {
        self.search_paths
            .clone()
            .unwrap_or_else(|| DEFAULT_SEARCH_PATHS.iter().map(|p| p.to_string()).collect())
    }

    fn boot_time_command(&self) -> String {
        self.boot_time_command
            .clone()
            .filter(|c| !c.is_empty())
            .unwrap_or_else(|| "cat /proc/sys/kernel/random/boot_id".into())
    }
}

/// `['/sbin', '/bin']`, as Ansible's message prints the list.
fn python_list(items: &[String]) -> String {
    let quoted: Vec<String> = items.iter().map(|i| format!("'{i}'")).collect();
    format!("[{}]", quoted.join(", "))
}

/// The script that prints the first `DIR/NAME` that exists, in the order of `dirs`.
fn find_script(name: &str, dirs: &[String]) -> String {
    let dirs: Vec<String> = dirs.iter().map(|d| sh_quote(d)).collect();
    format!(
        "for zdd_dir in {}; do if [ -e \"$zdd_dir\"/{name} ] || [ -L \"$zdd_dir\"/{name} ]; then printf '%s\\n' \"$zdd_dir\"/{name}; exit 0; fi; done; exit 1\n",
        dirs.join(" "),
        name = sh_quote(name)
    )
}

/// Ansible's backoff between tries: 2^n seconds up to 12, plus up to a second at random.
fn backoff(failures: u32) -> Duration {
    let jitter = Duration::from_millis(args::nonce() % 1000);
    Duration::from_secs((1u64 << failures.min(4)).min(12)) + jitter
}

struct Reach<'a> {
    host: &'a dyn Host,
    run_as: Option<&'a crate::host::Become>,
    connect_timeout: Option<u32>,
}

impl Reach<'_> {
    async fn run(&self, script: &str) -> Result<crate::host::CommandOutput, HostError> {
        self.host
            .run(&RemoteCommand::new(script).run_as(self.run_as.cloned()))
            .await
    }

    /// A new connection, then `script` over it; what went wrong as one line.
    async fn fresh_run(&self, script: &str, limit: Duration) -> Result<crate::host::CommandOutput, String> {
        let attempt = async {
            self.host.reconnect(self.connect_timeout).await?;
            self.run(script).await
        };
        match tokio::time::timeout(limit.max(Duration::from_secs(1)), attempt).await {
            Ok(Ok(out)) => Ok(out),
            Ok(Err(e)) => Err(e.to_string()),
            Err(_) => Err(format!("no answer within {}s", limit.as_secs())),
        }
    }

    /// Try `check` (a fresh connection each time) until it holds or `timeout` passes.
    async fn until(
        &self,
        what: &str,
        timeout: u64,
        script: &str,
        check: impl Fn(&crate::host::CommandOutput) -> Result<(), String>,
    ) -> Result<(), String> {
        let deadline = Instant::now() + Duration::from_secs(timeout);
        let mut failures = 0;
        while Instant::now() < deadline {
            let left = deadline.saturating_duration_since(Instant::now());
            let outcome = self.fresh_run(script, left).await.and_then(|out| check(&out));
            match outcome {
                Ok(()) => return Ok(()),
                Err(why) => {
                    tracing::debug!(target: "zdd::ssh", "<{}> reboot: {what} fail '{why}'", self.host.name());
                    let pause = backoff(failures);
                    failures += 1;
                    tokio::time::sleep(pause.min(deadline.saturating_duration_since(Instant::now()))).await;
                }
            }
        }
        Err(format!("Timed out waiting for {what} (timeout={timeout})"))
    }
}

fn result(rebooted: bool, elapsed: u64) -> ModuleResult {
    let mut r = ModuleResult::ok();
    r.extra.insert("rebooted".into(), json!(rebooted));
    r.extra.insert("elapsed".into(), json!(elapsed));
    r
}

#[async_trait]
impl TypedModule for Reboot {
    type Args = Args;

    fn name(&self) -> &'static str {
        "reboot"
    }

    fn check(&self, a: &Args, _raw: &Value) -> Result<(), ArgError> {
        if a.reboot_command.as_deref().is_some_and(|c| c.trim().is_empty()) {
            return Err(ArgError::new("`reboot_command` is empty").key("reboot_command"));
        }
        Ok(())
    }

    async fn run(&self, ctx: &ModuleCtx<'_>, a: Args) -> Result<ModuleResult, Failure> {
        if ctx.host.is_local() {
            let mut r = result(false, 0);
            r.failed = true;
            r.msg = Some("Running reboot with local connection would reboot the control node.".into());
            return Ok(r);
        }
        if ctx.check_mode {
            let mut r = result(true, 0);
            r.changed = true;
            return Ok(r);
        }
        let reach = Reach {
            host: ctx.host,
            run_as: ctx.run_as,
            connect_timeout: a.connect_timeout.map(|t| t.max(1.0) as u32),
        };
        let boot_time_command = a.boot_time_command();
        let before = reach.run(&boot_time_command).await?;
        if before.rc != 0 {
            let mut r = ModuleResult::failed(format!(
                "reboot: failed to get host boot time info, rc: {}, stdout: {}, stderr: {}",
                before.rc, before.stdout, before.stderr
            ));
            // Ansible's key, as it spells it here.
            r.extra.insert("reboot".into(), json!(false));
            return Ok(r);
        }
        let previous = before.stdout.trim().to_owned();
        let (bin, rest) = a.reboot_words();
        let path = if bin.starts_with('/') {
            bin
        } else {
            let paths = a.search_paths();
            let found = reach.run(&find_script(&bin, &paths)).await?;
            match found.stdout.lines().next().filter(|_| found.rc == 0) {
                Some(path) => path.to_owned(),
                None => {
                    // An error Ansible's action raises: its message says "Task failed".
                    return Err(Failure::Task(format!(
                        "Task failed: Unable to find command \"{bin}\" in search paths: {}",
                        python_list(&paths)
                    )));
                }
            }
        };
        let command = format!("{path} {rest}");
        let rebooting = match reach.run(&command).await {
            // The host went down before the command could say so: that is a reboot.
            Err(HostError::Unreachable(_)) => crate::host::CommandOutput::default(),
            other => other?,
        };
        let start = Instant::now();
        if rebooting.rc != 0 {
            let mut r = result(false, 0);
            r.failed = true;
            r.msg = Some(format!(
                "Reboot command failed. Error was: '{}, {}'",
                rebooting.stdout.trim(),
                rebooting.stderr.trim()
            ));
            return Ok(r);
        }
        tokio::time::sleep(Duration::from_secs(whole_seconds(a.post_reboot_delay, 0))).await;
        let timeout = whole_seconds(a.reboot_timeout, 600);
        let boot_changed = |out: &crate::host::CommandOutput| {
            if out.rc != 0 {
                return Err(format!(
                    "reboot: failed to get host boot time info, rc: {}, stdout: {}, stderr: {}",
                    out.rc, out.stdout, out.stderr
                ));
            }
            let now = out.stdout.trim();
            if now.is_empty() || now == previous {
                return Err("boot time has not changed".into());
            }
            Ok(())
        };
        let test_command = a.test_command.clone().unwrap_or_else(|| "whoami".into());
        let test_passes = |out: &crate::host::CommandOutput| {
            if out.rc == 0 {
                Ok(())
            } else {
                Err(format!("Test command failed: {} {}", out.stderr, out.stdout))
            }
        };
        let back = async {
            reach
                .until("last boot time check", timeout, &boot_time_command, boot_changed)
                .await?;
            reach
                .until("post-reboot test command", timeout, &test_command, test_passes)
                .await
        };
        let outcome = back.await;
        let mut r = result(true, start.elapsed().as_secs());
        match outcome {
            Ok(()) => r.changed = true,
            Err(msg) => {
                r.failed = true;
                r.msg = Some(msg);
            }
        }
        Ok(r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(raw: Value) -> Args {
        args::parse("reboot", &raw).unwrap()
    }

    #[test]
    fn the_reboot_command_is_split_at_its_first_space_or_is_shutdown() {
        let given = parsed(json!({"reboot_command": "fake-reboot now please"}));
        assert_eq!(given.reboot_words(), ("fake-reboot".into(), "now please".into()));
        let bare = parsed(json!({"reboot_command": "/sbin/reboot"}));
        assert_eq!(bare.reboot_words(), ("/sbin/reboot".into(), String::new()));
        let default = parsed(json!({"pre_reboot_delay": 130, "msg": "bye"}));
        assert_eq!(default.reboot_words(), ("shutdown".into(), "-r 2 \"bye\"".into()));
        assert_eq!(default.boot_time_command(), "cat /proc/sys/kernel/random/boot_id");
    }

    #[test]
    fn search_paths_take_a_list_or_a_string_and_print_as_ansible_does() {
        let a = parsed(json!({"search_paths": "/opt/bin"}));
        assert_eq!(a.search_paths(), ["/opt/bin"]);
        assert_eq!(
            python_list(&parsed(json!({})).search_paths()),
            "['/sbin', '/bin', '/usr/sbin', '/usr/bin', '/usr/local/sbin']"
        );
        assert!(args::parse::<Args>("reboot", &json!({"reboot_timeout_sec": 5})).is_err());
    }

    #[tokio::test]
    async fn the_first_path_that_has_the_command_wins() {
        let dir = tempfile::tempdir().unwrap();
        let (one, two) = (dir.path().join("one"), dir.path().join("two it's"));
        std::fs::create_dir_all(&one).unwrap();
        std::fs::create_dir_all(&two).unwrap();
        std::fs::write(two.join("go"), "").unwrap();
        let paths = [one, two.clone()].map(|p| p.display().to_string()).to_vec();
        let host = crate::host::local::LocalHost::new("localhost");
        let out = host
            .run(&RemoteCommand::new(find_script("go", &paths)))
            .await
            .unwrap();
        assert_eq!(out.stdout.trim(), two.join("go").display().to_string());
        let none = host
            .run(&RemoteCommand::new(find_script("gone", &paths)))
            .await
            .unwrap();
        assert_eq!(none.rc, 1);
    }

    #[test]
    fn backoff_doubles_up_to_twelve_seconds() {
        assert!(backoff(0) >= Duration::from_secs(1) && backoff(0) < Duration::from_secs(2));
        assert!(backoff(3) >= Duration::from_secs(8));
        assert!(backoff(9) >= Duration::from_secs(12) && backoff(9) < Duration::from_secs(13));
    }
}
