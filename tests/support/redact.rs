//! Placeholders for what changes from one run to the next: times, durations, temporary
//! paths, lab nets, pids.

use regex::Regex;
use std::sync::OnceLock;

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
