//! A [`Context`] as templates see it, without copying it: the root object looks variables
//! up in the shared layers on demand, containers become views into the layers, and a
//! string holding `{{`/`{%` is rendered when it is read, with the same context (Ansible's
//! lazy variables: `a: "{{ b }}"`, `b: [1, 2]` -> `a | length` is 2).

use super::{is_undefined_error, lone_expression, undefined_name, Engine, TemplateError, Templater, OMIT};
use crate::vars::Context;
use minijinja::value::{Enumerator, Object, ObjectRepr, ValueKind};
use minijinja::{Error, ErrorKind, Value};
use serde_json::Value as Json;
use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};

/// How deep variables may refer to templated variables before it counts as a cycle.
const MAX_LAZY_DEPTH: usize = 64;

/// One render's view of a context. Lives as long as the render (and the values it made).
pub(super) struct Scope {
    ctx: Context,
    engine: Arc<Engine>,
    lazy: Mutex<LazyState>,
}

#[derive(Default)]
struct LazyState {
    /// The templated variables being rendered right now, outermost first.
    stack: Vec<String>,
    /// Each templated variable rendered once per scope; `None`: it was undefined.
    rendered: HashMap<String, Option<Value>>,
    /// Why a templated variable came out undefined, by its path (`a`, `a.b`, `a[0]`).
    undefined_causes: HashMap<String, TemplateError>,
    /// The most recent of those, for errors that cannot name the path.
    last_cause: Option<TemplateError>,
}

impl fmt::Debug for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<variables>")
    }
}

impl Scope {
    pub fn new(ctx: Context, engine: Arc<Engine>) -> Arc<Scope> {
        Arc::new(Scope {
            ctx,
            engine,
            lazy: Mutex::new(LazyState::default()),
        })
    }

    /// The same variables with `layer` above them (a template lookup's own variables).
    pub fn with_layer(&self, layer: crate::vars::VarMap) -> Arc<Scope> {
        Scope::new(self.ctx.with(layer), self.engine.clone())
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    pub fn root(self: &Arc<Self>) -> Value {
        Value::from_dyn_object(self.clone())
    }

    fn state(&self) -> std::sync::MutexGuard<'_, LazyState> {
        self.lazy.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// A raw value from the context as a template value.
    fn convert(
        self: &Arc<Self>,
        name: &Arc<str>,
        path: Vec<Segment>,
        raw: &Json,
        data: bool,
    ) -> Option<Value> {
        Some(match raw {
            Json::Null => Value::from(()),
            Json::Bool(b) => Value::from(*b),
            Json::Number(n) => Value::from(minijinja::value::Serde(n)),
            Json::String(text) if !data && Templater::is_template(text) => {
                return self.render_lazy(label(name, &path), text);
            }
            Json::String(text) => Value::from(text.as_str()),
            Json::Array(_) | Json::Object(_) => Value::from_object(Node {
                scope: self.clone(),
                name: name.clone(),
                path,
                data,
            }),
        })
    }

    /// Render a templated variable's value. `None` when it is undefined because something
    /// it reads is (so `a is defined` is false); other errors become an invalid value,
    /// which fails the template that read it.
    fn render_lazy(self: &Arc<Self>, label: String, source: &str) -> Option<Value> {
        {
            let mut state = self.state();
            if let Some(done) = state.rendered.get(&label) {
                return done.clone();
            }
            if let Some(start) = state.stack.iter().position(|l| *l == label) {
                let cycle = state.stack[start..].join(" -> ");
                return Some(Value::from(Error::new(
                    ErrorKind::InvalidOperation,
                    format!("recursive loop in variables: {cycle} -> {label}"),
                )));
            }
            if state.stack.len() >= MAX_LAZY_DEPTH {
                return Some(Value::from(Error::new(
                    ErrorKind::InvalidOperation,
                    format!(
                        "variables refer to each other too deeply: {}",
                        state.stack.join(" -> ")
                    ),
                )));
            }
            state.stack.push(label.clone());
        }
        let result = self.engine.render_native(source, self.root());
        self.state().stack.pop();
        // Why it is undefined, if it is (worked out without the lock: that reads it too).
        let outcome = match result {
            Ok(value) if value.is_undefined() => {
                Err(self.undefined_result(lone_expression(source).unwrap_or(source).trim()))
            }
            Err(err) if is_undefined_error(&err) => Err(self.error(err)),
            Ok(value) => Ok(Some(value)),
            Err(err) => Ok(Some(Value::from(err))),
        };
        let mut state = self.state();
        let value = outcome.unwrap_or_else(|cause| {
            state.undefined_causes.insert(label.clone(), cause.clone());
            state.last_cause = Some(cause);
            None
        });
        state.rendered.insert(label, value.clone());
        value
    }

    /// minijinja's error as ours, naming the undefined variable behind it.
    pub fn error(&self, err: Error) -> TemplateError {
        let message = TemplateError::describe(&err);
        if !is_undefined_error(&err) {
            return TemplateError::new(message);
        }
        match undefined_name(&err) {
            Some(name) => self.explain_undefined(message, &name),
            None => TemplateError {
                message,
                undefined: None,
            },
        }
    }

    /// The error for an expression whose result is undefined (`when: x`, `"{{ x }}"`).
    pub fn undefined_result(&self, expr: &str) -> TemplateError {
        self.explain_undefined(format!("undefined value: `{expr}` is undefined"), expr)
    }

    /// Add why a templated variable was undefined, when that is what `name` is.
    fn explain_undefined(&self, message: String, name: &str) -> TemplateError {
        let state = self.state();
        match state.undefined_causes.get(&normalize_path(name)) {
            Some(cause) => TemplateError {
                message: format!("{message}\nwhile templating `{name}`: {}", cause.message),
                undefined: cause.undefined.clone(),
            },
            None => TemplateError {
                message,
                undefined: Some(name.to_owned()),
            },
        }
    }

    /// A template value as JSON, failing on undefined and invalid values inside it.
    pub fn to_json(&self, value: &Value) -> Result<Json, TemplateError> {
        let fail = |err: Error| self.error(err);
        Ok(match value.kind() {
            ValueKind::Undefined => {
                let last = self.state().last_cause.clone();
                return Err(last.unwrap_or_else(|| TemplateError::new("undefined value")));
            }
            ValueKind::None => Json::Null,
            ValueKind::Bool => Json::Bool(value.is_true()),
            ValueKind::Number => number_to_json(value),
            ValueKind::String => Json::String(value.as_str().unwrap_or_default().to_owned()),
            ValueKind::Bytes => {
                Json::String(String::from_utf8_lossy(value.as_bytes().unwrap_or_default()).into_owned())
            }
            ValueKind::Seq | ValueKind::Iterable => {
                let mut items = Vec::new();
                for item in value.try_iter().map_err(fail)? {
                    items.push(self.to_json(&item)?);
                }
                Json::Array(items)
            }
            ValueKind::Map => {
                let mut map = serde_json::Map::new();
                for key in value.try_iter().map_err(fail)? {
                    let item = value.get_item(&key).map_err(fail)?;
                    let key = match key.as_str() {
                        Some(text) => text.to_owned(),
                        None => key.to_string(),
                    };
                    map.insert(key, self.to_json(&item)?);
                }
                Json::Object(map)
            }
            ValueKind::Invalid => {
                let err = serde_json::to_value(value).err().map(|e| e.to_string());
                return Err(TemplateError::new(err.unwrap_or_else(|| "invalid value".into())));
            }
            _ => Json::String(value.to_string()),
        })
    }
}

pub(super) fn number_to_json(value: &Value) -> Json {
    if let Ok(n) = i64::try_from(value.clone()) {
        return Json::from(n);
    }
    if let Ok(n) = u64::try_from(value.clone()) {
        return Json::from(n);
    }
    let n = f64::try_from(value.clone()).unwrap_or(f64::NAN);
    serde_json::Number::from_f64(n).map_or(Json::Null, Json::Number)
}

impl Object for Scope {
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let name = key.as_str()?;
        match self.ctx.entry(name) {
            Some((raw, data)) => self.convert(&Arc::from(name), Vec::new(), raw, data),
            None => match name {
                "vars" => Some(self.root()),
                "omit" => Some(Value::from(OMIT)),
                _ => None,
            },
        }
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Values(self.ctx.keys().into_iter().map(Value::from).collect())
    }
}

/// A step from a variable down into its value.
#[derive(Debug, Clone)]
enum Segment {
    Key(Arc<str>),
    Index(usize),
}

/// A list or map inside a context variable, read in place.
struct Node {
    scope: Arc<Scope>,
    name: Arc<str>,
    path: Vec<Segment>,
    /// Read from a raw layer: strings inside are data, not templates.
    data: bool,
}

impl fmt::Debug for Node {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&label(&self.name, &self.path))
    }
}

impl Node {
    fn raw(&self) -> Option<&Json> {
        let mut value = self.scope.ctx.get(&self.name)?;
        for segment in &self.path {
            value = match (segment, value) {
                (Segment::Key(key), Json::Object(map)) => map.get(&**key)?,
                (Segment::Index(i), Json::Array(items)) => items.get(*i)?,
                _ => return None,
            };
        }
        Some(value)
    }

    fn child(&self, segment: Segment) -> Vec<Segment> {
        let mut path = self.path.clone();
        path.push(segment);
        path
    }
}

impl Object for Node {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        match self.raw() {
            Some(Json::Array(_)) => ObjectRepr::Seq,
            _ => ObjectRepr::Map,
        }
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        match self.raw()? {
            Json::Array(items) => {
                let index = key.as_usize()?;
                let path = self.child(Segment::Index(index));
                self.scope.convert(&self.name, path, items.get(index)?, self.data)
            }
            Json::Object(map) => {
                let key = key.as_str()?;
                let (key, raw) = map.get_key_value(key)?;
                let path = self.child(Segment::Key(Arc::from(key.as_str())));
                self.scope.convert(&self.name, path, raw, self.data)
            }
            _ => None,
        }
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        match self.raw() {
            Some(Json::Array(items)) => Enumerator::Seq(items.len()),
            Some(Json::Object(map)) => {
                Enumerator::Values(map.keys().map(|k| Value::from(k.as_str())).collect())
            }
            _ => Enumerator::Empty,
        }
    }

    fn enumerator_len(self: &Arc<Self>) -> Option<usize> {
        match self.raw() {
            Some(Json::Array(items)) => Some(items.len()),
            Some(Json::Object(map)) => Some(map.len()),
            _ => Some(0),
        }
    }
}

/// A path as minijinja describes it in messages: `a.b[0]`.
fn label(name: &str, path: &[Segment]) -> String {
    let mut out = name.to_owned();
    for segment in path {
        match segment {
            Segment::Key(key) => {
                out.push('.');
                out.push_str(key);
            }
            Segment::Index(i) => out.push_str(&format!("[{i}]")),
        }
    }
    out
}

/// `a["b"]` -> `a.b`, so a path in a message matches a [`label`].
fn normalize_path(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    let mut rest = path;
    while let Some(start) = rest.find("[\"") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        match after.find("\"]") {
            Some(end) => {
                out.push('.');
                out.push_str(&after[..end]);
                rest = &after[end + 2..];
            }
            None => {
                out.push_str(&rest[start..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}
