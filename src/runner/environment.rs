//! `environment` as Ansible merges it: the layers of the play, its blocks (and roles) and
//! the task, outermost first, each templated to a mapping; a later layer's key wins.

use super::task::undefined_message;
use crate::template::Templater;
use crate::vars::Context;
use indexmap::IndexMap;
use serde_json::Value;

/// The variables to export for a task whose `environment` layers are `layers` (outermost
/// first). A layer that does not render to a mapping is an error, as in Ansible; values
/// are exported as Python's `str()` writes them (`True`, `1`).
pub fn merge_environment(
    templater: &Templater,
    layers: &[Value],
    ctx: &Context,
) -> Result<Vec<(String, String)>, String> {
    let mut merged: IndexMap<String, String> = IndexMap::new();
    for layer in layers {
        let rendered = templater
            .render_value(layer, ctx)
            .map_err(|e| undefined_message(&e))?;
        match rendered {
            Value::Object(map) => {
                for (name, value) in map {
                    if !crate::parse::kv::is_identifier(&name) {
                        return Err(format!("environment: `{name}` is not a valid variable name"));
                    }
                    merged.insert(name, python_str(&value));
                }
            }
            Value::Null => {}
            other => {
                return Err(format!(
                    "environment must be a dictionary, received {}",
                    python_str(&other)
                ))
            }
        }
    }
    Ok(merged.into_iter().collect())
}

fn python_str(value: &Value) -> String {
    crate::template::py_str(&minijinja::Value::from(minijinja::value::Serde(value)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vars::VarMap;
    use serde_json::json;
    use std::sync::Arc;

    #[test]
    fn later_layers_win_key_by_key_and_templates_render() {
        let templater = Templater::new();
        let mut ctx = Context::new();
        ctx.push(Arc::new(VarMap::from([
            (
                "proxy_env".into(),
                json!({"http_proxy": "http://p:3128", "DEBUG": true}),
            ),
            ("who".into(), json!("task")),
        ])));
        let layers = [
            json!("{{ proxy_env }}"),
            json!({"LEVEL": "block", "PORT": 8080}),
            json!({"LEVEL": "{{ who }}"}),
        ];
        let env = merge_environment(&templater, &layers, &ctx).unwrap();
        assert_eq!(
            env,
            [
                ("http_proxy".to_owned(), "http://p:3128".to_owned()),
                ("DEBUG".to_owned(), "True".to_owned()),
                ("LEVEL".to_owned(), "task".to_owned()),
                ("PORT".to_owned(), "8080".to_owned()),
            ]
        );
        let err = merge_environment(&templater, &[json!("{{ who }}")], &ctx).unwrap_err();
        assert_eq!(err, "environment must be a dictionary, received task");
    }
}
