//! The Python methods playbooks call on values: `result.stdout.split()`,
//! `name.startswith('web')`, `facts.get('x', 1)`, `d.items()`, `line.strip()`.

use minijinja::value::{from_args, ValueKind};
use minijinja::{Error, ErrorKind, State, Value};

pub fn call_method(state: &mut State, value: &Value, name: &str, args: &[Value]) -> Result<Value, Error> {
    match value.kind() {
        ValueKind::String => string_method(value.as_str().unwrap_or_default(), name, args),
        ValueKind::Map => map_method(state, value, name, args),
        ValueKind::Seq => seq_method(value, name, args),
        _ => Err(Error::from(ErrorKind::UnknownMethod)),
    }
}

fn strip_chars(chars: Option<&str>) -> impl Fn(char) -> bool + '_ {
    move |c| match chars {
        Some(set) => set.contains(c),
        None => c.is_whitespace(),
    }
}

fn string_method(text: &str, name: &str, args: &[Value]) -> Result<Value, Error> {
    Ok(match name {
        "startswith" | "endswith" => {
            let (prefix,): (Value,) = from_args(args)?;
            let candidates: Vec<String> = match prefix.kind() {
                ValueKind::Seq => prefix.try_iter()?.map(|v| v.to_string()).collect(),
                _ => vec![prefix.as_str().unwrap_or_default().to_owned()],
            };
            let hit = candidates.iter().any(|p| {
                if name == "startswith" {
                    text.starts_with(p.as_str())
                } else {
                    text.ends_with(p.as_str())
                }
            });
            Value::from(hit)
        }
        "strip" | "lstrip" | "rstrip" => {
            let (chars,): (Option<&str>,) = from_args(args)?;
            let matcher = strip_chars(chars);
            Value::from(match name {
                "strip" => text.trim_matches(matcher),
                "lstrip" => text.trim_start_matches(matcher),
                _ => text.trim_end_matches(matcher),
            })
        }
        "split" | "rsplit" => {
            let (sep, maxsplit): (Option<&str>, Option<i64>) = from_args(args)?;
            let max = maxsplit.filter(|m| *m >= 0).map(|m| m as usize + 1);
            let parts: Vec<Value> = match (sep, max) {
                (None, None) => text.split_whitespace().map(Value::from).collect(),
                (None, Some(n)) => {
                    let mut out: Vec<Value> = Vec::new();
                    let mut rest = text.trim_start();
                    while !rest.is_empty() {
                        if out.len() + 1 == n {
                            out.push(Value::from(rest));
                            break;
                        }
                        let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
                        out.push(Value::from(&rest[..end]));
                        rest = rest[end..].trim_start();
                    }
                    out
                }
                (Some(sep), None) => text.split(sep).map(Value::from).collect(),
                (Some(sep), Some(n)) if name == "split" => text.splitn(n, sep).map(Value::from).collect(),
                (Some(sep), Some(n)) => {
                    let mut parts: Vec<Value> = text.rsplitn(n, sep).map(Value::from).collect();
                    parts.reverse();
                    parts
                }
            };
            Value::from(parts)
        }
        "splitlines" => Value::from(text.lines().map(Value::from).collect::<Vec<_>>()),
        "lower" => Value::from(text.to_lowercase()),
        "upper" => Value::from(text.to_uppercase()),
        "replace" => {
            let (old, new, count): (&str, &str, Option<usize>) = from_args(args)?;
            Value::from(match count {
                Some(n) => text.replacen(old, new, n),
                None => text.replace(old, new),
            })
        }
        "find" => {
            let (needle,): (&str,) = from_args(args)?;
            Value::from(text.find(needle).map_or(-1, |i| text[..i].chars().count() as i64))
        }
        "count" => {
            let (needle,): (&str,) = from_args(args)?;
            Value::from(text.matches(needle).count())
        }
        "join" => {
            let (items,): (Value,) = from_args(args)?;
            let parts: Vec<String> = items.try_iter()?.map(|v| super::pyrepr::py_str(&v)).collect();
            Value::from(parts.join(text))
        }
        "isdigit" => Value::from(!text.is_empty() && text.chars().all(|c| c.is_ascii_digit())),
        "isalpha" => Value::from(!text.is_empty() && text.chars().all(char::is_alphabetic)),
        "format" => {
            let mut out = String::new();
            let mut rest = text;
            let mut next = 0;
            while let Some(start) = rest.find("{}") {
                out.push_str(&rest[..start]);
                out.push_str(&super::pyrepr::py_str(args.get(next).unwrap_or(&Value::from(""))));
                next += 1;
                rest = &rest[start + 2..];
            }
            out.push_str(rest);
            Value::from(out)
        }
        _ => return Err(Error::from(ErrorKind::UnknownMethod)),
    })
}

fn map_method(state: &mut State, value: &Value, name: &str, args: &[Value]) -> Result<Value, Error> {
    Ok(match name {
        "get" => {
            let (key, default): (Value, Option<Value>) = from_args(args)?;
            match value.get_item(&key) {
                Ok(found) if !found.is_undefined() => found,
                _ => default.unwrap_or(Value::from(())),
            }
        }
        "keys" => Value::from(value.try_iter()?.collect::<Vec<_>>()),
        "values" => {
            let keys: Vec<Value> = value.try_iter()?.collect();
            let values: Result<Vec<Value>, Error> = keys.iter().map(|k| value.get_item(k)).collect();
            Value::from(values?)
        }
        "items" => state.apply_filter("items", std::slice::from_ref(value))?,
        _ => return Err(Error::from(ErrorKind::UnknownMethod)),
    })
}

fn seq_method(value: &Value, name: &str, args: &[Value]) -> Result<Value, Error> {
    Ok(match name {
        "index" => {
            let (needle,): (Value,) = from_args(args)?;
            match value.try_iter()?.position(|x| x == needle) {
                Some(i) => Value::from(i),
                None => {
                    return Err(Error::new(
                        ErrorKind::InvalidOperation,
                        format!("{needle} is not in list"),
                    ))
                }
            }
        }
        "count" => {
            let (needle,): (Value,) = from_args(args)?;
            Value::from(value.try_iter()?.filter(|x| *x == needle).count())
        }
        _ => return Err(Error::from(ErrorKind::UnknownMethod)),
    })
}
