//! `haproxy`: put servers into or out of HAProxy's rotation through its runtime API, a
//! drop-in for `community.general.haproxy` with a capacity guard and a real drain.
//!
//! The task runs on the load balancer (`delegate_to`). Each call is ONE remote command: a
//! POSIX sh script that talks to the stats socket with whatever client the host has
//! (`socat`, else OpenBSD `nc -U`, else nmap's `ncat -U`; busybox `nc` and bash cannot open
//! a Unix socket, and Python is never used). Under a lock on the socket's directory (so
//! that concurrent calls for the hosts of one batch see each other's changes) it reads
//! `show stat`, plans in awk (which servers, which commands, would a backend keep `min_up`
//! servers UP), sends the commands one session each, then drains and waits by polling.
//!
//! HAProxy answers an empty line when a command worked and a message ("No such server.")
//! when it did not; `socat` exits 0 either way, so only the answer's text counts.

use super::args::{self, check_choice, is_template};
use super::{ArgError, Failure, ModuleCtx, ModuleResult, TypedModule};
use crate::host::{sh_script, RemoteCommand};
use crate::lb::{Action, Endpoint, Haproxy, LbChange, LoadBalancer, HAPROXY};
use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{json, Value};
use std::time::Duration;

pub struct HaproxyModule;

const STATES: &[&str] = &["enabled", "disabled", "drain"];
/// How often the drain and the waits look at `show stat`: often enough that a drain ends
/// promptly, whatever `wait_interval` says (that one, times `wait_retries`, is the budget).
const POLL_SECONDS: f64 = 0.2;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Args {
    #[serde(default)]
    state: Option<String>,
    /// One server name, or a list (`"{{ ansible_play_batch }}"`): one call for a batch.
    #[serde(default, deserialize_with = "args::opt_list")]
    host: Option<Vec<String>>,
    #[serde(default, deserialize_with = "args::opt_text")]
    backend: Option<String>,
    #[serde(default, deserialize_with = "args::opt_text")]
    socket: Option<String>,
    /// An absolute weight (0-256) or a percentage of the configured one (`50%`).
    #[serde(default, deserialize_with = "args::opt_text")]
    weight: Option<String>,
    #[serde(default, deserialize_with = "args::opt_bool")]
    shutdown_sessions: Option<bool>,
    #[serde(default, deserialize_with = "args::opt_bool")]
    drain: Option<bool>,
    #[serde(default, deserialize_with = "args::opt_bool")]
    wait: Option<bool>,
    #[serde(default, deserialize_with = "args::opt_f64")]
    wait_interval: Option<f64>,
    #[serde(default, deserialize_with = "args::opt_f64")]
    wait_retries: Option<f64>,
    #[serde(default, deserialize_with = "args::opt_bool")]
    fail_on_not_found: Option<bool>,
    /// Also enable/disable the agent checks, or the health checks, with the server.
    #[serde(default, deserialize_with = "args::opt_bool")]
    agent: Option<bool>,
    #[serde(default, deserialize_with = "args::opt_bool")]
    health: Option<bool>,
    /// zdd: refuse to take servers out when a backend would keep fewer UP than this.
    #[serde(default, deserialize_with = "args::opt_f64")]
    min_up: Option<f64>,
    /// zdd: seconds a drain may take before the task fails (default: the wait budget).
    #[serde(default, deserialize_with = "args::opt_f64")]
    drain_timeout: Option<f64>,
}

fn valid_name(name: &str) -> bool {
    Haproxy::valid_name(name)
}

fn valid_weight(w: &str) -> bool {
    let digits = w.strip_suffix('%').unwrap_or(w);
    match digits.parse::<u32>() {
        Ok(n) => w.ends_with('%') || n <= 256,
        Err(_) => false,
    }
}

impl Args {
    fn check(&self, raw: &Value) -> Result<(), ArgError> {
        let given = |k: &str| raw.get(k).is_some_and(|v| !v.is_null());
        if !given("state") {
            return Err(ArgError::new("`haproxy` requires the argument `state`")
                .hint("state: enabled, disabled or drain"));
        }
        if !given("host") {
            return Err(ArgError::new("`haproxy` requires the argument `host`")
                .hint("the server's name in HAProxy, e.g. host: \"{{ inventory_hostname }}\""));
        }
        check_choice("state", self.state.as_deref(), STATES)?;
        for name in self.host.iter().flatten() {
            if !is_template(name) && !valid_name(name) {
                return Err(ArgError::new(format!(
                    "`host`: `{name}` is not a HAProxy server name (letters, digits, - _ . :)"
                ))
                .key("host"));
            }
        }
        if let Some(b) = self.backend.as_deref().filter(|b| !is_template(b)) {
            if !valid_name(b) {
                return Err(ArgError::new(format!(
                    "`backend`: `{b}` is not a HAProxy backend name (letters, digits, - _ . :)"
                ))
                .key("backend"));
            }
        }
        if let Some(w) = self.weight.as_deref().filter(|w| !is_template(w)) {
            if !valid_weight(w.trim()) {
                return Err(ArgError::new(format!(
                    "`weight`: `{w}` is not a weight (0 to 256, or a percentage like 50%)"
                ))
                .key("weight"));
            }
        }
        if self.wait_interval == Some(0.0) {
            return Err(ArgError::new("`wait_interval` must be more than 0").key("wait_interval"));
        }
        Ok(())
    }

    /// The rendered values, before anything is sent: names and weights end up inside
    /// HAProxy's runtime commands, where `;` starts another command.
    fn check_rendered(&self) -> Result<(), ArgError> {
        args::check_rendered_choice("state", Some(self.state()), STATES)?;
        if let Some(bad) = self.host.iter().flatten().find(|h| !valid_name(h)) {
            return Err(ArgError::new(format!(
                "`host`: `{bad}` is not a HAProxy server name (letters, digits, - _ . :); nothing was sent"
            ))
            .key("host"));
        }
        if self.host.as_ref().is_none_or(|h| h.is_empty()) {
            return Err(ArgError::new("`host` names no server").key("host"));
        }
        if let Some(b) = self.backend.as_deref().filter(|b| !valid_name(b)) {
            return Err(ArgError::new(format!(
                "`backend`: `{b}` is not a HAProxy backend name (letters, digits, - _ . :); nothing was sent"
            ))
            .key("backend"));
        }
        if let Some(w) = self.weight.as_deref().filter(|w| !valid_weight(w.trim())) {
            return Err(ArgError::new(format!(
                "`weight`: `{w}` is not a weight (0 to 256, or a percentage like 50%); nothing was sent"
            ))
            .key("weight"));
        }
        Ok(())
    }

    fn socket(&self) -> &str {
        self.socket.as_deref().unwrap_or(HAPROXY.default_endpoint())
    }

    fn state(&self) -> &str {
        self.state.as_deref().unwrap_or("enabled")
    }

    /// Ansible's budget for a wait: `wait_retries` × `wait_interval` (25 × 5 s).
    fn wait_budget(&self) -> f64 {
        self.wait_interval.unwrap_or(5.0) * self.wait_retries.unwrap_or(25.0)
    }

    fn drain_budget(&self) -> f64 {
        self.drain_timeout.unwrap_or_else(|| self.wait_budget())
    }

    fn draining(&self) -> bool {
        self.state() == "disabled" && self.drain == Some(true)
    }

    /// The status `wait` waits for, as the poll script names it.
    fn wait_mode(&self) -> &'static str {
        match self.state() {
            "enabled" => "up",
            "drain" => "drain",
            _ => "maint",
        }
    }
}

fn polls(seconds: f64) -> u64 {
    (seconds / POLL_SECONDS).ceil().max(1.0) as u64
}

fn flag(b: Option<bool>) -> &'static str {
    if b == Some(true) {
        "1"
    } else {
        "0"
    }
}

/// Reads `show stat` (columns found by name in its header) and prints the plan, one
/// tab-separated fact a line: `pair`, `missing`, `unknown`, `refuse`, `cmd`, `drainwait`.
/// `unknown` pairs (an explicit backend without that server) get their command first: HAProxy
/// refuses it with its own words before anything changes.
const PLAN_AWK: &str = include_str!("haproxy_plan.awk");

/// Reads `show stat` and prints `now` for the given `backend/server` pairs, then `done` when
/// every one is where `mode` wants it (`drained`: no session left; `up`: UP after a passing
/// check, not `UP 1/2`; `maint`; `drain`), else `pending`.
const POLL_AWK: &str = include_str!("haproxy_poll.awk");

/// Exit codes of the script, read by `report`.
const EXIT_ERROR: i32 = 2;
const EXIT_REFUSED: i32 = 3;
const EXIT_MISSING: i32 = 4;
const EXIT_ANSWER: i32 = 5;
const EXIT_DRAIN_TIMEOUT: i32 = 6;
const EXIT_WAIT_TIMEOUT: i32 = 7;

fn script(a: &Args, check_mode: bool) -> String {
    let servers = a.host.clone().unwrap_or_default().join(" ");
    let min_up = (a.min_up.unwrap_or(1.0) as u64).to_string();
    let exits = [
        EXIT_ERROR,
        EXIT_REFUSED,
        EXIT_MISSING,
        EXIT_ANSWER,
        EXIT_DRAIN_TIMEOUT,
        EXIT_WAIT_TIMEOUT,
    ]
    .map(|code| code.to_string());
    sh_script(
        &[
            ("sock", a.socket()),
            ("want", a.state()),
            ("servers", &servers),
            ("backend", a.backend.as_deref().unwrap_or("")),
            ("min_up", &min_up),
            ("weight", a.weight.as_deref().map(str::trim).unwrap_or("")),
            ("shutdown", flag(a.shutdown_sessions)),
            ("drain", flag(Some(a.draining()))),
            ("agent", flag(a.agent)),
            ("health", flag(a.health)),
            ("wait", flag(a.wait)),
            ("wait_mode", a.wait_mode()),
            ("poll", &POLL_SECONDS.to_string()),
            ("wait_polls", &polls(a.wait_budget()).to_string()),
            ("drain_polls", &polls(a.drain_budget()).to_string()),
            ("check", flag(Some(check_mode))),
            ("fail_missing", flag(a.fail_on_not_found)),
            ("plan_awk", PLAN_AWK),
            ("poll_awk", POLL_AWK),
            ("e_error", &exits[0]),
            ("e_refused", &exits[1]),
            ("e_missing", &exits[2]),
            ("e_answer", &exits[3]),
            ("e_drain", &exits[4]),
            ("e_wait", &exits[5]),
        ],
        include_str!("haproxy.sh"),
    )
}

/// What the script printed, line by line.
#[derive(Debug, Default, PartialEq)]
struct Report {
    client: Option<String>,
    /// backend, server, status, current sessions: before any change.
    before: Vec<(String, String, String, u64)>,
    /// The same, as last seen (after the change, the drain and the wait).
    now: Vec<(String, String, String, u64)>,
    missing: Vec<String>,
    /// backend, servers UP, of them to be taken out, servers in all.
    refused: Vec<(String, u64, u64, u64)>,
    planned: Vec<String>,
    /// A command and HAProxy's answer (empty: it worked).
    answers: Vec<(String, String)>,
    drain_pairs: Vec<String>,
    drained: bool,
    error: Option<String>,
}

fn report(stdout: &str) -> Report {
    let mut r = Report::default();
    let num = |s: Option<&&str>| s.and_then(|s| s.parse::<u64>().ok()).unwrap_or(0);
    for line in stdout.lines() {
        let f: Vec<&str> = line.split('\t').collect();
        let field = |i: usize| f.get(i).copied().unwrap_or("").to_owned();
        match f[0] {
            "client" => r.client = Some(field(1)),
            "pair" => r.before.push((field(1), field(2), field(3), num(f.get(4)))),
            "now" => {
                // Each poll prints all pairs again: keep the last round only.
                let key = (field(1), field(2));
                r.now.retain(|(b, s, _, _)| (b.clone(), s.clone()) != key);
                r.now.push((field(1), field(2), field(3), num(f.get(4))));
            }
            "missing" => r.missing.push(field(1)),
            "refuse" => r
                .refused
                .push((field(1), num(f.get(2)), num(f.get(3)), num(f.get(4)))),
            "cmd" => r.planned.push(field(3)),
            "drainwait" => r.drain_pairs.push(format!("{}/{}", field(1), field(2))),
            "answer" => r.answers.push((field(1), field(2))),
            "drained" => r.drained = true,
            "error" => r.error = Some(field(1)),
            _ => {}
        }
    }
    r
}

fn plural(n: u64, one: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {one}s")
    }
}

fn refusal_message(a: &Args, r: &Report) -> String {
    let min_up = a.min_up.unwrap_or(1.0) as u64;
    let parts: Vec<String> = r
        .refused
        .iter()
        .map(|(backend, up, losing, total)| {
            let names: Vec<&str> = r
                .before
                .iter()
                .filter(|(b, ..)| b == backend)
                .map(|(_, s, ..)| s.as_str())
                .collect();
            format!(
                "backend {backend} has {up} of {total} servers UP; taking out {} ({}) would leave {}, fewer than min_up {min_up}",
                plural(*losing, "server"),
                names.join(", "),
                up - losing
            )
        })
        .collect();
    format!(
        "refusing to {} servers: {} (nothing was changed)",
        if a.state() == "drain" { "drain" } else { "disable" },
        parts.join("; ")
    )
}

fn pairs_json(r: &Report) -> Value {
    Value::Array(
        r.before
            .iter()
            .map(|(b, s, status, scur)| {
                let now = r.now.iter().find(|(nb, ns, ..)| nb == b && ns == s);
                json!({
                    "backend": b,
                    "server": s,
                    "status_before": status,
                    "sessions_before": scur,
                    "status": now.map(|n| n.2.clone()).unwrap_or_else(|| status.clone()),
                    "sessions": now.map(|n| n.3).unwrap_or(*scur),
                })
            })
            .collect(),
    )
}

fn summarize(a: &Args, r: &Report, rc: i32, stderr: &str, check_mode: bool) -> ModuleResult {
    let sent: Vec<&(String, String)> = r.answers.iter().filter(|(_, ans)| ans.is_empty()).collect();
    let mut res = ModuleResult::ok();
    res.changed = if check_mode {
        !r.planned.is_empty() || !r.drain_pairs.is_empty()
    } else {
        !sent.is_empty()
    };
    res.extra.insert("state".into(), json!(a.state()));
    res.extra.insert("servers".into(), pairs_json(r));
    res.extra.insert(
        "commands".into(),
        json!(r.answers.iter().map(|(c, _)| c).collect::<Vec<_>>()),
    );
    if let Some(client) = &r.client {
        res.extra.insert("client".into(), json!(client));
    }
    let fail = |res: &mut ModuleResult, msg: String| {
        res.failed = true;
        res.msg = Some(msg);
    };
    let stuck = |mode: &str| -> String {
        r.now
            .iter()
            .map(|(b, s, status, scur)| match mode {
                "drain" => format!("{b}/{s} has {} open", plural(*scur, "session")),
                _ => format!("{b}/{s} is {status}"),
            })
            .collect::<Vec<_>>()
            .join(", ")
    };
    match rc {
        0 => {
            let names = |v: &[(String, String, String, u64)]| {
                v.iter()
                    .map(|(b, s, ..)| format!("{b}/{s}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            res.msg = Some(if !r.missing.is_empty() && r.before.is_empty() {
                format!("{} in no backend of HAProxy: nothing to do", r.missing.join(", "))
            } else if res.changed {
                format!("{}: {}", a.state(), names(&r.before))
            } else {
                format!("{} already {}", names(&r.before), a.state())
            });
        }
        EXIT_REFUSED => fail(&mut res, refusal_message(a, r)),
        EXIT_MISSING => fail(
            &mut res,
            format!(
                "server {} not found in any backend of HAProxy",
                r.missing.join(", ")
            ),
        ),
        EXIT_ANSWER => {
            let (cmd, answer) = r.answers.last().cloned().unwrap_or_default();
            let answer = if answer.is_empty() {
                "no answer (the connection failed)".to_owned()
            } else {
                answer
            };
            fail(&mut res, format!("{answer} (HAProxy's answer to `{cmd}`)"));
        }
        EXIT_DRAIN_TIMEOUT => fail(
            &mut res,
            format!(
                "drain did not finish within {}s: {}; left in DRAIN, not disabled",
                a.drain_budget(),
                stuck("drain")
            ),
        ),
        EXIT_WAIT_TIMEOUT => fail(
            &mut res,
            format!(
                "{}, not {}, after {}s (wait_retries × wait_interval)",
                stuck("wait"),
                match a.wait_mode() {
                    "up" => "UP",
                    "drain" => "DRAIN",
                    _ => "MAINT",
                },
                a.wait_budget()
            ),
        ),
        _ => {
            let msg = r.error.clone().unwrap_or_else(|| match stderr.trim() {
                "" => format!("haproxy failed (exit code {rc})"),
                e => e.to_owned(),
            });
            res.rc = Some(rc);
            fail(&mut res, msg);
        }
    }
    if r.drained {
        res.extra.insert("drained".into(), json!(true));
    }
    res
}

#[async_trait]
impl TypedModule for HaproxyModule {
    type Args = Args;

    fn name(&self) -> &'static str {
        "haproxy"
    }

    fn check(&self, a: &Args, raw: &Value) -> Result<(), ArgError> {
        a.check(raw)
    }

    fn check_rendered(&self, a: &Args) -> Result<(), ArgError> {
        a.check_rendered()
    }

    fn lb_changes(&self, a: &Args) -> Vec<LbChange> {
        let action = match a.state.as_deref() {
            Some("enabled") => Action::Enable,
            Some("disabled") => Action::Disable,
            Some("drain") => Action::Drain,
            _ => return Vec::new(),
        };
        let backend = a.backend.as_deref().unwrap_or("*");
        a.host
            .iter()
            .flatten()
            .map(|h| LbChange {
                lb: &HAPROXY,
                server: format!("{backend}/{h}"),
                action,
                endpoint: Some(a.socket().to_owned()),
            })
            .collect()
    }

    fn lb_endpoints(&self, a: &Args) -> Vec<Endpoint> {
        vec![Endpoint {
            lb: &HAPROXY,
            address: a.socket().to_owned(),
        }]
    }

    async fn run(&self, ctx: &ModuleCtx<'_>, a: Args) -> Result<ModuleResult, Failure> {
        let mut cmd = RemoteCommand::new(script(&a, ctx.check_mode)).run_as(ctx.run_as.cloned());
        cmd.timeout = Some(Duration::from_secs_f64(a.drain_budget() + a.wait_budget() + 90.0));
        let started = std::time::Instant::now();
        let out = ctx.host.run(&cmd).await?;
        let r = report(&out.stdout);
        let mut res = summarize(&a, &r, out.rc, &out.stderr, ctx.check_mode);
        res.extra.insert(
            "elapsed".into(),
            json!((started.elapsed().as_secs_f64() * 1000.0).round() / 1000.0),
        );
        Ok(res)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(v: Value) -> Result<Args, ArgError> {
        args::parse::<Args>("haproxy", &v).and_then(|a| a.check(&v).map(|()| a))
    }

    #[test]
    fn arguments_are_checked() {
        assert!(parse(json!({"state": "disabled", "host": "web1"})).is_ok());
        assert!(parse(json!({"state": "enabled", "host": ["web1", "web2"], "weight": "50%"})).is_ok());
        assert!(parse(json!({"state": "{{ s }}", "host": "{{ ansible_play_batch }}"})).is_ok());
        let err = parse(json!({"state": "disable", "host": "web1"})).unwrap_err();
        assert_eq!(err.hint.as_deref(), Some("did you mean `disabled`?"));
        let err = parse(json!({"state": "disabled", "host": "web1", "wiat": true})).unwrap_err();
        assert_eq!(err.hint.as_deref(), Some("did you mean `wait`?"));
        let err = parse(json!({"state": "disabled"})).unwrap_err();
        assert!(err.message.contains("`host`"), "{err:?}");
        let err = parse(json!({"state": "disabled", "host": "web1; shutdown sessions"})).unwrap_err();
        assert_eq!(err.key.as_deref(), Some("host"));
        let err = parse(json!({"state": "enabled", "host": "web1", "weight": 300})).unwrap_err();
        assert_eq!(err.key.as_deref(), Some("weight"));
    }

    #[test]
    fn rendered_values_holding_braces_are_checked_too() {
        let inject = "disable server lb/web2;#{{";
        for (key, value) in [
            ("backend", format!("lb;{inject}")),
            ("weight", format!("50;{inject}")),
            ("host", format!("web1;{inject}")),
            ("state", "disabled{{".to_owned()),
        ] {
            let mut raw = json!({"state": "enabled", "host": "web1", "backend": "lb"});
            raw[key] = json!(value);
            // Statically a `{{` means "not rendered yet"; once rendered it is a value.
            let a = parse(raw).unwrap();
            let err = a.check_rendered().unwrap_err();
            assert_eq!(err.key.as_deref(), Some(key), "{err:?}");
        }
        let ok =
            parse(json!({"state": "enabled", "host": ["web1", "web2"], "backend": "lb", "weight": "50%"}));
        assert!(ok.unwrap().check_rendered().is_ok());
    }

    #[test]
    fn the_servers_it_takes_out_are_told_to_the_rotation_ledger() {
        let a = parse(
            json!({"state": "disabled", "host": ["web1", "web2"], "backend": "app", "socket": "/run/h.sock"}),
        )
        .unwrap();
        let c = HaproxyModule.lb_changes(&a);
        assert_eq!(c.len(), 2);
        assert_eq!(c[1].server, "app/web2");
        assert!(c[1].action.takes_out());
        assert_eq!(
            c[1].restore_command(),
            r#"echo "enable server app/web2" | socat stdio /run/h.sock"#
        );
        let a = parse(json!({"state": "enabled", "host": "web1"})).unwrap();
        let c = HaproxyModule.lb_changes(&a);
        assert_eq!((c[0].server.as_str(), c[0].action), ("*/web1", Action::Enable));
        assert_eq!(HaproxyModule.lb_endpoints(&a)[0].address, "/var/run/haproxy.sock");
    }

    #[test]
    fn the_report_is_read_line_by_line() {
        let out = "client\tsocat\npair\tlb\tweb1\tUP\t2\nrefuse\tlb\t1\t1\t1\n\
                   now\tlb\tweb1\tDRAIN\t2\nnow\tlb\tweb1\tDRAIN\t0\nanswer\tdisable server lb/web1\t\n";
        let r = report(out);
        assert_eq!(r.client.as_deref(), Some("socat"));
        assert_eq!(r.before, [("lb".into(), "web1".into(), "UP".into(), 2)]);
        assert_eq!(r.now, [("lb".into(), "web1".into(), "DRAIN".into(), 0)]);
        assert_eq!(r.refused, [("lb".into(), 1, 1, 1)]);
        assert_eq!(r.answers, [("disable server lb/web1".into(), String::new())]);
    }

    #[test]
    fn a_refusal_says_why_and_that_nothing_changed() {
        let a = parse(json!({"state": "disabled", "host": ["web1", "web2"]})).unwrap();
        let r = report("pair\tlb\tweb1\tUP\t0\npair\tlb\tweb2\tUP\t0\nrefuse\tlb\t2\t2\t2\n");
        let res = summarize(&a, &r, EXIT_REFUSED, "", false);
        assert!(res.failed && !res.changed);
        assert_eq!(
            res.msg.as_deref(),
            Some("refusing to disable servers: backend lb has 2 of 2 servers UP; taking out 2 servers (web1, web2) would leave 0, fewer than min_up 1 (nothing was changed)")
        );
    }
}
