//! The one error type users see, and where its messages are drawn.
//!
//! Every diagnostic knows the file, line and column it came from, the source line
//! itself (so it can be shown with a caret), and what to do about it.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

/// A place in a user's file. Lines and columns are 1-based.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Location {
    pub file: Arc<PathBuf>,
    pub line: usize,
    pub col: usize,
}

impl Location {
    pub fn new(file: Arc<PathBuf>, line: usize, col: usize) -> Self {
        Location { file, line, col }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", display_path(&self.file), self.line, self.col)
    }
}

/// A path as users want to read it: relative to the current directory when it is below
/// it (`playbooks/site.yml`), as it is otherwise.
pub fn display_path(path: &std::path::Path) -> String {
    let relative = std::env::current_dir()
        .ok()
        .and_then(|cwd| path.strip_prefix(cwd).ok().map(std::path::Path::to_path_buf));
    match relative {
        Some(p) if p.as_os_str().is_empty() => ".".into(),
        Some(p) => p.display().to_string(),
        None => path.display().to_string(),
    }
}

/// One problem with the user's input, found before any host is touched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub message: String,
    pub location: Option<Location>,
    /// The source line the location points into, without its newline.
    pub snippet: Option<String>,
    /// What to do about it ("did you mean `delegate_to`?").
    pub hint: Option<String>,
    /// For a problem in an imported or included file: where each statement that led to
    /// it was written, innermost first (`included from site.yml:12:5`).
    pub chain: Vec<Location>,
}

impl Diagnostic {
    pub fn new(message: impl Into<String>) -> Self {
        Diagnostic {
            message: message.into(),
            location: None,
            snippet: None,
            hint: None,
            chain: Vec::new(),
        }
    }

    pub fn at(mut self, location: Location) -> Self {
        self.location = Some(location);
        self
    }

    pub fn at_opt(mut self, location: Option<Location>) -> Self {
        self.location = location;
        self
    }

    pub fn snippet(mut self, line: impl Into<String>) -> Self {
        self.snippet = Some(line.into());
        self
    }

    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// Where the statements that led to this file were written, innermost first; kept
    /// when the diagnostic already has its own (it came from a deeper file).
    pub fn included_from(mut self, chain: &[Location]) -> Self {
        if self.chain.is_empty() {
            self.chain = chain.to_vec();
        }
        self
    }

    /// Fill in the snippet from the file on disk when the producer did not have it.
    pub fn with_snippet_from_disk(mut self) -> Self {
        if self.snippet.is_none() {
            if let Some(loc) = &self.location {
                // Bounded: a diagnostic about a file too large to load must not load it.
                // A vaulted file's line would be ciphertext, or worse, the plaintext.
                let text = crate::yaml::read_bounded(loc.file.as_ref())
                    .ok()
                    .filter(|t| !crate::vault::is_vaulted(t));
                if let Some(text) = text {
                    self.snippet = text.lines().nth(loc.line.saturating_sub(1)).map(str::to_owned);
                }
            }
        }
        self
    }
}

impl fmt::Display for Diagnostic {
    /// Drawn like rustc and just: message, location, the line with a caret, the hint.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "error: {}", self.message)?;
        if let Some(loc) = &self.location {
            let gutter = loc.line.to_string().len();
            writeln!(f, "{:gutter$}--> {}", "", loc)?;
            if let Some(line) = &self.snippet {
                let (line, col) = snippet_window(line, loc.col.max(1));
                writeln!(f, "{:gutter$} |", "")?;
                writeln!(f, "{} | {}", loc.line, line)?;
                writeln!(f, "{:gutter$} | {:>col$}", "", "^", col = col)?;
            }
        }
        for at in &self.chain {
            writeln!(f, "  = included from {at}")?;
        }
        if let Some(hint) = &self.hint {
            writeln!(f, "  = help: {hint}")?;
        }
        Ok(())
    }
}

/// The part of a long source line around column `col` (1-based), and the caret's column in
/// it: a hostile one-line document must not print megabytes.
fn snippet_window(line: &str, col: usize) -> (String, usize) {
    const WIDTH: usize = 100;
    const BEFORE: usize = 60;
    let len = line.chars().count();
    if len <= WIDTH + 20 {
        return (line.to_owned(), col);
    }
    let start = col.saturating_sub(1 + BEFORE).min(len.saturating_sub(WIDTH));
    let mut shown: String = line.chars().skip(start).take(WIDTH).collect();
    let mut caret = col - start;
    if start > 0 {
        shown.insert_str(0, "...");
        caret += 3;
    }
    if start + WIDTH < len {
        shown.push_str("...");
    }
    (shown, caret)
}

/// Errors that end a run. Host failures are not errors: they are outcomes of a run
/// (see `runner::RunSummary`), reported through events and mapped to exit codes at the end.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Bad input: playbook, inventory, templates, variables, arguments. Nothing was touched.
    #[error("{} problem(s) in the input", .0.len())]
    Invalid(Vec<Diagnostic>),
    /// Hosts that could not be reached before the first batch. Nothing was touched.
    #[error("unreachable: {}", .0.iter().map(|(h, why)| format!("{h} ({why})")).collect::<Vec<_>>().join(", "))]
    Unreachable(Vec<(String, String)>),
    /// Preflight found a host where sudo or a load balancer socket does not work.
    /// Nothing was touched.
    #[error("preflight failed: {}", .0.iter().map(|(h, why)| format!("{h} ({why})")).collect::<Vec<_>>().join(", "))]
    Preflight(Vec<(String, String)>),
    #[error("interrupted")]
    Interrupted,
    #[error("{0}")]
    Internal(String),
}

impl Error {
    pub fn invalid(d: Diagnostic) -> Self {
        Error::Invalid(vec![d])
    }

    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Invalid(_) => exit::INVALID,
            Error::Unreachable(_) => exit::UNREACHABLE,
            Error::Preflight(_) => exit::HOST_FAILED,
            Error::Interrupted => exit::INTERRUPTED,
            Error::Internal(_) => exit::INTERNAL,
        }
    }
}

impl Error {
    /// The error as zdd prints it on stderr: every problem with its snippet, or each host
    /// and why. The one place errors are drawn.
    pub fn render(&self) -> String {
        use std::fmt::Write;
        let mut out = String::new();
        let hosts = |out: &mut String, list: &[(String, String)]| {
            for (host, why) in list {
                let _ = writeln!(out, "  {host}: {}", why.trim());
            }
        };
        match self {
            Error::Invalid(problems) => {
                for d in problems {
                    out.push_str(&d.clone().with_snippet_from_disk().to_string());
                }
                let _ = writeln!(
                    out,
                    "zdd: {} problem{} found before touching any host; nothing was changed",
                    problems.len(),
                    if problems.len() == 1 { "" } else { "s" }
                );
            }
            Error::Unreachable(list) => {
                let _ = writeln!(
                    out,
                    "error: {} host(s) unreachable; nothing was changed:",
                    list.len()
                );
                hosts(&mut out, list);
            }
            Error::Preflight(list) => {
                let _ = writeln!(
                    out,
                    "error: preflight failed on {} host(s); nothing was changed:",
                    list.len()
                );
                hosts(&mut out, list);
            }
            other => {
                let _ = writeln!(out, "error: {other}");
            }
        }
        // A value from Vault quoted by any message is masked here, where all are drawn.
        crate::vault::mask(&out).into_owned()
    }
}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        Error::Internal(e.to_string())
    }
}

/// The exit codes zdd promises (Ansible's, plus 5 and 130).
pub mod exit {
    pub const OK: i32 = 0;
    pub const INTERNAL: i32 = 1;
    pub const HOST_FAILED: i32 = 2;
    pub const UNREACHABLE: i32 = 4;
    pub const INVALID: i32 = 5;
    pub const INTERRUPTED: i32 = 130;
}

/// "did you mean ...?" for a misspelt keyword or module name.
pub fn did_you_mean<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<String> {
    closest(word, candidates).map(|(_, c)| format!("did you mean `{c}`?"))
}

/// The candidate nearest to `word` and its edit distance, if it is near enough to be a
/// plausible typo (one edit per three letters, at least one).
pub fn closest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<(usize, &'a str)> {
    candidates
        .into_iter()
        .map(|c| (strsim::damerau_levenshtein(word, c), c))
        .filter(|(d, c)| *d <= 1.max(c.len() / 3))
        .min_by_key(|(d, _)| *d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diagnostic_draws_location_caret_and_hint() {
        let loc = Location::new(Arc::new(PathBuf::from("site.yml")), 12, 7);
        let d = Diagnostic::new("unknown keyword `delegateto`")
            .at(loc)
            .snippet("      delegateto: lb")
            .hint("did you mean `delegate_to`?");
        let text = d.to_string();
        assert_eq!(
            text,
            "error: unknown keyword `delegateto`\n  --> site.yml:12:7\n   |\n12 |       delegateto: lb\n   |       ^\n  = help: did you mean `delegate_to`?\n"
        );
    }

    #[test]
    fn a_diagnostic_in_an_imported_file_draws_its_chain() {
        let file = |name: &str| Arc::new(PathBuf::from(name));
        let d = Diagnostic::new("unknown keyword `bogus`")
            .at(Location::new(file("tasks/b.yml"), 3, 3))
            .snippet("  bogus: 1")
            .included_from(&[
                Location::new(file("tasks/a.yml"), 1, 3),
                Location::new(file("site.yml"), 6, 7),
            ])
            .included_from(&[Location::new(file("ignored.yml"), 1, 1)])
            .hint("the module of this task is `debug`");
        assert_eq!(
            d.to_string(),
            "error: unknown keyword `bogus`\n --> tasks/b.yml:3:3\n  |\n3 |   bogus: 1\n  |   ^\n  = included from tasks/a.yml:1:3\n  = included from site.yml:6:7\n  = help: the module of this task is `debug`\n"
        );
    }

    #[test]
    fn a_long_line_is_drawn_around_the_caret() {
        let line = format!("{}X{}", "a".repeat(1000), "b".repeat(1000));
        let (shown, col) = snippet_window(&line, 1001);
        assert_eq!(shown, format!("...{}X{}...", "a".repeat(60), "b".repeat(39)));
        assert_eq!(shown.chars().nth(col - 1), Some('X'));
        let (shown, col) = snippet_window(&line, 3);
        assert_eq!((shown.len(), col), (103, 3));
        let (shown, col) = snippet_window(&line, 2001);
        assert_eq!(shown, format!("...{}", "b".repeat(100)));
        assert_eq!(col, 103);
        assert_eq!(snippet_window("short", 2), ("short".to_owned(), 2));
    }

    #[test]
    fn errors_are_drawn_with_each_host_and_why() {
        let e = Error::Unreachable(vec![("web2".into(), "connection refused\n".into())]);
        assert_eq!(
            e.render(),
            "error: 1 host(s) unreachable; nothing was changed:\n  web2: connection refused\n"
        );
        let e = Error::Preflight(vec![("lb".into(), "no HAProxy socket at /s".into())]);
        assert_eq!(
            e.render(),
            "error: preflight failed on 1 host(s); nothing was changed:\n  lb: no HAProxy socket at /s\n"
        );
        let e = Error::invalid(Diagnostic::new("bad --limit pattern: x"));
        assert_eq!(
            e.render(),
            "error: bad --limit pattern: x\nzdd: 1 problem found before touching any host; nothing was changed\n"
        );
    }

    #[test]
    fn did_you_mean_finds_close_words_only() {
        let words = ["delegate_to", "when", "notify"];
        assert_eq!(
            did_you_mean("delegateto", words).as_deref(),
            Some("did you mean `delegate_to`?")
        );
        assert_eq!(did_you_mean("completely_else", words), None);
        assert_eq!(
            did_you_mean("nmae", ["name"]).as_deref(),
            Some("did you mean `name`?")
        );
        assert_eq!(
            did_you_mean("shel", words),
            None,
            "two edits on four letters is not a typo"
        );
    }
}
