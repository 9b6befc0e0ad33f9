//! Variables as the runner sees them: layers of maps, lowest precedence first.
//!
//! Layers are shared (`Arc`), so the big ones (groups, hostvars) cost nothing per host.
//! Values are raw: a string may still hold `{{ ... }}`; the templater renders it lazily
//! when it is read, as Ansible does.

use indexmap::IndexMap;
use serde_json::Value;
use std::sync::Arc;

pub type VarMap = IndexMap<String, Value>;

#[derive(Debug, Clone, Default)]
pub struct Context {
    layers: Vec<Layer>,
}

#[derive(Debug, Clone)]
struct Layer {
    vars: Arc<VarMap>,
    /// Values that are data, never templates (registered results, facts): a `{{` in a
    /// command's output must not be rendered.
    raw: bool,
}

impl Context {
    pub fn new() -> Self {
        Context::default()
    }

    /// Add a layer above all existing ones.
    pub fn push(&mut self, layer: Arc<VarMap>) {
        self.layers.push(Layer {
            vars: layer,
            raw: false,
        });
    }

    /// Add a layer of data that is never templated (registered results, facts).
    pub fn push_raw(&mut self, layer: Arc<VarMap>) {
        self.layers.push(Layer {
            vars: layer,
            raw: true,
        });
    }

    /// A copy of this context with one more layer on top.
    pub fn with(&self, layer: VarMap) -> Context {
        let mut ctx = self.clone();
        ctx.push(Arc::new(layer));
        ctx
    }

    /// A copy with a single variable on top (`item`, a registered result, ...).
    pub fn with_var(&self, name: &str, value: Value) -> Context {
        let mut layer = VarMap::new();
        layer.insert(name.to_owned(), value);
        self.with(layer)
    }

    /// The highest-precedence value of `name`, raw (not yet templated).
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.entry(name).map(|(v, _)| v)
    }

    /// The value of `name` and whether it is raw data (never to be templated).
    pub fn entry(&self, name: &str) -> Option<(&Value, bool)> {
        self.layers
            .iter()
            .rev()
            .find_map(|l| l.vars.get(name).map(|v| (v, l.raw)))
    }

    pub fn contains(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// Every variable name visible, each once.
    pub fn keys(&self) -> Vec<&str> {
        let mut seen = indexmap::IndexSet::new();
        for layer in &self.layers {
            for k in layer.vars.keys() {
                seen.insert(k.as_str());
            }
        }
        seen.into_iter().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn upper_layers_win_and_keys_are_unique() {
        let mut ctx = Context::new();
        ctx.push(Arc::new(VarMap::from([
            ("a".into(), json!(1)),
            ("b".into(), json!(2)),
        ])));
        let ctx = ctx.with_var("a", json!(10));
        assert_eq!(ctx.get("a"), Some(&json!(10)));
        assert_eq!(ctx.get("b"), Some(&json!(2)));
        assert_eq!(ctx.keys(), vec!["a", "b"]);
        assert!(!ctx.contains("c"));
    }

    #[test]
    fn raw_layers_are_marked() {
        let mut ctx = Context::new();
        ctx.push(Arc::new(VarMap::from([("a".into(), json!("{{ b }}"))])));
        ctx.push_raw(Arc::new(VarMap::from([(
            "out".into(),
            json!("{{ not a template }}"),
        )])));
        assert_eq!(ctx.entry("a"), Some((&json!("{{ b }}"), false)));
        assert_eq!(ctx.entry("out"), Some((&json!("{{ not a template }}"), true)));
    }
}

/// Ansible's truthiness of a value: `yes`/`on`/`true`/`1` strings are true, empty
/// containers and zero are false.
pub fn truthy(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Value::String(s) => matches!(
            s.trim().to_ascii_lowercase().as_str(),
            "yes" | "on" | "true" | "1" | "y" | "t"
        ),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
    }
}

#[cfg(test)]
mod truthy_tests {
    use super::truthy;
    use serde_json::json;

    #[test]
    fn strings_follow_ansible_booleans() {
        for yes in ["yes", "True", "on", "1"] {
            assert!(truthy(&json!(yes)), "{yes}");
        }
        for no in ["no", "false", "off", "0", ""] {
            assert!(!truthy(&json!(no)), "{no}");
        }
        assert!(!truthy(&json!([])));
        assert!(truthy(&json!(2)));
    }
}
