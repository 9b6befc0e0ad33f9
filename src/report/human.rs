//! Output shaped like ansible-playbook's default callback, so users feel at home:
//! the same banners, result lines, JSON style and `PLAY RECAP` line format.

use crate::events::{Event, HostResult, HostStats, Reporter, Status};
use indexmap::IndexMap;
use serde_json::Value;
use std::io::Write;

/// Ansible draws banners 79 columns wide when it is not on a terminal.
const BANNER_COLUMNS: usize = 79;

pub struct HumanReporter<W: Write + Send> {
    out: W,
    verbosity: u8,
}

impl<W: Write + Send> HumanReporter<W> {
    pub fn new(out: W, verbosity: u8) -> Self {
        HumanReporter { out, verbosity }
    }

    fn line(&mut self, text: &str) {
        // A closed stdout (`zdd apply ... | head`) must not stop a rollout.
        let _ = writeln!(self.out, "{text}");
        let _ = self.out.flush();
    }

    fn banner(&mut self, title: &str) {
        let text = banner(title);
        self.line(&text);
    }

    fn host_result(&mut self, r: &HostResult) {
        if r.looped && r.status != Status::Unreachable {
            // Ansible reports a loop through its items only.
            return;
        }
        if let Some(diff) = r.result.get("diff").and_then(unified_diff) {
            // Ansible prints what would change (or changed) above the result line.
            let _ = write!(self.out, "{diff}");
        }
        let label = host_label(r);
        // Ansible indents result bodies from -vvv on.
        let body = || python_json(&r.result, self.verbosity > 2);
        let verbose = self.verbosity > 0;
        let text = match (r.status, &r.item) {
            (Status::Failed, None) => format!("fatal: [{label}]: FAILED! => {}", body()),
            (Status::Failed, Some(item)) => format!("failed: [{label}] (item={item}) => {}", body()),
            (Status::Unreachable, None) => format!("fatal: [{label}]: UNREACHABLE! => {}", body()),
            (Status::Unreachable, Some(item)) => {
                format!("fatal: [{label}]: UNREACHABLE! => (item={item}) => {}", body())
            }
            (Status::Skipped, None) if verbose => format!("skipping: [{label}] => {}", body()),
            (Status::Skipped, None) => format!("skipping: [{label}]"),
            (Status::Skipped, Some(item)) if verbose => {
                format!("skipping: [{label}] => (item={item})  => {}", body())
            }
            (Status::Skipped, Some(item)) => format!("skipping: [{label}] => (item={item}) "),
            (status, item) => {
                let word = if status == Status::Changed {
                    "changed"
                } else {
                    "ok"
                };
                let mut text = format!("{word}: [{label}]");
                if let Some(item) = item {
                    text.push_str(&format!(" => (item={item})"));
                }
                if r.show_result {
                    text.push_str(&format!(" => {}", python_json(&debug_shown(&r.result), true)));
                } else if verbose {
                    text.push_str(&format!(" => {}", body()));
                }
                text
            }
        };
        self.line(&text);
        if r.ignored {
            self.line("...ignoring");
        }
    }

    fn recap(&mut self, hosts: &IndexMap<String, HostStats>) {
        self.banner("PLAY RECAP");
        let mut names: Vec<&String> = hosts.keys().collect();
        names.sort();
        for name in names {
            let line = recap_line(name, &hosts[name]);
            self.line(&line);
        }
        self.line("");
    }
}

impl<W: Write + Send> Reporter for HumanReporter<W> {
    fn event(&mut self, event: &Event) {
        match event {
            // OUT OF ROTATION at the end says what is still out; the steps are for JSON and
            // the journal. Probe samples and the run's context are for the HTML report.
            Event::PlaybookStart { .. }
            | Event::Rotation { .. }
            | Event::ProbeSample(_)
            | Event::RunInfo(_) => {}
            // `zdd apply` says on stderr when a notification could not be sent.
            Event::RunEnd { .. } | Event::Notify { .. } => {}
            Event::HealPlan {
                checks,
                critical,
                redeploys,
            } => {
                let text = heal_plan(*checks, critical, redeploys);
                self.line(&text);
            }
            Event::Preflight {
                hosts,
                sudo_checked,
                sockets,
                other_load_balancers,
                duration_ms,
            } => {
                self.banner("PREFLIGHT");
                let mut text = format!(
                    "ok: {hosts} host{} reachable, sudo works on {sudo_checked}",
                    if *hosts == 1 { "" } else { "s" }
                );
                if !sockets.is_empty() {
                    text.push_str(&format!(", HAProxy answers on {}", sockets.join(", ")));
                }
                if !other_load_balancers.is_empty() {
                    text.push_str(&format!(", ready: {}", other_load_balancers.join(", ")));
                }
                text.push_str(&format!(" ({:.2}s)", *duration_ms as f64 / 1000.0));
                self.line(&text);
            }
            Event::BatchStart { play, .. } => self.banner(&format!("PLAY [{play}]")),
            Event::TaskStart {
                name,
                handler,
                via_ansible,
                ..
            } => {
                let kind = if *handler { "RUNNING HANDLER" } else { "TASK" };
                let via = if *via_ansible { " via ansible" } else { "" };
                self.banner(&format!("{kind} [{name}]{via}"));
            }
            Event::HostStart { .. } => {}
            Event::HostResult(r) => self.host_result(r),
            Event::Included {
                file, hosts, item, ..
            } => {
                let mut text = format!("included: {file} for {}", hosts.join(", "));
                if let Some(item) = item {
                    text.push_str(&format!(" => (item={item})"));
                }
                self.line(&text);
            }
            Event::Retry {
                host,
                task,
                retries_left,
                result,
            } => {
                let mut text = format!("FAILED - RETRYING: [{host}]: {task} ({retries_left} retries left).");
                if self.verbosity > 0 {
                    text.push_str(&format!("Result was: {}", python_json(result, false)));
                }
                self.line(&text);
            }
            Event::BatchEnd { .. } => {}
            Event::NoMoreHosts { .. } => self.banner("NO MORE HOSTS LEFT"),
            Event::Warning { message } => {
                let text = format!("[WARNING]: {message}");
                self.line(&text);
            }
            // Drawn by the error report, after the run.
            Event::PreflightFailed { .. } => {}
            Event::Recap { hosts, .. } => self.recap(hosts),
            Event::Probe(p) => {
                self.banner("PROBE RECAP");
                let mut text = format!(
                    "{} : requests={} failed={} p50={:.1}ms p90={:.1}ms p99={:.1}ms max={:.1}ms",
                    p.url, p.requests, p.failed, p.p50_ms, p.p90_ms, p.p99_ms, p.max_ms
                );
                if let Some(first) = &p.first_failure {
                    text.push_str(&format!(" (first failure: {first})"));
                }
                self.line(&text);
                self.line("");
            }
            Event::Interrupted {
                completed,
                stopped,
                failed,
                not_started,
            } => {
                self.banner("INTERRUPTED");
                let list = |hosts: &[String]| {
                    if hosts.is_empty() {
                        "none".to_owned()
                    } else {
                        hosts.join(", ")
                    }
                };
                let mut text = format!("completed: {}\n", list(completed));
                if !stopped.is_empty() {
                    text.push_str(&format!("stopped half way: {}\n", list(stopped)));
                }
                let text = format!(
                    "{text}failed: {}\nnot started: {}",
                    list(failed),
                    list(not_started)
                );
                self.line(&text);
            }
            Event::WatchStart { .. }
            | Event::HealthCheck { .. }
            | Event::HealthState { .. }
            | Event::WatchRotation { .. }
            | Event::HealEnd { .. } => {
                if let Some(text) = crate::watch::human::line(event, self.verbosity) {
                    self.line(&text);
                }
            }
            Event::OutOfRotation { servers } => {
                self.banner("OUT OF ROTATION");
                for s in servers {
                    let text = format!(
                        "{}: {} is disabled on {}; to put it back, run there:\n    {}",
                        s.host, s.server, s.load_balancer, s.command
                    );
                    self.line(&text);
                }
            }
        }
    }
}

/// What Ansible's default callback shows of a `debug` result: `msg` alone (with an
/// exception or warnings), or the variable without the status keys.
fn debug_shown(result: &Value) -> Value {
    const WITH_MSG: &[&str] = &["msg", "exception", "warnings", "deprecations"];
    const HIDDEN: &[&str] = &[
        "changed",
        "failed",
        "skipped",
        "invocation",
        "skip_reason",
        "ansible_loop_var",
        "ansible_index_var",
        "ansible_loop",
    ];
    let Value::Object(map) = result else {
        return result.clone();
    };
    let has_msg = map.contains_key("msg");
    let kept = map
        .iter()
        .filter(|(k, _)| {
            if has_msg {
                WITH_MSG.contains(&k.as_str()) || k.starts_with('_')
            } else {
                !HIDDEN.contains(&k.as_str())
            }
        })
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    Value::Object(kept)
}

/// A module's `diff` (`before`/`after`, with optional headers) as the unified diff
/// `--diff` shows: text as lines, data (a file's state) as indented JSON, as Ansible does.
pub fn unified_diff(diff: &Value) -> Option<String> {
    let side = |key: &str| -> Option<String> {
        match diff.get(key)? {
            Value::String(s) => Some(s.clone()),
            Value::Null => Some(String::new()),
            other => Some(python_json(other, true) + "\n"),
        }
    };
    let (before, after) = (side("before")?, side("after")?);
    if before == after {
        return None;
    }
    let header = |key: &str, word: &str| match diff.get(key).and_then(Value::as_str) {
        Some(h) => format!("{word}: {h}"),
        None => word.to_owned(),
    };
    let text = similar::TextDiff::from_lines(&before, &after)
        .unified_diff()
        .context_radius(3)
        .header(
            &header("before_header", "before"),
            &header("after_header", "after"),
        )
        .to_string();
    let mut out = text;
    if !out.ends_with('\n') {
        out.push('\n');
    }
    Some(out)
}

/// `\nTITLE *****...` as Ansible's `Display.banner` draws it.
pub fn banner(title: &str) -> String {
    let stars = BANNER_COLUMNS.saturating_sub(title.chars().count()).max(3);
    format!("\n{title} {}", "*".repeat(stars))
}

/// `web1`, or `web1 -> lb(127.0.0.10)` for a delegated task, as Ansible labels hosts.
fn host_label(r: &HostResult) -> String {
    match (&r.delegate, &r.delegate_address) {
        (Some(d), Some(addr)) if d != &r.host && addr != d => format!("{} -> {d}({addr})", r.host),
        (Some(d), _) if d != &r.host => format!("{} -> {d}", r.host),
        _ => r.host.clone(),
    }
}

/// One `PLAY RECAP` line, byte for byte Ansible's (`%-26s` host, `%-4s` counts).
pub fn recap_line(host: &str, s: &HostStats) -> String {
    format!(
        "{host:<26} : ok={:<4} changed={:<4} unreachable={:<4} failed={:<4} skipped={:<4} rescued={:<4} ignored={:<4}",
        s.ok, s.changed, s.unreachable, s.failed, s.skipped, s.rescued, s.ignored
    )
}

/// JSON the way Python's `json.dumps(sort_keys=True)` writes it: `{"a": 1, "b": [1, 2]}`,
/// or with `indent=4` for `debug` output. Keys starting with `_ansible` are internal.
pub fn python_json(value: &Value, indent: bool) -> String {
    let mut out = String::new();
    write_json(&mut out, value, if indent { Some(0) } else { None });
    out
}

fn write_json(out: &mut String, value: &Value, depth: Option<usize>) {
    let newline = |out: &mut String, d: usize| {
        out.push('\n');
        out.push_str(&"    ".repeat(d));
    };
    match value {
        Value::Array(items) if !items.is_empty() => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(if depth.is_some() { "," } else { ", " });
                }
                if let Some(d) = depth {
                    newline(out, d + 1);
                }
                write_json(out, item, depth.map(|d| d + 1));
            }
            if let Some(d) = depth {
                newline(out, d);
            }
            out.push(']');
        }
        Value::Object(map) if !map.is_empty() => {
            let mut keys: Vec<&String> = map.keys().filter(|k| !k.starts_with("_ansible")).collect();
            keys.sort();
            out.push('{');
            for (i, key) in keys.iter().enumerate() {
                if i > 0 {
                    out.push_str(if depth.is_some() { "," } else { ", " });
                }
                if let Some(d) = depth {
                    newline(out, d + 1);
                }
                out.push_str(&Value::String((*key).clone()).to_string());
                out.push_str(": ");
                write_json(out, &map[key.as_str()], depth.map(|d| d + 1));
            }
            if let Some(d) = depth {
                newline(out, d);
            }
            out.push('}');
        }
        other => out.push_str(&other.to_string()),
    }
}

/// `zdd heal`'s first lines: how many checks are critical, each of them, and what is
/// redeployed.
fn heal_plan(checks: usize, critical: &[String], redeploys: &[crate::events::HealTarget]) -> String {
    if critical.is_empty() {
        let s = if checks == 1 { "" } else { "s" };
        return format!("HEAL [{checks} check{s}, none critical]: nothing to heal");
    }
    let s = if checks == 1 { "" } else { "s" };
    let mut out = format!("HEAL [{} of {checks} check{s} critical]", critical.len());
    for check in critical {
        out.push_str(&format!("\n  critical: {check}"));
    }
    for r in redeploys {
        let what = match (&r.service, r.hosts.is_empty()) {
            (Some(service), true) => format!("every host of {service}"),
            (None, true) => "every host".to_owned(),
            (_, false) => r.hosts.join(", then "),
        };
        let inventory: String = r.inventory.iter().map(|i| format!(" -i {i}")).collect();
        out.push_str(&format!("\n  redeploy: {what} with {}{inventory}", r.playbook));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn result(status: Status) -> HostResult {
        HostResult {
            duration_ms: 1,
            ..HostResult::new("web1", "t", status, json!({"changed": status == Status::Changed}))
        }
    }

    fn render(events: &[Event], verbosity: u8) -> String {
        let mut buf = Vec::new();
        {
            let mut r = HumanReporter::new(&mut buf, verbosity);
            for e in events {
                r.event(e);
            }
        }
        String::from_utf8(buf).unwrap()
    }

    #[test]
    fn diffs_are_unified_with_headers() {
        let d = json!({"before": "a\nb\n", "after": "a\nc\n", "before_header": "/etc/x", "after_header": "/etc/x"});
        assert_eq!(
            unified_diff(&d).unwrap(),
            "--- before: /etc/x\n+++ after: /etc/x\n@@ -1,2 +1,2 @@\n a\n-b\n+c\n"
        );
        let state =
            json!({"before": {"path": "/x", "state": "file"}, "after": {"path": "/x", "state": "absent"}});
        let text = unified_diff(&state).unwrap();
        assert!(
            text.contains("-    \"state\": \"file\"\n+    \"state\": \"absent\"\n"),
            "{text}"
        );
        assert_eq!(unified_diff(&json!({"before": "same", "after": "same"})), None);
    }

    #[test]
    fn banners_are_80_columns_like_ansible() {
        let b = banner("PLAY [all]");
        assert_eq!(b.len(), 81);
        assert!(b.starts_with("\nPLAY [all] ***"));
        assert_eq!(banner(&"x".repeat(100)), format!("\n{} ***", "x".repeat(100)));
    }

    #[test]
    fn recap_line_matches_ansible_byte_for_byte() {
        let s = HostStats {
            ok: 2,
            changed: 1,
            ..Default::default()
        };
        assert_eq!(
            recap_line("192.168.77.20", &s),
            "192.168.77.20              : ok=2    changed=1    unreachable=0    failed=0    skipped=0    rescued=0    ignored=0   "
        );
    }

    #[test]
    fn python_json_sorts_keys_and_spaces_separators() {
        let v = json!({"rc": 1, "msg": "non-zero return code", "cmd": ["a", "b"], "_ansible_no_log": false});
        assert_eq!(
            python_json(&v, false),
            r#"{"cmd": ["a", "b"], "msg": "non-zero return code", "rc": 1}"#
        );
        assert_eq!(
            python_json(&json!({"msg": "hi"}), true),
            "{\n    \"msg\": \"hi\"\n}"
        );
        assert_eq!(
            python_json(&json!({"a": [], "b": {}}), false),
            r#"{"a": [], "b": {}}"#
        );
    }

    #[test]
    fn result_lines_follow_ansible() {
        let mut delegated = result(Status::Changed);
        delegated.delegate = Some("lb".into());
        delegated.delegate_address = Some("127.0.0.10".into());
        delegated.item = Some("lb".into());
        let mut failed = result(Status::Failed);
        failed.result = json!({"msg": "boom", "rc": 2});
        let mut ignored = failed.clone();
        ignored.ignored = true;
        let mut debug = result(Status::Ok);
        debug.show_result = true;
        debug.result = json!({"msg": "hello"});
        let mut looped = result(Status::Changed);
        looped.looped = true;
        let text = render(
            &[
                Event::TaskStart {
                    name: "Disable".into(),
                    section: crate::playbook::Section::PreTasks,
                    handler: false,
                    via_ansible: false,
                },
                Event::HostResult(delegated),
                Event::HostResult(looped),
                Event::HostResult(failed),
                Event::HostResult(ignored),
                Event::HostResult(result(Status::Skipped)),
                Event::HostResult(debug),
            ],
            0,
        );
        let expected = format!(
            "{}\nchanged: [web1 -> lb(127.0.0.10)] => (item=lb)\nfatal: [web1]: FAILED! => {{\"msg\": \"boom\", \"rc\": 2}}\nfatal: [web1]: FAILED! => {{\"msg\": \"boom\", \"rc\": 2}}\n...ignoring\nskipping: [web1]\nok: [web1] => {{\n    \"msg\": \"hello\"\n}}\n",
            banner("TASK [Disable]")
        );
        assert_eq!(text, expected);
    }

    #[test]
    fn verbose_shows_item_and_skip_results_and_indents_from_vvv() {
        let mut item = result(Status::Ok);
        item.item = Some("lb".into());
        item.result = json!({"changed": false, "rc": 0});
        let mut skipped = result(Status::Skipped);
        skipped.result = json!({"skipped": true, "false_condition": "x"});
        let mut skipped_item = skipped.clone();
        skipped_item.item = Some("a".into());
        let events = [
            Event::HostResult(item.clone()),
            Event::HostResult(skipped),
            Event::HostResult(skipped_item),
        ];
        assert_eq!(
            render(&events, 1),
            "ok: [web1] => (item=lb) => {\"changed\": false, \"rc\": 0}\n\
             skipping: [web1] => {\"false_condition\": \"x\", \"skipped\": true}\n\
             skipping: [web1] => (item=a)  => {\"false_condition\": \"x\", \"skipped\": true}\n"
        );
        assert_eq!(
            render(&[Event::HostResult(item)], 3),
            "ok: [web1] => (item=lb) => {\n    \"changed\": false,\n    \"rc\": 0\n}\n"
        );
    }

    #[test]
    fn debug_shows_msg_alone_or_the_variable_without_status_keys() {
        use serde_json::json;
        assert_eq!(
            debug_shown(&json!({"changed": false, "failed": false, "msg": "hi", "_ansible_x": 1})),
            json!({"msg": "hi", "_ansible_x": 1})
        );
        assert_eq!(
            debug_shown(&json!({"changed": false, "failed": false, "x": [1]})),
            json!({"x": [1]})
        );
    }

    #[test]
    fn handler_banner_and_verbose_results() {
        let text = render(
            &[
                Event::TaskStart {
                    name: "Restart nginx".into(),
                    section: crate::playbook::Section::Handlers,
                    handler: true,
                    via_ansible: false,
                },
                Event::HostResult(result(Status::Changed)),
            ],
            1,
        );
        assert!(text.starts_with("\nRUNNING HANDLER [Restart nginx] ****"));
        assert!(text.ends_with("changed: [web1] => {\"changed\": true}\n"));
    }

    #[test]
    fn included_files_are_announced_as_ansible_does() {
        let included = |item: Option<&str>| Event::Included {
            task: "include_tasks".into(),
            file: "/srv/site/deploy.yml".into(),
            hosts: vec!["web1".into(), "web2".into()],
            item: item.map(str::to_owned),
        };
        assert_eq!(
            render(&[included(None), included(Some("blue"))], 0),
            "included: /srv/site/deploy.yml for web1, web2\n\
             included: /srv/site/deploy.yml for web1, web2 => (item=blue)\n"
        );
    }
}
