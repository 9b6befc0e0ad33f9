//! Templating with minijinja, Ansible's way: undefined is an error, `{{ expr }}` alone keeps
//! its type (a list stays a list), Ansible's filters and tests, lazy variables.
//!
//! The pieces: `scope.rs` shows a [`Context`] to templates without copying it and renders
//! templated variables when they are read; `filters.rs`, `predicates.rs` and `methods.rs`
//! (with `text.rs`) are Ansible's filters, tests and the Python string/dict methods playbooks call;
//! `pyrepr.rs` prints values as Python would (`True`, `['a']`, `to_json`, `to_yaml`);
//! `analysis.rs` finds the variables a template reads, for the validator.

mod analysis;
mod crypt;
mod filters;
mod globals;
pub(crate) use globals::local_strftime;
mod lookups;
#[cfg(test)]
pub(crate) use lookups::glob_match;
pub(crate) use lookups::{glob_files, search_candidates};
mod methods;
mod predicates;
mod pyrandom;
mod pyrepr;
pub(crate) use pyrepr::py_str;
mod scope;
mod search;
pub(crate) use search::template_search_path;
mod source;
#[cfg(test)]
mod tests;
mod text;

use crate::vars::Context;
use minijinja::value::ValueKind;
use minijinja::{AutoEscape, Environment, ErrorKind, Expression, Template};
use scope::Scope;
use serde_json::Value;
use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock, RwLock};

/// The value of Ansible's `omit` variable: a module argument equal to it is left out.
pub const OMIT: &str = "__omit_place_holder__zdd";

/// The name task strings carry in template error messages.
const STRING_TEMPLATE_NAME: &str = "<template>";

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct TemplateError {
    /// minijinja's message, with its snippet where it has one.
    pub message: String,
    /// The undefined variable's name when that is the problem: the expression minijinja
    /// names (`foo`, or `foo.bar` when `foo` has no key `bar`). When a variable's own
    /// templated value failed (`a: "{{ b }}"`, `b` undefined), the innermost culprit (`b`).
    pub undefined: Option<String>,
}

impl TemplateError {
    fn new(message: impl Into<String>) -> Self {
        TemplateError {
            message: message.into(),
            undefined: None,
        }
    }

    /// minijinja's error with its source snippet (`{:#}`), but the variables it lists by
    /// name only: their values may be secrets (a vaulted password, a `no_log` task's
    /// argument) and an error message goes to the output, the journal and the JUnit report.
    pub(crate) fn describe(err: &minijinja::Error) -> String {
        names_only(&format!("{err:#}"))
    }
}

/// Renders templates. Cheap to share across host tasks (`Send + Sync`): every distinct
/// source is compiled once and kept.
pub struct Templater {
    engine: Arc<Engine>,
}

/// The compiled-source caches. Shared by a [`Templater`] and the scopes it renders with.
struct Engine {
    /// Task strings by source; template files by `name\0source`.
    templates: RwLock<HashMap<String, Template<'static, 'static>>>,
    /// Bare expressions by source; `None` for a source that is not an expression.
    expressions: RwLock<HashMap<String, Option<Arc<Expression<'static, 'static>>>>>,
    /// How many sources were compiled (templates and expressions), for tests.
    compilations: AtomicUsize,
}

/// The one minijinja environment: filters, tests and syntax never change, so it is built
/// once and lives for the whole process (compiled sources borrow it).
pub(crate) fn environment() -> &'static Environment<'static> {
    static ENV: OnceLock<Environment<'static>> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut env = Environment::new();
        env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
        env.set_debug(true);
        // Ansible's Templar: trim_blocks on, and a source's trailing newline is kept.
        let syntax = minijinja::syntax::SyntaxConfig::builder()
            .trim_blocks(true)
            .keep_trailing_newline(true)
            .build()
            .expect("static syntax config");
        env.set_syntax(syntax);
        env.set_auto_escape_callback(|_| AutoEscape::None);
        env.set_formatter(pyrepr::formatter);
        env.set_unknown_method_callback(methods::call_method);
        filters::register(&mut env);
        globals::register(&mut env);
        lookups::register(&mut env);
        predicates::register(&mut env);
        // `{% include %}`, `{% import %}`, `{% from %}` and `{% extends %}` in a template
        // file: the name is looked up in the render's search path (see `render_file_in`)
        // and the template is kept under its absolute path.
        env.set_path_join_callback(|name, _parent| match search::resolve(name) {
            Some(path) => std::borrow::Cow::Owned(path),
            None => std::borrow::Cow::Borrowed(name),
        });
        env.set_loader(|name| {
            let path = std::path::Path::new(name);
            if !path.is_absolute() || !path.is_file() {
                return Ok(None);
            }
            let text = std::fs::read_to_string(path).map_err(|e| {
                minijinja::Error::new(ErrorKind::TemplateNotFound, format!("cannot read {name}: {e}"))
            })?;
            // Ansible renders a template file keeping its trailing newline, but the
            // templates it includes lose theirs (Jinja's `keep_trailing_newline` is off).
            let text = text
                .strip_suffix("\r\n")
                .or_else(|| text.strip_suffix('\n'))
                .or_else(|| text.strip_suffix('\r'))
                .unwrap_or(&text);
            let normalized = source::normalize(text);
            Ok(Some(
                analysis::guard_lookup_chains(&normalized, false).into_owned(),
            ))
        });
        env
    })
}

/// Sources are leaked so that compiled templates can borrow them for the whole process.
/// The set of distinct sources is bounded by the playbook and inventory, each kept once.
fn leak(text: &str) -> &'static str {
    Box::leak(text.to_owned().into_boxed_str())
}

impl Engine {
    fn template(&self, name: &str, source: &str) -> Result<Template<'static, 'static>, minijinja::Error> {
        let key = if name == STRING_TEMPLATE_NAME {
            source.to_owned()
        } else {
            format!("{name}\0{source}")
        };
        if let Some(template) = self.templates.read().expect("template cache").get(&key) {
            return Ok(template.clone());
        }
        let name: &'static str = if name == STRING_TEMPLATE_NAME {
            STRING_TEMPLATE_NAME
        } else {
            leak(name)
        };
        let normalized = source::normalize(source);
        let guarded = analysis::guard_lookup_chains(&normalized, false);
        let template = environment().template_from_named_str(name, leak(&guarded))?;
        self.compilations.fetch_add(1, Ordering::Relaxed);
        let mut cache = self.templates.write().expect("template cache");
        Ok(cache.entry(key).or_insert(template).clone())
    }

    /// The compiled bare expression, or `None` when `source` does not parse as one.
    fn expression(&self, source: &str) -> Option<Arc<Expression<'static, 'static>>> {
        if let Some(expr) = self.expressions.read().expect("expression cache").get(source) {
            return expr.clone();
        }
        let normalized = source::normalize_expression(source);
        let guarded = analysis::guard_lookup_chains(&normalized, true);
        let expr = environment()
            .compile_expression(leak(&guarded))
            .ok()
            .map(Arc::new);
        self.compilations.fetch_add(1, Ordering::Relaxed);
        let mut cache = self.expressions.write().expect("expression cache");
        cache.entry(source.to_owned()).or_insert(expr).clone()
    }

    /// Render `source` as Ansible does for a variable or an argument: a lone `{{ expr }}`
    /// keeps its type, anything else becomes a string.
    /// A string's backslashes are YAML's (see [`source::escape_backslashes`]).
    fn render_native(
        &self,
        source: &str,
        root: minijinja::Value,
    ) -> Result<minijinja::Value, minijinja::Error> {
        self.render_native_as(STRING_TEMPLATE_NAME, &source::escape_backslashes(source), root)
    }

    /// The same for a template file's text (the `template` lookup), named `name`.
    fn render_native_as(
        &self,
        name: &str,
        source: &str,
        root: minijinja::Value,
    ) -> Result<minijinja::Value, minijinja::Error> {
        if let Some(inner) = lone_expression(source) {
            if let Some(expr) = self.expression(inner) {
                return expr.eval(root);
            }
        }
        let text = self.template(name, source)?.render(root)?;
        Ok(minijinja::Value::from(keep_trailing_newlines(source, text)))
    }
}

/// As Ansible: the text ends with as many newlines as its source did (a `{% endif %}` on
/// the last line, trimmed by `trim_blocks`, does not eat the file's final newline).
fn keep_trailing_newlines(source: &str, mut text: String) -> String {
    let count = |s: &str| s.len() - s.trim_end_matches('\n').len();
    let missing = count(source).saturating_sub(count(&text));
    text.extend(std::iter::repeat_n('\n', missing));
    text
}

/// minijinja's debug block `Referenced variables: { name: value, ... }` reduced to the
/// names. Fields are printed one per line at four spaces; deeper lines belong to a value.
fn names_only(text: &str) -> String {
    const OPEN: &str = "Referenced variables: {";
    let mut out = String::with_capacity(text.len());
    let mut names: Option<Vec<&str>> = None;
    for line in text.split_inclusive('\n') {
        let bare = line.trim_end_matches('\n');
        match &mut names {
            None if bare == OPEN => names = Some(Vec::new()),
            None => out.push_str(line),
            Some(list) if bare == "}" => {
                out.push_str(&format!(
                    "Referenced variables (values not shown): {}\n",
                    list.join(", ")
                ));
                names = None;
            }
            Some(list) => {
                let field = bare.strip_prefix("    ").filter(|f| !f.starts_with(' '));
                if let Some(name) = field.and_then(|f| f.split_once(':')).map(|(n, _)| n) {
                    list.push(name);
                }
            }
        }
    }
    if let Some(list) = names {
        // Never closed (cut short): still no values.
        out.push_str(&format!(
            "Referenced variables (values not shown): {}\n",
            list.join(", ")
        ));
    }
    out
}

/// The expression inside a string that is exactly one `{{ expr }}` (whitespace around it
/// allowed). Whether it really is one expression is for the parser to say.
fn lone_expression(text: &str) -> Option<&str> {
    let inner = text.trim().strip_prefix("{{")?.strip_suffix("}}")?;
    if inner.starts_with('-') || inner.ends_with('-') || inner.contains("{%") || inner.contains("{#") {
        return None;
    }
    Some(inner)
}

impl Templater {
    pub fn new() -> Self {
        Templater {
            engine: Arc::new(Engine {
                templates: RwLock::new(HashMap::new()),
                expressions: RwLock::new(HashMap::new()),
                compilations: AtomicUsize::new(0),
            }),
        }
    }

    /// Does this string need rendering at all?
    pub fn is_template(text: &str) -> bool {
        text.contains("{{") || text.contains("{%")
    }

    /// How many distinct sources this templater has compiled so far.
    pub fn compilations(&self) -> usize {
        self.engine.compilations.load(Ordering::Relaxed)
    }

    fn scope(&self, ctx: &Context) -> Arc<Scope> {
        Scope::new(ctx.clone(), self.engine.clone())
    }

    pub fn render_str(&self, text: &str, ctx: &Context) -> Result<String, TemplateError> {
        if !Self::is_template(text) {
            return Ok(text.to_owned());
        }
        self.render_file(STRING_TEMPLATE_NAME, &source::escape_backslashes(text), ctx)
    }

    /// Render every string inside `value`. A string that is exactly one `{{ expr }}`
    /// becomes the expression's value with its type.
    pub fn render_value(&self, value: &Value, ctx: &Context) -> Result<Value, TemplateError> {
        let scope = self.scope(ctx);
        render_json(&scope, value)
    }

    /// Evaluate a bare expression (`when`, `until`, `failed_when`, `debug: var=`).
    /// The deprecated `"{{ expr }}"` form is accepted too.
    pub fn eval(&self, expr: &str, ctx: &Context) -> Result<Value, TemplateError> {
        let scope = self.scope(ctx);
        let value = self.eval_in(&scope, expr)?;
        scope.to_json(&value)
    }

    /// A condition as Ansible reads it (truthiness; the strings "yes"/"no"... as booleans).
    pub fn eval_bool(&self, expr: &str, ctx: &Context) -> Result<bool, TemplateError> {
        let scope = self.scope(ctx);
        let value = self.eval_in(&scope, expr)?;
        Ok(truthy(&value))
    }

    fn eval_in(&self, scope: &Arc<Scope>, expr: &str) -> Result<minijinja::Value, TemplateError> {
        let expr = expr.trim();
        let root = scope.root();
        let value = if Self::is_template(expr) {
            self.engine.render_native(expr, root)
        } else {
            match self.engine.expression(expr) {
                Some(compiled) => compiled.eval(root),
                // Compile again for minijinja's own syntax error message.
                None => environment().compile_expression(expr).and_then(|e| e.eval(root)),
            }
        };
        let value = value.map_err(|err| scope.error(err))?;
        if value.is_undefined() {
            return Err(scope.undefined_result(lone_expression(expr).unwrap_or(expr).trim()));
        }
        Ok(value)
    }

    /// Render a template file's contents (`template` module); `name` is for messages.
    pub fn render_file(&self, name: &str, source: &str, ctx: &Context) -> Result<String, TemplateError> {
        let scope = self.scope(ctx);
        let template = self
            .engine
            .template(name, source)
            .map_err(|err| scope.error(err))?;
        template
            .render(scope.root())
            .map(|text| keep_trailing_newlines(source, text))
            .map_err(|err| scope.error(err))
    }

    /// Render a template file found at `path`; its `{% include %}`s (and imports) are
    /// looked up in `search`, in order, as Ansible's template lookup does.
    pub fn render_file_in(
        &self,
        name: &str,
        source: &str,
        search: &[std::path::PathBuf],
        ctx: &Context,
    ) -> Result<String, TemplateError> {
        let _guard = search::SearchPath::set(search.to_vec());
        self.render_file(name, source, ctx)
    }

    /// The templates a template file names in `include`, `import`, `from` and `extends`
    /// with a literal name, with their lines (the optional `ignore missing` ones left out).
    pub fn templates_referenced(text: &str) -> Vec<(String, usize)> {
        analysis::template_refs(text, environment())
    }

    /// The top-level variable names a template reads without defining them itself,
    /// minus those it only tests (`x is defined`, `x | default(..)`). For validation.
    pub fn variables_read(&self, text: &str) -> Result<BTreeSet<String>, TemplateError> {
        analysis::template_reads(text, environment())
    }

    /// The variables a condition proves defined when it holds (`x is defined and ...`).
    pub fn defined_when_true(expr: &str) -> BTreeSet<String> {
        analysis::defined_when_true(expr)
    }

    /// The same for a bare expression (or the deprecated `"{{ expr }}"` form).
    pub fn expr_variables_read(&self, expr: &str) -> Result<BTreeSet<String>, TemplateError> {
        if Self::is_template(expr) {
            return self.variables_read(expr);
        }
        analysis::expression_reads(expr, environment())
    }
}

impl Default for Templater {
    fn default() -> Self {
        Templater::new()
    }
}

fn render_json(scope: &Arc<Scope>, value: &Value) -> Result<Value, TemplateError> {
    Ok(match value {
        Value::String(text) if Templater::is_template(text) => {
            let rendered = scope
                .engine()
                .render_native(text, scope.root())
                .map_err(|err| scope.error(err))?;
            if rendered.is_undefined() {
                let expr = lone_expression(text).unwrap_or(text).trim();
                return Err(scope.undefined_result(expr));
            }
            scope.to_json(&rendered)?
        }
        Value::Array(items) => Value::Array(
            items
                .iter()
                .map(|item| render_json(scope, item))
                .collect::<Result<_, _>>()?,
        ),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| Ok((k.clone(), render_json(scope, v)?)))
                .collect::<Result<_, TemplateError>>()?,
        ),
        other => other.clone(),
    })
}

/// Ansible's truthiness of a condition's result: booleans as they are, the strings a
/// variable may hold ("yes", "off", "0", ...) as the booleans they spell, then Jinja's.
fn truthy(value: &minijinja::Value) -> bool {
    if value.kind() == ValueKind::String {
        let text = value.as_str().unwrap_or_default().trim().to_ascii_lowercase();
        return match text.as_str() {
            "yes" | "y" | "on" | "true" | "1" => true,
            "no" | "n" | "off" | "false" | "0" | "" => false,
            _ => true,
        };
    }
    value.is_true()
}

/// The name an undefined-value error is about: minijinja says "`foo.bar` is undefined".
fn undefined_name(err: &minijinja::Error) -> Option<String> {
    let detail = err.detail()?;
    let end = detail.find("` is undefined")?;
    let start = detail[..end].rfind('`')? + 1;
    Some(detail[start..end].to_owned())
}

fn is_undefined_error(err: &minijinja::Error) -> bool {
    err.kind() == ErrorKind::UndefinedError || undefined_name(err).is_some()
}
