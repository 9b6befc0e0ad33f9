//! `--junit FILE`: a JUnit XML report for CI systems, one testcase per host per task
//! (classname: the play; name: the task and the host), written when the run ends.

use crate::events::{Event, HostResult, Reporter, Status};
use crate::report::human::python_json;
use indexmap::IndexMap;
use std::collections::HashMap;
use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// The suite of the connection check that runs before any play.
const PREFLIGHT: &str = "preflight";

/// One host's result for one task.
#[derive(Debug, Clone, PartialEq)]
pub struct Case {
    pub task: String,
    pub host: String,
    pub status: Status,
    pub ignored: bool,
    /// Why it failed or was skipped, in a line.
    pub message: String,
    /// The whole result, for failures.
    pub detail: String,
    pub duration_ms: u64,
}

pub struct JunitReporter {
    path: PathBuf,
    file: Option<File>,
    play: String,
    /// Cases by play, in the order plays ran.
    suites: IndexMap<String, Vec<Case>>,
    /// Failed items of a looped task, by (host, task), until the task's own result.
    item_failures: HashMap<(String, String), Vec<String>>,
    /// The running task's cases: hosts finish in any order, the report lists them in
    /// the batch's order.
    pending: Vec<Case>,
    batch_hosts: Vec<String>,
}

impl JunitReporter {
    /// Create (truncate) the report file now, so that a path that cannot be written is
    /// an error before any host is touched; the report is written when the run ends.
    pub fn create(path: &Path) -> io::Result<JunitReporter> {
        let file = File::create(path)?;
        Ok(JunitReporter {
            path: path.to_owned(),
            file: Some(file),
            play: String::new(),
            suites: IndexMap::new(),
            item_failures: HashMap::new(),
            pending: Vec::new(),
            batch_hosts: Vec::new(),
        })
    }

    /// Move the running task's cases into the report, in the batch's host order.
    fn flush_task(&mut self) {
        let order = |c: &Case| {
            self.batch_hosts
                .iter()
                .position(|h| *h == c.host)
                .unwrap_or(usize::MAX)
        };
        let mut cases = std::mem::take(&mut self.pending);
        cases.sort_by_key(order);
        self.suites.entry(self.play.clone()).or_default().extend(cases);
    }

    fn add(&mut self, r: &HostResult) {
        let key = (r.host.clone(), r.task.clone());
        if r.item.is_some() {
            if r.status == Status::Failed && !r.ignored {
                let item = r.item.as_deref().unwrap_or_default();
                let line = format!("item={item}: {}", python_json(&r.result, false));
                self.item_failures.entry(key).or_default().push(line);
            }
            return;
        }
        let mut detail = python_json(&r.result, true);
        if let Some(items) = self.item_failures.remove(&key) {
            detail.push_str("\n\nfailed items:\n");
            detail.push_str(&items.join("\n"));
        }
        let case = Case {
            task: r.task.clone(),
            host: r.host.clone(),
            status: r.status,
            ignored: r.ignored,
            message: message(r),
            detail,
            duration_ms: r.duration_ms,
        };
        self.pending.push(case);
    }

    fn write(&mut self, duration_ms: Option<u64>) {
        self.flush_task();
        let Some(mut file) = self.file.take() else {
            return;
        };
        let xml = render(&self.suites, duration_ms);
        if let Err(e) = file.write_all(xml.as_bytes()).and_then(|_| file.flush()) {
            eprintln!("zdd: cannot write the JUnit report {}: {e}", self.path.display());
        }
    }
}

impl Reporter for JunitReporter {
    fn event(&mut self, event: &Event) {
        match event {
            Event::BatchStart { play, hosts, .. } => {
                self.flush_task();
                self.play = play.clone();
                self.batch_hosts = hosts.clone();
            }
            Event::TaskStart { .. } | Event::BatchEnd { .. } => self.flush_task(),
            Event::HostResult(r) => self.add(r),
            Event::PreflightFailed {
                unreachable,
                problems,
            } => {
                let unreachable = unreachable.iter().map(|(h, why)| (h, why, Status::Unreachable));
                let problems = problems.iter().map(|p| (&p.host, &p.message, Status::Failed));
                for (host, why, status) in unreachable.chain(problems) {
                    let case = Case {
                        task: "preflight".into(),
                        host: host.clone(),
                        status,
                        ignored: false,
                        message: why.trim().to_owned(),
                        detail: why.clone(),
                        duration_ms: 0,
                    };
                    self.suites.entry(PREFLIGHT.into()).or_default().push(case);
                }
                self.write(None);
            }
            Event::Recap { duration_ms, .. } => self.write(Some(*duration_ms)),
            _ => {}
        }
    }
}

impl Drop for JunitReporter {
    /// A run that ended another way (an internal error) still leaves a report of what ran.
    fn drop(&mut self) {
        self.write(None);
    }
}

/// The line a CI system shows for a failure or a skip.
fn message(r: &HostResult) -> String {
    let text = |key: &str| r.result.get(key).and_then(|v| v.as_str()).map(str::to_owned);
    let mut msg = match r.status {
        Status::Skipped => match text("false_condition") {
            Some(cond) => format!("Conditional result was False: {cond}"),
            None => text("skip_reason").unwrap_or_else(|| "skipped".into()),
        },
        _ => text("msg").unwrap_or_default(),
    };
    if r.status == Status::Failed {
        if let Some(stderr) = text("stderr").filter(|s| !s.trim().is_empty()) {
            if !msg.is_empty() {
                msg.push_str(": ");
            }
            msg.push_str(stderr.trim());
        }
        if let Some(rc) = r.rc {
            msg.push_str(&format!(" (rc={rc})"));
        }
    }
    msg.trim().to_owned()
}

/// The report for these cases; `duration_ms` is the whole run's, when it finished.
pub fn render(suites: &IndexMap<String, Vec<Case>>, duration_ms: Option<u64>) -> String {
    let all = || suites.values().flatten();
    let total_ms = duration_ms.unwrap_or_else(|| all().map(|c| c.duration_ms).sum());
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    out.push_str(&format!(
        "<testsuites name=\"zdd\" {}>\n",
        counts(all(), total_ms)
    ));
    for (play, cases) in suites {
        let suite_ms = cases.iter().map(|c| c.duration_ms).sum();
        out.push_str(&format!(
            "  <testsuite name=\"{}\" {}>\n",
            escape(play),
            counts(cases.iter(), suite_ms)
        ));
        for case in cases {
            testcase(&mut out, play, case);
        }
        out.push_str("  </testsuite>\n");
    }
    out.push_str("</testsuites>\n");
    out
}

fn counts<'a>(cases: impl Iterator<Item = &'a Case>, ms: u64) -> String {
    let (mut tests, mut failures, mut errors, mut skipped) = (0, 0, 0, 0);
    for case in cases {
        tests += 1;
        match case.status {
            Status::Failed if !case.ignored => failures += 1,
            Status::Unreachable => errors += 1,
            Status::Skipped => skipped += 1,
            _ => {}
        }
    }
    format!(
        "tests=\"{tests}\" failures=\"{failures}\" errors=\"{errors}\" skipped=\"{skipped}\" time=\"{}\"",
        seconds(ms)
    )
}

fn testcase(out: &mut String, play: &str, case: &Case) {
    out.push_str(&format!(
        "    <testcase classname=\"{}\" name=\"{}\" time=\"{}\"",
        escape(play),
        escape(&format!("{} [{}]", case.task, case.host)),
        seconds(case.duration_ms)
    ));
    let child = match case.status {
        Status::Failed if !case.ignored => Some("failure"),
        Status::Unreachable => Some("error"),
        _ => None,
    };
    match (child, case.status) {
        (Some(tag), status) => {
            let kind = if status == Status::Failed {
                "failed"
            } else {
                "unreachable"
            };
            out.push_str(&format!(
                ">\n      <{tag} message=\"{}\" type=\"{kind}\">{}</{tag}>\n    </testcase>\n",
                escape(&case.message),
                escape(&case.detail)
            ));
        }
        (None, Status::Skipped) => out.push_str(&format!(
            ">\n      <skipped message=\"{}\"/>\n    </testcase>\n",
            escape(&case.message)
        )),
        (None, _) if case.ignored => out.push_str(&format!(
            ">\n      <system-out>{}</system-out>\n    </testcase>\n",
            escape(&format!("failed, ignored (ignore_errors): {}", case.message))
        )),
        (None, _) => out.push_str("/>\n"),
    }
}

fn seconds(ms: u64) -> String {
    format!("{}.{:03}", ms / 1000, ms % 1000)
}

/// Text safe in XML 1.0 content and attribute values: markup characters escaped, line
/// breaks kept as character references (attribute values would fold them into spaces),
/// and characters XML cannot carry at all replaced.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\n' => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            '\t' => out.push_str("&#9;"),
            c if allowed_in_xml(c) => out.push(c),
            _ => out.push('\u{FFFD}'),
        }
    }
    out
}

fn allowed_in_xml(c: char) -> bool {
    matches!(c, '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..='\u{10FFFF}')
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn case(status: Status, message: &str) -> Case {
        Case {
            task: "Copy <content> & \"more\"".into(),
            host: "web1".into(),
            status,
            ignored: false,
            message: message.into(),
            detail: "line 1\nline 2 \u{1b}[31m".into(),
            duration_ms: 1234,
        }
    }

    #[test]
    fn escapes_markup_line_breaks_and_characters_xml_cannot_hold() {
        assert_eq!(
            escape("a<b>&\"c'\n\u{1b}\u{0}é"),
            "a&lt;b&gt;&amp;&quot;c&apos;&#10;\u{FFFD}\u{FFFD}é"
        );
    }

    #[test]
    fn renders_failures_errors_skips_and_counts() {
        let mut ignored = case(Status::Failed, "boom");
        ignored.ignored = true;
        let suites = IndexMap::from([(
            "web & db".to_string(),
            vec![
                case(Status::Ok, ""),
                case(Status::Failed, "non-zero return code"),
                case(Status::Skipped, "Conditional result was False: x"),
                case(Status::Unreachable, "connection lost"),
                ignored,
            ],
        )]);
        let xml = render(&suites, Some(5000));
        assert!(xml.contains(
            "<testsuites name=\"zdd\" tests=\"5\" failures=\"1\" errors=\"1\" skipped=\"1\" time=\"5.000\">"
        ));
        assert!(xml.contains("<testcase classname=\"web &amp; db\" name=\"Copy &lt;content&gt; &amp; &quot;more&quot; [web1]\" time=\"1.234\"/>"));
        assert!(xml.contains("<failure message=\"non-zero return code\" type=\"failed\">line 1&#10;line 2 \u{FFFD}[31m</failure>"));
        assert!(xml.contains("<skipped message=\"Conditional result was False: x\"/>"));
        assert!(xml.contains("<error message=\"connection lost\" type=\"unreachable\">"));
        assert!(xml.contains("<system-out>failed, ignored (ignore_errors): boom</system-out>"));
        let doc = roxmltree::Document::parse(&xml).expect("well-formed XML");
        let cases: Vec<_> = doc.descendants().filter(|n| n.has_tag_name("testcase")).collect();
        assert_eq!(cases.len(), 5);
        assert_eq!(
            cases[0].attribute("name"),
            Some("Copy <content> & \"more\" [web1]")
        );
    }

    #[test]
    fn a_failed_command_says_why_and_its_rc() {
        let r = HostResult {
            rc: Some(3),
            ..HostResult::new(
                "web1",
                "t",
                Status::Failed,
                json!({"msg": "non-zero return code", "stderr": "no such file\n", "rc": 3}),
            )
        };
        assert_eq!(message(&r), "non-zero return code: no such file (rc=3)");
    }
}
