//! `setup`'s local facts (`ansible_local`): the `*.fact` files of `fact_path`
//! (`/etc/ansible/facts.d` by default), each read, or run when executable, on the target
//! and parsed here as Ansible parses them: JSON first, else INI (Python's `configparser`
//! with its defaults: `[DEFAULT]` values in every section, lower-cased keys, `=` or `:`,
//! indented continuation lines, `%(name)s` interpolation). A file that is neither becomes
//! an error text under its name, with a warning, and the other files still count.

use base64::Engine;
use indexmap::IndexMap;
use serde_json::{Map, Value};

/// One `*.fact` file as the script reported it.
#[derive(Debug, Clone, PartialEq)]
pub enum FactFile {
    Read {
        path: String,
        text: Vec<u8>,
    },
    Ran {
        path: String,
        rc: i32,
        out: Vec<u8>,
        err: Vec<u8>,
    },
}

impl FactFile {
    /// A `local_file=` or `local_exec=` mark's value (base64 fields separated by spaces).
    pub fn from_mark(kind: &str, value: &str) -> Option<FactFile> {
        let decode = |s: Option<&str>| {
            base64::engine::general_purpose::STANDARD
                .decode(s.unwrap_or(""))
                .unwrap_or_default()
        };
        let mut fields = value.split(' ');
        let path = String::from_utf8_lossy(&decode(fields.next())).into_owned();
        if path.is_empty() {
            return None;
        }
        match kind {
            "local_file" => Some(FactFile::Read {
                path,
                text: decode(fields.next()),
            }),
            "local_exec" => Some(FactFile::Ran {
                path,
                rc: fields.next()?.parse().ok()?,
                out: decode(fields.next()),
                err: decode(fields.next()),
            }),
            _ => None,
        }
    }

    fn path(&self) -> &str {
        match self {
            FactFile::Read { path, .. } | FactFile::Ran { path, .. } => path,
        }
    }
}

/// `ansible_local` from the fact files, and the warnings Ansible would print.
pub fn local_facts(mut files: Vec<FactFile>) -> (Map<String, Value>, Vec<String>) {
    // Ansible goes through them in sorted order: later names win nothing, but warnings
    // come out in that order.
    files.sort_by(|a, b| a.path().cmp(b.path()));
    let mut local = Map::new();
    let mut warnings = Vec::new();
    for file in files {
        let path = file.path().to_owned();
        let base = path.rsplit('/').next().unwrap_or(&path).replace(".fact", "");
        let text = match file {
            FactFile::Read { text, .. } => text,
            FactFile::Ran { rc, out, err, .. } => {
                if rc != 0 {
                    let err = String::from_utf8_lossy(&err);
                    let failed = format!("Failure executing fact script ({path}), rc: {rc}, err: {err}");
                    warnings.push(failed.clone());
                    local.insert(base, Value::String(failed));
                    continue;
                }
                out
            }
        };
        let Ok(text) = String::from_utf8(text) else {
            let failed = format!("error loading fact - output of running \"{path}\" was not utf-8");
            warnings.push(failed.clone());
            local.insert(base, Value::String(failed));
            continue;
        };
        let fact = match serde_json::from_str::<Value>(&text) {
            Ok(value) => value,
            Err(_) => match parse_ini(&text) {
                Ok(sections) => Value::Object(sections),
                Err(IniError::Syntax) => {
                    let failed = format!("error loading facts as JSON or ini - please check content: {path}");
                    warnings.push(failed.clone());
                    Value::String(failed)
                }
                Err(IniError::Interpolation(why)) => {
                    let failed = format!("error loading facts as ini - please check content: {path} ({why})");
                    warnings.push(failed.clone());
                    Value::String(failed)
                }
            },
        };
        local.insert(base, fact);
    }
    (local, warnings)
}

#[derive(Debug, PartialEq)]
pub enum IniError {
    /// No section header, a line without `=`/`:`, a duplicate section or key.
    Syntax,
    /// A `%` that is not `%%` or `%(name)s` naming a known key.
    Interpolation(String),
}

const DEFAULT_SECTION: &str = "DEFAULT";

/// Sections to `{key: value}` as `configparser` reads them with its default settings.
pub fn parse_ini(text: &str) -> Result<Map<String, Value>, IniError> {
    // section -> key -> (value lines)
    let mut sections: IndexMap<String, IndexMap<String, Vec<String>>> = IndexMap::new();
    let mut defaults: IndexMap<String, Vec<String>> = IndexMap::new();
    let mut current: Option<String> = None;
    // The key being read and its indentation, for continuation lines.
    let mut key: Option<(String, usize)> = None;
    for line in text.lines() {
        let stripped = line.trim();
        let indent = line.len() - line.trim_start().len();
        if stripped.starts_with('#') || stripped.starts_with(';') {
            continue;
        }
        if stripped.is_empty() {
            // An empty line inside a value is kept; trailing ones are dropped at the end.
            if let Some((k, _)) = &key {
                if let Some(lines) = section_of(&mut sections, &mut defaults, current.as_deref()).get_mut(k) {
                    lines.push(String::new());
                }
            }
            continue;
        }
        if let (Some((k, key_indent)), Some(_)) = (&key, &current) {
            if indent > *key_indent {
                let lines = section_of(&mut sections, &mut defaults, current.as_deref());
                if let Some(v) = lines.get_mut(k) {
                    v.push(stripped.to_owned());
                    continue;
                }
            }
        }
        if let Some(name) = stripped.strip_prefix('[').and_then(|s| s.strip_suffix(']')) {
            if name.is_empty() {
                return Err(IniError::Syntax);
            }
            if name != DEFAULT_SECTION {
                if sections.contains_key(name) {
                    return Err(IniError::Syntax);
                }
                sections.insert(name.to_owned(), IndexMap::new());
            }
            current = Some(name.to_owned());
            key = None;
            continue;
        }
        if current.is_none() {
            return Err(IniError::Syntax);
        }
        let at = stripped.find(['=', ':']).ok_or(IniError::Syntax)?;
        let name = stripped[..at].trim().to_lowercase();
        if name.is_empty() {
            return Err(IniError::Syntax);
        }
        let value = stripped[at + 1..].trim().to_owned();
        let options = section_of(&mut sections, &mut defaults, current.as_deref());
        if options.contains_key(&name) {
            return Err(IniError::Syntax);
        }
        options.insert(name.clone(), vec![value]);
        key = Some((name, indent));
    }
    let joined = |lines: &Vec<String>| {
        let mut lines = lines.clone();
        while lines.last().is_some_and(String::is_empty) {
            lines.pop();
        }
        lines.join("\n")
    };
    let defaults: IndexMap<String, String> = defaults.iter().map(|(k, v)| (k.clone(), joined(v))).collect();
    let mut out = Map::new();
    for (name, options) in &sections {
        let mut raw: IndexMap<String, String> = options.iter().map(|(k, v)| (k.clone(), joined(v))).collect();
        for (k, v) in &defaults {
            raw.entry(k.clone()).or_insert_with(|| v.clone());
        }
        let mut section = Map::new();
        for (k, v) in &raw {
            section.insert(k.clone(), Value::String(interpolate(v, &raw, 0)?));
        }
        out.insert(name.clone(), Value::Object(section));
    }
    Ok(out)
}

fn section_of<'a>(
    sections: &'a mut IndexMap<String, IndexMap<String, Vec<String>>>,
    defaults: &'a mut IndexMap<String, Vec<String>>,
    current: Option<&str>,
) -> &'a mut IndexMap<String, Vec<String>> {
    match current {
        Some(name) if name != DEFAULT_SECTION => sections.entry(name.to_owned()).or_default(),
        _ => defaults,
    }
}

/// `configparser`'s basic interpolation: `%%` is `%`, `%(name)s` is another key's value.
fn interpolate(value: &str, options: &IndexMap<String, String>, depth: usize) -> Result<String, IniError> {
    if depth > 10 {
        return Err(IniError::Interpolation(format!("too deep: {value}")));
    }
    let mut out = String::new();
    let mut rest = value;
    while let Some(at) = rest.find('%') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        if let Some(tail) = after.strip_prefix('%') {
            out.push('%');
            rest = tail;
        } else if let Some(inner) = after.strip_prefix('(') {
            let end = inner
                .find(")s")
                .ok_or_else(|| IniError::Interpolation(format!("bad interpolation in '{value}'")))?;
            let name = inner[..end].to_lowercase();
            let referenced = options
                .get(&name)
                .ok_or_else(|| IniError::Interpolation(format!("no option '{name}' for '{value}'")))?;
            out.push_str(&interpolate(referenced, options, depth + 1)?);
            rest = &inner[end + 2..];
        } else {
            return Err(IniError::Interpolation(format!(
                "'%' must be followed by '%' or '(', found: '{}'",
                &rest[at..]
            )));
        }
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn read(path: &str, text: &str) -> FactFile {
        FactFile::Read {
            path: path.into(),
            text: text.as_bytes().to_vec(),
        }
    }

    #[test]
    fn ini_as_configparser_reads_it() {
        let text = "# comment\n[DEFAULT]\nd = 1\n[general]\nCluster = alfa\nrev: 3\nnote = one\n  two\n\n[other]\nk=%(d)s%%\n";
        assert_eq!(
            Value::Object(parse_ini(text).unwrap()),
            json!({"general": {"cluster": "alfa", "rev": "3", "note": "one\ntwo", "d": "1"},
                   "other": {"k": "1%", "d": "1"}})
        );
        assert_eq!(parse_ini("k=v\n"), Err(IniError::Syntax));
        assert_eq!(parse_ini("[a]\nno delimiter\n"), Err(IniError::Syntax));
        assert_eq!(parse_ini("[a]\n[a]\n"), Err(IniError::Syntax));
        assert_eq!(parse_ini("[a]\nk=1\nK=2\n"), Err(IniError::Syntax));
        assert!(matches!(
            parse_ini("[a]\nk=5%\n"),
            Err(IniError::Interpolation(_))
        ));
        assert_eq!(parse_ini("").unwrap(), Map::new());
    }

    #[test]
    fn json_then_ini_then_an_error_under_the_files_name() {
        let (local, warnings) = local_facts(vec![
            read("/f/deploy.fact", r#"{"cluster": "alfa"}"#),
            read("/f/app.fact", "[app]\nrevision=9\n"),
            read("/f/bad.fact", "garbage"),
            FactFile::Ran {
                path: "/f/run.fact".into(),
                rc: 0,
                out: b"{\"x\": 2}\n".to_vec(),
                err: vec![],
            },
            FactFile::Ran {
                path: "/f/broken.fact".into(),
                rc: 1,
                out: vec![],
                err: b"boom\n".to_vec(),
            },
        ]);
        assert_eq!(
            Value::Object(local),
            json!({
                "app": {"app": {"revision": "9"}},
                "bad": "error loading facts as JSON or ini - please check content: /f/bad.fact",
                "broken": "Failure executing fact script (/f/broken.fact), rc: 1, err: boom\n",
                "deploy": {"cluster": "alfa"},
                "run": {"x": 2},
            })
        );
        assert_eq!(warnings.len(), 2);
    }

    #[test]
    fn marks_decode() {
        let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
        assert_eq!(
            FactFile::from_mark("local_file", &format!("{} {}", b64("/x/a.fact"), b64("{}"))),
            Some(read("/x/a.fact", "{}"))
        );
        assert_eq!(
            FactFile::from_mark("local_file", &b64("/x/empty.fact")),
            Some(read("/x/empty.fact", ""))
        );
        assert_eq!(
            FactFile::from_mark("local_exec", &format!("{} 3  {}", b64("/x/e.fact"), b64("no"))),
            Some(FactFile::Ran {
                path: "/x/e.fact".into(),
                rc: 3,
                out: vec![],
                err: b"no".to_vec()
            })
        );
    }
}
