//! The older `with_*` loops besides `with_items`/`with_list`: `with_dict`,
//! `with_indexed_items`, `with_sequence`, with the items Ansible's lookups make.

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
        Loop::WithItems(_) | Loop::Loop(_) => Err("not an older loop".into()),
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
}
