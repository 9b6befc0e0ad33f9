//! Ansible's tests (`x is failed`, `x is match(..)`, `x is version(..)`) beside minijinja's
//! (defined, undefined, none, string, number, mapping, sequence, iterable, boolean, in).

use super::filters::{ansible_bool, version_matches};
use super::text::regex;
use minijinja::value::{Kwargs, StringInput, ValueKind};
use minijinja::{Environment, Error, ErrorKind, State, Value};
use std::path::Path;

pub fn register(env: &mut Environment<'static>) {
    env.add_test("failed", failed);
    env.add_test("failure", failed);
    env.add_test("succeeded", succeeded);
    env.add_test("success", succeeded);
    env.add_test("successful", succeeded);
    env.add_test("changed", changed);
    env.add_test("change", changed);
    env.add_test("skipped", skipped);
    env.add_test("skip", skipped);
    env.add_test("unreachable", unreachable);
    env.add_test("reachable", |state: &State, value: &Value| {
        unreachable(state, value).map(|u| !u)
    });
    env.add_test("match", |value: String, pattern: String, kwargs: Kwargs| {
        regex_test(value, pattern, kwargs, "match")
    });
    env.add_test("search", |value: String, pattern: String, kwargs: Kwargs| {
        regex_test(value, pattern, kwargs, "search")
    });
    env.add_test("regex", regex_kind_test);
    env.add_test("version", version);
    env.add_test("version_compare", version);
    env.add_test("contains", |state: &State, seq: &Value, item: Value| {
        contains(state, seq, &item)
    });
    env.add_test("subset", |state: &State, a: &Value, b: &Value| {
        subset(state, a, b)
    });
    env.add_test("superset", |state: &State, a: &Value, b: &Value| {
        subset(state, b, a)
    });
    env.add_test("issubset", |state: &State, a: &Value, b: &Value| {
        subset(state, a, b)
    });
    env.add_test("issuperset", |state: &State, a: &Value, b: &Value| {
        subset(state, b, a)
    });
    env.add_test("truthy", |value: &Value, kwargs: Kwargs| truthy(value, kwargs));
    env.add_test("falsy", |value: &Value, kwargs: Kwargs| {
        truthy(value, kwargs).map(|t| !t)
    });
    env.add_test("any", |value: &Value| -> Result<bool, Error> {
        Ok(value.try_iter()?.any(|v| v.is_true()))
    });
    env.add_test("all", |value: &Value| -> Result<bool, Error> {
        Ok(value.try_iter()?.all(|v| v.is_true()))
    });
    env.add_test("nan", |value: &Value| {
        f64::try_from(value.clone()).is_ok_and(f64::is_nan)
    });
    env.add_test("isnan", |value: &Value| {
        f64::try_from(value.clone()).is_ok_and(f64::is_nan)
    });
    // Paths on the controller, as Python's os.path functions.
    let path = |test: fn(&Path) -> bool| move |value: String| test(Path::new(&value));
    for (names, test) in [
        (&["file", "is_file"][..], path(|p| p.is_file())),
        (&["directory", "is_dir"], path(|p| p.is_dir())),
        (&["link", "is_link"], path(|p| p.is_symlink())),
        (&["exists"], path(|p| p.exists())),
        (&["link_exists"], path(|p| p.symlink_metadata().is_ok())),
        (&["abs", "is_abs"], path(|p| p.is_absolute())),
        (&["mount", "is_mount"], path(is_mount)),
    ] {
        for name in names {
            env.add_test(*name, test);
        }
    }
    env.add_test("same_file", same_file);
    env.add_test("is_same_file", same_file);
    env.add_test("vaulted_file", |value: String| -> Result<bool, Error> {
        let text = std::fs::read(&value).map_err(|e| {
            Error::new(
                ErrorKind::InvalidOperation,
                format!("Cannot test if the file '{value}' is a vault: {e}"),
            )
        })?;
        Ok(text.starts_with(b"$ANSIBLE_VAULT;"))
    });
    env.add_test(
        "timedout",
        |state: &State, value: &Value| -> Result<bool, Error> {
            Ok(result_field(state, value, "timedout", "timedout")?
                .is_some_and(|t| t.is_true() && t.get_attr("period").is_ok_and(|p| p.is_true())))
        },
    );
    env.add_test(
        "finished",
        |state: &State, value: &Value| -> Result<bool, Error> {
            Ok(result_field(state, value, "finished", "finished")?.is_none_or(|f| f.is_true()))
        },
    );
    env.add_test("started", |state: &State, value: &Value| -> Result<bool, Error> {
        Ok(result_field(state, value, "started", "started")?.is_none_or(|f| f.is_true()))
    });
    env.add_test("uri", |value: String, schemes: Option<Vec<String>>| {
        uri_scheme(&value, schemes.as_deref()).is_some()
    });
    env.add_test("url", |value: String, schemes: Option<Vec<String>>| {
        uri_scheme(&value, schemes.as_deref()).is_some_and(|scheme| {
            scheme == "file"
                || value.split_once(':').is_some_and(|(_, rest)| {
                    rest.starts_with("//") && rest.len() > 2 && !rest[2..].starts_with('/')
                })
        })
    });
    env.add_test("urn", |value: String| {
        uri_scheme(&value, Some(&["urn".to_owned()])).is_some()
    });
    env.add_test("sequence", |value: &Value| {
        matches!(
            value.kind(),
            ValueKind::Seq | ValueKind::String | ValueKind::Map | ValueKind::Bytes
        )
    });
}

/// A registered task result; Ansible's result tests accept nothing else.
fn result_field(state: &State, value: &Value, test: &str, field: &str) -> Result<Option<Value>, Error> {
    if value.is_undefined() {
        StringInput::new(state, value)?;
    }
    if value.kind() != ValueKind::Map {
        return Err(Error::new(
            ErrorKind::InvalidOperation,
            format!(
                "the `{test}` test expects a registered task result (a dictionary), got {}",
                value.kind()
            ),
        ));
    }
    let field = value.get_attr(field)?;
    Ok((!field.is_undefined()).then_some(field))
}

/// Failed: its `failed` key, or when it has none a non-zero `rc`.
fn failed(state: &State, value: &Value) -> Result<bool, Error> {
    if let Some(failed) = result_field(state, value, "failed", "failed")? {
        return Ok(ansible_bool(&failed));
    }
    Ok(match result_field(state, value, "failed", "rc")? {
        Some(rc) => i64::try_from(rc).is_ok_and(|rc| rc != 0),
        None => false,
    })
}

fn succeeded(state: &State, value: &Value) -> Result<bool, Error> {
    failed(state, value).map(|failed| !failed)
}

/// Changed: its `changed` key, or for a loop's result whether any item changed.
fn changed(state: &State, value: &Value) -> Result<bool, Error> {
    if let Some(changed) = result_field(state, value, "changed", "changed")? {
        return Ok(ansible_bool(&changed));
    }
    if let Some(results) = result_field(state, value, "changed", "results")? {
        for item in results.try_iter()? {
            if item.kind() == ValueKind::Map && ansible_bool(&item.get_attr("changed")?) {
                return Ok(true);
            }
        }
    }
    Ok(false)
}

fn skipped(state: &State, value: &Value) -> Result<bool, Error> {
    Ok(result_field(state, value, "skipped", "skipped")?.is_some_and(|s| ansible_bool(&s)))
}

fn unreachable(state: &State, value: &Value) -> Result<bool, Error> {
    Ok(result_field(state, value, "unreachable", "unreachable")?.is_some_and(|s| ansible_bool(&s)))
}

/// `match` anchors at the start (Python's `re.match`), `search` anywhere.
fn regex_test(value: String, pattern: String, kwargs: Kwargs, kind: &str) -> Result<bool, Error> {
    let pattern = if kind == "match" {
        format!(r"\A(?:{pattern})")
    } else {
        pattern
    };
    let re = regex(&pattern, &kwargs)?;
    kwargs.assert_all_used()?;
    Ok(re.is_match(&value))
}

fn regex_kind_test(value: String, pattern: String, kwargs: Kwargs) -> Result<bool, Error> {
    let kind = kwargs
        .get::<Option<String>>("match_type")?
        .unwrap_or("search".into());
    regex_test(value, pattern, kwargs, &kind)
}

fn version(
    state: &State,
    value: &Value,
    other: &Value,
    operator: Option<String>,
    kwargs: Kwargs,
) -> Result<bool, Error> {
    let text = StringInput::new(state, value)?;
    let other = StringInput::new(state, other)?;
    let _strict = kwargs.get::<Option<bool>>("strict")?;
    let _kind = kwargs.get::<Option<String>>("version_type")?;
    kwargs.assert_all_used()?;
    version_matches(text.as_str(), other.as_str(), operator.as_deref().unwrap_or("eq"))
}

fn contains(state: &State, seq: &Value, item: &Value) -> Result<bool, Error> {
    if seq.is_undefined() {
        StringInput::new(state, seq)?;
    }
    Ok(seq.try_iter()?.any(|x| x == *item))
}

fn subset(state: &State, a: &Value, b: &Value) -> Result<bool, Error> {
    for item in a.try_iter()? {
        if !contains(state, b, &item)? {
            return Ok(false);
        }
    }
    Ok(true)
}

/// Python's `bool(value)`; with `convert_bool=true`, "yes"/"no"-like strings as booleans.
fn truthy(value: &Value, kwargs: Kwargs) -> Result<bool, Error> {
    let convert = kwargs.get::<Option<bool>>("convert_bool")?.unwrap_or(false);
    kwargs.assert_all_used()?;
    if convert {
        let text = super::pyrepr::py_str(value).to_lowercase();
        if ["yes", "on", "1", "true", "y", "t", "1.0"].contains(&text.as_str()) {
            return Ok(true);
        }
        if ["no", "off", "0", "false", "n", "f", "0.0"].contains(&text.as_str()) {
            return Ok(false);
        }
    }
    Ok(value.is_true())
}

/// Python's `os.path.ismount`: a folder on another device than its parent (or `/`).
fn is_mount(path: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    let (Ok(meta), Ok(parent)) = (path.symlink_metadata(), path.join("..").symlink_metadata()) else {
        return false;
    };
    meta.is_dir() && (meta.dev() != parent.dev() || meta.ino() == parent.ino())
}

fn same_file(a: String, b: String) -> Result<bool, Error> {
    use std::os::unix::fs::MetadataExt;
    let stat = |p: &str| {
        std::fs::metadata(p)
            .map_err(|e| Error::new(ErrorKind::InvalidOperation, format!("same_file: {p}: {e}")))
    };
    let (a, b) = (stat(&a)?, stat(&b)?);
    Ok(a.dev() == b.dev() && a.ino() == b.ino())
}

/// The scheme of a URI as `urlparse` reads it (`""` without one), if it is among `schemes`.
fn uri_scheme(value: &str, schemes: Option<&[String]>) -> Option<String> {
    let scheme = match value.split_once(':') {
        Some((s, _))
            if s.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
                && s.chars().all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c)) =>
        {
            s.to_lowercase()
        }
        _ => String::new(),
    };
    match schemes {
        Some(list) if !list.is_empty() && !list.contains(&scheme) => None,
        _ => Some(scheme),
    }
}
