//! Ansible's filters, with Ansible's results, where minijinja's builtins differ or lack them.
//! String, regex, path and hash filters are in `text.rs`. Kept from minijinja: default/d, join, length/count, lower, upper, capitalize, trim,
//! replace, map, select/reject/selectattr/rejectattr, first, last, unique, sort, list,
//! min, max, sum, split, zip, items, dictsort, reverse, urlencode, batch, abs, round.

use super::pyrepr::{self, py_str};
use minijinja::value::{Kwargs, Rest, StringInput, ValueKind};
use minijinja::{Environment, Error, ErrorKind, State, Value};
use regex::Regex;

pub fn register(env: &mut Environment<'static>) {
    super::text::register(env);
    env.add_filter("int", int);
    env.add_filter("float", float);
    env.add_filter("string", string);
    env.add_filter("bool", to_bool);
    env.add_filter("to_json", to_json);
    env.add_filter("to_nice_json", to_nice_json);
    env.add_filter("from_json", from_json);
    env.add_filter("to_yaml", to_yaml);
    env.add_filter("to_nice_yaml", to_nice_yaml);
    env.add_filter("from_yaml", from_yaml);
    env.add_filter("ternary", ternary);
    env.add_filter("combine", combine);
    env.add_filter("dict2items", dict2items);
    env.add_filter("items2dict", items2dict);
    env.add_filter("flatten", flatten);
    env.add_filter("mandatory", mandatory);
    env.add_filter("type_debug", type_debug);
    env.add_filter("difference", difference);
    env.add_filter("union", union);
    env.add_filter("intersect", intersect);
    env.add_filter("symmetric_difference", symmetric_difference);
    env.add_filter("product", product);
    env.add_filter("random", random);
    env.add_filter("shuffle", shuffle);
    env.add_filter("password_hash", super::crypt::password_hash);
    env.add_filter("zip_longest", zip_longest);
    env.add_filter("from_yaml_all", from_yaml_all);
    env.add_filter("strftime", strftime);
    env.add_filter("log", |value: f64, base: Option<f64>| match base {
        Some(base) => value.ln() / base.ln(),
        None => value.ln(),
    });
    env.add_filter("pow", |value: f64, exp: f64| value.powf(exp));
    env.add_filter("root", |value: f64, base: Option<f64>| match base {
        None | Some(2.0) => value.sqrt(),
        Some(base) => value.powf(1.0 / base),
    });
    env.add_filter("version_compare", version_compare);
    env.add_filter("extract", extract);
}

/// Fail as minijinja does on an undefined input (naming it), where Ansible fails too.
pub(super) fn defined(state: &State, value: &Value) -> Result<(), Error> {
    if value.is_undefined() {
        StringInput::new(state, value)?;
    }
    Ok(())
}

pub(super) fn invalid(message: impl Into<String>) -> Error {
    Error::new(ErrorKind::InvalidOperation, message.into())
}

fn items(value: &Value) -> Result<Vec<Value>, Error> {
    Ok(value.try_iter()?.collect())
}

/// Jinja's `int`: numbers, numeric strings (`"3"`, `"3.7"`, `"0x1A"` with base 16),
/// otherwise the default (0).
fn int(
    state: &State,
    value: &Value,
    default: Option<Value>,
    base: Option<u32>,
    kwargs: Kwargs,
) -> Result<Value, Error> {
    defined(state, value)?;
    let default = match default {
        Some(d) => d,
        None => kwargs.get::<Option<Value>>("default")?.unwrap_or(Value::from(0)),
    };
    let base = match base {
        Some(b) => b,
        None => kwargs.get::<Option<u32>>("base")?.unwrap_or(10),
    };
    kwargs.assert_all_used()?;
    Ok(match value.kind() {
        ValueKind::Bool => Value::from(value.is_true() as i64),
        ValueKind::Number if value.is_integer() => value.clone(),
        ValueKind::Number => Value::from(f64::try_from(value.clone())?.trunc() as i64),
        ValueKind::String => {
            let text = value.as_str().unwrap_or_default().trim();
            let digits = match base {
                16 => text.trim_start_matches("0x").trim_start_matches("0X"),
                8 => text.trim_start_matches("0o"),
                2 => text.trim_start_matches("0b"),
                _ => text,
            };
            match i64::from_str_radix(digits, base) {
                Ok(n) => Value::from(n),
                Err(_) => match text.parse::<f64>() {
                    Ok(f) if f.is_finite() => Value::from(f.trunc() as i64),
                    _ => default,
                },
            }
        }
        _ => default,
    })
}

fn float(state: &State, value: &Value, default: Option<Value>, kwargs: Kwargs) -> Result<Value, Error> {
    defined(state, value)?;
    let default = match default {
        Some(d) => d,
        None => kwargs
            .get::<Option<Value>>("default")?
            .unwrap_or(Value::from(0.0)),
    };
    kwargs.assert_all_used()?;
    Ok(match value.kind() {
        ValueKind::Bool => Value::from(if value.is_true() { 1.0 } else { 0.0 }),
        ValueKind::Number => Value::from(f64::try_from(value.clone())?),
        ValueKind::String => match value.as_str().unwrap_or_default().trim().parse::<f64>() {
            Ok(f) => Value::from(f),
            Err(_) => default,
        },
        _ => default,
    })
}

fn string(state: &State, value: &Value) -> Result<String, Error> {
    defined(state, value)?;
    Ok(py_str(value))
}

/// Ansible's `bool`: true for true, "yes", "on", "1", "true" (any case) and 1.
pub fn ansible_bool(value: &Value) -> bool {
    match value.kind() {
        ValueKind::Bool => value.is_true(),
        ValueKind::String => matches!(
            value
                .as_str()
                .unwrap_or_default()
                .trim()
                .to_ascii_lowercase()
                .as_str(),
            "yes" | "on" | "1" | "true" | "y"
        ),
        ValueKind::Number => f64::try_from(value.clone()).is_ok_and(|f| f == 1.0),
        _ => false,
    }
}

fn to_bool(state: &State, value: &Value) -> Result<bool, Error> {
    defined(state, value)?;
    Ok(ansible_bool(value))
}

fn to_json(state: &State, value: &Value, kwargs: Kwargs) -> Result<String, Error> {
    defined(state, value)?;
    let indent = kwargs.get::<Option<usize>>("indent")?;
    let sort = kwargs.get::<Option<bool>>("sort_keys")?.unwrap_or(false);
    kwargs.assert_all_used()?;
    pyrepr::to_json(value, indent, sort)
}

fn to_nice_json(state: &State, value: &Value, kwargs: Kwargs) -> Result<String, Error> {
    defined(state, value)?;
    let indent = kwargs.get::<Option<usize>>("indent")?.unwrap_or(4);
    let sort = kwargs.get::<Option<bool>>("sort_keys")?.unwrap_or(true);
    kwargs.assert_all_used()?;
    pyrepr::to_json(value, Some(indent), sort)
}

fn from_json(text: String) -> Result<Value, Error> {
    let parsed: serde_json::Value =
        serde_json::from_str(&text).map_err(|err| invalid(format!("from_json: {err}")))?;
    Ok(Value::from(minijinja::value::Serde(&parsed)))
}

fn to_yaml(state: &State, value: &Value, kwargs: Kwargs) -> Result<String, Error> {
    defined(state, value)?;
    let indent = kwargs.get::<Option<usize>>("indent")?.unwrap_or(2);
    kwargs.assert_all_used()?;
    pyrepr::to_yaml(value, indent.max(2), true)
}

fn to_nice_yaml(state: &State, value: &Value, kwargs: Kwargs) -> Result<String, Error> {
    defined(state, value)?;
    let indent = kwargs.get::<Option<usize>>("indent")?.unwrap_or(4);
    kwargs.assert_all_used()?;
    pyrepr::to_yaml(value, indent.max(2), false)
}

/// As Ansible's `from_yaml` (PyYAML's safe_load): YAML 1.1 scalars, anchors and merge keys,
/// through zdd's own loader, so a hostile text (a command's output) meets the same bounds
/// as a playbook.
fn from_yaml(text: String) -> Result<Value, Error> {
    let src = crate::yaml::Source::new("<from_yaml>", text);
    let node = src.parse_any().map_err(|d| {
        let at = d
            .location
            .map(|l| format!(" at line {}, column {}", l.line, l.col))
            .unwrap_or_default();
        invalid(format!("from_yaml: {}{at}", d.message))
    })?;
    Ok(Value::from(minijinja::value::Serde(&crate::yaml::to_value(
        &node,
    ))))
}

fn ternary(
    state: &State,
    value: &Value,
    if_true: Value,
    if_false: Value,
    if_none: Option<Value>,
) -> Result<Value, Error> {
    defined(state, value)?;
    Ok(match if_none {
        Some(none) if value.is_none() => none,
        _ if value.is_true() => if_true,
        _ => if_false,
    })
}

/// A map as an ordered list of key/value pairs (keys as Python `str`).
fn pairs(value: &Value) -> Result<Vec<(String, Value)>, Error> {
    if value.kind() != ValueKind::Map {
        return Err(invalid(format!("expected a dictionary, got {}", value.kind())));
    }
    let mut out = Vec::new();
    for key in value.try_iter()? {
        let item = value.get_item(&key)?;
        out.push((py_str(&key), item));
    }
    Ok(out)
}

fn merge(base: Vec<(String, Value)>, other: &Value, recursive: bool) -> Result<Vec<(String, Value)>, Error> {
    let mut out = base;
    for (key, value) in pairs(other)? {
        match out.iter_mut().find(|(k, _)| *k == key) {
            Some((_, old)) => {
                *old = if recursive && old.kind() == ValueKind::Map && value.kind() == ValueKind::Map {
                    Value::from_pairs(merge(pairs(old)?, &value, true)?)
                } else {
                    value
                };
            }
            None => out.push((key, value)),
        }
    }
    Ok(out)
}

/// Merge maps left to right; `recursive=true` merges nested maps too.
fn combine(state: &State, value: &Value, others: Rest<Value>, kwargs: Kwargs) -> Result<Value, Error> {
    defined(state, value)?;
    let recursive = kwargs.get::<Option<bool>>("recursive")?.unwrap_or(false);
    let _list_merge = kwargs.get::<Option<String>>("list_merge")?;
    kwargs.assert_all_used()?;
    let mut out = pairs(value)?;
    for other in others.iter() {
        let others = if other.kind() == ValueKind::Map {
            vec![other.clone()]
        } else {
            items(other)?
        };
        for other in &others {
            out = merge(out, other, recursive)?;
        }
    }
    Ok(Value::from_pairs(out))
}

fn dict2items(state: &State, value: &Value, kwargs: Kwargs) -> Result<Value, Error> {
    defined(state, value)?;
    let key_name = kwargs.get::<Option<String>>("key_name")?.unwrap_or("key".into());
    let value_name = kwargs
        .get::<Option<String>>("value_name")?
        .unwrap_or("value".into());
    kwargs.assert_all_used()?;
    let out: Vec<Value> = pairs(value)?
        .into_iter()
        .map(|(k, v)| Value::from_pairs([(key_name.clone(), Value::from(k)), (value_name.clone(), v)]))
        .collect();
    Ok(Value::from(out))
}

fn items2dict(state: &State, value: &Value, kwargs: Kwargs) -> Result<Value, Error> {
    defined(state, value)?;
    let key_name = kwargs.get::<Option<String>>("key_name")?.unwrap_or("key".into());
    let value_name = kwargs
        .get::<Option<String>>("value_name")?
        .unwrap_or("value".into());
    kwargs.assert_all_used()?;
    let mut out = Vec::new();
    for item in items(value)? {
        let key = item.get_attr(&key_name)?;
        let value = item.get_attr(&value_name)?;
        if key.is_undefined() || value.is_undefined() {
            return Err(invalid(format!(
                "items2dict: each item needs `{key_name}` and `{value_name}`"
            )));
        }
        out.push((py_str(&key), value));
    }
    Ok(Value::from_pairs(out))
}

fn flatten(state: &State, value: &Value, levels: Option<usize>, kwargs: Kwargs) -> Result<Value, Error> {
    defined(state, value)?;
    let levels = match levels {
        Some(l) => Some(l),
        None => kwargs.get::<Option<usize>>("levels")?,
    };
    let skip_nulls = kwargs.get::<Option<bool>>("skip_nulls")?.unwrap_or(true);
    kwargs.assert_all_used()?;
    fn walk(
        out: &mut Vec<Value>,
        value: &Value,
        levels: Option<usize>,
        skip_nulls: bool,
    ) -> Result<(), Error> {
        for item in value.try_iter()? {
            let nested = matches!(item.kind(), ValueKind::Seq | ValueKind::Iterable);
            if nested && levels != Some(0) {
                walk(out, &item, levels.map(|l| l - 1), skip_nulls)?;
            } else if !(skip_nulls && item.is_none()) {
                out.push(item);
            }
        }
        Ok(())
    }
    let mut out = Vec::new();
    walk(&mut out, value, levels, skip_nulls)?;
    Ok(Value::from(out))
}

fn mandatory(value: &Value, message: Option<String>) -> Result<Value, Error> {
    if value.is_undefined() {
        let message = message.unwrap_or_else(|| "mandatory variable not defined".into());
        return Err(Error::new(ErrorKind::UndefinedError, message));
    }
    Ok(value.clone())
}

/// The Python type name Ansible reports.
pub(super) fn type_debug(value: &Value) -> &'static str {
    match value.kind() {
        ValueKind::Undefined => "AnsibleUndefined",
        ValueKind::None => "NoneType",
        ValueKind::Bool => "bool",
        ValueKind::Number if value.is_integer() => "int",
        ValueKind::Number => "float",
        ValueKind::String => "str",
        ValueKind::Bytes => "bytes",
        ValueKind::Seq | ValueKind::Iterable => "list",
        ValueKind::Map => "dict",
        _ => "object",
    }
}

fn unique_in_order(values: impl IntoIterator<Item = Value>) -> Vec<Value> {
    let mut out: Vec<Value> = Vec::new();
    for value in values {
        if !out.contains(&value) {
            out.push(value);
        }
    }
    out
}

fn difference(state: &State, a: &Value, b: &Value) -> Result<Value, Error> {
    defined(state, a)?;
    let b = items(b)?;
    Ok(Value::from(unique_in_order(
        items(a)?.into_iter().filter(|x| !b.contains(x)),
    )))
}

fn union(state: &State, a: &Value, b: &Value) -> Result<Value, Error> {
    defined(state, a)?;
    Ok(Value::from(unique_in_order(
        items(a)?.into_iter().chain(items(b)?),
    )))
}

fn intersect(state: &State, a: &Value, b: &Value) -> Result<Value, Error> {
    defined(state, a)?;
    let b = items(b)?;
    Ok(Value::from(unique_in_order(
        items(a)?.into_iter().filter(|x| b.contains(x)),
    )))
}

fn symmetric_difference(state: &State, a: &Value, b: &Value) -> Result<Value, Error> {
    defined(state, a)?;
    let (a, b) = (items(a)?, items(b)?);
    let only_a = a.iter().filter(|x| !b.contains(x)).cloned();
    let only_b = b.iter().filter(|x| !a.contains(x)).cloned();
    Ok(Value::from(unique_in_order(only_a.chain(only_b))))
}

/// `itertools.product`: every combination, one item from each list.
fn product(state: &State, first: &Value, others: Rest<Value>) -> Result<Value, Error> {
    defined(state, first)?;
    let mut combos: Vec<Vec<Value>> = items(first)?.into_iter().map(|x| vec![x]).collect();
    for other in others.iter() {
        let other = items(other)?;
        combos = combos
            .into_iter()
            .flat_map(|combo| {
                other.iter().map(move |x| {
                    let mut next = combo.clone();
                    next.push(x.clone());
                    next
                })
            })
            .collect();
    }
    Ok(Value::from(
        combos.into_iter().map(Value::from).collect::<Vec<_>>(),
    ))
}

/// The generator of a `random`/`shuffle` call: Python's `Random(seed)`, so a seeded call
/// gives Ansible's value; unseeded, from the system's entropy.
fn generator(seed: Option<&Value>) -> super::pyrandom::PyRandom {
    match seed.filter(|s| !s.is_none()) {
        Some(seed) => super::lookups::py_random(seed),
        None => super::pyrandom::PyRandom::new(super::pyrandom::Seed::Int(super::lookups::os_entropy())),
    }
}

/// Ansible's `random`: a number in `range(start, end, step)` for an integer, else an item
/// of the list. `seed=` makes it repeatable, with Python's generator.
fn random(
    state: &State,
    value: &Value,
    start: Option<i64>,
    step: Option<i64>,
    kwargs: Kwargs,
) -> Result<Value, Error> {
    defined(state, value)?;
    let seed = kwargs.get::<Option<Value>>("seed")?;
    let start = match start {
        Some(s) => Some(s),
        None => kwargs.get::<Option<i64>>("start")?,
    };
    let step = match step {
        Some(s) => Some(s),
        None => kwargs.get::<Option<i64>>("step")?,
    };
    kwargs.assert_all_used()?;
    let mut rng = generator(seed.as_ref());
    if value.is_integer() {
        let end = i64::try_from(value.clone())?;
        let step = step.filter(|s| *s != 0).unwrap_or(1);
        if step < 0 {
            return Err(invalid("random: a negative step is not supported"));
        }
        return rng
            .randrange(start.unwrap_or(0), end, step)
            .map(Value::from)
            .ok_or_else(|| {
                invalid(format!(
                    "empty range in randrange({}, {end}, {step})",
                    start.unwrap_or(0)
                ))
            });
    }
    if start.is_some_and(|s| s != 0) || step.is_some_and(|s| s != 0) {
        return Err(invalid("start and step can only be used with integer values"));
    }
    let all = items(value)?;
    if all.is_empty() {
        return Err(invalid("Cannot choose from an empty sequence"));
    }
    Ok(all[rng.below(all.len() as u64) as usize].clone())
}

/// Ansible's `shuffle`: the list in a random order (repeatable with `seed=`).
fn shuffle(state: &State, value: &Value, kwargs: Kwargs) -> Result<Value, Error> {
    defined(state, value)?;
    let seed = kwargs.get::<Option<Value>>("seed")?;
    kwargs.assert_all_used()?;
    let mut all = items(value)?;
    generator(seed.as_ref()).shuffle(&mut all);
    Ok(Value::from(all))
}

/// `itertools.zip_longest`: tuples as long as the longest list, `fillvalue=` (none) in the gaps.
fn zip_longest(state: &State, value: &Value, others: Rest<Value>, kwargs: Kwargs) -> Result<Value, Error> {
    defined(state, value)?;
    let fill = kwargs
        .get::<Option<Value>>("fillvalue")?
        .unwrap_or(Value::from(()));
    kwargs.assert_all_used()?;
    let mut lists = vec![items(value)?];
    for other in others.iter() {
        lists.push(items(other)?);
    }
    let longest = lists.iter().map(Vec::len).max().unwrap_or(0);
    Ok(Value::from(
        (0..longest)
            .map(|i| {
                Value::from(
                    lists
                        .iter()
                        .map(|l| l.get(i).cloned().unwrap_or(fill.clone()))
                        .collect::<Vec<_>>(),
                )
            })
            .collect::<Vec<_>>(),
    ))
}

/// Every YAML document of the text.
fn from_yaml_all(value: &Value) -> Result<Value, Error> {
    if value.is_none() || value.is_undefined() {
        return Ok(Value::from(Vec::<Value>::new()));
    }
    let text = py_str(value);
    let mut docs = Vec::new();
    let mut current = String::new();
    let mut flush = |current: &mut String| -> Result<(), Error> {
        if !current.trim().is_empty() {
            docs.push(from_yaml(std::mem::take(current))?);
        }
        current.clear();
        Ok(())
    };
    for line in text.split_inclusive('\n') {
        let bare = line.trim_end();
        if bare == "---" || bare.starts_with("--- ") {
            flush(&mut current)?;
            current.push_str(bare.trim_start_matches("---"));
            current.push('\n');
        } else if bare == "..." {
            flush(&mut current)?;
        } else {
            current.push_str(line);
        }
    }
    flush(&mut current)?;
    Ok(Value::from(docs))
}

/// Ansible's `strftime`: the format applied to now or to `second` (epoch), local or `utc`.
fn strftime(
    format: String,
    second: Option<Value>,
    utc: Option<bool>,
    kwargs: Kwargs,
) -> Result<String, Error> {
    let second = match second {
        Some(s) => Some(s),
        None => kwargs.get::<Option<Value>>("second")?,
    };
    let utc = match utc {
        Some(u) => u,
        None => kwargs.get::<Option<bool>>("utc")?.unwrap_or(false),
    };
    kwargs.assert_all_used()?;
    let at = match second.filter(|s| !s.is_none()) {
        Some(s) => {
            let secs = match s.as_str() {
                Some(text) => text.trim().parse::<f64>().ok(),
                None => f64::try_from(s.clone()).ok(),
            }
            .ok_or_else(|| invalid(format!("Invalid value for epoch value ({s})")))?;
            std::time::UNIX_EPOCH + std::time::Duration::from_secs_f64(secs.max(0.0))
        }
        None => std::time::SystemTime::now(),
    };
    Ok(super::globals::strftime_at(at, utc, &format))
}

/// Compare versions the way Python's `LooseVersion` does: numbers as numbers, words as words.
pub fn compare_versions(a: &str, b: &str) -> std::cmp::Ordering {
    #[derive(PartialEq, Eq, PartialOrd, Ord)]
    enum Part {
        Num(u64),
        Word(String),
    }
    fn parts(text: &str) -> Vec<Part> {
        let re = Regex::new(r"\d+|[a-zA-Z]+").expect("static regex");
        re.find_iter(text)
            .map(|m| match m.as_str().parse::<u64>() {
                Ok(n) => Part::Num(n),
                Err(_) => Part::Word(m.as_str().to_owned()),
            })
            .collect()
    }
    parts(a).cmp(&parts(b))
}

pub fn version_matches(value: &str, other: &str, operator: &str) -> Result<bool, Error> {
    use std::cmp::Ordering::*;
    let order = compare_versions(value, other);
    Ok(match operator {
        "==" | "=" | "eq" => order == Equal,
        "!=" | "<>" | "ne" => order != Equal,
        "<" | "lt" => order == Less,
        "<=" | "le" => order != Greater,
        ">" | "gt" => order == Greater,
        ">=" | "ge" => order != Less,
        other => return Err(invalid(format!("version: unknown comparison operator `{other}`"))),
    })
}

fn version_compare(
    state: &State,
    value: &Value,
    other: &Value,
    operator: Option<String>,
    kwargs: Kwargs,
) -> Result<bool, Error> {
    defined(state, value)?;
    let _strict = kwargs.get::<Option<bool>>("strict")?;
    let _kind = kwargs.get::<Option<String>>("version_type")?;
    kwargs.assert_all_used()?;
    version_matches(
        &py_str(value),
        &py_str(other),
        operator.as_deref().unwrap_or("eq"),
    )
}

/// `groups.web | map('extract', hostvars, 'ansible_host')`: `container[key]`, then
/// `[morekeys]` (one key or a list of keys).
fn extract(state: &State, key: &Value, container: &Value, morekeys: Option<Value>) -> Result<Value, Error> {
    defined(state, key)?;
    defined(state, container)?;
    let mut value = container.get_item(key)?;
    if let Some(more) = morekeys {
        let path = if matches!(more.kind(), ValueKind::Seq) {
            items(&more)?
        } else {
            vec![more]
        };
        for step in path {
            value = value.get_item(&step)?;
        }
    }
    Ok(value)
}
