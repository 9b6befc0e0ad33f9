//! YAML text -> marked nodes and JSON values, resolved the way Ansible (PyYAML, YAML 1.1)
//! resolves them: unquoted `yes`/`off` are booleans, `1.10` is a float, quoted text stays
//! text. Every node keeps the line and column it was written at.

mod loader;

use crate::error::{Diagnostic, Location};
use loader::LoadError;
use marked_yaml::{Marker, Node, Span};
use serde_json::{Map, Number, Value};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use loader::{EXPANSION_BUDGET, MAX_DEPTH};

/// The largest YAML or inventory file read. Real playbooks and inventories are well under
/// 1 MiB; past this size loading alone takes seconds and gigabytes.
pub const MAX_FILE_BYTES: u64 = 10 * 1024 * 1024;

pub use marked_yaml::types::{MarkedMappingNode, MarkedScalarNode, MarkedSequenceNode};

/// A file's text, kept to draw locations and snippets for the nodes parsed from it.
#[derive(Debug, Clone)]
pub struct Source {
    pub path: Arc<PathBuf>,
    pub text: String,
    /// Whether the file was vaulted (its text is the plaintext): every value in a vaulted
    /// vars file is a secret.
    pub vaulted: bool,
}

/// What the top level of a document must be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TopLevel {
    Mapping,
    Sequence,
}

impl Source {
    pub fn new(path: impl Into<PathBuf>, text: impl Into<String>) -> Self {
        Source {
            path: Arc::new(path.into()),
            text: text.into(),
            vaulted: false,
        }
    }

    /// Read a file; a file that cannot be read, or is larger than `MAX_FILE_BYTES`, is bad
    /// input, named with its path.
    pub fn read(path: &Path) -> Result<Self, Diagnostic> {
        match read_bounded(path) {
            Ok(text) => {
                let at = Location::new(Arc::new(path.to_owned()), 1, 1);
                let what = format!("`{}`", path.display());
                let header = text.lines().next().unwrap_or_default().to_owned();
                let (text, vaulted) = crate::vault::open_text(text).map_err(|e| {
                    Diagnostic::new(e.message(&what))
                        .at(at)
                        .snippet(header)
                        .hint(e.hint())
                })?;
                Ok(Source {
                    vaulted,
                    ..Source::new(path, text)
                })
            }
            Err(e) if e.kind() == std::io::ErrorKind::FileTooLarge => {
                Err(Diagnostic::new(format!("`{}` is {e}", path.display()))
                    .at(Location::new(Arc::new(path.to_owned()), 1, 1))
                    .hint("split it: move variables to `vars_files` or `group_vars/`"))
            }
            Err(e) => Err(Diagnostic::new(format!("cannot read `{}`: {e}", path.display()))),
        }
    }

    pub fn location(&self, line: usize, col: usize) -> Location {
        Location::new(self.path.clone(), line.max(1), col.max(1))
    }

    /// The location of a marker from this file.
    pub fn marker_location(&self, m: &Marker) -> Location {
        self.location(m.line(), m.column())
    }

    /// Where a node starts (the file's start when the parser gave no mark).
    pub fn span_location(&self, span: &Span) -> Location {
        span.start()
            .map(|m| self.marker_location(m))
            .unwrap_or_else(|| self.location(1, 1))
    }

    pub fn node_location(&self, node: &Node) -> Location {
        self.span_location(node.span())
    }

    /// Line `n` (1-based) of the text, without its newline.
    pub fn line(&self, n: usize) -> Option<&str> {
        self.text.lines().nth(n.checked_sub(1)?)
    }

    /// A diagnostic at `loc`, with the source line as its snippet.
    pub fn diag(&self, message: impl Into<String>, loc: Location) -> Diagnostic {
        // A vaulted file's lines are secret: its diagnostics name the line only.
        let snippet = self.line(loc.line).filter(|_| !self.vaulted).map(str::to_owned);
        let d = Diagnostic::new(message).at(loc);
        match snippet {
            Some(s) => d.snippet(s),
            None => d,
        }
    }

    /// Parse the text as one YAML document whose top level is `top`.
    pub fn parse(&self, top: TopLevel) -> Result<Node, Diagnostic> {
        if let Some(line) = self.second_document_line() {
            return Err(self
                .diag("more than one YAML document in this file", self.location(line, 1))
                .hint("a playbook or vars file is a single document: remove this `---`"));
        }
        loader::load(&self.text, Some(top)).map_err(|e| self.load_error(e, top))
    }

    /// Parse the text as one YAML document of any kind, a scalar too (`from_yaml`).
    pub fn parse_any(&self) -> Result<Node, Diagnostic> {
        if let Some(line) = self.second_document_line() {
            return Err(self.diag("more than one YAML document", self.location(line, 1)));
        }
        loader::load(&self.text, None).map_err(|e| self.load_error(e, TopLevel::Mapping))
    }

    /// The line of a `---` that starts a second document, if any.
    fn second_document_line(&self) -> Option<usize> {
        let is_marker = |line: &str| line == "---" || line.starts_with("--- ") || line.starts_with("---\t");
        // Lines up to the first content (or a `...` end): a `---` there only opens the first
        // document. Usually that is line 1, and the rest is searched without walking lines.
        let mut content_end = None;
        let mut offset = 0;
        for line in self.text.split_inclusive('\n') {
            offset += line.len();
            let line = line.trim_end_matches('\n').trim_end_matches('\r');
            let t = line.trim();
            let content = !is_marker(line) && !t.is_empty() && !t.starts_with('#') && !line.starts_with('%');
            if content || line == "..." {
                content_end = Some(offset);
                break;
            }
        }
        let rest = &self.text[content_end?..];
        let at = std::iter::once(0)
            .chain(rest.match_indices("\n---").map(|(i, _)| i + 1))
            .find(|&i| is_marker(rest[i..].lines().next().unwrap_or_default()))?;
        let before = &self.text[..content_end? + at];
        Some(before.matches('\n').count() + 1)
    }

    fn load_error(&self, e: LoadError, top: TopLevel) -> Diagnostic {
        let at = |m: &Marker| self.marker_location(m);
        match e {
            LoadError::TopLevelMustBeMapping(m) => self
                .diag("expected a mapping of variables at the top of the file", at(&m))
                .hint("write `name: value` lines"),
            LoadError::TopLevelMustBeSequence(m) => {
                let d = self.diag("a playbook is a list of plays", at(&m));
                if top == TopLevel::Sequence {
                    d.hint("start each play with `- hosts: ...`")
                } else {
                    d
                }
            }
            LoadError::KeyMustBeScalar(m) => self.diag(
                "a mapping key must be a plain value, not a list or mapping",
                at(&m),
            ),
            LoadError::Tag(m) => self
                .diag("YAML tags (`!tag`, `!!str`) are not supported", at(&m))
                .hint("quote the value to make it a string"),
            LoadError::Vault { at: m, key, error } => {
                let what = match key {
                    Some(key) => format!("the `!vault` value of `{key}`"),
                    None => "this `!vault` value".to_owned(),
                };
                self.diag(error.message(&what), at(&m)).hint(error.hint())
            }
            LoadError::Scan(m, info) => self.diag(format!("invalid YAML: {info}"), at(&m)),
            LoadError::DuplicateKey { key, first, second } => self
                .diag(format!("duplicate key `{key}`"), at(&second))
                .hint(format!(
                    "`{key}` is already set at line {}; keep one",
                    first.line()
                )),
            LoadError::DuplicateAnchor { name, first, second } => self
                .diag(format!("duplicate anchor `&{name}`"), at(&second))
                .hint(format!(
                    "`&{name}` is already defined at line {}; give this one another name",
                    first.line()
                )),
            LoadError::UnknownAlias { name, at: m } => self
                .diag(
                    format!("alias `*{name}` refers to no anchor defined before it"),
                    at(&m),
                )
                .hint(format!("define `&{name}` on a value earlier in the file")),
            LoadError::RecursiveAlias { name, at: m } => self
                .diag(
                    format!("alias `*{name}` is inside the value `&{name}` names"),
                    at(&m),
                )
                .hint("a value cannot contain itself"),
            LoadError::BadMerge { found, at: m } => self
                .diag(
                    format!("`<<` merges a mapping or a list of mappings, found {found}"),
                    at(&m),
                )
                .hint("write `<<: *name` where `&name` is on a mapping"),
            LoadError::TooDeep { at: m, through_alias } => {
                let message = match through_alias {
                    Some(name) => {
                        format!("alias `*{name}` nests lists and mappings deeper than {MAX_DEPTH} levels")
                    }
                    None => format!("lists and mappings nested deeper than {MAX_DEPTH} levels"),
                };
                self.diag(message, at(&m))
                    .hint("flatten the data: no playbook or inventory needs this depth")
            }
            LoadError::OverBudget { name, at: m } => self
                .diag(
                    format!("aliases expand to more than {EXPANSION_BUDGET} values (at `*{name}`)"),
                    at(&m),
                )
                .hint("aliases of aliases multiply: a file that expands this much is refused"),
        }
    }
}

/// A file's text, refused past `MAX_FILE_BYTES` without reading more than that.
pub fn read_bounded(path: &Path) -> std::io::Result<String> {
    let file = std::fs::File::open(path)?;
    let mut bytes = Vec::new();
    file.take(MAX_FILE_BYTES + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(std::io::Error::new(
            std::io::ErrorKind::FileTooLarge,
            format!(
                "larger than {} MiB, the most zdd reads of one file",
                MAX_FILE_BYTES / (1024 * 1024)
            ),
        ));
    }
    String::from_utf8(bytes).map_err(|_| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "stream did not contain valid UTF-8",
        )
    })
}

/// A scalar as Ansible reads it: plain scalars are resolved (YAML 1.1), quoted and block
/// scalars stay strings.
pub fn scalar_value(s: &MarkedScalarNode) -> Value {
    if !s.may_coerce() {
        return Value::String(s.as_str().to_owned());
    }
    resolve_plain(s.as_str())
}

/// YAML 1.1 resolution of an unquoted scalar.
pub fn resolve_plain(text: &str) -> Value {
    if let Some(b) = yaml11_bool(text) {
        return Value::Bool(b);
    }
    if matches!(text, "" | "~" | "null" | "Null" | "NULL") {
        return Value::Null;
    }
    if let Some(i) = yaml11_int(text) {
        return Value::Number(i.into());
    }
    if let Some(f) = yaml11_float(text).and_then(Number::from_f64) {
        return Value::Number(f);
    }
    Value::String(text.to_owned())
}

/// `yes`/`no`/`true`/`false`/`on`/`off`, in any case.
pub fn yaml11_bool(text: &str) -> Option<bool> {
    match text.to_ascii_lowercase().as_str() {
        "yes" | "true" | "on" => Some(true),
        "no" | "false" | "off" => Some(false),
        _ => None,
    }
}

fn yaml11_int(text: &str) -> Option<i64> {
    let (neg, body) = match text.as_bytes().first()? {
        b'-' => (true, &text[1..]),
        b'+' => (false, &text[1..]),
        _ => (false, text),
    };
    if body.is_empty() || body.starts_with('_') {
        return None;
    }
    let digits = |s: &str, radix: u32| -> Option<i64> {
        let clean: String = s.chars().filter(|&c| c != '_').collect();
        if clean.is_empty() {
            return None;
        }
        i64::from_str_radix(&clean, radix).ok()
    };
    let magnitude = if let Some(b) = body.strip_prefix("0b") {
        digits(b, 2)?
    } else if let Some(x) = body.strip_prefix("0x") {
        digits(x, 16)?
    } else if let Some(o) = body.strip_prefix("0o") {
        digits(o, 8)?
    } else if body.len() > 1 && body.starts_with('0') {
        // YAML 1.1: a leading zero means octal (`mode: 0644` is 420).
        digits(&body[1..], 8)?
    } else if body.bytes().all(|b| b.is_ascii_digit() || b == b'_') {
        digits(body, 10)?
    } else {
        return None;
    };
    Some(if neg { -magnitude } else { magnitude })
}

fn yaml11_float(text: &str) -> Option<f64> {
    // PyYAML: [-+]?([0-9][0-9_]*)?\.[0-9_]*([eE][-+][0-9]+)?  (a dot is required).
    let body = text.strip_prefix(['-', '+']).unwrap_or(text);
    let (mantissa, exponent) = match body.find(['e', 'E']) {
        Some(i) => (&body[..i], Some(&body[i + 1..])),
        None => (body, None),
    };
    let (int, frac) = mantissa.split_once('.')?;
    let ok_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit() || b == b'_');
    if !ok_digits(int) || !ok_digits(frac) || (int.is_empty() && frac.is_empty()) {
        return None;
    }
    if int.starts_with('_') || (int.is_empty() && frac.starts_with('_')) {
        return None;
    }
    if let Some(e) = exponent {
        let digits = e.strip_prefix(['-', '+'])?;
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
    }
    let clean: String = text.chars().filter(|&c| c != '_').collect();
    let clean = if clean.contains(".e") || clean.contains(".E") {
        clean.replacen('.', ".0", 1)
    } else {
        clean
    };
    clean.parse().ok()
}

/// Any node as a JSON value (mapping keys become strings).
pub fn to_value(node: &Node) -> Value {
    match node {
        Node::Scalar(s) => scalar_value(s),
        Node::Sequence(seq) => Value::Array(seq.iter().map(to_value).collect()),
        Node::Mapping(map) => {
            let mut out = Map::new();
            for (k, v) in map.iter() {
                out.insert(k.as_str().to_owned(), to_value(v));
            }
            Value::Object(out)
        }
    }
}

/// A short name for what a node is, for messages ("expected a list, found a mapping").
pub fn kind(node: &Node) -> &'static str {
    match node {
        Node::Scalar(_) => "a scalar",
        Node::Sequence(_) => "a list",
        Node::Mapping(_) => "a mapping",
    }
}

#[cfg(test)]
mod tests;
