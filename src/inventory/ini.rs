//! INI inventories, parsed as Ansible's `ini` plugin does, with every error located.

use super::hostdef::{expand_hostname_range, shlex_split, split_host_port};
use super::literal::parse_value;
use super::Inventory;
use crate::error::{did_you_mean, Diagnostic, Error, Location};
use regex::Regex;
use std::path::{Path, PathBuf};
use std::sync::{Arc, LazyLock};

static SECTION: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^\[([^:\]\s]+)(?::(\w+))?\]\s*(?:#.*)?$").unwrap());
static GROUP_NAME: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^([^:\]\s]+)\s*(?:#.*)?$").unwrap());

#[derive(Clone, Copy, PartialEq)]
enum State {
    Hosts,
    Vars,
    Children,
}

/// A `[parent:children]` line, resolved once every section has been seen.
struct ChildRef {
    parent: String,
    child: String,
    line_no: usize,
    col: usize,
}

struct IniParser<'a> {
    file: Arc<PathBuf>,
    lines: Vec<&'a str>,
    inv: Inventory,
    errors: Vec<Diagnostic>,
    /// Groups earlier inventory sources declared: `[g:children]` may name them.
    known: &'a [String],
}

/// Parse one INI file; `known` are the groups of the sources read before it.
pub(super) fn parse(path: &Path, text: &str, known: &[String]) -> Result<Inventory, Error> {
    let mut p = IniParser {
        file: Arc::new(path.to_owned()),
        lines: text.lines().collect(),
        inv: Inventory::default(),
        errors: Vec::new(),
        known,
    };
    p.run();
    if p.errors.is_empty() {
        Ok(p.inv)
    } else {
        Err(Error::Invalid(p.errors))
    }
}

/// 1-based column of byte offset `at` in `line`.
fn col_of(line: &str, at: usize) -> usize {
    line[..at.min(line.len())].chars().count() + 1
}

impl IniParser<'_> {
    fn loc(&self, line_no: usize, col: usize) -> Location {
        Location::new(self.file.clone(), line_no, col)
    }

    fn error(&mut self, line_no: usize, at: usize, message: String, hint: impl Into<String>) {
        let line = self.lines[line_no - 1];
        self.errors.push(
            Diagnostic::new(message)
                .at(self.loc(line_no, col_of(line, at)))
                .snippet(line)
                .hint(hint),
        );
    }

    fn run(&mut self) {
        let mut group = "ungrouped".to_owned();
        let mut state = State::Hosts;
        let mut declared: Vec<String> = vec!["all".into(), "ungrouped".into()];
        declared.extend(self.known.iter().cloned());
        let mut children: Vec<ChildRef> = Vec::new();

        for idx in 0..self.lines.len() {
            let line_no = idx + 1;
            let raw = self.lines[idx];
            let indent = raw.len() - raw.trim_start().len();
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
                continue;
            }
            if line.starts_with('[') && !looks_like_bracketed_ipv6(line) {
                match self.section(line_no, indent, line) {
                    Some((name, new_state)) => {
                        let loc = self.loc(line_no, indent + 1);
                        self.inv.ensure_group(&name, Some(loc));
                        if !declared.contains(&name) {
                            declared.push(name.clone());
                        }
                        group = name;
                        state = new_state;
                    }
                    // Skip the section's lines rather than pile errors on a bad header.
                    None => {
                        group = String::new();
                    }
                }
                continue;
            }
            if group.is_empty() {
                continue;
            }
            match state {
                State::Hosts => self.host_line(line_no, &group),
                State::Vars => self.var_line(line_no, indent, line, &group),
                State::Children => match GROUP_NAME.captures(line) {
                    Some(c) => children.push(ChildRef {
                        parent: group.clone(),
                        child: c[1].to_owned(),
                        line_no,
                        col: indent + 1,
                    }),
                    None => self.error(
                        line_no,
                        indent,
                        format!("expected a group name in [{group}:children], found `{line}`"),
                        format!("list one child group per line; hosts go under [{group}]"),
                    ),
                },
            }
        }

        for r in children {
            let line = self.lines[r.line_no - 1];
            if !declared.contains(&r.child) {
                let hint = did_you_mean(&r.child, declared.iter().map(String::as_str))
                    .unwrap_or_else(|| format!("declare it, even empty, with a `[{}]` section", r.child));
                self.errors.push(
                    Diagnostic::new(format!(
                        "[{}:children] names group `{}`, which is never declared",
                        r.parent, r.child
                    ))
                    .at(self.loc(r.line_no, r.col))
                    .snippet(line)
                    .hint(hint),
                );
            } else if let Err(why) = self.inv.add_child(&r.parent, &r.child) {
                self.errors.push(
                    Diagnostic::new(why)
                        .at(self.loc(r.line_no, r.col))
                        .snippet(line)
                        .hint("a group cannot contain itself, directly or through its children"),
                );
            }
        }
    }

    /// `[name]`, `[name:vars]` or `[name:children]`.
    fn section(&mut self, line_no: usize, indent: usize, line: &str) -> Option<(String, State)> {
        let Some(c) = SECTION.captures(line) else {
            self.error(
                line_no,
                indent,
                format!("invalid section header `{line}`"),
                "a section is `[name]`, `[name:vars]` or `[name:children]`, with no spaces in the name",
            );
            return None;
        };
        let name = c[1].to_owned();
        let state = match c.get(2).map(|m| m.as_str()) {
            None => State::Hosts,
            Some("vars") => State::Vars,
            Some("children") => State::Children,
            Some(other) => {
                let at = indent + c.get(2).unwrap().start();
                let hint = did_you_mean(other, ["vars", "children"])
                    .map(|d| format!("{d} a section is `[{name}]`, `[{name}:vars]` or `[{name}:children]`"))
                    .unwrap_or_else(|| {
                        format!("a section is `[{name}]`, `[{name}:vars]` or `[{name}:children]`")
                    });
                self.error(
                    line_no,
                    at,
                    format!("unknown section type `:{other}` in `[{name}:{other}]`"),
                    hint,
                );
                return None;
            }
        };
        Some((name, state))
    }

    /// `web[1:3].example.com:2222 ansible_user=deploy doc_root="/srv/a b"`
    fn host_line(&mut self, line_no: usize, group: &str) {
        let raw = self.lines[line_no - 1];
        let tokens = match shlex_split(raw) {
            Ok(t) => t,
            Err((at, msg)) => {
                self.error(line_no, at, msg, "close the quote, or escape it with a backslash");
                return;
            }
        };
        let Some((first, rest)) = tokens.split_first() else {
            return; // only a comment
        };
        if first.text.contains('=') {
            self.error(
                line_no,
                first.start,
                format!("variable `{}` has no host", first.text),
                format!(
                    "group variables go under `[{group}:vars]`; host variables after the host name: `web1 {}`",
                    first.text
                ),
            );
            return;
        }
        let (pattern, port) = match split_host_port(&first.text) {
            Ok(hp) => hp,
            Err(msg) => {
                self.error(
                    line_no,
                    first.start,
                    msg,
                    "write the port as `host:2222` or as `ansible_port=2222`",
                );
                return;
            }
        };
        let hosts = match expand_hostname_range(&pattern) {
            Ok(h) => h,
            Err(e) => {
                self.error(line_no, first.start + e.at, e.message, e.hint);
                return;
            }
        };
        let mut vars = crate::vars::VarMap::new();
        let mut bad = false;
        for t in rest {
            match t.text.split_once('=') {
                Some((k, v)) if !k.is_empty() => {
                    vars.insert(k.to_owned(), parse_value(v));
                }
                Some(_) => {
                    bad = true;
                    self.error(
                        line_no,
                        t.start,
                        format!("variable `{}` has no name", t.text),
                        "host variables are `name=value`",
                    );
                }
                None => {
                    bad = true;
                    self.error(
                        line_no,
                        t.start,
                        format!("expected `name=value` after the host, found `{}`", t.text),
                        "one host per line; quote a value that has spaces: `doc_root=\"/srv/a b\"`",
                    );
                }
            }
        }
        if bad {
            return;
        }
        if let Some(port) = port {
            vars.insert("ansible_port".into(), port.into());
        }
        let loc = self.loc(line_no, col_of(raw, first.start));
        for h in hosts {
            self.inv.add_host_to_group(&h, group, Some(loc.clone()));
            let host = self.inv.ensure_host(&h, None);
            for (k, v) in &vars {
                host.vars.insert(k.clone(), v.clone());
            }
        }
    }

    /// `name=value` under `[group:vars]`; the value is typed, quotes or not.
    fn var_line(&mut self, line_no: usize, indent: usize, line: &str, group: &str) {
        let Some((k, v)) = line.split_once('=') else {
            self.error(
                line_no,
                indent,
                format!("expected `name=value` in [{group}:vars], found `{line}`"),
                format!("hosts go under `[{group}]`, child groups under `[{group}:children]`"),
            );
            return;
        };
        let (key, value) = (k.trim(), v.trim());
        if key.is_empty() {
            self.error(
                line_no,
                indent,
                format!("variable `{line}` has no name"),
                "group variables are `name=value`",
            );
            return;
        }
        let typed = parse_value(value);
        if let Some(q) = value.chars().next().filter(|c| *c == '"' || *c == '\'') {
            if typed.is_string() && !value[1..].contains(q) {
                let at = indent + k.len() + 1 + (v.len() - v.trim_start().len());
                self.error(
                    line_no,
                    at,
                    format!("unterminated quote in the value of `{key}`"),
                    format!("close it: {key}={q}...{q}"),
                );
                return;
            }
        }
        self.inv
            .ensure_group(group, None)
            .vars
            .insert(key.to_owned(), typed);
    }
}

/// `[::1]` or `[2001:db8::1]:22` on a host line, not a section.
fn looks_like_bracketed_ipv6(line: &str) -> bool {
    line.find(']').is_some_and(|end| {
        line[1..end].matches(':').count() >= 2 && !line[1..end].contains(char::is_whitespace)
    })
}
