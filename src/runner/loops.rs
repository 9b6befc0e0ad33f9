//! The older `with_*` loops besides `with_items`/`with_list`: `with_dict`,
//! `with_indexed_items`, `with_sequence`, `with_nested`, `with_together`,
//! `with_subelements`, `with_fileglob`, `with_first_found`, `with_lines`, with the items
//! Ansible's lookups make. The file lookups read the controller, from `playbook_dir`.

use super::task::undefined_message;
use crate::playbook::Loop;
use crate::template::Templater;
use crate::vars::Context;
use serde_json::{json, Value};

pub(super) fn other_loop_items(
    templater: &Templater,
    lp: &Loop,
    ctx: &Context,
) -> Result<Vec<Value>, String> {
    let rendered = templater
        .render_value(lp.value(), ctx)
        .map_err(|e| undefined_message(&e))?;
    match lp {
        Loop::WithDict(_) => match rendered {
            Value::Object(map) => Ok(map
                .into_iter()
                .map(|(key, value)| json!({"key": key, "value": value}))
                .collect()),
            other => Err(format!("with_dict expects a dict, got {other}")),
        },
        Loop::WithIndexedItems(_) => {
            let list = match rendered {
                Value::Array(items) => items,
                Value::Null => Vec::new(),
                other => vec![other],
            };
            Ok(list
                .into_iter()
                .flat_map(|item| match item {
                    Value::Array(inner) => inner,
                    other => vec![other],
                })
                .enumerate()
                .map(|(i, item)| json!([i, item]))
                .collect())
        }
        Loop::WithSequence(_) => sequence(&rendered),
        Loop::WithNested(_) => nested(&terms(rendered)),
        Loop::WithTogether(_) => together(&terms(rendered)),
        Loop::WithSubelements(_) => subelements(&rendered),
        Loop::WithFileglob(_) => Ok(super::lookups::fileglob(&search_path(ctx), &terms(rendered))),
        Loop::WithFirstFound(_, subdir) => {
            super::lookups::first_found(&search_path(ctx), subdir, &terms(rendered))
        }
        Loop::WithLines(_) => super::lookups::lines(&playbook_dir(ctx), &terms(rendered)),
        Loop::WithItems(_) | Loop::Loop(_) => Err("not an older loop".into()),
    }
}

/// The terms of a lookup: a list as given, anything else as a list of one.
fn terms(rendered: Value) -> Vec<Value> {
    match rendered {
        Value::Array(items) => items,
        Value::Null => Vec::new(),
        other => vec![other],
    }
}

/// The task's `ansible_search_path` (the playbook's folder without one).
fn search_path(ctx: &Context) -> super::lookups::SearchPath {
    let base = playbook_dir(ctx);
    let paths = match ctx.get("ansible_search_path") {
        Some(Value::Array(dirs)) => dirs
            .iter()
            .filter_map(Value::as_str)
            .map(std::path::PathBuf::from)
            .collect(),
        _ => vec![base.clone()],
    };
    super::lookups::SearchPath {
        paths,
        base,
        in_role: ctx.contains("role_path"),
    }
}

fn playbook_dir(ctx: &Context) -> std::path::PathBuf {
    match ctx.get("playbook_dir") {
        Some(Value::String(dir)) => dir.into(),
        _ => ".".into(),
    }
}

/// A list with its inner lists spliced in (Ansible's `LookupBase._flatten`).
fn flatten_once(items: impl IntoIterator<Item = Value>) -> Value {
    let mut out = Vec::new();
    for item in items {
        match item {
            Value::Array(inner) => out.extend(inner),
            other => out.push(other),
        }
    }
    Value::Array(out)
}

/// `with_nested`: every combination, the first list varying slowest.
fn nested(lists: &[Value]) -> Result<Vec<Value>, String> {
    let Some((first, rest)) = lists.split_first() else {
        return Err("with_nested requires at least one element in the nested list".into());
    };
    let mut result: Vec<Value> = terms(first.clone());
    for list in rest {
        let mut combined = Vec::new();
        for x in &result {
            for y in terms(list.clone()) {
                combined.push(flatten_once([x.clone(), y]));
            }
        }
        result = combined;
    }
    Ok(result.into_iter().map(|x| flatten_once(terms(x))).collect())
}

/// `with_together`: the lists side by side, the shorter ones padded with null.
fn together(lists: &[Value]) -> Result<Vec<Value>, String> {
    if lists.is_empty() {
        return Err("with_together requires at least one element in each list".into());
    }
    let lists: Vec<Vec<Value>> = lists.iter().map(|l| terms(l.clone())).collect();
    let longest = lists.iter().map(Vec::len).max().unwrap_or(0);
    Ok((0..longest)
        .map(|i| flatten_once(lists.iter().map(|l| l.get(i).cloned().unwrap_or(Value::Null))))
        .collect())
}

/// `with_subelements`: `[list, "key"]` or `[list, "key", {skip_missing: true}]`; each item
/// is `[parent, subelement]`, the parent without the key (Ansible pops it).
fn subelements(rendered: &Value) -> Result<Vec<Value>, String> {
    const USAGE: &str = "subelements lookup expects a list of two or three items, ";
    let Value::Array(terms) = rendered else {
        return Err(USAGE.into());
    };
    if !(2..=3).contains(&terms.len()) {
        return Err(USAGE.into());
    }
    let (Some(key), true) = (terms[1].as_str(), terms[0].is_array() || terms[0].is_object()) else {
        return Err(format!(
            "{USAGE}first a dict or a list, second a string pointing to the subkey"
        ));
    };
    let elements: Vec<Value> = match &terms[0] {
        Value::Object(map) if map.get("skipped").is_some_and(|s| s != &Value::Bool(false)) => {
            return Ok(Vec::new())
        }
        Value::Object(map) => map.values().cloned().collect(),
        Value::Array(list) => list.clone(),
        _ => unreachable!("checked above"),
    };
    let skip_missing = match terms.get(2) {
        None => false,
        Some(Value::Object(flags)) => {
            if let Some(bad) = flags.keys().find(|k| *k != "skip_missing") {
                return Err(format!(
                    "{USAGE}the optional third item must be a dict with flags ['skip_missing'] (not `{bad}`)"
                ));
            }
            flags.get("skip_missing").is_some_and(crate::vars::truthy)
        }
        Some(_) => {
            return Err(format!(
                "{USAGE}the optional third item must be a dict with flags ['skip_missing']"
            ))
        }
    };
    let path: Vec<&str> = key.split('.').collect();
    let mut items = Vec::new();
    for element in elements {
        let Value::Object(mut parent) = element else {
            return Err(format!(
                "subelements lookup expects a dictionary, got '{}'",
                crate::report::human::python_json(&element, false)
            ));
        };
        if parent.get("skipped").is_some_and(|s| s != &Value::Bool(false)) {
            continue;
        }
        let sublist = match take_subkey(&mut parent, &path, skip_missing)? {
            Some(list) => list,
            None => continue,
        };
        for sub in sublist {
            items.push(json!([Value::Object(parent.clone()), sub]));
        }
    }
    Ok(items)
}

/// Remove and return the list at `path` inside `parent`; `None` when a key is missing and
/// `skip_missing` is set.
fn take_subkey(
    parent: &mut serde_json::Map<String, Value>,
    path: &[&str],
    skip_missing: bool,
) -> Result<Option<Vec<Value>>, String> {
    let shown = |v: &Value| crate::report::human::python_json(v, false);
    let (last, walk) = path.split_last().expect("split of a string has one part");
    let mut here = parent;
    for key in walk {
        let whole = Value::Object(here.clone());
        match here.get_mut(*key) {
            None if skip_missing => return Ok(None),
            None => {
                return Err(format!(
                    "could not find '{key}' key in iterated item '{}'",
                    shown(&whole)
                ))
            }
            Some(Value::Object(inner)) => here = inner,
            Some(_) if skip_missing => return Ok(None),
            Some(other) => {
                return Err(format!(
                    "the key {key} should point to a dictionary, got '{}'",
                    shown(other)
                ))
            }
        }
    }
    match here.get(*last) {
        None if skip_missing => Ok(None),
        None => Err(format!(
            "could not find '{last}' key in iterated item '{}'",
            shown(&Value::Object(here.clone()))
        )),
        Some(Value::Array(_)) => match here.shift_remove(*last) {
            Some(Value::Array(list)) => Ok(Some(list)),
            _ => unreachable!("just matched a list"),
        },
        Some(other) => Err(format!(
            "the key {last} should point to a list, got '{}'",
            shown(other)
        )),
    }
}

/// `with_sequence`: `start=1 end=5 stride=2 format=web%02d`, `count=3`, or the short
/// form `[start-]end[/stride][:format]`. Items are strings, as in Ansible.
fn sequence(spec: &Value) -> Result<Vec<Value>, String> {
    let (mut start, mut end, mut count, mut stride, mut format) = (1i64, None, None, 1i64, "%d".to_owned());
    let text = match spec {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        other => return Err(format!("with_sequence expects `start=.. end=..`, got {other}")),
    };
    let num = |k: &str, v: &str| -> Result<i64, String> {
        let v = v.trim();
        let parsed = if let Some(hex) = v.strip_prefix("0x") {
            i64::from_str_radix(hex, 16).ok()
        } else {
            v.parse().ok()
        };
        parsed.ok_or_else(|| format!("with_sequence: `{k}` must be a number, got `{v}`"))
    };
    for word in text.split_whitespace() {
        match word.split_once('=') {
            Some(("start", v)) => start = num("start", v)?,
            Some(("end", v)) => end = Some(num("end", v)?),
            Some(("count", v)) => count = Some(num("count", v)?),
            Some(("stride", v)) => stride = num("stride", v)?,
            Some(("format", v)) => format = v.to_owned(),
            Some((k, _)) => return Err(format!("with_sequence: unknown option `{k}`")),
            None => {
                // Short form: [start-]end[/stride][:format]
                let (range, fmt) = word.split_once(':').map_or((word, None), |(r, f)| (r, Some(f)));
                let (range, step) = range.split_once('/').map_or((range, None), |(r, s)| (r, Some(s)));
                match range.split_once('-') {
                    Some((a, b)) => {
                        start = num("start", a)?;
                        end = Some(num("end", b)?);
                    }
                    None => end = Some(num("end", range)?),
                }
                if let Some(s) = step {
                    stride = num("stride", s)?;
                }
                if let Some(f) = fmt {
                    format = f.to_owned();
                }
            }
        }
    }
    let end = match (count, end) {
        (Some(_), Some(_)) => return Err("with_sequence: `count` and `end` are exclusive".into()),
        (Some(0), None) => return Ok(Vec::new()),
        (Some(c), None) => start + (c - 1) * stride,
        (None, Some(e)) => e,
        (None, None) => return Err("with_sequence: give `end` or `count`".into()),
    };
    if stride == 0 {
        return Err("with_sequence: `stride` cannot be 0".into());
    }
    let mut items = Vec::new();
    let mut i = start;
    while (stride > 0 && i <= end) || (stride < 0 && i >= end) {
        items.push(json!(printf(&format, i)));
        i += stride;
    }
    Ok(items)
}

/// The one `%` conversion of a `with_sequence` format: flags `0` and `-`, a width, and
/// `d i u x X o s`; `%%` is a percent sign.
fn printf(format: &str, n: i64) -> String {
    let mut out = String::new();
    let mut chars = format.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        if chars.peek() == Some(&'%') {
            chars.next();
            out.push('%');
            continue;
        }
        let (mut zero, mut left, mut width) = (false, false, 0usize);
        while let Some(&f) = chars.peek() {
            match f {
                '0' if width == 0 => zero = true,
                '-' => left = true,
                d if d.is_ascii_digit() => width = width * 10 + (d as usize - '0' as usize),
                _ => break,
            }
            chars.next();
        }
        let body = match chars.next() {
            Some('x') => format!("{n:x}"),
            Some('X') => format!("{n:X}"),
            Some('o') => format!("{n:o}"),
            _ => n.to_string(),
        };
        let pad = width.saturating_sub(body.len());
        if left {
            out.push_str(&body);
            out.push_str(&" ".repeat(pad));
        } else if zero {
            let (sign, digits) = body.strip_prefix('-').map_or(("", body.as_str()), |d| ("-", d));
            out.push_str(sign);
            out.push_str(&"0".repeat(pad));
            out.push_str(digits);
        } else {
            out.push_str(&" ".repeat(pad));
            out.push_str(&body);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequences_as_ansible_makes_them() {
        assert_eq!(
            sequence(&json!("start=1 end=3")).unwrap(),
            json!(["1", "2", "3"]).as_array().unwrap().clone()
        );
        assert_eq!(
            sequence(&json!("count=2 format=n%02d")).unwrap(),
            vec![json!("n01"), json!("n02")]
        );
        assert_eq!(
            sequence(&json!("start=10 end=0 stride=-5")).unwrap(),
            vec![json!("10"), json!("5"), json!("0")]
        );
        assert_eq!(
            sequence(&json!("4-8/2:w%x")).unwrap(),
            vec![json!("w4"), json!("w6"), json!("w8")]
        );
        assert!(sequence(&json!("count=2 end=3")).is_err());
        assert_eq!(printf("%-3d|", 7), "7  |");
    }

    #[test]
    fn nested_and_together_as_ansible_lookups() {
        let lists = [json!(["a", "b"]), json!([1, 2])];
        assert_eq!(
            nested(&lists).unwrap(),
            vec![json!(["a", 1]), json!(["a", 2]), json!(["b", 1]), json!(["b", 2])]
        );
        assert_eq!(
            together(&[json!(["a", "b"]), json!([1])]).unwrap(),
            vec![json!(["a", 1]), json!(["b", null])]
        );
        assert!(nested(&[]).is_err());
    }

    #[test]
    fn subelements_pop_the_key_and_skip_missing() {
        let users = json!([
            {"name": "alice", "keys": ["k1", "k2"]},
            {"name": "bob"}
        ]);
        let err = subelements(&json!([users.clone(), "keys"])).unwrap_err();
        assert!(
            err.starts_with("could not find 'keys' key in iterated item"),
            "{err}"
        );
        let items = subelements(&json!([users, "keys", {"skip_missing": true}])).unwrap();
        assert_eq!(
            items,
            vec![json!([{"name": "alice"}, "k1"]), json!([{"name": "alice"}, "k2"])]
        );
    }
}
