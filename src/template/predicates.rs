//! Ansible's tests (`x is failed`, `x is match(..)`, `x is version(..)`) beside minijinja's
//! (defined, undefined, none, string, number, mapping, sequence, iterable, boolean, in).

use super::filters::{ansible_bool, version_matches};
use super::text::regex;
use minijinja::value::{Kwargs, StringInput, ValueKind};
use minijinja::{Environment, Error, ErrorKind, State, Value};

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
    env.add_test("truthy", |value: &Value| value.is_true());
    env.add_test("falsy", |value: &Value| !value.is_true());
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
