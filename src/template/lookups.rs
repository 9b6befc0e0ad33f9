//! `lookup()`, `query()` and `q()`: Ansible's lookup plugins that read the controller
//! (`file`, `env`, `template`, `pipe`, `vars`, `first_found`, `fileglob`, `lines`, `items`,
//! `dict`, `password`), with Ansible's `wantlist` and `errors=strict|warn|ignore`.
//!
//! Relative file names are searched as Ansible's `path_dwim_relative_stack` does, in the
//! task's `ansible_search_path` (the role, the task file's folder, the playbook's folder),
//! each with the lookup's subfolder (`files/`, `templates/`) first.

use super::filters::invalid;
use super::pyrandom::{PyRandom, Seed};
use super::pyrepr::py_str;
use super::scope::Scope;
use minijinja::value::{Kwargs, Rest, ValueKind};
use minijinja::{Environment, Error, ErrorKind, State, Value};
use std::path::{Path, PathBuf};

/// The lookups zdd runs itself, for messages and the README.
pub const LOOKUPS: &[&str] = &[
    "dict",
    "env",
    "file",
    "fileglob",
    "first_found",
    "items",
    "lines",
    "password",
    "pipe",
    "template",
    "vars",
];

pub fn register(env: &mut Environment<'static>) {
    env.add_function(
        "lookup",
        |state: &State, name: String, terms: Rest<Value>, kwargs: Kwargs| {
            run(state, &name, &terms, kwargs, false)
        },
    );
    let query = |state: &State, name: String, terms: Rest<Value>, kwargs: Kwargs| {
        run(state, &name, &terms, kwargs, true)
    };
    env.add_function("query", query);
    env.add_function("q", query);
}

/// One lookup call: the plugin's list, then Ansible's shaping of it. `query` always
/// wants the list; `lookup` gives one item alone and joins several strings with commas.
fn run(state: &State, name: &str, terms: &[Value], kwargs: Kwargs, query: bool) -> Result<Value, Error> {
    let wantlist = query || kwargs.get::<Option<bool>>("wantlist")?.unwrap_or(false);
    let errors = kwargs
        .get::<Option<String>>("errors")?
        .unwrap_or_else(|| "strict".into());
    let plugin = name.strip_prefix("ansible.builtin.").unwrap_or(name);
    if !LOOKUPS.contains(&plugin) {
        return Err(invalid(format!(
            "lookup plugin `{name}` is not supported by zdd (it has: {})",
            LOOKUPS.join(", ")
        )));
    }
    let found = plugin_run(state, plugin, terms, &kwargs).and_then(|list| {
        kwargs.assert_all_used()?;
        Ok(list)
    });
    let list = match found {
        Ok(list) => list,
        Err(err) if errors == "warn" || errors == "ignore" => {
            if errors == "warn" {
                eprintln!(
                    "[WARNING]: An error occurred while running the lookup plugin '{plugin}': {}",
                    err.detail().unwrap_or_default()
                );
            }
            return Ok(if wantlist {
                Value::from(Vec::<Value>::new())
            } else {
                Value::from(())
            });
        }
        Err(err) => {
            return Err(Error::new(
                err.kind(),
                format!(
                    "the lookup plugin '{plugin}' failed: {}",
                    err.detail().unwrap_or("an error")
                ),
            ))
        }
    };
    if wantlist {
        return Ok(Value::from(list));
    }
    Ok(match list.len() {
        0 => Value::from(list),
        1 => list.into_iter().next().unwrap_or_default(),
        _ if list.iter().all(|v| v.kind() == ValueKind::String) => {
            Value::from(list.iter().map(py_str).collect::<Vec<_>>().join(","))
        }
        _ => Value::from(list),
    })
}

fn plugin_run(state: &State, plugin: &str, terms: &[Value], kwargs: &Kwargs) -> Result<Vec<Value>, Error> {
    match plugin {
        "env" => env_lookup(terms, kwargs),
        "file" => file_lookup(state, terms, kwargs),
        "template" => template_lookup(state, terms, kwargs),
        "pipe" => command_lookup(state, terms, "pipe"),
        "lines" => command_lookup(state, terms, "lines"),
        "vars" => vars_lookup(state, terms, kwargs),
        "items" => Ok(flatten_once(terms)),
        "dict" => dict_lookup(terms),
        "first_found" => first_found_lookup(state, terms, kwargs),
        "fileglob" => fileglob_lookup(state, terms),
        "password" => password_lookup(state, terms, kwargs),
        _ => unreachable!("checked against LOOKUPS"),
    }
}

fn text_terms(terms: &[Value]) -> Vec<String> {
    terms.iter().map(py_str).collect()
}

fn flatten_once(terms: &[Value]) -> Vec<Value> {
    let mut out = Vec::new();
    for term in terms {
        if term.kind() == ValueKind::Seq {
            out.extend(term.try_iter().into_iter().flatten());
        } else {
            out.push(term.clone());
        }
    }
    out
}

/// `env`: each variable's value (the first word of a term names it), or `default=` ('').
fn env_lookup(terms: &[Value], kwargs: &Kwargs) -> Result<Vec<Value>, Error> {
    let default = kwargs.get::<Option<Value>>("default")?.unwrap_or(Value::from(""));
    Ok(text_terms(terms)
        .iter()
        .map(|term| {
            let name = term.split_whitespace().next().unwrap_or_default();
            std::env::var(name)
                .map(Value::from)
                .unwrap_or_else(|_| default.clone())
        })
        .collect())
}

/// A variable of the render, as a string list of paths.
fn var_paths(state: &State, name: &str) -> Option<Vec<PathBuf>> {
    let value = state.lookup(name).filter(|v| !v.is_undefined() && !v.is_none())?;
    Some(match value.kind() {
        ValueKind::Seq => value
            .try_iter()
            .ok()?
            .map(|v| PathBuf::from(py_str(&v)))
            .collect(),
        _ => vec![PathBuf::from(py_str(&value))],
    })
}

/// The playbook's folder: Ansible's loader base directory.
fn basedir(state: &State) -> PathBuf {
    var_paths(state, "playbook_dir")
        .and_then(|p| p.into_iter().next())
        .unwrap_or_else(|| PathBuf::from("."))
}

fn expand_home(name: &str) -> PathBuf {
    match name.strip_prefix('~') {
        Some(rest) if rest.is_empty() || rest.starts_with('/') => {
            let home = std::env::var("HOME").unwrap_or_default();
            PathBuf::from(format!("{home}{rest}"))
        }
        _ => PathBuf::from(name),
    }
}

/// Where Ansible looks for `name` with a lookup's `subdir`, in order (its
/// `path_dwim_relative_stack`): for each search path `P`, `P/subdir/name` then `P/name`
/// (inside a role's `tasks/`, the role's `subdir/` first), the playbook's folder last.
pub fn search_candidates(
    paths: &[PathBuf],
    basedir: &Path,
    subdir: &str,
    name: &str,
    is_role: bool,
) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let names_subdir = name.split('/').next() == Some(subdir) || subdir.is_empty();
    for path in paths {
        if let Some(parent) = path.parent().filter(|p| is_role && p.ends_with("tasks")) {
            if let Some(role) = parent.parent() {
                out.push(role.join(subdir).join(name));
            }
            out.push(parent.join(name));
        }
        if !names_subdir {
            out.push(path.join(subdir).join(name));
        }
        out.push(path.join(name));
    }
    if !names_subdir {
        out.push(basedir.join(subdir).join(name));
    }
    out.push(basedir.join(name));
    out
}

/// The file a lookup means by `name`, or `None`.
fn find_file(state: &State, subdir: &str, name: &str) -> Option<PathBuf> {
    if name.starts_with('/') || name.starts_with('~') {
        let path = expand_home(name);
        return path.exists().then_some(path);
    }
    let base = basedir(state);
    let role_path = var_paths(state, "role_path").and_then(|p| p.into_iter().next());
    let paths = var_paths(state, "ansible_search_path")
        .unwrap_or_else(|| vec![role_path.clone().unwrap_or_else(|| base.clone())]);
    search_candidates(&paths, &base, subdir, name, role_path.is_some())
        .into_iter()
        .find(|p| p.exists())
}

/// A controller file's text, decrypted when it is vaulted (and then a secret).
fn read_text(path: &Path) -> Result<String, Error> {
    let bytes = crate::vault::read_local_file(path).map_err(invalid)?;
    String::from_utf8(bytes).map_err(|_| invalid(format!("{} is not UTF-8 text", path.display())))
}

/// `file`: each file's text, `rstrip=true` and `lstrip=false` by default.
fn file_lookup(state: &State, terms: &[Value], kwargs: &Kwargs) -> Result<Vec<Value>, Error> {
    let rstrip = kwargs.get::<Option<bool>>("rstrip")?.unwrap_or(true);
    let lstrip = kwargs.get::<Option<bool>>("lstrip")?.unwrap_or(false);
    let mut out = Vec::new();
    for term in text_terms(terms) {
        let Some(path) = find_file(state, "files", &term) else {
            return Err(invalid(format!(
                "Unable to access the file '{term}': File not found (looked in files/ and beside the role, the task file and the playbook)."
            )));
        };
        let mut text = read_text(&path)?;
        if rstrip {
            text.truncate(text.trim_end().len());
        }
        if lstrip {
            text = text.trim_start().to_owned();
        }
        out.push(Value::from(text));
    }
    Ok(out)
}

/// `template`: each template rendered with the task's variables (plus `template_vars`),
/// its includes found in `templates/` of the search path; a lone `{{ expr }}` keeps its type.
fn template_lookup(state: &State, terms: &[Value], kwargs: &Kwargs) -> Result<Vec<Value>, Error> {
    let extra = kwargs.get::<Option<Value>>("template_vars")?;
    // Deprecated no-ops in Ansible 2.19.
    let _ = kwargs.get::<Option<Value>>("convert_data")?;
    let _ = kwargs.get::<Option<Value>>("jinja2_native")?;
    for option in [
        "trim_blocks",
        "variable_start_string",
        "variable_end_string",
        "comment_start_string",
        "comment_end_string",
    ] {
        if kwargs.get::<Option<Value>>(option)?.is_some() {
            return Err(invalid(format!(
                "the template lookup's `{option}` is not supported by zdd"
            )));
        }
    }
    let root = state.lookup("vars").unwrap_or_default();
    let Some(scope) = root.downcast_object_ref::<Scope>() else {
        return Err(invalid("the template lookup needs the task's variables"));
    };
    let search_base = var_paths(state, "ansible_search_path").unwrap_or_else(|| vec![basedir(state)]);
    let mut out = Vec::new();
    for term in text_terms(terms) {
        let Some(path) = find_file(state, "templates", &term) else {
            return Err(invalid(format!(
                "the template file {term} could not be found for the lookup"
            )));
        };
        let source = read_text(&path)?;
        let mut layer = crate::vars::VarMap::new();
        layer.insert("template_path".into(), serde_json::json!(term));
        layer.insert(
            "template_fullpath".into(),
            serde_json::json!(path.display().to_string()),
        );
        if state.lookup("ansible_managed").is_none_or(|v| v.is_undefined()) {
            layer.insert("ansible_managed".into(), serde_json::json!("Ansible managed"));
        }
        if let Some(extra) = extra.as_ref().filter(|e| e.kind() == ValueKind::Map) {
            let json = scope.to_json(extra).map_err(|e| invalid(e.message))?;
            if let serde_json::Value::Object(map) = json {
                layer.extend(map);
            }
        }
        let mut search: Vec<PathBuf> = path.parent().map(Path::to_path_buf).into_iter().collect();
        for dir in &search_base {
            search.push(dir.join("templates"));
            search.push(dir.clone());
        }
        let _guard = super::search::SearchPath::set(search);
        let inner = scope.with_layer(layer);
        let value = inner
            .engine()
            .render_native_as(&path.display().to_string(), &source, inner.root())
            .map_err(|e| invalid(super::TemplateError::describe(&e)))?;
        out.push(value);
    }
    Ok(out)
}

/// `pipe` (the output, trailing whitespace cut) and `lines` (one item per line): each
/// term runs in `sh -c` on the controller, in the playbook's folder.
fn command_lookup(state: &State, terms: &[Value], plugin: &str) -> Result<Vec<Value>, Error> {
    let dir = basedir(state);
    let mut out = Vec::new();
    for command in text_terms(terms) {
        let output = std::process::Command::new("sh")
            .arg("-c")
            .arg(&command)
            .current_dir(&dir)
            .stdin(std::process::Stdio::null())
            .stderr(std::process::Stdio::inherit())
            .output()
            .map_err(|e| invalid(format!("lookup_plugin.{plugin}({command}): {e}")))?;
        if !output.status.success() {
            return Err(invalid(format!(
                "lookup_plugin.{plugin}({command}) returned {}",
                output.status.code().unwrap_or(-1)
            )));
        }
        let text = String::from_utf8_lossy(&output.stdout);
        if plugin == "pipe" {
            out.push(Value::from(text.trim_end()));
        } else {
            out.extend(text.lines().map(Value::from));
        }
    }
    Ok(out)
}

/// `vars`: each variable's (templated) value, or `default=`.
fn vars_lookup(state: &State, terms: &[Value], kwargs: &Kwargs) -> Result<Vec<Value>, Error> {
    let default = kwargs.get::<Option<Value>>("default")?;
    let root = state.lookup("vars").unwrap_or_default();
    let mut out = Vec::new();
    for term in terms {
        let Some(name) = term.as_str() else {
            return Err(Error::new(
                ErrorKind::InvalidOperation,
                format!(
                    "Variable name must be 'str' not '{}'.",
                    super::filters::type_debug(term)
                ),
            ));
        };
        let value = root.get_attr(name).unwrap_or_default();
        if !value.is_undefined() {
            out.push(value);
            continue;
        }
        match default.as_ref().filter(|d| !d.is_none()) {
            Some(d) => out.push(d.clone()),
            None => {
                return Err(Error::new(
                    ErrorKind::UndefinedError,
                    format!("No variable named '{name}' was found."),
                ))
            }
        }
    }
    Ok(out)
}

/// `dict`: each mapping as `{key, value}` items.
fn dict_lookup(terms: &[Value]) -> Result<Vec<Value>, Error> {
    let mut out = Vec::new();
    for term in terms {
        if term.kind() != ValueKind::Map {
            return Err(invalid(format!(
                "the 'dict' lookup plugin expects a dictionary, got '{}'",
                py_str(term)
            )));
        }
        for key in term.try_iter()? {
            let value = term.get_item(&key)?;
            out.push(Value::from_pairs([("key", key), ("value", value)]));
        }
    }
    Ok(out)
}

/// Names split on `seps` when given as one string (Ansible's deprecated splitting).
fn split_names(value: &Value, seps: &[char]) -> Vec<String> {
    match value.kind() {
        ValueKind::Seq => value
            .try_iter()
            .into_iter()
            .flatten()
            .flat_map(|v| split_names(&v, seps))
            .collect(),
        ValueKind::Undefined | ValueKind::None => Vec::new(),
        _ => py_str(value).split(seps).map(str::to_owned).collect(),
    }
}

/// `first_found`: names (strings, lists, or `{files, paths, skip}`), the first that exists.
fn first_found_lookup(state: &State, terms: &[Value], kwargs: &Kwargs) -> Result<Vec<Value>, Error> {
    let mut skip = kwargs.get::<Option<bool>>("skip")?.unwrap_or(false);
    let files = kwargs.get::<Option<Value>>("files")?;
    let paths = kwargs.get::<Option<Value>>("paths")?;
    let mut candidates = Vec::new();
    fn collect(
        term: &Value,
        paths: &Option<Value>,
        skip: &mut bool,
        out: &mut Vec<String>,
    ) -> Result<(), Error> {
        let (files, paths) = match term.kind() {
            ValueKind::Map => {
                for key in term.try_iter()? {
                    let key = py_str(&key);
                    if !["files", "paths", "skip"].contains(&key.as_str()) {
                        return Err(invalid(format!(
                            "first_found: unknown option `{key}` (it takes files, paths, skip)"
                        )));
                    }
                }
                let skip_value = term.get_attr("skip")?;
                if !skip_value.is_undefined() {
                    *skip = skip_value.is_true();
                }
                (
                    split_names(&term.get_attr("files")?, &[',', ';']),
                    term.get_attr("paths")?,
                )
            }
            ValueKind::String => (vec![py_str(term)], paths.clone().unwrap_or_default()),
            ValueKind::Seq => {
                for inner in term.try_iter()? {
                    collect(&inner, paths, skip, out)?;
                }
                return Ok(());
            }
            _ => {
                return Err(invalid(format!(
                    "Invalid term supplied. A string, dict or list is required, not {}.",
                    super::filters::type_debug(term)
                )))
            }
        };
        let paths = split_names(&paths, &[',', ':', ';']);
        if paths.is_empty() {
            out.extend(files);
        } else {
            for path in &paths {
                out.extend(
                    files
                        .iter()
                        .map(|f| Path::new(path).join(f).display().to_string()),
                );
            }
        }
        Ok(())
    }
    let terms: Vec<Value> = if terms.is_empty() {
        files.iter().cloned().collect()
    } else {
        terms.to_vec()
    };
    for term in &terms {
        collect(term, &paths, &mut skip, &mut candidates)?;
    }
    for name in candidates {
        if let Some(path) = find_file(state, "", &name) {
            return Ok(vec![Value::from(normalize(&path).display().to_string())]);
        }
    }
    if skip {
        return Ok(Vec::new());
    }
    Err(invalid("No file was found when using first_found."))
}

/// `..` and `.` resolved without following links (Python's `normpath`).
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for part in path.components() {
        match part {
            std::path::Component::ParentDir => {
                out.pop();
            }
            std::path::Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

/// `fileglob`: the files matching each pattern; a pattern with a folder is looked for
/// as a file lookup would find the folder, one without in each search path's `files/`
/// then the path itself, the first place with a match.
fn fileglob_lookup(state: &State, terms: &[Value]) -> Result<Vec<Value>, Error> {
    let mut out = Vec::new();
    for term in text_terms(terms) {
        let (folder, pattern) = match term.rsplit_once('/') {
            Some((folder, pattern)) => (Some(if folder.is_empty() { "/" } else { folder }), pattern),
            None => (None, term.as_str()),
        };
        let places: Vec<PathBuf> = match folder {
            Some(folder) => find_file(state, "files", folder).into_iter().collect(),
            None => var_paths(state, "ansible_search_path")
                .unwrap_or_else(|| vec![basedir(state)])
                .into_iter()
                .flat_map(|p| [p.join("files"), p])
                .collect(),
        };
        for place in places {
            let mut found = glob_files(&place, pattern);
            if !found.is_empty() {
                found.sort();
                out.extend(found.into_iter().map(Value::from));
                break;
            }
        }
    }
    Ok(out)
}

const ASCII_LETTERS: &str = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";

/// Python's `string` module constants, by name (the `chars` of the password lookup).
fn string_constant(name: &str) -> Option<String> {
    Some(match name {
        "ascii_letters" => ASCII_LETTERS.into(),
        "ascii_lowercase" => ASCII_LETTERS[..26].into(),
        "ascii_uppercase" => ASCII_LETTERS[26..].into(),
        "digits" => "0123456789".into(),
        "hexdigits" => "0123456789abcdefABCDEF".into(),
        "octdigits" => "01234567".into(),
        "punctuation" => r##"!"#$%&'()*+,-./:;<=>?@[\]^_`{|}~"##.into(),
        "whitespace" => " \t\n\r\x0b\x0c".into(),
        "printable" => format!(
            "0123456789{ASCII_LETTERS}{}{}",
            r##"!"#$%&'()*+,-./:;<=>?@[\]^_`{|}~"##, " \t\n\r\x0b\x0c"
        ),
        _ => return None,
    })
}

/// The characters a password is drawn from: each spec a `string` constant or literal
/// characters; quotes are never used.
fn password_chars(specs: &[String]) -> Vec<char> {
    let all: String = specs
        .iter()
        .map(|s| string_constant(s).unwrap_or_else(|| s.clone()))
        .collect();
    all.chars().filter(|c| *c != '"' && *c != '\'').collect()
}

/// `random_password`: `length` picks from `chars`, repeatable with a seed (Python's
/// `random.Random(seed).choice`; the seed is a string option, `42` seeds as `'42'`).
pub fn random_password(length: usize, chars: &[char], seed: Option<&Value>) -> String {
    if chars.is_empty() {
        return String::new();
    }
    let mut rng = match seed {
        Some(seed) => PyRandom::new(Seed::Text(&py_str(seed))),
        None => PyRandom::new(Seed::Int(os_entropy())),
    };
    (0..length)
        .map(|_| chars[rng.below(chars.len() as u64) as usize])
        .collect()
}

/// A generator seeded as Python seeds one with this value.
pub fn py_random(seed: &Value) -> PyRandom {
    match i64::try_from(seed.clone()) {
        Ok(n) if seed.is_integer() => PyRandom::new(Seed::Int(n as i128)),
        _ => PyRandom::new(Seed::Text(&py_str(seed))),
    }
}

/// 128 bits from the system's random source (time and pid if it cannot be read).
pub fn os_entropy() -> i128 {
    use std::io::Read;
    let mut bytes = [0u8; 16];
    if std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .is_err()
    {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        bytes = (now.as_nanos() ^ ((std::process::id() as u128) << 64)).to_le_bytes();
    }
    i128::from_le_bytes(bytes) & i128::MAX
}

/// `password`: the password stored in the file (created with a new one if missing;
/// `/dev/null` never stores), its `key=value` options after the path or as keywords.
/// The value is registered as a secret, so no output shows it.
fn password_lookup(state: &State, terms: &[Value], kwargs: &Kwargs) -> Result<Vec<Value>, Error> {
    let mut out = Vec::new();
    for term in text_terms(terms) {
        let (relpath, inline) = match term.split_once(' ') {
            Some((path, rest)) => (
                path.to_owned(),
                crate::parse::kv::split(rest)
                    .iter()
                    .filter_map(|t| t.key_value())
                    .map(|(k, v)| (k.to_owned(), crate::parse::kv::unquote(v).to_owned()))
                    .collect::<Vec<_>>(),
            ),
            None => (term.clone(), Vec::new()),
        };
        let option = |name: &str| -> Result<Option<Value>, Error> {
            if let Some((_, v)) = inline.iter().find(|(k, _)| k == name) {
                return Ok(Some(Value::from(v.as_str())));
            }
            kwargs.get::<Option<Value>>(name)
        };
        if let Some((bad, _)) = inline
            .iter()
            .find(|(k, _)| !["length", "encrypt", "chars", "ident", "seed"].contains(&k.as_str()))
        {
            return Err(invalid(format!(
                "Unrecognized parameter(s) given to password lookup: {bad}"
            )));
        }
        let length = match option("length")? {
            Some(v) => py_str(&v)
                .parse::<usize>()
                .map_err(|_| invalid(format!("password lookup: length must be an integer, got {v}")))?,
            None => 20,
        };
        let specs: Vec<String> = match option("chars")? {
            None => vec!["ascii_letters".into(), "digits".into(), ".,:-_".into()],
            Some(v) if v.kind() == ValueKind::Seq => v.try_iter()?.map(|c| py_str(&c)).collect(),
            Some(v) => {
                let text = py_str(&v);
                let mut specs = Vec::new();
                if text.contains(",,") {
                    specs.push(",".to_owned());
                }
                specs.extend(
                    text.replace(",,", ",")
                        .split(',')
                        .filter(|c| !c.is_empty())
                        .map(str::to_owned),
                );
                specs
            }
        };
        if option("encrypt")?.is_some_and(|v| v.is_true()) || option("ident")?.is_some_and(|v| v.is_true()) {
            return Err(invalid(
                "the password lookup's `encrypt`/`ident` are not supported by zdd (use the `password_hash` filter on its result)",
            ));
        }
        let seed = option("seed")?.filter(|s| !s.is_none());
        let path = if relpath.starts_with('/') || relpath.starts_with('~') {
            expand_home(&relpath)
        } else {
            basedir(state).join(&relpath)
        };
        let stored = if path == Path::new("/dev/null") {
            None
        } else {
            match std::fs::read(&path) {
                Ok(bytes) => Some(String::from_utf8_lossy(&bytes).trim_end().to_owned()),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
                Err(e) => {
                    return Err(invalid(format!(
                        "password lookup: cannot read {}: {e}",
                        path.display()
                    )))
                }
            }
        };
        let password = match stored {
            // A file written with `encrypt` keeps its salt after the password.
            Some(content) => match content.rfind(" salt=") {
                Some(at) => content[..at].to_owned(),
                None => content,
            },
            None => {
                let password = random_password(length, &password_chars(&specs), seed.as_ref());
                if path != Path::new("/dev/null") {
                    write_password_file(&path, &password)?;
                }
                password
            }
        };
        crate::vault::register_secret(&password);
        out.push(Value::from(password));
    }
    Ok(out)
}

/// The new password file, readable by its owner only, its folder created (0700).
fn write_password_file(path: &Path, password: &str) -> Result<(), Error> {
    use std::io::Write;
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
    let fail = |e: std::io::Error| invalid(format!("password lookup: cannot write {}: {e}", path.display()));
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(fail)?;
    }
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .map_err(fail)?;
    file.write_all(format!("{password}\n").as_bytes()).map_err(fail)
}

/// The files in `dir` whose name matches `pattern` (Python's `glob` on one folder).
pub(crate) fn glob_files(dir: &Path, pattern: &str) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter(|e| e.path().is_file())
        .filter(|e| glob_match(pattern, &e.file_name().to_string_lossy()))
        .map(|e| e.path().display().to_string())
        .collect()
}

/// A shell glob over one file name: `*`, `?`, `[abc]`, `[a-z]`, `[!a]`; a leading dot
/// only by a leading dot, as Python's `glob`.
pub(crate) fn glob_match(pattern: &str, name: &str) -> bool {
    if name.starts_with('.') && !pattern.starts_with('.') {
        return false;
    }
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    matches_from(&p, &n)
}

fn matches_from(p: &[char], n: &[char]) -> bool {
    match p.first() {
        None => n.is_empty(),
        Some('*') => (0..=n.len()).any(|i| matches_from(&p[1..], &n[i..])),
        Some('?') => !n.is_empty() && matches_from(&p[1..], &n[1..]),
        Some('[') => {
            let Some(close) = p.iter().skip(2).position(|c| *c == ']').map(|i| i + 2) else {
                return n.first() == Some(&'[') && matches_from(&p[1..], &n[1..]);
            };
            let Some(&c) = n.first() else { return false };
            let set = &p[1..close];
            let (negate, set) = match set.first() {
                Some('!') => (true, &set[1..]),
                _ => (false, set),
            };
            let mut hit = false;
            let mut i = 0;
            while i < set.len() {
                if i + 2 < set.len() && set[i + 1] == '-' {
                    hit |= set[i] <= c && c <= set[i + 2];
                    i += 3;
                } else {
                    hit |= set[i] == c;
                    i += 1;
                }
            }
            hit != negate && matches_from(&p[close + 1..], &n[1..])
        }
        Some(c) => n.first() == Some(c) && matches_from(&p[1..], &n[1..]),
    }
}
