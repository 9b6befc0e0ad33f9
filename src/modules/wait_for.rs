//! `wait_for`: wait on the host for a port to open or close, connections to drain, or a
//! file to appear (holding a pattern) or go. A POSIX sh loop on the target, one round trip.

use super::args::{self, check_choice, fresh_mark, split_marks};
use super::{ArgError, Failure, ModuleCtx, ModuleResult, TypedModule};
use crate::host::{sh_script, RemoteCommand};
use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{json, Value};
use std::time::Duration;

pub struct WaitFor;

const STATES: &[&str] = &["started", "stopped", "present", "absent", "drained"];

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Args {
    #[serde(default, deserialize_with = "args::opt_text")]
    host: Option<String>,
    #[serde(default, deserialize_with = "args::opt_u16")]
    port: Option<u16>,
    #[serde(default)]
    path: Option<String>,
    #[serde(default)]
    state: Option<String>,
    #[serde(default, deserialize_with = "args::opt_f64")]
    timeout: Option<f64>,
    #[serde(default, deserialize_with = "args::opt_f64")]
    delay: Option<f64>,
    #[serde(default, deserialize_with = "args::opt_f64")]
    sleep: Option<f64>,
    #[serde(default, deserialize_with = "args::opt_f64")]
    connect_timeout: Option<f64>,
    #[serde(default)]
    search_regex: Option<String>,
    #[serde(default)]
    msg: Option<String>,
    /// Accepted for compatibility: `drained` counts ESTABLISHED connections only.
    #[serde(default)]
    #[allow(dead_code)]
    active_connection_states: Option<Vec<String>>,
    #[serde(default)]
    #[allow(dead_code)]
    exclude_hosts: Option<Vec<String>>,
}

impl Args {
    fn check(&self, raw: &Value) -> Result<(), ArgError> {
        check_choice("state", self.state.as_deref(), STATES)?;
        let given = |k: &str| raw.get(k).is_some_and(|v| !v.is_null());
        if given("port") && given("path") {
            return Err(ArgError::new("`wait_for` takes `port` or `path`, not both").key("path"));
        }
        if self.state.as_deref() == Some("drained") && !given("port") {
            return Err(ArgError::new("`state: drained` needs a `port`").key("state"));
        }
        if let Some(re) = self.search_regex.as_deref().filter(|r| !args::is_template(r)) {
            regex::Regex::new(re)
                .map_err(|e| ArgError::new(format!("bad `search_regex`: {e}")).key("search_regex"))?;
        }
        Ok(())
    }

    fn timeout(&self) -> f64 {
        self.timeout.unwrap_or(300.0)
    }
}

/// Seconds for sh: whole numbers print without a fraction.
fn secs(s: f64) -> String {
    if s.fract() == 0.0 {
        format!("{}", s as u64)
    } else {
        format!("{s}")
    }
}

fn script(a: &Args, mark: &str) -> String {
    let state = a.state.as_deref().unwrap_or("started");
    let check = match (a.port, &a.path, state) {
        (Some(_), _, "stopped" | "absent") => "port_closed",
        (Some(_), _, "drained") => "drained",
        (Some(_), _, _) if a.search_regex.is_some() => "port_matches",
        (Some(_), _, _) => "port_open",
        (None, Some(_), "absent" | "stopped") => "path_absent",
        (None, Some(_), _) if a.search_regex.is_some() => "path_matches",
        (None, Some(_), _) => "path_present",
        (None, None, _) => "sleep",
    };
    let delay = match a.delay.unwrap_or(0.0) {
        d if d > 0.0 => secs(d),
        _ => String::new(),
    };
    sh_script(
        &[
            ("m", mark),
            ("host", a.host.as_deref().unwrap_or("127.0.0.1")),
            ("port", &a.port.map(|p| p.to_string()).unwrap_or_default()),
            ("path", a.path.as_deref().unwrap_or("")),
            ("regex", a.search_regex.as_deref().unwrap_or("")),
            ("ct", &secs(a.connect_timeout.unwrap_or(5.0).ceil().max(1.0))),
            ("pause", &secs(a.sleep.unwrap_or(1.0))),
            ("delay", &delay),
            ("timeout", &secs(a.timeout().ceil())),
            ("check", check),
        ],
        include_str!("wait_for.sh"),
    )
}

fn timeout_message(a: &Args) -> String {
    let state = a.state.as_deref().unwrap_or("started");
    let host = a.host.as_deref().unwrap_or("127.0.0.1");
    match (a.port, &a.path) {
        (Some(port), _) => match state {
            "stopped" | "absent" => format!("Timeout when waiting for {host}:{port} to stop."),
            "drained" => format!("Timeout when waiting for {host}:{port} to drain"),
            _ if a.search_regex.is_some() => format!(
                "Timeout when waiting for search string {} in {host}:{port}",
                a.search_regex.as_deref().unwrap_or("")
            ),
            _ => format!("Timeout when waiting for {host}:{port}"),
        },
        (None, Some(path)) => match state {
            "absent" | "stopped" => format!("Timeout when waiting for {path} to be absent."),
            _ if a.search_regex.is_some() => format!(
                "Timeout when waiting for search string {} in {path}",
                a.search_regex.as_deref().unwrap_or("")
            ),
            _ => format!("Timeout when waiting for file {path}"),
        },
        (None, None) => "Timeout".into(),
    }
}

#[async_trait]
impl TypedModule for WaitFor {
    type Args = Args;

    fn name(&self) -> &'static str {
        "wait_for"
    }

    fn check(&self, a: &Args, raw: &Value) -> Result<(), ArgError> {
        a.check(raw)
    }

    async fn run(&self, ctx: &ModuleCtx<'_>, a: Args) -> Result<ModuleResult, Failure> {
        let mark = fresh_mark();
        let mut cmd = RemoteCommand::new(script(&a, &mark)).run_as(ctx.run_as.cloned());
        let budget = a.delay.unwrap_or(0.0) + a.timeout() + a.connect_timeout.unwrap_or(5.0) + 30.0;
        cmd.timeout = Some(Duration::from_secs_f64(budget));
        let out = ctx.host.run(&cmd).await?;
        let (marks, _) = split_marks(&out.stdout, &mark);
        let mut r = ModuleResult::ok();
        let elapsed: u64 = marks.get("elapsed").and_then(|e| e.parse().ok()).unwrap_or(0);
        r.extra.insert("elapsed".into(), json!(elapsed));
        r.extra
            .insert("state".into(), json!(a.state.as_deref().unwrap_or("started")));
        if let Some(port) = a.port {
            r.extra.insert("port".into(), json!(port));
        }
        if let Some(path) = &a.path {
            r.extra.insert("path".into(), json!(path));
        }
        if let Some(re) = &a.search_regex {
            r.extra.insert("search_regex".into(), json!(re));
        }
        match out.rc {
            0 => {}
            3 => {
                r.failed = true;
                r.msg = Some(a.msg.clone().unwrap_or_else(|| timeout_message(&a)));
            }
            rc => {
                r.failed = true;
                r.rc = Some(rc);
                r.msg = Some(match out.stderr.trim() {
                    "" => format!("wait_for failed (exit code {rc})"),
                    e => e.to_owned(),
                });
            }
        }
        Ok(r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::local::LocalHost;
    use crate::modules::ModuleCtx;
    use crate::modules::{Module, StaticCtx};
    use crate::template::Templater;
    use crate::vars::Context;
    use std::io::Write;
    use std::net::TcpListener;
    use std::time::Instant;

    async fn run(args: Value) -> ModuleResult {
        WaitFor
            .check_args(
                &args,
                &StaticCtx {
                    playbook_dir: std::path::Path::new("/"),
                    role_path: None,
                },
            )
            .unwrap();
        let host = LocalHost::new("localhost");
        let ctx = ModuleCtx {
            host: &host,
            run_as: None,
            templater: &Templater::new(),
            vars: &Context::new(),
            playbook_dir: std::path::Path::new("/"),
            role_path: None,
            check_mode: false,
            diff: false,
        };
        Module::run(&WaitFor, &ctx, &args).await.unwrap()
    }

    /// A server that greets every client with a banner and keeps the connection open.
    fn banner_server(banner: &'static str) -> u16 {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        std::thread::spawn(move || {
            let mut open = Vec::new();
            for mut stream in listener.incoming().flatten() {
                let _ = stream.write_all(banner.as_bytes());
                open.push(stream);
            }
        });
        port
    }

    #[tokio::test]
    async fn search_regex_on_a_port_matches_without_waiting_for_the_close() {
        let port = banner_server("SSH-2.0-zdd\r\nmore\n");
        let started = Instant::now();
        let r = run(json!({"port": port, "search_regex": "^SSH-2", "timeout": 10})).await;
        assert!(!r.failed, "{r:?}");
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "{:?}",
            started.elapsed()
        );
        let r =
            run(json!({"port": port, "search_regex": "OpenSSH", "timeout": 1, "connect_timeout": 1})).await;
        assert!(r.failed);
        assert_eq!(
            r.msg.as_deref(),
            Some(format!("Timeout when waiting for search string OpenSSH in 127.0.0.1:{port}").as_str())
        );
    }

    #[tokio::test]
    async fn drained_waits_for_established_connections_to_close() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let client = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        let (server_side, _) = listener.accept().unwrap();
        let r = run(json!({"port": port, "state": "drained", "timeout": 1, "sleep": 0.2})).await;
        assert!(r.failed, "{r:?}");
        assert_eq!(
            r.msg.as_deref(),
            Some(format!("Timeout when waiting for 127.0.0.1:{port} to drain").as_str())
        );
        let closer = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(700));
            drop(client);
            drop(server_side);
        });
        let r = run(json!({"port": port, "state": "drained", "timeout": 5, "sleep": 0.2})).await;
        closer.join().unwrap();
        assert!(!r.failed, "{r:?}");
    }

    #[tokio::test]
    async fn delay_comes_first_and_present_means_the_file_exists() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("flag");
        std::fs::write(&path, "x").unwrap();
        let started = Instant::now();
        let r = run(json!({"path": path, "state": "present", "delay": 1, "timeout": 5})).await;
        assert!(!r.failed, "{r:?}");
        assert!(started.elapsed() >= Duration::from_secs(1));
        let r = run(json!({"path": dir.path().join("none"), "state": "present", "timeout": 1, "sleep": 0.3}))
            .await;
        assert!(r.failed);
        assert_eq!(r.extra["state"], json!("present"));
    }
}
