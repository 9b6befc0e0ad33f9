//! Shared argument handling: serde structs with lenient values, errors that name the key.
//!
//! Ansible users write `yes`, `"8080"`, `0644` and `{{ port }}` where a bool, a number or
//! a mode is meant. The deserializers here accept all of those; a value still holding a
//! template (static check, before rendering) is taken as "not known yet" (`None`).

use super::ArgError;
use crate::error::did_you_mean;
use crate::template::Templater;
use serde::de::{DeserializeOwned, Deserializer, Error as _};
use serde::Deserialize;
use serde_json::{Map, Value};

/// Deserialize a task's arguments into `T` (a `deny_unknown_fields` struct), turning serde's
/// complaints into an `ArgError` that names the key and suggests the right one.
pub fn parse<T: DeserializeOwned>(module: &str, args: &Value) -> Result<T, ArgError> {
    let args = match args {
        Value::Null => Value::Object(Map::new()),
        Value::Object(_) => args.clone(),
        other => {
            return Err(ArgError::new(format!(
                "`{module}` takes a mapping of arguments, not {}",
                kind(other)
            )))
        }
    };
    serde_json::from_value(args.clone()).map_err(|e| to_arg_error(module, &args, &e.to_string()))
}

fn to_arg_error(module: &str, args: &Value, message: &str) -> ArgError {
    // serde_json appends " at line 0 column 0"-style positions only for text input; from a
    // Value there is none, so the message is serde's own.
    let ticked: Vec<&str> = message.split('`').skip(1).step_by(2).collect();
    if message.starts_with("unknown field") {
        let key = ticked.first().copied().unwrap_or("");
        let mut err = ArgError::new(format!("unsupported argument `{key}` for module `{module}`")).key(key);
        if let Some(hint) = did_you_mean(key, ticked.iter().skip(1).copied()) {
            err = err.hint(hint);
        } else if ticked.len() > 1 {
            err = err.hint(format!("`{module}` takes: {}", ticked[1..].join(", ")));
        }
        return err;
    }
    if message.starts_with("missing field") {
        let key = ticked.first().copied().unwrap_or("");
        return ArgError::new(format!("`{module}` requires the argument `{key}`"));
    }
    // A bad value: our deserializers quote the value, so find the key that holds it.
    let mut err = ArgError::new(message.to_owned());
    if let (Some(obj), Some(bad)) = (args.as_object(), ticked.first()) {
        if let Some(key) = obj
            .keys()
            .find(|k| value_text(&obj[k.as_str()]).as_deref() == Some(*bad))
        {
            err = ArgError::new(format!("`{key}`: {message}")).key(key.clone());
        }
    }
    err
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "nothing",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a mapping",
    }
}

fn value_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// Is this value not final yet (holds `{{ }}` or `{% %}`)?
pub fn is_template(v: &str) -> bool {
    Templater::is_template(v)
}

/// `state: instaled` -> an error on `state` with "did you mean `installed`?".
pub fn check_choice(key: &str, value: Option<&str>, choices: &[&str]) -> Result<(), ArgError> {
    match value {
        Some(v) if is_template(v) => Ok(()),
        _ => check_rendered_choice(key, value, choices),
    }
}

/// `check_choice` for a rendered value: a `{{` in it is text like any other.
pub fn check_rendered_choice(key: &str, value: Option<&str>, choices: &[&str]) -> Result<(), ArgError> {
    let Some(value) = value else { return Ok(()) };
    if choices.contains(&value) {
        return Ok(());
    }
    let err = ArgError::new(format!(
        "`{key}` must be one of {}, not `{value}`",
        choices
            .iter()
            .map(|c| format!("`{c}`"))
            .collect::<Vec<_>>()
            .join(", ")
    ))
    .key(key);
    Err(match did_you_mean(value, choices.iter().copied()) {
        Some(hint) => err.hint(hint),
        None => err,
    })
}

/// Ansible's booleans: yes/no, true/false, on/off, 1/0, y/n (any case).
pub fn parse_bool(text: &str) -> Option<bool> {
    match text.trim().to_ascii_lowercase().as_str() {
        "yes" | "true" | "on" | "1" | "y" => Some(true),
        "no" | "false" | "off" | "0" | "n" | "" => Some(false),
        _ => None,
    }
}

/// An optional bool written any way Ansible accepts; a template is `None` (not known yet).
pub fn opt_bool<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    match Value::deserialize(d)? {
        Value::Null => Ok(None),
        Value::Bool(b) => Ok(Some(b)),
        Value::Number(n) if n.as_i64() == Some(0) || n.as_i64() == Some(1) => Ok(n.as_i64().map(|n| n == 1)),
        Value::String(s) if is_template(&s) => Ok(None),
        Value::String(s) => parse_bool(&s)
            .map(Some)
            .ok_or_else(|| D::Error::custom(format!("`{s}` is not a boolean (use yes/no or true/false)"))),
        other => Err(D::Error::custom(format!(
            "expected a boolean, got {}",
            kind(&other)
        ))),
    }
}

/// An optional number (seconds, a port): `8080`, `"8080"`, `1.5`; a template is `None`.
pub fn opt_f64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    match Value::deserialize(d)? {
        Value::Null => Ok(None),
        Value::Number(n) => Ok(n.as_f64()),
        Value::String(s) if is_template(&s) => Ok(None),
        Value::String(s) => s
            .trim()
            .parse::<f64>()
            .ok()
            .filter(|n| n.is_finite() && *n >= 0.0)
            .map(Some)
            .ok_or_else(|| D::Error::custom(format!("`{s}` is not a number"))),
        other => Err(D::Error::custom(format!(
            "expected a number, got {}",
            kind(&other)
        ))),
    }
}

/// An optional whole number (a port).
pub fn opt_u16<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u16>, D::Error> {
    match Value::deserialize(d)? {
        Value::Null => Ok(None),
        Value::Number(n) => n
            .as_u64()
            .and_then(|n| u16::try_from(n).ok())
            .map(Some)
            .ok_or_else(|| D::Error::custom(format!("`{n}` is not a port number"))),
        Value::String(s) if is_template(&s) => Ok(None),
        Value::String(s) => s
            .trim()
            .parse::<u16>()
            .map(Some)
            .map_err(|_| D::Error::custom(format!("`{s}` is not a port number"))),
        other => Err(D::Error::custom(format!(
            "expected a port number, got {}",
            kind(&other)
        ))),
    }
}

/// An optional whole number (a uid, a gid, days): `1001`, `"1001"`; a template is `None`.
pub fn opt_i64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    match Value::deserialize(d)? {
        Value::Null => Ok(None),
        Value::Number(n) => n
            .as_i64()
            .map(Some)
            .ok_or_else(|| D::Error::custom(format!("`{n}` is not a whole number"))),
        Value::String(s) if is_template(&s) => Ok(None),
        Value::String(s) => s
            .trim()
            .parse::<i64>()
            .map(Some)
            .map_err(|_| D::Error::custom(format!("`{s}` is not a whole number"))),
        other => Err(D::Error::custom(format!(
            "expected a whole number, got {}",
            kind(&other)
        ))),
    }
}

/// An optional text value that users also write as a number or bool (`owner: 0`).
pub fn opt_text<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    match Value::deserialize(d)? {
        Value::Null => Ok(None),
        Value::String(s) => Ok(Some(s)),
        Value::Number(n) => Ok(Some(n.to_string())),
        Value::Bool(b) => Ok(Some(b.to_string())),
        other => Err(D::Error::custom(format!(
            "expected a string, got {}",
            kind(&other)
        ))),
    }
}

/// A file mode: `"0644"`, `"u=rw,g=r"`, or a number. A number is read the way Ansible
/// does: YAML 1.1 reads `0644` as octal (420), and 420 is written back as `644`.
/// `copy` and `template`'s `mode: preserve`: the source file's own mode (a `copy` of
/// `content` has no source: its temporary file's 0600, as in Ansible). Any other mode is
/// returned as written.
pub fn preserved_mode(mode: Option<&str>, src: Option<&std::path::Path>) -> Result<Option<String>, String> {
    use std::os::unix::fs::PermissionsExt;
    match (mode, src) {
        (Some(PRESERVE), Some(path)) => std::fs::metadata(path)
            .map(|m| Some(format!("{:04o}", m.permissions().mode() & 0o7777)))
            .map_err(|e| format!("cannot read the mode of {}: {e}", path.display())),
        (Some(PRESERVE), None) => Ok(Some("0600".into())),
        (mode, _) => Ok(mode.map(str::to_owned)),
    }
}

/// The `mode` that keeps the source file's.
pub const PRESERVE: &str = "preserve";

pub fn opt_mode<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    match Value::deserialize(d)? {
        Value::Null => Ok(None),
        Value::Number(n) => n
            .as_u64()
            .filter(|n| *n <= 0o7777)
            .map(|n| Some(format!("{n:04o}")))
            .ok_or_else(|| D::Error::custom(format!("`{n}` is not a file mode"))),
        Value::String(s) if is_template(&s) => Ok(Some(s)),
        Value::String(s) if s.trim() == PRESERVE => Ok(Some(PRESERVE.into())),
        Value::String(s) => {
            let s = s.trim().to_owned();
            let octal = !s.is_empty() && s.len() <= 5 && s.bytes().all(|b| (b'0'..=b'7').contains(&b));
            let symbolic = !s.is_empty()
                && s.split(',').all(|part| {
                    let rest = part.trim_start_matches(['u', 'g', 'o', 'a']);
                    rest.starts_with(['+', '-', '=']) && rest.bytes().all(|b| b"+-=rwxXstugo".contains(&b))
                });
            if octal || symbolic {
                Ok(Some(s))
            } else {
                Err(D::Error::custom(format!(
                    "`{s}` is not a file mode (write \"0644\" or \"u=rw,g=r,o=r\")"
                )))
            }
        }
        other => Err(D::Error::custom(format!(
            "expected a file mode, got {}",
            kind(&other)
        ))),
    }
}

/// Package names and the like: a list, or one string split on commas.
pub fn opt_list<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<String>>, D::Error> {
    let split = |s: &str| -> Vec<String> {
        s.split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect()
    };
    match Value::deserialize(d)? {
        Value::Null => Ok(None),
        Value::String(s) if is_template(&s) => Ok(Some(vec![s])),
        Value::String(s) => Ok(Some(split(&s))),
        Value::Array(items) => items
            .into_iter()
            .map(|item| match item {
                Value::String(s) => Ok(s.trim().to_owned()),
                Value::Number(n) => Ok(n.to_string()),
                other => Err(D::Error::custom(format!(
                    "expected a list of names, got {}",
                    kind(&other)
                ))),
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some),
        other => Err(D::Error::custom(format!(
            "expected a name or a list of names, got {}",
            kind(&other)
        ))),
    }
}

/// Ansible's free-form `shell: make install chdir=/src creates=/usr/bin/app`: options written
/// as `key=value` words inside `_raw_params` move out into their own keys (the parser may
/// have done it already; then there is nothing left to move).
pub fn lift_free_form_options(args: &Value, keys: &[&str]) -> Value {
    let Some(Value::String(raw)) = args.get("_raw_params") else {
        return args.clone();
    };
    let re = regex::Regex::new(r#"(?:^|\s)([a-z_]+)=("[^"]*"|'[^']*'|\S+)"#).expect("valid regex");
    let mut lifted = args.as_object().cloned().unwrap_or_default();
    let mut rest = raw.clone();
    for cap in re.captures_iter(raw).collect::<Vec<_>>().into_iter().rev() {
        let (key, value) = (&cap[1], &cap[2]);
        if !keys.contains(&key) || lifted.contains_key(key) {
            continue;
        }
        let value = value.trim_matches(|c| c == '"' || c == '\'');
        lifted.insert(key.to_owned(), Value::String(value.to_owned()));
        let whole = cap.get(0).expect("match");
        rest.replace_range(whole.range(), "");
    }
    lifted.insert("_raw_params".into(), Value::String(rest.trim().to_owned()));
    Value::Object(lifted)
}

/// How result lines looked before they carried a nonce; tests write their samples with it.
#[cfg(test)]
pub const MARK: &str = "__zdd__ ";

/// A marker for one command's result lines (`{mark}key=value`): `__zdd_<16 hex digits>__ `,
/// fresh for every command. The command's own output (a file it prints, a package's
/// post-install script, a symlink's target holding a newline) cannot guess it, so it can
/// never pass for a result line of zdd's.
pub fn fresh_mark() -> String {
    format!("__zdd_{:016x}__ ", nonce())
}

/// 64 random bits from the kernel; should /dev/urandom be unreadable, the std hasher's
/// random keys mixed with the time (still unknown to the target).
pub fn nonce() -> u64 {
    use std::io::Read;
    let mut bytes = [0u8; 8];
    if std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .is_ok()
    {
        return u64::from_ne_bytes(bytes);
    }
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos(),
    );
    h.finish()
}

/// The `key=value` marks printed after `mark`, and the output without them. A mark counts
/// wherever it starts in a line (output without a trailing newline may come before it).
pub fn split_marks(stdout: &str, mark: &str) -> (indexmap::IndexMap<String, String>, String) {
    let mut marks = indexmap::IndexMap::new();
    let mut rest = String::new();
    for (key, value) in mark_lines(stdout, mark, &mut rest) {
        marks.insert(key.to_owned(), value.to_owned());
    }
    (marks, rest)
}

/// Every mark in order (a key may repeat, as `addr` does in facts); the rest goes to `rest`.
pub fn mark_lines<'a>(stdout: &'a str, mark: &str, rest: &mut String) -> Vec<(&'a str, &'a str)> {
    let mut found = Vec::new();
    for line in stdout.split_inclusive('\n') {
        match line.find(mark) {
            Some(at) => {
                rest.push_str(&line[..at]);
                let text = line[at + mark.len()..].trim_end_matches('\n');
                found.push(text.split_once('=').unwrap_or((text, "")));
            }
            None => rest.push_str(line),
        }
    }
    found
}

/// Ansible trims the trailing newline(s) of `stdout`/`stderr`.
pub fn trim_end_newlines(s: &str) -> String {
    s.trim_end_matches(['\n', '\r']).to_owned()
}

pub fn lines(s: &str) -> Value {
    Value::Array(s.lines().map(|l| Value::String(l.to_owned())).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Demo {
        #[allow(dead_code)]
        name: String,
        #[serde(default, deserialize_with = "opt_bool")]
        enabled: Option<bool>,
        #[serde(default, deserialize_with = "opt_mode")]
        mode: Option<String>,
        #[serde(default, deserialize_with = "opt_u16")]
        port: Option<u16>,
    }

    #[test]
    fn unknown_key_names_the_key_and_suggests() {
        let err = parse::<Demo>("demo", &json!({"name": "x", "enabeld": true})).unwrap_err();
        assert_eq!(err.key.as_deref(), Some("enabeld"));
        assert_eq!(err.hint.as_deref(), Some("did you mean `enabled`?"));
    }

    #[test]
    fn missing_and_bad_values_are_reported() {
        let err = parse::<Demo>("demo", &json!({})).unwrap_err();
        assert!(err.message.contains("requires the argument `name`"), "{err:?}");
        let err = parse::<Demo>("demo", &json!({"name": "x", "enabled": "maybe"})).unwrap_err();
        assert_eq!(err.key.as_deref(), Some("enabled"));
        let err = parse::<Demo>("demo", &json!({"name": "x", "port": "http"})).unwrap_err();
        assert_eq!(err.key.as_deref(), Some("port"));
    }

    #[test]
    fn lenient_values() {
        let d: Demo = parse(
            "demo",
            &json!({"name": "x", "enabled": "yes", "mode": 420, "port": "8080"}),
        )
        .unwrap();
        assert_eq!(
            (d.enabled, d.mode.as_deref(), d.port),
            (Some(true), Some("0644"), Some(8080))
        );
        let d: Demo = parse(
            "demo",
            &json!({"name": "x", "enabled": "{{ on }}", "port": "{{ p }}", "mode": "u=rw,g=r"}),
        )
        .unwrap();
        assert_eq!(
            (d.enabled, d.port, d.mode.as_deref()),
            (None, None, Some("u=rw,g=r"))
        );
        assert!(parse::<Demo>("demo", &json!({"name": "x", "mode": "rw"})).is_err());
    }

    #[test]
    fn choices_suggest_the_close_one() {
        let err = check_choice("state", Some("instaled"), &["installed", "absent"]).unwrap_err();
        assert_eq!(err.key.as_deref(), Some("state"));
        assert_eq!(err.hint.as_deref(), Some("did you mean `installed`?"));
        assert!(check_choice("state", Some("{{ s }}"), &["absent"]).is_ok());
    }

    #[test]
    fn free_form_options_are_lifted() {
        let keys = ["chdir", "creates"];
        let v = lift_free_form_options(
            &json!({"_raw_params": "make  install chdir=/src creates='/usr/bin/app' X=1"}),
            &keys,
        );
        assert_eq!(
            v,
            json!({"_raw_params": "make  install X=1", "chdir": "/src", "creates": "/usr/bin/app"})
        );
        let plain = json!({"_raw_params": "echo hi"});
        assert_eq!(lift_free_form_options(&plain, &keys), plain);
    }

    #[test]
    fn marks_are_split_from_output() {
        let (marks, rest) = split_marks("hello\n__zdd__ changed=1\nworld\n", MARK);
        assert_eq!(marks.get("changed").map(String::as_str), Some("1"));
        assert_eq!(rest, "hello\nworld\n");
    }

    #[test]
    fn only_this_commands_mark_counts() {
        let mark = fresh_mark();
        assert!(
            mark.starts_with("__zdd_") && mark.ends_with("__ ") && mark.len() == 25,
            "{mark}"
        );
        assert_ne!(mark, fresh_mark());
        let out =
            format!("__zdd__ changed=0\n__zdd_0000000000000000__ changed=0\nno newline{mark}changed=1\n");
        let (marks, rest) = split_marks(&out, &mark);
        assert_eq!(marks.get("changed").map(String::as_str), Some("1"));
        assert_eq!(
            rest,
            "__zdd__ changed=0\n__zdd_0000000000000000__ changed=0\nno newline"
        );
    }
}
