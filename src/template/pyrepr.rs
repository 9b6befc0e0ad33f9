//! Values printed the way Ansible (Python) prints them: `{{ flag }}` is `True`, a list is
//! `['a', 1]`; `to_json` is `json.dumps`, `to_yaml` is PyYAML's `dump` (sorted keys).

use minijinja::value::ValueKind;
use minijinja::{Error, Output, State, Value};
use std::fmt::Write;

/// The environment's formatter: what `{{ value }}` writes.
/// A value printed into text: as Python's `str`, except that none prints nothing
/// (Ansible 2.19's finalize: `a{{ none }}b` is `ab`; `{{ [none] }}` still shows `None`).
pub fn formatter(out: &mut Output, _state: &mut State, value: &Value) -> Result<(), Error> {
    if value.is_none() {
        return Ok(());
    }
    out.write_str(&py_str(value))?;
    Ok(())
}

/// Python's `str(value)`.
pub fn py_str(value: &Value) -> String {
    match value.kind() {
        ValueKind::String => value.as_str().unwrap_or_default().to_owned(),
        ValueKind::Undefined => String::new(),
        _ => py_repr(value),
    }
}

/// Python's `repr(value)`.
pub fn py_repr(value: &Value) -> String {
    let mut out = String::new();
    write_repr(&mut out, value);
    out
}

fn write_repr(out: &mut String, value: &Value) {
    match value.kind() {
        ValueKind::Undefined | ValueKind::None => out.push_str("None"),
        ValueKind::Bool => out.push_str(if value.is_true() { "True" } else { "False" }),
        ValueKind::Number => out.push_str(&number(value)),
        ValueKind::String => quote_str(out, value.as_str().unwrap_or_default()),
        ValueKind::Seq | ValueKind::Iterable => {
            out.push('[');
            for (i, item) in value.try_iter().into_iter().flatten().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_repr(out, &item);
            }
            out.push(']');
        }
        ValueKind::Map => {
            out.push('{');
            for (i, key) in value.try_iter().into_iter().flatten().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_repr(out, &key);
                out.push_str(": ");
                write_repr(out, &value.get_item(&key).unwrap_or_default());
            }
            out.push('}');
        }
        _ => out.push_str(&value.to_string()),
    }
}

/// Python's quoting of a string: single quotes unless it holds one and no double quote.
fn quote_str(out: &mut String, text: &str) {
    let quote = if text.contains('\'') && !text.contains('"') {
        '"'
    } else {
        '\''
    };
    out.push(quote);
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push(quote);
}

/// A number as Python prints it: `3`, `1.0`, `0.1`, `1e+16`.
pub fn number(value: &Value) -> String {
    if value.is_integer() {
        return value.to_string();
    }
    match f64::try_from(value.clone()) {
        Ok(f) => float(f),
        Err(_) => value.to_string(),
    }
}

pub fn float(f: f64) -> String {
    if f.is_nan() {
        return "nan".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { "inf".into() } else { "-inf".into() };
    }
    let abs = f.abs();
    if abs != 0.0 && !(1e-4..1e16).contains(&abs) {
        // Rust writes `1e16` and `1e-5`; Python `1e+16` and `1e-05`.
        let text = format!("{f:e}");
        let (mantissa, exp) = text.split_once('e').unwrap_or((&text, "0"));
        let (sign, digits) = match exp.strip_prefix('-') {
            Some(d) => ('-', d),
            None => ('+', exp),
        };
        return format!("{mantissa}e{sign}{digits:0>2}");
    }
    if f.fract() == 0.0 {
        format!("{f:.1}")
    } else {
        format!("{f}")
    }
}

/// Python's `json.dumps(value, indent=.., sort_keys=..)` with its default separators
/// (`", "`, `": "`; `","` when indenting) and `ensure_ascii`.
pub fn to_json(value: &Value, indent: Option<usize>, sort_keys: bool) -> Result<String, Error> {
    let mut out = String::new();
    write_json(&mut out, value, indent, sort_keys, 0)?;
    Ok(out)
}

fn write_json(
    out: &mut String,
    value: &Value,
    indent: Option<usize>,
    sort: bool,
    depth: usize,
) -> Result<(), Error> {
    let newline = |out: &mut String, depth: usize| {
        if let Some(width) = indent {
            out.push('\n');
            out.push_str(&" ".repeat(width * depth));
        }
    };
    let separator = if indent.is_some() { "," } else { ", " };
    match value.kind() {
        ValueKind::Undefined => {
            return Err(Error::new(
                minijinja::ErrorKind::UndefinedError,
                "cannot serialize an undefined value to JSON",
            ))
        }
        ValueKind::None => out.push_str("null"),
        ValueKind::Bool => out.push_str(if value.is_true() { "true" } else { "false" }),
        ValueKind::Number => {
            let text = number(value);
            out.push_str(match text.as_str() {
                "nan" => "NaN",
                "inf" => "Infinity",
                "-inf" => "-Infinity",
                other => other,
            });
        }
        ValueKind::String => json_str(out, value.as_str().unwrap_or_default()),
        ValueKind::Seq | ValueKind::Iterable => {
            let items: Vec<Value> = value.try_iter()?.collect();
            if items.is_empty() {
                out.push_str("[]");
                return Ok(());
            }
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(separator);
                }
                newline(out, depth + 1);
                write_json(out, item, indent, sort, depth + 1)?;
            }
            newline(out, depth);
            out.push(']');
        }
        ValueKind::Map => {
            let mut keys: Vec<Value> = value.try_iter()?.collect();
            if keys.is_empty() {
                out.push_str("{}");
                return Ok(());
            }
            if sort {
                keys.sort_by_key(py_str);
            }
            out.push('{');
            for (i, key) in keys.iter().enumerate() {
                if i > 0 {
                    out.push_str(separator);
                }
                newline(out, depth + 1);
                json_str(out, &py_str(key));
                out.push_str(": ");
                write_json(out, &value.get_item(key)?, indent, sort, depth + 1)?;
            }
            newline(out, depth);
            out.push('}');
        }
        _ => json_str(out, &value.to_string()),
    }
    Ok(())
}

fn json_str(out: &mut String, text: &str) {
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 || (c as u32) > 0x7e => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    let _ = write!(out, "\\u{unit:04x}");
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// PyYAML's `dump(value, indent=.., default_flow_style=..)` with sorted keys.
/// `flow_leaves`: collections holding only scalars go on one line (`default_flow_style=None`,
/// Ansible's `to_yaml`); otherwise block style everywhere (`to_nice_yaml`).
pub fn to_yaml(value: &Value, indent: usize, flow_leaves: bool) -> Result<String, Error> {
    let mut out = String::new();
    let yaml = Yaml { indent, flow_leaves };
    if is_collection(value) && !(flow_leaves && is_leaf_collection(value)) {
        yaml.block(&mut out, value, 0)?;
    } else {
        let scalar = yaml.inline(value)?;
        out.push_str(&scalar);
        out.push('\n');
        if !is_collection(value) && !scalar.starts_with(['\'', '"']) {
            out.push_str("...\n");
        }
    }
    Ok(out)
}

struct Yaml {
    indent: usize,
    flow_leaves: bool,
}

fn is_collection(value: &Value) -> bool {
    matches!(
        value.kind(),
        ValueKind::Seq | ValueKind::Iterable | ValueKind::Map
    )
}

fn is_empty_collection(value: &Value) -> bool {
    is_collection(value) && value.len() == Some(0)
}

fn is_leaf_collection(value: &Value) -> bool {
    value.try_iter().map_or(true, |iter| {
        iter.into_iter().all(|item| {
            let item = if value.kind() == ValueKind::Map {
                value.get_item(&item).unwrap_or_default()
            } else {
                item
            };
            !is_collection(&item) || is_empty_collection(&item)
        })
    })
}

fn sorted_keys(value: &Value) -> Result<Vec<Value>, Error> {
    let mut keys: Vec<Value> = value.try_iter()?.collect();
    keys.sort_by_key(py_str);
    Ok(keys)
}

impl Yaml {
    /// A block collection starting on a fresh line at `depth` spaces.
    fn block(&self, out: &mut String, value: &Value, depth: usize) -> Result<(), Error> {
        let pad = " ".repeat(depth);
        if value.kind() == ValueKind::Map {
            for key in sorted_keys(value)? {
                let item = value.get_item(&key)?;
                out.push_str(&pad);
                out.push_str(&scalar(&key));
                out.push(':');
                self.nested(out, &item, depth, false)?;
            }
        } else {
            for item in value.try_iter()? {
                out.push_str(&pad);
                out.push('-');
                self.nested(out, &item, depth, true)?;
            }
        }
        Ok(())
    }

    /// What follows `key:` or `-`.
    fn nested(&self, out: &mut String, item: &Value, depth: usize, in_seq: bool) -> Result<(), Error> {
        let block = is_collection(item)
            && !is_empty_collection(item)
            && !(self.flow_leaves && is_leaf_collection(item));
        if !block {
            out.push(' ');
            out.push_str(&self.inline(item)?);
            out.push('\n');
            return Ok(());
        }
        if in_seq {
            // PyYAML starts the first entry on the dash's line, padded to the indent.
            let mut inner = String::new();
            self.block(&mut inner, item, depth + self.indent)?;
            out.push_str(&" ".repeat(self.indent - 1));
            out.push_str(&inner[depth + self.indent..]);
        } else {
            out.push('\n');
            // A list in a map is not indented ("indentless" sequences).
            let child = if item.kind() == ValueKind::Map {
                depth + self.indent
            } else {
                depth
            };
            self.block(out, item, child)?;
        }
        Ok(())
    }

    /// A scalar, or a collection in flow style (`[a, 1]`, `{a: 1}`).
    fn inline(&self, value: &Value) -> Result<String, Error> {
        Ok(match value.kind() {
            ValueKind::Map => {
                let mut parts = Vec::new();
                for key in sorted_keys(value)? {
                    parts.push(format!(
                        "{}: {}",
                        scalar(&key),
                        self.inline(&value.get_item(&key)?)?
                    ));
                }
                format!("{{{}}}", parts.join(", "))
            }
            ValueKind::Seq | ValueKind::Iterable => {
                let parts: Result<Vec<String>, Error> = value.try_iter()?.map(|v| self.inline(&v)).collect();
                format!("[{}]", parts?.join(", "))
            }
            _ => scalar(value),
        })
    }
}

fn scalar(value: &Value) -> String {
    match value.kind() {
        ValueKind::Undefined | ValueKind::None => "null".into(),
        ValueKind::Bool => if value.is_true() { "true" } else { "false" }.into(),
        ValueKind::Number => number(value),
        _ => yaml_str(&py_str(value)),
    }
}

/// A string plain when YAML reads it back as the same string, else quoted.
fn yaml_str(text: &str) -> String {
    let lower = text.to_ascii_lowercase();
    let looks_typed = matches!(
        lower.as_str(),
        "" | "~" | "null" | "true" | "false" | "yes" | "no" | "on" | "off" | ".nan" | ".inf" | "-.inf"
    ) || text.parse::<f64>().is_ok()
        || text.starts_with("0x");
    let special_start = text.starts_with([
        '-', '?', ':', ',', '[', ']', '{', '}', '#', '&', '*', '!', '|', '>', '\'', '"', '%', '@', '`', ' ',
    ]);
    let plain = !looks_typed
        && !special_start
        && !text.ends_with([' ', ':'])
        && !text.contains(": ")
        && !text.contains(" #")
        && text.chars().all(|c| c >= ' ' && c != '\u{7f}');
    if plain {
        return text.to_owned();
    }
    if text.chars().all(|c| c >= ' ' && c != '\u{7f}') {
        return format!("'{}'", text.replace('\'', "''"));
    }
    let mut out = String::new();
    json_str(&mut out, text);
    out
}
