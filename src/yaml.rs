//! YAML text -> marked nodes and JSON values, resolved the way Ansible (PyYAML, YAML 1.1)
//! resolves them: unquoted `yes`/`off` are booleans, `1.10` is a float, quoted text stays
//! text. Every node keeps the line and column it was written at.

use crate::error::{Diagnostic, Location};
use marked_yaml::{LoadError, LoaderOptions, Marker, Node, Span};
use serde_json::{Map, Number, Value};
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use marked_yaml::types::{MarkedMappingNode, MarkedScalarNode, MarkedSequenceNode};

/// A file's text, kept to draw locations and snippets for the nodes parsed from it.
#[derive(Debug, Clone)]
pub struct Source {
    pub path: Arc<PathBuf>,
    pub text: String,
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
        }
    }

    /// Read a file; a file that cannot be read is bad input, named with its path.
    pub fn read(path: &Path) -> Result<Self, Diagnostic> {
        match std::fs::read_to_string(path) {
            Ok(text) => Ok(Source::new(path, text)),
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
        let snippet = self.line(loc.line).map(str::to_owned);
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
        let options = LoaderOptions::default()
            .prevent_coercion(true)
            .error_on_duplicate_keys(true);
        let options = match top {
            TopLevel::Mapping => options.toplevel_mapping(),
            TopLevel::Sequence => options.toplevel_sequence(),
        };
        let node = marked_yaml::parse_yaml_with_options(0, &self.text, options)
            .map_err(|e| self.load_error(e, top))?;
        // An empty document comes back as an empty mapping whatever was asked for.
        if top == TopLevel::Sequence {
            if let Node::Mapping(m) = &node {
                if m.is_empty() {
                    return Ok(Node::Sequence(MarkedSequenceNode::new_empty(*m.span())));
                }
            }
        }
        Ok(node)
    }

    /// The line of a `---` that starts a second document, if any.
    fn second_document_line(&self) -> Option<usize> {
        let mut seen_content = false;
        for (i, line) in self.text.lines().enumerate() {
            let is_marker = line == "---" || line.starts_with("--- ") || line.starts_with("---\t");
            if is_marker && seen_content {
                return Some(i + 1);
            }
            let t = line.trim();
            if !is_marker && !t.is_empty() && !t.starts_with('#') && !line.starts_with('%') {
                seen_content = true;
            }
            if line == "..." {
                seen_content = true;
            }
        }
        None
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
            LoadError::UnexpectedAnchor(m) => self
                .diag(
                    "YAML anchors and aliases (`&name`, `*name`) are not supported",
                    at(&m),
                )
                .hint("repeat the value, or move it to a variable"),
            LoadError::MappingKeyMustBeScalar(m) => self.diag(
                "a mapping key must be a plain value, not a list or mapping",
                at(&m),
            ),
            LoadError::UnexpectedTag(m) => self
                .diag("YAML tags (`!tag`, `!!str`) are not supported", at(&m))
                .hint("quote the value to make it a string"),
            LoadError::ScanError(m, scan) => self.diag(format!("invalid YAML: {}", scan.info()), at(&m)),
            LoadError::DuplicateKey(inner) => {
                let first = self.span_location(inner.prev_key.span());
                self.diag(
                    format!("duplicate key `{}`", inner.key.as_str()),
                    self.span_location(inner.key.span()),
                )
                .hint(format!(
                    "`{}` is already set at line {}; keep one",
                    inner.key.as_str(),
                    first.line
                ))
            }
        }
    }
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
mod tests {
    use super::*;
    use serde_json::json;

    fn values(text: &str) -> Value {
        let src = Source::new("t.yml", text);
        to_value(&src.parse(TopLevel::Mapping).unwrap())
    }

    #[test]
    fn yaml11_booleans_in_any_case_but_only_unquoted() {
        let v =
            values("a: yes\nb: No\nc: ON\nd: off\ne: True\nf: FALSE\ng: 'yes'\nh: \"on\"\ni: yEs\nj: y\n");
        assert_eq!(
            v,
            json!({"a": true, "b": false, "c": true, "d": false, "e": true, "f": false,
                   "g": "yes", "h": "on", "i": true, "j": "y"})
        );
    }

    #[test]
    fn numbers_nulls_and_strings() {
        let v = values(
            "i: 42\nneg: -7\noct: 0644\nhex: 0x1F\nf: 1.10\nexp: 1.5e+3\nnoexp: 1e3\nver: 1.2.3\n\
             n1: ~\nn2: null\nn3:\nq: '42'\nport: 8_080\nlead: .5\n",
        );
        assert_eq!(
            v,
            json!({"i": 42, "neg": -7, "oct": 420, "hex": 31, "f": 1.1, "exp": 1500.0,
                   "noexp": "1e3", "ver": "1.2.3", "n1": null, "n2": null, "n3": null,
                   "q": "42", "port": 8080, "lead": 0.5})
        );
    }

    #[test]
    fn block_scalars_stay_strings() {
        let v = values("s: |\n  yes\nt: >-\n  12\n");
        assert_eq!(v, json!({"s": "yes\n", "t": "12"}));
    }

    #[test]
    fn syntax_error_has_location_and_snippet() {
        let src = Source::new("bad.yml", "- hosts: a\n  vars: [1,\n");
        let d = src.parse(TopLevel::Sequence).unwrap_err();
        assert!(d.message.starts_with("invalid YAML"), "{}", d.message);
        let loc = d.location.unwrap();
        assert_eq!((loc.line, loc.col), (3, 1));
    }

    #[test]
    fn duplicate_key_names_both_lines() {
        let src = Source::new("dup.yml", "- hosts: a\n  tasks: []\n  hosts: b\n");
        let d = src.parse(TopLevel::Sequence).unwrap_err();
        assert_eq!(d.message, "duplicate key `hosts`");
        let loc = d.location.unwrap();
        assert_eq!((loc.line, loc.col), (3, 3));
        assert_eq!(d.snippet.as_deref(), Some("  hosts: b"));
        assert_eq!(
            d.hint.as_deref(),
            Some("`hosts` is already set at line 1; keep one")
        );
    }

    #[test]
    fn anchors_second_documents_and_wrong_top_level_are_errors() {
        let anchor = Source::new("a.yml", "x: &a 1\ny: *a\n");
        assert!(anchor
            .parse(TopLevel::Mapping)
            .unwrap_err()
            .message
            .contains("anchors"));
        let two = Source::new("b.yml", "---\n- hosts: a\n---\n- hosts: b\n");
        let d = two.parse(TopLevel::Sequence).unwrap_err();
        assert_eq!(d.location.unwrap().line, 3);
        let top = Source::new("c.yml", "hosts: a\n");
        assert_eq!(
            top.parse(TopLevel::Sequence).unwrap_err().message,
            "a playbook is a list of plays"
        );
    }

    #[test]
    fn empty_file_is_an_empty_document() {
        let src = Source::new("e.yml", "# nothing\n");
        assert!(matches!(src.parse(TopLevel::Sequence).unwrap(), Node::Sequence(s) if s.is_empty()));
        assert!(matches!(src.parse(TopLevel::Mapping).unwrap(), Node::Mapping(m) if m.is_empty()));
    }
}
