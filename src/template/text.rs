//! Ansible's string, regex, path and hash filters, with Python's semantics.

use super::filters::{defined, invalid};
use super::pyrepr::py_str;
use minijinja::value::{Kwargs, Rest};
use minijinja::{Environment, Error, State, Value};
use regex::{Regex, RegexBuilder};

pub fn register(env: &mut Environment<'static>) {
    env.add_filter("regex_replace", regex_replace);
    env.add_filter("regex_search", regex_search);
    env.add_filter("regex_findall", regex_findall);
    env.add_filter("regex_escape", regex_escape);
    env.add_filter("b64encode", b64encode);
    env.add_filter("b64decode", b64decode);
    env.add_filter("basename", basename);
    env.add_filter("dirname", dirname);
    env.add_filter("expanduser", expanduser);
    env.add_filter("splitext", splitext);
    env.add_filter("quote", quote);
    env.add_filter("hash", hash);
    env.add_filter("checksum", |value: String| digest("sha1", value.as_bytes()));
}

/// A Python regex as Rust's, with Ansible's `ignorecase`/`multiline` flags.
pub fn regex(pattern: &str, kwargs: &Kwargs) -> Result<Regex, Error> {
    let ignorecase = kwargs.get::<Option<bool>>("ignorecase")?.unwrap_or(false);
    let multiline = kwargs.get::<Option<bool>>("multiline")?.unwrap_or(false);
    RegexBuilder::new(pattern)
        .case_insensitive(ignorecase)
        .multi_line(multiline)
        .build()
        .map_err(|err| invalid(format!("invalid regular expression `{pattern}`: {err}")))
}

/// Python's replacement syntax (`\1`, `\g<1>`, `\g<name>`) as Rust's (`${1}`).
fn python_replacement(replacement: &str) -> String {
    let mut out = String::new();
    let mut chars = replacement.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '$' => out.push_str("$$"),
            '\\' => match chars.peek().copied() {
                Some(d) if d.is_ascii_digit() => {
                    let mut group = String::new();
                    while let Some(d) = chars.peek().copied().filter(char::is_ascii_digit) {
                        group.push(d);
                        chars.next();
                    }
                    out.push_str(&format!("${{{group}}}"));
                }
                Some('g') => {
                    chars.next();
                    let name: String = chars
                        .by_ref()
                        .skip_while(|c| *c == '<')
                        .take_while(|c| *c != '>')
                        .collect();
                    out.push_str(&format!("${{{name}}}"));
                }
                Some('n') => {
                    chars.next();
                    out.push('\n');
                }
                Some('t') => {
                    chars.next();
                    out.push('\t');
                }
                Some('\\') => {
                    chars.next();
                    out.push('\\');
                }
                _ => out.push('\\'),
            },
            c => out.push(c),
        }
    }
    out
}

fn regex_replace(
    value: String,
    pattern: String,
    replacement: Option<String>,
    kwargs: Kwargs,
) -> Result<String, Error> {
    let re = regex(&pattern, &kwargs)?;
    let count = kwargs.get::<Option<usize>>("count")?.unwrap_or(0);
    kwargs.assert_all_used()?;
    let replacement = python_replacement(&replacement.unwrap_or_default());
    Ok(re.replacen(&value, count, replacement.as_str()).into_owned())
}

/// The match, or with group arguments (`'\\1'`, `'\\g<name>'`) the list of those groups;
/// none when nothing matches.
fn regex_search(
    value: String,
    pattern: String,
    groups: Rest<String>,
    kwargs: Kwargs,
) -> Result<Value, Error> {
    let re = regex(&pattern, &kwargs)?;
    kwargs.assert_all_used()?;
    let Some(caps) = re.captures(&value) else {
        return Ok(Value::from(()));
    };
    if groups.is_empty() {
        return Ok(Value::from(caps.get(0).map_or("", |m| m.as_str())));
    }
    let mut out = Vec::new();
    for group in groups.iter() {
        let name = group
            .trim_start_matches('\\')
            .trim_start_matches("g<")
            .trim_end_matches('>');
        let found = match name.parse::<usize>() {
            Ok(i) => caps.get(i),
            Err(_) => caps.name(name),
        };
        out.push(found.map_or(Value::from(()), |m| Value::from(m.as_str())));
    }
    Ok(Value::from(out))
}

/// Python's `re.findall`: the matches, or the group (a list of groups when several).
fn regex_findall(value: String, pattern: String, kwargs: Kwargs) -> Result<Value, Error> {
    let re = regex(&pattern, &kwargs)?;
    kwargs.assert_all_used()?;
    let groups = re.captures_len() - 1;
    let mut out = Vec::new();
    for caps in re.captures_iter(&value) {
        let text = |i: usize| Value::from(caps.get(i).map_or("", |m| m.as_str()));
        out.push(match groups {
            0 => text(0),
            1 => text(1),
            n => Value::from((1..=n).map(text).collect::<Vec<_>>()),
        });
    }
    Ok(Value::from(out))
}

/// Python 3.7's `re.escape`.
fn regex_escape(value: String) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        if "()[]{}?*+-|^$\\.&~# \t\n\r\u{b}\u{c}".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

fn b64encode(value: String) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(value.as_bytes())
}

fn b64decode(value: String) -> Result<String, Error> {
    use base64::Engine;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(value.trim())
        .map_err(|err| invalid(format!("b64decode: {err}")))?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// Python's `os.path.basename`: what follows the last `/` (empty after a trailing one).
fn basename(value: String) -> String {
    value.rsplit('/').next().unwrap_or_default().to_owned()
}

/// Python's `os.path.dirname`: before the last `/`, trailing slashes trimmed unless root.
fn dirname(value: String) -> String {
    match value.rfind('/') {
        None => String::new(),
        Some(i) => {
            let head = &value[..=i];
            let trimmed = head.trim_end_matches('/');
            if trimmed.is_empty() {
                head.to_owned()
            } else {
                trimmed.to_owned()
            }
        }
    }
}

fn expanduser(value: String) -> String {
    let home = std::env::var("HOME").unwrap_or_default();
    if value == "~" {
        home
    } else if let Some(rest) = value.strip_prefix("~/") {
        format!("{}/{rest}", home.trim_end_matches('/'))
    } else {
        value
    }
}

/// Python's `os.path.splitext`: `[root, ext]`, a leading dot is not an extension.
fn splitext(value: String) -> Value {
    let name_start = value.rfind('/').map_or(0, |i| i + 1);
    let name = &value[name_start..];
    let split = name
        .rfind('.')
        .filter(|&dot| name[..dot].chars().any(|c| c != '.'))
        .map(|dot| name_start + dot);
    let (root, ext) = match split {
        Some(i) => (&value[..i], &value[i..]),
        None => (value.as_str(), ""),
    };
    Value::from(vec![Value::from(root), Value::from(ext)])
}

fn quote(state: &State, value: &Value) -> Result<String, Error> {
    defined(state, value)?;
    Ok(shell_quote(&py_str(value)))
}

/// Python's `shlex.quote`.
pub fn shell_quote(text: &str) -> String {
    if text.is_empty() {
        return "''".into();
    }
    if text
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "@%+=:,./-_".contains(c))
    {
        return text.to_owned();
    }
    format!("'{}'", text.replace('\'', "'\"'\"'"))
}

pub fn digest(algorithm: &str, data: &[u8]) -> Result<String, Error> {
    use sha2::Digest;
    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }
    Ok(match algorithm {
        "sha1" => hex(&sha1::Sha1::digest(data)),
        "md5" => hex(&md5::Md5::digest(data)),
        "sha224" => hex(&sha2::Sha224::digest(data)),
        "sha256" => hex(&sha2::Sha256::digest(data)),
        "sha384" => hex(&sha2::Sha384::digest(data)),
        "sha512" => hex(&sha2::Sha512::digest(data)),
        other => return Err(invalid(format!("hash: unsupported algorithm `{other}`"))),
    })
}

fn hash(state: &State, value: &Value, algorithm: Option<String>) -> Result<String, Error> {
    defined(state, value)?;
    digest(algorithm.as_deref().unwrap_or("sha1"), py_str(value).as_bytes())
}
