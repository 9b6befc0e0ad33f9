//! Keyword values written as templates, rendered when Ansible renders them: a play's
//! `serial`, `gather_facts`, `force_handlers` and `max_fail_percentage` with the play's
//! vars and `-e` before any host is touched (`render_play`); a task's booleans on each
//! host (the runner's `keywords.rs`). Both read the rendered values the same way.

use crate::error::Diagnostic;
use crate::playbook::{Play, Serial, TemplatedKeyword};
use crate::template::Templater;
use crate::vars::Context;
use serde_json::Value;

/// A rendered value as a boolean, as Ansible's `boolean()` reads a keyword: `true`, `yes`,
/// `on`, `y`, `t`, `1` and their opposites, in any case; anything else is an error.
pub fn to_bool(value: &Value) -> Result<bool, String> {
    let text = match value {
        Value::Bool(b) => return Ok(*b),
        Value::Number(n) if n.as_f64() == Some(1.0) => return Ok(true),
        Value::Number(n) if n.as_f64() == Some(0.0) => return Ok(false),
        Value::String(s) => s.trim().to_lowercase(),
        other => other.to_string(),
    };
    match text.as_str() {
        "y" | "yes" | "on" | "1" | "true" | "t" => Ok(true),
        "n" | "no" | "off" | "0" | "false" | "f" => Ok(false),
        _ => Err(format!("the value `{text}` could not be converted to a boolean")),
    }
}

/// A rendered `max_fail_percentage`: a number from 0 to 100, with or without `%`.
pub fn to_percentage(value: &Value) -> Result<f64, String> {
    let number = match value {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().trim_end_matches('%').trim().parse().ok(),
        _ => None,
    };
    match number {
        Some(p) if (0.0..=100.0).contains(&p) => Ok(p),
        _ => Err(format!("`{}` is not a percentage from 0 to 100", plain(value))),
    }
}

/// A rendered `serial`: one batch size or a list of them (a list may mix rendered and
/// written entries).
pub fn to_serial(value: &Value) -> Result<Vec<Serial>, String> {
    let one = |v: &Value| match v {
        Value::Number(n) if n.is_u64() => Ok(Serial::Count(n.as_u64().unwrap_or(0) as usize)),
        Value::Number(_) | Value::String(_) => {
            crate::parse::serial_from_text(&plain(v)).map_err(|bad| format!("{} ({})", bad.message, bad.hint))
        }
        other => Err(format!(
            "`serial` must be a number or a percentage, found `{}`",
            plain(other)
        )),
    };
    match value {
        Value::Null => Ok(Vec::new()),
        Value::Array(items) => items.iter().map(one).collect(),
        other => one(other).map(|s| vec![s]),
    }
}

fn plain(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Render the play's templated keywords with `ctx` (the play's vars and `-e`), setting
/// the play's fields. Each keyword that cannot be rendered, or renders to a wrong value,
/// is a problem at the line that wrote it.
pub fn render_play(play: &mut Play, templater: &Templater, ctx: &Context) -> Vec<Diagnostic> {
    let mut problems = Vec::new();
    let templated = play.templated.clone();
    for t in &templated {
        // The others (`become`, `no_log`...) are inherited by the tasks and rendered on
        // each host, with its host and group variables: nothing to decide here.
        if !matches!(
            t.key.as_str(),
            "serial" | "gather_facts" | "force_handlers" | "max_fail_percentage"
        ) {
            continue;
        }
        let rendered = templater
            .render_value(&t.value, ctx)
            .map_err(|e| e.message.clone());
        let set = rendered.and_then(|value| match t.key.as_str() {
            "serial" => to_serial(&value).map(|s| play.serial = s),
            "gather_facts" => to_bool(&value).map(|b| play.gather_facts = b),
            "force_handlers" => to_bool(&value).map(|b| play.force_handlers = b),
            "max_fail_percentage" => to_percentage(&value).map(|p| play.max_fail_percentage = Some(p)),
            _ => Ok(()),
        });
        if let Err(why) = set {
            problems.push(problem(t, &why));
        }
    }
    problems
}

fn problem(t: &TemplatedKeyword, why: &str) -> Diagnostic {
    Diagnostic::new(format!("cannot work out the play's `{}: {}`: {why}", t.key, plain(&t.value)))
        .at(t.loc.clone())
        .with_snippet_from_disk()
        .hint(format!(
            "a play's `{}` is rendered before any host is touched, with the play's vars and -e values (not host or group variables)",
            t.key
        ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn booleans_read_as_ansible_reads_them() {
        for (v, want) in [
            (json!(true), Ok(true)),
            (json!("Yes"), Ok(true)),
            (json!(" on "), Ok(true)),
            (json!(1), Ok(true)),
            (json!("f"), Ok(false)),
            (json!(0), Ok(false)),
            (json!("False"), Ok(false)),
        ] {
            assert_eq!(to_bool(&v), want, "{v}");
        }
        assert!(to_bool(&json!("")).is_err());
        assert!(to_bool(&json!("maybe")).is_err());
        assert!(to_bool(&json!(2)).is_err());
    }

    #[test]
    fn serial_renders_to_batch_sizes() {
        assert_eq!(to_serial(&json!(2)), Ok(vec![Serial::Count(2)]));
        assert_eq!(to_serial(&json!("2")), Ok(vec![Serial::Count(2)]));
        assert_eq!(
            to_serial(&json!([1, "50%"])),
            Ok(vec![Serial::Count(1), Serial::Percent(50.0)])
        );
        assert!(to_serial(&json!("two"))
            .unwrap_err()
            .contains("not a number of hosts"));
        assert!(to_serial(&json!({"a": 1})).is_err());
    }

    #[test]
    fn percentages_render_with_or_without_the_sign() {
        assert_eq!(to_percentage(&json!(30)), Ok(30.0));
        assert_eq!(to_percentage(&json!("25%")), Ok(25.0));
        assert!(to_percentage(&json!("120")).is_err());
    }
}
